"""Properties of the offscreen-entities experiment: the world, the physics arm, the
hybrid's solve, the network's causality and batching, the stacked optimiser and
successive halving, the out-of-range conditions, the verdict rule and the
assessment."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
import torch

from essay_code import core
from essay_code.core import Estimate
from essay_code.points import offscreen_entities as oe

CFG = oe.Config()


def clips(n=200, distance=(8.0, 120.0), occlusion=(1, 18), cfg=CFG, seed=0):
    return oe.make_clips(
        n, distance, occlusion, cfg, torch.Generator().manual_seed(seed)
    )


# ---------------------------------------------------------------- world, physics


def test_physics_recovers_the_thrower_exactly_without_noise():
    noiseless = replace(CFG, noise_px=0.0)
    batch = clips(cfg=noiseless)
    distance, path, launch = oe.physics_predict(batch, noiseless)
    assert torch.allclose(distance, batch.distance, atol=1e-9)
    assert torch.allclose(path, batch.truth, atol=1e-9)
    assert torch.allclose(launch, batch.launch, atol=1e-9)


def test_physics_is_not_exact_with_noise():
    # The noise is real: it must cost the fit something.
    batch = clips()
    distance, _, _ = oe.physics_predict(batch, CFG)
    assert (distance - batch.distance).abs().mean() > 0.01


def test_the_launch_state_generates_the_clip():
    batch = clips(n=50)
    assert torch.allclose(oe.arc(batch.launch, batch.times, CFG.gravity), batch.truth)


def test_back_solve_is_exact_on_noise_free_states_from_any_frame():
    # The hybrid's solve: from the true state at any frame, the thrower exactly.
    batch = clips()
    for frame in (0, 17, CFG.clip_frames - 1):
        x, y = batch.truth[:, frame].unbind(1)
        vx = batch.launch[:, 2]
        vy = batch.launch[:, 3] - CFG.gravity * frame
        state = torch.stack([x, y, vx, vy], 1)
        assert torch.allclose(oe.back_solve(state, CFG), batch.distance, atol=1e-9)


def test_hybrid_is_exact_when_the_network_outputs_the_true_launch_state():
    batch = clips()
    truth = {"launch": batch.launch, "distance": batch.distance, "path": batch.truth}
    found = oe.learned_scores(truth, truth, batch, CFG)
    assert found[oe.HYBRID]["thrower_error"] < 1e-9
    assert found[oe.HYBRID]["occluded_error"] < 1e-9
    assert found[oe.HYBRID]["launch_error"] < 1e-9
    # ... and a launch state 0.1 px/frame too slow horizontally misplaces it.
    slow = {**truth, "launch": batch.launch - torch.tensor([0.0, 0.0, 0.1, 0.0])}
    assert oe.learned_scores(slow, slow, batch, CFG)[oe.HYBRID]["thrower_error"] > 0.5


def test_physics_task_b_is_causal():
    # Changing every observation from the occluder's onset on leaves task B alone
    # (and moves task A, which reads the whole clip).
    batch = clips()
    later = batch.times >= batch.onset[:, None]
    moved = replace(batch, observed=batch.observed + 5.0 * later[..., None])
    distance, path, _ = oe.physics_predict(batch, CFG)
    moved_distance, moved_path, _ = oe.physics_predict(moved, CFG)
    assert torch.allclose(path, moved_path)
    assert not torch.allclose(distance, moved_distance)


@pytest.mark.parametrize("length", [1, 6, 12, 18])
def test_occluder_hides_exactly_l_consecutive_frames_in_its_band(length):
    batch = clips(distance=(8.0, 40.0), occlusion=(length,))
    hidden = ~batch.visible
    assert (hidden.sum(1) == length).all()
    # Consecutive: the hidden frames form one run from the onset, never at the
    # clip's edges.
    frames = torch.arange(CFG.clip_frames)
    run = (frames >= batch.onset[:, None]) & (frames < batch.onset[:, None] + length)
    assert torch.equal(hidden, run)
    assert (batch.onset >= CFG.margin_frames).all()
    assert (batch.onset + length <= CFG.clip_frames - CFG.margin_frames).all()
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
    for profile in [{}, *oe.PROFILES.values()]:
        cfg = replace(CFG, **profile)
        for sweep, level, _d, _o in oe.conditions(cfg):
            columns = oe.test_columns(sweep, level, cfg)
            assert columns["in_range"] == (columns["factor"] <= 1)
        # Every profile tests 2x, the headline, on both sweeps.
        assert 2 * cfg.train_distance[-1] in cfg.test_distances
        assert 2 * cfg.train_occlusion[-1] in cfg.test_occlusions
    # The default tests 1.5x, 2x and 3x on both sweeps (the robustness map's axis).
    rows = pd.DataFrame(
        [
            {"arm": oe.PHYSICS, **oe.test_columns(s, lv, CFG)}
            for s, lv, _d, _o in oe.conditions(CFG)
        ]
    )
    assert oe.out_of_range_factors(rows) == [1.5, 2.0, 3.0]
    # And the training clips never reach them.
    train = clips(
        n=4000, distance=CFG.train_distance, occlusion=CFG.train_occlusion, seed=3
    )
    assert train.distance.max() <= CFG.train_distance[-1]
    assert (~train.visible).sum(1).max() <= CFG.train_occlusion[-1]


# ---------------------------------------------------------------- the network


def test_stack_equals_one_seed_alone_and_a_seeds_models_share_their_start():
    params = oe.init_params([0, 1, 1, 2], 8, 8, 5, "cpu")
    alone = oe.init_params([1], 8, 8, 5, "cpu")
    for name in params:
        assert torch.equal(params[name][1], alone[name][0])
        assert torch.equal(params[name][1], params[name][2])
        assert not torch.equal(params[name][0], params[name][1])
    inputs = torch.randn(4, 7, 10, 4)
    onset = torch.randint(1, 10, (4, 7))
    final, at_onset = oe.gru_forward(params, inputs, onset)
    final_1, at_onset_1 = oe.gru_forward(alone, inputs[1:2], onset[1:2])
    assert torch.allclose(final[1], final_1[0], atol=1e-6)
    assert torch.allclose(at_onset[1], at_onset_1[0], atol=1e-6)


def test_the_network_reads_task_b_from_before_the_occluder():
    cfg = replace(CFG, hidden=8)
    batch = clips(n=30, cfg=cfg)
    params = oe.init_params(
        [0], 4 * oe.FRAMES_PER_STEP, 8, 5 + 2 * cfg.clip_frames, "cpu"
    )
    inputs = oe.network_inputs(batch, cfg)[None]
    # Every frame after the first hidden one changed: all later hidden frames and
    # every frame after the occluder (the first hidden frame itself may share the
    # network's step with the last visible one, but it reads as zeros anyway).
    later = (batch.times > batch.onset[:, None])[None, ..., None]
    moved = inputs + 3.0 * later
    onset = batch.onset[None]
    final, at_onset = oe.gru_forward(params, inputs, onset)
    moved_final, moved_at_onset = oe.gru_forward(params, moved, onset)
    assert torch.allclose(at_onset, moved_at_onset)  # task B: causal
    assert not torch.allclose(final, moved_final)  # task A reads the whole clip


def test_targets_decode_back_to_the_truth():
    batch = clips(n=20)
    target = oe.network_targets(batch, CFG)
    raw = torch.cat(
        [target["distance"][:, None], target["launch"], target["path"].flatten(1)], 1
    )
    out = oe.decode(raw, CFG)
    assert torch.allclose(out["distance"], batch.distance, atol=1e-3)
    assert torch.allclose(out["launch"], batch.launch, atol=1e-3)
    assert torch.allclose(out["path"], batch.truth, atol=1e-3)
    # Task B trains on the frames up to the occluder's end, no further.
    end = batch.onset + batch.occlusion
    assert torch.equal(target["horizon"].sum(1).long(), end)


def test_stacked_adam_equals_torch_adam_per_model():
    torch.manual_seed(0)
    start = torch.randn(2, 3, 4)
    lrs = torch.tensor([1e-2, 3e-2])
    params = {"w": start.clone()}
    moments = {"w": (torch.zeros_like(start), torch.zeros_like(start))}
    singles = [start[m].clone().requires_grad_() for m in range(2)]
    optimisers = [
        torch.optim.Adam([p], lr=float(lr)) for p, lr in zip(singles, lrs, strict=True)
    ]
    for count in range(1, 6):
        grads = torch.randn(2, 3, 4)
        oe.adam_step(params, [grads], moments, lrs, count)
        for m, (param, optimiser) in enumerate(zip(singles, optimisers, strict=True)):
            param.grad = grads[m].clone()
            optimiser.step()
    for m in range(2):
        assert torch.allclose(params["w"][m], singles[m].detach(), atol=1e-6)


def test_learning_rate_restarts_at_each_checkpoint():
    cfg = replace(CFG, steps=400)
    assert oe.budgets(cfg) == (100, 200, 400)
    for start, end in [(0, 100), (100, 200), (200, 400)]:
        assert oe.lr_factor(start, cfg) == 1.0
        assert oe.lr_factor(end - 1, cfg) < 0.01
    with pytest.raises(ValueError):
        oe.budgets(replace(CFG, steps=401))


def test_successive_halving_keeps_one_model_per_seed():
    cfg = replace(CFG, seeds=2, lrs=(1e-3, 1e-2, 3e-2), steps=8, batch_size=4, hidden=4)
    train = [
        clips(n=16, distance=cfg.train_distance, occlusion=(1, 6), seed=s)
        for s in range(2)
    ]
    calls = []

    def checkpoint(budget, params, model_lrs):
        calls.append((budget, params["w_out"].shape[0], list(model_lrs)))
        return [2, 4] if len(model_lrs) == 6 else [0, 1]

    oe.train(train, cfg, core.RunContext(show_progress=False), checkpoint)
    lrs = list(cfg.lrs)
    assert calls[0] == (2, 6, lrs * 2)
    # Seed 0 keeps its third rate, seed 1 its second; only they train on.
    assert calls[1] == (4, 2, [3e-2, 1e-2])
    assert calls[2] == (8, 2, [3e-2, 1e-2])


# ---------------------------------------------------------------- the rule


def estimate(value, low=None, high=None):
    low = value if low is None else low
    high = value if high is None else high
    return Estimate(value, low, high, method="test", n=10)


def estimates(
    gru_in=0.5,
    phys_in=0.2,
    gru_far=20.0,
    phys_far=0.3,
    ratio_far=60.0,
    occl=None,
    hybrid_in=0.5,
    hybrid_far=0.6,
):
    """Both tasks get the same numbers unless occl overrides task B's far ones."""
    gru_occl, phys_occl, ratio_occl = occl or (gru_far, phys_far, ratio_far)
    found = {
        "gru_thrower_error_2x_distance": estimate(gru_far),
        "physics_thrower_error_2x_distance": estimate(phys_far),
        "gru_over_physics_thrower_2x_distance": estimate(ratio_far),
        "gru_occluded_error_2x_occlusion": estimate(gru_occl),
        "physics_occluded_error_2x_occlusion": estimate(phys_occl),
        "gru_over_physics_occluded_2x_occlusion": estimate(ratio_occl),
        "hybrid_thrower_error_2x_distance": estimate(hybrid_far),
        "hybrid_occluded_error_2x_occlusion": estimate(hybrid_far),
    }
    for task in oe.TASKS:
        found[f"gru_{task}_error_in_range"] = estimate(gru_in)
        found[f"physics_{task}_error_in_range"] = estimate(phys_in)
        found[f"hybrid_{task}_error_in_range"] = estimate(hybrid_in)
    return found


def test_verdict_mitigated_when_the_hybrid_is_accurate_everywhere():
    assert oe.verdict(estimates()).status == "mitigated"


def test_verdict_holds_when_the_hybrid_also_misses():
    assert oe.verdict(estimates(hybrid_far=15.0)).status == "holds"
    assert oe.verdict(estimates(hybrid_in=1.5)).status == "holds"
    straddles = estimates()
    straddles["hybrid_thrower_error_2x_distance"] = estimate(0.9, 0.6, 1.2)
    assert oe.verdict(straddles).status == "inconclusive"


def test_verdict_names_the_threshold_of_every_estimate_it_tests():
    result = oe.verdict(estimates())
    assert result.thresholds[oe.KEY] == oe.DL_FAIL_PX
    assert set(result.thresholds) == set(estimates())
    assert result.thresholds["hybrid_thrower_error_2x_distance"] == oe.ACCURATE_PX


def test_verdict_fails_on_one_sweep_alone():
    found = estimates(gru_far=0.4, phys_far=0.3, ratio_far=1.3)
    assert oe.verdict(found).status == "refuted"
    found = estimates(gru_far=0.4, phys_far=0.3, ratio_far=1.3, occl=(5.0, 0.3, 16.0))
    assert oe.verdict(found).status == "mitigated"


def test_verdict_refuted():
    assert oe.verdict(estimates(gru_far=0.35, ratio_far=1.2)).status == "refuted"


def test_verdict_inconclusive_when_in_range_is_inaccurate():
    assert oe.verdict(estimates(gru_in=1.4)).status == "inconclusive"
    found = estimates()
    found["gru_thrower_error_in_range"] = estimate(0.9, 0.7, 1.1)
    assert oe.verdict(found).status == "inconclusive"


def test_verdict_inconclusive_between_the_thresholds():
    # The GRU is 2x physics and under 3 px: neither failure nor within 1.5x.
    assert oe.verdict(estimates(gru_far=0.6, ratio_far=2.0)).status == "inconclusive"


# ---------------------------------------------------------------- records, assessment


def hand_records():
    """Two seeds, two budgets, one far factor: the estimates and choices by hand."""
    rows = []
    for seed in (0, 1):
        for budget, lr in ((10, 0.1), (20, 0.1)):
            for sweep, level, factor, inside in (
                ("distance", 40.0, 1.0, True),
                ("distance", 80.0, 2.0, False),
                ("occlusion", 6.0, 1.0, True),
                ("occlusion", 12.0, 2.0, False),
            ):
                for arm in oe.LEARNED:
                    for metric in ("thrower_error", "occluded_error", "launch_error"):
                        value = factor * (1 + seed) * budget / 10
                        rows.append(
                            dict(
                                seed=seed,
                                arm=arm,
                                sweep=sweep,
                                level=level,
                                factor=factor,
                                in_range=inside,
                                budget=budget,
                                lr=lr,
                                metric=metric,
                                value=value,
                            )
                        )
        for sweep, level, factor, inside in (
            ("distance", 40.0, 1.0, True),
            ("distance", 80.0, 2.0, False),
            ("occlusion", 6.0, 1.0, True),
            ("occlusion", 12.0, 2.0, False),
        ):
            for metric in ("thrower_error", "occluded_error", "launch_error"):
                rows.append(
                    dict(
                        seed=seed,
                        arm=oe.PHYSICS,
                        sweep=sweep,
                        level=level,
                        factor=factor,
                        in_range=inside,
                        metric=metric,
                        value=0.5,
                    )
                )
        for budget in (10, 20):
            for lr, loss in ((0.01, 2.0), (0.1, 1.0)):
                rows.append(
                    dict(
                        seed=seed,
                        arm=oe.GRU,
                        sweep="validation",
                        in_range=True,
                        budget=budget,
                        lr=lr,
                        metric="validation_loss",
                        value=loss,
                    )
                )
    return pd.DataFrame(rows)


def test_estimates_read_the_right_budget_and_factor():
    records = hand_records()
    at_20 = oe.estimates_at(records, 20, 2.0)
    # seeds 0, 1 at 20 steps and 2x: 2 * (1 + seed) * 2 = 4 and 8.
    assert at_20["gru_thrower_error_2x_distance"].value == pytest.approx(6.0)
    assert at_20["gru_thrower_error_in_range"].value == pytest.approx(3.0)
    assert oe.estimates_at(records, 10, 2.0)[
        "gru_thrower_error_2x_distance"
    ].value == pytest.approx(3.0)
    assert at_20["gru_over_physics_thrower_2x_distance"].value == pytest.approx(12.0)
    assert at_20["hybrid_over_gru_thrower_2x_distance"].value == pytest.approx(1.0)
    assert oe.step_budgets(records) == [10, 20]
    assert oe.out_of_range_factors(records) == [2.0]
    with pytest.raises(ValueError):
        oe.estimates_at(records, 20, 3.0)


def test_chosen_learning_rates_are_the_validation_minimum_and_checked():
    records = hand_records()
    assert (oe.chosen_lrs(records) == 0.1).all().all()
    forged = records.copy()
    tested = forged["sweep"] != "validation"
    forged.loc[tested & (forged["arm"] != oe.PHYSICS), "lr"] = 0.01
    with pytest.raises(ValueError, match="validation"):
        oe.assess(forged, oe.summarize(forged))


def test_smoke_run_summarize_and_assess():
    cfg = replace(CFG, **oe.PROFILES["smoke"])
    records = oe.run(cfg, core.RunContext(show_progress=False, record_timings=False))
    estimates = oe.summarize(records)
    assert oe.KEY in estimates
    assert set(estimates) <= set(oe.NAMES)  # every estimate has a readable name
    assessment = oe.assess(records, estimates)
    assert isinstance(assessment, core.Assessment)
    steps = list(oe.budgets(cfg))
    assert assessment.scale_axis == oe.BUDGET_AXIS
    assert assessment.robustness.axes[oe.BUDGET_AXIS] == steps
    headline = assessment.robustness.status_at(assessment.robustness.headline)
    assert headline == oe.verdict(estimates).status
    assert {(c.arm, c.budgets) for c in assessment.convergence} == {
        (arm, tuple(float(b) for b in steps)) for arm in oe.LEARNED
    }
    assert len(assessment.convergence) == 4
    assert {t.arm for t in assessment.tuning} == set(oe.ARMS)
    gru = next(t for t in assessment.tuning if t.arm == oe.GRU)
    assert list(gru.grid["lr"]) == list(cfg.lrs)
    assert len(gru.chosen["lr"]) == cfg.seeds
    # The first checkpoint scores every rate; later ones only the chosen.
    validation = core.select(records, sweep="validation", metric="validation_loss")
    per_budget = validation.groupby("budget").size()
    assert list(per_budget) == [cfg.seeds * len(cfg.lrs), cfg.seeds, cfg.seeds]
