//===- Emitter.h - IR building helpers for CUDA kernels -------------------===//
//
// Short builders for the arith/gpu/LLVM ops that kernel generators write
// over and over, at one insertion point.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_LIB_CONVERSION_DILATTNTOGPU_EMITTER_H
#define DILATTN_LIB_CONVERSION_DILATTNTOGPU_EMITTER_H

#include "KernelPlan.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

#include <limits>

namespace mlir::dilattn::cuda {

/// Code-building helpers at one insertion point. Kernels use no math
/// dialect ops: convert-gpu-to-nvvm may turn them into libdevice calls
/// (__nv_fmaf, __nv_exp2f), which ptxas cannot resolve without libdevice;
/// NVPTX fuses the multiply-adds itself.
struct Emitter {
  OpBuilder &b;
  Location loc;

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value i32(int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI32Type(), v);
  }
  Value f32(double v) {
    return arith::ConstantOp::create(b, loc,
                                     b.getF32FloatAttr(static_cast<float>(v)));
  }
  Value negInf() { return f32(-std::numeric_limits<double>::infinity()); }
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
  Value addf(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value subf(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value mulf(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value divf(Value x, Value y) { return arith::DivFOp::create(b, loc, x, y); }
  Value maxf(Value x, Value y) {
    return arith::MaximumFOp::create(b, loc, x, y);
  }
  Value fcmp(arith::CmpFPredicate p, Value x, Value y) {
    return arith::CmpFOp::create(b, loc, p, x, y);
  }
  Value isNegInf(Value x) {
    return fcmp(arith::CmpFPredicate::OEQ, x, negInf());
  }
  Value positive(Value x) { return fcmp(arith::CmpFPredicate::OGT, x, f32(0)); }
  /// exp2 and log2 as the PTX approximations (ex2.approx: 2 ulp, -inf
  /// gives +0). Inline PTX because convert-gpu-to-nvvm turns math.exp2 and
  /// llvm.intr.exp2 into libdevice calls (__nv_exp2f), which need libdevice
  /// linked in and are slower.
  Value ptxUnary(llvm::StringRef instruction, Value x) {
    return LLVM::InlineAsmOp::create(b, loc, b.getF32Type(), ValueRange{x},
                                     (instruction + " $0, $1;").str(), "=f,f",
                                     /*has_side_effects=*/false,
                                     /*is_align_stack=*/false,
                                     LLVM::tailcallkind::TailCallKind::None,
                                     LLVM::AsmDialectAttr(), ArrayAttr())
        .getResult(0);
  }
  Value exp2(Value x) { return ptxUnary("ex2.approx.ftz.f32", x); }
  Value log2(Value x) { return ptxUnary("lg2.approx.ftz.f32", x); }
  /// Butterfly reduction over the lanes whose ids differ in `mask` bits.
  Value shuffleXor(Value x, int32_t offset) {
    return gpu::ShuffleOp::create(b, loc, x, offset, kWarpSize,
                                  gpu::ShuffleMode::XOR)
        .getShuffleResult();
  }
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

} // namespace mlir::dilattn::cuda

#endif // DILATTN_LIB_CONVERSION_DILATTNTOGPU_EMITTER_H
