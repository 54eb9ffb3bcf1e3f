/*===- dilattn-c/dilattn.h - the dilattn C API ----------------------------===*\
|*                                                                            *|
|* A C interface with a stable ABI to the dilattn JIT: describe a dilated     *|
|* attention call (docs/Contract.md section 1), compile it once, run it on host
*|
|* float32 buffers or on CUDA device buffers. Pure C (C99 and C++); every     *|
|* object is an opaque handle; every function checks every argument and       *|
|* returns a dilattn_status. Nothing aborts, nothing throws. See docs/api.md. *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef DILATTN_C_DILATTN_H
#define DILATTN_C_DILATTN_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define DILATTN_C_EXPORT __attribute__((visibility("default")))
#else
#define DILATTN_C_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this interface. It grows by one whenever functions or enum
 * values are added; what exists never changes meaning or signature within one
 * SOVERSION of libdilattn-c. A program built against version V runs with any
 * library whose dilattn_api_version() is >= V. */
#define DILATTN_C_API_VERSION 5

/* The interface version of the library loaded at run time. */
DILATTN_C_EXPORT int dilattn_api_version(void);

/* C callers may pass any int where a dilattn_* enum is expected, and every
 * function checks the value. In C++ a value outside an enum's enumerators is
 * undefined unless the enum has a fixed underlying type, so C++ sees each
 * enum as `: int` (the same size and calling convention as C's enums). */
#ifdef __cplusplus
#define DILATTN_ENUM(name) enum name : int
#else
#define DILATTN_ENUM(name) enum name
#endif

/* clang-format does not read DILATTN_ENUM(...) { as an enum. */
/* clang-format off */
/*===--------------------------------------------------------------------===*/
/* Status codes and enums                                                   */
/*===--------------------------------------------------------------------===*/

typedef DILATTN_ENUM(dilattn_status) {
  DILATTN_SUCCESS = 0,
  /* A pointer argument that must not be NULL was NULL. */
  DILATTN_ERROR_NULL_ARGUMENT = 1,
  /* A malformed argument: a negative size, a size product that overflows
   * int64, a rank out of range, an unknown enum value. */
  DILATTN_ERROR_INVALID_ARGUMENT = 2,
  /* The call breaks a rule of the contract (docs/Contract.md section 4): the
   * message names the rule and the values, as the C++ API and IR verifier
   * do. */
  DILATTN_ERROR_INVALID_CALL = 3,
  /* The target cannot run the call: a head dim or element type it does not
   * support (the message says which ones it does). */
  DILATTN_ERROR_UNSUPPORTED = 4,
  /* The target is not available here (e.g. no GPU or no CUDA driver). */
  DILATTN_ERROR_TARGET_UNAVAILABLE = 5,
  /* The JIT could not compile or load the kernel. */
  DILATTN_ERROR_COMPILE = 6,
  /* Running the kernel failed (e.g. a CUDA launch or driver error). */
  DILATTN_ERROR_RUNTIME = 7,
  DILATTN_ERROR_OUT_OF_MEMORY = 8,
  /* A bug in dilattn; please report the message. */
  DILATTN_ERROR_INTERNAL = 9
} dilattn_status;

/* How the patterns of a call are spread over heads (docs/Contract.md
 * section 1). */
typedef DILATTN_ENUM(dilattn_mode) {
  DILATTN_MODE_GROUPED = 0, /* default */
  DILATTN_MODE_LONGNET = 1
} dilattn_mode;

/* The offset of a head within a pattern in longnet mode. */
typedef DILATTN_ENUM(dilattn_offset_rule) {
  DILATTN_OFFSET_RULE_CYCLIC = 0, /* head mod r (default) */
  DILATTN_OFFSET_RULE_BLOCKED = 1 /* floor(head / ceil(H / r)) */
} dilattn_offset_rule;

typedef DILATTN_ENUM(dilattn_target) {
  DILATTN_TARGET_CPU = 0,
  DILATTN_TARGET_CUDA = 1
} dilattn_target;

/* Element types of Q, K, V and the output. The CPU target runs f32; CUDA runs
 * f16, bf16 and f32. */
typedef DILATTN_ENUM(dilattn_dtype) {
  DILATTN_DTYPE_F32 = 0,
  DILATTN_DTYPE_F16 = 1,
  DILATTN_DTYPE_BF16 = 2
} dilattn_dtype;
/* clang-format on */

/* A static English name of a status ("success", "null argument", ...);
 * "unknown status" for values this version does not know. */
DILATTN_C_EXPORT const char *dilattn_status_string(dilattn_status status);

/*===--------------------------------------------------------------------===*/
/* Contexts                                                                 */
/*===--------------------------------------------------------------------===*/

/* A context owns a JIT configuration (the kernel cache) and the last error of
 * the calls made through it. It may be shared by threads. */
typedef struct dilattn_context dilattn_context;

/* Creates a context; *out is set to NULL on failure. */
DILATTN_C_EXPORT dilattn_status dilattn_context_create(dilattn_context **out);

/* Destroys a context (NULL is accepted and does nothing). Every call created
 * from it must be destroyed first, and no thread may be using it. */
DILATTN_C_EXPORT void dilattn_context_destroy(dilattn_context *ctx);

/* Sets the directory of the on-disk kernel cache of this context: NULL goes
 * back to the default (the process-wide JIT: $DILATTN_CACHE_DIR, else
 * $XDG_CACHE_HOME/dilattn, else ~/.cache/dilattn), "" disables the disk cache,
 * anything else is the directory (created on first store). Kernels compiled
 * before stay valid; later calls use the new cache. */
DILATTN_C_EXPORT dilattn_status
dilattn_context_set_cache_dir(dilattn_context *ctx, const char *directory);

/* The message of the last failing function on `ctx`, "" if none. With
 * ctx == NULL, the last error of the calling thread (whatever context it
 * used). The string stays valid on the calling thread until its next call
 * into dilattn. */
DILATTN_C_EXPORT const char *dilattn_context_last_error(dilattn_context *ctx);

/* The message of the last failing function on the calling thread, "" if
 * none: the same as dilattn_context_last_error(NULL). */
DILATTN_C_EXPORT const char *dilattn_last_error(void);

/*===--------------------------------------------------------------------===*/
/* Call descriptors                                                         */
/*===--------------------------------------------------------------------===*/

/* A description of one dilated attention configuration: patterns, mode,
 * offset rule, causal, scale. Setting is not thread-safe; once set, one call
 * may be compiled and run by many threads at once. */
typedef struct dilattn_call dilattn_call;

/* Creates a call with no patterns, grouped mode, cyclic offsets, not causal,
 * default scale 1/sqrt(D). *out is NULL on failure. */
DILATTN_C_EXPORT dilattn_status dilattn_call_create(dilattn_context *ctx,
                                                    dilattn_call **out);

/* Destroys a call (NULL is accepted and does nothing). */
DILATTN_C_EXPORT void dilattn_call_destroy(dilattn_call *call);

/* Sets the k = num_patterns (at most 65536) patterns (segment length w_i,
 * dilation rate r_i). Checked at once against the rules (non-empty,
 * positive); on failure the call is left unchanged. */
DILATTN_C_EXPORT dilattn_status
dilattn_call_set_patterns(dilattn_call *call, const int64_t *segment_lengths,
                          const int64_t *dilation_rates, size_t num_patterns);

DILATTN_C_EXPORT dilattn_status dilattn_call_set_mode(dilattn_call *call,
                                                      dilattn_mode mode);

DILATTN_C_EXPORT dilattn_status
dilattn_call_set_offset_rule(dilattn_call *call, dilattn_offset_rule rule);

/* Non-zero: a query attends only to keys at positions <= its own. */
DILATTN_C_EXPORT dilattn_status dilattn_call_set_causal(dilattn_call *call,
                                                        int causal);

/* The softmax scale (finite); dilattn_call_clear_scale goes back to
 * 1/sqrt(D). */
DILATTN_C_EXPORT dilattn_status dilattn_call_set_scale(dilattn_call *call,
                                                       double scale);
DILATTN_C_EXPORT dilattn_status dilattn_call_clear_scale(dilattn_call *call);

/*===--------------------------------------------------------------------===*/
/* Compiling and running                                                    */
/*===--------------------------------------------------------------------===*/

/* Checks the call for `target`, `dtype` and head dim with the rules of the
 * C++ API and gets its kernel into the JIT caches (memory and disk), so that
 * a later run does not compile. Batch, sequence length and head count are
 * free: one kernel serves them all. The mask flags say whether runs will pass
 * a key padding mask and an attention mask/bias (they pick the kernel).
 * On target CUDA with no GPU or driver: DILATTN_ERROR_TARGET_UNAVAILABLE and
 * a one-line message. Optional: a run compiles on demand. */
DILATTN_C_EXPORT dilattn_status
dilattn_compile(dilattn_call *call, dilattn_target target, dilattn_dtype dtype,
                int64_t head_dim, int has_key_padding_mask, int has_attn_mask);

/* Runs the call on the CPU on contiguous row-major float32 host buffers.
 *   q, k, v, out      (B, N, H, D) with shape = {B, N, H, D}; out is written
 *                     (caller-owned, may not alias q, k or v);
 *   key_padding_mask  NULL or (B, N) bytes, non-zero = padded key;
 *   attn_bias         NULL or an additive float bias (-inf forbids a pair) of
 *                     rank attn_rank (2, 3 or 4) and shape attn_shape:
 *                     (N, N), (B, N, N) or (B, H, N, N); with attn_bias NULL,
 *                     attn_shape must be NULL and attn_rank 0.
 * Blocks until `out` is complete. Buffers of zero elements may be NULL. */
DILATTN_C_EXPORT dilattn_status
dilattn_run_host(dilattn_call *call, const float *q, const float *k,
                 const float *v, const int64_t shape[4],
                 const uint8_t *key_padding_mask, const float *attn_bias,
                 const int64_t *attn_shape, size_t attn_rank, float *out);

/* Runs the call on CUDA device 0 on contiguous row-major device buffers
 * (CUdeviceptr values) of element type `dtype`:
 *   q, k, v, out      (B, N, H, D) with shape = {B, N, H, D};
 *   key_padding_bias  0 (none) or a float32 (B, N) additive bias (0 / -inf);
 *   attn_bias         0 (none) or a float32 additive bias of rank attn_rank
 *                     and shape attn_shape, as in dilattn_run_host;
 *   stream            a CUstream, or NULL for the legacy default stream.
 * Returns once the work is queued on `stream` (longnet mode waits for the
 * stream, as its workspace is freed on return). Device pointers are not
 * dereferenced on the host. */
DILATTN_C_EXPORT dilattn_status dilattn_run_cuda(
    dilattn_call *call, dilattn_dtype dtype, uint64_t q, uint64_t k, uint64_t v,
    const int64_t shape[4], uint64_t key_padding_bias, uint64_t attn_bias,
    const int64_t *attn_shape, size_t attn_rank, uint64_t out, void *stream);

/*===--------------------------------------------------------------------===*/
/* Training: statistics and gradients (interface version 5, issue 18)       */
/*===--------------------------------------------------------------------===*/

/* As dilattn_run_host, and also writes the statistics the backward pass
 * needs: lse, float32 (B, N, H) (caller-owned), the log-sum-exp of each
 * output row's softmax (-inf where a row has no output). CPU only. */
DILATTN_C_EXPORT dilattn_status dilattn_run_host_with_lse(
    dilattn_call *call, const float *q, const float *k, const float *v,
    const int64_t shape[4], const uint8_t *key_padding_mask,
    const float *attn_bias, const int64_t *attn_shape, size_t attn_rank,
    float *out, float *lse);

/* The gradients of sum(grad_out * out) with respect to q, k and v, on the
 * CPU, where out and lse come from dilattn_run_host_with_lse on the same
 * inputs and masks: dq, dk, dv (B, N, H, D) are written (caller-owned).
 * Masks and shapes as in dilattn_run_host; lse is (B, N, H). Positions no
 * pattern selects, and rows with no allowed key, get zero gradient. The
 * CUDA backward is not implemented yet. */
DILATTN_C_EXPORT dilattn_status dilattn_run_host_backward(
    dilattn_call *call, const float *q, const float *k, const float *v,
    const float *out, const float *lse, const float *grad_out,
    const int64_t shape[4], const uint8_t *key_padding_mask,
    const float *attn_bias, const int64_t *attn_shape, size_t attn_rank,
    float *dq, float *dk, float *dv);

/*===--------------------------------------------------------------------===*/
/* Graphs and programs (interface version 2)                                */
/*===--------------------------------------------------------------------===*/

/* A dataflow graph under construction: inputs, then operations on values
 * (dilated attention, multi-head dilated attention, linear layers, layer
 * norm, adds, activations), then outputs. Each dilattn_graph_add_* checks
 * its operands at once (shapes, element types, the rules of docs/Contract.md
 * section 4) and, when it refuses, returns DILATTN_ERROR_INVALID_CALL with a
 * message naming the operation and leaves the graph unchanged. A graph is used
 * by one thread at a time; the program it compiles to by any number. */
typedef struct dilattn_graph dilattn_graph;

/* A value of a graph: an index >= 0 handed out by the graph. */
typedef int32_t dilattn_value;

/* "No value" for optional operands (biases, masks). */
#define DILATTN_NO_VALUE ((dilattn_value) - 1)

/* Element types of graph inputs. */
/* clang-format off */
typedef DILATTN_ENUM(dilattn_element) {
  DILATTN_ELEMENT_F32 = 0,
  DILATTN_ELEMENT_BOOL = 1 /* one byte per element, non-zero = true */
} dilattn_element;
/* clang-format on */

/* A compiled graph or module: run it on host buffers. */
typedef struct dilattn_program dilattn_program;

/* Creates an empty graph whose MLIR function is @name ([A-Za-z_][A-Za-z0-9_]*,
 * NULL for "graph"). *out is NULL on failure. */
DILATTN_C_EXPORT dilattn_status dilattn_graph_create(dilattn_context *ctx,
                                                     const char *name,
                                                     dilattn_graph **out);

/* Destroys a graph (NULL is accepted). Programs compiled from it stay. */
DILATTN_C_EXPORT void dilattn_graph_destroy(dilattn_graph *graph);

/* Adds an input of static shape (rank sizes >= 0; shape may be NULL when
 * rank is 0). */
DILATTN_C_EXPORT dilattn_status dilattn_graph_add_input(
    dilattn_graph *graph, const char *name, const int64_t *shape, size_t rank,
    dilattn_element element, dilattn_value *out);

/* Dilated attention (docs/Contract.md section 1) of (B, N, H, D) values with
 * the patterns, mode, offset rule, causal flag and scale of `call`.
 * key_padding_mask (boolean (B, N)) and attn_mask (boolean or f32 of shape
 * (N, N), (B, N, N) or (B, H, N, N)) may be DILATTN_NO_VALUE. */
DILATTN_C_EXPORT dilattn_status dilattn_graph_add_dilated_attention(
    dilattn_graph *graph, const dilattn_call *call, dilattn_value query,
    dilattn_value key, dilattn_value value, dilattn_value key_padding_mask,
    dilattn_value attn_mask, dilattn_value *out);

/* Multi-head dilated attention (docs/Contract.md section 2) of (B, N, E) values
 * with num_heads heads: weights = {Wq, Wk, Wv, Wo}, each (E, E); biases = NULL
 * or {bq, bk, bv, bo}, each (E) or DILATTN_NO_VALUE; the sub-layer norm is on
 * when layer_norm_weight and layer_norm_bias ((E) each) are both given
 * (epsilon layer_norm_eps > 0). */
DILATTN_C_EXPORT dilattn_status dilattn_graph_add_multihead_dilated_attention(
    dilattn_graph *graph, const dilattn_call *call, int64_t num_heads,
    dilattn_value query, dilattn_value key, dilattn_value value,
    const dilattn_value weights[4], const dilattn_value *biases,
    dilattn_value layer_norm_weight, dilattn_value layer_norm_bias,
    double layer_norm_eps, dilattn_value key_padding_mask,
    dilattn_value attn_mask, dilattn_value *out);

/* y = x W^T + b: x (B, N, E), weight (O, E), bias (O) or DILATTN_NO_VALUE. */
DILATTN_C_EXPORT dilattn_status dilattn_graph_add_linear(dilattn_graph *graph,
                                                         dilattn_value input,
                                                         dilattn_value weight,
                                                         dilattn_value bias,
                                                         dilattn_value *out);

/* Layer norm over the last dimension of (B, N, E) with (E) weight and bias. */
DILATTN_C_EXPORT dilattn_status dilattn_graph_add_layer_norm(
    dilattn_graph *graph, dilattn_value input, dilattn_value weight,
    dilattn_value bias, double eps, dilattn_value *out);

/* Elementwise lhs + rhs (same shape). */
DILATTN_C_EXPORT dilattn_status dilattn_graph_add_add(dilattn_graph *graph,
                                                      dilattn_value lhs,
                                                      dilattn_value rhs,
                                                      dilattn_value *out);

/* max(x, 0) and GELU (tanh approximation), elementwise. */
DILATTN_C_EXPORT dilattn_status dilattn_graph_add_relu(dilattn_graph *graph,
                                                       dilattn_value input,
                                                       dilattn_value *out);
DILATTN_C_EXPORT dilattn_status dilattn_graph_add_gelu(dilattn_graph *graph,
                                                       dilattn_value input,
                                                       dilattn_value *out);

/* Marks an f32 value as the graph's next output. */
DILATTN_C_EXPORT dilattn_status dilattn_graph_mark_output(dilattn_graph *graph,
                                                          dilattn_value value);

/* The graph as MLIR text (what dilattn-opt and dilattn-run FILE.mlir take):
 * copies up to `capacity` bytes including the terminating NUL into `buffer`
 * (which may be NULL when capacity is 0) and sets *size to the length
 * without the NUL. A buffer too small gets a truncated, NUL-terminated copy
 * and DILATTN_ERROR_INVALID_ARGUMENT. */
DILATTN_C_EXPORT dilattn_status dilattn_graph_print_mlir(dilattn_graph *graph,
                                                         char *buffer,
                                                         size_t capacity,
                                                         size_t *size);

/* Compiles the graph for `target`. Programs of equal graphs are shared in
 * the process. DILATTN_TARGET_CUDA (version 4) compiles for the chip of CUDA
 * device 0 and needs it (DILATTN_ERROR_TARGET_UNAVAILABLE without one); a
 * head dim it cannot run is DILATTN_ERROR_UNSUPPORTED. */
DILATTN_C_EXPORT dilattn_status dilattn_graph_compile(dilattn_graph *graph,
                                                      dilattn_target target,
                                                      dilattn_program **out);

/* Compiles function @entry of an MLIR module (source_size bytes of text) for
 * `target`: arguments and results are ranked f32 or i1 tensors of static
 * shapes. Parse, verifier and compile errors come back as
 * DILATTN_ERROR_COMPILE with the diagnostics; target CUDA as for
 * dilattn_graph_compile. */
DILATTN_C_EXPORT dilattn_status dilattn_program_create_from_mlir(
    dilattn_context *ctx, const char *source, size_t source_size,
    const char *entry, dilattn_target target, dilattn_program **out);

DILATTN_C_EXPORT void dilattn_program_destroy(dilattn_program *program);

DILATTN_C_EXPORT dilattn_status
dilattn_program_num_inputs(const dilattn_program *program, size_t *count);
DILATTN_C_EXPORT dilattn_status
dilattn_program_num_outputs(const dilattn_program *program, size_t *count);

/* The shape of input or output `index`: up to `capacity` sizes into `shape`
 * (which may be NULL when capacity is 0), the rank into *rank, the element
 * type into *element (may be NULL). A capacity below the rank is
 * DILATTN_ERROR_INVALID_ARGUMENT (with *rank set). */
DILATTN_C_EXPORT dilattn_status dilattn_program_input_shape(
    const dilattn_program *program, size_t index, int64_t *shape,
    size_t capacity, size_t *rank, dilattn_element *element);
DILATTN_C_EXPORT dilattn_status
dilattn_program_output_shape(const dilattn_program *program, size_t index,
                             int64_t *shape, size_t capacity, size_t *rank);

/* Runs the program on contiguous row-major host buffers: inputs[i] of the
 * i-th input's shape (f32, or one byte per element for boolean inputs),
 * outputs[i] caller-allocated f32 of the i-th output's shape. Blocks until
 * the outputs are written. Buffers of zero elements may be NULL. */
DILATTN_C_EXPORT dilattn_status dilattn_program_run_host(
    dilattn_program *program, const void *const *inputs, size_t num_inputs,
    float *const *outputs, size_t num_outputs);

/* Version 4. Runs a program compiled for DILATTN_TARGET_CUDA on contiguous
 * row-major device buffers (CUdeviceptr values, laid out as for
 * dilattn_program_run_host) on `stream` (a CUstream, or NULL for the legacy
 * default stream). Returns when the outputs are written (the program's
 * temporaries are reused by the next run). A program for target cpu is
 * DILATTN_ERROR_INVALID_CALL. Device pointers are not dereferenced on the
 * host. */
DILATTN_C_EXPORT dilattn_status dilattn_program_run_cuda(
    dilattn_program *program, const uint64_t *inputs, size_t num_inputs,
    const uint64_t *outputs, size_t num_outputs, void *stream);

/*===--------------------------------------------------------------------===*/
/* Sequence parallelism (version 3; docs/distributed.md)                    */
/*===--------------------------------------------------------------------===*/

/* A group of ranks that split a sequence (LongNet's distributed algorithm).
 * Today the ranks are threads of this process (an in-process group); each
 * rank's calls come from one thread, all ranks' calls run concurrently. */
typedef struct dilattn_group dilattn_group;

/* Creates an in-process group of world_size ranks (1 to 1024) whose
 * collectives fail, on every rank, when a rank has not arrived within
 * timeout_ms milliseconds (> 0), or when a rank's call has failed. A failed
 * group stays failed. *out is NULL on failure. */
DILATTN_C_EXPORT dilattn_status
dilattn_group_create_in_process(dilattn_context *ctx, int world_size,
                                int64_t timeout_ms, dilattn_group **out);

/* Destroys a group (NULL is accepted) once no rank's call is running. */
DILATTN_C_EXPORT void dilattn_group_destroy(dilattn_group *group);

/* The positions [*begin, *end) of a sequence of seq_len positions that rank
 * `rank` of `world_size` holds: slices of ceil(seq_len / world_size), the
 * last ones shorter or empty. */
DILATTN_C_EXPORT dilattn_status dilattn_sequence_slice(int64_t seq_len,
                                                       int world_size, int rank,
                                                       int64_t *begin,
                                                       int64_t *end);

/* Runs rank `rank`'s part of the call over a sequence of seq_len positions:
 * q, k, v and out are that rank's slice (B, slice, H, D) with shape =
 * {B, slice, H, D}, contiguous row-major float32 host buffers. Every rank of
 * the group calls it, with the same call attributes, seq_len, B, H and D.
 * No masks. On the calling rank a refused call returns its status; the
 * other ranks then fail with DILATTN_ERROR_RUNTIME naming it. On success,
 * *bytes_sent (may be NULL) is the bytes this rank sent to the others. */
DILATTN_C_EXPORT dilattn_status dilattn_run_host_sequence_parallel(
    dilattn_call *call, dilattn_group *group, int rank, int64_t seq_len,
    const float *q, const float *k, const float *v, const int64_t shape[4],
    float *out, uint64_t *bytes_sent);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DILATTN_C_DILATTN_H */
