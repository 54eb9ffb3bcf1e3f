//===- CudaCodegen.cpp - a kernel spec to a CUDA kernel image -------------===//
//
// Builds the kernel function in the buffer form of the dialect, runs
// dilattn-cuda-pipeline (the very pipeline dilattn-opt registers) to PTX,
// reads the launches off the host code it leaves, and assembles the PTX to a
// cubin with the toolkit's ptxas.
//
//===----------------------------------------------------------------------===//

#include "dilattn/JIT/Jit.h"
#include "dilattn/Support/Error.h"

#include "DiagnosticCollector.h"

#include "dilattn/Conversion/DilAttnToGPU/DilAttnToGPU.h"
#include "dilattn/Dialect/DilAttn/IR/DilAttn.h"
#include "dilattn/InitAll.h"
#include "dilattn/Pipelines/Pipelines.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"

#include <cstdlib>
#include <mutex>

using namespace dilattn;
using namespace dilattn::jit;

llvm::ArrayRef<int64_t> dilattn::jit::cudaSupportedHeadDims() {
  return mlir::dilattn::cuda::supportedHeadDims();
}

static std::optional<std::string> findPtxas() {
  if (const char *path = std::getenv("DILATTN_PTXAS"))
    return std::string(path);
  if (auto found = llvm::sys::findProgramByName("ptxas"))
    return *found;
  for (const char *root : {static_cast<const char *>(std::getenv("CUDA_HOME")),
                           static_cast<const char *>(std::getenv("CUDA_PATH")),
                           "/usr/local/cuda"}) {
    if (!root)
      continue;
    llvm::SmallString<128> path(root);
    llvm::sys::path::append(path, "bin", "ptxas");
    if (llvm::sys::fs::can_execute(path))
      return std::string(path);
  }
  return std::nullopt;
}

/// Runs `program args...`, returning its combined output.
static llvm::Expected<std::string>
runProgram(llvm::StringRef program, llvm::ArrayRef<llvm::StringRef> args) {
  llvm::SmallString<128> log;
  int fd;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("dilattn-ptxas", "log", fd, log))
    return makeError(ErrorCode::Compile,
                     "cannot create a temporary file: " + ec.message());
  llvm::sys::fs::closeFile(fd);
  llvm::SmallVector<llvm::StringRef> argv = {program};
  argv.append(args.begin(), args.end());
  std::optional<llvm::StringRef> redirects[] = {std::nullopt, log.str(),
                                                log.str()};
  std::string message;
  int status = llvm::sys::ExecuteAndWait(program, argv, std::nullopt, redirects,
                                         /*SecondsToWait=*/120, 0, &message);
  std::string output;
  if (auto buffer = llvm::MemoryBuffer::getFile(log))
    output = (*buffer)->getBuffer().str();
  llvm::sys::fs::remove(log);
  if (status != 0)
    return makeError(ErrorCode::Compile,
                     llvm::formatv("{0} failed ({1}): {2}", program,
                                   message.empty()
                                       ? "exit " + std::to_string(status)
                                       : message,
                                   llvm::StringRef(output).trim()));
  return output;
}

void dilattn::jit::initializeNvptxTarget() {
  static std::once_flag nvptxOnce;
  std::call_once(nvptxOnce, [] {
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
  });
}

std::string dilattn::jit::ptxasVersion() {
  static const std::string version = [] {
    std::optional<std::string> ptxas = findPtxas();
    if (!ptxas)
      return std::string("none");
    auto output = runProgram(*ptxas, {"--version"});
    if (!output) {
      llvm::consumeError(output.takeError());
      return std::string("none");
    }
    // "Cuda compilation tools, release 13.0, V13.0.88": the last token.
    llvm::StringRef text = llvm::StringRef(*output).trim();
    return "ptxas " + text.rsplit(' ').second.str();
  }();
  return version;
}

std::vector<uint8_t> CudaKernelImage::serialize() const {
  std::string header;
  llvm::raw_string_ostream os(header);
  os << "dilattn-cuda-image 1\n"
     << (isPtx ? "ptx" : "cubin") << "\n"
     << launches.size() << "\n";
  for (const CudaLaunch &launch : launches)
    os << launch.kernelName << " " << launch.blockThreads << " "
       << launch.dynamicSharedBytes << "\n";
  os << image.size() << "\n";
  std::vector<uint8_t> bytes(header.begin(), header.end());
  bytes.insert(bytes.end(), image.begin(), image.end());
  return bytes;
}

std::optional<CudaKernelImage>
CudaKernelImage::deserialize(llvm::ArrayRef<uint8_t> bytes) {
  llvm::StringRef text(reinterpret_cast<const char *>(bytes.data()),
                       bytes.size());
  auto line = [&]() -> std::optional<llvm::StringRef> {
    auto [head, tail] = text.split('\n');
    if (head.size() == text.size())
      return std::nullopt;
    text = tail;
    return head;
  };
  CudaKernelImage result;
  auto magic = line();
  auto format = line();
  auto count = line();
  size_t numLaunches;
  if (!magic || *magic != "dilattn-cuda-image 1" || !format ||
      (*format != "ptx" && *format != "cubin") || !count ||
      count->getAsInteger(10, numLaunches) || numLaunches == 0 ||
      numLaunches > 64)
    return std::nullopt;
  result.isPtx = *format == "ptx";
  for (size_t i = 0; i < numLaunches; ++i) {
    auto entry = line();
    if (!entry)
      return std::nullopt;
    llvm::SmallVector<llvm::StringRef, 3> fields;
    entry->split(fields, ' ');
    CudaLaunch launch;
    if (fields.size() != 3 || fields[0].empty() ||
        fields[1].getAsInteger(10, launch.blockThreads) ||
        fields[2].getAsInteger(10, launch.dynamicSharedBytes) ||
        launch.blockThreads <= 0 || launch.blockThreads > 1024 ||
        launch.dynamicSharedBytes < 0)
      return std::nullopt;
    launch.kernelName = fields[0].str();
    result.launches.push_back(launch);
  }
  auto size = line();
  size_t imageSize;
  if (!size || size->getAsInteger(10, imageSize) || imageSize != text.size() ||
      imageSize == 0)
    return std::nullopt;
  result.image.assign(text.bytes_begin(), text.bytes_end());
  return result;
}

/// Builds `func @symbol(q, k, v, out [, key_bias] [, attn_bias])` whose body
/// is one write_dilated_attention.
static mlir::OwningOpRef<mlir::ModuleOp>
buildCudaKernelModule(mlir::MLIRContext &context, const KernelSpec &spec,
                      llvm::StringRef symbol) {
  using namespace mlir;
  OpBuilder b(&context);
  Location loc = UnknownLoc::get(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());

  Type element = spec.element == ElementKind::BF16  ? b.getBF16Type()
                 : spec.element == ElementKind::F16 ? b.getF16Type()
                                                    : b.getF32Type();
  int64_t dyn = ShapedType::kDynamic;
  auto rows = MemRefType::get(
      {dyn, dyn, dyn, spec.headDim}, element,
      StridedLayoutAttr::get(&context, dyn, {dyn, dyn, dyn, 1}));
  auto keyBias =
      MemRefType::get({dyn, dyn}, b.getF32Type(),
                      StridedLayoutAttr::get(&context, dyn, {dyn, dyn}));
  auto attnBias = MemRefType::get(
      {dyn, dyn, dyn, dyn}, b.getF32Type(),
      StridedLayoutAttr::get(&context, dyn, {dyn, dyn, dyn, dyn}));
  SmallVector<Type> inputs = {rows, rows, rows, rows};
  if (spec.hasKeyPaddingMask)
    inputs.push_back(keyBias);
  if (spec.hasAttnMask)
    inputs.push_back(attnBias);
  auto func =
      func::FuncOp::create(b, loc, symbol, b.getFunctionType(inputs, {}));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  unsigned next = 4;
  Value keyBiasArg =
      spec.hasKeyPaddingMask ? entry->getArgument(next++) : Value();
  Value attnBiasArg = spec.hasAttnMask ? entry->getArgument(next++) : Value();
  const DilatedAttentionConfig &config = spec.config;
  mlir::dilattn::WriteDilatedAttentionOp::create(
      b, loc, entry->getArgument(0), entry->getArgument(1),
      entry->getArgument(2), keyBiasArg, attnBiasArg, entry->getArgument(3),
      /*lse=*/Value(), Value(), Value(),
      b.getDenseI64ArrayAttr(config.segmentLengths),
      b.getDenseI64ArrayAttr(config.dilationRates),
      mlir::dilattn::AttentionModeAttr::get(&context,
                                            mlir::dilattn::toIR(config.mode)),
      mlir::dilattn::OffsetRuleAttr::get(
          &context, mlir::dilattn::toIR(config.offsetRule)),
      config.causal ? b.getUnitAttr() : nullptr,
      config.scale ? b.getF64FloatAttr(*config.scale) : nullptr,
      // Block size is a CPU notion; the GPU conversion tiles itself.
      b.getI64IntegerAttr(1));
  func::ReturnOp::create(b, loc);
  return module;
}

llvm::Expected<CudaKernelImage>
dilattn::jit::compileCudaKernelImage(const KernelSpec &spec,
                                     llvm::StringRef symbol) {
  if (spec.kind != KernelKind::Forward)
    return makeError(ErrorCode::Unsupported,
                     "target cuda computes the forward pass only; the "
                     "backward pass (and its statistics) runs on target cpu "
                     "(issue 18)");
  if (spec.element != ElementKind::F16 && spec.element != ElementKind::BF16 &&
      spec.element != ElementKind::F32)
    return makeError(ErrorCode::Unsupported,
                     "target cuda computes in f16, bf16 or f32, got " +
                         stringifyElementKind(spec.element));
  if (!llvm::is_contained(cudaSupportedHeadDims(), spec.headDim))
    return makeError(
        ErrorCode::Unsupported,
        llvm::formatv("head dim {0} is not supported by target cuda "
                      "(supported: {1})",
                      spec.headDim,
                      llvm::join(llvm::map_range(cudaSupportedHeadDims(),
                                                 [](int64_t d) {
                                                   return std::to_string(d);
                                                 }),
                                 ", ")));
  if (spec.cudaChip.empty())
    return makeError(ErrorCode::InvalidArgument,
                     "no CUDA chip given for the kernel (e.g. sm_90)");
  initializeNvptxTarget();

  mlir::DialectRegistry registry;
  dilattn::registerAllDialects(registry);
  mlir::MLIRContext context(registry, mlir::MLIRContext::Threading::DISABLED);
  context.loadAllAvailableDialects();
  DiagnosticCollector diagnostics(context);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      buildCudaKernelModule(context, spec, symbol);
  if (mlir::failed(mlir::verify(*module)))
    return makeError(ErrorCode::Compile,
                     "kernel IR does not verify: " + diagnostics.messages);

  CudaPipelineOptions options;
  options.chip = spec.cudaChip;
  options.features = "+ptx80";
  options.tileQueries = spec.cudaTuning.tileQueries;
  options.tileKeys = spec.cudaTuning.tileKeys;
  options.stages = spec.cudaTuning.stages;
  options.kernel = spec.cudaTuning.kernel;
  options.format = "isa";
  mlir::PassManager pm(&context);
  buildCudaPipeline(pm, options);
  if (mlir::failed(pm.run(*module)))
    return makeError(ErrorCode::Compile,
                     "dilattn-cuda-pipeline failed: " + diagnostics.messages);

  CudaKernelImage result;
  module->walk([&](mlir::gpu::LaunchFuncOp launch) {
    CudaLaunch info;
    info.kernelName = launch.getKernelName().str();
    if (auto threads = mlir::getConstantIntValue(launch.getBlockSizeX()))
      info.blockThreads = *threads;
    if (mlir::Value shared = launch.getDynamicSharedMemorySize())
      if (auto bytes = mlir::getConstantIntValue(shared))
        info.dynamicSharedBytes = *bytes;
    result.launches.push_back(info);
  });
  std::string ptx;
  module->walk([&](mlir::gpu::BinaryOp binary) {
    for (mlir::Attribute object : binary.getObjects())
      if (auto gpuObject = llvm::dyn_cast<mlir::gpu::ObjectAttr>(object))
        ptx = gpuObject.getObject().getValue().str();
  });
  if (result.launches.empty() || ptx.empty())
    return makeError(ErrorCode::Compile,
                     "dilattn-cuda-pipeline produced no kernel");
  for (const CudaLaunch &launch : result.launches)
    if (launch.blockThreads <= 0)
      return makeError(ErrorCode::Compile, "kernel " + launch.kernelName +
                                               " has no static block size");

  auto assembled = assemblePtx(ptx, spec.cudaChip);
  if (!assembled)
    return assembled.takeError();
  result.image = std::move(assembled->first);
  result.isPtx = assembled->second;
  return result;
}

llvm::Expected<std::pair<std::vector<uint8_t>, bool>>
dilattn::jit::assemblePtx(llvm::StringRef ptx, llvm::StringRef chip) {
  std::pair<std::vector<uint8_t>, bool> result;
  std::optional<std::string> ptxas = findPtxas();
  if (!ptxas) {
    // The driver compiles PTX at load time: slower first run, same code.
    result.second = true;
    result.first.assign(ptx.begin(), ptx.end());
    result.first.push_back(0);
    return result;
  }
  llvm::SmallString<128> ptxPath, cubinPath;
  int fd;
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
          "dilattn-kernel", "ptx", fd, ptxPath))
    return makeError(ErrorCode::Compile,
                     "cannot create a temporary file: " + ec.message());
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << ptx;
  }
  if (std::error_code ec = llvm::sys::fs::createTemporaryFile(
          "dilattn-kernel", "cubin", fd, cubinPath)) {
    llvm::sys::fs::remove(ptxPath);
    return makeError(ErrorCode::Compile,
                     "cannot create a temporary file: " + ec.message());
  }
  llvm::sys::fs::closeFile(fd);
  std::string arch = "-arch=" + chip.str();
  auto assembled = runProgram(
      *ptxas, {arch, "-O3", "--output-file", cubinPath.str(), ptxPath.str()});
  llvm::sys::fs::remove(ptxPath);
  if (!assembled) {
    llvm::sys::fs::remove(cubinPath);
    return assembled.takeError();
  }
  auto cubin = llvm::MemoryBuffer::getFile(cubinPath);
  llvm::sys::fs::remove(cubinPath);
  if (!cubin)
    return makeError(ErrorCode::Compile, "cannot read the cubin ptxas wrote: " +
                                             cubin.getError().message());
  result.first.assign((*cubin)->getBufferStart(), (*cubin)->getBufferEnd());
  return result;
}
