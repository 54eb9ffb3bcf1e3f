//===- Npy.h - NumPy .npy files ---------------------------------*- C++ -*-===//
//
// Reading and writing the NumPy .npy files that dilattn-run and the tests
// exchange (docs/Contract.md section 5): format versions 1.0, 2.0 and 3.0, C
// order, little-endian '<f4', '<f2', '<f8' and '|b1' data. Anything else is
// refused with an llvm::Error whose message starts with the file name, so that
// a tool can print it after "error: " unchanged. parseNpy is safe on arbitrary
// bytes (it is a fuzz target), and every writer replaces its output atomically,
// so that a failure never leaves a partial file behind. Depends on LLVMSupport
// only.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_SUPPORT_NPY_H
#define DILATTN_SUPPORT_NPY_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace dilattn {
namespace npy {

/// The element types a .npy file may hold.
enum class DType {
  /// '<f4'
  F32,
  /// '<f2' (IEEE binary16)
  F16,
  /// '<f8'
  F64,
  /// '|b1', one byte per element, 0 or 1.
  Bool,
};

/// The NumPy type string a file written with `dtype` carries: "<f4", "<f2",
/// "<f8" or "|b1".
llvm::StringRef dtypeDescr(DType dtype);

/// Bytes per element of `dtype`.
int64_t dtypeSize(DType dtype);

/// The DType a NumPy type string names, or std::nullopt when it names one this
/// library does not support. Besides the strings dtypeDescr returns, accepts
/// '=' (native order) for the float types on little-endian hosts.
std::optional<DType> parseDtypeDescr(llvm::StringRef descr);

/// An array as a .npy file holds it.
struct Array {
  DType dtype = DType::F32;
  /// Empty for a scalar (shape ()).
  std::vector<int64_t> shape;
  /// Raw little-endian C-order data: numElements() * dtypeSize(dtype) bytes.
  std::vector<uint8_t> bytes;

  /// The product of `shape` (1 for a scalar). Precondition: the product does
  /// not overflow, as parseNpy guarantees for the arrays it returns.
  int64_t numElements() const;

  /// The elements converted to float: f16 and bool exactly, f64 rounded to
  /// nearest. Converts bytes.size() / dtypeSize(dtype) elements, so it stays
  /// in bounds even on an inconsistent Array.
  std::vector<float> toFloat32() const;
};

/// Converts IEEE binary16 bits to the float of the same value (exact: every
/// f16 value, subnormals, infinities and NaN payloads included, is a float).
float halfToFloat(uint16_t bits);

/// Parses the contents of a .npy file. Every refusal (malformed or
/// unsupported header, Fortran order, big-endian or unsupported dtype, bad
/// shape, data shorter or longer than the shape implies) is an error whose
/// message starts with `nameForMessages` followed by ": ". Safe on arbitrary
/// input: never reads out of bounds, never aborts.
llvm::Expected<Array> parseNpy(llvm::ArrayRef<uint8_t> contents,
                               llvm::StringRef nameForMessages);

/// Reads and parses the .npy file at `path`; messages start with `path`.
llvm::Expected<Array> readNpy(llvm::StringRef path);

/// Checks that `array` is consistent (non-negative dimensions whose product
/// does not overflow, bytes.size() matching the shape); messages start with
/// `nameForMessages`.
llvm::Error verifyArray(const Array &array, llvm::StringRef nameForMessages);

/// The bytes of a .npy file holding `array`, exactly as numpy.save writes
/// them: format 1.0 (2.0 when the header exceeds 65535 bytes), header padded
/// with spaces so that the data starts at a multiple of 64 bytes.
/// Precondition: verifyArray(array) succeeds.
std::vector<uint8_t> serializeNpy(const Array &array);

/// Writes `array` to `path` atomically: the data goes to a temporary file in
/// the same directory, which is flushed to disk (fsync) and then renamed over
/// `path`. On any failure `path` is left as it was and the temporary file is
/// removed. Refuses an inconsistent array (see verifyArray).
llvm::Error writeNpy(llvm::StringRef path, const Array &array);

/// Writes `data` as a '<f4' array of `shape` to `path`, atomically as
/// writeNpy does. Refuses a data size that does not match the shape.
llvm::Error writeNpyF32(llvm::StringRef path, llvm::ArrayRef<int64_t> shape,
                        llvm::ArrayRef<float> data);

} // namespace npy
} // namespace dilattn

#endif // DILATTN_SUPPORT_NPY_H
