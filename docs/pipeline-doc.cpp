//===- pipeline-doc.cpp - the pipelines' section of docs/Passes.md --------===//
//
// Prints the reference of dilattn's registered pass pipelines in the style of
// mlir-tblgen's pass docs: each pipeline's registered description, its
// options exactly as `dilattn-opt --help` prints them (the same options
// structs and printer) and their defaults. scripts/update-docs appends it to
// docs/Passes.md, and test/Docs checks the committed copy is current.
//
//===----------------------------------------------------------------------===//

#include "dilattn/Pipelines/Pipelines.h"

#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/raw_ostream.h"

/// `text` wrapped at 80 columns.
static std::string wrap(llvm::StringRef text) {
  std::string result, line;
  llvm::SmallVector<llvm::StringRef> words;
  llvm::SplitString(text, words);
  for (llvm::StringRef word : words) {
    if (!line.empty() && line.size() + 1 + word.size() > 80) {
      result += line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word.str();
  }
  return result + line + "\n";
}

template <typename Options>
static void printPipeline(llvm::StringRef name, llvm::StringRef input) {
  const mlir::PassPipelineInfo *info = mlir::PassPipelineInfo::lookup(name);
  llvm::raw_ostream &os = llvm::outs();
  os << "### `-" << name << "`\n\n"
     << wrap(info->getPassDescription()) << "\n"
     << wrap(input) << "\n#### Options\n\n```\n";
  os.flush();
  // printHelp writes to llvm::outs(), as --help does.
  Options defaults;
  // The descriptions start past the longest option (an indent below the
  // option's width would underflow in printHelp).
  defaults.printHelp(/*indent=*/0, defaults.getOptionWidth() + 4);
  std::string values;
  llvm::raw_string_ostream valuesOs(values);
  defaults.print(valuesOs);
  os << "```\n\nDefaults: `" << name << values << "`\n\n";
}

int main() {
  dilattn::registerCpuPipeline();
  dilattn::registerCudaPipeline();
  llvm::outs()
      << "## Pipelines\n\n"
         "The pipelines run the passes above in order, with the upstream "
         "passes\nbetween them; the JIT runs the very same pipelines. Give "
         "options as\n`--dilattn-cpu-pipeline=\"vector-width=16 "
         "parallel=false\"`.\n\n";
  printPipeline<dilattn::CpuPipelineOptions>(
      "dilattn-cpu-pipeline",
      "Input: functions on tensors (the form of docs/Dialect.md and "
      "`examples/`), or kernels already in buffer form "
      "(`dilattn.write_dilated_attention`). Output: the LLVM dialect "
      "(`mlir-translate --mlir-to-llvmir` gives LLVM IR).");
  printPipeline<dilattn::CudaPipelineOptions>(
      "dilattn-cuda-pipeline",
      "Input: functions on tensors, as for dilattn-cpu-pipeline. Output: host "
      "functions with `gpu.launch_func` and a `gpu.binary` holding the "
      "kernels (PTX by default; `format=bin` runs ptxas).");
  return 0;
}
