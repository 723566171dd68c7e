"""Properties of the hard-constraints experiment: the LP family, HiGHS's labels, the
violation metric, the completion + projection layer, and the verdict rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from essay_code.core import Estimate
from essay_code.points import hard_constraints as hc


@pytest.fixture(scope="module")
def fam() -> hc.Family:
    return hc.family()


@pytest.fixture(scope="module")
def instances(fam):
    """60 HiGHS-solved instances: demands [60, loads], dispatch [60, gens]."""
    demands, dispatch, _seconds = hc.make_instances(
        np.random.default_rng(123), 60, 0.5, fam
    )
    return demands, dispatch


def line_flows(dispatch: np.ndarray, demand: np.ndarray) -> np.ndarray:
    """All 8 line flows from the bus injections, independently of Family."""
    injection = np.zeros(hc.BUSES)
    np.add.at(injection, hc.GEN_BUS, dispatch)
    np.add.at(injection, hc.LOAD_BUSES, -demand)
    return hc.ptdf() @ injection


def test_ptdf_flows_balance_every_bus():
    rng = np.random.default_rng(0)
    injection = rng.normal(size=hc.BUSES)
    injection -= injection.mean()  # a balanced injection
    flows = hc.ptdf() @ injection
    incidence = np.zeros((len(hc.LINES), hc.BUSES))
    for line, (start, end) in enumerate(hc.LINES):
        incidence[line, start], incidence[line, end] = 1.0, -1.0
    # Kirchhoff: what flows out of each bus is what is injected there.
    np.testing.assert_allclose(incidence.T @ flows, injection, atol=1e-10)


def test_every_highs_solution_is_feasible(instances):
    demands, dispatch = instances
    for demand, p in zip(demands, dispatch, strict=True):
        total = demand.sum()
        assert abs(p.sum() - total) <= 1e-7 * total  # power balance
        assert np.all(p >= hc.GEN_MIN - 1e-7) and np.all(p <= hc.GEN_MAX + 1e-7)
        flows = line_flows(p, demand)
        limited = np.isfinite(hc.LINE_LIMIT)
        assert np.all(np.abs(flows[limited]) <= hc.LINE_LIMIT[limited] + 1e-6)


def test_the_family_is_not_trivial(fam, instances):
    """Line limits bind in some instances and not in others (congestion varies)."""
    demands, dispatch = instances
    flows = dispatch @ fam.gen_flow.T - demands @ fam.load_flow.T
    binding = np.any(np.abs(flows) >= fam.limit - 1e-6, axis=1)
    assert 0.1 < binding.mean() < 0.9


def test_violation_is_zero_on_highs_solutions(fam, instances):
    demands, dispatch = instances
    worst = hc.violations(torch.tensor(dispatch), torch.tensor(demands), fam)
    assert worst.max().item() <= 1e-9
    score = hc.score(dispatch, demands, dispatch, fam)
    assert score["infeasible_pct"] == 0.0 and score["gap_pct"] == 0.0


def test_violation_is_positive_on_hand_made_infeasible_points(fam, instances):
    demands, dispatch = instances
    demand, p = demands[0], dispatch[0].copy()
    total = demand.sum()

    def worst(point):
        values = hc.violations(torch.tensor(point), torch.tensor(demand), fam)
        return values.max().item()

    over = p.copy()
    over[3] += 2.0  # 2 MW too much: power balance off by 2 / total
    assert worst(over) == pytest.approx(2.0 / total)
    # Moving 5 MW between two generators keeps the balance, breaks one bound.
    below = p.copy()
    below[4] = hc.GEN_MIN[4] - 5.0
    below[2] += 5.0 - (p[4] - hc.GEN_MIN[4])
    assert worst(below) >= 5.0 / total - 1e-12
    # Both cheap bus-0 generators at their maximum at low demand (the rest at
    # minimum): the lines out of bus 0 carry more than their limits.
    low = hc.BASE_LOAD * 0.9
    crowded = hc.GEN_MIN.copy()
    crowded[:2] = hc.GEN_MAX[:2]
    limited = np.isfinite(hc.LINE_LIMIT)
    flows = line_flows(crowded, low)[limited]
    overload = np.maximum(np.abs(flows) - hc.LINE_LIMIT[limited], 0.0)
    assert overload.max() > 0
    values = hc.violations(torch.tensor(crowded), torch.tensor(low), fam)
    lines = values[1 + 2 * hc.GENS :].numpy()  # [+limit parts, -limit parts]
    np.testing.assert_allclose(
        lines[: limited.sum()] + lines[limited.sum() :], overload / low.sum()
    )


def test_completion_balances_power_by_construction(fam, instances):
    """Untrained weights, any output: the fix arm's balance residual is ~0."""
    demands, _ = instances
    cfg = hc.Config(hidden=8, projection_steps=3)
    model = hc.make_models(hc.GENS - 1, [0, 1], cfg, torch.device("cpu"))
    demand = torch.tensor(np.stack([demands, demands * 1.1]), dtype=torch.float32)
    with torch.no_grad():
        dispatch, _ = hc.predict(model, demand, fam, cfg, constrained=True)
    residual = hc.violations(dispatch, demand, fam)[..., 0]
    assert residual.max().item() <= 1e-6  # float32 rounding of a ~500 MW sum
    # The plain head has no such guarantee.
    with torch.no_grad():
        plain = hc.make_models(hc.GENS, [0], cfg, torch.device("cpu"))
        free, _ = hc.predict(plain, demand[:1], fam, cfg, constrained=False)
    assert hc.violations(free, demand[:1], fam)[..., 0].max().item() > 1e-3


def test_one_model_answers_as_its_row_of_the_stack():
    """The timed single model is the stacked one's row, and is detached from it."""
    cfg = hc.Config(hidden=8)
    model = hc.make_models(hc.GENS, [0, 1, 2], cfg, torch.device("cpu"))
    demand = torch.rand(3, 11, hc.BASE_LOAD.size) * 100
    single = hc.one_model(model, 1)
    with torch.no_grad():
        torch.testing.assert_close(single(demand[1:2]), model(demand)[1:2])
    assert all(not param.requires_grad for param in single.params)
    assert all(param.requires_grad for param in model.params)


def test_projection_reaches_the_feasible_set(fam, instances):
    demands, dispatch = instances
    demand = torch.tensor(demands)
    optimum = torch.tensor(dispatch)
    # A feasible point stays where it is.
    free = optimum[:, hc.FREE_GENS]
    kept, _ = hc.project(free, demand, fam, sweeps=5)
    torch.testing.assert_close(kept, free)
    # A perturbed one lands back inside, to far below the tolerance.
    noise = torch.randn(free.shape, generator=torch.Generator().manual_seed(0))
    moved, used = hc.project(free + 15.0 * noise, demand, fam, 2000, tol=1e-9)
    worst = hc.violations(hc.complete(moved, demand), demand, fam).max()
    assert worst.item() <= 1e-9 and 0 < used < 2000  # converged, and stopped


def est(value: float, low: float, high: float) -> Estimate:
    return Estimate(value, low, high, method="test", n=5)


def estimates(soft_inf, soft_gap, fix_inf, fix_gap, highs_inf=(0, 0, 0)):
    """A summary with one plain arm, one penalty arm (far from feasible) and the fix."""
    return {
        "infeasible_pct_mse": est(*soft_inf),
        "gap_pct_mse": est(*soft_gap),
        "infeasible_pct_penalty_10": est(90, 80, 95),
        "gap_pct_penalty_10": est(5, 4, 6),
        "infeasible_pct_fix": est(*fix_inf),
        "gap_pct_fix": est(*fix_gap),
        "infeasible_pct_highs": est(*highs_inf),
        "gap_pct_highs": est(0, 0, 0),
    }


@pytest.mark.parametrize(
    ("summary", "status"),
    [
        (
            estimates((100, 100, 100), (2, 1.5, 3), (0, 0, 0), (0.3, 0.2, 0.4)),
            "mitigated",
        ),
        (
            estimates((100, 100, 100), (2, 1.5, 3), (30, 20, 40), (0.3, 0.2, 0.4)),
            "holds",
        ),
        (
            estimates((0.2, 0, 0.5), (0.3, 0.2, 0.4), (0, 0, 0), (0.3, 0.2, 0.4)),
            "refuted",
        ),
        (
            estimates((0.8, 0.2, 1.6), (0.3, 0.2, 0.4), (0, 0, 0), (0.3, 0.2, 0.4)),
            "inconclusive",
        ),
        (
            estimates((100, 100, 100), (2, 1.5, 3), (0.8, 0.4, 1.5), (0.3, 0.2, 0.4)),
            "inconclusive",
        ),
        (
            estimates(
                (100, 100, 100),
                (2, 1.5, 3),
                (0, 0, 0),
                (0.3, 0.2, 0.4),
                highs_inf=(2, 1, 3),
            ),
            "inconclusive",
        ),
    ],
)
def test_verdict_returns_each_status(summary, status):
    result = hc.verdict(summary)
    assert result.status == status
    assert "infeasible" in result.reason and "1%" in result.rule
    assert result.thresholds[hc.KEY] == hc.MAX_INFEASIBLE_PCT
    assert result.thresholds["gap_pct_penalty_10"] == hc.MAX_GAP_PCT
    assert result.thresholds["gap_pct_highs"] == hc.SOLVER_MAX_GAP_PCT
