"""Properties of the input-jitter experiment: the perturbations are what they claim,
the gray HOG is blind to channel order and the colour HOG is not, FGSM on a linear
model does what Goodfellow et al. derive, the choices are made on validation data,
the verdict rule, and a smoke run's records and assessment."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import torch

from essay_code.core.stats import Estimate
from essay_code.points import input_jitter as ij
from essay_code.tooling.device import cpu_threads
from essay_code.tooling.registry import load_point
from essay_code.tooling.runner import RunContext, execute, resolve_config


def colourful(count: int = 4, size: int = 8) -> torch.Tensor:
    """Random RGB images [count, 3, size, size] with distinct channel values."""
    return torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(1))


def test_swaps_are_the_five_non_identity_permutations():
    assert len(ij.SWAPS) == 5
    assert (0, 1, 2) not in ij.SWAPS
    assert set(ij.SWAPS) | {(0, 1, 2)} == set(itertools.permutations(range(3)))


@pytest.mark.parametrize("perm", ij.SWAPS, ids=ij.permutation_name)
def test_channel_permutation_keeps_each_pixels_values(perm):
    images = colourful()
    permuted = ij.permute_channels(images, perm)
    # Same multiset of values at every pixel, but not the same image.
    assert torch.equal(permuted.sort(dim=1).values, images.sort(dim=1).values)
    assert not torch.equal(permuted, images)
    for out_channel, in_channel in enumerate(perm):
        assert torch.equal(permuted[:, out_channel], images[:, in_channel])


@pytest.mark.parametrize("degrees", [0.0, 360.0])
def test_hue_rotation_by_zero_or_a_full_turn_returns_the_image(degrees):
    images = colourful()
    assert torch.allclose(ij.rotate_hue(images, degrees), images, atol=1e-5)


def test_hue_rotation_by_120_degrees_is_a_cyclic_channel_permutation():
    images = colourful()
    # Hue +120 degrees: red -> green -> blue, so output G takes input R, etc.
    expected = ij.permute_channels(images, (2, 0, 1))
    assert torch.allclose(ij.rotate_hue(images, 120.0), expected, atol=1e-5)


def test_hue_rotation_by_180_degrees_turns_red_into_cyan_and_keeps_gray():
    image = torch.zeros(1, 3, 1, 2)
    image[0, :, 0, 0] = torch.tensor([0.8, 0.0, 0.0])  # red
    image[0, :, 0, 1] = 0.4  # gray: no hue to rotate
    rotated = ij.rotate_hue(image, 180.0)
    assert torch.allclose(rotated[0, :, 0, 0], torch.tensor([0.0, 0.8, 0.8]))
    assert torch.allclose(rotated[0, :, 0, 1], image[0, :, 0, 1])


def test_per_image_hue_angles_match_one_angle_at_a_time():
    images = colourful(count=3)
    angles = torch.tensor([0.0, 90.0, 180.0])
    batched = ij.rotate_hue(images, angles)
    for index, angle in enumerate(angles.tolist()):
        single = ij.rotate_hue(images[index : index + 1], angle)
        assert torch.allclose(batched[index : index + 1], single, atol=1e-6)


@pytest.mark.parametrize(
    "direction, dy, dx", [(0, 0, 2), (1, 0, -2), (2, 2, 0), (3, -2, 0)]
)
def test_shifts_are_non_cyclic_zeros_enter(direction, dy, dx):
    images = colourful(count=1) + 0.1  # no zero pixels before the shift
    shifted = ij.shift_images(images, 2, torch.tensor([direction]))
    size = images.shape[-1]
    for row, col in itertools.product(range(size), repeat=2):
        source_row, source_col = row - dy, col - dx
        inside = 0 <= source_row < size and 0 <= source_col < size
        expected = images[0, :, source_row, source_col] if inside else 0.0
        assert torch.equal(shifted[0, :, row, col], torch.as_tensor(expected).expand(3))
    # Exactly two rows or columns of zeros entered; nothing wrapped around.
    assert int((shifted == 0).all(dim=1).sum()) == 2 * size


def test_hog_features_are_exactly_blind_to_channel_order():
    images = colourful(count=6, size=12)
    features = ij.hog_features(images, cell=6, bins=9)
    for perm in ij.SWAPS:
        permuted = ij.hog_features(ij.permute_channels(images, perm), cell=6, bins=9)
        assert torch.equal(permuted, features)


def test_hog_features_ignore_contrast_and_its_sign():
    images = torch.zeros(1, 3, 12, 12)
    images[0, :, 3:9, 4:8] = 0.5  # a gray rectangle on black
    features = ij.hog_features(images, cell=6, bins=9)
    brighter = ij.hog_features(images * 1.8, cell=6, bins=9)
    inverted = ij.hog_features(0.5 - images, cell=6, bins=9)
    assert torch.allclose(brighter, features, atol=1e-5)
    assert torch.allclose(inverted, features, atol=1e-5)


def test_dataset_hue_band_balance_and_margin():
    # Without pixel noise, every object pixel shows its drawn colour exactly.
    cfg = ij.Config(n_train=200, n_val=40, n_test=60, noise_std=0.0)
    images, labels = ij.make_dataset(cfg, seed=3)
    assert images.shape == (300, 3, cfg.image_size, cfg.image_size)
    assert torch.bincount(labels).tolist() == [100, 100, 100]
    assert images.min() >= 0.0 and images.max() <= 1.0
    # Object pixels have hues inside the band, for every class alike.
    hsv = ij.rgb_to_hsv(images)
    bright = hsv[:, 2] > 0.5
    for label in range(3):
        hues = hsv[labels == label, 0][bright[labels == label]] * 360.0
        assert hues.numel() > 0
        assert hues.min() >= cfg.hue_low - 0.01 and hues.max() <= cfg.hue_high + 0.01
    # No object comes within max(shifts) pixels of the border, so no shift of the
    # sweep cuts it.
    border = max(cfg.shifts)
    frame = torch.ones(cfg.image_size, cfg.image_size, dtype=torch.bool)
    frame[border:-border, border:-border] = False
    assert not bright[:, frame].any()


def test_shapes_have_equal_area():
    labels = np.array([0, 1, 2])
    radius = np.full(3, 40.0)
    centre = np.full((3, 2), 99.5)
    masks = ij.draw_masks(labels, radius, centre, size=200)
    areas = masks.reshape(3, -1).sum(axis=1)
    assert np.allclose(areas, np.pi * 40.0**2, rtol=0.03)


def test_channel_mean_is_the_mean_and_exactly_blind_to_channel_order():
    images = colourful(count=5, size=6)
    mean = ij.channel_mean(images)
    assert torch.allclose(mean, images.mean(dim=1), atol=1e-6)
    for perm in ij.SWAPS:
        assert torch.equal(ij.channel_mean(ij.permute_channels(images, perm)), mean)


def dense_votes(plane: torch.Tensor, cell: int, bins: int) -> torch.Tensor:
    """Reference: every bin's triangular weight computed densely for every pixel
    (the formula the scatter in orientation_votes must reproduce): [N, H, W] ->
    [N, bins * cells * cells]."""
    padded = torch.nn.functional.pad(plane[:, None], (1, 1, 1, 1), mode="replicate")
    grad_x = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) / 2.0
    grad_y = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) / 2.0
    magnitude = torch.sqrt(grad_x**2 + grad_y**2 + 1e-12)
    angle = torch.remainder(torch.atan2(grad_y, grad_x), torch.pi)
    position = angle / (torch.pi / bins) - 0.5
    centres = torch.arange(bins, dtype=plane.dtype).view(1, -1, 1, 1)
    distance = torch.remainder(position - centres + bins / 2, bins)
    weight = torch.relu(1.0 - torch.abs(distance - bins / 2))
    pooled = torch.nn.functional.avg_pool2d(weight * magnitude, cell) * cell**2
    return pooled.flatten(1)


def test_orientation_votes_match_the_dense_triangular_binning():
    images = colourful(count=3, size=12).double()
    votes = ij.orientation_votes(images, cell=6, bins=9)  # [3, 3 planes, F]
    for plane in range(3):
        expected = dense_votes(images[:, plane], 6, 9)
        assert torch.allclose(votes[:, plane], expected, atol=1e-9)


def test_colour_hog_reads_colour_and_a_swap_reorders_its_channel_blocks():
    images = colourful(count=4, size=12)
    features = ij.colour_hog_features(images, cell=6, bins=9)
    blocks = features.view(4, 3, -1)
    for perm in ij.SWAPS:
        swapped = ij.colour_hog_features(ij.permute_channels(images, perm), 6, 9)
        assert not torch.allclose(swapped, features)  # it sees the swap ...
        # ... as the same histograms in another channel order
        assert torch.allclose(swapped.view(4, 3, -1), blocks[:, list(perm)], atol=1e-6)


def test_split_normalisation_blows_an_edgeless_channel_up_to_unit_length():
    image = torch.zeros(1, 3, 12, 12)
    image[0, 0, 3:9, 3:9] = 0.9  # a red square ...
    image[0, 2] = 0.01 * colourful(count=1, size=12)[0, 0]  # ... faint noise in blue
    joint = ij.colour_hog_features(image, cell=6, bins=9).view(3, -1)
    split = ij.colour_hog_features(image, cell=6, bins=9, split=True).view(3, -1)
    assert torch.allclose(joint.norm(), torch.tensor(1.0), atol=1e-5)
    assert joint[2].norm() < 0.05  # the noise keeps its small share
    assert torch.allclose(split.norm(dim=1)[[0, 2]], torch.ones(2), atol=1e-5)


def test_hog_features_survive_the_refactor_of_the_votes():
    # hog_features is the normalised dense descriptor of the channel mean.
    images = colourful(count=3, size=12).double()
    expected = dense_votes(ij.channel_mean(images), 6, 9)
    expected = expected / expected.norm(dim=1, keepdim=True)
    assert torch.allclose(ij.hog_features(images, 6, 9), expected, atol=1e-9)


def test_fgsm_on_a_linear_model_moves_its_margin_by_eps_times_the_l1_norm():
    """Goodfellow et al.'s argument, exactly: for a linear model, one FGSM step of
    size eps changes the logit margin between two classes by eps * ||w1 - w2||_1
    (the third class is switched off here by a very negative bias)."""
    generator = torch.Generator().manual_seed(0)
    features = 3 * 12 * 12
    weight = torch.randn(1, features, 3, generator=generator)
    bias = torch.tensor([[0.0, 0.0, -1e4]])
    heads = ij.LinearHeads(
        ij.PIXEL, weight, bias, torch.zeros(1, features), torch.ones(1, features)
    )
    cfg = ij.Config(image_size=12)
    images = 0.3 + 0.4 * torch.rand(1, 2, 3, 12, 12, generator=generator)
    labels = torch.tensor([[0, 1]])

    def logits_of(rgb):
        return heads.logits(rgb, cfg)

    sign = ij.fgsm_direction(logits_of, images, labels)
    eps = 0.01
    margin = torch.tensor([1.0, -1.0])  # class 0 minus class 1, signed by the label
    before = (logits_of(images)[0, :, 0] - logits_of(images)[0, :, 1]) * margin
    after = logits_of(images + eps * sign)
    after = (after[0, :, 0] - after[0, :, 1]) * margin
    l1 = (weight[0, :, 0] - weight[0, :, 1]).abs().sum()
    assert torch.allclose(before - after, eps * l1.expand(2), rtol=1e-4)


def test_fit_logistic_fits_each_c_from_scratch_and_centres_pixels_only():
    generator = np.random.default_rng(0)
    features = generator.normal(size=(300, 20)) * np.arange(1, 21)
    labels = (features[:, 0] + features[:, 1] > 0).astype(int) + (features[:, 2] > 1)
    _, grid = ij.fit_logistic(features, labels, [1.0, 0.01, 0.1], standardise=True)
    _, (alone,) = ij.fit_logistic(features, labels, [0.1], standardise=True)
    assert [fit.C for fit in grid] == [0.01, 0.1, 1.0]
    assert np.array_equal(grid[1].coef_, alone.coef_)  # no warm start in between
    scaler, _ = ij.fit_logistic(features, labels, [0.1], standardise=False)
    assert scaler.scale_ is None and np.allclose(scaler.mean_, features.mean(axis=0))


# ---------------------------------------------------------------- the choices


def selection_rows(metric: str, setting: str, values: dict) -> list[dict]:
    """Selection records: {setting value: [per-seed values]}."""
    return [
        {
            "stage": ij.SELECTION,
            "seed": 1000 + seed,
            "arm": "x",
            setting: key,
            "epochs": 8,
            "metric": metric,
            "value": value,
        }
        for key, per_seed in values.items()
        for seed, value in enumerate(per_seed)
    ]


def test_learning_rate_choice_takes_the_best_accuracy_then_the_lower_loss():
    accuracy = {0.001: [90.0, 92.0], 0.003: [99.0, 100.0], 0.01: [100.0, 99.0]}
    loss = {0.001: [0.3, 0.3], 0.003: [0.05, 0.04], 0.01: [0.02, 0.03]}
    rows = selection_rows("val_accuracy", "lr", accuracy)
    rows += selection_rows("val_loss", "lr", loss)
    records = pd.DataFrame(rows)
    assert ij.chosen_lr(records, "x") == 0.01  # tied accuracy: the lower loss
    # An earlier checkpoint does not vote.
    early = [dict(row, epochs=4, value=0.0) for row in rows]
    assert ij.chosen_lr(pd.DataFrame(rows + early), "x") == 0.01


def test_c_choice_takes_the_best_mean_accuracy_and_ties_to_the_smaller_c():
    tied = {0.01: [90.0, 92.0], 0.1: [95.0, 97.0], 1.0: [96.0, 96.0]}
    assert (
        ij.chosen_c(pd.DataFrame(selection_rows("val_accuracy", "C", tied)), "x") == 0.1
    )
    best = {0.01: [90.0, 92.0], 0.1: [95.0, 97.0], 1.0: [97.0, 96.0]}
    assert (
        ij.chosen_c(pd.DataFrame(selection_rows("val_accuracy", "C", best)), "x") == 1.0
    )


def test_fgsm_loss_share_is_the_share_of_clean_accuracy_lost():
    rows = [
        {
            "stage": ij.PUBLISHED,
            "seed": seed,
            "arm": ij.PIXEL,
            "perturbation": "fgsm",
            "size": eps,
            "metric": "accuracy",
            "value": value,
        }
        for seed, values in enumerate(([80.0, 40.0, 0.0], [50.0, 50.0, 25.0]))
        for eps, value in zip((0.0, 0.01, 0.02), values, strict=True)
    ]
    share = ij.fgsm_loss_share(pd.DataFrame(rows), ij.PIXEL)
    assert list(share.columns) == [0.01, 0.02]
    assert np.allclose(share.to_numpy(), [[50.0, 100.0], [0.0, 50.0]])


# ---------------------------------------------------------------- the verdict


def est(value: float, half_width: float = 1.0) -> Estimate:
    return Estimate(value, value - half_width, value + half_width, method="test", n=10)


def estimates(
    cnn_drop: float = 30.0,
    fix_drop: float = 0.0,
    fix_cost: float = 0.0,
    fgsm_gap: float = 30.0,
    colour_gap: float = 30.0,
) -> dict[str, Estimate]:
    values = {
        "permutation_drop_cnn": est(cnn_drop),
        "hue_drop_cnn": est(cnn_drop),
        "cnn_epochs": est(8.0, 0.0),
        "lr_cnn": est(0.01, 0.0),
        "fgsm_loss_cnn": est(90.0),
        "fgsm_loss_pixel": est(90.0 - fgsm_gap),
        "fgsm_gap": est(fgsm_gap),
    }
    for fix in ij.FIXES:
        key = ij.ARM_KEYS[fix]
        values[f"permutation_drop_{key}"] = est(fix_drop, 0.5)
        values[f"hue_drop_{key}"] = est(fix_drop, 0.5)
        values[f"clean_cost_{key}"] = est(fix_cost, 0.2)
    for arm in ij.COLOUR_AWARE:
        key = ij.ARM_KEYS[arm]
        values[f"colour_drop_{key}"] = est(cnn_drop - colour_gap)
        values[f"colour_gap_{key}"] = est(colour_gap)
    return values


@pytest.mark.parametrize(
    "permutation, hue, status",
    [
        (est(10.0), est(30.0), "mitigated"),  # either reading can show the failure
        (est(30.0), est(10.0), "mitigated"),
        (est(10.0), est(19.0, 5.0), "inconclusive"),  # the swaps decided, hue not
        (est(10.0), est(15.0), "refuted"),
    ],
)
def test_either_colour_reading_decides(permutation, hue, status):
    values = estimates() | {"permutation_drop_cnn": permutation, "hue_drop_cnn": hue}
    assert ij.verdict(values).status == status


@pytest.mark.parametrize(
    "kwargs, status",
    [
        ({"fix_drop": 20.0}, "holds"),
        ({"fix_cost": 3.0}, "holds"),
        ({}, "mitigated"),
        ({"cnn_drop": 5.0}, "refuted"),
        ({"cnn_drop": 20.0}, "inconclusive"),
        ({"fix_drop": 5.0}, "inconclusive"),
        ({"fix_cost": 1.0}, "inconclusive"),
    ],
)
def test_verdict_statuses(kwargs, status):
    result = ij.verdict(estimates(**kwargs))
    assert result.status == status
    # The thresholds the rule compares with travel with the verdict.
    assert result.thresholds[ij.KEY] == ij.MIN_CNN_DROP
    assert result.thresholds["permutation_drop_cnn"] == ij.MIN_CNN_DROP
    assert result.thresholds["clean_cost_augmented_cnn"] == ij.MAX_CLEAN_COST
    assert set(result.thresholds) <= set(estimates())


def test_a_classical_arm_that_also_breaks_labels_the_failure_but_never_refutes_it():
    """The old 'refuted if the classical arm loses more than 5 points' is gone: a
    colour-aware classical learner that breaks too says the failure is not specific
    to deep learning; it does not make the CNN's failure go away."""
    breaks_too = ij.verdict(estimates(colour_gap=-10.0))
    assert breaks_too.status == ij.verdict(estimates()).status == "mitigated"
    assert "not specific to deep learning" in breaks_too.reason
    assert ij.colour_label(estimates(colour_gap=30.0)) == (
        "specific to the CNN among these learners"
    )
    assert ij.colour_label(estimates(colour_gap=5.0)).startswith("undecided")


@pytest.mark.parametrize(
    "gap, label",
    [
        (30.0, "hit harder in the CNN"),
        (-10.0, "not specific to deep learning"),
        (5.0, "undecided whether specific to deep learning"),
    ],
)
def test_fgsm_label_follows_the_gap(gap, label):
    assert ij.fgsm_label(estimates(fgsm_gap=gap)) == label
    assert label in ij.verdict(estimates(fgsm_gap=gap)).reason


# ---------------------------------------------------------------- a smoke run


@pytest.fixture(scope="module")
def smoke():
    point = load_point("input-jitter")
    config = resolve_config(point, "smoke")
    with cpu_threads(1):
        records, judgement, _charts = execute(
            point, config, RunContext(show_progress=False, record_timings=False)
        )
    return config, records, judgement


def test_smoke_records_keep_selection_and_published_seeds_apart(smoke):
    config, records, _ = smoke
    selection = records[records["stage"] == ij.SELECTION]
    published = ij.published(records)
    assert set(selection["seed"]) == {
        ij.SELECTION_SEED0 + i for i in range(config.selection_seeds)
    }
    assert set(published["seed"]) == set(range(config.seeds))
    # Every published model carries the setting chosen on the selection seeds.
    for arm in ij.CNN_ARMS:
        rows = published[published["arm"] == arm]
        assert set(rows["lr"]) == {ij.chosen_lr(records, arm)}
        assert set(rows["epochs"]) == set(config.checkpoints)
    for arm in ij.CLASSICAL:
        rows = published[published["arm"] == arm]
        assert set(rows["C"]) == {ij.chosen_c(records, arm)}
    # The test images never feed a choice: selection rows are validation metrics.
    assert set(selection["metric"]) == {"val_accuracy", "val_loss", "stop_epoch"}


def test_smoke_learning_rate_axis_holds_only_the_plain_cnn_elsewhere(smoke):
    config, records, _ = smoke
    axis = records[records["stage"] == ij.LR_AXIS]
    chosen = ij.chosen_lr(records, ij.PLAIN)
    # The plain CNN, on the published seeds, at every other rate of the grid ...
    assert set(axis["arm"]) == {ij.PLAIN}
    assert set(axis["seed"]) == set(range(config.seeds))
    assert sorted(axis["lr"].unique()) == ij.other_lrs(config, chosen)
    assert ij.axis_lrs(records) == sorted(config.lrs)
    # ... tested only on what the verdict reads, at every checkpoint.
    tests = axis[axis["metric"] == "accuracy"]
    assert set(tests["perturbation"]) == {"none", "channel-permutation", "hue"}
    assert set(tests.query("perturbation == 'hue'")["size"]) == {max(config.hue_angles)}
    assert set(tests["epochs"]) == set(config.checkpoints)
    # The headline reads the published run; another rate reads the axis' rows.
    other = ij.other_lrs(config, chosen)[0]
    published = ij.accuracy_by_seed(records, ij.PLAIN, "none")
    assert ij.accuracy_by_seed(records, ij.PLAIN, "none", lr=chosen).equals(published)
    at_other = ij.accuracy_by_seed(records, ij.PLAIN, "none", lr=other)
    expected = tests.query("perturbation == 'none'")
    expected = expected[expected["epochs"] == max(config.checkpoints)]
    assert at_other.to_dict() == expected.set_index("seed")["value"].to_dict()


def test_smoke_invariances_hold_exactly(smoke):
    _, records, _ = smoke
    for arm in (ij.HOG,):
        drops = ij.colour_drops(records, arm)["permutation"]
        assert (drops == 0.0).all()  # the channel mean is exactly order-blind
    for arm in ij.ARMS:
        clean = ij.accuracy_by_seed(records, arm, "none")
        assert ij.accuracy_by_seed(records, arm, "hue", 0.0).equals(clean)
        assert ij.accuracy_by_seed(records, arm, "shift", 0.0).equals(clean)


def test_smoke_assessment_is_complete_and_agrees_with_the_verdict(smoke):
    config, records, judgement = smoke
    fields = judgement.assessment
    convergence = {record["arm"]: record for record in fields["convergence"]}
    assert set(convergence) == set(ij.CNN_ARMS)
    for record in convergence.values():
        budgets = record["budgets"]
        assert budgets == [float(e) for e in config.checkpoints]
        assert budgets[-1] / 2 in budgets
    tuning = {record["arm"]: record for record in fields["tuning"]}
    assert set(tuning) == set(ij.ARMS)
    for record in tuning.values():
        assert "test" not in record["selected_on"].lower().split()
        assert record["grid"]
    robustness = fields["robustness"]
    assert robustness["axes"] == {
        "epochs": list(config.checkpoints),
        ij.LR_AXIS_NAME: sorted(config.lrs),
    }
    headline = [
        c for c in robustness["cells"] if c["setting"] == robustness["headline"]
    ]
    assert headline[0]["status"] == ij.verdict(judgement.estimates).status
    # Each cell reads the CNNs at its own checkpoint and learning rate; a full-budget
    # cell off the chosen rate says whether that CNN had converged.
    chosen = ij.chosen_lr(records, ij.PLAIN)
    for cell in robustness["cells"]:
        epochs, lr = cell["setting"]["epochs"], cell["setting"][ij.LR_AXIS_NAME]
        assert f"after {epochs} epochs at learning rate {lr:g}" in cell["reason"]
        elsewhere = epochs == max(config.checkpoints) and lr != chosen
        assert ("At this rate the plain CNN is" in cell["reason"]) == elsewhere


def test_every_estimate_has_a_readable_name(smoke):
    _, _, judgement = smoke
    assert set(judgement.estimates) <= set(ij.NAMES)
