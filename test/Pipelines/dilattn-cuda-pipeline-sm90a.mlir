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
//
// The warp-specialised kernel (kernel=wgmma-tma): the host code makes a
// tensor map of Q, K and V per pattern over the (B, N/r, r, H, D) view of
// the rows; each kernel takes them first, by value (.param .align 64 .b8
// [128]); a producer warpgroup issues the TMA copies on mbarriers and hands
// its registers to the compute warpgroups (setmaxnreg); no cp.async and no
// block-wide barrier in the loop. ptxas accepts it (setmaxnreg honoured: no
// C7508 warning).
// RUN: dilattn-opt %s --dilattn-cuda-pipeline="chip=sm_90a kernel=wgmma-tma" -o %t.tma.mlir
// RUN: FileCheck %s --input-file=%t.tma.mlir --check-prefix=TMAHOST
// RUN: %python %S/Inputs/extract_ptx.py %t.tma.mlir > %t.tma.ptx
// RUN: FileCheck %s --input-file=%t.tma.ptx --check-prefix=TMA
// RUN: %if ptxas %{ %ptxas -arch=sm_90a -O3 -v %t.tma.ptx -o %t.tma.cubin 2>&1 | FileCheck %s --check-prefix=TMASASS %}

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

// TMAHOST:      memref.expand_shape %{{.*}} {{\[}}[0], [1, 2], [3], [4]]
// TMAHOST:      nvgpu.tma.create.descriptor %{{.*}} box[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] : memref<*xbf16> -> <tensor = memref<1x128x1x1x64xbf16, #gpu.address_space<workgroup>>, swizzle = swizzle_128b
// TMAHOST:      gpu.launch_func @longnet_block__dilattn_gpu::@longnet_block_kernel0

// TMA:      .entry longnet_block_kernel0(
// TMA-NEXT: .param .align 64 .b8 longnet_block_kernel0_param_0[128],
// TMA-NEXT: .param .align 64 .b8 longnet_block_kernel0_param_1[128],
// TMA-NEXT: .param .align 64 .b8 longnet_block_kernel0_param_2[128],
// TMA:      .maxntid 384, 1, 1
// TMA-NEXT: .minnctapersm 1
// TMA-DAG:  mbarrier.init.shared::cta.b64
// TMA-DAG:  fence.mbarrier_init.release.cluster;
// TMA-DAG:  setmaxnreg.dec.sync.aligned.u32 24;
// TMA-DAG:  setmaxnreg.inc.sync.aligned.u32 240;
// TMA-DAG:  mbarrier.arrive.expect_tx.shared::cta.b64
// TMA-DAG:  cp.async.bulk.tensor.5d.shared::cluster.global.mbarrier::complete_tx::bytes
// TMA-DAG:  mbarrier.try_wait.parity.shared::cta.b64
// TMA-DAG:  mbarrier.arrive.shared::cta.b64
// TMA-DAG:  bar.sync {{%r[0-9]+}}, {{%r[0-9]+}};
// TMA-DAG:  bar.arrive {{%r[0-9]+}}, {{%r[0-9]+}};
// TMA-DAG:  wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// TMA-NOT:  cp.async.cg
// TMA-NOT:  .local

// TMASASS:     Compiling entry function 'longnet_block_kernel0' for 'sm_90a'
// TMASASS-NOT: C7508

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
