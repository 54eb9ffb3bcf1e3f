//===- Modes.h - dilattn-run's modes, one file each -------------*- C++ -*-===//
//
// main() picks one mode from the command line (docs/Contract.md section 5):
//
//   single call, target cpu     CpuCall.cpp
//   --backward, target cpu      CpuBackward.cpp
//   single call, target cuda    CudaCall.cpp
//   single call, --world-size   SequenceParallel.cpp
//   FILE.mlir, target cpu       CpuModule.cpp
//   FILE.mlir, target cuda      CudaModule.cpp
//
// Each prints its summary line, writes its outputs and, as asked, checks
// (Check.h) and times (Bench.h). Every refusal is the returned error.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_TOOLS_DILATTN_RUN_MODES_H
#define DILATTN_TOOLS_DILATTN_RUN_MODES_H

#include "Call.h"
#include "Options.h"

#include "dilattn/Runtime/CpuRuntime.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace dilattn::run {

/// One call on host buffers over a thread pool.
llvm::Error runCpuCall(const Call &call, const CallOptions &options);
/// The host API's options of a CPU run on `pool` (tuning from the command
/// line), shared by the forward and the backward modes.
RunOptions cpuRunOptions(const CallOptions &options, runtime::ThreadPool &pool);

/// The forward pass with its statistics and the backward pass of one call
/// on host buffers (--backward, issue 18).
llvm::Error runCpuBackward(const Call &call, const CallOptions &options);
/// One call on the GPU: the inputs rounded to --dtype (in `call` too, so that
/// --check compares with the reference of what ran), run on device buffers.
llvm::Error runCudaCall(Call &call, const CallOptions &options);

/// One call split over --world-size in-process ranks (LongNet's sequence
/// parallelism, docs/distributed.md).
llvm::Error runSequenceParallel(const Call &call, const CallOptions &options);

/// Module mode: `source`, the text of options.file, compiled for the CPU.
llvm::Error runCpuModule(llvm::StringRef source, const ModuleOptions &options);

/// Module mode: `source`, the text of options.file, compiled for the GPU.
llvm::Error runCudaModule(llvm::StringRef source, const ModuleOptions &options);

} // namespace dilattn::run

#endif // DILATTN_TOOLS_DILATTN_RUN_MODES_H
