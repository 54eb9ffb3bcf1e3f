//===- DilAttnEnums.td - dilattn enumerations --------------*- tablegen -*-===//

#ifndef DILATTN_ENUMS_TD
#define DILATTN_ENUMS_TD

include "mlir/IR/EnumAttr.td"

def DilAttn_AttentionMode : I32EnumAttr<"AttentionMode",
    "how the patterns of a call are spread over heads", [
      I32EnumAttrCase<"grouped", 0>,
      I32EnumAttrCase<"longnet", 1>
    ]> {
  let cppNamespace = "::mlir::dilattn";
  let genSpecializedAttr = 0;
}

def DilAttn_OffsetRule : I32EnumAttr<"OffsetRule",
    "how a head's offset in a pattern is chosen in longnet mode", [
      I32EnumAttrCase<"cyclic", 0>,
      I32EnumAttrCase<"blocked", 1>
    ]> {
  let cppNamespace = "::mlir::dilattn";
  let genSpecializedAttr = 0;
}

#endif // DILATTN_ENUMS_TD
