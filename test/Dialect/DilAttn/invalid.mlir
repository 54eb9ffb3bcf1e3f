// RUN: dilattn-opt %s -split-input-file -verify-diagnostics

// One case per diagnostic of the dilattn verifiers (lib/Support/Problem.cpp
// and lib/Dialect/DilAttn/IR/DilAttnOps.cpp). Constraint numbers follow
// docs/Constraints.md: C* dilated_attention/attention, M* multihead,
// B* mask_to_bias.

//===----------------------------------------------------------------------===//
// dilattn.dilated_attention
//===----------------------------------------------------------------------===//

// C1: segment_lengths and dilation_rates must not be empty (both empty).
func.func @c1_both_empty(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op segment_lengths and dilation_rates must not be empty (got 0 and 0 entries)}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [] dilation_rates = [] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C1: segment_lengths and dilation_rates must not be empty (one empty).
func.func @c1_rates_empty(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op segment_lengths and dilation_rates must not be empty (got 2 and 0 entries)}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32] dilation_rates = [] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C2: segment_lengths and dilation_rates must have the same length.
func.func @c2_unequal_lengths(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op segment_lengths and dilation_rates must have the same length (3 vs 2)}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32, 64] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C3: every segment length is positive (zero).
func.func @c3_segment_zero(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op segment_lengths[1] must be positive, got 0}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 0] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C3: every segment length is positive (negative).
func.func @c3_segment_negative(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op segment_lengths[0] must be positive, got -16}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [-16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C4: every dilation rate is positive (zero).
func.func @c4_dilation_zero(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op dilation_rates[1] must be positive, got 0}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32] dilation_rates = [1, 0] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C4: every dilation rate is positive (negative).
func.func @c4_dilation_negative(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op dilation_rates[0] must be positive, got -1}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32] dilation_rates = [-1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C5: a given scale is finite (+inf, written as its f64 bit pattern).
func.func @c5_scale_inf(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op scale must be finite, got inf}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32] dilation_rates = [1, 2] scale = 0x7FF0000000000000 : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C5: a given scale is finite (-inf).
func.func @c5_scale_neg_inf(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op scale must be finite, got -inf}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32] dilation_rates = [1, 2] scale = 0xFFF0000000000000 : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C5: a given scale is finite (NaN).
func.func @c5_scale_nan(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op scale must be finite, got nan}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32] dilation_rates = [1, 2] scale = 0x7FF8000000000000 : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C6: query has rank 4 (B, N, H, D).
func.func @c6_query_rank(%q: tensor<2x64x64xf32>, %k: tensor<2x64x4x16xf32>) -> tensor<2x64x64xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op query must have rank 4 (B, N, H, D), got rank 3 (2, 64, 64)}}
  %0 = dilattn.dilated_attention %q, %k, %k segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x64xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x64xf32>
  return %0 : tensor<2x64x64xf32>
}

// -----

// C6: key has rank 4 (B, N, H, D).
func.func @c6_key_rank(%q: tensor<2x64x4x16xf32>, %k: tensor<2x64x4x16x1xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op key must have rank 4 (B, N, H, D), got rank 5 (2, 64, 4, 16, 1)}}
  %0 = dilattn.dilated_attention %q, %k, %q segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16x1xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C6: value has rank 4 (B, N, H, D).
func.func @c6_value_rank(%q: tensor<2x64x4x16xf32>, %v: tensor<128x64xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op value must have rank 4 (B, N, H, D), got rank 2 (128, 64)}}
  %0 = dilattn.dilated_attention %q, %q, %v segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<128x64xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C7: key has the shape of query.
func.func @c7_key_shape(%q: tensor<2x64x4x16xf32>, %k: tensor<2x32x4x16xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op key must have the shape of query (2, 64, 4, 16), got (2, 32, 4, 16)}}
  %0 = dilattn.dilated_attention %q, %k, %q segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x32x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C7: value has the shape of query.
func.func @c7_value_shape(%q: tensor<2x64x4x16xf32>, %v: tensor<2x64x4x8xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op value must have the shape of query (2, 64, 4, 16), got (2, 64, 4, 8)}}
  %0 = dilattn.dilated_attention %q, %q, %v segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x8xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C7: value has the shape of query (dynamic sizes print as ?).
func.func @c7_value_shape_dynamic_query(%q: tensor<?x?x4x16xf32>, %k: tensor<2x64x4x16xf32>, %v: tensor<2x64x8x16xf32>) -> tensor<?x?x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op value must have the shape of query (?, ?, 4, 16), got (2, 64, 8, 16)}}
  %0 = dilattn.dilated_attention %q, %k, %v segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<?x?x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x8x16xf32>) -> tensor<?x?x4x16xf32>
  return %0 : tensor<?x?x4x16xf32>
}

// -----

// C8: the query element type is supported (f64 is not).
func.func @c8_query_f64(%q: tensor<2x64x4x16xf64>) -> tensor<2x64x4x16xf64> {
  // expected-error @+1 {{'dilattn.dilated_attention' op query element type must be one of f32, f16, bf16, got f64}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf64>, tensor<2x64x4x16xf64>, tensor<2x64x4x16xf64>) -> tensor<2x64x4x16xf64>
  return %0 : tensor<2x64x4x16xf64>
}

// -----

// C8: the query element type is supported (integers are not).
func.func @c8_query_integer(%q: tensor<2x64x4x16xi32>) -> tensor<2x64x4x16xi32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op query element type must be one of f32, f16, bf16, got i32}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xi32>, tensor<2x64x4x16xi32>, tensor<2x64x4x16xi32>) -> tensor<2x64x4x16xi32>
  return %0 : tensor<2x64x4x16xi32>
}

// -----

// C8: key has the query's element type.
func.func @c8_key_element(%q: tensor<2x64x4x16xf32>, %k: tensor<2x64x4x16xf16>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op key element type must equal query's (f32), got f16}}
  %0 = dilattn.dilated_attention %q, %k, %q segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf16>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C8: value has the query's element type.
func.func @c8_value_element(%q: tensor<2x64x4x16xf16>, %v: tensor<2x64x4x16xbf16>) -> tensor<2x64x4x16xf16> {
  // expected-error @+1 {{'dilattn.dilated_attention' op value element type must equal query's (f16), got bf16}}
  %0 = dilattn.dilated_attention %q, %q, %v segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf16>, tensor<2x64x4x16xf16>, tensor<2x64x4x16xbf16>) -> tensor<2x64x4x16xf16>
  return %0 : tensor<2x64x4x16xf16>
}

// -----

// C9: the number of heads H is positive.
func.func @c9_zero_heads(%q: tensor<2x64x0x16xf32>) -> tensor<2x64x0x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op the number of heads H must be positive, got 0}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x0x16xf32>, tensor<2x64x0x16xf32>, tensor<2x64x0x16xf32>) -> tensor<2x64x0x16xf32>
  return %0 : tensor<2x64x0x16xf32>
}

// -----

// C9: the head dim D is positive.
func.func @c9_zero_head_dim(%q: tensor<2x64x4x0xf32>) -> tensor<2x64x4x0xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op the head dim D must be positive, got 0}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x0xf32>, tensor<2x64x4x0xf32>, tensor<2x64x4x0xf32>) -> tensor<2x64x4x0xf32>
  return %0 : tensor<2x64x4x0xf32>
}

// -----

// C10: H >= k in grouped mode (default mode).
func.func @c10_grouped_heads(%q: tensor<2x64x2x16xf32>) -> tensor<2x64x2x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op num_heads (2) must be >= the number of patterns (3) in grouped mode}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32, 64] dilation_rates = [1, 2, 4] : (tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>) -> tensor<2x64x2x16xf32>
  return %0 : tensor<2x64x2x16xf32>
}

// -----

// C10: H >= k in grouped mode (mode given explicitly).
func.func @c10_grouped_heads_explicit(%q: tensor<2x64x1x16xf32>) -> tensor<2x64x1x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op num_heads (1) must be >= the number of patterns (2) in grouped mode}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32] dilation_rates = [1, 2] mode = grouped : (tensor<2x64x1x16xf32>, tensor<2x64x1x16xf32>, tensor<2x64x1x16xf32>) -> tensor<2x64x1x16xf32>
  return %0 : tensor<2x64x1x16xf32>
}

// -----

// C11: the query's element count fits 64-bit indexing.
func.func @c11_index_overflow(%q: tensor<4294967296x4294967296x1x1xf32>) -> tensor<4294967296x4294967296x1x1xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op query of shape (4294967296, 4294967296, 1, 1) has more elements than 64-bit indexing can address}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16] dilation_rates = [1] : (tensor<4294967296x4294967296x1x1xf32>, tensor<4294967296x4294967296x1x1xf32>, tensor<4294967296x4294967296x1x1xf32>) -> tensor<4294967296x4294967296x1x1xf32>
  return %0 : tensor<4294967296x4294967296x1x1xf32>
}

// -----

// C12: key_padding_mask is boolean (or, in the IR, a float bias).
func.func @c12_key_padding_integer(%q: tensor<2x64x4x16xf32>, %kpm: tensor<2x64xi8>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op key_padding_mask must be boolean (i1) or a float bias, got i8}}
  %0 = dilattn.dilated_attention %q, %q, %q key_padding_mask(%kpm) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi8>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C13: key_padding_mask has shape (B, N).
func.func @c13_key_padding_shape(%q: tensor<2x64x4x16xf32>, %kpm: tensor<2x63xi1>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op key_padding_mask must have shape (B, N) = (2, 64), got (2, 63)}}
  %0 = dilattn.dilated_attention %q, %q, %q key_padding_mask(%kpm) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x63xi1>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C13: key_padding_mask has shape (B, N) (wrong rank).
func.func @c13_key_padding_rank(%q: tensor<2x64x4x16xf32>, %kpm: tensor<2x64x1xi1>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op key_padding_mask must have shape (B, N) = (2, 64), got (2, 64, 1)}}
  %0 = dilattn.dilated_attention %q, %q, %q key_padding_mask(%kpm) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x1xi1>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C13: a float key_padding_mask (bias) also has shape (B, N).
func.func @c13_key_padding_float_shape(%q: tensor<2x64x4x16xf32>, %kpm: tensor<64x2xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op key_padding_mask must have shape (B, N) = (2, 64), got (64, 2)}}
  %0 = dilattn.dilated_attention %q, %q, %q key_padding_mask(%kpm) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<64x2xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C13: key_padding_mask has shape (B, N) (unknown B prints as ?).
func.func @c13_key_padding_dynamic(%q: tensor<?x64x4x16xf32>, %kpm: tensor<2x32xi1>) -> tensor<?x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op key_padding_mask must have shape (B, N) = (?, 64), got (2, 32)}}
  %0 = dilattn.dilated_attention %q, %q, %q key_padding_mask(%kpm) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<?x64x4x16xf32>, tensor<?x64x4x16xf32>, tensor<?x64x4x16xf32>, tensor<2x32xi1>) -> tensor<?x64x4x16xf32>
  return %0 : tensor<?x64x4x16xf32>
}

// -----

// C14: attn_mask is boolean or floating point.
func.func @c14_attn_mask_integer(%q: tensor<2x64x4x16xf32>, %am: tensor<64x64xi8>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op attn_mask must be boolean (i1) or floating point, got i8}}
  %0 = dilattn.dilated_attention %q, %q, %q attn_mask(%am) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<64x64xi8>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C15: attn_mask has rank 2, 3 or 4 (rank 1).
func.func @c15_attn_mask_rank1(%q: tensor<2x64x4x16xf32>, %am: tensor<64xi1>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op attn_mask must have shape (N, N), (B, N, N) or (B, H, N, N), got rank 1 (64)}}
  %0 = dilattn.dilated_attention %q, %q, %q attn_mask(%am) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<64xi1>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C15: attn_mask has rank 2, 3 or 4 (rank 5).
func.func @c15_attn_mask_rank5(%q: tensor<2x64x4x16xf32>, %am: tensor<2x4x1x64x64xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op attn_mask must have shape (N, N), (B, N, N) or (B, H, N, N), got rank 5 (2, 4, 1, 64, 64)}}
  %0 = dilattn.dilated_attention %q, %q, %q attn_mask(%am) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x4x1x64x64xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C15: a rank-2 attn_mask is (N, N).
func.func @c15_attn_mask_shape_nn(%q: tensor<2x64x4x16xf32>, %am: tensor<64x32xi1>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op attn_mask must have shape (N, N) = (64, 64), got (64, 32)}}
  %0 = dilattn.dilated_attention %q, %q, %q attn_mask(%am) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<64x32xi1>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C15: a rank-3 attn_mask is (B, N, N).
func.func @c15_attn_mask_shape_bnn(%q: tensor<2x64x4x16xf32>, %am: tensor<3x64x64xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op attn_mask must have shape (B, N, N) = (2, 64, 64), got (3, 64, 64)}}
  %0 = dilattn.dilated_attention %q, %q, %q attn_mask(%am) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<3x64x64xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C15: a rank-4 attn_mask is (B, H, N, N).
func.func @c15_attn_mask_shape_bhnn(%q: tensor<2x64x4x16xf32>, %am: tensor<2x2x64x64xi1>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op attn_mask must have shape (B, H, N, N) = (2, 4, 64, 64), got (2, 2, 64, 64)}}
  %0 = dilattn.dilated_attention %q, %q, %q attn_mask(%am) segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x2x64x64xi1>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C16: the attn_mask's element count fits 64-bit indexing.
func.func @c16_attn_mask_overflow(%q: tensor<1x4294967296x1x1xf32>, %am: tensor<4294967296x4294967296xi1>) -> tensor<1x4294967296x1x1xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op attn_mask of shape (4294967296, 4294967296) has more elements than 64-bit indexing can address}}
  %0 = dilattn.dilated_attention %q, %q, %q attn_mask(%am) segment_lengths = [16] dilation_rates = [1] : (tensor<1x4294967296x1x1xf32>, tensor<1x4294967296x1x1xf32>, tensor<1x4294967296x1x1xf32>, tensor<4294967296x4294967296xi1>) -> tensor<1x4294967296x1x1xf32>
  return %0 : tensor<1x4294967296x1x1xf32>
}

// -----

// C17: the result type matches the query type (shape).
func.func @c17_result_shape(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x8xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op result type must match the query type 'tensor<2x64x4x16xf32>', got 'tensor<2x64x4x8xf32>'}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x8xf32>
  return %0 : tensor<2x64x4x8xf32>
}

// -----

// C17: the result type matches the query type (element type).
func.func @c17_result_element(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf16> {
  // expected-error @+1 {{'dilattn.dilated_attention' op result type must match the query type 'tensor<2x64x4x16xf32>', got 'tensor<2x64x4x16xf16>'}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf16>
  return %0 : tensor<2x64x4x16xf16>
}

// -----

// C17: the result type matches the query type (rank).
func.func @c17_result_rank(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x64xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op result type must match the query type 'tensor<2x64x4x16xf32>', got 'tensor<2x64x64xf32>'}}
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x64xf32>
  return %0 : tensor<2x64x64xf32>
}

//===----------------------------------------------------------------------===//
// dilattn.attention (fixed single pattern: C1-C4 and C10 cannot fail)
//===----------------------------------------------------------------------===//

// -----

// C5: a given scale is finite.
func.func @attn_c5_scale_inf(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.attention' op scale must be finite, got inf}}
  %0 = dilattn.attention %q, %q, %q scale = 0x7FF0000000000000 : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C5: a given scale is finite (NaN, causal).
func.func @attn_c5_scale_nan(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.attention' op scale must be finite, got nan}}
  %0 = dilattn.attention %q, %q, %q causal scale = 0x7FF8000000000000 : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C6: query has rank 4 (B, N, H, D).
func.func @attn_c6_query_rank(%q: tensor<2x64x64xf32>, %k: tensor<2x64x4x16xf32>) -> tensor<2x64x64xf32> {
  // expected-error @+1 {{'dilattn.attention' op query must have rank 4 (B, N, H, D), got rank 3 (2, 64, 64)}}
  %0 = dilattn.attention %q, %k, %k : (tensor<2x64x64xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x64xf32>
  return %0 : tensor<2x64x64xf32>
}

// -----

// C6: key has rank 4 (B, N, H, D).
func.func @attn_c6_key_rank(%q: tensor<2x64x4x16xf32>, %k: tensor<2x64x64xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.attention' op key must have rank 4 (B, N, H, D), got rank 3 (2, 64, 64)}}
  %0 = dilattn.attention %q, %k, %q : (tensor<2x64x4x16xf32>, tensor<2x64x64xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C6: value has rank 4 (B, N, H, D).
func.func @attn_c6_value_rank(%q: tensor<2x64x4x16xf32>, %v: tensor<1x2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.attention' op value must have rank 4 (B, N, H, D), got rank 5 (1, 2, 64, 4, 16)}}
  %0 = dilattn.attention %q, %q, %v : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<1x2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C7: key has the shape of query.
func.func @attn_c7_key_shape(%q: tensor<2x64x4x16xf32>, %k: tensor<2x64x2x16xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.attention' op key must have the shape of query (2, 64, 4, 16), got (2, 64, 2, 16)}}
  %0 = dilattn.attention %q, %k, %q : (tensor<2x64x4x16xf32>, tensor<2x64x2x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C7: value has the shape of query.
func.func @attn_c7_value_shape(%q: tensor<2x64x4x16xf32>, %v: tensor<1x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.attention' op value must have the shape of query (2, 64, 4, 16), got (1, 64, 4, 16)}}
  %0 = dilattn.attention %q, %q, %v : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<1x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C8: the query element type is supported.
func.func @attn_c8_query_f64(%q: tensor<2x64x4x16xf64>) -> tensor<2x64x4x16xf64> {
  // expected-error @+1 {{'dilattn.attention' op query element type must be one of f32, f16, bf16, got f64}}
  %0 = dilattn.attention %q, %q, %q : (tensor<2x64x4x16xf64>, tensor<2x64x4x16xf64>, tensor<2x64x4x16xf64>) -> tensor<2x64x4x16xf64>
  return %0 : tensor<2x64x4x16xf64>
}

// -----

// C8: the query element type is supported (i1 is not).
func.func @attn_c8_query_i1(%q: tensor<2x64x4x16xi1>) -> tensor<2x64x4x16xi1> {
  // expected-error @+1 {{'dilattn.attention' op query element type must be one of f32, f16, bf16, got i1}}
  %0 = dilattn.attention %q, %q, %q : (tensor<2x64x4x16xi1>, tensor<2x64x4x16xi1>, tensor<2x64x4x16xi1>) -> tensor<2x64x4x16xi1>
  return %0 : tensor<2x64x4x16xi1>
}

// -----

// C8: key has the query's element type.
func.func @attn_c8_key_element(%q: tensor<2x64x4x16xbf16>, %k: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xbf16> {
  // expected-error @+1 {{'dilattn.attention' op key element type must equal query's (bf16), got f32}}
  %0 = dilattn.attention %q, %k, %q : (tensor<2x64x4x16xbf16>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xbf16>) -> tensor<2x64x4x16xbf16>
  return %0 : tensor<2x64x4x16xbf16>
}

// -----

// C8: value has the query's element type.
func.func @attn_c8_value_element(%q: tensor<2x64x4x16xf32>, %v: tensor<2x64x4x16xf16>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.attention' op value element type must equal query's (f32), got f16}}
  %0 = dilattn.attention %q, %q, %v : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf16>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C9: the number of heads H is positive.
func.func @attn_c9_zero_heads(%q: tensor<2x64x0x16xf32>) -> tensor<2x64x0x16xf32> {
  // expected-error @+1 {{'dilattn.attention' op the number of heads H must be positive, got 0}}
  %0 = dilattn.attention %q, %q, %q : (tensor<2x64x0x16xf32>, tensor<2x64x0x16xf32>, tensor<2x64x0x16xf32>) -> tensor<2x64x0x16xf32>
  return %0 : tensor<2x64x0x16xf32>
}

// -----

// C9: the head dim D is positive.
func.func @attn_c9_zero_head_dim(%q: tensor<2x64x4x0xf32>) -> tensor<2x64x4x0xf32> {
  // expected-error @+1 {{'dilattn.attention' op the head dim D must be positive, got 0}}
  %0 = dilattn.attention %q, %q, %q : (tensor<2x64x4x0xf32>, tensor<2x64x4x0xf32>, tensor<2x64x4x0xf32>) -> tensor<2x64x4x0xf32>
  return %0 : tensor<2x64x4x0xf32>
}

// -----

// C11: the query's element count fits 64-bit indexing.
func.func @attn_c11_index_overflow(%q: tensor<4294967296x4294967296x1x1xf32>) -> tensor<4294967296x4294967296x1x1xf32> {
  // expected-error @+1 {{'dilattn.attention' op query of shape (4294967296, 4294967296, 1, 1) has more elements than 64-bit indexing can address}}
  %0 = dilattn.attention %q, %q, %q : (tensor<4294967296x4294967296x1x1xf32>, tensor<4294967296x4294967296x1x1xf32>, tensor<4294967296x4294967296x1x1xf32>) -> tensor<4294967296x4294967296x1x1xf32>
  return %0 : tensor<4294967296x4294967296x1x1xf32>
}

// -----

// C12: key_padding_mask is boolean (or a float bias).
func.func @attn_c12_key_padding_integer(%q: tensor<2x64x4x16xf32>, %kpm: tensor<2x64xi32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.attention' op key_padding_mask must be boolean (i1) or a float bias, got i32}}
  %0 = dilattn.attention %q, %q, %q key_padding_mask(%kpm) : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C13: key_padding_mask has shape (B, N).
func.func @attn_c13_key_padding_shape(%q: tensor<2x64x4x16xf32>, %kpm: tensor<1x64xi1>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.attention' op key_padding_mask must have shape (B, N) = (2, 64), got (1, 64)}}
  %0 = dilattn.attention %q, %q, %q key_padding_mask(%kpm) : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<1x64xi1>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C14: attn_mask is boolean or floating point.
func.func @attn_c14_attn_mask_integer(%q: tensor<2x64x4x16xf32>, %am: tensor<2x64x64xi32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.attention' op attn_mask must be boolean (i1) or floating point, got i32}}
  %0 = dilattn.attention %q, %q, %q attn_mask(%am) : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x64xi32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C15: attn_mask has rank 2, 3 or 4.
func.func @attn_c15_attn_mask_rank(%q: tensor<2x64x4x16xf32>, %am: tensor<64xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.attention' op attn_mask must have shape (N, N), (B, N, N) or (B, H, N, N), got rank 1 (64)}}
  %0 = dilattn.attention %q, %q, %q attn_mask(%am) : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<64xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C15: a rank-2 attn_mask is (N, N).
func.func @attn_c15_attn_mask_shape_nn(%q: tensor<2x64x4x16xf32>, %am: tensor<32x64xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.attention' op attn_mask must have shape (N, N) = (64, 64), got (32, 64)}}
  %0 = dilattn.attention %q, %q, %q attn_mask(%am) : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<32x64xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C15: a rank-3 attn_mask is (B, N, N).
func.func @attn_c15_attn_mask_shape_bnn(%q: tensor<2x64x4x16xf32>, %am: tensor<2x64x63xi1>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.attention' op attn_mask must have shape (B, N, N) = (2, 64, 64), got (2, 64, 63)}}
  %0 = dilattn.attention %q, %q, %q attn_mask(%am) : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x63xi1>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C15: a rank-4 attn_mask is (B, H, N, N).
func.func @attn_c15_attn_mask_shape_bhnn(%q: tensor<2x64x4x16xf32>, %am: tensor<2x1x64x64xf16>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.attention' op attn_mask must have shape (B, H, N, N) = (2, 4, 64, 64), got (2, 1, 64, 64)}}
  %0 = dilattn.attention %q, %q, %q attn_mask(%am) : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x1x64x64xf16>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// C16: the attn_mask's element count fits 64-bit indexing.
func.func @attn_c16_attn_mask_overflow(%q: tensor<1x4294967296x1x1xf32>, %am: tensor<1x1x4294967296x4294967296xf32>) -> tensor<1x4294967296x1x1xf32> {
  // expected-error @+1 {{'dilattn.attention' op attn_mask of shape (1, 1, 4294967296, 4294967296) has more elements than 64-bit indexing can address}}
  %0 = dilattn.attention %q, %q, %q attn_mask(%am) : (tensor<1x4294967296x1x1xf32>, tensor<1x4294967296x1x1xf32>, tensor<1x4294967296x1x1xf32>, tensor<1x1x4294967296x4294967296xf32>) -> tensor<1x4294967296x1x1xf32>
  return %0 : tensor<1x4294967296x1x1xf32>
}

// -----

// C17: the result type matches the query type.
func.func @attn_c17_result_type(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xbf16> {
  // expected-error @+1 {{'dilattn.attention' op result type must match the query type 'tensor<2x64x4x16xf32>', got 'tensor<2x64x4x16xbf16>'}}
  %0 = dilattn.attention %q, %q, %q : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xbf16>
  return %0 : tensor<2x64x4x16xbf16>
}

//===----------------------------------------------------------------------===//
// dilattn.multihead_dilated_attention
//===----------------------------------------------------------------------===//

// -----

// C1: segment_lengths and dilation_rates must not be empty.
func.func @mh_c1_empty(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op segment_lengths and dilation_rates must not be empty (got 0 and 0 entries)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) num_heads = 4 segment_lengths = [] dilation_rates = [] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// C2: segment_lengths and dilation_rates must have the same length.
func.func @mh_c2_unequal_lengths(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op segment_lengths and dilation_rates must have the same length (1 vs 2)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) num_heads = 4 segment_lengths = [16] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// C3: every segment length is positive.
func.func @mh_c3_segment_positive(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op segment_lengths[0] must be positive, got 0}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) num_heads = 4 segment_lengths = [0, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// C4: every dilation rate is positive.
func.func @mh_c4_dilation_positive(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op dilation_rates[1] must be positive, got -2}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, -2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// C5: a given scale is finite.
func.func @mh_c5_scale_finite(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op scale must be finite, got inf}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] scale = 0x7FF0000000000000 : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M1: query has rank 3 (B, N, E).
func.func @mh_m1_query_rank(%q: tensor<2x64x4x8xf32>, %k: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>) -> tensor<2x64x4x8xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op query must have rank 3 (B, N, E), got rank 4 (2, 64, 4, 8)}}
  %0 = dilattn.multihead_dilated_attention %q, %k, %k weights(%w0, %w0, %w0, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x4x8xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x4x8xf32>
  return %0 : tensor<2x64x4x8xf32>
}

// -----

// M1: key has rank 3 (B, N, E).
func.func @mh_m1_key_rank(%q: tensor<2x64x32xf32>, %k: tensor<128x32xf32>, %w0: tensor<32x32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op key must have rank 3 (B, N, E), got rank 2 (128, 32)}}
  %0 = dilattn.multihead_dilated_attention %q, %k, %q weights(%w0, %w0, %w0, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<128x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M1: value has rank 3 (B, N, E).
func.func @mh_m1_value_rank(%q: tensor<2x64x32xf32>, %v: tensor<2x64x4x8xf32>, %w0: tensor<32x32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op value must have rank 3 (B, N, E), got rank 4 (2, 64, 4, 8)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %v weights(%w0, %w0, %w0, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x4x8xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M1: key has the shape of query.
func.func @mh_m1_key_shape(%q: tensor<2x64x32xf32>, %k: tensor<2x48x32xf32>, %w0: tensor<32x32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op key must have the shape of query (2, 64, 32), got (2, 48, 32)}}
  %0 = dilattn.multihead_dilated_attention %q, %k, %q weights(%w0, %w0, %w0, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x48x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M1: value has the shape of query.
func.func @mh_m1_value_shape(%q: tensor<2x64x32xf32>, %v: tensor<2x64x16xf32>, %w0: tensor<32x32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op value must have the shape of query (2, 64, 32), got (2, 64, 16)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %v weights(%w0, %w0, %w0, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x16xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M2: the query element type is supported.
func.func @mh_m2_query_f64(%q: tensor<2x64x32xf64>, %w0: tensor<32x32xf64>) -> tensor<2x64x32xf64> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op query element type must be one of f32, f16, bf16, got f64}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf64>, tensor<2x64x32xf64>, tensor<2x64x32xf64>, tensor<32x32xf64>, tensor<32x32xf64>, tensor<32x32xf64>, tensor<32x32xf64>) -> tensor<2x64x32xf64>
  return %0 : tensor<2x64x32xf64>
}

// -----

// M2: the query element type is supported (integers are not).
func.func @mh_m2_query_integer(%q: tensor<2x64x32xi8>, %w0: tensor<32x32xi8>) -> tensor<2x64x32xi8> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op query element type must be one of f32, f16, bf16, got i8}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xi8>, tensor<2x64x32xi8>, tensor<2x64x32xi8>, tensor<32x32xi8>, tensor<32x32xi8>, tensor<32x32xi8>, tensor<32x32xi8>) -> tensor<2x64x32xi8>
  return %0 : tensor<2x64x32xi8>
}

// -----

// M2: key has the query's element type.
func.func @mh_m2_key_element(%q: tensor<2x64x32xf32>, %k: tensor<2x64x32xf16>, %w0: tensor<32x32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op key element type must equal query's (f32), got f16}}
  %0 = dilattn.multihead_dilated_attention %q, %k, %q weights(%w0, %w0, %w0, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf16>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M2: value has the query's element type.
func.func @mh_m2_value_element(%q: tensor<2x64x32xbf16>, %v: tensor<2x64x32xf32>, %w0: tensor<32x32xbf16>) -> tensor<2x64x32xbf16> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op value element type must equal query's (bf16), got f32}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %v weights(%w0, %w0, %w0, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xbf16>, tensor<2x64x32xbf16>, tensor<2x64x32xf32>, tensor<32x32xbf16>, tensor<32x32xbf16>, tensor<32x32xbf16>, tensor<32x32xbf16>) -> tensor<2x64x32xbf16>
  return %0 : tensor<2x64x32xbf16>
}

// -----

// M3: num_heads is positive (zero).
func.func @mh_m3_num_heads_zero(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op num_heads must be positive, got 0}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) num_heads = 0 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M3: num_heads is positive (negative).
func.func @mh_m3_num_heads_negative(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op num_heads must be positive, got -4}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) num_heads = -4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M3: E is a multiple of num_heads.
func.func @mh_m3_embed_not_multiple(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op embed_dim (32) must be a positive multiple of num_heads (3)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) num_heads = 3 segment_lengths = [16] dilation_rates = [1] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M3: E is positive.
func.func @mh_m3_embed_zero(%q: tensor<2x64x0xf32>, %w0: tensor<0x0xf32>) -> tensor<2x64x0xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op embed_dim (0) must be a positive multiple of num_heads (4)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x0xf32>, tensor<2x64x0xf32>, tensor<2x64x0xf32>, tensor<0x0xf32>, tensor<0x0xf32>, tensor<0x0xf32>, tensor<0x0xf32>) -> tensor<2x64x0xf32>
  return %0 : tensor<2x64x0xf32>
}

// -----

// M4: num_heads >= k in grouped mode.
func.func @mh_m4_grouped_heads(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op num_heads (2) must be >= the number of patterns (3) in grouped mode}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) num_heads = 2 segment_lengths = [16, 32, 64] dilation_rates = [1, 2, 4] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: q_weight has shape (E, E).
func.func @mh_m5_q_weight_shape(%q: tensor<2x64x32xf32>, %w0: tensor<32x16xf32>, %w1: tensor<32x32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op q_weight must have shape (E, E) = (32, 32), got (32, 16)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w1, %w1, %w1) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x16xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: k_weight has shape (E, E).
func.func @mh_m5_k_weight_shape(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %w1: tensor<16x32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op k_weight must have shape (E, E) = (32, 32), got (16, 32)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w1, %w0, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<16x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: v_weight has shape (E, E).
func.func @mh_m5_v_weight_shape(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %w2: tensor<32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op v_weight must have shape (E, E) = (32, 32), got (32)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w2, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: out_weight has shape (E, E).
func.func @mh_m5_out_weight_shape(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %w3: tensor<32x32x1xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op out_weight must have shape (E, E) = (32, 32), got (32, 32, 1)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w3) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32x1xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: q_weight has the query's element type.
func.func @mh_m5_q_weight_element(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf16>, %w1: tensor<32x32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op q_weight element type must equal query's (f32), got f16}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w1, %w1, %w1) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf16>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: k_weight has the query's element type.
func.func @mh_m5_k_weight_element(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %w1: tensor<32x32xbf16>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op k_weight element type must equal query's (f32), got bf16}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w1, %w0, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xbf16>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: v_weight has the query's element type.
func.func @mh_m5_v_weight_element(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %w2: tensor<32x32xf64>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op v_weight element type must equal query's (f32), got f64}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w2, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf64>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: out_weight has the query's element type.
func.func @mh_m5_out_weight_element(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %w3: tensor<32x32xi32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op out_weight element type must equal query's (f32), got i32}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w3) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xi32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: q_bias has shape (E).
func.func @mh_m5_q_bias_shape(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %b0: tensor<16xf32>, %b1: tensor<32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op q_bias must have shape (E) = (32), got (16)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) biases(%b0, %b1, %b1, %b1) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<16xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: k_bias has shape (E).
func.func @mh_m5_k_bias_shape(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %b0: tensor<32xf32>, %b1: tensor<32x1xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op k_bias must have shape (E) = (32), got (32, 1)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) biases(%b0, %b1, %b0, %b0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32xf32>, tensor<32x1xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: v_bias has shape (E).
func.func @mh_m5_v_bias_shape(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %b0: tensor<32xf32>, %b2: tensor<33xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op v_bias must have shape (E) = (32), got (33)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) biases(%b0, %b0, %b2, %b0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<33xf32>, tensor<32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: out_bias has shape (E).
func.func @mh_m5_out_bias_shape(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %b0: tensor<32xf32>, %b3: tensor<1x32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op out_bias must have shape (E) = (32), got (1, 32)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) biases(%b0, %b0, %b0, %b3) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<1x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: q_bias has the query's element type.
func.func @mh_m5_q_bias_element(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %b0: tensor<32xf16>, %b1: tensor<32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op q_bias element type must equal query's (f32), got f16}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) biases(%b0, %b1, %b1, %b1) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32xf16>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: k_bias has the query's element type.
func.func @mh_m5_k_bias_element(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %b0: tensor<32xf32>, %b1: tensor<32xbf16>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op k_bias element type must equal query's (f32), got bf16}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) biases(%b0, %b1, %b0, %b0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32xf32>, tensor<32xbf16>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: v_bias has the query's element type.
func.func @mh_m5_v_bias_element(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %b0: tensor<32xf32>, %b2: tensor<32xf64>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op v_bias element type must equal query's (f32), got f64}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) biases(%b0, %b0, %b2, %b0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf64>, tensor<32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: out_bias has the query's element type.
func.func @mh_m5_out_bias_element(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %b0: tensor<32xf32>, %b3: tensor<32xi32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op out_bias element type must equal query's (f32), got i32}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) biases(%b0, %b0, %b0, %b3) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xi32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: layer_norm_weight has shape (E).
func.func @mh_m5_layer_norm_weight_shape(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %ln0: tensor<64xf32>, %ln1: tensor<32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op layer_norm_weight must have shape (E) = (32), got (64)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) layer_norm(%ln0, %ln1) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<64xf32>, tensor<32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: layer_norm_bias has shape (E).
func.func @mh_m5_layer_norm_bias_shape(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %ln0: tensor<32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op layer_norm_bias must have shape (E) = (32), got (32, 32)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) layer_norm(%ln0, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: layer_norm_weight has the query's element type.
func.func @mh_m5_layer_norm_weight_element(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %ln0: tensor<32xf16>, %ln1: tensor<32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op layer_norm_weight element type must equal query's (f32), got f16}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) layer_norm(%ln0, %ln1) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32xf16>, tensor<32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M5: layer_norm_bias has the query's element type.
func.func @mh_m5_layer_norm_bias_element(%q: tensor<2x64x32xbf16>, %w0: tensor<32x32xbf16>, %ln0: tensor<32xbf16>, %ln1: tensor<32xf32>) -> tensor<2x64x32xbf16> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op layer_norm_bias element type must equal query's (bf16), got f32}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) layer_norm(%ln0, %ln1) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xbf16>, tensor<2x64x32xbf16>, tensor<2x64x32xbf16>, tensor<32x32xbf16>, tensor<32x32xbf16>, tensor<32x32xbf16>, tensor<32x32xbf16>, tensor<32xbf16>, tensor<32xf32>) -> tensor<2x64x32xbf16>
  return %0 : tensor<2x64x32xbf16>
}

// -----

// M5: weights are (E, E) (an unknown E prints as ?).
func.func @mh_m5_weight_dynamic_embed(%q: tensor<2x64x?xf32>, %w0: tensor<32xf32>, %w1: tensor<32x32xf32>) -> tensor<2x64x?xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op q_weight must have shape (E, E) = (?, ?), got (32)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w1, %w1, %w1) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x?xf32>, tensor<2x64x?xf32>, tensor<2x64x?xf32>, tensor<32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x?xf32>
  return %0 : tensor<2x64x?xf32>
}

// -----

// M7: the query's element count fits 64-bit indexing.
func.func @mh_m7_index_overflow(%q: tensor<4294967296x4294967296x4xf32>, %w0: tensor<4x4xf32>) -> tensor<4294967296x4294967296x4xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op query of shape (4294967296, 4294967296, 4) has more elements than 64-bit indexing can address}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) num_heads = 2 segment_lengths = [16] dilation_rates = [1] : (tensor<4294967296x4294967296x4xf32>, tensor<4294967296x4294967296x4xf32>, tensor<4294967296x4294967296x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4294967296x4294967296x4xf32>
  return %0 : tensor<4294967296x4294967296x4xf32>
}

// -----

// M7: the (E, E) weights' element count fits 64-bit indexing (the message names q_weight).
func.func @mh_m7_weight_overflow(%q: tensor<1x1x4294967296xf32>, %w0: tensor<4294967296x4294967296xf32>) -> tensor<1x1x4294967296xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op q_weight of shape (4294967296, 4294967296) has more elements than 64-bit indexing can address}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) num_heads = 1 segment_lengths = [16] dilation_rates = [1] : (tensor<1x1x4294967296xf32>, tensor<1x1x4294967296xf32>, tensor<1x1x4294967296xf32>, tensor<4294967296x4294967296xf32>, tensor<4294967296x4294967296xf32>, tensor<4294967296x4294967296xf32>, tensor<4294967296x4294967296xf32>) -> tensor<1x1x4294967296xf32>
  return %0 : tensor<1x1x4294967296xf32>
}

// -----

// M8 (C12): the multihead key_padding_mask is boolean (no float bias form).
func.func @mh_m8_key_padding_float(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %kpm: tensor<2x64xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op key_padding_mask must be boolean (i1), got f32}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) key_padding_mask(%kpm) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<2x64xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M8 (C13): key_padding_mask has shape (B, N).
func.func @mh_m8_key_padding_shape(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %kpm: tensor<2x32xi1>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op key_padding_mask must have shape (B, N) = (2, 64), got (2, 32)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) key_padding_mask(%kpm) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<2x32xi1>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M8 (C14): attn_mask is boolean or floating point.
func.func @mh_m8_attn_mask_integer(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %am: tensor<64x64xi32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op attn_mask must be boolean (i1) or floating point, got i32}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) attn_mask(%am) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<64x64xi32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M8 (C15): attn_mask has rank 2, 3 or 4.
func.func @mh_m8_attn_mask_rank(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %am: tensor<1x2x4x64x64xi1>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op attn_mask must have shape (N, N), (B, N, N) or (B, H, N, N), got rank 5 (1, 2, 4, 64, 64)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) attn_mask(%am) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<1x2x4x64x64xi1>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M8 (C15): a rank-2 attn_mask is (N, N).
func.func @mh_m8_attn_mask_shape_nn(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %am: tensor<64x65xi1>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op attn_mask must have shape (N, N) = (64, 64), got (64, 65)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) attn_mask(%am) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<64x65xi1>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M8 (C15): a rank-3 attn_mask is (B, N, N).
func.func @mh_m8_attn_mask_shape_bnn(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %am: tensor<1x64x64xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op attn_mask must have shape (B, N, N) = (2, 64, 64), got (1, 64, 64)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) attn_mask(%am) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<1x64x64xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M8 (C15): a rank-4 attn_mask is (B, H, N, N) with H = num_heads.
func.func @mh_m8_attn_mask_shape_bhnn(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %am: tensor<2x8x64x64xi1>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op attn_mask must have shape (B, H, N, N) = (2, 4, 64, 64), got (2, 8, 64, 64)}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) attn_mask(%am) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<2x8x64x64xi1>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M8 (C16): the attn_mask's element count fits 64-bit indexing.
func.func @mh_m8_attn_mask_overflow(%q: tensor<1x4294967296x4xf32>, %w0: tensor<4x4xf32>, %am: tensor<1x4294967296x4294967296xi1>) -> tensor<1x4294967296x4xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op attn_mask of shape (1, 4294967296, 4294967296) has more elements than 64-bit indexing can address}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) attn_mask(%am) num_heads = 2 segment_lengths = [16] dilation_rates = [1] : (tensor<1x4294967296x4xf32>, tensor<1x4294967296x4xf32>, tensor<1x4294967296x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<1x4294967296x4294967296xi1>) -> tensor<1x4294967296x4xf32>
  return %0 : tensor<1x4294967296x4xf32>
}

// -----

// M9: layer_norm_eps is positive (zero).
func.func @mh_m9_layer_norm_eps_zero(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op layer_norm_eps must be positive and finite, got 0}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] layer_norm_eps = 0.0 : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M9: layer_norm_eps is positive (negative).
func.func @mh_m9_layer_norm_eps_negative(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>, %ln0: tensor<32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op layer_norm_eps must be positive and finite, got -1e-05}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) layer_norm(%ln0, %ln0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] layer_norm_eps = -1.0e-05 : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M9: the result type matches the query type (shape).
func.func @mh_m9_result_shape(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>) -> tensor<2x64x4x8xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op result type must match the query type 'tensor<2x64x32xf32>', got 'tensor<2x64x4x8xf32>'}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x4x8xf32>
  return %0 : tensor<2x64x4x8xf32>
}

// -----

// M9: the result type matches the query type (element type).
func.func @mh_m9_result_element(%q: tensor<2x64x32xf32>, %w0: tensor<32x32xf32>) -> tensor<2x64x32xf16> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op result type must match the query type 'tensor<2x64x32xf32>', got 'tensor<2x64x32xf16>'}}
  %0 = dilattn.multihead_dilated_attention %q, %q, %q weights(%w0, %w0, %w0, %w0) num_heads = 4 segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>) -> tensor<2x64x32xf16>
  return %0 : tensor<2x64x32xf16>
}

// -----

// M6: layer_norm_weight and layer_norm_bias come together (weight only; generic form).
func.func @mh_m6_layer_norm_weight_only(%x: tensor<2x64x32xf32>, %w: tensor<32x32xf32>, %g: tensor<32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op layer_norm_weight and layer_norm_bias must be given together}}
  %0 = "dilattn.multihead_dilated_attention"(%x, %x, %x, %w, %w, %w, %w, %g)
      <{dilation_rates = array<i64: 1, 2>, num_heads = 4 : i64,
        operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0>,
        segment_lengths = array<i64: 16, 32>}>
      : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M6: layer_norm_weight and layer_norm_bias come together (bias only; generic form).
func.func @mh_m6_layer_norm_bias_only(%x: tensor<2x64x32xf32>, %w: tensor<32x32xf32>, %g: tensor<32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op layer_norm_weight and layer_norm_bias must be given together}}
  %0 = "dilattn.multihead_dilated_attention"(%x, %x, %x, %w, %w, %w, %w, %g)
      <{dilation_rates = array<i64: 1, 2>, num_heads = 4 : i64,
        operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0>,
        segment_lengths = array<i64: 16, 32>}>
      : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M9: the four biases come all together or not at all (2 of 4; generic form).
func.func @mh_m9_biases_two_of_four(%x: tensor<2x64x32xf32>, %w: tensor<32x32xf32>, %b: tensor<32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op q_bias, k_bias, v_bias and out_bias must be given all together or not at all, got 2 of 4}}
  %0 = "dilattn.multihead_dilated_attention"(%x, %x, %x, %w, %w, %w, %w, %b, %b)
      <{dilation_rates = array<i64: 1, 2>, num_heads = 4 : i64,
        operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0>,
        segment_lengths = array<i64: 16, 32>}>
      : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M9: the four biases come all together or not at all (out_bias only; generic form).
func.func @mh_m9_biases_one_of_four(%x: tensor<2x64x32xf32>, %w: tensor<32x32xf32>, %b: tensor<32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op q_bias, k_bias, v_bias and out_bias must be given all together or not at all, got 1 of 4}}
  %0 = "dilattn.multihead_dilated_attention"(%x, %x, %x, %w, %w, %w, %w, %b)
      <{dilation_rates = array<i64: 1, 2>, num_heads = 4 : i64,
        operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0>,
        segment_lengths = array<i64: 16, 32>}>
      : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

// -----

// M9: the four biases come all together or not at all (3 of 4; generic form).
func.func @mh_m9_biases_three_of_four(%x: tensor<2x64x32xf32>, %w: tensor<32x32xf32>, %b: tensor<32xf32>) -> tensor<2x64x32xf32> {
  // expected-error @+1 {{'dilattn.multihead_dilated_attention' op q_bias, k_bias, v_bias and out_bias must be given all together or not at all, got 3 of 4}}
  %0 = "dilattn.multihead_dilated_attention"(%x, %x, %x, %w, %w, %w, %w, %b, %b, %b)
      <{dilation_rates = array<i64: 1, 2>, num_heads = 4 : i64,
        operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0>,
        segment_lengths = array<i64: 16, 32>}>
      : (tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<2x64x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<2x64x32xf32>
  return %0 : tensor<2x64x32xf32>
}

//===----------------------------------------------------------------------===//
// dilattn.mask_to_bias
//===----------------------------------------------------------------------===//

// -----

// B1: the mask is a boolean (i1) tensor (float).
func.func @b1_mask_float(%m: tensor<2x64xf32>) -> tensor<2x64xf32> {
  // expected-error @+1 {{'dilattn.mask_to_bias' op mask must be a boolean (i1) tensor, got 'tensor<2x64xf32>'}}
  %0 = dilattn.mask_to_bias %m : tensor<2x64xf32> -> tensor<2x64xf32>
  return %0 : tensor<2x64xf32>
}

// -----

// B1: the mask is a boolean (i1) tensor (i8).
func.func @b1_mask_integer(%m: tensor<64x64xi8>) -> tensor<64x64xf32> {
  // expected-error @+1 {{'dilattn.mask_to_bias' op mask must be a boolean (i1) tensor, got 'tensor<64x64xi8>'}}
  %0 = dilattn.mask_to_bias %m : tensor<64x64xi8> -> tensor<64x64xf32>
  return %0 : tensor<64x64xf32>
}

// -----

// B2: the bias is a floating-point tensor (integer).
func.func @b2_bias_integer(%m: tensor<2x64xi1>) -> tensor<2x64xi32> {
  // expected-error @+1 {{'dilattn.mask_to_bias' op bias must be a floating-point tensor, got 'tensor<2x64xi32>'}}
  %0 = dilattn.mask_to_bias %m : tensor<2x64xi1> -> tensor<2x64xi32>
  return %0 : tensor<2x64xi32>
}

// -----

// B2: the bias is a floating-point tensor (i1).
func.func @b2_bias_boolean(%m: tensor<2x64xi1>) -> tensor<2x64xi1> {
  // expected-error @+1 {{'dilattn.mask_to_bias' op bias must be a floating-point tensor, got 'tensor<2x64xi1>'}}
  %0 = dilattn.mask_to_bias %m : tensor<2x64xi1> -> tensor<2x64xi1>
  return %0 : tensor<2x64xi1>
}

// -----

// B3: the bias shape equals the mask shape.
func.func @b3_shape(%m: tensor<2x64xi1>) -> tensor<2x32xf32> {
  // expected-error @+1 {{'dilattn.mask_to_bias' op bias shape must equal the mask shape (2, 64), got (2, 32)}}
  %0 = dilattn.mask_to_bias %m : tensor<2x64xi1> -> tensor<2x32xf32>
  return %0 : tensor<2x32xf32>
}

// -----

// B3: the bias shape equals the mask shape (rank).
func.func @b3_rank(%m: tensor<64x64xi1>) -> tensor<1x64x64xf32> {
  // expected-error @+1 {{'dilattn.mask_to_bias' op bias shape must equal the mask shape (64, 64), got (1, 64, 64)}}
  %0 = dilattn.mask_to_bias %m : tensor<64x64xi1> -> tensor<1x64x64xf32>
  return %0 : tensor<1x64x64xf32>
}

// -----

// B3: the bias shape equals the mask shape (unknown sizes print as ?).
func.func @b3_dynamic(%m: tensor<?x64xi1>) -> tensor<2x32xf16> {
  // expected-error @+1 {{'dilattn.mask_to_bias' op bias shape must equal the mask shape (?, 64), got (2, 32)}}
  %0 = dilattn.mask_to_bias %m : tensor<?x64xi1> -> tensor<2x32xf16>
  return %0 : tensor<2x32xf16>
}

//===----------------------------------------------------------------------===//
// Operand constraints of the ODS definition
//===----------------------------------------------------------------------===//

// -----

// ODS: operands are ranked tensors (the verifiers then check ranks themselves).
func.func @ods_unranked_query(%q: tensor<*xf32>, %k: tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention' op operand #0 must be ranked tensor of any type values, but got 'tensor<*xf32>'}}
  %0 = dilattn.dilated_attention %q, %k, %k segment_lengths = [16] dilation_rates = [1] : (tensor<*xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> tensor<2x64x4x16xf32>
  return %0 : tensor<2x64x4x16xf32>
}

// -----

//===----------------------------------------------------------------------===//
// dilattn.dilated_attention_with_lse and dilattn.dilated_attention_grad
// (G* rules; the forward rules C1-C16 are shared with dilated_attention)
//===----------------------------------------------------------------------===//

// G2: the statistics are f32 (B, N, H).
func.func @g2_lse_shape(%q: tensor<2x64x4x16xf32>) -> tensor<2x64xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention_with_lse' op lse must be f32 of shape (B, N, H) = (2, 64, 4), got (2, 64) f32}}
  %0, %1 = dilattn.dilated_attention_with_lse %q, %q, %q segment_lengths = [16] dilation_rates = [2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> (tensor<2x64x4x16xf32>, tensor<2x64xf32>)
  return %1 : tensor<2x64xf32>
}

// -----

// G2: the statistics stay f32 for f16 inputs.
func.func @g2_lse_type(%q: tensor<2x64x4x16xf16>) -> tensor<2x64x4xf16> {
  // expected-error @+1 {{'dilattn.dilated_attention_with_lse' op lse must be f32 of shape (B, N, H) = (2, 64, 4), got (2, 64, 4) f16}}
  %0, %1 = dilattn.dilated_attention_with_lse %q, %q, %q segment_lengths = [16] dilation_rates = [2] : (tensor<2x64x4x16xf16>, tensor<2x64x4x16xf16>, tensor<2x64x4x16xf16>) -> (tensor<2x64x4x16xf16>, tensor<2x64x4xf16>)
  return %1 : tensor<2x64x4xf16>
}

// -----

// C17 on the forward form's output.
func.func @c17_with_lse_result(%q: tensor<2x64x4x16xf32>) -> tensor<2x64x4xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention_with_lse' op result type must match the query type 'tensor<2x64x4x16xf32>', got 'tensor<2x64x4x8xf32>'}}
  %0, %1 = dilattn.dilated_attention_with_lse %q, %q, %q segment_lengths = [16] dilation_rates = [2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) -> (tensor<2x64x4x8xf32>, tensor<2x64x4xf32>)
  return %1 : tensor<2x64x4xf32>
}

// -----

// C10 through the backward op: the forward rules come first.
func.func @c10_grad(%q: tensor<2x64x1x16xf32>, %lse: tensor<2x64x1xf32>) -> tensor<2x64x1x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention_grad' op num_heads (1) must be >= the number of patterns (2) in grouped mode}}
  %0, %1, %2 = dilattn.dilated_attention_grad %q, %q, %q, %q, %lse, %q segment_lengths = [16, 32] dilation_rates = [1, 2] : (tensor<2x64x1x16xf32>, tensor<2x64x1x16xf32>, tensor<2x64x1x16xf32>, tensor<2x64x1x16xf32>, tensor<2x64x1xf32>, tensor<2x64x1x16xf32>) -> (tensor<2x64x1x16xf32>, tensor<2x64x1x16xf32>, tensor<2x64x1x16xf32>)
  return %0 : tensor<2x64x1x16xf32>
}

// -----

// G1: the forward output has the query's shape.
func.func @g1_output(%q: tensor<2x64x4x16xf32>, %o: tensor<2x64x4x8xf32>, %lse: tensor<2x64x4xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention_grad' op output must have the shape and element type of query (2, 64, 4, 16) f32, got (2, 64, 4, 8) f32}}
  %0, %1, %2 = dilattn.dilated_attention_grad %q, %q, %q, %o, %lse, %q segment_lengths = [16] dilation_rates = [2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x8xf32>, tensor<2x64x4xf32>, tensor<2x64x4x16xf32>) -> (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>)
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// G1: the output gradient has the query's element type.
func.func @g1_grad_output(%q: tensor<2x64x4x16xf32>, %do: tensor<2x64x4x16xf16>, %lse: tensor<2x64x4xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention_grad' op grad_output must have the shape and element type of query (2, 64, 4, 16) f32, got (2, 64, 4, 16) f16}}
  %0, %1, %2 = dilattn.dilated_attention_grad %q, %q, %q, %q, %lse, %do segment_lengths = [16] dilation_rates = [2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4xf32>, tensor<2x64x4x16xf16>) -> (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>)
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// G2 through the backward op.
func.func @g2_grad_lse(%q: tensor<2x64x4x16xf32>, %lse: tensor<2x4x64xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention_grad' op lse must be f32 of shape (B, N, H) = (2, 64, 4), got (2, 4, 64) f32}}
  %0, %1, %2 = dilattn.dilated_attention_grad %q, %q, %q, %q, %lse, %q segment_lengths = [16] dilation_rates = [2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x4x64xf32>, tensor<2x64x4x16xf32>) -> (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>)
  return %0 : tensor<2x64x4x16xf32>
}

// -----

// G3: each gradient has the type of its input.
func.func @g3_grad_key(%q: tensor<2x64x4x16xf32>, %lse: tensor<2x64x4xf32>) -> tensor<2x64x4x16xf32> {
  // expected-error @+1 {{'dilattn.dilated_attention_grad' op grad_key type must match its input's type 'tensor<2x64x4x16xf32>', got 'tensor<2x64x4x8xf32>'}}
  %0, %1, %2 = dilattn.dilated_attention_grad %q, %q, %q, %q, %lse, %q segment_lengths = [16] dilation_rates = [2] : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4xf32>, tensor<2x64x4x16xf32>) -> (tensor<2x64x4x16xf32>, tensor<2x64x4x8xf32>, tensor<2x64x4x16xf32>)
  return %0 : tensor<2x64x4x16xf32>
}
