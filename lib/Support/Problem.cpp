//===- Problem.cpp - What a dilated attention call computes ---------------===//
//
// The rule checks follow docs/Constraints.md one by one, in its order: a call
// that breaks several rules is refused with the first one.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Support/Problem.h"
#include "dilattn/Support/Error.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

using namespace dilattn;
using llvm::formatv;

llvm::StringRef dilattn::stringifyAttentionMode(AttentionMode mode) {
  switch (mode) {
  case AttentionMode::Grouped:
    return "grouped";
  case AttentionMode::LongNet:
    return "longnet";
  }
  llvm_unreachable("unknown attention mode");
}

llvm::StringRef dilattn::stringifyOffsetRule(OffsetRule rule) {
  switch (rule) {
  case OffsetRule::Cyclic:
    return "cyclic";
  case OffsetRule::Blocked:
    return "blocked";
  }
  llvm_unreachable("unknown offset rule");
}

std::optional<AttentionMode> dilattn::parseAttentionMode(llvm::StringRef text) {
  if (text == "grouped")
    return AttentionMode::Grouped;
  if (text == "longnet")
    return AttentionMode::LongNet;
  return std::nullopt;
}

std::optional<OffsetRule> dilattn::parseOffsetRule(llvm::StringRef text) {
  if (text == "cyclic")
    return OffsetRule::Cyclic;
  if (text == "blocked")
    return OffsetRule::Blocked;
  return std::nullopt;
}

llvm::StringRef dilattn::stringifyElementKind(ElementKind kind) {
  switch (kind) {
  case ElementKind::F32:
    return "f32";
  case ElementKind::F16:
    return "f16";
  case ElementKind::BF16:
    return "bf16";
  case ElementKind::F64:
    return "f64";
  case ElementKind::I1:
    return "i1";
  case ElementKind::Other:
    return "other";
  }
  llvm_unreachable("unknown element kind");
}

double DilatedAttentionConfig::effectiveScale(int64_t headDim) const {
  if (scale)
    return *scale;
  return 1.0 / std::sqrt(static_cast<double>(headDim));
}

std::string dilattn::formatShape(llvm::ArrayRef<int64_t> shape) {
  std::string text = "(";
  llvm::raw_string_ostream os(text);
  llvm::interleaveComma(shape, os, [&](int64_t size) {
    if (size == kDynamicSize)
      os << "?";
    else
      os << size;
  });
  os << ")";
  return text;
}

std::string dilattn::formatNumber(double value) {
  if (std::isnan(value))
    return "nan";
  if (std::isinf(value))
    return value < 0 ? "-inf" : "inf";
  char text[32];
  std::snprintf(text, sizeof(text), "%g", value);
  return text;
}

namespace {
/// The constraint numbers (docs/Constraints.md) of the rules that the
/// dilated and the multi-head op share, for each op.
struct OperandRules {
  llvm::StringLiteral rank, shape, element, sizes;
};
struct MaskRules {
  llvm::StringLiteral keyPaddingKind, keyPaddingShape, attnKind, attnShape,
      attnCount;
};
constexpr OperandRules kDilatedOperandRules = {"C6", "C7", "C8", "C9"};
constexpr OperandRules kMultiheadOperandRules = {"M1", "M1", "M2", "M1"};
constexpr MaskRules kDilatedMaskRules = {"C12", "C13", "C14", "C15", "C16"};
constexpr MaskRules kMultiheadMaskRules = {"M8", "M8", "M8", "M8", "M8"};
} // namespace

static bool isKnown(int64_t size) { return size != kDynamicSize; }

/// Whether two sizes can be equal (an unknown size matches anything).
static bool compatible(int64_t lhs, int64_t rhs) {
  return !isKnown(lhs) || !isKnown(rhs) || lhs == rhs;
}

static bool compatibleShapes(llvm::ArrayRef<int64_t> lhs,
                             llvm::ArrayRef<int64_t> rhs) {
  if (lhs.size() != rhs.size())
    return false;
  for (auto [l, r] : llvm::zip_equal(lhs, rhs))
    if (!compatible(l, r))
      return false;
  return true;
}

static std::string formatKinds(llvm::ArrayRef<ElementKind> kinds) {
  std::string text;
  llvm::raw_string_ostream os(text);
  llvm::interleaveComma(
      kinds, os, [&](ElementKind kind) { os << stringifyElementKind(kind); });
  return text;
}

/// The element type of `tensor` as the caller spells it.
static std::string elementText(const TensorSignature &tensor) {
  if (!tensor.elementName.empty())
    return tensor.elementName;
  return stringifyElementKind(tensor.element).str();
}

static bool isFloat(ElementKind kind) {
  return kind == ElementKind::F32 || kind == ElementKind::F16 ||
         kind == ElementKind::BF16 || kind == ElementKind::F64;
}

/// Product of the known sizes, or nullopt when it does not fit in int64 (the
/// kernels index with 64-bit integers; element offsets must stay below 2^63).
static std::optional<int64_t>
checkedElementCount(llvm::ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t size : shape) {
    if (!isKnown(size))
      continue;
    int64_t next;
    if (llvm::MulOverflow(count, size, next))
      return std::nullopt;
    count = next;
  }
  return count;
}

llvm::Error dilattn::checkConfig(const DilatedAttentionConfig &config) {
  // C1: at least one pattern.
  if (config.segmentLengths.empty() || config.dilationRates.empty())
    return makeRuleError(
        "C1",
        formatv("segment_lengths and dilation_rates must not be empty "
                "(got {0} and {1} entries)",
                config.segmentLengths.size(), config.dilationRates.size()));
  // C2: one dilation rate per segment length.
  if (config.segmentLengths.size() != config.dilationRates.size())
    return makeRuleError(
        "C2",
        formatv("segment_lengths and dilation_rates must have the same "
                "length ({0} vs {1})",
                config.segmentLengths.size(), config.dilationRates.size()));
  // C3, C4: positive entries.
  for (auto [i, w] : llvm::enumerate(config.segmentLengths))
    if (w <= 0)
      return makeRuleError(
          "C3",
          formatv("segment_lengths[{0}] must be positive, got {1}", i, w));
  for (auto [i, r] : llvm::enumerate(config.dilationRates))
    if (r <= 0)
      return makeRuleError(
          "C4", formatv("dilation_rates[{0}] must be positive, got {1}", i, r));
  // C5: a given scale is a finite number.
  if (config.scale && !std::isfinite(*config.scale))
    return makeRuleError("C5", "scale must be finite, got " +
                                   formatNumber(*config.scale));
  return llvm::Error::success();
}

/// C12-C16: mask kinds, shapes and sizes, shared by both ops. `batch`, `seqLen`
/// and `numHeads` may be unknown.
static llvm::Error checkMasks(const std::optional<TensorSignature> &keyPadding,
                              const std::optional<TensorSignature> &attnMask,
                              bool allowFloatKeyPadding, int64_t batch,
                              int64_t seqLen, int64_t numHeads,
                              const MaskRules &masks) {
  if (keyPadding) {
    bool kindOk = keyPadding->element == ElementKind::I1 ||
                  (allowFloatKeyPadding && isFloat(keyPadding->element));
    if (!kindOk)
      return makeRuleError(
          masks.keyPaddingKind,
          formatv("key_padding_mask must be boolean (i1){0}, got {1}",
                  allowFloatKeyPadding ? " or a float bias" : "",
                  elementText(*keyPadding)));
    llvm::SmallVector<int64_t> expected = {batch, seqLen};
    if (!compatibleShapes(keyPadding->shape, expected))
      return makeRuleError(
          masks.keyPaddingShape,
          formatv("key_padding_mask must have shape (B, N) = {0}, "
                  "got {1}",
                  formatShape(expected), formatShape(keyPadding->shape)));
  }
  if (attnMask) {
    if (attnMask->element != ElementKind::I1 && !isFloat(attnMask->element))
      return makeRuleError(
          masks.attnKind,
          formatv("attn_mask must be boolean (i1) or floating point, "
                  "got {0}",
                  elementText(*attnMask)));
    size_t rank = attnMask->shape.size();
    if (rank < 2 || rank > 4)
      return makeRuleError(
          masks.attnShape,
          formatv("attn_mask must have shape (N, N), (B, N, N) or "
                  "(B, H, N, N), got rank {0} {1}",
                  rank, formatShape(attnMask->shape)));
    llvm::SmallVector<int64_t> expected;
    std::string form;
    if (rank == 2) {
      expected = {seqLen, seqLen};
      form = "(N, N)";
    } else if (rank == 3) {
      expected = {batch, seqLen, seqLen};
      form = "(B, N, N)";
    } else {
      expected = {batch, numHeads, seqLen, seqLen};
      form = "(B, H, N, N)";
    }
    if (!compatibleShapes(attnMask->shape, expected))
      return makeRuleError(
          masks.attnShape,
          formatv("attn_mask must have shape {0} = {1}, got {2}", form,
                  formatShape(expected), formatShape(attnMask->shape)));
    if (!checkedElementCount(attnMask->shape))
      return makeRuleError(
          masks.attnCount,
          formatv("attn_mask of shape {0} has more elements than "
                  "64-bit indexing can address",
                  formatShape(attnMask->shape)));
  }
  return llvm::Error::success();
}

/// Rules shared by both ops on query, key and value (C6-C8, M1-M2): `rank`
/// dims named `layout`, one shape, one supported element type. On success
/// `known` holds the sizes known from any of the three (they are compatible).
static llvm::Error checkQueryKeyValue(const TensorSignature &query,
                                      const TensorSignature &key,
                                      const TensorSignature &value,
                                      llvm::ArrayRef<ElementKind> supported,
                                      size_t rank, llvm::StringRef layout,
                                      const OperandRules &rules,
                                      llvm::SmallVectorImpl<int64_t> &known) {
  struct Named {
    llvm::StringRef name;
    const TensorSignature *tensor;
  };
  Named qkv[] = {{"query", &query}, {"key", &key}, {"value", &value}};
  for (const Named &operand : qkv)
    if (operand.tensor->shape.size() != rank)
      return makeRuleError(
          rules.rank,
          formatv("{0} must have rank {1} {2}, got rank {3} {4}", operand.name,
                  rank, layout, operand.tensor->shape.size(),
                  formatShape(operand.tensor->shape)));
  for (const Named &operand : llvm::drop_begin(qkv))
    if (!compatibleShapes(operand.tensor->shape, query.shape))
      return makeRuleError(
          rules.shape, formatv("{0} must have the shape of query {1}, got {2}",
                               operand.name, formatShape(query.shape),
                               formatShape(operand.tensor->shape)));
  if (!llvm::is_contained(supported, query.element))
    return makeRuleError(rules.element,
                         formatv("query element type must be one of {0}, got "
                                 "{1}",
                                 formatKinds(supported), elementText(query)),
                         ErrorCode::Unsupported);
  for (const Named &operand : llvm::drop_begin(qkv))
    if (operand.tensor->element != query.element)
      return makeRuleError(
          rules.element,
          formatv("{0} element type must equal query's ({1}), got {2}",
                  operand.name, elementText(query),
                  elementText(*operand.tensor)));
  known.assign(query.shape.begin(), query.shape.end());
  for (const Named &operand : llvm::drop_begin(qkv))
    for (auto [size, other] : llvm::zip_equal(known, operand.tensor->shape))
      if (!isKnown(size))
        size = other;
  if ((isKnown(known[0]) && known[0] < 0) ||
      (isKnown(known[1]) && known[1] < 0))
    return makeRuleError(rules.sizes,
                         formatv("query sizes must not be negative, got {0}",
                                 formatShape(query.shape)));
  return llvm::Error::success();
}

llvm::Error
dilattn::checkDilatedAttention(const DilatedAttentionConfig &config,
                               const DilatedAttentionSignature &signature) {
  if (llvm::Error error = checkConfig(config))
    return error;

  // C6-C8: query, key and value are (B, N, H, D) of one shape and one
  // supported element type.
  llvm::SmallVector<int64_t, 4> known;
  if (llvm::Error error =
          checkQueryKeyValue(signature.query, signature.key, signature.value,
                             signature.supportedElements, 4, "(B, N, H, D)",
                             kDilatedOperandRules, known))
    return error;
  int64_t batch = known[0];
  int64_t seqLen = known[1];
  int64_t numHeads = known[2];
  int64_t headDim = known[3];
  // C9: non-empty heads and head dim (a batch or sequence of 0 is allowed and
  // gives an empty output; negative sizes were refused above).
  if (isKnown(numHeads) && numHeads <= 0)
    return makeRuleError(
        "C9",
        formatv("the number of heads H must be positive, got {0}", numHeads));
  if (isKnown(headDim) && headDim <= 0)
    return makeRuleError(
        "C9", formatv("the head dim D must be positive, got {0}", headDim));
  // C10: grouped mode needs a head per pattern.
  int64_t numPatterns = static_cast<int64_t>(config.numPatterns());
  if (config.mode == AttentionMode::Grouped && isKnown(numHeads) &&
      numHeads < numPatterns)
    return makeRuleError(
        "C10", formatv("num_heads ({0}) must be >= the number of patterns "
                       "({1}) in grouped mode",
                       numHeads, numPatterns));
  // C11: index arithmetic fits 64-bit integers.
  if (!checkedElementCount(known))
    return makeRuleError(
        "C11", formatv("query of shape {0} has more elements than 64-bit "
                       "indexing can address",
                       formatShape(known)));

  // C12-C16: masks.
  return checkMasks(signature.keyPaddingMask, signature.attnMask,
                    signature.allowFloatKeyPaddingMask, batch, seqLen, numHeads,
                    kDilatedMaskRules);
}

/// The sizes of `shape` where known, else those of `fallback`.
static llvm::SmallVector<int64_t, 4>
knownSizes(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> fallback) {
  llvm::SmallVector<int64_t, 4> sizes(shape.begin(), shape.end());
  for (auto [size, other] : llvm::zip(sizes, fallback))
    if (!isKnown(size))
      size = other;
  return sizes;
}

llvm::Error dilattn::checkStatistics(llvm::ArrayRef<int64_t> queryShape,
                                     const TensorSignature &logSumExp) {
  // G2: one f32 log-sum-exp per (b, x, h): kernels keep the softmax
  // statistics in f32 whatever the input type.
  llvm::ArrayRef<int64_t> rows = queryShape.take_front(3);
  if (logSumExp.element != ElementKind::F32 ||
      !compatibleShapes(logSumExp.shape, rows))
    return makeRuleError(
        "G2", formatv("lse must be f32 of shape (B, N, H) = {0}, got {1} {2}",
                      formatShape(rows), formatShape(logSumExp.shape),
                      elementText(logSumExp)));
  return llvm::Error::success();
}

llvm::Error
dilattn::checkDilatedAttentionGrad(const DilatedAttentionConfig &config,
                                   const DilatedAttentionSignature &forward,
                                   const GradientSignature &gradient) {
  if (llvm::Error error = checkDilatedAttention(config, forward))
    return error;
  llvm::SmallVector<int64_t, 4> shape = knownSizes(
      knownSizes(forward.query.shape, forward.key.shape), forward.value.shape);
  // G1: the forward output and its gradient are (B, N, H, D) like query.
  struct Named {
    llvm::StringRef name;
    const TensorSignature *tensor;
  };
  for (Named operand : {Named{"output", &gradient.output},
                        Named{"grad_output", &gradient.gradOutput}})
    if (!compatibleShapes(operand.tensor->shape, shape) ||
        operand.tensor->element != forward.query.element)
      return makeRuleError(
          "G1",
          formatv("{0} must have the shape and element type of query "
                  "{1} {2}, got {3} {4}",
                  operand.name, formatShape(shape), elementText(forward.query),
                  formatShape(operand.tensor->shape),
                  elementText(*operand.tensor)));
  return checkStatistics(shape, gradient.logSumExp);
}

llvm::Error
dilattn::checkMultiheadDilatedAttention(const DilatedAttentionConfig &config,
                                        int64_t numHeads,
                                        const MultiheadSignature &signature) {
  if (llvm::Error error = checkConfig(config))
    return error;

  // M1-M2: query, key and value are (B, N, E) of one shape and one
  // supported element type.
  llvm::SmallVector<int64_t, 4> known;
  if (llvm::Error error =
          checkQueryKeyValue(signature.query, signature.key, signature.value,
                             signature.supportedElements, 3, "(B, N, E)",
                             kMultiheadOperandRules, known))
    return error;
  int64_t batch = known[0];
  int64_t seqLen = known[1];
  int64_t embedDim = known[2];
  // M3: heads divide the embedding.
  if (numHeads <= 0)
    return makeRuleError(
        "M3", formatv("num_heads must be positive, got {0}", numHeads));
  if (isKnown(embedDim) && (embedDim <= 0 || embedDim % numHeads != 0))
    return makeRuleError(
        "M3", formatv("embed_dim ({0}) must be a positive multiple of "
                      "num_heads ({1})",
                      embedDim, numHeads));
  // M4: grouped mode needs a head per pattern.
  int64_t numPatterns = static_cast<int64_t>(config.numPatterns());
  if (config.mode == AttentionMode::Grouped && numHeads < numPatterns)
    return makeRuleError(
        "M4", formatv("num_heads ({0}) must be >= the number of patterns "
                      "({1}) in grouped mode",
                      numHeads, numPatterns));
  // M5: weights (E, E), biases and layer norm parameters (E).
  struct Param {
    llvm::StringRef name;
    const TensorSignature *tensor;
    size_t rank;
  };
  llvm::SmallVector<Param> params = {{"q_weight", &signature.queryWeight, 2},
                                     {"k_weight", &signature.keyWeight, 2},
                                     {"v_weight", &signature.valueWeight, 2},
                                     {"out_weight", &signature.outWeight, 2}};
  auto addOptional = [&](llvm::StringRef name,
                         const std::optional<TensorSignature> &tensor) {
    if (tensor)
      params.push_back({name, &*tensor, 1});
  };
  addOptional("q_bias", signature.queryBias);
  addOptional("k_bias", signature.keyBias);
  addOptional("v_bias", signature.valueBias);
  addOptional("out_bias", signature.outBias);
  addOptional("layer_norm_weight", signature.layerNormWeight);
  addOptional("layer_norm_bias", signature.layerNormBias);
  for (const Param &param : params) {
    llvm::SmallVector<int64_t> expected(param.rank, embedDim);
    if (!compatibleShapes(param.tensor->shape, expected))
      return makeRuleError(
          "M5",
          formatv("{0} must have shape {1} = {2}, got {3}", param.name,
                  param.rank == 2 ? "(E, E)" : "(E)", formatShape(expected),
                  formatShape(param.tensor->shape)));
    if (param.tensor->element != signature.query.element)
      return makeRuleError(
          "M5", formatv("{0} element type must equal query's ({1}), got {2}",
                        param.name, elementText(signature.query),
                        elementText(*param.tensor)));
  }
  // M6: layer norm weight and bias come together.
  if (signature.layerNormWeight.has_value() !=
      signature.layerNormBias.has_value())
    return makeRuleError(
        "M6", "layer_norm_weight and layer_norm_bias must be given together");
  // M7: index arithmetic fits 64-bit integers.
  if (!checkedElementCount(known))
    return makeRuleError(
        "M7", formatv("query of shape {0} has more elements than 64-bit "
                      "indexing can address",
                      formatShape(known)));
  if (!checkedElementCount(signature.queryWeight.shape))
    return makeRuleError(
        "M7", formatv("q_weight of shape {0} has more elements than 64-bit "
                      "indexing can address",
                      formatShape(signature.queryWeight.shape)));
  // M8: masks, with H = num_heads.
  return checkMasks(signature.keyPaddingMask, signature.attnMask,
                    /*allowFloatKeyPadding=*/false, batch, seqLen, numHeads,
                    kMultiheadMaskRules);
}

//===----------------------------------------------------------------------===//
// Pattern geometry
//===----------------------------------------------------------------------===//

HeadRange dilattn::groupHeads(int64_t numHeads, int64_t numPatterns,
                              int64_t group) {
  int64_t base = numHeads / numPatterns;
  int64_t extra = numHeads % numPatterns;
  int64_t begin = group * base + std::min(group, extra);
  int64_t size = base + (group < extra ? 1 : 0);
  return {begin, begin + size};
}

int64_t dilattn::groupOfHead(int64_t numHeads, int64_t numPatterns,
                             int64_t head) {
  for (int64_t group = 0; group < numPatterns; ++group)
    if (head < groupHeads(numHeads, numPatterns, group).end)
      return group;
  return numPatterns - 1;
}

bool dilattn::headUsesPattern(const DilatedAttentionConfig &config,
                              int64_t numHeads, int64_t pattern, int64_t head) {
  if (config.mode == AttentionMode::LongNet)
    return true;
  return groupOfHead(numHeads, static_cast<int64_t>(config.numPatterns()),
                     head) == pattern;
}

int64_t dilattn::patternOffset(const DilatedAttentionConfig &config,
                               int64_t numHeads, int64_t pattern,
                               int64_t head) {
  int64_t rate = config.dilationRates[pattern];
  if (config.mode == AttentionMode::Grouped)
    return pattern % rate;
  if (config.offsetRule == OffsetRule::Cyclic)
    return head % rate;
  int64_t block = llvm::divideCeil(numHeads, rate);
  return head / block;
}

int64_t dilattn::defaultBlockSize(const DilatedAttentionConfig &config,
                                  int64_t headDim, int64_t numStates) {
  int64_t maxRate = 1;
  for (int64_t rate : config.dilationRates)
    maxRate = std::max(maxRate, rate);
  // block / 64 < maxRate, not block < 64 * maxRate: rates from the C API
  // are unbounded and the product overflows.
  int64_t block = 64;
  while (block / 64 < maxRate && block < (int64_t(1) << 16))
    block *= 2;
  // Saturating: head dims from the C API are unbounded, and a row too large
  // for the budget just gives the smallest block (the code generators then
  // refuse what does not fit their scratch budget, with a message).
  uint64_t rowBytes = llvm::SaturatingMultiply(
      llvm::SaturatingAdd(static_cast<uint64_t>(std::max<int64_t>(headDim, 0)),
                          uint64_t(2)),
      uint64_t(4));
  uint64_t stateBytes = llvm::SaturatingMultiply(
      rowBytes, static_cast<uint64_t>(std::max<int64_t>(numStates, 1)));
  while (block > 16 &&
         llvm::SaturatingMultiply(static_cast<uint64_t>(block), stateBytes) >
             (uint64_t(256) << 10))
    block /= 2;
  return block;
}

double dilattn::effectiveFlops(const DilatedAttentionConfig &config,
                               int64_t batch, int64_t seqLen, int64_t numHeads,
                               int64_t headDim) {
  double flops = 0;
  int64_t numPatterns = static_cast<int64_t>(config.numPatterns());
  for (int64_t i = 0; i < numPatterns; ++i) {
    double heads;
    if (config.mode == AttentionMode::LongNet) {
      heads = static_cast<double>(numHeads);
    } else {
      HeadRange range = groupHeads(numHeads, numPatterns, i);
      heads = static_cast<double>(range.end - range.begin);
    }
    double w = static_cast<double>(config.segmentLengths[i]);
    double r = static_cast<double>(config.dilationRates[i]);
    flops += 4.0 * batch * heads * (seqLen / w) * (w / r) * (w / r) * headDim;
  }
  return config.causal ? flops / 2 : flops;
}
