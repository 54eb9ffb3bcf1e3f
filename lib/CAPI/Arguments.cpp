//===- Arguments.cpp - checks of C arguments shared by entry points -------===//

#include "Handles.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"

using namespace dilattn;
using namespace dilattn::capi;

std::optional<ElementKind> dilattn::capi::elementOf(dilattn_dtype dtype) {
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

dilattn_status dilattn::capi::checkDtype(std::optional<Failure> &failure,
                                         dilattn_dtype dtype,
                                         ElementKind &element) {
  std::optional<ElementKind> kind = elementOf(dtype);
  if (!kind)
    return setFailure(
        failure, DILATTN_ERROR_INVALID_ARGUMENT,
        llvm::formatv("dtype must be DILATTN_DTYPE_F32 (0), "
                      "DILATTN_DTYPE_F16 (1) or DILATTN_DTYPE_BF16 (2), got "
                      "{0}",
                      static_cast<int>(dtype)));
  element = *kind;
  return DILATTN_SUCCESS;
}

dilattn_status dilattn::capi::checkTarget(std::optional<Failure> &failure,
                                          dilattn_target target, bool &cuda) {
  int value = static_cast<int>(target);
  if (value != DILATTN_TARGET_CPU && value != DILATTN_TARGET_CUDA)
    return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                      llvm::formatv("target must be DILATTN_TARGET_CPU (0) "
                                    "or DILATTN_TARGET_CUDA (1), got {0}",
                                    value));
  cuda = value == DILATTN_TARGET_CUDA;
  return DILATTN_SUCCESS;
}

dilattn_status dilattn::capi::graphOptions(std::optional<Failure> &failure,
                                           dilattn_target target,
                                           GraphCompileOptions &options) {
  bool cuda = false;
  if (dilattn_status status = checkTarget(failure, target, cuda))
    return status;
  options.target = cuda ? GraphTarget::Cuda : GraphTarget::Cpu;
  return DILATTN_SUCCESS;
}

dilattn_status
dilattn::capi::checkShape(std::optional<Failure> &failure, const char *name,
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

int64_t dilattn::capi::product(llvm::ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t size : shape)
    count *= size;
  return count;
}

dilattn_status
dilattn::capi::checkAttnArguments(std::optional<Failure> &failure, bool hasBias,
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
