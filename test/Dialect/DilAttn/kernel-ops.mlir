// RUN: dilattn-opt %s -split-input-file | dilattn-opt -split-input-file | FileCheck %s --enable-var-scope
// RUN: dilattn-opt %s -split-input-file --mlir-print-op-generic | dilattn-opt -split-input-file | FileCheck %s --enable-var-scope
// RUN: dilattn-opt %s -split-input-file --mlir-print-op-generic | dilattn-opt -split-input-file --mlir-print-op-generic | FileCheck %s --enable-var-scope --check-prefix=GENERIC

// Round trip of the buffer-level (kernel) ops: dilattn.write_dilated_attention,
// dilattn.segment_attention and dilattn.write_states, through the pretty form
// and through the generic form (both print back in the pretty form). The
// third run checks the generic form of dilattn.write_states itself.
// Attributes at their default value (mode = grouped, offset_rule = cyclic)
// are elided when printed.

//===----------------------------------------------------------------------===//
// dilattn.write_dilated_attention
//===----------------------------------------------------------------------===//

// The minimal form: no masks, no item range, defaults elided.
// CHECK-LABEL: func.func @write_minimal(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>, %[[K:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>, %[[V:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>, %[[O:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>)
// CHECK: dilattn.write_dilated_attention ins(%[[Q]], %[[K]], %[[V]]) outs(%[[O]]) segment_lengths = [16, 32] dilation_rates = [1, 2] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>{{$}}
// CHECK-NEXT: return
func.func @write_minimal(%q: memref<2x64x4x16xf32>, %k: memref<2x64x4x16xf32>, %v: memref<2x64x4x16xf32>, %o: memref<2x64x4x16xf32>) {
  dilattn.write_dilated_attention ins(%q, %k, %v) outs(%o)
      segment_lengths = [16, 32] dilation_rates = [1, 2] block_size = 16
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// Defaults written out are elided on printing.
// CHECK-LABEL: func.func @write_explicit_defaults(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>, %[[O:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>)
// CHECK: dilattn.write_dilated_attention ins(%[[Q]], %[[Q]], %[[Q]]) outs(%[[O]]) segment_lengths = [16, 32, 64] dilation_rates = [1, 2, 4] block_size = 64 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>{{$}}
func.func @write_explicit_defaults(%q: memref<2x64x4x16xf32>, %o: memref<2x64x4x16xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o)
      segment_lengths = [16, 32, 64] dilation_rates = [1, 2, 4] mode = grouped offset_rule = cyclic block_size = 64
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// Both masks, an item range and every attribute at a non-default value; the
// attention bias broadcasts over batch and heads (zero strides), the key has
// an explicit strided layout and the value dynamic B and N.
// CHECK-LABEL: func.func @write_all(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>, %[[K:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32, strided<[8192, 128, 32, 1]>>, %[[V:[a-zA-Z0-9_]+]]: memref<?x?x4x16xf32>,
// CHECK-SAME: %[[KPM:[a-zA-Z0-9_]+]]: memref<2x64xf32>, %[[AM:[a-zA-Z0-9_]+]]: memref<2x4x64x64xf32, strided<[0, 0, 64, 1]>>, %[[O:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>, %[[B:[a-zA-Z0-9_]+]]: index, %[[E:[a-zA-Z0-9_]+]]: index)
// CHECK: dilattn.write_dilated_attention ins(%[[Q]], %[[K]], %[[V]]) key_padding_mask(%[[KPM]] : memref<2x64xf32>) attn_mask(%[[AM]] : memref<2x4x64x64xf32, strided<[0, 0, 64, 1]>>) outs(%[[O]]) items(%[[B]], %[[E]]) segment_lengths = [16, 32, 64] dilation_rates = [1, 2, 4] mode = longnet offset_rule = blocked causal scale = 1.250000e-01 block_size = 32 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32, strided<[8192, 128, 32, 1]>>, memref<?x?x4x16xf32>, memref<2x64x4x16xf32>{{$}}
func.func @write_all(%q: memref<2x64x4x16xf32>, %k: memref<2x64x4x16xf32, strided<[8192, 128, 32, 1]>>, %v: memref<?x?x4x16xf32>,
                     %kpm: memref<2x64xf32>, %am: memref<2x4x64x64xf32, strided<[0, 0, 64, 1]>>, %o: memref<2x64x4x16xf32>, %b: index, %e: index) {
  dilattn.write_dilated_attention ins(%q, %k, %v) key_padding_mask(%kpm : memref<2x64xf32>)
      attn_mask(%am : memref<2x4x64x64xf32, strided<[0, 0, 64, 1]>>) outs(%o) items(%b, %e)
      segment_lengths = [16, 32, 64] dilation_rates = [1, 2, 4] mode = longnet offset_rule = blocked causal scale = 0.125 block_size = 32
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32, strided<[8192, 128, 32, 1]>>, memref<?x?x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// Each mask on its own, the item range on its own, and each optional
// attribute on its own.
// CHECK-LABEL: func.func @write_single_parts(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>, %[[KPM:[a-zA-Z0-9_]+]]: memref<2x64xf32>, %[[AM:[a-zA-Z0-9_]+]]: memref<2x4x64x64xf32>, %[[B:[a-zA-Z0-9_]+]]: index, %[[E:[a-zA-Z0-9_]+]]: index)
// CHECK: dilattn.write_dilated_attention ins(%[[Q]], %[[Q]], %[[Q]]) key_padding_mask(%[[KPM]] : memref<2x64xf32>) outs(%[[Q]]) segment_lengths = [16] dilation_rates = [2] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>{{$}}
// CHECK: dilattn.write_dilated_attention ins(%[[Q]], %[[Q]], %[[Q]]) attn_mask(%[[AM]] : memref<2x4x64x64xf32>) outs(%[[Q]]) segment_lengths = [16] dilation_rates = [2] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>{{$}}
// CHECK: dilattn.write_dilated_attention ins(%[[Q]], %[[Q]], %[[Q]]) outs(%[[Q]]) items(%[[B]], %[[E]]) segment_lengths = [16] dilation_rates = [2] block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>{{$}}
// CHECK: dilattn.write_dilated_attention ins(%[[Q]], %[[Q]], %[[Q]]) outs(%[[Q]]) segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>{{$}}
// CHECK: dilattn.write_dilated_attention ins(%[[Q]], %[[Q]], %[[Q]]) outs(%[[Q]]) segment_lengths = [16] dilation_rates = [2] offset_rule = blocked block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>{{$}}
// CHECK: dilattn.write_dilated_attention ins(%[[Q]], %[[Q]], %[[Q]]) outs(%[[Q]]) segment_lengths = [16] dilation_rates = [2] causal block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>{{$}}
// CHECK: dilattn.write_dilated_attention ins(%[[Q]], %[[Q]], %[[Q]]) outs(%[[Q]]) segment_lengths = [16] dilation_rates = [2] scale = -2.500000e-01 block_size = 16 : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>{{$}}
// CHECK-NEXT: return
func.func @write_single_parts(%q: memref<2x64x4x16xf32>, %kpm: memref<2x64xf32>, %am: memref<2x4x64x64xf32>, %b: index, %e: index) {
  dilattn.write_dilated_attention ins(%q, %q, %q) key_padding_mask(%kpm : memref<2x64xf32>) outs(%q)
      segment_lengths = [16] dilation_rates = [2] block_size = 16
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  dilattn.write_dilated_attention ins(%q, %q, %q) attn_mask(%am : memref<2x4x64x64xf32>) outs(%q)
      segment_lengths = [16] dilation_rates = [2] block_size = 16
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q) items(%b, %e)
      segment_lengths = [16] dilation_rates = [2] block_size = 16
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  // longnet allows fewer heads than patterns; here H = 4 >= k anyway.
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q)
      segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet block_size = 16
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q)
      segment_lengths = [16] dilation_rates = [2] offset_rule = blocked block_size = 16
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q)
      segment_lengths = [16] dilation_rates = [2] causal block_size = 16
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q)
      segment_lengths = [16] dilation_rates = [2] scale = -0.25 block_size = 16
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// Dynamic B and N everywhere, f16 inputs with f32 biases, a longnet call with
// fewer heads than patterns.
// CHECK-LABEL: func.func @write_dynamic_f16(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<?x?x2x64xf16>, %[[KPM:[a-zA-Z0-9_]+]]: memref<?x?xf32>, %[[AM:[a-zA-Z0-9_]+]]: memref<?x2x?x?xf32>, %[[O:[a-zA-Z0-9_]+]]: memref<?x?x2x64xf16>)
// CHECK: dilattn.write_dilated_attention ins(%[[Q]], %[[Q]], %[[Q]]) key_padding_mask(%[[KPM]] : memref<?x?xf32>) attn_mask(%[[AM]] : memref<?x2x?x?xf32>) outs(%[[O]]) segment_lengths = [512, 1024, 2048] dilation_rates = [1, 2, 4] mode = longnet block_size = 128 : memref<?x?x2x64xf16>, memref<?x?x2x64xf16>, memref<?x?x2x64xf16>, memref<?x?x2x64xf16>{{$}}
func.func @write_dynamic_f16(%q: memref<?x?x2x64xf16>, %kpm: memref<?x?xf32>, %am: memref<?x2x?x?xf32>, %o: memref<?x?x2x64xf16>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) key_padding_mask(%kpm : memref<?x?xf32>) attn_mask(%am : memref<?x2x?x?xf32>) outs(%o)
      segment_lengths = [512, 1024, 2048] dilation_rates = [1, 2, 4] mode = longnet block_size = 128
      : memref<?x?x2x64xf16>, memref<?x?x2x64xf16>, memref<?x?x2x64xf16>, memref<?x?x2x64xf16>
  return
}

// -----

// The generic form parses too (and prints back in the pretty form).
// CHECK-LABEL: func.func @write_generic(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<1x32x2x8xf32>, %[[KPM:[a-zA-Z0-9_]+]]: memref<1x32xf32>, %[[B:[a-zA-Z0-9_]+]]: index, %[[E:[a-zA-Z0-9_]+]]: index)
// CHECK: dilattn.write_dilated_attention ins(%[[Q]], %[[Q]], %[[Q]]) key_padding_mask(%[[KPM]] : memref<1x32xf32>) outs(%[[Q]]) items(%[[B]], %[[E]]) segment_lengths = [8, 16] dilation_rates = [1, 2] causal block_size = 8 : memref<1x32x2x8xf32>, memref<1x32x2x8xf32>, memref<1x32x2x8xf32>, memref<1x32x2x8xf32>{{$}}
func.func @write_generic(%q: memref<1x32x2x8xf32>, %kpm: memref<1x32xf32>, %b: index, %e: index) {
  "dilattn.write_dilated_attention"(%q, %q, %q, %kpm, %q, %b, %e)
      <{block_size = 8 : i64, causal, dilation_rates = array<i64: 1, 2>, segment_lengths = array<i64: 8, 16>,
        operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 0, 1, 1>}>
      : (memref<1x32x2x8xf32>, memref<1x32x2x8xf32>, memref<1x32x2x8xf32>, memref<1x32xf32>, memref<1x32x2x8xf32>, index, index) -> ()
  return
}

// -----

//===----------------------------------------------------------------------===//
// dilattn.segment_attention
//===----------------------------------------------------------------------===//

// No biases, not causal.
// CHECK-LABEL: func.func @segment_minimal(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<8x64xf32>, %[[K:[a-zA-Z0-9_]+]]: memref<16x64xf32>, %[[V:[a-zA-Z0-9_]+]]: memref<16x64xf32>, %[[M:[a-zA-Z0-9_]+]]: memref<8xf32>, %[[S:[a-zA-Z0-9_]+]]: memref<8xf32>, %[[A:[a-zA-Z0-9_]+]]: memref<8x64xf32>)
// CHECK: dilattn.segment_attention query(%[[Q]]) key(%[[K]]) value(%[[V]]) state(%[[M]], %[[S]], %[[A]]) scale = 1.250000e-01 : memref<8x64xf32>, memref<16x64xf32>, memref<16x64xf32>, memref<8xf32>, memref<8xf32>, memref<8x64xf32>{{$}}
// CHECK-NEXT: return
func.func @segment_minimal(%q: memref<8x64xf32>, %k: memref<16x64xf32>, %v: memref<16x64xf32>, %m: memref<8xf32>, %s: memref<8xf32>, %a: memref<8x64xf32>) {
  dilattn.segment_attention query(%q) key(%k) value(%v) state(%m, %s, %a) scale = 0.125
      : memref<8x64xf32>, memref<16x64xf32>, memref<16x64xf32>, memref<8xf32>, memref<8xf32>, memref<8x64xf32>
  return
}

// -----

// The strided views segment tiling produces, with key_bias only, attn_bias
// only, and causal only.
// CHECK-LABEL: func.func @segment_single_parts(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<?x64xf32, strided<[?, 1], offset: ?>>, %[[KB:[a-zA-Z0-9_]+]]: memref<?xf32, strided<[?], offset: ?>>, %[[AB:[a-zA-Z0-9_]+]]: memref<?x?xf32, strided<[?, ?], offset: ?>>,
// CHECK-SAME: %[[M:[a-zA-Z0-9_]+]]: memref<?xf32, strided<[?], offset: ?>>, %[[A:[a-zA-Z0-9_]+]]: memref<?x64xf32, strided<[?, 1], offset: ?>>, %[[T:[a-zA-Z0-9_]+]]: index)
// CHECK: dilattn.segment_attention query(%[[Q]]) key(%[[Q]]) value(%[[Q]]) key_bias(%[[KB]] : memref<?xf32, strided<[?], offset: ?>>) state(%[[M]], %[[M]], %[[A]]) scale = 1.250000e-01 : memref<?x64xf32, strided<[?, 1], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>, memref<?xf32, strided<[?], offset: ?>>, memref<?xf32, strided<[?], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>{{$}}
// CHECK: dilattn.segment_attention query(%[[Q]]) key(%[[Q]]) value(%[[Q]]) attn_bias(%[[AB]] : memref<?x?xf32, strided<[?, ?], offset: ?>>) state(%[[M]], %[[M]], %[[A]]) scale = 2.500000e-01 : memref<?x64xf32, strided<[?, 1], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>, memref<?xf32, strided<[?], offset: ?>>, memref<?xf32, strided<[?], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>{{$}}
// CHECK: dilattn.segment_attention query(%[[Q]]) key(%[[Q]]) value(%[[Q]]) state(%[[M]], %[[M]], %[[A]]) causal(%[[T]]) scale = -1.000000e+00 : memref<?x64xf32, strided<[?, 1], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>, memref<?xf32, strided<[?], offset: ?>>, memref<?xf32, strided<[?], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>{{$}}
// CHECK-NEXT: return
func.func @segment_single_parts(%q: memref<?x64xf32, strided<[?, 1], offset: ?>>, %kb: memref<?xf32, strided<[?], offset: ?>>, %ab: memref<?x?xf32, strided<[?, ?], offset: ?>>,
                                %m: memref<?xf32, strided<[?], offset: ?>>, %a: memref<?x64xf32, strided<[?, 1], offset: ?>>, %t: index) {
  dilattn.segment_attention query(%q) key(%q) value(%q) key_bias(%kb : memref<?xf32, strided<[?], offset: ?>>) state(%m, %m, %a) scale = 0.125
      : memref<?x64xf32, strided<[?, 1], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>,
        memref<?xf32, strided<[?], offset: ?>>, memref<?xf32, strided<[?], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>
  dilattn.segment_attention query(%q) key(%q) value(%q) attn_bias(%ab : memref<?x?xf32, strided<[?, ?], offset: ?>>) state(%m, %m, %a) scale = 0.25
      : memref<?x64xf32, strided<[?, 1], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>,
        memref<?xf32, strided<[?], offset: ?>>, memref<?xf32, strided<[?], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>
  dilattn.segment_attention query(%q) key(%q) value(%q) state(%m, %m, %a) causal(%t) scale = -1.0
      : memref<?x64xf32, strided<[?, 1], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>,
        memref<?xf32, strided<[?], offset: ?>>, memref<?xf32, strided<[?], offset: ?>>, memref<?x64xf32, strided<[?, 1], offset: ?>>
  return
}

// -----

// Both biases and causal together; f16 rows with f32 states.
// CHECK-LABEL: func.func @segment_all(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<?x20xf16>, %[[K:[a-zA-Z0-9_]+]]: memref<?x20xf16, strided<[40, 1]>>, %[[V:[a-zA-Z0-9_]+]]: memref<?x20xf16>,
// CHECK-SAME: %[[KB:[a-zA-Z0-9_]+]]: memref<?xf32, strided<[2]>>, %[[AB:[a-zA-Z0-9_]+]]: memref<?x?xf32>, %[[M:[a-zA-Z0-9_]+]]: memref<?xf32>, %[[S:[a-zA-Z0-9_]+]]: memref<?xf32>, %[[A:[a-zA-Z0-9_]+]]: memref<?x20xf32>, %[[T:[a-zA-Z0-9_]+]]: index)
// CHECK: dilattn.segment_attention query(%[[Q]]) key(%[[K]]) value(%[[V]]) key_bias(%[[KB]] : memref<?xf32, strided<[2]>>) attn_bias(%[[AB]] : memref<?x?xf32>) state(%[[M]], %[[S]], %[[A]]) causal(%[[T]]) scale = 5.000000e-01 : memref<?x20xf16>, memref<?x20xf16, strided<[40, 1]>>, memref<?x20xf16>, memref<?xf32>, memref<?xf32>, memref<?x20xf32>{{$}}
func.func @segment_all(%q: memref<?x20xf16>, %k: memref<?x20xf16, strided<[40, 1]>>, %v: memref<?x20xf16>,
                       %kb: memref<?xf32, strided<[2]>>, %ab: memref<?x?xf32>, %m: memref<?xf32>, %s: memref<?xf32>, %a: memref<?x20xf32>, %t: index) {
  dilattn.segment_attention query(%q) key(%k) value(%v) key_bias(%kb : memref<?xf32, strided<[2]>>) attn_bias(%ab : memref<?x?xf32>)
      state(%m, %s, %a) causal(%t) scale = 0.5
      : memref<?x20xf16>, memref<?x20xf16, strided<[40, 1]>>, memref<?x20xf16>, memref<?xf32>, memref<?xf32>, memref<?x20xf32>
  return
}

// -----

// The generic form of a causal call with a key bias.
// CHECK-LABEL: func.func @segment_generic(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<4x32xf32>, %[[KB:[a-zA-Z0-9_]+]]: memref<4xf32>, %[[M:[a-zA-Z0-9_]+]]: memref<4xf32>, %[[T:[a-zA-Z0-9_]+]]: index)
// CHECK: dilattn.segment_attention query(%[[Q]]) key(%[[Q]]) value(%[[Q]]) key_bias(%[[KB]] : memref<4xf32>) state(%[[M]], %[[M]], %[[Q]]) causal(%[[T]]) scale = 2.000000e+00 : memref<4x32xf32>, memref<4x32xf32>, memref<4x32xf32>, memref<4xf32>, memref<4xf32>, memref<4x32xf32>{{$}}
func.func @segment_generic(%q: memref<4x32xf32>, %kb: memref<4xf32>, %m: memref<4xf32>, %t: index) {
  "dilattn.segment_attention"(%q, %q, %q, %kb, %m, %m, %q, %t)
      <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 1, 1, 1, 1>, scale = 2.0 : f64}>
      : (memref<4x32xf32>, memref<4x32xf32>, memref<4x32xf32>, memref<4xf32>, memref<4xf32>, memref<4xf32>, memref<4x32xf32>, index) -> ()
  return
}

// -----

//===----------------------------------------------------------------------===//
// dilattn.write_states
//===----------------------------------------------------------------------===//

// One state (the grouped and the fused forms), strided views.
// CHECK-LABEL: func.func @write_states_one(
// CHECK-SAME: %[[M:[a-zA-Z0-9_]+]]: memref<?xf32, strided<[1]>>, %[[S:[a-zA-Z0-9_]+]]: memref<?xf32, strided<[1]>>, %[[A:[a-zA-Z0-9_]+]]: memref<?x64xf32, strided<[64, 1]>>, %[[O:[a-zA-Z0-9_]+]]: memref<?x64xf32, strided<[512, 1], offset: ?>>)
// CHECK: dilattn.write_states states(%[[M]] : memref<?xf32, strided<[1]>>) sums(%[[S]] : memref<?xf32, strided<[1]>>) accs(%[[A]] : memref<?x64xf32, strided<[64, 1]>>) outs(%[[O]] : memref<?x64xf32, strided<[512, 1], offset: ?>>) output_scale = 5.000000e-01{{$}}
// CHECK-NEXT: return
// GENERIC-LABEL: sym_name = "write_states_one"
// GENERIC: ^bb0(%[[M:[a-zA-Z0-9_]+]]: memref<?xf32, strided<[1]>>, %[[S:[a-zA-Z0-9_]+]]: memref<?xf32, strided<[1]>>, %[[A:[a-zA-Z0-9_]+]]: memref<?x64xf32, strided<[64, 1]>>, %[[O:[a-zA-Z0-9_]+]]: memref<?x64xf32, strided<[512, 1], offset: ?>>):
// GENERIC-NEXT: "dilattn.write_states"(%[[M]], %[[S]], %[[A]], %[[O]]) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>, output_scale = 5.000000e-01 : f64}> : (memref<?xf32, strided<[1]>>, memref<?xf32, strided<[1]>>, memref<?x64xf32, strided<[64, 1]>>, memref<?x64xf32, strided<[512, 1], offset: ?>>) -> (){{$}}
func.func @write_states_one(%m: memref<?xf32, strided<[1]>>, %s: memref<?xf32, strided<[1]>>, %a: memref<?x64xf32, strided<[64, 1]>>,
                            %o: memref<?x64xf32, strided<[512, 1], offset: ?>>) {
  dilattn.write_states states(%m : memref<?xf32, strided<[1]>>) sums(%s : memref<?xf32, strided<[1]>>)
      accs(%a : memref<?x64xf32, strided<[64, 1]>>) outs(%o : memref<?x64xf32, strided<[512, 1], offset: ?>>) output_scale = 0.5
  return
}

// -----

// Three states (longnet before fusion), in order, each list with its own
// types (one acc with dynamic rows).
// CHECK-LABEL: func.func @write_states_three(
// CHECK-SAME: %[[M0:[a-zA-Z0-9_]+]]: memref<128xf32>, %[[M1:[a-zA-Z0-9_]+]]: memref<128xf32>, %[[M2:[a-zA-Z0-9_]+]]: memref<128xf32>,
// CHECK-SAME: %[[S0:[a-zA-Z0-9_]+]]: memref<128xf32>, %[[S1:[a-zA-Z0-9_]+]]: memref<128xf32>, %[[S2:[a-zA-Z0-9_]+]]: memref<128xf32>,
// CHECK-SAME: %[[A0:[a-zA-Z0-9_]+]]: memref<128x64xf32>, %[[A1:[a-zA-Z0-9_]+]]: memref<128x64xf32>, %[[A2:[a-zA-Z0-9_]+]]: memref<?x64xf32>, %[[O:[a-zA-Z0-9_]+]]: memref<128x64xf32>)
// CHECK: dilattn.write_states states(%[[M0]], %[[M1]], %[[M2]] : memref<128xf32>, memref<128xf32>, memref<128xf32>) sums(%[[S0]], %[[S1]], %[[S2]] : memref<128xf32>, memref<128xf32>, memref<128xf32>) accs(%[[A0]], %[[A1]], %[[A2]] : memref<128x64xf32>, memref<128x64xf32>, memref<?x64xf32>) outs(%[[O]] : memref<128x64xf32>) output_scale = 1.000000e+00{{$}}
// CHECK-NEXT: return
// GENERIC-LABEL: sym_name = "write_states_three"
// GENERIC: ^bb0(%[[M0:[a-zA-Z0-9_]+]]: memref<128xf32>, %[[M1:[a-zA-Z0-9_]+]]: memref<128xf32>, %[[M2:[a-zA-Z0-9_]+]]: memref<128xf32>, %[[S0:[a-zA-Z0-9_]+]]: memref<128xf32>, %[[S1:[a-zA-Z0-9_]+]]: memref<128xf32>, %[[S2:[a-zA-Z0-9_]+]]: memref<128xf32>, %[[A0:[a-zA-Z0-9_]+]]: memref<128x64xf32>, %[[A1:[a-zA-Z0-9_]+]]: memref<128x64xf32>, %[[A2:[a-zA-Z0-9_]+]]: memref<?x64xf32>, %[[O:[a-zA-Z0-9_]+]]: memref<128x64xf32>):
// GENERIC-NEXT: "dilattn.write_states"(%[[M0]], %[[M1]], %[[M2]], %[[S0]], %[[S1]], %[[S2]], %[[A0]], %[[A1]], %[[A2]], %[[O]]) <{operandSegmentSizes = array<i32: 3, 3, 3, 1, 0>, output_scale = 1.000000e+00 : f64}> : (memref<128xf32>, memref<128xf32>, memref<128xf32>, memref<128xf32>, memref<128xf32>, memref<128xf32>, memref<128x64xf32>, memref<128x64xf32>, memref<?x64xf32>, memref<128x64xf32>) -> (){{$}}
func.func @write_states_three(%m0: memref<128xf32>, %m1: memref<128xf32>, %m2: memref<128xf32>,
                              %s0: memref<128xf32>, %s1: memref<128xf32>, %s2: memref<128xf32>,
                              %a0: memref<128x64xf32>, %a1: memref<128x64xf32>, %a2: memref<?x64xf32>, %o: memref<128x64xf32>) {
  dilattn.write_states
      states(%m0, %m1, %m2 : memref<128xf32>, memref<128xf32>, memref<128xf32>)
      sums(%s0, %s1, %s2 : memref<128xf32>, memref<128xf32>, memref<128xf32>)
      accs(%a0, %a1, %a2 : memref<128x64xf32>, memref<128x64xf32>, memref<?x64xf32>)
      outs(%o : memref<128x64xf32>)
      output_scale = 1.0
  return
}

// -----

// A discardable attribute prints after output_scale and parses back.
// CHECK-LABEL: func.func @write_states_attr_dict(
// CHECK-SAME: %[[M:[a-zA-Z0-9_]+]]: memref<8xf32>, %[[A:[a-zA-Z0-9_]+]]: memref<8x16xf32>)
// CHECK: dilattn.write_states states(%[[M]] : memref<8xf32>) sums(%[[M]] : memref<8xf32>) accs(%[[A]] : memref<8x16xf32>) outs(%[[A]] : memref<8x16xf32>) output_scale = -2.500000e-01 {tag = "x"}{{$}}
// GENERIC-LABEL: sym_name = "write_states_attr_dict"
// GENERIC: "dilattn.write_states"(%{{.+}}) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0>, output_scale = -2.500000e-01 : f64}> {tag = "x"} :
func.func @write_states_attr_dict(%m: memref<8xf32>, %a: memref<8x16xf32>) {
  dilattn.write_states states(%m : memref<8xf32>) sums(%m : memref<8xf32>) accs(%a : memref<8x16xf32>)
      outs(%a : memref<8x16xf32>) output_scale = -0.25 {tag = "x"}
  return
}

// -----

// The generic form of three states parses too (and prints back in the pretty
// form).
// CHECK-LABEL: func.func @write_states_generic(
// CHECK-SAME: %[[M:[a-zA-Z0-9_]+]]: memref<4xf32>, %[[S:[a-zA-Z0-9_]+]]: memref<4xf32, strided<[2]>>, %[[A:[a-zA-Z0-9_]+]]: memref<4x8xf32>, %[[O:[a-zA-Z0-9_]+]]: memref<4x8xf32, strided<[?, 1], offset: ?>>)
// CHECK: dilattn.write_states states(%[[M]], %[[M]], %[[M]] : memref<4xf32>, memref<4xf32>, memref<4xf32>) sums(%[[S]], %[[S]], %[[S]] : memref<4xf32, strided<[2]>>, memref<4xf32, strided<[2]>>, memref<4xf32, strided<[2]>>) accs(%[[A]], %[[A]], %[[A]] : memref<4x8xf32>, memref<4x8xf32>, memref<4x8xf32>) outs(%[[O]] : memref<4x8xf32, strided<[?, 1], offset: ?>>) output_scale = 2.000000e+00{{$}}
// GENERIC-LABEL: sym_name = "write_states_generic"
// GENERIC: "dilattn.write_states"({{.+}}) <{operandSegmentSizes = array<i32: 3, 3, 3, 1, 0>, output_scale = 2.000000e+00 : f64}> :
func.func @write_states_generic(%m: memref<4xf32>, %s: memref<4xf32, strided<[2]>>, %a: memref<4x8xf32>, %o: memref<4x8xf32, strided<[?, 1], offset: ?>>) {
  "dilattn.write_states"(%m, %m, %m, %s, %s, %s, %a, %a, %a, %o)
      <{operandSegmentSizes = array<i32: 3, 3, 3, 1, 0>, output_scale = 2.0 : f64}>
      : (memref<4xf32>, memref<4xf32>, memref<4xf32>, memref<4xf32, strided<[2]>>, memref<4xf32, strided<[2]>>, memref<4xf32, strided<[2]>>,
         memref<4x8xf32>, memref<4x8xf32>, memref<4x8xf32>, memref<4x8xf32, strided<[?, 1], offset: ?>>) -> ()
  return
}

// -----

//===----------------------------------------------------------------------===//
// The backward kernel ops (issue 18)
//===----------------------------------------------------------------------===//

// The forward kernel writing its statistics.
// CHECK-LABEL: func.func @write_with_lse(
// CHECK: dilattn.write_dilated_attention ins(%{{.+}}, %{{.+}}, %{{.+}}) outs(%{{.+}}) lse(%{{.+}} : memref<2x64x4xf32>) segment_lengths = [16] dilation_rates = [2] block_size = 16 :
func.func @write_with_lse(%q: memref<2x64x4x16xf32>, %lse: memref<2x64x4xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q) lse(%lse : memref<2x64x4xf32>)
      segment_lengths = [16] dilation_rates = [2] block_size = 16
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// CHECK-LABEL: func.func @write_grad(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>, %[[L:[a-zA-Z0-9_]+]]: memref<2x64x4xf32>, %[[B:[a-zA-Z0-9_]+]]: memref<2x64xf32>, %[[I:[a-zA-Z0-9_]+]]: index)
// CHECK: dilattn.write_dilated_attention_grad ins(%[[Q]], %[[Q]], %[[Q]], %[[Q]], %[[L]], %[[Q]]) key_padding_mask(%[[B]] : memref<2x64xf32>) outs(%[[Q]], %[[Q]], %[[Q]]) items(%[[I]], %[[I]]) segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet causal : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>{{$}}
func.func @write_grad(%q: memref<2x64x4x16xf32>, %lse: memref<2x64x4xf32>, %b: memref<2x64xf32>, %i: index) {
  dilattn.write_dilated_attention_grad ins(%q, %q, %q, %q, %lse, %q)
      key_padding_mask(%b : memref<2x64xf32>) outs(%q, %q, %q) items(%i, %i)
      segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet causal
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// CHECK-LABEL: func.func @segment_grad(
// CHECK: dilattn.segment_attention_grad query(%{{.+}}) key(%{{.+}}) value(%{{.+}}) output(%{{.+}}) grad_output(%{{.+}}) lse(%{{.+}}) grads(%{{.+}}, %{{.+}}, %{{.+}}) causal(%{{.+}}) scale = 1.250000e-01 output_scale = 5.000000e-01 :
func.func @segment_grad(%r: memref<?x8xf32>, %lse: memref<?xf32>, %s: index) {
  dilattn.segment_attention_grad query(%r) key(%r) value(%r) output(%r)
      grad_output(%r) lse(%lse) grads(%r, %r, %r) causal(%s)
      scale = 0.125 output_scale = 0.5
      : memref<?x8xf32>, memref<?x8xf32>, memref<?x8xf32>, memref<?x8xf32>, memref<?x8xf32>, memref<?xf32>, memref<?x8xf32>, memref<?x8xf32>, memref<?x8xf32>
  return
}

// -----

// CHECK-LABEL: func.func @write_states_lse(
// CHECK: dilattn.write_states states(%{{.+}} : memref<4xf32>) sums(%{{.+}} : memref<4xf32>) accs(%{{.+}} : memref<4x8xf32>) outs(%{{.+}} : memref<4x8xf32>) lse(%{{.+}} : memref<4xf32>) output_scale = 1.000000e+00
func.func @write_states_lse(%m: memref<4xf32>, %a: memref<4x8xf32>) {
  dilattn.write_states states(%m : memref<4xf32>) sums(%m : memref<4xf32>)
      accs(%a : memref<4x8xf32>) outs(%a : memref<4x8xf32>) lse(%m : memref<4xf32>)
      output_scale = 1.0
  return
}
