//===- GraphTest.cpp - the graph-building C++ API -------------------------===//
//
// A LongNet layer built with dilattn::Graph runs and matches the float64
// reference; the same layer written in MLIR (examples/longnet-layer.mlir)
// and run by the real dilattn-run gives the same output; every refused
// operation says why and leaves the graph unchanged; compiled graphs are
// cached and may be run by many threads at once.
//
//===----------------------------------------------------------------------===//

#include "dilattn/API/Graph.h"
#include "dilattn/Support/Npy.h"

#include "../LongNetLayer.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

#include "gtest/gtest.h"

#include <thread>

using namespace dilattn;
using dilattn::test::LongNetLayer;

namespace {

/// Unwraps an Expected in a test, failing with its message.
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

/// The layer of examples/longnet-layer.mlir, built op by op.
Graph buildLayer() {
  Graph graph("longnet_layer");
  std::vector<GraphValue> inputs;
  LongNetLayer shapes = LongNetLayer::make(0);
  for (const LongNetLayer::Input &input : shapes.inputs)
    inputs.push_back(take(
        graph.addInput(input.name, input.shape,
                       input.isBool ? ElementKind::I1 : ElementKind::F32)));
  auto in = [&](llvm::StringRef name) {
    for (auto [input, value] : llvm::zip_equal(shapes.inputs, inputs))
      if (input.name == name)
        return value;
    ADD_FAILURE() << "no input " << name.str();
    return GraphValue();
  };
  MultiheadParams params;
  params.queryWeight = in("wq");
  params.keyWeight = in("wk");
  params.valueWeight = in("wv");
  params.outWeight = in("wo");
  params.queryBias = in("bq");
  params.keyBias = in("bk");
  params.valueBias = in("bv");
  params.outBias = in("bo");
  params.layerNormWeight = in("ln_w");
  params.layerNormBias = in("ln_b");
  GraphMasks masks;
  masks.keyPaddingMask = in("pad");
  GraphValue x = in("x");
  GraphValue attention = take(graph.addMultiheadDilatedAttention(
      LongNetLayer::config(), LongNetLayer::kHeads, x, x, x, params, masks));
  GraphValue h = take(graph.addAdd(x, attention));
  GraphValue up = take(graph.addLinear(h, in("w1"), in("b1")));
  GraphValue down =
      take(graph.addLinear(take(graph.addGelu(up)), in("w2"), in("b2")));
  EXPECT_FALSE(graph.markOutput(take(graph.addAdd(h, down))));
  return graph;
}

std::vector<const void *> pointersOf(const LongNetLayer &layer) {
  std::vector<const void *> pointers;
  for (const LongNetLayer::Input &input : layer.inputs)
    pointers.push_back(input.isBool
                           ? static_cast<const void *>(input.bools.data())
                           : static_cast<const void *>(input.floats.data()));
  return pointers;
}

double maxAbsDiff(llvm::ArrayRef<float> a, llvm::ArrayRef<float> b) {
  if (a.size() != b.size())
    return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
  return worst;
}

TEST(Graph, LongNetLayerMatchesTheReference) {
  Graph graph = buildLayer();
  auto compiled = graph.compile();
  ASSERT_TRUE(static_cast<bool>(compiled)) << errorOf(std::move(compiled));
  EXPECT_EQ((*compiled)->getInputs().size(), 16u);
  ASSERT_EQ((*compiled)->getOutputs().size(), 1u);
  EXPECT_EQ((*compiled)->getOutputs()[0].shape,
            (llvm::SmallVector<int64_t, 4>{2, 64, 32}));
  EXPECT_GT((*compiled)->getEffectiveFlops(), 0.0);

  for (uint64_t seed : {100u, 200u}) {
    LongNetLayer layer = LongNetLayer::make(seed);
    std::vector<float> out(layer.expected.data.size(), NAN);
    float *outputs[] = {out.data()};
    std::vector<LongNetLayer::Input> before = layer.inputs;
    llvm::Error error = (*compiled)->run(pointersOf(layer), outputs);
    ASSERT_FALSE(static_cast<bool>(error)) << errorOf(std::move(error));
    reference::ErrorStats stats =
        reference::compare(llvm::ArrayRef<float>(out), layer.expected.data);
    EXPECT_LE(stats.relative, 1e-5) << "seed " << seed;
    // A run only reads its inputs (bufferization could otherwise compute
    // the residual add in place in x).
    for (auto [was, is] : llvm::zip_equal(before, layer.inputs)) {
      EXPECT_EQ(was.floats, is.floats) << "input " << is.name << " changed";
      EXPECT_EQ(was.bools, is.bools) << "input " << is.name << " changed";
    }
  }
}

TEST(Graph, SameLayerInMLIRThroughDilattnRun) {
  LongNetLayer layer = LongNetLayer::make(300);
  Graph graph = buildLayer();
  auto compiled = graph.compile();
  ASSERT_TRUE(static_cast<bool>(compiled)) << errorOf(std::move(compiled));
  std::vector<float> fromGraph(layer.expected.data.size());
  float *outputs[] = {fromGraph.data()};
  ASSERT_FALSE(static_cast<bool>((*compiled)->run(pointersOf(layer), outputs)));

  // The inputs as .npy files, then the real tool on the MLIR file.
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("dilattn-graph", dir));
  std::string inputList;
  for (const LongNetLayer::Input &input : layer.inputs) {
    llvm::SmallString<128> path(dir);
    llvm::sys::path::append(path, input.name + ".npy");
    npy::Array array;
    array.dtype = input.isBool ? npy::DType::Bool : npy::DType::F32;
    array.shape = input.shape;
    if (input.isBool)
      array.bytes = input.bools;
    else
      array.bytes.assign(reinterpret_cast<const uint8_t *>(input.floats.data()),
                         reinterpret_cast<const uint8_t *>(
                             input.floats.data() + input.floats.size()));
    ASSERT_FALSE(static_cast<bool>(npy::writeNpy(path, array)));
    inputList += (inputList.empty() ? "" : ",") + std::string(path);
  }
  llvm::SmallString<128> outPath(dir);
  llvm::sys::path::append(outPath, "y.npy");
  std::string inputsArg = "--inputs=" + inputList;
  std::string outputsArg = "--outputs=" + std::string(outPath);
  llvm::SmallVector<llvm::StringRef> args = {
      DILATTN_RUN_PATH, DILATTN_EXAMPLES_DIR "/longnet-layer.mlir",
      "--entry=longnet_layer", inputsArg, outputsArg};
  std::string message;
  int status = llvm::sys::ExecuteAndWait(DILATTN_RUN_PATH, args, std::nullopt,
                                         {}, 0, 0, &message);
  ASSERT_EQ(status, 0) << message;
  auto written = npy::readNpy(outPath);
  ASSERT_TRUE(static_cast<bool>(written)) << errorOf(std::move(written));
  std::vector<float> fromTool = written->toFloat32();
  llvm::sys::fs::remove_directories(dir);

  EXPECT_LE(
      reference::compare(llvm::ArrayRef<float>(fromTool), layer.expected.data)
          .relative,
      1e-5);
  // The two are the same computation written two ways: equal to rounding.
  EXPECT_LE(maxAbsDiff(fromTool, fromGraph), 1e-6);
}

TEST(Graph, PrintsMLIRThatDilattnOptAccepts) {
  Graph graph = buildLayer();
  std::string text = take(graph.getMLIR());
  EXPECT_NE(text.find("func.func @longnet_layer("), std::string::npos);
  EXPECT_NE(text.find("dilattn.multihead_dilated_attention"),
            std::string::npos);
  EXPECT_NE(text.find("linalg.contract"), std::string::npos);
  EXPECT_NE(text.find("return"), std::string::npos);
}

TEST(Graph, RefusedOperationsSayWhyAndChangeNothing) {
  Graph graph("g");
  GraphValue q = take(graph.addInput("q", {1, 32, 2, 8}));
  GraphValue pad = take(graph.addInput("pad", {1, 31}, ElementKind::I1));
  GraphValue x = take(graph.addInput("x", {1, 32, 16}));
  GraphValue w = take(graph.addInput("w", {8, 12}));
  EXPECT_FALSE(graph.markOutput(x));
  std::string before = take(graph.getMLIR());

  DilatedAttentionConfig config;
  config.segmentLengths = {8, 16};
  config.dilationRates = {1, 0};
  EXPECT_EQ(errorOf(graph.addDilatedAttention(config, q, q, q)),
            "dilated_attention: dilation_rates[1] must be positive, got 0");
  config.dilationRates = {1};
  EXPECT_EQ(errorOf(graph.addDilatedAttention(config, q, q, q)),
            "dilated_attention: segment_lengths and dilation_rates must have "
            "the same length (2 vs 1)");
  config.dilationRates = {1, 2};
  GraphMasks masks;
  masks.keyPaddingMask = pad;
  EXPECT_EQ(errorOf(graph.addDilatedAttention(config, q, q, q, masks)),
            "dilated_attention: key_padding_mask must have shape (B, N) = "
            "(1, 32), got (1, 31)");
  config.segmentLengths = {8, 16, 32};
  config.dilationRates = {1, 2, 4};
  EXPECT_EQ(errorOf(graph.addDilatedAttention(config, q, q, q)),
            "dilated_attention: num_heads (2) must be >= the number of "
            "patterns (3) in grouped mode");
  EXPECT_EQ(errorOf(graph.addLinear(x, w)),
            "linear: weight must have shape (O, 16) for an input of shape "
            "(1, 32, 16), got (8, 12)");
  EXPECT_EQ(errorOf(graph.addLinear(q, w)),
            "linear: input must have rank 3, got shape (1, 32, 2, 8)");
  EXPECT_EQ(errorOf(graph.addAdd(x, q)),
            "add: lhs and rhs must have the same shape, got (1, 32, 16) and "
            "(1, 32, 2, 8)");
  EXPECT_EQ(errorOf(graph.addRelu(pad)), "relu: input must be f32, got i1");
  EXPECT_EQ(errorOf(graph.addLayerNorm(x, w, w, 1e-5)),
            "layer_norm: weight must have rank 1, got shape (8, 12)");
  EXPECT_EQ(errorOf(graph.addInput("q", {1})),
            "there is already an input named 'q'");
  EXPECT_EQ(errorOf(graph.addInput("bad name", {1})),
            "input name 'bad name' must match [A-Za-z_][A-Za-z0-9_]*");
  EXPECT_EQ(errorOf(graph.addInput("neg", {2, -1})),
            "input 'neg' must have a static shape with sizes >= 0, got -1 in "
            "dimension 1");
  Graph other("other");
  GraphValue foreign = take(other.addInput("x", {1, 32, 16}));
  EXPECT_EQ(errorOf(graph.addAdd(x, foreign)),
            "add: rhs is a value of another graph");
  EXPECT_EQ(errorOf(graph.addRelu(GraphValue())),
            "relu: input is not a value (a default-constructed GraphValue)");
  EXPECT_EQ(errorOf(graph.markOutput(pad)), "output: the value must be f32, "
                                            "got i1");

  // Nothing of the refused operations is left in the function.
  EXPECT_EQ(take(graph.getMLIR()), before);

  Graph empty("empty");
  EXPECT_EQ(errorOf(empty.compile()),
            "the graph has no outputs (mark one with markOutput)");
}

TEST(Graph, RunChecksItsBuffers) {
  Graph graph("relu_graph");
  GraphValue x = take(graph.addInput("x", {2, 3, 4}));
  EXPECT_FALSE(graph.markOutput(take(graph.addRelu(x))));
  auto compiled = graph.compile();
  ASSERT_TRUE(static_cast<bool>(compiled)) << errorOf(std::move(compiled));
  std::vector<float> in(24), out(24, NAN);
  for (size_t i = 0; i < in.size(); ++i)
    in[i] = static_cast<float>(i) - 11.5f;
  float *outputs[] = {out.data()};
  EXPECT_EQ(errorOf((*compiled)->run({}, outputs)),
            "the graph takes 1 inputs, got 0");
  EXPECT_EQ(errorOf((*compiled)->run({nullptr}, outputs)),
            "input #0 must not be null");
  float *nullOutputs[] = {nullptr};
  EXPECT_EQ(errorOf((*compiled)->run({in.data()}, nullOutputs)),
            "output #0 must not be null");
  ASSERT_FALSE(static_cast<bool>((*compiled)->run({in.data()}, outputs)));
  for (size_t i = 0; i < in.size(); ++i)
    EXPECT_EQ(out[i], std::max(in[i], 0.0f));
}

TEST(Graph, CompiledGraphsAreCachedAndShareableAcrossThreads) {
  Graph first = buildLayer();
  auto compiled = first.compile();
  ASSERT_TRUE(static_cast<bool>(compiled)) << errorOf(std::move(compiled));
  // The same graph built again compiles to the cached program.
  Graph second = buildLayer();
  auto again = second.compile();
  ASSERT_TRUE(static_cast<bool>(again)) << errorOf(std::move(again));
  EXPECT_EQ((*again)->getCompileMs(), 0.0);

  LongNetLayer layer = LongNetLayer::make(400);
  std::vector<const void *> inputs = pointersOf(layer);
  constexpr int kThreads = 4;
  std::vector<std::vector<float>> outs(
      kThreads, std::vector<float>(layer.expected.data.size(), NAN));
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      const CompiledGraph &graph = t % 2 ? **compiled : **again;
      for (int rep = 0; rep < 3; ++rep) {
        float *outputs[] = {outs[t].data()};
        if (llvm::Error error = graph.run(inputs, outputs))
          errors[t] = llvm::toString(std::move(error));
      }
    });
  for (std::thread &thread : threads)
    thread.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(errors[t], "");
    EXPECT_LE(
        reference::compare(llvm::ArrayRef<float>(outs[t]), layer.expected.data)
            .relative,
        1e-5);
    EXPECT_EQ(outs[t], outs[0]);
  }
}

} // namespace
