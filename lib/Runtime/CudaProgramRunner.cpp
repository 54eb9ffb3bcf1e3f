//===- CudaProgramRunner.cpp - the one way CUDA programs run --------------===//

#include "dilattn/Runtime/CudaProgramRunner.h"
#include "dilattn/Support/Error.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FormatVariadic.h"

#include <tuple>

using namespace dilattn;
using namespace dilattn::runtime::cuda;

//===----------------------------------------------------------------------===//
// Checking and packing (no driver)
//===----------------------------------------------------------------------===//

llvm::Error dilattn::runtime::cuda::checkProgram(const CudaProgram &program) {
  auto invalid = [&](size_t launch, const llvm::Twine &what) {
    return makeError(
        ErrorCode::InvalidArgument,
        llvm::formatv("program '{0}', launch #{1}: ", program.entry, launch) +
            what);
  };
  for (auto [index, launch] : llvm::enumerate(program.launches)) {
    if (launch.image >= program.images.size())
      return invalid(index, llvm::formatv("image #{0} does not exist ({1} "
                                          "images)",
                                          launch.image, program.images.size()));
    if (launch.kernelName.empty())
      return invalid(index, "no kernel name");
    for (auto [argIndex, arg] : llvm::enumerate(launch.args)) {
      if (arg.kind == CudaKernelArg::Kind::Scalar) {
        if (arg.scalarBytes != 4 && arg.scalarBytes != 8)
          return invalid(index, llvm::formatv("argument #{0}: a scalar must "
                                              "hold 4 or 8 bytes, not {1}",
                                              argIndex, arg.scalarBytes));
        continue;
      }
      size_t count = 0;
      switch (arg.buffer.kind) {
      case CudaBufferRef::Kind::Input:
        count = program.inputs.size();
        break;
      case CudaBufferRef::Kind::Output:
        count = program.outputs.size();
        break;
      case CudaBufferRef::Kind::Temporary:
        count = program.temporaryBytes.size();
        break;
      }
      if (arg.buffer.index >= count)
        return invalid(index, llvm::formatv("argument #{0} names buffer #{1} "
                                            "of {2}",
                                            argIndex, arg.buffer.index, count));
      if (arg.kind == CudaKernelArg::Kind::View &&
          arg.sizes.size() != arg.strides.size())
        return invalid(index, llvm::formatv("argument #{0}: {1} sizes but {2} "
                                            "strides",
                                            argIndex, arg.sizes.size(),
                                            arg.strides.size()));
      if (arg.kind == CudaKernelArg::Kind::TensorMap)
        // Any 16-byte-aligned address stands in for the real one.
        if (llvm::Error error = checkTensorMap(arg.tensorMap, 0))
          return invalid(index,
                         llvm::formatv("argument #{0}: {1}", argIndex,
                                       llvm::toString(std::move(error))));
    }
  }
  return llvm::Error::success();
}

llvm::Error dilattn::runtime::cuda::packArguments(
    const CudaProgramLaunch &launch,
    llvm::function_ref<uint64_t(const CudaBufferRef &)> address,
    llvm::function_ref<llvm::Expected<TensorMap>(const CudaKernelArg &,
                                                 uint64_t)>
        encode,
    KernelParams &params) {
  for (const CudaKernelArg &arg : launch.args) {
    switch (arg.kind) {
    case CudaKernelArg::Kind::View: {
      uint64_t base = address(arg.buffer);
      params.addMemRef(base, base, arg.offset, arg.sizes, arg.strides);
      break;
    }
    case CudaKernelArg::Kind::Scalar:
      if (arg.scalarBytes == 4)
        params.addI32(
            static_cast<int32_t>(static_cast<uint32_t>(arg.scalarBits)));
      else
        params.addI64(static_cast<int64_t>(arg.scalarBits));
      break;
    case CudaKernelArg::Kind::TensorMap: {
      uint64_t base = address(arg.buffer) +
                      static_cast<uint64_t>(arg.offset) *
                          tensorMapElementBytes(arg.tensorMap.element);
      auto map = encode(arg, base);
      if (!map)
        return map.takeError();
      if (llvm::Error error = params.addBytes(map->bytes))
        return error;
      break;
    }
    }
  }
  return llvm::Error::success();
}

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

/// The program's images loaded into one device context, and the kernels
/// resolved so far.
struct CudaProgramRunner::Loaded {
  std::vector<Module> modules;
  struct Kernel {
    Function function;
    /// The dynamic shared memory the kernel was opted in to.
    unsigned optedInBytes = 48 * 1024;
  };
  std::map<std::pair<unsigned, std::string>, Kernel> kernels;
  /// Blocks of a persistent launch by (image, kernel, block threads,
  /// dynamic shared bytes).
  std::map<std::tuple<unsigned, std::string, unsigned, unsigned>, unsigned>
      persistentGrids;
};

CudaProgramRunner::CudaProgramRunner(std::shared_ptr<const CudaProgram> program)
    : programData(std::move(program)) {}

CudaProgramRunner::~CudaProgramRunner() = default;

llvm::Expected<CudaProgramRunner::Loaded *>
CudaProgramRunner::getLoaded(Context &context) {
  // Called with `mutex` held.
  auto it = loaded.find(context.ordinal());
  if (it != loaded.end())
    return it->second.get();
  auto entry = std::make_unique<Loaded>();
  for (const CudaProgram::Image &image : programData->images) {
    auto module = Module::load(context, image.bytes);
    if (!module)
      return module.takeError();
    entry->modules.push_back(std::move(*module));
  }
  Loaded *result = entry.get();
  loaded.emplace(context.ordinal(), std::move(entry));
  return result;
}

/// The kernel of `launch` and its grid, resolved (and opted in to large
/// shared memory) on first use. Called with `mutex` held.
llvm::Expected<std::pair<Function, Dim3>>
CudaProgramRunner::prepare(Context &context, Loaded &entry,
                           const CudaProgramLaunch &launch) {
  if (launch.image >= entry.modules.size())
    return makeError(ErrorCode::Internal,
                     llvm::formatv("launch of {0}: image #{1} does not exist",
                                   launch.kernelName, launch.image));
  auto key = std::make_pair(launch.image, launch.kernelName);
  auto it = entry.kernels.find(key);
  if (it == entry.kernels.end()) {
    auto function = entry.modules[launch.image].getFunction(launch.kernelName);
    if (!function)
      return function.takeError();
    it = entry.kernels.emplace(key, Loaded::Kernel{*function}).first;
  }
  Loaded::Kernel &kernel = it->second;
  if (launch.dynamicSharedBytes > kernel.optedInBytes) {
    if (llvm::Error error = kernel.function.setMaxDynamicSharedMemory(
            static_cast<int>(launch.dynamicSharedBytes)))
      return std::move(error);
    kernel.optedInBytes = launch.dynamicSharedBytes;
  }
  Dim3 grid{launch.grid[0], launch.grid[1], launch.grid[2]};
  if (grid.x == kPersistentGrid) {
    auto gridKey =
        std::make_tuple(launch.image, launch.kernelName,
                        launch.block[0] * launch.block[1] * launch.block[2],
                        launch.dynamicSharedBytes);
    auto found = entry.persistentGrids.find(gridKey);
    if (found == entry.persistentGrids.end()) {
      unsigned threads = std::get<2>(gridKey);
      auto perMultiprocessor = kernel.function.maxActiveBlocksPerMultiprocessor(
          static_cast<int>(threads),
          static_cast<size_t>(launch.dynamicSharedBytes));
      if (!perMultiprocessor)
        return perMultiprocessor.takeError();
      if (*perMultiprocessor < 1)
        return makeError(
            ErrorCode::Unsupported,
            llvm::formatv(
                "kernel {0} cannot run on {1}: {2} threads and {3} bytes of "
                "shared memory per block do not fit a multiprocessor",
                launch.kernelName, context.info().name, threads,
                launch.dynamicSharedBytes));
      found = entry.persistentGrids
                  .emplace(gridKey, static_cast<unsigned>(
                                        *perMultiprocessor *
                                        context.info().multiprocessorCount))
                  .first;
    }
    grid.x = found->second;
  }
  return std::make_pair(kernel.function, grid);
}

llvm::Error CudaProgramRunner::load(Context &context) {
  std::lock_guard<std::mutex> lock(mutex);
  auto entry = getLoaded(context);
  if (!entry)
    return entry.takeError();
  for (const CudaProgramLaunch &launch : programData->launches) {
    auto prepared = prepare(context, **entry, launch);
    if (!prepared)
      return prepared.takeError();
  }
  return llvm::Error::success();
}

/// A key for an encoded tensor map: its description and address.
static std::string tensorMapKey(const TensorMapSpec &spec, uint64_t address) {
  std::string key =
      llvm::formatv("{0}:{1}:{2}:{3}:{4}|", static_cast<unsigned>(spec.element),
                    static_cast<unsigned>(spec.swizzle), spec.oobFillNan,
                    spec.l2PromotionBytes, address)
          .str();
  for (uint64_t v : spec.dims)
    key += std::to_string(v) + ",";
  key += "|";
  for (uint64_t v : spec.byteStrides)
    key += std::to_string(v) + ",";
  key += "|";
  for (uint32_t v : spec.box)
    key += std::to_string(v) + ",";
  key += "|";
  for (uint32_t v : spec.elementStrides)
    key += std::to_string(v) + ",";
  return key;
}

llvm::Expected<TensorMap> CudaProgramRunner::tensorMap(const CudaKernelArg &arg,
                                                       uint64_t address) {
  std::string key = tensorMapKey(arg.tensorMap, address);
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = tensorMaps.find(key);
    if (it != tensorMaps.end())
      return it->second;
  }
  auto map = encodeTiledTensorMap(arg.tensorMap, address);
  if (!map)
    return map.takeError();
  std::lock_guard<std::mutex> lock(mutex);
  // Addresses come and go with the caller's allocations: keep a bounded set.
  if (tensorMaps.size() >= 256)
    tensorMaps.clear();
  tensorMaps.emplace(key, *map);
  return *map;
}

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

llvm::Expected<uint64_t>
CudaProgramRunner::run(Context &context, llvm::ArrayRef<uint64_t> inputs,
                       llvm::ArrayRef<uint64_t> outputs, Stream &stream,
                       const ProgramRunOptions &options) {
  return run(context, programData->launches, programData->temporaryBytes,
             inputs, outputs, stream, options);
}

llvm::Expected<uint64_t> CudaProgramRunner::run(
    Context &context, llvm::ArrayRef<CudaProgramLaunch> launches,
    llvm::ArrayRef<uint64_t> temporaryBytes, llvm::ArrayRef<uint64_t> inputs,
    llvm::ArrayRef<uint64_t> outputs, Stream &stream,
    const ProgramRunOptions &options) {
  // The kernels and grids of every launch, resolved before anything runs.
  llvm::SmallVector<std::pair<Function, Dim3>> prepared;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto entry = getLoaded(context);
    if (!entry)
      return entry.takeError();
    for (const CudaProgramLaunch &launch : launches) {
      auto kernel = prepare(context, **entry, launch);
      if (!kernel)
        return kernel.takeError();
      prepared.push_back(*kernel);
    }
  }
  // A set of temporaries no other run is using: taken from the pool of
  // this device, or allocated, and given back after the run.
  std::vector<DeviceBuffer> temporaries;
  if (options.poolTemporaries && !temporaryBytes.empty()) {
    std::lock_guard<std::mutex> lock(mutex);
    std::vector<std::vector<DeviceBuffer>> &pool =
        idleTemporaries[context.ordinal()];
    for (auto it = pool.begin(); it != pool.end(); ++it) {
      bool fits = it->size() == temporaryBytes.size();
      for (size_t i = 0; fits && i < it->size(); ++i)
        fits = (*it)[i].size() >= temporaryBytes[i];
      if (!fits)
        continue;
      temporaries = std::move(*it);
      pool.erase(it);
      break;
    }
  }
  if (temporaries.empty())
    for (uint64_t bytes : temporaryBytes) {
      auto buffer = DeviceBuffer::allocate(context, bytes);
      if (!buffer)
        return buffer.takeError();
      temporaries.push_back(std::move(*buffer));
    }
  llvm::scope_exit giveBack([&] {
    if (temporaries.empty() || !options.poolTemporaries)
      return;
    std::lock_guard<std::mutex> lock(mutex);
    std::vector<std::vector<DeviceBuffer>> &pool =
        idleTemporaries[context.ordinal()];
    // Runs at once rarely exceed a few; keep that many sets at most.
    if (pool.size() < 4)
      pool.push_back(std::move(temporaries));
  });
  auto address = [&](const CudaBufferRef &ref) -> uint64_t {
    switch (ref.kind) {
    case CudaBufferRef::Kind::Input:
      return ref.index < inputs.size() ? inputs[ref.index] : 0;
    case CudaBufferRef::Kind::Output:
      return ref.index < outputs.size() ? outputs[ref.index] : 0;
    case CudaBufferRef::Kind::Temporary:
      return ref.index < temporaries.size() ? temporaries[ref.index].address()
                                            : 0;
    }
    return 0;
  };
  auto encode = [&](const CudaKernelArg &arg, uint64_t at) {
    return tensorMap(arg, at);
  };

  std::vector<Event> events;
  if (options.launchMs)
    for (size_t i = 0; i <= launches.size(); ++i) {
      auto event = Event::create(context);
      if (!event)
        return event.takeError();
      events.push_back(std::move(*event));
    }
  llvm::Error status = llvm::Error::success();
  // Checked now: the loop below assigns over it (an unchecked Error may not
  // be overwritten where LLVM checks that).
  (void)static_cast<bool>(status);
  uint64_t blocks = 0;
  size_t index = 0;
  for (auto [launch, kernel] : llvm::zip_equal(launches, prepared)) {
    if (options.launchMs && index == 0)
      if ((status = events[0].record(stream)))
        break;
    KernelParams params;
    if ((status = packArguments(launch, address, encode, params)))
      break;
    llvm::SmallVector<void *> pointers = params.pointers();
    auto [function, grid] = kernel;
    status = function.launch(
        grid, Dim3{launch.block[0], launch.block[1], launch.block[2]},
        launch.dynamicSharedBytes, stream, pointers);
    if (status)
      break;
    blocks += uint64_t(grid.x) * grid.y * grid.z;
    ++index;
    if (options.launchMs)
      if ((status = events[index].record(stream)))
        break;
  }
  // Temporaries are reused or freed on return: wait for the kernels that
  // use them, also after a failed launch.
  if (!options.wait && temporaries.empty() && !options.launchMs) {
    if (status)
      return std::move(status);
    return blocks;
  }
  llvm::Error synchronized = stream.synchronize();
  if (status) {
    llvm::consumeError(std::move(synchronized));
    return std::move(status);
  }
  if (synchronized)
    return std::move(synchronized);
  if (options.launchMs) {
    options.launchMs->clear();
    for (size_t i = 0; i + 1 < events.size(); ++i) {
      auto ms = Event::elapsedMs(events[i], events[i + 1]);
      if (!ms)
        return ms.takeError();
      options.launchMs->push_back(*ms);
    }
  }
  return blocks;
}
