"""What a point's run() gets besides its config: the device, and the runner's say on
progress bars and timings. The runner, not the point, sets the CPU thread count."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch

# tqdm.std, not tqdm.auto: in a notebook kernel without ipywidgets, tqdm.auto warns
# (with a local path) on every page that runs a point.
from tqdm.std import tqdm


@dataclass
class RunContext:
    """device: where tensors go; record_timings: False in the smoke profile, whose
    records are compared run to run, so measured times stay out of them; threads: the
    CPU thread count the runner set (sklearn's n_jobs should use it)."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    show_progress: bool = True
    record_timings: bool = True
    threads: int = 1

    def progress(self, iterable: Iterable, total: int | None = None, desc: str = ""):
        """A progress bar on stderr (hidden in tests and when output is not a tty)."""
        return tqdm(
            iterable,
            total=total,
            desc=desc,
            leave=False,
            disable=not self.show_progress or None,
        )

    def device_name(self) -> str:
        """The device's model name, for points that measure the hardware itself."""
        return device_name(self.device)

    def clock(self) -> float:
        """perf_counter after the device has finished its queued work, so a timing
        taken on a GPU measures the kernels and not just their launch."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()


def device_name(device: torch.device) -> str:
    """A human name for the device: the GPU model, or the CPU model."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return "CPU: " + line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return "CPU: " + (platform.processor() or platform.machine())
