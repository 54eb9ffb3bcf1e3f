// Module mode on target cuda: a multi-head block with its residual add and
// a GELU goes through dilattn-cuda-pipeline; the host code that is left
// holds only allocations, views and launches (what the runtime replays), and
// every kernel's PTX is free of libdevice calls and assembles.
// RUN: dilattn-opt %s --dilattn-cuda-pipeline -o %t.mlir
// RUN: FileCheck %s --input-file=%t.mlir --check-prefix=HOST
// RUN: FileCheck %s --input-file=%t.mlir --check-prefix=ONLY
// RUN: %python %S/Inputs/extract_ptx.py %t.mlir > %t.ptx
// RUN: FileCheck %s --input-file=%t.ptx --check-prefix=PTX
// RUN: %if ptxas %{ %python %S/Inputs/assemble_each_ptx.py %ptxas %t.mlir %t.dir %}

// HOST-LABEL: func.func @block
// HOST-SAME:    (%[[X:.*]]: memref<2x64x128xf32>, {{.*}}, %[[OUT:.*]]: memref<2x64x128xf32>)
// The projections: the tiled linear-layer kernel on the flattened rows.
// HOST:         %[[XF:.*]] = memref.collapse_shape %[[X]] {{\[}}[0, 1], [2]] : memref<2x64x128xf32> into memref<128x128xf32>
// HOST:         gpu.launch_func @block_linear0::@linear blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in (%{{.*}}, %{{.*}}, %{{.*}}) args(%[[XF]] : memref<128x128xf32>,
// The attention between them, one launch per longnet pattern.
// HOST:         gpu.launch_func @block__dilattn_gpu::@block_kernel0
// HOST:         gpu.launch_func @block__dilattn_gpu::@block_kernel1
// The last kernel writes the caller's output buffer.
// HOST:         gpu.launch_func {{.*}}%[[OUT]] : memref<2x64x128xf32>
// HOST:         return
// HOST-DAG:   gpu.binary @block_linear0
// HOST-DAG:   gpu.binary @block_row_sum0
// HOST-DAG:   gpu.binary @block__dilattn_gpu

// ONLY-LABEL: func.func @block
// ONLY-NOT:     linalg.
// ONLY-NOT:     memref.copy
// ONLY-NOT:     scf.
// ONLY-NOT:     memref.load
// ONLY-NOT:     memref.store
// ONLY:         return

// PTX-DAG:  .entry block_kernel0(
// PTX-DAG:  .entry linear(
// PTX-DAG:  .entry row_sum(
// PTX-DAG:  shfl.sync.bfly.b32
// PTX-DAG:  .shared
// PTX-DAG:  sqrt.rn.f32
// PTX-NOT:  __nv_

func.func @block(%x: tensor<2x64x128xf32>, %w: tensor<128x128xf32>,
                 %b: tensor<128xf32>, %g: tensor<128xf32>,
                 %pad: tensor<2x64xi1>) -> tensor<2x64x128xf32> {
  %a = dilattn.multihead_dilated_attention %x, %x, %x
      weights(%w, %w, %w, %w) biases(%b, %b, %b, %b) layer_norm(%g, %b)
      key_padding_mask(%pad) num_heads = 2
      segment_lengths = [32, 64] dilation_rates = [1, 2] mode = longnet
      : (tensor<2x64x128xf32>, tensor<2x64x128xf32>, tensor<2x64x128xf32>,
         tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>,
         tensor<128x128xf32>, tensor<128xf32>, tensor<128xf32>,
         tensor<128xf32>, tensor<128xf32>, tensor<128xf32>, tensor<128xf32>,
         tensor<2x64xi1>) -> tensor<2x64x128xf32>
  %h = arith.addf %x, %a : tensor<2x64x128xf32>
  %init = tensor.empty() : tensor<2x64x128xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(b, n, e) -> (b, n, e)>,
                                        affine_map<(b, n, e) -> (b, n, e)>],
                       iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%h : tensor<2x64x128xf32>) outs(%init : tensor<2x64x128xf32>) {
  ^bb0(%z: f32, %unused: f32):
    %u = arith.mulf %z, %z : f32
    %e = math.exp %u : f32
    %s = arith.mulf %z, %e : f32
    linalg.yield %s : f32
  } -> tensor<2x64x128xf32>
  return %y : tensor<2x64x128xf32>
}
