//===- InlinePtx.h - one PTX instruction as inline assembly -----*- C++ -*-===//
//
// convert-gpu-to-nvvm turns math ops and several LLVM intrinsics (exp2,
// sqrt, floor, fmaxf, ...) into libdevice calls (__nv_exp2f, ...), which
// stay unresolved because dilattn links no libdevice (and are slower).
// The CUDA conversions emit those operations as single PTX instructions
// instead.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_CONVERSION_COMMON_INLINEPTX_H
#define DILATTN_CONVERSION_COMMON_INLINEPTX_H

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

#include <string>

namespace mlir::dilattn {

/// The f32 PTX instruction `instruction $0, $1[, $2 ...];` of `operands`
/// (f32 each), as side-effect-free inline assembly, e.g.
/// `inlinePtxF32(b, loc, "ex2.approx.ftz.f32", {x})`.
inline Value inlinePtxF32(OpBuilder &b, Location loc,
                          llvm::StringRef instruction, ValueRange operands) {
  std::string text = instruction.str();
  std::string constraints = "=f";
  for (size_t i = 0; i <= operands.size(); ++i) {
    text += (i == 0 ? " $" : ", $") + std::to_string(i);
    if (i > 0)
      constraints += ",f";
  }
  text += ";";
  return LLVM::InlineAsmOp::create(b, loc, b.getF32Type(), operands, text,
                                   constraints, /*has_side_effects=*/false,
                                   /*is_align_stack=*/false,
                                   LLVM::tailcallkind::TailCallKind::None,
                                   LLVM::AsmDialectAttr(), ArrayAttr())
      .getResult(0);
}

} // namespace mlir::dilattn

#endif // DILATTN_CONVERSION_COMMON_INLINEPTX_H
