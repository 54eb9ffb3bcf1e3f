//===- CpuCall.cpp - a single call on target cpu --------------------------===//
//
// The host API (dilatedAttention) over a thread pool of --num-threads; the
// JIT's memory and disk caches serve the kernel, and --bench reports their
// counters.
//
//===----------------------------------------------------------------------===//

#include "Bench.h"
#include "Check.h"
#include "Modes.h"

#include "dilattn/Runtime/CpuRuntime.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace dilattn;
using namespace dilattn::run;

RunOptions dilattn::run::cpuRunOptions(const CallOptions &options,
                                       runtime::ThreadPool &pool) {
  RunOptions runOptions;
  runOptions.threads = &pool;
  runOptions.tuning = options.common.tuning.cpu();
  runOptions.tuning.blockSize = options.common.tuning.blockSize;
  return runOptions;
}

llvm::Error dilattn::run::runCpuCall(const Call &call,
                                     const CallOptions &options) {
  std::optional<HostMask> keyPaddingView = call.keyPaddingView(),
                          attnView = call.attnView();

  runtime::ThreadPool pool(options.numThreads);
  RunOptions runOptions = cpuRunOptions(options, pool);
  Tensor output;
  output.shape = call.query.shape;
  int64_t count = 1;
  for (int64_t size : output.shape)
    count *= size;
  // Allocate only after the call is known to be valid (checked inside); the
  // size is bounded by the inputs already in memory.
  output.data.assign(output.shape.size() == 4 ? count : 0, 0.0f);
  auto run = [&]() {
    return dilatedAttention(call.config, call.query.view(), call.key.view(),
                            call.value.view(), keyPaddingView, attnView,
                            output.data.data(), output.shape, runOptions);
  };
  auto first = run();
  if (!first)
    return first.takeError();
  int64_t batch = output.shape[0], seqLen = output.shape[1],
          numHeads = output.shape[2], headDim = output.shape[3];
  llvm::outs() << llvm::formatv(
      "dilattn-run: {0}, target cpu, {1} threads, kernel {2}\n",
      call.describe(), pool.getNumThreads(),
      describeKernel(first->cache, first->compileMs));

  if (llvm::Error error = writeAndCheckOutput(call, output, options, "float32",
                                              kFloat32Tolerance))
    return error;

  int reps = options.common.bench;
  if (reps <= 0)
    return llvm::Error::success();
  auto times = timeRuns(/*warmups=*/2, reps, [&]() -> llvm::Error {
    auto timed = run();
    return timed ? llvm::Error::success() : timed.takeError();
  });
  if (!times)
    return times.takeError();
  double flops = effectiveFlops(call.config, batch, seqLen, numHeads, headDim);
  jit::JitStats stats = jit::Jit::global().stats();
  JsonObject jit;
  jit.integer("memory_hits", stats.memoryHits)
      .integer("memory_misses", stats.memoryMisses)
      .integer("disk_hits", stats.diskHits)
      .integer("disk_misses", stats.diskMisses)
      .integer("disk_invalid_entries", stats.diskInvalidEntries)
      .integer("compiles", stats.compiles);
  JsonObject line =
      callBenchLine(median(*times), flops, first->cache, first->compileMs);
  line.integer("reps", reps)
      .integer("threads", pool.getNumThreads())
      .string("target", "cpu")
      .shape("shape", output.shape)
      .object("jit", jit);
  printBenchLine(line);
  return llvm::Error::success();
}
