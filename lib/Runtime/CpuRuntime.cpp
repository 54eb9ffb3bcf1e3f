//===- CpuRuntime.cpp - running compiled CPU kernels ----------------------===//

#include "dilattn/Runtime/CpuRuntime.h"

#include "llvm/Support/ThreadPool.h"
#include "llvm/Support/Threading.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>

using namespace dilattn::runtime;

static int defaultThreadCount() {
  if (const char *text = std::getenv("DILATTN_NUM_THREADS")) {
    int count = std::atoi(text);
    if (count > 0)
      return count;
  }
  return std::max(1u, llvm::hardware_concurrency().compute_thread_count());
}

ThreadPool::ThreadPool(int numThreads)
    : numThreads(numThreads > 0 ? numThreads : defaultThreadCount()) {
  if (this->numThreads > 1)
    workers = std::make_unique<llvm::StdThreadPool>(
        llvm::hardware_concurrency(this->numThreads - 1));
}

ThreadPool::~ThreadPool() = default;

void ThreadPool::parallelFor(int64_t numItems,
                             llvm::function_ref<void(int64_t, int64_t)> body) {
  if (numItems <= 0)
    return;
  if (!workers || numItems == 1) {
    body(0, numItems);
    return;
  }
  // Several chunks per thread balance uneven items (causal, short segments);
  // threads take chunks from a shared counter.
  int64_t numChunks = std::min<int64_t>(numItems, numThreads * 8);
  int64_t chunkSize = (numItems + numChunks - 1) / numChunks;
  std::atomic<int64_t> next{0};
  auto drain = [&] {
    for (;;) {
      int64_t begin = next.fetch_add(chunkSize);
      if (begin >= numItems)
        return;
      body(begin, std::min(begin + chunkSize, numItems));
    }
  };
  llvm::ThreadPoolTaskGroup group(*workers);
  for (int i = 1; i < numThreads; ++i)
    group.async(drain);
  drain();
  group.wait();
}

ThreadPool &ThreadPool::global() {
  static ThreadPool pool;
  return pool;
}

extern "C" void dilattn_parallel_for(void (*body)(void *, int64_t, int64_t),
                                     void *context, int64_t numIterations) {
  ThreadPool::global().parallelFor(
      numIterations,
      [&](int64_t begin, int64_t end) { body(context, begin, end); });
}

namespace {
/// Large blocks handed out (with their sizes) and those freed for reuse.
struct BufferCache {
  static constexpr size_t kMinCachedBytes = size_t(1) << 20;
  static constexpr size_t kMaxIdleBytes = size_t(1) << 30;
  std::mutex mutex;
  std::unordered_map<void *, size_t> sizes;
  std::multimap<size_t, void *> idle;
  size_t idleBytes = 0;
};
} // namespace

static BufferCache &bufferCache() {
  // Never destroyed: compiled code may free buffers during static
  // destruction.
  static BufferCache *cache = new BufferCache();
  return *cache;
}

extern "C" void *dilattn_buffer_alloc(size_t size) {
  if (size < BufferCache::kMinCachedBytes)
    return std::malloc(size);
  BufferCache &cache = bufferCache();
  {
    std::lock_guard<std::mutex> lock(cache.mutex);
    // An idle block of the size or at most twice as large.
    auto found = cache.idle.lower_bound(size);
    if (found != cache.idle.end() && found->first / 2 <= size) {
      void *pointer = found->second;
      cache.idleBytes -= found->first;
      cache.idle.erase(found);
      return pointer;
    }
  }
  void *pointer = std::malloc(size);
  if (!pointer)
    return nullptr;
  std::lock_guard<std::mutex> lock(cache.mutex);
  cache.sizes[pointer] = size;
  return pointer;
}

extern "C" void *dilattn_buffer_aligned_alloc(size_t alignment, size_t size) {
  // Not cached (the pipeline allocates with malloc-style calls); freed by
  // dilattn_buffer_free like any block it does not know.
  void *pointer = nullptr;
  if (posix_memalign(&pointer, std::max(alignment, sizeof(void *)), size))
    return nullptr;
  return pointer;
}

extern "C" void dilattn_buffer_free(void *pointer) {
  if (!pointer)
    return;
  BufferCache &cache = bufferCache();
  {
    std::lock_guard<std::mutex> lock(cache.mutex);
    auto known = cache.sizes.find(pointer);
    if (known != cache.sizes.end()) {
      if (cache.idleBytes + known->second <= BufferCache::kMaxIdleBytes) {
        cache.idle.emplace(known->second, pointer);
        cache.idleBytes += known->second;
        return;
      }
      cache.sizes.erase(known);
    }
  }
  std::free(pointer);
}
