//===- Npy.cpp - NumPy .npy files -----------------------------------------===//
//
// The format, as numpy/lib/format.py defines it: the magic "\x93NUMPY", a
// major and a minor version byte, the header length (2 bytes little-endian in
// version 1.0, 4 bytes in 2.0 and 3.0), then the header: the repr of a Python
// dict with the keys 'descr', 'fortran_order' and 'shape', padded with spaces
// and ending in '\n' (Latin-1 in 1.0 and 2.0, UTF-8 in 3.0). The raw data
// follows.
//
// The header is parsed as the Python literal it is (NumPy reads it with
// ast.literal_eval), not matched against the few spellings NumPy writes, so
// that files from other writers (other key orders, spacing, quotes) load too.
// Every read is bounds-checked and every size computation overflow-checked:
// parseNpy is a fuzz target.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Support/Npy.h"
#include "dilattn/Support/Error.h"

#include "dilattn/Support/Problem.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cerrno>
#include <string>
#include <unistd.h>

using namespace dilattn;
using namespace dilattn::npy;
using llvm::formatv;

namespace endian = llvm::support::endian;

static constexpr char kMagic[] = "\x93NUMPY";
static constexpr size_t kMagicSize = 6;
/// NumPy aligns the data to 64 bytes (format.ARRAY_ALIGN).
static constexpr size_t kArrayAlign = 64;
/// Spare header space NumPy leaves so that the first dimension can grow in
/// place (format.GROWTH_AXIS_MAX_DIGITS).
static constexpr size_t kGrowthAxisMaxDigits = 21;
/// Bounds the recursion of the header parser on hostile input.
static constexpr unsigned kMaxNesting = 32;
/// Longest piece of the file quoted in a message.
static constexpr size_t kMaxQuoted = 48;

static const char *const kSupportedDtypes = "'<f4', '<f2', '<f8', '|b1'";

/// A file that cannot be read, written or understood, named in the message.
static llvm::Error fileError(llvm::StringRef name, const llvm::Twine &message) {
  return makeError(ErrorCode::Io, name + ": " + message);
}

/// Quotes text from the file for a message: escaped, so that hostile bytes
/// cannot garble a terminal, and shortened.
static std::string quote(llvm::StringRef text) {
  std::string result;
  llvm::raw_string_ostream os(result);
  os << '\'';
  llvm::printEscapedString(text.take_front(kMaxQuoted), os);
  if (text.size() > kMaxQuoted)
    os << "...";
  os << '\'';
  return result;
}

//===----------------------------------------------------------------------===//
// DType
//===----------------------------------------------------------------------===//

llvm::StringRef npy::dtypeDescr(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return "<f4";
  case DType::F16:
    return "<f2";
  case DType::F64:
    return "<f8";
  case DType::Bool:
    return "|b1";
  }
  llvm_unreachable("unknown dtype");
}

int64_t npy::dtypeSize(DType dtype) {
  switch (dtype) {
  case DType::F32:
    return 4;
  case DType::F16:
    return 2;
  case DType::F64:
    return 8;
  case DType::Bool:
    return 1;
  }
  llvm_unreachable("unknown dtype");
}

std::optional<DType> npy::parseDtypeDescr(llvm::StringRef descr) {
  if (descr == "|b1")
    return DType::Bool;
  if (descr.size() != 3)
    return std::nullopt;
  // '=' is native order: little-endian data only where the host is.
  char order = descr[0];
  if (order != '<' &&
      !(order == '=' && llvm::endianness::native == llvm::endianness::little))
    return std::nullopt;
  llvm::StringRef kind = descr.drop_front();
  if (kind == "f4")
    return DType::F32;
  if (kind == "f2")
    return DType::F16;
  if (kind == "f8")
    return DType::F64;
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// Array
//===----------------------------------------------------------------------===//

int64_t Array::numElements() const {
  int64_t count = 1;
  for (int64_t size : shape)
    count *= size;
  return count;
}

float npy::halfToFloat(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000) << 16;
  uint32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ff;
  uint32_t result;
  if (exponent == 0x1f) {
    // Infinity or NaN; the payload (quiet bit included) moves up unchanged.
    result = sign | 0x7f800000 | (mantissa << 13);
  } else if (exponent != 0) {
    // Normal: rebias the exponent from 15 to 127.
    result = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    result = sign;
  } else {
    // Subnormal in f16, normal in f32: shift the leading one into the
    // implicit bit position, lowering the exponent once per shift.
    uint32_t floatExponent = 113;
    while (!(mantissa & 0x400)) {
      mantissa <<= 1;
      --floatExponent;
    }
    result = sign | (floatExponent << 23) | ((mantissa & 0x3ff) << 13);
  }
  return llvm::bit_cast<float>(result);
}

std::vector<float> Array::toFloat32() const {
  size_t count = bytes.size() / static_cast<size_t>(dtypeSize(dtype));
  std::vector<float> result(count);
  const uint8_t *data = bytes.data();
  switch (dtype) {
  case DType::F32:
    for (size_t i = 0; i < count; ++i)
      result[i] = llvm::bit_cast<float>(endian::read32le(data + 4 * i));
    break;
  case DType::F16:
    for (size_t i = 0; i < count; ++i)
      result[i] = halfToFloat(endian::read16le(data + 2 * i));
    break;
  case DType::F64:
    for (size_t i = 0; i < count; ++i)
      result[i] = static_cast<float>(
          llvm::bit_cast<double>(endian::read64le(data + 8 * i)));
    break;
  case DType::Bool:
    for (size_t i = 0; i < count; ++i)
      result[i] = data[i] ? 1.0f : 0.0f;
    break;
  }
  return result;
}

/// The number of data bytes `shape` implies for `dtype`, refusing negative
/// dimensions and sizes that overflow. Like NumPy, the non-zero dimensions
/// must have a representable product even when another dimension is zero.
static llvm::Expected<int64_t>
dataSize(llvm::StringRef name, llvm::ArrayRef<int64_t> shape, DType dtype) {
  int64_t size = dtypeSize(dtype);
  bool empty = false;
  for (int64_t dim : shape) {
    if (dim < 0)
      return fileError(name, formatv("shape {0} has a negative dimension",
                                     formatShape(shape)));
    if (dim == 0) {
      empty = true;
      continue;
    }
    if (llvm::MulOverflow(size, dim, size))
      return fileError(name,
                       formatv("shape {0} is too large: its size in bytes "
                               "overflows a 64-bit integer",
                               formatShape(shape)));
  }
  return empty ? 0 : size;
}

llvm::Error npy::verifyArray(const Array &array,
                             llvm::StringRef nameForMessages) {
  llvm::Expected<int64_t> expected =
      dataSize(nameForMessages, array.shape, array.dtype);
  if (!expected)
    return expected.takeError();
  if (static_cast<uint64_t>(*expected) != array.bytes.size())
    return fileError(
        nameForMessages,
        formatv("expected {0} bytes of {1} data for shape {2}, got {3}",
                *expected, dtypeDescr(array.dtype), formatShape(array.shape),
                array.bytes.size()));
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Header parsing
//===----------------------------------------------------------------------===//

namespace {

/// A Python literal of the subset that .npy headers use.
struct Literal {
  enum class Kind { String, Integer, Bool, None, Tuple, List, Dict };
  Kind kind = Kind::None;
  /// String: the value. Integer: the digits as written, for messages.
  std::string text;
  /// Integer: the value, unless it does not fit.
  int64_t integer = 0;
  bool integerOverflows = false;
  bool boolean = false;
  /// Tuple and List: the elements. Dict: keys and values, alternating.
  std::vector<Literal> items;
};

/// Renders a literal the way Python's repr would, shortened, for messages.
void render(const Literal &literal, llvm::raw_ostream &os) {
  switch (literal.kind) {
  case Literal::Kind::String:
    os << quote(literal.text);
    return;
  case Literal::Kind::Integer:
    os << literal.text;
    return;
  case Literal::Kind::Bool:
    os << (literal.boolean ? "True" : "False");
    return;
  case Literal::Kind::None:
    os << "None";
    return;
  case Literal::Kind::Tuple:
  case Literal::Kind::List: {
    bool tuple = literal.kind == Literal::Kind::Tuple;
    os << (tuple ? '(' : '[');
    llvm::interleaveComma(literal.items, os,
                          [&](const Literal &item) { render(item, os); });
    if (tuple && literal.items.size() == 1)
      os << ',';
    os << (tuple ? ')' : ']');
    return;
  }
  case Literal::Kind::Dict:
    os << '{';
    for (size_t i = 0; i + 1 < literal.items.size(); i += 2) {
      if (i)
        os << ", ";
      render(literal.items[i], os);
      os << ": ";
      render(literal.items[i + 1], os);
    }
    os << '}';
    return;
  }
}

std::string render(const Literal &literal) {
  std::string text;
  llvm::raw_string_ostream os(text);
  render(literal, os);
  if (text.size() > 2 * kMaxQuoted)
    text = text.substr(0, 2 * kMaxQuoted) + "...";
  return text;
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

/// A recursive-descent parser for the header's Python literal.
class HeaderParser {
public:
  HeaderParser(llvm::StringRef text, llvm::StringRef name)
      : text(text), name(name) {}

  /// Parses the whole header: one dict, then whitespace only.
  llvm::Expected<Literal> parseHeader() {
    skipSpace();
    if (!peekIs('{'))
      return error("expected '{'");
    Literal dict;
    if (llvm::Error err = parseValue(dict, 0))
      return err;
    skipSpace();
    if (pos != text.size())
      return error("unexpected text after the dict");
    return dict;
  }

private:
  llvm::Error error(const llvm::Twine &what) const {
    return fileError(name, "malformed .npy header: " + what +
                               " at header offset " + llvm::Twine(pos));
  }

  bool peekIs(char c) const { return pos < text.size() && text[pos] == c; }

  void skipSpace() {
    while (pos < text.size() && isSpace(text[pos]))
      ++pos;
  }

  llvm::Error parseValue(Literal &out, unsigned depth) {
    if (depth > kMaxNesting)
      return error("values nested too deeply");
    skipSpace();
    if (pos == text.size())
      return error("unexpected end of header");
    char c = text[pos];
    switch (c) {
    case '{':
      ++pos;
      return parseDict(out, depth);
    case '(':
      ++pos;
      return parseParenthesized(out, depth);
    case '[':
      ++pos;
      out.kind = Literal::Kind::List;
      return parseElements(out, ']', depth);
    case '\'':
    case '"':
      return parseString(out);
    default:
      break;
    }
    if (llvm::isDigit(c) || c == '-' || c == '+')
      return parseInteger(out);
    // A 'u' prefix marks the unicode strings of Python 2 writers.
    if ((c == 'u' || c == 'U') && pos + 1 < text.size() &&
        (text[pos + 1] == '\'' || text[pos + 1] == '"')) {
      ++pos;
      return parseString(out);
    }
    llvm::StringRef word =
        text.substr(pos).take_while([](char ch) { return llvm::isAlnum(ch); });
    if (word == "True" || word == "False") {
      out.kind = Literal::Kind::Bool;
      out.boolean = word == "True";
    } else if (word == "None") {
      out.kind = Literal::Kind::None;
    } else {
      return error("unexpected character " + quote(text.substr(pos, 1)));
    }
    pos += word.size();
    return llvm::Error::success();
  }

  llvm::Error parseString(Literal &out) {
    char quoteChar = text[pos++];
    out.kind = Literal::Kind::String;
    while (true) {
      if (pos == text.size() || text[pos] == '\n')
        return error("unterminated string");
      char c = text[pos++];
      if (c == quoteChar)
        return llvm::Error::success();
      if (c != '\\') {
        out.text.push_back(c);
        continue;
      }
      if (pos == text.size())
        return error("unterminated string");
      char escaped = text[pos++];
      switch (escaped) {
      case '\\':
      case '\'':
      case '"':
        out.text.push_back(escaped);
        break;
      case 'n':
        out.text.push_back('\n');
        break;
      case 't':
        out.text.push_back('\t');
        break;
      default:
        // Python keeps unknown escapes as written.
        out.text.push_back('\\');
        out.text.push_back(escaped);
        break;
      }
    }
  }

  llvm::Error parseInteger(Literal &out) {
    size_t start = pos;
    bool negative = false;
    if (text[pos] == '-' || text[pos] == '+')
      negative = text[pos++] == '-';
    if (pos == text.size() || !llvm::isDigit(text[pos]))
      return error("expected a digit");
    out.kind = Literal::Kind::Integer;
    int64_t value = 0;
    for (; pos < text.size() && llvm::isDigit(text[pos]); ++pos) {
      int64_t digit = text[pos] - '0';
      if (llvm::MulOverflow(value, int64_t(10), value) ||
          llvm::AddOverflow(value, negative ? -digit : digit, value))
        out.integerOverflows = true;
    }
    out.integer = value;
    out.text = text.slice(start, pos).str();
    // The 'L' suffix of Python 2 longs, which NumPy still accepts.
    if (pos < text.size() && (text[pos] == 'L' || text[pos] == 'l'))
      ++pos;
    return llvm::Error::success();
  }

  /// After '(': an empty tuple, a parenthesized value, or a tuple.
  llvm::Error parseParenthesized(Literal &out, unsigned depth) {
    skipSpace();
    out.kind = Literal::Kind::Tuple;
    if (peekIs(')')) {
      ++pos;
      return llvm::Error::success();
    }
    Literal first;
    if (llvm::Error err = parseValue(first, depth + 1))
      return err;
    skipSpace();
    // "(5)" is the integer 5, not a tuple: only a comma makes one.
    if (peekIs(')')) {
      ++pos;
      out = std::move(first);
      return llvm::Error::success();
    }
    if (!peekIs(','))
      return error("expected ',' or ')'");
    ++pos;
    out.items.push_back(std::move(first));
    return parseElements(out, ')', depth);
  }

  /// Comma-separated values up to `close`, a trailing comma allowed.
  llvm::Error parseElements(Literal &out, char close, unsigned depth) {
    while (true) {
      skipSpace();
      if (peekIs(close)) {
        ++pos;
        return llvm::Error::success();
      }
      Literal item;
      if (llvm::Error err = parseValue(item, depth + 1))
        return err;
      out.items.push_back(std::move(item));
      skipSpace();
      if (peekIs(','))
        ++pos;
      else if (!peekIs(close))
        return error(llvm::Twine("expected ',' or '") + llvm::Twine(close) +
                     "'");
    }
  }

  llvm::Error parseDict(Literal &out, unsigned depth) {
    out.kind = Literal::Kind::Dict;
    while (true) {
      skipSpace();
      if (peekIs('}')) {
        ++pos;
        return llvm::Error::success();
      }
      Literal key, value;
      if (llvm::Error err = parseValue(key, depth + 1))
        return err;
      skipSpace();
      if (!peekIs(':'))
        return error("expected ':'");
      ++pos;
      if (llvm::Error err = parseValue(value, depth + 1))
        return err;
      out.items.push_back(std::move(key));
      out.items.push_back(std::move(value));
      skipSpace();
      if (peekIs(','))
        ++pos;
      else if (!peekIs('}'))
        return error("expected ',' or '}'");
    }
  }

  llvm::StringRef text;
  llvm::StringRef name;
  size_t pos = 0;
};

/// The three header entries, once validated.
struct Header {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
};

llvm::Expected<DType> interpretDescr(const Literal &descr,
                                     llvm::StringRef name) {
  if (descr.kind != Literal::Kind::String) {
    // A list describes a structured dtype.
    llvm::StringRef what = descr.kind == Literal::Kind::List
                               ? "structured dtype"
                               : "dtype description";
    return fileError(name, formatv("unsupported {0} {1}; supported dtypes: {2}",
                                   what, render(descr), kSupportedDtypes));
  }
  if (std::optional<DType> dtype = parseDtypeDescr(descr.text))
    return *dtype;
  llvm::StringRef text = descr.text;
  if (text.starts_with(">")) {
    std::string little = "<" + text.drop_front().str();
    if (parseDtypeDescr(little))
      return fileError(name, formatv("big-endian byte order ({0}) is not "
                                     "supported; save little-endian data, e.g. "
                                     "with arr.astype({1})",
                                     quote(text), quote(little)));
    return fileError(name,
                     formatv("big-endian byte order ({0}) is not supported; "
                             "supported dtypes: {1}",
                             quote(text), kSupportedDtypes));
  }
  return fileError(name, formatv("unsupported dtype {0}; supported dtypes: {1}",
                                 quote(text), kSupportedDtypes));
}

llvm::Expected<std::vector<int64_t>> interpretShape(const Literal &shape,
                                                    llvm::StringRef name) {
  if (shape.kind != Literal::Kind::Tuple)
    return fileError(
        name,
        formatv("'shape' must be a tuple of integers, got {0}", render(shape)));
  std::vector<int64_t> dims;
  dims.reserve(shape.items.size());
  for (const Literal &dim : shape.items) {
    if (dim.kind != Literal::Kind::Integer)
      return fileError(name,
                       formatv("'shape' must be a tuple of integers, got {0}",
                               render(shape)));
    if (dim.integerOverflows)
      return fileError(name,
                       formatv("shape dimension {0} does not fit a 64-bit "
                               "integer",
                               dim.text));
    dims.push_back(dim.integer);
  }
  return dims;
}

llvm::Expected<Header> interpretHeader(const Literal &dict,
                                       llvm::StringRef name) {
  const Literal *descr = nullptr, *fortranOrder = nullptr, *shape = nullptr;
  for (size_t i = 0; i + 1 < dict.items.size(); i += 2) {
    const Literal &key = dict.items[i];
    const Literal **slot = nullptr;
    if (key.kind == Literal::Kind::String) {
      if (key.text == "descr")
        slot = &descr;
      else if (key.text == "fortran_order")
        slot = &fortranOrder;
      else if (key.text == "shape")
        slot = &shape;
    }
    if (!slot)
      return fileError(name, formatv("unexpected key {0} in the .npy header "
                                     "(expected 'descr', 'fortran_order' and "
                                     "'shape')",
                                     render(key)));
    // Python would keep the last one; refuse rather than guess.
    if (*slot)
      return fileError(
          name, formatv("duplicate key {0} in the .npy header", render(key)));
    *slot = &dict.items[i + 1];
  }
  for (auto [literal, key] : {std::make_pair(descr, "descr"),
                              std::make_pair(fortranOrder, "fortran_order"),
                              std::make_pair(shape, "shape")})
    if (!literal)
      return fileError(name, formatv("the .npy header has no '{0}' key", key));

  Header header;
  llvm::Expected<DType> dtype = interpretDescr(*descr, name);
  if (!dtype)
    return dtype.takeError();
  header.dtype = *dtype;
  if (fortranOrder->kind != Literal::Kind::Bool)
    return fileError(name,
                     formatv("'fortran_order' must be True or False, got {0}",
                             render(*fortranOrder)));
  if (fortranOrder->boolean)
    return fileError(name, "fortran_order arrays are not supported; save with "
                           "np.ascontiguousarray");
  llvm::Expected<std::vector<int64_t>> dims = interpretShape(*shape, name);
  if (!dims)
    return dims.takeError();
  header.shape = std::move(*dims);
  return header;
}

} // namespace

llvm::Expected<Array> npy::parseNpy(llvm::ArrayRef<uint8_t> contents,
                                    llvm::StringRef nameForMessages) {
  llvm::StringRef name = nameForMessages;
  llvm::StringRef file(reinterpret_cast<const char *>(contents.data()),
                       contents.size());
  if (!file.starts_with(llvm::StringRef(kMagic, kMagicSize)))
    return fileError(name, "not a .npy file (it does not start with the magic "
                           "string \"\\x93NUMPY\")");
  if (file.size() < kMagicSize + 2)
    return fileError(name,
                     formatv("truncated .npy file: {0} bytes end before the "
                             "format version",
                             file.size()));
  unsigned major = contents[kMagicSize], minor = contents[kMagicSize + 1];
  if (major < 1 || major > 3 || minor != 0)
    return fileError(name, formatv("unsupported .npy format version {0}.{1} "
                                   "(supported: 1.0, 2.0, 3.0)",
                                   major, minor));
  size_t lengthSize = major == 1 ? 2 : 4;
  size_t prefixSize = kMagicSize + 2 + lengthSize;
  if (file.size() < prefixSize)
    return fileError(name,
                     formatv("truncated .npy file: {0} bytes end before the "
                             "header length",
                             file.size()));
  const uint8_t *lengthBytes = contents.data() + kMagicSize + 2;
  uint64_t headerSize = major == 1 ? endian::read16le(lengthBytes)
                                   : endian::read32le(lengthBytes);
  if (headerSize > file.size() - prefixSize)
    return fileError(name, formatv("header length {0} runs past the end of the "
                                   "file ({1} bytes)",
                                   headerSize, file.size()));

  llvm::StringRef headerText = file.substr(prefixSize, headerSize);
  llvm::Expected<Literal> dict = HeaderParser(headerText, name).parseHeader();
  if (!dict)
    return dict.takeError();
  llvm::Expected<Header> header = interpretHeader(*dict, name);
  if (!header)
    return header.takeError();

  llvm::Expected<int64_t> expected =
      dataSize(name, header->shape, header->dtype);
  if (!expected)
    return expected.takeError();
  llvm::ArrayRef<uint8_t> data = contents.drop_front(prefixSize + headerSize);
  if (static_cast<uint64_t>(*expected) != data.size())
    return fileError(
        name, formatv("expected {0} bytes of {1} data for shape {2}, got "
                      "{3}{4}",
                      *expected, dtypeDescr(header->dtype),
                      formatShape(header->shape), data.size(),
                      data.size() > static_cast<uint64_t>(*expected)
                          ? " (trailing bytes after the data)"
                          : ""));

  Array array;
  array.dtype = header->dtype;
  array.shape = std::move(header->shape);
  array.bytes.assign(data.begin(), data.end());
  return array;
}

llvm::Expected<Array> npy::readNpy(llvm::StringRef path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fileError(path, "cannot read: " + buffer.getError().message());
  llvm::StringRef contents = (*buffer)->getBuffer();
  return parseNpy(
      llvm::ArrayRef<uint8_t>(
          reinterpret_cast<const uint8_t *>(contents.data()), contents.size()),
      path);
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

std::vector<uint8_t> npy::serializeNpy(const Array &array) {
  // The dict exactly as numpy.lib.format._write_array_header spells it: keys
  // sorted, each entry followed by ", ", then spare space for the first
  // dimension to grow in place.
  std::string dict;
  llvm::raw_string_ostream os(dict);
  os << "{'descr': '" << dtypeDescr(array.dtype)
     << "', 'fortran_order': False, 'shape': (";
  llvm::interleaveComma(array.shape, os);
  if (array.shape.size() == 1)
    os << ',';
  os << "), }";
  if (!array.shape.empty())
    dict.append(kGrowthAxisMaxDigits - std::to_string(array.shape[0]).size(),
                ' ');

  // Pad with spaces and a final '\n' so that the data starts aligned; switch
  // to version 2.0 only when the length does not fit version 1.0's 16 bits.
  size_t unpadded = dict.size() + 1;
  unsigned major = 1;
  size_t prefixSize = kMagicSize + 2 + 2;
  size_t padding = kArrayAlign - (prefixSize + unpadded) % kArrayAlign;
  if (unpadded + padding > 0xffff) {
    major = 2;
    prefixSize = kMagicSize + 2 + 4;
    padding = kArrayAlign - (prefixSize + unpadded) % kArrayAlign;
  }
  size_t headerSize = unpadded + padding;

  // Filled in place rather than appended to: sized once, and GCC 12 warns
  // falsely (-Wstringop-overflow) about vector::insert here.
  std::vector<uint8_t> result(prefixSize + headerSize + array.bytes.size(),
                              ' ');
  uint8_t *out = result.data();
  out = std::copy(kMagic, kMagic + kMagicSize, out);
  *out++ = static_cast<uint8_t>(major);
  *out++ = 0;
  if (major == 1)
    endian::write16le(out, static_cast<uint16_t>(headerSize));
  else
    endian::write32le(out, static_cast<uint32_t>(headerSize));
  out = std::copy(dict.begin(), dict.end(), result.data() + prefixSize);
  // The padding spaces are already there.
  out += padding;
  *out++ = '\n';
  std::copy(array.bytes.begin(), array.bytes.end(), out);
  return result;
}

/// Replaces `path` with `contents` so that no reader ever sees a partial
/// file: the data goes to a temporary file in the same directory (so that the
/// rename stays within one file system and is atomic), reaches the disk
/// (fsync, so that a crash after the rename cannot leave an empty file), and
/// is renamed over `path`. Any failure removes the temporary file.
static llvm::Error writeFileAtomically(llvm::StringRef path,
                                       llvm::ArrayRef<uint8_t> contents) {
  llvm::SmallString<256> model(llvm::sys::path::parent_path(path));
  if (model.empty())
    model = ".";
  llvm::sys::path::append(model, "." + llvm::sys::path::filename(path) +
                                     ".tmp-%%%%%%%%");
  int fd = -1;
  llvm::SmallString<256> tempPath;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(model, fd, tempPath))
    return fileError(path, "cannot create a temporary file next to it: " +
                               ec.message());
  // A signal (e.g. Ctrl-C) during the write must not leave it behind either.
  llvm::sys::RemoveFileOnSignal(tempPath);

  // What failed, for the message; empty while all goes well.
  std::string failure;
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/false);
    os.write(reinterpret_cast<const char *>(contents.data()), contents.size());
    os.flush();
    if (os.has_error()) {
      failure = formatv("cannot write the temporary file '{0}': {1}", tempPath,
                        os.error().message());
      os.clear_error();
    }
  }
  if (failure.empty() && ::fsync(fd) != 0)
    failure = formatv("cannot flush the temporary file '{0}' to disk: {1}",
                      tempPath, std::generic_category().message(errno));
  if (std::error_code ec = llvm::sys::Process::SafelyCloseFileDescriptor(fd);
      ec && failure.empty())
    failure = formatv("cannot close the temporary file '{0}': {1}", tempPath,
                      ec.message());
  if (failure.empty())
    if (std::error_code ec = llvm::sys::fs::rename(tempPath, path))
      failure = formatv("cannot rename the temporary file '{0}' onto it: {1}",
                        tempPath, ec.message());
  if (!failure.empty())
    llvm::sys::fs::remove(tempPath);
  llvm::sys::DontRemoveFileOnSignal(tempPath);
  if (!failure.empty())
    return fileError(path, failure);
  return llvm::Error::success();
}

llvm::Error npy::writeNpy(llvm::StringRef path, const Array &array) {
  if (llvm::Error err = verifyArray(array, path))
    return err;
  return writeFileAtomically(path, serializeNpy(array));
}

llvm::Error npy::writeNpyF32(llvm::StringRef path,
                             llvm::ArrayRef<int64_t> shape,
                             llvm::ArrayRef<float> data) {
  llvm::Expected<int64_t> size = dataSize(path, shape, DType::F32);
  if (!size)
    return size.takeError();
  if (static_cast<uint64_t>(*size / 4) != data.size())
    return fileError(path,
                     formatv("shape {0} holds {1} elements, got {2} values",
                             formatShape(shape), *size / 4, data.size()));
  Array array;
  array.dtype = DType::F32;
  array.shape.assign(shape.begin(), shape.end());
  array.bytes.resize(data.size() * 4);
  for (size_t i = 0; i < data.size(); ++i)
    endian::write32le(array.bytes.data() + 4 * i,
                      llvm::bit_cast<uint32_t>(data[i]));
  return writeNpy(path, array);
}
