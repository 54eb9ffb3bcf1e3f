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
    Computes dilated attention (docs/Contract.md section 1) of `query`, `key` and
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
// dilated_attention_with_lse
//===----------------------------------------------------------------------===//

def DilAttn_DilatedAttentionWithLseOp
    : DilAttn_Op<"dilated_attention_with_lse",
                 [Pure, AttrSizedOperandSegments]> {
  let summary = "dilated attention that also returns its softmax statistics";
  let description = [{
    The forward form a training step runs: `dilattn.dilated_attention` (same
    operands, attributes and `result`) that also returns `lse`, one f32
    log-sum-exp per row and head, `(B, N, H)`: the log of the softmax
    denominator the row's output is normalised by. In `longnet` mode that is
    the softmax over the multiset union of the patterns' keys
    (`log sum_i exp(lse_i)`); in `grouped` mode the one pattern's. Rows with
    no output have `lse = -inf`. `dilattn.dilated_attention_grad` recomputes
    the softmax from it instead of storing probabilities.

    Example:

    ```mlir
    %out, %lse = dilattn.dilated_attention_with_lse %q, %k, %v
        segment_lengths = [2048, 4096] dilation_rates = [1, 2] mode = longnet
        : (tensor<1x8192x8x64xf32>, tensor<1x8192x8x64xf32>,
           tensor<1x8192x8x64xf32>)
        -> (tensor<1x8192x8x64xf32>, tensor<1x8192x8xf32>)
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
  let results = (outs AnyRankedTensor:$result, AnyRankedTensor:$lse);

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

  let extraClassDeclaration = [{
    ::dilattn::DilatedAttentionConfig getConfig();
    int64_t getNumPatterns() { return getSegmentLengths().size(); }
  }];

  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// dilated_attention_grad
//===----------------------------------------------------------------------===//

def DilAttn_DilatedAttentionGradOp
    : DilAttn_Op<"dilated_attention_grad", [Pure, AttrSizedOperandSegments]> {
  let summary = "gradients of dilated attention";
  let description = [{
    The backward pass of `dilattn.dilated_attention` (issue 18): given the
    forward operands, its `output` and `lse` (from
    `dilattn.dilated_attention_with_lse`) and `grad_output`, returns the
    gradients of `sum(grad_output * output)` with respect to `query`, `key`
    and `value` (masks are constants). With `c = 1/k` in `grouped` mode and
    `1` in `longnet` mode, for every allowed pair `(x, y)` of a row (keys of
    every pattern the head uses, counted once per pattern):
    `P = exp(s(x, y) - lse[x])`, `dV[y] += c P dO[x]`,
    `dS = P (c <dO[x], V[y]> - <dO[x], O[x]>)`,
    `dQ[x] += scale dS K[y]`, `dK[y] += scale dS Q[x]`. Positions no pattern
    selects, and rows with no allowed key, get zero gradient.

    Example:

    ```mlir
    %dq, %dk, %dv = dilattn.dilated_attention_grad %q, %k, %v, %out, %lse, %dout
        segment_lengths = [2048, 4096] dilation_rates = [1, 2] mode = longnet
        : (tensor<1x8192x8x64xf32>, tensor<1x8192x8x64xf32>,
           tensor<1x8192x8x64xf32>, tensor<1x8192x8x64xf32>,
           tensor<1x8192x8xf32>, tensor<1x8192x8x64xf32>)
        -> (tensor<1x8192x8x64xf32>, tensor<1x8192x8x64xf32>,
            tensor<1x8192x8x64xf32>)
    ```
  }];

  let arguments = (ins
    AnyRankedTensor:$query,
    AnyRankedTensor:$key,
    AnyRankedTensor:$value,
    AnyRankedTensor:$output,
    AnyRankedTensor:$lse,
    AnyRankedTensor:$grad_output,
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
  let results = (outs AnyRankedTensor:$grad_query, AnyRankedTensor:$grad_key,
                      AnyRankedTensor:$grad_value);

  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $output `,` $lse `,` $grad_output
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

  let extraClassDeclaration = [{
    ::dilattn::DilatedAttentionConfig getConfig();
    int64_t getNumPatterns() { return getSegmentLengths().size(); }
  }];

  let hasVerifier = 1;
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
    The multi-head block of docs/Contract.md section 2 on `(B, N, E)` inputs with
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


//===----------------------------------------------------------------------===//
// Buffer-level ops: the kernel form
//===----------------------------------------------------------------------===//
//
// What the compiler lowers: a dilated attention call on buffers, then (after
// segment tiling) per-segment attention updates of online-softmax states over
// strided views, and the write of the states to the output. Users do not
// write these; they are documented because they appear in pass tests and
// `--mlir-print-ir-after-all` output.

def DilAttn_WriteDilatedAttentionOp : DilAttn_Op<"write_dilated_attention",
    [AttrSizedOperandSegments]> {
  let summary = "dilated attention on buffers, written into an output buffer";
  let description = [{
    The buffer form of `dilattn.dilated_attention` (same attributes and
    semantics): reads `query`, `key`, `value` (`(B, N, H, D)` memrefs, any
    strides but a unit stride along `D`) and the optional mask biases, and writes every element of
    `output` exactly once. Masks are float biases here (boolean masks are
    normalised first); `attn_mask` is `(N, N)`, `(B, N, N)` or `(B, H, N, N)`
    (a runtime may also pass the `(B, H, N, N)` form with zero strides where
    the user's mask broadcasts).

    With `lse(%buf)` it also writes the statistics of
    `dilattn.dilated_attention_with_lse` into the `(B, N, H)` f32 buffer.

    The work is cut into work items `(b, h, block)` over blocks of
    `block_size` consecutive positions, numbered with the block fastest. With
    `items(%begin, %end)` only items `[begin, end)` are computed (the runtime
    hands ranges of items to its threads); without, all of them.

    Example:

    ```mlir
    dilattn.write_dilated_attention ins(%q, %k, %v) outs(%out)
        segment_lengths = [512, 1024] dilation_rates = [1, 2] block_size = 128
        : memref<1x4096x8x64xf32>, memref<1x4096x8x64xf32>,
          memref<1x4096x8x64xf32>, memref<1x4096x8x64xf32>
    ```
  }];

  let arguments = (ins
    Arg<AnyStridedMemRefOfRank<4>, "", [MemRead]>:$query,
    Arg<AnyStridedMemRefOfRank<4>, "", [MemRead]>:$key,
    Arg<AnyStridedMemRefOfRank<4>, "", [MemRead]>:$value,
    Arg<Optional<AnyStridedMemRefOfRank<2>>, "", [MemRead]>:$key_padding_mask,
    Arg<Optional<StridedMemRefRankOf<[AnyType], [2, 3, 4]>>, "",
        [MemRead]>:$attn_mask,
    Arg<AnyStridedMemRefOfRank<4>, "", [MemWrite]>:$output,
    Arg<Optional<AnyStridedMemRefOfRank<3>>, "", [MemWrite]>:$lse,
    Optional<Index>:$item_begin,
    Optional<Index>:$item_end,
    DenseI64ArrayAttr:$segment_lengths,
    DenseI64ArrayAttr:$dilation_rates,
    DefaultValuedAttr<DilAttn_AttentionModeAttr,
                      "::mlir::dilattn::AttentionMode::grouped">:$mode,
    DefaultValuedAttr<DilAttn_OffsetRuleAttr,
                      "::mlir::dilattn::OffsetRule::cyclic">:$offset_rule,
    UnitAttr:$causal,
    OptionalAttr<F64Attr>:$scale,
    I64Attr:$block_size
  );

  let assemblyFormat = [{
    `ins` `(` $query `,` $key `,` $value `)`
    (`key_padding_mask` `(` $key_padding_mask^ `:` type($key_padding_mask) `)`)?
    (`attn_mask` `(` $attn_mask^ `:` type($attn_mask) `)`)?
    `outs` `(` $output `)`
    (`lse` `(` $lse^ `:` type($lse) `)`)?
    (`items` `(` $item_begin^ `,` $item_end `)`)?
    `segment_lengths` `=` $segment_lengths
    `dilation_rates` `=` $dilation_rates
    (`mode` `=` `` $mode^)?
    (`offset_rule` `=` `` $offset_rule^)?
    (`causal` $causal^)?
    (`scale` `=` $scale^)?
    `block_size` `=` $block_size
    attr-dict `:` type($query) `,` type($key) `,` type($value) `,`
    type($output)
  }];

  let extraClassDeclaration = [{
    ::dilattn::DilatedAttentionConfig getConfig();
    int64_t getNumPatterns() { return getSegmentLengths().size(); }
  }];

  let hasVerifier = 1;
}

def DilAttn_SegmentAttentionOp : DilAttn_Op<"segment_attention",
    [AttrSizedOperandSegments]> {
  let summary = "updates online-softmax states with one segment's keys";
  let description = [{
    For every query row `i` of `query` (`(nq, D)`, usually a strided view of
    the dilated rows of one segment) folds the keys `key`/`value` (`(nk, D)`)
    into the online-softmax state of that row: `state_max[i]` (running
    maximum of the scores, in log2 units), `state_sum[i]` (running sum of
    `exp2(score - max)`) and `state_acc[i, :]` (running weighted sum of value
    rows). Scores are `scale * <q_i, k_j> + key_bias[j] + attn_bias[i, j]`.
    When `query_start` is given the call is causal: row `i` is the
    `query_start + i`-th selected position of the segment and may only see
    keys `j <= query_start + i`.

    Folding the keys of several patterns into one state is exactly the LongNet
    mixture (one softmax over the multiset union of keys), which is what the
    fusion pass exploits.

    Example:

    ```mlir
    dilattn.segment_attention query(%q) key(%k) value(%v)
        state(%max, %sum, %acc) scale = 0.125
        : memref<?x64xf32, strided<[?, 1], offset: ?>>,
          memref<?x64xf32, strided<[?, 1], offset: ?>>,
          memref<?x64xf32, strided<[?, 1], offset: ?>>,
          memref<?xf32, strided<[?], offset: ?>>,
          memref<?xf32, strided<[?], offset: ?>>,
          memref<?x64xf32, strided<[?, 1], offset: ?>>
    ```
  }];

  let arguments = (ins
    Arg<AnyStridedMemRefOfRank<2>, "", [MemRead]>:$query,
    Arg<AnyStridedMemRefOfRank<2>, "", [MemRead]>:$key,
    Arg<AnyStridedMemRefOfRank<2>, "", [MemRead]>:$value,
    Arg<Optional<AnyStridedMemRefOfRank<1>>, "", [MemRead]>:$key_bias,
    Arg<Optional<AnyStridedMemRefOfRank<2>>, "", [MemRead]>:$attn_bias,
    Arg<AnyStridedMemRefOfRank<1>, "", [MemRead, MemWrite]>:$state_max,
    Arg<AnyStridedMemRefOfRank<1>, "", [MemRead, MemWrite]>:$state_sum,
    Arg<AnyStridedMemRefOfRank<2>, "", [MemRead, MemWrite]>:$state_acc,
    Optional<Index>:$query_start,
    F64Attr:$scale
  );

  let assemblyFormat = [{
    `query` `(` $query `)` `key` `(` $key `)` `value` `(` $value `)`
    (`key_bias` `(` $key_bias^ `:` type($key_bias) `)`)?
    (`attn_bias` `(` $attn_bias^ `:` type($attn_bias) `)`)?
    `state` `(` $state_max `,` $state_sum `,` $state_acc `)`
    (`causal` `(` $query_start^ `)`)?
    `scale` `=` $scale
    attr-dict `:` type($query) `,` type($key) `,` type($value)
    `,` type($state_max) `,` type($state_sum) `,` type($state_acc)
  }];

  let hasVerifier = 1;
}

def DilAttn_WriteStatesOp : DilAttn_Op<"write_states",
    [AttrSizedOperandSegments]> {
  let summary = "writes online-softmax states to output rows";
  let description = [{
    Writes row `i` of `output` (`(n, D)`) from the `k` states given: with
    `M` the largest `state_max[i]` among states with a non-zero sum,
    `out = output_scale * sum_s acc_s * exp2(max_s - M) /
    sum_s sum_s * exp2(max_s - M)`, which is the LongNet mixture of the
    states' softmax outputs weighted by their denominators; rows where no
    state has a key get exactly `0`. With one state this is
    `output_scale * acc / sum`. With `lse`, row `i` of it gets the natural
    log of the mixed denominator, `ln 2 * (M + log2 sum_s sum_s *
    exp2(max_s - M))`, or `-inf` where no state has a key.

    Example:

    ```mlir
    dilattn.write_states
        states(%max0, %max1 : memref<128xf32>, memref<128xf32>)
        sums(%sum0, %sum1 : memref<128xf32>, memref<128xf32>)
        accs(%acc0, %acc1 : memref<128x64xf32>, memref<128x64xf32>)
        outs(%out : memref<?x64xf32, strided<[?, 1], offset: ?>>)
        output_scale = 1.0
    ```
  }];

  let arguments = (ins
    Arg<Variadic<AnyStridedMemRefOfRank<1>>, "", [MemRead]>:$state_maxes,
    Arg<Variadic<AnyStridedMemRefOfRank<1>>, "", [MemRead]>:$state_sums,
    Arg<Variadic<AnyStridedMemRefOfRank<2>>, "", [MemRead]>:$state_accs,
    Arg<AnyStridedMemRefOfRank<2>, "", [MemWrite]>:$output,
    Arg<Optional<AnyStridedMemRefOfRank<1>>, "", [MemWrite]>:$lse,
    F64Attr:$output_scale
  );

  let assemblyFormat = [{
    `states` `(` $state_maxes `:` type($state_maxes) `)`
    `sums` `(` $state_sums `:` type($state_sums) `)`
    `accs` `(` $state_accs `:` type($state_accs) `)`
    `outs` `(` $output `:` type($output) `)`
    (`lse` `(` $lse^ `:` type($lse) `)`)?
    `output_scale` `=` $output_scale attr-dict
  }];

  let hasVerifier = 1;
}

def DilAttn_WriteDilatedAttentionGradOp
    : DilAttn_Op<"write_dilated_attention_grad", [AttrSizedOperandSegments]> {
  let summary = "gradients of dilated attention on buffers";
  let description = [{
    The buffer form of `dilattn.dilated_attention_grad` (same attributes and
    semantics): reads `query`, `key`, `value`, the forward `output`, its `lse`
    (`(B, N, H)` f32) and `grad_output`, and the optional mask biases, and
    writes every element of `grad_query`, `grad_key` and `grad_value`.

    A work item is one `(b, h)`: the keys of a position collect gradient from
    every pattern's segment that selects it, so the rows of one head belong
    to one item and items never write the same row. With
    `items(%begin, %end)` only items `[begin, end)` are computed.

    Example:

    ```mlir
    dilattn.write_dilated_attention_grad
        ins(%q, %k, %v, %out, %lse, %dout) outs(%dq, %dk, %dv)
        segment_lengths = [512, 1024] dilation_rates = [1, 2]
        : memref<1x4096x8x64xf32>, memref<1x4096x8x64xf32>,
          memref<1x4096x8x64xf32>, memref<1x4096x8x64xf32>,
          memref<1x4096x8xf32>, memref<1x4096x8x64xf32>,
          memref<1x4096x8x64xf32>, memref<1x4096x8x64xf32>,
          memref<1x4096x8x64xf32>
    ```
  }];

  let arguments = (ins
    Arg<AnyStridedMemRefOfRank<4>, "", [MemRead]>:$query,
    Arg<AnyStridedMemRefOfRank<4>, "", [MemRead]>:$key,
    Arg<AnyStridedMemRefOfRank<4>, "", [MemRead]>:$value,
    Arg<AnyStridedMemRefOfRank<4>, "", [MemRead]>:$output,
    Arg<AnyStridedMemRefOfRank<3>, "", [MemRead]>:$lse,
    Arg<AnyStridedMemRefOfRank<4>, "", [MemRead]>:$grad_output,
    Arg<Optional<AnyStridedMemRefOfRank<2>>, "", [MemRead]>:$key_padding_mask,
    Arg<Optional<StridedMemRefRankOf<[AnyType], [2, 3, 4]>>, "",
        [MemRead]>:$attn_mask,
    Arg<AnyStridedMemRefOfRank<4>, "", [MemWrite]>:$grad_query,
    Arg<AnyStridedMemRefOfRank<4>, "", [MemWrite]>:$grad_key,
    Arg<AnyStridedMemRefOfRank<4>, "", [MemWrite]>:$grad_value,
    Optional<Index>:$item_begin,
    Optional<Index>:$item_end,
    DenseI64ArrayAttr:$segment_lengths,
    DenseI64ArrayAttr:$dilation_rates,
    DefaultValuedAttr<DilAttn_AttentionModeAttr,
                      "::mlir::dilattn::AttentionMode::grouped">:$mode,
    DefaultValuedAttr<DilAttn_OffsetRuleAttr,
                      "::mlir::dilattn::OffsetRule::cyclic">:$offset_rule,
    UnitAttr:$causal,
    OptionalAttr<F64Attr>:$scale
  );

  let assemblyFormat = [{
    `ins` `(` $query `,` $key `,` $value `,` $output `,` $lse `,`
    $grad_output `)`
    (`key_padding_mask` `(` $key_padding_mask^ `:` type($key_padding_mask) `)`)?
    (`attn_mask` `(` $attn_mask^ `:` type($attn_mask) `)`)?
    `outs` `(` $grad_query `,` $grad_key `,` $grad_value `)`
    (`items` `(` $item_begin^ `,` $item_end `)`)?
    `segment_lengths` `=` $segment_lengths
    `dilation_rates` `=` $dilation_rates
    (`mode` `=` `` $mode^)?
    (`offset_rule` `=` `` $offset_rule^)?
    (`causal` $causal^)?
    (`scale` `=` $scale^)?
    attr-dict `:` type($query) `,` type($key) `,` type($value) `,`
    type($output) `,` type($lse) `,` type($grad_output) `,`
    type($grad_query) `,` type($grad_key) `,` type($grad_value)
  }];

  let extraClassDeclaration = [{
    ::dilattn::DilatedAttentionConfig getConfig();
    int64_t getNumPatterns() { return getSegmentLengths().size(); }
  }];

  let hasVerifier = 1;
}

def DilAttn_SegmentAttentionGradOp : DilAttn_Op<"segment_attention_grad",
    [AttrSizedOperandSegments]> {
  let summary = "accumulates the gradients of one segment's attention";
  let description = [{
    The backward counterpart of `dilattn.segment_attention` for the selected
    rows of one segment (strided views, `(n, D)`; `lse` `(nq)`): recomputes
    the probabilities `P[i, j] = exp(s[i, j] - lse[i])` from the saved
    statistics (scores as in `dilattn.segment_attention`, `-inf` for masked
    pairs; a row with `lse = -inf` has no allowed key and gets nothing),
    and with `c = output_scale`, `Delta[i] = <grad_output[i], output[i]>`,
    `dS = P (c <grad_output[i], value[j]> - Delta[i])` adds
    `c P^T grad_output` to `grad_value`, `scale dS^T query` to `grad_key`
    and `scale dS key` to `grad_query`. With `causal(%start)` query row `i`
    sees keys `j <= start + i`.

    Example:

    ```mlir
    dilattn.segment_attention_grad query(%q) key(%k) value(%v) output(%o)
        grad_output(%do) lse(%lse) grads(%dq, %dk, %dv)
        scale = 0.125 output_scale = 1.0
        : memref<?x64xf32, strided<[?, 1], offset: ?>>,
          memref<?x64xf32, strided<[?, 1], offset: ?>>,
          memref<?x64xf32, strided<[?, 1], offset: ?>>,
          memref<?x64xf32, strided<[?, 1], offset: ?>>,
          memref<?x64xf32, strided<[?, 1], offset: ?>>,
          memref<?xf32, strided<[?], offset: ?>>,
          memref<?x64xf32, strided<[?, 1], offset: ?>>,
          memref<?x64xf32, strided<[?, 1], offset: ?>>,
          memref<?x64xf32, strided<[?, 1], offset: ?>>
    ```
  }];

  let arguments = (ins
    Arg<AnyStridedMemRefOfRank<2>, "", [MemRead]>:$query,
    Arg<AnyStridedMemRefOfRank<2>, "", [MemRead]>:$key,
    Arg<AnyStridedMemRefOfRank<2>, "", [MemRead]>:$value,
    Arg<AnyStridedMemRefOfRank<2>, "", [MemRead]>:$output,
    Arg<AnyStridedMemRefOfRank<2>, "", [MemRead]>:$grad_output,
    Arg<AnyStridedMemRefOfRank<1>, "", [MemRead]>:$lse,
    Arg<Optional<AnyStridedMemRefOfRank<1>>, "", [MemRead]>:$key_bias,
    Arg<Optional<AnyStridedMemRefOfRank<2>>, "", [MemRead]>:$attn_bias,
    Arg<AnyStridedMemRefOfRank<2>, "", [MemRead, MemWrite]>:$grad_query,
    Arg<AnyStridedMemRefOfRank<2>, "", [MemRead, MemWrite]>:$grad_key,
    Arg<AnyStridedMemRefOfRank<2>, "", [MemRead, MemWrite]>:$grad_value,
    Optional<Index>:$query_start,
    F64Attr:$scale,
    F64Attr:$output_scale
  );

  let assemblyFormat = [{
    `query` `(` $query `)` `key` `(` $key `)` `value` `(` $value `)`
    `output` `(` $output `)` `grad_output` `(` $grad_output `)`
    `lse` `(` $lse `)`
    (`key_bias` `(` $key_bias^ `:` type($key_bias) `)`)?
    (`attn_bias` `(` $attn_bias^ `:` type($attn_bias) `)`)?
    `grads` `(` $grad_query `,` $grad_key `,` $grad_value `)`
    (`causal` `(` $query_start^ `)`)?
    `scale` `=` $scale `output_scale` `=` $output_scale
    attr-dict `:` type($query) `,` type($key) `,` type($value) `,`
    type($output) `,` type($grad_output) `,` type($lse) `,`
    type($grad_query) `,` type($grad_key) `,` type($grad_value)
  }];

  let hasVerifier = 1;
}

#endif // DILATTN_OPS_TD
