"""logic-sat: the generator, the solver's certificates, the net's symmetries and
the verdict rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from essay_code.core import Estimate
from essay_code.points import logic_sat as sat


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
    # POINTS.md measured (n = 50, 300 instances): 0.89 at ratio 4.0, 0.60 at 4.26,
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


def test_solver_arm_checks_its_models():
    rng = np.random.default_rng(7)
    instances, labels = sat.make_pairs(rng, np.full(5, 12))
    stats = sat.solver_run(instances, labels, timed=False)
    assert stats["model_check"] == 100.0 and stats["accuracy"] == 100.0
    assert "median_ms" not in stats  # untimed: deterministic records


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


def estimate(value: float, low: float, high: float) -> Estimate:
    return Estimate(value, low, high, method="test", n=5)


def summary(largest, at_40, drop, checked=(100, 100, 100), ms=(0.2, 0.1, 0.3)):
    estimates = {
        sat.KEY: estimate(*largest),
        "dl_accuracy_n40": estimate(*at_40),
        "dl_accuracy_drop": estimate(*drop),
        "solver_model_check": estimate(*checked),
    }
    if ms is not None:
        estimates["solver_median_ms_largest_n"] = estimate(*ms)
    return estimates


@pytest.mark.parametrize(
    ("estimates", "status"),
    [
        (summary((55, 52, 58), (57, 54, 60), (10, 6, 14)), "holds"),
        (summary((88, 86, 90), (90, 87, 93), (1, -1, 3)), "refuted"),
        # The net at n = 40 straddles 85%.
        (summary((80, 76, 84), (84, 80, 88), (2, 0.5, 4)), "inconclusive"),
        # Low accuracy but no drop with n: not "falls with n".
        (summary((55, 52, 58), (56, 53, 59), (0.5, -2, 3)), "inconclusive"),
        # Accuracy at the largest n straddles 75%.
        (summary((74, 70, 78), (76, 72, 80), (8, 5, 11)), "inconclusive"),
        # A solver model that fails the check, or a slow or untimed solver.
        (
            summary((55, 52, 58), (57, 54, 60), (10, 6, 14), checked=(99, 98, 100)),
            "inconclusive",
        ),
        (
            summary((55, 52, 58), (57, 54, 60), (10, 6, 14), ms=(40, 30, 50)),
            "inconclusive",
        ),
        (summary((55, 52, 58), (57, 54, 60), (10, 6, 14), ms=None), "inconclusive"),
    ],
)
def test_verdict_rule(estimates, status):
    result = sat.verdict(estimates)
    assert result.status == status
    assert f"{sat.REFUTE_ACCURACY:g}%" in result.rule
    assert f"{sat.MAX_HOLDS_ACCURACY:g}%" in result.rule
    assert result.thresholds[sat.KEY] == sat.MAX_HOLDS_ACCURACY
    assert result.thresholds["dl_accuracy_n40"] == sat.REFUTE_ACCURACY
