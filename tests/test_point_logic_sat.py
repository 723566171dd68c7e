"""logic-sat: the generator, the solver's certificates, the shortcut's tuning, the
net's symmetries, checkpoints and training loop, the verdict rule, and the smoke
run's assessment (convergence record, tuning on validation, robustness map)."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from essay_code import core
from essay_code.core import Estimate, RunContext
from essay_code.points import logic_sat as sat
from essay_code.tooling.device import cpu_threads


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One CPU thread, as the runner sets: these small graphs only lose from a
    shared thread pool (and the smoke run takes seconds instead of a minute)."""
    with cpu_threads(1):
        yield


def sat_fraction(n: int, ratio: float, instances: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    clauses = [sat.random_clauses(rng, n, round(ratio * n)) for _ in range(instances)]
    return float(np.mean([sat.is_sat(c, n) for c in clauses]))


def test_clauses_have_three_distinct_variables_in_range():
    clauses = sat.random_clauses(np.random.default_rng(0), 7, 500)
    variables = np.abs(clauses)
    assert clauses.shape == (500, 3)
    assert variables.min() == 1 and variables.max() == 7
    assert all(len(set(row)) == 3 for row in variables)
    assert 0.4 < np.mean(clauses > 0) < 0.6  # random signs


def test_satisfiable_fraction_falls_through_one_half_near_the_threshold():
    # Measured once (n = 50, 300 instances): 0.89 at ratio 4.0, 0.60 at 4.26,
    # 0.27 at 4.6. Far from the threshold the fraction must be near 1 and near 0.
    below = sat_fraction(50, 3.5, 100, seed=1)
    at = sat_fraction(50, 4.26, 100, seed=2)
    above = sat_fraction(50, 5.5, 100, seed=3)
    assert below > 0.85
    assert above < 0.15
    assert 0.35 < at < 0.85
    assert below > at > above


def test_every_sat_label_comes_with_a_model_that_satisfies_every_clause():
    rng = np.random.default_rng(4)
    ns = np.full(60, 20)
    instances, labels = sat.make_fixed_ratio(rng, ns, rng.uniform(3.5, 5.0, 60))
    assert 0 < labels.mean() < 1  # both labels occur
    for (n, clauses), label in zip(instances, labels, strict=True):
        answer = sat.solve(clauses, n)
        assert (answer != "UNSAT") == bool(label)
        if label:
            assignment = sat.model_to_assignment(answer, n)
            assert sat.satisfies(clauses, assignment)
            # The check can fail: flipping every variable breaks some clause here.
            assert not sat.satisfies(np.concatenate([clauses, -clauses]), assignment)


def test_sr_pairs_differ_by_one_clause_and_straddle_satisfiability():
    rng = np.random.default_rng(5)
    for n in (10, 20, 40):
        satisfiable, unsatisfiable = sat.sr_pair(rng, n)
        assert len(unsatisfiable) == len(satisfiable) + 1
        np.testing.assert_array_equal(unsatisfiable[:-1], satisfiable)
        assert sat.is_sat(satisfiable, n)
        assert not sat.is_sat(unsatisfiable, n)


def test_propagation_count_is_the_smallest_limit_that_finishes():
    rng = np.random.default_rng(6)
    clauses = sat.random_clauses(rng, 30, 128)
    needed = sat.propagations_needed(clauses, 30)
    assert sat.solve(clauses, 30, prop_limit=needed) != "UNKNOWN"
    assert sat.solve(clauses, 30, prop_limit=needed - 1) == "UNKNOWN"


def test_solver_arm_checks_its_models_and_counts_work_on_a_subset():
    rng = np.random.default_rng(7)
    instances, labels = sat.make_pairs(rng, np.full(5, 12))
    stats = sat.solver_run(instances, labels, timed=False, counted=3)
    assert stats["model_check"] == 100.0 and stats["accuracy"] == 100.0
    assert "median_ms" not in stats  # untimed: deterministic records
    needed = [sat.propagations_needed(c, n) for n, c in instances[:3]]
    assert stats["median_propagations"] == np.median(needed)
    assert "median_propagations" not in sat.solver_run(instances, labels, False)
    # A wrong label is caught: accuracy is measured, not assumed.
    assert sat.solver_run(instances, 1 - labels, False)["accuracy"] == 0.0


def relabel(
    n: int, clauses: np.ndarray, rng: np.random.Generator
) -> tuple[int, np.ndarray]:
    """The same formula with variables renamed, some signs flipped, clauses and the
    literals within each clause shuffled."""
    rename = rng.permutation(n) + 1  # old variable v -> rename[v - 1]
    flip = rng.choice([-1, 1], size=n)
    variables = np.abs(clauses)
    moved = rename[variables - 1] * np.sign(clauses) * flip[variables - 1]
    moved = moved[rng.permutation(len(moved))]  # clause order
    slots = rng.permuted(np.tile([0, 1, 2], (len(moved), 1)), axis=1)
    return n, np.take_along_axis(moved, slots, axis=1)  # literal order in clauses


def test_message_passing_net_is_invariant_to_renumbering():
    torch.manual_seed(0)
    net = sat.NeuroSATLite(hidden=16)
    rng = np.random.default_rng(8)
    instances = [(n, sat.random_clauses(rng, n, round(4.3 * n))) for n in (8, 15, 23)]
    shuffled = [relabel(n, clauses, rng) for n, clauses in instances]
    assert not all(
        np.array_equal(a[1], b[1]) for a, b in zip(instances, shuffled, strict=True)
    )
    with torch.no_grad():
        original = net(sat.make_graph(instances), rounds=6)
        renumbered = net(sat.make_graph(shuffled), rounds=6)
        # Batch order does not matter either.
        reversed_batch = net(sat.make_graph(instances[::-1]), rounds=6).flip(0)
        # A different formula gives a different output, so the check can fail.
        n, clauses = instances[0]
        negated = clauses.copy()
        negated[0, 0] = -negated[0, 0]
        other = net(sat.make_graph([(n, negated), *instances[1:]]), rounds=6)
    torch.testing.assert_close(original, renumbered, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(original, reversed_batch, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(original[0], other[0], rtol=1e-5, atol=1e-6)


def test_batched_clause_check_matches_numpy():
    rng = np.random.default_rng(9)
    instances = [(n, sat.random_clauses(rng, n, 3 * n)) for n in (5, 9, 12)] * 20
    graph = sat.make_graph(instances)
    truth = rng.random(graph.literals) < 0.5  # variable values; negations follow
    is_positive = np.arange(graph.literals) < graph.flip.numpy()
    truth = np.where(is_positive, truth, ~truth[graph.flip.numpy()])
    batched = sat.satisfied(graph, torch.from_numpy(truth)).numpy()
    offset, expected = 0, []
    for n, clauses in instances:
        expected.append(sat.satisfies(clauses, truth[offset : offset + n]))
        offset += 2 * n
    np.testing.assert_array_equal(batched, expected)
    assert 0 < np.mean(expected) < 1


def test_shortcut_statistics_start_with_the_ratio():
    clauses = sat.random_clauses(np.random.default_rng(10), 20, 85)
    features = sat.statistics(20, clauses)
    assert features[0] == pytest.approx(85 / 20)
    # Size-free: the same formula written twice over disjoint variables.
    doubled = np.concatenate([clauses, np.sign(clauses) * (np.abs(clauses) + 20)])
    np.testing.assert_allclose(sat.statistics(40, doubled)[1:4], features[1:4])
    assert np.all(np.isfinite(features))


def test_shortcut_tuning_picks_the_best_validation_strength_and_reads_the_ratio():
    rng = np.random.default_rng(11)

    def formulas(size: int):
        ns = rng.integers(10, 21, size)
        instances, labels = sat.make_fixed_ratio(rng, ns, rng.uniform(3.0, 5.5, size))
        return sat.features(instances), labels

    train, val = formulas(300), formulas(150)
    model, chosen, scores = sat.tuned_shortcut(train, val, (1e-4, 1.0))
    assert chosen == max(scores, key=lambda c: (scores[c], -c))
    assert scores[1.0] > scores[1e-4] and chosen == 1.0  # a tiny C cannot fit
    # Far from the threshold it reads the ratio: satisfiable at 3, not at 5.5.
    ends, _labels = sat.make_fixed_ratio(
        rng, np.full(40, 15), np.repeat([3.0, 5.5], 20)
    )
    predicted = model.predict(sat.features(ends))
    assert predicted[:20].mean() >= 0.9 and predicted[20:].mean() <= 0.1


# ---------------------------------------------------------------- training
SMALL = sat.Config(**sat.PROFILES["smoke"])
QUIET = RunContext(show_progress=False, record_timings=False)


def test_budgets_halve_down_from_the_step_budget():
    assert sat.budgets_of(replace(SMALL, train_steps=320, checkpoints=3)) == [
        80,
        160,
        320,
    ]
    assert sat.budgets_of(replace(SMALL, train_steps=64, checkpoints=4)) == [
        8,
        16,
        32,
        64,
    ]
    with pytest.raises(ValueError, match="halve"):
        sat.budgets_of(replace(SMALL, train_steps=30, checkpoints=3))
    with pytest.raises(ValueError, match="3 or more"):
        sat.budgets_of(replace(SMALL, checkpoints=2))


def test_early_stopping_takes_the_best_checkpoint_within_the_budget():
    curve = {10: 55.0, 20: 61.0, 40: 61.0, 80: 70.0}
    assert sat.early_stop(curve, 80) == 80
    assert sat.early_stop(curve, 40) == 20  # the earliest of a tie
    assert sat.early_stop(curve, 15) == 10


def test_a_checkpoint_is_the_net_a_shorter_budget_trains():
    """Checkpoints of one run stand in for runs of every smaller budget: the same
    weights as training with that budget alone, and the same again on a rerun."""
    rng = np.random.default_rng(12)
    instances, labels = sat.make_pairs(rng, rng.integers(6, 11, 12))
    cfg = replace(SMALL, train_steps=8, checkpoints=3, batch_pairs=3)
    states = sat.train_net(instances, labels, cfg, 3e-3, 5, QUIET)
    assert sorted(states) == [2, 4, 8]
    short = sat.train_net(
        instances, labels, replace(cfg, train_steps=4, checkpoints=3), 3e-3, 5, QUIET
    )
    again = sat.train_net(instances, labels, cfg, 3e-3, 5, QUIET)
    for name, value in states[4].items():
        torch.testing.assert_close(value, short[4][name], rtol=0, atol=0)
        torch.testing.assert_close(states[8][name], again[8][name], rtol=0, atol=0)
    # Training moves the weights, so the comparison can fail.
    moved = [not torch.equal(states[2][k], states[8][k]) for k in states[8]]
    assert any(moved)


def test_the_net_learns_an_easy_split_it_is_trained_on():
    """Not SAT: satisfiable formulas at ratio 2 against unsatisfiable ones at
    ratio 8 differ in size, which the mean vote can read. The training loop must
    get that right, or a low accuracy elsewhere could be a broken loop."""
    rng = np.random.default_rng(13)
    ns = np.repeat(rng.integers(8, 13, 40), 2)
    ratios = np.tile([2.0, 8.0], 40)
    instances, labels = sat.make_fixed_ratio(rng, ns, ratios)
    cfg = replace(SMALL, hidden=8, rounds=2, train_steps=60, checkpoints=3)
    states = sat.train_net(instances, labels, cfg, 1e-2, 0, QUIET)
    net = sat.restored(states[60], cfg, QUIET)
    predicted, _ = sat.evaluate_net(net, instances, cfg, QUIET, decode=False)
    assert sat.accuracy(predicted, labels) >= 90.0


# ---------------------------------------------------------------- the rule
def estimate(value: float, low: float, high: float) -> Estimate:
    return Estimate(value, low, high, method="test", n=10)


def summary(
    at_40, largest, val=(70, 66, 74), checked=(100, 100, 100), ms=(0.2, 0.1, 0.3)
):
    estimates = {
        sat.KEY: estimate(*at_40),
        "dl_accuracy_largest_n": estimate(*largest),
        "dl_val_accuracy": estimate(*val),
        "solver_model_check": estimate(*checked),
    }
    if ms is not None:
        estimates["solver_median_ms_largest_n"] = estimate(*ms)
    return estimates


@pytest.mark.parametrize(
    ("estimates", "status"),
    [
        (summary((62, 59, 65), (55, 52, 58)), "holds"),
        (summary((88, 86, 90), (80, 77, 83)), "refuted"),
        # Refuted at n = 40 whatever happens beyond the training range.
        (summary((88, 86, 90), (55, 52, 58), val=(55, 52, 58)), "refuted"),
        # The net at n = 40 straddles 85%.
        (summary((84, 80, 88), (70, 66, 74)), "inconclusive"),
        # Between the bars.
        (summary((80, 77, 83), (70, 66, 74)), "inconclusive"),
        # Not competent at its training sizes, or undecided.
        (summary((52, 50, 54), (50, 49, 51), val=(53, 51, 55)), "inconclusive"),
        (summary((58, 55, 61), (52, 50, 54), val=(61, 57, 65)), "inconclusive"),
        # Beyond the training range the net straddles 75%.
        (summary((62, 59, 65), (74, 70, 78)), "inconclusive"),
        # A solver model that fails the check, or a slow or untimed solver.
        (summary((62, 59, 65), (55, 52, 58), checked=(99, 98, 100)), "inconclusive"),
        (summary((62, 59, 65), (55, 52, 58), ms=(40, 30, 50)), "inconclusive"),
        (summary((62, 59, 65), (55, 52, 58), ms=None), "inconclusive"),
    ],
)
def test_verdict_rule(estimates, status):
    result = sat.verdict(estimates)
    assert result.status == status
    assert f"{sat.REFUTE_ACCURACY:g}%" in result.rule
    assert f"{sat.MAX_HOLDS_ACCURACY:g}%" in result.rule
    assert f"{sat.COMPETENCE_ACCURACY:g}%" in result.rule
    assert result.thresholds[sat.KEY] == sat.REFUTE_ACCURACY
    assert result.thresholds["dl_val_accuracy"] == sat.COMPETENCE_ACCURACY
    assert set(result.thresholds) <= set(estimates)


def test_the_reason_names_an_incompetent_net():
    result = sat.verdict(summary((52, 50, 54), (50, 49, 51), val=(53, 51, 55)))
    assert result.reason.startswith("the net is not competent")


# ---------------------------------------------------------------- smoke run
@pytest.fixture(scope="module")
def smoke_records():
    return sat.run(SMALL, QUIET)


def test_smoke_run_has_both_stages_every_checkpoint_and_range(smoke_records):
    records = smoke_records
    assert set(records["stage"]) == {sat.PUBLISHED, sat.SELECTION}
    selection = records[records["stage"] == sat.SELECTION]
    assert set(selection["seed"]) == {sat.SELECTION_SEED0}
    assert set(selection["lr"]) == set(SMALL.lrs)
    published = sat.published(records)
    assert set(published["seed"]) == set(range(SMALL.seeds))
    assert sat.budgets_in(records) == sat.budgets_of(SMALL)
    assert sat.ranges_in(records) == sat.training_ranges(SMALL)
    assert sat.headline_range(records) == SMALL.train_n_max
    # The published nets train with the learning rate the selection seeds chose.
    best = selection.groupby(["lr", "seed"])["value"].max().groupby("lr").mean()
    assert sat.chosen_lr(records) == max(sorted(best.index), key=best.get)
    # Decoding and the sweep come from each seed's early-stopped checkpoint.
    steps = sat.chosen_steps(records, SMALL.train_n_max, SMALL.train_steps)
    sweep = core.select(published, arm=sat.DL_ARM, test_set="ratio")
    assert (sweep["step"].to_numpy() == steps.loc[sweep["seed"]].to_numpy()).all()


def test_smoke_summary_assessment_and_map_agree(smoke_records):
    records = smoke_records
    estimates = sat.summarize(records)
    verdict = sat.verdict(estimates)
    assessment = sat.assess(records, estimates)
    robustness = assessment.robustness
    budgets = sat.budgets_of(SMALL)
    assert robustness.axes == {
        "train_steps": budgets,
        "train_n_max": sat.training_ranges(SMALL),
    }
    assert robustness.headline == {
        "train_steps": SMALL.train_steps,
        "train_n_max": SMALL.train_n_max,
    }
    assert robustness.status_at(robustness.headline) == verdict.status
    (convergence,) = assessment.convergence
    assert convergence.arm == sat.DL_ARM
    assert list(convergence.budgets) == budgets and budgets[-2] * 2 == budgets[-1]
    assert convergence.tolerance == sat.CONVERGENCE_TOLERANCE
    assert [t.arm for t in assessment.tuning] == [
        sat.DL_ARM,
        sat.SHORTCUT_ARM,
        sat.SOLVER_ARM,
    ]
    net, shortcut, solver = assessment.tuning
    assert net.grid == {"lr": list(SMALL.lrs), "steps": budgets}
    assert net.chosen["lr"] in SMALL.lrs
    assert set(net.chosen["steps"]) <= set(budgets)
    assert len(net.chosen["steps"]) == SMALL.seeds
    assert shortcut.grid == {"C": list(SMALL.shortcut_cs)}
    assert set(shortcut.chosen["C"]) <= set(SMALL.shortcut_cs)
    assert solver.grid == {} and "no free choice" in solver.selected_on
    for tuning in assessment.tuning:
        assert "test" not in tuning.selected_on.lower().split()
    assert assessment.scale_axis == "train_steps" and assessment.effort
    # Every estimate has a readable name where the default profile has it too.
    for ratio in SMALL.sweep_ratios:
        assert f"dl_minus_majority_r{sat.ratio_name(ratio)}" in estimates
    assert estimates["ratios_below_majority"].n == len(SMALL.sweep_ratios)
    assert estimates["dl_chosen_lr"].value == net.chosen["lr"]
    # Everything assess() needs survives a CSV round trip (gather's path).
    reloaded = pd.read_csv(io.StringIO(records.to_csv(index=False)))
    again = sat.assess(reloaded, sat.summarize(reloaded))
    assert again.to_json(verdict.status) == assessment.to_json(verdict.status)
    assert set(sat.charts(records)) >= {"accuracy_vs_n", "accuracy_vs_budget"}


def test_majority_baseline_is_the_larger_label_share():
    rows = pd.DataFrame(
        {
            "stage": sat.PUBLISHED,
            "seed": [0, 0, 1, 1],
            "arm": sat.DL_ARM,
            "test_set": "ratio",
            "ratio": [3.0, 5.5, 3.0, 5.5],
            "metric": "sat_fraction",
            "value": [90.0, 20.0, 70.0, 0.0],
        }
    )
    table = sat.majority_table(rows)
    np.testing.assert_array_equal(table.to_numpy(), [[90.0, 80.0], [70.0, 100.0]])


def test_every_default_estimate_name_reads_in_words():
    cfg = sat.Config()
    names = {sat.KEY, "dl_val_accuracy", "ratios_below_majority"} | {
        f"dl_minus_majority_r{sat.ratio_name(r)}" for r in cfg.sweep_ratios
    }
    assert names <= set(sat.NAMES)
    assert cfg.train_n_max == sat.REFUTE_N  # the headline trains up to n = 40
    assert sat.REFUTE_N in cfg.test_ns and max(cfg.test_ns) > cfg.train_n_max
