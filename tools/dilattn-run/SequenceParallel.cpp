//===- SequenceParallel.cpp - a single call over --world-size ranks -------===//
//
// --world-size=G: every rank a thread with its slice of the inputs, one
// in-process group (sequenceParallelDilatedAttention); the slices of the
// output are assembled. Target cpu only, no masks yet.
//
//===----------------------------------------------------------------------===//

#include "Bench.h"
#include "Check.h"
#include "Modes.h"
#include "dilattn/Support/Error.h"

#include "dilattn/API/SequenceParallel.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <thread>

using namespace dilattn;
using namespace dilattn::run;

/// The refusals of --world-size before anything runs.
static llvm::Error checkWorld(const Call &call, const CallOptions &options) {
  if (options.worldSize < 1 || options.worldSize > 1024)
    return makeError(ErrorCode::InvalidArgument,
                     llvm::formatv("--world-size must be 1 to 1024, got {0}",
                                   options.worldSize));
  if (options.common.target != "cpu")
    return makeError(ErrorCode::InvalidArgument,
                     "--world-size runs on target cpu only (ranks are threads "
                     "of this process; NCCL ranks on GPUs are not built yet)");
  if (call.keyPadding || call.attn)
    return makeError(ErrorCode::InvalidArgument,
                     "--world-size takes no masks yet (causal is supported)");
  const Tensor &query = call.query;
  if (query.shape.size() != 4)
    return makeError(ErrorCode::InvalidArgument,
                     llvm::formatv("query must be (B, N, H, D), got shape {0}",
                                   formatShape(query.shape)));
  for (const Tensor *tensor : {&call.key, &call.value})
    if (tensor->shape != query.shape)
      return makeError(
          ErrorCode::InvalidArgument,
          llvm::formatv("key and value must have the shape of query "
                        "{0}, got {1}",
                        formatShape(query.shape), formatShape(tensor->shape)));
  return llvm::Error::success();
}

llvm::Error dilattn::run::runSequenceParallel(const Call &call,
                                              const CallOptions &options) {
  if (llvm::Error error = checkWorld(call, options))
    return error;
  const DilatedAttentionConfig &config = call.config;
  const Tensor &query = call.query;
  int world = options.worldSize;
  int64_t batch = query.shape[0], seqLen = query.shape[1],
          numHeads = query.shape[2], headDim = query.shape[3];
  int64_t rowFloats = numHeads * headDim;
  auto sliceOf = [&](const Tensor &full, SequenceSlice s) {
    std::vector<float> part;
    for (int64_t b = 0; b < batch; ++b)
      part.insert(part.end(),
                  full.data.begin() + (b * seqLen + s.begin) * rowFloats,
                  full.data.begin() + (b * seqLen + s.end) * rowFloats);
    return part;
  };
  struct RankData {
    std::vector<float> q, k, v, out;
    SequenceParallelInfo info;
    std::string failure;
  };
  std::vector<RankData> ranks(world);
  for (int rank = 0; rank < world; ++rank) {
    SequenceSlice s = sequenceSlice(seqLen, world, rank);
    ranks[rank].q = sliceOf(query, s);
    ranks[rank].k = sliceOf(call.key, s);
    ranks[rank].v = sliceOf(call.value, s);
    ranks[rank].out.assign(ranks[rank].q.size(), 0.0f);
  }
  SequenceParallelOptions runOptions;
  runOptions.tuning = options.common.tuning.cpu();
  auto runAll = [&]() -> llvm::Error {
    auto group = distributed::createInProcessGroup(world);
    std::vector<std::thread> threads;
    for (int rank = 0; rank < world; ++rank)
      threads.emplace_back([&, rank] {
        RankData &data = ranks[rank];
        SequenceSlice s = sequenceSlice(seqLen, world, rank);
        llvm::SmallVector<int64_t, 4> shape = {batch, s.size(), numHeads,
                                               headDim};
        auto info = sequenceParallelDilatedAttention(
            config, seqLen, {data.q.data(), shape}, {data.k.data(), shape},
            {data.v.data(), shape}, data.out.data(), *group[rank], runOptions);
        if (info)
          data.info = *info;
        else
          data.failure = llvm::toString(info.takeError());
      });
    for (std::thread &thread : threads)
      thread.join();
    for (RankData &data : ranks)
      if (!data.failure.empty())
        return makeError(ErrorCode::Runtime, data.failure);
    return llvm::Error::success();
  };
  if (llvm::Error error = runAll())
    return error;
  double compileMs = 0;
  for (RankData &data : ranks)
    compileMs = std::max(compileMs, data.info.compileMs);

  Tensor output;
  output.shape = query.shape;
  output.data.assign(query.data.size(), 0.0f);
  for (int rank = 0; rank < world; ++rank) {
    SequenceSlice s = sequenceSlice(seqLen, world, rank);
    for (int64_t b = 0; b < batch; ++b)
      std::copy_n(ranks[rank].out.begin() + b * s.size() * rowFloats,
                  s.size() * rowFloats,
                  output.data.begin() + (b * seqLen + s.begin) * rowFloats);
  }
  const SequenceParallelInfo &first = ranks[0].info;
  llvm::outs() << llvm::formatv(
      "dilattn-run: {0}, target cpu, sequence parallel over {1} in-process "
      "ranks: {2} of {3} patterns gathered, all-gather {4} bytes per rank "
      "(N/r prediction {5:f0}), kernels {6}\n",
      call.describe(), world, first.gatheredPatterns, config.numPatterns(),
      first.bytesSent, first.predictedBytes,
      describeKernel(compileMs > 0 ? jit::CacheOutcome::Compiled
                                   : jit::CacheOutcome::MemoryHit,
                     compileMs));

  if (llvm::Error error = writeAndCheckOutput(call, output, options, "float32",
                                              kFloat32Tolerance))
    return error;

  int reps = options.common.bench;
  if (reps <= 0)
    return llvm::Error::success();
  auto times = timeRuns(/*warmups=*/1, reps, runAll);
  if (!times)
    return times.takeError();
  double flops = effectiveFlops(config, batch, seqLen, numHeads, headDim);
  uint64_t maxBytes = 0;
  double predicted = 0;
  for (RankData &data : ranks) {
    maxBytes = std::max(maxBytes, data.info.bytesSent);
    predicted = std::max(predicted, data.info.predictedBytes);
  }
  JsonObject line = benchLine(median(*times), flops, compileMs,
                              /*cacheHit=*/!(compileMs > 0));
  line.integer("reps", reps)
      .string("target", "cpu")
      .integer("world_size", world)
      .integer("gathered_patterns", first.gatheredPatterns)
      .integer("bytes_sent_per_rank", maxBytes)
      .number("predicted_bytes_per_rank", predicted, 0)
      .shape("shape", output.shape);
  printBenchLine(line);
  return llvm::Error::success();
}
