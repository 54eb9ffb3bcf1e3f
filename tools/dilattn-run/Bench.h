//===- Bench.h - --bench: timing and its one JSON line ----------*- C++ -*-===//
//
// What every mode's --bench shares: the repetition loop, the median, the
// words for how a kernel was obtained, and the JSON line of docs/Contract.md
// section 5, which starts with the same four fields in every mode and ends
// with the mode's own.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_TOOLS_DILATTN_RUN_BENCH_H
#define DILATTN_TOOLS_DILATTN_RUN_BENCH_H

#include "dilattn/JIT/Jit.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <type_traits>
#include <vector>

namespace dilattn::run {

/// The median of `values` (not empty).
double median(std::vector<double> values);

/// Calls `run` `warmups` times, then `timedRun` `reps` times; `timedRun` runs
/// once and returns the time it took, in ms. The times in order.
llvm::Expected<std::vector<double>>
timeRuns(int warmups, int reps, llvm::function_ref<llvm::Error()> run,
         llvm::function_ref<llvm::Expected<double>()> timedRun);

/// timeRuns on the host clock, for runs that return when their work is done.
llvm::Expected<std::vector<double>>
timeRuns(int warmups, int reps, llvm::function_ref<llvm::Error()> run);

/// How a call got its kernel: "compiled in 1.2 ms", "loaded from the disk
/// cache in 0.3 ms" or "from the in-memory cache".
std::string describeKernel(jit::CacheOutcome cache, double ms);

/// A JSON object whose fields print in the order they are added.
class JsonObject {
public:
  /// A number in fixed notation with `decimals` decimals.
  JsonObject &number(llvm::StringRef key, double value, unsigned decimals);
  template <typename T> JsonObject &integer(llvm::StringRef key, T value) {
    static_assert(std::is_integral_v<T>, "integer() takes integers");
    if constexpr (std::is_signed_v<T>)
      return field(key, std::to_string(static_cast<long long>(value)));
    else
      return field(key, std::to_string(static_cast<unsigned long long>(value)));
  }
  JsonObject &string(llvm::StringRef key, llvm::StringRef value);
  /// An array of sizes: [1, 2, 3].
  JsonObject &shape(llvm::StringRef key, llvm::ArrayRef<int64_t> sizes);
  JsonObject &object(llvm::StringRef key, const JsonObject &value);

  /// {"key": value, ...}
  std::string str() const;

private:
  JsonObject &field(llvm::StringRef key, llvm::StringRef json);

  std::string fields;
};

/// The fields every --bench line starts with: median_ms, gflops (effective
/// FLOPs over the median time), compile_ms, cache ("hit" or "miss").
JsonObject benchLine(double medianMs, double effectiveFlops, double compileMs,
                     bool cacheHit);

/// A single call's line, from how its first run got the kernel in `firstMs`:
/// compile_ms and load_ms (a disk hit's time) after median_ms and gflops.
JsonObject callBenchLine(double medianMs, double effectiveFlops,
                         jit::CacheOutcome cache, double firstMs);

/// Prints `line` on stdout, as the last line of a run.
void printBenchLine(const JsonObject &line);

} // namespace dilattn::run

#endif // DILATTN_TOOLS_DILATTN_RUN_BENCH_H
