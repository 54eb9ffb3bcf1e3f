//===- KernelEmitter.h - the generator of one attention kernel ------------===//
//
// KernelEmitter writes the body of one attention kernel: work-item
// decoding, zero fill, mask biases and the output write are shared
// (KernelEmitter.cpp); the tile loops are TensorCoreTile.cpp (f16/bf16 on
// tensor cores) and SimtTile.cpp (f32 on CUDA cores).
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_LIB_CONVERSION_DILATTNTOGPU_KERNELEMITTER_H
#define DILATTN_LIB_CONVERSION_DILATTNTOGPU_KERNELEMITTER_H

#include "Emitter.h"
#include "KernelPlan.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"

#include <functional>

namespace mlir::dilattn::cuda {

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
                                           Value numHeads);
/// The total work items of a launch.
Value emitTotalItems(Emitter &e, ArrayRef<PatternItems> items);

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
    /// Whether the tile's span starts inside the segment (else the item
    /// has nothing to do), and whether it holds selected rows.
    Value inSegment, hasRows;
    /// Index into plan.patterns.
    Value pattern;
  };
  /// Decodes work item `itemIndex`.
  Item decodeItem(Value itemIndex);

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

  /// A tile of `rows` rows of D elements in shared memory.
  struct SharedTile {
    /// mma.sync: a (rows, padded row) view; wgmma: the element view of all
    /// dynamic shared memory.
    Value view;
    /// wgmma: bytes from the start of dynamic shared memory (1024-aligned).
    Value byteOffset;
    int64_t rows;
  };
  /// The tile at `byteOffset` from the first tile (which is aligned for
  /// wgmma).
  SharedTile tileAt(int64_t rows, Value byteOffset);
  /// The tile loop's pieces, shared by the cp.async loop above and the
  /// warp-specialised kernel (WarpSpecializedTile.cpp):
  /// the last selected key row a tile of queries from `firstQuery` sees,
  /// plus one (causal limits included);
  Value keyLimitOf(const Item &item, Value firstQuery);
  /// the loop state before the first key block: running maxima and sums of
  /// the two rows a thread holds, then its output accumulators;
  SmallVector<Value> initialTileState();
  /// one key block landed in shared memory: Q K^T, masks, online softmax
  /// and P V, from `state` to the state it returns;
  SmallVector<Value> emitKeyBlock(const Item &item, const SharedTile &queryTile,
                                  const SharedTile &keys,
                                  const SharedTile &values, Value block,
                                  Value firstQuery, Value keyLimit,
                                  ValueRange state);
  /// the row sums and the output (and log-sum-exp) writes.
  void emitTileOutput(const Item &item, Value firstQuery, ValueRange result);
  /// Indices into `tile.view` of element (row, col); col is a multiple of
  /// 16 bytes' worth of elements.
  SmallVector<Value> tileIndices(const SharedTile &tile, Value row, Value col);

  /// Issues the cp.async copies of `numRows` rows from `firstRow` into
  /// `tile`. With `rowLimit`, rows at or past it become zeros; without,
  /// all rows are known to exist (no clamping: cheaper addresses).
  void asyncLoadRows(Value source, const SharedTile &tile, const Item &item,
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

  // wgmma (WgmmaOps.cpp).
  /// Orders this thread's earlier generic-proxy writes to shared memory
  /// (cp.async) before the async proxy's reads (wgmma).
  void fenceProxyAsync();
  /// The shared-memory descriptor of a 128-byte-swizzled operand starting
  /// `byteOffset` bytes into the tiles.
  Value wgmmaDescriptor(Value byteOffset, int64_t leadingBytes,
                        int64_t strideBytes);
  /// S = Q K^T of the warpgroup's 64 query rows and the `tileKeys` keys of
  /// `keys`: tileKeys / 2 accumulators in the mma.sync fragment order.
  SmallVector<Value> wgmmaScores(const SharedTile &queries,
                                 const SharedTile &keys);
  /// acc += P V, P as mma.sync A fragments (4 registers per 16 keys).
  SmallVector<Value> wgmmaAccumulate(ArrayRef<SmallVector<Value>> p,
                                     const SharedTile &values,
                                     ArrayRef<Value> acc);
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

  // Warp-specialised kernel (WarpSpecializedTile.cpp).
  /// The work items from `first` to `total` by `stride`: the producer
  /// warpgroup's TMA loads and the compute warpgroups' tiles.
  void emitWarpSpecializedItems(Value first, Value total, Value stride);
  void emitProducerItem(const Item &item, Value blockCount, Value itemCount);
  void emitConsumerTile(const Item &item, Value blockCount, Value itemCount);
  /// The shared-window address (i32) of mbarrier `index`.
  Value barrierAddress(int64_t index);
  Value barrierAddress(Value index, int64_t first);

  /// Warp-specialised with two compute warpgroups: called before (true)
  /// and after (false) the Q K^T GEMM of each key block, to take turns on
  /// the tensor cores (ping-pong); empty otherwise.
  std::function<void(bool)> scoreTurn;

  Value query, key, value, output, workspace, keyBias, attnBias;
  /// Warp-specialised: generic addresses of the Q, K, V tensor maps of each
  /// pattern of plan.patterns (kernel parameters).
  SmallVector<Value> tensorMaps;
  Value shared;
  /// wgmma: the element view of shared memory, its shared-window address
  /// (i64) and the padding that aligns the first tile to 1024 bytes.
  Value sharedElements, sharedAddress, sharedPad;
  Value thread, lane, warp;
  Value batchSize, seqLen, numHeads;
  SmallVector<PatternItems> patternItems;
};

} // namespace mlir::dilattn::cuda

#endif // DILATTN_LIB_CONVERSION_DILATTNTOGPU_KERNELEMITTER_H
