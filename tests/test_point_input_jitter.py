"""Properties of the input-jitter experiment: the perturbations are what they claim,
the classical features are blind to channel order, and the verdict rule."""

from __future__ import annotations

import itertools

import pytest
import torch

from essay_code.core.stats import Estimate
from essay_code.points import input_jitter as ij


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
    cfg = ij.Config(n_train=240, n_test=60, noise_std=0.0)
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
    import numpy as np

    labels = np.array([0, 1, 2])
    radius = np.full(3, 40.0)
    centre = np.full((3, 2), 99.5)
    masks = ij.draw_masks(labels, radius, centre, size=200)
    areas = masks.reshape(3, -1).sum(axis=1)
    assert np.allclose(areas, np.pi * 40.0**2, rtol=0.03)


# ---------------------------------------------------------------- the verdict


def est(value: float, half_width: float = 1.0) -> Estimate:
    return Estimate(value, value - half_width, value + half_width, method="test", n=5)


def estimates(
    cnn_drop: float = 30.0,
    hog_drop: float = 0.0,
    fix_drop: float = 0.0,
    fix_cost: float = 0.0,
    fgsm_gap: float = 30.0,
) -> dict[str, Estimate]:
    values = {
        ij.KEY: est(cnn_drop),
        "hue_drop_cnn": est(cnn_drop),
        "permutation_drop_hog": est(hog_drop),
        "hue_drop_hog": est(hog_drop),
        "fgsm_drop_cnn": est(60.0),
        "fgsm_drop_hog": est(60.0 - fgsm_gap),
        "fgsm_gap": est(fgsm_gap),
    }
    for fix in ij.FIXES:
        key = ij.ARM_KEYS[fix]
        values[f"permutation_drop_{key}"] = est(fix_drop, 0.5)
        values[f"hue_drop_{key}"] = est(fix_drop, 0.5)
        values[f"clean_cost_{key}"] = est(fix_cost, 0.2)
    return values


@pytest.mark.parametrize(
    "kwargs, status",
    [
        ({"fix_drop": 20.0}, "holds"),
        ({"fix_cost": 3.0}, "holds"),
        ({}, "mitigated"),
        ({"cnn_drop": 5.0}, "refuted"),
        ({"hog_drop": 15.0}, "refuted"),
        ({"cnn_drop": 20.0}, "inconclusive"),
        ({"hog_drop": 5.0}, "inconclusive"),
        ({"fix_cost": 1.0}, "inconclusive"),
    ],
)
def test_verdict_statuses(kwargs, status):
    result = ij.verdict(estimates(**kwargs))
    assert result.status == status
    # The thresholds the rule compares with travel with the verdict.
    assert result.thresholds[ij.KEY] == ij.MIN_CNN_DROP
    assert result.thresholds["hue_drop_hog"] == ij.MAX_ROBUST_DROP
    assert set(result.thresholds) <= set(estimates())


@pytest.mark.parametrize(
    "gap, label",
    [
        (30.0, "hit harder in the CNN at this budget"),
        (-10.0, "not specific to deep learning"),
        (5.0, "undecided whether specific to deep learning"),
    ],
)
def test_fgsm_label_follows_the_gap(gap, label):
    assert ij.fgsm_label(estimates(fgsm_gap=gap)) == label
    assert label in ij.verdict(estimates(fgsm_gap=gap)).reason
