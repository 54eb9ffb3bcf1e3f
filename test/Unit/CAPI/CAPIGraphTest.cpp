//===- CAPIGraphTest.cpp - graphs and programs through the C API ----------===//
//
// The LongNet layer of examples/longnet-layer.mlir built with the C graph
// API and loaded from the MLIR file with dilattn_program_create_from_mlir:
// both match the float64 reference and each other (the C++ graph API and
// dilattn-run are checked on the same data in test/Unit/API/GraphTest.cpp).
// Every argument check of the graph functions has its status and message.
//
//===----------------------------------------------------------------------===//

#include "dilattn-c/dilattn.h"

#include "../LongNetLayer.h"

#include "gtest/gtest.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using dilattn::test::LongNetLayer;

namespace {

class CAPIGraph : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_EQ(dilattn_context_create(&ctx), DILATTN_SUCCESS);
    ASSERT_EQ(dilattn_call_create(ctx, &call), DILATTN_SUCCESS);
    LongNetLayer layer = LongNetLayer::make(0);
    ASSERT_EQ(dilattn_call_set_patterns(call, lengths, rates, 3),
              DILATTN_SUCCESS);
    ASSERT_EQ(dilattn_call_set_mode(call, DILATTN_MODE_LONGNET),
              DILATTN_SUCCESS);
  }
  void TearDown() override {
    dilattn_graph_destroy(graph);
    dilattn_call_destroy(call);
    dilattn_context_destroy(ctx);
  }

  void expectError(dilattn_status status, dilattn_status expected,
                   const std::string &message) {
    EXPECT_EQ(status, expected) << dilattn_last_error();
    EXPECT_NE(std::string(dilattn_context_last_error(ctx)).find(message),
              std::string::npos)
        << "last error: " << dilattn_context_last_error(ctx);
  }

  /// Builds the layer: the inputs of LongNetLayer in order, then the ops.
  void buildLayer() {
    ASSERT_EQ(dilattn_graph_create(ctx, "longnet_layer", &graph),
              DILATTN_SUCCESS);
    LongNetLayer layer = LongNetLayer::make(0);
    std::vector<dilattn_value> in;
    for (const LongNetLayer::Input &input : layer.inputs) {
      dilattn_value value = DILATTN_NO_VALUE;
      ASSERT_EQ(dilattn_graph_add_input(graph, input.name.c_str(),
                                        input.shape.data(), input.shape.size(),
                                        input.isBool ? DILATTN_ELEMENT_BOOL
                                                     : DILATTN_ELEMENT_F32,
                                        &value),
                DILATTN_SUCCESS)
          << dilattn_last_error();
      in.push_back(value);
    }
    // x, wq, wk, wv, wo, bq, bk, bv, bo, ln_w, ln_b, pad, w1, b1, w2, b2
    const dilattn_value weights[4] = {in[1], in[2], in[3], in[4]};
    const dilattn_value biases[4] = {in[5], in[6], in[7], in[8]};
    dilattn_value attention, h, up, act, down, y;
    ASSERT_EQ(dilattn_graph_add_multihead_dilated_attention(
                  graph, call, LongNetLayer::kHeads, in[0], in[0], in[0],
                  weights, biases, in[9], in[10], 1e-5, in[11],
                  DILATTN_NO_VALUE, &attention),
              DILATTN_SUCCESS)
        << dilattn_last_error();
    ASSERT_EQ(dilattn_graph_add_add(graph, in[0], attention, &h),
              DILATTN_SUCCESS);
    ASSERT_EQ(dilattn_graph_add_linear(graph, h, in[12], in[13], &up),
              DILATTN_SUCCESS);
    ASSERT_EQ(dilattn_graph_add_gelu(graph, up, &act), DILATTN_SUCCESS);
    ASSERT_EQ(dilattn_graph_add_linear(graph, act, in[14], in[15], &down),
              DILATTN_SUCCESS);
    ASSERT_EQ(dilattn_graph_add_add(graph, h, down, &y), DILATTN_SUCCESS);
    ASSERT_EQ(dilattn_graph_mark_output(graph, y), DILATTN_SUCCESS);
  }

  std::vector<float> run(dilattn_program *program, const LongNetLayer &layer) {
    std::vector<const void *> inputs;
    for (const LongNetLayer::Input &input : layer.inputs)
      inputs.push_back(input.isBool
                           ? static_cast<const void *>(input.bools.data())
                           : static_cast<const void *>(input.floats.data()));
    std::vector<float> out(layer.expected.data.size(), NAN);
    float *outputs[] = {out.data()};
    EXPECT_EQ(dilattn_program_run_host(program, inputs.data(), inputs.size(),
                                       outputs, 1),
              DILATTN_SUCCESS)
        << dilattn_last_error();
    return out;
  }

  dilattn_context *ctx = nullptr;
  dilattn_call *call = nullptr;
  dilattn_graph *graph = nullptr;
  const int64_t lengths[3] = {16, 32, 64};
  const int64_t rates[3] = {1, 2, 4};
};

TEST_F(CAPIGraph, LayerFromGraphAndFromMLIRMatchTheReference) {
  buildLayer();
  dilattn_program *fromGraph = nullptr;
  ASSERT_EQ(dilattn_graph_compile(graph, DILATTN_TARGET_CPU, &fromGraph),
            DILATTN_SUCCESS)
      << dilattn_last_error();

  std::ifstream file(DILATTN_EXAMPLES_DIR "/longnet-layer.mlir");
  std::stringstream text;
  text << file.rdbuf();
  std::string source = text.str();
  ASSERT_FALSE(source.empty());
  dilattn_program *fromMLIR = nullptr;
  ASSERT_EQ(dilattn_program_create_from_mlir(ctx, source.data(), source.size(),
                                             "longnet_layer",
                                             DILATTN_TARGET_CPU, &fromMLIR),
            DILATTN_SUCCESS)
      << dilattn_last_error();

  size_t count = 0;
  ASSERT_EQ(dilattn_program_num_inputs(fromMLIR, &count), DILATTN_SUCCESS);
  EXPECT_EQ(count, 16u);
  int64_t dims[4];
  size_t rank = 0;
  dilattn_element element = DILATTN_ELEMENT_F32;
  ASSERT_EQ(dilattn_program_input_shape(fromMLIR, 11, dims, 4, &rank, &element),
            DILATTN_SUCCESS);
  EXPECT_EQ(rank, 2u);
  EXPECT_EQ(element, DILATTN_ELEMENT_BOOL);
  EXPECT_EQ(dims[0], 2);
  EXPECT_EQ(dims[1], 64);
  ASSERT_EQ(dilattn_program_output_shape(fromGraph, 0, dims, 4, &rank),
            DILATTN_SUCCESS);
  EXPECT_EQ(rank, 3u);

  for (uint64_t seed : {100u, 300u}) {
    LongNetLayer layer = LongNetLayer::make(seed);
    std::vector<float> a = run(fromGraph, layer);
    std::vector<float> b = run(fromMLIR, layer);
    EXPECT_LE(dilattn::reference::compare(llvm::ArrayRef<float>(a),
                                          layer.expected.data)
                  .relative,
              1e-5);
    EXPECT_LE(dilattn::reference::compare(llvm::ArrayRef<float>(b),
                                          layer.expected.data)
                  .relative,
              1e-5);
    double worst = 0;
    for (size_t i = 0; i < a.size(); ++i)
      worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
    EXPECT_LE(worst, 1e-6);
  }
  dilattn_program_destroy(fromGraph);
  dilattn_program_destroy(fromMLIR);
}

TEST_F(CAPIGraph, PrintsMLIR) {
  buildLayer();
  size_t size = 0;
  expectError(dilattn_graph_print_mlir(graph, nullptr, 0, &size),
              DILATTN_ERROR_INVALID_ARGUMENT, "buffer too small");
  ASSERT_GT(size, 0u);
  std::vector<char> buffer(size + 1);
  ASSERT_EQ(
      dilattn_graph_print_mlir(graph, buffer.data(), buffer.size(), &size),
      DILATTN_SUCCESS);
  std::string text(buffer.data());
  EXPECT_EQ(text.size(), size);
  EXPECT_NE(text.find("func.func @longnet_layer("), std::string::npos);
  char small[8];
  expectError(dilattn_graph_print_mlir(graph, small, sizeof small, &size),
              DILATTN_ERROR_INVALID_ARGUMENT, "capacity is 8");
  EXPECT_EQ(std::string(small), text.substr(0, 7));
}

TEST_F(CAPIGraph, ArgumentChecks) {
  dilattn_graph *none = nullptr;
  expectError(dilattn_graph_create(ctx, "bad name", &none),
              DILATTN_ERROR_INVALID_ARGUMENT,
              "name 'bad name' must match [A-Za-z_][A-Za-z0-9_]*");
  EXPECT_EQ(none, nullptr);
  ASSERT_EQ(dilattn_graph_create(ctx, nullptr, &graph), DILATTN_SUCCESS);
  dilattn_value q, pad, out = 0;
  const int64_t qShape[4] = {1, 32, 2, 8}, padShape[2] = {1, 31};
  ASSERT_EQ(
      dilattn_graph_add_input(graph, "q", qShape, 4, DILATTN_ELEMENT_F32, &q),
      DILATTN_SUCCESS);
  ASSERT_EQ(dilattn_graph_add_input(graph, "pad", padShape, 2,
                                    DILATTN_ELEMENT_BOOL, &pad),
            DILATTN_SUCCESS);
  const int64_t negative[2] = {2, -3};
  expectError(dilattn_graph_add_input(graph, "n", negative, 2,
                                      DILATTN_ELEMENT_F32, &out),
              DILATTN_ERROR_INVALID_ARGUMENT,
              "shape[1] must not be negative, got -3");
  expectError(
      dilattn_graph_add_input(graph, "e", qShape, 4, (dilattn_element)7, &out),
      DILATTN_ERROR_INVALID_ARGUMENT,
      "element must be DILATTN_ELEMENT_F32 (0) or "
      "DILATTN_ELEMENT_BOOL (1), got 7");
  expectError(
      dilattn_graph_add_input(graph, "q", qShape, 4, DILATTN_ELEMENT_F32, &out),
      DILATTN_ERROR_INVALID_CALL, "there is already an input named 'q'");
  expectError(dilattn_graph_add_input(graph, nullptr, qShape, 4,
                                      DILATTN_ELEMENT_F32, &out),
              DILATTN_ERROR_NULL_ARGUMENT, "name must not be NULL");
  EXPECT_EQ(out, DILATTN_NO_VALUE);

  // Rule checks come back as invalid calls with the contract's messages.
  ASSERT_EQ(dilattn_call_set_mode(call, DILATTN_MODE_GROUPED), DILATTN_SUCCESS);
  expectError(dilattn_graph_add_dilated_attention(graph, call, q, q, q, pad,
                                                  DILATTN_NO_VALUE, &out),
              DILATTN_ERROR_INVALID_CALL,
              "dilated_attention: num_heads (2) must be >= the number of "
              "patterns (3) in grouped mode");
  ASSERT_EQ(dilattn_call_set_mode(call, DILATTN_MODE_LONGNET), DILATTN_SUCCESS);
  expectError(dilattn_graph_add_dilated_attention(graph, call, q, q, q, pad,
                                                  DILATTN_NO_VALUE, &out),
              DILATTN_ERROR_INVALID_CALL,
              "key_padding_mask must have shape (B, N) = (1, 32), got "
              "(1, 31)");
  expectError(
      dilattn_graph_add_dilated_attention(
          graph, call, q, 42, q, DILATTN_NO_VALUE, DILATTN_NO_VALUE, &out),
      DILATTN_ERROR_INVALID_ARGUMENT, "key (42) is not a value of this graph");
  expectError(dilattn_graph_add_dilated_attention(graph, call, DILATTN_NO_VALUE,
                                                  q, q, DILATTN_NO_VALUE,
                                                  DILATTN_NO_VALUE, &out),
              DILATTN_ERROR_INVALID_ARGUMENT,
              "query (-1) is not a value of this graph");
  expectError(dilattn_graph_add_relu(graph, pad, &out),
              DILATTN_ERROR_INVALID_CALL, "relu: input must be f32, got i1");
  expectError(dilattn_graph_add_multihead_dilated_attention(
                  graph, call, 2, q, q, q, nullptr, nullptr, DILATTN_NO_VALUE,
                  DILATTN_NO_VALUE, 1e-5, DILATTN_NO_VALUE, DILATTN_NO_VALUE,
                  &out),
              DILATTN_ERROR_NULL_ARGUMENT, "weights must not be NULL");

  // A graph without outputs, and targets.
  dilattn_program *program = nullptr;
  expectError(dilattn_graph_compile(graph, DILATTN_TARGET_CPU, &program),
              DILATTN_ERROR_INVALID_CALL, "the graph has no outputs");
  expectError(dilattn_graph_compile(graph, DILATTN_TARGET_CUDA, &program),
              DILATTN_ERROR_INVALID_CALL, "the graph has no outputs");
  expectError(
      dilattn_graph_compile(graph, static_cast<dilattn_target>(7), &program),
      DILATTN_ERROR_INVALID_ARGUMENT,
      "target must be DILATTN_TARGET_CPU (0) or DILATTN_TARGET_CUDA "
      "(1), got 7");
  EXPECT_EQ(program, nullptr);

  // Modules: parse errors and missing functions are compile errors.
  const char bad[] = "func.func @f( {";
  expectError(dilattn_program_create_from_mlir(ctx, bad, sizeof bad - 1, "f",
                                               DILATTN_TARGET_CPU, &program),
              DILATTN_ERROR_COMPILE, "expected");
  // Text that crashes MLIR 22's parser is refused before parsing.
  const char hazard[] = "func.func @f() attributes {a = array<index: 1>} {\n"
                        "  return\n}";
  expectError(dilattn_program_create_from_mlir(ctx, hazard, sizeof hazard - 1,
                                               "f", DILATTN_TARGET_CPU,
                                               &program),
              DILATTN_ERROR_COMPILE,
              "<source>:1:32: dense array element type must be an integer or "
              "float type of fixed width, not 'index'");
  const char relu[] =
      "func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> { return %x : "
      "tensor<4xf32> }";
  expectError(dilattn_program_create_from_mlir(ctx, relu, sizeof relu - 1, "g",
                                               DILATTN_TARGET_CPU, &program),
              DILATTN_ERROR_COMPILE, "has no function @g (functions: @f)");
  const char dynamic[] =
      "func.func @f(%x: tensor<?xf32>) -> tensor<4xf32> { %c = "
      "tensor.cast %x : tensor<?xf32> to tensor<4xf32>\n return %c : "
      "tensor<4xf32> }";
  expectError(dilattn_program_create_from_mlir(ctx, dynamic, sizeof dynamic - 1,
                                               "f", DILATTN_TARGET_CPU,
                                               &program),
              DILATTN_ERROR_COMPILE,
              "argument #0 of @f has shape (?): programs take static shapes "
              "only");

  // Runs check their counts and pointers.
  ASSERT_EQ(dilattn_program_create_from_mlir(ctx, relu, sizeof relu - 1, "f",
                                             DILATTN_TARGET_CPU, &program),
            DILATTN_SUCCESS)
      << dilattn_last_error();
  float x[4] = {1, -2, 3, -4}, y[4] = {0, 0, 0, 0};
  const void *inputs[] = {x};
  float *outputs[] = {y};
  expectError(dilattn_program_run_host(program, inputs, 2, outputs, 1),
              DILATTN_ERROR_INVALID_ARGUMENT,
              "the program takes 1 inputs, got 2");
  const void *nullInputs[] = {nullptr};
  expectError(dilattn_program_run_host(program, nullInputs, 1, outputs, 1),
              DILATTN_ERROR_NULL_ARGUMENT, "input #0 must not be null");
  int64_t dims[1];
  size_t rank = 0;
  expectError(dilattn_program_input_shape(program, 3, dims, 1, &rank, nullptr),
              DILATTN_ERROR_INVALID_ARGUMENT,
              "input index 3 is out of range (the program has 1)");
  expectError(
      dilattn_program_input_shape(program, 0, nullptr, 0, &rank, nullptr),
      DILATTN_ERROR_INVALID_ARGUMENT,
      "shape capacity 0 is below the "
      "rank 1");
  EXPECT_EQ(rank, 1u);
  ASSERT_EQ(dilattn_program_run_host(program, inputs, 1, outputs, 1),
            DILATTN_SUCCESS);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(y[i], x[i]);
  dilattn_program_destroy(program);
  dilattn_program_destroy(nullptr);
  dilattn_graph_destroy(nullptr);
}

/// A block target cuda can run (head dim 64).
constexpr char kCudaBlock[] = R"mlir(
func.func @block(%x: tensor<1x64x128xf32>, %w: tensor<128x128xf32>)
    -> tensor<1x64x128xf32> {
  %0 = dilattn.multihead_dilated_attention %x, %x, %x weights(%w, %w, %w, %w)
      num_heads = 2 segment_lengths = [32, 64] dilation_rates = [1, 2]
      : (tensor<1x64x128xf32>, tensor<1x64x128xf32>, tensor<1x64x128xf32>,
         tensor<128x128xf32>, tensor<128x128xf32>, tensor<128x128xf32>,
         tensor<128x128xf32>) -> tensor<1x64x128xf32>
  return %0 : tensor<1x64x128xf32>
}
)mlir";

TEST_F(CAPIGraph, ProgramsOnTargetCuda) {
  dilattn_program *cpu = nullptr, *cuda = nullptr;
  ASSERT_EQ(dilattn_program_create_from_mlir(ctx, kCudaBlock,
                                             sizeof kCudaBlock - 1, "block",
                                             DILATTN_TARGET_CPU, &cpu),
            DILATTN_SUCCESS)
      << dilattn_last_error();
  const uint64_t noDevice[2] = {0, 0}, noOutput[1] = {0};
  expectError(dilattn_program_run_cuda(cpu, noDevice, 2, noOutput, 1, nullptr),
              DILATTN_ERROR_INVALID_CALL,
              "needs a program compiled for DILATTN_TARGET_CUDA");
  dilattn_status status =
      dilattn_program_create_from_mlir(ctx, kCudaBlock, sizeof kCudaBlock - 1,
                                       "block", DILATTN_TARGET_CUDA, &cuda);
  if (status == DILATTN_ERROR_TARGET_UNAVAILABLE) {
    // No GPU here: the compile needs the device's chip and says so.
    expectError(status, DILATTN_ERROR_TARGET_UNAVAILABLE,
                "target cuda is not available");
    EXPECT_EQ(cuda, nullptr);
  } else {
    ASSERT_EQ(status, DILATTN_SUCCESS) << dilattn_last_error();
    dilattn::reference::Tensor x =
        dilattn::reference::randomTensor({1, 64, 128}, 11);
    dilattn::reference::Tensor w =
        dilattn::reference::randomTensor({128, 128}, 12, -0.09, 0.09);
    std::vector<float> xs(x.data.begin(), x.data.end());
    std::vector<float> ws(w.data.begin(), w.data.end());
    const void *inputs[] = {xs.data(), ws.data()};
    std::vector<float> onCpu(xs.size(), NAN), onCuda(xs.size(), NAN);
    float *cpuOut[] = {onCpu.data()}, *cudaOut[] = {onCuda.data()};
    ASSERT_EQ(dilattn_program_run_host(cpu, inputs, 2, cpuOut, 1),
              DILATTN_SUCCESS);
    ASSERT_EQ(dilattn_program_run_host(cuda, inputs, 2, cudaOut, 1),
              DILATTN_SUCCESS)
        << dilattn_last_error();
    std::vector<double> expected(onCpu.begin(), onCpu.end());
    EXPECT_LE(
        dilattn::reference::compare(llvm::ArrayRef<float>(onCuda), expected)
            .relative,
        1e-5);
    expectError(
        dilattn_program_run_cuda(cuda, noDevice, 1, noOutput, 1, nullptr),
        DILATTN_ERROR_INVALID_ARGUMENT, "takes 2 inputs, got 1");
    expectError(
        dilattn_program_run_cuda(cuda, noDevice, 2, noOutput, 1, nullptr),
        DILATTN_ERROR_NULL_ARGUMENT, "input #0 must not be null");
  }
  dilattn_program_destroy(cuda);
  dilattn_program_destroy(cpu);
}

} // namespace
