//===- WarpSpecializedTile.cpp - the TMA-fed warp-specialised loop --------===//
//
// The Hopper kernel organised as FlashAttention-3 is: warpgroup 0 produces,
// one of its threads issuing the TMA copies (cp.async.bulk.tensor, 128-byte
// swizzle) of the query tile and of `stages` key/value blocks into shared
// memory through a tensor map per operand and pattern whose rows are the
// dilated rows (no gather, no address arithmetic in the compute warps); the
// other warpgroups compute with the key-block code of the cp.async kernel
// (wgmma, online softmax). Tiles change hands on mbarriers (full: the
// copies' bytes landed; empty: every compute warp is done with it), so the
// loop has no block-wide barrier and the two compute warpgroups drift out of
// step, one's softmax beside the other's GEMMs. setmaxnreg moves registers
// from the producer to the compute warpgroups.
//
// Phases: both roles walk the same work items and count the key blocks and
// query tiles they handled; block n uses stage n mod S in phase
// (n / S) mod 2, query tile i phase i mod 2.
//
//===----------------------------------------------------------------------===//

#include "KernelEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::dilattn::cuda;

namespace {

/// Registers per thread after the hand-over: the producer keeps few, the
/// compute threads get what two warpgroups of 64x128 accumulators, scores
/// and probabilities need (128 * 24 + 256 * 240 <= 64K).
constexpr int64_t kProducerRegisters = 24;
constexpr int64_t kConsumerRegisters = 240;
/// Elements of a 16-bit TMA box row: the 128 bytes of one swizzled row.
constexpr int64_t kBoxColumns = 64;

void ptx(OpBuilder &b, Location loc, const std::string &text,
         const std::string &constraints, ValueRange operands) {
  LLVM::InlineAsmOp::create(b, loc, TypeRange{}, operands, text, constraints,
                            /*has_side_effects=*/true,
                            /*is_align_stack=*/false,
                            LLVM::tailcallkind::TailCallKind::None,
                            LLVM::AsmDialectAttr(), ArrayAttr());
}

Value toI32(OpBuilder &b, Location loc, Value index) {
  return arith::IndexCastUIOp::create(b, loc, b.getI32Type(), index);
}

void initBarrier(OpBuilder &b, Location loc, Value address, int64_t count) {
  Value arrivals = arith::ConstantIntOp::create(b, loc, b.getI32Type(), count);
  ptx(b, loc, "mbarrier.init.shared::cta.b64 [$0], $1;", "r,r,~{memory}",
      {address, arrivals});
}

/// Spins until the barrier's phase of parity `parity` (0 or 1) completed.
void waitBarrier(OpBuilder &b, Location loc, Value address, Value parity) {
  ptx(b, loc,
      "{\n .reg .pred done;\n wait:\n"
      " mbarrier.try_wait.parity.shared::cta.b64 done, [$0], $1;\n"
      " @!done bra wait;\n}",
      "r,r,~{memory}", {address, toI32(b, loc, parity)});
}

void arriveBarrier(OpBuilder &b, Location loc, Value address) {
  ptx(b, loc, "mbarrier.arrive.shared::cta.b64 _, [$0];", "r,~{memory}",
      {address});
}

/// Arrives and announces `bytes` of copies that complete the phase.
void arriveExpectBytes(OpBuilder &b, Location loc, Value address,
                       int64_t bytes) {
  Value count = arith::ConstantIntOp::create(b, loc, b.getI32Type(), bytes);
  ptx(b, loc, "mbarrier.arrive.expect_tx.shared::cta.b64 _, [$0], $1;",
      "r,r,~{memory}", {address, count});
}

void setMaxRegisters(OpBuilder &b, Location loc, bool increase, int64_t count) {
  ptx(b, loc,
      llvm::formatv("setmaxnreg.{0}.sync.aligned.u32 {1};",
                    increase ? "inc" : "dec", count)
          .str(),
      "~{memory}", {});
}

} // namespace

Value KernelEmitter::barrierAddress(int64_t index) {
  return barrierAddress(e.idx(index), 0);
}

Value KernelEmitter::barrierAddress(Value index, int64_t first) {
  Value bytes = e.add(e.add(sharedPad, e.idx(plan.barrierOffset() + 8 * first)),
                      e.mul(index, e.idx(8)));
  Value address = arith::AddIOp::create(
      b, loc, sharedAddress,
      arith::IndexCastUIOp::create(b, loc, b.getI64Type(), bytes));
  return arith::TruncIOp::create(b, loc, b.getI32Type(), address);
}

void KernelEmitter::emitWarpSpecializedItems(Value first, Value total,
                                             Value stride) {
  const int64_t S = plan.stages;
  const int64_t computeWarps = plan.warps();
  // Barriers: 0 query tile full, 1 query tile empty, 2 + s stage s full,
  // 2 + S + s stage s empty. Full phases complete with the copies' bytes
  // (one arrival: the producer's), empty ones with every compute warp.
  Value tid = thread;
  auto initIf = scf::IfOp::create(b, loc, e.eq(tid, e.idx(0)), false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(initIf.thenBlock());
    initBarrier(b, loc, barrierAddress(0), 1);
    initBarrier(b, loc, barrierAddress(1), computeWarps);
    for (int64_t s = 0; s < S; ++s) {
      initBarrier(b, loc, barrierAddress(2 + s), 1);
      initBarrier(b, loc, barrierAddress(2 + S + s), computeWarps);
    }
    ptx(b, loc, "fence.mbarrier_init.release.cluster;", "~{memory}", {});
  }
  gpu::BarrierOp::create(b, loc);

  // Both roles walk the same items, counting key blocks and query tiles.
  auto walkItems =
      [&](llvm::function_ref<void(const Item &, Value, Value)> handle) {
        auto loop = scf::ForOp::create(b, loc, first, total, stride,
                                       ValueRange{e.idx(0), e.idx(0)});
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(loop.getBody());
        Value blockCount = loop.getRegionIterArgs()[0];
        Value tileCount = loop.getRegionIterArgs()[1];
        Item item = decodeItem(loop.getInductionVar());
        Value firstQuery = e.mul(item.tile, e.idx(plan.tileQueries));
        Value numBlocks =
            e.ceilDiv(keyLimitOf(item, firstQuery), e.idx(plan.tileKeys));
        handle(item, blockCount, tileCount);
        Value nextBlocks = e.add(blockCount, numBlocks);
        Value nextTiles = e.add(tileCount, e.idx(1));
        scf::YieldOp::create(
            b, loc,
            ValueRange{e.select(item.hasRows, nextBlocks, blockCount),
                       e.select(item.hasRows, nextTiles, tileCount)});
      };

  Value producer = e.ult(tid, e.idx(kWarpgroupThreads));
  auto roleIf = scf::IfOp::create(b, loc, producer, /*withElse=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(roleIf.thenBlock());
    setMaxRegisters(b, loc, /*increase=*/false, kProducerRegisters);
    auto issuer = scf::IfOp::create(b, loc, e.eq(tid, e.idx(0)), false);
    b.setInsertionPointToStart(issuer.thenBlock());
    walkItems([&](const Item &item, Value blockCount, Value tileCount) {
      auto rowsIf = scf::IfOp::create(b, loc, item.hasRows, false);
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToStart(rowsIf.thenBlock());
      emitProducerItem(item, blockCount, tileCount);
    });
  }
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(roleIf.elseBlock());
    setMaxRegisters(b, loc, /*increase=*/true, kConsumerRegisters);
    // The compute code indexes threads and warps from 0 (inside this
    // branch only: restored below).
    Value blockThread = thread, blockWarp = warp;
    llvm::scope_exit restore([&] {
      thread = blockThread;
      warp = blockWarp;
      scoreTurn = nullptr;
    });
    thread = e.sub(tid, e.idx(kWarpgroupThreads));
    warp = e.div(thread, e.idx(kWarpSize));
    if (computeWarps == 8) {
      // Ping-pong (FlashAttention-3): the two compute warpgroups take turns
      // to issue Q K^T, so that one's softmax runs beside the other's GEMM
      // instead of both waiting for the tensor cores at once. Named barrier
      // 1 + g is warpgroup g's turn: it syncs there (its 128 threads) and
      // the other warpgroup arrives there (128) when its own GEMM is done.
      // Warpgroup 0 goes first.
      Value group = e.div(thread, e.idx(kWarpgroupThreads));
      Value own = toI32(b, loc, e.add(group, e.idx(1)));
      Value other = toI32(b, loc, e.sub(e.idx(2), group));
      Value pair = e.i32(2 * kWarpgroupThreads);
      auto second = scf::IfOp::create(b, loc, e.eq(group, e.idx(1)), false);
      {
        OpBuilder::InsertionGuard inner(b);
        b.setInsertionPointToStart(second.thenBlock());
        ptx(b, loc, "bar.arrive $0, $1;", "r,r,~{memory}", {e.i32(1), pair});
      }
      scoreTurn = [this, own, other, pair](bool begin) {
        if (begin)
          ptx(b, loc, "bar.sync $0, $1;", "r,r,~{memory}", {own, pair});
        else
          ptx(b, loc, "bar.arrive $0, $1;", "r,r,~{memory}", {other, pair});
      };
    }
    walkItems([&](const Item &item, Value blockCount, Value tileCount) {
      OpBuilder::InsertionGuard inner(b);
      if (plan.output != OutputMode::Merge) {
        auto spanIf = scf::IfOp::create(b, loc, item.inSegment, false);
        b.setInsertionPointToStart(spanIf.thenBlock());
        emitZeroFill(item);
        b.setInsertionPointAfter(spanIf);
      }
      auto rowsIf = scf::IfOp::create(b, loc, item.hasRows, false);
      b.setInsertionPointToStart(rowsIf.thenBlock());
      emitConsumerTile(item, blockCount, tileCount);
    });
  }
}

void KernelEmitter::emitProducerItem(const Item &item, Value blockCount,
                                     Value tileCount) {
  const int64_t BM = plan.tileQueries, BN = plan.tileKeys, S = plan.stages;
  const int64_t columnBlocks = plan.headDim / kBoxColumns;
  Value firstQuery = e.mul(item.tile, e.idx(BM));
  Value numBlocks = e.ceilDiv(keyLimitOf(item, firstQuery), e.idx(BN));
  // Dilated row t of the item is position base + t r: coordinate
  // (base mod r, base div r + t) of the maps' (r, N / r) dimensions.
  Value base = e.add(item.segStart, item.offset);
  Value phaseOfRow = toI32(b, loc, e.rem(base, item.dilation));
  Value firstRow = e.div(base, item.dilation);
  Value head = toI32(b, loc, item.head);
  Value batch = toI32(b, loc, item.batch);
  auto mapOf = [&](int64_t operand) {
    Value map = tensorMaps[operand];
    for (size_t i = 1; i < plan.patterns.size(); ++i)
      map = LLVM::SelectOp::create(b, loc, e.eq(item.pattern, e.idx(i)),
                                   tensorMaps[3 * i + operand], map);
    return map;
  };
  Value queryMap = mapOf(0), keyMap = mapOf(1), valueMap = mapOf(2);
  auto copy = [&](Value map, Value tileOffset, int64_t rows, Value row,
                  Value barrier) {
    for (int64_t c = 0; c < columnBlocks; ++c) {
      Value bytes = e.add(e.add(sharedPad, tileOffset),
                          e.idx(c * rows * kSwizzleRowBytes));
      Value destination = arith::TruncIOp::create(
          b, loc, b.getI32Type(),
          arith::AddIOp::create(
              b, loc, sharedAddress,
              arith::IndexCastUIOp::create(b, loc, b.getI64Type(), bytes)));
      Value column = e.i32(c * kBoxColumns);
      Value rowCoordinate = toI32(b, loc, e.add(firstRow, row));
      ptx(b, loc,
          "cp.async.bulk.tensor.5d.shared::cluster.global.mbarrier::"
          "complete_tx::bytes [$0], [$1, {$2, $3, $4, $5, $6}], [$7];",
          "r,l,r,r,r,r,r,r,~{memory}",
          {destination, map, column, head, phaseOfRow, rowCoordinate, batch,
           barrier});
    }
  };

  // The query tile, once the compute warps are done with the last one.
  Value queryFull = barrierAddress(0);
  Value tileParity = e.rem(tileCount, e.idx(2));
  waitBarrier(b, loc, barrierAddress(1),
              e.sub(e.idx(1), tileParity)); // the previous phase
  arriveExpectBytes(b, loc, queryFull, plan.queryTileBytes());
  copy(queryMap, e.idx(0), BM, firstQuery, queryFull);

  // Key and value blocks, each into the next stage once it is free.
  auto loop = scf::ForOp::create(b, loc, e.idx(0), numBlocks, e.idx(1));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value block = loop.getInductionVar();
  Value count = e.add(blockCount, block);
  Value stage = e.rem(count, e.idx(S));
  Value parity = e.rem(e.div(count, e.idx(S)), e.idx(2));
  Value full = barrierAddress(stage, 2);
  waitBarrier(b, loc, barrierAddress(stage, 2 + S), e.sub(e.idx(1), parity));
  arriveExpectBytes(b, loc, full, 2 * plan.keyStageBytes());
  Value firstKey = e.mul(block, e.idx(BN));
  Value keyOffset = e.add(e.idx(plan.queryTileBytes()),
                          e.mul(stage, e.idx(plan.keyStageBytes())));
  Value valueOffset =
      e.add(e.idx(plan.queryTileBytes() + S * plan.keyStageBytes()),
            e.mul(stage, e.idx(plan.keyStageBytes())));
  copy(keyMap, keyOffset, BN, firstKey, full);
  copy(valueMap, valueOffset, BN, firstKey, full);
}

void KernelEmitter::emitConsumerTile(const Item &item, Value blockCount,
                                     Value tileCount) {
  const int64_t BM = plan.tileQueries, BN = plan.tileKeys, S = plan.stages;
  Value firstQuery = e.mul(item.tile, e.idx(BM));
  Value keyLimit = keyLimitOf(item, firstQuery);
  Value numBlocks = e.ceilDiv(keyLimit, e.idx(BN));
  Value leader = e.eq(lane, e.idx(0));
  auto arriveOnce = [&](Value address) {
    auto leaderIf = scf::IfOp::create(b, loc, leader, false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(leaderIf.thenBlock());
    arriveBarrier(b, loc, address);
  };

  SharedTile queryTile = tileAt(BM, e.idx(0));
  waitBarrier(b, loc, barrierAddress(0), e.rem(tileCount, e.idx(2)));
  auto loop = scf::ForOp::create(b, loc, e.idx(0), numBlocks, e.idx(1),
                                 initialTileState());
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value block = loop.getInductionVar();
    Value count = e.add(blockCount, block);
    Value stage = e.rem(count, e.idx(S));
    Value parity = e.rem(e.div(count, e.idx(S)), e.idx(2));
    waitBarrier(b, loc, barrierAddress(stage, 2), parity);
    SharedTile keys =
        tileAt(BN, e.add(e.idx(plan.queryTileBytes()),
                         e.mul(stage, e.idx(plan.keyStageBytes()))));
    SharedTile values = tileAt(
        BN, e.add(e.idx(plan.queryTileBytes() + S * plan.keyStageBytes()),
                  e.mul(stage, e.idx(plan.keyStageBytes()))));
    SmallVector<Value> next =
        emitKeyBlock(item, queryTile, keys, values, block, firstQuery, keyLimit,
                     loop.getRegionIterArgs());
    // The warp's GEMMs have completed (emitKeyBlock waits for them): the
    // stage may be refilled once every compute warp says so.
    arriveOnce(barrierAddress(stage, 2 + S));
    scf::YieldOp::create(b, loc, next);
  }
  arriveOnce(barrierAddress(1));
  emitTileOutput(item, firstQuery, loop.getResults());
}
