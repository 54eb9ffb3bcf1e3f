//===- KernelCache.cpp - In-memory and on-disk caches of compiled kernels -===//
//
// The disk side uses POSIX calls directly rather than raw_fd_ostream: every
// I/O error must come back as an llvm::Error, and an unchecked stream error
// is fatal at destruction.
//
//===----------------------------------------------------------------------===//

#include "dilattn/JIT/KernelCache.h"
#include "dilattn/Support/Error.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/Threading.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace dilattn::jit;
using llvm::ArrayRef;
using llvm::StringRef;
using llvm::Twine;

namespace {

constexpr char kMagic[8] = {'D', 'I', 'L', 'A', 'T', 'T', 'N', 'K'};
constexpr size_t kDigestBytes = 32;
/// Marks temporary files; never a suffix of an entry name.
constexpr StringRef kTempMarker = ".tmp-";
/// The largest entry file decodeEntry can accept.
constexpr uint64_t kMaxFileBytes =
    sizeof(kMagic) + 4 + 3 * (4 + uint64_t(DiskCache::kMaxStringBytes)) + 8 +
    DiskCache::kMaxPayloadBytes + kDigestBytes;

/// A bad entry or a failed file operation of the disk cache.
llvm::Error cacheError(const Twine &message) {
  return dilattn::makeError(dilattn::ErrorCode::Io, message);
}

llvm::Error cacheErrnoError(const Twine &what, StringRef path, int error) {
  std::error_code code(error, std::generic_category());
  return cacheError(what + " '" + path + "': " + code.message());
}

// SmallVector rather than std::vector: GCC 12 at -O3 reports false
// -Wstringop-overflow errors for std::vector<uint8_t>::insert here.
using Buffer = llvm::SmallVector<uint8_t, 256>;

void appendU32(Buffer &out, uint32_t value) {
  uint8_t bytes[4];
  llvm::support::endian::write32le(bytes, value);
  out.append(bytes, bytes + 4);
}

void appendU64(Buffer &out, uint64_t value) {
  uint8_t bytes[8];
  llvm::support::endian::write64le(bytes, value);
  out.append(bytes, bytes + 8);
}

void appendString(Buffer &out, StringRef text) {
  appendU32(out, static_cast<uint32_t>(text.size()));
  out.append(text.bytes_begin(), text.bytes_end());
}

/// Everything of an entry before the payload. Lengths must have been checked
/// against the limits.
Buffer encodeHeader(const CacheIdentity &identity, StringRef key,
                    uint64_t payloadSize) {
  Buffer out;
  out.append(kMagic, kMagic + sizeof(kMagic));
  appendU32(out, DiskCache::kFormatVersion);
  appendString(out, identity.compilerVersion);
  appendString(out, identity.target);
  appendString(out, key);
  appendU64(out, payloadSize);
  return out;
}

std::array<uint8_t, kDigestBytes> digest(ArrayRef<uint8_t> header,
                                         ArrayRef<uint8_t> payload) {
  llvm::SHA256 hasher;
  hasher.update(header);
  hasher.update(payload);
  return hasher.final();
}

/// Bounds-checked reading of an entry; every read past the end fails.
class Reader {
public:
  explicit Reader(ArrayRef<uint8_t> bytes) : bytes(bytes) {}

  size_t offset() const { return position; }
  size_t remaining() const { return bytes.size() - position; }

  std::optional<ArrayRef<uint8_t>> take(uint64_t size) {
    if (size > remaining())
      return std::nullopt;
    ArrayRef<uint8_t> result = bytes.slice(position, size);
    position += size;
    return result;
  }
  std::optional<uint32_t> takeU32() {
    std::optional<ArrayRef<uint8_t>> raw = take(4);
    if (!raw)
      return std::nullopt;
    return llvm::support::endian::read32le(raw->data());
  }
  std::optional<uint64_t> takeU64() {
    std::optional<ArrayRef<uint8_t>> raw = take(8);
    if (!raw)
      return std::nullopt;
    return llvm::support::endian::read64le(raw->data());
  }
  std::optional<StringRef> takeString() {
    std::optional<uint32_t> size = takeU32();
    if (!size || *size > DiskCache::kMaxStringBytes)
      return std::nullopt;
    std::optional<ArrayRef<uint8_t>> raw = take(*size);
    if (!raw)
      return std::nullopt;
    return llvm::toStringRef(*raw);
  }

private:
  ArrayRef<uint8_t> bytes;
  size_t position = 0;
};

/// Removes `path` if it is still the file described by `seen`: another
/// process may have renamed a valid entry over it since it was read. The
/// check and the unlink are not atomic; losing that race only costs the other
/// process's entry, i.e. one recompile.
void removeIfUnchanged(const std::string &path, const struct stat &seen) {
  struct stat now;
  if (::lstat(path.c_str(), &now) != 0)
    return;
  if (now.st_dev == seen.st_dev && now.st_ino == seen.st_ino)
    (void)::unlink(path.c_str());
}

/// Writes all of `data`, retrying short writes and EINTR. Returns 0 or errno.
int writeAll(int fd, ArrayRef<uint8_t> data) {
  const uint8_t *next = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t written = ::write(fd, next, left);
    if (written < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    if (written == 0)
      return EIO;
    next += written;
    left -= static_cast<size_t>(written);
  }
  return 0;
}

/// A name for a temporary file next to `entryPath` that no other writer (in
/// this or another process, or a forked child) picks.
std::string temporaryPath(const std::string &entryPath) {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 random([] {
    std::random_device device;
    return (uint64_t(device()) << 32) ^ device() ^ llvm::get_threadid();
  }());
  uint64_t salt = random() ^ counter.fetch_add(1, std::memory_order_relaxed);
  return (Twine(entryPath) + kTempMarker + Twine(::getpid()) + "-" +
          Twine(llvm::get_threadid()) + "-" + Twine::utohexstr(salt))
      .str();
}

} // namespace

//===----------------------------------------------------------------------===//
// Entry format
//===----------------------------------------------------------------------===//

std::vector<uint8_t> DiskCache::encodeEntry(const CacheIdentity &identity,
                                            StringRef key,
                                            ArrayRef<uint8_t> payload) {
  Buffer header = encodeHeader(identity, key, payload.size());
  std::array<uint8_t, kDigestBytes> sum = digest(header, payload);
  std::vector<uint8_t> out(header.size() + payload.size() + kDigestBytes);
  llvm::copy(header, out.begin());
  llvm::copy(payload, out.begin() + header.size());
  llvm::copy(sum, out.begin() + header.size() + payload.size());
  return out;
}

llvm::Expected<ArrayRef<uint8_t>>
DiskCache::decodeEntry(ArrayRef<uint8_t> bytes, const CacheIdentity &identity,
                       StringRef key) {
  Reader reader(bytes);
  std::optional<ArrayRef<uint8_t>> magic = reader.take(sizeof(kMagic));
  if (!magic || std::memcmp(magic->data(), kMagic, sizeof(kMagic)) != 0)
    return cacheError("not a kernel cache entry (bad magic)");
  std::optional<uint32_t> version = reader.takeU32();
  if (!version)
    return cacheError("truncated entry header");
  // Other versions may lay out the rest differently: stop here.
  if (*version != kFormatVersion)
    return cacheError("entry format version " + Twine(*version) +
                      ", expected " + Twine(kFormatVersion));
  std::optional<StringRef> compilerVersion = reader.takeString();
  std::optional<StringRef> target =
      compilerVersion ? reader.takeString() : std::nullopt;
  std::optional<StringRef> entryKey =
      target ? reader.takeString() : std::nullopt;
  std::optional<uint64_t> payloadSize =
      entryKey ? reader.takeU64() : std::nullopt;
  if (!payloadSize)
    return cacheError("truncated or malformed entry header");
  size_t headerSize = reader.offset();
  if (*payloadSize > kMaxPayloadBytes ||
      *payloadSize + kDigestBytes > reader.remaining())
    return cacheError("truncated entry (" + Twine(bytes.size()) + " bytes)");
  if (*payloadSize + kDigestBytes < reader.remaining())
    return cacheError("trailing bytes after entry");
  ArrayRef<uint8_t> payload = *reader.take(*payloadSize);
  ArrayRef<uint8_t> storedSum = *reader.take(kDigestBytes);
  std::array<uint8_t, kDigestBytes> sum =
      digest(bytes.take_front(headerSize), payload);
  if (!std::equal(sum.begin(), sum.end(), storedSum.begin()))
    return cacheError("checksum mismatch");
  // Only an intact entry gets this far, so these are genuine mismatches (a
  // file copied or renamed from elsewhere), not damage.
  if (*compilerVersion != identity.compilerVersion)
    return cacheError("entry from compiler '" + *compilerVersion +
                      "', expected '" + identity.compilerVersion + "'");
  if (*target != identity.target)
    return cacheError("entry for target '" + *target + "', expected '" +
                      identity.target + "'");
  if (*entryKey != key)
    return cacheError("entry for another key");
  return payload;
}

//===----------------------------------------------------------------------===//
// DiskCache
//===----------------------------------------------------------------------===//

std::string DiskCache::defaultDirectory() {
  llvm::SmallString<256> path;
  if (const char *dir = std::getenv("DILATTN_CACHE_DIR"); dir && *dir) {
    path = dir;
    // Pin a relative path now: the process may change directory later.
    if (llvm::sys::fs::make_absolute(path))
      return dir;
    return std::string(path);
  }
  // The XDG spec says to ignore relative values.
  if (const char *xdg = std::getenv("XDG_CACHE_HOME");
      xdg && *xdg && llvm::sys::path::is_absolute(xdg)) {
    path = xdg;
    llvm::sys::path::append(path, "dilattn");
    return std::string(path);
  }
  if (!llvm::sys::path::home_directory(path) || path.empty())
    return "";
  llvm::sys::path::append(path, ".cache", "dilattn");
  return std::string(path);
}

DiskCache::DiskCache(std::string directory, CacheIdentity identity)
    : directory(std::move(directory)), identity(std::move(identity)) {}

std::string DiskCache::entryPath(StringRef key) const {
  // The identity is part of the name so that compilers of other versions or
  // targets sharing the directory keep their own entries instead of
  // replacing each other's back and forth.
  llvm::SHA256 hasher;
  Buffer name;
  appendString(name, "dilattn kernel cache entry name");
  appendU32(name, kFormatVersion);
  appendString(name, identity.compilerVersion);
  appendString(name, identity.target);
  appendU64(name, key.size());
  hasher.update(name);
  hasher.update(key);
  llvm::SmallString<256> path(directory);
  llvm::sys::path::append(
      path,
      Twine(llvm::toHex(hasher.final(), /*LowerCase=*/true)) + kEntrySuffix);
  return std::string(path);
}

std::optional<std::vector<uint8_t>> DiskCache::load(StringRef key) {
  auto miss = [&] {
    misses.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  };
  if (directory.empty())
    return miss();
  std::string path = entryPath(key);

  // O_NOFOLLOW: a symlink is not an entry we wrote. O_NONBLOCK: opening a
  // FIFO planted at the name must not hang.
  int fd;
  do
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == ELOOP) {
      invalidEntries.fetch_add(1, std::memory_order_relaxed);
      struct stat link;
      if (::lstat(path.c_str(), &link) == 0)
        removeIfUnchanged(path, link);
    }
    // ENOENT is the common miss; anything else (EACCES, EIO...) is a miss
    // we cannot judge, so the file is left alone.
    return miss();
  }

  struct stat info;
  std::vector<uint8_t> bytes;
  bool invalid = false;
  bool readFailed = false;
  if (::fstat(fd, &info) != 0) {
    readFailed = true;
  } else if (!S_ISREG(info.st_mode) || uint64_t(info.st_size) > kMaxFileBytes) {
    invalid = true;
  } else {
    // Read to EOF rather than st_size bytes so that a file changed in place
    // shows as malformed; bounded so that a growing file cannot exhaust
    // memory.
    bytes.resize(static_cast<size_t>(info.st_size) + 1);
    size_t used = 0;
    while (true) {
      if (used == bytes.size()) {
        if (bytes.size() > kMaxFileBytes) {
          invalid = true;
          break;
        }
        bytes.resize(std::min<uint64_t>(2 * bytes.size(), kMaxFileBytes + 1));
      }
      ssize_t got = ::read(fd, bytes.data() + used, bytes.size() - used);
      if (got < 0) {
        if (errno == EINTR || errno == EAGAIN)
          continue;
        readFailed = true;
        break;
      }
      if (got == 0)
        break;
      used += static_cast<size_t>(got);
    }
    bytes.resize(used);
  }
  ::close(fd);
  if (readFailed)
    return miss();

  if (!invalid) {
    llvm::Expected<ArrayRef<uint8_t>> payload =
        decodeEntry(bytes, identity, key);
    if (payload) {
      // Move the payload to the front in place rather than copying it.
      size_t begin = payload->data() - bytes.data();
      size_t size = payload->size();
      bytes.erase(bytes.begin(), bytes.begin() + begin);
      bytes.resize(size);
      hits.fetch_add(1, std::memory_order_relaxed);
      return bytes;
    }
    llvm::consumeError(payload.takeError());
  }
  invalidEntries.fetch_add(1, std::memory_order_relaxed);
  removeIfUnchanged(path, info);
  return miss();
}

llvm::Error DiskCache::store(StringRef key, ArrayRef<uint8_t> payload) {
  auto fail = [&](llvm::Error error) {
    storeFailures.fetch_add(1, std::memory_order_relaxed);
    return error;
  };
  if (directory.empty())
    return fail(cacheError("kernel cache has no directory"));
  if (payload.size() > kMaxPayloadBytes)
    return fail(cacheError("kernel of " + Twine(payload.size()) +
                           " bytes is too large for the cache"));
  if (key.size() > kMaxStringBytes ||
      identity.compilerVersion.size() > kMaxStringBytes ||
      identity.target.size() > kMaxStringBytes)
    return fail(cacheError("kernel cache key or identity is too long"));

  if (std::error_code error = llvm::sys::fs::create_directories(
          directory, /*IgnoreExisting=*/true, llvm::sys::fs::owner_all))
    return fail(cacheErrnoError("cannot create kernel cache directory",
                                directory, error.value()));

  std::string path = entryPath(key);
  std::string tempPath;
  int fd = -1;
  int openError = 0;
  // O_EXCL: never write into a file someone else has open. A collision of
  // names is practically impossible; retry a few times anyway.
  for (int attempt = 0; attempt < 8 && fd < 0; ++attempt) {
    tempPath = temporaryPath(path);
    do
      fd = ::open(tempPath.c_str(),
                  O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    while (fd < 0 && errno == EINTR);
    openError = fd < 0 ? errno : 0;
    if (openError && openError != EEXIST)
      break;
  }
  if (fd < 0)
    return fail(cacheErrnoError("cannot create kernel cache file", tempPath,
                                openError));

  Buffer header = encodeHeader(identity, key, payload.size());
  std::array<uint8_t, kDigestBytes> sum = digest(header, payload);
  int error = writeAll(fd, header);
  if (!error)
    error = writeAll(fd, payload);
  if (!error)
    error = writeAll(fd, sum);
  // fsync before rename: otherwise a crash can leave the new name pointing
  // at a file without its data. The directory is not synced: losing the
  // rename in a crash only loses the entry.
  if (!error && ::fsync(fd) != 0)
    error = errno;
  if (::close(fd) != 0 && !error && errno != EINTR)
    error = errno;
  if (!error && ::rename(tempPath.c_str(), path.c_str()) != 0)
    error = errno;
  if (error) {
    (void)::unlink(tempPath.c_str());
    return fail(
        cacheErrnoError("cannot write kernel cache entry", path, error));
  }
  stores.fetch_add(1, std::memory_order_relaxed);
  return llvm::Error::success();
}

size_t DiskCache::removeStaleTemporaries(std::chrono::seconds minAge) {
  if (directory.empty())
    return 0;
  DIR *dir = ::opendir(directory.c_str());
  if (!dir)
    return 0;
  time_t now = ::time(nullptr);
  size_t removed = 0;
  while (struct dirent *entry = ::readdir(dir)) {
    StringRef name(entry->d_name);
    size_t marker = name.find(kTempMarker);
    if (marker == StringRef::npos ||
        !name.take_front(marker).ends_with(kEntrySuffix))
      continue;
    llvm::SmallString<256> path(directory);
    llvm::sys::path::append(path, name);
    struct stat info;
    if (::lstat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode))
      continue;
    if (now - info.st_mtime < minAge.count())
      continue;
    if (::unlink(path.c_str()) == 0)
      ++removed;
  }
  ::closedir(dir);
  return removed;
}

DiskCache::Stats DiskCache::stats() const {
  Stats result;
  result.hits = hits.load(std::memory_order_relaxed);
  result.misses = misses.load(std::memory_order_relaxed);
  result.invalidEntries = invalidEntries.load(std::memory_order_relaxed);
  result.stores = stores.load(std::memory_order_relaxed);
  result.storeFailures = storeFailures.load(std::memory_order_relaxed);
  return result;
}
