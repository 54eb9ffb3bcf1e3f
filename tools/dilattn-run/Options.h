//===- Options.h - dilattn-run's command line, as plain structs -*- C++ -*-===//
//
// The command line of docs/Contract.md section 5, read once into plain
// structs: what every mode reads (Common), what a single call reads (Call)
// and what module mode reads (Module). Modes take the struct they need; only
// Options.cpp knows the llvm::cl flags.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_TOOLS_DILATTN_RUN_OPTIONS_H
#define DILATTN_TOOLS_DILATTN_RUN_OPTIONS_H

#include "dilattn/JIT/Jit.h"
#include "dilattn/Pipelines/CudaKernelChoice.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace dilattn::run {

/// Code-generation tuning (0: the JIT's choice); for benchmarking.
struct TuningOptions {
  /// --tile-queries, --tile-keys: cpu and cuda.
  int64_t tileQueries = 0;
  int64_t tileKeys = 0;
  /// --vector-width, --block-size: cpu.
  int64_t vectorWidth = 0;
  int64_t blockSize = 0;
  /// --stages, --cuda-kernel: cuda.
  int64_t stages = 2;
  CudaKernelChoice kernel = CudaKernelChoice::Auto;

  /// The CPU kernel's vector width and tiles (--block-size is the single
  /// call's alone, see runCpuCall).
  jit::CpuTuning cpu() const;
  /// The CUDA kernel's tiles, stages and kernel; a tile of 0 means 64.
  jit::CudaTuning cuda() const;
};

/// What every mode reads.
struct CommonOptions {
  /// --target: "cpu" or "cuda" (anything else is refused by the mode).
  std::string target = "cpu";
  /// --bench: timed repetitions after warm-up; none when <= 0.
  int bench = 0;
  TuningOptions tuning;
};

/// A single dilated attention call (no FILE.mlir).
struct CallOptions {
  CommonOptions common;
  // The configuration, as spelled on the command line.
  std::vector<int64_t> segmentLengths, dilationRates;
  std::string mode = "grouped";
  std::string offsetRule = "cyclic";
  bool causal = false;
  /// --scale; empty: 1/sqrt(D).
  std::string scale;
  std::string dtype = "f32";
  // Inputs: files, or random ones of a shape.
  std::string queryFile, keyFile, valueFile;
  std::vector<int64_t> shape;
  uint64_t seed = 0;
  std::string keyPaddingFile, attnMaskFile;
  // What to do with the output.
  std::string outFile;
  bool check = false;
  // The backward pass (issue 18): --backward, --grad-output (empty: random
  // from --seed), --out-grads (empty or three files).
  bool backward = false;
  std::string gradOutputFile;
  std::vector<std::string> outGradFiles;
  // How to run it.
  int numThreads = 0;
  /// --world-size: in-process ranks of sequence parallelism; 0: none.
  int worldSize = 0;
};

/// Module mode: FILE.mlir and one of its functions.
struct ModuleOptions {
  CommonOptions common;
  std::string file;
  std::string entry;
  std::vector<std::string> inputs, outputs;
  /// --profile: target cuda with --bench, each launch's median time too.
  bool profile = false;
};

/// The whole command line; `module.file` empty means a single call.
struct Options {
  CallOptions call;
  ModuleOptions module;

  bool isModuleMode() const { return !module.file.empty(); }
};

/// Parses the command line. A bad one is an error holding the parser's first
/// line of complaint (without the "dilattn-run: " prefix).
llvm::Expected<Options> parseOptions(int argc, char **argv);

} // namespace dilattn::run

#endif // DILATTN_TOOLS_DILATTN_RUN_OPTIONS_H
