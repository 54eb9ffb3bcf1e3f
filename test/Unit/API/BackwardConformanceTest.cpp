//===- BackwardConformanceTest.cpp - gradients against float64 ------------===//
//
// The CPU backward pass (issue 18) through the C++ API: the forward kernel
// that saves its statistics, then the backward kernel, on fresh random
// inputs, compared with the float64 reference gradients of docs/Contract.md
// section 1.9 within the float32 tolerance (1e-5 relative per gradient, as
// the output), and the statistics within 1e-5. The grid covers
// both modes, both offset rules, causal, both mask kinds, ragged last
// segments, offsets past a segment's end, D in {5, 8, 64, 128}, B > 1 and H
// not a multiple of the number of patterns. Shapes stay small: every case
// compiles two kernels.
//
//===----------------------------------------------------------------------===//

#include "dilattn/API/DilatedAttention.h"
#include "dilattn/Reference/Reference.h"
#include "dilattn/Support/Error.h"

#include "llvm/Support/FileSystem.h"

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
  /// Probability of a padded key; 0: no key padding mask.
  double padding = 0;
  int attnRank = 0; // 0: none, else 2, 3 or 4
  MaskKind attnKind = MaskKind::None;
};

std::ostream &operator<<(std::ostream &os, const Case &c) {
  return os << c.name;
}

jit::Jit &testJit() {
  static std::string directory = [] {
    llvm::SmallString<128> path;
    if (llvm::sys::fs::createUniqueDirectory("dilattn-backward", path))
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

std::vector<float> toFloat(const reference::Tensor &tensor) {
  return std::vector<float>(tensor.data.begin(), tensor.data.end());
}

/// Rounds to float32 so that kernel and reference see the same data.
reference::Tensor rounded(reference::Tensor tensor) {
  for (double &x : tensor.data)
    x = static_cast<float>(x);
  return tensor;
}

class BackwardConformance : public testing::TestWithParam<Case> {};

TEST_P(BackwardConformance, MatchesReference) {
  const Case &c = GetParam();
  DilatedAttentionConfig config;
  config.segmentLengths.assign(c.lengths.begin(), c.lengths.end());
  config.dilationRates.assign(c.rates.begin(), c.rates.end());
  config.mode = c.mode;
  config.offsetRule = c.rule;
  config.causal = c.causal;
  int64_t batch = c.shape[0], seqLen = c.shape[1], numHeads = c.shape[2];
  llvm::SmallVector<int64_t, 4> shape(c.shape.begin(), c.shape.end());
  llvm::SmallVector<int64_t, 4> rows(c.shape.begin(), c.shape.end() - 1);

  uint64_t seed = std::hash<std::string>()(c.name);
  reference::Tensor query = rounded(reference::randomTensor(c.shape, seed));
  reference::Tensor key = rounded(reference::randomTensor(c.shape, seed + 1));
  reference::Tensor value = rounded(reference::randomTensor(c.shape, seed + 2));
  reference::Tensor gradOutput =
      rounded(reference::randomTensor(c.shape, seed + 3));
  std::vector<float> q = toFloat(query), k = toFloat(key), v = toFloat(value),
                     dO = toFloat(gradOutput);

  reference::Masks masks;
  std::optional<HostMask> keyPaddingView, attnView;
  std::vector<uint8_t> paddingBits, attnBits;
  std::vector<float> attnBias;
  if (c.padding > 0) {
    reference::BoolTensor padding =
        reference::randomBoolTensor({batch, seqLen}, seed + 4, c.padding);
    paddingBits = padding.data;
    masks.keyPaddingMask = padding;
    keyPaddingView = HostMask{
        HostMask::Kind::Bool, paddingBits.data(), nullptr, {batch, seqLen}};
  }
  if (c.attnRank) {
    std::vector<int64_t> maskShape = {seqLen, seqLen};
    if (c.attnRank == 4)
      maskShape = {batch, numHeads, seqLen, seqLen};
    else if (c.attnRank == 3)
      maskShape = {batch, seqLen, seqLen};
    llvm::SmallVector<int64_t, 4> viewShape(maskShape.begin(), maskShape.end());
    if (c.attnKind == MaskKind::Bool) {
      reference::BoolTensor mask =
          reference::randomBoolTensor(maskShape, seed + 5, 0.25);
      attnBits = mask.data;
      masks.attnMask = mask;
      attnView =
          HostMask{HostMask::Kind::Bool, attnBits.data(), nullptr, viewShape};
    } else {
      reference::Tensor bias =
          reference::randomTensor(maskShape, seed + 5, -2, 2);
      for (size_t i = 0; i < bias.data.size(); i += 7)
        bias.data[i] = -HUGE_VAL;
      bias = rounded(bias);
      attnBias = toFloat(bias);
      masks.attnMask = bias;
      attnView =
          HostMask{HostMask::Kind::Float, nullptr, attnBias.data(), viewShape};
    }
  }

  RunOptions options;
  options.jit = &testJit();
  std::vector<float> out(q.size(), NAN), lse(q.size() / c.shape[3], NAN);
  auto forward = dilatedAttentionWithStatistics(
      config, HostTensor{q.data(), shape}, HostTensor{k.data(), shape},
      HostTensor{v.data(), shape}, keyPaddingView, attnView, out.data(), shape,
      lse.data(), options);
  ASSERT_TRUE(static_cast<bool>(forward))
      << llvm::toString(forward.takeError());
  std::vector<float> dq(q.size(), NAN), dk(q.size(), NAN), dv(q.size(), NAN);
  auto backward = dilatedAttentionBackward(
      config, HostTensor{q.data(), shape}, HostTensor{k.data(), shape},
      HostTensor{v.data(), shape}, HostTensor{out.data(), shape},
      HostTensor{lse.data(), rows}, HostTensor{dO.data(), shape},
      keyPaddingView, attnView, dq.data(), dk.data(), dv.data(), options);
  ASSERT_TRUE(static_cast<bool>(backward))
      << llvm::toString(backward.takeError());
  EXPECT_EQ(backward->workItems, batch * numHeads);

  auto expected = reference::dilatedAttentionWithStatistics(config, query, key,
                                                            value, masks);
  ASSERT_TRUE(static_cast<bool>(expected))
      << llvm::toString(expected.takeError());
  reference::ErrorStats outStats =
      reference::compare(llvm::ArrayRef<float>(out), expected->output.data);
  EXPECT_LE(outStats.relative, 1e-5) << "output";
  for (size_t i = 0; i < lse.size(); ++i) {
    double want = expected->lse.data[i];
    if (std::isinf(want)) {
      ASSERT_EQ(lse[i], -INFINITY) << "lse " << i;
    } else {
      ASSERT_NEAR(lse[i], want, 1e-5 * std::max(1.0, std::abs(want)))
          << "lse " << i;
    }
  }

  auto grads = reference::dilatedAttentionBackward(config, query, key, value,
                                                   gradOutput, masks);
  ASSERT_TRUE(static_cast<bool>(grads)) << llvm::toString(grads.takeError());
  struct Named {
    const char *name;
    const std::vector<float> *got;
    const reference::Tensor *want;
  };
  Named all[] = {{"grad_query", &dq, &grads->query},
                 {"grad_key", &dk, &grads->key},
                 {"grad_value", &dv, &grads->value}};
  for (const Named &g : all) {
    reference::ErrorStats stats =
        reference::compare(llvm::ArrayRef<float>(*g.got), g.want->data);
    EXPECT_LE(stats.relative, 1e-5)
        << g.name << " max_abs_err=" << stats.maxAbs;
  }
  // Structural zeros are exact: a query row with no allowed key (lse =
  // -inf, which includes positions no pattern selects) gets dQ = 0, and a
  // position no allowed pair uses as a key (its reference dV row is zero:
  // every such pair has P > 0) gets dK = dV = 0. Other zeros of the
  // reference may be cancellations (a row with one key has dQ = 0 up to
  // rounding) and are only compared within the tolerance above.
  int64_t headDim = c.shape[3];
  for (size_t row = 0; row < lse.size(); ++row) {
    bool unusedKey = true;
    for (int64_t d = 0; d < headDim; ++d)
      unusedKey &= grads->value.data[row * headDim + d] == 0.0;
    for (int64_t d = 0; d < headDim; ++d) {
      size_t i = row * headDim + d;
      if (std::isinf(expected->lse.data[row])) {
        ASSERT_EQ(dq[i], 0.0f) << "grad_query row " << row;
      }
      if (unusedKey) {
        ASSERT_EQ(dk[i], 0.0f) << "grad_key row " << row;
        ASSERT_EQ(dv[i], 0.0f) << "grad_value row " << row;
      }
    }
  }
}

// clang-format off
using M = AttentionMode;
using R = OffsetRule;
const Case kCases[] = {
    {"dense_causal", {1, 24, 2, 8}, {32}, {1}, M::Grouped, R::Cyclic, true},
    // H = 3 over k = 2 groups; ragged last segments (40 = 2*16 + 8).
    {"grouped_uneven", {2, 40, 3, 8}, {16, 32}, {1, 2}},
    {"grouped_causal_d5", {1, 37, 5, 5}, {10, 20, 37}, {1, 2, 3}, M::Grouped, R::Cyclic, true},
    {"longnet_cyclic_d64", {2, 45, 3, 64}, {12, 30}, {2, 3}, M::LongNet},
    // Segments of 16 over N = 50 leave a tail of 2: heads with offset 2 or 3
    // (rate 4) select nothing there.
    {"longnet_blocked_causal", {1, 50, 6, 8}, {16, 50}, {1, 4}, M::LongNet, R::Blocked, true},
    {"longnet_padding_d128", {2, 33, 2, 128}, {11, 33}, {2, 1}, M::LongNet, R::Cyclic, false, 0.3},
    {"grouped_bool_bnn_causal", {2, 30, 4, 8}, {8, 15}, {1, 2}, M::Grouped, R::Cyclic, true, 0, 3, MaskKind::Bool},
    {"longnet_float_bhnn_padding_d5", {2, 29, 3, 5}, {7, 29}, {1, 3}, M::LongNet, R::Cyclic, false, 0.2, 4, MaskKind::Float},
    {"grouped_float_nn_d128", {1, 40, 3, 128}, {20, 40}, {1, 2}, M::Grouped, R::Cyclic, true, 0, 2, MaskKind::Float},
    {"longnet_bool_nn_d64", {1, 36, 2, 64}, {12, 36}, {1, 2}, M::LongNet, R::Blocked, false, 0, 2, MaskKind::Bool},
    // Most keys padded: many rows have no allowed key (zero, never NaN).
    {"mostly_padded", {2, 32, 3, 8}, {8, 32}, {1, 2}, M::LongNet, R::Cyclic, true, 0.85},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Grid, BackwardConformance, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<Case> &info) {
                           return info.param.name;
                         });

TEST(BackwardErrors, RefusedCalls) {
  DilatedAttentionConfig config;
  config.segmentLengths = {8};
  config.dilationRates = {1};
  std::vector<float> data(2 * 8 * 2 * 4, 1.0f), lse(2 * 8 * 2, 0.0f);
  llvm::SmallVector<int64_t, 4> shape = {2, 8, 2, 4}, rows = {2, 8, 2};
  HostTensor tensor{data.data(), shape};
  std::vector<float> grads(data.size());
  auto run = [&](const HostTensor &output, const HostTensor &stats) {
    return dilatedAttentionBackward(config, tensor, tensor, tensor, output,
                                    stats, tensor, std::nullopt, std::nullopt,
                                    grads.data(), grads.data(), grads.data(),
                                    RunOptions{&testJit()});
  };
  auto badOutput =
      run(HostTensor{data.data(), {2, 8, 2, 3}}, HostTensor{lse.data(), rows});
  ASSERT_FALSE(static_cast<bool>(badOutput));
  EXPECT_EQ(llvm::toString(badOutput.takeError()),
            "output must have the shape and element type of query (2, 8, 2, "
            "4) f32, got (2, 8, 2, 3) f32");
  auto badLse = run(tensor, HostTensor{lse.data(), {2, 8}});
  ASSERT_FALSE(static_cast<bool>(badLse));
  ErrorReport report = takeErrorReport(badLse.takeError());
  EXPECT_EQ(report.rule, "G2");
  EXPECT_EQ(report.code, ErrorCode::InvalidCall);
}

TEST(BackwardErrors, CudaRefusesTheBackwardPass) {
  jit::KernelSpec spec;
  spec.kind = jit::KernelKind::Backward;
  spec.config.segmentLengths = {64};
  spec.config.dilationRates = {1};
  spec.headDim = 64;
  spec.element = ElementKind::BF16;
  spec.target = jit::Target::Cuda;
  spec.cudaChip = "sm_90a";
  auto image = jit::compileCudaKernelImage(spec, "backward");
  ASSERT_FALSE(static_cast<bool>(image));
  EXPECT_EQ(takeErrorReport(image.takeError()).code, ErrorCode::Unsupported);
}

} // namespace
