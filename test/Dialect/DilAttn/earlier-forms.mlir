// Passes given dilattn ops of an earlier form than the one they act on leave
// the IR unchanged and say so, naming what to run first (docs/Passes.md, the
// Input line of each pass); functions without dilattn ops draw no warning.
// RUN: rm -rf %t && split-file %s %t
// RUN: dilattn-opt %t/tile.mlir -split-input-file -dilattn-tile-segments -verify-diagnostics | FileCheck %t/tile.mlir
// RUN: dilattn-opt %t/fuse.mlir -split-input-file -dilattn-fuse-patterns -verify-diagnostics | FileCheck %t/fuse.mlir
// RUN: dilattn-opt %t/lower.mlir -split-input-file -dilattn-lower-to-vector -verify-diagnostics | FileCheck %t/lower.mlir
// RUN: dilattn-opt %t/gpu.mlir -split-input-file -dilattn-convert-to-gpu -verify-diagnostics | FileCheck %t/gpu.mlir
// RUN: dilattn-opt %t/outline.mlir -split-input-file -dilattn-outline-parallel-work -verify-diagnostics | FileCheck %t/outline.mlir

//--- tile.mlir
// CHECK-LABEL: func.func @tensor
// CHECK: dilattn.dilated_attention
func.func @tensor(%q: tensor<1x64x2x16xf32>) -> tensor<1x64x2x16xf32> {
  // expected-warning @+1 {{dilattn-tile-segments found no 'dilattn.write_dilated_attention' (buffers) to act on: this 'dilattn.dilated_attention' needs --one-shot-bufferize=bufferize-function-boundaries first (the dilattn pipelines run every step)}}
  %o = dilattn.dilated_attention %q, %q, %q
      segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<1x64x2x16xf32>, tensor<1x64x2x16xf32>, tensor<1x64x2x16xf32>)
        -> tensor<1x64x2x16xf32>
  return %o : tensor<1x64x2x16xf32>
}

// -----

// CHECK-LABEL: func.func @multihead
// CHECK: dilattn.multihead_dilated_attention
func.func @multihead(%x: tensor<1x64x32xf32>, %w: tensor<32x32xf32>)
    -> tensor<1x64x32xf32> {
  // expected-warning @+1 {{this 'dilattn.multihead_dilated_attention' needs -dilattn-decompose-multihead --one-shot-bufferize=bufferize-function-boundaries first}}
  %o = dilattn.multihead_dilated_attention %x, %x, %x
      weights(%w, %w, %w, %w) num_heads = 2
      segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<1x64x32xf32>, tensor<1x64x32xf32>, tensor<1x64x32xf32>,
         tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>,
         tensor<32x32xf32>) -> tensor<1x64x32xf32>
  return %o : tensor<1x64x32xf32>
}

// -----

// No dilattn op: nothing to say.
// CHECK-LABEL: func.func @plain
func.func @plain(%a: f32) -> f32 {
  return %a : f32
}

//--- fuse.mlir
// CHECK-LABEL: func.func @buffers
// CHECK: dilattn.write_dilated_attention
func.func @buffers(%q: memref<1x64x2x16xf32>, %o: memref<1x64x2x16xf32>) {
  // expected-warning @+1 {{dilattn-fuse-patterns found no 'dilattn.segment_attention' or 'dilattn.write_states' to act on: this 'dilattn.write_dilated_attention' needs -dilattn-tile-segments first}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o)
      segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet
      block_size = 16
      : memref<1x64x2x16xf32>, memref<1x64x2x16xf32>, memref<1x64x2x16xf32>,
        memref<1x64x2x16xf32>
  return
}

// -----

// CHECK-LABEL: func.func @tensor
func.func @tensor(%q: tensor<1x64x2x16xf32>) -> tensor<1x64x2x16xf32> {
  // expected-warning @+1 {{needs --one-shot-bufferize=bufferize-function-boundaries -dilattn-tile-segments first}}
  %o = dilattn.dilated_attention %q, %q, %q
      segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet
      : (tensor<1x64x2x16xf32>, tensor<1x64x2x16xf32>, tensor<1x64x2x16xf32>)
        -> tensor<1x64x2x16xf32>
  return %o : tensor<1x64x2x16xf32>
}

//--- lower.mlir
// CHECK-LABEL: func.func @buffers
// CHECK: dilattn.write_dilated_attention
func.func @buffers(%q: memref<1x64x2x16xf32>, %o: memref<1x64x2x16xf32>) {
  // expected-warning @+1 {{dilattn-lower-to-vector found no 'dilattn.segment_attention' or 'dilattn.write_states' to act on: this 'dilattn.write_dilated_attention' needs -dilattn-tile-segments first}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o)
      segment_lengths = [16, 32] dilation_rates = [1, 2] block_size = 16
      : memref<1x64x2x16xf32>, memref<1x64x2x16xf32>, memref<1x64x2x16xf32>,
        memref<1x64x2x16xf32>
  return
}

//--- gpu.mlir
// CHECK-LABEL: func.func @tensor
// CHECK: dilattn.dilated_attention
func.func @tensor(%q: tensor<1x64x2x64xf32>) -> tensor<1x64x2x64xf32> {
  // expected-warning @+1 {{dilattn-convert-to-gpu found no 'dilattn.write_dilated_attention' (buffers) to act on: this 'dilattn.dilated_attention' needs --one-shot-bufferize=bufferize-function-boundaries first}}
  %o = dilattn.dilated_attention %q, %q, %q
      segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<1x64x2x64xf32>, tensor<1x64x2x64xf32>, tensor<1x64x2x64xf32>)
        -> tensor<1x64x2x64xf32>
  return %o : tensor<1x64x2x64xf32>
}

//--- outline.mlir
// CHECK-LABEL: func.func @tensor
// CHECK: dilattn.dilated_attention
func.func @tensor(%q: tensor<1x64x2x16xf32>) -> tensor<1x64x2x16xf32> {
  // expected-warning @+1 {{dilattn-outline-parallel-work found no 'dilattn.write_dilated_attention' (buffers) to act on: this 'dilattn.dilated_attention' needs --one-shot-bufferize=bufferize-function-boundaries first}}
  %o = dilattn.dilated_attention %q, %q, %q
      segment_lengths = [16, 32] dilation_rates = [1, 2]
      : (tensor<1x64x2x16xf32>, tensor<1x64x2x16xf32>, tensor<1x64x2x16xf32>)
        -> tensor<1x64x2x16xf32>
  return %o : tensor<1x64x2x16xf32>
}

// -----

// Kernels already split into item ranges (op mode) are not work for this
// pass and not an earlier form: no warning.
// CHECK-LABEL: func.func @items
func.func @items(%q: memref<1x64x2x16xf32>, %o: memref<1x64x2x16xf32>,
                 %b: index, %e: index) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o) items(%b, %e)
      segment_lengths = [16, 32] dilation_rates = [1, 2] block_size = 16
      : memref<1x64x2x16xf32>, memref<1x64x2x16xf32>, memref<1x64x2x16xf32>,
        memref<1x64x2x16xf32>
  return
}
