//===- NpyFuzzer.cpp - libFuzzer target: the .npy reader ------------------===//
//
// Arbitrary bytes as the contents of a .npy file. parseNpy must never read
// out of bounds or abort (ASan and UBSan watch), must refuse with a message
// that names the file, and what it accepts must be a consistent array that
// writes back to a file parsing to the same array.
//
//===----------------------------------------------------------------------===//

#include "FuzzInput.h"

#include "dilattn/Support/Npy.h"

#include "llvm/ADT/StringRef.h"

#include <string>

using namespace dilattn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::ArrayRef<uint8_t> contents(data, size);
  llvm::Expected<npy::Array> array = npy::parseNpy(contents, "fuzz.npy");
  if (!array) {
    std::string message = llvm::toString(array.takeError());
    fuzzCheck(llvm::StringRef(message).starts_with("fuzz.npy: "));
    fuzzCheck(message.size() > std::strlen("fuzz.npy: "));
    return 0;
  }

  // Accepted: consistent, and the element count is the shape's product.
  fuzzCheck(!llvm::errorToBool(npy::verifyArray(*array, "fuzz.npy")));
  int64_t elements = array->numElements();
  fuzzCheck(elements >= 0);
  fuzzCheck(static_cast<uint64_t>(elements) *
                static_cast<uint64_t>(npy::dtypeSize(array->dtype)) ==
            array->bytes.size());
  fuzzCheck(array->toFloat32().size() == static_cast<size_t>(elements));

  // Written back and read again, it is the same array.
  std::vector<uint8_t> written = npy::serializeNpy(*array);
  llvm::Expected<npy::Array> again = npy::parseNpy(written, "again.npy");
  fuzzCheck(static_cast<bool>(again));
  fuzzCheck(again->dtype == array->dtype);
  fuzzCheck(again->shape == array->shape);
  fuzzCheck(again->bytes == array->bytes);
  // NumPy's own layout: the data starts at a multiple of 64 bytes.
  fuzzCheck((written.size() - array->bytes.size()) % 64 == 0);
  return 0;
}
