// RUN: dilattn-opt %s -dilattn-normalize-masks -split-input-file | FileCheck %s --enable-var-scope
// RUN: dilattn-opt %s -dilattn-normalize-masks -canonicalize -split-input-file | FileCheck %s --check-prefix=CANON --enable-var-scope

// -dilattn-normalize-masks rewrites every boolean key_padding_mask and
// attn_mask of dilattn.dilated_attention and dilattn.attention into an f32
// bias through dilattn.mask_to_bias (whatever the query element type); float
// masks are already biases and stay as they are.

// CHECK-LABEL: func.func @dilated_key_padding_mask(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>, %[[M:[a-zA-Z0-9_]+]]: tensor<2x64xi1>)
// CHECK: %[[B:.+]] = dilattn.mask_to_bias %[[M]] : tensor<2x64xi1> -> tensor<2x64xf32>
// CHECK-NEXT: %[[R:.+]] = dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] key_padding_mask(%[[B]]) segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet causal : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xf32>) -> tensor<2x64x4x16xf32>
// CHECK-NEXT: return %[[R]]
func.func @dilated_key_padding_mask(%q: tensor<2x64x4x16xf32>, %m: tensor<2x64xi1>) -> tensor<2x64x4x16xf32> {
  %0 = dilattn.dilated_attention %q, %q, %q key_padding_mask(%m) segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet causal
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// Boolean attn_mask of rank 2, 3 and 4.
// CHECK-LABEL: func.func @dilated_attn_mask_ranks(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>, %[[M2:[a-zA-Z0-9_]+]]: tensor<64x64xi1>, %[[M3:[a-zA-Z0-9_]+]]: tensor<2x64x64xi1>, %[[M4:[a-zA-Z0-9_]+]]: tensor<2x4x64x64xi1>)
// CHECK: %[[B2:.+]] = dilattn.mask_to_bias %[[M2]] : tensor<64x64xi1> -> tensor<64x64xf32>
// CHECK-NEXT: %[[A:.+]] = dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] attn_mask(%[[B2]]) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<64x64xf32>) -> tensor<2x64x4x16xf32>
// CHECK: %[[B3:.+]] = dilattn.mask_to_bias %[[M3]] : tensor<2x64x64xi1> -> tensor<2x64x64xf32>
// CHECK-NEXT: %[[B:.+]] = dilattn.dilated_attention %[[A]], %[[Q]], %[[Q]] attn_mask(%[[B3]]) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x64xf32>) -> tensor<2x64x4x16xf32>
// CHECK: %[[B4:.+]] = dilattn.mask_to_bias %[[M4]] : tensor<2x4x64x64xi1> -> tensor<2x4x64x64xf32>
// CHECK-NEXT: %[[C:.+]] = dilattn.dilated_attention %[[B]], %[[Q]], %[[Q]] attn_mask(%[[B4]]) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x4x64x64xf32>) -> tensor<2x64x4x16xf32>
// CHECK-NEXT: return %[[C]]
func.func @dilated_attn_mask_ranks(%q: tensor<2x64x4x16xf32>, %m2: tensor<64x64xi1>, %m3: tensor<2x64x64xi1>, %m4: tensor<2x4x64x64xi1>) -> tensor<2x64x4x16xf32> {
  %0 = dilattn.dilated_attention %q, %q, %q attn_mask(%m2) segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<64x64xi1>) -> tensor<2x64x4x16xf32>
  %1 = dilattn.dilated_attention %0, %q, %q attn_mask(%m3) segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x64xi1>) -> tensor<2x64x4x16xf32>
  %2 = dilattn.dilated_attention %1, %q, %q attn_mask(%m4) segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x4x64x64xi1>) -> tensor<2x64x4x16xf32>
  return %2 : tensor<2x64x4x16xf32>
}

// -----

// Both masks boolean; the bias is f32 even for an f16 query.
// CHECK-LABEL: func.func @dilated_both_masks_f16(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<1x128x8x32xf16>, %[[KPM:[a-zA-Z0-9_]+]]: tensor<1x128xi1>, %[[AM:[a-zA-Z0-9_]+]]: tensor<1x8x128x128xi1>)
// CHECK-DAG: %[[KB:.+]] = dilattn.mask_to_bias %[[KPM]] : tensor<1x128xi1> -> tensor<1x128xf32>
// CHECK-DAG: %[[AB:.+]] = dilattn.mask_to_bias %[[AM]] : tensor<1x8x128x128xi1> -> tensor<1x8x128x128xf32>
// CHECK: %[[R:.+]] = dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] key_padding_mask(%[[KB]]) attn_mask(%[[AB]]) segment_lengths = [32, 64, 128] dilation_rates = [1, 2, 4] scale = 1.250000e-01 : (tensor<1x128x8x32xf16>, tensor<1x128x8x32xf16>, tensor<1x128x8x32xf16>, tensor<1x128xf32>, tensor<1x8x128x128xf32>) -> tensor<1x128x8x32xf16>
// CHECK-NEXT: return %[[R]]
func.func @dilated_both_masks_f16(%q: tensor<1x128x8x32xf16>, %kpm: tensor<1x128xi1>, %am: tensor<1x8x128x128xi1>) -> tensor<1x128x8x32xf16> {
  %0 = dilattn.dilated_attention %q, %q, %q key_padding_mask(%kpm) attn_mask(%am)
      segment_lengths = [32, 64, 128] dilation_rates = [1, 2, 4] scale = 0.125
      : (tensor<1x128x8x32xf16>, tensor<1x128x8x32xf16>, tensor<1x128x8x32xf16>, tensor<1x128xi1>, tensor<1x8x128x128xi1>) -> tensor<1x128x8x32xf16>
  return %0 : tensor<1x128x8x32xf16>
}

// -----

// Float masks are already biases: untouched, even next to a boolean one.
// CHECK-LABEL: func.func @float_masks_untouched(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>, %[[FK:[a-zA-Z0-9_]+]]: tensor<2x64xf32>, %[[FA:[a-zA-Z0-9_]+]]: tensor<2x64x64xbf16>, %[[BK:[a-zA-Z0-9_]+]]: tensor<2x64xi1>)
// CHECK-NOT: dilattn.mask_to_bias %[[FK]]
// CHECK-NOT: dilattn.mask_to_bias %[[FA]]
// CHECK: %[[A:.+]] = dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] key_padding_mask(%[[FK]]) attn_mask(%[[FA]]) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xf32>, tensor<2x64x64xbf16>) -> tensor<2x64x4x16xf32>
// CHECK-NEXT: %[[B:.+]] = dilattn.attention %[[A]], %[[Q]], %[[Q]] attn_mask(%[[FA]]) causal : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x64xbf16>) -> tensor<2x64x4x16xf32>
// CHECK-NEXT: %[[KB:.+]] = dilattn.mask_to_bias %[[BK]] : tensor<2x64xi1> -> tensor<2x64xf32>
// CHECK-NEXT: %[[C:.+]] = dilattn.attention %[[B]], %[[Q]], %[[Q]] key_padding_mask(%[[KB]]) attn_mask(%[[FA]]) : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xf32>, tensor<2x64x64xbf16>) -> tensor<2x64x4x16xf32>
// CHECK-NEXT: return %[[C]]
func.func @float_masks_untouched(%q: tensor<2x64x4x16xf32>, %fk: tensor<2x64xf32>, %fa: tensor<2x64x64xbf16>, %bk: tensor<2x64xi1>) -> tensor<2x64x4x16xf32> {
  %0 = dilattn.dilated_attention %q, %q, %q key_padding_mask(%fk) attn_mask(%fa) segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xf32>, tensor<2x64x64xbf16>) -> tensor<2x64x4x16xf32>
  %1 = dilattn.attention %0, %q, %q attn_mask(%fa) causal
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x64xbf16>) -> tensor<2x64x4x16xf32>
  %2 = dilattn.attention %1, %q, %q key_padding_mask(%bk) attn_mask(%fa)
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>, tensor<2x64x64xbf16>) -> tensor<2x64x4x16xf32>
  return %2 : tensor<2x64x4x16xf32>
}

// -----

// dilattn.attention: boolean key_padding_mask and attn_mask of each rank.
// CHECK-LABEL: func.func @attention_masks(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x32x2x8xbf16>, %[[KPM:[a-zA-Z0-9_]+]]: tensor<2x32xi1>, %[[M2:[a-zA-Z0-9_]+]]: tensor<32x32xi1>, %[[M3:[a-zA-Z0-9_]+]]: tensor<2x32x32xi1>, %[[M4:[a-zA-Z0-9_]+]]: tensor<2x2x32x32xi1>)
// CHECK-DAG: %[[KB:.+]] = dilattn.mask_to_bias %[[KPM]] : tensor<2x32xi1> -> tensor<2x32xf32>
// CHECK-DAG: %[[B2:.+]] = dilattn.mask_to_bias %[[M2]] : tensor<32x32xi1> -> tensor<32x32xf32>
// CHECK: %[[A:.+]] = dilattn.attention %[[Q]], %[[Q]], %[[Q]] key_padding_mask(%[[KB]]) attn_mask(%[[B2]]) causal : (tensor<2x32x2x8xbf16>, tensor<2x32x2x8xbf16>, tensor<2x32x2x8xbf16>, tensor<2x32xf32>, tensor<32x32xf32>) -> tensor<2x32x2x8xbf16>
// CHECK: %[[B3:.+]] = dilattn.mask_to_bias %[[M3]] : tensor<2x32x32xi1> -> tensor<2x32x32xf32>
// CHECK-NEXT: %[[B:.+]] = dilattn.attention %[[A]], %[[Q]], %[[Q]] attn_mask(%[[B3]]) : (tensor<2x32x2x8xbf16>, tensor<2x32x2x8xbf16>, tensor<2x32x2x8xbf16>, tensor<2x32x32xf32>) -> tensor<2x32x2x8xbf16>
// CHECK: %[[B4:.+]] = dilattn.mask_to_bias %[[M4]] : tensor<2x2x32x32xi1> -> tensor<2x2x32x32xf32>
// CHECK-NEXT: %[[C:.+]] = dilattn.attention %[[B]], %[[Q]], %[[Q]] attn_mask(%[[B4]]) scale = 2.500000e-01 : (tensor<2x32x2x8xbf16>, tensor<2x32x2x8xbf16>, tensor<2x32x2x8xbf16>, tensor<2x2x32x32xf32>) -> tensor<2x32x2x8xbf16>
// CHECK-NEXT: return %[[C]]
func.func @attention_masks(%q: tensor<2x32x2x8xbf16>, %kpm: tensor<2x32xi1>, %m2: tensor<32x32xi1>, %m3: tensor<2x32x32xi1>, %m4: tensor<2x2x32x32xi1>) -> tensor<2x32x2x8xbf16> {
  %0 = dilattn.attention %q, %q, %q key_padding_mask(%kpm) attn_mask(%m2) causal
      : (tensor<2x32x2x8xbf16>, tensor<2x32x2x8xbf16>, tensor<2x32x2x8xbf16>, tensor<2x32xi1>, tensor<32x32xi1>) -> tensor<2x32x2x8xbf16>
  %1 = dilattn.attention %0, %q, %q attn_mask(%m3)
      : (tensor<2x32x2x8xbf16>, tensor<2x32x2x8xbf16>, tensor<2x32x2x8xbf16>, tensor<2x32x32xi1>) -> tensor<2x32x2x8xbf16>
  %2 = dilattn.attention %1, %q, %q attn_mask(%m4) scale = 0.25
      : (tensor<2x32x2x8xbf16>, tensor<2x32x2x8xbf16>, tensor<2x32x2x8xbf16>, tensor<2x2x32x32xi1>) -> tensor<2x32x2x8xbf16>
  return %2 : tensor<2x32x2x8xbf16>
}

// -----

// Dynamic mask shapes carry over to the bias.
// CHECK-LABEL: func.func @dynamic_masks(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<?x?x4x16xf32>, %[[KPM:[a-zA-Z0-9_]+]]: tensor<?x?xi1>, %[[AM:[a-zA-Z0-9_]+]]: tensor<?x4x?x?xi1>)
// CHECK-DAG: %[[KB:.+]] = dilattn.mask_to_bias %[[KPM]] : tensor<?x?xi1> -> tensor<?x?xf32>
// CHECK-DAG: %[[AB:.+]] = dilattn.mask_to_bias %[[AM]] : tensor<?x4x?x?xi1> -> tensor<?x4x?x?xf32>
// CHECK: dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] key_padding_mask(%[[KB]]) attn_mask(%[[AB]]) segment_lengths = [512, 1024] dilation_rates = [1, 2] : (tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>, tensor<?x?xf32>, tensor<?x4x?x?xf32>) -> tensor<?x?x4x16xf32>
func.func @dynamic_masks(%q: tensor<?x?x4x16xf32>, %kpm: tensor<?x?xi1>, %am: tensor<?x4x?x?xi1>) -> tensor<?x?x4x16xf32> {
  %0 = dilattn.dilated_attention %q, %q, %q key_padding_mask(%kpm) attn_mask(%am) segment_lengths = [512, 1024] dilation_rates = [1, 2]
      : (tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>, tensor<?x?x4x16xf32>, tensor<?x?xi1>, tensor<?x4x?x?xi1>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

// The multihead op is left alone: its key_padding_mask must stay boolean.
// CHECK-LABEL: func.func @multihead_untouched(
// CHECK-SAME: %[[X:[a-zA-Z0-9_]+]]: tensor<2x64x32xf32>, %[[W:[a-zA-Z0-9_]+]]: tensor<32x32xf32>, %[[KPM:[a-zA-Z0-9_]+]]: tensor<2x64xi1>, %[[AM:[a-zA-Z0-9_]+]]: tensor<64x64xi1>)
// CHECK-NOT: dilattn.mask_to_bias
// CHECK: dilattn.multihead_dilated_attention %[[X]], %[[X]], %[[X]] weights(%[[W]], %[[W]], %[[W]], %[[W]]) key_padding_mask(%[[KPM]]) attn_mask(%[[AM]]) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<2x64xi1>, tensor<64x64xi1>) -> tensor<2x64x32xf32>
func.func @multihead_untouched(%x: tensor<2x64x32xf32>, %w: tensor<32x32xf32>, %kpm: tensor<2x64xi1>, %am: tensor<64x64xi1>) -> tensor<2x64x32xf32> {
  %0 = dilattn.multihead_dilated_attention %x, %x, %x weights(%w, %w, %w, %w) key_padding_mask(%kpm) attn_mask(%am)
      num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>,
         tensor<2x64xi1>, tensor<64x64xi1>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// Constant masks. The pass alone already folds dilattn.mask_to_bias of a
// splat constant (the greedy driver folds the ops it creates): all-false
// becomes a zero bias, all-true a -inf bias. With -canonicalize the zero
// bias is dropped, so the all-false mask disappears; the -inf one stays.
// CHECK-LABEL: func.func @constant_masks(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>)
// CHECK-DAG: %[[ZERO:.+]] = arith.constant dense<0.000000e+00> : tensor<2x64xf32>
// CHECK-DAG: %[[NEGINF:.+]] = arith.constant dense<0xFF800000> : tensor<64x64xf32>
// CHECK-NOT: dilattn.mask_to_bias
// CHECK: %[[A:.+]] = dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] key_padding_mask(%[[ZERO]]) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xf32>) -> tensor<2x64x4x16xf32>
// CHECK: %[[B:.+]] = dilattn.attention %[[A]], %[[Q]], %[[Q]] key_padding_mask(%[[ZERO]]) attn_mask(%[[NEGINF]]) : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xf32>, tensor<64x64xf32>) -> tensor<2x64x4x16xf32>
// CHECK-NEXT: return %[[B]]

// CANON-LABEL: func.func @constant_masks(
// CANON-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>)
// CANON-NEXT: %[[NEGINF:.+]] = arith.constant dense<0xFF800000> : tensor<64x64xf32>
// CANON-NEXT: %[[A:.+]] = dilattn.dilated_attention %[[Q]], %[[Q]], %[[Q]] segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
// CANON-NEXT: %[[B:.+]] = dilattn.attention %[[A]], %[[Q]], %[[Q]] attn_mask(%[[NEGINF]]) : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<64x64xf32>) -> tensor<2x64x4x16xf32>
// CANON-NEXT: return %[[B]]
func.func @constant_masks(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  %false = arith.constant dense<false> : tensor<2x64xi1>
  %true = arith.constant dense<true> : tensor<64x64xi1>
  %0 = dilattn.dilated_attention %q, %q, %q key_padding_mask(%false) segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>) -> tensor<2x64x4x16xf32>
  %1 = dilattn.attention %0, %q, %q key_padding_mask(%false) attn_mask(%true)
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>, tensor<64x64xi1>) -> tensor<2x64x4x16xf32>
  return %1 : tensor<2x64x4x16xf32>
}

// -----

// With -canonicalize, a non-constant boolean mask still becomes a bias.
// CANON-LABEL: func.func @canonicalize_keeps_bias(
// CANON-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>, %[[M:[a-zA-Z0-9_]+]]: tensor<2x64xi1>)
// CANON: %[[B:.+]] = dilattn.mask_to_bias %[[M]] : tensor<2x64xi1> -> tensor<2x64xf32>
// CANON-NEXT: dilattn.attention %[[Q]], %[[Q]], %[[Q]] key_padding_mask(%[[B]]) : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xf32>) -> tensor<2x64x4x16xf32>
// CHECK-LABEL: func.func @canonicalize_keeps_bias(
// CHECK: dilattn.mask_to_bias
func.func @canonicalize_keeps_bias(%q: tensor<2x64x4x16xf32>, %m: tensor<2x64xi1>) -> tensor<2x64x4x16xf32> {
  %0 = dilattn.attention %q, %q, %q key_padding_mask(%m)
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// The training ops' boolean masks become biases too, one mask_to_bias per
// use.
// CHECK-LABEL: func.func @training_ops(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: tensor<2x64x4x16xf32>, %[[M:[a-zA-Z0-9_]+]]: tensor<2x64xi1>, %[[A:[a-zA-Z0-9_]+]]: tensor<64x64xi1>)
// CHECK: %[[KB:.+]] = dilattn.mask_to_bias %[[M]] : tensor<2x64xi1> -> tensor<2x64xf32>
// CHECK: %[[AB:.+]] = dilattn.mask_to_bias %[[A]] : tensor<64x64xi1> -> tensor<64x64xf32>
// CHECK: %[[O:[a-z_0-9]+]], %[[L:[a-z_0-9]+]] = dilattn.dilated_attention_with_lse %[[Q]], %[[Q]], %[[Q]] key_padding_mask(%[[KB]]) attn_mask(%[[AB]])
// CHECK: %[[KB2:.+]] = dilattn.mask_to_bias %[[M]] : tensor<2x64xi1> -> tensor<2x64xf32>
// CHECK: %[[AB2:.+]] = dilattn.mask_to_bias %[[A]] : tensor<64x64xi1> -> tensor<64x64xf32>
// CHECK: dilattn.dilated_attention_grad %[[Q]], %[[Q]], %[[Q]], %[[O]], %[[L]], %[[Q]] key_padding_mask(%[[KB2]]) attn_mask(%[[AB2]])
func.func @training_ops(%q: tensor<2x64x4x16xf32>, %m: tensor<2x64xi1>, %a: tensor<64x64xi1>) -> tensor<2x64x4x16xf32> {
  %o, %lse = dilattn.dilated_attention_with_lse %q, %q, %q key_padding_mask(%m) attn_mask(%a)
      segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>, tensor<64x64xi1>) -> (tensor<2x64x4x16xf32>, tensor<2x64x4xf32>)
  %dq, %dk, %dv = dilattn.dilated_attention_grad %q, %q, %q, %o, %lse, %q key_padding_mask(%m) attn_mask(%a)
      segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>, tensor<64x64xi1>) -> (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>)
  return %dq : tensor<2x64x4x16xf32>
}
