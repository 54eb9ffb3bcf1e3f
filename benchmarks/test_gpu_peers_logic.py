#!/usr/bin/env python3
"""CPU tests of the pure logic of gpu_peers.py (head groups, offsets,
segments, the gather/scatter plan, the dilated mask_mod, effective FLOPs),
with NumPy only: the plan-based seed algorithm in float64 against a float64
loop reference written straight from docs/Contract.md section 1.

usage: /usr/bin/python3 benchmarks/test_gpu_peers_logic.py
"""
import itertools
import math
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_peers as gp  # noqa: E402


def selected_by_definition(N, w, r, o):
    """docs/Contract.md section 1, literally: segment m selects m*w + o + t*r inside
    [m*w, min((m+1)*w, N))."""
    segments = []
    m = 0
    while m * w < N:
        end = min((m + 1) * w, N)
        positions = []
        t = 0
        while m * w + o + t * r < end:
            positions.append(m * w + o + t * r)
            t += 1
        segments.append(positions)
        m += 1
    return segments


def selected_by_parts(N, w, r, o):
    """The positions the plan's parts select, per segment."""
    out = []
    for start, nseg, seglen, L in gp.pattern_parts(N, w, r, o):
        for s in range(nseg):
            base = start + s * seglen
            positions = list(range(base + o, base + seglen, r))
            assert len(positions) == L, (N, w, r, o, L, positions)
            out.append(positions)
    return out


class Logic(unittest.TestCase):
    def test_head_groups(self):
        self.assertEqual(gp.head_groups(16, 4), [(0, 4), (4, 8), (8, 12),
                                                 (12, 16)])
        self.assertEqual(gp.head_groups(7, 3), [(0, 3), (3, 5), (5, 7)])
        self.assertEqual(gp.head_groups(5, 5), [(i, i + 1) for i in range(5)])
        with self.assertRaises(ValueError):
            gp.head_groups(2, 3)

    def test_offsets(self):
        self.assertEqual([gp.grouped_offset(i, r) for i, r in
                          enumerate([1, 2, 4, 8])], [0, 1, 2, 3])
        self.assertEqual(gp.grouped_offset(3, 2), 1)

    def test_parts_match_definition(self):
        for N, w, r in itertools.product([1, 7, 64, 100, 1000],
                                         [1, 3, 16, 64, 128, 2048],
                                         [1, 2, 3, 4, 8, 9]):
            for o in range(min(r, 12)):
                want = [s for s in selected_by_definition(N, w, r, o) if s]
                self.assertEqual(selected_by_parts(N, w, r, o), want,
                                 (N, w, r, o))

    def test_offset_past_short_segment(self):
        # N = 1026, w = 256: the last segment is 2 long; offset 3 selects
        # nothing there.
        parts = gp.pattern_parts(1026, 256, 4, 3)
        self.assertEqual(parts, [(0, 4, 256, 64)])
        # w >= N: one segment.
        self.assertEqual(gp.pattern_parts(1000, 2048, 4, 2),
                         [(0, 1, 1000, 250)])

    def test_effective_flops(self):
        g1 = gp.effective_flops(1, 32768, 16, 128, gp.SEGMENTS, gp.DILATIONS,
                                False)
        self.assertAlmostEqual(g1 / 1e9, 257.7, places=1)
        g4 = gp.effective_flops(1, 131072, 16, 128, gp.SEGMENTS, gp.DILATIONS,
                                False)
        self.assertAlmostEqual(g4 / 1e9, 1030.8, places=1)
        g3 = gp.effective_flops(1, 32768, 16, 128, gp.SEGMENTS, gp.DILATIONS,
                                True)
        self.assertAlmostEqual(g3 * 2, g1)
        # 120 attentions of 2048 x 2048 for G1.
        self.assertAlmostEqual(g1, 120 * 4 * 2048 * 2048 * 128)
        g2 = gp.effective_flops(1, 32768, 16, 64, gp.SEGMENTS, gp.DILATIONS,
                                False)
        self.assertAlmostEqual(g2 * 2, g1)
        longnet = gp.effective_flops(1, 32768, 16, 128, gp.SEGMENTS,
                                     gp.DILATIONS, False, mode="longnet")
        self.assertAlmostEqual(longnet, 4 * g1)

    def test_dilated_mask_matches_definition(self):
        for N, w, r, o, causal in [(40, 8, 2, 1, False), (40, 8, 3, 2, True),
                                   (37, 16, 4, 3, False), (30, 64, 2, 1, True),
                                   (50, 7, 1, 0, False), (12, 4, 8, 0, False)]:
            allowed = np.zeros((N, N), dtype=bool)
            for seg in selected_by_definition(N, w, r, o):
                for x in seg:
                    for y in seg:
                        if not causal or y <= x:
                            allowed[x, y] = True
            qi, ki = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
            got = gp.dilated_mask(qi, ki, w, r, o, causal)
            np.testing.assert_array_equal(got, allowed, (N, w, r, o, causal))
            # Per-head parameters as arrays broadcast too (as in flex).
            got2 = gp.dilated_mask(qi, ki, np.int32(w), np.int32(r),
                                   np.int32(o), causal)
            np.testing.assert_array_equal(got2, allowed)

    def test_seed_plan_against_loop_reference(self):
        rng = np.random.default_rng(7)
        cases = [
            # B, N, H, D, segments, dilations, causal
            (1, 256, 4, 16, [64, 128], [1, 2], False),
            (1, 256, 4, 16, [64, 128], [1, 2], True),
            (2, 100, 5, 8, [16, 32, 64], [1, 2, 4], False),
            (1, 66, 4, 8, [16, 32, 64, 128], [1, 2, 4, 4], True),
            (1, 50, 3, 8, [64, 128, 32], [1, 2, 2], False),
            (1, 1026, 4, 8, [64, 128, 256, 256], [1, 2, 4, 4], False),
            (3, 120, 7, 8, [8, 16, 32, 64, 128], [1, 2, 3, 4, 5], True),
            (1, 64, 2, 8, [4, 16], [8, 2], False),
            (1, 64, 1, 8, [64], [1], True),  # plain causal attention
        ]
        for B, N, H, D, segs, rates, causal in cases:
            q, k, v = (rng.standard_normal((B, N, H, D)) for _ in range(3))
            plan = gp.grouped_plan(N, H, segs, rates)
            scale = 1 / math.sqrt(D)
            got = gp.seed_forward(q, k, v, plan, gp.numpy_attention, causal,
                                  scale)
            want = gp.reference_grouped_loops(q, k, v, segs, rates, causal)
            err = np.linalg.norm(got - want) / np.linalg.norm(want)
            self.assertLess(err, 1e-12, (B, N, H, D, segs, rates, causal))
            # Rows a group does not select are exactly zero in both.
            np.testing.assert_array_equal(got == 0, want == 0)

    def test_plain_attention_equivalence(self):
        # k = 1, w >= N, r = 1 is plain attention (docs/Contract.md section 1).
        rng = np.random.default_rng(3)
        q, k, v = (rng.standard_normal((1, 33, 2, 8)) for _ in range(3))
        want = gp.reference_grouped_loops(q, k, v, [64], [1])
        s = np.einsum("bnhd,bmhd->bhnm", q, k) / math.sqrt(8)
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        dense = np.einsum("bhnm,bmhd->bnhd", p, v)
        np.testing.assert_allclose(want, dense, rtol=1e-12, atol=1e-12)

    def test_gather_is_a_view_for_whole_segments(self):
        x = np.arange(1 * 64 * 4 * 2, dtype=np.float64).reshape(1, 64, 4, 2)
        plan = gp.grouped_plan(64, 4, [16, 32], [1, 2])
        for entry in plan:
            for part in entry["parts"]:
                view = gp.gather_view(x, entry, part)
                self.assertTrue(np.shares_memory(view, x))
                target = gp.scatter_view(x, entry, part)
                self.assertTrue(np.shares_memory(target, x))
                np.testing.assert_array_equal(
                    view.reshape(target.shape), target)

    def test_rotation_sets(self):
        l2 = 50 * 10 ** 6
        g1_inputs = 3 * 32768 * 16 * 128 * 2
        self.assertEqual(gp.rotation_sets(g1_inputs, l2), 1)
        self.assertEqual(gp.rotation_sets(30 * 10 ** 6, l2), 7)
        self.assertEqual(gp.rotation_sets(10 ** 6, l2), 8)

    def test_configs(self):
        self.assertEqual(gp.CONFIGS["G1"]["D"], 128)
        self.assertEqual(gp.CONFIGS["G2"]["D"], 64)
        self.assertTrue(gp.CONFIGS["G3"]["causal"])
        self.assertEqual(gp.CONFIGS["G4"]["N"], 131072)
        for c in gp.CONFIGS.values():
            self.assertEqual(c["segments"], [2048, 4096, 8192, 16384])
            self.assertEqual(c["dilations"], [1, 2, 4, 8])
            plan = gp.grouped_plan(c["N"], c["H"], c["segments"],
                                   c["dilations"])
            # Every G pattern is whole segments of 2048 selected rows.
            for e in plan:
                self.assertEqual(len(e["parts"]), 1)
                self.assertEqual(e["parts"][0][3], 2048)


if __name__ == "__main__":
    unittest.main(verbosity=1)
