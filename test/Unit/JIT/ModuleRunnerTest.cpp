//===- ModuleRunnerTest.cpp - whole functions against the reference -------===//
//
// Module mode end to end: functions on tensors (dilated attention with masks,
// a multi-head block with biases and layer norm, a LongNet block with its
// residual add) are compiled by dilattn-cpu-pipeline, run through the
// ExecutionEngine and compared with the float64 reference on random inputs.
//
//===----------------------------------------------------------------------===//

#include "dilattn/JIT/ModuleRunner.h"
#include "dilattn/Reference/Reference.h"

#include "llvm/Support/FormatVariadic.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace dilattn;

namespace {

/// Random f32 data (rounded once so both sides see the same values).
reference::Tensor randomF32(std::vector<int64_t> shape, uint64_t seed,
                            double scale = 1.0) {
  reference::Tensor tensor =
      reference::randomTensor(shape, seed, -scale, scale);
  for (double &x : tensor.data)
    x = static_cast<float>(x);
  return tensor;
}

std::vector<float> toFloat(const reference::Tensor &tensor) {
  return std::vector<float>(tensor.data.begin(), tensor.data.end());
}

jit::ModuleBuffer bufferOf(void *data, const std::vector<int64_t> &shape) {
  jit::ModuleBuffer buffer;
  buffer.data = data;
  buffer.shape.assign(shape.begin(), shape.end());
  return buffer;
}

TEST(ModuleRunner, DilatedAttentionWithMasks) {
  const char *source = R"mlir(
func.func @attend(%q: tensor<2x48x3x16xf32>, %k: tensor<2x48x3x16xf32>,
                  %v: tensor<2x48x3x16xf32>, %pad: tensor<2x48xi1>,
                  %mask: tensor<48x48xi1>) -> tensor<2x48x3x16xf32> {
  %0 = dilattn.dilated_attention %q, %k, %v key_padding_mask(%pad)
      attn_mask(%mask) segment_lengths = [16, 48] dilation_rates = [1, 2]
      mode = longnet causal
      : (tensor<2x48x3x16xf32>, tensor<2x48x3x16xf32>, tensor<2x48x3x16xf32>,
         tensor<2x48xi1>, tensor<48x48xi1>) -> tensor<2x48x3x16xf32>
  return %0 : tensor<2x48x3x16xf32>
}
)mlir";
  auto compiled = jit::CompiledModule::compile(source, "attend.mlir", "attend");
  ASSERT_TRUE(static_cast<bool>(compiled))
      << llvm::toString(compiled.takeError());

  std::vector<int64_t> shape = {2, 48, 3, 16};
  reference::Tensor q = randomF32(shape, 11), k = randomF32(shape, 12),
                    v = randomF32(shape, 13);
  reference::BoolTensor pad = reference::randomBoolTensor({2, 48}, 14, 0.2);
  reference::BoolTensor mask = reference::randomBoolTensor({48, 48}, 15, 0.2);
  std::vector<float> qf = toFloat(q), kf = toFloat(k), vf = toFloat(v),
                     out(qf.size());
  ASSERT_FALSE(static_cast<bool>((*compiled)->run(
      {bufferOf(qf.data(), shape), bufferOf(kf.data(), shape),
       bufferOf(vf.data(), shape), bufferOf(pad.data.data(), {2, 48}),
       bufferOf(mask.data.data(), {48, 48})},
      {bufferOf(out.data(), shape)})));

  DilatedAttentionConfig config;
  config.segmentLengths = {16, 48};
  config.dilationRates = {1, 2};
  config.mode = AttentionMode::LongNet;
  config.causal = true;
  reference::Masks masks;
  masks.keyPaddingMask = pad;
  masks.attnMask = mask;
  auto expected = reference::dilatedAttention(config, q, k, v, masks);
  ASSERT_TRUE(static_cast<bool>(expected));
  EXPECT_LE(
      reference::compare(llvm::ArrayRef<float>(out), expected->data).relative,
      1e-5);
}

/// A LongNet block: multi-head dilated attention (biases, sub-layer norm,
/// key padding mask) plus the residual add.
TEST(ModuleRunner, LongNetBlock) {
  const int64_t batch = 2, seqLen = 64, embed = 32, heads = 4;
  std::string source = llvm::formatv(R"mlir(
func.func @block(%x: tensor<{0}x{1}x{2}xf32>, %wq: tensor<{2}x{2}xf32>,
                 %wk: tensor<{2}x{2}xf32>, %wv: tensor<{2}x{2}xf32>,
                 %wo: tensor<{2}x{2}xf32>, %bq: tensor<{2}xf32>,
                 %bk: tensor<{2}xf32>, %bv: tensor<{2}xf32>,
                 %bo: tensor<{2}xf32>, %g: tensor<{2}xf32>,
                 %b: tensor<{2}xf32>, %pad: tensor<{0}x{1}xi1>)
    -> tensor<{0}x{1}x{2}xf32> {{
  %0 = dilattn.multihead_dilated_attention %x, %x, %x
      weights(%wq, %wk, %wv, %wo) biases(%bq, %bk, %bv, %bo)
      layer_norm(%g, %b) key_padding_mask(%pad) num_heads = {3}
      segment_lengths = [16, 32, 64] dilation_rates = [1, 2, 4] mode = longnet
      : (tensor<{0}x{1}x{2}xf32>, tensor<{0}x{1}x{2}xf32>,
         tensor<{0}x{1}x{2}xf32>, tensor<{2}x{2}xf32>, tensor<{2}x{2}xf32>,
         tensor<{2}x{2}xf32>, tensor<{2}x{2}xf32>, tensor<{2}xf32>,
         tensor<{2}xf32>, tensor<{2}xf32>, tensor<{2}xf32>, tensor<{2}xf32>,
         tensor<{2}xf32>, tensor<{0}x{1}xi1>) -> tensor<{0}x{1}x{2}xf32>
  %1 = arith.addf %0, %x : tensor<{0}x{1}x{2}xf32>
  return %1 : tensor<{0}x{1}x{2}xf32>
}
)mlir",
                                     batch, seqLen, embed, heads);
  auto compiled = jit::CompiledModule::compile(source, "block.mlir", "block");
  ASSERT_TRUE(static_cast<bool>(compiled))
      << llvm::toString(compiled.takeError());

  std::vector<int64_t> xShape = {batch, seqLen, embed};
  double weightScale = 1.0 / std::sqrt(static_cast<double>(embed));
  reference::Tensor x = randomF32(xShape, 21);
  reference::MultiheadWeights weights;
  weights.queryWeight = randomF32({embed, embed}, 22, weightScale);
  weights.keyWeight = randomF32({embed, embed}, 23, weightScale);
  weights.valueWeight = randomF32({embed, embed}, 24, weightScale);
  weights.outWeight = randomF32({embed, embed}, 25, weightScale);
  weights.queryBias = randomF32({embed}, 26, 0.1);
  weights.keyBias = randomF32({embed}, 27, 0.1);
  weights.valueBias = randomF32({embed}, 28, 0.1);
  weights.outBias = randomF32({embed}, 29, 0.1);
  weights.layerNormWeight = randomF32({embed}, 30);
  weights.layerNormBias = randomF32({embed}, 31, 0.1);
  reference::BoolTensor pad =
      reference::randomBoolTensor({batch, seqLen}, 32, 0.25);

  std::vector<std::vector<float>> data;
  for (const reference::Tensor *tensor :
       {&x, &weights.queryWeight, &weights.keyWeight, &weights.valueWeight,
        &weights.outWeight, &*weights.queryBias, &*weights.keyBias,
        &*weights.valueBias, &*weights.outBias, &*weights.layerNormWeight,
        &*weights.layerNormBias})
    data.push_back(toFloat(*tensor));
  std::vector<jit::ModuleBuffer> inputs;
  inputs.push_back(bufferOf(data[0].data(), xShape));
  for (int i = 1; i <= 4; ++i)
    inputs.push_back(bufferOf(data[i].data(), {embed, embed}));
  for (int i = 5; i <= 10; ++i)
    inputs.push_back(bufferOf(data[i].data(), {embed}));
  inputs.push_back(bufferOf(pad.data.data(), {batch, seqLen}));
  std::vector<float> out(data[0].size());
  llvm::Error error = (*compiled)->run(inputs, {bufferOf(out.data(), xShape)});
  ASSERT_FALSE(static_cast<bool>(error)) << llvm::toString(std::move(error));

  DilatedAttentionConfig config;
  config.segmentLengths = {16, 32, 64};
  config.dilationRates = {1, 2, 4};
  config.mode = AttentionMode::LongNet;
  reference::Masks masks;
  masks.keyPaddingMask = pad;
  auto attention = reference::multiheadDilatedAttention(config, heads, x, x, x,
                                                        weights, masks);
  ASSERT_TRUE(static_cast<bool>(attention))
      << llvm::toString(attention.takeError());
  for (size_t i = 0; i < attention->data.size(); ++i)
    attention->data[i] += x.data[i];
  EXPECT_LE(
      reference::compare(llvm::ArrayRef<float>(out), attention->data).relative,
      1e-5);
  EXPECT_GT((*compiled)->getEffectiveFlops(), 0.0);
}

/// A block large enough for the vectorized paths: full matmul register tiles
/// with peeled remainders, vectorized layer norm, parallel work items, and
/// temporaries of 1 MiB that the runtime's buffer cache hands out again on
/// the second run.
TEST(ModuleRunner, VectorizedBlockRunsTwice) {
  const int64_t batch = 1, seqLen = 4100, embed = 64, heads = 4;
  std::string source = llvm::formatv(R"mlir(
func.func @block(%x: tensor<{0}x{1}x{2}xf32>, %wq: tensor<{2}x{2}xf32>,
                 %wk: tensor<{2}x{2}xf32>, %wv: tensor<{2}x{2}xf32>,
                 %wo: tensor<{2}x{2}xf32>, %bq: tensor<{2}xf32>,
                 %bk: tensor<{2}xf32>, %bv: tensor<{2}xf32>,
                 %bo: tensor<{2}xf32>, %g: tensor<{2}xf32>,
                 %b: tensor<{2}xf32>) -> tensor<{0}x{1}x{2}xf32> {{
  %0 = dilattn.multihead_dilated_attention %x, %x, %x
      weights(%wq, %wk, %wv, %wo) biases(%bq, %bk, %bv, %bo)
      layer_norm(%g, %b) num_heads = {3}
      segment_lengths = [256, 512] dilation_rates = [1, 2]
      : (tensor<{0}x{1}x{2}xf32>, tensor<{0}x{1}x{2}xf32>,
         tensor<{0}x{1}x{2}xf32>, tensor<{2}x{2}xf32>, tensor<{2}x{2}xf32>,
         tensor<{2}x{2}xf32>, tensor<{2}x{2}xf32>, tensor<{2}xf32>,
         tensor<{2}xf32>, tensor<{2}xf32>, tensor<{2}xf32>, tensor<{2}xf32>,
         tensor<{2}xf32>) -> tensor<{0}x{1}x{2}xf32>
  %1 = arith.addf %0, %x : tensor<{0}x{1}x{2}xf32>
  return %1 : tensor<{0}x{1}x{2}xf32>
}
)mlir",
                                     batch, seqLen, embed, heads);
  auto compiled = jit::CompiledModule::compile(source, "block.mlir", "block");
  ASSERT_TRUE(static_cast<bool>(compiled))
      << llvm::toString(compiled.takeError());

  std::vector<int64_t> xShape = {batch, seqLen, embed};
  double weightScale = 1.0 / std::sqrt(static_cast<double>(embed));
  reference::Tensor x = randomF32(xShape, 41);
  reference::MultiheadWeights weights;
  weights.queryWeight = randomF32({embed, embed}, 42, weightScale);
  weights.keyWeight = randomF32({embed, embed}, 43, weightScale);
  weights.valueWeight = randomF32({embed, embed}, 44, weightScale);
  weights.outWeight = randomF32({embed, embed}, 45, weightScale);
  weights.queryBias = randomF32({embed}, 46, 0.1);
  weights.keyBias = randomF32({embed}, 47, 0.1);
  weights.valueBias = randomF32({embed}, 48, 0.1);
  weights.outBias = randomF32({embed}, 49, 0.1);
  weights.layerNormWeight = randomF32({embed}, 50);
  weights.layerNormBias = randomF32({embed}, 51, 0.1);
  std::vector<std::vector<float>> data;
  for (const reference::Tensor *tensor :
       {&x, &weights.queryWeight, &weights.keyWeight, &weights.valueWeight,
        &weights.outWeight, &*weights.queryBias, &*weights.keyBias,
        &*weights.valueBias, &*weights.outBias, &*weights.layerNormWeight,
        &*weights.layerNormBias})
    data.push_back(toFloat(*tensor));
  std::vector<jit::ModuleBuffer> inputs;
  inputs.push_back(bufferOf(data[0].data(), xShape));
  for (int i = 1; i <= 4; ++i)
    inputs.push_back(bufferOf(data[i].data(), {embed, embed}));
  for (int i = 5; i <= 10; ++i)
    inputs.push_back(bufferOf(data[i].data(), {embed}));

  DilatedAttentionConfig config;
  config.segmentLengths = {256, 512};
  config.dilationRates = {1, 2};
  auto expected =
      reference::multiheadDilatedAttention(config, heads, x, x, x, weights, {});
  ASSERT_TRUE(static_cast<bool>(expected))
      << llvm::toString(expected.takeError());
  for (size_t i = 0; i < expected->data.size(); ++i)
    expected->data[i] += x.data[i];
  for (int run = 0; run < 2; ++run) {
    std::vector<float> out(data[0].size(), -1.0f);
    llvm::Error error =
        (*compiled)->run(inputs, {bufferOf(out.data(), xShape)});
    ASSERT_FALSE(static_cast<bool>(error)) << llvm::toString(std::move(error));
    EXPECT_LE(
        reference::compare(llvm::ArrayRef<float>(out), expected->data).relative,
        1e-5)
        << "run " << run;
  }
}

TEST(ModuleRunner, RefusesBadModulesAndInputs) {
  const char *source = R"mlir(
func.func @f(%q: tensor<1x16x2x8xf32>) -> tensor<1x16x2x8xf32> {
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [8]
      dilation_rates = [2]
      : (tensor<1x16x2x8xf32>, tensor<1x16x2x8xf32>, tensor<1x16x2x8xf32>)
      -> tensor<1x16x2x8xf32>
  return %0 : tensor<1x16x2x8xf32>
}
func.func @g(%i: index) -> index {
  return %i : index
}
)mlir";
  auto missing = jit::CompiledModule::compile(source, "m.mlir", "nope");
  ASSERT_FALSE(static_cast<bool>(missing));
  EXPECT_EQ(llvm::toString(missing.takeError()),
            "m.mlir has no function @nope (functions: @f, @g)");
  auto index = jit::CompiledModule::compile(source, "m.mlir", "g");
  ASSERT_FALSE(static_cast<bool>(index));
  EXPECT_EQ(llvm::toString(index.takeError()),
            "argument #0 of @g must be a ranked tensor of f32 or i1, got "
            "index");
  auto syntax = jit::CompiledModule::compile("func.func @f(", "s.mlir", "f");
  ASSERT_FALSE(static_cast<bool>(syntax));
  EXPECT_NE(llvm::toString(syntax.takeError()).find("s.mlir"),
            std::string::npos);
  auto invalid = jit::CompiledModule::compile(
      R"mlir(
func.func @f(%q: tensor<1x16x2x8xf32>) -> tensor<1x16x2x8xf32> {
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [8, 4]
      dilation_rates = [2]
      : (tensor<1x16x2x8xf32>, tensor<1x16x2x8xf32>, tensor<1x16x2x8xf32>)
      -> tensor<1x16x2x8xf32>
  return %0 : tensor<1x16x2x8xf32>
}
)mlir",
      "v.mlir", "f");
  ASSERT_FALSE(static_cast<bool>(invalid));
  EXPECT_NE(llvm::toString(invalid.takeError())
                .find("segment_lengths and dilation_rates must have the same "
                      "length (2 vs 1)"),
            std::string::npos);

  auto compiled = jit::CompiledModule::compile(source, "m.mlir", "f");
  ASSERT_TRUE(static_cast<bool>(compiled))
      << llvm::toString(compiled.takeError());
  std::vector<float> data(16 * 2 * 8, 0.5f), out(data.size());
  llvm::Error error = (*compiled)->run({bufferOf(data.data(), {1, 16, 2, 4})},
                                       {bufferOf(out.data(), {1, 16, 2, 8})});
  ASSERT_TRUE(static_cast<bool>(error));
  EXPECT_EQ(llvm::toString(std::move(error)),
            "input #0 must have shape (1, 16, 2, 8), got (1, 16, 2, 4)");
}

} // namespace
