//===- CudaProgramRunner.h - the one way CUDA programs run ------*- C++ -*-===//
//
// Loads a CudaProgram's images into a device context once (opting kernels
// with more than 48 KiB of dynamic shared memory in), packs each launch's
// arguments (memref views, scalars, 128-byte tensor maps encoded from the
// actual device addresses and cached per address), gives each run its own
// set of temporaries from a per-device pool, and launches on the caller's
// stream. Single calls and compiled graphs both run through it.
//
// Threads: a runner may be used by several threads at once; concurrent runs
// take separate temporaries.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_RUNTIME_CUDAPROGRAMRUNNER_H
#define DILATTN_RUNTIME_CUDAPROGRAMRUNNER_H

#include "dilattn/Runtime/CudaProgram.h"
#include "dilattn/Runtime/CudaRuntime.h"

#include "llvm/ADT/STLFunctionalExtras.h"

#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace dilattn::runtime::cuda {

/// A launch whose grid x is this many blocks runs as many blocks as fit on
/// the device at once (persistent kernels): blocks per multiprocessor (from
/// the occupancy calculator) times the multiprocessor count.
constexpr unsigned kPersistentGrid = 0;

/// Checks that every launch names an image and buffers the program has,
/// every scalar holds 4 or 8 bytes and every tensor map is well formed (its
/// address aside). Needs no driver.
llvm::Error checkProgram(const CudaProgram &program);

/// Packs the arguments of `launch` into `params`: a view as an expanded
/// memref descriptor of `address(buffer)`, a scalar as 4 or 8 bytes, a
/// tensor map as the 128 bytes `encode(arg, address(buffer) + offset)`
/// gives. Needs no driver.
llvm::Error packArguments(
    const CudaProgramLaunch &launch,
    llvm::function_ref<uint64_t(const CudaBufferRef &)> address,
    llvm::function_ref<llvm::Expected<TensorMap>(const CudaKernelArg &,
                                                 uint64_t)>
        encode,
    KernelParams &params);

struct ProgramRunOptions {
  /// Wait for the launches before returning. A run with temporaries always
  /// waits (they go back to the pool).
  bool wait = true;
  /// Keep temporaries in the per-device pool for later runs (else they are
  /// freed after the run).
  bool poolTemporaries = true;
  /// With a vector, time each launch with a pair of events (implies wait).
  std::vector<double> *launchMs = nullptr;
};

class CudaProgramRunner {
public:
  explicit CudaProgramRunner(std::shared_ptr<const CudaProgram> program);
  ~CudaProgramRunner();

  const CudaProgram &program() const { return *programData; }

  /// Loads the images into `context` (once per device) and resolves the
  /// kernels of every launch.
  llvm::Error load(Context &context);

  /// Runs the program's launches on device buffers. Returns the number of
  /// blocks launched.
  llvm::Expected<uint64_t> run(Context &context,
                               llvm::ArrayRef<uint64_t> inputs,
                               llvm::ArrayRef<uint64_t> outputs, Stream &stream,
                               const ProgramRunOptions &options = {});

  /// Runs `launches` (kernels of this program's images, e.g. launches whose
  /// view sizes are known only per call) with temporaries of
  /// `temporaryBytes`.
  llvm::Expected<uint64_t> run(Context &context,
                               llvm::ArrayRef<CudaProgramLaunch> launches,
                               llvm::ArrayRef<uint64_t> temporaryBytes,
                               llvm::ArrayRef<uint64_t> inputs,
                               llvm::ArrayRef<uint64_t> outputs, Stream &stream,
                               const ProgramRunOptions &options = {});

private:
  struct Loaded;
  llvm::Expected<Loaded *> getLoaded(Context &context);
  llvm::Expected<std::pair<Function, Dim3>>
  prepare(Context &context, Loaded &entry, const CudaProgramLaunch &launch);
  llvm::Expected<TensorMap> tensorMap(const CudaKernelArg &arg,
                                      uint64_t address);

  std::shared_ptr<const CudaProgram> programData;
  std::mutex mutex;
  std::map<int, std::unique_ptr<Loaded>> loaded;
  std::map<int, std::vector<std::vector<DeviceBuffer>>> idleTemporaries;
  /// Encoded tensor maps by description and address.
  std::map<std::string, TensorMap> tensorMaps;
};

} // namespace dilattn::runtime::cuda

#endif // DILATTN_RUNTIME_CUDAPROGRAMRUNNER_H
