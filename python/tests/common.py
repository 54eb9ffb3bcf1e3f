"""What the Python tests share: the package under test on sys.path, the
devices and dtypes to run on, and the contract's tolerances.

Environment:
  DILATTN_TEST_INSTALLED=1  import the installed dilattn instead of the one
                            in python/ beside this folder;
  DILATTN_TEST_CUDA=1       also run every test on CUDA tensors (float32,
                            float16, bfloat16), and fail when CUDA is not
                            available instead of skipping;
  DILATTN_TEST_CPU=0        skip the CPU runs (with DILATTN_TEST_CUDA=1).
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)
if os.environ.get("DILATTN_TEST_INSTALLED") != "1":
    sys.path.insert(0, PACKAGE_ROOT)
sys.path.insert(0, HERE)

import torch  # noqa: E402

# docs/Contract.md section 1.8: ||out - ref|| / ||ref|| against float64.
TOLERANCE = {
    torch.float32: 1e-5,
    torch.float16: 1e-2,
    torch.bfloat16: 1e-2,
}

WANT_CUDA = os.environ.get("DILATTN_TEST_CUDA") == "1"
if WANT_CUDA and not torch.cuda.is_available():
    raise RuntimeError("DILATTN_TEST_CUDA=1 but torch.cuda is not available")


def configurations():
    """(device, dtype) pairs every forward test runs on."""
    configs = []
    if os.environ.get("DILATTN_TEST_CPU", "1") != "0":
        configs.append(("cpu", torch.float32))
    if WANT_CUDA:
        for dtype in (torch.float32, torch.float16, torch.bfloat16):
            configs.append(("cuda", dtype))
    return configs


def head_dim(device, wanted):
    """CUDA runs head dims 64 and 128 only (docs/api.md); the CPU any."""
    return wanted if device == "cpu" else 64


def rel_err(out, ref):
    out = out.detach().to("cpu", torch.float64)
    ref = ref.to(torch.float64)
    norm = ref.norm()
    if norm == 0:
        return float(out.norm())
    return float((out - ref).norm() / norm)


def randn(*shape, device="cpu", dtype=torch.float32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=generator, dtype=torch.float64).to(
        device, dtype
    )


class TestCase(unittest.TestCase):
    def assertClose(self, out, ref, dtype, what=""):
        self.assertFalse(
            bool(torch.isnan(out).any()), f"NaN in the output {what}"
        )
        err = rel_err(out, ref)
        self.assertLess(err, TOLERANCE[dtype], f"rel_err {err:.3g} {what}")


def main():
    unittest.main(verbosity=2)
