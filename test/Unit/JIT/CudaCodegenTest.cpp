//===- CudaCodegenTest.cpp - CUDA kernel images without a GPU -------------===//
//
// The CUDA half of the JIT needs no GPU: specs compile through
// dilattn-cuda-pipeline to PTX and, where the toolkit's ptxas is found, to a
// cubin; images survive the disk cache and corrupt entries are refused. The
// kernels themselves run in scripts/gpu-check on the GPU machine.
//
//===----------------------------------------------------------------------===//

#include "dilattn/API/CudaDilatedAttention.h"
#include "dilattn/JIT/Jit.h"

#include "llvm/Support/FileSystem.h"

#include "gtest/gtest.h"

using namespace dilattn;
using namespace dilattn::jit;

namespace {

KernelSpec makeSpec(ElementKind element, int64_t headDim, AttentionMode mode,
                    bool causal = false, bool masks = false) {
  KernelSpec spec;
  spec.config.segmentLengths = {256, 512};
  spec.config.dilationRates = {1, 2};
  spec.config.mode = mode;
  spec.config.causal = causal;
  spec.headDim = headDim;
  spec.element = element;
  spec.hasKeyPaddingMask = masks;
  spec.hasAttnMask = masks;
  spec.target = Target::Cuda;
  spec.cudaChip = "sm_90";
  return spec;
}

bool isElf(const std::vector<uint8_t> &image) {
  return image.size() > 4 && image[0] == 0x7f && image[1] == 'E' &&
         image[2] == 'L' && image[3] == 'F';
}

TEST(CudaCodegen, GroupedIsOneLaunchOfOneKernel) {
  auto image = compileCudaKernelImage(
      makeSpec(ElementKind::BF16, 128, AttentionMode::Grouped), "k0");
  ASSERT_TRUE(static_cast<bool>(image)) << llvm::toString(image.takeError());
  ASSERT_EQ(image->launches.size(), 1u);
  EXPECT_EQ(image->launches[0].kernelName, "k0_kernel0");
  EXPECT_EQ(image->launches[0].blockThreads, 128);
  // Q tile + 2 stages of K and V, rows padded by 16 bytes.
  EXPECT_EQ(image->launches[0].dynamicSharedBytes, 64 * 136 * 2 * 5);
  if (ptxasVersion() != "none") {
    EXPECT_TRUE(isElf(image->image)) << "ptxas found: expected a cubin";
  } else
    EXPECT_TRUE(image->isPtx);
}

TEST(CudaCodegen, LongnetIsOneLaunchPerPattern) {
  for (ElementKind element :
       {ElementKind::F16, ElementKind::BF16, ElementKind::F32}) {
    auto image = compileCudaKernelImage(
        makeSpec(element, 64, AttentionMode::LongNet, /*causal=*/true,
                 /*masks=*/true),
        "k1");
    ASSERT_TRUE(static_cast<bool>(image)) << llvm::toString(image.takeError());
    ASSERT_EQ(image->launches.size(), 2u);
    EXPECT_EQ(image->launches[1].kernelName, "k1_kernel1");
    // Tensor cores: the query tile and 2 stages of key and value tiles of
    // 64 rows of 72 halves; f32: one block of 16 key and 16 value rows.
    EXPECT_EQ(image->launches[0].dynamicSharedBytes,
              element == ElementKind::F32 ? 2 * 16 * 64 * 4 : 64 * 72 * 2 * 5);
    EXPECT_EQ(image->launches[0].blockThreads,
              element == ElementKind::F32 ? 256 : 128);
  }
}

TEST(CudaCodegen, HopperGetsTheWgmmaKernelUnlessTold) {
  KernelSpec spec = makeSpec(ElementKind::F16, 128, AttentionMode::Grouped);
  spec.cudaChip = cudaChipForDevice(9, 0);
  EXPECT_EQ(spec.cudaChip, "sm_90a");
  EXPECT_EQ(cudaChipForDevice(8, 9), "sm_89");
  auto image = compileCudaKernelImage(spec, "h");
  ASSERT_TRUE(static_cast<bool>(image)) << llvm::toString(image.takeError());
  ASSERT_EQ(image->launches.size(), 1u);
  // Its default tiling: two warpgroups on 128 queries, 128 keys per stage,
  // 2 stages of dense 128-byte-swizzled tiles, aligned to 1024 bytes.
  EXPECT_EQ(image->launches[0].blockThreads, 256);
  EXPECT_EQ(image->launches[0].dynamicSharedBytes, 1024 + 128 * 128 * 2 * 5);
  if (ptxasVersion() != "none") {
    EXPECT_TRUE(isElf(image->image)) << "ptxas found: expected a cubin";
  }

  spec.cudaTuning.kernel = CudaKernelChoice::MmaSync;
  auto fallback = compileCudaKernelImage(spec, "m");
  ASSERT_TRUE(static_cast<bool>(fallback))
      << llvm::toString(fallback.takeError());
  EXPECT_EQ(fallback->launches[0].blockThreads, 128);
  EXPECT_EQ(fallback->launches[0].dynamicSharedBytes, 64 * 136 * 2 * 5);

  // f32 has no wgmma form: the CUDA-core kernel on every chip.
  KernelSpec f32 = makeSpec(ElementKind::F32, 64, AttentionMode::Grouped);
  f32.cudaChip = "sm_90a";
  auto simt = compileCudaKernelImage(f32, "s");
  ASSERT_TRUE(static_cast<bool>(simt)) << llvm::toString(simt.takeError());
  EXPECT_EQ(simt->launches[0].blockThreads, 256);
}

TEST(CudaCodegen, RefusesWhatTheKernelsCannotRun) {
  auto dim = compileCudaKernelImage(
      makeSpec(ElementKind::BF16, 96, AttentionMode::Grouped), "k");
  ASSERT_FALSE(static_cast<bool>(dim));
  EXPECT_EQ(llvm::toString(dim.takeError()),
            "head dim 96 is not supported by target cuda (supported: 64, 128)");
  KernelSpec tiling = makeSpec(ElementKind::BF16, 64, AttentionMode::Grouped);
  tiling.cudaTuning.stages = 9;
  auto bad = compileCudaKernelImage(tiling, "k");
  ASSERT_FALSE(static_cast<bool>(bad));
  EXPECT_NE(llvm::toString(bad.takeError()).find("invalid cuda tiling"),
            std::string::npos);
  KernelSpec wgmma = makeSpec(ElementKind::BF16, 64, AttentionMode::Grouped);
  wgmma.cudaChip = "sm_90a";
  wgmma.cudaTuning.tileQueries = 32;
  auto narrow = compileCudaKernelImage(wgmma, "k");
  ASSERT_FALSE(static_cast<bool>(narrow));
  EXPECT_NE(llvm::toString(narrow.takeError())
                .find("the wgmma kernel needs tile-queries 64 or 128"),
            std::string::npos);
}

TEST(CudaCodegen, ImagesRoundTripAndCorruptOnesAreRefused) {
  CudaKernelImage image;
  image.image = {1, 2, 3, 0, 5};
  image.isPtx = true;
  image.launches.push_back({"a_kernel0", 128, 87040});
  image.launches.push_back({"a_kernel1", 64, 0});
  std::vector<uint8_t> bytes = image.serialize();
  auto back = CudaKernelImage::deserialize(bytes);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->image, image.image);
  EXPECT_TRUE(back->isPtx);
  ASSERT_EQ(back->launches.size(), 2u);
  EXPECT_EQ(back->launches[0].kernelName, "a_kernel0");
  EXPECT_EQ(back->launches[0].dynamicSharedBytes, 87040);
  EXPECT_EQ(back->launches[1].blockThreads, 64);
  // Every truncation is refused, as are foreign headers.
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_FALSE(
        CudaKernelImage::deserialize(llvm::ArrayRef<uint8_t>(bytes.data(), n))
            .has_value())
        << "truncated to " << n;
  std::vector<uint8_t> foreign = bytes;
  foreign[0] = 'X';
  EXPECT_FALSE(CudaKernelImage::deserialize(foreign).has_value());
}

TEST(CudaCodegen, JitCachesImagesOnDisk) {
  llvm::SmallString<128> directory;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("dilattn-cuda", directory));
  KernelSpec spec = makeSpec(ElementKind::BF16, 64, AttentionMode::Grouped);
  {
    JitOptions options;
    options.cacheDirectory = std::string(directory);
    Jit jit(options);
    CacheOutcome outcome;
    auto first = jit.getCudaKernel(spec, &outcome);
    ASSERT_TRUE(static_cast<bool>(first)) << llvm::toString(first.takeError());
    EXPECT_EQ(outcome, CacheOutcome::Compiled);
    auto second = jit.getCudaKernel(spec, &outcome);
    ASSERT_TRUE(static_cast<bool>(second));
    EXPECT_EQ(outcome, CacheOutcome::MemoryHit);
    EXPECT_EQ(first->get(), second->get());
  }
  JitOptions options;
  options.cacheDirectory = std::string(directory);
  Jit jit(options);
  CacheOutcome outcome;
  auto loaded = jit.getCudaKernel(spec, &outcome);
  ASSERT_TRUE(static_cast<bool>(loaded));
  EXPECT_EQ(outcome, CacheOutcome::DiskHit);
  EXPECT_EQ(jit.stats().compiles, 0u);
  EXPECT_EQ((*loaded)->image.launches.size(), 1u);
  llvm::sys::fs::remove_directories(directory);
}

TEST(CudaCodegen, NoGpuIsOneClearLine) {
  // One call: its error is the one checked (a second call's would be
  // another, and the first would be dropped unchecked).
  llvm::Error error = checkCudaAvailable();
  if (!error)
    GTEST_SKIP() << "a CUDA device is present";
  std::string message = llvm::toString(std::move(error));
  EXPECT_EQ(message.rfind("target cuda is not available: ", 0), 0u) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

} // namespace
