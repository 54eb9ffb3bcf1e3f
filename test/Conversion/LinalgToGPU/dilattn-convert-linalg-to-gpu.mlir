// RUN: dilattn-opt %s --dilattn-convert-linalg-to-gpu --cse --split-input-file --verify-diagnostics | FileCheck %s --enable-var-scope

// A linear layer (C[b, n, o] += A[b, n, e] * W[o, e], as the multi-head
// decomposition writes it) becomes the tiled kernel: the rows flattened,
// 64x64 output tiles (row tiles on x), two padded 16-deep slices in
// workgroup memory, 256 threads, and the sums added into C.
// CHECK: module attributes {gpu.container_module}
// CHECK-LABEL: func.func @linear
// CHECK-SAME:    (%[[A:.*]]: memref<2x100x96xf32>, %[[W:.*]]: memref<80x96xf32>, %[[C:.*]]: memref<2x100x80xf32>)
// CHECK-DAG:     %[[C1:.*]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:.*]] = arith.constant 2 : index
// CHECK-DAG:     %[[C4:.*]] = arith.constant 4 : index
// CHECK-DAG:     %[[C256:.*]] = arith.constant 256 : index
// CHECK-DAG:     %[[AF:.*]] = memref.collapse_shape %[[A]] {{\[}}[0, 1], [2]] : memref<2x100x96xf32> into memref<200x96xf32>
// CHECK-DAG:     %[[CF:.*]] = memref.collapse_shape %[[C]] {{\[}}[0, 1], [2]] : memref<2x100x80xf32> into memref<200x80xf32>
// CHECK:         gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C4]], %{{.*}} = %[[C2]], %{{.*}} = %[[C1]]) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C256]], %{{.*}} = %[[C1]], %{{.*}} = %[[C1]])
// CHECK-SAME:      workgroup(%[[AT:.*]] : memref<16x65xf32, #gpu.address_space<workgroup>>, %[[BT:.*]] : memref<16x65xf32, #gpu.address_space<workgroup>>)
// CHECK:           scf.for {{.*}} iter_args
// CHECK:             memref.load %[[AF]]
// CHECK:             memref.store %{{.*}}, %[[AT]]
// CHECK:             memref.load %[[W]]
// CHECK:             memref.store %{{.*}}, %[[BT]]
// CHECK:             gpu.barrier
// CHECK:             gpu.barrier
// CHECK:             scf.yield
// CHECK:           scf.if
// CHECK:             %[[OLD:.*]] = memref.load %[[CF]]
// CHECK:             arith.addf %[[OLD]]
// CHECK:             memref.store %{{.*}}, %[[CF]]
// CHECK:           gpu.terminator
// CHECK-NOT:     linalg.
#map_x = affine_map<(b, n, o, e) -> (b, n, e)>
#map_w = affine_map<(b, n, o, e) -> (o, e)>
#map_acc = affine_map<(b, n, o, e) -> (b, n, o)>
func.func @linear(%a: memref<2x100x96xf32>, %w: memref<80x96xf32>, %c: memref<2x100x80xf32>) {
  linalg.contract indexing_maps = [#map_x, #map_w, #map_acc]
      ins(%a, %w : memref<2x100x96xf32>, memref<80x96xf32>)
      outs(%c : memref<2x100x80xf32>)
  return
}

// -----

// Elementwise ops: one thread per point, the last loop fastest, 256 threads
// per block, the points past the end guarded.
// CHECK-LABEL: func.func @bias_add
// CHECK-DAG:     %[[C24:.*]] = arith.constant 24 : index
// CHECK-DAG:     %[[C256:.*]] = arith.constant 256 : index
// CHECK:         gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C24]], {{.*}} threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C256]],
// CHECK:           %[[BASE:.*]] = arith.muli %[[BX]], %[[C256]]
// CHECK:           %[[LINEAR:.*]] = arith.addi %[[BASE]], %[[TX]]
// CHECK:           %[[TOTAL:.*]] = arith.constant 6000 : index
// CHECK:           %[[IN:.*]] = arith.cmpi ult, %[[LINEAR]], %[[TOTAL]]
// CHECK:           scf.if %[[IN]]
// CHECK:             arith.remui
// CHECK:             arith.divui
// CHECK:             memref.load
// CHECK:             arith.addf
// CHECK:             memref.store
// CHECK:           gpu.terminator
#id3 = affine_map<(b, n, o) -> (b, n, o)>
#col = affine_map<(b, n, o) -> (o)>
func.func @bias_add(%x: memref<2x100x30xf32>, %b: memref<30xf32>, %y: memref<2x100x30xf32>) {
  linalg.generic {indexing_maps = [#id3, #col, #id3],
                  iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x, %b : memref<2x100x30xf32>, memref<30xf32>)
      outs(%y : memref<2x100x30xf32>) {
  ^bb0(%in: f32, %bias: f32, %out: f32):
    %s = arith.addf %in, %bias : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A reduction: each thread owns a row and runs the reduction loop itself;
// memref.copy becomes a kernel too. Launches keep the program's order.
// CHECK-LABEL: func.func @row_sum_then_copy
// CHECK:         gpu.launch
// CHECK:           scf.if
// CHECK:             scf.for
// CHECK:               arith.addf
// CHECK:         gpu.launch
// CHECK:           memref.load %{{.*}} : memref<4x8xf32>
// CHECK:           memref.store %{{.*}} : memref<4x8xf32>
// CHECK-NOT:     memref.copy
#rows = affine_map<(i, j) -> (i, j)>
#row = affine_map<(i, j) -> (i)>
func.func @row_sum_then_copy(%x: memref<4x8xf32>, %sum: memref<4xf32>, %copy: memref<4x8xf32>) {
  linalg.generic {indexing_maps = [#rows, #row],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4x8xf32>) outs(%sum : memref<4xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  }
  memref.copy %x, %copy : memref<4x8xf32> to memref<4x8xf32>
  return
}

// -----

// A contraction that is not a linear layer (W not transposed) takes the
// generic path: one thread per output, the reduction in the thread.
// CHECK-LABEL: func.func @plain_matmul
// CHECK:         gpu.launch
// CHECK-NOT:       workgroup
// CHECK:           scf.for
func.func @plain_matmul(%a: memref<8x16xf32>, %b: memref<16x4xf32>, %c: memref<8x4xf32>) {
  linalg.matmul ins(%a, %b : memref<8x16xf32>, memref<16x4xf32>)
      outs(%c : memref<8x4xf32>)
  return
}

// -----

func.func @dynamic(%x: memref<?xf32>, %y: memref<?xf32>) {
  // expected-error @+1 {{needs static bounds to become a kernel (module mode on target cuda takes static shapes)}}
  linalg.copy ins(%x : memref<?xf32>) outs(%y : memref<?xf32>)
  return
}
