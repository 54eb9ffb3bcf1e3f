//===- CacheEntryFuzzer.cpp - libFuzzer target: the kernel cache loader ---===//
//
// Arbitrary bytes as what the kernel cache reads back from disk. The first
// byte picks what is fuzzed:
//
//   0: DiskCache::decodeEntry on the rest: it accepts exactly the bytes that
//      encodeEntry produces for its identity and key, nothing else;
//   1: DiskCache::load of a file holding the rest: a payload comes back only
//      for a valid entry, and an invalid file is removed, never loaded;
//   2: CudaKernelImage::deserialize (the payload of CUDA entries, which the
//      checksum does not vouch for when another writer made it): what it
//      accepts serializes back to an image that deserializes equal.
//
// The seed corpus (test/Fuzz/corpus/cache-entry) holds valid entries of each
// kind, so that mutations start from files that pass the first checks.
//
//===----------------------------------------------------------------------===//

#include "FuzzInput.h"

#include "dilattn/JIT/Jit.h"
#include "dilattn/JIT/KernelCache.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <fcntl.h>
#include <string>
#include <unistd.h>

using namespace dilattn;
using namespace dilattn::jit;

namespace {

/// The identity and key the seed entries were made for
/// (test/Fuzz/make-corpus).
const CacheIdentity &identity() {
  static const CacheIdentity id{"dilattn fuzz compiler", "fuzz target"};
  return id;
}
constexpr llvm::StringLiteral kKey = "fuzz-key";

DiskCache &diskCache() {
  static DiskCache *cache = [] {
    llvm::SmallString<128> dir;
    if (llvm::sys::fs::createUniqueDirectory("dilattn-fuzz-cache", dir)) {
      std::fprintf(stderr, "cannot create a temporary directory\n");
      std::abort();
    }
    static std::string directory = std::string(dir);
    std::atexit([] { llvm::sys::fs::remove_directories(directory); });
    return new DiskCache(directory, identity());
  }();
  return *cache;
}

void writeFile(const std::string &path, llvm::ArrayRef<uint8_t> bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  fuzzCheck(fd >= 0);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t written = ::write(fd, bytes.data() + done, bytes.size() - done);
    fuzzCheck(written > 0);
    done += static_cast<size_t>(written);
  }
  ::close(fd);
}

void fuzzDecode(llvm::ArrayRef<uint8_t> bytes) {
  llvm::Expected<llvm::ArrayRef<uint8_t>> payload =
      DiskCache::decodeEntry(bytes, identity(), kKey);
  if (!payload) {
    fuzzCheck(!llvm::toString(payload.takeError()).empty());
    return;
  }
  // The payload lies within the input, and the input is exactly its entry.
  fuzzCheck(payload->empty() ||
            (payload->data() >= bytes.data() && payload->end() <= bytes.end()));
  fuzzCheck(DiskCache::encodeEntry(identity(), kKey, *payload) ==
            std::vector<uint8_t>(bytes.begin(), bytes.end()));
  // Another key or identity never accepts it.
  llvm::Expected<llvm::ArrayRef<uint8_t>> other =
      DiskCache::decodeEntry(bytes, identity(), "another-key");
  fuzzCheck(!other);
  llvm::consumeError(other.takeError());
}

void fuzzLoad(llvm::ArrayRef<uint8_t> bytes) {
  DiskCache &cache = diskCache();
  std::string path = cache.entryPath(kKey);
  writeFile(path, bytes);
  DiskCache::Stats before = cache.stats();
  std::optional<std::vector<uint8_t>> loaded = cache.load(kKey);
  DiskCache::Stats after = cache.stats();
  llvm::Expected<llvm::ArrayRef<uint8_t>> expected =
      DiskCache::decodeEntry(bytes, identity(), kKey);
  if (expected) {
    fuzzCheck(loaded.has_value());
    fuzzCheck(*loaded ==
              std::vector<uint8_t>(expected->begin(), expected->end()));
    fuzzCheck(after.hits == before.hits + 1);
  } else {
    llvm::consumeError(expected.takeError());
    fuzzCheck(!loaded.has_value());
    fuzzCheck(after.invalidEntries == before.invalidEntries + 1);
    // Removed, so that the next store replaces it.
    fuzzCheck(!llvm::sys::fs::exists(path));
  }
  (void)::unlink(path.c_str());
}

void fuzzCudaImage(llvm::ArrayRef<uint8_t> bytes) {
  std::optional<CudaKernelImage> image = CudaKernelImage::deserialize(bytes);
  if (!image)
    return;
  fuzzCheck(!image->image.empty());
  fuzzCheck(!image->launches.empty() && image->launches.size() <= 64);
  for (const CudaLaunch &launch : image->launches) {
    fuzzCheck(!launch.kernelName.empty());
    fuzzCheck(launch.blockThreads > 0 && launch.blockThreads <= 1024);
    fuzzCheck(launch.dynamicSharedBytes >= 0);
  }
  std::optional<CudaKernelImage> again =
      CudaKernelImage::deserialize(image->serialize());
  fuzzCheck(again.has_value());
  fuzzCheck(again->image == image->image);
  fuzzCheck(again->isPtx == image->isPtx);
  fuzzCheck(again->launches.size() == image->launches.size());
  for (size_t i = 0; i < image->launches.size(); ++i) {
    fuzzCheck(again->launches[i].kernelName == image->launches[i].kernelName);
    fuzzCheck(again->launches[i].blockThreads ==
              image->launches[i].blockThreads);
    fuzzCheck(again->launches[i].dynamicSharedBytes ==
              image->launches[i].dynamicSharedBytes);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::FuzzInput input(data, size);
  unsigned mode = input.choice(3);
  llvm::ArrayRef<uint8_t> bytes = input.rest();
  switch (mode) {
  case 0:
    fuzzDecode(bytes);
    break;
  case 1:
    fuzzLoad(bytes);
    break;
  default:
    fuzzCudaImage(bytes);
    break;
  }
  return 0;
}
