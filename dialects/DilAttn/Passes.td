//===- Passes.td - dilattn transformation passes -----------*- tablegen -*-===//

#ifndef DILATTN_PASSES_TD
#define DILATTN_PASSES_TD

include "mlir/Pass/PassBase.td"

def DilAttnNormalizeMasks : Pass<"dilattn-normalize-masks"> {
  let summary = "Rewrite boolean attention masks into additive biases";
  let description = [{
    Rewrites every boolean `key_padding_mask` and `attn_mask` operand of the
    attention ops into a float bias through `dilattn.mask_to_bias` (`true` ->
    `-inf`, `false` -> `0`), so that the later passes and kernels handle a
    single mask form: biases added to the scores. Masks that fold to all-zero
    biases are then dropped by canonicalization. The bias element type is f32
    (masks are applied in the f32 accumulation precision).

    Example:

    ```mlir
    %o = dilattn.dilated_attention %q, %k, %v key_padding_mask(%m) ...
    // becomes
    %b = dilattn.mask_to_bias %m : tensor<2x64xi1> -> tensor<2x64xf32>
    %o = dilattn.dilated_attention %q, %k, %v key_padding_mask(%b) ...
    ```
  }];
  let dependentDialects = ["::mlir::dilattn::DilAttnDialect"];
}

#endif // DILATTN_PASSES_TD
