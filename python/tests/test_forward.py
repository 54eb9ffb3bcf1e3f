"""Forward results of dilattn.torch against the float64 reference
(reference.py, docs/Contract.md sections 1 and 3): both modes, both offset
rules, causal, ragged segments, offsets past a segment's end, masks in
PyTorch's conventions, the modules, zero-copy and non-contiguous inputs."""

import math

import common
import reference
import torch

from dilattn.torch import DilatedAttention, dilated_attention
from dilattn.torch import _ops

# (segment_lengths, dilation_rates, (B, N, H)): plain attention (k = 1,
# w >= N, r = 1), several patterns, N not a multiple of w (ragged last
# segments), H not a multiple of k, and N = 17 with r = 4, whose last segment
# of length 1 lies before offsets 1..3 (an offset past a segment's end).
PATTERNS = [
    ((16,), (1,), (2, 16, 2)),
    ((4, 8), (1, 2), (2, 16, 4)),
    ((4, 8, 16), (1, 2, 4), (1, 20, 5)),
    ((8, 16), (4, 2), (2, 17, 4)),
]
MODES = [("grouped", "cyclic"), ("longnet", "cyclic"), ("longnet", "blocked")]


def inputs(device, dtype, b, n, h, d, seed=0):
    return [
        common.randn(b, n, h, d, device=device, dtype=dtype, seed=seed + i)
        for i in range(3)
    ]


class ForwardTest(common.TestCase):
    def test_patterns_modes_causal(self):
        for device, dtype in common.configurations():
            for segments, dilations, (b, n, h) in PATTERNS:
                d = common.head_dim(device, 8)
                q, k, v = inputs(device, dtype, b, n, h, d)
                for mode, rule in MODES:
                    for causal in (False, True):
                        what = (
                            f"{device} {dtype} {segments} {dilations} "
                            f"{(b, n, h, d)} {mode} {rule} causal={causal}"
                        )
                        with self.subTest(what):
                            out = dilated_attention(
                                q, k, v, segments, dilations,
                                is_causal=causal, mode=mode,
                                offset_rule=rule,
                            )
                            ref = reference.dilated_attention(
                                q, k, v, segments, dilations, mode=mode,
                                offset_rule=rule, causal=causal,
                            )
                            self.assertEqual(out.shape, q.shape)
                            self.assertEqual(out.dtype, dtype)
                            self.assertEqual(out.device, q.device)
                            self.assertClose(out, ref, dtype, what)

    def test_scale(self):
        for device, dtype in common.configurations():
            d = common.head_dim(device, 8)
            q, k, v = inputs(device, dtype, 1, 16, 2, d, seed=3)
            for mode in ("grouped", "longnet"):
                out = dilated_attention(
                    q, k, v, (8, 16), (1, 2), softmax_scale=0.3, mode=mode
                )
                ref = reference.dilated_attention(
                    q, k, v, (8, 16), (1, 2), mode=mode, scale=0.3
                )
                self.assertClose(out, ref, dtype, f"{device} {mode}")
                default = dilated_attention(q, k, v, (8, 16), (1, 2), mode=mode)
                self.assertGreater(common.rel_err(out, default.double()), 1e-3)

    def test_plain_attention(self):
        # Section 1.7: k = 1, w >= N, r = 1 is ordinary attention.
        for device, dtype in common.configurations():
            d = common.head_dim(device, 8)
            q, k, v = inputs(device, dtype, 2, 12, 3, d, seed=5)
            for causal in (False, True):
                out = dilated_attention(q, k, v, (16,), (1,), is_causal=causal)
                qd, kd, vd = (t.double().transpose(1, 2) for t in (q, k, v))
                scores = qd @ kd.transpose(-1, -2) / math.sqrt(d)
                if causal:
                    upper = torch.ones(12, 12, dtype=torch.bool).triu(1)
                    scores = scores.masked_fill(upper.to(device), -math.inf)
                ref = (scores.softmax(-1) @ vd).transpose(1, 2)
                self.assertClose(out, ref, dtype, f"causal={causal}")


class MaskTest(common.TestCase):
    B, N, H = 2, 16, 4
    SEGMENTS, DILATIONS = (4, 16), (1, 2)

    def check(self, device, dtype, what, causal=False, mode="grouped", **masks):
        d = common.head_dim(device, 8)
        q, k, v = inputs(device, dtype, self.B, self.N, self.H, d, seed=11)
        with self.subTest(f"{device} {dtype} {mode} {what} causal={causal}"):
            out = dilated_attention(
                q, k, v, self.SEGMENTS, self.DILATIONS, is_causal=causal,
                mode=mode, **masks,
            )
            ref = reference.dilated_attention(
                q, k, v, self.SEGMENTS, self.DILATIONS, mode=mode,
                causal=causal, **masks,
            )
            self.assertClose(out, ref, dtype, what)
            return out

    def masks(self, device):
        g = torch.Generator().manual_seed(7)
        b, n, h = self.B, self.N, self.H
        padding = torch.rand(b, n, generator=g) < 0.3
        return {
            "padding": padding.to(device),
            "bool2": (torch.rand(n, n, generator=g) < 0.3).to(device),
            "bool3": (torch.rand(b, n, n, generator=g) < 0.3).to(device),
            "bool4": (torch.rand(b, h, n, n, generator=g) < 0.3).to(device),
            "float2": torch.randn(n, n, generator=g).to(device),
            "float4": torch.randn(b, h, n, n, generator=g).to(device),
        }

    def test_masks(self):
        for device, dtype in common.configurations():
            m = self.masks(device)
            for mode in ("grouped", "longnet"):
                for causal in (False, True):
                    args = dict(causal=causal, mode=mode)
                    self.check(device, dtype, "padding",
                               key_padding_mask=m["padding"], **args)
                    for name in ("bool2", "bool3", "bool4", "float2",
                                 "float4"):
                        self.check(device, dtype, name, attn_mask=m[name],
                                   **args)
                    self.check(device, dtype, "padding+bool3",
                               key_padding_mask=m["padding"],
                               attn_mask=m["bool3"], **args)
                    self.check(device, dtype, "padding+float2",
                               key_padding_mask=m["padding"],
                               attn_mask=m["float2"], **args)

    def test_float_mask_with_minus_infinity(self):
        for device, dtype in common.configurations():
            m = self.masks(device)
            bias = m["float2"].masked_fill(m["bool2"], -math.inf)
            self.check(device, dtype, "float -inf", attn_mask=bias)
            # A float mask of another floating dtype is taken as float32.
            self.check(device, dtype, "float64 bias", attn_mask=bias.double())

    def test_broadcast_forms(self):
        # (1, N, N), (1, 1, N, N) are (N, N); (B, 1, N, N) is (B, N, N).
        for device, dtype in common.configurations():
            m = self.masks(device)
            d = common.head_dim(device, 8)
            q, k, v = inputs(device, dtype, self.B, self.N, self.H, d, seed=2)

            def run(mask):
                return dilated_attention(
                    q, k, v, self.SEGMENTS, self.DILATIONS, attn_mask=mask
                )

            base2, base3 = run(m["bool2"]), run(m["bool3"])
            self.assertTrue(torch.equal(run(m["bool2"][None]), base2))
            self.assertTrue(torch.equal(run(m["bool2"][None, None]), base2))
            self.assertTrue(torch.equal(run(m["bool3"][:, None]), base3))

    def test_fully_masked_rows_are_zero(self):
        # Section 3.2: a row left with no allowed key gives 0, never NaN.
        for device, dtype in common.configurations():
            padding = torch.zeros(self.B, self.N, dtype=torch.bool)
            padding[1] = True  # every key of batch 1 padded
            for mode in ("grouped", "longnet"):
                out = self.check(device, dtype, "all padded", mode=mode,
                                 key_padding_mask=padding.to(device))
                self.assertEqual(float(out[1].abs().max()), 0.0)
            rows = torch.zeros(self.N, self.N, dtype=torch.bool)
            rows[3] = True  # query 3 may attend nothing
            out = self.check(device, dtype, "row masked",
                             attn_mask=rows.to(device))
            self.assertEqual(float(out[:, 3].abs().max()), 0.0)


class ModuleAndLayoutTest(common.TestCase):
    def test_module_matches_functional(self):
        for device, dtype in common.configurations():
            d = common.head_dim(device, 8)
            q, k, v = inputs(device, dtype, 2, 16, 4, d, seed=4)
            padding = torch.zeros(2, 16, dtype=torch.bool, device=device)
            padding[0, -3:] = True
            for mode, rule in MODES:
                module = DilatedAttention(
                    [4, 8], [1, 2], softmax_scale=0.25, mode=mode,
                    offset_rule=rule,
                )
                out = module(q, k, v, is_causal=True,
                             key_padding_mask=padding)
                ref = reference.dilated_attention(
                    q, k, v, (4, 8), (1, 2), mode=mode, offset_rule=rule,
                    causal=True, scale=0.25, key_padding_mask=padding,
                )
                self.assertClose(out, ref, dtype, f"{device} {mode} {rule}")

    def test_non_contiguous_inputs(self):
        for device, dtype in common.configurations():
            d = common.head_dim(device, 8)
            # (B, H, N, D) storage viewed as (B, N, H, D): not contiguous.
            q, k, v = (t.transpose(1, 2) for t in
                       inputs(device, dtype, 2, 4, 16, d, seed=9))
            self.assertFalse(q.is_contiguous())
            out = dilated_attention(q, k, v, (8,), (2,))
            self.assertTrue(out.is_contiguous())
            same = dilated_attention(
                q.contiguous(), k.contiguous(), v.contiguous(), (8,), (2,)
            )
            self.assertTrue(torch.equal(out, same))
            ref = reference.dilated_attention(q, k, v, (8,), (2,))
            self.assertClose(out, ref, dtype)

    def test_contiguous_inputs_are_not_copied(self):
        # The library gets the tensors' own data pointers.
        lib = _ops._lib.library()
        seen = []
        for device, dtype in common.configurations():
            name = "dilattn_run_host" if device == "cpu" else "dilattn_run_cuda"
            original = getattr(lib, name)

            def spy(*args, original=original):
                seen.append(args)
                return original(*args)

            setattr(lib, name, spy)
            try:
                d = common.head_dim(device, 8)
                q, k, v = inputs(device, dtype, 1, 8, 2, d)
                out = dilated_attention(q, k, v, (8,), (1,))
            finally:
                setattr(lib, name, original)
            args = seen[-1]
            pointers = args[1:4] if device == "cpu" else args[2:5]
            self.assertEqual(
                list(pointers), [q.data_ptr(), k.data_ptr(), v.data_ptr()]
            )
            output = args[-1] if device == "cpu" else args[-2]
            self.assertEqual(output, out.data_ptr())

    def test_large_cpu_output(self):
        # Outputs of 4 MiB or more get transparent huge pages (_ops.py):
        # a 4 MiB output against the heads run one by one (with k = 1 the
        # heads are independent; each of those outputs is 1 MiB).
        q, k, v = inputs("cpu", torch.float32, 2, 2048, 4, 64, seed=21)
        out = dilated_attention(q, k, v, (256,), (2,), is_causal=True)
        self.assertGreaterEqual(out.numel() * 4, 4 << 20)
        for j in range(4):
            head = dilated_attention(
                q[:, :, j:j + 1], k[:, :, j:j + 1], v[:, :, j:j + 1],
                (256,), (2,), is_causal=True)
            self.assertLess(common.rel_err(out[:, :, j:j + 1], head.double()),
                            1e-6)

    def test_no_grad_and_inference_mode(self):
        device, dtype = common.configurations()[0]
        d = common.head_dim(device, 8)
        q, k, v = (t.requires_grad_() for t in inputs(device, dtype, 1, 8, 2, d))
        with torch.no_grad():
            a = dilated_attention(q, k, v, (8,), (1,))
        with torch.inference_mode():
            b = dilated_attention(q, k, v, (8,), (1,))
        self.assertTrue(torch.equal(a, b))
        self.assertFalse(a.requires_grad)


if __name__ == "__main__":
    common.main()
