//===- NormalizeMasks.cpp - boolean masks to additive biases --------------===//
//
// After this pass the attention ops carry masks only as float biases, which
// is the single form the kernels implement: a boolean `true` becomes -inf, a
// `false` becomes 0, and biases add to the scores.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Dialect/DilAttn/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::dilattn {
#define GEN_PASS_DEF_DILATTNNORMALIZEMASKS
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h.inc"
} // namespace mlir::dilattn

using namespace mlir;
using namespace mlir::dilattn;

/// Returns a float bias for `mask`, or null when it is already one.
static Value toBias(PatternRewriter &rewriter, Location loc, Value mask) {
  if (!mask)
    return nullptr;
  auto maskType = cast<RankedTensorType>(mask.getType());
  if (!maskType.getElementType().isInteger(1))
    return nullptr;
  auto biasType = maskType.clone(rewriter.getF32Type());
  return MaskToBiasOp::create(rewriter, loc, biasType, mask);
}

namespace {
template <typename AttentionOpTy>
struct BooleanMasksToBias : OpRewritePattern<AttentionOpTy> {
  using OpRewritePattern<AttentionOpTy>::OpRewritePattern;

  LogicalResult matchAndRewrite(AttentionOpTy op,
                                PatternRewriter &rewriter) const override {
    Value keyBias = toBias(rewriter, op.getLoc(), op.getKeyPaddingMask());
    Value attnBias = toBias(rewriter, op.getLoc(), op.getAttnMask());
    if (!keyBias && !attnBias)
      return failure();
    rewriter.modifyOpInPlace(op, [&] {
      if (keyBias)
        op.getKeyPaddingMaskMutable().assign(keyBias);
      if (attnBias)
        op.getAttnMaskMutable().assign(attnBias);
    });
    return success();
  }
};

struct NormalizeMasksPass
    : mlir::dilattn::impl::DilAttnNormalizeMasksBase<NormalizeMasksPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateNormalizeMasksPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void mlir::dilattn::populateNormalizeMasksPatterns(
    RewritePatternSet &patterns) {
  patterns.add<BooleanMasksToBias<DilatedAttentionOp>,
               BooleanMasksToBias<DilatedAttentionWithLseOp>,
               BooleanMasksToBias<DilatedAttentionGradOp>,
               BooleanMasksToBias<AttentionOp>>(patterns.getContext());
}
