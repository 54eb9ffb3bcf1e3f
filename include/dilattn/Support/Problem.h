//===- Problem.h - What a dilated attention call computes -------*- C++ -*-===//
//
// The description of a dilated attention call (docs/Contract.md sections 1-3)
// shared by every layer: the IR verifier, the float64 reference, the runtime
// and the APIs. It holds the pattern geometry (head groups, offsets,
// selections) and the rule checks of docs/Contract.md section 4, so that every
// layer refuses the same inputs with the same message. It depends on
// LLVMSupport only.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_SUPPORT_PROBLEM_H
#define DILATTN_SUPPORT_PROBLEM_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>

namespace dilattn {

/// How the patterns of a call are spread over heads (docs/Contract.md section
/// 1).
enum class AttentionMode {
  /// Heads split into k contiguous groups, group i uses pattern i only.
  Grouped,
  /// Every head uses every pattern; outputs mixed by softmax denominators.
  LongNet,
};

/// How a head's offset within a pattern is chosen in longnet mode.
enum class OffsetRule {
  /// offset = head mod r (the paper's rule).
  Cyclic,
  /// offset = floor(head / ceil(H / r)) (torchscale's rule).
  Blocked,
};

llvm::StringRef stringifyAttentionMode(AttentionMode mode);
llvm::StringRef stringifyOffsetRule(OffsetRule rule);
std::optional<AttentionMode> parseAttentionMode(llvm::StringRef text);
std::optional<OffsetRule> parseOffsetRule(llvm::StringRef text);

/// Element types the contract knows about.
enum class ElementKind { F32, F16, BF16, F64, I1, Other };

llvm::StringRef stringifyElementKind(ElementKind kind);

/// A dimension whose size is not known (dynamic in the IR).
inline constexpr int64_t kDynamicSize = INT64_MIN;

/// The attributes of a dilated attention call.
struct DilatedAttentionConfig {
  llvm::SmallVector<int64_t> segmentLengths;
  llvm::SmallVector<int64_t> dilationRates;
  AttentionMode mode = AttentionMode::Grouped;
  OffsetRule offsetRule = OffsetRule::Cyclic;
  bool causal = false;
  /// Softmax scale; 1/sqrt(D) when absent.
  std::optional<double> scale;

  size_t numPatterns() const { return segmentLengths.size(); }
  double effectiveScale(int64_t headDim) const;
};

/// A tensor's shape and element kind as seen by the rule checks. Sizes may be
/// kDynamicSize; a rule that needs an unknown size is checked when it is known.
struct TensorSignature {
  llvm::SmallVector<int64_t, 4> shape;
  ElementKind element = ElementKind::F32;
  /// How the caller spells the element type (e.g. "i32"), for messages about
  /// kinds the contract does not name; empty means the kind's own name.
  std::string elementName;

  static TensorSignature get(llvm::ArrayRef<int64_t> shape,
                             ElementKind element) {
    TensorSignature signature;
    signature.shape.assign(shape.begin(), shape.end());
    signature.element = element;
    return signature;
  }
};

/// Operand signatures of one dilated attention call, in BNHD layout.
struct DilatedAttentionSignature {
  TensorSignature query, key, value;
  std::optional<TensorSignature> keyPaddingMask;
  std::optional<TensorSignature> attnMask;
  /// The element kinds the target can compute in (e.g. f32 on CPU).
  llvm::SmallVector<ElementKind, 3> supportedElements = {
      ElementKind::F32, ElementKind::F16, ElementKind::BF16};
  /// Whether a float (additive bias) key padding mask is accepted. The user
  /// contract is boolean; the IR also allows the bias form that mask
  /// normalisation produces.
  bool allowFloatKeyPaddingMask = false;
};

/// Checks the rules of docs/Contract.md section 4 that concern the attributes
/// alone (constraints C1-C4 of docs/Constraints.md), in order.
llvm::Error checkConfig(const DilatedAttentionConfig &config);

/// Checks every rule of docs/Contract.md section 4 that can be decided from the
/// attributes and operand signatures, in the order of docs/Constraints.md.
/// Returns the first violated rule with a message naming it and the values.
llvm::Error checkDilatedAttention(const DilatedAttentionConfig &config,
                                  const DilatedAttentionSignature &signature);

/// The operands of a backward call (issue 18) beyond the forward call's:
/// the forward output, its statistics (one log-sum-exp per row and head) and
/// the gradient of the output.
struct GradientSignature {
  TensorSignature output, logSumExp, gradOutput;
};

/// Checks the statistics of a forward call that saves them (constraint G2
/// of docs/Contract.md section 4 / docs/Constraints.md): f32 of shape
/// (B, N, H) for the call's query shape `queryShape`.
llvm::Error checkStatistics(llvm::ArrayRef<int64_t> queryShape,
                            const TensorSignature &logSumExp);

/// Checks a backward call: every rule of checkDilatedAttention on the
/// forward operands, then G1 (output and grad_output have the query's shape
/// and element type) and G2 (the statistics).
llvm::Error checkDilatedAttentionGrad(const DilatedAttentionConfig &config,
                                      const DilatedAttentionSignature &forward,
                                      const GradientSignature &gradient);

/// Operand signatures of a multi-head dilated attention call (docs/Contract.md
/// section 2): query/key/value are (B, N, E).
struct MultiheadSignature {
  TensorSignature query, key, value;
  TensorSignature queryWeight, keyWeight, valueWeight, outWeight;
  std::optional<TensorSignature> queryBias, keyBias, valueBias, outBias;
  std::optional<TensorSignature> layerNormWeight, layerNormBias;
  std::optional<TensorSignature> keyPaddingMask;
  std::optional<TensorSignature> attnMask;
  llvm::SmallVector<ElementKind, 3> supportedElements = {
      ElementKind::F32, ElementKind::F16, ElementKind::BF16};
};

/// Checks the rules of docs/Contract.md sections 2 and 4 for a multi-head call.
llvm::Error checkMultiheadDilatedAttention(const DilatedAttentionConfig &config,
                                           int64_t numHeads,
                                           const MultiheadSignature &signature);

//===----------------------------------------------------------------------===//
// Pattern geometry (docs/Contract.md section 1)
//
// Precondition of every helper below: the config passed checkConfig and, in
// grouped mode, numHeads >= numPatterns.
//===----------------------------------------------------------------------===//

/// The half-open head range [begin, end) of group `group` in grouped mode:
/// k contiguous groups of floor(H/k) heads, the first H mod k one larger.
struct HeadRange {
  int64_t begin = 0;
  int64_t end = 0;
};
HeadRange groupHeads(int64_t numHeads, int64_t numPatterns, int64_t group);

/// The group (= pattern index) of `head` in grouped mode.
int64_t groupOfHead(int64_t numHeads, int64_t numPatterns, int64_t head);

/// The offset that pattern `pattern` uses for head `head` (both modes).
int64_t patternOffset(const DilatedAttentionConfig &config, int64_t numHeads,
                      int64_t pattern, int64_t head);

/// Whether head `head` uses pattern `pattern` at all.
bool headUsesPattern(const DilatedAttentionConfig &config, int64_t numHeads,
                     int64_t pattern, int64_t head);

/// Positions per work item of a CPU kernel: enough that the sparsest pattern
/// still gives an item 64 selected queries, capped so that `numStates`
/// online-softmax states of a block stay in L2 (256 KiB).
int64_t defaultBlockSize(const DilatedAttentionConfig &config, int64_t headDim,
                         int64_t numStates);

/// Effective FLOPs of a call as docs/Contract.md section 5 defines them (halved
/// when causal).
double effectiveFlops(const DilatedAttentionConfig &config, int64_t batch,
                      int64_t seqLen, int64_t numHeads, int64_t headDim);

/// Formats a number for messages: "inf", "-inf" and "nan" spelled out.
std::string formatNumber(double value);

/// Formats a shape as "(2, 4096)" for messages; dynamic sizes print as "?".
std::string formatShape(llvm::ArrayRef<int64_t> shape);

} // namespace dilattn

#endif // DILATTN_SUPPORT_PROBLEM_H
