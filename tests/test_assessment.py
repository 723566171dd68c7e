"""The assessment rules on hand-made inputs: convergence, the training guard, the
robustness map's label and tweet 19's answer."""

import numpy as np
import pytest

from essay_code.core.assessment import (
    Tuning,
    converged_by_construction,
    convergence,
    guard_training,
    intrinsic_or_engineering,
    robustness_map,
)
from essay_code.core.verdict import Verdict

HOLDS = Verdict("holds", "the net fails", "rule")


def test_convergence_reads_the_gain_over_the_last_doubling():
    budgets = [100, 200, 400]
    flat = np.array([[50.0, 70.0, 70.5], [52.0, 71.0, 71.5], [49.0, 69.0, 69.4]])
    record = convergence("mlp", budgets, flat, tolerance=1.0, metric="accuracy")
    assert record.converged
    assert record.last_doubling_gain.value == pytest.approx(0.4667, abs=1e-3)
    assert record.curve == pytest.approx(tuple(flat.mean(axis=0)))
    rising = flat + np.array([0.0, 0.0, 5.0])
    assert not convergence("mlp", budgets, rising, tolerance=1.0, metric="a").converged
    # a loss falls as it improves
    loss = -rising
    assert not convergence(
        "mlp", budgets, loss, tolerance=1.0, metric="loss", higher_is_better=False
    ).converged


def test_convergence_needs_three_budgets_and_a_doubling():
    values = np.zeros((2, 3))
    with pytest.raises(ValueError, match="half the last"):
        convergence("mlp", [100, 300, 500], values, tolerance=1, metric="a")
    with pytest.raises(ValueError, match="3 or more"):
        convergence("mlp", [100, 200], values[:, :2], tolerance=1, metric="a")


def test_guard_turns_holds_into_under_trained():
    rising = np.array([[50.0, 60.0, 70.0], [51.0, 61.0, 72.0]])
    unconverged = convergence("gan", [1, 2, 4], rising, tolerance=1, metric="a")
    guarded = guard_training(HOLDS, [unconverged])
    assert guarded.status == "inconclusive"
    assert guarded.reason.startswith("under-trained")
    done = converged_by_construction("net", "a", "trains to a target")
    assert guard_training(HOLDS, [done]) == HOLDS
    refuted = Verdict("refuted", "fine", "rule")
    assert guard_training(refuted, [unconverged]) == refuted
    mitigated = Verdict("mitigated", "the fix closes it", "rule")
    assert guard_training(mitigated, [unconverged]).status == "inconclusive"


def test_an_optimistic_claim_guards_and_answers_through_the_mirror():
    """For a claim that is good news for deep learning, "refuted" is the failure."""
    rising = np.array([[50.0, 60.0, 70.0], [51.0, 61.0, 72.0]])
    unconverged = convergence("net", [1, 2, 4], rising, tolerance=1, metric="a")
    refuted = Verdict("refuted", "attributions miss the shortcut", "rule")
    guarded = guard_training(refuted, [unconverged], optimistic=True)
    assert guarded.status == "inconclusive" and "'refuted'" in guarded.rule
    assert guard_training(HOLDS, [unconverged], optimistic=True) == HOLDS
    axes = {"budget": [1, 2, 4]}
    fails = robustness_map(
        axes, _rule(dict.fromkeys([(1,), (2,), (4,)], "refuted")), {"budget": 4}
    )
    assert intrinsic_or_engineering("holds", fails, "budget", optimistic=True) == (
        "no-failure"
    )
    assert intrinsic_or_engineering("refuted", fails, "budget", optimistic=True) == (
        "persists"
    )
    closes = robustness_map(
        axes, _rule({(1,): "refuted", (2,): "refuted", (4,): "holds"}), {"budget": 2}
    )
    assert intrinsic_or_engineering("refuted", closes, "budget", optimistic=True) == (
        "closes-with-scale"
    )


def _rule(table):
    return lambda setting: Verdict(table[tuple(setting.values())], "r", "rule")


def test_robustness_label_names_the_axis_that_changes_the_verdict():
    axes = {"k": [2, 3], "budget": [100, 200]}
    table = {(2, 100): "refuted", (2, 200): "refuted", (3, 100): "holds"}
    table[(3, 200)] = "holds"
    robust = robustness_map(axes, _rule(table), {"k": 3, "budget": 200})
    assert robust.label == "depends on k"
    same = {key: "holds" for key in table}
    assert robustness_map(axes, _rule(same), {"k": 3, "budget": 100}).label == "robust"
    with pytest.raises(ValueError, match="not a cell"):
        robustness_map(axes, _rule(same), {"k": 4, "budget": 100})


def test_intrinsic_or_engineering_follows_the_map():
    axes = {"budget": [1, 2, 4]}
    closes = robustness_map(
        axes, _rule({(1,): "holds", (2,): "holds", (4,): "refuted"}), {"budget": 2}
    )
    assert intrinsic_or_engineering("holds", closes, "budget") == "closes-with-scale"
    stays = robustness_map(
        axes, _rule(dict.fromkeys([(1,), (2,), (4,)], "holds")), {"budget": 2}
    )
    assert intrinsic_or_engineering("holds", stays, "budget") == "persists"
    assert intrinsic_or_engineering("mitigated", stays, None) == "fixed-by-engineering"
    assert intrinsic_or_engineering("refuted", stays, None) == "no-failure"
    assert intrinsic_or_engineering("inconclusive", stays, "budget") == "undecided"
    assert intrinsic_or_engineering("holds", stays, None) == "undecided"


def test_tuning_refuses_test_data_and_choices_outside_the_grid():
    Tuning("mlp", {"lr": [1e-3, 1e-2]}, {"lr": 1e-3}, "validation split")
    with pytest.raises(ValueError, match="test data"):
        Tuning("mlp", {"lr": [1e-3]}, {"lr": 1e-3}, "the test set")
    with pytest.raises(ValueError, match="not in the grid"):
        Tuning("mlp", {"lr": [1e-3]}, {"wd": 0.1}, "validation split")


def test_no_published_holds_rests_on_an_under_trained_arm():
    from essay_code.tooling.results import RESULTS_ROOT, load_summary

    assessed = 0
    for folder in sorted(RESULTS_ROOT.glob("*/summary.json")):
        summary = load_summary(folder.parent.name)
        records = summary.get("convergence")
        if records is None:
            continue
        assessed += 1
        if summary["verdict"]["status"] in ("holds", "mitigated"):
            unconverged = [r["arm"] for r in records if not r["converged"]]
            assert not unconverged, f"{folder.parent.name}: {unconverged}"
        headline = summary["robustness"]["headline"]
        cell = [c for c in summary["robustness"]["cells"] if c["setting"] == headline]
        assert len(cell) == 1, f"{folder.parent.name}: no single headline cell"
    assert assessed, "no published summary carries an assessment"


def test_a_malformed_convergence_record_is_a_schema_problem():
    from essay_code.tooling.results import assessment_problem

    good = {"arm": "mlp", "converged": True, "budgets": [1, 2, 4], "curve": [1, 2, 3]}
    good["last_doubling_gain"] = {"value": 1.0, "low": 0.5, "high": 1.5}
    assert assessment_problem({"convergence": [good]}) is None
    short = {**good, "curve": [1, 2]}
    assert "same length" in assessment_problem({"convergence": [short]})
    forged = {**good, "last_doubling_gain": {"value": "<b>"}}
    assert assessment_problem({"convergence": [forged]}) is not None
