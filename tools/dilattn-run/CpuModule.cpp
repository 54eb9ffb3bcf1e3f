//===- CpuModule.cpp - module mode on target cpu --------------------------===//
//
// FILE.mlir's --entry function compiled with dilattn-cpu-pipeline
// (jit::CompiledModule, compiled every run) and run on host buffers; its
// parallel work runs on the process-wide pool.
//
//===----------------------------------------------------------------------===//

#include "Bench.h"
#include "Modes.h"
#include "ModuleIO.h"

#include "dilattn/JIT/ModuleRunner.h"
#include "dilattn/Runtime/CpuRuntime.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace dilattn;
using namespace dilattn::run;

llvm::Error dilattn::run::runCpuModule(llvm::StringRef source,
                                       const ModuleOptions &options) {
  auto compiled = jit::CompiledModule::compile(
      source, options.file, options.entry, options.common.tuning.cpu());
  if (!compiled)
    return compiled.takeError();
  jit::CompiledModule &module = **compiled;
  auto data = readModuleData(options, module.getInputs(), module.getOutputs());
  if (!data)
    return data.takeError();
  std::vector<jit::ModuleBuffer> inputBuffers, outputBuffers;
  for (npy::Array &array : data->inputs) {
    jit::ModuleBuffer buffer;
    buffer.data = array.bytes.data();
    buffer.shape.assign(array.shape.begin(), array.shape.end());
    inputBuffers.push_back(buffer);
  }
  for (auto [signature, values] :
       llvm::zip_equal(module.getOutputs(), data->outputs)) {
    jit::ModuleBuffer buffer;
    buffer.data = values.data();
    buffer.shape = signature.shape;
    outputBuffers.push_back(buffer);
  }
  if (llvm::Error error = module.run(inputBuffers, outputBuffers))
    return error;
  llvm::outs() << llvm::formatv(
      "dilattn-run: @{0} from {1}, target cpu, compiled in {2:f1} ms\n",
      options.entry, options.file, module.getCompileMs());
  if (llvm::Error error =
          writeModuleOutputs(options, module.getOutputs(), *data))
    return error;

  int reps = options.common.bench;
  if (reps <= 0)
    return llvm::Error::success();
  auto times = timeRuns(/*warmups=*/2, reps, [&] {
    return module.run(inputBuffers, outputBuffers);
  });
  if (!times)
    return times.takeError();
  JsonObject line = benchLine(median(*times), module.getEffectiveFlops(),
                              module.getCompileMs(), /*cacheHit=*/false);
  line.integer("reps", reps)
      // Module mode runs its parallel work on the process-wide pool
      // ($DILATTN_NUM_THREADS, else all cores).
      .integer("threads", runtime::ThreadPool::global().getNumThreads())
      .string("target", "cpu");
  printBenchLine(line);
  return llvm::Error::success();
}
