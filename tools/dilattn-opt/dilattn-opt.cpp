//===- dilattn-opt.cpp - dilattn pass driver ------------------------------===//
//
// mlir-opt for dilattn: parses, verifies and transforms IR with the dilattn
// dialect and passes and the upstream dialects and passes its pipelines use.
// Input the MLIR parser would crash on is refused first, with a diagnostic
// (dilattn/Support/ParserHazards.h).
//
//===----------------------------------------------------------------------===//

#include "dilattn/InitAll.h"
#include "dilattn/Support/ParserHazards.h"
#include "dilattn/Support/Version.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  mlir::DialectRegistry registry;
  dilattn::registerAllDialects(registry);
  dilattn::registerAllPasses();
  // --version: what dilattn this is, not only the LLVM it was built with.
  llvm::cl::SetVersionPrinter(
      [](llvm::raw_ostream &os) { dilattn::printVersion(os); });
  auto [inputFilename, outputFilename] = mlir::registerAndParseCLIOptions(
      argc, argv, "dilattn optimizer driver\n", registry);
  mlir::MlirOptMainConfig config =
      mlir::MlirOptMainConfig::createFromCLOptions();
  // --show-dialects and --list-passes read no input.
  if (config.shouldShowDialects() || config.shouldListPasses())
    return mlir::asMainReturnCode(
        mlir::MlirOptMain(argc, argv, inputFilename, outputFilename, registry));

  std::string errorMessage;
  std::unique_ptr<llvm::MemoryBuffer> input =
      mlir::openInputFile(inputFilename, &errorMessage);
  if (!input) {
    llvm::errs() << errorMessage << "\n";
    return 1;
  }
  if (std::optional<dilattn::ParserHazard> hazard =
          dilattn::findParserHazard(input->getBuffer())) {
    llvm::SMLoc location =
        llvm::SMLoc::getFromPointer(input->getBufferStart() + hazard->offset);
    llvm::SourceMgr sourceMgr;
    sourceMgr.AddNewSourceBuffer(std::move(input), llvm::SMLoc());
    sourceMgr.PrintMessage(location, llvm::SourceMgr::DK_Error,
                           hazard->message);
    return 1;
  }
  std::unique_ptr<llvm::ToolOutputFile> output =
      mlir::openOutputFile(outputFilename, &errorMessage);
  if (!output) {
    llvm::errs() << errorMessage << "\n";
    return 1;
  }
  if (mlir::failed(
          mlir::MlirOptMain(output->os(), std::move(input), registry, config)))
    return 1;
  output->keep();
  return 0;
}
