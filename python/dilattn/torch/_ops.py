"""The dilated attention operator on torch tensors.

`forward_impl` checks the tensors, brings masks into the form the C API takes
and runs the kernel: CPU tensors through dilattn_run_host, CUDA tensors
through dilattn_run_cuda on the current stream. Contiguous inputs are passed
by their data pointers (no copy); anything else is made contiguous once.

With torch >= 2.4 the function is registered as the custom operator
`dilattn::dilated_attention` (torch.library.custom_op) with a fake
implementation, so that torch.compile and torch.export see one opaque node of
known output shape instead of breaking the graph at the ctypes call. Older
torch calls `forward_impl` directly.

Autograd: the backward kernels are issue 18 and not in libdilattn-c yet.
Until they are, `refuse_grad` (called by the public functions before the
operator) raises when a gradient would be needed, instead of letting autograd
produce wrong or missing gradients. Where the backward plugs in: the forward
will also return the per-row log-sum-exp statistics the backward needs
(issue 18, item 1); then `register_autograd` below gets a `setup_context`
saving (q, k, v, out, lse, masks, attributes) and a `backward` calling the
backward operator, and older torch wraps the same two functions in a
torch.autograd.Function.
"""

import ctypes
import math
from typing import List, Optional

import torch
from torch import Tensor

from .. import _lib

__all__ = ["dilated_attention_op", "forward_impl", "refuse_grad", "HAS_CUSTOM_OP"]

_CPU_DTYPES = (torch.float32,)
_CUDA_DTYPES = {
    torch.float32: _lib.DTYPE_F32,
    torch.float16: _lib.DTYPE_F16,
    torch.bfloat16: _lib.DTYPE_BF16,
}


def _shape(t):
    return "(" + ", ".join(str(int(s)) for s in t.shape) + ")"


def _dtype_name(dtype):
    return str(dtype).replace("torch.", "")


def check_inputs(query, key, value, key_padding_mask, attn_mask):
    """The checks that only need tensor metadata (they run on fake tensors
    under torch.compile too). The library checks the rest (docs/Contract.md
    section 4: patterns against H, attn_mask's shape, head dims and dtypes
    per target) when it is called."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"dilattn: {name} must be a torch.Tensor, got "
                f"{type(t).__name__}"
            )
        if t.dim() != 4:
            raise ValueError(
                f"dilattn: {name} must have 4 dimensions (B, N, H, D), got "
                f"shape {_shape(t)}"
            )
    device = query.device
    for name, t in (
        ("key", key),
        ("value", value),
        ("key_padding_mask", key_padding_mask),
        ("attn_mask", attn_mask),
    ):
        if t is not None and t.device != device:
            raise ValueError(
                f"dilattn: {name} is on {t.device}, query on {device}: all "
                "tensors of a call must be on one device"
            )
    if device.type == "cpu":
        if query.dtype not in _CPU_DTYPES:
            raise TypeError(
                f"dilattn: CPU tensors must be float32, got "
                f"{_dtype_name(query.dtype)} (CUDA tensors may be float16, "
                "bfloat16 or float32)"
            )
    elif device.type == "cuda":
        if query.dtype not in _CUDA_DTYPES:
            raise TypeError(
                f"dilattn: CUDA tensors must be float16, bfloat16 or "
                f"float32, got {_dtype_name(query.dtype)}"
            )
        if device.index not in (None, 0):
            # dilattn_run_cuda runs on device 0 (docs/api.md); select
            # another GPU with CUDA_VISIBLE_DEVICES.
            raise ValueError(
                f"dilattn: CUDA tensors must be on cuda:0 (the C API runs on "
                f"CUDA device 0; pick the GPU with CUDA_VISIBLE_DEVICES), got "
                f"{device}"
            )
    else:
        raise ValueError(
            f"dilattn: tensors must be on the CPU or a CUDA device, got "
            f"{device}"
        )
    for name, t in (("key", key), ("value", value)):
        # The C API takes one shape for all three (dilattn_run_host): a
        # mismatch must be caught here, or the kernel would read past K/V.
        if t.shape != query.shape:
            raise ValueError(
                f"dilattn: {name} must have the shape of query "
                f"{_shape(query)}, got {_shape(t)}"
            )
        if t.dtype != query.dtype:
            raise TypeError(
                f"dilattn: {name} is {_dtype_name(t.dtype)}, query "
                f"{_dtype_name(query.dtype)}: query, key and value must have "
                "one dtype"
            )
    if key_padding_mask is not None:
        if key_padding_mask.dtype != torch.bool:
            raise TypeError(
                "dilattn: key_padding_mask must be a bool tensor (True = "
                f"padded key, ignored), got {_dtype_name(key_padding_mask.dtype)}"
            )
        expected = (query.shape[0], query.shape[1])
        if tuple(key_padding_mask.shape) != tuple(expected):
            raise ValueError(
                "dilattn: key_padding_mask must have shape (B, N) = "
                f"({int(expected[0])}, {int(expected[1])}), got "
                f"{_shape(key_padding_mask)}"
            )
    if attn_mask is not None:
        if attn_mask.dtype != torch.bool and not attn_mask.is_floating_point():
            raise TypeError(
                "dilattn: attn_mask must be bool (True = may not attend) or "
                f"floating point (an additive bias), got "
                f"{_dtype_name(attn_mask.dtype)}"
            )
        if attn_mask.dim() not in (2, 3, 4):
            raise ValueError(
                "dilattn: attn_mask must have shape (N, N), (B, N, N) or "
                f"(B, H, N, N), got {_shape(attn_mask)}"
            )


def _attn_bias(attn_mask):
    """attn_mask as the float32 additive bias the C API takes: bool True ->
    -inf (a copy), float -> float32 contiguous (no copy when it already is).
    Leading broadcast dimensions of size 1 are dropped: (1, N, N) and
    (1, 1, N, N) are (N, N), (B, 1, N, N) is (B, N, N)."""
    if attn_mask.dim() == 4 and attn_mask.shape[1] == 1:
        attn_mask = attn_mask[:, 0]
    while attn_mask.dim() > 2 and attn_mask.shape[0] == 1:
        attn_mask = attn_mask[0]
    if attn_mask.dtype == torch.bool:
        bias = torch.zeros(
            attn_mask.shape, dtype=torch.float32, device=attn_mask.device
        )
        return bias.masked_fill_(attn_mask, -math.inf)
    return attn_mask.to(torch.float32).contiguous()


def mode_value(mode):
    value = _lib.MODES.get(mode)
    if value is None:
        raise ValueError(
            f"dilattn: mode must be 'grouped' or 'longnet', got {mode!r}"
        )
    return value


def offset_rule_value(offset_rule):
    value = _lib.OFFSET_RULES.get(offset_rule)
    if value is None:
        raise ValueError(
            "dilattn: offset_rule must be 'cyclic' or 'blocked', got "
            f"{offset_rule!r}"
        )
    return value


_PAGE = 4096
_HUGE_PAGE_MIN_BYTES = 4 << 20
_MADV_HUGEPAGE = 14
_madvise = None


def _advise_huge_pages(tensor):
    """Asks Linux for transparent huge pages on a fresh CPU output of 4 MiB or
    more before the kernel first writes it. PyTorch allocates every output
    anew, and with 4 KiB pages faulting it in costs more than the binding
    itself: 168 ms for C1's 32 MiB on this (virtual) machine, 14 ms with huge
    pages (docs/python.md). Where THP is off or madvise fails, nothing
    changes."""
    global _madvise
    size = tensor.numel() * tensor.element_size()
    if size < _HUGE_PAGE_MIN_BYTES:
        return
    if _madvise is None:
        try:
            function = ctypes.CDLL(None).madvise
            function.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
            function.restype = ctypes.c_int
            _madvise = function
        except (OSError, AttributeError):
            _madvise = False
    if not _madvise:
        return
    start = tensor.data_ptr()
    begin = (start + _PAGE - 1) // _PAGE * _PAGE
    end = (start + size) // _PAGE * _PAGE
    _madvise(begin, end - begin, _MADV_HUGEPAGE)


def _int64_array(values):
    return (ctypes.c_int64 * len(values))(*values)


def forward_impl(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    key_padding_mask: Optional[Tensor],
    attn_mask: Optional[Tensor],
    segment_lengths: List[int],
    dilation_rates: List[int],
    mode: str,
    offset_rule: str,
    causal: bool,
    scale: Optional[float],
) -> Tensor:
    """Dilated attention (docs/Contract.md sections 1 and 3) of (B, N, H, D)
    tensors; returns a new contiguous tensor of query's shape and dtype."""
    check_inputs(query, key, value, key_padding_mask, attn_mask)
    call = _lib.call_handle(
        segment_lengths,
        dilation_rates,
        mode_value(mode),
        offset_rule_value(offset_rule),
        bool(causal),
        scale,
    )
    lib = _lib.library()
    q = query.contiguous()
    k = key.contiguous()
    v = value.contiguous()
    out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    shape = _int64_array(q.shape)
    bias = None if attn_mask is None else _attn_bias(attn_mask)
    if bias is not None:
        bias_shape, bias_rank = _int64_array(bias.shape), bias.dim()
    else:
        bias_shape, bias_rank = None, 0
    if q.device.type == "cpu":
        _advise_huge_pages(out)
        padding = None
        if key_padding_mask is not None:
            # A bool tensor is one byte per element, 0 or 1: the C API's
            # "(B, N) bytes, non-zero = padded" as it is.
            padding = key_padding_mask.contiguous()
        status = lib.dilattn_run_host(
            call,
            q.data_ptr(),
            k.data_ptr(),
            v.data_ptr(),
            shape,
            None if padding is None else padding.data_ptr(),
            None if bias is None else bias.data_ptr(),
            bias_shape,
            bias_rank,
            out.data_ptr(),
        )
        _lib.check(status, "dilattn_run_host")
        return out
    # CUDA: the kernels read 16-byte vectors; a view at an odd offset is
    # copied to a fresh (aligned) allocation.
    q, k, v = (t if t.data_ptr() % 16 == 0 else t.clone() for t in (q, k, v))
    padding_bias = None
    if key_padding_mask is not None:
        padding_bias = torch.zeros(
            key_padding_mask.shape, dtype=torch.float32, device=q.device
        ).masked_fill_(key_padding_mask, -math.inf)
    stream = torch.cuda.current_stream(q.device).cuda_stream
    status = lib.dilattn_run_cuda(
        call,
        _CUDA_DTYPES[q.dtype],
        q.data_ptr(),
        k.data_ptr(),
        v.data_ptr(),
        shape,
        0 if padding_bias is None else padding_bias.data_ptr(),
        0 if bias is None else bias.data_ptr(),
        bias_shape,
        bias_rank,
        out.data_ptr(),
        stream,
    )
    _lib.check(status, "dilattn_run_cuda")
    # The temporaries above were allocated on the current stream, the stream
    # the kernels are queued on: the caching allocator reuses their memory
    # only for later work on that stream, so no record_stream is needed.
    return out


def _fake(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    key_padding_mask: Optional[Tensor],
    attn_mask: Optional[Tensor],
    segment_lengths: List[int],
    dilation_rates: List[int],
    mode: str,
    offset_rule: str,
    causal: bool,
    scale: Optional[float],
) -> Tensor:
    check_inputs(query, key, value, key_padding_mask, attn_mask)
    return query.new_empty(query.shape)


HAS_CUSTOM_OP = hasattr(torch, "library") and hasattr(torch.library, "custom_op")

if HAS_CUSTOM_OP:
    _custom_op = torch.library.custom_op(
        "dilattn::dilated_attention", forward_impl, mutates_args=()
    )
    _custom_op.register_fake(_fake)
    # The OpOverload itself: what torch.compile and torch.export record.
    dilated_attention_op = torch.ops.dilattn.dilated_attention.default
else:
    dilated_attention_op = forward_impl


def refuse_grad(query, key, value, attn_mask):
    """Raises when autograd would need a gradient of the operator: its
    backward is not available yet (issue 18). Inference runs under
    torch.no_grad() or torch.inference_mode(), or on tensors that do not
    require grad."""
    if not torch.is_grad_enabled():
        return
    for name, t in (("query", query), ("key", key), ("value", value)):
        if getattr(t, "requires_grad", False):
            raise RuntimeError(
                f"dilattn: {name} requires grad, but the backward pass of "
                "dilated attention is not available yet (issue 18). Run "
                "inference under torch.no_grad() or torch.inference_mode(), "
                "or detach the inputs."
            )
    if getattr(attn_mask, "requires_grad", False):
        raise RuntimeError(
            "dilattn: attn_mask requires grad; gradients with respect to an "
            "attention bias are not computed by dilattn"
        )
