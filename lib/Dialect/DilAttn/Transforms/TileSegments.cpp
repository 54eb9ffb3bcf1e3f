//===- TileSegments.cpp - tile by work item, pattern and segment ----------===//
//
// The loop structure of a dilated attention kernel. A work item is a block of
// `block_size` consecutive positions of one (batch, head); for each pattern the
// head uses, the segments meeting the block are visited and the pattern's
// selected queries in the block attend to its selected keys in the segment,
// through strided views (stride = dilation rate): nothing is gathered.
//
// Positions in a segment [s, e) selected with offset o and rate r are
// p0 + t*r, p0 = s + o, for t in [0, ceil((e - p0) / r)). The queries of the
// block [x0, x1) are those with t in [ceil((max(x0, p0) - p0) / r),
// ceil((min(x1, e) - p0) / r)). Causal keys of query t are t' <= t, so the
// keys beyond the block's last query are never loaded.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Dialect/DilAttn/IR/Forms.h"
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h"
#include "dilattn/Dialect/Utils/ArithEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"

#include <cmath>
#include <limits>

namespace mlir::dilattn {
#define GEN_PASS_DEF_DILATTNTILESEGMENTS
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h.inc"
} // namespace mlir::dilattn

using namespace mlir;
using namespace mlir::dilattn;

namespace {

/// A rank-reducing strided subview: `sizes` entries equal to 1 at positions
/// in `dropDims` are dropped from the result type.
Value subview(OpBuilder &b, Location loc, Value source,
              ArrayRef<OpFoldResult> offsets, ArrayRef<OpFoldResult> sizes,
              ArrayRef<OpFoldResult> strides, ArrayRef<int64_t> resultShape) {
  auto sourceType = cast<MemRefType>(source.getType());
  auto resultType = memref::SubViewOp::inferRankReducedResultType(
      resultShape, sourceType, offsets, sizes, strides);
  return memref::SubViewOp::create(b, loc, cast<MemRefType>(resultType), source,
                                   offsets, sizes, strides);
}

/// Scratch state of one pattern (or of all, after fusion) for one block.
struct BlockState {
  Value max, sum, acc; // memref<T x f32>, memref<T x f32>, memref<T x D x f32>
};

/// The head group of `head` in grouped mode: k contiguous groups, the first
/// H mod k one larger (docs/Contract.md section 1).
Value emitGroupOf(ArithEmitter &ix, Value head, Value numHeads,
                  int64_t numPatterns) {
  OpBuilder &b = ix.b;
  Value k = ix.idx(numPatterns);
  Value base = ix.div(numHeads, k);
  Value extra = ix.rem(numHeads, k);
  Value large = ix.add(base, ix.idx(1));
  Value largeHeads = ix.mul(extra, large);
  Value inLarge = ix.ult(head, largeHeads);
  Value groupLarge = ix.div(head, large);
  // base >= 1 in grouped mode (H >= k is verified), so this divides safely.
  Value groupSmall = ix.add(extra, ix.div(ix.sub(head, largeHeads), base));
  return arith::SelectOp::create(b, ix.loc, inLarge, groupLarge, groupSmall);
}

/// The offset of pattern `pattern` (rate `rate`) for `head`.
Value emitOffsetOf(ArithEmitter &ix, AttentionMode mode, OffsetRule rule,
                   int64_t pattern, int64_t rate, Value head, Value numHeads) {
  if (mode == AttentionMode::grouped)
    return ix.idx(pattern % rate);
  if (rule == OffsetRule::cyclic)
    return ix.rem(head, ix.idx(rate));
  return ix.div(head, ix.ceilDiv(numHeads, ix.idx(rate)));
}

struct TileWriteDilatedAttention {
  WriteDilatedAttentionOp op;
  OpBuilder &b;
  Location loc;
  ArithEmitter ix;
  int64_t headDim;
  int64_t blockSize;

  TileWriteDilatedAttention(WriteDilatedAttentionOp op, OpBuilder &b)
      : op(op), b(b), loc(op.getLoc()), ix{b, op.getLoc()},
        headDim(cast<MemRefType>(op.getQuery().getType()).getDimSize(3)),
        blockSize(op.getBlockSize()) {}

  LogicalResult rewrite();

private:
  /// The head group of `head` in grouped mode: k contiguous groups, the first
  /// H mod k one larger (docs/Contract.md section 1).
  Value groupOf(Value head, Value numHeads, int64_t numPatterns);
  /// The offset of pattern `pattern` for `head`.
  Value offsetOf(int64_t pattern, Value head, Value numHeads);
  /// Visits the segments of `pattern` meeting block [x0, x1) of (b, h).
  void emitPattern(int64_t pattern, Value batch, Value head, Value numHeads,
                   Value seqLen, Value x0, Value x1, const BlockState &state);
};

Value TileWriteDilatedAttention::groupOf(Value head, Value numHeads,
                                         int64_t numPatterns) {
  return emitGroupOf(ix, head, numHeads, numPatterns);
}

Value TileWriteDilatedAttention::offsetOf(int64_t pattern, Value head,
                                          Value numHeads) {
  return emitOffsetOf(ix, op.getMode(), op.getOffsetRule(), pattern,
                      op.getDilationRates()[pattern], head, numHeads);
}

void TileWriteDilatedAttention::emitPattern(int64_t pattern, Value batch,
                                            Value head, Value numHeads,
                                            Value seqLen, Value x0, Value x1,
                                            const BlockState &state) {
  int64_t length = op.getSegmentLengths()[pattern];
  int64_t rate = op.getDilationRates()[pattern];
  Value w = ix.idx(length), r = ix.idx(rate), one = ix.idx(1);
  Value offset = offsetOf(pattern, head, numHeads);
  Value firstSegment = ix.div(x0, w);
  Value endSegment = ix.add(ix.div(ix.sub(x1, one), w), one);
  auto segments = scf::ForOp::create(b, loc, firstSegment, endSegment, one);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(segments.getBody());
  Value segmentStart = ix.mul(segments.getInductionVar(), w);
  Value segmentEnd = ix.min(ix.add(segmentStart, w), seqLen);
  Value p0 = ix.add(segmentStart, offset);
  Value lo = ix.max(x0, p0);
  Value hi = ix.min(x1, segmentEnd);
  // Empty selections: the offset at or past the segment's end, or no
  // selected query in this block.
  auto nonEmpty = scf::IfOp::create(b, loc, ix.ult(lo, hi), false);
  b.setInsertionPointToStart(nonEmpty.thenBlock());
  Value firstQuery = ix.ceilDiv(ix.sub(lo, p0), r);
  Value endQuery = ix.ceilDiv(ix.sub(hi, p0), r);
  auto hasQueries =
      scf::IfOp::create(b, loc, ix.ult(firstQuery, endQuery), false);
  b.setInsertionPointToStart(hasQueries.thenBlock());
  Value numQueries = ix.sub(endQuery, firstQuery);
  Value numKeys = ix.ceilDiv(ix.sub(segmentEnd, p0), r);
  if (op.getCausal())
    numKeys = ix.min(numKeys, endQuery);
  Value queryStart = ix.add(p0, ix.mul(firstQuery, r));

  int64_t dyn = ShapedType::kDynamic;
  OpFoldResult zero = b.getIndexAttr(0), unit = b.getIndexAttr(1);
  OpFoldResult d = b.getIndexAttr(headDim), stride = b.getIndexAttr(rate);
  auto rows = [&](Value source, Value start, Value count) {
    return subview(b, loc, source, {batch, start, head, zero},
                   {unit, count, unit, d}, {unit, stride, unit, unit},
                   {dyn, headDim});
  };
  Value query = rows(op.getQuery(), queryStart, numQueries);
  Value key = rows(op.getKey(), p0, numKeys);
  Value value = rows(op.getValue(), p0, numKeys);
  Value keyBias, attnBias;
  if (Value mask = op.getKeyPaddingMask())
    keyBias = subview(b, loc, mask, {batch, p0}, {unit, numKeys},
                      {unit, stride}, {dyn});
  if (Value mask = op.getAttnMask()) {
    // (N, N), (B, N, N) or (B, H, N, N): index the leading dims present.
    int64_t rank = cast<MemRefType>(mask.getType()).getRank();
    SmallVector<OpFoldResult> offsets, sizes, strides;
    if (rank == 4)
      offsets = {batch, head};
    else if (rank == 3)
      offsets = {batch};
    sizes.assign(offsets.size(), unit);
    strides.assign(offsets.size(), unit);
    offsets.append({queryStart, p0});
    sizes.append({numQueries, numKeys});
    strides.append({stride, stride});
    attnBias = subview(b, loc, mask, offsets, sizes, strides, {dyn, dyn});
  }
  Value localStart = ix.sub(queryStart, x0);
  Value stateMax =
      subview(b, loc, state.max, {localStart}, {numQueries}, {stride}, {dyn});
  Value stateSum =
      subview(b, loc, state.sum, {localStart}, {numQueries}, {stride}, {dyn});
  Value stateAcc = subview(b, loc, state.acc, {localStart, zero},
                           {numQueries, d}, {stride, unit}, {dyn, headDim});
  double scale = op.getScale() ? op.getScale()->convertToDouble()
                               : 1.0 / std::sqrt(static_cast<double>(headDim));
  SegmentAttentionOp::create(b, loc, query, key, value, keyBias, attnBias,
                             stateMax, stateSum, stateAcc,
                             op.getCausal() ? firstQuery : Value(),
                             b.getF64FloatAttr(scale));
}

LogicalResult TileWriteDilatedAttention::rewrite() {
  if (ShapedType::isDynamic(headDim))
    return op.emitOpError() << "segment tiling needs a static head dim";
  b.setInsertionPoint(op);
  int64_t numPatterns = op.getNumPatterns();
  bool grouped = op.getMode() == AttentionMode::grouped;
  Value batchSize = memref::DimOp::create(b, loc, op.getQuery(), 0);
  Value seqLen = memref::DimOp::create(b, loc, op.getQuery(), 1);
  Value numHeads = memref::DimOp::create(b, loc, op.getQuery(), 2);
  Value block = ix.idx(blockSize);
  Value numBlocks = ix.ceilDiv(seqLen, block);
  Value begin = op.getItemBegin();
  Value end = op.getItemEnd();
  if (!begin) {
    begin = ix.idx(0);
    end = ix.mul(ix.mul(batchSize, numHeads), numBlocks);
  }

  // One state per pattern in longnet mode (mixed by write_states), one in
  // grouped mode (a head uses a single pattern). Allocated once per call.
  Type f32 = b.getF32Type();
  auto rowType = MemRefType::get({blockSize}, f32);
  auto accType = MemRefType::get({blockSize, headDim}, f32);
  SmallVector<BlockState> states(grouped ? 1 : numPatterns);
  for (BlockState &state : states) {
    state.max = memref::AllocaOp::create(b, loc, rowType);
    state.sum = memref::AllocaOp::create(b, loc, rowType);
    state.acc = memref::AllocaOp::create(b, loc, accType);
  }

  auto items = scf::ForOp::create(b, loc, begin, end, ix.idx(1));
  b.setInsertionPointToStart(items.getBody());
  Value item = items.getInductionVar();
  Value blockIndex = ix.rem(item, numBlocks);
  Value batchHead = ix.div(item, numBlocks);
  Value head = ix.rem(batchHead, numHeads);
  Value batch = ix.div(batchHead, numHeads);
  Value x0 = ix.mul(blockIndex, block);
  Value x1 = ix.min(ix.add(x0, block), seqLen);

  Value negInf = arith::ConstantOp::create(
      b, loc, b.getF32FloatAttr(-std::numeric_limits<float>::infinity()));
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  for (BlockState &state : states) {
    linalg::FillOp::create(b, loc, negInf, state.max);
    linalg::FillOp::create(b, loc, zero, state.sum);
    linalg::FillOp::create(b, loc, zero, state.acc);
  }

  if (grouped) {
    Value group = groupOf(head, numHeads, numPatterns);
    for (int64_t i = 0; i < numPatterns; ++i) {
      auto inGroup = scf::IfOp::create(b, loc, ix.eq(group, ix.idx(i)), false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(inGroup.thenBlock());
      emitPattern(i, batch, head, numHeads, seqLen, x0, x1, states[0]);
    }
  } else {
    for (int64_t i = 0; i < numPatterns; ++i)
      emitPattern(i, batch, head, numHeads, seqLen, x0, x1, states[i]);
  }

  // Write the block: rows [x0, x1) of (b, h).
  Value numRows = ix.sub(x1, x0);
  OpFoldResult zeroIndex = b.getIndexAttr(0), unit = b.getIndexAttr(1);
  OpFoldResult d = b.getIndexAttr(headDim);
  int64_t dyn = ShapedType::kDynamic;
  Value output = subview(b, loc, op.getOutput(), {batch, x0, head, zeroIndex},
                         {unit, numRows, unit, d}, {unit, unit, unit, unit},
                         {dyn, headDim});
  SmallVector<Value> maxes, sums, accs;
  for (BlockState &state : states) {
    maxes.push_back(
        subview(b, loc, state.max, {zeroIndex}, {numRows}, {unit}, {dyn}));
    sums.push_back(
        subview(b, loc, state.sum, {zeroIndex}, {numRows}, {unit}, {dyn}));
    accs.push_back(subview(b, loc, state.acc, {zeroIndex, zeroIndex},
                           {numRows, d}, {unit, unit}, {dyn, headDim}));
  }
  Value lse;
  if (Value stats = op.getLse())
    lse = subview(b, loc, stats, {batch, x0, head}, {unit, numRows, unit},
                  {unit, unit, unit}, {dyn});
  double outputScale = grouped ? 1.0 / static_cast<double>(numPatterns) : 1.0;
  WriteStatesOp::create(b, loc, maxes, sums, accs, output, lse,
                        b.getF64FloatAttr(outputScale));
  op.erase();
  return success();
}

/// The backward tiling. A work item is one (batch, head): a key collects
/// gradient from the segment of every pattern that selects it, and the
/// segments of different patterns overlap, so all rows of a head belong to
/// one item and items never write the same row (no atomics, no reduction
/// buffers). The item zeroes its gradient rows (positions no pattern selects
/// keep 0), then issues, for each pattern the head uses and each segment,
/// one segment_attention_grad on the strided views of the segment's
/// selected rows: queries and keys of a segment are the same positions.
struct TileWriteDilatedAttentionGrad {
  WriteDilatedAttentionGradOp op;
  OpBuilder &b;
  Location loc;
  ArithEmitter ix;
  int64_t headDim;

  TileWriteDilatedAttentionGrad(WriteDilatedAttentionGradOp op, OpBuilder &b)
      : op(op), b(b), loc(op.getLoc()), ix{b, op.getLoc()},
        headDim(cast<MemRefType>(op.getQuery().getType()).getDimSize(3)) {}

  LogicalResult rewrite();

private:
  void emitPattern(int64_t pattern, Value batch, Value head, Value numHeads,
                   Value seqLen);
};

void TileWriteDilatedAttentionGrad::emitPattern(int64_t pattern, Value batch,
                                                Value head, Value numHeads,
                                                Value seqLen) {
  int64_t length = op.getSegmentLengths()[pattern];
  int64_t rate = op.getDilationRates()[pattern];
  Value w = ix.idx(length), r = ix.idx(rate), one = ix.idx(1);
  Value offset = emitOffsetOf(ix, op.getMode(), op.getOffsetRule(), pattern,
                              rate, head, numHeads);
  Value zeroIndex = ix.idx(0);
  Value numSegments = ix.ceilDiv(seqLen, w);
  auto segments = scf::ForOp::create(b, loc, zeroIndex, numSegments, one);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(segments.getBody());
  Value segmentStart = ix.mul(segments.getInductionVar(), w);
  Value segmentEnd = ix.min(ix.add(segmentStart, w), seqLen);
  Value p0 = ix.add(segmentStart, offset);
  // An offset at or past the segment's end selects nothing there.
  auto nonEmpty = scf::IfOp::create(b, loc, ix.ult(p0, segmentEnd), false);
  b.setInsertionPointToStart(nonEmpty.thenBlock());
  Value count = ix.ceilDiv(ix.sub(segmentEnd, p0), r);

  int64_t dyn = ShapedType::kDynamic;
  OpFoldResult zero = b.getIndexAttr(0), unit = b.getIndexAttr(1);
  OpFoldResult d = b.getIndexAttr(headDim), stride = b.getIndexAttr(rate);
  auto rows = [&](Value source) {
    return subview(b, loc, source, {batch, p0, head, zero},
                   {unit, count, unit, d}, {unit, stride, unit, unit},
                   {dyn, headDim});
  };
  Value lse = subview(b, loc, op.getLse(), {batch, p0, head},
                      {unit, count, unit}, {unit, stride, unit}, {dyn});
  Value keyBias, attnBias;
  if (Value mask = op.getKeyPaddingMask())
    keyBias = subview(b, loc, mask, {batch, p0}, {unit, count}, {unit, stride},
                      {dyn});
  if (Value mask = op.getAttnMask()) {
    int64_t rank = cast<MemRefType>(mask.getType()).getRank();
    SmallVector<OpFoldResult> offsets, sizes, strides;
    if (rank == 4)
      offsets = {batch, head};
    else if (rank == 3)
      offsets = {batch};
    sizes.assign(offsets.size(), unit);
    strides.assign(offsets.size(), unit);
    offsets.append({p0, p0});
    sizes.append({count, count});
    strides.append({stride, stride});
    attnBias = subview(b, loc, mask, offsets, sizes, strides, {dyn, dyn});
  }
  double scale = op.getScale() ? op.getScale()->convertToDouble()
                               : 1.0 / std::sqrt(static_cast<double>(headDim));
  double outputScale = op.getMode() == AttentionMode::grouped
                           ? 1.0 / static_cast<double>(op.getNumPatterns())
                           : 1.0;
  // One statement per view: the IR must not depend on the order in which
  // the host compiler evaluates a call's arguments.
  Value query = rows(op.getQuery());
  Value key = rows(op.getKey());
  Value value = rows(op.getValue());
  Value output = rows(op.getOutput());
  Value gradOutput = rows(op.getGradOutput());
  Value gradQuery = rows(op.getGradQuery());
  Value gradKey = rows(op.getGradKey());
  Value gradValue = rows(op.getGradValue());
  Value queryStart = op.getCausal() ? ix.idx(0) : Value();
  SegmentAttentionGradOp::create(
      b, loc, query, key, value, output, gradOutput, lse, keyBias, attnBias,
      gradQuery, gradKey, gradValue, queryStart, b.getF64FloatAttr(scale),
      b.getF64FloatAttr(outputScale));
}

LogicalResult TileWriteDilatedAttentionGrad::rewrite() {
  if (ShapedType::isDynamic(headDim))
    return op.emitOpError() << "segment tiling needs a static head dim";
  b.setInsertionPoint(op);
  int64_t numPatterns = op.getNumPatterns();
  Value batchSize = memref::DimOp::create(b, loc, op.getQuery(), 0);
  Value seqLen = memref::DimOp::create(b, loc, op.getQuery(), 1);
  Value numHeads = memref::DimOp::create(b, loc, op.getQuery(), 2);
  Value begin = op.getItemBegin();
  Value end = op.getItemEnd();
  if (!begin) {
    begin = ix.idx(0);
    end = ix.mul(batchSize, numHeads);
  }
  auto items = scf::ForOp::create(b, loc, begin, end, ix.idx(1));
  b.setInsertionPointToStart(items.getBody());
  Value item = items.getInductionVar();
  Value head = ix.rem(item, numHeads);
  Value batch = ix.div(item, numHeads);

  int64_t dyn = ShapedType::kDynamic;
  OpFoldResult zeroIndex = b.getIndexAttr(0), unit = b.getIndexAttr(1);
  OpFoldResult d = b.getIndexAttr(headDim);
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  for (Value grad : {op.getGradQuery(), op.getGradKey(), op.getGradValue()})
    linalg::FillOp::create(b, loc, zero,
                           subview(b, loc, grad,
                                   {batch, zeroIndex, head, zeroIndex},
                                   {unit, seqLen, unit, d},
                                   {unit, unit, unit, unit}, {dyn, headDim}));

  if (op.getMode() == AttentionMode::grouped) {
    Value group = emitGroupOf(ix, head, numHeads, numPatterns);
    for (int64_t i = 0; i < numPatterns; ++i) {
      auto inGroup = scf::IfOp::create(b, loc, ix.eq(group, ix.idx(i)), false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(inGroup.thenBlock());
      emitPattern(i, batch, head, numHeads, seqLen);
    }
  } else {
    for (int64_t i = 0; i < numPatterns; ++i)
      emitPattern(i, batch, head, numHeads, seqLen);
  }
  op.erase();
  return success();
}

struct TileSegmentsPass
    : mlir::dilattn::impl::DilAttnTileSegmentsBase<TileSegmentsPass> {
  void runOnOperation() override {
    SmallVector<WriteDilatedAttentionOp> ops;
    getOperation().walk([&](WriteDilatedAttentionOp op) { ops.push_back(op); });
    if (ops.empty())
      warnIfEarlierForm(getOperation(), getArgument(), Form::Buffer);
    OpBuilder builder(&getContext());
    for (WriteDilatedAttentionOp op : ops)
      if (failed(TileWriteDilatedAttention(op, builder).rewrite()))
        return signalPassFailure();
    SmallVector<WriteDilatedAttentionGradOp> grads;
    getOperation().walk(
        [&](WriteDilatedAttentionGradOp op) { grads.push_back(op); });
    for (WriteDilatedAttentionGradOp op : grads)
      if (failed(TileWriteDilatedAttentionGrad(op, builder).rewrite()))
        return signalPassFailure();
  }
};

} // namespace
