//===- DilAttnToGPU.cpp - dilated attention to CUDA kernels ---------------===//
//
// Converts dilattn.write_dilated_attention into gpu.launch_func operations of
// kernels generated here (gpu + nvgpu + nvvm dialects):
//
//   work item   (pattern, b, h, segment, tile): `tile-queries` consecutive
//               selected queries of one segment, and the span of positions
//               they stand for (tile-queries * r positions);
//   loads       cp.async of 16-byte chunks of the strided rows straight into
//               padded shared-memory tiles (row m*w + o + j*r), `stages`
//               key/value blocks in flight;
//   f16/bf16    ldmatrix + mma.sync.m16n8k16 (f32 accumulation) for Q K^T
//               and P V, online softmax in registers in log2 units (ex2);
//   f32         a CUDA-core kernel, f32 throughout: a quad of threads per
//               query row, blocks of keys and values in shared memory,
//               scores of a block first, then one online-softmax update;
//   output      each element written once: grouped mode in one launch
//               (zeros where a pattern selects nothing), longnet mode in one
//               launch per pattern merged through a log-sum-exp workspace.
//
// The kernels are persistent (a block loops over work items with the grid
// size as stride), so the runtime may launch as many blocks as fit on the
// device while the host code emitted here launches one per item.
//
// This file holds the pass: the plans of a call's launches and the host code
// that launches them. KernelEmitter.{h,cpp} generate what every kernel
// shares; TensorCoreTile.cpp and SimtTile.cpp hold the tile loops.
//
//===----------------------------------------------------------------------===//

#include "KernelEmitter.h"

#include "dilattn/Conversion/DilAttnToGPU/DilAttnToGPU.h"
#include "dilattn/Dialect/DilAttn/IR/Forms.h"
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h"
#include "dilattn/Support/Problem.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <limits>

namespace mlir::dilattn {
#define GEN_PASS_DEF_DILATTNCONVERTTOGPU
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h.inc"
} // namespace mlir::dilattn

using namespace mlir;
using namespace mlir::dilattn;
using namespace mlir::dilattn::cuda;

namespace {

MemRefType dynamicType(MemRefType type, bool unitInnerStride) {
  int64_t rank = type.getRank();
  SmallVector<int64_t> shape(rank, ShapedType::kDynamic);
  if (unitInnerStride)
    shape.back() = type.getShape().back();
  SmallVector<int64_t> strides(rank, ShapedType::kDynamic);
  if (unitInnerStride)
    strides.back() = 1;
  auto layout =
      StridedLayoutAttr::get(type.getContext(), ShapedType::kDynamic, strides);
  return MemRefType::get(shape, type.getElementType(), layout);
}

/// The host code's tensor maps of Q, K and V (the first three operands)
/// for each pattern of `plan`, as the kernel takes them (generic pointers
/// to 128-byte CUtensorMaps): the rows of pattern (w, r) are the
/// (B, N / r, r, H, D) view of each tensor, boxes of 64 columns (128
/// swizzled bytes) by the tile's rows. The view needs r to divide N; the
/// runtime chooses this kernel only then.
SmallVector<Value> emitTensorMaps(OpBuilder &builder, Location loc,
                                  const KernelPlan &plan,
                                  ArrayRef<Value> operands) {
  MLIRContext *context = builder.getContext();
  Emitter host{builder, loc};
  auto pointer = LLVM::LLVMPointerType::get(context);
  SmallVector<Value> maps;
  for (int64_t p : plan.patterns) {
    int64_t r = plan.dilationRates[p];
    for (int64_t operand = 0; operand < 3; ++operand) {
      Value rows = operands[operand];
      int64_t boxRows = operand == 0 ? plan.tileQueries : plan.tileKeys;
      Value batch = memref::DimOp::create(builder, loc, rows, 0);
      Value seqLen = memref::DimOp::create(builder, loc, rows, 1);
      Value heads = memref::DimOp::create(builder, loc, rows, 2);
      auto rowsType = cast<MemRefType>(rows.getType());
      SmallVector<ReassociationIndices> groups = {{0}, {1, 2}, {3}, {4}};
      SmallVector<OpFoldResult> shape = {batch, host.div(seqLen, host.idx(r)),
                                         builder.getIndexAttr(r), heads,
                                         builder.getIndexAttr(plan.headDim)};
      auto viewType = memref::ExpandShapeOp::computeExpandedType(
          rowsType,
          {ShapedType::kDynamic, ShapedType::kDynamic, r, ShapedType::kDynamic,
           plan.headDim},
          groups);
      if (failed(viewType))
        return {};
      Value view = memref::ExpandShapeOp::create(builder, loc, *viewType, rows,
                                                 groups, shape);
      Value unranked = memref::CastOp::create(
          builder, loc, UnrankedMemRefType::get(plan.elementType, Attribute()),
          view);
      SmallVector<int64_t> box = {1, boxRows, 1, 1,
                                  kSwizzleRowBytes / plan.elementBytes()};
      auto boxType = MemRefType::get(
          box, plan.elementType, MemRefLayoutAttrInterface{},
          gpu::AddressSpaceAttr::get(context, gpu::AddressSpace::Workgroup));
      auto mapType = nvgpu::TensorMapDescriptorType::get(
          context, boxType, nvgpu::TensorMapSwizzleKind::SWIZZLE_128B,
          nvgpu::TensorMapL2PromoKind::L2PROMO_NONE,
          nvgpu::TensorMapOOBKind::OOB_ZERO,
          nvgpu::TensorMapInterleaveKind::INTERLEAVE_NONE);
      SmallVector<Value> boxSizes;
      for (int64_t size : box)
        boxSizes.push_back(host.idx(size));
      Value map = nvgpu::TmaCreateDescriptorOp::create(builder, loc, mapType,
                                                       unranked, boxSizes);
      maps.push_back(
          UnrealizedConversionCastOp::create(builder, loc, pointer, map)
              .getResult(0));
    }
  }
  return maps;
}

struct ConvertToGPUPass
    : public mlir::dilattn::impl::DilAttnConvertToGPUBase<ConvertToGPUPass> {
  using Base::Base;

  void runOnOperation() override;
  LogicalResult convert(WriteDilatedAttentionOp op, gpu::GPUModuleOp &module,
                        SymbolTable &symbols);
};

LogicalResult ConvertToGPUPass::convert(WriteDilatedAttentionOp op,
                                        gpu::GPUModuleOp &gpuModule,
                                        SymbolTable &symbols) {
  if (op.getItemBegin())
    return op.emitOpError("with an items range cannot be converted to GPU "
                          "kernels (the range is the CPU runtime's split)");
  // The statistics are for the backward pass, which target cuda does not
  // compute yet (issue 18): refuse rather than leave the buffer unwritten.
  if (op.getLse())
    return op.emitOpError("with lse (the statistics of the backward pass) "
                          "is not supported by target cuda yet");
  auto queryType = cast<MemRefType>(op.getQuery().getType());
  Type element = queryType.getElementType();
  int64_t headDim = queryType.getShape().back();
  if (!element.isF16() && !element.isBF16() && !element.isF32())
    return op.emitOpError("element type ")
           << element << " is not supported by target cuda (supported: f16, "
           << "bf16, f32)";
  if (!llvm::is_contained(supportedHeadDims(), headDim)) {
    InFlightDiagnostic diagnostic =
        op.emitOpError("head dim ")
        << headDim << " is not supported by target cuda (supported: ";
    llvm::interleaveComma(supportedHeadDims(), diagnostic);
    return diagnostic << ")";
  }
  for (Value operand : {op.getKey(), op.getValue(), op.getOutput()}) {
    auto type = cast<MemRefType>(operand.getType());
    if (type.getElementType() != element)
      return op.emitOpError("target cuda needs query, key, value and output "
                            "of one element type");
  }
  for (Value operand :
       {op.getQuery(), op.getKey(), op.getValue(), op.getOutput()}) {
    auto type = cast<MemRefType>(operand.getType());
    SmallVector<int64_t> strides;
    int64_t offset;
    if (failed(type.getStridesAndOffset(strides, offset)) ||
        strides.back() != 1)
      return op.emitOpError("target cuda needs a unit stride along the head "
                            "dim");
  }
  // 0 asks for the kernel's best tiling (measured on G1,
  // docs/benchmarks.md): the wgmma kernel takes two warpgroups (128 queries)
  // and 128 keys per stage, the other kernels 64 and 64; 2 stages, 3 for
  // the warp-specialised kernel where they fit.
  bool useWgmma = wgmma && !element.isF32();
  bool useTma = useWgmma && tma;
  int64_t queries = tileQueries ? tileQueries.getValue()
                    : useWgmma  ? cuda::kWgmmaDefaultTileQueries
                                : 64;
  int64_t keys = tileKeys   ? tileKeys.getValue()
                 : useWgmma ? cuda::kWgmmaDefaultTileKeys
                            : 64;
  int64_t depth = stages ? stages.getValue() : 2;
  if (!stages && useTma) {
    KernelPlan deeper;
    deeper.tensorCores = deeper.wgmma = deeper.tma = true;
    deeper.elementType = element;
    deeper.headDim = headDim;
    deeper.tileQueries = queries;
    deeper.tileKeys = keys;
    deeper.stages = 3;
    if (deeper.sharedMemoryBytes() <= kMaxSharedMemoryBytes)
      depth = 3;
  }
  if (queries < 16 || queries > 128 || queries % 16 != 0 || keys < 16 ||
      keys > 128 || keys % 16 != 0 || depth < 2 || depth > 4)
    return op.emitOpError(llvm::formatv(
        "invalid cuda tiling: tile-queries {0} (16-128, a multiple of 16), "
        "tile-keys {1} (16-128, a multiple of 16), stages {2} (2-4)",
        queries, keys, depth));
  if (tma && !useWgmma)
    return op.emitOpError("the warp-specialised TMA kernel needs wgmma "
                          "(chip sm_90a) and f16 or bf16 inputs");
  if (useTma && op.getMode() == AttentionMode::grouped &&
      static_cast<int64_t>(op.getDilationRates().size()) >
          cuda::kMaxTmaPatterns)
    return op.emitOpError(llvm::formatv(
        "the warp-specialised TMA kernel takes at most {0} patterns per "
        "launch (3 tensor maps each in the kernel parameters)",
        cuda::kMaxTmaPatterns));
  if (useWgmma && ((queries != 64 && queries != 128) || headDim % 64 != 0))
    return op.emitOpError(llvm::formatv(
        "the wgmma kernel needs tile-queries 64 or 128 (a warpgroup per 64 "
        "rows) and a head dim that is a multiple of 64; got {0} and {1}",
        queries, headDim));

  KernelPlan common;
  common.segmentLengths.assign(op.getSegmentLengths().begin(),
                               op.getSegmentLengths().end());
  common.dilationRates.assign(op.getDilationRates().begin(),
                              op.getDilationRates().end());
  common.grouped = op.getMode() == AttentionMode::grouped;
  common.blockedOffsets = op.getOffsetRule() == OffsetRule::blocked;
  common.causal = op.getCausal();
  double scale = op.getScale() ? op.getScale()->convertToDouble()
                               : 1.0 / std::sqrt(static_cast<double>(headDim));
  common.scaleLog2 = scale * kLog2E;
  common.headDim = headDim;
  common.elementType = element;
  common.tensorCores = !element.isF32();
  common.wgmma = useWgmma;
  common.tma = useTma;
  common.hasKeyBias = static_cast<bool>(op.getKeyPaddingMask());
  if (Value mask = op.getAttnMask()) {
    auto maskType = cast<MemRefType>(mask.getType());
    common.attnRank = maskType.getRank();
    if (!maskType.getElementType().isF32())
      return op.emitOpError("target cuda takes attention masks as f32 biases "
                            "(run dilattn-normalize-masks first)");
  }
  if (Value mask = op.getKeyPaddingMask())
    if (!cast<MemRefType>(mask.getType()).getElementType().isF32())
      return op.emitOpError("target cuda takes key padding masks as f32 "
                            "biases (run dilattn-normalize-masks first)");
  common.tileQueries = queries;
  common.tileKeys = keys;
  common.stages = depth;
  if (common.sharedMemoryBytes() > kMaxSharedMemoryBytes)
    return op.emitOpError(llvm::formatv(
        "the cuda tiling needs {0} bytes of shared memory per block, more "
        "than the {1} a block may have: fewer stages or smaller tiles",
        common.sharedMemoryBytes(), kMaxSharedMemoryBytes));
  int64_t k = common.segmentLengths.size();

  SmallVector<KernelPlan, 4> plans;
  if (common.grouped) {
    KernelPlan plan = common;
    for (int64_t p = 0; p < k; ++p)
      plan.patterns.push_back(p);
    plan.output = OutputMode::Store;
    plan.outputScale = 1.0 / static_cast<double>(k);
    plans.push_back(plan);
  } else {
    for (int64_t p = 0; p < k; ++p) {
      KernelPlan plan = common;
      plan.patterns = {p};
      plan.output = p == 0 ? OutputMode::Init : OutputMode::Merge;
      plans.push_back(plan);
    }
  }

  MLIRContext *context = op.getContext();
  Location loc = op.getLoc();
  OpBuilder builder(context);
  if (!gpuModule) {
    auto parent = op->getParentOfType<FunctionOpInterface>();
    builder.setInsertionPointAfter(parent);
    gpuModule = gpu::GPUModuleOp::create(
        builder, loc, (parent.getName() + "__dilattn_gpu").str());
    symbols.insert(gpuModule);
  }

  // Operands: rows as (?, ?, ?, D) with a unit inner stride, masks fully
  // dynamic, the workspace a flat f32 buffer.
  SmallVector<Value> hostOperands;
  builder.setInsertionPoint(op);
  Emitter host{builder, loc};
  auto castTo = [&](Value v, MemRefType type) -> Value {
    if (v.getType() == type)
      return v;
    return memref::CastOp::create(builder, loc, type, v);
  };
  auto rowsType = dynamicType(queryType, /*unitInnerStride=*/true);
  for (Value v : {op.getQuery(), op.getKey(), op.getValue(), op.getOutput()})
    hostOperands.push_back(castTo(v, rowsType));
  Value batch = memref::DimOp::create(builder, loc, op.getQuery(), 0);
  Value seqLen = memref::DimOp::create(builder, loc, op.getQuery(), 1);
  Value numHeads = memref::DimOp::create(builder, loc, op.getQuery(), 2);
  Value workspace;
  if (!common.grouped) {
    Value size = host.mul(host.mul(batch, seqLen), numHeads);
    auto type = MemRefType::get({ShapedType::kDynamic}, builder.getF32Type());
    workspace = gpu::AllocOp::create(builder, loc, type, Type(), ValueRange{},
                                     ValueRange{size}, ValueRange{}, false)
                    .getMemref();
    hostOperands.push_back(workspace);
  }
  if (Value mask = op.getKeyPaddingMask())
    hostOperands.push_back(
        castTo(mask, dynamicType(cast<MemRefType>(mask.getType()), false)));
  if (Value mask = op.getAttnMask())
    hostOperands.push_back(
        castTo(mask, dynamicType(cast<MemRefType>(mask.getType()), false)));

  auto funcName = op->getParentOfType<FunctionOpInterface>().getName().str();
  for (const KernelPlan &plan : plans) {
    SmallVector<Value> launchOperands;
    if (plan.tma)
      launchOperands = emitTensorMaps(builder, loc, plan, hostOperands);
    llvm::append_range(launchOperands, hostOperands);
    SmallVector<Type> launchTypes;
    for (Value v : launchOperands)
      launchTypes.push_back(v.getType());
    // The kernel.
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToEnd(gpuModule.getBody());
    // Kernels are numbered per module: a function may hold several calls.
    int64_t number = llvm::range_size(gpuModule.getOps<gpu::GPUFuncOp>());
    std::string name = llvm::formatv("{0}_kernel{1}", funcName, number).str();
    auto func = gpu::GPUFuncOp::create(
        builder, loc, name, builder.getFunctionType(launchTypes, {}));
    if (plan.tma)
      func->setAttr(kTensorMapParamsAttrName,
                    builder.getI64IntegerAttr(3 * plan.patterns.size()));
    func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(),
                  builder.getUnitAttr());
    int32_t threads = static_cast<int32_t>(plan.threads());
    func.setKnownBlockSizeAttr(builder.getDenseI32ArrayAttr({threads, 1, 1}));
    // Ask for the register budget of two blocks per multiprocessor; the f32
    // kernel (256 threads, q, o and a block of scores in registers) needs
    // more than 128 registers for D = 128 and takes one.
    // Two warpgroups of wgmma (tile-queries 128) need about 240 registers
    // per thread too, so they take one block as well.
    bool oneBlock = plan.tensorCores
                        ? plan.wgmma && (plan.tileQueries > 64 || plan.tma)
                        : plan.headDim > 64;
    // setmaxnreg takes effect only with one block per multiprocessor.
    func->setAttr("nvvm.minctasm", builder.getI32IntegerAttr(oneBlock ? 1 : 2));
    KernelEmitter(builder, loc, plan).emitBody(func);

    // Its launch: one block per work item.
    builder.setInsertionPoint(op);
    SmallVector<PatternItems> items =
        emitPatternItems(host, plan, batch, seqLen, numHeads);
    Value total = emitTotalItems(host, items);
    auto nonEmpty =
        scf::IfOp::create(builder, loc, host.ult(host.idx(0), total), false);
    builder.setInsertionPointToStart(nonEmpty.thenBlock());
    Value one = host.idx(1);
    gpu::LaunchFuncOp::create(
        builder, loc, func, gpu::KernelDim3{total, one, one},
        gpu::KernelDim3{host.idx(threads), one, one},
        arith::ConstantIntOp::create(builder, loc, builder.getI32Type(),
                                     plan.sharedMemoryBytes()),
        launchOperands);
    builder.setInsertionPointAfter(nonEmpty);
  }
  if (workspace)
    gpu::DeallocOp::create(builder, loc, Type(), ValueRange{}, workspace);
  op.erase();
  return success();
}

void ConvertToGPUPass::runOnOperation() {
  ModuleOp module = getOperation();
  SymbolTable symbols(module);
  bool failed = false, found = false;
  SmallVector<FunctionOpInterface> funcs;
  module.walk([&](FunctionOpInterface f) {
    if (!isa<gpu::GPUFuncOp>(f))
      funcs.push_back(f);
  });
  for (FunctionOpInterface f : funcs) {
    gpu::GPUModuleOp gpuModule;
    SmallVector<WriteDilatedAttentionOp> ops;
    f->walk([&](WriteDilatedAttentionOp op) { ops.push_back(op); });
    found |= !ops.empty();
    for (WriteDilatedAttentionOp op : ops)
      if (mlir::failed(convert(op, gpuModule, symbols)))
        failed = true;
  }
  if (!found)
    warnIfEarlierForm(module, getArgument(), Form::Buffer);
  if (failed)
    return signalPassFailure();
  if (llvm::any_of(module.getOps<gpu::GPUModuleOp>(),
                   [](gpu::GPUModuleOp) { return true; }))
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(module.getContext()));
}

} // namespace
