//===- BufferizableOpInterfaceImpl.h - bufferization of attention -*- C++ -*-//

#ifndef DILATTN_DIALECT_DILATTN_TRANSFORMS_BUFFERIZABLEOPINTERFACEIMPL_H
#define DILATTN_DIALECT_DILATTN_TRANSFORMS_BUFFERIZABLEOPINTERFACEIMPL_H

namespace mlir {
class DialectRegistry;

namespace dilattn {
/// Attaches One-Shot Bufferize support to dilattn.dilated_attention and
/// dilattn.attention: they bufferize to dilattn.write_dilated_attention into
/// a new buffer.
void registerBufferizableOpInterfaceExternalModels(DialectRegistry &registry);
} // namespace dilattn
} // namespace mlir

#endif // DILATTN_DIALECT_DILATTN_TRANSFORMS_BUFFERIZABLEOPINTERFACEIMPL_H
