//===- JitLatency.cpp - how fast the JIT serves a kernel ------------------===//
//
// A benchmark, not a test: the first compile of a configuration (empty
// cache), a disk-cache hit in a fresh JIT (what a new process pays), an
// in-process cache hit, and the whole-call overhead of a tiny problem
// (lookup + thread dispatch). Prints one JSON object.
//
//   dilattn-bench-jit [--segment-lengths=... --dilation-rates=... --d=64]
//
//===----------------------------------------------------------------------===//

#include "dilattn/API/DilatedAttention.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>

using namespace dilattn;
namespace cl = llvm::cl;

static cl::list<int64_t> segmentLengths("segment-lengths", cl::CommaSeparated);
static cl::list<int64_t> dilationRates("dilation-rates", cl::CommaSeparated);
static cl::opt<int64_t> headDim("d", cl::init(64));

using Clock = std::chrono::steady_clock;

static double since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start)
      .count();
}

static double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(argc, argv, "dilattn JIT latency benchmark\n");
  jit::KernelSpec spec;
  spec.config.segmentLengths = {512, 1024, 2048, 4096};
  spec.config.dilationRates = {1, 2, 4, 8};
  if (!segmentLengths.empty()) {
    spec.config.segmentLengths.assign(segmentLengths.begin(),
                                      segmentLengths.end());
    spec.config.dilationRates.assign(dilationRates.begin(),
                                     dilationRates.end());
  }
  spec.headDim = headDim;

  llvm::SmallString<128> directory;
  if (llvm::sys::fs::createUniqueDirectory("dilattn-bench-jit", directory)) {
    llvm::errs() << "error: cannot create a cache directory\n";
    return 1;
  }
  jit::JitOptions options;
  options.cacheDirectory = std::string(directory);
  options.useDefaultCacheDirectory = false;

  double firstCompileMs, diskHitMs;
  std::vector<double> hitUs, callUs;
  {
    jit::Jit jit(options);
    auto start = Clock::now();
    auto kernel = jit.getKernel(spec);
    firstCompileMs = since(start);
    if (!kernel) {
      llvm::errs() << "error: " << llvm::toString(kernel.takeError()) << "\n";
      return 1;
    }
  }
  {
    jit::Jit jit(options); // a fresh JIT, as in a new process
    auto start = Clock::now();
    auto kernel = jit.getKernel(spec);
    diskHitMs = since(start);
    if (!kernel) {
      llvm::errs() << "error: " << llvm::toString(kernel.takeError()) << "\n";
      return 1;
    }
    for (int i = 0; i < 20000; ++i) {
      auto lookup = Clock::now();
      auto hit = jit.getKernel(spec);
      hitUs.push_back(since(lookup) * 1e3);
      if (!hit)
        return 1;
    }
    // A whole call on a tiny problem: validation, lookup, dispatch, run.
    std::vector<float> data(16 * headDim, 0.5f), out(data.size());
    llvm::SmallVector<int64_t, 4> shape = {1, 16, 1, headDim};
    DilatedAttentionConfig tiny;
    tiny.segmentLengths = {16};
    tiny.dilationRates = {2};
    RunOptions run;
    run.jit = &jit;
    for (int i = 0; i < 2000; ++i) {
      auto call = Clock::now();
      auto info = dilatedAttention(tiny, HostTensor{data.data(), shape},
                                   HostTensor{data.data(), shape},
                                   HostTensor{data.data(), shape}, std::nullopt,
                                   std::nullopt, out.data(), shape, run);
      if (!info)
        return 1;
      if (i >= 10)
        callUs.push_back(since(call) * 1e3);
    }
  }
  llvm::sys::fs::remove_directories(directory);
  llvm::outs() << llvm::formatv(
      "{{\"first_compile_ms\": {0:f1}, \"disk_hit_ms\": {1:f2}, "
      "\"memory_hit_us\": {2:f3}, \"tiny_call_us\": {3:f2}}\n",
      firstCompileMs, diskHitMs, median(hitUs), median(callUs));
  return 0;
}
