//===- CudaPipeline.cpp - dilattn-cuda-pipeline ---------------------------===//

#include "dilattn/Pipelines/Pipelines.h"

#include "dilattn/Dialect/DilAttn/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void ::dilattn::buildCudaPipeline(OpPassManager &pm,
                                  const CudaPipelineOptions &options) {
  buildBufferizationSteps(pm);

  // Kernels: one gpu.module per function, launched from the host code.
  mlir::dilattn::DilAttnConvertToGPUOptions convert;
  convert.tileQueries = options.tileQueries;
  convert.tileKeys = options.tileKeys;
  convert.stages = options.stages;
  // sm_90a cubins run only on compute capability 9.0, which is also the
  // only chip with wgmma: the chip decides unless the caller forces one.
  convert.wgmma = usesWgmmaKernel(options.kernel, options.chip);
  convert.tma = usesTmaKernel(options.kernel);
  pm.addPass(mlir::dilattn::createDilAttnConvertToGPU(convert));
  pm.addNestedPass<func::FuncOp>(createCanonicalizerPass());
  // The rest of a program (projections, layer norm, elementwise ops,
  // copies) as kernels too, so the host code is allocations, views and
  // launches only.
  pm.addPass(mlir::dilattn::createDilAttnConvertLinalgToGPU());
  pm.addPass(createGpuKernelOutliningPass());
  pm.addNestedPass<func::FuncOp>(createCanonicalizerPass());

  // Device code to NVVM.
  OpPassManager &device = pm.nest<gpu::GPUModuleOp>();
  device.addPass(createCanonicalizerPass());
  device.addPass(createCSEPass());
  device.addPass(mlir::dilattn::createDilAttnLegalizeMathForNVVM());
  device.addPass(memref::createExpandStridedMetadataPass());
  device.addPass(createLowerAffinePass());
  device.addPass(createSCFToControlFlowPass());
  device.addPass(createConvertNVGPUToNVVMPass());
  device.addPass(createConvertGpuOpsToNVVMOps());
  device.addPass(mlir::dilattn::createDilAttnGridConstantParams());
  device.addPass(createCanonicalizerPass());
  device.addPass(createCSEPass());
  device.addPass(createReconcileUnrealizedCastsPass());

  // PTX (or cubin) for the chip.
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.features = options.features;
  target.optLevel = options.optLevel;
  pm.addPass(createGpuNVVMAttachTarget(target));
  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = options.format;
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

void ::dilattn::registerCudaPipeline() {
  PassPipelineRegistration<CudaPipelineOptions>(
      "dilattn-cuda-pipeline",
      "Lower dilattn programs to CUDA: multi-head decomposition, mask "
      "normalisation and bufferization as for CPUs, then tensor-core "
      "attention kernels (dilattn-convert-to-gpu) and kernels for the linalg "
      "rest of the program (dilattn-convert-linalg-to-gpu), lowered through "
      "NVVM to PTX or cubin embedded in gpu.binary; the host code keeps "
      "allocations, views and gpu.launch_func",
      buildCudaPipeline);
}

namespace dilattn {

llvm::StringRef stringifyCudaKernelChoice(CudaKernelChoice choice) {
  switch (choice) {
  case CudaKernelChoice::Auto:
    return "auto";
  case CudaKernelChoice::Wgmma:
    return "wgmma";
  case CudaKernelChoice::WgmmaTma:
    return "wgmma-tma";
  case CudaKernelChoice::MmaSync:
    return "mma-sync";
  }
  llvm_unreachable("unknown CudaKernelChoice");
}

std::optional<CudaKernelChoice> parseCudaKernelChoice(llvm::StringRef text) {
  for (CudaKernelChoice choice :
       {CudaKernelChoice::Auto, CudaKernelChoice::Wgmma,
        CudaKernelChoice::WgmmaTma, CudaKernelChoice::MmaSync})
    if (text == stringifyCudaKernelChoice(choice))
      return choice;
  return std::nullopt;
}

bool usesWgmmaKernel(CudaKernelChoice choice, llvm::StringRef chip) {
  return choice == CudaKernelChoice::Wgmma ||
         choice == CudaKernelChoice::WgmmaTma ||
         (choice == CudaKernelChoice::Auto && chip == "sm_90a");
}

bool usesTmaKernel(CudaKernelChoice choice) {
  return choice == CudaKernelChoice::WgmmaTma;
}

std::string cudaChipForDevice(int major, int minor) {
  std::string chip = "sm_" + std::to_string(major) + std::to_string(minor);
  if (major == 9 && minor == 0)
    chip += "a";
  return chip;
}

} // namespace dilattn
