//===- DilAttnDialect.cpp - dilattn dialect -------------------------------===//

#include "dilattn/Dialect/DilAttn/IR/DilAttn.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::dilattn;

#include "dilattn/Dialect/DilAttn/IR/DilAttnDialect.cpp.inc"
#include "dilattn/Dialect/DilAttn/IR/DilAttnEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dilattn/Dialect/DilAttn/IR/DilAttnAttrs.cpp.inc"

void DilAttnDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dilattn/Dialect/DilAttn/IR/DilAttnAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dilattn/Dialect/DilAttn/IR/DilAttnOps.cpp.inc"
      >();
}

Operation *DilAttnDialect::materializeConstant(OpBuilder &builder,
                                               Attribute value, Type type,
                                               Location loc) {
  if (auto typed = dyn_cast<TypedAttr>(value);
      typed && arith::ConstantOp::isBuildableWith(typed, type))
    return arith::ConstantOp::create(builder, loc, type, typed);
  return nullptr;
}
