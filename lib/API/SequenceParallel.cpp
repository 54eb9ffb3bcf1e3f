//===- SequenceParallel.cpp - dilated attention split over ranks ----------===//
//
// Rank r holds positions [a, e) of every (b, h). For pattern i and head h
// with offset o, segment m selects positions m*w + o + t*r; the rows of m
// that a rank holds are the indices [t0, t1) (a "chunk"). Queries of a chunk
// fold the keys of every chunk of the same segment: their own (local
// memory), and for patterns whose segments span slices, the other ranks'
// (gathered). Causal: a key chunk of a later rank is all in the future; of
// an earlier rank, query row i of the chunk sees key j iff j <= t0q - t0k +
// i, the kernels' query_start rule.
//
//===----------------------------------------------------------------------===//

#include "dilattn/API/SequenceParallel.h"
#include "dilattn/Support/Error.h"

#include "dilattn/JIT/SegmentKernels.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>

using namespace dilattn;
using namespace dilattn::distributed;

namespace {

/// ceil(x / y) for y > 0, and 0 for x <= 0.
int64_t ceilDivPositive(int64_t x, int64_t y) {
  return x <= 0 ? 0 : x / y + (x % y != 0);
}

/// Selected indices [t0, t1) of segment `segment` that a slice holds, and
/// where they start among the slice's rows of this pattern and head.
struct Chunk {
  int64_t segment;
  int64_t t0, t1;
  int64_t rowOffset;
  int64_t rows() const { return t1 - t0; }
};

/// The chunks of pattern (w, r) with offset o in `slice`, in order.
std::vector<Chunk> chunksOf(int64_t seqLen, int64_t w, int64_t r, int64_t o,
                            SequenceSlice slice) {
  std::vector<Chunk> chunks;
  if (slice.size() <= 0)
    return chunks;
  int64_t rows = 0;
  int64_t segStart = slice.begin / w * w;
  for (int64_t m = slice.begin / w;; ++m) {
    int64_t segEnd = seqLen - segStart <= w ? seqLen : segStart + w;
    if (o < segEnd - segStart) {
      int64_t first = segStart + o;
      int64_t count = ceilDivPositive(segEnd - first, r);
      int64_t t0 = std::min(count, ceilDivPositive(slice.begin - first, r));
      int64_t t1 = std::min(count, ceilDivPositive(slice.end - first, r));
      if (t1 > t0) {
        chunks.push_back({m, t0, t1, rows});
        rows += t1 - t0;
      }
    }
    if (w >= slice.end - segStart)
      break;
    segStart += w;
  }
  return chunks;
}

int64_t rowsOf(llvm::ArrayRef<Chunk> chunks) {
  return chunks.empty() ? 0 : chunks.back().rowOffset + chunks.back().rows();
}

/// The segment kernels of the process, one per head dim, scale and output
/// scale (ranks in threads share them).
llvm::Expected<std::shared_ptr<jit::SegmentKernels>>
getSegmentKernels(const jit::SegmentKernelSpec &spec, double &compileMs) {
  static std::mutex mutex;
  static auto *kernels = new std::map<
      std::tuple<int64_t, uint64_t, uint64_t, int64_t, int64_t, int64_t>,
      std::shared_ptr<jit::SegmentKernels>>();
  jit::CpuTuning tuning = spec.tuning.resolvedForHost();
  auto key =
      std::make_tuple(spec.headDim, llvm::bit_cast<uint64_t>(spec.scale),
                      llvm::bit_cast<uint64_t>(spec.outputScale),
                      tuning.vectorWidth, tuning.tileQueries, tuning.tileKeys);
  std::lock_guard<std::mutex> lock(mutex);
  auto found = kernels->find(key);
  if (found != kernels->end())
    return found->second;
  auto start = std::chrono::steady_clock::now();
  auto compiled = jit::SegmentKernels::compile(spec);
  if (!compiled)
    return compiled.takeError();
  compileMs = std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  std::shared_ptr<jit::SegmentKernels> shared = std::move(*compiled);
  kernels->emplace(key, shared);
  return shared;
}

/// One pattern as the driver sees it.
struct PatternPlan {
  int64_t index;
  int64_t w, r;
  bool gathered;
  HeadRange heads;
  /// gathered only: chunks[rank][head - heads.begin]; else only this rank's.
  std::vector<std::vector<std::vector<Chunk>>> chunks;
  /// gathered only: per rank, rows of all heads and where this pattern's
  /// block starts in the rank's send block (floats).
  std::vector<int64_t> rankRows, rankBase;
  /// gathered only: per rank, the first row of each head.
  std::vector<std::vector<int64_t>> headRowBase;
};

} // namespace

SequenceSlice dilattn::sequenceSlice(int64_t seqLen, int worldSize, int rank) {
  int64_t stride = ceilDivPositive(seqLen, worldSize);
  SequenceSlice slice;
  slice.begin = std::min(seqLen, stride * rank);
  slice.end = std::min(seqLen, slice.begin + stride);
  return slice;
}

static llvm::Expected<SequenceParallelInfo>
runRank(const DilatedAttentionConfig &config, int64_t seqLen,
        const HostTensor &query, const HostTensor &key, const HostTensor &value,
        float *output, Communicator &comm,
        const SequenceParallelOptions &options) {
  int world = comm.worldSize(), me = comm.rank();
  if (world < 1 || me < 0 || me >= world)
    return makeError(
        ErrorCode::InvalidArgument,
        llvm::formatv("rank {0} is not in a world of {1}", me, world));
  if (query.shape.size() != 4)
    return makeError(
        ErrorCode::InvalidArgument,
        llvm::formatv("query must be (B, slice, H, D), got rank {0}",
                      query.shape.size()));
  int64_t batch = query.shape[0], numHeads = query.shape[2],
          headDim = query.shape[3];
  if (seqLen < 0)
    return makeError(
        ErrorCode::InvalidArgument,
        llvm::formatv("the sequence length must be >= 0, got {0}", seqLen));
  SequenceSlice mine = sequenceSlice(seqLen, world, me);
  int64_t sliceLen = mine.size();
  llvm::SmallVector<int64_t, 4> expected = {batch, sliceLen, numHeads, headDim};
  for (auto [tensor, name] :
       {std::pair{&query, "query"}, std::pair{&key, "key"},
        std::pair{&value, "value"}})
    if (tensor->shape != expected)
      return makeError(
          ErrorCode::InvalidArgument,
          llvm::formatv(
              "{0} of rank {1} must be its slice (B, {2}, H, D) = {3} of the "
              "sequence of {4} positions, got {5}",
              name, me, sliceLen, formatShape(expected), seqLen,
              formatShape(tensor->shape)));
  DilatedAttentionSignature signature;
  signature.query = TensorSignature::get({batch, seqLen, numHeads, headDim},
                                         ElementKind::F32);
  signature.key = signature.value = signature.query;
  signature.supportedElements = {ElementKind::F32};
  if (llvm::Error error = checkDilatedAttention(config, signature))
    return std::move(error);
  if (sliceLen > 0 && (!query.data || !key.data || !value.data || !output))
    return makeError(ErrorCode::NullArgument,
                     "query, key, value and output must not be null");

  int64_t numPatterns = static_cast<int64_t>(config.numPatterns());
  jit::SegmentKernelSpec spec;
  spec.headDim = headDim;
  spec.scale = config.effectiveScale(headDim);
  spec.outputScale =
      config.mode == AttentionMode::Grouped ? 1.0 / numPatterns : 1.0;
  spec.tuning = options.tuning;
  SequenceParallelInfo info;
  auto kernels = getSegmentKernels(spec, info.compileMs);
  if (!kernels)
    return kernels.takeError();
  const jit::SegmentKernels &kernel = **kernels;

  // The plan: which patterns gather, every rank's chunks of those, and the
  // layout of the send block.
  int64_t stride = ceilDivPositive(seqLen, world);
  std::vector<PatternPlan> plans;
  int64_t blockFloats = 0;
  std::vector<int64_t> rankFloats(world, 0);
  for (int64_t i = 0; i < numPatterns; ++i) {
    PatternPlan plan;
    plan.index = i;
    plan.w = config.segmentLengths[i];
    plan.r = config.dilationRates[i];
    plan.heads = config.mode == AttentionMode::Grouped
                     ? groupHeads(numHeads, numPatterns, i)
                     : HeadRange{0, numHeads};
    plan.gathered = world > 1 && stride % plan.w != 0;
    int64_t usedHeads = plan.heads.end - plan.heads.begin;
    plan.chunks.resize(world);
    for (int rank = 0; rank < world; ++rank) {
      if (!plan.gathered && rank != me)
        continue;
      SequenceSlice slice = sequenceSlice(seqLen, world, rank);
      for (int64_t h = plan.heads.begin; h < plan.heads.end; ++h)
        plan.chunks[rank].push_back(
            chunksOf(seqLen, plan.w, plan.r,
                     patternOffset(config, numHeads, i, h), slice));
    }
    if (plan.gathered) {
      ++info.gatheredPatterns;
      // LongNet's estimate: K and V rows N / r per head that uses the
      // pattern, shared by the ranks.
      info.predictedBytes += 2.0 * batch * usedHeads *
                             (static_cast<double>(seqLen) / plan.r) * headDim *
                             sizeof(float) / world;
      plan.rankRows.resize(world);
      plan.rankBase.resize(world);
      plan.headRowBase.resize(world);
      for (int rank = 0; rank < world; ++rank) {
        int64_t rows = 0;
        for (int64_t hi = 0; hi < usedHeads; ++hi) {
          plan.headRowBase[rank].push_back(rows);
          rows += rowsOf(plan.chunks[rank][hi]);
        }
        plan.rankRows[rank] = rows;
        plan.rankBase[rank] = rankFloats[rank];
        rankFloats[rank] += 2 * batch * rows * headDim;
      }
    }
    plans.push_back(std::move(plan));
  }
  for (int64_t floats : rankFloats)
    blockFloats = std::max(blockFloats, floats);

  // Pack this rank's dilated K and V rows of the gathered patterns:
  // [pattern][K, V][b][head][row][D].
  std::vector<float> send(blockFloats), received;
  int64_t rowFloats = numHeads * headDim;
  auto localRow = [&](const float *base, int64_t b, int64_t position,
                      int64_t h) {
    return base +
           ((b * sliceLen + (position - mine.begin)) * numHeads + h) * headDim;
  };
  for (const PatternPlan &plan : plans) {
    if (!plan.gathered)
      continue;
    int64_t rows = plan.rankRows[me];
    for (int64_t hi = 0; hi < plan.heads.end - plan.heads.begin; ++hi) {
      int64_t h = plan.heads.begin + hi;
      int64_t o = patternOffset(config, numHeads, plan.index, h);
      for (const Chunk &chunk : plan.chunks[me][hi])
        for (int64_t b = 0; b < batch; ++b)
          for (int64_t t = chunk.t0; t < chunk.t1; ++t) {
            int64_t position = chunk.segment * plan.w + o + t * plan.r;
            int64_t row =
                plan.headRowBase[me][hi] + chunk.rowOffset + (t - chunk.t0);
            float *kRow =
                send.data() + plan.rankBase[me] + (b * rows + row) * headDim;
            float *vRow = kRow + batch * rows * headDim;
            std::copy_n(localRow(key.data, b, position, h), headDim, kRow);
            std::copy_n(localRow(value.data, b, position, h), headDim, vRow);
          }
    }
  }

  // The gather runs while this rank folds what it holds.
  std::string gatherFailure;
  std::thread gather;
  if (info.gatheredPatterns) {
    received.resize(static_cast<size_t>(blockFloats) * world);
    gather = std::thread([&] {
      if (llvm::Error error = comm.allGather(
              send.data(), static_cast<size_t>(blockFloats) * sizeof(float),
              received.data()))
        gatherFailure = llvm::toString(std::move(error));
    });
    info.bytesSent = static_cast<uint64_t>(blockFloats) * sizeof(float);
  }

  // Online-softmax states of every local (b, x, h): max, sum, acc.
  std::vector<float> maxes(batch * sliceLen * numHeads),
      sums(batch * sliceLen * numHeads),
      accs(batch * sliceLen * numHeads * headDim);
  jit::SegmentKernels::resetStates(
      {maxes.data(), (int64_t)maxes.size(), 1},
      {sums.data(), (int64_t)sums.size(), 1},
      {accs.data(), (int64_t)maxes.size(), headDim}, headDim);

  // Folds the key chunks of ranks `ranks` into the query chunks of this one.
  auto foldPattern = [&](const PatternPlan &plan, bool remote) {
    for (int64_t hi = 0; hi < plan.heads.end - plan.heads.begin; ++hi) {
      int64_t h = plan.heads.begin + hi;
      int64_t o = patternOffset(config, numHeads, plan.index, h);
      for (const Chunk &queries : plan.chunks[me][hi]) {
        int64_t firstPosition =
            queries.segment * plan.w + o + queries.t0 * plan.r;
        int64_t x0 = firstPosition - mine.begin;
        for (int64_t b = 0; b < batch; ++b) {
          int64_t rowStride = plan.r * rowFloats;
          jit::RowView q{
              const_cast<float *>(localRow(query.data, b, firstPosition, h)),
              queries.rows(), rowStride};
          int64_t state = (b * sliceLen + x0) * numHeads + h;
          jit::RowView max{maxes.data() + state, queries.rows(),
                           plan.r * numHeads};
          jit::RowView sum{sums.data() + state, queries.rows(),
                           plan.r * numHeads};
          jit::RowView acc{accs.data() + state * headDim, queries.rows(),
                           rowStride};
          if (!remote) {
            jit::RowView k{
                const_cast<float *>(localRow(key.data, b, firstPosition, h)),
                queries.rows(), rowStride};
            jit::RowView v{
                const_cast<float *>(localRow(value.data, b, firstPosition, h)),
                queries.rows(), rowStride};
            kernel.fold(q, k, v, max, sum, acc,
                        config.causal ? std::optional<int64_t>(0)
                                      : std::nullopt);
            continue;
          }
          for (int rank = 0; rank < world; ++rank) {
            if (rank == me || (config.causal && rank > me))
              continue;
            const std::vector<Chunk> &theirs = plan.chunks[rank][hi];
            auto found = llvm::find_if(theirs, [&](const Chunk &chunk) {
              return chunk.segment == queries.segment;
            });
            if (found == theirs.end())
              continue;
            int64_t rows = plan.rankRows[rank];
            int64_t row = plan.headRowBase[rank][hi] + found->rowOffset;
            float *kRows = received.data() + rank * blockFloats +
                           plan.rankBase[rank] + (b * rows + row) * headDim;
            float *vRows = kRows + batch * rows * headDim;
            std::optional<int64_t> queryStart;
            if (config.causal)
              queryStart = queries.t0 - found->t0;
            kernel.fold(q, {kRows, found->rows(), headDim},
                        {vRows, found->rows(), headDim}, max, sum, acc,
                        queryStart);
          }
        }
      }
    }
  };
  for (const PatternPlan &plan : plans)
    foldPattern(plan, /*remote=*/false);
  if (gather.joinable())
    gather.join();
  if (!gatherFailure.empty())
    return makeError(ErrorCode::Runtime, gatherFailure);
  for (const PatternPlan &plan : plans)
    if (plan.gathered)
      foldPattern(plan, /*remote=*/true);

  // An empty slice has no rows to write (and its buffers may be null).
  for (int64_t b = 0; sliceLen > 0 && b < batch; ++b)
    for (int64_t h = 0; h < numHeads; ++h) {
      int64_t state = b * sliceLen * numHeads + h;
      kernel.write({maxes.data() + state, sliceLen, numHeads},
                   {sums.data() + state, sliceLen, numHeads},
                   {accs.data() + state * headDim, sliceLen, rowFloats},
                   {output + state * headDim, sliceLen, rowFloats});
    }
  return info;
}

llvm::Expected<SequenceParallelInfo> dilattn::sequenceParallelDilatedAttention(
    const DilatedAttentionConfig &config, int64_t seqLen,
    const HostTensor &query, const HostTensor &key, const HostTensor &value,
    float *output, Communicator &comm, const SequenceParallelOptions &options) {
  auto info = runRank(config, seqLen, query, key, value, output, comm, options);
  if (!info) {
    // The other ranks would wait for this one's block: tell them.
    ErrorReport report = takeErrorReport(info.takeError());
    comm.abort(report.message);
    return llvm::make_error<DilAttnError>(report.code, report.message,
                                          report.rule);
  }
  return info;
}
