//===- Fail.h - dilattn-run's refusals ---------------------------*- C++
//-*-===//
//
// Every refusal of the tool is an llvm::Error whose message main() prints as
// one "error:" line (exit status 1).
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_TOOLS_DILATTN_RUN_FAIL_H
#define DILATTN_TOOLS_DILATTN_RUN_FAIL_H

#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

namespace dilattn::run {

inline llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

} // namespace dilattn::run

#endif // DILATTN_TOOLS_DILATTN_RUN_FAIL_H
