//===- CudaCompiledGraph.cpp - compiled graphs on target cuda -------------===//

#include "CudaCompiledGraph.h"

#include "dilattn/API/CudaDilatedAttention.h"
#include "dilattn/JIT/KernelCache.h"
#include "dilattn/Pipelines/CudaKernelChoice.h"
#include "dilattn/Runtime/CudaProgramRunner.h"
#include "dilattn/Runtime/CudaRuntime.h"
#include "dilattn/Support/Error.h"

#include "llvm/Support/FormatVariadic.h"

using namespace dilattn;
namespace cuda = dilattn::runtime::cuda;

namespace dilattn::detail {

/// Compiled CUDA programs (with their runners, which hold the loaded images)
/// by source, entry, chip and tuning: the kernel cache's memory cache, so one
/// locking discipline and single-flight compiles (two threads asking for one
/// program compile it once). Bounded by the bytes of the images.
static jit::MemoryCache<cuda::CudaProgramRunner> &programCache() {
  static auto *cache =
      new jit::MemoryCache<cuda::CudaProgramRunner>(size_t(64) << 20);
  return *cache;
}

llvm::Expected<std::shared_ptr<cuda::CudaProgramRunner>>
getCudaProgram(llvm::StringRef source, llvm::StringRef sourceName,
               llvm::StringRef entry, const GraphCompileOptions &options,
               bool &compiled) {
  std::string chip = options.cudaChip;
  if (chip.empty()) {
    if (llvm::Error error = checkCudaAvailable(options.device))
      return std::move(error);
    auto context = cuda::Context::get(options.device);
    if (!context)
      return context.takeError();
    chip = cudaChipForDevice(context->info().computeCapabilityMajor,
                             context->info().computeCapabilityMinor);
  }
  const jit::CudaTuning &tuning = options.cudaTuning;
  std::string key =
      llvm::formatv("{0}|{1}|{2}|{3},{4},{5},{6}", entry, chip, source,
                    tuning.tileQueries, tuning.tileKeys, tuning.stages,
                    stringifyCudaKernelChoice(tuning.kernel))
          .str();
  compiled = false;
  return programCache().getOrCreate(
      key,
      [&]() -> llvm::Expected<
                jit::MemoryCache<cuda::CudaProgramRunner>::Created> {
        // Compiled without the cache lock (ptxas takes a while).
        auto program =
            jit::compileCudaProgram(source, sourceName, entry, chip, tuning);
        if (!program)
          return program.takeError();
        // A program the runtime would refuse is a compiler bug.
        if (llvm::Error error = cuda::checkProgram(**program))
          return makeError(ErrorCode::Internal,
                           llvm::toString(std::move(error)));
        size_t bytes = key.size();
        for (const jit::CudaProgram::Image &image : (*program)->images)
          bytes += image.bytes.size();
        compiled = true;
        return std::make_pair(
            std::make_shared<cuda::CudaProgramRunner>(
                std::shared_ptr<const jit::CudaProgram>(std::move(*program))),
            bytes);
      });
}

static int64_t elementCount(const TensorSignature &type) {
  int64_t count = 1;
  for (int64_t size : type.shape)
    count *= size;
  return count;
}

static size_t byteSize(const TensorSignature &type) {
  return static_cast<size_t>(elementCount(type)) *
         (type.element == ElementKind::I1 ? 1 : 4);
}

/// One buffer per input and output, none null unless it holds no elements
/// (host pointers or device addresses alike).
template <typename Input, typename Output>
static llvm::Error checkBuffers(const jit::CudaProgram &program,
                                llvm::ArrayRef<Input> inputs,
                                llvm::ArrayRef<Output> outputs) {
  if (inputs.size() != program.inputs.size())
    return makeError(ErrorCode::InvalidArgument,
                     llvm::formatv("the graph takes {0} inputs, got {1}",
                                   program.inputs.size(), inputs.size()));
  if (outputs.size() != program.outputs.size())
    return makeError(ErrorCode::InvalidArgument,
                     llvm::formatv("the graph has {0} outputs, got {1}",
                                   program.outputs.size(), outputs.size()));
  for (auto [index, buffer] : llvm::enumerate(inputs))
    if (!buffer && elementCount(program.inputs[index]) != 0)
      return makeError(ErrorCode::NullArgument,
                       llvm::formatv("input #{0} must not be null", index));
  for (auto [index, buffer] : llvm::enumerate(outputs))
    if (!buffer && elementCount(program.outputs[index]) != 0)
      return makeError(ErrorCode::NullArgument,
                       llvm::formatv("output #{0} must not be null", index));
  return llvm::Error::success();
}

llvm::Error runOnDeviceBuffers(cuda::CudaProgramRunner &runner, int device,
                               llvm::ArrayRef<uint64_t> inputs,
                               llvm::ArrayRef<uint64_t> outputs, void *stream,
                               std::vector<double> *launchMs) {
  if (llvm::Error error = checkBuffers(runner.program(), inputs, outputs))
    return error;
  // The kernels read and write rows as 16-byte vectors. A misaligned buffer
  // fails the run (docs/embedding.md: DILATTN_ERROR_RUNTIME).
  for (auto [index, address] : llvm::enumerate(inputs))
    if (address % 16 != 0)
      return makeError(ErrorCode::Runtime,
                       llvm::formatv("input #{0} must be 16-byte aligned (as "
                                     "cudaMalloc's are), got {1:x}",
                                     index, address));
  for (auto [index, address] : llvm::enumerate(outputs))
    if (address % 16 != 0)
      return makeError(ErrorCode::Runtime,
                       llvm::formatv("output #{0} must be 16-byte aligned (as "
                                     "cudaMalloc's are), got {1:x}",
                                     index, address));
  if (llvm::Error error = checkCudaAvailable(device))
    return error;
  auto context = cuda::Context::get(device);
  if (!context)
    return context.takeError();
  cuda::Stream wrapped = cuda::Stream::wrap(stream, &*context);
  cuda::ProgramRunOptions runOptions;
  runOptions.launchMs = launchMs;
  return runner.run(*context, inputs, outputs, wrapped, runOptions).takeError();
}

llvm::Error runOnHostBuffers(cuda::CudaProgramRunner &runner, int device,
                             llvm::ArrayRef<const void *> inputs,
                             llvm::ArrayRef<float *> outputs) {
  const jit::CudaProgram &program = runner.program();
  if (llvm::Error error = checkBuffers(program, inputs, outputs))
    return error;
  if (llvm::Error error = checkCudaAvailable(device))
    return error;
  auto context = cuda::Context::get(device);
  if (!context)
    return context.takeError();
  std::vector<cuda::DeviceBuffer> inputBuffers, outputBuffers;
  llvm::SmallVector<uint64_t> inputAddresses, outputAddresses;
  for (auto [index, data] : llvm::enumerate(inputs)) {
    size_t bytes = byteSize(program.inputs[index]);
    auto buffer = cuda::DeviceBuffer::allocate(*context, bytes);
    if (!buffer)
      return buffer.takeError();
    if (bytes)
      if (llvm::Error error = buffer->copyFromHost(data, bytes))
        return error;
    inputAddresses.push_back(buffer->address());
    inputBuffers.push_back(std::move(*buffer));
  }
  for (const TensorSignature &type : program.outputs) {
    auto buffer = cuda::DeviceBuffer::allocate(*context, byteSize(type));
    if (!buffer)
      return buffer.takeError();
    outputAddresses.push_back(buffer->address());
    outputBuffers.push_back(std::move(*buffer));
  }
  cuda::Stream stream = cuda::Stream::wrap(nullptr, &*context);
  if (llvm::Error error =
          runner.run(*context, inputAddresses, outputAddresses, stream)
              .takeError())
    return error;
  for (auto [index, data] : llvm::enumerate(outputs)) {
    size_t bytes = byteSize(program.outputs[index]);
    if (bytes)
      if (llvm::Error error = outputBuffers[index].copyToHost(data, bytes))
        return error;
  }
  return llvm::Error::success();
}

} // namespace dilattn::detail
