//===- DilAttn.h - dilattn dialect ------------------------------*- C++ -*-===//

#ifndef DILATTN_DIALECT_DILATTN_IR_DILATTN_H
#define DILATTN_DIALECT_DILATTN_IR_DILATTN_H

#include "dilattn/Support/Problem.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dilattn/Dialect/DilAttn/IR/DilAttnDialect.h.inc"
#include "dilattn/Dialect/DilAttn/IR/DilAttnEnums.h.inc"

namespace mlir::dilattn {

/// The dialect's enums for the problem description's (dilattn/Support) and
/// back: the one mapping that the verifiers, the JIT and the APIs use.
AttentionMode toIR(::dilattn::AttentionMode mode);
OffsetRule toIR(::dilattn::OffsetRule rule);
::dilattn::AttentionMode fromIR(AttentionMode mode);
::dilattn::OffsetRule fromIR(OffsetRule rule);

} // namespace mlir::dilattn

#define GET_ATTRDEF_CLASSES
#include "dilattn/Dialect/DilAttn/IR/DilAttnAttrs.h.inc"

#define GET_OP_CLASSES
#include "dilattn/Dialect/DilAttn/IR/DilAttnOps.h.inc"

#endif // DILATTN_DIALECT_DILATTN_IR_DILATTN_H
