//===- StatusTest.cpp - the C API's statuses from error codes -------------===//
//
// lib/CAPI/Status.cpp on its own: every ErrorCode gives one dilattn_status,
// read from the code (never the message), and errors without a code are
// internal errors.
//
//===----------------------------------------------------------------------===//

#include "Status.h"

#include "gtest/gtest.h"

#include <set>
#include <stdexcept>

using namespace dilattn;
using namespace dilattn::capi;

namespace {

TEST(CAPIStatus, EveryCodeMapsToItsStatus) {
  const std::pair<ErrorCode, dilattn_status> table[] = {
      {ErrorCode::Internal, DILATTN_ERROR_INTERNAL},
      {ErrorCode::NullArgument, DILATTN_ERROR_NULL_ARGUMENT},
      {ErrorCode::InvalidArgument, DILATTN_ERROR_INVALID_ARGUMENT},
      {ErrorCode::InvalidCall, DILATTN_ERROR_INVALID_CALL},
      {ErrorCode::Unsupported, DILATTN_ERROR_UNSUPPORTED},
      {ErrorCode::TargetUnavailable, DILATTN_ERROR_TARGET_UNAVAILABLE},
      {ErrorCode::Compile, DILATTN_ERROR_COMPILE},
      {ErrorCode::Runtime, DILATTN_ERROR_RUNTIME},
      {ErrorCode::OutOfMemory, DILATTN_ERROR_OUT_OF_MEMORY},
      {ErrorCode::Io, DILATTN_ERROR_RUNTIME},
  };
  std::set<int> statuses;
  for (auto [code, status] : table) {
    EXPECT_EQ(statusOf(code), status) << stringifyErrorCode(code).str();
    statuses.insert(status);
  }
  // Every error status of the header is some code's.
  for (int status = DILATTN_ERROR_NULL_ARGUMENT;
       status <= DILATTN_ERROR_INTERNAL; ++status)
    EXPECT_TRUE(statuses.count(status)) << status;
  EXPECT_EQ(statusOf(static_cast<ErrorCode>(0)), DILATTN_ERROR_INTERNAL);
}

TEST(CAPIStatus, FailureFromAnErrorUsesItsCodeAndMessage) {
  std::optional<Failure> failure;
  // The message says "not available", the code says unsupported: the code
  // wins.
  EXPECT_EQ(
      setFailure(failure, makeError(ErrorCode::Unsupported,
                                    "target cuda is not available: text only")),
      DILATTN_ERROR_UNSUPPORTED);
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->status, DILATTN_ERROR_UNSUPPORTED);
  EXPECT_EQ(failure->message, "target cuda is not available: text only");

  EXPECT_EQ(setFailure(failure, makeRuleError("C10", "num_heads (2) must be "
                                                     ">= the number of "
                                                     "patterns (3)")),
            DILATTN_ERROR_INVALID_CALL);
  EXPECT_EQ(failure->message,
            "num_heads (2) must be >= the number of patterns (3)");
}

TEST(CAPIStatus, ForeignErrorsAreInternal) {
  std::optional<Failure> failure;
  EXPECT_EQ(setFailure(failure,
                       llvm::createStringError(llvm::inconvertibleErrorCode(),
                                               "must not be null")),
            DILATTN_ERROR_INTERNAL);
  EXPECT_EQ(failure->message, "must not be null");
}

TEST(CAPIStatus, GuardTurnsExceptionsIntoStatuses) {
  dilattn_context context;
  EXPECT_EQ(guarded(&context,
                    [](std::optional<Failure> &) -> dilattn_status {
                      throw std::bad_alloc();
                    }),
            DILATTN_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(context.lastError, "out of memory");
  EXPECT_EQ(guarded(&context,
                    [](std::optional<Failure> &) -> dilattn_status {
                      throw std::runtime_error("boom");
                    }),
            DILATTN_ERROR_INTERNAL);
  EXPECT_STREQ(dilattn_last_error(), "internal error: boom");
  EXPECT_EQ(guarded(&context,
                    [](std::optional<Failure> &failure) {
                      return setFailure(failure,
                                        makeError(ErrorCode::Runtime, "late"));
                    }),
            DILATTN_ERROR_RUNTIME);
  EXPECT_STREQ(dilattn_context_last_error(&context), "late");
}

TEST(CAPIStatus, EveryStatusHasAString) {
  EXPECT_STREQ(dilattn_status_string(DILATTN_SUCCESS), "success");
  for (int status = DILATTN_ERROR_NULL_ARGUMENT;
       status <= DILATTN_ERROR_INTERNAL; ++status)
    EXPECT_STRNE(dilattn_status_string(static_cast<dilattn_status>(status)),
                 "unknown status")
        << status;
  EXPECT_STREQ(dilattn_status_string(static_cast<dilattn_status>(99)),
               "unknown status");
}

} // namespace
