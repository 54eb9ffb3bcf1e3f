//===- CudaGraph.h - compiled graphs on target cuda -------------*- C++ -*-===//
//
// The part of CompiledGraph that runs on a CUDA GPU: a jit::CudaProgram,
// its kernel images loaded per device, and the replay of its launches on
// device buffers. Private to lib/API.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_LIB_API_CUDAGRAPH_H
#define DILATTN_LIB_API_CUDAGRAPH_H

#include "dilattn/API/Graph.h"
#include "dilattn/JIT/ModuleRunner.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace dilattn::detail {

class CudaGraph;

/// Compiles (or finds in the process's cache) @entry of `source` for the
/// chip of `options.cudaChip`, or of device `options.device` when that is
/// empty. `compiled` tells whether this call compiled it.
llvm::Expected<std::shared_ptr<CudaGraph>>
getCudaGraph(llvm::StringRef source, llvm::StringRef sourceName,
             llvm::StringRef entry, const GraphCompileOptions &options,
             bool &compiled);

const jit::CudaProgram &getProgram(const CudaGraph &graph);

/// Copies host inputs to device `device`, runs, copies the outputs back.
llvm::Error runOnHostBuffers(CudaGraph &graph, int device,
                             llvm::ArrayRef<const void *> inputs,
                             llvm::ArrayRef<float *> outputs);

/// Runs on caller-owned device buffers on `stream`; returns when done. With
/// `launchMs`, also times each launch.
llvm::Error runOnDeviceBuffers(CudaGraph &graph, int device,
                               llvm::ArrayRef<uint64_t> inputs,
                               llvm::ArrayRef<uint64_t> outputs, void *stream,
                               std::vector<double> *launchMs = nullptr);

} // namespace dilattn::detail

#endif // DILATTN_LIB_API_CUDAGRAPH_H
