//===- Graph.cpp - build, compile and run dataflow graphs -----------------===//
//
// A Graph owns an MLIR context and one function under construction. Each
// operation is created with the dialects' own builders and verified at once
// (the dilattn verifiers implement docs/Contract.md section 4), so a refused
// operation is erased before it can reach the function; the checks of the
// upstream pieces (linear, layer norm, add) are written here because linalg's
// verifiers would report them in linalg's terms.
//
//===----------------------------------------------------------------------===//

#include "dilattn/API/Graph.h"
#include "dilattn/Support/Error.h"

#include "CudaCompiledGraph.h"

#include "dilattn/Dialect/DilAttn/IR/DilAttn.h"
#include "dilattn/Dialect/DilAttn/Transforms/LinalgBuilders.h"
#include "dilattn/InitAll.h"
#include "dilattn/JIT/ModuleRunner.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <list>
#include <mutex>

using namespace dilattn;

//===----------------------------------------------------------------------===//
// The cache of compiled graphs
//===----------------------------------------------------------------------===//

namespace {
/// Compiled programs by MLIR text and tuning, most recently used first. A
/// graph compiled twice (by one thread or several) is compiled once; the
/// compile itself runs under the lock so that no two threads compile the
/// same program.
class CompiledModuleCache {
public:
  static CompiledModuleCache &global() {
    // Never destroyed: an ExecutionEngine torn down during static
    // destruction finalizes its JIT after LLVM's own statics are gone.
    static CompiledModuleCache *cache = new CompiledModuleCache();
    return *cache;
  }

  llvm::Expected<std::shared_ptr<jit::CompiledModule>>
  getOrCompile(const std::string &key, llvm::StringRef source,
               llvm::StringRef sourceName, llvm::StringRef entry,
               const jit::CpuTuning &tuning, bool &compiled) {
    std::lock_guard<std::mutex> lock(mutex);
    compiled = false;
    for (auto it = entries.begin(); it != entries.end(); ++it) {
      if (it->first != key)
        continue;
      entries.splice(entries.begin(), entries, it);
      return entries.front().second;
    }
    auto module =
        jit::CompiledModule::compile(source, sourceName, entry, tuning);
    if (!module)
      return module.takeError();
    compiled = true;
    entries.emplace_front(
        key, std::shared_ptr<jit::CompiledModule>(std::move(*module)));
    if (entries.size() > kCapacity)
      entries.pop_back();
    return entries.front().second;
  }

private:
  /// Each entry holds a JIT-compiled module (a few MB of code at most).
  static constexpr size_t kCapacity = 32;
  std::mutex mutex;
  std::list<std::pair<std::string, std::shared_ptr<jit::CompiledModule>>>
      entries;
};
} // namespace

//===----------------------------------------------------------------------===//
// CompiledGraph
//===----------------------------------------------------------------------===//

CompiledGraph::~CompiledGraph() = default;

llvm::ArrayRef<TensorSignature> CompiledGraph::getInputs() const {
  if (cudaProgram)
    return cudaProgram->program().inputs;
  return module->getInputs();
}

llvm::ArrayRef<TensorSignature> CompiledGraph::getOutputs() const {
  if (cudaProgram)
    return cudaProgram->program().outputs;
  return module->getOutputs();
}

double CompiledGraph::getEffectiveFlops() const {
  if (cudaProgram)
    return cudaProgram->program().effectiveFlops;
  return module->getEffectiveFlops();
}

size_t CompiledGraph::getNumKernelLaunches() const {
  return cudaProgram ? cudaProgram->program().launches.size() : 0;
}

llvm::Error CompiledGraph::runOnDevice(llvm::ArrayRef<uint64_t> inputs,
                                       llvm::ArrayRef<uint64_t> outputs,
                                       void *stream) const {
  if (!cudaProgram)
    return makeError(ErrorCode::InvalidCall,
                     "runOnDevice needs a graph compiled for target cuda");
  return detail::runOnDeviceBuffers(*cudaProgram, cudaDevice, inputs, outputs,
                                    stream);
}

llvm::Expected<std::vector<CompiledGraph::LaunchTime>>
CompiledGraph::profileOnDevice(llvm::ArrayRef<uint64_t> inputs,
                               llvm::ArrayRef<uint64_t> outputs,
                               void *stream) const {
  if (!cudaProgram)
    return makeError(ErrorCode::InvalidCall,
                     "profileOnDevice needs a graph compiled for target cuda");
  std::vector<double> ms;
  if (llvm::Error error = detail::runOnDeviceBuffers(
          *cudaProgram, cudaDevice, inputs, outputs, stream, &ms))
    return std::move(error);
  std::vector<LaunchTime> times;
  for (auto [launch, time] :
       llvm::zip_equal(cudaProgram->program().launches, ms))
    times.push_back({launch.moduleName + "::" + launch.kernelName, time});
  return times;
}

llvm::Error CompiledGraph::run(llvm::ArrayRef<const void *> inputs,
                               llvm::ArrayRef<float *> outputs) const {
  if (cudaProgram)
    return detail::runOnHostBuffers(*cudaProgram, cudaDevice, inputs, outputs);
  llvm::ArrayRef<TensorSignature> inputTypes = module->getInputs();
  llvm::ArrayRef<TensorSignature> outputTypes = module->getOutputs();
  if (inputs.size() != inputTypes.size())
    return makeError(ErrorCode::InvalidArgument,
                     llvm::formatv("the graph takes {0} inputs, got {1}",
                                   inputTypes.size(), inputs.size()));
  if (outputs.size() != outputTypes.size())
    return makeError(ErrorCode::InvalidArgument,
                     llvm::formatv("the graph has {0} outputs, got {1}",
                                   outputTypes.size(), outputs.size()));
  llvm::SmallVector<jit::ModuleBuffer> inputBuffers, outputBuffers;
  auto isEmpty = [](const TensorSignature &type) {
    return llvm::is_contained(type.shape, 0);
  };
  for (auto [index, data] : llvm::enumerate(inputs)) {
    if (!data && !isEmpty(inputTypes[index]))
      return makeError(ErrorCode::NullArgument,
                       llvm::formatv("input #{0} must not be null", index));
    jit::ModuleBuffer buffer;
    // The program only reads its inputs.
    buffer.data = const_cast<void *>(data);
    buffer.shape = inputTypes[index].shape;
    inputBuffers.push_back(std::move(buffer));
  }
  for (auto [index, data] : llvm::enumerate(outputs)) {
    if (!data && !isEmpty(outputTypes[index]))
      return makeError(ErrorCode::NullArgument,
                       llvm::formatv("output #{0} must not be null", index));
    jit::ModuleBuffer buffer;
    buffer.data = data;
    buffer.shape = outputTypes[index].shape;
    outputBuffers.push_back(std::move(buffer));
  }
  return module->run(inputBuffers, outputBuffers);
}

//===----------------------------------------------------------------------===//
// Graph
//===----------------------------------------------------------------------===//

struct Graph::Impl {
  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::func::FuncOp function;
  std::string name;
  /// Every value, indexed by GraphValue::index.
  std::vector<mlir::Value> values;
  llvm::StringMap<unsigned> inputNames;
  llvm::SmallVector<unsigned> outputs;
  /// What the verifier said since the current operation began.
  std::string diagnostics;
  std::unique_ptr<mlir::ScopedDiagnosticHandler> handler;

  mlir::Block &body() { return function.getBody().front(); }

  /// The MLIR value of `value`; `op` and `what` name the operation and the
  /// operand in messages.
  llvm::Expected<mlir::Value> get(const GraphValue &value, llvm::StringRef op,
                                  llvm::StringRef what) const {
    if (!value.isValid())
      return makeError(ErrorCode::InvalidCall,
                       llvm::formatv("{0}: {1} is not a value (a "
                                     "default-constructed GraphValue)",
                                     op, what));
    if (value.owner != this || value.index >= values.size())
      return makeError(
          ErrorCode::InvalidCall,
          llvm::formatv("{0}: {1} is a value of another graph", op, what));
    return values[value.index];
  }

  /// As get, for operands that must be f32 of rank `rank` (any when < 0).
  llvm::Expected<mlir::Value> getF32(const GraphValue &value,
                                     llvm::StringRef op, llvm::StringRef what,
                                     int64_t rank = -1) const {
    auto result = get(value, op, what);
    if (!result)
      return result.takeError();
    auto type = llvm::cast<mlir::RankedTensorType>(result->getType());
    if (!type.getElementType().isF32())
      return makeError(ErrorCode::InvalidCall,
                       llvm::formatv("{0}: {1} must be f32, got i1", op, what));
    if (rank >= 0 && type.getRank() != rank)
      return makeError(
          ErrorCode::InvalidCall,
          llvm::formatv("{0}: {1} must have rank {2}, got shape {3}", op, what,
                        rank, formatShape(type.getShape())));
    return result;
  }

  /// The masks' MLIR values (null when absent).
  llvm::Error resolveMasks(const GraphMasks &masks, llvm::StringRef opName,
                           mlir::Value &padding, mlir::Value &attnMask) const {
    padding = attnMask = mlir::Value();
    if (masks.keyPaddingMask) {
      auto value = get(*masks.keyPaddingMask, opName, "key_padding_mask");
      if (!value)
        return value.takeError();
      padding = *value;
    }
    if (masks.attnMask) {
      auto value = get(*masks.attnMask, opName, "attn_mask");
      if (!value)
        return value.takeError();
      attnMask = *value;
    }
    return llvm::Error::success();
  }

  /// The last operation of the body, where a new operation's rollback stops.
  mlir::Operation *mark() {
    diagnostics.clear();
    return body().empty() ? nullptr : &body().back();
  }

  /// Erases the operations appended after `last`, newest first.
  void rollBack(mlir::Operation *last) {
    while (!body().empty() && &body().back() != last)
      body().back().erase();
  }

  /// Verifies `op`; on failure rolls back to `last` and returns the
  /// verifier's message, prefixed by the operation's name.
  llvm::Error verify(mlir::Operation *op, mlir::Operation *last,
                     llvm::StringRef opName) {
    if (mlir::succeeded(mlir::verify(op)))
      return llvm::Error::success();
    std::string message = diagnostics;
    rollBack(last);
    // The verifier says "'dilattn.x' op <rule>": keep the rule.
    llvm::StringRef rule = message;
    size_t opPrefix = rule.find("' op ");
    if (opPrefix != llvm::StringRef::npos)
      rule = rule.drop_front(opPrefix + 5);
    return makeError(
        ErrorCode::InvalidCall,
        llvm::formatv("{0}: {1}", opName,
                      rule.empty() ? "verification failed" : rule));
  }

  GraphValue commit(mlir::Value result) {
    values.push_back(result);
    return GraphValue(this, values.size() - 1);
  }

  mlir::OpBuilder builder() { return mlir::OpBuilder::atBlockEnd(&body()); }
  mlir::Location loc(llvm::StringRef opName) {
    return mlir::NameLoc::get(mlir::StringAttr::get(context.get(), opName));
  }
};

Graph::Graph(llvm::StringRef name) : impl(std::make_unique<Impl>()) {
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  impl->context = std::make_unique<mlir::MLIRContext>(
      registry, mlir::MLIRContext::Threading::DISABLED);
  impl->context->loadAllAvailableDialects();
  impl->handler = std::make_unique<mlir::ScopedDiagnosticHandler>(
      impl->context.get(), [state = impl.get()](mlir::Diagnostic &diagnostic) {
        if (!state->diagnostics.empty())
          state->diagnostics += "; ";
        state->diagnostics += diagnostic.str();
        return mlir::success();
      });
  impl->name = name.str();
  mlir::OpBuilder builder(impl->context.get());
  mlir::Location loc = impl->loc(name);
  impl->module = mlir::ModuleOp::create(loc);
  builder.setInsertionPointToEnd(impl->module->getBody());
  impl->function = mlir::func::FuncOp::create(builder, loc, name,
                                              builder.getFunctionType({}, {}));
  impl->function.addEntryBlock();
}

Graph::~Graph() = default;
Graph::Graph(Graph &&) noexcept = default;
Graph &Graph::operator=(Graph &&) noexcept = default;

static bool isIdentifier(llvm::StringRef name) {
  if (name.empty() || !(llvm::isAlpha(name[0]) || name[0] == '_'))
    return false;
  return llvm::all_of(name,
                      [](char c) { return llvm::isAlnum(c) || c == '_'; });
}

llvm::Expected<GraphValue> Graph::addInput(llvm::StringRef name,
                                           llvm::ArrayRef<int64_t> shape,
                                           ElementKind element) {
  if (!isIdentifier(name))
    return makeError(
        ErrorCode::InvalidCall,
        llvm::formatv("input name '{0}' must match [A-Za-z_][A-Za-z0-9_]*",
                      name));
  if (impl->inputNames.count(name))
    return makeError(
        ErrorCode::InvalidCall,
        llvm::formatv("there is already an input named '{0}'", name));
  if (element != ElementKind::F32 && element != ElementKind::I1)
    return makeError(ErrorCode::InvalidCall,
                     llvm::formatv("input '{0}' must be f32 or i1, got {1}",
                                   name, stringifyElementKind(element)));
  int64_t elements = 1;
  for (auto [dim, size] : llvm::enumerate(shape)) {
    if (size < 0)
      return makeError(
          ErrorCode::InvalidCall,
          llvm::formatv("input '{0}' must have a static shape with "
                        "sizes >= 0, got {1} in dimension {2}",
                        name, size, dim));
    if (llvm::MulOverflow(elements, size, elements))
      return makeError(
          ErrorCode::InvalidCall,
          llvm::formatv("input '{0}' of shape {1} has more elements "
                        "than int64 can count",
                        name, formatShape(shape)));
  }
  mlir::Builder builder(impl->context.get());
  mlir::Type elementType = element == ElementKind::F32
                               ? mlir::Type(builder.getF32Type())
                               : mlir::Type(builder.getI1Type());
  auto type = mlir::RankedTensorType::get(shape, elementType);
  mlir::Value argument = impl->body().addArgument(type, impl->loc(name));
  impl->function.setFunctionType(builder.getFunctionType(
      llvm::to_vector(impl->body().getArgumentTypes()), {}));
  impl->inputNames[name] = impl->values.size();
  return impl->commit(argument);
}

static mlir::FloatAttr scaleAttr(mlir::MLIRContext *context,
                                 const DilatedAttentionConfig &config) {
  if (!config.scale)
    return nullptr;
  return mlir::FloatAttr::get(mlir::Float64Type::get(context), *config.scale);
}

llvm::Expected<GraphValue>
Graph::addDilatedAttention(const DilatedAttentionConfig &config,
                           GraphValue query, GraphValue key, GraphValue value,
                           const GraphMasks &masks) {
  static constexpr llvm::StringLiteral opName = "dilated_attention";
  auto q = impl->getF32(query, opName, "query");
  if (!q)
    return q.takeError();
  auto k = impl->getF32(key, opName, "key");
  if (!k)
    return k.takeError();
  auto v = impl->getF32(value, opName, "value");
  if (!v)
    return v.takeError();
  mlir::Value padding, attnMask;
  if (llvm::Error error = impl->resolveMasks(masks, opName, padding, attnMask))
    return std::move(error);
  mlir::Operation *last = impl->mark();
  mlir::OpBuilder builder = impl->builder();
  auto op = mlir::dilattn::DilatedAttentionOp::create(
      builder, impl->loc(opName), q->getType(), *q, *k, *v, padding, attnMask,
      config.segmentLengths, config.dilationRates,
      mlir::dilattn::toIR(config.mode), mlir::dilattn::toIR(config.offsetRule),
      config.causal, scaleAttr(impl->context.get(), config));
  if (llvm::Error error = impl->verify(op, last, opName))
    return std::move(error);
  return impl->commit(op.getResult());
}

llvm::Expected<GraphValue> Graph::addMultiheadDilatedAttention(
    const DilatedAttentionConfig &config, int64_t numHeads, GraphValue query,
    GraphValue key, GraphValue value, const MultiheadParams &params,
    const GraphMasks &masks) {
  static constexpr llvm::StringLiteral opName = "multihead_dilated_attention";
  if (numHeads <= 0)
    return makeError(ErrorCode::InvalidCall,
                     llvm::formatv("{0}: num_heads must be positive, got {1}",
                                   opName, numHeads));
  struct Operand {
    const GraphValue *value;
    llvm::StringLiteral what;
    mlir::Value resolved;
  };
  Operand required[] = {{&query, "query", {}},
                        {&key, "key", {}},
                        {&value, "value", {}},
                        {&params.queryWeight, "q_weight", {}},
                        {&params.keyWeight, "k_weight", {}},
                        {&params.valueWeight, "v_weight", {}},
                        {&params.outWeight, "out_weight", {}}};
  for (Operand &operand : required) {
    auto resolved = impl->getF32(*operand.value, opName, operand.what);
    if (!resolved)
      return resolved.takeError();
    operand.resolved = *resolved;
  }
  struct OptionalOperand {
    const std::optional<GraphValue> *value;
    llvm::StringLiteral what;
    mlir::Value resolved;
  };
  OptionalOperand optional[] = {
      {&params.queryBias, "q_bias", {}},
      {&params.keyBias, "k_bias", {}},
      {&params.valueBias, "v_bias", {}},
      {&params.outBias, "out_bias", {}},
      {&params.layerNormWeight, "layer_norm weight", {}},
      {&params.layerNormBias, "layer_norm bias", {}}};
  for (OptionalOperand &operand : optional) {
    if (!*operand.value)
      continue;
    auto resolved = impl->getF32(**operand.value, opName, operand.what);
    if (!resolved)
      return resolved.takeError();
    operand.resolved = *resolved;
  }
  if (static_cast<bool>(params.layerNormWeight) !=
      static_cast<bool>(params.layerNormBias))
    return makeError(
        ErrorCode::InvalidCall,
        llvm::formatv("{0}: the layer norm needs both a weight and a "
                      "bias (got only the {1})",
                      opName, params.layerNormWeight ? "weight" : "bias"));
  if (!std::isfinite(params.layerNormEps) || params.layerNormEps <= 0)
    return makeError(ErrorCode::InvalidCall,
                     llvm::formatv("{0}: layer_norm_eps must be positive and "
                                   "finite, got {1}",
                                   opName, formatNumber(params.layerNormEps)));
  mlir::Value padding, attnMask;
  if (llvm::Error error = impl->resolveMasks(masks, opName, padding, attnMask))
    return std::move(error);

  mlir::Operation *last = impl->mark();
  mlir::OpBuilder builder = impl->builder();
  auto op = mlir::dilattn::MultiheadDilatedAttentionOp::create(
      builder, impl->loc(opName), required[0].resolved.getType(),
      required[0].resolved, required[1].resolved, required[2].resolved,
      required[3].resolved, required[4].resolved, required[5].resolved,
      required[6].resolved, optional[0].resolved, optional[1].resolved,
      optional[2].resolved, optional[3].resolved, optional[4].resolved,
      optional[5].resolved, padding, attnMask, static_cast<uint64_t>(numHeads),
      config.segmentLengths, config.dilationRates,
      mlir::dilattn::toIR(config.mode), mlir::dilattn::toIR(config.offsetRule),
      config.causal, scaleAttr(impl->context.get(), config),
      llvm::APFloat(params.layerNormEps));
  if (llvm::Error error = impl->verify(op, last, opName))
    return std::move(error);
  return impl->commit(op.getResult());
}

/// The static shape of `value` as OpFoldResults, for the linalg builders.
static llvm::SmallVector<mlir::OpFoldResult>
foldedShape(mlir::Builder &builder, llvm::ArrayRef<int64_t> shape) {
  return llvm::map_to_vector(shape, [&](int64_t size) -> mlir::OpFoldResult {
    return builder.getIndexAttr(size);
  });
}

llvm::Expected<GraphValue> Graph::addLinear(GraphValue input, GraphValue weight,
                                            std::optional<GraphValue> bias) {
  static constexpr llvm::StringLiteral opName = "linear";
  auto x = impl->getF32(input, opName, "input", 3);
  if (!x)
    return x.takeError();
  auto w = impl->getF32(weight, opName, "weight", 2);
  if (!w)
    return w.takeError();
  llvm::ArrayRef<int64_t> inputShape =
      llvm::cast<mlir::RankedTensorType>(x->getType()).getShape();
  llvm::ArrayRef<int64_t> weightShape =
      llvm::cast<mlir::RankedTensorType>(w->getType()).getShape();
  if (weightShape[1] != inputShape[2])
    return makeError(
        ErrorCode::InvalidCall,
        llvm::formatv("{0}: weight must have shape (O, {1}) for an "
                      "input of shape {2}, got {3}",
                      opName, inputShape[2], formatShape(inputShape),
                      formatShape(weightShape)));
  mlir::Value b;
  if (bias) {
    auto resolved = impl->getF32(*bias, opName, "bias", 1);
    if (!resolved)
      return resolved.takeError();
    llvm::ArrayRef<int64_t> biasShape =
        llvm::cast<mlir::RankedTensorType>(resolved->getType()).getShape();
    if (biasShape[0] != weightShape[0])
      return makeError(
          ErrorCode::InvalidCall,
          llvm::formatv("{0}: bias must have shape ({1}) for a weight "
                        "of shape {2}, got {3}",
                        opName, weightShape[0], formatShape(weightShape),
                        formatShape(biasShape)));
    b = *resolved;
  }
  mlir::Operation *last = impl->mark();
  mlir::OpBuilder builder = impl->builder();
  auto shape =
      foldedShape(builder, {inputShape[0], inputShape[1], weightShape[0]});
  mlir::Value result = mlir::dilattn::buildLinear(
      builder, impl->loc(opName), *x, *w, b, shape, builder.getF32Type());
  if (llvm::Error error = impl->verify(result.getDefiningOp(), last, opName))
    return std::move(error);
  return impl->commit(result);
}

llvm::Expected<GraphValue> Graph::addLayerNorm(GraphValue input,
                                               GraphValue weight,
                                               GraphValue bias, double eps) {
  static constexpr llvm::StringLiteral opName = "layer_norm";
  auto x = impl->getF32(input, opName, "input", 3);
  if (!x)
    return x.takeError();
  llvm::ArrayRef<int64_t> inputShape =
      llvm::cast<mlir::RankedTensorType>(x->getType()).getShape();
  mlir::Value vectors[2];
  GraphValue operands[] = {weight, bias};
  for (auto [index, operand] : llvm::enumerate(operands)) {
    llvm::StringRef what = index == 0 ? "weight" : "bias";
    auto resolved = impl->getF32(operand, opName, what, 1);
    if (!resolved)
      return resolved.takeError();
    llvm::ArrayRef<int64_t> shape =
        llvm::cast<mlir::RankedTensorType>(resolved->getType()).getShape();
    if (shape[0] != inputShape[2])
      return makeError(
          ErrorCode::InvalidCall,
          llvm::formatv("{0}: {1} must have shape ({2}) for an input "
                        "of shape {3}, got {4}",
                        opName, what, inputShape[2], formatShape(inputShape),
                        formatShape(shape)));
    vectors[index] = *resolved;
  }
  if (!std::isfinite(eps) || eps <= 0)
    return makeError(
        ErrorCode::InvalidCall,
        llvm::formatv("{0}: eps must be positive and finite, got {1}", opName,
                      formatNumber(eps)));
  mlir::Operation *last = impl->mark();
  mlir::OpBuilder builder = impl->builder();
  mlir::Value result = mlir::dilattn::buildLayerNorm(
      builder, impl->loc(opName), *x, vectors[0], vectors[1],
      foldedShape(builder, inputShape), eps);
  if (llvm::Error error = impl->verify(result.getDefiningOp(), last, opName))
    return std::move(error);
  return impl->commit(result);
}

llvm::Expected<GraphValue> Graph::addAdd(GraphValue lhs, GraphValue rhs) {
  static constexpr llvm::StringLiteral opName = "add";
  auto a = impl->getF32(lhs, opName, "lhs");
  if (!a)
    return a.takeError();
  auto b = impl->getF32(rhs, opName, "rhs");
  if (!b)
    return b.takeError();
  if (a->getType() != b->getType())
    return makeError(
        ErrorCode::InvalidCall,
        llvm::formatv(
            "{0}: lhs and rhs must have the same shape, got {1} and {2}",
            opName,
            formatShape(
                llvm::cast<mlir::RankedTensorType>(a->getType()).getShape()),
            formatShape(
                llvm::cast<mlir::RankedTensorType>(b->getType()).getShape())));
  mlir::Operation *last = impl->mark();
  mlir::OpBuilder builder = impl->builder();
  auto op = mlir::arith::AddFOp::create(builder, impl->loc(opName), *a, *b);
  if (llvm::Error error = impl->verify(op, last, opName))
    return std::move(error);
  return impl->commit(op.getResult());
}

/// An elementwise linalg.generic over `input` whose body maps x to
/// `body(builder, loc, x)`.
static mlir::Value
buildElementwise(mlir::OpBuilder &builder, mlir::Location loc,
                 mlir::Value input,
                 llvm::function_ref<mlir::Value(mlir::OpBuilder &,
                                                mlir::Location, mlir::Value)>
                     body) {
  auto type = llvm::cast<mlir::RankedTensorType>(input.getType());
  mlir::Value init = mlir::tensor::EmptyOp::create(
      builder, loc, type.getShape(), type.getElementType());
  mlir::AffineMap identity =
      builder.getMultiDimIdentityMap(static_cast<unsigned>(type.getRank()));
  llvm::SmallVector<mlir::utils::IteratorType> parallel(
      type.getRank(), mlir::utils::IteratorType::parallel);
  return mlir::linalg::GenericOp::create(
             builder, loc, mlir::TypeRange{type}, mlir::ValueRange{input},
             mlir::ValueRange{init},
             llvm::ArrayRef<mlir::AffineMap>{identity, identity}, parallel,
             [&](mlir::OpBuilder &nested, mlir::Location bodyLoc,
                 mlir::ValueRange args) {
               mlir::linalg::YieldOp::create(nested, bodyLoc,
                                             body(nested, bodyLoc, args[0]));
             })
      .getResult(0);
}

static mlir::Value f32Constant(mlir::OpBuilder &builder, mlir::Location loc,
                               double value) {
  return mlir::arith::ConstantOp::create(
      builder, loc, builder.getF32FloatAttr(static_cast<float>(value)));
}

llvm::Expected<GraphValue> Graph::addRelu(GraphValue input) {
  static constexpr llvm::StringLiteral opName = "relu";
  auto x = impl->getF32(input, opName, "input");
  if (!x)
    return x.takeError();
  mlir::Operation *last = impl->mark();
  mlir::OpBuilder builder = impl->builder();
  mlir::Value result = buildElementwise(
      builder, impl->loc(opName), *x,
      [](mlir::OpBuilder &nested, mlir::Location loc, mlir::Value value) {
        // maxnumf: relu(NaN) is 0 rather than NaN, as max(x, 0) in C.
        return mlir::arith::MaxNumFOp::create(nested, loc, value,
                                              f32Constant(nested, loc, 0.0));
      });
  if (llvm::Error error = impl->verify(result.getDefiningOp(), last, opName))
    return std::move(error);
  return impl->commit(result);
}

llvm::Expected<GraphValue> Graph::addGelu(GraphValue input) {
  static constexpr llvm::StringLiteral opName = "gelu";
  auto x = impl->getF32(input, opName, "input");
  if (!x)
    return x.takeError();
  mlir::Operation *last = impl->mark();
  mlir::OpBuilder builder = impl->builder();
  mlir::Value result = buildElementwise(
      builder, impl->loc(opName), *x,
      [](mlir::OpBuilder &b, mlir::Location loc, mlir::Value value) {
        using namespace mlir::arith;
        // u = sqrt(2/pi) (x + 0.044715 x^3); tanh(u) = 1 - 2 / (exp(2u) + 1),
        // which saturates to +-1 without NaN when exp over- or underflows
        // (math.tanh has no lowering to LLVM here).
        mlir::Value cube =
            MulFOp::create(b, loc, value, MulFOp::create(b, loc, value, value));
        mlir::Value inner = AddFOp::create(
            b, loc, value,
            MulFOp::create(b, loc, f32Constant(b, loc, 0.044715), cube));
        mlir::Value twiceU = MulFOp::create(
            b, loc, f32Constant(b, loc, 2.0 * std::sqrt(2.0 / M_PI)), inner);
        mlir::Value exp = mlir::math::ExpOp::create(b, loc, twiceU);
        mlir::Value tanh = SubFOp::create(
            b, loc, f32Constant(b, loc, 1.0),
            DivFOp::create(
                b, loc, f32Constant(b, loc, 2.0),
                AddFOp::create(b, loc, exp, f32Constant(b, loc, 1.0))));
        mlir::Value half =
            MulFOp::create(b, loc, f32Constant(b, loc, 0.5), value);
        return MulFOp::create(
            b, loc, half,
            AddFOp::create(b, loc, f32Constant(b, loc, 1.0), tanh));
      });
  if (llvm::Error error = impl->verify(result.getDefiningOp(), last, opName))
    return std::move(error);
  return impl->commit(result);
}

llvm::Error Graph::markOutput(GraphValue value) {
  auto resolved = impl->getF32(value, "output", "the value");
  if (!resolved)
    return resolved.takeError();
  impl->outputs.push_back(value.index);
  return llvm::Error::success();
}

llvm::Expected<TensorSignature> Graph::getSignature(GraphValue value) const {
  auto resolved = impl->get(value, "getSignature", "the value");
  if (!resolved)
    return resolved.takeError();
  auto type = llvm::cast<mlir::RankedTensorType>(resolved->getType());
  return TensorSignature::get(type.getShape(), type.getElementType().isF32()
                                                   ? ElementKind::F32
                                                   : ElementKind::I1);
}

llvm::Expected<std::string> Graph::getMLIR() const {
  if (impl->outputs.empty())
    return makeError(ErrorCode::InvalidCall,
                     "the graph has no outputs (mark one with markOutput)");
  // The function under construction has no terminator: print a copy that
  // returns the outputs.
  mlir::OwningOpRef<mlir::ModuleOp> module = impl->module->clone();
  auto function = module->lookupSymbol<mlir::func::FuncOp>(impl->name);
  mlir::Block &body = function.getBody().front();
  llvm::SmallVector<mlir::Value> results;
  // Values map to the clone by position: the clone has the same operations
  // in the same order.
  mlir::IRMapping mapping;
  mlir::Block &original = impl->body();
  for (auto [from, to] :
       llvm::zip_equal(original.getArguments(), body.getArguments()))
    mapping.map(from, to);
  for (auto [from, to] : llvm::zip_equal(original, body))
    for (auto [result, cloned] :
         llvm::zip_equal(from.getResults(), to.getResults()))
      mapping.map(result, cloned);
  for (unsigned index : impl->outputs)
    results.push_back(mapping.lookup(impl->values[index]));
  mlir::OpBuilder builder = mlir::OpBuilder::atBlockEnd(&body);
  mlir::func::ReturnOp::create(builder, impl->loc("output"), results);
  function.setFunctionType(builder.getFunctionType(
      llvm::to_vector(body.getArgumentTypes()),
      llvm::to_vector(mlir::ValueRange(results).getTypes())));
  impl->diagnostics.clear();
  if (mlir::failed(mlir::verify(*module)))
    return makeError(ErrorCode::Internal,
                     "the graph does not verify (a bug in dilattn): " +
                         impl->diagnostics);
  std::string text;
  llvm::raw_string_ostream os(text);
  mlir::OpPrintingFlags flags;
  module->print(os, flags);
  return text;
}

llvm::Expected<std::unique_ptr<CompiledGraph>>
CompiledGraph::compileMLIR(llvm::StringRef source, llvm::StringRef sourceName,
                           llvm::StringRef entry,
                           const GraphCompileOptions &options) {
  if (options.target == GraphTarget::Cuda) {
    bool compiled = false;
    auto graph =
        detail::getCudaProgram(source, sourceName, entry, options, compiled);
    if (!graph)
      return graph.takeError();
    std::unique_ptr<CompiledGraph> result(new CompiledGraph());
    result->cudaProgram = std::move(*graph);
    result->cudaDevice = options.device;
    result->compileMs = compiled ? result->cudaProgram->program().compileMs : 0;
    return result;
  }
  const jit::CpuTuning &tuning = options.tuning;
  std::string key =
      llvm::formatv("{0}|{1}|{2},{3},{4},{5},{6}", entry, source,
                    tuning.vectorWidth, tuning.tileQueries, tuning.tileKeys,
                    tuning.blockSize, tuning.fusePatterns)
          .str();
  bool compiled = false;
  auto module = CompiledModuleCache::global().getOrCompile(
      key, source, sourceName, entry, tuning, compiled);
  if (!module)
    return module.takeError();
  for (auto [index, input] : llvm::enumerate((*module)->getInputs()))
    if (llvm::is_contained(input.shape, kDynamicSize))
      return makeError(ErrorCode::Compile,
                       llvm::formatv("argument #{0} of @{1} has shape {2}: "
                                     "programs take static shapes only",
                                     index, entry, formatShape(input.shape)));
  std::unique_ptr<CompiledGraph> result(new CompiledGraph());
  result->module = std::move(*module);
  result->compileMs = compiled ? result->module->getCompileMs() : 0;
  return result;
}

llvm::Expected<std::unique_ptr<CompiledGraph>>
Graph::compile(const GraphCompileOptions &options) const {
  auto text = getMLIR();
  if (!text)
    return text.takeError();
  return CompiledGraph::compileMLIR(*text, impl->name + ".mlir", impl->name,
                                    options);
}
