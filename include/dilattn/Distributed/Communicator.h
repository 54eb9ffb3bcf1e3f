//===- Communicator.h - collectives between the ranks of a group -*- C++
//-*-===//
//
// What sequence parallelism needs from a transport: the rank, the group
// size and an all-gather of equal-sized byte blocks. Implementations: the
// in-process group below (ranks are threads of one process; CI tests the
// split, gather and merge logic with it), and NCCL for GPUs (not built yet:
// docs/distributed.md). Every collective has a deadline: a rank that fails or
// never arrives gives the others an error naming it, never a hang.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_DISTRIBUTED_COMMUNICATOR_H
#define DILATTN_DISTRIBUTED_COMMUNICATOR_H

#include "llvm/Support/Error.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace dilattn::distributed {

class Communicator {
public:
  virtual ~Communicator();

  virtual int rank() const = 0;
  virtual int worldSize() const = 0;

  /// Gathers `bytes` bytes from every rank into `recv` (worldSize() * bytes,
  /// in rank order); `send` may alias this rank's block of `recv`. Every
  /// rank calls it with the same `bytes`. Fails, on every rank still
  /// waiting, once a rank has failed or the deadline has passed.
  virtual llvm::Error allGather(const void *send, size_t bytes, void *recv) = 0;

  /// Tells the other ranks that this one has failed: their pending and
  /// future collectives fail with `reason`.
  virtual void abort(const std::string &reason) = 0;

  /// Bytes this rank has contributed to collectives so far.
  uint64_t bytesSent() const { return sent; }

protected:
  uint64_t sent = 0;
};

/// A group of `worldSize` ranks in this process (one Communicator each, to
/// be used by one thread each). A collective fails when not every rank
/// arrives within `timeout`.
std::vector<std::unique_ptr<Communicator>> createInProcessGroup(
    int worldSize,
    std::chrono::milliseconds timeout = std::chrono::seconds(60));

} // namespace dilattn::distributed

#endif // DILATTN_DISTRIBUTED_COMMUNICATOR_H
