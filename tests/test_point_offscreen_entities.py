"""Properties of the offscreen-entities experiment: the world, the physics arm, the
GRU batching, the out-of-range conditions and the verdict rule."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
import torch

from essay_code.core import Estimate
from essay_code.points import offscreen_entities as oe

CFG = oe.Config()


def clips(n=200, distance=(8.0, 120.0), occlusion=(1, 18), cfg=CFG, seed=0):
    return oe.make_clips(
        n, distance, occlusion, cfg, torch.Generator().manual_seed(seed)
    )


def test_physics_recovers_the_thrower_exactly_without_noise():
    noiseless = replace(CFG, noise_px=0.0)
    batch = clips(cfg=noiseless)
    distance, path = oe.physics_predict(batch, noiseless)
    assert torch.allclose(distance, batch.distance, atol=1e-9)
    assert torch.allclose(path, batch.truth, atol=1e-9)


def test_physics_is_not_exact_with_noise():
    # The noise is real: it must cost the fit something.
    distance, _ = oe.physics_predict(clips(), CFG)
    assert (distance - clips().distance).abs().mean() > 0.01


@pytest.mark.parametrize("length", [1, 6, 12, 18])
def test_occluder_hides_exactly_l_consecutive_frames_in_its_band(length):
    batch = clips(distance=(8.0, 40.0), occlusion=(length,))
    hidden = ~batch.visible
    assert (hidden.sum(1) == length).all()
    # Consecutive: the hidden frames form one run, never at the clip's edges.
    first = hidden.int().argmax(1)
    frames = torch.arange(CFG.clip_frames)
    run = (frames >= first[:, None]) & (frames < first[:, None] + length)
    assert torch.equal(hidden, run)
    assert (first >= CFG.margin_frames).all()
    assert (first + length <= CFG.clip_frames - CFG.margin_frames).all()
    # A frame is hidden exactly when the true ball is inside the band.
    x = batch.truth[..., 0]
    in_band = (x >= batch.band[:, :1]) & (x < batch.band[:, 1:])
    assert torch.equal(hidden, in_band)
    # Hidden observations carry no information.
    assert (batch.observed[hidden] == 0).all()


def test_the_thrower_is_off_screen_and_the_ball_in_view():
    batch = clips()
    assert (batch.distance > 0).all()
    assert (batch.truth[:, 0, 0] >= 0).all()
    assert (batch.truth[:, 0, 0] < CFG.speed_x[-1]).all()  # entry frame
    assert (batch.truth[..., 1] > 0).all()  # still in the air at the end


def test_out_of_range_conditions_are_outside_training():
    inside_d = [
        d for d in CFG.test_distances if oe.in_training_range("distance", d, CFG)
    ]
    outside_d = [d for d in CFG.test_distances if d not in inside_d]
    assert inside_d and outside_d
    assert min(outside_d) >= oe.OUT_OF_RANGE_FACTOR * CFG.train_distance[-1]
    inside_o = [o for o in CFG.test_occlusions if o <= CFG.train_occlusion[-1]]
    outside_o = [o for o in CFG.test_occlusions if o not in inside_o]
    assert min(outside_o) >= oe.OUT_OF_RANGE_FACTOR * CFG.train_occlusion[-1]
    # And the training clips never reach them.
    train = clips(
        n=4000, distance=CFG.train_distance, occlusion=CFG.train_occlusion, seed=3
    )
    assert train.distance.max() <= CFG.train_distance[-1]
    assert (~train.visible).sum(1).max() <= CFG.train_occlusion[-1]
    for profile in oe.PROFILES.values():
        cfg = replace(CFG, **profile)
        assert max(cfg.test_distances) >= 2 * cfg.train_distance[-1]
        assert max(cfg.test_occlusions) >= 2 * cfg.train_occlusion[-1]


def test_gru_stack_equals_one_seed_alone():
    params = oe.init_params([0, 1, 2], 4, 8, 5, "cpu")
    alone = oe.init_params([1], 4, 8, 5, "cpu")
    for name in params:
        assert torch.equal(params[name][1], alone[name][0])
    inputs = torch.randn(3, 7, 10, 4)
    stacked = oe.gru_forward(params, inputs)
    single = oe.gru_forward(alone, inputs[1:2])
    assert torch.allclose(stacked[1], single[0], atol=1e-6)


def test_targets_decode_back_to_the_truth():
    batch = clips(n=20)
    distance, path = oe.decode(oe.network_targets(batch, CFG), CFG)
    assert torch.allclose(distance, batch.distance, atol=1e-3)
    assert torch.allclose(path, batch.truth, atol=1e-3)


def test_out_of_range_level_is_the_smallest_at_twice_training():
    rows = pd.DataFrame(
        {
            "sweep": ["distance"] * 4,
            "level": [10.0, 40.0, 80.0, 120.0],
            "in_range": [True, True, False, False],
        }
    )
    assert oe.out_of_range_level(rows, "distance") == 80.0


def estimate(value, low=None, high=None):
    low = value if low is None else low
    high = value if high is None else high
    return Estimate(value, low, high, method="test", n=5)


def estimates(
    gru_in=0.5, phys_in=0.2, gru_far=20.0, phys_far=0.3, ratio_far=60.0, occl=None
):
    """Both tasks get the same numbers unless occl overrides task B's far ones."""
    gru_occl, phys_occl, ratio_occl = occl or (gru_far, phys_far, ratio_far)
    return {
        "gru_thrower_error_in_range": estimate(gru_in),
        "physics_thrower_error_in_range": estimate(phys_in),
        "gru_occluded_error_in_range": estimate(gru_in),
        "physics_occluded_error_in_range": estimate(phys_in),
        "gru_thrower_error_2x_distance": estimate(gru_far),
        "physics_thrower_error_2x_distance": estimate(phys_far),
        "gru_over_physics_thrower_2x_distance": estimate(ratio_far),
        "gru_occluded_error_2x_occlusion": estimate(gru_occl),
        "physics_occluded_error_2x_occlusion": estimate(phys_occl),
        "gru_over_physics_occluded_2x_occlusion": estimate(ratio_occl),
    }


def test_verdict_holds():
    assert oe.verdict(estimates()).status == "holds"


def test_verdict_names_the_threshold_of_every_estimate_it_tests():
    result = oe.verdict(estimates())
    assert result.thresholds[oe.KEY] == oe.DL_FAIL_PX
    assert set(result.thresholds) == set(estimates())
    assert result.thresholds["physics_thrower_error_in_range"] == oe.ACCURATE_PX


def test_verdict_holds_on_one_sweep_alone():
    found = estimates(gru_far=0.4, phys_far=0.3, ratio_far=1.3)
    assert oe.verdict(found).status == "refuted"
    found = estimates(gru_far=0.4, phys_far=0.3, ratio_far=1.3, occl=(5.0, 0.3, 16.0))
    assert oe.verdict(found).status == "holds"


def test_verdict_refuted():
    assert oe.verdict(estimates(gru_far=0.35, ratio_far=1.2)).status == "refuted"


def test_verdict_inconclusive_when_in_range_is_inaccurate():
    assert oe.verdict(estimates(gru_in=1.4)).status == "inconclusive"


def test_verdict_inconclusive_when_a_ci_straddles():
    found = estimates()
    found["gru_thrower_error_in_range"] = estimate(0.9, 0.7, 1.1)
    assert oe.verdict(found).status == "inconclusive"


def test_verdict_inconclusive_between_the_thresholds():
    # The GRU is 2x physics and under 3 px: neither failure nor within 1.5x.
    found = estimates(gru_far=0.6, ratio_far=2.0)
    assert oe.verdict(found).status == "inconclusive"
