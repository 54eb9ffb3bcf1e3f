//===- KernelPlan.h - what one CUDA kernel is specialised for -------------===//
//
// The plan of one generated attention kernel (patterns, mode, masks, types,
// tiling) and its shared-memory budget, shared by the kernel generators and
// the pass that launches them.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_LIB_CONVERSION_DILATTNTOGPU_KERNELPLAN_H
#define DILATTN_LIB_CONVERSION_DILATTNTOGPU_KERNELPLAN_H

#include "mlir/IR/Types.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>

namespace mlir::dilattn::cuda {

constexpr double kLog2E = 1.4426950408889634;
constexpr int64_t kWarpSize = 32;
constexpr int64_t kWarpgroupThreads = 4 * kWarpSize;
/// Shared-memory rows are padded by 16 bytes so that the 8 rows an ldmatrix
/// reads fall into different banks.
constexpr int64_t kRowPaddingBytes = 16;
/// The f32 kernel: threads per query row (each holds D/4 of its columns, as
/// vectors of 4) and keys per shared-memory block.
constexpr int64_t kSimtLanesPerQuery = 4;
constexpr int64_t kSimtKeys = 16;
/// wgmma tiles: rows of 128 bytes (64 16-bit elements) whose 16-byte chunks
/// are permuted by the row's index modulo 8, so one swizzle atom is 8 rows.
constexpr int64_t kSwizzleRowBytes = 128;
constexpr int64_t kSwizzleAtomBytes = 8 * kSwizzleRowBytes;
/// Dynamic shared memory a block may opt into on sm_90 (227 KiB; sm_80
/// allows 163 KiB, where the cp.async kernels' defaults stay far below).
constexpr int64_t kMaxSharedMemoryBytes = 227 * 1024;

/// How a launch writes its results.
enum class OutputMode {
  /// Normalised output times `outputScale`, plus zeros where the pattern
  /// selects nothing (grouped mode).
  Store,
  /// Like Store, and the log-sum-exp of every position into the workspace
  /// (the first pattern of a longnet call).
  Init,
  /// Merged into the output and workspace of the earlier patterns, rows the
  /// pattern selects only.
  Merge,
};

/// Everything one generated kernel is specialised for.
struct KernelPlan {
  SmallVector<int64_t> segmentLengths;
  SmallVector<int64_t> dilationRates;
  /// The patterns this launch covers (all in grouped mode, one in longnet).
  SmallVector<int64_t> patterns;
  bool grouped = true;
  bool blockedOffsets = false;
  bool causal = false;
  double scaleLog2 = 0;
  int64_t headDim = 0;
  Type elementType;
  bool tensorCores = false;
  /// Hopper (sm_90a): Q K^T and P V on warpgroup MMAs (wgmma) reading
  /// 128-byte-swizzled shared-memory tiles, instead of ldmatrix + mma.sync.
  bool wgmma = false;
  /// Warp-specialised (sm_90a, with wgmma): a producer warpgroup loads the
  /// Q, K and V tiles by TMA (a tensor map per operand and pattern, kernel
  /// parameters 0 ... 3P - 1) and tracks stages on mbarriers; the compute
  /// warpgroups wait on those barriers instead of a block-wide one.
  bool tma = false;
  bool hasKeyBias = false;
  int64_t attnRank = 0;
  OutputMode output = OutputMode::Store;
  double outputScale = 1.0;
  int64_t tileQueries = 64;
  int64_t tileKeys = 64;
  int64_t stages = 2;

  int64_t numPatternsTotal() const { return segmentLengths.size(); }
  /// Warps that compute (16 query rows each on tensor cores).
  int64_t warps() const { return tileQueries / 16; }
  int64_t computeThreads() const {
    return tensorCores ? warps() * kWarpSize : tileQueries * kSimtLanesPerQuery;
  }
  /// Threads of a block: the compute threads, after the producer warpgroup
  /// when warp-specialised.
  int64_t threads() const {
    return computeThreads() + (tma ? kWarpgroupThreads : 0);
  }
  /// mbarriers of the warp-specialised kernel: the query tile's full and
  /// empty, then full and empty per stage.
  int64_t barrierCount() const { return tma ? 2 + 2 * stages : 0; }
  int64_t elementBytes() const {
    return elementType.getIntOrFloatBitWidth() / 8;
  }
  /// Elements of one shared-memory row: padded for ldmatrix, dense in the
  /// swizzled tiles of wgmma.
  int64_t paddedRow() const {
    return wgmma ? headDim : headDim + kRowPaddingBytes / elementBytes();
  }
  int64_t queryTileBytes() const {
    return tileQueries * paddedRow() * elementBytes();
  }
  int64_t keyStageBytes() const {
    return tileKeys * paddedRow() * elementBytes();
  }
  int64_t sharedMemoryBytes() const {
    if (!tensorCores)
      return 2 * kSimtKeys * headDim * 4;
    // Swizzled tiles start on a 1024-byte boundary (the swizzle pattern's
    // period), which dynamic shared memory does not promise.
    int64_t alignment = wgmma ? kSwizzleAtomBytes : 0;
    return alignment + queryTileBytes() + 2 * stages * keyStageBytes() +
           8 * barrierCount();
  }
  /// Byte offset of the first mbarrier from the aligned tiles.
  int64_t barrierOffset() const {
    return queryTileBytes() + 2 * stages * keyStageBytes();
  }
};

} // namespace mlir::dilattn::cuda

#endif // DILATTN_LIB_CONVERSION_DILATTNTOGPU_KERNELPLAN_H
