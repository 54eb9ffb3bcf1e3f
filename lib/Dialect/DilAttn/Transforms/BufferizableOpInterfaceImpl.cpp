//===- BufferizableOpInterfaceImpl.cpp - bufferization of attention ops ---===//
//
// One-Shot Bufferize support for the tensor-level attention ops: each reads
// its operands' buffers and writes a new buffer through
// dilattn.write_dilated_attention, the form segment tiling starts from. With
// this, whole functions (dilattn ops among linalg, tensor and arith ops)
// bufferize with the upstream pass.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Dialect/DilAttn/Transforms/BufferizableOpInterfaceImpl.h"

#include "dilattn/Dialect/DilAttn/IR/DilAttn.h"

#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::bufferization;
using namespace mlir::dilattn;

/// The sizes of `buffer` that are dynamic in `type` (the shape of the buffer
/// to allocate for it).
static SmallVector<Value> dynamicSizesOf(OpBuilder &builder, Location loc,
                                         ShapedType type, Value buffer) {
  SmallVector<Value> sizes;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (type.isDynamicDim(i))
      sizes.push_back(memref::DimOp::create(builder, loc, buffer, i));
  return sizes;
}

/// The buffer of `value`, copied into an identity-layout buffer when its head
/// dim is not contiguous (kernels load rows as vectors).
static FailureOr<Value> contiguousBuffer(RewriterBase &rewriter, Location loc,
                                         Value value,
                                         const BufferizationOptions &options,
                                         BufferizationState &state) {
  FailureOr<Value> buffer = getBuffer(rewriter, value, options, state);
  if (failed(buffer))
    return failure();
  auto type = cast<MemRefType>(buffer->getType());
  auto [strides, offset] = type.getStridesAndOffset();
  (void)offset;
  if (strides.empty() || strides.back() == 1)
    return buffer;
  SmallVector<Value> dynamicSizes =
      dynamicSizesOf(rewriter, loc, type, *buffer);
  auto contiguous = MemRefType::get(type.getShape(), type.getElementType());
  FailureOr<Value> copy =
      options.createAlloc(rewriter, loc, contiguous, dynamicSizes);
  if (failed(copy))
    return failure();
  if (failed(options.createMemCpy(rewriter, loc, *buffer, *copy)))
    return failure();
  return copy;
}

/// Replaces an attention op on tensors by write_dilated_attention into a new
/// buffer with the given patterns.
template <typename OpTy>
static LogicalResult
bufferizeAttention(OpTy op, RewriterBase &rewriter,
                   const BufferizationOptions &options,
                   BufferizationState &state, ArrayRef<int64_t> segmentLengths,
                   ArrayRef<int64_t> dilationRates, AttentionMode mode,
                   OffsetRule offsetRule, RankedTensorType lseType = nullptr) {
  Location loc = op.getLoc();
  SmallVector<Value> buffers;
  for (Value operand : {op.getQuery(), op.getKey(), op.getValue(),
                        op.getKeyPaddingMask(), op.getAttnMask()}) {
    if (!operand) {
      buffers.push_back(Value());
      continue;
    }
    FailureOr<Value> buffer =
        contiguousBuffer(rewriter, loc, operand, options, state);
    if (failed(buffer))
      return failure();
    buffers.push_back(*buffer);
  }
  auto resultType = cast<RankedTensorType>(op.getResult().getType());
  SmallVector<Value> dynamicSizes =
      dynamicSizesOf(rewriter, loc, resultType, buffers[0]);
  auto outputType =
      MemRefType::get(resultType.getShape(), resultType.getElementType());
  FailureOr<Value> output =
      options.createAlloc(rewriter, loc, outputType, dynamicSizes);
  if (failed(output))
    return failure();
  // The statistics: (B, N, H), the query's leading sizes.
  FailureOr<Value> lse = Value();
  if (lseType) {
    SmallVector<Value> rowSizes =
        dynamicSizesOf(rewriter, loc, lseType, buffers[0]);
    lse = options.createAlloc(
        rewriter, loc,
        MemRefType::get(lseType.getShape(), lseType.getElementType()),
        rowSizes);
    if (failed(lse))
      return failure();
  }

  ::dilattn::DilatedAttentionConfig config;
  config.segmentLengths.assign(segmentLengths.begin(), segmentLengths.end());
  config.dilationRates.assign(dilationRates.begin(), dilationRates.end());
  int64_t headDim = resultType.getDimSize(3);
  int64_t blockSize = ::dilattn::defaultBlockSize(
      config, ShapedType::isDynamic(headDim) ? 128 : headDim, /*numStates=*/1);
  std::optional<APFloat> scale = op.getScale();
  WriteDilatedAttentionOp::create(
      rewriter, loc, buffers[0], buffers[1], buffers[2], buffers[3], buffers[4],
      *output, *lse, /*item_begin=*/Value(), /*item_end=*/Value(),
      rewriter.getDenseI64ArrayAttr(segmentLengths),
      rewriter.getDenseI64ArrayAttr(dilationRates),
      AttentionModeAttr::get(rewriter.getContext(), mode),
      OffsetRuleAttr::get(rewriter.getContext(), offsetRule),
      op.getCausal() ? rewriter.getUnitAttr() : nullptr,
      scale ? rewriter.getF64FloatAttr(scale->convertToDouble()) : nullptr,
      rewriter.getI64IntegerAttr(blockSize));
  if (lseType)
    replaceOpWithBufferizedValues(rewriter, op, {*output, *lse});
  else
    replaceOpWithBufferizedValues(rewriter, op, *output);
  return success();
}

/// The backward op becomes write_dilated_attention_grad into three new
/// buffers.
static LogicalResult bufferizeGrad(DilatedAttentionGradOp op,
                                   RewriterBase &rewriter,
                                   const BufferizationOptions &options,
                                   BufferizationState &state) {
  Location loc = op.getLoc();
  SmallVector<Value> buffers;
  for (Value operand :
       {op.getQuery(), op.getKey(), op.getValue(), op.getOutput(),
        op.getGradOutput(), op.getKeyPaddingMask(), op.getAttnMask()}) {
    if (!operand) {
      buffers.push_back(Value());
      continue;
    }
    FailureOr<Value> buffer =
        contiguousBuffer(rewriter, loc, operand, options, state);
    if (failed(buffer))
      return failure();
    buffers.push_back(*buffer);
  }
  FailureOr<Value> lse = getBuffer(rewriter, op.getLse(), options, state);
  if (failed(lse))
    return failure();
  SmallVector<Value> grads;
  for (Value result : op->getResults()) {
    auto type = cast<RankedTensorType>(result.getType());
    FailureOr<Value> grad = options.createAlloc(
        rewriter, loc, MemRefType::get(type.getShape(), type.getElementType()),
        dynamicSizesOf(rewriter, loc, type, buffers[0]));
    if (failed(grad))
      return failure();
    grads.push_back(*grad);
  }
  std::optional<APFloat> scale = op.getScale();
  WriteDilatedAttentionGradOp::create(
      rewriter, loc, buffers[0], buffers[1], buffers[2], buffers[3], *lse,
      buffers[4], buffers[5], buffers[6], grads[0], grads[1], grads[2],
      /*item_begin=*/Value(), /*item_end=*/Value(), op.getSegmentLengthsAttr(),
      op.getDilationRatesAttr(), op.getModeAttr(), op.getOffsetRuleAttr(),
      op.getCausalAttr(),
      scale ? rewriter.getF64FloatAttr(scale->convertToDouble()) : nullptr);
  replaceOpWithBufferizedValues(rewriter, op, grads);
  return success();
}

namespace {
/// Ops that read their operands and write only a new buffer of their own.
template <typename ConcreteModel, typename OpTy>
struct ReadsOperandsWritesNewBuffer
    : public BufferizableOpInterface::ExternalModel<ConcreteModel, OpTy> {
  bool bufferizesToMemoryRead(Operation *, OpOperand &,
                              const AnalysisState &) const {
    return true;
  }
  bool bufferizesToMemoryWrite(Operation *, OpOperand &,
                               const AnalysisState &) const {
    return false;
  }
  AliasingValueList getAliasingValues(Operation *, OpOperand &,
                                      const AnalysisState &) const {
    return {};
  }
};

template <typename OpTy>
struct AttentionOpInterface
    : public ReadsOperandsWritesNewBuffer<AttentionOpInterface<OpTy>, OpTy> {

  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    if (auto dilated = dyn_cast<DilatedAttentionOp>(op))
      return bufferizeAttention(dilated, rewriter, options, state,
                                dilated.getSegmentLengths(),
                                dilated.getDilationRates(), dilated.getMode(),
                                dilated.getOffsetRule());
    if (auto withLse = dyn_cast<DilatedAttentionWithLseOp>(op))
      return bufferizeAttention(
          withLse, rewriter, options, state, withLse.getSegmentLengths(),
          withLse.getDilationRates(), withLse.getMode(),
          withLse.getOffsetRule(),
          cast<RankedTensorType>(withLse.getLse().getType()));
    if (auto grad = dyn_cast<DilatedAttentionGradOp>(op))
      return bufferizeGrad(grad, rewriter, options, state);
    // Plain attention: one pattern of dilation 1 whose segment covers the
    // sequence (any length up to 2^40).
    auto plain = cast<AttentionOp>(op);
    int64_t seqLen = cast<RankedTensorType>(plain.getType()).getDimSize(1);
    int64_t length = ShapedType::isDynamic(seqLen)
                         ? (int64_t(1) << 40)
                         : std::max<int64_t>(seqLen, 1);
    return bufferizeAttention(plain, rewriter, options, state, {length}, {1},
                              AttentionMode::grouped, OffsetRule::cyclic);
  }
};
/// mask_to_bias writes a new buffer elementwise: select(mask, -inf, 0).
struct MaskToBiasOpInterface
    : public ReadsOperandsWritesNewBuffer<MaskToBiasOpInterface, MaskToBiasOp> {

  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto maskToBias = cast<MaskToBiasOp>(op);
    Location loc = op->getLoc();
    FailureOr<Value> mask =
        getBuffer(rewriter, maskToBias.getMask(), options, state);
    if (failed(mask))
      return failure();
    auto resultType = cast<RankedTensorType>(maskToBias.getType());
    SmallVector<Value> dynamicSizes =
        dynamicSizesOf(rewriter, loc, resultType, *mask);
    FailureOr<Value> bias = options.createAlloc(
        rewriter, loc,
        MemRefType::get(resultType.getShape(), resultType.getElementType()),
        dynamicSizes);
    if (failed(bias))
      return failure();
    auto floatType = cast<FloatType>(resultType.getElementType());
    int64_t rank = resultType.getRank();
    SmallVector<AffineMap> maps(2, rewriter.getMultiDimIdentityMap(rank));
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    linalg::GenericOp::create(
        rewriter, loc, ValueRange{*mask}, ValueRange{*bias}, maps, iterators,
        [&](OpBuilder &b, Location nested, ValueRange args) {
          Value negInf = arith::ConstantOp::create(
              b, nested,
              b.getFloatAttr(floatType,
                             -std::numeric_limits<double>::infinity()));
          Value zero = arith::ConstantOp::create(
              b, nested, b.getFloatAttr(floatType, 0.0));
          Value value =
              arith::SelectOp::create(b, nested, args[0], negInf, zero);
          linalg::YieldOp::create(b, nested, value);
        });
    replaceOpWithBufferizedValues(rewriter, op, *bias);
    return success();
  }
};
} // namespace

void mlir::dilattn::registerBufferizableOpInterfaceExternalModels(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *context, DilAttnDialect *) {
    DilatedAttentionOp::attachInterface<
        AttentionOpInterface<DilatedAttentionOp>>(*context);
    AttentionOp::attachInterface<AttentionOpInterface<AttentionOp>>(*context);
    DilatedAttentionWithLseOp::attachInterface<
        AttentionOpInterface<DilatedAttentionWithLseOp>>(*context);
    DilatedAttentionGradOp::attachInterface<
        AttentionOpInterface<DilatedAttentionGradOp>>(*context);
    MaskToBiasOp::attachInterface<MaskToBiasOpInterface>(*context);
  });
}
