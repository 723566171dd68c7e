"""unstable-training: the ring, coverage metric, EM, batched GAN and verdict."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from essay_code.core import Estimate, RunContext
from essay_code.points import unstable_training as point

CFG = point.Config()


def ring(n: int, seed: int = 0) -> torch.Tensor:
    return point.sample_ring(CFG, n, torch.Generator().manual_seed(seed))


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
    modes, quality = point.coverage(ring(5000), CFG)
    assert int(modes) == 8
    assert float(quality) > 98.0  # 3 sigma in 2-D keeps ~98.9% of the mass
    one_mode = point.mode_centres(CFG)[3] + 0.02 * torch.randn(
        2000, 2, generator=torch.Generator().manual_seed(1)
    )
    modes, quality = point.coverage(one_mode, CFG)
    assert int(modes) == 1 and float(quality) > 98.0
    # Points between two modes are neither covered modes nor high quality.
    middle = point.mode_centres(CFG)[:2].mean(dim=0).expand(100, 2)
    modes, quality = point.coverage(middle, CFG)
    assert int(modes) == 0 and float(quality) == 0.0


def test_coverage_needs_one_percent_of_samples_near_a_mode():
    centres = point.mode_centres(CFG)
    # 990 samples on mode 0, 10 (1%) on mode 1, 9 (< 1% of 1000) would not count.
    samples = torch.cat([centres[0].expand(990, 2), centres[1].expand(10, 2)])
    assert int(point.coverage(samples, CFG)[0]) == 2
    samples = torch.cat([centres[0].expand(991, 2), centres[1].expand(9, 2)])
    assert int(point.coverage(samples, CFG)[0]) == 1


def test_em_finds_every_mode_on_clean_data():
    for seed in range(3):
        modes, quality = point.coverage(
            torch.tensor(point.fit_em(CFG, seed), dtype=torch.float32), CFG
        )
        assert int(modes) == 8 and float(quality) > 95.0


def test_batched_generator_equals_a_separately_built_one_at_initialisation():
    cfg = point.Config(seeds=3, lrs=(1e-4, 1e-3))
    groups = point.init_gans(cfg, [0, 1, 2], torch.device("cpu"))
    generator = point.concat(groups, "generator")
    noise = torch.randn(6, 32, cfg.latent, generator=torch.Generator().manual_seed(5))
    batched = point.stacked_mlp(generator, noise)  # [lrs * seeds, 32, 2]
    for index in range(6):
        seed = index % 3  # model index = lr_index * seeds + seed
        torch.manual_seed(seed)
        single = point.GanPair(cfg.latent, cfg.hidden)
        expected = single.generator(noise[index])
        assert torch.allclose(batched[index], expected, atol=1e-6)
    disc = point.concat(groups, "discriminator")
    torch.manual_seed(2)
    single = point.GanPair(cfg.latent, cfg.hidden)
    points = noise[2, :, :2]
    assert torch.allclose(
        point.stacked_mlp(disc, noise[:, :, :2])[2],
        single.discriminator(points),
        atol=1e-6,
    )


def test_batched_training_equals_training_one_gan_alone():
    """Model (lr 1e-3, seed 1) of a batched run ends where a run of it alone ends."""
    ctx = RunContext(show_progress=False)
    both = point.Config(seeds=2, lrs=(1e-4, 1e-3), steps=5, hidden=16)
    batched = point.concat(point.train_gans(both, 1.0, ctx), "generator")
    alone = point.Config(seeds=2, lrs=(1e-3,), steps=5, hidden=16)
    single = point.concat(point.train_gans(alone, 1.0, ctx), "generator")
    for name, value in single.items():
        assert torch.allclose(batched[name][3], value[1], atol=1e-5), name


def estimates(**overrides: tuple[float, float, float]) -> dict[str, Estimate]:
    """A GAN that covers every mode in most seeds, unless overridden."""
    base = {
        "gan_modes": (8.0, 8.0, 8.0),
        "gan_modes_std": (0.0, 0.0, 0.0),
        "gan_share_all_modes": (1.0, 1.0, 1.0),
        "gan_share_few_modes": (0.0, 0.0, 0.0),
        "gan_quality": (90.0, 88.0, 92.0),
        "gan_best_lr": (1e-3, 1e-3, 1e-3),
        "fix_modes": (8.0, 8.0, 8.0),
        "fix_modes_std": (0.0, 0.0, 0.0),
        "fix_share_all_modes": (1.0, 1.0, 1.0),
        "fix_share_few_modes": (0.0, 0.0, 0.0),
        "fix_quality": (90.0, 88.0, 92.0),
        "fix_best_lr": (1e-3, 1e-3, 1e-3),
        "em_share_all_modes": (1.0, 1.0, 1.0),
        "em_quality": (98.0, 97.0, 99.0),
        "em_modes": (8.0, 8.0, 8.0),
    }
    base.update(overrides)
    return {
        name: Estimate(value, low, high, method="test", n=10)
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


def test_best_lr_is_the_one_with_most_modes_on_average():
    rows = []
    for lr, modes in ((1e-4, (2, 3)), (1e-3, (8, 6)), (3e-3, (8, 5))):
        for seed, value in enumerate(modes):
            for metric, v in ((point.MODES_METRIC, value), (point.QUALITY_METRIC, 50)):
                rows.append(
                    {
                        "seed": seed,
                        "arm": point.GAN,
                        "lr": lr,
                        "step": 10,
                        "metric": metric,
                        "value": float(v),
                    }
                )
    assert point.best_lr(pd.DataFrame(rows), point.GAN) == 1e-3
    assert math.isclose(point.best_lr(pd.DataFrame(rows), point.GAN), 0.001)
