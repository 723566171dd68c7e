"""Seeds, CPU determinism and the device a run uses."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from essay_code.core.context import device_name  # noqa: F401 - re-exported
from essay_code.tooling.config import DEVICE_CHOICES


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) in one place."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_deterministic() -> None:
    """Same seed, same records on a CPU: refuse nondeterministic kernels.

    warn_only keeps CUDA runs going where an op has no deterministic kernel;
    on a GPU we record the device and do not promise bit-equality.
    """
    torch.use_deterministic_algorithms(True, warn_only=True)


def choose_device(requested: str = "auto") -> torch.device:
    """cuda, then mps, then cpu for 'auto'; a named device must exist."""
    if requested not in DEVICE_CHOICES:
        raise ValueError(
            f"unknown device {requested!r}; choose one of {DEVICE_CHOICES}"
        )
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA device")
    if requested == "mps" and not torch.backends.mps.is_available():
        raise ValueError("--device mps was asked for, but torch sees no MPS device")
    return torch.device(requested)


@contextmanager
def cpu_threads(count: int) -> Iterator[None]:
    """Run a block with torch and OpenMP/BLAS pools limited to `count` threads
    (0: leave them as they are), whatever device the network uses.

    The points train small models: thousands of tiny ops, where a second thread only
    adds synchronisation, and on a machine shared with other work the spin-waiting
    threads multiplied CPU time several-fold. The runner sets it (--threads).
    """
    if count <= 0:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        with threadpool_limits(limits=count):
            yield
    finally:
        torch.set_num_threads(before)
