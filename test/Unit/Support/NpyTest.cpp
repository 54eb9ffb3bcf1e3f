//===- NpyTest.cpp - NumPy .npy reading and writing -----------------------===//

#include "dilattn/Support/Npy.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>

using namespace dilattn;
using namespace dilattn::npy;

namespace {

std::vector<uint8_t> toBytes(llvm::StringRef text) {
  return std::vector<uint8_t>(text.bytes_begin(), text.bytes_end());
}

std::vector<uint8_t> floatBytes(llvm::ArrayRef<float> values) {
  std::vector<uint8_t> bytes(values.size() * 4);
  if (!values.empty())
    std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

/// A .npy file with the given version, header text (used as is: no padding
/// is added) and data.
std::vector<uint8_t> makeFile(llvm::StringRef header,
                              llvm::ArrayRef<uint8_t> data = {},
                              unsigned major = 1) {
  std::vector<uint8_t> file = toBytes("\x93NUMPY");
  file.push_back(static_cast<uint8_t>(major));
  file.push_back(0);
  size_t lengthBytes = major == 1 ? 2 : 4;
  for (size_t i = 0; i < lengthBytes; ++i)
    file.push_back(static_cast<uint8_t>(header.size() >> (8 * i)));
  file.insert(file.end(), header.bytes_begin(), header.bytes_end());
  file.insert(file.end(), data.begin(), data.end());
  return file;
}

/// The message parseNpy refuses `file` with, or "" when it accepts it.
std::string parseError(llvm::ArrayRef<uint8_t> file,
                       llvm::StringRef name = "x.npy") {
  llvm::Expected<Array> array = parseNpy(file, name);
  if (!array)
    return llvm::toString(array.takeError());
  return "";
}

/// The message of a header with '<f4' data for its shape appended.
std::string headerError(llvm::StringRef header) {
  return parseError(makeFile(header));
}

Array parseOrDie(llvm::ArrayRef<uint8_t> file) {
  llvm::Expected<Array> array = parseNpy(file, "x.npy");
  if (!array) {
    ADD_FAILURE() << llvm::toString(array.takeError());
    return Array();
  }
  return std::move(*array);
}

//===----------------------------------------------------------------------===//
// DType
//===----------------------------------------------------------------------===//

TEST(NpyDType, DescrAndSize) {
  EXPECT_EQ(dtypeDescr(DType::F32), "<f4");
  EXPECT_EQ(dtypeDescr(DType::F16), "<f2");
  EXPECT_EQ(dtypeDescr(DType::F64), "<f8");
  EXPECT_EQ(dtypeDescr(DType::Bool), "|b1");
  EXPECT_EQ(dtypeSize(DType::F32), 4);
  EXPECT_EQ(dtypeSize(DType::F16), 2);
  EXPECT_EQ(dtypeSize(DType::F64), 8);
  EXPECT_EQ(dtypeSize(DType::Bool), 1);
  for (DType dtype : {DType::F32, DType::F16, DType::F64, DType::Bool})
    EXPECT_EQ(parseDtypeDescr(dtypeDescr(dtype)), dtype);
}

TEST(NpyDType, ParseDescr) {
  // '=' is little-endian on the hosts this test runs on.
  EXPECT_EQ(parseDtypeDescr("=f4"), DType::F32);
  EXPECT_EQ(parseDtypeDescr("=f2"), DType::F16);
  for (llvm::StringRef refused : {">f4", "|f4", "f4", "<b1", "=b1", "<i4",
                                  "<f16", "|O", "<c8", "", "<f4 ", "<F4"})
    EXPECT_EQ(parseDtypeDescr(refused), std::nullopt) << refused.str();
}

//===----------------------------------------------------------------------===//
// Serialization and round trips
//===----------------------------------------------------------------------===//

/// What np.save writes for np.arange(6, dtype='<f4').reshape(2, 3), spelled
/// out from numpy/lib/format.py: magic, version 1.0, header length 118
/// ('v\0'), the dict with 20 spaces of growth room (21 minus the digits of
/// shape[0]), 38 spaces of padding to make 10 + 118 a multiple of 64, '\n'.
const char kNumPy2x3F32[] =
    "\x93NUMPY\x01\x00\x76\x00"
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
    "                    "                   // growth room: 20
    "                                      " // padding: 38
    "\n"
    "\x00\x00\x00\x00\x00\x00\x80\x3f\x00\x00\x00\x40"
    "\x00\x00\x40\x40\x00\x00\x80\x40\x00\x00\xa0\x40";

/// np.save of np.array([1., 2., 3.]) (float64) by NumPy releases before the
/// growth room was added: the header is as long, all of it padding.
const char kOldNumPy3F64[] =
    "\x93NUMPY\x01\x00\x76\x00"
    "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"
    "                                                            "
    "\n"
    "\x00\x00\x00\x00\x00\x00\xf0\x3f\x00\x00\x00\x00\x00\x00\x00\x40"
    "\x00\x00\x00\x00\x00\x00\x08\x40";

std::vector<uint8_t> literalBytes(const char *literal, size_t sizeWithNul) {
  return std::vector<uint8_t>(literal, literal + sizeWithNul - 1);
}

TEST(NpySerialize, MatchesNumPyByteForByte) {
  std::vector<uint8_t> expected =
      literalBytes(kNumPy2x3F32, sizeof(kNumPy2x3F32));
  ASSERT_EQ(expected.size(), 128u + 24u);
  Array array;
  array.dtype = DType::F32;
  array.shape = {2, 3};
  array.bytes = floatBytes({0, 1, 2, 3, 4, 5});
  EXPECT_EQ(serializeNpy(array), expected);

  Array parsed = parseOrDie(expected);
  EXPECT_EQ(parsed.dtype, DType::F32);
  EXPECT_EQ(parsed.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(parsed.toFloat32(), (std::vector<float>{0, 1, 2, 3, 4, 5}));
}

TEST(NpySerialize, ReadsOldNumPyFile) {
  Array parsed = parseOrDie(literalBytes(kOldNumPy3F64, sizeof(kOldNumPy3F64)));
  EXPECT_EQ(parsed.dtype, DType::F64);
  EXPECT_EQ(parsed.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(parsed.toFloat32(), (std::vector<float>{1, 2, 3}));
}

TEST(NpySerialize, HeaderSpelling) {
  auto headerOf = [](DType dtype, std::vector<int64_t> shape) {
    Array array;
    array.dtype = dtype;
    array.shape = shape;
    int64_t count = array.numElements();
    array.bytes.assign(count * dtypeSize(dtype), 0);
    std::vector<uint8_t> file = serializeNpy(array);
    uint16_t length = file[8] | (file[9] << 8);
    EXPECT_EQ((10 + length) % 64, 0);
    EXPECT_EQ(file[9 + length], '\n');
    std::string header(file.begin() + 10, file.begin() + 10 + length);
    return llvm::StringRef(header).rtrim().str();
  };
  EXPECT_EQ(headerOf(DType::F32, {}),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (), }");
  EXPECT_EQ(headerOf(DType::Bool, {5}),
            "{'descr': '|b1', 'fortran_order': False, 'shape': (5,), }");
  EXPECT_EQ(headerOf(DType::F16, {0, 3}),
            "{'descr': '<f2', 'fortran_order': False, 'shape': (0, 3), }");
  EXPECT_EQ(headerOf(DType::F64, {1, 1024, 8, 64}),
            "{'descr': '<f8', 'fortran_order': False, 'shape': "
            "(1, 1024, 8, 64), }");
}

TEST(NpySerialize, RoundTripsEveryDTypeAndShape) {
  std::vector<std::vector<int64_t>> shapes = {
      {}, {0}, {1}, {5}, {2, 3}, {2, 0, 3}, {1, 3, 2, 2}, {3, 1, 1, 1, 2}};
  for (DType dtype : {DType::F32, DType::F16, DType::F64, DType::Bool}) {
    for (const std::vector<int64_t> &shape : shapes) {
      Array array;
      array.dtype = dtype;
      array.shape = shape;
      array.bytes.resize(array.numElements() * dtypeSize(dtype));
      for (size_t i = 0; i < array.bytes.size(); ++i)
        array.bytes[i] =
            dtype == DType::Bool ? i % 2 : static_cast<uint8_t>(i * 37 + 11);
      ASSERT_FALSE(llvm::errorToBool(verifyArray(array, "x.npy")));
      std::vector<uint8_t> file = serializeNpy(array);
      EXPECT_EQ(file[6], 1) << "version 1.0 for small headers";
      Array parsed = parseOrDie(file);
      EXPECT_EQ(parsed.dtype, dtype);
      EXPECT_EQ(parsed.shape, shape);
      EXPECT_EQ(parsed.bytes, array.bytes);
      EXPECT_EQ(parsed.numElements(), array.numElements());
    }
  }
}

TEST(NpySerialize, UsesVersion2ForHugeHeaders) {
  // 23000 dimensions of size 1 spell a header over 65535 bytes.
  Array array;
  array.dtype = DType::F32;
  array.shape.assign(23000, 1);
  array.bytes = floatBytes({42.0f});
  std::vector<uint8_t> file = serializeNpy(array);
  ASSERT_GT(file.size(), 65536u);
  EXPECT_EQ(file[6], 2);
  EXPECT_EQ(file[7], 0);
  uint32_t length = file[8] | (file[9] << 8) | (file[10] << 16) |
                    (static_cast<uint32_t>(file[11]) << 24);
  EXPECT_EQ((12 + length) % 64, 0u);
  EXPECT_EQ(file.size(), 12 + length + 4u);
  Array parsed = parseOrDie(file);
  EXPECT_EQ(parsed.shape, array.shape);
  EXPECT_EQ(parsed.toFloat32(), (std::vector<float>{42.0f}));
}

//===----------------------------------------------------------------------===//
// Parsing hand-written headers
//===----------------------------------------------------------------------===//

TEST(NpyParse, AcceptsOtherSpellings) {
  std::vector<uint8_t> data = floatBytes({1, 2, 3, 4, 5, 6});
  for (llvm::StringRef header : {
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n",
           "{'shape': (2, 3), 'descr': '<f4', 'fortran_order': False}",
           "{'fortran_order':False,'shape':(2,3),'descr':'<f4'}",
           "  {\"descr\" : \"<f4\" ,\n\t'fortran_order' :False ,  "
           "'shape':( 2 ,3 , ) ,}   \n",
           "{'descr': '=f4', 'fortran_order': False, 'shape': (2, 3,)}\n",
           // Python 2 era writers: unicode keys, long integers.
           "{u'descr': u'<f4', u'fortran_order': False, 'shape': (2L, 3L)}",
           // Padding NumPy 1.x used to write: to 16 bytes.
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }  \n",
       }) {
    for (unsigned major : {1u, 2u, 3u}) {
      Array array = parseOrDie(makeFile(header, data, major));
      EXPECT_EQ(array.dtype, DType::F32) << header.str();
      EXPECT_EQ(array.shape, (std::vector<int64_t>{2, 3})) << header.str();
      EXPECT_EQ(array.toFloat32(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
    }
  }
}

TEST(NpyParse, ScalarAndEmptyShapes) {
  Array scalar = parseOrDie(
      makeFile("{'descr': '<f4', 'fortran_order': False, 'shape': ()}",
               floatBytes({7})));
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.numElements(), 1);
  EXPECT_EQ(scalar.toFloat32(), (std::vector<float>{7}));

  Array empty = parseOrDie(
      makeFile("{'descr': '<f8', 'fortran_order': False, 'shape': (4, 0)}"));
  EXPECT_EQ(empty.shape, (std::vector<int64_t>{4, 0}));
  EXPECT_EQ(empty.numElements(), 0);
  EXPECT_TRUE(empty.bytes.empty());
}

TEST(NpyParse, Version3Utf8Header) {
  // Version 3.0 headers are UTF-8; non-ASCII text can only sit in strings,
  // which here makes the dtype unknown (and the message escapes it).
  std::string message = parseError(
      makeFile("{'descr': '<f4\xc3\xa9', 'fortran_order': False, 'shape': ()}",
               floatBytes({1}), 3));
  EXPECT_EQ(message, "x.npy: unsupported dtype '<f4\\C3\\A9'; supported "
                     "dtypes: '<f4', '<f2', '<f8', '|b1'");
}

//===----------------------------------------------------------------------===//
// Refusals
//===----------------------------------------------------------------------===//

TEST(NpyRefuse, FortranOrder) {
  EXPECT_EQ(headerError("{'descr': '<f4', 'fortran_order': True, 'shape': "
                        "(2, 3), }"),
            "x.npy: fortran_order arrays are not supported; save with "
            "np.ascontiguousarray");
  EXPECT_EQ(
      headerError("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}"),
      "x.npy: 'fortran_order' must be True or False, got 0");
}

TEST(NpyRefuse, BigEndian) {
  EXPECT_EQ(
      headerError("{'descr': '>f4', 'fortran_order': False, 'shape': (2,)}"),
      "x.npy: big-endian byte order ('>f4') is not supported; save "
      "little-endian data, e.g. with arr.astype('<f4')");
  EXPECT_EQ(
      headerError("{'descr': '>i8', 'fortran_order': False, 'shape': (2,)}"),
      "x.npy: big-endian byte order ('>i8') is not supported; supported "
      "dtypes: '<f4', '<f2', '<f8', '|b1'");
}

TEST(NpyRefuse, UnsupportedDTypes) {
  for (llvm::StringRef descr : {"<i4", "<f16", "|O", "<b1", "|u1", "<c8"})
    EXPECT_EQ(headerError(("{'descr': '" + descr +
                           "', 'fortran_order': False, 'shape': (2,)}")
                              .str()),
              "x.npy: unsupported dtype '" + descr.str() +
                  "'; supported dtypes: '<f4', '<f2', '<f8', '|b1'");
  EXPECT_EQ(headerError("{'descr': [('a', '<f4'), ('b', '<i4')], "
                        "'fortran_order': False, 'shape': (2,)}"),
            "x.npy: unsupported structured dtype [('a', '<f4'), ('b', "
            "'<i4')]; supported dtypes: '<f4', '<f2', '<f8', '|b1'");
  EXPECT_EQ(headerError("{'descr': 4, 'fortran_order': False, 'shape': ()}"),
            "x.npy: unsupported dtype description 4; supported dtypes: "
            "'<f4', '<f2', '<f8', '|b1'");
}

TEST(NpyRefuse, TruncatedAndTrailingData) {
  std::vector<uint8_t> data(1000, 0);
  EXPECT_EQ(parseError(makeFile("{'descr': '<f4', 'fortran_order': False, "
                                "'shape': (1, 1024, 8, 64), }",
                                data),
                       "q.npy"),
            "q.npy: expected 2097152 bytes of <f4 data for shape (1, 1024, "
            "8, 64), got 1000");
  EXPECT_EQ(parseError(makeFile("{'descr': '<f2', 'fortran_order': False, "
                                "'shape': (3,)}",
                                std::vector<uint8_t>(7, 0))),
            "x.npy: expected 6 bytes of <f2 data for shape (3), got 7 "
            "(trailing bytes after the data)");
  EXPECT_EQ(parseError(makeFile("{'descr': '|b1', 'fortran_order': False, "
                                "'shape': ()}")),
            "x.npy: expected 1 bytes of |b1 data for shape (), got 0");
  // Every truncation of a valid file is refused, never read past.
  std::vector<uint8_t> file = literalBytes(kNumPy2x3F32, sizeof(kNumPy2x3F32));
  for (size_t size = 0; size < file.size(); ++size)
    EXPECT_NE(parseError(llvm::ArrayRef(file).take_front(size)), "") << size;
}

TEST(NpyRefuse, MagicVersionAndHeaderLength) {
  EXPECT_EQ(parseError({}), "x.npy: not a .npy file (it does not start with "
                            "the magic string \"\\x93NUMPY\")");
  EXPECT_EQ(parseError(toBytes("PK\x03\x04 zip archive")),
            "x.npy: not a .npy file (it does not start with the magic "
            "string \"\\x93NUMPY\")");
  EXPECT_EQ(parseError(toBytes("\x93NUMPY")),
            "x.npy: truncated .npy file: 6 bytes end before the format "
            "version");
  std::vector<uint8_t> file = makeFile("{}");
  file[6] = 4;
  EXPECT_EQ(parseError(file), "x.npy: unsupported .npy format version 4.0 "
                              "(supported: 1.0, 2.0, 3.0)");
  file[6] = 0;
  EXPECT_EQ(parseError(file), "x.npy: unsupported .npy format version 0.0 "
                              "(supported: 1.0, 2.0, 3.0)");
  file[6] = 1;
  file[7] = 1;
  EXPECT_EQ(parseError(file), "x.npy: unsupported .npy format version 1.1 "
                              "(supported: 1.0, 2.0, 3.0)");
  EXPECT_EQ(
      parseError(toBytes(llvm::StringRef("\x93NUMPY\x02\x00\x10\x00", 10))),
      "x.npy: truncated .npy file: 10 bytes end before the header "
      "length");
  std::vector<uint8_t> header = makeFile("{'descr': '<f4'}");
  header[8] = 0xff;
  header[9] = 0xff;
  EXPECT_EQ(parseError(header), "x.npy: header length 65535 runs past the "
                                "end of the file (26 bytes)");
  std::vector<uint8_t> header2 = makeFile("{'descr': '<f4'}", {}, 2);
  header2[11] = 0xff;
  EXPECT_EQ(parseError(header2), "x.npy: header length 4278190096 runs past "
                                 "the end of the file (28 bytes)");
}

TEST(NpyRefuse, Shapes) {
  auto shapeError = [](llvm::StringRef shape) {
    return headerError(
        ("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + "}")
            .str());
  };
  EXPECT_EQ(shapeError("(2, -1)"),
            "x.npy: shape (2, -1) has a negative dimension");
  EXPECT_EQ(shapeError("(4611686018427387904, 4)"),
            "x.npy: shape (4611686018427387904, 4) is too large: its size in "
            "bytes overflows a 64-bit integer");
  EXPECT_EQ(shapeError("(2305843009213693952,)"),
            "x.npy: shape (2305843009213693952) is too large: its size in "
            "bytes overflows a 64-bit integer");
  EXPECT_EQ(shapeError("(65536, 65536, 65536, 65536)"),
            "x.npy: shape (65536, 65536, 65536, 65536) is too large: its size "
            "in bytes overflows a 64-bit integer");
  // As NumPy does, a zero dimension does not excuse the others.
  EXPECT_EQ(shapeError("(0, 4611686018427387904, 4)"),
            "x.npy: shape (0, 4611686018427387904, 4) is too large: its size "
            "in bytes overflows a 64-bit integer");
  EXPECT_EQ(shapeError("(99999999999999999999,)"),
            "x.npy: shape dimension 99999999999999999999 does not fit a "
            "64-bit integer");
  EXPECT_EQ(shapeError("(-9223372036854775809,)"),
            "x.npy: shape dimension -9223372036854775809 does not fit a "
            "64-bit integer");
  EXPECT_EQ(shapeError("(5)"),
            "x.npy: 'shape' must be a tuple of integers, got 5");
  EXPECT_EQ(shapeError("[2, 3]"),
            "x.npy: 'shape' must be a tuple of integers, got [2, 3]");
  EXPECT_EQ(shapeError("(True,)"),
            "x.npy: 'shape' must be a tuple of integers, got (True,)");
  EXPECT_EQ(shapeError("('2', 3)"),
            "x.npy: 'shape' must be a tuple of integers, got ('2', 3)");
  EXPECT_EQ(shapeError("(2.5,)"), "x.npy: malformed .npy header: expected "
                                  "',' or ')' at header offset 52");
}

TEST(NpyRefuse, Keys) {
  EXPECT_EQ(headerError("{'descr': '<f4', 'shape': ()}"),
            "x.npy: the .npy header has no 'fortran_order' key");
  EXPECT_EQ(headerError("{}"), "x.npy: the .npy header has no 'descr' key");
  EXPECT_EQ(headerError("{'descr': '<f4', 'fortran_order': False, 'shape': "
                        "(), 'extra': 1}"),
            "x.npy: unexpected key 'extra' in the .npy header (expected "
            "'descr', 'fortran_order' and 'shape')");
  EXPECT_EQ(headerError("{'descr': '<f4', 'fortran_order': False, 'shape': "
                        "(), 'descr': '<f2'}"),
            "x.npy: duplicate key 'descr' in the .npy header");
  EXPECT_EQ(headerError("{1: '<f4'}"),
            "x.npy: unexpected key 1 in the .npy header (expected 'descr', "
            "'fortran_order' and 'shape')");
}

TEST(NpyRefuse, MalformedHeaders) {
  EXPECT_EQ(headerError(""),
            "x.npy: malformed .npy header: expected '{' at header offset 0");
  EXPECT_EQ(headerError("  ('descr', '<f4')"),
            "x.npy: malformed .npy header: expected '{' at header offset 2");
  EXPECT_EQ(headerError("{'descr' '<f4'}"),
            "x.npy: malformed .npy header: expected ':' at header offset 9");
  EXPECT_EQ(headerError("{'descr': '<f4}"),
            "x.npy: malformed .npy header: unterminated string at header "
            "offset 15");
  EXPECT_EQ(headerError("{'descr': '<f4'"),
            "x.npy: malformed .npy header: expected ',' or '}' at header "
            "offset 15");
  EXPECT_EQ(headerError("{'descr': '<f4'} x"),
            "x.npy: malformed .npy header: unexpected text after the dict at "
            "header offset 17");
  EXPECT_EQ(headerError("{'descr': <f4}"),
            "x.npy: malformed .npy header: unexpected character '<' at "
            "header offset 10");
  EXPECT_EQ(headerError("{'descr': '<f4', 'shape': (-)}"),
            "x.npy: malformed .npy header: expected a digit at header offset "
            "28");
  EXPECT_EQ(headerError(std::string("{'descr': '<f4'}\0", 17)),
            "x.npy: malformed .npy header: unexpected text after the dict at "
            "header offset 16");
  std::string deep = "{'shape': " + std::string(100000, '(');
  EXPECT_EQ(headerError(deep), "x.npy: malformed .npy header: values nested "
                               "too deeply at header offset 42");
  // Control characters from the file are escaped in messages.
  EXPECT_EQ(headerError("{'descr': \x1b[31m}"),
            "x.npy: malformed .npy header: unexpected character '\\1B' at "
            "header offset 10");
}

TEST(NpyRefuse, MessagesStartWithTheFileName) {
  std::vector<std::vector<uint8_t>> files = {
      {},
      toBytes("\x93NUMPY\x09"),
      makeFile("{'descr': '<f4', 'fortran_order': True, 'shape': ()}"),
      makeFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}"),
  };
  for (const std::vector<uint8_t> &file : files)
    EXPECT_TRUE(llvm::StringRef(parseError(file, "dir/in put.npy"))
                    .starts_with("dir/in put.npy: "));
}

/// Mutated valid files must be refused or accepted, never crash or read out
/// of bounds (libFuzzer with sanitizers goes further).
TEST(NpyRefuse, SurvivesMutations) {
  static const char kAlphabet[] = "{}()[],:'\" -0123456789TFNL\n";
  std::vector<uint8_t> seed = literalBytes(kNumPy2x3F32, sizeof(kNumPy2x3F32));
  std::mt19937 random(12345);
  size_t accepted = 0;
  for (int iteration = 0; iteration < 20000; ++iteration) {
    std::vector<uint8_t> file = seed;
    int mutations = 1 + random() % 4;
    for (int i = 0; i < mutations; ++i) {
      size_t at = random() % file.size();
      switch (random() % 4) {
      case 0:
        file[at] = static_cast<uint8_t>(random());
        break;
      case 1:
        file[at] = kAlphabet[random() % (sizeof(kAlphabet) - 1)];
        break;
      case 2:
        file.erase(file.begin() + at);
        break;
      case 3:
        file.insert(file.begin() + at, static_cast<uint8_t>(random()));
        break;
      }
      if (file.empty())
        file.push_back(0);
    }
    llvm::Expected<Array> array = parseNpy(file, "m.npy");
    if (!array) {
      EXPECT_TRUE(llvm::StringRef(llvm::toString(array.takeError()))
                      .starts_with("m.npy: "));
      continue;
    }
    ++accepted;
    EXPECT_EQ(static_cast<int64_t>(array->bytes.size()),
              array->numElements() * dtypeSize(array->dtype));
  }
  // Mutations in the padding or the data keep the file valid.
  EXPECT_GT(accepted, 0u);
}

//===----------------------------------------------------------------------===//
// Conversion to float
//===----------------------------------------------------------------------===//

float halfViaAPFloat(uint16_t bits) {
  llvm::APFloat value(llvm::APFloat::IEEEhalf(), llvm::APInt(16, bits));
  bool losesInfo = false;
  value.convert(llvm::APFloat::IEEEsingle(), llvm::APFloat::rmNearestTiesToEven,
                &losesInfo);
  // Widening is exact; only NaNs (quietened) may say otherwise.
  EXPECT_TRUE(!losesInfo || value.isNaN()) << bits;
  return value.convertToFloat();
}

TEST(NpyConvert, HalfSpecialValues) {
  EXPECT_EQ(llvm::bit_cast<uint32_t>(halfToFloat(0x0000)), 0u);
  EXPECT_EQ(llvm::bit_cast<uint32_t>(halfToFloat(0x8000)), 0x80000000u);
  EXPECT_EQ(halfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(halfToFloat(0xc000), -2.0f);
  EXPECT_EQ(halfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(halfToFloat(0xfbff), -65504.0f);
  EXPECT_EQ(halfToFloat(0x3555), 0x1.554p-2f);
  // Subnormals: the smallest, the largest, and the smallest normal.
  EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(halfToFloat(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_EQ(halfToFloat(0x03ff), 1023 * std::ldexp(1.0f, -24));
  EXPECT_EQ(halfToFloat(0x0200), std::ldexp(1.0f, -15));
  EXPECT_EQ(halfToFloat(0x0400), std::ldexp(1.0f, -14));
  EXPECT_EQ(halfToFloat(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(halfToFloat(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(halfToFloat(0x7e00)));
  EXPECT_TRUE(std::isnan(halfToFloat(0x7c01)));
  EXPECT_TRUE(std::isnan(halfToFloat(0xffff)));
  // The payload and quiet bit move up unchanged.
  EXPECT_EQ(llvm::bit_cast<uint32_t>(halfToFloat(0x7e00)), 0x7fc00000u);
  EXPECT_EQ(llvm::bit_cast<uint32_t>(halfToFloat(0xfc01)), 0xff802000u);
}

TEST(NpyConvert, HalfMatchesAPFloatEverywhere) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    float ours = halfToFloat(static_cast<uint16_t>(bits));
    float reference = halfViaAPFloat(static_cast<uint16_t>(bits));
    if (std::isnan(reference)) {
      EXPECT_TRUE(std::isnan(ours)) << bits;
      continue;
    }
    ASSERT_EQ(llvm::bit_cast<uint32_t>(ours),
              llvm::bit_cast<uint32_t>(reference))
        << bits;
  }
}

TEST(NpyConvert, ToFloat32) {
  Array half;
  half.dtype = DType::F16;
  half.shape = {4};
  half.bytes = {0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00};
  EXPECT_EQ(half.toFloat32(),
            (std::vector<float>{1, -2, 65504, std::ldexp(1.0f, -24)}));

  Array wide;
  wide.dtype = DType::F64;
  wide.shape = {3};
  for (double value : {-0.1, 1e300, 0.5}) {
    uint8_t bytes[8];
    std::memcpy(bytes, &value, 8);
    wide.bytes.insert(wide.bytes.end(), bytes, bytes + 8);
  }
  std::vector<float> narrowed = wide.toFloat32();
  ASSERT_EQ(narrowed.size(), 3u);
  EXPECT_EQ(narrowed[0], -0.1f);
  EXPECT_EQ(narrowed[1], std::numeric_limits<float>::infinity());
  EXPECT_EQ(narrowed[2], 0.5f);

  Array mask;
  mask.dtype = DType::Bool;
  mask.shape = {2, 2};
  mask.bytes = {0, 1, 1, 0};
  EXPECT_EQ(mask.toFloat32(), (std::vector<float>{0, 1, 1, 0}));

  // An inconsistent array converts what its bytes hold, no more.
  Array odd;
  odd.dtype = DType::F32;
  odd.shape = {4};
  odd.bytes = {0, 0, 0x80, 0x3f, 0};
  EXPECT_EQ(odd.toFloat32(), (std::vector<float>{1}));
}

//===----------------------------------------------------------------------===//
// Files
//===----------------------------------------------------------------------===//

class NpyFileTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(
        llvm::sys::fs::createUniqueDirectory("dilattn-npy-test", directory));
  }
  void TearDown() override {
    EXPECT_FALSE(llvm::sys::fs::remove_directories(directory));
  }

  std::string path(llvm::StringRef name) const {
    llvm::SmallString<128> result(directory);
    llvm::sys::path::append(result, name);
    return std::string(result);
  }

  /// The names in the test directory, sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(directory, ec), end;
         it != end && !ec; it.increment(ec))
      names.push_back(llvm::sys::path::filename(it->path()).str());
    EXPECT_FALSE(ec);
    std::sort(names.begin(), names.end());
    return names;
  }

  llvm::SmallString<128> directory;
};

TEST_F(NpyFileTest, WriteAndReadF32) {
  std::string out = path("out.npy");
  ASSERT_FALSE(llvm::errorToBool(
      writeNpyF32(out, {2, 2}, {1.5f, -0.0f, 3e38f, 1e-40f})));
  EXPECT_EQ(entries(), (std::vector<std::string>{"out.npy"}));
  llvm::Expected<Array> array = readNpy(out);
  ASSERT_TRUE(bool(array)) << llvm::toString(array.takeError());
  EXPECT_EQ(array->dtype, DType::F32);
  EXPECT_EQ(array->shape, (std::vector<int64_t>{2, 2}));
  std::vector<float> values = array->toFloat32();
  ASSERT_EQ(values.size(), 4u);
  EXPECT_EQ(values[0], 1.5f);
  EXPECT_TRUE(std::signbit(values[1]));
  EXPECT_EQ(values[2], 3e38f);
  EXPECT_EQ(values[3], 1e-40f);

  ASSERT_FALSE(llvm::errorToBool(writeNpyF32(out, {}, {2.5f})));
  llvm::Expected<Array> scalar = readNpy(out);
  ASSERT_TRUE(bool(scalar)) << llvm::toString(scalar.takeError());
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_EQ(scalar->toFloat32(), (std::vector<float>{2.5f}));

  ASSERT_FALSE(llvm::errorToBool(writeNpyF32(out, {3, 0}, {})));
  llvm::Expected<Array> empty = readNpy(out);
  ASSERT_TRUE(bool(empty)) << llvm::toString(empty.takeError());
  EXPECT_EQ(empty->shape, (std::vector<int64_t>{3, 0}));
  EXPECT_EQ(entries(), (std::vector<std::string>{"out.npy"}));
}

TEST_F(NpyFileTest, WriteEveryDType) {
  for (DType dtype : {DType::F32, DType::F16, DType::F64, DType::Bool}) {
    Array array;
    array.dtype = dtype;
    array.shape = {3, 2};
    array.bytes.assign(6 * dtypeSize(dtype), 1);
    std::string out = path("a.npy");
    ASSERT_FALSE(llvm::errorToBool(writeNpy(out, array)));
    llvm::Expected<Array> read = readNpy(out);
    ASSERT_TRUE(bool(read)) << llvm::toString(read.takeError());
    EXPECT_EQ(read->dtype, dtype);
    EXPECT_EQ(read->shape, array.shape);
    EXPECT_EQ(read->bytes, array.bytes);
  }
  EXPECT_EQ(entries(), (std::vector<std::string>{"a.npy"}));
}

TEST_F(NpyFileTest, OverwritesAnExistingFile) {
  std::string out = path("out.npy");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(out, ec);
    ASSERT_FALSE(ec);
    os << std::string(10000, 'x');
  }
  ASSERT_FALSE(llvm::errorToBool(writeNpyF32(out, {1}, {4.0f})));
  llvm::Expected<Array> array = readNpy(out);
  ASSERT_TRUE(bool(array)) << llvm::toString(array.takeError());
  EXPECT_EQ(array->toFloat32(), (std::vector<float>{4.0f}));
  EXPECT_EQ(entries(), (std::vector<std::string>{"out.npy"}));
}

TEST_F(NpyFileTest, MissingDirectoryLeavesNothing) {
  std::string out = path("missing/out.npy");
  llvm::Error error = writeNpyF32(out, {1}, {1.0f});
  ASSERT_TRUE(bool(error));
  std::string message = llvm::toString(std::move(error));
  EXPECT_TRUE(llvm::StringRef(message).starts_with(
      out + ": cannot create a temporary file next to it: "))
      << message;
  EXPECT_FALSE(llvm::sys::fs::exists(path("missing")));
  EXPECT_TRUE(entries().empty());
}

TEST_F(NpyFileTest, FailedRenameLeavesNoTemporaryFile) {
  // Renaming a file over a non-empty directory fails after the data was
  // written: the temporary file must go, the directory stay.
  std::string out = path("out.npy");
  ASSERT_FALSE(llvm::sys::fs::create_directory(out));
  ASSERT_FALSE(
      llvm::errorToBool(writeNpyF32(path("out.npy/keep.npy"), {}, {1})));
  llvm::Error error = writeNpyF32(out, {1}, {1.0f});
  ASSERT_TRUE(bool(error));
  std::string message = llvm::toString(std::move(error));
  EXPECT_TRUE(llvm::StringRef(message).starts_with(
      out + ": cannot rename the temporary file"))
      << message;
  EXPECT_EQ(entries(), (std::vector<std::string>{"out.npy"}));
  EXPECT_TRUE(llvm::sys::fs::is_directory(out));
  EXPECT_TRUE(llvm::sys::fs::exists(path("out.npy/keep.npy")));
}

TEST_F(NpyFileTest, RefusesInconsistentDataAndWritesNothing) {
  std::string out = path("out.npy");
  EXPECT_EQ(llvm::toString(writeNpyF32(out, {2, 3}, {1, 2, 3})),
            out + ": shape (2, 3) holds 6 elements, got 3 values");
  EXPECT_EQ(llvm::toString(writeNpyF32(out, {2, -3}, {})),
            out + ": shape (2, -3) has a negative dimension");
  Array array;
  array.dtype = DType::F16;
  array.shape = {3};
  array.bytes.assign(5, 0);
  EXPECT_EQ(llvm::toString(writeNpy(out, array)),
            out + ": expected 6 bytes of <f2 data for shape (3), got 5");
  EXPECT_TRUE(entries().empty());
}

TEST_F(NpyFileTest, ReadErrors) {
  std::string missing = path("missing.npy");
  llvm::Expected<Array> array = readNpy(missing);
  ASSERT_FALSE(bool(array));
  EXPECT_EQ(llvm::toString(array.takeError()),
            missing + ": cannot read: No such file or directory");

  std::string bad = path("bad.npy");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(bad, ec);
    ASSERT_FALSE(ec);
    os << "not numpy";
  }
  llvm::Expected<Array> refused = readNpy(bad);
  ASSERT_FALSE(bool(refused));
  EXPECT_EQ(llvm::toString(refused.takeError()),
            bad + ": not a .npy file (it does not start with the magic string "
                  "\"\\x93NUMPY\")");
}

} // namespace
