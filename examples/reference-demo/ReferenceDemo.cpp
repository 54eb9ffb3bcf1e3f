//===- ReferenceDemo.cpp - the float64 reference on a random problem ------===//
//
// Runs the float64 reference of SPEC.md section 1 on a small random problem
// in both modes and prints a summary: what the oracle that every kernel is
// checked against computes, and how long it takes. Usage:
//
//   dilattn-reference-demo [B N H D]
//
//===----------------------------------------------------------------------===//

#include "dilattn/Reference/Reference.h"

#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <cstdlib>

using namespace dilattn;

int main(int argc, char **argv) {
  int64_t dims[4] = {1, 512, 4, 32};
  if (argc == 5) {
    for (int i = 0; i < 4; ++i)
      dims[i] = std::strtoll(argv[i + 1], nullptr, 10);
  } else if (argc != 1) {
    llvm::errs() << "usage: dilattn-reference-demo [B N H D]\n";
    return 1;
  }
  std::vector<int64_t> shape(dims, dims + 4);
  reference::Tensor query = reference::randomTensor(shape, 1);
  reference::Tensor key = reference::randomTensor(shape, 2);
  reference::Tensor value = reference::randomTensor(shape, 3);

  for (AttentionMode mode : {AttentionMode::Grouped, AttentionMode::LongNet}) {
    DilatedAttentionConfig config;
    config.segmentLengths = {64, 128, 256};
    config.dilationRates = {1, 2, 4};
    config.mode = mode;
    auto start = std::chrono::steady_clock::now();
    llvm::Expected<reference::Tensor> out =
        reference::dilatedAttention(config, query, key, value);
    double ms = std::chrono::duration<double, std::milli>(
                    std::chrono::steady_clock::now() - start)
                    .count();
    if (!out) {
      llvm::errs() << "error: " << llvm::toString(out.takeError()) << "\n";
      return 1;
    }
    // Rows (b, n, h) the call leaves exactly zero: in grouped mode, the
    // positions a head's pattern does not select.
    int64_t headDim = dims[3], rows = out->numElements() / headDim,
            zeroRows = 0;
    double sumSquares = 0;
    for (int64_t row = 0; row < rows; ++row) {
      bool zero = true;
      for (int64_t d = 0; d < headDim; ++d) {
        double x = out->data[row * headDim + d];
        sumSquares += x * x;
        zero &= x == 0.0;
      }
      zeroRows += zero;
    }
    llvm::outs() << "reference " << stringifyAttentionMode(mode) << ": shape "
                 << formatShape(shape) << ", patterns (64,1) (128,2) (256,4), "
                 << "||out|| = " << llvm::format("%.6f", std::sqrt(sumSquares))
                 << ", zero rows " << zeroRows << "/" << rows << ", "
                 << llvm::format("%.1f", ms) << " ms\n";
  }
  return 0;
}
