//===- Pipelines.h - registered dilattn pass pipelines ----------*- C++ -*-===//
//
// The pipelines that dilattn-opt and the JIT share, so both run the very same
// passes with the very same options.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_PIPELINES_PIPELINES_H
#define DILATTN_PIPELINES_PIPELINES_H

#include "dilattn/Pipelines/CudaKernelChoice.h"

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
  Option<bool> vectorizeLinalg{
      *this, "vectorize-linalg",
      llvm::cl::desc("tile and vectorize the linalg ops of functions on "
                     "tensors (projections, layer norm, elementwise ops); "
                     "off: scalar loops"),
      llvm::cl::init(true)};
  Option<int64_t> matmulTileRows{
      *this, "matmul-tile-rows",
      llvm::cl::desc("rows of a matmul register tile (0: from vector-width)"),
      llvm::cl::init(0)};
  Option<bool> parallel{
      *this, "parallel",
      llvm::cl::desc("run parallel loops and attention calls without an "
                     "item range on the runtime's thread pool "
                     "(dilattn_parallel_for)"),
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

/// Options of `dilattn-cuda-pipeline`.
struct CudaPipelineOptions
    : public mlir::PassPipelineOptions<CudaPipelineOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("the GPU architecture, e.g. sm_90"),
                           llvm::cl::init("sm_90")};
  Option<std::string> features{
      *this, "features",
      llvm::cl::desc("PTX features; sm_90 needs +ptx80 or newer"),
      llvm::cl::init("+ptx80")};
  Option<int64_t> optLevel{*this, "opt-level",
                           llvm::cl::desc("LLVM optimisation level of the "
                                          "device code"),
                           llvm::cl::init(3)};
  Option<int64_t> tileQueries{
      *this, "tile-queries",
      llvm::cl::desc("selected queries per thread block (16 per warp; 0: the "
                     "kernel's best)"),
      llvm::cl::init(0)};
  Option<int64_t> tileKeys{*this, "tile-keys",
                           llvm::cl::desc("keys per shared-memory stage (0: "
                                          "the kernel's best)"),
                           llvm::cl::init(0)};
  Option<int64_t> stages{
      *this, "stages",
      llvm::cl::desc("key/value blocks in flight in shared memory (0: the "
                     "kernel's best)"),
      llvm::cl::init(0)};
  Option<CudaKernelChoice> kernel{
      *this, "kernel", llvm::cl::desc("the f16/bf16 attention kernel"),
      llvm::cl::init(CudaKernelChoice::Auto),
      llvm::cl::values(clEnumValN(CudaKernelChoice::Auto, "auto",
                                  "wgmma on sm_90a, mma-sync elsewhere"),
                       clEnumValN(CudaKernelChoice::Wgmma, "wgmma",
                                  "warpgroup MMAs (needs chip sm_90a)"),
                       clEnumValN(CudaKernelChoice::WgmmaTma, "wgmma-tma",
                                  "warp-specialised wgmma fed by TMA "
                                  "(sm_90a; r must divide N)"),
                       clEnumValN(CudaKernelChoice::MmaSync, "mma-sync",
                                  "ldmatrix + mma.sync (sm_80 and later)"))};
  Option<std::string> format{
      *this, "format",
      llvm::cl::desc("what gpu-module-to-binary embeds: isa (PTX), bin "
                     "(cubin, needs ptxas), fatbin, llvm, offloading"),
      llvm::cl::init("isa")};
};

/// dilattn programs to CUDA: the tensor-program steps of the CPU pipeline
/// (decomposition, mask normalisation, bufferization), then kernels generated
/// into gpu.module ops (dilattn-convert-to-gpu) and lowered through NVVM to
/// PTX (or cubin); the host side keeps gpu.launch_func operations.
void buildCudaPipeline(mlir::OpPassManager &pm,
                       const CudaPipelineOptions &options);

/// Registers `dilattn-cuda-pipeline` for command-line tools.
void registerCudaPipeline();

/// The steps shared by both pipelines: functions on tensors decomposed,
/// masks normalised to biases, everything bufferized with results as
/// out-parameters.
void buildBufferizationSteps(mlir::OpPassManager &pm);

} // namespace dilattn

#endif // DILATTN_PIPELINES_PIPELINES_H
