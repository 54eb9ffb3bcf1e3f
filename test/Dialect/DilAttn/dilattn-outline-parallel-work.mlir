// RUN: dilattn-opt %s -split-input-file --dilattn-outline-parallel-work | FileCheck %s --enable-var-scope

// An scf.parallel: its n x 4 iterations (row-major) are handed to the
// runtime's parallel-for; the values the body uses (a float, a memref as its
// descriptor, the trip counts as i64) travel in a stack struct allocated at
// the function's entry. The body function loops over [begin, end) and
// recomputes both induction variables; constants are rematerialized there.
// CHECK: func.func private @dilattn_parallel_for((!llvm.ptr, index, index) -> (), !llvm.ptr, index)
// CHECK-LABEL: func.func @loop(
// CHECK-SAME: %[[BUF:.+]]: memref<?x16xf32>, %[[N:.+]]: index, %[[V:.+]]: f32)
// CHECK: %[[CTX:.+]] = llvm.alloca %{{.+}} x !llvm.struct<(f32, struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>, i64, i64)>
// CHECK: arith.muli
// CHECK: %[[TOTAL:.+]] = arith.muli
// CHECK: llvm.store %[[V]], %{{.+}} : f32, !llvm.ptr
// CHECK: %[[DESC:.+]] = builtin.unrealized_conversion_cast %[[BUF]] : memref<?x16xf32> to !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
// CHECK: llvm.store %[[DESC]]
// CHECK: %[[F:.+]] = constant @loop__parallel_0 : (!llvm.ptr, index, index) -> ()
// CHECK: call @dilattn_parallel_for(%[[F]], %[[CTX]], %[[TOTAL]])
// CHECK-NOT: scf.parallel
// CHECK: return
// CHECK: func.func private @loop__parallel_0(%[[ARG:.+]]: !llvm.ptr, %[[BEGIN:.+]]: index, %[[END:.+]]: index)
// CHECK: llvm.load {{.+}} -> f32
// CHECK: %[[D:.+]] = llvm.load {{.+}} -> !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
// CHECK: %[[M:.+]] = builtin.unrealized_conversion_cast %[[D]] {{.+}} to memref<?x16xf32>
// CHECK: %[[C4:.+]] = arith.constant 4 : index
// CHECK: scf.for %[[IT:.+]] = %[[BEGIN]] to %[[END]]
// CHECK: arith.remui %[[IT]]
// CHECK: arith.divui %[[IT]]
// CHECK: memref.store %{{.+}}, %[[M]][
func.func @loop(%buf: memref<?x16xf32>, %n: index, %v: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c16 = arith.constant 16 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c16) step (%c1, %c4) {
    memref.store %v, %buf[%i, %j] : memref<?x16xf32>
    scf.reduce
  }
  return
}

// -----

// A whole attention call: its B * H * ceil(N / block_size) work items are
// the iterations, and the body is the same call on items [begin, end), as op
// mode splits it.
// CHECK-LABEL: func.func @attend(
// CHECK: %[[CTX:.+]] = llvm.alloca
// CHECK: %[[BLOCKS:.+]] = arith.ceildivui %{{.+}}, %c16
// CHECK: %[[BH:.+]] = arith.muli
// CHECK: %[[ITEMS:.+]] = arith.muli %[[BH]], %[[BLOCKS]]
// CHECK: call @dilattn_parallel_for(%{{.+}}, %[[CTX]], %[[ITEMS]])
// CHECK-NOT: dilattn.write_dilated_attention
// CHECK: func.func private @attend__parallel_0(%{{.+}}: !llvm.ptr, %[[BEGIN:.+]]: index, %[[END:.+]]: index)
// CHECK: dilattn.write_dilated_attention ins(%[[Q:.+]], %[[Q]], %[[Q]]) outs(%{{.+}}) items(%[[BEGIN]], %[[END]]) segment_lengths = [16, 32] dilation_rates = [1, 2] block_size = 16
func.func @attend(%q: memref<2x64x4x16xf32>, %o: memref<2x64x4x16xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o)
      segment_lengths = [16, 32] dilation_rates = [1, 2] block_size = 16
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// A call that already has an item range (op mode's kernels) is left alone,
// and so is a loop whose body uses a value that cannot cross the boundary.
// CHECK-LABEL: func.func @kernel(
// CHECK-NOT: dilattn_parallel_for
// CHECK: dilattn.write_dilated_attention {{.+}} items(
// CHECK: scf.parallel
// CHECK: return
func.func @kernel(%q: memref<1x32x2x8xf32>, %o: memref<1x32x2x8xf32>, %b: index, %e: index, %t: tensor<4xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o) items(%b, %e)
      segment_lengths = [16] dilation_rates = [2] block_size = 8
      : memref<1x32x2x8xf32>, memref<1x32x2x8xf32>, memref<1x32x2x8xf32>, memref<1x32x2x8xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
    %x = tensor.extract %t[%i] : tensor<4xf32>
    memref.store %x, %o[%c0, %i, %c0, %c0] : memref<1x32x2x8xf32>
    scf.reduce
  }
  return
}

// -----

// A whole backward call: its B * H work items (one per batch and head) are
// the iterations, and the body is the same call on items [begin, end).
// CHECK-LABEL: func.func @attend_grad(
// CHECK: %[[CTX:.+]] = llvm.alloca
// CHECK: %[[B:.+]] = memref.dim %{{.+}}, %c0
// CHECK: %[[H:.+]] = memref.dim %{{.+}}, %c2
// CHECK: %[[ITEMS:.+]] = arith.muli %[[B]], %[[H]]
// CHECK: call @dilattn_parallel_for(%{{.+}}, %[[CTX]], %[[ITEMS]])
// CHECK-NOT: dilattn.write_dilated_attention_grad
// CHECK: func.func private @attend_grad__parallel_0(%{{.+}}: !llvm.ptr, %[[BEGIN:.+]]: index, %[[END:.+]]: index)
// CHECK: dilattn.write_dilated_attention_grad ins({{.+}}) outs({{.+}}) items(%[[BEGIN]], %[[END]]) segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet causal :
func.func @attend_grad(%q: memref<2x64x4x16xf32>, %lse: memref<2x64x4xf32>, %g: memref<2x64x4x16xf32>) {
  dilattn.write_dilated_attention_grad ins(%q, %q, %q, %q, %lse, %q) outs(%g, %g, %g)
      segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet causal
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}
