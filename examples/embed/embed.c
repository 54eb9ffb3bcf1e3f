/* embed.c - embedding dilattn through its C API (C99, dilattn-c/dilattn.h
 * only).
 *
 * Runs dilated attention on the host in both modes, compares each output with
 * a float64 reference written here from SPEC.md section 1 (direct loops),
 * shows how errors come back, and tries the CUDA target (which says in one
 * line why it cannot run when there is no GPU).
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

/* SPEC.md section 1 without masks, non-causal, default scale, cyclic offsets:
 * every pattern's output and log-sum-exp per position, then the mode's mix. */
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
    int ok = relative <= 1e-5; /* SPEC.md section 1: float32 tolerance */
    printf("%s: host run max_abs_err=%.3g rel_err=%.3g %s\n", name, maxAbs,
           relative, ok ? "PASS" : "FAIL");
    if (!ok)
      ++failures;
    dilattn_call_destroy(call);
  }

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
