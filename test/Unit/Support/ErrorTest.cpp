//===- ErrorTest.cpp - dilattn's error type -------------------------------===//
//
// DilAttnError: its code, message and constraint number, the codes the rule
// checks give, and errors from LLVM that carry no code.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Support/Error.h"
#include "dilattn/Support/Problem.h"

#include "gtest/gtest.h"

using namespace dilattn;

namespace {

TEST(Error, CarriesCodeMessageAndRule) {
  ErrorReport report = takeErrorReport(
      makeRuleError("C10", "num_heads (2) must be >= the number of patterns"));
  EXPECT_EQ(report.code, ErrorCode::InvalidCall);
  EXPECT_EQ(report.rule, "C10");
  EXPECT_EQ(report.message, "num_heads (2) must be >= the number of patterns");

  report = takeErrorReport(makeError(ErrorCode::Compile, "ptxas failed"));
  EXPECT_EQ(report.code, ErrorCode::Compile);
  EXPECT_EQ(report.rule, "");
  EXPECT_EQ(report.message, "ptxas failed");
}

TEST(Error, PrintsItsMessageAlone) {
  EXPECT_EQ(llvm::toString(makeError(ErrorCode::Runtime, "cuLaunch failed")),
            "cuLaunch failed");
  // A message may hold format characters: it is not a format string.
  EXPECT_EQ(llvm::toString(makeError(ErrorCode::Io, "100% {0} full")),
            "100% {0} full");
}

TEST(Error, GetErrorCodeLeavesTheErrorAlone) {
  llvm::Error error =
      makeRuleError("C8", "unsupported", ErrorCode::Unsupported);
  EXPECT_EQ(getErrorCode(error), ErrorCode::Unsupported);
  EXPECT_TRUE(error.isA<DilAttnError>());
  ErrorReport report = takeErrorReport(std::move(error));
  EXPECT_EQ(report.rule, "C8");
  EXPECT_EQ(report.message, "unsupported");
}

TEST(Error, ForeignErrorsAreInternal) {
  llvm::Error foreign =
      llvm::createStringError(llvm::inconvertibleErrorCode(), "from LLVM");
  EXPECT_EQ(getErrorCode(foreign), ErrorCode::Internal);
  ErrorReport report = takeErrorReport(std::move(foreign));
  EXPECT_EQ(report.code, ErrorCode::Internal);
  EXPECT_EQ(report.rule, "");
  EXPECT_EQ(report.message, "from LLVM");
}

TEST(Error, WithCodeGivesForeignErrorsACode) {
  ErrorReport report = takeErrorReport(withCode(
      ErrorCode::Compile,
      llvm::createStringError(llvm::inconvertibleErrorCode(), "no symbol")));
  EXPECT_EQ(report.code, ErrorCode::Compile);
  EXPECT_EQ(report.message, "no symbol");
  // An error that has a code keeps it.
  report = takeErrorReport(
      withCode(ErrorCode::Compile, makeError(ErrorCode::OutOfMemory, "oom")));
  EXPECT_EQ(report.code, ErrorCode::OutOfMemory);
  EXPECT_FALSE(withCode(ErrorCode::Compile, llvm::Error::success()));
  llvm::Expected<int> value =
      withCode(ErrorCode::Compile, llvm::Expected<int>(3));
  ASSERT_TRUE(static_cast<bool>(value));
  EXPECT_EQ(*value, 3);
}

TEST(Error, JoinedErrorsReportTheFirstCode) {
  ErrorReport report = takeErrorReport(llvm::joinErrors(
      llvm::createStringError(llvm::inconvertibleErrorCode(), "first"),
      makeError(ErrorCode::Runtime, "second")));
  EXPECT_EQ(report.code, ErrorCode::Runtime);
  EXPECT_EQ(report.message, "first\nsecond");
}

TEST(Error, ConvertsToStdErrorCode) {
  std::error_code code =
      llvm::errorToErrorCode(makeError(ErrorCode::TargetUnavailable, "no GPU"));
  EXPECT_EQ(code.category().name(), std::string("dilattn"));
  EXPECT_EQ(code.value(), static_cast<int>(ErrorCode::TargetUnavailable));
  EXPECT_EQ(code.message(), "target unavailable");
}

TEST(Error, EveryCodeHasAName) {
  for (int value = static_cast<int>(ErrorCode::Internal);
       value <= static_cast<int>(ErrorCode::Io); ++value)
    EXPECT_NE(stringifyErrorCode(static_cast<ErrorCode>(value)), "unknown")
        << value;
  EXPECT_EQ(stringifyErrorCode(static_cast<ErrorCode>(0)), "unknown");
}

/// The code and constraint number of the first rule `config` and `signature`
/// break.
std::pair<ErrorCode, std::string>
ruleOf(const DilatedAttentionConfig &config,
       const DilatedAttentionSignature &signature) {
  llvm::Error error = checkDilatedAttention(config, signature);
  if (!error)
    return {ErrorCode::Internal, "none"};
  ErrorReport report = takeErrorReport(std::move(error));
  return {report.code, report.rule};
}

DilatedAttentionSignature signatureOf(llvm::ArrayRef<int64_t> shape,
                                      ElementKind element = ElementKind::F32) {
  DilatedAttentionSignature signature;
  signature.query = TensorSignature::get(shape, element);
  signature.key = signature.value = signature.query;
  return signature;
}

TEST(Error, RuleChecksNameTheirConstraint) {
  DilatedAttentionConfig config;
  using Rule = std::pair<ErrorCode, std::string>;
  EXPECT_EQ(ruleOf(config, signatureOf({2, 64, 4, 8})),
            Rule(ErrorCode::InvalidCall, "C1"));
  config.segmentLengths = {16, 32};
  config.dilationRates = {1};
  EXPECT_EQ(ruleOf(config, signatureOf({2, 64, 4, 8})),
            Rule(ErrorCode::InvalidCall, "C2"));
  config.dilationRates = {1, 0};
  EXPECT_EQ(ruleOf(config, signatureOf({2, 64, 4, 8})),
            Rule(ErrorCode::InvalidCall, "C4"));
  config.dilationRates = {1, 2};
  EXPECT_EQ(ruleOf(config, signatureOf({2, 64, 4})),
            Rule(ErrorCode::InvalidCall, "C6"));
  // An element type the target does not compute in is unsupported, not
  // invalid.
  EXPECT_EQ(ruleOf(config, signatureOf({2, 64, 4, 8}, ElementKind::F64)),
            Rule(ErrorCode::Unsupported, "C8"));
  EXPECT_EQ(ruleOf(config, signatureOf({2, 64, 1, 8})),
            Rule(ErrorCode::InvalidCall, "C10"));
  DilatedAttentionSignature masked = signatureOf({2, 64, 4, 8});
  masked.keyPaddingMask = TensorSignature::get({2, 63}, ElementKind::I1);
  EXPECT_EQ(ruleOf(config, masked), Rule(ErrorCode::InvalidCall, "C13"));
  masked.keyPaddingMask.reset();
  masked.attnMask = TensorSignature::get({64, 63}, ElementKind::F32);
  EXPECT_EQ(ruleOf(config, masked), Rule(ErrorCode::InvalidCall, "C15"));
}

TEST(Error, MultiheadRulesNameTheirConstraint) {
  DilatedAttentionConfig config;
  config.segmentLengths = {16};
  config.dilationRates = {1};
  MultiheadSignature signature;
  signature.query = TensorSignature::get({2, 64, 30}, ElementKind::F32);
  signature.key = signature.value = signature.query;
  for (TensorSignature *weight : {&signature.queryWeight, &signature.keyWeight,
                                  &signature.valueWeight, &signature.outWeight})
    *weight = TensorSignature::get({30, 30}, ElementKind::F32);
  llvm::Error error = checkMultiheadDilatedAttention(config, 4, signature);
  ASSERT_TRUE(static_cast<bool>(error));
  ErrorReport report = takeErrorReport(std::move(error));
  EXPECT_EQ(report.code, ErrorCode::InvalidCall);
  EXPECT_EQ(report.rule, "M3");
  EXPECT_EQ(report.message,
            "embed_dim (30) must be a positive multiple of num_heads (4)");
}

} // namespace
