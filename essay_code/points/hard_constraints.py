"""Tweet 4: deep nets and hard constraints, against the LP solver that meets them.

Claim (tweet 4): "Deep learning methods are terrible at handling constraints. Not
possible to find solutions satisfying constraints unlike linear programming."

What the experiment does: a parametric LP family, economic dispatch on a small DC
network (6 buses, 8 lines, 3 of them with flow limits, 10 generators with linear
costs and output bounds). The parameter theta is the demand at the 5 load buses; the
LP picks the cheapest dispatch that meets total demand exactly (power balance), keeps
every generator within its bounds and every limited line within its limit. HiGHS
(scipy's `linprog(method="highs")`) solves each instance and gives the labels. An
MLP learns theta -> dispatch by MSE; the same MLP with an added violation penalty is
trained over a sweep of penalty weights; the fix is a DC3-style layer: the network
predicts 9 generators, the 10th is completed from the power balance (so the equality
holds by construction) and a Dykstra projection (alternating closed-form
projections onto the box and each slab constraint) pulls the prediction onto the
inequalities: a few unrolled sweeps while training end to end, and sweeps until a
tolerance 10x below the metric's when answering. Every arm is scored on held-out
instances by the share with a constraint violation above 1e-4 of total demand, the
mean of the largest violation, the optimality gap against HiGHS, and inference time.

What it does not show: one small, well-posed LP family with a fixed network; larger
grids, AC power flow, integer decisions or changing topologies are harder for every
arm. The projection is iterative: it is feasible to the tolerance its sweeps
reach, which here they reach quickly; a fixed short unroll would not be enough. The
networks are small and trained briefly on CPU.

References: Donti, Rolnick, Kolter 2021 (DC3: deep constraint completion and
correction); Pan, Zhao, Chen, Zhang 2021 (DeepOPF: a neural DC-OPF solver with a
feasibility-restoring step); Fioretto, Mak, Van Hentenryck 2020 (Lagrangian duality
for learning constrained OPF proxies); Boyle & Dykstra 1986 (projection onto an
intersection of convex sets).
"""

from __future__ import annotations

import copy
import functools
import time
from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import torch
from scipy.optimize import linprog

from essay_code import core

TITLE = "Hard constraints: learned dispatch vs an LP solver"
TWEETS = (4,)
KEY = "infeasible_pct_mse"

MSE_ARM = "mlp-mse"
PENALTY_ARM = "mlp-penalty"
FIX_ARM = "mlp-completion-projection"
SOLVER_ARM = "highs"
# Each arm's estimate suffix and chart label, in chart order; the penalty arm's
# carry its weight too (penalty_0p1, "λ=0.1").
ARM_NAMES = {
    MSE_ARM: ("mse", "MLP, MSE only"),
    PENALTY_ARM: ("penalty", "MLP + penalty"),
    FIX_ARM: ("fix", "MLP + completion + projection"),
    SOLVER_ARM: ("highs", "HiGHS (LP solver)"),
}

# Verdict thresholds, fixed before any run, not tuned.
FEASIBILITY_TOL = 1e-4  # a violation above this share of total demand is infeasible
MAX_INFEASIBLE_PCT = 1.0  # % of instances an arm may leave infeasible
MAX_GAP_PCT = 1.0  # mean |optimality gap| in % an arm may have
# HiGHS must be exactly feasible (0 instances over the tolerance); its gap is 0 by
# construction (it provides the reference optimum), so a rounding-level bound.
SOLVER_MAX_INFEASIBLE_PCT = 0.0
SOLVER_MAX_GAP_PCT = 1e-6
# Host syncs in a smoke run: torch.optim.Adam reading its step counter (a CPU
# tensor, so no wait for a GPU), the projection's convergence checks when answering,
# the test-set scores, and copying the data and constants to the device once.
HOST_SYNC_BUDGET = 70

# ---------------------------------------------------------------- the LP family
# A hand-made 6-bus DC network. Bus 0 holds the two cheapest generators and no load,
# so the lines out of it congest for about half the demands; bus 0 is also the
# reference bus of the DC power flow.
BUSES = 6
LINES = ((0, 1), (0, 2), (1, 2), (1, 3), (2, 4), (3, 4), (3, 5), (4, 5))
REACTANCE = np.array([0.10, 0.15, 0.08, 0.12, 0.12, 0.09, 0.14, 0.10])  # p.u.
LINE_LIMIT = np.array([200.0, 170.0, np.inf, np.inf, np.inf, np.inf, 60.0, np.inf])
GEN_BUS = np.array([0, 0, 1, 1, 2, 2, 3, 4, 5, 5])
GEN_MIN = np.array([20.0, 10.0, 0.0, 10.0, 0.0, 5.0, 0.0, 0.0, 10.0, 0.0])  # MW
GEN_MAX = np.array([200.0, 150.0, 100.0, 120.0, 80.0, 100.0, 90.0, 80.0, 110.0, 70.0])
GEN_COST = np.array([12.0, 15.0, 30.0, 22.0, 35.0, 26.0, 40.0, 45.0, 28.0, 50.0])
LOAD_BUSES = np.array([1, 2, 3, 4, 5])
BASE_LOAD = np.array([80.0, 60.0, 110.0, 90.0, 120.0])  # MW at the load buses
# The generator the fix arm completes from the power balance: it sits at the
# reference bus, so line flows do not depend on it.
COMPLETED_GEN = 0
GENS = GEN_BUS.size


@dataclass(frozen=True)
class Config:
    seeds: int = 5  # independent demand samples, initialisations and batch orders
    n_train: int = 1000  # LP instances (HiGHS-labelled) to train on, per seed
    n_test: int = 300  # held-out LP instances per seed
    load_spread: float = 0.5  # each bus load is base * U(1 - spread, 1 + spread)
    # Penalty weights of the soft arm; 0 is the plain MSE arm.
    penalties: tuple[float, ...] = (0.0, 0.1, 1.0, 10.0, 100.0)
    hidden: int = 64  # width of both hidden layers of every MLP
    steps: int = 2000  # Adam steps, the same for every MLP arm
    batch_size: int = 128  # instances per step
    lr: float = 1e-3  # Adam peak learning rate (cosine decay to 0 over the steps)
    # Dykstra sweeps of the fix arm. Training unrolls a fixed few (each sweep is a
    # dozen small ops to backpropagate through); answering iterates until every
    # instance's largest violation is below projection_tol of demand (10x below the
    # metric's tolerance, and above float32's rounding floor), or projection_steps.
    train_projection_steps: int = 3
    projection_steps: int = 1000
    projection_tol: float = 1e-5


PROFILES = {
    "smoke": {
        "seeds": 2,
        "n_train": 200,
        "n_test": 50,
        "penalties": (0.0, 10.0),
        "hidden": 16,
        "steps": 40,
        "train_projection_steps": 1,
        "projection_steps": 20,
    },
    "full": {
        "seeds": 10,
        "n_train": 10000,
        "n_test": 2000,
        "penalties": (0.0, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0),
        "hidden": 256,
        "steps": 20000,
        "train_projection_steps": 10,
    },
}


def ptdf() -> np.ndarray:
    """DC power transfer distribution factors [lines, buses], reference bus 0.

    A line's flow is ptdf @ injections (generation minus load per bus), in MW.
    """
    incidence = np.zeros((len(LINES), BUSES))
    for line, (start, end) in enumerate(LINES):
        incidence[line, start], incidence[line, end] = 1.0, -1.0
    susceptance = np.diag(1.0 / REACTANCE)
    bus_matrix = incidence.T @ susceptance @ incidence  # [buses, buses]
    inverse = np.zeros((BUSES, BUSES))
    inverse[1:, 1:] = np.linalg.inv(bus_matrix[1:, 1:])
    return susceptance @ incidence @ inverse


# eq=False: a Family is hashed by identity, so its tensors can be cached per device.
@dataclass(frozen=True, eq=False)
class Family:
    """The fixed part of every instance: flows = gen_flow @ p - load_flow @ theta."""

    gen_flow: np.ndarray  # [limited lines, gens]: flow per MW of each generator
    load_flow: np.ndarray  # [limited lines, loads]: flow per MW of each load
    limit: np.ndarray  # [limited lines] MW


def family() -> Family:
    factors = ptdf()[np.isfinite(LINE_LIMIT)]  # [limited, buses]
    return Family(
        gen_flow=factors[:, GEN_BUS],
        load_flow=factors[:, LOAD_BUSES],
        limit=LINE_LIMIT[np.isfinite(LINE_LIMIT)],
    )


FREE_GENS = np.array([g for g in range(GENS) if g != COMPLETED_GEN])


# The fixed arrays as tensors, copied from the host once per (dtype, device) instead
# of at every training step (on a GPU each copy would wait for the host).
@functools.lru_cache(maxsize=8)
def grid_tensors(dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
    """The generators' bounds and the base load as tensors (never written to)."""
    arrays = {
        "gen_min": GEN_MIN,
        "gen_max": GEN_MAX,
        "gen_range": GEN_MAX - GEN_MIN,
        "free_min": GEN_MIN[FREE_GENS],
        "free_max": GEN_MAX[FREE_GENS],
        "free_range": GEN_MAX[FREE_GENS] - GEN_MIN[FREE_GENS],
        "base_load": BASE_LOAD,
    }
    return {
        name: torch.as_tensor(array, dtype=dtype, device=device)
        for name, array in arrays.items()
    }


@functools.lru_cache(maxsize=8)
def family_tensors(
    fam: Family, dtype: torch.dtype, device: torch.device
) -> dict[str, torch.Tensor]:
    """fam's arrays as tensors, plus the free generators' flows (never written to)."""
    arrays = {
        "gen_flow": fam.gen_flow,
        "free_gen_flow": fam.gen_flow[:, FREE_GENS],
        "load_flow": fam.load_flow,
        "limit": fam.limit,
    }
    return {
        name: torch.as_tensor(array, dtype=dtype, device=device)
        for name, array in arrays.items()
    }


def solve_dispatch(demand: np.ndarray, fam: Family) -> np.ndarray | None:
    """HiGHS's optimal dispatch p [gens] for one demand [loads]; None if infeasible."""
    flow_offset = fam.load_flow @ demand  # [limited]
    result = linprog(
        GEN_COST,
        A_ub=np.vstack([fam.gen_flow, -fam.gen_flow]),
        b_ub=np.concatenate([fam.limit + flow_offset, fam.limit - flow_offset]),
        A_eq=np.ones((1, GENS)),
        b_eq=[demand.sum()],
        bounds=list(zip(GEN_MIN, GEN_MAX, strict=True)),
        method="highs",
    )
    return result.x if result.status == 0 else None


def make_instances(
    rng: np.random.Generator, count: int, spread: float, fam: Family
) -> tuple[np.ndarray, np.ndarray, float]:
    """count feasible instances: demands [count, loads], dispatch [count, gens].

    Also returns HiGHS's mean solve time per instance in seconds. Demands the LP
    cannot serve are redrawn (none occur at the default spread).
    """
    demands, dispatch, clock = [], [], 0.0
    while len(demands) < count:
        demand = BASE_LOAD * rng.uniform(1 - spread, 1 + spread, size=BASE_LOAD.size)
        started = time.perf_counter()
        solution = solve_dispatch(demand, fam)
        clock += time.perf_counter() - started
        if solution is not None:
            demands.append(demand)
            dispatch.append(solution)
    return np.array(demands), np.array(dispatch), clock / count


# ---------------------------------------------------------------- violations


def violations(
    dispatch: torch.Tensor, demand: torch.Tensor, fam: Family
) -> torch.Tensor:
    """Every constraint's violation as a share of total demand (0 where it holds).

    dispatch [..., gens] MW, demand [..., loads] MW -> [..., 1 + 2 gens + 2 lines]:
    |power balance residual|, below-minimum, above-maximum, flow over +limit and
    under -limit. Scaling by demand makes one tolerance fit every instance size.
    """
    grid = grid_tensors(dispatch.dtype, dispatch.device)
    net = family_tensors(fam, dispatch.dtype, dispatch.device)
    limit = net["limit"]
    total = demand.sum(-1, keepdim=True)  # [..., 1]
    flows = dispatch @ net["gen_flow"].T - demand @ net["load_flow"].T  # [..., limited]
    parts = [
        (dispatch.sum(-1, keepdim=True) - total).abs(),
        torch.relu(grid["gen_min"] - dispatch),
        torch.relu(dispatch - grid["gen_max"]),
        torch.relu(flows - limit),
        torch.relu(-limit - flows),
    ]
    return torch.cat(parts, dim=-1) / total


def dispatch_cost(dispatch: np.ndarray) -> np.ndarray:
    """Cost per instance ($/h): dispatch [..., gens] -> [...]."""
    return dispatch @ GEN_COST


# ---------------------------------------------------------------- the models


def make_models(outputs: int, seeds: list[int], cfg: Config, device) -> core.StackedMLP:
    """One MLP per seed (loads -> hidden -> hidden -> outputs), stacked: a model
    [M, batch, loads] -> [M, batch, outputs] whose weights are each seed's own."""
    return core.StackedMLP(
        [BASE_LOAD.size, cfg.hidden, cfg.hidden, outputs], seeds, device
    )


def one_model(model: core.StackedMLP, index: int) -> core.StackedMLP:
    """Model `index` alone, as a stack of one (each seed's projection stops on its
    own, and the clock sees what answering with one trained model costs)."""
    single = copy.copy(model)
    single.weights = [w[index : index + 1].detach() for w in model.weights]
    single.biases = [b[index : index + 1].detach() for b in model.biases]
    single.params = [*single.weights, *single.biases]
    return single


def scale_inputs(demand: torch.Tensor, cfg: Config) -> torch.Tensor:
    """Demand MW -> network inputs in [-1, 1]."""
    base = grid_tensors(demand.dtype, demand.device)["base_load"]
    return (demand / base - 1.0) / cfg.load_spread


def to_dispatch(unit: torch.Tensor, free: bool) -> torch.Tensor:
    """Network output in [0, 1] units of each generator's range -> MW; of the free
    generators (FREE_GENS) if `free`, else of all of them."""
    grid = grid_tensors(unit.dtype, unit.device)
    if free:
        return grid["free_min"] + unit * grid["free_range"]
    return grid["gen_min"] + unit * grid["gen_range"]


def to_unit(dispatch: torch.Tensor) -> torch.Tensor:
    """MW -> [0, 1] units of each generator's range (the MSE is taken here)."""
    grid = grid_tensors(dispatch.dtype, dispatch.device)
    return (dispatch - grid["gen_min"]) / grid["gen_range"]


def complete(free: torch.Tensor, demand: torch.Tensor) -> torch.Tensor:
    """Power balance by construction: free [..., gens - 1] MW -> dispatch [..., gens].

    The completed generator produces total demand minus everything else.
    """
    rest = demand.sum(-1, keepdim=True) - free.sum(-1, keepdim=True)
    parts = [free[..., :COMPLETED_GEN], rest, free[..., COMPLETED_GEN:]]
    return torch.cat(parts, dim=-1)


def slab_constraints(
    demand: torch.Tensor, fam: Family
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The inequalities in the free generators' space, as slabs low <= a @ x <= high.

    demand [..., loads] -> normals [slabs, gens - 1], low and high [..., slabs]. Slab
    0 is the completed generator's bounds (its output is demand minus the sum of the
    free ones); the others are the limited lines (the completed generator sits at
    the reference bus, so it moves no line flow).
    """
    kw = {"dtype": demand.dtype, "device": demand.device}
    net = family_tensors(fam, demand.dtype, demand.device)
    gen_flow = net["free_gen_flow"]  # [lines, free]
    normals = torch.cat([torch.ones(1, FREE_GENS.size, **kw), gen_flow])
    total = demand.sum(-1, keepdim=True)
    load_flow = demand @ net["load_flow"].T  # [..., lines]
    limit = net["limit"]
    low = torch.cat([total - GEN_MAX[COMPLETED_GEN], load_flow - limit], dim=-1)
    high = torch.cat([total - GEN_MIN[COMPLETED_GEN], load_flow + limit], dim=-1)
    return normals, low, high


def project(
    free: torch.Tensor,
    demand: torch.Tensor,
    fam: Family,
    sweeps: int,
    tol: float = 0.0,
    check_every: int = 10,
) -> tuple[torch.Tensor, int]:
    """Dykstra's projection of free [..., gens - 1] MW onto the feasible set.

    Returns the projected point and the sweeps run: `sweeps`, or fewer when tol > 0
    and every instance's largest violation (share of demand) is <= tol.

    Each sweep projects in closed form onto the free generators' box, then onto
    each slab; Dykstra's correction terms make the iterates converge to the nearest
    feasible point (Boyle & Dykstra 1986), not just to some feasible point. Every
    step is differentiable almost everywhere, so the network trains through it.
    A finite number of sweeps leaves a residual; the metrics measure it.
    """
    normals, low, high = slab_constraints(demand, fam)
    grid = grid_tensors(free.dtype, free.device)
    box_low, box_high = grid["free_min"], grid["free_max"]
    norms = (normals**2).sum(-1)  # [slabs]
    corrections = [torch.zeros_like(free) for _ in range(1 + normals.shape[0])]
    x = free
    for sweep in range(sweeps):
        if tol > 0 and sweep % check_every == 0:
            worst = violations(complete(x, demand), demand, fam).max()
            if worst.item() <= tol:
                return x, sweep
        shifted = x + corrections[0]
        x = torch.minimum(torch.maximum(shifted, box_low), box_high)
        corrections[0] = shifted - x
        for slab in range(normals.shape[0]):
            shifted = x + corrections[slab + 1]
            value = shifted @ normals[slab]  # [...]
            excess = value - value.clamp(low[..., slab], high[..., slab])
            x = shifted - (excess / norms[slab]).unsqueeze(-1) * normals[slab]
            corrections[slab + 1] = shifted - x
    return x, sweeps


def predict(
    model: core.StackedMLP,
    demand: torch.Tensor,
    fam: Family,
    cfg: Config,
    constrained: bool,
    sweeps: int = 0,
) -> tuple[torch.Tensor, int]:
    """Dispatch in MW [M, batch, gens] for demand [M, batch, loads], sweeps run.

    The constrained arm completes the power balance and projects: a fixed `sweeps`
    when given (training), else until cfg.projection_tol or cfg.projection_steps.
    """
    out = model(scale_inputs(demand, cfg))
    if not constrained:
        return to_dispatch(out, free=False), 0
    steps, tol = (sweeps, 0.0) if sweeps else (cfg.projection_steps, cfg.projection_tol)
    free, used = project(to_dispatch(out, free=True), demand, fam, steps, tol=tol)
    return complete(free, demand), used


def train(
    model: core.StackedMLP,
    cells: list[tuple[int, float]],
    demand: torch.Tensor,
    target: torch.Tensor,
    fam: Family,
    cfg: Config,
    constrained: bool,
    ctx: core.RunContext,
) -> None:
    """Adam on MSE (in generator-range units) + penalty * mean scaled violation.

    cells: (seed, penalty weight) of each of the M models; demand [M, n_train,
    loads]; target [M, n_train, gens] (HiGHS). Models with the same seed draw the
    same minibatches. The penalty is the sum of
    every constraint's violation as a share of demand (an L1 penalty, exact in the
    limit of a large weight), averaged over the batch.
    """
    seeds = [seed for seed, _ in cells]
    penalty = torch.tensor([weight for _, weight in cells], device=demand.device)
    optimizer = torch.optim.Adam(model.params, lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cfg.steps)
    # Minibatches are drawn on the device, so a step never copies indices from the
    # host (on the CPU these are the same generators as plain CPU ones).
    device = demand.device
    generators = {
        seed: torch.Generator(device=device).manual_seed(seed) for seed in set(seeds)
    }
    rows = demand.shape[1]
    model_index = torch.arange(len(seeds), device=device)[:, None]
    for _step in ctx.progress(range(cfg.steps), total=cfg.steps, desc="adam steps"):
        draws = {
            seed: torch.randint(
                rows, (cfg.batch_size,), generator=generator, device=device
            )
            for seed, generator in generators.items()
        }
        index = torch.stack([draws[seed] for seed in seeds])
        batch_demand = demand[model_index, index]  # [M, batch, loads]
        dispatch, _ = predict(
            model, batch_demand, fam, cfg, constrained, cfg.train_projection_steps
        )
        error = to_unit(dispatch) - to_unit(target[model_index, index])
        mse = (error**2).mean(dim=(1, 2))  # [M]
        violation = violations(dispatch, batch_demand, fam).sum(-1).mean(-1)  # [M]
        optimizer.zero_grad(set_to_none=True)
        (mse + penalty * violation).sum().backward()
        optimizer.step()
        schedule.step()


# ---------------------------------------------------------------- the run


def score(
    dispatch: np.ndarray, demand: np.ndarray, optimum: np.ndarray, fam: Family
) -> dict[str, float]:
    """Held-out metrics of one model: dispatch, optimum [n, gens], demand [n, loads]."""
    worst = (
        violations(torch.as_tensor(dispatch), torch.as_tensor(demand), fam)
        .max(-1)
        .values.numpy()
    )
    best_cost = dispatch_cost(optimum)
    gap = 100.0 * np.abs(dispatch_cost(dispatch) - best_cost) / best_cost
    return {
        "infeasible_pct": float(100.0 * np.mean(worst > FEASIBILITY_TOL)),
        "mean_max_violation": float(worst.mean()),
        "gap_pct": float(gap.mean()),
    }


def time_per_instance(call, count: int, ctx: core.RunContext, repeats: int = 7):
    """Best-of-repeats wall time of call() divided by count, in microseconds.

    The best of several, because on a shared CPU a single call can be slowed many
    times over by other work. ctx.clock waits for a GPU's queued kernels.
    """
    best = np.inf
    for _ in range(repeats):
        started = ctx.clock()
        call()
        best = min(best, ctx.clock() - started)
    return 1e6 * best / count


def run(cfg: Config, ctx: core.RunContext) -> pd.DataFrame:
    """Records: one row per (seed, arm, penalty, metric).

    Metrics on held-out instances: infeasible_pct (share with any violation over
    FEASIBILITY_TOL of demand), mean_max_violation (share of demand), gap_pct (mean
    |cost - HiGHS cost| / HiGHS cost) and, where ctx.record_timings,
    time_us_per_instance (one seed's model on the whole test set at once, or HiGHS
    one instance at a time).
    """
    fam = family()
    seeds = list(range(cfg.seeds))
    data = {}
    for seed in ctx.progress(seeds, desc="HiGHS labels"):
        rng = np.random.default_rng(seed)
        train_set = make_instances(rng, cfg.n_train, cfg.load_spread, fam)
        test_set = make_instances(rng, cfg.n_test, cfg.load_spread, fam)
        data[seed] = train_set, test_set
    records = core.Records()

    for seed in seeds:
        test_demand, test_optimum, solve_seconds = data[seed][1]
        metrics = score(test_optimum, test_demand, test_optimum, fam)
        if ctx.record_timings:
            metrics["time_us_per_instance"] = 1e6 * solve_seconds
        records.add_many(metrics, seed=seed, arm=SOLVER_ARM, penalty=0.0)

    def stacked(part: int, which: int, cells) -> torch.Tensor:
        arrays = [data[seed][part][which] for seed, _ in cells]
        return torch.tensor(np.stack(arrays), dtype=torch.float32, device=ctx.device)

    arms = [
        (False, [(seed, penalty) for penalty in cfg.penalties for seed in seeds]),
        (True, [(seed, 0.0) for seed in seeds]),
    ]
    for constrained, cells in arms:
        outputs = GENS - 1 if constrained else GENS
        model = make_models(outputs, [seed for seed, _ in cells], cfg, ctx.device)
        train_demand, train_target = stacked(0, 0, cells), stacked(0, 1, cells)
        train(model, cells, train_demand, train_target, fam, cfg, constrained, ctx)
        test_demand = stacked(1, 0, cells)  # [M, n_test, loads]
        for index, (seed, penalty_weight) in enumerate(cells):
            single, one = one_model(model, index), test_demand[index : index + 1]
            answer = functools.partial(predict, single, one, fam, cfg, constrained)
            with torch.no_grad():
                dispatch, sweeps = answer()
            demand_np, optimum, _ = data[seed][1]
            metrics = score(dispatch[0].double().cpu().numpy(), demand_np, optimum, fam)
            if constrained:
                metrics["projection_sweeps"] = sweeps
            if ctx.record_timings:
                with torch.no_grad():
                    metrics["time_us_per_instance"] = time_per_instance(
                        answer, cfg.n_test, ctx
                    )
            arm = (
                FIX_ARM
                if constrained
                else (PENALTY_ARM if penalty_weight > 0 else MSE_ARM)
            )
            records.add_many(metrics, seed=seed, arm=arm, penalty=float(penalty_weight))
    return records.frame()


# ---------------------------------------------------------------- summary


def penalty_name(penalty: float) -> str:
    """0.1 -> '0p1', 10.0 -> '10': a snake_case-safe spelling of a weight."""
    return f"{penalty:g}".replace(".", "p").replace("-", "m")


def cells(records: pd.DataFrame) -> list[tuple[str, float]]:
    """Every (arm, penalty) in the records, in the order they first appear."""
    pairs = records[["arm", "penalty"]].drop_duplicates()
    return list(pairs.itertuples(index=False, name=None))


def cell_name(arm: str, penalty: float) -> str:
    """The suffix a cell's estimates carry: mse, penalty_10, fix, highs."""
    suffix = ARM_NAMES[arm][0]
    return f"{suffix}_{penalty_name(penalty)}" if arm == PENALTY_ARM else suffix


METRIC_FORMATS = {
    "infeasible_pct": {"unit": "%", "digits": 1},
    "mean_max_violation": {"unit": "ppm of demand", "digits": 2},
    "gap_pct": {"unit": "%", "digits": 3},
    "time_us_per_instance": {"unit": "µs", "digits": 1},
    "projection_sweeps": {"unit": "sweeps", "digits": 0},
}


def summarize(records: pd.DataFrame) -> dict[str, core.Estimate]:
    estimates: dict[str, core.Estimate] = {}
    metrics = [m for m in METRIC_FORMATS if m in set(records["metric"])]
    for arm, penalty in cells(records):
        for metric in metrics:
            values = core.per_seed(records, metric, arm=arm, penalty=penalty)
            if metric == "mean_max_violation":
                values = values * 1e6  # printed in parts per million of demand
            if values.size:  # projection_sweeps exists for the fix arm only
                estimates[f"{metric}_{cell_name(arm, penalty)}"] = core.bootstrap(
                    values, **METRIC_FORMATS[metric]
                )
    if "time_us_per_instance" in metrics:
        # Paired by seed: how many times faster the fix arm answers than HiGHS.
        times = {
            arm: core.per_seed(records, "time_us_per_instance", arm=arm, penalty=0.0)
            for arm in (SOLVER_ARM, FIX_ARM)
        }
        estimates["speedup_fix_vs_highs"] = core.bootstrap(
            times[SOLVER_ARM] / times[FIX_ARM],
            unit="x",
            digits=1,
            label="mean of per-seed HiGHS time / fix-arm time",
        )
    return estimates


def soft_names(estimates: dict[str, core.Estimate]) -> list[str]:
    """Suffixes of the plain and penalty arms, in the order they appear."""
    return [
        name.removeprefix("infeasible_pct_")
        for name in estimates
        if name.startswith("infeasible_pct_")
        and name.removeprefix("infeasible_pct_") not in ("fix", "highs")
    ]


def reaches(estimates: dict[str, core.Estimate], name: str) -> bool | None:
    """Both < thresholds: infeasible share and optimality gap (three-valued)."""
    return core.all_of(
        estimates[f"infeasible_pct_{name}"].below(MAX_INFEASIBLE_PCT),
        estimates[f"gap_pct_{name}"].below(MAX_GAP_PCT),
    )


def negate(check: bool | None) -> bool | None:
    return None if check is None else not check


RULE = (
    f"An instance is infeasible if any constraint is violated by more than "
    f"{FEASIBILITY_TOL:g} of total demand. Refuted if the plain MSE MLP or the "
    f"penalty MLP at some penalty weight has both < {MAX_INFEASIBLE_PCT:g}% "
    f"infeasible instances and < {MAX_GAP_PCT:g}% mean optimality gap. Holds if "
    f"none does while HiGHS has {SOLVER_MAX_INFEASIBLE_PCT:g}% infeasible and a 0 "
    f"gap (<= {SOLVER_MAX_GAP_PCT:g}%); mitigated if, in addition, the "
    f"constraint-aware arm (completion + projection) reaches both < "
    f"{MAX_INFEASIBLE_PCT:g}%. Inconclusive where a 95% CI straddles a threshold."
)


def thresholds(soft: list[str]) -> dict[str, float]:
    """Every estimate the rule compares with a threshold, and that threshold."""
    found = {}
    for name in [*soft, "fix"]:
        found[f"infeasible_pct_{name}"] = MAX_INFEASIBLE_PCT
        found[f"gap_pct_{name}"] = MAX_GAP_PCT
    found["infeasible_pct_highs"] = SOLVER_MAX_INFEASIBLE_PCT
    found["gap_pct_highs"] = SOLVER_MAX_GAP_PCT
    return found


def verdict(estimates: dict[str, core.Estimate]) -> core.Verdict:
    soft = soft_names(estimates)
    soft_reach = {name: reaches(estimates, name) for name in soft}
    solver_exact = core.all_of(
        estimates["infeasible_pct_highs"].below(SOLVER_MAX_INFEASIBLE_PCT),
        estimates["gap_pct_highs"].below(SOLVER_MAX_GAP_PCT),
    )
    fixed = reaches(estimates, "fix")
    best = min(soft, key=lambda name: estimates[f"infeasible_pct_{name}"].value)
    reason = (
        f"plain MLP infeasible on {estimates[KEY].text()} of instances; best soft arm "
        f"({best.replace('_', ' ')}) {estimates[f'infeasible_pct_{best}'].text()} "
        f"infeasible, gap {estimates[f'gap_pct_{best}'].text()}; completion + "
        f"projection {estimates['infeasible_pct_fix'].text()} infeasible, gap "
        f"{estimates['gap_pct_fix'].text()}; HiGHS "
        f"{estimates['infeasible_pct_highs'].text()} infeasible"
    )
    soft_fails = negate(core.any_of(*soft_reach.values()))
    if soft_fails is False:
        status = "refuted"
    elif core.all_of(soft_fails, solver_exact) is not True or fixed is None:
        status = "inconclusive"
    else:
        status = "mitigated" if fixed else "holds"
    return core.Verdict(status, reason, RULE, thresholds=thresholds(soft))


# ---------------------------------------------------------------- charts


def arm_label(arm: str, penalty: float) -> str:
    label = ARM_NAMES[arm][1]
    return f"{label} λ={penalty:g}" if arm == PENALTY_ARM else label


def arm_order(records: pd.DataFrame) -> list[str]:
    rank = list(ARM_NAMES)
    ranked = sorted(cells(records), key=lambda cell: (rank.index(cell[0]), cell[1]))
    return [arm_label(arm, penalty) for arm, penalty in ranked]


def metric_chart(
    records: pd.DataFrame,
    metric: str,
    title: str,
    value_title: str,
    fmt: str,
    thresholds: dict[str, float] | None = None,
    log: bool = False,
) -> alt.LayerChart:
    """The mean with its 95% CI for every arm, one metric; faint dots: the seeds."""
    rows = core.select(records, metric=metric).copy()
    rows["model"] = [
        arm_label(a, p) for a, p in zip(rows["arm"], rows["penalty"], strict=True)
    ]
    table = core.ci_table(rows, ["model"], core.bootstrap)
    chart = core.ci_dots(
        table,
        category="model",
        value_title=value_title,
        sort=arm_order(records),
        seeds=rows,
        thresholds=thresholds,
        fmt=fmt,
        log=log,
    )
    return core.sized(chart, title)


CHARTS = {  # name: metric, title, value axis, format, thresholds, log axis
    "infeasible_share": (
        "infeasible_pct",
        f"Held-out instances violating a constraint by > {FEASIBILITY_TOL:g} of demand",
        "instances infeasible (%)",
        ".1f",
        {"most infeasible (%)": MAX_INFEASIBLE_PCT},
        False,
    ),
    "max_violation": (
        "mean_max_violation",
        "Largest constraint violation per instance (mean over instances)",
        "violation as a share of total demand (log axis)",
        ".1e",
        {"feasibility tolerance": FEASIBILITY_TOL},
        True,
    ),
    "optimality_gap": (
        "gap_pct",
        "Cost above the HiGHS optimum (mean |gap| over instances)",
        "optimality gap (%)",
        ".2f",
        {"largest gap (%)": MAX_GAP_PCT},
        False,
    ),
    "inference_time": (
        "time_us_per_instance",
        "Time to answer one instance (MLPs batched over the test set)",
        "microseconds per instance (log axis)",
        ".1f",
        None,
        True,
    ),
}


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    """Every chart whose metric is in the records (times only where recorded)."""
    present = set(records["metric"])
    return {
        name: metric_chart(records, *spec)
        for name, spec in CHARTS.items()
        if spec[0] in present
    }
