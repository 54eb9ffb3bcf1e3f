//===- Version.cpp - what dilattn build this is ---------------------------===//

#include "dilattn/Support/Version.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

// Set for this file only by lib/Support/CMakeLists.txt, so that a new version
// recompiles one file.
#if !defined(DILATTN_VERSION_STRING) || !defined(DILATTN_C_API_VERSION_NUMBER)
#error "DILATTN_VERSION_STRING and DILATTN_C_API_VERSION_NUMBER must be set"
#endif

llvm::StringRef dilattn::getVersion() { return DILATTN_VERSION_STRING; }

int dilattn::getCApiVersion() { return DILATTN_C_API_VERSION_NUMBER; }

llvm::StringRef dilattn::getLLVMVersion() { return LLVM_VERSION_STRING; }

void dilattn::printVersion(llvm::raw_ostream &os) {
  os << "dilattn " << getVersion() << "\n"
     << "  C interface version " << getCApiVersion() << "\n"
     << "  LLVM and MLIR " << getLLVMVersion() << "\n"
     << "  host CPU: " << llvm::sys::getHostCPUName() << "\n";
}
