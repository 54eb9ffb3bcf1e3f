// RUN: dilattn-opt %s -split-input-file -verify-diagnostics

// One case per diagnostic of the verifiers of the buffer-level (kernel) ops
// in lib/Dialect/DilAttn/IR/DilAttnOps.cpp: WriteDilatedAttentionOp::verify
// (the shared rules C1-C16 of docs/Constraints.md, then the buffer-form
// rules), SegmentAttentionOp::verify and WriteStatesOp::verify. Cases that
// the pretty form cannot express (no states at all, or only one of
// item_begin and item_end) use the generic form.

//===----------------------------------------------------------------------===//
// dilattn.write_dilated_attention: shared rules
//===----------------------------------------------------------------------===//

// C1: segment_lengths and dilation_rates must not be empty.
func.func @c1_empty(%q: memref<2x64x4x16xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op segment_lengths and dilation_rates must not be empty (got 0 and 0 entries)}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q) segment_lengths = [] dilation_rates = [] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// C2: segment_lengths and dilation_rates must have the same length.
func.func @c2_unequal_lengths(%q: memref<2x64x4x16xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op segment_lengths and dilation_rates must have the same length (3 vs 2)}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q) segment_lengths = [16, 32, 64] dilation_rates = [1, 2] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// C3: every segment length is positive.
func.func @c3_segment_zero(%q: memref<2x64x4x16xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op segment_lengths[1] must be positive, got 0}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q) segment_lengths = [16, 0] dilation_rates = [1, 2] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// C4: every dilation rate is positive.
func.func @c4_dilation_negative(%q: memref<2x64x4x16xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op dilation_rates[0] must be positive, got -2}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q) segment_lengths = [16, 32] dilation_rates = [-2, 2] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// C5: a given scale is finite (NaN).
func.func @c5_scale_nan(%q: memref<2x64x4x16xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op scale must be finite, got nan}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q) segment_lengths = [16] dilation_rates = [1] scale = 0x7FF8000000000000 block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// C6: the rank is already enforced by the operand type constraint (the
// verifier's own rank rule cannot be reached in buffer form).
func.func @c6_query_rank(%q: memref<2x64x64xf32>, %k: memref<2x64x4x16xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op operand #0 must be strided memref of any type values of rank 4, but got 'memref<2x64x64xf32>'}}
  dilattn.write_dilated_attention ins(%q, %k, %k) outs(%k) segment_lengths = [16] dilation_rates = [1] block_size = 16 : memref<2x64x64xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// C7: key and value have the shape of query.
func.func @c7_value_shape(%q: memref<2x64x4x16xf32>, %v: memref<2x64x4x8xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op value must have the shape of query (2, 64, 4, 16), got (2, 64, 4, 8)}}
  dilattn.write_dilated_attention ins(%q, %q, %v) outs(%q) segment_lengths = [16] dilation_rates = [1] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x8xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// C8: the query element type is supported.
func.func @c8_query_f64(%q: memref<2x64x4x16xf64>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op query element type must be one of f32, f16, bf16, got f64}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q) segment_lengths = [16] dilation_rates = [1] block_size = 16 : memref<2x64x4x16xf64>, memref<2x64x4x16xf64>, memref<2x64x4x16xf64>, memref<2x64x4x16xf64>
  return
}

// -----

// C8: key and value have the query's element type.
func.func @c8_key_f16(%q: memref<2x64x4x16xf32>, %k: memref<2x64x4x16xf16>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op key element type must equal query's (f32), got f16}}
  dilattn.write_dilated_attention ins(%q, %k, %q) outs(%q) segment_lengths = [16] dilation_rates = [1] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf16>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// C9: the head dim is positive.
func.func @c9_head_dim_zero(%q: memref<2x64x4x0xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op the head dim D must be positive, got 0}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q) segment_lengths = [16] dilation_rates = [1] block_size = 16 : memref<2x64x4x0xf32>, memref<2x64x4x0xf32>, memref<2x64x4x0xf32>, memref<2x64x4x0xf32>
  return
}

// -----

// C9: the number of heads is positive.
func.func @c9_heads_zero(%q: memref<2x64x0x16xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op the number of heads H must be positive, got 0}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q) segment_lengths = [16] dilation_rates = [1] mode = longnet block_size = 16 : memref<2x64x0x16xf32>, memref<2x64x0x16xf32>, memref<2x64x0x16xf32>, memref<2x64x0x16xf32>
  return
}

// -----

// C10: grouped mode needs a head per pattern.
func.func @c10_grouped_heads(%q: memref<2x64x2x16xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op num_heads (2) must be >= the number of patterns (3) in grouped mode}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q) segment_lengths = [16, 32, 64] dilation_rates = [1, 2, 4] block_size = 16 : memref<2x64x2x16xf32>, memref<2x64x2x16xf32>, memref<2x64x2x16xf32>, memref<2x64x2x16xf32>
  return
}

// -----

// C11: the query's element count fits 64-bit indexing.
func.func @c11_overflow(%q: memref<4294967296x4294967296x4x16xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op query of shape (4294967296, 4294967296, 4, 16) has more elements than 64-bit indexing can address}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q) segment_lengths = [16] dilation_rates = [1] block_size = 16 : memref<4294967296x4294967296x4x16xf32>, memref<4294967296x4294967296x4x16xf32>, memref<4294967296x4294967296x4x16xf32>, memref<4294967296x4294967296x4x16xf32>
  return
}

// -----

// C12: key_padding_mask is boolean or a float bias.
func.func @c12_key_padding_i32(%q: memref<2x64x4x16xf32>, %m: memref<2x64xi32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op key_padding_mask must be boolean (i1) or a float bias, got i32}}
  dilattn.write_dilated_attention ins(%q, %q, %q) key_padding_mask(%m : memref<2x64xi32>) outs(%q) segment_lengths = [16] dilation_rates = [1] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// C13: key_padding_mask has shape (B, N).
func.func @c13_key_padding_shape(%q: memref<2x64x4x16xf32>, %m: memref<2x63xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op key_padding_mask must have shape (B, N) = (2, 64), got (2, 63)}}
  dilattn.write_dilated_attention ins(%q, %q, %q) key_padding_mask(%m : memref<2x63xf32>) outs(%q) segment_lengths = [16] dilation_rates = [1] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// C14: attn_mask is boolean or floating point.
func.func @c14_attn_mask_i8(%q: memref<2x64x4x16xf32>, %m: memref<2x4x64x64xi8>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op attn_mask must be boolean (i1) or floating point, got i8}}
  dilattn.write_dilated_attention ins(%q, %q, %q) attn_mask(%m : memref<2x4x64x64xi8>) outs(%q) segment_lengths = [16] dilation_rates = [1] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// C15: attn_mask has shape (B, H, N, N).
func.func @c15_attn_mask_shape(%q: memref<2x64x4x16xf32>, %m: memref<2x2x64x64xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op attn_mask must have shape (B, H, N, N) = (2, 4, 64, 64), got (2, 2, 64, 64)}}
  dilattn.write_dilated_attention ins(%q, %q, %q) attn_mask(%m : memref<2x2x64x64xf32>) outs(%q) segment_lengths = [16] dilation_rates = [1] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// C16: attn_mask's element count fits 64-bit indexing (N unknown from the
// query, so only the mask overflows).
func.func @c16_attn_mask_overflow(%q: memref<2x?x4x16xf32>, %m: memref<2x4x4294967296x4294967296xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op attn_mask of shape (2, 4, 4294967296, 4294967296) has more elements than 64-bit indexing can address}}
  dilattn.write_dilated_attention ins(%q, %q, %q) attn_mask(%m : memref<2x4x4294967296x4294967296xf32>) outs(%q) segment_lengths = [16] dilation_rates = [1] block_size = 16 : memref<2x?x4x16xf32>, memref<2x?x4x16xf32>, memref<2x?x4x16xf32>, memref<2x?x4x16xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// dilattn.write_dilated_attention: buffer-form rules
//===----------------------------------------------------------------------===//

// Masks are float biases in buffer form (boolean key_padding_mask).
func.func @buffer_key_padding_bool(%q: memref<2x64x4x16xf32>, %m: memref<2x64xi1>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op masks must be float biases in buffer form (run dilattn-normalize-masks first), got 'memref<2x64xi1>'}}
  dilattn.write_dilated_attention ins(%q, %q, %q) key_padding_mask(%m : memref<2x64xi1>) outs(%q) segment_lengths = [16] dilation_rates = [1] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// Masks are float biases in buffer form (boolean attn_mask).
func.func @buffer_attn_mask_bool(%q: memref<2x64x4x16xf32>, %m: memref<2x4x64x64xi1>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op masks must be float biases in buffer form (run dilattn-normalize-masks first), got 'memref<2x4x64x64xi1>'}}
  dilattn.write_dilated_attention ins(%q, %q, %q) attn_mask(%m : memref<2x4x64x64xi1>) outs(%q) segment_lengths = [16] dilation_rates = [1] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// attn_mask is (N, N), (B, N, N) or (B, H, N, N): the operand type constraint
// (rank 2 to 4) enforces it, so a rank-1 mask gets the generic operand message
// (the verifier has no rule of its own for it).
func.func @buffer_attn_mask_rank(%q: memref<2x64x4x16xf32>, %m: memref<64xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op operand #3 must be 2D/3D/4D memref of any type values, but got 'memref<64xf32>'}}
  dilattn.write_dilated_attention ins(%q, %q, %q) attn_mask(%m : memref<64xf32>) outs(%q) segment_lengths = [16] dilation_rates = [1] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// Rows are loaded as vectors: query has a unit stride along the head dim.
func.func @buffer_query_head_dim_stride(%q: memref<2x64x4x16xf32, strided<[8192, 128, 32, 2]>>, %k: memref<2x64x4x16xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op query, key, value and output must have a unit stride along the head dim, got 'memref<2x64x4x16xf32, strided<[8192, 128, 32, 2]>>'}}
  dilattn.write_dilated_attention ins(%q, %k, %k) outs(%k) segment_lengths = [16] dilation_rates = [1] block_size = 16 : memref<2x64x4x16xf32, strided<[8192, 128, 32, 2]>>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// The same rule for key (and value): the first offending operand is named.
func.func @buffer_key_head_dim_stride(%q: memref<2x64x4x16xf32>, %k: memref<2x64x4x16xf32, strided<[8192, 128, 32, 2]>>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op query, key, value and output must have a unit stride along the head dim, got 'memref<2x64x4x16xf32, strided<[8192, 128, 32, 2]>>'}}
  dilattn.write_dilated_attention ins(%q, %k, %k) outs(%q) segment_lengths = [16] dilation_rates = [1] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32, strided<[8192, 128, 32, 2]>>, memref<2x64x4x16xf32, strided<[8192, 128, 32, 2]>>, memref<2x64x4x16xf32>
  return
}

// -----

// The same rule for the output: a dynamic head-dim stride is not known to be
// 1, so it is refused too.
func.func @buffer_output_dynamic_head_dim_stride(%q: memref<2x64x4x16xf32>, %o: memref<2x64x4x16xf32, strided<[?, ?, ?, ?], offset: ?>>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op query, key, value and output must have a unit stride along the head dim, got 'memref<2x64x4x16xf32, strided<[?, ?, ?, ?], offset: ?>>'}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o) segment_lengths = [16] dilation_rates = [1] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32, strided<[?, ?, ?, ?], offset: ?>>
  return
}

// -----

// The output has the query's shape.
func.func @buffer_output_shape(%q: memref<2x64x4x16xf32>, %o: memref<2x64x4x8xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op output must have the query's shape and element type 'memref<2x64x4x16xf32>', got 'memref<2x64x4x8xf32>'}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o) segment_lengths = [16] dilation_rates = [1] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x8xf32>
  return
}

// -----

// The output has the query's element type.
func.func @buffer_output_element(%q: memref<2x64x4x16xf16>, %o: memref<2x64x4x16xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op output must have the query's shape and element type 'memref<2x64x4x16xf16>', got 'memref<2x64x4x16xf32>'}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o) segment_lengths = [16] dilation_rates = [1] block_size = 16 : memref<2x64x4x16xf16>, memref<2x64x4x16xf16>, memref<2x64x4x16xf16>, memref<2x64x4x16xf32>
  return
}

// -----

// item_begin and item_end come together (item_begin only; generic form).
func.func @buffer_item_begin_only(%q: memref<2x64x4x16xf32>, %b: index) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op item_begin and item_end must be given together}}
  "dilattn.write_dilated_attention"(%q, %q, %q, %q, %b)
      <{block_size = 16 : i64, dilation_rates = array<i64: 1>, segment_lengths = array<i64: 16>,
        operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 1, 0, 1, 0>}>
      : (memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, index) -> ()
  return
}

// -----

// item_begin and item_end come together (item_end only; generic form).
func.func @buffer_item_end_only(%q: memref<2x64x4x16xf32>, %e: index) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op item_begin and item_end must be given together}}
  "dilattn.write_dilated_attention"(%q, %q, %q, %q, %e)
      <{block_size = 16 : i64, dilation_rates = array<i64: 1>, segment_lengths = array<i64: 16>,
        operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 1, 0, 0, 1>}>
      : (memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, index) -> ()
  return
}

// -----

// block_size is positive (zero).
func.func @buffer_block_size_zero(%q: memref<2x64x4x16xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op block_size must be positive, got 0}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q) segment_lengths = [16] dilation_rates = [1] block_size = 0 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// block_size is positive (negative: read as the signed value written).
func.func @buffer_block_size_negative(%q: memref<2x64x4x16xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op block_size must be positive, got -128}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q) segment_lengths = [16] dilation_rates = [1] block_size = -128 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// dilattn.segment_attention
//===----------------------------------------------------------------------===//

// key has the query's head dim.
func.func @segment_key_head_dim(%q: memref<8x64xf32>, %k: memref<16x32xf32>, %v: memref<16x64xf32>, %m: memref<8xf32>, %a: memref<8x64xf32>) {
  // expected-error @+1 {{'dilattn.segment_attention' op query, key, value and state_acc must have the same head dim, got 'memref<8x64xf32>' and 'memref<16x32xf32>'}}
  dilattn.segment_attention query(%q) key(%k) value(%v) state(%m, %m, %a) scale = 0.125 : memref<8x64xf32>, memref<16x32xf32>, memref<16x64xf32>, memref<8xf32>, memref<8xf32>, memref<8x64xf32>
  return
}

// -----

// value has the query's head dim.
func.func @segment_value_head_dim(%q: memref<8x64xf32>, %k: memref<16x64xf32>, %v: memref<16x48xf32>, %m: memref<8xf32>, %a: memref<8x64xf32>) {
  // expected-error @+1 {{'dilattn.segment_attention' op query, key, value and state_acc must have the same head dim, got 'memref<8x64xf32>' and 'memref<16x48xf32>'}}
  dilattn.segment_attention query(%q) key(%k) value(%v) state(%m, %m, %a) scale = 0.125 : memref<8x64xf32>, memref<16x64xf32>, memref<16x48xf32>, memref<8xf32>, memref<8xf32>, memref<8x64xf32>
  return
}

// -----

// state_acc has the query's head dim (dynamic rows are fine, the head dim is
// not).
func.func @segment_acc_head_dim(%q: memref<?x64xf32>, %k: memref<?x64xf32>, %m: memref<?xf32>, %a: memref<?x16xf32>) {
  // expected-error @+1 {{'dilattn.segment_attention' op query, key, value and state_acc must have the same head dim, got 'memref<?x64xf32>' and 'memref<?x16xf32>'}}
  dilattn.segment_attention query(%q) key(%k) value(%k) state(%m, %m, %a) scale = 0.125 : memref<?x64xf32>, memref<?x64xf32>, memref<?x64xf32>, memref<?xf32>, memref<?xf32>, memref<?x16xf32>
  return
}

// -----

// key and value have the same number of rows.
func.func @segment_key_value_rows(%q: memref<8x64xf32>, %k: memref<16x64xf32>, %v: memref<15x64xf32>, %m: memref<8xf32>, %a: memref<8x64xf32>) {
  // expected-error @+1 {{'dilattn.segment_attention' op key and value must have the same number of rows}}
  dilattn.segment_attention query(%q) key(%k) value(%v) state(%m, %m, %a) scale = 0.125 : memref<8x64xf32>, memref<16x64xf32>, memref<15x64xf32>, memref<8xf32>, memref<8xf32>, memref<8x64xf32>
  return
}

// -----

// States are f32 (state_max).
func.func @segment_max_f16(%q: memref<8x64xf32>, %m: memref<8xf16>, %s: memref<8xf32>, %a: memref<8x64xf32>) {
  // expected-error @+1 {{'dilattn.segment_attention' op states must be f32, got 'memref<8xf16>'}}
  dilattn.segment_attention query(%q) key(%q) value(%q) state(%m, %s, %a) scale = 0.125 : memref<8x64xf32>, memref<8x64xf32>, memref<8x64xf32>, memref<8xf16>, memref<8xf32>, memref<8x64xf32>
  return
}

// -----

// States are f32 (state_acc, even for f16 rows).
func.func @segment_acc_f16(%q: memref<8x64xf16>, %m: memref<8xf32>, %a: memref<8x64xf16>) {
  // expected-error @+1 {{'dilattn.segment_attention' op states must be f32, got 'memref<8x64xf16>'}}
  dilattn.segment_attention query(%q) key(%q) value(%q) state(%m, %m, %a) scale = 0.125 : memref<8x64xf16>, memref<8x64xf16>, memref<8x64xf16>, memref<8xf32>, memref<8xf32>, memref<8x64xf16>
  return
}

// -----

// States have one row per query (state_sum).
func.func @segment_sum_rows(%q: memref<8x64xf32>, %m: memref<8xf32>, %s: memref<4xf32>, %a: memref<8x64xf32>) {
  // expected-error @+1 {{'dilattn.segment_attention' op states must have one row per query}}
  dilattn.segment_attention query(%q) key(%q) value(%q) state(%m, %s, %a) scale = 0.125 : memref<8x64xf32>, memref<8x64xf32>, memref<8x64xf32>, memref<8xf32>, memref<4xf32>, memref<8x64xf32>
  return
}

// -----

// States have one row per query (state_acc).
func.func @segment_acc_rows(%q: memref<8x64xf32>, %m: memref<8xf32>, %a: memref<9x64xf32>) {
  // expected-error @+1 {{'dilattn.segment_attention' op states must have one row per query}}
  dilattn.segment_attention query(%q) key(%q) value(%q) state(%m, %m, %a) scale = 0.125 : memref<8x64xf32>, memref<8x64xf32>, memref<8x64xf32>, memref<8xf32>, memref<8xf32>, memref<9x64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// dilattn.write_states
//===----------------------------------------------------------------------===//

// At least one state (generic form: the pretty form cannot spell an empty
// list).
func.func @write_states_none(%o: memref<8x64xf32>) {
  // expected-error @+1 {{'dilattn.write_states' op expects one or more states, each with a max, a sum and an acc}}
  "dilattn.write_states"(%o) <{operandSegmentSizes = array<i32: 0, 0, 0, 1, 0>, output_scale = 1.0 : f64}> : (memref<8x64xf32>) -> ()
  return
}

// -----

// As many sums and accs as maxes.
func.func @write_states_unequal(%m: memref<8xf32>, %a: memref<8x64xf32>) {
  // expected-error @+1 {{'dilattn.write_states' op expects one or more states, each with a max, a sum and an acc}}
  dilattn.write_states states(%m, %m : memref<8xf32>, memref<8xf32>) sums(%m : memref<8xf32>) accs(%a : memref<8x64xf32>)
      outs(%a : memref<8x64xf32>) output_scale = 1.0
  return
}

// -----

// Every acc has the output's shape (the second of two).
func.func @write_states_acc_shape(%m: memref<8xf32>, %a: memref<8x64xf32>, %b: memref<8x32xf32>) {
  // expected-error @+1 {{'dilattn.write_states' op state accs must have the output's shape}}
  dilattn.write_states states(%m, %m : memref<8xf32>, memref<8xf32>) sums(%m, %m : memref<8xf32>, memref<8xf32>)
      accs(%a, %b : memref<8x64xf32>, memref<8x32xf32>) outs(%a : memref<8x64xf32>) output_scale = 1.0
  return
}

// -----

// States are f32 (a sum).
func.func @write_states_sum_f16(%m: memref<8xf32>, %s: memref<8xf16>, %a: memref<8x64xf32>) {
  // expected-error @+1 {{'dilattn.write_states' op states must be f32, got 'memref<8xf16>'}}
  dilattn.write_states states(%m : memref<8xf32>) sums(%s : memref<8xf16>) accs(%a : memref<8x64xf32>)
      outs(%a : memref<8x64xf32>) output_scale = 1.0
  return
}

// -----

// States are f32 (an acc, even when the output is f16).
func.func @write_states_acc_f16(%m: memref<8xf32>, %a: memref<8x64xf16>) {
  // expected-error @+1 {{'dilattn.write_states' op states must be f32, got 'memref<8x64xf16>'}}
  dilattn.write_states states(%m : memref<8xf32>) sums(%m : memref<8xf32>) accs(%a : memref<8x64xf16>)
      outs(%a : memref<8x64xf16>) output_scale = 1.0
  return
}

// -----

//===----------------------------------------------------------------------===//
// The backward kernel ops (issue 18)
//===----------------------------------------------------------------------===//

// G2 on the forward kernel's statistics.
func.func @write_lse_shape(%q: memref<2x64x4x16xf32>, %lse: memref<2x64x8xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op lse must be f32 of shape (B, N, H) = (2, 64, 4), got (2, 64, 8) f32}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q) lse(%lse : memref<2x64x8xf32>) segment_lengths = [16] dilation_rates = [2] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// G1 on the backward kernel.
func.func @write_grad_output(%q: memref<2x64x4x16xf32>, %o: memref<2x32x4x16xf32>, %lse: memref<2x64x4xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention_grad' op output must have the shape and element type of query (2, 64, 4, 16) f32, got (2, 32, 4, 16) f32}}
  dilattn.write_dilated_attention_grad ins(%q, %q, %q, %o, %lse, %q) outs(%q, %q, %q) segment_lengths = [16] dilation_rates = [2] : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x32x4x16xf32>, memref<2x64x4xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

func.func @write_grad_mask_kind(%q: memref<2x64x4x16xf32>, %lse: memref<2x64x4xf32>, %m: memref<2x64xi1>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention_grad' op masks must be float biases in buffer form (run dilattn-normalize-masks first), got 'memref<2x64xi1>'}}
  dilattn.write_dilated_attention_grad ins(%q, %q, %q, %q, %lse, %q) key_padding_mask(%m : memref<2x64xi1>) outs(%q, %q, %q) segment_lengths = [16] dilation_rates = [2] : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

func.func @write_grad_rows(%q: memref<2x64x4x16xf32>, %lse: memref<2x64x4xf32>, %g: memref<2x64x4x8xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention_grad' op gradients must have the query's shape and element type 'memref<2x64x4x16xf32>', got 'memref<2x64x4x8xf32>'}}
  dilattn.write_dilated_attention_grad ins(%q, %q, %q, %q, %lse, %q) outs(%q, %g, %q) segment_lengths = [16] dilation_rates = [2] : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x8xf32>, memref<2x64x4x16xf32>
  return
}

// -----

func.func @write_grad_stride(%q: memref<2x64x4x16xf32>, %lse: memref<2x64x4xf32>, %g: memref<2x64x4x16xf32, strided<[4096, 64, 16, 2]>>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention_grad' op row operands must have a unit stride along the head dim, got 'memref<2x64x4x16xf32, strided<[4096, 64, 16, 2]>>'}}
  dilattn.write_dilated_attention_grad ins(%q, %q, %q, %q, %lse, %q) outs(%g, %q, %q) segment_lengths = [16] dilation_rates = [2] : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32, strided<[4096, 64, 16, 2]>>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

func.func @write_grad_items(%q: memref<2x64x4x16xf32>, %lse: memref<2x64x4xf32>, %i: index) {
  // expected-error @+1 {{'dilattn.write_dilated_attention_grad' op item_begin and item_end must be given together}}
  "dilattn.write_dilated_attention_grad"(%q, %q, %q, %q, %lse, %q, %q, %q, %q, %i) <{dilation_rates = array<i64: 2>, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0>, segment_lengths = array<i64: 16>}> : (memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, index) -> ()
  return
}

// -----

func.func @segment_grad_rows(%r: memref<?x8xf32>, %w: memref<?x4xf32>, %lse: memref<?xf32>) {
  // expected-error @+1 {{'dilattn.segment_attention_grad' op query-side operands must have the query's rows and every operand the head dim 8, got 'memref<?x4xf32>'}}
  dilattn.segment_attention_grad query(%r) key(%r) value(%w) output(%r) grad_output(%r) lse(%lse) grads(%r, %r, %r) scale = 1.0 output_scale = 1.0 : memref<?x8xf32>, memref<?x8xf32>, memref<?x4xf32>, memref<?x8xf32>, memref<?x8xf32>, memref<?xf32>, memref<?x8xf32>, memref<?x8xf32>, memref<?x8xf32>
  return
}

// -----

func.func @segment_grad_lse(%r: memref<?x8xf32>, %lse: memref<?xf16>) {
  // expected-error @+1 {{'dilattn.segment_attention_grad' op lse must be f32 with one row per query, got 'memref<?xf16>'}}
  dilattn.segment_attention_grad query(%r) key(%r) value(%r) output(%r) grad_output(%r) lse(%lse) grads(%r, %r, %r) scale = 1.0 output_scale = 1.0 : memref<?x8xf32>, memref<?x8xf32>, memref<?x8xf32>, memref<?x8xf32>, memref<?x8xf32>, memref<?xf16>, memref<?x8xf32>, memref<?x8xf32>, memref<?x8xf32>
  return
}

// -----

func.func @write_states_lse(%m: memref<4xf32>, %l: memref<3xf32>, %a: memref<4x8xf32>) {
  // expected-error @+1 {{'dilattn.write_states' op lse must be f32 with one row per output row, got 'memref<3xf32>'}}
  dilattn.write_states states(%m : memref<4xf32>) sums(%m : memref<4xf32>) accs(%a : memref<4x8xf32>) outs(%a : memref<4x8xf32>) lse(%l : memref<3xf32>) output_scale = 1.0
  return
}
