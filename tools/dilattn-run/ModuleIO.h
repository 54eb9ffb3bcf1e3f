//===- ModuleIO.h - module mode's .npy inputs and outputs -------*- C++ -*-===//
//
// What both module modes (CpuModule, CudaModule) do with --inputs and
// --outputs, given the compiled function's argument and result types.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_TOOLS_DILATTN_RUN_MODULEIO_H
#define DILATTN_TOOLS_DILATTN_RUN_MODULEIO_H

#include "Options.h"

#include "dilattn/Support/Npy.h"
#include "dilattn/Support/Problem.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <vector>

namespace dilattn::run {

/// A function's host data: its arguments as read, its results as f32.
struct ModuleData {
  std::vector<npy::Array> inputs;
  std::vector<std::vector<float>> outputs;
};

/// Reads --inputs for a function of argument types `inputTypes` (f32
/// arguments from '<f4' files, i1 arguments from '|b1' files, shapes as
/// declared), checks that --outputs names one file per result of
/// `outputTypes` and allocates the results (zeros).
llvm::Expected<ModuleData>
readModuleData(const ModuleOptions &options,
               llvm::ArrayRef<TensorSignature> inputTypes,
               llvm::ArrayRef<TensorSignature> outputTypes);

/// Writes each result to its --outputs file ('<f4', atomically).
llvm::Error writeModuleOutputs(const ModuleOptions &options,
                               llvm::ArrayRef<TensorSignature> outputTypes,
                               const ModuleData &data);

} // namespace dilattn::run

#endif // DILATTN_TOOLS_DILATTN_RUN_MODULEIO_H
