//===- ParserHazards.cpp - inputs upstream MLIR's parser crashes on -------===//

#include "dilattn/Support/ParserHazards.h"

#include "llvm/ADT/StringExtras.h"

using namespace dilattn;

namespace {

/// Characters of a bare identifier after its first (MLIR's lexer).
bool isIdentifierChar(char c) {
  return llvm::isAlnum(c) || c == '_' || c == '$' || c == '.';
}

/// `text` from `pos` past spaces, tabs and line breaks.
size_t skipSpace(llvm::StringRef text, size_t pos) {
  while (pos < text.size() && llvm::isSpace(text[pos]))
    ++pos;
  return pos;
}

/// Whether the bare word `word` starts at `pos` (and is not part of a longer
/// identifier).
bool wordAt(llvm::StringRef text, size_t pos, llvm::StringRef word) {
  if (!text.substr(pos).starts_with(word))
    return false;
  size_t end = pos + word.size();
  return end == text.size() || !isIdentifierChar(text[end]);
}

} // namespace

std::optional<ParserHazard> dilattn::findParserHazard(llvm::StringRef text) {
  for (size_t pos = 0; pos < text.size(); ++pos) {
    char c = text[pos];
    if (c == '/' && pos + 1 < text.size() && text[pos + 1] == '/') {
      // A comment runs to the end of the line.
      pos = text.find('\n', pos);
      if (pos == llvm::StringRef::npos)
        return std::nullopt;
      continue;
    }
    if (c == '"') {
      // A string literal, with backslash escapes; an unterminated one ends
      // at the line's end, as in MLIR's lexer.
      for (++pos; pos < text.size() && text[pos] != '"' && text[pos] != '\n';
           ++pos)
        if (text[pos] == '\\')
          ++pos;
      continue;
    }
    if (isIdentifierChar(c)) {
      size_t start = pos;
      // `array` is the keyword unless it names an SSA value, symbol, alias
      // or block (%array, @array, #array, !array, ^array).
      bool isArray =
          wordAt(text, pos, "array") &&
          (start == 0 || !llvm::StringRef("%@#!^").contains(text[start - 1]));
      while (pos + 1 < text.size() && isIdentifierChar(text[pos + 1]))
        ++pos;
      if (!isArray)
        continue;
      size_t next = skipSpace(text, pos + 1);
      if (next >= text.size() || text[next] != '<')
        continue;
      next = skipSpace(text, next + 1);
      if (wordAt(text, next, "index"))
        return ParserHazard{
            start, "dense array element type must be an integer or float "
                   "type of fixed width, not 'index' (refused before parsing: "
                   "the MLIR parser crashes on it, llvm/llvm-project#179045)"};
    }
  }
  return std::nullopt;
}
