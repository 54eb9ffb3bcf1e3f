//===- Status.cpp - C statuses from dilattn errors ------------------------===//

#include "Status.h"

using namespace dilattn;
using namespace dilattn::capi;

namespace {
thread_local std::string threadLastError;
/// The copy of a context's last error handed to this thread.
thread_local std::string threadContextErrorCopy;
} // namespace

dilattn_status dilattn::capi::statusOf(ErrorCode code) {
  switch (code) {
  case ErrorCode::NullArgument:
    return DILATTN_ERROR_NULL_ARGUMENT;
  case ErrorCode::InvalidArgument:
    return DILATTN_ERROR_INVALID_ARGUMENT;
  case ErrorCode::InvalidCall:
    return DILATTN_ERROR_INVALID_CALL;
  case ErrorCode::Unsupported:
    return DILATTN_ERROR_UNSUPPORTED;
  case ErrorCode::TargetUnavailable:
    return DILATTN_ERROR_TARGET_UNAVAILABLE;
  case ErrorCode::Compile:
    return DILATTN_ERROR_COMPILE;
  // The C API reads no files but the kernel cache's, which the JIT reads and
  // writes while running a call.
  case ErrorCode::Runtime:
  case ErrorCode::Io:
    return DILATTN_ERROR_RUNTIME;
  case ErrorCode::OutOfMemory:
    return DILATTN_ERROR_OUT_OF_MEMORY;
  case ErrorCode::Internal:
    return DILATTN_ERROR_INTERNAL;
  }
  return DILATTN_ERROR_INTERNAL;
}

dilattn_status dilattn::capi::record(dilattn_context *context,
                                     dilattn_status status,
                                     std::string message) {
  if (context) {
    std::lock_guard<std::mutex> lock(context->mutex);
    context->lastError = message;
  }
  threadLastError = std::move(message);
  return status;
}

dilattn_status dilattn::capi::setFailure(std::optional<Failure> &failure,
                                         dilattn_status status,
                                         std::string message) {
  failure = Failure{status, std::move(message)};
  return status;
}

dilattn_status dilattn::capi::setFailure(std::optional<Failure> &failure,
                                         llvm::Error error) {
  ErrorReport report = takeErrorReport(std::move(error));
  return setFailure(failure, statusOf(report.code), std::move(report.message));
}

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
