//===- CudaProgram.h - a compiled CUDA program as plain data ----*- C++ -*-===//
//
// What the JIT hands the runtime for target cuda: kernel images (cubin or
// PTX), the buffers a run uses (the caller's inputs and outputs, temporaries
// the runtime allocates) and the list of kernel launches with their
// arguments. Plain data: no MLIR, no driver handles. CudaProgramRunner.h
// loads and runs it.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_RUNTIME_CUDAPROGRAM_H
#define DILATTN_RUNTIME_CUDAPROGRAM_H

#include "dilattn/Support/Problem.h"

#include "llvm/ADT/SmallVector.h"

#include <cstdint>
#include <string>
#include <vector>

namespace dilattn::runtime::cuda {

/// Where a kernel argument's memory is: the caller's input or output
/// buffer, or a temporary the runtime allocates for the run.
struct CudaBufferRef {
  enum class Kind { Input, Output, Temporary };
  Kind kind = Kind::Temporary;
  unsigned index = 0;
};

/// The element type of a tensor map (values of CUtensorMapDataType).
enum class TensorMapElement : unsigned {
  U8 = 0,
  U16 = 1,
  U32 = 2,
  I32 = 3,
  U64 = 4,
  I64 = 5,
  F16 = 6,
  F32 = 7,
  F64 = 8,
  BF16 = 9,
};

/// The shared-memory swizzle of a tensor map (values of CUtensorMapSwizzle).
enum class TensorMapSwizzle : unsigned { None = 0, B32 = 1, B64 = 2, B128 = 3 };

/// A tiled TMA tensor map over `rank` dimensions (innermost first), as
/// cuTensorMapEncodeTiled takes it; the global address is supplied when it
/// is encoded. For the strided rows of dilated attention on a B x N x H x D
/// 16-bit tensor: dims {D, H, r, ceil(N/r), B}, byteStrides {2D, 2HD, 2rHD,
/// 2NHD} (docs/CUDA.md).
struct TensorMapSpec {
  TensorMapElement element = TensorMapElement::F16;
  /// Sizes in elements, innermost first; 1 to 5 of them.
  llvm::SmallVector<uint64_t, 5> dims;
  /// Byte strides of dims[1..]: one fewer than dims, multiples of 16.
  llvm::SmallVector<uint64_t, 4> byteStrides;
  /// The box one TMA copy moves, in elements; one per dim, 1 to 256 each.
  llvm::SmallVector<uint32_t, 5> box;
  /// Element strides inside the box (1 to 8); empty means all 1.
  llvm::SmallVector<uint32_t, 5> elementStrides;
  TensorMapSwizzle swizzle = TensorMapSwizzle::None;
  /// Out-of-bounds elements read as NaN (with a zero-FMA request) rather
  /// than zero.
  bool oobFillNan = false;
  /// L2 promotion in bytes: 0, 64, 128 or 256.
  unsigned l2PromotionBytes = 0;
};

/// A kernel argument. View: a strided view of a buffer, passed as an
/// expanded memref descriptor (allocated, aligned, offset, sizes, strides).
/// Scalar: 4 or 8 bytes. TensorMap: a 128-byte CUtensorMap of a buffer,
/// encoded by the runtime from the buffer's actual device address (plus
/// `offset` elements) and passed by value (a `__grid_constant__` parameter
/// of 128 bytes aligned to 64).
struct CudaKernelArg {
  enum class Kind { View, Scalar, TensorMap };
  Kind kind = Kind::View;
  /// View and TensorMap.
  CudaBufferRef buffer;
  /// In elements; for a tensor map, added to the buffer's address.
  int64_t offset = 0;
  /// View.
  llvm::SmallVector<int64_t, 4> sizes, strides;
  /// Scalar.
  unsigned scalarBytes = 0;
  uint64_t scalarBits = 0;
  /// TensorMap.
  TensorMapSpec tensorMap;

  bool isView() const { return kind == Kind::View; }
};

/// One kernel launch.
struct CudaProgramLaunch {
  /// Index into CudaProgram::images.
  unsigned image = 0;
  /// The gpu.module the kernel came from, and its name in there.
  std::string moduleName;
  std::string kernelName;
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  /// Above 48 KiB, the runtime opts the kernel in when it loads it.
  unsigned dynamicSharedBytes = 0;
  llvm::SmallVector<CudaKernelArg, 8> args;
};

/// A compiled CUDA program: images, buffers and launches.
struct CudaProgram {
  struct Image {
    std::vector<uint8_t> bytes;
    bool isPtx = false;
  };
  /// The function it was compiled from (for messages).
  std::string entry;
  /// The caller's buffers.
  llvm::SmallVector<TensorSignature> inputs, outputs;
  /// Temporaries the runtime allocates per run (a pool per device).
  llvm::SmallVector<uint64_t> temporaryBytes;
  std::vector<Image> images;
  std::vector<CudaProgramLaunch> launches;
  double effectiveFlops = 0;
  double compileMs = 0;
};

} // namespace dilattn::runtime::cuda

#endif // DILATTN_RUNTIME_CUDAPROGRAM_H
