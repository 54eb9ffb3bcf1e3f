"""dilattn for PyTorch: drop-in replacements for dilated_attention_pytorch.

    from dilattn.torch import DilatedAttention, MultiheadDilatedAttention

See docs/python.md.
"""

from ._ops import HAS_CUSTOM_OP
from .functional import dilated_attention
from .modules import DilatedAttention, MultiheadDilatedAttention

__all__ = [
    "DilatedAttention",
    "MultiheadDilatedAttention",
    "dilated_attention",
    "HAS_CUSTOM_OP",
]
