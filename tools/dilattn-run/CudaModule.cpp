//===- CudaModule.cpp - module mode on target cuda ------------------------===//
//
// FILE.mlir's --entry function through the graph API's CUDA path (one
// upload, the program's launches, one download); --bench times runs on device
// buffers, and --profile adds each launch's median time.
//
//===----------------------------------------------------------------------===//

#include "Bench.h"
#include "Modes.h"
#include "ModuleIO.h"

#include "dilattn/API/Graph.h"
#include "dilattn/Runtime/CudaRuntime.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace dilattn;
using namespace dilattn::run;
namespace cuda = dilattn::runtime::cuda;

/// --profile: the median time of each launch over `reps` profiled runs,
/// slowest first, as a table.
static llvm::Error printProfile(CompiledGraph &graph, int reps,
                                llvm::ArrayRef<uint64_t> inputAddresses,
                                llvm::ArrayRef<uint64_t> outputAddresses) {
  std::vector<std::vector<double>> perLaunch;
  std::vector<std::string> names;
  for (int i = 0; i < reps; ++i) {
    auto profiled = graph.profileOnDevice(inputAddresses, outputAddresses);
    if (!profiled)
      return profiled.takeError();
    perLaunch.resize(profiled->size());
    names.resize(profiled->size());
    for (auto [index, launch] : llvm::enumerate(*profiled)) {
      perLaunch[index].push_back(launch.ms);
      names[index] = launch.kernel;
    }
  }
  std::vector<std::pair<double, size_t>> order;
  double total = 0;
  for (auto [index, values] : llvm::enumerate(perLaunch)) {
    order.push_back({median(values), index});
    total += order.back().first;
  }
  llvm::sort(order, [](auto &x, auto &y) { return x.first > y.first; });
  llvm::outs() << "launch  median_ms  share  kernel\n";
  for (auto [ms, index] : order)
    llvm::outs() << llvm::formatv("{0,6}  {1,9:f4}  {2,4:f0}%  {3}\n", index,
                                  ms, total > 0 ? 100 * ms / total : 0.0,
                                  names[index]);
  return llvm::Error::success();
}

llvm::Error dilattn::run::runCudaModule(llvm::StringRef source,
                                        const ModuleOptions &options) {
  GraphCompileOptions compileOptions;
  compileOptions.target = GraphTarget::Cuda;
  compileOptions.cudaTuning = options.common.tuning.cuda();
  auto compiled = CompiledGraph::compileMLIR(source, options.file,
                                             options.entry, compileOptions);
  if (!compiled)
    return compiled.takeError();
  CompiledGraph &graph = **compiled;
  auto data = readModuleData(options, graph.getInputs(), graph.getOutputs());
  if (!data)
    return data.takeError();
  std::vector<const void *> inputPointers;
  for (npy::Array &array : data->inputs)
    inputPointers.push_back(array.bytes.data());
  std::vector<float *> outputPointers;
  for (std::vector<float> &values : data->outputs)
    outputPointers.push_back(values.data());
  if (llvm::Error error = graph.run(inputPointers, outputPointers))
    return error;
  auto context = cuda::Context::get();
  if (!context)
    return context.takeError();
  llvm::outs() << llvm::formatv(
      "dilattn-run: @{0} from {1}, target cuda ({2}), {3} kernel launches, "
      "compiled in {4:f1} ms\n",
      options.entry, options.file, context->info().name,
      graph.getNumKernelLaunches(), graph.getCompileMs());
  if (llvm::Error error =
          writeModuleOutputs(options, graph.getOutputs(), *data))
    return error;

  int reps = options.common.bench;
  if (reps <= 0)
    return llvm::Error::success();
  std::vector<cuda::DeviceBuffer> buffers;
  std::vector<uint64_t> inputAddresses, outputAddresses;
  for (npy::Array &array : data->inputs) {
    auto buffer = cuda::DeviceBuffer::allocate(*context, array.bytes.size());
    if (!buffer)
      return buffer.takeError();
    if (!array.bytes.empty())
      if (llvm::Error error =
              buffer->copyFromHost(array.bytes.data(), array.bytes.size()))
        return error;
    inputAddresses.push_back(buffer->address());
    buffers.push_back(std::move(*buffer));
  }
  for (std::vector<float> &values : data->outputs) {
    auto buffer =
        cuda::DeviceBuffer::allocate(*context, values.size() * sizeof(float));
    if (!buffer)
      return buffer.takeError();
    outputAddresses.push_back(buffer->address());
    buffers.push_back(std::move(*buffer));
  }
  auto times = timeRuns(/*warmups=*/3, reps, [&] {
    return graph.runOnDevice(inputAddresses, outputAddresses);
  });
  if (!times)
    return times.takeError();
  if (options.profile)
    if (llvm::Error error =
            printProfile(graph, reps, inputAddresses, outputAddresses))
      return error;
  JsonObject line = benchLine(median(*times), graph.getEffectiveFlops(),
                              graph.getCompileMs(), /*cacheHit=*/false);
  line.integer("reps", reps)
      .string("target", "cuda")
      .string("device", context->info().name)
      .integer("kernel_launches", graph.getNumKernelLaunches());
  printBenchLine(line);
  return llvm::Error::success();
}
