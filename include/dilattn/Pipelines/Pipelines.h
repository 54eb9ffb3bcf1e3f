//===- Pipelines.h - registered dilattn pass pipelines ----------*- C++ -*-===//
//
// The pipelines that dilattn-opt and the JIT share, so both run the very same
// passes with the very same options.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_PIPELINES_PIPELINES_H
#define DILATTN_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassOptions.h"

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace dilattn {

/// Options of `dilattn-cpu-pipeline`.
struct CpuPipelineOptions
    : public mlir::PassPipelineOptions<CpuPipelineOptions> {
  Option<int64_t> vectorWidth{
      *this, "vector-width",
      llvm::cl::desc("f32 lanes of a vector register: 8 for AVX2, 16 for "
                     "AVX-512"),
      llvm::cl::init(8)};
  Option<int64_t> tileQueries{*this, "tile-queries",
                              llvm::cl::desc("query rows per register tile"),
                              llvm::cl::init(4)};
  Option<int64_t> tileKeys{
      *this, "tile-keys",
      llvm::cl::desc("keys per block (a multiple of vector-width)"),
      llvm::cl::init(16)};
  Option<bool> fusePatterns{
      *this, "fuse-patterns",
      llvm::cl::desc("fold all patterns of a call into one online-softmax "
                     "state"),
      llvm::cl::init(true)};
};

/// dilattn programs down to the LLVM dialect: functions on tensors are
/// decomposed (multi-head blocks), normalised (masks) and bufferized; kernels
/// in buffer form are tiled by segment, fused and lowered to vector code; then
/// the standard conversions to LLVM.
void buildCpuPipeline(mlir::OpPassManager &pm,
                      const CpuPipelineOptions &options);

/// Registers `dilattn-cpu-pipeline` for command-line tools.
void registerCpuPipeline();

} // namespace dilattn

#endif // DILATTN_PIPELINES_PIPELINES_H
