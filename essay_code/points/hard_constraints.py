"""Tweet 4: deep nets and hard constraints, against the LP solver that meets them.

Claim (tweet 4): "Deep learning methods are terrible at handling constraints. Not
possible to find solutions satisfying constraints unlike linear programming."

What the experiment does: a parametric LP family, economic dispatch on a small DC
network (6 buses, 8 lines, 3 with flow limits, 10 generators with linear costs and
output bounds). The parameter theta is the demand at the 5 load buses; the LP picks
the cheapest dispatch that meets total demand exactly (power balance, the one
equality) and keeps every generator within its bounds and every limited line within
its limit (the inequalities). HiGHS (scipy's `linprog`) gives the labels and is the
classical arm. The learned arms: an MLP trained on MSE against HiGHS's dispatch; the
same with a violation penalty over a grid of weights; the fix, a DC3-style layer
(the network predicts 9 generators, the 10th is completed from the power balance, a
Dykstra projection pulls the rest onto the inequalities, unrolled in training and
iterated to a tolerance when answering); the ablation, the MSE MLP with the same
completion and projection applied only after training; and a no-learning baseline,
merit order (cheapest first, lines ignored) with the same completion and projection.
Learning rates, the penalty weight and HiGHS's method are chosen on validation
instances of separate selection seeds; each published seed then trains every arm at
3 budgets. Scores on held-out instances: the share with a violation above 1e-4 of
demand (any constraint, the equality alone, the inequalities alone), the violations,
the optimality gap against HiGHS, and inference time.

What it does not show: one small, well-posed LP family with a fixed network; larger
grids, AC power flow, integer decisions or changing topologies are harder for every
arm. The projection is iterative: it is feasible to the tolerance its sweeps reach.
The networks are small and trained briefly on CPU.

References: Donti, Rolnick, Kolter 2021 (DC3: deep constraint completion and
correction); Pan, Zhao, Chen, Zhang 2021 (DeepOPF: a neural DC-OPF solver with a
feasibility-restoring step); Fioretto, Mak, Van Hentenryck 2020 (Lagrangian duality
for learning constrained OPF proxies); Boyle & Dykstra 1986 (projection onto an
intersection of convex sets).
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import torch
from scipy import sparse
from scipy.optimize import linprog

from essay_code import core

TITLE = "Hard constraints: learned dispatch vs an LP solver"
TWEETS = (4,)
KEY = "infeasible_pct_mse"

MSE_ARM = "mlp-mse"
PENALTY_ARM = "mlp-penalty"
FIX_ARM = "mlp-completion-projection"
POSTHOC_ARM = "mlp-mse-then-projection"
MERIT_ARM = "merit-order-projection"
SOLVER_ARM = "highs"
# Each arm's estimate suffix and chart label, in chart order; the penalty arm's
# per-weight estimates carry the weight too (penalty_0p1, "λ=0.1").
ARM_NAMES = {
    MSE_ARM: ("mse", "MLP, MSE only"),
    PENALTY_ARM: ("penalty", "MLP + penalty"),
    FIX_ARM: ("fix", "MLP + completion + projection"),
    POSTHOC_ARM: ("posthoc", "MLP (MSE), projected after training"),
    MERIT_ARM: ("merit", "Merit order + projection (no learning)"),
    SOLVER_ARM: ("highs", "HiGHS (LP solver)"),
}
TRAINED = (MSE_ARM, PENALTY_ARM, FIX_ARM, POSTHOC_ARM)  # the arms with a network

# Verdict thresholds, fixed before any run, not tuned.
FEASIBILITY_TOL = 1e-4  # a violation above this share of total demand is infeasible
MAX_INFEASIBLE_PCT = 1.0  # % of instances an arm may leave infeasible
MAX_GAP_PCT = 1.0  # mean |optimality gap| in % an arm may have
# HiGHS must be exactly feasible and match the reference optimum (HiGHS on all of a
# seed's instances as one block LP) to rounding.
SOLVER_MAX_INFEASIBLE_PCT = 0.0
SOLVER_MAX_GAP_PCT = 1e-6
# Convergence tolerance, in decades of the validation distance to passing (see
# distance_to_passing): chosen here, because an arm that gains less than a tenth of
# a decade over its last doubling of training would need ten more doublings (a
# thousand times the budget) to come ten times closer to passing the rule.
CONVERGENCE_TOL = 0.1
# Selection seeds (their validation instances choose learning rates, the penalty
# weight and HiGHS's method) are numbered from here, apart from the published ones.
SELECTION_SEED0 = 100
SELECTION_COLUMN = "stage"  # selection seeds are listed apart in summary.json
# Host syncs in a smoke run (136 counted), none per training step (the written-out
# Adam keeps no tensor step counter): the data copied to the device once per stack or
# evaluation (30), each evaluation's read-back of answers and sweeps (40), the
# constants once per dtype and device (22), the host-side scoring's one read per
# evaluation (20), the projection's convergence check every 10 sweeps when
# answering (16), and merit order's copies and read-backs (8).
HOST_SYNC_BUDGET = 140
# No NEEDS_FLOAT64: everything on ctx.device is float32 (training, answering, the
# projection); float64 is used on the host only (HiGHS, and scoring the answers after
# they are read back), so Apple's MPS can run this point.

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
FREE_GENS = np.array([g for g in range(GENS) if g != COMPLETED_GEN])


@dataclass(frozen=True)
class Config:
    seeds: int = 10  # published seeds: demand samples, initialisations, batch orders
    # Separate seeds whose validation instances choose every arm's learning rate,
    # the penalty weight and HiGHS's method; never published.
    selection_seeds: int = 2
    n_train: int = 1000  # LP instances (HiGHS-labelled) to train on, per seed
    n_val: int = 200  # validation instances per seed (choices and convergence)
    n_test: int = 300  # held-out instances per published seed
    load_spread: float = 0.5  # each bus load is base * U(1 - spread, 1 + spread)
    # Penalty weights searched for the penalty arm (the MSE arm is weight 0), from
    # about the size of the MSE term to far above it.
    penalties: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)
    # Adam peak learning rates searched, three per arm, placed around each arm's best
    # in pilot runs: the plain and penalty heads (and the ablation) train best fast,
    # the fix, whose gradients pass through the unrolled projection, slower.
    lrs: tuple[float, ...] = (1e-2, 3e-2, 1e-1)
    fix_lrs: tuple[float, ...] = (3e-4, 1e-3, 3e-3)
    hidden: int = 64  # width of both hidden layers of every MLP
    # Training budgets in Adam steps, each its own run with its own cosine decay to
    # 0; the choices are made at the last, the headline budget.
    budgets: tuple[int, ...] = (500, 1000, 2000)
    batch_size: int = 64  # instances per step
    # Dykstra sweeps of the projection: training unrolls a fixed few (each sweep is
    # a dozen small ops to backpropagate through); answering iterates until every
    # instance's largest violation is below projection_tol of demand (10x below the
    # metric's tolerance, above float32's rounding floor), or projection_steps.
    train_projection_steps: int = 3
    projection_steps: int = 1000
    projection_tol: float = 1e-5
    solver_methods: tuple[str, ...] = ("highs-ds", "highs-ipm")  # HiGHS's choices
    n_solver_val: int = 100  # validation instances per selection seed, per method


PROFILES = {
    "smoke": {
        "seeds": 2,
        "selection_seeds": 1,
        "n_train": 200,
        "n_val": 40,
        "n_test": 40,
        "penalties": (0.1, 10.0),
        "lrs": (1e-2, 3e-2),
        "fix_lrs": (1e-3,),
        "hidden": 16,
        "budgets": (10, 20, 40),
        "train_projection_steps": 1,
        "projection_steps": 20,
        "n_solver_val": 10,
    },
    "full": {
        "n_train": 10000,
        "n_val": 1000,
        "n_test": 2000,
        "penalties": (0.001, 0.01, 0.1, 1.0, 10.0, 100.0),
        "hidden": 256,
        "budgets": (5000, 10000, 20000),
        "batch_size": 256,
        "train_projection_steps": 10,
        "n_solver_val": 300,
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


@dataclass(frozen=True)
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


FAMILY = family()  # the one network every instance shares


# The fixed arrays as tensors, copied from the host once per (dtype, device) instead
# of at every training step (on a GPU each copy would wait for the host).
@functools.lru_cache(maxsize=8)
def tensors(dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
    """The generators' bounds, the base load and the network (never written to)."""
    arrays = {
        "gen_min": GEN_MIN,
        "gen_max": GEN_MAX,
        "gen_range": GEN_MAX - GEN_MIN,
        "free_min": GEN_MIN[FREE_GENS],
        "free_max": GEN_MAX[FREE_GENS],
        "free_range": GEN_MAX[FREE_GENS] - GEN_MIN[FREE_GENS],
        "base_load": BASE_LOAD,
        "gen_flow": FAMILY.gen_flow,
        "free_gen_flow": FAMILY.gen_flow[:, FREE_GENS],
        "load_flow": FAMILY.load_flow,
        "limit": FAMILY.limit,
    }
    return {
        k: torch.as_tensor(a, dtype=dtype, device=device) for k, a in arrays.items()
    }


# ---------------------------------------------------------------- HiGHS, merit order


def solve_dispatch(demand: np.ndarray, method: str = "highs"):
    """HiGHS's optimal dispatch p [gens] for one demand [loads]; None if infeasible."""
    flow_offset = FAMILY.load_flow @ demand  # [limited]
    result = linprog(
        GEN_COST,
        A_ub=np.vstack([FAMILY.gen_flow, -FAMILY.gen_flow]),
        b_ub=np.concatenate([FAMILY.limit + flow_offset, FAMILY.limit - flow_offset]),
        A_eq=np.ones((1, GENS)),
        b_eq=[demand.sum()],
        bounds=list(zip(GEN_MIN, GEN_MAX, strict=True)),
        method=method,
    )
    return result.x if result.status == 0 else None


def solve_block(demands: np.ndarray) -> np.ndarray | None:
    """HiGHS's optimal dispatch [n, gens] for demands [n, loads] as one LP of n
    independent blocks (its optimum is every block's optimum); None if any block is
    infeasible. One call instead of n: scipy's per-call overhead is most of the time
    a small LP takes, and the labels need thousands."""
    n = len(demands)
    offset = demands @ FAMILY.load_flow.T  # [n, limited]
    result = linprog(
        np.tile(GEN_COST, n),
        A_ub=sparse.block_diag(
            [np.vstack([FAMILY.gen_flow, -FAMILY.gen_flow])] * n, "csr"
        ),
        b_ub=np.concatenate(
            [FAMILY.limit + offset, FAMILY.limit - offset], axis=1
        ).ravel(),
        A_eq=sparse.kron(sparse.eye(n), np.ones((1, GENS)), "csr"),
        b_eq=demands.sum(axis=1),
        bounds=np.column_stack([np.tile(GEN_MIN, n), np.tile(GEN_MAX, n)]),
        method="highs",
    )
    return result.x.reshape(n, GENS) if result.status == 0 else None


def make_instances(rng, count: int, spread: float, chunk: int = 100):
    """count feasible instances: demands [count, loads], optimal dispatch [count,
    gens]. A demand the LP cannot serve is dropped and redrawn (none occur at the
    default spread)."""
    demands, dispatch, have = [], [], 0
    while have < count:
        draw = BASE_LOAD * rng.uniform(1 - spread, 1 + spread, (count - have, 5))
        for part in np.split(draw, range(chunk, len(draw), chunk)):
            solved = solve_block(part)
            if solved is None:  # keep the demands that can be served
                each = [solve_dispatch(demand) for demand in part]
                part = part[[p is not None for p in each]]
                solved = np.array([p for p in each if p is not None]).reshape(-1, GENS)
            demands.append(part)
            dispatch.append(solved)
            have += len(part)
    return np.concatenate(demands), np.concatenate(dispatch)


def solve_each(demands: np.ndarray, method: str, ctx: core.RunContext):
    """HiGHS one instance at a time, as a user calls it: answers [n, gens] and the
    mean seconds per instance (scipy's per-call overhead included)."""
    started = ctx.clock()
    answers = np.array([solve_dispatch(demand, method) for demand in demands])
    return answers, (ctx.clock() - started) / len(demands)


def merit_order(demands: np.ndarray) -> np.ndarray:
    """The no-learning guess [..., gens] for demands [..., loads]: every generator
    at its minimum, then the cheapest filled up to total demand, lines ignored."""
    dispatch = np.zeros((*demands.shape[:-1], GENS)) + GEN_MIN
    left = demands.sum(-1) - GEN_MIN.sum()
    for gen in np.argsort(GEN_COST):
        step = np.clip(left, 0.0, GEN_MAX[gen] - GEN_MIN[gen])
        dispatch[..., gen] += step
        left = left - step
    return dispatch


# ---------------------------------------------------------------- violations


def slacks(dispatch: torch.Tensor, demand: torch.Tensor) -> torch.Tensor:
    """Every inequality's slack as a share of total demand (negative if violated):
    dispatch [..., gens] MW, demand [..., loads] MW -> [..., 2 gens + 2 lines], above
    the minimum, below the maximum, below +limit, above -limit. Scaling by demand
    makes one tolerance fit every instance size."""
    grid = net = tensors(dispatch.dtype, dispatch.device)
    flows = dispatch @ net["gen_flow"].T - demand @ net["load_flow"].T  # [..., lines]
    parts = [
        dispatch - grid["gen_min"],
        grid["gen_max"] - dispatch,
        net["limit"] - flows,
        flows + net["limit"],
    ]
    return torch.cat(parts, dim=-1) / demand.sum(-1, keepdim=True)


def violations(dispatch: torch.Tensor, demand: torch.Tensor):
    """Every constraint's violation as a share of total demand (0 where it holds),
    [..., 1 + 2 gens + 2 lines]: the |power balance residual| (the one equality)
    first, then each inequality's, in the order of slacks()."""
    total = demand.sum(-1, keepdim=True)
    balance = (dispatch.sum(-1, keepdim=True) - total).abs() / total
    return torch.cat([balance, torch.relu(-slacks(dispatch, demand))], dim=-1)


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


def rows(model: core.StackedMLP, start: int, stop: int | None = None):
    """Models start..stop of a stack as a stack of their own, detached."""
    part = copy.copy(model)
    part.weights = [w[start:stop].detach() for w in model.weights]
    part.biases = [b[start:stop].detach() for b in model.biases]
    part.params = [*part.weights, *part.biases]
    return part


def joined(parts: list[core.StackedMLP]) -> core.StackedMLP:
    """Stacks one after another, as one stack."""
    whole = copy.copy(parts[0])
    whole.weights = [
        torch.cat(w) for w in zip(*(p.weights for p in parts), strict=True)
    ]
    whole.biases = [torch.cat(b) for b in zip(*(p.biases for p in parts), strict=True)]
    whole.params = [*whole.weights, *whole.biases]
    return whole


def scale_inputs(demand: torch.Tensor, cfg: Config) -> torch.Tensor:
    """Demand MW -> network inputs in [-1, 1]."""
    base = tensors(demand.dtype, demand.device)["base_load"]
    return (demand / base - 1.0) / cfg.load_spread


def to_dispatch(unit: torch.Tensor, free: bool) -> torch.Tensor:
    """Network output in [0, 1] units of each generator's range -> MW; of the free
    generators (FREE_GENS) if `free`, else of all of them."""
    grid = tensors(unit.dtype, unit.device)
    if free:
        return grid["free_min"] + unit * grid["free_range"]
    return grid["gen_min"] + unit * grid["gen_range"]


def to_unit(dispatch: torch.Tensor) -> torch.Tensor:
    """MW -> [0, 1] units of each generator's range (the MSE is taken here)."""
    grid = tensors(dispatch.dtype, dispatch.device)
    return (dispatch - grid["gen_min"]) / grid["gen_range"]


def complete(free: torch.Tensor, demand: torch.Tensor) -> torch.Tensor:
    """Power balance by construction: free [..., gens - 1] MW -> dispatch [..., gens],
    the completed generator producing total demand minus everything else."""
    rest = demand.sum(-1, keepdim=True) - free.sum(-1, keepdim=True)
    parts = [free[..., :COMPLETED_GEN], rest, free[..., COMPLETED_GEN:]]
    return torch.cat(parts, dim=-1)


def free_part(dispatch: torch.Tensor) -> torch.Tensor:
    """The free generators of a full dispatch [..., gens] -> [..., gens - 1]."""
    before, after = dispatch[..., :COMPLETED_GEN], dispatch[..., COMPLETED_GEN + 1 :]
    return torch.cat([before, after], dim=-1)


def slab_constraints(demand: torch.Tensor):
    """The inequalities in the free generators' space, as slabs low <= a @ x <= high:
    demand [..., loads] -> normals [slabs, gens - 1], low and high [..., slabs].
    Slab 0 is the completed generator's bounds (its output is demand minus the free
    ones); the others are the limited lines (the completed generator sits at the
    reference bus, so it moves no line flow)."""
    kw = {"dtype": demand.dtype, "device": demand.device}
    net = tensors(demand.dtype, demand.device)
    normals = torch.cat([torch.ones(1, FREE_GENS.size, **kw), net["free_gen_flow"]])
    total = demand.sum(-1, keepdim=True)
    load_flow = demand @ net["load_flow"].T  # [..., lines]
    low = torch.cat([total - GEN_MAX[COMPLETED_GEN], load_flow - net["limit"]], -1)
    high = torch.cat([total - GEN_MIN[COMPLETED_GEN], load_flow + net["limit"]], -1)
    return normals, low, high


def project(free, demand, sweeps: int, tol=0.0, check_every=10):
    """Dykstra's projection of free [M, n, gens - 1] MW onto the feasible set.

    Returns the projected point and the sweeps each of the M models ran [M]: all
    `sweeps`, or, when tol > 0, until each of its instances' largest violation
    (share of demand) is <= tol. A model that is done is frozen while the others go
    on, so its answer is the one it gives alone. [n, gens - 1] is one model.

    Each sweep projects in closed form onto the free generators' box, then onto each
    slab; Dykstra's correction terms make the iterates converge to the nearest
    feasible point (Boyle & Dykstra 1986), not just to some feasible point. Every
    step is differentiable almost everywhere, so the network trains through it.
    """
    if free.dim() == 2:
        x, used = project(free[None], demand[None], sweeps, tol, check_every)
        return x[0], used
    normals, low, high = slab_constraints(demand)
    grid = tensors(free.dtype, free.device)
    norms = (normals**2).sum(-1)  # [slabs]
    corrections = [torch.zeros_like(free) for _ in range(1 + normals.shape[0])]
    done = torch.zeros(free.shape[0], 1, 1, dtype=torch.bool, device=free.device)
    used = torch.zeros(free.shape[0], dtype=torch.long, device=free.device)
    x = free
    for sweep in range(sweeps):
        if tol > 0 and sweep % check_every == 0:
            worst = violations(complete(x, demand), demand).flatten(1).amax(1)
            done = done | (worst <= tol)[:, None, None]
            if done.all().item():
                break
        start, before = x, list(corrections)
        shifted = x + corrections[0]
        x = torch.minimum(torch.maximum(shifted, grid["free_min"]), grid["free_max"])
        corrections[0] = shifted - x
        for slab in range(normals.shape[0]):
            shifted = x + corrections[slab + 1]
            value = shifted @ normals[slab]  # [M, n]
            # value - value.clamp(low, high), in the same values and gradients
            excess = torch.relu(value - high[..., slab]) - torch.relu(
                low[..., slab] - value
            )
            x = shifted - (excess / norms[slab]).unsqueeze(-1) * normals[slab]
            corrections[slab + 1] = shifted - x
        if tol > 0 and free.shape[0] > 1:  # freeze the models that are done
            x = torch.where(done, start, x)
            corrections = [
                torch.where(done, *pair)
                for pair in zip(before, corrections, strict=True)
            ]
        used = used + (~done).flatten().long()
    return x, used


def restore(free, demand, cfg: Config, sweeps: int = 0):
    """Completion then projection of free [M, n, gens - 1] -> dispatch [M, n, gens]
    and sweeps [M]: a fixed `sweeps` when given (training), else to the tolerance."""
    steps, tol = (sweeps, 0.0) if sweeps else (cfg.projection_steps, cfg.projection_tol)
    x, used = project(free, demand, steps, tol=tol)
    return complete(x, demand), used


def answer(model, demand: torch.Tensor, cfg: Config, arm: str):
    """An arm's dispatch [M, n, gens] for demand [M, n, loads], and the projection's
    sweeps [M] (None for the arms without one)."""
    out = model(scale_inputs(demand, cfg))
    if arm == FIX_ARM:
        return restore(to_dispatch(out, free=True), demand, cfg)
    dispatch = to_dispatch(out, free=False)
    if arm == POSTHOC_ARM:  # the same completion and projection, after training
        return restore(free_part(dispatch), demand, cfg)
    return dispatch, None


# ---------------------------------------------------------------- training

ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults


@dataclass(frozen=True)
class Cell:
    """One model to train: its seed, penalty weight, peak learning rate, budget."""

    seed: int
    penalty: float
    lr: float
    steps: int


def on_device(array, ctx) -> torch.Tensor:
    return torch.tensor(np.asarray(array), dtype=torch.float32, device=ctx.device)


def train(cells: list[Cell], data: dict, cfg: Config, constrained, ctx):
    """Adam on MSE (in generator-range units) + penalty * the mean summed violation
    (an L1 penalty, exact in the limit of a large weight), every cell in one stack.
    Returns the cells in the stack's order and the trained stack.

    Each cell has its own learning rate and budget with its own cosine decay to 0
    (torch's CosineAnnealingLR), so a shorter budget is a complete run, not a
    checkpoint; a cell whose budget is spent leaves the stack, so the cost is the
    sum of the budgets. Adam is written out because its step size differs per model
    (tests check it is torch.optim.Adam's update). Cells with the same seed share
    the initialisation and the minibatches: a paired design.
    """
    cells = sorted(cells, key=lambda cell: cell.steps)
    seeds = [c.seed for c in cells]
    model = make_models(GENS - 1 if constrained else GENS, seeds, cfg, ctx.device)
    demand = on_device([data[s]["train"][0] for s in seeds], ctx)
    target = to_unit(on_device([data[s]["train"][1] for s in seeds], ctx))
    settings = on_device([[c.penalty, c.lr, c.steps] for c in cells], ctx)  # [M, 3]
    moments = [[torch.zeros_like(p) for p in model.params] for _ in range(2)]
    generators = {
        seed: torch.Generator(device=ctx.device).manual_seed(seed)
        for seed in sorted(set(seeds))
    }
    finished, first = [], 0  # models [first:] of `cells` are still training
    beta1, beta2 = ADAM_BETAS
    for step in ctx.progress(range(cells[-1].steps), desc="adam steps"):
        ending = sum(1 for c in cells[first:] if c.steps == step)
        if ending:  # these budgets are spent: set the models aside
            finished.append(rows(model, 0, ending))
            model = rows(model, ending)
            moments = [[m[ending:] for m in group] for group in moments]
            demand, target = demand[ending:], target[ending:]
            settings, first = settings[ending:], first + ending
        for param in model.params:
            param.requires_grad_(True)
        # One draw per seed per step on the device, whatever is still training, so
        # a seed's minibatches never depend on the other cells.
        draws = {
            seed: torch.randint(
                demand.shape[1], (cfg.batch_size,), generator=gen, device=ctx.device
            )
            for seed, gen in generators.items()
        }
        index = torch.stack([draws[s] for s in seeds[first:]])
        which = torch.arange(len(cells) - first, device=ctx.device)[:, None]
        batch = demand[which, index]  # [M, batch, loads]
        out = model(scale_inputs(batch, cfg))
        if constrained:
            free = to_dispatch(out, free=True)
            dispatch, _ = restore(free, batch, cfg, cfg.train_projection_steps)
        else:
            dispatch = to_dispatch(out, free=False)
        mse = ((to_unit(dispatch) - target[which, index]) ** 2).mean(dim=(1, 2))
        violation = violations(dispatch, batch).sum(-1).mean(-1)  # [M]
        (mse + settings[:, 0] * violation).sum().backward()
        with torch.no_grad():
            decay = 0.5 * (1.0 + torch.cos(math.pi * step / settings[:, 2]))
            rate = (settings[:, 1] * decay / (1 - beta1 ** (step + 1)))[:, None, None]
            root = math.sqrt(1 - beta2 ** (step + 1))
            for param, m, v in zip(model.params, *moments, strict=True):
                m.lerp_(param.grad, 1 - beta1)
                v.mul_(beta2).addcmul_(param.grad, param.grad, value=1 - beta2)
                param.sub_(rate * m / (v.sqrt() / root + ADAM_EPS))
                param.grad = None
    finished.append(rows(model, 0))
    return cells, joined(finished)


# ---------------------------------------------------------------- scoring


def score(dispatch, demand, optimum) -> dict[str, np.ndarray]:
    """Metrics of M models at once, in float64 on the host: dispatch and optimum
    [M, n, gens], demand [M, n, loads] -> {metric: [M]}.

    infeasible_pct: instances with any violation over FEASIBILITY_TOL of demand, and
    the same for the power balance alone (equality_) and the inequalities alone
    (inequality_); balance_violation, inequality_violation, max_violation: the mean
    over instances of the |balance residual|, of the largest inequality violation,
    of the largest of all (shares of demand); active_slack: the mean slack (negative
    if violated) on the inequalities that bind at the optimum; gap_pct: the mean
    |cost - HiGHS cost| / HiGHS cost in % (absolute: an infeasible dispatch can cost
    less than the optimum).
    """
    p, d, best = (torch.from_numpy(a) for a in (dispatch, demand, optimum))
    parts = violations(p, d)
    binding = (slacks(best, d) <= 1e-9).double()
    metrics = {
        "balance_violation": parts[..., 0],
        "inequality_violation": parts[..., 1:].amax(-1),
        "max_violation": parts.amax(-1),
        "active_slack": (slacks(p, d) * binding).sum(-1) / binding.sum(-1).clamp(min=1),
    }
    for kind, source in (
        ("", "max"),
        ("equality_", "balance"),
        ("inequality_", "inequality"),
    ):
        metrics[f"{kind}infeasible_pct"] = 100.0 * (
            metrics[f"{source}_violation"] > FEASIBILITY_TOL
        )
    means = torch.stack(list(metrics.values())).double().mean(-1).numpy()  # one read
    found = dict(zip(metrics, means, strict=True))
    cost, best_cost = dispatch_cost(dispatch), dispatch_cost(optimum)
    found["gap_pct"] = (100 * np.abs(cost - best_cost) / best_cost).mean(-1)
    return found


def distance_to_passing(violation, gap_pct):
    """How far an arm is from passing the rule (below 1: both criteria met on
    average): the larger of its mean largest violation over the feasibility
    tolerance and its mean gap over the gap threshold. Learning rates and the
    penalty weight minimise it on validation instances."""
    violation, gap = np.asarray(violation), np.asarray(gap_pct)
    return np.maximum(violation / FEASIBILITY_TOL, gap / MAX_GAP_PCT)


def time_per_instance(call, count: int, ctx: core.RunContext, repeats: int = 3):
    """Best-of-repeats wall time of call() divided by count, in microseconds: the
    best, because on a shared CPU one call can be slowed many times over by other
    work. ctx.clock waits for a GPU's queued kernels."""
    best = np.inf
    for _ in range(repeats):
        started = ctx.clock()
        call()
        best = min(best, ctx.clock() - started)
    return 1e6 * best / count


# ---------------------------------------------------------------- the run


def pick(model, cells: list[Cell], keep) -> tuple[core.StackedMLP, list[Cell]]:
    """The models of a stack whose cell satisfies keep(cell), as their own stack."""
    indices = [i for i, cell in enumerate(cells) if keep(cell)]
    return joined([rows(model, i, i + 1) for i in indices]), [cells[i] for i in indices]


def uses(constrained: bool, lr: dict | None = None) -> dict:
    """The arms a stack answers as, each with a test of the cells it uses: its kind
    (penalty weight 0 or not), at the chosen learning rate once there is one."""
    arms = (FIX_ARM,) if constrained else (MSE_ARM, PENALTY_ARM, POSTHOC_ARM)
    return {
        arm: lambda c, arm=arm: (
            (c.penalty > 0) == (arm == PENALTY_ARM)
            and (lr is None or c.lr == lr[arm, c.penalty])
        )
        for arm in arms
    }


def run(cfg: Config, ctx: core.RunContext) -> pd.DataFrame:
    """Records: one row per (seed, arm, stage, split, penalty, lr, steps, method,
    metric). Stage "selection": every grid value's validation scores on the selection
    seeds; "published": the published seeds at the chosen values and every budget,
    on validation, test and (the soft arms' balance) training instances."""
    published = list(range(cfg.seeds))
    selection = [SELECTION_SEED0 + i for i in range(cfg.selection_seeds)]
    data = {}
    for seed in ctx.progress([*selection, *published], desc="HiGHS labels"):
        rng = np.random.default_rng(seed)
        sizes = {"train": cfg.n_train, "validation": cfg.n_val, "test": cfg.n_test}
        data[seed] = {
            split: make_instances(rng, size, cfg.load_spread)
            for split, size in sizes.items()
            if split != "test" or seed < SELECTION_SEED0
        }
    records = core.Records()
    top = max(cfg.budgets)

    def log(scores, cells, arm, stage, split, method="adam"):
        for index, c in enumerate(cells):
            records.add_many(
                {metric: values[index] for metric, values in scores.items()},
                seed=c.seed, arm=arm, stage=stage, split=split, penalty=c.penalty,
                lr=c.lr, steps=c.steps, method=method,
            )  # fmt: skip

    def evaluate(model, cells, arm, split):
        """Every model of a stack answering its seed's `split` as `arm` (batched)."""
        demand = np.stack([data[c.seed][split][0] for c in cells])
        optimum = np.stack([data[c.seed][split][1] for c in cells])
        with torch.no_grad():
            dispatch, sweeps = answer(model, on_device(demand, ctx), cfg, arm)
        scores = score(dispatch.cpu().double().numpy(), demand, optimum)
        if sweeps is not None:
            scores["projection_sweeps"] = sweeps.cpu().double().numpy()
        return scores

    def solver(seed, split, method, stage, count=None):
        demand, optimum = (a[:count] for a in data[seed][split])
        answers, seconds = solve_each(demand, method, ctx)
        scores = score(answers[None], demand[None], optimum[None])
        if ctx.record_timings:
            scores["time_us_per_instance"] = [1e6 * seconds]
        log(scores, [Cell(seed, 0.0, 0.0, 0)], SOLVER_ARM, stage, split, method)

    # Selection: HiGHS's method, then every MLP arm's grid at the headline budget.
    for seed in selection:
        for method in cfg.solver_methods:
            solver(seed, "validation", method, "selection", cfg.n_solver_val)
    grid = [(w, lr) for w in (0.0, *cfg.penalties) for lr in cfg.lrs]
    plans = {
        False: [Cell(seed, w, lr, top) for seed in selection for w, lr in grid],
        True: [Cell(seed, 0.0, lr, top) for seed in selection for lr in cfg.fix_lrs],
    }
    for constrained, cells in plans.items():
        cells, model = train(cells, data, cfg, constrained, ctx)
        for arm, keep in uses(constrained).items():
            part, used = pick(model, cells, keep)
            log(
                evaluate(part, used, arm, "validation"),
                used,
                arm,
                "selection",
                "validation",
            )
    choice = choose(records.frame())

    # Published seeds: HiGHS with its chosen method, merit order, every MLP arm at
    # its chosen learning rate and every budget.
    for seed in published:
        solver(seed, "test", choice.method, "published")
    for split in ("validation", "test"):
        demand = np.stack([data[seed][split][0] for seed in published])
        optimum = np.stack([data[seed][split][1] for seed in published])
        guess = on_device(merit_order(demand), ctx)
        with torch.no_grad():
            dispatch, sweeps = restore(free_part(guess), on_device(demand, ctx), cfg)
        scores = score(dispatch.cpu().double().numpy(), demand, optimum)
        scores["projection_sweeps"] = sweeps.cpu().double().numpy()
        cells = [Cell(seed, 0.0, 0.0, 0) for seed in published]
        log(scores, cells, MERIT_ARM, "published", split, "merit-order")
    lr = choice.lr
    soft = {(0.0, lr[MSE_ARM, 0.0]), (0.0, lr[POSTHOC_ARM, 0.0])}
    soft |= {(w, lr[PENALTY_ARM, w]) for w in cfg.penalties}
    plans = {
        False: [
            Cell(s, w, r, b)
            for b in cfg.budgets
            for w, r in sorted(soft)
            for s in published
        ],
        True: [
            Cell(s, 0.0, lr[FIX_ARM, 0.0], b) for b in cfg.budgets for s in published
        ],
    }
    for constrained, cells in plans.items():
        cells, model = train(cells, data, cfg, constrained, ctx)
        for arm, keep in uses(constrained, lr).items():
            part, used = pick(model, cells, keep)
            for split in ("validation", "test"):
                log(evaluate(part, used, arm, split), used, arm, "published", split)
            if arm in (MSE_ARM, PENALTY_ARM):  # is the balance missed in training too?
                last, ended = pick(part, used, lambda c: c.steps == top)
                scores = evaluate(last, ended, arm, "train")
                kept = ("balance_violation", "equality_infeasible_pct")
                log({m: scores[m] for m in kept}, ended, arm, "published", "train")
            if not ctx.record_timings or arm == POSTHOC_ARM:
                continue
            for index, c in enumerate(used):  # one model on its whole test set
                if c.steps == top:
                    demand = on_device(data[c.seed]["test"][0][None], ctx)
                    call = functools.partial(
                        answer, rows(part, index, index + 1), demand, cfg, arm
                    )
                    with torch.no_grad():
                        took = time_per_instance(call, cfg.n_test, ctx)
                    log({"time_us_per_instance": [took]}, [c], arm, "published", "test")
    return records.frame()


# ---------------------------------------------------------------- choices


@dataclass(frozen=True)
class Choices:
    """What the selection seeds' validation scores chose (recomputed from records)."""

    lr: dict  # (arm, penalty weight) -> peak learning rate
    penalty: float  # the penalty arm's weight
    method: str  # HiGHS's method
    grid: pd.DataFrame  # every grid value's mean validation metrics and distance


def choose(records: pd.DataFrame) -> Choices:
    """Each MLP arm's learning rate (and the penalty weight): the smallest mean
    validation distance to passing. HiGHS's method: the fewest infeasible validation
    answers, then the fastest (the first listed where times are not recorded)."""
    rows = core.select(records, stage="selection", split="validation")
    keys = ["arm", "penalty", "lr", "method", "metric"]
    grid = (
        rows.groupby(keys, sort=False)["value"].mean().unstack("metric").reset_index()
    )
    grid["distance"] = distance_to_passing(grid["max_violation"], grid["gap_pct"])
    nets = grid[grid["arm"].isin(TRAINED)]
    lr = {
        (arm, float(w)): float(group.loc[group["distance"].idxmin(), "lr"])
        for (arm, w), group in nets.groupby(["arm", "penalty"], sort=False)
    }
    penalties = nets[nets["arm"] == PENALTY_ARM]
    penalty = float(penalties.loc[penalties["distance"].idxmin(), "penalty"])
    solver = grid[grid["arm"] == SOLVER_ARM]
    speed = solver.get("time_us_per_instance", pd.Series(0.0, index=solver.index))
    best = np.lexsort((speed.to_numpy(), solver["infeasible_pct"].to_numpy()))[0]
    return Choices(lr, penalty, str(solver["method"].iloc[best]), grid)


# ---------------------------------------------------------------- summary


def penalty_name(penalty: float) -> str:
    """0.1 -> '0p1', 10.0 -> '10': a snake_case-safe spelling of a weight."""
    return f"{penalty:g}".replace(".", "p").replace("-", "m")


METRIC_FORMATS = {  # unit and digits of each metric's estimates
    "infeasible_pct": ("%", 1),
    "equality_infeasible_pct": ("%", 1),
    "inequality_infeasible_pct": ("%", 1),
    "max_violation": ("ppm of demand", 2),
    "balance_violation": ("ppm of demand", 2),
    "inequality_violation": ("ppm of demand", 2),
    "active_slack": ("ppm of demand", 0),
    "gap_pct": ("%", 3),
    "time_us_per_instance": ("µs", 1),
    "projection_sweeps": ("sweeps", 0),
}
PPM = {"max_violation", "balance_violation", "inequality_violation", "active_slack"}
PER_WEIGHT = (  # estimates of the penalty arm at every weight
    "infeasible_pct",
    "equality_infeasible_pct",
    "inequality_infeasible_pct",
    "active_slack",
    "gap_pct",
)


# Readable names of the estimates (the page's estimates table and answer box).
METRIC_WORDS = {
    "infeasible_pct": "infeasible instances",
    "equality_infeasible_pct": "power balance fails",
    "inequality_infeasible_pct": "an inequality fails",
    "max_violation": "largest violation",
    "balance_violation": "power-balance residual",
    "inequality_violation": "largest inequality violation",
    "active_slack": "active slack",
    "gap_pct": "optimality gap",
    "time_us_per_instance": "time per instance",
    "projection_sweeps": "projection sweeps",
}
ARM_WORDS = {
    "mse": "plain MLP",
    "penalty": "MLP + chosen penalty",
    "fix": "completion + projection",
    "posthoc": "projected after training",
    "merit": "merit order + projection",
    "highs": "HiGHS",
}
WEIGHTS = sorted(
    {
        *Config().penalties,
        *(w for p in PROFILES.values() for w in p.get("penalties", ())),
    }
)
NAMES = {
    "penalty_weight": "penalty weight chosen",
    **{
        f"{metric}_{arm}": f"{words}, {who}"
        for arm, who in ARM_WORDS.items()
        for metric, words in METRIC_WORDS.items()
    },
    **{
        f"{metric}_penalty_{penalty_name(w)}": f"{METRIC_WORDS[metric]}, λ = {w:g}"
        for w in WEIGHTS
        for metric in PER_WEIGHT
    },
    **{f"lr_{arm}": f"learning rate chosen, {who}" for arm, who in ARM_WORDS.items()},
    "balance_violation_train_mse": "power-balance residual on training, plain MLP",
    "balance_violation_train_penalty": "power-balance residual on training, penalty",
    "gap_fix_minus_posthoc": "gap: fix minus projected after training",
    "gap_posthoc_minus_merit": "gap: projected after training minus merit order",
    "speedup_fix_vs_highs": "HiGHS time ÷ fix time",
}
NAMES["infeasible_pct_mse"] = "plain MLP's infeasible instances"


def estimate(values, metric: str) -> core.Estimate:
    unit, digits = METRIC_FORMATS[metric]
    scale = 1e6 if metric in PPM else 1.0  # violations printed in ppm of demand
    return core.bootstrap(np.asarray(values) * scale, unit=unit, digits=digits)


def published(records: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    return core.select(records, stage="published", split=split)


def arm_rows(rows: pd.DataFrame, arm: str, steps: int, penalty: float = 0.0):
    """An arm's rows at a budget (and, for the penalty arm, a weight)."""
    if arm in (MERIT_ARM, SOLVER_ARM):  # nothing trained: the same at every budget
        return core.select(rows, arm=arm)
    if arm == PENALTY_ARM:
        return core.select(rows, arm=arm, steps=steps, penalty=penalty)
    return core.select(rows, arm=arm, steps=steps)


def cell_estimates(records: pd.DataFrame, steps: int, penalty: float) -> dict:
    """Every arm's test estimates at one budget and penalty weight: what the rule
    reads, at the headline and at every cell of the robustness map."""
    test = published(records)
    found = {
        "penalty_weight": core.exact(
            penalty, test["seed"].nunique(), label="the penalty arm's weight", digits=2
        )
    }
    for arm, (suffix, _label) in ARM_NAMES.items():
        mine = arm_rows(test, arm, steps, penalty)
        for metric in METRIC_FORMATS:
            values = core.per_seed(mine, metric)
            if values.size:
                found[f"{metric}_{suffix}"] = estimate(values, metric)
    return found


def summarize(records: pd.DataFrame) -> dict[str, core.Estimate]:
    choice = choose(records)
    test = published(records)
    top = int(test["steps"].max())
    estimates = cell_estimates(records, top, choice.penalty)
    for weight in sorted(set(core.select(test, arm=PENALTY_ARM)["penalty"])):
        mine = arm_rows(test, PENALTY_ARM, top, weight)
        for metric in PER_WEIGHT:
            name = f"{metric}_penalty_{penalty_name(weight)}"
            estimates[name] = estimate(core.per_seed(mine, metric), metric)
    for arm in TRAINED:
        rate = choice.lr[arm, choice.penalty if arm == PENALTY_ARM else 0.0]
        estimates[f"lr_{ARM_NAMES[arm][0]}"] = core.exact(
            rate, test["seed"].nunique(), label="peak learning rate chosen", digits=3
        )
    train = published(records, "train")
    for arm in (MSE_ARM, PENALTY_ARM):
        values = core.per_seed(
            arm_rows(train, arm, top, choice.penalty), "balance_violation"
        )
        estimates[f"balance_violation_train_{ARM_NAMES[arm][0]}"] = estimate(
            values, "balance_violation"
        )
    gaps = {
        arm: core.per_seed(arm_rows(test, arm, top), "gap_pct").to_numpy()
        for arm in (FIX_ARM, POSTHOC_ARM, MERIT_ARM)
    }
    for first, second in ((FIX_ARM, POSTHOC_ARM), (POSTHOC_ARM, MERIT_ARM)):
        name = f"gap_{ARM_NAMES[first][0]}_minus_{ARM_NAMES[second][0]}"
        estimates[name] = core.bootstrap(
            gaps[first] - gaps[second],
            unit="points",
            digits=3,
            label="mean of per-seed gap differences",
        )
    if "time_us_per_instance_fix" in estimates:
        times = {
            arm: core.per_seed(arm_rows(test, arm, top), "time_us_per_instance")
            for arm in (SOLVER_ARM, FIX_ARM)
        }
        estimates["speedup_fix_vs_highs"] = core.bootstrap(
            times[SOLVER_ARM].to_numpy() / times[FIX_ARM].to_numpy(),
            unit="x",
            digits=1,
            label="mean of per-seed HiGHS time / fix-arm time",
        )
    return estimates


# ---------------------------------------------------------------- the verdict


def reaches(estimates: dict[str, core.Estimate], name: str) -> bool | None:
    """Both < thresholds: infeasible share and optimality gap (three-valued)."""
    return core.all_of(
        estimates[f"infeasible_pct_{name}"].below(MAX_INFEASIBLE_PCT),
        estimates[f"gap_pct_{name}"].below(MAX_GAP_PCT),
    )


RULE = (
    f"An instance is infeasible if any constraint is violated by more than "
    f"{FEASIBILITY_TOL:g} of total demand. Refuted if the plain MSE MLP or the "
    f"penalty MLP (its weight chosen on validation instances) has both < "
    f"{MAX_INFEASIBLE_PCT:g}% infeasible instances and < {MAX_GAP_PCT:g}% mean "
    f"optimality gap. Holds if neither does while HiGHS has "
    f"{SOLVER_MAX_INFEASIBLE_PCT:g}% infeasible and matches the reference optimum "
    f"(gap <= {SOLVER_MAX_GAP_PCT:g}%); mitigated if, in addition, the "
    f"constraint-aware arm (completion + projection, trained through) reaches both < "
    f"{MAX_INFEASIBLE_PCT:g}%. Inconclusive where a 95% CI straddles a threshold."
)
THRESHOLDS = {
    **{
        f"infeasible_pct_{arm}": MAX_INFEASIBLE_PCT for arm in ("mse", "penalty", "fix")
    },
    **{f"gap_pct_{arm}": MAX_GAP_PCT for arm in ("mse", "penalty", "fix")},
    "infeasible_pct_highs": SOLVER_MAX_INFEASIBLE_PCT,
    "gap_pct_highs": SOLVER_MAX_GAP_PCT,
}


def describe(estimates: dict, name: str, by_type: bool = False) -> str:
    text = f"{estimates[f'infeasible_pct_{name}'].text()} infeasible"
    if by_type:
        equality = estimates[f"equality_infeasible_pct_{name}"].text()
        inequality = estimates[f"inequality_infeasible_pct_{name}"].text()
        text += f" (the power balance on {equality}, an inequality on {inequality})"
    return f"{text}, gap {estimates[f'gap_pct_{name}'].text()}"


def rule(estimates: dict[str, core.Estimate]) -> core.Verdict:
    """The one rule, for verdict() and for every cell of the robustness map."""
    soft = core.any_of(reaches(estimates, "mse"), reaches(estimates, "penalty"))
    solver_exact = core.all_of(
        estimates["infeasible_pct_highs"].below(SOLVER_MAX_INFEASIBLE_PCT),
        estimates["gap_pct_highs"].below(SOLVER_MAX_GAP_PCT),
    )
    fixed = reaches(estimates, "fix")
    if soft is True:
        status = "refuted"
    elif soft is None or solver_exact is not True or fixed is None:
        status = "inconclusive"
    else:
        status = "mitigated" if fixed else "holds"
    reason = (
        f"plain MLP {describe(estimates, 'mse', True)}; penalty MLP "
        f"(λ={estimates['penalty_weight'].value:g}) "
        f"{describe(estimates, 'penalty', True)}; completion + projection "
        f"{describe(estimates, 'fix')}; the MSE MLP projected after training "
        f"{describe(estimates, 'posthoc')}; merit order + projection "
        f"{describe(estimates, 'merit')}; HiGHS "
        f"{estimates['infeasible_pct_highs'].text()} infeasible"
    )
    return core.Verdict(status, reason, RULE, thresholds=dict(THRESHOLDS))


verdict = rule  # the registry's name for the one rule


# ---------------------------------------------------------------- assessment

SELECTED_ON = (
    "validation instances of the selection seeds (numbered from 100, never "
    "published), at the headline budget: the smallest mean distance to passing"
)
BUDGET_AXIS, WEIGHT_AXIS = "training steps", "penalty weight"


def distance_by_budget(records, arm: str, penalty: float):
    """An arm's validation log10 distance to passing: (budgets, [seeds, budgets])."""
    rows = core.select(published(records, "validation"), arm=arm)
    if arm == PENALTY_ARM:
        rows = core.select(rows, penalty=penalty)
    wide = rows.pivot_table(index=["seed", "steps"], columns="metric", values="value")
    distance = distance_to_passing(wide["max_violation"], wide["gap_pct"])
    table = pd.Series(np.log10(distance), wide.index).unstack("steps").sort_index()
    return [int(b) for b in table.columns], table.to_numpy()


def assess(records: pd.DataFrame, estimates: dict) -> core.Assessment:
    choice = choose(records)
    convergence = []
    for arm in TRAINED:
        budgets, values = distance_by_budget(records, arm, choice.penalty)
        convergence.append(
            core.convergence(
                arm_label(arm, choice.penalty),
                budgets,
                values,
                tolerance=CONVERGENCE_TOL,
                metric="validation log10 distance to passing",
                higher_is_better=False,
                unit="decades",
            )
        )
    grid, tuning = choice.grid, []
    for arm in TRAINED:
        mine = grid[grid["arm"] == arm]
        weight = choice.penalty if arm == PENALTY_ARM else 0.0
        searched, chosen = (
            {"lr": sorted(set(mine["lr"]))},
            {"lr": choice.lr[arm, weight]},
        )
        if arm == PENALTY_ARM:
            searched[WEIGHT_AXIS] = sorted(set(mine["penalty"]))
            chosen[WEIGHT_AXIS] = weight
        tuning.append(
            core.Tuning(arm_label(arm, weight), searched, chosen, SELECTED_ON)
        )
    methods = list(grid[grid["arm"] == SOLVER_ARM]["method"])
    tuning.append(
        core.Tuning(
            ARM_NAMES[SOLVER_ARM][1],
            {"method": methods},
            {"method": choice.method},
            "validation instances of the selection seeds: the fewest infeasible "
            "answers, then the fastest (both are exact LP methods)",
        )
    )
    test = published(records)
    axes = {
        BUDGET_AXIS: sorted(
            int(s) for s in set(core.select(test, arm=FIX_ARM)["steps"])
        ),
        WEIGHT_AXIS: sorted(set(core.select(test, arm=PENALTY_ARM)["penalty"])),
    }
    robustness = core.robustness_map(
        axes,
        lambda cell: rule(
            cell_estimates(records, cell[BUDGET_AXIS], cell[WEIGHT_AXIS])
        ),
        {BUDGET_AXIS: max(axes[BUDGET_AXIS]), WEIGHT_AXIS: choice.penalty},
    )
    rates = len(tuning[0].grid["lr"])
    return core.Assessment(
        robustness=robustness,
        convergence=tuple(convergence),
        tuning=tuple(tuning),
        scale_axis=BUDGET_AXIS,
        effort=(
            f"Every MLP arm searched {rates} learning rates and the penalty arm also "
            f"{len(axes[WEIGHT_AXIS])} weights, on the same validation instances; "
            f"HiGHS searched {len(methods)} methods. The learned side had more to "
            "tune: HiGHS is exact at its defaults."
        ),
    )


# ---------------------------------------------------------------- charts


def arm_label(arm: str, penalty: float) -> str:
    label = ARM_NAMES[arm][1]
    return f"{label} λ={penalty:g}" if arm == PENALTY_ARM else label


# Shorter arm names for the charts' axes and legends (a phone-wide chart has
# little room for labels); the tuning and convergence records keep ARM_NAMES.
CHART_NAMES = ARM_NAMES | {
    POSTHOC_ARM: ("posthoc", "MLP, projected after training"),
    MERIT_ARM: ("merit", "merit order + projection"),
}


def chart_label(arm: str, penalty: float) -> str:
    label = CHART_NAMES[arm][1]
    return f"{label} λ={penalty:g}" if arm == PENALTY_ARM else label


def headline_rows(records: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One metric's test rows of every arm at the headline budget (the penalty arm
    at every weight), labelled for a chart."""
    test = core.select(published(records), metric=metric)
    untrained = test["arm"].isin([MERIT_ARM, SOLVER_ARM])
    rows = test[(test["steps"] == test["steps"].max()) | untrained].copy()
    rows["model"] = [
        chart_label(a, p) for a, p in zip(rows["arm"], rows["penalty"], strict=True)
    ]
    rows["value"] = rows["value"] * (1e6 if metric in PPM else 1.0)
    return rows


def arm_order(rows: pd.DataFrame) -> list[str]:
    rank = list(ARM_NAMES)
    pairs = rows[["arm", "penalty"]].drop_duplicates().itertuples(index=False)
    ranked = sorted(pairs, key=lambda cell: (rank.index(cell[0]), cell[1]))
    return [chart_label(arm, penalty) for arm, penalty in ranked]


def dots_chart(rows, title, value_title, fmt, thresholds=None, log=False, colour=None):
    """The mean with its 95% CI for every arm; faint dots: the seeds."""
    by = ["model"] + ([colour] if colour else [])
    chart = core.ci_dots(
        core.ci_table(rows, by, core.bootstrap),
        category="model",
        colour=colour,
        value_title=value_title,
        sort=arm_order(rows),
        seeds=rows[[*by, "seed", "value"]],  # only the fields drawn
        thresholds=thresholds,
        fmt=fmt,
        log=log,
    )
    return core.sized(chart, title)


def median_dots(rows, title, value_title, fmt, thresholds, log, colour=None, axis=None):
    """Every seed as a dot and the median per arm as a larger mark, with no mean or
    CI bar: at a large penalty weight some seeds end near feasible and others far
    from it, and a mean with its interval would sit between the two groups, where no
    seed lies."""
    by = ["model"] + ([colour] if colour else [])
    y = alt.Y("model:N", title=None, sort=arm_order(rows))
    rows = rows[[*by, "seed", "value"]]  # the page carries only the fields drawn
    medians = rows.groupby(by, as_index=False).agg(
        median=("value", "median"), seeds=("value", "size")
    )
    x_scale = core.scale(log=log)
    x_axis = {"axis": axis} if axis is not None else {}
    colour_enc = {}
    if colour:
        order = list(KINDS.values())
        colour_enc = {
            "color": alt.Color(
                f"{colour}:N", sort=order, title=None, legend=core.LEGEND
            ),
            "yOffset": alt.YOffset(f"{colour}:N", sort=order),
        }
    fields = ["model:N"] + ([f"{colour}:N"] if colour else [])
    seeds = (
        alt.Chart(rows)
        .mark_point(size=22, opacity=0.6)
        .encode(
            y=y,
            x=alt.X("value:Q", title=value_title, scale=x_scale, **x_axis),
            tooltip=core.tooltips(
                *fields,
                alt.Tooltip("seed:Q", title="seed"),
                alt.Tooltip("value:Q", title=value_title, format=fmt),
            ),
            **colour_enc,
        )
    )
    marks = (
        alt.Chart(medians)
        .mark_tick(thickness=3, size=14, opacity=1)
        .encode(
            y=y,
            x=alt.X("median:Q", title=value_title, scale=x_scale, **x_axis),
            tooltip=core.tooltips(
                *fields,
                alt.Tooltip("median:Q", title=f"median {value_title}", format=fmt),
                alt.Tooltip("seeds:Q", title="seeds"),
            ),
            **colour_enc,
        )
    )
    layers = [seeds, marks]
    if thresholds:
        layers.append(core.threshold_rules(thresholds, axis="x", fmt=fmt))
    return core.sized(alt.layer(*layers), title)


def budget_chart(records: pd.DataFrame) -> alt.LayerChart:
    """Each trained arm's validation distance to passing against its budget."""
    choice = choose(records)
    frames = []
    for arm in TRAINED:
        budgets, values = distance_by_budget(records, arm, choice.penalty)
        frame = pd.DataFrame(10.0**values, columns=budgets).rename_axis("seed")
        frame = frame.melt(ignore_index=False, var_name="steps").reset_index()
        frames.append(frame.assign(model=chart_label(arm, choice.penalty)))
    rows = pd.concat(frames)
    chart = core.ci_curve(
        core.ci_table(rows, ["model", "steps"], core.bootstrap),
        x="steps",
        x_title="training steps (each its own run)",
        value_title="validation distance to passing (log axis)",
        colour="model",
        colour_sort=[chart_label(a, choice.penalty) for a in TRAINED],
        seeds=rows,
        thresholds={"passing": 1.0},
        fmt=".3g",
        log_x=True,
        log_y=True,
        x_values=sorted(set(rows["steps"])),
    )
    for layer in chart.layer:  # the log axis ends at the budgets run
        if layer.encoding.x is not alt.Undefined:
            layer.encoding.x.scale = alt.Scale(type="log", nice=False, padding=20)
    return core.sized(chart, "Training budget: how far each arm is from passing")


CHARTS = {  # name: metric, title, value axis, format, thresholds, log axis
    "optimality_gap": ("gap_pct", "Cost above the HiGHS optimum (mean |gap|)",
        "optimality gap (%, log axis)", ".3g", {"largest gap (%)": MAX_GAP_PCT},
        True),
    "inference_time": ("time_us_per_instance", "Time to answer one instance",
        "microseconds per instance (log axis; MLPs batched)", ".1f", None, True),
}  # fmt: skip
KINDS = {
    "infeasible_pct": "any constraint (the rule's)",
    "equality_infeasible_pct": "equality (power balance)",
    "inequality_infeasible_pct": "inequalities (bounds, lines)",
}
# Powers of ten as plain numbers from 1 to 1,000, as 1e-6 or 1e+6 beyond: the log
# axis spans many decades, and plain numbers that long would run into each other.
DECADES = alt.Axis(
    labelExpr="datum.value >= 1 && datum.value < 1e4 ? format(datum.value, ',') "
    ": format(datum.value, '.0e')"
)


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    """Every chart whose metric is in the records (times only where recorded)."""
    kinds = pd.concat(
        headline_rows(records, m).assign(kind=k) for m, k in KINDS.items()
    )
    found = {
        "infeasible_share": median_dots(
            kinds,
            f"Instances infeasible by > {FEASIBILITY_TOL:g} of demand",
            "held-out instances infeasible (%); tick: median",
            ".1f",
            {"most infeasible (%)": MAX_INFEASIBLE_PCT},
            log=False,
            colour="kind",
        ).properties(height=380),
        "max_violation": median_dots(
            headline_rows(records, "max_violation"),
            "Largest constraint violation (mean over instances)",
            "ppm of total demand (log axis); tick: median",
            ".3g",
            {"feasibility tolerance": FEASIBILITY_TOL * 1e6},
            log=True,
            axis=DECADES,
        ),
    }
    for name, (metric, *spec) in CHARTS.items():
        if metric in set(records["metric"]):
            rows = headline_rows(records, metric)
            if metric == "gap_pct":  # HiGHS's gap is 0 by construction: not drawn
                rows = rows[rows["arm"] != SOLVER_ARM]
            found[name] = dots_chart(rows, *spec)
    found["training_budget"] = budget_chart(records)
    return found
