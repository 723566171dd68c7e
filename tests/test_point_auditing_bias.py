"""auditing-bias: the corpus and its planted skew, the skip-gram's objective, gradients,
optimiser and early stopping, hard-debias (neutralise and equalise), WEAT and its
exact permutation test, the word-level SEAT interval, the probe, the verdict rule and
the assessment, each on small cases with known answers."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
import torch

from essay_code import core
from essay_code.core import Estimate
from essay_code.points import auditing_bias as point
from essay_code.tooling.device import cpu_threads

CFG = point.Config()
SMOKE = dataclasses.replace(CFG, **point.PROFILES["smoke"])


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    with cpu_threads(1):
        yield


# ---------------------------------------------------------------- corpus


def test_corpus_realises_the_injected_skew_and_rates_share_their_draws():
    cfg = dataclasses.replace(CFG, stereotype_rates=(0.0, 0.5))
    rng = np.random.default_rng(3)
    p_male = point.draw_skew(cfg, rng)
    by_rate, share = point.sentences(cfg, p_male, 400, 100, rng)
    # Binomial sd is at most 0.025 at n = 400: 4 sd covers all 48 occupations.
    assert np.abs(share - p_male).max() < 0.1
    skew = np.abs(p_male - 0.5)
    assert skew.min() >= cfg.min_skew and skew.max() <= cfg.max_skew
    assert (p_male > 0.5).sum() == len(point.OCCUPATIONS) // 2
    plain, stereo = by_rate[0.0][0], by_rate[0.5][0]
    # The same sentences except the object slot.
    assert np.array_equal(plain[:, :6], stereo[:, :6])
    topics = point.ids(point.MALE_TOPICS + point.FEMALE_TOPICS)
    assert not np.isin(plain[:, 6], topics).any()
    is_topic = np.isin(stereo[:, 6], topics)
    assert abs(is_topic.mean() - 0.5) < 0.02
    # A stereotyped object follows the pronoun with the configured chance.
    male = stereo[:, 3] == point.INDEX["he"]
    male_topic = np.isin(stereo[:, 6], point.ids(point.MALE_TOPICS))
    follows = (male_topic == male)[is_topic].mean()
    assert abs(follows - cfg.stereotype_congruence) < 0.02
    # The pronouns are what the realised share counts.
    nurse = plain[:, 1] == point.INDEX[point.OCCUPATIONS[0]]
    assert (plain[nurse, 3] == point.INDEX["he"]).mean() == pytest.approx(share[0])


def test_cooccurrence_counts_every_pair_within_the_window():
    rows = np.array([[0, 1, 2, 3], [3, 3, 1, 0]])
    counts = point.cooccurrence([rows], window=2)
    expected = np.zeros_like(counts)
    for row in rows:
        for i, j in itertools.permutations(range(len(row)), 2):
            if abs(i - j) <= 2:
                expected[row[i], row[j]] += 1
    assert np.array_equal(counts, expected)
    assert np.array_equal(counts, counts.T)  # a symmetric window


def test_validation_corpus_shares_the_skews_but_not_the_sentences():
    world = point.make_world(SMOKE, 5)
    rate = SMOKE.stereotype_rate
    assert not np.array_equal(world.train[rate], world.validation[rate])
    ratio = world.validation[rate].sum() / world.train[rate].sum()
    assert ratio == pytest.approx(
        SMOKE.validation_sentences / SMOKE.sentences_per_occupation, rel=0.05
    )
    assert np.array_equal(point.make_world(SMOKE, 5).train[rate], world.train[rate])


# ---------------------------------------------------------------- skip-gram


def tiny_counts(seed=0, models=2):
    rng = np.random.default_rng(seed)
    vocab = len(point.VOCAB)
    counts = rng.poisson(3.0, size=(models, vocab, vocab)).astype(float)
    return counts + counts.transpose(0, 2, 1)


def test_sgns_gradients_match_autograd():
    counts = torch.as_tensor(tiny_counts(), dtype=torch.float64)
    positive, negative = point.sgns_weights(counts, counts, 5)
    g = torch.Generator().manual_seed(0)
    words = torch.randn(2, len(point.VOCAB), 6, generator=g, dtype=torch.float64)
    contexts = torch.randn(2, len(point.VOCAB), 6, generator=g, dtype=torch.float64)
    words.requires_grad_(True)
    contexts.requires_grad_(True)
    point.sgns_loss(words, contexts, positive, negative).sum().backward()
    mine = point.sgns_gradients(words, contexts, positive, positive + negative)
    assert torch.allclose(mine[0], words.grad) and torch.allclose(
        mine[1], contexts.grad
    )


def test_sgns_objective_weights_are_the_expected_negative_sampling_loss():
    counts = torch.as_tensor(tiny_counts(models=1)[0])
    positive, negative = point.sgns_weights(counts, counts, 5)
    assert positive.sum().item() == pytest.approx(1.0)  # per positive pair
    # k negatives per positive pair, from P_n(c) proportional to #(c) ** 0.75.
    assert negative.sum().item() == pytest.approx(5.0)
    noise = counts.sum(0) ** 0.75
    row = negative[3] / negative[3].sum()
    assert torch.allclose(row, noise / noise.sum())


def test_batched_adam_with_one_lr_per_model_equals_torch_adam():
    g = torch.Generator().manual_seed(1)
    start = torch.randn(2, 5, 3, generator=g)
    grads = [torch.randn(2, 5, 3, generator=g) for _ in range(4)]
    lr = torch.tensor([0.1, 0.01]).view(2, 1, 1)
    mine = start.clone()
    optimizer = point.Adam([mine], lr)
    for grad in grads:
        optimizer.step([grad])
    for m, rate in enumerate((0.1, 0.01)):
        param = torch.nn.Parameter(start[m].clone())
        reference = torch.optim.Adam([param], lr=rate)
        for grad in grads:
            param.grad = grad[m].clone()
            reference.step()
        assert torch.allclose(mine[m], param.detach(), atol=1e-6)


def test_early_stopping_keeps_the_best_check_within_each_budget():
    cfg = dataclasses.replace(SMOKE, steps=80, doublings=2, eval_every=10)
    world = point.make_world(cfg, 0)
    rate = cfg.stereotype_rate
    train = np.stack([world.train[rate], world.train[rate]])
    held = np.stack([world.validation[rate], world.validation[rate]])
    run = point.train_sgns(train, held, 8, [0.3, 0.03], [0, 1], cfg)
    assert run.budgets == (20, 40, 80)
    for b, budget in enumerate(run.budgets):
        within = run.checks <= budget
        best = run.validation[:, within].min(1)
        assert np.allclose(run.best_loss[b], best)
        steps = run.checks[within][run.validation[:, within].argmin(1)]
        assert np.array_equal(run.best_step[b], steps)
    assert np.all(np.diff(run.best_loss, axis=0) <= 0)
    # A model trains as if alone: the batch of two equals the second by itself.
    alone = point.train_sgns(train[1:], held[1:], 8, [0.03], [1], cfg)
    assert np.allclose(alone.validation[0], run.validation[1], atol=1e-6)
    assert np.allclose(alone.last[0], run.last[1], atol=1e-5)


def test_training_lowers_the_training_loss_and_learns_the_planted_skew():
    cfg = dataclasses.replace(SMOKE, steps=200, eval_every=10)
    world = point.make_world(cfg, 2)
    rate = cfg.stereotype_rate
    run = point.train_sgns(
        world.train[rate][None], world.validation[rate][None], 12, [0.1], [2], cfg
    )
    assert run.validation[0, -1] < run.validation[0, 0]
    vectors = run.vectors[-1, 0]
    s = point.association(
        point.rows_of(vectors, point.OCCUPATIONS),
        point.rows_of(vectors, point.MALE),
        point.rows_of(vectors, point.FEMALE),
    )
    assert np.corrcoef(s, world.male_share)[0, 1] > 0.8  # can fail: untrained is ~0


# ---------------------------------------------------------------- debias and WEAT


def random_vectors(seed=0, dim=16):
    return np.random.default_rng(seed).normal(size=(len(point.VOCAB), dim))


def test_hard_debias_neutralises_and_equalises():
    vectors = random_vectors()
    g = point.gender_direction(vectors)
    occupations = point.rows_of(vectors, point.OCCUPATIONS)
    assert point.direct_bias(occupations, g) > 0.05  # can fail: random vectors
    debiased = point.hard_debias(vectors, g)
    assert np.allclose(np.linalg.norm(debiased, axis=1), 1.0)
    neutral = [i for i, w in enumerate(point.VOCAB) if w not in point.GENDER_SPECIFIC]
    assert np.abs(debiased[neutral] @ g).max() < 1e-12
    assert point.direct_bias(point.rows_of(debiased, point.OCCUPATIONS), g) < 1e-12
    for male, female in point.PAIRS:
        a, b = debiased[point.INDEX[male]], debiased[point.INDEX[female]]
        # Equalised: the same component off g, opposite ones along it.
        assert np.allclose(a - (a @ g) * g, b - (b @ g) * g)
        assert a @ g == pytest.approx(-(b @ g))
        # Each word keeps its side of the direction.
        before = point.unit(vectors[[point.INDEX[male], point.INDEX[female]]])
        assert np.sign(a @ g) == np.sign((before[0] - before[1]) @ g)
    # Gender-specific words off the debiasing list are left as they were.
    held_out = point.rows_of(debiased, point.MALE_NOUNS)
    assert np.allclose(held_out, point.unit(point.rows_of(vectors, point.MALE_NOUNS)))


def test_after_equalise_weat_on_the_debiasing_list_is_zero_but_not_on_others():
    vectors = random_vectors(1)
    debiased = point.hard_debias(vectors, point.gender_direction(vectors))
    occ = point.rows_of(debiased, point.OCCUPATIONS)
    on_list = point.association(
        occ, point.rows_of(debiased, point.MALE), point.rows_of(debiased, point.FEMALE)
    )
    assert np.abs(on_list).max() < point.ROUNDING
    assert point.effect_size(on_list[:24], on_list[24:]) == 0.0
    held = point.association(
        occ,
        point.rows_of(debiased, point.MALE_NOUNS),
        point.rows_of(debiased, point.FEMALE_NOUNS),
    )
    assert np.abs(held).max() > 0.01


def test_weat_effect_size_matches_hand_computation():
    a = np.array([[1.0, 0.0]])
    b = np.array([[0.0, 1.0]])
    angles_x, angles_y = np.array([0.0, 0.3]), np.array([1.2, np.pi / 2])
    x = np.stack([np.cos(angles_x), np.sin(angles_x)], 1)
    y = np.stack([np.cos(angles_y), np.sin(angles_y)], 1)
    sx = np.cos(angles_x) - np.sin(angles_x)
    sy = np.cos(angles_y) - np.sin(angles_y)
    expected = (sx.mean() - sy.mean()) / np.std(np.concatenate([sx, sy]), ddof=1)
    assert point.weat_effect(x, y, a, b) == pytest.approx(expected)
    assert point.weat_effect(3 * x, y, a, b) == pytest.approx(expected)
    assert point.weat_effect(y, x, a, b) == pytest.approx(-expected)


def test_exact_permutation_p_counts_every_partition():
    s = np.arange(8.0)[::-1]  # the first half is the largest: the extreme partition
    p, partitions = point.exact_p(s, 4)
    assert partitions == math.comb(8, 4)
    assert p == pytest.approx(1 / math.comb(8, 4))
    # No association: every partition ties with the observed one.
    assert point.exact_p(np.zeros(8), 4)[0] == 1.0
    # Reversed targets: nearly every partition beats the observed one.
    assert point.exact_p(s[::-1], 4)[0] == 1.0


def test_permutation_p_value_separates_signal_from_noise():
    rng = np.random.default_rng(1)
    signal = np.concatenate([rng.normal(1, 0.3, 12), rng.normal(-1, 0.3, 12)])
    assert point.permutation_p(signal, 12, 500, np.random.default_rng(0)) < 0.01
    noise = rng.normal(size=24)
    assert point.permutation_p(noise, 12, 500, np.random.default_rng(0)) > 0.01


# ---------------------------------------------------------------- SEAT, word level


def blocks_with(gap: float, seed: int = 0, spread: float = 0.02):
    """Cosine blocks (career x male, career x female, family x male, family x
    female), career words closer to male names by `gap`."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0.3, spread, size=(4, 8, 8))
    base[0] += gap / 2
    base[1] -= gap / 2
    return tuple(base)


def test_seat_effect_is_caliskan_d_over_words():
    blocks = blocks_with(0.05)
    sx, sy = point.seat_word_associations(blocks)
    expected = (sx.mean() - sy.mean()) / np.concatenate([sx, sy]).std(ddof=1)
    assert point.seat_effect(blocks) == pytest.approx(expected)
    # Resampling every word once (in order) is the same statistic.
    same = np.arange(8)
    assert point.seat_effect(blocks, same, same, same, same) == pytest.approx(expected)
    # A batch of resamples gives one d each.
    batch = np.tile(same, (3, 1))
    assert np.allclose(point.seat_effect(blocks, batch, batch, batch, batch), expected)


def test_seat_interval_resamples_words_and_has_width():
    strong = point.seat_interval(blocks_with(0.05))
    assert strong.low < strong.value < strong.high
    assert strong.low > 0  # can fail: a gap of 2.5 sd between the sets
    none = point.seat_interval(blocks_with(0.0, seed=4))
    assert none.low < 0 < none.high  # can fail: no planted gap
    assert "resampling the words" in strong.method


def test_real_model_loads_offline_with_384_dimensions():
    model = point.load_minilm()
    vectors = model.encode(["This is a nurse.", "This is an engineer."])
    assert vectors.shape == (2, 384)
    assert np.isfinite(vectors).all()


# ---------------------------------------------------------------- the probe


@pytest.mark.parametrize("c", [0.1, 10.0, 100.0])
def test_probe_matches_scikit_learn_logistic_regression(c):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    for trial in range(6):
        rng = np.random.default_rng(trial)
        w = rng.normal(size=(48, 12 * (1 + trial % 3)))
        labels = rng.permutation(np.repeat([1, 0], 24))
        w[:, 0] += 0.5 * trial * (2 * labels - 1)
        reference = LogisticRegression(C=c, max_iter=10_000, tol=1e-10)
        folds = StratifiedKFold(5, shuffle=True, random_state=trial)
        expected = cross_val_score(reference, point.unit(w), labels, cv=folds)
        assert point.probe_accuracy(w, labels, c, 5, trial) == pytest.approx(
            100 * expected.mean()
        )
    x = point.unit(w)
    coef, intercept = point.logistic_fit(x, labels, np.ones((1, 48), bool), c)
    fitted = LogisticRegression(C=c, max_iter=10_000, tol=1e-12).fit(x, labels)
    assert np.allclose(coef[0], fitted.coef_[0], atol=1e-4)
    assert intercept[0] == pytest.approx(fitted.intercept_[0], abs=1e-4)


def test_probe_reads_gender_off_the_removed_direction_and_not_noise():
    rng = np.random.default_rng(0)
    labels = np.repeat([1, 0], 24)
    g = np.zeros(8)
    g[0] = 1.0
    # The label lives on axis 0 (removed by debias) and on axis 1 (left alone).
    w = rng.normal(size=(48, 8))
    w[:, 0] += 3 * (2 * labels - 1)
    w[:, 1] += 2 * (2 * labels - 1)
    debiased = w - np.outer(w @ g, g)
    assert point.probe_accuracy(debiased, labels, 10.0, 5, 0) > 90
    assert point.cluster_accuracy(debiased, labels, 0) > 80
    only_g = rng.normal(size=(48, 8))
    only_g[:, 0] += 3 * (2 * labels - 1)
    flat = only_g - np.outer(only_g @ g, g)
    assert point.probe_accuracy(flat, labels, 10.0, 5, 0) < 75  # near chance


# ---------------------------------------------------------------- verdict


def e(value: float, spread: float) -> Estimate:
    return Estimate(value, value - spread, value + spread, method="test", n=10)


def estimates(d: float, probe: float, svd_probe: float = 99.0) -> dict[str, Estimate]:
    return {
        "sgns_weat_abs_d_after": e(d, 0.05),
        "sgns_probe_after": e(probe, 3.0),
        "svd_weat_abs_d_after": e(0.0, 0.0),
        "svd_probe_after": e(svd_probe, 1.0),
    }


@pytest.mark.parametrize(
    ("d", "probe", "status"),
    [
        (0.0, 95.0, "holds"),  # the audit reads clean while the probe reads gender
        (0.0, 60.0, "refuted"),  # the debias removed it: the clean reading is right
        (1.2, 95.0, "refuted"),  # the audit flags the bias: not fooled
        (0.0, 80.0, "inconclusive"),  # the probe's CI straddles 80%
        (0.5, 95.0, "inconclusive"),  # the audit's CI straddles 0.5
    ],
)
def test_verdict_returns_each_status(d, probe, status):
    verdict = point.verdict(estimates(d, probe))
    assert verdict.status == status
    assert verdict.thresholds[point.KEY] == point.MIN_PROBE
    assert verdict.thresholds["sgns_weat_abs_d_after"] == point.MAX_CLEAN_D


def test_the_reason_gives_the_same_rule_on_ppmi_svd():
    assert point.verdict(estimates(0.0, 95.0)).reason.endswith("): holds")
    assert point.verdict(estimates(0.0, 95.0, 60.0)).reason.endswith("): refuted")


# ---------------------------------------------------------------- the run


def test_smoke_run_summary_and_assessment(smoke_runs):
    from essay_code.tooling.registry import load_point

    records = smoke_runs(load_point("auditing-bias"))[0]
    estimates = point.summarize(records)
    assert set(estimates) <= set(point.NAMES)
    # The standard audit is zero by construction after hard-debias, for both arms.
    for short in ("sgns", "svd"):
        assert estimates[f"{short}_weat_abs_d_after"].high < 1e-9
        assert estimates[f"{short}_direct_bias_after"].high < 1e-9
        assert estimates[f"{short}_weat_d_before"].value > 0.5  # planted bias found
    # SEAT has a real interval over words and an exact p.
    seat = estimates["seat_d"]
    assert seat.low < seat.high and seat.n == 32
    assert estimates["seat_partitions"].value == math.comb(16, 8)
    assert 0 < estimates["seat_p"].value <= 1

    assessment = point.assess(records, estimates)
    assert isinstance(assessment, core.Assessment)
    budgets = list(point.budgets_of(SMOKE))
    robustness = assessment.robustness
    assert robustness.axes == {
        "steps": budgets,
        "stereotype_rate": list(SMOKE.stereotype_rates),
        "dim": list(SMOKE.dims),
    }
    assert len(robustness.cells) == len(budgets) * 2 * 2
    assert robustness.status_at(robustness.headline) == point.verdict(estimates).status
    assert robustness.headline == {
        "steps": SMOKE.steps,
        "stereotype_rate": SMOKE.stereotype_rate,
        "dim": SMOKE.dim,
    }
    assert assessment.scale_axis == "steps"
    (convergence,) = assessment.convergence
    assert convergence.arm == point.SGNS
    assert convergence.budgets == tuple(float(b) for b in budgets)
    assert SMOKE.steps / 2 in convergence.budgets
    assert all(np.diff(convergence.curve) <= 0)  # early stopping never gets worse
    arms = {tuning.arm for tuning in assessment.tuning}
    assert arms == {point.SGNS, point.SVD, "probe on skip-gram", "probe on ppmi-svd"}
    for tuning in assessment.tuning:
        assert "test" not in tuning.selected_on.lower().split()
        for name, chosen in tuning.chosen.items():
            values = chosen if isinstance(chosen, list) else [chosen]
            assert set(values) <= set(tuning.grid[name])
    # The learning rate is the selection seeds' lowest held-out loss.
    selection = records[records["stage"] == point.SELECTION]
    losses = core.select(selection, metric="validation_loss").groupby("lr")["value"]
    assert estimates["chosen_lr"].value == losses.mean().idxmin()
    assert set(selection["seed"]) >= {point.SELECTION_OFFSET}
    assert not set(selection["seed"]) & set(range(SMOKE.seeds))
