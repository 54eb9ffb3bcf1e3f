//===- CudaGraphTest.cpp - graphs and modules on target cuda --------------===//
//
// Module mode on target cuda. Without a GPU the graphs still compile (for an
// explicit chip): the tests check what the compiler recorded (kernel images,
// launches whose arguments name real buffers) and that runs are refused
// with one clear line. With a GPU they run the graphs and compare with the
// float64 reference of docs/Contract.md section 2.
//
//===----------------------------------------------------------------------===//

#include "dilattn/API/CudaDilatedAttention.h"
#include "dilattn/API/Graph.h"
#include "dilattn/JIT/ModuleRunner.h"
#include "dilattn/Reference/Reference.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace dilattn;

namespace {

template <typename T> T take(llvm::Expected<T> value) {
  if (!value) {
    ADD_FAILURE() << llvm::toString(value.takeError());
    return T();
  }
  return std::move(*value);
}

std::string errorOf(llvm::Error error) {
  return error ? llvm::toString(std::move(error)) : std::string("no error");
}

template <typename T> std::string errorOf(llvm::Expected<T> value) {
  return value ? std::string("no error") : llvm::toString(value.takeError());
}

bool haveGpu() {
  llvm::Error error = checkCudaAvailable();
  if (!error)
    return true;
  llvm::consumeError(std::move(error));
  return false;
}

/// A multi-head block of docs/Contract.md section 2 (B=2 N=96 H=2 D=64, biases,
/// layer norm, key padding) plus a residual add and a ReLU, with its inputs
/// and the float64 reference.
struct Block {
  static constexpr int64_t kBatch = 2, kSeqLen = 96, kHeads = 2, kHeadDim = 64,
                           kEmbed = kHeads * kHeadDim;
  Graph graph{"cuda_block"};
  std::vector<std::vector<float>> floats;
  std::vector<uint8_t> padding;
  std::vector<const void *> inputs;
  reference::Tensor expected;

  static DilatedAttentionConfig config() {
    DilatedAttentionConfig config;
    config.segmentLengths = {32, 96};
    config.dilationRates = {1, 2};
    config.mode = AttentionMode::LongNet;
    config.causal = true;
    return config;
  }

  explicit Block(uint64_t seed) {
    auto input = [&](const char *name, std::vector<int64_t> shape,
                     double scale) {
      reference::Tensor tensor =
          reference::randomTensor(shape, seed++, -scale, scale);
      for (double &v : tensor.data)
        v = static_cast<float>(v);
      floats.emplace_back(tensor.data.begin(), tensor.data.end());
      return std::make_pair(
          take(graph.addInput(name, llvm::ArrayRef<int64_t>(shape))), tensor);
    };
    const double w = 1.0 / std::sqrt(double(kEmbed));
    auto [x, xRef] = input("x", {kBatch, kSeqLen, kEmbed}, 1.0);
    reference::MultiheadWeights weights;
    MultiheadParams params;
    std::tie(params.queryWeight, weights.queryWeight) =
        input("wq", {kEmbed, kEmbed}, w);
    std::tie(params.keyWeight, weights.keyWeight) =
        input("wk", {kEmbed, kEmbed}, w);
    std::tie(params.valueWeight, weights.valueWeight) =
        input("wv", {kEmbed, kEmbed}, w);
    std::tie(params.outWeight, weights.outWeight) =
        input("wo", {kEmbed, kEmbed}, w);
    auto optional = [&](const char *name, double scale) {
      auto [value, tensor] = input(name, {kEmbed}, scale);
      return std::make_pair(std::optional<GraphValue>(value),
                            std::optional<reference::Tensor>(tensor));
    };
    std::tie(params.queryBias, weights.queryBias) = optional("bq", 0.1);
    std::tie(params.keyBias, weights.keyBias) = optional("bk", 0.1);
    std::tie(params.valueBias, weights.valueBias) = optional("bv", 0.1);
    std::tie(params.outBias, weights.outBias) = optional("bo", 0.1);
    std::tie(params.layerNormWeight, weights.layerNormWeight) =
        optional("ln_w", 1.0);
    std::tie(params.layerNormBias, weights.layerNormBias) =
        optional("ln_b", 0.1);
    reference::BoolTensor pad =
        reference::randomBoolTensor({kBatch, kSeqLen}, seed++, 0.2);
    padding = pad.data;
    GraphMasks masks;
    masks.keyPaddingMask =
        take(graph.addInput("pad", {kBatch, kSeqLen}, ElementKind::I1));
    reference::Masks referenceMasks;
    referenceMasks.keyPaddingMask = pad;
    GraphValue attention = take(graph.addMultiheadDilatedAttention(
        config(), kHeads, x, x, x, params, masks));
    EXPECT_FALSE(graph.markOutput(
        take(graph.addRelu(take(graph.addAdd(x, attention))))));
    for (std::vector<float> &values : floats)
      inputs.push_back(values.data());
    inputs.push_back(padding.data());

    expected = take(reference::multiheadDilatedAttention(
        config(), kHeads, xRef, xRef, xRef, weights, referenceMasks));
    for (auto [out, in] : llvm::zip_equal(expected.data, xRef.data))
      out = std::max(out + in, 0.0);
  }
};

GraphCompileOptions cudaOptions(bool withChip) {
  GraphCompileOptions options;
  options.target = GraphTarget::Cuda;
  if (withChip)
    options.cudaChip = "sm_90";
  return options;
}

TEST(CudaGraph, CompilesForAChipWithoutAGpu) {
  Block block(1);
  auto compiled = block.graph.compile(cudaOptions(/*withChip=*/true));
  ASSERT_TRUE(static_cast<bool>(compiled)) << errorOf(std::move(compiled));
  CompiledGraph &graph = **compiled;
  EXPECT_EQ(graph.getTarget(), GraphTarget::Cuda);
  EXPECT_EQ(graph.getInputs().size(), 12u);
  ASSERT_EQ(graph.getOutputs().size(), 1u);
  EXPECT_EQ(graph.getOutputs()[0].shape,
            (llvm::SmallVector<int64_t, 4>{2, 96, 128}));
  EXPECT_GT(graph.getEffectiveFlops(), 0.0);
  // Projections, bias adds, mask bias, one attention launch per longnet
  // pattern, layer norm, residual, ReLU, the copy into the output.
  EXPECT_GE(graph.getNumKernelLaunches(), 12u);
  if (!haveGpu()) {
    std::vector<float> out(block.expected.data.size());
    float *outputs[] = {out.data()};
    std::string message = errorOf(graph.run(block.inputs, outputs));
    EXPECT_EQ(message.rfind("target cuda is not available", 0), 0u) << message;
  }
}

TEST(CudaGraph, RecordsLaunchesOnRealBuffers) {
  Block block(2);
  std::string text = take(block.graph.getMLIR());
  auto program =
      jit::compileCudaProgram(text, "cuda_block.mlir", "cuda_block", "sm_90");
  ASSERT_TRUE(static_cast<bool>(program)) << errorOf(std::move(program));
  const jit::CudaProgram &p = **program;
  ASSERT_FALSE(p.images.empty());
  for (const jit::CudaProgram::Image &image : p.images)
    EXPECT_FALSE(image.bytes.empty());
  for (uint64_t bytes : p.temporaryBytes)
    EXPECT_GT(bytes, 0u);
  bool writesOutput = false;
  for (const jit::CudaProgramLaunch &launch : p.launches) {
    EXPECT_LT(launch.image, p.images.size());
    EXPECT_FALSE(launch.kernelName.empty());
    for (unsigned dim : launch.grid)
      EXPECT_GE(dim, 1u);
    EXPECT_GE(launch.block[0] * launch.block[1] * launch.block[2], 1u);
    EXPECT_LE(launch.block[0] * launch.block[1] * launch.block[2], 1024u);
    for (const jit::CudaKernelArg &arg : launch.args) {
      if (!arg.isView()) {
        EXPECT_TRUE(arg.scalarBytes == 4 || arg.scalarBytes == 8);
        continue;
      }
      EXPECT_EQ(arg.sizes.size(), arg.strides.size());
      switch (arg.buffer.kind) {
      case jit::CudaBufferRef::Kind::Input:
        EXPECT_LT(arg.buffer.index, p.inputs.size());
        break;
      case jit::CudaBufferRef::Kind::Output:
        EXPECT_LT(arg.buffer.index, p.outputs.size());
        writesOutput = true;
        break;
      case jit::CudaBufferRef::Kind::Temporary:
        EXPECT_LT(arg.buffer.index, p.temporaryBytes.size());
        break;
      }
    }
  }
  EXPECT_TRUE(writesOutput);
}

TEST(CudaGraph, RefusesWhatTargetCudaCannotRun) {
  // Head dim 8: the attention kernels run 64 and 128.
  Graph graph("small_heads");
  GraphValue q = take(graph.addInput("q", {1, 32, 2, 8}));
  DilatedAttentionConfig config;
  config.segmentLengths = {16};
  config.dilationRates = {1};
  ASSERT_FALSE(
      graph.markOutput(take(graph.addDilatedAttention(config, q, q, q))));
  std::string message = errorOf(graph.compile(cudaOptions(/*withChip=*/true)));
  EXPECT_NE(message.find("head dim 8 is not supported by target cuda "
                         "(supported: 64, 128)"),
            std::string::npos)
      << message;

  // Dynamic shapes.
  const char dynamic[] = R"mlir(
func.func @f(%x: tensor<?x4xf32>) -> tensor<2x4xf32> {
  %0 = tensor.cast %x : tensor<?x4xf32> to tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
})mlir";
  message = errorOf(CompiledGraph::compileMLIR(dynamic, "dynamic.mlir", "f",
                                               cudaOptions(true)));
  EXPECT_NE(message.find("target cuda takes static shapes only"),
            std::string::npos)
      << message;

  // Without a chip the compile asks the device.
  if (!haveGpu()) {
    Block block(3);
    message = errorOf(block.graph.compile(cudaOptions(/*withChip=*/false)));
    EXPECT_EQ(message.rfind("target cuda is not available", 0), 0u) << message;
  }

  // Device buffers are 16-byte aligned (checked before any launch).
  {
    Block block(5);
    auto compiled = block.graph.compile(cudaOptions(/*withChip=*/true));
    ASSERT_TRUE(static_cast<bool>(compiled)) << errorOf(std::move(compiled));
    std::vector<uint64_t> inputs(12, 0x10000), outputs = {0x10004};
    inputs[3] = 0x10008;
    EXPECT_EQ(errorOf((*compiled)->runOnDevice(inputs, outputs)),
              "input #3 must be 16-byte aligned (as cudaMalloc's are), got "
              "0x10008");
    inputs[3] = 0x10000;
    EXPECT_EQ(errorOf((*compiled)->runOnDevice(inputs, outputs)),
              "output #0 must be 16-byte aligned (as cudaMalloc's are), got "
              "0x10004");
  }

  // runOnDevice is for graphs compiled for target cuda.
  Block block(4);
  auto onCpu = block.graph.compile();
  ASSERT_TRUE(static_cast<bool>(onCpu)) << errorOf(std::move(onCpu));
  EXPECT_EQ(errorOf((*onCpu)->runOnDevice({}, {})),
            "runOnDevice needs a graph compiled for target cuda");
}

TEST(CudaGraph, MatchesTheReferenceOnTheGpu) {
  if (!haveGpu())
    GTEST_SKIP() << "no CUDA GPU here (the GPU machine runs this test)";
  for (uint64_t seed : {10u, 20u}) {
    Block block(seed);
    auto compiled = block.graph.compile(cudaOptions(/*withChip=*/false));
    ASSERT_TRUE(static_cast<bool>(compiled)) << errorOf(std::move(compiled));
    std::vector<float> out(block.expected.data.size(), NAN);
    float *outputs[] = {out.data()};
    llvm::Error error = (*compiled)->run(block.inputs, outputs);
    ASSERT_FALSE(static_cast<bool>(error)) << errorOf(std::move(error));
    EXPECT_LE(
        reference::compare(llvm::ArrayRef<float>(out), block.expected.data)
            .relative,
        1e-5)
        << "seed " << seed;
  }
}

} // namespace
