// RUN: dilattn-opt %s --dilattn-cpu-pipeline | FileCheck %s --enable-var-scope \
// RUN:   --implicit-check-not=" dilattn." --implicit-check-not=" scf." --implicit-check-not=" memref." --implicit-check-not=" vector." \
// RUN:   --implicit-check-not=" linalg." --implicit-check-not="unrealized_conversion_cast"
// RUN: dilattn-opt %s --dilattn-cpu-pipeline="vectorize-linalg=false parallel=false" | FileCheck %s --check-prefix=SCALAR

// Module mode's LongNet block (multi-head dilated attention with biases and
// a sub-layer norm, then a residual add) on the way to LLVM: the projections
// run as register tiles of 6 rows x 16 columns (two 8-lane FMAs per row and
// k) over blocks of 96 rows that the runtime's parallel-for hands to its
// threads, and the attention call is split into work items the same way.
// Five parallel-fors: the Q, K and V projections (the row blocks of each),
// the attention, and after the layer norm the out projection; the layer norm's 256 rows are one work item, left in @block,
// with its row sums as one 32-lane vector per row, reassociated.
// CHECK: llvm.func @dilattn_parallel_for(!llvm.ptr, !llvm.ptr, i64)
// CHECK-LABEL: llvm.func @block(
// CHECK-COUNT-4: llvm.call @dilattn_parallel_for(
// CHECK: "llvm.intr.vector.reduce.fadd"({{.*}}) <{fastmathFlags = #llvm.fastmath<reassoc>}> : (f32, vector<32xf32>) -> f32
// CHECK: llvm.call @dilattn_parallel_for(
// CHECK-NOT: llvm.call @dilattn_parallel_for(
// CHECK: llvm.return
// The body functions (the projections: 6 FMAs of a register tile per k).
// CHECK-COUNT-4: llvm.func @block__parallel_{{[1-4]}}(
// CHECK: llvm.func @block__parallel_0(
// CHECK-COUNT-6: llvm.intr.fmuladd({{.*}}) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// CHECK: llvm.func @block__parallel_3__segment_attention_0(

// Without vectorize-linalg and parallel: scalar loops in one function, as
// before.
// SCALAR-NOT: dilattn_parallel_for
// SCALAR-NOT: vector<16xf32>
// SCALAR-LABEL: llvm.func @block(
// SCALAR: llvm.call @block__segment_attention_0(
func.func @block(%x: tensor<1x256x32xf32>, %w: tensor<32x32xf32>, %bias: tensor<32xf32>, %g: tensor<32xf32>) -> tensor<1x256x32xf32> {
  %0 = dilattn.multihead_dilated_attention %x, %x, %x
      weights(%w, %w, %w, %w) biases(%bias, %bias, %bias, %bias) layer_norm(%g, %bias) num_heads = 2
      segment_lengths = [16, 64] dilation_rates = [1, 2]
      : (tensor<1x256x32xf32>, tensor<1x256x32xf32>, tensor<1x256x32xf32>,
         tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>, tensor<32x32xf32>,
         tensor<32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<1x256x32xf32>
  %1 = arith.addf %0, %x : tensor<1x256x32xf32>
  return %1 : tensor<1x256x32xf32>
}
