//===- FusePatterns.cpp - one online-softmax state for all patterns -------===//
//
// Folding keys into an online-softmax state is order-independent up to
// rounding, and folding the keys of pattern j into the state that already
// holds pattern i's is exactly the merge of their softmax outputs weighted by
// their denominators (docs/Contract.md's LongNet mixture). So the per-pattern
// states the tiler creates can become one: every segment_attention of a work
// item accumulates into the first state, and write_states reads only that one.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Dialect/DilAttn/IR/Forms.h"
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace mlir::dilattn {
#define GEN_PASS_DEF_DILATTNFUSEPATTERNS
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h.inc"
} // namespace mlir::dilattn

using namespace mlir;
using namespace mlir::dilattn;

/// The scratch buffer a state view comes from, when it is a plain alloca
/// used only to initialise it and to take views of it.
static memref::AllocaOp stateBuffer(Value view) {
  while (auto subview = view.getDefiningOp<memref::SubViewOp>())
    view = subview.getSource();
  auto alloca = view.getDefiningOp<memref::AllocaOp>();
  if (!alloca)
    return nullptr;
  for (Operation *user : alloca->getUsers())
    if (!isa<linalg::FillOp, memref::SubViewOp>(user))
      return nullptr;
  return alloca;
}

/// Rewrites one write_states with several states; fails (leaving the IR
/// untouched) when the states are not the tiler's scratch buffers.
static LogicalResult fuseStates(WriteStatesOp write) {
  size_t numStates = write.getStateMaxes().size();
  if (numStates < 2)
    return failure();
  SmallVector<SmallVector<memref::AllocaOp, 3>> buffers(numStates);
  for (size_t i = 0; i < numStates; ++i) {
    for (Value view : {write.getStateMaxes()[i], write.getStateSums()[i],
                       write.getStateAccs()[i]}) {
      memref::AllocaOp buffer = stateBuffer(view);
      if (!buffer)
        return failure();
      buffers[i].push_back(buffer);
    }
  }
  // Only distinct buffers of one shape can fold into each other.
  llvm::SmallPtrSet<Operation *, 8> distinct;
  for (auto &state : buffers)
    for (memref::AllocaOp buffer : state)
      if (!distinct.insert(buffer).second)
        return failure();
  for (size_t i = 1; i < numStates; ++i)
    for (auto [buffer, target] : llvm::zip_equal(buffers[i], buffers[0]))
      if (buffer.getType() != target.getType())
        return failure();
  // Keep the first state's views; the others' buffers fold into it.
  Value firstMax = write.getStateMaxes()[0];
  Value firstSum = write.getStateSums()[0];
  Value firstAcc = write.getStateAccs()[0];
  write.getStateMaxesMutable().assign(firstMax);
  write.getStateSumsMutable().assign(firstSum);
  write.getStateAccsMutable().assign(firstAcc);
  for (size_t i = 1; i < numStates; ++i) {
    for (auto [buffer, target] : llvm::zip_equal(buffers[i], buffers[0])) {
      // Initialising the shared buffer once is enough.
      for (Operation *user : llvm::make_early_inc_range(buffer->getUsers()))
        if (isa<linalg::FillOp>(user))
          user->erase();
      buffer.getResult().replaceAllUsesWith(target.getResult());
      buffer.erase();
    }
  }
  return success();
}

namespace {
struct FusePatternsPass
    : mlir::dilattn::impl::DilAttnFusePatternsBase<FusePatternsPass> {
  void runOnOperation() override {
    SmallVector<WriteStatesOp> writes;
    getOperation().walk([&](WriteStatesOp op) { writes.push_back(op); });
    if (writes.empty())
      warnIfEarlierForm(getOperation(), getArgument(), Form::Tiled);
    for (WriteStatesOp write : writes)
      (void)fuseStates(write);
  }
};
} // namespace
