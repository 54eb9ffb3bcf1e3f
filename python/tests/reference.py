"""A float64 reimplementation of docs/Contract.md sections 1-3 in plain
PyTorch, independent of dilattn (no library, no kernels): the yardstick of the
Python tests. It builds, for every pattern and head, the dense (N, N) matrix
of allowed pairs and runs an ordinary masked softmax on it, so it is slow and
meant for small shapes."""

import math

import torch


def _selected(n, w, r, o):
    """Bool (N,): positions pattern (w, r) with offset o selects (section
    1.3): p = x mod w, selected iff p >= o and (p - o) mod r == 0."""
    p = torch.arange(n) % w
    return (p >= o) & ((p - o) % r == 0)


def _pattern_pairs(n, w, r, o):
    """Bool (N, N) [x, y]: both selected by the pattern, same segment."""
    sel = _selected(n, w, r, o)
    segment = torch.arange(n) // w
    same = segment[:, None] == segment[None, :]
    return same & sel[:, None] & sel[None, :]


def _bias(b, h, n, key_padding_mask, attn_mask, causal):
    """Float64 (B, H, N, N) additive bias of section 3.2 (0 / -inf for the
    boolean masks and causal)."""
    bias = torch.zeros(b, h, n, n, dtype=torch.float64)
    if key_padding_mask is not None:
        bias = bias.masked_fill(key_padding_mask[:, None, None, :], -math.inf)
    if attn_mask is not None:
        mask = attn_mask
        if mask.dtype == torch.bool:
            mask = torch.zeros(mask.shape, dtype=torch.float64).masked_fill(
                mask, -math.inf
            )
        mask = mask.to(torch.float64)
        if mask.dim() == 2:
            mask = mask[None, None]
        elif mask.dim() == 3:
            mask = mask[:, None]
        bias = bias + mask
    if causal:
        upper = torch.ones(n, n, dtype=torch.bool).triu(1)
        bias = bias.masked_fill(upper, -math.inf)
    return bias


def _attend(scores, allowed, v):
    """Per-pattern output and log-sum-exp (section 1.4) for one head:
    scores (B, N, N) float64, allowed (N, N) bool, v (B, N, D).
    A row with no allowed key has lse = -inf and output 0."""
    s = scores.masked_fill(~allowed, -math.inf)
    lse = torch.logsumexp(s, dim=-1)  # (B, N), -inf for empty rows
    finite = torch.isfinite(lse)
    p = torch.exp(s - torch.where(finite, lse, torch.zeros_like(lse))[..., None])
    p = torch.where(finite[..., None], p, torch.zeros_like(p))
    return p @ v, lse


def group_sizes(h, k):
    """Section 1.5: k contiguous groups, floor(H/k), the first H mod k one
    larger."""
    sizes = [h // k] * k
    for i in range(h % k):
        sizes[i] += 1
    return sizes


def dilated_attention(
    q,
    k,
    v,
    segment_lengths,
    dilation_rates,
    mode="grouped",
    offset_rule="cyclic",
    causal=False,
    scale=None,
    key_padding_mask=None,
    attn_mask=None,
):
    """Float64 dilated attention of (B, N, H, D) tensors."""
    q, k, v = (t.detach().to("cpu", torch.float64) for t in (q, k, v))
    if key_padding_mask is not None:
        key_padding_mask = key_padding_mask.cpu()
    if attn_mask is not None:
        attn_mask = attn_mask.cpu()
    b, n, h, d = q.shape
    if scale is None:
        scale = 1.0 / math.sqrt(d)
    patterns = list(zip(segment_lengths, dilation_rates))
    npat = len(patterns)
    bias = _bias(b, h, n, key_padding_mask, attn_mask, causal)
    out = torch.zeros(b, n, h, d, dtype=torch.float64)

    if mode == "grouped":
        head_pattern = []
        for i, size in enumerate(group_sizes(h, npat)):
            head_pattern += [i] * size
    for j in range(h):
        scores = scale * q[:, :, j] @ k[:, :, j].transpose(1, 2) + bias[:, j]
        if mode == "grouped":
            i = head_pattern[j]
            w, r = patterns[i]
            o_i, lse_i = _attend(scores, _pattern_pairs(n, w, r, i % r), v[:, :, j])
            # Rows the group's pattern does not select, or that have no
            # allowed key, are exactly 0.
            has = torch.isfinite(lse_i)[..., None]
            out[:, :, j] = torch.where(has, o_i / npat, torch.zeros_like(o_i))
            continue
        outputs, lses = [], []
        for w, r in patterns:
            if offset_rule == "cyclic":
                o = j % r
            else:
                o = j // math.ceil(h / r)
            o_i, lse_i = _attend(scores, _pattern_pairs(n, w, r, o), v[:, :, j])
            outputs.append(o_i)
            lses.append(lse_i)
        lse = torch.stack(lses)  # (k, B, N)
        total = torch.logsumexp(lse, dim=0)  # (B, N)
        finite = torch.isfinite(total)
        weights = torch.exp(lse - torch.where(finite, total, torch.zeros_like(total)))
        weights = torch.where(finite, weights, torch.zeros_like(weights))
        out[:, :, j] = sum(wt[..., None] * o_i for wt, o_i in zip(weights, outputs))
    return out


def multihead_dilated_attention(module, query, key, value, is_causal=False,
                                key_padding_mask=None):
    """Section 2 in float64 with the parameters of a
    MultiheadDilatedAttention module."""

    def linear(x, layer):
        y = x.to(torch.float64) @ layer.weight.detach().to(torch.float64).T
        if layer.bias is not None:
            y = y + layer.bias.detach().to(torch.float64)
        return y

    h = module.num_heads
    bsz, n, e = query.shape
    q = linear(query, module.q_proj).reshape(bsz, n, h, e // h)
    k = linear(key, module.k_proj).reshape(bsz, n, h, e // h)
    v = linear(value, module.v_proj).reshape(bsz, n, h, e // h)
    attention = module.attention
    x = dilated_attention(
        q, k, v, attention.segment_lengths, attention.dilation_rates,
        mode=attention.mode, offset_rule=attention.offset_rule,
        causal=is_causal, key_padding_mask=key_padding_mask,
    ).reshape(bsz, n, e)
    if module.norm is not None:
        norm = module.norm
        mean = x.mean(-1, keepdim=True)
        var = x.var(-1, unbiased=False, keepdim=True)
        x = (x - mean) / torch.sqrt(var + norm.eps)
        x = x * norm.weight.detach().to(torch.float64) + norm.bias.detach().to(
            torch.float64)
    return linear(x, module.out_proj)
