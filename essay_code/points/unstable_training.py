"""Tweet 5: GAN training is unstable and depends heavily on the random seed.

Claim: "Training for complex models is quite unstable. Neural turing machines and
GANs often don't train well, with heavy dependence on rand seed."

What the experiment does: the standard toy test for mode collapse, a mixture of 8
Gaussians on a ring (radius 2, standard deviation 0.02). A small GAN (two ReLU MLPs,
the non-saturating loss, Adam) is trained from `seeds` seeds at each learning rate of
a small grid; every (seed, learning rate) is one model in a single batched stack.
The fix arm is the same GAN with the R1 gradient penalty on the discriminator
(Mescheder, Geiger, Nowozin 2018), trained from the same seeds and sample streams.
The classical arm fits a Gaussian mixture (8 components) by EM to a fixed sample from
the same ring. Every arm is scored on fresh samples from the fitted model: the modes
it covers (a mode counts when >= 1% of the samples lie within 3 sigma of it) and its
share of high-quality samples (within 3 sigma of some mode), per seed.

What it does not show: one tiny architecture, one data set whose shape EM's model
family contains exactly (the fairest possible case for EM, the hardest test of the
GAN's stability), a short training budget, and one stabiliser with one penalty weight.
Neural Turing machines are not tested. It says nothing about GANs on images, where
EM is no competitor at all.

References: Metz, Poole, Pfau, Sohl-Dickstein 2017 (unrolled GANs, the ring of
Gaussians); Srivastava et al. 2017 (VEEGAN: modes covered and high-quality samples on
the ring); Lucic et al. 2018 ("Are GANs created equal?"); Mescheder, Geiger, Nowozin
2018 (R1); Collier & Beel 2018 (NTM implementations).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import altair as alt
import numpy as np
import pandas as pd
import torch
from sklearn.mixture import GaussianMixture
from torch import nn
from torch.nn import functional as F

from essay_code import core
from essay_code.core import Estimate, RunContext, Verdict

TITLE = "Unstable GAN training"
TWEETS = (5,)
KEY = "gan_modes"

GAN = "gan"
FIX = "gan-r1"
EM = "em-gmm"
GAN_ARMS = (GAN, FIX)
ARMS = (*GAN_ARMS, EM)
ARM_LABELS = {
    GAN: "GAN",
    FIX: "GAN + R1 penalty",
    EM: "Gaussian mixture (EM)",
}
MODES_METRIC = "modes_covered"
QUALITY_METRIC = "high_quality_pct"

# Verdict thresholds, fixed before any run, not tuned.
HOLDS_MAX_MEAN_MODES = 7.0  # the GAN averages fewer modes than this ...
HOLDS_MIN_STD_MODES = 1.5  # ... or its modes vary this much across seeds ...
FEW_MODES = 4  # ... or this share of seeds cover fewer than FEW_MODES modes
HOLDS_MIN_SHARE_FEW = 0.3  # (3 of 10 seeds)
EM_MIN_SHARE_ALL = 0.9  # EM must cover all modes in 9 of 10 seeds
REFUTED_MIN_SHARE_ALL = 0.8  # the GAN covers all modes in 8 of 10 seeds ...
REFUTED_MIN_QUALITY = 80.0  # ... with this % of high-quality samples

# Independent random streams per seed; GAN arms share them, so they are paired.
STREAM_TRAIN, STREAM_EVAL, STREAM_EM = range(3)

# Host syncs in a smoke run: the checkpoints' scores and final samples, and the EM
# arm's. The rest are torch Adam's reads of its step counter, which it keeps on
# the CPU (capturable off), so on a GPU they never wait for the device.
HOST_SYNC_BUDGET = 28


@dataclass(frozen=True)
class Config:
    seeds: int = 10  # independent initialisations and sample streams per setting
    lrs: tuple[float, ...] = (1e-3, 3e-3, 1e-2)  # Adam learning rate (G and D alike)
    steps: int = 3000  # discriminator + generator updates per GAN
    batch_size: int = 64  # real and generated samples per update
    hidden: int = 64  # width of the two hidden layers of G and of D
    latent: int = 16  # dimension of the generator's Gaussian noise
    beta1: float = 0.5  # Adam beta1, the usual GAN setting (Radford et al. 2016)
    beta2: float = 0.999  # Adam beta2, PyTorch's default
    r1_gamma: float = 1.0  # weight of the R1 penalty (gamma/2 * |grad D(real)|^2)
    eval_every: int = 250  # steps between checkpoints of the coverage curve
    eval_samples: int = 2000  # generated samples scored per model and checkpoint
    em_samples: int = 2000  # training sample EM is fitted to, per seed
    radius: float = 2.0  # radius of the ring of modes
    sigma: float = 0.02  # standard deviation of each mode
    modes: int = 8  # number of Gaussians on the ring
    scatter_seeds: int = 5  # seeds whose samples the scatter chart shows
    scatter_samples: int = 64  # samples stored per model for the scatter chart


PROFILES = {
    "smoke": {
        "seeds": 2,
        "lrs": (1e-3,),
        "steps": 20,
        "eval_every": 10,
        "eval_samples": 200,
        "em_samples": 400,
        "scatter_seeds": 2,
        "scatter_samples": 8,
    },
    "full": {
        "seeds": 20,
        "lrs": (3e-4, 1e-3, 3e-3, 1e-2, 3e-2),
        "steps": 10000,
        "hidden": 128,
        "batch_size": 256,
    },
}


# ---------------------------------------------------------------- data


def mode_centres(cfg: Config) -> torch.Tensor:
    """[modes, 2]: the means, evenly spaced on a circle of radius cfg.radius."""
    angles = torch.arange(cfg.modes, dtype=torch.float64) * (2 * math.pi / cfg.modes)
    return (cfg.radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def sample_ring(
    cfg: Config,
    n: int,
    generator: torch.Generator,
    centres: torch.Tensor | None = None,
) -> torch.Tensor:
    """[n, 2] samples: a uniformly chosen mode plus isotropic N(0, sigma^2) noise,
    drawn on the generator's device. A training loop passes `centres` (mode_centres
    on that device) so that it builds them once, not at every step."""
    device = generator.device
    if centres is None:
        centres = mode_centres(cfg).to(device)
    which = torch.randint(cfg.modes, (n,), generator=generator, device=device)
    noise = torch.randn(n, 2, generator=generator, device=device)
    return centres[which] + cfg.sigma * noise


def stream(seed: int, kind: int, device: torch.device | str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed * 10 + kind)


# ---------------------------------------------------------------- metrics


def coverage(samples: torch.Tensor, cfg: Config) -> tuple[torch.Tensor, torch.Tensor]:
    """Modes covered and % high-quality samples: samples [..., n, 2] -> two [...].

    A sample is high quality when it lies within 3 sigma of some mode; a mode is
    covered when at least 1% of all samples lie within 3 sigma of it (VEEGAN's
    measure, Srivastava et al. 2017).
    """
    centres = mode_centres(cfg).to(samples.device)
    distance = torch.linalg.vector_norm(
        samples[..., :, None, :] - centres, dim=-1
    )  # [..., n, modes]
    near = distance <= 3 * cfg.sigma
    modes = (near.float().mean(dim=-2) >= 0.01).sum(dim=-1)
    quality = 100.0 * near.any(dim=-1).float().mean(dim=-1)
    return modes, quality


# ---------------------------------------------------------------- the GAN


class GanPair(nn.Module):
    """Generator and discriminator built together, so one seed fixes both inits."""

    def __init__(self, latent: int, hidden: int) -> None:
        super().__init__()
        self.generator = mlp(latent, hidden, 2)
        self.discriminator = mlp(2, hidden, 1)


def mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, outputs),
    )


def stacked_mlp(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """mlp() for a stack of models: params '<i>.weight' [models, out, in],
    '<i>.bias' [models, out]; x [models, batch, in] -> [models, batch, out].

    Plain baddbmm rather than vmap: same numbers, faster for such small layers.
    """
    layers = sorted({int(name.split(".")[0]) for name in params})
    for position, layer in enumerate(layers):
        weight, bias = params[f"{layer}.weight"], params[f"{layer}.bias"]
        x = torch.baddbmm(bias[:, None, :], x, weight.transpose(1, 2))
        if position < len(layers) - 1:
            x = torch.relu(x)
    return x


def split_pair(params: dict[str, torch.Tensor], part: str) -> dict[str, torch.Tensor]:
    """The generator's or discriminator's entries of a stacked GanPair."""
    prefix = f"{part}."
    return {
        name.removeprefix(prefix): value
        for name, value in params.items()
        if name.startswith(prefix)
    }


def init_gans(
    cfg: Config, seeds: list[int], device: torch.device
) -> list[dict[str, torch.Tensor]]:
    """One stacked GanPair per learning rate; seed s starts identically in each."""
    return [
        core.stack_seeded(lambda: GanPair(cfg.latent, cfg.hidden), seeds, device)[1]
        for _ in cfg.lrs
    ]


def concat(groups: list[dict[str, torch.Tensor]], part: str) -> dict[str, torch.Tensor]:
    """Learning-rate groups side by side: [lrs * seeds, ...] per parameter."""
    parts = [split_pair(group, part) for group in groups]
    return {name: torch.cat([p[name] for p in parts]) for name in parts[0]}


def train_gans(
    cfg: Config,
    r1_gamma: float,
    ctx: RunContext,
    on_checkpoint=None,
) -> list[dict[str, torch.Tensor]]:
    """Train every (lr, seed) GAN of one arm as one batched model.

    Model index = lr_index * seeds + seed. One Adam per network, with one parameter
    group per learning rate: Adam's step does not scale with the gradient, so the
    learning rate cannot be folded into the loss. on_checkpoint(step, groups) is
    called every cfg.eval_every steps.
    """
    device = ctx.device
    seeds = list(range(cfg.seeds))
    groups = init_gans(cfg, seeds, device)
    betas = (cfg.beta1, cfg.beta2)
    optimizers = {
        part: torch.optim.Adam(
            [
                {"params": list(split_pair(group, part).values()), "lr": lr}
                for group, lr in zip(groups, cfg.lrs, strict=True)
            ],
            betas=betas,
        )
        for part in ("generator", "discriminator")
    }
    # The training streams draw on the device, so a step copies nothing from the
    # host (on the CPU these are the same generators as plain CPU ones).
    generators = [stream(seed, STREAM_TRAIN, device) for seed in seeds]
    centres = mode_centres(cfg).to(device)
    copies = len(cfg.lrs)

    def draw(make) -> torch.Tensor:
        # Each seed's draws come from its own stream; every lr sees the same ones.
        per_seed = torch.stack([make(g) for g in generators])  # [seeds, batch, d]
        return per_seed.repeat(copies, 1, 1)  # [lrs * seeds, batch, d]

    batch = cfg.batch_size

    def latent(g: torch.Generator) -> torch.Tensor:
        return torch.randn(batch, cfg.latent, generator=g, device=device)

    for step in ctx.progress(range(1, cfg.steps + 1), total=cfg.steps, desc="gan"):
        real = draw(lambda g: sample_ring(cfg, batch, g, centres))
        noise_d = draw(latent)
        noise_g = draw(latent)

        # Discriminator step; summed over models, each gets its own gradient.
        gen, disc = concat(groups, "generator"), concat(groups, "discriminator")
        with torch.no_grad():
            fake = stacked_mlp(gen, noise_d)
        real.requires_grad_(r1_gamma > 0)
        logit_real = stacked_mlp(disc, real).squeeze(-1)  # [models, batch]
        logit_fake = stacked_mlp(disc, fake).squeeze(-1)
        loss_d = (F.softplus(-logit_real) + F.softplus(logit_fake)).mean(dim=1)
        if r1_gamma > 0:
            (grad_real,) = torch.autograd.grad(
                logit_real.sum(), real, create_graph=True
            )  # [models, batch, 2]; sums over samples do not mix models
            loss_d = loss_d + r1_gamma / 2 * grad_real.pow(2).sum(-1).mean(dim=1)
        optimizers["discriminator"].zero_grad(set_to_none=True)
        loss_d.sum().backward()
        optimizers["discriminator"].step()

        # Generator step, non-saturating loss, against the updated discriminator.
        gen = concat(groups, "generator")
        disc = {name: v.detach() for name, v in concat(groups, "discriminator").items()}
        logit = stacked_mlp(disc, stacked_mlp(gen, noise_g)).squeeze(-1)
        optimizers["generator"].zero_grad(set_to_none=True)
        F.softplus(-logit).mean(dim=1).sum().backward()
        optimizers["generator"].step()

        if on_checkpoint is not None and (
            step % cfg.eval_every == 0 or step == cfg.steps
        ):
            on_checkpoint(step, groups)
    return groups


def generate(
    cfg: Config, groups: list[dict[str, torch.Tensor]], n: int, device: torch.device
) -> torch.Tensor:
    """[lrs * seeds, n, 2] samples; each seed's noise is fixed across checkpoints."""
    noise = torch.stack(
        [
            torch.randn(n, cfg.latent, generator=stream(seed, STREAM_EVAL))
            for seed in range(cfg.seeds)
        ]
    ).repeat(len(groups), 1, 1)
    with torch.no_grad():
        return stacked_mlp(concat(groups, "generator"), noise.to(device))


# ---------------------------------------------------------------- EM


def fit_em(cfg: Config, seed: int) -> np.ndarray:
    """Samples [eval_samples, 2] from an 8-component GMM fitted by EM (sklearn's
    defaults: k-means initialisation, one initialisation, full covariances)."""
    train = sample_ring(cfg, cfg.em_samples, stream(seed, STREAM_EM)).double().numpy()
    model = GaussianMixture(n_components=cfg.modes, random_state=seed).fit(train)
    samples, _component = model.sample(cfg.eval_samples)
    # sample() returns the draws grouped by component; shuffle for the scatter.
    return np.random.default_rng(seed).permutation(samples)


# ---------------------------------------------------------------- the run


def run(cfg: Config, ctx: RunContext) -> pd.DataFrame:
    """Records: (seed, arm, lr, step, sample, metric, value). Metrics are
    modes_covered and high_quality_pct per checkpoint, plus sample_x / sample_y for
    the scatter chart. EM has no lr or step (NaN); sample is -1 on metric rows."""
    records = core.Records()

    def columns(seed, arm, lr, step=math.nan, sample=-1) -> dict:
        """Every row's columns, in the records' column order."""
        where = {"seed": int(seed), "arm": arm, "lr": lr, "step": step}
        return {**where, "sample": sample, "ring_modes": cfg.modes}

    def add_scores(seed, arm, lr, step, modes, quality):
        scores = {MODES_METRIC: modes, QUALITY_METRIC: quality}
        records.add_many(scores, **columns(seed, arm, lr, step))

    def add_scatter(seed, arm, lr, points: np.ndarray):
        if seed >= cfg.scatter_seeds:
            return
        for index, (x, y) in enumerate(points[: cfg.scatter_samples]):
            xy = {"sample_x": x, "sample_y": y}
            records.add_many(xy, **columns(seed, arm, lr, sample=index))

    models = [(lr, seed) for lr in cfg.lrs for seed in range(cfg.seeds)]
    for arm, gamma in ((GAN, 0.0), (FIX, cfg.r1_gamma)):

        def checkpoint(step, groups, arm=arm):
            samples = generate(cfg, groups, cfg.eval_samples, ctx.device)
            modes, quality = coverage(samples, cfg)
            for index, (lr, seed) in enumerate(models):
                add_scores(seed, arm, lr, step, modes[index], quality[index])
            if step == cfg.steps:
                final = samples.cpu().numpy()
                for index, (lr, seed) in enumerate(models):
                    add_scatter(seed, arm, lr, final[index])

        train_gans(cfg, gamma, ctx, checkpoint)

    for seed in ctx.progress(range(cfg.seeds), desc="em"):
        samples = fit_em(cfg, seed)
        modes, quality = coverage(torch.tensor(samples, dtype=torch.float32), cfg)
        add_scores(seed, EM, math.nan, math.nan, modes, quality)
        add_scatter(seed, EM, math.nan, samples)
    return records.frame()


# ---------------------------------------------------------------- summary


def final_scores(records: pd.DataFrame, arm: str, metric: str) -> pd.DataFrame:
    """Per seed at the last checkpoint: a [seed] x lr table (EM: one column, 0)."""
    rows = core.select(records, arm=arm, metric=metric)
    if arm == EM:
        return rows.set_index("seed")[["value"]].rename(columns={"value": 0.0})
    return core.pivot_seeds(rows, metric, "lr", step=rows["step"].max())


def best_lr(records: pd.DataFrame, arm: str) -> float:
    """The lr with the most modes covered on average over seeds; ties go to the
    higher mean % of high-quality samples, then to the smaller lr."""
    modes = final_scores(records, arm, MODES_METRIC).mean()
    quality = final_scores(records, arm, QUALITY_METRIC).mean()
    ranking = sorted(modes.index, key=lambda lr: (-modes[lr], -quality[lr], lr))
    return float(ranking[0])


def seed_std(values, axis=-1):
    """Across-seed standard deviation (ddof=1), the spread the verdict reads."""
    values = np.asarray(values, dtype=float)
    if values.shape[axis] < 2:
        return np.zeros(np.delete(values.shape, axis))
    return np.std(values, axis=axis, ddof=1)


def share_of_seeds(test):
    """The statistic 'share of seeds whose value passes test' for bootstrap."""

    def share(values, axis=-1):
        return np.mean(test(np.asarray(values)), axis=axis)

    return share


def spread_estimate(modes: np.ndarray) -> Estimate:
    """Bootstrap CI of the across-seed std; the CI is widened to include the point
    value, which a percentile interval of a std (biased low) can miss."""
    spread = core.bootstrap(modes, seed_std, unit="modes", label="std (ddof=1)")
    low, high = min(spread.low, spread.value), max(spread.high, spread.value)
    return replace(spread, low=low, high=high)


def arm_estimates(
    records: pd.DataFrame, arm: str, prefix: str, cfg_modes: int
) -> dict[str, Estimate]:
    """Headline numbers for one arm at its best lr (EM: its only setting)."""
    lr = best_lr(records, arm) if arm != EM else 0.0
    modes = final_scores(records, arm, MODES_METRIC)[lr].to_numpy()
    quality = final_scores(records, arm, QUALITY_METRIC)[lr].to_numpy()
    where = f" at lr {lr:g}" if arm != EM else ""
    return {
        f"{prefix}_modes": core.bootstrap(
            modes, unit="modes", label=f"mean modes covered{where}"
        ),
        f"{prefix}_modes_std": spread_estimate(modes),
        f"{prefix}_share_all_modes": core.bootstrap(
            modes,
            share_of_seeds(lambda v: v >= cfg_modes),
            label=f"share of seeds covering all {cfg_modes} modes{where}",
        ),
        f"{prefix}_share_few_modes": core.bootstrap(
            modes,
            share_of_seeds(lambda v: v < FEW_MODES),
            label=f"share of seeds covering < {FEW_MODES} modes{where}",
        ),
        f"{prefix}_quality": core.bootstrap(
            quality, unit="%", digits=1, label=f"mean % high-quality{where}"
        ),
    }


def lr_name(lr: float) -> str:
    """1e-4 -> '1em4': a learning rate inside a snake_case estimate name."""
    mantissa, exponent = f"{lr:.0e}".split("e")
    return f"{mantissa}e{'m' if exponent.startswith('-') else ''}{int(exponent[1:])}"


def summarize(records: pd.DataFrame) -> dict[str, Estimate]:
    all_modes = int(records["ring_modes"].iloc[0])
    estimates = {
        **arm_estimates(records, GAN, "gan", all_modes),
        **arm_estimates(records, FIX, "fix", all_modes),
        **arm_estimates(records, EM, "em", all_modes),
    }
    # The learning rates chosen, as estimates so the page can print them.
    for arm, prefix in ((GAN, "gan"), (FIX, "fix")):
        seeds = core.select(records, arm=arm)["seed"].nunique()
        estimates[f"{prefix}_best_lr"] = core.exact(
            best_lr(records, arm),
            seeds,
            label="lr with the highest mean modes covered",
            digits=4,
        )
    # Every lr of the plain GAN, so the page's table shows the whole grid.
    gan_modes = final_scores(records, GAN, MODES_METRIC)
    for lr in gan_modes.columns:
        estimates[f"gan_modes_lr_{lr_name(lr)}"] = core.bootstrap(
            gan_modes[lr].to_numpy(), unit="modes", label=f"mean at lr {lr:g}"
        )
    return estimates


RULE = (
    f"Holds if, at its best learning rate (the one with the most modes on average), "
    f"the GAN averages < {HOLDS_MAX_MEAN_MODES:g} modes, or its across-seed std is "
    f">= {HOLDS_MIN_STD_MODES:g} modes, or >= {HOLDS_MIN_SHARE_FEW:.0%} of seeds "
    f"cover < {FEW_MODES} modes, while EM covers every mode in "
    f">= {EM_MIN_SHARE_ALL:.0%} of seeds. Refuted if the GAN covers every mode in "
    f">= {REFUTED_MIN_SHARE_ALL:.0%} of seeds with >= {REFUTED_MIN_QUALITY:g}% "
    f"high-quality samples. Mitigated if the claim holds but the R1 arm meets the "
    f"refuted condition. A criterion counts only when its whole 95% CI is past the "
    f"threshold; otherwise, and when neither holds nor refuted applies, inconclusive."
)


# Estimate -> the threshold the rule compares it with (FEW_MODES is inside the share).
THRESHOLDS = {
    KEY: HOLDS_MAX_MEAN_MODES,
    "gan_modes_std": HOLDS_MIN_STD_MODES,
    "gan_share_few_modes": HOLDS_MIN_SHARE_FEW,
    "em_share_all_modes": EM_MIN_SHARE_ALL,
    "gan_share_all_modes": REFUTED_MIN_SHARE_ALL,
    "gan_quality": REFUTED_MIN_QUALITY,
    "fix_share_all_modes": REFUTED_MIN_SHARE_ALL,
    "fix_quality": REFUTED_MIN_QUALITY,
}


def gan_failed(estimates: dict[str, Estimate], prefix: str) -> bool | None:
    return core.any_of(
        estimates[f"{prefix}_modes"].below(HOLDS_MAX_MEAN_MODES),
        estimates[f"{prefix}_modes_std"].above(HOLDS_MIN_STD_MODES),
        estimates[f"{prefix}_share_few_modes"].above(HOLDS_MIN_SHARE_FEW),
    )


def gan_succeeded(estimates: dict[str, Estimate], prefix: str) -> bool | None:
    return core.all_of(
        estimates[f"{prefix}_share_all_modes"].above(REFUTED_MIN_SHARE_ALL),
        estimates[f"{prefix}_quality"].above(REFUTED_MIN_QUALITY),
    )


def verdict(estimates: dict[str, Estimate]) -> Verdict:
    holds = core.all_of(
        gan_failed(estimates, "gan"),
        estimates["em_share_all_modes"].above(EM_MIN_SHARE_ALL),
    )
    refuted = gan_succeeded(estimates, "gan")
    fixed = gan_succeeded(estimates, "fix")

    def value(name: str) -> float:
        return estimates[name].value

    reason = (
        f"GAN at lr {value('gan_best_lr'):g}: {estimates['gan_modes'].text()}, "
        f"std {value('gan_modes_std'):.2f} modes, all modes in "
        f"{value('gan_share_all_modes'):.0%} of seeds, < {FEW_MODES} modes in "
        f"{value('gan_share_few_modes'):.0%}, {value('gan_quality'):.1f}% high "
        f"quality; GAN + R1 at lr {value('fix_best_lr'):g}: all modes in "
        f"{value('fix_share_all_modes'):.0%} of seeds, {value('fix_quality'):.1f}% "
        f"high quality; EM: all modes in {value('em_share_all_modes'):.0%} of seeds, "
        f"{value('em_quality'):.1f}% high quality"
    )
    if holds is True and fixed is True:
        status = "mitigated"
    elif holds is True and fixed is False:
        status = "holds"
    elif refuted is True:
        status = "refuted"
    else:
        status = "inconclusive"
    return Verdict(status, reason, RULE, thresholds=THRESHOLDS)


# ---------------------------------------------------------------- charts


def setting_label(arm: str, lr: float) -> str:
    return ARM_LABELS[arm] if arm == EM else f"{ARM_LABELS[arm]}, lr {lr:g}"


def final_table(records: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Last-checkpoint rows of one metric with a 'setting' label per (arm, lr)."""
    rows = core.select(records, metric=metric)
    last = rows.groupby("arm")["step"].transform("max")
    rows = rows[(rows["arm"] == EM) | (rows["step"] == last)]
    pairs = zip(rows["arm"], rows["lr"], strict=True)
    labels = [setting_label(arm, lr) for arm, lr in pairs]
    return rows.assign(setting=labels, model=rows["arm"].map(ARM_LABELS))


def setting_order(records: pd.DataFrame) -> list[str]:
    lrs = sorted(records.loc[records["arm"] != EM, "lr"].dropna().unique())
    return [setting_label(arm, lr) for arm in GAN_ARMS for lr in lrs] + [
        setting_label(EM, math.nan)
    ]


def per_seed_chart(
    records: pd.DataFrame,
    metric: str,
    title: str,
    axis: str,
    thresholds: dict[str, float],
) -> alt.LayerChart:
    """Per setting (arm and lr): the seeds as faint dots, mean and 95% CI over seeds,
    and the verdict's threshold on this metric."""
    rows = final_table(records, metric)
    chart = core.ci_dots(
        core.ci_table(rows, ["setting"], core.bootstrap),
        category="setting",
        sort=setting_order(records),
        seeds=rows,
        thresholds=thresholds,
        value_title=axis,
        fmt=".2f",
    )
    return core.sized(chart, title)


def training_chart(records: pd.DataFrame) -> alt.LayerChart:
    """Modes covered over training at each GAN arm's best lr: mean and 95% CI band,
    and a thin line per seed (a seed that collapses shows as its own line)."""
    rows = core.select(records, metric=MODES_METRIC)
    best = {arm: best_lr(records, arm) for arm in GAN_ARMS}
    keep = [best.get(a) == lr for a, lr in zip(rows["arm"], rows["lr"], strict=True)]
    rows = rows[keep].assign(model=lambda r: r["arm"].map(ARM_LABELS))
    title = "modes covered (of the ring's modes)"
    models = [ARM_LABELS[arm] for arm in GAN_ARMS]
    curves = core.ci_curve(
        core.ci_table(rows, ["model", "lr", "step"], core.bootstrap),
        x="step",
        x_title="training step (discriminator + generator update)",
        value_title=title,
        colour="model",
        colour_sort=models,
        seeds=rows,
        fmt=".2f",
        extra_tooltips=[alt.Tooltip("lr:Q", format="g")],
    )
    seed_lines = (
        alt.Chart(rows)
        .mark_line(opacity=0.3, strokeWidth=1)
        .encode(
            x="step:Q",
            y="value:Q",
            color=alt.Color("model:N", sort=models),
            detail="seed:N",
            tooltip=core.tooltips("model:N", "lr:Q", "seed:Q"),
        )
    )
    return core.sized(
        alt.layer(curves, seed_lines),
        "Modes covered during training at each GAN's best lr (thin: seeds)",
        height=core.CHART_HEIGHT,
    )


def samples_chart(records: pd.DataFrame) -> alt.FacetChart:
    """Generated samples of the first seeds: GAN and GAN + R1 at their best lr. A
    scatter per (model, seed), so it stays hand-written."""
    rows = records[records["metric"].isin(["sample_x", "sample_y"])]
    best = {arm: best_lr(records, arm) for arm in GAN_ARMS}
    keep = [
        arm == EM or lr == best[arm]
        for arm, lr in zip(rows["arm"], rows["lr"], strict=True)
    ]
    points = (
        rows[keep]
        .pivot_table(index=["arm", "seed", "sample"], columns="metric", values="value")
        .reset_index()
    )
    points["model"] = points["arm"].map(ARM_LABELS)
    seeds = points["seed"].nunique()
    side = max(60, (core.CHART_WIDTH - 20 * seeds) // max(seeds, 1))
    axis_scale = alt.Scale(domain=[-2.6, 2.6])
    return (
        alt.Chart(points)
        .mark_point(size=12, filled=True, opacity=0.6)
        .encode(
            x=alt.X("sample_x:Q", title="x", scale=axis_scale),
            y=alt.Y("sample_y:Q", title="y", scale=axis_scale),
            color=alt.Color("model:N", sort=list(ARM_LABELS.values()), title=None),
            tooltip=core.tooltips(
                "model:N",
                "seed:Q",
                alt.Tooltip("sample_x:Q", format=".2f"),
                alt.Tooltip("sample_y:Q", format=".2f"),
            ),
        )
        .properties(width=side, height=side)
        .facet(
            row=alt.Row("model:N", sort=list(ARM_LABELS.values()), title=None),
            column=alt.Column("seed:N", title="seed"),
        )
        .properties(title="Samples per seed (GANs at their best lr)")
    )


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    return {
        "modes_per_seed": per_seed_chart(
            records,
            MODES_METRIC,
            "Modes covered per seed (dots) and mean with 95% CI (bars)",
            "modes covered",
            {f"holds: GAN mean < {HOLDS_MAX_MEAN_MODES:g}": HOLDS_MAX_MEAN_MODES},
        ),
        "quality_per_seed": per_seed_chart(
            records,
            QUALITY_METRIC,
            "High-quality samples per seed (dots) and mean with 95% CI (bars)",
            "samples within 3 sigma of a mode (%)",
            {f"refuted: >= {REFUTED_MIN_QUALITY:g}%": REFUTED_MIN_QUALITY},
        ),
        "modes_over_training": training_chart(records),
        "samples": samples_chart(records),
    }
