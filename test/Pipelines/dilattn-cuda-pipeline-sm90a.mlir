// The CUDA pipeline for Hopper (chip=sm_90a): Q K^T and P V on warpgroup MMAs
// (wgmma) over 128-byte-swizzled shared-memory tiles, P from registers, the
// cp.async writes fenced for the async proxy; by default two warpgroups (128
// queries) and 128 keys per stage; kernel=mma-sync keeps the sm_80 kernel on
// the same chip.
// RUN: dilattn-opt %s --dilattn-cuda-pipeline="chip=sm_90a" -o %t.mlir
// RUN: FileCheck %s --input-file=%t.mlir --check-prefix=HOST
// RUN: %python %S/Inputs/extract_ptx.py %t.mlir > %t.ptx
// RUN: FileCheck %s --input-file=%t.ptx --check-prefix=PTX
// RUN: dilattn-opt %s --dilattn-cuda-pipeline="chip=sm_90a kernel=mma-sync" -o %t.mma.mlir
// RUN: %python %S/Inputs/extract_ptx.py %t.mma.mlir | FileCheck %s --check-prefix=MMA
// RUN: not dilattn-opt %s --dilattn-cuda-pipeline="chip=sm_90a kernel=wgmma tile-queries=32" -o /dev/null 2>&1 | FileCheck %s --check-prefix=BADTILE
// One warpgroup (tile-queries 64) and 64-key stages.
// RUN: dilattn-opt %s --dilattn-cuda-pipeline="chip=sm_90a tile-queries=64 tile-keys=64" -o %t.64.mlir
// RUN: %python %S/Inputs/extract_ptx.py %t.64.mlir > %t.64.ptx
// RUN: FileCheck %s --input-file=%t.64.ptx --check-prefix=ONE
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -O3 -v %t.64.ptx -o %t.64.cubin 2>&1 | FileCheck %s --check-prefix=SASS %}
//
// With the toolkit's ptxas: the PTX assembles for sm_90a (it refuses the
// wgmma of a .target sm_90a module under -arch=sm_90) and the kernel keeps
// its accumulators in registers (no local-memory spills).
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -O3 -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=SASS %}

// HOST:       gpu.binary @longnet_block__dilattn_gpu
// HOST-SAME:    #nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">

// PTX:      .target sm_90a
// PTX:      .entry longnet_block_kernel0(
// PTX:      .maxntid 256, 1, 1
// PTX-DAG:  cp.async.cg.shared.global [{{.*}}], [{{.*}}], 16, {{.*}};
// PTX-DAG:  fence.proxy.async.shared::cta;
// PTX-DAG:  wgmma.fence.sync.aligned;
// PTX-DAG:  wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {{.*}}, 0, 1, 1, 0, 0;
// PTX-DAG:  wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {{.*}}, {{{.*}}}, {{.*}}, 1, 1, 1, 1;
// PTX-DAG:  wgmma.commit_group.sync.aligned;
// PTX-DAG:  wgmma.wait_group.sync.aligned 0;
// PTX-DAG:  ex2.approx.ftz.f32
// PTX-NOT:  ldmatrix
// PTX-NOT:  mma.sync
// PTX-NOT:  __nv_
// PTX-NOT:  .local

// MMA:      .target sm_90a
// MMA:      mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// MMA-NOT:  wgmma

// ONE:      .maxntid 128, 1, 1
// ONE:      wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {{.*}}, 0, 1, 1, 0, 0;

// BADTILE: the wgmma kernel needs tile-queries 64 or 128 (a warpgroup per 64 rows)

// SASS:     Compiling entry function 'longnet_block_kernel0' for 'sm_90a'
// SASS:     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads

func.func @longnet_block(%q: tensor<1x4096x16x128xbf16>,
                         %k: tensor<1x4096x16x128xbf16>,
                         %v: tensor<1x4096x16x128xbf16>)
    -> tensor<1x4096x16x128xbf16> {
  %o = dilattn.dilated_attention %q, %k, %v
      segment_lengths = [512, 1024, 2048, 4096] dilation_rates = [1, 2, 4, 8]
      : (tensor<1x4096x16x128xbf16>, tensor<1x4096x16x128xbf16>,
         tensor<1x4096x16x128xbf16>) -> tensor<1x4096x16x128xbf16>
  return %o : tensor<1x4096x16x128xbf16>
}
