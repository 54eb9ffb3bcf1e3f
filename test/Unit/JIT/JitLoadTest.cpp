//===- JitLoadTest.cpp - the JIT and its caches under load ----------------===//
//
// Many threads, and several processes, compile and run a mix of
// configurations through one JIT and one disk cache at once: hits and misses
// interleave, the memory cache evicts and reloads, and every result is
// checked against the float64 reference. What must hold:
//
//  - every run gives the reference's result (within docs/Contract.md's 1e-5);
//  - each key compiles at most once per process, however many threads ask
//    (single flight), and not at all where another process stored it first
//    and it was not evicted since;
//  - at most JitOptions::maxConcurrentCompiles compiles run at once;
//  - nothing deadlocks (the test ends), nothing is left half written.
//
// The TSan build of scripts/test-reliability runs this file too.
//
//===----------------------------------------------------------------------===//

#include "dilattn/API/DilatedAttention.h"
#include "dilattn/Reference/Reference.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

using namespace dilattn;

namespace {

/// One configuration of the mix: what changes the kernel, and a problem.
struct Case {
  DilatedAttentionConfig config;
  std::vector<int64_t> shape;
  bool keyPadding = false;
  bool attnBias = false;
};

/// Six kernels (both modes, both offset rules, causal, masks, two head dims)
/// and ragged shapes (N not a multiple of the segments). Batch, sequence and
/// heads vary within a kernel: cases 0 and 6 share one.
std::vector<Case> makeCases() {
  std::vector<Case> cases(7);
  cases[0].config.segmentLengths = {8, 16};
  cases[0].config.dilationRates = {1, 2};
  cases[0].shape = {1, 24, 2, 8};
  cases[1].config.segmentLengths = {16};
  cases[1].config.dilationRates = {1};
  cases[1].config.causal = true;
  cases[1].shape = {2, 20, 2, 8};
  cases[2].config.segmentLengths = {8, 16};
  cases[2].config.dilationRates = {1, 2};
  cases[2].config.mode = AttentionMode::LongNet;
  cases[2].shape = {1, 32, 3, 8};
  cases[3].config.segmentLengths = {4, 16};
  cases[3].config.dilationRates = {2, 4};
  cases[3].config.mode = AttentionMode::LongNet;
  cases[3].config.offsetRule = OffsetRule::Blocked;
  cases[3].config.causal = true;
  cases[3].shape = {1, 28, 4, 16};
  cases[4].config.segmentLengths = {8, 16};
  cases[4].config.dilationRates = {1, 2};
  cases[4].keyPadding = true;
  cases[4].shape = {2, 16, 2, 8};
  cases[5].config.segmentLengths = {16};
  cases[5].config.dilationRates = {2};
  cases[5].attnBias = true;
  cases[5].shape = {1, 24, 2, 8};
  cases[6] = cases[0];
  cases[6].shape = {2, 40, 4, 8};
  return cases;
}
constexpr int kDistinctKernels = 6;

/// Inputs and the reference output of a case, computed once.
struct Prepared {
  Case c;
  std::vector<float> q, k, v, bias;
  std::vector<uint8_t> padding;
  std::vector<double> expected;
};

std::vector<float> toFloat(const reference::Tensor &t) {
  return std::vector<float>(t.data.begin(), t.data.end());
}

/// The float copy of the reference inputs, back in float64, so that the
/// reference sees exactly what the kernel sees.
reference::Tensor fromFloat(const std::vector<float> &data,
                            std::vector<int64_t> shape) {
  reference::Tensor t;
  t.shape = std::move(shape);
  t.data.assign(data.begin(), data.end());
  return t;
}

std::vector<Prepared> prepare(const std::vector<Case> &cases) {
  std::vector<Prepared> prepared;
  uint64_t seed = 1;
  for (const Case &c : cases) {
    Prepared p;
    p.c = c;
    p.q = toFloat(reference::randomTensor(c.shape, seed++));
    p.k = toFloat(reference::randomTensor(c.shape, seed++));
    p.v = toFloat(reference::randomTensor(c.shape, seed++));
    reference::Masks masks;
    int64_t b = c.shape[0], n = c.shape[1];
    if (c.keyPadding) {
      reference::BoolTensor padding = reference::BoolTensor::zeros({b, n});
      for (int64_t i = 0; i < b * n; ++i)
        padding.data[i] = (i % 7 == 3);
      p.padding = padding.data;
      masks.keyPaddingMask = padding;
    }
    if (c.attnBias) {
      reference::Tensor bias = reference::randomTensor({n, n}, seed++);
      for (double &value : bias.data)
        if (value > 0.8)
          value = -INFINITY;
      p.bias = toFloat(bias);
      masks.attnMask = fromFloat(p.bias, {n, n});
    }
    auto expected = reference::dilatedAttention(
        c.config, fromFloat(p.q, c.shape), fromFloat(p.k, c.shape),
        fromFloat(p.v, c.shape), masks);
    EXPECT_TRUE(static_cast<bool>(expected));
    if (!expected) {
      llvm::consumeError(expected.takeError());
      continue;
    }
    p.expected = std::move(expected->data);
    prepared.push_back(std::move(p));
  }
  return prepared;
}

/// Runs a prepared case through `jit`; returns "" or what went wrong.
std::string runCase(const Prepared &p, jit::Jit &jit,
                    runtime::ThreadPool &pool) {
  std::vector<float> out(p.q.size(), NAN);
  std::optional<HostMask> padding, bias;
  if (p.c.keyPadding)
    padding = HostMask{HostMask::Kind::Bool,
                       p.padding.data(),
                       nullptr,
                       {p.c.shape[0], p.c.shape[1]}};
  if (p.c.attnBias)
    bias = HostMask{HostMask::Kind::Float,
                    nullptr,
                    p.bias.data(),
                    {p.c.shape[1], p.c.shape[1]}};
  llvm::SmallVector<int64_t, 4> shape(p.c.shape.begin(), p.c.shape.end());
  RunOptions options;
  options.jit = &jit;
  options.threads = &pool;
  auto info = dilatedAttention(
      p.c.config, HostTensor{p.q.data(), shape}, HostTensor{p.k.data(), shape},
      HostTensor{p.v.data(), shape}, padding, bias, out.data(), shape, options);
  if (!info)
    return llvm::toString(info.takeError());
  reference::ErrorStats error =
      reference::compare(llvm::ArrayRef<float>(out), p.expected);
  if (!(error.relative <= 1e-5))
    return "relative error " + std::to_string(error.relative);
  return "";
}

class JitLoad : public testing::Test {
protected:
  void SetUp() override {
    llvm::SmallString<128> path;
    ASSERT_FALSE(
        llvm::sys::fs::createUniqueDirectory("dilattn-jit-load", path));
    directory = std::string(path);
    prepared = prepare(makeCases());
    ASSERT_EQ(prepared.size(), makeCases().size());
  }
  void TearDown() override { llvm::sys::fs::remove_directories(directory); }

  jit::JitOptions options() const {
    jit::JitOptions result;
    result.cacheDirectory = directory;
    result.useDefaultCacheDirectory = false;
    return result;
  }

  /// `numThreads` threads, started together, each running `iterations`
  /// cases in its own order; returns the failures.
  int hammer(jit::Jit &jit, int numThreads, int iterations) {
    std::atomic<int> ready{0}, failures{0};
    std::vector<std::thread> threads;
    // Two small pools besides the callers: runs share workers too.
    runtime::ThreadPool single(1), pair(2);
    for (int t = 0; t < numThreads; ++t)
      threads.emplace_back([&, t] {
        ++ready;
        while (ready.load() < numThreads)
          std::this_thread::yield();
        for (int i = 0; i < iterations; ++i) {
          const Prepared &p = prepared[(t * 5 + i * 3) % prepared.size()];
          std::string problem = runCase(p, jit, (t + i) % 2 ? single : pair);
          if (!problem.empty()) {
            ++failures;
            ADD_FAILURE() << "thread " << t << " iteration " << i << ": "
                          << problem;
          }
        }
      });
    for (std::thread &thread : threads)
      thread.join();
    return failures.load();
  }

  std::string directory;
  std::vector<Prepared> prepared;
};

TEST_F(JitLoad, SixteenThreadsOneJitOneCache) {
  jit::Jit jit(options());
  EXPECT_EQ(hammer(jit, 16, 8), 0);
  jit::JitStats stats = jit.stats();
  // One compile per key, whatever the interleaving; every other request was
  // a hit (in memory, or waited for the compile in flight).
  EXPECT_EQ(stats.compiles, uint64_t(kDistinctKernels));
  EXPECT_EQ(stats.memoryMisses, uint64_t(kDistinctKernels));
  EXPECT_EQ(stats.diskInvalidEntries, 0u);
  EXPECT_EQ(stats.diskStoreFailures, 0u);
  EXPECT_LE(
      stats.peakConcurrentCompiles,
      static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

TEST_F(JitLoad, CompileThreadsAreBounded) {
  jit::JitOptions opts = options();
  opts.maxConcurrentCompiles = 1;
  jit::Jit jit(opts);
  EXPECT_EQ(hammer(jit, 16, 4), 0);
  EXPECT_EQ(jit.stats().peakConcurrentCompiles, 1);
  EXPECT_EQ(jit.stats().compiles, uint64_t(kDistinctKernels));
}

TEST_F(JitLoad, EvictingBudgetUnderLoad) {
  // A budget below one kernel: every kernel is evicted as soon as it is
  // created, so requests keep missing in memory and hitting on disk, and
  // evicted kernels are linked again while other threads still run the old
  // copy.
  jit::JitOptions opts = options();
  opts.memoryBudgetBytes = 1;
  jit::Jit jit(opts);
  EXPECT_EQ(hammer(jit, 16, 6), 0);
  jit::JitStats stats = jit.stats();
  EXPECT_GT(stats.memoryEvictions, 0u);
  EXPECT_EQ(stats.memoryBytes, 0u);
  EXPECT_GT(stats.diskHits, 0u);
  // Each key was compiled once; every reload came from the disk.
  EXPECT_EQ(stats.compiles, uint64_t(kDistinctKernels));
}

TEST_F(JitLoad, ProcessesShareOneDiskCache) {
  // Four processes, eight threads each, one cache directory, started
  // together: they race to compile and store the same keys.
  constexpr int kProcesses = 4;
  int gate[2];
  ASSERT_EQ(::pipe(gate), 0);
  std::vector<pid_t> children;
  std::vector<int> reports;
  for (int p = 0; p < kProcesses; ++p) {
    int report[2];
    ASSERT_EQ(::pipe(report), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(gate[1]);
      ::close(report[0]);
      char byte;
      while (::read(gate[0], &byte, 1) < 0 && errno == EINTR)
        ;
      int failures = 0;
      uint64_t compiles = 0, invalid = 0;
      {
        jit::Jit jit(options());
        failures = hammer(jit, 8, 6);
        compiles = jit.stats().compiles;
        invalid = jit.stats().diskInvalidEntries;
      }
      uint64_t message[3] = {uint64_t(failures), compiles, invalid};
      ssize_t written = ::write(report[1], message, sizeof(message));
      ::_exit(written == sizeof(message) ? 0 : 2);
    }
    ::close(report[1]);
    children.push_back(pid);
    reports.push_back(report[0]);
  }
  ::close(gate[0]);
  ::close(gate[1]);
  uint64_t totalCompiles = 0;
  for (int p = 0; p < kProcesses; ++p) {
    uint64_t message[3] = {~0ull, ~0ull, ~0ull};
    ssize_t got = ::read(reports[p], message, sizeof(message));
    ::close(reports[p]);
    int status = -1;
    ::waitpid(children[p], &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "process " << p << ": status " << status;
    ASSERT_EQ(got, ssize_t(sizeof(message)));
    EXPECT_EQ(message[0], 0u) << "process " << p << " had failures";
    // At most one compile per key per process.
    EXPECT_LE(message[1], uint64_t(kDistinctKernels)) << "process " << p;
    // Racing writers never leave an entry another process finds invalid.
    EXPECT_EQ(message[2], 0u) << "process " << p;
    totalCompiles += message[1];
  }
  EXPECT_GE(totalCompiles, uint64_t(kDistinctKernels));

  // Afterwards, a new process compiles nothing: every kernel is on disk.
  jit::Jit jit(options());
  EXPECT_EQ(hammer(jit, 4, 7), 0);
  EXPECT_EQ(jit.stats().compiles, 0u);
  EXPECT_EQ(jit.stats().diskHits, uint64_t(kDistinctKernels));
}

} // namespace
