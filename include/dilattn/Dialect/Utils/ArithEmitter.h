//===- ArithEmitter.h - short builders for arith ops ------------*- C++ -*-===//
//
// The index and float arithmetic that IR generators write over and over
// (segment tiling, the CPU and CUDA kernel generators, the linalg kernels),
// at one insertion point. Header only: every member is one op.
//
// It sits with the dialect utilities (as upstream's ArithBuilder sits in
// mlir/Dialect/Arith/Utils) rather than with the conversions because a
// transform (dilattn-tile-segments) uses it too.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_DIALECT_UTILS_ARITHEMITTER_H
#define DILATTN_DIALECT_UTILS_ARITHEMITTER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"

#include <limits>

namespace mlir::dilattn {

/// Arith ops at the insertion point of `b`, located at `loc`. Integer ops
/// are unsigned (indices), float constants f32. C++ leaves the order in
/// which a call's arguments are evaluated unspecified: a caller that needs
/// the IR to be the same with every host compiler creates nested operands
/// in statements of their own.
struct ArithEmitter {
  OpBuilder &b;
  Location loc;

  // Constants.
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value i32(int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI32Type(), v);
  }
  Value f32(double v) {
    return arith::ConstantOp::create(b, loc,
                                     b.getF32FloatAttr(static_cast<float>(v)));
  }
  Value negInf() { return f32(-std::numeric_limits<double>::infinity()); }

  // Integers (unsigned).
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivUIOp::create(b, loc, x, y); }
  Value rem(Value x, Value y) { return arith::RemUIOp::create(b, loc, x, y); }
  Value ceilDiv(Value x, Value y) {
    return arith::CeilDivUIOp::create(b, loc, x, y);
  }
  Value min(Value x, Value y) { return arith::MinUIOp::create(b, loc, x, y); }
  Value max(Value x, Value y) { return arith::MaxUIOp::create(b, loc, x, y); }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value ult(Value x, Value y) { return cmp(arith::CmpIPredicate::ult, x, y); }
  Value ule(Value x, Value y) { return cmp(arith::CmpIPredicate::ule, x, y); }
  Value eq(Value x, Value y) { return cmp(arith::CmpIPredicate::eq, x, y); }
  Value andi(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value ori(Value x, Value y) { return arith::OrIOp::create(b, loc, x, y); }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, loc, c, x, y);
  }

  // Floats (scalars or vectors).
  Value addf(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value subf(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value mulf(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value divf(Value x, Value y) { return arith::DivFOp::create(b, loc, x, y); }
  /// arith.maximumf: a NaN operand gives NaN.
  Value maxf(Value x, Value y) {
    return arith::MaximumFOp::create(b, loc, x, y);
  }
  /// arith.maxnumf: a NaN operand gives the other operand.
  Value maxnumf(Value x, Value y) {
    return arith::MaxNumFOp::create(b, loc, x, y);
  }
  Value fcmp(arith::CmpFPredicate p, Value x, Value y) {
    return arith::CmpFOp::create(b, loc, p, x, y);
  }
  Value isNegInf(Value x) {
    return fcmp(arith::CmpFPredicate::OEQ, x, negInf());
  }
  Value positive(Value x) { return fcmp(arith::CmpFPredicate::OGT, x, f32(0)); }

  /// Picks values[i] where `index` == i (a chain of selects).
  Value pick(Value index, ArrayRef<Value> values) {
    Value result;
    for (auto [i, v] : llvm::enumerate(values))
      result = i == 0 ? v : select(eq(index, idx(i)), v, result);
    return result;
  }
  Value pickConstant(Value index, ArrayRef<int64_t> values) {
    SmallVector<Value> constants;
    for (int64_t v : values)
      constants.push_back(idx(v));
    return pick(index, constants);
  }
};

} // namespace mlir::dilattn

#endif // DILATTN_DIALECT_UTILS_ARITHEMITTER_H
