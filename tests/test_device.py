"""The device is part of what a result is: it is in the cache key, status names it,
only CPU-made default runs are published, and precision is pinned and recorded."""

from __future__ import annotations

import torch

from essay_code.tooling import device as device_mod
from essay_code.tooling.cache import freshness, request_of, source_parts
from essay_code.tooling.registry import source_paths
from essay_code.tooling.results import RESULTS_ROOT, output_root


def test_gpu_made_results_are_not_fresh_for_a_cpu_checkout():
    source = next(iter(source_paths().values()))
    made_on_gpu = source_parts(source, request_of("default", None, None, 1, "cuda"))
    asked = source_parts(source, request_of("default", None, None, 1, "cpu"))
    state = freshness(asked, {"cache": made_on_gpu})
    assert state.state == "stale"
    assert "made on cuda, this checkout asked for cpu" in state.reason
    assert freshness(asked, {"cache": asked}).state == "fresh"


def test_only_cpu_default_runs_write_the_published_results():
    assert output_root("default", customised=False, device="cpu") == RESULTS_ROOT
    other = output_root("default", customised=False, device="cuda")
    assert other != RESULTS_ROOT and other.name == "default-cuda"
    assert (
        output_root("full", customised=True, device="cuda").name == "full-custom-cuda"
    )


def test_auto_skips_mps_for_a_float64_point(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert device_mod.choose_device("auto").type == "mps"
    assert device_mod.choose_device("auto", needs_float64=True).type == "cpu"


def test_numerics_are_pinned_and_recorded():
    before = (
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.get_float32_matmul_precision(),
    )
    try:
        device_mod.pin_numerics(allow_tf32=True)
        assert device_mod.numerics()["cudnn_tf32"] is True
        device_mod.make_deterministic()
        device_mod.pin_numerics()
        recorded = device_mod.numerics()
        assert recorded["matmul_tf32"] is False and recorded["cudnn_tf32"] is False
        assert recorded["float32_matmul_precision"] == "highest"
        assert recorded["deterministic_algorithms"] is True
        assert recorded["cublas_workspace_config"] == ":4096:8"
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before[0]
        torch.backends.cudnn.allow_tf32 = before[1]
        torch.set_float32_matmul_precision(before[2])
