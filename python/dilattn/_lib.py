"""Loading libdilattn-c.so and calling it through ctypes.

Everything that touches the C API (include/dilattn-c/dilattn.h) lives here:
finding and loading the library, the function signatures, turning a failing
status into a Python exception with the library's message, and a cache of
configured `dilattn_call` handles. Nothing here imports torch.

Why ctypes and not a compiled extension: the package then needs no compiler,
no Python headers and no build step of its own, works with any CPython 3 and
any torch version, and loads whichever libdilattn-c.so it is pointed at (the
development build, an installed one, the statically linked one for a machine
without LLVM). A run is one foreign call on pointers the caller already has,
so the cost is a few microseconds per call (docs/python.md measures it).
"""

import ctypes
import os
import threading

__all__ = [
    "DilattnError",
    "LibraryNotFoundError",
    "library",
    "library_path",
]

# The interface version this module was written against: every function used
# below exists since version 1 (docs/api.md).
REQUIRED_API_VERSION = 1

# dilattn_status
SUCCESS = 0
ERROR_NULL_ARGUMENT = 1
ERROR_INVALID_ARGUMENT = 2
ERROR_INVALID_CALL = 3
ERROR_UNSUPPORTED = 4
ERROR_TARGET_UNAVAILABLE = 5
ERROR_COMPILE = 6
ERROR_RUNTIME = 7
ERROR_OUT_OF_MEMORY = 8
ERROR_INTERNAL = 9

MODES = {"grouped": 0, "longnet": 1}
OFFSET_RULES = {"cyclic": 0, "blocked": 1}
TARGET_CPU = 0
TARGET_CUDA = 1
DTYPE_F32 = 0
DTYPE_F16 = 1
DTYPE_BF16 = 2


class DilattnError(RuntimeError):
    """A call into libdilattn-c failed; `status` is the dilattn_status and
    `message` the library's message."""

    def __init__(self, status, message):
        self.status = status
        self.message = message
        super().__init__(message)


class DilattnValueError(DilattnError, ValueError):
    """The library refused the arguments: a rule of docs/Contract.md section
    4, or a head dim / element type the target cannot run."""


class LibraryNotFoundError(ImportError):
    """libdilattn-c.so could not be found or loaded."""


_VALUE_STATUSES = (
    ERROR_NULL_ARGUMENT,
    ERROR_INVALID_ARGUMENT,
    ERROR_INVALID_CALL,
    ERROR_UNSUPPORTED,
)

_LIBRARY_NAMES = ("libdilattn-c.so", "libdilattn-c.so.0")


def _candidates():
    """(description, path) of the places searched, in order, after
    DILATTN_LIBRARY: next to the package (pip install copies it there), then
    the build trees of a source checkout this package is part of."""
    here = os.path.dirname(os.path.abspath(__file__))
    places = [("next to the package", here)]
    # python/dilattn/ in a checkout: the repository root is two levels up.
    root = os.path.dirname(os.path.dirname(here))
    build_dir = os.environ.get("DILATTN_BUILD_DIR")
    if build_dir:
        places.append(("$DILATTN_BUILD_DIR/lib", os.path.join(build_dir, "lib")))
    places.append(("the build tree", os.path.join(root, "build", "lib")))
    return [
        (what, os.path.join(folder, name))
        for what, folder in places
        for name in _LIBRARY_NAMES
    ]


_lock = threading.Lock()
_lib = None
_lib_path = None


def _load(path):
    try:
        lib = ctypes.CDLL(path)
    except OSError as error:
        raise LibraryNotFoundError(
            f"dilattn: cannot load libdilattn-c from {path}: {error}"
        ) from None
    if not hasattr(lib, "dilattn_api_version"):
        raise LibraryNotFoundError(
            f"dilattn: {path} is not libdilattn-c (it has no "
            "dilattn_api_version)"
        )
    lib.dilattn_api_version.restype = ctypes.c_int
    lib.dilattn_api_version.argtypes = []
    version = lib.dilattn_api_version()
    if version < REQUIRED_API_VERSION:
        raise LibraryNotFoundError(
            f"dilattn: {path} has C API version {version}, this package "
            f"needs {REQUIRED_API_VERSION} or newer"
        )
    _declare(lib)
    return lib


def _find():
    env = os.environ.get("DILATTN_LIBRARY")
    if env:
        # An explicit choice is never replaced by a guess.
        if not os.path.exists(env):
            raise LibraryNotFoundError(
                f"dilattn: DILATTN_LIBRARY is set to {env}, which does not "
                "exist"
            )
        return env, _load(env)
    tried = []
    for what, path in _candidates():
        if os.path.exists(path):
            return path, _load(path)
        tried.append(f"  {path} ({what})")
    raise LibraryNotFoundError(
        "dilattn: cannot find libdilattn-c.so. Build dilattn (README: "
        "./scripts/setup) and `pip install ./python` from the repository, "
        "or set DILATTN_LIBRARY to the path of libdilattn-c.so. Searched:\n"
        + "\n".join(tried)
    )


def library():
    """The loaded libdilattn-c (a ctypes.CDLL), loading it on first use."""
    global _lib, _lib_path
    if _lib is None:
        with _lock:
            if _lib is None:
                _lib_path, _lib = _find()
    return _lib


def library_path():
    """The path libdilattn-c was (or is now) loaded from."""
    library()
    return _lib_path


def api_version():
    return library().dilattn_api_version()


def _declare(lib):
    c = ctypes
    p = c.c_void_p
    i64p = c.POINTER(c.c_int64)
    signatures = {
        "dilattn_status_string": (c.c_char_p, [c.c_int]),
        "dilattn_context_create": (c.c_int, [c.POINTER(p)]),
        "dilattn_context_destroy": (None, [p]),
        "dilattn_context_last_error": (c.c_char_p, [p]),
        "dilattn_last_error": (c.c_char_p, []),
        "dilattn_call_create": (c.c_int, [p, c.POINTER(p)]),
        "dilattn_call_destroy": (None, [p]),
        "dilattn_call_set_patterns": (c.c_int, [p, i64p, i64p, c.c_size_t]),
        "dilattn_call_set_mode": (c.c_int, [p, c.c_int]),
        "dilattn_call_set_offset_rule": (c.c_int, [p, c.c_int]),
        "dilattn_call_set_causal": (c.c_int, [p, c.c_int]),
        "dilattn_call_set_scale": (c.c_int, [p, c.c_double]),
        "dilattn_compile": (
            c.c_int,
            [p, c.c_int, c.c_int, c.c_int64, c.c_int, c.c_int],
        ),
        # Pointers travel as c_void_p (plain ints): the fastest conversion
        # ctypes has, and what tensor.data_ptr() gives.
        "dilattn_run_host": (
            c.c_int,
            [p, p, p, p, i64p, p, p, i64p, c.c_size_t, p],
        ),
        "dilattn_run_cuda": (
            c.c_int,
            [
                p,
                c.c_int,
                c.c_uint64,
                c.c_uint64,
                c.c_uint64,
                i64p,
                c.c_uint64,
                c.c_uint64,
                i64p,
                c.c_size_t,
                c.c_uint64,
                p,
            ],
        ),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes


def check(status, what):
    """Raises the exception for a failing dilattn_status of `what` (a function
    name), with the calling thread's last error message."""
    if status == SUCCESS:
        return
    lib = library()
    message = lib.dilattn_last_error()
    message = message.decode("utf-8", "replace") if message else ""
    if not message:
        name = lib.dilattn_status_string(status)
        message = f"{what} failed: {name.decode() if name else status}"
    cls = DilattnValueError if status in _VALUE_STATUSES else DilattnError
    raise cls(status, message)


class _Context:
    """The process-wide dilattn_context (the default kernel cache:
    $DILATTN_CACHE_DIR, else ~/.cache/dilattn) and the calls made from it.
    Calls are kept per configuration: a configured call may be compiled and
    run by many threads at once (docs/api.md, Threads)."""

    def __init__(self):
        lib = library()
        handle = ctypes.c_void_p()
        check(
            lib.dilattn_context_create(ctypes.byref(handle)),
            "dilattn_context_create",
        )
        self.handle = handle
        self.calls = {}
        self.lock = threading.Lock()

    def call(self, key):
        """The dilattn_call handle (an int) for key = (segment_lengths,
        dilation_rates, mode, offset_rule, causal, scale), created and set on
        first use. Bad patterns raise DilattnValueError with the contract's
        message."""
        handle = self.calls.get(key)
        if handle is not None:
            return handle
        with self.lock:
            handle = self.calls.get(key)
            if handle is None:
                handle = self._create(*key)
                self.calls[key] = handle
        return handle

    def _create(self, segments, dilations, mode, offset_rule, causal, scale):
        lib = library()
        handle = ctypes.c_void_p()
        check(
            lib.dilattn_call_create(self.handle, ctypes.byref(handle)),
            "dilattn_call_create",
        )
        try:
            count = len(segments)
            array = ctypes.c_int64 * max(count, 1)
            check(
                lib.dilattn_call_set_patterns(
                    handle, array(*segments), array(*dilations), count
                ),
                "dilattn_call_set_patterns",
            )
            check(lib.dilattn_call_set_mode(handle, mode), "set_mode")
            check(
                lib.dilattn_call_set_offset_rule(handle, offset_rule),
                "dilattn_call_set_offset_rule",
            )
            check(
                lib.dilattn_call_set_causal(handle, int(causal)),
                "dilattn_call_set_causal",
            )
            if scale is not None:
                check(
                    lib.dilattn_call_set_scale(handle, float(scale)),
                    "dilattn_call_set_scale",
                )
        except BaseException:
            lib.dilattn_call_destroy(handle)
            raise
        return handle.value


_context = None
_context_lock = threading.Lock()


def context():
    global _context
    if _context is None:
        with _context_lock:
            if _context is None:
                _context = _Context()
    return _context


def call_handle(segments, dilations, mode, offset_rule, causal, scale):
    """The configured dilattn_call for these attributes (cached)."""
    return context().call(
        (tuple(segments), tuple(dilations), mode, offset_rule, causal, scale)
    )
