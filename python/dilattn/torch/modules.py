"""DilatedAttention and MultiheadDilatedAttention with the signatures, BNHD
layout, initialisation and parameter names of dilated_attention_pytorch, so
that swapping the import is enough (docs/python.md)."""

import warnings
from typing import Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from . import functional as F

__all__ = ["DilatedAttention", "MultiheadDilatedAttention"]


def _warn_dropout(p):
    if p:
        warnings.warn(
            f"dilattn: attention dropout ({p}) is not implemented; it is "
            "ignored (dilated_attention_pytorch ignores it too)",
            stacklevel=3,
        )


class DilatedAttention(nn.Module):
    """Dilated attention over (B, N, H, D) query, key and value
    (docs/Contract.md section 1).

    segment_lengths, dilation_rates: the patterns (w_i, r_i).
    softmax_scale: default 1/sqrt(D).
    attention_dropout: accepted for compatibility and ignored, with a warning
        when non-zero (the seed package ignores it as well).
    op: the seed package's xformers operator choice; accepted and ignored
        (dilattn compiles its own kernels).
    mode, offset_rule: keyword-only; see dilattn.torch.dilated_attention.
    """

    def __init__(
        self,
        segment_lengths: Sequence[int],
        dilation_rates: Sequence[int],
        softmax_scale: Optional[float] = None,
        attention_dropout: float = 0.0,
        op: object = None,
        *,
        mode: str = "grouped",
        offset_rule: str = "cyclic",
    ):
        super().__init__()
        segments, dilations = F.normalize_patterns(
            segment_lengths, dilation_rates
        )
        F._ops.mode_value(mode)
        F._ops.offset_rule_value(offset_rule)
        self.segment_lengths = segments
        self.dilation_rates = dilations
        self.softmax_scale = F.normalize_scale(softmax_scale)
        self.dropout_p = attention_dropout
        self.op = op
        self.mode = mode
        self.offset_rule = offset_rule
        _warn_dropout(attention_dropout)

    def extra_repr(self) -> str:
        return (
            f"segment_lengths={list(self.segment_lengths)}, "
            f"dilation_rates={list(self.dilation_rates)}, "
            f"softmax_scale={self.softmax_scale}, mode={self.mode!r}, "
            f"offset_rule={self.offset_rule!r}"
        )

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        is_causal: bool = False,
        key_padding_mask: Optional[Tensor] = None,
        attn_mask: Optional[Tensor] = None,
    ) -> Tensor:
        return F.checked_call(
            query,
            key,
            value,
            self.segment_lengths,
            self.dilation_rates,
            is_causal,
            key_padding_mask,
            attn_mask,
            self.softmax_scale,
            self.mode,
            self.offset_rule,
        )


class MultiheadDilatedAttention(nn.Module):
    """The MAGNETO/LongNet multi-head block of docs/Contract.md section 2 over
    (B, N, E) inputs: q_proj, k_proj, v_proj (E -> E), split into num_heads
    heads, DilatedAttention, merge, an optional sub-layer norm `norm`, and
    out_proj. Parameter names, shapes and initialisation (xavier normal, gain
    gamma_init for v_proj and out_proj, zero biases) are those of
    dilated_attention_pytorch, so its checkpoints load with
    load_state_dict(strict=True).

    forward returns (out, None), as the seed package does.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dilation_rates: Sequence[int],
        segment_lengths: Sequence[int],
        dropout: float = 0.0,
        bias: bool = True,
        layer_norm: bool = True,
        layer_norm_eps: float = 1e-5,
        gamma_init: float = 1.0,
        device: Optional[Union[torch.device, str]] = None,
        dtype: Optional[torch.dtype] = None,
        op: object = None,
        *,
        mode: str = "grouped",
        offset_rule: str = "cyclic",
    ):
        super().__init__()
        if num_heads <= 0 or embed_dim <= 0 or embed_dim % num_heads != 0:
            raise ValueError(
                f"dilattn: embed_dim ({embed_dim}) must be a positive "
                f"multiple of num_heads ({num_heads})"
            )
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.layer_norm = layer_norm
        self.gamma_init = gamma_init
        factory = {"device": device, "dtype": dtype}
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        _warn_dropout(dropout)
        self.attention = DilatedAttention(
            segment_lengths,
            dilation_rates,
            mode=mode,
            offset_rule=offset_rule,
        )
        self.dropout_p = dropout
        self.norm: Optional[nn.LayerNorm] = None
        if layer_norm:
            self.norm = nn.LayerNorm(embed_dim, eps=layer_norm_eps, **factory)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self._reset_parameters()

    def _reset_parameters(self):
        # MAGNETO (arXiv 2210.06423, Fig. 2), as the seed package does:
        # xavier normal everywhere, gain gamma_init on v_proj and out_proj
        # (the gain depends on the depth of the whole model), zero biases.
        for proj, gain in (
            (self.q_proj, 1.0),
            (self.k_proj, 1.0),
            (self.v_proj, self.gamma_init),
            (self.out_proj, self.gamma_init),
        ):
            nn.init.xavier_normal_(proj.weight, gain=gain)
            if proj.bias is not None:
                nn.init.constant_(proj.bias, 0)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        is_causal: bool = False,
        key_padding_mask: Optional[Tensor] = None,
    ) -> Tuple[Tensor, None]:
        for name, t in (("query", query), ("key", key), ("value", value)):
            if t.dim() != 3 or t.shape[-1] != self.embed_dim:
                raise ValueError(
                    f"dilattn: {name} must have shape (B, N, E) with E = "
                    f"embed_dim = {self.embed_dim}, got "
                    f"{tuple(int(s) for s in t.shape)}"
                )
        q = self.q_proj(query)
        k = self.k_proj(key)
        v = self.v_proj(value)
        # (B, N, E) -> (B, N, H, D), head-major (E index = h * D + d): views
        # of the contiguous projections, passed to the kernel without a copy.
        heads = (self.num_heads, self.head_dim)
        q = q.view(*q.shape[:-1], *heads)
        k = k.view(*k.shape[:-1], *heads)
        v = v.view(*v.shape[:-1], *heads)
        x = self.attention(
            q, k, v, is_causal=is_causal, key_padding_mask=key_padding_mask
        )
        x = x.flatten(-2)
        if self.norm is not None:
            x = self.norm(x)
        return self.out_proj(x), None
