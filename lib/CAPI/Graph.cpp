//===- Graph.cpp - C API graphs -------------------------------------------===//
//
// dilattn_graph over dilattn::Graph: operands resolved from dilattn_values,
// operations added by the C++ API (whose errors carry their code), and the
// compile into a dilattn_program.
//
//===----------------------------------------------------------------------===//

#include "Handles.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

using namespace dilattn;
using namespace dilattn::capi;

namespace {
/// The GraphValue of `value`, or a failure naming `what`. DILATTN_NO_VALUE is
/// accepted only when `optional`.
dilattn_status resolveValue(std::optional<Failure> &failure,
                            const dilattn_graph *graph, dilattn_value value,
                            const char *what, bool optional,
                            std::optional<GraphValue> &result) {
  result.reset();
  if (value == DILATTN_NO_VALUE && optional)
    return DILATTN_SUCCESS;
  if (value < 0 || static_cast<size_t>(value) >= graph->values.size())
    return setFailure(
        failure, DILATTN_ERROR_INVALID_ARGUMENT,
        llvm::formatv("{0} ({1}) is not a value of this graph{2}", what, value,
                      optional ? " (DILATTN_NO_VALUE = -1 means none)" : ""));
  result = graph->values[value];
  return DILATTN_SUCCESS;
}

/// Hands out the new value of a graph operation, or records its refusal.
dilattn_status handOut(std::optional<Failure> &failure, dilattn_graph *graph,
                       llvm::Expected<GraphValue> value, dilattn_value *out) {
  if (!value)
    return setFailure(failure, value.takeError());
  if (graph->values.size() >= static_cast<size_t>(INT32_MAX))
    return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                      "the graph has more values than dilattn_value can "
                      "count");
  graph->values.push_back(*value);
  *out = static_cast<dilattn_value>(graph->values.size() - 1);
  return DILATTN_SUCCESS;
}

/// Resolves a list of (value, name, optional) operands in order.
struct Operand {
  dilattn_value value;
  const char *what;
  bool optional;
  std::optional<GraphValue> resolved;
};

dilattn_status resolveAll(std::optional<Failure> &failure,
                          const dilattn_graph *graph,
                          llvm::MutableArrayRef<Operand> operands) {
  for (Operand &operand : operands)
    if (dilattn_status status =
            resolveValue(failure, graph, operand.value, operand.what,
                         operand.optional, operand.resolved))
      return status;
  return DILATTN_SUCCESS;
}

/// Graph masks from two resolved optional operands.
GraphMasks masksOf(const Operand &keyPadding, const Operand &attn) {
  GraphMasks masks;
  masks.keyPaddingMask = keyPadding.resolved;
  masks.attnMask = attn.resolved;
  return masks;
}
} // namespace

extern "C" dilattn_status dilattn_graph_create(dilattn_context *ctx,
                                               const char *name,
                                               dilattn_graph **out) {
  return guarded(ctx, [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(ctx, "ctx");
    DILATTN_REQUIRE(out, "out");
    *out = nullptr;
    llvm::StringRef functionName = name ? name : "graph";
    bool valid = !functionName.empty() &&
                 (llvm::isAlpha(functionName[0]) || functionName[0] == '_') &&
                 llvm::all_of(functionName, [](char c) {
                   return llvm::isAlnum(c) || c == '_';
                 });
    if (!valid)
      return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                        llvm::formatv("name '{0}' must match "
                                      "[A-Za-z_][A-Za-z0-9_]*",
                                      functionName));
    auto graph = std::unique_ptr<dilattn_graph>(
        new dilattn_graph{ctx, Graph(functionName), {}});
    *out = graph.release();
    return DILATTN_SUCCESS;
  });
}

extern "C" void dilattn_graph_destroy(dilattn_graph *graph) { delete graph; }

extern "C" dilattn_status
dilattn_graph_add_input(dilattn_graph *graph, const char *name,
                        const int64_t *shape, size_t rank,
                        dilattn_element element, dilattn_value *out) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    DILATTN_REQUIRE(name, "name");
    DILATTN_REQUIRE(out, "out");
    *out = DILATTN_NO_VALUE;
    if (rank > 64)
      return setFailure(
          failure, DILATTN_ERROR_INVALID_ARGUMENT,
          llvm::formatv("rank must be at most 64, got {0}", rank));
    llvm::SmallVector<int64_t, 4> sizes;
    static const int64_t kScalar[1] = {0};
    if (dilattn_status status =
            checkShape(failure, "shape", rank == 0 && !shape ? kScalar : shape,
                       rank, sizes))
      return status;
    if (element != DILATTN_ELEMENT_F32 && element != DILATTN_ELEMENT_BOOL)
      return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                        llvm::formatv("element must be DILATTN_ELEMENT_F32 "
                                      "(0) or DILATTN_ELEMENT_BOOL (1), got "
                                      "{0}",
                                      static_cast<int>(element)));
    return handOut(failure, graph,
                   graph->graph.addInput(name, sizes,
                                         element == DILATTN_ELEMENT_F32
                                             ? ElementKind::F32
                                             : ElementKind::I1),
                   out);
  });
}

extern "C" dilattn_status dilattn_graph_add_dilated_attention(
    dilattn_graph *graph, const dilattn_call *call, dilattn_value query,
    dilattn_value key, dilattn_value value, dilattn_value key_padding_mask,
    dilattn_value attn_mask, dilattn_value *out) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    DILATTN_REQUIRE(call, "call");
    DILATTN_REQUIRE(out, "out");
    *out = DILATTN_NO_VALUE;
    Operand operands[] = {{query, "query", false, {}},
                          {key, "key", false, {}},
                          {value, "value", false, {}},
                          {key_padding_mask, "key_padding_mask", true, {}},
                          {attn_mask, "attn_mask", true, {}}};
    if (dilattn_status status = resolveAll(failure, graph, operands))
      return status;
    return handOut(failure, graph,
                   graph->graph.addDilatedAttention(
                       call->config, *operands[0].resolved,
                       *operands[1].resolved, *operands[2].resolved,
                       masksOf(operands[3], operands[4])),
                   out);
  });
}

extern "C" dilattn_status dilattn_graph_add_multihead_dilated_attention(
    dilattn_graph *graph, const dilattn_call *call, int64_t num_heads,
    dilattn_value query, dilattn_value key, dilattn_value value,
    const dilattn_value weights[4], const dilattn_value *biases,
    dilattn_value layer_norm_weight, dilattn_value layer_norm_bias,
    double layer_norm_eps, dilattn_value key_padding_mask,
    dilattn_value attn_mask, dilattn_value *out) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    DILATTN_REQUIRE(call, "call");
    DILATTN_REQUIRE(weights, "weights");
    DILATTN_REQUIRE(out, "out");
    *out = DILATTN_NO_VALUE;
    const dilattn_value none[4] = {DILATTN_NO_VALUE, DILATTN_NO_VALUE,
                                   DILATTN_NO_VALUE, DILATTN_NO_VALUE};
    const dilattn_value *bias = biases ? biases : none;
    Operand operands[] = {{query, "query", false, {}},
                          {key, "key", false, {}},
                          {value, "value", false, {}},
                          {weights[0], "weights[0]", false, {}},
                          {weights[1], "weights[1]", false, {}},
                          {weights[2], "weights[2]", false, {}},
                          {weights[3], "weights[3]", false, {}},
                          {bias[0], "biases[0]", true, {}},
                          {bias[1], "biases[1]", true, {}},
                          {bias[2], "biases[2]", true, {}},
                          {bias[3], "biases[3]", true, {}},
                          {layer_norm_weight, "layer_norm_weight", true, {}},
                          {layer_norm_bias, "layer_norm_bias", true, {}},
                          {key_padding_mask, "key_padding_mask", true, {}},
                          {attn_mask, "attn_mask", true, {}}};
    if (dilattn_status status = resolveAll(failure, graph, operands))
      return status;
    MultiheadParams params;
    params.queryWeight = *operands[3].resolved;
    params.keyWeight = *operands[4].resolved;
    params.valueWeight = *operands[5].resolved;
    params.outWeight = *operands[6].resolved;
    params.queryBias = operands[7].resolved;
    params.keyBias = operands[8].resolved;
    params.valueBias = operands[9].resolved;
    params.outBias = operands[10].resolved;
    params.layerNormWeight = operands[11].resolved;
    params.layerNormBias = operands[12].resolved;
    params.layerNormEps = layer_norm_eps;
    return handOut(failure, graph,
                   graph->graph.addMultiheadDilatedAttention(
                       call->config, num_heads, *operands[0].resolved,
                       *operands[1].resolved, *operands[2].resolved, params,
                       masksOf(operands[13], operands[14])),
                   out);
  });
}

extern "C" dilattn_status dilattn_graph_add_linear(dilattn_graph *graph,
                                                   dilattn_value input,
                                                   dilattn_value weight,
                                                   dilattn_value bias,
                                                   dilattn_value *out) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    DILATTN_REQUIRE(out, "out");
    *out = DILATTN_NO_VALUE;
    Operand operands[] = {{input, "input", false, {}},
                          {weight, "weight", false, {}},
                          {bias, "bias", true, {}}};
    if (dilattn_status status = resolveAll(failure, graph, operands))
      return status;
    return handOut(failure, graph,
                   graph->graph.addLinear(*operands[0].resolved,
                                          *operands[1].resolved,
                                          operands[2].resolved),
                   out);
  });
}

extern "C" dilattn_status
dilattn_graph_add_layer_norm(dilattn_graph *graph, dilattn_value input,
                             dilattn_value weight, dilattn_value bias,
                             double eps, dilattn_value *out) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    DILATTN_REQUIRE(out, "out");
    *out = DILATTN_NO_VALUE;
    Operand operands[] = {{input, "input", false, {}},
                          {weight, "weight", false, {}},
                          {bias, "bias", false, {}}};
    if (dilattn_status status = resolveAll(failure, graph, operands))
      return status;
    return handOut(failure, graph,
                   graph->graph.addLayerNorm(*operands[0].resolved,
                                             *operands[1].resolved,
                                             *operands[2].resolved, eps),
                   out);
  });
}

extern "C" dilattn_status dilattn_graph_add_add(dilattn_graph *graph,
                                                dilattn_value lhs,
                                                dilattn_value rhs,
                                                dilattn_value *out) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    DILATTN_REQUIRE(out, "out");
    *out = DILATTN_NO_VALUE;
    Operand operands[] = {{lhs, "lhs", false, {}}, {rhs, "rhs", false, {}}};
    if (dilattn_status status = resolveAll(failure, graph, operands))
      return status;
    return handOut(
        failure, graph,
        graph->graph.addAdd(*operands[0].resolved, *operands[1].resolved), out);
  });
}

namespace {
/// The two elementwise activations share their checks.
template <typename Add>
dilattn_status addUnary(dilattn_graph *graph, dilattn_value input,
                        dilattn_value *out, Add add) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    DILATTN_REQUIRE(out, "out");
    *out = DILATTN_NO_VALUE;
    Operand operands[] = {{input, "input", false, {}}};
    if (dilattn_status status = resolveAll(failure, graph, operands))
      return status;
    return handOut(failure, graph, add(*operands[0].resolved), out);
  });
}
} // namespace

extern "C" dilattn_status dilattn_graph_add_relu(dilattn_graph *graph,
                                                 dilattn_value input,
                                                 dilattn_value *out) {
  return addUnary(graph, input, out,
                  [&](GraphValue x) { return graph->graph.addRelu(x); });
}

extern "C" dilattn_status dilattn_graph_add_gelu(dilattn_graph *graph,
                                                 dilattn_value input,
                                                 dilattn_value *out) {
  return addUnary(graph, input, out,
                  [&](GraphValue x) { return graph->graph.addGelu(x); });
}

extern "C" dilattn_status dilattn_graph_mark_output(dilattn_graph *graph,
                                                    dilattn_value value) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    Operand operands[] = {{value, "value", false, {}}};
    if (dilattn_status status = resolveAll(failure, graph, operands))
      return status;
    if (llvm::Error error = graph->graph.markOutput(*operands[0].resolved))
      return setFailure(failure, std::move(error));
    return DILATTN_SUCCESS;
  });
}

extern "C" dilattn_status dilattn_graph_print_mlir(dilattn_graph *graph,
                                                   char *buffer,
                                                   size_t capacity,
                                                   size_t *size) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    DILATTN_REQUIRE(size, "size");
    if (capacity > 0)
      DILATTN_REQUIRE(buffer, "buffer");
    *size = 0;
    auto text = graph->graph.getMLIR();
    if (!text)
      return setFailure(failure, text.takeError());
    *size = text->size();
    if (capacity == 0)
      return text->empty() ? DILATTN_SUCCESS
                           : setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                                        llvm::formatv("buffer too small: the "
                                                      "MLIR needs {0} bytes "
                                                      "and a NUL",
                                                      text->size()));
    size_t copied = std::min(capacity - 1, text->size());
    std::memcpy(buffer, text->data(), copied);
    buffer[copied] = '\0';
    if (copied < text->size())
      return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                        llvm::formatv("buffer too small: the MLIR needs {0} "
                                      "bytes and a NUL, capacity is {1}",
                                      text->size(), capacity));
    return DILATTN_SUCCESS;
  });
}

extern "C" dilattn_status dilattn_graph_compile(dilattn_graph *graph,
                                                dilattn_target target,
                                                dilattn_program **out) {
  return guarded(contextOf(graph), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(graph, "graph");
    DILATTN_REQUIRE(out, "out");
    *out = nullptr;
    GraphCompileOptions options;
    if (dilattn_status status = graphOptions(failure, target, options))
      return status;
    auto compiled = graph->graph.compile(options);
    if (!compiled)
      return setFailure(failure, compiled.takeError());
    *out = new dilattn_program{graph->context, std::move(*compiled)};
    return DILATTN_SUCCESS;
  });
}
