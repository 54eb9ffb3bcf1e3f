//===- CudaRuntime.cpp - running compiled CUDA kernels --------------------===//
//
// The driver API is reached only through function pointers resolved with
// dlsym, so neither the CUDA toolkit nor libcuda is needed to build or link.
// The few driver types and constants used are declared below with the values
// of CUDA 13's cuda.h; they are part of the driver's stable ABI.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Runtime/CudaRuntime.h"
#include "dilattn/Support/Error.h"

#include "llvm/ADT/Twine.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <dlfcn.h>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

using namespace dilattn::runtime::cuda;
using dilattn::ErrorCode;
using dilattn::makeError;

//===----------------------------------------------------------------------===//
// Driver ABI
//===----------------------------------------------------------------------===//

namespace {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = uint64_t;
using CUcontext = void *;
using CUmodule = void *;
using CUfunction = void *;
using CUstream = void *;
using CUevent = void *;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_OUT_OF_MEMORY = 2;

// CUdevice_attribute.
constexpr int CU_DEVICE_ATTRIBUTE_CLOCK_RATE = 13;
constexpr int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
constexpr int CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;

// CUfunction_attribute.
constexpr int CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0;
constexpr int CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES = 1;
constexpr int CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES = 2;
constexpr int CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES = 3;
constexpr int CU_FUNC_ATTRIBUTE_NUM_REGS = 4;
constexpr int CU_FUNC_ATTRIBUTE_PTX_VERSION = 5;
constexpr int CU_FUNC_ATTRIBUTE_BINARY_VERSION = 6;
constexpr int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;

// CUjit_option.
constexpr int CU_JIT_INFO_LOG_BUFFER = 3;
constexpr int CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4;
constexpr int CU_JIT_ERROR_LOG_BUFFER = 5;
constexpr int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;

constexpr unsigned CU_STREAM_NON_BLOCKING = 0x1;
constexpr unsigned CU_EVENT_DEFAULT = 0x0;

// Each entry: member, exported symbol, signature. The symbols are those
// cuda.h's #defines select (e.g. cuMemAlloc is cuMemAlloc_v2); the unsuffixed
// ones are legacy entry points with other signatures.
#define DILATTN_CUDA_DRIVER_FUNCTIONS(X)                                       \
  X(getErrorName, "cuGetErrorName", CUresult(CUresult, const char **))         \
  X(getErrorString, "cuGetErrorString", CUresult(CUresult, const char **))     \
  X(init, "cuInit", CUresult(unsigned))                                        \
  X(driverGetVersion, "cuDriverGetVersion", CUresult(int *))                   \
  X(deviceGetCount, "cuDeviceGetCount", CUresult(int *))                       \
  X(deviceGet, "cuDeviceGet", CUresult(CUdevice *, int))                       \
  X(deviceGetName, "cuDeviceGetName", CUresult(char *, int, CUdevice))         \
  X(deviceGetAttribute, "cuDeviceGetAttribute",                                \
    CUresult(int *, int, CUdevice))                                            \
  X(deviceTotalMem, "cuDeviceTotalMem_v2", CUresult(size_t *, CUdevice))       \
  X(primaryCtxRetain, "cuDevicePrimaryCtxRetain",                              \
    CUresult(CUcontext *, CUdevice))                                           \
  X(primaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", CUresult(CUdevice))     \
  X(ctxGetCurrent, "cuCtxGetCurrent", CUresult(CUcontext *))                   \
  X(ctxSetCurrent, "cuCtxSetCurrent", CUresult(CUcontext))                     \
  X(ctxSynchronize, "cuCtxSynchronize", CUresult())                            \
  X(memGetInfo, "cuMemGetInfo_v2", CUresult(size_t *, size_t *))               \
  X(memAlloc, "cuMemAlloc_v2", CUresult(CUdeviceptr *, size_t))                \
  X(memFree, "cuMemFree_v2", CUresult(CUdeviceptr))                            \
  X(memcpyHtoD, "cuMemcpyHtoD_v2",                                             \
    CUresult(CUdeviceptr, const void *, size_t))                               \
  X(memcpyDtoH, "cuMemcpyDtoH_v2", CUresult(void *, CUdeviceptr, size_t))      \
  X(memcpyHtoDAsync, "cuMemcpyHtoDAsync_v2",                                   \
    CUresult(CUdeviceptr, const void *, size_t, CUstream))                     \
  X(memcpyDtoHAsync, "cuMemcpyDtoHAsync_v2",                                   \
    CUresult(void *, CUdeviceptr, size_t, CUstream))                           \
  X(memsetD8, "cuMemsetD8_v2", CUresult(CUdeviceptr, unsigned char, size_t))   \
  X(memsetD8Async, "cuMemsetD8Async",                                          \
    CUresult(CUdeviceptr, unsigned char, size_t, CUstream))                    \
  X(streamCreate, "cuStreamCreate", CUresult(CUstream *, unsigned))            \
  X(streamDestroy, "cuStreamDestroy_v2", CUresult(CUstream))                   \
  X(streamSynchronize, "cuStreamSynchronize", CUresult(CUstream))              \
  X(eventCreate, "cuEventCreate", CUresult(CUevent *, unsigned))               \
  X(eventDestroy, "cuEventDestroy_v2", CUresult(CUevent))                      \
  X(eventRecord, "cuEventRecord", CUresult(CUevent, CUstream))                 \
  X(eventSynchronize, "cuEventSynchronize", CUresult(CUevent))                 \
  X(moduleLoadDataEx, "cuModuleLoadDataEx",                                    \
    CUresult(CUmodule *, const void *, unsigned, int *, void **))              \
  X(moduleUnload, "cuModuleUnload", CUresult(CUmodule))                        \
  X(moduleGetFunction, "cuModuleGetFunction",                                  \
    CUresult(CUfunction *, CUmodule, const char *))                            \
  X(funcGetAttribute, "cuFuncGetAttribute", CUresult(int *, int, CUfunction))  \
  X(funcSetAttribute, "cuFuncSetAttribute", CUresult(CUfunction, int, int))    \
  X(occupancyMaxActiveBlocksPerMultiprocessor,                                 \
    "cuOccupancyMaxActiveBlocksPerMultiprocessor",                             \
    CUresult(int *, CUfunction, int, size_t))                                  \
  X(launchKernel, "cuLaunchKernel",                                            \
    CUresult(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,     \
             unsigned, unsigned, CUstream, void **, void **))

using ElapsedTimeFn = CUresult(float *, CUevent, CUevent);
// cuTensorMapEncodeTiled(map, dataType, rank, address, dims, strides, box,
// elementStrides, interleave, swizzle, l2Promotion, oobFill).
using TensorMapEncodeTiledFn = CUresult(void *, int, uint32_t, void *,
                                        const uint64_t *, const uint64_t *,
                                        const uint32_t *, const uint32_t *, int,
                                        int, int, int);

struct Driver {
#define DILATTN_DECLARE_MEMBER(member, symbol, ...)                            \
  std::add_pointer_t<__VA_ARGS__> member = nullptr;
  DILATTN_CUDA_DRIVER_FUNCTIONS(DILATTN_DECLARE_MEMBER)
#undef DILATTN_DECLARE_MEMBER
  // cuEventElapsedTime_v2 (CUDA 12.8+) where the driver has it, else the
  // original entry point with the same signature.
  ElapsedTimeFn *eventElapsedTime = nullptr;
  // Optional: drivers before CUDA 12.0 lack it; only tensor-map (TMA)
  // kernels need it.
  TensorMapEncodeTiledFn *tensorMapEncodeTiled = nullptr;

  int deviceCount = 0;
  /// Empty when the driver is usable; else the whole one-line message.
  std::string unavailable;
};

} // namespace

/// "NAME (description)" for a driver status.
static std::string describe(const Driver &d, CUresult status) {
  const char *name = nullptr, *text = nullptr;
  if (d.getErrorName(status, &name) != CUDA_SUCCESS || !name)
    return llvm::formatv("CUDA error {0}", status).str();
  if (d.getErrorString(status, &text) != CUDA_SUCCESS || !text)
    return name;
  return (llvm::Twine(name) + " (" + text + ")").str();
}

static Driver loadDriver() {
  Driver driver;
  auto fail = [&](const llvm::Twine &reason) {
    driver.unavailable = ("target cuda is not available: " + reason).str();
    return std::move(driver);
  };

  // The handle is never closed: the driver keeps threads and state that must
  // outlive every object of this library.
  void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char *reason = dlerror();
    return fail(llvm::Twine("libcuda.so.1 could not be loaded (") +
                (reason ? reason : "unknown reason") +
                "); the CUDA driver is not installed or this machine has no "
                "NVIDIA GPU");
  }
  auto resolve = [&](const char *symbol) { return dlsym(library, symbol); };
#define DILATTN_RESOLVE_MEMBER(member, symbol, ...)                            \
  driver.member =                                                              \
      reinterpret_cast<std::add_pointer_t<__VA_ARGS__>>(resolve(symbol));      \
  if (!driver.member)                                                          \
    return fail(llvm::Twine("libcuda.so.1 has no symbol ") + symbol +          \
                "; the CUDA driver is too old");
  DILATTN_CUDA_DRIVER_FUNCTIONS(DILATTN_RESOLVE_MEMBER)
#undef DILATTN_RESOLVE_MEMBER
  driver.eventElapsedTime =
      reinterpret_cast<ElapsedTimeFn *>(resolve("cuEventElapsedTime_v2"));
  if (!driver.eventElapsedTime)
    driver.eventElapsedTime =
        reinterpret_cast<ElapsedTimeFn *>(resolve("cuEventElapsedTime"));
  if (!driver.eventElapsedTime)
    return fail("libcuda.so.1 has no symbol cuEventElapsedTime; the CUDA "
                "driver is too old");

  driver.tensorMapEncodeTiled = reinterpret_cast<TensorMapEncodeTiledFn *>(
      resolve("cuTensorMapEncodeTiled"));

  if (CUresult status = driver.init(0))
    return fail("cuInit failed: " + describe(driver, status));
  if (CUresult status = driver.deviceGetCount(&driver.deviceCount))
    return fail("cuDeviceGetCount failed: " + describe(driver, status));
  if (driver.deviceCount < 1)
    return fail("the CUDA driver found no device");
  return driver;
}

/// The process-wide driver, loaded on first use. A function-local static is
/// initialised exactly once even when many threads arrive together, and a
/// failure is remembered rather than retried.
static const Driver &driver() {
  static const Driver instance = loadDriver();
  return instance;
}

/// The driver, or the reason it cannot be used. Every entry point asks for it
/// first, so objects that exist without a driver (empty buffers, wrapped
/// streams) fail cleanly instead of calling through a null pointer.
static llvm::Expected<const Driver &> getDriver() {
  const Driver &d = driver();
  if (!d.unavailable.empty())
    return makeError(ErrorCode::TargetUnavailable, d.unavailable);
  return d;
}

/// Turns a driver status into an llvm::Error naming the call.
static llvm::Error check(const Driver &d, llvm::StringRef call,
                         CUresult status) {
  if (status == CUDA_SUCCESS)
    return llvm::Error::success();
  return makeError(status == CUDA_ERROR_OUT_OF_MEMORY ? ErrorCode::OutOfMemory
                                                      : ErrorCode::Runtime,
                   call + " failed: " + describe(d, status));
}

/// Makes `context` current on the calling thread unless it already is.
static llvm::Error makeCurrent(const Driver &d, void *context) {
  if (!context)
    return llvm::Error::success();
  CUcontext current = nullptr;
  if (llvm::Error err = check(d, "cuCtxGetCurrent", d.ctxGetCurrent(&current)))
    return err;
  if (current == context)
    return llvm::Error::success();
  return check(d, "cuCtxSetCurrent", d.ctxSetCurrent(context));
}

static llvm::Error makeCurrent(const Driver &d, Context *context) {
  return makeCurrent(d, context ? context->handle() : nullptr);
}

//===----------------------------------------------------------------------===//
// Availability and contexts
//===----------------------------------------------------------------------===//

llvm::Error dilattn::runtime::cuda::checkAvailable() {
  return getDriver().takeError();
}

std::string dilattn::runtime::cuda::driverVersionString(int driverVersion) {
  return llvm::formatv("{0}.{1}", driverVersion / 1000,
                       (driverVersion % 1000) / 10)
      .str();
}

llvm::Expected<Context &> Context::get(int ordinal) {
  auto d = getDriver();
  if (!d)
    return d.takeError();
  if (ordinal < 0 || ordinal >= d->deviceCount)
    return makeError(
        ErrorCode::TargetUnavailable,
        llvm::formatv(
            "CUDA device ordinal {0} is out of range: this machine has {1} "
            "device(s)",
            ordinal, d->deviceCount));

  // Contexts are created under the lock, so two threads asking for a new
  // ordinal at once retain its primary context once.
  static std::mutex mutex;
  static std::map<int, std::unique_ptr<Context>> contexts;
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<Context> &slot = contexts[ordinal];
  if (slot)
    return *slot;

  CUdevice device = 0;
  if (llvm::Error err =
          check(*d, "cuDeviceGet", d->deviceGet(&device, ordinal)))
    return std::move(err);

  DeviceInfo info;
  info.ordinal = ordinal;
  char name[256] = {};
  if (llvm::Error err = check(*d, "cuDeviceGetName",
                              d->deviceGetName(name, sizeof(name), device)))
    return std::move(err);
  info.name = name;
  struct {
    int attribute;
    int *value;
  } attributes[] = {
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
       &info.computeCapabilityMajor},
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
       &info.computeCapabilityMinor},
      {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &info.multiprocessorCount},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
       &info.maxSharedMemoryPerBlockOptin},
      {CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, &info.l2CacheBytes},
  };
  for (auto &[attribute, value] : attributes)
    if (llvm::Error err = check(
            *d, llvm::formatv("cuDeviceGetAttribute({0})", attribute).str(),
            d->deviceGetAttribute(value, attribute, device)))
      return std::move(err);
  // The clock rate is informative only and deprecated in recent drivers.
  if (d->deviceGetAttribute(&info.clockRateKHz, CU_DEVICE_ATTRIBUTE_CLOCK_RATE,
                            device) != CUDA_SUCCESS)
    info.clockRateKHz = 0;
  size_t totalBytes = 0;
  if (llvm::Error err =
          check(*d, "cuDeviceTotalMem", d->deviceTotalMem(&totalBytes, device)))
    return std::move(err);
  info.totalMemoryBytes = totalBytes;
  if (llvm::Error err = check(*d, "cuDriverGetVersion",
                              d->driverGetVersion(&info.driverVersion)))
    return std::move(err);

  CUcontext context = nullptr;
  if (llvm::Error err = check(*d, "cuDevicePrimaryCtxRetain",
                              d->primaryCtxRetain(&context, device)))
    return std::move(err);
  slot.reset(new Context(std::move(info), device, context));
  return *slot;
}

Context::~Context() {
  // Runs at process exit; the driver may already be shutting down, so a
  // failure here is of no use to anyone.
  if (const Driver &d = driver(); d.unavailable.empty())
    (void)d.primaryCtxRelease(device);
}

llvm::Error Context::activate() {
  auto d = getDriver();
  if (!d)
    return d.takeError();
  return makeCurrent(*d, context);
}

llvm::Error Context::synchronize() {
  auto d = getDriver();
  if (!d)
    return d.takeError();
  if (llvm::Error err = makeCurrent(*d, context))
    return err;
  return check(*d, "cuCtxSynchronize", d->ctxSynchronize());
}

llvm::Expected<uint64_t> Context::freeMemoryBytes() {
  auto d = getDriver();
  if (!d)
    return d.takeError();
  if (llvm::Error err = makeCurrent(*d, context))
    return std::move(err);
  size_t freeBytes = 0, totalBytes = 0;
  if (llvm::Error err =
          check(*d, "cuMemGetInfo", d->memGetInfo(&freeBytes, &totalBytes)))
    return std::move(err);
  return freeBytes;
}

//===----------------------------------------------------------------------===//
// Streams and events
//===----------------------------------------------------------------------===//

llvm::Expected<Stream> Stream::create(Context &context) {
  auto d = getDriver();
  if (!d)
    return d.takeError();
  if (llvm::Error err = makeCurrent(*d, &context))
    return std::move(err);
  CUstream stream = nullptr;
  if (llvm::Error err = check(*d, "cuStreamCreate",
                              d->streamCreate(&stream, CU_STREAM_NON_BLOCKING)))
    return std::move(err);
  return Stream(&context, stream, /*owned=*/true);
}

Stream Stream::wrap(void *handle, Context *context) {
  return Stream(context, handle, /*owned=*/false);
}

Stream::Stream(Stream &&other)
    : owner(other.owner), stream(std::exchange(other.stream, nullptr)),
      owned(std::exchange(other.owned, false)) {}

Stream &Stream::operator=(Stream &&other) {
  if (this != &other) {
    release();
    owner = other.owner;
    stream = std::exchange(other.stream, nullptr);
    owned = std::exchange(other.owned, false);
  }
  return *this;
}

Stream::~Stream() { release(); }

void Stream::release() {
  if (!owned || !stream) {
    stream = nullptr;
    owned = false;
    return;
  }
  const Driver &d = driver();
  // Destruction cannot report errors; a failure leaks the stream at worst.
  if (llvm::Error err = makeCurrent(d, owner))
    llvm::consumeError(std::move(err));
  (void)d.streamDestroy(stream);
  stream = nullptr;
  owned = false;
}

llvm::Error Stream::synchronize() {
  auto d = getDriver();
  if (!d)
    return d.takeError();
  if (llvm::Error err = makeCurrent(*d, owner))
    return err;
  return check(*d, "cuStreamSynchronize", d->streamSynchronize(stream));
}

llvm::Expected<Event> Event::create(Context &context) {
  auto d = getDriver();
  if (!d)
    return d.takeError();
  if (llvm::Error err = makeCurrent(*d, &context))
    return std::move(err);
  CUevent event = nullptr;
  if (llvm::Error err =
          check(*d, "cuEventCreate", d->eventCreate(&event, CU_EVENT_DEFAULT)))
    return std::move(err);
  return Event(&context, event);
}

Event::Event(Event &&other)
    : owner(other.owner), event(std::exchange(other.event, nullptr)) {}

Event &Event::operator=(Event &&other) {
  if (this != &other) {
    release();
    owner = other.owner;
    event = std::exchange(other.event, nullptr);
  }
  return *this;
}

Event::~Event() { release(); }

void Event::release() {
  if (!event)
    return;
  const Driver &d = driver();
  if (llvm::Error err = makeCurrent(d, owner))
    llvm::consumeError(std::move(err));
  (void)d.eventDestroy(event);
  event = nullptr;
}

llvm::Error Event::record(Stream &stream) {
  auto d = getDriver();
  if (!d)
    return d.takeError();
  if (!event)
    return makeError(ErrorCode::Internal,
                     "cannot record an event that was moved from");
  if (llvm::Error err = makeCurrent(*d, owner))
    return err;
  return check(*d, "cuEventRecord", d->eventRecord(event, stream.handle()));
}

llvm::Error Event::synchronize() {
  auto d = getDriver();
  if (!d)
    return d.takeError();
  if (!event)
    return makeError(ErrorCode::Internal,
                     "cannot synchronize an event that was moved from");
  if (llvm::Error err = makeCurrent(*d, owner))
    return err;
  return check(*d, "cuEventSynchronize", d->eventSynchronize(event));
}

llvm::Expected<float> Event::elapsedMs(const Event &start, const Event &end) {
  auto d = getDriver();
  if (!d)
    return d.takeError();
  if (!start.event || !end.event)
    return makeError(ErrorCode::Internal,
                     "cannot time an event that was moved from");
  if (llvm::Error err = makeCurrent(*d, start.owner))
    return std::move(err);
  float milliseconds = 0;
  if (llvm::Error err =
          check(*d, "cuEventElapsedTime",
                d->eventElapsedTime(&milliseconds, start.event, end.event)))
    return std::move(err);
  return milliseconds;
}

//===----------------------------------------------------------------------===//
// Device memory
//===----------------------------------------------------------------------===//

static std::atomic<uint64_t> numBytesInUse{0};
static std::atomic<uint64_t> numPeakBytesInUse{0};

static void raisePeak(uint64_t candidate) {
  uint64_t peak = numPeakBytesInUse.load(std::memory_order_relaxed);
  while (candidate > peak && !numPeakBytesInUse.compare_exchange_weak(
                                 peak, candidate, std::memory_order_relaxed))
    ;
}

uint64_t DeviceBuffer::bytesInUse() {
  return numBytesInUse.load(std::memory_order_relaxed);
}

uint64_t DeviceBuffer::peakBytesInUse() {
  return numPeakBytesInUse.load(std::memory_order_relaxed);
}

void DeviceBuffer::resetPeak() {
  numPeakBytesInUse.store(numBytesInUse.load(std::memory_order_relaxed),
                          std::memory_order_relaxed);
}

llvm::Expected<DeviceBuffer> DeviceBuffer::allocate(Context &context,
                                                    size_t bytes) {
  if (bytes == 0)
    return DeviceBuffer(&context, 0, 0);
  auto d = getDriver();
  if (!d)
    return d.takeError();
  if (llvm::Error err = makeCurrent(*d, &context))
    return std::move(err);
  CUdeviceptr address = 0;
  CUresult status = d->memAlloc(&address, bytes);
  if (status == CUDA_ERROR_OUT_OF_MEMORY) {
    size_t freeBytes = 0, totalBytes = 0;
    if (d->memGetInfo(&freeBytes, &totalBytes) == CUDA_SUCCESS)
      return makeError(ErrorCode::OutOfMemory,
                       llvm::formatv("out of device memory: could not "
                                     "allocate {0} bytes (free {1} of {2})",
                                     bytes, freeBytes, totalBytes));
  }
  if (llvm::Error err = check(*d, "cuMemAlloc", status))
    return std::move(err);
  raisePeak(numBytesInUse.fetch_add(bytes, std::memory_order_relaxed) + bytes);
  return DeviceBuffer(&context, address, bytes);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer &&other)
    : owner(other.owner), devicePtr(std::exchange(other.devicePtr, 0)),
      numBytes(std::exchange(other.numBytes, 0)) {}

DeviceBuffer &DeviceBuffer::operator=(DeviceBuffer &&other) {
  if (this != &other) {
    release();
    owner = other.owner;
    devicePtr = std::exchange(other.devicePtr, 0);
    numBytes = std::exchange(other.numBytes, 0);
  }
  return *this;
}

DeviceBuffer::~DeviceBuffer() { release(); }

void DeviceBuffer::release() {
  if (!devicePtr)
    return;
  const Driver &d = driver();
  if (llvm::Error err = makeCurrent(d, owner))
    llvm::consumeError(std::move(err));
  // A failed free (say, after a sticky kernel fault) still ends this
  // buffer's use of the memory as far as the accounting is concerned.
  (void)d.memFree(devicePtr);
  numBytesInUse.fetch_sub(numBytes, std::memory_order_relaxed);
  devicePtr = 0;
  numBytes = 0;
}

static llvm::Error checkCopySize(size_t bytes, size_t bufferBytes,
                                 llvm::StringRef direction) {
  if (bytes <= bufferBytes)
    return llvm::Error::success();
  return makeError(ErrorCode::InvalidArgument,
                   llvm::formatv("cannot copy {0} bytes {1} a device buffer "
                                 "of {2} bytes",
                                 bytes, direction, bufferBytes));
}

llvm::Error DeviceBuffer::copyFromHost(const void *src, size_t bytes,
                                       Stream *stream) {
  if (llvm::Error err = checkCopySize(bytes, numBytes, "into"))
    return err;
  if (bytes == 0)
    return llvm::Error::success();
  auto d = getDriver();
  if (!d)
    return d.takeError();
  if (llvm::Error err = makeCurrent(*d, owner))
    return err;
  if (stream)
    return check(*d, "cuMemcpyHtoDAsync",
                 d->memcpyHtoDAsync(devicePtr, src, bytes, stream->handle()));
  return check(*d, "cuMemcpyHtoD", d->memcpyHtoD(devicePtr, src, bytes));
}

llvm::Error DeviceBuffer::copyToHost(void *dst, size_t bytes, Stream *stream) {
  if (llvm::Error err = checkCopySize(bytes, numBytes, "from"))
    return err;
  if (bytes == 0)
    return llvm::Error::success();
  auto d = getDriver();
  if (!d)
    return d.takeError();
  if (llvm::Error err = makeCurrent(*d, owner))
    return err;
  if (stream)
    return check(*d, "cuMemcpyDtoHAsync",
                 d->memcpyDtoHAsync(dst, devicePtr, bytes, stream->handle()));
  return check(*d, "cuMemcpyDtoH", d->memcpyDtoH(dst, devicePtr, bytes));
}

llvm::Error DeviceBuffer::fill(uint8_t byte, Stream *stream) {
  if (numBytes == 0)
    return llvm::Error::success();
  auto d = getDriver();
  if (!d)
    return d.takeError();
  if (llvm::Error err = makeCurrent(*d, owner))
    return err;
  if (stream)
    return check(*d, "cuMemsetD8Async",
                 d->memsetD8Async(devicePtr, byte, numBytes, stream->handle()));
  return check(*d, "cuMemsetD8", d->memsetD8(devicePtr, byte, numBytes));
}

//===----------------------------------------------------------------------===//
// Modules and functions
//===----------------------------------------------------------------------===//

/// Joins the lines of a JIT log into one, dropping blank ones.
static std::string oneLine(llvm::StringRef log) {
  llvm::SmallVector<llvm::StringRef> lines;
  log.split(lines, '\n', /*MaxSplit=*/-1, /*KeepEmpty=*/false);
  std::string joined;
  for (llvm::StringRef line : lines) {
    line = line.trim();
    if (line.empty())
      continue;
    if (!joined.empty())
      joined += "; ";
    joined += line;
  }
  return joined;
}

llvm::Expected<Module> Module::load(Context &context,
                                    llvm::ArrayRef<uint8_t> image) {
  if (image.empty())
    return makeError(ErrorCode::Compile,
                     "cannot load an empty CUDA module image");
  auto d = getDriver();
  if (!d)
    return d.takeError();

  // The driver tells cubin and fatbin from PTX by their magic numbers and
  // reads PTX up to a NUL; text without one would be read past its end.
  static constexpr uint8_t elfMagic[] = {0x7f, 'E', 'L', 'F'};
  static constexpr uint8_t fatbinMagic[] = {0x50, 0xed, 0x55, 0xba};
  auto startsWith = [&](llvm::ArrayRef<uint8_t> magic) {
    return image.size() >= magic.size() &&
           std::equal(magic.begin(), magic.end(), image.begin());
  };
  std::vector<uint8_t> terminated;
  const void *data = image.data();
  if (!startsWith(elfMagic) && !startsWith(fatbinMagic) && image.back() != 0) {
    terminated.assign(image.begin(), image.end());
    terminated.push_back(0);
    data = terminated.data();
  }

  if (llvm::Error err = makeCurrent(*d, &context))
    return std::move(err);
  constexpr size_t logSize = 16 * 1024;
  std::vector<char> errorLog(logSize, 0), infoLog(logSize, 0);
  int options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                   CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES};
  // Sizes travel in the pointer-sized value slots themselves.
  void *values[] = {errorLog.data(), reinterpret_cast<void *>(logSize),
                    infoLog.data(), reinterpret_cast<void *>(logSize)};
  CUmodule module = nullptr;
  CUresult status =
      d->moduleLoadDataEx(&module, data, std::size(options), options, values);
  if (status != CUDA_SUCCESS) {
    errorLog.back() = 0;
    std::string log = oneLine(errorLog.data());
    std::string message = "cuModuleLoadDataEx failed: " + describe(*d, status);
    if (!log.empty())
      message += ": " + log;
    return makeError(ErrorCode::Compile, message);
  }
  return Module(&context, module);
}

Module::Module(Module &&other)
    : owner(other.owner), module(std::exchange(other.module, nullptr)) {}

Module &Module::operator=(Module &&other) {
  if (this != &other) {
    release();
    owner = other.owner;
    module = std::exchange(other.module, nullptr);
  }
  return *this;
}

Module::~Module() { release(); }

void Module::release() {
  if (!module)
    return;
  const Driver &d = driver();
  if (llvm::Error err = makeCurrent(d, owner))
    llvm::consumeError(std::move(err));
  (void)d.moduleUnload(module);
  module = nullptr;
}

llvm::Expected<Function> Module::getFunction(llvm::StringRef name) {
  auto d = getDriver();
  if (!d)
    return d.takeError();
  if (!module)
    return makeError(ErrorCode::Internal,
                     "cannot look up a function in a module that was moved "
                     "from");
  if (llvm::Error err = makeCurrent(*d, owner))
    return std::move(err);
  std::string nameString = name.str();
  CUfunction function = nullptr;
  if (llvm::Error err =
          check(*d, "cuModuleGetFunction('" + nameString + "')",
                d->moduleGetFunction(&function, module, nameString.c_str())))
    return std::move(err);
  return Function(owner, function, std::move(nameString));
}

llvm::Error Function::setMaxDynamicSharedMemory(int bytes) {
  auto d = getDriver();
  if (!d)
    return d.takeError();
  if (llvm::Error err = makeCurrent(*d, owner))
    return err;
  return check(
      *d,
      llvm::formatv("cuFuncSetAttribute('{0}', "
                    "MAX_DYNAMIC_SHARED_SIZE_BYTES={1})",
                    functionName, bytes)
          .str(),
      d->funcSetAttribute(
          function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes));
}

llvm::Expected<int>
Function::maxActiveBlocksPerMultiprocessor(int blockThreads,
                                           size_t dynamicSharedBytes) {
  auto d = getDriver();
  if (!d)
    return d.takeError();
  if (llvm::Error err = makeCurrent(*d, owner))
    return std::move(err);
  int numBlocks = 0;
  if (llvm::Error err =
          check(*d, "cuOccupancyMaxActiveBlocksPerMultiprocessor",
                d->occupancyMaxActiveBlocksPerMultiprocessor(
                    &numBlocks, function, blockThreads, dynamicSharedBytes)))
    return std::move(err);
  return numBlocks;
}

llvm::Expected<FunctionAttributes> Function::attributes() {
  auto d = getDriver();
  if (!d)
    return d.takeError();
  if (llvm::Error err = makeCurrent(*d, owner))
    return std::move(err);
  FunctionAttributes result;
  struct {
    int attribute;
    int *value;
  } queries[] = {
      {CU_FUNC_ATTRIBUTE_NUM_REGS, &result.numRegisters},
      {CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, &result.localBytes},
      {CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, &result.staticSharedBytes},
      {CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES, &result.constBytes},
      {CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &result.maxThreadsPerBlock},
      {CU_FUNC_ATTRIBUTE_PTX_VERSION, &result.ptxVersion},
      {CU_FUNC_ATTRIBUTE_BINARY_VERSION, &result.binaryVersion},
  };
  for (auto &[attribute, value] : queries)
    if (llvm::Error err =
            check(*d, llvm::formatv("cuFuncGetAttribute({0})", attribute).str(),
                  d->funcGetAttribute(value, attribute, function)))
      return std::move(err);
  return result;
}

llvm::Error Function::launch(Dim3 grid, Dim3 block, unsigned dynamicSharedBytes,
                             Stream &stream, llvm::ArrayRef<void *> params) {
  auto d = getDriver();
  if (!d)
    return d.takeError();
  if (llvm::Error err = makeCurrent(*d, owner))
    return err;
  // cuLaunchKernel reports configuration errors (too many threads or too much
  // shared memory, a bad stream) itself; faults during the kernel surface at
  // the next synchronising call.
  void **kernelParams =
      params.empty() ? nullptr : const_cast<void **>(params.data());
  return check(*d,
               llvm::formatv("cuLaunchKernel('{0}', grid=({1},{2},{3}), "
                             "block=({4},{5},{6}), shared={7})",
                             functionName, grid.x, grid.y, grid.z, block.x,
                             block.y, block.z, dynamicSharedBytes)
                   .str(),
               d->launchKernel(function, grid.x, grid.y, grid.z, block.x,
                               block.y, block.z, dynamicSharedBytes,
                               stream.handle(), kernelParams, nullptr));
}

//===----------------------------------------------------------------------===//
// Kernel parameters
//===----------------------------------------------------------------------===//

void KernelParams::add(const void *value, size_t bytes) {
  Slot &slot = slots.emplace_back();
  std::memset(slot.bytes, 0, sizeof(slot.bytes));
  std::memcpy(slot.bytes, value, bytes);
}

llvm::Error KernelParams::addBytes(llvm::ArrayRef<uint8_t> bytes) {
  if (bytes.empty() || bytes.size() > kMaxArgumentBytes)
    return makeError(ErrorCode::InvalidArgument,
                     llvm::formatv("a by-value kernel argument must hold 1 to "
                                   "{0} bytes, got {1}",
                                   kMaxArgumentBytes, bytes.size()));
  add(bytes.data(), bytes.size());
  return llvm::Error::success();
}

void KernelParams::addMemRef(uint64_t allocated, uint64_t aligned,
                             int64_t offset, llvm::ArrayRef<int64_t> sizes,
                             llvm::ArrayRef<int64_t> strides) {
  addPointer(allocated);
  addPointer(aligned);
  addI64(offset);
  for (int64_t size : sizes)
    addI64(size);
  for (int64_t stride : strides)
    addI64(stride);
}

llvm::SmallVector<void *> KernelParams::pointers() {
  llvm::SmallVector<void *> result;
  result.reserve(slots.size());
  for (Slot &slot : slots)
    result.push_back(slot.bytes);
  return result;
}

//===----------------------------------------------------------------------===//
// Tensor maps
//===----------------------------------------------------------------------===//

unsigned
dilattn::runtime::cuda::tensorMapElementBytes(TensorMapElement element) {
  switch (element) {
  case TensorMapElement::U8:
    return 1;
  case TensorMapElement::U16:
  case TensorMapElement::F16:
  case TensorMapElement::BF16:
    return 2;
  case TensorMapElement::U32:
  case TensorMapElement::I32:
  case TensorMapElement::F32:
    return 4;
  case TensorMapElement::U64:
  case TensorMapElement::I64:
  case TensorMapElement::F64:
    return 8;
  }
  return 0;
}

llvm::Error dilattn::runtime::cuda::checkTensorMap(const TensorMapSpec &spec,
                                                   uint64_t address) {
  auto invalid = [](const llvm::Twine &what) {
    return makeError(ErrorCode::InvalidArgument, "tensor map: " + what);
  };
  unsigned elementBytes = tensorMapElementBytes(spec.element);
  if (elementBytes == 0)
    return invalid("unknown element type");
  size_t rank = spec.dims.size();
  if (rank < 1 || rank > 5)
    return invalid(llvm::formatv("rank must be 1 to 5, got {0}", rank));
  if (spec.byteStrides.size() != rank - 1)
    return invalid(llvm::formatv("{0} dims need {1} byte strides, got {2}",
                                 rank, rank - 1, spec.byteStrides.size()));
  if (spec.box.size() != rank)
    return invalid(llvm::formatv("{0} dims need {0} box sizes, got {1}", rank,
                                 spec.box.size()));
  if (!spec.elementStrides.empty() && spec.elementStrides.size() != rank)
    return invalid(llvm::formatv("{0} dims need {0} element strides, got {1}",
                                 rank, spec.elementStrides.size()));
  if (address % 16 != 0)
    return invalid(llvm::formatv(
        "the address must be 16-byte aligned, got {0:x}", address));
  for (auto [index, dim] : llvm::enumerate(spec.dims))
    if (dim == 0 || dim > (uint64_t(1) << 32))
      return invalid(
          llvm::formatv("dim #{0} must be 1 to 2^32, got {1}", index, dim));
  for (auto [index, stride] : llvm::enumerate(spec.byteStrides))
    if (stride % 16 != 0 || stride >= (uint64_t(1) << 40))
      return invalid(llvm::formatv("byte stride #{0} must be a multiple of 16 "
                                   "below 2^40, got {1}",
                                   index, stride));
  for (auto [index, size] : llvm::enumerate(spec.box))
    if (size == 0 || size > 256)
      return invalid(llvm::formatv("box size #{0} must be 1 to 256, got {1}",
                                   index, size));
  uint64_t innerBoxBytes = uint64_t(spec.box[0]) * elementBytes;
  if (innerBoxBytes % 16 != 0)
    return invalid(llvm::formatv(
        "the innermost box must span a multiple of 16 bytes, got {0}",
        innerBoxBytes));
  unsigned swizzleBytes = 0;
  switch (spec.swizzle) {
  case TensorMapSwizzle::None:
    break;
  case TensorMapSwizzle::B32:
    swizzleBytes = 32;
    break;
  case TensorMapSwizzle::B64:
    swizzleBytes = 64;
    break;
  case TensorMapSwizzle::B128:
    swizzleBytes = 128;
    break;
  }
  if (swizzleBytes && innerBoxBytes > swizzleBytes)
    return invalid(llvm::formatv("the innermost box spans {0} bytes, more "
                                 "than the {1}-byte swizzle",
                                 innerBoxBytes, swizzleBytes));
  for (auto [index, stride] : llvm::enumerate(spec.elementStrides))
    if (stride == 0 || stride > 8)
      return invalid(llvm::formatv(
          "element stride #{0} must be 1 to 8, got {1}", index, stride));
  if (spec.l2PromotionBytes != 0 && spec.l2PromotionBytes != 64 &&
      spec.l2PromotionBytes != 128 && spec.l2PromotionBytes != 256)
    return invalid(llvm::formatv("L2 promotion must be 0, 64, 128 or 256 "
                                 "bytes, got {0}",
                                 spec.l2PromotionBytes));
  return llvm::Error::success();
}

bool dilattn::runtime::cuda::hasTensorMapEncoder() {
  const Driver &d = driver();
  return d.unavailable.empty() && d.tensorMapEncodeTiled;
}

llvm::Expected<TensorMap>
dilattn::runtime::cuda::encodeTiledTensorMap(const TensorMapSpec &spec,
                                             uint64_t address) {
  if (llvm::Error error = checkTensorMap(spec, address))
    return std::move(error);
  auto d = getDriver();
  if (!d)
    return d.takeError();
  if (!d->tensorMapEncodeTiled)
    return makeError(ErrorCode::TargetUnavailable,
                     "libcuda.so.1 has no symbol cuTensorMapEncodeTiled; "
                     "tensor-map (TMA) kernels need a CUDA 12.0 or newer "
                     "driver");
  llvm::SmallVector<uint32_t, 5> elementStrides(spec.elementStrides);
  if (elementStrides.empty())
    elementStrides.assign(spec.dims.size(), 1);
  int l2 = spec.l2PromotionBytes == 64    ? 1
           : spec.l2PromotionBytes == 128 ? 2
           : spec.l2PromotionBytes == 256 ? 3
                                          : 0;
  TensorMap map;
  if (llvm::Error error = check(
          *d, "cuTensorMapEncodeTiled",
          d->tensorMapEncodeTiled(
              map.bytes, static_cast<int>(spec.element),
              static_cast<uint32_t>(spec.dims.size()),
              reinterpret_cast<void *>(static_cast<uintptr_t>(address)),
              spec.dims.data(), spec.byteStrides.data(), spec.box.data(),
              elementStrides.data(), /*interleave=*/0,
              static_cast<int>(spec.swizzle), l2, spec.oobFillNan ? 1 : 0)))
    return std::move(error);
  return map;
}
