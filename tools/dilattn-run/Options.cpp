//===- Options.cpp - dilattn-run's flags --------------------------------===//
//
// The llvm::cl flags of docs/Contract.md section 5, and their copy into the
// structs of Options.h. Nothing else in the tool reads a flag.
//
//===----------------------------------------------------------------------===//

#include "Options.h"

#include "dilattn/Support/Error.h"
#include "dilattn/Support/Version.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <unistd.h>

using namespace dilattn;
using namespace dilattn::run;
namespace cl = llvm::cl;

static cl::OptionCategory category("dilattn-run options");

static cl::opt<std::string> moduleFile(cl::Positional, cl::init(""),
                                       cl::desc("[FILE.mlir]"),
                                       cl::cat(category));
static cl::list<int64_t>
    segmentLengths("segment-lengths", cl::CommaSeparated,
                   cl::desc("segment length of each pattern"),
                   cl::cat(category));
static cl::list<int64_t>
    dilationRates("dilation-rates", cl::CommaSeparated,
                  cl::desc("dilation rate of each pattern"), cl::cat(category));
static cl::opt<std::string> mode("mode", cl::init("grouped"),
                                 cl::desc("grouped | longnet"),
                                 cl::cat(category));
static cl::opt<std::string> offsetRule("offset-rule", cl::init("cyclic"),
                                       cl::desc("cyclic | blocked"),
                                       cl::cat(category));
static cl::opt<bool> causal("causal", cl::desc("causal attention"),
                            cl::cat(category));
static cl::opt<std::string> scale("scale", cl::init(""),
                                  cl::desc("softmax scale (default 1/sqrt(D))"),
                                  cl::cat(category));
static cl::opt<std::string> target("target", cl::init("cpu"),
                                   cl::desc("cpu | cuda"), cl::cat(category));
static cl::opt<std::string> dtype("dtype", cl::init("f32"),
                                  cl::desc("f32 | f16 | bf16"),
                                  cl::cat(category));
static cl::opt<std::string> queryFile("q", cl::init(""),
                                      cl::desc("query .npy (B, N, H, D)"),
                                      cl::cat(category));
static cl::opt<std::string> keyFile("k", cl::init(""), cl::desc("key .npy"),
                                    cl::cat(category));
static cl::opt<std::string> valueFile("v", cl::init(""), cl::desc("value .npy"),
                                      cl::cat(category));
static cl::list<int64_t> shape("shape", cl::CommaSeparated,
                               cl::desc("B,N,H,D of random inputs"),
                               cl::cat(category));
static cl::opt<uint64_t> seed("seed", cl::init(0),
                              cl::desc("seed of the random inputs"),
                              cl::cat(category));
static cl::opt<std::string> keyPaddingFile("key-padding-mask", cl::init(""),
                                           cl::desc("boolean (B, N) .npy"),
                                           cl::cat(category));
static cl::opt<std::string>
    attnMaskFile("attn-mask", cl::init(""),
                 cl::desc("(N, N), (B, N, N) or (B, H, N, N) .npy, boolean or "
                          "float bias"),
                 cl::cat(category));
static cl::opt<std::string> outFile("out", cl::init(""),
                                    cl::desc("output .npy (<f4)"),
                                    cl::cat(category));
static cl::opt<bool> check("check",
                           cl::desc("compare with the float64 reference"),
                           cl::cat(category));
static cl::opt<bool>
    backward("backward",
             cl::desc("compute the gradients of sum(DO * out) with respect "
                      "to Q, K and V (target cpu)"),
             cl::cat(category));
static cl::opt<std::string>
    gradOutputFile("grad-output", cl::init(""),
                   cl::desc("--backward: DO .npy (<f4, the query's shape); "
                            "random from --seed when not given"),
                   cl::cat(category));
static cl::list<std::string>
    outGradFiles("out-grads", cl::CommaSeparated,
                 cl::desc("--backward: DQ.npy,DK.npy,DV.npy (<f4)"),
                 cl::cat(category));
static cl::opt<bool> profile(
    "profile", cl::init(false),
    cl::desc("module mode on target cuda, with --bench: also print each "
             "kernel launch's median time"),
    cl::cat(category));
static cl::opt<int> bench("bench", cl::init(0),
                          cl::desc("timed repetitions after warm-up"),
                          cl::cat(category));
static cl::opt<std::string> entry("entry", cl::init(""),
                                  cl::desc("module mode: function to run"),
                                  cl::cat(category));
static cl::list<std::string> inputs("inputs", cl::CommaSeparated,
                                    cl::desc("module mode: input .npy files"),
                                    cl::cat(category));
static cl::list<std::string> outputs("outputs", cl::CommaSeparated,
                                     cl::desc("module mode: output .npy files"),
                                     cl::cat(category));
static cl::opt<int>
    numThreads("num-threads", cl::init(0),
               cl::desc("worker threads (default: all cores, or "
                        "$DILATTN_NUM_THREADS)"),
               cl::cat(category));

// Code-generation tuning (defaults are the JIT's); for benchmarking.
static cl::opt<int64_t>
    tileQueries("tile-queries", cl::init(0),
                cl::desc("query rows per tile (0: best for the host, or for "
                         "the CUDA kernel the device gets)"),
                cl::cat(category));
static cl::opt<int64_t>
    tileKeys("tile-keys", cl::init(0),
             cl::desc("keys per block (0: best for the host, or for the CUDA "
                      "kernel the device gets)"),
             cl::cat(category));
static cl::opt<int64_t>
    vectorWidth("vector-width", cl::init(0),
                cl::desc("cpu: f32 lanes per vector (0: from the host CPU)"),
                cl::cat(category));
static cl::opt<int64_t>
    blockSize("block-size", cl::init(0),
              cl::desc("cpu: positions per work item (0: automatic)"),
              cl::cat(category));

static cl::opt<int> worldSize(
    "world-size", cl::init(0),
    cl::desc("cpu: split the sequence over this many in-process ranks "
             "(LongNet's sequence parallelism, docs/distributed.md)"),
    cl::cat(category));

static cl::opt<int64_t> stages("stages", cl::init(0),
                               cl::desc("cuda: key/value blocks in flight (0: "
                                        "the kernel's best)"),
                               cl::cat(category));

static cl::opt<CudaKernelChoice> cudaKernel(
    "cuda-kernel", cl::init(CudaKernelChoice::Auto),
    cl::desc("cuda: the f16/bf16 attention kernel"),
    cl::values(clEnumValN(CudaKernelChoice::Auto, "auto",
                          "wgmma on Hopper (sm_90a), mma-sync elsewhere"),
               clEnumValN(CudaKernelChoice::Wgmma, "wgmma",
                          "warpgroup MMAs (compute capability 9.0 only)"),
               clEnumValN(CudaKernelChoice::WgmmaTma, "wgmma-tma",
                          "warp-specialised wgmma fed by TMA "
                          "(sm_90a; r must divide N)"),
               clEnumValN(CudaKernelChoice::MmaSync, "mma-sync",
                          "ldmatrix + mma.sync (sm_80 and later)")),
    cl::cat(category));

jit::CpuTuning TuningOptions::cpu() const {
  jit::CpuTuning tuning;
  tuning.vectorWidth = vectorWidth;
  tuning.tileQueries = tileQueries;
  tuning.tileKeys = tileKeys;
  return tuning;
}

jit::CudaTuning TuningOptions::cuda() const {
  jit::CudaTuning tuning;
  tuning.tileQueries = tileQueries;
  tuning.tileKeys = tileKeys;
  tuning.stages = stages;
  tuning.kernel = kernel;
  return tuning;
}

namespace {
/// Catches what is written to stderr (file descriptor 2) while it lives.
/// llvm::cl reports a bad or missing flag value there itself, not to the
/// stream ParseCommandLineOptions takes, and the tool's refusal must be its
/// one "error:" line.
class StderrCapture {
public:
  StderrCapture() {
    llvm::errs().flush();
    file = std::tmpfile();
    if (!file)
      return;
    saved = dup(STDERR_FILENO);
    if (saved < 0 || dup2(fileno(file), STDERR_FILENO) < 0)
      restore();
  }
  ~StderrCapture() {
    restore();
    if (file)
      std::fclose(file);
  }

  /// Puts stderr back and returns what was caught.
  std::string release() {
    restore();
    std::string text;
    if (!file)
      return text;
    std::rewind(file);
    char buffer[4096];
    while (size_t read = std::fread(buffer, 1, sizeof(buffer), file))
      text.append(buffer, read);
    return text;
  }

private:
  void restore() {
    if (saved < 0)
      return;
    llvm::errs().flush();
    dup2(saved, STDERR_FILENO);
    close(saved);
    saved = -1;
  }

  std::FILE *file = nullptr;
  int saved = -1;
};
} // namespace

llvm::Expected<Options> dilattn::run::parseOptions(int argc, char **argv) {
  cl::HideUnrelatedOptions(category);
  // --version: what dilattn this is, not only the LLVM it was built with.
  cl::SetVersionPrinter(
      [](llvm::raw_ostream &os) { dilattn::printVersion(os); });
  std::string parseErrors;
  llvm::raw_string_ostream errors(parseErrors);
  StderrCapture capture;
  bool parsed = cl::ParseCommandLineOptions(
      argc, argv, "dilattn-run: run and check dilated attention\n", &errors);
  std::string written = capture.release();
  if (!parsed) {
    // The first complaint, wherever llvm::cl wrote it.
    llvm::StringRef message = llvm::StringRef(written).trim();
    if (message.empty())
      message = llvm::StringRef(parseErrors).trim();
    message = message.split('\n').first;
    message.consume_front((llvm::sys::path::filename(argv[0]) + ": ").str());
    return makeError(ErrorCode::InvalidArgument, message);
  }
  // Anything else llvm::cl wrote to stderr goes there after all.
  llvm::errs() << written;

  CommonOptions common;
  common.target = target;
  common.bench = bench;
  common.tuning.tileQueries = tileQueries;
  common.tuning.tileKeys = tileKeys;
  common.tuning.vectorWidth = vectorWidth;
  common.tuning.blockSize = blockSize;
  common.tuning.stages = stages;
  common.tuning.kernel = cudaKernel;

  Options options;
  CallOptions &call = options.call;
  call.common = common;
  call.segmentLengths.assign(segmentLengths.begin(), segmentLengths.end());
  call.dilationRates.assign(dilationRates.begin(), dilationRates.end());
  call.mode = mode;
  call.offsetRule = offsetRule;
  call.causal = causal;
  call.scale = scale;
  call.dtype = dtype;
  call.queryFile = queryFile;
  call.keyFile = keyFile;
  call.valueFile = valueFile;
  call.shape.assign(shape.begin(), shape.end());
  call.seed = seed;
  call.keyPaddingFile = keyPaddingFile;
  call.attnMaskFile = attnMaskFile;
  call.outFile = outFile;
  call.check = check;
  call.backward = backward;
  call.gradOutputFile = gradOutputFile;
  call.outGradFiles.assign(outGradFiles.begin(), outGradFiles.end());
  call.numThreads = numThreads;
  call.worldSize = worldSize;

  ModuleOptions &module = options.module;
  module.common = common;
  module.file = moduleFile;
  module.entry = entry;
  module.inputs.assign(inputs.begin(), inputs.end());
  module.outputs.assign(outputs.begin(), outputs.end());
  module.profile = profile;
  return options;
}
