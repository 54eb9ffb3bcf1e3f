//===- TensorCoreTile.cpp - the f16/bf16 tile loop on tensor cores --------===//
//
// The tensor-core tile loop: cp.async of the strided rows into shared-memory
// tiles, Q K^T and P V on tensor cores with f32 accumulation, online softmax
// in registers. sm_80 and later: padded tiles, ldmatrix + mma.sync.m16n8k16.
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

Value KernelEmitter::sharedTile(int64_t rows, Value byteOffset) {
  auto type = MemRefType::get(
      {rows, plan.paddedRow()}, plan.elementType, MemRefLayoutAttrInterface{},
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup));
  return memref::ViewOp::create(b, loc, type, shared, byteOffset, ValueRange{});
}

KernelEmitter::SharedTile KernelEmitter::tileAt(int64_t rows,
                                                Value byteOffset) {
  if (plan.wgmma)
    return {sharedElements, e.add(sharedPad, byteOffset), rows};
  return {sharedTile(rows, byteOffset), byteOffset, rows};
}

SmallVector<Value> KernelEmitter::tileIndices(const SharedTile &tile, Value row,
                                              Value col) {
  if (!plan.wgmma)
    return {row, col};
  // 128-byte rows of 64 elements; D = 128 is two such column blocks one
  // after the other. Chunk c of row r sits at chunk c ^ (r mod 8).
  int64_t rowElements = kSwizzleRowBytes / plan.elementBytes();
  int64_t chunkElements = 16 / plan.elementBytes();
  Value block = e.div(col, e.idx(rowElements));
  Value chunk = e.div(e.rem(col, e.idx(rowElements)), e.idx(chunkElements));
  Value swizzled = arith::XOrIOp::create(b, loc, chunk, e.rem(row, e.idx(8)));
  Value bytes = e.add(
      e.add(tile.byteOffset, e.mul(block, e.idx(tile.rows * kSwizzleRowBytes))),
      e.add(e.mul(row, e.idx(kSwizzleRowBytes)), e.mul(swizzled, e.idx(16))));
  return {e.div(bytes, e.idx(plan.elementBytes()))};
}

void KernelEmitter::asyncLoadRows(Value source, const SharedTile &tile,
                                  const Item &item, Value firstRow,
                                  Value rowLimit, int64_t numRows,
                                  SmallVectorImpl<Value> &tokens) {
  int64_t lanes = 16 / plan.elementBytes();
  int64_t chunksPerRow = plan.headDim / lanes;
  int64_t chunks = numRows * chunksPerRow;
  Value lastRow = e.sub(item.rows, e.idx(1));
  for (int64_t c = 0; c < chunks; c += plan.computeThreads()) {
    Value chunk = e.add(thread, e.idx(c));
    Value row = e.div(chunk, e.idx(chunksPerRow));
    Value col = e.mul(e.rem(chunk, e.idx(chunksPerRow)), e.idx(lanes));
    Value dilatedRow = e.add(firstRow, row);
    Value position, sourceElements;
    if (rowLimit) {
      // Rows past the limit are zero-filled (source size 0); their address
      // is clamped to a real row all the same.
      Value valid = e.ult(dilatedRow, rowLimit);
      position = rowPosition(item, e.min(dilatedRow, lastRow));
      sourceElements = e.select(valid, e.idx(lanes), e.idx(0));
    } else {
      position = rowPosition(item, dilatedRow);
    }
    tokens.push_back(nvgpu::DeviceAsyncCopyOp::create(
        b, loc, tile.view, tileIndices(tile, row, col), source,
        ValueRange{item.batch, position, item.head, col}, b.getIndexAttr(lanes),
        sourceElements, b.getUnitAttr()));
  }
}

SmallVector<Value> KernelEmitter::ldmatrix(Value view, Value row, Value col,
                                           bool transpose) {
  auto fragment = VectorType::get({4, 2}, plan.elementType);
  Value loaded = nvgpu::LdMatrixOp::create(b, loc, fragment, view,
                                           ValueRange{row, col}, transpose, 4);
  SmallVector<Value> registers;
  for (int64_t i = 0; i < 4; ++i) {
    Value pair =
        vector::ExtractOp::create(b, loc, loaded, ArrayRef<int64_t>{i});
    registers.push_back(operandRegister(pair));
  }
  return registers;
}

SmallVector<Value> KernelEmitter::mma(ArrayRef<Value> a, ArrayRef<Value> bFrag,
                                      ArrayRef<Value> c) {
  Type f32 = b.getF32Type();
  auto resultType =
      LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
  NVVM::MMATypes type =
      plan.elementType.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
  auto op = NVVM::MmaOp::create(
      b, loc, resultType, a, bFrag, c, ArrayRef<int64_t>{16, 8, 16},
      std::nullopt, std::nullopt, std::array<NVVM::MMATypes, 2>{type, type},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  SmallVector<Value> result;
  for (int64_t i = 0; i < 4; ++i)
    result.push_back(LLVM::ExtractValueOp::create(b, loc, op, i));
  return result;
}

Value KernelEmitter::pack(Value x, Value y) {
  Value pair = vector::FromElementsOp::create(
      b, loc, VectorType::get({2}, b.getF32Type()), ValueRange{x, y});
  Value narrow = arith::TruncFOp::create(
      b, loc, VectorType::get({2}, plan.elementType), pair);
  return operandRegister(narrow);
}

void KernelEmitter::emitTensorCoreTile(const Item &item) {
  const int64_t BM = plan.tileQueries, BN = plan.tileKeys;
  const int64_t S = plan.stages;
  Value firstQuery = e.mul(item.tile, e.idx(BM));
  Value keyLimit = keyLimitOf(item, firstQuery);
  Value numBlocks = e.ceilDiv(keyLimit, e.idx(BN));

  SharedTile queryTile = tileAt(BM, e.idx(0));
  auto keyTile = [&](Value stage) {
    return tileAt(BN, e.add(e.idx(plan.queryTileBytes()),
                            e.mul(stage, e.idx(plan.keyStageBytes()))));
  };
  auto valueTile = [&](Value stage) {
    return tileAt(BN,
                  e.add(e.idx(plan.queryTileBytes() + S * plan.keyStageBytes()),
                        e.mul(stage, e.idx(plan.keyStageBytes()))));
  };
  // One cp.async group per key/value block; blocks wholly inside the
  // selection (all but the last) skip the per-row clamping.
  Type tokenType = nvgpu::DeviceAsyncTokenType::get(b.getContext());
  auto loadBlock = [&](Value block, Value stage) {
    Value firstKey = e.mul(block, e.idx(BN));
    Value whole = e.ule(e.add(firstKey, e.idx(BN)), keyLimit);
    auto branch = scf::IfOp::create(b, loc, TypeRange{tokenType}, whole, true);
    for (bool clamped : {false, true}) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(clamped ? branch.elseBlock()
                                         : branch.thenBlock());
      Value limit = clamped ? keyLimit : Value();
      SmallVector<Value> tokens;
      asyncLoadRows(key, keyTile(stage), item, firstKey, limit, BN, tokens);
      asyncLoadRows(value, valueTile(stage), item, firstKey, limit, BN, tokens);
      scf::YieldOp::create(b, loc, commitGroup(tokens));
    }
    return branch.getResult(0);
  };

  // Prologue: the query tile, then the first S - 1 key/value blocks, each a
  // group (blocks past the end load as zeros, which keeps the group count
  // static). The loop waits for them.
  SmallVector<Value> queryTokens;
  asyncLoadRows(query, queryTile, item, firstQuery, item.rows, BM, queryTokens);
  Value token = commitGroup(queryTokens);
  for (int64_t s = 0; s + 1 < S; ++s)
    token = loadBlock(e.idx(s), e.idx(s));

  SmallVector<Value> init = initialTileState();
  auto loop = scf::ForOp::create(b, loc, e.idx(0), numBlocks, e.idx(1), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value block = loop.getInductionVar();
    // Block `block` has landed once at most S - 2 younger groups are in
    // flight; the barrier then also tells that every warp is done with the
    // stage that block - 1 used, which the load of block + S - 1 reuses.
    // One barrier per block: the loads overlap this block's compute.
    nvgpu::DeviceAsyncWaitOp::create(b, loc, token, b.getI32IntegerAttr(S - 2));
    if (plan.wgmma)
      fenceProxyAsync();
    gpu::BarrierOp::create(b, loc);
    Value next = e.add(block, e.idx(S - 1));
    loadBlock(next, e.rem(next, e.idx(S)));
    Value stage = e.rem(block, e.idx(S));
    scf::YieldOp::create(b, loc,
                         emitKeyBlock(item, queryTile, keyTile(stage),
                                      valueTile(stage), block, firstQuery,
                                      keyLimit, loop.getRegionIterArgs()));
  }
  // Copies of blocks past the end may still be in flight: let them land
  // before the shared memory goes to the next work item.
  nvgpu::DeviceAsyncWaitOp::create(b, loc, token, b.getI32IntegerAttr(0));

  emitTileOutput(item, firstQuery, loop.getResults());
}

Value KernelEmitter::keyLimitOf(const Item &item, Value firstQuery) {
  if (!plan.causal)
    return item.rows;
  return e.min(item.rows, e.add(firstQuery, e.idx(plan.tileQueries)));
}

SmallVector<Value> KernelEmitter::initialTileState() {
  // Running max and (thread-partial) sum of rows g and g + 8, then the
  // output accumulators, 4 per 8-column tile.
  SmallVector<Value> init = {e.negInf(), e.negInf(), e.f32(0), e.f32(0)};
  for (int64_t i = 0; i < plan.headDim / 8 * 4; ++i)
    init.push_back(e.f32(0));
  return init;
}

SmallVector<Value>
KernelEmitter::emitKeyBlock(const Item &item, const SharedTile &queryTile,
                            const SharedTile &keys, const SharedTile &values,
                            Value block, Value firstQuery, Value keyLimit,
                            ValueRange state) {
  const int64_t BN = plan.tileKeys, D = plan.headDim;
  const int64_t keyTiles = BN / 8, dimTiles = D / 8;
  Value group = e.div(lane, e.idx(4)); // row of the fragment
  Value quad = e.rem(lane, e.idx(4));  // column pair of the fragment
  Value warpRow = e.mul(warp, e.idx(16));
  // Scores S = Q K^T of this warp's 16 rows and the block's BN keys.
  // Without biases to add (in log2 units) and with a positive scale, the
  // scale waits for the exponent, where it folds into one FMA with the row
  // maximum, and the maxima are taken on the unscaled scores.
  bool deferScale =
      plan.wgmma && !plan.hasKeyBias && !plan.attnRank && plan.scaleLog2 > 0;
  SmallVector<SmallVector<Value>> scores(keyTiles);
  if (plan.wgmma) {
    if (scoreTurn)
      scoreTurn(/*begin=*/true);
    SmallVector<Value> acc = wgmmaScores(queryTile, keys);
    if (scoreTurn)
      scoreTurn(/*begin=*/false);
    for (int64_t nt = 0; nt < keyTiles; ++nt)
      for (int64_t c = 0; c < 4; ++c)
        scores[nt].push_back(
            deferScale ? acc[nt * 4 + c]
                       : e.mulf(acc[nt * 4 + c], e.f32(plan.scaleLog2)));
  } else {
    // The query fragments are re-read from shared memory for each block
    // (D / 16 ldmatrix per warp) rather than held: that frees D / 4
    // registers, which the accumulators need to stay out of local memory.
    SmallVector<SmallVector<Value>> queryFragments;
    for (int64_t kk = 0; kk < D / 16; ++kk)
      queryFragments.push_back(ldmatrix(
          queryTile.view, e.add(warpRow, e.rem(lane, e.idx(16))),
          e.add(e.idx(kk * 16), e.mul(e.div(lane, e.idx(16)), e.idx(8))),
          /*transpose=*/false));
    for (int64_t nt = 0; nt < keyTiles; ++nt) {
      SmallVector<Value> acc(4, e.f32(0));
      for (int64_t kk2 = 0; kk2 < D / 32; ++kk2) {
        SmallVector<Value> frag = ldmatrix(
            keys.view, e.add(e.idx(nt * 8), e.rem(lane, e.idx(8))),
            e.add(e.idx(kk2 * 32), e.mul(e.div(lane, e.idx(8)), e.idx(8))),
            /*transpose=*/false);
        acc = mma(queryFragments[2 * kk2], {frag[0], frag[1]}, acc);
        acc = mma(queryFragments[2 * kk2 + 1], {frag[2], frag[3]}, acc);
      }
      for (Value &v : acc)
        v = e.mulf(v, e.f32(plan.scaleLog2));
      scores[nt] = acc;
    }
  }

  // Masks, causal limit and ragged blocks, only where they can matter.
  Value firstKey = e.mul(block, e.idx(BN));
  Value blockEnd = e.add(firstKey, e.idx(BN));
  Value needsMask = e.ult(keyLimit, blockEnd);
  if (plan.causal)
    needsMask = e.ori(needsMask, e.ult(e.add(firstQuery, warpRow),
                                       e.sub(blockEnd, e.idx(1))));
  if (plan.hasKeyBias || plan.attnRank)
    needsMask = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1);
  SmallVector<Value> flat;
  for (auto &tile : scores)
    flat.append(tile.begin(), tile.end());
  SmallVector<Type> flatTypes(flat.size(), b.getF32Type());
  auto maskIf = scf::IfOp::create(b, loc, flatTypes, needsMask, true);
  {
    OpBuilder::InsertionGuard inner(b);
    b.setInsertionPointToStart(maskIf.thenBlock());
    SmallVector<Value> masked;
    for (int64_t nt = 0; nt < keyTiles; ++nt)
      for (int64_t c = 0; c < 4; ++c) {
        Value keyRow = e.add(
            firstKey, e.add(e.idx(nt * 8 + (c & 1)), e.mul(quad, e.idx(2))));
        Value queryRow = e.add(e.add(firstQuery, warpRow),
                               e.add(group, e.idx((c >> 1) * 8)));
        Value allowed = e.ult(keyRow, keyLimit);
        if (plan.causal)
          allowed = e.andi(allowed, e.ule(keyRow, queryRow));
        Value score = addBiases(item, scores[nt][c], queryRow, keyRow);
        masked.push_back(e.select(allowed, score, e.negInf()));
      }
    scf::YieldOp::create(b, loc, masked);
    b.setInsertionPointToStart(maskIf.elseBlock());
    scf::YieldOp::create(b, loc, flat);
  }
  for (int64_t nt = 0; nt < keyTiles; ++nt)
    for (int64_t c = 0; c < 4; ++c)
      scores[nt][c] = maskIf.getResult(nt * 4 + c);

  // Online softmax for rows g (half 0) and g + 8 (half 1).
  SmallVector<Value> newState(state.begin(), state.end());
  SmallVector<Value> alpha(2);
  for (int64_t half = 0; half < 2; ++half) {
    Value rowMax = e.negInf();
    for (int64_t nt = 0; nt < keyTiles; ++nt)
      rowMax = e.maxf(rowMax,
                      e.maxf(scores[nt][2 * half], scores[nt][2 * half + 1]));
    rowMax = e.maxf(rowMax, e.shuffleXor(rowMax, 1));
    rowMax = e.maxf(rowMax, e.shuffleXor(rowMax, 2));
    if (deferScale)
      rowMax = e.mulf(rowMax, e.f32(plan.scaleLog2));
    Value oldMax = state[half];
    Value newMax = e.maxf(oldMax, rowMax);
    // A row with no allowed key yet keeps -inf; subtract 0 instead so
    // that exp2 gives 0, never NaN.
    Value base = e.select(e.isNegInf(newMax), e.f32(0), newMax);
    alpha[half] = e.exp2(e.subf(oldMax, base));
    Value sum = e.mulf(state[2 + half], alpha[half]);
    for (int64_t nt = 0; nt < keyTiles; ++nt)
      for (int64_t c = 2 * half; c < 2 * half + 2; ++c) {
        Value score = scores[nt][c];
        if (deferScale)
          score = e.mulf(score, e.f32(plan.scaleLog2));
        scores[nt][c] = e.exp2(e.subf(score, base));
        sum = e.addf(sum, scores[nt][c]);
      }
    newState[half] = newMax;
    newState[2 + half] = sum;
  }
  for (int64_t nt = 0; nt < dimTiles; ++nt)
    for (int64_t c = 0; c < 4; ++c)
      newState[4 + nt * 4 + c] = e.mulf(state[4 + nt * 4 + c], alpha[c >> 1]);

  // O += P V: the score fragments, rounded to the input type, are the A
  // operands (two 8-key tiles make one 16-key step).
  SmallVector<SmallVector<Value>> probabilities;
  for (int64_t kk = 0; kk < BN / 16; ++kk)
    probabilities.push_back(
        {pack(scores[2 * kk][0], scores[2 * kk][1]),
         pack(scores[2 * kk][2], scores[2 * kk][3]),
         pack(scores[2 * kk + 1][0], scores[2 * kk + 1][1]),
         pack(scores[2 * kk + 1][2], scores[2 * kk + 1][3])});
  if (plan.wgmma) {
    SmallVector<Value> acc(newState.begin() + 4, newState.end());
    acc = wgmmaAccumulate(probabilities, values, acc);
    llvm::copy(acc, newState.begin() + 4);
  } else {
    for (int64_t kk = 0; kk < BN / 16; ++kk) {
      for (int64_t nt2 = 0; nt2 < D / 16; ++nt2) {
        Value keyRow = e.add(
            e.idx(kk * 16),
            e.add(e.rem(lane, e.idx(8)),
                  e.mul(e.rem(e.div(lane, e.idx(8)), e.idx(2)), e.idx(8))));
        Value dim =
            e.add(e.idx(nt2 * 16), e.mul(e.div(lane, e.idx(16)), e.idx(8)));
        SmallVector<Value> frag = ldmatrix(values.view, keyRow, dim, true);
        for (int64_t half = 0; half < 2; ++half) {
          int64_t nt = 2 * nt2 + half;
          SmallVector<Value> acc(newState.begin() + 4 + nt * 4,
                                 newState.begin() + 8 + nt * 4);
          acc =
              mma(probabilities[kk], {frag[2 * half], frag[2 * half + 1]}, acc);
          for (int64_t c = 0; c < 4; ++c)
            newState[4 + nt * 4 + c] = acc[c];
        }
      }
    }
  }
  return newState;
}

void KernelEmitter::emitTileOutput(const Item &item, Value firstQuery,
                                   ValueRange result) {
  const int64_t dimTiles = plan.headDim / 8;
  Value group = e.div(lane, e.idx(4));
  Value quad = e.rem(lane, e.idx(4));
  Value warpRow = e.mul(warp, e.idx(16));
  // Full row sums, then one write per row this thread holds.
  for (int64_t half = 0; half < 2; ++half) {
    Value sum = result[2 + half];
    sum = e.addf(sum, e.shuffleXor(sum, 1));
    sum = e.addf(sum, e.shuffleXor(sum, 2));
    Value row =
        e.add(e.add(firstQuery, warpRow), e.add(group, e.idx(half * 8)));
    auto rowIf = scf::IfOp::create(b, loc, e.ult(row, item.rows), false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(rowIf.thenBlock());
    SmallVector<std::pair<Value, SmallVector<Value>>> chunks;
    for (int64_t nt = 0; nt < dimTiles; ++nt)
      chunks.push_back(
          {e.add(e.idx(nt * 8), e.mul(quad, e.idx(2))),
           {result[4 + nt * 4 + 2 * half], result[4 + nt * 4 + 2 * half + 1]}});
    emitRowWrite(item, rowPosition(item, row), result[half], sum, chunks,
                 e.eq(quad, e.idx(0)));
  }
}
