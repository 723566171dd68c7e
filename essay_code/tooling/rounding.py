"""Would a GPU's rounding change the verdict? A CPU stand-in for GPU numerics.

A GPU sums matmul and convolution products in another order (and cuBLAS and cuDNN
pick kernels by shape), so its float32 results differ from the CPU's in the last
few bits. RoundingNoise perturbs the output of every matmul, linear, einsum and
convolution by a seeded relative error of up to ULPS units in the last place; the
runner repeats a point's smoke run under it and records whether the smoke verdict
and records moved. A verdict that flips under a few ulp is a verdict a GPU run
could flip too, and its page says so.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

ULPS = 4  # relative error up to 4 float32 ulp: the size of a reordered sum's drift
NOISE_SEED = 12345
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
    f"output perturbed by a seeded relative error of up to {ULPS} float32 ulp"
)


class RoundingNoise(TorchFunctionMode):
    """Inside `with RoundingNoise():`, float outputs of PRODUCTS get the noise."""

    def __init__(self) -> None:
        super().__init__()
        self.generator = torch.Generator().manual_seed(NOISE_SEED)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func not in PRODUCTS or not isinstance(out, torch.Tensor):
            return out
        if not out.is_floating_point() or out.numel() == 0:
            return out
        with torch._C.DisableTorchFunction():
            unit = torch.rand(out.shape, generator=self.generator).to(out.device)
            scale = ULPS * torch.finfo(out.dtype).eps
            return out * (1 + scale * (2 * unit.to(out.dtype) - 1))
