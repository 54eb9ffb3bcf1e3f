//===- SequenceParallelTest.cpp - ranks in threads vs one device ----------===//
//
// Every case splits fresh random Q, K, V over an in-process group of ranks
// (threads), runs sequenceParallelDilatedAttention on each, and checks the
// assembled output against the float64 reference (docs/Contract.md: float32
// within 1e-5 relative) and against the single-device JIT kernel (same
// tolerance). The grid covers both modes, causal, uneven head groups, short
// last segments, slices that are not a multiple of the segment length, empty
// slices and odd head dims. A rank that fails or never arrives makes the
// others fail with a message, not hang.
//
//===----------------------------------------------------------------------===//

#include "dilattn/API/SequenceParallel.h"
#include "dilattn/Reference/Reference.h"

#include "gtest/gtest.h"

#include <cmath>
#include <random>
#include <thread>

using namespace dilattn;

namespace {

struct Case {
  const char *name;
  std::vector<int64_t> lengths, rates;
  AttentionMode mode;
  bool causal;
  int64_t batch, seqLen, heads, headDim;
  int world;
  OffsetRule offsetRule = OffsetRule::Cyclic;
};

void PrintTo(const Case &c, std::ostream *os) { *os << c.name; }

/// ||a - b|| / ||b||.
double relativeError(llvm::ArrayRef<float> a, llvm::ArrayRef<double> b) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    norm += b[i] * b[i];
  }
  return norm == 0 ? std::sqrt(diff) : std::sqrt(diff / norm);
}

struct Problem {
  DilatedAttentionConfig config;
  int64_t batch, seqLen, heads, headDim;
  std::vector<float> q, k, v;

  Problem(const Case &c, uint32_t seed) {
    config.segmentLengths.assign(c.lengths.begin(), c.lengths.end());
    config.dilationRates.assign(c.rates.begin(), c.rates.end());
    config.mode = c.mode;
    config.causal = c.causal;
    config.offsetRule = c.offsetRule;
    batch = c.batch;
    seqLen = c.seqLen;
    heads = c.heads;
    headDim = c.headDim;
    std::mt19937 random(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (std::vector<float> *t : {&q, &k, &v}) {
      t->resize(batch * seqLen * heads * headDim);
      for (float &x : *t)
        x = normal(random);
    }
  }

  /// Rows [begin, end) of every batch of `full` (B, N, H, D).
  std::vector<float> slice(const std::vector<float> &full,
                           SequenceSlice s) const {
    int64_t row = heads * headDim;
    std::vector<float> part;
    for (int64_t b = 0; b < batch; ++b)
      part.insert(part.end(), full.begin() + (b * seqLen + s.begin) * row,
                  full.begin() + (b * seqLen + s.end) * row);
    return part;
  }

  /// Runs every rank of an in-process group in its own thread and
  /// assembles the output; fills the ranks' infos.
  std::vector<float> runRanks(int world,
                              std::vector<SequenceParallelInfo> &infos) {
    auto group = distributed::createInProcessGroup(world);
    std::vector<float> output(q.size(), -7.0f);
    std::vector<std::string> failures(world);
    infos.assign(world, {});
    std::vector<std::thread> threads;
    for (int rank = 0; rank < world; ++rank)
      threads.emplace_back([&, rank] {
        SequenceSlice s = sequenceSlice(seqLen, world, rank);
        std::vector<float> lq = slice(q, s), lk = slice(k, s), lv = slice(v, s),
                           lo(lq.size(), -7.0f);
        llvm::SmallVector<int64_t, 4> shape = {batch, s.size(), heads, headDim};
        auto info = sequenceParallelDilatedAttention(
            config, seqLen, {lq.data(), shape}, {lk.data(), shape},
            {lv.data(), shape}, lo.data(), *group[rank]);
        if (!info) {
          failures[rank] = llvm::toString(info.takeError());
          return;
        }
        infos[rank] = *info;
        int64_t row = heads * headDim;
        for (int64_t b = 0; b < batch; ++b)
          std::copy(lo.begin() + b * s.size() * row,
                    lo.begin() + (b + 1) * s.size() * row,
                    output.begin() + (b * seqLen + s.begin) * row);
      });
    for (std::thread &thread : threads)
      thread.join();
    for (int rank = 0; rank < world; ++rank)
      EXPECT_EQ(failures[rank], "") << "rank " << rank;
    return output;
  }

  std::vector<double> reference() const {
    std::vector<int64_t> shape = {batch, seqLen, heads, headDim};
    reference::Tensor rq{shape, {q.begin(), q.end()}},
        rk{shape, {k.begin(), k.end()}}, rv{shape, {v.begin(), v.end()}};
    auto out = reference::dilatedAttention(config, rq, rk, rv);
    EXPECT_TRUE(static_cast<bool>(out));
    if (!out) {
      llvm::consumeError(out.takeError());
      return {};
    }
    return out->data;
  }

  std::vector<float> singleDevice() const {
    llvm::SmallVector<int64_t, 4> shape = {batch, seqLen, heads, headDim};
    std::vector<float> out(q.size());
    auto info = dilatedAttention(config, {q.data(), shape}, {k.data(), shape},
                                 {v.data(), shape}, std::nullopt, std::nullopt,
                                 out.data(), shape);
    EXPECT_TRUE(static_cast<bool>(info));
    if (!info)
      llvm::consumeError(info.takeError());
    return out;
  }
};

class SequenceParallel : public ::testing::TestWithParam<Case> {};

TEST_P(SequenceParallel, EqualsReferenceAndSingleDevice) {
  const Case &c = GetParam();
  Problem problem(c, /*seed=*/std::hash<std::string>()(c.name) & 0xffff);
  std::vector<SequenceParallelInfo> infos;
  std::vector<float> output = problem.runRanks(c.world, infos);
  std::vector<double> expected = problem.reference();
  ASSERT_EQ(expected.size(), output.size());
  EXPECT_LT(relativeError(output, expected), 1e-5);
  std::vector<float> single = problem.singleDevice();
  std::vector<double> singleWide(single.begin(), single.end());
  EXPECT_LT(relativeError(output, singleWide), 1e-5);
  // Every row was written (the buffers start at -7, not a valid output).
  for (float x : output)
    ASSERT_TRUE(std::isfinite(x) && x != -7.0f);
}

const Case kCases[] = {
    // A pattern local to every slice and one that spans them (LongNet's
    // split), both modes.
    {"longnet_local_and_spanning",
     {16, 64},
     {1, 4},
     AttentionMode::LongNet,
     false,
     2,
     64,
     4,
     16,
     4},
    {"grouped_local_and_spanning",
     {16, 64},
     {1, 4},
     AttentionMode::Grouped,
     false,
     2,
     64,
     4,
     16,
     4},
    {"longnet_causal",
     {16, 32, 64},
     {1, 2, 4},
     AttentionMode::LongNet,
     true,
     1,
     64,
     4,
     8,
     4},
    {"grouped_causal_uneven_groups",
     {8, 32, 64},
     {1, 2, 8},
     AttentionMode::Grouped,
     true,
     2,
     64,
     5,
     8,
     2},
    // N = 70 over 3 ranks: slices of 24, 24, 22; short last segments; a
    // segment length (20) that does not divide the slice.
    {"uneven_slices_short_segments",
     {20, 48},
     {2, 3},
     AttentionMode::LongNet,
     false,
     1,
     70,
     3,
     8,
     3},
    {"uneven_slices_causal_grouped",
     {20, 48},
     {2, 3},
     AttentionMode::Grouped,
     true,
     2,
     70,
     4,
     8,
     3},
    // Odd head dim, blocked offsets' cousin: dilation larger than the slice.
    {"odd_head_dim",
     {32, 96},
     {1, 16},
     AttentionMode::LongNet,
     true,
     1,
     96,
     3,
     5,
     4},
    // A segment covering the whole sequence, plain attention when r = 1.
    {"whole_sequence",
     {1000},
     {1},
     AttentionMode::LongNet,
     true,
     1,
     50,
     2,
     8,
     2},
    // More ranks than positions would be empty slices: N = 5 over 8 ranks.
    {"empty_slices",
     {4, 8},
     {1, 2},
     AttentionMode::LongNet,
     false,
     1,
     5,
     2,
     4,
     8},
    // torchscale's blocked offsets: heads 0-1 offset 0, heads 2-3 offset 1.
    {"longnet_blocked_offsets",
     {16, 48},
     {2, 3},
     AttentionMode::LongNet,
     true,
     1,
     96,
     6,
     8,
     3,
     OffsetRule::Blocked},
    // One rank: the local algorithm alone.
    {"one_rank",
     {16, 64},
     {1, 4},
     AttentionMode::Grouped,
     true,
     1,
     64,
     2,
     8,
     1},
};

INSTANTIATE_TEST_SUITE_P(Grid, SequenceParallel, ::testing::ValuesIn(kCases),
                         [](const auto &info) { return info.param.name; });

TEST(SequenceParallelVolume, GathersDilatedRowsOnly) {
  // One spanning pattern (w = N, r = 8) over 4 ranks: each rank sends its
  // dilated K and V rows, N / r / 4 per head and batch.
  Case c{"volume", {256}, {8}, AttentionMode::LongNet, false, 1, 256, 8, 16, 4};
  Problem problem(c, 7);
  std::vector<SequenceParallelInfo> infos;
  problem.runRanks(4, infos);
  double dense = 2.0 * 256 / 4 * 8 * 16 * 4; // K and V rows of a slice
  for (const SequenceParallelInfo &info : infos) {
    EXPECT_EQ(info.gatheredPatterns, 1);
    EXPECT_EQ(info.bytesSent, static_cast<uint64_t>(dense / 8));
    EXPECT_DOUBLE_EQ(info.predictedBytes, dense / 8);
  }
}

TEST(SequenceParallelFailures, BadSliceFailsEveryRank) {
  // Rank 1 passes a slice of the wrong length: it refuses with a message,
  // and the other ranks' gathers fail naming it instead of hanging.
  auto group = distributed::createInProcessGroup(3, std::chrono::seconds(30));
  DilatedAttentionConfig config;
  config.segmentLengths = {48};
  config.dilationRates = {2};
  config.mode = AttentionMode::LongNet;
  std::vector<std::string> failures(3);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < 3; ++rank)
    threads.emplace_back([&, rank] {
      int64_t len = rank == 1 ? 15 : 16;
      std::vector<float> data(len * 2 * 4, 0.5f), out(data.size());
      llvm::SmallVector<int64_t, 4> shape = {1, len, 2, 4};
      auto info = sequenceParallelDilatedAttention(
          config, 48, {data.data(), shape}, {data.data(), shape},
          {data.data(), shape}, out.data(), *group[rank]);
      failures[rank] = info ? "" : llvm::toString(info.takeError());
    });
  for (std::thread &thread : threads)
    thread.join();
  EXPECT_NE(failures[1].find("query of rank 1 must be its slice (B, 16, H, "
                             "D) = (1, 16, 2, 4)"),
            std::string::npos)
      << failures[1];
  for (int rank : {0, 2})
    EXPECT_NE(failures[rank].find("rank 1 failed: query of rank 1"),
              std::string::npos)
        << failures[rank];
}

TEST(SequenceParallelFailures, MissingRankTimesOut) {
  // Rank 1 never calls: the others fail after the deadline.
  auto group =
      distributed::createInProcessGroup(2, std::chrono::milliseconds(200));
  DilatedAttentionConfig config;
  config.segmentLengths = {32};
  config.dilationRates = {2};
  std::vector<float> data(16 * 2 * 4, 0.5f), out(data.size());
  llvm::SmallVector<int64_t, 4> shape = {1, 16, 2, 4};
  auto start = std::chrono::steady_clock::now();
  auto info = sequenceParallelDilatedAttention(
      config, 32, {data.data(), shape}, {data.data(), shape},
      {data.data(), shape}, out.data(), *group[0]);
  ASSERT_FALSE(static_cast<bool>(info));
  EXPECT_EQ(llvm::toString(info.takeError()),
            "all-gather timed out after 200 ms on rank 0 of 2 while waiting "
            "for the other ranks' blocks (a rank failed or never called it)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(SequenceParallelRules, RulesOfTheWholeCallApply) {
  auto group = distributed::createInProcessGroup(1);
  DilatedAttentionConfig config;
  config.segmentLengths = {16, 32};
  config.dilationRates = {1};
  std::vector<float> data(16 * 2 * 4), out(data.size());
  llvm::SmallVector<int64_t, 4> shape = {1, 16, 2, 4};
  auto info = sequenceParallelDilatedAttention(
      config, 16, {data.data(), shape}, {data.data(), shape},
      {data.data(), shape}, out.data(), *group[0]);
  ASSERT_FALSE(static_cast<bool>(info));
  EXPECT_NE(llvm::toString(info.takeError()).find("dilation_rates"),
            std::string::npos);
}

} // namespace
