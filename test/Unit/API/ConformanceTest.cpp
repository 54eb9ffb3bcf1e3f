//===- ConformanceTest.cpp - JIT kernels against the float64 reference ----===//
//
// Every case runs the compiled CPU kernel on fresh random inputs and compares
// it with the float64 reference of docs/Contract.md section 1 within the
// float32 tolerance (relative Frobenius error 1e-5). The grid covers both
// modes, both offset rules, causal, every mask shape and kind, 1 to 5 patterns,
// uneven head groups, short last segments, segments longer than the sequence,
// offsets past a short segment, several head dims and batches.
//
//===----------------------------------------------------------------------===//

#include "dilattn/API/DilatedAttention.h"
#include "dilattn/Reference/Reference.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace dilattn;

namespace {

enum class MaskKind { None, Bool, Float };

struct Case {
  const char *name;
  std::vector<int64_t> shape; // B, N, H, D
  std::vector<int64_t> lengths, rates;
  AttentionMode mode = AttentionMode::Grouped;
  OffsetRule rule = OffsetRule::Cyclic;
  bool causal = false;
  bool keyPadding = false;
  int attnRank = 0; // 0: none, else 2, 3 or 4
  MaskKind attnKind = MaskKind::None;
  std::optional<double> scale;
  jit::CpuTuning tuning = {};
};

std::ostream &operator<<(std::ostream &os, const Case &c) {
  return os << c.name;
}

/// A JIT with a cache directory of its own (removed at exit), shared by all
/// cases so equal specs compile once.
jit::Jit &testJit() {
  static std::string directory = [] {
    llvm::SmallString<128> path;
    if (llvm::sys::fs::createUniqueDirectory("dilattn-conformance", path))
      return std::string();
    return std::string(path);
  }();
  static jit::Jit jit([] {
    jit::JitOptions options;
    options.cacheDirectory = directory;
    options.useDefaultCacheDirectory = false;
    return options;
  }());
  return jit;
}

class Conformance : public testing::TestWithParam<Case> {};

TEST_P(Conformance, MatchesReference) {
  const Case &c = GetParam();
  DilatedAttentionConfig config;
  config.segmentLengths.assign(c.lengths.begin(), c.lengths.end());
  config.dilationRates.assign(c.rates.begin(), c.rates.end());
  config.mode = c.mode;
  config.offsetRule = c.rule;
  config.causal = c.causal;
  config.scale = c.scale;
  int64_t batch = c.shape[0], seqLen = c.shape[1], numHeads = c.shape[2];

  // Fresh inputs per case: the seed depends on the case name.
  uint64_t seed = std::hash<std::string>()(c.name);
  reference::Tensor query = reference::randomTensor(c.shape, seed);
  reference::Tensor key = reference::randomTensor(c.shape, seed + 1);
  reference::Tensor value = reference::randomTensor(c.shape, seed + 2);
  // Inputs are rounded to float32 first so both sides see the same data.
  auto toFloat = [](const reference::Tensor &tensor) {
    return std::vector<float>(tensor.data.begin(), tensor.data.end());
  };
  auto roundTrip = [&](reference::Tensor &tensor) {
    for (double &x : tensor.data)
      x = static_cast<float>(x);
  };
  roundTrip(query);
  roundTrip(key);
  roundTrip(value);
  std::vector<float> q = toFloat(query), k = toFloat(key), v = toFloat(value);

  reference::Masks masks;
  std::optional<HostMask> keyPaddingView, attnView;
  std::vector<uint8_t> paddingBits, attnBits;
  std::vector<float> attnBias;
  if (c.keyPadding) {
    reference::BoolTensor padding =
        reference::randomBoolTensor({batch, seqLen}, seed + 3, 0.3);
    paddingBits = padding.data;
    masks.keyPaddingMask = padding;
    keyPaddingView = HostMask{
        HostMask::Kind::Bool, paddingBits.data(), nullptr, {batch, seqLen}};
  }
  if (c.attnRank) {
    std::vector<int64_t> shape = {seqLen, seqLen};
    if (c.attnRank == 4)
      shape = {batch, numHeads, seqLen, seqLen};
    else if (c.attnRank == 3)
      shape = {batch, seqLen, seqLen};
    llvm::SmallVector<int64_t, 4> maskShape(shape.begin(), shape.end());
    if (c.attnKind == MaskKind::Bool) {
      reference::BoolTensor mask =
          reference::randomBoolTensor(shape, seed + 4, 0.25);
      attnBits = mask.data;
      masks.attnMask = mask;
      attnView =
          HostMask{HostMask::Kind::Bool, attnBits.data(), nullptr, maskShape};
    } else {
      reference::Tensor bias = reference::randomTensor(shape, seed + 4, -2, 2);
      // Some pairs forbidden outright.
      for (size_t i = 0; i < bias.data.size(); i += 7)
        bias.data[i] = -HUGE_VAL;
      roundTrip(bias);
      attnBias = toFloat(bias);
      masks.attnMask = bias;
      attnView =
          HostMask{HostMask::Kind::Float, nullptr, attnBias.data(), maskShape};
    }
  }

  std::vector<float> out(q.size(), NAN);
  RunOptions options;
  options.jit = &testJit();
  options.tuning = c.tuning;
  auto info = dilatedAttention(
      config, HostTensor{q.data(), {c.shape.begin(), c.shape.end()}},
      HostTensor{k.data(), {c.shape.begin(), c.shape.end()}},
      HostTensor{v.data(), {c.shape.begin(), c.shape.end()}}, keyPaddingView,
      attnView, out.data(), c.shape, options);
  ASSERT_TRUE(static_cast<bool>(info)) << llvm::toString(info.takeError());

  auto expected = reference::dilatedAttention(config, query, key, value, masks);
  ASSERT_TRUE(static_cast<bool>(expected))
      << llvm::toString(expected.takeError());
  reference::ErrorStats stats =
      reference::compare(llvm::ArrayRef<float>(out), expected->data);
  EXPECT_LE(stats.relative, 1e-5) << "max_abs_err=" << stats.maxAbs;
  // Exact zeros stay exact (grouped rows a pattern does not select, fully
  // masked rows).
  for (size_t i = 0; i < out.size(); ++i) {
    if (expected->data[i] == 0.0) {
      ASSERT_EQ(out[i], 0.0f) << "element " << i;
    }
  }
}

// One case per line reads as a table.
// clang-format off
using M = AttentionMode;
using R = OffsetRule;
const Case kCases[] = {
    // Vanilla and single patterns.
    {"dense", {1, 64, 2, 32}, {64}, {1}},
    {"dense_causal", {2, 70, 3, 32}, {128}, {1}, M::Grouped, R::Cyclic, true},
    {"one_pattern_dilated", {1, 96, 2, 64}, {32}, {4}},
    // Grouped: uneven groups, short last segments, w > N, offsets past a
    // short segment's end (pattern 3: offset 3 mod 4 = 3 in a 2-long tail).
    {"grouped_k2", {1, 128, 4, 64}, {32, 64}, {1, 2}},
    {"grouped_uneven", {2, 100, 5, 24}, {16, 32, 64}, {1, 2, 4}},
    {"grouped_short_tail", {1, 66, 4, 32}, {16, 32, 64, 128}, {1, 2, 4, 4}},
    {"grouped_w_gt_n", {1, 50, 3, 8}, {64, 128, 32}, {1, 2, 2}},
    {"grouped_k5", {1, 120, 7, 32}, {8, 16, 32, 64, 128}, {1, 2, 3, 4, 5}},
    {"grouped_causal", {2, 96, 4, 32}, {32, 64}, {1, 2}, M::Grouped, R::Cyclic, true},
    {"grouped_rate_gt_segment", {1, 64, 2, 32}, {4, 16}, {8, 2}},
    // LongNet: both offset rules, causal, uneven H.
    {"longnet_cyclic", {1, 128, 4, 64}, {32, 64, 128}, {1, 2, 4}, M::LongNet},
    {"longnet_blocked", {1, 128, 6, 32}, {32, 64, 128}, {1, 2, 4}, M::LongNet, R::Blocked},
    {"longnet_causal", {2, 90, 3, 32}, {16, 48}, {1, 3}, M::LongNet, R::Cyclic, true},
    {"longnet_blocked_causal", {1, 77, 5, 24}, {32, 64}, {2, 4}, M::LongNet, R::Blocked, true},
    {"longnet_k5", {1, 100, 3, 8}, {4, 8, 16, 32, 64}, {1, 2, 2, 4, 8}, M::LongNet},
    {"longnet_heads_lt_k", {1, 64, 2, 32}, {16, 32, 64}, {1, 2, 4}, M::LongNet},
    // Head dims.
    {"d8", {1, 64, 2, 8}, {32}, {2}},
    {"d128", {1, 64, 2, 128}, {32, 64}, {1, 2}, M::LongNet},
    {"d20_odd", {1, 40, 2, 20}, {16, 40}, {1, 2}, M::LongNet},
    // Masks: key padding, attn masks of every rank and kind, combined.
    {"key_padding", {2, 64, 2, 32}, {32, 64}, {1, 2}, M::Grouped, R::Cyclic, false, true},
    {"attn_bool_nn", {1, 64, 2, 32}, {32, 64}, {1, 2}, M::LongNet, R::Cyclic, false, false, 2, MaskKind::Bool},
    {"attn_bool_bnn", {2, 48, 3, 32}, {16, 48}, {1, 2}, M::Grouped, R::Cyclic, false, false, 3, MaskKind::Bool},
    {"attn_bool_bhnn", {2, 40, 2, 32}, {20, 40}, {1, 2}, M::LongNet, R::Blocked, true, false, 4, MaskKind::Bool},
    {"attn_float_nn", {1, 64, 2, 32}, {32}, {2}, M::Grouped, R::Cyclic, false, false, 2, MaskKind::Float},
    {"attn_float_bnn", {2, 33, 2, 24}, {11, 33}, {1, 3}, M::LongNet, R::Cyclic, true, false, 3, MaskKind::Float},
    {"attn_float_bhnn", {2, 32, 3, 32}, {16, 32}, {1, 2}, M::Grouped, R::Cyclic, false, false, 4, MaskKind::Float},
    {"all_masks_causal", {2, 64, 4, 32}, {16, 32, 64}, {1, 2, 4}, M::LongNet, R::Cyclic, true, true, 4, MaskKind::Bool},
    // Scale given, and tuning variants (unfused longnet states, other tiles).
    {"explicit_scale", {1, 64, 2, 32}, {32, 64}, {1, 2}, M::LongNet, R::Cyclic, false, false, 0, MaskKind::None, 0.3},
    {"unfused_longnet", {1, 96, 3, 32}, {16, 32, 96}, {1, 2, 3}, M::LongNet, R::Cyclic, true, true, 0, MaskKind::None, std::nullopt, jit::CpuTuning{8, 4, 16, 0, /*fusePatterns=*/false}},
    {"tiles_6x32_block_32", {1, 130, 2, 64}, {64, 128}, {1, 2}, M::Grouped, R::Cyclic, true, false, 0, MaskKind::None, std::nullopt, jit::CpuTuning{8, 6, 32, 32, true}},
    {"batch_3", {3, 48, 2, 32}, {16, 48}, {1, 3}, M::Grouped, R::Cyclic, false, true},
};

// clang-format on

INSTANTIATE_TEST_SUITE_P(Grid, Conformance, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<Case> &info) {
                           return info.param.name;
                         });

/// Scores near 1e4 must neither overflow nor produce NaN.
TEST(ConformanceExtreme, LargeScores) {
  DilatedAttentionConfig config;
  config.segmentLengths = {32, 64};
  config.dilationRates = {1, 2};
  config.mode = AttentionMode::LongNet;
  config.scale = 1.0;
  std::vector<int64_t> shape = {1, 64, 2, 16};
  reference::Tensor query = reference::randomTensor(shape, 7, -25, 25);
  reference::Tensor key = reference::randomTensor(shape, 8, -25, 25);
  reference::Tensor value = reference::randomTensor(shape, 9);
  for (reference::Tensor *t : {&query, &key, &value})
    for (double &x : t->data)
      x = static_cast<float>(x);
  std::vector<float> q(query.data.begin(), query.data.end()),
      k(key.data.begin(), key.data.end()),
      v(value.data.begin(), value.data.end()), out(q.size());
  RunOptions options;
  options.jit = &testJit();
  llvm::SmallVector<int64_t, 4> dims(shape.begin(), shape.end());
  auto info =
      dilatedAttention(config, HostTensor{q.data(), dims},
                       HostTensor{k.data(), dims}, HostTensor{v.data(), dims},
                       std::nullopt, std::nullopt, out.data(), dims, options);
  ASSERT_TRUE(static_cast<bool>(info)) << llvm::toString(info.takeError());
  for (float x : out)
    ASSERT_TRUE(std::isfinite(x));
  auto expected = reference::dilatedAttention(config, query, key, value);
  ASSERT_TRUE(static_cast<bool>(expected));
  // Scores up to ~1e4 amplify input rounding; the softmax itself stays exact
  // to float precision, so the tolerance is looser than the grid's.
  reference::ErrorStats stats =
      reference::compare(llvm::ArrayRef<float>(out), expected->data);
  EXPECT_LE(stats.relative, 1e-3);
}

/// Every refusal of the API is an error value with the contract's message.
TEST(ConformanceErrors, RefusedCalls) {
  DilatedAttentionConfig config;
  config.segmentLengths = {8, 8, 8};
  config.dilationRates = {1, 2, 4};
  std::vector<float> data(1 * 16 * 2 * 8, 1.0f), out(data.size());
  llvm::SmallVector<int64_t, 4> dims = {1, 16, 2, 8};
  RunOptions options;
  options.jit = &testJit();
  auto info = dilatedAttention(config, HostTensor{data.data(), dims},
                               HostTensor{data.data(), dims},
                               HostTensor{data.data(), dims}, std::nullopt,
                               std::nullopt, out.data(), dims, options);
  ASSERT_FALSE(static_cast<bool>(info));
  EXPECT_EQ(llvm::toString(info.takeError()),
            "num_heads (2) must be >= the number of patterns (3) in grouped "
            "mode");
  config.mode = AttentionMode::LongNet;
  llvm::SmallVector<int64_t, 4> wrong = {1, 16, 2, 4};
  info = dilatedAttention(config, HostTensor{data.data(), dims},
                          HostTensor{data.data(), dims},
                          HostTensor{data.data(), dims}, std::nullopt,
                          std::nullopt, out.data(), wrong, options);
  ASSERT_FALSE(static_cast<bool>(info));
  EXPECT_EQ(llvm::toString(info.takeError()),
            "output must have the shape of query (1, 16, 2, 8), got (1, 16, "
            "2, 4)");
  // An empty sequence gives an empty output and compiles nothing.
  llvm::SmallVector<int64_t, 4> empty = {1, 0, 2, 8};
  info =
      dilatedAttention(config, HostTensor{nullptr, empty},
                       HostTensor{nullptr, empty}, HostTensor{nullptr, empty},
                       std::nullopt, std::nullopt, nullptr, empty, options);
  ASSERT_TRUE(static_cast<bool>(info)) << llvm::toString(info.takeError());
  EXPECT_EQ(info->workItems, 0);
}

} // namespace
