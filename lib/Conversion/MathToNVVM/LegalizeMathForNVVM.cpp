//===- LegalizeMathForNVVM.cpp - math in kernels without libdevice --------===//
//
// dilattn-legalize-math-for-nvvm: convert-gpu-to-nvvm turns math ops into
// libdevice calls, which stay unresolved because no libdevice is linked.
// This pass rewrites them first into polynomial approximations, LLVM
// intrinsics that NVPTX lowers itself, and single PTX instructions.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Conversion/Common/InlinePtx.h"
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::dilattn {
#define GEN_PASS_DEF_DILATTNLEGALIZEMATHFORNVVM
#include "dilattn/Dialect/DilAttn/Transforms/Passes.h.inc"
} // namespace mlir::dilattn

using namespace mlir;
using namespace mlir::dilattn;

namespace {

/// math.<op> on f32 to an LLVM intrinsic that convert-gpu-to-nvvm keeps.
template <typename MathOp, typename LLVMOp>
struct MathToIntrinsic : OpRewritePattern<MathOp> {
  using OpRewritePattern<MathOp>::OpRewritePattern;
  LogicalResult matchAndRewrite(MathOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getType().isF32())
      return failure();
    rewriter.replaceOpWithNewOp<LLVMOp>(op, op.getType(), op->getOperands());
    return success();
  }
};

template <typename MathOp> struct MathToPtx : OpRewritePattern<MathOp> {
  MathToPtx(MLIRContext *context, StringRef instruction, bool reciprocal)
      : OpRewritePattern<MathOp>(context), instruction(instruction),
        reciprocal(reciprocal) {}
  LogicalResult matchAndRewrite(MathOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getType().isF32())
      return failure();
    // convert-gpu-to-nvvm would turn llvm.intr.sqrt, floor and ceil into
    // libdevice calls.
    Value result =
        inlinePtxF32(rewriter, op.getLoc(), instruction, op->getOperand(0));
    if (reciprocal) {
      Value one = arith::ConstantOp::create(rewriter, op.getLoc(),
                                            rewriter.getF32FloatAttr(1.0f));
      result = arith::DivFOp::create(rewriter, op.getLoc(), one, result);
    }
    rewriter.replaceOp(op, result);
    return success();
  }
  std::string instruction;
  bool reciprocal;
};

/// arith.maxnumf and friends on f32 as one PTX instruction (convert-gpu-to-
/// nvvm would call libdevice's __nv_fmaxf).
template <typename ArithOp> struct BinaryToPtx : OpRewritePattern<ArithOp> {
  BinaryToPtx(MLIRContext *context, StringRef instruction)
      : OpRewritePattern<ArithOp>(context), instruction(instruction) {}
  LogicalResult matchAndRewrite(ArithOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getType().isF32())
      return failure();
    rewriter.replaceOp(op, inlinePtxF32(rewriter, op.getLoc(), instruction,
                                        {op.getLhs(), op.getRhs()}));
    return success();
  }
  std::string instruction;
};

struct LegalizeMathForNVVMPass
    : mlir::dilattn::impl::DilAttnLegalizeMathForNVVMBase<
          LegalizeMathForNVVMPass> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *context = &getContext();
    {
      RewritePatternSet patterns(context);
      populateMathF32ExpansionPatterns(patterns,
                                       [](StringRef) { return true; });
      populateMathPolynomialApproximationPatterns(
          patterns, [](StringRef) { return true; });
      if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
        return signalPassFailure();
    }
    RewritePatternSet patterns(context);
    patterns.add<MathToIntrinsic<math::FmaOp, LLVM::FMAOp>,
                 MathToIntrinsic<math::AbsFOp, LLVM::FAbsOp>,
                 MathToIntrinsic<math::CopySignOp, LLVM::CopySignOp>>(context);
    patterns.add<MathToPtx<math::SqrtOp>>(context, "sqrt.rn.f32", false);
    patterns.add<MathToPtx<math::RsqrtOp>>(context, "sqrt.rn.f32", true);
    patterns.add<MathToPtx<math::FloorOp>>(context, "cvt.rmi.f32.f32", false);
    patterns.add<MathToPtx<math::CeilOp>>(context, "cvt.rpi.f32.f32", false);
    // PTX max/min return the other operand for one NaN (maxnum semantics);
    // the .NaN forms propagate it (maximumf).
    patterns.add<BinaryToPtx<arith::MaxNumFOp>>(context, "max.f32");
    patterns.add<BinaryToPtx<arith::MinNumFOp>>(context, "min.f32");
    patterns.add<BinaryToPtx<arith::MaximumFOp>>(context, "max.NaN.f32");
    patterns.add<BinaryToPtx<arith::MinimumFOp>>(context, "min.NaN.f32");
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    WalkResult left = getOperation().walk([](Operation *op) {
      if (isa<math::MathDialect>(op->getDialect())) {
        op->emitOpError("has no lowering for target cuda without libdevice");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
