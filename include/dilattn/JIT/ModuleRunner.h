//===- ModuleRunner.h - compile and run whole functions ---------*- C++ -*-===//
//
// Module mode: a function on tensors made of dilattn ops and upstream tensor,
// linalg and arith ops (e.g. a LongNet block) is compiled with
// dilattn-cpu-pipeline (multi-head decomposition, mask normalisation,
// One-Shot Bufferize, segment tiling, fusion, vector lowering, LLVM) and run
// through MLIR's ExecutionEngine. Function results become caller-allocated
// output buffers.
//
// On target cuda the same function goes through dilattn-cuda-pipeline; its
// host code is then only allocations, views and kernel launches, which
// compileCudaProgram records as a CudaProgram: kernel images plus a launch
// list the runtime replays (the runtime links no MLIR).
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_JIT_MODULERUNNER_H
#define DILATTN_JIT_MODULERUNNER_H

#include "dilattn/JIT/Jit.h"
#include "dilattn/Runtime/CudaProgram.h"
#include "dilattn/Support/Problem.h"

#include "llvm/Support/Error.h"

#include <memory>

namespace dilattn::jit {

/// A host buffer for one function argument or result: f32 data, or one byte
/// per element for i1 tensors. Row-major, contiguous.
struct ModuleBuffer {
  void *data = nullptr;
  llvm::SmallVector<int64_t, 4> shape;
};

class CompiledModule {
public:
  ~CompiledModule();

  /// Parses `source` (named `sourceName` in messages), checks that `entry`
  /// exists and takes and returns ranked f32 or i1 tensors (results with
  /// static shapes), and compiles it for the host CPU.
  static llvm::Expected<std::unique_ptr<CompiledModule>>
  compile(llvm::StringRef source, llvm::StringRef sourceName,
          llvm::StringRef entry, const CpuTuning &tuning = {});

  /// Argument and result types (sizes may be kDynamicSize for arguments).
  llvm::ArrayRef<TensorSignature> getInputs() const { return inputs; }
  llvm::ArrayRef<TensorSignature> getOutputs() const { return outputs; }

  /// Effective FLOPs (docs/Contract.md section 5) of the function's attention
  /// ops whose shapes are static; 0 when none are.
  double getEffectiveFlops() const { return effectiveFlops; }

  /// Runs the function. Input shapes must match the argument types; outputs
  /// must be allocated by the caller with the result shapes.
  llvm::Error run(llvm::ArrayRef<ModuleBuffer> inputBuffers,
                  llvm::ArrayRef<ModuleBuffer> outputBuffers);

  double getCompileMs() const { return compileMs; }

private:
  CompiledModule();
  struct Impl;
  std::unique_ptr<Impl> impl;
  llvm::SmallVector<TensorSignature> inputs, outputs;
  double effectiveFlops = 0;
  double compileMs = 0;
  std::string entryName;
};

/// The compiled CUDA program is plain runtime data (Runtime/CudaProgram.h).
using runtime::cuda::CudaBufferRef;
using runtime::cuda::CudaKernelArg;
using runtime::cuda::CudaProgram;
using runtime::cuda::CudaProgramLaunch;

/// Compiles function @entry of `source` (the rules of
/// CompiledModule::compile, and all shapes static) for the CUDA chip `chip`
/// (e.g. sm_90). Needs no GPU: only ptxas, or none (PTX images).
llvm::Expected<std::unique_ptr<CudaProgram>>
compileCudaProgram(llvm::StringRef source, llvm::StringRef sourceName,
                   llvm::StringRef entry, llvm::StringRef chip,
                   const CudaTuning &tuning = {});

} // namespace dilattn::jit

#endif // DILATTN_JIT_MODULERUNNER_H
