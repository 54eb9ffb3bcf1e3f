//===- LinalgToGPU.cpp - the linalg parts of a program to CUDA kernels ----===//
//
// Module mode on target cuda. dilattn-convert-to-gpu turns the attention of
// a program into kernels; what is left on the host after bufferization is
// linalg on buffers (projections, bias adds, layer norm, residual adds,
// activations) and memref.copy. dilattn-convert-linalg-to-gpu makes each of
// them a gpu.launch, so the host code that remains is allocations, views and
// launches, which the runtime replays. dilattn-legalize-math-for-nvvm then
// keeps the kernels free of libdevice calls.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Dialect/DilAttn/Transforms/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <limits>

namespace mlir::dilattn {
#define GEN_PASS_DEF_DILATTNCONVERTLINALGTOGPU
#define GEN_PASS_DEF_DILATTNLEGALIZEMATHFORNVVM
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h.inc"
} // namespace mlir::dilattn

using namespace mlir;

namespace {

/// Marks a launch with the kind of kernel it is, which names its outlined
/// module and function (`<host function>_<kind><n>::<kind>`), so that
/// profiles and PTX say what each kernel computes.
constexpr llvm::StringLiteral kKernelKindAttr = "dilattn.kernel_kind";
void markKernel(gpu::LaunchOp launch, StringRef kind) {
  launch->setAttr(kKernelKindAttr, StringAttr::get(launch.getContext(), kind));
}

/// Index arithmetic at one insertion point.
struct IndexMath {
  OpBuilder &b;
  Location loc;

  Value c(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivUIOp::create(b, loc, x, y); }
  Value rem(Value x, Value y) { return arith::RemUIOp::create(b, loc, x, y); }
  Value min(Value x, Value y) { return arith::MinUIOp::create(b, loc, x, y); }
  Value ult(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
  }
};

// Tile of the linear-layer kernel: BM x BN outputs per block, BK-deep
// slices of the reduction in workgroup memory, 16 x 16 threads of TM x TN
// outputs each (64 accumulators in registers).
constexpr int64_t kLinearBM = 128, kLinearBN = 128, kLinearBK = 8;
constexpr int64_t kLinearTM = 8, kLinearTN = 8;
/// Padding of a workgroup-memory row (elements): with 4, the staging stores
/// (8 consecutive k of 4 rows per warp) hit 32 different banks and rows stay
/// 16-byte aligned for vector loads.
constexpr int64_t kLinearRowPadding = 4;
constexpr int64_t kLinearThreads =
    (kLinearBM / kLinearTM) * (kLinearBN / kLinearTN);

/// A contraction C[m.., o] += A[m.., e] * B[o, e] in f32 on identity-layout
/// static buffers, where m.. are the leading dims (a linear layer without
/// its bias).
struct LinearLayer {
  Value a, b, c;
  int64_t rows = 1, outFeatures = 0, inFeatures = 0;
  /// Output fusion (fuseLinearLayerOutput): whether the kernel adds to the
  /// old contents of C (false when a zero fill of C before it was folded
  /// in), a bias (O) to add, and the buffer the result goes to (C, or the
  /// output of a bias add folded in).
  bool accumulate = true;
  Value bias;
  Value result;
  /// The ops folded into the kernel, erased with the contraction.
  SmallVector<Operation *> absorbed;
};

std::optional<LinearLayer> matchLinearLayer(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1)
    return std::nullopt;
  if (!isa<linalg::ContractOp, linalg::MatmulOp, linalg::GenericOp>(
          op.getOperation()))
    return std::nullopt;
  if (!linalg::isaContractionOpInterface(op))
    return std::nullopt;
  Value a = op.getDpsInputOperand(0)->get();
  Value b = op.getDpsInputOperand(1)->get();
  Value c = op.getDpsInitOperand(0)->get();
  auto aType = dyn_cast<MemRefType>(a.getType());
  auto bType = dyn_cast<MemRefType>(b.getType());
  auto cType = dyn_cast<MemRefType>(c.getType());
  if (!aType || !bType || !cType)
    return std::nullopt;
  for (MemRefType type : {aType, bType, cType})
    if (!type.hasStaticShape() || !type.getLayout().isIdentity() ||
        !type.getElementType().isF32())
      return std::nullopt;
  int64_t rank = aType.getRank();
  if (rank < 2 || bType.getRank() != 2 || cType.getRank() != rank)
    return std::nullopt;
  // Loops (m.., o, e): A (m.., e), B (o, e), C (m.., o).
  unsigned loops = op.getNumLoops();
  if (loops != static_cast<unsigned>(rank) + 1 ||
      op.getNumReductionLoops() != 1)
    return std::nullopt;
  MLIRContext *context = op.getContext();
  SmallVector<AffineExpr> lead;
  for (int64_t i = 0; i < rank - 1; ++i)
    lead.push_back(getAffineDimExpr(i, context));
  AffineExpr o = getAffineDimExpr(rank - 1, context);
  AffineExpr e = getAffineDimExpr(rank, context);
  auto map = [&](ArrayRef<AffineExpr> results) {
    return AffineMap::get(loops, 0, results, context);
  };
  SmallVector<AffineExpr> aResults(lead), cResults(lead);
  aResults.push_back(e);
  cResults.push_back(o);
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (maps[0] != map(aResults) || maps[1] != map({o, e}) ||
      maps[2] != map(cResults))
    return std::nullopt;
  // The body must be out + a * b.
  if (auto generic = dyn_cast<linalg::GenericOp>(op.getOperation())) {
    Block &body = generic.getRegion().front();
    if (body.getOperations().size() != 3)
      return std::nullopt;
    auto mul = dyn_cast<arith::MulFOp>(&body.front());
    auto sum = dyn_cast<arith::AddFOp>(mul ? mul->getNextNode() : nullptr);
    if (!mul || !sum)
      return std::nullopt;
  }
  LinearLayer layer;
  layer.a = a;
  layer.b = b;
  layer.c = c;
  layer.result = c;
  for (int64_t i = 0; i < rank - 1; ++i)
    layer.rows *= aType.getDimSize(i);
  layer.inFeatures = aType.getDimSize(rank - 1);
  layer.outFeatures = bType.getDimSize(0);
  if (bType.getDimSize(1) != layer.inFeatures ||
      cType.getDimSize(rank - 1) != layer.outFeatures)
    return std::nullopt;
  return layer;
}

/// A (rows, cols) view of an identity-layout buffer of rank >= 2.
Value flatten2D(OpBuilder &b, Location loc, Value buffer) {
  auto type = cast<MemRefType>(buffer.getType());
  if (type.getRank() == 2)
    return buffer;
  SmallVector<ReassociationIndices> groups(2);
  for (int64_t i = 0; i + 1 < type.getRank(); ++i)
    groups[0].push_back(i);
  groups[1].push_back(type.getRank() - 1);
  return memref::CollapseShapeOp::create(b, loc, buffer, groups);
}

/// Whether `value` is the f32 constant 0.
bool isZero(Value value) {
  auto constant = value.getDefiningOp<arith::ConstantOp>();
  auto real = constant ? dyn_cast<FloatAttr>(constant.getValue()) : nullptr;
  return real && real.getValue().isZero();
}

/// A bias add `D[.., o] = C[.., o] + bias[o]` reading the layer's C.
std::optional<std::pair<Value, Value>> matchBiasAdd(Operation *op, Value c) {
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic || !generic.hasPureBufferSemantics() ||
      generic.getNumDpsInputs() != 2 || generic.getNumDpsInits() != 1 ||
      generic.getNumReductionLoops() != 0)
    return std::nullopt;
  Value in0 = generic.getDpsInputOperand(0)->get();
  Value in1 = generic.getDpsInputOperand(1)->get();
  Value out = generic.getDpsInitOperand(0)->get();
  auto cType = cast<MemRefType>(c.getType());
  if (in0 != c || out.getType() != cType || out == c)
    return std::nullopt;
  auto biasType = dyn_cast<MemRefType>(in1.getType());
  int64_t rank = cType.getRank();
  if (!biasType || biasType.getRank() != 1 || !biasType.hasStaticShape() ||
      !biasType.getLayout().isIdentity() ||
      biasType.getDimSize(0) != cType.getDimSize(rank - 1))
    return std::nullopt;
  MLIRContext *context = op->getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, context);
  AffineMap column =
      AffineMap::get(rank, 0, getAffineDimExpr(rank - 1, context));
  SmallVector<AffineMap> maps = generic.getIndexingMapsArray();
  if (maps[0] != identity || maps[1] != column || maps[2] != identity)
    return std::nullopt;
  Block &body = generic.getRegion().front();
  auto sum = dyn_cast<arith::AddFOp>(&body.front());
  if (!sum || body.getOperations().size() != 2)
    return std::nullopt;
  Value x = body.getArgument(0), y = body.getArgument(1);
  if (!((sum.getLhs() == x && sum.getRhs() == y) ||
        (sum.getLhs() == y && sum.getRhs() == x)))
    return std::nullopt;
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  if (yield.getValues().size() != 1 || yield.getValues()[0] != sum)
    return std::nullopt;
  return std::make_pair(in1, out);
}

/// Folds what the multi-head decomposition and the graph API put around a
/// linear layer into its kernel: the zero fill of its accumulator C before
/// it, and the bias add that reads C after it (writing another buffer D),
/// when C has no other use. Then C is never read or written at all.
void fuseLinearLayerOutput(linalg::LinalgOp op, LinearLayer &layer) {
  Value c = layer.c;
  Block *block = op->getBlock();
  linalg::FillOp fill;
  Operation *biasAdd = nullptr;
  std::optional<std::pair<Value, Value>> bias;
  for (Operation *user : c.getUsers()) {
    if (user == op || isa<memref::DeallocOp>(user))
      continue;
    if (user->getBlock() != block)
      return;
    auto candidate = dyn_cast<linalg::FillOp>(user);
    if (candidate && !fill && user->isBeforeInBlock(op) &&
        candidate.getNumDpsInputs() == 1 &&
        isZero(candidate.getDpsInputOperand(0)->get())) {
      fill = candidate;
      continue;
    }
    if (!biasAdd && op->isBeforeInBlock(user))
      if ((bias = matchBiasAdd(user, c))) {
        biasAdd = user;
        continue;
      }
    return; // another reader or writer: keep C as it is
  }
  if (fill) {
    layer.accumulate = false;
    layer.absorbed.push_back(fill);
  }
  if (!biasAdd || !fill)
    return;
  // With the bias add folded in, C is never written: only a buffer of this
  // function's own (not an argument, an out-parameter or a view) may go.
  if (!c.getDefiningOp<memref::AllocOp>())
    return;
  // D receives the result at the layer now, and the bias is read there:
  // D must be its own buffer (an allocation or an argument other than the
  // layer's inputs), untouched between the layer and the bias add, and
  // nothing may write the bias in between.
  Value result = bias->second;
  if (result == layer.a || result == layer.b || result == bias->first)
    return;
  auto touchedBetween = [&](Value buffer) {
    for (Operation *user : buffer.getUsers()) {
      if (user == biasAdd || user == op)
        continue;
      Operation *ancestor = block->findAncestorOpInBlock(*user);
      if (!ancestor ||
          (op->isBeforeInBlock(ancestor) && ancestor->isBeforeInBlock(biasAdd)))
        return true;
    }
    return false;
  };
  if (touchedBetween(result) || touchedBetween(bias->first))
    return;
  if (Operation *definition = result.getDefiningOp()) {
    if (!isa<memref::AllocOp>(definition) || definition->getBlock() != block)
      return;
    // No view of D may exist before the bias add (it could be A or W).
    for (Operation *user : result.getUsers())
      if (user != biasAdd && !isa<memref::DeallocOp>(user) &&
          block->findAncestorOpInBlock(*user) &&
          !biasAdd->isBeforeInBlock(block->findAncestorOpInBlock(*user)))
        return;
    if (op->isBeforeInBlock(definition))
      definition->moveBefore(op);
  } else if (!isa<BlockArgument>(result)) {
    return;
  }
  layer.bias = bias->first;
  layer.result = result;
  layer.absorbed.push_back(biasAdd);
}

/// C += A B^T as a tiled kernel (see the pass description).
void emitLinearLayer(OpBuilder &b, Location loc, const LinearLayer &layer) {
  IndexMath m{b, loc};
  Value a = flatten2D(b, loc, layer.a);
  Value c = flatten2D(b, loc, layer.result);
  Value w = layer.b;
  const int64_t M = layer.rows, O = layer.outFeatures, K = layer.inFeatures;
  Attribute workgroup =
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  // Slices are stored k-major so that the inner loop reads TM (TN)
  // consecutive rows (columns) of one k.
  auto aTileType =
      MemRefType::get({kLinearBK, kLinearBM + kLinearRowPadding},
                      b.getF32Type(), MemRefLayoutAttrInterface{}, workgroup);
  auto bTileType =
      MemRefType::get({kLinearBK, kLinearBN + kLinearRowPadding},
                      b.getF32Type(), MemRefLayoutAttrInterface{}, workgroup);
  // Row tiles on x, whose limit (2^31 - 1) is the larger.
  Value gridX = m.c((M + kLinearBM - 1) / kLinearBM);
  Value gridY = m.c((O + kLinearBN - 1) / kLinearBN);
  auto launch = gpu::LaunchOp::create(
      b, loc, gridX, gridY, m.c(1), m.c(kLinearThreads), m.c(1), m.c(1),
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      ValueRange{}, TypeRange{aTileType, bTileType});
  markKernel(launch, "linear");
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value aTile = launch.getWorkgroupAttributions()[0];
  Value bTile = launch.getWorkgroupAttributions()[1];
  Value thread = launch.getThreadIds().x;
  Value rowBase = m.mul(launch.getBlockIds().x, m.c(kLinearBM));
  Value colBase = m.mul(launch.getBlockIds().y, m.c(kLinearBN));
  Value threadCol =
      m.mul(m.rem(thread, m.c(kLinearBN / kLinearTN)), m.c(kLinearTN));
  Value threadRow =
      m.mul(m.div(thread, m.c(kLinearBN / kLinearTN)), m.c(kLinearTM));
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  SmallVector<Value> init(kLinearTM * kLinearTN, zero);

  // Stages rows [base, base + tileRows) x k [k0, k0 + BK) of `source` into
  // `tile` (k-major), zeros outside the matrix (clamped loads, selected).
  // This thread's share of the slice of rows [base, base + tileRows) x k
  // [k0, k0 + BK) of `source`, zeros outside the matrix (clamped loads,
  // selected), and where it goes in the k-major tile.
  struct Piece {
    Value kk, r;
  };
  auto pieces = [&](int64_t tileRows) {
    SmallVector<Piece> result;
    for (int64_t i = 0; i < tileRows * kLinearBK; i += kLinearThreads) {
      Value element = m.add(thread, m.c(i));
      result.push_back(
          {m.rem(element, m.c(kLinearBK)), m.div(element, m.c(kLinearBK))});
    }
    return result;
  };
  SmallVector<Piece> aPieces = pieces(kLinearBM), bPieces = pieces(kLinearBN);
  auto load = [&](Value source, ArrayRef<Piece> share, Value base,
                  int64_t sourceRows, Value k0, SmallVectorImpl<Value> &out) {
    for (const Piece &piece : share) {
      Value row = m.add(base, piece.r);
      Value col = m.add(k0, piece.kk);
      Value inside = arith::AndIOp::create(b, loc, m.ult(row, m.c(sourceRows)),
                                           m.ult(col, m.c(K)));
      Value loaded = memref::LoadOp::create(
          b, loc, source,
          ValueRange{m.min(row, m.c(sourceRows - 1)), m.min(col, m.c(K - 1))});
      out.push_back(arith::SelectOp::create(b, loc, inside, loaded, zero));
    }
  };
  // The loop carries the accumulators and the next slice, loaded from
  // global memory before the current one is multiplied (its latency hides
  // behind the FMAs); a slice past the end loads zeros.
  SmallVector<Value> loopInit(init);
  load(a, aPieces, rowBase, M, m.c(0), loopInit);
  load(w, bPieces, colBase, O, m.c(0), loopInit);
  const int64_t numAcc = kLinearTM * kLinearTN;
  const int64_t numA = aPieces.size(), numB = bPieces.size();
  auto loop = scf::ForOp::create(
      b, loc, m.c(0), m.c(K), m.c(kLinearBK), loopInit,
      [&](OpBuilder &nested, Location, Value k0, ValueRange carried) {
        for (int64_t i = 0; i < numA; ++i)
          memref::StoreOp::create(b, loc, carried[numAcc + i], aTile,
                                  ValueRange{aPieces[i].kk, aPieces[i].r});
        for (int64_t i = 0; i < numB; ++i)
          memref::StoreOp::create(b, loc, carried[numAcc + numA + i], bTile,
                                  ValueRange{bPieces[i].kk, bPieces[i].r});
        gpu::BarrierOp::create(b, loc);
        SmallVector<Value> next;
        Value nextK = m.add(k0, m.c(kLinearBK));
        load(a, aPieces, rowBase, M, nextK, next);
        load(w, bPieces, colBase, O, nextK, next);
        SmallVector<Value> sums(carried.begin(), carried.begin() + numAcc);
        for (int64_t kk = 0; kk < kLinearBK; ++kk) {
          Value kIndex = m.c(kk);
          SmallVector<Value> av, bv;
          for (int64_t i = 0; i < kLinearTM; ++i)
            av.push_back(memref::LoadOp::create(
                b, loc, aTile, ValueRange{kIndex, m.add(threadRow, m.c(i))}));
          for (int64_t j = 0; j < kLinearTN; ++j)
            bv.push_back(memref::LoadOp::create(
                b, loc, bTile, ValueRange{kIndex, m.add(threadCol, m.c(j))}));
          for (int64_t i = 0; i < kLinearTM; ++i)
            for (int64_t j = 0; j < kLinearTN; ++j) {
              Value product = arith::MulFOp::create(b, loc, av[i], bv[j]);
              sums[i * kLinearTN + j] = arith::AddFOp::create(
                  b, loc, sums[i * kLinearTN + j], product);
            }
        }
        // The next slice overwrites the tiles.
        gpu::BarrierOp::create(b, loc);
        sums.append(next.begin(), next.end());
        scf::YieldOp::create(nested, loc, sums);
      });
  for (int64_t i = 0; i < kLinearTM; ++i)
    for (int64_t j = 0; j < kLinearTN; ++j) {
      Value row = m.add(rowBase, m.add(threadRow, m.c(i)));
      Value col = m.add(colBase, m.add(threadCol, m.c(j)));
      Value inside =
          arith::AndIOp::create(b, loc, m.ult(row, m.c(M)), m.ult(col, m.c(O)));
      auto write = scf::IfOp::create(b, loc, inside, /*withElse=*/false);
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToStart(write.thenBlock());
      Value sum = loop.getResult(i * kLinearTN + j);
      if (layer.bias)
        sum = arith::AddFOp::create(
            b, loc, sum,
            memref::LoadOp::create(b, loc, layer.bias, ValueRange{col}));
      if (layer.accumulate)
        sum = arith::AddFOp::create(
            b, loc, memref::LoadOp::create(b, loc, c, ValueRange{row, col}),
            sum);
      memref::StoreOp::create(b, loc, sum, c, ValueRange{row, col});
    }
  gpu::TerminatorOp::create(b, loc);
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
  IndexMath m{b, loc};
  int64_t threads = std::min(blockThreads, total);
  int64_t blocks = (total + threads - 1) / threads;
  if (blocks > std::numeric_limits<int32_t>::max())
    return parallel.emitOpError("has too many points for one kernel launch");
  auto launch = gpu::LaunchOp::create(b, loc, m.c(blocks), m.c(1), m.c(1),
                                      m.c(threads), m.c(1), m.c(1));
  markKernel(launch, kind);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value linear = m.add(m.mul(launch.getBlockIds().x, m.c(threads)),
                       launch.getThreadIds().x);
  auto inRange = scf::IfOp::create(b, loc, m.ult(linear, m.c(total)),
                                   /*withElse=*/false);
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(inRange.thenBlock());
  IRMapping mapping;
  int64_t stride = 1;
  for (int64_t i = static_cast<int64_t>(counts.size()) - 1; i >= 0; --i) {
    Value index = m.rem(m.div(linear, m.c(stride)), m.c(counts[i]));
    mapping.map(parallel.getInductionVars()[i],
                m.add(m.c(lower[i]), m.mul(index, m.c(steps[i]))));
    stride *= counts[i];
  }
  for (Operation &op : parallel.getBody()->without_terminator())
    b.clone(op, mapping);
  parallel.erase();
  return success();
}

/// Makes `op` (on buffers, outside kernels) one or more gpu.launch.
/// Makes a linear layer, with the fill and bias add around it, one kernel;
/// records the ops it erased in `erased`.
void convertLinearLayer(linalg::LinalgOp op, LinearLayer &layer,
                        llvm::DenseSet<Operation *> &erased) {
  fuseLinearLayerOutput(op, layer);
  OpBuilder b(op);
  emitLinearLayer(b, op.getLoc(), layer);
  for (Operation *folded : layer.absorbed) {
    erased.insert(folded);
    folded->erase();
  }
  erased.insert(op);
  op->erase();
  // The accumulator may be left with nothing but its allocation and
  // deallocation.
  if (auto alloc = layer.c.getDefiningOp<memref::AllocOp>())
    if (llvm::all_of(alloc->getUsers(), [](Operation *user) {
          return isa<memref::DeallocOp>(user);
        })) {
      for (Operation *user : llvm::to_vector(alloc->getUsers()))
        user->erase();
      alloc->erase();
    }
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
  IndexMath m{b, loc};
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t reduction = ranges.back();
  int64_t points = 1;
  for (size_t i = 0; i + 1 < ranges.size(); ++i)
    points *= ranges[i];
  constexpr int64_t kWarp = 32;
  int64_t warpsPerBlock = std::max<int64_t>(1, blockThreads / kWarp);
  int64_t blocks = (points + warpsPerBlock - 1) / warpsPerBlock;
  auto launch =
      gpu::LaunchOp::create(b, loc, m.c(std::max<int64_t>(blocks, 1)), m.c(1),
                            m.c(1), m.c(warpsPerBlock * kWarp), m.c(1), m.c(1));
  markKernel(launch, "row_sum");
  b.setInsertionPointToStart(&launch.getBody().front());
  Value thread = launch.getThreadIds().x;
  Value lane = m.rem(thread, m.c(kWarp));
  Value point = m.add(m.mul(launch.getBlockIds().x, m.c(warpsPerBlock)),
                      m.div(thread, m.c(kWarp)));
  // Whole warps leave together, so the shuffles below see all 32 lanes.
  auto inRange = scf::IfOp::create(b, loc, m.ult(point, m.c(points)),
                                   /*withElse=*/false);
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(inRange.thenBlock());
  SmallVector<Value> ivs;
  int64_t stride = 1;
  SmallVector<Value> reversed;
  for (int64_t i = static_cast<int64_t>(ranges.size()) - 2; i >= 0; --i) {
    reversed.push_back(m.rem(m.div(point, m.c(stride)), m.c(ranges[i])));
    stride *= ranges[i];
  }
  ivs.assign(reversed.rbegin(), reversed.rend());
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  auto lanes = scf::ForOp::create(
      b, loc, lane, m.c(reduction), m.c(kWarp), ValueRange{zero},
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
  auto first = scf::IfOp::create(b, loc, m.ult(lane, m.c(1)),
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
    IndexMath m{b, op.getLoc()};
    Value one = m.c(1);
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
  IndexMath m{b, outer->getLoc()};
  Value one = m.c(1);
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
      if (std::optional<LinearLayer> layer = matchLinearLayer(op))
        convertLinearLayer(op, *layer, erased);
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

/// math.<op> on f32 to an LLVM intrinsic that convert-gpu-to-nvvm keeps.
template <typename MathOp, typename LLVMOp>
struct MathToIntrinsic : OpRewritePattern<MathOp> {
  using OpRewritePattern<MathOp>::OpRewritePattern;
  LogicalResult matchAndRewrite(MathOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getType().isF32())
      return failure();
    rewriter.replaceOpWithNewOp<LLVMOp>(op, op.getType(), op->getOperands());
    return success();
  }
};

/// One f32 PTX instruction `instruction $0, $1;` (convert-gpu-to-nvvm
/// would turn llvm.intr.sqrt, floor and ceil into libdevice calls).
Value ptxUnary(PatternRewriter &rewriter, Location loc, StringRef instruction,
               Value x) {
  return LLVM::InlineAsmOp::create(
             rewriter, loc, rewriter.getF32Type(), ValueRange{x},
             (instruction + " $0, $1;").str(), "=f,f",
             /*has_side_effects=*/false, /*is_align_stack=*/false,
             LLVM::tailcallkind::TailCallKind::None, LLVM::AsmDialectAttr(),
             ArrayAttr())
      .getResult(0);
}

template <typename MathOp> struct MathToPtx : OpRewritePattern<MathOp> {
  MathToPtx(MLIRContext *context, StringRef instruction, bool reciprocal)
      : OpRewritePattern<MathOp>(context), instruction(instruction),
        reciprocal(reciprocal) {}
  LogicalResult matchAndRewrite(MathOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getType().isF32())
      return failure();
    Value result =
        ptxUnary(rewriter, op.getLoc(), instruction, op->getOperand(0));
    if (reciprocal) {
      Value one = arith::ConstantOp::create(rewriter, op.getLoc(),
                                            rewriter.getF32FloatAttr(1.0f));
      result = arith::DivFOp::create(rewriter, op.getLoc(), one, result);
    }
    rewriter.replaceOp(op, result);
    return success();
  }
  std::string instruction;
  bool reciprocal;
};

/// arith.maxnumf and friends on f32 as one PTX instruction (convert-gpu-to-
/// nvvm would call libdevice's __nv_fmaxf).
template <typename ArithOp> struct BinaryToPtx : OpRewritePattern<ArithOp> {
  BinaryToPtx(MLIRContext *context, StringRef instruction)
      : OpRewritePattern<ArithOp>(context), instruction(instruction) {}
  LogicalResult matchAndRewrite(ArithOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getType().isF32())
      return failure();
    rewriter.replaceOp(op,
                       LLVM::InlineAsmOp::create(
                           rewriter, op.getLoc(), rewriter.getF32Type(),
                           ValueRange{op.getLhs(), op.getRhs()},
                           instruction + " $0, $1, $2;", "=f,f,f",
                           /*has_side_effects=*/false, /*is_align_stack=*/false,
                           LLVM::tailcallkind::TailCallKind::None,
                           LLVM::AsmDialectAttr(), ArrayAttr())
                           .getResult(0));
    return success();
  }
  std::string instruction;
};

struct LegalizeMathForNVVMPass
    : mlir::dilattn::impl::DilAttnLegalizeMathForNVVMBase<
          LegalizeMathForNVVMPass> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *context = &getContext();
    {
      RewritePatternSet patterns(context);
      populateMathF32ExpansionPatterns(patterns,
                                       [](StringRef) { return true; });
      populateMathPolynomialApproximationPatterns(
          patterns, [](StringRef) { return true; });
      if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
        return signalPassFailure();
    }
    RewritePatternSet patterns(context);
    patterns.add<MathToIntrinsic<math::FmaOp, LLVM::FMAOp>,
                 MathToIntrinsic<math::AbsFOp, LLVM::FAbsOp>,
                 MathToIntrinsic<math::CopySignOp, LLVM::CopySignOp>>(context);
    patterns.add<MathToPtx<math::SqrtOp>>(context, "sqrt.rn.f32", false);
    patterns.add<MathToPtx<math::RsqrtOp>>(context, "sqrt.rn.f32", true);
    patterns.add<MathToPtx<math::FloorOp>>(context, "cvt.rmi.f32.f32", false);
    patterns.add<MathToPtx<math::CeilOp>>(context, "cvt.rpi.f32.f32", false);
    // PTX max/min return the other operand for one NaN (maxnum semantics);
    // the .NaN forms propagate it (maximumf).
    patterns.add<BinaryToPtx<arith::MaxNumFOp>>(context, "max.f32");
    patterns.add<BinaryToPtx<arith::MinNumFOp>>(context, "min.f32");
    patterns.add<BinaryToPtx<arith::MaximumFOp>>(context, "max.NaN.f32");
    patterns.add<BinaryToPtx<arith::MinimumFOp>>(context, "min.NaN.f32");
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    WalkResult left = getOperation().walk([](Operation *op) {
      if (isa<math::MathDialect>(op->getDialect())) {
        op->emitOpError("has no lowering for target cuda without libdevice");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
