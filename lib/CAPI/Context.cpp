//===- Context.cpp - C API versions and contexts --------------------------===//

#include "Handles.h"

using namespace dilattn;
using namespace dilattn::capi;

std::shared_ptr<jit::Jit> dilattn::capi::jitOf(dilattn_context *context) {
  std::lock_guard<std::mutex> lock(context->mutex);
  if (context->jit)
    return context->jit;
  // The process-wide JIT lives as long as the process: no ownership.
  return std::shared_ptr<jit::Jit>(&jit::Jit::global(), [](jit::Jit *) {});
}

extern "C" int dilattn_api_version(void) { return DILATTN_C_API_VERSION; }

extern "C" dilattn_status dilattn_context_create(dilattn_context **out) {
  return guarded(nullptr, [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(out, "out");
    *out = nullptr;
    *out = new dilattn_context();
    return DILATTN_SUCCESS;
  });
}

extern "C" void dilattn_context_destroy(dilattn_context *ctx) { delete ctx; }

extern "C" dilattn_status dilattn_context_set_cache_dir(dilattn_context *ctx,
                                                        const char *directory) {
  return guarded(ctx, [&](std::optional<Failure> &failure) {
    DILATTN_REQUIRE(ctx, "ctx");
    std::shared_ptr<jit::Jit> jit;
    if (directory) {
      jit::JitOptions options;
      options.cacheDirectory = directory;
      options.useDefaultCacheDirectory = false;
      jit = std::make_shared<jit::Jit>(std::move(options));
    }
    // Runs in flight keep the JIT they started with.
    std::lock_guard<std::mutex> lock(ctx->mutex);
    ctx->jit = std::move(jit);
    return DILATTN_SUCCESS;
  });
}
