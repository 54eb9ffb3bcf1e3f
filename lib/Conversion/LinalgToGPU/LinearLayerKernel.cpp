//===- LinearLayerKernel.cpp - linear layers as tiled GPU kernels ---------===//
//
// A linear layer C[m.., o] += A[m.., e] * B[o, e] (f32) as one GEMM kernel:
// BM x BN output tiles per block, BK-deep slices of the reduction staged
// in workgroup memory (the next slice loaded from global memory while the
// current one is multiplied), TM x TN outputs per thread in registers. The
// zero fill of C before the layer and a bias add after it fold into the
// kernel when C has no other use.
//
//===----------------------------------------------------------------------===//

#include "LinearLayerKernel.h"

#include "dilattn/Dialect/Utils/ArithEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::dilattn;

namespace {

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
gpu::LaunchOp emitLinearLayer(OpBuilder &b, Location loc,
                              const LinearLayer &layer) {
  ArithEmitter m{b, loc};
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
  Value gridX = m.idx((M + kLinearBM - 1) / kLinearBM);
  Value gridY = m.idx((O + kLinearBN - 1) / kLinearBN);
  auto launch = gpu::LaunchOp::create(
      b, loc, gridX, gridY, m.idx(1), m.idx(kLinearThreads), m.idx(1), m.idx(1),
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      ValueRange{}, TypeRange{aTileType, bTileType});
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value aTile = launch.getWorkgroupAttributions()[0];
  Value bTile = launch.getWorkgroupAttributions()[1];
  Value thread = launch.getThreadIds().x;
  Value rowBase = m.mul(launch.getBlockIds().x, m.idx(kLinearBM));
  Value colBase = m.mul(launch.getBlockIds().y, m.idx(kLinearBN));
  Value threadCol =
      m.mul(m.rem(thread, m.idx(kLinearBN / kLinearTN)), m.idx(kLinearTN));
  Value threadRow =
      m.mul(m.div(thread, m.idx(kLinearBN / kLinearTN)), m.idx(kLinearTM));
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  SmallVector<Value> init(kLinearTM * kLinearTN, zero);

  // This thread's share of the slice of rows [base, base + tileRows) x k
  // [k0, k0 + BK) of `source`, zeros outside the matrix (clamped loads,
  // selected), and where it goes in the k-major tile.
  struct Piece {
    Value kk, r;
  };
  auto pieces = [&](int64_t tileRows) {
    SmallVector<Piece> result;
    for (int64_t i = 0; i < tileRows * kLinearBK; i += kLinearThreads) {
      Value element = m.add(thread, m.idx(i));
      result.push_back(
          {m.rem(element, m.idx(kLinearBK)), m.div(element, m.idx(kLinearBK))});
    }
    return result;
  };
  SmallVector<Piece> aPieces = pieces(kLinearBM), bPieces = pieces(kLinearBN);
  auto load = [&](Value source, ArrayRef<Piece> share, Value base,
                  int64_t sourceRows, Value k0, SmallVectorImpl<Value> &out) {
    for (const Piece &piece : share) {
      Value row = m.add(base, piece.r);
      Value col = m.add(k0, piece.kk);
      Value inside = arith::AndIOp::create(
          b, loc, m.ult(row, m.idx(sourceRows)), m.ult(col, m.idx(K)));
      Value loaded =
          memref::LoadOp::create(b, loc, source,
                                 ValueRange{m.min(row, m.idx(sourceRows - 1)),
                                            m.min(col, m.idx(K - 1))});
      out.push_back(arith::SelectOp::create(b, loc, inside, loaded, zero));
    }
  };
  // The loop carries the accumulators and the next slice, loaded from
  // global memory before the current one is multiplied (its latency hides
  // behind the FMAs); a slice past the end loads zeros.
  SmallVector<Value> loopInit(init);
  load(a, aPieces, rowBase, M, m.idx(0), loopInit);
  load(w, bPieces, colBase, O, m.idx(0), loopInit);
  const int64_t numAcc = kLinearTM * kLinearTN;
  const int64_t numA = aPieces.size(), numB = bPieces.size();
  auto loop = scf::ForOp::create(
      b, loc, m.idx(0), m.idx(K), m.idx(kLinearBK), loopInit,
      [&](OpBuilder &nested, Location, Value k0, ValueRange carried) {
        for (int64_t i = 0; i < numA; ++i)
          memref::StoreOp::create(b, loc, carried[numAcc + i], aTile,
                                  ValueRange{aPieces[i].kk, aPieces[i].r});
        for (int64_t i = 0; i < numB; ++i)
          memref::StoreOp::create(b, loc, carried[numAcc + numA + i], bTile,
                                  ValueRange{bPieces[i].kk, bPieces[i].r});
        gpu::BarrierOp::create(b, loc);
        SmallVector<Value> next;
        Value nextK = m.add(k0, m.idx(kLinearBK));
        load(a, aPieces, rowBase, M, nextK, next);
        load(w, bPieces, colBase, O, nextK, next);
        SmallVector<Value> sums(carried.begin(), carried.begin() + numAcc);
        for (int64_t kk = 0; kk < kLinearBK; ++kk) {
          Value kIndex = m.idx(kk);
          SmallVector<Value> av, bv;
          for (int64_t i = 0; i < kLinearTM; ++i)
            av.push_back(memref::LoadOp::create(
                b, loc, aTile, ValueRange{kIndex, m.add(threadRow, m.idx(i))}));
          for (int64_t j = 0; j < kLinearTN; ++j)
            bv.push_back(memref::LoadOp::create(
                b, loc, bTile, ValueRange{kIndex, m.add(threadCol, m.idx(j))}));
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
      Value row = m.add(rowBase, m.add(threadRow, m.idx(i)));
      Value col = m.add(colBase, m.add(threadCol, m.idx(j)));
      Value inside = arith::AndIOp::create(b, loc, m.ult(row, m.idx(M)),
                                           m.ult(col, m.idx(O)));
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
  return launch;
}

} // namespace

/// Makes a linear layer, with the fill and bias add around it, one kernel;
/// records the ops it erased in `erased`.
gpu::LaunchOp
mlir::dilattn::convertLinearLayer(linalg::LinalgOp op,
                                  llvm::DenseSet<Operation *> &erased) {
  std::optional<LinearLayer> layer = matchLinearLayer(op);
  if (!layer)
    return nullptr;
  fuseLinearLayerOutput(op, *layer);
  OpBuilder b(op);
  gpu::LaunchOp launch = emitLinearLayer(b, op.getLoc(), *layer);
  for (Operation *folded : layer->absorbed) {
    erased.insert(folded);
    folded->erase();
  }
  erased.insert(op);
  op->erase();
  // The accumulator may be left with nothing but its allocation and
  // deallocation.
  if (auto alloc = layer->c.getDefiningOp<memref::AllocOp>())
    if (llvm::all_of(alloc->getUsers(), [](Operation *user) {
          return isa<memref::DeallocOp>(user);
        })) {
      for (Operation *user : llvm::to_vector(alloc->getUsers()))
        user->erase();
      alloc->erase();
    }
  return launch;
}
