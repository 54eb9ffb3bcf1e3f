//===- Passes.td - dilattn transformation passes -----------*- tablegen -*-===//

#ifndef DILATTN_PASSES_TD
#define DILATTN_PASSES_TD

include "mlir/Pass/PassBase.td"

def DilAttnNormalizeMasks : Pass<"dilattn-normalize-masks"> {
  let summary = "Rewrite boolean attention masks into additive biases";
  let description = [{
    Input: `dilattn.dilated_attention` and `dilattn.attention` on tensors
    (the form of docs/Dialect.md and `examples/`); the masks of
    `dilattn.multihead_dilated_attention` are normalised once
    `-dilattn-decompose-multihead` has turned it into those.

    Rewrites every boolean `key_padding_mask` and `attn_mask` operand of the
    attention ops into a float bias through `dilattn.mask_to_bias` (`true` ->
    `-inf`, `false` -> `0`), so that the later passes and kernels handle a
    single mask form: biases added to the scores. Masks that fold to all-zero
    biases are then dropped by canonicalization. The bias element type is f32
    (masks are applied in the f32 accumulation precision).

    Example (`dilattn-opt x.mlir -dilattn-normalize-masks`):

    ```mlir
    func.func @f(%q: tensor<2x64x2x16xf32>, %m: tensor<2x64xi1>)
        -> tensor<2x64x2x16xf32> {
      %o = dilattn.dilated_attention %q, %q, %q key_padding_mask(%m)
          segment_lengths = [16, 32] dilation_rates = [1, 2]
          : (tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>,
             tensor<2x64x2x16xf32>, tensor<2x64xi1>) -> tensor<2x64x2x16xf32>
      return %o : tensor<2x64x2x16xf32>
    }
    ```

    becomes

    ```mlir
    %b = dilattn.mask_to_bias %m : tensor<2x64xi1> -> tensor<2x64xf32>
    %o = dilattn.dilated_attention %q, %q, %q key_padding_mask(%b)
        segment_lengths = [16, 32] dilation_rates = [1, 2]
        : (tensor<2x64x2x16xf32>, tensor<2x64x2x16xf32>,
           tensor<2x64x2x16xf32>, tensor<2x64xf32>) -> tensor<2x64x2x16xf32>
    ```
  }];
  let dependentDialects = ["::mlir::dilattn::DilAttnDialect"];
}

def DilAttnTileSegments : Pass<"dilattn-tile-segments", "func::FuncOp"> {
  let summary = "Tile dilated attention by work item, pattern and segment";
  let description = [{
    Input: functions on buffers holding `dilattn.write_dilated_attention`,
    i.e. after `--one-shot-bufferize=bufferize-function-boundaries` (and
    `-dilattn-normalize-masks` first if masks are boolean). Given attention
    on tensors it changes nothing and warns, naming the steps to run first.

    Rewrites every `dilattn.write_dilated_attention` into a loop over its work
    items `(b, h, block)`. For each item and each pattern the head uses, a
    loop over the segments that meet the block issues one
    `dilattn.segment_attention` on strided views of the inputs: the query
    rows the pattern selects in the block, and the key and value rows it
    selects in the segment (`memref.subview` with stride `r`: no copies).
    Short last segments, offsets past a segment's end (empty selections) and
    causal truncation of the keys are handled here. Every pattern accumulates
    into an online-softmax state of its own (scratch buffers allocated once
    per call), and `dilattn.write_states` merges them into the output block,
    writing each output element once (zeros where nothing is selected); with
    an `lse` buffer it also writes the block's statistics.

    `dilattn.write_dilated_attention_grad` (the backward pass) becomes a loop
    over work items `(b, h)`: each zeroes its rows of the three gradients,
    then issues, for every pattern the head uses and every segment, one
    `dilattn.segment_attention_grad` on the strided views of the segment's
    selected rows (queries and keys of a segment are the same positions).
    A key gathers gradient from every pattern's segment that selects it, and
    these overlap across patterns, so one item owns all rows of its head:
    items never write the same row.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def DilAttnFusePatterns : Pass<"dilattn-fuse-patterns", "func::FuncOp"> {
  let summary = "Fuse the patterns of a call into one online-softmax state";
  let description = [{
    Input: the output of `-dilattn-tile-segments` (`dilattn.write_states`
    and `dilattn.segment_attention` in loops). Given an earlier form it
    changes nothing and warns, naming the steps to run first.

    After segment tiling, the patterns of a longnet call each accumulate into
    a state of their own that `dilattn.write_states` mixes by softmax
    denominators. Folding every pattern's keys into a single state computes
    exactly that mixture (one softmax over the multiset union of keys), so
    this pass redirects all `dilattn.segment_attention` ops of a work item to
    the first state and leaves `dilattn.write_states` with one state: k - 1
    fewer scratch buffers, no merge arithmetic, and each query's running
    maximum shared across patterns.
  }];
}

def DilAttnLowerToVector : Pass<"dilattn-lower-to-vector", "ModuleOp"> {
  let summary = "Lower segment attention and state writes to scf and vector";
  let description = [{
    Input: the output of `-dilattn-tile-segments` (optionally
    `-dilattn-fuse-patterns`). Given an earlier form it changes nothing and
    warns, naming the steps to run first.

    Lowers `dilattn.segment_attention` to register-tiled f32 code: keys in
    blocks of `tile-keys` (packed transposed into a stack buffer once per
    block), queries in tiles of `tile-queries` rows; the scores of a tile
    accumulate in `vector<vector-width x f32>` registers with `vector.fma`,
    softmax runs online in log2 units with an exp2 built from a polynomial
    and exponent bits (no libm, no libdevice), and the value rows accumulate
    into the state with FMAs. Masks (bias adds), causal limits and ragged
    key blocks are applied inside the loop with selects. Lowers
    `dilattn.write_states` to a vectorised normalise-and-mix loop (and its
    log-sum-exp, when asked for).

    Lowers `dilattn.segment_attention_grad` FlashAttention-2 style: per key
    block, K and V are packed transposed; per query tile, `S = Q K^T` and
    `dP = dO V^T` accumulate in registers, `P = exp2(S - lse)` is recomputed
    from the saved statistics, `dS = P (c dP - Delta)` with
    `Delta = rowsum(dO * O)`; `dQ` rows accumulate `dS K` in place and the
    block's `dK`, `dV` rows accumulate `dS^T Q` and `c P^T dO`. Causal
    query tiles that see none of a key block are skipped.

    With `outline` (default), segment attentions that share their attributes
    and operand kinds are first moved into one private function
    (`<kernel>__segment_attention_N`, named after the function it serves so
    that kernels linked into one process never share a symbol) and called with their views cast to
    fully dynamic strides, so the tiled code exists once per kernel instead of
    once per pattern: smaller code and faster compiles. The same holds for
    `dilattn.segment_attention_grad` (`<kernel>__segment_attention_grad_N`).
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"8",
           "f32 lanes of a vector register (8 for AVX2, 16 for AVX-512)">,
    Option<"tileQueries", "tile-queries", "int64_t", /*default=*/"4",
           "query rows per register tile">,
    Option<"tileKeys", "tile-keys", "int64_t", /*default=*/"16",
           "keys per block (a multiple of vector-width)">,
    Option<"outline", "outline", "bool", /*default=*/"true",
           "share one function among segment attentions of equal signature">
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def DilAttnDecomposeMultihead
    : Pass<"dilattn-decompose-multihead", "func::FuncOp"> {
  let summary = "Decompose multi-head dilated attention into linalg and "
                "dilattn.dilated_attention";
  let description = [{
    Input: functions on tensors; other ops pass through unchanged.

    Rewrites every `dilattn.multihead_dilated_attention` into the computation
    of docs/Contract.md section 2, so that the rest of the compiler sees only
    `dilattn.dilated_attention` plus upstream tensor-level ops that the
    standard linalg transforms tile, vectorise and bufferise:

    `out = Wo-linear(LN(merge(DA(split(Wq-linear(query)),
    split(Wk-linear(key)), split(Wv-linear(value))))))`

    - A linear layer `y = x W^T + b` on `(B, N, E)` is a `linalg.contract`
      over `e` into a zero-filled f32 accumulator,
      `acc[b, n, o] += x[b, n, e] * W[o, e]` (f16/bf16 operands are extended
      inside the contraction), then, when there is a bias or the element
      type is not f32, one elementwise `linalg.generic` that adds the bias
      and rounds to the element type. B and N stay separate dimensions: no
      `(B*N, E)` rows, so dynamic B and N never need a reshape with two
      dynamic sizes in one group (which LLVM 22's
      `expand-strided-metadata` cannot lower).
    - `split` is `tensor.expand_shape` `(B, N, E) -> (B, N, H, D)`,
      head-major (`E` index `h*D + d`); `merge` is the inverse
      `tensor.collapse_shape`.
    - `DA` is `dilattn.dilated_attention` with the op's patterns, mode,
      offset rule, causal flag, scale and masks (passed on unchanged).
    - The optional layer norm over `E` (biased variance, `layer_norm_eps`)
      is computed in f32 by two `linalg.generic` reductions (sum, sum of
      squared deviations), two per-row generics (mean, `1/sqrt(var + eps)`)
      and one elementwise generic; its f32 output feeds the out projection
      without rounding.

    Static and dynamic `B`, `N` and `E` are supported (`tensor.dim`,
    `tensor.empty` with dynamic sizes, `D = E / H` at run time). Static sizes
    known from any operand or the result are given to all of them with
    `tensor.cast`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::tensor::TensorDialect"];
}

def DilAttnConvertToGPU : Pass<"dilattn-convert-to-gpu", "ModuleOp"> {
  let summary = "Convert dilated attention on buffers to CUDA kernels";
  let description = [{
    Input: functions on buffers holding `dilattn.write_dilated_attention`
    (after `-dilattn-normalize-masks` and
    `--one-shot-bufferize=bufferize-function-boundaries`). Given attention
    on tensors it changes nothing and warns, naming the steps to run first.

    Rewrites every `dilattn.write_dilated_attention` (buffer form, no `items`
    range) into `gpu.launch_func` operations of kernels generated into a
    `gpu.module` named after the enclosing function (`<func>__dilattn_gpu`).

    The kernels read the dilated rows of Q, K and V in place: a row of
    pattern `(w, r)` with offset `o` in segment `m` is row
    `m*w + o + j*r` of the `(B, N, H, D)` tensor, copied with `cp.async`
    (16-byte chunks, no gather pass) into padded shared-memory tiles,
    `stages` deep. A thread block of `warps` warps owns `tile-queries`
    consecutive selected queries of one (b, h, pattern, segment); every warp
    keeps 16 of them. For f16 and bf16 inputs Q K^T and P V run on tensor
    cores (`ldmatrix` plus `mma.sync.m16n8k16` with f32 accumulation), the
    softmax runs online in registers in log2 units with `ex2.approx`, and
    causal limits, masks and ragged key blocks are applied only in the key
    blocks that need them. f32 inputs take a CUDA-core kernel
    that keeps f32 accuracy: four threads per query row (each with a quarter
    of its columns as vectors of 4), blocks of 16 keys and values staged in
    shared memory by the whole block, the block's scores first and then one
    online-softmax update.

    Output: every element is written once. In `grouped` mode one launch
    covers all patterns: its blocks also write the zeros of the positions a
    pattern does not select. In `longnet` mode there is one launch per
    pattern: the first writes its outputs and log-sum-exps (a `(B, N, H)`
    f32 workspace), each later one merges its pattern into them with the
    online-softmax rule (docs/Contract.md section 1), rows it selects only.

    Kernels are persistent: each block loops over work items with a stride
    of the grid size, so any grid size is correct; the host code emitted
    here launches one block per work item, the dilattn runtime as many as
    fit on the device at once. Kernels carry `gpu.known_block_size`; each
    launch passes the kernel's dynamic shared memory (bytes).
  }];
  let options =
      [Option<"tileQueries", "tile-queries", "int64_t", /*default=*/"0",
              "selected queries per thread block (16 per warp; 0: the "
              "kernel's best, 128 with wgmma, else 64)">,
       Option<"tileKeys", "tile-keys", "int64_t", /*default=*/"0",
              "keys per shared-memory stage (a multiple of 16; 0: the "
              "kernel's best, 128 with wgmma, else 64)">,
       Option<"stages", "stages", "int64_t", /*default=*/"0",
              "shared-memory stages of keys and values in flight (2-4; 0: "
              "2)">,
       Option<"wgmma", "wgmma", "bool", /*default=*/"false",
              "f16/bf16 on Hopper warpgroup MMAs over 128-byte-swizzled tiles "
              "(needs chip sm_90a, tile-queries 64 or 128, head dims that are "
              "multiples of 64); otherwise ldmatrix + mma.sync (sm_80 and "
              "later)">,
       Option<"tma", "tma", "bool", /*default=*/"false",
              "with wgmma: the warp-specialised kernel, a producer "
              "warpgroup loading Q, K and V tiles by TMA on mbarriers "
              "(kernels take 3 tensor maps per pattern first; the rows' "
              "(B, N/r, r, H, D) view needs r to divide N)">];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def DilAttnConvertLinalgToGPU
    : Pass<"dilattn-convert-linalg-to-gpu", "ModuleOp"> {
  let summary = "Convert the linalg parts of a program on buffers to GPU "
                "kernels";
  let description = [{
    Input: the output of `-dilattn-convert-to-gpu` in
    `dilattn-cuda-pipeline` (linalg ops and `memref.copy` on buffers).

    Module mode on target cuda: after bufferization and
    `dilattn-convert-to-gpu`, the host functions still hold the linalg ops
    around the attention (projections, bias adds, layer norm, residual adds,
    activations) and `memref.copy`. This pass turns each into a `gpu.launch`
    (outlined afterwards by `gpu-kernel-outlining`), so that the host code
    holds only allocations, views and launches:

    - a linear layer, a contraction `C[.., o] += A[.., e] * B[o, e]` in f32 on
      identity-layout buffers (what `dilattn-decompose-multihead` and the
      graph API's `linear` emit), becomes a shared-memory tiled kernel:
      128x128 output tiles, 8-deep slices of `e` staged in workgroup memory
      (the next slice loaded from global memory while the current one is
      multiplied), 256 threads computing 8x8 outputs each in registers. The zero fill of
      `C` before it and a bias add `D = C + b[o]` after it fold into the
      kernel when `C` has no other use (then `C` is never allocated);
    - a row reduction (`out[p] += f(..)` over the innermost loop, f32, as
      the layer norm's mean and variance) becomes a warp per output point:
      the lanes stride the row, a butterfly of shuffles adds their sums;
    - every other linalg op (and `memref.copy`, as `linalg.copy`) becomes a
      kernel with one thread per point of its parallel loops
      (`linalgOpToParallelLoops`), consecutive threads on consecutive
      innermost indices, its reduction loops run by that thread;
    - first, a function result computed into a fresh buffer and then copied
      into its out-parameter is computed in the out-parameter (no copy).

    Shapes must be static (refused otherwise, naming the op).
  }];
  let options = [
    Option<"blockThreads", "block-threads", "int64_t", /*default=*/"256",
           "threads per block of the one-thread-per-point kernels">
  ];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def DilAttnGridConstantParams
    : Pass<"dilattn-gpu-grid-constant-params", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Pass the tensor maps of warp-specialised kernels by value";
  let description = [{
    After `convert-gpu-to-nvvm`: on every `llvm.func` kernel marked
    `dilattn.tensor_map_params = N` by `dilattn-convert-to-gpu`, gives the
    first N parameters (pointers to `CUtensorMap`s) the attributes
    `llvm.byval = !llvm.array<128 x i8>`, `llvm.align = 64` and
    `nvvm.grid_constant`, so that PTX declares them
    `.param .align 64 .b8 p[128]` and TMA reads the map from the parameter
    space (`gpu.func` refuses `nvvm.grid_constant`, and the GPU-to-LLVM
    lowering drops `llvm.byval`). A marked parameter that is not a pointer
    is an error.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::NVVM::NVVMDialect"];
}

def DilAttnLegalizeMathForNVVM
    : Pass<"dilattn-legalize-math-for-nvvm", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Rewrite math ops in kernels into what NVPTX lowers without "
                "libdevice";
  let description = [{
    Input: `gpu.module` ops, after `dilattn-convert-to-gpu` (the pass runs
    nested on them: `gpu.module(dilattn-legalize-math-for-nvvm)` inside a
    `--pass-pipeline`).

    `convert-gpu-to-nvvm` turns math ops into libdevice calls (`__nv_expf`,
    `__nv_sqrtf`, ...), which stay unresolved because no libdevice is linked.
    This pass rewrites them first: `exp`, `tanh`, `erf`, `log` and friends
    into MLIR's f32 polynomial approximations, then `fma`, `absf` and
    `copysign` into LLVM intrinsics, and `sqrt` (IEEE-rounded `sqrt.rn.f32`),
    `rsqrt` (`1 / sqrt`), `floor` and `ceil` into single PTX instructions,
    as are `arith.maxnumf`/`minnumf` (`max.f32`) and `maximumf`/`minimumf`
    (`max.NaN.f32`). A math op left after that (or on other types than f32)
    is refused with its name.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::vector::VectorDialect"];
}

def DilAttnVectorizeLinalg : Pass<"dilattn-vectorize-linalg", "func::FuncOp"> {
  let summary = "Tile linalg ops on buffers into register tiles and vectorize "
                "them, outer tiles as parallel loops";
  let description = [{
    Input: functions on buffers (after bufferization); linalg ops on tensors
    are not touched.

    Makes the linalg part of a program (the projections, bias adds, layer
    norm and residual adds of a multi-head block, after bufferization) run
    as vector code on all cores. Only linalg ops directly in a function body
    are handled; the rest of the pipeline lowers whatever is left (dynamic
    remainders, transposes) to loops as before.

    - Contractions `C[.., m, n] += A[.., m, k] * B[k, n]` (one reduction
      dim, f32, `linalg.contract`, `linalg.matmul` or an equivalent generic)
      are tiled three times: an `scf.parallel` over blocks of
      `block-rows` x `block-cols` outputs (the unit of work a thread takes),
      an `scf.for` over `block-depth` slices of `k` (so that a slice of B
      stays in L1/L2), and register tiles of `tile-rows` x
      (`tile-vectors` * `vector-width`) outputs with `k` stepped by one.
      A right-hand side stored `(n, k)` (a linear layer's `W[o, e]`) is
      first transposed into a temporary `(k, n)` buffer, so that a row of B
      is one contiguous vector load. Register loops are peeled so that full
      tiles have static shapes; those are vectorized to `vector.contract`,
      the accumulator's reads and writes are hoisted out of the `k` loop (it
      stays in registers) and the contraction is lowered to outer products,
      i.e. one broadcast of an A element and `tile-vectors` FMAs per row.
    - Other linalg ops whose operands are contiguous along the innermost
      loop (elementwise ops, fills, broadcasts, reductions over the innermost
      dim) get an `scf.parallel` over rows, then are tiled to one row of
      `vector-width` lanes (innermost parallel dim) or a whole row
      (innermost reduction dim of static size up to 4096) and vectorized.

    The vector ops are lowered to loads, stores, broadcasts, FMAs and
    reductions of 1-D vectors here. The `scf.parallel` loops are left for
    `dilattn-outline-parallel-work`.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"8",
           "f32 lanes of a vector register (8 for AVX2, 16 for AVX-512)">,
    Option<"tileRows", "tile-rows", "int64_t", /*default=*/"0",
           "rows of a matmul register tile (0: 6 for 8 lanes, 8 otherwise)">,
    Option<"tileVectors", "tile-vectors", "int64_t", /*default=*/"2",
           "vectors per row of a matmul register tile">,
    Option<"blockRows", "block-rows", "int64_t", /*default=*/"96",
           "matmul rows per parallel work item (a multiple of tile-rows "
           "works best)">,
    Option<"blockCols", "block-cols", "int64_t", /*default=*/"128",
           "matmul columns per parallel work item">,
    Option<"blockDepth", "block-depth", "int64_t", /*default=*/"256",
           "reduction slice of a matmul work item">
  ];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def DilAttnOutlineParallelWork
    : Pass<"dilattn-outline-parallel-work", "ModuleOp"> {
  let summary = "Run parallel loops and whole attention calls on the "
                "runtime's thread pool";
  let description = [{
    Input: functions on buffers (after bufferization and
    `-dilattn-vectorize-linalg`). Given attention on tensors and no parallel
    work it changes nothing and warns, naming the steps to run first.

    Rewrites the parallel work of a program on buffers into calls of the
    runtime's parallel-for, `dilattn_parallel_for(body, context, n)`, which
    calls `body(context, begin, end)` on ranges covering `[0, n)` from all
    threads of the dilattn thread pool:

    - an outermost `scf.parallel` (no reductions): its iterations are
      numbered `0 .. n-1` (row-major over its dims); the body moves into
      `<func>__parallel_N(context, begin, end)`, a loop over `[begin, end)`
      that recomputes the induction variables;
    - a `dilattn.write_dilated_attention` without an `items` range: its work
      items `(b, h, block)` are the iterations, and
      `<func>__parallel_N` is the op with `items(begin, end)`, exactly as op
      mode splits a call.

    The values the body uses from outside (memrefs, indices, integers and
    floats) are stored into a stack struct whose address is the context:
    memrefs as their LLVM descriptors (through
    `builtin.unrealized_conversion_cast`, which the conversion to LLVM
    folds), indices as i64. Loops whose body uses other types stay
    sequential. The runtime symbol is resolved by the JIT (module mode
    registers it with the ExecutionEngine).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

#endif // DILATTN_PASSES_TD
