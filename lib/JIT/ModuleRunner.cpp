//===- ModuleRunner.cpp - compile and run whole functions -----------------===//

#include "dilattn/JIT/ModuleRunner.h"

#include "HostEngine.h"

#include "dilattn/Dialect/DilAttn/IR/DilAttn.h"
#include "dilattn/InitAll.h"
#include "dilattn/Pipelines/Pipelines.h"
#include "dilattn/Runtime/CpuRuntime.h"
#include "dilattn/Support/ParserHazards.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/Mangling.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Target/TargetMachine.h"

#include <chrono>
#include <functional>

using namespace dilattn;
using namespace dilattn::jit;

static llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

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
    return fail(what + " must be a ranked tensor of f32 or i1, got " + text);
  }
  TensorSignature signature;
  for (int64_t size : tensor.getShape())
    signature.shape.push_back(mlir::ShapedType::isDynamic(size) ? kDynamicSize
                                                                : size);
  signature.element =
      tensor.getElementType().isF32() ? ElementKind::F32 : ElementKind::I1;
  return signature;
}

/// SPEC.md section 5's FLOPs of one attention op, when its shapes are static.
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

llvm::Expected<std::unique_ptr<CompiledModule>>
CompiledModule::compile(llvm::StringRef source, llvm::StringRef sourceName,
                        llvm::StringRef entry, const CpuTuning &tuning) {
  auto start = std::chrono::steady_clock::now();
  initializeNativeTarget();
  mlir::DialectRegistry registry;
  dilattn::registerAllDialects(registry);
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
  auto context = std::make_unique<mlir::MLIRContext>(
      registry, mlir::MLIRContext::Threading::DISABLED);
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(
      context.get(), [&](mlir::Diagnostic &diagnostic) {
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
    return fail(llvm::formatv("{0}:{1}:{2}: {3}", sourceName, line, column,
                              hazard->message));
  }
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, context.get());
  if (!module)
    return fail(diagnostics.empty() ? "cannot parse " + sourceName
                                    : diagnostics);

  auto function = module->lookupSymbol<mlir::func::FuncOp>(entry);
  if (!function || function.isExternal()) {
    llvm::SmallVector<std::string> names;
    module->walk([&](mlir::func::FuncOp f) {
      if (!f.isExternal())
        names.push_back("@" + f.getSymName().str());
    });
    return fail(
        llvm::formatv("{0} has no function @{1} (functions: {2})", sourceName,
                      entry, names.empty() ? "none" : llvm::join(names, ", ")));
  }

  std::unique_ptr<CompiledModule> compiled(new CompiledModule());
  compiled->entryName = entry.str();
  for (auto [index, type] :
       llvm::enumerate(function.getFunctionType().getInputs())) {
    auto signature = signatureOf(
        type, llvm::formatv("argument #{0} of @{1}", index, entry).str());
    if (!signature)
      return signature.takeError();
    compiled->inputs.push_back(*signature);
  }
  for (auto [index, type] :
       llvm::enumerate(function.getFunctionType().getResults())) {
    auto signature = signatureOf(
        type, llvm::formatv("result #{0} of @{1}", index, entry).str());
    if (!signature)
      return signature.takeError();
    if (!llvm::cast<mlir::RankedTensorType>(type).hasStaticShape() ||
        signature->element != ElementKind::F32)
      return fail(llvm::formatv("result #{0} of @{1} must be an f32 tensor of "
                                "static shape (outputs are allocated by the "
                                "caller)",
                                index, entry));
    compiled->outputs.push_back(*signature);
  }
  function.walk(
      [&](mlir::Operation *op) { compiled->effectiveFlops += opFlops(op); });

  function->setAttr("llvm.emit_c_interface",
                    mlir::UnitAttr::get(context.get()));
  // The arguments are the caller's input buffers, which a run must not
  // change (callers run a program many times on the same inputs, from
  // several threads). One-Shot Bufferize takes function arguments as
  // writable unless told otherwise, and would compute, say, a residual add
  // in place in an input.
  for (unsigned index = 0; index < function.getNumArguments(); ++index)
    function.setArgAttr(
        index, mlir::bufferization::BufferizationDialect::kWritableAttrName,
        mlir::BoolAttr::get(context.get(), false));
  CpuTuning resolved = tuning.resolvedForHost();
  CpuPipelineOptions options;
  options.vectorWidth = resolved.vectorWidth;
  options.tileQueries = resolved.tileQueries;
  options.tileKeys = resolved.tileKeys;
  options.fusePatterns = resolved.fusePatterns;
  mlir::PassManager pm(context.get());
  buildCpuPipeline(pm, options);
  if (mlir::failed(pm.run(*module)))
    return fail("compiling @" + entry + " failed:\n" + diagnostics);

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
    return fail(llvm::formatv("@{0} takes {1} inputs, got {2}", entryName,
                              inputs.size(), inputBuffers.size()));
  if (outputBuffers.size() != outputs.size())
    return fail(llvm::formatv("@{0} returns {1} results, got {2} outputs",
                              entryName, outputs.size(), outputBuffers.size()));
  // One strided memref descriptor per buffer: {allocated, aligned, offset,
  // sizes[rank], strides[rank]} as 64-bit words (pointers are 64-bit here).
  std::vector<std::vector<int64_t>> descriptors;
  auto describe = [&](const ModuleBuffer &buffer,
                      const TensorSignature &signature,
                      llvm::StringRef what) -> llvm::Error {
    if (buffer.shape.size() != signature.shape.size())
      return fail(llvm::formatv("{0} must have rank {1}, got shape {2}", what,
                                signature.shape.size(),
                                formatShape(buffer.shape)));
    for (auto [size, expected] : llvm::zip_equal(buffer.shape, signature.shape))
      if (size < 0 || (expected != kDynamicSize && size != expected))
        return fail(llvm::formatv("{0} must have shape {1}, got {2}", what,
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
  return impl->engine->invokePacked("_mlir_ciface_" + entryName, arguments);
}
