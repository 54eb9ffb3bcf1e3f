//===- CudaRuntime.h - running compiled CUDA kernels ------------*- C++ -*-===//
//
// The CUDA side of the runtime: a thin, checked layer over the NVIDIA driver
// API. `libcuda.so.1` is loaded with dlopen on first use, so programs built
// with this library start, and say clearly why CUDA is unavailable, on
// machines with no driver or no GPU. It links no MLIR and needs no CUDA
// toolkit to build.
//
// Threads: every call that touches the device makes the owning Context
// current on the calling thread first (cuCtxSetCurrent, only when another
// context is current), so objects may be used from any thread without a
// prior Context::activate(). As a consequence, those calls leave that context
// current on the calling thread.
//
// Errors: every failure is an llvm::Error with one line of text; a failed
// driver call names the call, the driver's error name and its description,
// e.g. `cuInit failed: CUDA_ERROR_NO_DEVICE (no CUDA-capable device is
// detected)`. Nothing aborts or exits.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_RUNTIME_CUDARUNTIME_H
#define DILATTN_RUNTIME_CUDARUNTIME_H

#include "dilattn/Runtime/CudaProgram.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

namespace dilattn::runtime::cuda {

/// Loads the driver (once per process), initialises it and checks that there
/// is at least one device. Fails with one line starting with "target cuda is
/// not available: ". The outcome is cached: later calls give the same answer
/// without touching the driver again.
llvm::Error checkAvailable();

/// Formats a driver version as reported by cuDriverGetVersion, e.g. 13000 as
/// "13.0" and 12080 as "12.8".
std::string driverVersionString(int driverVersion);

/// What the runtime and the JIT need to know about a device.
struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int computeCapabilityMajor = 0;
  int computeCapabilityMinor = 0;
  int multiprocessorCount = 0;
  uint64_t totalMemoryBytes = 0;
  /// As reported by cuDriverGetVersion, e.g. 13000 for 13.0.
  int driverVersion = 0;
  /// The most shared memory one block can opt in to (static plus dynamic).
  int maxSharedMemoryPerBlockOptin = 0;
  int l2CacheBytes = 0;
  /// 0 where the driver no longer reports it.
  int clockRateKHz = 0;
};

/// A device's primary context, retained for the life of the process.
class Context {
public:
  /// The process-wide context of device `ordinal`, created on first use.
  static llvm::Expected<Context &> get(int ordinal = 0);

  Context(const Context &) = delete;
  Context &operator=(const Context &) = delete;
  ~Context();

  const DeviceInfo &info() const { return deviceInfo; }
  int ordinal() const { return deviceInfo.ordinal; }
  /// The CUcontext.
  void *handle() const { return context; }

  /// Makes this context current on the calling thread.
  llvm::Error activate();
  /// Waits for all work in this context (cuCtxSynchronize).
  llvm::Error synchronize();
  /// Free device memory as reported by cuMemGetInfo.
  llvm::Expected<uint64_t> freeMemoryBytes();

private:
  Context(DeviceInfo info, int device, void *context)
      : deviceInfo(std::move(info)), device(device), context(context) {}

  DeviceInfo deviceInfo;
  int device;
  void *context;
};

/// A CUDA stream. Either owned (created here, destroyed with this object) or
/// wrapped (a caller's stream, never destroyed here).
class Stream {
public:
  /// A new non-blocking stream (CU_STREAM_NON_BLOCKING).
  static llvm::Expected<Stream> create(Context &context);
  /// Wraps a caller's CUstream without owning it; nullptr is the legacy
  /// default stream. `context`, if given, is made current before each call.
  static Stream wrap(void *handle, Context *context = nullptr);

  Stream(Stream &&other);
  Stream &operator=(Stream &&other);
  Stream(const Stream &) = delete;
  Stream &operator=(const Stream &) = delete;
  ~Stream();

  /// The CUstream.
  void *handle() const { return stream; }
  Context *context() const { return owner; }
  llvm::Error synchronize();

private:
  Stream(Context *owner, void *stream, bool owned)
      : owner(owner), stream(stream), owned(owned) {}
  void release();

  Context *owner = nullptr;
  void *stream = nullptr;
  bool owned = false;
};

/// A CUDA event with timing enabled.
class Event {
public:
  static llvm::Expected<Event> create(Context &context);

  Event(Event &&other);
  Event &operator=(Event &&other);
  Event(const Event &) = delete;
  Event &operator=(const Event &) = delete;
  ~Event();

  void *handle() const { return event; }
  llvm::Error record(Stream &stream);
  llvm::Error synchronize();
  /// Milliseconds between two recorded, completed events.
  static llvm::Expected<float> elapsedMs(const Event &start, const Event &end);

private:
  Event(Context *owner, void *event) : owner(owner), event(event) {}
  void release();

  Context *owner = nullptr;
  void *event = nullptr;
};

/// Device memory, freed in the destructor. The process-wide count of bytes
/// in use (and its peak) covers all devices.
class DeviceBuffer {
public:
  /// An empty buffer: address 0, size 0.
  DeviceBuffer() = default;
  /// Allocates `bytes` bytes (cuMemAlloc). 0 bytes gives an empty buffer
  /// without calling the driver. Out of memory fails with "out of device
  /// memory: could not allocate N bytes (free F of T)".
  static llvm::Expected<DeviceBuffer> allocate(Context &context, size_t bytes);

  DeviceBuffer(DeviceBuffer &&other);
  DeviceBuffer &operator=(DeviceBuffer &&other);
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  ~DeviceBuffer();

  /// The CUdeviceptr.
  uint64_t address() const { return devicePtr; }
  size_t size() const { return numBytes; }
  Context *context() const { return owner; }

  /// Copies the first `bytes` bytes. With a stream the copy is asynchronous
  /// and host memory must stay valid until the stream is synchronised;
  /// without one it is complete on return. More bytes than the buffer holds
  /// are refused.
  llvm::Error copyFromHost(const void *src, size_t bytes,
                           Stream *stream = nullptr);
  llvm::Error copyToHost(void *dst, size_t bytes, Stream *stream = nullptr);
  /// Sets every byte of the buffer to `byte` (cuMemsetD8).
  llvm::Error fill(uint8_t byte, Stream *stream = nullptr);

  static uint64_t bytesInUse();
  static uint64_t peakBytesInUse();
  /// Sets the peak to the bytes in use now.
  static void resetPeak();

private:
  DeviceBuffer(Context *owner, uint64_t devicePtr, size_t numBytes)
      : owner(owner), devicePtr(devicePtr), numBytes(numBytes) {}
  void release();

  Context *owner = nullptr;
  uint64_t devicePtr = 0;
  size_t numBytes = 0;
};

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

/// What the compiler made of a kernel (cuFuncGetAttribute).
struct FunctionAttributes {
  int numRegisters = 0;
  /// Local memory per thread: spills and local arrays.
  int localBytes = 0;
  int staticSharedBytes = 0;
  int constBytes = 0;
  int maxThreadsPerBlock = 0;
  /// e.g. 90 for sm_90.
  int ptxVersion = 0;
  int binaryVersion = 0;
};

/// A kernel of a loaded Module; a non-owning handle valid while the Module
/// lives.
class Function {
public:
  void *handle() const { return function; }
  llvm::StringRef name() const { return functionName; }

  /// Allows `bytes` bytes of dynamic shared memory (needed above 48 KiB).
  llvm::Error setMaxDynamicSharedMemory(int bytes);
  llvm::Expected<int>
  maxActiveBlocksPerMultiprocessor(int blockThreads, size_t dynamicSharedBytes);
  llvm::Expected<FunctionAttributes> attributes();
  /// Launches the kernel on `stream`. `params` holds one pointer per kernel
  /// argument (see KernelParams). Faults inside the kernel are reported by
  /// the next synchronising call.
  llvm::Error launch(Dim3 grid, Dim3 block, unsigned dynamicSharedBytes,
                     Stream &stream, llvm::ArrayRef<void *> params);

private:
  friend class Module;
  Function(Context *owner, void *function, std::string name)
      : owner(owner), function(function), functionName(std::move(name)) {}

  Context *owner;
  void *function;
  std::string functionName;
};

/// A loaded cubin or PTX image, unloaded in the destructor.
class Module {
public:
  /// Loads a cubin, fatbin or PTX image (cuModuleLoadDataEx). PTX should be
  /// NUL-terminated; a copy with a NUL is made where it is not. A failure
  /// carries the driver's JIT error log.
  static llvm::Expected<Module> load(Context &context,
                                     llvm::ArrayRef<uint8_t> image);

  Module(Module &&other);
  Module &operator=(Module &&other);
  Module(const Module &) = delete;
  Module &operator=(const Module &) = delete;
  ~Module();

  void *handle() const { return module; }
  llvm::Expected<Function> getFunction(llvm::StringRef name);

private:
  Module(Context *owner, void *module) : owner(owner), module(module) {}
  void release();

  Context *owner = nullptr;
  void *module = nullptr;
};

/// Kernel arguments in stable storage, in the form cuLaunchKernel takes: one
/// pointer per argument to its value. An MLIR-lowered kernel takes each
/// memref as allocated pointer, aligned pointer, offset, sizes, strides.
/// Every argument gets a 64-byte-aligned slot of 128 bytes, so by-value
/// blobs such as a CUtensorMap (`__grid_constant__`) fit.
class KernelParams {
public:
  static constexpr size_t kMaxArgumentBytes = 128;

  void addPointer(uint64_t address) { add(&address, sizeof(address)); }
  void addI64(int64_t value) { add(&value, sizeof(value)); }
  void addI32(int32_t value) { add(&value, sizeof(value)); }
  void addF32(float value) { add(&value, sizeof(value)); }
  /// Adds an argument passed by value as `bytes` raw bytes (at most
  /// kMaxArgumentBytes, e.g. a 128-byte tensor map).
  llvm::Error addBytes(llvm::ArrayRef<uint8_t> bytes);
  /// Adds a memref descriptor expanded the way MLIR's GPU lowering passes it.
  void addMemRef(uint64_t allocated, uint64_t aligned, int64_t offset,
                 llvm::ArrayRef<int64_t> sizes,
                 llvm::ArrayRef<int64_t> strides);

  size_t size() const { return slots.size(); }
  /// One pointer per argument, valid while this object lives (adding more
  /// arguments does not move earlier ones).
  llvm::SmallVector<void *> pointers();

private:
  struct alignas(64) Slot {
    uint8_t bytes[kMaxArgumentBytes];
  };
  void add(const void *value, size_t bytes);

  // A deque never moves its elements on push_back.
  std::deque<Slot> slots;
};

/// An encoded CUtensorMap: 128 opaque bytes, 64-byte aligned, passed to a
/// kernel by value (KernelParams::addBytes).
struct alignas(64) TensorMap {
  uint8_t bytes[128] = {};
};

/// The bytes of one element of a tensor map.
unsigned tensorMapElementBytes(TensorMapElement element);

/// Checks a tensor map's description against cuTensorMapEncodeTiled's rules
/// (rank 1..5, one byte stride fewer than dims and each a multiple of 16
/// below 2^40, dims 1..2^32, box entries 1..256 with an innermost box of a
/// multiple of 16 bytes that fits the swizzle span, element strides 1..8,
/// a 16-byte-aligned address). Needs no driver.
llvm::Error checkTensorMap(const TensorMapSpec &spec, uint64_t address);

/// Encodes a tiled tensor map of the memory at device address `address`
/// with the driver's cuTensorMapEncodeTiled, an optional symbol (CUDA 12.0+
/// drivers): without it this fails with a clear message and everything else
/// keeps working.
llvm::Expected<TensorMap> encodeTiledTensorMap(const TensorMapSpec &spec,
                                               uint64_t address);

/// Whether the loaded driver has cuTensorMapEncodeTiled (false without a
/// driver).
bool hasTensorMapEncoder();

} // namespace dilattn::runtime::cuda

#endif // DILATTN_RUNTIME_CUDARUNTIME_H
