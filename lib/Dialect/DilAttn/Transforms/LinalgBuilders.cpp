//===- LinalgBuilders.cpp - linear layers and layer norm in linalg
//---------===//
//
// The tensor-level building blocks of docs/Contract.md section 2 shared by the
// multi-head decomposition and the graph API.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Dialect/DilAttn/Transforms/LinalgBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/AffineMap.h"

using namespace mlir;

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

// The linear layer: see LinalgBuilders.h.
Value mlir::dilattn::buildLinear(OpBuilder &builder, Location loc, Value input,
                                 Value weight, Value bias,
                                 ArrayRef<OpFoldResult> shape,
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

// Layer norm: see LinalgBuilders.h.
Value mlir::dilattn::buildLayerNorm(OpBuilder &builder, Location loc,
                                    Value input, Value weight, Value bias,
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
