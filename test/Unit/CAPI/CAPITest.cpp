//===- CAPITest.cpp - the C API: argument checks, runs, errors ------------===//
//
// Every argument check of include/dilattn-c/dilattn.h (one status and one
// message each), host runs against the float64 reference, the last error per
// context and per thread, and target cuda on a machine without a GPU.
//
//===----------------------------------------------------------------------===//

#include "dilattn-c/dilattn.h"

#include "dilattn/Reference/Reference.h"

#include "llvm/Support/FileSystem.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

using namespace dilattn;

namespace {

class CAPI : public testing::Test {
protected:
  void SetUp() override {
    ASSERT_EQ(dilattn_context_create(&ctx), DILATTN_SUCCESS);
    ASSERT_NE(ctx, nullptr);
    // A cache directory of the test's own.
    llvm::SmallString<128> path;
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("dilattn-capi", path));
    cacheDir = std::string(path);
    ASSERT_EQ(dilattn_context_set_cache_dir(ctx, cacheDir.c_str()),
              DILATTN_SUCCESS);
    ASSERT_EQ(dilattn_call_create(ctx, &call), DILATTN_SUCCESS);
    ASSERT_NE(call, nullptr);
    ASSERT_EQ(dilattn_call_set_patterns(call, lengths, rates, 2),
              DILATTN_SUCCESS);
  }
  void TearDown() override {
    dilattn_call_destroy(call);
    dilattn_context_destroy(ctx);
    if (!cacheDir.empty())
      (void)llvm::sys::fs::remove_directories(cacheDir);
  }

  /// Expects `status` to be `expected` with a last error (of the context and
  /// of the thread) containing `message`.
  void expectError(dilattn_status status, dilattn_status expected,
                   const std::string &message, bool onContext = true) {
    EXPECT_EQ(status, expected) << dilattn_last_error();
    EXPECT_NE(std::string(dilattn_last_error()).find(message),
              std::string::npos)
        << "thread's last error: " << dilattn_last_error();
    if (onContext) {
      EXPECT_EQ(std::string(dilattn_context_last_error(ctx)),
                std::string(dilattn_last_error()));
    }
  }

  dilattn_context *ctx = nullptr;
  dilattn_call *call = nullptr;
  std::string cacheDir;
  const int64_t lengths[2] = {16, 32};
  const int64_t rates[2] = {1, 2};
  const int64_t shape[4] = {2, 64, 4, 16};
  std::vector<float> data = std::vector<float>(2 * 64 * 4 * 16, 0.5f);
  std::vector<float> out = std::vector<float>(2 * 64 * 4 * 16);
};

dilattn_status runHost(dilattn_call *call, const float *q, const int64_t *shape,
                       float *out) {
  return dilattn_run_host(call, q, q, q, shape, nullptr, nullptr, nullptr, 0,
                          out);
}

bool cudaAvailable(dilattn_call *call) {
  return dilattn_compile(call, DILATTN_TARGET_CUDA, DILATTN_DTYPE_BF16, 64, 0,
                         0) != DILATTN_ERROR_TARGET_UNAVAILABLE;
}

} // namespace

TEST(CAPIBasics, Version) {
  EXPECT_EQ(dilattn_api_version(), DILATTN_C_API_VERSION);
}

TEST(CAPIBasics, StatusStrings) {
  EXPECT_STREQ(dilattn_status_string(DILATTN_SUCCESS), "success");
  for (int status = 1; status <= DILATTN_ERROR_INTERNAL; ++status)
    EXPECT_STRNE(dilattn_status_string(static_cast<dilattn_status>(status)),
                 "unknown status")
        << status;
  EXPECT_STREQ(dilattn_status_string(static_cast<dilattn_status>(42)),
               "unknown status");
  EXPECT_STREQ(dilattn_status_string(static_cast<dilattn_status>(-1)),
               "unknown status");
}

TEST(CAPIBasics, NullHandles) {
  EXPECT_EQ(dilattn_context_create(nullptr), DILATTN_ERROR_NULL_ARGUMENT);
  EXPECT_STREQ(dilattn_last_error(), "out must not be NULL");
  EXPECT_STREQ(dilattn_context_last_error(nullptr), "out must not be NULL");
  dilattn_context_destroy(nullptr);
  dilattn_call_destroy(nullptr);
  EXPECT_EQ(dilattn_context_set_cache_dir(nullptr, "/tmp"),
            DILATTN_ERROR_NULL_ARGUMENT);
  EXPECT_STREQ(dilattn_last_error(), "ctx must not be NULL");
  dilattn_call *call = reinterpret_cast<dilattn_call *>(1);
  EXPECT_EQ(dilattn_call_create(nullptr, &call), DILATTN_ERROR_NULL_ARGUMENT);
  EXPECT_STREQ(dilattn_last_error(), "ctx must not be NULL");

  const int64_t one[1] = {1};
  const int64_t shape[4] = {1, 8, 1, 8};
  float buffer[64] = {};
  struct Case {
    const char *name;
    dilattn_status status;
  } cases[] = {
      {"set_patterns", dilattn_call_set_patterns(nullptr, one, one, 1)},
      {"set_mode", dilattn_call_set_mode(nullptr, DILATTN_MODE_LONGNET)},
      {"set_offset_rule",
       dilattn_call_set_offset_rule(nullptr, DILATTN_OFFSET_RULE_BLOCKED)},
      {"set_causal", dilattn_call_set_causal(nullptr, 1)},
      {"set_scale", dilattn_call_set_scale(nullptr, 0.5)},
      {"clear_scale", dilattn_call_clear_scale(nullptr)},
      {"compile", dilattn_compile(nullptr, DILATTN_TARGET_CPU,
                                  DILATTN_DTYPE_F32, 8, 0, 0)},
      {"run_host", dilattn_run_host(nullptr, buffer, buffer, buffer, shape,
                                    nullptr, nullptr, nullptr, 0, buffer)},
      {"run_cuda", dilattn_run_cuda(nullptr, DILATTN_DTYPE_F32, 1, 1, 1, shape,
                                    0, 0, nullptr, 0, 1, nullptr)},
  };
  for (const Case &c : cases)
    EXPECT_EQ(c.status, DILATTN_ERROR_NULL_ARGUMENT) << c.name;
  EXPECT_STREQ(dilattn_last_error(), "call must not be NULL");
}

TEST_F(CAPI, CreateNeedsOut) {
  expectError(dilattn_call_create(ctx, nullptr), DILATTN_ERROR_NULL_ARGUMENT,
              "out must not be NULL");
}

TEST_F(CAPI, LastErrorStartsEmpty) {
  dilattn_context *fresh = nullptr;
  ASSERT_EQ(dilattn_context_create(&fresh), DILATTN_SUCCESS);
  EXPECT_STREQ(dilattn_context_last_error(fresh), "");
  dilattn_context_destroy(fresh);
}

TEST_F(CAPI, SetPatterns) {
  expectError(dilattn_call_set_patterns(call, nullptr, rates, 2),
              DILATTN_ERROR_NULL_ARGUMENT, "segment_lengths must not be NULL");
  expectError(dilattn_call_set_patterns(call, lengths, nullptr, 2),
              DILATTN_ERROR_NULL_ARGUMENT, "dilation_rates must not be NULL");
  expectError(dilattn_call_set_patterns(call, nullptr, nullptr, 0),
              DILATTN_ERROR_INVALID_CALL,
              "segment_lengths and dilation_rates must not be empty");
  const int64_t zero[2] = {16, 0}, negative[2] = {-4, 32};
  expectError(dilattn_call_set_patterns(call, lengths, zero, 2),
              DILATTN_ERROR_INVALID_CALL,
              "dilation_rates[1] must be positive, got 0");
  expectError(dilattn_call_set_patterns(call, negative, rates, 2),
              DILATTN_ERROR_INVALID_CALL,
              "segment_lengths[0] must be positive, got -4");
  expectError(dilattn_call_set_patterns(call, lengths, rates, size_t(1) << 40),
              DILATTN_ERROR_INVALID_ARGUMENT,
              "num_patterns must be at most 65536, got 1099511627776");
  // A refused setter leaves the call as it was: the run still works.
  EXPECT_EQ(runHost(call, data.data(), shape, out.data()), DILATTN_SUCCESS)
      << dilattn_last_error();
}

TEST_F(CAPI, SetEnumsAndScale) {
  expectError(dilattn_call_set_mode(call, static_cast<dilattn_mode>(7)),
              DILATTN_ERROR_INVALID_ARGUMENT,
              "mode must be DILATTN_MODE_GROUPED (0) or DILATTN_MODE_LONGNET "
              "(1), got 7");
  expectError(
      dilattn_call_set_offset_rule(call, static_cast<dilattn_offset_rule>(-1)),
      DILATTN_ERROR_INVALID_ARGUMENT,
      "offset_rule must be DILATTN_OFFSET_RULE_CYCLIC (0) or "
      "DILATTN_OFFSET_RULE_BLOCKED (1), got -1");
  expectError(dilattn_call_set_scale(call, HUGE_VAL),
              DILATTN_ERROR_INVALID_CALL, "scale must be finite, got inf");
  expectError(
      dilattn_call_set_scale(call, std::numeric_limits<double>::quiet_NaN()),
      DILATTN_ERROR_INVALID_CALL, "scale must be finite, got nan");
  EXPECT_EQ(dilattn_call_set_mode(call, DILATTN_MODE_LONGNET), DILATTN_SUCCESS);
  EXPECT_EQ(dilattn_call_set_offset_rule(call, DILATTN_OFFSET_RULE_BLOCKED),
            DILATTN_SUCCESS);
  EXPECT_EQ(dilattn_call_set_causal(call, 5), DILATTN_SUCCESS);
  EXPECT_EQ(dilattn_call_set_scale(call, 0.25), DILATTN_SUCCESS);
  EXPECT_EQ(dilattn_call_clear_scale(call), DILATTN_SUCCESS);
}

TEST_F(CAPI, Compile) {
  expectError(dilattn_compile(call, static_cast<dilattn_target>(2),
                              DILATTN_DTYPE_F32, 16, 0, 0),
              DILATTN_ERROR_INVALID_ARGUMENT,
              "target must be DILATTN_TARGET_CPU (0) or DILATTN_TARGET_CUDA "
              "(1), got 2");
  expectError(dilattn_compile(call, DILATTN_TARGET_CPU,
                              static_cast<dilattn_dtype>(3), 16, 0, 0),
              DILATTN_ERROR_INVALID_ARGUMENT,
              "dtype must be DILATTN_DTYPE_F32 (0), DILATTN_DTYPE_F16 (1) or "
              "DILATTN_DTYPE_BF16 (2), got 3");
  expectError(
      dilattn_compile(call, DILATTN_TARGET_CPU, DILATTN_DTYPE_F32, 0, 0, 0),
      DILATTN_ERROR_INVALID_ARGUMENT, "head_dim must be positive, got 0");
  expectError(
      dilattn_compile(call, DILATTN_TARGET_CPU, DILATTN_DTYPE_F32, -8, 0, 0),
      DILATTN_ERROR_INVALID_ARGUMENT, "head_dim must be positive, got -8");
  // Head dims whose scratch sizes overflow 64 bits are refused by the CPU
  // code generator's budget, not computed with (fuzzer finding 5).
  for (int64_t huge : {int64_t(1) << 40, std::numeric_limits<int64_t>::max()})
    expectError(dilattn_compile(call, DILATTN_TARGET_CPU, DILATTN_DTYPE_F32,
                                huge, 0, 0),
                DILATTN_ERROR_COMPILE, "stack budget");
  expectError(
      dilattn_compile(call, DILATTN_TARGET_CPU, DILATTN_DTYPE_BF16, 16, 0, 0),
      DILATTN_ERROR_UNSUPPORTED,
      "query element type must be one of f32, got bf16");
  // A call without patterns breaks the first rule.
  dilattn_call *empty = nullptr;
  ASSERT_EQ(dilattn_call_create(ctx, &empty), DILATTN_SUCCESS);
  expectError(
      dilattn_compile(empty, DILATTN_TARGET_CPU, DILATTN_DTYPE_F32, 16, 0, 0),
      DILATTN_ERROR_INVALID_CALL,
      "segment_lengths and dilation_rates must not be empty");
  // The rules come before the target's limits on every target.
  expectError(
      dilattn_compile(empty, DILATTN_TARGET_CUDA, DILATTN_DTYPE_F16, 32, 0, 0),
      DILATTN_ERROR_INVALID_CALL,
      "segment_lengths and dilation_rates must not be empty");
  dilattn_call_destroy(empty);

  EXPECT_EQ(
      dilattn_compile(call, DILATTN_TARGET_CPU, DILATTN_DTYPE_F32, 16, 1, 1),
      DILATTN_SUCCESS)
      << dilattn_last_error();
  // The kernel went to this context's disk cache.
  std::error_code error;
  llvm::sys::fs::directory_iterator it(cacheDir, error);
  EXPECT_FALSE(error);
  EXPECT_NE(it, llvm::sys::fs::directory_iterator());
}

TEST_F(CAPI, CompileCuda) {
  expectError(
      dilattn_compile(call, DILATTN_TARGET_CUDA, DILATTN_DTYPE_F16, 32, 0, 0),
      DILATTN_ERROR_UNSUPPORTED,
      "head dim 32 is not supported by target cuda (supported: 64, 128)");
  if (cudaAvailable(call))
    GTEST_SKIP() << "a GPU is present";
  dilattn_status status =
      dilattn_compile(call, DILATTN_TARGET_CUDA, DILATTN_DTYPE_BF16, 64, 1, 0);
  expectError(status, DILATTN_ERROR_TARGET_UNAVAILABLE,
              "target cuda is not available");
  // One line.
  EXPECT_EQ(std::string(dilattn_last_error()).find('\n'), std::string::npos);
}

TEST_F(CAPI, RunHostArguments) {
  float *q = data.data(), *o = out.data();
  expectError(
      dilattn_run_host(call, q, q, q, nullptr, nullptr, nullptr, nullptr, 0, o),
      DILATTN_ERROR_NULL_ARGUMENT, "shape must not be NULL");
  const int64_t negative[4] = {2, -64, 4, 16};
  expectError(runHost(call, q, negative, o), DILATTN_ERROR_INVALID_ARGUMENT,
              "shape[1] must not be negative, got -64");
  const int64_t huge[4] = {int64_t(1) << 40, int64_t(1) << 40, 4, 16};
  expectError(runHost(call, q, huge, o), DILATTN_ERROR_INVALID_ARGUMENT,
              "shape (1099511627776, 1099511627776, 4, 16) has more elements "
              "than int64 can count");
  expectError(dilattn_run_host(call, nullptr, q, q, shape, nullptr, nullptr,
                               nullptr, 0, o),
              DILATTN_ERROR_NULL_ARGUMENT, "q must not be NULL");
  expectError(dilattn_run_host(call, q, nullptr, q, shape, nullptr, nullptr,
                               nullptr, 0, o),
              DILATTN_ERROR_NULL_ARGUMENT, "k must not be NULL");
  expectError(dilattn_run_host(call, q, q, nullptr, shape, nullptr, nullptr,
                               nullptr, 0, o),
              DILATTN_ERROR_NULL_ARGUMENT, "v must not be NULL");
  expectError(dilattn_run_host(call, q, q, q, shape, nullptr, nullptr, nullptr,
                               0, nullptr),
              DILATTN_ERROR_NULL_ARGUMENT, "out must not be NULL");

  std::vector<float> bias(64 * 64, 0.0f);
  const int64_t square[4] = {64, 64, 64, 64};
  expectError(dilattn_run_host(call, q, q, q, shape, nullptr, bias.data(),
                               nullptr, 2, o),
              DILATTN_ERROR_NULL_ARGUMENT, "attn_shape must not be NULL");
  expectError(dilattn_run_host(call, q, q, q, shape, nullptr, bias.data(),
                               square, 1, o),
              DILATTN_ERROR_INVALID_ARGUMENT,
              "attn_rank must be 2, 3 or 4, got 1");
  expectError(dilattn_run_host(call, q, q, q, shape, nullptr, bias.data(),
                               square, 5, o),
              DILATTN_ERROR_INVALID_ARGUMENT,
              "attn_rank must be 2, 3 or 4, got 5");
  expectError(
      dilattn_run_host(call, q, q, q, shape, nullptr, nullptr, square, 2, o),
      DILATTN_ERROR_INVALID_ARGUMENT,
      "attn_shape and attn_rank must be NULL and 0 when there is no "
      "attn_bias, got a shape and 2");
  const int64_t negativeAttn[2] = {64, -1};
  expectError(dilattn_run_host(call, q, q, q, shape, nullptr, bias.data(),
                               negativeAttn, 2, o),
              DILATTN_ERROR_INVALID_ARGUMENT,
              "attn_shape[1] must not be negative, got -1");
  const int64_t hugeAttn[3] = {int64_t(1) << 32, int64_t(1) << 32, 64};
  expectError(dilattn_run_host(call, q, q, q, shape, nullptr, bias.data(),
                               hugeAttn, 3, o),
              DILATTN_ERROR_INVALID_ARGUMENT,
              "attn_shape (4294967296, 4294967296, 64) has more elements than "
              "int64 can count");
  // The rules of docs/Contract.md section 4, with their messages.
  const int64_t wrongAttn[2] = {64, 63};
  expectError(dilattn_run_host(call, q, q, q, shape, nullptr, bias.data(),
                               wrongAttn, 2, o),
              DILATTN_ERROR_INVALID_CALL,
              "attn_mask must have shape (N, N) = (64, 64), got (64, 63)");
  const int64_t oneHead[4] = {2, 64, 1, 16};
  expectError(runHost(call, q, oneHead, o), DILATTN_ERROR_INVALID_CALL,
              "num_heads (1) must be >= the number of patterns (2) in grouped "
              "mode");
  // Empty tensors need no buffers.
  const int64_t empty[4] = {0, 64, 4, 16};
  EXPECT_EQ(dilattn_run_host(call, nullptr, nullptr, nullptr, empty, nullptr,
                             nullptr, nullptr, 0, nullptr),
            DILATTN_SUCCESS)
      << dilattn_last_error();
}

TEST_F(CAPI, RunCudaArguments) {
  expectError(dilattn_run_cuda(call, static_cast<dilattn_dtype>(9), 1, 1, 1,
                               shape, 0, 0, nullptr, 0, 1, nullptr),
              DILATTN_ERROR_INVALID_ARGUMENT, "got 9");
  expectError(dilattn_run_cuda(call, DILATTN_DTYPE_BF16, 1, 1, 1, nullptr, 0, 0,
                               nullptr, 0, 1, nullptr),
              DILATTN_ERROR_NULL_ARGUMENT, "shape must not be NULL");
  const int64_t negative[4] = {2, 64, 4, -64};
  expectError(dilattn_run_cuda(call, DILATTN_DTYPE_BF16, 1, 1, 1, negative, 0,
                               0, nullptr, 0, 1, nullptr),
              DILATTN_ERROR_INVALID_ARGUMENT,
              "shape[3] must not be negative, got -64");
  const int64_t d64[4] = {2, 64, 4, 64};
  expectError(dilattn_run_cuda(call, DILATTN_DTYPE_BF16, 1, 0, 1, d64, 0, 0,
                               nullptr, 0, 1, nullptr),
              DILATTN_ERROR_NULL_ARGUMENT, "k must not be NULL");
  expectError(dilattn_run_cuda(call, DILATTN_DTYPE_BF16, 1, 1, 1, d64, 0, 0,
                               nullptr, 0, 0, nullptr),
              DILATTN_ERROR_NULL_ARGUMENT, "out must not be NULL");
  const int64_t square[2] = {64, 64};
  expectError(dilattn_run_cuda(call, DILATTN_DTYPE_BF16, 1, 1, 1, d64, 0, 8,
                               square, 0, 1, nullptr),
              DILATTN_ERROR_INVALID_ARGUMENT,
              "attn_rank must be 2, 3 or 4, got 0");
  const int64_t wrong[2] = {64, 65};
  expectError(dilattn_run_cuda(call, DILATTN_DTYPE_BF16, 1, 1, 1, d64, 0, 8,
                               wrong, 2, 1, nullptr),
              DILATTN_ERROR_INVALID_CALL,
              "attn_mask must have shape (N, N) = (64, 64), got (64, 65)");
  expectError(dilattn_run_cuda(call, DILATTN_DTYPE_BF16, 1, 1, 1, shape, 0, 0,
                               nullptr, 0, 1, nullptr),
              DILATTN_ERROR_UNSUPPORTED,
              "head dim 16 is not supported by target cuda (supported: 64, "
              "128)");
  if (cudaAvailable(call))
    GTEST_SKIP() << "a GPU is present";
  expectError(dilattn_run_cuda(call, DILATTN_DTYPE_BF16, 1, 1, 1, d64, 4, 0,
                               nullptr, 0, 1, nullptr),
              DILATTN_ERROR_TARGET_UNAVAILABLE, "target cuda is not available");
}

namespace {
struct HostCase {
  const char *name;
  dilattn_mode mode;
  dilattn_offset_rule rule;
  bool causal;
  bool keyPadding;
  int attnRank; // 0: none
  double scale; // 0: default
};
} // namespace

class CAPIHost : public CAPI, public testing::WithParamInterface<HostCase> {};

TEST_P(CAPIHost, MatchesReference) {
  const HostCase &c = GetParam();
  const int64_t b = 2, n = 80, h = 5, d = 24;
  const int64_t caseLengths[3] = {16, 32, 80}, caseRates[3] = {1, 2, 4};
  std::vector<int64_t> dims = {b, n, h, d};
  ASSERT_EQ(dilattn_call_set_patterns(call, caseLengths, caseRates, 3),
            DILATTN_SUCCESS);
  ASSERT_EQ(dilattn_call_set_mode(call, c.mode), DILATTN_SUCCESS);
  ASSERT_EQ(dilattn_call_set_offset_rule(call, c.rule), DILATTN_SUCCESS);
  ASSERT_EQ(dilattn_call_set_causal(call, c.causal), DILATTN_SUCCESS);
  if (c.scale != 0) {
    ASSERT_EQ(dilattn_call_set_scale(call, c.scale), DILATTN_SUCCESS);
  }

  DilatedAttentionConfig config;
  config.segmentLengths = {16, 32, 80};
  config.dilationRates = {1, 2, 4};
  config.mode = c.mode == DILATTN_MODE_LONGNET ? AttentionMode::LongNet
                                               : AttentionMode::Grouped;
  config.offsetRule = c.rule == DILATTN_OFFSET_RULE_BLOCKED
                          ? OffsetRule::Blocked
                          : OffsetRule::Cyclic;
  config.causal = c.causal;
  if (c.scale != 0)
    config.scale = c.scale;

  uint64_t seed = std::hash<std::string>()(c.name);
  auto roundTrip = [](reference::Tensor &tensor) {
    for (double &x : tensor.data)
      x = static_cast<float>(x);
    return std::vector<float>(tensor.data.begin(), tensor.data.end());
  };
  reference::Tensor query = reference::randomTensor(dims, seed);
  reference::Tensor key = reference::randomTensor(dims, seed + 1);
  reference::Tensor value = reference::randomTensor(dims, seed + 2);
  std::vector<float> q = roundTrip(query), k = roundTrip(key),
                     v = roundTrip(value);

  reference::Masks masks;
  std::vector<uint8_t> padding;
  if (c.keyPadding) {
    reference::BoolTensor mask =
        reference::randomBoolTensor({b, n}, seed + 3, 0.3);
    padding = mask.data;
    masks.keyPaddingMask = mask;
  }
  std::vector<int64_t> attnShape = {n, n};
  if (c.attnRank == 3)
    attnShape = {b, n, n};
  if (c.attnRank == 4)
    attnShape = {b, h, n, n};
  std::vector<float> bias;
  if (c.attnRank) {
    reference::Tensor tensor =
        reference::randomTensor(attnShape, seed + 4, -2, 2);
    for (size_t i = 0; i < tensor.data.size(); i += 5)
      tensor.data[i] = -HUGE_VAL;
    bias = roundTrip(tensor);
    masks.attnMask = tensor;
  }

  std::vector<float> result(q.size(), NAN);
  ASSERT_EQ(dilattn_compile(call, DILATTN_TARGET_CPU, DILATTN_DTYPE_F32, d,
                            c.keyPadding, c.attnRank != 0),
            DILATTN_SUCCESS)
      << dilattn_last_error();
  ASSERT_EQ(dilattn_run_host(call, q.data(), k.data(), v.data(), dims.data(),
                             c.keyPadding ? padding.data() : nullptr,
                             c.attnRank ? bias.data() : nullptr,
                             c.attnRank ? attnShape.data() : nullptr,
                             c.attnRank ? attnShape.size() : 0, result.data()),
            DILATTN_SUCCESS)
      << dilattn_last_error();

  auto expected = reference::dilatedAttention(config, query, key, value, masks);
  ASSERT_TRUE(static_cast<bool>(expected))
      << llvm::toString(expected.takeError());
  reference::ErrorStats stats =
      reference::compare(llvm::ArrayRef<float>(result), expected->data);
  EXPECT_LE(stats.relative, 1e-5) << "max_abs_err=" << stats.maxAbs;
}

// clang-format off
const HostCase kHostCases[] = {
    {"grouped", DILATTN_MODE_GROUPED, DILATTN_OFFSET_RULE_CYCLIC, false, false, 0, 0},
    {"grouped_causal_padding", DILATTN_MODE_GROUPED, DILATTN_OFFSET_RULE_CYCLIC, true, true, 2, 0},
    {"longnet", DILATTN_MODE_LONGNET, DILATTN_OFFSET_RULE_CYCLIC, false, false, 0, 0.3},
    {"longnet_blocked_masks", DILATTN_MODE_LONGNET, DILATTN_OFFSET_RULE_BLOCKED, true, true, 4, 0},
    {"longnet_bias3", DILATTN_MODE_LONGNET, DILATTN_OFFSET_RULE_CYCLIC, false, false, 3, 0},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(C, CAPIHost, testing::ValuesIn(kHostCases),
                         [](const testing::TestParamInfo<HostCase> &info) {
                           return std::string(info.param.name);
                         });

/// Regular files under `dir`: the kernels of a context's disk cache.
static size_t countFiles(const std::string &dir) {
  size_t files = 0;
  std::error_code error;
  for (llvm::sys::fs::recursive_directory_iterator it(dir, error), end;
       it != end && !error; it.increment(error))
    files += it->type() == llvm::sys::fs::file_type::regular_file;
  return files;
}

// docs/api.md: a call compiled with a key padding mask serves host runs with
// and without one (no second kernel), and a run whose masks no compiled
// kernel has is refused instead of compiling again without a word.
TEST_F(CAPI, PrecompiledMaskKinds) {
  std::vector<float> q(data.size());
  for (size_t i = 0; i < q.size(); ++i)
    q[i] = std::sin(0.37 * i);
  // The result without a mask, from a JIT of its own (no disk cache), so
  // that this context's caches hold only what the test compiles.
  std::vector<float> expected(out.size());
  {
    dilattn_context *other;
    dilattn_call *plain;
    ASSERT_EQ(dilattn_context_create(&other), DILATTN_SUCCESS);
    ASSERT_EQ(dilattn_context_set_cache_dir(other, ""), DILATTN_SUCCESS);
    ASSERT_EQ(dilattn_call_create(other, &plain), DILATTN_SUCCESS);
    ASSERT_EQ(dilattn_call_set_patterns(plain, lengths, rates, 2),
              DILATTN_SUCCESS);
    ASSERT_EQ(runHost(plain, q.data(), shape, expected.data()), DILATTN_SUCCESS)
        << dilattn_last_error();
    dilattn_call_destroy(plain);
    dilattn_context_destroy(other);
  }

  ASSERT_EQ(
      dilattn_compile(call, DILATTN_TARGET_CPU, DILATTN_DTYPE_F32, 16, 1, 0),
      DILATTN_SUCCESS)
      << dilattn_last_error();
  size_t kernels = countFiles(cacheDir);
  ASSERT_GT(kernels, 0u);

  // No mask: the precompiled kernel, nothing padded.
  std::vector<float> noMask(out.size(), NAN);
  ASSERT_EQ(runHost(call, q.data(), shape, noMask.data()), DILATTN_SUCCESS)
      << dilattn_last_error();
  EXPECT_EQ(countFiles(cacheDir), kernels);
  for (size_t i = 0; i < noMask.size(); ++i)
    ASSERT_NEAR(noMask[i], expected[i], 1e-6) << i;
  // A mask: the same kernel.
  std::vector<uint8_t> padding(2 * 64, 0);
  padding[5] = 1;
  ASSERT_EQ(dilattn_run_host(call, q.data(), q.data(), q.data(), shape,
                             padding.data(), nullptr, nullptr, 0, out.data()),
            DILATTN_SUCCESS)
      << dilattn_last_error();
  EXPECT_EQ(countFiles(cacheDir), kernels);

  // An attention bias no compiled kernel takes: refused, saying why.
  const int64_t attnShape[2] = {64, 64};
  std::vector<float> bias(64 * 64, 0.0f);
  expectError(dilattn_run_host(call, q.data(), q.data(), q.data(), shape,
                               nullptr, bias.data(), attnShape, 2, out.data()),
              DILATTN_ERROR_INVALID_ARGUMENT,
              "the call was compiled (dilattn_compile) for target cpu and "
              "head dim 16 with a key padding mask and no attention mask, but "
              "this run has no key padding mask and an attention mask");
  EXPECT_EQ(countFiles(cacheDir), kernels);
  // Compiled for both, both run.
  ASSERT_EQ(
      dilattn_compile(call, DILATTN_TARGET_CPU, DILATTN_DTYPE_F32, 16, 0, 1),
      DILATTN_SUCCESS)
      << dilattn_last_error();
  EXPECT_GT(countFiles(cacheDir), kernels);
  EXPECT_EQ(dilattn_run_host(call, q.data(), q.data(), q.data(), shape, nullptr,
                             bias.data(), attnShape, 2, out.data()),
            DILATTN_SUCCESS)
      << dilattn_last_error();
  // Other head dims were not compiled: they compile on demand as before.
  const int64_t shape8[4] = {2, 64, 4, 8};
  EXPECT_EQ(runHost(call, q.data(), shape8, out.data()), DILATTN_SUCCESS)
      << dilattn_last_error();
  // A setter forgets what was compiled (the kernels are for the old call).
  ASSERT_EQ(
      dilattn_compile(call, DILATTN_TARGET_CPU, DILATTN_DTYPE_F32, 16, 0, 0),
      DILATTN_SUCCESS);
  ASSERT_EQ(dilattn_call_set_causal(call, 1), DILATTN_SUCCESS);
  EXPECT_EQ(dilattn_run_host(call, q.data(), q.data(), q.data(), shape,
                             padding.data(), nullptr, nullptr, 0, out.data()),
            DILATTN_SUCCESS)
      << dilattn_last_error();
}

TEST_F(CAPI, ThreadsShareContextAndCall) {
  // Warm the cache once, then run from several threads at once.
  ASSERT_EQ(runHost(call, data.data(), shape, out.data()), DILATTN_SUCCESS);
  std::vector<std::vector<float>> outputs(4, std::vector<float>(out.size()));
  std::vector<dilattn_status> statuses(4, DILATTN_ERROR_INTERNAL);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      statuses[t] = runHost(call, data.data(), shape, outputs[t].data());
    });
  for (std::thread &thread : threads)
    thread.join();
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(statuses[t], DILATTN_SUCCESS);
    EXPECT_EQ(outputs[t], out);
  }
}

TEST_F(CAPI, LastErrorPerThreadAndContext) {
  dilattn_context *other = nullptr;
  ASSERT_EQ(dilattn_context_create(&other), DILATTN_SUCCESS);
  EXPECT_EQ(dilattn_call_set_mode(call, static_cast<dilattn_mode>(3)),
            DILATTN_ERROR_INVALID_ARGUMENT);
  std::string mine = dilattn_last_error();
  // Another thread fails on another context: this thread's error and this
  // context's error stay; the other thread sees this context's error too.
  std::string seenThere, threadThere;
  std::thread([&] {
    dilattn_call *otherCall = nullptr;
    EXPECT_EQ(dilattn_call_create(other, &otherCall), DILATTN_SUCCESS);
    EXPECT_EQ(dilattn_call_set_causal(nullptr, 1), DILATTN_ERROR_NULL_ARGUMENT);
    threadThere = dilattn_last_error();
    seenThere = dilattn_context_last_error(ctx);
    dilattn_call_destroy(otherCall);
  }).join();
  EXPECT_EQ(std::string(dilattn_last_error()), mine);
  EXPECT_EQ(std::string(dilattn_context_last_error(ctx)), mine);
  EXPECT_EQ(seenThere, mine);
  EXPECT_EQ(threadThere, "call must not be NULL");
  EXPECT_STREQ(dilattn_context_last_error(other), "");
  // Success leaves the last error alone.
  EXPECT_EQ(dilattn_call_set_causal(call, 0), DILATTN_SUCCESS);
  EXPECT_EQ(std::string(dilattn_context_last_error(ctx)), mine);
  dilattn_context_destroy(other);
}

TEST_F(CAPI, CacheDirReset) {
  EXPECT_EQ(dilattn_context_set_cache_dir(ctx, ""), DILATTN_SUCCESS);
  EXPECT_EQ(runHost(call, data.data(), shape, out.data()), DILATTN_SUCCESS)
      << dilattn_last_error();
  EXPECT_EQ(dilattn_context_set_cache_dir(ctx, cacheDir.c_str()),
            DILATTN_SUCCESS);
}

TEST_F(CAPI, SequenceParallelEqualsOneCall) {
  // The fixture's call (patterns (16, 1), (32, 2), grouped) over 3 ranks of
  // a 64-position sequence: slices of 22, 22, 20, so the 16-segments span
  // slices too. Random inputs; the ranks' output equals dilattn_run_host's.
  ASSERT_EQ(dilattn_call_set_mode(call, DILATTN_MODE_LONGNET), DILATTN_SUCCESS);
  ASSERT_EQ(dilattn_call_set_causal(call, 1), DILATTN_SUCCESS);
  const int64_t b = 2, n = 64, h = 4, d = 16, row = h * d;
  reference::Tensor q = reference::randomTensor({b, n, h, d}, 11),
                    k = reference::randomTensor({b, n, h, d}, 12),
                    v = reference::randomTensor({b, n, h, d}, 13);
  std::vector<float> fq(q.data.begin(), q.data.end()),
      fk(k.data.begin(), k.data.end()), fv(v.data.begin(), v.data.end());
  std::vector<float> single(fq.size()), split(fq.size(), -1.0f);
  ASSERT_EQ(dilattn_run_host(call, fq.data(), fk.data(), fv.data(), shape,
                             nullptr, nullptr, nullptr, 0, single.data()),
            DILATTN_SUCCESS)
      << dilattn_last_error();

  dilattn_group *group = nullptr;
  ASSERT_EQ(dilattn_group_create_in_process(ctx, 3, 60000, &group),
            DILATTN_SUCCESS);
  std::vector<dilattn_status> statuses(3, DILATTN_ERROR_INTERNAL);
  std::vector<uint64_t> sent(3);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < 3; ++rank)
    threads.emplace_back([&, rank] {
      int64_t begin = 0, end = 0;
      ASSERT_EQ(dilattn_sequence_slice(n, 3, rank, &begin, &end),
                DILATTN_SUCCESS);
      int64_t len = end - begin;
      std::vector<float> lq, lk, lv, lo(b * len * row);
      for (int64_t batch = 0; batch < b; ++batch)
        for (auto [from, to] :
             {std::pair{&fq, &lq}, std::pair{&fk, &lk}, std::pair{&fv, &lv}})
          to->insert(to->end(), from->begin() + (batch * n + begin) * row,
                     from->begin() + (batch * n + end) * row);
      const int64_t local[4] = {b, len, h, d};
      statuses[rank] = dilattn_run_host_sequence_parallel(
          call, group, rank, n, lq.data(), lk.data(), lv.data(), local,
          lo.data(), &sent[rank]);
      for (int64_t batch = 0; batch < b; ++batch)
        std::copy_n(lo.begin() + batch * len * row, len * row,
                    split.begin() + (batch * n + begin) * row);
    });
  for (std::thread &thread : threads)
    thread.join();
  for (int rank = 0; rank < 3; ++rank) {
    EXPECT_EQ(statuses[rank], DILATTN_SUCCESS) << rank;
    EXPECT_GT(sent[rank], 0u) << rank;
  }
  double diff = 0, norm = 0;
  for (size_t i = 0; i < single.size(); ++i) {
    diff += (split[i] - single[i]) * (split[i] - single[i]);
    norm += single[i] * single[i];
  }
  EXPECT_LT(std::sqrt(diff / norm), 1e-5);
  dilattn_group_destroy(group);
}

TEST_F(CAPI, SequenceParallelArguments) {
  dilattn_group *group = reinterpret_cast<dilattn_group *>(1);
  expectError(dilattn_group_create_in_process(ctx, 0, 1000, &group),
              DILATTN_ERROR_INVALID_ARGUMENT,
              "world_size must be 1 to 1024, got 0");
  EXPECT_EQ(group, nullptr);
  expectError(dilattn_group_create_in_process(ctx, 2, 0, &group),
              DILATTN_ERROR_INVALID_ARGUMENT,
              "timeout_ms must be positive, got 0");
  int64_t begin = 0, end = 0;
  expectError(dilattn_sequence_slice(10, 2, 2, &begin, &end),
              DILATTN_ERROR_INVALID_ARGUMENT,
              "need seq_len >= 0 and 0 <= rank < world_size", false);
  ASSERT_EQ(dilattn_sequence_slice(10, 4, 3, &begin, &end), DILATTN_SUCCESS);
  EXPECT_EQ(begin, 9);
  EXPECT_EQ(end, 10);

  ASSERT_EQ(dilattn_group_create_in_process(ctx, 2, 10000, &group),
            DILATTN_SUCCESS);
  const int64_t local[4] = {2, 32, 4, 16};
  expectError(dilattn_run_host_sequence_parallel(
                  call, group, 2, 64, data.data(), data.data(), data.data(),
                  local, out.data(), nullptr),
              DILATTN_ERROR_INVALID_ARGUMENT, "rank must be 0 to 1, got 2");
  expectError(dilattn_run_host_sequence_parallel(
                  call, nullptr, 0, 64, data.data(), data.data(), data.data(),
                  local, out.data(), nullptr),
              DILATTN_ERROR_NULL_ARGUMENT, "group must not be NULL");
  // A rule of the whole call (heads vs. patterns) fails rank 0 with its
  // status, and then rank 1 with a runtime error naming rank 0.
  const int64_t lengths3[3] = {16, 32, 64};
  const int64_t rates3[3] = {1, 2, 4};
  ASSERT_EQ(dilattn_call_set_patterns(call, lengths3, rates3, 3),
            DILATTN_SUCCESS);
  const int64_t bad[4] = {2, 32, 2, 16}; // 2 heads < 3 patterns (grouped)
  expectError(dilattn_run_host_sequence_parallel(
                  call, group, 0, 64, data.data(), data.data(), data.data(),
                  bad, out.data(), nullptr),
              DILATTN_ERROR_INVALID_CALL,
              "num_heads (2) must be >= the number of patterns (3)");
  // Rank 1's own part is valid (4 heads): it fails on the group.
  expectError(dilattn_run_host_sequence_parallel(
                  call, group, 1, 64, data.data(), data.data(), data.data(),
                  local, out.data(), nullptr),
              DILATTN_ERROR_RUNTIME,
              "rank 0 failed: num_heads (2) must be >= the number of "
              "patterns (3) in grouped mode");
  dilattn_group_destroy(group);

  // A rank's slice that does not match the sequence, and a negative
  // sequence length, are malformed arguments (the C++ API's checks, with
  // their codes); each fails its group.
  for (int64_t seqLen : {int64_t(60), int64_t(-1)}) {
    ASSERT_EQ(dilattn_group_create_in_process(ctx, 2, 10000, &group),
              DILATTN_SUCCESS);
    expectError(dilattn_run_host_sequence_parallel(
                    call, group, 0, seqLen, data.data(), data.data(),
                    data.data(), local, out.data(), nullptr),
                DILATTN_ERROR_INVALID_ARGUMENT,
                seqLen < 0 ? "the sequence length must be >= 0, got -1"
                           : "query of rank 0 must be its slice (B, 30, H, D)");
    dilattn_group_destroy(group);
  }
}
