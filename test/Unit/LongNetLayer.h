//===- LongNetLayer.h - the LongNet layer of examples/longnet-layer.mlir --===//
//
// The inputs and the float64 reference of the LongNet layer that
// examples/longnet-layer.mlir writes in MLIR and the graph tests build with
// the C++ and C APIs, so that all of them are checked on the very same data:
//
//   h = x + MultiheadDilatedAttention(x)   (biases, sub-layer norm, padding)
//   y = h + W2 gelu(W1 h + b1) + b2
//
// Header-only; needs DilAttnReference.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_TEST_UNIT_LONGNETLAYER_H
#define DILATTN_TEST_UNIT_LONGNETLAYER_H

#include "dilattn/Reference/Reference.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace dilattn::test {

struct LongNetLayer {
  static constexpr int64_t kBatch = 2, kSeqLen = 64, kEmbed = 32, kHeads = 4,
                           kHidden = 64;

  /// The inputs in the order of @longnet_layer's arguments.
  struct Input {
    std::string name;
    std::vector<int64_t> shape;
    bool isBool = false;
    std::vector<float> floats;  // f32 inputs
    std::vector<uint8_t> bools; // i1 inputs, one byte each
  };
  std::vector<Input> inputs;
  /// The float64 reference output (B, N, E).
  reference::Tensor expected;

  static DilatedAttentionConfig config() {
    DilatedAttentionConfig config;
    config.segmentLengths = {16, 32, 64};
    config.dilationRates = {1, 2, 4};
    config.mode = AttentionMode::LongNet;
    return config;
  }

  /// Random inputs (fresh per seed, never zero) and their reference.
  static LongNetLayer make(uint64_t seed) {
    LongNetLayer layer;
    auto f32 = [&](const std::string &name, std::vector<int64_t> shape,
                   double scale) {
      reference::Tensor tensor =
          reference::randomTensor(shape, seed++, -scale, scale);
      for (double &x : tensor.data)
        x = static_cast<float>(x);
      Input input;
      input.name = name;
      input.shape = shape;
      input.floats.assign(tensor.data.begin(), tensor.data.end());
      layer.inputs.push_back(std::move(input));
      return tensor;
    };
    const double embedScale = 1.0 / std::sqrt(double(kEmbed));
    const double hiddenScale = 1.0 / std::sqrt(double(kHidden));
    reference::Tensor x = f32("x", {kBatch, kSeqLen, kEmbed}, 1.0);
    reference::MultiheadWeights weights;
    weights.queryWeight = f32("wq", {kEmbed, kEmbed}, embedScale);
    weights.keyWeight = f32("wk", {kEmbed, kEmbed}, embedScale);
    weights.valueWeight = f32("wv", {kEmbed, kEmbed}, embedScale);
    weights.outWeight = f32("wo", {kEmbed, kEmbed}, embedScale);
    weights.queryBias = f32("bq", {kEmbed}, 0.1);
    weights.keyBias = f32("bk", {kEmbed}, 0.1);
    weights.valueBias = f32("bv", {kEmbed}, 0.1);
    weights.outBias = f32("bo", {kEmbed}, 0.1);
    weights.layerNormWeight = f32("ln_w", {kEmbed}, 1.0);
    weights.layerNormBias = f32("ln_b", {kEmbed}, 0.1);
    reference::BoolTensor pad =
        reference::randomBoolTensor({kBatch, kSeqLen}, seed++, 0.25);
    Input padInput;
    padInput.name = "pad";
    padInput.shape = {kBatch, kSeqLen};
    padInput.isBool = true;
    for (bool value : pad.data)
      padInput.bools.push_back(value ? 1 : 0);
    layer.inputs.push_back(std::move(padInput));
    reference::Tensor w1 = f32("w1", {kHidden, kEmbed}, embedScale);
    reference::Tensor b1 = f32("b1", {kHidden}, 0.1);
    reference::Tensor w2 = f32("w2", {kEmbed, kHidden}, hiddenScale);
    reference::Tensor b2 = f32("b2", {kEmbed}, 0.1);

    reference::Masks masks;
    masks.keyPaddingMask = pad;
    auto attention = reference::multiheadDilatedAttention(config(), kHeads, x,
                                                          x, x, weights, masks);
    reference::Tensor h = x;
    if (attention)
      for (size_t i = 0; i < h.data.size(); ++i)
        h.data[i] += attention->data[i];
    else
      llvm::consumeError(attention.takeError());
    reference::Tensor feedForward = reference::linear(
        reference::geluTanh(reference::linear(h, w1, b1)), w2, b2);
    layer.expected = h;
    for (size_t i = 0; i < h.data.size(); ++i)
      layer.expected.data[i] += feedForward.data[i];
    return layer;
  }

  const Input &input(const std::string &name) const {
    for (const Input &input : inputs)
      if (input.name == name)
        return input;
    return inputs.front();
  }
};

} // namespace dilattn::test

#endif // DILATTN_TEST_UNIT_LONGNETLAYER_H
