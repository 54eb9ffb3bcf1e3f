//===- GridConstantParams.cpp - tensor maps as by-value parameters --------===//
//
// dilattn-gpu-grid-constant-params: TMA reads a tensor map from the kernel's
// parameter space when the parameter is a 128-byte __grid_constant__ value;
// gpu.func cannot say so, hence this step after convert-gpu-to-nvvm.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Conversion/DilAttnToGPU/DilAttnToGPU.h"
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

namespace mlir::dilattn {
#define GEN_PASS_DEF_DILATTNGRIDCONSTANTPARAMS
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h.inc"
} // namespace mlir::dilattn

using namespace mlir;

namespace {

/// Bytes and alignment of a CUtensorMap (cuda.h).
constexpr int64_t kTensorMapBytes = 128;
constexpr int64_t kTensorMapAlignment = 64;

struct GridConstantParamsPass
    : public mlir::dilattn::impl::DilAttnGridConstantParamsBase<
          GridConstantParamsPass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    Builder builder(context);
    auto byval = TypeAttr::get(LLVM::LLVMArrayType::get(
        IntegerType::get(context, 8), kTensorMapBytes));
    WalkResult result = getOperation().walk([&](LLVM::LLVMFuncOp func) {
      auto count = func->getAttrOfType<IntegerAttr>(
          mlir::dilattn::cuda::kTensorMapParamsAttrName);
      if (!count)
        return WalkResult::advance();
      int64_t params = count.getInt();
      if (params < 0 || params > func.getNumArguments()) {
        func.emitOpError("marks ")
            << params << " tensor-map parameters of " << func.getNumArguments();
        return WalkResult::interrupt();
      }
      for (int64_t i = 0; i < params; ++i) {
        if (!isa<LLVM::LLVMPointerType>(func.getArgument(i).getType())) {
          func.emitOpError("tensor-map parameter ") << i << " is not a pointer";
          return WalkResult::interrupt();
        }
        func.setArgAttr(i, LLVM::LLVMDialect::getByValAttrName(), byval);
        func.setArgAttr(i, LLVM::LLVMDialect::getAlignAttrName(),
                        builder.getI64IntegerAttr(kTensorMapAlignment));
        func.setArgAttr(i, NVVM::NVVMDialect::getGridConstantAttrName(),
                        builder.getUnitAttr());
      }
      func->removeAttr(mlir::dilattn::cuda::kTensorMapParamsAttrName);
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
