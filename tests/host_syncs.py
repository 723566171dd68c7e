"""Count the host syncs a point's code makes: the calls that, on a GPU, wait for the
device (reading a value back, branching on a tensor, indexing with a boolean mask)
or copy host data to it. On a CPU they cost nothing, which is why they are counted
here rather than timed: a sync inside a training step turns a GPU run into a
stop-and-go one. Counted per call site in essay_code/points."""

from __future__ import annotations

import collections
import sys

import torch
from torch.overrides import TorchFunctionMode

READBACK = {
    torch.Tensor.item,
    torch.Tensor.tolist,
    torch.Tensor.numpy,
    torch.Tensor.cpu,
    torch.Tensor.__bool__,
    torch.Tensor.__float__,
    torch.Tensor.__int__,
    torch.Tensor.nonzero,
}
HOST_COPIES = {torch.as_tensor, torch.tensor, torch.from_numpy}
INDEXING = {torch.Tensor.__getitem__, torch.Tensor.__setitem__}


def boolean_index(args) -> bool:
    index = args[1] if len(args) > 1 else None
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, torch.Tensor) and p.dtype == torch.bool for p in parts)


def point_site() -> str | None:
    """file:line of the innermost frame in a point module, if any. An event raised
    inside torch.optim is not counted: without `capturable`, torch keeps Adam's step
    counter on the CPU on purpose and reads it there, which never waits for a GPU."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if "/torch/optim/" in name:
            return None
        if "/essay_code/points/" in name:
            return f"{name.rsplit('/', 1)[-1]}:{frame.f_lineno}"
        frame = frame.f_back
    return None


class HostSyncs(TorchFunctionMode):
    """Inside `with HostSyncs() as syncs:`, syncs.sites counts sync events per call
    site of a point module."""

    def __init__(self) -> None:
        super().__init__()
        self.sites: collections.Counter[str] = collections.Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        sync = func in READBACK or func in HOST_COPIES
        sync = sync or (func in INDEXING and boolean_index(args))
        if sync:
            site = point_site()
            if site is not None:
                self.sites[site] += 1
        return func(*args, **kwargs)

    @property
    def total(self) -> int:
        return sum(self.sites.values())
