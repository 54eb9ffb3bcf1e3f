//===- CpuBackward.cpp - --backward on target cpu -------------------------===//
//
// A training step's attention on host buffers (issue 18): the forward pass
// that saves its statistics, then the backward pass from them, through the
// C++ API. --check compares the output and all three gradients with the
// float64 reference; --bench times forward + backward and backward alone.
//
//===----------------------------------------------------------------------===//

#include "Bench.h"
#include "Check.h"
#include "Modes.h"

#include "dilattn/Runtime/CpuRuntime.h"
#include "dilattn/Support/Error.h"
#include "dilattn/Support/Npy.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <array>

using namespace dilattn;
using namespace dilattn::run;

/// The output gradient: from --grad-output, or drawn from --seed with a seed
/// that none of Q, K and V uses (theirs are 3 seed + 1, 2, 3).
static llvm::Expected<Tensor> readGradOutput(const Call &call,
                                             const CallOptions &options) {
  if (options.gradOutputFile.empty()) {
    uint64_t seed = options.seed ^ 0x9e3779b97f4a7c15ull;
    reference::Tensor random = reference::randomTensor(call.query.shape, seed);
    return Tensor{call.query.shape,
                  std::vector<float>(random.data.begin(), random.data.end())};
  }
  auto array = npy::readNpy(options.gradOutputFile);
  if (!array)
    return array.takeError();
  if (array->dtype != npy::DType::F32)
    return makeError(ErrorCode::Unsupported,
                     llvm::formatv("{0}: dtype {1} is not supported on target "
                                   "cpu; save '<f4' data",
                                   options.gradOutputFile,
                                   npy::dtypeDescr(array->dtype)));
  return Tensor{array->shape, array->toFloat32()};
}

/// The error of one gradient against the reference, printed and checked.
static llvm::Error checkGradient(llvm::StringRef name,
                                 const std::vector<float> &gradient,
                                 const reference::Tensor &expected,
                                 llvm::Error previous) {
  reference::ErrorStats stats = reference::compare(
      llvm::ArrayRef<float>(gradient), llvm::ArrayRef<double>(expected.data));
  llvm::outs() << llvm::formatv("{0} max_abs_err={1:e} rel_err={2:e}\n", name,
                                stats.maxAbs, stats.relative);
  if (previous || stats.relative <= kFloat32GradientTolerance)
    return previous;
  return makeError(ErrorCode::Runtime,
                   llvm::formatv("check failed: {0} rel_err {1:e} exceeds the "
                                 "float32 gradient tolerance {2:e}",
                                 name, stats.relative,
                                 kFloat32GradientTolerance));
}

llvm::Error dilattn::run::runCpuBackward(const Call &call,
                                         const CallOptions &options) {
  if (!options.outGradFiles.empty() && options.outGradFiles.size() != 3)
    return makeError(ErrorCode::InvalidArgument,
                     llvm::formatv("--out-grads must name three files "
                                   "(DQ.npy,DK.npy,DV.npy), got {0}",
                                   options.outGradFiles.size()));
  auto gradOutput = readGradOutput(call, options);
  if (!gradOutput)
    return gradOutput.takeError();
  std::optional<HostMask> keyPaddingView = call.keyPaddingView(),
                          attnView = call.attnView();
  runtime::ThreadPool pool(options.numThreads);
  RunOptions runOptions = cpuRunOptions(options, pool);

  // The API checks every shape before anything is written; buffers are
  // sized from the query, which the inputs already hold in memory.
  const std::vector<int64_t> &shape = call.query.shape;
  bool rank4 = shape.size() == 4;
  size_t count = rank4 ? call.query.data.size() : 0;
  Tensor output{shape, std::vector<float>(count)};
  std::vector<int64_t> rowShape =
      rank4 ? std::vector<int64_t>(shape.begin(), shape.end() - 1)
            : std::vector<int64_t>{};
  Tensor lse{rowShape, std::vector<float>(rank4 ? count / shape[3] : 0)};
  Tensor gradQuery{shape, std::vector<float>(count)},
      gradKey{shape, std::vector<float>(count)},
      gradValue{shape, std::vector<float>(count)};
  auto forward = [&]() {
    return dilatedAttentionWithStatistics(
        call.config, call.query.view(), call.key.view(), call.value.view(),
        keyPaddingView, attnView, output.data.data(), output.shape,
        lse.data.data(), runOptions);
  };
  auto backward = [&]() {
    return dilatedAttentionBackward(
        call.config, call.query.view(), call.key.view(), call.value.view(),
        output.view(), lse.view(), gradOutput->view(), keyPaddingView, attnView,
        gradQuery.data.data(), gradKey.data.data(), gradValue.data.data(),
        runOptions);
  };
  auto firstForward = forward();
  if (!firstForward)
    return firstForward.takeError();
  auto firstBackward = backward();
  if (!firstBackward)
    return firstBackward.takeError();
  llvm::outs() << llvm::formatv(
      "dilattn-run: {0}, backward, target cpu, {1} threads, forward kernel "
      "{2}, backward kernel {3}\n",
      call.describe(), pool.getNumThreads(),
      describeKernel(firstForward->cache, firstForward->compileMs),
      describeKernel(firstBackward->cache, firstBackward->compileMs));

  CallOptions forwardOptions = options;
  forwardOptions.check = false;
  if (llvm::Error error = writeAndCheckOutput(call, output, forwardOptions,
                                              "float32", kFloat32Tolerance))
    return error;
  if (!options.outGradFiles.empty())
    for (auto [path, tensor] : llvm::zip_equal(
             options.outGradFiles,
             std::array<const Tensor *, 3>{&gradQuery, &gradKey, &gradValue}))
      if (llvm::Error error =
              npy::writeNpyF32(path, tensor->shape, tensor->data))
        return error;
  if (options.check) {
    if (llvm::Error error =
            checkOutput(call, output.data, "float32", kFloat32Tolerance))
      return error;
    auto expected = reference::dilatedAttentionBackward(
        call.config, call.query.toReference(), call.key.toReference(),
        call.value.toReference(), gradOutput->toReference(),
        call.referenceMasks());
    if (!expected)
      return expected.takeError();
    llvm::Error failed = llvm::Error::success();
    failed = checkGradient("grad_query", gradQuery.data, expected->query,
                           std::move(failed));
    failed = checkGradient("grad_key", gradKey.data, expected->key,
                           std::move(failed));
    failed = checkGradient("grad_value", gradValue.data, expected->value,
                           std::move(failed));
    if (failed)
      return failed;
  }

  int reps = options.common.bench;
  if (reps <= 0)
    return llvm::Error::success();
  auto run = [](auto &step) -> llvm::Error {
    auto info = step();
    return info ? llvm::Error::success() : info.takeError();
  };
  auto both = timeRuns(/*warmups=*/2, reps, [&]() -> llvm::Error {
    if (llvm::Error error = run(forward))
      return error;
    return run(backward);
  });
  if (!both)
    return both.takeError();
  auto backwardTimes =
      timeRuns(/*warmups=*/1, reps, [&] { return run(backward); });
  if (!backwardTimes)
    return backwardTimes.takeError();
  auto forwardTimes =
      timeRuns(/*warmups=*/1, reps, [&] { return run(forward); });
  if (!forwardTimes)
    return forwardTimes.takeError();
  // Effective FLOPs of a training step: the forward's two GEMMs and the
  // backward's five (FlashAttention's count), docs/Contract.md section 5.3.
  int64_t batch = shape[0], seqLen = shape[1], numHeads = shape[2],
          headDim = shape[3];
  double flops =
      3.5 * effectiveFlops(call.config, batch, seqLen, numHeads, headDim);
  bool compiled = firstForward->cache == jit::CacheOutcome::Compiled ||
                  firstBackward->cache == jit::CacheOutcome::Compiled;
  JsonObject line = benchLine(
      median(*both), flops,
      compiled ? firstForward->compileMs + firstBackward->compileMs : 0.0,
      !compiled);
  line.number("forward_ms", median(*forwardTimes), 4)
      .number("backward_ms", median(*backwardTimes), 4)
      .integer("reps", reps)
      .integer("threads", pool.getNumThreads())
      .string("target", "cpu")
      .string("pass", "forward+backward")
      .shape("shape", shape);
  printBenchLine(line);
  return llvm::Error::success();
}
