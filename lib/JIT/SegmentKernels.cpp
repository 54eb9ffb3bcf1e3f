//===- SegmentKernels.cpp - online-softmax kernels for custom tilings -----===//
//
// The kernels are written as dialect text (the buffer form: one
// segment_attention or write_states per function) and go through
// dilattn-cpu-pipeline and the host engine, exactly as module mode does.
//
//===----------------------------------------------------------------------===//

#include "dilattn/JIT/SegmentKernels.h"
#include "dilattn/Support/Error.h"

#include "HostEngine.h"

#include "dilattn/InitAll.h"
#include "dilattn/Pipelines/Pipelines.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <limits>

using namespace dilattn;
using namespace dilattn::jit;

namespace {

using PackedFunction = void (*)(void **);

/// A strided memref descriptor: {allocated, aligned, offset, sizes, strides}
/// as 64-bit words, rows x width with strides (stride, 1) (or (stride) for
/// per-row states).
struct Descriptor {
  int64_t words[7];

  Descriptor(RowView view, int64_t width, bool matrix) {
    int64_t address = reinterpret_cast<int64_t>(view.data);
    words[0] = address;
    words[1] = address;
    words[2] = 0;
    if (matrix) {
      words[3] = view.rows;
      words[4] = width;
      words[5] = view.stride;
      words[6] = 1;
    } else {
      words[3] = view.rows;
      words[4] = view.stride;
    }
  }
};

std::string formatDouble(double value) {
  // %.17e round-trips a double and always reads as a float literal.
  return llvm::formatv("{0}", llvm::format("%.17e", value)).str();
}

std::string kernelSource(const SegmentKernelSpec &spec) {
  std::string rows = llvm::formatv(
      "memref<?x{0}xf32, strided<[?, 1], offset: ?>>", spec.headDim);
  std::string state = "memref<?xf32, strided<[?], offset: ?>>";
  std::string fold = "dilattn.segment_attention query(%q) key(%k) value(%v) "
                     "state(%max, %sum, %acc)";
  std::string foldTypes =
      llvm::formatv("scale = {0} : {1}, {1}, {1}, {2}, {2}, {1}",
                    formatDouble(spec.scale), rows, state);
  std::string foldArguments =
      llvm::formatv("%q: {0}, %k: {0}, %v: {0}, %max: {1}, %sum: {1}, "
                    "%acc: {0}",
                    rows, state);
  return llvm::formatv(
      "func.func @fold({0}) attributes {{llvm.emit_c_interface} {{\n"
      "  {1} {2}\n"
      "  return\n"
      "}\n"
      "func.func @fold_causal({0}, %start: index) attributes "
      "{{llvm.emit_c_interface} {{\n"
      "  {1} causal(%start) {2}\n"
      "  return\n"
      "}\n"
      "func.func @write(%max: {3}, %sum: {3}, %acc: {4}, %out: {4}) "
      "attributes {{llvm.emit_c_interface} {{\n"
      "  dilattn.write_states states(%max : {3}) sums(%sum : {3}) "
      "accs(%acc : {4}) outs(%out : {4}) output_scale = {5}\n"
      "  return\n"
      "}\n",
      foldArguments, fold, foldTypes, state, rows,
      formatDouble(spec.outputScale));
}

} // namespace

struct SegmentKernels::Impl {
  std::unique_ptr<mlir::ExecutionEngine> engine;
  PackedFunction fold = nullptr;
  PackedFunction foldCausal = nullptr;
  PackedFunction write = nullptr;
};

SegmentKernels::SegmentKernels() : impl(std::make_unique<Impl>()) {}
SegmentKernels::~SegmentKernels() = default;

llvm::Expected<std::unique_ptr<SegmentKernels>>
SegmentKernels::compile(const SegmentKernelSpec &spec) {
  if (spec.headDim <= 0 || spec.headDim > 4096)
    return makeError(
        ErrorCode::Unsupported,
        llvm::formatv("segment kernels take head dims 1 to 4096, got {0}",
                      spec.headDim));
  if (!std::isfinite(spec.scale) || !std::isfinite(spec.outputScale))
    return makeError(ErrorCode::InvalidArgument,
                     "segment kernels need a finite scale and output scale");

  initializeNativeTarget();
  mlir::DialectRegistry registry;
  dilattn::registerAllDialects(registry);
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
  mlir::MLIRContext context(registry, mlir::MLIRContext::Threading::DISABLED);
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    diagnostics += d.str() + "\n";
    return mlir::success();
  });
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(kernelSource(spec), &context);
  if (!module)
    return makeError(ErrorCode::Compile,
                     "segment kernels do not parse (a bug): " + diagnostics);

  CpuTuning tuning = spec.tuning.resolvedForHost();
  CpuPipelineOptions options;
  options.vectorWidth = tuning.vectorWidth;
  options.tileQueries = tuning.tileQueries;
  options.tileKeys = tuning.tileKeys;
  options.parallel = false;
  mlir::PassManager pm(&context);
  buildCpuPipeline(pm, options);
  if (mlir::failed(pm.run(*module)))
    return makeError(ErrorCode::Compile,
                     "compiling the segment kernels failed:\n" + diagnostics);
  auto engine = createHostEngine(*module);
  if (!engine)
    return engine.takeError();

  std::unique_ptr<SegmentKernels> kernels(new SegmentKernels());
  kernels->spec = spec;
  kernels->spec.tuning = tuning;
  for (auto [name, slot] :
       {std::pair{"_mlir_ciface_fold", &kernels->impl->fold},
        std::pair{"_mlir_ciface_fold_causal", &kernels->impl->foldCausal},
        std::pair{"_mlir_ciface_write", &kernels->impl->write}}) {
    auto function = (*engine)->lookupPacked(name);
    if (!function)
      return withCode(ErrorCode::Compile, function.takeError());
    *slot = *function;
  }
  kernels->impl->engine = std::move(*engine);
  return kernels;
}

void SegmentKernels::resetStates(RowView max, RowView sum, RowView acc,
                                 int64_t headDim) {
  for (int64_t row = 0; row < max.rows; ++row) {
    max.data[row * max.stride] = -std::numeric_limits<float>::infinity();
    sum.data[row * sum.stride] = 0.0f;
    std::fill_n(acc.data + row * acc.stride, headDim, 0.0f);
  }
}

void SegmentKernels::fold(RowView query, RowView key, RowView value,
                          RowView max, RowView sum, RowView acc,
                          std::optional<int64_t> queryStart) const {
  if (query.rows == 0 || key.rows == 0)
    return;
  int64_t headDim = spec.headDim;
  Descriptor descriptors[] = {
      Descriptor(query, headDim, true), Descriptor(key, headDim, true),
      Descriptor(value, headDim, true), Descriptor(max, 1, false),
      Descriptor(sum, 1, false),        Descriptor(acc, headDim, true)};
  // The C interface takes each descriptor by pointer; the packed wrapper
  // takes a pointer to each argument.
  void *pointers[6];
  void *arguments[7];
  for (int i = 0; i < 6; ++i) {
    pointers[i] = descriptors[i].words;
    arguments[i] = &pointers[i];
  }
  int64_t start = queryStart.value_or(0);
  arguments[6] = &start;
  (queryStart ? impl->foldCausal : impl->fold)(arguments);
}

void SegmentKernels::write(RowView max, RowView sum, RowView acc,
                           RowView output) const {
  if (output.rows == 0)
    return;
  int64_t headDim = spec.headDim;
  Descriptor descriptors[] = {
      Descriptor(max, 1, false), Descriptor(sum, 1, false),
      Descriptor(acc, headDim, true), Descriptor(output, headDim, true)};
  void *pointers[4];
  void *arguments[4];
  for (int i = 0; i < 4; ++i) {
    pointers[i] = descriptors[i].words;
    arguments[i] = &pointers[i];
  }
  impl->write(arguments);
}
