//===- LinearLayerKernel.h - linear layers as tiled GPU kernels -*- C++ -*-===//
//
// The linear-layer kernel of dilattn-convert-linalg-to-gpu: a contraction
// C[m.., o] += A[m.., e] * B[o, e] in f32 becomes one shared-memory tiled
// GEMM kernel, with the zero fill of C before it and a bias add after it
// folded in.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_LIB_CONVERSION_LINALGTOGPU_LINEARLAYERKERNEL_H
#define DILATTN_LIB_CONVERSION_LINALGTOGPU_LINEARLAYERKERNEL_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "llvm/ADT/DenseSet.h"

namespace mlir::dilattn {

/// When `op` is a linear layer (a contraction C[m.., o] += A[m.., e] *
/// B[o, e] in f32 on identity-layout static buffers), replaces it, with the
/// zero fill and bias add around it where they fold in, by one tiled
/// kernel and returns its launch; records the ops it erased in `erased`.
/// Otherwise returns null and changes nothing.
gpu::LaunchOp convertLinearLayer(linalg::LinalgOp op,
                                 llvm::DenseSet<Operation *> &erased);

} // namespace mlir::dilattn

#endif // DILATTN_LIB_CONVERSION_LINALGTOGPU_LINEARLAYERKERNEL_H
