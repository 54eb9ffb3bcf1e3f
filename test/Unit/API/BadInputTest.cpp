//===- BadInputTest.cpp - hostile values and sizes at the runtime API -----===//
//
// What the kernels do with inputs that are valid by the rules but hostile in
// value or size (docs/reliability.md):
//
//  - NaN and infinities in Q, K or V stay within the rows they reach (see
//    PoisonsOnlyTheRowsItReaches for what each does there): every other row
//    matches the reference, nothing crashes or hangs; K and V rows that no
//    allowed pair reaches (masks, causal, dilation) never affect an output,
//    in every mode and with both mask kinds (UnreachableRows);
//  - index arithmetic is 64-bit: an attention bias of more than 2^32
//    elements is read at the right place (a 32-bit offset would wrap and
//    read the wrong bias).
//
//===----------------------------------------------------------------------===//

#include "dilattn/API/DilatedAttention.h"
#include "dilattn/Reference/Reference.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>

#include <sys/mman.h>

using namespace dilattn;

namespace {

jit::Jit &testJit() {
  static jit::Jit jit([] {
    jit::JitOptions options;
    options.useDefaultCacheDirectory = false;
    return options;
  }());
  return jit;
}

struct Problem {
  DilatedAttentionConfig config;
  std::vector<int64_t> shape;
  std::vector<float> q, k, v;
};

Problem makeProblem(AttentionMode mode, bool causal) {
  Problem p;
  p.config.segmentLengths = {8, 16};
  p.config.dilationRates = {1, 2};
  p.config.mode = mode;
  p.config.causal = causal;
  p.shape = {1, 32, 2, 8};
  for (auto [data, seed] : {std::make_pair(&p.q, 1), std::make_pair(&p.k, 2),
                            std::make_pair(&p.v, 3)}) {
    reference::Tensor t = reference::randomTensor(p.shape, seed);
    data->assign(t.data.begin(), t.data.end());
  }
  return p;
}

std::vector<float> run(const Problem &p) {
  llvm::SmallVector<int64_t, 4> dims(p.shape.begin(), p.shape.end());
  std::vector<float> out(p.q.size(), 12345.0f);
  RunOptions options;
  options.jit = &testJit();
  auto info = dilatedAttention(p.config, HostTensor{p.q.data(), dims},
                               HostTensor{p.k.data(), dims},
                               HostTensor{p.v.data(), dims}, std::nullopt,
                               std::nullopt, out.data(), dims, options);
  EXPECT_TRUE(static_cast<bool>(info)) << llvm::toString(info.takeError());
  return out;
}

reference::Tensor tensorOf(const std::vector<float> &data,
                           const std::vector<int64_t> &shape) {
  reference::Tensor t;
  t.shape = shape;
  t.data.assign(data.begin(), data.end());
  return t;
}

/// The reference output of `p`, float64.
std::vector<double> referenceOf(const Problem &p) {
  auto expected = reference::dilatedAttention(p.config, tensorOf(p.q, p.shape),
                                              tensorOf(p.k, p.shape),
                                              tensorOf(p.v, p.shape));
  EXPECT_TRUE(static_cast<bool>(expected));
  if (!expected) {
    llvm::consumeError(expected.takeError());
    return {};
  }
  return expected->data;
}

class NonFinite : public testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(NonFinite, PoisonsOnlyTheRowsItReaches) {
  auto [tensor, kind, modeAndCausal] = GetParam();
  Problem clean = makeProblem(modeAndCausal / 2 ? AttentionMode::LongNet
                                                : AttentionMode::Grouped,
                              modeAndCausal % 2);
  float value = kind == 0   ? std::numeric_limits<float>::quiet_NaN()
                : kind == 1 ? std::numeric_limits<float>::infinity()
                            : -std::numeric_limits<float>::infinity();
  // Position 5, head 0, element 3 of Q, K or V.
  int64_t h = clean.shape[2], d = clean.shape[3];
  size_t element = (5 * h + 0) * d + 3;
  auto withValue = [&](float x) {
    Problem p = clean;
    std::vector<float> &target = tensor == 0 ? p.q : tensor == 1 ? p.k : p.v;
    target[element] = x;
    return p;
  };

  // The rows the element reaches: those whose reference output changes when
  // it changes to another finite value.
  std::vector<double> before = referenceOf(clean);
  std::vector<double> after = referenceOf(withValue(7.5f));
  ASSERT_EQ(before.size(), clean.q.size());
  ASSERT_EQ(after.size(), clean.q.size());
  int64_t rows = static_cast<int64_t>(before.size()) / d, reached = 0;
  std::vector<bool> isReached(rows);
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t i = row * d; i < (row + 1) * d; ++i)
      isReached[row] = isReached[row] || before[i] != after[i];
    reached += isReached[row];
  }
  // Position 5 is selected by the first pattern: something is reached, and
  // far from everything.
  ASSERT_GT(reached, 0);
  ASSERT_LT(reached, rows / 2);

  Problem bad = withValue(value);
  std::vector<float> out = run(bad);
  for (int64_t row = 0; row < rows; ++row) {
    bool anyNaN = false, anyNonFinite = false, allZero = true;
    for (int64_t i = row * d; i < (row + 1) * d; ++i) {
      anyNaN |= std::isnan(out[i]);
      anyNonFinite |= !std::isfinite(out[i]);
      allZero &= out[i] == 0.0f;
    }
    if (!isReached[row]) {
      // Every row the element does not reach is exact, also the queries of
      // its key block that may not attend it (causal): the kernel skips
      // their pairs instead of multiplying a zero weight by the value.
      for (int64_t i = row * d; i < (row + 1) * d; ++i)
        ASSERT_NEAR(out[i], before[i], 1e-5) << "row " << row;
      continue;
    }
    if (tensor == 0) {
      // A query row with a non-finite element has only unordered or
      // infinite scores: the kernel drops them all, as masked, and writes
      // the row of a query with no allowed key, exactly 0.
      EXPECT_TRUE(allZero) << "row " << row;
      continue;
    }
    if (tensor == 2) {
      // A non-finite value row reaches the output of every query that
      // attends it.
      EXPECT_TRUE(kind == 0 ? anyNaN : anyNonFinite) << "row " << row;
      continue;
    }
    // A NaN key gives an unordered score, dropped like a masked key; an
    // infinite key gives +-inf scores: -inf masks the key, +inf leaves no
    // finite score in the row (exactly 0, as above). Either way a finite
    // row: a convex combination of its head's V rows, times 1/k in grouped
    // mode.
    ASSERT_FALSE(anyNonFinite) << "row " << row;
    int64_t head = row % h;
    for (int64_t i = 0; i < d; ++i) {
      float lo = 0, hi = 0;
      for (int64_t pos = 0; pos < bad.shape[1]; ++pos) {
        float x = bad.v[(pos * h + head) * d + i];
        lo = std::min(lo, x);
        hi = std::max(hi, x);
      }
      float y = out[row * d + i];
      EXPECT_TRUE(y >= lo - 1e-5f && y <= hi + 1e-5f)
          << "row " << row << " element " << i << ": " << y;
    }
  }
}

std::string
nonFiniteName(const testing::TestParamInfo<std::tuple<int, int, int>> &info) {
  static const char *const tensors[] = {"Q", "K", "V"};
  static const char *const kinds[] = {"NaN", "Inf", "MinusInf"};
  static const char *const modes[] = {"Grouped", "GroupedCausal", "LongNet",
                                      "LongNetCausal"};
  return std::string(tensors[std::get<0>(info.param)]) +
         kinds[std::get<1>(info.param)] + modes[std::get<2>(info.param)];
}

INSTANTIATE_TEST_SUITE_P(Values, NonFinite,
                         testing::Combine(testing::Values(0, 1, 2),
                                          testing::Values(0, 1, 2),
                                          testing::Values(0, 1, 2, 3)),
                         nonFiniteName);

/// The masks of UnreachableRows: none, a key padding mask, a boolean or a
/// float attention mask (N, N).
enum class MaskCase { None, KeyPadding, BoolAttn, FloatAttn };

struct MaskedProblem {
  Problem problem;
  MaskCase maskCase = MaskCase::None;
  std::vector<uint8_t> bools; // key padding (B, N) or attention mask (N, N)
  std::vector<float> bias;    // float attention mask (N, N)
  jit::CpuTuning tuning;
};

/// (B, N, H, D) = (1, 48, 2, 8), patterns (16, 1) and (24, 2). The masks
/// make whole key columns unreachable (keys 3, 10, 17, ... and, for key
/// padding, the last four) and, for the attention masks, forbid scattered
/// pairs too, so that key blocks mix allowed and forbidden pairs.
MaskedProblem makeMaskedProblem(int mode, bool causal, MaskCase maskCase) {
  MaskedProblem m;
  Problem &p = m.problem;
  p.config.segmentLengths = {16, 24};
  p.config.dilationRates = {1, 2};
  p.config.mode = mode == 0 ? AttentionMode::Grouped : AttentionMode::LongNet;
  p.config.causal = causal;
  // Mode 2: LongNet with one online-softmax state per pattern.
  m.tuning.fusePatterns = mode != 2;
  p.shape = {1, 48, 2, 8};
  for (auto [data, seed] : {std::make_pair(&p.q, 11), std::make_pair(&p.k, 12),
                            std::make_pair(&p.v, 13)}) {
    reference::Tensor t = reference::randomTensor(p.shape, seed);
    data->assign(t.data.begin(), t.data.end());
  }
  m.maskCase = maskCase;
  int64_t n = p.shape[1];
  auto columnMasked = [](int64_t y) { return y % 7 == 3; };
  auto pairMasked = [&](int64_t x, int64_t y) {
    return columnMasked(y) || (x * 5 + y * 3) % 11 == 0;
  };
  if (maskCase == MaskCase::KeyPadding)
    for (int64_t y = 0; y < n; ++y)
      m.bools.push_back(columnMasked(y) || y >= n - 4);
  if (maskCase == MaskCase::BoolAttn)
    for (int64_t x = 0; x < n; ++x)
      for (int64_t y = 0; y < n; ++y)
        m.bools.push_back(pairMasked(x, y));
  if (maskCase == MaskCase::FloatAttn)
    for (int64_t x = 0; x < n; ++x)
      for (int64_t y = 0; y < n; ++y)
        m.bias.push_back(pairMasked(x, y)
                             ? -std::numeric_limits<float>::infinity()
                             : 0.5f * std::sin(0.1f * float(x * n + y)));
  return m;
}

std::vector<float> run(const MaskedProblem &m) {
  const Problem &p = m.problem;
  llvm::SmallVector<int64_t, 4> dims(p.shape.begin(), p.shape.end());
  std::optional<HostMask> keyPadding, attn;
  int64_t n = p.shape[1];
  if (m.maskCase == MaskCase::KeyPadding)
    keyPadding = HostMask{
        HostMask::Kind::Bool, m.bools.data(), nullptr, {p.shape[0], n}};
  if (m.maskCase == MaskCase::BoolAttn)
    attn = HostMask{HostMask::Kind::Bool, m.bools.data(), nullptr, {n, n}};
  if (m.maskCase == MaskCase::FloatAttn)
    attn = HostMask{HostMask::Kind::Float, nullptr, m.bias.data(), {n, n}};
  std::vector<float> out(p.q.size(), 12345.0f);
  RunOptions options;
  options.jit = &testJit();
  options.tuning = m.tuning;
  auto info = dilatedAttention(p.config, HostTensor{p.q.data(), dims},
                               HostTensor{p.k.data(), dims},
                               HostTensor{p.v.data(), dims}, keyPadding, attn,
                               out.data(), dims, options);
  EXPECT_TRUE(static_cast<bool>(info)) << llvm::toString(info.takeError());
  return out;
}

/// The float64 reference of `m` (finite inputs only: it is the oracle).
std::vector<double> referenceOf(const MaskedProblem &m) {
  const Problem &p = m.problem;
  reference::Masks masks;
  int64_t n = p.shape[1];
  if (m.maskCase == MaskCase::KeyPadding)
    masks.keyPaddingMask = reference::BoolTensor{{p.shape[0], n}, m.bools};
  if (m.maskCase == MaskCase::BoolAttn)
    masks.attnMask = reference::BoolTensor{{n, n}, m.bools};
  if (m.maskCase == MaskCase::FloatAttn)
    masks.attnMask = tensorOf(m.bias, {n, n});
  auto expected = reference::dilatedAttention(p.config, tensorOf(p.q, p.shape),
                                              tensorOf(p.k, p.shape),
                                              tensorOf(p.v, p.shape), masks);
  EXPECT_TRUE(static_cast<bool>(expected));
  if (!expected) {
    llvm::consumeError(expected.takeError());
    return {};
  }
  return expected->data;
}

class UnreachableRows
    : public testing::TestWithParam<std::tuple<int, bool, MaskCase, int>> {};

// SPEC: a key or value row that no allowed pair reaches never affects an
// output. Non-finite values planted in every such row (all elements of both
// its K and V rows) leave the whole output equal to the reference of the
// clean problem; a non-finite value in one reachable V row besides them
// reaches exactly the rows that attend it.
TEST_P(UnreachableRows, NeverAffectOutputs) {
  auto [mode, causal, maskCase, kind] = GetParam();
  MaskedProblem clean = makeMaskedProblem(mode, causal, maskCase);
  const std::vector<int64_t> &shape = clean.problem.shape;
  int64_t n = shape[1], h = shape[2], d = shape[3];
  float value = kind == 0   ? std::numeric_limits<float>::quiet_NaN()
                : kind == 1 ? std::numeric_limits<float>::infinity()
                            : -std::numeric_limits<float>::infinity();
  std::vector<double> expected = referenceOf(clean);
  ASSERT_EQ(expected.size(), clean.problem.q.size());

  // (position, head) rows of V whose change changes no output, in the
  // reference: no allowed pair reaches them (the same pairs read K).
  auto rowOf = [&](int64_t y, int64_t head) { return (y * h + head) * d; };
  auto outputsReachedBy = [&](int64_t y, int64_t head) {
    MaskedProblem changed = clean;
    for (int64_t i = 0; i < d; ++i)
      changed.problem.v[rowOf(y, head) + i] += 7.5f;
    std::vector<double> after = referenceOf(changed);
    std::vector<bool> reached(n * h);
    for (int64_t row = 0; row < n * h; ++row)
      for (int64_t i = 0; i < d; ++i)
        reached[row] =
            reached[row] || after[row * d + i] != expected[row * d + i];
    return reached;
  };
  MaskedProblem planted = clean;
  int64_t unreachable = 0;
  std::optional<std::pair<int64_t, int64_t>> reachable;
  for (int64_t y = 0; y < n; ++y)
    for (int64_t head = 0; head < h; ++head) {
      std::vector<bool> reached = outputsReachedBy(y, head);
      if (llvm::is_contained(reached, true)) {
        // A reachable row in the middle of the sequence, for the second part.
        if (!reachable && y >= n / 3)
          reachable = {y, head};
        continue;
      }
      ++unreachable;
      for (int64_t i = 0; i < d; ++i) {
        planted.problem.k[rowOf(y, head) + i] = value;
        planted.problem.v[rowOf(y, head) + i] = value;
      }
    }
  // The masks (and grouped mode's rate-2 group) leave rows no query reaches;
  // only longnet without masks reaches every row.
  if (maskCase != MaskCase::None || mode == 0) {
    ASSERT_GT(unreachable, 0);
  }
  ASSERT_TRUE(reachable.has_value());

  std::vector<float> out = run(planted);
  for (size_t i = 0; i < out.size(); ++i)
    ASSERT_NEAR(out[i], expected[i], 1e-5)
        << "row " << i / d << " (" << unreachable << " rows planted)";

  // NaN or an infinity in a reachable V row: the rows that attend it are
  // NaN (non-finite for an infinity), every other row still exact.
  auto [y, head] = *reachable;
  std::vector<bool> reached = outputsReachedBy(y, head);
  planted.problem.v[rowOf(y, head) + 3] = value;
  out = run(planted);
  for (int64_t row = 0; row < n * h; ++row) {
    bool anyNaN = false, anyNonFinite = false;
    for (int64_t i = row * d; i < (row + 1) * d; ++i) {
      anyNaN |= std::isnan(out[i]);
      anyNonFinite |= !std::isfinite(out[i]);
    }
    if (reached[row]) {
      EXPECT_TRUE(kind == 0 ? anyNaN : anyNonFinite) << "row " << row;
      continue;
    }
    for (int64_t i = row * d; i < (row + 1) * d; ++i)
      ASSERT_NEAR(out[i], expected[i], 1e-5) << "row " << row;
  }
}

std::string unreachableName(
    const testing::TestParamInfo<std::tuple<int, bool, MaskCase, int>> &info) {
  static const char *const modes[] = {"Grouped", "LongNet", "LongNetUnfused"};
  static const char *const masks[] = {"NoMask", "KeyPadding", "BoolAttn",
                                      "FloatAttn"};
  static const char *const kinds[] = {"NaN", "Inf", "MinusInf"};
  auto [mode, causal, maskCase, kind] = info.param;
  return std::string(modes[mode]) + (causal ? "Causal" : "") +
         masks[static_cast<int>(maskCase)] + kinds[kind];
}

INSTANTIATE_TEST_SUITE_P(
    Masks, UnreachableRows,
    testing::Combine(testing::Values(0, 1, 2), testing::Bool(),
                     testing::Values(MaskCase::None, MaskCase::KeyPadding,
                                     MaskCase::BoolAttn, MaskCase::FloatAttn),
                     testing::Values(0, 1, 2)),
    unreachableName);

TEST(Indexing, AttentionBiasBeyond32BitOffsets) {
  // An (N, N) float bias with N = 2^16 + 16: N * N > 2^32 elements (16 GiB),
  // mapped but never allocated (untouched anonymous pages read as zeros).
  // The last segment's queries see -inf on every key but one, written at
  // element offsets beyond 2^32; a kernel computing offsets in 32 bits
  // would read zeros elsewhere and average all keys instead.
  const int64_t n = (int64_t(1) << 16) + 16, d = 8;
  const size_t bytes = size_t(n) * size_t(n) * sizeof(float);
  void *mapping = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapping == MAP_FAILED)
    GTEST_SKIP() << "cannot map " << bytes << " bytes of address space";
  struct Unmap {
    void *address;
    size_t bytes;
    ~Unmap() { ::munmap(address, bytes); }
  } unmap{mapping, bytes};
  float *bias = static_cast<float *>(mapping);

  DilatedAttentionConfig config;
  config.segmentLengths = {16};
  config.dilationRates = {1};
  std::vector<float> q(n * d), k(n * d), v(n * d), out(n * d, NAN);
  for (int64_t i = 0; i < n * d; ++i) {
    q[i] = std::sin(0.01f * i);
    k[i] = std::cos(0.013f * i);
    v[i] = static_cast<float>(i % 997) / 997.0f;
  }
  const int64_t last = n - 16;
  const float negInf = -std::numeric_limits<float>::infinity();
  // Query x of the last segment may attend only to key last + (x * 7) % 16.
  auto chosen = [&](int64_t x) { return last + (x * 7) % 16; };
  for (int64_t x = last; x < n; ++x)
    for (int64_t y = last; y < n; ++y)
      bias[x * n + y] = y == chosen(x) ? 0.0f : negInf;
  ASSERT_GT(uint64_t(last) * uint64_t(n), uint64_t(1) << 32);

  llvm::SmallVector<int64_t, 4> dims = {1, n, 1, d};
  RunOptions options;
  options.jit = &testJit();
  HostMask mask{HostMask::Kind::Float, nullptr, bias, {n, n}};
  auto info =
      dilatedAttention(config, HostTensor{q.data(), dims},
                       HostTensor{k.data(), dims}, HostTensor{v.data(), dims},
                       std::nullopt, mask, out.data(), dims, options);
  ASSERT_TRUE(static_cast<bool>(info)) << llvm::toString(info.takeError());
  for (int64_t x = last; x < n; ++x)
    for (int64_t i = 0; i < d; ++i)
      ASSERT_EQ(out[x * d + i], v[chosen(x) * d + i]) << "query " << x;
  // The rest saw a zero bias: finite averages of their segment.
  for (int64_t i = 0; i < last * d; ++i)
    ASSERT_TRUE(std::isfinite(out[i])) << i;
}

} // namespace
