// The CUDA pipeline down to PTX (in-process, no toolkit needed): tensor-core
// instructions, cp.async straight from the strided rows, ex2 softmax.
// RUN: dilattn-opt %s --dilattn-cuda-pipeline -o %t.mlir
// RUN: FileCheck %s --input-file=%t.mlir --check-prefix=HOST
// RUN: %python %S/Inputs/extract_ptx.py %t.mlir > %t.ptx
// RUN: FileCheck %s --input-file=%t.ptx --check-prefix=PTX
//
// With the toolkit's ptxas: the PTX assembles for sm_90 and the main kernel
// keeps everything in registers (no local-memory spills).
// RUN: %if ptxas %{ %ptxas -arch=sm_90 -O3 -v %t.ptx -o %t.cubin 2>&1 | FileCheck %s --check-prefix=SASS %}

// A tensor program: bufferized, results become out-parameters, the kernel
// embedded as PTX, the host code launching it.
// HOST-LABEL: func.func @longnet_block
// HOST-SAME:    (%{{.*}}: memref<1x4096x16x128xbf16>, %{{.*}}: memref<1x4096x16x128xbf16>, %{{.*}}: memref<1x4096x16x128xbf16>, %{{.*}}: memref<1x4096x16x128xbf16>)
// HOST-NOT:     dilattn.
// HOST:         gpu.launch_func @longnet_block__dilattn_gpu::@longnet_block_kernel0
// HOST:       gpu.binary @longnet_block__dilattn_gpu
// HOST-SAME:    #nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">

// PTX:      .version 8.0
// PTX:      .target sm_90
// PTX:      .entry longnet_block_kernel0(
// PTX:      .maxntid 128, 1, 1
// PTX-DAG:  cp.async.cg.shared.global [{{.*}}], [{{.*}}], 16, {{.*}};
// PTX-DAG:  cp.async.commit_group;
// PTX-DAG:  cp.async.wait_group 0;
// PTX-DAG:  ldmatrix.sync.aligned.m8n8.x4.shared.b16
// PTX-DAG:  ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
// PTX-DAG:  mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX-DAG:  ex2.approx.ftz.f32
// PTX-DAG:  shfl.sync.bfly.b32
// PTX-DAG:  bar.sync 0;
// PTX-NOT:  __nv_
// PTX-NOT:  .local

// SASS:     Compiling entry function 'longnet_block_kernel0' for 'sm_90'
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
