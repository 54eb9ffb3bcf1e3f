//===- OutlineParallelWork.cpp - parallel work on the runtime's threads ---===//
//
// Outermost scf.parallel loops and whole attention calls become
//
//   ctx = stack struct of the values the work uses from outside
//   dilattn_parallel_for(@<func>__parallel_N, &ctx, numIterations)
//
// with the work moved into `@<func>__parallel_N(ctx, begin, end)`. The
// runtime (lib/Runtime, no MLIR) calls it on ranges from all its threads, as
// op mode does with the kernel entry points. Values cross the boundary in
// the representation the LLVM conversion gives them (memref descriptors,
// i64 indices), joined to the memref and index values on both sides by
// unrealized casts that reconcile-unrealized-casts folds away.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Dialect/DilAttn/IR/Forms.h"
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h"

#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/SetVector.h"

namespace mlir::dilattn {
#define GEN_PASS_DEF_DILATTNOUTLINEPARALLELWORK
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h.inc"
} // namespace mlir::dilattn

using namespace mlir;
using namespace mlir::dilattn;

/// The runtime entry point (lib/Runtime/CpuRuntime.cpp).
static constexpr llvm::StringLiteral kParallelFor = "dilattn_parallel_for";

namespace {
/// Builds the outlined function of one piece of parallel work: the body
/// callback fills it, given the range and the values it captured.
using BodyBuilder = llvm::function_ref<void(OpBuilder &, Location, Value begin,
                                            Value end, IRMapping &captured)>;

class Outliner {
public:
  Outliner(ModuleOp module)
      : module(module), symbols(module), converter(module.getContext()) {}

  /// Replaces `op` by a parallel-for over `numIterations` whose body
  /// `build` makes from the values in `captures`. Fails (changing nothing)
  /// when a capture has a type that cannot cross the boundary.
  LogicalResult outline(Operation *op, func::FuncOp parent,
                        ArrayRef<Value> captures, Value numIterations,
                        BodyBuilder build);

private:
  /// The LLVM type a capture crosses the boundary in, or null.
  Type boundaryType(Type type);
  func::FuncOp getOrCreateParallelFor(Location loc, FunctionType bodyType);

  ModuleOp module;
  SymbolTable symbols;
  LLVMTypeConverter converter;
  /// Body functions are `<parent>__parallel_<N>`, N counting up per module.
  unsigned nextIndex = 0;
};
} // namespace

Type Outliner::boundaryType(Type type) {
  if (isa<IndexType>(type))
    return IntegerType::get(type.getContext(), 64);
  if (auto memref = dyn_cast<MemRefType>(type)) {
    if (!memref.getMemorySpace() && memref.isStrided())
      return converter.convertType(memref);
    return {};
  }
  if (isa<IntegerType, FloatType>(type))
    return type;
  return {};
}

func::FuncOp Outliner::getOrCreateParallelFor(Location loc,
                                              FunctionType bodyType) {
  MLIRContext *context = module.getContext();
  auto type = FunctionType::get(
      context,
      {bodyType, LLVM::LLVMPointerType::get(context), IndexType::get(context)},
      {});
  if (auto existing = symbols.lookup<func::FuncOp>(kParallelFor))
    return existing;
  OpBuilder b(context);
  b.setInsertionPointToStart(module.getBody());
  auto decl = func::FuncOp::create(b, loc, kParallelFor, type);
  decl.setPrivate();
  symbols.insert(decl);
  return decl;
}

LogicalResult Outliner::outline(Operation *op, func::FuncOp parent,
                                ArrayRef<Value> captures, Value numIterations,
                                BodyBuilder build) {
  MLIRContext *context = module.getContext();
  Location loc = op->getLoc();
  SmallVector<Type> fields;
  for (Value value : captures) {
    Type type = boundaryType(value.getType());
    if (!type)
      return failure();
    fields.push_back(type);
  }
  auto ptr = LLVM::LLVMPointerType::get(context);
  auto index = IndexType::get(context);
  auto structType = LLVM::LLVMStructType::getLiteral(context, fields);
  auto bodyType = FunctionType::get(context, {ptr, index, index}, {});

  // The body function, after its parent.
  OpBuilder b(context);
  b.setInsertionPointAfter(parent);
  std::string name;
  do {
    name =
        (parent.getSymName() + "__parallel_" + llvm::Twine(nextIndex++)).str();
  } while (symbols.lookup(name));
  auto body = func::FuncOp::create(b, loc, name, bodyType);
  body.setPrivate();
  symbols.insert(body);
  Block *entry = body.addEntryBlock();
  b.setInsertionPointToStart(entry);
  IRMapping mapping;
  for (auto [position, value] : llvm::enumerate(captures)) {
    Value field = LLVM::GEPOp::create(
        b, loc, ptr, structType, entry->getArgument(0),
        ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(position)});
    Value loaded = LLVM::LoadOp::create(b, loc, fields[position], field);
    Value restored;
    if (isa<IndexType>(value.getType()))
      restored = arith::IndexCastOp::create(b, loc, index, loaded);
    else if (isa<MemRefType>(value.getType()))
      restored =
          UnrealizedConversionCastOp::create(b, loc, value.getType(), loaded)
              .getResult(0);
    else
      restored = loaded;
    mapping.map(value, restored);
  }
  build(b, loc, entry->getArgument(1), entry->getArgument(2), mapping);
  func::ReturnOp::create(b, loc);

  // The call: the context on the stack (allocated once, at the entry of the
  // parent, so that a call in a loop does not grow the stack).
  b.setInsertionPointToStart(&parent.getFunctionBody().front());
  Value one =
      LLVM::ConstantOp::create(b, loc, b.getI64Type(), b.getI64IntegerAttr(1));
  Value contextPtr = LLVM::AllocaOp::create(b, loc, ptr, structType, one);
  b.setInsertionPoint(op);
  for (auto [position, value] : llvm::enumerate(captures)) {
    Value stored = value;
    if (isa<IndexType>(value.getType()))
      stored = arith::IndexCastOp::create(b, loc, fields[position], value);
    else if (isa<MemRefType>(value.getType()))
      stored =
          UnrealizedConversionCastOp::create(b, loc, fields[position], value)
              .getResult(0);
    Value field = LLVM::GEPOp::create(
        b, loc, ptr, structType, contextPtr,
        ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(position)});
    LLVM::StoreOp::create(b, loc, stored, field);
  }
  func::FuncOp parallelFor = getOrCreateParallelFor(loc, bodyType);
  Value callee = func::ConstantOp::create(
      b, loc, bodyType, FlatSymbolRefAttr::get(body.getSymNameAttr()));
  func::CallOp::create(b, loc, parallelFor,
                       ValueRange{callee, contextPtr, numIterations});
  op->erase();
  return success();
}

/// Whether `value` is defined by a constant: such values are rematerialized
/// in the body rather than passed.
static bool isConstant(Value value) {
  Operation *def = value.getDefiningOp();
  return def && def->hasTrait<OpTrait::ConstantLike>();
}

/// The values `region` uses from above, constants apart; the constants go to
/// `constants`.
static SmallVector<Value> capturesOf(Region &region,
                                     SmallVectorImpl<Operation *> &constants) {
  llvm::SetVector<Value> used;
  getUsedValuesDefinedAbove(region, used);
  SmallVector<Value> captures;
  for (Value value : used) {
    if (isConstant(value))
      constants.push_back(value.getDefiningOp());
    else
      captures.push_back(value);
  }
  return captures;
}

/// An outermost scf.parallel without results to a parallel-for over its
/// iterations, numbered row-major.
static LogicalResult outlineLoop(Outliner &outliner, func::FuncOp parent,
                                 scf::ParallelOp loop) {
  if (loop.getNumResults() != 0)
    return failure();
  SmallVector<Operation *> constants;
  SmallVector<Value> captures = capturesOf(loop.getRegion(), constants);
  unsigned rank = loop.getNumLoops();
  // Trip counts and the bounds are computed at the call; the body gets the
  // lower bounds, steps and trip counts.
  OpBuilder b(loop);
  Location loc = loop.getLoc();
  SmallVector<Value> tripCounts;
  Value total = arith::ConstantIndexOp::create(b, loc, 1);
  for (unsigned dim = 0; dim < rank; ++dim) {
    Value lb = loop.getLowerBound()[dim], ub = loop.getUpperBound()[dim],
          step = loop.getStep()[dim];
    Value extent = arith::SubIOp::create(b, loc, ub, lb);
    Value count = arith::CeilDivUIOp::create(b, loc, extent, step);
    // An empty dim (ub <= lb) runs nothing.
    Value empty =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, ub, lb);
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    count = arith::SelectOp::create(b, loc, empty, zero, count);
    tripCounts.push_back(count);
    total = arith::MulIOp::create(b, loc, total, count);
  }
  SmallVector<Value> all = captures;
  llvm::append_range(all, loop.getLowerBound());
  llvm::append_range(all, loop.getStep());
  llvm::append_range(all, tripCounts);
  // Bounds defined by constants need no passing either.
  SmallVector<Value> passed;
  llvm::SetVector<Value> seen;
  for (Value value : all) {
    if (!seen.insert(value))
      continue;
    if (isConstant(value))
      constants.push_back(value.getDefiningOp());
    else
      passed.push_back(value);
  }
  auto build = [&](OpBuilder &nested, Location bodyLoc, Value begin, Value end,
                   IRMapping &mapping) {
    for (Operation *constant : constants)
      if (!mapping.contains(constant->getResult(0)))
        nested.clone(*constant, mapping);
    Value one = arith::ConstantIndexOp::create(nested, bodyLoc, 1);
    auto iterations = scf::ForOp::create(nested, bodyLoc, begin, end, one);
    OpBuilder inner = OpBuilder::atBlockBegin(iterations.getBody());
    Value rest = iterations.getInductionVar();
    SmallVector<Value> ivs(rank);
    for (int64_t dim = rank - 1; dim >= 0; --dim) {
      Value count = mapping.lookup(tripCounts[dim]);
      Value position = rest;
      if (dim > 0) {
        position = arith::RemUIOp::create(inner, bodyLoc, rest, count);
        rest = arith::DivUIOp::create(inner, bodyLoc, rest, count);
      }
      Value scaled = arith::MulIOp::create(inner, bodyLoc, position,
                                           mapping.lookup(loop.getStep()[dim]));
      ivs[dim] = arith::AddIOp::create(
          inner, bodyLoc, mapping.lookup(loop.getLowerBound()[dim]), scaled);
    }
    for (unsigned dim = 0; dim < rank; ++dim)
      mapping.map(loop.getInductionVars()[dim], ivs[dim]);
    for (Operation &op : loop.getBody()->without_terminator())
      inner.clone(op, mapping);
  };
  return outliner.outline(loop, parent, passed, total, build);
}

/// A whole dilated attention call to a parallel-for over its work items:
/// the body is the call restricted to items [begin, end).
static LogicalResult outlineAttention(Outliner &outliner, func::FuncOp parent,
                                      WriteDilatedAttentionOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  // Items (b, h, block) as TileSegments numbers them.
  Value query = op.getQuery();
  Value batch = memref::DimOp::create(b, loc, query, 0);
  Value seqLen = memref::DimOp::create(b, loc, query, 1);
  Value heads = memref::DimOp::create(b, loc, query, 2);
  Value block = arith::ConstantIndexOp::create(
      b, loc, static_cast<int64_t>(op.getBlockSize()));
  Value blocks = arith::CeilDivUIOp::create(b, loc, seqLen, block);
  Value items = arith::MulIOp::create(
      b, loc, arith::MulIOp::create(b, loc, batch, heads), blocks);
  SmallVector<Value> captures;
  llvm::SetVector<Value> seen;
  for (Value operand : op->getOperands())
    if (seen.insert(operand))
      captures.push_back(operand);
  auto build = [&](OpBuilder &nested, Location bodyLoc, Value begin, Value end,
                   IRMapping &mapping) {
    auto lookup = [&](Value value) {
      return value ? mapping.lookup(value) : Value();
    };
    WriteDilatedAttentionOp::create(
        nested, bodyLoc, lookup(op.getQuery()), lookup(op.getKey()),
        lookup(op.getValue()), lookup(op.getKeyPaddingMask()),
        lookup(op.getAttnMask()), lookup(op.getOutput()), lookup(op.getLse()),
        begin, end, op.getSegmentLengthsAttr(), op.getDilationRatesAttr(),
        op.getModeAttr(), op.getOffsetRuleAttr(), op.getCausalAttr(),
        op.getScaleAttr(), op.getBlockSizeAttr());
  };
  return outliner.outline(op, parent, captures, items, build);
}

/// A whole backward call to a parallel-for over its work items, one per
/// (batch, head) as TileSegments numbers them.
static LogicalResult outlineAttentionGrad(Outliner &outliner,
                                          func::FuncOp parent,
                                          WriteDilatedAttentionGradOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value batch = memref::DimOp::create(b, loc, op.getQuery(), 0);
  Value heads = memref::DimOp::create(b, loc, op.getQuery(), 2);
  Value items = arith::MulIOp::create(b, loc, batch, heads);
  SmallVector<Value> captures;
  llvm::SetVector<Value> seen;
  for (Value operand : op->getOperands())
    if (seen.insert(operand))
      captures.push_back(operand);
  auto build = [&](OpBuilder &nested, Location bodyLoc, Value begin, Value end,
                   IRMapping &mapping) {
    auto lookup = [&](Value value) {
      return value ? mapping.lookup(value) : Value();
    };
    WriteDilatedAttentionGradOp::create(
        nested, bodyLoc, lookup(op.getQuery()), lookup(op.getKey()),
        lookup(op.getValue()), lookup(op.getOutput()), lookup(op.getLse()),
        lookup(op.getGradOutput()), lookup(op.getKeyPaddingMask()),
        lookup(op.getAttnMask()), lookup(op.getGradQuery()),
        lookup(op.getGradKey()), lookup(op.getGradValue()), begin, end,
        op.getSegmentLengthsAttr(), op.getDilationRatesAttr(), op.getModeAttr(),
        op.getOffsetRuleAttr(), op.getCausalAttr(), op.getScaleAttr());
  };
  return outliner.outline(op, parent, captures, items, build);
}

namespace {
struct OutlineParallelWorkPass
    : mlir::dilattn::impl::DilAttnOutlineParallelWorkBase<
          OutlineParallelWorkPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    Outliner outliner(module);
    SmallVector<func::FuncOp> functions;
    for (auto func : module.getOps<func::FuncOp>())
      if (!func.isExternal())
        functions.push_back(func);
    bool found = false;
    for (func::FuncOp func : functions) {
      // Outermost work only: nested loops run inside their outer item.
      SmallVector<Operation *> work;
      func.walk<WalkOrder::PreOrder>([&](Operation *op) {
        if (isa<scf::ParallelOp>(op)) {
          work.push_back(op);
          return WalkResult::skip();
        }
        if (auto attention = dyn_cast<WriteDilatedAttentionOp>(op))
          if (!attention.getItemBegin())
            work.push_back(op);
        if (auto grad = dyn_cast<WriteDilatedAttentionGradOp>(op))
          if (!grad.getItemBegin())
            work.push_back(op);
        return WalkResult::advance();
      });
      found |= !work.empty();
      for (Operation *op : work) {
        // Work that cannot be outlined stays sequential: still correct.
        if (auto loop = dyn_cast<scf::ParallelOp>(op))
          (void)outlineLoop(outliner, func, loop);
        else if (auto grad = dyn_cast<WriteDilatedAttentionGradOp>(op))
          (void)outlineAttentionGrad(outliner, func, grad);
        else
          (void)outlineAttention(outliner, func,
                                 cast<WriteDilatedAttentionOp>(op));
      }
    }
    // Kernels already split into item ranges (op mode) have no work here and
    // no earlier form either: only attention on tensors is warned about.
    if (!found)
      warnIfEarlierForm(module, getArgument(), Form::Buffer);
  }
};
} // namespace
