//===- DilAttnOps.cpp - dilattn operations --------------------------------===//
//
// Verification delegates to the shared rule checks of dilattn/Support so that
// the IR, the runtime and the APIs refuse the same calls with the same
// messages (docs/Constraints.md lists them in checking order).
//
//===----------------------------------------------------------------------===//

#include "dilattn/Dialect/DilAttn/IR/DilAttn.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/ErrorHandling.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::dilattn;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

static ::dilattn::ElementKind elementKindOf(Type type) {
  if (type.isF32())
    return ::dilattn::ElementKind::F32;
  if (type.isF16())
    return ::dilattn::ElementKind::F16;
  if (type.isBF16())
    return ::dilattn::ElementKind::BF16;
  if (type.isF64())
    return ::dilattn::ElementKind::F64;
  if (type.isInteger(1))
    return ::dilattn::ElementKind::I1;
  return ::dilattn::ElementKind::Other;
}

static ::dilattn::TensorSignature signatureOf(Value value) {
  auto type = cast<ShapedType>(value.getType());
  ::dilattn::TensorSignature signature;
  for (int64_t size : type.getShape())
    signature.shape.push_back(
        ShapedType::isDynamic(size) ? ::dilattn::kDynamicSize : size);
  signature.element = elementKindOf(type.getElementType());
  llvm::raw_string_ostream(signature.elementName) << type.getElementType();
  return signature;
}

static std::optional<::dilattn::TensorSignature>
optionalSignatureOf(Value value) {
  if (!value)
    return std::nullopt;
  return signatureOf(value);
}

/// The operand signatures of an op with query/key/value and the two optional
/// masks (tensor or buffer form). Masks may already be float biases in IR.
template <typename OpTy>
static ::dilattn::DilatedAttentionSignature attentionSignature(OpTy op) {
  ::dilattn::DilatedAttentionSignature signature;
  signature.query = signatureOf(op.getQuery());
  signature.key = signatureOf(op.getKey());
  signature.value = signatureOf(op.getValue());
  signature.keyPaddingMask = optionalSignatureOf(op.getKeyPaddingMask());
  signature.attnMask = optionalSignatureOf(op.getAttnMask());
  signature.allowFloatKeyPaddingMask = true;
  return signature;
}

AttentionMode mlir::dilattn::toIR(::dilattn::AttentionMode mode) {
  switch (mode) {
  case ::dilattn::AttentionMode::Grouped:
    return AttentionMode::grouped;
  case ::dilattn::AttentionMode::LongNet:
    return AttentionMode::longnet;
  }
  llvm_unreachable("unknown attention mode");
}

OffsetRule mlir::dilattn::toIR(::dilattn::OffsetRule rule) {
  switch (rule) {
  case ::dilattn::OffsetRule::Cyclic:
    return OffsetRule::cyclic;
  case ::dilattn::OffsetRule::Blocked:
    return OffsetRule::blocked;
  }
  llvm_unreachable("unknown offset rule");
}

::dilattn::AttentionMode mlir::dilattn::fromIR(AttentionMode mode) {
  switch (mode) {
  case AttentionMode::grouped:
    return ::dilattn::AttentionMode::Grouped;
  case AttentionMode::longnet:
    return ::dilattn::AttentionMode::LongNet;
  }
  llvm_unreachable("unknown attention mode");
}

::dilattn::OffsetRule mlir::dilattn::fromIR(OffsetRule rule) {
  switch (rule) {
  case OffsetRule::cyclic:
    return ::dilattn::OffsetRule::Cyclic;
  case OffsetRule::blocked:
    return ::dilattn::OffsetRule::Blocked;
  }
  llvm_unreachable("unknown offset rule");
}

static ::dilattn::DilatedAttentionConfig
makeConfig(ArrayRef<int64_t> segmentLengths, ArrayRef<int64_t> dilationRates,
           AttentionMode mode, OffsetRule offsetRule, bool causal,
           std::optional<APFloat> scale) {
  ::dilattn::DilatedAttentionConfig config;
  config.segmentLengths.assign(segmentLengths.begin(), segmentLengths.end());
  config.dilationRates.assign(dilationRates.begin(), dilationRates.end());
  config.mode = fromIR(mode);
  config.offsetRule = fromIR(offsetRule);
  config.causal = causal;
  if (scale)
    config.scale = scale->convertToDouble();
  return config;
}

static LogicalResult emitRuleError(Operation *op, llvm::Error error) {
  std::string message = llvm::toString(std::move(error));
  return op->emitOpError() << message;
}

/// The op-level rule after the shared checks: the result has the query's
/// element type and a compatible shape (constraint C17 / M9).
static LogicalResult verifyResultMatchesQuery(Operation *op, Value query,
                                              Value result) {
  auto queryType = cast<RankedTensorType>(query.getType());
  auto resultType = cast<RankedTensorType>(result.getType());
  if (queryType.getElementType() != resultType.getElementType() ||
      failed(verifyCompatibleShape(queryType, resultType)))
    return op->emitOpError() << "result type must match the query type "
                             << queryType << ", got " << resultType;
  return success();
}

/// Whether `mask` is a constant that masks nothing: an all-false boolean mask
/// or an all-zero bias.
static bool isTrivialMask(Value mask) {
  if (!mask)
    return false;
  DenseElementsAttr constant;
  if (!matchPattern(mask, m_Constant(&constant)) || !constant.isSplat())
    return false;
  Type element = constant.getElementType();
  if (element.isInteger(1))
    return !constant.getSplatValue<bool>();
  if (isa<FloatType>(element))
    return constant.getSplatValue<APFloat>().isZero();
  return false;
}

//===----------------------------------------------------------------------===//
// DilatedAttentionOp
//===----------------------------------------------------------------------===//

void DilatedAttentionOp::build(OpBuilder &builder, OperationState &state,
                               Value query, Value key, Value value,
                               ArrayRef<int64_t> segmentLengths,
                               ArrayRef<int64_t> dilationRates,
                               AttentionMode mode, bool causal) {
  build(builder, state, query.getType(), query, key, value,
        /*key_padding_mask=*/Value(), /*attn_mask=*/Value(),
        builder.getDenseI64ArrayAttr(segmentLengths),
        builder.getDenseI64ArrayAttr(dilationRates),
        AttentionModeAttr::get(builder.getContext(), mode),
        OffsetRuleAttr::get(builder.getContext(), OffsetRule::cyclic),
        causal ? builder.getUnitAttr() : nullptr, /*scale=*/nullptr);
}

::dilattn::DilatedAttentionConfig DilatedAttentionOp::getConfig() {
  return makeConfig(getSegmentLengths(), getDilationRates(), getMode(),
                    getOffsetRule(), getCausal(), getScale());
}

LogicalResult DilatedAttentionOp::verify() {
  ::dilattn::DilatedAttentionSignature signature = attentionSignature(*this);
  if (llvm::Error error =
          ::dilattn::checkDilatedAttention(getConfig(), signature))
    return emitRuleError(*this, std::move(error));
  return verifyResultMatchesQuery(*this, getQuery(), getResult());
}

namespace {
/// Drops mask operands that mask nothing (all-false or all-zero constants).
template <typename AttentionOpTy>
struct DropTrivialMasks : OpRewritePattern<AttentionOpTy> {
  using OpRewritePattern<AttentionOpTy>::OpRewritePattern;

  LogicalResult matchAndRewrite(AttentionOpTy op,
                                PatternRewriter &rewriter) const override {
    bool dropKeyPadding = isTrivialMask(op.getKeyPaddingMask());
    bool dropAttnMask = isTrivialMask(op.getAttnMask());
    if (!dropKeyPadding && !dropAttnMask)
      return failure();
    rewriter.modifyOpInPlace(op, [&] {
      if (dropKeyPadding)
        op.getKeyPaddingMaskMutable().clear();
      if (dropAttnMask)
        op.getAttnMaskMutable().clear();
    });
    return success();
  }
};

/// One pattern of dilation 1 whose segment covers the whole (static) sequence
/// is plain attention, in both modes.
struct FoldToPlainAttention : OpRewritePattern<DilatedAttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DilatedAttentionOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getNumPatterns() != 1 || op.getDilationRates()[0] != 1)
      return failure();
    int64_t seqLen =
        cast<RankedTensorType>(op.getQuery().getType()).getDimSize(1);
    if (ShapedType::isDynamic(seqLen) || op.getSegmentLengths()[0] < seqLen)
      return failure();
    rewriter.replaceOpWithNewOp<AttentionOp>(
        op, op.getType(), op.getQuery(), op.getKey(), op.getValue(),
        op.getKeyPaddingMask(), op.getAttnMask(), op.getCausalAttr(),
        op.getScaleAttr());
    return success();
  }
};

/// Segment lengths beyond a static sequence length select exactly what a
/// segment of the whole sequence selects: clamp them so equal calls look
/// equal (and share one kernel).
struct ClampSegmentLengths : OpRewritePattern<DilatedAttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DilatedAttentionOp op,
                                PatternRewriter &rewriter) const override {
    int64_t seqLen =
        cast<RankedTensorType>(op.getQuery().getType()).getDimSize(1);
    if (ShapedType::isDynamic(seqLen) || seqLen <= 0)
      return failure();
    ArrayRef<int64_t> lengths = op.getSegmentLengths();
    if (llvm::none_of(lengths, [&](int64_t w) { return w > seqLen; }))
      return failure();
    SmallVector<int64_t> clamped = llvm::map_to_vector(
        lengths, [&](int64_t w) { return std::min(w, seqLen); });
    rewriter.modifyOpInPlace(op, [&] { op.setSegmentLengths(clamped); });
    return success();
  }
};

/// The offset rule only matters in longnet mode with some dilation > 1.
struct CanonicalizeOffsetRule : OpRewritePattern<DilatedAttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DilatedAttentionOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getOffsetRule() == OffsetRule::cyclic)
      return failure();
    bool matters =
        op.getMode() == AttentionMode::longnet &&
        llvm::any_of(op.getDilationRates(), [](int64_t r) { return r > 1; });
    if (matters)
      return failure();
    rewriter.modifyOpInPlace(op, [&] { op.setOffsetRule(OffsetRule::cyclic); });
    return success();
  }
};
} // namespace

void DilatedAttentionOp::getCanonicalizationPatterns(
    RewritePatternSet &patterns, MLIRContext *context) {
  patterns.add<DropTrivialMasks<DilatedAttentionOp>, FoldToPlainAttention,
               ClampSegmentLengths, CanonicalizeOffsetRule>(context);
}

//===----------------------------------------------------------------------===//
// DilatedAttentionWithLseOp
//===----------------------------------------------------------------------===//

/// The known sizes of `value`'s type, kDynamicSize where dynamic.
static SmallVector<int64_t> contractShape(Value value) {
  return llvm::map_to_vector(
      cast<ShapedType>(value.getType()).getShape(), [](int64_t size) {
        return ShapedType::isDynamic(size) ? ::dilattn::kDynamicSize : size;
      });
}

::dilattn::DilatedAttentionConfig DilatedAttentionWithLseOp::getConfig() {
  return makeConfig(getSegmentLengths(), getDilationRates(), getMode(),
                    getOffsetRule(), getCausal(), getScale());
}

LogicalResult DilatedAttentionWithLseOp::verify() {
  ::dilattn::DilatedAttentionSignature signature = attentionSignature(*this);
  if (llvm::Error error =
          ::dilattn::checkDilatedAttention(getConfig(), signature))
    return emitRuleError(*this, std::move(error));
  if (failed(verifyResultMatchesQuery(*this, getQuery(), getResult())))
    return failure();
  if (llvm::Error error = ::dilattn::checkStatistics(contractShape(getQuery()),
                                                     signatureOf(getLse())))
    return emitRuleError(*this, std::move(error));
  return success();
}

//===----------------------------------------------------------------------===//
// DilatedAttentionGradOp
//===----------------------------------------------------------------------===//

::dilattn::DilatedAttentionConfig DilatedAttentionGradOp::getConfig() {
  return makeConfig(getSegmentLengths(), getDilationRates(), getMode(),
                    getOffsetRule(), getCausal(), getScale());
}

LogicalResult DilatedAttentionGradOp::verify() {
  ::dilattn::GradientSignature gradient;
  gradient.output = signatureOf(getOutput());
  gradient.logSumExp = signatureOf(getLse());
  gradient.gradOutput = signatureOf(getGradOutput());
  if (llvm::Error error = ::dilattn::checkDilatedAttentionGrad(
          getConfig(), attentionSignature(*this), gradient))
    return emitRuleError(*this, std::move(error));
  // G3: each gradient has the type of what it differentiates.
  for (auto [name, input, grad] :
       {std::tuple("grad_query", getQuery(), getGradQuery()),
        std::tuple("grad_key", getKey(), getGradKey()),
        std::tuple("grad_value", getValue(), getGradValue())}) {
    auto inputType = cast<RankedTensorType>(input.getType());
    auto gradType = cast<RankedTensorType>(grad.getType());
    if (inputType.getElementType() != gradType.getElementType() ||
        failed(verifyCompatibleShape(inputType, gradType)))
      return emitOpError() << name << " type must match its input's type "
                           << inputType << ", got " << gradType;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  // Plain attention is one pattern of dilation 1 over the whole sequence; the
  // shared checks then cover exactly the operand rules.
  ::dilattn::DilatedAttentionConfig config;
  config.segmentLengths = {1};
  config.dilationRates = {1};
  config.causal = getCausal();
  if (std::optional<APFloat> scale = getScale())
    config.scale = scale->convertToDouble();
  ::dilattn::DilatedAttentionSignature signature = attentionSignature(*this);
  if (llvm::Error error = ::dilattn::checkDilatedAttention(config, signature))
    return emitRuleError(*this, std::move(error));
  return verifyResultMatchesQuery(*this, getQuery(), getResult());
}

void AttentionOp::getCanonicalizationPatterns(RewritePatternSet &patterns,
                                              MLIRContext *context) {
  patterns.add<DropTrivialMasks<AttentionOp>>(context);
}

//===----------------------------------------------------------------------===//
// MultiheadDilatedAttentionOp
//===----------------------------------------------------------------------===//

::dilattn::DilatedAttentionConfig MultiheadDilatedAttentionOp::getConfig() {
  return makeConfig(getSegmentLengths(), getDilationRates(), getMode(),
                    getOffsetRule(), getCausal(), getScale());
}

LogicalResult MultiheadDilatedAttentionOp::verify() {
  ::dilattn::MultiheadSignature signature;
  signature.query = signatureOf(getQuery());
  signature.key = signatureOf(getKey());
  signature.value = signatureOf(getValue());
  signature.queryWeight = signatureOf(getQWeight());
  signature.keyWeight = signatureOf(getKWeight());
  signature.valueWeight = signatureOf(getVWeight());
  signature.outWeight = signatureOf(getOutWeight());
  signature.queryBias = optionalSignatureOf(getQBias());
  signature.keyBias = optionalSignatureOf(getKBias());
  signature.valueBias = optionalSignatureOf(getVBias());
  signature.outBias = optionalSignatureOf(getOutBias());
  signature.layerNormWeight = optionalSignatureOf(getLayerNormWeight());
  signature.layerNormBias = optionalSignatureOf(getLayerNormBias());
  signature.keyPaddingMask = optionalSignatureOf(getKeyPaddingMask());
  signature.attnMask = optionalSignatureOf(getAttnMask());
  if (llvm::Error error = ::dilattn::checkMultiheadDilatedAttention(
          getConfig(), getNumHeads(), signature))
    return emitRuleError(*this, std::move(error));
  // The pretty form gives all four biases or none; so must the generic form.
  int numBiases = (getQBias() ? 1 : 0) + (getKBias() ? 1 : 0) +
                  (getVBias() ? 1 : 0) + (getOutBias() ? 1 : 0);
  if (numBiases != 0 && numBiases != 4)
    return emitOpError() << "q_bias, k_bias, v_bias and out_bias must be given "
                            "all together or not at all, got "
                         << numBiases << " of 4";
  double eps = getLayerNormEps().convertToDouble();
  if (!(eps > 0) || !std::isfinite(eps))
    return emitOpError() << "layer_norm_eps must be positive and finite, got "
                         << ::dilattn::formatNumber(eps);
  return verifyResultMatchesQuery(*this, getQuery(), getResult());
}

//===----------------------------------------------------------------------===//
// MaskToBiasOp
//===----------------------------------------------------------------------===//

LogicalResult MaskToBiasOp::verify() {
  auto maskType = cast<RankedTensorType>(getMask().getType());
  auto biasType = cast<RankedTensorType>(getBias().getType());
  if (!maskType.getElementType().isInteger(1))
    return emitOpError() << "mask must be a boolean (i1) tensor, got "
                         << maskType;
  if (!isa<FloatType>(biasType.getElementType()))
    return emitOpError() << "bias must be a floating-point tensor, got "
                         << biasType;
  if (failed(verifyCompatibleShape(maskType, biasType)))
    return emitOpError() << "bias shape must equal the mask shape "
                         << ::dilattn::formatShape(maskType.getShape())
                         << ", got "
                         << ::dilattn::formatShape(biasType.getShape());
  return success();
}

OpFoldResult MaskToBiasOp::fold(FoldAdaptor adaptor) {
  auto constant = dyn_cast_if_present<DenseElementsAttr>(adaptor.getMask());
  auto biasType = cast<RankedTensorType>(getBias().getType());
  if (!constant || !constant.isSplat() || !biasType.hasStaticShape())
    return {};
  auto floatType = cast<FloatType>(biasType.getElementType());
  APFloat bias = constant.getSplatValue<bool>()
                     ? APFloat::getInf(floatType.getFloatSemantics(),
                                       /*Negative=*/true)
                     : APFloat::getZero(floatType.getFloatSemantics());
  return DenseElementsAttr::get(biasType, bias);
}

//===----------------------------------------------------------------------===//
// WriteDilatedAttentionOp
//===----------------------------------------------------------------------===//

::dilattn::DilatedAttentionConfig WriteDilatedAttentionOp::getConfig() {
  return makeConfig(getSegmentLengths(), getDilationRates(), getMode(),
                    getOffsetRule(), getCausal(), getScale());
}

LogicalResult WriteDilatedAttentionOp::verify() {
  ::dilattn::DilatedAttentionSignature signature = attentionSignature(*this);
  if (llvm::Error error =
          ::dilattn::checkDilatedAttention(getConfig(), signature))
    return emitRuleError(*this, std::move(error));
  // Buffer-form rule: masks are already normalised to biases.
  for (Value mask : {Value(getKeyPaddingMask()), Value(getAttnMask())})
    if (mask && !isa<FloatType>(getElementTypeOrSelf(mask.getType())))
      return emitOpError() << "masks must be float biases in buffer form "
                              "(run dilattn-normalize-masks first), got "
                           << mask.getType();
  // Rows are loaded as vectors: the head dim must be contiguous.
  for (Value rows : {getQuery(), getKey(), getValue(), getOutput()}) {
    auto type = cast<MemRefType>(rows.getType());
    auto [strides, offset] = type.getStridesAndOffset();
    (void)offset;
    if (strides.back() != 1)
      return emitOpError() << "query, key, value and output must have a unit "
                              "stride along the head dim, got "
                           << type;
  }
  auto queryType = cast<MemRefType>(getQuery().getType());
  auto outputType = cast<MemRefType>(getOutput().getType());
  if (queryType.getElementType() != outputType.getElementType() ||
      failed(
          verifyCompatibleShape(queryType.getShape(), outputType.getShape())))
    return emitOpError() << "output must have the query's shape and element "
                            "type "
                         << queryType << ", got " << outputType;
  if (static_cast<bool>(getItemBegin()) != static_cast<bool>(getItemEnd()))
    return emitOpError() << "item_begin and item_end must be given together";
  if (Value lse = getLse())
    if (llvm::Error error = ::dilattn::checkStatistics(
            contractShape(getQuery()), signatureOf(lse)))
      return emitRuleError(*this, std::move(error));
  // The attribute is signless; read it as the signed value it was written as.
  if (static_cast<int64_t>(getBlockSize()) <= 0)
    return emitOpError() << "block_size must be positive, got "
                         << static_cast<int64_t>(getBlockSize());
  return success();
}

//===----------------------------------------------------------------------===//
// SegmentAttentionOp
//===----------------------------------------------------------------------===//

LogicalResult SegmentAttentionOp::verify() {
  auto queryType = cast<MemRefType>(getQuery().getType());
  int64_t headDim = queryType.getDimSize(1);
  for (Value rows : {getKey(), getValue(), getStateAcc()}) {
    auto type = cast<MemRefType>(rows.getType());
    if (failed(verifyCompatibleShape(ArrayRef<int64_t>{type.getDimSize(1)},
                                     ArrayRef<int64_t>{headDim})))
      return emitOpError() << "query, key, value and state_acc must have the "
                              "same head dim, got "
                           << queryType << " and " << type;
  }
  auto keyType = cast<MemRefType>(getKey().getType());
  auto valueType = cast<MemRefType>(getValue().getType());
  if (failed(verifyCompatibleShape(ArrayRef<int64_t>{keyType.getDimSize(0)},
                                   ArrayRef<int64_t>{valueType.getDimSize(0)})))
    return emitOpError() << "key and value must have the same number of rows";
  int64_t numQueries = queryType.getDimSize(0);
  for (Value state : {getStateMax(), getStateSum(), getStateAcc()}) {
    auto type = cast<MemRefType>(state.getType());
    if (!type.getElementType().isF32())
      return emitOpError() << "states must be f32, got " << type;
    if (failed(verifyCompatibleShape(ArrayRef<int64_t>{type.getDimSize(0)},
                                     ArrayRef<int64_t>{numQueries})))
      return emitOpError() << "states must have one row per query";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// WriteStatesOp
//===----------------------------------------------------------------------===//

LogicalResult WriteStatesOp::verify() {
  size_t numStates = getStateMaxes().size();
  if (numStates == 0 || getStateSums().size() != numStates ||
      getStateAccs().size() != numStates)
    return emitOpError() << "expects one or more states, each with a max, a "
                            "sum and an acc";
  auto outputType = cast<MemRefType>(getOutput().getType());
  for (Value state :
       llvm::concat<Value>(getStateMaxes(), getStateSums(), getStateAccs()))
    if (!getElementTypeOrSelf(state.getType()).isF32())
      return emitOpError() << "states must be f32, got " << state.getType();
  if (Value lse = getLse()) {
    auto lseType = cast<MemRefType>(lse.getType());
    if (!lseType.getElementType().isF32() ||
        failed(
            verifyCompatibleShape(ArrayRef<int64_t>{lseType.getDimSize(0)},
                                  ArrayRef<int64_t>{outputType.getDimSize(0)})))
      return emitOpError() << "lse must be f32 with one row per output row, "
                              "got "
                           << lseType;
  }
  for (Value acc : getStateAccs())
    if (failed(verifyCompatibleShape(cast<MemRefType>(acc.getType()).getShape(),
                                     outputType.getShape())))
      return emitOpError() << "state accs must have the output's shape";
  return success();
}

//===----------------------------------------------------------------------===//
// WriteDilatedAttentionGradOp
//===----------------------------------------------------------------------===//

::dilattn::DilatedAttentionConfig WriteDilatedAttentionGradOp::getConfig() {
  return makeConfig(getSegmentLengths(), getDilationRates(), getMode(),
                    getOffsetRule(), getCausal(), getScale());
}

LogicalResult WriteDilatedAttentionGradOp::verify() {
  ::dilattn::GradientSignature gradient;
  gradient.output = signatureOf(getOutput());
  gradient.logSumExp = signatureOf(getLse());
  gradient.gradOutput = signatureOf(getGradOutput());
  if (llvm::Error error = ::dilattn::checkDilatedAttentionGrad(
          getConfig(), attentionSignature(*this), gradient))
    return emitRuleError(*this, std::move(error));
  for (Value mask : {Value(getKeyPaddingMask()), Value(getAttnMask())})
    if (mask && !isa<FloatType>(getElementTypeOrSelf(mask.getType())))
      return emitOpError() << "masks must be float biases in buffer form "
                              "(run dilattn-normalize-masks first), got "
                           << mask.getType();
  auto queryType = cast<MemRefType>(getQuery().getType());
  for (Value rows :
       {getQuery(), getKey(), getValue(), getOutput(), getGradOutput(),
        getGradQuery(), getGradKey(), getGradValue()}) {
    auto type = cast<MemRefType>(rows.getType());
    auto [strides, offset] = type.getStridesAndOffset();
    (void)offset;
    if (strides.back() != 1)
      return emitOpError() << "row operands must have a unit stride along "
                              "the head dim, got "
                           << type;
    if (type.getElementType() != queryType.getElementType() ||
        failed(verifyCompatibleShape(queryType.getShape(), type.getShape())))
      return emitOpError() << "gradients must have the query's shape and "
                              "element type "
                           << queryType << ", got " << type;
  }
  if (static_cast<bool>(getItemBegin()) != static_cast<bool>(getItemEnd()))
    return emitOpError() << "item_begin and item_end must be given together";
  return success();
}

//===----------------------------------------------------------------------===//
// SegmentAttentionGradOp
//===----------------------------------------------------------------------===//

LogicalResult SegmentAttentionGradOp::verify() {
  auto queryType = cast<MemRefType>(getQuery().getType());
  int64_t headDim = queryType.getDimSize(1);
  int64_t numQueries = queryType.getDimSize(0);
  int64_t numKeys = cast<MemRefType>(getKey().getType()).getDimSize(0);
  struct Rows {
    Value value;
    int64_t count;
  };
  for (Rows rows :
       {Rows{getOutput(), numQueries}, Rows{getGradOutput(), numQueries},
        Rows{getGradQuery(), numQueries}, Rows{getKey(), numKeys},
        Rows{getValue(), numKeys}, Rows{getGradKey(), numKeys},
        Rows{getGradValue(), numKeys}}) {
    auto type = cast<MemRefType>(rows.value.getType());
    if (failed(verifyCompatibleShape(ArrayRef<int64_t>{rows.count, headDim},
                                     type.getShape())))
      return emitOpError() << "query-side operands must have the query's "
                              "rows and every operand the head dim "
                           << headDim << ", got " << type;
  }
  auto lseType = cast<MemRefType>(getLse().getType());
  if (!lseType.getElementType().isF32() ||
      failed(verifyCompatibleShape(ArrayRef<int64_t>{lseType.getDimSize(0)},
                                   ArrayRef<int64_t>{numQueries})))
    return emitOpError() << "lse must be f32 with one row per query, got "
                         << lseType;
  return success();
}

#define GET_OP_CLASSES
#include "dilattn/Dialect/DilAttn/IR/DilAttnOps.cpp.inc"
