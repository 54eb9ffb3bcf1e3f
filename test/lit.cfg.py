# -*- Python -*-
# lit configuration for the dilattn regression tests (MLIR files run through
# dilattn-opt and checked with FileCheck).

import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "DILATTN"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.dilattn_obj_root, "test")
# Unit/ has a lit site config of its own (GoogleTest format): lit runs it as
# a separate suite.
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%dilattn_src_root", config.dilattn_src_root))
config.substitutions.append(("%dilattn_obj_root", config.dilattn_obj_root))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

tool_dirs = [config.dilattn_tools_dir, config.llvm_tools_dir]
tools = ["dilattn-opt", "dilattn-run"]
llvm_config.add_tool_substitutions(tools, tool_dirs)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.dilattn_tools_dir, append_path=True)

# The CUDA toolkit's ptxas, for the tests that assemble generated PTX (the
# CUDA pipeline itself needs no toolkit: it emits PTX in-process).
import shutil

ptxas = shutil.which("ptxas") or (
    "/usr/local/cuda/bin/ptxas"
    if os.access("/usr/local/cuda/bin/ptxas", os.X_OK)
    else None
)
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
import sys

config.substitutions.append(("%python", sys.executable))

# Building a program against the installed C API (test/Integration/Embed):
# CMake, the generator and the C compiler of this build, and pkg-config.
config.substitutions.append(("%cmake", config.cmake_command))
config.substitutions.append(("%make_program", config.cmake_make_program))
config.substitutions.append(("%c_compiler", config.c_compiler))
if config.dilattn_has_c_api:
    config.available_features.add("c-api")
if shutil.which("pkg-config"):
    config.available_features.add("pkg-config")

# The Python package (python/, docs/python.md) is tested with a Python that
# has PyTorch: $DILATTN_TORCH_PYTHON, else Debian's /usr/bin/python3 with
# python3-torch (scripts/setup installs it).
import subprocess

torch_python = os.environ.get("DILATTN_TORCH_PYTHON", "/usr/bin/python3")
try:
    has_torch = (
        subprocess.run(
            [torch_python, "-c", "import torch"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        ).returncode
        == 0
    )
except (OSError, subprocess.TimeoutExpired):
    has_torch = False
if has_torch:
    config.available_features.add("torch")
    config.substitutions.append(("%torch_python", torch_python))
