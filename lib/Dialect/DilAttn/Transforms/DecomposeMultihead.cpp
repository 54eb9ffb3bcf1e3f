//===- DecomposeMultihead.cpp - multi-head block to linalg + dilattn ------===//
//
// Rewrites dilattn.multihead_dilated_attention into SPEC.md section 2:
//
//   out = Wo-linear(LN(merge(DA(split(Wq-linear(query)),
//                               split(Wk-linear(key)),
//                               split(Wv-linear(value))))))
//
// Everything but DA becomes upstream tensor-level ops: the projections are
// linalg.contract ops over E with an f32 accumulator followed by one
// elementwise generic (bias, rounding), split and merge are single reshapes
// of the last dimension, and the layer norm is a handful of generics that
// reduce over E. Accumulation and the layer norm are f32 whatever the
// element type; each projection ends by rounding to the element type.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Dialect/DilAttn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::dilattn {
#define GEN_PASS_DEF_DILATTNDECOMPOSEMULTIHEAD
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h.inc"
} // namespace mlir::dilattn

using namespace mlir;
using namespace mlir::dilattn;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// `value` as f32: extended when narrower, unchanged when already f32.
static Value extendToF32(OpBuilder &builder, Location loc, Value value) {
  Type f32 = builder.getF32Type();
  if (value.getType() == f32)
    return value;
  return arith::ExtFOp::create(builder, loc, f32, value);
}

/// The f32 `value` rounded to `elementType` (unchanged when that is f32).
static Value truncateTo(OpBuilder &builder, Location loc, Value value,
                        Type elementType) {
  if (value.getType() == elementType)
    return value;
  return arith::TruncFOp::create(builder, loc, elementType, value);
}

/// Ends a linalg.generic body with `value`.
static void yieldValue(OpBuilder &builder, Location loc, Value value) {
  linalg::YieldOp::create(builder, loc, value);
}

static Value f32Constant(OpBuilder &builder, Location loc, double value) {
  return arith::ConstantOp::create(
      builder, loc, builder.getF32FloatAttr(static_cast<float>(value)));
}

/// `value` (a ranked tensor) with the static sizes of `shape` where it has
/// dynamic ones: a tensor.cast, or `value` itself when nothing is learnt.
static Value refineShape(OpBuilder &builder, Location loc, Value value,
                         ArrayRef<int64_t> shape) {
  if (!value)
    return value;
  auto type = cast<RankedTensorType>(value.getType());
  auto refined = RankedTensorType::get(shape, type.getElementType());
  if (refined == type)
    return value;
  return tensor::CastOp::create(builder, loc, refined, value);
}

/// Records in `size` the static size of dimension `dim` of `value` (negative
/// `dim` counts from the back) when `size` is still unknown.
static void learnSize(int64_t &size, Value value, int64_t dim) {
  if (!value || !ShapedType::isDynamic(size))
    return;
  auto type = cast<RankedTensorType>(value.getType());
  if (dim < 0)
    dim += type.getRank();
  if (dim < 0 || dim >= type.getRank())
    return;
  size = type.getDimSize(dim);
}

namespace {
/// The static sizes of the block: batch B, sequence N and embedding E, joined
/// from every operand and the result (the verifier made them compatible).
struct BlockSizes {
  int64_t batch = ShapedType::kDynamic;
  int64_t seqLen = ShapedType::kDynamic;
  int64_t embedDim = ShapedType::kDynamic;
};
} // namespace

static BlockSizes joinSizes(MultiheadDilatedAttentionOp op) {
  BlockSizes sizes;
  for (Value tensor :
       {op.getQuery(), op.getKey(), op.getValue(), op.getResult()}) {
    learnSize(sizes.batch, tensor, 0);
    learnSize(sizes.seqLen, tensor, 1);
    learnSize(sizes.embedDim, tensor, 2);
  }
  if (Value mask = op.getKeyPaddingMask()) {
    learnSize(sizes.batch, mask, 0);
    learnSize(sizes.seqLen, mask, 1);
  }
  if (Value mask = op.getAttnMask()) {
    learnSize(sizes.seqLen, mask, -1);
    learnSize(sizes.seqLen, mask, -2);
    if (cast<RankedTensorType>(mask.getType()).getRank() >= 3)
      learnSize(sizes.batch, mask, 0);
  }
  for (Value weight :
       {op.getQWeight(), op.getKWeight(), op.getVWeight(), op.getOutWeight()}) {
    learnSize(sizes.embedDim, weight, 0);
    learnSize(sizes.embedDim, weight, 1);
  }
  for (Value vector :
       {op.getQBias(), op.getKBias(), op.getVBias(), op.getOutBias(),
        op.getLayerNormWeight(), op.getLayerNormBias()})
    learnSize(sizes.embedDim, vector, 0);
  return sizes;
}

//===----------------------------------------------------------------------===//
// Building blocks
//===----------------------------------------------------------------------===//

/// The linear layer `y = x W^T + b` over the last dimension: `input` is
/// `(B, N, E)` of any float type, `weight` is `(E, E)` and `bias` (optional)
/// `(E)`. Accumulates in f32 and returns `(B, N, E)` of `elementType`:
///
///   acc = fill(0.0 : f32)
///   acc[b, n, o] += x[b, n, e] * W[o, e]        (linalg.contract)
///   y[b, n, o] = trunc(acc[b, n, o] + b[o])     (linalg.generic)
///
/// The contraction keeps B and N apart rather than multiplying (B*N, E) rows:
/// expanding rows back into two dynamic dimensions is what LLVM 22's
/// expand-strided-metadata cannot lower (llvm/llvm-project#186830).
static Value buildLinear(OpBuilder &builder, Location loc, Value input,
                         Value weight, Value bias, ArrayRef<OpFoldResult> shape,
                         Type elementType) {
  Type f32 = builder.getF32Type();
  MLIRContext *context = builder.getContext();
  Value accInit = tensor::EmptyOp::create(builder, loc, shape, f32);
  Value zero = f32Constant(builder, loc, 0.0);
  Value acc = linalg::FillOp::create(builder, loc, zero, accInit).getResult(0);

  // Loops (d0, d1, d2, d3) = (b, n, o, e), e reduced:
  //   x (b, n, e), W (o, e) -> acc (b, n, o).
  AffineExpr b, n, o, e;
  bindDims(context, b, n, o, e);
  SmallVector<AffineMap> contractMaps = {
      AffineMap::get(4, 0, {b, n, e}, context),
      AffineMap::get(4, 0, {o, e}, context),
      AffineMap::get(4, 0, {b, n, o}, context)};
  acc = linalg::ContractOp::create(builder, loc, TypeRange{acc.getType()},
                                   ValueRange{input, weight}, ValueRange{acc},
                                   builder.getAffineMapArrayAttr(contractMaps))
            .getResult(0);
  if (!bias && elementType == f32)
    return acc;

  // Epilogue: bias add and rounding in one elementwise op.
  AffineMap identity = AffineMap::getMultiDimIdentityMap(3, context);
  SmallVector<Value> inputs = {acc};
  SmallVector<AffineMap> maps = {identity};
  if (bias) {
    inputs.push_back(bias);
    maps.push_back(AffineMap::get(3, 0, builder.getAffineDimExpr(2)));
  }
  maps.push_back(identity);
  Value init = tensor::EmptyOp::create(builder, loc, shape, elementType);
  SmallVector<utils::IteratorType> parallel(3, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             builder, loc, TypeRange{init.getType()}, inputs, ValueRange{init},
             maps, parallel,
             [&](OpBuilder &nested, Location bodyLoc, ValueRange args) {
               Value sum = args[0];
               if (bias)
                 sum = arith::AddFOp::create(
                     nested, bodyLoc, sum,
                     extendToF32(nested, bodyLoc, args[1]));
               yieldValue(nested, bodyLoc,
                          truncateTo(nested, bodyLoc, sum, elementType));
             })
      .getResult(0);
}

/// Layer norm over the last dimension of `input` (`(B, N, E)`, any float
/// type) with the biased variance, in f32; returns `(B, N, E)` f32. With
/// `x = input[b, n, :]`:
///
///   mean[b, n] = sum_e x[e] / E
///   invStd[b, n] = 1 / sqrt(sum_e (x[e] - mean[b, n])^2 / E + eps)
///   y[b, n, e] = (x[e] - mean[b, n]) * invStd[b, n] * weight[e] + bias[e]
static Value buildLayerNorm(OpBuilder &builder, Location loc, Value input,
                            Value weight, Value bias,
                            ArrayRef<OpFoldResult> shape, double eps) {
  Type f32 = builder.getF32Type();
  MLIRContext *context = builder.getContext();
  ArrayRef<OpFoldResult> rowShape = shape.take_front(2);
  OpFoldResult embedSize = shape[2];

  // The embedding size as an f32 divisor.
  Value embedF32;
  if (std::optional<int64_t> embed = getConstantIntValue(embedSize)) {
    embedF32 = f32Constant(builder, loc, static_cast<double>(*embed));
  } else {
    Value embedIndex = getValueOrCreateConstantIndexOp(builder, loc, embedSize);
    Value embedI64 = arith::IndexCastUIOp::create(
        builder, loc, builder.getI64Type(), embedIndex);
    embedF32 = arith::UIToFPOp::create(builder, loc, f32, embedI64);
  }
  Value zero = f32Constant(builder, loc, 0.0);
  Value one = f32Constant(builder, loc, 1.0);
  Value epsilon = f32Constant(builder, loc, eps);

  Value rowInit = tensor::EmptyOp::create(builder, loc, rowShape, f32);
  Value rowZeros =
      linalg::FillOp::create(builder, loc, zero, rowInit).getResult(0);
  Value init = tensor::EmptyOp::create(builder, loc, shape, f32);

  // Loops (d0, d1, d2) = (b, n, e) for the reductions and the elementwise
  // op, (d0, d1) = (b, n) for the per-row ops.
  AffineExpr b, n, e;
  bindDims(context, b, n, e);
  AffineMap identity3 = AffineMap::getMultiDimIdentityMap(3, context);
  AffineMap row = AffineMap::get(3, 0, {b, n}, context);
  AffineMap column = AffineMap::get(3, 0, {e}, context);
  AffineMap identity2 = AffineMap::getMultiDimIdentityMap(2, context);
  SmallVector<utils::IteratorType> rowReduction = {
      utils::IteratorType::parallel, utils::IteratorType::parallel,
      utils::IteratorType::reduction};
  SmallVector<utils::IteratorType> parallel2(2, utils::IteratorType::parallel);
  SmallVector<utils::IteratorType> parallel3(3, utils::IteratorType::parallel);
  Type rowType = rowInit.getType();

  // sum[b, n] = sum_e x[b, n, e]
  Value sum =
      linalg::GenericOp::create(
          builder, loc, rowType, ValueRange{input}, ValueRange{rowZeros},
          ArrayRef<AffineMap>{identity3, row}, rowReduction,
          [&](OpBuilder &nested, Location bodyLoc, ValueRange args) {
            Value x = extendToF32(nested, bodyLoc, args[0]);
            yieldValue(nested, bodyLoc,
                       arith::AddFOp::create(nested, bodyLoc, args[1], x));
          })
          .getResult(0);
  // mean[b, n] = sum[b, n] / E
  Value mean = linalg::GenericOp::create(
                   builder, loc, rowType, ValueRange{sum}, ValueRange{rowInit},
                   ArrayRef<AffineMap>{identity2, identity2}, parallel2,
                   [&](OpBuilder &nested, Location bodyLoc, ValueRange args) {
                     yieldValue(nested, bodyLoc,
                                arith::DivFOp::create(nested, bodyLoc, args[0],
                                                      embedF32));
                   })
                   .getResult(0);
  // squares[b, n] = sum_e (x[b, n, e] - mean[b, n])^2
  Value squares =
      linalg::GenericOp::create(
          builder, loc, rowType, ValueRange{input, mean}, ValueRange{rowZeros},
          ArrayRef<AffineMap>{identity3, row, row}, rowReduction,
          [&](OpBuilder &nested, Location bodyLoc, ValueRange args) {
            Value x = extendToF32(nested, bodyLoc, args[0]);
            Value centered = arith::SubFOp::create(nested, bodyLoc, x, args[1]);
            Value square =
                arith::MulFOp::create(nested, bodyLoc, centered, centered);
            yieldValue(nested, bodyLoc,
                       arith::AddFOp::create(nested, bodyLoc, args[2], square));
          })
          .getResult(0);
  // invStd[b, n] = 1 / sqrt(squares[b, n] / E + eps)
  Value invStd =
      linalg::GenericOp::create(
          builder, loc, rowType, ValueRange{squares}, ValueRange{rowInit},
          ArrayRef<AffineMap>{identity2, identity2}, parallel2,
          [&](OpBuilder &nested, Location bodyLoc, ValueRange args) {
            Value variance =
                arith::DivFOp::create(nested, bodyLoc, args[0], embedF32);
            Value shifted =
                arith::AddFOp::create(nested, bodyLoc, variance, epsilon);
            Value root = math::SqrtOp::create(nested, bodyLoc, shifted);
            yieldValue(nested, bodyLoc,
                       arith::DivFOp::create(nested, bodyLoc, one, root));
          })
          .getResult(0);
  // y[b, n, e] = (x[b, n, e] - mean[b, n]) * invStd[b, n] * w[e] + bias[e]
  return linalg::GenericOp::create(
             builder, loc, TypeRange{init.getType()},
             ValueRange{input, mean, invStd, weight, bias}, ValueRange{init},
             ArrayRef<AffineMap>{identity3, row, row, column, column,
                                 identity3},
             parallel3,
             [&](OpBuilder &nested, Location bodyLoc, ValueRange args) {
               Value x = extendToF32(nested, bodyLoc, args[0]);
               Value centered =
                   arith::SubFOp::create(nested, bodyLoc, x, args[1]);
               Value normed =
                   arith::MulFOp::create(nested, bodyLoc, centered, args[2]);
               Value scaled =
                   arith::MulFOp::create(nested, bodyLoc, normed,
                                         extendToF32(nested, bodyLoc, args[3]));
               Value shifted =
                   arith::AddFOp::create(nested, bodyLoc, scaled,
                                         extendToF32(nested, bodyLoc, args[4]));
               yieldValue(nested, bodyLoc, shifted);
             })
      .getResult(0);
}

//===----------------------------------------------------------------------===//
// The pattern
//===----------------------------------------------------------------------===//

namespace {
struct DecomposeMultihead : OpRewritePattern<MultiheadDilatedAttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MultiheadDilatedAttentionOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto queryType = cast<RankedTensorType>(op.getQuery().getType());
    Type elementType = queryType.getElementType();
    if (!elementType.isF32() && !elementType.isF16() && !elementType.isBF16())
      return rewriter.notifyMatchFailure(
          op, "expects an f32, f16 or bf16 element type");
    for (Value input : {op.getQuery(), op.getKey(), op.getValue()})
      if (cast<RankedTensorType>(input.getType()).getRank() != 3)
        return rewriter.notifyMatchFailure(op, "expects (B, N, E) inputs");
    int64_t numHeads = op.getNumHeads();
    if (numHeads <= 0)
      return rewriter.notifyMatchFailure(op, "expects num_heads > 0");
    if (static_cast<bool>(op.getLayerNormWeight()) !=
        static_cast<bool>(op.getLayerNormBias()))
      return rewriter.notifyMatchFailure(
          op, "expects layer norm weight and bias together");

    // Give every operand all the static sizes known anywhere, so that the
    // ops built below see one consistent shape.
    BlockSizes sizes = joinSizes(op);
    if (!ShapedType::isDynamic(sizes.embedDim) &&
        sizes.embedDim % numHeads != 0)
      return rewriter.notifyMatchFailure(op, "E is not a multiple of H");
    SmallVector<int64_t> inputShape = {sizes.batch, sizes.seqLen,
                                       sizes.embedDim};
    SmallVector<int64_t> weightShape = {sizes.embedDim, sizes.embedDim};
    SmallVector<int64_t> vectorShape = {sizes.embedDim};
    auto refine = [&](Value value, ArrayRef<int64_t> shape) {
      return refineShape(rewriter, loc, value, shape);
    };
    Value query = refine(op.getQuery(), inputShape);
    Value key = refine(op.getKey(), inputShape);
    Value value = refine(op.getValue(), inputShape);

    // B, N, E and D: static, or read from the query once (the verifier
    // made key and value the same shape).
    SmallVector<OpFoldResult> blockShape =
        tensor::getMixedSizes(rewriter, loc, query);
    OpFoldResult embedSize = blockShape[2];
    int64_t headDim = ShapedType::kDynamic;
    OpFoldResult headSize;
    if (!ShapedType::isDynamic(sizes.embedDim)) {
      headDim = sizes.embedDim / numHeads;
      headSize = rewriter.getIndexAttr(headDim);
    } else {
      Value heads = arith::ConstantIndexOp::create(rewriter, loc, numHeads);
      headSize =
          arith::DivUIOp::create(
              rewriter, loc,
              getValueOrCreateConstantIndexOp(rewriter, loc, embedSize), heads)
              .getResult();
    }

    // Q, K and V projections, split into heads: (B, N, E) -> (B, N, H, D),
    // head-major (E index h*D + d).
    auto headsType = RankedTensorType::get(
        {sizes.batch, sizes.seqLen, numHeads, headDim}, elementType);
    auto projectHeads = [&](Value input, Value weight, Value bias) -> Value {
      Value projected =
          buildLinear(rewriter, loc, input, refine(weight, weightShape),
                      refine(bias, vectorShape), blockShape, elementType);
      SmallVector<OpFoldResult> shape = {blockShape[0], blockShape[1],
                                         rewriter.getIndexAttr(numHeads),
                                         headSize};
      return tensor::ExpandShapeOp::create(
          rewriter, loc, headsType, projected,
          ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}}, shape);
    };
    Value queryHeads = projectHeads(query, op.getQWeight(), op.getQBias());
    Value keyHeads = projectHeads(key, op.getKWeight(), op.getKBias());
    Value valueHeads = projectHeads(value, op.getVWeight(), op.getVBias());

    // Dilated attention with the block's configuration and masks.
    Value attention = DilatedAttentionOp::create(
        rewriter, loc, headsType, queryHeads, keyHeads, valueHeads,
        op.getKeyPaddingMask(), op.getAttnMask(), op.getSegmentLengthsAttr(),
        op.getDilationRatesAttr(), op.getModeAttr(), op.getOffsetRuleAttr(),
        op.getCausalAttr(), op.getScaleAttr());

    // Merge the heads: (B, N, H, D) -> (B, N, E).
    Value merged = tensor::CollapseShapeOp::create(
        rewriter, loc, attention,
        ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});

    // Sub-layer norm, in f32 (its output feeds the projection unrounded).
    if (op.getLayerNormWeight())
      merged = buildLayerNorm(
          rewriter, loc, merged, refine(op.getLayerNormWeight(), vectorShape),
          refine(op.getLayerNormBias(), vectorShape), blockShape,
          op.getLayerNormEps().convertToDouble());

    // Out projection.
    Value result = buildLinear(
        rewriter, loc, merged, refine(op.getOutWeight(), weightShape),
        refine(op.getOutBias(), vectorShape), blockShape, elementType);
    if (result.getType() != op.getType())
      result = tensor::CastOp::create(rewriter, loc, op.getType(), result);
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct DecomposeMultiheadPass
    : mlir::dilattn::impl::DilAttnDecomposeMultiheadBase<
          DecomposeMultiheadPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateDecomposeMultiheadPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns)))) {
      signalPassFailure();
      return;
    }
    // The pattern only declines IR the verifier refuses; say so if any is
    // left rather than hand it on.
    WalkResult walk = getOperation().walk([](MultiheadDilatedAttentionOp op) {
      op.emitOpError() << "could not be decomposed (expects (B, N, E) "
                          "f32, f16 or bf16 inputs with E a multiple of "
                          "num_heads)";
      return WalkResult::interrupt();
    });
    if (walk.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace

void mlir::dilattn::populateDecomposeMultiheadPatterns(
    RewritePatternSet &patterns) {
  patterns.add<DecomposeMultihead>(patterns.getContext());
}
