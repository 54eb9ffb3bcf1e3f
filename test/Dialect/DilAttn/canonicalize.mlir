// RUN: dilattn-opt %s -canonicalize -split-input-file | FileCheck %s --enable-var-scope

// The canonicalization patterns of lib/Dialect/DilAttn/IR/DilAttnOps.cpp
// (DropTrivialMasks, FoldToPlainAttention, ClampSegmentLengths,
// CanonicalizeOffsetRule) and the dilattn.mask_to_bias folder. The
// dilated_attention calls that should keep their form use a dilation > 1 so
// that no other pattern applies.

//===----------------------------------------------------------------------===//
// DropTrivialMasks
//===----------------------------------------------------------------------===//

// An all-false boolean key_padding_mask and attn_mask mask nothing: dropped.
// CHECK-LABEL: func.func @drop_false_masks_dilated(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>)
// CHECK-NOT: arith.constant
// CHECK: %[[R:.+]] = dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] segment_lengths = [16, 32] dilation_rates = [1, 2] causal : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
// CHECK-NEXT: return %[[R]]
func.func @drop_false_masks_dilated(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  %kpm = arith.constant dense<false> : tensor<2x64xi1>
  %am = arith.constant dense<false> : tensor<2x4x64x64xi1>
  %0 = dilattn.dilated_attention %q, %q, %q key_padding_mask(%kpm) attn_mask(%am)
      segment_lengths = [16, 32] dilation_rates = [1, 2] causal
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>, tensor<2x4x64x64xi1>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// All-zero float biases (including -0.0, and f16) mask nothing: dropped.
// CHECK-LABEL: func.func @drop_zero_biases_dilated(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>)
// CHECK-NOT: arith.constant
// CHECK: %[[A:.+]] = dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
// CHECK: %[[B:.+]] = dilattn.dilated_attention %[[A]], %[[Q]], %[[Q]] segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
// CHECK-NEXT: return %[[B]]
func.func @drop_zero_biases_dilated(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  %kpm = arith.constant dense<0.0> : tensor<2x64xf32>
  %am = arith.constant dense<-0.0> : tensor<64x64xf16>
  %0 = dilattn.dilated_attention %q, %q, %q key_padding_mask(%kpm) attn_mask(%am)
      segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xf32>, tensor<64x64xf16>) -> tensor<2x64x4x16xf32>
  %zero = arith.constant dense<0.0> : tensor<2x64x64xbf16>
  %1 = dilattn.dilated_attention %0, %q, %q attn_mask(%zero)
      segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x64xbf16>) -> tensor<2x64x4x16xf32>
  return %1 : tensor<2x64x4x16xf32>
}

// -----

// An all-false mask or all-zero bias written element by element is the same
// splat constant: dropped too.
// CHECK-LABEL: func.func @drop_elementwise_false_mask(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<1x2x2x8xf32>)
// CHECK-NOT: arith.constant
// CHECK: %[[R:.+]] = dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] segment_lengths = [2] dilation_rates = [2] : (tensor<1x2x2x8xf32>, tensor<1x2x2x8xf32>, tensor<1x2x2x8xf32>) -> tensor<1x2x2x8xf32>
// CHECK-NEXT: return %[[R]]
func.func @drop_elementwise_false_mask(%q: tensor<1x2x2x8xf32>) -> tensor<1x2x2x8xf32> {
  %kpm = arith.constant dense<[[0.0, 0.0]]> : tensor<1x2xf32>
  %am = arith.constant dense<[[false, false], [false, false]]> : tensor<2x2xi1>
  %0 = dilattn.dilated_attention %q, %q, %q key_padding_mask(%kpm) attn_mask(%am) segment_lengths = [2] dilation_rates = [2]
      : (tensor<1x2x2x8xf32>, tensor<1x2x2x8xf32>, tensor<1x2x2x8xf32>, tensor<1x2xf32>, tensor<2x2xi1>) -> tensor<1x2x2x8xf32>
  return %0 : tensor<1x2x2x8xf32>
}

// -----

// The same on dilattn.attention.
// CHECK-LABEL: func.func @drop_trivial_masks_attention(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>)
// CHECK-NOT: arith.constant
// CHECK: %[[A:.+]] = dilattn.attention %[[Q]], %[[Q]], %[[Q]] causal scale = 5.000000e-01 : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
// CHECK: %[[B:.+]] = dilattn.attention %[[A]], %[[Q]], %[[Q]] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
// CHECK-NEXT: return %[[B]]
func.func @drop_trivial_masks_attention(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  %kpm = arith.constant dense<false> : tensor<2x64xi1>
  %am = arith.constant dense<false> : tensor<64x64xi1>
  %0 = dilattn.attention %q, %q, %q key_padding_mask(%kpm) attn_mask(%am) causal scale = 0.5
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>, tensor<64x64xi1>) -> tensor<2x64x4x16xf32>
  %fkpm = arith.constant dense<0.0> : tensor<2x64xf32>
  %fam = arith.constant dense<0.0> : tensor<2x4x64x64xf32>
  %1 = dilattn.attention %0, %q, %q key_padding_mask(%fkpm) attn_mask(%fam)
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xf32>, tensor<2x4x64x64xf32>) -> tensor<2x64x4x16xf32>
  return %1 : tensor<2x64x4x16xf32>
}

// -----

// Masks that mask something, or are not constant, stay; a trivial one next to
// them is still dropped.
// CHECK-LABEL: func.func @keep_nontrivial_masks(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x4x4x16xf32>, %[[M:[a-zA-Z0-9_]+]]: tensor<2x4xi1>)
// CHECK-DAG: %[[TRUE:.+]] = arith.constant dense<true> : tensor<2x4xi1>
// CHECK-DAG: %[[MIXED:.+]] = arith.constant dense<{{\[\[}}false, true, false, false], [false, false, false, false], [false, false, false, false], [false, false, false, false]]> : tensor<4x4xi1>
// CHECK-DAG: %[[BIAS:.+]] = arith.constant dense<-1.000000e+00> : tensor<4x4xf32>
// CHECK: %[[A:.+]] = dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] key_padding_mask(%[[TRUE]]) attn_mask(%[[MIXED]]) segment_lengths = [2] dilation_rates = [2] : (tensor<2x4x4x16xf32>, tensor<2x4x4x16xf32>, tensor<2x4x4x16xf32>, tensor<2x4xi1>, tensor<4x4xi1>) -> tensor<2x4x4x16xf32>
// CHECK: %[[B:.+]] = dilattn.dilated_attention %[[A]], %[[Q]], %[[Q]] key_padding_mask(%[[M]]) attn_mask(%[[BIAS]]) segment_lengths = [2] dilation_rates = [2] : (tensor<2x4x4x16xf32>, tensor<2x4x4x16xf32>, tensor<2x4x4x16xf32>, tensor<2x4xi1>, tensor<4x4xf32>) -> tensor<2x4x4x16xf32>
// CHECK: %[[C:.+]] = dilattn.attention %[[B]], %[[Q]], %[[Q]] key_padding_mask(%[[M]]) : (tensor<2x4x4x16xf32>, tensor<2x4x4x16xf32>, tensor<2x4x4x16xf32>, tensor<2x4xi1>) -> tensor<2x4x4x16xf32>
// CHECK: %[[D:.+]] = dilattn.attention %[[C]], %[[Q]], %[[Q]] attn_mask(%[[MIXED]]) : (tensor<2x4x4x16xf32>, tensor<2x4x4x16xf32>, tensor<2x4x4x16xf32>, tensor<4x4xi1>) -> tensor<2x4x4x16xf32>
// CHECK: return %[[D]]
func.func @keep_nontrivial_masks(%q: tensor<2x4x4x16xf32>, %m: tensor<2x4xi1>) -> tensor<2x4x4x16xf32> {
  %true = arith.constant dense<true> : tensor<2x4xi1>
  %mixed = arith.constant dense<[[false, true, false, false], [false, false, false, false],
                                 [false, false, false, false], [false, false, false, false]]> : tensor<4x4xi1>
  %bias = arith.constant dense<-1.0> : tensor<4x4xf32>
  %false = arith.constant dense<false> : tensor<4x4xi1>
  %0 = dilattn.dilated_attention %q, %q, %q key_padding_mask(%true) attn_mask(%mixed)
      segment_lengths = [2] dilation_rates = [2]
      : (tensor<2x4x4x16xf32>, tensor<2x4x4x16xf32>, tensor<2x4x4x16xf32>, tensor<2x4xi1>, tensor<4x4xi1>) -> tensor<2x4x4x16xf32>
  %1 = dilattn.dilated_attention %0, %q, %q key_padding_mask(%m) attn_mask(%bias)
      segment_lengths = [2] dilation_rates = [2]
      : (tensor<2x4x4x16xf32>, tensor<2x4x4x16xf32>, tensor<2x4x4x16xf32>, tensor<2x4xi1>, tensor<4x4xf32>) -> tensor<2x4x4x16xf32>
  // Non-constant key_padding_mask kept, all-false attn_mask dropped.
  %2 = dilattn.attention %1, %q, %q key_padding_mask(%m) attn_mask(%false)
      : (tensor<2x4x4x16xf32>, tensor<2x4x4x16xf32>, tensor<2x4x4x16xf32>, tensor<2x4xi1>, tensor<4x4xi1>) -> tensor<2x4x4x16xf32>
  // All-false key_padding_mask dropped, mixed attn_mask kept.
  %kfalse = arith.constant dense<false> : tensor<2x4xi1>
  %3 = dilattn.attention %2, %q, %q key_padding_mask(%kfalse) attn_mask(%mixed)
      : (tensor<2x4x4x16xf32>, tensor<2x4x4x16xf32>, tensor<2x4x4x16xf32>, tensor<2x4xi1>, tensor<4x4xi1>) -> tensor<2x4x4x16xf32>
  return %3 : tensor<2x4x4x16xf32>
}

// -----

// A float bias that is zero except for one element is not trivial.
// CHECK-LABEL: func.func @keep_nonsplat_zero_bias(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<1x4x2x8xf32>)
// CHECK: %[[BIAS:.+]] = arith.constant dense<{{\[\[}}0.000000e+00, 0xFF800000, 0.000000e+00, 0.000000e+00]]> : tensor<1x4xf32>
// CHECK: dilattn.attention %[[Q]], %[[Q]], %[[Q]] key_padding_mask(%[[BIAS]]) : (tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4xf32>) -> tensor<1x4x2x8xf32>
func.func @keep_nonsplat_zero_bias(%q: tensor<1x4x2x8xf32>) -> tensor<1x4x2x8xf32> {
  %bias = arith.constant dense<[[0.0, 0xFF800000, 0.0, 0.0]]> : tensor<1x4xf32>
  %0 = dilattn.attention %q, %q, %q key_padding_mask(%bias)
      : (tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4x2x8xf32>, tensor<1x4xf32>) -> tensor<1x4x2x8xf32>
  return %0 : tensor<1x4x2x8xf32>
}

// -----

//===----------------------------------------------------------------------===//
// FoldToPlainAttention
//===----------------------------------------------------------------------===//

// k = 1, r = 1, w = N in grouped mode: plain attention. Operands, masks,
// causal and scale carry over.
// CHECK-LABEL: func.func @fold_to_attention_grouped(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>, %[[K:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>, %[[V:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>, %[[KPM:[a-zA-Z0-9_]+]]: tensor<2x64xi1>, %[[AM:[a-zA-Z0-9_]+]]: tensor<64x64xf32>)
// CHECK-NOT: dilattn.dilated_attention
// CHECK: %[[R:.+]] = dilattn.attention %[[Q]], %[[K]], %[[V]] key_padding_mask(%[[KPM]]) attn_mask(%[[AM]]) causal scale = 2.500000e-01 : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>, tensor<64x64xf32>) -> tensor<2x64x4x16xf32>
// CHECK-NEXT: return %[[R]]
func.func @fold_to_attention_grouped(%q: tensor<2x64x4x16xf32>, %k: tensor<2x64x4x16xf32>, %v: tensor<2x64x4x16xf32>,
                                     %kpm: tensor<2x64xi1>, %am: tensor<64x64xf32>) -> tensor<2x64x4x16xf32> {
  %0 = dilattn.dilated_attention %q, %k, %v key_padding_mask(%kpm) attn_mask(%am)
      segment_lengths = [64] dilation_rates = [1] causal scale = 0.25
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>, tensor<64x64xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// w > N in longnet mode (blocked rule, irrelevant here): plain attention.
// CHECK-LABEL: func.func @fold_to_attention_longnet(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<1x100x2x8xbf16>)
// CHECK-NOT: dilattn.dilated_attention
// CHECK: %[[R:.+]] = dilattn.attention %[[Q]], %[[Q]], %[[Q]] : (tensor<1x100x2x8xbf16>, tensor<1x100x2x8xbf16>, tensor<1x100x2x8xbf16>) -> tensor<1x100x2x8xbf16>
// CHECK-NEXT: return %[[R]]
func.func @fold_to_attention_longnet(%q: tensor<1x100x2x8xbf16>) -> tensor<1x100x2x8xbf16> {
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [4096] dilation_rates = [1] mode = longnet offset_rule = blocked
      : (tensor<1x100x2x8xbf16>, tensor<1x100x2x8xbf16>, tensor<1x100x2x8xbf16>) -> tensor<1x100x2x8xbf16>
  return %0 : tensor<1x100x2x8xbf16>
}

// -----

// No fold: dilation > 1, more than one pattern, w < N, or unknown N.
// CHECK-LABEL: func.func @no_fold_to_attention(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>, %[[D:[a-zA-Z0-9_]+]]: tensor<2x?x4x16xf32>)
// CHECK-NOT: dilattn.attention
// CHECK: %[[A:.+]] = dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] segment_lengths = [64] dilation_rates = [2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
// CHECK: %[[B:.+]] = dilattn.dilated_attention %[[A]], %[[Q]], %[[Q]] segment_lengths = [64, 64] dilation_rates = [1, 1] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
// CHECK: %[[C:.+]] = dilattn.dilated_attention %[[B]], %[[Q]], %[[Q]] segment_lengths = [63] dilation_rates = [1] mode = longnet : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
// CHECK: %[[E:.+]] = dilattn.dilated_attention %[[D]], %[[D]], %[[D]] segment_lengths = [1048576] dilation_rates = [1] causal : (tensor<2x?x4x16xf32>, tensor<2x?x4x16xf32>, tensor<2x?x4x16xf32>) -> tensor<2x?x4x16xf32>
// CHECK: return %[[C]], %[[E]]
func.func @no_fold_to_attention(%q: tensor<2x64x4x16xf32>, %d: tensor<2x?x4x16xf32>) -> (tensor<2x64x4x16xf32>, tensor<2x?x4x16xf32>) {
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [64] dilation_rates = [2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  %1 = dilattn.dilated_attention %0, %q, %q segment_lengths = [64, 64] dilation_rates = [1, 1]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  %2 = dilattn.dilated_attention %1, %q, %q segment_lengths = [63] dilation_rates = [1] mode = longnet
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  %3 = dilattn.dilated_attention %d, %d, %d segment_lengths = [1048576] dilation_rates = [1] causal
      : (tensor<2x?x4x16xf32>, tensor<2x?x4x16xf32>, tensor<2x?x4x16xf32>) -> tensor<2x?x4x16xf32>
  return %2, %3 : tensor<2x64x4x16xf32>, tensor<2x?x4x16xf32>
}

// -----

//===----------------------------------------------------------------------===//
// ClampSegmentLengths
//===----------------------------------------------------------------------===//

// Segment lengths beyond a static N are clamped to N; the others stay.
// CHECK-LABEL: func.func @clamp_segment_lengths(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>)
// CHECK: %[[A:.+]] = dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] segment_lengths = [32, 64] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
// CHECK: %[[B:.+]] = dilattn.dilated_attention %[[A]], %[[Q]], %[[Q]] segment_lengths = [64, 64, 64] dilation_rates = [1, 2, 4] mode = longnet causal : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
// CHECK: %[[C:.+]] = dilattn.dilated_attention %[[B]], %[[Q]], %[[Q]] segment_lengths = [64] dilation_rates = [4] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
// CHECK-NEXT: return %[[C]]
func.func @clamp_segment_lengths(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [32, 128] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  %1 = dilattn.dilated_attention %0, %q, %q segment_lengths = [64, 65, 9223372036854775807] dilation_rates = [1, 2, 4] mode = longnet causal
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  %2 = dilattn.dilated_attention %1, %q, %q segment_lengths = [4096] dilation_rates = [4]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %2 : tensor<2x64x4x16xf32>
}

// -----

// Not clamped when N is unknown, nor when no length exceeds N.
// CHECK-LABEL: func.func @no_clamp_segment_lengths(
// CHECK-SAME: %[[D:[a-zA-Z0-9_]+]]: tensor<1x?x4x16xf32>, %[[Q:[a-zA-Z0-9_]+]]: tensor<1x64x4x16xf32>)
// CHECK: dilattn.dilated_attention %[[D]], %[[D]], %[[D]] segment_lengths = [32, 128] dilation_rates = [1, 2] : (tensor<1x?x4x16xf32>, tensor<1x?x4x16xf32>, tensor<1x?x4x16xf32>) -> tensor<1x?x4x16xf32>
// CHECK: dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] segment_lengths = [16, 64] dilation_rates = [1, 2] : (tensor<1x64x4x16xf32>, tensor<1x64x4x16xf32>, tensor<1x64x4x16xf32>) -> tensor<1x64x4x16xf32>
func.func @no_clamp_segment_lengths(%d: tensor<1x?x4x16xf32>, %q: tensor<1x64x4x16xf32>) -> (tensor<1x?x4x16xf32>, tensor<1x64x4x16xf32>) {
  %0 = dilattn.dilated_attention %d, %d, %d segment_lengths = [32, 128] dilation_rates = [1, 2]
      : (tensor<1x?x4x16xf32>, tensor<1x?x4x16xf32>, tensor<1x?x4x16xf32>) -> tensor<1x?x4x16xf32>
  %1 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 64] dilation_rates = [1, 2]
      : (tensor<1x64x4x16xf32>, tensor<1x64x4x16xf32>, tensor<1x64x4x16xf32>) -> tensor<1x64x4x16xf32>
  return %0, %1 : tensor<1x?x4x16xf32>, tensor<1x64x4x16xf32>
}

// -----

//===----------------------------------------------------------------------===//
// CanonicalizeOffsetRule
//===----------------------------------------------------------------------===//

// blocked -> cyclic (the default, elided) where the rule does not matter:
// grouped mode, or longnet with every dilation rate 1.
// CHECK-LABEL: func.func @offset_rule_to_cyclic(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>)
// CHECK: %[[A:.+]] = dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
// CHECK: %[[B:.+]] = dilattn.dilated_attention %[[A]], %[[Q]], %[[Q]] segment_lengths = [16, 32] dilation_rates = [1, 1] mode = longnet causal : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
// CHECK-NEXT: return %[[B]]
func.func @offset_rule_to_cyclic(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32] dilation_rates = [1, 2] mode = grouped offset_rule = blocked
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  %1 = dilattn.dilated_attention %0, %q, %q segment_lengths = [16, 32] dilation_rates = [1, 1] mode = longnet offset_rule = blocked causal
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %1 : tensor<2x64x4x16xf32>
}

// -----

// longnet with some dilation > 1: the blocked rule matters and is kept.
// CHECK-LABEL: func.func @offset_rule_kept(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>)
// CHECK: dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet offset_rule = blocked : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
func.func @offset_rule_kept(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet offset_rule = blocked
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

//===----------------------------------------------------------------------===//
// dilattn.mask_to_bias folder
//===----------------------------------------------------------------------===//

// A splat true mask folds to a -inf constant of the bias type.
// CHECK-LABEL: func.func @fold_mask_to_bias_true(
// CHECK-NOT: dilattn.mask_to_bias
// CHECK-DAG: %[[F32:.+]] = arith.constant dense<0xFF800000> : tensor<2x64xf32>
// CHECK-DAG: %[[F16:.+]] = arith.constant dense<0xFC00> : tensor<64x64xf16>
// CHECK-DAG: %[[BF16:.+]] = arith.constant dense<0xFF80> : tensor<2x4x64x64xbf16>
// CHECK-NOT: dilattn.mask_to_bias
// CHECK: return %[[F32]], %[[F16]], %[[BF16]]
func.func @fold_mask_to_bias_true() -> (tensor<2x64xf32>, tensor<64x64xf16>, tensor<2x4x64x64xbf16>) {
  %t2 = arith.constant dense<true> : tensor<2x64xi1>
  %t3 = arith.constant dense<true> : tensor<64x64xi1>
  %t4 = arith.constant dense<true> : tensor<2x4x64x64xi1>
  %0 = dilattn.mask_to_bias %t2 : tensor<2x64xi1> -> tensor<2x64xf32>
  %1 = dilattn.mask_to_bias %t3 : tensor<64x64xi1> -> tensor<64x64xf16>
  %2 = dilattn.mask_to_bias %t4 : tensor<2x4x64x64xi1> -> tensor<2x4x64x64xbf16>
  return %0, %1, %2 : tensor<2x64xf32>, tensor<64x64xf16>, tensor<2x4x64x64xbf16>
}

// -----

// A splat true mask folds to -inf and then stays on the attention op.
// CHECK-LABEL: func.func @fold_mask_to_bias_true_feeds_attention(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>)
// CHECK: %[[NEGINF:.+]] = arith.constant dense<0xFF800000> : tensor<2x64xf32>
// CHECK-NOT: dilattn.mask_to_bias
// CHECK: dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] key_padding_mask(%[[NEGINF]]) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xf32>) -> tensor<2x64x4x16xf32>
func.func @fold_mask_to_bias_true_feeds_attention(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  %t = arith.constant dense<true> : tensor<2x64xi1>
  %b = dilattn.mask_to_bias %t : tensor<2x64xi1> -> tensor<2x64xf32>
  %0 = dilattn.dilated_attention %q, %q, %q key_padding_mask(%b) segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// A splat false mask folds to a zero bias, which is then dropped from both ops.
// CHECK-LABEL: func.func @fold_mask_to_bias_false_dropped(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>)
// CHECK-NOT: arith.constant
// CHECK-NOT: dilattn.mask_to_bias
// CHECK: %[[A:.+]] = dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
// CHECK-NEXT: %[[B:.+]] = dilattn.attention %[[A]], %[[Q]], %[[Q]] causal : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
// CHECK-NEXT: return %[[B]]
func.func @fold_mask_to_bias_false_dropped(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  %f2 = arith.constant dense<false> : tensor<2x64xi1>
  %f4 = arith.constant dense<false> : tensor<2x4x64x64xi1>
  %kb = dilattn.mask_to_bias %f2 : tensor<2x64xi1> -> tensor<2x64xf32>
  %ab = dilattn.mask_to_bias %f4 : tensor<2x4x64x64xi1> -> tensor<2x4x64x64xf32>
  %0 = dilattn.dilated_attention %q, %q, %q key_padding_mask(%kb) attn_mask(%ab) segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xf32>, tensor<2x4x64x64xf32>) -> tensor<2x64x4x16xf32>
  %1 = dilattn.attention %0, %q, %q key_padding_mask(%kb) attn_mask(%ab) causal
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xf32>, tensor<2x4x64x64xf32>) -> tensor<2x64x4x16xf32>
  return %1 : tensor<2x64x4x16xf32>
}

// -----

// No fold: a mask that is not constant, not a splat, or a bias of unknown shape.
// CHECK-LABEL: func.func @no_fold_mask_to_bias(
// CHECK-SAME: %[[M:[a-zA-Z0-9_]+]]: tensor<2x64xi1>)
// CHECK-DAG: %[[MIXED:.+]] = arith.constant dense<{{\[}}true, false]> : tensor<2xi1>
// CHECK-DAG: %[[TRUE:.+]] = arith.constant dense<true> : tensor<2x64xi1>
// CHECK: %[[A:.+]] = dilattn.mask_to_bias %[[M]] : tensor<2x64xi1> -> tensor<2x64xf32>
// CHECK: %[[B:.+]] = dilattn.mask_to_bias %[[MIXED]] : tensor<2xi1> -> tensor<2xf32>
// CHECK: %[[C:.+]] = dilattn.mask_to_bias %[[TRUE]] : tensor<2x64xi1> -> tensor<?x64xf32>
// CHECK: return %[[A]], %[[B]], %[[C]]
func.func @no_fold_mask_to_bias(%m: tensor<2x64xi1>) -> (tensor<2x64xf32>, tensor<2xf32>, tensor<?x64xf32>) {
  %mixed = arith.constant dense<[true, false]> : tensor<2xi1>
  %t = arith.constant dense<true> : tensor<2x64xi1>
  %0 = dilattn.mask_to_bias %m : tensor<2x64xi1> -> tensor<2x64xf32>
  %1 = dilattn.mask_to_bias %mixed : tensor<2xi1> -> tensor<2xf32>
  %2 = dilattn.mask_to_bias %t : tensor<2x64xi1> -> tensor<?x64xf32>
  return %0, %1, %2 : tensor<2x64xf32>, tensor<2xf32>, tensor<?x64xf32>
}
