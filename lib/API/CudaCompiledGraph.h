//===- CudaCompiledGraph.h - compiled graphs on target cuda -----*- C++ -*-===//
//
// The part of CompiledGraph that runs on a CUDA GPU: the process's cache of
// programs compiled from graph sources, and runs of a program's runner
// (runtime::cuda::CudaProgramRunner) on host or device buffers. Private to
// lib/API.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_LIB_API_CUDACOMPILEDGRAPH_H
#define DILATTN_LIB_API_CUDACOMPILEDGRAPH_H

#include "dilattn/API/Graph.h"
#include "dilattn/JIT/ModuleRunner.h"
#include "dilattn/Runtime/CudaProgramRunner.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace dilattn::detail {

/// Compiles (or finds in the process's cache) @entry of `source` for the
/// chip of `options.cudaChip`, or of device `options.device` when that is
/// empty. `compiled` tells whether this call compiled it.
llvm::Expected<std::shared_ptr<runtime::cuda::CudaProgramRunner>>
getCudaProgram(llvm::StringRef source, llvm::StringRef sourceName,
               llvm::StringRef entry, const GraphCompileOptions &options,
               bool &compiled);

/// Copies host inputs to device `device`, runs, copies the outputs back.
llvm::Error runOnHostBuffers(runtime::cuda::CudaProgramRunner &runner,
                             int device, llvm::ArrayRef<const void *> inputs,
                             llvm::ArrayRef<float *> outputs);

/// Runs on caller-owned device buffers on `stream`; returns when done. With
/// `launchMs`, also times each launch.
llvm::Error runOnDeviceBuffers(runtime::cuda::CudaProgramRunner &runner,
                               int device, llvm::ArrayRef<uint64_t> inputs,
                               llvm::ArrayRef<uint64_t> outputs, void *stream,
                               std::vector<double> *launchMs = nullptr);

} // namespace dilattn::detail

#endif // DILATTN_LIB_API_CUDACOMPILEDGRAPH_H
