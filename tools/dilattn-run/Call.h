//===- Call.h - a single call's configuration and inputs --------*- C++ -*-===//
//
// What every single-call mode (CpuCall, CudaCall, SequenceParallel) starts
// from: the configuration and the Q, K, V and masks, read from .npy files or
// drawn at random, with the refusals that come before any mode's own.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_TOOLS_DILATTN_RUN_CALL_H
#define DILATTN_TOOLS_DILATTN_RUN_CALL_H

#include "Options.h"

#include "dilattn/API/DilatedAttention.h"
#include "dilattn/Reference/Reference.h"
#include "dilattn/Support/Problem.h"

#include "llvm/Support/Error.h"

#include <optional>
#include <string>
#include <vector>

namespace dilattn::run {

/// An f32 tensor owned by the tool.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;

  HostTensor view() const;
  reference::Tensor toReference() const;
};

/// A mask as read from .npy: boolean, or (attention masks) an f32 bias.
struct Mask {
  std::vector<int64_t> shape;
  bool isBool = true;
  std::vector<uint8_t> bools;
  std::vector<float> floats;

  HostMask view() const;
};

/// One dilated attention call.
struct Call {
  DilatedAttentionConfig config;
  Tensor query, key, value;
  std::optional<Mask> keyPadding, attn;

  /// The masks for the float64 reference.
  reference::Masks referenceMasks() const;
  /// The masks as the host API takes them (nullopt where absent).
  std::optional<HostMask> keyPaddingView() const {
    return keyPadding ? std::optional(keyPadding->view()) : std::nullopt;
  }
  std::optional<HostMask> attnView() const {
    return attn ? std::optional(attn->view()) : std::nullopt;
  }
  /// How the summary line names the call: "longnet causal, shape (B, N, H,
  /// D)".
  std::string describe() const;
};

/// Checks --target and --dtype, parses and checks the configuration, and reads
/// or draws the inputs (refusing, before allocating, buffers larger than this
/// machine's memory) and the masks.
llvm::Expected<Call> readCall(const CallOptions &options);

} // namespace dilattn::run

#endif // DILATTN_TOOLS_DILATTN_RUN_CALL_H
