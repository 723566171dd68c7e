"""slow-gradients: the parity data, the exact classical arms, the batched MLP and the
verdict rule, each checked on small cases with known answers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from essay_code import core
from essay_code.core import Estimate, RunContext
from essay_code.points import slow_gradients as sg

CFG = sg.Config()


def stream(seed: int, n: int, noise: float = 0.0, chunk: int = 256) -> sg.ParityStream:
    return sg.ParityStream(seed, n, replace(CFG, label_noise=noise), chunk)


# ---------------------------------------------------------------- data


def test_labels_are_the_product_of_the_secret_coordinates():
    source = stream(seed=3, n=12)
    x, clean, _noisy = source.next_chunk()
    assert source.secret.shape == (CFG.k,)
    assert np.array_equal(source.secret, np.unique(source.secret))  # sorted, distinct
    assert set(np.unique(x.numpy())) == {-1.0, 1.0}
    expected = np.prod(x.numpy()[:, source.secret], axis=1)
    assert np.array_equal(clean.numpy(), expected)
    # The same label as a sum of bits mod 2 (what elimination solves).
    bits, label_bits = sg.to_bits(x), sg.to_bits(clean)
    assert np.array_equal(bits[:, source.secret].sum(axis=1) % 2, label_bits)


def test_noisy_labels_flip_about_the_configured_share_of_the_same_inputs():
    clean_stream, noisy_stream = stream(1, 16), stream(1, 16, noise=0.05, chunk=20_000)
    x_noisy, clean, noisy = noisy_stream.next_chunk()
    assert torch.equal(x_noisy[:256], clean_stream.next_chunk()[0])  # same inputs
    flipped = (noisy != clean).float().mean().item()
    assert 0.04 < flipped < 0.06
    assert torch.equal(noisy.abs(), torch.ones_like(noisy))


def test_each_seed_draws_its_own_secret():
    secrets = {tuple(sg.draw_secret(seed, 30, 3)) for seed in range(10)}
    assert len(secrets) >= 9
    assert all(0 <= i < 30 for secret in secrets for i in secret)


# ---------------------------------------------------------------- classical arms


def test_gf2_system_solves_a_hand_made_system_and_skips_dependent_rows():
    # Secret bits s = (1, 1, 0): s0 = 1, s0 + s1 = 0, s0 + s1 + s2 = 0 (mod 2).
    system = sg.GF2System(3)
    assert system.add(0b1_001)
    assert system.add(0b0_011)
    assert not system.add(0b1_010)  # s1 = 1 follows from the first two
    with pytest.raises(ValueError):
        system.solution()
    assert system.add(0b0_111)
    assert system.solution().tolist() == [1, 1, 0]


def test_pack_equations_puts_bit_j_at_position_j_and_the_label_at_n():
    bits = np.array([[1, 0, 1], [0, 1, 0]], dtype=np.uint8)
    assert sg.pack_equations(bits, np.array([1, 0], dtype=np.uint8)) == [0b1101, 0b0010]


@pytest.mark.parametrize("n", [8, 20, 40])
def test_elimination_recovers_the_secret_exactly_from_about_n_samples(n):
    used = []
    for seed in range(40):
        source = stream(seed, n)
        subset, samples, _ = sg.eliminate(source, noisy=False, max_samples=10_000)
        assert np.array_equal(subset, source.secret)
        used.append(samples)
    # Random vectors reach rank n after n + 1.61 samples on average.
    assert min(used) >= n
    assert n + 0.8 < np.mean(used) < n + 2.6


def test_elimination_returns_a_wrong_secret_when_a_used_label_is_flipped():
    n = 30
    wrong = 0
    for seed in range(20):
        subset, *_ = sg.eliminate(stream(seed, n, noise=0.05), True, 10_000)
        wrong += not np.array_equal(subset, sg.draw_secret(seed, n, CFG.k))
    # A wrong answer unless all ~n used labels are clean: P(right) ~ 0.95**31 ~ 0.2.
    assert wrong >= 10


def test_subset_search_finds_the_secret_with_and_without_noise():
    for noise in (0.0, 0.05):
        source = stream(seed=2, n=16, noise=noise)
        subset, samples, solved = sg.search_subsets(source, CFG.k, noise > 0, 4096)
        assert solved
        assert np.array_equal(subset, source.secret)
        assert 4 <= samples <= 200


def test_parity_accuracy_is_one_for_the_secret_and_about_half_otherwise():
    x, y = sg.held_out(0, 12, CFG)
    secret = sg.draw_secret(0, 12, CFG.k)
    assert sg.parity_accuracy(secret, x, y) == 1.0
    other = np.array([i for i in range(12) if i not in secret][:3])
    assert 0.4 < sg.parity_accuracy(other, x, y) < 0.6


# ---------------------------------------------------------------- the batched MLP


def test_batched_forward_equals_the_single_model_of_each_seed():
    n, width, seeds = 10, 32, [0, 1, 2]
    stacked = sg.ParityMLP((n, width, 1), seeds, torch.device("cpu"))
    x = torch.randn(len(seeds), 7, n)
    out = stacked(x).squeeze(-1).detach()  # [seeds, 7]
    for index, seed in enumerate(seeds):
        torch.manual_seed(seed)
        single = core.mlp((n, width, 1))
        expected = single(x[index]).squeeze(-1).detach()
        torch.testing.assert_close(out[index], expected, rtol=0, atol=1e-6)


def test_batched_sgd_equals_a_looped_sgd_run_for_each_seed():
    n, width, seeds, steps, lr = 8, 16, [0, 1], 5, 0.1
    stacked = sg.ParityMLP((n, width, 1), seeds, torch.device("cpu"))
    generator = torch.Generator().manual_seed(7)
    x = 1.0 - 2.0 * torch.randint(0, 2, (steps, len(seeds), 32, n), generator=generator)
    y = x[..., 0] * x[..., 1]
    for step in range(steps):
        stacked.sgd_step(x[step], y[step], lr)
    for index, seed in enumerate(seeds):
        torch.manual_seed(seed)
        single = core.mlp((n, width, 1))
        optimizer = torch.optim.SGD(single.parameters(), lr=lr)
        for step in range(steps):
            optimizer.zero_grad()
            out = single(x[step, index]).squeeze(-1)
            torch.relu(1.0 - y[step, index] * out).mean().backward()
            optimizer.step()
        torch.testing.assert_close(
            stacked.weights[0][index].detach(),
            single[0].weight.detach().T,
            atol=1e-6,
            rtol=0,
        )
        torch.testing.assert_close(
            stacked.weights[1][index].detach(),
            single[2].weight.detach().T,
            atol=1e-6,
            rtol=0,
        )


def test_a_seed_that_hits_the_cap_is_recorded_as_unsolved():
    cfg = replace(CFG, seeds=2, width=32, test_size=256, max_samples=512)
    result = sg.train_mlps(24, cfg, noisy=False, ctx=RunContext(show_progress=False))
    assert result["solved"].tolist() == [0.0, 0.0]
    assert result["samples"].tolist() == [512.0, 512.0]
    assert np.all(result["accuracy"] < cfg.target_accuracy)


def test_the_mlp_learns_a_small_parity_and_stops_at_the_target():
    cfg = replace(CFG, seeds=2, width=64, test_size=256, max_samples=40_000)
    result = sg.train_mlps(6, cfg, noisy=False, ctx=RunContext(show_progress=False))
    assert result["solved"].tolist() == [1.0, 1.0]
    assert np.all(result["accuracy"] >= cfg.target_accuracy)
    assert np.all(result["samples"] % cfg.eval_every == 0)


# ---------------------------------------------------------------- verdict


def est(value: float, low: float, high: float) -> Estimate:
    return Estimate(value, low, high, method="test", n=5)


def estimates(ratio: Estimate, mlp_exponent: Estimate) -> dict[str, Estimate]:
    return {
        sg.KEY: ratio,
        "largest_n": est(64, 64, 64),
        "mlp_exponent": mlp_exponent,
        "gf2_exponent": est(0.94, 0.91, 0.96),
    }


@pytest.mark.parametrize(
    ("ratio", "mlp_exponent", "status"),
    [
        (est(1500, 1300, 1700), est(1.3, 1.2, 1.4), "holds"),
        (est(1500, 1300, 1700), est(0.9, 0.85, 0.95), "mitigated"),
        (est(50, 30, 80), est(1.3, 1.2, 1.4), "refuted"),
        (est(50, 30, 80), est(0.9, 0.85, 0.95), "refuted"),
        (est(110, 90, 130), est(1.3, 1.2, 1.4), "inconclusive"),
        (est(1500, 1300, 1700), est(1.0, 0.9, 1.1), "inconclusive"),
    ],
)
def test_verdict_returns_each_status(ratio, mlp_exponent, status):
    verdict = sg.verdict(estimates(ratio, mlp_exponent))
    assert verdict.status == status
    assert f"{sg.MIN_RATIO:g}x" in verdict.rule
    assert verdict.thresholds == {sg.KEY: sg.MIN_RATIO}
