"""dilattn: dilated attention (LongNet) compiled by the dilattn JIT.

The package is pure Python over libdilattn-c.so (the C API) through ctypes.
The library is loaded on first use, from $DILATTN_LIBRARY, next to this
package (where `pip install` puts it), or from the build tree of the
checkout this package is part of. PyTorch modules: dilattn.torch.
"""

from ._lib import (
    DilattnError,
    DilattnValueError,
    LibraryNotFoundError,
    api_version,
    library_path,
)

__version__ = "0.1.0"

__all__ = [
    "DilattnError",
    "DilattnValueError",
    "LibraryNotFoundError",
    "api_version",
    "library_path",
    "__version__",
]
