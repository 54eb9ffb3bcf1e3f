//===- Error.cpp - dilattn's one error type -------------------------------===//

#include "dilattn/Support/Error.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

using namespace dilattn;

char DilAttnError::ID = 0;

llvm::StringRef dilattn::stringifyErrorCode(ErrorCode code) {
  switch (code) {
  case ErrorCode::Internal:
    return "internal error";
  case ErrorCode::NullArgument:
    return "null argument";
  case ErrorCode::InvalidArgument:
    return "invalid argument";
  case ErrorCode::InvalidCall:
    return "invalid call";
  case ErrorCode::Unsupported:
    return "unsupported by the target";
  case ErrorCode::TargetUnavailable:
    return "target unavailable";
  case ErrorCode::Compile:
    return "compilation failed";
  case ErrorCode::Runtime:
    return "runtime error";
  case ErrorCode::OutOfMemory:
    return "out of memory";
  case ErrorCode::Io:
    return "file error";
  }
  return "unknown";
}

namespace {
class Category : public std::error_category {
public:
  const char *name() const noexcept override { return "dilattn"; }
  std::string message(int value) const override {
    return stringifyErrorCode(static_cast<ErrorCode>(value)).str();
  }
};
} // namespace

const std::error_category &dilattn::errorCategory() {
  static const Category category;
  return category;
}

void DilAttnError::log(llvm::raw_ostream &os) const { os << message; }

std::error_code DilAttnError::convertToErrorCode() const {
  return std::error_code(static_cast<int>(code), errorCategory());
}

llvm::Error dilattn::makeError(ErrorCode code, const llvm::Twine &message) {
  return llvm::make_error<DilAttnError>(code, message.str());
}

llvm::Error dilattn::makeRuleError(llvm::StringRef rule,
                                   const llvm::Twine &message, ErrorCode code) {
  return llvm::make_error<DilAttnError>(code, message.str(), rule.str());
}

ErrorReport dilattn::takeErrorReport(llvm::Error error) {
  ErrorReport report;
  bool found = false;
  // Each payload is handled in turn; the message is rebuilt from all of them
  // as llvm::toString would.
  llvm::SmallVector<std::string, 1> messages;
  llvm::handleAllErrors(
      std::move(error),
      [&](const DilAttnError &payload) {
        if (!found) {
          report.code = payload.getCode();
          report.rule = payload.getRule();
          found = true;
        }
        messages.push_back(payload.getMessage());
      },
      [&](const llvm::ErrorInfoBase &payload) {
        messages.push_back(payload.message());
      });
  report.message = llvm::join(messages, "\n");
  return report;
}

ErrorCode dilattn::getErrorCode(llvm::Error &error) {
  std::optional<ErrorCode> code;
  error = llvm::handleErrors(
      std::move(error),
      [&](std::unique_ptr<DilAttnError> payload) -> llvm::Error {
        if (!code)
          code = payload->getCode();
        return llvm::Error(std::move(payload));
      });
  return code.value_or(ErrorCode::Internal);
}

llvm::Error dilattn::withCode(ErrorCode code, llvm::Error error) {
  return llvm::handleErrors(
      std::move(error),
      [](std::unique_ptr<DilAttnError> payload) -> llvm::Error {
        return llvm::Error(std::move(payload));
      },
      [&](std::unique_ptr<llvm::ErrorInfoBase> payload) -> llvm::Error {
        return makeError(code, payload->message());
      });
}
