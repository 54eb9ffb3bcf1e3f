"""Bad calls are refused before any work, with messages that name the rule
and the values (docs/Contract.md section 4): dtypes, devices, shapes,
patterns, masks, modes, and gradients (the backward pass is issue 18)."""

import unittest
import warnings

import common
import torch

import dilattn
from dilattn.torch import (
    DilatedAttention,
    MultiheadDilatedAttention,
    dilated_attention,
)


def qkv(b=1, n=8, h=2, d=8, dtype=torch.float32, device="cpu"):
    return [common.randn(b, n, h, d, dtype=dtype, device=device, seed=i)
            for i in range(3)]


class RefusalTest(common.TestCase):
    def refuses(self, error, pattern, fn, *args, **kwargs):
        with self.assertRaisesRegex(error, pattern):
            fn(*args, **kwargs)

    def test_cpu_dtypes(self):
        for dtype in (torch.float64, torch.float16, torch.bfloat16,
                      torch.int32):
            q, k, v = (t.to(dtype) for t in qkv())
            self.refuses(
                TypeError,
                "CPU tensors must be float32, got "
                f"{str(dtype)[6:]} \\(CUDA tensors may be float16, bfloat16 "
                "or float32\\)",
                dilated_attention, q, k, v, (8,), (1,))

    def test_mixed_dtypes(self):
        q, k, v = qkv()
        self.refuses(TypeError, "key is float64, query float32",
                     dilated_attention, q, k.double(), v, (8,), (1,))

    def test_devices(self):
        q, k, v = qkv()
        meta = torch.empty(1, 8, 2, 8, device="meta")
        self.refuses(ValueError, "key is on meta, query on cpu",
                     dilated_attention, q, meta, v, (8,), (1,))
        self.refuses(ValueError, "on the CPU or a CUDA device, got meta",
                     dilated_attention, meta, meta, meta, (8,), (1,))

    def test_ranks_and_shapes(self):
        q, k, v = qkv()
        self.refuses(ValueError,
                     r"query must have 4 dimensions \(B, N, H, D\), got shape "
                     r"\(8, 2, 8\)",
                     dilated_attention, q[0], k, v, (8,), (1,))
        self.refuses(ValueError,
                     r"key must have the shape of query \(1, 8, 2, 8\), got "
                     r"\(1, 8, 2, 4\)",
                     dilated_attention, q, k[..., :4], v, (8,), (1,))
        self.refuses(TypeError, "query must be a torch.Tensor, got list",
                     dilated_attention, [1.0], k, v, (8,), (1,))

    def test_patterns(self):
        q, k, v = qkv()
        cases = [
            ((), (), ValueError, r"must not be empty \(got 0 and 0 entries\)"),
            ((8, 4), (1,), ValueError,
             r"must have the same length \(2 vs 1\)"),
            ((8, 0), (1, 1), ValueError,
             "segment_lengths\\[1\\] must be positive, got 0"),
            ((8,), (-2,), ValueError,
             "dilation_rates\\[0\\] must be positive, got -2"),
            ((8.5,), (1,), TypeError,
             "segment_lengths\\[0\\] must be an int, got 8.5"),
        ]
        for segments, dilations, error, message in cases:
            with self.subTest(segments=segments, dilations=dilations):
                self.refuses(error, message, dilated_attention, q, k, v,
                             segments, dilations)
                self.refuses(error, message, DilatedAttention, segments,
                             dilations)
        # H < k in grouped mode: the library's rule C10.
        self.refuses(
            dilattn.DilattnValueError,
            r"num_heads \(2\) must be >= the number of patterns \(3\) in "
            "grouped mode",
            dilated_attention, q, k, v, (2, 4, 8), (1, 1, 1))

    def test_modes_and_scale(self):
        q, k, v = qkv()
        self.refuses(ValueError, "mode must be 'grouped' or 'longnet', got "
                     "'dilated'", dilated_attention, q, k, v, (8,), (1,),
                     mode="dilated")
        self.refuses(ValueError, "offset_rule must be 'cyclic' or 'blocked'",
                     DilatedAttention, (8,), (1,), offset_rule="random")
        self.refuses(ValueError, "softmax_scale must be finite, got inf",
                     DilatedAttention, (8,), (1,),
                     softmax_scale=float("inf"))

    def test_masks(self):
        q, k, v = qkv(b=2)
        self.refuses(TypeError,
                     "key_padding_mask must be a bool tensor .* got float32",
                     dilated_attention, q, k, v, (8,), (1,),
                     key_padding_mask=torch.zeros(2, 8))
        self.refuses(ValueError,
                     r"key_padding_mask must have shape \(B, N\) = \(2, 8\), "
                     r"got \(2, 7\)",
                     dilated_attention, q, k, v, (8,), (1,),
                     key_padding_mask=torch.zeros(2, 7, dtype=torch.bool))
        self.refuses(TypeError, "attn_mask must be bool .* or floating point "
                     ".* got int64", dilated_attention, q, k, v, (8,), (1,),
                     attn_mask=torch.zeros(8, 8, dtype=torch.long))
        self.refuses(ValueError,
                     r"attn_mask must have shape \(N, N\), \(B, N, N\) or "
                     r"\(B, H, N, N\), got \(8\)",
                     dilated_attention, q, k, v, (8,), (1,),
                     attn_mask=torch.zeros(8, dtype=torch.bool))
        # Sizes that do not match: the library's message.
        self.refuses(dilattn.DilattnValueError, "attn_mask must have shape",
                     dilated_attention, q, k, v, (8,), (1,),
                     attn_mask=torch.zeros(7, 8, dtype=torch.bool))

    def test_gradients_are_refused(self):
        q, k, v = qkv()
        q.requires_grad_()
        message = ("query requires grad, but the backward pass of dilated "
                   "attention is not available yet \\(issue 18\\)")
        self.refuses(RuntimeError, message, dilated_attention, q, k, v, (8,),
                     (1,))
        self.refuses(RuntimeError, message, DilatedAttention((8,), (1,)), q,
                     k, v)
        bias = torch.zeros(8, 8, requires_grad=True)
        self.refuses(RuntimeError, "attn_mask requires grad",
                     dilated_attention, *qkv(), (8,), (1,), attn_mask=bias)
        # A module whose parameters require grad: refused outside no_grad.
        module = MultiheadDilatedAttention(16, 2, [1], [8])
        x = torch.randn(1, 8, 16)
        self.refuses(RuntimeError, "not available yet \\(issue 18\\)",
                     module, x, x, x)
        with torch.no_grad():
            out, _ = module(x, x, x)
        self.assertEqual(out.shape, x.shape)

    def test_multihead_shapes(self):
        self.refuses(ValueError,
                     r"embed_dim \(30\) must be a positive multiple of "
                     r"num_heads \(4\)",
                     MultiheadDilatedAttention, 30, 4, [1], [8])
        module = MultiheadDilatedAttention(16, 2, [1], [8])
        with torch.no_grad():
            self.refuses(ValueError, r"query must have shape \(B, N, E\) with "
                         r"E = embed_dim = 16, got \(1, 8, 12\)",
                         module, torch.zeros(1, 8, 12), torch.zeros(1, 8, 16),
                         torch.zeros(1, 8, 16))

    def test_dropout_warns(self):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            DilatedAttention((8,), (1,), attention_dropout=0.1)
            MultiheadDilatedAttention(16, 2, [1], [8], dropout=0.2)
            DilatedAttention((8,), (1,))
        messages = [str(w.message) for w in caught]
        self.assertEqual(len(messages), 2, messages)
        self.assertIn("attention dropout (0.1) is not implemented", messages[0])

    def test_cuda_without_gpu(self):
        if torch.cuda.is_available():
            self.skipTest("a GPU is present")
        # No CUDA tensors can exist here; the library itself says why the
        # target is unavailable (docs/api.md).
        lib = dilattn._lib
        handle = lib.call_handle((8,), (1,), 0, 0, False, None)
        status = lib.library().dilattn_compile(handle, lib.TARGET_CUDA,
                                               lib.DTYPE_BF16, 64, 0, 0)
        with self.assertRaises(dilattn.DilattnError) as caught:
            lib.check(status, "dilattn_compile")
        self.assertEqual(caught.exception.status, lib.ERROR_TARGET_UNAVAILABLE)
        self.assertNotIsInstance(caught.exception, ValueError)
        self.assertTrue(str(caught.exception))


@unittest.skipUnless(common.WANT_CUDA, "CUDA tests: DILATTN_TEST_CUDA=1")
class CudaRefusalTest(common.TestCase):
    def test_cuda_dtypes(self):
        q, k, v = qkv(d=64, dtype=torch.float64, device="cuda")
        with self.assertRaisesRegex(
                TypeError, "CUDA tensors must be float16, bfloat16 or "
                "float32, got float64"):
            dilated_attention(q, k, v, (8,), (1,))

    def test_cuda_head_dims(self):
        # The library names the head dims target cuda runs (docs/api.md).
        q, k, v = qkv(d=32, dtype=torch.bfloat16, device="cuda")
        with self.assertRaisesRegex(dilattn.DilattnValueError,
                                    "head dim 32 .*supported"):
            dilated_attention(q, k, v, (8,), (1,))

    def test_mask_on_another_device(self):
        q, k, v = qkv(d=64, dtype=torch.bfloat16, device="cuda")
        padding = torch.zeros(1, 8, dtype=torch.bool)
        with self.assertRaisesRegex(ValueError, "key_padding_mask is on cpu, "
                                    "query on cuda:0"):
            dilated_attention(q, k, v, (8,), (1,), key_padding_mask=padding)


if __name__ == "__main__":
    common.main()
