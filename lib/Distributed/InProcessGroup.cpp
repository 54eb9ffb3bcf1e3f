//===- InProcessGroup.cpp - ranks as threads of one process ---------------===//
//
// A generation-counted all-gather: each rank copies its block into the shared
// buffer and waits for the others; the last to arrive opens the generation,
// every rank copies the whole buffer out, and the last to leave lets the
// next collective begin. Deadlines use one condition variable.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Distributed/Communicator.h"
#include "dilattn/Support/Error.h"

#include "llvm/Support/FormatVariadic.h"

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>

using namespace dilattn::distributed;
using dilattn::ErrorCode;
using dilattn::makeError;

Communicator::~Communicator() = default;

namespace {

struct SharedState {
  int worldSize;
  std::chrono::milliseconds timeout;
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<uint8_t> buffer;
  size_t blockBytes = 0;
  int arrived = 0;
  int left = 0;
  bool open = false;
  uint64_t generation = 0;
  std::optional<std::string> failure;
};

class InProcessCommunicator : public Communicator {
public:
  InProcessCommunicator(std::shared_ptr<SharedState> state, int rankIndex)
      : state(std::move(state)), rankIndex(rankIndex) {}

  int rank() const override { return rankIndex; }
  int worldSize() const override { return state->worldSize; }

  llvm::Error allGather(const void *send, size_t bytes, void *recv) override {
    SharedState &s = *state;
    std::unique_lock<std::mutex> lock(s.mutex);
    auto deadline = std::chrono::steady_clock::now() + s.timeout;
    auto waitFor = [&](auto ready, const char *what) -> llvm::Error {
      while (!s.failure && !ready())
        if (s.changed.wait_until(lock, deadline) == std::cv_status::timeout &&
            !s.failure && !ready()) {
          s.failure =
              llvm::formatv("all-gather timed out after {0} ms on rank {1} of "
                            "{2} while {3} (a rank failed or never called it)",
                            s.timeout.count(), rankIndex, s.worldSize, what)
                  .str();
          s.changed.notify_all();
        }
      if (s.failure)
        return makeError(ErrorCode::Runtime, *s.failure);
      return llvm::Error::success();
    };
    // The previous collective must be drained before this one begins.
    if (llvm::Error error = waitFor([&] { return !s.open; },
                                    "waiting for the previous all-gather"))
      return error;
    if (s.arrived == 0) {
      s.blockBytes = bytes;
      s.buffer.resize(bytes * s.worldSize);
    } else if (s.blockBytes != bytes) {
      s.failure = llvm::formatv("all-gather block sizes differ: rank {0} "
                                "gives {1} bytes, another rank {2}",
                                rankIndex, bytes, s.blockBytes)
                      .str();
      s.changed.notify_all();
      return makeError(ErrorCode::Runtime, *s.failure);
    }
    if (bytes)
      std::memcpy(s.buffer.data() + bytes * rankIndex, send, bytes);
    uint64_t generation = s.generation;
    if (++s.arrived == s.worldSize) {
      s.open = true;
      s.changed.notify_all();
    }
    if (llvm::Error error =
            waitFor([&] { return s.open && s.generation == generation; },
                    "waiting for the other ranks' blocks"))
      return error;
    if (bytes)
      std::memcpy(recv, s.buffer.data(), bytes * s.worldSize);
    sent += bytes;
    if (++s.left == s.worldSize) {
      s.arrived = 0;
      s.left = 0;
      s.open = false;
      ++s.generation;
      s.changed.notify_all();
    }
    return llvm::Error::success();
  }

  void abort(const std::string &reason) override {
    std::lock_guard<std::mutex> lock(state->mutex);
    if (!state->failure)
      state->failure =
          llvm::formatv("rank {0} failed: {1}", rankIndex, reason).str();
    state->changed.notify_all();
  }

private:
  std::shared_ptr<SharedState> state;
  int rankIndex;
};

} // namespace

std::vector<std::unique_ptr<Communicator>>
dilattn::distributed::createInProcessGroup(int worldSize,
                                           std::chrono::milliseconds timeout) {
  auto state = std::make_shared<SharedState>();
  state->worldSize = worldSize;
  state->timeout = timeout;
  std::vector<std::unique_ptr<Communicator>> group;
  for (int rank = 0; rank < worldSize; ++rank)
    group.push_back(std::make_unique<InProcessCommunicator>(state, rank));
  return group;
}
