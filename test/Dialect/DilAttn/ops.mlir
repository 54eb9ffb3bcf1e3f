// RUN: dilattn-opt %s -split-input-file | dilattn-opt -split-input-file | FileCheck %s --enable-var-scope
// RUN: dilattn-opt %s -split-input-file --mlir-print-op-generic | dilattn-opt -split-input-file | FileCheck %s --enable-var-scope

// Round trip of every dilattn op through the pretty form and through the
// generic form. Attributes at their default value (mode = grouped,
// offset_rule = cyclic, layer_norm_eps = 1e-5) are elided when printed; the
// CHECK lines match each op up to its types so that nothing else is printed.

//===----------------------------------------------------------------------===//
// dilattn.dilated_attention
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @dilated_no_masks(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>, %[[K:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>, %[[V:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>)
// CHECK: %[[R:.+]] = dilattn.dilated_attention %[[Q]], %[[K]], %[[V]] segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
// CHECK: return %[[R]]
func.func @dilated_no_masks(%q: tensor<2x64x4x16xf32>, %k: tensor<2x64x4x16xf32>, %v: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  %0 = dilattn.dilated_attention %q, %k, %v segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// Defaults written out are elided on printing.
// CHECK-LABEL: func.func @dilated_explicit_defaults(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>)
// CHECK: dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] segment_lengths = [16, 32, 64] dilation_rates = [1, 2, 4] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
func.func @dilated_explicit_defaults(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32, 64] dilation_rates = [1, 2, 4]
      mode = grouped offset_rule = cyclic
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// Every attribute at a non-default value.
// CHECK-LABEL: func.func @dilated_all_attributes(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<1x128x8x32xf32>)
// CHECK: dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] segment_lengths = [32, 64, 128] dilation_rates = [1, 2, 4] mode = longnet offset_rule = blocked causal scale = 1.250000e-01 : (tensor<1x128x8x32xf32>, tensor<1x128x8x32xf32>, tensor<1x128x8x32xf32>) -> tensor<1x128x8x32xf32>
func.func @dilated_all_attributes(%q: tensor<1x128x8x32xf32>) -> tensor<1x128x8x32xf32> {
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [32, 64, 128] dilation_rates = [1, 2, 4]
      mode = longnet offset_rule = blocked causal scale = 0.125
      : (tensor<1x128x8x32xf32>, tensor<1x128x8x32xf32>, tensor<1x128x8x32xf32>) -> tensor<1x128x8x32xf32>
  return %0 : tensor<1x128x8x32xf32>
}

// -----

// Each optional attribute on its own; longnet with cyclic (default) rule; a
// longnet call may have fewer heads than patterns.
// CHECK-LABEL: func.func @dilated_single_attributes(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x2x16xf32>)
// CHECK: %[[A:.+]] = dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] segment_lengths = [16, 32, 64] dilation_rates = [1, 2, 4] mode = longnet : (tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>) -> tensor<2x64x2x16xf32>
// CHECK: %[[B:.+]] = dilattn.dilated_attention %[[A]], %[[Q]], %[[Q]] segment_lengths = [16] dilation_rates = [2] offset_rule = blocked : (tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>) -> tensor<2x64x2x16xf32>
// CHECK: %[[C:.+]] = dilattn.dilated_attention %[[B]], %[[Q]], %[[Q]] segment_lengths = [16] dilation_rates = [2] causal : (tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>) -> tensor<2x64x2x16xf32>
// CHECK: %[[D:.+]] = dilattn.dilated_attention %[[C]], %[[Q]], %[[Q]] segment_lengths = [16] dilation_rates = [2] scale = -2.500000e-01 : (tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>) -> tensor<2x64x2x16xf32>
// CHECK: return %[[D]]
func.func @dilated_single_attributes(%q: tensor<2x64x2x16xf32>) -> tensor<2x64x2x16xf32> {
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32, 64] dilation_rates = [1, 2, 4] mode = longnet
      : (tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>) -> tensor<2x64x2x16xf32>
  %1 = dilattn.dilated_attention %0, %q, %q segment_lengths = [16] dilation_rates = [2] offset_rule = blocked
      : (tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>) -> tensor<2x64x2x16xf32>
  %2 = dilattn.dilated_attention %1, %q, %q segment_lengths = [16] dilation_rates = [2] causal
      : (tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>) -> tensor<2x64x2x16xf32>
  %3 = dilattn.dilated_attention %2, %q, %q segment_lengths = [16] dilation_rates = [2] scale = -0.25
      : (tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>) -> tensor<2x64x2x16xf32>
  return %3 : tensor<2x64x2x16xf32>
}

// -----

// CHECK-LABEL: func.func @dilated_key_padding_mask(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>, %[[M:[a-zA-Z0-9_]+]]: tensor<2x64xi1>, %[[F:[a-zA-Z0-9_]+]]: tensor<2x64xf32>)
// CHECK: %[[A:.+]] = dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] key_padding_mask(%[[M]]) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>) -> tensor<2x64x4x16xf32>
// CHECK: dilattn.dilated_attention %[[A]], %[[Q]], %[[Q]] key_padding_mask(%[[F]]) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xf32>) -> tensor<2x64x4x16xf32>
func.func @dilated_key_padding_mask(%q: tensor<2x64x4x16xf32>, %m: tensor<2x64xi1>, %f: tensor<2x64xf32>) -> tensor<2x64x4x16xf32> {
  %0 = dilattn.dilated_attention %q, %q, %q key_padding_mask(%m) segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>) -> tensor<2x64x4x16xf32>
  // The float (bias) form that mask normalisation produces.
  %1 = dilattn.dilated_attention %0, %q, %q key_padding_mask(%f) segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xf32>) -> tensor<2x64x4x16xf32>
  return %1 : tensor<2x64x4x16xf32>
}

// -----

// attn_mask only, ranks 2, 3 and 4, boolean and float.
// CHECK-LABEL: func.func @dilated_attn_mask(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>,
// CHECK-SAME: %[[M2:[a-zA-Z0-9_]+]]: tensor<64x64xi1>, %[[F2:[a-zA-Z0-9_]+]]: tensor<64x64xf32>,
// CHECK-SAME: %[[M3:[a-zA-Z0-9_]+]]: tensor<2x64x64xi1>, %[[F3:[a-zA-Z0-9_]+]]: tensor<2x64x64xf16>,
// CHECK-SAME: %[[M4:[a-zA-Z0-9_]+]]: tensor<2x4x64x64xi1>, %[[F4:[a-zA-Z0-9_]+]]: tensor<2x4x64x64xbf16>)
// CHECK: %[[A:.+]] = dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] attn_mask(%[[M2]]) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<64x64xi1>) -> tensor<2x64x4x16xf32>
// CHECK: %[[B:.+]] = dilattn.dilated_attention %[[A]], %[[Q]], %[[Q]] attn_mask(%[[F2]]) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<64x64xf32>) -> tensor<2x64x4x16xf32>
// CHECK: %[[C:.+]] = dilattn.dilated_attention %[[B]], %[[Q]], %[[Q]] attn_mask(%[[M3]]) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x64xi1>) -> tensor<2x64x4x16xf32>
// CHECK: %[[D:.+]] = dilattn.dilated_attention %[[C]], %[[Q]], %[[Q]] attn_mask(%[[F3]]) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x64xf16>) -> tensor<2x64x4x16xf32>
// CHECK: %[[E:.+]] = dilattn.dilated_attention %[[D]], %[[Q]], %[[Q]] attn_mask(%[[M4]]) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x4x64x64xi1>) -> tensor<2x64x4x16xf32>
// CHECK: %[[G:.+]] = dilattn.dilated_attention %[[E]], %[[Q]], %[[Q]] attn_mask(%[[F4]]) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x4x64x64xbf16>) -> tensor<2x64x4x16xf32>
// CHECK: return %[[G]]
func.func @dilated_attn_mask(%q: tensor<2x64x4x16xf32>,
                             %m2: tensor<64x64xi1>, %f2: tensor<64x64xf32>,
                             %m3: tensor<2x64x64xi1>, %f3: tensor<2x64x64xf16>,
                             %m4: tensor<2x4x64x64xi1>, %f4: tensor<2x4x64x64xbf16>) -> tensor<2x64x4x16xf32> {
  %0 = dilattn.dilated_attention %q, %q, %q attn_mask(%m2) segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<64x64xi1>) -> tensor<2x64x4x16xf32>
  %1 = dilattn.dilated_attention %0, %q, %q attn_mask(%f2) segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<64x64xf32>) -> tensor<2x64x4x16xf32>
  %2 = dilattn.dilated_attention %1, %q, %q attn_mask(%m3) segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x64xi1>) -> tensor<2x64x4x16xf32>
  %3 = dilattn.dilated_attention %2, %q, %q attn_mask(%f3) segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x64xf16>) -> tensor<2x64x4x16xf32>
  %4 = dilattn.dilated_attention %3, %q, %q attn_mask(%m4) segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x4x64x64xi1>) -> tensor<2x64x4x16xf32>
  %5 = dilattn.dilated_attention %4, %q, %q attn_mask(%f4) segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x4x64x64xbf16>) -> tensor<2x64x4x16xf32>
  return %5 : tensor<2x64x4x16xf32>
}

// -----

// Both masks together, with every attribute.
// CHECK-LABEL: func.func @dilated_both_masks(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>, %[[K:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>, %[[V:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>, %[[KPM:[a-zA-Z0-9_]+]]: tensor<2x64xi1>, %[[AM:[a-zA-Z0-9_]+]]: tensor<2x4x64x64xf32>)
// CHECK: dilattn.dilated_attention %[[Q]], %[[K]], %[[V]] key_padding_mask(%[[KPM]]) attn_mask(%[[AM]]) segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet offset_rule = blocked causal scale = 5.000000e-01 : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>, tensor<2x4x64x64xf32>) -> tensor<2x64x4x16xf32>
func.func @dilated_both_masks(%q: tensor<2x64x4x16xf32>, %k: tensor<2x64x4x16xf32>, %v: tensor<2x64x4x16xf32>,
                              %kpm: tensor<2x64xi1>, %am: tensor<2x4x64x64xf32>) -> tensor<2x64x4x16xf32> {
  %0 = dilattn.dilated_attention %q, %k, %v key_padding_mask(%kpm) attn_mask(%am)
      segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet offset_rule = blocked causal scale = 0.5
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>, tensor<2x4x64x64xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// f16 and bf16 element types (masks keep their own element type).
// CHECK-LABEL: func.func @dilated_f16(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<1x256x8x64xf16>, %[[AM:[a-zA-Z0-9_]+]]: tensor<256x256xi1>)
// CHECK: dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] attn_mask(%[[AM]]) segment_lengths = [64, 128] dilation_rates = [1, 2] causal : (tensor<1x256x8x64xf16>, tensor<1x256x8x64xf16>, tensor<1x256x8x64xf16>, tensor<256x256xi1>) -> tensor<1x256x8x64xf16>
func.func @dilated_f16(%q: tensor<1x256x8x64xf16>, %am: tensor<256x256xi1>) -> tensor<1x256x8x64xf16> {
  %0 = dilattn.dilated_attention %q, %q, %q attn_mask(%am) segment_lengths = [64, 128] dilation_rates = [1, 2] causal
      : (tensor<1x256x8x64xf16>, tensor<1x256x8x64xf16>, tensor<1x256x8x64xf16>, tensor<256x256xi1>) -> tensor<1x256x8x64xf16>
  return %0 : tensor<1x256x8x64xf16>
}

// CHECK-LABEL: func.func @dilated_bf16(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<1x256x8x64xbf16>, %[[KPM:[a-zA-Z0-9_]+]]: tensor<1x256xf32>)
// CHECK: dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] key_padding_mask(%[[KPM]]) segment_lengths = [64, 128] dilation_rates = [1, 2] mode = longnet : (tensor<1x256x8x64xbf16>, tensor<1x256x8x64xbf16>, tensor<1x256x8x64xbf16>, tensor<1x256xf32>) -> tensor<1x256x8x64xbf16>
func.func @dilated_bf16(%q: tensor<1x256x8x64xbf16>, %kpm: tensor<1x256xf32>) -> tensor<1x256x8x64xbf16> {
  %0 = dilattn.dilated_attention %q, %q, %q key_padding_mask(%kpm) segment_lengths = [64, 128] dilation_rates = [1, 2] mode = longnet
      : (tensor<1x256x8x64xbf16>, tensor<1x256x8x64xbf16>, tensor<1x256x8x64xbf16>, tensor<1x256xf32>) -> tensor<1x256x8x64xbf16>
  return %0 : tensor<1x256x8x64xbf16>
}

// -----

// Dynamic B and N, in the operands, the masks and the result.
// CHECK-LABEL: func.func @dilated_dynamic(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<?x?x4x16xf32>, %[[K:[a-zA-Z0-9_]+]]: tensor<2x?x4x16xf32>, %[[KPM:[a-zA-Z0-9_]+]]: tensor<?x?xi1>, %[[AM:[a-zA-Z0-9_]+]]: tensor<?x4x?x?xf32>)
// CHECK: %[[A:.+]] = dilattn.dilated_attention %[[Q]], %[[K]], %[[K]] key_padding_mask(%[[KPM]]) attn_mask(%[[AM]]) segment_lengths = [512, 1024] dilation_rates = [1, 2] : (tensor<?x?x4x16xf32>, tensor<2x?x4x16xf32>, tensor<2x?x4x16xf32>, tensor<?x?xi1>, tensor<?x4x?x?xf32>) -> tensor<?x?x4x16xf32>
// CHECK: %[[B:.+]] = dilattn.dilated_attention %[[A]], %[[Q]], %[[Q]] segment_lengths = [512] dilation_rates = [1] : (tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>) -> tensor<2x128x4x16xf32>
// CHECK: return %[[B]]
func.func @dilated_dynamic(%q: tensor<?x?x4x16xf32>, %k: tensor<2x?x4x16xf32>, %kpm: tensor<?x?xi1>, %am: tensor<?x4x?x?xf32>) -> tensor<2x128x4x16xf32> {
  %0 = dilattn.dilated_attention %q, %k, %k key_padding_mask(%kpm) attn_mask(%am) segment_lengths = [512, 1024] dilation_rates = [1, 2]
      : (tensor<?x?x4x16xf32>, tensor<2x?x4x16xf32>, tensor<2x?x4x16xf32>, tensor<?x?xi1>, tensor<?x4x?x?xf32>) -> tensor<?x?x4x16xf32>
  // A static result for a dynamic query is compatible.
  %1 = dilattn.dilated_attention %0, %q, %q segment_lengths = [512] dilation_rates = [1]
      : (tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>) -> tensor<2x128x4x16xf32>
  return %1 : tensor<2x128x4x16xf32>
}

// -----

// An empty batch or sequence is valid (the output is empty).
// CHECK-LABEL: func.func @dilated_empty(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<0x64x4x16xf32>, %[[P:[a-zA-Z0-9_]+]]: tensor<2x0x4x16xf32>)
// CHECK: dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] segment_lengths = [16] dilation_rates = [1] : (tensor<0x64x4x16xf32>, tensor<0x64x4x16xf32>, tensor<0x64x4x16xf32>) -> tensor<0x64x4x16xf32>
// CHECK: dilattn.dilated_attention %[[P]], %[[P]], %[[P]] segment_lengths = [16] dilation_rates = [2] : (tensor<2x0x4x16xf32>, tensor<2x0x4x16xf32>, tensor<2x0x4x16xf32>) -> tensor<2x0x4x16xf32>
func.func @dilated_empty(%q: tensor<0x64x4x16xf32>, %p: tensor<2x0x4x16xf32>) -> (tensor<0x64x4x16xf32>, tensor<2x0x4x16xf32>) {
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16] dilation_rates = [1]
      : (tensor<0x64x4x16xf32>, tensor<0x64x4x16xf32>, tensor<0x64x4x16xf32>) -> tensor<0x64x4x16xf32>
  %1 = dilattn.dilated_attention %p, %p, %p segment_lengths = [16] dilation_rates = [2]
      : (tensor<2x0x4x16xf32>, tensor<2x0x4x16xf32>, tensor<2x0x4x16xf32>) -> tensor<2x0x4x16xf32>
  return %0, %1 : tensor<0x64x4x16xf32>, tensor<2x0x4x16xf32>
}

// -----

//===----------------------------------------------------------------------===//
// dilattn.attention
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @attention_no_masks(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x128x4x32xf32>, %[[K:[a-zA-Z0-9_]+]]: tensor<2x128x4x32xf32>, %[[V:[a-zA-Z0-9_]+]]: tensor<2x128x4x32xf32>)
// CHECK: %[[A:.+]] = dilattn.attention %[[Q]], %[[K]], %[[V]] : (tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>) -> tensor<2x128x4x32xf32>
// CHECK: %[[B:.+]] = dilattn.attention %[[A]], %[[K]], %[[V]] causal : (tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>) -> tensor<2x128x4x32xf32>
// CHECK: %[[C:.+]] = dilattn.attention %[[B]], %[[K]], %[[V]] scale = 2.500000e-01 : (tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>) -> tensor<2x128x4x32xf32>
// CHECK: %[[D:.+]] = dilattn.attention %[[C]], %[[K]], %[[V]] causal scale = 1.000000e+00 : (tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>) -> tensor<2x128x4x32xf32>
// CHECK: return %[[D]]
func.func @attention_no_masks(%q: tensor<2x128x4x32xf32>, %k: tensor<2x128x4x32xf32>, %v: tensor<2x128x4x32xf32>) -> tensor<2x128x4x32xf32> {
  %0 = dilattn.attention %q, %k, %v
      : (tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>) -> tensor<2x128x4x32xf32>
  %1 = dilattn.attention %0, %k, %v causal
      : (tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>) -> tensor<2x128x4x32xf32>
  %2 = dilattn.attention %1, %k, %v scale = 0.25
      : (tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>) -> tensor<2x128x4x32xf32>
  %3 = dilattn.attention %2, %k, %v causal scale = 1.0
      : (tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>) -> tensor<2x128x4x32xf32>
  return %3 : tensor<2x128x4x32xf32>
}

// -----

// CHECK-LABEL: func.func @attention_masks(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x128x4x32xf32>, %[[KPM:[a-zA-Z0-9_]+]]: tensor<2x128xi1>,
// CHECK-SAME: %[[M2:[a-zA-Z0-9_]+]]: tensor<128x128xf32>, %[[M3:[a-zA-Z0-9_]+]]: tensor<2x128x128xi1>, %[[M4:[a-zA-Z0-9_]+]]: tensor<2x4x128x128xf32>)
// CHECK: %[[A:.+]] = dilattn.attention %[[Q]], %[[Q]], %[[Q]] key_padding_mask(%[[KPM]]) : (tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128xi1>) -> tensor<2x128x4x32xf32>
// CHECK: %[[B:.+]] = dilattn.attention %[[A]], %[[Q]], %[[Q]] attn_mask(%[[M2]]) : (tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<128x128xf32>) -> tensor<2x128x4x32xf32>
// CHECK: %[[C:.+]] = dilattn.attention %[[B]], %[[Q]], %[[Q]] attn_mask(%[[M3]]) causal : (tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128x128xi1>) -> tensor<2x128x4x32xf32>
// CHECK: %[[D:.+]] = dilattn.attention %[[C]], %[[Q]], %[[Q]] key_padding_mask(%[[KPM]]) attn_mask(%[[M4]]) causal scale = 1.250000e-01 : (tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128xi1>, tensor<2x4x128x128xf32>) -> tensor<2x128x4x32xf32>
// CHECK: return %[[D]]
func.func @attention_masks(%q: tensor<2x128x4x32xf32>, %kpm: tensor<2x128xi1>,
                           %m2: tensor<128x128xf32>, %m3: tensor<2x128x128xi1>, %m4: tensor<2x4x128x128xf32>) -> tensor<2x128x4x32xf32> {
  %0 = dilattn.attention %q, %q, %q key_padding_mask(%kpm)
      : (tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128xi1>) -> tensor<2x128x4x32xf32>
  %1 = dilattn.attention %0, %q, %q attn_mask(%m2)
      : (tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<128x128xf32>) -> tensor<2x128x4x32xf32>
  %2 = dilattn.attention %1, %q, %q attn_mask(%m3) causal
      : (tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128x128xi1>) -> tensor<2x128x4x32xf32>
  %3 = dilattn.attention %2, %q, %q key_padding_mask(%kpm) attn_mask(%m4) causal scale = 0.125
      : (tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128x4x32xf32>, tensor<2x128xi1>, tensor<2x4x128x128xf32>) -> tensor<2x128x4x32xf32>
  return %3 : tensor<2x128x4x32xf32>
}

// -----

// CHECK-LABEL: func.func @attention_f16_bf16_dynamic(
// CHECK-SAME: %[[H:[a-zA-Z0-9_]+]]: tensor<?x?x4x32xf16>, %[[KPM:[a-zA-Z0-9_]+]]: tensor<?x?xf16>, %[[B:[a-zA-Z0-9_]+]]: tensor<1x?x2x64xbf16>, %[[AM:[a-zA-Z0-9_]+]]: tensor<?x?xi1>)
// CHECK: dilattn.attention %[[H]], %[[H]], %[[H]] key_padding_mask(%[[KPM]]) causal : (tensor<?x?x4x32xf16>, tensor<?x?x4x32xf16>, tensor<?x?x4x32xf16>, tensor<?x?xf16>) -> tensor<?x?x4x32xf16>
// CHECK: dilattn.attention %[[B]], %[[B]], %[[B]] attn_mask(%[[AM]]) : (tensor<1x?x2x64xbf16>, tensor<1x?x2x64xbf16>, tensor<1x?x2x64xbf16>, tensor<?x?xi1>) -> tensor<1x?x2x64xbf16>
func.func @attention_f16_bf16_dynamic(%h: tensor<?x?x4x32xf16>, %kpm: tensor<?x?xf16>, %b: tensor<1x?x2x64xbf16>, %am: tensor<?x?xi1>)
    -> (tensor<?x?x4x32xf16>, tensor<1x?x2x64xbf16>) {
  %0 = dilattn.attention %h, %h, %h key_padding_mask(%kpm) causal
      : (tensor<?x?x4x32xf16>, tensor<?x?x4x32xf16>, tensor<?x?x4x32xf16>, tensor<?x?xf16>) -> tensor<?x?x4x32xf16>
  %1 = dilattn.attention %b, %b, %b attn_mask(%am)
      : (tensor<1x?x2x64xbf16>, tensor<1x?x2x64xbf16>, tensor<1x?x2x64xbf16>, tensor<?x?xi1>) -> tensor<1x?x2x64xbf16>
  return %0, %1 : tensor<?x?x4x32xf16>, tensor<1x?x2x64xbf16>
}

// -----

//===----------------------------------------------------------------------===//
// dilattn.multihead_dilated_attention
//===----------------------------------------------------------------------===//

// Weights only: no biases, no layer norm, all defaults (layer_norm_eps = 1e-5
// written out is elided).
// CHECK-LABEL: func.func @multihead_minimal(
// CHECK-SAME: %[[X:[a-zA-Z0-9_]+]]: tensor<2x64x32xf32>, %[[WQ:[a-zA-Z0-9_]+]]: tensor<32x32xf32>, %[[WK:[a-zA-Z0-9_]+]]: tensor<32x32xf32>, %[[WV:[a-zA-Z0-9_]+]]: tensor<32x32xf32>, %[[WO:[a-zA-Z0-9_]+]]: tensor<32x32xf32>)
// CHECK: %[[A:.+]] = dilattn.multihead_dilated_attention %[[X]], %[[X]], %[[X]] weights(%[[WQ]], %[[WK]], %[[WV]], %[[WO]]) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
// CHECK: %[[B:.+]] = dilattn.multihead_dilated_attention %[[A]], %[[X]], %[[X]] weights(%[[WQ]], %[[WK]], %[[WV]], %[[WO]]) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
// CHECK: return %[[B]]
func.func @multihead_minimal(%x: tensor<2x64x32xf32>, %wq: tensor<32x32xf32>, %wk: tensor<32x32xf32>, %wv: tensor<32x32xf32>, %wo: tensor<32x32xf32>) -> tensor<2x64x32xf32> {
  %0 = dilattn.multihead_dilated_attention %x, %x, %x weights(%wq, %wk, %wv, %wo)
      num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  %1 = dilattn.multihead_dilated_attention %0, %x, %x weights(%wq, %wk, %wv, %wo)
      num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] mode = grouped offset_rule = cyclic layer_norm_eps = 1.0e-05
      : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %1 : tensor<2x64x32xf32>
}

// -----

// CHECK-LABEL: func.func @multihead_biases(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x32xf32>, %[[K:[a-zA-Z0-9_]+]]: tensor<2x64x32xf32>, %[[V:[a-zA-Z0-9_]+]]: tensor<2x64x32xf32>, %[[W:[a-zA-Z0-9_]+]]: tensor<32x32xf32>,
// CHECK-SAME: %[[BQ:[a-zA-Z0-9_]+]]: tensor<32xf32>, %[[BK:[a-zA-Z0-9_]+]]: tensor<32xf32>, %[[BV:[a-zA-Z0-9_]+]]: tensor<32xf32>, %[[BO:[a-zA-Z0-9_]+]]: tensor<32xf32>)
// CHECK: dilattn.multihead_dilated_attention %[[Q]], %[[K]], %[[V]] weights(%[[W]], %[[W]], %[[W]], %[[W]]) biases(%[[BQ]], %[[BK]], %[[BV]], %[[BO]]) num_heads = 8 segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet causal : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x64x32xf32>
func.func @multihead_biases(%q: tensor<2x64x32xf32>, %k: tensor<2x64x32xf32>, %v: tensor<2x64x32xf32>, %w: tensor<32x32xf32>,
                            %bq: tensor<32xf32>, %bk: tensor<32xf32>, %bv: tensor<32xf32>, %bo: tensor<32xf32>) -> tensor<2x64x32xf32> {
  %0 = dilattn.multihead_dilated_attention %q, %k, %v weights(%w, %w, %w, %w) biases(%bq, %bk, %bv, %bo)
      num_heads = 8 segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet causal
      : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>,
         tensor<32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// Layer norm without biases, with the default and with a non-default epsilon.
// CHECK-LABEL: func.func @multihead_layer_norm(
// CHECK-SAME: %[[X:[a-zA-Z0-9_]+]]: tensor<2x64x32xf32>, %[[W:[a-zA-Z0-9_]+]]: tensor<32x32xf32>, %[[G:[a-zA-Z0-9_]+]]: tensor<32xf32>, %[[BETA:[a-zA-Z0-9_]+]]: tensor<32xf32>)
// CHECK: %[[A:.+]] = dilattn.multihead_dilated_attention %[[X]], %[[X]], %[[X]] weights(%[[W]], %[[W]], %[[W]], %[[W]]) layer_norm(%[[G]], %[[BETA]]) num_heads = 4 segment_lengths = [64] dilation_rates = [1] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x64x32xf32>
// CHECK: %[[B:.+]] = dilattn.multihead_dilated_attention %[[A]], %[[X]], %[[X]] weights(%[[W]], %[[W]], %[[W]], %[[W]]) layer_norm(%[[G]], %[[BETA]]) num_heads = 4 segment_lengths = [64] dilation_rates = [1] layer_norm_eps = 1.000000e-03 : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x64x32xf32>
// CHECK: return %[[B]]
func.func @multihead_layer_norm(%x: tensor<2x64x32xf32>, %w: tensor<32x32xf32>, %g: tensor<32xf32>, %beta: tensor<32xf32>) -> tensor<2x64x32xf32> {
  %0 = dilattn.multihead_dilated_attention %x, %x, %x weights(%w, %w, %w, %w) layer_norm(%g, %beta)
      num_heads = 4 segment_lengths = [64] dilation_rates = [1]
      : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>,
         tensor<32xf32>, tensor<32xf32>) -> tensor<2x64x32xf32>
  %1 = dilattn.multihead_dilated_attention %0, %x, %x weights(%w, %w, %w, %w) layer_norm(%g, %beta)
      num_heads = 4 segment_lengths = [64] dilation_rates = [1] layer_norm_eps = 1.0e-03
      : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>,
         tensor<32xf32>, tensor<32xf32>) -> tensor<2x64x32xf32>
  return %1 : tensor<2x64x32xf32>
}

// -----

// Everything at once: biases, layer norm, both masks, every attribute.
// CHECK-LABEL: func.func @multihead_everything(
// CHECK-SAME: %[[X:[a-zA-Z0-9_]+]]: tensor<2x64x32xf16>, %[[W:[a-zA-Z0-9_]+]]: tensor<32x32xf16>, %[[B:[a-zA-Z0-9_]+]]: tensor<32xf16>, %[[KPM:[a-zA-Z0-9_]+]]: tensor<2x64xi1>, %[[AM:[a-zA-Z0-9_]+]]: tensor<2x4x64x64xf32>)
// CHECK: dilattn.multihead_dilated_attention %[[X]], %[[X]], %[[X]] weights(%[[W]], %[[W]], %[[W]], %[[W]]) biases(%[[B]], %[[B]], %[[B]], %[[B]]) layer_norm(%[[B]], %[[B]]) key_padding_mask(%[[KPM]]) attn_mask(%[[AM]]) num_heads = 4 segment_lengths = [16, 32, 64] dilation_rates = [1, 2, 4] mode = longnet offset_rule = blocked causal scale = 2.500000e-01 layer_norm_eps = 1.000000e-03 : (tensor<2x64x32xf16>, tensor<2x64x32xf16>, tensor<2x64x32xf16>, tensor<32x32xf16>, tensor<32x32xf16>, tensor<32x32xf16>, tensor<32x32xf16>, tensor<32xf16>, tensor<32xf16>, tensor<32xf16>, tensor<32xf16>, tensor<32xf16>, tensor<32xf16>, tensor<2x64xi1>, tensor<2x4x64x64xf32>) -> tensor<2x64x32xf16>
func.func @multihead_everything(%x: tensor<2x64x32xf16>, %w: tensor<32x32xf16>, %b: tensor<32xf16>,
                                %kpm: tensor<2x64xi1>, %am: tensor<2x4x64x64xf32>) -> tensor<2x64x32xf16> {
  %0 = dilattn.multihead_dilated_attention %x, %x, %x weights(%w, %w, %w, %w) biases(%b, %b, %b, %b) layer_norm(%b, %b)
      key_padding_mask(%kpm) attn_mask(%am)
      num_heads = 4 segment_lengths = [16, 32, 64] dilation_rates = [1, 2, 4] mode = longnet offset_rule = blocked causal
      scale = 0.25 layer_norm_eps = 1.0e-03
      : (tensor<2x64x32xf16>, tensor<2x64x32xf16>, tensor<2x64x32xf16>, tensor<32x32xf16>, tensor<32x32xf16>, tensor<32x32xf16>, tensor<32x32xf16>,
         tensor<32xf16>, tensor<32xf16>, tensor<32xf16>, tensor<32xf16>, tensor<32xf16>, tensor<32xf16>,
         tensor<2x64xi1>, tensor<2x4x64x64xf32>) -> tensor<2x64x32xf16>
  return %0 : tensor<2x64x32xf16>
}

// -----

// bf16 with masks of rank 2 and 3, and dynamic B and N.
// CHECK-LABEL: func.func @multihead_bf16_dynamic(
// CHECK-SAME: %[[X:[a-zA-Z0-9_]+]]: tensor<?x?x64xbf16>, %[[W:[a-zA-Z0-9_]+]]: tensor<64x64xbf16>, %[[KPM:[a-zA-Z0-9_]+]]: tensor<?x?xi1>, %[[M2:[a-zA-Z0-9_]+]]: tensor<?x?xi1>, %[[M3:[a-zA-Z0-9_]+]]: tensor<?x?x?xbf16>)
// CHECK: %[[A:.+]] = dilattn.multihead_dilated_attention %[[X]], %[[X]], %[[X]] weights(%[[W]], %[[W]], %[[W]], %[[W]]) key_padding_mask(%[[KPM]]) num_heads = 2 segment_lengths = [128, 256] dilation_rates = [1, 2] : (tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<64x64xbf16>, tensor<64x64xbf16>, tensor<64x64xbf16>, tensor<64x64xbf16>, tensor<?x?xi1>) -> tensor<?x?x64xbf16>
// CHECK: %[[B:.+]] = dilattn.multihead_dilated_attention %[[A]], %[[X]], %[[X]] weights(%[[W]], %[[W]], %[[W]], %[[W]]) attn_mask(%[[M2]]) num_heads = 2 segment_lengths = [128] dilation_rates = [1] causal : (tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<64x64xbf16>, tensor<64x64xbf16>, tensor<64x64xbf16>, tensor<64x64xbf16>, tensor<?x?xi1>) -> tensor<?x?x64xbf16>
// CHECK: %[[C:.+]] = dilattn.multihead_dilated_attention %[[B]], %[[X]], %[[X]] weights(%[[W]], %[[W]], %[[W]], %[[W]]) attn_mask(%[[M3]]) num_heads = 1 segment_lengths = [128, 256] dilation_rates = [1, 2] mode = longnet : (tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<64x64xbf16>, tensor<64x64xbf16>, tensor<64x64xbf16>, tensor<64x64xbf16>, tensor<?x?x?xbf16>) -> tensor<?x?x64xbf16>
// CHECK: return %[[C]]
func.func @multihead_bf16_dynamic(%x: tensor<?x?x64xbf16>, %w: tensor<64x64xbf16>, %kpm: tensor<?x?xi1>,
                                  %m2: tensor<?x?xi1>, %m3: tensor<?x?x?xbf16>) -> tensor<?x?x64xbf16> {
  %0 = dilattn.multihead_dilated_attention %x, %x, %x weights(%w, %w, %w, %w) key_padding_mask(%kpm)
      num_heads = 2 segment_lengths = [128, 256] dilation_rates = [1, 2]
      : (tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<64x64xbf16>, tensor<64x64xbf16>, tensor<64x64xbf16>, tensor<64x64xbf16>,
         tensor<?x?xi1>) -> tensor<?x?x64xbf16>
  %1 = dilattn.multihead_dilated_attention %0, %x, %x weights(%w, %w, %w, %w) attn_mask(%m2)
      num_heads = 2 segment_lengths = [128] dilation_rates = [1] causal
      : (tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<64x64xbf16>, tensor<64x64xbf16>, tensor<64x64xbf16>, tensor<64x64xbf16>,
         tensor<?x?xi1>) -> tensor<?x?x64xbf16>
  // longnet allows fewer heads than patterns.
  %2 = dilattn.multihead_dilated_attention %1, %x, %x weights(%w, %w, %w, %w) attn_mask(%m3)
      num_heads = 1 segment_lengths = [128, 256] dilation_rates = [1, 2] mode = longnet
      : (tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<?x?x64xbf16>, tensor<64x64xbf16>, tensor<64x64xbf16>, tensor<64x64xbf16>, tensor<64x64xbf16>,
         tensor<?x?x?xbf16>) -> tensor<?x?x64xbf16>
  return %2 : tensor<?x?x64xbf16>
}

// -----

//===----------------------------------------------------------------------===//
// dilattn.mask_to_bias
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @mask_to_bias(
// CHECK-SAME: %[[KPM:[a-zA-Z0-9_]+]]: tensor<2x64xi1>, %[[M3:[a-zA-Z0-9_]+]]: tensor<2x64x64xi1>, %[[M4:[a-zA-Z0-9_]+]]: tensor<?x4x?x?xi1>)
// CHECK: %[[A:.+]] = dilattn.mask_to_bias %[[KPM]] : tensor<2x64xi1> -> tensor<2x64xf32>
// CHECK: %[[B:.+]] = dilattn.mask_to_bias %[[M3]] : tensor<2x64x64xi1> -> tensor<2x64x64xf16>
// CHECK: %[[C:.+]] = dilattn.mask_to_bias %[[M4]] : tensor<?x4x?x?xi1> -> tensor<?x4x?x?xbf16>
// CHECK: %[[D:.+]] = dilattn.mask_to_bias %[[M4]] : tensor<?x4x?x?xi1> -> tensor<2x4x64x64xf32>
// CHECK: return %[[A]], %[[B]], %[[C]], %[[D]]
func.func @mask_to_bias(%kpm: tensor<2x64xi1>, %m3: tensor<2x64x64xi1>, %m4: tensor<?x4x?x?xi1>)
    -> (tensor<2x64xf32>, tensor<2x64x64xf16>, tensor<?x4x?x?xbf16>, tensor<2x4x64x64xf32>) {
  %0 = dilattn.mask_to_bias %kpm : tensor<2x64xi1> -> tensor<2x64xf32>
  %1 = dilattn.mask_to_bias %m3 : tensor<2x64x64xi1> -> tensor<2x64x64xf16>
  %2 = dilattn.mask_to_bias %m4 : tensor<?x4x?x?xi1> -> tensor<?x4x?x?xbf16>
  %3 = dilattn.mask_to_bias %m4 : tensor<?x4x?x?xi1> -> tensor<2x4x64x64xf32>
  return %0, %1, %2, %3 : tensor<2x64xf32>, tensor<2x64x64xf16>, tensor<?x4x?x?xbf16>, tensor<2x4x64x64xf32>
}

// -----

//===----------------------------------------------------------------------===//
// dilattn.dilated_attention_with_lse and dilattn.dilated_attention_grad
//===----------------------------------------------------------------------===//

// CHECK-LABEL: func.func @with_lse(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>, %[[M:[a-zA-Z0-9_]+]]: tensor<2x64xi1>)
// CHECK: %[[R:[a-z_0-9]+]], %[[L:[a-z_0-9]+]] = dilattn.dilated_attention_with_lse %[[Q]], %[[Q]], %[[Q]] key_padding_mask(%[[M]]) segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet causal : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>) -> (tensor<2x64x4x16xf32>, tensor<2x64x4xf32>)
// CHECK: return %[[L]]
func.func @with_lse(%q: tensor<2x64x4x16xf32>, %m: tensor<2x64xi1>) -> tensor<2x64x4xf32> {
  %0, %1 = dilattn.dilated_attention_with_lse %q, %q, %q key_padding_mask(%m)
      segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet causal
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>) -> (tensor<2x64x4x16xf32>, tensor<2x64x4xf32>)
  return %1 : tensor<2x64x4xf32>
}

// -----

// CHECK-LABEL: func.func @grad(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<?x64x4x16xf32>, %[[O:[a-zA-Z0-9_]+]]: tensor<?x64x4x16xf32>, %[[L:[a-zA-Z0-9_]+]]: tensor<?x64x4xf32>, %[[D:[a-zA-Z0-9_]+]]: tensor<?x64x4x16xf32>, %[[A:[a-zA-Z0-9_]+]]: tensor<64x64xf32>)
// CHECK: %[[DQ:[a-z_0-9]+]], %[[DK:[a-z_0-9]+]], %[[DV:[a-z_0-9]+]] = dilattn.dilated_attention_grad %[[Q]], %[[Q]], %[[Q]], %[[O]], %[[L]], %[[D]] attn_mask(%[[A]]) segment_lengths = [16] dilation_rates = [2] mode = longnet offset_rule = blocked scale = 2.500000e-01 : (tensor<?x64x4x16xf32>, tensor<?x64x4x16xf32>, tensor<?x64x4x16xf32>, tensor<?x64x4x16xf32>, tensor<?x64x4xf32>, tensor<?x64x4x16xf32>, tensor<64x64xf32>) -> (tensor<?x64x4x16xf32>, tensor<?x64x4x16xf32>, tensor<?x64x4x16xf32>)
// CHECK: return %[[DV]]
func.func @grad(%q: tensor<?x64x4x16xf32>, %o: tensor<?x64x4x16xf32>, %lse: tensor<?x64x4xf32>, %do: tensor<?x64x4x16xf32>, %a: tensor<64x64xf32>) -> tensor<?x64x4x16xf32> {
  %0, %1, %2 = dilattn.dilated_attention_grad %q, %q, %q, %o, %lse, %do attn_mask(%a)
      segment_lengths = [16] dilation_rates = [2] mode = longnet offset_rule = blocked scale = 0.25
      : (tensor<?x64x4x16xf32>, tensor<?x64x4x16xf32>, tensor<?x64x4x16xf32>, tensor<?x64x4x16xf32>, tensor<?x64x4xf32>, tensor<?x64x4x16xf32>, tensor<64x64xf32>) -> (tensor<?x64x4x16xf32>, tensor<?x64x4x16xf32>, tensor<?x64x4x16xf32>)
  return %2 : tensor<?x64x4x16xf32>
}
