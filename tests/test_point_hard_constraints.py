"""Properties of the hard-constraints experiment: the LP family, HiGHS's labels, the
violation metric by constraint type, the completion + projection layer (trained
through, applied after training, applied to merit order), the training loop, the
choices made on validation instances, the verdict rule and the assessment."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch

from essay_code import core
from essay_code.core import Estimate
from essay_code.points import hard_constraints as hc
from essay_code.tooling.registry import load_point
from essay_code.tooling.runner import resolve_config

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def instances():
    """60 HiGHS-solved instances: demands [60, loads], dispatch [60, gens]."""
    return hc.make_instances(np.random.default_rng(123), 60, 0.5)


def line_flows(dispatch: np.ndarray, demand: np.ndarray) -> np.ndarray:
    """All 8 line flows from the bus injections, independently of Family."""
    injection = np.zeros(hc.BUSES)
    np.add.at(injection, hc.GEN_BUS, dispatch)
    np.add.at(injection, hc.LOAD_BUSES, -demand)
    return hc.ptdf() @ injection


def worst(dispatch, demand) -> float:
    """The largest violation of any constraint, share of demand."""
    return hc.violations(torch.as_tensor(dispatch), torch.as_tensor(demand)).max()


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


def test_the_block_lp_gives_each_instance_its_own_optimum(instances):
    """One LP of independent blocks = one LP per instance (cost to rounding)."""
    demands, dispatch = instances
    for method in ("highs-ds", "highs-ipm"):
        each = np.array([hc.solve_dispatch(d, method) for d in demands[:10]])
        np.testing.assert_allclose(
            hc.dispatch_cost(each), hc.dispatch_cost(dispatch[:10]), rtol=1e-9
        )
    # An unservable demand (more than every generator's maximum) is dropped.
    too_much = np.vstack([demands[:3], [[400.0] * 5]])
    assert hc.solve_block(too_much) is None
    assert hc.solve_dispatch(too_much[-1]) is None


def test_the_family_is_not_trivial(instances):
    """Line limits bind in some instances and not in others (congestion varies)."""
    demands, dispatch = instances
    fam = hc.FAMILY
    flows = dispatch @ fam.gen_flow.T - demands @ fam.load_flow.T
    binding = np.any(np.abs(flows) >= fam.limit - 1e-6, axis=1)
    assert 0.1 < binding.mean() < 0.9


def test_violation_is_zero_on_highs_solutions(instances):
    demands, dispatch = instances
    assert worst(dispatch, demands) <= 1e-9
    scores = hc.score(dispatch[None], demands[None], dispatch[None])
    assert scores["infeasible_pct"][0] == 0.0 and scores["gap_pct"][0] == 0.0
    assert abs(scores["active_slack"][0]) <= 1e-9  # binding means zero slack


def test_violation_is_positive_on_hand_made_infeasible_points(instances):
    demands, dispatch = instances
    demand, p = demands[0], dispatch[0].copy()
    total = demand.sum()
    over = p.copy()
    over[3] += 2.0  # 2 MW too much: power balance off by 2 / total
    assert worst(over, demand) == pytest.approx(2.0 / total)
    # Moving 5 MW between two generators keeps the balance, breaks one bound.
    below = p.copy()
    below[4] = hc.GEN_MIN[4] - 5.0
    below[2] += 5.0 - (p[4] - hc.GEN_MIN[4])
    assert worst(below, demand) >= 5.0 / total - 1e-12
    # Both cheap bus-0 generators at their maximum at low demand (the rest at
    # minimum): the lines out of bus 0 carry more than their limits.
    low = hc.BASE_LOAD * 0.9
    crowded = hc.GEN_MIN.copy()
    crowded[:2] = hc.GEN_MAX[:2]
    limited = np.isfinite(hc.LINE_LIMIT)
    overload = np.maximum(
        np.abs(line_flows(crowded, low)[limited]) - hc.LINE_LIMIT[limited], 0.0
    )
    assert overload.max() > 0
    values = hc.violations(torch.tensor(crowded), torch.tensor(low))
    lines = values[1 + 2 * hc.GENS :].numpy()  # [+limit parts, -limit parts]
    np.testing.assert_allclose(
        lines[: limited.sum()] + lines[limited.sum() :], overload / low.sum()
    )


def test_scores_separate_the_equality_from_the_inequalities(instances):
    """Balance off everywhere, inequalities kept: only the equality is infeasible;
    bounds broken with the balance kept: only the inequalities are."""
    demands, dispatch = instances
    free_gen = 3  # an optimum leaves it strictly inside its bounds in some instances
    inside = (dispatch[:, free_gen] > hc.GEN_MIN[free_gen] + 1) & (
        dispatch[:, free_gen] < hc.GEN_MAX[free_gen] - 1
    )
    d, p = demands[inside], dispatch[inside]
    off_balance = p.copy()
    off_balance[:, free_gen] += 0.5  # 0.5 MW: about 1000 ppm of demand
    scores = hc.score(off_balance[None], d[None], p[None])
    assert scores["equality_infeasible_pct"][0] == 100.0
    assert scores["inequality_infeasible_pct"][0] == 0.0
    assert scores["infeasible_pct"][0] == 100.0
    assert scores["balance_violation"][0] == pytest.approx(
        np.mean(0.5 / d.sum(-1)), rel=1e-9
    )
    # Every generator pulled 2% of its range inside its bounds: each bound that
    # binds at the optimum now has slack; a positive active slack says so.
    interior = np.clip(
        p,
        hc.GEN_MIN + 0.02 * (hc.GEN_MAX - hc.GEN_MIN),
        hc.GEN_MAX - 0.02 * (hc.GEN_MAX - hc.GEN_MIN),
    )
    assert hc.score(interior[None], d[None], p[None])["active_slack"][0] > 0
    broken = p.copy()
    broken[:, 2] = hc.GEN_MAX[2] + 1.0
    broken[:, free_gen] -= broken[:, 2] - p[:, 2]  # the balance kept
    scores = hc.score(broken[None], d[None], p[None])
    assert scores["inequality_infeasible_pct"][0] == 100.0
    assert scores["equality_infeasible_pct"][0] == 0.0


def test_merit_order_is_balanced_bounded_and_cheapest_first(instances):
    demands, _ = instances
    guess = hc.merit_order(demands)
    np.testing.assert_allclose(guess.sum(-1), demands.sum(-1))
    assert np.all(guess >= hc.GEN_MIN) and np.all(guess <= hc.GEN_MAX)
    order = np.argsort(hc.GEN_COST)
    for row in guess:  # a dearer generator above its minimum: the cheaper are full
        above = row[order] > hc.GEN_MIN[order] + 1e-9
        last = np.flatnonzero(above).max()
        np.testing.assert_allclose(row[order][:last], hc.GEN_MAX[order][:last])
    assert guess.ndim == 2 and hc.merit_order(demands[None]).shape == (1, 60, hc.GENS)


def test_completion_balances_power_by_construction(instances):
    """Untrained weights, any output: the fix arm's balance residual is ~0."""
    demands, _ = instances
    cfg = hc.Config(hidden=8, projection_steps=3)
    model = hc.make_models(hc.GENS - 1, [0, 1], cfg, CPU)
    demand = torch.tensor(np.stack([demands, demands * 1.1]), dtype=torch.float32)
    with torch.no_grad():
        dispatch, _ = hc.answer(model, demand, cfg, hc.FIX_ARM)
    residual = hc.violations(dispatch, demand)[..., 0]
    assert residual.max().item() <= 1e-6  # float32 rounding of a ~500 MW sum
    # The plain head has no such guarantee.
    plain = hc.make_models(hc.GENS, [0], cfg, CPU)
    with torch.no_grad():
        free, sweeps = hc.answer(plain, demand[:1], cfg, hc.MSE_ARM)
    assert sweeps is None
    assert hc.violations(free, demand[:1])[..., 0].max().item() > 1e-3


@pytest.mark.parametrize("arm", [hc.POSTHOC_ARM, hc.MERIT_ARM])
def test_the_projection_after_training_and_after_merit_order_is_feasible(
    instances, arm
):
    """The ablation (an MSE-trained head, projected only when answering) and the
    no-learning baseline both land within the projection's tolerance."""
    demands, _ = instances
    cfg = hc.Config(hidden=8)
    demand = torch.tensor(np.stack([demands, demands * 0.95]), dtype=torch.float32)
    with torch.no_grad():
        if arm == hc.POSTHOC_ARM:
            model = hc.make_models(hc.GENS, [0, 1], cfg, CPU)
            raw = hc.to_dispatch(model(hc.scale_inputs(demand, cfg)), free=False)
            dispatch, sweeps = hc.answer(model, demand, cfg, arm)
        else:
            raw = torch.tensor(hc.merit_order(demand.double().numpy()))
            raw = raw.float()
            dispatch, sweeps = hc.restore(hc.free_part(raw), demand, cfg)
    before = hc.violations(raw.double(), demand.double()).amax(dim=(1, 2))
    after = hc.violations(dispatch.double(), demand.double()).amax(dim=(1, 2))
    assert before.min() > 10 * cfg.projection_tol  # there was something to fix
    assert after.max() <= cfg.projection_tol
    assert torch.all((sweeps > 0) & (sweeps < cfg.projection_steps))


def test_projection_reaches_the_feasible_set_and_freezes_finished_models(instances):
    demands, dispatch = instances
    demand = torch.tensor(demands)
    optimum = torch.tensor(dispatch)
    # A feasible point stays where it is.
    free = hc.free_part(optimum)
    kept, _ = hc.project(free, demand, sweeps=5)
    torch.testing.assert_close(kept, free)
    # Perturbed ones land back inside, far below the tolerance; the model with the
    # smaller push stops sooner, and its answer is the one it gives alone.
    noise = torch.randn(free.shape, generator=torch.Generator().manual_seed(0))
    pushed = torch.stack([free + 2.0 * noise, free + 100.0 * noise])
    both = torch.stack([demand, demand])
    moved, used = hc.project(pushed, both, 2000, tol=1e-9)
    assert hc.violations(hc.complete(moved, both), both).max() <= 1e-9
    assert 0 < used[0] < used[1] < 2000
    alone, used_alone = hc.project(pushed[0], demand, 2000, tol=1e-9)
    torch.testing.assert_close(moved[0], alone, rtol=0, atol=1e-9)
    assert used_alone == used[0]


def test_rows_and_joined_keep_each_model():
    cfg = hc.Config(hidden=8)
    model = hc.make_models(hc.GENS, [0, 1, 2], cfg, CPU)
    demand = torch.rand(3, 11, hc.BASE_LOAD.size) * 100
    with torch.no_grad():
        single = hc.rows(model, 1, 2)
        torch.testing.assert_close(single(demand[1:2]), model(demand)[1:2])
        again = hc.joined([hc.rows(model, 0, 1), hc.rows(model, 1)])
        torch.testing.assert_close(again(demand), model(demand))
    assert all(not param.requires_grad for param in single.params)
    assert all(param.requires_grad for param in model.params)


@pytest.fixture(scope="module")
def tiny_data():
    rng = np.random.default_rng(7)
    return {seed: {"train": hc.make_instances(rng, 64, 0.5)} for seed in (0, 1)}


def test_the_written_out_adam_is_torch_adam_with_cosine_decay(tiny_data):
    """One cell alone = torch.optim.Adam + CosineAnnealingLR on the same batches."""
    cfg = hc.Config(hidden=8, batch_size=16)
    ctx = core.RunContext(show_progress=False)
    cell = hc.Cell(seed=0, penalty=1.0, lr=3e-3, steps=12)
    _, trained = hc.train([cell], tiny_data, cfg, False, ctx)
    reference = hc.make_models(hc.GENS, [0], cfg, CPU)
    optimizer = torch.optim.Adam(reference.params, lr=cell.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cell.steps)
    demand, dispatch = (
        torch.tensor(a, dtype=torch.float32)[None] for a in tiny_data[0]["train"]
    )
    generator = torch.Generator().manual_seed(0)
    for _ in range(cell.steps):
        index = torch.randint(64, (cfg.batch_size,), generator=generator)
        batch = demand[:, index]
        out = hc.to_dispatch(reference(hc.scale_inputs(batch, cfg)), free=False)
        mse = ((hc.to_unit(out) - hc.to_unit(dispatch[:, index])) ** 2).mean()
        loss = mse + cell.penalty * hc.violations(out, batch).sum(-1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    for mine, theirs in zip(trained.params, reference.params, strict=True):
        torch.testing.assert_close(mine, theirs.detach(), rtol=1e-5, atol=1e-6)


def test_a_short_budget_in_a_stack_is_the_same_run_alone(tiny_data):
    """Cells leave the stack when their budget ends: a 6-step cell trained beside
    12-step cells (another seed, another rate) is the 6-step cell trained alone."""
    cfg = hc.Config(hidden=8, batch_size=16, train_projection_steps=2)
    ctx = core.RunContext(show_progress=False)
    short = hc.Cell(seed=0, penalty=0.0, lr=1e-3, steps=6)
    others = [hc.Cell(1, 0.0, 3e-3, 12), hc.Cell(0, 0.0, 3e-3, 12)]
    for constrained in (False, True):
        cells, stack = hc.train([*others, short], tiny_data, cfg, constrained, ctx)
        assert [c.steps for c in cells] == [6, 12, 12]  # sorted by budget
        _, alone = hc.train([short], tiny_data, cfg, constrained, ctx)
        for mine, theirs in zip(hc.rows(stack, 0, 1).params, alone.params, strict=True):
            torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6)


def records_for_choice() -> pd.DataFrame:
    """Selection rows by hand: lr 1e-3 is best for MSE; weight 1 at lr 3e-3 is the
    penalty arm's best; a test row that would win is never looked at."""
    rows = core.Records()

    def add(arm, penalty, lr, violation, gap, stage="selection", split="validation"):
        for seed in (100, 101):
            rows.add_many(
                {"max_violation": violation, "gap_pct": gap, "infeasible_pct": 50.0},
                seed=seed,
                arm=arm,
                stage=stage,
                split=split,
                penalty=penalty,
                lr=lr,
                steps=10,
                method="adam",
            )

    for arm in (hc.MSE_ARM, hc.POSTHOC_ARM, hc.FIX_ARM):
        add(arm, 0.0, 1e-3, 1e-3, 0.5)  # distance 10
        add(arm, 0.0, 3e-3, 2e-3, 0.5)  # distance 20
    add(hc.PENALTY_ARM, 1.0, 1e-3, 1e-3, 30.0)  # distance 30 (gap dominates)
    add(hc.PENALTY_ARM, 1.0, 3e-3, 5e-4, 2.0)  # distance 5: the best
    add(hc.PENALTY_ARM, 10.0, 1e-3, 1e-3, 8.0)  # distance 10
    add(hc.PENALTY_ARM, 10.0, 3e-3, 1e-5, 0.1, stage="published", split="test")
    for method, seconds in (("highs-ds", 3.0), ("highs-ipm", 2.0)):
        for seed in (100, 101):
            rows.add_many(
                {
                    "max_violation": 0.0,
                    "gap_pct": 0.0,
                    "infeasible_pct": 0.0,
                    "time_us_per_instance": seconds,
                },
                seed=seed,
                arm=hc.SOLVER_ARM,
                stage="selection",
                split="validation",
                penalty=0.0,
                lr=0.0,
                steps=0,
                method=method,
            )
    return rows.frame()


def test_choices_minimise_the_validation_distance_to_passing():
    assert hc.distance_to_passing(2e-4, 0.5) == pytest.approx(2.0)
    assert hc.distance_to_passing(1e-5, 3.0) == pytest.approx(3.0)
    choice = hc.choose(records_for_choice())
    assert choice.lr[hc.MSE_ARM, 0.0] == 1e-3
    assert choice.lr[hc.PENALTY_ARM, 1.0] == 3e-3
    assert choice.lr[hc.PENALTY_ARM, 10.0] == 1e-3  # only its validation rows count
    assert choice.penalty == 1.0
    assert choice.method == "highs-ipm"  # both exact; the faster one


def est(value: float, low: float, high: float) -> Estimate:
    return Estimate(value, low, high, method="test", n=5)


def estimates(soft_inf, soft_gap, fix_inf, fix_gap, highs_inf=(0, 0, 0)):
    """A summary with the plain arm, a penalty arm far from feasible, the fix, the
    ablation and the baseline."""
    found = {
        "penalty_weight": est(10, 10, 10),
        "infeasible_pct_mse": est(*soft_inf),
        "gap_pct_mse": est(*soft_gap),
        "infeasible_pct_penalty": est(90, 80, 95),
        "gap_pct_penalty": est(5, 4, 6),
        "infeasible_pct_fix": est(*fix_inf),
        "gap_pct_fix": est(*fix_gap),
        "infeasible_pct_highs": est(*highs_inf),
        "gap_pct_highs": est(0, 0, 0),
    }
    for name in ("posthoc", "merit"):
        found[f"infeasible_pct_{name}"] = est(0, 0, 0)
        found[f"gap_pct_{name}"] = est(3, 2, 4)
    for name in ("mse", "penalty"):
        found[f"equality_infeasible_pct_{name}"] = est(90, 80, 95)
        found[f"inequality_infeasible_pct_{name}"] = est(0, 0, 0)
    return found


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
    assert "power balance" in result.reason and "1%" in result.rule
    assert "projected after training" in result.reason
    assert result.thresholds[hc.KEY] == hc.MAX_INFEASIBLE_PCT
    assert result.thresholds["gap_pct_penalty"] == hc.MAX_GAP_PCT
    assert result.thresholds["gap_pct_highs"] == hc.SOLVER_MAX_GAP_PCT


def test_the_smoke_run_assesses_every_trained_arm():
    """run() + summarize() + assess() on the smoke profile: a convergence record
    and a tuning record per trained arm, HiGHS tuned too, and a map over the budget
    and the penalty weight whose headline cell is verdict()'s."""
    point = load_point("hard-constraints")
    cfg = resolve_config(point, "smoke")
    ctx = core.RunContext(show_progress=False, record_timings=False)
    records = hc.run(cfg, ctx)
    assert set(records["stage"]) == {"selection", "published"}
    selection = core.select(records, stage="selection")
    assert set(selection["split"]) == {"validation"}  # choices never see test data
    assert selection["seed"].min() >= hc.SELECTION_SEED0
    assert core.select(records, stage="published")["seed"].max() < cfg.seeds
    estimates = hc.summarize(records)
    assert set(estimates) <= set(hc.NAMES)  # every estimate has a readable name
    for name in (
        "equality_infeasible_pct_penalty",
        "inequality_infeasible_pct_mse",
        "gap_pct_posthoc",
        "gap_pct_merit",
        "gap_fix_minus_posthoc",
    ):
        assert name in estimates
    assessment = hc.assess(records, estimates)
    assert isinstance(assessment, core.Assessment)
    assert len(assessment.convergence) == len(hc.TRAINED)
    assert all(
        c.budgets == tuple(map(float, cfg.budgets)) for c in assessment.convergence
    )
    arms = [t.arm for t in assessment.tuning]
    assert len(arms) == len(hc.TRAINED) + 1 and hc.ARM_NAMES[hc.SOLVER_ARM][1] in arms
    robustness = assessment.robustness
    assert robustness.axes[hc.BUDGET_AXIS] == list(cfg.budgets)
    assert robustness.axes[hc.WEIGHT_AXIS] == list(cfg.penalties)
    assert len(robustness.cells) == len(cfg.budgets) * len(cfg.penalties)
    verdict = hc.verdict(estimates)
    assert robustness.status_at(robustness.headline) == verdict.status
    assert robustness.headline[hc.BUDGET_AXIS] == max(cfg.budgets)
    assert assessment.scale_axis == hc.BUDGET_AXIS
    # gather recomputes everything from records.csv: the choices survive the trip.
    buffer = io.StringIO()
    records.to_csv(buffer, index=False)
    buffer.seek(0)
    again, first = hc.choose(pd.read_csv(buffer)), hc.choose(records)
    assert (again.lr, again.penalty, again.method) == (
        first.lr,
        first.penalty,
        first.method,
    )
    # The chosen weight's estimates are that weight's own.
    weight = hc.penalty_name(estimates["penalty_weight"].value)
    assert estimates["gap_pct_penalty"] == estimates[f"gap_pct_penalty_{weight}"]
