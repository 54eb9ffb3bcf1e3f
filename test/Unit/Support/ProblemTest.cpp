//===- ProblemTest.cpp - rule checks and pattern geometry -----------------===//

#include "dilattn/Support/Problem.h"

#include "gtest/gtest.h"

using namespace dilattn;

namespace {

DilatedAttentionConfig makeConfig(std::vector<int64_t> lengths,
                                  std::vector<int64_t> rates,
                                  AttentionMode mode = AttentionMode::Grouped) {
  DilatedAttentionConfig config;
  config.segmentLengths.assign(lengths.begin(), lengths.end());
  config.dilationRates.assign(rates.begin(), rates.end());
  config.mode = mode;
  return config;
}

DilatedAttentionSignature makeSignature(std::vector<int64_t> shape) {
  DilatedAttentionSignature signature;
  for (TensorSignature *tensor :
       {&signature.query, &signature.key, &signature.value})
    tensor->shape.assign(shape.begin(), shape.end());
  return signature;
}

/// The message of the first violated rule, or "" when the call is valid.
std::string check(const DilatedAttentionConfig &config,
                  const DilatedAttentionSignature &signature) {
  if (llvm::Error error = checkDilatedAttention(config, signature))
    return llvm::toString(std::move(error));
  return "";
}

TEST(ProblemRules, AcceptsValidCall) {
  EXPECT_EQ(check(makeConfig({16, 32}, {1, 2}), makeSignature({2, 64, 4, 8})),
            "");
}

TEST(ProblemRules, SpecMessages) {
  DilatedAttentionSignature ok = makeSignature({2, 4096, 4, 8});
  EXPECT_EQ(check(makeConfig({}, {}), ok),
            "segment_lengths and dilation_rates must not be empty (got 0 and 0 "
            "entries)");
  EXPECT_EQ(check(makeConfig({1, 2, 3}, {1, 2}), ok),
            "segment_lengths and dilation_rates must have the same length (3 "
            "vs 2)");
  EXPECT_EQ(check(makeConfig({8, 8}, {1, 0}), ok),
            "dilation_rates[1] must be positive, got 0");
  EXPECT_EQ(check(makeConfig({8, -1}, {1, 1}), ok),
            "segment_lengths[1] must be positive, got -1");
  EXPECT_EQ(
      check(makeConfig({8, 8, 8}, {1, 1, 1}), makeSignature({2, 64, 2, 8})),
      "num_heads (2) must be >= the number of patterns (3) in grouped "
      "mode");
  // longnet has no head-count rule.
  EXPECT_EQ(check(makeConfig({8, 8, 8}, {1, 1, 1}, AttentionMode::LongNet),
                  makeSignature({2, 64, 2, 8})),
            "");

  DilatedAttentionSignature padded = ok;
  padded.keyPaddingMask = TensorSignature{{2, 4095}, ElementKind::I1};
  EXPECT_EQ(check(makeConfig({8}, {1}), padded),
            "key_padding_mask must have shape (B, N) = (2, 4096), got (2, "
            "4095)");
}

TEST(ProblemRules, OperandShapesAndTypes) {
  DilatedAttentionSignature signature = makeSignature({2, 64, 4, 8});
  signature.key.shape = {2, 64, 4, 16};
  EXPECT_EQ(check(makeConfig({8}, {1}), signature),
            "key must have the shape of query (2, 64, 4, 8), got (2, 64, 4, "
            "16)");
  signature = makeSignature({2, 64, 4});
  EXPECT_EQ(check(makeConfig({8}, {1}), signature),
            "query must have rank 4 (B, N, H, D), got rank 3 (2, 64, 4)");
  signature = makeSignature({2, 64, 4, 8});
  signature.value.element = ElementKind::F64;
  signature.query.element = ElementKind::F32;
  EXPECT_EQ(check(makeConfig({8}, {1}), signature),
            "value element type must equal query's (f32), got f64");
  signature = makeSignature({2, 64, 4, 8});
  signature.attnMask = TensorSignature{{2, 3, 64, 64}, ElementKind::I1};
  EXPECT_EQ(check(makeConfig({8}, {1}), signature),
            "attn_mask must have shape (B, H, N, N) = (2, 4, 64, 64), got (2, "
            "3, 64, 64)");
  // Unknown sizes are checked once known.
  signature = makeSignature({kDynamicSize, kDynamicSize, 4, 8});
  signature.keyPaddingMask = TensorSignature{{3, 17}, ElementKind::I1};
  EXPECT_EQ(check(makeConfig({8}, {1}), signature), "");
}

TEST(ProblemRules, IndexOverflowIsRefused) {
  DilatedAttentionSignature signature =
      makeSignature({1 << 20, 1 << 20, 1 << 12, 1 << 12});
  EXPECT_EQ(check(makeConfig({8}, {1}), signature),
            "query of shape (1048576, 1048576, 4096, 4096) has more elements "
            "than 64-bit indexing can address");
}

TEST(PatternGeometry, GroupsAreContiguousFirstOnesLarger) {
  // H = 7, k = 3: sizes 3, 2, 2.
  EXPECT_EQ(groupHeads(7, 3, 0).begin, 0);
  EXPECT_EQ(groupHeads(7, 3, 0).end, 3);
  EXPECT_EQ(groupHeads(7, 3, 1).begin, 3);
  EXPECT_EQ(groupHeads(7, 3, 1).end, 5);
  EXPECT_EQ(groupHeads(7, 3, 2).begin, 5);
  EXPECT_EQ(groupHeads(7, 3, 2).end, 7);
  for (int64_t head = 0; head < 7; ++head)
    EXPECT_EQ(groupOfHead(7, 3, head), head < 3 ? 0 : (head < 5 ? 1 : 2));
}

TEST(PatternGeometry, Offsets) {
  DilatedAttentionConfig grouped = makeConfig({8, 8, 8}, {1, 2, 4});
  EXPECT_EQ(patternOffset(grouped, 6, 0, 0), 0);
  EXPECT_EQ(patternOffset(grouped, 6, 1, 3), 1);
  EXPECT_EQ(patternOffset(grouped, 6, 2, 5), 2);

  DilatedAttentionConfig cyclic =
      makeConfig({8, 8}, {1, 4}, AttentionMode::LongNet);
  DilatedAttentionConfig blocked = cyclic;
  blocked.offsetRule = OffsetRule::Blocked;
  // H = 8, r = 4: cyclic j mod 4; blocked floor(j / 2).
  for (int64_t head = 0; head < 8; ++head) {
    EXPECT_EQ(patternOffset(cyclic, 8, 1, head), head % 4);
    EXPECT_EQ(patternOffset(blocked, 8, 1, head), head / 2);
    EXPECT_TRUE(headUsesPattern(cyclic, 8, 0, head));
  }
}

TEST(PatternGeometry, EffectiveFlopsOfC1) {
  // BENCHMARKS.md config C1: 8.05 GFLOP.
  DilatedAttentionConfig config =
      makeConfig({512, 1024, 2048, 4096}, {1, 2, 4, 8});
  double flops = effectiveFlops(config, 1, 16384, 8, 64);
  EXPECT_NEAR(flops / 1e9, 8.05, 0.01);
  config.causal = true;
  EXPECT_NEAR(effectiveFlops(config, 1, 16384, 8, 64), flops / 2, 1);
}

TEST(PatternGeometry, DefaultBlockSize) {
  // A block covers 64 dilated rows of the sparsest pattern, up to 2^16.
  EXPECT_EQ(defaultBlockSize(makeConfig({512, 1024}, {1, 2}), 16, 1), 128);
  // Rates whose product with 64 overflows int64 (fuzzer finding 7) give the
  // largest block (2^16), cut to 2048 by the 256 KiB scratch budget, not
  // undefined behaviour.
  EXPECT_EQ(defaultBlockSize(makeConfig({8}, {int64_t(1) << 62}), 16, 1), 2048);
  EXPECT_EQ(defaultBlockSize(makeConfig({8}, {1}), int64_t(1) << 40, 1), 16);
}

} // namespace
