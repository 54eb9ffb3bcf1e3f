//===- CpuRuntime.cpp - running compiled CPU kernels ----------------------===//

#include "dilattn/Runtime/CpuRuntime.h"

#include "llvm/Support/ThreadPool.h"
#include "llvm/Support/Threading.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>

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
