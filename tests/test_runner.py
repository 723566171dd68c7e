"""The runner owns execution: it holds the thread pools to --threads for the whole
point, and decides whether timings are recorded (never in the smoke profile)."""

from __future__ import annotations

import types
from dataclasses import dataclass

import pandas as pd
import torch

from essay_code.core import Estimate, Verdict
from essay_code.tooling import runner
from essay_code.tooling.registry import Point


@dataclass(frozen=True)
class Config:
    seeds: int = 1


def fake_point() -> Point:
    seen: dict = {}

    def run(cfg, ctx):
        seen["threads"] = torch.get_num_threads()
        seen["timings"] = ctx.record_timings
        return pd.DataFrame({"seed": [0], "arm": ["a"], "metric": ["m"], "value": [1]})

    def summarize(records):
        return {"m": Estimate(1.0, 1.0, 1.0, "exact", 1)}

    module = types.SimpleNamespace(
        TITLE="t",
        TWEETS=(1,),
        KEY="m",
        Config=Config,
        PROFILES={"smoke": {}, "full": {}},
        run=run,
        summarize=summarize,
        charts=lambda records: {},
        verdict=lambda est: Verdict("holds", "r", "rule", {"m": 0.5}),
        __file__=__file__,
        seen=seen,
    )
    return Point("fake-point", module)


def test_runner_limits_threads_and_turns_timings_off_in_smoke(tmp_path):
    point = fake_point()
    before = torch.get_num_threads()
    outcome = runner.run_point(
        point, "smoke", device="cpu", root=tmp_path, show_progress=False, threads=1
    )
    assert outcome.state == "ran"
    assert point.module.seen == {"threads": 1, "timings": False}
    assert torch.get_num_threads() == before  # restored afterwards

    import json

    summary = json.loads((tmp_path / "fake-point" / "summary.json").read_text())
    assert summary["provenance"]["torch_threads"] == 1
    assert summary["verdict"]["thresholds"] == {"m": 0.5}
    from essay_code.tooling.config import stable_hash

    requested = stable_hash(runner.request_of("smoke", None, None, 1))
    assert summary["cache"]["request"] == requested
    assert requested != stable_hash(runner.request_of("smoke", None, None, 2))


def test_default_profile_records_timings(tmp_path):
    point = fake_point()
    runner.run_point(point, "full", device="cpu", root=tmp_path, show_progress=False)
    assert point.module.seen["timings"] is True
