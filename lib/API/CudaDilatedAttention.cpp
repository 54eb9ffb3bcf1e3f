//===- CudaDilatedAttention.cpp - dilated attention on a CUDA GPU ---------===//

#include "dilattn/API/CudaDilatedAttention.h"
#include "dilattn/Support/Error.h"

#include "dilattn/Conversion/DilAttnToGPU/DilAttnToGPU.h"

#include "dilattn/Runtime/CudaProgramRunner.h"
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
/// Runners by kernel spec: each loads its image once per device. Keyed by
/// the spec's cache key rather than the kernel object, so that a kernel the
/// JIT's memory cache evicted and compiled again reuses its runner. Entries
/// live as long as the process (configurations are few); std::map nodes do
/// not move, so the references handed out stay valid.
class KernelRunners {
public:
  llvm::Expected<cuda::CudaProgramRunner &>
  get(const jit::CompiledCudaKernel &kernel) {
    std::string key = kernel.spec.key();
    std::lock_guard<std::mutex> lock(mutex);
    auto it = runners.find(key);
    if (it != runners.end())
      return *it->second;
    auto program = std::make_shared<cuda::CudaProgram>();
    program->entry = "dilated attention";
    program->images.push_back({kernel.image.image, kernel.image.isPtx});
    for (const jit::CudaLaunch &launch : kernel.image.launches) {
      cuda::CudaProgramLaunch templ;
      templ.kernelName = launch.kernelName;
      templ.grid[0] = cuda::kPersistentGrid;
      templ.block[0] = static_cast<unsigned>(launch.blockThreads);
      templ.dynamicSharedBytes =
          static_cast<unsigned>(launch.dynamicSharedBytes);
      program->launches.push_back(std::move(templ));
    }
    auto runner = std::make_unique<cuda::CudaProgramRunner>(program);
    cuda::CudaProgramRunner &result = *runner;
    runners.emplace(std::move(key), std::move(runner));
    return result;
  }

private:
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<cuda::CudaProgramRunner>> runners;
};
} // namespace

static KernelRunners &kernelRunners() {
  static KernelRunners runners;
  return runners;
}

static int64_t product(llvm::ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t size : shape)
    count *= size;
  return count;
}

/// Whether a call of `seqLen` rows (0: not known yet, assumed to divide)
/// may take the warp-specialised TMA kernel: its tensor maps view the rows
/// of pattern (w, r) as (B, N / r, r, H, D), which needs r to divide N, and
/// it needs a driver that encodes tensor maps.
static bool tmaKernelFits(const DilatedAttentionConfig &config,
                          int64_t seqLen) {
  if (!cuda::hasTensorMapEncoder())
    return false;
  if (config.mode == AttentionMode::Grouped &&
      static_cast<int64_t>(config.dilationRates.size()) >
          mlir::dilattn::cuda::kMaxTmaPatterns)
    return false;
  for (int64_t rate : config.dilationRates)
    if (seqLen % rate != 0)
      return false;
  return true;
}

/// The kernel cudaDilatedAttention runs for these facts on `device`. The
/// automatic choice on Hopper is the warp-specialised TMA kernel where it
/// fits (tmaKernelFits), else the cp.async wgmma kernel.
static jit::KernelSpec cudaKernelSpec(const DilatedAttentionConfig &config,
                                      int64_t headDim, ElementKind element,
                                      bool hasKeyPaddingBias, bool hasAttnBias,
                                      const cuda::DeviceInfo &device,
                                      const CudaRunOptions &options,
                                      int64_t seqLen) {
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
  if (spec.cudaTuning.kernel == CudaKernelChoice::Auto &&
      spec.cudaChip == "sm_90a" && element != ElementKind::F32 &&
      tmaKernelFits(config, seqLen))
    spec.cudaTuning.kernel = CudaKernelChoice::WgmmaTma;
  if (spec.cudaTuning.kernel == CudaKernelChoice::WgmmaTma &&
      element == ElementKind::F32)
    spec.cudaTuning.kernel = CudaKernelChoice::Auto;
  return spec;
}

/// The tensor maps a launch of the TMA kernel takes first: Q, K and V for
/// each pattern it covers (all in grouped mode, pattern `launch` in
/// longnet), over the (B, N / r, r, H, D) view of the rows, boxes of 64
/// columns (128 swizzled bytes) by the tile's rows (docs/CUDA.md).
static llvm::SmallVector<cuda::CudaKernelArg, 9>
tensorMapArgs(const DilatedAttentionConfig &config, const jit::KernelSpec &spec,
              llvm::ArrayRef<int64_t> shape, ElementKind element,
              unsigned launch) {
  int64_t batch = shape[0], seqLen = shape[1], numHeads = shape[2],
          headDim = shape[3];
  // The kernel's tiling (dilattn-convert-to-gpu's defaults for 0).
  int64_t tileQueries = spec.cudaTuning.tileQueries
                            ? spec.cudaTuning.tileQueries
                            : mlir::dilattn::cuda::kWgmmaDefaultTileQueries;
  int64_t tileKeys = spec.cudaTuning.tileKeys
                         ? spec.cudaTuning.tileKeys
                         : mlir::dilattn::cuda::kWgmmaDefaultTileKeys;
  llvm::SmallVector<size_t, 4> patterns;
  if (config.mode == AttentionMode::Grouped)
    for (size_t p = 0; p < config.dilationRates.size(); ++p)
      patterns.push_back(p);
  else
    patterns.push_back(launch);
  llvm::SmallVector<cuda::CudaKernelArg, 9> args;
  uint64_t bytes = 2;
  for (size_t p : patterns) {
    uint64_t rate = static_cast<uint64_t>(config.dilationRates[p]);
    for (unsigned operand = 0; operand < 3; ++operand) {
      cuda::CudaKernelArg arg;
      arg.kind = cuda::CudaKernelArg::Kind::TensorMap;
      arg.buffer = {cuda::CudaBufferRef::Kind::Input, operand};
      cuda::TensorMapSpec &map = arg.tensorMap;
      map.element = element == ElementKind::BF16 ? cuda::TensorMapElement::BF16
                                                 : cuda::TensorMapElement::F16;
      map.dims = {
          static_cast<uint64_t>(headDim), static_cast<uint64_t>(numHeads), rate,
          static_cast<uint64_t>(seqLen) / rate, static_cast<uint64_t>(batch)};
      uint64_t row = bytes * headDim * numHeads;
      map.byteStrides = {bytes * headDim, row, row * rate,
                         row * static_cast<uint64_t>(seqLen)};
      uint32_t rows =
          static_cast<uint32_t>(operand == 0 ? tileQueries : tileKeys);
      map.box = {64, 1, 1, rows, 1};
      map.swizzle = cuda::TensorMapSwizzle::B128;
      args.push_back(std::move(arg));
    }
  }
  return args;
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
                                    hasAttnBias, context->info(), options,
                                    /*seqLen=*/0))
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
  jit::KernelSpec spec =
      cudaKernelSpec(config, headDim, query.element, keyPaddingBias.has_value(),
                     attnBias.has_value(), context->info(), options, seqLen);
  if (usesTmaKernel(spec.cudaTuning.kernel) && !tmaKernelFits(config, seqLen))
    return makeError(
        ErrorCode::InvalidArgument,
        llvm::formatv("the wgmma-tma kernel needs every dilation rate to "
                      "divide the sequence length {0}, at most {1} patterns "
                      "in grouped mode and a driver that encodes tensor maps "
                      "(the auto or wgmma kernels take any call)",
                      seqLen, mlir::dilattn::cuda::kMaxTmaPatterns));
  auto kernel = jit.getCudaKernel(spec, &info.cache);
  if (!kernel)
    return kernel.takeError();
  if (info.cache != jit::CacheOutcome::MemoryHit)
    info.compileMs = (*kernel)->compileMs;
  auto runner = kernelRunners().get(**kernel);
  if (!runner)
    return runner.takeError();

  // Arguments: the memref descriptors of q, k, v, out [, workspace]
  // [, key bias] [, attention bias as (B, H, N, N) with zero strides where
  // it broadcasts]. Inputs: q, k, v [, key bias] [, attention bias].
  using Ref = cuda::CudaBufferRef;
  llvm::SmallVector<uint64_t, 5> inputs = {query.address, key.address,
                                           value.address};
  llvm::SmallVector<uint64_t, 1> outputs = {output.address};
  llvm::SmallVector<uint64_t, 1> temporaryBytes;
  llvm::SmallVector<cuda::CudaKernelArg, 8> args;
  auto view = [&](Ref::Kind kind, unsigned index, llvm::ArrayRef<int64_t> sizes,
                  llvm::ArrayRef<int64_t> strides) {
    cuda::CudaKernelArg arg;
    arg.buffer = Ref{kind, index};
    arg.sizes.assign(sizes.begin(), sizes.end());
    arg.strides.assign(strides.begin(), strides.end());
    args.push_back(std::move(arg));
  };
  llvm::SmallVector<int64_t, 4> rowStrides = {seqLen * numHeads * headDim,
                                              numHeads * headDim, headDim, 1};
  view(Ref::Kind::Input, 0, query.shape, rowStrides);
  view(Ref::Kind::Input, 1, key.shape, rowStrides);
  view(Ref::Kind::Input, 2, value.shape, rowStrides);
  view(Ref::Kind::Output, 0, output.shape, rowStrides);
  if (config.mode == AttentionMode::LongNet) {
    int64_t size = batch * seqLen * numHeads;
    temporaryBytes.push_back(static_cast<uint64_t>(size) * 4);
    view(Ref::Kind::Temporary, 0, {size}, {1});
  }
  if (keyPaddingBias) {
    inputs.push_back(keyPaddingBias->address);
    view(Ref::Kind::Input, inputs.size() - 1, {batch, seqLen}, {seqLen, 1});
  }
  if (attnBias) {
    int64_t square = seqLen * seqLen;
    llvm::SmallVector<int64_t, 4> strides = {0, 0, seqLen, 1};
    if (attnBias->shape.size() == 3)
      strides[0] = square;
    if (attnBias->shape.size() == 4) {
      strides[0] = numHeads * square;
      strides[1] = square;
    }
    inputs.push_back(attnBias->address);
    view(Ref::Kind::Input, inputs.size() - 1, {batch, numHeads, seqLen, seqLen},
         strides);
  }
  // Every kernel of the image takes the same arguments, after the tensor
  // maps of its patterns for the TMA kernel.
  std::vector<cuda::CudaProgramLaunch> launches = runner->program().launches;
  bool tma = usesTmaKernel(spec.cudaTuning.kernel);
  for (auto [index, launch] : llvm::enumerate(launches)) {
    launch.args.clear();
    if (tma)
      launch.args = tensorMapArgs(config, spec, query.shape, query.element,
                                  static_cast<unsigned>(index));
    launch.args.append(args.begin(), args.end());
  }
  cuda::Stream stream = cuda::Stream::wrap(options.stream, &*context);
  // The workspace is freed on return: the runner waits for the kernels
  // that use it (and only then).
  cuda::ProgramRunOptions runOptions;
  runOptions.wait = false;
  runOptions.poolTemporaries = false;
  auto blocks = runner->run(*context, launches, temporaryBytes, inputs, outputs,
                            stream, runOptions);
  if (!blocks)
    return blocks.takeError();
  info.workItems += *blocks;
  return info;
}
