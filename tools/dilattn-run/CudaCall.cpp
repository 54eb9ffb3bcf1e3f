//===- CudaCall.cpp - a single call on target cuda ------------------------===//
//
// The inputs rounded to --dtype, copied to the device and run there
// (cudaDilatedAttention); the output comes back as f32. --check compares with
// the float64 reference of the rounded inputs at the dtype's tolerance;
// --bench times with CUDA events and reports the device memory used.
//
//===----------------------------------------------------------------------===//

#include "Bench.h"
#include "Check.h"
#include "Modes.h"

#include "dilattn/API/CudaDilatedAttention.h"
#include "dilattn/Runtime/CudaRuntime.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <tuple>

using namespace dilattn;
using namespace dilattn::run;
namespace cuda = dilattn::runtime::cuda;

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

/// --bench: `run` timed by CUDA events on the default stream.
static llvm::Expected<std::vector<double>>
timeOnDevice(cuda::Context &context, int reps,
             llvm::function_ref<llvm::Error()> run) {
  auto stream = cuda::Stream::wrap(nullptr, &context);
  auto start = cuda::Event::create(context);
  if (!start)
    return start.takeError();
  auto end = cuda::Event::create(context);
  if (!end)
    return end.takeError();
  return timeRuns(/*warmups=*/3, reps, run, [&]() -> llvm::Expected<double> {
    if (llvm::Error error = start->record(stream))
      return std::move(error);
    if (llvm::Error error = run())
      return std::move(error);
    if (llvm::Error error = end->record(stream))
      return std::move(error);
    if (llvm::Error error = end->synchronize())
      return std::move(error);
    return cuda::Event::elapsedMs(*start, *end);
  });
}

llvm::Error dilattn::run::runCudaCall(Call &call, const CallOptions &options) {
  const std::string &dtype = options.dtype;
  ElementKind element = dtype == "bf16"  ? ElementKind::BF16
                        : dtype == "f16" ? ElementKind::F16
                                         : ElementKind::F32;
  const DilatedAttentionConfig &config = call.config;
  Tensor &query = call.query, &key = call.key, &value = call.value;
  // The rules first, so that a bad call is refused the same way with or
  // without a GPU.
  DilatedAttentionSignature signature;
  signature.query = TensorSignature::get(query.shape, element);
  signature.key = TensorSignature::get(key.shape, element);
  signature.value = TensorSignature::get(value.shape, element);
  if (call.keyPadding)
    signature.keyPaddingMask =
        TensorSignature::get(call.keyPadding->shape, ElementKind::I1);
  if (call.attn)
    signature.attnMask = TensorSignature::get(
        call.attn->shape,
        call.attn->isBool ? ElementKind::I1 : ElementKind::F32);
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
       {std::tuple{&call.keyPadding, &keyBiasBuffer, &keyBias},
        std::tuple{&call.attn, &attnBiasBuffer, &attnBias}}) {
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
  CudaRunOptions runOptions;
  runOptions.tuning = options.common.tuning.cuda();
  auto run = [&]() {
    return cudaDilatedAttention(
        config, tensor(*queryBuffer), tensor(*keyBuffer), tensor(*valueBuffer),
        keyBias, attnBias, tensor(*outputBuffer), runOptions);
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
      "dilattn-run: {0}, target cuda ({1}), {2}, kernel {3}\n", call.describe(),
      context->info().name, dtype,
      describeKernel(first->cache, first->compileMs));

  Tensor output;
  output.shape = query.shape;
  {
    std::vector<uint8_t> bytes(queryBytes.size());
    if (llvm::Error error =
            outputBuffer->copyToHost(bytes.data(), bytes.size()))
      return error;
    output.data = dequantize(bytes, element);
  }
  if (llvm::Error error = writeAndCheckOutput(
          call, output, options, dtype,
          element == ElementKind::F32 ? kFloat32Tolerance : 1e-2))
    return error;

  int reps = options.common.bench;
  if (reps <= 0)
    return llvm::Error::success();
  auto times = timeOnDevice(*context, reps, [&]() -> llvm::Error {
    auto timed = run();
    return timed ? llvm::Error::success() : timed.takeError();
  });
  if (!times)
    return times.takeError();
  double flops = effectiveFlops(config, batch, seqLen, numHeads, headDim);
  uint64_t peak = cuda::DeviceBuffer::peakBytesInUse();
  uint64_t minimum = queryBytes.size() * 4;
  JsonObject line =
      callBenchLine(median(*times), flops, first->cache, first->compileMs);
  line.integer("reps", reps)
      .string("target", "cuda")
      .string("device", context->info().name)
      .string("dtype", dtype)
      .shape("shape", query.shape)
      .integer("device_peak_bytes", peak)
      .integer("device_data_bytes", dataBytes)
      .number("peak_over_inputs_and_output",
              static_cast<double>(peak) / static_cast<double>(minimum), 4)
      .string("ptxas", jit::ptxasVersion());
  printBenchLine(line);
  return llvm::Error::success();
}
