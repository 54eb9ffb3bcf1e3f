// Input that crashes Debian's MLIR 22 parser (llvm/llvm-project#179045) is
// refused with a diagnostic before parsing; dilattn-opt exits non-zero.
// RUN: not dilattn-opt %s 2>&1 | FileCheck %s
// RUN: not dilattn-opt < %s 2>&1 | FileCheck %s --check-prefix=STDIN
// Options that read no input still work.
// RUN: dilattn-opt --show-dialects | FileCheck %s --check-prefix=DIALECTS

// CHECK: parser-hazards.mlir:[[# @LINE + 3]]:32: error: dense array element type must be an integer or float type of fixed width, not 'index'
// CHECK-SAME: llvm/llvm-project#179045
// STDIN: <stdin>:[[# @LINE + 1]]:32: error: dense array element type
func.func @f() attributes {a = array<index: 1, 2>} {
  return
}
// DIALECTS: dilattn
