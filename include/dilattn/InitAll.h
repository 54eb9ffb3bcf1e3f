//===- InitAll.h - register dilattn and the dialects it uses ----*- C++ -*-===//
//
// One place that lists what dilattn tools and the JIT register: the dilattn
// dialect and passes plus the upstream dialects and passes its pipelines use.
// Registering only these (not all of MLIR) keeps statically linked tools
// small enough to carry to the GPU machine.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_INITALL_H
#define DILATTN_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace dilattn {

/// Adds the dilattn dialect and the upstream dialects its pipelines use.
void registerAllDialects(mlir::DialectRegistry &registry);

/// Registers the dilattn passes and pipelines and the upstream passes they
/// build on, for command-line tools.
void registerAllPasses();

} // namespace dilattn

#endif // DILATTN_INITALL_H
