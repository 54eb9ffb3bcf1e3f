//===- HostEngine.cpp - ExecutionEngines for the host CPU -----------------===//

#include "HostEngine.h"
#include "dilattn/Support/Error.h"

#include "dilattn/Runtime/CpuRuntime.h"

#include "mlir/ExecutionEngine/OptUtils.h"

#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/Mangling.h"
#include "llvm/IR/Module.h"
#include "llvm/Target/TargetMachine.h"

#include <functional>

llvm::Expected<std::unique_ptr<mlir::ExecutionEngine>>
dilattn::jit::createHostEngine(mlir::ModuleOp module) {
  // Optimise and generate code for the host CPU, as op mode does: the
  // vector code is written for its registers (AVX2 or AVX-512), and without
  // the host's features the JIT would legalise it for baseline x86-64.
  auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machineBuilder)
    return withCode(ErrorCode::Compile, machineBuilder.takeError());
  auto machine = machineBuilder->createTargetMachine();
  if (!machine)
    return withCode(ErrorCode::Compile, machine.takeError());
  std::string cpu = (*machine)->getTargetCPU().str();
  std::string features = (*machine)->getTargetFeatureString().str();
  auto optimizeForHost = mlir::makeOptimizingTransformer(
      /*optLevel=*/3, /*sizeLevel=*/0, machine->get());
  // The options hold a function_ref: the transformer must outlive create().
  std::function<llvm::Error(llvm::Module *)> optimize =
      [&](llvm::Module *llvmModule) {
        for (llvm::Function &function : *llvmModule) {
          if (function.isDeclaration())
            continue;
          function.addFnAttr("target-cpu", cpu);
          function.addFnAttr("target-features", features);
        }
        return optimizeForHost(llvmModule);
      };
  mlir::ExecutionEngineOptions engineOptions;
  engineOptions.transformer = optimize;
  engineOptions.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  auto engine = mlir::ExecutionEngine::create(module, engineOptions);
  if (!engine)
    return withCode(ErrorCode::Compile, engine.takeError());
  // Parallel loops and attention calls call the runtime's parallel-for
  // (dilattn-outline-parallel-work): resolve it, and the buffer allocation
  // functions, to this process's runtime.
  (*engine)->registerSymbols([](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap symbols;
    symbols[interner("dilattn_parallel_for")] = {
        llvm::orc::ExecutorAddr::fromPtr(&dilattn_parallel_for),
        llvm::JITSymbolFlags::Exported};
    // Heap buffers (the pipeline's generic allocation functions) from the
    // runtime's cache: temporaries are reused across runs.
    symbols[interner("_mlir_memref_to_llvm_alloc")] = {
        llvm::orc::ExecutorAddr::fromPtr(&dilattn_buffer_alloc),
        llvm::JITSymbolFlags::Exported};
    symbols[interner("_mlir_memref_to_llvm_aligned_alloc")] = {
        llvm::orc::ExecutorAddr::fromPtr(&dilattn_buffer_aligned_alloc),
        llvm::JITSymbolFlags::Exported};
    symbols[interner("_mlir_memref_to_llvm_free")] = {
        llvm::orc::ExecutorAddr::fromPtr(&dilattn_buffer_free),
        llvm::JITSymbolFlags::Exported};
    return symbols;
  });
  return engine;
}
