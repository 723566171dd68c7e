"""Tweet 2: small jitters to the input, and swapped colours, break deep nets.

Claim (tweet 2): "Deep learning methods are known to fail at learning after small
jitters to input. Think object recognition breaking when colors are swapped."

What the experiment does: synthetic "colour shapes" (24x24 RGB, a filled square,
disc or triangle of equal area at a random position and size on a dark noisy
background; the object's hue comes from a narrow red-orange band that says nothing
about the label). Four arms see the same images: a plain CNN (no augmentation); two
fixes, the same CNN trained with random channel permutations and hue rotations, and
the same CNN fed the channel-mean (grayscale) image; and a classical arm, orientation
histograms of image gradients (HOG-like, on the channel-mean image, unsigned and
L2-normalised) with logistic regression. Each trained model is then tested on the
5 non-identity RGB channel permutations, HSV hue rotations of 0-180 degrees,
non-cyclic shifts of 0-4 pixels (zeros enter), and FGSM perturbations of the RGB
pixels (for the classical arm through its differentiable feature map).

What it does not show: the colour failure is a failure to extrapolate to colours
never seen in training, which any learner that reads colour would share; the
classical arm is immune because its features throw colour away by construction,
and the grayscale CNN shows that a network given the same invariance is immune too.
A toy with three shapes says nothing about ImageNet-scale models, and FGSM is the
weakest common attack (stronger ones only lower the curves).

References: Goodfellow, Shlens, Szegedy 2015 (FGSM; linear models are as vulnerable);
Hendrycks & Dietterich 2019 (ImageNet-C corruptions); Azulay & Weiss 2019 (small
shifts change CNN predictions); Zhang 2019 (anti-aliased pooling); Dalal & Triggs
2005 (HOG).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.nn import functional as F

from essay_code import core

TITLE = "Small jitters and swapped colours"
TWEETS = (2,)
KEY = "permutation_drop_cnn"

PLAIN = "cnn"
FIXES = ("cnn-augment", "cnn-gray")
CLASSICAL = "hog-logreg"
ARMS = (PLAIN, *FIXES, CLASSICAL)
# Arm -> the stem of its estimate names (snake_case).
ARM_KEYS = {
    PLAIN: "cnn",
    "cnn-augment": "augmented_cnn",
    "cnn-gray": "gray_cnn",
    CLASSICAL: "hog",
}
ARM_LABELS = {
    PLAIN: "plain CNN",
    "cnn-augment": "CNN + colour augmentation",
    "cnn-gray": "CNN on grayscale",
    CLASSICAL: "HOG + logistic regression",
}
CLASSES = ("square", "disc", "triangle")
CHANNEL_NAMES = "RGB"
# All orderings of (R, G, B); output channel k takes input channel perm[k].
PERMUTATIONS = tuple(itertools.permutations(range(3)))
SWAPS = PERMUTATIONS[1:]  # the 5 non-identity permutations

# Verdict thresholds, fixed before any run, not tuned.
MIN_CNN_DROP = 20.0  # points the plain CNN must lose under a colour swap
MAX_ROBUST_DROP = 5.0  # points the classical arm (and a fix) may lose
MAX_CLEAN_COST = 1.0  # clean-accuracy points a fix may cost
# FGSM: the classical arm falls "as hard as" the CNN if its accuracy drop at the
# reference epsilon is within FGSM_MARGIN points of the CNN's (or larger).
FGSM_REFERENCE_EPS = 0.031  # about 8/255, the usual L-infinity budget on CIFAR
FGSM_MARGIN = 5.0
# Host syncs in a smoke run: torch.optim.Adam reading its step counter (a CPU
# tensor, so no wait for a GPU), the evaluation's shifts and read-backs, and
# copying the data and the permutation table in once per model.
HOST_SYNC_BUDGET = 119


@dataclass(frozen=True)
class Config:
    seeds: int = 5  # independent datasets and initialisations
    image_size: int = 24  # pixels per side
    n_train: int = 2000  # training images per seed (balanced over 3 classes)
    n_test: int = 1000  # test images per seed
    # Disc radius of the smallest and largest object (pixels); squares and triangles
    # get the same area, so size does not tell the classes apart.
    radius_min: float = 3.0
    radius_max: float = 5.5
    hue_low: float = 0.0  # object hue band, degrees (0 = red)
    hue_high: float = 30.0  # ... to orange; independent of the label
    colour_min: float = 0.7  # lowest HSV saturation and value of an object
    noise_std: float = 0.05  # Gaussian pixel noise on every channel
    width: int = 8  # channels of the first conv layer (then 2x, 2x)
    epochs: int = 8  # passes over the training set, every CNN arm
    batch_size: int = 64  # minibatch images
    lr: float = 3e-3  # Adam learning rate, every CNN arm
    hog_cell: int = 6  # HOG cell side (pixels): a 4x4 grid of cells
    hog_bins: int = 9  # unsigned orientation bins over 0-180 degrees
    logreg_c: float = 1.0  # inverse L2 strength of the logistic regression
    hue_angles: tuple[float, ...] = (0.0, 30.0, 60.0, 90.0, 120.0, 150.0, 180.0)
    shifts: tuple[int, ...] = (0, 1, 2, 3, 4)  # non-cyclic shifts, pixels
    # FGSM L-infinity budgets on [0, 1] pixels (0, 1, 2, 4, 8, 16, 32 / 255).
    fgsm_eps: tuple[float, ...] = (0.0, 0.004, 0.008, 0.016, 0.031, 0.063, 0.125)


PROFILES = {
    "smoke": {
        "seeds": 2,
        "n_train": 300,
        "n_test": 150,
        "epochs": 1,
        "width": 4,
        "hue_angles": (0.0, 90.0, 180.0),
        "shifts": (0, 1, 4),
        "fgsm_eps": (0.0, 0.031),
    },
    "full": {
        "seeds": 10,
        "n_train": 10000,
        "n_test": 5000,
        "width": 16,
        "epochs": 15,
        "hue_angles": tuple(float(a) for a in range(0, 181, 15)),
    },
}


# ---------------------------------------------------------------- colour maths
# Images are float tensors [..., 3, H, W] in [0, 1]; the formulas are torchvision's
# HSV conversion, written here so that they batch over any leading dimensions.


def rgb_to_hsv(image: torch.Tensor) -> torch.Tensor:
    """[..., 3, H, W] RGB -> [..., 3, H, W] HSV, hue in [0, 1)."""
    red, green, blue = image.unbind(dim=-3)
    maxc = image.max(dim=-3).values
    minc = image.min(dim=-3).values
    gray = maxc == minc
    chroma = maxc - minc
    ones = torch.ones_like(maxc)
    saturation = chroma / torch.where(gray, ones, maxc)
    divisor = torch.where(gray, ones, chroma)
    rc, gc, bc = ((maxc - channel) / divisor for channel in (red, green, blue))
    hue_r = (maxc == red) * (bc - gc)
    hue_g = ((maxc == green) & (maxc != red)) * (2.0 + rc - bc)
    hue_b = ((maxc != green) & (maxc != red)) * (4.0 + gc - rc)
    hue = torch.fmod((hue_r + hue_g + hue_b) / 6.0 + 1.0, 1.0)
    return torch.stack((hue, saturation, maxc), dim=-3)


def hsv_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """[..., 3, H, W] HSV -> RGB (the inverse of rgb_to_hsv)."""
    hue, saturation, value = image.unbind(dim=-3)
    sector = torch.floor(hue * 6.0)
    frac = hue * 6.0 - sector
    sector = sector.to(torch.int64) % 6
    p = (value * (1.0 - saturation)).clamp(0.0, 1.0)
    q = (value * (1.0 - saturation * frac)).clamp(0.0, 1.0)
    t = (value * (1.0 - saturation * (1.0 - frac))).clamp(0.0, 1.0)
    # One row per hue sector: which of (v, q, p, t) each channel takes.
    red = torch.stack((value, q, p, p, t, value), dim=-3)
    green = torch.stack((t, value, value, q, p, p), dim=-3)
    blue = torch.stack((p, p, t, value, value, q), dim=-3)
    pick = sector.unsqueeze(-3)  # [..., 1, H, W]
    return torch.cat([c.gather(-3, pick) for c in (red, green, blue)], dim=-3)


def rotate_hue(image: torch.Tensor, degrees: float | torch.Tensor) -> torch.Tensor:
    """Rotate every pixel's HSV hue by `degrees` (a number, or one per image [N]).

    Gray pixels have no hue and stay put; 120 degrees equals a cyclic channel
    permutation, 360 degrees returns the image (up to float rounding).
    """
    hsv = rgb_to_hsv(image)
    # A tensor already on the device stays there: no host copy.
    turn = torch.as_tensor(degrees, dtype=image.dtype, device=image.device) / 360.0
    if turn.ndim == 1:  # one angle per image: broadcast over [3, H, W]
        turn = turn.view(-1, *([1] * (image.ndim - 2)))
    hue = torch.remainder(hsv[..., 0, :, :] + turn, 1.0)
    return hsv_to_rgb(torch.stack((hue, hsv[..., 1, :, :], hsv[..., 2, :, :]), -3))


def permute_channels(image: torch.Tensor, perm: tuple[int, ...]) -> torch.Tensor:
    """[..., 3, H, W]: output channel k is input channel perm[k]."""
    return image[..., list(perm), :, :]


def permutation_name(perm: tuple[int, ...]) -> str:
    return "".join(CHANNEL_NAMES[channel] for channel in perm)


def channel_mean(image: torch.Tensor) -> torch.Tensor:
    """[..., 3, H, W] -> [..., H, W]: the mean of the three channels.

    Summed after sorting the channel values, so the float result is bit-identical
    under any channel permutation (a plain sum rounds differently per order).
    """
    return image.sort(dim=-3).values.sum(dim=-3) / 3.0


def shift_images(
    image: torch.Tensor, pixels: int, directions: torch.Tensor
) -> torch.Tensor:
    """Non-cyclic shift by `pixels`: image [..., N, C, H, W], directions [..., N] in
    0-3 (right, left, down, up). Zeros enter at the trailing edge; nothing wraps."""
    if pixels == 0:
        return image.clone()
    height, width = image.shape[-2:]
    padded = F.pad(image, (pixels,) * 4)  # zeros on every side
    offsets = ((0, pixels), (0, -pixels), (pixels, 0), (-pixels, 0))  # (dy, dx)
    shifted = torch.empty_like(image)
    for direction, (dy, dx) in enumerate(offsets):
        chosen = directions == direction
        top, left = pixels - dy, pixels - dx
        window = padded[..., top : top + height, left : left + width]
        shifted[..., chosen, :, :, :] = window[..., chosen, :, :, :]
    return shifted


# ---------------------------------------------------------------- data


def draw_masks(
    labels: np.ndarray, radius: np.ndarray, centre: np.ndarray, size: int
) -> np.ndarray:
    """Filled shapes of equal area: labels [N], radius [N] (the disc's), centre [N, 2]
    (row, col) -> boolean masks [N, size, size]."""
    rows = np.arange(size)[None, :, None] - centre[:, 0, None, None]  # [N, size, 1]
    cols = np.arange(size)[None, None, :] - centre[:, 1, None, None]  # [N, 1, size]
    r = radius[:, None, None]
    disc = rows**2 + cols**2 <= r**2
    half_side = r * math.sqrt(math.pi) / 2  # square of area pi r^2
    square = (np.abs(rows) <= half_side) & (np.abs(cols) <= half_side)
    half_height = r * math.sqrt(2 * math.pi) / 2  # base = height, area pi r^2
    # Apex up: the half-width grows from 0 at the top to half_height at the base.
    triangle = (np.abs(rows) <= half_height) & (
        np.abs(cols) <= (rows + half_height) / 2
    )
    by_class = np.stack([square, disc, triangle])  # [3, N, size, size]
    return by_class[labels, np.arange(labels.size)]


def extent(labels: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Half the bounding box of each shape (pixels), to keep it inside the frame."""
    factor = np.array([math.sqrt(math.pi) / 2, 1.0, math.sqrt(2 * math.pi) / 2])
    return radius * factor[labels]


def make_dataset(cfg: Config, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images [n, 3, size, size] in [0, 1] and labels [n] for one seed.

    Objects sit at least max(shifts) pixels from the border, so no shift of the
    sweep pushes any of the object out of the frame.
    """
    rng = np.random.default_rng(seed)
    n, size = cfg.n_train + cfg.n_test, cfg.image_size
    labels = rng.permutation(np.arange(n) % len(CLASSES))
    radius = rng.uniform(cfg.radius_min, cfg.radius_max, size=n)
    margin = extent(labels, radius) + max(cfg.shifts)
    centre = rng.uniform(margin[:, None], size - 1 - margin[:, None], size=(n, 2))
    masks = torch.from_numpy(draw_masks(labels, radius, centre, size))
    hue = rng.uniform(cfg.hue_low, cfg.hue_high, size=n) / 360.0
    saturation = rng.uniform(cfg.colour_min, 1.0, size=n)
    value = rng.uniform(cfg.colour_min, 1.0, size=n)
    hsv = torch.tensor(np.stack([hue, saturation, value], axis=1), dtype=torch.float32)
    colour = hsv_to_rgb(hsv[:, :, None, None])  # [n, 3, 1, 1]
    noise = torch.from_numpy(rng.normal(0.0, cfg.noise_std, size=(n, 3, size, size)))
    images = masks[:, None].float() * colour + noise.float()
    return images.clamp(0.0, 1.0), torch.from_numpy(labels)


# ---------------------------------------------------------------- the CNN arms


def make_cnn(in_channels: int, width: int) -> nn.Module:
    """Three 3x3 conv layers, two max-pools, global average pooling, a linear head."""
    channels = (in_channels, width, 2 * width, 2 * width)
    pools = (nn.MaxPool2d(2), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1))
    layers = []
    for (c_in, c_out), pool in zip(itertools.pairwise(channels), pools, strict=True):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), pool]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(2 * width, len(CLASSES)))


def cnn_inputs(arm: str, images: torch.Tensor) -> torch.Tensor:
    """RGB images [..., 3, H, W] -> what the arm's network reads."""
    if arm == "cnn-gray":
        return channel_mean(images).unsqueeze(-3)  # [..., 1, H, W]
    return images


def augment(
    images: torch.Tensor, generator: torch.Generator, permutations: torch.Tensor
) -> torch.Tensor:
    """Random channel permutation and random hue rotation per image: [N, 3, H, W].

    generator and permutations (torch.tensor(PERMUTATIONS) [6, 3]) live on the
    images' device, so an augmented batch copies nothing in.
    """
    count, draw = images.shape[0], {"generator": generator, "device": images.device}
    choice = torch.randint(len(PERMUTATIONS), (count,), **draw)
    angle = torch.rand(count, **draw) * 360.0
    index = permutations[choice][:, :, None, None].expand_as(images)  # from [N, 3]
    return rotate_hue(images.gather(1, index), angle)


Logits = Callable[[torch.Tensor], torch.Tensor]  # RGB [S, N, 3, H, W] -> [S, N, 3]


def train_cnns(
    arm: str,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    seeds: list[int],
    cfg: Config,
    ctx: core.RunContext,
) -> Logits:
    """Train one CNN per seed; return the seeds' models as one logit function.

    train_x [S, n, 3, H, W] RGB, train_y [S, n]. Seed s starts from init seed s and
    visits its images in an order (and, for cnn-augment, with augmentations) drawn
    from that seed. A plain loop over seeds: on a CPU, torch.func.vmap turns these
    convolutions into grouped ones whose backward pass is several times slower.
    """
    models = [
        train_cnn(arm, x, y, seed, cfg, ctx)
        for x, y, seed in zip(train_x, train_y, seeds, strict=True)
    ]

    def logits_of(rgb: torch.Tensor) -> torch.Tensor:
        inputs = cnn_inputs(arm, rgb)
        return torch.stack([model(x) for model, x in zip(models, inputs, strict=True)])

    return logits_of


def train_cnn(
    arm: str,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    seed: int,
    cfg: Config,
    ctx: core.RunContext,
) -> nn.Module:
    """One seed's CNN: train_x [n, 3, H, W] RGB, train_y [n]; Adam, cross-entropy."""
    torch.manual_seed(seed)
    model = make_cnn(1 if arm == "cnn-gray" else 3, cfg.width).to(ctx.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    # The images, the orders and the augmentations all live on the device, so a
    # step copies nothing in. On a CPU the device generator is the plain one,
    # drawing in the same order: the same numbers.
    device = ctx.device
    train_x, train_y = train_x.to(device), train_y.to(device)
    generator = torch.Generator(device=device).manual_seed(seed)
    permutations = torch.tensor(PERMUTATIONS, device=device)  # [6, 3]
    rows = train_y.shape[0]
    for _epoch in ctx.progress(range(cfg.epochs), total=cfg.epochs, desc=arm):
        order = torch.randperm(rows, generator=generator, device=device)
        for start in range(0, rows, cfg.batch_size):
            index = order[start : start + cfg.batch_size]
            batch_x = train_x[index]  # [batch, 3, H, W]
            if arm == "cnn-augment":
                batch_x = augment(batch_x, generator, permutations)
            loss = F.cross_entropy(model(cnn_inputs(arm, batch_x)), train_y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    model.eval().requires_grad_(False)
    return model


# ---------------------------------------------------------------- the classical arm


def hog_features(images: torch.Tensor, cell: int, bins: int) -> torch.Tensor:
    """HOG-like descriptor of the channel-mean image: [N, 3, H, W] -> [N, F].

    Central-difference gradients; each pixel votes its gradient magnitude into
    unsigned orientation bins (0-180 degrees, linear interpolation between the two
    nearest bin centres, so the map is differentiable for FGSM); votes are summed
    over cell x cell blocks; the whole descriptor is L2-normalised. Unsigned
    orientations plus normalisation make it blind to the object's brightness and
    to whether it is brighter or darker than the background; the channel mean makes
    it blind to channel order, exactly.
    """
    gray = channel_mean(images).unsqueeze(1)  # [N, 1, H, W]
    padded = F.pad(gray, (1, 1, 1, 1), mode="replicate")
    grad_x = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) / 2.0
    grad_y = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) / 2.0
    magnitude = torch.sqrt(grad_x**2 + grad_y**2 + 1e-12)
    angle = torch.remainder(torch.atan2(grad_y, grad_x), math.pi)  # [0, pi)
    position = angle / (math.pi / bins) - 0.5  # bin centres at 0, 1, ..., bins-1
    centres = torch.arange(bins, dtype=images.dtype, device=images.device)
    distance = torch.remainder(position - centres.view(1, -1, 1, 1) + bins / 2, bins)
    weight = torch.relu(1.0 - torch.abs(distance - bins / 2))  # [N, bins, H, W]
    votes = F.avg_pool2d(weight * magnitude, cell) * cell**2  # [N, bins, cells, cells]
    flat = votes.flatten(1)
    return flat / torch.sqrt((flat**2).sum(dim=1, keepdim=True) + 1e-12)


def fit_hog(
    train_x: torch.Tensor, train_y: torch.Tensor, seeds: list[int], cfg: Config
) -> Logits:
    """Standardised HOG features + multinomial logistic regression, one per seed;
    returns the stacked models as a differentiable torch logit function."""
    fits = []  # per seed: weight [F, 3], bias [3], feature mean and scale [F]
    for index, seed in enumerate(seeds):
        features = hog_features(train_x[index], cfg.hog_cell, cfg.hog_bins).numpy()
        scaler = StandardScaler().fit(features)
        model = LogisticRegression(C=cfg.logreg_c, max_iter=2000, random_state=seed)
        model.fit(scaler.transform(features), train_y[index].numpy())
        fits.append((model.coef_.T, model.intercept_, scaler.mean_, scaler.scale_))
    weight, bias, mean, scale = (  # [S, F, 3], [S, 3], [S, F], [S, F]
        torch.tensor(np.stack(arrays), dtype=torch.float32)
        for arrays in zip(*fits, strict=True)
    )

    def logits_of(rgb: torch.Tensor) -> torch.Tensor:
        flat = hog_features(rgb.flatten(0, 1), cfg.hog_cell, cfg.hog_bins)
        features = flat.view(*rgb.shape[:2], -1)  # [S, N, F]
        device = rgb.device
        standard = (features - mean[:, None].to(device)) / scale[:, None].to(device)
        return standard @ weight.to(device) + bias[:, None].to(device)

    return logits_of


# ---------------------------------------------------------------- evaluation


def predict(logits_of: Logits, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return logits_of(images).argmax(dim=-1)  # [S, N]


def fgsm_direction(
    logits_of: Logits, images: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Sign of the input gradient of the cross-entropy loss: [S, N, 3, H, W]."""
    images = images.clone().requires_grad_(True)
    logits = logits_of(images)
    loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="sum")
    (gradient,) = torch.autograd.grad(loss, images)
    return gradient.sign()


def condition(perturbation: str, size: float, channels: str = "RGB") -> dict:
    """The record columns that name one test condition."""
    return {"perturbation": perturbation, "size": float(size), "channels": channels}


def perturbed_sets(images: torch.Tensor, directions: torch.Tensor, cfg: Config):
    """Yield (condition, images) for every non-adversarial condition, one at a
    time (each a copy of the whole test set [S, N, 3, H, W])."""
    yield condition("none", 0.0), images
    for index, perm in enumerate(SWAPS, start=1):
        columns = condition("channel-permutation", index, permutation_name(perm))
        yield columns, permute_channels(images, perm)
    for angle in cfg.hue_angles:
        yield condition("hue", angle), rotate_hue(images, angle)
    for pixels in cfg.shifts:
        yield condition("shift", pixels), shift_images(images, pixels, directions)


def evaluate(
    models: dict[str, Logits],
    images: torch.Tensor,
    labels: torch.Tensor,
    directions: torch.Tensor,
    seeds: list[int],
    cfg: Config,
) -> pd.DataFrame:
    """Every perturbation of the test set, for every arm's per-seed models.

    images [S, N, 3, H, W], labels [S, N], directions [S, N] (shift direction per
    image). Each perturbed set is built once and shown to every arm. Returns one
    row per (seed, arm, perturbation, size, channels, metric).
    """
    records = core.Records()

    def add(metric: str, arm: str, columns: dict, hits: torch.Tensor) -> None:
        """One row per seed: the percentage of test images where `hits` holds."""
        percent = 100.0 * hits.float().mean(dim=1)  # [S]
        records.add_per_seed(metric, percent, seeds, arm=arm, **columns)

    clean = {arm: predict(logits_of, images) for arm, logits_of in models.items()}
    for columns, perturbed in perturbed_sets(images, directions, cfg):
        for arm, logits_of in models.items():
            predicted = predict(logits_of, perturbed)
            add("accuracy", arm, columns, predicted == labels)
            if columns["perturbation"] == "shift":
                add("flip_rate", arm, columns, predicted != clean[arm])
    for arm, logits_of in models.items():
        sign = fgsm_direction(logits_of, images, labels)
        for eps in cfg.fgsm_eps:
            predicted = predict(logits_of, (images + eps * sign).clamp(0.0, 1.0))
            add("accuracy", arm, condition("fgsm", eps), predicted == labels)
    return records.frame()


# ---------------------------------------------------------------- the run


def run(cfg: Config, ctx: core.RunContext) -> pd.DataFrame:
    """Records: one row per (seed, arm, perturbation, size, channels, metric)."""
    seeds = list(range(cfg.seeds))
    data = [make_dataset(cfg, seed) for seed in seeds]
    # images [S, n, 3, H, W], labels [S, n]
    images, labels = map(torch.stack, zip(*data, strict=True))
    train_x, test_x = images[:, : cfg.n_train], images[:, cfg.n_train :]
    train_y, test_y = labels[:, : cfg.n_train], labels[:, cfg.n_train :]
    # One shift direction per test image, drawn from the seed, shared by all arms.
    generators = (torch.Generator().manual_seed(seed) for seed in seeds)
    draws = [torch.randint(4, (cfg.n_test,), generator=g) for g in generators]
    directions = torch.stack(draws)  # [S, n_test]
    models = {
        arm: fit_hog(train_x, train_y, seeds, cfg)
        if arm == CLASSICAL
        else train_cnns(arm, train_x, train_y, seeds, cfg, ctx)
        for arm in ctx.progress(ARMS, desc="arms")
    }
    test = (tensor.to(ctx.device) for tensor in (test_x, test_y, directions))
    return evaluate(models, *test, seeds, cfg)


# ---------------------------------------------------------------- summary


def accuracy_by_seed(
    records: pd.DataFrame, arm: str, perturbation: str, size: float | None = None
) -> pd.Series:
    """Accuracy per seed (mean over sizes when size is None, e.g. the 5 swaps)."""
    rows = core.select(records, arm=arm, perturbation=perturbation, metric="accuracy")
    if size is not None:
        rows = rows[np.isclose(rows["size"], size)]
    return rows.groupby("seed")["value"].mean()


def nearest_size(records: pd.DataFrame, perturbation: str, target: float) -> float:
    sizes = records.loc[records["perturbation"] == perturbation, "size"].unique()
    return float(sizes[np.argmin(np.abs(sizes - target))])


def drops(records: pd.DataFrame, arm: str) -> dict[str, pd.Series]:
    """Per-seed accuracy lost (points) under each headline perturbation."""
    clean = accuracy_by_seed(records, arm, "none")
    largest = records.groupby("perturbation")["size"].max()
    eps = nearest_size(records, "fgsm", FGSM_REFERENCE_EPS)
    fgsm = core.pivot_seeds(records, "accuracy", "size", arm=arm, perturbation="fgsm")
    return {
        "permutation": clean - accuracy_by_seed(records, arm, "channel-permutation"),
        "hue": clean - accuracy_by_seed(records, arm, "hue", largest["hue"]),
        "shift": clean - accuracy_by_seed(records, arm, "shift", largest["shift"]),
        "fgsm": clean - accuracy_by_seed(records, arm, "fgsm", eps),
        # The worst FGSM damage at any budget of the sweep (FGSM is one step, so
        # a larger epsilon is not always worse).
        "fgsm_worst": clean - fgsm.min(axis=1),
    }


def summarize(records: pd.DataFrame) -> dict[str, core.Estimate]:
    points = {"unit": "points", "digits": 1}
    percent = {"unit": "%", "digits": 1}
    estimates: dict[str, core.Estimate] = {}
    arm_drops = {arm: drops(records, arm) for arm in ARMS}
    clean = {arm: accuracy_by_seed(records, arm, "none") for arm in ARMS}
    for arm in ARMS:
        key = ARM_KEYS[arm]
        estimates[f"clean_accuracy_{key}"] = core.bootstrap(clean[arm], **percent)
        for name, values in arm_drops[arm].items():
            estimates[f"{name}_drop_{key}"] = core.bootstrap(values, **points)
        flips = core.per_seed(records, "flip_rate", arm=arm, size=1.0)
        estimates[f"shift_flip_{key}"] = core.bootstrap(flips, **percent)
    for fix in FIXES:
        estimates[f"clean_cost_{ARM_KEYS[fix]}"] = core.bootstrap(
            clean[PLAIN] - clean[fix],
            label=f"mean of plain CNN minus {fix} clean accuracy",
            **points,
        )
    estimates["fgsm_gap"] = core.bootstrap(
        arm_drops[PLAIN]["fgsm"] - arm_drops[CLASSICAL]["fgsm"],
        label="mean of CNN minus HOG FGSM accuracy drop",
        **points,
    )
    estimates["fgsm_reference_eps"] = core.exact(
        nearest_size(records, "fgsm", FGSM_REFERENCE_EPS),
        records["seed"].nunique(),
        label="the FGSM epsilon the drops are read at",
        digits=3,
    )
    return estimates


def fgsm_label(estimates: dict[str, core.Estimate]) -> str:
    """Goodfellow et al.'s test: does the classical arm fall to FGSM as hard?"""
    as_hard = estimates["fgsm_gap"].below(FGSM_MARGIN)
    if as_hard is None:
        return "undecided whether specific to deep learning"
    if as_hard:
        return "not specific to deep learning"
    return "hit harder in the CNN at this budget"


RULE = (
    f"Holds if the plain CNN loses >= {MIN_CNN_DROP:g} points of test accuracy under "
    f"the channel permutations (mean of the 5) or a 180-degree hue rotation, while "
    f"the classical arm loses <= {MAX_ROBUST_DROP:g} under both. Mitigated if, "
    f"besides, a fix (colour augmentation or grayscale input) loses <= "
    f"{MAX_ROBUST_DROP:g} under both at a clean-accuracy cost of <= "
    f"{MAX_CLEAN_COST:g} point. Refuted if the plain CNN loses < {MIN_CNN_DROP:g} "
    f"under both, or the classical arm loses > {MAX_ROBUST_DROP:g}. Inconclusive if "
    f"a 95% CI straddles a threshold. FGSM side test: the classical arm is labelled "
    f"'not specific to deep learning' if its accuracy drop at eps "
    f"{FGSM_REFERENCE_EPS:g} is at least the CNN's minus {FGSM_MARGIN:g} points."
)


# Every estimate the rule compares with a threshold, and that threshold.
THRESHOLDS = {
    KEY: MIN_CNN_DROP,
    "hue_drop_cnn": MIN_CNN_DROP,
    **{
        f"{drop}_drop_{ARM_KEYS[arm]}": MAX_ROBUST_DROP
        for arm in (CLASSICAL, *FIXES)
        for drop in ("permutation", "hue")
    },
    **{f"clean_cost_{ARM_KEYS[fix]}": MAX_CLEAN_COST for fix in FIXES},
    "fgsm_gap": FGSM_MARGIN,
}


def fix_passes(estimates: dict[str, core.Estimate], fix: str) -> bool | None:
    key = ARM_KEYS[fix]
    return core.all_of(
        estimates[f"permutation_drop_{key}"].below(MAX_ROBUST_DROP),
        estimates[f"hue_drop_{key}"].below(MAX_ROBUST_DROP),
        estimates[f"clean_cost_{key}"].below(MAX_CLEAN_COST),
    )


def fix_summary(estimates: dict[str, core.Estimate], fix: str) -> str:
    perm, hue, cost = (
        estimates[f"{name}_{ARM_KEYS[fix]}"].value
        for name in ("permutation_drop", "hue_drop", "clean_cost")
    )
    return (
        f"{ARM_LABELS[fix]} loses {perm:.1f} / {hue:.1f} at a clean cost of {cost:.1f}"
    )


def verdict(estimates: dict[str, core.Estimate]) -> core.Verdict:
    cnn_perm, cnn_hue = estimates[KEY], estimates["hue_drop_cnn"]
    hog_perm, hog_hue = estimates["permutation_drop_hog"], estimates["hue_drop_hog"]
    failure = core.all_of(
        core.any_of(cnn_perm.above(MIN_CNN_DROP), cnn_hue.above(MIN_CNN_DROP)),
        hog_perm.below(MAX_ROBUST_DROP),
        hog_hue.below(MAX_ROBUST_DROP),
    )
    fixed = core.any_of(*(fix_passes(estimates, fix) for fix in FIXES))
    fix_text = "; ".join(fix_summary(estimates, fix) for fix in FIXES)
    reason = (
        f"plain CNN loses {cnn_perm.text()} under channel permutations and "
        f"{cnn_hue.text()} at 180 degrees hue; HOG + logistic regression loses "
        f"{hog_perm.value:.1f} / {hog_hue.value:.1f} points; {fix_text}; FGSM at eps "
        f"{FGSM_REFERENCE_EPS:g}: CNN loses {estimates['fgsm_drop_cnn'].value:.1f}, "
        f"HOG {estimates['fgsm_drop_hog'].value:.1f} points ({fgsm_label(estimates)})"
    )
    status = core.failure_status(failure, fixed)
    return core.Verdict(status, reason, RULE, thresholds=THRESHOLDS)


# ---------------------------------------------------------------- charts

# One colour per arm, in the order of ARMS, on every chart that compares arms.
BY_ARM = {"colour": "model", "colour_sort": [ARM_LABELS[arm] for arm in ARMS]}
ACCURACY = "test accuracy (%)"


def labelled(records: pd.DataFrame, **where) -> pd.DataFrame:
    """The rows matching `where`, with the arm's label as `model`."""
    rows = core.select(records, **where).copy()
    rows["model"] = rows["arm"].map(ARM_LABELS)
    return rows


def _curve(
    records: pd.DataFrame, perturbation: str, x_title: str, title: str
) -> alt.LayerChart:
    """Accuracy: mean and 95% CI band over seeds, one line per arm, against size."""
    rows = labelled(records, perturbation=perturbation, metric="accuracy")
    table = core.ci_table(rows, ["model", "size"], core.bootstrap)
    chart = core.ci_curve(
        table, x="size", x_title=x_title, value_title=ACCURACY, **BY_ARM, seeds=rows
    )
    return core.sized(chart, title)


def _permutation_chart(records: pd.DataFrame) -> alt.LayerChart:
    """Accuracy per channel order (RGB = clean), error bars over seeds."""
    rows = labelled(records, metric="accuracy")
    rows = rows[rows["perturbation"].isin(["none", "channel-permutation"])]
    chart = core.ci_dots(
        core.ci_table(rows, ["model", "channels"], core.bootstrap),
        category="channels",
        category_title="channel order fed to the model (RGB = unchanged)",
        sort=[permutation_name(perm) for perm in PERMUTATIONS],
        value_title=ACCURACY,
        **BY_ARM,
        seeds=rows,
    )
    return core.sized(
        chart,
        "Accuracy under each RGB channel permutation (mean, 95% CI over seeds)",
        height=360,
    )


def _flip_chart(records: pd.DataFrame) -> alt.LayerChart:
    rows = labelled(records, metric="flip_rate", size=1.0)
    chart = core.ci_dots(
        core.ci_table(rows, ["model"], core.bootstrap),
        category="model",
        sort=BY_ARM["colour_sort"],
        value_title="test predictions changed by a 1-pixel shift (%)",
        seeds=rows,
        fmt=".2f",
    )
    return core.sized(
        chart,
        "Predictions flipped by a 1-pixel shift (mean, 95% CI over seeds)",
        height=160,
    )


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    label = fgsm_label(summarize(records))
    return {
        "channel_permutations": _permutation_chart(records),
        "hue_rotation": _curve(
            records,
            "hue",
            "hue rotation (degrees)",
            "Accuracy vs hue rotation (mean, 95% CI over seeds)",
        ),
        "shifts": _curve(
            records,
            "shift",
            "shift (pixels, zeros enter)",
            "Accuracy vs non-cyclic shift (mean, 95% CI)",
        ),
        "shift_flips": _flip_chart(records),
        "fgsm": _curve(
            records,
            "fgsm",
            "FGSM epsilon (L-infinity, pixels in [0, 1])",
            f"Accuracy under FGSM; HOG + logistic regression: {label}",
        ),
    }
