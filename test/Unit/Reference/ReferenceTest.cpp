//===- ReferenceTest.cpp - Property tests of the float64 reference --------===//
//
// The reference is the oracle of every kernel test, so it is checked here
// against the properties docs/Contract.md section 1 lists, against hand-derived
// numbers, and against a second, independent statement of the spec written in
// this file (membership tests instead of enumerated selections, one softmax
// over the multiset union of keys instead of a mixture of patterns). Inputs
// are fresh seeded random tensors, never zeros; shapes stay small.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Reference/Reference.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

using namespace dilattn;
using namespace dilattn::reference;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
/// Two double evaluations of the same sums in different orders agree to
/// far better than this on the small shapes used here.
constexpr double kTight = 1e-12;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

DilatedAttentionConfig makeConfig(std::vector<int64_t> segmentLengths,
                                  std::vector<int64_t> dilationRates,
                                  AttentionMode mode = AttentionMode::Grouped,
                                  bool causal = false,
                                  OffsetRule rule = OffsetRule::Cyclic,
                                  std::optional<double> scale = std::nullopt) {
  DilatedAttentionConfig config;
  config.segmentLengths.assign(segmentLengths.begin(), segmentLengths.end());
  config.dilationRates.assign(dilationRates.begin(), dilationRates.end());
  config.mode = mode;
  config.causal = causal;
  config.offsetRule = rule;
  config.scale = scale;
  return config;
}

Tensor makeTensor(std::vector<int64_t> shape, std::vector<double> data) {
  return Tensor{std::move(shape), std::move(data)};
}

/// Runs dilatedAttention and fails the test (returning zeros) on an error.
Tensor runDA(const DilatedAttentionConfig &config, const Tensor &q,
             const Tensor &k, const Tensor &v, const Masks &masks = {}) {
  llvm::Expected<Tensor> out = dilatedAttention(config, q, k, v, masks);
  if (!out) {
    ADD_FAILURE() << "unexpected error: " << llvm::toString(out.takeError());
    return Tensor::zeros(q.shape);
  }
  return std::move(*out);
}

PatternResult runPattern(const DilatedAttentionConfig &config, int64_t pattern,
                         const Tensor &q, const Tensor &k, const Tensor &v,
                         const Masks &masks = {}) {
  llvm::Expected<PatternResult> out =
      patternAttention(config, pattern, q, k, v, masks);
  if (!out) {
    ADD_FAILURE() << "unexpected error: " << llvm::toString(out.takeError());
    std::vector<int64_t> rowShape(q.shape.begin(), q.shape.end() - 1);
    return {Tensor::zeros(q.shape), Tensor::zeros(rowShape),
            BoolTensor::zeros(rowShape)};
  }
  return std::move(*out);
}

/// The message of an expected error; fails the test when there is none.
template <typename T> std::string errorOf(llvm::Expected<T> result) {
  if (result) {
    ADD_FAILURE() << "expected an error, the call succeeded";
    return "";
  }
  return llvm::toString(result.takeError());
}

/// Calls `fn` with every index of `shape`, in row-major order.
void forEachIndex(llvm::ArrayRef<int64_t> shape,
                  llvm::function_ref<void(llvm::ArrayRef<int64_t>)> fn) {
  int64_t count = 1;
  for (int64_t size : shape)
    count *= size;
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t flat = 0; flat < count; ++flat) {
    fn(index);
    for (int64_t dim = static_cast<int64_t>(shape.size()) - 1; dim >= 0;
         --dim) {
      if (++index[dim] < shape[dim])
        break;
      index[dim] = 0;
    }
  }
}

/// Expects identical bits, element by element (causality and independence
/// are exact properties, not approximate ones).
void expectBitwiseEqual(const Tensor &actual, const Tensor &expected,
                        const std::string &what) {
  ASSERT_EQ(actual.shape, expected.shape) << what;
  ASSERT_EQ(actual.data.size(), expected.data.size()) << what;
  for (size_t i = 0; i < actual.data.size(); ++i)
    if (std::memcmp(&actual.data[i], &expected.data[i], sizeof(double)) != 0) {
      ADD_FAILURE() << what << ": element " << i << " is " << actual.data[i]
                    << ", expected " << expected.data[i];
      return;
    }
}

void expectNear(const Tensor &actual, const Tensor &expected, double tolerance,
                const std::string &what) {
  ASSERT_EQ(actual.shape, expected.shape) << what;
  ErrorStats stats = compare(actual, expected);
  EXPECT_LE(stats.maxAbs, tolerance) << what;
}

bool rowIsZero(const Tensor &out, int64_t b, int64_t x, int64_t j) {
  for (int64_t d = 0; d < out.shape[3]; ++d)
    if (out.at({b, x, j, d}) != 0.0)
      return false;
  return true;
}

bool allFinite(const Tensor &tensor) {
  return llvm::all_of(tensor.data, [](double v) { return std::isfinite(v); });
}

/// A float attn_mask: uniform biases in [low, high), each pair forbidden
/// (-inf) with probability `minusInfProbability`.
Tensor randomBiasMask(std::vector<int64_t> shape, uint64_t seed,
                      double minusInfProbability, double low = -2,
                      double high = 2) {
  Tensor mask = randomTensor(shape, seed, low, high);
  BoolTensor forbid = randomBoolTensor(shape, seed + 1, minusInfProbability);
  for (size_t i = 0; i < mask.data.size(); ++i)
    if (forbid.data[i])
      mask.data[i] = -kInf;
  return mask;
}

/// The (B, H, N, N) additive bias that `masks` define (docs/Contract.md section
/// 3), built independently of the reference: every mask expanded to full shape.
Tensor expandedBias(const Masks &masks, int64_t batch, int64_t numHeads,
                    int64_t seqLen) {
  Tensor bias = Tensor::zeros({batch, numHeads, seqLen, seqLen});
  forEachIndex(bias.shape, [&](llvm::ArrayRef<int64_t> index) {
    int64_t b = index[0], j = index[1], x = index[2], y = index[3];
    double value = 0.0;
    if (masks.keyPaddingMask && masks.keyPaddingMask->at({b, y}))
      value = -kInf;
    if (masks.attnMask) {
      std::vector<int64_t> at;
      const std::vector<int64_t> &shape = std::visit(
          [](const auto &m) -> const std::vector<int64_t> & { return m.shape; },
          *masks.attnMask);
      if (shape.size() == 2)
        at = {x, y};
      else if (shape.size() == 3)
        at = {b, x, y};
      else
        at = {b, j, x, y};
      if (const auto *boolMask = std::get_if<BoolTensor>(&*masks.attnMask))
        value += boolMask->at(at) ? -kInf : 0.0;
      else
        value += std::get_if<Tensor>(&*masks.attnMask)->at(at);
    }
    bias.at(index) = value;
  });
  return bias;
}

/// Group of head j in grouped mode, by counting group sizes: floor(H/k),
/// the first H mod k one larger.
int64_t testGroupOf(int64_t numHeads, int64_t numPatterns, int64_t j) {
  int64_t begin = 0;
  for (int64_t g = 0; g < numPatterns; ++g) {
    int64_t size = numHeads / numPatterns + (g < numHeads % numPatterns);
    if (j < begin + size)
      return g;
    begin += size;
  }
  return -1;
}

/// The offset of head j in pattern i, restated from docs/Contract.md section 1.
int64_t testOffset(const DilatedAttentionConfig &config, int64_t numHeads,
                   int64_t i, int64_t j) {
  int64_t r = config.dilationRates[i];
  if (config.mode == AttentionMode::Grouped)
    return i % r;
  if (config.offsetRule == OffsetRule::Cyclic)
    return j % r;
  return j / ((numHeads + r - 1) / r);
}

/// Whether a pattern (w, r) with offset o selects position `pos`, as a
/// membership test: pos - m*w = o + t*r for its segment m.
bool testSelects(int64_t w, int64_t r, int64_t o, int64_t pos) {
  int64_t inSegment = pos % w;
  return inSegment >= o && (inSegment - o) % r == 0;
}

/// docs/Contract.md section 1 restated independently of the reference: for each
/// (b, x, j) gather the multiset of (key, score) over all patterns the head
/// uses that select x, and take one softmax over it. In grouped mode that is
/// the one pattern of the head's group, divided by k; in longnet mode it is
/// the "one softmax over the multiset union" characterisation.
Tensor directDilatedAttention(const DilatedAttentionConfig &config,
                              const Tensor &q, const Tensor &k, const Tensor &v,
                              const Masks &masks = {}) {
  int64_t batch = q.shape[0], seqLen = q.shape[1], numHeads = q.shape[2],
          headDim = q.shape[3];
  int64_t numPatterns = static_cast<int64_t>(config.numPatterns());
  double scale = config.scale ? *config.scale
                              : 1.0 / std::sqrt(static_cast<double>(headDim));
  Tensor bias = expandedBias(masks, batch, numHeads, seqLen);
  Tensor out = Tensor::zeros(q.shape);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t x = 0; x < seqLen; ++x)
      for (int64_t j = 0; j < numHeads; ++j) {
        std::vector<std::pair<int64_t, double>> multiset;
        for (int64_t i = 0; i < numPatterns; ++i) {
          if (config.mode == AttentionMode::Grouped &&
              testGroupOf(numHeads, numPatterns, j) != i)
            continue;
          int64_t w = config.segmentLengths[i], r = config.dilationRates[i];
          int64_t o = testOffset(config, numHeads, i, j);
          if (!testSelects(w, r, o, x))
            continue;
          for (int64_t y = 0; y < seqLen; ++y) {
            if (y / w != x / w || !testSelects(w, r, o, y))
              continue;
            if (config.causal && y > x)
              continue;
            double pairBias = bias.at({b, j, x, y});
            if (pairBias == -kInf)
              continue;
            double score = 0.0;
            for (int64_t d = 0; d < headDim; ++d)
              score += q.at({b, x, j, d}) * k.at({b, y, j, d});
            multiset.push_back({y, scale * score + pairBias});
          }
        }
        if (multiset.empty())
          continue;
        double maxScore = -kInf;
        for (auto &[y, score] : multiset)
          maxScore = std::max(maxScore, score);
        double denominator = 0.0;
        for (auto &[y, score] : multiset)
          denominator += std::exp(score - maxScore);
        double divisor =
            config.mode == AttentionMode::Grouped ? numPatterns : 1.0;
        for (int64_t d = 0; d < headDim; ++d) {
          double numerator = 0.0;
          for (auto &[y, score] : multiset)
            numerator += std::exp(score - maxScore) * v.at({b, y, j, d});
          out.at({b, x, j, d}) = numerator / denominator / divisor;
        }
      }
  return out;
}

/// Plain softmax attention over all keys (y <= x when causal), written
/// directly: the k = 1, w >= N, r = 1 case of the spec.
Tensor plainAttention(const Tensor &q, const Tensor &k, const Tensor &v,
                      bool causal, double scale) {
  int64_t batch = q.shape[0], seqLen = q.shape[1], numHeads = q.shape[2],
          headDim = q.shape[3];
  Tensor out = Tensor::zeros(q.shape);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t j = 0; j < numHeads; ++j)
      for (int64_t x = 0; x < seqLen; ++x) {
        int64_t numKeys = causal ? x + 1 : seqLen;
        std::vector<double> scores(numKeys);
        for (int64_t y = 0; y < numKeys; ++y) {
          scores[y] = 0.0;
          for (int64_t d = 0; d < headDim; ++d)
            scores[y] += q.at({b, x, j, d}) * k.at({b, y, j, d});
          scores[y] *= scale;
        }
        double maxScore = *std::max_element(scores.begin(), scores.end());
        double denominator = 0.0;
        for (double s : scores)
          denominator += std::exp(s - maxScore);
        for (int64_t d = 0; d < headDim; ++d) {
          double numerator = 0.0;
          for (int64_t y = 0; y < numKeys; ++y)
            numerator += std::exp(scores[y] - maxScore) * v.at({b, y, j, d});
          out.at({b, x, j, d}) = numerator / denominator;
        }
      }
  return out;
}

/// Expects head j of batch b of `out` to be attention restricted to each of
/// the listed position sets (one per segment, written out by hand in the
/// tests), divided by `divisor`, and exactly zero at every other position.
void expectHeadIsSubsetAttention(
    const Tensor &out, const Tensor &q, const Tensor &k, const Tensor &v,
    int64_t b, int64_t j, const std::vector<std::vector<int64_t>> &segments,
    bool causal, double scale, double divisor) {
  int64_t seqLen = q.shape[1], headDim = q.shape[3];
  std::vector<bool> covered(seqLen, false);
  for (const std::vector<int64_t> &positions : segments)
    for (int64_t x : positions) {
      covered[x] = true;
      std::vector<double> weights;
      double maxScore = -kInf;
      for (int64_t y : positions) {
        double s = 0.0;
        for (int64_t d = 0; d < headDim; ++d)
          s += q.at({b, x, j, d}) * k.at({b, y, j, d});
        weights.push_back(causal && y > x ? -kInf : scale * s);
        maxScore = std::max(maxScore, weights.back());
      }
      double denominator = 0.0;
      for (double &w : weights) {
        w = std::exp(w - maxScore);
        denominator += w;
      }
      for (int64_t d = 0; d < headDim; ++d) {
        double expected = 0.0;
        for (size_t t = 0; t < positions.size(); ++t)
          expected += weights[t] / denominator * v.at({b, positions[t], j, d});
        EXPECT_NEAR(out.at({b, x, j, d}), expected / divisor, kTight)
            << "b=" << b << " x=" << x << " j=" << j << " d=" << d;
      }
    }
  for (int64_t x = 0; x < seqLen; ++x)
    if (!covered[x]) {
      EXPECT_TRUE(rowIsZero(out, b, x, j))
          << "unselected row b=" << b << " x=" << x << " j=" << j;
    }
}

/// Replaces q/k/v entries at positions > t (all batches, heads) with fresh
/// random values.
void perturbAfter(Tensor &tensor, int64_t t, uint64_t seed) {
  Tensor fresh = randomTensor(tensor.shape, seed);
  forEachIndex(tensor.shape, [&](llvm::ArrayRef<int64_t> index) {
    if (index[1] > t)
      tensor.at(index) = fresh.at(index) * 3.0;
  });
}

/// Slices batch b of a tensor whose first dimension is the batch.
template <typename T> T sliceBatch(const T &tensor, int64_t b) {
  T slice = tensor;
  slice.shape[0] = 1;
  size_t chunk = tensor.data.size() / tensor.shape[0];
  slice.data.assign(tensor.data.begin() + b * chunk,
                    tensor.data.begin() + (b + 1) * chunk);
  return slice;
}

Masks sliceMasks(const Masks &masks, int64_t b) {
  Masks slice;
  if (masks.keyPaddingMask)
    slice.keyPaddingMask = sliceBatch(*masks.keyPaddingMask, b);
  if (masks.attnMask)
    slice.attnMask = std::visit(
        [&](const auto &m) -> AttnMask {
          return m.shape.size() == 2 ? m : sliceBatch(m, b);
        },
        *masks.attnMask);
  return slice;
}

/// A few configurations that exercise different geometry in both modes.
std::vector<DilatedAttentionConfig> sampleConfigs(bool causal) {
  std::vector<DilatedAttentionConfig> configs;
  for (AttentionMode mode : {AttentionMode::Grouped, AttentionMode::LongNet}) {
    configs.push_back(makeConfig({4, 8, 16}, {1, 2, 4}, mode, causal));
    configs.push_back(makeConfig({5, 7}, {2, 3}, mode, causal));
    configs.push_back(makeConfig({6}, {1}, mode, causal));
  }
  configs.push_back(makeConfig({4, 8, 16}, {1, 2, 4}, AttentionMode::LongNet,
                               causal, OffsetRule::Blocked));
  configs.push_back(makeConfig({6, 9}, {3, 2}, AttentionMode::LongNet, causal,
                               OffsetRule::Blocked, 0.7));
  return configs;
}

std::string describe(const DilatedAttentionConfig &config) {
  std::string text = stringifyAttentionMode(config.mode).str() + "/" +
                     stringifyOffsetRule(config.offsetRule).str() +
                     (config.causal ? "/causal" : "") + " w=";
  for (int64_t w : config.segmentLengths)
    text += std::to_string(w) + ",";
  text += " r=";
  for (int64_t r : config.dilationRates)
    text += std::to_string(r) + ",";
  return text;
}

//===----------------------------------------------------------------------===//
// Tensors, random inputs, compare
//===----------------------------------------------------------------------===//

TEST(ReferenceTensor, ZerosFilledAndRowMajorIndexing) {
  Tensor t = Tensor::zeros({2, 3, 4});
  EXPECT_EQ(t.numElements(), 24);
  EXPECT_TRUE(llvm::all_of(t.data, [](double v) { return v == 0.0; }));
  EXPECT_EQ(t.flatIndex({1, 2, 3}), 23);
  EXPECT_EQ(t.flatIndex({1, 0, 2}), 14);
  t.at({1, 0, 2}) = 5.0;
  EXPECT_EQ(t.data[14], 5.0);
  EXPECT_EQ(Tensor::filled({3}, 2.5).data, std::vector<double>(3, 2.5));
  EXPECT_EQ(Tensor::zeros({0, 7}).numElements(), 0);
  BoolTensor m = BoolTensor::zeros({2, 2});
  m.at({1, 0}) = 1;
  EXPECT_EQ(m.data, (std::vector<uint8_t>{0, 0, 1, 0}));
  EXPECT_TRUE(static_cast<const BoolTensor &>(m).at({1, 0}));
}

TEST(ReferenceRandom, DeterministicNonZeroAndInRange) {
  Tensor a = randomTensor({4, 5, 6}, 42, -0.5, 2.0);
  Tensor b = randomTensor({4, 5, 6}, 42, -0.5, 2.0);
  Tensor c = randomTensor({4, 5, 6}, 43, -0.5, 2.0);
  EXPECT_EQ(a.data, b.data);
  EXPECT_NE(a.data, c.data);
  for (double v : a.data) {
    EXPECT_NE(v, 0.0);
    EXPECT_GE(v, -0.5);
    EXPECT_LT(v, 2.0);
  }
  Tensor n = randomNormalTensor({1000}, 7);
  double mean = 0.0;
  for (double v : n.data) {
    EXPECT_NE(v, 0.0);
    EXPECT_TRUE(std::isfinite(v));
    mean += v / 1000.0;
  }
  EXPECT_NEAR(mean, 0.0, 0.15);
  BoolTensor m = randomBoolTensor({1000}, 9, 0.25);
  int64_t count = llvm::count(m.data, 1);
  EXPECT_GT(count, 150);
  EXPECT_LT(count, 350);
}

TEST(ReferenceCompare, KnownValuesAndBrokenInputs) {
  std::vector<double> ref = {3.0, 4.0};
  std::vector<double> out = {3.0, 4.5};
  ErrorStats stats = compare(out, ref);
  EXPECT_DOUBLE_EQ(stats.maxAbs, 0.5);
  EXPECT_DOUBLE_EQ(stats.relative, 0.5 / 5.0);
  std::vector<float> outFloat = {3.0f, 4.5f};
  EXPECT_DOUBLE_EQ(compare(outFloat, ref).relative, 0.1);
  // A NaN, an infinity or a size mismatch can never pass a tolerance.
  std::vector<double> nan = {3.0, std::nan("")};
  EXPECT_EQ(compare(nan, ref).relative, kInf);
  std::vector<double> inf = {3.0, kInf};
  EXPECT_EQ(compare(inf, ref).maxAbs, kInf);
  EXPECT_EQ(compare(std::vector<double>{3.0}, ref).relative, kInf);
  // Zero reference: exact match is 0, anything else +inf.
  std::vector<double> zeros = {0.0, 0.0};
  EXPECT_EQ(compare(zeros, zeros).relative, 0.0);
  EXPECT_EQ(compare(ref, zeros).relative, kInf);
  EXPECT_EQ(compare(Tensor::zeros({2, 1}), Tensor::zeros({1, 2})).maxAbs, kInf);
}

//===----------------------------------------------------------------------===//
// Hand-checked examples
//===----------------------------------------------------------------------===//

// B = H = D = 1, N = 4, one pattern w = 4, r = 2, grouped (offset 0 mod 2 = 0),
// scale 1: the pattern selects positions {0, 2}; 1 and 3 are not selected.
//   Q = [ln 2, 0.7, ln 3, -0.4], K = [1, 0.5, 2, -1.5], V = [3, -2, 6, 9].
//   x = 0: exp(s(0,0)) = e^{ln 2} = 2, exp(s(0,2)) = e^{2 ln 2} = 4
//          out = (2*3 + 4*6) / 6 = 5, lse = ln 6.
//   x = 2: exp(s) = 3 and 9: out = (3*3 + 9*6) / 12 = 63/12 = 5.25,
//          lse = ln 12.
//   Causal: x = 0 keeps only y = 0: out = V[0] = 3, lse = ln 2; x = 2 as
//   before. k = 1, so out = O_0.
TEST(ReferenceHandExample, GroupedDilatedD1) {
  Tensor q =
      makeTensor({1, 4, 1, 1}, {std::log(2.0), 0.7, std::log(3.0), -0.4});
  Tensor k = makeTensor({1, 4, 1, 1}, {1, 0.5, 2, -1.5});
  Tensor v = makeTensor({1, 4, 1, 1}, {3, -2, 6, 9});
  for (bool causal : {false, true}) {
    DilatedAttentionConfig config = makeConfig({4}, {2}, AttentionMode::Grouped,
                                               causal, OffsetRule::Cyclic, 1.0);
    Tensor out = runDA(config, q, k, v);
    EXPECT_NEAR(out.data[0], causal ? 3.0 : 5.0, 1e-14);
    EXPECT_EQ(out.data[1], 0.0);
    EXPECT_NEAR(out.data[2], 5.25, 1e-14);
    EXPECT_EQ(out.data[3], 0.0);
    PatternResult pattern = runPattern(config, 0, q, k, v);
    EXPECT_NEAR(pattern.lse.data[0], std::log(causal ? 2.0 : 6.0), 1e-14);
    EXPECT_NEAR(pattern.lse.data[2], std::log(12.0), 1e-14);
    EXPECT_EQ(pattern.present.data, (std::vector<uint8_t>{1, 0, 1, 0}));
    EXPECT_EQ(pattern.lse.data[1], -kInf);
  }
}

// B = H = D = 1, N = 4, longnet, patterns (w=4, r=1) and (w=4, r=2), head 0
// has offset 0 in both, scale 1. K = [1, 1, 2, 1], V = [3, 1, 6, 2].
// Pattern 0 selects every position, pattern 1 selects {0, 2}; a key selected
// by both counts twice in the union softmax.
//   x = 0, Q = ln 2: exp(s) = [2, 2, 4, 2].
//     O_0 = (6 + 2 + 24 + 4) / 10 = 3.6, lse_0 = ln 10
//     O_1 = (6 + 24) / 6 = 5,            lse_1 = ln 6
//     out = (10 * 3.6 + 6 * 5) / 16 = 66/16 = 4.125
//     (union: keys 0,0,1,2,2,3 weights 2,2,2,4,4,2: 66/16 as well).
//   x = 1, Q = ln 3: only pattern 0; exp(s) = [3, 3, 9, 3], sum 18,
//     out = (9 + 3 + 54 + 6) / 18 = 4.
//   x = 2, Q = ln 5: exp(s) = [5, 5, 25, 5]; pattern 0: 180 / 40,
//     pattern 1: (15 + 150) / 30; out = (180 + 165) / 70 = 69/14.
//   x = 3, Q = ln 7: only pattern 0; exp(s) = [7, 7, 49, 7], sum 70,
//     out = (21 + 7 + 294 + 14) / 70 = 4.8.
TEST(ReferenceHandExample, LongNetTwoPatternsD1) {
  Tensor q = makeTensor({1, 4, 1, 1}, {std::log(2.0), std::log(3.0),
                                       std::log(5.0), std::log(7.0)});
  Tensor k = makeTensor({1, 4, 1, 1}, {1, 1, 2, 1});
  Tensor v = makeTensor({1, 4, 1, 1}, {3, 1, 6, 2});
  DilatedAttentionConfig config = makeConfig(
      {4, 4}, {1, 2}, AttentionMode::LongNet, false, OffsetRule::Cyclic, 1.0);
  Tensor out = runDA(config, q, k, v);
  EXPECT_NEAR(out.data[0], 66.0 / 16.0, 1e-14);
  EXPECT_NEAR(out.data[1], 4.0, 1e-14);
  EXPECT_NEAR(out.data[2], 69.0 / 14.0, 1e-14);
  EXPECT_NEAR(out.data[3], 4.8, 1e-14);
  PatternResult p0 = runPattern(config, 0, q, k, v);
  PatternResult p1 = runPattern(config, 1, q, k, v);
  EXPECT_NEAR(p0.output.data[0], 3.6, 1e-14);
  EXPECT_NEAR(p0.lse.data[0], std::log(10.0), 1e-14);
  EXPECT_NEAR(p1.output.data[0], 5.0, 1e-14);
  EXPECT_NEAR(p1.lse.data[0], std::log(6.0), 1e-14);
  EXPECT_EQ(p1.present.data, (std::vector<uint8_t>{1, 0, 1, 0}));
}

// D = 2 with scale 0: every allowed key gets the same score, so each pattern
// output is the plain mean of its keys' V rows and the longnet mixture is the
// mean over the multiset union. N = 4, patterns (4, 1) and (4, 2), head 0:
//   even x: multiset {0, 0, 1, 2, 2, 3} -> (2 V0 + V1 + 2 V2 + V3) / 6
//   odd x:  only pattern 0              -> (V0 + V1 + V2 + V3) / 4
TEST(ReferenceHandExample, KeySelectedTwiceCountsTwice) {
  Tensor q = randomTensor({1, 4, 1, 2}, 11);
  Tensor k = randomTensor({1, 4, 1, 2}, 12);
  Tensor v = makeTensor({1, 4, 1, 2}, {1, -1, 2, 10, 4, 100, 8, 1000});
  DilatedAttentionConfig config = makeConfig(
      {4, 4}, {1, 2}, AttentionMode::LongNet, false, OffsetRule::Cyclic, 0.0);
  Tensor out = runDA(config, q, k, v);
  double even0 = (2 * 1 + 2 + 2 * 4 + 8) / 6.0;
  double even1 = (2 * -1 + 10 + 2 * 100 + 1000) / 6.0;
  double odd0 = (1 + 2 + 4 + 8) / 4.0;
  double odd1 = (-1 + 10 + 100 + 1000) / 4.0;
  for (int64_t x = 0; x < 4; ++x) {
    EXPECT_NEAR(out.at({0, x, 0, 0}), x % 2 ? odd0 : even0, 1e-13);
    EXPECT_NEAR(out.at({0, x, 0, 1}), x % 2 ? odd1 : even1, 1e-12);
  }
}

//===----------------------------------------------------------------------===//
// docs/Contract.md section 1 properties
//===----------------------------------------------------------------------===//

// k = 1, w >= N, r = 1 is plain (causal) attention in both modes, with the
// default scale 1/sqrt(D) and with an explicit one.
TEST(ReferenceProperty, VanillaEquivalence) {
  int64_t batch = 2, seqLen = 9, numHeads = 3, headDim = 5;
  uint64_t seed = 100;
  for (AttentionMode mode : {AttentionMode::Grouped, AttentionMode::LongNet})
    for (bool causal : {false, true})
      for (int64_t w : {seqLen, seqLen + 7})
        for (std::optional<double> scale :
             {std::optional<double>(), std::optional<double>(0.3)}) {
          Tensor q = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
          Tensor k = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
          Tensor v = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
          DilatedAttentionConfig config =
              makeConfig({w}, {1}, mode, causal, OffsetRule::Cyclic, scale);
          Tensor expected = plainAttention(
              q, k, v, causal, scale ? *scale : 1.0 / std::sqrt(5.0));
          expectNear(runDA(config, q, k, v), expected, kTight,
                     describe(config));
        }
}

// Grouped rows that a head's group does not select are exactly 0.0; the
// selected ones are not (random inputs, each selected row has a key).
// H = 5, k = 2: groups {0, 1, 2} and {3, 4}. Pattern 0 (w=4, r=2) has offset
// 0 mod 2 = 0, pattern 1 (w=8, r=3) offset 1 mod 3 = 1.
TEST(ReferenceProperty, GroupedUnselectedRowsAreExactlyZero) {
  int64_t batch = 2, seqLen = 19, numHeads = 5, headDim = 3;
  for (bool causal : {false, true}) {
    Tensor q = randomTensor({batch, seqLen, numHeads, headDim}, 201 + causal);
    Tensor k = randomTensor({batch, seqLen, numHeads, headDim}, 203 + causal);
    Tensor v = randomTensor({batch, seqLen, numHeads, headDim}, 205 + causal);
    Tensor out = runDA(
        makeConfig({4, 8}, {2, 3}, AttentionMode::Grouped, causal), q, k, v);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t x = 0; x < seqLen; ++x)
        for (int64_t j = 0; j < numHeads; ++j) {
          bool selected =
              j < 3 ? (x % 4) % 2 == 0 : (x % 8) >= 1 && ((x % 8) - 1) % 3 == 0;
          if (selected) {
            EXPECT_FALSE(rowIsZero(out, b, x, j)) << x << " " << j;
            continue;
          }
          for (int64_t d = 0; d < headDim; ++d)
            EXPECT_EQ(out.at({b, x, j, d}), 0.0) << x << " " << j;
        }
  }
}

// The longnet mixture equals one softmax over the multiset union of the
// patterns' keys (directDilatedAttention), with and without masks.
TEST(ReferenceProperty, LongNetEqualsUnionSoftmax) {
  int64_t batch = 2, seqLen = 21, numHeads = 4, headDim = 4;
  uint64_t seed = 300;
  std::vector<DilatedAttentionConfig> configs;
  for (bool causal : {false, true})
    for (OffsetRule rule : {OffsetRule::Cyclic, OffsetRule::Blocked}) {
      configs.push_back(makeConfig({4, 8, 16}, {1, 2, 4},
                                   AttentionMode::LongNet, causal, rule));
      // Identical patterns: every key of a head counts twice.
      configs.push_back(
          makeConfig({6, 6}, {2, 2}, AttentionMode::LongNet, causal, rule));
      configs.push_back(makeConfig({5, 21, 3}, {3, 5, 1},
                                   AttentionMode::LongNet, causal, rule));
    }
  for (const DilatedAttentionConfig &config : configs)
    for (bool withMasks : {false, true}) {
      Tensor q = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      Tensor k = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      Tensor v = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      Masks masks;
      if (withMasks) {
        masks.keyPaddingMask = randomBoolTensor({batch, seqLen}, ++seed, 0.2);
        masks.attnMask =
            randomBiasMask({batch, numHeads, seqLen, seqLen}, ++seed, 0.2);
      }
      expectNear(runDA(config, q, k, v, masks),
                 directDilatedAttention(config, q, k, v, masks), kTight,
                 describe(config));
    }
}

// The longnet output is the lse-weighted mixture of patternAttention's
// results, and grouped output is O_i / k of the group's pattern.
TEST(ReferenceProperty, ModesCombinePatternResults) {
  int64_t batch = 2, seqLen = 13, numHeads = 5, headDim = 3;
  uint64_t seed = 350;
  for (bool causal : {false, true})
    for (AttentionMode mode :
         {AttentionMode::Grouped, AttentionMode::LongNet}) {
      DilatedAttentionConfig config =
          makeConfig({4, 6, 13}, {1, 2, 3}, mode, causal);
      Tensor q = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      Tensor k = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      Tensor v = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      std::vector<PatternResult> patterns;
      for (int64_t i = 0; i < 3; ++i)
        patterns.push_back(runPattern(config, i, q, k, v));
      Tensor expected = Tensor::zeros(q.shape);
      forEachIndex({batch, seqLen, numHeads}, [&](llvm::ArrayRef<int64_t> row) {
        double total = 0.0;
        for (const PatternResult &p : patterns)
          if (p.present.at(row))
            total += std::exp(p.lse.at(row));
        for (const PatternResult &p : patterns) {
          if (!p.present.at(row))
            continue;
          double weight = mode == AttentionMode::Grouped
                              ? 1.0 / 3.0
                              : std::exp(p.lse.at(row)) / total;
          for (int64_t d = 0; d < headDim; ++d)
            expected.at({row[0], row[1], row[2], d}) +=
                weight * p.output.at({row[0], row[1], row[2], d});
        }
      });
      expectNear(runDA(config, q, k, v), expected, kTight, describe(config));
      // In grouped mode a head is present only in its own group's pattern.
      if (mode == AttentionMode::Grouped)
        forEachIndex({batch, seqLen, numHeads},
                     [&](llvm::ArrayRef<int64_t> row) {
                       for (int64_t i = 0; i < 3; ++i)
                         if (patterns[i].present.at(row)) {
                           EXPECT_EQ(testGroupOf(numHeads, 3, row[2]), i);
                         }
                     });
    }
}

// Causal outputs at positions <= t do not depend on inputs (Q, K, V, key
// padding, attn_mask) at positions > t: bitwise identical.
TEST(ReferenceProperty, Causality) {
  int64_t batch = 2, seqLen = 17, numHeads = 4, headDim = 3;
  uint64_t seed = 400;
  for (const DilatedAttentionConfig &config : sampleConfigs(/*causal=*/true)) {
    Tensor q = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
    Tensor k = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
    Tensor v = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
    Masks masks;
    masks.keyPaddingMask = randomBoolTensor({batch, seqLen}, ++seed, 0.2);
    masks.attnMask =
        randomBiasMask({batch, numHeads, seqLen, seqLen}, ++seed, 0.2);
    Tensor out = runDA(config, q, k, v, masks);
    for (int64_t t : {0, 4, 8, 12}) {
      Tensor q2 = q, k2 = k, v2 = v;
      perturbAfter(q2, t, ++seed);
      perturbAfter(k2, t, ++seed);
      perturbAfter(v2, t, ++seed);
      Masks masks2 = masks;
      BoolTensor flip = randomBoolTensor({batch, seqLen}, ++seed, 0.5);
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t y = t + 1; y < seqLen; ++y)
          masks2.keyPaddingMask->at({b, y}) = flip.at({b, y});
      Tensor &bias = std::get<Tensor>(*masks2.attnMask);
      Tensor freshBias = randomBiasMask(bias.shape, ++seed, 0.3);
      forEachIndex(bias.shape, [&](llvm::ArrayRef<int64_t> index) {
        if (index[2] > t || index[3] > t)
          bias.at(index) = freshBias.at(index);
      });
      Tensor out2 = runDA(config, q2, k2, v2, masks2);
      bool laterChanged = false;
      forEachIndex(out.shape, [&](llvm::ArrayRef<int64_t> index) {
        if (index[1] > t) {
          laterChanged |= out.at(index) != out2.at(index);
          return;
        }
        ASSERT_EQ(std::memcmp(&out.at(index), &out2.at(index), sizeof(double)),
                  0)
            << describe(config) << " t=" << t << " x=" << index[1];
      });
      // The perturbation is real: later positions do change.
      EXPECT_TRUE(laterChanged) << describe(config) << " t=" << t;
    }
  }
}

// Each batch is computed on its own: running a batch alone (with its masks)
// gives bitwise the same rows.
TEST(ReferenceProperty, BatchIndependence) {
  int64_t batch = 3, seqLen = 12, numHeads = 3, headDim = 2;
  uint64_t seed = 500;
  for (bool causal : {false, true})
    for (const DilatedAttentionConfig &config : sampleConfigs(causal))
      for (int maskRank : {0, 2, 3, 4}) {
        Tensor q = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
        Tensor k = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
        Tensor v = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
        Masks masks;
        if (maskRank) {
          masks.keyPaddingMask = randomBoolTensor({batch, seqLen}, ++seed, 0.2);
          std::vector<int64_t> shape = {batch, numHeads, seqLen, seqLen};
          shape.erase(shape.begin(), shape.begin() + (4 - maskRank));
          if (maskRank == 3)
            shape[0] = batch;
          masks.attnMask = randomBoolTensor(shape, ++seed, 0.3);
        }
        Tensor out = runDA(config, q, k, v, masks);
        for (int64_t b = 0; b < batch; ++b)
          expectBitwiseEqual(runDA(config, sliceBatch(q, b), sliceBatch(k, b),
                                   sliceBatch(v, b), sliceMasks(masks, b)),
                             sliceBatch(out, b),
                             describe(config) + " batch " + std::to_string(b));
      }
}

// Grouped: perturbing the inputs (and per-head mask) of one head group
// leaves every other group's output bitwise unchanged. In longnet every head
// is its own unit in the same sense.
TEST(ReferenceProperty, HeadGroupIndependence) {
  int64_t batch = 2, seqLen = 14, numHeads = 7, headDim = 3;
  uint64_t seed = 600;
  for (bool causal : {false, true})
    for (AttentionMode mode :
         {AttentionMode::Grouped, AttentionMode::LongNet}) {
      DilatedAttentionConfig config =
          makeConfig({4, 7, 14}, {1, 2, 3}, mode, causal);
      Tensor q = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      Tensor k = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      Tensor v = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      Masks masks;
      masks.attnMask =
          randomBiasMask({batch, numHeads, seqLen, seqLen}, ++seed, 0.2);
      Tensor out = runDA(config, q, k, v, masks);
      // Grouped H = 7, k = 3: groups {0, 1, 2}, {3, 4}, {5, 6}.
      std::vector<std::vector<int64_t>> units;
      if (mode == AttentionMode::Grouped)
        units = {{0, 1, 2}, {3, 4}, {5, 6}};
      else
        for (int64_t j = 0; j < numHeads; ++j)
          units.push_back({j});
      for (const std::vector<int64_t> &unit : units) {
        auto inUnit = [&](int64_t j) { return llvm::is_contained(unit, j); };
        Tensor q2 = q, k2 = k, v2 = v;
        Masks masks2 = masks;
        Tensor fresh = randomTensor(q.shape, ++seed, -3, 3);
        Tensor freshBias = randomBiasMask(
            std::get<Tensor>(*masks.attnMask).shape, ++seed, 0.3);
        forEachIndex(q.shape, [&](llvm::ArrayRef<int64_t> index) {
          if (inUnit(index[2])) {
            q2.at(index) = fresh.at(index);
            k2.at(index) = -fresh.at(index) * 0.5;
            v2.at(index) = fresh.at(index) + 1.0;
          }
        });
        Tensor &bias = std::get<Tensor>(*masks2.attnMask);
        forEachIndex(bias.shape, [&](llvm::ArrayRef<int64_t> index) {
          if (inUnit(index[1]))
            bias.at(index) = freshBias.at(index);
        });
        Tensor out2 = runDA(config, q2, k2, v2, masks2);
        bool unitChanged = false;
        forEachIndex(out.shape, [&](llvm::ArrayRef<int64_t> index) {
          if (inUnit(index[2])) {
            unitChanged |= out.at(index) != out2.at(index);
            return;
          }
          ASSERT_EQ(
              std::memcmp(&out.at(index), &out2.at(index), sizeof(double)), 0)
              << describe(config) << " head " << index[2];
        });
        EXPECT_TRUE(unitChanged) << describe(config);
      }
    }
}

// Every output row is a convex combination of V rows (times 1/k in grouped):
// per coordinate it lies within [min, max] of V over the sequence.
TEST(ReferenceProperty, ConvexCombination) {
  int64_t batch = 2, seqLen = 16, numHeads = 4, headDim = 5;
  uint64_t seed = 700;
  for (bool causal : {false, true})
    for (const DilatedAttentionConfig &config : sampleConfigs(causal)) {
      Tensor q =
          randomTensor({batch, seqLen, numHeads, headDim}, ++seed, -2, 2);
      Tensor k =
          randomTensor({batch, seqLen, numHeads, headDim}, ++seed, -2, 2);
      Tensor v =
          randomTensor({batch, seqLen, numHeads, headDim}, ++seed, 0.5, 3.0);
      Masks masks;
      masks.keyPaddingMask = randomBoolTensor({batch, seqLen}, ++seed, 0.2);
      masks.attnMask = randomBiasMask({seqLen, seqLen}, ++seed, 0.2, -3, 3);
      Tensor out = runDA(config, q, k, v, masks);
      double factor = config.mode == AttentionMode::Grouped
                          ? static_cast<double>(config.numPatterns())
                          : 1.0;
      int64_t nonZeroRows = 0;
      forEachIndex({batch, seqLen, numHeads}, [&](llvm::ArrayRef<int64_t> row) {
        int64_t b = row[0], x = row[1], j = row[2];
        if (rowIsZero(out, b, x, j))
          return;
        ++nonZeroRows;
        for (int64_t d = 0; d < headDim; ++d) {
          double low = kInf, high = -kInf;
          for (int64_t y = 0; y < seqLen; ++y) {
            low = std::min(low, v.at({b, y, j, d}));
            high = std::max(high, v.at({b, y, j, d}));
          }
          double scaled = out.at({b, x, j, d}) * factor;
          EXPECT_GE(scaled, low - kTight) << describe(config);
          EXPECT_LE(scaled, high + kTight) << describe(config);
        }
      });
      EXPECT_GT(nonZeroRows, 0) << describe(config);
    }
}

// With V constant c every row with an output is c (c/k in grouped); without
// masks and non-causal those are exactly the selected rows.
TEST(ReferenceProperty, ConstantValues) {
  int64_t batch = 2, seqLen = 15, numHeads = 5, headDim = 3;
  uint64_t seed = 800;
  const double c = 1.75;
  for (const DilatedAttentionConfig &config : sampleConfigs(false)) {
    Tensor q = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
    Tensor k = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
    Tensor v = Tensor::filled({batch, seqLen, numHeads, headDim}, c);
    Tensor out = runDA(config, q, k, v);
    int64_t numPatterns = static_cast<int64_t>(config.numPatterns());
    bool grouped = config.mode == AttentionMode::Grouped;
    forEachIndex({batch, seqLen, numHeads}, [&](llvm::ArrayRef<int64_t> row) {
      int64_t x = row[1], j = row[2];
      bool selected = false;
      for (int64_t i = 0; i < numPatterns; ++i)
        if ((!grouped || testGroupOf(numHeads, numPatterns, j) == i) &&
            testSelects(config.segmentLengths[i], config.dilationRates[i],
                        testOffset(config, numHeads, i, j), x))
          selected = true;
      double expected = selected ? (grouped ? c / numPatterns : c) : 0.0;
      for (int64_t d = 0; d < headDim; ++d)
        EXPECT_NEAR(out.at({row[0], x, j, d}), expected, 1e-14)
            << describe(config) << " x=" << x << " j=" << j;
    });
  }
}

// Rows with no allowed key give exactly 0, never NaN: every key padded, an
// attn_mask row all true, a float mask row all -inf, one head's row only.
TEST(ReferenceProperty, FullyMaskedRowsAreZero) {
  int64_t batch = 2, seqLen = 10, numHeads = 3, headDim = 4;
  uint64_t seed = 900;
  for (bool causal : {false, true})
    for (const DilatedAttentionConfig &config : sampleConfigs(causal)) {
      Tensor q = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      Tensor k = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      Tensor v = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);

      // Batch 1 fully padded: all of batch 1 is 0, batch 0 is not.
      Masks padded;
      padded.keyPaddingMask = BoolTensor::zeros({batch, seqLen});
      for (int64_t y = 0; y < seqLen; ++y)
        padded.keyPaddingMask->at({1, y}) = 1;
      Tensor out = runDA(config, q, k, v, padded);
      EXPECT_TRUE(allFinite(out));
      forEachIndex({seqLen, numHeads}, [&](llvm::ArrayRef<int64_t> row) {
        EXPECT_TRUE(rowIsZero(out, 1, row[0], row[1]));
      });
      EXPECT_FALSE(llvm::all_of(sliceBatch(out, 0).data,
                                [](double x) { return x == 0.0; }));

      // Row 3 forbidden by a boolean (N, N) mask and row 6 by a float one.
      BoolTensor boolMask = BoolTensor::zeros({seqLen, seqLen});
      Tensor floatMask = randomTensor({seqLen, seqLen}, ++seed);
      for (int64_t y = 0; y < seqLen; ++y) {
        boolMask.at({3, y}) = 1;
        floatMask.at({6, y}) = -kInf;
      }
      for (const AttnMask &mask : {AttnMask(boolMask), AttnMask(floatMask)}) {
        Masks masks;
        masks.attnMask = mask;
        Tensor masked = runDA(config, q, k, v, masks);
        EXPECT_TRUE(allFinite(masked));
        int64_t row = std::holds_alternative<BoolTensor>(mask) ? 3 : 6;
        for (int64_t b = 0; b < batch; ++b)
          for (int64_t j = 0; j < numHeads; ++j)
            EXPECT_TRUE(rowIsZero(masked, b, row, j)) << describe(config);
      }

      // (B, H, N, N): only head 1 of batch 0 loses row 5.
      BoolTensor perHead = BoolTensor::zeros({batch, numHeads, seqLen, seqLen});
      for (int64_t y = 0; y < seqLen; ++y)
        perHead.at({0, 1, 5, y}) = 1;
      Masks masks;
      masks.attnMask = perHead;
      Tensor masked = runDA(config, q, k, v, masks);
      Tensor unmasked = runDA(config, q, k, v);
      EXPECT_TRUE(rowIsZero(masked, 0, 5, 1));
      forEachIndex(masked.shape, [&](llvm::ArrayRef<int64_t> index) {
        if (index[0] == 0 && index[1] == 5 && index[2] == 1)
          return;
        EXPECT_EQ(masked.at(index), unmasked.at(index));
      });

      // patternAttention marks such rows absent, with lse -inf.
      PatternResult p = runPattern(config, 0, q, k, v, padded);
      for (int64_t x = 0; x < seqLen; ++x)
        for (int64_t j = 0; j < numHeads; ++j) {
          EXPECT_FALSE(p.present.at({1, x, j}));
          EXPECT_EQ(p.lse.at({1, x, j}), -kInf);
        }
    }
}

// Scores up to 1e4 in size (positive and negative, so naive exp would
// overflow or underflow to 0/0), alone and mixed with -inf and +-1e4 biases:
// finite, convex, and still the union softmax.
TEST(ReferenceProperty, ExtremeScores) {
  int64_t batch = 2, seqLen = 16, numHeads = 4, headDim = 4;
  uint64_t seed = 1000;
  for (bool causal : {false, true})
    for (const DilatedAttentionConfig &sample : sampleConfigs(causal)) {
      DilatedAttentionConfig config = sample;
      config.scale = 1.0;
      // |q . k| <= 4 * 50 * 50 = 1e4.
      Tensor q =
          randomTensor({batch, seqLen, numHeads, headDim}, ++seed, -50, 50);
      Tensor k =
          randomTensor({batch, seqLen, numHeads, headDim}, ++seed, -50, 50);
      Tensor v = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      // Batch 1, head 0: every score exactly -1e4 (q = 50, k = -50), the
      // case where exp without max-subtraction gives 0/0.
      for (int64_t x = 0; x < seqLen; ++x)
        for (int64_t d = 0; d < headDim; ++d) {
          q.at({1, x, 0, d}) = 50;
          k.at({1, x, 0, d}) = -50;
        }
      for (bool withMask : {false, true}) {
        Masks masks;
        if (withMask)
          masks.attnMask = randomBiasMask({batch, numHeads, seqLen, seqLen},
                                          ++seed, 0.3, -1e4, 1e4);
        Tensor out = runDA(config, q, k, v, masks);
        ASSERT_TRUE(allFinite(out)) << describe(config);
        double factor = config.mode == AttentionMode::Grouped
                            ? static_cast<double>(config.numPatterns())
                            : 1.0;
        for (size_t i = 0; i < out.data.size(); ++i)
          EXPECT_LE(std::abs(out.data[i]) * factor, 1.0 + kTight);
        // Scores ~1e4 carry rounding of ~1e-12 into the exponents.
        expectNear(out, directDilatedAttention(config, q, k, v, masks), 1e-9,
                   describe(config));
        // Equal scores on batch 1 head 0: each row is a plain mean of V.
        if (!withMask && config.numPatterns() == 1 &&
            config.dilationRates[0] == 1 && !causal) {
          int64_t w = config.segmentLengths[0];
          for (int64_t x = 0; x < seqLen; ++x) {
            int64_t begin = x / w * w, end = std::min(begin + w, seqLen);
            double mean = 0.0;
            for (int64_t y = begin; y < end; ++y)
              mean += v.at({1, y, 0, 0}) / static_cast<double>(end - begin);
            EXPECT_NEAR(out.at({1, x, 0, 0}), mean, 1e-14);
          }
        }
      }
    }
}

//===----------------------------------------------------------------------===//
// Geometry: offsets, segments, groups
//===----------------------------------------------------------------------===//

// Longnet offsets for H = 4, one pattern (w = 8, r = 3), N = 8:
//   cyclic  j mod 3           = [0, 1, 2, 0]
//   blocked j / ceil(4/3) = j/2 = [0, 0, 1, 1]
// Offset 0 selects {0, 3, 6}, 1 selects {1, 4, 7}, 2 selects {2, 5}.
TEST(ReferenceGeometry, LongNetOffsetRules) {
  int64_t batch = 2, seqLen = 8, numHeads = 4, headDim = 3;
  std::vector<std::vector<int64_t>> byOffset = {{0, 3, 6}, {1, 4, 7}, {2, 5}};
  struct Case {
    OffsetRule rule;
    std::vector<int64_t> offsets;
  };
  uint64_t seed = 1100;
  for (const Case &c : {Case{OffsetRule::Cyclic, {0, 1, 2, 0}},
                        Case{OffsetRule::Blocked, {0, 0, 1, 1}}})
    for (bool causal : {false, true}) {
      DilatedAttentionConfig config =
          makeConfig({8}, {3}, AttentionMode::LongNet, causal, c.rule);
      for (int64_t j = 0; j < numHeads; ++j)
        EXPECT_EQ(patternOffset(config, numHeads, 0, j), c.offsets[j]);
      Tensor q = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      Tensor k = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      Tensor v = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      Tensor out = runDA(config, q, k, v);
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t j = 0; j < numHeads; ++j)
          expectHeadIsSubsetAttention(out, q, k, v, b, j,
                                      {byOffset[c.offsets[j]]}, causal,
                                      1.0 / std::sqrt(3.0), 1.0);
    }
  // Two patterns, H = 6: (w = 6, r = 2) and (w = 12, r = 4).
  //   cyclic:  p0 j mod 2 = [0,1,0,1,0,1], p1 j mod 4 = [0,1,2,3,0,1]
  //   blocked: p0 j / 3   = [0,0,0,1,1,1], p1 j / 2   = [0,0,1,1,2,2]
  // Checked through patternAttention's present flags with N = 12.
  struct TwoCase {
    OffsetRule rule;
    std::vector<int64_t> offsets0, offsets1;
  };
  for (const TwoCase &c :
       {TwoCase{OffsetRule::Cyclic, {0, 1, 0, 1, 0, 1}, {0, 1, 2, 3, 0, 1}},
        TwoCase{OffsetRule::Blocked, {0, 0, 0, 1, 1, 1}, {0, 0, 1, 1, 2, 2}}}) {
    DilatedAttentionConfig config =
        makeConfig({6, 12}, {2, 4}, AttentionMode::LongNet, false, c.rule);
    Tensor q = randomTensor({1, 12, 6, 2}, ++seed);
    Tensor k = randomTensor({1, 12, 6, 2}, ++seed);
    Tensor v = randomTensor({1, 12, 6, 2}, ++seed);
    PatternResult p0 = runPattern(config, 0, q, k, v);
    PatternResult p1 = runPattern(config, 1, q, k, v);
    for (int64_t j = 0; j < 6; ++j)
      for (int64_t x = 0; x < 12; ++x) {
        EXPECT_EQ(p0.present.at({0, x, j}) != 0,
                  (x % 6) % 2 == c.offsets0[j] % 2 && (x % 6) >= c.offsets0[j])
            << "p0 j=" << j << " x=" << x;
        EXPECT_EQ(p1.present.at({0, x, j}) != 0,
                  x % 4 == c.offsets1[j] && x >= c.offsets1[j])
            << "p1 j=" << j << " x=" << x;
      }
  }
}

// Grouped offsets are i mod r_i, for every head of group i. H = 3, k = 3,
// w = 8 each, r = [2, 2, 4]: offsets [0, 1, 2]; head 0 selects {0,2,4,6},
// head 1 {1,3,5,7}, head 2 {2,6}. Output = that attention / 3.
TEST(ReferenceGeometry, GroupedOffsets) {
  DilatedAttentionConfig config =
      makeConfig({8, 8, 8}, {2, 2, 4}, AttentionMode::Grouped);
  EXPECT_EQ(patternOffset(config, 3, 0, 0), 0);
  EXPECT_EQ(patternOffset(config, 3, 1, 1), 1);
  EXPECT_EQ(patternOffset(config, 3, 2, 2), 2);
  Tensor q = randomTensor({2, 8, 3, 4}, 1201);
  Tensor k = randomTensor({2, 8, 3, 4}, 1202);
  Tensor v = randomTensor({2, 8, 3, 4}, 1203);
  Tensor out = runDA(config, q, k, v);
  std::vector<std::vector<int64_t>> positions = {
      {0, 2, 4, 6}, {1, 3, 5, 7}, {2, 6}};
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t j = 0; j < 3; ++j)
      expectHeadIsSubsetAttention(out, q, k, v, b, j, {positions[j]}, false,
                                  0.5, 3.0);
}

// N not a multiple of w: segments [0,4), [4,8), [8,N). One longnet pattern
// (w = 4, r = 3), H = 3, cyclic offsets [0, 1, 2].
//   N = 10: offset 0: {0,3} {4,7} {8}; offset 1: {1} {5} {9};
//           offset 2: {2} {6} {} (8 + 2 = 10 is past the short segment).
//   N = 9:  offset 1: {1} {5} {} (8 + 1 = 9 is at the segment's end);
//           offset 2: {2} {6} {}.
TEST(ReferenceGeometry, ShortLastSegmentAndOffsetPastEnd) {
  struct Case {
    int64_t seqLen;
    std::vector<std::vector<std::vector<int64_t>>> byHead;
  };
  uint64_t seed = 1300;
  for (const Case &c :
       {Case{10, {{{0, 3}, {4, 7}, {8}}, {{1}, {5}, {9}}, {{2}, {6}}}},
        Case{9, {{{0, 3}, {4, 7}, {8}}, {{1}, {5}}, {{2}, {6}}}}})
    for (bool causal : {false, true}) {
      DilatedAttentionConfig config =
          makeConfig({4}, {3}, AttentionMode::LongNet, causal);
      Tensor q = randomTensor({2, c.seqLen, 3, 2}, ++seed);
      Tensor k = randomTensor({2, c.seqLen, 3, 2}, ++seed);
      Tensor v = randomTensor({2, c.seqLen, 3, 2}, ++seed);
      Tensor out = runDA(config, q, k, v);
      for (int64_t b = 0; b < 2; ++b)
        for (int64_t j = 0; j < 3; ++j)
          expectHeadIsSubsetAttention(out, q, k, v, b, j, c.byHead[j], causal,
                                      1.0 / std::sqrt(2.0), 1.0);
      PatternResult p = runPattern(config, 0, q, k, v);
      EXPECT_FALSE(p.present.at({0, 8, 2}));
      EXPECT_TRUE(p.present.at({0, 8, 0}));
      EXPECT_EQ(p.present.at({0, c.seqLen - 1, 1}) != 0, c.seqLen == 10);
    }
}

// w > N gives one segment: w = 100, N = 7, r = 2, grouped offset 0 selects
// {0, 2, 4, 6}; and r > w selects only the offset position of each segment.
TEST(ReferenceGeometry, SegmentLongerThanSequenceAndRateLongerThanSegment) {
  Tensor q = randomTensor({1, 7, 2, 3}, 1401);
  Tensor k = randomTensor({1, 7, 2, 3}, 1402);
  Tensor v = randomTensor({1, 7, 2, 3}, 1403);
  for (bool causal : {false, true}) {
    Tensor out =
        runDA(makeConfig({100}, {2}, AttentionMode::Grouped, causal), q, k, v);
    for (int64_t j = 0; j < 2; ++j)
      expectHeadIsSubsetAttention(out, q, k, v, 0, j, {{0, 2, 4, 6}}, causal,
                                  1.0 / std::sqrt(3.0), 1.0);
  }
  // w = 3, r = 5, longnet cyclic H = 2: head 0 offset 0 -> {0} {3} {6};
  // head 1 offset 1 -> {1} {4} {} (the last segment [6, 7) is too short).
  Tensor out = runDA(makeConfig({3}, {5}, AttentionMode::LongNet), q, k, v);
  expectHeadIsSubsetAttention(out, q, k, v, 0, 0, {{0}, {3}, {6}}, false, 1.0,
                              1.0);
  expectHeadIsSubsetAttention(out, q, k, v, 0, 1, {{1}, {4}}, false, 1.0, 1.0);
}

// H not a multiple of k: H = 5, k = 3 gives groups {0, 1}, {2, 3}, {4}.
// Patterns (4, 1), (6, 2), (7, 3) with offsets 0, 1, 2; N = 14:
//   group 0: {0..3} {4..7} {8..11} {12, 13}
//   group 1: {1, 3, 5} {7, 9, 11} {13}
//   group 2: {2, 5} {9, 12}
TEST(ReferenceGeometry, UnevenGroups) {
  DilatedAttentionConfig config =
      makeConfig({4, 6, 7}, {1, 2, 3}, AttentionMode::Grouped);
  EXPECT_EQ(groupHeads(5, 3, 0).begin, 0);
  EXPECT_EQ(groupHeads(5, 3, 0).end, 2);
  EXPECT_EQ(groupHeads(5, 3, 1).end, 4);
  EXPECT_EQ(groupHeads(5, 3, 2).begin, 4);
  EXPECT_EQ(groupHeads(5, 3, 2).end, 5);
  std::vector<std::vector<std::vector<int64_t>>> byGroup = {
      {{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}, {12, 13}},
      {{1, 3, 5}, {7, 9, 11}, {13}},
      {{2, 5}, {9, 12}}};
  std::vector<int64_t> groupOf = {0, 0, 1, 1, 2};
  Tensor q = randomTensor({2, 14, 5, 3}, 1501);
  Tensor k = randomTensor({2, 14, 5, 3}, 1502);
  Tensor v = randomTensor({2, 14, 5, 3}, 1503);
  for (bool causal : {false, true}) {
    config.causal = causal;
    Tensor out = runDA(config, q, k, v);
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t j = 0; j < 5; ++j)
        expectHeadIsSubsetAttention(out, q, k, v, b, j, byGroup[groupOf[j]],
                                    causal, 1.0 / std::sqrt(3.0), 3.0);
  }
}

// Odd head dims and random geometry, masks and modes, against the direct
// restatement of the spec in this file.
TEST(ReferenceGeometry, RandomConfigsMatchDirectDefinition) {
  std::mt19937_64 rng(1600);
  auto pick = [&](int64_t low, int64_t high) {
    return low +
           static_cast<int64_t>(rng() % static_cast<uint64_t>(high - low + 1));
  };
  uint64_t seed = 1600;
  for (int iteration = 0; iteration < 150; ++iteration) {
    int64_t numPatterns = pick(1, 3);
    int64_t seqLen = pick(1, 20), batch = pick(1, 2);
    int64_t numHeads = pick(numPatterns, numPatterns + 3);
    int64_t headDim = pick(1, 4) * 2 - 1; // Odd: 1, 3, 5, 7.
    std::vector<int64_t> w, r;
    for (int64_t i = 0; i < numPatterns; ++i) {
      w.push_back(pick(1, seqLen + 3));
      r.push_back(pick(1, w.back() + 1));
    }
    DilatedAttentionConfig config = makeConfig(
        w, r, pick(0, 1) ? AttentionMode::LongNet : AttentionMode::Grouped,
        pick(0, 1), pick(0, 1) ? OffsetRule::Blocked : OffsetRule::Cyclic);
    if (pick(0, 2) == 0)
      config.scale = 0.25 * static_cast<double>(pick(1, 8));
    std::vector<int64_t> shape = {batch, seqLen, numHeads, headDim};
    Tensor q = randomTensor(shape, ++seed), k = randomTensor(shape, ++seed),
           v = randomTensor(shape, ++seed);
    Masks masks;
    if (pick(0, 1))
      masks.keyPaddingMask = randomBoolTensor({batch, seqLen}, ++seed, 0.2);
    int64_t maskRank = pick(1, 4); // 1 means none.
    if (maskRank > 1) {
      std::vector<int64_t> maskShape = {batch, numHeads, seqLen, seqLen};
      maskShape.erase(maskShape.begin(), maskShape.begin() + (4 - maskRank));
      if (maskRank == 3)
        maskShape[0] = batch;
      if (pick(0, 1))
        masks.attnMask = randomBoolTensor(maskShape, ++seed, 0.25);
      else
        masks.attnMask = randomBiasMask(maskShape, ++seed, 0.25);
    }
    expectNear(runDA(config, q, k, v, masks),
               directDilatedAttention(config, q, k, v, masks), kTight,
               describe(config) + " N=" + std::to_string(seqLen) + " H=" +
                   std::to_string(numHeads) + " D=" + std::to_string(headDim));
  }
}

// B = 0 or N = 0 is allowed and gives an empty output of the right shape.
TEST(ReferenceGeometry, EmptyBatchOrSequence) {
  for (std::vector<int64_t> shape :
       {std::vector<int64_t>{0, 8, 2, 4}, std::vector<int64_t>{2, 0, 2, 4}}) {
    Tensor q = Tensor::zeros(shape);
    for (AttentionMode mode :
         {AttentionMode::Grouped, AttentionMode::LongNet}) {
      Masks masks;
      masks.keyPaddingMask = BoolTensor::zeros({shape[0], shape[1]});
      Tensor out =
          runDA(makeConfig({4, 8}, {1, 2}, mode, true), q, q, q, masks);
      EXPECT_EQ(out.shape, shape);
      EXPECT_EQ(out.numElements(), 0);
    }
  }
}

//===----------------------------------------------------------------------===//
// docs/Contract.md section 3: masks
//===----------------------------------------------------------------------===//

// B = H = D = 1, N = 4, one pattern (4, 1), scale 1, K = 1 everywhere: the
// score is Q[x] + bias(x, y) and Q[x] cancels in the softmax, so each row's
// weights are exp(bias) over its allowed keys. V = [2, 3, 5, 7].
// Float mask F (rows = queries):
//   row 0 [0, ln2, -inf, ln3]: weights 1, 2, -, 3 -> (2 + 6 + 21)/6 = 29/6
//   row 1 all -inf                                -> 0
//   row 2 all 0                                   -> 17/4
//   row 3 [-inf, ln3, 0, -inf]: 3, 1              -> (9 + 5)/4 = 3.5
// With key padding [F, F, T, F]: row 2 -> (2 + 3 + 7)/3 = 4, row 3 -> 3.
// Causal: row 0 -> 2, row 2 -> 10/3, row 3 -> 3.5; causal and padding:
// row 2 -> 2.5, row 3 -> 3.
class ReferenceMasksHand : public ::testing::Test {
protected:
  Tensor q = randomTensor({1, 4, 1, 1}, 1701);
  Tensor k = Tensor::filled({1, 4, 1, 1}, 1.0);
  Tensor v = makeTensor({1, 4, 1, 1}, {2, 3, 5, 7});
  DilatedAttentionConfig config = makeConfig({4}, {1}, AttentionMode::Grouped,
                                             false, OffsetRule::Cyclic, 1.0);

  void expectRows(const Masks &masks, bool causal,
                  std::vector<double> expected) {
    config.causal = causal;
    Tensor out = runDA(config, q, k, v, masks);
    ASSERT_EQ(out.data.size(), 4u);
    for (int64_t x = 0; x < 4; ++x) {
      if (expected[x] == 0.0)
        EXPECT_EQ(out.data[x], 0.0) << "row " << x;
      else
        EXPECT_NEAR(out.data[x], expected[x], 1e-14) << "row " << x;
    }
  }
};

TEST_F(ReferenceMasksHand, FloatMaskAndPadding) {
  double ln2 = std::log(2.0), ln3 = std::log(3.0);
  Masks masks;
  masks.attnMask = makeTensor({4, 4}, {0, ln2, -kInf, ln3,         //
                                       -kInf, -kInf, -kInf, -kInf, //
                                       0, 0, 0, 0,                 //
                                       -kInf, ln3, 0, -kInf});
  expectRows(masks, false, {29.0 / 6, 0, 17.0 / 4, 3.5});
  expectRows(masks, true, {2, 0, 10.0 / 3, 3.5});
  masks.keyPaddingMask = BoolTensor{{1, 4}, {0, 0, 1, 0}};
  expectRows(masks, false, {29.0 / 6, 0, 4, 3});
  expectRows(masks, true, {2, 0, 2.5, 3});
}

// Boolean mask M (true = may not attend):
//   row 0 [F, T, T, F] -> keys 0, 3 -> 4.5
//   row 1 [T, F, T, T] -> key 1     -> 3
//   row 2 all T                     -> 0
//   row 3 all F                     -> 17/4
// With key padding [T, F, F, F]: row 0 -> 7, row 1 -> 3, row 3 -> 5.
// Causal: row 0 -> 2, row 1 -> 3, row 3 -> 17/4.
TEST_F(ReferenceMasksHand, BoolMaskAndPadding) {
  Masks masks;
  masks.attnMask = BoolTensor{{4, 4},
                              {0, 1, 1, 0, //
                               1, 0, 1, 1, //
                               1, 1, 1, 1, //
                               0, 0, 0, 0}};
  expectRows(masks, false, {4.5, 3, 0, 17.0 / 4});
  expectRows(masks, true, {2, 3, 0, 17.0 / 4});
  masks.keyPaddingMask = BoolTensor{{1, 4}, {1, 0, 0, 0}};
  expectRows(masks, false, {7, 3, 0, 5});
  // Causal and padding: row 0 has no key left.
  expectRows(masks, true, {0, 3, 0, 5});
}

// The (B, N, N) and (B, H, N, N) shapes by hand, with the setting above (K =
// 1, scale 1, so weights are exp(bias)) for B = 2, H = 2 and
//   V head 0 = [2, 3, 5, 7]: F gives {29/6, 0, 17/4, 3.5}, zeros give 17/4;
//   V head 1 = [1, 2, 4, 8]: F gives row 0 (1 + 4 + 24)/6 = 29/6, row 1 0,
//     row 2 15/4, row 3 (3*2 + 4)/4 = 2.5; zeros give 15/4.
// (B, H, N, N) = [[F, 0], [0, F]]; (B, N, N) = [F, 0] (both heads alike).
TEST(ReferenceMasks, HandCheckedBatchAndHeadShapes) {
  double ln2 = std::log(2.0), ln3 = std::log(3.0);
  std::vector<double> f = {0, ln2, -kInf, ln3, -kInf, -kInf, -kInf, -kInf,
                           0, 0,   0,     0,   -kInf, ln3,   0,     -kInf};
  std::vector<double> zero(16, 0.0);
  Tensor q = randomTensor({2, 4, 2, 1}, 1751);
  Tensor k = Tensor::filled({2, 4, 2, 1}, 1.0);
  Tensor v = Tensor::zeros({2, 4, 2, 1});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t y = 0; y < 4; ++y) {
      v.at({b, y, 0, 0}) = std::vector<double>{2, 3, 5, 7}[y];
      v.at({b, y, 1, 0}) = std::vector<double>{1, 2, 4, 8}[y];
    }
  std::vector<double> head0F = {29.0 / 6, 0, 17.0 / 4, 3.5};
  std::vector<double> head1F = {29.0 / 6, 0, 15.0 / 4, 2.5};
  std::vector<double> head0Zero(4, 17.0 / 4), head1Zero(4, 15.0 / 4);
  auto concat = [](std::vector<std::vector<double>> parts) {
    std::vector<double> all;
    for (const std::vector<double> &part : parts)
      all.insert(all.end(), part.begin(), part.end());
    return all;
  };
  struct Case {
    Tensor mask;
    // expected[b][j] is the column of rows x = 0..3.
    std::vector<std::vector<std::vector<double>>> expected;
  };
  for (const Case &c :
       {Case{makeTensor({2, 2, 4, 4}, concat({f, zero, zero, f})),
             {{head0F, head1Zero}, {head0Zero, head1F}}},
        Case{makeTensor({2, 4, 4}, concat({f, zero})),
             {{head0F, head1F}, {head0Zero, head1Zero}}}}) {
    Masks masks;
    masks.attnMask = c.mask;
    Tensor out = runDA(makeConfig({4}, {1}, AttentionMode::Grouped, false,
                                  OffsetRule::Cyclic, 1.0),
                       q, k, v, masks);
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t j = 0; j < 2; ++j)
        for (int64_t x = 0; x < 4; ++x)
          EXPECT_NEAR(out.at({b, x, j, 0}), c.expected[b][j][x], 1e-14)
              << "rank " << c.mask.shape.size() << " b=" << b << " j=" << j
              << " x=" << x;
  }
}

// A boolean mask gives exactly the output of the float mask with 0 / -inf.
TEST(ReferenceMasks, BoolEqualsFloatZeroMinusInf) {
  int64_t batch = 2, seqLen = 12, numHeads = 3, headDim = 4;
  uint64_t seed = 1800;
  for (bool causal : {false, true})
    for (const DilatedAttentionConfig &config : sampleConfigs(causal))
      for (std::vector<int64_t> shape :
           {std::vector<int64_t>{seqLen, seqLen},
            std::vector<int64_t>{batch, seqLen, seqLen},
            std::vector<int64_t>{batch, numHeads, seqLen, seqLen}}) {
        Tensor q = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
        Tensor k = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
        Tensor v = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
        BoolTensor boolMask = randomBoolTensor(shape, ++seed, 0.3);
        Tensor floatMask = Tensor::zeros(shape);
        for (size_t i = 0; i < boolMask.data.size(); ++i)
          floatMask.data[i] = boolMask.data[i] ? -kInf : 0.0;
        Masks asBool, asFloat;
        asBool.attnMask = boolMask;
        asFloat.attnMask = floatMask;
        asBool.keyPaddingMask = asFloat.keyPaddingMask =
            randomBoolTensor({batch, seqLen}, ++seed, 0.2);
        expectBitwiseEqual(runDA(config, q, k, v, asBool),
                           runDA(config, q, k, v, asFloat), describe(config));
      }
}

// One (N, N) mask, the same mask repeated as (B, N, N) and as (B, H, N, N)
// give identical outputs; a (B, H, N, N) mask is indexed by head j: head j
// of its output is head j of a run with that head's (N, N) slice.
TEST(ReferenceMasks, ThreeShapesAgreeAndHeadIndexing) {
  int64_t batch = 2, seqLen = 11, numHeads = 3, headDim = 3;
  uint64_t seed = 1900;
  for (bool causal : {false, true})
    for (const DilatedAttentionConfig &config : sampleConfigs(causal)) {
      Tensor q = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      Tensor k = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      Tensor v = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      Tensor mask2 = randomBiasMask({seqLen, seqLen}, ++seed, 0.3);
      Tensor mask3 = Tensor::zeros({batch, seqLen, seqLen});
      Tensor mask4 = Tensor::zeros({batch, numHeads, seqLen, seqLen});
      forEachIndex(mask4.shape, [&](llvm::ArrayRef<int64_t> i) {
        mask3.at({i[0], i[2], i[3]}) = mask2.at({i[2], i[3]});
        mask4.at(i) = mask2.at({i[2], i[3]});
      });
      Masks m2, m3, m4;
      m2.attnMask = mask2;
      m3.attnMask = mask3;
      m4.attnMask = mask4;
      Tensor out2 = runDA(config, q, k, v, m2);
      expectBitwiseEqual(runDA(config, q, k, v, m3), out2, describe(config));
      expectBitwiseEqual(runDA(config, q, k, v, m4), out2, describe(config));

      // Distinct masks per (b, j), boolean this time.
      BoolTensor perHead =
          randomBoolTensor({batch, numHeads, seqLen, seqLen}, ++seed, 0.4);
      Masks mPerHead;
      mPerHead.attnMask = perHead;
      Tensor out = runDA(config, q, k, v, mPerHead);
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t j = 0; j < numHeads; ++j) {
          BoolTensor slice = BoolTensor::zeros({seqLen, seqLen});
          forEachIndex(slice.shape, [&](llvm::ArrayRef<int64_t> i) {
            slice.at(i) = perHead.at({b, j, i[0], i[1]});
          });
          Masks mSlice;
          mSlice.attnMask = slice;
          Tensor sliced = runDA(config, q, k, v, mSlice);
          for (int64_t x = 0; x < seqLen; ++x)
            for (int64_t d = 0; d < headDim; ++d)
              EXPECT_EQ(out.at({b, x, j, d}), sliced.at({b, x, j, d}))
                  << describe(config) << " b=" << b << " j=" << j;
        }
    }
}

// key_padding_mask combines with attn_mask: the same as an attn_mask whose
// padded key columns are forbidden.
TEST(ReferenceMasks, PaddingCombinesWithAttnMask) {
  int64_t batch = 2, seqLen = 12, numHeads = 3, headDim = 4;
  uint64_t seed = 2000;
  for (bool causal : {false, true})
    for (const DilatedAttentionConfig &config : sampleConfigs(causal)) {
      Tensor q = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      Tensor k = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      Tensor v = randomTensor({batch, seqLen, numHeads, headDim}, ++seed);
      BoolTensor padding = randomBoolTensor({batch, seqLen}, ++seed, 0.3);
      Tensor bias = randomBiasMask({batch, seqLen, seqLen}, ++seed, 0.2);
      Masks combined;
      combined.keyPaddingMask = padding;
      combined.attnMask = bias;
      Tensor folded = bias;
      forEachIndex(folded.shape, [&](llvm::ArrayRef<int64_t> i) {
        if (padding.at({i[0], i[2]}))
          folded.at(i) = -kInf;
      });
      Masks single;
      single.attnMask = folded;
      expectBitwiseEqual(runDA(config, q, k, v, combined),
                         runDA(config, q, k, v, single), describe(config));
    }
}

// Masks are indexed by global positions, not positions inside a segment:
// with w = 4 and a mask forbidding every key y < 4, segment 0 (rows 0-3) is
// fully masked while segment 1 (rows 4-7) is untouched.
TEST(ReferenceMasks, GlobalPositions) {
  Tensor q = randomTensor({1, 8, 1, 2}, 2101);
  Tensor k = randomTensor({1, 8, 1, 2}, 2102);
  Tensor v = randomTensor({1, 8, 1, 2}, 2103);
  BoolTensor mask = BoolTensor::zeros({8, 8});
  forEachIndex(mask.shape,
               [&](llvm::ArrayRef<int64_t> i) { mask.at(i) = i[1] < 4; });
  Masks masks;
  masks.attnMask = mask;
  Tensor out = runDA(makeConfig({4}, {1}), q, k, v, masks);
  expectHeadIsSubsetAttention(out, q, k, v, 0, 0, {{4, 5, 6, 7}}, false,
                              1.0 / std::sqrt(2.0), 1.0);
}

//===----------------------------------------------------------------------===//
// docs/Contract.md section 2: multi-head
//===----------------------------------------------------------------------===//

/// y = x W^T + b on (B, N, E), written out in the test.
Tensor testLinear(const Tensor &x, const Tensor &weight,
                  const std::optional<Tensor> &bias) {
  Tensor y = Tensor::zeros(x.shape);
  int64_t embed = x.shape[2];
  forEachIndex(x.shape, [&](llvm::ArrayRef<int64_t> i) {
    double sum = bias ? bias->data[i[2]] : 0.0;
    for (int64_t f = 0; f < embed; ++f)
      sum += x.at({i[0], i[1], f}) * weight.data[i[2] * embed + f];
    y.at(i) = sum;
  });
  return y;
}

MultiheadWeights randomWeights(int64_t embed, uint64_t seed, bool biases,
                               bool layerNorm) {
  double bound = 1.0 / std::sqrt(static_cast<double>(embed));
  MultiheadWeights weights;
  weights.queryWeight = randomTensor({embed, embed}, seed, -bound, bound);
  weights.keyWeight = randomTensor({embed, embed}, seed + 1, -bound, bound);
  weights.valueWeight = randomTensor({embed, embed}, seed + 2, -bound, bound);
  weights.outWeight = randomTensor({embed, embed}, seed + 3, -bound, bound);
  if (biases) {
    weights.queryBias = randomTensor({embed}, seed + 4);
    weights.keyBias = randomTensor({embed}, seed + 5);
    weights.valueBias = randomTensor({embed}, seed + 6);
    weights.outBias = randomTensor({embed}, seed + 7);
  }
  if (layerNorm) {
    weights.layerNormWeight = randomTensor({embed}, seed + 8, 0.5, 1.5);
    weights.layerNormBias = randomTensor({embed}, seed + 9);
    weights.layerNormEps = 1e-3;
  }
  return weights;
}

// The block equals its manual composition: linear, split (E index h*D + d),
// dilatedAttention, merge, optional layer norm (biased variance), linear.
TEST(ReferenceMultihead, EqualsManualComposition) {
  int64_t batch = 2, seqLen = 10, numHeads = 3, headDim = 3,
          embed = numHeads * headDim;
  uint64_t seed = 2200;
  for (AttentionMode mode : {AttentionMode::Grouped, AttentionMode::LongNet})
    for (bool biases : {false, true})
      for (bool layerNorm : {false, true})
        for (bool withMasks : {false, true}) {
          DilatedAttentionConfig config =
              makeConfig({4, 10}, {1, 2}, mode, /*causal=*/withMasks);
          Tensor query = randomTensor({batch, seqLen, embed}, ++seed);
          Tensor key = randomTensor({batch, seqLen, embed}, ++seed);
          Tensor value = randomTensor({batch, seqLen, embed}, ++seed);
          MultiheadWeights weights =
              randomWeights(embed, seed += 10, biases, layerNorm);
          Masks masks;
          if (withMasks) {
            masks.keyPaddingMask =
                randomBoolTensor({batch, seqLen}, ++seed, 0.2);
            masks.attnMask =
                randomBiasMask({batch, numHeads, seqLen, seqLen}, ++seed, 0.2);
          }
          llvm::Expected<Tensor> out = multiheadDilatedAttention(
              config, numHeads, query, key, value, weights, masks);
          ASSERT_TRUE(static_cast<bool>(out))
              << llvm::toString(out.takeError());

          auto split = [&](const Tensor &x) {
            Tensor heads = Tensor::zeros({batch, seqLen, numHeads, headDim});
            forEachIndex(heads.shape, [&](llvm::ArrayRef<int64_t> i) {
              heads.at(i) = x.at({i[0], i[1], i[2] * headDim + i[3]});
            });
            return heads;
          };
          Tensor attention = runDA(
              config,
              split(testLinear(query, weights.queryWeight, weights.queryBias)),
              split(testLinear(key, weights.keyWeight, weights.keyBias)),
              split(testLinear(value, weights.valueWeight, weights.valueBias)),
              masks);
          Tensor merged = Tensor::zeros({batch, seqLen, embed});
          forEachIndex(attention.shape, [&](llvm::ArrayRef<int64_t> i) {
            merged.at({i[0], i[1], i[2] * headDim + i[3]}) = attention.at(i);
          });
          if (layerNorm) {
            for (int64_t b = 0; b < batch; ++b)
              for (int64_t n = 0; n < seqLen; ++n) {
                double mean = 0.0, meanSquare = 0.0;
                for (int64_t e = 0; e < embed; ++e)
                  mean += merged.at({b, n, e}) / embed;
                for (int64_t e = 0; e < embed; ++e)
                  meanSquare +=
                      std::pow(merged.at({b, n, e}) - mean, 2) / embed;
                for (int64_t e = 0; e < embed; ++e)
                  merged.at({b, n, e}) =
                      (merged.at({b, n, e}) - mean) /
                          std::sqrt(meanSquare + weights.layerNormEps) *
                          weights.layerNormWeight->data[e] +
                      weights.layerNormBias->data[e];
              }
          }
          Tensor expected =
              testLinear(merged, weights.outWeight, weights.outBias);
          expectNear(*out, expected, kTight,
                     describe(config) + (biases ? " biases" : "") +
                         (layerNorm ? " layernorm" : ""));
        }
}

// With layer norm weight 1, bias 0, an identity out projection and no out
// bias, every output row has mean 0 and biased variance var / (var + eps).
TEST(ReferenceMultihead, LayerNormNormalisesRows) {
  int64_t batch = 2, seqLen = 8, numHeads = 4, embed = 8;
  MultiheadWeights weights = randomWeights(embed, 2300, true, false);
  weights.outWeight = Tensor::zeros({embed, embed});
  for (int64_t e = 0; e < embed; ++e)
    weights.outWeight.at({e, e}) = 1.0;
  weights.outBias.reset();
  weights.layerNormWeight = Tensor::filled({embed}, 1.0);
  weights.layerNormBias = Tensor::zeros({embed});
  Tensor query = randomTensor({batch, seqLen, embed}, 2311, -2, 2);
  Tensor key = randomTensor({batch, seqLen, embed}, 2312, -2, 2);
  Tensor value = randomTensor({batch, seqLen, embed}, 2313, -2, 2);
  DilatedAttentionConfig config = makeConfig({8, 4}, {1, 2});
  llvm::Expected<Tensor> out =
      multiheadDilatedAttention(config, numHeads, query, key, value, weights);
  ASSERT_TRUE(static_cast<bool>(out)) << llvm::toString(out.takeError());
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t n = 0; n < seqLen; ++n) {
      double mean = 0.0, variance = 0.0;
      for (int64_t e = 0; e < embed; ++e)
        mean += out->at({b, n, e}) / embed;
      for (int64_t e = 0; e < embed; ++e)
        variance += std::pow(out->at({b, n, e}) - mean, 2) / embed;
      EXPECT_NEAR(mean, 0.0, 1e-14);
      EXPECT_GT(variance, 0.99);
      EXPECT_LE(variance, 1.0);
    }
}

//===----------------------------------------------------------------------===//
// docs/Contract.md section 4: refused calls
//===----------------------------------------------------------------------===//

class ReferenceErrors : public ::testing::Test {
protected:
  Tensor q = randomTensor({2, 8, 3, 4}, 2401);
  Tensor k = randomTensor({2, 8, 3, 4}, 2402);
  Tensor v = randomTensor({2, 8, 3, 4}, 2403);
  DilatedAttentionConfig good = makeConfig({4, 8}, {1, 2});

  std::string daError(const DilatedAttentionConfig &config,
                      const Masks &masks = {}) {
    return errorOf(dilatedAttention(config, q, k, v, masks));
  }
};

TEST_F(ReferenceErrors, Config) {
  EXPECT_EQ(daError(makeConfig({4, 8, 16}, {1, 2})),
            "segment_lengths and dilation_rates must have the same length "
            "(3 vs 2)");
  EXPECT_EQ(daError(makeConfig({}, {})),
            "segment_lengths and dilation_rates must not be empty (got 0 and "
            "0 entries)");
  EXPECT_EQ(daError(makeConfig({4, 8}, {1, 0})),
            "dilation_rates[1] must be positive, got 0");
  EXPECT_EQ(daError(makeConfig({-4, 8}, {1, 2})),
            "segment_lengths[0] must be positive, got -4");
  EXPECT_EQ(daError(makeConfig({2, 4, 8, 8}, {1, 1, 2, 4})),
            "num_heads (3) must be >= the number of patterns (4) in grouped "
            "mode");
  // Longnet has no head count rule.
  EXPECT_TRUE(static_cast<bool>(dilatedAttention(
      makeConfig({2, 4, 8, 8}, {1, 1, 2, 4}, AttentionMode::LongNet), q, k,
      v)));
  DilatedAttentionConfig badScale = good;
  badScale.scale = kInf;
  EXPECT_EQ(daError(badScale).rfind("scale must be finite", 0), 0u);
}

TEST_F(ReferenceErrors, GroupedHeadsFewerThanPatterns) {
  Tensor q2 = randomTensor({1, 4, 2, 2}, 2410);
  EXPECT_EQ(
      errorOf(dilatedAttention(makeConfig({4, 8, 16}, {1, 2, 4}), q2, q2, q2)),
      "num_heads (2) must be >= the number of patterns (3) in grouped "
      "mode");
}

TEST_F(ReferenceErrors, Shapes) {
  Tensor k5 = randomTensor({2, 8, 3, 5}, 2420);
  EXPECT_EQ(errorOf(dilatedAttention(good, q, k5, v)),
            "key must have the shape of query (2, 8, 3, 4), got (2, 8, 3, 5)");
  Tensor rank3 = randomTensor({2, 8, 12}, 2421);
  EXPECT_EQ(errorOf(dilatedAttention(good, rank3, rank3, rank3)),
            "query must have rank 4 (B, N, H, D), got rank 3 (2, 8, 12)");
  Tensor noHeads = Tensor::zeros({2, 8, 0, 4});
  EXPECT_EQ(errorOf(dilatedAttention(good, noHeads, noHeads, noHeads)),
            "the number of heads H must be positive, got 0");
  // Data that does not match the shape is refused, not read past its end.
  Tensor shortValue = v;
  shortValue.data.pop_back();
  EXPECT_EQ(errorOf(dilatedAttention(good, q, k, shortValue)),
            "value of shape (2, 8, 3, 4) must hold 192 elements, got 191");
  Tensor negative{{2, -1, 3, 4}, {}};
  EXPECT_EQ(errorOf(dilatedAttention(good, negative, negative, negative)),
            "query sizes must not be negative, got (2, -1, 3, 4)");
  EXPECT_EQ(errorOf(patternAttention(good, 2, q, k, v)),
            "pattern index must be in [0, 2), got 2");
}

TEST_F(ReferenceErrors, Masks) {
  Masks padding;
  padding.keyPaddingMask = BoolTensor::zeros({2, 7});
  EXPECT_EQ(daError(good, padding),
            "key_padding_mask must have shape (B, N) = (2, 8), got (2, 7)");
  Masks square;
  square.attnMask = Tensor::zeros({8, 7});
  EXPECT_EQ(daError(good, square),
            "attn_mask must have shape (N, N) = (8, 8), got (8, 7)");
  Masks perHead;
  perHead.attnMask = BoolTensor::zeros({2, 2, 8, 8});
  EXPECT_EQ(daError(good, perHead),
            "attn_mask must have shape (B, H, N, N) = (2, 3, 8, 8), got (2, 2, "
            "8, 8)");
  Masks rank1;
  rank1.attnMask = BoolTensor::zeros({8});
  EXPECT_EQ(daError(good, rank1),
            "attn_mask must have shape (N, N), (B, N, N) or (B, H, N, N), got "
            "rank 1 (8)");
  Masks truncated;
  truncated.attnMask = BoolTensor{{8, 8}, std::vector<uint8_t>(63, 0)};
  EXPECT_EQ(daError(good, truncated),
            "attn_mask of shape (8, 8) must hold 64 elements, got 63");
}

TEST(ReferenceErrorsMultihead, Rules) {
  Tensor x = randomTensor({2, 5, 8}, 2501);
  MultiheadWeights weights = randomWeights(8, 2502, true, true);
  DilatedAttentionConfig config = makeConfig({4, 8}, {1, 2});
  EXPECT_EQ(errorOf(multiheadDilatedAttention(config, 3, x, x, x, weights)),
            "embed_dim (8) must be a positive multiple of num_heads (3)");
  EXPECT_EQ(errorOf(multiheadDilatedAttention(makeConfig({4, 8, 8}, {1, 2, 4}),
                                              2, x, x, x, weights)),
            "num_heads (2) must be >= the number of patterns (3) in grouped "
            "mode");
  MultiheadWeights badWeight = weights;
  badWeight.keyWeight = randomTensor({8, 7}, 2503);
  EXPECT_EQ(errorOf(multiheadDilatedAttention(config, 4, x, x, x, badWeight)),
            "k_weight must have shape (E, E) = (8, 8), got (8, 7)");
  MultiheadWeights halfNorm = weights;
  halfNorm.layerNormBias.reset();
  EXPECT_EQ(errorOf(multiheadDilatedAttention(config, 4, x, x, x, halfNorm)),
            "layer_norm_weight and layer_norm_bias must be given together");
  MultiheadWeights badEps = weights;
  badEps.layerNormEps = -1.0;
  EXPECT_EQ(errorOf(multiheadDilatedAttention(config, 4, x, x, x, badEps)),
            "layer_norm_eps must be finite and >= 0, got -1");
  Masks padding;
  padding.keyPaddingMask = BoolTensor::zeros({2, 4});
  EXPECT_EQ(
      errorOf(multiheadDilatedAttention(config, 4, x, x, x, weights, padding)),
      "key_padding_mask must have shape (B, N) = (2, 5), got (2, 4)");
  Tensor shortBias = *weights.outBias;
  shortBias.data.pop_back();
  MultiheadWeights badStorage = weights;
  badStorage.outBias = shortBias;
  EXPECT_EQ(errorOf(multiheadDilatedAttention(config, 4, x, x, x, badStorage)),
            "out_bias of shape (8) must hold 8 elements, got 7");
  // B = 0 gives an empty output.
  Tensor empty = Tensor::zeros({0, 5, 8});
  llvm::Expected<Tensor> out =
      multiheadDilatedAttention(config, 4, empty, empty, empty, weights);
  ASSERT_TRUE(static_cast<bool>(out)) << llvm::toString(out.takeError());
  EXPECT_EQ(out->shape, (std::vector<int64_t>{0, 5, 8}));
}

} // namespace
