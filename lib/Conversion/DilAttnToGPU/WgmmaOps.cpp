//===- WgmmaOps.cpp - warpgroup MMAs of the Hopper tile loop --------------===//
//
// Hopper (sm_90a) pieces of the tensor-core tile loop: shared-memory matrix
// descriptors of 128-byte-swizzled tiles and the warpgroup MMAs (wgmma) that
// read them. MLIR 22's nvvm.wgmma.mma_async takes A from shared memory only,
// and P V keeps P in registers (as FlashAttention-3 does), so both GEMMs are
// emitted as inline PTX: fence, the k-steps, commit and wait in one
// statement, so that no accumulator is read before the wait.
//
//===----------------------------------------------------------------------===//

#include "KernelEmitter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::dilattn::cuda;

namespace {

/// Descriptor fields (PTX ISA, "Matrix Descriptor Format" of wgmma): start
/// address, leading and stride byte offsets, all in 16-byte units, and the
/// swizzle mode in bits 62-63 (1: 128-byte swizzle).
constexpr int64_t kDescriptorLeadingShift = 16;
constexpr int64_t kDescriptorStrideShift = 32;
constexpr uint64_t kDescriptorSwizzle128 = uint64_t(1) << 62;

/// "{$first, ..., $first+count-1}".
std::string registerList(int64_t first, int64_t count) {
  std::string text = "{";
  for (int64_t i = 0; i < count; ++i)
    text += llvm::formatv("{0}${1}", i ? ", " : "", first + i).str();
  return text + "}";
}

std::string elementSuffix(Type element) {
  return element.isBF16() ? "bf16" : "f16";
}

/// One inline-PTX statement with `outputs` f32 results (the accumulators):
/// side effects and a memory clobber keep it in place between the barriers
/// and copies around it.
SmallVector<Value> wgmmaStatement(OpBuilder &b, Location loc,
                                  const std::string &text,
                                  const std::string &constraints,
                                  ValueRange operands, int64_t outputs) {
  auto resultType = LLVM::LLVMStructType::getLiteral(
      b.getContext(), SmallVector<Type>(outputs, b.getF32Type()));
  auto op = LLVM::InlineAsmOp::create(
      b, loc, resultType, operands, text, constraints,
      /*has_side_effects=*/true, /*is_align_stack=*/false,
      LLVM::tailcallkind::TailCallKind::None, LLVM::AsmDialectAttr(),
      ArrayAttr());
  SmallVector<Value> result;
  for (int64_t i = 0; i < outputs; ++i)
    result.push_back(LLVM::ExtractValueOp::create(b, loc, op.getResult(0), i));
  return result;
}

} // namespace

void KernelEmitter::fenceProxyAsync() {
  LLVM::InlineAsmOp::create(b, loc, TypeRange{}, ValueRange{},
                            "fence.proxy.async.shared::cta;", "~{memory}",
                            /*has_side_effects=*/true,
                            /*is_align_stack=*/false,
                            LLVM::tailcallkind::TailCallKind::None,
                            LLVM::AsmDialectAttr(), ArrayAttr());
}

Value KernelEmitter::wgmmaDescriptor(Value byteOffset, int64_t leadingBytes,
                                     int64_t strideBytes) {
  Type i64 = b.getI64Type();
  auto constant = [&](uint64_t v) {
    return arith::ConstantIntOp::create(b, loc, i64, static_cast<int64_t>(v));
  };
  Value address = arith::AddIOp::create(
      b, loc, sharedAddress,
      arith::IndexCastUIOp::create(b, loc, i64, byteOffset));
  // The shared window is below 256 KiB: 14 bits of 16-byte units.
  Value start = arith::ShRUIOp::create(
      b, loc, arith::AndIOp::create(b, loc, address, constant(0x3FFFF)),
      constant(4));
  uint64_t fields = (uint64_t(leadingBytes >> 4) << kDescriptorLeadingShift) |
                    (uint64_t(strideBytes >> 4) << kDescriptorStrideShift) |
                    kDescriptorSwizzle128;
  return arith::OrIOp::create(b, loc, start, constant(fields));
}

SmallVector<Value> KernelEmitter::wgmmaScores(const SharedTile &queries,
                                              const SharedTile &keys) {
  // Both operands K-major: rows of D elements in 128-byte column blocks.
  // A k-step of 16 elements is 32 bytes into the block; 8-row groups are
  // 1024 bytes apart (the stride byte offset); the leading byte offset is
  // unused with swizzling.
  const int64_t n = plan.tileKeys, steps = plan.headDim / 16;
  const int64_t stepsPerBlock = kSwizzleRowBytes / (16 * plan.elementBytes());
  SmallVector<Value> operands;
  std::string text = "{\n wgmma.fence.sync.aligned;\n";
  int64_t outputs = n / 2;
  // Warpgroup g multiplies query rows 64g ... 64g + 63, 8 swizzle atoms on.
  Value queryOffset =
      e.add(queries.byteOffset,
            e.mul(e.div(warp, e.idx(4)), e.idx(64 * kSwizzleRowBytes)));
  for (int64_t kk = 0; kk < steps; ++kk) {
    int64_t column = (kk / stepsPerBlock),
            within = (kk % stepsPerBlock) * 16 * plan.elementBytes();
    operands.push_back(wgmmaDescriptor(
        e.add(queryOffset,
              e.idx(column * queries.rows * kSwizzleRowBytes + within)),
        16, kSwizzleAtomBytes));
    operands.push_back(wgmmaDescriptor(
        e.add(keys.byteOffset,
              e.idx(column * keys.rows * kSwizzleRowBytes + within)),
        16, kSwizzleAtomBytes));
    // scale-d 0 on the first step: the accumulators start at zero.
    text += llvm::formatv(
                " wgmma.mma_async.sync.aligned.m64n{0}k16.f32.{1}.{1} "
                "{2}, ${3}, ${4}, {5}, 1, 1, 0, 0;\n",
                n, elementSuffix(plan.elementType), registerList(0, outputs),
                outputs + 2 * kk, outputs + 2 * kk + 1, kk == 0 ? 0 : 1)
                .str();
  }
  text += " wgmma.commit_group.sync.aligned;\n"
          " wgmma.wait_group.sync.aligned 0;\n}";
  std::string constraints;
  for (int64_t i = 0; i < outputs; ++i)
    constraints += "=f,";
  for (int64_t i = 0; i < 2 * steps; ++i)
    constraints += "l,";
  constraints += "~{memory}";
  return wgmmaStatement(b, loc, text, constraints, operands, outputs);
}

SmallVector<Value>
KernelEmitter::wgmmaAccumulate(ArrayRef<SmallVector<Value>> p,
                               const SharedTile &values, ArrayRef<Value> acc) {
  // B = V is N-major (the D columns of a key row are contiguous): with
  // 128-byte swizzling, 64-column blocks are `rows * 128` bytes apart (the
  // leading byte offset) and 8-key groups 1024 bytes (the stride byte
  // offset); a k-step of 16 keys moves 16 rows.
  const int64_t n = plan.headDim, steps = static_cast<int64_t>(p.size());
  const int64_t outputs = n / 2;
  SmallVector<Value> operands;
  std::string text = "{\n wgmma.fence.sync.aligned;\n";
  Type i32 = b.getI32Type();
  for (int64_t kk = 0; kk < steps; ++kk)
    for (Value reg : p[kk])
      operands.push_back(reg.getType() == i32
                             ? reg
                             : LLVM::BitcastOp::create(b, loc, i32, reg));
  for (int64_t kk = 0; kk < steps; ++kk)
    operands.push_back(wgmmaDescriptor(
        e.add(values.byteOffset, e.idx(kk * 16 * kSwizzleRowBytes)),
        values.rows * kSwizzleRowBytes, kSwizzleAtomBytes));
  for (int64_t kk = 0; kk < steps; ++kk)
    text += llvm::formatv(
                " wgmma.mma_async.sync.aligned.m64n{0}k16.f32.{1}.{1} "
                "{2}, {3}, ${4}, 1, 1, 1, 1;\n",
                n, elementSuffix(plan.elementType), registerList(0, outputs),
                registerList(outputs + 4 * kk, 4), outputs + 4 * steps + kk)
                .str();
  text += " wgmma.commit_group.sync.aligned;\n"
          " wgmma.wait_group.sync.aligned 0;\n}";
  operands.append(acc.begin(), acc.end());
  std::string constraints;
  for (int64_t i = 0; i < outputs; ++i)
    constraints += "=f,";
  for (int64_t i = 0; i < 4 * steps; ++i)
    constraints += "r,";
  for (int64_t i = 0; i < steps; ++i)
    constraints += "l,";
  for (int64_t i = 0; i < outputs; ++i)
    constraints += llvm::formatv("{0},", i).str();
  constraints += "~{memory}";
  return wgmmaStatement(b, loc, text, constraints, operands, outputs);
}
