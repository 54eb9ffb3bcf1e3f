//===- Error.h - dilattn's one error type -----------------------*- C++ -*-===//
//
// Every failure dilattn reports is an llvm::Error whose payload is a
// DilAttnError: a code saying what kind of failure it is, the message (the
// text tests and docs match), and, for a broken rule of docs/Contract.md
// section 4, the constraint number of docs/Constraints.md ("C10", "M3").
// The error is created where the problem is detected (the rule checks, the
// JIT, the runtime, the APIs); callers that need the kind (the C API's status
// codes, a tool's exit message) read the code, never the text. Errors from
// LLVM and MLIR that carry no code read as ErrorCode::Internal until a layer
// gives them one with withCode(). It depends on LLVMSupport only.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_SUPPORT_ERROR_H
#define DILATTN_SUPPORT_ERROR_H

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

#include <string>
#include <system_error>

namespace dilattn {

/// What kind of failure an error reports. The C API maps each code to one
/// dilattn_status (lib/CAPI/Status.cpp).
enum class ErrorCode {
  /// A bug in dilattn, or an error from a library that carries no code.
  Internal = 1,
  /// A pointer or handle that must not be null was null.
  NullArgument,
  /// A malformed argument: a negative size, an out-of-range index or count, a
  /// bad tuning, a buffer of the wrong shape.
  InvalidArgument,
  /// The call breaks a rule of the contract (docs/Contract.md section 4);
  /// the error names the constraint.
  InvalidCall,
  /// The target cannot run the call: a head dim or element type it does not
  /// support.
  Unsupported,
  /// The target is not available here: no CUDA driver, no device, a GPU too
  /// old.
  TargetUnavailable,
  /// The JIT could not compile or load a kernel or program.
  Compile,
  /// Running failed: a driver call, a launch, a peer of a sequence-parallel
  /// group.
  Runtime,
  /// Host or device memory ran out.
  OutOfMemory,
  /// A file could not be read, written or understood (.npy files, the kernel
  /// cache).
  Io,
};

/// The name of a code ("invalid call"); "unknown" for values outside the enum.
llvm::StringRef stringifyErrorCode(ErrorCode code);

/// The std::error_category of ErrorCode, so that DilAttnErrors convert to
/// std::error_code (llvm::errorToErrorCode) like any other error.
const std::error_category &errorCategory();

/// The payload of every error dilattn creates.
class DilAttnError : public llvm::ErrorInfo<DilAttnError> {
public:
  static char ID;

  DilAttnError(ErrorCode code, std::string message, std::string rule = {})
      : code(code), message(std::move(message)), rule(std::move(rule)) {}

  ErrorCode getCode() const { return code; }
  const std::string &getMessage() const { return message; }
  /// The constraint number (docs/Constraints.md), or "" when none applies.
  const std::string &getRule() const { return rule; }

  /// Prints the message alone, so llvm::toString() gives the same text as
  /// before errors had codes.
  void log(llvm::raw_ostream &os) const override;
  std::error_code convertToErrorCode() const override;

private:
  ErrorCode code;
  std::string message;
  std::string rule;
};

/// An error of `code` with `message`: dilattn's createStringError.
llvm::Error makeError(ErrorCode code, const llvm::Twine &message);

/// An error for a broken rule of the contract: constraint `rule` ("C7") of
/// docs/Constraints.md. The code is InvalidCall unless the rule is about what
/// the target supports.
llvm::Error makeRuleError(llvm::StringRef rule, const llvm::Twine &message,
                          ErrorCode code = ErrorCode::InvalidCall);

/// Everything an error says, taken out of it.
struct ErrorReport {
  ErrorCode code = ErrorCode::Internal;
  /// The constraint number, "" when none.
  std::string rule;
  /// llvm::toString() of the whole error (several joined errors give several
  /// lines).
  std::string message;
};

/// Consumes `error` (which must be a failure) into its report: the code and
/// rule of its first DilAttnError, ErrorCode::Internal when it has none.
ErrorReport takeErrorReport(llvm::Error error);

/// The code of `error` (ErrorCode::Internal for an error without one),
/// leaving `error` as it was. `error` must be a failure.
ErrorCode getErrorCode(llvm::Error &error);

/// Gives `code` to an error that carries none (one from LLVM or MLIR), keeping
/// its message; errors that have a code, and success, pass unchanged. The
/// layer that calls into such libraries knows what their failure means.
llvm::Error withCode(ErrorCode code, llvm::Error error);

template <typename T>
llvm::Expected<T> withCode(ErrorCode code, llvm::Expected<T> value) {
  if (value)
    return value;
  return withCode(code, value.takeError());
}

} // namespace dilattn

#endif // DILATTN_SUPPORT_ERROR_H
