// RUN: dilattn-opt %s --dilattn-convert-linalg-to-gpu --cse --split-input-file --verify-diagnostics | FileCheck %s --enable-var-scope

// A linear layer (C[b, n, o] += A[b, n, e] * W[o, e], as the multi-head
// decomposition writes it) becomes the tiled kernel: the rows flattened,
// 128x128 output tiles (row tiles on x), two padded 8-deep slices in
// workgroup memory, 256 threads, and the sums added into C.
// CHECK: module attributes {gpu.container_module}
// CHECK-LABEL: func.func @linear
// CHECK-SAME:    (%[[A:.*]]: memref<2x100x96xf32>, %[[W:.*]]: memref<80x96xf32>, %[[C:.*]]: memref<2x100x80xf32>)
// CHECK-DAG:     %[[C1:.*]] = arith.constant 1 : index
// CHECK-DAG:     %[[C2:.*]] = arith.constant 2 : index
// CHECK-DAG:     %[[C256:.*]] = arith.constant 256 : index
// CHECK-DAG:     %[[AF:.*]] = memref.collapse_shape %[[A]] {{\[}}[0, 1], [2]] : memref<2x100x96xf32> into memref<200x96xf32>
// CHECK-DAG:     %[[CF:.*]] = memref.collapse_shape %[[C]] {{\[}}[0, 1], [2]] : memref<2x100x80xf32> into memref<200x80xf32>
// CHECK:         gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C2]], %{{.*}} = %[[C1]], %{{.*}} = %[[C1]]) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C256]], %{{.*}} = %[[C1]], %{{.*}} = %[[C1]])
// CHECK-SAME:      module(@linear_linear0) function(@linear)
// CHECK-SAME:      workgroup(%[[AT:.*]] : memref<8x132xf32, #gpu.address_space<workgroup>>, %[[BT:.*]] : memref<8x132xf32, #gpu.address_space<workgroup>>)
// The first slice is loaded before the loop, each next one before the
// current one is multiplied.
// CHECK:           memref.load %[[AF]]
// CHECK:           memref.load %[[W]]
// CHECK:           scf.for {{.*}} iter_args
// CHECK:             memref.store %{{.*}}, %[[AT]]
// CHECK:             memref.store %{{.*}}, %[[BT]]
// CHECK:             gpu.barrier
// CHECK:             memref.load %[[AF]]
// CHECK:             memref.load %[[W]]
// CHECK:             memref.load %[[AT]]
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
// CHECK:         gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C24]], {{.*}} threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C256]], {{.*}} module(@bias_add_elementwise0) function(@elementwise)
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

// A row sum: a warp per output point (8 per block of 256 threads), the
// lanes striding the row, a butterfly of shuffles, lane 0 adding the total
// to the output; memref.copy becomes a kernel too. Launches keep the
// program's order.
// CHECK-LABEL: func.func @row_sum_then_copy
// CHECK:         gpu.launch {{.*}} module(@row_sum_then_copy_row_sum0) function(@row_sum)
// CHECK:           scf.if
// CHECK:             scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c32
// CHECK:               memref.load %{{.*}} : memref<4x8xf32>
// CHECK:               arith.addf
// CHECK-COUNT-5:     gpu.shuffle  xor
// CHECK:             scf.if
// CHECK:               memref.load %{{.*}} : memref<4xf32>
// CHECK:               memref.store %{{.*}} : memref<4xf32>
// CHECK:         gpu.launch {{.*}} module(@row_sum_then_copy_copy0) function(@copy)
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

// -----

// Output fusion: the zero fill before the layer and the bias add after it
// fold into the kernel, which writes D = A W^T + b directly; the
// accumulator is gone.
// CHECK-LABEL: func.func @linear_with_bias
// CHECK-SAME:    (%{{.*}}: memref<4x32xf32>, %{{.*}}: memref<16x32xf32>, %[[BIAS:.*]]: memref<16xf32>, %[[D:.*]]: memref<4x16xf32>)
// CHECK-NOT:     memref.alloc
// CHECK:         gpu.launch
// CHECK:           scf.for
// CHECK:           scf.if
// CHECK-NOT:         memref.load %[[D]]
// CHECK:             %[[B:.*]] = memref.load %[[BIAS]]
// CHECK:             %[[S:.*]] = arith.addf %{{.*}}, %[[B]]
// CHECK:             memref.store %[[S]], %[[D]]
// CHECK-NOT:     gpu.launch
// CHECK-NOT:     linalg.
// CHECK:         return
#lx = affine_map<(n, o, e) -> (n, e)>
#lw = affine_map<(n, o, e) -> (o, e)>
#lc = affine_map<(n, o, e) -> (n, o)>
#id2 = affine_map<(n, o) -> (n, o)>
#col2 = affine_map<(n, o) -> (o)>
func.func @linear_with_bias(%a: memref<4x32xf32>, %w: memref<16x32xf32>, %bias: memref<16xf32>, %d: memref<4x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<4x16xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<4x16xf32>)
  linalg.contract indexing_maps = [#lx, #lw, #lc]
      ins(%a, %w : memref<4x32xf32>, memref<16x32xf32>) outs(%c : memref<4x16xf32>)
  linalg.generic {indexing_maps = [#id2, #col2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%c, %bias : memref<4x16xf32>, memref<16xf32>) outs(%d : memref<4x16xf32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  }
  memref.dealloc %c : memref<4x16xf32>
  return
}

// -----

#lx = affine_map<(n, o, e) -> (n, e)>
#lw = affine_map<(n, o, e) -> (o, e)>
#lc = affine_map<(n, o, e) -> (n, o)>
#id2 = affine_map<(n, o) -> (n, o)>
#col2 = affine_map<(n, o) -> (o)>
// The accumulator is read again after the layer: only the fill folds in.
// CHECK-LABEL: func.func @linear_result_reused
// CHECK:         memref.alloc
// CHECK:         gpu.launch
// CHECK:         gpu.launch
// CHECK:         gpu.launch
func.func @linear_result_reused(%a: memref<4x32xf32>, %w: memref<16x32xf32>, %bias: memref<16xf32>, %d: memref<4x16xf32>, %e: memref<4x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<4x16xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<4x16xf32>)
  linalg.contract indexing_maps = [#lx, #lw, #lc]
      ins(%a, %w : memref<4x32xf32>, memref<16x32xf32>) outs(%c : memref<4x16xf32>)
  linalg.generic {indexing_maps = [#id2, #col2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%c, %bias : memref<4x16xf32>, memref<16xf32>) outs(%d : memref<4x16xf32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  }
  linalg.copy ins(%c : memref<4x16xf32>) outs(%e : memref<4x16xf32>)
  memref.dealloc %c : memref<4x16xf32>
  return
}

// -----

// A reduction that is not a sum (a row max) keeps the generic path: a
// thread per output point runs the loop.
// CHECK-LABEL: func.func @row_max
// CHECK:         gpu.launch {{.*}} module(@row_max_reduction0) function(@reduction)
// CHECK:           scf.for
// CHECK:             arith.maximumf
// CHECK-NOT:       gpu.shuffle
#m_rows = affine_map<(i, j) -> (i, j)>
#m_row = affine_map<(i, j) -> (i)>
func.func @row_max(%x: memref<4x8xf32>, %m: memref<4xf32>) {
  linalg.generic {indexing_maps = [#m_rows, #m_row],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4x8xf32>) outs(%m : memref<4xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.maximumf %acc, %in : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// The accumulator is an argument (an out-parameter holding a second
// result): only the fill folds in; the bias add stays a kernel of its own.
// CHECK-LABEL: func.func @accumulator_is_an_argument
// CHECK:         gpu.launch {{.*}} function(@linear)
// CHECK:         gpu.launch {{.*}} function(@elementwise)
#ax = affine_map<(n, o, e) -> (n, e)>
#aw = affine_map<(n, o, e) -> (o, e)>
#ac = affine_map<(n, o, e) -> (n, o)>
#aid = affine_map<(n, o) -> (n, o)>
#acol = affine_map<(n, o) -> (o)>
func.func @accumulator_is_an_argument(%a: memref<4x32xf32>, %w: memref<16x32xf32>, %bias: memref<16xf32>, %c: memref<4x16xf32>, %d: memref<4x16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<4x16xf32>)
  linalg.contract indexing_maps = [#ax, #aw, #ac]
      ins(%a, %w : memref<4x32xf32>, memref<16x32xf32>) outs(%c : memref<4x16xf32>)
  linalg.generic {indexing_maps = [#aid, #acol, #aid], iterator_types = ["parallel", "parallel"]}
      ins(%c, %bias : memref<4x16xf32>, memref<16xf32>) outs(%d : memref<4x16xf32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// The bias add writes into the layer's own input: folding it in would
// overwrite rows of A other blocks still read. It stays separate.
// CHECK-LABEL: func.func @result_is_the_input
// CHECK:         gpu.launch {{.*}} function(@linear)
// CHECK:         gpu.launch {{.*}} function(@elementwise)
#ix = affine_map<(n, o, e) -> (n, e)>
#iw = affine_map<(n, o, e) -> (o, e)>
#ic = affine_map<(n, o, e) -> (n, o)>
#iid = affine_map<(n, o) -> (n, o)>
#icol = affine_map<(n, o) -> (o)>
func.func @result_is_the_input(%a: memref<4x16xf32>, %w: memref<16x16xf32>, %bias: memref<16xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<4x16xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<4x16xf32>)
  linalg.contract indexing_maps = [#ix, #iw, #ic]
      ins(%a, %w : memref<4x16xf32>, memref<16x16xf32>) outs(%c : memref<4x16xf32>)
  linalg.generic {indexing_maps = [#iid, #icol, #iid], iterator_types = ["parallel", "parallel"]}
      ins(%c, %bias : memref<4x16xf32>, memref<16xf32>) outs(%a : memref<4x16xf32>) {
  ^bb0(%x: f32, %y: f32, %out: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  }
  memref.dealloc %c : memref<4x16xf32>
  return
}

// -----

// Rank 0: a one-thread kernel (not host code touching device memory).
// CHECK-LABEL: func.func @scalar_fill
// CHECK:         gpu.launch {{.*}} function(@fill)
// CHECK:           memref.store %{{.*}}[] : memref<f32>
// CHECK:           gpu.terminator
// CHECK-NEXT:    }
// CHECK-NEXT:    return
func.func @scalar_fill(%x: memref<f32>) {
  %one = arith.constant 1.0 : f32
  linalg.fill ins(%one : f32) outs(%x : memref<f32>)
  return
}
