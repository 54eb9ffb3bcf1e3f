//===- Graph.h - build, compile and run dataflow graphs ---------*- C++ -*-===//
//
// The graph-building C++ API: a program adds inputs and operations (dilated
// attention, multi-head dilated attention, masks, linear layers, layer norm,
// adds, activations) one at a time, each checked as it is added with the
// messages of docs/Contract.md section 4, then compiles the graph once and runs
// it on host buffers as often as it likes.
//
// A graph is an MLIR function on tensors made of dilattn ops and upstream
// linalg/arith/tensor ops (the same IR a user would write by hand, see
// getMLIR), compiled by dilattn-cpu-pipeline (target cpu) or
// dilattn-cuda-pipeline (target cuda) exactly as `dilattn-run FILE.mlir`
// compiles it. Errors are values; nothing aborts.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_API_GRAPH_H
#define DILATTN_API_GRAPH_H

#include "dilattn/JIT/Jit.h"
#include "dilattn/Support/Problem.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dilattn {

namespace jit {
class CompiledModule;
} // namespace jit

namespace runtime::cuda {
class CudaProgramRunner;
} // namespace runtime::cuda

class Graph;

/// A tensor of a graph: one of its inputs, or the result of one of its
/// operations. A plain handle, cheap to copy, meaningful only to the graph
/// that made it (passing it to another graph is refused).
class GraphValue {
public:
  GraphValue() = default;
  bool isValid() const { return owner != nullptr; }

private:
  friend class Graph;
  GraphValue(const void *owner, unsigned index) : owner(owner), index(index) {}
  /// The graph's state (stable when the Graph object is moved).
  const void *owner = nullptr;
  unsigned index = 0;
};

/// The optional masks of an attention operation (docs/Contract.md section 3):
/// a boolean (B, N) key padding mask and a boolean or f32 attention mask of
/// shape (N, N), (B, N, N) or (B, H, N, N).
struct GraphMasks {
  std::optional<GraphValue> keyPaddingMask;
  std::optional<GraphValue> attnMask;
};

/// The parameters of a multi-head block (docs/Contract.md section 2): (E, E)
/// weights, optional (E) biases, and the optional sub-layer norm (both or
/// neither).
struct MultiheadParams {
  GraphValue queryWeight, keyWeight, valueWeight, outWeight;
  std::optional<GraphValue> queryBias, keyBias, valueBias, outBias;
  std::optional<GraphValue> layerNormWeight, layerNormBias;
  double layerNormEps = 1e-5;
};

enum class GraphTarget { Cpu, Cuda };

struct GraphCompileOptions {
  GraphTarget target = GraphTarget::Cpu;
  jit::CpuTuning tuning;
  /// Target cuda: the kernel tiles of the attention.
  jit::CudaTuning cudaTuning;
  /// Target cuda: the device ordinal the graph runs on.
  int device = 0;
  /// Target cuda: the chip to compile for (e.g. "sm_90"); empty asks the
  /// device, which then must be available. With a chip the graph compiles
  /// on machines without a GPU (runs are refused there).
  std::string cudaChip;
};

/// A compiled graph. Runs may be made by many threads at once.
class CompiledGraph {
public:
  ~CompiledGraph();

  /// Compiles function @entry of an MLIR module written by hand or by another
  /// tool (functions on ranked f32/i1 tensors of static shapes made of dilattn
  /// ops and upstream tensor, linalg and arith ops), through the same cache
  /// as Graph::compile. `sourceName` names the text in messages.
  static llvm::Expected<std::unique_ptr<CompiledGraph>>
  compileMLIR(llvm::StringRef source, llvm::StringRef sourceName,
              llvm::StringRef entry, const GraphCompileOptions &options = {});

  /// Runs the graph: one contiguous row-major host buffer per input in the
  /// order the inputs were added (f32 data, or one byte per element for
  /// boolean inputs, non-zero = true) and one caller-allocated f32 buffer
  /// per output in the order they were marked.
  /// On target cuda the buffers are copied to and from the device.
  llvm::Error run(llvm::ArrayRef<const void *> inputs,
                  llvm::ArrayRef<float *> outputs) const;

  /// Target cuda only: runs on caller-owned contiguous device buffers
  /// (CUdeviceptr values, same layout as for run) on `stream` (a CUstream;
  /// null is the legacy default stream), and returns when the work is done.
  llvm::Error runOnDevice(llvm::ArrayRef<uint64_t> inputs,
                          llvm::ArrayRef<uint64_t> outputs,
                          void *stream = nullptr) const;

  /// The time of one launch of a profiled run.
  struct LaunchTime {
    std::string kernel;
    double ms = 0;
  };
  /// Target cuda only: runOnDevice with every launch timed by CUDA events
  /// (the events serialise nothing, but cost a little: for finding slow
  /// kernels, not for timing the whole graph).
  llvm::Expected<std::vector<LaunchTime>>
  profileOnDevice(llvm::ArrayRef<uint64_t> inputs,
                  llvm::ArrayRef<uint64_t> outputs,
                  void *stream = nullptr) const;

  GraphTarget getTarget() const {
    return cudaProgram ? GraphTarget::Cuda : GraphTarget::Cpu;
  }
  /// Target cuda: the kernels one run launches.
  size_t getNumKernelLaunches() const;

  llvm::ArrayRef<TensorSignature> getInputs() const;
  llvm::ArrayRef<TensorSignature> getOutputs() const;
  /// The time the compile took (0 when the graph came from the cache).
  double getCompileMs() const { return compileMs; }
  /// Effective FLOPs (docs/Contract.md section 5) of the attention operations.
  double getEffectiveFlops() const;

private:
  CompiledGraph() = default;
  std::shared_ptr<jit::CompiledModule> module;
  /// Target cuda: the compiled program and its runner.
  std::shared_ptr<runtime::cuda::CudaProgramRunner> cudaProgram;
  /// Target cuda: the device this graph runs on (programs are shared
  /// between devices of one chip).
  int cudaDevice = 0;
  double compileMs = 0;
};

/// A dataflow graph under construction. Every `add...` checks its operands
/// (shapes, element types, the rules of docs/Contract.md section 4) and returns
/// the new value or an error naming the operation, the rule and the values; a
/// refused operation leaves the graph as it was. Not thread-safe while being
/// built; compiled graphs are.
class Graph {
public:
  /// `name` is the function's name in the MLIR (@name).
  explicit Graph(llvm::StringRef name = "graph");
  ~Graph();
  Graph(Graph &&) noexcept;
  Graph &operator=(Graph &&) noexcept;

  /// A new input of static shape: element F32, or I1 for boolean masks.
  /// `name` (unique, [A-Za-z_][A-Za-z0-9_]*) names it in messages and in the
  /// MLIR.
  llvm::Expected<GraphValue> addInput(llvm::StringRef name,
                                      llvm::ArrayRef<int64_t> shape,
                                      ElementKind element = ElementKind::F32);

  /// Dilated attention (docs/Contract.md section 1) of (B, N, H, D) f32 values.
  llvm::Expected<GraphValue>
  addDilatedAttention(const DilatedAttentionConfig &config, GraphValue query,
                      GraphValue key, GraphValue value,
                      const GraphMasks &masks = {});

  /// Multi-head dilated attention (docs/Contract.md section 2) of (B, N, E)
  /// values.
  llvm::Expected<GraphValue> addMultiheadDilatedAttention(
      const DilatedAttentionConfig &config, int64_t numHeads, GraphValue query,
      GraphValue key, GraphValue value, const MultiheadParams &params,
      const GraphMasks &masks = {});

  /// `y = x W^T + b` over the last dimension: x (B, N, E), weight (O, E),
  /// bias (O); returns (B, N, O).
  llvm::Expected<GraphValue> addLinear(GraphValue input, GraphValue weight,
                                       std::optional<GraphValue> bias = {});

  /// Layer norm over the last dimension of x (B, N, E) with weight and bias
  /// (E) and a positive epsilon (biased variance, as PyTorch).
  llvm::Expected<GraphValue> addLayerNorm(GraphValue input, GraphValue weight,
                                          GraphValue bias, double eps = 1e-5);

  /// Elementwise sum of two f32 values of the same shape (e.g. a residual).
  llvm::Expected<GraphValue> addAdd(GraphValue lhs, GraphValue rhs);

  /// max(x, 0), elementwise.
  llvm::Expected<GraphValue> addRelu(GraphValue input);

  /// GELU with the tanh approximation (PyTorch's approximate="tanh"):
  /// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), elementwise.
  llvm::Expected<GraphValue> addGelu(GraphValue input);

  /// Marks an f32 value as the next output of the graph.
  llvm::Error markOutput(GraphValue value);

  /// The shape and element kind of a value of this graph.
  llvm::Expected<TensorSignature> getSignature(GraphValue value) const;

  /// The graph as an MLIR module (one function @name), the text that
  /// `dilattn-opt` and `dilattn-run FILE.mlir --entry=name` accept. Needs at
  /// least one output.
  llvm::Expected<std::string> getMLIR() const;

  /// Compiles the graph. Graphs with the same MLIR and options share one
  /// compiled program in the process (an in-memory cache).
  llvm::Expected<std::unique_ptr<CompiledGraph>>
  compile(const GraphCompileOptions &options = {}) const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl;
};

} // namespace dilattn

#endif // DILATTN_API_GRAPH_H
