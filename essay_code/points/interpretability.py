"""Tweet 13: interpretability is not the big problem it is made out to be.

Claim (the author's counterpoint): deep networks are often called black boxes, but
reading what they use is possible, so interpretability is not deep learning's big
problem.

What the experiment does: synthetic tabular data with a known answer. Of d features,
a few are relevant (the label depends on them through a product, a square and a
linear term), one is a spurious shortcut that equals the label with a set rate in
the training distribution but is independent of it at test time, and the rest are
noise. An MLP is trained on the shortcut-laden data and read with gradient x input
and integrated gradients (Sundararajan et al. 2017); the classical arms are the
coefficients of a logistic regression on standardised features and scikit-learn's
permutation importance of a random forest. Metrics: AUROC of each attribution
ranking (mean |attribution| per feature) against the planted relevant features (the
shortcut scored apart), the shortcut's rank, the accuracy each model loses when the
shortcut breaks, and Adebayo et al.'s (2018) randomisation check: the Spearman
correlation between the attributions of the trained network and of the same
architecture with random weights.

What it does not show: these are global, per-feature attributions on 20 independent,
standardised tabular features whose relevance is known; images, correlated features,
text and large models are far harder, and finding that a model uses a shortcut does
not fix the model. An attribution that recovers the planted features says which
inputs the model reads, not why, nor whether that is a causal mechanism.

References: Sundararajan, Taly, Yan 2017 (integrated gradients); Shrikumar et al.
2016 (gradient x input); Adebayo et al. 2018 (sanity checks for saliency maps);
Breiman 2001 (permutation importance); Geirhos et al. 2020 (shortcut learning).
"""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import torch
from scipy.stats import rankdata
from sklearn.ensemble import RandomForestClassifier
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from torch.nn import functional as F

from essay_code import core
from essay_code.core import Estimate, RunContext, Verdict, all_of

TITLE = "Interpretability"
TWEETS = (13,)
KEY = "ig_auroc"

# Attribution methods (the "arm" of attribution records).
IG = "integrated-gradients"
GXI = "gradient-x-input"
LOGREG = "logistic-coefficients"
PERM = "forest-permutation"
METHODS = (IG, GXI, LOGREG, PERM)
METHOD_LABELS = {
    IG: "MLP: integrated gradients",
    GXI: "MLP: gradient x input",
    LOGREG: "logistic regression |coefficients|",
    PERM: "random forest permutation importance",
}
SHORT = {IG: "ig", GXI: "gxi", LOGREG: "logreg", PERM: "perm"}
# Models whose accuracy is measured with and without the shortcut.
MLP = "mlp"
FOREST = "random-forest"
LOGISTIC = "logistic-regression"
MODELS = (MLP, FOREST, LOGISTIC)
MODEL_LABELS = {MLP: "MLP", FOREST: "random forest", LOGISTIC: "logistic regression"}

# Verdict thresholds, fixed before any run. The randomisation threshold is chosen
# here, because the check needs a number: a rank correlation of at most 0.5 means
# the random network's attributions share at most a weak ordering with the trained
# network's.
MIN_AUROC = 0.9  # planted features recovered this well: AUROC of the ranking
TOP_K = 5  # the shortcut is "flagged" when its mean rank is within the top 5
MAX_RANDOM_SPEARMAN = 0.5  # randomisation check passes at or below this
# Host syncs in a smoke run: torch.optim.Adam reading its step counter (a CPU
# tensor, so no wait for a GPU), copying the data in once and reading the
# attributions and accuracies back once.
HOST_SYNC_BUDGET = 18


@dataclass(frozen=True)
class Config:
    seeds: int = 10  # independent data sets, feature layouts and models
    features: int = 20  # d: relevant + 1 shortcut + noise
    relevant: int = 4  # planted relevant features (at random columns per seed)
    train_size: int = 3000  # training rows (shortcut agrees with label at rate)
    test_size: int = 2000  # rows of each test set (with and without the shortcut)
    explain_size: int = 500  # in-distribution rows the attributions average over
    shortcut_rate: float = 0.9  # P(shortcut == label) in training and iid test
    label_noise: float = 0.5  # sd of the Gaussian noise added to the latent score
    hidden: int = 64  # width of the MLP's two hidden layers
    steps: int = 1500  # Adam steps (minibatches) per MLP
    batch_size: int = 256  # minibatch rows
    lr: float = 3e-3  # Adam learning rate
    ig_steps: int = 32  # Riemann (midpoint) steps of integrated gradients
    forest_trees: int = 100  # trees of the random forest
    permutation_repeats: int = 5  # shuffles per feature for permutation importance


PROFILES = {
    "smoke": {
        "seeds": 2,
        "train_size": 600,
        "test_size": 400,
        "explain_size": 100,
        "hidden": 16,
        "steps": 100,
        "ig_steps": 8,
        "forest_trees": 10,
        "permutation_repeats": 2,
    },
    "full": {"seeds": 20, "train_size": 10000, "steps": 4000, "forest_trees": 300},
}


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class Dataset:
    """Standardised features [n, d] and 0/1 labels [n] for each split, plus where
    the planted features sit (columns differ per seed)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray  # iid: the shortcut agrees with the label as in training
    y_test: np.ndarray
    x_shifted: np.ndarray  # the same rows with the shortcut redrawn independently
    relevant: np.ndarray  # [relevant] column indices of the planted features
    shortcut: int  # column of the shortcut


def latent_score(x: np.ndarray) -> np.ndarray:
    """The nonlinear signal on the planted columns x [n, r]: a product, a square
    and a linear term (extra planted columns add linearly). Mean about zero."""
    score = x[:, 0] * x[:, 1] + (x[:, 2] ** 2 - 1.0) + x[:, 3]
    if x.shape[1] > 4:
        score = score + x[:, 4:].sum(axis=1)
    return score


def shortcut_column(
    labels: np.ndarray, rate: float, rng: np.random.Generator
) -> np.ndarray:
    """±1 shortcut that equals the label (as ±1) with probability `rate` [n]."""
    agree = rng.random(labels.shape) < rate
    signs = 2.0 * labels - 1.0
    return np.where(agree, signs, -signs)


def make_data(cfg: Config, rng: np.random.Generator) -> Dataset:
    """Gaussian features; labels from the planted features; a shortcut column."""
    if cfg.relevant < 4:
        raise ValueError("the latent score needs at least 4 relevant features")
    d = cfg.features
    layout = rng.permutation(d)
    relevant, shortcut = np.sort(layout[: cfg.relevant]), int(layout[cfg.relevant])

    def split(n: int, rate: float) -> tuple[np.ndarray, np.ndarray]:
        x = rng.standard_normal((n, d))
        noise = cfg.label_noise * rng.standard_normal(n)
        y = (latent_score(x[:, relevant]) + noise > 0).astype(float)
        x[:, shortcut] = shortcut_column(y, rate, rng)
        return x, y

    x_train, y_train = split(cfg.train_size, cfg.shortcut_rate)
    x_test, y_test = split(cfg.test_size, cfg.shortcut_rate)
    # Same rows, only the shortcut broken: the accuracy drop is the shortcut's alone.
    x_shifted = x_test.copy()
    x_shifted[:, shortcut] = shortcut_column(y_test, 0.5, rng)
    return Dataset(x_train, y_train, x_test, y_test, x_shifted, relevant, shortcut)


# ---------------------------------------------------------------- the MLPs


def init_mlps(
    seeds: list[int], d: int, hidden: int, device: torch.device
) -> dict[str, torch.Tensor]:
    """Stacked weights of one d-h-h-1 ReLU MLP per seed (nn.Linear's default
    uniform init, from the seed's own generator): w1 [S, d, h], b1 [S, h],
    w2 [S, h, h], b2 [S, h], w3 [S, h], b3 [S]."""
    shapes = {
        "w1": ((d, hidden), d),
        "b1": ((hidden,), d),
        "w2": ((hidden, hidden), hidden),
        "b2": ((hidden,), hidden),
        "w3": ((hidden,), hidden),
        "b3": ((), hidden),
    }
    stacks: dict[str, list[torch.Tensor]] = {name: [] for name in shapes}
    for seed in seeds:
        generator = torch.Generator().manual_seed(seed)
        for name, (shape, fan_in) in shapes.items():
            bound = 1.0 / np.sqrt(fan_in)
            stacks[name].append(
                (torch.rand(shape, generator=generator) * 2 - 1) * bound
            )
    return {
        name: torch.stack(values).to(device).requires_grad_(True)
        for name, values in stacks.items()
    }


def mlp_logits(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """x [S, n, d] -> logits [S, n]: every seed's MLP on its own rows."""
    h = torch.relu(
        torch.einsum("snd,sdh->snh", x, params["w1"]) + params["b1"][:, None]
    )
    h = torch.relu(
        torch.einsum("snh,shk->snk", h, params["w2"]) + params["b2"][:, None]
    )
    return torch.einsum("snh,sh->sn", h, params["w3"]) + params["b3"][:, None]


def train_mlps(
    x: torch.Tensor, y: torch.Tensor, seeds: list[int], cfg: Config
) -> dict[str, torch.Tensor]:
    """Train all seeds' MLPs as one batched model: x [S, n, d], y [S, n].

    The summed loss gives each seed exactly its own gradient (no shared weights)
    and Adam's steps are per parameter, so this equals training each alone.
    """
    stack, n, d = x.shape
    params = init_mlps(seeds, d, cfg.hidden, x.device)
    optimizer = torch.optim.Adam(params.values(), lr=cfg.lr)
    # Minibatch rows are drawn on the device, so a step never copies indices from
    # the host (on the CPU these are the same generators as plain CPU ones).
    generators = [
        torch.Generator(device=x.device).manual_seed(10_000 + seed) for seed in seeds
    ]
    batch = min(cfg.batch_size, n)
    for _step in range(cfg.steps):
        rows = torch.stack(
            [
                torch.randperm(n, generator=g, device=x.device)[:batch]
                for g in generators
            ]
        )  # [S, batch]
        xb = torch.gather(x, 1, rows[..., None].expand(-1, -1, d))
        yb = torch.gather(y, 1, rows)
        losses = F.binary_cross_entropy_with_logits(
            mlp_logits(params, xb), yb, reduction="none"
        ).mean(dim=1)  # [S]
        optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        optimizer.step()
    return {name: value.detach() for name, value in params.items()}


# ---------------------------------------------------------------- attributions


def input_gradient(model, x: torch.Tensor) -> torch.Tensor:
    """d model(x) / dx, same shape as x. Rows are independent, so the gradient of
    the summed outputs is each row's own gradient."""
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x).sum(), x)
    return grad


def gradient_x_input(model, x: torch.Tensor) -> torch.Tensor:
    """Gradient x input (Shrikumar et al.): x * df/dx, same shape as x."""
    return x.detach() * input_gradient(model, x)


def integrated_gradients(
    model, x: torch.Tensor, baseline: torch.Tensor, steps: int
) -> torch.Tensor:
    """Integrated gradients (Sundararajan et al.): (x - x') times the mean gradient
    along the straight path from the baseline x' to x, by the midpoint rule with
    `steps` points. Sums to about f(x) - f(x') (completeness). Same shape as x."""
    total = torch.zeros_like(x)
    for k in range(steps):
        alpha = (k + 0.5) / steps
        total = total + input_gradient(model, baseline + alpha * (x - baseline))
    return (x - baseline) * total / steps


def rowwise_spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over rows of the Spearman correlation between a[i] and b[i] ([n, d])."""
    ra, rb = rankdata(a, axis=1), rankdata(b, axis=1)
    ra = ra - ra.mean(axis=1, keepdims=True)
    rb = rb - rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    rho = np.where(denom > 0, (ra * rb).sum(axis=1) / np.where(denom > 0, denom, 1), 0)
    return float(rho.mean())


# ---------------------------------------------------------------- metrics


def relevance_auroc(scores: np.ndarray, relevant: np.ndarray, shortcut: int) -> float:
    """AUROC of per-feature scores [d] for relevant vs noise; the shortcut is left
    out (it is scored by its rank instead)."""
    d = len(scores)
    truth = np.isin(np.arange(d), relevant).astype(int)
    keep = np.arange(d) != shortcut
    return float(roc_auc_score(truth[keep], scores[keep]))


def feature_rank(scores: np.ndarray, feature: int) -> float:
    """1-based rank of `feature` by descending score (ties share their mean rank)."""
    return float(rankdata(-scores)[feature])


# ---------------------------------------------------------------- the run


def tensor(values: list[np.ndarray], device: torch.device) -> torch.Tensor:
    return torch.tensor(np.stack(values), dtype=torch.float32, device=device)


def run(cfg: Config, ctx: RunContext) -> pd.DataFrame:
    """Tidy records, one row per (seed, arm, metric). Attribution arms: auroc,
    shortcut_rank, shortcut_flagged and (MLP methods) random_spearman (per row)
    and random_spearman_global (of the per-feature means). Model arms:
    accuracy_iid, accuracy_shifted, accuracy_drop (points)."""
    seeds = list(range(cfg.seeds))
    data = {seed: make_data(cfg, np.random.default_rng(seed)) for seed in seeds}
    records = core.Records()

    def attribution(seed: int, arm: str, scores: np.ndarray) -> None:
        ds = data[seed]
        rank = feature_rank(scores, ds.shortcut)
        records.add_many(
            {
                "auroc": relevance_auroc(scores, ds.relevant, ds.shortcut),
                "shortcut_rank": rank,
                "shortcut_flagged": float(rank <= TOP_K),
            },
            seed=seed,
            arm=arm,
        )

    def accuracy(seed: int, arm: str, iid: float, shifted: float) -> None:
        records.add_many(
            {
                "accuracy_iid": 100 * iid,
                "accuracy_shifted": 100 * shifted,
                "accuracy_drop": 100 * (iid - shifted),
            },
            seed=seed,
            arm=arm,
        )

    # All seeds' MLPs train as one batched model.
    device = ctx.device
    x_train = tensor([data[s].x_train for s in seeds], device)  # [S, n, d]
    y_train = tensor([data[s].y_train for s in seeds], device)  # [S, n]
    params = train_mlps(x_train, y_train, seeds, cfg)
    # "Randomised" network: the same architecture, freshly initialised weights.
    random_params = init_mlps(
        [50_000 + s for s in seeds], cfg.features, cfg.hidden, device
    )
    random_params = {name: value.detach() for name, value in random_params.items()}
    x_explain = tensor([data[s].x_test[: cfg.explain_size] for s in seeds], device)
    baseline = torch.zeros_like(x_explain)  # features are standardised: the mean

    def explain(weights) -> dict[str, np.ndarray]:
        model = lambda x: mlp_logits(weights, x)  # noqa: E731
        return {
            IG: integrated_gradients(model, x_explain, baseline, cfg.ig_steps),
            GXI: gradient_x_input(model, x_explain),
        }

    trained = {k: v.cpu().numpy() for k, v in explain(params).items()}
    randomised = {k: v.cpu().numpy() for k, v in explain(random_params).items()}
    with torch.no_grad():
        iid = mlp_logits(params, tensor([data[s].x_test for s in seeds], device)) > 0
        shifted = mlp_logits(params, tensor([data[s].x_shifted for s in seeds], device))
        shifted = shifted > 0
    y_test = tensor([data[s].y_test for s in seeds], device).bool()
    iid_acc = (iid == y_test).float().mean(dim=1).cpu().numpy()
    shifted_acc = (shifted == y_test).float().mean(dim=1).cpu().numpy()

    for index, seed in enumerate(ctx.progress(seeds, desc="seeds")):
        ds = data[seed]
        accuracy(seed, MLP, float(iid_acc[index]), float(shifted_acc[index]))
        for method in (IG, GXI):
            attributions = np.abs(trained[method][index])  # [rows, d]
            attribution(seed, method, attributions.mean(axis=0))
            random_attributions = np.abs(randomised[method][index])
            records.add_many(
                {
                    "random_spearman": rowwise_spearman(
                        attributions, random_attributions
                    ),
                    # The same check on the global ranking (mean |attribution|).
                    "random_spearman_global": rowwise_spearman(
                        attributions.mean(axis=0, keepdims=True),
                        random_attributions.mean(axis=0, keepdims=True),
                    ),
                },
                seed=seed,
                arm=method,
            )
        # Logistic regression: the data are standardised already.
        logistic = LogisticRegression(max_iter=1000).fit(ds.x_train, ds.y_train)
        attribution(seed, LOGREG, np.abs(logistic.coef_[0]))
        accuracy(
            seed,
            LOGISTIC,
            logistic.score(ds.x_test, ds.y_test),
            logistic.score(ds.x_shifted, ds.y_test),
        )
        forest = RandomForestClassifier(
            n_estimators=cfg.forest_trees, min_samples_leaf=5, random_state=seed
        ).fit(ds.x_train, ds.y_train)
        rows = slice(0, cfg.explain_size)
        importance = permutation_importance(
            forest,
            ds.x_test[rows],
            ds.y_test[rows],
            n_repeats=cfg.permutation_repeats,
            random_state=seed,
        ).importances_mean
        attribution(seed, PERM, importance)
        accuracy(
            seed,
            FOREST,
            forest.score(ds.x_test, ds.y_test),
            forest.score(ds.x_shifted, ds.y_test),
        )
    return records.frame()


# ---------------------------------------------------------------- summary


def summarize(records: pd.DataFrame) -> dict[str, Estimate]:
    estimates: dict[str, Estimate] = {}
    for method in METHODS:
        short = SHORT[method]
        estimates[f"{short}_auroc"] = core.bootstrap(
            core.per_seed(records, "auroc", arm=method), digits=3
        )
        estimates[f"{short}_shortcut_rank"] = core.bootstrap(
            core.per_seed(records, "shortcut_rank", arm=method),
            digits=1,
            label="mean rank",
        )
        estimates[f"{short}_shortcut_flagged"] = core.bootstrap(
            100 * core.per_seed(records, "shortcut_flagged", arm=method),
            unit="% of seeds",
            digits=0,
        )
    for method in (IG, GXI):
        for metric in ("random_spearman", "random_spearman_global"):
            estimates[f"{SHORT[method]}_{metric}"] = core.bootstrap(
                core.per_seed(records, metric, arm=method), digits=2
            )
    for model in MODELS:
        short = {MLP: "mlp", FOREST: "forest", LOGISTIC: "logistic"}[model]
        for metric in ("accuracy_iid", "accuracy_shifted", "accuracy_drop"):
            estimates[f"{short}_{metric}"] = core.bootstrap(
                core.per_seed(records, metric, arm=model), unit="points", digits=1
            )
    return estimates


RULE = (
    f"Integrated gradients on the MLP (the main method): holds if its AUROC for the "
    f"planted features is >= {MIN_AUROC:g}, it flags the shortcut (mean rank <= "
    f"{TOP_K} of the features) and it passes the randomisation check (mean "
    f"Spearman correlation with the randomised network's attributions <= "
    f"{MAX_RANDOM_SPEARMAN:g}), each with its whole 95% CI past the threshold; "
    f"refuted if any of the three fails with its whole CI on the wrong side; "
    f"inconclusive otherwise."
)


def verdict(estimates: dict[str, Estimate]) -> Verdict:
    auroc = estimates["ig_auroc"]
    rank = estimates["ig_shortcut_rank"]
    spearman = estimates["ig_random_spearman"]
    reason = (
        f"integrated gradients: AUROC {auroc.text()}, shortcut rank {rank.text()}, "
        f"Spearman with the randomised network {spearman.text()}"
    )
    decided = all_of(
        auroc.above(MIN_AUROC), rank.below(TOP_K), spearman.below(MAX_RANDOM_SPEARMAN)
    )
    status = {True: "holds", False: "refuted", None: "inconclusive"}[decided]
    thresholds = {
        KEY: MIN_AUROC,
        "ig_shortcut_rank": float(TOP_K),
        "ig_random_spearman": MAX_RANDOM_SPEARMAN,
    }
    return Verdict(status, reason, RULE, thresholds)


# ---------------------------------------------------------------- charts


def dot_chart(
    rows: pd.DataFrame,
    category: str,
    order: list[str],
    *,
    title: str,
    x_title: str,
    x_format: str,
    thresholds: dict[str, float] | None = None,
    colour: str | None = None,
) -> alt.LayerChart:
    """Mean with a 95% CI bar per category (rows), plus per-seed points."""
    table = core.ci_table(
        rows, [category] + ([colour] if colour else []), core.bootstrap
    )
    chart = core.ci_dots(
        table,
        category=category,
        value_title=x_title,
        sort=order,
        colour=colour,
        seeds=rows,
        thresholds=thresholds,
        fmt=x_format,
    )
    return core.sized(chart, title)


def method_rows(records: pd.DataFrame, metric: str) -> pd.DataFrame:
    rows = core.select(records, metric=metric).copy()
    rows["method"] = rows["arm"].map(METHOD_LABELS)
    return rows


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    methods = [METHOD_LABELS[m] for m in METHODS]
    accuracy = records[
        records["metric"].isin(["accuracy_iid", "accuracy_shifted"])
    ].copy()
    accuracy["model"] = accuracy["arm"].map(MODEL_LABELS)
    accuracy["test set"] = accuracy["metric"].map(
        {"accuracy_iid": "shortcut intact", "accuracy_shifted": "shortcut broken"}
    )
    return {
        "attribution_auroc": dot_chart(
            method_rows(records, "auroc"),
            "method",
            methods,
            title="Planted features recovered (mean, 95% CI over seeds)",
            x_title="AUROC of the feature ranking (relevant vs noise)",
            x_format=".3f",
            thresholds={"minimum AUROC": MIN_AUROC},
        ),
        "shortcut_rank": dot_chart(
            method_rows(records, "shortcut_rank"),
            "method",
            methods,
            title="Rank of the shortcut feature (1 = most important)",
            x_title="rank of the shortcut among the features",
            x_format=".1f",
            thresholds={"flagged: top k": float(TOP_K)},
        ),
        "randomisation_check": dot_chart(
            method_rows(records, "random_spearman"),
            "method",
            methods[:2],
            title="Randomisation check: trained vs random-weight attributions",
            x_title="Spearman correlation per row (low = depends on the weights)",
            x_format=".2f",
            thresholds={"maximum Spearman": MAX_RANDOM_SPEARMAN},
        ),
        "shortcut_accuracy": dot_chart(
            accuracy,
            "model",
            [MODEL_LABELS[m] for m in MODELS],
            title="Test accuracy with the shortcut intact and broken",
            x_title="test accuracy (%)",
            x_format=".1f",
            colour="test set",
        ),
    }
