//===- dilattn-opt.cpp - dilattn pass driver ------------------------------===//
//
// mlir-opt for dilattn: parses, verifies and transforms IR with the dilattn
// dialect and passes and the upstream dialects and passes its pipelines use.
//
//===----------------------------------------------------------------------===//

#include "dilattn/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  dilattn::registerAllDialects(registry);
  dilattn::registerAllPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "dilattn optimizer driver\n", registry));
}
