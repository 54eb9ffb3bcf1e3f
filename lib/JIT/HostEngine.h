//===- HostEngine.h - ExecutionEngines for the host CPU ---------*- C++ -*-===//
//
// The ExecutionEngine that module mode and the segment kernels run code in:
// LLVM IR optimised for the host CPU's features (the vector code is written
// for its registers), with the runtime's parallel-for and buffer cache bound
// to the symbols the CPU pipeline's output calls. Internal to DilAttnJIT.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_LIB_JIT_HOSTENGINE_H
#define DILATTN_LIB_JIT_HOSTENGINE_H

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/Support/Error.h"

#include <memory>

namespace dilattn::jit {

/// JIT-compiles `module` (in the LLVM dialect, after dilattn-cpu-pipeline).
llvm::Expected<std::unique_ptr<mlir::ExecutionEngine>>
createHostEngine(mlir::ModuleOp module);

} // namespace dilattn::jit

#endif // DILATTN_LIB_JIT_HOSTENGINE_H
