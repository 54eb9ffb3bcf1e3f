//===- Check.cpp - --check: the comparison with the reference -------------===//

#include "Check.h"
#include "dilattn/Support/Error.h"

#include "dilattn/Support/Npy.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace dilattn;
using namespace dilattn::run;

llvm::Error dilattn::run::checkOutput(const Call &call,
                                      llvm::ArrayRef<float> output,
                                      llvm::StringRef toleranceName,
                                      double tolerance) {
  auto expected = reference::dilatedAttention(
      call.config, call.query.toReference(), call.key.toReference(),
      call.value.toReference(), call.referenceMasks());
  if (!expected)
    return expected.takeError();
  reference::ErrorStats stats = reference::compare(output, expected->data);
  llvm::outs() << llvm::formatv("max_abs_err={0:e} rel_err={1:e}\n",
                                stats.maxAbs, stats.relative);
  if (!(stats.relative <= tolerance))
    return makeError(
        ErrorCode::Runtime,
        llvm::formatv("check failed: rel_err {0:e} exceeds the {1} "
                      "tolerance {2:e}",
                      stats.relative, toleranceName, tolerance));
  return llvm::Error::success();
}

llvm::Error dilattn::run::writeAndCheckOutput(const Call &call,
                                              const Tensor &output,
                                              const CallOptions &options,
                                              llvm::StringRef toleranceName,
                                              double tolerance) {
  if (!options.outFile.empty())
    if (llvm::Error error =
            npy::writeNpyF32(options.outFile, output.shape, output.data))
      return error;
  if (!options.check)
    return llvm::Error::success();
  return checkOutput(call, output.data, toleranceName, tolerance);
}
