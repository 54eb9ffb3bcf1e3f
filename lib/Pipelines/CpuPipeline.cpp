//===- CpuPipeline.cpp - dilattn-cpu-pipeline -----------------------------===//

#include "dilattn/Pipelines/Pipelines.h"

#include "dilattn/Dialect/DilAttn/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void ::dilattn::buildBufferizationSteps(OpPassManager &pm) {
  // Tensor programs: multi-head blocks into their parts, masks as biases,
  // canonical attributes.
  pm.addNestedPass<func::FuncOp>(
      mlir::dilattn::createDilAttnDecomposeMultihead());
  pm.addPass(mlir::dilattn::createDilAttnNormalizeMasks());
  // Elementwise arith on tensors (residual adds, scalings) as linalg.
  pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
  pm.addPass(createCanonicalizerPass());

  // Buffers: attention ops become write_dilated_attention into new buffers;
  // function results become out-parameters the caller allocates; buffers
  // allocated inside are freed. Kernels already in buffer form pass through.
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::BufferResultsToOutParamsPassOptions outParams;
  outParams.modifyPublicFunctions = true;
  outParams.hoistStaticAllocs = true;
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParams));
  bufferization::buildBufferDeallocationPipeline(pm);
}

void ::dilattn::buildCpuPipeline(OpPassManager &pm,
                                 const CpuPipelineOptions &options) {
  buildBufferizationSteps(pm);

  // The linalg parts of a program (projections, layer norm, elementwise
  // ops): tiled for threads, caches and registers and vectorized; parallel
  // loops and whole attention calls then go to the runtime's thread pool.
  // Kernels in buffer form with an item range (op mode) have neither.
  if (options.vectorizeLinalg) {
    mlir::dilattn::DilAttnVectorizeLinalgOptions linalgOptions;
    linalgOptions.vectorWidth = options.vectorWidth;
    linalgOptions.tileRows = options.matmulTileRows;
    OpPassManager &linalg = pm.nest<func::FuncOp>();
    linalg.addPass(mlir::dilattn::createDilAttnVectorizeLinalg(linalgOptions));
    linalg.addPass(createCanonicalizerPass());
    linalg.addPass(createCSEPass());
  }
  if (options.parallel)
    pm.addPass(mlir::dilattn::createDilAttnOutlineParallelWork());

  // Kernel structure: work items, patterns, segments; one state per item.
  OpPassManager &kernel = pm.nest<func::FuncOp>();
  kernel.addPass(mlir::dilattn::createDilAttnTileSegments());
  if (options.fusePatterns)
    kernel.addPass(mlir::dilattn::createDilAttnFusePatterns());
  mlir::dilattn::DilAttnLowerToVectorOptions vectorOptions;
  vectorOptions.vectorWidth = options.vectorWidth;
  vectorOptions.tileQueries = options.tileQueries;
  vectorOptions.tileKeys = options.tileKeys;
  pm.addPass(mlir::dilattn::createDilAttnLowerToVector(vectorOptions));
  OpPassManager &lowered = pm.nest<func::FuncOp>();
  lowered.addPass(createCanonicalizerPass());
  lowered.addPass(createCSEPass());
  lowered.addPass(createConvertLinalgToLoopsPass());

  // The standard path to LLVM.
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createConvertMathToLLVMPass());
  // Heap buffers through MLIR's generic allocation functions, which module
  // mode maps to the runtime's buffer cache (kernels allocate none).
  FinalizeMemRefToLLVMConversionPassOptions memrefOptions;
  memrefOptions.useGenericFunctions = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefOptions));
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  // Vector lowering leaves ub.poison as the initial value of unrolled
  // vectors.
  pm.addPass(createUBToLLVMConversionPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void ::dilattn::registerCpuPipeline() {
  PassPipelineRegistration<CpuPipelineOptions>(
      "dilattn-cpu-pipeline",
      "Lower dilattn programs (functions on tensors, or kernels in buffer "
      "form) to the LLVM dialect for CPUs: multi-head decomposition, mask "
      "normalisation, bufferization, segment tiling, pattern fusion, vector "
      "lowering, conversion to LLVM",
      buildCpuPipeline);
}
