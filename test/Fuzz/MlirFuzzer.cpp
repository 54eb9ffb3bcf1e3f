//===- MlirFuzzer.cpp - libFuzzer target: parser, verifier, pipeline ------===//
//
// Arbitrary text as an MLIR module, with the dialects dilattn-opt registers.
// The text is parsed and verified; a module that verifies and is made of the
// ops a user writes (builtin, func, arith, tensor and dilattn) is run through
// dilattn-cpu-pipeline, the pipeline the JIT uses, down to the LLVM dialect.
//
// Invariants: nothing crashes or hangs, and every rejection (parse, verify,
// pipeline) comes with at least one error diagnostic. A failure without one
// is what a user would see as "it failed and said nothing".
//
// The pipeline stage is restricted to user-level dialects because that is
// the contract: the pipeline's input is what users write (docs/Contract.md
// section 6), not arbitrary upstream IR (linalg, vector, gpu...), which the
// upstream passes own.
//
//===----------------------------------------------------------------------===//

#include "FuzzInput.h"

#include "dilattn/InitAll.h"
#include "dilattn/Pipelines/Pipelines.h"
#include "dilattn/Support/ParserHazards.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <memory>

using namespace mlir;

namespace {

/// A fresh context now and then: every attribute and type ever parsed stays
/// uniqued in its context, which would grow without bound over a long run.
constexpr unsigned kInputsPerContext = 2000;

struct State {
  DialectRegistry registry;
  std::unique_ptr<MLIRContext> context;
  unsigned inputs = 0;

  State() { dilattn::registerAllDialects(registry); }

  MLIRContext &get() {
    if (!context || ++inputs % kInputsPerContext == 0) {
      context = std::make_unique<MLIRContext>(registry,
                                              MLIRContext::Threading::DISABLED);
      // Error diagnostics only for ops of registered dialects.
      context->allowUnregisteredDialects(false);
    }
    return *context;
  }
};

State &state() {
  static State *s = new State();
  return *s;
}

bool isUserLevel(ModuleOp module) {
  static const llvm::StringSet<> allowed = {"builtin", "func", "arith",
                                            "tensor", "dilattn"};
  bool userLevel = true;
  module->walk([&](Operation *op) {
    if (!allowed.contains(op->getName().getDialectNamespace()))
      userLevel = false;
  });
  return userLevel;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  MLIRContext &context = state().get();

  unsigned errors = 0;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    if (diag.getSeverity() == DiagnosticSeverity::Error) {
      ++errors;
      // A diagnostic says something.
      fuzzCheck(!diag.str().empty());
    }
    return success();
  });

  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  // What the tools refuse before parsing (upstream parser crashes) gets a
  // message and goes no further, as in ModuleRunner and dilattn-opt.
  if (std::optional<dilattn::ParserHazard> hazard =
          dilattn::findParserHazard(text)) {
    fuzzCheck(hazard->offset < size && !hazard->message.empty());
    return 0;
  }
  // A NUL-terminated copy: the lexer stops at the terminator.
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(text, "fuzz.mlir"), llvm::SMLoc());
  ParserConfig config(&context);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, config);
  if (!module) {
    fuzzCheck(errors > 0);
    return 0;
  }
  // parseSourceFile verifies; verify again to be sure a parsed module is
  // valid (the pipeline may assume it).
  if (failed(verify(*module))) {
    fuzzCheck(errors > 0);
    return 0;
  }
  fuzzCheck(errors == 0);

  if (!isUserLevel(*module))
    return 0;
  PassManager pm(&context);
  dilattn::CpuPipelineOptions options;
  dilattn::buildCpuPipeline(pm, options);
  if (failed(pm.run(*module))) {
    fuzzCheck(errors > 0);
    return 0;
  }
  // What the pipeline produces verifies (the pass manager checked after
  // every pass; this states the contract).
  fuzzCheck(succeeded(verify(*module)));
  return 0;
}
