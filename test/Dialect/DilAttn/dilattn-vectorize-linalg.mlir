// RUN: dilattn-opt %s -split-input-file --dilattn-vectorize-linalg="vector-width=8 tile-rows=4 block-rows=16 block-cols=16 block-depth=8" | FileCheck %s --enable-var-scope

// A linear layer y[b, n, o] += x[b, n, e] * W[o, e] on buffers: W is
// transposed into a temporary (rows of B are then vectors); blocks of 16 x 16
// outputs are the iterations of an scf.parallel; k goes in slices of 8; each
// 4 x 16 register tile (4 rows of 2 x 8 lanes, one 16-lane vector each, which
// LLVM splits) is read once, stays in registers across its k loop (a
// loop-carried vector) with one broadcast of an x element and one FMA per row
// and k, and is written once.
// CHECK-LABEL: func.func @linear(
// CHECK-SAME: %[[X:.+]]: memref<1x64x32xf32>, %[[W:.+]]: memref<32x32xf32>, %[[Y:.+]]: memref<1x64x32xf32>)
// CHECK: %[[WT:.+]] = memref.alloc() : memref<32x32xf32>
// CHECK: linalg.transpose ins(%[[W]] : memref<32x32xf32>) outs(%[[WT]] : memref<32x32xf32>) permutation = [1, 0]
// CHECK: scf.parallel (%{{.+}}, %{{.+}}) = (%{{.+}}, %{{.+}}) to (%{{.+}}, %{{.+}}) step (%[[C16:.+]], %[[C16]])
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %[[C8:.+]] {
// CHECK: scf.for
// CHECK-COUNT-4: vector.load {{.+}} vector<16xf32>
// CHECK: %[[ACC:.+]] = scf.for {{.+}} iter_args(%{{.+}} = %{{.+}}) -> (vector<4x16xf32>)
// CHECK-NOT: vector.store
// CHECK: vector.load {{.+}} vector<16xf32>
// CHECK-COUNT-4: vector.fma {{.+}} : vector<16xf32>
// CHECK-NOT: vector.fma
// CHECK: scf.yield
// CHECK-COUNT-4: vector.store {{.+}} vector<16xf32>
// CHECK: memref.dealloc %[[WT]]
#x = affine_map<(b, n, o, e) -> (b, n, e)>
#w = affine_map<(b, n, o, e) -> (o, e)>
#y = affine_map<(b, n, o, e) -> (b, n, o)>
func.func @linear(%x: memref<1x64x32xf32>, %w: memref<32x32xf32>, %y: memref<1x64x32xf32>) {
  linalg.contract indexing_maps = [#x, #w, #y]
      ins(%x, %w : memref<1x64x32xf32>, memref<32x32xf32>)
      outs(%y : memref<1x64x32xf32>)
  return
}

// -----

// Elementwise ops (a bias add with a broadcast operand): rows for threads,
// vectors of 8 lanes along the row; the last 4 columns of a 20-wide row are a
// peeled partial tile (one per row) that stays a linalg op (lowered to loops
// later).
// CHECK-LABEL: func.func @bias_add(
// CHECK: scf.parallel
// CHECK: scf.for
// CHECK: scf.for {{.+}} to %c16 step %c8 {
// CHECK: %[[A:.+]] = vector.load {{.+}} vector<8xf32>
// CHECK: %[[B:.+]] = vector.load {{.+}} vector<8xf32>
// CHECK: %[[S:.+]] = arith.addf %[[A]], %[[B]] : vector<8xf32>
// CHECK: vector.store %[[S]]
// CHECK: linalg.generic
func.func @bias_add(%x: memref<2x64x20xf32>, %b: memref<20xf32>, %y: memref<2x64x20xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1, d2)>],
                  iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x, %b : memref<2x64x20xf32>, memref<20xf32>) outs(%y : memref<2x64x20xf32>) {
  ^bb0(%a: f32, %c: f32, %out: f32):
    %s = arith.addf %a, %c : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A row sum (layer norm) over a static innermost dim: one vector per row,
// reduced with reassociation allowed (a tree of vector adds). All 32 rows
// are one work item: the parallel loop of one iteration folds away.
// CHECK-LABEL: func.func @row_sum(
// CHECK: scf.for
// CHECK: vector.load {{.+}} vector<64xf32>
// CHECK: vector.reduction <add>, {{.+}} fastmath<reassoc> : vector<64xf32> into f32
func.func @row_sum(%x: memref<1x32x64xf32>, %s: memref<1x32xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<1x32x64xf32>) outs(%s : memref<1x32xf32>) {
  ^bb0(%a: f32, %out: f32):
    %t = arith.addf %out, %a : f32
    linalg.yield %t : f32
  }
  return
}

// -----

// i1 buffers (a byte per element) are not vectorized, nor are transposes.
// CHECK-LABEL: func.func @untouched(
// CHECK-NOT: vector.
// CHECK: linalg.generic
// CHECK: linalg.transpose
// CHECK-NOT: vector.
func.func @untouched(%m: memref<4x16xi1>, %f: memref<4x16xf32>, %t: memref<16x4xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>,
                                   affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%m : memref<4x16xi1>) outs(%f : memref<4x16xf32>) {
  ^bb0(%a: i1, %out: f32):
    %z = arith.uitofp %a : i1 to f32
    linalg.yield %z : f32
  }
  linalg.transpose ins(%f : memref<4x16xf32>) outs(%t : memref<16x4xf32>) permutation = [1, 0]
  return
}
