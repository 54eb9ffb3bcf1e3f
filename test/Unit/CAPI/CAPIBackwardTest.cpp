//===- CAPIBackwardTest.cpp - the C API's training entry points -----------===//
//
// dilattn_run_host_with_lse and dilattn_run_host_backward (interface version
// 5, issue 18): a run against the float64 reference gradients, and one
// status and message per argument check.
//
//===----------------------------------------------------------------------===//

#include "dilattn-c/dilattn.h"
#include "dilattn/Reference/Reference.h"

#include "llvm/Support/FileSystem.h"

#include "gtest/gtest.h"

#include <string>
#include <vector>

using namespace dilattn;

namespace {

class CAPIBackward : public testing::Test {
protected:
  void SetUp() override {
    ASSERT_EQ(dilattn_context_create(&ctx), DILATTN_SUCCESS);
    llvm::SmallString<128> path;
    ASSERT_FALSE(
        llvm::sys::fs::createUniqueDirectory("dilattn-capi-backward", path));
    cacheDir = std::string(path);
    ASSERT_EQ(dilattn_context_set_cache_dir(ctx, cacheDir.c_str()),
              DILATTN_SUCCESS);
    ASSERT_EQ(dilattn_call_create(ctx, &call), DILATTN_SUCCESS);
    const int64_t lengths[2] = {8, 24};
    const int64_t rates[2] = {1, 3};
    ASSERT_EQ(dilattn_call_set_patterns(call, lengths, rates, 2),
              DILATTN_SUCCESS);
    ASSERT_EQ(dilattn_call_set_mode(call, DILATTN_MODE_LONGNET),
              DILATTN_SUCCESS);
    ASSERT_EQ(dilattn_call_set_causal(call, 1), DILATTN_SUCCESS);
  }
  void TearDown() override {
    dilattn_call_destroy(call);
    dilattn_context_destroy(ctx);
    if (!cacheDir.empty())
      (void)llvm::sys::fs::remove_directories(cacheDir);
  }

  dilattn_context *ctx = nullptr;
  dilattn_call *call = nullptr;
  std::string cacheDir;
};

std::vector<float> toFloat(const reference::Tensor &tensor) {
  return std::vector<float>(tensor.data.begin(), tensor.data.end());
}

TEST_F(CAPIBackward, MatchesReference) {
  std::vector<int64_t> dims = {2, 24, 3, 8};
  const int64_t shape[4] = {2, 24, 3, 8};
  reference::Tensor q = reference::randomTensor(dims, 1),
                    k = reference::randomTensor(dims, 2),
                    v = reference::randomTensor(dims, 3),
                    dO = reference::randomTensor(dims, 4);
  for (reference::Tensor *t : {&q, &k, &v, &dO})
    for (double &x : t->data)
      x = static_cast<float>(x);
  reference::BoolTensor padding = reference::randomBoolTensor({2, 24}, 5, 0.25);
  std::vector<float> qf = toFloat(q), kf = toFloat(k), vf = toFloat(v),
                     dOf = toFloat(dO);
  size_t count = qf.size();
  std::vector<float> out(count), lse(count / 8), dq(count), dk(count),
      dv(count);
  ASSERT_EQ(dilattn_run_host_with_lse(call, qf.data(), kf.data(), vf.data(),
                                      shape, padding.data.data(), nullptr,
                                      nullptr, 0, out.data(), lse.data()),
            DILATTN_SUCCESS)
      << dilattn_last_error();
  ASSERT_EQ(dilattn_run_host_backward(call, qf.data(), kf.data(), vf.data(),
                                      out.data(), lse.data(), dOf.data(), shape,
                                      padding.data.data(), nullptr, nullptr, 0,
                                      dq.data(), dk.data(), dv.data()),
            DILATTN_SUCCESS)
      << dilattn_last_error();

  DilatedAttentionConfig config;
  config.segmentLengths = {8, 24};
  config.dilationRates = {1, 3};
  config.mode = AttentionMode::LongNet;
  config.causal = true;
  reference::Masks masks;
  masks.keyPaddingMask = padding;
  auto grads = reference::dilatedAttentionBackward(config, q, k, v, dO, masks);
  ASSERT_TRUE(static_cast<bool>(grads)) << llvm::toString(grads.takeError());
  for (auto [got, want] :
       {std::pair(&dq, &grads->query), std::pair(&dk, &grads->key),
        std::pair(&dv, &grads->value)})
    EXPECT_LE(
        reference::compare(llvm::ArrayRef<float>(*got), want->data).relative,
        1e-5);
}

TEST_F(CAPIBackward, Arguments) {
  const int64_t shape[4] = {1, 8, 3, 4};
  std::vector<float> b(1 * 8 * 3 * 4, 0.5f), l(1 * 8 * 3, 0.0f);
  auto expect = [&](dilattn_status status, const std::string &message) {
    EXPECT_EQ(status, DILATTN_ERROR_NULL_ARGUMENT) << dilattn_last_error();
    EXPECT_EQ(std::string(dilattn_last_error()), message);
  };
  float *p = b.data();
  expect(dilattn_run_host_with_lse(call, p, p, p, shape, nullptr, nullptr,
                                   nullptr, 0, p, nullptr),
         "lse must not be NULL");
  expect(dilattn_run_host_backward(nullptr, p, p, p, p, l.data(), p, shape,
                                   nullptr, nullptr, nullptr, 0, p, p, p),
         "call must not be NULL");
  expect(dilattn_run_host_backward(call, p, p, p, p, nullptr, p, shape, nullptr,
                                   nullptr, nullptr, 0, p, p, p),
         "lse must not be NULL");
  expect(dilattn_run_host_backward(call, p, p, p, p, l.data(), nullptr, shape,
                                   nullptr, nullptr, nullptr, 0, p, p, p),
         "grad_out must not be NULL");
  expect(dilattn_run_host_backward(call, p, p, p, p, l.data(), p, shape,
                                   nullptr, nullptr, nullptr, 0, p, nullptr, p),
         "dk must not be NULL");
  // Grouped mode needs a head per pattern (C10), as the forward pass does.
  const int64_t fewHeads[4] = {1, 8, 1, 4};
  ASSERT_EQ(dilattn_call_set_mode(call, DILATTN_MODE_GROUPED), DILATTN_SUCCESS);
  EXPECT_EQ(dilattn_run_host_backward(call, p, p, p, p, l.data(), p, fewHeads,
                                      nullptr, nullptr, nullptr, 0, p, p, p),
            DILATTN_ERROR_INVALID_CALL);
  EXPECT_EQ(std::string(dilattn_last_error()),
            "num_heads (1) must be >= the number of patterns (2) in grouped "
            "mode");
}

} // namespace
