//===- CpuCodegen.cpp - a kernel spec to a native object ------------------===//
//
// Builds the kernel function in the buffer form of the dialect, runs
// dilattn-cpu-pipeline (the very pipeline dilattn-opt registers), translates
// to LLVM IR, optimises for the host CPU and emits a relocatable object.
//
//===----------------------------------------------------------------------===//

#include "dilattn/JIT/Jit.h"
#include "dilattn/Support/Error.h"

#include "DiagnosticCollector.h"

#include "dilattn/Dialect/DilAttn/IR/DilAttn.h"
#include "dilattn/InitAll.h"
#include "dilattn/Pipelines/Pipelines.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"

#include <algorithm>
#include <mutex>

using namespace dilattn;
using namespace dilattn::jit;

void dilattn::jit::initializeNativeTarget() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

/// Builds the kernel function of `spec` in buffer form, with the argument
/// order of its runtime signature (runtime::CpuKernelFn and the kinds'
/// siblings): `(q, k, v, key_bias, attn_bias, out[, lse], begin, end)`, one
/// write_dilated_attention over items [begin, end); or, backward,
/// `(q, k, v, out, lse, dout, key_bias, attn_bias, dq, dk, dv, begin, end)`,
/// one write_dilated_attention_grad.
static mlir::OwningOpRef<mlir::ModuleOp>
buildKernelModule(mlir::MLIRContext &context, const KernelSpec &spec,
                  llvm::StringRef symbol) {
  using namespace mlir;
  OpBuilder b(&context);
  Location loc = UnknownLoc::get(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());

  Type f32 = b.getF32Type();
  int64_t dyn = ShapedType::kDynamic;
  auto rows = MemRefType::get(
      {dyn, dyn, dyn, spec.headDim}, f32,
      StridedLayoutAttr::get(&context, dyn, {dyn, dyn, dyn, 1}));
  auto keyBias = MemRefType::get(
      {dyn, dyn}, f32, StridedLayoutAttr::get(&context, dyn, {dyn, dyn}));
  auto attnBias = MemRefType::get(
      {dyn, dyn, dyn, dyn}, f32,
      StridedLayoutAttr::get(&context, dyn, {dyn, dyn, dyn, dyn}));
  auto statistics =
      MemRefType::get({dyn, dyn, dyn}, f32,
                      StridedLayoutAttr::get(&context, dyn, {dyn, dyn, dyn}));
  Type index = b.getIndexType();
  const DilatedAttentionConfig &config = spec.config;
  auto mode = mlir::dilattn::AttentionModeAttr::get(
      &context, mlir::dilattn::toIR(config.mode));
  auto offsetRule = mlir::dilattn::OffsetRuleAttr::get(
      &context, mlir::dilattn::toIR(config.offsetRule));
  UnitAttr causal = config.causal ? b.getUnitAttr() : nullptr;
  FloatAttr scale = config.scale ? b.getF64FloatAttr(*config.scale) : nullptr;

  if (spec.kind == KernelKind::Backward) {
    auto type =
        b.getFunctionType({rows, rows, rows, rows, statistics, rows, keyBias,
                           attnBias, rows, rows, rows, index, index},
                          {});
    auto func = func::FuncOp::create(b, loc, symbol, type);
    func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
    Block *entry = func.addEntryBlock();
    b.setInsertionPointToStart(entry);
    auto arg = [&](unsigned i) { return entry->getArgument(i); };
    mlir::dilattn::WriteDilatedAttentionGradOp::create(
        b, loc, arg(0), arg(1), arg(2), arg(3), arg(4), arg(5),
        spec.hasKeyPaddingMask ? arg(6) : Value(),
        spec.hasAttnMask ? arg(7) : Value(), arg(8), arg(9), arg(10), arg(11),
        arg(12), b.getDenseI64ArrayAttr(config.segmentLengths),
        b.getDenseI64ArrayAttr(config.dilationRates), mode, offsetRule, causal,
        scale);
    func::ReturnOp::create(b, loc);
    return module;
  }

  bool withStatistics = spec.kind == KernelKind::ForwardWithStatistics;
  SmallVector<Type> inputs = {rows, rows, rows, keyBias, attnBias, rows};
  if (withStatistics)
    inputs.push_back(statistics);
  inputs.append({index, index});
  auto func =
      func::FuncOp::create(b, loc, symbol, b.getFunctionType(inputs, {}));
  func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  unsigned items = withStatistics ? 7 : 6;
  mlir::dilattn::WriteDilatedAttentionOp::create(
      b, loc, entry->getArgument(0), entry->getArgument(1),
      entry->getArgument(2),
      spec.hasKeyPaddingMask ? entry->getArgument(3) : Value(),
      spec.hasAttnMask ? entry->getArgument(4) : Value(), entry->getArgument(5),
      withStatistics ? entry->getArgument(6) : Value(),
      entry->getArgument(items), entry->getArgument(items + 1),
      b.getDenseI64ArrayAttr(config.segmentLengths),
      b.getDenseI64ArrayAttr(config.dilationRates), mode, offsetRule, causal,
      scale, b.getI64IntegerAttr(spec.blockSize()));
  func::ReturnOp::create(b, loc);
  return module;
}

static void registerKernelDialects(mlir::DialectRegistry &registry) {
  dilattn::registerAllDialects(registry);
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
}

llvm::Expected<std::string>
dilattn::jit::kernelSourceIR(const KernelSpec &spec, llvm::StringRef symbol) {
  mlir::DialectRegistry registry;
  registerKernelDialects(registry);
  mlir::MLIRContext context(registry, mlir::MLIRContext::Threading::DISABLED);
  context.loadAllAvailableDialects();
  auto module = buildKernelModule(context, spec, symbol);
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os);
  return text;
}

llvm::Expected<std::vector<uint8_t>>
dilattn::jit::compileCpuKernelObject(const KernelSpec &requested,
                                     llvm::StringRef symbol) {
  KernelSpec spec = requested;
  spec.tuning = requested.tuning.resolvedForHost();
  if (spec.element != ElementKind::F32)
    return makeError(ErrorCode::Unsupported,
                     "the cpu target computes in f32 only, got " +
                         stringifyElementKind(spec.element));
  if (spec.headDim <= 0)
    return makeError(ErrorCode::InvalidArgument,
                     "the head dim must be positive");
  const CpuTuning &tuning = spec.tuning;
  if (tuning.vectorWidth < 1 || tuning.vectorWidth > 64 ||
      tuning.tileQueries < 1 || tuning.tileQueries > 32 ||
      tuning.tileKeys < tuning.vectorWidth ||
      tuning.tileKeys % tuning.vectorWidth != 0 || tuning.tileKeys > 256 ||
      tuning.blockSize < 0)
    return makeError(
        ErrorCode::InvalidArgument,
        llvm::formatv(
            "invalid cpu tuning: vector width {0} (1-64), tile queries {1} "
            "(1-32), tile keys {2} (a multiple of the vector width, at most "
            "256), "
            "block size {3} (0 = automatic)",
            tuning.vectorWidth, tuning.tileQueries, tuning.tileKeys,
            tuning.blockSize));
  // The kernel keeps its scratch (online-softmax state of a block, packed
  // keys, probabilities) on the stack of the calling thread: bound it well
  // below the usual 8 MiB thread stacks.
  constexpr int64_t kStackBudget = int64_t(2) << 20;
  int64_t numStates =
      (spec.config.mode == AttentionMode::LongNet && !tuning.fusePatterns)
          ? static_cast<int64_t>(spec.config.numPatterns())
          : 1;
  double scratch =
      4.0 * (static_cast<double>(spec.blockSize()) *
                 (static_cast<double>(spec.headDim) + 2) * numStates +
             static_cast<double>(spec.headDim) * tuning.tileKeys +
             static_cast<double>(tuning.tileQueries) * tuning.tileKeys);
  if (scratch > kStackBudget)
    return makeError(ErrorCode::Compile,
                     llvm::formatv("the cpu kernel for head dim {0} and block "
                                   "size {1} needs {2:f0} KiB "
                                   "of scratch, more than its {3} KiB stack "
                                   "budget; use a smaller block "
                                   "size or head dim",
                                   spec.headDim, spec.blockSize(),
                                   scratch / 1024, kStackBudget / 1024));
  initializeNativeTarget();

  mlir::DialectRegistry registry;
  registerKernelDialects(registry);
  mlir::MLIRContext context(registry, mlir::MLIRContext::Threading::DISABLED);
  context.loadAllAvailableDialects();
  DiagnosticCollector diagnostics(context);

  mlir::OwningOpRef<mlir::ModuleOp> module =
      buildKernelModule(context, spec, symbol);
  if (mlir::failed(mlir::verify(*module)))
    return makeError(ErrorCode::Compile,
                     "kernel IR does not verify: " + diagnostics.messages);

  CpuPipelineOptions options;
  options.vectorWidth = spec.tuning.vectorWidth;
  options.tileQueries = spec.tuning.tileQueries;
  options.tileKeys = spec.tuning.tileKeys;
  options.fusePatterns = spec.tuning.fusePatterns;
  mlir::PassManager pm(&context);
  buildCpuPipeline(pm, options);
  if (mlir::failed(pm.run(*module)))
    return makeError(ErrorCode::Compile,
                     "dilattn-cpu-pipeline failed: " + diagnostics.messages);

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      mlir::translateModuleToLLVMIR(*module, llvmContext, symbol);
  if (!llvmModule)
    return makeError(ErrorCode::Compile,
                     "translation to LLVM IR failed: " + diagnostics.messages);

  auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machineBuilder)
    return machineBuilder.takeError();
  machineBuilder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  // Position-independent code: ORC may place the object anywhere.
  machineBuilder->setRelocationModel(llvm::Reloc::PIC_);
  auto machine = machineBuilder->createTargetMachine();
  if (!machine)
    return machine.takeError();
  llvmModule->setDataLayout((*machine)->createDataLayout());
  llvmModule->setTargetTriple((*machine)->getTargetTriple());

  auto optimize = mlir::makeOptimizingTransformer(
      /*optLevel=*/3, /*sizeLevel=*/0, machine->get());
  if (llvm::Error error = optimize(llvmModule.get()))
    return std::move(error);

  llvm::SmallVector<char, 0> object;
  llvm::raw_svector_ostream os(object);
  llvm::legacy::PassManager codegen;
  if ((*machine)->addPassesToEmitFile(codegen, os, nullptr,
                                      llvm::CodeGenFileType::ObjectFile))
    return makeError(ErrorCode::Compile,
                     "the host target cannot emit object files");
  codegen.run(*llvmModule);
  return std::vector<uint8_t>(object.begin(), object.end());
}
