"""The point-facing helpers of essay_code.core, on small hand-made inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from essay_code import core


def test_failure_status_ladder():
    assert core.failure_status(False, None) == "refuted"
    assert core.failure_status(None, True) == "inconclusive"
    assert core.failure_status(True, None) == "inconclusive"
    assert core.failure_status(True, True) == "mitigated"
    assert core.failure_status(True, False) == "holds"


def test_exact_has_no_interval_and_prints_its_value():
    est = core.exact(3, 10, label="chosen lr", digits=0)
    assert (est.value, est.low, est.high, est.n, est.method) == (
        3,
        3,
        3,
        10,
        "chosen lr",
    )
    assert est.text() == "3 (95% CI 3 to 3)"


def test_paired_bootstrap_resamples_pairs_and_covers_the_point():
    first = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    second = first - 1.0  # every pair differs by exactly 1
    est = core.paired_bootstrap(
        first, second, lambda a, b, axis: (a - b).mean(axis=axis), label="difference"
    )
    # Pairs resampled together: the difference is 1 in every resample.
    assert est.value == est.low == est.high == pytest.approx(1.0)
    assert "paired seeds" in est.method and str(core.BOOTSTRAP_RESAMPLES) in est.method
    with pytest.raises(ValueError):
        core.paired_bootstrap(first, second[:3], lambda a, b, axis: a, label="x")


def test_records_builder_and_selectors():
    records = core.Records(point="demo")
    records.add("accuracy", 0.5, seed=0, arm="mlp")
    records.add_many({"accuracy": 0.7, "loss": 1.0}, seed=1, arm="mlp")
    records.add_per_seed("accuracy", torch.tensor([0.9, 0.8]), [0, 1], arm="tree")
    frame = records.frame()
    assert list(frame.columns) == ["point", "seed", "arm", "metric", "value"]
    assert core.per_seed(frame, "accuracy", arm="mlp").to_dict() == {0: 0.5, 1: 0.7}
    table = core.pivot_seeds(frame, "accuracy", "arm")
    assert table.loc[1, "tree"] == pytest.approx(0.8)
    assert len(core.select(frame, metric="loss")) == 1


def test_stacked_mlp_equals_one_looped_mlp_per_seed():
    seeds, sizes = [3, 7], [4, 5, 2]
    stacked = core.StackedMLP(sizes, seeds)
    x = torch.randn(2, 6, 4)
    out = stacked(x)
    for index, seed in enumerate(seeds):
        torch.manual_seed(seed)
        single = core.mlp(sizes)
        torch.testing.assert_close(out[index], single(x[index]))


def test_chart_vocabulary_layers_have_tooltips_and_one_width():
    seeds = pd.DataFrame(
        {"arm": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1], "value": [1, 2, 3, 5]}
    )
    table = core.ci_table(seeds, ["arm"], core.bootstrap)
    chart = core.sized(
        core.ci_dots(
            table, category="arm", value_title="v", seeds=seeds, thresholds={"t": 2}
        ),
        "title",
    )
    spec = chart.to_dict()
    assert spec["width"] == core.CHART_WIDTH
    assert all("tooltip" in layer["encoding"] for layer in spec["layer"])
    curve = core.ci_curve(
        table.assign(x=[1, 10]), x="x", x_title="x", value_title="v", log_x=True
    ).to_dict()
    assert all("tooltip" in layer["encoding"] for layer in curve["layer"])
    assert curve["layer"][0]["encoding"]["x"]["scale"]["type"] == "log"
