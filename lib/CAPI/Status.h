//===- Status.h - C statuses from dilattn errors ----------------*- C++ -*-===//
//
// What every C entry point shares: the dilattn_status of an error, read from
// its code (never its message), the last error of a thread and of a context,
// and the guard that turns failures and exceptions into a status.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_CAPI_STATUS_H
#define DILATTN_CAPI_STATUS_H

#include "dilattn-c/dilattn.h"

#include "dilattn/Support/Error.h"

#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>

namespace dilattn::jit {
class Jit;
} // namespace dilattn::jit

struct dilattn_context {
  std::mutex mutex;
  /// The JIT of a context with its own cache directory; null: the
  /// process-wide one.
  std::shared_ptr<dilattn::jit::Jit> jit;
  std::string lastError;
};

namespace dilattn::capi {

/// A failure on its way out: a status and its message.
struct Failure {
  dilattn_status status;
  std::string message;
};

/// The status of an error code: one status per code.
dilattn_status statusOf(ErrorCode code);

/// Records `message` as the last error of the calling thread and of
/// `context` (when not null); returns `status`.
dilattn_status record(dilattn_context *context, dilattn_status status,
                      std::string message);

/// Sets `failure` to `status` and `message`; returns `status`.
dilattn_status setFailure(std::optional<Failure> &failure,
                          dilattn_status status, std::string message);

/// Sets `failure` from `error` (a failure): the status of its code, its
/// message. Returns the status.
dilattn_status setFailure(std::optional<Failure> &failure, llvm::Error error);

/// Runs `body` (returning dilattn_status, or a Failure through its argument)
/// and turns every exception into a status.
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

} // namespace dilattn::capi

/// Fails with DILATTN_ERROR_NULL_ARGUMENT when `pointer` is null. For use in
/// a guarded body, whose argument is `failure`.
#define DILATTN_REQUIRE(pointer, name)                                         \
  do {                                                                         \
    if (!(pointer))                                                            \
      return ::dilattn::capi::setFailure(failure, DILATTN_ERROR_NULL_ARGUMENT, \
                                         name " must not be NULL");            \
  } while (false)

#endif // DILATTN_CAPI_STATUS_H
