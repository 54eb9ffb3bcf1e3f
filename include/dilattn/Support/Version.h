//===- Version.h - what dilattn build this is -------------------*- C++ -*-===//
//
// One version for the package, the library file and the tools:
// 0.<C interface version>.<patch>, read by CMake from DILATTN_C_API_VERSION
// in include/dilattn-c/dilattn.h, so that the two cannot drift apart.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_SUPPORT_VERSION_H
#define DILATTN_SUPPORT_VERSION_H

#include "llvm/ADT/StringRef.h"

namespace llvm {
class raw_ostream;
} // namespace llvm

namespace dilattn {

/// The package version, e.g. "0.4.0".
llvm::StringRef getVersion();

/// The C interface version (DILATTN_C_API_VERSION) this build implements.
int getCApiVersion();

/// The LLVM and MLIR version dilattn was built with, e.g. "22.1.8".
llvm::StringRef getLLVMVersion();

/// What `--version` prints: dilattn's version, the C interface version, the
/// LLVM/MLIR version and the host CPU the JIT compiles for.
void printVersion(llvm::raw_ostream &os);

} // namespace dilattn

#endif // DILATTN_SUPPORT_VERSION_H
