//===- SequenceParallel.h - dilated attention split over ranks -*- C++ -*-===//
//
// LongNet's distributed algorithm (arXiv 2307.02486, section 3.2): the
// sequence is split into contiguous slices, one per rank. A pattern whose
// segments each lie inside one slice runs locally; for a pattern whose
// segments span slices, every rank packs only its dilated rows of K and V
// (about N/r rows in all, not N), the ranks all-gather them, and each rank
// folds its queries against the gathered keys of their segments. All
// patterns' keys fold into one online-softmax state per row, which is the
// LongNet mixture of docs/Contract.md section 1 (and, with one pattern per
// head, grouped mode); the result equals the single-device result.
//
// Runs on host memory with the JIT's segment kernels; the gather overlaps
// the local patterns' compute. No masks yet (causal is supported).
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_API_SEQUENCEPARALLEL_H
#define DILATTN_API_SEQUENCEPARALLEL_H

#include "dilattn/API/DilatedAttention.h"
#include "dilattn/Distributed/Communicator.h"
#include "dilattn/Support/Problem.h"

#include "llvm/Support/Error.h"

#include <cstdint>

namespace dilattn {

/// Positions [begin, end) of the sequence that rank `rank` of `worldSize`
/// holds: slices of ceil(N / worldSize) positions, the last ones shorter
/// (or empty when N < worldSize).
struct SequenceSlice {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
};
SequenceSlice sequenceSlice(int64_t seqLen, int worldSize, int rank);

struct SequenceParallelInfo {
  /// Patterns whose segments span slices (their keys are gathered).
  int64_t gatheredPatterns = 0;
  /// Bytes this rank sent in the all-gather (its block, padded to the
  /// largest rank's).
  uint64_t bytesSent = 0;
  /// This rank's share of LongNet's N/r estimate: for each gathered
  /// pattern, K and V rows N / r per batch and head that uses it (f32),
  /// divided by the world size. The bytes sent differ by the rounding of
  /// short segments and offsets and by the padding to the largest rank.
  double predictedBytes = 0;
  double compileMs = 0;
};

struct SequenceParallelOptions {
  jit::CpuTuning tuning;
};

/// Computes this rank's slice of dilated attention (docs/Contract.md section 1)
/// of a sequence of `seqLen` positions split over the ranks of `comm`. `query`,
/// `key`, `value` and `output` are this rank's (B, slice, H, D) slices
/// (row-major f32). Every rank calls it with the same config, seqLen, batch,
/// heads and head dim. A failure on one rank makes the others fail too,
/// with a message naming it (Communicator::abort), never a hang.
llvm::Expected<SequenceParallelInfo>
sequenceParallelDilatedAttention(const DilatedAttentionConfig &config,
                                 int64_t seqLen, const HostTensor &query,
                                 const HostTensor &key, const HostTensor &value,
                                 float *output, distributed::Communicator &comm,
                                 const SequenceParallelOptions &options = {});

} // namespace dilattn

#endif // DILATTN_API_SEQUENCEPARALLEL_H
