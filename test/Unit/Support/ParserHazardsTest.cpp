//===- ParserHazardsTest.cpp - inputs refused before parsing --------------===//

#include "dilattn/Support/ParserHazards.h"

#include "gtest/gtest.h"

using namespace dilattn;

namespace {

/// The offset of the hazard in `text`, or -1 when there is none.
int64_t hazardAt(llvm::StringRef text) {
  std::optional<ParserHazard> hazard = findParserHazard(text);
  if (!hazard)
    return -1;
  EXPECT_NE(hazard->message.find("llvm/llvm-project#179045"),
            std::string::npos);
  return static_cast<int64_t>(hazard->offset);
}

TEST(ParserHazards, IndexDenseArray) {
  EXPECT_EQ(hazardAt("\"x.y\"() {a = array<index: 1, 2>} : () -> ()"), 13);
  EXPECT_EQ(hazardAt("{a = array<index>}"), 5);
  EXPECT_EQ(hazardAt("{a = array <\n  index :1>}"), 5);
  // The fuzzer's input (minimized): a property dictionary cut short.
  EXPECT_EQ(hazardAt("<{segment_lengths = array< index) -> ()"), 20);
}

TEST(ParserHazards, ValidArraysAndLookalikes) {
  EXPECT_EQ(hazardAt("{a = array<i64: 1, 2>, b = array<f32>, c = array<i1>}"),
            -1);
  // Not the keyword: longer identifiers, names of values, symbols, aliases.
  EXPECT_EQ(hazardAt("%my_array<index> @array<index> #array<index>"), -1);
  EXPECT_EQ(hazardAt("!array<index> ^array<index> x.array<index>"), -1);
  EXPECT_EQ(hazardAt("{a = array<indexed: 1>}"), -1);
  // Comments and strings are skipped, escapes included.
  EXPECT_EQ(hazardAt("// array<index: 1>\n{s = \"array<index>\"}"), -1);
  EXPECT_EQ(hazardAt("{s = \"\\\" array<index>\"}"), -1);
  // An unterminated string ends at the line's end.
  EXPECT_EQ(hazardAt("{s = \"open\n array<index: 1>}"), 12);
  EXPECT_EQ(hazardAt(""), -1);
  EXPECT_EQ(hazardAt("array"), -1);
  EXPECT_EQ(hazardAt("array<"), -1);
}

} // namespace
