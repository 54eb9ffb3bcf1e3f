//===- CudaProgramRunnerTest.cpp - program checks, packing, tensor maps ---===//
//
// What the CUDA launcher does before it touches a device: program checks,
// kernel-parameter packing (128-byte by-value blobs included) and tensor-map
// validation. Runs without a GPU; launches themselves are covered by the
// API's GPU tests.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Runtime/CudaProgramRunner.h"
#include "dilattn/Support/Error.h"

#include "gtest/gtest.h"

#include <cstring>

using namespace dilattn;
using namespace dilattn::runtime::cuda;

namespace {

std::string message(llvm::Error err) {
  if (!err)
    return "";
  return llvm::toString(std::move(err));
}

/// HOPPER-NOTES' view of the dilated rows of a B x N x H x D f16 tensor with
/// dilation r: dims {D, H, r, ceil(N/r), B}, byte strides {2D, 2HD, 2rHD,
/// 2NHD}.
TensorMapSpec dilatedRows(uint64_t b = 2, uint64_t n = 1024, uint64_t h = 8,
                          uint64_t d = 64, uint64_t r = 2) {
  TensorMapSpec spec;
  spec.element = TensorMapElement::F16;
  spec.dims = {d, h, r, (n + r - 1) / r, b};
  spec.byteStrides = {2 * d, 2 * h * d, 2 * r * h * d, 2 * n * h * d};
  spec.box = {static_cast<uint32_t>(d), 1, 1, 64, 1};
  spec.swizzle = TensorMapSwizzle::B128;
  return spec;
}

TEST(KernelParamsTest, SlotsHoldScalarsAndBlobs) {
  KernelParams params;
  params.addI32(-7);
  params.addI64(1ll << 40);
  uint8_t blob[128];
  for (int i = 0; i < 128; ++i)
    blob[i] = static_cast<uint8_t>(i * 3);
  ASSERT_EQ(message(params.addBytes(blob)), "");
  params.addPointer(0x1234);
  ASSERT_EQ(params.size(), 4u);
  llvm::SmallVector<void *> pointers = params.pointers();
  int32_t i32;
  std::memcpy(&i32, pointers[0], 4);
  EXPECT_EQ(i32, -7);
  int64_t i64;
  std::memcpy(&i64, pointers[1], 8);
  EXPECT_EQ(i64, 1ll << 40);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(pointers[2]) % 64, 0u);
  EXPECT_EQ(std::memcmp(pointers[2], blob, 128), 0);
  uint64_t address;
  std::memcpy(&address, pointers[3], 8);
  EXPECT_EQ(address, 0x1234u);
  // Earlier slots do not move when more are added.
  for (int i = 0; i < 100; ++i)
    params.addI32(i);
  EXPECT_EQ(params.pointers()[2], pointers[2]);
}

TEST(KernelParamsTest, BlobSizeIsChecked) {
  KernelParams params;
  uint8_t big[129] = {};
  EXPECT_NE(message(params.addBytes(big)).find("1 to 128 bytes, got 129"),
            std::string::npos);
  EXPECT_NE(message(params.addBytes({})).find("got 0"), std::string::npos);
  EXPECT_EQ(params.size(), 0u);
}

TEST(TensorMapTest, DilatedRowsAreValid) {
  EXPECT_EQ(message(checkTensorMap(dilatedRows(), 0x10000)), "");
  // N not a multiple of r, D = 128 in two 64-element boxes.
  TensorMapSpec spec = dilatedRows(1, 1000, 4, 128, 3);
  spec.box[0] = 64;
  EXPECT_EQ(message(checkTensorMap(spec, 0x10000)), "");
  spec.box[0] = 128; // 256 bytes: more than the 128-byte swizzle.
  EXPECT_NE(message(checkTensorMap(spec, 0x10000))
                .find("more than the 128-byte swizzle"),
            std::string::npos);
}

TEST(TensorMapTest, ArgumentsAreChecked) {
  auto expectFailure = [](TensorMapSpec spec, uint64_t address,
                          llvm::StringRef needle) {
    llvm::Error error = checkTensorMap(spec, address);
    ASSERT_TRUE(bool(error)) << needle.str();
    EXPECT_EQ(getErrorCode(error), ErrorCode::InvalidArgument);
    std::string text = message(std::move(error));
    EXPECT_NE(text.find(needle.str()), std::string::npos) << text;
  };
  expectFailure(dilatedRows(), 0x10008, "16-byte aligned");
  TensorMapSpec spec = dilatedRows();
  spec.dims.push_back(1);
  expectFailure(spec, 0, "rank must be 1 to 5, got 6");
  spec = dilatedRows();
  spec.byteStrides.pop_back();
  expectFailure(spec, 0, "5 dims need 4 byte strides, got 3");
  spec = dilatedRows();
  spec.byteStrides[1] = 24;
  expectFailure(spec, 0, "byte stride #1 must be a multiple of 16");
  spec = dilatedRows();
  spec.byteStrides[3] = uint64_t(1) << 40;
  expectFailure(spec, 0, "below 2^40");
  spec = dilatedRows();
  spec.dims[4] = 0;
  expectFailure(spec, 0, "dim #4 must be 1 to 2^32");
  spec = dilatedRows();
  spec.box[3] = 257;
  expectFailure(spec, 0, "box size #3 must be 1 to 256");
  spec = dilatedRows();
  spec.box.pop_back();
  expectFailure(spec, 0, "5 dims need 5 box sizes, got 4");
  spec = dilatedRows();
  spec.box[0] = 4; // 8 bytes.
  expectFailure(spec, 0, "multiple of 16 bytes, got 8");
  spec = dilatedRows();
  spec.elementStrides = {1, 1, 9, 1, 1};
  expectFailure(spec, 0, "element stride #2 must be 1 to 8, got 9");
  spec = dilatedRows();
  spec.l2PromotionBytes = 32;
  expectFailure(spec, 0, "L2 promotion");
}

TEST(TensorMapTest, EncodingChecksBeforeTheDriver) {
  TensorMapSpec spec = dilatedRows();
  spec.box[0] = 4;
  auto bad = encodeTiledTensorMap(spec, 0x10000);
  ASSERT_FALSE(bool(bad));
  EXPECT_NE(message(bad.takeError()).find("tensor map:"), std::string::npos);
  auto good = encodeTiledTensorMap(dilatedRows(), 0x10000);
  if (!message(checkAvailable()).empty()) {
    // No driver: the refusal says so.
    ASSERT_FALSE(bool(good));
    EXPECT_FALSE(hasTensorMapEncoder());
    EXPECT_NE(message(good.takeError()).find("target cuda is not available"),
              std::string::npos);
  } else {
    // A driver: either it encodes (the address need not be mapped), or it
    // lacks the symbol and says so.
    if (!good) {
      EXPECT_NE(message(good.takeError()).find("cuTensorMapEncodeTiled"),
                std::string::npos);
    }
  }
}

CudaProgram twoLaunches() {
  CudaProgram program;
  program.entry = "f";
  program.inputs.push_back(TensorSignature::get({4, 4}, ElementKind::F32));
  program.outputs.push_back(TensorSignature::get({4, 4}, ElementKind::F32));
  program.temporaryBytes = {256};
  program.images.resize(1);
  CudaProgramLaunch launch;
  launch.kernelName = "k";
  CudaKernelArg in;
  in.buffer = {CudaBufferRef::Kind::Input, 0};
  in.offset = 2;
  in.sizes = {4, 4};
  in.strides = {4, 1};
  CudaKernelArg scalar;
  scalar.kind = CudaKernelArg::Kind::Scalar;
  scalar.scalarBytes = 4;
  scalar.scalarBits = 0xffffffffu;
  CudaKernelArg map;
  map.kind = CudaKernelArg::Kind::TensorMap;
  map.buffer = {CudaBufferRef::Kind::Temporary, 0};
  map.offset = 8;
  map.tensorMap = dilatedRows();
  launch.args = {in, scalar, map};
  program.launches.push_back(launch);
  launch.args[0].buffer = {CudaBufferRef::Kind::Output, 0};
  program.launches.push_back(launch);
  return program;
}

TEST(CudaProgramTest, ChecksLaunches) {
  EXPECT_EQ(message(checkProgram(twoLaunches())), "");
  CudaProgram program = twoLaunches();
  program.launches[1].image = 1;
  EXPECT_NE(message(checkProgram(program)).find("launch #1: image #1"),
            std::string::npos);
  program = twoLaunches();
  program.launches[0].args[0].buffer.index = 1;
  EXPECT_NE(message(checkProgram(program)).find("names buffer #1 of 1"),
            std::string::npos);
  program = twoLaunches();
  program.launches[0].args[1].scalarBytes = 2;
  EXPECT_NE(message(checkProgram(program)).find("4 or 8 bytes, not 2"),
            std::string::npos);
  program = twoLaunches();
  program.launches[0].args[0].strides.pop_back();
  EXPECT_NE(message(checkProgram(program)).find("2 sizes but 1 strides"),
            std::string::npos);
  program = twoLaunches();
  program.launches[1].args[2].tensorMap.box[1] = 0;
  EXPECT_NE(message(checkProgram(program)).find("argument #2: tensor map:"),
            std::string::npos);
}

TEST(CudaProgramTest, PacksViewsScalarsAndTensorMaps) {
  CudaProgram program = twoLaunches();
  auto address = [](const CudaBufferRef &ref) -> uint64_t {
    return ref.kind == CudaBufferRef::Kind::Temporary ? 0x2000 : 0x1000;
  };
  uint64_t encodedAt = 0;
  auto encode = [&](const CudaKernelArg &arg,
                    uint64_t at) -> llvm::Expected<TensorMap> {
    encodedAt = at;
    TensorMap map;
    std::memset(map.bytes, 0xab, sizeof(map.bytes));
    return map;
  };
  KernelParams params;
  ASSERT_EQ(
      message(packArguments(program.launches[0], address, encode, params)), "");
  // View: allocated, aligned, offset, 2 sizes, 2 strides; scalar; map.
  ASSERT_EQ(params.size(), 7u + 1 + 1);
  llvm::SmallVector<void *> pointers = params.pointers();
  auto slot = [&](size_t i) {
    uint64_t value;
    std::memcpy(&value, pointers[i], 8);
    return value;
  };
  EXPECT_EQ(slot(0), 0x1000u);
  EXPECT_EQ(slot(1), 0x1000u);
  EXPECT_EQ(slot(2), 2u);
  EXPECT_EQ(slot(3), 4u);
  EXPECT_EQ(slot(6), 1u);
  int32_t scalar;
  std::memcpy(&scalar, pointers[7], 4);
  EXPECT_EQ(scalar, -1);
  // 8 f16 elements past the temporary.
  EXPECT_EQ(encodedAt, 0x2000u + 16);
  uint8_t expected[128];
  std::memset(expected, 0xab, sizeof(expected));
  EXPECT_EQ(std::memcmp(pointers[8], expected, 128), 0);

  auto failing = [](const CudaKernelArg &,
                    uint64_t) -> llvm::Expected<TensorMap> {
    return makeError(ErrorCode::TargetUnavailable, "no encoder");
  };
  KernelParams other;
  EXPECT_EQ(
      message(packArguments(program.launches[0], address, failing, other)),
      "no encoder");
}

} // namespace
