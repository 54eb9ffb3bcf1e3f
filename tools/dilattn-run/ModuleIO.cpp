//===- ModuleIO.cpp - module mode's .npy inputs and outputs ---------------===//

#include "ModuleIO.h"
#include "dilattn/Support/Error.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FormatVariadic.h"

using namespace dilattn;
using namespace dilattn::run;

llvm::Expected<ModuleData>
dilattn::run::readModuleData(const ModuleOptions &options,
                             llvm::ArrayRef<TensorSignature> inputTypes,
                             llvm::ArrayRef<TensorSignature> outputTypes) {
  const std::string &entry = options.entry;
  if (options.inputs.size() != inputTypes.size())
    return makeError(ErrorCode::InvalidArgument,
                     llvm::formatv("@{0} takes {1} inputs, --inputs names {2}",
                                   entry, inputTypes.size(),
                                   options.inputs.size()));
  ModuleData data;
  for (auto [index, path] : llvm::enumerate(options.inputs)) {
    auto array = npy::readNpy(path);
    if (!array)
      return array.takeError();
    const TensorSignature &expected = inputTypes[index];
    bool wantBool = expected.element == ElementKind::I1;
    if (wantBool != (array->dtype == npy::DType::Bool) ||
        (!wantBool && array->dtype != npy::DType::F32))
      return makeError(
          ErrorCode::InvalidArgument,
          llvm::formatv("{0}: argument #{1} of @{2} needs '{3}' data, "
                        "got '{4}'",
                        path, index, entry, wantBool ? "|b1" : "<f4",
                        npy::dtypeDescr(array->dtype)));
    llvm::SmallVector<int64_t, 4> shape(array->shape.begin(),
                                        array->shape.end());
    bool matches = shape.size() == expected.shape.size();
    for (size_t i = 0; matches && i < shape.size(); ++i)
      matches =
          expected.shape[i] == kDynamicSize || expected.shape[i] == shape[i];
    if (!matches)
      return makeError(
          ErrorCode::InvalidArgument,
          llvm::formatv("{0}: argument #{1} of @{2} must have shape "
                        "{3}, got {4}",
                        path, index, entry, formatShape(expected.shape),
                        formatShape(shape)));
    data.inputs.push_back(std::move(*array));
  }
  if (options.outputs.size() != outputTypes.size())
    return makeError(
        ErrorCode::InvalidArgument,
        llvm::formatv("@{0} returns {1} results, --outputs names {2}", entry,
                      outputTypes.size(), options.outputs.size()));
  for (const TensorSignature &signature : outputTypes) {
    int64_t count = 1;
    for (int64_t size : signature.shape)
      count *= size;
    data.outputs.emplace_back(count, 0.0f);
  }
  return data;
}

llvm::Error
dilattn::run::writeModuleOutputs(const ModuleOptions &options,
                                 llvm::ArrayRef<TensorSignature> outputTypes,
                                 const ModuleData &data) {
  for (auto [index, path] : llvm::enumerate(options.outputs))
    if (llvm::Error error = npy::writeNpyF32(path, outputTypes[index].shape,
                                             data.outputs[index]))
      return error;
  return llvm::Error::success();
}
