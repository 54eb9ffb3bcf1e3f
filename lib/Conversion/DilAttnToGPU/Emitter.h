//===- Emitter.h - IR building helpers for CUDA kernels -------------------===//
//
// The arith helpers every generator shares (ArithEmitter), plus what only
// CUDA kernels need: exp2/log2 as PTX approximations and warp shuffles.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_LIB_CONVERSION_DILATTNTOGPU_EMITTER_H
#define DILATTN_LIB_CONVERSION_DILATTNTOGPU_EMITTER_H

#include "KernelPlan.h"

#include "dilattn/Conversion/Common/InlinePtx.h"
#include "dilattn/Dialect/Utils/ArithEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

namespace mlir::dilattn::cuda {

/// Code-building helpers at one insertion point. Kernels use no math
/// dialect ops: convert-gpu-to-nvvm may turn them into libdevice calls
/// (__nv_fmaf, __nv_exp2f), which ptxas cannot resolve without libdevice;
/// NVPTX fuses the multiply-adds itself.
struct Emitter : ArithEmitter {
  Emitter(OpBuilder &b, Location loc) : ArithEmitter{b, loc} {}

  /// exp2 and log2 as the PTX approximations (ex2.approx: 2 ulp, -inf
  /// gives +0), see InlinePtx.h.
  Value ptxUnary(llvm::StringRef instruction, Value x) {
    return inlinePtxF32(b, loc, instruction, x);
  }
  Value exp2(Value x) { return ptxUnary("ex2.approx.ftz.f32", x); }
  Value log2(Value x) { return ptxUnary("lg2.approx.ftz.f32", x); }
  /// Butterfly reduction over the lanes whose ids differ in `mask` bits.
  Value shuffleXor(Value x, int32_t offset) {
    return gpu::ShuffleOp::create(b, loc, x, offset, kWarpSize,
                                  gpu::ShuffleMode::XOR)
        .getShuffleResult();
  }
};

} // namespace mlir::dilattn::cuda

#endif // DILATTN_LIB_CONVERSION_DILATTNTOGPU_EMITTER_H
