//===- KernelCacheTest.cpp - disk and memory kernel caches ----------------===//
//
// Every disk test works in a fresh directory of its own. Tests that need a
// second process fork: the child does the work and reports through its exit
// status, the parent checks the directory afterwards.
//
//===----------------------------------------------------------------------===//

#include "dilattn/JIT/KernelCache.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SHA256.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace dilattn::jit;
using Bytes = std::vector<uint8_t>;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// A fresh directory, removed (with its contents) at the end of the test.
class TempDir {
public:
  TempDir() {
    std::error_code error =
        llvm::sys::fs::createUniqueDirectory("dilattn-kernel-cache", path);
    EXPECT_FALSE(error) << error.message();
  }
  ~TempDir() {
    ::chmod(path.c_str(), 0700);
    llvm::sys::fs::remove_directories(path);
  }
  std::string str() const { return std::string(path); }
  std::string child(llvm::StringRef name) const {
    llvm::SmallString<256> result(path);
    llvm::sys::path::append(result, name);
    return std::string(result);
  }

private:
  llvm::SmallString<256> path;
};

CacheIdentity testIdentity() {
  return {"dilattn 0.1.0 (LLVM 22.1) test", "x86_64-unknown-linux-gnu;znver4;"
                                            "+avx2,+fma"};
}

Bytes bytesOf(llvm::StringRef text) { return Bytes(text.begin(), text.end()); }

bool exists(const std::string &path) {
  struct stat info;
  return ::lstat(path.c_str(), &info) == 0;
}

Bytes readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void writeFile(const std::string &path, llvm::ArrayRef<uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
  ASSERT_TRUE(out.good()) << path;
}

std::vector<std::string> listDirectory(const std::string &directory) {
  std::vector<std::string> names;
  if (DIR *dir = ::opendir(directory.c_str())) {
    while (struct dirent *entry = ::readdir(dir)) {
      std::string name = entry->d_name;
      if (name != "." && name != "..")
        names.push_back(name);
    }
    ::closedir(dir);
  }
  std::sort(names.begin(), names.end());
  return names;
}

size_t countTemporaries(const std::string &directory) {
  size_t count = 0;
  for (const std::string &name : listDirectory(directory))
    count += name.find(".tmp-") != std::string::npos;
  return count;
}

/// An entry encoded from the documented layout, independently of
/// DiskCache::encodeEntry, with every field under the test's control.
Bytes encodeByHand(llvm::StringRef magic, uint32_t version,
                   llvm::StringRef compilerVersion, llvm::StringRef target,
                   llvm::StringRef key, llvm::ArrayRef<uint8_t> payload) {
  Bytes out(magic.begin(), magic.end());
  auto u32 = [&](uint32_t value) {
    uint8_t raw[4];
    llvm::support::endian::write32le(raw, value);
    out.insert(out.end(), raw, raw + 4);
  };
  auto string = [&](llvm::StringRef text) {
    u32(text.size());
    out.insert(out.end(), text.begin(), text.end());
  };
  u32(version);
  string(compilerVersion);
  string(target);
  string(key);
  uint8_t raw[8];
  llvm::support::endian::write64le(raw, payload.size());
  out.insert(out.end(), raw, raw + 8);
  out.insert(out.end(), payload.begin(), payload.end());
  std::array<uint8_t, 32> sum = llvm::SHA256::hash(out);
  out.insert(out.end(), sum.begin(), sum.end());
  return out;
}

/// A payload that describes itself (writer, iteration, size), so that a
/// reader can tell a complete payload from a torn or mixed one.
Bytes makePayload(uint32_t writer, uint32_t iteration, size_t size) {
  Bytes payload(std::max<size_t>(size, 12));
  llvm::support::endian::write32le(payload.data(), writer);
  llvm::support::endian::write32le(payload.data() + 4, iteration);
  llvm::support::endian::write32le(payload.data() + 8, payload.size());
  std::mt19937 random(writer * 1000003u + iteration);
  for (size_t i = 12; i < payload.size(); ++i)
    payload[i] = static_cast<uint8_t>(random());
  return payload;
}

bool isSelfConsistent(const Bytes &payload) {
  if (payload.size() < 12)
    return false;
  uint32_t writer = llvm::support::endian::read32le(payload.data());
  uint32_t iteration = llvm::support::endian::read32le(payload.data() + 4);
  return makePayload(writer, iteration, payload.size()) == payload;
}

/// Runs `body` in a forked child and returns its wait status.
template <typename Fn> int inChild(Fn body) {
  pid_t pid = ::fork();
  if (pid == 0)
    ::_exit(body());
  int status = -1;
  ::waitpid(pid, &status, 0);
  return status;
}

bool exitedWith(int status, int code) {
  return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

//===----------------------------------------------------------------------===//
// DiskCache: basic behaviour
//===----------------------------------------------------------------------===//

TEST(DiskCache, StoreLoadRoundTrip) {
  TempDir dir;
  DiskCache cache(dir.str(), testIdentity());
  Bytes payload = makePayload(1, 2, 1000);
  ASSERT_FALSE(llvm::errorToBool(cache.store("key", payload)));
  std::optional<Bytes> loaded = cache.load("key");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(*loaded, payload);

  // Empty and large payloads.
  ASSERT_FALSE(llvm::errorToBool(cache.store("empty", {})));
  EXPECT_EQ(cache.load("empty"), Bytes());
  Bytes large = makePayload(3, 4, 3 << 20);
  ASSERT_FALSE(llvm::errorToBool(cache.store("large", large)));
  EXPECT_EQ(cache.load("large"), large);

  DiskCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.hits, 3u);
  EXPECT_EQ(stats.misses, 0u);
  EXPECT_EQ(stats.stores, 3u);
  EXPECT_EQ(stats.storeFailures, 0u);
  EXPECT_EQ(countTemporaries(dir.str()), 0u);
}

TEST(DiskCache, MissOnAbsentKey) {
  TempDir dir;
  DiskCache cache(dir.child("not-created-yet"), testIdentity());
  EXPECT_FALSE(cache.load("absent"));
  ASSERT_FALSE(llvm::errorToBool(cache.store("present", bytesOf("x"))));
  EXPECT_FALSE(cache.load("absent"));
  DiskCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.misses, 2u);
  EXPECT_EQ(stats.invalidEntries, 0u);
  // store created the directory, private to the user.
  struct stat info;
  ASSERT_EQ(::stat(dir.child("not-created-yet").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
}

TEST(DiskCache, OverwriteReplacesEntry) {
  TempDir dir;
  DiskCache cache(dir.str(), testIdentity());
  ASSERT_FALSE(llvm::errorToBool(cache.store("key", bytesOf("first"))));
  ASSERT_FALSE(llvm::errorToBool(cache.store("key", bytesOf("second"))));
  EXPECT_EQ(cache.load("key"), bytesOf("second"));
  EXPECT_EQ(listDirectory(dir.str()).size(), 1u);
}

TEST(DiskCache, FileFormatMatchesDocumentation) {
  TempDir dir;
  CacheIdentity identity = testIdentity();
  DiskCache cache(dir.str(), identity);
  Bytes payload = bytesOf("object file bytes");
  ASSERT_FALSE(llvm::errorToBool(cache.store("the key", payload)));

  std::string path = cache.entryPath("the key");
  llvm::StringRef name = llvm::sys::path::filename(path);
  EXPECT_EQ(llvm::sys::path::parent_path(path), dir.str());
  ASSERT_TRUE(name.consume_back(".kernel")) << name.str();
  EXPECT_EQ(name.size(), 64u);
  EXPECT_TRUE(llvm::all_of(name, llvm::isHexDigit)) << name.str();

  Bytes expected = encodeByHand("DILATTNK", DiskCache::kFormatVersion,
                                identity.compilerVersion, identity.target,
                                "the key", payload);
  EXPECT_EQ(readFile(path), expected);
  EXPECT_EQ(DiskCache::encodeEntry(identity, "the key", payload), expected);
}

TEST(DiskCache, LongKeysAreNotFileNames) {
  TempDir dir;
  DiskCache cache(dir.str(), testIdentity());
  std::string keyA(2000, 'k'), keyB = keyA;
  keyB.back() = 'j';
  ASSERT_FALSE(llvm::errorToBool(cache.store(keyA, bytesOf("a"))));
  ASSERT_FALSE(llvm::errorToBool(cache.store(keyB, bytesOf("b"))));
  EXPECT_EQ(cache.load(keyA), bytesOf("a"));
  EXPECT_EQ(cache.load(keyB), bytesOf("b"));
  EXPECT_LT(llvm::sys::path::filename(cache.entryPath(keyA)).size(), 80u);
}

TEST(DiskCache, PersistsAcrossInstances) {
  TempDir dir;
  {
    DiskCache writer(dir.str(), testIdentity());
    ASSERT_FALSE(llvm::errorToBool(writer.store("key", bytesOf("kernel"))));
  }
  DiskCache reader(dir.str(), testIdentity());
  EXPECT_EQ(reader.load("key"), bytesOf("kernel"));
}

TEST(DiskCache, PersistsAcrossProcesses) {
  TempDir dir;
  Bytes payload = makePayload(7, 7, 5000);
  int status = inChild([&] {
    DiskCache writer(dir.str(), testIdentity());
    return llvm::errorToBool(writer.store("key", payload)) ? 1 : 0;
  });
  ASSERT_TRUE(exitedWith(status, 0)) << status;
  DiskCache reader(dir.str(), testIdentity());
  EXPECT_EQ(reader.load("key"), payload);
}

TEST(DiskCache, DisabledWithoutDirectory) {
  DiskCache cache("", testIdentity());
  EXPECT_FALSE(cache.load("key"));
  llvm::Error error = cache.store("key", bytesOf("x"));
  EXPECT_TRUE(llvm::errorToBool(std::move(error)));
  EXPECT_EQ(cache.stats().storeFailures, 1u);
}

TEST(DiskCache, DefaultDirectory) {
  auto save = [](const char *name) -> std::optional<std::string> {
    const char *value = std::getenv(name);
    return value ? std::optional<std::string>(value) : std::nullopt;
  };
  auto restore = [](const char *name, const std::optional<std::string> &v) {
    if (v)
      ::setenv(name, v->c_str(), 1);
    else
      ::unsetenv(name);
  };
  std::optional<std::string> oldDir = save("DILATTN_CACHE_DIR"),
                             oldXdg = save("XDG_CACHE_HOME"),
                             oldHome = save("HOME");
  ::setenv("HOME", "/home/someone", 1);
  ::setenv("XDG_CACHE_HOME", "/xdg/cache", 1);
  ::setenv("DILATTN_CACHE_DIR", "/explicit/dir", 1);
  EXPECT_EQ(DiskCache::defaultDirectory(), "/explicit/dir");
  ::setenv("DILATTN_CACHE_DIR", "relative/dir", 1);
  EXPECT_TRUE(llvm::sys::path::is_absolute(DiskCache::defaultDirectory()));
  ::setenv("DILATTN_CACHE_DIR", "", 1);
  EXPECT_EQ(DiskCache::defaultDirectory(), "/xdg/cache/dilattn");
  ::unsetenv("DILATTN_CACHE_DIR");
  EXPECT_EQ(DiskCache::defaultDirectory(), "/xdg/cache/dilattn");
  ::setenv("XDG_CACHE_HOME", "not/absolute", 1);
  EXPECT_EQ(DiskCache::defaultDirectory(), "/home/someone/.cache/dilattn");
  ::unsetenv("XDG_CACHE_HOME");
  EXPECT_EQ(DiskCache::defaultDirectory(), "/home/someone/.cache/dilattn");
  restore("DILATTN_CACHE_DIR", oldDir);
  restore("XDG_CACHE_HOME", oldXdg);
  restore("HOME", oldHome);
}

//===----------------------------------------------------------------------===//
// DiskCache: damaged and foreign entries
//===----------------------------------------------------------------------===//

/// Puts `bytes` where `key`'s entry lives and checks that loading rejects
/// and removes it.
void expectRejected(DiskCache &cache, llvm::StringRef key,
                    llvm::ArrayRef<uint8_t> bytes, const std::string &what) {
  std::string path = cache.entryPath(key);
  writeFile(path, bytes);
  uint64_t invalidBefore = cache.stats().invalidEntries;
  EXPECT_FALSE(cache.load(key)) << what;
  EXPECT_EQ(cache.stats().invalidEntries, invalidBefore + 1) << what;
  EXPECT_FALSE(exists(path)) << what << ": not removed";
}

TEST(DiskCache, RejectsTruncatedEntries) {
  TempDir dir;
  DiskCache cache(dir.str(), testIdentity());
  Bytes entry =
      DiskCache::encodeEntry(testIdentity(), "key", makePayload(1, 1, 300));
  for (size_t length = 0; length < entry.size(); ++length)
    expectRejected(cache, "key", llvm::ArrayRef(entry).take_front(length),
                   "truncated to " + std::to_string(length));
  // The cache recovers: a store replaces the entry.
  ASSERT_FALSE(llvm::errorToBool(cache.store("key", bytesOf("fresh"))));
  EXPECT_EQ(cache.load("key"), bytesOf("fresh"));
}

TEST(DiskCache, RejectsEveryBitFlip) {
  TempDir dir;
  DiskCache cache(dir.str(), testIdentity());
  Bytes entry = DiskCache::encodeEntry(testIdentity(), "k", bytesOf("tiny"));
  for (size_t byte = 0; byte < entry.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes damaged = entry;
      damaged[byte] ^= uint8_t(1u << bit);
      expectRejected(cache, "k", damaged,
                     "byte " + std::to_string(byte) + " bit " +
                         std::to_string(bit));
      if (HasFailure())
        return;
    }
  }
  EXPECT_EQ(cache.stats().hits, 0u);
  EXPECT_EQ(cache.stats().invalidEntries, entry.size() * 8);
}

TEST(DiskCache, RejectsTrailingBytes) {
  TempDir dir;
  DiskCache cache(dir.str(), testIdentity());
  Bytes entry = DiskCache::encodeEntry(testIdentity(), "key", bytesOf("abc"));
  entry.push_back(0);
  expectRejected(cache, "key", entry, "trailing byte");
}

TEST(DiskCache, RejectsOtherFormatVersion) {
  TempDir dir;
  CacheIdentity identity = testIdentity();
  DiskCache cache(dir.str(), identity);
  for (uint32_t version : {0u, DiskCache::kFormatVersion + 1, 0xffffffffu}) {
    Bytes entry = encodeByHand("DILATTNK", version, identity.compilerVersion,
                               identity.target, "key", bytesOf("payload"));
    llvm::Expected<llvm::ArrayRef<uint8_t>> decoded =
        DiskCache::decodeEntry(entry, identity, "key");
    ASSERT_FALSE(decoded);
    EXPECT_NE(llvm::toString(decoded.takeError()).find("format version"),
              std::string::npos);
    expectRejected(cache, "key", entry, "version " + std::to_string(version));
  }
}

TEST(DiskCache, RejectsOtherIdentity) {
  TempDir dir;
  CacheIdentity identity = testIdentity();
  DiskCache cache(dir.str(), identity);
  Bytes payload = bytesOf("payload");
  Bytes otherCompiler =
      encodeByHand("DILATTNK", DiskCache::kFormatVersion, "dilattn 0.0.9",
                   identity.target, "key", payload);
  Bytes otherTarget = encodeByHand("DILATTNK", DiskCache::kFormatVersion,
                                   identity.compilerVersion,
                                   "aarch64-linux-gnu", "key", payload);
  llvm::Expected<llvm::ArrayRef<uint8_t>> decoded =
      DiskCache::decodeEntry(otherTarget, identity, "key");
  ASSERT_FALSE(decoded);
  EXPECT_NE(llvm::toString(decoded.takeError()).find("target"),
            std::string::npos);
  expectRejected(cache, "key", otherCompiler, "other compiler version");
  expectRejected(cache, "key", otherTarget, "other target");
}

TEST(DiskCache, IdentitiesShareDirectoryWithoutConflict) {
  TempDir dir;
  CacheIdentity other = testIdentity();
  other.target = "x86_64-unknown-linux-gnu;skylake;+avx2";
  DiskCache mine(dir.str(), testIdentity()), theirs(dir.str(), other);
  EXPECT_NE(mine.entryPath("key"), theirs.entryPath("key"));
  ASSERT_FALSE(llvm::errorToBool(mine.store("key", bytesOf("mine"))));
  EXPECT_FALSE(theirs.load("key"));
  ASSERT_FALSE(llvm::errorToBool(theirs.store("key", bytesOf("theirs"))));
  EXPECT_EQ(mine.load("key"), bytesOf("mine"));
  EXPECT_EQ(theirs.load("key"), bytesOf("theirs"));
  EXPECT_EQ(mine.stats().invalidEntries + theirs.stats().invalidEntries, 0u);
}

TEST(DiskCache, RejectsForeignFiles) {
  TempDir dir;
  DiskCache cache(dir.str(), testIdentity());
  std::mt19937 random(42);
  Bytes noise(4096);
  for (uint8_t &byte : noise)
    byte = static_cast<uint8_t>(random());
  expectRejected(cache, "key", noise, "random bytes");
  expectRejected(cache, "key", {}, "empty file");
  Bytes otherMagic = encodeByHand(
      "NOTAKERN", DiskCache::kFormatVersion, testIdentity().compilerVersion,
      testIdentity().target, "key", bytesOf("payload"));
  expectRejected(cache, "key", otherMagic, "other magic");

  // A valid entry of another key, renamed: the key inside must match.
  ASSERT_FALSE(llvm::errorToBool(cache.store("other", bytesOf("other"))));
  ASSERT_EQ(::rename(cache.entryPath("other").c_str(),
                     cache.entryPath("key").c_str()),
            0);
  uint64_t invalidBefore = cache.stats().invalidEntries;
  EXPECT_FALSE(cache.load("key"));
  EXPECT_EQ(cache.stats().invalidEntries, invalidBefore + 1);
  EXPECT_FALSE(exists(cache.entryPath("key")));

  // A huge length field must not be trusted (no giant allocation).
  Bytes huge = DiskCache::encodeEntry(testIdentity(), "key", bytesOf("p"));
  size_t payloadLengthAt = huge.size() - 32 - 1 - 8;
  llvm::support::endian::write64le(huge.data() + payloadLengthAt, ~uint64_t(0));
  expectRejected(cache, "key", huge, "huge payload length");
}

TEST(DiskCache, RejectsNonRegularFiles) {
  TempDir dir;
  DiskCache cache(dir.str(), testIdentity());
  // A symlink to a valid entry is still not an entry we wrote.
  ASSERT_FALSE(llvm::errorToBool(cache.store("target", bytesOf("t"))));
  std::string path = cache.entryPath("key");
  ASSERT_EQ(::symlink(cache.entryPath("target").c_str(), path.c_str()), 0);
  EXPECT_FALSE(cache.load("key"));
  EXPECT_FALSE(exists(path));
  EXPECT_EQ(cache.load("target"), bytesOf("t"));

  // A FIFO must not block the load.
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  EXPECT_FALSE(cache.load("key"));
  EXPECT_FALSE(exists(path));

  // A directory cannot be removed by the cache but is not loaded either; a
  // store then fails cleanly.
  ASSERT_EQ(::mkdir(path.c_str(), 0700), 0);
  EXPECT_FALSE(cache.load("key"));
  llvm::Error error = cache.store("key", bytesOf("x"));
  EXPECT_TRUE(llvm::errorToBool(std::move(error)));
  EXPECT_EQ(countTemporaries(dir.str()), 0u);
}

//===----------------------------------------------------------------------===//
// DiskCache: killed writers, read-only and full directories
//===----------------------------------------------------------------------===//

TEST(DiskCache, StrayTemporaryFilesAreIgnored) {
  TempDir dir;
  DiskCache cache(dir.str(), testIdentity());
  // What a writer killed mid-write leaves: a partial entry under a temporary
  // name next to the entry.
  Bytes entry = DiskCache::encodeEntry(testIdentity(), "key", bytesOf("full"));
  std::string stray = cache.entryPath("key") + ".tmp-99999-1-deadbeef";
  writeFile(stray, llvm::ArrayRef(entry).take_front(entry.size() / 2));

  EXPECT_FALSE(cache.load("key"));
  EXPECT_EQ(cache.stats().invalidEntries, 0u);
  ASSERT_FALSE(llvm::errorToBool(cache.store("key", bytesOf("full"))));
  EXPECT_EQ(cache.load("key"), bytesOf("full"));
  EXPECT_TRUE(exists(stray));

  // Fresh temporaries may belong to a live writer: kept.
  EXPECT_EQ(cache.removeStaleTemporaries(std::chrono::hours(1)), 0u);
  EXPECT_TRUE(exists(stray));
  // Old ones are removed; entries never are.
  struct timeval old[2] = {{::time(nullptr) - 7200, 0},
                           {::time(nullptr) - 7200, 0}};
  ASSERT_EQ(::utimes(stray.c_str(), old), 0);
  ASSERT_EQ(::utimes(cache.entryPath("key").c_str(), old), 0);
  EXPECT_EQ(cache.removeStaleTemporaries(std::chrono::hours(1)), 1u);
  EXPECT_FALSE(exists(stray));
  EXPECT_EQ(cache.load("key"), bytesOf("full"));
}

TEST(DiskCache, WriterKilledMidWrite) {
  TempDir dir;
  DiskCache cache(dir.str(), testIdentity());
  ASSERT_FALSE(llvm::errorToBool(cache.store("key", bytesOf("old"))));
  // The child's file size limit kills it with SIGXFSZ in the middle of
  // writing the payload.
  int status = inChild([&] {
    struct rlimit noCore = {0, 0};
    ::setrlimit(RLIMIT_CORE, &noCore);
    ::signal(SIGXFSZ, SIG_DFL);
    struct rlimit small = {4096, 4096};
    ::setrlimit(RLIMIT_FSIZE, &small);
    DiskCache writer(dir.str(), testIdentity());
    llvm::consumeError(writer.store("key", makePayload(1, 1, 1 << 20)));
    return 3; // Not reached.
  });
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGXFSZ);
  EXPECT_EQ(countTemporaries(dir.str()), 1u);
  EXPECT_EQ(cache.load("key"), bytesOf("old"));
  Bytes fresh = makePayload(2, 2, 100000);
  ASSERT_FALSE(llvm::errorToBool(cache.store("key", fresh)));
  EXPECT_EQ(cache.load("key"), fresh);
  EXPECT_EQ(cache.stats().invalidEntries, 0u);
}

TEST(DiskCache, FullDirectoryFailsStoreCleanly) {
  TempDir dir;
  DiskCache cache(dir.str(), testIdentity());
  ASSERT_FALSE(llvm::errorToBool(cache.store("key", bytesOf("old"))));
  // With SIGXFSZ ignored, writes past the size limit fail with EFBIG, as
  // they would with ENOSPC on a full disk.
  int status = inChild([&] {
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = {4096, 4096};
    ::setrlimit(RLIMIT_FSIZE, &small);
    DiskCache writer(dir.str(), testIdentity());
    llvm::Error error = writer.store("key", makePayload(1, 1, 1 << 20));
    if (!error)
      return 1;
    std::string message = llvm::toString(std::move(error));
    if (message.find("cannot write kernel cache entry") == std::string::npos)
      return 2;
    if (writer.stats().storeFailures != 1)
      return 3;
    return 0;
  });
  ASSERT_TRUE(exitedWith(status, 0)) << status;
  EXPECT_EQ(countTemporaries(dir.str()), 0u);
  EXPECT_EQ(cache.load("key"), bytesOf("old"));
}

TEST(DiskCache, FullTmpfsDirectory) {
  // A real full file system: a 64 KiB tmpfs (needs root; the simulated full
  // disk above runs everywhere).
  TempDir dir;
  if (::mount("tmpfs", dir.str().c_str(), "tmpfs", 0, "size=64k,mode=0700") !=
      0)
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{dir.str()};

  DiskCache cache(dir.str(), testIdentity());
  Bytes small = makePayload(1, 1, 1000);
  ASSERT_FALSE(llvm::errorToBool(cache.store("key", small)));
  // Larger than the whole file system: ENOSPC in the middle of the write.
  llvm::Error error = cache.store("big", makePayload(2, 2, 200000));
  ASSERT_TRUE(static_cast<bool>(error));
  std::string message = llvm::toString(std::move(error));
  EXPECT_NE(message.find("No space left on device"), std::string::npos)
      << message;
  // Replacing an entry with one that does not fit keeps the old one.
  llvm::Error replace = cache.store("key", makePayload(3, 3, 200000));
  EXPECT_TRUE(static_cast<bool>(replace));
  llvm::consumeError(std::move(replace));
  EXPECT_EQ(cache.stats().storeFailures, 2u);
  EXPECT_EQ(countTemporaries(dir.str()), 0u);
  EXPECT_EQ(cache.load("key"), small);
  EXPECT_FALSE(cache.load("big"));
  EXPECT_EQ(cache.stats().invalidEntries, 0u);
  // Space that frees up is used again.
  ASSERT_FALSE(
      llvm::errorToBool(cache.store("other", makePayload(4, 4, 2000))));
  EXPECT_EQ(cache.load("other"), makePayload(4, 4, 2000));
}

TEST(DiskCache, ReadOnlyDirectory) {
  TempDir dir;
  DiskCache cache(dir.str(), testIdentity());
  ASSERT_FALSE(llvm::errorToBool(cache.store("key", bytesOf("old"))));
  Bytes damaged = DiskCache::encodeEntry(testIdentity(), "bad", bytesOf("x"));
  damaged.back() ^= 1;
  writeFile(cache.entryPath("bad"), damaged);
  ASSERT_EQ(::chmod(dir.str().c_str(), 0500), 0);

  if (::access(dir.str().c_str(), W_OK) == 0) {
    // Privileged: permissions do not stop us. A directory below a regular
    // file cannot be created or written by anyone.
    std::string file = dir.child("a-file");
    ::chmod(dir.str().c_str(), 0700);
    writeFile(file, bytesOf("not a directory"));
    DiskCache blocked(file + "/cache", testIdentity());
    llvm::Error error = blocked.store("key", bytesOf("new"));
    ASSERT_TRUE(static_cast<bool>(error));
    EXPECT_NE(llvm::toString(std::move(error)).find("directory"),
              std::string::npos);
    EXPECT_EQ(blocked.stats().storeFailures, 1u);
    EXPECT_FALSE(blocked.load("key"));
  } else {
    llvm::Error error = cache.store("key", bytesOf("new"));
    ASSERT_TRUE(static_cast<bool>(error));
    EXPECT_NE(llvm::toString(std::move(error)).find("Permission denied"),
              std::string::npos);
    EXPECT_EQ(cache.stats().storeFailures, 1u);
    // An invalid entry that cannot be removed is still never loaded.
    EXPECT_FALSE(cache.load("bad"));
    EXPECT_FALSE(cache.load("bad"));
    EXPECT_EQ(countTemporaries(dir.str()), 0u);
  }
  // Loads keep working.
  EXPECT_EQ(cache.load("key"), bytesOf("old"));
  EXPECT_FALSE(cache.load("bad"));
}

//===----------------------------------------------------------------------===//
// DiskCache: concurrency
//===----------------------------------------------------------------------===//

class DiskCacheThreads : public testing::TestWithParam<int> {};

TEST_P(DiskCacheThreads, StoreAndLoadConcurrently) {
  TempDir dir;
  DiskCache cache(dir.str(), testIdentity());
  const int numThreads = GetParam();
  const int iterations = 12;
  std::atomic<int> ready{0};
  std::atomic<int> problems{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < numThreads; ++t) {
    threads.emplace_back([&, t] {
      ++ready;
      while (ready.load() < numThreads)
        std::this_thread::yield();
      std::string own = "own-" + std::to_string(t);
      for (int i = 0; i < iterations; ++i) {
        Bytes payload = makePayload(t, i, 1000 + 977 * ((t + i) % 40));
        if (llvm::errorToBool(cache.store("shared", payload)))
          ++problems;
        if (llvm::errorToBool(cache.store(own, payload)))
          ++problems;
        std::optional<Bytes> shared = cache.load("shared");
        if (!shared || !isSelfConsistent(*shared))
          ++problems;
        if (cache.load(own) != payload)
          ++problems;
      }
    });
  }
  for (std::thread &thread : threads)
    thread.join();
  EXPECT_EQ(problems.load(), 0);
  DiskCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.invalidEntries, 0u);
  EXPECT_EQ(stats.storeFailures, 0u);
  EXPECT_EQ(stats.hits, uint64_t(2 * numThreads * iterations));
  EXPECT_EQ(countTemporaries(dir.str()), 0u);
  EXPECT_EQ(listDirectory(dir.str()).size(), size_t(numThreads + 1));
}

INSTANTIATE_TEST_SUITE_P(Threads, DiskCacheThreads, testing::Values(8, 16));

TEST(DiskCache, ProcessesStoreSameKeyConcurrently) {
  TempDir dir;
  const int numProcesses = 4;
  const int iterations = 15;
  // Children start together when the parent closes the pipe.
  int gate[2];
  ASSERT_EQ(::pipe(gate), 0);
  std::vector<pid_t> children;
  for (int p = 0; p < numProcesses; ++p) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(gate[1]);
      char byte;
      while (::read(gate[0], &byte, 1) < 0 && errno == EINTR)
        ;
      DiskCache cache(dir.str(), testIdentity());
      int problems = 0;
      for (int i = 0; i < iterations; ++i) {
        Bytes payload = makePayload(p, i, 2000 + 3001 * ((p + i) % 20));
        if (llvm::errorToBool(cache.store("shared", payload)))
          ++problems;
        std::optional<Bytes> loaded = cache.load("shared");
        if (!loaded || !isSelfConsistent(*loaded))
          ++problems;
      }
      if (cache.stats().invalidEntries != 0)
        ++problems;
      ::_exit(problems == 0 ? 0 : 1);
    }
    ASSERT_GT(pid, 0);
    children.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);
  for (pid_t pid : children) {
    int status = -1;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(exitedWith(status, 0)) << "child " << pid << ": " << status;
  }
  DiskCache cache(dir.str(), testIdentity());
  std::optional<Bytes> loaded = cache.load("shared");
  ASSERT_TRUE(loaded);
  EXPECT_TRUE(isSelfConsistent(*loaded));
  EXPECT_EQ(countTemporaries(dir.str()), 0u);
}

//===----------------------------------------------------------------------===//
// MemoryCache
//===----------------------------------------------------------------------===//

struct FakeKernel {
  explicit FakeKernel(std::string name) : name(std::move(name)) {}
  std::string name;
};
using KernelCache = MemoryCache<FakeKernel>;

/// A creator that counts its calls.
struct Creator {
  std::atomic<int> calls{0};
  size_t size = 100;
  llvm::Expected<KernelCache::Created> operator()(llvm::StringRef key) {
    ++calls;
    return KernelCache::Created(std::make_shared<FakeKernel>(key.str()), size);
  }
};

std::shared_ptr<FakeKernel> get(KernelCache &cache, llvm::StringRef key,
                                Creator &creator) {
  llvm::Expected<std::shared_ptr<FakeKernel>> result =
      cache.getOrCreate(key, [&] { return creator(key); });
  if (!result) {
    ADD_FAILURE() << llvm::toString(result.takeError());
    return nullptr;
  }
  return *result;
}

TEST(MemoryCache, HitAfterMiss) {
  KernelCache cache;
  Creator creator;
  EXPECT_EQ(cache.lookup("a"), nullptr);
  std::shared_ptr<FakeKernel> first = get(cache, "a", creator);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->name, "a");
  EXPECT_EQ(get(cache, "a", creator), first);
  EXPECT_EQ(cache.lookup("a"), first);
  EXPECT_EQ(creator.calls.load(), 1);
  KernelCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.misses, 2u); // lookup and the creating getOrCreate
  EXPECT_EQ(stats.hits, 2u);
  EXPECT_EQ(stats.creations, 1u);
  EXPECT_EQ(stats.entries, 1u);
  EXPECT_EQ(stats.bytes, 100u);
}

TEST(MemoryCache, EvictsLeastRecentlyUsedByBytes) {
  KernelCache cache(300);
  Creator creator;
  get(cache, "a", creator);
  std::shared_ptr<FakeKernel> b = get(cache, "b", creator);
  get(cache, "c", creator);
  cache.lookup("a");        // Most recent first: a c b.
  get(cache, "d", creator); // d a c b is over budget: b goes.
  EXPECT_EQ(cache.lookup("b"), nullptr);
  EXPECT_EQ(b->name, "b") << "an evicted value in use stays alive";
  EXPECT_NE(cache.lookup("c"), nullptr); // c d a.
  // Shrinking the budget drops a, then d.
  cache.setBudget(100);
  EXPECT_EQ(cache.lookup("a"), nullptr);
  EXPECT_EQ(cache.lookup("d"), nullptr);
  EXPECT_NE(cache.lookup("c"), nullptr);
  KernelCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.evictions, 3u);
  EXPECT_EQ(stats.entries, 1u);
  EXPECT_EQ(stats.bytes, 100u);
  EXPECT_EQ(stats.budget, 100u);
  EXPECT_EQ(creator.calls.load(), 4);
}

TEST(MemoryCache, EntryLargerThanBudgetIsNotKept) {
  KernelCache cache(50);
  Creator creator;
  EXPECT_NE(get(cache, "big", creator), nullptr);
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_NE(get(cache, "big", creator), nullptr);
  EXPECT_EQ(creator.calls.load(), 2);
  cache.setBudget(1000);
  get(cache, "big", creator);
  get(cache, "big", creator);
  EXPECT_EQ(creator.calls.load(), 3);
  cache.clear();
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

/// Starts `count` threads running `body(index)` as close to simultaneously
/// as possible and joins them.
template <typename Fn> void runTogether(int count, Fn body) {
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < count; ++i)
    threads.emplace_back([&, i] {
      ++ready;
      while (ready.load() < count)
        std::this_thread::yield();
      body(i);
    });
  for (std::thread &thread : threads)
    thread.join();
}

TEST(MemoryCache, SingleFlightForSameKey) {
  KernelCache cache;
  std::atomic<int> calls{0};
  std::vector<std::shared_ptr<FakeKernel>> results(16);
  runTogether(16, [&](int i) {
    llvm::Expected<std::shared_ptr<FakeKernel>> result = cache.getOrCreate(
        "same", [&]() -> llvm::Expected<KernelCache::Created> {
          ++calls;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          return KernelCache::Created(std::make_shared<FakeKernel>("same"), 1);
        });
    if (result)
      results[i] = *result;
    else
      llvm::consumeError(result.takeError());
  });
  EXPECT_EQ(calls.load(), 1);
  ASSERT_NE(results[0], nullptr);
  for (const std::shared_ptr<FakeKernel> &result : results)
    EXPECT_EQ(result, results[0]);
  KernelCache::Stats stats = cache.stats();
  EXPECT_EQ(stats.creations, 1u);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.waits + stats.hits, 15u);
}

TEST(MemoryCache, FailedCreationReachesAllWaitersAndIsRetried) {
  KernelCache cache;
  std::atomic<int> calls{0};
  std::vector<std::string> messages(16);
  // '%' checks that the message is not used as a format string.
  const std::string message = "compile failed: 100% broken %s";
  runTogether(16, [&](int i) {
    llvm::Expected<std::shared_ptr<FakeKernel>> result =
        cache.getOrCreate("bad", [&]() -> llvm::Expected<KernelCache::Created> {
          ++calls;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                         llvm::StringRef(message));
        });
    if (result)
      messages[i] = "unexpected success";
    else
      messages[i] = llvm::toString(result.takeError());
  });
  EXPECT_EQ(calls.load(), 1);
  for (const std::string &got : messages)
    EXPECT_EQ(got, message);
  EXPECT_EQ(cache.stats().failedCreations, 1u);
  EXPECT_EQ(cache.stats().entries, 0u);

  Creator creator;
  EXPECT_NE(get(cache, "bad", creator), nullptr);
  EXPECT_EQ(creator.calls.load(), 1);
}

TEST(MemoryCache, WaitersGetTheCreatorsErrorCode) {
  KernelCache cache;
  std::vector<dilattn::ErrorReport> reports(8);
  runTogether(8, [&](int i) {
    llvm::Expected<std::shared_ptr<FakeKernel>> result =
        cache.getOrCreate("bad", [&]() -> llvm::Expected<KernelCache::Created> {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          return dilattn::makeError(dilattn::ErrorCode::Unsupported,
                                    "head dim 7 is not run");
        });
    if (!result)
      reports[i] = dilattn::takeErrorReport(result.takeError());
  });
  for (const dilattn::ErrorReport &report : reports) {
    EXPECT_EQ(report.code, dilattn::ErrorCode::Unsupported);
    EXPECT_EQ(report.message, "head dim 7 is not run");
  }
}

TEST(MemoryCache, NullValueIsAnError) {
  KernelCache cache;
  llvm::Expected<std::shared_ptr<FakeKernel>> result =
      cache.getOrCreate("key", []() -> llvm::Expected<KernelCache::Created> {
        return KernelCache::Created(nullptr, 0);
      });
  ASSERT_FALSE(result);
  EXPECT_NE(llvm::toString(result.takeError()).find("no value"),
            std::string::npos);
  EXPECT_EQ(cache.stats().entries, 0u);
}

TEST(MemoryCache, RecursiveCreationIsAnError) {
  KernelCache cache;
  std::string inner;
  llvm::Expected<std::shared_ptr<FakeKernel>> result =
      cache.getOrCreate("key", [&]() -> llvm::Expected<KernelCache::Created> {
        llvm::Expected<std::shared_ptr<FakeKernel>> again =
            cache.getOrCreate("key", [] {
              return llvm::Expected<KernelCache::Created>(
                  KernelCache::Created(nullptr, 0));
            });
        inner = again ? "success" : llvm::toString(again.takeError());
        return KernelCache::Created(std::make_shared<FakeKernel>("key"), 1);
      });
  ASSERT_TRUE(bool(result));
  EXPECT_NE(inner.find("recursive"), std::string::npos) << inner;
}

#if __cpp_exceptions
TEST(MemoryCache, ThrowingCreationDoesNotStrandWaiters) {
  KernelCache cache;
  std::atomic<int> threw{0}, failed{0};
  runTogether(8, [&](int) {
    try {
      llvm::Expected<std::shared_ptr<FakeKernel>> result = cache.getOrCreate(
          "key", []() -> llvm::Expected<KernelCache::Created> {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            throw std::runtime_error("out of memory");
          });
      if (!result) {
        failed += llvm::toString(result.takeError()).find("abandoned") !=
                  std::string::npos;
      }
    } catch (const std::runtime_error &) {
      ++threw;
    }
  });
  EXPECT_EQ(threw.load(), 1);
  EXPECT_EQ(failed.load(), 7);
  Creator creator;
  EXPECT_NE(get(cache, "key", creator), nullptr);
}
#endif

TEST(MemoryCache, DifferentKeysCreateInParallel) {
  KernelCache cache;
  const int count = 8;
  std::mutex mutex;
  std::condition_variable allActive;
  int active = 0;
  std::atomic<int> sawAll{0};
  runTogether(count, [&](int i) {
    std::string key = "key-" + std::to_string(i);
    llvm::Expected<std::shared_ptr<FakeKernel>> result =
        cache.getOrCreate(key, [&]() -> llvm::Expected<KernelCache::Created> {
          // Every creation waits until all are running at once, which only
          // happens if the cache runs them in parallel.
          std::unique_lock<std::mutex> lock(mutex);
          ++active;
          allActive.notify_all();
          if (allActive.wait_for(lock, std::chrono::seconds(5),
                                 [&] { return active == count; }))
            ++sawAll;
          return KernelCache::Created(std::make_shared<FakeKernel>(key), 1);
        });
    if (!result)
      llvm::consumeError(result.takeError());
  });
  EXPECT_EQ(sawAll.load(), count);
  EXPECT_EQ(cache.stats().creations, uint64_t(count));
}

TEST(MemoryCache, ConcurrentMixedUse) {
  KernelCache cache(20 * 100);
  const int numKeys = 64;
  std::vector<std::atomic<int>> creating(numKeys);
  std::atomic<int> problems{0};
  runTogether(16, [&](int t) {
    std::mt19937 random(t);
    for (int i = 0; i < 2000; ++i) {
      int k = random() % numKeys;
      std::string key = "key-" + std::to_string(k);
      if (random() % 4 == 0) {
        if (std::shared_ptr<FakeKernel> value = cache.lookup(key))
          problems += value->name != key;
        continue;
      }
      llvm::Expected<std::shared_ptr<FakeKernel>> result =
          cache.getOrCreate(key, [&]() -> llvm::Expected<KernelCache::Created> {
            // At most one creation per key at any time.
            problems += creating[k].fetch_add(1) != 0;
            std::this_thread::yield();
            creating[k].fetch_sub(1);
            return KernelCache::Created(std::make_shared<FakeKernel>(key), 100);
          });
      if (!result) {
        llvm::consumeError(result.takeError());
        ++problems;
      } else {
        problems += (*result)->name != key;
      }
    }
  });
  EXPECT_EQ(problems.load(), 0);
  KernelCache::Stats stats = cache.stats();
  EXPECT_LE(stats.bytes, stats.budget);
  EXPECT_EQ(stats.bytes, stats.entries * 100);
  EXPECT_EQ(stats.creations - stats.evictions, stats.entries);
}

TEST(MemoryCache, LookupHitIsFast) {
  KernelCache cache;
  Creator creator;
  for (int i = 0; i < 1000; ++i)
    get(cache, "dilattn-kernel-" + std::to_string(i), creator);
  const int iterations = 200000;
  double best = 1e9;
  for (int round = 0; round < 5; ++round) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i) {
      std::shared_ptr<FakeKernel> value = cache.lookup("dilattn-kernel-42");
      if (!value)
        FAIL();
    }
    std::chrono::duration<double, std::nano> elapsed =
        std::chrono::steady_clock::now() - start;
    best = std::min(best, elapsed.count() / iterations);
  }
  RecordProperty("lookup_ns", std::to_string(best));
  std::printf("MemoryCache::lookup hit: %.1f ns\n", best);
  EXPECT_LT(best, 1000.0);
}

} // namespace
