//===- Reference.h - Float64 reference of dilated attention -----*- C++ -*-===//
//
// The oracle that every kernel is tested against: docs/Contract.md sections 1-3
// computed literally, in double precision, with plain loops. It is written to
// be read next to the contract, not to be fast; keep shapes small.
//
// Every entry point first applies the rule checks of docs/Contract.md section 4
// (dilattn::checkDilatedAttention / checkMultiheadDilatedAttention) and
// returns their llvm::Error on a bad call; it never asserts on bad input.
// Non-finite values in Q/K/V or weights, and NaN or +inf in a float attn_mask,
// are not checked: they propagate into the output as they would in any
// softmax. `-inf` in a float attn_mask is the documented way to forbid a pair.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_REFERENCE_REFERENCE_H
#define DILATTN_REFERENCE_REFERENCE_H

#include "dilattn/Support/Problem.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

namespace dilattn::reference {

/// Dense row-major float64 tensor.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<double> data;

  /// A tensor of `shape` filled with 0.0 (no elements if a size is negative).
  static Tensor zeros(std::vector<int64_t> shape);
  /// A tensor of `shape` filled with `value`.
  static Tensor filled(std::vector<int64_t> shape, double value);

  int64_t numElements() const;
  /// Row-major position of `index` (one entry per dimension, in range).
  int64_t flatIndex(llvm::ArrayRef<int64_t> index) const;
  double &at(llvm::ArrayRef<int64_t> index) { return data[flatIndex(index)]; }
  double at(llvm::ArrayRef<int64_t> index) const {
    return data[flatIndex(index)];
  }
};

/// Dense row-major boolean tensor (true = masked / padded).
struct BoolTensor {
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;

  /// A tensor of `shape` filled with false.
  static BoolTensor zeros(std::vector<int64_t> shape);

  int64_t numElements() const;
  int64_t flatIndex(llvm::ArrayRef<int64_t> index) const;
  uint8_t &at(llvm::ArrayRef<int64_t> index) { return data[flatIndex(index)]; }
  bool at(llvm::ArrayRef<int64_t> index) const {
    return data[flatIndex(index)] != 0;
  }
};

/// attn_mask is boolean (true = may not attend) or an additive float bias
/// (-inf forbids the pair).
using AttnMask = std::variant<BoolTensor, Tensor>;

/// The optional masks of docs/Contract.md section 3.
struct Masks {
  /// (B, N); true = key padded, ignored for every query of that batch.
  std::optional<BoolTensor> keyPaddingMask;
  /// (N, N), (B, N, N) or (B, H, N, N), indexed [.., query, key].
  std::optional<AttnMask> attnMask;
};

/// Output O_i and log-sum-exp lse_i of one pattern i for every (b, x, j).
/// present[b, x, j] is false when the pattern gives x no output for head j
/// (head does not use the pattern, x not selected, or no allowed key); there
/// the output row is 0 and lse is -inf (the log of an empty sum).
struct PatternResult {
  Tensor output;      // (B, N, H, D)
  Tensor lse;         // (B, N, H)
  BoolTensor present; // (B, N, H)
};

/// docs/Contract.md section 1 pattern attention of pattern `pattern` for every
/// head that uses it (in grouped mode the heads of group `pattern`; in longnet
/// mode every head); heads that do not use it are absent.
llvm::Expected<PatternResult>
patternAttention(const DilatedAttentionConfig &config, int64_t pattern,
                 const Tensor &query, const Tensor &key, const Tensor &value,
                 const Masks &masks = {});

/// docs/Contract.md section 1 full output (B, N, H, D) for query/key/value (B,
/// N, H, D): both modes, both offset rules, causal, masks.
llvm::Expected<Tensor> dilatedAttention(const DilatedAttentionConfig &config,
                                        const Tensor &query, const Tensor &key,
                                        const Tensor &value,
                                        const Masks &masks = {});

/// The forward output and the statistics the backward pass recomputes the
/// softmax from: lse[b, x, j] is the log-sum-exp of row (b, x, j) over the
/// keys its output is a softmax of (in longnet mode the multiset union of the
/// patterns' keys, log sum_i exp(lse_i); in grouped mode lse_i of the head's
/// pattern), -inf where the row has no output.
struct ForwardResult {
  Tensor output; // (B, N, H, D)
  Tensor lse;    // (B, N, H)
};

llvm::Expected<ForwardResult>
dilatedAttentionWithStatistics(const DilatedAttentionConfig &config,
                               const Tensor &query, const Tensor &key,
                               const Tensor &value, const Masks &masks = {});

/// The gradients of sum(gradOutput * dilatedAttention(query, key, value))
/// with respect to query, key and value (masks are constants), each (B, N, H,
/// D). Computed from the definition in float64, not from saved statistics.
struct Gradients {
  Tensor query, key, value;
};

llvm::Expected<Gradients>
dilatedAttentionBackward(const DilatedAttentionConfig &config,
                         const Tensor &query, const Tensor &key,
                         const Tensor &value, const Tensor &gradOutput,
                         const Masks &masks = {});

/// Parameters of the multi-head block (docs/Contract.md section 2).
struct MultiheadWeights {
  /// (E, E) each; linear layers compute y = x W^T + b.
  Tensor queryWeight, keyWeight, valueWeight, outWeight;
  /// (E) each, optional.
  std::optional<Tensor> queryBias, keyBias, valueBias, outBias;
  /// (E) each; both present turns the sub-layer norm on.
  std::optional<Tensor> layerNormWeight, layerNormBias;
  double layerNormEps = 1e-5;
};

/// docs/Contract.md section 2 for query/key/value (B, N, E) with `numHeads`
/// heads.
llvm::Expected<Tensor> multiheadDilatedAttention(
    const DilatedAttentionConfig &config, int64_t numHeads, const Tensor &query,
    const Tensor &key, const Tensor &value, const MultiheadWeights &weights,
    const Masks &masks = {});

/// The pieces of a LongNet block, for graphs built of them (unchecked:
/// callers pass shapes that fit).
/// y[b, n, o] = sum_e x[b, n, e] * W[o, e] + bias[o] for x (B, N, E) and
/// W (O, E).
Tensor linear(const Tensor &input, const Tensor &weight,
              const std::optional<Tensor> &bias);
/// Layer norm over the last dimension of (B, N, E) with the biased variance:
/// (x - mean) / sqrt(var + eps) * weight + bias.
Tensor layerNorm(const Tensor &input, const Tensor &weight, const Tensor &bias,
                 double eps);
/// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
Tensor geluTanh(const Tensor &input);

/// Error of an output against a reference: the largest absolute difference
/// and ||out - ref|| / ||ref|| (Frobenius). Both are +inf when the sizes
/// differ or either side holds a NaN or infinity, so that a broken output can
/// never pass a `<= tolerance` check. relative is 0 when both are all zero and
/// +inf when only the reference is.
struct ErrorStats {
  double maxAbs;
  double relative;
};
ErrorStats compare(llvm::ArrayRef<double> out, llvm::ArrayRef<double> ref);
ErrorStats compare(llvm::ArrayRef<float> out, llvm::ArrayRef<double> ref);
/// As above; +inf as well when the shapes differ.
ErrorStats compare(const Tensor &out, const Tensor &ref);

/// Deterministic random tensor for tests and tools: uniform in [low, high),
/// from std::mt19937_64 seeded with `seed` (the same on every platform: no
/// std distributions). Exact zeros are drawn again, so no element is 0 unless
/// low == high == 0.
Tensor randomTensor(std::vector<int64_t> shape, uint64_t seed, double low = -1,
                    double high = 1);
/// As randomTensor, normally distributed (Box-Muller), never exactly 0.
Tensor randomNormalTensor(std::vector<int64_t> shape, uint64_t seed,
                          double mean = 0, double stddev = 1);
/// Deterministic random boolean tensor, each element true with probability
/// `probabilityTrue`.
BoolTensor randomBoolTensor(std::vector<int64_t> shape, uint64_t seed,
                            double probabilityTrue = 0.5);

} // namespace dilattn::reference

#endif // DILATTN_REFERENCE_REFERENCE_H
