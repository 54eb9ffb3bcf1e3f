//===- DilAttnOps.td - dilattn operations ------------------*- tablegen -*-===//

#ifndef DILATTN_OPS_TD
#define DILATTN_OPS_TD

include "DilAttnBase.td"
include "DilAttnAttrs.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// Operand constraints are deliberately loose (any ranked tensor): the
// verifiers check ranks, shapes and element types themselves so that every
// refusal carries the contract's message and follows docs/Constraints.md.

//===----------------------------------------------------------------------===//
// dilated_attention
//===----------------------------------------------------------------------===//

def DilAttn_DilatedAttentionOp : DilAttn_Op<"dilated_attention",
    [Pure, AttrSizedOperandSegments]> {
  let summary = "dilated attention over (B, N, H, D) tensors";
  let description = [{
    Computes dilated attention (SPEC.md section 1) of `query`, `key` and
    `value`, all of shape `(B, N, H, D)`. Pattern `i` is
    `(segment_lengths[i], dilation_rates[i])`: it cuts the sequence into
    segments of that length (the last one may be shorter) and, in each
    segment, keeps every `r`-th position from the head's offset on. Queries
    attend to the keys their pattern selects in the same segment.

    - `mode = grouped` (default): the heads are split into `k` contiguous
      groups (the first `H mod k` one larger); group `i` uses pattern `i` with
      offset `i mod r_i`; the output is the pattern's output divided by `k`,
      and exactly zero where the pattern selects nothing.
    - `mode = longnet`: every head uses every pattern, with offset `j mod r_i`
      (`offset_rule = cyclic`, default) or `floor(j / ceil(H / r_i))`
      (`offset_rule = blocked`); the pattern outputs are mixed by their
      softmax denominators, which equals one softmax over the multiset union
      of the patterns' keys.

    `causal` keeps keys at or before the query. `scale` defaults to
    `1/sqrt(D)`. `key_padding_mask` is `(B, N)`, boolean (`true` = padded) or,
    after mask normalisation, an additive float bias per key. `attn_mask` is
    `(N, N)`, `(B, N, N)` or `(B, H, N, N)`, boolean (`true` = may not attend)
    or an additive float bias (`-inf` forbids the pair). A query left with no
    allowed key produces zeros.

    Example:

    ```mlir
    %out = dilattn.dilated_attention %q, %k, %v
        attn_mask(%mask) segment_lengths = [2048, 4096]
        dilation_rates = [1, 2] mode = longnet causal
        : (tensor<1x8192x8x64xf32>, tensor<1x8192x8x64xf32>,
           tensor<1x8192x8x64xf32>, tensor<8192x8192xi1>)
        -> tensor<1x8192x8x64xf32>
    ```
  }];

  let arguments = (ins
    AnyRankedTensor:$query,
    AnyRankedTensor:$key,
    AnyRankedTensor:$value,
    Optional<AnyRankedTensor>:$key_padding_mask,
    Optional<AnyRankedTensor>:$attn_mask,
    DenseI64ArrayAttr:$segment_lengths,
    DenseI64ArrayAttr:$dilation_rates,
    DefaultValuedAttr<DilAttn_AttentionModeAttr,
                      "::mlir::dilattn::AttentionMode::grouped">:$mode,
    DefaultValuedAttr<DilAttn_OffsetRuleAttr,
                      "::mlir::dilattn::OffsetRule::cyclic">:$offset_rule,
    UnitAttr:$causal,
    OptionalAttr<F64Attr>:$scale
  );
  let results = (outs AnyRankedTensor:$result);

  let assemblyFormat = [{
    $query `,` $key `,` $value
    (`key_padding_mask` `(` $key_padding_mask^ `)`)?
    (`attn_mask` `(` $attn_mask^ `)`)?
    `segment_lengths` `=` $segment_lengths
    `dilation_rates` `=` $dilation_rates
    (`mode` `=` `` $mode^)?
    (`offset_rule` `=` `` $offset_rule^)?
    (`causal` $causal^)?
    (`scale` `=` $scale^)?
    attr-dict `:` functional-type(operands, results)
  }];

  let builders = [
    OpBuilder<(ins "::mlir::Value":$query, "::mlir::Value":$key,
                   "::mlir::Value":$value,
                   "::llvm::ArrayRef<int64_t>":$segmentLengths,
                   "::llvm::ArrayRef<int64_t>":$dilationRates,
                   CArg<"::mlir::dilattn::AttentionMode",
                        "::mlir::dilattn::AttentionMode::grouped">:$mode,
                   CArg<"bool", "false">:$causal)>
  ];

  let extraClassDeclaration = [{
    /// The call's attributes as the shared problem description.
    ::dilattn::DilatedAttentionConfig getConfig();
    int64_t getNumPatterns() { return getSegmentLengths().size(); }
  }];

  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// attention
//===----------------------------------------------------------------------===//

def DilAttn_AttentionOp : DilAttn_Op<"attention",
    [Pure, AttrSizedOperandSegments]> {
  let summary = "plain scaled dot-product attention over (B, N, H, D) tensors";
  let description = [{
    Dense attention: every query of a head attends to every key of that head
    (or to the keys at or before it when `causal`), with the same masks and
    scale as `dilattn.dilated_attention`. It is the canonical form of a
    dilated attention with one pattern, dilation 1 and a segment covering the
    whole sequence, and the dense baseline the benchmarks compare against.

    Example:

    ```mlir
    %out = dilattn.attention %q, %k, %v causal
        : (tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>,
           tensor<2x128x4x32xf32>) -> tensor<2x128x4x32xf32>
    ```
  }];

  let arguments = (ins
    AnyRankedTensor:$query,
    AnyRankedTensor:$key,
    AnyRankedTensor:$value,
    Optional<AnyRankedTensor>:$key_padding_mask,
    Optional<AnyRankedTensor>:$attn_mask,
    UnitAttr:$causal,
    OptionalAttr<F64Attr>:$scale
  );
  let results = (outs AnyRankedTensor:$result);

  let assemblyFormat = [{
    $query `,` $key `,` $value
    (`key_padding_mask` `(` $key_padding_mask^ `)`)?
    (`attn_mask` `(` $attn_mask^ `)`)?
    (`causal` $causal^)?
    (`scale` `=` $scale^)?
    attr-dict `:` functional-type(operands, results)
  }];

  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// multihead_dilated_attention
//===----------------------------------------------------------------------===//

def DilAttn_MultiheadDilatedAttentionOp
    : DilAttn_Op<"multihead_dilated_attention",
                 [Pure, AttrSizedOperandSegments]> {
  let summary = "multi-head dilated attention block (MAGNETO / LongNet)";
  let description = [{
    The multi-head block of SPEC.md section 2 on `(B, N, E)` inputs with
    `E = num_heads * D`:

    `out = Wo-linear(LN(merge(DA(split(Wq-linear(query)),
    split(Wk-linear(key)), split(Wv-linear(value))))))`

    where linear layers compute `y = x W^T + b` with `(E, E)` weights and
    optional `(E)` biases (all four or none), `split` reshapes `(B, N, E)` to
    `(B, N, H, D)` head-major, `DA` is `dilattn.dilated_attention` with this
    op's patterns, mode, causal flag, scale and masks, `merge` is the inverse
    of `split`, and `LN` is a layer norm over `E` with `layer_norm_eps`
    (default `1e-5`), present only when its weight and bias are given.

    Example:

    ```mlir
    %out = dilattn.multihead_dilated_attention %x, %x, %x
        weights(%wq, %wk, %wv, %wo) biases(%bq, %bk, %bv, %bo)
        layer_norm(%gamma, %beta) num_heads = 8
        segment_lengths = [512, 1024] dilation_rates = [1, 2]
        : (tensor<1x4096x512xf32>, tensor<1x4096x512xf32>,
           tensor<1x4096x512xf32>, tensor<512x512xf32>, tensor<512x512xf32>,
           tensor<512x512xf32>, tensor<512x512xf32>, tensor<512xf32>,
           tensor<512xf32>, tensor<512xf32>, tensor<512xf32>,
           tensor<512xf32>, tensor<512xf32>) -> tensor<1x4096x512xf32>
    ```
  }];

  let arguments = (ins
    AnyRankedTensor:$query,
    AnyRankedTensor:$key,
    AnyRankedTensor:$value,
    AnyRankedTensor:$q_weight,
    AnyRankedTensor:$k_weight,
    AnyRankedTensor:$v_weight,
    AnyRankedTensor:$out_weight,
    Optional<AnyRankedTensor>:$q_bias,
    Optional<AnyRankedTensor>:$k_bias,
    Optional<AnyRankedTensor>:$v_bias,
    Optional<AnyRankedTensor>:$out_bias,
    Optional<AnyRankedTensor>:$layer_norm_weight,
    Optional<AnyRankedTensor>:$layer_norm_bias,
    Optional<AnyRankedTensor>:$key_padding_mask,
    Optional<AnyRankedTensor>:$attn_mask,
    I64Attr:$num_heads,
    DenseI64ArrayAttr:$segment_lengths,
    DenseI64ArrayAttr:$dilation_rates,
    DefaultValuedAttr<DilAttn_AttentionModeAttr,
                      "::mlir::dilattn::AttentionMode::grouped">:$mode,
    DefaultValuedAttr<DilAttn_OffsetRuleAttr,
                      "::mlir::dilattn::OffsetRule::cyclic">:$offset_rule,
    UnitAttr:$causal,
    OptionalAttr<F64Attr>:$scale,
    DefaultValuedAttr<F64Attr, "1e-5">:$layer_norm_eps
  );
  let results = (outs AnyRankedTensor:$result);

  let assemblyFormat = [{
    $query `,` $key `,` $value
    `weights` `(` $q_weight `,` $k_weight `,` $v_weight `,` $out_weight `)`
    (`biases` `(` $q_bias^ `,` $k_bias `,` $v_bias `,` $out_bias `)`)?
    (`layer_norm` `(` $layer_norm_weight^ `,` $layer_norm_bias `)`)?
    (`key_padding_mask` `(` $key_padding_mask^ `)`)?
    (`attn_mask` `(` $attn_mask^ `)`)?
    `num_heads` `=` $num_heads
    `segment_lengths` `=` $segment_lengths
    `dilation_rates` `=` $dilation_rates
    (`mode` `=` `` $mode^)?
    (`offset_rule` `=` `` $offset_rule^)?
    (`causal` $causal^)?
    (`scale` `=` $scale^)?
    (`layer_norm_eps` `=` $layer_norm_eps^)?
    attr-dict `:` functional-type(operands, results)
  }];

  let extraClassDeclaration = [{
    ::dilattn::DilatedAttentionConfig getConfig();
  }];

  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// mask_to_bias
//===----------------------------------------------------------------------===//

def DilAttn_MaskToBiasOp : DilAttn_Op<"mask_to_bias", [Pure]> {
  let summary = "turns a boolean mask into an additive bias";
  let description = [{
    Maps `true` (masked: may not attend, or padded key) to `-inf` and `false`
    to `0.0`, elementwise. Mask normalisation
    (`dilattn-normalize-masks`) rewrites every boolean mask operand of the
    attention ops through this op, so the kernels see one mask form: biases
    that add to the scores, the seed package's masks made real. A splat
    constant input folds to a splat constant.

    Example:

    ```mlir
    %bias = dilattn.mask_to_bias %mask : tensor<2x4096xi1> -> tensor<2x4096xf32>
    ```
  }];

  let arguments = (ins AnyRankedTensor:$mask);
  let results = (outs AnyRankedTensor:$bias);

  let assemblyFormat = [{
    $mask attr-dict `:` type($mask) `->` type($bias)
  }];

  let hasVerifier = 1;
  let hasFolder = 1;
}

#endif // DILATTN_OPS_TD
