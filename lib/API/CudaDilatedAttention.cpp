//===- CudaDilatedAttention.cpp - dilated attention on a CUDA GPU ---------===//

#include "dilattn/API/CudaDilatedAttention.h"
#include "dilattn/Support/Error.h"

#include "dilattn/Runtime/CudaRuntime.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <map>
#include <memory>
#include <mutex>

using namespace dilattn;
namespace cuda = dilattn::runtime::cuda;

llvm::ArrayRef<int64_t> dilattn::cudaSupportedHeadDims() {
  return jit::cudaSupportedHeadDims();
}

llvm::Error dilattn::checkCudaHeadDim(int64_t headDim) {
  if (llvm::is_contained(cudaSupportedHeadDims(), headDim))
    return llvm::Error::success();
  return makeError(
      ErrorCode::Unsupported,
      llvm::formatv(
          "head dim {0} is not supported by target cuda (supported: {1})",
          headDim,
          llvm::join(
              llvm::map_range(cudaSupportedHeadDims(),
                              [](int64_t d) { return std::to_string(d); }),
              ", ")));
}

llvm::Error dilattn::checkCudaAvailable(int device) {
  auto context = cuda::Context::get(device);
  if (!context)
    return context.takeError();
  const cuda::DeviceInfo &info = context->info();
  if (info.computeCapabilityMajor < 8)
    return makeError(ErrorCode::TargetUnavailable,
                     llvm::formatv("target cuda needs a GPU of compute "
                                   "capability 8.0 or newer (tensor "
                                   "cores with bf16, cp.async); {0} is {1}.{2}",
                                   info.name, info.computeCapabilityMajor,
                                   info.computeCapabilityMinor));
  return llvm::Error::success();
}

namespace {
/// A kernel image loaded into one device context, with the grid that fills
/// the device (the kernels are persistent).
struct LoadedKernel {
  std::shared_ptr<const jit::CompiledCudaKernel> kernel;
  cuda::Module module;
  llvm::SmallVector<cuda::Function, 4> functions;
  llvm::SmallVector<unsigned, 4> gridSizes;
};

/// Loaded images by (kernel, device): loading is a driver call worth doing
/// once. Entries live as long as the process (kernels are few).
class LoadedKernels {
public:
  llvm::Expected<const LoadedKernel *>
  get(std::shared_ptr<const jit::CompiledCudaKernel> kernel,
      cuda::Context &context) {
    std::lock_guard<std::mutex> lock(mutex);
    auto key = std::make_pair(kernel.get(), context.ordinal());
    auto it = loaded.find(key);
    if (it != loaded.end())
      return it->second.get();
    auto module = cuda::Module::load(context, kernel->image.image);
    if (!module)
      return module.takeError();
    auto entry = std::make_unique<LoadedKernel>(
        LoadedKernel{kernel, std::move(*module), {}, {}});
    for (const jit::CudaLaunch &launch : kernel->image.launches) {
      auto function = entry->module.getFunction(launch.kernelName);
      if (!function)
        return function.takeError();
      if (launch.dynamicSharedBytes > 48 * 1024)
        if (llvm::Error error = function->setMaxDynamicSharedMemory(
                static_cast<int>(launch.dynamicSharedBytes)))
          return std::move(error);
      auto perMultiprocessor = function->maxActiveBlocksPerMultiprocessor(
          static_cast<int>(launch.blockThreads),
          static_cast<size_t>(launch.dynamicSharedBytes));
      if (!perMultiprocessor)
        return perMultiprocessor.takeError();
      if (*perMultiprocessor < 1)
        return makeError(
            ErrorCode::Unsupported,
            llvm::formatv(
                "kernel {0} cannot run on {1}: {2} threads and {3} bytes of "
                "shared memory per block do not fit a multiprocessor",
                launch.kernelName, context.info().name, launch.blockThreads,
                launch.dynamicSharedBytes));
      entry->gridSizes.push_back(static_cast<unsigned>(
          *perMultiprocessor * context.info().multiprocessorCount));
      entry->functions.push_back(std::move(*function));
    }
    const LoadedKernel *result = entry.get();
    loaded.emplace(key, std::move(entry));
    return result;
  }

private:
  std::mutex mutex;
  std::map<std::pair<const jit::CompiledCudaKernel *, int>,
           std::unique_ptr<LoadedKernel>>
      loaded;
};
} // namespace

static LoadedKernels &loadedKernels() {
  static LoadedKernels kernels;
  return kernels;
}

static int64_t product(llvm::ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t size : shape)
    count *= size;
  return count;
}

/// The kernel cudaDilatedAttention runs for these facts on `device`.
static jit::KernelSpec cudaKernelSpec(const DilatedAttentionConfig &config,
                                      int64_t headDim, ElementKind element,
                                      bool hasKeyPaddingBias, bool hasAttnBias,
                                      const cuda::DeviceInfo &device,
                                      const CudaRunOptions &options) {
  jit::KernelSpec spec;
  spec.config = config;
  spec.headDim = headDim;
  spec.element = element;
  spec.hasKeyPaddingMask = hasKeyPaddingBias;
  spec.hasAttnMask = hasAttnBias;
  spec.target = jit::Target::Cuda;
  spec.cudaChip = cudaChipForDevice(device.computeCapabilityMajor,
                                    device.computeCapabilityMinor);
  spec.cudaTuning = options.tuning;
  return spec;
}

llvm::Error dilattn::compileCudaDilatedAttention(
    const DilatedAttentionConfig &config, int64_t headDim, ElementKind element,
    bool hasKeyPaddingBias, bool hasAttnBias, const CudaRunOptions &options) {
  DilatedAttentionSignature signature = anySizeSignature(
      headDim, element,
      hasKeyPaddingBias ? std::optional(ElementKind::F32) : std::nullopt,
      hasAttnBias);
  signature.supportedElements = {ElementKind::F16, ElementKind::BF16,
                                 ElementKind::F32};
  signature.allowFloatKeyPaddingMask = true;
  if (llvm::Error error = checkDilatedAttention(config, signature))
    return error;
  if (llvm::Error error = checkCudaHeadDim(headDim))
    return error;
  if (llvm::Error error = checkCudaAvailable(options.device))
    return error;
  auto context = cuda::Context::get(options.device);
  if (!context)
    return context.takeError();
  jit::Jit &jit = options.jit ? *options.jit : jit::Jit::global();
  return jit
      .getCudaKernel(cudaKernelSpec(config, headDim, element, hasKeyPaddingBias,
                                    hasAttnBias, context->info(), options))
      .takeError();
}

llvm::Expected<RunInfo> dilattn::cudaDilatedAttention(
    const DilatedAttentionConfig &config, const DeviceTensor &query,
    const DeviceTensor &key, const DeviceTensor &value,
    const std::optional<DeviceBias> &keyPaddingBias,
    const std::optional<DeviceBias> &attnBias, const DeviceTensor &output,
    const CudaRunOptions &options) {
  DilatedAttentionSignature signature;
  signature.query = TensorSignature::get(query.shape, query.element);
  signature.key = TensorSignature::get(key.shape, key.element);
  signature.value = TensorSignature::get(value.shape, value.element);
  signature.supportedElements = {ElementKind::F16, ElementKind::BF16,
                                 ElementKind::F32};
  signature.allowFloatKeyPaddingMask = true;
  if (keyPaddingBias)
    signature.keyPaddingMask =
        TensorSignature::get(keyPaddingBias->shape, ElementKind::F32);
  if (attnBias)
    signature.attnMask =
        TensorSignature::get(attnBias->shape, ElementKind::F32);
  if (llvm::Error error = checkDilatedAttention(config, signature))
    return std::move(error);
  if (output.shape != query.shape || output.element != query.element)
    return makeError(
        ErrorCode::InvalidArgument,
        llvm::formatv(
            "output must have the shape and element type of "
            "query {0} {1}, got {2} {3}",
            formatShape(query.shape), stringifyElementKind(query.element),
            formatShape(output.shape), stringifyElementKind(output.element)));
  if (key.element != query.element || value.element != query.element)
    return makeError(
        ErrorCode::InvalidCall,
        "query, key and value must have one element type on target "
        "cuda");
  int64_t batch = query.shape[0], seqLen = query.shape[1],
          numHeads = query.shape[2], headDim = query.shape[3];
  if (llvm::Error error = checkCudaHeadDim(headDim))
    return std::move(error);
  if (llvm::Error error = checkCudaAvailable(options.device))
    return std::move(error);
  RunInfo info;
  if (product(query.shape) == 0)
    return info;
  for (const DeviceTensor *tensor : {&query, &key, &value, &output})
    if (tensor->address == 0)
      return makeError(ErrorCode::NullArgument,
                       "query, key, value and output must not be null");

  auto context = cuda::Context::get(options.device);
  if (!context)
    return context.takeError();
  jit::Jit &jit = options.jit ? *options.jit : jit::Jit::global();
  auto kernel = jit.getCudaKernel(
      cudaKernelSpec(config, headDim, query.element, keyPaddingBias.has_value(),
                     attnBias.has_value(), context->info(), options),
      &info.cache);
  if (!kernel)
    return kernel.takeError();
  if (info.cache != jit::CacheOutcome::MemoryHit)
    info.compileMs = (*kernel)->compileMs;
  auto loaded = loadedKernels().get(*kernel, *context);
  if (!loaded)
    return loaded.takeError();

  // Arguments: the memref descriptors of q, k, v, out [, workspace]
  // [, key bias] [, attention bias as (B, H, N, N) with zero strides where
  // it broadcasts].
  llvm::SmallVector<int64_t, 4> rowStrides = {seqLen * numHeads * headDim,
                                              numHeads * headDim, headDim, 1};
  cuda::KernelParams params;
  for (const DeviceTensor *tensor : {&query, &key, &value, &output})
    params.addMemRef(tensor->address, tensor->address, 0, tensor->shape,
                     rowStrides);
  std::optional<cuda::DeviceBuffer> workspace;
  if (config.mode == AttentionMode::LongNet) {
    auto buffer = cuda::DeviceBuffer::allocate(
        *context, static_cast<size_t>(batch * seqLen * numHeads) * 4);
    if (!buffer)
      return buffer.takeError();
    workspace = std::move(*buffer);
    int64_t size = batch * seqLen * numHeads;
    params.addMemRef(workspace->address(), workspace->address(), 0, {size},
                     {1});
  }
  if (keyPaddingBias)
    params.addMemRef(keyPaddingBias->address, keyPaddingBias->address, 0,
                     {batch, seqLen}, {seqLen, 1});
  if (attnBias) {
    int64_t square = seqLen * seqLen;
    llvm::SmallVector<int64_t, 4> strides = {0, 0, seqLen, 1};
    if (attnBias->shape.size() == 3)
      strides[0] = square;
    if (attnBias->shape.size() == 4) {
      strides[0] = numHeads * square;
      strides[1] = square;
    }
    params.addMemRef(attnBias->address, attnBias->address, 0,
                     {batch, numHeads, seqLen, seqLen}, strides);
  }
  llvm::SmallVector<void *> pointers = params.pointers();
  cuda::Stream stream = cuda::Stream::wrap(options.stream, &*context);
  const LoadedKernel &launchable = **loaded;
  for (auto [launch, function, grid] :
       llvm::zip_equal((*kernel)->image.launches, launchable.functions,
                       launchable.gridSizes)) {
    cuda::Function callable = function;
    if (llvm::Error error = callable.launch(
            cuda::Dim3{grid, 1, 1},
            cuda::Dim3{static_cast<unsigned>(launch.blockThreads), 1, 1},
            static_cast<unsigned>(launch.dynamicSharedBytes), stream, pointers))
      return std::move(error);
    info.workItems += grid;
  }
  // The workspace is freed on return: wait for the kernels that use it.
  if (workspace)
    if (llvm::Error error = stream.synchronize())
      return std::move(error);
  return info;
}
