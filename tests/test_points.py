"""Every registered point, parametrized from the registry: smoke run, determinism,
charts with uncertainty and tooltips, a valid verdict, the published budget."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest
from conftest import POINT_IDS, POINTS

from essay_code.core.assessment import ANSWERS
from essay_code.core.stats import Estimate
from essay_code.core.verdict import STATUSES
from essay_code.tooling.results import REQUIRED_COLUMNS
from essay_code.tooling.runner import RunContext, execute, resolve_config

pytestmark = pytest.mark.parametrize("point", POINTS, ids=POINT_IDS)


def test_smoke_run_gives_tidy_records(point, smoke_runs):
    records, judgement, charts = smoke_runs(point)
    estimates = judgement.estimates
    assert set(REQUIRED_COLUMNS) <= set(records.columns)
    assert len(records) > 0
    assert records["seed"].nunique() >= 2, "smoke should still compare seeds"
    assert point.module.KEY in estimates
    assert all(isinstance(est, Estimate) for est in estimates.values())
    assert all(est.low <= est.value <= est.high for est in estimates.values())
    assert judgement.verdict.status in STATUSES
    if hasattr(point.module, "assess"):
        fields = judgement.assessment
        assert {"robustness", "convergence", "tuning"} <= set(fields)
        assert fields["intrinsic_or_engineering"] in ANSWERS
        assert 1 <= len(fields["robustness"]["axes"]) <= 3


def test_same_seed_same_records(point, smoke_runs):
    first = smoke_runs(point)[0]
    config = resolve_config(point, "smoke")
    second = execute(
        point, config, RunContext(show_progress=False, record_timings=False)
    )[0]
    pd.testing.assert_frame_equal(first, second, check_exact=True)


def _marks_and_tooltips(spec: dict) -> tuple[set[str], bool]:
    """All mark types in a (layered/concatenated) spec and whether any has a tooltip."""
    text = json.dumps(spec)
    marks = set()
    for node in _walk(spec):
        mark = node.get("mark")
        if mark is not None:
            marks.add(mark if isinstance(mark, str) else mark.get("type"))
    return marks, '"tooltip"' in text


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_charts_show_uncertainty_and_have_tooltips(point, smoke_runs):
    charts = smoke_runs(point)[2]
    assert charts, "a point needs at least one chart"
    for name, chart in charts.items():
        marks, has_tooltip = _marks_and_tooltips(chart.to_dict())
        assert has_tooltip, f"chart {name} has no tooltip"
        # Uncertainty: a CI band/rule/error bar, or per-seed points.
        assert marks & {
            "area",
            "errorbar",
            "errorband",
            "rule",
            "point",
            "circle",
            "boxplot",
            "tick",
        }, f"chart {name} shows no uncertainty: {marks}"


def test_default_profile_meets_the_seed_rule(point):
    defaults = point.module.Config()
    assert defaults.seeds >= 5
    fields = {field.name for field in dataclasses.fields(point.module.Config)}
    for profile, overrides in point.module.PROFILES.items():
        assert set(overrides) <= fields, f"{profile} names unknown fields"
