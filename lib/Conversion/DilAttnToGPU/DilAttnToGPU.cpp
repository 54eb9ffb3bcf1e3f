//===- DilAttnToGPU.cpp - dilated attention to CUDA kernels ---------------===//
//
// Converts dilattn.write_dilated_attention into gpu.launch_func operations of
// kernels generated here (gpu + nvgpu + nvvm dialects):
//
//   work item   (pattern, b, h, segment, tile): `tile-queries` consecutive
//               selected queries of one segment, and the span of positions
//               they stand for (tile-queries * r positions);
//   loads       cp.async of 16-byte chunks of the strided rows straight into
//               padded shared-memory tiles (row m*w + o + j*r), `stages`
//               key/value blocks in flight;
//   f16/bf16    ldmatrix + mma.sync.m16n8k16 (f32 accumulation) for Q K^T
//               and P V, online softmax in registers in log2 units (ex2);
//   f32         a CUDA-core kernel, f32 throughout: a quad of threads per
//               query row, blocks of keys and values in shared memory,
//               scores of a block first, then one online-softmax update;
//   output      each element written once: grouped mode in one launch
//               (zeros where a pattern selects nothing), longnet mode in one
//               launch per pattern merged through a log-sum-exp workspace.
//
// The kernels are persistent (a block loops over work items with the grid
// size as stride), so the runtime may launch as many blocks as fit on the
// device while the host code emitted here launches one per item.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Dialect/DilAttn/Transforms/Passes.h"

#include "dilattn/Support/Problem.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <limits>

namespace mlir::dilattn {
#define GEN_PASS_DEF_DILATTNCONVERTTOGPU
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h.inc"
} // namespace mlir::dilattn

using namespace mlir;
using namespace mlir::dilattn;

namespace {

constexpr double kLog2E = 1.4426950408889634;
constexpr int64_t kWarpSize = 32;
/// Shared-memory rows are padded by 16 bytes so that the 8 rows an ldmatrix
/// reads fall into different banks.
constexpr int64_t kRowPaddingBytes = 16;
/// The f32 kernel: threads per query row (each holds D/4 of its columns, as
/// vectors of 4) and keys per shared-memory block.
constexpr int64_t kSimtLanesPerQuery = 4;
constexpr int64_t kSimtKeys = 16;

/// How a launch writes its results.
enum class OutputMode {
  /// Normalised output times `outputScale`, plus zeros where the pattern
  /// selects nothing (grouped mode).
  Store,
  /// Like Store, and the log-sum-exp of every position into the workspace
  /// (the first pattern of a longnet call).
  Init,
  /// Merged into the output and workspace of the earlier patterns, rows the
  /// pattern selects only.
  Merge,
};

/// Everything one generated kernel is specialised for.
struct KernelPlan {
  SmallVector<int64_t> segmentLengths;
  SmallVector<int64_t> dilationRates;
  /// The patterns this launch covers (all in grouped mode, one in longnet).
  SmallVector<int64_t> patterns;
  bool grouped = true;
  bool blockedOffsets = false;
  bool causal = false;
  double scaleLog2 = 0;
  int64_t headDim = 0;
  Type elementType;
  bool tensorCores = false;
  bool hasKeyBias = false;
  int64_t attnRank = 0;
  OutputMode output = OutputMode::Store;
  double outputScale = 1.0;
  int64_t tileQueries = 64;
  int64_t tileKeys = 64;
  int64_t stages = 2;

  int64_t numPatternsTotal() const { return segmentLengths.size(); }
  int64_t warps() const { return tileQueries / 16; }
  int64_t threads() const {
    return tensorCores ? warps() * kWarpSize : tileQueries * kSimtLanesPerQuery;
  }
  int64_t elementBytes() const {
    return elementType.getIntOrFloatBitWidth() / 8;
  }
  /// Elements of one padded shared-memory row.
  int64_t paddedRow() const {
    return headDim + kRowPaddingBytes / elementBytes();
  }
  int64_t queryTileBytes() const {
    return tileQueries * paddedRow() * elementBytes();
  }
  int64_t keyStageBytes() const {
    return tileKeys * paddedRow() * elementBytes();
  }
  int64_t sharedMemoryBytes() const {
    if (!tensorCores)
      return 2 * kSimtKeys * headDim * 4;
    return queryTileBytes() + 2 * stages * keyStageBytes();
  }
};

/// Code-building helpers at one insertion point. Kernels use no math
/// dialect ops: convert-gpu-to-nvvm may turn them into libdevice calls
/// (__nv_fmaf, __nv_exp2f), which ptxas cannot resolve without libdevice;
/// NVPTX fuses the multiply-adds itself.
struct Emitter {
  OpBuilder &b;
  Location loc;

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value i32(int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI32Type(), v);
  }
  Value f32(double v) {
    return arith::ConstantOp::create(b, loc,
                                     b.getF32FloatAttr(static_cast<float>(v)));
  }
  Value negInf() { return f32(-std::numeric_limits<double>::infinity()); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivUIOp::create(b, loc, x, y); }
  Value rem(Value x, Value y) { return arith::RemUIOp::create(b, loc, x, y); }
  Value ceilDiv(Value x, Value y) {
    return arith::CeilDivUIOp::create(b, loc, x, y);
  }
  Value min(Value x, Value y) { return arith::MinUIOp::create(b, loc, x, y); }
  Value max(Value x, Value y) { return arith::MaxUIOp::create(b, loc, x, y); }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  Value ult(Value x, Value y) { return cmp(arith::CmpIPredicate::ult, x, y); }
  Value ule(Value x, Value y) { return cmp(arith::CmpIPredicate::ule, x, y); }
  Value eq(Value x, Value y) { return cmp(arith::CmpIPredicate::eq, x, y); }
  Value andi(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value ori(Value x, Value y) { return arith::OrIOp::create(b, loc, x, y); }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, loc, c, x, y);
  }
  Value addf(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value subf(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value mulf(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value divf(Value x, Value y) { return arith::DivFOp::create(b, loc, x, y); }
  Value maxf(Value x, Value y) {
    return arith::MaximumFOp::create(b, loc, x, y);
  }
  Value fcmp(arith::CmpFPredicate p, Value x, Value y) {
    return arith::CmpFOp::create(b, loc, p, x, y);
  }
  Value isNegInf(Value x) {
    return fcmp(arith::CmpFPredicate::OEQ, x, negInf());
  }
  Value positive(Value x) { return fcmp(arith::CmpFPredicate::OGT, x, f32(0)); }
  /// exp2 and log2 as the PTX approximations (ex2.approx: 2 ulp, -inf
  /// gives +0). Inline PTX because convert-gpu-to-nvvm turns math.exp2 and
  /// llvm.intr.exp2 into libdevice calls (__nv_exp2f), which need libdevice
  /// linked in and are slower.
  Value ptxUnary(llvm::StringRef instruction, Value x) {
    return LLVM::InlineAsmOp::create(b, loc, b.getF32Type(), ValueRange{x},
                                     (instruction + " $0, $1;").str(), "=f,f",
                                     /*has_side_effects=*/false,
                                     /*is_align_stack=*/false,
                                     LLVM::tailcallkind::TailCallKind::None,
                                     LLVM::AsmDialectAttr(), ArrayAttr())
        .getResult(0);
  }
  Value exp2(Value x) { return ptxUnary("ex2.approx.ftz.f32", x); }
  Value log2(Value x) { return ptxUnary("lg2.approx.ftz.f32", x); }
  /// Butterfly reduction over the lanes whose ids differ in `mask` bits.
  Value shuffleXor(Value x, int32_t offset) {
    return gpu::ShuffleOp::create(b, loc, x, offset, kWarpSize,
                                  gpu::ShuffleMode::XOR)
        .getShuffleResult();
  }
  /// Picks values[i] where `index` == i (a chain of selects).
  Value pick(Value index, ArrayRef<Value> values) {
    Value result;
    for (auto [i, v] : llvm::enumerate(values))
      result = i == 0 ? v : select(eq(index, idx(i)), v, result);
    return result;
  }
  Value pickConstant(Value index, ArrayRef<int64_t> values) {
    SmallVector<Value> constants;
    for (int64_t v : values)
      constants.push_back(idx(v));
    return pick(index, constants);
  }
};

/// Where one pattern's work items lie in a launch.
struct PatternItems {
  Value heads;     // heads that use the pattern
  Value headBegin; // first of them
  Value segments;  // ceil(N / w)
  Value tiles;     // tiles per segment: ceil(min(w, N) / (BM * r))
  Value items;     // B * heads * segments * tiles
};

/// The work items of a launch, per pattern; shared by the kernel (decoding
/// its item index) and the host code (sizing the grid).
SmallVector<PatternItems> emitPatternItems(Emitter &e, const KernelPlan &plan,
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

Value emitTotalItems(Emitter &e, ArrayRef<PatternItems> items) {
  Value total = e.idx(0);
  for (const PatternItems &p : items)
    total = e.add(total, p.items);
  return total;
}

/// The kernel generator for one launch.
class KernelEmitter {
public:
  KernelEmitter(OpBuilder &builder, Location loc, const KernelPlan &plan)
      : b(builder), e{builder, loc}, loc(loc), plan(plan) {}

  void emitBody(gpu::GPUFuncOp func);

private:
  /// What a work item is about, decoded from its index.
  struct Item {
    Value batch, head, offset, dilation;
    Value segStart, segLen;
    /// Selected positions of the segment (rows of the dilated view).
    Value rows;
    Value tile;
    Value spanStart, spanEnd;
  };

  Value globalView(Value memref);
  Value rowPosition(const Item &item, Value row) {
    return e.add(e.add(item.segStart, item.offset), e.mul(row, item.dilation));
  }
  Value workspaceIndex(const Item &item, Value position) {
    return e.add(e.mul(e.add(e.mul(item.batch, seqLen), position), numHeads),
                 item.head);
  }

  void emitItem(Value itemIndex);
  void emitZeroFill(const Item &item);
  void emitTensorCoreTile(const Item &item);
  void emitSimtTile(const Item &item);
  /// Adds the mask biases of (query row, key row) to a score in log2 units.
  Value addBiases(const Item &item, Value score, Value queryRow, Value keyRow);
  /// Writes one output row from its unnormalised accumulator chunks.
  /// `chunks` holds (column, values) pairs of consecutive elements.
  void emitRowWrite(const Item &item, Value position, Value rowMax,
                    Value rowSum,
                    ArrayRef<std::pair<Value, SmallVector<Value>>> chunks,
                    Value writesWorkspace);

  /// Issues the cp.async copies of `numRows` rows from `firstRow` into
  /// `tileView`. With `rowLimit`, rows at or past it become zeros; without,
  /// all rows are known to exist (no clamping: cheaper addresses).
  void asyncLoadRows(Value source, Value tileView, const Item &item,
                     Value firstRow, Value rowLimit, int64_t numRows,
                     SmallVectorImpl<Value> &tokens);
  /// Closes the copies issued so far into one cp.async group.
  Value commitGroup(ArrayRef<Value> tokens) {
    return nvgpu::DeviceAsyncCreateGroupOp::create(
        b, loc, nvgpu::DeviceAsyncTokenType::get(b.getContext()), tokens);
  }
  Value sharedTile(int64_t rows, Value byteOffset);
  SmallVector<Value> ldmatrix(Value view, Value row, Value col, bool transpose);
  SmallVector<Value> mma(ArrayRef<Value> a, ArrayRef<Value> bFrag,
                         ArrayRef<Value> c);
  Value pack(Value x, Value y);
  /// A pair of 16-bit elements as nvvm.mma.sync takes them: vector<2xf16>
  /// for f16, an i32 for bf16.
  Value operandRegister(Value pair) {
    if (plan.elementType.isF16())
      return pair;
    return LLVM::BitcastOp::create(b, loc, b.getI32Type(), pair);
  }

  OpBuilder &b;
  Emitter e;
  Location loc;
  const KernelPlan &plan;

  Value query, key, value, output, workspace, keyBias, attnBias;
  Value shared;
  Value thread, lane, warp;
  Value batchSize, seqLen, numHeads;
  SmallVector<PatternItems> patternItems;
};

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

void KernelEmitter::emitItem(Value itemIndex) {
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
  Value inSegment = e.ult(item.spanStart, segEnd);
  auto spanIf = scf::IfOp::create(b, loc, inSegment, /*withElse=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(spanIf.thenBlock());
  item.spanEnd = e.min(e.add(item.spanStart, tilePositions), segEnd);
  if (plan.output != OutputMode::Merge)
    emitZeroFill(item);
  Value firstRow = e.mul(item.tile, e.idx(plan.tileQueries));
  auto rowsIf = scf::IfOp::create(b, loc, e.ult(firstRow, item.rows),
                                  /*withElse=*/false);
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
      b, loc, thread, total, e.idx(plan.threads()), ValueRange{},
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

Value KernelEmitter::sharedTile(int64_t rows, Value byteOffset) {
  auto type = MemRefType::get(
      {rows, plan.paddedRow()}, plan.elementType, MemRefLayoutAttrInterface{},
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup));
  return memref::ViewOp::create(b, loc, type, shared, byteOffset, ValueRange{});
}

void KernelEmitter::asyncLoadRows(Value source, Value tileView,
                                  const Item &item, Value firstRow,
                                  Value rowLimit, int64_t numRows,
                                  SmallVectorImpl<Value> &tokens) {
  int64_t lanes = 16 / plan.elementBytes();
  int64_t chunksPerRow = plan.headDim / lanes;
  int64_t chunks = numRows * chunksPerRow;
  Value lastRow = e.sub(item.rows, e.idx(1));
  for (int64_t c = 0; c < chunks; c += plan.threads()) {
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
        b, loc, tileView, ValueRange{row, col}, source,
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
  const int64_t BM = plan.tileQueries, BN = plan.tileKeys, D = plan.headDim;
  const int64_t S = plan.stages;
  const int64_t keyTiles = BN / 8, dimTiles = D / 8;
  Value firstQuery = e.mul(item.tile, e.idx(BM));
  Value keyLimit = item.rows;
  if (plan.causal)
    keyLimit = e.min(item.rows, e.add(firstQuery, e.idx(BM)));
  Value numBlocks = e.ceilDiv(keyLimit, e.idx(BN));

  Value queryTile = sharedTile(BM, e.idx(0));
  auto keyTile = [&](Value stage) {
    return sharedTile(BN, e.add(e.idx(plan.queryTileBytes()),
                                e.mul(stage, e.idx(plan.keyStageBytes()))));
  };
  auto valueTile = [&](Value stage) {
    return sharedTile(
        BN, e.add(e.idx(plan.queryTileBytes() + S * plan.keyStageBytes()),
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

  Value group = e.div(lane, e.idx(4)); // row of the fragment
  Value quad = e.rem(lane, e.idx(4));  // column pair of the fragment
  Value warpRow = e.mul(warp, e.idx(16));

  // Loop state: running max and (thread-partial) sum of rows g and g + 8,
  // then the output accumulators, 4 per 8-column tile.
  SmallVector<Value> init = {e.negInf(), e.negInf(), e.f32(0), e.f32(0)};
  for (int64_t i = 0; i < dimTiles * 4; ++i)
    init.push_back(e.f32(0));
  auto loop = scf::ForOp::create(b, loc, e.idx(0), numBlocks, e.idx(1), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value block = loop.getInductionVar();
    ValueRange state = loop.getRegionIterArgs();
    // Block `block` has landed once at most S - 2 younger groups are in
    // flight; the barrier then also tells that every warp is done with the
    // stage that block - 1 used, which the load of block + S - 1 reuses.
    // One barrier per block: the loads overlap this block's compute.
    nvgpu::DeviceAsyncWaitOp::create(b, loc, token, b.getI32IntegerAttr(S - 2));
    gpu::BarrierOp::create(b, loc);
    Value next = e.add(block, e.idx(S - 1));
    loadBlock(next, e.rem(next, e.idx(S)));
    Value stage = e.rem(block, e.idx(S));
    Value keys = keyTile(stage), values = valueTile(stage);
    // The query fragments are re-read from shared memory for each block
    // (D / 16 ldmatrix per warp) rather than held: that frees D / 4
    // registers, which the accumulators need to stay out of local memory.
    SmallVector<SmallVector<Value>> queryFragments;
    for (int64_t kk = 0; kk < D / 16; ++kk)
      queryFragments.push_back(ldmatrix(
          queryTile, e.add(warpRow, e.rem(lane, e.idx(16))),
          e.add(e.idx(kk * 16), e.mul(e.div(lane, e.idx(16)), e.idx(8))),
          /*transpose=*/false));

    // Scores S = Q K^T of this warp's 16 rows and the block's BN keys.
    SmallVector<SmallVector<Value>> scores(keyTiles);
    for (int64_t nt = 0; nt < keyTiles; ++nt) {
      SmallVector<Value> acc(4, e.f32(0));
      for (int64_t kk2 = 0; kk2 < D / 32; ++kk2) {
        SmallVector<Value> frag = ldmatrix(
            keys, e.add(e.idx(nt * 8), e.rem(lane, e.idx(8))),
            e.add(e.idx(kk2 * 32), e.mul(e.div(lane, e.idx(8)), e.idx(8))),
            /*transpose=*/false);
        acc = mma(queryFragments[2 * kk2], {frag[0], frag[1]}, acc);
        acc = mma(queryFragments[2 * kk2 + 1], {frag[2], frag[3]}, acc);
      }
      for (Value &v : acc)
        v = e.mulf(v, e.f32(plan.scaleLog2));
      scores[nt] = acc;
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
      Value oldMax = state[half];
      Value newMax = e.maxf(oldMax, rowMax);
      // A row with no allowed key yet keeps -inf; subtract 0 instead so
      // that exp2 gives 0, never NaN.
      Value base = e.select(e.isNegInf(newMax), e.f32(0), newMax);
      alpha[half] = e.exp2(e.subf(oldMax, base));
      Value sum = e.mulf(state[2 + half], alpha[half]);
      for (int64_t nt = 0; nt < keyTiles; ++nt)
        for (int64_t c = 2 * half; c < 2 * half + 2; ++c) {
          scores[nt][c] = e.exp2(e.subf(scores[nt][c], base));
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
    for (int64_t kk = 0; kk < BN / 16; ++kk) {
      SmallVector<Value> a = {
          pack(scores[2 * kk][0], scores[2 * kk][1]),
          pack(scores[2 * kk][2], scores[2 * kk][3]),
          pack(scores[2 * kk + 1][0], scores[2 * kk + 1][1]),
          pack(scores[2 * kk + 1][2], scores[2 * kk + 1][3])};
      for (int64_t nt2 = 0; nt2 < D / 16; ++nt2) {
        Value keyRow = e.add(
            e.idx(kk * 16),
            e.add(e.rem(lane, e.idx(8)),
                  e.mul(e.rem(e.div(lane, e.idx(8)), e.idx(2)), e.idx(8))));
        Value dim =
            e.add(e.idx(nt2 * 16), e.mul(e.div(lane, e.idx(16)), e.idx(8)));
        SmallVector<Value> frag = ldmatrix(values, keyRow, dim, true);
        for (int64_t half = 0; half < 2; ++half) {
          int64_t nt = 2 * nt2 + half;
          SmallVector<Value> acc(newState.begin() + 4 + nt * 4,
                                 newState.begin() + 8 + nt * 4);
          acc = mma(a, {frag[2 * half], frag[2 * half + 1]}, acc);
          for (int64_t c = 0; c < 4; ++c)
            newState[4 + nt * 4 + c] = acc[c];
        }
      }
    }
    scf::YieldOp::create(b, loc, newState);
  }
  // Copies of blocks past the end may still be in flight: let them land
  // before the shared memory goes to the next work item.
  nvgpu::DeviceAsyncWaitOp::create(b, loc, token, b.getI32IntegerAttr(0));

  // Epilogue: full row sums, then one write per row this thread holds.
  ValueRange result = loop.getResults();
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
/// strides (unit innermost stride for the rows).
MemRefType dynamicType(MemRefType type, bool unitInnerStride) {
  int64_t rank = type.getRank();
  SmallVector<int64_t> shape(rank, ShapedType::kDynamic);
  if (unitInnerStride)
    shape.back() = type.getShape().back();
  SmallVector<int64_t> strides(rank, ShapedType::kDynamic);
  if (unitInnerStride)
    strides.back() = 1;
  auto layout =
      StridedLayoutAttr::get(type.getContext(), ShapedType::kDynamic, strides);
  return MemRefType::get(shape, type.getElementType(), layout);
}

struct ConvertToGPUPass
    : public mlir::dilattn::impl::DilAttnConvertToGPUBase<ConvertToGPUPass> {
  using Base::Base;

  void runOnOperation() override;
  LogicalResult convert(WriteDilatedAttentionOp op, gpu::GPUModuleOp &module,
                        SymbolTable &symbols);
};

LogicalResult ConvertToGPUPass::convert(WriteDilatedAttentionOp op,
                                        gpu::GPUModuleOp &gpuModule,
                                        SymbolTable &symbols) {
  if (op.getItemBegin())
    return op.emitOpError("with an items range cannot be converted to GPU "
                          "kernels (the range is the CPU runtime's split)");
  auto queryType = cast<MemRefType>(op.getQuery().getType());
  Type element = queryType.getElementType();
  int64_t headDim = queryType.getShape().back();
  if (!element.isF16() && !element.isBF16() && !element.isF32())
    return op.emitOpError("element type ")
           << element << " is not supported by target cuda (supported: f16, "
           << "bf16, f32)";
  if (headDim != 64 && headDim != 128)
    return op.emitOpError("head dim ")
           << headDim << " is not supported by target cuda (supported: 64, "
           << "128)";
  for (Value operand : {op.getKey(), op.getValue(), op.getOutput()}) {
    auto type = cast<MemRefType>(operand.getType());
    if (type.getElementType() != element)
      return op.emitOpError("target cuda needs query, key, value and output "
                            "of one element type");
  }
  for (Value operand :
       {op.getQuery(), op.getKey(), op.getValue(), op.getOutput()}) {
    auto type = cast<MemRefType>(operand.getType());
    SmallVector<int64_t> strides;
    int64_t offset;
    if (failed(type.getStridesAndOffset(strides, offset)) ||
        strides.back() != 1)
      return op.emitOpError("target cuda needs a unit stride along the head "
                            "dim");
  }
  if (tileQueries < 16 || tileQueries > 128 || tileQueries % 16 != 0 ||
      tileKeys < 16 || tileKeys > 128 || tileKeys % 16 != 0 || stages < 2 ||
      stages > 4)
    return op.emitOpError(llvm::formatv(
        "invalid cuda tiling: tile-queries {0} (16-128, a multiple of 16), "
        "tile-keys {1} (16-128, a multiple of 16), stages {2} (2-4)",
        tileQueries.getValue(), tileKeys.getValue(), stages.getValue()));

  KernelPlan common;
  common.segmentLengths.assign(op.getSegmentLengths().begin(),
                               op.getSegmentLengths().end());
  common.dilationRates.assign(op.getDilationRates().begin(),
                              op.getDilationRates().end());
  common.grouped = op.getMode() == AttentionMode::grouped;
  common.blockedOffsets = op.getOffsetRule() == OffsetRule::blocked;
  common.causal = op.getCausal();
  double scale = op.getScale() ? op.getScale()->convertToDouble()
                               : 1.0 / std::sqrt(static_cast<double>(headDim));
  common.scaleLog2 = scale * kLog2E;
  common.headDim = headDim;
  common.elementType = element;
  common.tensorCores = !element.isF32();
  common.hasKeyBias = static_cast<bool>(op.getKeyPaddingMask());
  if (Value mask = op.getAttnMask()) {
    auto maskType = cast<MemRefType>(mask.getType());
    common.attnRank = maskType.getRank();
    if (!maskType.getElementType().isF32())
      return op.emitOpError("target cuda takes attention masks as f32 biases "
                            "(run dilattn-normalize-masks first)");
  }
  if (Value mask = op.getKeyPaddingMask())
    if (!cast<MemRefType>(mask.getType()).getElementType().isF32())
      return op.emitOpError("target cuda takes key padding masks as f32 "
                            "biases (run dilattn-normalize-masks first)");
  common.tileQueries = tileQueries;
  common.tileKeys = tileKeys;
  common.stages = stages;
  int64_t k = common.segmentLengths.size();

  SmallVector<KernelPlan, 4> plans;
  if (common.grouped) {
    KernelPlan plan = common;
    for (int64_t p = 0; p < k; ++p)
      plan.patterns.push_back(p);
    plan.output = OutputMode::Store;
    plan.outputScale = 1.0 / static_cast<double>(k);
    plans.push_back(plan);
  } else {
    for (int64_t p = 0; p < k; ++p) {
      KernelPlan plan = common;
      plan.patterns = {p};
      plan.output = p == 0 ? OutputMode::Init : OutputMode::Merge;
      plans.push_back(plan);
    }
  }

  MLIRContext *context = op.getContext();
  Location loc = op.getLoc();
  OpBuilder builder(context);
  if (!gpuModule) {
    auto parent = op->getParentOfType<FunctionOpInterface>();
    builder.setInsertionPointAfter(parent);
    gpuModule = gpu::GPUModuleOp::create(
        builder, loc, (parent.getName() + "__dilattn_gpu").str());
    symbols.insert(gpuModule);
  }

  // Operands: rows as (?, ?, ?, D) with a unit inner stride, masks fully
  // dynamic, the workspace a flat f32 buffer.
  SmallVector<Value> hostOperands;
  builder.setInsertionPoint(op);
  Emitter host{builder, loc};
  auto castTo = [&](Value v, MemRefType type) -> Value {
    if (v.getType() == type)
      return v;
    return memref::CastOp::create(builder, loc, type, v);
  };
  auto rowsType = dynamicType(queryType, /*unitInnerStride=*/true);
  for (Value v : {op.getQuery(), op.getKey(), op.getValue(), op.getOutput()})
    hostOperands.push_back(castTo(v, rowsType));
  Value batch = memref::DimOp::create(builder, loc, op.getQuery(), 0);
  Value seqLen = memref::DimOp::create(builder, loc, op.getQuery(), 1);
  Value numHeads = memref::DimOp::create(builder, loc, op.getQuery(), 2);
  Value workspace;
  if (!common.grouped) {
    Value size = host.mul(host.mul(batch, seqLen), numHeads);
    auto type = MemRefType::get({ShapedType::kDynamic}, builder.getF32Type());
    workspace = gpu::AllocOp::create(builder, loc, type, Type(), ValueRange{},
                                     ValueRange{size}, ValueRange{}, false)
                    .getMemref();
    hostOperands.push_back(workspace);
  }
  if (Value mask = op.getKeyPaddingMask())
    hostOperands.push_back(
        castTo(mask, dynamicType(cast<MemRefType>(mask.getType()), false)));
  if (Value mask = op.getAttnMask())
    hostOperands.push_back(
        castTo(mask, dynamicType(cast<MemRefType>(mask.getType()), false)));
  SmallVector<Type> argTypes;
  for (Value v : hostOperands)
    argTypes.push_back(v.getType());

  auto funcName = op->getParentOfType<FunctionOpInterface>().getName().str();
  for (const KernelPlan &plan : plans) {
    // The kernel.
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToEnd(gpuModule.getBody());
    // Kernels are numbered per module: a function may hold several calls.
    int64_t number = llvm::range_size(gpuModule.getOps<gpu::GPUFuncOp>());
    std::string name = llvm::formatv("{0}_kernel{1}", funcName, number).str();
    auto func = gpu::GPUFuncOp::create(builder, loc, name,
                                       builder.getFunctionType(argTypes, {}));
    func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(),
                  builder.getUnitAttr());
    int32_t threads = static_cast<int32_t>(plan.threads());
    func.setKnownBlockSizeAttr(builder.getDenseI32ArrayAttr({threads, 1, 1}));
    func->setAttr("dilattn.dynamic_shared_memory",
                  builder.getI64IntegerAttr(plan.sharedMemoryBytes()));
    // Ask for the register budget of two blocks per multiprocessor; the f32
    // kernel (256 threads, q, o and a block of scores in registers) needs
    // more than 128 registers for D = 128 and takes one.
    if (plan.tensorCores || plan.headDim <= 64)
      func->setAttr("nvvm.minctasm", builder.getI32IntegerAttr(2));
    KernelEmitter(builder, loc, plan).emitBody(func);

    // Its launch: one block per work item.
    builder.setInsertionPoint(op);
    SmallVector<PatternItems> items =
        emitPatternItems(host, plan, batch, seqLen, numHeads);
    Value total = emitTotalItems(host, items);
    auto nonEmpty =
        scf::IfOp::create(builder, loc, host.ult(host.idx(0), total), false);
    builder.setInsertionPointToStart(nonEmpty.thenBlock());
    Value one = host.idx(1);
    gpu::LaunchFuncOp::create(
        builder, loc, func, gpu::KernelDim3{total, one, one},
        gpu::KernelDim3{host.idx(threads), one, one},
        arith::ConstantIntOp::create(builder, loc, builder.getI32Type(),
                                     plan.sharedMemoryBytes()),
        hostOperands);
    builder.setInsertionPointAfter(nonEmpty);
  }
  if (workspace)
    gpu::DeallocOp::create(builder, loc, Type(), ValueRange{}, workspace);
  op.erase();
  return success();
}

void ConvertToGPUPass::runOnOperation() {
  ModuleOp module = getOperation();
  SymbolTable symbols(module);
  bool failed = false;
  SmallVector<FunctionOpInterface> funcs;
  module.walk([&](FunctionOpInterface f) {
    if (!isa<gpu::GPUFuncOp>(f))
      funcs.push_back(f);
  });
  for (FunctionOpInterface f : funcs) {
    gpu::GPUModuleOp gpuModule;
    SmallVector<WriteDilatedAttentionOp> ops;
    f->walk([&](WriteDilatedAttentionOp op) { ops.push_back(op); });
    for (WriteDilatedAttentionOp op : ops)
      if (mlir::failed(convert(op, gpuModule, symbols)))
        failed = true;
  }
  if (failed)
    return signalPassFailure();
  if (llvm::any_of(module.getOps<gpu::GPUModuleOp>(),
                   [](gpu::GPUModuleOp) { return true; }))
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(module.getContext()));
}

} // namespace
