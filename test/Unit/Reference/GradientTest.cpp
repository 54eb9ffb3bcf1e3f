//===- GradientTest.cpp - Property tests of the float64 gradients ---------===//
//
// The reference gradients (issue 18) are the oracle of every backward kernel,
// so they are checked against what they claim to be: the derivative of the
// float64 forward reference (central finite differences), linear in the
// output gradient, zero where no pattern selects a position, causal in the
// precise sense stated below, finite for rows with no allowed key, and
// consistent with the saved statistics.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Reference/Reference.h"

#include "gtest/gtest.h"

#include <cmath>
#include <string>
#include <vector>

using namespace dilattn;
using namespace dilattn::reference;

namespace {

DilatedAttentionConfig makeConfig(std::vector<int64_t> segmentLengths,
                                  std::vector<int64_t> dilationRates,
                                  AttentionMode mode, bool causal = false,
                                  OffsetRule rule = OffsetRule::Cyclic) {
  DilatedAttentionConfig config;
  config.segmentLengths.assign(segmentLengths.begin(), segmentLengths.end());
  config.dilationRates.assign(dilationRates.begin(), dilationRates.end());
  config.mode = mode;
  config.causal = causal;
  config.offsetRule = rule;
  return config;
}

Tensor forward(const DilatedAttentionConfig &config, const Tensor &q,
               const Tensor &k, const Tensor &v, const Masks &masks) {
  llvm::Expected<Tensor> out = dilatedAttention(config, q, k, v, masks);
  if (!out) {
    ADD_FAILURE() << llvm::toString(out.takeError());
    return Tensor::zeros(q.shape);
  }
  return std::move(*out);
}

Gradients backward(const DilatedAttentionConfig &config, const Tensor &q,
                   const Tensor &k, const Tensor &v, const Tensor &dO,
                   const Masks &masks) {
  llvm::Expected<Gradients> grads =
      dilatedAttentionBackward(config, q, k, v, dO, masks);
  if (!grads) {
    ADD_FAILURE() << llvm::toString(grads.takeError());
    return {Tensor::zeros(q.shape), Tensor::zeros(q.shape),
            Tensor::zeros(q.shape)};
  }
  return std::move(*grads);
}

double loss(const Tensor &out, const Tensor &dO) {
  double sum = 0;
  for (size_t i = 0; i < out.data.size(); ++i)
    sum += out.data[i] * dO.data[i];
  return sum;
}

/// A named configuration with masks, on (B, N, H, D) = (2, 7, 3, 3): N = 7
/// leaves ragged last segments for every segment length below.
struct Case {
  std::string name;
  DilatedAttentionConfig config;
  Masks masks;
};

std::vector<Case> cases() {
  const std::vector<int64_t> shape = {2, 7, 3, 3};
  std::vector<Case> all;
  auto add = [&](std::string name, DilatedAttentionConfig config,
                 Masks masks = {}) {
    all.push_back({std::move(name), std::move(config), std::move(masks)});
  };
  add("grouped", makeConfig({3, 7}, {1, 2}, AttentionMode::Grouped));
  add("grouped_causal", makeConfig({4, 2}, {2, 1}, AttentionMode::Grouped,
                                   /*causal=*/true));
  add("longnet_cyclic", makeConfig({3, 5}, {1, 2}, AttentionMode::LongNet));
  // Rate 3 over segments of 2: heads with offset 2 select nothing there.
  add("longnet_blocked_causal",
      makeConfig({2, 7}, {3, 2}, AttentionMode::LongNet, /*causal=*/true,
                 OffsetRule::Blocked));
  Masks padding;
  padding.keyPaddingMask = randomBoolTensor({2, 7}, 11, 0.3);
  add("longnet_key_padding", makeConfig({4, 7}, {1, 2}, AttentionMode::LongNet),
      padding);
  Masks boolMask;
  boolMask.attnMask = randomBoolTensor({2, 3, 7, 7}, 12, 0.3);
  add("grouped_bool_attn_mask",
      makeConfig({3, 7}, {1, 1}, AttentionMode::Grouped, true), boolMask);
  Masks floatMask;
  Tensor bias = randomTensor({7, 7}, 13, -2, 2);
  bias.at({3, 1}) = -std::numeric_limits<double>::infinity();
  floatMask.attnMask = bias;
  floatMask.keyPaddingMask = randomBoolTensor({2, 7}, 14, 0.2);
  add("longnet_float_mask_and_padding",
      makeConfig({7, 3}, {2, 1}, AttentionMode::LongNet), floatMask);
  return all;
}

const std::vector<int64_t> kShape = {2, 7, 3, 3};

TEST(ReferenceGradient, MatchesCentralFiniteDifferences) {
  for (const Case &c : cases()) {
    SCOPED_TRACE(c.name);
    Tensor q = randomTensor(kShape, 1), k = randomTensor(kShape, 2),
           v = randomTensor(kShape, 3), dO = randomTensor(kShape, 4);
    Gradients grads = backward(c.config, q, k, v, dO, c.masks);
    const double h = 1e-5;
    double worst = 0, largest = 0;
    auto check = [&](Tensor &input, const Tensor &analytic) {
      for (size_t i = 0; i < input.data.size(); ++i) {
        double saved = input.data[i];
        input.data[i] = saved + h;
        double plus = loss(forward(c.config, q, k, v, c.masks), dO);
        input.data[i] = saved - h;
        double minus = loss(forward(c.config, q, k, v, c.masks), dO);
        input.data[i] = saved;
        double numeric = (plus - minus) / (2 * h);
        worst = std::max(worst, std::abs(numeric - analytic.data[i]));
        largest = std::max(largest, std::abs(analytic.data[i]));
      }
    };
    check(q, grads.query);
    check(k, grads.key);
    check(v, grads.value);
    // Central differences are exact to O(h^2) ~ 1e-10 plus rounding
    // ~ 1e-16 / h; 1e-8 is far below any real error.
    EXPECT_LT(worst, 1e-8);
    EXPECT_GT(largest, 1e-3) << "a test of gradients that are all zero";
  }
}

TEST(ReferenceGradient, LinearInTheOutputGradient) {
  for (const Case &c : cases()) {
    SCOPED_TRACE(c.name);
    Tensor q = randomTensor(kShape, 5), k = randomTensor(kShape, 6),
           v = randomTensor(kShape, 7);
    Tensor dO1 = randomTensor(kShape, 8), dO2 = randomTensor(kShape, 9);
    Tensor mixed = dO1;
    for (size_t i = 0; i < mixed.data.size(); ++i)
      mixed.data[i] = 2.5 * dO1.data[i] - 0.75 * dO2.data[i];
    Gradients g1 = backward(c.config, q, k, v, dO1, c.masks);
    Gradients g2 = backward(c.config, q, k, v, dO2, c.masks);
    Gradients gm = backward(c.config, q, k, v, mixed, c.masks);
    for (auto [a, b, m] : {std::tuple(&g1.query, &g2.query, &gm.query),
                           std::tuple(&g1.key, &g2.key, &gm.key),
                           std::tuple(&g1.value, &g2.value, &gm.value)})
      for (size_t i = 0; i < m->data.size(); ++i)
        EXPECT_NEAR(m->data[i], 2.5 * a->data[i] - 0.75 * b->data[i], 1e-12);
  }
}

TEST(ReferenceGradient, GroupedUnselectedPositionsGetZero) {
  // Group 0 (heads 0, 1): (w, r) = (4, 2), offset 0: positions 0, 2, 4, 6,
  // 8 of N = 10. Group 1 (head 2): (5, 3), offset 1: 1, 4, 6, 9.
  DilatedAttentionConfig config =
      makeConfig({4, 5}, {2, 3}, AttentionMode::Grouped);
  std::vector<int64_t> shape = {2, 10, 3, 4};
  Tensor q = randomTensor(shape, 1), k = randomTensor(shape, 2),
         v = randomTensor(shape, 3), dO = randomTensor(shape, 4);
  Gradients grads = backward(config, q, k, v, dO, {});
  auto selected = [](int64_t x, int64_t head) {
    if (head < 2)
      return x % 2 == 0;
    return x == 1 || x == 4 || x == 6 || x == 9;
  };
  int64_t nonZeroRows = 0;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t x = 0; x < 10; ++x)
      for (int64_t j = 0; j < 3; ++j)
        for (const Tensor *t : {&grads.query, &grads.key, &grads.value}) {
          bool allZero = true;
          for (int64_t d = 0; d < 4; ++d)
            allZero &= t->at({b, x, j, d}) == 0.0;
          if (!selected(x, j)) {
            EXPECT_TRUE(allZero) << "b=" << b << " x=" << x << " j=" << j;
          } else {
            nonZeroRows += !allZero;
          }
        }
  // Every selected row has a non-zero gradient, but for one: position 8 of
  // group 0 is alone in its segment [8, 10), and a softmax over one key
  // does not depend on its score, so dQ and dK are exactly 0 there (dV is
  // not). 2 batches * 3 gradients * 14 selected rows, less 2 * 2 * 2.
  EXPECT_EQ(nonZeroRows, 2 * 3 * (2 * 5 + 4) - 8);
}

// With causal, out[x] depends only on Q[x] and K, V at positions <= x (same
// segment). Hence, for every t:
//  (a) dK[y], dV[y] for y >= t do not depend on dO at positions < t;
//  (b) dQ[x] for x <= t does not depend on Q, K, V or dO at positions > t.
// (dK/dV at y < t do depend on dO at positions >= t: that is not a defect.)
TEST(ReferenceGradient, Causality) {
  for (const Case &c : cases()) {
    if (!c.config.causal)
      continue;
    SCOPED_TRACE(c.name);
    Tensor q = randomTensor(kShape, 21), k = randomTensor(kShape, 22),
           v = randomTensor(kShape, 23), dO = randomTensor(kShape, 24);
    Gradients base = backward(c.config, q, k, v, dO, c.masks);
    int64_t rowSize = kShape[2] * kShape[3];
    for (int64_t t = 1; t < kShape[1]; ++t) {
      // (a): new dO before t.
      Tensor early = dO;
      Tensor noise = randomTensor(kShape, 100 + t);
      for (int64_t b = 0; b < kShape[0]; ++b)
        for (int64_t x = 0; x < t; ++x)
          for (int64_t e = 0; e < rowSize; ++e) {
            int64_t index = (b * kShape[1] + x) * rowSize + e;
            early.data[index] = noise.data[index];
          }
      Gradients a = backward(c.config, q, k, v, early, c.masks);
      // (b): new Q, K, V and dO after t.
      Tensor q2 = q, k2 = k, v2 = v, dO2 = dO;
      for (Tensor *input : {&q2, &k2, &v2, &dO2})
        for (int64_t b = 0; b < kShape[0]; ++b)
          for (int64_t x = t + 1; x < kShape[1]; ++x)
            for (int64_t e = 0; e < rowSize; ++e) {
              int64_t index = (b * kShape[1] + x) * rowSize + e;
              input->data[index] += noise.data[index];
            }
      Gradients late = backward(c.config, q2, k2, v2, dO2, c.masks);
      for (int64_t b = 0; b < kShape[0]; ++b)
        for (int64_t x = 0; x < kShape[1]; ++x)
          for (int64_t e = 0; e < rowSize; ++e) {
            int64_t index = (b * kShape[1] + x) * rowSize + e;
            if (x >= t) {
              EXPECT_EQ(a.key.data[index], base.key.data[index]);
              EXPECT_EQ(a.value.data[index], base.value.data[index]);
            }
            if (x <= t) {
              EXPECT_EQ(late.query.data[index], base.query.data[index]);
            }
          }
    }
  }
}

TEST(ReferenceGradient, RowsWithNoAllowedKeyAreFiniteAndZero) {
  // Batch 1 has every key padded: no row of it has an output. In batch 0,
  // the attention mask forbids every key of query 2.
  DilatedAttentionConfig config =
      makeConfig({4, 6}, {1, 2}, AttentionMode::LongNet, /*causal=*/true);
  std::vector<int64_t> shape = {2, 6, 2, 3};
  Masks masks;
  masks.keyPaddingMask = BoolTensor::zeros({2, 6});
  for (int64_t y = 0; y < 6; ++y)
    masks.keyPaddingMask->at({1, y}) = 1;
  BoolTensor attn = BoolTensor::zeros({6, 6});
  for (int64_t y = 0; y < 6; ++y)
    attn.at({2, y}) = 1;
  masks.attnMask = attn;
  Tensor q = randomTensor(shape, 1), k = randomTensor(shape, 2),
         v = randomTensor(shape, 3), dO = randomTensor(shape, 4);
  Gradients grads = backward(config, q, k, v, dO, masks);
  for (const Tensor *t : {&grads.query, &grads.key, &grads.value})
    for (double element : t->data)
      EXPECT_TRUE(std::isfinite(element));
  for (int64_t x = 0; x < 6; ++x)
    for (int64_t j = 0; j < 2; ++j)
      for (int64_t d = 0; d < 3; ++d) {
        EXPECT_EQ(grads.query.at({1, x, j, d}), 0.0);
        EXPECT_EQ(grads.key.at({1, x, j, d}), 0.0);
        EXPECT_EQ(grads.value.at({1, x, j, d}), 0.0);
      }
  for (int64_t j = 0; j < 2; ++j)
    for (int64_t d = 0; d < 3; ++d)
      EXPECT_EQ(grads.query.at({0, 2, j, d}), 0.0);
  llvm::Expected<ForwardResult> stats =
      dilatedAttentionWithStatistics(config, q, k, v, masks);
  ASSERT_TRUE(static_cast<bool>(stats)) << llvm::toString(stats.takeError());
  EXPECT_EQ(stats->lse.at({0, 2, 0}), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(stats->lse.at({1, 4, 1}), -std::numeric_limits<double>::infinity());
}

// out[x] = c * sum over the row's keys of exp(s(x, y) - lse[x]) V[y]: the
// saved statistics give back the output, which is what a kernel recomputing
// the softmax from them relies on. Checked through the gradient of V: with
// dO = e_(x, d), dV[y, d] = c * exp(s - lse) summed over the row's copies of
// y, so sum_y dV[y, d] = c exactly when lse is right.
TEST(ReferenceGradient, StatisticsNormaliseEachRow) {
  for (const Case &c : cases()) {
    SCOPED_TRACE(c.name);
    Tensor q = randomTensor(kShape, 31), k = randomTensor(kShape, 32),
           v = randomTensor(kShape, 33);
    llvm::Expected<ForwardResult> stats =
        dilatedAttentionWithStatistics(c.config, q, k, v, c.masks);
    ASSERT_TRUE(static_cast<bool>(stats)) << llvm::toString(stats.takeError());
    llvm::Expected<Tensor> plain = dilatedAttention(c.config, q, k, v, c.masks);
    ASSERT_TRUE(static_cast<bool>(plain));
    EXPECT_EQ(stats->output.data, plain->data);
    double c0 = c.config.mode == AttentionMode::Grouped
                    ? 1.0 / static_cast<double>(c.config.numPatterns())
                    : 1.0;
    // Row (0, x, 1): the lse of a row with an output is finite, and the
    // weights of its keys sum to one.
    for (int64_t x = 0; x < kShape[1]; ++x) {
      Tensor dO = Tensor::zeros(kShape);
      dO.at({0, x, 1, 0}) = 1.0;
      Gradients g = backward(c.config, q, k, v, dO, c.masks);
      double total = 0;
      for (int64_t y = 0; y < kShape[1]; ++y)
        total += g.value.at({0, y, 1, 0});
      double lse = stats->lse.at({0, x, 1});
      if (std::isfinite(lse)) {
        EXPECT_NEAR(total, c0, 1e-12) << "x=" << x;
      } else {
        EXPECT_EQ(total, 0.0) << "x=" << x;
      }
    }
  }
}

TEST(ReferenceGradient, RefusesABadOutputGradient) {
  DilatedAttentionConfig config = makeConfig({4}, {1}, AttentionMode::Grouped);
  Tensor q = randomTensor({1, 4, 1, 2}, 1);
  llvm::Expected<Gradients> grads = dilatedAttentionBackward(
      config, q, q, q, randomTensor({1, 4, 1, 3}, 2), {});
  ASSERT_FALSE(static_cast<bool>(grads));
  EXPECT_EQ(llvm::toString(grads.takeError()),
            "grad_output must have the shape of query (1, 4, 1, 2), got (1, 4, "
            "1, 3)");
}

} // namespace
