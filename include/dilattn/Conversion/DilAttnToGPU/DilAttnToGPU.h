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

} // namespace mlir::dilattn::cuda

#endif // DILATTN_CONVERSION_DILATTNTOGPU_DILATTNTOGPU_H
