//===- CudaKernelChoice.h - which tensor-core attention kernel -*- C++ -*-===//
//
// The choice between the Hopper and the sm_80 tensor-core attention kernels,
// shared by the pipeline options and the JIT's tuning (no MLIR needed).
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_PIPELINES_CUDAKERNELCHOICE_H
#define DILATTN_PIPELINES_CUDAKERNELCHOICE_H

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>

namespace dilattn {

/// Which f16/bf16 attention kernel dilattn-cuda-pipeline generates.
enum class CudaKernelChoice {
  /// wgmma on sm_90a (the only chip that has it), mma.sync elsewhere.
  Auto,
  /// Warpgroup MMAs over 128-byte-swizzled tiles (sm_90a only), tiles
  /// loaded by cp.async in every thread.
  Wgmma,
  /// Warpgroup MMAs, warp-specialised: a producer warpgroup loads the tiles
  /// by TMA through tensor maps that the runtime passes (sm_90a only; the
  /// dilation rates must divide the sequence length).
  WgmmaTma,
  /// ldmatrix + mma.sync (sm_80 and later).
  MmaSync,
};

/// "auto", "wgmma", "wgmma-tma" or "mma-sync".
llvm::StringRef stringifyCudaKernelChoice(CudaKernelChoice choice);
std::optional<CudaKernelChoice> parseCudaKernelChoice(llvm::StringRef text);

/// Whether `chip` gets a wgmma kernel under `choice`.
bool usesWgmmaKernel(CudaKernelChoice choice, llvm::StringRef chip);
/// Whether `choice` asks for the warp-specialised TMA kernel.
bool usesTmaKernel(CudaKernelChoice choice);

/// The chip to compile for on a device of compute capability major.minor:
/// "sm_90a" on 9.0 (wgmma and setmaxnreg need the architecture-specific
/// target), "sm_XY" elsewhere.
std::string cudaChipForDevice(int major, int minor);

} // namespace dilattn

#endif // DILATTN_PIPELINES_CUDAKERNELCHOICE_H
