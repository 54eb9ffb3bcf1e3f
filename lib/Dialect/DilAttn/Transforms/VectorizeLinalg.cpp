//===- VectorizeLinalg.cpp - linalg on buffers to parallel vector code ----===//
//
// The linalg part of a program after bufferization (projections, bias adds,
// layer norm, residual adds) tiled for the cores, the caches and the
// registers, then vectorized with upstream's linalg vectorizer and lowered to
// 1-D vector ops:
//
//   contraction C[.., m, n] += A[.., m, k] * B[k, n]:
//     scf.parallel over (block-rows x block-cols) blocks     (threads)
//       scf.for over block-depth slices of k                 (L1/L2)
//         scf.for n by tile-vectors * vector-width           (peeled)
//           scf.for m by tile-rows                           (peeled)
//             scf.for k by 1: C tile += A column * B row     (registers)
//
//   other ops: scf.parallel over rows, then a row in vector-width lanes.
//
// Full tiles have static shapes after peeling and are vectorized; partial
// tiles stay linalg ops that convert-linalg-to-loops lowers later.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Dialect/DilAttn/Transforms/Passes.h"

#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/CSE.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"

namespace mlir::dilattn {
#define GEN_PASS_DEF_DILATTNVECTORIZELINALG
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h.inc"
} // namespace mlir::dilattn

using namespace mlir;
using namespace mlir::dilattn;

/// Marks the tiled ops this pass vectorizes once their shapes are static.
static constexpr llvm::StringLiteral kVectorizeMarker = "dilattn.vectorize";

namespace {
/// The loops of a contraction this pass register-tiles: `m` indexes A and C
/// (the last of C's rows), `n` is C's innermost dim and indexes B, `k` is
/// the single reduction dim.
struct MatmulLoops {
  unsigned m, n, k;
};

struct TileSizes {
  int64_t vectorWidth, tileRows, tileVectors, blockRows, blockCols, blockDepth;
};
} // namespace

static bool isF32MemRef(Value value) {
  auto type = dyn_cast<MemRefType>(value.getType());
  return type && type.getElementType().isF32();
}

/// The loops of `op` when it is an f32 contraction with the layout this pass
/// tiles (after B has been transposed when `allowTransposedB`); B must then
/// be a 2-D `(n, k)` operand.
static std::optional<MatmulLoops> matchMatmul(linalg::LinalgOp op,
                                              bool allowTransposedB,
                                              bool *transposedB = nullptr) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || !linalg::isaContractionOpInterface(op))
    return std::nullopt;
  for (OpOperand &operand : op->getOpOperands())
    if (!isF32MemRef(operand.get()))
      return std::nullopt;
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  if (failed(dims) || dims->k.size() != 1 || dims->n.size() != 1 ||
      dims->m.empty() || !dims->batch.empty())
    return std::nullopt;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  AffineMap lhs = maps[0], rhs = maps[1], out = maps[2];
  if (!lhs.isProjectedPermutation() || !rhs.isProjectedPermutation() ||
      !out.isProjectedPermutation() || out.getNumResults() < 2 ||
      rhs.getNumResults() != 2)
    return std::nullopt;
  MatmulLoops loops;
  loops.k = dims->k.front();
  loops.n = dims->n.front();
  loops.m = out.getDimPosition(out.getNumResults() - 2);
  // C is contiguous along n, A along k; the other dims of C are m dims.
  if (out.getDimPosition(out.getNumResults() - 1) != loops.n ||
      !llvm::is_contained(dims->m, loops.m) ||
      lhs.getDimPosition(lhs.getNumResults() - 1) != loops.k)
    return std::nullopt;
  bool transposed = rhs.getDimPosition(0) == loops.n;
  if (transposed && !allowTransposedB)
    return std::nullopt;
  if (transposedB)
    *transposedB = transposed;
  return loops;
}

/// Whether every operand of `op` is an f32 buffer contiguous along the
/// innermost loop (it is the operand's innermost dim) or does not depend on it
/// (a broadcast).
static bool isInnermostContiguous(linalg::LinalgOp op) {
  unsigned last = op.getNumLoops() - 1;
  for (OpOperand &operand : op->getOpOperands()) {
    // f32 buffers only: an i1 buffer holds a byte per element, which a
    // vector<...xi1> load would read as packed bits.
    if (isa<MemRefType>(operand.get().getType()) && !isF32MemRef(operand.get()))
      return false;
    AffineMap map = op.getMatchingIndexingMap(&operand);
    if (!map.isProjectedPermutation())
      return false;
    for (unsigned i = 0; i < map.getNumResults(); ++i)
      if (map.getDimPosition(i) == last && i + 1 != map.getNumResults())
        return false;
  }
  return true;
}

/// Rewrites a contraction whose B is `(n, k)` to read a transposed copy
/// `(k, n)` allocated (and freed) around it: rows of B then are vectors.
static linalg::LinalgOp transposeB(RewriterBase &rewriter,
                                   linalg::LinalgOp op) {
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  Value b = op.getDpsInputOperand(1)->get();
  auto type = cast<MemRefType>(b.getType());
  SmallVector<Value> dynamicSizes;
  for (int64_t dim : {1, 0})
    if (type.isDynamicDim(dim))
      dynamicSizes.push_back(memref::DimOp::create(rewriter, loc, b, dim));
  auto transposedType = MemRefType::get(
      {type.getDimSize(1), type.getDimSize(0)}, type.getElementType());
  Value transposed =
      memref::AllocOp::create(rewriter, loc, transposedType, dynamicSizes);
  linalg::TransposeOp::create(rewriter, loc, b, transposed,
                              ArrayRef<int64_t>{1, 0});
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  AffineMap rhs = maps[1];
  maps[1] =
      AffineMap::get(rhs.getNumDims(), 0, {rhs.getResult(1), rhs.getResult(0)},
                     rewriter.getContext());
  auto contract = linalg::ContractOp::create(
      rewriter, loc, TypeRange{},
      ValueRange{op.getDpsInputOperand(0)->get(), transposed},
      ValueRange{op.getDpsInitOperand(0)->get()},
      rewriter.getAffineMapArrayAttr(maps));
  rewriter.setInsertionPointAfter(contract);
  memref::DeallocOp::create(rewriter, loc, transposed);
  rewriter.eraseOp(op);
  return cast<linalg::LinalgOp>(contract.getOperation());
}

/// Tiles `op` with `sizes` (0: not tiled) into loops of `loopType` in the
/// order `interchange` (empty: the op's), peeling the loops of the tiled
/// dims listed in `peel`. Returns the tiled op, or failure (the op is then
/// unchanged).
static FailureOr<linalg::LinalgOp>
tile(RewriterBase &rewriter, linalg::LinalgOp op, ArrayRef<int64_t> sizes,
     linalg::LinalgTilingLoopType loopType, ArrayRef<unsigned> interchange,
     ArrayRef<unsigned> peel = {}) {
  if (llvm::all_of(sizes, [](int64_t size) { return size == 0; }))
    return op;
  linalg::LinalgTilingOptions options;
  options.setTileSizes(sizes).setLoopType(loopType);
  if (!interchange.empty())
    options.setInterchange(interchange);
  rewriter.setInsertionPoint(op);
  FailureOr<linalg::TiledLinalgOp> tiled =
      linalg::tileLinalgOp(rewriter, op, options);
  if (failed(tiled))
    return failure();
  rewriter.eraseOp(op);
  if (!peel.empty()) {
    // One loop per tiled dim, in loop order (interchanged).
    SmallVector<unsigned> order;
    if (interchange.empty())
      order = llvm::to_vector(llvm::seq<unsigned>(0, sizes.size()));
    else
      order.assign(interchange.begin(), interchange.end());
    SmallVector<scf::ForOp> toPeel;
    unsigned position = 0;
    for (unsigned dim : order) {
      if (sizes[dim] == 0)
        continue;
      if (llvm::is_contained(peel, dim))
        if (auto loop = dyn_cast<scf::ForOp>(tiled->loops[position]))
          toPeel.push_back(loop);
      ++position;
    }
    linalg::peelLoops(rewriter, toPeel);
  }
  return tiled->op;
}

/// Tiles a contraction for threads, caches and registers (see the file
/// comment); the register tiles are marked for vectorization.
static void tileMatmul(RewriterBase &rewriter, linalg::LinalgOp op,
                       const MatmulLoops &loops, const TileSizes &sizes) {
  unsigned numLoops = op.getNumLoops();
  int64_t cols = sizes.tileVectors * sizes.vectorWidth;
  // Threads: blocks of C; unit tiles along the outer m dims (batch).
  SmallVector<int64_t> block(numLoops, 0);
  for (unsigned dim = 0; dim < numLoops; ++dim)
    if (dim != loops.k && dim != loops.n)
      block[dim] = 1;
  block[loops.m] = sizes.blockRows;
  block[loops.n] = sizes.blockCols;
  FailureOr<linalg::LinalgOp> tiled = tile(
      rewriter, op, block, linalg::LinalgTilingLoopType::ParallelLoops, {});
  if (failed(tiled))
    return;
  // Caches: a slice of k keeps block-depth rows of B's columns near.
  SmallVector<int64_t> depth(numLoops, 0);
  depth[loops.k] = sizes.blockDepth;
  tiled =
      tile(rewriter, *tiled, depth, linalg::LinalgTilingLoopType::Loops, {});
  if (failed(tiled))
    return;
  // Registers: n outside m, so a tile-rows x cols tile walks down a column
  // block of B that stays in L1; k innermost by one.
  SmallVector<int64_t> reg(numLoops, 0);
  SmallVector<unsigned> interchange;
  for (unsigned dim = 0; dim < numLoops; ++dim)
    if (dim != loops.k && dim != loops.n && dim != loops.m) {
      reg[dim] = 1;
      interchange.push_back(dim);
    }
  reg[loops.n] = cols;
  reg[loops.m] = sizes.tileRows;
  reg[loops.k] = 1;
  interchange.append({loops.n, loops.m, loops.k});
  tiled = tile(rewriter, *tiled, reg, linalg::LinalgTilingLoopType::Loops,
               interchange, {loops.n, loops.m});
  if (failed(tiled))
    return;
  (*tiled)->setAttr(kVectorizeMarker, rewriter.getUnitAttr());
}

/// Tiles an op whose operands are contiguous along its innermost loop into
/// rows for threads and vector-width slices of a row (or whole rows, for an
/// innermost reduction) for vectorization.
static void tileByRows(RewriterBase &rewriter, linalg::LinalgOp op,
                       const TileSizes &sizes) {
  unsigned numLoops = op.getNumLoops();
  unsigned last = numLoops - 1;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  bool innerReduction = iterators[last] == utils::IteratorType::reduction;
  // Whole rows become one vector: only static, not too long.
  if (innerReduction &&
      (ShapedType::isDynamic(ranges[last]) || ranges[last] > 4096))
    return;
  FailureOr<linalg::LinalgOp> tiled = op;
  if (numLoops >= 2) {
    // Threads: about 16K elements per work item along the outer parallel
    // dims (unit tiles but the last of them).
    SmallVector<int64_t> rows(numLoops, 0);
    int64_t rowLength =
        ShapedType::isDynamic(ranges[last]) ? 512 : ranges[last];
    int64_t rowsPerItem = std::max<int64_t>(1, 16384 / rowLength);
    bool first = true;
    for (int64_t dim = last - 1; dim >= 0; --dim) {
      if (iterators[dim] != utils::IteratorType::parallel)
        continue;
      rows[dim] = first ? rowsPerItem : 1;
      first = false;
    }
    tiled = tile(rewriter, op, rows,
                 linalg::LinalgTilingLoopType::ParallelLoops, {});
    if (failed(tiled))
      return;
  }
  // Vectors: one row slice per tile.
  SmallVector<int64_t> vec(numLoops, 1);
  vec[last] = innerReduction ? 0 : sizes.vectorWidth;
  SmallVector<unsigned> peel;
  if (!innerReduction)
    peel.push_back(last);
  tiled = tile(rewriter, *tiled, vec, linalg::LinalgTilingLoopType::Loops, {},
               peel);
  if (failed(tiled))
    return;
  (*tiled)->setAttr(kVectorizeMarker, rewriter.getUnitAttr());
}

/// The buffer a view was cut from.
static Value rootOf(Value value) {
  while (auto view =
             dyn_cast_or_null<ViewLikeOpInterface>(value.getDefiningOp()))
    value = view.getViewSource();
  return value;
}

/// Keeps register-tile accumulators in registers across their k loop: in an
/// scf.for whose body reads a vector from a loop-invariant place and writes
/// it back there (a transfer_read/transfer_write pair, the loop's only
/// write), and whose other reads are of other buffers, the vector becomes a
/// loop-carried value read before and written after the loop.
/// (linalg::hoistRedundantVectorTransfers declines these loops: its alias
/// check counts the views of the other operands.)
static void hoistAccumulators(RewriterBase &rewriter, func::FuncOp func) {
  SmallVector<scf::ForOp> loops;
  func.walk([&](scf::ForOp loop) { loops.push_back(loop); });
  for (scf::ForOp loop : loops) {
    vector::TransferWriteOp write;
    bool unknown = false;
    SmallVector<Value> readRoots;
    loop.getBody()->walk([&](Operation *op) {
      if (op->hasTrait<OpTrait::HasRecursiveMemoryEffects>() ||
          isMemoryEffectFree(op))
        return;
      if (auto transfer = dyn_cast<vector::TransferWriteOp>(op)) {
        if (write || op->getParentOp() != loop)
          unknown = true;
        write = transfer;
        return;
      }
      auto effects = dyn_cast<MemoryEffectOpInterface>(op);
      if (!effects || effects.hasEffect<MemoryEffects::Write>() ||
          effects.hasEffect<MemoryEffects::Free>() ||
          effects.hasEffect<MemoryEffects::Allocate>()) {
        unknown = true;
        return;
      }
      for (Value operand : op->getOperands())
        if (isa<MemRefType>(operand.getType()))
          readRoots.push_back(rootOf(operand));
    });
    if (unknown || !write || !isa<MemRefType>(write.getBase().getType()))
      continue;
    Value base = write.getBase();
    if (!loop.isDefinedOutsideOfLoop(base) ||
        !llvm::all_of(write.getIndices(), [&](Value index) {
          return loop.isDefinedOutsideOfLoop(index);
        }))
      continue;
    vector::TransferReadOp read;
    for (Operation &op : loop.getBody()->without_terminator())
      if (auto candidate = dyn_cast<vector::TransferReadOp>(&op))
        if (candidate.getBase() == base &&
            candidate.getIndices() == write.getIndices() &&
            candidate.getVectorType() == write.getVectorType() &&
            candidate.getPermutationMap() == write.getPermutationMap() &&
            !candidate.getMask() && !write.getMask())
          read = candidate;
    if (!read)
      continue;
    Value root = rootOf(base);
    // Exactly one read of the accumulator's buffer: the one hoisted.
    if (llvm::count(readRoots, root) != 1 ||
        !loop.isDefinedOutsideOfLoop(read.getPadding()))
      continue;
    read->moveBefore(loop);
    FailureOr<LoopLikeOpInterface> hoisted =
        cast<LoopLikeOpInterface>(loop.getOperation())
            .replaceWithAdditionalYields(
                rewriter, ValueRange{read.getResult()},
                /*replaceInitOperandUsesInLoop=*/true,
                [&](OpBuilder &, Location, ArrayRef<BlockArgument>) {
                  return SmallVector<Value>{write.getVector()};
                });
    if (failed(hoisted))
      continue;
    Operation *newLoop = hoisted->getOperation();
    write->moveAfter(newLoop);
    write.getValueToStoreMutable().assign(newLoop->getResults().back());
  }
}

static bool hasStaticShapes(linalg::LinalgOp op) {
  return llvm::all_of(op->getOperands(), [](Value value) {
    auto type = dyn_cast<ShapedType>(value.getType());
    return !type || type.hasStaticShape();
  });
}

namespace {
struct VectorizeLinalgPass
    : mlir::dilattn::impl::DilAttnVectorizeLinalgBase<VectorizeLinalgPass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    MLIRContext *context = &getContext();
    SmallVector<linalg::LinalgOp> ops;
    for (Operation &op : func.getFunctionBody().getOps())
      if (auto linalgOp = dyn_cast<linalg::LinalgOp>(&op))
        if (linalgOp.hasPureBufferSemantics() && linalgOp.getNumLoops() > 0)
          ops.push_back(linalgOp);
    if (ops.empty())
      return;
    if (vectorWidth <= 0 || tileVectors <= 0 || tileRows < 0 ||
        blockRows <= 0 || blockCols <= 0 || blockDepth <= 0) {
      func.emitError() << "dilattn-vectorize-linalg needs positive sizes";
      return signalPassFailure();
    }
    TileSizes sizes;
    sizes.vectorWidth = vectorWidth;
    sizes.tileVectors = tileVectors;
    // 8 lanes (AVX2, 16 registers): 6 x 2 accumulators; wider (AVX-512, 32
    // registers): 8 x 2.
    sizes.tileRows = tileRows > 0 ? tileRows : (vectorWidth <= 8 ? 6 : 8);
    sizes.blockRows = blockRows;
    sizes.blockCols = blockCols;
    sizes.blockDepth = blockDepth;

    IRRewriter rewriter(context);
    for (linalg::LinalgOp op : ops) {
      bool transposed = false;
      if (std::optional<MatmulLoops> loops =
              matchMatmul(op, /*allowTransposedB=*/true, &transposed)) {
        if (transposed)
          op = transposeB(rewriter, op);
        tileMatmul(rewriter, op, *loops, sizes);
        continue;
      }
      if (isInnermostContiguous(op) && !linalg::isaContractionOpInterface(op))
        tileByRows(rewriter, op, sizes);
    }

    // Peeled full tiles get static sizes: fold them into the subviews and
    // the tiled ops.
    if (failed(simplify(func)))
      return signalPassFailure();

    // Vectorize the full tiles; partial ones stay linalg ops.
    SmallVector<linalg::LinalgOp> marked;
    func.walk([&](linalg::LinalgOp op) {
      if (op->hasAttr(kVectorizeMarker))
        marked.push_back(op);
    });
    for (linalg::LinalgOp op : marked) {
      op->removeAttr(kVectorizeMarker);
      if (!hasStaticShapes(op))
        continue;
      rewriter.setInsertionPoint(op);
      bool contraction =
          matchMatmul(op, /*allowTransposedB=*/false).has_value();
      FailureOr<linalg::VectorizationResult> result = linalg::vectorize(
          rewriter, op, /*inputVectorSizes=*/{}, /*inputScalableVecDims=*/{},
          /*vectorizeNDExtract=*/false, /*flatten1DDepthwiseConv=*/false,
          /*assumeDynamicDimsMatchVecSizes=*/false,
          /*createNamedContraction=*/contraction);
      if (succeeded(result))
        rewriter.eraseOp(op);
    }

    // Unit dims away, so that the accumulator tile is one 2-D vector whose
    // reads and writes are loop-invariant in k: hoisted, it stays in
    // registers across the k loop.
    {
      RewritePatternSet patterns(context);
      vector::populateCastAwayVectorLeadingOneDimPatterns(patterns);
      vector::populateVectorTransferDropUnitDimsPatterns(patterns);
      vector::populateVectorTransferPermutationMapLoweringPatterns(patterns);
      addCanonicalization(patterns);
      if (failed(applyPatternsGreedily(func, std::move(patterns))))
        return signalPassFailure();
    }
    {
      DominanceInfo dominance(func);
      eliminateCommonSubExpressions(rewriter, dominance, func);
    }
    {
      // Loop-invariant views first, so that the accumulators' are outside
      // their k loops.
      func.walk([](LoopLikeOpInterface loop) { moveLoopInvariantCode(loop); });
      hoistAccumulators(rewriter, func);
    }

    // Down to 1-D vector ops: contractions as outer products (broadcast and
    // FMA per row), multi-reductions as 1-D reductions, n-D transfers
    // unrolled into 1-D loads and stores.
    {
      RewritePatternSet patterns(context);
      vector::populateVectorContractLoweringPatterns(
          patterns, vector::VectorContractLowering::OuterProduct);
      vector::populateVectorOuterProductLoweringPatterns(patterns);
      vector::populateVectorMultiReductionLoweringPatterns(
          patterns, vector::VectorMultiReductionLowering::InnerReduction);
      vector::populateVectorTransposeLoweringPatterns(
          patterns, vector::VectorTransposeLowering::EltWise);
      vector::populateVectorBroadcastLoweringPatterns(patterns);
      vector::populateVectorShapeCastLoweringPatterns(patterns);
      vector::populateVectorTransferPermutationMapLoweringPatterns(patterns);
      vector::populateCastAwayVectorLeadingOneDimPatterns(patterns);
      populateVectorToSCFConversionPatterns(
          patterns, VectorTransferToSCFOptions().enableFullUnroll());
      vector::populateVectorTransferLoweringPatterns(patterns,
                                                     /*maxTransferRank=*/1);
      addCanonicalization(patterns);
      if (failed(applyPatternsGreedily(func, std::move(patterns))))
        return signalPassFailure();
    }

    // Row reductions (layer norm sums over E) may reassociate: LLVM then
    // adds the row's vectors as a tree instead of one lane after another.
    // The attention kernels are generated later and keep their own flags.
    func.walk([&](vector::ReductionOp reduction) {
      if (isa<FloatType>(reduction.getType()))
        reduction.setFastmathAttr(arith::FastMathFlagsAttr::get(
            context, arith::FastMathFlags::reassoc));
    });
  }

  void addCanonicalization(RewritePatternSet &patterns) {
    MLIRContext *context = &getContext();
    for (Dialect *dialect : context->getLoadedDialects())
      dialect->getCanonicalizationPatterns(patterns);
    for (RegisteredOperationName name : context->getRegisteredOperations())
      name.getCanonicalizationPatterns(patterns, context);
  }

  LogicalResult simplify(func::FuncOp func) {
    RewritePatternSet patterns(&getContext());
    addCanonicalization(patterns);
    return applyPatternsGreedily(func, std::move(patterns));
  }
};
} // namespace
