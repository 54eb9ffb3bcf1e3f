//===- LinalgToGPU.cpp - the linalg parts of a program to CUDA kernels ----===//
//
// Module mode on target cuda. dilattn-convert-to-gpu turns the attention of
// a program into kernels; what is left on the host after bufferization is
// linalg on buffers (projections, bias adds, layer norm, residual adds,
// activations) and memref.copy. dilattn-convert-linalg-to-gpu makes each of
// them a gpu.launch, so the host code that remains is allocations, views and
// launches, which the runtime replays: linear layers as tiled GEMM kernels
// (LinearLayerKernel.cpp), row sums as a warp per row, everything else as a
// thread per point. dilattn-legalize-math-for-nvvm (MathToNVVM) then keeps
// the kernels free of libdevice calls.
//
//===----------------------------------------------------------------------===//

#include "LinearLayerKernel.h"

#include "dilattn/Dialect/DilAttn/Transforms/Passes.h"
#include "dilattn/Dialect/Utils/ArithEmitter.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

#include <limits>

namespace mlir::dilattn {
#define GEN_PASS_DEF_DILATTNCONVERTLINALGTOGPU
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h.inc"
} // namespace mlir::dilattn

using namespace mlir;
using namespace mlir::dilattn;

namespace {

/// Marks a launch with the kind of kernel it is, which names its outlined
/// module and function (`<host function>_<kind><n>::<kind>`), so that
/// profiles and PTX say what each kernel computes.
constexpr llvm::StringLiteral kKernelKindAttr = "dilattn.kernel_kind";
void markKernel(gpu::LaunchOp launch, StringRef kind) {
  launch->setAttr(kKernelKindAttr, StringAttr::get(launch.getContext(), kind));
}

/// Replaces a top-level scf.parallel with static bounds by a gpu.launch of
/// one thread per point: the linear thread index is delinearised with the
/// last loop fastest, so consecutive threads touch consecutive elements.
LogicalResult parallelToLaunch(scf::ParallelOp parallel, int64_t blockThreads,
                               StringRef kind) {
  if (parallel.getNumResults() != 0)
    return parallel.emitOpError("with reductions cannot become a kernel");
  SmallVector<int64_t> lower, upper, steps, counts;
  int64_t total = 1;
  for (auto [lb, ub, step] :
       llvm::zip_equal(parallel.getLowerBound(), parallel.getUpperBound(),
                       parallel.getStep())) {
    auto l = getConstantIntValue(lb), u = getConstantIntValue(ub),
         s = getConstantIntValue(step);
    if (!l || !u || !s || *s <= 0)
      return parallel.emitOpError(
          "needs static bounds to become a kernel (module mode on target "
          "cuda takes static shapes)");
    lower.push_back(*l);
    steps.push_back(*s);
    counts.push_back(*u > *l ? (*u - *l + *s - 1) / *s : 0);
    total *= counts.back();
  }
  OpBuilder b(parallel);
  Location loc = parallel.getLoc();
  if (total == 0) {
    parallel.erase();
    return success();
  }
  ArithEmitter m{b, loc};
  int64_t threads = std::min(blockThreads, total);
  int64_t blocks = (total + threads - 1) / threads;
  if (blocks > std::numeric_limits<int32_t>::max())
    return parallel.emitOpError("has too many points for one kernel launch");
  auto launch = gpu::LaunchOp::create(b, loc, m.idx(blocks), m.idx(1), m.idx(1),
                                      m.idx(threads), m.idx(1), m.idx(1));
  markKernel(launch, kind);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value linear = m.add(m.mul(launch.getBlockIds().x, m.idx(threads)),
                       launch.getThreadIds().x);
  auto inRange = scf::IfOp::create(b, loc, m.ult(linear, m.idx(total)),
                                   /*withElse=*/false);
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(inRange.thenBlock());
  IRMapping mapping;
  int64_t stride = 1;
  for (int64_t i = static_cast<int64_t>(counts.size()) - 1; i >= 0; --i) {
    Value index = m.rem(m.div(linear, m.idx(stride)), m.idx(counts[i]));
    mapping.map(parallel.getInductionVars()[i],
                m.add(m.idx(lower[i]), m.mul(index, m.idx(steps[i]))));
    stride *= counts[i];
  }
  for (Operation &op : parallel.getBody()->without_terminator())
    b.clone(op, mapping);
  parallel.erase();
  return success();
}

/// The value a generic's body yields (one output).
Value yieldOf(linalg::GenericOp generic) {
  return cast<linalg::YieldOp>(generic.getRegion().front().getTerminator())
      .getValues()[0];
}

/// A row reduction `out[p..] += f(ins at (p.., r))` over the innermost loop
/// r, the other loops parallel, in f32 with static shapes: the value `f`
/// folds in with `addf`, and the output is indexed by the parallel loops.
/// Returns the value added to the output in the body.
std::optional<Value> matchRowSum(linalg::LinalgOp op) {
  auto generic = dyn_cast<linalg::GenericOp>(op.getOperation());
  if (!generic || generic.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 1 || !op.hasPureBufferSemantics())
    return std::nullopt;
  unsigned loops = op.getNumLoops();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  for (unsigned i = 0; i + 1 < loops; ++i)
    if (iterators[i] != utils::IteratorType::parallel)
      return std::nullopt;
  if (iterators[loops - 1] != utils::IteratorType::reduction)
    return std::nullopt;
  OpOperand *init = op.getDpsInitOperand(0);
  auto outType = dyn_cast<MemRefType>(init->get().getType());
  if (!outType || !outType.getElementType().isF32() ||
      !outType.hasStaticShape())
    return std::nullopt;
  MLIRContext *context = op.getContext();
  SmallVector<AffineExpr> parallel;
  for (unsigned i = 0; i + 1 < loops; ++i)
    parallel.push_back(getAffineDimExpr(i, context));
  if (op.getMatchingIndexingMap(init) !=
      AffineMap::get(loops, 0, parallel, context))
    return std::nullopt;
  for (OpOperand *input : op.getDpsInputOperands()) {
    auto type = dyn_cast<MemRefType>(input->get().getType());
    if (!type || !type.hasStaticShape())
      return std::nullopt;
  }
  Block &body = generic.getRegion().front();
  // The body is cloned outside the op: no linalg.index.
  if (!body.getOps<linalg::IndexOp>().empty())
    return std::nullopt;
  BlockArgument out = body.getArgument(body.getNumArguments() - 1);
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto sum = yield.getValues().size() == 1
                 ? yield.getValues()[0].getDefiningOp<arith::AddFOp>()
                 : nullptr;
  if (!sum || !out.hasOneUse())
    return std::nullopt;
  if (sum.getLhs() == out)
    return sum.getRhs();
  if (sum.getRhs() == out)
    return sum.getLhs();
  return std::nullopt;
}

/// A row reduction (matchRowSum) as a warp per output point: the lanes
/// stride the reduction loop (coalesced reads of a row), then a butterfly
/// of shuffles sums the lanes' partial sums and lane 0 adds the total to
/// the output. (One thread per point, the generic path, reads rows with a
/// stride across the threads of a warp.)
void emitRowSum(linalg::LinalgOp op, Value summand, int64_t blockThreads) {
  auto generic = cast<linalg::GenericOp>(op.getOperation());
  OpBuilder b(op);
  Location loc = op.getLoc();
  ArithEmitter m{b, loc};
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t reduction = ranges.back();
  int64_t points = 1;
  for (size_t i = 0; i + 1 < ranges.size(); ++i)
    points *= ranges[i];
  constexpr int64_t kWarp = 32;
  int64_t warpsPerBlock = std::max<int64_t>(1, blockThreads / kWarp);
  int64_t blocks = (points + warpsPerBlock - 1) / warpsPerBlock;
  auto launch = gpu::LaunchOp::create(
      b, loc, m.idx(std::max<int64_t>(blocks, 1)), m.idx(1), m.idx(1),
      m.idx(warpsPerBlock * kWarp), m.idx(1), m.idx(1));
  markKernel(launch, "row_sum");
  b.setInsertionPointToStart(&launch.getBody().front());
  Value thread = launch.getThreadIds().x;
  Value lane = m.rem(thread, m.idx(kWarp));
  Value point = m.add(m.mul(launch.getBlockIds().x, m.idx(warpsPerBlock)),
                      m.div(thread, m.idx(kWarp)));
  // Whole warps leave together, so the shuffles below see all 32 lanes.
  auto inRange = scf::IfOp::create(b, loc, m.ult(point, m.idx(points)),
                                   /*withElse=*/false);
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(inRange.thenBlock());
  SmallVector<Value> ivs;
  int64_t stride = 1;
  SmallVector<Value> reversed;
  for (int64_t i = static_cast<int64_t>(ranges.size()) - 2; i >= 0; --i) {
    reversed.push_back(m.rem(m.div(point, m.idx(stride)), m.idx(ranges[i])));
    stride *= ranges[i];
  }
  ivs.assign(reversed.rbegin(), reversed.rend());
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  auto lanes = scf::ForOp::create(
      b, loc, lane, m.idx(reduction), m.idx(kWarp), ValueRange{zero},
      [&](OpBuilder &nested, Location, Value r, ValueRange partial) {
        SmallVector<Value> all(ivs);
        all.push_back(r);
        IRMapping mapping;
        Block &body = generic.getRegion().front();
        for (OpOperand *input : op.getDpsInputOperands()) {
          AffineMap map = op.getMatchingIndexingMap(input);
          SmallVector<Value> indices;
          for (AffineExpr expr : map.getResults())
            indices.push_back(affine::AffineApplyOp::create(
                nested, loc, AffineMap::get(map.getNumDims(), 0, expr), all));
          mapping.map(
              body.getArgument(input->getOperandNumber()),
              memref::LoadOp::create(nested, loc, input->get(), indices));
        }
        for (Operation &bodyOp : body.without_terminator())
          if (bodyOp.getNumResults() != 1 ||
              bodyOp.getResult(0) != yieldOf(generic))
            nested.clone(bodyOp, mapping);
        Value x = mapping.lookupOrDefault(summand);
        scf::YieldOp::create(
            nested, loc,
            ValueRange{arith::AddFOp::create(nested, loc, partial[0], x)});
      });
  Value total = lanes.getResult(0);
  for (int32_t offset = kWarp / 2; offset >= 1; offset /= 2)
    total = arith::AddFOp::create(b, loc, total,
                                  gpu::ShuffleOp::create(b, loc, total, offset,
                                                         kWarp,
                                                         gpu::ShuffleMode::XOR)
                                      .getShuffleResult());
  auto first = scf::IfOp::create(b, loc, m.ult(lane, m.idx(1)),
                                 /*withElse=*/false);
  b.setInsertionPointToStart(first.thenBlock());
  Value out = op.getDpsInitOperand(0)->get();
  Value old = memref::LoadOp::create(b, loc, out, ivs);
  memref::StoreOp::create(b, loc, arith::AddFOp::create(b, loc, old, total),
                          out, ivs);
}

/// Makes any other linalg op (on buffers, outside kernels) a gpu.launch.
LogicalResult convertLinalgOp(linalg::LinalgOp op, int64_t blockThreads) {
  if (!op.hasPureBufferSemantics())
    return op->emitOpError("must be on buffers to become a kernel");
  if (std::optional<Value> summand = matchRowSum(op)) {
    emitRowSum(op, *summand, blockThreads);
    op->erase();
    return success();
  }
  std::string kind =
      isa<linalg::GenericOp>(op.getOperation())
          ? (op.getNumReductionLoops() ? "reduction" : "elementwise")
          : op->getName().stripDialect().str();
  IRRewriter rewriter(op.getContext());
  if (op.getNumLoops() == 0) {
    // Rank 0 (a scalar): linalgOpToParallelLoops writes the body where the
    // op is, so the op goes into a one-thread kernel first.
    OpBuilder b(op);
    ArithEmitter m{b, op.getLoc()};
    Value one = m.idx(1);
    auto launch =
        gpu::LaunchOp::create(b, op.getLoc(), one, one, one, one, one, one);
    markKernel(launch, kind);
    b.setInsertionPointToStart(&launch.getBody().front());
    gpu::TerminatorOp::create(b, op.getLoc());
    op->moveBefore(launch.getBody().front().getTerminator());
  }
  rewriter.setInsertionPoint(op);
  FailureOr<linalg::LinalgLoops> loops =
      linalg::linalgOpToParallelLoops(rewriter, op);
  if (failed(loops))
    return op->emitOpError("cannot be lowered to loops for a kernel");
  rewriter.eraseOp(op);
  if (loops->empty())
    return success();
  // The outermost loop and everything created with it (index constants)
  // sit where the op was.
  Operation *outer = (*loops)[0];
  if (auto parallel = dyn_cast<scf::ParallelOp>(outer))
    return parallelToLaunch(parallel, blockThreads, kind);
  // Reductions only (no parallel loop): one thread runs the nest.
  OpBuilder b(outer);
  ArithEmitter m{b, outer->getLoc()};
  Value one = m.idx(1);
  auto launch =
      gpu::LaunchOp::create(b, outer->getLoc(), one, one, one, one, one, one);
  markKernel(launch, kind);
  Block &body = launch.getBody().front();
  b.setInsertionPointToStart(&body);
  gpu::TerminatorOp::create(b, outer->getLoc());
  outer->moveBefore(body.getTerminator());
  return success();
}

/// A function result computed into a fresh buffer and then copied into its
/// out-parameter (what buffer-results-to-out-params leaves) is computed in
/// the out-parameter instead: one pass over the result less.
void forwardResultCopies(FunctionOpInterface function) {
  SmallVector<memref::CopyOp> copies;
  function.walk([&](memref::CopyOp copy) { copies.push_back(copy); });
  for (memref::CopyOp copy : copies) {
    auto alloc = copy.getSource().getDefiningOp<memref::AllocOp>();
    auto target = dyn_cast<BlockArgument>(copy.getTarget());
    if (!alloc || !target || alloc.getType() != target.getType() ||
        !target.hasOneUse() || alloc->getBlock() != copy->getBlock())
      continue;
    // Every other use of the buffer comes before the copy, or frees it.
    SmallVector<Operation *> deallocs;
    bool usedAfter = false;
    for (Operation *user : alloc->getUsers()) {
      if (user == copy)
        continue;
      if (isa<memref::DeallocOp>(user)) {
        deallocs.push_back(user);
        continue;
      }
      Operation *ancestor = copy->getBlock()->findAncestorOpInBlock(*user);
      usedAfter |= !ancestor || !ancestor->isBeforeInBlock(copy);
    }
    if (usedAfter)
      continue;
    for (Operation *dealloc : deallocs)
      dealloc->erase();
    copy->erase();
    alloc.getResult().replaceAllUsesWith(target);
    alloc->erase();
  }
}

struct ConvertLinalgToGPUPass
    : mlir::dilattn::impl::DilAttnConvertLinalgToGPUBase<
          ConvertLinalgToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (blockThreads < 32 || blockThreads > 1024) {
      module.emitError("block-threads must be in [32, 1024], got ")
          << blockThreads;
      return signalPassFailure();
    }
    for (auto function : module.getOps<FunctionOpInterface>())
      forwardResultCopies(function);
    // Host code only: kernels already generated are left alone. Copies
    // become linalg.copy where they are, then every linalg op is collected
    // in program order (so launches follow the host code's data flow).
    SmallVector<memref::CopyOp> copies;
    for (auto function : module.getOps<FunctionOpInterface>())
      function.walk([&](memref::CopyOp copy) { copies.push_back(copy); });
    for (memref::CopyOp copy : copies) {
      OpBuilder b(copy);
      linalg::CopyOp::create(b, copy.getLoc(), ValueRange{copy.getSource()},
                             ValueRange{copy.getTarget()});
      copy.erase();
    }
    SmallVector<linalg::LinalgOp> ops;
    for (auto function : module.getOps<FunctionOpInterface>())
      function.walk([&](linalg::LinalgOp op) { ops.push_back(op); });
    bool converted = !ops.empty();
    // Linear layers first, as their kernels fold in the ops around them.
    // Erased ops are compared by address only.
    llvm::DenseSet<Operation *> erased;
    for (linalg::LinalgOp op : ops) {
      if (erased.contains(op.getOperation()))
        continue;
      if (gpu::LaunchOp launch = convertLinearLayer(op, erased))
        markKernel(launch, "linear");
    }
    for (linalg::LinalgOp op : ops) {
      if (erased.contains(op.getOperation()))
        continue;
      if (failed(convertLinalgOp(op, blockThreads)))
        return signalPassFailure();
    }
    if (!converted)
      return;
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(module.getContext()));
    for (auto function : module.getOps<FunctionOpInterface>()) {
      llvm::StringMap<unsigned> counts;
      function.walk([&](gpu::LaunchOp launch) {
        auto kind = launch->getAttrOfType<StringAttr>(kKernelKindAttr);
        if (!kind)
          return;
        launch->removeAttr(kKernelKindAttr);
        unsigned number = counts[kind.getValue()]++;
        launch.setModuleAttr(FlatSymbolRefAttr::get(
            &getContext(), (function.getName() + "_" + kind.getValue() +
                            std::to_string(number))
                               .str()));
        launch.setFunctionAttr(FlatSymbolRefAttr::get(kind));
      });
    }
  }
};

} // namespace
