/* embed.c - embedding dilattn through its C API (C99, dilattn-c/dilattn.h
 * only).
 *
 * Runs dilated attention on the host in both modes, compares each output with
 * a float64 reference written here from docs/Contract.md section 1 (direct
 * loops), builds and runs a whole LongNet layer with the graph API (multi-head
 * dilated attention with biases, sub-layer norm and a key padding mask, a
 * residual, a GELU feed-forward and a second residual) against a float64
 * reference of docs/Contract.md section 2 written here too, shows how errors
 * come back, and tries the CUDA target (which says in one line why it cannot
 * run when there is no GPU).
 *
 *   embed [CACHE_DIR]     exit status 0 when every check passes
 */

#include <dilattn-c/dilattn.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B = 1, N = 512, H = 4, D = 32, K = 2 };
static const int64_t kSegments[K] = {128, 256};
static const int64_t kDilations[K] = {1, 2};

/* Deterministic uniform numbers in [-1, 1). */
static uint64_t rngState = 0x2545F4914F6CDD1Dull;
static float uniform(void) {
  rngState = rngState * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((double)(rngState >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static size_t at(int64_t b, int64_t x, int64_t j, int64_t d) {
  return (size_t)(((b * N + x) * H + j) * D + d);
}

/* The head group of head j in grouped mode: K contiguous groups of floor(H/K)
 * heads, the first H mod K one larger. */
static int groupOf(int64_t j) {
  int64_t begin = 0;
  for (int g = 0; g < K; ++g) {
    int64_t size = H / K + (g < H % K ? 1 : 0);
    if (j < begin + size)
      return g;
    begin += size;
  }
  return K - 1;
}

/* docs/Contract.md section 1 without masks, non-causal, default scale, cyclic
 * offsets: every pattern's output and log-sum-exp per position, then the mode's
 * mix. */
static void reference(int longnet, const float *q, const float *k,
                      const float *v, double *out) {
  static double patternOut[K][N][D], lse[K][N];
  static int present[K][N];
  static double scores[N];
  double scale = 1.0 / sqrt((double)D);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < H; ++j) {
      memset(present, 0, sizeof(present));
      for (int i = 0; i < K; ++i) {
        if (!longnet && groupOf(j) != i)
          continue;
        int64_t w = kSegments[i], r = kDilations[i];
        int64_t offset = longnet ? j % r : i % r;
        for (int64_t start = 0; start < N; start += w) {
          int64_t end = start + w < N ? start + w : N;
          for (int64_t x = start + offset; x < end; x += r) {
            double max = -INFINITY, sum = 0;
            int64_t count = 0;
            for (int64_t y = start + offset; y < end; y += r, ++count) {
              double s = 0;
              for (int64_t d = 0; d < D; ++d)
                s += (double)q[at(b, x, j, d)] * k[at(b, y, j, d)];
              scores[count] = s * scale;
              if (scores[count] > max)
                max = scores[count];
            }
            for (int64_t d = 0; d < D; ++d)
              patternOut[i][x][d] = 0;
            count = 0;
            for (int64_t y = start + offset; y < end; y += r, ++count) {
              double p = exp(scores[count] - max);
              sum += p;
              for (int64_t d = 0; d < D; ++d)
                patternOut[i][x][d] += p * v[at(b, y, j, d)];
            }
            for (int64_t d = 0; d < D; ++d)
              patternOut[i][x][d] /= sum;
            lse[i][x] = max + log(sum);
            present[i][x] = 1;
          }
        }
      }
      for (int64_t x = 0; x < N; ++x) {
        double weights[K], total = 0, max = -INFINITY;
        for (int i = 0; i < K; ++i)
          if (present[i][x] && lse[i][x] > max)
            max = lse[i][x];
        for (int i = 0; i < K; ++i) {
          /* grouped: O_i / k; longnet: softmax of the lse over patterns. */
          weights[i] = !present[i][x] ? 0
                       : longnet      ? exp(lse[i][x] - max)
                                      : 1.0 / K;
          total += weights[i];
        }
        for (int64_t d = 0; d < D; ++d) {
          double value = 0;
          for (int i = 0; i < K; ++i)
            if (present[i][x])
              value += weights[i] * patternOut[i][x][d];
          out[at(b, x, j, d)] =
              longnet ? (total > 0 ? value / total : 0) : value;
        }
      }
    }
  }
}

/*===--------------------------------------------------------------------===*/
/* A LongNet layer through the graph API                                    */
/*===--------------------------------------------------------------------===*/

/* h = x + MultiheadDilatedAttention(x); y = h + W2 gelu(W1 h + b1) + b2,
 * longnet mode, with biases, the sub-layer norm and a key padding mask. */
enum { LN_ = 128, LE = 64, LH = 4, LD = LE / LH, LF = 128, LK = 3 };
static const int64_t kLayerSegments[LK] = {32, 64, 128};
static const int64_t kLayerDilations[LK] = {1, 2, 4};

/* y[n][o] = sum_e x[n][e] W[o][e] + b[o] for x (rows, in), W (out, in). */
static void linearRef(const double *x, const float *w, const float *b,
                      int64_t rows, int64_t in, int64_t out, double *y) {
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t o = 0; o < out; ++o) {
      double sum = b[o];
      for (int64_t e = 0; e < in; ++e)
        sum += x[n * in + e] * w[o * in + e];
      y[n * out + o] = sum;
    }
}

/* Longnet dilated attention with key padding over (LN_, LH, LD) rows in
 * place of docs/Contract.md section 1's (B = 1): per head and pattern, the
 * patterns' outputs merged by their log-sum-exp. */
static void layerAttentionRef(const double *q, const double *k, const double *v,
                              const unsigned char *pad, double *out) {
  static double patternOut[LK][LN_][LD], lse[LK][LN_], scores[LN_];
  static int present[LK][LN_];
  double scale = 1.0 / sqrt((double)LD);
  for (int64_t j = 0; j < LH; ++j) {
    memset(present, 0, sizeof(present));
    for (int i = 0; i < LK; ++i) {
      int64_t w = kLayerSegments[i], r = kLayerDilations[i], offset = j % r;
      for (int64_t start = 0; start < LN_; start += w) {
        int64_t end = start + w < LN_ ? start + w : LN_;
        for (int64_t x = start + offset; x < end; x += r) {
          double max = -INFINITY, sum = 0;
          int64_t count = 0;
          for (int64_t y = start + offset; y < end; y += r, ++count) {
            double s = 0;
            for (int64_t d = 0; d < LD; ++d)
              s += q[(x * LH + j) * LD + d] * k[(y * LH + j) * LD + d];
            scores[count] = pad[y] ? -INFINITY : s * scale;
            if (scores[count] > max)
              max = scores[count];
          }
          if (max == -INFINITY)
            continue; /* every key padded: no output for this pattern */
          for (int64_t d = 0; d < LD; ++d)
            patternOut[i][x][d] = 0;
          count = 0;
          for (int64_t y = start + offset; y < end; y += r, ++count) {
            double p = exp(scores[count] - max);
            sum += p;
            for (int64_t d = 0; d < LD; ++d)
              patternOut[i][x][d] += p * v[(y * LH + j) * LD + d];
          }
          for (int64_t d = 0; d < LD; ++d)
            patternOut[i][x][d] /= sum;
          lse[i][x] = max + log(sum);
          present[i][x] = 1;
        }
      }
    }
    for (int64_t x = 0; x < LN_; ++x) {
      double max = -INFINITY, total = 0;
      for (int i = 0; i < LK; ++i)
        if (present[i][x] && lse[i][x] > max)
          max = lse[i][x];
      for (int64_t d = 0; d < LD; ++d)
        out[(x * LH + j) * LD + d] = 0;
      for (int i = 0; i < LK; ++i) {
        if (!present[i][x])
          continue;
        double weight = exp(lse[i][x] - max);
        total += weight;
        for (int64_t d = 0; d < LD; ++d)
          out[(x * LH + j) * LD + d] += weight * patternOut[i][x][d];
      }
      for (int64_t d = 0; d < LD; ++d)
        if (total > 0)
          out[(x * LH + j) * LD + d] /= total;
    }
  }
}

/* The parameters of the layer, in the order of its graph inputs. */
enum {
  P_X,
  P_WQ,
  P_WK,
  P_WV,
  P_WO,
  P_BQ,
  P_BK,
  P_BV,
  P_BO,
  P_LNW,
  P_LNB,
  P_PAD,
  P_W1,
  P_B1,
  P_W2,
  P_B2,
  P_COUNT
};
static const char *const kLayerNames[P_COUNT] = {
    "x",  "wq",   "wk",   "wv",  "wo", "bq", "bk", "bv",
    "bo", "ln_w", "ln_b", "pad", "w1", "b1", "w2", "b2"};

static int64_t layerShape(int p, int64_t shape[3]) {
  switch (p) {
  case P_X:
    shape[0] = 1, shape[1] = LN_, shape[2] = LE;
    return 3;
  case P_WQ:
  case P_WK:
  case P_WV:
  case P_WO:
    shape[0] = LE, shape[1] = LE;
    return 2;
  case P_PAD:
    shape[0] = 1, shape[1] = LN_;
    return 2;
  case P_W1:
    shape[0] = LF, shape[1] = LE;
    return 2;
  case P_B1:
    shape[0] = LF;
    return 1;
  case P_W2:
    shape[0] = LE, shape[1] = LF;
    return 2;
  default: /* the (E) vectors */
    shape[0] = LE;
    return 1;
  }
}

static void layerReference(float *const *p, const unsigned char *pad,
                           double *y) {
  static double x[LN_ * LE], q[LN_ * LE], k[LN_ * LE], v[LN_ * LE], a[LN_ * LE],
      h[LN_ * LE], up[LN_ * LF], down[LN_ * LE];
  for (int64_t i = 0; i < LN_ * LE; ++i)
    x[i] = p[P_X][i];
  linearRef(x, p[P_WQ], p[P_BQ], LN_, LE, LE, q);
  linearRef(x, p[P_WK], p[P_BK], LN_, LE, LE, k);
  linearRef(x, p[P_WV], p[P_BV], LN_, LE, LE, v);
  layerAttentionRef(q, k, v, pad, a);
  /* Sub-layer norm over E (biased variance, eps 1e-5). */
  for (int64_t n = 0; n < LN_; ++n) {
    double mean = 0, var = 0;
    for (int64_t e = 0; e < LE; ++e)
      mean += a[n * LE + e];
    mean /= LE;
    for (int64_t e = 0; e < LE; ++e)
      var += (a[n * LE + e] - mean) * (a[n * LE + e] - mean);
    var /= LE;
    for (int64_t e = 0; e < LE; ++e)
      a[n * LE + e] =
          (a[n * LE + e] - mean) / sqrt(var + 1e-5) * p[P_LNW][e] + p[P_LNB][e];
  }
  linearRef(a, p[P_WO], p[P_BO], LN_, LE, LE, h);
  for (int64_t i = 0; i < LN_ * LE; ++i)
    h[i] += x[i];
  linearRef(h, p[P_W1], p[P_B1], LN_, LE, LF, up);
  for (int64_t i = 0; i < LN_ * LF; ++i) {
    double z = up[i];
    up[i] = 0.5 * z *
            (1 + tanh(sqrt(2 / 3.14159265358979323846) *
                      (z + 0.044715 * z * z * z)));
  }
  linearRef(up, p[P_W2], p[P_B2], LN_, LF, LE, down);
  for (int64_t i = 0; i < LN_ * LE; ++i)
    y[i] = h[i] + down[i];
}

/* Builds the layer with the graph API, compiles it, runs it and checks it. */
static int runLayer(dilattn_context *ctx) {
  float *params[P_COUNT] = {0};
  unsigned char pad[LN_];
  dilattn_value in[P_COUNT];
  dilattn_graph *graph = NULL;
  dilattn_call *call = NULL;
  dilattn_program *program = NULL;
  float *y = malloc(sizeof(float) * LN_ * LE);
  double *expected = malloc(sizeof(double) * LN_ * LE);
  int ok = 0;
  dilattn_status status =
      y && expected ? DILATTN_SUCCESS : DILATTN_ERROR_OUT_OF_MEMORY;
  for (int64_t n = 0; n < LN_; ++n)
    pad[n] = (n % 7) == 3; /* some keys padded */
  if (status == DILATTN_SUCCESS)
    status = dilattn_graph_create(ctx, "longnet_layer", &graph);
  for (int i = 0; i < P_COUNT && status == DILATTN_SUCCESS; ++i) {
    int64_t shape[3];
    int64_t rank = layerShape(i, shape), size = 1;
    for (int64_t d = 0; d < rank; ++d)
      size *= shape[d];
    if (i != P_PAD) {
      /* Weights scaled by 1/sqrt(fan-in), biases small, layer norm ~1. */
      double scale = rank == 2                ? 1.0 / sqrt((double)shape[1])
                     : i == P_X || i == P_LNW ? 1.0
                                              : 0.1;
      params[i] = malloc(sizeof(float) * size);
      if (!params[i]) {
        status = DILATTN_ERROR_OUT_OF_MEMORY;
        break;
      }
      for (int64_t e = 0; e < size; ++e)
        params[i][e] = (float)(uniform() * scale);
    }
    status = dilattn_graph_add_input(
        graph, kLayerNames[i], shape, (size_t)rank,
        i == P_PAD ? DILATTN_ELEMENT_BOOL : DILATTN_ELEMENT_F32, &in[i]);
  }
  dilattn_value attention = 0, h = 0, up = 0, act = 0, down = 0, out = 0;
  if (status == DILATTN_SUCCESS)
    status = dilattn_call_create(ctx, &call);
  if (status == DILATTN_SUCCESS)
    status =
        dilattn_call_set_patterns(call, kLayerSegments, kLayerDilations, LK);
  if (status == DILATTN_SUCCESS)
    status = dilattn_call_set_mode(call, DILATTN_MODE_LONGNET);
  if (status == DILATTN_SUCCESS) {
    const dilattn_value weights[4] = {in[P_WQ], in[P_WK], in[P_WV], in[P_WO]};
    const dilattn_value biases[4] = {in[P_BQ], in[P_BK], in[P_BV], in[P_BO]};
    status = dilattn_graph_add_multihead_dilated_attention(
        graph, call, LH, in[P_X], in[P_X], in[P_X], weights, biases, in[P_LNW],
        in[P_LNB], 1e-5, in[P_PAD], DILATTN_NO_VALUE, &attention);
  }
  if (status == DILATTN_SUCCESS)
    status = dilattn_graph_add_add(graph, in[P_X], attention, &h);
  if (status == DILATTN_SUCCESS)
    status = dilattn_graph_add_linear(graph, h, in[P_W1], in[P_B1], &up);
  if (status == DILATTN_SUCCESS)
    status = dilattn_graph_add_gelu(graph, up, &act);
  if (status == DILATTN_SUCCESS)
    status = dilattn_graph_add_linear(graph, act, in[P_W2], in[P_B2], &down);
  if (status == DILATTN_SUCCESS)
    status = dilattn_graph_add_add(graph, h, down, &out);
  if (status == DILATTN_SUCCESS)
    status = dilattn_graph_mark_output(graph, out);
  if (status == DILATTN_SUCCESS)
    status = dilattn_graph_compile(graph, DILATTN_TARGET_CPU, &program);
  if (status == DILATTN_SUCCESS) {
    const void *inputs[P_COUNT];
    float *outputs[1] = {y};
    for (int i = 0; i < P_COUNT; ++i)
      inputs[i] = i == P_PAD ? (const void *)pad : (const void *)params[i];
    status = dilattn_program_run_host(program, inputs, P_COUNT, outputs, 1);
  }
  if (status != DILATTN_SUCCESS) {
    printf("layer: %s: %s\n", dilattn_status_string(status),
           dilattn_context_last_error(ctx));
  } else {
    double maxAbs = 0, diff = 0, norm = 0;
    layerReference(params, pad, expected);
    for (int64_t i = 0; i < LN_ * LE; ++i) {
      double e = fabs(y[i] - expected[i]);
      if (!(e <= maxAbs))
        maxAbs = e;
      diff += e * e;
      norm += expected[i] * expected[i];
    }
    double relative = sqrt(diff) / sqrt(norm);
    ok = relative <= 1e-5;
    printf("layer: graph run max_abs_err=%.3g rel_err=%.3g %s\n", maxAbs,
           relative, ok ? "PASS" : "FAIL");
  }
  dilattn_program_destroy(program);
  dilattn_call_destroy(call);
  dilattn_graph_destroy(graph);
  for (int i = 0; i < P_COUNT; ++i)
    free(params[i]);
  free(y);
  free(expected);
  return ok;
}

static int failures = 0;

/* Prints the status and message of a failing call; counts it as a failure
 * unless it was the expected status. */
static void report(const char *what, dilattn_status status,
                   dilattn_status expected, dilattn_context *ctx) {
  if (status == DILATTN_SUCCESS)
    printf("%s: ok\n", what);
  else
    printf("%s: %s: %s\n", what, dilattn_status_string(status),
           dilattn_context_last_error(ctx));
  if (status != expected) {
    printf("%s: expected %s\n", what, dilattn_status_string(expected));
    ++failures;
  }
}

int main(int argc, char **argv) {
  printf("dilattn C API version %d (built against %d)\n", dilattn_api_version(),
         DILATTN_C_API_VERSION);
  if (dilattn_api_version() < DILATTN_C_API_VERSION) {
    printf("the library is older than this program\n");
    return 1;
  }

  dilattn_context *ctx = NULL;
  if (dilattn_context_create(&ctx) != DILATTN_SUCCESS) {
    printf("cannot create a context: %s\n", dilattn_last_error());
    return 1;
  }
  if (argc > 1)
    report("cache dir", dilattn_context_set_cache_dir(ctx, argv[1]),
           DILATTN_SUCCESS, ctx);

  size_t count = (size_t)B * N * H * D;
  float *q = malloc(count * sizeof(float));
  float *k = malloc(count * sizeof(float));
  float *v = malloc(count * sizeof(float));
  float *out = malloc(count * sizeof(float));
  double *expected = malloc(count * sizeof(double));
  if (!q || !k || !v || !out || !expected) {
    printf("out of memory\n");
    return 1;
  }
  for (size_t i = 0; i < count; ++i) {
    q[i] = uniform();
    k[i] = uniform();
    v[i] = uniform();
  }
  const int64_t shape[4] = {B, N, H, D};

  /* One call description per mode, compiled once, run on host buffers. */
  for (int longnet = 0; longnet <= 1; ++longnet) {
    const char *name = longnet ? "longnet" : "grouped";
    dilattn_call *call = NULL;
    dilattn_status status = dilattn_call_create(ctx, &call);
    if (status == DILATTN_SUCCESS)
      status = dilattn_call_set_patterns(call, kSegments, kDilations, K);
    if (status == DILATTN_SUCCESS)
      status = dilattn_call_set_mode(call, longnet ? DILATTN_MODE_LONGNET
                                                   : DILATTN_MODE_GROUPED);
    if (status == DILATTN_SUCCESS)
      status =
          dilattn_compile(call, DILATTN_TARGET_CPU, DILATTN_DTYPE_F32, D, 0, 0);
    if (status == DILATTN_SUCCESS)
      status = dilattn_run_host(call, q, k, v, shape, NULL, NULL, NULL, 0, out);
    if (status != DILATTN_SUCCESS) {
      printf("%s: %s: %s\n", name, dilattn_status_string(status),
             dilattn_context_last_error(ctx));
      ++failures;
      dilattn_call_destroy(call);
      continue;
    }
    reference(longnet, q, k, v, expected);
    double maxAbs = 0, diff = 0, norm = 0;
    for (size_t i = 0; i < count; ++i) {
      double e = fabs(out[i] - expected[i]);
      if (!(e <= maxAbs))
        maxAbs = e;
      diff += e * e;
      norm += expected[i] * expected[i];
    }
    double relative = sqrt(diff) / sqrt(norm);
    int ok =
        relative <= 1e-5; /* docs/Contract.md section 1: float32 tolerance */
    printf("%s: host run max_abs_err=%.3g rel_err=%.3g %s\n", name, maxAbs,
           relative, ok ? "PASS" : "FAIL");
    if (!ok)
      ++failures;
    dilattn_call_destroy(call);
  }

  /* A whole LongNet layer built, compiled and run through the graph API. */
  if (!runLayer(ctx))
    ++failures;

  /* Errors are values with a message naming the rule and the values. */
  dilattn_call *bad = NULL;
  report("create", dilattn_call_create(ctx, &bad), DILATTN_SUCCESS, ctx);
  const int64_t zeroRate[K] = {1, 0};
  report("bad patterns", dilattn_call_set_patterns(bad, kSegments, zeroRate, K),
         DILATTN_ERROR_INVALID_CALL, ctx);
  report("patterns", dilattn_call_set_patterns(bad, kSegments, kDilations, K),
         DILATTN_SUCCESS, ctx);
  const int64_t oneHead[4] = {B, N, 1, D};
  report("bad run",
         dilattn_run_host(bad, q, k, v, oneHead, NULL, NULL, NULL, 0, out),
         DILATTN_ERROR_INVALID_CALL, ctx);
  report("null query",
         dilattn_run_host(bad, NULL, k, v, shape, NULL, NULL, NULL, 0, out),
         DILATTN_ERROR_NULL_ARGUMENT, ctx);

  /* CUDA: compile for the GPU, and an empty run (no device memory needed).
   * With no GPU or driver both say so in one line. */
  dilattn_status cuda =
      dilattn_compile(bad, DILATTN_TARGET_CUDA, DILATTN_DTYPE_BF16, 64, 0, 0);
  report("cuda compile", cuda,
         cuda == DILATTN_SUCCESS ? DILATTN_SUCCESS
                                 : DILATTN_ERROR_TARGET_UNAVAILABLE,
         ctx);
  const int64_t empty[4] = {0, N, H, 64};
  dilattn_status cudaRun = dilattn_run_cuda(bad, DILATTN_DTYPE_BF16, 0, 0, 0,
                                            empty, 0, 0, NULL, 0, 0, NULL);
  report("cuda run", cudaRun, cuda, ctx);
  dilattn_call_destroy(bad);

  free(q);
  free(k);
  free(v);
  free(out);
  free(expected);
  dilattn_context_destroy(ctx);
  printf("%s\n", failures ? "FAILED" : "all checks passed");
  return failures ? 1 : 0;
}
