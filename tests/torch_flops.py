"""torch's own FLOP count of a forward: the independent check of the summary's FLOPs.

`torch.utils.flop_counter.FlopCounterMode` has no formula for the fused CPU attention kernel
(it would count its products as 0), so the forward runs with SDPA's math backend, whose
matmuls it counts: the same products.
"""

from __future__ import annotations

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode


def counted_flops(model: torch.nn.Module, x: torch.Tensor) -> tuple[int, object]:
    """(FLOPs torch counts for ``model(x)`` in eval mode without grad, the output)."""
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as fc:
        y = model.eval()(x)
    return fc.get_total_flops(), y
