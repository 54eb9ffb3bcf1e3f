//===- Reference.cpp - Float64 reference of dilated attention -------------===//
//
// docs/Contract.md sections 1-3, statement by statement, in double precision.
// Each function below follows one paragraph of the contract and says which; the
// loops are the definitions, not an optimisation of them.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Reference/Reference.h"
#include "dilattn/Support/Error.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <random>

using namespace dilattn;
using namespace dilattn::reference;
using llvm::formatv;

static constexpr double kInf = std::numeric_limits<double>::infinity();

//===----------------------------------------------------------------------===//
// Tensors
//===----------------------------------------------------------------------===//

/// Number of elements of `shape`, or nullopt when a size is negative or the
/// product does not fit in int64 (such a shape can hold no data).
static std::optional<int64_t> elementCount(llvm::ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t size : shape) {
    if (size < 0 || llvm::MulOverflow(count, size, count))
      return std::nullopt;
  }
  return count;
}

static int64_t rowMajorIndex(llvm::ArrayRef<int64_t> shape,
                             llvm::ArrayRef<int64_t> index) {
  assert(index.size() == shape.size() && "index rank must match the shape");
  int64_t flat = 0;
  for (auto [size, position] : llvm::zip_equal(shape, index)) {
    assert(position >= 0 && position < size && "index out of range");
    flat = flat * size + position;
  }
  return flat;
}

Tensor Tensor::zeros(std::vector<int64_t> shape) {
  return filled(std::move(shape), 0.0);
}

Tensor Tensor::filled(std::vector<int64_t> shape, double value) {
  // A malformed shape yields no data; the entry points then refuse it.
  size_t count = static_cast<size_t>(elementCount(shape).value_or(0));
  return Tensor{std::move(shape), std::vector<double>(count, value)};
}

int64_t Tensor::numElements() const {
  return static_cast<int64_t>(data.size());
}

int64_t Tensor::flatIndex(llvm::ArrayRef<int64_t> index) const {
  return rowMajorIndex(shape, index);
}

BoolTensor BoolTensor::zeros(std::vector<int64_t> shape) {
  size_t count = static_cast<size_t>(elementCount(shape).value_or(0));
  return BoolTensor{std::move(shape), std::vector<uint8_t>(count, 0)};
}

int64_t BoolTensor::numElements() const {
  return static_cast<int64_t>(data.size());
}

int64_t BoolTensor::flatIndex(llvm::ArrayRef<int64_t> index) const {
  return rowMajorIndex(shape, index);
}

//===----------------------------------------------------------------------===//
// Validation (docs/Contract.md section 4, then the storage of each tensor)
//===----------------------------------------------------------------------===//

static TensorSignature signatureOf(const Tensor &tensor) {
  return TensorSignature::get(tensor.shape, ElementKind::F64);
}

static TensorSignature signatureOf(const BoolTensor &tensor) {
  return TensorSignature::get(tensor.shape, ElementKind::I1);
}

static TensorSignature signatureOf(const AttnMask &mask) {
  if (const auto *boolMask = std::get_if<BoolTensor>(&mask))
    return signatureOf(*boolMask);
  return signatureOf(std::get<Tensor>(mask));
}

template <typename T>
static std::optional<TensorSignature>
signatureOf(const std::optional<T> &tensor) {
  if (!tensor)
    return std::nullopt;
  return signatureOf(*tensor);
}

/// The rule checks see only shapes; here the data must also match them, so
/// that no loop below reads outside a tensor.
static llvm::Error checkStorage(llvm::StringRef name,
                                llvm::ArrayRef<int64_t> shape, size_t size) {
  for (int64_t dim : shape)
    if (dim < 0)
      return makeError(ErrorCode::InvalidArgument,
                       formatv("{0} must have non-negative sizes, got {1}",
                               name, formatShape(shape)));
  std::optional<int64_t> count = elementCount(shape);
  if (!count || static_cast<uint64_t>(*count) != size)
    return makeError(ErrorCode::InvalidArgument,
                     formatv("{0} of shape {1} must hold {2} elements, got {3}",
                             name, formatShape(shape),
                             count ? std::to_string(*count) : "too many",
                             size));
  return llvm::Error::success();
}

static llvm::Error checkStorage(llvm::StringRef name, const Tensor &tensor) {
  return checkStorage(name, tensor.shape, tensor.data.size());
}

static llvm::Error checkStorage(llvm::StringRef name,
                                const BoolTensor &tensor) {
  return checkStorage(name, tensor.shape, tensor.data.size());
}

static llvm::Error checkStorage(llvm::StringRef name, const AttnMask &mask) {
  if (const auto *boolMask = std::get_if<BoolTensor>(&mask))
    return checkStorage(name, *boolMask);
  return checkStorage(name, std::get<Tensor>(mask));
}

template <typename T>
static llvm::Error checkStorage(llvm::StringRef name,
                                const std::optional<T> &tensor) {
  if (!tensor)
    return llvm::Error::success();
  return checkStorage(name, *tensor);
}

static llvm::Error checkMaskStorage(const Masks &masks) {
  if (llvm::Error error =
          checkStorage("key_padding_mask", masks.keyPaddingMask))
    return error;
  return checkStorage("attn_mask", masks.attnMask);
}

static llvm::Error validateDilated(const DilatedAttentionConfig &config,
                                   const Tensor &query, const Tensor &key,
                                   const Tensor &value, const Masks &masks) {
  DilatedAttentionSignature signature;
  signature.query = signatureOf(query);
  signature.key = signatureOf(key);
  signature.value = signatureOf(value);
  signature.keyPaddingMask = signatureOf(masks.keyPaddingMask);
  signature.attnMask = signatureOf(masks.attnMask);
  signature.supportedElements = {ElementKind::F64};
  if (llvm::Error error = checkDilatedAttention(config, signature))
    return error;
  if (llvm::Error error = checkStorage("query", query))
    return error;
  if (llvm::Error error = checkStorage("key", key))
    return error;
  if (llvm::Error error = checkStorage("value", value))
    return error;
  return checkMaskStorage(masks);
}

//===----------------------------------------------------------------------===//
// docs/Contract.md section 3: masks
//===----------------------------------------------------------------------===//

/// The additive bias of the pair (query x, key y) of batch b, head j: boolean
/// masks become 0 / -inf biases, float masks add their value, and the biases
/// add. A result of -inf removes the pair.
static double pairBias(const Masks &masks, int64_t b, int64_t j, int64_t x,
                       int64_t y) {
  double bias = 0.0;
  if (masks.keyPaddingMask && masks.keyPaddingMask->at({b, y}))
    bias += -kInf;
  if (masks.attnMask) {
    // (N, N), (B, N, N) or (B, H, N, N), indexed [.., query, key].
    auto maskIndex = [&](size_t rank) -> llvm::SmallVector<int64_t, 4> {
      if (rank == 2)
        return {x, y};
      if (rank == 3)
        return {b, x, y};
      return {b, j, x, y};
    };
    if (const auto *boolMask = std::get_if<BoolTensor>(&*masks.attnMask)) {
      if (boolMask->at(maskIndex(boolMask->shape.size())))
        bias += -kInf;
    } else {
      const Tensor &floatMask = std::get<Tensor>(*masks.attnMask);
      bias += floatMask.at(maskIndex(floatMask.shape.size()));
    }
  }
  return bias;
}

//===----------------------------------------------------------------------===//
// docs/Contract.md section 1: segments, selection, pattern attention
//===----------------------------------------------------------------------===//

/// The positions segBegin + o + t*r, t = 0, 1, ..., that lie inside the
/// segment [segBegin, segBegin + segLength). An offset at or past the
/// segment's end selects nothing. (Written so that huge r or o cannot
/// overflow.)
static llvm::SmallVector<int64_t> selectedPositions(int64_t segBegin,
                                                    int64_t segLength,
                                                    int64_t offset,
                                                    int64_t rate) {
  llvm::SmallVector<int64_t> positions;
  for (int64_t inSegment = offset; inSegment < segLength;) {
    positions.push_back(segBegin + inSegment);
    if (segLength - inSegment <= rate)
      break;
    inSegment += rate;
  }
  return positions;
}

static double dot(const Tensor &lhs, const Tensor &rhs, int64_t b, int64_t x,
                  int64_t y, int64_t j, int64_t headDim) {
  double sum = 0.0;
  for (int64_t d = 0; d < headDim; ++d)
    sum += lhs.at({b, x, j, d}) * rhs.at({b, y, j, d});
  return sum;
}

/// Pattern attention of one pattern, on validated inputs.
static PatternResult computePattern(const DilatedAttentionConfig &config,
                                    int64_t pattern, const Tensor &query,
                                    const Tensor &key, const Tensor &value,
                                    const Masks &masks) {
  int64_t batch = query.shape[0], seqLen = query.shape[1],
          numHeads = query.shape[2], headDim = query.shape[3];
  int64_t segmentLength = config.segmentLengths[pattern];
  int64_t rate = config.dilationRates[pattern];
  double scale = config.effectiveScale(headDim);

  PatternResult result;
  result.output = Tensor::zeros({batch, seqLen, numHeads, headDim});
  result.lse = Tensor::filled({batch, seqLen, numHeads}, -kInf);
  result.present = BoolTensor::zeros({batch, seqLen, numHeads});

  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t j = 0; j < numHeads; ++j) {
      if (!headUsesPattern(config, numHeads, pattern, j))
        continue;
      int64_t offset = patternOffset(config, numHeads, pattern, j);
      // Segments [m*w, min((m+1)*w, N)); the last one may be shorter.
      for (int64_t segBegin = 0; segBegin < seqLen;) {
        int64_t segLength = std::min(segmentLength, seqLen - segBegin);
        llvm::SmallVector<int64_t> selected =
            selectedPositions(segBegin, segLength, offset, rate);
        for (int64_t x : selected) {
          // Keys: positions selected by this pattern in this segment, y <= x
          // when causal, masked pairs removed.
          llvm::SmallVector<int64_t> keys;
          llvm::SmallVector<double> scores;
          for (int64_t y : selected) {
            if (config.causal && y > x)
              continue;
            double bias = pairBias(masks, b, j, x, y);
            if (bias == -kInf)
              continue;
            keys.push_back(y);
            scores.push_back(scale * dot(query, key, b, x, y, j, headDim) +
                             bias);
          }
          // A query with no allowed key has no output.
          if (keys.empty())
            continue;
          // Softmax with max-subtraction: exp never overflows.
          double maxScore = *llvm::max_element(scores);
          double denominator = 0.0;
          for (double score : scores)
            denominator += std::exp(score - maxScore);
          for (int64_t d = 0; d < headDim; ++d) {
            double numerator = 0.0;
            for (auto [y, score] : llvm::zip_equal(keys, scores))
              numerator += std::exp(score - maxScore) * value.at({b, y, j, d});
            result.output.at({b, x, j, d}) = numerator / denominator;
          }
          result.lse.at({b, x, j}) = maxScore + std::log(denominator);
          result.present.at({b, x, j}) = 1;
        }
        segBegin += segLength;
      }
    }
  }
  return result;
}

llvm::Expected<PatternResult> dilattn::reference::patternAttention(
    const DilatedAttentionConfig &config, int64_t pattern, const Tensor &query,
    const Tensor &key, const Tensor &value, const Masks &masks) {
  if (llvm::Error error = validateDilated(config, query, key, value, masks))
    return error;
  int64_t numPatterns = static_cast<int64_t>(config.numPatterns());
  if (pattern < 0 || pattern >= numPatterns)
    return makeError(ErrorCode::InvalidArgument,
                     formatv("pattern index must be in [0, {0}), got {1}",
                             numPatterns, pattern));
  return computePattern(config, pattern, query, key, value, masks);
}

//===----------------------------------------------------------------------===//
// docs/Contract.md section 1: modes
//===----------------------------------------------------------------------===//

llvm::Expected<Tensor>
dilattn::reference::dilatedAttention(const DilatedAttentionConfig &config,
                                     const Tensor &query, const Tensor &key,
                                     const Tensor &value, const Masks &masks) {
  if (llvm::Error error = validateDilated(config, query, key, value, masks))
    return error;
  int64_t batch = query.shape[0], seqLen = query.shape[1],
          numHeads = query.shape[2], headDim = query.shape[3];
  int64_t numPatterns = static_cast<int64_t>(config.numPatterns());

  std::vector<PatternResult> patterns;
  for (int64_t i = 0; i < numPatterns; ++i)
    patterns.push_back(computePattern(config, i, query, key, value, masks));

  Tensor out = Tensor::zeros({batch, seqLen, numHeads, headDim});
  if (config.mode == AttentionMode::Grouped) {
    // Group i uses pattern i only: out = O_i / k where pattern i gives an
    // output, else exactly 0.
    double k = static_cast<double>(numPatterns);
    for (int64_t i = 0; i < numPatterns; ++i) {
      HeadRange heads = groupHeads(numHeads, numPatterns, i);
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t x = 0; x < seqLen; ++x)
          for (int64_t j = heads.begin; j < heads.end; ++j) {
            if (!patterns[i].present.at({b, x, j}))
              continue;
            for (int64_t d = 0; d < headDim; ++d)
              out.at({b, x, j, d}) = patterns[i].output.at({b, x, j, d}) / k;
          }
    }
    return out;
  }

  // LongNet: out = sum_i a_i O_i, a_i = exp(lse_i) / sum_i' exp(lse_i') over
  // the patterns that give x an output; exp(lse_i - max lse) keeps it finite.
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t x = 0; x < seqLen; ++x)
      for (int64_t j = 0; j < numHeads; ++j) {
        double maxLse = -kInf;
        for (const PatternResult &result : patterns)
          if (result.present.at({b, x, j}))
            maxLse = std::max(maxLse, result.lse.at({b, x, j}));
        if (maxLse == -kInf)
          continue; // No pattern gives x an output: 0.
        double denominator = 0.0;
        for (const PatternResult &result : patterns)
          if (result.present.at({b, x, j}))
            denominator += std::exp(result.lse.at({b, x, j}) - maxLse);
        for (const PatternResult &result : patterns) {
          if (!result.present.at({b, x, j}))
            continue;
          double weight =
              std::exp(result.lse.at({b, x, j}) - maxLse) / denominator;
          for (int64_t d = 0; d < headDim; ++d)
            out.at({b, x, j, d}) += weight * result.output.at({b, x, j, d});
        }
      }
  return out;
}

//===----------------------------------------------------------------------===//
// Statistics and gradients (issue 18)
//===----------------------------------------------------------------------===//

llvm::Expected<ForwardResult>
dilattn::reference::dilatedAttentionWithStatistics(
    const DilatedAttentionConfig &config, const Tensor &query,
    const Tensor &key, const Tensor &value, const Masks &masks) {
  llvm::Expected<Tensor> output =
      dilatedAttention(config, query, key, value, masks);
  if (!output)
    return output.takeError();
  int64_t batch = query.shape[0], seqLen = query.shape[1],
          numHeads = query.shape[2];
  int64_t numPatterns = static_cast<int64_t>(config.numPatterns());
  ForwardResult result{std::move(*output),
                       Tensor::filled({batch, seqLen, numHeads}, -kInf)};
  // The log of the softmax denominator the output row is normalised by: one
  // pattern's in grouped mode, the union's (log sum_i exp lse_i) in longnet.
  for (int64_t i = 0; i < numPatterns; ++i) {
    PatternResult pattern = computePattern(config, i, query, key, value, masks);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t x = 0; x < seqLen; ++x)
        for (int64_t j = 0; j < numHeads; ++j) {
          if (!pattern.present.at({b, x, j}))
            continue;
          double &lse = result.lse.at({b, x, j});
          double other = pattern.lse.at({b, x, j});
          double high = std::max(lse, other), low = std::min(lse, other);
          lse = low == -kInf ? high : high + std::log1p(std::exp(low - high));
        }
  }
  return result;
}

namespace {
/// One (pattern, key) pair of a query row and its score.
struct ScoredKey {
  int64_t key;
  double score;
};
} // namespace

/// The keys that output row (b, x, j) is a softmax over, as a multiset over
/// the patterns the head uses (section 1.4, 1.5, 1.6): a key selected by two
/// patterns appears twice. Empty when the row has no output.
static llvm::SmallVector<ScoredKey>
rowKeys(const DilatedAttentionConfig &config, const Tensor &query,
        const Tensor &key, const Masks &masks, int64_t b, int64_t x,
        int64_t j) {
  int64_t seqLen = query.shape[1], numHeads = query.shape[2],
          headDim = query.shape[3];
  double scale = config.effectiveScale(headDim);
  llvm::SmallVector<ScoredKey> keys;
  for (int64_t i = 0, e = config.numPatterns(); i < e; ++i) {
    if (!headUsesPattern(config, numHeads, i, j))
      continue;
    int64_t segmentLength = config.segmentLengths[i];
    int64_t segBegin = x / segmentLength * segmentLength;
    int64_t segLength = std::min(segmentLength, seqLen - segBegin);
    llvm::SmallVector<int64_t> selected = selectedPositions(
        segBegin, segLength, patternOffset(config, numHeads, i, j),
        config.dilationRates[i]);
    if (!llvm::is_contained(selected, x))
      continue;
    for (int64_t y : selected) {
      if (config.causal && y > x)
        continue;
      double bias = pairBias(masks, b, j, x, y);
      if (bias == -kInf)
        continue;
      keys.push_back({y, scale * dot(query, key, b, x, y, j, headDim) + bias});
    }
  }
  return keys;
}

llvm::Expected<Gradients> dilattn::reference::dilatedAttentionBackward(
    const DilatedAttentionConfig &config, const Tensor &query,
    const Tensor &key, const Tensor &value, const Tensor &gradOutput,
    const Masks &masks) {
  if (llvm::Error error = validateDilated(config, query, key, value, masks))
    return error;
  if (gradOutput.shape != query.shape)
    return makeError(ErrorCode::InvalidArgument,
                     formatv("grad_output must have the shape of query {0}, "
                             "got {1}",
                             formatShape(query.shape),
                             formatShape(gradOutput.shape)));
  if (llvm::Error error = checkStorage("grad_output", gradOutput))
    return error;
  int64_t batch = query.shape[0], seqLen = query.shape[1],
          numHeads = query.shape[2], headDim = query.shape[3];
  double scale = config.effectiveScale(headDim);
  // out = c * sum_p P_p V[y_p] over the row's keys p: c = 1/k in grouped
  // mode (section 1.5), 1 in longnet mode (section 1.6, one softmax over the
  // multiset union).
  double outputScale = config.mode == AttentionMode::Grouped
                           ? 1.0 / static_cast<double>(config.numPatterns())
                           : 1.0;
  Gradients grads{Tensor::zeros(query.shape), Tensor::zeros(query.shape),
                  Tensor::zeros(query.shape)};
  std::vector<double> g(headDim), probabilities, dScores;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t x = 0; x < seqLen; ++x)
      for (int64_t j = 0; j < numHeads; ++j) {
        llvm::SmallVector<ScoredKey> keys =
            rowKeys(config, query, key, masks, b, x, j);
        // No allowed key: the output is the constant 0, its gradient 0.
        if (keys.empty())
          continue;
        double maxScore = -kInf;
        for (const ScoredKey &k : keys)
          maxScore = std::max(maxScore, k.score);
        double denominator = 0.0;
        probabilities.assign(keys.size(), 0.0);
        for (auto [p, k] : llvm::zip_equal(probabilities, keys))
          denominator += p = std::exp(k.score - maxScore);
        for (double &p : probabilities)
          p /= denominator;
        for (int64_t d = 0; d < headDim; ++d)
          g[d] = outputScale * gradOutput.at({b, x, j, d});
        // dP_p = <g, V[y_p]>; dS_p = P_p (dP_p - sum_q P_q dP_q).
        dScores.assign(keys.size(), 0.0);
        double delta = 0.0;
        for (auto [p, k, dS] : llvm::zip_equal(probabilities, keys, dScores)) {
          double dP = 0.0;
          for (int64_t d = 0; d < headDim; ++d)
            dP += g[d] * value.at({b, k.key, j, d});
          dS = dP;
          delta += p * dP;
        }
        for (auto [p, k, dS] : llvm::zip_equal(probabilities, keys, dScores)) {
          dS = p * (dS - delta);
          for (int64_t d = 0; d < headDim; ++d) {
            grads.value.at({b, k.key, j, d}) += p * g[d];
            grads.query.at({b, x, j, d}) +=
                scale * dS * key.at({b, k.key, j, d});
            grads.key.at({b, k.key, j, d}) +=
                scale * dS * query.at({b, x, j, d});
          }
        }
      }
  return grads;
}

//===----------------------------------------------------------------------===//
// docs/Contract.md section 2: multi-head block
//===----------------------------------------------------------------------===//

Tensor dilattn::reference::linear(const Tensor &input, const Tensor &weight,
                                  const std::optional<Tensor> &bias) {
  int64_t batch = input.shape[0], seqLen = input.shape[1],
          inDim = input.shape[2], outDim = weight.shape[0];
  Tensor output = Tensor::zeros({batch, seqLen, outDim});
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t n = 0; n < seqLen; ++n)
      for (int64_t e = 0; e < outDim; ++e) {
        double sum = 0.0;
        for (int64_t f = 0; f < inDim; ++f)
          sum += input.at({b, n, f}) * weight.at({e, f});
        if (bias)
          sum += bias->at({e});
        output.at({b, n, e}) = sum;
      }
  return output;
}

/// (B, N, E) -> (B, N, H, D), head-major: E index = h*D + d.
static Tensor splitHeads(const Tensor &input, int64_t numHeads) {
  int64_t batch = input.shape[0], seqLen = input.shape[1],
          headDim = input.shape[2] / numHeads;
  Tensor output = Tensor::zeros({batch, seqLen, numHeads, headDim});
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t n = 0; n < seqLen; ++n)
      for (int64_t h = 0; h < numHeads; ++h)
        for (int64_t d = 0; d < headDim; ++d)
          output.at({b, n, h, d}) = input.at({b, n, h * headDim + d});
  return output;
}

/// The inverse of splitHeads.
static Tensor mergeHeads(const Tensor &input) {
  int64_t batch = input.shape[0], seqLen = input.shape[1],
          numHeads = input.shape[2], headDim = input.shape[3];
  Tensor output = Tensor::zeros({batch, seqLen, numHeads * headDim});
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t n = 0; n < seqLen; ++n)
      for (int64_t h = 0; h < numHeads; ++h)
        for (int64_t d = 0; d < headDim; ++d)
          output.at({b, n, h * headDim + d}) = input.at({b, n, h, d});
  return output;
}

Tensor dilattn::reference::layerNorm(const Tensor &input, const Tensor &weight,
                                     const Tensor &bias, double eps) {
  int64_t batch = input.shape[0], seqLen = input.shape[1],
          embedDim = input.shape[2];
  Tensor output = Tensor::zeros({batch, seqLen, embedDim});
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t n = 0; n < seqLen; ++n) {
      double mean = 0.0;
      for (int64_t e = 0; e < embedDim; ++e)
        mean += input.at({b, n, e});
      mean /= static_cast<double>(embedDim);
      double variance = 0.0;
      for (int64_t e = 0; e < embedDim; ++e) {
        double centered = input.at({b, n, e}) - mean;
        variance += centered * centered;
      }
      variance /= static_cast<double>(embedDim);
      double inverseStd = 1.0 / std::sqrt(variance + eps);
      for (int64_t e = 0; e < embedDim; ++e)
        output.at({b, n, e}) =
            (input.at({b, n, e}) - mean) * inverseStd * weight.at({e}) +
            bias.at({e});
    }
  return output;
}

Tensor dilattn::reference::geluTanh(const Tensor &input) {
  Tensor output = input;
  for (double &x : output.data)
    x = 0.5 * x *
        (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
  return output;
}

static llvm::Error validateMultihead(const DilatedAttentionConfig &config,
                                     int64_t numHeads, const Tensor &query,
                                     const Tensor &key, const Tensor &value,
                                     const MultiheadWeights &weights,
                                     const Masks &masks) {
  MultiheadSignature signature;
  signature.query = signatureOf(query);
  signature.key = signatureOf(key);
  signature.value = signatureOf(value);
  signature.queryWeight = signatureOf(weights.queryWeight);
  signature.keyWeight = signatureOf(weights.keyWeight);
  signature.valueWeight = signatureOf(weights.valueWeight);
  signature.outWeight = signatureOf(weights.outWeight);
  signature.queryBias = signatureOf(weights.queryBias);
  signature.keyBias = signatureOf(weights.keyBias);
  signature.valueBias = signatureOf(weights.valueBias);
  signature.outBias = signatureOf(weights.outBias);
  signature.layerNormWeight = signatureOf(weights.layerNormWeight);
  signature.layerNormBias = signatureOf(weights.layerNormBias);
  signature.keyPaddingMask = signatureOf(masks.keyPaddingMask);
  signature.attnMask = signatureOf(masks.attnMask);
  signature.supportedElements = {ElementKind::F64};
  if (llvm::Error error =
          checkMultiheadDilatedAttention(config, numHeads, signature))
    return error;

  struct Named {
    llvm::StringRef name;
    const Tensor *tensor;
  };
  llvm::SmallVector<Named> tensors = {{"query", &query},
                                      {"key", &key},
                                      {"value", &value},
                                      {"q_weight", &weights.queryWeight},
                                      {"k_weight", &weights.keyWeight},
                                      {"v_weight", &weights.valueWeight},
                                      {"out_weight", &weights.outWeight}};
  auto addOptional = [&](llvm::StringRef name,
                         const std::optional<Tensor> &tensor) {
    if (tensor)
      tensors.push_back({name, &*tensor});
  };
  addOptional("q_bias", weights.queryBias);
  addOptional("k_bias", weights.keyBias);
  addOptional("v_bias", weights.valueBias);
  addOptional("out_bias", weights.outBias);
  addOptional("layer_norm_weight", weights.layerNormWeight);
  addOptional("layer_norm_bias", weights.layerNormBias);
  for (const Named &named : tensors)
    if (llvm::Error error = checkStorage(named.name, *named.tensor))
      return error;
  if (llvm::Error error = checkMaskStorage(masks))
    return error;
  // A negative or non-finite epsilon would make the norm NaN, not a result.
  if (weights.layerNormWeight &&
      !(std::isfinite(weights.layerNormEps) && weights.layerNormEps >= 0))
    return makeError(ErrorCode::InvalidArgument,
                     formatv("layer_norm_eps must be finite and >= 0, got {0}",
                             llvm::format("%g", weights.layerNormEps)));
  return llvm::Error::success();
}

llvm::Expected<Tensor> dilattn::reference::multiheadDilatedAttention(
    const DilatedAttentionConfig &config, int64_t numHeads, const Tensor &query,
    const Tensor &key, const Tensor &value, const MultiheadWeights &weights,
    const Masks &masks) {
  if (llvm::Error error = validateMultihead(config, numHeads, query, key, value,
                                            weights, masks))
    return error;

  Tensor queryHeads = splitHeads(
      linear(query, weights.queryWeight, weights.queryBias), numHeads);
  Tensor keyHeads =
      splitHeads(linear(key, weights.keyWeight, weights.keyBias), numHeads);
  Tensor valueHeads = splitHeads(
      linear(value, weights.valueWeight, weights.valueBias), numHeads);
  llvm::Expected<Tensor> attention =
      dilatedAttention(config, queryHeads, keyHeads, valueHeads, masks);
  if (!attention)
    return attention.takeError();
  Tensor merged = mergeHeads(*attention);
  if (weights.layerNormWeight)
    merged = layerNorm(merged, *weights.layerNormWeight, *weights.layerNormBias,
                       weights.layerNormEps);
  return linear(merged, weights.outWeight, weights.outBias);
}

//===----------------------------------------------------------------------===//
// Comparison and random inputs
//===----------------------------------------------------------------------===//

ErrorStats dilattn::reference::compare(llvm::ArrayRef<double> out,
                                       llvm::ArrayRef<double> ref) {
  ErrorStats broken{kInf, kInf};
  if (out.size() != ref.size())
    return broken;
  double maxAbs = 0.0, diffSquares = 0.0, refSquares = 0.0;
  for (auto [o, r] : llvm::zip_equal(out, ref)) {
    if (!std::isfinite(o) || !std::isfinite(r))
      return broken;
    double diff = std::abs(o - r);
    maxAbs = std::max(maxAbs, diff);
    diffSquares += diff * diff;
    refSquares += r * r;
  }
  double relative;
  if (refSquares == 0.0)
    relative = diffSquares == 0.0 ? 0.0 : kInf;
  else
    relative = std::sqrt(diffSquares) / std::sqrt(refSquares);
  return {maxAbs, relative};
}

ErrorStats dilattn::reference::compare(llvm::ArrayRef<float> out,
                                       llvm::ArrayRef<double> ref) {
  std::vector<double> widened(out.begin(), out.end());
  return compare(llvm::ArrayRef<double>(widened), ref);
}

ErrorStats dilattn::reference::compare(const Tensor &out, const Tensor &ref) {
  if (out.shape != ref.shape)
    return {kInf, kInf};
  return compare(llvm::ArrayRef<double>(out.data),
                 llvm::ArrayRef<double>(ref.data));
}

/// A uniform double in [0, 1) from the top 53 bits of one draw; spelled out
/// so that every platform produces the same tensors.
static double unitUniform(std::mt19937_64 &engine) {
  return static_cast<double>(engine() >> 11) * 0x1p-53;
}

Tensor dilattn::reference::randomTensor(std::vector<int64_t> shape,
                                        uint64_t seed, double low,
                                        double high) {
  std::mt19937_64 engine(seed);
  Tensor tensor = Tensor::zeros(std::move(shape));
  for (double &element : tensor.data) {
    do
      element = low + (high - low) * unitUniform(engine);
    while (element == 0.0 && !(low == 0.0 && high == 0.0));
  }
  return tensor;
}

Tensor dilattn::reference::randomNormalTensor(std::vector<int64_t> shape,
                                              uint64_t seed, double mean,
                                              double stddev) {
  std::mt19937_64 engine(seed);
  Tensor tensor = Tensor::zeros(std::move(shape));
  for (double &element : tensor.data) {
    do {
      // Box-Muller; 1 - u lies in (0, 1], so the log is finite.
      double radius = std::sqrt(-2.0 * std::log(1.0 - unitUniform(engine)));
      double angle = 2.0 * llvm::numbers::pi * unitUniform(engine);
      element = mean + stddev * radius * std::cos(angle);
    } while (element == 0.0 && !(mean == 0.0 && stddev == 0.0));
  }
  return tensor;
}

BoolTensor dilattn::reference::randomBoolTensor(std::vector<int64_t> shape,
                                                uint64_t seed,
                                                double probabilityTrue) {
  std::mt19937_64 engine(seed);
  BoolTensor tensor = BoolTensor::zeros(std::move(shape));
  for (uint8_t &element : tensor.data)
    element = unitUniform(engine) < probabilityTrue ? 1 : 0;
  return tensor;
}
