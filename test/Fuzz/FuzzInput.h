//===- FuzzInput.h - reading structured values out of fuzz input --*- C++
//-*-===//
//
// The fuzz targets that drive an API (the C API, the cache loader's modes)
// read their choices from the input bytes. Running out of bytes yields zeros,
// so every input, however short, is a valid script; libFuzzer mutates the
// bytes and the choices follow.
//
// fuzzCheck is the targets' assertion: it aborts (a crash libFuzzer records,
// with the message) when an invariant is broken. It is not assert(): the
// targets check in every build type.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_TEST_FUZZ_FUZZINPUT_H
#define DILATTN_TEST_FUZZ_FUZZINPUT_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace dilattn::fuzz {

[[noreturn]] inline void fuzzFailure(const char *what, const char *file,
                                     int line) {
  std::fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", file, line, what);
  std::abort();
}

#define fuzzCheck(condition)                                                   \
  do {                                                                         \
    if (!(condition))                                                          \
      ::dilattn::fuzz::fuzzFailure(#condition, __FILE__, __LINE__);            \
  } while (false)

class FuzzInput {
public:
  FuzzInput(const uint8_t *data, size_t size) : data(data), size(size) {}

  bool empty() const { return position >= size; }
  size_t remaining() const { return empty() ? 0 : size - position; }

  uint8_t byte() { return empty() ? 0 : data[position++]; }

  /// A value in [0, bound) (bound > 0).
  unsigned choice(unsigned bound) { return byte() % bound; }

  bool flag() { return byte() & 1; }

  template <typename T> T raw() {
    T value{};
    uint8_t bytes[sizeof(T)] = {};
    for (uint8_t &b : bytes)
      b = byte();
    std::memcpy(&value, bytes, sizeof(T));
    return value;
  }

  /// One of `values`, or (one time in eight) raw bits: mostly the values that
  /// matter, sometimes anything.
  template <typename T> T pick(llvm::ArrayRef<T> values) {
    uint8_t selector = byte();
    if (selector % 8 == 7 || values.empty())
      return raw<T>();
    return values[(selector / 8) % values.size()];
  }

  /// The rest of the input.
  llvm::ArrayRef<uint8_t> rest() {
    llvm::ArrayRef<uint8_t> result(data + position, remaining());
    position = size;
    return result;
  }

private:
  const uint8_t *data;
  size_t size;
  size_t position = 0;
};

} // namespace dilattn::fuzz

#endif // DILATTN_TEST_FUZZ_FUZZINPUT_H
