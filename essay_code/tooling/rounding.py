"""Would a GPU's rounding change the verdict? A CPU stand-in for GPU numerics.

A GPU sums matmul and convolution products in another order (and cuBLAS and cuDNN
pick kernels by shape), so its float32 results differ from the CPU's in the last
few bits. RoundingNoise perturbs the output of every matmul, linear, einsum and
convolution by a relative error of up to ULPS units in the last place, drawn from
a hash of each output value (no random generator: it also works inside vmap,
which refuses random draws, and the same values always get the same noise); the
runner repeats a point's smoke run under it and records whether the smoke verdict
and records moved. A verdict that flips under a few ulp is a verdict a GPU run
could flip too, and its page says so.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

ULPS = 4  # relative error up to 4 float32 ulp: the size of a reordered sum's drift
PRODUCTS = {
    torch.matmul,
    torch.mm,
    torch.bmm,
    torch.einsum,
    torch.addmm,
    torch.baddbmm,
    torch.Tensor.matmul,
    torch.Tensor.__matmul__,
    torch.Tensor.mm,
    torch.Tensor.bmm,
    F.linear,
    F.conv1d,
    F.conv2d,
    F.conv3d,
}
DESCRIPTION = (
    f"the smoke profile rerun with every matmul, linear, einsum and convolution "
    f"output perturbed by a relative error of up to {ULPS} float32 ulp, "
    f"pseudo-random in each output value"
)


class RoundingNoise(TorchFunctionMode):
    """Inside `with RoundingNoise():`, float outputs of PRODUCTS get the noise."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func not in PRODUCTS or not isinstance(out, torch.Tensor):
            return out
        if not out.is_floating_point() or out.numel() == 0:
            return out
        with torch._C.DisableTorchFunction():
            unit = hashed_uniform(out.detach())
            scale = ULPS * torch.finfo(out.dtype).eps
            return out * (1 + scale * (2 * unit - 1))


def hashed_uniform(values: torch.Tensor) -> torch.Tensor:
    """A number in [0, 1) per element, scrambled from the element's value (the
    classic sin-fract hash): noise with no generator, on any device."""
    return torch.frac(torch.sin(values * 12.9898 + 78.233).abs() * 43758.5453)
