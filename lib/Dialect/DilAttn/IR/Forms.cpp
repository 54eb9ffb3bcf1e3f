//===- Forms.cpp - the forms dilattn ops take on the way down -------------===//

#include "dilattn/Dialect/DilAttn/IR/Forms.h"

#include "dilattn/Dialect/DilAttn/IR/DilAttn.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::dilattn;

std::optional<Form> mlir::dilattn::getForm(Operation *op) {
  return llvm::TypeSwitch<Operation *, std::optional<Form>>(op)
      .Case<MultiheadDilatedAttentionOp, DilatedAttentionOp, AttentionOp,
            MaskToBiasOp>([](Operation *) { return Form::Tensor; })
      .Case<WriteDilatedAttentionOp>([](Operation *) { return Form::Buffer; })
      .Case<SegmentAttentionOp, WriteStatesOp>(
          [](Operation *) { return Form::Tiled; })
      .Default([](Operation *) { return std::nullopt; });
}

/// What takes `op` (of an earlier form than `accepted`) to `accepted`: the
/// flags of dilattn-opt, in order.
static std::string stepsTo(Operation *op, Form accepted) {
  std::string steps;
  if (isa<MultiheadDilatedAttentionOp>(op))
    steps = "-dilattn-decompose-multihead ";
  if (getForm(op) == Form::Tensor)
    steps += "--one-shot-bufferize=bufferize-function-boundaries ";
  if (accepted == Form::Tiled)
    steps += "-dilattn-tile-segments ";
  steps.pop_back();
  return steps;
}

static StringRef describe(Form form) {
  switch (form) {
  case Form::Tensor:
    return "attention on tensors";
  case Form::Buffer:
    return "'dilattn.write_dilated_attention' (buffers)";
  case Form::Tiled:
    return "'dilattn.segment_attention' or 'dilattn.write_states'";
  }
  return "";
}

bool mlir::dilattn::warnIfEarlierForm(Operation *scope, StringRef passName,
                                      Form accepted) {
  Operation *earlier = nullptr;
  scope->walk([&](Operation *op) {
    std::optional<Form> form = getForm(op);
    if (!form || *form >= accepted)
      return WalkResult::advance();
    earlier = op;
    return WalkResult::interrupt();
  });
  if (!earlier)
    return false;
  earlier->emitWarning() << passName << " found no " << describe(accepted)
                         << " to act on: this '" << earlier->getName()
                         << "' needs " << stepsTo(earlier, accepted)
                         << " first (the dilattn pipelines run every step)";
  return true;
}
