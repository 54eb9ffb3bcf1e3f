//===- Jit.h - specialised kernels, compiled once and cached ----*- C++ -*-===//
//
// The JIT turns a dilated attention call into a kernel specialised for
// everything that changes the code (patterns, mode, offset rule, causal, mask
// kinds, head dim, element type, target and tuning), compiles it through the
// dilattn pipeline and LLVM to a native object, loads the object with ORC,
// and caches it in memory (LRU, single flight) and on disk (versioned,
// checksummed entries). Batch, sequence length and head count stay dynamic:
// one kernel serves every shape.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_JIT_JIT_H
#define DILATTN_JIT_JIT_H

#include "dilattn/Pipelines/CudaKernelChoice.h"
#include "dilattn/Runtime/CpuRuntime.h"
#include "dilattn/Support/Problem.h"

#include "llvm/Support/Error.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dilattn::jit {

enum class Target { Cpu, Cuda };

/// Code-generation parameters of the CPU pipeline. Zero means "the best
/// known value for the host CPU" (see resolvedForHost).
struct CpuTuning {
  int64_t vectorWidth = 0;
  int64_t tileQueries = 0;
  int64_t tileKeys = 0;
  /// Positions per work item; 0 picks one from the patterns and head dim.
  int64_t blockSize = 0;
  bool fusePatterns = true;

  /// Fills the zero fields for the host: 16 f32 lanes where AVX-512 is
  /// available, else 8; 12 (AVX-512) or 8 query rows per register tile; two
  /// vectors of keys per block. Measured on config C1 (docs/benchmarks.md).
  CpuTuning resolvedForHost() const;
};

/// Code-generation parameters of the CUDA pipeline (dilattn-cuda-pipeline).
/// A field left at 0 means "the best measured value for the kernel the call
/// gets" (dilattn-convert-to-gpu's defaults).
struct CudaTuning {
  int64_t tileQueries = 0;
  int64_t tileKeys = 0;
  int64_t stages = 0;
  /// The f16/bf16 kernel; Auto picks wgmma when the chip is sm_90a.
  CudaKernelChoice kernel = CudaKernelChoice::Auto;
};

/// What a kernel computes (issue 18).
enum class KernelKind {
  /// The output (runtime::CpuKernelFn).
  Forward,
  /// The output and the per-row statistics the backward pass reads
  /// (runtime::CpuForwardStatisticsKernelFn).
  ForwardWithStatistics,
  /// The gradients of query, key and value (runtime::CpuBackwardKernelFn).
  Backward,
};

llvm::StringRef stringifyKernelKind(KernelKind kind);

/// Everything that changes the generated code.
struct KernelSpec {
  KernelKind kind = KernelKind::Forward;
  DilatedAttentionConfig config;
  int64_t headDim = 0;
  ElementKind element = ElementKind::F32;
  bool hasKeyPaddingMask = false;
  bool hasAttnMask = false;
  Target target = Target::Cpu;
  CpuTuning tuning;
  /// CUDA kernels only: the chip (e.g. "sm_90a", see cudaChipForDevice) and
  /// the tiling.
  std::string cudaChip;
  CudaTuning cudaTuning;

  /// The block size the kernel uses (tuning.blockSize or the default rule).
  int64_t blockSize() const;
  /// The cache key: a readable, canonical spelling of every field.
  std::string key() const;
};

/// A loaded kernel. Kept alive by the caches and by callers holding it.
struct CompiledKernel {
  KernelSpec spec;
  int64_t blockSize = 0;
  /// The entry point; for the other kinds, use the typed accessors below
  /// (the same address, the signature of the kind).
  runtime::CpuKernelFn entry = nullptr;
  /// Time to produce it: compile (or disk load) and link.
  double compileMs = 0;
  bool loadedFromDisk = false;

  /// Work items of a call with these sizes: (b, h, block) forward, (b, h)
  /// backward.
  int64_t numWorkItems(int64_t batch, int64_t seqLen, int64_t numHeads) const;

  // Through void (*)(), the generic function pointer type, which is how a
  // compiler is told that the cast back to the real signature is meant.
  runtime::CpuForwardStatisticsKernelFn statisticsEntry() const {
    return reinterpret_cast<runtime::CpuForwardStatisticsKernelFn>(
        reinterpret_cast<void (*)()>(entry));
  }
  runtime::CpuBackwardKernelFn backwardEntry() const {
    return reinterpret_cast<runtime::CpuBackwardKernelFn>(
        reinterpret_cast<void (*)()>(entry));
  }
};

/// One launch of a CUDA kernel image, in order.
struct CudaLaunch {
  std::string kernelName;
  int64_t blockThreads = 0;
  int64_t dynamicSharedBytes = 0;
};

/// A compiled CUDA kernel: the device image (cubin from ptxas, or PTX that
/// the driver compiles when no ptxas is found) and its launches. Loading it
/// into a device context is the runtime's business.
struct CudaKernelImage {
  std::vector<uint8_t> image;
  bool isPtx = false;
  llvm::SmallVector<CudaLaunch, 4> launches;

  /// The disk-cache payload and back (nullopt when malformed).
  std::vector<uint8_t> serialize() const;
  static std::optional<CudaKernelImage> deserialize(llvm::ArrayRef<uint8_t>);
};

struct CompiledCudaKernel {
  KernelSpec spec;
  CudaKernelImage image;
  double compileMs = 0;
  bool loadedFromDisk = false;
};

/// How a kernel request was served.
enum class CacheOutcome { MemoryHit, DiskHit, Compiled };

struct JitOptions {
  /// On-disk cache directory; empty disables the disk cache. Defaults to
  /// $DILATTN_CACHE_DIR, else $XDG_CACHE_HOME/dilattn, else ~/.cache/dilattn.
  std::string cacheDirectory;
  bool useDefaultCacheDirectory = true;
  /// Budget of the in-memory cache, in bytes of object code. Kernels beyond
  /// it are evicted least recently used first, and their code is unloaded
  /// once no caller holds them.
  size_t memoryBudgetBytes = 256u << 20;
  /// At most this many kernels compile at once (each compile takes one core
  /// and tens of MiB); further compiles of other keys wait. 0: the number of
  /// hardware threads.
  int maxConcurrentCompiles = 0;
};

struct JitStats {
  uint64_t memoryHits = 0, memoryMisses = 0;
  uint64_t diskHits = 0, diskMisses = 0, diskInvalidEntries = 0,
           diskStoreFailures = 0;
  uint64_t compiles = 0;
  /// The most compiles that ran at once (at most maxConcurrentCompiles).
  int peakConcurrentCompiles = 0;
  /// Kernels evicted from the in-memory cache, and the bytes it holds now.
  uint64_t memoryEvictions = 0;
  size_t memoryBytes = 0;
};

class Jit {
public:
  explicit Jit(JitOptions options = {});
  ~Jit();
  Jit(const Jit &) = delete;
  Jit &operator=(const Jit &) = delete;

  /// The kernel for `spec`: from memory, else from disk, else compiled (and
  /// stored). Thread-safe; concurrent requests for one key compile once.
  llvm::Expected<std::shared_ptr<const CompiledKernel>>
  getKernel(const KernelSpec &spec, CacheOutcome *outcome = nullptr);

  /// The CUDA kernel image for `spec` (target Cuda, cudaChip set), through
  /// the same caches. Needs no GPU: only ptxas (or none, giving PTX).
  llvm::Expected<std::shared_ptr<const CompiledCudaKernel>>
  getCudaKernel(const KernelSpec &spec, CacheOutcome *outcome = nullptr);

  JitStats stats() const;
  const std::string &getCacheDirectory() const;

  /// The process-wide JIT with default options.
  static Jit &global();

  /// The identity of this compiler and host (part of every disk entry).
  static std::string compilerVersion();
  static std::string hostTarget();

private:
  struct Impl;
  std::unique_ptr<Impl> impl;
};

/// Compiles `spec` to a relocatable object defining `_mlir_ciface_<symbol>`
/// (the ABI of runtime::CpuKernelFn). Exposed for tools and tests.
llvm::Expected<std::vector<uint8_t>>
compileCpuKernelObject(const KernelSpec &spec, llvm::StringRef symbol);

/// Compiles a CUDA kernel spec through dilattn-cuda-pipeline to PTX, then
/// to cubin with ptxas when one is found ($DILATTN_PTXAS, PATH,
/// /usr/local/cuda/bin). Exposed for tools and tests.
llvm::Expected<CudaKernelImage> compileCudaKernelImage(const KernelSpec &spec,
                                                       llvm::StringRef symbol);

/// Assembles PTX for `chip` (e.g. sm_90) with ptxas: the cubin and false,
/// or, when no ptxas is found, the NUL-terminated PTX and true (the driver
/// compiles it at load time).
llvm::Expected<std::pair<std::vector<uint8_t>, bool>>
assemblePtx(llvm::StringRef ptx, llvm::StringRef chip);

/// "ptxas <version>" of the ptxas compileCudaKernelImage uses, or "none".
std::string ptxasVersion();

/// The head dims target cuda runs, for messages and checks (those of
/// dilattn-convert-to-gpu).
llvm::ArrayRef<int64_t> cudaSupportedHeadDims();

/// Initialises LLVM's native target once per process.
void initializeNativeTarget();

/// Initialises LLVM's NVPTX target once per process.
void initializeNvptxTarget();

/// The MLIR module of the kernel before the pipeline runs (for inspection).
llvm::Expected<std::string> kernelSourceIR(const KernelSpec &spec,
                                           llvm::StringRef symbol);

} // namespace dilattn::jit

#endif // DILATTN_JIT_JIT_H
