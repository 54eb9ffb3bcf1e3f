// dilattn-gpu-grid-constant-params: the leading parameters that
// dilattn-convert-to-gpu marked as tensor maps become 128-byte by-value
// __grid_constant__ parameters; the rest stay as they are.
// RUN: dilattn-opt %s --split-input-file --verify-diagnostics \
// RUN:   --pass-pipeline="builtin.module(gpu.module(dilattn-gpu-grid-constant-params))" | FileCheck %s

// CHECK-LABEL: llvm.func @kern(
// CHECK-SAME:    %arg0: !llvm.ptr {llvm.align = 64 : i64, llvm.byval = !llvm.array<128 x i8>, nvvm.grid_constant},
// CHECK-SAME:    %arg1: !llvm.ptr {llvm.align = 64 : i64, llvm.byval = !llvm.array<128 x i8>, nvvm.grid_constant},
// CHECK-SAME:    %arg2: !llvm.ptr, %arg3: i64)
// CHECK-NOT:   dilattn.tensor_map_params
module attributes {gpu.container_module} {
  gpu.module @k {
    llvm.func @kern(%a: !llvm.ptr, %b: !llvm.ptr, %c: !llvm.ptr, %d: i64)
        attributes {dilattn.tensor_map_params = 2 : i64, nvvm.kernel} {
      llvm.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @k {
    // expected-error @below {{tensor-map parameter 0 is not a pointer}}
    llvm.func @kern(%a: i64) attributes {dilattn.tensor_map_params = 1 : i64} {
      llvm.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @k {
    // expected-error @below {{marks 3 tensor-map parameters of 1}}
    llvm.func @kern(%a: !llvm.ptr) attributes {dilattn.tensor_map_params = 3 : i64} {
      llvm.return
    }
  }
}
