"""MultiheadDilatedAttention: docs/Contract.md section 2 against the float64
reference, the seed package's parameter names and checkpoints, MAGNETO
initialisation."""

import math

import common
import reference
import torch

from dilattn.torch import MultiheadDilatedAttention

# The state_dict keys of dilated_attention_pytorch's MultiheadDilatedAttention
# (q_proj, k_proj, v_proj: nn.Linear; norm: nn.LayerNorm or None; out_proj:
# nn.Linear; its DilatedAttention holds no parameters).
SEED_KEYS = [
    "q_proj.weight", "q_proj.bias",
    "k_proj.weight", "k_proj.bias",
    "v_proj.weight", "v_proj.bias",
    "norm.weight", "norm.bias",
    "out_proj.weight", "out_proj.bias",
]


def seed_checkpoint(embed_dim, bias=True, layer_norm=True, seed=0):
    """A state dict shaped as the seed package saves one, with random
    values (so that loading it is visible in the outputs)."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        state[f"{name}.weight"] = torch.randn(embed_dim, embed_dim, generator=g) / 8
        if bias:
            state[f"{name}.bias"] = torch.randn(embed_dim, generator=g) / 8
    if layer_norm:
        state["norm.weight"] = 1 + torch.randn(embed_dim, generator=g) / 8
        state["norm.bias"] = torch.randn(embed_dim, generator=g) / 8
    return state


class MultiheadTest(common.TestCase):
    def test_against_reference(self):
        for device, dtype in common.configurations():
            d = common.head_dim(device, 8)
            h = 4
            e = h * d
            for mode in ("grouped", "longnet"):
                for layer_norm in (True, False):
                    for bias in (True, False):
                        torch.manual_seed(0)
                        module = MultiheadDilatedAttention(
                            e, h, dilation_rates=[1, 2], segment_lengths=[4, 8],
                            bias=bias, layer_norm=layer_norm, mode=mode,
                            device=device, dtype=dtype,
                        )
                        module.load_state_dict(
                            seed_checkpoint(e, bias, layer_norm), strict=True
                        )
                        x = common.randn(2, 16, e, device=device, dtype=dtype)
                        y = common.randn(2, 16, e, device=device, dtype=dtype,
                                         seed=1)
                        padding = torch.zeros(2, 16, dtype=torch.bool,
                                              device=device)
                        padding[1, -5:] = True
                        what = f"{device} {dtype} {mode} ln={layer_norm} bias={bias}"
                        with self.subTest(what), torch.no_grad():
                            out, weights = module(x, y, y, is_causal=True,
                                                  key_padding_mask=padding)
                            self.assertIsNone(weights)
                            self.assertEqual(out.shape, x.shape)
                            ref = reference.multihead_dilated_attention(
                                module, x, y, y, is_causal=True,
                                key_padding_mask=padding)
                            # The projections run in the tensors' dtype: allow
                            # the rounding of three more matmuls in float32.
                            tol = 1e-4 if dtype == torch.float32 else 5e-2
                            err = common.rel_err(out, ref)
                            self.assertLess(err, tol, what)

    def test_parameter_names_match_the_seed_package(self):
        module = MultiheadDilatedAttention(64, 4, [1, 2], [8, 16])
        self.assertEqual(sorted(module.state_dict()), sorted(SEED_KEYS))
        no_norm = MultiheadDilatedAttention(64, 4, [1], [8], layer_norm=False)
        self.assertNotIn("norm.weight", no_norm.state_dict())
        self.assertIsNone(no_norm.norm)
        no_bias = MultiheadDilatedAttention(64, 4, [1], [8], bias=False)
        self.assertNotIn("q_proj.bias", no_bias.state_dict())

    def test_load_seed_checkpoint_strict(self):
        module = MultiheadDilatedAttention(32, 4, [1, 2], [8, 16])
        state = seed_checkpoint(32)
        module.load_state_dict(state, strict=True)
        for name, tensor in module.state_dict().items():
            self.assertTrue(torch.equal(tensor, state[name]), name)
        # A checkpoint of another shape is refused, as by any nn.Module.
        with self.assertRaises(RuntimeError):
            module.load_state_dict(seed_checkpoint(64), strict=True)

    def test_magneto_initialisation(self):
        torch.manual_seed(0)
        e = 256
        gamma = 0.5
        module = MultiheadDilatedAttention(e, 4, [1], [8], gamma_init=gamma)
        xavier = math.sqrt(2.0 / (e + e))  # xavier normal std, gain 1
        for name, gain in (("q_proj", 1.0), ("k_proj", 1.0),
                           ("v_proj", gamma), ("out_proj", gamma)):
            layer = getattr(module, name)
            std = float(layer.weight.std())
            # 65536 samples: the sample std is within 2% of the true one.
            self.assertAlmostEqual(std / (gain * xavier), 1.0, delta=0.02,
                                   msg=name)
            self.assertAlmostEqual(float(layer.weight.mean()), 0.0, delta=1e-3)
            self.assertEqual(float(layer.bias.abs().max()), 0.0)
        self.assertTrue(torch.equal(module.norm.weight, torch.ones(e)))
        self.assertTrue(torch.equal(module.norm.bias, torch.zeros(e)))

    def test_factory_kwargs(self):
        module = MultiheadDilatedAttention(32, 2, [1], [8], dtype=torch.float64,
                                           device="cpu")
        for p in module.parameters():
            self.assertEqual(p.dtype, torch.float64)
            self.assertEqual(p.device.type, "cpu")


if __name__ == "__main__":
    common.main()
