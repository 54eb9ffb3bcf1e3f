//===- Check.h - --check: the comparison with the reference -----*- C++ -*-===//
//
// One check for every single-call mode: the float64 reference of the call
// (docs/Contract.md section 1), the line "max_abs_err=... rel_err=...", and a
// refusal beyond the tolerance; and the --out file written before it.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_TOOLS_DILATTN_RUN_CHECK_H
#define DILATTN_TOOLS_DILATTN_RUN_CHECK_H

#include "Call.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace dilattn::run {

/// The float32 tolerance of docs/Contract.md section 1.
constexpr double kFloat32Tolerance = 1e-5;
/// The float32 tolerance of the gradients (docs/Contract.md section 1.9):
/// that of the output.
constexpr double kFloat32GradientTolerance = kFloat32Tolerance;

/// Compares `output` with the float64 reference of `call` (its inputs as they
/// are, so rounded ones for a lower precision), prints the errors and fails
/// when the relative error exceeds `tolerance`, named `toleranceName` in the
/// message ("float32", "bf16", ...).
llvm::Error checkOutput(const Call &call, llvm::ArrayRef<float> output,
                        llvm::StringRef toleranceName, double tolerance);

/// What a single call does with its output: writes it to --out, then, with
/// --check, checks it (checkOutput).
llvm::Error writeAndCheckOutput(const Call &call, const Tensor &output,
                                const CallOptions &options,
                                llvm::StringRef toleranceName,
                                double tolerance);

} // namespace dilattn::run

#endif // DILATTN_TOOLS_DILATTN_RUN_CHECK_H
