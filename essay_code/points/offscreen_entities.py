"""Tweets 9 and 10: inferring an entity you never see (the off-screen pitcher).

Claim: "Deep learning can't reason about unknown entities easily. Consider video with
baseball batter and pitcher offscreen. Not clear how to infer existence of pitcher in
the world from DNN techniques."

What the experiment does: a small 2-D world seen by a camera whose frame starts at
x = 0. A thrower stands off-screen to the left at distance D (the latent entity,
P = (-D, release height)) and throws a ball under gravity; the camera records a
clip of frames from the moment the ball enters the frame, with Gaussian noise on the
observed positions, and an occluder band hides the ball for L consecutive frames.
Task A: infer where the ball came from (the thrower's distance D). Task B: predict
the ball's position in the occluded frames. The deep-learning arm is a GRU that reads
the clip and outputs D and the whole trajectory, trained on near throwers and short
occlusions (fresh-noise clips, seeds trained as one batch). The classical arm is a
physics model with the thrower explicit: a least-squares ballistic fit to the
visible frames (gravity and the release height are known constants of this world, as
they are implicitly in every training clip the GRU sees), then solved backwards for
the release point. Both are scored in range and at 2x and 3x the trained thrower
distance and occlusion length.

What it does not show: the GRU is a generic sequence model given no physics prior;
it is not an object-centric model with a dynamics core (PLATO), nor a model trained
on a wide enough range to cover the test; nor is a model that outputs "a thrower
exists" the same as inferring the pitcher from pixels. The physics arm is told the
true equations of motion; with a wrong model (drag, spin) it would be biased too.

References: Riochet et al. 2021, "IntPhys 2019: a benchmark for visual intuitive
physics understanding" (TPAMI); Piloto, Weinstein, Battaglia, Botvinick 2022,
"Intuitive physics learning in a deep-learning model inspired by developmental
psychology" (Nature Human Behaviour).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import altair as alt
import pandas as pd
import torch

from essay_code import core

TITLE = "The off-screen thrower"
TWEETS = (9, 10)
KEY = "gru_thrower_error_2x_distance"

GRU, PHYSICS = "gru", "physics"
ARMS = (GRU, PHYSICS)

# Verdict thresholds, fixed before any run, not tuned.
ACCURATE_PX = 1.0  # in range, both arms' mean absolute error must be <= this
DL_FAIL_PX = 3.0  # out of range, the GRU fails if its error is >= this ...
DL_FAIL_RATIO = 3.0  # ... or >= this many times the physics model's error
REFUTE_RATIO = 1.5  # refuted if the GRU stays within this factor of physics
OUT_OF_RANGE_FACTOR = 2.0  # "out of range" = at least this x the trained maximum

# Fixed normalisation of positions for the network (px): roughly the arc's centre
# and size, so inputs and targets are O(1).
CENTRE_X, CENTRE_Y, SCALE = 50.0, 90.0, 50.0

# Host syncs in a smoke run: building the clips (before training), the test
# scores and predictions' read-back. The rest are torch Adam's reads of its step
# counter, which it keeps on the CPU (capturable off): no wait for a GPU.
HOST_SYNC_BUDGET = 78


@dataclass(frozen=True)
class Config:
    seeds: int = 5  # independent training sets, network inits and test sets
    clip_frames: int = 40  # frames per clip, from the ball's entry into view
    gravity: float = 0.04  # px / frame^2, the same in every clip
    release_height: float = 10.0  # px above the ground, the same for every throw
    speed_x: tuple[float, ...] = (1.5, 2.5)  # horizontal launch speed range, px/frame
    speed_y: tuple[float, ...] = (2.5, 3.5)  # vertical launch speed range, px/frame
    noise_px: float = 0.3  # std of the Gaussian noise on each visible coordinate
    margin_frames: int = 8  # visible frames kept before and after the occluder
    train_distance: tuple[float, ...] = (8.0, 40.0)  # near throwers, px off-screen
    train_occlusion: tuple[int, ...] = (1, 6)  # short occlusions, frames (inclusive)
    # Test conditions; those beyond the training range count as out of range.
    test_distances: tuple[float, ...] = (10.0, 20.0, 30.0, 40.0, 80.0, 120.0)
    test_occlusions: tuple[int, ...] = (2, 4, 6, 12, 18)
    test_clips: int = 400  # clips per seed and test condition
    train_clips: int = 8192  # training clips per seed (noise redrawn every epoch)
    hidden: int = 32  # GRU state size
    steps: int = 2000  # Adam steps
    batch_size: int = 128  # clips per step and seed
    lr: float = 3e-3  # Adam learning rate, cosine-decayed to zero


PROFILES = {
    "smoke": {
        "seeds": 2,
        "test_distances": (20.0, 80.0),
        "test_occlusions": (4, 12),
        "test_clips": 50,
        "train_clips": 512,
        "hidden": 16,
        "steps": 20,
        "batch_size": 64,
    },
    "full": {
        "seeds": 10,
        "test_distances": (10.0, 20.0, 30.0, 40.0, 60.0, 80.0, 100.0, 120.0, 160.0),
        "test_occlusions": (2, 4, 6, 9, 12, 15, 18, 24),
        "test_clips": 2000,
        "train_clips": 65536,
        "hidden": 128,
        "steps": 6000,
        "batch_size": 256,
    },
}


# ---------------------------------------------------------------- the world


@dataclass
class Clips:
    """A batch of n clips of T frames (float64, on the CPU)."""

    times: torch.Tensor  # [n, T] frames since the ball entered the view (0, 1, ...)
    truth: torch.Tensor  # [n, T, 2] true (x, y) in px
    observed: torch.Tensor  # [n, T, 2] noisy (x, y), zero where hidden
    visible: torch.Tensor  # [n, T] bool: False behind the occluder
    distance: torch.Tensor  # [n] thrower's distance left of the frame edge, px
    occlusion: torch.Tensor  # [n] occluded frames
    band: torch.Tensor  # [n, 2] occluder band (left, right) in px


def uniform(n: int, bounds: tuple[float, ...], gen: torch.Generator) -> torch.Tensor:
    low, high = bounds[0], bounds[-1]
    return low + (high - low) * torch.rand(n, generator=gen, dtype=torch.float64)


def integers(n: int, low: torch.Tensor, high: torch.Tensor, gen) -> torch.Tensor:
    """Uniform integers in [low, high] (inclusive), elementwise: [n]."""
    draw = torch.rand(n, generator=gen, dtype=torch.float64)
    return low + torch.floor(draw * (high - low + 1)).long()


def ballistic(
    distance: torch.Tensor, speed: torch.Tensor, since_release: torch.Tensor, cfg
) -> torch.Tensor:
    """(x, y) at times since release: distance [n], speed [n, 2], times [n, T]."""
    x = -distance[:, None] + speed[:, :1] * since_release
    y = (
        cfg.release_height
        + speed[:, 1:] * since_release
        - 0.5 * cfg.gravity * since_release**2
    )
    return torch.stack([x, y], dim=-1)


def make_clips(
    n: int,
    distance: tuple[float, ...],
    occlusion: tuple[int, ...],
    cfg: Config,
    gen: torch.Generator,
) -> Clips:
    """n throws with distance and occlusion drawn uniformly from the given ranges.

    A one-element range is one fixed condition. The camera's frame clock has a random
    phase relative to the release, so the first visible x lies anywhere in
    [0, speed_x). The occluder is a band in x that covers the ball's positions in L
    consecutive frames: its edges sit halfway between the last visible and first
    hidden positions, so a frame is hidden exactly when the ball is in the band.
    """
    frames = cfg.clip_frames
    dist = uniform(n, distance, gen)
    speed = torch.stack([uniform(n, cfg.speed_x, gen), uniform(n, cfg.speed_y, gen)], 1)
    phase = torch.rand(n, generator=gen, dtype=torch.float64)
    # First frame k (at time phase + k since release) with x >= 0.
    entry = torch.ceil(dist / speed[:, 0] - phase).clamp(min=0)
    times = torch.arange(frames, dtype=torch.float64).expand(n, frames)
    truth = ballistic(dist, speed, (phase + entry)[:, None] + times, cfg)

    length = integers(n, torch.tensor(occlusion[0]), torch.tensor(occlusion[-1]), gen)
    first = integers(
        n,
        torch.full((n,), cfg.margin_frames),
        frames - length - cfg.margin_frames,
        gen,
    )
    rows = torch.arange(n)
    x = truth[..., 0]
    left = 0.5 * (x[rows, first - 1] + x[rows, first])
    right = 0.5 * (x[rows, first + length - 1] + x[rows, first + length])
    visible = ~((x >= left[:, None]) & (x < right[:, None]))
    noise = cfg.noise_px * torch.randn(truth.shape, generator=gen, dtype=torch.float64)
    observed = (truth + noise) * visible[..., None]
    return Clips(
        times, truth, observed, visible, dist, length, torch.stack([left, right], 1)
    )


# ---------------------------------------------------------------- physics arm


def fit_ballistic(clips: Clips, cfg: Config) -> torch.Tensor:
    """Least-squares fit of the launch state at the first frame: [n, 4].

    Columns: x0, vx, y0, vy at time 0 of the clip. With gravity known, x and
    y + g t^2 / 2 are both linear in t, so each is a 2x2 weighted least-squares
    problem over the visible frames, solved in closed form for the whole batch.
    """
    weight = clips.visible.double()  # [n, T]
    t = clips.times
    count, sum_t, sum_tt = weight.sum(1), (weight * t).sum(1), (weight * t * t).sum(1)
    det = count * sum_tt - sum_t**2
    x = clips.observed[..., 0]
    lifted_y = clips.observed[..., 1] + 0.5 * cfg.gravity * t**2
    state = []
    for target in (x, lifted_y):
        sum_z, sum_tz = (weight * target).sum(1), (weight * t * target).sum(1)
        intercept = (sum_tt * sum_z - sum_t * sum_tz) / det
        slope = (count * sum_tz - sum_t * sum_z) / det
        state += [intercept, slope]
    return torch.stack(state, dim=1)


def physics_predict(clips: Clips, cfg: Config) -> tuple[torch.Tensor, torch.Tensor]:
    """The physics model's (thrower distance [n], trajectory [n, T, 2]).

    The thrower is explicit: the release is the earlier time at which the fitted
    arc is at the known release height, y0 + vy t - g t^2 / 2 = h, and the
    thrower stands where the arc is then.
    """
    x0, vx, y0, vy = fit_ballistic(clips, cfg).unbind(1)
    g, t = cfg.gravity, clips.times
    above = (y0 - cfg.release_height).clamp(min=0.0)
    release_time = (vy - torch.sqrt(vy**2 + 2 * g * above)) / g  # <= 0
    distance = -(x0 + vx * release_time)
    trajectory = torch.stack(
        [x0[:, None] + vx[:, None] * t, y0[:, None] + vy[:, None] * t - 0.5 * g * t**2],
        dim=-1,
    )
    return distance, trajectory


# ---------------------------------------------------------------- the GRU arm


def network_inputs(clips: Clips, cfg: Config) -> torch.Tensor:
    """Per-frame features [n, T, 4]: normalised (x, y), visible flag, time."""
    visible = clips.visible.double()
    x = (clips.observed[..., 0] - CENTRE_X) / SCALE * visible
    y = (clips.observed[..., 1] - CENTRE_Y) / SCALE * visible
    t = clips.times / cfg.clip_frames
    return torch.stack([x, y, visible, t], dim=-1).float()


def distance_scale(cfg: Config) -> tuple[float, float]:
    """Centre and half-width of the training distances: D's target is O(1)."""
    low, high = cfg.train_distance[0], cfg.train_distance[-1]
    return 0.5 * (low + high), 0.5 * (high - low)


def network_targets(clips: Clips, cfg: Config) -> torch.Tensor:
    """[n, 1 + 2T]: normalised distance, then the true (x, y) of every frame."""
    centre, half = distance_scale(cfg)
    dist = (clips.distance - centre) / half
    xy = (clips.truth - torch.tensor([CENTRE_X, CENTRE_Y], dtype=torch.float64)) / SCALE
    return torch.cat([dist[:, None], xy.flatten(1)], dim=1).float()


def decode(outputs: torch.Tensor, cfg: Config) -> tuple[torch.Tensor, torch.Tensor]:
    """Network outputs [..., 1 + 2T] -> (distance [...], trajectory [..., T, 2]) px."""
    centre, half = distance_scale(cfg)
    outputs = outputs.double()
    distance = outputs[..., 0] * half + centre
    xy = outputs[..., 1:].unflatten(-1, (cfg.clip_frames, 2)) * SCALE
    return distance, xy + torch.tensor([CENTRE_X, CENTRE_Y], dtype=torch.float64)


def init_params(
    seeds: list[int], features: int, hidden: int, outputs: int, device
) -> dict[str, torch.Tensor]:
    """Stacked GRU + MLP-head weights, [seeds, ...], PyTorch's default init ranges.

    Each seed's weights come from its own generator, so seed s gets the same
    initial network whether it is trained alone or in the stack.
    """
    shapes = {
        "w_in": (features, 3 * hidden),
        "b_in": (1, 3 * hidden),
        "w_state": (hidden, 3 * hidden),
        "b_state": (1, 3 * hidden),
        "w_head": (hidden, hidden),
        "b_head": (1, hidden),
        "w_out": (hidden, outputs),
        "b_out": (1, outputs),
    }
    fan_in = {"w_head": hidden, "b_head": hidden, "w_out": hidden, "b_out": hidden}
    params: dict[str, list[torch.Tensor]] = {name: [] for name in shapes}
    for seed in seeds:
        gen = torch.Generator().manual_seed(10_000 + seed)
        for name, shape in shapes.items():
            bound = 1.0 / math.sqrt(fan_in.get(name, hidden))
            params[name].append((2 * torch.rand(shape, generator=gen) - 1) * bound)
    return {
        name: torch.stack(values).to(device).requires_grad_(True)
        for name, values in params.items()
    }


def gru_forward(params: dict[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
    """Every seed's GRU on its own clips: inputs [S, B, T, F] -> outputs [S, B, O]."""
    seeds, batch, frames, _ = inputs.shape
    hidden = params["w_state"].shape[1]
    # Input gates for all frames at once: [S, B * T, 3H].
    gates_in = torch.baddbmm(params["b_in"], inputs.flatten(1, 2), params["w_in"])
    # unbind once: indexing frame by frame would make autograd write a full-size
    # zero gradient per frame (quadratic in the clip length).
    per_frame = gates_in.unflatten(1, (batch, frames)).unbind(2)  # T x [S, B, 3H]
    state = inputs.new_zeros(seeds, batch, hidden)
    for gates_frame in per_frame:
        gates_state = torch.baddbmm(params["b_state"], state, params["w_state"])
        in_r, in_z, in_n = gates_frame.chunk(3, dim=-1)
        st_r, st_z, st_n = gates_state.chunk(3, dim=-1)
        reset = torch.sigmoid(in_r + st_r)
        update = torch.sigmoid(in_z + st_z)
        candidate = torch.tanh(in_n + reset * st_n)
        state = (1 - update) * candidate + update * state
    head = torch.relu(torch.baddbmm(params["b_head"], state, params["w_head"]))
    return torch.baddbmm(params["b_out"], head, params["w_out"])


def train_grus(
    train: list[Clips], cfg: Config, ctx: core.RunContext
) -> dict[str, torch.Tensor]:
    """Train one GRU per seed (one clip set each), all seeds as one batched model.

    Clips keep their throws and occluders for the whole run; the observation noise
    is redrawn every step (data augmentation the physics model does not need).
    Summed per-seed losses give each seed exactly its own gradient.
    """
    seeds = len(train)
    device = ctx.device
    targets = torch.stack([network_targets(c, cfg) for c in train]).to(device)
    truth = torch.stack([c.truth for c in train]).to(device)  # [S, N, T, 2]
    visible = torch.stack([c.visible for c in train]).to(device)  # [S, N, T]
    times = train[0].times[:1].float().to(device) / cfg.clip_frames  # [1, T]
    params = init_params(list(range(seeds)), 4, cfg.hidden, targets.shape[-1], device)
    optimizer = torch.optim.Adam(params.values(), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cfg.steps)
    # Batches and noise are drawn on the device, so a step copies nothing from the
    # host (on the CPU this is the same generator as a plain CPU one).
    gen = torch.Generator(device=device).manual_seed(12_345 + seeds)
    count = targets.shape[1]
    pick = torch.arange(seeds, device=device)[:, None]
    centre = truth.new_tensor([CENTRE_X, CENTRE_Y])  # copied to the device once
    noise_shape = (seeds, cfg.batch_size, cfg.clip_frames, 2)
    for _step in ctx.progress(range(cfg.steps), total=cfg.steps, desc="GRU steps"):
        index = torch.randint(
            count, (seeds, cfg.batch_size), generator=gen, device=device
        )
        noise = torch.randn(noise_shape, generator=gen, device=device)
        seen = visible[pick, index]  # [S, B, T]
        observed = truth[pick, index] + cfg.noise_px * noise.double()
        xy = (observed - centre) / SCALE
        inputs = torch.cat(
            [
                (xy * seen[..., None]).float(),
                seen[..., None].float(),
                times.expand(seeds, cfg.batch_size, -1)[..., None],
            ],
            dim=-1,
        )  # [S, B, T, 4], the same features as network_inputs
        outputs = gru_forward(params, inputs)
        # Both tasks weigh the same: the distance is one output, the path 2T.
        error = (outputs - targets[pick, index]) ** 2  # [S, B, 1 + 2T]
        per_seed = error[..., 0].mean(1) + error[..., 1:].mean(dim=(1, 2))
        loss = per_seed.sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    return {name: value.detach() for name, value in params.items()}


def gru_predict(
    params: dict[str, torch.Tensor], clips: list[Clips], cfg: Config, device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each seed's GRU on its own test clips: ([S, n], [S, n, T, 2]) on the CPU."""
    inputs = torch.stack([network_inputs(c, cfg) for c in clips]).to(device)
    with torch.no_grad():
        outputs = torch.cat(
            [gru_forward(params, chunk) for chunk in inputs.split(2048, dim=1)], dim=1
        )
    return decode(outputs.cpu(), cfg)


# ---------------------------------------------------------------- the run


def thrower_error(predicted: torch.Tensor, clips: Clips) -> float:
    """Mean absolute error of the thrower's position, px (its height is known)."""
    return float((predicted - clips.distance).abs().mean())


def occluded_error(trajectory: torch.Tensor, clips: Clips) -> float:
    """Mean distance (px) between predicted and true positions in hidden frames."""
    miss = (trajectory - clips.truth).norm(dim=-1)  # [n, T]
    hidden = ~clips.visible
    return float(miss[hidden].mean())


def conditions(cfg: Config) -> list[tuple[str, float, tuple, tuple]]:
    """(sweep, level, distance range, occlusion range) for every test condition.

    The distance sweep draws occlusions from the training range and vice versa, so
    each sweep moves one factor out of range at a time.
    """
    found = [
        ("distance", float(d), (d,), cfg.train_occlusion) for d in cfg.test_distances
    ]
    found += [
        ("occlusion", float(o), cfg.train_distance, (o,)) for o in cfg.test_occlusions
    ]
    return found


def in_training_range(sweep: str, level: float, cfg: Config) -> bool:
    bounds = cfg.train_distance if sweep == "distance" else cfg.train_occlusion
    return bounds[0] <= level <= bounds[-1]


def run(cfg: Config, ctx: core.RunContext) -> pd.DataFrame:
    """Records: (seed, arm, sweep, level, in_range, metric, value); metric is
    thrower_error or occluded_error (px), averaged over one condition's clips."""
    seeds = list(range(cfg.seeds))
    train = [
        make_clips(
            cfg.train_clips,
            cfg.train_distance,
            cfg.train_occlusion,
            cfg,
            torch.Generator().manual_seed(seed),
        )
        for seed in seeds
    ]
    params = train_grus(train, cfg, ctx)
    records = core.Records()
    for sweep, level, dist, occl in conditions(cfg):
        # Test clips: a generator per (seed, condition), apart from training's.
        tests = [
            make_clips(
                cfg.test_clips,
                dist,
                occl,
                cfg,
                torch.Generator().manual_seed(1_000_003 * (seed + 1) + int(level * 10)),
            )
            for seed in seeds
        ]
        gru_distance, gru_path = gru_predict(params, tests, cfg, ctx.device)
        for seed, clips in zip(seeds, tests, strict=True):
            phys_distance, phys_path = physics_predict(clips, cfg)
            found = {
                GRU: (gru_distance[seed], gru_path[seed]),
                PHYSICS: (phys_distance, phys_path),
            }
            for arm, (distance, path) in found.items():
                records.add_many(
                    {
                        "thrower_error": thrower_error(distance, clips),
                        "occluded_error": occluded_error(path, clips),
                    },
                    seed=seed,
                    arm=arm,
                    sweep=sweep,
                    level=level,
                    in_range=in_training_range(sweep, level, cfg),
                )
    return records.frame()


# ---------------------------------------------------------------- summary


def seed_means(records: pd.DataFrame, arm: str, sweep: str, metric: str, levels):
    """Per seed: the arm's metric averaged over the given levels of one sweep."""
    rows = core.select(records, arm=arm, sweep=sweep, metric=metric)
    return rows[rows["level"].isin(list(levels))].groupby("seed")["value"].mean()


def out_of_range_level(records: pd.DataFrame, sweep: str) -> float:
    """The smallest tested level at >= 2x the largest trained one."""
    levels = records[records["sweep"] == sweep]
    trained = levels.loc[levels["in_range"].astype(bool), "level"].max()
    outside = levels.loc[levels["level"] >= OUT_OF_RANGE_FACTOR * trained, "level"]
    if outside.empty:
        raise ValueError(f"no {sweep} level at >= {OUT_OF_RANGE_FACTOR}x training")
    return float(outside.min())


# Which task each sweep scores: the thrower (A) when the thrower moves away, the
# occluded frames (B) when the occluder grows.
SWEEP_TASK = {"distance": "thrower_error", "occlusion": "occluded_error"}


def summarize(records: pd.DataFrame) -> dict[str, core.Estimate]:
    estimates: dict[str, core.Estimate] = {}
    px = {"unit": "px", "digits": 2}
    for sweep, metric in SWEEP_TASK.items():
        rows = records[records["sweep"] == sweep]
        inside = sorted(rows.loc[rows["in_range"].astype(bool), "level"].unique())
        far = out_of_range_level(records, sweep)
        task = "thrower" if metric == "thrower_error" else "occluded"
        for arm in ARMS:
            estimates[f"{arm}_{task}_error_in_range"] = core.bootstrap(
                seed_means(records, arm, sweep, metric, inside), **px
            )
            estimates[f"{arm}_{task}_error_2x_{sweep}"] = core.bootstrap(
                seed_means(records, arm, sweep, metric, [far]), **px
            )
        ratio = seed_means(records, GRU, sweep, metric, [far]) / seed_means(
            records, PHYSICS, sweep, metric, [far]
        )
        estimates[f"gru_over_physics_{task}_2x_{sweep}"] = core.bootstrap(
            ratio, unit="x", digits=1, label="mean per-seed ratio"
        )
    return estimates


RULE = (
    f"Holds if, in range, both arms' errors on both tasks are <= {ACCURATE_PX:g} px, "
    f"and at {OUT_OF_RANGE_FACTOR:g}x the trained thrower distance (task A) or "
    f"occlusion length (task B) the GRU's error is >= {DL_FAIL_PX:g} px or "
    f">= {DL_FAIL_RATIO:g}x the physics model's while the physics model stays "
    f"<= {ACCURATE_PX:g} px. Refuted if at both {OUT_OF_RANGE_FACTOR:g}x conditions "
    f"the GRU stays within {REFUTE_RATIO:g}x of the physics model. Inconclusive "
    f"otherwise, or where a 95% CI straddles a threshold."
)


# What the rule compares each estimate with. The ratios meet two thresholds (the GRU
# fails at >= DL_FAIL_RATIO, the claim is refuted at <= REFUTE_RATIO); the one
# listed is the failure side, the one the key estimate's test belongs to.
THRESHOLDS = {
    "gru_thrower_error_2x_distance": DL_FAIL_PX,
    "gru_occluded_error_2x_occlusion": DL_FAIL_PX,
    "gru_over_physics_thrower_2x_distance": DL_FAIL_RATIO,
    "gru_over_physics_occluded_2x_occlusion": DL_FAIL_RATIO,
    "physics_thrower_error_2x_distance": ACCURATE_PX,
    "physics_occluded_error_2x_occlusion": ACCURATE_PX,
    **{
        f"{arm}_{task}_error_in_range": ACCURATE_PX
        for arm in ARMS
        for task in ("thrower", "occluded")
    },
}


def out_of_range_failure(estimates: dict[str, core.Estimate], task: str, sweep: str):
    gru = estimates[f"gru_{task}_error_2x_{sweep}"]
    physics = estimates[f"physics_{task}_error_2x_{sweep}"]
    ratio = estimates[f"gru_over_physics_{task}_2x_{sweep}"]
    return core.all_of(
        core.any_of(gru.above(DL_FAIL_PX), ratio.above(DL_FAIL_RATIO)),
        physics.below(ACCURATE_PX),
    )


def verdict(estimates: dict[str, core.Estimate]) -> core.Verdict:
    in_range = core.all_of(
        *(
            estimates[f"{arm}_{task}_error_in_range"].below(ACCURATE_PX)
            for arm in ARMS
            for task in ("thrower", "occluded")
        )
    )
    fails = core.any_of(
        out_of_range_failure(estimates, "thrower", "distance"),
        out_of_range_failure(estimates, "occluded", "occlusion"),
    )
    close = core.all_of(
        estimates["gru_over_physics_thrower_2x_distance"].below(REFUTE_RATIO),
        estimates["gru_over_physics_occluded_2x_occlusion"].below(REFUTE_RATIO),
    )
    reason = (
        f"in range, GRU thrower error {estimates['gru_thrower_error_in_range'].text()} "
        f"and occluded error {estimates['gru_occluded_error_in_range'].text()} "
        f"(physics {estimates['physics_thrower_error_in_range'].text()} and "
        f"{estimates['physics_occluded_error_in_range'].text()}); at 2x the thrower "
        f"distance GRU {estimates['gru_thrower_error_2x_distance'].text()} vs physics "
        f"{estimates['physics_thrower_error_2x_distance'].text()}; at 2x the "
        f"occlusion GRU {estimates['gru_occluded_error_2x_occlusion'].text()} vs "
        f"physics {estimates['physics_occluded_error_2x_occlusion'].text()}"
    )
    if close is True:
        status = "refuted"
    elif core.all_of(in_range, fails) is True:
        status = "holds"
    else:
        status = "inconclusive"
    return core.Verdict(status, reason, RULE, thresholds=THRESHOLDS)


# ---------------------------------------------------------------- charts


ARM_LABELS = {GRU: "GRU (deep learning)", PHYSICS: "physics model (ballistic fit)"}
AXIS_TITLES = {
    "distance": "thrower distance off-screen (px)",
    "occlusion": "occlusion length (frames)",
}
Y_TITLES = {
    "thrower_error": "thrower position error (px, log scale)",
    "occluded_error": "error in occluded frames (px, log scale)",
}
CHART_TITLES = {
    "distance": "Task A: where did the ball come from? (mean, 95% CI over seeds)",
    "occlusion": "Task B: where is the hidden ball? (mean, 95% CI over seeds)",
}


def sweep_chart(records: pd.DataFrame, sweep: str) -> alt.TopLevelMixin:
    """Each arm's error against the sweep's level: mean, 95% CI band, seeds, the
    verdict's pixel thresholds and the trained range shaded."""
    metric = SWEEP_TASK[sweep]
    rows = core.select(records, sweep=sweep, metric=metric).copy()
    rows["model"] = rows["arm"].map(ARM_LABELS)
    curve = core.ci_curve(
        core.ci_table(rows, ["model", "level"], core.bootstrap),
        x="level",
        x_title=AXIS_TITLES[sweep],
        value_title=Y_TITLES[metric],
        colour="model",
        colour_sort=[ARM_LABELS[arm] for arm in ARMS],
        seeds=rows,
        thresholds={"accurate (px)": ACCURATE_PX, "GRU fails (px)": DL_FAIL_PX},
        fmt=".2f",
        log_y=True,
    )
    trained = rows.loc[rows["in_range"].astype(bool), "level"]
    span = {"start": [trained.min()], "end": [trained.max()], "what": ["trained"]}
    training = (
        alt.Chart(pd.DataFrame(span))
        .mark_rect(opacity=0.12, color="gray")
        .encode(
            x="start:Q",
            x2="end:Q",
            tooltip=core.tooltips(
                alt.Tooltip("what:N", title="range"),
                alt.Tooltip("start:Q", title="from"),
                alt.Tooltip("end:Q", title="to"),
            ),
        )
    )
    return core.sized(alt.layer(training, *curve.layer), CHART_TITLES[sweep])


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    return {
        "thrower_error_vs_distance": sweep_chart(records, "distance"),
        "occluded_error_vs_occlusion": sweep_chart(records, "occlusion"),
    }
