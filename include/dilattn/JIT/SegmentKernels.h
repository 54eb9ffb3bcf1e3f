//===- SegmentKernels.h - online-softmax kernels for custom tilings -*- C++
//-*-===//
//
// The two kernels the CPU pipeline lowers every dilated attention to, for
// drivers that choose the tiling themselves (sequence parallelism, where
// keys come from other ranks): fold a block of keys into the online-softmax
// states of a block of queries (`dilattn.segment_attention`), and write
// states to output rows (`dilattn.write_states`). Both are JIT-compiled
// through dilattn-cpu-pipeline once per head dim, scale and output scale,
// and take rows of any stride.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_JIT_SEGMENTKERNELS_H
#define DILATTN_JIT_SEGMENTKERNELS_H

#include "dilattn/JIT/Jit.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <optional>

namespace dilattn::jit {

/// `rows` rows of `width` f32 values, `stride` elements apart (width is the
/// head dim for matrices, 1 for per-row states).
struct RowView {
  float *data = nullptr;
  int64_t rows = 0;
  int64_t stride = 0;
};

struct SegmentKernelSpec {
  int64_t headDim = 0;
  /// Scores are scale * <q, k>.
  double scale = 1.0;
  /// write() multiplies every output row by it (1/k in grouped mode).
  double outputScale = 1.0;
  CpuTuning tuning;
};

class SegmentKernels {
public:
  ~SegmentKernels();

  /// Compiles the kernels for `spec` (a few hundred milliseconds).
  static llvm::Expected<std::unique_ptr<SegmentKernels>>
  compile(const SegmentKernelSpec &spec);

  const SegmentKernelSpec &getSpec() const { return spec; }

  /// Initial states of `rows` rows: max -inf, sum 0, acc 0.
  static void resetStates(RowView max, RowView sum, RowView acc,
                          int64_t headDim);

  /// Folds keys `key`/`value` (nk rows) into the states of queries `query`
  /// (nq rows; max, sum and acc have nq rows too). With `queryStart`, query
  /// row i sees key j only if j <= *queryStart + i (*queryStart >= 0).
  void fold(RowView query, RowView key, RowView value, RowView max, RowView sum,
            RowView acc,
            std::optional<int64_t> queryStart = std::nullopt) const;

  /// Writes output row i from state i (0 where the state saw no key).
  void write(RowView max, RowView sum, RowView acc, RowView output) const;

private:
  SegmentKernels();
  struct Impl;
  std::unique_ptr<Impl> impl;
  SegmentKernelSpec spec;
};

} // namespace dilattn::jit

#endif // DILATTN_JIT_SEGMENTKERNELS_H
