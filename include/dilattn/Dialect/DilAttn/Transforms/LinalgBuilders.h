//===- LinalgBuilders.h - linear layers and layer norm in linalg -*- C++
//-*-===//
//
// Tensor-level building blocks of docs/Contract.md section 2 (linear layers and
// the sub-layer norm) as linalg ops with f32 accumulation. The multi-head
// decomposition and the graph API build the same IR from them, so a block
// written as one op and the same block built op by op compute alike.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_DIALECT_DILATTN_TRANSFORMS_LINALGBUILDERS_H
#define DILATTN_DIALECT_DILATTN_TRANSFORMS_LINALGBUILDERS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpDefinition.h"

namespace mlir::dilattn {

/// The linear layer `y = x W^T + b` over the last dimension: `input` is
/// `(B, N, E)` of any float type, `weight` is `(O, E)` and `bias` (optional)
/// `(O)`. Accumulates in f32 and returns `(B, N, O)` (`shape`) of
/// `elementType`:
///
///   acc = fill(0.0 : f32)
///   acc[b, n, o] += x[b, n, e] * W[o, e]        (linalg.contract)
///   y[b, n, o] = trunc(acc[b, n, o] + b[o])     (linalg.generic)
///
/// The contraction keeps B and N apart rather than multiplying (B*N, E) rows:
/// expanding rows back into two dynamic dimensions is what LLVM 22's
/// expand-strided-metadata cannot lower (llvm/llvm-project#186830).
Value buildLinear(OpBuilder &builder, Location loc, Value input, Value weight,
                  Value bias, ArrayRef<OpFoldResult> shape, Type elementType);

/// Layer norm over the last dimension of `input` (`(B, N, E)`, any float
/// type) with the biased variance, in f32; returns `(B, N, E)` f32. With
/// `x = input[b, n, :]`:
///
///   mean[b, n] = sum_e x[e] / E
///   invStd[b, n] = 1 / sqrt(sum_e (x[e] - mean[b, n])^2 / E + eps)
///   y[b, n, e] = (x[e] - mean[b, n]) * invStd[b, n] * weight[e] + bias[e]
Value buildLayerNorm(OpBuilder &builder, Location loc, Value input,
                     Value weight, Value bias, ArrayRef<OpFoldResult> shape,
                     double eps);

} // namespace mlir::dilattn

#endif // DILATTN_DIALECT_DILATTN_TRANSFORMS_LINALGBUILDERS_H
