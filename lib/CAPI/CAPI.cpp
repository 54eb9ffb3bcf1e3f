//===- CAPI.cpp - the dilattn C API ---------------------------------------===//
//
// include/dilattn-c/dilattn.h over the C++ API. Every entry point checks its
// arguments itself (null pointers, negative sizes, overflowing products,
// ranks, enum values), then applies the same rule checks as the C++ API so
// that a refused call gets its status code (invalid call, unsupported,
// unavailable) before any work. Exceptions (std::bad_alloc) never cross the
// C boundary: this file is built with -fexceptions and every entry point
// catches everything.
//
//===----------------------------------------------------------------------===//

#include "dilattn-c/dilattn.h"

#include "dilattn/API/CudaDilatedAttention.h"
#include "dilattn/API/DilatedAttention.h"
#include "dilattn/API/Graph.h"
#include "dilattn/API/SequenceParallel.h"
#include "dilattn/Runtime/CudaRuntime.h"
#include "dilattn/Support/Problem.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>

using namespace dilattn;

struct dilattn_context {
  std::mutex mutex;
  /// The JIT of a context with its own cache directory; null: the
  /// process-wide one.
  std::shared_ptr<jit::Jit> jit;
  std::string lastError;
};

struct dilattn_call {
  dilattn_context *context = nullptr;
  DilatedAttentionConfig config;
};

struct dilattn_group {
  dilattn_context *context = nullptr;
  std::vector<std::unique_ptr<dilattn::distributed::Communicator>> ranks;
};

struct dilattn_graph {
  dilattn_context *context = nullptr;
  Graph graph;
  /// The GraphValue of each dilattn_value handed out.
  std::vector<GraphValue> values;
};

struct dilattn_program {
  dilattn_context *context = nullptr;
  std::unique_ptr<CompiledGraph> compiled;
};

namespace {

/// A failure on its way out: a status and its message.
struct Failure {
  dilattn_status status;
  std::string message;
};

/// More patterns than any sensible call has: a guard against garbage counts.
constexpr size_t kMaxPatterns = 1 << 16;

thread_local std::string threadLastError;
/// The copy of a context's last error handed to this thread.
thread_local std::string threadContextErrorCopy;

dilattn_status record(dilattn_context *context, dilattn_status status,
                      std::string message) {
  if (context) {
    std::lock_guard<std::mutex> lock(context->mutex);
    context->lastError = message;
  }
  threadLastError = std::move(message);
  return status;
}

/// Runs `body` (returning dilattn_status, or Failure through `fail`) and turns
/// every exception into a status.
template <typename Body>
dilattn_status guarded(dilattn_context *context, Body body) {
  try {
    std::optional<Failure> failure;
    dilattn_status status = body(failure);
    if (failure)
      return record(context, failure->status, std::move(failure->message));
    return status;
  } catch (const std::bad_alloc &) {
    return record(context, DILATTN_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception &error) {
    return record(context, DILATTN_ERROR_INTERNAL,
                  std::string("internal error: ") + error.what());
  } catch (...) {
    return record(context, DILATTN_ERROR_INTERNAL,
                  "internal error: unknown exception");
  }
}

dilattn_status setFailure(std::optional<Failure> &failure,
                          dilattn_status status, std::string message) {
  failure = Failure{status, std::move(message)};
  return status;
}

dilattn_status setFailure(std::optional<Failure> &failure,
                          dilattn_status status, llvm::Error error) {
  return setFailure(failure, status, llvm::toString(std::move(error)));
}

std::shared_ptr<jit::Jit> jitOf(dilattn_context *context) {
  std::lock_guard<std::mutex> lock(context->mutex);
  if (context->jit)
    return context->jit;
  // The process-wide JIT lives as long as the process: no ownership.
  return std::shared_ptr<jit::Jit>(&jit::Jit::global(), [](jit::Jit *) {});
}

std::optional<ElementKind> elementOf(dilattn_dtype dtype) {
  switch (static_cast<int>(dtype)) {
  case DILATTN_DTYPE_F32:
    return ElementKind::F32;
  case DILATTN_DTYPE_F16:
    return ElementKind::F16;
  case DILATTN_DTYPE_BF16:
    return ElementKind::BF16;
  default:
    return std::nullopt;
  }
}

std::string badDtype(dilattn_dtype dtype) {
  return llvm::formatv("dtype must be DILATTN_DTYPE_F32 (0), "
                       "DILATTN_DTYPE_F16 (1) or DILATTN_DTYPE_BF16 (2), got "
                       "{0}",
                       static_cast<int>(dtype));
}

/// Checks a shape given as `rank` sizes: non-null, sizes >= 0, product
/// within int64. `name` names the argument in messages.
dilattn_status checkShape(std::optional<Failure> &failure, const char *name,
                          const int64_t *shape, size_t rank,
                          llvm::SmallVectorImpl<int64_t> &result) {
  if (!shape)
    return setFailure(failure, DILATTN_ERROR_NULL_ARGUMENT,
                      llvm::formatv("{0} must not be NULL", name));
  result.assign(shape, shape + rank);
  for (size_t i = 0; i < rank; ++i)
    if (shape[i] < 0)
      return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                        llvm::formatv("{0}[{1}] must not be negative, got {2}",
                                      name, i, shape[i]));
  int64_t count = 1;
  for (size_t i = 0; i < rank; ++i)
    if (llvm::MulOverflow(count, shape[i], count))
      return setFailure(
          failure, DILATTN_ERROR_INVALID_ARGUMENT,
          llvm::formatv("{0} {1} has more elements than int64 can count", name,
                        formatShape(result)));
  return DILATTN_SUCCESS;
}

int64_t product(llvm::ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t size : shape)
    count *= size;
  return count;
}

/// Checks the optional attention bias arguments: either all absent, or a
/// rank of 2..4 with a valid shape.
dilattn_status checkAttnArguments(std::optional<Failure> &failure, bool hasBias,
                                  const int64_t *attnShape, size_t attnRank,
                                  llvm::SmallVectorImpl<int64_t> &result) {
  if (!hasBias) {
    if (attnShape || attnRank != 0)
      return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                        llvm::formatv("attn_shape and attn_rank must be NULL "
                                      "and 0 when there is no attn_bias, got "
                                      "{0} and {1}",
                                      attnShape ? "a shape" : "NULL",
                                      attnRank));
    return DILATTN_SUCCESS;
  }
  if (attnRank < 2 || attnRank > 4)
    return setFailure(
        failure, DILATTN_ERROR_INVALID_ARGUMENT,
        llvm::formatv("attn_rank must be 2, 3 or 4, got {0}", attnRank));
  return checkShape(failure, "attn_shape", attnShape, attnRank, result);
}

std::string joinDims(llvm::ArrayRef<int64_t> dims) {
  return llvm::join(
      llvm::map_range(dims, [](int64_t d) { return std::to_string(d); }), ", ");
}

/// The target-specific checks of target cuda after the rule checks: head dim,
/// then availability.
dilattn_status checkCudaTarget(std::optional<Failure> &failure,
                               int64_t headDim) {
  if (!llvm::is_contained(cudaSupportedHeadDims(), headDim))
    return setFailure(
        failure, DILATTN_ERROR_UNSUPPORTED,
        llvm::formatv("head dim {0} is not supported by target cuda "
                      "(supported: {1})",
                      headDim, joinDims(cudaSupportedHeadDims())));
  if (llvm::Error error = checkCudaAvailable(0))
    return setFailure(failure, DILATTN_ERROR_TARGET_UNAVAILABLE,
                      std::move(error));
  return DILATTN_SUCCESS;
}

/// The status of a rule check failure: element types the target cannot run
/// are "unsupported", every other rule "invalid call".
dilattn_status ruleFailure(std::optional<Failure> &failure, llvm::Error error) {
  std::string message = llvm::toString(std::move(error));
  dilattn_status status =
      llvm::StringRef(message).starts_with("query element type must be one of")
          ? DILATTN_ERROR_UNSUPPORTED
          : DILATTN_ERROR_INVALID_CALL;
  return setFailure(failure, status, std::move(message));
}

#define DILATTN_REQUIRE(pointer, name)                                         \
  do {                                                                         \
    if (!(pointer))                                                            \
      return setFailure(failure, DILATTN_ERROR_NULL_ARGUMENT,                  \
                        name " must not be NULL");                             \
  } while (false)

} // namespace

//===----------------------------------------------------------------------===//
// Versions, statuses, errors
//===----------------------------------------------------------------------===//

extern "C" int dilattn_api_version(void) { return DILATTN_C_API_VERSION; }

extern "C" const char *dilattn_status_string(dilattn_status status) {
  switch (static_cast<int>(status)) {
  case DILATTN_SUCCESS:
    return "success";
  case DILATTN_ERROR_NULL_ARGUMENT:
    return "null argument";
  case DILATTN_ERROR_INVALID_ARGUMENT:
    return "invalid argument";
  case DILATTN_ERROR_INVALID_CALL:
    return "invalid call";
  case DILATTN_ERROR_UNSUPPORTED:
    return "unsupported by the target";
  case DILATTN_ERROR_TARGET_UNAVAILABLE:
    return "target unavailable";
  case DILATTN_ERROR_COMPILE:
    return "compilation failed";
  case DILATTN_ERROR_RUNTIME:
    return "runtime error";
  case DILATTN_ERROR_OUT_OF_MEMORY:
    return "out of memory";
  case DILATTN_ERROR_INTERNAL:
    return "internal error";
  default:
    return "unknown status";
  }
}

extern "C" const char *dilattn_last_error(void) {
  return threadLastError.c_str();
}

extern "C" const char *dilattn_context_last_error(dilattn_context *ctx) {
  if (!ctx)
    return threadLastError.c_str();
  try {
    std::lock_guard<std::mutex> lock(ctx->mutex);
    threadContextErrorCopy = ctx->lastError;
  } catch (...) {
    return "out of memory";
  }
  return threadContextErrorCopy.c_str();
}

//===----------------------------------------------------------------------===//
// Contexts
//===----------------------------------------------------------------------===//

extern "C" dilattn_status dilattn_context_create(dilattn_context **out) {
  return guarded(nullptr, [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(out, "out");
    *out = nullptr;
    *out = new dilattn_context();
    return DILATTN_SUCCESS;
  });
}

extern "C" void dilattn_context_destroy(dilattn_context *ctx) { delete ctx; }

extern "C" dilattn_status dilattn_context_set_cache_dir(dilattn_context *ctx,
                                                        const char *directory) {
  return guarded(ctx, [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(ctx, "ctx");
    std::shared_ptr<jit::Jit> jit;
    if (directory) {
      jit::JitOptions options;
      options.cacheDirectory = directory;
      options.useDefaultCacheDirectory = false;
      jit = std::make_shared<jit::Jit>(std::move(options));
    }
    // Runs in flight keep the JIT they started with.
    std::lock_guard<std::mutex> lock(ctx->mutex);
    ctx->jit = std::move(jit);
    return DILATTN_SUCCESS;
  });
}

//===----------------------------------------------------------------------===//
// Call descriptors
//===----------------------------------------------------------------------===//

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

static dilattn_context *contextOf(const dilattn_call *call) {
  return call ? call->context : nullptr;
}

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
      return ruleFailure(failure, std::move(error));
    call->config = std::move(config);
    return DILATTN_SUCCESS;
  });
}

extern "C" dilattn_status dilattn_call_set_mode(dilattn_call *call,
                                                dilattn_mode mode) {
  return guarded(contextOf(call), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(call, "call");
    switch (static_cast<int>(mode)) {
    case DILATTN_MODE_GROUPED:
      call->config.mode = AttentionMode::Grouped;
      return DILATTN_SUCCESS;
    case DILATTN_MODE_LONGNET:
      call->config.mode = AttentionMode::LongNet;
      return DILATTN_SUCCESS;
    default:
      return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                        llvm::formatv("mode must be DILATTN_MODE_GROUPED (0) "
                                      "or DILATTN_MODE_LONGNET (1), got {0}",
                                      static_cast<int>(mode)));
    }
  });
}

extern "C" dilattn_status
dilattn_call_set_offset_rule(dilattn_call *call, dilattn_offset_rule rule) {
  return guarded(contextOf(call), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(call, "call");
    switch (static_cast<int>(rule)) {
    case DILATTN_OFFSET_RULE_CYCLIC:
      call->config.offsetRule = OffsetRule::Cyclic;
      return DILATTN_SUCCESS;
    case DILATTN_OFFSET_RULE_BLOCKED:
      call->config.offsetRule = OffsetRule::Blocked;
      return DILATTN_SUCCESS;
    default:
      return setFailure(
          failure, DILATTN_ERROR_INVALID_ARGUMENT,
          llvm::formatv("offset_rule must be DILATTN_OFFSET_RULE_CYCLIC (0) "
                        "or DILATTN_OFFSET_RULE_BLOCKED (1), got {0}",
                        static_cast<int>(rule)));
    }
  });
}

extern "C" dilattn_status dilattn_call_set_causal(dilattn_call *call,
                                                  int causal) {
  return guarded(contextOf(call), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(call, "call");
    call->config.causal = causal != 0;
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
      return ruleFailure(failure, std::move(error));
    call->config.scale = scale;
    return DILATTN_SUCCESS;
  });
}

extern "C" dilattn_status dilattn_call_clear_scale(dilattn_call *call) {
  return guarded(contextOf(call), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(call, "call");
    call->config.scale.reset();
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
    int targetValue = static_cast<int>(target);
    if (targetValue != DILATTN_TARGET_CPU && targetValue != DILATTN_TARGET_CUDA)
      return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                        llvm::formatv("target must be DILATTN_TARGET_CPU (0) "
                                      "or DILATTN_TARGET_CUDA (1), got {0}",
                                      targetValue));
    std::optional<ElementKind> element = elementOf(dtype);
    if (!element)
      return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                        badDtype(dtype));
    if (head_dim <= 0)
      return setFailure(
          failure, DILATTN_ERROR_INVALID_ARGUMENT,
          llvm::formatv("head_dim must be positive, got {0}", head_dim));
    bool cuda = targetValue == DILATTN_TARGET_CUDA;

    // Batch, sequence length and heads are left open: the kernel serves
    // every value.
    DilatedAttentionSignature signature;
    llvm::SmallVector<int64_t, 4> shape = {kDynamicSize, kDynamicSize,
                                           kDynamicSize, head_dim};
    signature.query = TensorSignature::get(shape, *element);
    signature.key = signature.query;
    signature.value = signature.query;
    if (cuda) {
      signature.supportedElements = {ElementKind::F16, ElementKind::BF16,
                                     ElementKind::F32};
      signature.allowFloatKeyPaddingMask = true;
    } else {
      signature.supportedElements = {ElementKind::F32};
    }
    if (has_key_padding_mask)
      signature.keyPaddingMask =
          TensorSignature::get({kDynamicSize, kDynamicSize},
                               cuda ? ElementKind::F32 : ElementKind::I1);
    if (has_attn_mask)
      signature.attnMask =
          TensorSignature::get({kDynamicSize, kDynamicSize}, ElementKind::F32);
    if (llvm::Error error = checkDilatedAttention(call->config, signature))
      return ruleFailure(failure, std::move(error));

    jit::KernelSpec spec;
    spec.config = call->config;
    spec.headDim = head_dim;
    spec.element = *element;
    spec.hasKeyPaddingMask = has_key_padding_mask != 0;
    spec.hasAttnMask = has_attn_mask != 0;
    std::shared_ptr<jit::Jit> jit = jitOf(call->context);
    if (!cuda) {
      // The spec dilattn::dilatedAttention asks for.
      spec.tuning = jit::CpuTuning().resolvedForHost();
      auto kernel = jit->getKernel(spec);
      if (!kernel)
        return setFailure(failure, DILATTN_ERROR_COMPILE, kernel.takeError());
      return DILATTN_SUCCESS;
    }

    if (checkCudaTarget(failure, head_dim) != DILATTN_SUCCESS)
      return failure->status;
    auto context = runtime::cuda::Context::get(0);
    if (!context)
      return setFailure(failure, DILATTN_ERROR_TARGET_UNAVAILABLE,
                        context.takeError());
    const runtime::cuda::DeviceInfo &device = context->info();
    spec.target = jit::Target::Cuda;
    spec.cudaChip = cudaChipForDevice(device.computeCapabilityMajor,
                                      device.computeCapabilityMinor);
    // The spec dilattn::cudaDilatedAttention asks for.
    spec.cudaTuning = CudaRunOptions().tuning;
    auto kernel = jit->getCudaKernel(spec);
    if (!kernel)
      return setFailure(failure, DILATTN_ERROR_COMPILE, kernel.takeError());
    return DILATTN_SUCCESS;
  });
}

extern "C" dilattn_status
dilattn_run_host(dilattn_call *call, const float *q, const float *k,
                 const float *v, const int64_t shape[4],
                 const uint8_t *key_padding_mask, const float *attn_bias,
                 const int64_t *attn_shape, size_t attn_rank, float *out) {
  return guarded(contextOf(call), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(call, "call");
    llvm::SmallVector<int64_t, 4> sizes, attnSizes;
    if (checkShape(failure, "shape", shape, 4, sizes) != DILATTN_SUCCESS)
      return failure->status;
    if (product(sizes) != 0) {
      DILATTN_REQUIRE(q, "q");
      DILATTN_REQUIRE(k, "k");
      DILATTN_REQUIRE(v, "v");
      DILATTN_REQUIRE(out, "out");
    }
    if (checkAttnArguments(failure, attn_bias != nullptr, attn_shape, attn_rank,
                           attnSizes) != DILATTN_SUCCESS)
      return failure->status;

    std::optional<HostMask> keyPadding, attn;
    if (key_padding_mask)
      keyPadding = HostMask{HostMask::Kind::Bool,
                            key_padding_mask,
                            nullptr,
                            {sizes[0], sizes[1]}};
    if (attn_bias)
      attn = HostMask{HostMask::Kind::Float, nullptr, attn_bias, attnSizes};

    // The rule checks of dilattn::dilatedAttention, first, for their status.
    DilatedAttentionSignature signature;
    signature.query = TensorSignature::get(sizes, ElementKind::F32);
    signature.key = signature.query;
    signature.value = signature.query;
    signature.supportedElements = {ElementKind::F32};
    if (keyPadding)
      signature.keyPaddingMask =
          TensorSignature::get(keyPadding->shape, ElementKind::I1);
    if (attn)
      signature.attnMask = TensorSignature::get(attnSizes, ElementKind::F32);
    if (llvm::Error error = checkDilatedAttention(call->config, signature))
      return ruleFailure(failure, std::move(error));

    std::shared_ptr<jit::Jit> jit = jitOf(call->context);
    RunOptions options;
    options.jit = jit.get();
    auto info = dilatedAttention(call->config, HostTensor{q, sizes},
                                 HostTensor{k, sizes}, HostTensor{v, sizes},
                                 keyPadding, attn, out, sizes, options);
    if (!info)
      return setFailure(failure, DILATTN_ERROR_COMPILE, info.takeError());
    return DILATTN_SUCCESS;
  });
}

extern "C" dilattn_status dilattn_run_cuda(
    dilattn_call *call, dilattn_dtype dtype, uint64_t q, uint64_t k, uint64_t v,
    const int64_t shape[4], uint64_t key_padding_bias, uint64_t attn_bias,
    const int64_t *attn_shape, size_t attn_rank, uint64_t out, void *stream) {
  return guarded(contextOf(call), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(call, "call");
    std::optional<ElementKind> element = elementOf(dtype);
    if (!element)
      return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                        badDtype(dtype));
    llvm::SmallVector<int64_t, 4> sizes, attnSizes;
    if (checkShape(failure, "shape", shape, 4, sizes) != DILATTN_SUCCESS)
      return failure->status;
    if (product(sizes) != 0) {
      DILATTN_REQUIRE(q, "q");
      DILATTN_REQUIRE(k, "k");
      DILATTN_REQUIRE(v, "v");
      DILATTN_REQUIRE(out, "out");
    }
    if (checkAttnArguments(failure, attn_bias != 0, attn_shape, attn_rank,
                           attnSizes) != DILATTN_SUCCESS)
      return failure->status;

    std::optional<DeviceBias> keyBias, attnBias;
    if (key_padding_bias)
      keyBias = DeviceBias{key_padding_bias, {sizes[0], sizes[1]}};
    if (attn_bias)
      attnBias = DeviceBias{attn_bias, attnSizes};

    // The checks of dilattn::cudaDilatedAttention, in its order, first, for
    // their status: rules, head dim, availability.
    DilatedAttentionSignature signature;
    signature.query = TensorSignature::get(sizes, *element);
    signature.key = signature.query;
    signature.value = signature.query;
    signature.supportedElements = {ElementKind::F16, ElementKind::BF16,
                                   ElementKind::F32};
    signature.allowFloatKeyPaddingMask = true;
    if (keyBias)
      signature.keyPaddingMask =
          TensorSignature::get(keyBias->shape, ElementKind::F32);
    if (attnBias)
      signature.attnMask = TensorSignature::get(attnSizes, ElementKind::F32);
    if (llvm::Error error = checkDilatedAttention(call->config, signature))
      return ruleFailure(failure, std::move(error));
    if (checkCudaTarget(failure, sizes[3]) != DILATTN_SUCCESS)
      return failure->status;

    std::shared_ptr<jit::Jit> jit = jitOf(call->context);
    CudaRunOptions options;
    options.jit = jit.get();
    options.stream = stream;
    auto info = cudaDilatedAttention(
        call->config, DeviceTensor{q, sizes, *element},
        DeviceTensor{k, sizes, *element}, DeviceTensor{v, sizes, *element},
        keyBias, attnBias, DeviceTensor{out, sizes, *element}, options);
    if (!info)
      return setFailure(failure, DILATTN_ERROR_RUNTIME, info.takeError());
    return DILATTN_SUCCESS;
  });
}

//===----------------------------------------------------------------------===//
// Graphs and programs
//===----------------------------------------------------------------------===//

namespace {
/// The GraphValue of `value`, or a failure naming `what`. DILATTN_NO_VALUE is
/// accepted only when `optional`.
dilattn_status resolveValue(std::optional<Failure> &failure,
                            const dilattn_graph *graph, dilattn_value value,
                            const char *what, bool optional,
                            std::optional<GraphValue> &result) {
  result.reset();
  if (value == DILATTN_NO_VALUE && optional)
    return DILATTN_SUCCESS;
  if (value < 0 || static_cast<size_t>(value) >= graph->values.size())
    return setFailure(
        failure, DILATTN_ERROR_INVALID_ARGUMENT,
        llvm::formatv("{0} ({1}) is not a value of this graph{2}", what, value,
                      optional ? " (DILATTN_NO_VALUE = -1 means none)" : ""));
  result = graph->values[value];
  return DILATTN_SUCCESS;
}

/// Hands out the new value of a graph operation, or records its refusal.
dilattn_status handOut(std::optional<Failure> &failure, dilattn_graph *graph,
                       llvm::Expected<GraphValue> value, dilattn_value *out) {
  if (!value)
    return setFailure(failure, DILATTN_ERROR_INVALID_CALL, value.takeError());
  if (graph->values.size() >= static_cast<size_t>(INT32_MAX))
    return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                      "the graph has more values than dilattn_value can "
                      "count");
  graph->values.push_back(*value);
  *out = static_cast<dilattn_value>(graph->values.size() - 1);
  return DILATTN_SUCCESS;
}

dilattn_context *contextOf(const dilattn_graph *graph) {
  return graph ? graph->context : nullptr;
}

dilattn_context *contextOf(const dilattn_program *program) {
  return program ? program->context : nullptr;
}

dilattn_status graphOptions(std::optional<Failure> &failure,
                            dilattn_target target,
                            GraphCompileOptions &options) {
  if (target == DILATTN_TARGET_CPU || target == DILATTN_TARGET_CUDA) {
    options.target =
        target == DILATTN_TARGET_CUDA ? GraphTarget::Cuda : GraphTarget::Cpu;
    return DILATTN_SUCCESS;
  }
  return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                    llvm::formatv("target must be DILATTN_TARGET_CPU (0) or "
                                  "DILATTN_TARGET_CUDA (1), got {0}",
                                  static_cast<int>(target)));
}

/// The status of a failed graph or module compile: no GPU and head dims
/// target cuda cannot run have their own codes.
dilattn_status compileStatus(llvm::StringRef message) {
  if (message.starts_with("target cuda is not available"))
    return DILATTN_ERROR_TARGET_UNAVAILABLE;
  if (message.contains("is not supported by target cuda"))
    return DILATTN_ERROR_UNSUPPORTED;
  return DILATTN_ERROR_COMPILE;
}

/// Resolves a list of (value, name, optional) operands in order.
struct Operand {
  dilattn_value value;
  const char *what;
  bool optional;
  std::optional<GraphValue> resolved;
};

dilattn_status resolveAll(std::optional<Failure> &failure,
                          const dilattn_graph *graph,
                          llvm::MutableArrayRef<Operand> operands) {
  for (Operand &operand : operands)
    if (dilattn_status status =
            resolveValue(failure, graph, operand.value, operand.what,
                         operand.optional, operand.resolved))
      return status;
  return DILATTN_SUCCESS;
}

/// Graph masks from two resolved optional operands.
GraphMasks masksOf(const Operand &keyPadding, const Operand &attn) {
  GraphMasks masks;
  masks.keyPaddingMask = keyPadding.resolved;
  masks.attnMask = attn.resolved;
  return masks;
}
} // namespace

extern "C" dilattn_status dilattn_graph_create(dilattn_context *ctx,
                                               const char *name,
                                               dilattn_graph **out) {
  return guarded(ctx, [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(ctx, "ctx");
    DILATTN_REQUIRE(out, "out");
    *out = nullptr;
    llvm::StringRef functionName = name ? name : "graph";
    bool valid = !functionName.empty() &&
                 (llvm::isAlpha(functionName[0]) || functionName[0] == '_') &&
                 llvm::all_of(functionName, [](char c) {
                   return llvm::isAlnum(c) || c == '_';
                 });
    if (!valid)
      return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                        llvm::formatv("name '{0}' must match "
                                      "[A-Za-z_][A-Za-z0-9_]*",
                                      functionName));
    auto graph = std::unique_ptr<dilattn_graph>(
        new dilattn_graph{ctx, Graph(functionName), {}});
    *out = graph.release();
    return DILATTN_SUCCESS;
  });
}

extern "C" void dilattn_graph_destroy(dilattn_graph *graph) { delete graph; }

extern "C" dilattn_status
dilattn_graph_add_input(dilattn_graph *graph, const char *name,
                        const int64_t *shape, size_t rank,
                        dilattn_element element, dilattn_value *out) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    DILATTN_REQUIRE(name, "name");
    DILATTN_REQUIRE(out, "out");
    *out = DILATTN_NO_VALUE;
    if (rank > 64)
      return setFailure(
          failure, DILATTN_ERROR_INVALID_ARGUMENT,
          llvm::formatv("rank must be at most 64, got {0}", rank));
    llvm::SmallVector<int64_t, 4> sizes;
    static const int64_t kScalar[1] = {0};
    if (dilattn_status status =
            checkShape(failure, "shape", rank == 0 && !shape ? kScalar : shape,
                       rank, sizes))
      return status;
    if (element != DILATTN_ELEMENT_F32 && element != DILATTN_ELEMENT_BOOL)
      return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                        llvm::formatv("element must be DILATTN_ELEMENT_F32 "
                                      "(0) or DILATTN_ELEMENT_BOOL (1), got "
                                      "{0}",
                                      static_cast<int>(element)));
    return handOut(failure, graph,
                   graph->graph.addInput(name, sizes,
                                         element == DILATTN_ELEMENT_F32
                                             ? ElementKind::F32
                                             : ElementKind::I1),
                   out);
  });
}

extern "C" dilattn_status dilattn_graph_add_dilated_attention(
    dilattn_graph *graph, const dilattn_call *call, dilattn_value query,
    dilattn_value key, dilattn_value value, dilattn_value key_padding_mask,
    dilattn_value attn_mask, dilattn_value *out) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    DILATTN_REQUIRE(call, "call");
    DILATTN_REQUIRE(out, "out");
    *out = DILATTN_NO_VALUE;
    Operand operands[] = {{query, "query", false, {}},
                          {key, "key", false, {}},
                          {value, "value", false, {}},
                          {key_padding_mask, "key_padding_mask", true, {}},
                          {attn_mask, "attn_mask", true, {}}};
    if (dilattn_status status = resolveAll(failure, graph, operands))
      return status;
    return handOut(failure, graph,
                   graph->graph.addDilatedAttention(
                       call->config, *operands[0].resolved,
                       *operands[1].resolved, *operands[2].resolved,
                       masksOf(operands[3], operands[4])),
                   out);
  });
}

extern "C" dilattn_status dilattn_graph_add_multihead_dilated_attention(
    dilattn_graph *graph, const dilattn_call *call, int64_t num_heads,
    dilattn_value query, dilattn_value key, dilattn_value value,
    const dilattn_value weights[4], const dilattn_value *biases,
    dilattn_value layer_norm_weight, dilattn_value layer_norm_bias,
    double layer_norm_eps, dilattn_value key_padding_mask,
    dilattn_value attn_mask, dilattn_value *out) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    DILATTN_REQUIRE(call, "call");
    DILATTN_REQUIRE(weights, "weights");
    DILATTN_REQUIRE(out, "out");
    *out = DILATTN_NO_VALUE;
    const dilattn_value none[4] = {DILATTN_NO_VALUE, DILATTN_NO_VALUE,
                                   DILATTN_NO_VALUE, DILATTN_NO_VALUE};
    const dilattn_value *bias = biases ? biases : none;
    Operand operands[] = {{query, "query", false, {}},
                          {key, "key", false, {}},
                          {value, "value", false, {}},
                          {weights[0], "weights[0]", false, {}},
                          {weights[1], "weights[1]", false, {}},
                          {weights[2], "weights[2]", false, {}},
                          {weights[3], "weights[3]", false, {}},
                          {bias[0], "biases[0]", true, {}},
                          {bias[1], "biases[1]", true, {}},
                          {bias[2], "biases[2]", true, {}},
                          {bias[3], "biases[3]", true, {}},
                          {layer_norm_weight, "layer_norm_weight", true, {}},
                          {layer_norm_bias, "layer_norm_bias", true, {}},
                          {key_padding_mask, "key_padding_mask", true, {}},
                          {attn_mask, "attn_mask", true, {}}};
    if (dilattn_status status = resolveAll(failure, graph, operands))
      return status;
    MultiheadParams params;
    params.queryWeight = *operands[3].resolved;
    params.keyWeight = *operands[4].resolved;
    params.valueWeight = *operands[5].resolved;
    params.outWeight = *operands[6].resolved;
    params.queryBias = operands[7].resolved;
    params.keyBias = operands[8].resolved;
    params.valueBias = operands[9].resolved;
    params.outBias = operands[10].resolved;
    params.layerNormWeight = operands[11].resolved;
    params.layerNormBias = operands[12].resolved;
    params.layerNormEps = layer_norm_eps;
    return handOut(failure, graph,
                   graph->graph.addMultiheadDilatedAttention(
                       call->config, num_heads, *operands[0].resolved,
                       *operands[1].resolved, *operands[2].resolved, params,
                       masksOf(operands[13], operands[14])),
                   out);
  });
}

extern "C" dilattn_status dilattn_graph_add_linear(dilattn_graph *graph,
                                                   dilattn_value input,
                                                   dilattn_value weight,
                                                   dilattn_value bias,
                                                   dilattn_value *out) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    DILATTN_REQUIRE(out, "out");
    *out = DILATTN_NO_VALUE;
    Operand operands[] = {{input, "input", false, {}},
                          {weight, "weight", false, {}},
                          {bias, "bias", true, {}}};
    if (dilattn_status status = resolveAll(failure, graph, operands))
      return status;
    return handOut(failure, graph,
                   graph->graph.addLinear(*operands[0].resolved,
                                          *operands[1].resolved,
                                          operands[2].resolved),
                   out);
  });
}

extern "C" dilattn_status
dilattn_graph_add_layer_norm(dilattn_graph *graph, dilattn_value input,
                             dilattn_value weight, dilattn_value bias,
                             double eps, dilattn_value *out) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    DILATTN_REQUIRE(out, "out");
    *out = DILATTN_NO_VALUE;
    Operand operands[] = {{input, "input", false, {}},
                          {weight, "weight", false, {}},
                          {bias, "bias", false, {}}};
    if (dilattn_status status = resolveAll(failure, graph, operands))
      return status;
    return handOut(failure, graph,
                   graph->graph.addLayerNorm(*operands[0].resolved,
                                             *operands[1].resolved,
                                             *operands[2].resolved, eps),
                   out);
  });
}

extern "C" dilattn_status dilattn_graph_add_add(dilattn_graph *graph,
                                                dilattn_value lhs,
                                                dilattn_value rhs,
                                                dilattn_value *out) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    DILATTN_REQUIRE(out, "out");
    *out = DILATTN_NO_VALUE;
    Operand operands[] = {{lhs, "lhs", false, {}}, {rhs, "rhs", false, {}}};
    if (dilattn_status status = resolveAll(failure, graph, operands))
      return status;
    return handOut(
        failure, graph,
        graph->graph.addAdd(*operands[0].resolved, *operands[1].resolved), out);
  });
}

/// The two elementwise activations share their checks.
template <typename Add>
static dilattn_status addUnary(dilattn_graph *graph, dilattn_value input,
                               dilattn_value *out, Add add) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    DILATTN_REQUIRE(out, "out");
    *out = DILATTN_NO_VALUE;
    Operand operands[] = {{input, "input", false, {}}};
    if (dilattn_status status = resolveAll(failure, graph, operands))
      return status;
    return handOut(failure, graph, add(*operands[0].resolved), out);
  });
}

extern "C" dilattn_status dilattn_graph_add_relu(dilattn_graph *graph,
                                                 dilattn_value input,
                                                 dilattn_value *out) {
  return addUnary(graph, input, out,
                  [&](GraphValue x) { return graph->graph.addRelu(x); });
}

extern "C" dilattn_status dilattn_graph_add_gelu(dilattn_graph *graph,
                                                 dilattn_value input,
                                                 dilattn_value *out) {
  return addUnary(graph, input, out,
                  [&](GraphValue x) { return graph->graph.addGelu(x); });
}

extern "C" dilattn_status dilattn_graph_mark_output(dilattn_graph *graph,
                                                    dilattn_value value) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    Operand operands[] = {{value, "value", false, {}}};
    if (dilattn_status status = resolveAll(failure, graph, operands))
      return status;
    if (llvm::Error error = graph->graph.markOutput(*operands[0].resolved))
      return setFailure(failure, DILATTN_ERROR_INVALID_CALL, std::move(error));
    return DILATTN_SUCCESS;
  });
}

extern "C" dilattn_status dilattn_graph_print_mlir(dilattn_graph *graph,
                                                   char *buffer,
                                                   size_t capacity,
                                                   size_t *size) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    DILATTN_REQUIRE(size, "size");
    if (capacity > 0)
      DILATTN_REQUIRE(buffer, "buffer");
    *size = 0;
    auto text = graph->graph.getMLIR();
    if (!text)
      return setFailure(failure, DILATTN_ERROR_INVALID_CALL, text.takeError());
    *size = text->size();
    if (capacity == 0)
      return text->empty() ? DILATTN_SUCCESS
                           : setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                                        llvm::formatv("buffer too small: the "
                                                      "MLIR needs {0} bytes "
                                                      "and a NUL",
                                                      text->size()));
    size_t copied = std::min(capacity - 1, text->size());
    std::memcpy(buffer, text->data(), copied);
    buffer[copied] = '\0';
    if (copied < text->size())
      return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                        llvm::formatv("buffer too small: the MLIR needs {0} "
                                      "bytes and a NUL, capacity is {1}",
                                      text->size(), capacity));
    return DILATTN_SUCCESS;
  });
}

extern "C" dilattn_status dilattn_graph_compile(dilattn_graph *graph,
                                                dilattn_target target,
                                                dilattn_program **out) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    DILATTN_REQUIRE(out, "out");
    *out = nullptr;
    GraphCompileOptions options;
    if (dilattn_status status = graphOptions(failure, target, options))
      return status;
    auto compiled = graph->graph.compile(options);
    if (!compiled) {
      std::string message = llvm::toString(compiled.takeError());
      // The status first: the message is moved into the failure.
      dilattn_status status =
          llvm::StringRef(message).starts_with("the graph has no")
              ? DILATTN_ERROR_INVALID_CALL
              : compileStatus(message);
      return setFailure(failure, status, std::move(message));
    }
    *out = new dilattn_program{graph->context, std::move(*compiled)};
    return DILATTN_SUCCESS;
  });
}

extern "C" dilattn_status
dilattn_program_create_from_mlir(dilattn_context *ctx, const char *source,
                                 size_t source_size, const char *entry,
                                 dilattn_target target, dilattn_program **out) {
  return guarded(ctx, [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(ctx, "ctx");
    DILATTN_REQUIRE(source, "source");
    DILATTN_REQUIRE(entry, "entry");
    DILATTN_REQUIRE(out, "out");
    *out = nullptr;
    GraphCompileOptions options;
    if (dilattn_status status = graphOptions(failure, target, options))
      return status;
    auto compiled = CompiledGraph::compileMLIR(
        llvm::StringRef(source, source_size), "<source>", entry, options);
    if (!compiled) {
      std::string message = llvm::toString(compiled.takeError());
      dilattn_status status = compileStatus(message);
      return setFailure(failure, status, std::move(message));
    }
    *out = new dilattn_program{ctx, std::move(*compiled)};
    return DILATTN_SUCCESS;
  });
}

extern "C" void dilattn_program_destroy(dilattn_program *program) {
  delete program;
}

extern "C" dilattn_status
dilattn_program_num_inputs(const dilattn_program *program, size_t *count) {
  return guarded(contextOf(program), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(program, "program");
    DILATTN_REQUIRE(count, "count");
    *count = program->compiled->getInputs().size();
    return DILATTN_SUCCESS;
  });
}

extern "C" dilattn_status
dilattn_program_num_outputs(const dilattn_program *program, size_t *count) {
  return guarded(contextOf(program), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(program, "program");
    DILATTN_REQUIRE(count, "count");
    *count = program->compiled->getOutputs().size();
    return DILATTN_SUCCESS;
  });
}

namespace {
dilattn_status copySignature(std::optional<Failure> &failure,
                             llvm::ArrayRef<TensorSignature> signatures,
                             const char *what, size_t index, int64_t *shape,
                             size_t capacity, size_t *rank,
                             dilattn_element *element) {
  DILATTN_REQUIRE(rank, "rank");
  if (capacity > 0)
    DILATTN_REQUIRE(shape, "shape");
  if (index >= signatures.size())
    return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                      llvm::formatv("{0} index {1} is out of range (the "
                                    "program has {2})",
                                    what, index, signatures.size()));
  const TensorSignature &signature = signatures[index];
  *rank = signature.shape.size();
  if (element)
    *element = signature.element == ElementKind::I1 ? DILATTN_ELEMENT_BOOL
                                                    : DILATTN_ELEMENT_F32;
  if (capacity < signature.shape.size())
    return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                      llvm::formatv("shape capacity {0} is below the rank {1}",
                                    capacity, signature.shape.size()));
  std::copy(signature.shape.begin(), signature.shape.end(), shape);
  return DILATTN_SUCCESS;
}
} // namespace

extern "C" dilattn_status
dilattn_program_input_shape(const dilattn_program *program, size_t index,
                            int64_t *shape, size_t capacity, size_t *rank,
                            dilattn_element *element) {
  return guarded(contextOf(program), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(program, "program");
    return copySignature(failure, program->compiled->getInputs(), "input",
                         index, shape, capacity, rank, element);
  });
}

extern "C" dilattn_status
dilattn_program_output_shape(const dilattn_program *program, size_t index,
                             int64_t *shape, size_t capacity, size_t *rank) {
  return guarded(contextOf(program), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(program, "program");
    return copySignature(failure, program->compiled->getOutputs(), "output",
                         index, shape, capacity, rank, nullptr);
  });
}

/// The counts of a run's buffers against the program's.
static dilattn_status checkProgramArity(std::optional<Failure> &failure,
                                        const CompiledGraph &compiled,
                                        size_t numInputs, size_t numOutputs) {
  if (numInputs != compiled.getInputs().size())
    return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                      llvm::formatv("the program takes {0} inputs, got {1}",
                                    compiled.getInputs().size(), numInputs));
  if (numOutputs != compiled.getOutputs().size())
    return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                      llvm::formatv("the program has {0} outputs, got {1}",
                                    compiled.getOutputs().size(), numOutputs));
  return DILATTN_SUCCESS;
}

/// The status of a failed program run, from its message.
static dilattn_status runStatus(llvm::StringRef message) {
  if (message.ends_with("must not be null"))
    return DILATTN_ERROR_NULL_ARGUMENT;
  if (message.starts_with("target cuda is not available"))
    return DILATTN_ERROR_TARGET_UNAVAILABLE;
  return DILATTN_ERROR_RUNTIME;
}

extern "C" dilattn_status dilattn_program_run_host(dilattn_program *program,
                                                   const void *const *inputs,
                                                   size_t num_inputs,
                                                   float *const *outputs,
                                                   size_t num_outputs) {
  return guarded(contextOf(program), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(program, "program");
    if (num_inputs > 0)
      DILATTN_REQUIRE(inputs, "inputs");
    if (num_outputs > 0)
      DILATTN_REQUIRE(outputs, "outputs");
    const CompiledGraph &compiled = *program->compiled;
    if (dilattn_status status =
            checkProgramArity(failure, compiled, num_inputs, num_outputs))
      return status;
    if (llvm::Error error =
            compiled.run(llvm::ArrayRef<const void *>(inputs, num_inputs),
                         llvm::ArrayRef<float *>(outputs, num_outputs))) {
      std::string message = llvm::toString(std::move(error));
      dilattn_status status = runStatus(message);
      return setFailure(failure, status, std::move(message));
    }
    return DILATTN_SUCCESS;
  });
}

extern "C" dilattn_status
dilattn_program_run_cuda(dilattn_program *program, const uint64_t *inputs,
                         size_t num_inputs, const uint64_t *outputs,
                         size_t num_outputs, void *stream) {
  return guarded(contextOf(program), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(program, "program");
    if (num_inputs > 0)
      DILATTN_REQUIRE(inputs, "inputs");
    if (num_outputs > 0)
      DILATTN_REQUIRE(outputs, "outputs");
    const CompiledGraph &compiled = *program->compiled;
    if (compiled.getTarget() != GraphTarget::Cuda)
      return setFailure(failure, DILATTN_ERROR_INVALID_CALL,
                        "dilattn_program_run_cuda needs a program compiled "
                        "for DILATTN_TARGET_CUDA (use dilattn_program_run_host "
                        "for target cpu)");
    if (dilattn_status status =
            checkProgramArity(failure, compiled, num_inputs, num_outputs))
      return status;
    if (llvm::Error error = compiled.runOnDevice(
            llvm::ArrayRef<uint64_t>(inputs, num_inputs),
            llvm::ArrayRef<uint64_t>(outputs, num_outputs), stream)) {
      std::string message = llvm::toString(std::move(error));
      dilattn_status status = runStatus(message);
      return setFailure(failure, status, std::move(message));
    }
    return DILATTN_SUCCESS;
  });
}

//===----------------------------------------------------------------------===//
// Sequence parallelism
//===----------------------------------------------------------------------===//

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
    // The rules of the whole call, for their status.
    if (seq_len >= 0) {
      DilatedAttentionSignature signature;
      signature.query = TensorSignature::get(
          {sizes[0], seq_len, sizes[2], sizes[3]}, ElementKind::F32);
      signature.key = signature.value = signature.query;
      signature.supportedElements = {ElementKind::F32};
      if (llvm::Error error = checkDilatedAttention(call->config, signature)) {
        std::string message = llvm::toString(std::move(error));
        comm.abort(message);
        return setFailure(failure, DILATTN_ERROR_INVALID_CALL, message);
      }
    }
    auto info = sequenceParallelDilatedAttention(
        call->config, seq_len, HostTensor{q, sizes}, HostTensor{k, sizes},
        HostTensor{v, sizes}, out, comm);
    if (!info)
      return setFailure(failure, DILATTN_ERROR_RUNTIME, info.takeError());
    if (bytes_sent)
      *bytes_sent = info->bytesSent;
    return DILATTN_SUCCESS;
  });
}
