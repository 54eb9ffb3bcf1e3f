//===- dilattn-run.cpp - run and check dilated attention on .npy data -----===//
//
// The command-line runner of docs/Contract.md section 5. Every refusal is one
// line on stderr starting with "error:" and exit status 1; outputs are written
// atomically, so a refused or failed run never leaves a partial file.
//
// This file reads the command line (Options.h) and picks the mode (Modes.h);
// each mode has its own file.
//
//===----------------------------------------------------------------------===//

#include "Call.h"
#include "Modes.h"
#include "Options.h"
#include "dilattn/Support/Error.h"

#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

using namespace dilattn;
using namespace dilattn::run;

/// A single call: on target cpu or cuda, or split over --world-size ranks.
static llvm::Error runCallMode(const CallOptions &options) {
  if (!options.backward &&
      (!options.gradOutputFile.empty() || !options.outGradFiles.empty()))
    return makeError(ErrorCode::InvalidArgument,
                     "--grad-output and --out-grads need --backward");
  if (options.backward && options.common.target == "cuda")
    return makeError(ErrorCode::Unsupported,
                     "--backward is not supported by target cuda yet (issue "
                     "18); use --target=cpu");
  if (options.backward && options.worldSize != 0)
    return makeError(ErrorCode::InvalidArgument,
                     "--backward does not combine with --world-size");
  auto call = readCall(options);
  if (!call)
    return call.takeError();
  if (options.backward)
    return runCpuBackward(*call, options);
  if (options.worldSize != 0)
    return runSequenceParallel(*call, options);
  if (options.common.target == "cuda")
    return runCudaCall(*call, options);
  return runCpuCall(*call, options);
}

/// FILE.mlir: one of its functions, on target cpu or cuda.
static llvm::Error runModuleMode(const ModuleOptions &options, bool backward) {
  if (backward)
    return makeError(ErrorCode::InvalidArgument,
                     "--backward runs a single call, not FILE.mlir");
  const std::string &target = options.common.target;
  if (target != "cpu" && target != "cuda")
    return makeError(ErrorCode::InvalidArgument,
                     "--target must be cpu or cuda, got '" + target + "'");
  if (options.entry.empty())
    return makeError(ErrorCode::InvalidArgument,
                     "module mode needs --entry=NAME (the function to run)");
  auto file = llvm::MemoryBuffer::getFile(options.file);
  if (!file)
    return makeError(ErrorCode::Io,
                     options.file + ": " + file.getError().message());
  if (target == "cuda")
    return runCudaModule((*file)->getBuffer(), options);
  return runCpuModule((*file)->getBuffer(), options);
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  auto options = parseOptions(argc, argv);
  llvm::Error error =
      !options ? options.takeError()
      : options->isModuleMode()
          ? runModuleMode(options->module, options->call.backward)
          : runCallMode(options->call);
  if (error) {
    llvm::errs() << "error: " << llvm::toString(std::move(error)) << "\n";
    return 1;
  }
  return 0;
}
