//===- SimtTile.cpp - the f32 tile loop on CUDA cores ---------------------===//
//
// FlashAttention on CUDA cores in f32, for inputs that tensor cores do not
// take.
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

void KernelEmitter::emitSimtTile(const Item &item) {
  // FlashAttention on CUDA cores in f32: a quad of threads per query row,
  // each with D/4 of its columns as vectors of 4 (columns c*16 + lane*4 ..
  // +3), so a quad reads one key row of shared memory in four 16-byte
  // pieces and the quads of a warp read the same row (broadcast). Keys and
  // values come in blocks of kSimtKeys rows, loaded by the whole block; the
  // block's scores are computed first, then one online-softmax update.
  const int64_t D = plan.headDim, BN = kSimtKeys, chunks = D / 16;
  const int64_t rowChunks = D / 4;
  Type f32 = b.getF32Type();
  auto vec4 = VectorType::get({4}, f32);
  llvm::MaybeAlign aligned(16);
  Value quad = e.div(thread, e.idx(kSimtLanesPerQuery));
  Value quadLane = e.rem(thread, e.idx(kSimtLanesPerQuery));
  Value firstQuery = e.mul(item.tile, e.idx(plan.tileQueries));
  Value row = e.add(firstQuery, quad);
  Value lastRow = e.sub(item.rows, e.idx(1));
  // Rows past the selection compute on a real row (the block's barriers
  // need every thread) and write nothing.
  Value active = e.ult(row, item.rows);
  Value queryRow = e.min(row, lastRow);
  Value queryPos = rowPosition(item, queryRow);
  auto column = [&](int64_t c) {
    return e.add(e.mul(quadLane, e.idx(4)), e.idx(c * 16));
  };
  SmallVector<Value> q;
  for (int64_t c = 0; c < chunks; ++c)
    q.push_back(vector::LoadOp::create(
        b, loc, vec4, query,
        ValueRange{item.batch, queryPos, item.head, column(c)},
        /*nontemporal=*/false, aligned));
  Value keyLimit = item.rows;
  if (plan.causal)
    keyLimit = e.min(item.rows, e.add(firstQuery, e.idx(plan.tileQueries)));
  Value numBlocks = e.ceilDiv(keyLimit, e.idx(BN));
  auto tileType = MemRefType::get(
      {BN, D}, f32, MemRefLayoutAttrInterface{},
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup));
  Value keyTile =
      memref::ViewOp::create(b, loc, tileType, shared, e.idx(0), ValueRange{});
  Value valueTile = memref::ViewOp::create(b, loc, tileType, shared,
                                           e.idx(BN * D * 4), ValueRange{});
  Value zero4 = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(vec4, b.getF32FloatAttr(0)));
  SmallVector<Value> init = {e.negInf(), e.f32(0)};
  init.append(chunks, zero4);

  auto blocks = scf::ForOp::create(b, loc, e.idx(0), numBlocks, e.idx(1), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(blocks.getBody());
    Value firstKey = e.mul(blocks.getInductionVar(), e.idx(BN));
    ValueRange state = blocks.getRegionIterArgs();
    // The previous block's reads are done before the tiles are refilled.
    gpu::BarrierOp::create(b, loc);
    int64_t pieces = BN * rowChunks;
    for (int64_t i = 0; i < pieces; i += plan.threads()) {
      Value piece = e.add(thread, e.idx(i));
      auto inRange = scf::IfOp::create(b, loc, e.ult(piece, e.idx(pieces)),
                                       /*withElse=*/false);
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToStart(inRange.thenBlock());
      Value r = e.div(piece, e.idx(rowChunks));
      Value col = e.mul(e.rem(piece, e.idx(rowChunks)), e.idx(4));
      // Keys past the limit load a real row; their scores are masked.
      Value keyPos = rowPosition(item, e.min(e.add(firstKey, r), lastRow));
      for (auto [source, tile] :
           {std::pair{key, keyTile}, std::pair{value, valueTile}}) {
        Value loaded = vector::LoadOp::create(
            b, loc, vec4, source,
            ValueRange{item.batch, keyPos, item.head, col},
            /*nontemporal=*/false, aligned);
        vector::StoreOp::create(b, loc, loaded, tile, ValueRange{r, col},
                                /*nontemporal=*/false, aligned);
      }
    }
    gpu::BarrierOp::create(b, loc);

    // Scores of the block (log2 units), -inf where not allowed.
    SmallVector<Value> scores;
    Value blockMax = e.negInf();
    for (int64_t j = 0; j < BN; ++j) {
      Value acc = zero4;
      for (int64_t c = 0; c < chunks; ++c) {
        Value k = vector::LoadOp::create(b, loc, vec4, keyTile,
                                         ValueRange{e.idx(j), column(c)},
                                         /*nontemporal=*/false, aligned);
        acc = vector::FMAOp::create(b, loc, q[c], k, acc);
      }
      Value dot = e.f32(0);
      for (int64_t l = 0; l < 4; ++l)
        dot = e.addf(
            dot, vector::ExtractOp::create(b, loc, acc, ArrayRef<int64_t>{l}));
      dot = e.addf(dot, e.shuffleXor(dot, 1));
      dot = e.addf(dot, e.shuffleXor(dot, 2));
      Value keyRow = e.add(firstKey, e.idx(j));
      Value valid = e.ult(keyRow, keyLimit);
      if (plan.causal)
        valid = e.andi(valid, e.ule(keyRow, row));
      Value score = addBiases(item, e.mulf(dot, e.f32(plan.scaleLog2)),
                              queryRow, e.min(keyRow, lastRow));
      score = e.select(valid, score, e.negInf());
      scores.push_back(score);
      blockMax = e.maxf(blockMax, score);
    }
    Value newMax = e.maxf(state[0], blockMax);
    Value base = e.select(e.isNegInf(newMax), e.f32(0), newMax);
    Value alpha = e.exp2(e.subf(state[0], base));
    Value alpha4 = vector::BroadcastOp::create(b, loc, vec4, alpha);
    Value sum = e.mulf(state[1], alpha);
    SmallVector<Value> out;
    for (int64_t c = 0; c < chunks; ++c)
      out.push_back(e.mulf(state[2 + c], alpha4));
    for (int64_t j = 0; j < BN; ++j) {
      Value p = e.exp2(e.subf(scores[j], base));
      sum = e.addf(sum, p);
      Value p4 = vector::BroadcastOp::create(b, loc, vec4, p);
      for (int64_t c = 0; c < chunks; ++c) {
        Value v = vector::LoadOp::create(b, loc, vec4, valueTile,
                                         ValueRange{e.idx(j), column(c)},
                                         /*nontemporal=*/false, aligned);
        out[c] = vector::FMAOp::create(b, loc, p4, v, out[c]);
      }
    }
    SmallVector<Value> next = {newMax, sum};
    next.append(out.begin(), out.end());
    scf::YieldOp::create(b, loc, next);
  }
  ValueRange result = blocks.getResults();
  auto write = scf::IfOp::create(b, loc, active, /*withElse=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(write.thenBlock());
  SmallVector<std::pair<Value, SmallVector<Value>>> outChunks;
  for (int64_t c = 0; c < chunks; ++c) {
    SmallVector<Value> values;
    for (int64_t l = 0; l < 4; ++l)
      values.push_back(vector::ExtractOp::create(b, loc, result[2 + c],
                                                 ArrayRef<int64_t>{l}));
    outChunks.push_back({column(c), values});
  }
  emitRowWrite(item, queryPos, result[0], result[1], outChunks,
               e.eq(quadLane, e.idx(0)));
}
