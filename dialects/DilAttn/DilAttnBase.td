//===- DilAttnBase.td - dilattn dialect definition ---------*- tablegen -*-===//

#ifndef DILATTN_BASE_TD
#define DILATTN_BASE_TD

include "mlir/IR/OpBase.td"

def DilAttn_Dialect : Dialect {
  let name = "dilattn";
  let cppNamespace = "::mlir::dilattn";
  let summary = "Dilated attention (LongNet) as a dataflow graph";
  let description = [{
    The `dilattn` dialect models dilated attention, multi-head dilated
    attention and attention masks as tensor-level operations, so that a
    compiler can tile them by segment and dilation, fuse every pattern of a
    call into one online-softmax computation and generate one kernel per
    configuration.

    A pattern `(w, r)` cuts the sequence into segments of length `w` and keeps
    every `r`-th position of each segment, starting at a per-head offset.
    Inputs use the `(B, N, H, D)` layout (batch, sequence, heads, head dim).
    The exact semantics are those of the project's contract (docs/Contract.md); the
    numbered constraints each op checks are listed in `docs/Constraints.md`.
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 1;
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::memref::MemRefDialect"];
}

class DilAttn_Op<string mnemonic, list<Trait> traits = []>
    : Op<DilAttn_Dialect, mnemonic, traits>;

#endif // DILATTN_BASE_TD
