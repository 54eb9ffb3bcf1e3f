//===- Bench.cpp - --bench: timing and its one JSON line ------------------===//

#include "Bench.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/NativeFormatting.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>

using namespace dilattn;
using namespace dilattn::run;

double dilattn::run::median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

llvm::Expected<std::vector<double>>
dilattn::run::timeRuns(int warmups, int reps,
                       llvm::function_ref<llvm::Error()> run,
                       llvm::function_ref<llvm::Expected<double>()> timedRun) {
  for (int i = 0; i < warmups; ++i)
    if (llvm::Error error = run())
      return std::move(error);
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    auto ms = timedRun();
    if (!ms)
      return ms.takeError();
    times.push_back(*ms);
  }
  return times;
}

llvm::Expected<std::vector<double>>
dilattn::run::timeRuns(int warmups, int reps,
                       llvm::function_ref<llvm::Error()> run) {
  return timeRuns(warmups, reps, run, [&]() -> llvm::Expected<double> {
    auto start = std::chrono::steady_clock::now();
    if (llvm::Error error = run())
      return std::move(error);
    return std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now() - start)
        .count();
  });
}

std::string dilattn::run::describeKernel(jit::CacheOutcome cache, double ms) {
  switch (cache) {
  case jit::CacheOutcome::Compiled:
    return llvm::formatv("compiled in {0:f1} ms", ms).str();
  case jit::CacheOutcome::DiskHit:
    return llvm::formatv("loaded from the disk cache in {0:f1} ms", ms).str();
  case jit::CacheOutcome::MemoryHit:
    break;
  }
  return "from the in-memory cache";
}

JsonObject &JsonObject::field(llvm::StringRef key, llvm::StringRef json) {
  if (!fields.empty())
    fields += ", ";
  fields += '"';
  fields += key;
  fields += "\": ";
  fields += json;
  return *this;
}

JsonObject &JsonObject::number(llvm::StringRef key, double value,
                               unsigned decimals) {
  std::string text;
  llvm::raw_string_ostream os(text);
  // What formatv's "{0:fN}" prints.
  llvm::write_double(os, value, llvm::FloatStyle::Fixed, decimals);
  return field(key, text);
}

JsonObject &JsonObject::string(llvm::StringRef key, llvm::StringRef value) {
  std::string text = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') {
      text += '\\';
      text += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      text += llvm::formatv("\\u{0:x-4}", static_cast<unsigned>(c)).str();
    } else {
      text += c;
    }
  }
  text += '"';
  return field(key, text);
}

JsonObject &JsonObject::shape(llvm::StringRef key,
                              llvm::ArrayRef<int64_t> sizes) {
  std::string text = "[";
  for (auto [index, size] : llvm::enumerate(sizes))
    text += (index ? ", " : "") + std::to_string(size);
  text += "]";
  return field(key, text);
}

JsonObject &JsonObject::object(llvm::StringRef key, const JsonObject &value) {
  return field(key, value.str());
}

std::string JsonObject::str() const { return "{" + fields + "}"; }

JsonObject dilattn::run::benchLine(double medianMs, double effectiveFlops,
                                   double compileMs, bool cacheHit) {
  JsonObject line;
  line.number("median_ms", medianMs, 4)
      .number("gflops", medianMs > 0 ? effectiveFlops / (medianMs * 1e6) : 0.0,
              2)
      .number("compile_ms", compileMs, 1)
      .string("cache", cacheHit ? "hit" : "miss");
  return line;
}

JsonObject dilattn::run::callBenchLine(double medianMs, double effectiveFlops,
                                       jit::CacheOutcome cache,
                                       double firstMs) {
  bool hit = cache != jit::CacheOutcome::Compiled;
  JsonObject line =
      benchLine(medianMs, effectiveFlops, hit ? 0.0 : firstMs, hit);
  line.number("load_ms", cache == jit::CacheOutcome::DiskHit ? firstMs : 0.0,
              2);
  return line;
}

void dilattn::run::printBenchLine(const JsonObject &line) {
  llvm::outs() << line.str() << "\n";
}
