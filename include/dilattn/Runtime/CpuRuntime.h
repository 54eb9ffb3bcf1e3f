//===- CpuRuntime.h - running compiled CPU kernels --------------*- C++ -*-===//
//
// The CPU side of the runtime: the kernel ABI (MLIR's strided memref
// descriptors, passed by pointer through the `_mlir_ciface_` wrapper) and the
// thread pool that hands ranges of work items to the cores. It links no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_RUNTIME_CPURUNTIME_H
#define DILATTN_RUNTIME_CPURUNTIME_H

#include "llvm/ADT/STLFunctionalExtras.h"

#include <cstddef>
#include <cstdint>
#include <memory>

namespace llvm {
class StdThreadPool;
} // namespace llvm

namespace dilattn::runtime {

/// The layout of an MLIR `memref<...xf32, strided<...>>` descriptor.
template <int Rank> struct StridedMemRef {
  float *allocated = nullptr;
  float *aligned = nullptr;
  int64_t offset = 0;
  int64_t sizes[Rank] = {};
  int64_t strides[Rank] = {};
};

/// Entry point of a compiled CPU dilated attention kernel: computes work
/// items [itemBegin, itemEnd). Mask descriptors are ignored by kernels
/// compiled without that mask.
using CpuKernelFn = void (*)(StridedMemRef<4> *query, StridedMemRef<4> *key,
                             StridedMemRef<4> *value,
                             StridedMemRef<2> *keyPaddingBias,
                             StridedMemRef<4> *attnBias,
                             StridedMemRef<4> *output, int64_t itemBegin,
                             int64_t itemEnd);

/// The layout of an MLIR `memref<?x?x?xf32, strided<...>>` descriptor of the
/// saved statistics (one log-sum-exp per row and head).
using StatisticsMemRef = StridedMemRef<3>;

/// Entry point of a forward kernel that also writes its statistics
/// (KernelKind::ForwardWithStatistics): as CpuKernelFn, plus `lse`.
using CpuForwardStatisticsKernelFn =
    void (*)(StridedMemRef<4> *query, StridedMemRef<4> *key,
             StridedMemRef<4> *value, StridedMemRef<2> *keyPaddingBias,
             StridedMemRef<4> *attnBias, StridedMemRef<4> *output,
             StatisticsMemRef *lse, int64_t itemBegin, int64_t itemEnd);

/// Entry point of a backward kernel (KernelKind::Backward): computes the
/// gradients of work items [itemBegin, itemEnd), one item per (batch, head).
using CpuBackwardKernelFn =
    void (*)(StridedMemRef<4> *query, StridedMemRef<4> *key,
             StridedMemRef<4> *value, StridedMemRef<4> *output,
             StatisticsMemRef *lse, StridedMemRef<4> *gradOutput,
             StridedMemRef<2> *keyPaddingBias, StridedMemRef<4> *attnBias,
             StridedMemRef<4> *gradQuery, StridedMemRef<4> *gradKey,
             StridedMemRef<4> *gradValue, int64_t itemBegin, int64_t itemEnd);

/// A fixed set of worker threads plus the calling thread.
class ThreadPool {
public:
  /// `numThreads` <= 0 means: $DILATTN_NUM_THREADS if set, else the number
  /// of hardware threads.
  explicit ThreadPool(int numThreads = 0);
  ~ThreadPool();

  int getNumThreads() const { return numThreads; }

  /// Runs body(begin, end) over chunks covering [0, numItems), in parallel,
  /// and returns when all are done.
  void parallelFor(int64_t numItems,
                   llvm::function_ref<void(int64_t, int64_t)> body);

  /// The process-wide pool.
  static ThreadPool &global();

private:
  int numThreads;
  std::unique_ptr<llvm::StdThreadPool> workers;
};

} // namespace dilattn::runtime

extern "C" {
/// The parallel-for that compiled programs call (module mode: see
/// dilattn-outline-parallel-work): runs body(context, begin, end) over chunks
/// covering [0, numIterations) on the process-wide thread pool and returns
/// when all are done. A plain C symbol, so that JIT-compiled code can call
/// it; module mode registers it with the ExecutionEngine.
void dilattn_parallel_for(void (*body)(void *context, int64_t begin,
                                       int64_t end),
                          void *context, int64_t numIterations);

/// Heap buffers of compiled programs (module mode maps MLIR's generic
/// allocation functions, `_mlir_memref_to_llvm_alloc` and `..._free`, to
/// these). Blocks of 1 MiB and more are kept for reuse when freed (up to
/// 1 GiB idle in all), so that a program run again does not map and
/// page-fault its temporaries afresh each time; smaller ones are malloc's.
void *dilattn_buffer_alloc(size_t size);
void *dilattn_buffer_aligned_alloc(size_t alignment, size_t size);
void dilattn_buffer_free(void *pointer);
}

#endif // DILATTN_RUNTIME_CPURUNTIME_H
