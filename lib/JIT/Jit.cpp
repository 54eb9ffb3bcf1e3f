//===- Jit.cpp - specialised kernels, compiled once and cached ------------===//
//
// Request path: in-memory cache (single flight per key) -> disk cache ->
// compile (then store). Objects are linked into one ORC LLJIT per Jit; each
// kernel has a symbol derived from its key, so kernels never collide.
//
//===----------------------------------------------------------------------===//

#include "dilattn/JIT/Jit.h"
#include "dilattn/Support/Error.h"
#include "dilattn/Support/Version.h"

#include "dilattn/JIT/KernelCache.h"

#include "mlir/Config/mlir-config.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/Threading.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>

using namespace dilattn;
using namespace dilattn::jit;

/// Part of every disk-cache entry's identity: bump it in any change that
/// makes the pipeline generate different code for the same key (passes,
/// lowering, tuning rules), so that entries of older builds are recompiled
/// instead of reused. 2: one vector exp2 for a tile's rescale factors. 3: the
/// backward kernel's dK/dV loops hold several keys' rows in registers.
static constexpr llvm::StringLiteral kCodegenVersion = "cpu-codegen-3";
/// The same for CUDA kernels.
static constexpr llvm::StringLiteral kCudaCodegenVersion = "cuda-codegen-1";

llvm::StringRef dilattn::jit::stringifyKernelKind(KernelKind kind) {
  switch (kind) {
  case KernelKind::Forward:
    return "forward";
  case KernelKind::ForwardWithStatistics:
    return "forward_lse";
  case KernelKind::Backward:
    return "backward";
  }
  llvm_unreachable("unknown kernel kind");
}

CpuTuning CpuTuning::resolvedForHost() const {
  static const bool hostHasAvx512 = [] {
    llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
    auto it = features.find("avx512f");
    return it != features.end() && it->getValue();
  }();
  CpuTuning tuning = *this;
  if (tuning.vectorWidth == 0)
    tuning.vectorWidth = hostHasAvx512 ? 16 : 8;
  if (tuning.tileQueries == 0)
    tuning.tileQueries = tuning.vectorWidth >= 16 ? 12 : 8;
  if (tuning.tileKeys == 0)
    tuning.tileKeys = 2 * tuning.vectorWidth;
  return tuning;
}

int64_t KernelSpec::blockSize() const {
  if (tuning.blockSize > 0)
    return tuning.blockSize;
  int64_t numStates =
      (config.mode == AttentionMode::LongNet && !tuning.fusePatterns)
          ? static_cast<int64_t>(config.numPatterns())
          : 1;
  return defaultBlockSize(config, headDim, numStates);
}

std::string KernelSpec::key() const {
  std::string key;
  llvm::raw_string_ostream os(key);
  if (target == Target::Cuda)
    os << "target=cuda;chip=" << cudaChip << ";" << ptxasVersion()
       << ";tq=" << cudaTuning.tileQueries << ";tk=" << cudaTuning.tileKeys
       << ";stages=" << cudaTuning.stages
       << ";kernel=" << stringifyCudaKernelChoice(cudaTuning.kernel) << ";";
  else
    os << "target=cpu;";
  // Forward keys keep their spelling (and their disk-cache entries).
  if (kind != KernelKind::Forward)
    os << "kind=" << stringifyKernelKind(kind) << ";";
  os << "d=" << headDim << ";dtype=" << stringifyElementKind(element)
     << ";mode=" << stringifyAttentionMode(config.mode)
     << ";offset_rule=" << stringifyOffsetRule(config.offsetRule)
     << ";causal=" << (config.causal ? 1 : 0) << ";segments=";
  llvm::interleave(config.segmentLengths, os, ",");
  os << ";rates=";
  llvm::interleave(config.dilationRates, os, ",");
  // The exact bits of the scale: it is a constant in the code.
  os << ";scale="
     << (config.scale
             ? llvm::formatv("{0:x}", llvm::bit_cast<uint64_t>(*config.scale))
                   .str()
             : std::string("default"))
     << ";key_padding=" << (hasKeyPaddingMask ? "bias" : "none")
     << ";attn_mask=" << (hasAttnMask ? "bias" : "none");
  if (target == Target::Cuda)
    return key;
  os << ";vw=" << tuning.vectorWidth << ";tq=" << tuning.tileQueries
     << ";tk=" << tuning.tileKeys << ";block=" << blockSize()
     << ";fuse=" << (tuning.fusePatterns ? 1 : 0);
  return key;
}

int64_t CompiledKernel::numWorkItems(int64_t batch, int64_t seqLen,
                                     int64_t numHeads) const {
  if (spec.kind == KernelKind::Backward)
    return batch * numHeads;
  int64_t blocks = (seqLen + blockSize - 1) / blockSize;
  return batch * numHeads * blocks;
}

std::string Jit::compilerVersion() {
  return llvm::formatv("dilattn {0}; LLVM {1}; {2}; {3}", getVersion(),
                       LLVM_VERSION_STRING, kCodegenVersion,
                       kCudaCodegenVersion)
      .str();
}

std::string Jit::hostTarget() {
  std::string features;
  llvm::StringMap<bool> hostFeatures = llvm::sys::getHostCPUFeatures();
  llvm::SmallVector<std::string> enabled;
  for (const auto &feature : hostFeatures)
    if (feature.getValue())
      enabled.push_back(feature.getKey().str());
  llvm::sort(enabled);
  return llvm::formatv("{0}; {1}; {2}", llvm::sys::getProcessTriple(),
                       llvm::sys::getHostCPUName(), llvm::join(enabled, ","))
      .str();
}

namespace {

/// The ORC JIT that kernels are linked into, shared by a Jit and the kernels
/// it handed out. Each kernel gets a JITDylib of its own, removed (its code
/// unloaded) when the last holder of the kernel lets go: an evicted kernel
/// then really frees its memory, and a key evicted and requested again links
/// its object anew without colliding with the symbols of the old copy, which
/// a caller may still be running.
struct Linker {
  std::mutex mutex;
  std::unique_ptr<llvm::orc::LLJIT> lljit;
  uint64_t nextDylib = 0;

  llvm::Error ensureCreated() {
    if (lljit)
      return llvm::Error::success();
    initializeNativeTarget();
    auto created = llvm::orc::LLJITBuilder().create();
    if (!created)
      return created.takeError();
    lljit = std::move(*created);
    // Generated code may call memset/memcpy (from loop idiom recognition).
    auto generator =
        llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
            lljit->getDataLayout().getGlobalPrefix());
    if (!generator)
      return generator.takeError();
    lljit->getMainJITDylib().addGenerator(std::move(*generator));
    return llvm::Error::success();
  }

  /// Links `object` into a new JITDylib; returns the entry point and the
  /// dylib.
  llvm::Expected<std::pair<runtime::CpuKernelFn, llvm::orc::JITDylib *>>
  link(llvm::ArrayRef<uint8_t> object, llvm::StringRef symbol) {
    std::lock_guard<std::mutex> lock(mutex);
    if (llvm::Error error = ensureCreated())
      return std::move(error);
    auto dylib = lljit->createJITDylib(
        (llvm::Twine(symbol) + "#" + llvm::Twine(nextDylib++)).str());
    if (!dylib)
      return dylib.takeError();
    // The process's symbols, through the main dylib's generator.
    dylib->addToLinkOrder(lljit->getMainJITDylib());
    auto buffer = llvm::MemoryBuffer::getMemBufferCopy(
        llvm::StringRef(reinterpret_cast<const char *>(object.data()),
                        object.size()),
        symbol);
    auto address = [&]() -> llvm::Expected<llvm::orc::ExecutorAddr> {
      if (llvm::Error error = lljit->addObjectFile(*dylib, std::move(buffer)))
        return std::move(error);
      return lljit->lookup(*dylib, ("_mlir_ciface_" + symbol).str());
    }();
    if (!address) {
      // Nothing of a failed link stays loaded.
      llvm::consumeError(lljit->getExecutionSession().removeJITDylib(*dylib));
      return address.takeError();
    }
    return std::make_pair(address->toPtr<runtime::CpuKernelFn>(), &*dylib);
  }

  void unload(llvm::orc::JITDylib &dylib) {
    std::lock_guard<std::mutex> lock(mutex);
    // An error here leaves the code loaded, which costs memory, never
    // correctness: nothing calls it any more.
    llvm::consumeError(lljit->getExecutionSession().removeJITDylib(dylib));
  }
};

} // namespace

struct Jit::Impl {
  JitOptions options;
  std::string cacheDirectory;
  std::unique_ptr<DiskCache> disk;
  /// Declared before the caches, so destroyed after them: the caches'
  /// kernels unload themselves from it.
  std::shared_ptr<Linker> linker = std::make_shared<Linker>();
  MemoryCache<CompiledKernel> memory;
  MemoryCache<CompiledCudaKernel> cudaMemory;
  std::atomic<uint64_t> compiles{0};

  /// The bound on compiles in flight (see JitOptions::maxConcurrentCompiles).
  std::mutex compileSlotsMutex;
  std::condition_variable compileSlotFreed;
  int compileSlots = 0;
  int compilesRunning = 0;
  int peakCompilesRunning = 0;

  explicit Impl(JitOptions opts)
      : options(std::move(opts)), memory(options.memoryBudgetBytes),
        cudaMemory(options.memoryBudgetBytes) {
    compileSlots =
        options.maxConcurrentCompiles > 0
            ? options.maxConcurrentCompiles
            : static_cast<int>(std::max(
                  1u, llvm::hardware_concurrency().compute_thread_count()));
    cacheDirectory = options.cacheDirectory;
    if (cacheDirectory.empty() && options.useDefaultCacheDirectory)
      cacheDirectory = DiskCache::defaultDirectory();
    if (!cacheDirectory.empty()) {
      disk = std::make_unique<DiskCache>(
          cacheDirectory, CacheIdentity{compilerVersion(), hostTarget()});
      // Temporary files of writers that died long ago.
      disk->removeStaleTemporaries(std::chrono::hours(1));
    }
  }

  /// Runs `compile` once fewer than `compileSlots` compiles are running.
  /// Compiling is CPU-bound and takes tens of MiB: more compiles than cores
  /// at once only cost memory. Threads asking for one key wait in the memory
  /// cache instead (single flight), so only distinct keys queue here.
  template <typename T>
  llvm::Expected<T>
  withCompileSlot(llvm::function_ref<llvm::Expected<T>()> compile) {
    {
      std::unique_lock<std::mutex> lock(compileSlotsMutex);
      compileSlotFreed.wait(lock,
                            [&] { return compilesRunning < compileSlots; });
      ++compilesRunning;
      peakCompilesRunning = std::max(peakCompilesRunning, compilesRunning);
    }
    struct Release {
      Impl &impl;
      ~Release() {
        {
          std::lock_guard<std::mutex> lock(impl.compileSlotsMutex);
          --impl.compilesRunning;
        }
        impl.compileSlotFreed.notify_one();
      }
    } release{*this};
    return compile();
  }

  llvm::Expected<std::vector<uint8_t>> compileCpu(const KernelSpec &spec,
                                                  llvm::StringRef symbol) {
    return withCompileSlot<std::vector<uint8_t>>(
        [&] { return compileCpuKernelObject(spec, symbol); });
  }

  /// Links `object` and returns a kernel that unloads its code when the
  /// last reference to it goes, or, should the Jit be gone by then, leaves
  /// it to the Jit's destruction.
  llvm::Expected<std::shared_ptr<CompiledKernel>>
  link(llvm::ArrayRef<uint8_t> object, llvm::StringRef symbol) {
    auto linked = linker->link(object, symbol);
    if (!linked)
      return linked.takeError();
    std::weak_ptr<Linker> owner = linker;
    llvm::orc::JITDylib *dylib = linked->second;
    std::shared_ptr<CompiledKernel> kernel(
        new CompiledKernel(), [owner, dylib](CompiledKernel *kernel) {
          if (std::shared_ptr<Linker> live = owner.lock())
            live->unload(*dylib);
          delete kernel;
        });
    kernel->entry = linked->first;
    return kernel;
  }
};

Jit::Jit(JitOptions options)
    : impl(std::make_unique<Impl>(std::move(options))) {}
Jit::~Jit() = default;

const std::string &Jit::getCacheDirectory() const {
  return impl->cacheDirectory;
}

/// A symbol unique to the key (and to this process's use of it).
static std::string symbolFor(llvm::StringRef key) {
  std::array<uint8_t, 32> digest = llvm::SHA256::hash(llvm::ArrayRef<uint8_t>(
      reinterpret_cast<const uint8_t *>(key.data()), key.size()));
  return "dilattn_kernel_" +
         llvm::toHex(llvm::ArrayRef<uint8_t>(digest.data(), 12),
                     /*LowerCase=*/true);
}

llvm::Expected<std::shared_ptr<const CompiledKernel>>
Jit::getKernel(const KernelSpec &requested, CacheOutcome *outcome) {
  KernelSpec spec = requested;
  spec.tuning = requested.tuning.resolvedForHost();
  std::string key = spec.key();
  CacheOutcome served = CacheOutcome::MemoryHit;
  auto kernel = impl->memory.getOrCreate(
      key, [&]() -> llvm::Expected<MemoryCache<CompiledKernel>::Created> {
        auto start = std::chrono::steady_clock::now();
        std::string symbol = symbolFor(key);
        std::vector<uint8_t> object;
        bool fromDisk = false;
        if (impl->disk) {
          if (std::optional<std::vector<uint8_t>> cached =
                  impl->disk->load(key)) {
            object = std::move(*cached);
            fromDisk = true;
          }
        }
        if (!fromDisk) {
          auto compiled = impl->compileCpu(spec, symbol);
          if (!compiled)
            return compiled.takeError();
          object = std::move(*compiled);
          ++impl->compiles;
          if (impl->disk) {
            // A cache that cannot be written costs later compiles, never
            // this result: warn once and go on.
            if (llvm::Error error = impl->disk->store(key, object)) {
              static std::once_flag warned;
              std::string message = llvm::toString(std::move(error));
              std::call_once(warned, [&] {
                llvm::errs() << "warning: dilattn kernel cache not written ("
                             << message << "); continuing uncached\n";
              });
            }
          }
        }
        auto linked = impl->link(object, symbol);
        if (!linked && fromDisk) {
          // A valid entry that does not link (e.g. produced by a differently
          // configured LLVM): recompile rather than fail.
          llvm::consumeError(linked.takeError());
          auto compiled = impl->compileCpu(spec, symbol);
          if (!compiled)
            return compiled.takeError();
          object = std::move(*compiled);
          ++impl->compiles;
          fromDisk = false;
          linked = impl->link(object, symbol);
          if (linked && impl->disk)
            llvm::consumeError(impl->disk->store(key, object));
        }
        if (!linked)
          return linked.takeError();
        std::shared_ptr<CompiledKernel> result = std::move(*linked);
        result->spec = spec;
        result->blockSize = spec.blockSize();
        result->loadedFromDisk = fromDisk;
        result->compileMs = std::chrono::duration<double, std::milli>(
                                std::chrono::steady_clock::now() - start)
                                .count();
        served = fromDisk ? CacheOutcome::DiskHit : CacheOutcome::Compiled;
        return MemoryCache<CompiledKernel>::Created{std::move(result),
                                                    object.size()};
      });
  // Errors of LLVM's JIT (linking, symbol lookup) are compile failures.
  if (!kernel)
    return withCode(ErrorCode::Compile, kernel.takeError());
  if (outcome)
    *outcome = served;
  return std::shared_ptr<const CompiledKernel>(*kernel);
}

llvm::Expected<std::shared_ptr<const CompiledCudaKernel>>
Jit::getCudaKernel(const KernelSpec &requested, CacheOutcome *outcome) {
  KernelSpec spec = requested;
  spec.target = Target::Cuda;
  std::string key = spec.key();
  CacheOutcome served = CacheOutcome::MemoryHit;
  auto kernel = impl->cudaMemory.getOrCreate(
      key, [&]() -> llvm::Expected<MemoryCache<CompiledCudaKernel>::Created> {
        auto start = std::chrono::steady_clock::now();
        auto result = std::make_shared<CompiledCudaKernel>();
        result->spec = spec;
        bool fromDisk = false;
        if (impl->disk) {
          if (std::optional<std::vector<uint8_t>> cached =
                  impl->disk->load(key)) {
            // A checksummed entry that does not parse is from a foreign
            // writer: recompile and replace it.
            if (auto image = CudaKernelImage::deserialize(*cached)) {
              result->image = std::move(*image);
              fromDisk = true;
            }
          }
        }
        if (!fromDisk) {
          auto compiled = impl->withCompileSlot<CudaKernelImage>(
              [&] { return compileCudaKernelImage(spec, symbolFor(key)); });
          if (!compiled)
            return compiled.takeError();
          result->image = std::move(*compiled);
          ++impl->compiles;
          if (impl->disk)
            if (llvm::Error error =
                    impl->disk->store(key, result->image.serialize())) {
              static std::once_flag warned;
              std::string message = llvm::toString(std::move(error));
              std::call_once(warned, [&] {
                llvm::errs() << "warning: dilattn kernel cache not written ("
                             << message << "); continuing uncached\n";
              });
            }
        }
        result->loadedFromDisk = fromDisk;
        result->compileMs = std::chrono::duration<double, std::milli>(
                                std::chrono::steady_clock::now() - start)
                                .count();
        served = fromDisk ? CacheOutcome::DiskHit : CacheOutcome::Compiled;
        size_t bytes = result->image.image.size();
        return MemoryCache<CompiledCudaKernel>::Created{std::move(result),
                                                        bytes};
      });
  // Errors of LLVM's JIT (linking, symbol lookup) are compile failures.
  if (!kernel)
    return withCode(ErrorCode::Compile, kernel.takeError());
  if (outcome)
    *outcome = served;
  return std::shared_ptr<const CompiledCudaKernel>(*kernel);
}

JitStats Jit::stats() const {
  JitStats stats;
  auto memory = impl->memory.stats();
  auto cudaMemory = impl->cudaMemory.stats();
  stats.memoryHits = memory.hits + cudaMemory.hits;
  stats.memoryMisses = memory.misses + cudaMemory.misses;
  if (impl->disk) {
    auto disk = impl->disk->stats();
    stats.diskHits = disk.hits;
    stats.diskMisses = disk.misses;
    stats.diskInvalidEntries = disk.invalidEntries;
    stats.diskStoreFailures = disk.storeFailures;
  }
  stats.compiles = impl->compiles;
  {
    std::lock_guard<std::mutex> lock(impl->compileSlotsMutex);
    stats.peakConcurrentCompiles = impl->peakCompilesRunning;
  }
  stats.memoryEvictions = memory.evictions + cudaMemory.evictions;
  stats.memoryBytes = memory.bytes + cudaMemory.bytes;
  return stats;
}

Jit &Jit::global() {
  static Jit jit;
  return jit;
}
