//===- CpuRuntimeTest.cpp - the CPU runtime's thread pool and buffers -----===//
//
// ThreadPool::parallelFor hands out disjoint ranges that cover every item
// exactly once, on several threads when it has them; dilattn_parallel_for
// does the same for compiled code; the buffer entry points give writable,
// aligned blocks and reuse large freed ones.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Runtime/CpuRuntime.h"

#include "gtest/gtest.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using namespace dilattn::runtime;

namespace {

/// Runs parallelFor over numItems and checks that every item is visited
/// exactly once, by ranges that are non-empty and inside [0, numItems).
void expectExactCover(ThreadPool &pool, int64_t numItems) {
  std::vector<std::atomic<int>> visits(numItems > 0 ? numItems : 0);
  std::atomic<bool> badRange{false};
  pool.parallelFor(numItems, [&](int64_t begin, int64_t end) {
    if (begin < 0 || end > numItems || begin >= end)
      badRange = true;
    for (int64_t i = begin; i < end && i < numItems && i >= 0; ++i)
      visits[i].fetch_add(1);
  });
  EXPECT_FALSE(badRange) << numItems << " items";
  for (int64_t i = 0; i < numItems; ++i)
    ASSERT_EQ(visits[i].load(), 1) << "item " << i << " of " << numItems;
}

TEST(CpuRuntime, ThreadCountIsWhatWasAsked) {
  EXPECT_EQ(ThreadPool(1).getNumThreads(), 1);
  EXPECT_EQ(ThreadPool(4).getNumThreads(), 4);
  // 0 means the default: DILATTN_NUM_THREADS or the host's threads.
  EXPECT_GE(ThreadPool(0).getNumThreads(), 1);
  EXPECT_GE(ThreadPool::global().getNumThreads(), 1);
  EXPECT_EQ(&ThreadPool::global(), &ThreadPool::global());
}

TEST(CpuRuntime, ParallelForCoversEveryItemOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int64_t items : {1, 2, 7, 8, 63, 64, 65, 1000, 12345})
      expectExactCover(pool, items);
  }
}

TEST(CpuRuntime, ParallelForWithNoItemsCallsNothing) {
  ThreadPool pool(4);
  int calls = 0;
  pool.parallelFor(0, [&](int64_t, int64_t) { ++calls; });
  pool.parallelFor(-5, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(CpuRuntime, OneThreadRunsOneRangeOnTheCaller) {
  ThreadPool pool(1);
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::thread::id caller = std::this_thread::get_id();
  bool onCaller = true;
  pool.parallelFor(100, [&](int64_t begin, int64_t end) {
    ranges.emplace_back(begin, end);
    onCaller &= std::this_thread::get_id() == caller;
  });
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0], std::make_pair(int64_t(0), int64_t(100)));
  EXPECT_TRUE(onCaller);
}

TEST(CpuRuntime, ParallelForUsesSeveralThreads) {
  ThreadPool pool(4);
  std::mutex mutex;
  std::set<std::thread::id> threads;
  // Items that wait for a second thread to show up, so that one thread
  // cannot drain them all before the workers start.
  std::atomic<int> running{0};
  pool.parallelFor(64, [&](int64_t, int64_t) {
    ++running;
    for (int spin = 0; spin < 2000 && running.load() < 2; ++spin)
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    std::lock_guard<std::mutex> lock(mutex);
    threads.insert(std::this_thread::get_id());
  });
  EXPECT_GE(threads.size(), 2u);
  EXPECT_LE(threads.size(), 4u);
}

TEST(CpuRuntime, ParallelForSumsLikeASerialLoop) {
  ThreadPool pool(3);
  const int64_t n = 100000;
  std::atomic<int64_t> sum{0};
  pool.parallelFor(n, [&](int64_t begin, int64_t end) {
    int64_t local = 0;
    for (int64_t i = begin; i < end; ++i)
      local += i;
    sum += local;
  });
  EXPECT_EQ(sum.load(), n * (n - 1) / 2);
}

TEST(CpuRuntime, CParallelForPassesContextAndCoversItems) {
  struct Context {
    std::vector<std::atomic<int>> visits;
    explicit Context(size_t n) : visits(n) {}
  } context(1000);
  dilattn_parallel_for(
      [](void *raw, int64_t begin, int64_t end) {
        auto *c = static_cast<Context *>(raw);
        for (int64_t i = begin; i < end; ++i)
          c->visits[i].fetch_add(1);
      },
      &context, 1000);
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(context.visits[i].load(), 1) << "item " << i;
}

TEST(CpuRuntime, BuffersAreWritableAndAligned) {
  for (size_t size : {size_t(1), size_t(4096), size_t(3) << 20}) {
    auto *block = static_cast<uint8_t *>(dilattn_buffer_alloc(size));
    ASSERT_NE(block, nullptr) << size;
    std::memset(block, 0xab, size);
    EXPECT_EQ(block[size - 1], 0xab);
    dilattn_buffer_free(block);
  }
  for (size_t alignment : {size_t(16), size_t(64), size_t(4096)}) {
    void *block = dilattn_buffer_aligned_alloc(alignment, 1000);
    ASSERT_NE(block, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % alignment, 0u);
    std::memset(block, 0, 1000);
    dilattn_buffer_free(block);
  }
  dilattn_buffer_free(nullptr);
}

TEST(CpuRuntime, LargeFreedBlocksAreReused) {
  const size_t size = size_t(4) << 20;
  void *first = dilattn_buffer_alloc(size);
  ASSERT_NE(first, nullptr);
  dilattn_buffer_free(first);
  // An idle block of the size, or at most twice it, comes back.
  void *second = dilattn_buffer_alloc(size - 1000);
  EXPECT_EQ(second, first);
  // Not one more than twice as large as asked.
  void *third = dilattn_buffer_alloc(size / 4);
  EXPECT_NE(third, first);
  dilattn_buffer_free(second);
  dilattn_buffer_free(third);
}

} // namespace
