//===- DilatedAttention.cpp - run dilated attention on host buffers -------===//

#include "dilattn/API/DilatedAttention.h"
#include "dilattn/Support/Error.h"

#include "llvm/Support/FormatVariadic.h"

#include <limits>
#include <vector>

using namespace dilattn;

static ElementKind kindOf(const HostMask &mask) {
  return mask.kind == HostMask::Kind::Bool ? ElementKind::I1 : ElementKind::F32;
}

static int64_t product(llvm::ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t size : shape)
    count *= size;
  return count;
}

/// Boolean masks become 0 / -inf biases; float masks are used in place.
static const float *biasOf(const HostMask &mask, std::vector<float> &storage) {
  if (mask.kind == HostMask::Kind::Float)
    return mask.floats;
  int64_t count = product(mask.shape);
  storage.resize(count);
  float negInf = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < count; ++i)
    storage[i] = mask.bools[i] ? negInf : 0.0f;
  return storage.data();
}

/// The kernel dilatedAttention runs for these facts.
static jit::KernelSpec
kernelSpec(const DilatedAttentionConfig &config, int64_t headDim,
           bool hasKeyPaddingMask, bool hasAttnMask, const RunOptions &options,
           jit::KernelKind kind = jit::KernelKind::Forward) {
  jit::KernelSpec spec;
  spec.kind = kind;
  spec.config = config;
  spec.headDim = headDim;
  spec.hasKeyPaddingMask = hasKeyPaddingMask;
  spec.hasAttnMask = hasAttnMask;
  spec.tuning = options.tuning.resolvedForHost();
  return spec;
}

static jit::Jit &jitOf(const RunOptions &options) {
  return options.jit ? *options.jit : jit::Jit::global();
}

DilatedAttentionSignature
dilattn::anySizeSignature(int64_t headDim, ElementKind element,
                          std::optional<ElementKind> keyPaddingMask,
                          bool hasAttnMask) {
  DilatedAttentionSignature signature;
  signature.query = TensorSignature::get(
      {kDynamicSize, kDynamicSize, kDynamicSize, headDim}, element);
  signature.key = signature.value = signature.query;
  if (keyPaddingMask)
    signature.keyPaddingMask =
        TensorSignature::get({kDynamicSize, kDynamicSize}, *keyPaddingMask);
  if (hasAttnMask)
    signature.attnMask =
        TensorSignature::get({kDynamicSize, kDynamicSize}, ElementKind::F32);
  return signature;
}

llvm::Error dilattn::compileDilatedAttention(
    const DilatedAttentionConfig &config, int64_t headDim, ElementKind element,
    bool hasKeyPaddingMask, bool hasAttnMask, const RunOptions &options) {
  DilatedAttentionSignature signature = anySizeSignature(
      headDim, element,
      hasKeyPaddingMask ? std::optional(ElementKind::I1) : std::nullopt,
      hasAttnMask);
  signature.supportedElements = {ElementKind::F32};
  if (llvm::Error error = checkDilatedAttention(config, signature))
    return error;
  return jitOf(options)
      .getKernel(
          kernelSpec(config, headDim, hasKeyPaddingMask, hasAttnMask, options))
      .takeError();
}

using runtime::StridedMemRef;

/// A descriptor of a contiguous (B, N, H, D) tensor.
static StridedMemRef<4> rowsOf(const float *data, int64_t batch, int64_t seqLen,
                               int64_t numHeads, int64_t headDim) {
  StridedMemRef<4> memref;
  memref.allocated = memref.aligned = const_cast<float *>(data);
  int64_t sizes[4] = {batch, seqLen, numHeads, headDim};
  int64_t strides[4] = {seqLen * numHeads * headDim, numHeads * headDim,
                        headDim, 1};
  for (int i = 0; i < 4; ++i) {
    memref.sizes[i] = sizes[i];
    memref.strides[i] = strides[i];
  }
  return memref;
}

static runtime::StatisticsMemRef statisticsOf(const float *data, int64_t batch,
                                              int64_t seqLen,
                                              int64_t numHeads) {
  runtime::StatisticsMemRef memref;
  memref.allocated = memref.aligned = const_cast<float *>(data);
  int64_t sizes[3] = {batch, seqLen, numHeads};
  int64_t strides[3] = {seqLen * numHeads, numHeads, 1};
  for (int i = 0; i < 3; ++i) {
    memref.sizes[i] = sizes[i];
    memref.strides[i] = strides[i];
  }
  return memref;
}

namespace {
/// The mask biases of one call as kernel descriptors; boolean masks are
/// converted into storage owned here.
struct MaskBiases {
  std::vector<float> keyBiasStorage, attnBiasStorage;
  StridedMemRef<2> keyBias;
  StridedMemRef<4> attnBias;

  MaskBiases(const std::optional<HostMask> &keyPaddingMask,
             const std::optional<HostMask> &attnMask, int64_t batch,
             int64_t seqLen, int64_t numHeads) {
    if (keyPaddingMask) {
      float *bias =
          const_cast<float *>(biasOf(*keyPaddingMask, keyBiasStorage));
      keyBias.allocated = keyBias.aligned = bias;
      keyBias.sizes[0] = batch;
      keyBias.sizes[1] = seqLen;
      keyBias.strides[0] = seqLen;
      keyBias.strides[1] = 1;
    }
    // The attention bias in its (B, H, N, N) form: broadcast dimensions get
    // stride 0, so no copy is made.
    if (attnMask) {
      float *bias = const_cast<float *>(biasOf(*attnMask, attnBiasStorage));
      attnBias.allocated = attnBias.aligned = bias;
      int64_t square = seqLen * seqLen;
      int64_t sizes[4] = {batch, numHeads, seqLen, seqLen};
      int64_t strides[4] = {0, 0, seqLen, 1};
      if (attnMask->shape.size() == 3)
        strides[0] = square;
      if (attnMask->shape.size() == 4) {
        strides[0] = numHeads * square;
        strides[1] = square;
      }
      for (int i = 0; i < 4; ++i) {
        attnBias.sizes[i] = sizes[i];
        attnBias.strides[i] = strides[i];
      }
    }
  }
};
} // namespace

static DilatedAttentionSignature
hostSignature(const HostTensor &query, const HostTensor &key,
              const HostTensor &value,
              const std::optional<HostMask> &keyPaddingMask,
              const std::optional<HostMask> &attnMask) {
  DilatedAttentionSignature signature;
  signature.query = TensorSignature::get(query.shape, ElementKind::F32);
  signature.key = TensorSignature::get(key.shape, ElementKind::F32);
  signature.value = TensorSignature::get(value.shape, ElementKind::F32);
  signature.supportedElements = {ElementKind::F32};
  if (keyPaddingMask)
    signature.keyPaddingMask =
        TensorSignature::get(keyPaddingMask->shape, kindOf(*keyPaddingMask));
  if (attnMask)
    signature.attnMask =
        TensorSignature::get(attnMask->shape, kindOf(*attnMask));
  return signature;
}

static runtime::ThreadPool &threadsOf(const RunOptions &options) {
  return options.threads ? *options.threads : runtime::ThreadPool::global();
}

/// dilatedAttention, with the statistics written to `lse` when not null.
static llvm::Expected<RunInfo>
runForward(const DilatedAttentionConfig &config, const HostTensor &query,
           const HostTensor &key, const HostTensor &value,
           const std::optional<HostMask> &keyPaddingMask,
           const std::optional<HostMask> &attnMask, float *output,
           llvm::ArrayRef<int64_t> outputShape, float *lse, bool withLse,
           const RunOptions &options) {
  if (llvm::Error error = checkDilatedAttention(
          config, hostSignature(query, key, value, keyPaddingMask, attnMask)))
    return std::move(error);
  if (llvm::ArrayRef<int64_t>(query.shape) != outputShape)
    return makeError(
        ErrorCode::InvalidArgument,
        llvm::formatv("output must have the shape of query {0}, got "
                      "{1}",
                      formatShape(query.shape), formatShape(outputShape)));
  for (const HostTensor *tensor : {&query, &key, &value})
    if (!tensor->data && product(tensor->shape) != 0)
      return makeError(ErrorCode::NullArgument,
                       "query, key and value must not be null");
  if (!output && product(outputShape) != 0)
    return makeError(ErrorCode::NullArgument, "output must not be null");
  if (withLse && !lse && product(outputShape) != 0)
    return makeError(ErrorCode::NullArgument, "lse must not be null");

  int64_t batch = query.shape[0], seqLen = query.shape[1],
          numHeads = query.shape[2], headDim = query.shape[3];
  RunInfo info;
  if (batch == 0 || seqLen == 0)
    return info;

  auto kernel = jitOf(options).getKernel(
      kernelSpec(config, headDim, keyPaddingMask.has_value(),
                 attnMask.has_value(), options,
                 withLse ? jit::KernelKind::ForwardWithStatistics
                         : jit::KernelKind::Forward),
      &info.cache);
  if (!kernel)
    return kernel.takeError();
  if (info.cache != jit::CacheOutcome::MemoryHit)
    info.compileMs = (*kernel)->compileMs;

  StridedMemRef<4> queryRef =
                       rowsOf(query.data, batch, seqLen, numHeads, headDim),
                   keyRef = rowsOf(key.data, batch, seqLen, numHeads, headDim),
                   valueRef =
                       rowsOf(value.data, batch, seqLen, numHeads, headDim),
                   outputRef = rowsOf(output, batch, seqLen, numHeads, headDim);
  runtime::StatisticsMemRef lseRef = statisticsOf(lse, batch, seqLen, numHeads);
  MaskBiases masks(keyPaddingMask, attnMask, batch, seqLen, numHeads);

  const jit::CompiledKernel &compiled = **kernel;
  info.workItems = compiled.numWorkItems(batch, seqLen, numHeads);
  threadsOf(options).parallelFor(
      info.workItems, [&](int64_t begin, int64_t end) {
        StridedMemRef<4> q = queryRef, k = keyRef, v = valueRef, o = outputRef,
                         a = masks.attnBias;
        StridedMemRef<2> kb = masks.keyBias;
        runtime::StatisticsMemRef l = lseRef;
        if (withLse)
          compiled.statisticsEntry()(&q, &k, &v, &kb, &a, &o, &l, begin, end);
        else
          compiled.entry(&q, &k, &v, &kb, &a, &o, begin, end);
      });
  return info;
}

llvm::Expected<RunInfo> dilattn::dilatedAttention(
    const DilatedAttentionConfig &config, const HostTensor &query,
    const HostTensor &key, const HostTensor &value,
    const std::optional<HostMask> &keyPaddingMask,
    const std::optional<HostMask> &attnMask, float *output,
    llvm::ArrayRef<int64_t> outputShape, const RunOptions &options) {
  return runForward(config, query, key, value, keyPaddingMask, attnMask, output,
                    outputShape, nullptr, /*withLse=*/false, options);
}

llvm::Expected<RunInfo> dilattn::dilatedAttentionWithStatistics(
    const DilatedAttentionConfig &config, const HostTensor &query,
    const HostTensor &key, const HostTensor &value,
    const std::optional<HostMask> &keyPaddingMask,
    const std::optional<HostMask> &attnMask, float *output,
    llvm::ArrayRef<int64_t> outputShape, float *lse,
    const RunOptions &options) {
  return runForward(config, query, key, value, keyPaddingMask, attnMask, output,
                    outputShape, lse, /*withLse=*/true, options);
}

llvm::Expected<RunInfo> dilattn::dilatedAttentionBackward(
    const DilatedAttentionConfig &config, const HostTensor &query,
    const HostTensor &key, const HostTensor &value, const HostTensor &output,
    const HostTensor &lse, const HostTensor &gradOutput,
    const std::optional<HostMask> &keyPaddingMask,
    const std::optional<HostMask> &attnMask, float *gradQuery, float *gradKey,
    float *gradValue, const RunOptions &options) {
  GradientSignature gradient;
  gradient.output = TensorSignature::get(output.shape, ElementKind::F32);
  gradient.logSumExp = TensorSignature::get(lse.shape, ElementKind::F32);
  gradient.gradOutput =
      TensorSignature::get(gradOutput.shape, ElementKind::F32);
  if (llvm::Error error = checkDilatedAttentionGrad(
          config, hostSignature(query, key, value, keyPaddingMask, attnMask),
          gradient))
    return std::move(error);
  // Host shapes are all known, so the rules fixed every size.
  for (const HostTensor *tensor :
       {&query, &key, &value, &output, &lse, &gradOutput})
    if (!tensor->data && product(tensor->shape) != 0)
      return makeError(ErrorCode::NullArgument,
                       "query, key, value, output, lse and grad_output must "
                       "not be null");
  if ((!gradQuery || !gradKey || !gradValue) && product(query.shape) != 0)
    return makeError(ErrorCode::NullArgument,
                     "grad_query, grad_key and grad_value must not be null");

  int64_t batch = query.shape[0], seqLen = query.shape[1],
          numHeads = query.shape[2], headDim = query.shape[3];
  RunInfo info;
  if (batch == 0 || seqLen == 0)
    return info;
  auto kernel = jitOf(options).getKernel(
      kernelSpec(config, headDim, keyPaddingMask.has_value(),
                 attnMask.has_value(), options, jit::KernelKind::Backward),
      &info.cache);
  if (!kernel)
    return kernel.takeError();
  if (info.cache != jit::CacheOutcome::MemoryHit)
    info.compileMs = (*kernel)->compileMs;

  auto rows = [&](const float *data) {
    return rowsOf(data, batch, seqLen, numHeads, headDim);
  };
  StridedMemRef<4> queryRef = rows(query.data), keyRef = rows(key.data),
                   valueRef = rows(value.data), outputRef = rows(output.data),
                   gradOutputRef = rows(gradOutput.data),
                   gradQueryRef = rows(gradQuery), gradKeyRef = rows(gradKey),
                   gradValueRef = rows(gradValue);
  runtime::StatisticsMemRef lseRef =
      statisticsOf(lse.data, batch, seqLen, numHeads);
  MaskBiases masks(keyPaddingMask, attnMask, batch, seqLen, numHeads);
  const jit::CompiledKernel &compiled = **kernel;
  info.workItems = compiled.numWorkItems(batch, seqLen, numHeads);
  threadsOf(options).parallelFor(
      info.workItems, [&](int64_t begin, int64_t end) {
        StridedMemRef<4> q = queryRef, k = keyRef, v = valueRef, o = outputRef,
                         dO = gradOutputRef, dQ = gradQueryRef, dK = gradKeyRef,
                         dV = gradValueRef, a = masks.attnBias;
        StridedMemRef<2> kb = masks.keyBias;
        runtime::StatisticsMemRef l = lseRef;
        compiled.backwardEntry()(&q, &k, &v, &o, &l, &dO, &kb, &a, &dQ, &dK,
                                 &dV, begin, end);
      });
  return info;
}
