//===- KernelEmitter.cpp - parts shared by the attention kernels ----------===//
//
// Work-item decoding, the zero fill of unselected positions, mask biases and
// the output write (normalised, or merged through the log-sum-exp workspace),
// which every kernel variant shares.
//
//===----------------------------------------------------------------------===//

#include "KernelEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::dilattn::cuda;

SmallVector<PatternItems>
mlir::dilattn::cuda::emitPatternItems(Emitter &e, const KernelPlan &plan,
                                      Value batch, Value seqLen,
                                      Value numHeads) {
  SmallVector<PatternItems> result;
  int64_t k = plan.numPatternsTotal();
  for (int64_t p : plan.patterns) {
    PatternItems items;
    if (plan.grouped) {
      // docs/Contract.md section 1: k contiguous groups, the first H mod k one
      // larger.
      Value base = e.div(numHeads, e.idx(k));
      Value extra = e.rem(numHeads, e.idx(k));
      items.heads =
          e.add(base, e.select(e.ult(e.idx(p), extra), e.idx(1), e.idx(0)));
      items.headBegin = e.add(e.mul(e.idx(p), base), e.min(e.idx(p), extra));
    } else {
      items.heads = numHeads;
      items.headBegin = e.idx(0);
    }
    int64_t w = plan.segmentLengths[p], r = plan.dilationRates[p];
    items.segments = e.ceilDiv(seqLen, e.idx(w));
    items.tiles =
        e.ceilDiv(e.min(seqLen, e.idx(w)), e.idx(plan.tileQueries * r));
    items.items =
        e.mul(e.mul(batch, items.heads), e.mul(items.segments, items.tiles));
    result.push_back(items);
  }
  return result;
}

Value mlir::dilattn::cuda::emitTotalItems(Emitter &e,
                                          ArrayRef<PatternItems> items) {
  Value total = e.idx(0);
  for (const PatternItems &p : items)
    total = e.add(total, p.items);
  return total;
}

Value KernelEmitter::globalView(Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  auto global = MemRefType::get(
      type.getShape(), type.getElementType(), type.getLayout(),
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Global));
  return memref::MemorySpaceCastOp::create(b, loc, global, memref);
}

void KernelEmitter::emitBody(gpu::GPUFuncOp func) {
  b.setInsertionPointToStart(&func.getBody().front());
  unsigned arg = 0;
  // Warp-specialised: the tensor maps of Q, K and V per pattern come first.
  if (plan.tma)
    for (size_t i = 0; i < 3 * plan.patterns.size(); ++i)
      tensorMaps.push_back(func.getArgument(arg++));
  query = globalView(func.getArgument(arg++));
  key = globalView(func.getArgument(arg++));
  value = globalView(func.getArgument(arg++));
  output = globalView(func.getArgument(arg++));
  if (!plan.grouped)
    workspace = globalView(func.getArgument(arg++));
  if (plan.hasKeyBias)
    keyBias = globalView(func.getArgument(arg++));
  if (plan.attnRank)
    attnBias = globalView(func.getArgument(arg++));
  if (plan.sharedMemoryBytes() > 0)
    shared = gpu::DynamicSharedMemoryOp::create(
        b, loc,
        MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                        MemRefLayoutAttrInterface{},
                        gpu::AddressSpaceAttr::get(
                            b.getContext(), gpu::AddressSpace::Workgroup)));
  if (plan.wgmma) {
    // Swizzled tiles need 1024-byte alignment; dynamic shared memory is only
    // 16-byte aligned: skip to the next boundary (budgeted by the plan).
    Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, shared);
    Value atom = e.idx(kSwizzleAtomBytes);
    sharedPad = e.sub(e.mul(e.ceilDiv(base, atom), atom), base);
    sharedAddress = arith::IndexCastUIOp::create(b, loc, b.getI64Type(), base);
    auto elements = MemRefType::get(
        {ShapedType::kDynamic}, plan.elementType, MemRefLayoutAttrInterface{},
        gpu::AddressSpaceAttr::get(b.getContext(),
                                   gpu::AddressSpace::Workgroup));
    sharedElements = memref::ViewOp::create(
        b, loc, elements, shared, e.idx(0),
        ValueRange{e.idx(plan.sharedMemoryBytes() / plan.elementBytes())});
  }

  thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  lane = e.rem(thread, e.idx(kWarpSize));
  warp = e.div(thread, e.idx(kWarpSize));
  batchSize = memref::DimOp::create(b, loc, query, 0);
  seqLen = memref::DimOp::create(b, loc, query, 1);
  numHeads = memref::DimOp::create(b, loc, query, 2);
  patternItems = emitPatternItems(e, plan, batchSize, seqLen, numHeads);
  Value total = emitTotalItems(e, patternItems);

  Value first = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value stride = gpu::GridDimOp::create(b, loc, gpu::Dimension::x);
  if (plan.tma) {
    emitWarpSpecializedItems(first, total, stride);
    gpu::ReturnOp::create(b, loc);
    return;
  }
  scf::ForOp::create(
      b, loc, first, total, stride, ValueRange{},
      [&](OpBuilder &nested, Location, Value itemIndex, ValueRange) {
        emitItem(itemIndex);
        // The next item reuses shared memory.
        gpu::BarrierOp::create(nested, loc);
        scf::YieldOp::create(nested, loc);
      });
  gpu::ReturnOp::create(b, loc);
}

KernelEmitter::Item KernelEmitter::decodeItem(Value itemIndex) {
  // Which pattern: the item ranges of the patterns follow each other.
  Value pattern = e.idx(0);
  Value base = e.idx(0);
  SmallVector<Value> bases;
  for (size_t i = 0; i < patternItems.size(); ++i) {
    bases.push_back(base);
    if (i > 0) {
      Value past = e.ule(base, itemIndex);
      pattern = e.select(past, e.idx(i), pattern);
    }
    base = e.add(base, patternItems[i].items);
  }
  auto pickItems = [&](Value PatternItems::*field) {
    SmallVector<Value> values;
    for (const PatternItems &p : patternItems)
      values.push_back(p.*field);
    return e.pick(pattern, values);
  };
  SmallVector<int64_t> widths, rates, groupedOffsets;
  for (int64_t p : plan.patterns) {
    widths.push_back(plan.segmentLengths[p]);
    rates.push_back(plan.dilationRates[p]);
    groupedOffsets.push_back(p % plan.dilationRates[p]);
  }
  Value width = e.pickConstant(pattern, widths);
  Value rate = e.pickConstant(pattern, rates);
  Value heads = pickItems(&PatternItems::heads);
  Value headBegin = pickItems(&PatternItems::headBegin);
  Value segments = pickItems(&PatternItems::segments);
  Value tiles = pickItems(&PatternItems::tiles);
  Value local = e.sub(itemIndex, e.pick(pattern, bases));

  Item item;
  item.dilation = rate;
  item.tile = e.rem(local, tiles);
  Value rest = e.div(local, tiles);
  Value segment = e.rem(rest, segments);
  rest = e.div(rest, segments);
  item.head = e.add(headBegin, e.rem(rest, heads));
  item.batch = e.div(rest, heads);
  if (plan.grouped)
    item.offset = e.pickConstant(pattern, groupedOffsets);
  else if (plan.blockedOffsets)
    item.offset = e.div(item.head, e.ceilDiv(numHeads, rate));
  else
    item.offset = e.rem(item.head, rate);

  item.segStart = e.mul(segment, width);
  Value segEnd = e.min(e.add(item.segStart, width), seqLen);
  item.segLen = e.sub(segEnd, item.segStart);
  // ceil((segLen - o) / r) selected rows, none when o >= segLen.
  Value beyond = e.ule(item.segLen, item.offset);
  Value span = e.select(beyond, e.idx(0), e.sub(item.segLen, item.offset));
  item.rows = e.ceilDiv(span, rate);
  Value tilePositions = e.mul(e.idx(plan.tileQueries), rate);
  item.spanStart = e.add(item.segStart, e.mul(item.tile, tilePositions));
  item.inSegment = e.ult(item.spanStart, segEnd);
  item.spanEnd = e.min(e.add(item.spanStart, tilePositions), segEnd);
  item.hasRows =
      e.andi(item.inSegment,
             e.ult(e.mul(item.tile, e.idx(plan.tileQueries)), item.rows));
  item.pattern = pattern;
  return item;
}

void KernelEmitter::emitItem(Value itemIndex) {
  Item item = decodeItem(itemIndex);
  auto spanIf = scf::IfOp::create(b, loc, item.inSegment, /*withElse=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(spanIf.thenBlock());
  if (plan.output != OutputMode::Merge)
    emitZeroFill(item);
  auto rowsIf = scf::IfOp::create(b, loc, item.hasRows, /*withElse=*/false);
  b.setInsertionPointToStart(rowsIf.thenBlock());
  if (plan.tensorCores)
    emitTensorCoreTile(item);
  else
    emitSimtTile(item);
}

void KernelEmitter::emitZeroFill(const Item &item) {
  // Positions of the span the pattern does not select: all but every r-th.
  // With r = 1 (and so o = 0) there are none.
  auto sparse =
      scf::IfOp::create(b, loc, e.ult(e.idx(1), item.dilation), false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(sparse.thenBlock());
  int64_t lanes = 16 / plan.elementBytes();
  int64_t chunksPerRow = plan.headDim / lanes;
  Value total = e.mul(e.sub(item.spanEnd, item.spanStart), e.idx(chunksPerRow));
  auto vectorType = VectorType::get({lanes}, plan.elementType);
  Value zeros = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(vectorType, b.getZeroAttr(plan.elementType)));
  scf::ForOp::create(
      b, loc, thread, total, e.idx(plan.computeThreads()), ValueRange{},
      [&](OpBuilder &nested, Location, Value index, ValueRange) {
        Value row = e.div(index, e.idx(chunksPerRow));
        Value chunk = e.rem(index, e.idx(chunksPerRow));
        Value position = e.add(item.spanStart, row);
        Value first = e.add(item.segStart, item.offset);
        Value rel = e.sub(e.max(position, first), first);
        Value selected = e.andi(e.ule(first, position),
                                e.eq(e.rem(rel, item.dilation), e.idx(0)));
        auto unselected = scf::IfOp::create(
            b, loc,
            arith::XOrIOp::create(
                b, loc, selected,
                arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1)),
            false);
        OpBuilder::InsertionGuard inner(b);
        b.setInsertionPointToStart(unselected.thenBlock());
        vector::StoreOp::create(b, loc, zeros, output,
                                ValueRange{item.batch, position, item.head,
                                           e.mul(chunk, e.idx(lanes))});
        if (plan.output == OutputMode::Init) {
          auto firstChunk =
              scf::IfOp::create(b, loc, e.eq(chunk, e.idx(0)), false);
          b.setInsertionPointToStart(firstChunk.thenBlock());
          memref::StoreOp::create(b, loc, e.negInf(), workspace,
                                  workspaceIndex(item, position));
        }
        b.setInsertionPointAfter(unselected);
        scf::YieldOp::create(nested, loc);
      });
}

Value KernelEmitter::addBiases(const Item &item, Value score, Value queryRow,
                               Value keyRow) {
  if (!plan.hasKeyBias && !plan.attnRank)
    return score;
  // Rows past the selection are masked by the caller; clamp them so that
  // the loads stay inside the tensors.
  Value last = e.sub(item.rows, e.idx(1));
  Value keyPos = rowPosition(item, e.min(keyRow, last));
  Value queryPos = rowPosition(item, e.min(queryRow, last));
  Value bias = e.f32(0);
  if (plan.hasKeyBias)
    bias =
        memref::LoadOp::create(b, loc, keyBias, ValueRange{item.batch, keyPos});
  if (plan.attnRank) {
    SmallVector<Value> indices;
    if (plan.attnRank >= 3)
      indices.push_back(item.batch);
    if (plan.attnRank == 4)
      indices.push_back(item.head);
    indices.push_back(queryPos);
    indices.push_back(keyPos);
    bias = e.addf(bias, memref::LoadOp::create(b, loc, attnBias, indices));
  }
  return e.addf(score, e.mulf(bias, e.f32(kLog2E)));
}

void KernelEmitter::emitRowWrite(
    const Item &item, Value position, Value rowMax, Value rowSum,
    ArrayRef<std::pair<Value, SmallVector<Value>>> chunks,
    Value writesWorkspace) {
  Value hasKeys = e.positive(rowSum);
  Value rowLse = e.select(hasKeys, e.addf(rowMax, e.log2(rowSum)), e.negInf());
  Value safeSum = e.select(hasKeys, rowSum, e.f32(1));
  Value oldCoef, newCoef, mergedLse;
  if (plan.output == OutputMode::Merge) {
    Value index = workspaceIndex(item, position);
    Value oldLse = memref::LoadOp::create(b, loc, workspace, index);
    Value top = e.maxf(oldLse, rowLse);
    Value base = e.select(e.isNegInf(top), e.f32(0), top);
    Value oldWeight = e.exp2(e.subf(oldLse, base));
    Value newWeight = e.exp2(e.subf(rowLse, base));
    Value total = e.addf(oldWeight, newWeight);
    Value safeTotal = e.select(e.positive(total), total, e.f32(1));
    oldCoef = e.divf(oldWeight, safeTotal);
    newCoef = e.select(hasKeys, e.divf(newWeight, e.mulf(safeTotal, safeSum)),
                       e.f32(0));
    mergedLse =
        e.select(e.positive(total), e.addf(base, e.log2(total)), e.negInf());
  } else {
    newCoef =
        e.select(hasKeys, e.divf(e.f32(plan.outputScale), safeSum), e.f32(0));
    mergedLse = rowLse;
  }
  for (const auto &[col, values] : chunks) {
    int64_t n = values.size();
    auto wide = VectorType::get({n}, b.getF32Type());
    auto narrow = VectorType::get({n}, plan.elementType);
    Value acc = vector::FromElementsOp::create(b, loc, wide, values);
    Value result =
        e.mulf(acc, vector::BroadcastOp::create(b, loc, wide, newCoef));
    SmallVector<Value> indices = {item.batch, position, item.head, col};
    if (plan.output == OutputMode::Merge) {
      Value old = vector::LoadOp::create(b, loc, narrow, output, indices);
      if (narrow != wide)
        old = arith::ExtFOp::create(b, loc, wide, old);
      result = e.addf(
          e.mulf(old, vector::BroadcastOp::create(b, loc, wide, oldCoef)),
          result);
    }
    if (narrow != wide)
      result = arith::TruncFOp::create(b, loc, narrow, result);
    vector::StoreOp::create(b, loc, result, output, indices);
  }
  if (plan.output != OutputMode::Store) {
    auto writer = scf::IfOp::create(b, loc, writesWorkspace, false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(writer.thenBlock());
    memref::StoreOp::create(b, loc, mergedLse, workspace,
                            workspaceIndex(item, position));
  }
}

/// The kernel argument type of a memref operand: fully dynamic sizes and
