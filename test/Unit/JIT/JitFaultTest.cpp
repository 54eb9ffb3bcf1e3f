//===- JitFaultTest.cpp - the JIT over a damaged or failing disk cache ----===//
//
// Faults injected under a real JIT (KernelCacheTest.cpp covers the same at
// the DiskCache level, byte by byte): the entry of a kernel truncated,
// bit-flipped, from another compiler version or target, replaced by a valid
// entry whose object code is garbage, a writer killed in the middle of
// storing it, a full file system, a stale temporary file. Each time the
// kernel must be recompiled (or run uncached), its result must be right,
// the bad entry must never be loaded, and the cache must be usable after.
//
//===----------------------------------------------------------------------===//

#include "dilattn/API/DilatedAttention.h"
#include "dilattn/JIT/KernelCache.h"
#include "dilattn/Reference/Reference.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <fstream>

#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace dilattn;
using Bytes = std::vector<uint8_t>;

namespace {

class JitFault : public testing::Test {
protected:
  void SetUp() override {
    llvm::SmallString<128> path;
    ASSERT_FALSE(
        llvm::sys::fs::createUniqueDirectory("dilattn-jit-fault", path));
    directory = std::string(path);
  }
  void TearDown() override { llvm::sys::fs::remove_directories(directory); }

  std::unique_ptr<jit::Jit> makeJit() const {
    jit::JitOptions options;
    options.cacheDirectory = directory;
    options.useDefaultCacheDirectory = false;
    return std::make_unique<jit::Jit>(options);
  }

  static jit::KernelSpec spec() {
    jit::KernelSpec spec;
    spec.config.segmentLengths = {8, 16};
    spec.config.dilationRates = {1, 2};
    spec.headDim = 8;
    return spec;
  }

  /// Runs the kernel of spec() through the API with `jit`; returns the
  /// relative error against the reference (inf when the run failed).
  static double runAndCompare(jit::Jit &jit) {
    llvm::SmallVector<int64_t, 4> shape = {1, 24, 2, 8};
    reference::Tensor q = reference::randomTensor({1, 24, 2, 8}, 7);
    std::vector<float> data(q.data.begin(), q.data.end()), out(data.size());
    for (size_t i = 0; i < data.size(); ++i)
      q.data[i] = data[i];
    RunOptions options;
    options.jit = &jit;
    auto info = dilatedAttention(spec().config, HostTensor{data.data(), shape},
                                 HostTensor{data.data(), shape},
                                 HostTensor{data.data(), shape}, std::nullopt,
                                 std::nullopt, out.data(), shape, options);
    if (!info) {
      ADD_FAILURE() << llvm::toString(info.takeError());
      return HUGE_VAL;
    }
    auto expected = reference::dilatedAttention(spec().config, q, q, q);
    if (!expected) {
      llvm::consumeError(expected.takeError());
      return HUGE_VAL;
    }
    return reference::compare(llvm::ArrayRef<float>(out), expected->data)
        .relative;
  }

  std::vector<std::string> list(llvm::StringRef marker) const {
    std::vector<std::string> files;
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(directory, ec), end;
         it != end && !ec; it.increment(ec))
      if (llvm::StringRef(it->path()).contains(marker))
        files.push_back(it->path());
    return files;
  }

  /// The path of the (single) entry a first JIT stored.
  std::string storeEntry() {
    auto jit = makeJit();
    EXPECT_LE(runAndCompare(*jit), 1e-5);
    std::vector<std::string> entries = list(".kernel");
    EXPECT_EQ(entries.size(), 1u);
    return entries.empty() ? "" : entries[0];
  }

  static Bytes read(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
  }
  static void write(const std::string &path, const Bytes &bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
  }

  /// The identity and key stored in an entry (the documented layout of
  /// KernelCache.h): the JIT resolves the tuning before it builds the key,
  /// so the test reads it back rather than guessing it.
  struct Fields {
    jit::CacheIdentity identity;
    std::string key;
  };
  static Fields fields(const Bytes &entry) {
    size_t at = 12;
    auto string = [&] {
      uint32_t size = uint32_t(entry[at]) | uint32_t(entry[at + 1]) << 8 |
                      uint32_t(entry[at + 2]) << 16 |
                      uint32_t(entry[at + 3]) << 24;
      std::string text(entry.begin() + at + 4, entry.begin() + at + 4 + size);
      at += 4 + size;
      return text;
    };
    Fields result;
    result.identity.compilerVersion = string();
    result.identity.target = string();
    result.key = string();
    return result;
  }

  /// After the fault: a new JIT recompiles, runs right, counts the invalid
  /// entry and stores a good one that the next JIT loads.
  void expectRecompiledAndRepaired(uint64_t invalidEntries = 1) {
    {
      auto jit = makeJit();
      EXPECT_LE(runAndCompare(*jit), 1e-5);
      EXPECT_EQ(jit->stats().compiles, 1u);
      EXPECT_EQ(jit->stats().diskHits, 0u);
      EXPECT_EQ(jit->stats().diskInvalidEntries, invalidEntries);
    }
    auto jit = makeJit();
    EXPECT_LE(runAndCompare(*jit), 1e-5);
    EXPECT_EQ(jit->stats().compiles, 0u);
    EXPECT_EQ(jit->stats().diskHits, 1u);
    EXPECT_TRUE(list(".tmp-").empty());
  }

  std::string directory;
};

TEST_F(JitFault, TruncatedEntries) {
  std::string entry = storeEntry();
  Bytes good = read(entry);
  // Cut at the header, inside the object code, before the checksum's end.
  for (size_t size :
       {size_t(0), size_t(7), size_t(40), good.size() / 2, good.size() - 1}) {
    write(entry, Bytes(good.begin(), good.begin() + size));
    expectRecompiledAndRepaired();
  }
}

TEST_F(JitFault, BitFlippedEntries) {
  std::string entry = storeEntry();
  Bytes good = read(entry);
  for (size_t position : {size_t(3), size_t(9), size_t(30), good.size() / 3,
                          good.size() / 2, good.size() - 40, good.size() - 1}) {
    Bytes bad = good;
    bad[position] ^= 0x10;
    write(entry, bad);
    expectRecompiledAndRepaired();
  }
}

TEST_F(JitFault, EntriesOfOtherVersionsAndTargets) {
  std::string entry = storeEntry();
  Bytes good = read(entry);
  Fields stored = fields(good);
  std::string version = stored.identity.compilerVersion;
  std::string target = stored.identity.target;
  std::string key = stored.key;
  EXPECT_EQ(version, jit::Jit::compilerVersion());
  EXPECT_EQ(target, jit::Jit::hostTarget());

  auto decoded = jit::DiskCache::decodeEntry(
      good, jit::CacheIdentity{version, target}, key);
  ASSERT_TRUE(static_cast<bool>(decoded))
      << llvm::toString(decoded.takeError());
  Bytes object = decoded->vec();
  // Intact entries (good checksums) of another compiler and another CPU,
  // copied over ours: foreign, never loaded.
  write(entry,
        jit::DiskCache::encodeEntry(
            jit::CacheIdentity{version + " (older)", target}, key, object));
  expectRecompiledAndRepaired();
  write(entry, jit::DiskCache::encodeEntry(
                   jit::CacheIdentity{version, "riscv64-unknown-linux-gnu"},
                   key, object));
  expectRecompiledAndRepaired();
  // Another key's entry under this name.
  write(entry, jit::DiskCache::encodeEntry(jit::CacheIdentity{version, target},
                                           key + ";other", object));
  expectRecompiledAndRepaired();
  // Not an entry at all.
  write(entry, Bytes(4096, 0xab));
  expectRecompiledAndRepaired();
}

TEST_F(JitFault, ValidEntryWithGarbageObjectCode) {
  // Checksummed and for this compiler and key, but its payload is not an
  // object file (a buggy or hostile writer): linking fails, the JIT
  // recompiles and replaces it.
  std::string entry = storeEntry();
  Fields stored = fields(read(entry));
  Bytes garbage(3000);
  for (size_t i = 0; i < garbage.size(); ++i)
    garbage[i] = static_cast<uint8_t>(i * 131 + 7);
  garbage[0] = 0x7f, garbage[1] = 'E', garbage[2] = 'L', garbage[3] = 'F';
  write(entry,
        jit::DiskCache::encodeEntry(stored.identity, stored.key, garbage));
  {
    auto jit = makeJit();
    EXPECT_LE(runAndCompare(*jit), 1e-5);
    // Loaded (valid entry), failed to link, recompiled.
    EXPECT_EQ(jit->stats().diskHits, 1u);
    EXPECT_EQ(jit->stats().compiles, 1u);
  }
  auto jit = makeJit();
  EXPECT_LE(runAndCompare(*jit), 1e-5);
  EXPECT_EQ(jit->stats().compiles, 0u);
}

TEST_F(JitFault, WriterKilledMidWrite) {
  // A child compiles the kernel and is killed (SIGXFSZ, by its file size
  // limit) while writing the entry.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    struct rlimit noCore = {0, 0};
    ::setrlimit(RLIMIT_CORE, &noCore);
    ::signal(SIGXFSZ, SIG_DFL);
    struct rlimit small = {1024, 1024};
    ::setrlimit(RLIMIT_FSIZE, &small);
    auto jit = makeJit();
    (void)runAndCompare(*jit);
    ::_exit(3); // Not reached.
  }
  int status = -1;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGXFSZ);
  std::vector<std::string> temporaries = list(".tmp-");
  ASSERT_EQ(temporaries.size(), 1u);
  // Its name contains ".kernel" too: it is the only file.
  EXPECT_EQ(list("").size(), 1u);
  {
    // The torn file is never read: the JIT compiles and stores afresh.
    auto jit = makeJit();
    EXPECT_LE(runAndCompare(*jit), 1e-5);
    EXPECT_EQ(jit->stats().compiles, 1u);
    EXPECT_EQ(jit->stats().diskInvalidEntries, 0u);
  }
  // A young temporary may belong to a live writer: kept. Once it is older
  // than an hour, the next JIT removes it.
  ASSERT_EQ(list(".tmp-").size(), 1u);
  struct timeval old[2] = {{::time(nullptr) - 7200, 0},
                           {::time(nullptr) - 7200, 0}};
  ASSERT_EQ(::utimes(temporaries[0].c_str(), old), 0);
  auto jit = makeJit();
  EXPECT_TRUE(list(".tmp-").empty());
  EXPECT_LE(runAndCompare(*jit), 1e-5);
  EXPECT_EQ(jit->stats().diskHits, 1u);
}

TEST_F(JitFault, FullFileSystem) {
  // A tmpfs too small for any kernel; where none can be mounted (not root),
  // a file size limit gives the same EFBIG/ENOSPC path.
  std::string mountPoint = directory + "/small";
  ASSERT_EQ(::mkdir(mountPoint.c_str(), 0700), 0);
  bool mounted = ::mount("tmpfs", mountPoint.c_str(), "tmpfs", 0,
                         "size=4k,mode=0700") == 0;
  auto body = [&]() -> int {
    jit::JitOptions options;
    options.cacheDirectory = mountPoint;
    options.useDefaultCacheDirectory = false;
    jit::Jit jit(options);
    // Twice: both run right, the second from memory.
    if (!(runAndCompare(jit) <= 1e-5) || !(runAndCompare(jit) <= 1e-5))
      return 1;
    if (jit.stats().diskStoreFailures != 1 || jit.stats().compiles != 1)
      return 2;
    // A failed store leaves nothing behind.
    std::error_code ec;
    llvm::sys::fs::directory_iterator it(mountPoint, ec);
    if (ec || it != llvm::sys::fs::directory_iterator())
      return 3;
    return 0;
  };
  if (mounted) {
    EXPECT_EQ(body(), 0);
    ::umount2(mountPoint.c_str(), MNT_DETACH);
    return;
  }
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = {4096, 4096};
    ::setrlimit(RLIMIT_FSIZE, &small);
    ::_exit(body());
  }
  int status = -1;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

} // namespace
