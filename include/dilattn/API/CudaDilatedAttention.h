//===- CudaDilatedAttention.h - dilated attention on a CUDA GPU -*- C++ -*-===//
//
// The C++ entry point for one dilated attention call on device memory:
// checks the call against the rules of docs/Contract.md section 4, gets the
// kernel image for the device's chip from the JIT (memory cache, disk cache or
// compile), loads it once per device and launches it on the caller's stream.
// With no GPU or no driver every call fails with one line saying so.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_API_CUDADILATEDATTENTION_H
#define DILATTN_API_CUDADILATEDATTENTION_H

#include "dilattn/API/DilatedAttention.h"
#include "dilattn/JIT/Jit.h"
#include "dilattn/Support/Problem.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>

namespace dilattn {

/// A contiguous row-major (B, N, H, D) tensor in device memory.
struct DeviceTensor {
  uint64_t address = 0;
  llvm::SmallVector<int64_t, 4> shape;
  ElementKind element = ElementKind::BF16;
};

/// A contiguous row-major f32 additive bias in device memory: the key
/// padding bias (B, N), or the attention bias (N, N), (B, N, N) or
/// (B, H, N, N). Boolean masks are given as 0 / -inf biases.
struct DeviceBias {
  uint64_t address = 0;
  llvm::SmallVector<int64_t, 4> shape;
};

struct CudaRunOptions {
  /// The JIT to use; the process-wide one when null.
  jit::Jit *jit = nullptr;
  jit::CudaTuning tuning;
  /// The device ordinal.
  int device = 0;
  /// The CUstream to launch on; the legacy default stream when null. The
  /// call returns once the work is queued, except in longnet mode, which
  /// waits for its workspace to be free.
  void *stream = nullptr;
};

/// The head dims and element kinds target cuda runs.
llvm::ArrayRef<int64_t> cudaSupportedHeadDims();

/// Refuses head dims target cuda does not run, naming the ones it does.
llvm::Error checkCudaHeadDim(int64_t headDim);

/// Whether target cuda can run here; the error says why not in one line.
llvm::Error checkCudaAvailable(int device = 0);

/// Checks `config` with head dim `headDim` and element kind `element` against
/// the checks of cudaDilatedAttention, in its order (rules, head dim,
/// availability; batch, sequence length and heads left open), and gets the
/// kernel it runs on `options.device` into the JIT caches. The flags say
/// whether runs will pass a key padding bias and an attention bias.
llvm::Error compileCudaDilatedAttention(const DilatedAttentionConfig &config,
                                        int64_t headDim, ElementKind element,
                                        bool hasKeyPaddingBias,
                                        bool hasAttnBias,
                                        const CudaRunOptions &options = {});

/// Computes dilated attention (docs/Contract.md sections 1 and 3) of device
/// tensors into `output` (same shape and element kind as query, caller-owned).
llvm::Expected<RunInfo> cudaDilatedAttention(
    const DilatedAttentionConfig &config, const DeviceTensor &query,
    const DeviceTensor &key, const DeviceTensor &value,
    const std::optional<DeviceBias> &keyPaddingBias,
    const std::optional<DeviceBias> &attnBias, const DeviceTensor &output,
    const CudaRunOptions &options = {});

} // namespace dilattn

#endif // DILATTN_API_CUDADILATEDATTENTION_H
