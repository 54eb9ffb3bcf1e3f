//===- DiagnosticCollector.h - MLIR diagnostics as one message --*- C++ -*-===//
//
// The JIT's code generators report pipeline failures as values: this handler
// gathers the diagnostics of a context into one message instead of printing
// them.
//
//===----------------------------------------------------------------------===//

#ifndef DILATTN_LIB_JIT_DIAGNOSTICCOLLECTOR_H
#define DILATTN_LIB_JIT_DIAGNOSTICCOLLECTOR_H

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <string>

namespace dilattn::jit {

class DiagnosticCollector {
public:
  explicit DiagnosticCollector(mlir::MLIRContext &context)
      : handler(&context, [this](mlir::Diagnostic &diagnostic) {
          if (!messages.empty())
            messages += "; ";
          messages += diagnostic.str();
          return mlir::success();
        }) {}
  std::string messages;

private:
  mlir::ScopedDiagnosticHandler handler;
};

} // namespace dilattn::jit

#endif // DILATTN_LIB_JIT_DIAGNOSTICCOLLECTOR_H
