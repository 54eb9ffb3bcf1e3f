// RUN: dilattn-opt %s --pass-pipeline='builtin.module(gpu.module(dilattn-legalize-math-for-nvvm))' --split-input-file --verify-diagnostics | FileCheck %s --enable-var-scope

// exp becomes MLIR's f32 polynomial (no libdevice call), sqrt and rsqrt the
// IEEE-rounded PTX square root, fma an LLVM intrinsic.
// CHECK-LABEL: gpu.module @kernels
// CHECK:         gpu.func @layer_norm_and_gelu
// CHECK-NOT:       math.
// CHECK:           llvm.inline_asm "sqrt.rn.f32 $0, $1;", "=f,f"
// CHECK:           arith.divf
// CHECK:           llvm.intr.fma
// CHECK-NOT:       math.
// CHECK:           gpu.return
gpu.module @kernels {
  gpu.func @layer_norm_and_gelu(%x: f32, %y: f32, %out: memref<3xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %s = math.sqrt %x : f32
    %r = math.rsqrt %y : f32
    %e = math.exp %x : f32
    %f = math.fma %x, %y, %e : f32
    memref.store %s, %out[%c0] : memref<3xf32>
    memref.store %r, %out[%c1] : memref<3xf32>
    memref.store %f, %out[%c2] : memref<3xf32>
    gpu.return
  }
}

// -----

gpu.module @wide {
  gpu.func @f64_sqrt(%x: f64, %out: memref<f64>) kernel {
    // expected-error @+1 {{has no lowering for target cuda without libdevice}}
    %s = math.sqrt %x : f64
    memref.store %s, %out[] : memref<f64>
    gpu.return
  }
}

// -----

// ReLU's maxnumf and NaN-propagating maximumf as PTX max instructions.
// CHECK-LABEL: gpu.module @minmax
// CHECK:         llvm.inline_asm "max.f32 $0, $1, $2;", "=f,f,f"
// CHECK:         llvm.inline_asm "max.NaN.f32 $0, $1, $2;", "=f,f,f"
// CHECK-NOT:     arith.maxnumf
// CHECK-NOT:     arith.maximumf
gpu.module @minmax {
  gpu.func @relu(%x: f32, %out: memref<2xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %zero = arith.constant 0.0 : f32
    %r = arith.maxnumf %x, %zero : f32
    %m = arith.maximumf %x, %zero : f32
    memref.store %r, %out[%c0] : memref<2xf32>
    memref.store %m, %out[%c1] : memref<2xf32>
    gpu.return
  }
}
