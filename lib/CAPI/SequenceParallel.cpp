//===- SequenceParallel.cpp - C API sequence-parallel groups --------------===//
//
// In-process groups of ranks and dilated attention over a sequence split
// between them, over dilattn/API/SequenceParallel.h. The rules of the whole
// call are the C++ API's; a rank that fails aborts its group.
//
//===----------------------------------------------------------------------===//

#include "Handles.h"

#include "dilattn/API/SequenceParallel.h"

#include "llvm/Support/FormatVariadic.h"

#include <chrono>

using namespace dilattn;
using namespace dilattn::capi;

extern "C" dilattn_status dilattn_group_create_in_process(dilattn_context *ctx,
                                                          int world_size,
                                                          int64_t timeout_ms,
                                                          dilattn_group **out) {
  return guarded(ctx, [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(out, "out");
    *out = nullptr;
    DILATTN_REQUIRE(ctx, "ctx");
    if (world_size < 1 || world_size > 1024)
      return setFailure(
          failure, DILATTN_ERROR_INVALID_ARGUMENT,
          llvm::formatv("world_size must be 1 to 1024, got {0}", world_size));
    if (timeout_ms <= 0)
      return setFailure(
          failure, DILATTN_ERROR_INVALID_ARGUMENT,
          llvm::formatv("timeout_ms must be positive, got {0}", timeout_ms));
    auto group = std::make_unique<dilattn_group>();
    group->context = ctx;
    group->ranks = distributed::createInProcessGroup(
        world_size, std::chrono::milliseconds(timeout_ms));
    *out = group.release();
    return DILATTN_SUCCESS;
  });
}

extern "C" void dilattn_group_destroy(dilattn_group *group) { delete group; }

extern "C" dilattn_status dilattn_sequence_slice(int64_t seq_len,
                                                 int world_size, int rank,
                                                 int64_t *begin, int64_t *end) {
  return guarded(nullptr, [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(begin, "begin");
    DILATTN_REQUIRE(end, "end");
    if (seq_len < 0 || world_size < 1 || rank < 0 || rank >= world_size)
      return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                        llvm::formatv("need seq_len >= 0 and 0 <= rank < "
                                      "world_size, got seq_len {0}, rank "
                                      "{1}, world_size {2}",
                                      seq_len, rank, world_size));
    SequenceSlice slice = sequenceSlice(seq_len, world_size, rank);
    *begin = slice.begin;
    *end = slice.end;
    return DILATTN_SUCCESS;
  });
}

extern "C" dilattn_status dilattn_run_host_sequence_parallel(
    dilattn_call *call, dilattn_group *group, int rank, int64_t seq_len,
    const float *q, const float *k, const float *v, const int64_t shape[4],
    float *out, uint64_t *bytes_sent) {
  return guarded(contextOf(call), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(call, "call");
    DILATTN_REQUIRE(group, "group");
    int world = static_cast<int>(group->ranks.size());
    if (rank < 0 || rank >= world)
      return setFailure(
          failure, DILATTN_ERROR_INVALID_ARGUMENT,
          llvm::formatv("rank must be 0 to {0}, got {1}", world - 1, rank));
    distributed::Communicator &comm = *group->ranks[rank];
    llvm::SmallVector<int64_t, 4> sizes;
    if (checkShape(failure, "shape", shape, 4, sizes) != DILATTN_SUCCESS) {
      comm.abort(failure->message);
      return failure->status;
    }
    if (product(sizes) != 0 && (!q || !k || !v || !out)) {
      comm.abort("q, k, v and out must not be NULL");
      return setFailure(failure, DILATTN_ERROR_NULL_ARGUMENT,
                        "q, k, v and out must not be NULL");
    }
    auto info = sequenceParallelDilatedAttention(
        call->config, seq_len, HostTensor{q, sizes}, HostTensor{k, sizes},
        HostTensor{v, sizes}, out, comm);
    // A refused call aborts the group: the other ranks fail too, naming
    // this one.
    if (!info)
      return setFailure(failure, info.takeError());
    if (bytes_sent)
      *bytes_sent = info->bytesSent;
    return DILATTN_SUCCESS;
  });
}
