//===- Program.cpp - C API programs ---------------------------------------===//
//
// dilattn_program over dilattn::CompiledGraph: programs compiled from MLIR,
// their signatures, and their runs on host and device buffers.
//
//===----------------------------------------------------------------------===//

#include "Handles.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

using namespace dilattn;
using namespace dilattn::capi;

extern "C" dilattn_status
dilattn_program_create_from_mlir(dilattn_context *ctx, const char *source,
                                 size_t source_size, const char *entry,
                                 dilattn_target target, dilattn_program **out) {
  return guarded(ctx, [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(ctx, "ctx");
    DILATTN_REQUIRE(source, "source");
    DILATTN_REQUIRE(entry, "entry");
    DILATTN_REQUIRE(out, "out");
    *out = nullptr;
    GraphCompileOptions options;
    if (dilattn_status status = graphOptions(failure, target, options))
      return status;
    auto compiled = CompiledGraph::compileMLIR(
        llvm::StringRef(source, source_size), "<source>", entry, options);
    if (!compiled)
      return setFailure(failure, compiled.takeError());
    *out = new dilattn_program{ctx, std::move(*compiled)};
    return DILATTN_SUCCESS;
  });
}

extern "C" void dilattn_program_destroy(dilattn_program *program) {
  delete program;
}

namespace {
/// The number of inputs or outputs of a program.
dilattn_status countOf(const dilattn_program *program, size_t *count,
                       bool outputs) {
  return guarded(contextOf(program), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(program, "program");
    DILATTN_REQUIRE(count, "count");
    const CompiledGraph &compiled = *program->compiled;
    *count =
        outputs ? compiled.getOutputs().size() : compiled.getInputs().size();
    return DILATTN_SUCCESS;
  });
}
} // namespace

extern "C" dilattn_status
dilattn_program_num_inputs(const dilattn_program *program, size_t *count) {
  return countOf(program, count, /*outputs=*/false);
}

extern "C" dilattn_status
dilattn_program_num_outputs(const dilattn_program *program, size_t *count) {
  return countOf(program, count, /*outputs=*/true);
}

namespace {
dilattn_status copySignature(std::optional<Failure> &failure,
                             llvm::ArrayRef<TensorSignature> signatures,
                             const char *what, size_t index, int64_t *shape,
                             size_t capacity, size_t *rank,
                             dilattn_element *element) {
  DILATTN_REQUIRE(rank, "rank");
  if (capacity > 0)
    DILATTN_REQUIRE(shape, "shape");
  if (index >= signatures.size())
    return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                      llvm::formatv("{0} index {1} is out of range (the "
                                    "program has {2})",
                                    what, index, signatures.size()));
  const TensorSignature &signature = signatures[index];
  *rank = signature.shape.size();
  if (element)
    *element = signature.element == ElementKind::I1 ? DILATTN_ELEMENT_BOOL
                                                    : DILATTN_ELEMENT_F32;
  if (capacity < signature.shape.size())
    return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                      llvm::formatv("shape capacity {0} is below the rank {1}",
                                    capacity, signature.shape.size()));
  std::copy(signature.shape.begin(), signature.shape.end(), shape);
  return DILATTN_SUCCESS;
}
} // namespace

extern "C" dilattn_status
dilattn_program_input_shape(const dilattn_program *program, size_t index,
                            int64_t *shape, size_t capacity, size_t *rank,
                            dilattn_element *element) {
  return guarded(contextOf(program), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(program, "program");
    return copySignature(failure, program->compiled->getInputs(), "input",
                         index, shape, capacity, rank, element);
  });
}

extern "C" dilattn_status
dilattn_program_output_shape(const dilattn_program *program, size_t index,
                             int64_t *shape, size_t capacity, size_t *rank) {
  return guarded(contextOf(program), [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(program, "program");
    return copySignature(failure, program->compiled->getOutputs(), "output",
                         index, shape, capacity, rank, nullptr);
  });
}

namespace {
/// The pointers of a run: the program, and the input and output arrays
/// unless they are empty.
dilattn_status checkRunBuffers(std::optional<Failure> &failure,
                               const dilattn_program *program, bool hasInputs,
                               size_t numInputs, bool hasOutputs,
                               size_t numOutputs) {
  DILATTN_REQUIRE(program, "program");
  if (numInputs > 0)
    DILATTN_REQUIRE(hasInputs, "inputs");
  if (numOutputs > 0)
    DILATTN_REQUIRE(hasOutputs, "outputs");
  return DILATTN_SUCCESS;
}

/// The counts of a run's buffers against the program's.
dilattn_status checkProgramArity(std::optional<Failure> &failure,
                                 const CompiledGraph &compiled,
                                 size_t numInputs, size_t numOutputs) {
  if (numInputs != compiled.getInputs().size())
    return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                      llvm::formatv("the program takes {0} inputs, got {1}",
                                    compiled.getInputs().size(), numInputs));
  if (numOutputs != compiled.getOutputs().size())
    return setFailure(failure, DILATTN_ERROR_INVALID_ARGUMENT,
                      llvm::formatv("the program has {0} outputs, got {1}",
                                    compiled.getOutputs().size(), numOutputs));
  return DILATTN_SUCCESS;
}
} // namespace

extern "C" dilattn_status dilattn_program_run_host(dilattn_program *program,
                                                   const void *const *inputs,
                                                   size_t num_inputs,
                                                   float *const *outputs,
                                                   size_t num_outputs) {
  return guarded(contextOf(program), [&](std::optional<Failure> &failure) {
    if (dilattn_status status =
            checkRunBuffers(failure, program, inputs != nullptr, num_inputs,
                            outputs != nullptr, num_outputs))
      return status;
    const CompiledGraph &compiled = *program->compiled;
    if (dilattn_status status =
            checkProgramArity(failure, compiled, num_inputs, num_outputs))
      return status;
    if (llvm::Error error =
            compiled.run(llvm::ArrayRef<const void *>(inputs, num_inputs),
                         llvm::ArrayRef<float *>(outputs, num_outputs)))
      return setFailure(failure, std::move(error));
    return DILATTN_SUCCESS;
  });
}

extern "C" dilattn_status
dilattn_program_run_cuda(dilattn_program *program, const uint64_t *inputs,
                         size_t num_inputs, const uint64_t *outputs,
                         size_t num_outputs, void *stream) {
  return guarded(contextOf(program), [&](std::optional<Failure> &failure) {
    if (dilattn_status status =
            checkRunBuffers(failure, program, inputs != nullptr, num_inputs,
                            outputs != nullptr, num_outputs))
      return status;
    const CompiledGraph &compiled = *program->compiled;
    if (compiled.getTarget() != GraphTarget::Cuda)
      return setFailure(failure, DILATTN_ERROR_INVALID_CALL,
                        "dilattn_program_run_cuda needs a program compiled "
                        "for DILATTN_TARGET_CUDA (use dilattn_program_run_host "
                        "for target cpu)");
    if (dilattn_status status =
            checkProgramArity(failure, compiled, num_inputs, num_outputs))
      return status;
    if (llvm::Error error = compiled.runOnDevice(
            llvm::ArrayRef<uint64_t>(inputs, num_inputs),
            llvm::ArrayRef<uint64_t>(outputs, num_outputs), stream))
      return setFailure(failure, std::move(error));
    return DILATTN_SUCCESS;
  });
}
