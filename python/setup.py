"""Builds the dilattn package and puts libdilattn-c.so next to it.

The library is taken from, in order: $DILATTN_LIBRARY (a path to
libdilattn-c.so), $DILATTN_BUILD_DIR/lib, the build/ folder of this checkout.
Without one the package is built without it and then needs DILATTN_LIBRARY
at run time (it says so). Install from the repository root after the build:

    python3 -m pip install --no-build-isolation ./python
"""

import os
import shutil
import sys

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "libdilattn-c.so"


def find_library():
    env = os.environ.get("DILATTN_LIBRARY")
    if env:
        if not os.path.isfile(env):
            sys.exit(f"setup.py: DILATTN_LIBRARY={env} does not exist")
        return env
    folders = []
    if os.environ.get("DILATTN_BUILD_DIR"):
        folders.append(os.path.join(os.environ["DILATTN_BUILD_DIR"], "lib"))
    folders.append(os.path.join(os.path.dirname(HERE), "build", "lib"))
    for folder in folders:
        path = os.path.join(folder, NAME)
        if os.path.isfile(path):
            return path
    return None


LIBRARY = find_library()


class BuildPyWithLibrary(build_py):
    def run(self):
        super().run()
        if LIBRARY is None:
            print(
                "setup.py: warning: libdilattn-c.so not found (build dilattn "
                "first, or set DILATTN_LIBRARY or DILATTN_BUILD_DIR); the "
                "package will need DILATTN_LIBRARY at run time",
                file=sys.stderr,
            )
            return
        target = os.path.join(self.build_lib, "dilattn", NAME)
        # The file itself, not the symlink chain of the build tree.
        shutil.copyfile(os.path.realpath(LIBRARY), target)
        os.chmod(target, 0o755)
        print(f"setup.py: {LIBRARY} -> dilattn/{NAME}")


class BinaryDistribution(Distribution):
    # With the library inside, the wheel is for this platform only.
    def has_ext_modules(self):
        return LIBRARY is not None


setup(cmdclass={"build_py": BuildPyWithLibrary}, distclass=BinaryDistribution)
