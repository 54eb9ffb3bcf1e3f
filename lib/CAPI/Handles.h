//===- Handles.h - the objects behind the C API's handles -------*- C++ -*-===//
//
// The structs behind the opaque handles of include/dilattn-c/dilattn.h (the
// context is in Status.h), the context each one reports its errors to, and
// the C argument checks several entry points share. Rule checks are not here:
// the C API leaves them to the C++ API.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_CAPI_HANDLES_H
#define DILATTN_CAPI_HANDLES_H

#include "Status.h"

#include "dilattn/API/Graph.h"
#include "dilattn/Distributed/Communicator.h"
#include "dilattn/JIT/Jit.h"
#include "dilattn/Support/Problem.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"

#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace dilattn::capi {
/// A kernel dilattn_compile brought into the caches for a call.
struct CompiledVariant {
  bool cuda;
  ElementKind element;
  int64_t headDim;
  bool keyPadding;
  bool attn;
};
} // namespace dilattn::capi

struct dilattn_call {
  dilattn_context *context = nullptr;
  dilattn::DilatedAttentionConfig config;
  /// What dilattn_compile compiled for `config` (every setter clears it).
  /// Runs that would need a kernel of other mask kinds for the same target,
  /// element type and head dim are served by a compiled one or refused, so
  /// that a precompile is never wasted without a word (docs/api.md).
  std::mutex compiledMutex;
  llvm::SmallVector<dilattn::capi::CompiledVariant, 2> compiled;

  /// Forgets the compiled variants: the configuration changed.
  void forgetCompiled() {
    std::lock_guard<std::mutex> lock(compiledMutex);
    compiled.clear();
  }
};

struct dilattn_group {
  dilattn_context *context = nullptr;
  std::vector<std::unique_ptr<dilattn::distributed::Communicator>> ranks;
};

struct dilattn_graph {
  dilattn_context *context = nullptr;
  dilattn::Graph graph;
  /// The GraphValue of each dilattn_value handed out.
  std::vector<dilattn::GraphValue> values;
};

struct dilattn_program {
  dilattn_context *context = nullptr;
  std::unique_ptr<dilattn::CompiledGraph> compiled;
};

namespace dilattn::capi {

/// The context a handle reports its errors to; null for a null handle.
template <typename Handle> dilattn_context *contextOf(const Handle *handle) {
  return handle ? handle->context : nullptr;
}

/// The JIT of `context`: its own, or the process-wide one.
std::shared_ptr<jit::Jit> jitOf(dilattn_context *context);

/// The element kind of a C dtype; nullopt for a value outside the enum.
std::optional<ElementKind> elementOf(dilattn_dtype dtype);

/// Fails unless `dtype` is a dilattn_dtype; sets `element`.
dilattn_status checkDtype(std::optional<Failure> &failure, dilattn_dtype dtype,
                          ElementKind &element);

/// Fails unless `target` is a dilattn_target; sets `cuda`.
dilattn_status checkTarget(std::optional<Failure> &failure,
                           dilattn_target target, bool &cuda);

/// The compile options of a program for `target`; fails unless `target` is a
/// dilattn_target.
dilattn_status graphOptions(std::optional<Failure> &failure,
                            dilattn_target target,
                            GraphCompileOptions &options);

/// Checks a shape given as `rank` sizes: non-null, sizes >= 0, product
/// within int64. `name` names the argument in messages.
dilattn_status checkShape(std::optional<Failure> &failure, const char *name,
                          const int64_t *shape, size_t rank,
                          llvm::SmallVectorImpl<int64_t> &result);

/// The element count of a shape checked by checkShape.
int64_t product(llvm::ArrayRef<int64_t> shape);

/// Checks the optional attention bias arguments: either all absent, or a
/// rank of 2..4 with a valid shape.
dilattn_status checkAttnArguments(std::optional<Failure> &failure, bool hasBias,
                                  const int64_t *attnShape, size_t attnRank,
                                  llvm::SmallVectorImpl<int64_t> &result);

} // namespace dilattn::capi

#endif // DILATTN_CAPI_HANDLES_H
