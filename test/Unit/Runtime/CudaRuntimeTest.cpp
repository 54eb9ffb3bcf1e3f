//===- CudaRuntimeTest.cpp - the CUDA driver layer of the runtime ---------===//
//
// Runs everywhere: on a machine without a driver or GPU the availability
// tests check the refusal, and the device tests skip; with a GPU it is the
// other way round.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Runtime/CudaRuntime.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace dilattn::runtime::cuda;

namespace {

/// The message of `err`, consumed; empty for success.
std::string message(llvm::Error err) {
  if (!err)
    return "";
  return llvm::toString(std::move(err));
}

/// The availability error, or empty where CUDA is usable.
std::string unavailableReason() { return message(checkAvailable()); }

#define SKIP_IF_CUDA_AVAILABLE()                                               \
  do {                                                                         \
    if (unavailableReason().empty())                                           \
      GTEST_SKIP() << "CUDA is available on this machine";                     \
  } while (false)

//===----------------------------------------------------------------------===//
// Without a driver or device
//===----------------------------------------------------------------------===//

TEST(CudaUnavailable, CheckAvailableSaysWhyInOneLine) {
  SKIP_IF_CUDA_AVAILABLE();
  std::string reason = unavailableReason();
  EXPECT_EQ(reason.rfind("target cuda is not available: ", 0), 0u) << reason;
  EXPECT_EQ(reason.find('\n'), std::string::npos) << reason;
}

TEST(CudaUnavailable, ContextGetGivesTheSameMessage) {
  SKIP_IF_CUDA_AVAILABLE();
  llvm::Expected<Context &> context = Context::get();
  ASSERT_FALSE(static_cast<bool>(context));
  EXPECT_EQ(message(context.takeError()), unavailableReason());
  llvm::Expected<Context &> other = Context::get(3);
  ASSERT_FALSE(static_cast<bool>(other));
  EXPECT_EQ(message(other.takeError()), unavailableReason());
}

/// The path every caller takes to device memory: a context, then a buffer.
llvm::Expected<DeviceBuffer> allocateOnDevice0(size_t bytes) {
  llvm::Expected<Context &> context = Context::get(0);
  if (!context)
    return context.takeError();
  return DeviceBuffer::allocate(*context, bytes);
}

TEST(CudaUnavailable, AllocateFailsCleanly) {
  SKIP_IF_CUDA_AVAILABLE();
  uint64_t inUse = DeviceBuffer::bytesInUse();
  llvm::Expected<DeviceBuffer> buffer = allocateOnDevice0(1024);
  ASSERT_FALSE(static_cast<bool>(buffer));
  EXPECT_EQ(message(buffer.takeError()), unavailableReason());
  EXPECT_EQ(DeviceBuffer::bytesInUse(), inUse);
}

TEST(CudaUnavailable, WrappedStreamFailsCleanly) {
  SKIP_IF_CUDA_AVAILABLE();
  Stream stream = Stream::wrap(nullptr);
  EXPECT_EQ(message(stream.synchronize()), unavailableReason());
}

TEST(CudaUnavailable, RepeatedCallsGiveTheSameError) {
  SKIP_IF_CUDA_AVAILABLE();
  std::string first = unavailableReason();
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(unavailableReason(), first);
    llvm::Expected<Context &> context = Context::get();
    ASSERT_FALSE(static_cast<bool>(context));
    ASSERT_EQ(message(context.takeError()), first);
  }
}

//===----------------------------------------------------------------------===//
// Anywhere
//===----------------------------------------------------------------------===//

TEST(CudaRuntime, ConcurrentFirstUseGivesOneAnswer) {
  // Run in a fresh process (lit runs each test alone), the threads race to
  // load the driver.
  constexpr int numThreads = 8;
  std::vector<std::string> availability(numThreads), contexts(numThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < numThreads; ++i)
    threads.emplace_back([&, i] {
      availability[i] = unavailableReason();
      llvm::Expected<Context &> context = Context::get();
      contexts[i] = context
                        ? std::to_string(reinterpret_cast<uintptr_t>(&*context))
                        : message(context.takeError());
    });
  for (std::thread &thread : threads)
    thread.join();
  for (int i = 1; i < numThreads; ++i) {
    EXPECT_EQ(availability[i], availability[0]);
    EXPECT_EQ(contexts[i], contexts[0]);
  }
}

TEST(CudaRuntime, DriverVersionString) {
  EXPECT_EQ(driverVersionString(13000), "13.0");
  EXPECT_EQ(driverVersionString(12080), "12.8");
  EXPECT_EQ(driverVersionString(11040), "11.4");
}

TEST(CudaRuntime, EmptyBufferRefusesCopiesWithoutTheDriver) {
  DeviceBuffer buffer;
  EXPECT_EQ(buffer.address(), 0u);
  EXPECT_EQ(buffer.size(), 0u);
  char bytes[16] = {};
  EXPECT_EQ(message(buffer.copyFromHost(bytes, sizeof(bytes))),
            "cannot copy 16 bytes into a device buffer of 0 bytes");
  EXPECT_EQ(message(buffer.copyToHost(bytes, sizeof(bytes))),
            "cannot copy 16 bytes from a device buffer of 0 bytes");
  EXPECT_EQ(message(buffer.copyFromHost(bytes, 0)), "");
  EXPECT_EQ(message(buffer.fill(0)), "");
  DeviceBuffer moved = std::move(buffer);
  EXPECT_EQ(moved.address(), 0u);
}

TEST(CudaRuntime, KernelParamsKeepValuesInPlace) {
  KernelParams params;
  params.addPointer(0x1234567890abcdefull);
  params.addI32(-7);
  std::vector<void *> early;
  for (void *pointer : params.pointers())
    early.push_back(pointer);
  params.addF32(1.5f);
  params.addI64(-(int64_t(1) << 40));
  for (int i = 0; i < 100; ++i)
    params.addI32(i);
  llvm::SmallVector<void *> pointers = params.pointers();
  ASSERT_EQ(pointers.size(), 104u);
  // Adding arguments moved none of the earlier ones.
  EXPECT_EQ(pointers[0], early[0]);
  EXPECT_EQ(pointers[1], early[1]);

  uint64_t pointer;
  int32_t i32;
  float f32;
  int64_t i64;
  std::memcpy(&pointer, pointers[0], sizeof(pointer));
  std::memcpy(&i32, pointers[1], sizeof(i32));
  std::memcpy(&f32, pointers[2], sizeof(f32));
  std::memcpy(&i64, pointers[3], sizeof(i64));
  EXPECT_EQ(pointer, 0x1234567890abcdefull);
  EXPECT_EQ(i32, -7);
  EXPECT_EQ(f32, 1.5f);
  EXPECT_EQ(i64, -(int64_t(1) << 40));
  std::memcpy(&i32, pointers[103], sizeof(i32));
  EXPECT_EQ(i32, 99);
}

TEST(CudaRuntime, KernelParamsExpandMemRefs) {
  KernelParams params;
  params.addMemRef(0x1000, 0x1040, 3, {2, 4}, {4, 1});
  llvm::SmallVector<void *> pointers = params.pointers();
  ASSERT_EQ(pointers.size(), 7u);
  int64_t expected[] = {0x1000, 0x1040, 3, 2, 4, 4, 1};
  for (size_t i = 0; i < pointers.size(); ++i) {
    int64_t value;
    std::memcpy(&value, pointers[i], sizeof(value));
    EXPECT_EQ(value, expected[i]) << "argument " << i;
  }
}

//===----------------------------------------------------------------------===//
// On a device
//===----------------------------------------------------------------------===//

class CudaDevice : public ::testing::Test {
protected:
  void SetUp() override {
    if (std::string reason = unavailableReason(); !reason.empty())
      GTEST_SKIP() << "no CUDA device: " << reason;
    llvm::Expected<Context &> got = Context::get();
    ASSERT_TRUE(static_cast<bool>(got)) << message(got.takeError());
    context = &*got;
  }

  Context *context = nullptr;
};

#define ASSERT_NO_ERROR(expr)                                                  \
  do {                                                                         \
    std::string text = message(expr);                                          \
    ASSERT_TRUE(text.empty()) << text;                                         \
  } while (false)

/// The value of an Expected, or a failed assertion.
#define ASSERT_EXPECTED(var, expr)                                             \
  auto var##OrErr = (expr);                                                    \
  ASSERT_TRUE(static_cast<bool>(var##OrErr))                                   \
      << message(var##OrErr.takeError());                                      \
  auto &var = *var##OrErr

TEST_F(CudaDevice, DeviceInfoIsSane) {
  const DeviceInfo &info = context->info();
  EXPECT_EQ(info.ordinal, 0);
  EXPECT_FALSE(info.name.empty());
  EXPECT_GE(info.computeCapabilityMajor, 7);
  EXPECT_GE(info.computeCapabilityMinor, 0);
  EXPECT_GT(info.multiprocessorCount, 0);
  EXPECT_GT(info.totalMemoryBytes, uint64_t(1) << 30);
  EXPECT_GE(info.driverVersion, 11000);
  EXPECT_GE(info.maxSharedMemoryPerBlockOptin, 48 * 1024);
  EXPECT_GT(info.l2CacheBytes, 0);
  EXPECT_NE(driverVersionString(info.driverVersion).find('.'),
            std::string::npos);

  ASSERT_EXPECTED(freeBytes, context->freeMemoryBytes());
  EXPECT_GT(freeBytes, 0u);
  EXPECT_LE(freeBytes, info.totalMemoryBytes);

  // One context per ordinal and process.
  ASSERT_EXPECTED(again, Context::get(0));
  EXPECT_EQ(&again, context);
  llvm::Expected<Context &> missing = Context::get(1000);
  ASSERT_FALSE(static_cast<bool>(missing));
  EXPECT_NE(message(missing.takeError()).find("out of range"),
            std::string::npos);
  ASSERT_NO_ERROR(context->activate());
  ASSERT_NO_ERROR(context->synchronize());
}

TEST_F(CudaDevice, ZeroByteAllocationIsEmpty) {
  uint64_t inUse = DeviceBuffer::bytesInUse();
  ASSERT_EXPECTED(buffer, DeviceBuffer::allocate(*context, 0));
  EXPECT_EQ(buffer.address(), 0u);
  EXPECT_EQ(buffer.size(), 0u);
  EXPECT_EQ(DeviceBuffer::bytesInUse(), inUse);
}

TEST_F(CudaDevice, CopyRoundTrip) {
  constexpr size_t size = (1 << 20) + 13;
  std::mt19937 random(42);
  std::vector<uint8_t> input(size), output(size, 0);
  for (uint8_t &byte : input)
    byte = static_cast<uint8_t>(random());
  ASSERT_EXPECTED(buffer, DeviceBuffer::allocate(*context, size));
  EXPECT_NE(buffer.address(), 0u);
  EXPECT_EQ(buffer.size(), size);

  ASSERT_NO_ERROR(buffer.copyFromHost(input.data(), size));
  ASSERT_NO_ERROR(buffer.copyToHost(output.data(), size));
  EXPECT_EQ(input, output);

  // The same through a stream.
  ASSERT_EXPECTED(stream, Stream::create(*context));
  std::reverse(input.begin(), input.end());
  std::fill(output.begin(), output.end(), 0);
  ASSERT_NO_ERROR(buffer.copyFromHost(input.data(), size, &stream));
  ASSERT_NO_ERROR(buffer.copyToHost(output.data(), size, &stream));
  ASSERT_NO_ERROR(stream.synchronize());
  EXPECT_EQ(input, output);

  // Too many bytes are refused before the driver sees them.
  std::vector<uint8_t> larger(size + 1);
  EXPECT_EQ(message(buffer.copyFromHost(larger.data(), larger.size())),
            "cannot copy 1048590 bytes into a device buffer of 1048589 bytes");
  EXPECT_EQ(message(buffer.copyToHost(larger.data(), larger.size())),
            "cannot copy 1048590 bytes from a device buffer of 1048589 bytes");
}

TEST_F(CudaDevice, Fill) {
  constexpr size_t size = 4099;
  ASSERT_EXPECTED(buffer, DeviceBuffer::allocate(*context, size));
  std::vector<uint8_t> output(size, 0);
  ASSERT_NO_ERROR(buffer.fill(0xab));
  ASSERT_NO_ERROR(buffer.copyToHost(output.data(), size));
  EXPECT_EQ(output, std::vector<uint8_t>(size, 0xab));

  ASSERT_EXPECTED(stream, Stream::create(*context));
  ASSERT_NO_ERROR(buffer.fill(0x5c, &stream));
  ASSERT_NO_ERROR(buffer.copyToHost(output.data(), size, &stream));
  ASSERT_NO_ERROR(stream.synchronize());
  EXPECT_EQ(output, std::vector<uint8_t>(size, 0x5c));
}

TEST_F(CudaDevice, StreamAndEventTiming) {
  ASSERT_EXPECTED(stream, Stream::create(*context));
  EXPECT_NE(stream.handle(), nullptr);
  ASSERT_EXPECTED(start, Event::create(*context));
  ASSERT_EXPECTED(end, Event::create(*context));
  ASSERT_EXPECTED(buffer, DeviceBuffer::allocate(*context, 64 << 20));
  ASSERT_NO_ERROR(start.record(stream));
  ASSERT_NO_ERROR(buffer.fill(1, &stream));
  ASSERT_NO_ERROR(end.record(stream));
  ASSERT_NO_ERROR(end.synchronize());
  ASSERT_EXPECTED(elapsed, Event::elapsedMs(start, end));
  EXPECT_GE(elapsed, 0.0f);

  // A wrapped stream is usable and is not destroyed with its wrapper.
  {
    Stream wrapped = Stream::wrap(stream.handle(), context);
    ASSERT_NO_ERROR(wrapped.synchronize());
  }
  ASSERT_NO_ERROR(stream.synchronize());
  // Moves keep exactly one owner.
  Stream moved = std::move(stream);
  EXPECT_EQ(stream.handle(), nullptr);
  ASSERT_NO_ERROR(moved.synchronize());
}

TEST_F(CudaDevice, AccountsForBytesInUse) {
  uint64_t before = DeviceBuffer::bytesInUse();
  DeviceBuffer::resetPeak();
  EXPECT_EQ(DeviceBuffer::peakBytesInUse(), before);
  {
    ASSERT_EXPECTED(a, DeviceBuffer::allocate(*context, 1 << 20));
    EXPECT_NE(a.address(), 0u);
    EXPECT_EQ(DeviceBuffer::bytesInUse(), before + (1 << 20));
    {
      ASSERT_EXPECTED(b, DeviceBuffer::allocate(*context, 3 << 20));
      EXPECT_EQ(DeviceBuffer::bytesInUse(), before + (4 << 20));
      // Moving a buffer moves its bytes, it does not count them twice.
      DeviceBuffer c = std::move(b);
      EXPECT_EQ(DeviceBuffer::bytesInUse(), before + (4 << 20));
    }
    EXPECT_EQ(DeviceBuffer::bytesInUse(), before + (1 << 20));
    EXPECT_EQ(DeviceBuffer::peakBytesInUse(), before + (4 << 20));
    DeviceBuffer::resetPeak();
    EXPECT_EQ(DeviceBuffer::peakBytesInUse(), before + (1 << 20));
  }
  EXPECT_EQ(DeviceBuffer::bytesInUse(), before);
}

TEST_F(CudaDevice, OutOfMemoryIsAnError) {
  uint64_t inUse = DeviceBuffer::bytesInUse();
  size_t bytes = context->info().totalMemoryBytes + (uint64_t(1) << 30);
  llvm::Expected<DeviceBuffer> buffer = DeviceBuffer::allocate(*context, bytes);
  ASSERT_FALSE(static_cast<bool>(buffer));
  std::string text = message(buffer.takeError());
  EXPECT_EQ(text.rfind("out of device memory: could not allocate " +
                           std::to_string(bytes) + " bytes (free ",
                       0),
            0u)
      << text;
  EXPECT_EQ(DeviceBuffer::bytesInUse(), inUse);
}

// A hand-written kernel: p[i] += 1 for i < n.
constexpr const char *addOnePtx = R"(
.version 8.0
.target sm_90
.address_size 64

.visible .entry add_one(
  .param .u64 add_one_param_0,
  .param .u32 add_one_param_1
)
{
  .reg .pred %p<2>;
  .reg .b32 %r<6>;
  .reg .f32 %f<3>;
  .reg .b64 %rd<5>;

  ld.param.u64 %rd1, [add_one_param_0];
  ld.param.u32 %r2, [add_one_param_1];
  mov.u32 %r3, %ctaid.x;
  mov.u32 %r4, %ntid.x;
  mov.u32 %r5, %tid.x;
  mad.lo.s32 %r1, %r3, %r4, %r5;
  setp.ge.s32 %p1, %r1, %r2;
  @%p1 bra DONE;
  cvta.to.global.u64 %rd2, %rd1;
  mul.wide.s32 %rd3, %r1, 4;
  add.s64 %rd4, %rd2, %rd3;
  ld.global.f32 %f1, [%rd4];
  add.f32 %f2, %f1, 0f3F800000;
  st.global.f32 [%rd4], %f2;
DONE:
  ret;
}
)";

llvm::ArrayRef<uint8_t> bytesOf(llvm::StringRef text) {
  return llvm::ArrayRef<uint8_t>(text.bytes_begin(), text.size());
}

TEST_F(CudaDevice, LoadsAndLaunchesPtx) {
  if (context->info().computeCapabilityMajor < 9)
    GTEST_SKIP() << "the test kernel is PTX for sm_90";
  // Without its NUL: load() must add one.
  ASSERT_EXPECTED(module, Module::load(*context, bytesOf(addOnePtx)));
  ASSERT_EXPECTED(function, module.getFunction("add_one"));
  EXPECT_EQ(function.name(), "add_one");

  ASSERT_EXPECTED(attributes, function.attributes());
  EXPECT_GT(attributes.numRegisters, 0);
  EXPECT_EQ(attributes.localBytes, 0);
  EXPECT_EQ(attributes.staticSharedBytes, 0);
  EXPECT_GE(attributes.maxThreadsPerBlock, 128);
  EXPECT_GE(attributes.binaryVersion, 90);
  ASSERT_EXPECTED(blocks, function.maxActiveBlocksPerMultiprocessor(128, 0));
  EXPECT_GT(blocks, 0);
  ASSERT_NO_ERROR(function.setMaxDynamicSharedMemory(
      context->info().maxSharedMemoryPerBlockOptin));
  std::string tooMuch = message(function.setMaxDynamicSharedMemory(
      context->info().maxSharedMemoryPerBlockOptin + 1));
  EXPECT_NE(tooMuch.find("cuFuncSetAttribute"), std::string::npos) << tooMuch;

  constexpr int n = 1000;
  std::vector<float> input(n), output(n);
  for (int i = 0; i < n; ++i)
    input[i] = static_cast<float>(i) * 0.5f;
  ASSERT_EXPECTED(buffer, DeviceBuffer::allocate(*context, n * sizeof(float)));
  ASSERT_NO_ERROR(buffer.copyFromHost(input.data(), buffer.size()));
  ASSERT_EXPECTED(stream, Stream::create(*context));
  KernelParams params;
  params.addPointer(buffer.address());
  params.addI32(n);
  // Launched from a thread that never made the context current.
  std::string launched;
  std::thread([&] {
    launched = message(function.launch({(n + 127) / 128}, {128}, 0, stream,
                                       params.pointers()));
  }).join();
  ASSERT_TRUE(launched.empty()) << launched;
  ASSERT_NO_ERROR(stream.synchronize());
  ASSERT_NO_ERROR(buffer.copyToHost(output.data(), buffer.size()));
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(output[i], input[i] + 1.0f) << "at " << i;

  // A block the device cannot run is refused by the launch itself.
  std::string bad =
      message(function.launch({1}, {4096}, 0, stream, params.pointers()));
  EXPECT_NE(bad.find("cuLaunchKernel('add_one'"), std::string::npos) << bad;
  EXPECT_NE(bad.find("CUDA_ERROR_INVALID_VALUE"), std::string::npos) << bad;
  ASSERT_NO_ERROR(stream.synchronize());

  llvm::Expected<Function> missing = module.getFunction("no_such_kernel");
  ASSERT_FALSE(static_cast<bool>(missing));
  std::string text = message(missing.takeError());
  EXPECT_NE(text.find("cuModuleGetFunction('no_such_kernel') failed: "
                      "CUDA_ERROR_NOT_FOUND"),
            std::string::npos)
      << text;
}

TEST_F(CudaDevice, LoadingGarbageFails) {
  std::vector<uint8_t> garbage = {0x13, 0x37, 0xde, 0xad, 0xbe, 0xef, 0x42};
  llvm::Expected<Module> module = Module::load(*context, garbage);
  ASSERT_FALSE(static_cast<bool>(module));
  std::string text = message(module.takeError());
  EXPECT_EQ(text.rfind("cuModuleLoadDataEx failed: CUDA_ERROR_", 0), 0u)
      << text;
  EXPECT_NE(text.find(" ("), std::string::npos) << text;

  // Broken PTX carries the JIT's own diagnostic.
  llvm::Expected<Module> broken = Module::load(
      *context, bytesOf(".version 8.0\n.target sm_90\n.address_size 64\n"
                        ".visible .entry k() { bogus.instruction; }\n"));
  ASSERT_FALSE(static_cast<bool>(broken));
  text = message(broken.takeError());
  EXPECT_NE(text.find("CUDA_ERROR_INVALID_PTX"), std::string::npos) << text;
  EXPECT_NE(text.find("ptxas"), std::string::npos) << text;
  EXPECT_EQ(text.find('\n'), std::string::npos) << text;

  EXPECT_EQ(message(Module::load(*context, {}).takeError()),
            "cannot load an empty CUDA module image");
}

} // namespace
