//===- DilatedAttention.h - run dilated attention on host buffers -*- C++ -*-=//
//
// The C++ entry point for one dilated attention call on host memory: checks
// the call against every rule of docs/Contract.md section 4 (the same messages
// as the IR verifier), gets the specialised kernel from the JIT (memory cache,
// disk cache or compile) and runs it over all cores. Errors are values; nothing
// aborts.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_API_DILATEDATTENTION_H
#define DILATTN_API_DILATEDATTENTION_H

#include "dilattn/JIT/Jit.h"
#include "dilattn/Support/Problem.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"

#include <optional>

namespace dilattn {

/// A contiguous row-major f32 tensor in host memory.
struct HostTensor {
  const float *data = nullptr;
  llvm::SmallVector<int64_t, 4> shape;
};

/// A contiguous row-major mask in host memory: boolean (one byte per
/// element, non-zero = masked) or an additive f32 bias.
struct HostMask {
  enum class Kind { Bool, Float };
  Kind kind = Kind::Bool;
  const uint8_t *bools = nullptr;
  const float *floats = nullptr;
  llvm::SmallVector<int64_t, 4> shape;
};

struct RunOptions {
  /// The JIT to use; the process-wide one when null.
  jit::Jit *jit = nullptr;
  /// The thread pool to use; the process-wide one when null.
  runtime::ThreadPool *threads = nullptr;
  jit::CpuTuning tuning;
};

struct RunInfo {
  /// Time spent getting the kernel (0 on an in-memory hit).
  double compileMs = 0;
  jit::CacheOutcome cache = jit::CacheOutcome::MemoryHit;
  int64_t workItems = 0;
};

/// Computes dilated attention (docs/Contract.md sections 1 and 3) of (B, N, H,
/// D) query, key and value into `output` (same shape, caller-owned). Boolean
/// masks are converted to biases in a temporary buffer (the only allocation
/// besides the kernel's first compile).
llvm::Expected<RunInfo>
dilatedAttention(const DilatedAttentionConfig &config, const HostTensor &query,
                 const HostTensor &key, const HostTensor &value,
                 const std::optional<HostMask> &keyPaddingMask,
                 const std::optional<HostMask> &attnMask, float *output,
                 llvm::ArrayRef<int64_t> outputShape,
                 const RunOptions &options = {});

/// As dilatedAttention, and also writes the statistics the backward pass
/// needs into `lse` (caller-owned f32, (B, N, H)): the log-sum-exp of each
/// row's softmax (-inf where a row has no output), see
/// dilattn.dilated_attention_with_lse.
llvm::Expected<RunInfo> dilatedAttentionWithStatistics(
    const DilatedAttentionConfig &config, const HostTensor &query,
    const HostTensor &key, const HostTensor &value,
    const std::optional<HostMask> &keyPaddingMask,
    const std::optional<HostMask> &attnMask, float *output,
    llvm::ArrayRef<int64_t> outputShape, float *lse,
    const RunOptions &options = {});

/// The gradients of sum(gradOutput * out) with respect to query, key and value
/// (issue 18), where out and lse come from dilatedAttentionWithStatistics on
/// the same inputs: written into gradQuery, gradKey and gradValue
/// (caller-owned, the query's shape). Checks the rules of dilatedAttention
/// and G1-G2 of docs/Constraints.md. Work is split by (batch, head).
llvm::Expected<RunInfo> dilatedAttentionBackward(
    const DilatedAttentionConfig &config, const HostTensor &query,
    const HostTensor &key, const HostTensor &value, const HostTensor &output,
    const HostTensor &lse, const HostTensor &gradOutput,
    const std::optional<HostMask> &keyPaddingMask,
    const std::optional<HostMask> &attnMask, float *gradQuery, float *gradKey,
    float *gradValue, const RunOptions &options = {});

/// The signature of calls of any batch, sequence length and head count with
/// head dim `headDim`: what an ahead-of-time compile checks. A key padding
/// mask of kind `keyPaddingMask` and an f32 attention mask when asked for.
DilatedAttentionSignature
anySizeSignature(int64_t headDim, ElementKind element,
                 std::optional<ElementKind> keyPaddingMask, bool hasAttnMask);

/// Checks `config` with head dim `headDim` and element kind `element` against
/// the rules of dilatedAttention (batch, sequence length and heads left open:
/// one kernel serves them all; target cpu computes in f32 only) and gets the
/// kernel it runs into the JIT caches, so that a later run does not compile.
/// The flags say whether runs will pass a key padding mask and an attention
/// mask (they pick the kernel).
llvm::Error compileDilatedAttention(const DilatedAttentionConfig &config,
                                    int64_t headDim, ElementKind element,
                                    bool hasKeyPaddingMask, bool hasAttnMask,
                                    const RunOptions &options = {});

} // namespace dilattn

#endif // DILATTN_API_DILATEDATTENTION_H
