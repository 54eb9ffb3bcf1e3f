//===- KernelCache.h - Caches of compiled kernels ---------------*- C++ -*-===//
//
// The JIT compiles one kernel per configuration. Compiling costs seconds, so
// compiled kernels are kept twice: loaded, in a thread-safe in-memory LRU
// (MemoryCache) bounded by a byte budget, and as object files in a persistent
// on-disk cache (DiskCache) shared by every process of the user.
//
// The disk cache never trusts what it reads: the directory may be shared by
// other compiler versions and targets, by processes that were killed while
// writing, or hold files that are damaged or not ours at all. Every entry is
// versioned, tied to the identity of the compiler that produced it and
// checksummed; anything that does not check out is a miss (the caller
// recompiles) and is removed so that the next store replaces it. Failures to
// write (read-only or full directory) are errors the caller may report once
// and otherwise ignore: the kernel then simply runs uncached.
//
// This layer does not know about MLIR; it depends on LLVMSupport only.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_JIT_KERNELCACHE_H
#define DILATTN_JIT_KERNELCACHE_H

#include "dilattn/Support/Error.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/ilist_node.h"
#include "llvm/ADT/simple_ilist.h"
#include "llvm/Support/Error.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace dilattn::jit {

//===----------------------------------------------------------------------===//
// DiskCache
//===----------------------------------------------------------------------===//

/// Identity of the compiler that produced cache entries. An entry made by a
/// different identity is foreign: its machine code may not match what this
/// compiler would produce or may not run on this machine.
struct CacheIdentity {
  /// Everything about the compiler that changes generated code: the dilattn
  /// version, the LLVM/MLIR version, pipeline options.
  std::string compilerVersion;
  /// Where the code runs: target triple, CPU name and CPU features.
  std::string target;

  bool operator==(const CacheIdentity &other) const {
    return compilerVersion == other.compilerVersion && target == other.target;
  }
  bool operator!=(const CacheIdentity &other) const {
    return !(*this == other);
  }
};

/// A persistent cache of compiled kernels (object files) in one directory,
/// shared by threads and processes.
///
/// Entry files are named <sha256(format version, identity, key)>.kernel and
/// laid out as follows (integers little-endian):
///
///   offset  size  field
///   0       8     magic "DILATTNK"
///   8       4     format version (u32) = kFormatVersion
///   12      4+n   identity.compilerVersion (u32 length n, then the bytes)
///   ..      4+n   identity.target          (u32 length n, then the bytes)
///   ..      4+n   key                      (u32 length n, then the bytes)
///   ..      8     payload length P (u64)
///   ..      P     payload
///   ..      32    SHA-256 of every preceding byte
///
/// SHA-256 rather than a faster non-cryptographic hash: it detects any
/// corruption with certainty for practical purposes, and hashing an object
/// file costs microseconds to milliseconds against a compile of seconds. It
/// is a checksum, not a signature: whoever can write the directory can write
/// a valid entry, which is why the directory is created private (0700).
///
/// Writes are atomic: an entry is written to a uniquely named temporary file
/// (<entry>.tmp-<pid>-<thread>-<random>) in the same directory, fsync'ed and
/// renamed over the entry. A reader sees the old entry, the new one or none,
/// never a partial one. A writer killed mid-write leaves only a temporary
/// file, which loads never look at (see removeStaleTemporaries).
///
/// All methods are thread-safe and never abort: a bad file is a miss.
class DiskCache {
public:
  /// Version of the entry layout above; bump it when the layout changes.
  static constexpr uint32_t kFormatVersion = 1;
  /// Entries with a larger payload are neither stored nor loaded, so that a
  /// damaged length field or a stray huge file cannot exhaust memory.
  static constexpr uint64_t kMaxPayloadBytes = uint64_t(256) << 20;
  /// Bound on the key and each identity string.
  static constexpr uint32_t kMaxStringBytes = uint32_t(1) << 20;
  /// The file name suffix of entries.
  static constexpr llvm::StringLiteral kEntrySuffix = ".kernel";

  struct Stats {
    /// Loads that returned a payload.
    uint64_t hits = 0;
    /// Loads that returned nothing: absent, unreadable or invalid entries.
    uint64_t misses = 0;
    /// Loads that found an invalid entry (a subset of misses).
    uint64_t invalidEntries = 0;
    /// Successful stores.
    uint64_t stores = 0;
    /// Stores that returned an error.
    uint64_t storeFailures = 0;
  };

  /// The directory to use when the user names none: $DILATTN_CACHE_DIR, else
  /// $XDG_CACHE_HOME/dilattn, else $HOME/.cache/dilattn. Returns an empty
  /// string when none of them can be determined. Nothing is created here;
  /// store creates the directory on demand (0700).
  static std::string defaultDirectory();

  /// A cache in `directory` for entries of `identity`. An empty directory
  /// gives a cache that misses every load and fails every store.
  DiskCache(std::string directory, CacheIdentity identity);

  DiskCache(const DiskCache &) = delete;
  DiskCache &operator=(const DiskCache &) = delete;

  const std::string &getDirectory() const { return directory; }
  const CacheIdentity &getIdentity() const { return identity; }

  /// The path of the entry file for `key` (whether or not it exists).
  std::string entryPath(llvm::StringRef key) const;

  /// Returns the payload stored for `key`, or std::nullopt when the entry is
  /// absent, unreadable or invalid (bad magic, other format version, other
  /// identity, other key, checksum mismatch, truncated, trailing bytes, not a
  /// regular file). Invalid entries are counted and removed (best effort).
  std::optional<std::vector<uint8_t>> load(llvm::StringRef key);

  /// Stores `payload` for `key`, atomically replacing any previous entry. On
  /// failure (read-only or full directory, no directory, oversized input)
  /// returns an error and leaves no temporary file and the previous entry, if
  /// any, intact.
  llvm::Error store(llvm::StringRef key, llvm::ArrayRef<uint8_t> payload);

  /// Removes temporary files that writers left behind (killed mid-write) and
  /// that were last modified at least `minAge` ago; younger ones may belong to
  /// a live writer. Best effort; returns how many were removed.
  size_t removeStaleTemporaries(std::chrono::seconds minAge);

  Stats stats() const;

  /// The bytes of an entry file for (identity, key, payload), as store writes
  /// them.
  static std::vector<uint8_t> encodeEntry(const CacheIdentity &identity,
                                          llvm::StringRef key,
                                          llvm::ArrayRef<uint8_t> payload);

  /// Checks `bytes` as an entry file for (identity, key) and returns the
  /// payload within `bytes`, or an error saying why it is invalid.
  static llvm::Expected<llvm::ArrayRef<uint8_t>>
  decodeEntry(llvm::ArrayRef<uint8_t> bytes, const CacheIdentity &identity,
              llvm::StringRef key);

private:
  std::string directory;
  CacheIdentity identity;

  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> invalidEntries{0};
  std::atomic<uint64_t> stores{0};
  std::atomic<uint64_t> storeFailures{0};
};

//===----------------------------------------------------------------------===//
// MemoryCache
//===----------------------------------------------------------------------===//

/// A thread-safe in-memory cache of ValueT (the JIT stores loaded kernels)
/// keyed by string, bounded by a byte budget with least-recently-used
/// eviction. Values are shared: an evicted value lives on while a caller
/// holds it.
///
/// getOrCreate is single-flight: while one thread creates the value of a key,
/// other threads asking for that key wait for it instead of creating it again,
/// so a key is created at most once at a time per cache however many threads
/// ask. Different keys are created in parallel.
///
/// A hit takes one mutex, one hash lookup and a shared_ptr copy; it does not
/// allocate.
template <typename ValueT> class MemoryCache {
public:
  /// A created value and its size in bytes, as counted against the budget.
  using Created = std::pair<std::shared_ptr<ValueT>, size_t>;
  using CreateFn = llvm::function_ref<llvm::Expected<Created>()>;

  static constexpr size_t kDefaultBudgetBytes = size_t(256) << 20;

  struct Stats {
    /// Requests served from the cache.
    uint64_t hits = 0;
    /// Requests for keys neither cached nor being created (lookup returned
    /// null, or getOrCreate created the value).
    uint64_t misses = 0;
    /// getOrCreate calls that waited for another thread's creation.
    uint64_t waits = 0;
    /// Successful creations (each cached until evicted).
    uint64_t creations = 0;
    /// Failed creations (never cached).
    uint64_t failedCreations = 0;
    /// Entries dropped to stay within the budget.
    uint64_t evictions = 0;
    size_t entries = 0;
    size_t bytes = 0;
    size_t budget = 0;
  };

  explicit MemoryCache(size_t budgetBytes = kDefaultBudgetBytes)
      : budget(budgetBytes) {}
  MemoryCache(const MemoryCache &) = delete;
  MemoryCache &operator=(const MemoryCache &) = delete;
  /// No creation may be in flight when the cache is destroyed.
  ~MemoryCache() { lru.clear(); }

  /// Returns the cached value of `key` (and marks it recently used), or null.
  std::shared_ptr<ValueT> lookup(llvm::StringRef key) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = entries.find(key);
    if (it == entries.end()) {
      ++counters.misses;
      return nullptr;
    }
    ++counters.hits;
    touch(it->second);
    return it->second.value;
  }

  /// Returns the cached value of `key`, creating it with `create` when it is
  /// absent. If another thread is creating it, waits for that creation
  /// instead. A failed creation (an error, or a null value) is not cached: the
  /// creator and every thread that waited for it get an error with the same
  /// message, and the next request tries again. `create` runs without the
  /// cache lock held. If it throws, the exception reaches the creator and the
  /// waiters get an error. If it asks this cache for its own key it gets an
  /// error rather than a deadlock.
  llvm::Expected<std::shared_ptr<ValueT>> getOrCreate(llvm::StringRef key,
                                                      CreateFn create) {
    std::unique_lock<std::mutex> lock(mutex);
    auto it = entries.find(key);
    if (it != entries.end()) {
      ++counters.hits;
      touch(it->second);
      return it->second.value;
    }

    auto flightIt = inFlight.find(key);
    if (flightIt != inFlight.end()) {
      std::shared_ptr<Flight> flight = flightIt->second;
      if (flight->creator == std::this_thread::get_id())
        return makeError(ErrorCode::Internal,
                         "recursive creation of cache key '" + key.str() + "'");
      ++counters.waits;
      flight->finished.wait(lock, [&] { return flight->done; });
      if (!flight->value)
        return llvm::make_error<DilAttnError>(
            flight->error.code, flight->error.message, flight->error.rule);
      return flight->value;
    }

    ++counters.misses;
    auto flight = std::make_shared<Flight>();
    flight->creator = std::this_thread::get_id();
    inFlight.try_emplace(key, flight);
    lock.unlock();

    // Should `create` throw, the flight still finishes (as a failure) on the
    // way out, so that waiters and later requests for the key do not hang.
    struct Abandon {
      MemoryCache &cache;
      llvm::StringRef key;
      Flight &flight;
      bool armed = true;
      ~Abandon() {
        if (armed)
          cache.finish(key, flight, nullptr, 0,
                       ErrorReport{ErrorCode::Internal, "",
                                   "creation of cache key '" + key.str() +
                                       "' was abandoned"});
      }
    } abandon{*this, key, *flight};

    llvm::Expected<Created> created = create();
    abandon.armed = false;
    if (!created) {
      // Waiters get the same error: its code, rule and message.
      ErrorReport error = takeErrorReport(created.takeError());
      finish(key, *flight, nullptr, 0, error);
      return llvm::make_error<DilAttnError>(error.code, error.message,
                                            error.rule);
    }
    if (!created->first) {
      ErrorReport error{ErrorCode::Internal, "",
                        "creation of cache key '" + key.str() +
                            "' returned no value"};
      finish(key, *flight, nullptr, 0, error);
      return makeError(error.code, error.message);
    }
    finish(key, *flight, created->first, created->second, ErrorReport());
    return std::move(created->first);
  }

  /// Sets the byte budget, evicting least recently used entries beyond it.
  /// A budget of 0 disables caching (single-flight still applies).
  void setBudget(size_t budgetBytes) {
    llvm::SmallVector<std::shared_ptr<ValueT>, 8> evicted;
    std::lock_guard<std::mutex> lock(mutex);
    budget = budgetBytes;
    evictOverBudget(evicted);
    // `evicted` is destroyed after `lock`: declared first.
  }

  /// Drops every entry (values in use stay alive). Does not count evictions.
  void clear() {
    llvm::SmallVector<std::shared_ptr<ValueT>, 8> dropped;
    std::lock_guard<std::mutex> lock(mutex);
    for (Node &node : lru)
      dropped.push_back(std::move(node.value));
    lru.clear();
    entries.clear();
    bytes = 0;
  }

  Stats stats() const {
    std::lock_guard<std::mutex> lock(mutex);
    Stats result = counters;
    result.entries = entries.size();
    result.bytes = bytes;
    result.budget = budget;
    return result;
  }

private:
  struct Node : llvm::ilist_node<Node> {
    Node(std::shared_ptr<ValueT> value, size_t size)
        : value(std::move(value)), size(size) {}
    std::shared_ptr<ValueT> value;
    size_t size;
    /// The key as stored in `entries` (stable while the entry exists).
    llvm::StringRef key;
  };

  /// The state of one creation, shared by its creator and waiters.
  struct Flight {
    std::condition_variable finished;
    bool done = false;
    std::thread::id creator;
    std::shared_ptr<ValueT> value;
    ErrorReport error;
  };

  /// Marks `node` most recently used. Caller holds `mutex`.
  void touch(Node &node) {
    if (&node != &lru.front()) {
      lru.remove(node);
      lru.push_front(node);
    }
  }

  /// Ends `flight`: caches `value` (or records `error` when it is null),
  /// makes the key creatable again and wakes the waiters.
  void finish(llvm::StringRef key, Flight &flight,
              const std::shared_ptr<ValueT> &value, size_t size,
              const ErrorReport &error) {
    // Evicted values are released after unlocking: releasing the last
    // reference may run arbitrary code (unloading a kernel).
    llvm::SmallVector<std::shared_ptr<ValueT>, 2> evicted;
    {
      std::lock_guard<std::mutex> lock(mutex);
      inFlight.erase(key);
      flight.done = true;
      if (value) {
        ++counters.creations;
        flight.value = value;
        auto inserted = entries.try_emplace(key, value, size);
        Node &node = inserted.first->second;
        node.key = inserted.first->first();
        lru.push_front(node);
        bytes += size;
        evictOverBudget(evicted);
      } else {
        ++counters.failedCreations;
        flight.error = error;
      }
    }
    flight.finished.notify_all();
  }

  /// Evicts from the least recently used end until within budget. Caller
  /// holds `mutex`; `evicted` takes the values so that they are released
  /// outside the lock.
  template <typename VectorT> void evictOverBudget(VectorT &evicted) {
    while (bytes > budget && !lru.empty()) {
      Node &victim = lru.back();
      lru.pop_back();
      bytes -= victim.size;
      evicted.push_back(std::move(victim.value));
      ++counters.evictions;
      entries.erase(entries.find(victim.key));
    }
  }

  mutable std::mutex mutex;
  /// Owns the nodes; StringMap entries do not move when the table grows, so
  /// the list can link them.
  llvm::StringMap<Node> entries;
  /// Most recently used first.
  llvm::simple_ilist<Node> lru;
  llvm::StringMap<std::shared_ptr<Flight>> inFlight;
  size_t bytes = 0;
  size_t budget;
  Stats counters;
};

} // namespace dilattn::jit

#endif // DILATTN_JIT_KERNELCACHE_H
