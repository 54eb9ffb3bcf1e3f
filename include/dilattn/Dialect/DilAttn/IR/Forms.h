//===- Forms.h - the forms dilattn ops take on the way down ----*- C++ -*-===//
//
// dilattn ops are lowered in stages: attention on tensors, one write into
// buffers per call, then tiled segment attentions and state writes. Each pass
// acts on one form; given IR of an earlier form it finds nothing to do. These
// helpers let such a pass say so instead of leaving the IR unchanged without
// a word.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_DIALECT_DILATTN_IR_FORMS_H
#define DILATTN_DIALECT_DILATTN_IR_FORMS_H

#include "mlir/IR/Operation.h"
#include "llvm/ADT/StringRef.h"

#include <optional>

namespace mlir::dilattn {

/// The stages of a dilattn program, in lowering order.
enum class Form {
  /// `multihead_dilated_attention`, `dilated_attention`, `attention`,
  /// `mask_to_bias`: values on tensors.
  Tensor,
  /// `write_dilated_attention`: one call writing into buffers, after
  /// bufferization.
  Buffer,
  /// `segment_attention`, `write_states`: after `dilattn-tile-segments`.
  Tiled,
};

/// The form of a dilattn op; std::nullopt for any other op.
std::optional<Form> getForm(Operation *op);

/// For a pass that acts on dilattn ops of form `accepted` and found none in
/// `scope`: when `scope` holds a dilattn op of an earlier form, warns on the
/// first one, naming `passName` and what to run first. Nothing otherwise (a
/// function without attention is not a mistake). Returns whether it warned.
bool warnIfEarlierForm(Operation *scope, llvm::StringRef passName,
                       Form accepted);

} // namespace mlir::dilattn

#endif // DILATTN_DIALECT_DILATTN_IR_FORMS_H
