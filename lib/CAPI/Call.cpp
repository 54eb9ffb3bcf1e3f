//===- Call.cpp - C API call descriptors, compiling and running -----------===//
//
// dilattn_call over DilatedAttentionConfig, and its compile and run entry
// points over the C++ API (dilattn/API/DilatedAttention.h and
// CudaDilatedAttention.h). The C side checks its own arguments (null
// pointers, enum values, sizes); the rules of the call are the C++ API's,
// whose errors carry the code the status comes from.
//
//===----------------------------------------------------------------------===//

#include "Handles.h"

#include "dilattn/API/CudaDilatedAttention.h"
#include "dilattn/API/DilatedAttention.h"

#include "llvm/Support/FormatVariadic.h"

using namespace dilattn;
using namespace dilattn::capi;

/// More patterns than any sensible call has: a guard against garbage counts.
static constexpr size_t kMaxPatterns = 1 << 16;

extern "C" dilattn_status dilattn_call_create(dilattn_context *ctx,
                                              dilattn_call **out) {
  return guarded(ctx, [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(ctx, "ctx");
    DILATTN_REQUIRE(out, "out");
    *out = nullptr;
    auto call = std::make_unique<dilattn_call>();
    call->context = ctx;
    *out = call.release();
    return DILATTN_SUCCESS;
  });
}

extern "C" void dilattn_call_destroy(dilattn_call *call) { delete call; }

extern "C" dilattn_status
dilattn_call_set_patterns(dilattn_call *call, const int64_t *segment_lengths,
                          const int64_t *dilation_rates, size_t num_patterns) {
  return guarded(contextOf(call), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(call, "call");
    if (num_patterns > kMaxPatterns)
      return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                        llvm::formatv("num_patterns must be at most {0}, got "
                                      "{1}",
                                      kMaxPatterns, num_patterns));
    if (num_patterns > 0) {
      DILATTN_REQUIRE(segment_lengths, "segment_lengths");
      DILATTN_REQUIRE(dilation_rates, "dilation_rates");
    }
    DilatedAttentionConfig config = call->config;
    config.segmentLengths.assign(segment_lengths,
                                 segment_lengths + num_patterns);
    config.dilationRates.assign(dilation_rates, dilation_rates + num_patterns);
    if (llvm::Error error = checkConfig(config))
      return setFailure(failure, std::move(error));
    call->config = std::move(config);
    call->forgetCompiled();
    return DILATTN_SUCCESS;
  });
}

namespace {
/// Sets a setting whose C enum has the values 0 and 1: `field` of the call's
/// configuration becomes `zero` or `one`; any other value is refused with
/// `refusal` (a format string of the value).
template <typename T>
dilattn_status setChoice(dilattn_call *call, int value,
                         T DilatedAttentionConfig::*field, T zero, T one,
                         const char *refusal) {
  return guarded(contextOf(call), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(call, "call");
    if (value != 0 && value != 1)
      return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                        llvm::formatv(refusal, value).str());
    call->config.*field = value == 0 ? zero : one;
    call->forgetCompiled();
    return DILATTN_SUCCESS;
  });
}
} // namespace

extern "C" dilattn_status dilattn_call_set_mode(dilattn_call *call,
                                                dilattn_mode mode) {
  static_assert(DILATTN_MODE_GROUPED == 0 && DILATTN_MODE_LONGNET == 1);
  return setChoice(call, static_cast<int>(mode), &DilatedAttentionConfig::mode,
                   AttentionMode::Grouped, AttentionMode::LongNet,
                   "mode must be DILATTN_MODE_GROUPED (0) or "
                   "DILATTN_MODE_LONGNET (1), got {0}");
}

extern "C" dilattn_status
dilattn_call_set_offset_rule(dilattn_call *call, dilattn_offset_rule rule) {
  static_assert(DILATTN_OFFSET_RULE_CYCLIC == 0 &&
                DILATTN_OFFSET_RULE_BLOCKED == 1);
  return setChoice(call, static_cast<int>(rule),
                   &DilatedAttentionConfig::offsetRule, OffsetRule::Cyclic,
                   OffsetRule::Blocked,
                   "offset_rule must be DILATTN_OFFSET_RULE_CYCLIC (0) or "
                   "DILATTN_OFFSET_RULE_BLOCKED (1), got {0}");
}

extern "C" dilattn_status dilattn_call_set_causal(dilattn_call *call,
                                                  int causal) {
  return guarded(contextOf(call), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(call, "call");
    call->config.causal = causal != 0;
    call->forgetCompiled();
    return DILATTN_SUCCESS;
  });
}

extern "C" dilattn_status dilattn_call_set_scale(dilattn_call *call,
                                                 double scale) {
  return guarded(contextOf(call), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(call, "call");
    // The scale rule (finite) alone: the patterns may not be set yet.
    DilatedAttentionConfig probe;
    probe.segmentLengths = {1};
    probe.dilationRates = {1};
    probe.scale = scale;
    if (llvm::Error error = checkConfig(probe))
      return setFailure(failure, std::move(error));
    call->config.scale = scale;
    call->forgetCompiled();
    return DILATTN_SUCCESS;
  });
}

extern "C" dilattn_status dilattn_call_clear_scale(dilattn_call *call) {
  return guarded(contextOf(call), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(call, "call");
    call->config.scale.reset();
    call->forgetCompiled();
    return DILATTN_SUCCESS;
  });
}

//===----------------------------------------------------------------------===//
// Compiling and running
//===----------------------------------------------------------------------===//

extern "C" dilattn_status
dilattn_compile(dilattn_call *call, dilattn_target target, dilattn_dtype dtype,
                int64_t head_dim, int has_key_padding_mask, int has_attn_mask) {
  return guarded(contextOf(call), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(call, "call");
    bool cuda = false;
    if (dilattn_status status = checkTarget(failure, target, cuda))
      return status;
    ElementKind element;
    if (dilattn_status status = checkDtype(failure, dtype, element))
      return status;
    if (head_dim <= 0)
      return setFailure(
          failure, DILATTN_ERROR_INVALID_ARGUMENT,
          llvm::formatv("head_dim must be positive, got {0}", head_dim));
    std::shared_ptr<jit::Jit> jit = jitOf(call->context);
    bool keyPadding = has_key_padding_mask != 0, attn = has_attn_mask != 0;
    llvm::Error error = llvm::Error::success();
    if (cuda) {
      CudaRunOptions options;
      options.jit = jit.get();
      error = compileCudaDilatedAttention(call->config, head_dim, element,
                                          keyPadding, attn, options);
    } else {
      RunOptions options;
      options.jit = jit.get();
      error = compileDilatedAttention(call->config, head_dim, element,
                                      keyPadding, attn, options);
    }
    if (error)
      return setFailure(failure, std::move(error));
    std::lock_guard<std::mutex> lock(call->compiledMutex);
    call->compiled.push_back({cuda, element, head_dim, keyPadding, attn});
    return DILATTN_SUCCESS;
  });
}

namespace {
/// How a run may use what dilattn_compile compiled for its call.
enum class Precompiled {
  /// Nothing was compiled for this target, element type and head dim, or a
  /// kernel of the run's mask kinds was: the run proceeds as it is.
  Use,
  /// Only a kernel with a key padding mask was compiled and the host run has
  /// none: it runs that kernel with an all-zero mask (nothing padded), which
  /// computes the same result, instead of compiling another kernel.
  ZeroKeyPadding,
};

const char *maskKinds(bool keyPadding, bool attn) {
  if (keyPadding)
    return attn ? "a key padding mask and an attention mask"
                : "a key padding mask and no attention mask";
  return attn ? "no key padding mask and an attention mask" : "no masks";
}

/// Checks a run's mask kinds against the kernels compiled for its call.
dilattn_status checkPrecompiled(std::optional<Failure> &failure,
                                dilattn_call *call, bool cuda,
                                ElementKind element, int64_t headDim,
                                bool keyPadding, bool attn, Precompiled &how) {
  how = Precompiled::Use;
  std::lock_guard<std::mutex> lock(call->compiledMutex);
  bool any = false, zeroPadding = false;
  for (const CompiledVariant &variant : call->compiled) {
    if (variant.cuda != cuda || variant.element != element ||
        variant.headDim != headDim)
      continue;
    if (variant.keyPadding == keyPadding && variant.attn == attn)
      return DILATTN_SUCCESS;
    any = true;
    zeroPadding |=
        !cuda && variant.keyPadding && !keyPadding && variant.attn == attn;
  }
  if (!any)
    return DILATTN_SUCCESS;
  if (zeroPadding) {
    how = Precompiled::ZeroKeyPadding;
    return DILATTN_SUCCESS;
  }
  const CompiledVariant &first =
      *llvm::find_if(call->compiled, [&](const CompiledVariant &variant) {
        return variant.cuda == cuda && variant.element == element &&
               variant.headDim == headDim;
      });
  return setFailure(
      failure, DILATTN_ERROR_INVALID_ARGUMENT,
      llvm::formatv("the call was compiled (dilattn_compile) for target {0} "
                    "and head dim {1} with {2}, but this run has {3}: pass "
                    "the masks it was compiled for, or call dilattn_compile "
                    "for these mask kinds too",
                    cuda ? "cuda" : "cpu", headDim,
                    maskKinds(first.keyPadding, first.attn),
                    maskKinds(keyPadding, attn))
          .str());
}

/// Which of a run's q, k, v and out buffers are given.
struct RunBuffers {
  bool q, k, v, out;
};

/// The arguments of a run: the (B, N, H, D) shape, the buffers (null only
/// when empty) and the attention bias arguments.
dilattn_status checkRunArguments(std::optional<Failure> &failure,
                                 const int64_t *shape, RunBuffers buffers,
                                 bool hasBias, const int64_t *attnShape,
                                 size_t attnRank,
                                 llvm::SmallVectorImpl<int64_t> &sizes,
                                 llvm::SmallVectorImpl<int64_t> &attnSizes) {
  if (dilattn_status status = checkShape(failure, "shape", shape, 4, sizes))
    return status;
  if (product(sizes) != 0) {
    DILATTN_REQUIRE(buffers.q, "q");
    DILATTN_REQUIRE(buffers.k, "k");
    DILATTN_REQUIRE(buffers.v, "v");
    DILATTN_REQUIRE(buffers.out, "out");
  }
  return checkAttnArguments(failure, hasBias, attnShape, attnRank, attnSizes);
}
} // namespace

extern "C" dilattn_status
dilattn_run_host(dilattn_call *call, const float *q, const float *k,
                 const float *v, const int64_t shape[4],
                 const uint8_t *key_padding_mask, const float *attn_bias,
                 const int64_t *attn_shape, size_t attn_rank, float *out) {
  return guarded(contextOf(call), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(call, "call");
    llvm::SmallVector<int64_t, 4> sizes, attnSizes;
    if (dilattn_status status = checkRunArguments(
            failure, shape,
            {q != nullptr, k != nullptr, v != nullptr, out != nullptr},
            attn_bias != nullptr, attn_shape, attn_rank, sizes, attnSizes))
      return status;

    Precompiled how;
    if (dilattn_status status = checkPrecompiled(
            failure, call, /*cuda=*/false, ElementKind::F32, sizes[3],
            key_padding_mask != nullptr, attn_bias != nullptr, how))
      return status;
    std::vector<uint8_t> noPadding;
    if (how == Precompiled::ZeroKeyPadding) {
      noPadding.assign(static_cast<size_t>(sizes[0] * sizes[1]), 0);
      key_padding_mask = noPadding.data();
    }

    std::optional<HostMask> keyPadding, attn;
    if (key_padding_mask)
      keyPadding = HostMask{HostMask::Kind::Bool,
                            key_padding_mask,
                            nullptr,
                            {sizes[0], sizes[1]}};
    if (attn_bias)
      attn = HostMask{HostMask::Kind::Float, nullptr, attn_bias, attnSizes};
    std::shared_ptr<jit::Jit> jit = jitOf(call->context);
    RunOptions options;
    options.jit = jit.get();
    auto info = dilatedAttention(call->config, HostTensor{q, sizes},
                                 HostTensor{k, sizes}, HostTensor{v, sizes},
                                 keyPadding, attn, out, sizes, options);
    if (!info)
      return setFailure(failure, info.takeError());
    return DILATTN_SUCCESS;
  });
}

extern "C" dilattn_status
dilattn_run_host_with_lse(dilattn_call *call, const float *q, const float *k,
                          const float *v, const int64_t shape[4],
                          const uint8_t *key_padding_mask,
                          const float *attn_bias, const int64_t *attn_shape,
                          size_t attn_rank, float *out, float *lse) {
  return guarded(contextOf(call), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(call, "call");
    llvm::SmallVector<int64_t, 4> sizes, attnSizes;
    if (dilattn_status status = checkRunArguments(
            failure, shape,
            {q != nullptr, k != nullptr, v != nullptr, out != nullptr},
            attn_bias != nullptr, attn_shape, attn_rank, sizes, attnSizes))
      return status;
    if (product(sizes) != 0)
      DILATTN_REQUIRE(lse, "lse");
    std::optional<HostMask> keyPadding, attn;
    if (key_padding_mask)
      keyPadding = HostMask{HostMask::Kind::Bool,
                            key_padding_mask,
                            nullptr,
                            {sizes[0], sizes[1]}};
    if (attn_bias)
      attn = HostMask{HostMask::Kind::Float, nullptr, attn_bias, attnSizes};
    std::shared_ptr<jit::Jit> jit = jitOf(call->context);
    RunOptions options;
    options.jit = jit.get();
    auto info = dilatedAttentionWithStatistics(
        call->config, HostTensor{q, sizes}, HostTensor{k, sizes},
        HostTensor{v, sizes}, keyPadding, attn, out, sizes, lse, options);
    if (!info)
      return setFailure(failure, info.takeError());
    return DILATTN_SUCCESS;
  });
}

extern "C" dilattn_status
dilattn_run_host_backward(dilattn_call *call, const float *q, const float *k,
                          const float *v, const float *out, const float *lse,
                          const float *grad_out, const int64_t shape[4],
                          const uint8_t *key_padding_mask,
                          const float *attn_bias, const int64_t *attn_shape,
                          size_t attn_rank, float *dq, float *dk, float *dv) {
  return guarded(contextOf(call), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(call, "call");
    llvm::SmallVector<int64_t, 4> sizes, attnSizes;
    if (dilattn_status status = checkRunArguments(
            failure, shape,
            {q != nullptr, k != nullptr, v != nullptr, out != nullptr},
            attn_bias != nullptr, attn_shape, attn_rank, sizes, attnSizes))
      return status;
    if (product(sizes) != 0) {
      DILATTN_REQUIRE(lse, "lse");
      DILATTN_REQUIRE(grad_out, "grad_out");
      DILATTN_REQUIRE(dq, "dq");
      DILATTN_REQUIRE(dk, "dk");
      DILATTN_REQUIRE(dv, "dv");
    }
    std::optional<HostMask> keyPadding, attn;
    if (key_padding_mask)
      keyPadding = HostMask{HostMask::Kind::Bool,
                            key_padding_mask,
                            nullptr,
                            {sizes[0], sizes[1]}};
    if (attn_bias)
      attn = HostMask{HostMask::Kind::Float, nullptr, attn_bias, attnSizes};
    std::shared_ptr<jit::Jit> jit = jitOf(call->context);
    RunOptions options;
    options.jit = jit.get();
    llvm::SmallVector<int64_t, 4> rows(sizes.begin(), sizes.begin() + 3);
    auto info = dilatedAttentionBackward(
        call->config, HostTensor{q, sizes}, HostTensor{k, sizes},
        HostTensor{v, sizes}, HostTensor{out, sizes}, HostTensor{lse, rows},
        HostTensor{grad_out, sizes}, keyPadding, attn, dq, dk, dv, options);
    if (!info)
      return setFailure(failure, info.takeError());
    return DILATTN_SUCCESS;
  });
}

extern "C" dilattn_status dilattn_run_cuda(
    dilattn_call *call, dilattn_dtype dtype, uint64_t q, uint64_t k, uint64_t v,
    const int64_t shape[4], uint64_t key_padding_bias, uint64_t attn_bias,
    const int64_t *attn_shape, size_t attn_rank, uint64_t out, void *stream) {
  return guarded(contextOf(call), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(call, "call");
    ElementKind element;
    if (dilattn_status status = checkDtype(failure, dtype, element))
      return status;
    llvm::SmallVector<int64_t, 4> sizes, attnSizes;
    if (dilattn_status status = checkRunArguments(
            failure, shape, {q != 0, k != 0, v != 0, out != 0}, attn_bias != 0,
            attn_shape, attn_rank, sizes, attnSizes))
      return status;

    Precompiled how;
    if (dilattn_status status =
            checkPrecompiled(failure, call, /*cuda=*/true, element, sizes[3],
                             key_padding_bias != 0, attn_bias != 0, how))
      return status;

    std::optional<DeviceBias> keyBias, attnBias;
    if (key_padding_bias)
      keyBias = DeviceBias{key_padding_bias, {sizes[0], sizes[1]}};
    if (attn_bias)
      attnBias = DeviceBias{attn_bias, attnSizes};
    std::shared_ptr<jit::Jit> jit = jitOf(call->context);
    CudaRunOptions options;
    options.jit = jit.get();
    options.stream = stream;
    auto info = cudaDilatedAttention(
        call->config, DeviceTensor{q, sizes, element},
        DeviceTensor{k, sizes, element}, DeviceTensor{v, sizes, element},
        keyBias, attnBias, DeviceTensor{out, sizes, element}, options);
    if (!info)
      return setFailure(failure, info.takeError());
    return DILATTN_SUCCESS;
  });
}
