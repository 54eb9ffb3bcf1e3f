"""dilattn.torch.dilated_attention: the functional form."""

import math
import numbers
from typing import Optional, Sequence, Tuple

from torch import Tensor

from . import _ops

__all__ = ["dilated_attention"]


def normalize_patterns(
    segment_lengths: Sequence[int], dilation_rates: Sequence[int]
) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """The patterns as tuples of ints, checked with the messages of
    docs/Contract.md section 4 (rules C1-C4), so that a module refuses bad
    patterns when it is built, before any library is loaded."""
    try:
        segments = tuple(segment_lengths)
        dilations = tuple(dilation_rates)
    except TypeError:
        raise TypeError(
            "dilattn: segment_lengths and dilation_rates must be sequences "
            f"of ints, got {segment_lengths!r} and {dilation_rates!r}"
        ) from None
    if not segments or not dilations:
        raise ValueError(
            "dilattn: segment_lengths and dilation_rates must not be empty "
            f"(got {len(segments)} and {len(dilations)} entries)"
        )
    if len(segments) != len(dilations):
        raise ValueError(
            "dilattn: segment_lengths and dilation_rates must have the same "
            f"length ({len(segments)} vs {len(dilations)})"
        )
    for name, values in (
        ("segment_lengths", segments),
        ("dilation_rates", dilations),
    ):
        for i, value in enumerate(values):
            if isinstance(value, bool) or not isinstance(
                value, numbers.Integral
            ):
                raise TypeError(
                    f"dilattn: {name}[{i}] must be an int, got {value!r}"
                )
            if value <= 0:
                raise ValueError(
                    f"dilattn: {name}[{i}] must be positive, got {value}"
                )
    return tuple(int(w) for w in segments), tuple(int(r) for r in dilations)


def normalize_scale(softmax_scale: Optional[float]) -> Optional[float]:
    if softmax_scale is None:
        return None
    scale = float(softmax_scale)
    if not math.isfinite(scale):
        raise ValueError(
            f"dilattn: softmax_scale must be finite, got {softmax_scale!r}"
        )
    return scale


def dilated_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    segment_lengths: Sequence[int],
    dilation_rates: Sequence[int],
    *,
    is_causal: bool = False,
    key_padding_mask: Optional[Tensor] = None,
    attn_mask: Optional[Tensor] = None,
    softmax_scale: Optional[float] = None,
    mode: str = "grouped",
    offset_rule: str = "cyclic",
) -> Tensor:
    """Dilated attention (docs/Contract.md sections 1 and 3) of query, key and
    value of shape (B, N, H, D) (batch, sequence, heads, head dim).

    segment_lengths, dilation_rates: the patterns (w_i, r_i).
    is_causal: a query attends only to keys at positions <= its own.
    key_padding_mask: bool (B, N), True = padded key, ignored.
    attn_mask: (N, N), (B, N, N) or (B, H, N, N) (also (1, N, N),
        (1, 1, N, N), (B, 1, N, N)) indexed [.., query, key]; bool True = may
        not attend, or floating point, an additive bias (-inf forbids).
    softmax_scale: default 1/sqrt(D).
    mode: "grouped" (heads split into one group per pattern, the semantics of
        dilated_attention_pytorch) or "longnet" (every head uses every
        pattern, mixed by softmax denominators).
    offset_rule: in longnet mode, "cyclic" (head j mod r) or "blocked"
        (torchscale's floor(j / ceil(H / r))).

    CPU tensors must be float32; CUDA tensors (device 0) float16, bfloat16 or
    float32. Returns a new contiguous tensor of query's shape and dtype.
    """
    segments, dilations = normalize_patterns(segment_lengths, dilation_rates)
    scale = normalize_scale(softmax_scale)
    _ops.mode_value(mode)
    _ops.offset_rule_value(offset_rule)
    return checked_call(
        query, key, value, segments, dilations, is_causal, key_padding_mask,
        attn_mask, scale, mode, offset_rule,
    )


def checked_call(
    query, key, value, segments, dilations, is_causal, key_padding_mask,
    attn_mask, scale, mode, offset_rule,
):
    """The operator on attributes already checked (the modules check theirs
    once, when built)."""
    _ops.refuse_grad(query, key, value, attn_mask)
    return _ops.dilated_attention_op(
        query,
        key,
        value,
        key_padding_mask,
        attn_mask,
        list(segments),
        list(dilations),
        mode,
        offset_rule,
        bool(is_causal),
        scale,
    )
