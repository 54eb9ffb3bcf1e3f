//===- ParserHazards.h - inputs upstream MLIR's parser crashes on -*- C++
//-*-===//
//
// The MLIR 22 parser that dilattn links (Debian's libMLIR.so) crashes on a
// few malformed inputs instead of diagnosing them. Every tool and API that
// parses user text screens it with findParserHazard first, so that such text
// gets a diagnostic, not a crash of the host process. Each entry names the
// upstream issue; drop it once the minimum LLVM version has the fix.
// Depends on LLVMSupport only.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_SUPPORT_PARSERHAZARDS_H
#define DILATTN_SUPPORT_PARSERHAZARDS_H

#include "llvm/ADT/StringRef.h"

#include <optional>
#include <string>

namespace dilattn {

/// An input the parser would crash on: where it starts and what it is.
struct ParserHazard {
  /// Byte offset of the construct in the text.
  size_t offset;
  std::string message;
};

/// The first construct of MLIR text `text` that the parser crashes on, if
/// any. Comments and string literals are skipped. Today:
///   - a dense array of `index` (`array<index: 1>`): dense arrays hold
///     fixed-width integers and floats only, and the parser queries the bit
///     width of `index` (llvm/llvm-project#179045, fixed after 22.1).
std::optional<ParserHazard> findParserHazard(llvm::StringRef text);

} // namespace dilattn

#endif // DILATTN_SUPPORT_PARSERHAZARDS_H
