//===- JitCacheTest.cpp - the JIT's memory and disk caches end to end -----===//
//
// Kernels are compiled for real here: a hit after a miss, persistence across
// JIT instances and processes, recovery from corrupt entries, and concurrent
// requests from 8 threads (one compile per key).
//
//===----------------------------------------------------------------------===//

#include "dilattn/API/DilatedAttention.h"
#include "dilattn/JIT/KernelCache.h"
#include "dilattn/Reference/Reference.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cmath>

#include "gtest/gtest.h"

#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace dilattn;

namespace {

class JitCache : public testing::Test {
protected:
  void SetUp() override {
    llvm::SmallString<128> path;
    ASSERT_FALSE(
        llvm::sys::fs::createUniqueDirectory("dilattn-jit-cache", path));
    directory = std::string(path);
  }
  void TearDown() override { llvm::sys::fs::remove_directories(directory); }

  std::unique_ptr<jit::Jit> makeJit() {
    jit::JitOptions options;
    options.cacheDirectory = directory;
    options.useDefaultCacheDirectory = false;
    return std::make_unique<jit::Jit>(options);
  }

  static jit::KernelSpec spec(int64_t rate) {
    jit::KernelSpec spec;
    spec.config.segmentLengths = {16, 32};
    spec.config.dilationRates = {1, rate};
    spec.headDim = 16;
    return spec;
  }

  /// Runs the kernel on random data and returns the relative error against
  /// the reference.
  static double runAndCompare(const jit::CompiledKernel &kernel) {
    std::vector<int64_t> shape = {1, 48, 2, 16};
    reference::Tensor q = reference::randomTensor(shape, 1);
    std::vector<float> data(q.data.begin(), q.data.end()), out(data.size());
    for (size_t i = 0; i < data.size(); ++i)
      q.data[i] = data[i];
    runtime::StridedMemRef<4> ref;
    ref.allocated = ref.aligned = data.data();
    int64_t sizes[4] = {1, 48, 2, 16}, strides[4] = {48 * 32, 32, 16, 1};
    for (int i = 0; i < 4; ++i) {
      ref.sizes[i] = sizes[i];
      ref.strides[i] = strides[i];
    }
    runtime::StridedMemRef<4> output = ref;
    output.allocated = output.aligned = out.data();
    runtime::StridedMemRef<2> noKeyBias;
    runtime::StridedMemRef<4> noAttnBias;
    runtime::StridedMemRef<4> k = ref, v = ref;
    kernel.entry(&ref, &k, &v, &noKeyBias, &noAttnBias, &output, 0,
                 kernel.numWorkItems(1, 48, 2));
    auto expected = reference::dilatedAttention(kernel.spec.config, q, q, q);
    if (!expected) {
      llvm::consumeError(expected.takeError());
      return HUGE_VAL;
    }
    return reference::compare(llvm::ArrayRef<float>(out), expected->data)
        .relative;
  }

  std::vector<std::string> entries() {
    std::vector<std::string> files;
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(directory, ec), end;
         it != end && !ec; it.increment(ec))
      if (llvm::StringRef(it->path()).ends_with(".kernel"))
        files.push_back(it->path());
    return files;
  }

  std::string directory;
};

TEST_F(JitCache, HitAfterMiss) {
  auto jit = makeJit();
  jit::CacheOutcome outcome;
  auto first = jit->getKernel(spec(2), &outcome);
  ASSERT_TRUE(static_cast<bool>(first)) << llvm::toString(first.takeError());
  EXPECT_EQ(outcome, jit::CacheOutcome::Compiled);
  auto second = jit->getKernel(spec(2), &outcome);
  ASSERT_TRUE(static_cast<bool>(second));
  EXPECT_EQ(outcome, jit::CacheOutcome::MemoryHit);
  EXPECT_EQ(first->get(), second->get());
  EXPECT_EQ(jit->stats().compiles, 1u);
  EXPECT_EQ(jit->stats().memoryHits, 1u);
  EXPECT_LE(runAndCompare(**second), 1e-5);
  EXPECT_EQ(entries().size(), 1u);
}

TEST_F(JitCache, PersistsAcrossInstancesAndProcesses) {
  {
    auto jit = makeJit();
    ASSERT_TRUE(static_cast<bool>(jit->getKernel(spec(2))));
  }
  // A new JIT (as in a new process) loads the object from disk.
  auto jit = makeJit();
  jit::CacheOutcome outcome;
  auto kernel = jit->getKernel(spec(2), &outcome);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  EXPECT_EQ(outcome, jit::CacheOutcome::DiskHit);
  EXPECT_EQ(jit->stats().compiles, 0u);
  EXPECT_LE(runAndCompare(**kernel), 1e-5);

  // A real child process: it loads the entry and runs it correctly.
  pid_t child = fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    auto childJit = makeJit();
    jit::CacheOutcome childOutcome;
    auto childKernel = childJit->getKernel(spec(2), &childOutcome);
    bool ok = childKernel && childOutcome == jit::CacheOutcome::DiskHit &&
              runAndCompare(**childKernel) <= 1e-5;
    if (!childKernel)
      llvm::consumeError(childKernel.takeError());
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(JitCache, CorruptEntryIsRecompiledAndReplaced) {
  {
    auto jit = makeJit();
    ASSERT_TRUE(static_cast<bool>(jit->getKernel(spec(2))));
  }
  std::vector<std::string> files = entries();
  ASSERT_EQ(files.size(), 1u);
  // Flip a byte in the middle of the object code.
  {
    auto buffer = llvm::MemoryBuffer::getFile(files[0]);
    ASSERT_TRUE(static_cast<bool>(buffer));
    std::string bytes = (*buffer)->getBuffer().str();
    bytes[bytes.size() / 2] ^= 0x5a;
    std::error_code ec;
    llvm::raw_fd_ostream os(files[0], ec);
    ASSERT_FALSE(ec);
    os << bytes;
  }
  auto jit = makeJit();
  jit::CacheOutcome outcome;
  auto kernel = jit->getKernel(spec(2), &outcome);
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  EXPECT_EQ(outcome, jit::CacheOutcome::Compiled);
  EXPECT_EQ(jit->stats().diskInvalidEntries, 1u);
  EXPECT_LE(runAndCompare(**kernel), 1e-5);
  // The entry was replaced by a good one.
  auto again = makeJit();
  ASSERT_TRUE(static_cast<bool>(again->getKernel(spec(2), &outcome)));
  EXPECT_EQ(outcome, jit::CacheOutcome::DiskHit);
}

TEST_F(JitCache, ConcurrentRequestsCompileOncePerKey) {
  auto jit = makeJit();
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::vector<const jit::CompiledKernel *> seen(kThreads);
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      // Half the threads share key A, the others spread over keys B and C.
      int64_t rate = t % 2 == 0 ? 2 : (t % 4 == 1 ? 3 : 4);
      auto kernel = jit->getKernel(spec(rate));
      if (!kernel) {
        llvm::consumeError(kernel.takeError());
        ++failures;
        return;
      }
      seen[t] = kernel->get();
      if (runAndCompare(**kernel) > 1e-5)
        ++failures;
    });
  for (std::thread &thread : threads)
    thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(jit->stats().compiles, 3u);
  for (int t = 2; t < kThreads; t += 2)
    EXPECT_EQ(seen[t], seen[0]);
  EXPECT_EQ(entries().size(), 3u);
}

TEST_F(JitCache, EvictedKernelIsLinkedAgain) {
  // A budget below one kernel evicts each kernel as soon as it is made. The
  // next request loads it from disk and links a second copy while the first
  // is still held (and runnable): the copies must not collide.
  jit::JitOptions options;
  options.cacheDirectory = directory;
  options.useDefaultCacheDirectory = false;
  options.memoryBudgetBytes = 1;
  jit::Jit jit(options);
  jit::CacheOutcome outcome;
  auto first = jit.getKernel(spec(2), &outcome);
  ASSERT_TRUE(static_cast<bool>(first)) << llvm::toString(first.takeError());
  EXPECT_EQ(outcome, jit::CacheOutcome::Compiled);
  for (int i = 0; i < 3; ++i) {
    auto again = jit.getKernel(spec(2), &outcome);
    ASSERT_TRUE(static_cast<bool>(again)) << llvm::toString(again.takeError());
    EXPECT_EQ(outcome, jit::CacheOutcome::DiskHit);
    EXPECT_NE(again->get(), first->get());
    EXPECT_LE(runAndCompare(**again), 1e-5);
  }
  EXPECT_LE(runAndCompare(**first), 1e-5);
  EXPECT_EQ(jit.stats().compiles, 1u);
  EXPECT_EQ(jit.stats().memoryEvictions, 4u);
  EXPECT_EQ(jit.stats().memoryBytes, 0u);
}

TEST_F(JitCache, UnwritableDirectoryStillRuns) {
  // A cache directory under a regular file cannot be created (even as root).
  std::string file = directory + "/not-a-directory";
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(file, ec);
    ASSERT_FALSE(ec);
  }
  jit::JitOptions options;
  options.cacheDirectory = file + "/cache";
  options.useDefaultCacheDirectory = false;
  jit::Jit jit(options);
  auto kernel = jit.getKernel(spec(2));
  ASSERT_TRUE(static_cast<bool>(kernel)) << llvm::toString(kernel.takeError());
  EXPECT_LE(runAndCompare(**kernel), 1e-5);
  EXPECT_GE(jit.stats().diskStoreFailures, 1u);
}

} // namespace
