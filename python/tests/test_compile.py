"""The operator under torch.library and torch.compile (torch >= 2.4), and the
plain-function fallback of older torch."""

import unittest

import common
import reference
import torch

from dilattn.torch import MultiheadDilatedAttention, dilated_attention
from dilattn.torch import _ops


def _version():
    return tuple(int(x) for x in torch.__version__.split(".")[:2])


HAS_COMPILE = hasattr(torch, "compile") and _ops.HAS_CUSTOM_OP
if HAS_COMPILE:
    from torch._dynamo.utils import counters


class FallbackTest(common.TestCase):
    def test_registration_matches_the_torch_version(self):
        if _version() >= (2, 4):
            self.assertTrue(_ops.HAS_CUSTOM_OP)
            self.assertTrue(hasattr(torch.ops.dilattn, "dilated_attention"))
        else:
            # Older torch: the public functions call the implementation
            # directly (no operator registration, torch.compile breaks the
            # graph there).
            self.assertFalse(_ops.HAS_CUSTOM_OP)
            self.assertIs(_ops.dilated_attention_op, _ops.forward_impl)
            q, k, v = (common.randn(1, 8, 2, 8, seed=i) for i in range(3))
            out = dilated_attention(q, k, v, (4, 8), (1, 2))
            ref = reference.dilated_attention(q, k, v, (4, 8), (1, 2))
            self.assertClose(out, ref, torch.float32)


@unittest.skipUnless(HAS_COMPILE, "torch.library.custom_op needs torch >= 2.4")
class CustomOpTest(common.TestCase):
    def args(self, device, dtype, masks=False):
        d = common.head_dim(device, 8)
        q, k, v = (common.randn(2, 16, 4, d, device=device, dtype=dtype,
                                seed=i) for i in range(3))
        padding = attn = None
        if masks:
            padding = torch.zeros(2, 16, dtype=torch.bool, device=device)
            padding[1, -4:] = True
            attn = torch.randn(16, 16, device=device)
        return (q, k, v, padding, attn, [4, 8], [1, 2], "longnet", "cyclic",
                True, None)

    def test_opcheck(self):
        for device, dtype in common.configurations():
            for masks in (False, True):
                with self.subTest(f"{device} {dtype} masks={masks}"):
                    torch.library.opcheck(
                        torch.ops.dilattn.dilated_attention.default,
                        self.args(device, dtype, masks),
                        test_utils=("test_schema", "test_faketensor",
                                    "test_aot_dispatch_dynamic"),
                    )

    def test_op_matches_reference(self):
        for device, dtype in common.configurations():
            args = self.args(device, dtype, masks=True)
            out = torch.ops.dilattn.dilated_attention(*args)
            q, k, v, padding, attn = args[:5]
            ref = reference.dilated_attention(
                q, k, v, (4, 8), (1, 2), mode="longnet", causal=True,
                key_padding_mask=padding, attn_mask=attn)
            self.assertClose(out, ref, dtype, device)

    def test_compiled_module_has_no_graph_breaks(self):
        for device, dtype in common.configurations():
            d = common.head_dim(device, 8)
            e = 4 * d
            torch.manual_seed(0)
            module = MultiheadDilatedAttention(
                e, 4, [1, 2], [4, 8], device=device, dtype=dtype)
            x = common.randn(2, 16, e, device=device, dtype=dtype)
            padding = torch.zeros(2, 16, dtype=torch.bool, device=device)
            padding[0, -3:] = True

            def step(x, padding):
                out, _ = module(x, x, x, is_causal=True,
                                key_padding_mask=padding)
                return out

            with torch.no_grad():
                eager = step(x, padding)
                if hasattr(torch._dynamo, "explain"):
                    torch._dynamo.reset()
                    explained = torch._dynamo.explain(step)(x, padding)
                    self.assertEqual(explained.graph_break_count, 0,
                                     str(explained.break_reasons))
                    self.assertEqual(explained.graph_count, 1)
                # Inductor needs a C++ compiler for CPU code; the CPU run
                # checks the capture with aot_eager, CUDA the full stack.
                # fullgraph=True fails on any graph break.
                backend = "inductor" if device == "cuda" else "aot_eager"
                torch._dynamo.reset()
                counters.clear()
                compiled = torch.compile(step, backend=backend,
                                         fullgraph=True)
                out = compiled(x, padding)
                self.assertEqual(sum(counters["graph_break"].values()), 0)
            tol = 1e-5 if dtype == torch.float32 else 2e-2
            self.assertLess(common.rel_err(out, eager.double()), tol,
                            f"{device} {dtype}")

    def test_compiled_refuses_gradients(self):
        device, dtype = common.configurations()[0]
        d = common.head_dim(device, 8)
        q, k, v = (common.randn(1, 8, 2, d, device=device, dtype=dtype,
                                seed=i).requires_grad_() for i in range(3))

        def f(q, k, v):
            return dilated_attention(q, k, v, (8,), (1,))

        torch._dynamo.reset()
        with self.assertRaisesRegex(Exception, "issue 18"):
            torch.compile(f, backend="aot_eager")(q, k, v)


if __name__ == "__main__":
    common.main()
