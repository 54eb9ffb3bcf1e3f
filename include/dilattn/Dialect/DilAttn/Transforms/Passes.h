//===- Passes.h - dilattn transformation passes -----------------*- C++ -*-===//

#ifndef DILATTN_DIALECT_DILATTN_TRANSFORMS_PASSES_H
#define DILATTN_DIALECT_DILATTN_TRANSFORMS_PASSES_H

#include "dilattn/Dialect/DilAttn/IR/DilAttn.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;

namespace dilattn {

#define GEN_PASS_DECL
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h.inc"

/// Patterns that rewrite boolean mask operands of the attention ops into
/// additive biases through dilattn.mask_to_bias.
void populateNormalizeMasksPatterns(RewritePatternSet &patterns);

/// Patterns that decompose dilattn.multihead_dilated_attention into linalg
/// and tensor ops (projections, head split/merge, layer norm) around a
/// dilattn.dilated_attention (docs/Contract.md section 2).
void populateDecomposeMultiheadPatterns(RewritePatternSet &patterns);

#define GEN_PASS_REGISTRATION
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h.inc"

} // namespace dilattn
} // namespace mlir

#endif // DILATTN_DIALECT_DILATTN_TRANSFORMS_PASSES_H
