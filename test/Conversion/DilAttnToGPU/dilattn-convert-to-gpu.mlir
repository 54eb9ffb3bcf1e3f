// RUN: dilattn-opt %s --dilattn-convert-to-gpu --split-input-file --verify-diagnostics | FileCheck %s --enable-var-scope

// Grouped mode: one persistent kernel for all patterns, launched once with
// one block per work item; the dilated rows are copied in place (cp.async of
// 16-byte chunks), both products run on tensor cores.
// CHECK: module attributes {gpu.container_module}
// CHECK-LABEL: func.func @grouped
// CHECK-SAME:    (%[[Q:[a-z0-9]+]]: memref<2x1000x6x64xbf16>
// CHECK:         %[[QC:.*]] = memref.cast %[[Q]] : memref<2x1000x6x64xbf16> to memref<?x?x?x64xbf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK:         scf.if
// CHECK:           %[[SMEM:.*]] = arith.constant 46080 : i32
// CHECK:           gpu.launch_func @grouped__dilattn_gpu::@grouped_kernel0 blocks in ({{.*}}) threads in ({{.*}}) dynamic_shared_memory_size %[[SMEM]] args(%[[QC]] : {{.*}})
// CHECK-NOT:     gpu.launch_func
// CHECK:         return
// CHECK:       gpu.module @grouped__dilattn_gpu
// CHECK:         gpu.func @grouped_kernel0({{.*}}) kernel attributes {known_block_size = array<i32: 128, 1, 1>, nvvm.minctasm = 2 : i32}
// CHECK-DAG:       gpu.dynamic_shared_memory
// CHECK-DAG:       gpu.grid_dim x
// CHECK:           scf.for
// CHECK:             nvgpu.device_async_copy {{.*}} 8, %{{.*}} {bypassL1}
// CHECK:             nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = false}
// CHECK:             nvvm.mma.sync {{.*}} multiplicandAPtxType = #nvvm.mma_type<bf16>{{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK:             llvm.inline_asm "ex2.approx.ftz.f32 $0, $1;", "=f,f"
// CHECK:             nvgpu.ldmatrix {{.*}} {numTiles = 4 : i32, transpose = true}
// CHECK:             gpu.barrier
func.func @grouped(%q: memref<2x1000x6x64xbf16>, %k: memref<2x1000x6x64xbf16>,
                   %v: memref<2x1000x6x64xbf16>, %o: memref<2x1000x6x64xbf16>) {
  dilattn.write_dilated_attention ins(%q, %k, %v) outs(%o)
      segment_lengths = [128, 512] dilation_rates = [1, 2] block_size = 128
      : memref<2x1000x6x64xbf16>, memref<2x1000x6x64xbf16>,
        memref<2x1000x6x64xbf16>, memref<2x1000x6x64xbf16>
  return
}

// -----

// Longnet mode: one launch per pattern over a log-sum-exp workspace that the
// host code allocates and frees; masks are passed as biases.
// CHECK-LABEL: func.func @longnet
// CHECK:         %[[WS:.*]] = gpu.alloc (%{{.*}}) : memref<?xf32>
// CHECK:         gpu.launch_func @longnet__dilattn_gpu::@longnet_kernel0
// CHECK-SAME:      args({{.*}}, %[[WS]] : memref<?xf32>, %{{.*}} : memref<?x?xf32, strided<[?, ?], offset: ?>>, %{{.*}} : memref<?x?x?xf32, strided<[?, ?, ?], offset: ?>>)
// CHECK:         gpu.launch_func @longnet__dilattn_gpu::@longnet_kernel1
// CHECK:         gpu.launch_func @longnet__dilattn_gpu::@longnet_kernel2
// CHECK:         gpu.dealloc %[[WS]] : memref<?xf32>
// CHECK:       gpu.module @longnet__dilattn_gpu
// CHECK-COUNT-3: gpu.func @longnet_kernel
func.func @longnet(%q: memref<1x?x4x128xf16>, %k: memref<1x?x4x128xf16>,
                   %v: memref<1x?x4x128xf16>, %o: memref<1x?x4x128xf16>,
                   %kb: memref<1x?xf32>, %ab: memref<1x?x?xf32>) {
  dilattn.write_dilated_attention ins(%q, %k, %v) key_padding_mask(%kb : memref<1x?xf32>)
      attn_mask(%ab : memref<1x?x?xf32>) outs(%o)
      segment_lengths = [64, 128, 256] dilation_rates = [1, 2, 4]
      mode = longnet offset_rule = blocked causal block_size = 64
      : memref<1x?x4x128xf16>, memref<1x?x4x128xf16>, memref<1x?x4x128xf16>,
        memref<1x?x4x128xf16>
  return
}

// -----

// f32 takes the CUDA-core kernel: 4 threads per query row (256 for 64
// rows), blocks of 16 keys and values in shared memory (2 x 16 x 64 f32),
// vector FMAs, a quad reduction of the dot products, no tensor cores.
// CHECK-LABEL: func.func @f32
// CHECK:         %[[SMEM:.*]] = arith.constant 8192 : i32
// CHECK:         gpu.launch_func @f32__dilattn_gpu::@f32_kernel0 {{.*}} threads in (%{{.*}}, %{{.*}}, %{{.*}}) dynamic_shared_memory_size %[[SMEM]]
// CHECK:       gpu.func @f32_kernel0({{.*}}) kernel attributes {known_block_size = array<i32: 256, 1, 1>
// CHECK-NOT:     nvvm.mma.sync
// CHECK-NOT:     math.
// CHECK:         gpu.dynamic_shared_memory
// CHECK:         scf.for
// CHECK:           gpu.barrier
// CHECK:           vector.load {{.*}} {alignment = 16 : i64} : memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>, #gpu.address_space<global>>, vector<4xf32>
// CHECK:           vector.store {{.*}} {alignment = 16 : i64} : memref<16x64xf32, #gpu.address_space<workgroup>>, vector<4xf32>
// CHECK:           gpu.barrier
// CHECK:           vector.fma
// CHECK:           gpu.shuffle  xor %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK-NOT:     math.
// CHECK:         gpu.return
func.func @f32(%q: memref<1x256x2x64xf32>, %k: memref<1x256x2x64xf32>,
               %v: memref<1x256x2x64xf32>, %o: memref<1x256x2x64xf32>) {
  dilattn.write_dilated_attention ins(%q, %k, %v) outs(%o)
      segment_lengths = [64] dilation_rates = [2] block_size = 64
      : memref<1x256x2x64xf32>, memref<1x256x2x64xf32>,
        memref<1x256x2x64xf32>, memref<1x256x2x64xf32>
  return
}

// -----

func.func @head_dim(%q: memref<1x256x2x96xbf16>, %o: memref<1x256x2x96xbf16>) {
  // expected-error @below {{'dilattn.write_dilated_attention' op head dim 96 is not supported by target cuda (supported: 64, 128)}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o)
      segment_lengths = [64] dilation_rates = [1] block_size = 64
      : memref<1x256x2x96xbf16>, memref<1x256x2x96xbf16>,
        memref<1x256x2x96xbf16>, memref<1x256x2x96xbf16>
  return
}

// -----

func.func @items(%q: memref<1x256x2x64xbf16>, %o: memref<1x256x2x64xbf16>,
                 %b: index, %e: index) {
  // expected-error @below {{'dilattn.write_dilated_attention' op with an items range cannot be converted to GPU kernels (the range is the CPU runtime's split)}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o) items(%b, %e)
      segment_lengths = [64] dilation_rates = [1] block_size = 64
      : memref<1x256x2x64xbf16>, memref<1x256x2x64xbf16>,
        memref<1x256x2x64xbf16>, memref<1x256x2x64xbf16>
  return
}
