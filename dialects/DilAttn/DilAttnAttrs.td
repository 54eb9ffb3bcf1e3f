//===- DilAttnAttrs.td - dilattn attributes ----------------*- tablegen -*-===//

#ifndef DILATTN_ATTRS_TD
#define DILATTN_ATTRS_TD

include "DilAttnBase.td"
include "DilAttnEnums.td"
include "mlir/IR/AttrTypeBase.td"

def DilAttn_AttentionModeAttr
    : EnumAttr<DilAttn_Dialect, DilAttn_AttentionMode, "mode"> {
  let summary = "attention mode: `grouped` (default) or `longnet`";
}

def DilAttn_OffsetRuleAttr
    : EnumAttr<DilAttn_Dialect, DilAttn_OffsetRule, "offset_rule"> {
  let summary = "longnet offset rule: `cyclic` (default) or `blocked`";
}

#endif // DILATTN_ATTRS_TD
