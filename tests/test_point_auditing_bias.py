"""auditing-bias: the corpus's realised skew, hard-debias, the WEAT effect size on
hand-made vectors, the real model loading offline, and the verdict rule."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from essay_code.core import Estimate
from essay_code.points import auditing_bias as point

CFG = point.Config()


def test_corpus_realises_the_injected_skew():
    cfg = dataclasses.replace(CFG, sentences_per_occupation=400)
    corpus = point.make_corpus(cfg, np.random.default_rng(3))
    realised = corpus.male_count / corpus.total_count
    # Binomial sd is at most 0.025 at n = 400: 4 sd covers all 48 occupations.
    assert np.abs(realised - corpus.p_male).max() < 0.1
    assert np.corrcoef(realised, corpus.p_male)[0, 1] > 0.95
    skew = np.abs(corpus.p_male - 0.5)
    assert skew.min() >= cfg.min_skew and skew.max() <= cfg.max_skew
    # The pronouns in the sentences are what male_count counts.
    he = point.INDEX["he"]
    nurse = point.INDEX[point.OCCUPATIONS[0]]
    counted = sum(s[3] == he for s in corpus.sentences if s[1] == nurse)
    assert counted == corpus.male_count[0]


def test_hard_debias_zeroes_every_projection():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(point.VOCAB), 16))
    g = point.gender_direction(vectors)
    occupations = vectors[[point.INDEX[w] for w in point.OCCUPATIONS]]
    assert point.direct_bias(occupations, g) > 0.05  # can fail: random vectors
    debiased = point.hard_debias(occupations, g)
    assert np.abs(debiased @ g).max() < 1e-12
    assert np.allclose(np.linalg.norm(debiased, axis=1), 1.0)
    assert point.direct_bias(debiased, g) < 1e-12


def test_weat_effect_size_matches_hand_computation():
    a = np.array([[1.0, 0.0]])
    b = np.array([[0.0, 1.0]])
    # s(w) = cos(w, a) - cos(w, b) for unit w = (cos t, sin t).
    angles_x, angles_y = np.array([0.0, 0.3]), np.array([1.2, np.pi / 2])
    x = np.stack([np.cos(angles_x), np.sin(angles_x)], 1)
    y = np.stack([np.cos(angles_y), np.sin(angles_y)], 1)
    sx = np.cos(angles_x) - np.sin(angles_x)
    sy = np.cos(angles_y) - np.sin(angles_y)
    expected = (sx.mean() - sy.mean()) / np.std(np.concatenate([sx, sy]), ddof=1)
    assert point.weat_effect(x, y, a, b) == pytest.approx(expected)
    # Scaling vectors does not change cosines; swapping targets flips the sign.
    assert point.weat_effect(3 * x, y, a, b) == pytest.approx(expected)
    assert point.weat_effect(y, x, a, b) == pytest.approx(-expected)


def test_permutation_p_value_separates_signal_from_noise():
    rng = np.random.default_rng(1)
    a, b = np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]])
    x = rng.normal(size=(12, 3)) + [2, 0, 0]
    y = rng.normal(size=(12, 3)) + [0, 2, 0]
    assert point.weat_p_value(x, y, a, b, 500, np.random.default_rng(0)) < 0.01
    same = rng.normal(size=(24, 3))
    p = point.weat_p_value(same[:12], same[12:], a, b, 500, np.random.default_rng(0))
    assert p > 0.01


def test_real_model_loads_offline_with_384_dimensions():
    model = point.load_minilm()
    vectors = model.encode(["This is a nurse.", "This is an engineer."])
    assert vectors.shape == (2, 384)
    assert np.isfinite(vectors).all()


def estimates(bias: float, probe: float, d: float, p: float) -> dict[str, Estimate]:
    def e(value: float, spread: float) -> Estimate:
        return Estimate(value, value - spread, value + spread, method="test", n=5)

    return {
        "sgns_direct_bias_after": e(bias, 0.005),
        "sgns_probe_after": e(probe, 3.0),
        "seat_abs_d": e(d, 0.05),
        "seat_p": e(p, 0.005),
    }


def test_verdict_returns_each_status():
    assert point.verdict(estimates(0.0, 95.0, 0.1, 0.5)).status == "holds"
    assert point.verdict(estimates(0.3, 50.0, 1.2, 0.001)).status == "holds"
    assert point.verdict(estimates(0.3, 50.0, 0.1, 0.5)).status == "refuted"
    assert point.verdict(estimates(0.0, 80.0, 0.1, 0.5)).status == "inconclusive"
    assert point.verdict(estimates(0.3, 50.0, 0.5, 0.001)).status == "inconclusive"
    thresholds = point.verdict(estimates(0.0, 95.0, 0.1, 0.5)).thresholds
    assert thresholds[point.KEY] == point.MIN_PROBE
    assert thresholds["sgns_direct_bias_after"] == point.MAX_DIRECT_BIAS
