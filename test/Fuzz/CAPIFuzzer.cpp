//===- CAPIFuzzer.cpp - libFuzzer target: the C API's argument checks -----===//
//
// The input is a script of C API calls whose arguments are drawn from the
// bytes: pattern lists of any length with any values (or NULL), out-of-range
// enums, non-finite scales, shapes with negative, zero, huge and overflowing
// sizes, NULL buffers, masks of every rank, calls on no GPU. The C API must
// check all of it itself.
//
// Invariants:
//  - nothing crashes (ASan, UBSan watch) and every status is a known one;
//  - every refusal leaves a non-empty dilattn_last_error();
//  - a run that succeeds wrote every output element, each finite (inputs are
//    finite), so a refused or partial write cannot pass for a result;
//  - no GPU here: a CUDA run never succeeds.
//
// Buffers are real for shapes of at most kMaxElements elements; larger
// shapes are passed with NULL buffers, which the API must refuse (by their
// size or as NULL) before touching memory.
//
//===----------------------------------------------------------------------===//

#include "FuzzInput.h"

#include "dilattn-c/dilattn.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using namespace dilattn::fuzz;

namespace {

constexpr int64_t kMaxElements = 1 << 14;
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

const int64_t kPatternValues[] = {
    1, 2, 4, 8, 16, 0, -1, 3, 5, kInt64Max, kInt64Min, int64_t(1) << 40};
const int64_t kSizes[] = {
    1, 2, 4, 8, 0, -1, 3, 16, 5, kInt64Max, int64_t(1) << 32, int64_t(1) << 62};
const int64_t kHeadDims[] = {4, 8, 16, 0, -4, 3, 64, 128, kInt64Max};
const double kScales[] = {0.125,
                          1.0,
                          -0.5,
                          0.0,
                          std::numeric_limits<double>::quiet_NaN(),
                          std::numeric_limits<double>::infinity(),
                          -std::numeric_limits<double>::infinity(),
                          1e300,
                          std::numeric_limits<double>::denorm_min()};
const int kEnumValues[] = {0, 1, 2, -1, 3, 7, 1 << 30};

/// The process-wide context, with a disk cache of its own so that fuzzing
/// does not touch the user's, kept across inputs so that kernels compiled
/// once are hits afterwards.
dilattn_context *context() {
  static dilattn_context *ctx = [] {
    dilattn_context *created = nullptr;
    fuzzCheck(dilattn_context_create(&created) == DILATTN_SUCCESS);
    llvm::SmallString<128> dir;
    if (const char *env = std::getenv("DILATTN_FUZZ_CACHE_DIR"))
      dir = env;
    else
      fuzzCheck(
          !llvm::sys::fs::createUniqueDirectory("dilattn-fuzz-capi", dir));
    fuzzCheck(dilattn_context_set_cache_dir(created, dir.c_str()) ==
              DILATTN_SUCCESS);
    return created;
  }();
  return ctx;
}

void checkStatus(dilattn_status status) {
  fuzzCheck(std::string(dilattn_status_string(status)) != "unknown status");
  if (status != DILATTN_SUCCESS) {
    const char *message = dilattn_last_error();
    fuzzCheck(message != nullptr && message[0] != '\0');
  }
}

/// `count` sizes of `table` or raw; the product of the in-range ones, or -1
/// when any is negative or the product overflows.
int64_t elementsOf(llvm::ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t size : shape)
    if (size < 0 || llvm::MulOverflow(count, size, count))
      return -1;
  return count;
}

/// A buffer of `elements` floats when that is small enough to allocate, so
/// that the pointer is valid for the shape it is passed with.
struct Buffer {
  std::vector<float> data;
  bool real = false;
  const float *get() const { return real ? data.data() : nullptr; }
  float *get() { return real ? data.data() : nullptr; }
};

Buffer makeBuffer(int64_t elements, float seed) {
  Buffer buffer;
  if (elements >= 0 && elements <= kMaxElements) {
    buffer.real = true;
    buffer.data.resize(static_cast<size_t>(elements));
    for (size_t i = 0; i < buffer.data.size(); ++i)
      buffer.data[i] = std::sin(seed + 0.37f * static_cast<float>(i));
  }
  return buffer;
}

void setPatterns(FuzzInput &input, dilattn_call *call) {
  size_t count = input.choice(5);
  // Sometimes a count that does not match the arrays: only when they are
  // NULL, since a real array must be as long as the count says.
  bool nullLengths = input.choice(16) == 0;
  bool nullRates = input.choice(16) == 0;
  if ((nullLengths || nullRates) && input.flag())
    count = input.pick<size_t>({size_t(1), size_t(70000), SIZE_MAX});
  std::vector<int64_t> lengths, rates;
  if (!nullLengths && !nullRates)
    for (size_t i = 0; i < count; ++i) {
      lengths.push_back(input.pick<int64_t>(kPatternValues));
      rates.push_back(input.pick<int64_t>(kPatternValues));
    }
  checkStatus(
      dilattn_call_set_patterns(call, nullLengths ? nullptr : lengths.data(),
                                nullRates ? nullptr : rates.data(), count));
}

void compile(FuzzInput &input, dilattn_call *call) {
  auto target = static_cast<dilattn_target>(input.pick<int>(kEnumValues));
  auto dtype = static_cast<dilattn_dtype>(input.pick<int>(kEnumValues));
  int64_t headDim = input.pick<int64_t>(kHeadDims);
  int hasKeyPadding = input.flag();
  int hasAttn = input.flag();
  dilattn_status status =
      dilattn_compile(call, target, dtype, headDim, hasKeyPadding, hasAttn);
  checkStatus(status);
  if (target == DILATTN_TARGET_CUDA)
    fuzzCheck(status != DILATTN_SUCCESS);
}

void runHost(FuzzInput &input, dilattn_call *call) {
  int64_t shape[4];
  for (int64_t &size : shape)
    size = input.pick<int64_t>(kSizes);
  // Small head dims: real runs stay cheap.
  if (input.flag())
    shape[3] = input.pick<int64_t>({4, 8, 16});
  bool nullShape = input.choice(32) == 0;
  int64_t elements = elementsOf(shape);
  Buffer q = makeBuffer(elements, 0.1f), k = makeBuffer(elements, 0.2f),
         v = makeBuffer(elements, 0.3f), out = makeBuffer(elements, 0.0f);
  // NULL buffers now and then, even where they would be valid.
  const float *qPtr = input.choice(16) == 0 ? nullptr : q.get();
  float *outPtr = input.choice(16) == 0 ? nullptr : out.get();
  for (float &value : out.data)
    value = std::numeric_limits<float>::quiet_NaN();

  // Key padding mask (B, N), real only where its size is known and small.
  std::vector<uint8_t> keyPadding;
  bool withKeyPadding = input.choice(4) == 0;
  int64_t keyElements = elementsOf({shape[0], shape[1]});
  if (withKeyPadding && keyElements >= 0 && keyElements <= kMaxElements) {
    keyPadding.resize(static_cast<size_t>(keyElements));
    for (size_t i = 0; i < keyPadding.size(); ++i)
      keyPadding[i] = (i % 5 == 3) ? 1 : 0;
  } else {
    withKeyPadding = false;
  }

  // Attention bias of rank 0..5, shaped from the call's or arbitrary sizes.
  size_t attnRank = 0;
  std::vector<int64_t> attnShape;
  Buffer attn;
  bool withAttn = input.choice(4) == 0;
  bool nullAttnShape = false;
  if (withAttn) {
    attnRank = input.choice(6);
    // Mostly the sizes the rank calls for: (N, N), (B, N, N), (B, H, N, N).
    static const int kNatural[5][4] = {
        {0}, {1}, {1, 1}, {0, 1, 1}, {0, 2, 1, 1}};
    for (size_t i = 0; i < attnRank; ++i)
      attnShape.push_back(attnRank <= 4 && input.flag()
                              ? shape[kNatural[attnRank][i]]
                              : input.pick<int64_t>(kSizes));
    attn = makeBuffer(elementsOf(attnShape), 0.4f);
    for (float &value : attn.data)
      value = value > 0.9f ? -std::numeric_limits<float>::infinity() : value;
    nullAttnShape = input.choice(16) == 0;
  }
  const float *attnPtr = withAttn ? attn.get() : nullptr;
  if (withAttn && !attnPtr)
    withAttn = false;
  // Shape arguments without a bias must be refused too.
  bool strayAttnShape = !withAttn && input.choice(16) == 0;

  dilattn_status status = dilattn_run_host(
      call, qPtr, k.get(), v.get(), nullShape ? nullptr : shape,
      withKeyPadding ? keyPadding.data() : nullptr, attnPtr,
      (withAttn && !nullAttnShape) || strayAttnShape
          ? (attnShape.empty() ? shape : attnShape.data())
          : nullptr,
      withAttn || strayAttnShape ? attnRank + (strayAttnShape ? 1 : 0) : 0,
      outPtr);
  checkStatus(status);
  if (status == DILATTN_SUCCESS) {
    fuzzCheck(!nullShape && elements >= 0);
    for (float value : out.data)
      fuzzCheck(std::isfinite(value));
  }
}

void runCuda(FuzzInput &input, dilattn_call *call) {
  int64_t shape[4];
  for (int64_t &size : shape)
    size = input.pick<int64_t>(kSizes);
  auto dtype = static_cast<dilattn_dtype>(input.pick<int>(kEnumValues));
  // Device pointers are never dereferenced on the host: any value will do.
  uint64_t q = input.raw<uint64_t>(), out = input.raw<uint64_t>();
  int64_t attnShape[4] = {shape[0], shape[2], shape[1], shape[1]};
  size_t attnRank = input.choice(6);
  uint64_t attn = input.flag() ? input.raw<uint64_t>() : 0;
  dilattn_status status = dilattn_run_cuda(
      call, dtype, q, q, q, input.choice(32) ? shape : nullptr,
      input.flag() ? input.raw<uint64_t>() : 0, attn,
      input.flag() ? attnShape : nullptr, attnRank, out, nullptr);
  checkStatus(status);
  fuzzCheck(status != DILATTN_SUCCESS);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FuzzInput input(data, size);
  dilattn_call *call = nullptr;
  fuzzCheck(dilattn_call_create(context(), &call) == DILATTN_SUCCESS);
  // A bounded script: a long input cannot turn into a long run of compiles.
  // At most 6 steps that may compile (a CPU kernel takes up to about 1 s
  // under ASan), so that a unit stays well inside the 10 s limit of
  // scripts/test-reliability; further ones are skipped.
  int compilingSteps = 0;
  for (int step = 0; step < 24 && !input.empty(); ++step) {
    // One time in 32, the call is NULL: every entry point refuses it.
    dilattn_call *target = input.choice(32) == 0 ? nullptr : call;
    unsigned action = input.choice(9);
    if ((action == 6 || action == 7) && ++compilingSteps > 6)
      continue;
    switch (action) {
    case 0:
    case 1:
      setPatterns(input, target);
      break;
    case 2:
      checkStatus(dilattn_call_set_mode(
          target, static_cast<dilattn_mode>(input.pick<int>(kEnumValues))));
      break;
    case 3:
      checkStatus(dilattn_call_set_offset_rule(
          target,
          static_cast<dilattn_offset_rule>(input.pick<int>(kEnumValues))));
      break;
    case 4:
      checkStatus(
          dilattn_call_set_causal(target, input.pick<int>(kEnumValues)));
      break;
    case 5:
      if (input.flag())
        checkStatus(
            dilattn_call_set_scale(target, input.pick<double>(kScales)));
      else
        checkStatus(dilattn_call_clear_scale(target));
      break;
    case 6:
      compile(input, target);
      break;
    case 7:
      runHost(input, target);
      break;
    default:
      runCuda(input, target);
      break;
    }
  }
  dilattn_call_destroy(call);
  return 0;
}
