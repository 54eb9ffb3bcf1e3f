// RUN: dilattn-opt %s -split-input-file --dilattn-cpu-pipeline="parallel=false" | FileCheck %s --enable-var-scope --check-prefixes=CHECK,FUSE \
// RUN:   --implicit-check-not=" dilattn." --implicit-check-not=" scf." --implicit-check-not=" memref." --implicit-check-not=" vector." \
// RUN:   --implicit-check-not=" arith." --implicit-check-not=" math." --implicit-check-not=" linalg." --implicit-check-not=" cf." \
// RUN:   --implicit-check-not=" func." --implicit-check-not="unrealized_conversion_cast"
// RUN: dilattn-opt %s -split-input-file --dilattn-cpu-pipeline="tile-queries=2 fuse-patterns=false parallel=false" | FileCheck %s --enable-var-scope --check-prefixes=CHECK,NOFUSE \
// RUN:   --implicit-check-not=" dilattn." --implicit-check-not=" scf." --implicit-check-not=" memref." --implicit-check-not=" vector." \
// RUN:   --implicit-check-not=" arith." --implicit-check-not=" math." --implicit-check-not=" linalg." --implicit-check-not=" cf." \
// RUN:   --implicit-check-not=" func." --implicit-check-not="unrealized_conversion_cast"

// dilattn-cpu-pipeline takes kernels in buffer form all the way to the LLVM
// dialect: nothing of dilattn, scf, memref, vector, arith, math, linalg, cf or
// func is left (the implicit CHECK-NOTs above, over the whole output), scores
// and values accumulate with vector FMAs, and scratch state lives on the stack
// (llvm.alloca). With the default options the patterns of a longnet call
// share one online-softmax state (3 stack buffers per call); with
// fuse-patterns=false each pattern keeps its own (3 per pattern).
// parallel=false keeps calls without an item range in the function (with
// the default, dilattn-outline-parallel-work moves them into a body function
// run by the runtime's parallel-for: see dilattn-cpu-pipeline-block.mlir).

// Grouped mode with both masks (the attention bias broadcast over batch and
// heads: zero strides; viewed with stride 2 by the second pattern), causal.
// The kernel: one state (3 stack buffers), one segment attention per group,
// called from the item loop (the vector code is outlined into private
// functions named after the kernel). The groups need two functions: the
// attention bias view keeps a unit innermost stride at rate 1 but not at
// rate 2.
// CHECK-LABEL: llvm.func @grouped_masks_causal(
// CHECK-COUNT-3: llvm.alloca
// CHECK-NOT: llvm.alloca
// CHECK: llvm.call @grouped_masks_causal__segment_attention_0(
// CHECK: llvm.call @grouped_masks_causal__segment_attention_1(
// CHECK-NOT: llvm.call
// CHECK: llvm.return
// The segment attention code: its scratch buffers (probabilities, packed
// keys) on the stack, FMAs on 8 lanes, online softmax.
// CHECK: llvm.func @grouped_masks_causal__segment_attention_0(
// CHECK-COUNT-2: llvm.alloca
// CHECK: {{llvm.intr.(fmuladd|fma)}}({{.*}}) : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
// CHECK: llvm.intr.vector.reduce.fmax
// CHECK: llvm.intr.roundeven
// CHECK: llvm.return
// CHECK: llvm.func @grouped_masks_causal__segment_attention_1(
// CHECK-COUNT-2: llvm.alloca
// CHECK: llvm.return
// CHECK-NOT: llvm.func
func.func @grouped_masks_causal(%q: memref<2x64x4x16xf32>, %kpm: memref<2x64xf32>, %am: memref<2x4x64x64xf32, strided<[0, 0, 64, 1]>>,
                                %o: memref<2x64x4x16xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) key_padding_mask(%kpm : memref<2x64xf32>)
      attn_mask(%am : memref<2x4x64x64xf32, strided<[0, 0, 64, 1]>>) outs(%o)
      segment_lengths = [16, 32] dilation_rates = [1, 2] causal block_size = 16
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// Longnet, 3 patterns, blocked offsets, causal, a key padding mask, an item
// range and dynamic B and N; head dim 20 (8 + 8 + 4 lanes).
// The three patterns (rates 1, 2 and 4) share one outlined function: their
// views differ only in strides, which are all cast to dynamic ones.
// CHECK-LABEL: llvm.func @longnet_three(
// FUSE-COUNT-3: llvm.alloca
// NOFUSE-COUNT-9: llvm.alloca
// CHECK-NOT: llvm.alloca
// CHECK: llvm.call @longnet_three__segment_attention_0(
// CHECK: llvm.call @longnet_three__segment_attention_0(
// CHECK: llvm.call @longnet_three__segment_attention_0(
// CHECK-NOT: llvm.call
// The states are mixed (fuse-patterns=false: with exp2 weights) and written
// 8 + 8 + 4 lanes at a time.
// NOFUSE: llvm.intr.roundeven
// CHECK: llvm.intr.fmuladd({{.*}}) : (vector<4xf32>, vector<4xf32>, vector<4xf32>) -> vector<4xf32>
// CHECK: llvm.return
// CHECK: llvm.func @longnet_three__segment_attention_0(
// The scratch buffers: probabilities (tile-queries x 16) and packed keys (20 x 16).
// CHECK-DAG: %[[PK:.+]] = llvm.mlir.constant(320 : index) : i64
// FUSE-DAG: %[[P:.+]] = llvm.mlir.constant(64 : index) : i64
// NOFUSE-DAG: %[[P:.+]] = llvm.mlir.constant(32 : index) : i64
// CHECK: llvm.alloca %[[P]] x f32
// CHECK-NEXT: llvm.alloca %[[PK]] x f32
// CHECK: {{llvm.intr.(fmuladd|fma)}}({{.*}}) : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
// CHECK: llvm.intr.vector.reduce.fmax
// CHECK: llvm.intr.vector.reduce.fadd
// CHECK: llvm.return
// CHECK-NOT: llvm.func
func.func @longnet_three(%q: memref<?x?x4x20xf32>, %kpm: memref<?x?xf32>, %o: memref<?x?x4x20xf32>, %b: index, %e: index) {
  dilattn.write_dilated_attention ins(%q, %q, %q) key_padding_mask(%kpm : memref<?x?xf32>) outs(%o) items(%b, %e)
      segment_lengths = [16, 32, 64] dilation_rates = [1, 2, 4] mode = longnet offset_rule = blocked causal block_size = 32
      : memref<?x?x4x20xf32>, memref<?x?x4x20xf32>, memref<?x?x4x20xf32>, memref<?x?x4x20xf32>
  return
}

// -----

// An attention bias, longnet with dilation 1.
// CHECK-LABEL: llvm.func @attn_mask(
// FUSE-COUNT-3: llvm.alloca
// NOFUSE-COUNT-6: llvm.alloca
// CHECK-NOT: llvm.alloca
// CHECK: llvm.call @attn_mask__segment_attention_0(
// CHECK: llvm.call @attn_mask__segment_attention_0(
// CHECK-NOT: llvm.call
// CHECK: llvm.func @attn_mask__segment_attention_0(
// CHECK-COUNT-2: llvm.alloca
// CHECK: {{llvm.intr.(fmuladd|fma)}}({{.*}}) : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
// CHECK: llvm.return
// CHECK-NOT: llvm.func
func.func @attn_mask(%q: memref<1x64x2x16xf32>, %am: memref<1x2x64x64xf32>, %o: memref<1x64x2x16xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) attn_mask(%am : memref<1x2x64x64xf32>) outs(%o)
      segment_lengths = [16, 64] dilation_rates = [1, 1] mode = longnet block_size = 16
      : memref<1x64x2x16xf32>, memref<1x64x2x16xf32>, memref<1x64x2x16xf32>, memref<1x64x2x16xf32>
  return
}

// -----

// llvm.emit_c_interface gives the kernel a _mlir_ciface_ wrapper that takes
// memref descriptors by pointer and calls it.
// CHECK-LABEL: llvm.func @kernel(
// CHECK-SAME: attributes {llvm.emit_c_interface}
// CHECK: llvm.func @_mlir_ciface_kernel(%{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr, %{{.+}}: !llvm.ptr)
// CHECK: llvm.call @kernel(
func.func @kernel(%q: memref<1x32x2x8xf32>, %k: memref<1x32x2x8xf32>, %o: memref<1x32x2x8xf32>) attributes {llvm.emit_c_interface} {
  dilattn.write_dilated_attention ins(%q, %k, %k) outs(%o)
      segment_lengths = [16] dilation_rates = [2] block_size = 8
      : memref<1x32x2x8xf32>, memref<1x32x2x8xf32>, memref<1x32x2x8xf32>, memref<1x32x2x8xf32>
  return
}

// -----

// A training step on tensors: the forward with statistics and the backward
// go through mask normalisation, bufferization (new buffers for the output,
// lse and the three gradients, freed at the end), segment tiling and vector
// lowering to LLVM; each pattern's segment calls share one function per op
// kind.
// CHECK-LABEL: llvm.func @train(
// CHECK-COUNT-2: llvm.call @train__segment_attention_0(
// CHECK-COUNT-2: llvm.call @train__segment_attention_grad_0(
// CHECK-COUNT-7: llvm.call @_mlir_memref_to_llvm_free(
// CHECK: llvm.return
// CHECK: llvm.func @train__segment_attention_0(
// CHECK: llvm.func @train__segment_attention_grad_0(
// CHECK: {{llvm.intr.(fmuladd|fma)}}({{.*}}) : (vector<8xf32>, vector<8xf32>, vector<8xf32>) -> vector<8xf32>
// CHECK: llvm.return
// CHECK-NOT: llvm.func
func.func @train(%q: tensor<2x64x4x16xf32>, %do: tensor<2x64x4x16xf32>, %m: tensor<2x64xi1>) -> (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>) {
  %o, %lse = dilattn.dilated_attention_with_lse %q, %q, %q key_padding_mask(%m)
      segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet causal
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>) -> (tensor<2x64x4x16xf32>, tensor<2x64x4xf32>)
  %dq, %dk, %dv = dilattn.dilated_attention_grad %q, %q, %q, %o, %lse, %do key_padding_mask(%m)
      segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet causal
      : (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4xf32>, tensor<2x64x4x16xf32>, tensor<2x64xi1>) -> (tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>)
  return %dq, %dk, %dv : tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>, tensor<2x64x4x16xf32>
}
