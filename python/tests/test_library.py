"""Finding libdilattn-c.so: $DILATTN_LIBRARY, next to the package (where
`pip install` puts it), the build tree; and the errors when it cannot be
found or is not the library. Each case runs in a fresh interpreter."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import common

SOURCE = common.PACKAGE_ROOT  # python/ of the checkout


def library_from_environment():
    """The libdilattn-c.so the test run uses ($DILATTN_LIBRARY, set by the
    lit test), or the one the package finds by itself."""
    import dilattn

    return dilattn.library_path()


def run(code, env_changes, cwd=None, path=None):
    env = dict(os.environ)
    for name in ("DILATTN_LIBRARY", "DILATTN_BUILD_DIR", "PYTHONPATH"):
        env.pop(name, None)
    env.update(env_changes)
    if path is not None:
        env["PYTHONPATH"] = path
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=cwd or tempfile.gettempdir(),
        capture_output=True,
        text=True,
        timeout=300,
    )


# Import the package, then use it: the library loads on first use.
USE = """
import torch
import dilattn
from dilattn.torch import DilatedAttention
q = torch.zeros(1, 8, 1, 4)
try:
    DilatedAttention([8], [1])(q, q, q)
except dilattn.LibraryNotFoundError as e:
    print("LibraryNotFoundError:", e)
else:
    print("loaded", dilattn.library_path())
"""


class LibraryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.library = library_from_environment()
        cls.tmp = tempfile.mkdtemp(prefix="dilattn-python-test-")
        # A copy of the package with nothing beside it: no library, no build
        # tree.
        cls.bare = os.path.join(cls.tmp, "bare")
        shutil.copytree(os.path.join(SOURCE, "dilattn"),
                        os.path.join(cls.bare, "dilattn"),
                        ignore=shutil.ignore_patterns("*.so", "__pycache__"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_missing_library_names_the_places_searched(self):
        result = run(USE, {}, path=self.bare)
        self.assertEqual(result.returncode, 0, result.stderr)
        out = result.stdout
        self.assertIn("LibraryNotFoundError: dilattn: cannot find "
                      "libdilattn-c.so", out)
        self.assertIn("set DILATTN_LIBRARY", out)
        self.assertIn(os.path.join(self.bare, "dilattn", "libdilattn-c.so")
                      + " (next to the package)", out)

    def test_dilattn_library_that_does_not_exist(self):
        missing = os.path.join(self.tmp, "nowhere", "libdilattn-c.so")
        result = run(USE, {"DILATTN_LIBRARY": missing}, path=self.bare)
        self.assertIn(f"DILATTN_LIBRARY is set to {missing}, which does not "
                      "exist", result.stdout)

    def test_dilattn_library_that_is_not_a_library(self):
        text = os.path.join(self.tmp, "libnot.so")
        with open(text, "w") as f:
            f.write("not an ELF file\n")
        result = run(USE, {"DILATTN_LIBRARY": text}, path=self.bare)
        self.assertIn(f"cannot load libdilattn-c from {text}", result.stdout)

    def test_dilattn_library_that_is_another_library(self):
        # A shared library that loads but is not dilattn's: libz, by the
        # path this process mapped it from.
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("z")
        if name is None:
            self.skipTest("no libz")
        ctypes.CDLL(name)
        with open("/proc/self/maps") as maps:
            paths = [line.split()[-1] for line in maps if "/libz.so" in line]
        if not paths:
            self.skipTest("libz is not mapped from a file")
        other = paths[0]
        result = run(USE, {"DILATTN_LIBRARY": other}, path=self.bare)
        self.assertIn(f"{other} is not libdilattn-c", result.stdout)

    def test_dilattn_library_found(self):
        result = run(USE, {"DILATTN_LIBRARY": self.library}, path=self.bare)
        self.assertIn(f"loaded {self.library}", result.stdout, result.stderr)

    def test_build_tree_of_the_checkout(self):
        # A checkout layout: <root>/python/dilattn and <root>/build/lib.
        root = os.path.join(self.tmp, "checkout")
        shutil.copytree(os.path.join(self.bare, "dilattn"),
                        os.path.join(root, "python", "dilattn"))
        os.makedirs(os.path.join(root, "build", "lib"))
        os.symlink(self.library,
                   os.path.join(root, "build", "lib", "libdilattn-c.so"))
        result = run(USE, {}, path=os.path.join(root, "python"))
        self.assertIn("loaded " + os.path.join(root, "build", "lib",
                                               "libdilattn-c.so"),
                      result.stdout, result.stderr)

    def test_pip_install_puts_the_library_next_to_the_package(self):
        for module in ("pip", "setuptools"):
            found = subprocess.run([sys.executable, "-c", f"import {module}"],
                                   capture_output=True).returncode == 0
            if not found:
                self.skipTest(f"{sys.executable} has no {module}")
        source = os.path.join(self.tmp, "source")
        shutil.copytree(SOURCE, source,
                        ignore=shutil.ignore_patterns(
                            "__pycache__", "build", "*.egg-info", "*.so"))
        site = os.path.join(self.tmp, "site")
        install = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-build-isolation",
             "--no-deps", "--no-index", "--disable-pip-version-check",
             "--no-cache-dir", "--target", site, source],
            env=dict(os.environ, DILATTN_LIBRARY=self.library,
                     PIP_ROOT_USER_ACTION="ignore"),
            capture_output=True, text=True, timeout=300)
        self.assertEqual(install.returncode, 0,
                         install.stdout + install.stderr)
        installed = os.path.join(site, "dilattn", "libdilattn-c.so")
        self.assertTrue(os.path.isfile(installed))
        # Without DILATTN_LIBRARY, from another folder: the installed copy.
        result = run(USE, {}, path=site)
        self.assertIn(f"loaded {installed}", result.stdout, result.stderr)


if __name__ == "__main__":
    common.main()
