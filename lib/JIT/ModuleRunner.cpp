//===- ModuleRunner.cpp - compile and run whole functions -----------------===//

#include "dilattn/JIT/ModuleRunner.h"
#include "dilattn/Support/Error.h"

#include "HostEngine.h"

#include "dilattn/Dialect/DilAttn/IR/DilAttn.h"
#include "dilattn/InitAll.h"
#include "dilattn/Pipelines/Pipelines.h"
#include "dilattn/Runtime/CpuRuntime.h"
#include "dilattn/Support/ParserHazards.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/Mangling.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Target/TargetMachine.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <limits>
#include <thread>

using namespace dilattn;
using namespace dilattn::jit;

struct CompiledModule::Impl {
  std::unique_ptr<mlir::ExecutionEngine> engine;
};

CompiledModule::CompiledModule() : impl(std::make_unique<Impl>()) {}
CompiledModule::~CompiledModule() = default;

/// The signature of a function argument or result type, or an error naming
/// what is not supported.
static llvm::Expected<TensorSignature> signatureOf(mlir::Type type,
                                                   llvm::StringRef what) {
  auto tensor = llvm::dyn_cast<mlir::RankedTensorType>(type);
  if (!tensor || !(tensor.getElementType().isF32() ||
                   tensor.getElementType().isInteger(1))) {
    std::string text;
    llvm::raw_string_ostream(text) << type;
    return makeError(ErrorCode::Compile,
                     what + " must be a ranked tensor of f32 or i1, got " +
                         text);
  }
  TensorSignature signature;
  for (int64_t size : tensor.getShape())
    signature.shape.push_back(mlir::ShapedType::isDynamic(size) ? kDynamicSize
                                                                : size);
  signature.element =
      tensor.getElementType().isF32() ? ElementKind::F32 : ElementKind::I1;
  return signature;
}

/// docs/Contract.md section 5's FLOPs of one attention op, when its shapes are
/// static.
static double opFlops(mlir::Operation *op) {
  if (auto attention = llvm::dyn_cast<mlir::dilattn::DilatedAttentionOp>(op)) {
    auto type = llvm::cast<mlir::RankedTensorType>(attention.getType());
    if (!type.hasStaticShape())
      return 0;
    return effectiveFlops(attention.getConfig(), type.getDimSize(0),
                          type.getDimSize(1), type.getDimSize(2),
                          type.getDimSize(3));
  }
  if (auto block =
          llvm::dyn_cast<mlir::dilattn::MultiheadDilatedAttentionOp>(op)) {
    auto type = llvm::cast<mlir::RankedTensorType>(block.getType());
    int64_t heads = static_cast<int64_t>(block.getNumHeads());
    if (!type.hasStaticShape() || heads <= 0)
      return 0;
    return effectiveFlops(block.getConfig(), type.getDimSize(0),
                          type.getDimSize(1), heads,
                          type.getDimSize(2) / heads);
  }
  return 0;
}

namespace {
/// A parsed program whose entry function passed the module-mode checks, in
/// a context of its own that gathers diagnostics.
struct ParsedProgram {
  std::unique_ptr<mlir::MLIRContext> context;
  std::unique_ptr<std::string> diagnostics;
  std::unique_ptr<mlir::ScopedDiagnosticHandler> handler;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::func::FuncOp function;
  llvm::SmallVector<TensorSignature> inputs, outputs;
  double effectiveFlops = 0;
};
} // namespace

/// Parses `source`, finds @entry and checks its signature (ranked f32 or i1
/// arguments, static f32 results); marks the arguments read-only for
/// bufferization.
static llvm::Expected<ParsedProgram> parseProgram(llvm::StringRef source,
                                                  llvm::StringRef sourceName,
                                                  llvm::StringRef entry,
                                                  bool withLLVMTranslation) {
  mlir::DialectRegistry registry;
  dilattn::registerAllDialects(registry);
  if (withLLVMTranslation) {
    mlir::registerBuiltinDialectTranslation(registry);
    mlir::registerLLVMDialectTranslation(registry);
  }
  ParsedProgram parsed;
  parsed.context = std::make_unique<mlir::MLIRContext>(
      registry, mlir::MLIRContext::Threading::DISABLED);
  parsed.diagnostics = std::make_unique<std::string>();
  std::string &diagnostics = *parsed.diagnostics;
  parsed.handler = std::make_unique<mlir::ScopedDiagnosticHandler>(
      parsed.context.get(), [&diagnostics](mlir::Diagnostic &diagnostic) {
        if (!diagnostics.empty())
          diagnostics += "\n";
        std::string location;
        llvm::raw_string_ostream(location) << diagnostic.getLocation();
        diagnostics += location + ": " + diagnostic.str();
        return mlir::success();
      });

  llvm::SourceMgr sourceMgr;
  unsigned bufferId = sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(source, sourceName), llvm::SMLoc());
  if (std::optional<ParserHazard> hazard = findParserHazard(source)) {
    auto [line, column] = sourceMgr.getLineAndColumn(
        llvm::SMLoc::getFromPointer(
            sourceMgr.getMemoryBuffer(bufferId)->getBufferStart() +
            hazard->offset),
        bufferId);
    return makeError(ErrorCode::Compile,
                     llvm::formatv("{0}:{1}:{2}: {3}", sourceName, line, column,
                                   hazard->message));
  }
  parsed.module =
      mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, parsed.context.get());
  if (!parsed.module)
    return makeError(ErrorCode::Compile, diagnostics.empty()
                                             ? "cannot parse " + sourceName
                                             : diagnostics);

  auto function = parsed.module->lookupSymbol<mlir::func::FuncOp>(entry);
  if (!function || function.isExternal()) {
    llvm::SmallVector<std::string> names;
    parsed.module->walk([&](mlir::func::FuncOp f) {
      if (!f.isExternal())
        names.push_back("@" + f.getSymName().str());
    });
    return makeError(
        ErrorCode::Compile,
        llvm::formatv("{0} has no function @{1} (functions: {2})", sourceName,
                      entry, names.empty() ? "none" : llvm::join(names, ", ")));
  }
  parsed.function = function;
  for (auto [index, type] :
       llvm::enumerate(function.getFunctionType().getInputs())) {
    auto signature = signatureOf(
        type, llvm::formatv("argument #{0} of @{1}", index, entry).str());
    if (!signature)
      return signature.takeError();
    parsed.inputs.push_back(*signature);
  }
  for (auto [index, type] :
       llvm::enumerate(function.getFunctionType().getResults())) {
    auto signature = signatureOf(
        type, llvm::formatv("result #{0} of @{1}", index, entry).str());
    if (!signature)
      return signature.takeError();
    if (!llvm::cast<mlir::RankedTensorType>(type).hasStaticShape() ||
        signature->element != ElementKind::F32)
      return makeError(
          ErrorCode::Compile,
          llvm::formatv("result #{0} of @{1} must be an f32 tensor of "
                        "static shape (outputs are allocated by the "
                        "caller)",
                        index, entry));
    parsed.outputs.push_back(*signature);
  }
  function.walk(
      [&](mlir::Operation *op) { parsed.effectiveFlops += opFlops(op); });
  // The arguments are the caller's input buffers, which a run must not
  // change (callers run a program many times on the same inputs, from
  // several threads). One-Shot Bufferize takes function arguments as
  // writable unless told otherwise, and would compute, say, a residual add
  // in place in an input.
  for (unsigned index = 0; index < function.getNumArguments(); ++index)
    function.setArgAttr(
        index, mlir::bufferization::BufferizationDialect::kWritableAttrName,
        mlir::BoolAttr::get(parsed.context.get(), false));
  return parsed;
}

llvm::Expected<std::unique_ptr<CompiledModule>>
CompiledModule::compile(llvm::StringRef source, llvm::StringRef sourceName,
                        llvm::StringRef entry, const CpuTuning &tuning) {
  auto start = std::chrono::steady_clock::now();
  initializeNativeTarget();
  auto parsed = parseProgram(source, sourceName, entry,
                             /*withLLVMTranslation=*/true);
  if (!parsed)
    return parsed.takeError();
  mlir::MLIRContext *context = parsed->context.get();
  mlir::OwningOpRef<mlir::ModuleOp> &module = parsed->module;
  mlir::func::FuncOp function = parsed->function;
  const std::string &diagnostics = *parsed->diagnostics;
  std::unique_ptr<CompiledModule> compiled(new CompiledModule());
  compiled->entryName = entry.str();
  compiled->inputs = parsed->inputs;
  compiled->outputs = parsed->outputs;
  compiled->effectiveFlops = parsed->effectiveFlops;
  function->setAttr("llvm.emit_c_interface", mlir::UnitAttr::get(context));
  CpuTuning resolved = tuning.resolvedForHost();
  CpuPipelineOptions options;
  options.vectorWidth = resolved.vectorWidth;
  options.tileQueries = resolved.tileQueries;
  options.tileKeys = resolved.tileKeys;
  options.fusePatterns = resolved.fusePatterns;
  mlir::PassManager pm(context);
  buildCpuPipeline(pm, options);
  if (mlir::failed(pm.run(*module)))
    return makeError(ErrorCode::Compile,
                     "compiling @" + entry + " failed:\n" + diagnostics);

  auto engine = createHostEngine(*module);
  if (!engine)
    return engine.takeError();
  compiled->impl->engine = std::move(*engine);
  compiled->compileMs = std::chrono::duration<double, std::milli>(
                            std::chrono::steady_clock::now() - start)
                            .count();
  return compiled;
}

llvm::Error CompiledModule::run(llvm::ArrayRef<ModuleBuffer> inputBuffers,
                                llvm::ArrayRef<ModuleBuffer> outputBuffers) {
  if (inputBuffers.size() != inputs.size())
    return makeError(ErrorCode::InvalidArgument,
                     llvm::formatv("@{0} takes {1} inputs, got {2}", entryName,
                                   inputs.size(), inputBuffers.size()));
  if (outputBuffers.size() != outputs.size())
    return makeError(ErrorCode::InvalidArgument,
                     llvm::formatv("@{0} returns {1} results, got {2} outputs",
                                   entryName, outputs.size(),
                                   outputBuffers.size()));
  // One strided memref descriptor per buffer: {allocated, aligned, offset,
  // sizes[rank], strides[rank]} as 64-bit words (pointers are 64-bit here).
  std::vector<std::vector<int64_t>> descriptors;
  auto describe = [&](const ModuleBuffer &buffer,
                      const TensorSignature &signature,
                      llvm::StringRef what) -> llvm::Error {
    if (buffer.shape.size() != signature.shape.size())
      return makeError(ErrorCode::InvalidArgument,
                       llvm::formatv("{0} must have rank {1}, got shape {2}",
                                     what, signature.shape.size(),
                                     formatShape(buffer.shape)));
    for (auto [size, expected] : llvm::zip_equal(buffer.shape, signature.shape))
      if (size < 0 || (expected != kDynamicSize && size != expected))
        return makeError(ErrorCode::InvalidArgument,
                         llvm::formatv("{0} must have shape {1}, got {2}", what,
                                       formatShape(signature.shape),
                                       formatShape(buffer.shape)));
    std::vector<int64_t> words;
    int64_t address = reinterpret_cast<int64_t>(buffer.data);
    words.push_back(address);
    words.push_back(address);
    words.push_back(0);
    words.insert(words.end(), buffer.shape.begin(), buffer.shape.end());
    std::vector<int64_t> strides(buffer.shape.size(), 1);
    for (int64_t i = static_cast<int64_t>(buffer.shape.size()) - 2; i >= 0; --i)
      strides[i] = strides[i + 1] * buffer.shape[i + 1];
    words.insert(words.end(), strides.begin(), strides.end());
    descriptors.push_back(std::move(words));
    return llvm::Error::success();
  };
  for (auto [index, buffer] : llvm::enumerate(inputBuffers))
    if (llvm::Error error = describe(buffer, inputs[index],
                                     llvm::formatv("input #{0}", index).str()))
      return error;
  for (auto [index, buffer] : llvm::enumerate(outputBuffers))
    if (llvm::Error error = describe(buffer, outputs[index],
                                     llvm::formatv("output #{0}", index).str()))
      return error;
  // The C interface takes a pointer to each descriptor; the packed wrapper
  // takes a pointer to each of those arguments.
  std::vector<void *> descriptorPointers, arguments;
  for (std::vector<int64_t> &words : descriptors)
    descriptorPointers.push_back(words.data());
  for (void *&pointer : descriptorPointers)
    arguments.push_back(&pointer);
  return withCode(
      ErrorCode::Runtime,
      impl->engine->invokePacked("_mlir_ciface_" + entryName, arguments));
}

//===----------------------------------------------------------------------===//
// Target cuda
//===----------------------------------------------------------------------===//

namespace {
/// What the host code knows about a memref value while it is replayed.
struct HostView {
  CudaBufferRef buffer;
  int64_t offset = 0;
  llvm::SmallVector<int64_t, 4> sizes, strides;
};

llvm::SmallVector<int64_t, 4> identityStrides(llvm::ArrayRef<int64_t> sizes) {
  llvm::SmallVector<int64_t, 4> strides(sizes.size(), 1);
  for (int64_t i = static_cast<int64_t>(sizes.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * sizes[i + 1];
  return strides;
}

/// Bytes of one element of a buffer: f32 and friends by width, i1 as a
/// byte (LLVM stores an i1 in a byte).
std::optional<unsigned> elementBytes(mlir::Type type) {
  if (type.isInteger(1))
    return 1;
  if (type.isIntOrFloat() && type.getIntOrFloatBitWidth() % 8 == 0)
    return type.getIntOrFloatBitWidth() / 8;
  return std::nullopt;
}

/// Reads the launches off the host function the pipeline leaves.
class HostCodeRecorder {
public:
  HostCodeRecorder(CudaProgram &program, unsigned numInputs)
      : program(program), numInputs(numInputs) {}

  llvm::Error record(mlir::func::FuncOp function,
                     const llvm::StringMap<unsigned> &images);

private:
  llvm::Error unsupported(mlir::Operation *op, const llvm::Twine &why) {
    std::string location;
    llvm::raw_string_ostream(location) << op->getLoc();
    return makeError(
        ErrorCode::Compile,
        llvm::formatv(
            "{0}: target cuda cannot run '{1}' in the host code of @{2}: {3}",
            location, op->getName().getStringRef(), program.entry, why.str()));
  }
  std::optional<int64_t> constant(mlir::Value value) {
    auto it = constants.find(value);
    if (it != constants.end())
      return it->second;
    return std::nullopt;
  }
  llvm::Error newBuffer(mlir::Operation *op, mlir::Value result,
                        mlir::ValueRange dynamicSizes);
  llvm::Error reshape(mlir::Operation *op, mlir::Value source,
                      mlir::Value result);
  llvm::Error launch(mlir::gpu::LaunchFuncOp op,
                     const llvm::StringMap<unsigned> &images);

  CudaProgram &program;
  unsigned numInputs;
  llvm::DenseMap<mlir::Value, HostView> views;
  llvm::DenseMap<mlir::Value, int64_t> constants;
  llvm::DenseMap<mlir::Value, std::pair<unsigned, uint64_t>> scalars;
};
} // namespace

llvm::Error HostCodeRecorder::newBuffer(mlir::Operation *op, mlir::Value result,
                                        mlir::ValueRange dynamicSizes) {
  auto type = llvm::cast<mlir::MemRefType>(result.getType());
  auto bytes = elementBytes(type.getElementType());
  if (!bytes)
    return unsupported(op, "an element type without a byte size");
  if (!type.getLayout().isIdentity())
    return unsupported(op, "a buffer with a layout");
  HostView view;
  auto next = dynamicSizes.begin();
  uint64_t count = 1;
  for (int64_t size : type.getShape()) {
    if (mlir::ShapedType::isDynamic(size)) {
      std::optional<int64_t> known =
          next != dynamicSizes.end() ? constant(*next++) : std::nullopt;
      if (!known || *known < 0)
        return unsupported(op, "a buffer size that is not a constant");
      size = *known;
    }
    view.sizes.push_back(size);
    count *= static_cast<uint64_t>(size);
  }
  view.strides = identityStrides(view.sizes);
  view.buffer.kind = CudaBufferRef::Kind::Temporary;
  view.buffer.index = program.temporaryBytes.size();
  program.temporaryBytes.push_back(count * *bytes);
  views[result] = view;
  return llvm::Error::success();
}

llvm::Error HostCodeRecorder::reshape(mlir::Operation *op, mlir::Value source,
                                      mlir::Value result) {
  auto it = views.find(source);
  if (it == views.end())
    return unsupported(op, "a view of an unknown buffer");
  const HostView &from = it->second;
  auto type = llvm::cast<mlir::MemRefType>(result.getType());
  if (from.strides != identityStrides(from.sizes) || !type.hasStaticShape())
    return unsupported(op, "a reshape of a strided view or to dynamic sizes");
  HostView view = from;
  view.sizes.assign(type.getShape().begin(), type.getShape().end());
  view.strides = identityStrides(view.sizes);
  views[result] = view;
  return llvm::Error::success();
}

llvm::Error HostCodeRecorder::launch(mlir::gpu::LaunchFuncOp op,
                                     const llvm::StringMap<unsigned> &images) {
  CudaProgramLaunch launch;
  auto image = images.find(op.getKernelModuleName().getValue());
  if (image == images.end())
    return unsupported(op, "a kernel module that was not compiled");
  launch.image = image->second;
  launch.moduleName = op.getKernelModuleName().getValue().str();
  launch.kernelName = op.getKernelName().str();
  mlir::Value dims[6] = {op.getGridSizeX(),  op.getGridSizeY(),
                         op.getGridSizeZ(),  op.getBlockSizeX(),
                         op.getBlockSizeY(), op.getBlockSizeZ()};
  for (int i = 0; i < 6; ++i) {
    std::optional<int64_t> size = constant(dims[i]);
    if (!size || *size <= 0 || *size > std::numeric_limits<int32_t>::max())
      return unsupported(op, "a grid or block size that is not a positive "
                             "constant");
    (i < 3 ? launch.grid[i] : launch.block[i - 3]) =
        static_cast<unsigned>(*size);
  }
  if (mlir::Value shared = op.getDynamicSharedMemorySize()) {
    std::optional<int64_t> bytes = constant(shared);
    if (!bytes || *bytes < 0)
      return unsupported(op, "a shared memory size that is not a constant");
    launch.dynamicSharedBytes = static_cast<unsigned>(*bytes);
  }
  for (mlir::Value operand : op.getKernelOperands()) {
    CudaKernelArg arg;
    if (llvm::isa<mlir::MemRefType>(operand.getType())) {
      auto it = views.find(operand);
      if (it == views.end())
        return unsupported(op, "a kernel operand from an unknown buffer");
      arg.buffer = it->second.buffer;
      arg.offset = it->second.offset;
      arg.sizes = it->second.sizes;
      arg.strides = it->second.strides;
    } else {
      auto it = scalars.find(operand);
      if (it == scalars.end())
        return unsupported(op, "a scalar kernel operand that is not a "
                               "constant of 4 or 8 bytes");
      arg.kind = CudaKernelArg::Kind::Scalar;
      arg.scalarBytes = it->second.first;
      arg.scalarBits = it->second.second;
    }
    launch.args.push_back(std::move(arg));
  }
  program.launches.push_back(std::move(launch));
  return llvm::Error::success();
}

llvm::Error HostCodeRecorder::record(mlir::func::FuncOp function,
                                     const llvm::StringMap<unsigned> &images) {
  for (auto [index, argument] : llvm::enumerate(function.getArguments())) {
    auto type = llvm::dyn_cast<mlir::MemRefType>(argument.getType());
    if (!type || !type.hasStaticShape())
      return makeError(ErrorCode::Compile,
                       llvm::formatv("argument #{0} of @{1} did not become a "
                                     "static buffer",
                                     index, program.entry));
    HostView view;
    bool isInput = index < numInputs;
    view.buffer.kind =
        isInput ? CudaBufferRef::Kind::Input : CudaBufferRef::Kind::Output;
    view.buffer.index = isInput ? index : index - numInputs;
    view.sizes.assign(type.getShape().begin(), type.getShape().end());
    view.strides = identityStrides(view.sizes);
    views[argument] = view;
  }
  if (!function.getBody().hasOneBlock())
    return makeError(
        ErrorCode::Compile,
        "the host code of @" + program.entry +
            " has control flow, which target cuda does not replay");
  for (mlir::Operation &op : function.getBody().front()) {
    llvm::Error error = llvm::Error::success();
    llvm::TypeSwitch<mlir::Operation *>(&op)
        .Case([&](mlir::arith::ConstantOp constantOp) {
          mlir::Attribute value = constantOp.getValue();
          mlir::Type type = constantOp.getType();
          if (auto integer = llvm::dyn_cast<mlir::IntegerAttr>(value)) {
            constants[constantOp] = integer.getInt();
            unsigned width = type.isIndex() ? 64 : type.getIntOrFloatBitWidth();
            if (width == 32 || width == 64)
              scalars[constantOp] = {
                  width / 8,
                  integer.getValue().zextOrTrunc(width).getZExtValue()};
          } else if (auto real = llvm::dyn_cast<mlir::FloatAttr>(value)) {
            unsigned width = type.getIntOrFloatBitWidth();
            if (width == 32 || width == 64)
              scalars[constantOp] = {
                  width / 8, real.getValue().bitcastToAPInt().getZExtValue()};
          }
        })
        .Case([&](mlir::memref::AllocOp alloc) {
          error = newBuffer(alloc, alloc, alloc.getDynamicSizes());
        })
        .Case([&](mlir::gpu::AllocOp alloc) {
          error = newBuffer(alloc, alloc.getMemref(), alloc.getDynamicSizes());
        })
        .Case([&](mlir::memref::ExpandShapeOp expand) {
          error = reshape(expand, expand.getSrc(), expand.getResult());
        })
        .Case([&](mlir::memref::CollapseShapeOp collapse) {
          error = reshape(collapse, collapse.getSrc(), collapse.getResult());
        })
        .Case([&](mlir::memref::CastOp cast) {
          auto it = views.find(cast.getSource());
          if (it == views.end())
            error = unsupported(cast, "a cast of an unknown buffer");
          else
            views[cast.getResult()] = it->second;
        })
        .Case([&](mlir::gpu::LaunchFuncOp launchOp) {
          error = launch(launchOp, images);
        })
        // Temporaries live for the run; the runtime frees them after it.
        .Case<mlir::memref::DeallocOp, mlir::gpu::DeallocOp,
              mlir::func::ReturnOp>([](mlir::Operation *) {})
        .Default([&](mlir::Operation *other) {
          error = unsupported(other, "the runtime replays only allocations, "
                                     "views and kernel launches");
        });
    if (error)
      return error;
  }
  return llvm::Error::success();
}

llvm::Expected<std::unique_ptr<CudaProgram>> dilattn::jit::compileCudaProgram(
    llvm::StringRef source, llvm::StringRef sourceName, llvm::StringRef entry,
    llvm::StringRef chip, const CudaTuning &tuning) {
  auto start = std::chrono::steady_clock::now();
  if (chip.empty())
    return makeError(ErrorCode::InvalidArgument,
                     "no CUDA chip given for the program (e.g. sm_90)");
  initializeNvptxTarget();
  auto parsed = parseProgram(source, sourceName, entry,
                             /*withLLVMTranslation=*/false);
  if (!parsed)
    return parsed.takeError();
  auto program = std::make_unique<CudaProgram>();
  program->entry = entry.str();
  program->inputs = parsed->inputs;
  program->outputs = parsed->outputs;
  program->effectiveFlops = parsed->effectiveFlops;
  for (auto [index, input] : llvm::enumerate(program->inputs))
    if (llvm::is_contained(input.shape, kDynamicSize))
      return makeError(
          ErrorCode::Compile,
          llvm::formatv("argument #{0} of @{1} has shape {2}: target "
                        "cuda takes static shapes only",
                        index, entry, formatShape(input.shape)));
  // Only the entry is compiled: other functions may use what target cuda
  // does not run.
  for (mlir::func::FuncOp other :
       llvm::to_vector(parsed->module->getOps<mlir::func::FuncOp>()))
    if (other != parsed->function)
      other.erase();

  CudaPipelineOptions options;
  options.chip = chip.str();
  options.features = "+ptx80";
  options.tileQueries = tuning.tileQueries;
  options.tileKeys = tuning.tileKeys;
  options.stages = tuning.stages;
  options.kernel = tuning.kernel;
  options.format = "isa";
  mlir::PassManager pm(parsed->context.get());
  buildCudaPipeline(pm, options);
  if (mlir::failed(pm.run(*parsed->module)))
    return makeError(ErrorCode::Compile, "compiling @" + entry +
                                             " for target cuda failed:\n" +
                                             *parsed->diagnostics);

  llvm::StringMap<unsigned> images;
  llvm::SmallVector<std::string> ptx;
  for (auto binary : parsed->module->getOps<mlir::gpu::BinaryOp>()) {
    for (mlir::Attribute object : binary.getObjects())
      if (auto gpuObject = llvm::dyn_cast<mlir::gpu::ObjectAttr>(object)) {
        images[binary.getSymName()] = ptx.size();
        ptx.push_back(gpuObject.getObject().getValue().str());
        break;
      }
  }
  // Without libdevice linked, a libdevice call would fail in ptxas with
  // "Unresolved extern function": say which op needs what first.
  for (const std::string &text : ptx) {
    size_t at = text.find("__nv_");
    if (at == std::string::npos)
      continue;
    size_t end = text.find_first_of("( ;\n", at);
    return makeError(
        ErrorCode::Compile,
        llvm::formatv(
            "@{0} uses {1}, a libdevice function target cuda does not link (an "
            "arith or math op without a PTX lowering; "
            "dilattn-legalize-math-for-"
            "nvvm lists those it rewrites)",
            entry, text.substr(at, end == std::string::npos ? 16 : end - at)));
  }
  auto function = parsed->module->lookupSymbol<mlir::func::FuncOp>(entry);
  HostCodeRecorder recorder(*program, program->inputs.size());
  if (llvm::Error error = recorder.record(function, images))
    return std::move(error);
  // ptxas runs once per kernel module, on a thread each.
  using Assembled = llvm::Expected<std::pair<std::vector<uint8_t>, bool>>;
  std::vector<std::optional<Assembled>> assembled(ptx.size());
  size_t parallel = std::max(1u, std::thread::hardware_concurrency());
  for (size_t first = 0; first < ptx.size(); first += parallel) {
    std::vector<std::thread> threads;
    for (size_t i = first; i < std::min(ptx.size(), first + parallel); ++i)
      threads.emplace_back(
          [&, i] { assembled[i].emplace(assemblePtx(ptx[i], options.chip)); });
    for (std::thread &thread : threads)
      thread.join();
  }
  // Every result is checked (the first error is returned, the rest
  // consumed).
  llvm::Error firstError = llvm::Error::success();
  for (std::optional<Assembled> &image : assembled) {
    if (!*image) {
      llvm::Error error = image->takeError();
      if (firstError)
        llvm::consumeError(std::move(error));
      else
        firstError = std::move(error);
      continue;
    }
    program->images.push_back({std::move((*image)->first), (*image)->second});
  }
  if (firstError)
    return std::move(firstError);
  program->compileMs = std::chrono::duration<double, std::milli>(
                           std::chrono::steady_clock::now() - start)
                           .count();
  return program;
}
