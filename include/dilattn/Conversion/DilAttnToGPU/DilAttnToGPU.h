//===- DilAttnToGPU.h - what dilattn-convert-to-gpu supports ----*- C++ -*-===//
//
// The shapes the CUDA attention kernels are written for, for the layers
// above (the JIT and the APIs) to check calls against before compiling.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_CONVERSION_DILATTNTOGPU_DILATTNTOGPU_H
#define DILATTN_CONVERSION_DILATTNTOGPU_DILATTNTOGPU_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>

namespace mlir::dilattn::cuda {

/// The head dims dilattn-convert-to-gpu generates kernels for, ascending.
inline llvm::ArrayRef<int64_t> supportedHeadDims() {
  static constexpr int64_t dims[] = {64, 128};
  return dims;
}

/// The wgmma kernels' default tiling (tile-queries, tile-keys 0): the TMA
/// kernel's boxes have these many rows, which the runtime's tensor maps
/// must repeat (the barriers expect exactly the boxes' bytes).
constexpr int64_t kWgmmaDefaultTileQueries = 128;
constexpr int64_t kWgmmaDefaultTileKeys = 128;
/// Most patterns one launch of the TMA kernel takes: 3 maps of 128 bytes
/// each, inside the 4 KiB of kernel parameters with the other arguments.
constexpr int64_t kMaxTmaPatterns = 8;

/// On a kernel of dilattn-convert-to-gpu: how many leading parameters are
/// tensor maps (generic pointers to 128-byte CUtensorMaps), which
/// dilattn-gpu-grid-constant-params turns into by-value __grid_constant__
/// parameters once the kernel is an llvm.func.
constexpr const char kTensorMapParamsAttrName[] = "dilattn.tensor_map_params";

} // namespace mlir::dilattn::cuda

#endif // DILATTN_CONVERSION_DILATTNTOGPU_DILATTNTOGPU_H
