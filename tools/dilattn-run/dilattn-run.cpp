//===- dilattn-run.cpp - run and check dilated attention on .npy data -----===//
//
// The command-line runner of docs/Contract.md section 5. Every refusal is one
// line on stderr starting with "error:" and exit status 1; outputs are written
// atomically, so a refused or failed run never leaves a partial file.
//
//===----------------------------------------------------------------------===//

#include "dilattn/API/CudaDilatedAttention.h"
#include "dilattn/API/DilatedAttention.h"
#include "dilattn/API/Graph.h"
#include "dilattn/API/SequenceParallel.h"
#include "dilattn/JIT/ModuleRunner.h"
#include "dilattn/Reference/Reference.h"
#include "dilattn/Runtime/CpuRuntime.h"
#include "dilattn/Runtime/CudaRuntime.h"
#include "dilattn/Support/Npy.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>
#include <tuple>
#include <unistd.h>

using namespace dilattn;
namespace cl = llvm::cl;

static cl::OptionCategory category("dilattn-run options");

static cl::opt<std::string> moduleFile(cl::Positional, cl::init(""),
                                       cl::desc("[FILE.mlir]"),
                                       cl::cat(category));
static cl::list<int64_t>
    segmentLengths("segment-lengths", cl::CommaSeparated,
                   cl::desc("segment length of each pattern"),
                   cl::cat(category));
static cl::list<int64_t>
    dilationRates("dilation-rates", cl::CommaSeparated,
                  cl::desc("dilation rate of each pattern"), cl::cat(category));
static cl::opt<std::string> mode("mode", cl::init("grouped"),
                                 cl::desc("grouped | longnet"),
                                 cl::cat(category));
static cl::opt<std::string> offsetRule("offset-rule", cl::init("cyclic"),
                                       cl::desc("cyclic | blocked"),
                                       cl::cat(category));
static cl::opt<bool> causal("causal", cl::desc("causal attention"),
                            cl::cat(category));
static cl::opt<std::string> scale("scale", cl::init(""),
                                  cl::desc("softmax scale (default 1/sqrt(D))"),
                                  cl::cat(category));
static cl::opt<std::string> target("target", cl::init("cpu"),
                                   cl::desc("cpu | cuda"), cl::cat(category));
static cl::opt<std::string> dtype("dtype", cl::init("f32"),
                                  cl::desc("f32 | f16 | bf16"),
                                  cl::cat(category));
static cl::opt<std::string> queryFile("q", cl::init(""),
                                      cl::desc("query .npy (B, N, H, D)"),
                                      cl::cat(category));
static cl::opt<std::string> keyFile("k", cl::init(""), cl::desc("key .npy"),
                                    cl::cat(category));
static cl::opt<std::string> valueFile("v", cl::init(""), cl::desc("value .npy"),
                                      cl::cat(category));
static cl::list<int64_t> shape("shape", cl::CommaSeparated,
                               cl::desc("B,N,H,D of random inputs"),
                               cl::cat(category));
static cl::opt<uint64_t> seed("seed", cl::init(0),
                              cl::desc("seed of the random inputs"),
                              cl::cat(category));
static cl::opt<std::string> keyPaddingFile("key-padding-mask", cl::init(""),
                                           cl::desc("boolean (B, N) .npy"),
                                           cl::cat(category));
static cl::opt<std::string>
    attnMaskFile("attn-mask", cl::init(""),
                 cl::desc("(N, N), (B, N, N) or (B, H, N, N) .npy, boolean or "
                          "float bias"),
                 cl::cat(category));
static cl::opt<std::string> outFile("out", cl::init(""),
                                    cl::desc("output .npy (<f4)"),
                                    cl::cat(category));
static cl::opt<bool> check("check",
                           cl::desc("compare with the float64 reference"),
                           cl::cat(category));
static cl::opt<bool> profile(
    "profile", cl::init(false),
    cl::desc("module mode on target cuda, with --bench: also print each "
             "kernel launch's median time"),
    cl::cat(category));
static cl::opt<int> bench("bench", cl::init(0),
                          cl::desc("timed repetitions after warm-up"),
                          cl::cat(category));
static cl::opt<std::string> entry("entry", cl::init(""),
                                  cl::desc("module mode: function to run"),
                                  cl::cat(category));
static cl::list<std::string> inputs("inputs", cl::CommaSeparated,
                                    cl::desc("module mode: input .npy files"),
                                    cl::cat(category));
static cl::list<std::string> outputs("outputs", cl::CommaSeparated,
                                     cl::desc("module mode: output .npy files"),
                                     cl::cat(category));
static cl::opt<int>
    numThreads("num-threads", cl::init(0),
               cl::desc("worker threads (default: all cores, or "
                        "$DILATTN_NUM_THREADS)"),
               cl::cat(category));

// Code-generation tuning (defaults are the JIT's); for benchmarking.
static cl::opt<int64_t>
    tileQueries("tile-queries", cl::init(0),
                cl::desc("cpu: query rows per tile (0: best for the host)"),
                cl::cat(category));
static cl::opt<int64_t>
    tileKeys("tile-keys", cl::init(0),
             cl::desc("cpu: keys per block (0: best for the host)"),
             cl::cat(category));
static cl::opt<int64_t>
    vectorWidth("vector-width", cl::init(0),
                cl::desc("cpu: f32 lanes per vector (0: from the host CPU)"),
                cl::cat(category));
static cl::opt<int64_t>
    blockSize("block-size", cl::init(0),
              cl::desc("cpu: positions per work item (0: automatic)"),
              cl::cat(category));

static cl::opt<int> worldSize(
    "world-size", cl::init(0),
    cl::desc("cpu: split the sequence over this many in-process ranks "
             "(LongNet's sequence parallelism, docs/distributed.md)"),
    cl::cat(category));

static cl::opt<int64_t> stages("stages", cl::init(2),
                               cl::desc("cuda: key/value blocks in flight"),
                               cl::cat(category));

static cl::opt<CudaKernelChoice> cudaKernel(
    "cuda-kernel", cl::init(CudaKernelChoice::Auto),
    cl::desc("cuda: the f16/bf16 attention kernel"),
    cl::values(clEnumValN(CudaKernelChoice::Auto, "auto",
                          "wgmma on Hopper (sm_90a), mma-sync elsewhere"),
               clEnumValN(CudaKernelChoice::Wgmma, "wgmma",
                          "warpgroup MMAs (compute capability 9.0 only)"),
               clEnumValN(CudaKernelChoice::MmaSync, "mma-sync",
                          "ldmatrix + mma.sync (sm_80 and later)")),
    cl::cat(category));

static llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

namespace {
/// An f32 tensor owned by the tool.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

/// A mask as read from .npy.
struct Mask {
  std::vector<int64_t> shape;
  bool isBool = true;
  std::vector<uint8_t> bools;
  std::vector<float> floats;

  HostMask view() const {
    HostMask mask;
    mask.kind = isBool ? HostMask::Kind::Bool : HostMask::Kind::Float;
    mask.bools = bools.data();
    mask.floats = floats.data();
    mask.shape.assign(shape.begin(), shape.end());
    return mask;
  }
};
} // namespace

static llvm::Expected<Tensor> readTensor(llvm::StringRef path) {
  auto array = npy::readNpy(path);
  if (!array)
    return array.takeError();
  bool accepted = array->dtype == npy::DType::F32 ||
                  (target == "cuda" && array->dtype == npy::DType::F16);
  if (!accepted)
    return fail(llvm::formatv(
        "{0}: dtype {1} is not supported on target {2}; save {3} data", path,
        npy::dtypeDescr(array->dtype), target,
        target == "cuda" ? "'<f4' or '<f2'" : "'<f4'"));
  return Tensor{array->shape, array->toFloat32()};
}

static llvm::Expected<Mask> readMask(llvm::StringRef path, bool allowFloat) {
  auto array = npy::readNpy(path);
  if (!array)
    return array.takeError();
  Mask mask;
  mask.shape = array->shape;
  if (array->dtype == npy::DType::Bool) {
    mask.bools = array->bytes;
    return mask;
  }
  if (!allowFloat)
    return fail(llvm::formatv("{0}: key_padding_mask must be boolean ('|b1'), "
                              "got '{1}'",
                              path, npy::dtypeDescr(array->dtype)));
  mask.isBool = false;
  mask.floats = array->toFloat32();
  return mask;
}

static reference::Tensor toReference(const Tensor &tensor) {
  reference::Tensor result;
  result.shape = tensor.shape;
  result.data.assign(tensor.data.begin(), tensor.data.end());
  return result;
}

static reference::Masks toReference(const std::optional<Mask> &keyPadding,
                                    const std::optional<Mask> &attn) {
  reference::Masks masks;
  if (keyPadding) {
    reference::BoolTensor bools;
    bools.shape = keyPadding->shape;
    bools.data = keyPadding->bools;
    masks.keyPaddingMask = std::move(bools);
  }
  if (attn) {
    if (attn->isBool) {
      reference::BoolTensor bools;
      bools.shape = attn->shape;
      bools.data = attn->bools;
      masks.attnMask = std::move(bools);
    } else {
      reference::Tensor bias;
      bias.shape = attn->shape;
      bias.data.assign(attn->floats.begin(), attn->floats.end());
      masks.attnMask = std::move(bias);
    }
  }
  return masks;
}

static llvm::Expected<DilatedAttentionConfig> parseConfig() {
  DilatedAttentionConfig config;
  config.segmentLengths.assign(segmentLengths.begin(), segmentLengths.end());
  config.dilationRates.assign(dilationRates.begin(), dilationRates.end());
  std::optional<AttentionMode> parsedMode = parseAttentionMode(mode);
  if (!parsedMode)
    return fail("--mode must be grouped or longnet, got '" + mode + "'");
  config.mode = *parsedMode;
  std::optional<OffsetRule> parsedRule = parseOffsetRule(offsetRule);
  if (!parsedRule)
    return fail("--offset-rule must be cyclic or blocked, got '" + offsetRule +
                "'");
  config.offsetRule = *parsedRule;
  config.causal = causal;
  if (!scale.empty()) {
    double value;
    if (llvm::StringRef(scale).getAsDouble(value))
      return fail("--scale must be a number, got '" + scale + "'");
    config.scale = value;
  }
  if (llvm::Error error = checkConfig(config))
    return std::move(error);
  return config;
}

/// Refuses problems whose buffers cannot fit in this machine's memory, before
/// allocating them: an allocation failure would abort the process.
static llvm::Error checkMemory(int64_t elementsPerTensor) {
  // Random inputs are drawn in double and kept in float (3 x 12 bytes), the
  // output is float, and --check holds the float64 reference (5 x 8 bytes).
  double bytesPerElement = 3 * 12 + 4 + (check ? 40 : 0);
  double needed = bytesPerElement * static_cast<double>(elementsPerTensor);
  long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || pageSize <= 0)
    return llvm::Error::success();
  double available = static_cast<double>(pages) * pageSize;
  if (needed > available)
    return fail(llvm::formatv("the buffers of this problem need about {0:f1} "
                              "GiB, more than this machine's {1:f1} GiB",
                              needed / (1 << 30), available / (1 << 30)));
  return llvm::Error::success();
}

static double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/// Rounds f32 values to the element type the kernel computes in, in place,
/// and returns their bytes in that type.
static std::vector<uint8_t> quantize(std::vector<float> &values,
                                     ElementKind element) {
  std::vector<uint8_t> bytes;
  if (element == ElementKind::F32) {
    bytes.resize(values.size() * 4);
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return bytes;
  }
  bytes.resize(values.size() * 2);
  auto *out = reinterpret_cast<uint16_t *>(bytes.data());
  for (size_t i = 0; i < values.size(); ++i) {
    if (element == ElementKind::F16) {
      _Float16 half = static_cast<_Float16>(values[i]);
      std::memcpy(&out[i], &half, 2);
      values[i] = static_cast<float>(half);
    } else {
      // bf16: round to nearest even (NaN kept quiet).
      uint32_t bits;
      std::memcpy(&bits, &values[i], 4);
      uint32_t rounded = std::isnan(values[i])
                             ? (bits | 0x00400000u)
                             : bits + 0x7fffu + ((bits >> 16) & 1u);
      out[i] = static_cast<uint16_t>(rounded >> 16);
      uint32_t back = static_cast<uint32_t>(out[i]) << 16;
      std::memcpy(&values[i], &back, 4);
    }
  }
  return bytes;
}

static std::vector<float> dequantize(llvm::ArrayRef<uint8_t> bytes,
                                     ElementKind element) {
  std::vector<float> values;
  if (element == ElementKind::F32) {
    values.resize(bytes.size() / 4);
    std::memcpy(values.data(), bytes.data(), bytes.size());
    return values;
  }
  values.resize(bytes.size() / 2);
  const auto *in = reinterpret_cast<const uint16_t *>(bytes.data());
  for (size_t i = 0; i < values.size(); ++i) {
    if (element == ElementKind::F16) {
      _Float16 half;
      std::memcpy(&half, &in[i], 2);
      values[i] = static_cast<float>(half);
    } else {
      uint32_t bits = static_cast<uint32_t>(in[i]) << 16;
      std::memcpy(&values[i], &bits, 4);
    }
  }
  return values;
}

/// Boolean masks become 0 / -inf biases; float masks pass as they are.
static std::vector<float> biasOf(const Mask &mask) {
  if (!mask.isBool)
    return mask.floats;
  std::vector<float> bias(mask.bools.size());
  for (size_t i = 0; i < bias.size(); ++i)
    bias[i] = mask.bools[i] ? -std::numeric_limits<float>::infinity() : 0.0f;
  return bias;
}

/// Op mode on target cuda: inputs rounded to --dtype, copied to the device,
/// run there; the output comes back as f32. --check compares with the
/// float64 reference of the rounded inputs; --bench times with CUDA events.
static llvm::Error runCuda(const DilatedAttentionConfig &config, Tensor &query,
                           Tensor &key, Tensor &value,
                           const std::optional<Mask> &keyPadding,
                           const std::optional<Mask> &attn) {
  namespace cuda = runtime::cuda;
  ElementKind element = dtype == "bf16"  ? ElementKind::BF16
                        : dtype == "f16" ? ElementKind::F16
                                         : ElementKind::F32;
  // The rules first, so that a bad call is refused the same way with or
  // without a GPU.
  DilatedAttentionSignature signature;
  signature.query = TensorSignature::get(query.shape, element);
  signature.key = TensorSignature::get(key.shape, element);
  signature.value = TensorSignature::get(value.shape, element);
  if (keyPadding)
    signature.keyPaddingMask =
        TensorSignature::get(keyPadding->shape, ElementKind::I1);
  if (attn)
    signature.attnMask = TensorSignature::get(
        attn->shape, attn->isBool ? ElementKind::I1 : ElementKind::F32);
  if (llvm::Error error = checkDilatedAttention(config, signature))
    return error;
  int64_t headDim = query.shape[3];
  if (llvm::Error error = checkCudaHeadDim(headDim))
    return error;
  if (llvm::Error error = checkCudaAvailable())
    return error;
  auto context = cuda::Context::get();
  if (!context)
    return context.takeError();

  std::vector<uint8_t> queryBytes = quantize(query.data, element),
                       keyBytes = quantize(key.data, element),
                       valueBytes = quantize(value.data, element);
  cuda::DeviceBuffer::resetPeak();
  auto upload = [&](const void *data,
                    size_t bytes) -> llvm::Expected<cuda::DeviceBuffer> {
    auto buffer = cuda::DeviceBuffer::allocate(*context, bytes);
    if (!buffer)
      return buffer.takeError();
    if (bytes)
      if (llvm::Error error = buffer->copyFromHost(data, bytes))
        return std::move(error);
    return buffer;
  };
  auto queryBuffer = upload(queryBytes.data(), queryBytes.size());
  if (!queryBuffer)
    return queryBuffer.takeError();
  auto keyBuffer = upload(keyBytes.data(), keyBytes.size());
  if (!keyBuffer)
    return keyBuffer.takeError();
  auto valueBuffer = upload(valueBytes.data(), valueBytes.size());
  if (!valueBuffer)
    return valueBuffer.takeError();
  auto outputBuffer = cuda::DeviceBuffer::allocate(*context, queryBytes.size());
  if (!outputBuffer)
    return outputBuffer.takeError();
  // Masks go to the device as f32 biases.
  std::optional<cuda::DeviceBuffer> keyBiasBuffer, attnBiasBuffer;
  std::optional<DeviceBias> keyBias, attnBias;
  for (auto [mask, buffer, bias] :
       {std::tuple{&keyPadding, &keyBiasBuffer, &keyBias},
        std::tuple{&attn, &attnBiasBuffer, &attnBias}}) {
    if (!*mask)
      continue;
    std::vector<float> values = biasOf(**mask);
    auto uploaded = upload(values.data(), values.size() * 4);
    if (!uploaded)
      return uploaded.takeError();
    *buffer = std::move(*uploaded);
    *bias = DeviceBias{(*buffer)->address(),
                       {(*mask)->shape.begin(), (*mask)->shape.end()}};
  }
  uint64_t dataBytes = cuda::DeviceBuffer::bytesInUse();

  auto tensor = [&](const cuda::DeviceBuffer &buffer) {
    return DeviceTensor{
        buffer.address(), {query.shape.begin(), query.shape.end()}, element};
  };
  CudaRunOptions options;
  options.tuning.tileQueries = tileQueries ? tileQueries.getValue() : 64;
  options.tuning.tileKeys = tileKeys ? tileKeys.getValue() : 64;
  options.tuning.stages = stages;
  options.tuning.kernel = cudaKernel;
  auto run = [&]() {
    return cudaDilatedAttention(
        config, tensor(*queryBuffer), tensor(*keyBuffer), tensor(*valueBuffer),
        keyBias, attnBias, tensor(*outputBuffer), options);
  };
  // Poison the output so that an element the kernel fails to write shows
  // up as NaN in the check.
  if (llvm::Error error = outputBuffer->fill(0xff))
    return error;
  auto first = run();
  if (!first)
    return first.takeError();
  if (llvm::Error error = context->synchronize())
    return error;
  int64_t batch = query.shape[0], seqLen = query.shape[1],
          numHeads = query.shape[2];
  llvm::outs() << llvm::formatv(
      "dilattn-run: {0}{1}, shape {2}, target cuda ({3}), {4}, kernel {5}\n",
      stringifyAttentionMode(config.mode), config.causal ? " causal" : "",
      formatShape(query.shape), context->info().name, dtype,
      first->cache == jit::CacheOutcome::Compiled
          ? llvm::formatv("compiled in {0:f1} ms", first->compileMs).str()
      : first->cache == jit::CacheOutcome::DiskHit
          ? llvm::formatv("loaded from the disk cache in {0:f1} ms",
                          first->compileMs)
                .str()
          : std::string("from the in-memory cache"));

  Tensor output;
  output.shape = query.shape;
  {
    std::vector<uint8_t> bytes(queryBytes.size());
    if (llvm::Error error =
            outputBuffer->copyToHost(bytes.data(), bytes.size()))
      return error;
    output.data = dequantize(bytes, element);
  }
  if (!outFile.empty())
    if (llvm::Error error =
            npy::writeNpyF32(outFile, output.shape, output.data))
      return error;

  if (check) {
    auto expected = reference::dilatedAttention(
        config, toReference(query), toReference(key), toReference(value),
        toReference(keyPadding, attn));
    if (!expected)
      return expected.takeError();
    reference::ErrorStats stats =
        reference::compare(llvm::ArrayRef<float>(output.data), expected->data);
    llvm::outs() << llvm::formatv("max_abs_err={0:e} rel_err={1:e}\n",
                                  stats.maxAbs, stats.relative);
    double tolerance = element == ElementKind::F32 ? 1e-5 : 1e-2;
    if (!(stats.relative <= tolerance))
      return fail(llvm::formatv("check failed: rel_err {0:e} exceeds the {1} "
                                "tolerance {2:e}",
                                stats.relative, dtype, tolerance));
  }

  if (bench > 0) {
    auto stream = cuda::Stream::wrap(nullptr, &*context);
    auto start = cuda::Event::create(*context);
    if (!start)
      return start.takeError();
    auto end = cuda::Event::create(*context);
    if (!end)
      return end.takeError();
    for (int i = 0; i < 3; ++i)
      if (auto warm = run(); !warm)
        return warm.takeError();
    std::vector<double> times;
    for (int i = 0; i < bench; ++i) {
      if (llvm::Error error = start->record(stream))
        return error;
      auto timed = run();
      if (!timed)
        return timed.takeError();
      if (llvm::Error error = end->record(stream))
        return error;
      if (llvm::Error error = end->synchronize())
        return error;
      auto ms = cuda::Event::elapsedMs(*start, *end);
      if (!ms)
        return ms.takeError();
      times.push_back(*ms);
    }
    double ms = median(times);
    double flops = effectiveFlops(config, batch, seqLen, numHeads, headDim);
    bool hit = first->cache != jit::CacheOutcome::Compiled;
    uint64_t peak = cuda::DeviceBuffer::peakBytesInUse();
    uint64_t minimum = queryBytes.size() * 4;
    llvm::outs() << llvm::formatv(
        "{{\"median_ms\": {0:f4}, \"gflops\": {1:f2}, \"compile_ms\": {2:f1}, "
        "\"cache\": \"{3}\", \"load_ms\": {4:f2}, \"reps\": {5}, "
        "\"target\": \"cuda\", \"device\": \"{6}\", \"dtype\": \"{7}\", "
        "\"shape\": [{8}, {9}, {10}, {11}], \"device_peak_bytes\": {12}, "
        "\"device_data_bytes\": {13}, \"peak_over_inputs_and_output\": "
        "{14:f4}, \"ptxas\": \"{15}\"}\n",
        ms, ms > 0 ? flops / (ms * 1e6) : 0.0, hit ? 0.0 : first->compileMs,
        hit ? "hit" : "miss",
        first->cache == jit::CacheOutcome::DiskHit ? first->compileMs : 0.0,
        bench.getValue(), context->info().name, dtype, batch, seqLen, numHeads,
        headDim, peak, dataBytes,
        static_cast<double>(peak) / static_cast<double>(minimum),
        jit::ptxasVersion());
  }
  return llvm::Error::success();
}

/// --check: compares `output` with the float64 reference of the call,
/// prints the errors and fails beyond the float32 tolerance of
/// docs/Contract.md.
static llvm::Error checkFloat32Output(const DilatedAttentionConfig &config,
                                      const Tensor &query, const Tensor &key,
                                      const Tensor &value,
                                      const reference::Masks &masks,
                                      const Tensor &output) {
  auto expected = reference::dilatedAttention(
      config, toReference(query), toReference(key), toReference(value), masks);
  if (!expected)
    return expected.takeError();
  reference::ErrorStats stats =
      reference::compare(llvm::ArrayRef<float>(output.data), expected->data);
  llvm::outs() << llvm::formatv("max_abs_err={0:e} rel_err={1:e}\n",
                                stats.maxAbs, stats.relative);
  constexpr double kTolerance = 1e-5;
  if (!(stats.relative <= kTolerance))
    return fail(llvm::formatv("check failed: rel_err {0:e} exceeds the "
                              "float32 tolerance {1:e}",
                              stats.relative, kTolerance));
  return llvm::Error::success();
}

/// --world-size=G: every rank a thread with its slice of the inputs, one
/// in-process group; the slices of the output are assembled.
static llvm::Error runSequenceParallel(const DilatedAttentionConfig &config,
                                       const Tensor &query, const Tensor &key,
                                       const Tensor &value) {
  if (query.shape.size() != 4)
    return fail(llvm::formatv("query must be (B, N, H, D), got shape {0}",
                              formatShape(query.shape)));
  int world = worldSize;
  int64_t batch = query.shape[0], seqLen = query.shape[1],
          numHeads = query.shape[2], headDim = query.shape[3];
  int64_t rowFloats = numHeads * headDim;
  for (const Tensor *tensor : {&key, &value})
    if (tensor->shape != query.shape)
      return fail(llvm::formatv("key and value must have the shape of query "
                                "{0}, got {1}",
                                formatShape(query.shape),
                                formatShape(tensor->shape)));
  auto sliceOf = [&](const Tensor &full, SequenceSlice s) {
    std::vector<float> part;
    for (int64_t b = 0; b < batch; ++b)
      part.insert(part.end(),
                  full.data.begin() + (b * seqLen + s.begin) * rowFloats,
                  full.data.begin() + (b * seqLen + s.end) * rowFloats);
    return part;
  };
  struct RankData {
    std::vector<float> q, k, v, out;
    SequenceParallelInfo info;
    std::string failure;
  };
  std::vector<RankData> ranks(world);
  for (int rank = 0; rank < world; ++rank) {
    SequenceSlice s = sequenceSlice(seqLen, world, rank);
    ranks[rank].q = sliceOf(query, s);
    ranks[rank].k = sliceOf(key, s);
    ranks[rank].v = sliceOf(value, s);
    ranks[rank].out.assign(ranks[rank].q.size(), 0.0f);
  }
  SequenceParallelOptions options;
  options.tuning.vectorWidth = vectorWidth;
  options.tuning.tileQueries = tileQueries;
  options.tuning.tileKeys = tileKeys;
  auto runAll = [&]() -> llvm::Error {
    auto group = distributed::createInProcessGroup(world);
    std::vector<std::thread> threads;
    for (int rank = 0; rank < world; ++rank)
      threads.emplace_back([&, rank] {
        RankData &data = ranks[rank];
        SequenceSlice s = sequenceSlice(seqLen, world, rank);
        llvm::SmallVector<int64_t, 4> shape = {batch, s.size(), numHeads,
                                               headDim};
        auto info = sequenceParallelDilatedAttention(
            config, seqLen, {data.q.data(), shape}, {data.k.data(), shape},
            {data.v.data(), shape}, data.out.data(), *group[rank], options);
        if (info)
          data.info = *info;
        else
          data.failure = llvm::toString(info.takeError());
      });
    for (std::thread &thread : threads)
      thread.join();
    for (RankData &data : ranks)
      if (!data.failure.empty())
        return fail(data.failure);
    return llvm::Error::success();
  };
  if (llvm::Error error = runAll())
    return error;
  double compileMs = 0;
  for (RankData &data : ranks)
    compileMs = std::max(compileMs, data.info.compileMs);

  Tensor output;
  output.shape = query.shape;
  output.data.assign(query.data.size(), 0.0f);
  for (int rank = 0; rank < world; ++rank) {
    SequenceSlice s = sequenceSlice(seqLen, world, rank);
    for (int64_t b = 0; b < batch; ++b)
      std::copy_n(ranks[rank].out.begin() + b * s.size() * rowFloats,
                  s.size() * rowFloats,
                  output.data.begin() + (b * seqLen + s.begin) * rowFloats);
  }
  const SequenceParallelInfo &first = ranks[0].info;
  llvm::outs() << llvm::formatv(
      "dilattn-run: {0}{1}, shape {2}, target cpu, sequence parallel over {3} "
      "in-process ranks: {4} of {5} patterns gathered, all-gather {6} bytes "
      "per rank (N/r prediction {7:f0}), kernels {8}\n",
      stringifyAttentionMode(config.mode), config.causal ? " causal" : "",
      formatShape(output.shape), world, first.gatheredPatterns,
      config.numPatterns(), first.bytesSent, first.predictedBytes,
      compileMs > 0 ? llvm::formatv("compiled in {0:f1} ms", compileMs).str()
                    : std::string("from the in-memory cache"));

  if (!outFile.empty())
    if (llvm::Error error =
            npy::writeNpyF32(outFile, output.shape, output.data))
      return error;
  if (check)
    if (llvm::Error error =
            checkFloat32Output(config, query, key, value, {}, output))
      return error;
  if (bench > 0) {
    std::vector<double> times;
    for (int i = 0; i < bench + 1; ++i) {
      auto start = std::chrono::steady_clock::now();
      if (llvm::Error error = runAll())
        return error;
      if (i > 0)
        times.push_back(std::chrono::duration<double, std::milli>(
                            std::chrono::steady_clock::now() - start)
                            .count());
    }
    double ms = median(times);
    double flops = effectiveFlops(config, batch, seqLen, numHeads, headDim);
    uint64_t maxBytes = 0;
    double predicted = 0;
    for (RankData &data : ranks) {
      maxBytes = std::max(maxBytes, data.info.bytesSent);
      predicted = std::max(predicted, data.info.predictedBytes);
    }
    llvm::outs() << llvm::formatv(
        "{{\"median_ms\": {0:f4}, \"gflops\": {1:f2}, \"compile_ms\": {2:f1}, "
        "\"cache\": \"{3}\", \"reps\": {4}, \"target\": \"cpu\", "
        "\"world_size\": {5}, \"gathered_patterns\": {6}, "
        "\"bytes_sent_per_rank\": {7}, \"predicted_bytes_per_rank\": {8:f0}, "
        "\"shape\": [{9}, {10}, {11}, {12}]}\n",
        ms, ms > 0 ? flops / (ms * 1e6) : 0.0, compileMs,
        compileMs > 0 ? "miss" : "hit", bench.getValue(), world,
        first.gatheredPatterns, maxBytes, predicted, batch, seqLen, numHeads,
        headDim);
  }
  return llvm::Error::success();
}

static llvm::Error runOpMode() {
  if (target != "cpu" && target != "cuda")
    return fail("--target must be cpu or cuda, got '" + target + "'");
  if (dtype != "f32" && dtype != "f16" && dtype != "bf16")
    return fail("--dtype must be f32, f16 or bf16, got '" + dtype + "'");
  if (target == "cpu" && dtype != "f32")
    return fail("--dtype=" + dtype +
                " is not supported by target cpu (supported: f32)");
  auto config = parseConfig();
  if (!config)
    return config.takeError();

  // Inputs: files, or seeded random data (never zeros).
  Tensor query, key, value;
  bool fromFiles = !queryFile.empty() || !keyFile.empty() || !valueFile.empty();
  if (fromFiles == !shape.empty())
    return fail("give either --q, --k and --v, or --shape=B,N,H,D");
  if (fromFiles) {
    if (queryFile.empty() || keyFile.empty() || valueFile.empty())
      return fail("--q, --k and --v must be given together");
    for (auto [path, tensor] :
         {std::pair{&queryFile, &query}, std::pair{&keyFile, &key},
          std::pair{&valueFile, &value}}) {
      auto read = readTensor(*path);
      if (!read)
        return read.takeError();
      *tensor = std::move(*read);
    }
  } else {
    if (shape.size() != 4)
      return fail(llvm::formatv("--shape must be B,N,H,D (4 sizes), got {0}",
                                shape.size()));
    for (int64_t size : shape)
      if (size < 0)
        return fail(
            llvm::formatv("--shape sizes must not be negative, got {0}", size));
    std::vector<int64_t> dims(shape.begin(), shape.end());
    int64_t count = 1;
    for (int64_t size : dims)
      if (size > 0 && count > (int64_t(1) << 34) / size)
        return fail("--shape is too large for random inputs");
      else
        count *= size;
    if (llvm::Error error = checkMemory(count))
      return error;
    uint64_t seeds[3] = {seed * 3 + 1, seed * 3 + 2, seed * 3 + 3};
    for (auto [tensor, s] : llvm::zip_equal(
             std::array<Tensor *, 3>{&query, &key, &value}, seeds)) {
      reference::Tensor random = reference::randomTensor(dims, s);
      tensor->shape = dims;
      tensor->data.assign(random.data.begin(), random.data.end());
    }
  }

  if (fromFiles && check)
    if (llvm::Error error =
            checkMemory(static_cast<int64_t>(query.data.size())))
      return error;

  std::optional<Mask> keyPadding, attn;
  if (!keyPaddingFile.empty()) {
    auto read = readMask(keyPaddingFile, /*allowFloat=*/false);
    if (!read)
      return read.takeError();
    keyPadding = std::move(*read);
  }
  if (!attnMaskFile.empty()) {
    auto read = readMask(attnMaskFile, /*allowFloat=*/true);
    if (!read)
      return read.takeError();
    attn = std::move(*read);
  }

  if (worldSize != 0) {
    if (worldSize < 1 || worldSize > 1024)
      return fail(llvm::formatv("--world-size must be 1 to 1024, got {0}",
                                worldSize.getValue()));
    if (target != "cpu")
      return fail("--world-size runs on target cpu only (ranks are threads "
                  "of this process; NCCL ranks on GPUs are not built yet)");
    if (keyPadding || attn)
      return fail("--world-size takes no masks yet (causal is supported)");
    return runSequenceParallel(*config, query, key, value);
  }

  if (target == "cuda")
    return runCuda(*config, query, key, value, keyPadding, attn);

  auto view = [](const Tensor &tensor) {
    HostTensor host;
    host.data = tensor.data.data();
    host.shape.assign(tensor.shape.begin(), tensor.shape.end());
    return host;
  };
  std::optional<HostMask> keyPaddingView, attnView;
  if (keyPadding)
    keyPaddingView = keyPadding->view();
  if (attn)
    attnView = attn->view();

  runtime::ThreadPool pool(numThreads);
  RunOptions options;
  options.threads = &pool;
  options.tuning.vectorWidth = vectorWidth;
  options.tuning.tileQueries = tileQueries;
  options.tuning.tileKeys = tileKeys;
  options.tuning.blockSize = blockSize;
  Tensor output;
  output.shape = query.shape;
  int64_t count = 1;
  for (int64_t size : output.shape)
    count *= size;
  // Allocate only after the call is known to be valid (checked inside); the
  // size is bounded by the inputs already in memory.
  output.data.assign(output.shape.size() == 4 ? count : 0, 0.0f);
  auto run = [&]() {
    return dilatedAttention(*config, view(query), view(key), view(value),
                            keyPaddingView, attnView, output.data.data(),
                            output.shape, options);
  };
  auto first = run();
  if (!first)
    return first.takeError();
  int64_t batch = output.shape[0], seqLen = output.shape[1],
          numHeads = output.shape[2], headDim = output.shape[3];
  llvm::outs() << llvm::formatv(
      "dilattn-run: {0}{1}, shape {2}, target cpu, {3} threads, kernel {4}",
      stringifyAttentionMode(config->mode), config->causal ? " causal" : "",
      formatShape(output.shape), pool.getNumThreads(),
      first->cache == jit::CacheOutcome::Compiled
          ? llvm::formatv("compiled in {0:f1} ms", first->compileMs).str()
      : first->cache == jit::CacheOutcome::DiskHit
          ? llvm::formatv("loaded from the disk cache in {0:f1} ms",
                          first->compileMs)
                .str()
          : std::string("from the in-memory cache"));
  llvm::outs() << "\n";

  if (!outFile.empty())
    if (llvm::Error error =
            npy::writeNpyF32(outFile, output.shape, output.data))
      return error;

  if (check)
    if (llvm::Error error = checkFloat32Output(
            *config, query, key, value, toReference(keyPadding, attn), output))
      return error;

  if (bench > 0) {
    for (int i = 0; i < 2; ++i)
      if (auto warm = run(); !warm)
        return warm.takeError();
    std::vector<double> times;
    for (int i = 0; i < bench; ++i) {
      auto start = std::chrono::steady_clock::now();
      auto timed = run();
      if (!timed)
        return timed.takeError();
      times.push_back(std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - start)
                          .count());
    }
    double ms = median(times);
    double flops = effectiveFlops(*config, batch, seqLen, numHeads, headDim);
    bool hit = first->cache != jit::CacheOutcome::Compiled;
    jit::JitStats stats = jit::Jit::global().stats();
    llvm::outs() << llvm::formatv(
        "{{\"median_ms\": {0:f4}, \"gflops\": {1:f2}, \"compile_ms\": {2:f1}, "
        "\"cache\": \"{3}\", \"load_ms\": {4:f2}, \"reps\": {5}, "
        "\"threads\": {6}, \"target\": \"cpu\", \"shape\": [{7}, {8}, {9}, "
        "{10}], \"jit\": {{\"memory_hits\": {11}, \"memory_misses\": {12}, "
        "\"disk_hits\": {13}, \"disk_misses\": {14}, "
        "\"disk_invalid_entries\": {15}, \"compiles\": {16}}}\n",
        ms, ms > 0 ? flops / (ms * 1e6) : 0.0, hit ? 0.0 : first->compileMs,
        hit ? "hit" : "miss",
        first->cache == jit::CacheOutcome::DiskHit ? first->compileMs : 0.0,
        bench.getValue(), pool.getNumThreads(), batch, seqLen, numHeads,
        headDim, stats.memoryHits, stats.memoryMisses, stats.diskHits,
        stats.diskMisses, stats.diskInvalidEntries, stats.compiles);
  }
  return llvm::Error::success();
}

/// Runs `run` `warmups` times, then --bench times, each timed on the host
/// clock (runs that return when their work is done); the times in ms.
static llvm::Expected<std::vector<double>>
timeRuns(int warmups, llvm::function_ref<llvm::Error()> run) {
  for (int i = 0; i < warmups; ++i)
    if (llvm::Error error = run())
      return std::move(error);
  std::vector<double> times;
  for (int i = 0; i < bench; ++i) {
    auto start = std::chrono::steady_clock::now();
    if (llvm::Error error = run())
      return std::move(error);
    times.push_back(std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - start)
                        .count());
  }
  return times;
}

/// Reads --inputs for a function of argument types `types`: f32 arguments
/// from '<f4' files, i1 arguments from '|b1' files, shapes as declared.
static llvm::Expected<std::vector<npy::Array>>
readModuleInputs(llvm::ArrayRef<TensorSignature> types) {
  if (inputs.size() != types.size())
    return fail(llvm::formatv("@{0} takes {1} inputs, --inputs names {2}",
                              entry, types.size(), inputs.size()));
  std::vector<npy::Array> arrays;
  for (auto [index, path] : llvm::enumerate(inputs)) {
    auto array = npy::readNpy(path);
    if (!array)
      return array.takeError();
    const TensorSignature &expected = types[index];
    bool wantBool = expected.element == ElementKind::I1;
    if (wantBool != (array->dtype == npy::DType::Bool) ||
        (!wantBool && array->dtype != npy::DType::F32))
      return fail(llvm::formatv("{0}: argument #{1} of @{2} needs '{3}' data, "
                                "got '{4}'",
                                path, index, entry, wantBool ? "|b1" : "<f4",
                                npy::dtypeDescr(array->dtype)));
    llvm::SmallVector<int64_t, 4> shape(array->shape.begin(),
                                        array->shape.end());
    bool matches = shape.size() == expected.shape.size();
    for (size_t i = 0; matches && i < shape.size(); ++i)
      matches =
          expected.shape[i] == kDynamicSize || expected.shape[i] == shape[i];
    if (!matches)
      return fail(llvm::formatv("{0}: argument #{1} of @{2} must have shape "
                                "{3}, got {4}",
                                path, index, entry, formatShape(expected.shape),
                                formatShape(shape)));
    arrays.push_back(std::move(*array));
  }
  return arrays;
}

/// Module mode on target cuda: the graph API's CUDA path (one upload, the
/// program's launches, one download); --bench times runs on device buffers.
static llvm::Error runModuleModeCuda(llvm::StringRef source) {
  GraphCompileOptions options;
  options.target = GraphTarget::Cuda;
  options.cudaTuning.tileQueries = tileQueries ? tileQueries.getValue() : 64;
  options.cudaTuning.tileKeys = tileKeys ? tileKeys.getValue() : 64;
  options.cudaTuning.stages = stages;
  options.cudaTuning.kernel = cudaKernel;
  auto compiled =
      CompiledGraph::compileMLIR(source, moduleFile, entry, options);
  if (!compiled)
    return compiled.takeError();
  CompiledGraph &graph = **compiled;
  auto arrays = readModuleInputs(graph.getInputs());
  if (!arrays)
    return arrays.takeError();
  if (outputs.size() != graph.getOutputs().size())
    return fail(llvm::formatv("@{0} returns {1} results, --outputs names {2}",
                              entry, graph.getOutputs().size(),
                              outputs.size()));
  std::vector<const void *> inputPointers;
  for (npy::Array &array : *arrays)
    inputPointers.push_back(array.bytes.data());
  std::vector<std::vector<float>> floats;
  std::vector<float *> outputPointers;
  for (const TensorSignature &signature : graph.getOutputs()) {
    int64_t count = 1;
    for (int64_t size : signature.shape)
      count *= size;
    floats.emplace_back(count, 0.0f);
  }
  for (std::vector<float> &values : floats)
    outputPointers.push_back(values.data());
  if (llvm::Error error = graph.run(inputPointers, outputPointers))
    return error;
  auto context = runtime::cuda::Context::get();
  if (!context)
    return context.takeError();
  llvm::outs() << llvm::formatv(
      "dilattn-run: @{0} from {1}, target cuda ({2}), {3} kernel launches, "
      "compiled in {4:f1} ms\n",
      entry, moduleFile, context->info().name, graph.getNumKernelLaunches(),
      graph.getCompileMs());
  for (auto [index, path] : llvm::enumerate(outputs))
    if (llvm::Error error = npy::writeNpyF32(
            path, graph.getOutputs()[index].shape, floats[index]))
      return error;
  if (bench <= 0)
    return llvm::Error::success();

  namespace cuda = runtime::cuda;
  std::vector<cuda::DeviceBuffer> buffers;
  std::vector<uint64_t> inputAddresses, outputAddresses;
  for (auto [index, array] : llvm::enumerate(*arrays)) {
    auto buffer = cuda::DeviceBuffer::allocate(*context, array.bytes.size());
    if (!buffer)
      return buffer.takeError();
    if (!array.bytes.empty())
      if (llvm::Error error =
              buffer->copyFromHost(array.bytes.data(), array.bytes.size()))
        return error;
    inputAddresses.push_back(buffer->address());
    buffers.push_back(std::move(*buffer));
  }
  for (std::vector<float> &values : floats) {
    auto buffer =
        cuda::DeviceBuffer::allocate(*context, values.size() * sizeof(float));
    if (!buffer)
      return buffer.takeError();
    outputAddresses.push_back(buffer->address());
    buffers.push_back(std::move(*buffer));
  }
  auto times = timeRuns(
      3, [&] { return graph.runOnDevice(inputAddresses, outputAddresses); });
  if (!times)
    return times.takeError();
  if (profile) {
    // Median time of each launch over the repetitions, slowest first.
    std::vector<std::vector<double>> perLaunch;
    std::vector<std::string> names;
    for (int i = 0; i < bench; ++i) {
      auto profiled = graph.profileOnDevice(inputAddresses, outputAddresses);
      if (!profiled)
        return profiled.takeError();
      perLaunch.resize(profiled->size());
      names.resize(profiled->size());
      for (auto [index, launch] : llvm::enumerate(*profiled)) {
        perLaunch[index].push_back(launch.ms);
        names[index] = launch.kernel;
      }
    }
    std::vector<std::pair<double, size_t>> order;
    double total = 0;
    for (auto [index, values] : llvm::enumerate(perLaunch)) {
      order.push_back({median(values), index});
      total += order.back().first;
    }
    llvm::sort(order, [](auto &x, auto &y) { return x.first > y.first; });
    llvm::outs() << "launch  median_ms  share  kernel\n";
    for (auto [ms, index] : order)
      llvm::outs() << llvm::formatv("{0,6}  {1,9:f4}  {2,4:f0}%  {3}\n", index,
                                    ms, total > 0 ? 100 * ms / total : 0.0,
                                    names[index]);
  }
  double ms = median(*times);
  llvm::outs() << llvm::formatv(
      "{{\"median_ms\": {0:f4}, \"gflops\": {1:f2}, \"compile_ms\": "
      "{2:f1}, \"cache\": \"miss\", \"reps\": {3}, \"target\": "
      "\"cuda\", \"device\": \"{4}\", \"kernel_launches\": {5}}\n",
      ms, ms > 0 ? graph.getEffectiveFlops() / (ms * 1e6) : 0.0,
      graph.getCompileMs(), bench.getValue(), context->info().name,
      graph.getNumKernelLaunches());
  return llvm::Error::success();
}

static llvm::Error runModuleMode() {
  if (target != "cpu" && target != "cuda")
    return fail("--target must be cpu or cuda, got '" + target + "'");
  if (entry.empty())
    return fail("module mode needs --entry=NAME (the function to run)");
  auto file = llvm::MemoryBuffer::getFile(moduleFile);
  if (!file)
    return fail(moduleFile + ": " + file.getError().message());
  if (target == "cuda")
    return runModuleModeCuda((*file)->getBuffer());
  jit::CpuTuning tuning;
  tuning.vectorWidth = vectorWidth;
  tuning.tileQueries = tileQueries;
  tuning.tileKeys = tileKeys;
  auto compiled = jit::CompiledModule::compile((*file)->getBuffer(), moduleFile,
                                               entry, tuning);
  if (!compiled)
    return compiled.takeError();
  jit::CompiledModule &module = **compiled;
  auto read = readModuleInputs(module.getInputs());
  if (!read)
    return read.takeError();
  std::vector<npy::Array> arrays = std::move(*read);
  if (outputs.size() != module.getOutputs().size())
    return fail(llvm::formatv("@{0} returns {1} results, --outputs names {2}",
                              entry, module.getOutputs().size(),
                              outputs.size()));
  std::vector<std::vector<float>> floats;
  std::vector<jit::ModuleBuffer> inputBuffers;
  for (npy::Array &array : arrays) {
    jit::ModuleBuffer buffer;
    buffer.data = array.bytes.data();
    buffer.shape.assign(array.shape.begin(), array.shape.end());
    inputBuffers.push_back(buffer);
  }
  std::vector<jit::ModuleBuffer> outputBuffers;
  for (const TensorSignature &signature : module.getOutputs()) {
    int64_t count = 1;
    for (int64_t size : signature.shape)
      count *= size;
    floats.emplace_back(count, 0.0f);
    jit::ModuleBuffer buffer;
    buffer.data = floats.back().data();
    buffer.shape = signature.shape;
    outputBuffers.push_back(buffer);
  }
  if (llvm::Error error = module.run(inputBuffers, outputBuffers))
    return error;
  llvm::outs() << llvm::formatv(
      "dilattn-run: @{0} from {1}, target cpu, compiled in {2:f1} ms\n", entry,
      moduleFile, module.getCompileMs());
  for (auto [index, path] : llvm::enumerate(outputs))
    if (llvm::Error error =
            npy::writeNpyF32(path, outputBuffers[index].shape, floats[index]))
      return error;

  if (bench > 0) {
    auto times =
        timeRuns(2, [&] { return module.run(inputBuffers, outputBuffers); });
    if (!times)
      return times.takeError();
    double ms = median(*times);
    double flops = module.getEffectiveFlops();
    llvm::outs() << llvm::formatv(
        "{{\"median_ms\": {0:f4}, \"gflops\": {1:f2}, \"compile_ms\": "
        "{2:f1}, \"cache\": \"miss\", \"reps\": {3}, \"threads\": {4}, "
        "\"target\": \"cpu\"}\n",
        ms, ms > 0 ? flops / (ms * 1e6) : 0.0, module.getCompileMs(),
        bench.getValue(),
        // Module mode runs its parallel work on the process-wide pool
        // ($DILATTN_NUM_THREADS, else all cores).
        runtime::ThreadPool::global().getNumThreads());
  }
  return llvm::Error::success();
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  std::string parseErrors;
  llvm::raw_string_ostream errors(parseErrors);
  if (!cl::ParseCommandLineOptions(
          argc, argv, "dilattn-run: run and check dilated attention\n",
          &errors)) {
    llvm::StringRef message = llvm::StringRef(parseErrors).trim();
    message.consume_front("dilattn-run: ");
    llvm::errs() << "error: " << message.split('\n').first << "\n";
    return 1;
  }
  llvm::Error error = moduleFile.empty() ? runOpMode() : runModuleMode();
  if (error) {
    llvm::errs() << "error: " << llvm::toString(std::move(error)) << "\n";
    return 1;
  }
  return 0;
}
