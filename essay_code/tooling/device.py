"""Seeds, CPU determinism and the device a run uses."""

from __future__ import annotations

import os
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

    warn_only keeps CUDA runs going where an op has no deterministic kernel; on a
    GPU the device and precision are recorded and bit-equality is not promised.
    cuBLAS needs a fixed workspace to be deterministic (and otherwise warns at every
    call); the variable must be set before CUDA starts, so it is set here, first.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)


def pin_numerics(allow_tf32: bool = False) -> None:
    """Full float32 precision for every experiment: PyTorch leaves cuDNN's TF32 on
    (10-bit mantissa convolutions on Ampere and newer GPUs), which moved results.
    A point that measures TF32 itself declares ALLOW_TF32 = True, and the setting
    is recorded in the provenance either way."""
    torch.backends.cuda.matmul.allow_tf32 = allow_tf32
    torch.backends.cudnn.allow_tf32 = allow_tf32
    torch.set_float32_matmul_precision("high" if allow_tf32 else "highest")


def numerics() -> dict:
    """The precision and determinism settings a result was made under."""
    cuda = torch.version.cuda
    cudnn = (
        torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    )
    return {
        "cuda": cuda,
        "cudnn": cudnn,
        "matmul_tf32": torch.backends.cuda.matmul.allow_tf32,
        "cudnn_tf32": torch.backends.cudnn.allow_tf32,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    }


def choose_device(requested: str = "auto", needs_float64: bool = False) -> torch.device:
    """cuda, then mps, then cpu for 'auto'; a named device must exist. MPS has no
    float64, so 'auto' skips it for a point that declares NEEDS_FLOAT64, and asking
    for it explicitly is an error."""
    if requested not in DEVICE_CHOICES:
        raise ValueError(
            f"unknown device {requested!r}; choose one of {DEVICE_CHOICES}"
        )
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available() and not needs_float64:
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "mps" and needs_float64:
        raise ValueError("--device mps: this point needs float64, which MPS lacks")
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
