//===- DilAttnToVector.cpp - segment attention to vector code -------------===//
//
// Lowers the kernel ops left by segment tiling and fusion to scf + vector:
//
//   dilattn.segment_attention: for each block of `tile-keys` keys, the keys
//   are packed transposed (Kt[d][j]) into a stack buffer so that a score tile
//   of R query rows x tile-keys keys accumulates in R * tile-keys / width
//   vector registers with one broadcast per query element and one FMA per
//   register. Scores are kept in log2 units (scaled by log2(e)) so softmax
//   needs only exp2, built here from a polynomial and exponent bits. Value
//   rows then accumulate into the state rows with FMAs, chunk by chunk;
//   pairs no query may attend are skipped there, never multiplied by a
//   zero weight, so a NaN or Inf value row they read cannot reach an
//   output.
//
//   dilattn.write_states: per row, mixes the states by their softmax
//   denominators and writes the normalised row (or zeros).
//
// Scratch buffers are stack allocations at function entry: no heap traffic in
// the kernel, and nothing grows the stack inside loops.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Dialect/DilAttn/IR/Forms.h"
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h"
#include "dilattn/Dialect/Utils/ArithEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <limits>

namespace mlir::dilattn {
#define GEN_PASS_DEF_DILATTNLOWERTOVECTOR
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h.inc"
} // namespace mlir::dilattn

using namespace mlir;
using namespace mlir::dilattn;

namespace {

constexpr double kLog2E = 1.4426950408889634;

/// The CPU kernels' code-building helpers at one insertion point: the
/// shared arith helpers plus loops, vectors, memory and exp2. Each helper
/// creates its operands' ops in a fixed order: C++ leaves the order of a
/// call's arguments unspecified, and the IR must not depend on the host
/// compiler.
struct KernelBuilder : ArithEmitter {
  KernelBuilder(OpBuilder &b, Location loc) : ArithEmitter{b, loc} {}

  /// scf.for from `lower` to `upper` by `step`, constants created in that
  /// order.
  scf::ForOp forLoop(int64_t lower, Value upper, int64_t step,
                     ValueRange iterArgs = {}) {
    Value lowerValue = idx(lower);
    Value stepValue = idx(step);
    return scf::ForOp::create(b, loc, lowerValue, upper, stepValue, iterArgs);
  }
  scf::ForOp forLoop(int64_t lower, int64_t upper, int64_t step,
                     ValueRange iterArgs = {}) {
    Value lowerValue = idx(lower);
    Value upperValue = idx(upper);
    Value stepValue = idx(step);
    return scf::ForOp::create(b, loc, lowerValue, upperValue, stepValue,
                              iterArgs);
  }
  Value splat(VectorType type, double value) {
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(type, b.getF32FloatAttr(value)));
  }
  Value broadcast(VectorType type, Value scalar) {
    return vector::BroadcastOp::create(b, loc, type, scalar);
  }
  Value fma(Value x, Value y, Value acc) {
    return vector::FMAOp::create(b, loc, x, y, acc);
  }
  Value load(Value memref, ValueRange indices) {
    return memref::LoadOp::create(b, loc, memref, indices);
  }
  void store(Value value, Value memref, ValueRange indices) {
    memref::StoreOp::create(b, loc, value, memref, indices);
  }
  Value vload(VectorType type, Value memref, ValueRange indices) {
    return vector::LoadOp::create(b, loc, type, memref, indices);
  }
  void vstore(Value value, Value memref, ValueRange indices) {
    vector::StoreOp::create(b, loc, value, memref, indices);
  }
  Value reduce(vector::CombiningKind kind, Value vector) {
    return vector::ReductionOp::create(b, loc, kind, vector);
  }

  /// 2^x for x <= 0 (larger inputs are not needed: scores are shifted by
  /// their running maximum). n = round(x), f = x - n in [-0.5, 0.5],
  /// 2^f from Cephes' exp2f polynomial (relative error ~1.2e-7), 2^n from
  /// exponent bits. Inputs below -126 (and -inf) give exactly 0, which the
  /// softmax relies on for masked keys.
  Value exp2(Value x) {
    auto type = cast<VectorType>(x.getType());
    Value lower = splat(type, -126.0);
    Value tiny = fcmp(arith::CmpFPredicate::ULT, x, lower);
    Value clamped = maxnumf(x, lower);
    Value n = math::RoundEvenOp::create(b, loc, clamped);
    Value f = subf(clamped, n);
    static const double coefficients[] = {
        1.535336188319500e-4, 1.339887440266574e-3, 9.618437357674640e-3,
        5.550332471162809e-2, 2.402264791363012e-1, 6.931472028550421e-1};
    Value p = splat(type, coefficients[0]);
    for (double coefficient : llvm::drop_begin(coefficients))
      p = fma(p, f, splat(type, coefficient));
    p = fma(p, f, splat(type, 1.0));
    auto intType = VectorType::get(type.getShape(), b.getI32Type());
    Value ni = arith::FPToSIOp::create(b, loc, intType, n);
    Value biased = arith::AddIOp::create(
        b, loc, ni,
        arith::ConstantOp::create(
            b, loc, DenseElementsAttr::get(intType, b.getI32IntegerAttr(127))));
    Value bits = arith::ShLIOp::create(
        b, loc, biased,
        arith::ConstantOp::create(
            b, loc, DenseElementsAttr::get(intType, b.getI32IntegerAttr(23))));
    Value scaleBits = arith::BitcastOp::create(b, loc, type, bits);
    Value scaled = mulf(p, scaleBits);
    Value zero = splat(type, 0.0);
    return select(tiny, zero, scaled);
  }

  /// Scalar 2^x through a one-lane vector (same polynomial, no libm).
  Value exp2Scalar(Value x) {
    auto type = VectorType::get({1}, b.getF32Type());
    Value vector = exp2(broadcast(type, x));
    return vector::ExtractOp::create(b, loc, vector, ArrayRef<int64_t>{0});
  }
};

/// Head dims up to this many vectors get one copy of the per-chunk code per
/// chunk (constant columns, straight-line code for the usual D <= 128).
/// Larger ones loop over their full chunks: the copies, each with its own
/// key loop in the P*V update, made code size linear in D, and LLVM's loop
/// passes (rotation, runtime unrolling with remainders, strength reduction)
/// then took minutes for D = 6194 (docs/reliability.md, finding 9).
constexpr int64_t kMaxUnrolledChunks = 16;

/// Calls `body(column, width)` for the column chunks [column, column +
/// width) covering a row of `headDim` elements with vectors of at most
/// `vectorWidth` lanes: each chunk emitted apart when there are at most
/// kMaxUnrolledChunks, else the full chunks in one scf.for and the
/// remainder (if any) after it.
void forEachChunk(KernelBuilder &kb, int64_t headDim, int64_t vectorWidth,
                  llvm::function_ref<void(Value, int64_t)> body) {
  int64_t numChunks = llvm::divideCeil(headDim, vectorWidth);
  if (numChunks <= kMaxUnrolledChunks) {
    for (int64_t start = 0; start < headDim; start += vectorWidth)
      body(kb.idx(start), std::min(vectorWidth, headDim - start));
    return;
  }
  int64_t fullEnd = headDim - headDim % vectorWidth;
  auto chunks = kb.forLoop(0, fullEnd, vectorWidth);
  {
    OpBuilder::InsertionGuard guard(kb.b);
    kb.b.setInsertionPointToStart(chunks.getBody());
    body(chunks.getInductionVar(), vectorWidth);
  }
  if (fullEnd < headDim)
    body(kb.idx(fullEnd), headDim - fullEnd);
}

/// The (start, width) column chunks of a row of `headDim` elements, for code
/// that emits every chunk apart. The backward lowering still does so for
/// every head dim, so its code grows with D (forEachChunk bounds the
/// forward's).
SmallVector<std::pair<int64_t, int64_t>> chunksOf(int64_t headDim,
                                                  int64_t vectorWidth) {
  SmallVector<std::pair<int64_t, int64_t>> chunks;
  for (int64_t start = 0; start < headDim; start += vectorWidth)
    chunks.push_back({start, std::min(vectorWidth, headDim - start)});
  return chunks;
}

/// Allocates a scratch buffer at the entry of the function enclosing `op`.
Value entryAlloca(Operation *op, MemRefType type) {
  auto function = op->getParentOfType<FunctionOpInterface>();
  OpBuilder builder(op->getContext());
  builder.setInsertionPointToStart(&function.getFunctionBody().front());
  return memref::AllocaOp::create(builder, op->getLoc(), type);
}

struct LoweringOptions {
  int64_t vectorWidth;
  int64_t tileQueries;
  int64_t tileKeys;
};

class SegmentAttentionLowering {
public:
  SegmentAttentionLowering(SegmentAttentionOp op,
                           const LoweringOptions &options)
      : op(op), options(options), builder(op), kb{builder, op.getLoc()},
        headDim(cast<MemRefType>(op.getQuery().getType()).getDimSize(1)),
        numKeyVectors(options.tileKeys / options.vectorWidth),
        keyVectorType(
            VectorType::get({options.vectorWidth}, builder.getF32Type())) {}

  LogicalResult lower();

private:
  /// One register tile of `rows` query rows starting at `queryRow` against
  /// the packed key block starting at key `keyStart` with `keyCount` keys.
  void emitTile(int64_t rows, Value queryRow, Value keyStart, Value keyCount,
                ArrayRef<Value> keyBias, ArrayRef<Value> keyValid);
  void emitPackKeys(Value keyStart, Value numKeys);

  SegmentAttentionOp op;
  LoweringOptions options;
  OpBuilder builder;
  KernelBuilder kb;
  int64_t headDim;
  int64_t numKeyVectors;
  VectorType keyVectorType;
  Value packedKeys; // memref<D x tileKeys x f32>: keys of a block, transposed
  Value probabilities;   // memref<tileQueries x tileKeys x f32>
  double scoreScale = 0; // scale * log2(e)
};

void SegmentAttentionLowering::emitPackKeys(Value keyStart, Value numKeys) {
  // Kt[d][j] = K[min(keyStart + j, numKeys - 1)][d]: clamping keeps loads in
  // bounds; keys past the end are masked out of the scores afterwards. Loops,
  // not unrolled code: this runs once per key block and keeps compiles fast.
  Value lastKey = kb.sub(numKeys, kb.idx(1));
  auto keys = kb.forLoop(0, options.tileKeys, 1);
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(keys.getBody());
  Value j = keys.getInductionVar();
  Value row = kb.min(kb.add(keyStart, j), lastKey);
  auto dims = kb.forLoop(0, headDim, 1);
  builder.setInsertionPointToStart(dims.getBody());
  Value d = dims.getInductionVar();
  kb.store(kb.load(op.getKey(), {row, d}), packedKeys, {d, j});
}

void SegmentAttentionLowering::emitTile(int64_t rows, Value queryRow,
                                        Value keyStart, Value keyCount,
                                        ArrayRef<Value> keyBias,
                                        ArrayRef<Value> keyValid) {
  Location loc = kb.loc;
  Value query = op.getQuery();
  int64_t numAccumulators = rows * numKeyVectors;

  // Scores: S[r][v] = sum_d Q[row r][d] * Kt[d][v-th vector].
  SmallVector<Value> zeroScores(numAccumulators, kb.splat(keyVectorType, 0.0));
  auto dLoop = kb.forLoop(0, headDim, 1, zeroScores);
  {
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(dLoop.getBody());
    Value d = dLoop.getInductionVar();
    SmallVector<Value> keyVectors;
    for (int64_t v = 0; v < numKeyVectors; ++v)
      keyVectors.push_back(kb.vload(keyVectorType, packedKeys,
                                    {d, kb.idx(v * options.vectorWidth)}));
    SmallVector<Value> next;
    for (int64_t r = 0; r < rows; ++r) {
      Value row = kb.add(queryRow, kb.idx(r));
      Value q = kb.broadcast(keyVectorType, kb.load(query, {row, d}));
      for (int64_t v = 0; v < numKeyVectors; ++v)
        next.push_back(
            kb.fma(q, keyVectors[v],
                   dLoop.getRegionIterArgs()[r * numKeyVectors + v]));
    }
    scf::YieldOp::create(builder, loc, next);
  }
  SmallVector<Value> scores(dLoop.getResults());

  Value negInfVector =
      kb.splat(keyVectorType, -std::numeric_limits<double>::infinity());
  Value scaleVector = kb.splat(keyVectorType, scoreScale);
  Value log2e = kb.splat(keyVectorType, kLog2E);
  Value keyEnd = kb.add(keyStart, keyCount);
  Value lastKey = kb.sub(keyEnd, kb.idx(1));
  auto i32Vector = VectorType::get({options.vectorWidth}, builder.getI32Type());
  for (int64_t r = 0; r < rows; ++r) {
    Value row = kb.add(queryRow, kb.idx(r));
    // Causal: key j of the segment is visible to query row r when
    // j <= query_start + row.
    Value causalLimit;
    if (Value queryStart = op.getQueryStart()) {
      Value position = kb.add(queryStart, row);
      Value relative = kb.sub(position, keyStart); // may wrap below zero
      Value limit = arith::IndexCastOp::create(builder, loc,
                                               builder.getI32Type(), relative);
      causalLimit = vector::BroadcastOp::create(builder, loc, i32Vector, limit);
    }
    for (int64_t v = 0; v < numKeyVectors; ++v) {
      Value &score = scores[r * numKeyVectors + v];
      score = kb.fma(score, scaleVector, keyBias[v]);
      if (Value attnBias = op.getAttnBias()) {
        SmallVector<Value> elements;
        for (int64_t e = 0; e < options.vectorWidth; ++e) {
          Value key = kb.min(
              kb.add(keyStart, kb.idx(v * options.vectorWidth + e)), lastKey);
          elements.push_back(kb.load(attnBias, {row, key}));
        }
        Value bias = vector::FromElementsOp::create(builder, loc, keyVectorType,
                                                    elements);
        score = kb.fma(bias, log2e, score);
      }
      Value valid = keyValid[v];
      if (causalLimit) {
        SmallVector<int32_t> lanes;
        for (int64_t e = 0; e < options.vectorWidth; ++e)
          lanes.push_back(static_cast<int32_t>(v * options.vectorWidth + e));
        Value laneIndex = arith::ConstantOp::create(
            builder, loc, DenseElementsAttr::get(i32Vector, ArrayRef(lanes)));
        Value visible = arith::CmpIOp::create(
            builder, loc, arith::CmpIPredicate::sle, laneIndex, causalLimit);
        valid = arith::AndIOp::create(builder, loc, valid, visible);
      }
      score = kb.select(valid, score, negInfVector);
    }
  }

  // Online softmax update per row; P goes to the probabilities buffer, with
  // -1 (never a probability) for the pairs no query may attend: masked,
  // causally hidden, past the block, or with a NaN score (dropped like a
  // masked pair). Their p is 0, but 0 * V is NaN where a value row holds NaN
  // or an infinity, so the P*V update must skip them, not multiply them
  // (Contract.md section 1.4: only allowed keys contribute). `clean` tracks
  // whether every pair of the tile within the block is allowed, as almost
  // all are without masks or off the causal diagonal: such tiles keep the
  // plain FMA loop.
  Value negInf = kb.f32(-std::numeric_limits<double>::infinity());
  Value zero = kb.f32(0.0);
  Value notAProbability = kb.splat(keyVectorType, -1.0);
  auto maskType = VectorType::get({options.vectorWidth}, builder.getI1Type());
  Value allLanes = arith::ConstantOp::create(
      builder, loc, DenseElementsAttr::get(maskType, true));
  SmallVector<Value> pastBlock;
  for (int64_t v = 0; v < numKeyVectors; ++v)
    pastBlock.push_back(
        arith::XOrIOp::create(builder, loc, keyValid[v], allLanes));
  Value clean;
  SmallVector<Value> corrections, rowSums, shiftDeltas;
  for (int64_t r = 0; r < rows; ++r) {
    Value row = kb.add(queryRow, kb.idx(r));
    Value rowMaxVector = scores[r * numKeyVectors];
    for (int64_t v = 1; v < numKeyVectors; ++v)
      rowMaxVector = kb.maxnumf(rowMaxVector, scores[r * numKeyVectors + v]);
    Value rowMax = kb.reduce(vector::CombiningKind::MAXNUMF, rowMaxVector);
    Value oldMax = kb.load(op.getStateMax(), {row});
    Value newMax = kb.maxnumf(oldMax, rowMax);
    // A row that has seen only masked keys keeps max -inf; shift by 0 then so
    // that exp2 gives exact zeros instead of NaN.
    Value isEmpty = kb.fcmp(arith::CmpFPredicate::OEQ, newMax, negInf);
    Value shift = kb.select(isEmpty, zero, newMax);
    Value shiftVector = kb.broadcast(keyVectorType, shift);
    Value rowSumVector = kb.splat(keyVectorType, 0.0);
    for (int64_t v = 0; v < numKeyVectors; ++v) {
      Value score = scores[r * numKeyVectors + v];
      Value p = kb.exp2(kb.subf(score, shiftVector));
      rowSumVector = kb.addf(rowSumVector, p);
      Value allowed = kb.fcmp(arith::CmpFPredicate::OGT, score, negInfVector);
      Value covered = kb.ori(allowed, pastBlock[v]);
      clean = clean ? kb.andi(clean, covered) : covered;
      // Operands in statements of their own: the IR is the same whichever
      // order the host compiler evaluates call arguments in.
      Value tileRow = kb.idx(r), column = kb.idx(v * options.vectorWidth);
      Value stored = kb.select(allowed, p, notAProbability);
      kb.vstore(stored, probabilities, {tileRow, column});
    }
    rowSums.push_back(kb.reduce(vector::CombiningKind::ADD, rowSumVector));
    shiftDeltas.push_back(kb.subf(oldMax, shift));
    kb.store(newMax, op.getStateMax(), {row});
  }
  // The rescale factors of all rows from one vector exp2.
  auto deltaType = VectorType::get({rows}, builder.getF32Type());
  Value factors = kb.exp2(
      vector::FromElementsOp::create(builder, kb.loc, deltaType, shiftDeltas));
  for (int64_t r = 0; r < rows; ++r) {
    Value row = kb.add(queryRow, kb.idx(r));
    Value correction = vector::ExtractOp::create(builder, kb.loc, factors,
                                                 ArrayRef<int64_t>{r});
    Value oldSum = kb.load(op.getStateSum(), {row});
    kb.store(kb.addf(kb.mulf(oldSum, correction), rowSums[r]), op.getStateSum(),
             {row});
    corrections.push_back(correction);
  }

  Value tileClean = kb.reduce(vector::CombiningKind::AND, clean);

  // acc[r] = acc[r] * correction[r] + sum_j P[r][j] * V[keyStart + j] over
  // the allowed pairs (r, j).
  forEachChunk(
      kb, headDim, options.vectorWidth, [&](Value start, int64_t width) {
        auto type = VectorType::get({width}, builder.getF32Type());
        SmallVector<Value> accumulators;
        for (int64_t r = 0; r < rows; ++r) {
          Value row = kb.add(queryRow, kb.idx(r));
          Value acc = kb.vload(type, op.getStateAcc(), {row, start});
          accumulators.push_back(
              kb.mulf(acc, kb.broadcast(type, corrections[r])));
        }
        // The key loop; `guarded`: each FMA kept only where its pair is allowed
        // (a select per row and key, for the tiles that need it).
        auto emitKeyLoop = [&](bool guarded) {
          auto jLoop = kb.forLoop(0, keyCount, 1, accumulators);
          OpBuilder::InsertionGuard guard(builder);
          builder.setInsertionPointToStart(jLoop.getBody());
          Value j = jLoop.getInductionVar();
          Value value =
              kb.vload(type, op.getValue(), {kb.add(keyStart, j), start});
          SmallVector<Value> next;
          for (int64_t r = 0; r < rows; ++r) {
            Value p = kb.load(probabilities, {kb.idx(r), j});
            Value acc = jLoop.getRegionIterArgs()[r];
            Value sum = kb.fma(kb.broadcast(type, p), value, acc);
            if (guarded)
              sum = kb.select(kb.fcmp(arith::CmpFPredicate::OGE, p, zero), sum,
                              acc);
            next.push_back(sum);
          }
          scf::YieldOp::create(builder, loc, next);
          return jLoop;
        };
        auto ifClean = scf::IfOp::create(builder, loc, TypeRange(accumulators),
                                         tileClean, /*withElseRegion=*/true);
        {
          OpBuilder::InsertionGuard guard(builder);
          builder.setInsertionPointToStart(ifClean.thenBlock());
          scf::YieldOp::create(builder, loc, emitKeyLoop(false).getResults());
          builder.setInsertionPointToStart(ifClean.elseBlock());
          scf::YieldOp::create(builder, loc, emitKeyLoop(true).getResults());
        }
        for (int64_t r = 0; r < rows; ++r) {
          Value row = kb.add(queryRow, kb.idx(r));
          kb.vstore(ifClean.getResult(r), op.getStateAcc(), {row, start});
        }
      });
}

LogicalResult SegmentAttentionLowering::lower() {
  if (ShapedType::isDynamic(headDim))
    return op.emitOpError() << "vector lowering needs a static head dim";
  for (Value operand : op->getOperands()) {
    auto type = dyn_cast<MemRefType>(operand.getType());
    if (type && !type.getElementType().isF32())
      return op.emitOpError()
             << "vector lowering supports f32 buffers only, got " << type;
  }
  Location loc = kb.loc;
  Type f32 = builder.getF32Type();
  packedKeys =
      entryAlloca(op, MemRefType::get({headDim, options.tileKeys}, f32));
  probabilities = entryAlloca(
      op, MemRefType::get({options.tileQueries, options.tileKeys}, f32));
  scoreScale = op.getScale().convertToDouble() * kLog2E;

  Value numQueries = memref::DimOp::create(builder, loc, op.getQuery(), 0);
  Value numKeys = memref::DimOp::create(builder, loc, op.getKey(), 0);
  Value tileKeys = kb.idx(options.tileKeys);
  auto keyBlocks =
      scf::ForOp::create(builder, loc, kb.idx(0), numKeys, tileKeys);
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(keyBlocks.getBody());
  Value keyStart = keyBlocks.getInductionVar();
  Value keyCount = kb.min(tileKeys, kb.sub(numKeys, keyStart));
  emitPackKeys(keyStart, numKeys);

  // Per key vector: validity (inside the segment's selection) and the key
  // bias in log2 units, shared by every query tile of the block.
  auto i32Vector = VectorType::get({options.vectorWidth}, builder.getI32Type());
  Value count32 =
      arith::IndexCastOp::create(builder, loc, builder.getI32Type(), keyCount);
  Value countVector =
      vector::BroadcastOp::create(builder, loc, i32Vector, count32);
  SmallVector<Value> keyValid, keyBias;
  Value lastKey = kb.sub(numKeys, kb.idx(1));
  for (int64_t v = 0; v < numKeyVectors; ++v) {
    SmallVector<int32_t> lanes;
    for (int64_t e = 0; e < options.vectorWidth; ++e)
      lanes.push_back(static_cast<int32_t>(v * options.vectorWidth + e));
    Value laneIndex = arith::ConstantOp::create(
        builder, loc, DenseElementsAttr::get(i32Vector, ArrayRef(lanes)));
    keyValid.push_back(arith::CmpIOp::create(
        builder, loc, arith::CmpIPredicate::slt, laneIndex, countVector));
    if (Value bias = op.getKeyBias()) {
      SmallVector<Value> elements;
      for (int64_t e = 0; e < options.vectorWidth; ++e) {
        Value key = kb.min(
            kb.add(keyStart, kb.idx(v * options.vectorWidth + e)), lastKey);
        elements.push_back(kb.load(bias, {key}));
      }
      Value vector =
          vector::FromElementsOp::create(builder, loc, keyVectorType, elements);
      keyBias.push_back(kb.mulf(vector, kb.splat(keyVectorType, kLog2E)));
    } else {
      keyBias.push_back(kb.splat(keyVectorType, 0.0));
    }
  }

  // Causal: queries before keyStart see nothing of this block.
  Value firstQuery = kb.idx(0);
  if (Value queryStart = op.getQueryStart()) {
    Value past = arith::CmpIOp::create(builder, loc, arith::CmpIPredicate::ugt,
                                       keyStart, queryStart);
    Value zero = kb.idx(0);
    Value skipped = kb.min(kb.sub(keyStart, queryStart), numQueries);
    firstQuery = kb.select(past, skipped, zero);
  }
  Value tileRows = kb.idx(options.tileQueries);
  Value remaining = kb.sub(numQueries, firstQuery);
  Value mainEnd = kb.add(
      firstQuery,
      arith::MulIOp::create(
          builder, loc,
          arith::DivUIOp::create(builder, loc, remaining, tileRows), tileRows));
  auto mainTiles =
      scf::ForOp::create(builder, loc, firstQuery, mainEnd, tileRows);
  {
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(mainTiles.getBody());
    emitTile(options.tileQueries, mainTiles.getInductionVar(), keyStart,
             keyCount, keyBias, keyValid);
  }
  auto tailRows =
      scf::ForOp::create(builder, loc, mainEnd, numQueries, kb.idx(1));
  {
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(tailRows.getBody());
    emitTile(1, tailRows.getInductionVar(), keyStart, keyCount, keyBias,
             keyValid);
  }
  return success();
}

/// dilattn.segment_attention_grad as FlashAttention-2's backward on one
/// segment: for each block of `tile-keys` keys (K and V packed transposed
/// once per block) and each tile of query rows, the scores S = Q K^T and
/// dP = dO V^T accumulate in registers like the forward scores; the
/// probabilities come back from the saved statistics, P = 2^(S - lse)
/// (log2 units), and dS = P (c dP - Delta) with Delta = rowsum(dO * O).
/// Then dQ rows accumulate dS K (the tile's rows own them), and the block's
/// dK and dV rows accumulate dS^T Q and c P^T dO. dQ is accumulated in place
/// because one work item owns every row of its head (no atomics, no second
/// pass over the keys). Causal tiles that see none of a key block are
/// skipped.
class SegmentAttentionGradLowering {
public:
  SegmentAttentionGradLowering(SegmentAttentionGradOp op,
                               const LoweringOptions &options)
      : op(op), options(options), builder(op), kb{builder, op.getLoc()},
        headDim(cast<MemRefType>(op.getQuery().getType()).getDimSize(1)),
        numKeyVectors(options.tileKeys / options.vectorWidth),
        keyVectorType(
            VectorType::get({options.vectorWidth}, builder.getF32Type())) {}

  LogicalResult lower();

private:
  void emitPack(Value source, Value packed, Value keyStart, Value numKeys);
  /// Row-times-packed-block products: acc[r][v] = sum_d rows[queryRow +
  /// r][d] * packed[d][v-th vector].
  SmallVector<Value> emitProducts(int64_t rows, Value source, Value packed,
                                  Value queryRow);
  void emitTile(int64_t rows, Value queryRow, Value keyStart, Value keyCount,
                ArrayRef<Value> keyBias, ArrayRef<Value> keyValid);

  SegmentAttentionGradOp op;
  LoweringOptions options;
  OpBuilder builder;
  KernelBuilder kb;
  int64_t headDim;
  int64_t numKeyVectors;
  VectorType keyVectorType;
  Value packedKeys, packedValues; // memref<D x tileKeys x f32>
  Value probabilities;            // c * P, memref<tileQueries x tileKeys>
  Value dScores;                  // scale * dS, same shape
};

void SegmentAttentionGradLowering::emitPack(Value source, Value packed,
                                            Value keyStart, Value numKeys) {
  // Clamped rows keep loads in bounds; keys past the end are masked.
  Value lastKey = kb.sub(numKeys, kb.idx(1));
  auto keys = kb.forLoop(0, options.tileKeys, 1);
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(keys.getBody());
  Value j = keys.getInductionVar();
  Value row = kb.min(kb.add(keyStart, j), lastKey);
  auto dims = kb.forLoop(0, headDim, 1);
  builder.setInsertionPointToStart(dims.getBody());
  Value d = dims.getInductionVar();
  kb.store(kb.load(source, {row, d}), packed, {d, j});
}

SmallVector<Value> SegmentAttentionGradLowering::emitProducts(int64_t rows,
                                                              Value source,
                                                              Value packed,
                                                              Value queryRow) {
  SmallVector<Value> zeros(rows * numKeyVectors, kb.splat(keyVectorType, 0.0));
  auto dLoop = kb.forLoop(0, headDim, 1, zeros);
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(dLoop.getBody());
  Value d = dLoop.getInductionVar();
  SmallVector<Value> packedVectors;
  for (int64_t v = 0; v < numKeyVectors; ++v)
    packedVectors.push_back(
        kb.vload(keyVectorType, packed, {d, kb.idx(v * options.vectorWidth)}));
  SmallVector<Value> next;
  for (int64_t r = 0; r < rows; ++r) {
    Value row = kb.add(queryRow, kb.idx(r));
    Value x = kb.broadcast(keyVectorType, kb.load(source, {row, d}));
    for (int64_t v = 0; v < numKeyVectors; ++v)
      next.push_back(kb.fma(x, packedVectors[v],
                            dLoop.getRegionIterArgs()[r * numKeyVectors + v]));
  }
  scf::YieldOp::create(builder, kb.loc, next);
  return SmallVector<Value>(dLoop.getResults());
}

void SegmentAttentionGradLowering::emitTile(int64_t rows, Value queryRow,
                                            Value keyStart, Value keyCount,
                                            ArrayRef<Value> keyBias,
                                            ArrayRef<Value> keyValid) {
  Location loc = kb.loc;
  SmallVector<Value> scores =
      emitProducts(rows, op.getQuery(), packedKeys, queryRow);
  SmallVector<Value> dProbabilities =
      emitProducts(rows, op.getGradOutput(), packedValues, queryRow);

  double outputScale = op.getOutputScale().convertToDouble();
  Value negInfVector =
      kb.splat(keyVectorType, -std::numeric_limits<double>::infinity());
  Value scoreScale =
      kb.splat(keyVectorType, op.getScale().convertToDouble() * kLog2E);
  Value log2e = kb.splat(keyVectorType, kLog2E);
  Value outputScaleVector = kb.splat(keyVectorType, outputScale);
  Value gradScale = kb.splat(keyVectorType, op.getScale().convertToDouble());
  Value keyEnd = kb.add(keyStart, keyCount);
  Value lastKey = kb.sub(keyEnd, kb.idx(1));
  Value negInf = kb.f32(-std::numeric_limits<double>::infinity());
  Value zero = kb.f32(0.0);
  Value log2eScalar = kb.f32(kLog2E);
  auto i32Vector = VectorType::get({options.vectorWidth}, builder.getI32Type());
  // Ops are created one per statement (or nested), never two in one call's
  // arguments: C++ leaves their order unspecified.
  for (int64_t r = 0; r < rows; ++r) {
    Value row = kb.add(queryRow, kb.idx(r));
    // Delta = <dO, O>: equals sum_j P dP of the row in both modes. Full
    // chunks accumulate lane-wise and are reduced once (a reduction is a
    // shuffle tree); a narrower last chunk is reduced on its own.
    Value deltaScalar, deltaLanes;
    for (auto [start, width] : chunksOf(headDim, options.vectorWidth)) {
      auto type = VectorType::get({width}, builder.getF32Type());
      Value gradRow = kb.vload(type, op.getGradOutput(), {row, kb.idx(start)});
      Value outRow = kb.vload(type, op.getOutput(), {row, kb.idx(start)});
      if (width == options.vectorWidth) {
        deltaLanes = deltaLanes ? kb.fma(gradRow, outRow, deltaLanes)
                                : kb.mulf(gradRow, outRow);
        continue;
      }
      Value product = kb.mulf(gradRow, outRow);
      deltaScalar = kb.reduce(vector::CombiningKind::ADD, product);
    }
    if (deltaLanes) {
      Value full = kb.reduce(vector::CombiningKind::ADD, deltaLanes);
      deltaScalar = deltaScalar ? kb.addf(full, deltaScalar) : full;
    }
    Value delta = kb.broadcast(keyVectorType, deltaScalar);
    // A row without allowed keys has lse = -inf: shift by 0 so that its
    // (all -inf) scores give exact zeros, never NaN.
    Value lse = kb.mulf(kb.load(op.getLse(), {row}), log2eScalar);
    Value shift =
        kb.select(kb.fcmp(arith::CmpFPredicate::OEQ, lse, negInf), zero, lse);
    Value shiftVector = kb.broadcast(keyVectorType, shift);
    Value causalLimit;
    if (Value queryStart = op.getQueryStart()) {
      Value relative = kb.sub(kb.add(queryStart, row), keyStart);
      Value limit = arith::IndexCastOp::create(builder, loc,
                                               builder.getI32Type(), relative);
      causalLimit = vector::BroadcastOp::create(builder, loc, i32Vector, limit);
    }
    for (int64_t v = 0; v < numKeyVectors; ++v) {
      Value score =
          kb.fma(scores[r * numKeyVectors + v], scoreScale, keyBias[v]);
      if (Value attnBias = op.getAttnBias()) {
        SmallVector<Value> elements;
        for (int64_t e = 0; e < options.vectorWidth; ++e) {
          Value key = kb.min(
              kb.add(keyStart, kb.idx(v * options.vectorWidth + e)), lastKey);
          elements.push_back(kb.load(attnBias, {row, key}));
        }
        Value bias = vector::FromElementsOp::create(builder, loc, keyVectorType,
                                                    elements);
        score = kb.fma(bias, log2e, score);
      }
      Value valid = keyValid[v];
      if (causalLimit) {
        SmallVector<int32_t> lanes;
        for (int64_t e = 0; e < options.vectorWidth; ++e)
          lanes.push_back(static_cast<int32_t>(v * options.vectorWidth + e));
        Value laneIndex = arith::ConstantOp::create(
            builder, loc, DenseElementsAttr::get(i32Vector, ArrayRef(lanes)));
        Value visible = arith::CmpIOp::create(
            builder, loc, arith::CmpIPredicate::sle, laneIndex, causalLimit);
        valid = arith::AndIOp::create(builder, loc, valid, visible);
      }
      score = kb.select(valid, score, negInfVector);
      Value p = kb.exp2(kb.subf(score, shiftVector));
      Value dP =
          kb.mulf(dProbabilities[r * numKeyVectors + v], outputScaleVector);
      Value dS = kb.mulf(p, kb.subf(dP, delta));
      Value tileRow = kb.idx(r);
      Value column = kb.idx(v * options.vectorWidth);
      Value scaledP = kb.mulf(p, outputScaleVector);
      kb.vstore(scaledP, probabilities, {tileRow, column});
      Value scaledDS = kb.mulf(dS, gradScale);
      kb.vstore(scaledDS, dScores, {tileRow, column});
    }
  }

  for (auto [start, width] : chunksOf(headDim, options.vectorWidth)) {
    auto type = VectorType::get({width}, builder.getF32Type());
    Value column = kb.idx(start);
    // dQ[row] += sum_j scale dS[r][j] K[j].
    {
      SmallVector<Value> accumulators;
      for (int64_t r = 0; r < rows; ++r)
        accumulators.push_back(kb.vload(type, op.getGradQuery(),
                                        {kb.add(queryRow, kb.idx(r)), column}));
      auto jLoop = kb.forLoop(0, keyCount, 1, accumulators);
      OpBuilder::InsertionGuard guard(builder);
      builder.setInsertionPointToStart(jLoop.getBody());
      Value j = jLoop.getInductionVar();
      Value key = kb.vload(type, op.getKey(), {kb.add(keyStart, j), column});
      SmallVector<Value> next;
      for (int64_t r = 0; r < rows; ++r) {
        Value dS = kb.broadcast(type, kb.load(dScores, {kb.idx(r), j}));
        next.push_back(kb.fma(dS, key, jLoop.getRegionIterArgs()[r]));
      }
      scf::YieldOp::create(builder, loc, next);
      builder.setInsertionPointAfter(jLoop);
      for (int64_t r = 0; r < rows; ++r)
        kb.vstore(jLoop.getResult(r), op.getGradQuery(),
                  {kb.add(queryRow, kb.idx(r)), column});
    }
  }

  // dK[j] += sum_r scale dS[r][j] Q[r]; dV[j] += sum_r c P[r][j] dO[r]: for
  // a few keys at a time, their rows (a slice of chunks) accumulate in
  // registers while the tile's rows stream: per row, one load per chunk
  // feeds `keysAtOnce` FMAs, and the accumulators are independent chains
  // (one key's sum over the rows alone would wait on FMA latency).
  SmallVector<std::pair<int64_t, int64_t>> chunks =
      chunksOf(headDim, options.vectorWidth);
  int64_t budget = options.vectorWidth >= 16 ? 16 : 8;
  int64_t numChunks = static_cast<int64_t>(chunks.size());
  int64_t keysAtOnce = std::clamp<int64_t>(budget / numChunks, 1, 4);
  int64_t chunksAtOnce = std::max<int64_t>(1, budget / keysAtOnce);
  Value keysAtOnceValue = kb.idx(keysAtOnce);
  Value groupedKeys =
      kb.mul(kb.div(keyCount, keysAtOnceValue), keysAtOnceValue);
  for (auto [source, weights, target] :
       {std::tuple(op.getQuery(), dScores, op.getGradKey()),
        std::tuple(op.getGradOutput(), probabilities, op.getGradValue())}) {
    auto emitKeys = [&, weights = weights, target = target,
                     source = source](Value j, int64_t count) {
      SmallVector<Value> keyRows;
      for (int64_t u = 0; u < count; ++u)
        keyRows.push_back(kb.add(keyStart, kb.add(j, kb.idx(u))));
      for (int64_t first = 0; first < numChunks; first += chunksAtOnce) {
        ArrayRef<std::pair<int64_t, int64_t>> slice = ArrayRef(chunks).slice(
            first, std::min(chunksAtOnce, numChunks - first));
        // accumulators[u * slice.size() + c]
        SmallVector<Value> accumulators;
        for (int64_t u = 0; u < count; ++u)
          for (auto [start, width] : slice) {
            auto type = VectorType::get({width}, builder.getF32Type());
            accumulators.push_back(
                kb.vload(type, target, {keyRows[u], kb.idx(start)}));
          }
        for (int64_t r = 0; r < rows; ++r) {
          Value row = kb.add(queryRow, kb.idx(r));
          SmallVector<Value> tileWeights;
          for (int64_t u = 0; u < count; ++u)
            tileWeights.push_back(
                kb.load(weights, {kb.idx(r), kb.add(j, kb.idx(u))}));
          for (auto [c, chunk] : llvm::enumerate(slice)) {
            auto type = VectorType::get({chunk.second}, builder.getF32Type());
            Value rowChunk = kb.vload(type, source, {row, kb.idx(chunk.first)});
            for (int64_t u = 0; u < count; ++u) {
              Value &acc = accumulators[u * slice.size() + c];
              acc = kb.fma(kb.broadcast(type, tileWeights[u]), rowChunk, acc);
            }
          }
        }
        for (int64_t u = 0; u < count; ++u)
          for (auto [c, chunk] : llvm::enumerate(slice))
            kb.vstore(accumulators[u * slice.size() + c], target,
                      {keyRows[u], kb.idx(chunk.first)});
      }
    };
    {
      auto groups = kb.forLoop(0, groupedKeys, keysAtOnce);
      OpBuilder::InsertionGuard guard(builder);
      builder.setInsertionPointToStart(groups.getBody());
      emitKeys(groups.getInductionVar(), keysAtOnce);
    }
    auto rest =
        scf::ForOp::create(builder, loc, groupedKeys, keyCount, kb.idx(1));
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(rest.getBody());
    emitKeys(rest.getInductionVar(), 1);
  }
}

LogicalResult SegmentAttentionGradLowering::lower() {
  if (ShapedType::isDynamic(headDim))
    return op.emitOpError() << "vector lowering needs a static head dim";
  for (Value operand : op->getOperands()) {
    auto type = dyn_cast<MemRefType>(operand.getType());
    if (type && !type.getElementType().isF32())
      return op.emitOpError()
             << "vector lowering supports f32 buffers only, got " << type;
  }
  Location loc = kb.loc;
  Type f32 = builder.getF32Type();
  auto packedType = MemRefType::get({headDim, options.tileKeys}, f32);
  auto tileType = MemRefType::get({options.tileQueries, options.tileKeys}, f32);
  packedKeys = entryAlloca(op, packedType);
  packedValues = entryAlloca(op, packedType);
  probabilities = entryAlloca(op, tileType);
  dScores = entryAlloca(op, tileType);

  Value numQueries = memref::DimOp::create(builder, loc, op.getQuery(), 0);
  Value numKeys = memref::DimOp::create(builder, loc, op.getKey(), 0);
  Value tileKeys = kb.idx(options.tileKeys);
  auto keyBlocks =
      scf::ForOp::create(builder, loc, kb.idx(0), numKeys, tileKeys);
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(keyBlocks.getBody());
  Value keyStart = keyBlocks.getInductionVar();
  Value keyCount = kb.min(tileKeys, kb.sub(numKeys, keyStart));
  emitPack(op.getKey(), packedKeys, keyStart, numKeys);
  emitPack(op.getValue(), packedValues, keyStart, numKeys);

  auto i32Vector = VectorType::get({options.vectorWidth}, builder.getI32Type());
  Value count32 =
      arith::IndexCastOp::create(builder, loc, builder.getI32Type(), keyCount);
  Value countVector =
      vector::BroadcastOp::create(builder, loc, i32Vector, count32);
  SmallVector<Value> keyValid, keyBias;
  Value lastKey = kb.sub(numKeys, kb.idx(1));
  for (int64_t v = 0; v < numKeyVectors; ++v) {
    SmallVector<int32_t> lanes;
    for (int64_t e = 0; e < options.vectorWidth; ++e)
      lanes.push_back(static_cast<int32_t>(v * options.vectorWidth + e));
    Value laneIndex = arith::ConstantOp::create(
        builder, loc, DenseElementsAttr::get(i32Vector, ArrayRef(lanes)));
    keyValid.push_back(arith::CmpIOp::create(
        builder, loc, arith::CmpIPredicate::slt, laneIndex, countVector));
    if (Value bias = op.getKeyBias()) {
      SmallVector<Value> elements;
      for (int64_t e = 0; e < options.vectorWidth; ++e) {
        Value key = kb.min(
            kb.add(keyStart, kb.idx(v * options.vectorWidth + e)), lastKey);
        elements.push_back(kb.load(bias, {key}));
      }
      Value vector =
          vector::FromElementsOp::create(builder, loc, keyVectorType, elements);
      keyBias.push_back(kb.mulf(vector, kb.splat(keyVectorType, kLog2E)));
    } else {
      keyBias.push_back(kb.splat(keyVectorType, 0.0));
    }
  }

  // Causal: query rows before the block's first key see none of it; their
  // tiles are skipped, not computed and masked.
  Value firstQuery = kb.idx(0);
  if (Value queryStart = op.getQueryStart()) {
    Value past = arith::CmpIOp::create(builder, loc, arith::CmpIPredicate::ugt,
                                       keyStart, queryStart);
    Value skipped = kb.min(kb.sub(keyStart, queryStart), numQueries);
    firstQuery = kb.select(past, skipped, kb.idx(0));
  }
  Value tileRows = kb.idx(options.tileQueries);
  Value remaining = kb.sub(numQueries, firstQuery);
  Value mainEnd = kb.add(
      firstQuery,
      arith::MulIOp::create(
          builder, loc,
          arith::DivUIOp::create(builder, loc, remaining, tileRows), tileRows));
  auto mainTiles =
      scf::ForOp::create(builder, loc, firstQuery, mainEnd, tileRows);
  {
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(mainTiles.getBody());
    emitTile(options.tileQueries, mainTiles.getInductionVar(), keyStart,
             keyCount, keyBias, keyValid);
  }
  auto tailRows =
      scf::ForOp::create(builder, loc, mainEnd, numQueries, kb.idx(1));
  {
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(tailRows.getBody());
    emitTile(1, tailRows.getInductionVar(), keyStart, keyCount, keyBias,
             keyValid);
  }
  return success();
}

LogicalResult lowerWriteStates(WriteStatesOp op,
                               const LoweringOptions &options) {
  OpBuilder builder(op);
  KernelBuilder kb{builder, op.getLoc()};
  Location loc = op.getLoc();
  auto outputType = cast<MemRefType>(op.getOutput().getType());
  int64_t headDim = outputType.getDimSize(1);
  if (ShapedType::isDynamic(headDim) || !outputType.getElementType().isF32())
    return op.emitOpError() << "vector lowering needs a static head dim and "
                               "an f32 output, got "
                            << outputType;
  Value numRows = memref::DimOp::create(builder, loc, op.getOutput(), 0);
  auto rows = kb.forLoop(0, numRows, 1);
  builder.setInsertionPointToStart(rows.getBody());
  Value row = rows.getInductionVar();
  Value zero = kb.f32(0.0);
  Value negInf = kb.f32(-std::numeric_limits<double>::infinity());

  // M = the largest max among states that saw a key.
  size_t numStates = op.getStateMaxes().size();
  SmallVector<Value> maxes, sums;
  Value mixMax = negInf;
  for (size_t s = 0; s < numStates; ++s) {
    Value max = kb.load(op.getStateMaxes()[s], {row});
    Value sum = kb.load(op.getStateSums()[s], {row});
    Value seen = kb.fcmp(arith::CmpFPredicate::OGT, sum, zero);
    max = kb.select(seen, max, negInf);
    maxes.push_back(max);
    sums.push_back(sum);
    mixMax = kb.maxnumf(mixMax, max);
  }
  Value none = kb.fcmp(arith::CmpFPredicate::OEQ, mixMax, negInf);
  Value shift = kb.select(none, zero, mixMax);
  SmallVector<Value> weights;
  Value denominator = zero;
  for (size_t s = 0; s < numStates; ++s) {
    Value weight =
        numStates == 1 ? kb.f32(1.0) : kb.exp2Scalar(kb.subf(maxes[s], shift));
    weights.push_back(weight);
    denominator = kb.addf(denominator, kb.mulf(weight, sums[s]));
  }
  // Rows no state saw get exactly 0: the factor is 0 there, never 0/0.
  Value safeDenominator = kb.select(none, kb.f32(1.0), denominator);
  Value factor = kb.select(
      none, zero,
      kb.divf(kb.f32(op.getOutputScale().convertToDouble()), safeDenominator));
  forEachChunk(
      kb, headDim, options.vectorWidth, [&](Value column, int64_t width) {
        auto type = VectorType::get({width}, builder.getF32Type());
        Value mixed = kb.splat(type, 0.0);
        for (size_t s = 0; s < numStates; ++s) {
          Value acc = kb.vload(type, op.getStateAccs()[s], {row, column});
          mixed = kb.fma(acc, kb.broadcast(type, weights[s]), mixed);
        }
        Value scaled = kb.mulf(mixed, kb.broadcast(type, factor));
        kb.vstore(scaled, op.getOutput(), {row, column});
      });
  if (Value lse = op.getLse()) {
    // ln(sum_s sum_s 2^max_s) = ln 2 * (M + log2(denominator)); -inf where
    // no state saw a key (the backward pass then skips the row).
    Value log2Sum = kb.addf(
        shift, math::Log2Op::create(builder, loc, safeDenominator).getResult());
    Value natural = kb.mulf(log2Sum, kb.f32(1.0 / kLog2E));
    kb.store(kb.select(none, negInf, natural), lse, {row});
  }
  op.erase();
  return success();
}

/// The fully dynamic strided form of `type` (same shape and element type).
MemRefType dynamicStridedType(MemRefType type) {
  int64_t dyn = ShapedType::kDynamic;
  SmallVector<int64_t> strides(type.getRank(), dyn);
  // A static unit innermost stride stays static: vector loads of rows need
  // it. Other strides (e.g. the attention bias's dilated columns) become
  // dynamic, never a wrong static value.
  auto [sourceStrides, sourceOffset] = type.getStridesAndOffset();
  (void)sourceOffset;
  if (type.getRank() == 2 && sourceStrides.back() == 1)
    strides.back() = 1;
  SmallVector<int64_t> shape(type.getRank(), dyn);
  if (type.getRank() == 2)
    shape.back() = type.getDimSize(1);
  auto layout = StridedLayoutAttr::get(type.getContext(), dyn, strides);
  return MemRefType::get(shape, type.getElementType(), layout);
}

/// Moves every segment_attention into a private function shared by all ops
/// with the same attributes and operand kinds, and calls it. The tiler emits
/// one segment_attention per pattern (and per head group in grouped mode);
/// they differ only in their views, so one copy of the tiled code serves all
/// of them: compile time and code size no longer grow with the number of
/// patterns.
/// What distinguishes the code of two segment ops besides operand types.
void describe(SegmentAttentionOp op, llvm::raw_ostream &os) {
  os << op.getScale().convertToDouble() << ";" << (op.getKeyBias() ? 1 : 0)
     << (op.getAttnBias() ? 1 : 0) << (op.getQueryStart() ? 1 : 0);
}
void describe(SegmentAttentionGradOp op, llvm::raw_ostream &os) {
  os << op.getScale().convertToDouble() << ";"
     << op.getOutputScale().convertToDouble() << ";"
     << (op.getKeyBias() ? 1 : 0) << (op.getAttnBias() ? 1 : 0)
     << (op.getQueryStart() ? 1 : 0);
}

template <typename OpTy>
void outlineSegmentOps(ModuleOp module, llvm::StringRef kind) {
  SmallVector<OpTy> segments;
  module.walk([&](OpTy op) { segments.push_back(op); });
  llvm::StringMap<func::FuncOp> outlined;
  OpBuilder builder(module.getContext());
  for (OpTy op : segments) {
    SmallVector<Type> types;
    SmallVector<Value> operands;
    for (Value operand : op->getOperands()) {
      Type type = operand.getType();
      if (auto memref = dyn_cast<MemRefType>(type))
        type = dynamicStridedType(memref);
      types.push_back(type);
      operands.push_back(operand);
    }
    std::string signature;
    llvm::raw_string_ostream os(signature);
    // Functions are per kernel (named after it): kernels linked into one
    // process must not share symbols.
    auto parent = op->template getParentOfType<func::FuncOp>();
    os << parent.getSymName() << ";";
    describe(op, os);
    llvm::interleave(types, os, ",");
    func::FuncOp &function = outlined[signature];
    Location loc = op.getLoc();
    if (!function) {
      builder.setInsertionPointToEnd(module.getBody());
      std::string name = llvm::formatv("{0}__{1}_{2}", parent.getSymName(),
                                       kind, outlined.size() - 1);
      function = func::FuncOp::create(builder, loc, name,
                                      builder.getFunctionType(types, {}));
      function.setPrivate();
      Block *entry = function.addEntryBlock();
      builder.setInsertionPointToStart(entry);
      IRMapping mapping;
      mapping.map(op->getOperands(), entry->getArguments());
      Operation *clone = builder.clone(*op, mapping);
      // The clone's operands now carry the dynamic types.
      (void)clone;
      func::ReturnOp::create(builder, loc);
    }
    builder.setInsertionPoint(op);
    SmallVector<Value> arguments;
    for (auto [operand, type] : llvm::zip_equal(operands, types))
      arguments.push_back(
          operand.getType() == type
              ? operand
              : memref::CastOp::create(builder, loc, type, operand)
                    .getResult());
    func::CallOp::create(builder, loc, function, arguments);
    op.erase();
  }
}

struct LowerToVectorPass
    : mlir::dilattn::impl::DilAttnLowerToVectorBase<LowerToVectorPass> {
  using Base::Base;

  void runOnOperation() override {
    LoweringOptions options{vectorWidth, tileQueries, tileKeys};
    if (vectorWidth < 1 || tileQueries < 1 || tileKeys < vectorWidth ||
        tileKeys % vectorWidth != 0) {
      getOperation().emitError()
          << "dilattn-lower-to-vector: vector-width and tile-queries must be "
             "positive and tile-keys a positive multiple of vector-width, got "
          << static_cast<int64_t>(vectorWidth) << ", "
          << static_cast<int64_t>(tileQueries) << ", "
          << static_cast<int64_t>(tileKeys);
      return signalPassFailure();
    }
    if (outline) {
      outlineSegmentOps<SegmentAttentionOp>(getOperation(),
                                            "segment_attention");
      outlineSegmentOps<SegmentAttentionGradOp>(getOperation(),
                                                "segment_attention_grad");
    }
    SmallVector<SegmentAttentionOp> segments;
    SmallVector<SegmentAttentionGradOp> grads;
    SmallVector<WriteStatesOp> writes;
    getOperation().walk([&](Operation *op) {
      if (auto segment = dyn_cast<SegmentAttentionOp>(op))
        segments.push_back(segment);
      else if (auto grad = dyn_cast<SegmentAttentionGradOp>(op))
        grads.push_back(grad);
      else if (auto write = dyn_cast<WriteStatesOp>(op))
        writes.push_back(write);
    });
    if (segments.empty() && grads.empty() && writes.empty())
      warnIfEarlierForm(getOperation(), getArgument(), Form::Tiled);
    for (SegmentAttentionGradOp grad : grads) {
      if (failed(SegmentAttentionGradLowering(grad, options).lower()))
        return signalPassFailure();
      grad.erase();
    }
    for (SegmentAttentionOp segment : segments) {
      if (failed(SegmentAttentionLowering(segment, options).lower()))
        return signalPassFailure();
      segment.erase();
    }
    for (WriteStatesOp write : writes)
      if (failed(lowerWriteStates(write, options)))
        return signalPassFailure();
  }
};

} // namespace
