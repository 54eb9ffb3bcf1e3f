// The warp-specialised TMA kernel's limits, checked when it is generated:
// wgmma (and so 16-bit inputs) is required, a grouped launch takes at most
// 8 patterns (3 tensor maps of 128 bytes each in the kernel parameters),
// and a tiling must fit the 227 KiB of shared memory a block may have.
// RUN: dilattn-opt %s --dilattn-convert-to-gpu="wgmma=true tma=true" --split-input-file --verify-diagnostics | FileCheck %s

// CHECK-LABEL: func.func @fits
// CHECK-COUNT-3: nvgpu.tma.create.descriptor
// CHECK:         gpu.launch_func
// CHECK-LABEL: gpu.func @fits_kernel0(
// CHECK-SAME:    %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr,
// CHECK-SAME:    dilattn.tensor_map_params = 3
// CHECK-SAME:    known_block_size = array<i32: 384, 1, 1>
func.func @fits(%q: memref<1x256x2x64xbf16>, %o: memref<1x256x2x64xbf16>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o)
      segment_lengths = [128] dilation_rates = [2] block_size = 64
      : memref<1x256x2x64xbf16>, memref<1x256x2x64xbf16>,
        memref<1x256x2x64xbf16>, memref<1x256x2x64xbf16>
  return
}

// -----

func.func @f32(%q: memref<1x256x2x64xf32>, %o: memref<1x256x2x64xf32>) {
  // expected-error @below {{the warp-specialised TMA kernel needs wgmma (chip sm_90a) and f16 or bf16 inputs}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o)
      segment_lengths = [64] dilation_rates = [1] block_size = 64
      : memref<1x256x2x64xf32>, memref<1x256x2x64xf32>,
        memref<1x256x2x64xf32>, memref<1x256x2x64xf32>
  return
}

// -----

func.func @patterns(%q: memref<1x512x16x64xbf16>, %o: memref<1x512x16x64xbf16>) {
  // expected-error @below {{the warp-specialised TMA kernel takes at most 8 patterns per launch}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o)
      segment_lengths = [8, 16, 32, 64, 128, 256, 512, 512, 512]
      dilation_rates = [1, 1, 1, 1, 1, 1, 1, 2, 4] block_size = 64
      : memref<1x512x16x64xbf16>, memref<1x512x16x64xbf16>,
        memref<1x512x16x64xbf16>, memref<1x512x16x64xbf16>
  return
}
