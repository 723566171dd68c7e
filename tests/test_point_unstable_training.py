"""unstable-training: the ring, the coverage rules, persistent collapse, EM and its
selection, the batched GAN and its Adam, seed sets, verdict and assessment."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from essay_code import core
from essay_code.core import Estimate, RunContext
from essay_code.points import unstable_training as point
from essay_code.tooling.registry import load_point

CFG = point.Config()


def ring(n: int, seed: int = 0) -> torch.Tensor:
    return point.sample_ring(CFG, n, torch.Generator().manual_seed(seed))


def scores(samples: torch.Tensor) -> tuple[int, int, float]:
    """(modes by the 1% rule, modes by VEEGAN's rule, % high quality)."""
    modes, modes_any, quality = point.coverage(samples, CFG).tolist()
    return int(modes), int(modes_any), quality


def test_ring_modes_sit_on_the_circle_with_the_right_spread():
    centres = point.mode_centres(CFG)
    assert centres.shape == (8, 2)
    assert torch.allclose(centres.norm(dim=1), torch.full((8,), 2.0), atol=1e-6)
    samples = ring(40_000)
    nearest = torch.cdist(samples, centres).argmin(dim=1)
    offsets = samples - centres[nearest]  # [n, 2], should be N(0, 0.02^2 I)
    assert offsets.mean(dim=0).abs().max() < 1e-3
    assert offsets.std(dim=0) == pytest.approx([0.02, 0.02], rel=0.03)
    counts = torch.bincount(nearest, minlength=8) / len(samples)
    assert counts.min() > 0.11 and counts.max() < 0.14


def test_coverage_counts_all_modes_on_true_samples_and_one_on_a_single_mode():
    modes, modes_any, quality = scores(ring(5000))
    assert modes == modes_any == 8
    assert quality > 98.0  # 3 sigma in 2-D keeps ~98.9% of the mass
    one_mode = point.mode_centres(CFG)[3] + 0.02 * torch.randn(
        2000, 2, generator=torch.Generator().manual_seed(1)
    )
    modes, modes_any, quality = scores(one_mode)
    assert modes == modes_any == 1 and quality > 98.0
    # Points between two modes are neither covered modes nor high quality.
    middle = point.mode_centres(CFG)[:2].mean(dim=0).expand(100, 2)
    assert scores(middle) == (0, 0, 0.0)


def test_the_one_percent_rule_and_veegans_one_sample_rule_differ_as_stated():
    centres = point.mode_centres(CFG)
    # 990 samples on mode 0, 10 (1%) on mode 1: both rules count two modes.
    samples = torch.cat([centres[0].expand(990, 2), centres[1].expand(10, 2)])
    assert scores(samples)[:2] == (2, 2)
    # 9 of 1000 is under 1%: the 1% rule drops mode 1, VEEGAN's rule keeps it.
    samples = torch.cat([centres[0].expand(991, 2), centres[1].expand(9, 2)])
    assert scores(samples)[:2] == (1, 2)
    # A single stray sample on each other mode: VEEGAN counts all eight.
    samples = torch.cat([centres[0].expand(993, 2), centres[1:]])
    assert scores(samples)[:2] == (1, 8)
    # Batched: [models, n, 2] -> [3, models].
    batch = torch.stack([ring(1000), centres[0].expand(1000, 2)])
    assert point.coverage(batch, CFG).shape == (3, 2)
    assert point.coverage(batch, CFG)[0].tolist() == [8.0, 1.0]


def test_persistent_collapse_needs_few_modes_at_every_checkpoint():
    trace = np.array(
        [
            [0, 1, 2, 2, 1, 2],  # stuck at <= 2 throughout: collapsed
            [0, 0, 1, 1, 1, 1],  # stuck low: collapsed
            [0, 1, 2, 5, 2, 2],  # reached 5 once, then fell back: not persistent
            [0, 0, 0, 0, 0, 3],  # slow, but climbing at the end: not collapsed
            [0, 2, 4, 6, 8, 8],  # trains fine
        ]
    )
    assert point.persistent_collapse(trace).tolist() == [
        True,
        True,
        False,
        False,
        False,
    ]
    # Only the checkpoints up to a budget count: at checkpoint 3 the slow seed and
    # the one that peaked later are still stuck.
    assert point.persistent_collapse(trace[:, :3]).tolist() == [True] * 4 + [False]
    assert point.persistent_collapse(trace, max_modes=0).tolist() == [False] * 5


def test_em_finds_every_mode_and_validation_prefers_the_true_size():
    for seed in range(3):
        samples, loglik = point.fit_em(CFG, seed, 8)
        modes, _, quality = scores(torch.tensor(samples, dtype=torch.float32))
        assert modes == 8 and quality > 95.0
        _, too_few = point.fit_em(CFG, seed, 4)
        assert loglik > too_few + 0.5  # four components must straddle modes


def records_of(rows: list[tuple]) -> pd.DataFrame:
    """Hand-made metric rows (seed, seed_set, arm, lr, step, metric, value)."""
    columns = ["seed", "seed_set", "arm", "lr", "step", "metric", "value"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.assign(components=math.nan, sample=-1, ring_modes=8)


def test_best_lr_reads_the_selection_seeds_only():
    rows = []
    grid = {1e-4: (2, 3), 1e-3: (8, 6), 3e-3: (8, 5)}  # selection seeds' modes
    for lr, modes in grid.items():
        for seed, value in enumerate(modes):
            for metric, v in ((point.MODES_METRIC, value), (point.QUALITY_METRIC, 50)):
                rows.append(
                    (10_000 + seed, point.SELECTION, point.GAN, lr, 10, metric, v)
                )
    # Confirmatory rows that would favour 1e-4 must not move the choice.
    for seed in range(3):
        rows.append((seed, point.CONFIRMATORY, point.GAN, 1e-4, 10, "modes_covered", 8))
    records = records_of(rows)
    assert point.best_lr(records, point.GAN) == 1e-3
    # Ties on modes go to quality, then to the smaller lr.
    tied = records_of(
        [
            (10_000, point.SELECTION, point.GAN, lr, 10, metric, v)
            for lr in (1e-3, 3e-3)
            for metric, v in ((point.MODES_METRIC, 8), (point.QUALITY_METRIC, 50))
        ]
    )
    assert point.best_lr(tied, point.GAN) == 1e-3


def test_batched_generator_equals_a_separately_built_one_at_initialisation():
    cfg = point.Config(hidden=16)
    models = [(point.GAN, 1e-4, 0), (point.FIX, 1e-3, 2), (point.GAN, 1e-3, 2)]
    params = core.stack_seeded(
        lambda: point.GanPair(cfg.latent, cfg.hidden), [m[2] for m in models]
    )[1]
    generator = point.split_pair(params, "generator")
    noise = torch.randn(3, 32, cfg.latent, generator=torch.Generator().manual_seed(5))
    batched = point.stacked_mlp(generator, noise)  # [models, 32, 2]
    for index, (*_, seed) in enumerate(models):
        torch.manual_seed(seed)
        single = point.GanPair(cfg.latent, cfg.hidden)
        expected = single.generator(noise[index])
        assert torch.allclose(batched[index], expected, atol=1e-6)
    # Models 1 and 2 share seed 2, so the same weights: the same input, same output.
    same = point.stacked_mlp(generator, noise[[1, 1, 1]])
    assert torch.equal(same[1], same[2]) and not torch.equal(same[0], same[1])


def test_stacked_adam_matches_torch_adam_with_a_learning_rate_per_model():
    torch.manual_seed(0)
    start = torch.randn(3, 4, 5)
    lrs = torch.tensor([1e-3, 1e-2, 3e-2])
    stacked = {"w": start.clone().requires_grad_(True)}
    ours = point.StackedAdam(stacked, lrs, (0.5, 0.999))
    singles = [start[i].clone().requires_grad_(True) for i in range(3)]
    theirs = [
        torch.optim.Adam([p], lr=float(lr), betas=(0.5, 0.999))
        for p, lr in zip(singles, lrs, strict=True)
    ]
    for step in range(6):
        grads = torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(step))
        stacked["w"].grad = grads.clone()
        ours.step()
        for index, (param, optimizer) in enumerate(zip(singles, theirs, strict=True)):
            param.grad = grads[index].clone()
            optimizer.step()
    for index in range(3):
        assert torch.allclose(stacked["w"][index], singles[index], atol=1e-6)
    # The models moved by different amounts: the learning rates were not shared.
    moved = (stacked["w"] - start).abs().mean(dim=(1, 2))
    assert moved[0] < moved[1] < moved[2]


def test_batched_training_equals_training_one_gan_alone():
    """Model (R1, lr 1e-3, seed 1) of a mixed batch ends where a run of it alone
    ends: per-model learning rates, penalties and streams do not leak."""
    ctx = RunContext(show_progress=False)
    cfg = point.Config(steps=5, hidden=16, eval_every=5)
    mixed = [(point.GAN, 1e-4, 0), (point.FIX, 1e-3, 1), (point.GAN, 1e-3, 1)]
    batched = point.split_pair(point.train_gans(cfg, mixed, ctx), "generator")
    alone = point.split_pair(point.train_gans(cfg, mixed[1:2], ctx), "generator")
    plain = point.split_pair(point.train_gans(cfg, mixed[2:], ctx), "generator")
    for name, value in alone.items():
        assert torch.allclose(batched[name][1], value[0], atol=1e-5), name
        assert torch.allclose(batched[name][2], plain[name][0], atol=1e-5), name
    # The R1 penalty changed the model: same seed and lr, different weights.
    assert not torch.allclose(batched["0.weight"][1], batched["0.weight"][2])


def estimates(**overrides: tuple[float, float, float]) -> dict[str, Estimate]:
    """A GAN that covers every mode in most seeds, unless overridden."""
    base = {
        "gan_modes": (8.0, 8.0, 8.0),
        "gan_modes_std": (0.0, 0.0, 0.0),
        "gan_share_all_modes": (1.0, 1.0, 1.0),
        "gan_share_few_modes": (0.0, 0.0, 0.0),
        "gan_quality": (90.0, 88.0, 92.0),
        "gan_lr": (1e-3, 1e-3, 1e-3),
        "fix_modes": (8.0, 8.0, 8.0),
        "fix_modes_std": (0.0, 0.0, 0.0),
        "fix_share_all_modes": (1.0, 1.0, 1.0),
        "fix_share_few_modes": (0.0, 0.0, 0.0),
        "fix_quality": (90.0, 88.0, 92.0),
        "fix_lr": (1e-3, 1e-3, 1e-3),
        "em_share_all_modes": (1.0, 1.0, 1.0),
        "em_quality": (98.0, 97.0, 99.0),
        "em_modes": (8.0, 8.0, 8.0),
    }
    base.update(overrides)
    return {
        name: Estimate(value, low, high, method="test", n=20)
        for name, (value, low, high) in base.items()
    }


COLLAPSED = {
    "gan_modes": (3.0, 2.0, 4.5),
    "gan_share_all_modes": (0.0, 0.0, 0.0),
    "gan_quality": (60.0, 50.0, 70.0),
}
FIX_FAILS = {"fix_share_all_modes": (0.3, 0.1, 0.6)}


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({}, "refuted"),
        ({**COLLAPSED, **FIX_FAILS}, "holds"),
        (COLLAPSED, "mitigated"),
        # Mean and share are fine, but the spread across seeds is large.
        (
            {
                "gan_modes_std": (2.0, 1.6, 2.5),
                "gan_modes": (7.5, 7.0, 8.0),
                **FIX_FAILS,
                "gan_share_all_modes": (0.6, 0.3, 0.9),
            },
            "holds",
        ),
        # EM misses a mode too often: the contrast the claim needs is missing.
        (
            {**COLLAPSED, **FIX_FAILS, "em_share_all_modes": (0.5, 0.2, 0.8)},
            "inconclusive",
        ),
        # The GAN's mean straddles the threshold and nothing else decides it.
        (
            {
                "gan_modes": (7.0, 6.0, 7.8),
                "gan_share_all_modes": (0.5, 0.2, 0.8),
                **FIX_FAILS,
            },
            "inconclusive",
        ),
        # Every mode covered, but most samples fall between modes: neither rule.
        ({"gan_quality": (40.0, 35.0, 45.0)}, "inconclusive"),
    ],
)
def test_verdict_statuses(overrides, status):
    result = point.verdict(estimates(**overrides))
    assert result.status == status, result.reason
    assert f"< {point.HOLDS_MAX_MEAN_MODES:g} modes" in result.rule
    assert result.thresholds[point.KEY] == point.HOLDS_MAX_MEAN_MODES


@pytest.fixture(scope="module")
def smoke(smoke_runs):
    """The smoke profile's records (run once per session, by the runner, which also
    holds the thread pools to one thread), summary and assessment."""
    cfg = point.Config(**point.PROFILES["smoke"])
    records = smoke_runs(load_point("unstable-training"))[0]
    estimates = point.summarize(records)
    assert set(estimates) <= set(point.NAMES)  # every estimate has a readable name
    return cfg, records, estimates, point.assess(records, estimates)


def test_selection_and_confirmatory_seeds_are_disjoint_and_each_arm_ran_its_choice(
    smoke,
):
    cfg, records, _estimates, _assessment = smoke
    seeds = {
        name: set(core.select(records, seed_set=name)["seed"])
        for name in (point.SELECTION, point.CONFIRMATORY)
    }
    assert seeds[point.SELECTION] == set(point.selection_seed_ids(cfg))
    assert seeds[point.CONFIRMATORY] == set(range(cfg.seeds))
    assert not seeds[point.SELECTION] & seeds[point.CONFIRMATORY]
    chosen = point.chosen_settings(records)
    for arm in point.GAN_ARMS:
        confirmatory = core.select(records, arm=arm, seed_set=point.CONFIRMATORY)
        assert set(confirmatory["lr"]) == {chosen[arm]}
        selection = core.select(records, arm=arm, seed_set=point.SELECTION)
        assert set(selection["lr"]) == set(cfg.lrs)
    em = core.select(records, arm=point.EM, seed_set=point.CONFIRMATORY)
    assert set(em["components"]) == {chosen[point.EM]}


def test_smoke_assessment_has_convergence_tuning_and_the_map(smoke):
    cfg, records, estimates, assessment = smoke
    assert [c.arm for c in assessment.convergence] == list(point.GAN_ARMS)
    for record in assessment.convergence:
        assert record.budgets[-1] == cfg.steps and cfg.steps / 2 in record.budgets
        assert record.tolerance == point.CONVERGENCE_TOLERANCE
    assert [t.arm for t in assessment.tuning] == list(point.ARMS)
    assert all(t.selected_on.startswith("selection seeds") for t in assessment.tuning)
    robustness = assessment.robustness
    assert robustness.axes == {
        "steps": point.map_budgets(cfg.steps),
        "gan lr": list(cfg.lrs),
        "mode rule": list(point.RULES),
    }
    assert assessment.scale_axis == "steps"
    status = point.verdict(estimates).status
    assert robustness.status_at(robustness.headline) == status
    assert len(robustness.cells) == 3 * len(cfg.lrs) * len(point.RULES)
    # The headline reads the confirmatory seeds; another lr, the selection seeds.
    assert estimates[point.KEY].n == cfg.seeds
    other = next(lr for lr in cfg.lrs if lr != point.chosen_settings(records)["gan"])
    cell = point.estimates_at(records, cfg.steps, other, point.HEADLINE_RULE)
    assert cell[point.KEY].n == cfg.selection_seeds
    assert 0.0 <= estimates["gan_share_collapsed"].value <= 1.0
