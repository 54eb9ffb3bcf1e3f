//===- Call.cpp - a single call's configuration and inputs ----------------===//

#include "Call.h"
#include "dilattn/Support/Error.h"

#include "dilattn/Support/Npy.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <array>
#include <unistd.h>

using namespace dilattn;
using namespace dilattn::run;

HostTensor Tensor::view() const {
  HostTensor host;
  host.data = data.data();
  host.shape.assign(shape.begin(), shape.end());
  return host;
}

reference::Tensor Tensor::toReference() const {
  reference::Tensor result;
  result.shape = shape;
  result.data.assign(data.begin(), data.end());
  return result;
}

HostMask Mask::view() const {
  HostMask mask;
  mask.kind = isBool ? HostMask::Kind::Bool : HostMask::Kind::Float;
  mask.bools = bools.data();
  mask.floats = floats.data();
  mask.shape.assign(shape.begin(), shape.end());
  return mask;
}

reference::Masks Call::referenceMasks() const {
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

std::string Call::describe() const {
  return llvm::formatv("{0}{1}, shape {2}", stringifyAttentionMode(config.mode),
                       config.causal ? " causal" : "", formatShape(query.shape))
      .str();
}

/// Reads Q, K or V: '<f4' data, or '<f2' too on target cuda.
static llvm::Expected<Tensor> readTensor(llvm::StringRef path,
                                         llvm::StringRef target) {
  auto array = npy::readNpy(path);
  if (!array)
    return array.takeError();
  bool accepted = array->dtype == npy::DType::F32 ||
                  (target == "cuda" && array->dtype == npy::DType::F16);
  if (!accepted)
    return makeError(
        ErrorCode::Unsupported,
        llvm::formatv(
            "{0}: dtype {1} is not supported on target {2}; save {3} data",
            path, npy::dtypeDescr(array->dtype), target,
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
    return makeError(
        ErrorCode::InvalidArgument,
        llvm::formatv("{0}: key_padding_mask must be boolean ('|b1'), "
                      "got '{1}'",
                      path, npy::dtypeDescr(array->dtype)));
  mask.isBool = false;
  mask.floats = array->toFloat32();
  return mask;
}

static llvm::Expected<DilatedAttentionConfig>
parseConfig(const CallOptions &options) {
  DilatedAttentionConfig config;
  config.segmentLengths.assign(options.segmentLengths.begin(),
                               options.segmentLengths.end());
  config.dilationRates.assign(options.dilationRates.begin(),
                              options.dilationRates.end());
  std::optional<AttentionMode> parsedMode = parseAttentionMode(options.mode);
  if (!parsedMode)
    return makeError(ErrorCode::InvalidArgument,
                     "--mode must be grouped or longnet, got '" + options.mode +
                         "'");
  config.mode = *parsedMode;
  std::optional<OffsetRule> parsedRule = parseOffsetRule(options.offsetRule);
  if (!parsedRule)
    return makeError(ErrorCode::InvalidArgument,
                     "--offset-rule must be cyclic or blocked, got '" +
                         options.offsetRule + "'");
  config.offsetRule = *parsedRule;
  config.causal = options.causal;
  if (!options.scale.empty()) {
    double value;
    if (llvm::StringRef(options.scale).getAsDouble(value))
      return makeError(ErrorCode::InvalidArgument,
                       "--scale must be a number, got '" + options.scale + "'");
    config.scale = value;
  }
  if (llvm::Error error = checkConfig(config))
    return std::move(error);
  return config;
}

/// Refuses problems whose buffers cannot fit in this machine's memory, before
/// allocating them: an allocation failure would abort the process.
static llvm::Error checkMemory(int64_t elementsPerTensor, bool check) {
  // Random inputs are drawn in double and kept in float (3 x 12 bytes), the
  // output is float, and --check holds the float64 reference (5 x 8 bytes).
  double bytesPerElement = 3 * 12 + 4 + (check ? 40 : 0);
  double needed = bytesPerElement * static_cast<double>(elementsPerTensor);
  long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || pageSize <= 0)
    return llvm::Error::success();
  double available = static_cast<double>(pages) * pageSize;
  if (needed > available)
    return makeError(
        ErrorCode::OutOfMemory,
        llvm::formatv("the buffers of this problem need about {0:f1} "
                      "GiB, more than this machine's {1:f1} GiB",
                      needed / (1 << 30), available / (1 << 30)));
  return llvm::Error::success();
}

/// Q, K and V: from files, or seeded random data (never zeros).
static llvm::Error readInputs(const CallOptions &options, Call &call) {
  bool fromFiles = !options.queryFile.empty() || !options.keyFile.empty() ||
                   !options.valueFile.empty();
  if (fromFiles == !options.shape.empty())
    return makeError(ErrorCode::InvalidArgument,
                     "give either --q, --k and --v, or --shape=B,N,H,D");
  if (fromFiles) {
    if (options.queryFile.empty() || options.keyFile.empty() ||
        options.valueFile.empty())
      return makeError(ErrorCode::InvalidArgument,
                       "--q, --k and --v must be given together");
    for (auto [path, tensor] : {std::pair{&options.queryFile, &call.query},
                                std::pair{&options.keyFile, &call.key},
                                std::pair{&options.valueFile, &call.value}}) {
      auto read = readTensor(*path, options.common.target);
      if (!read)
        return read.takeError();
      *tensor = std::move(*read);
    }
    if (options.check)
      return checkMemory(static_cast<int64_t>(call.query.data.size()),
                         options.check);
    return llvm::Error::success();
  }

  if (options.shape.size() != 4)
    return makeError(ErrorCode::InvalidArgument,
                     llvm::formatv("--shape must be B,N,H,D (4 sizes), got {0}",
                                   options.shape.size()));
  for (int64_t size : options.shape)
    if (size < 0)
      return makeError(
          ErrorCode::InvalidArgument,
          llvm::formatv("--shape sizes must not be negative, got {0}", size));
  const std::vector<int64_t> &dims = options.shape;
  int64_t count = 1;
  for (int64_t size : dims)
    if (size > 0 && count > (int64_t(1) << 34) / size)
      return makeError(ErrorCode::InvalidArgument,
                       "--shape is too large for random inputs");
    else
      count *= size;
  if (llvm::Error error = checkMemory(count, options.check))
    return error;
  uint64_t seed = options.seed;
  uint64_t seeds[3] = {seed * 3 + 1, seed * 3 + 2, seed * 3 + 3};
  for (auto [tensor, s] : llvm::zip_equal(
           std::array<Tensor *, 3>{&call.query, &call.key, &call.value},
           seeds)) {
    reference::Tensor random = reference::randomTensor(dims, s);
    tensor->shape = dims;
    tensor->data.assign(random.data.begin(), random.data.end());
  }
  return llvm::Error::success();
}

llvm::Expected<Call> dilattn::run::readCall(const CallOptions &options) {
  const std::string &target = options.common.target, &dtype = options.dtype;
  if (target != "cpu" && target != "cuda")
    return makeError(ErrorCode::InvalidArgument,
                     "--target must be cpu or cuda, got '" + target + "'");
  if (dtype != "f32" && dtype != "f16" && dtype != "bf16")
    return makeError(ErrorCode::InvalidArgument,
                     "--dtype must be f32, f16 or bf16, got '" + dtype + "'");
  if (target == "cpu" && dtype != "f32")
    return makeError(ErrorCode::Unsupported,
                     "--dtype=" + dtype +
                         " is not supported by target cpu (supported: f32)");
  auto config = parseConfig(options);
  if (!config)
    return config.takeError();

  Call call;
  call.config = std::move(*config);
  if (llvm::Error error = readInputs(options, call))
    return std::move(error);
  if (!options.keyPaddingFile.empty()) {
    auto read = readMask(options.keyPaddingFile, /*allowFloat=*/false);
    if (!read)
      return read.takeError();
    call.keyPadding = std::move(*read);
  }
  if (!options.attnMaskFile.empty()) {
    auto read = readMask(options.attnMaskFile, /*allowFloat=*/true);
    if (!read)
      return read.takeError();
    call.attn = std::move(*read);
  }
  return call;
}
