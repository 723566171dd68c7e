"""hidden-influencers: the Gibbs sampler's conditionals, exact recovery of a small
Ising graph by L1 neighbourhood selection (and that its penalty really is L1), the
held-out scores both sides select on, the senate generator, the metrics, the
batched MLPs against one seed alone, early stopping, the saliency, the verdict rule
and the assessment of a smoke run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from essay_code import core
from essay_code.core import Estimate
from essay_code.points import hidden_influencers as point

CFG = point.Config()


def small_model(kind: str) -> point.Senate:
    """A 7-voter chain (J = 0.5) or star (centre 0, J = 0.4), no fields."""
    p = 7
    couplings = np.zeros((p, p))
    if kind == "chain":
        for i in range(p - 1):
            couplings[i, i + 1] = couplings[i + 1, i] = 0.5
    else:
        couplings[0, 1:] = couplings[1:, 0] = 0.4
    return point.Senate(couplings, np.zeros(p), np.zeros(p, int), np.array([0]))


@pytest.fixture(scope="module")
def chain_votes() -> np.ndarray:
    return point.gibbs_votes(small_model("chain"), 3000, 50, np.random.default_rng(1))


@pytest.mark.parametrize("kind", ["chain", "star"])
def test_l1_neighbourhood_selection_recovers_a_small_graph_exactly(kind):
    senate = small_model(kind)
    votes = point.gibbs_votes(senate, 3000, 50, np.random.default_rng(1))
    # lambda = 2 sqrt(log p / n): the support-recovery regime of Ravikumar et al.
    weights, _ = point.l1_neighbourhoods(votes, scale=2.0)
    both = (weights != 0) & (weights.T != 0)  # the AND rule
    assert np.array_equal(both, senate.couplings != 0)
    assert point.edge_auroc(
        point.true_edges(senate), point.upper_triangle(point.symmetrise(weights))
    ) == pytest.approx(1.0)


def test_the_l1_arm_penalty_really_is_l1(chain_votes):
    # Before scikit-learn 1.8, l1_ratio without penalty="elasticnet" was ignored and
    # the fit was L2, which never gives exact zeros; pyproject must pin >= 1.8.
    major, minor = (int(part) for part in sklearn.__version__.split(".")[:2])
    assert (major, minor) >= (1, 8), sklearn.__version__
    weights, _ = point.l1_neighbourhoods(chain_votes, scale=2.0)
    off_diagonal = weights[~np.eye(7, dtype=bool)]
    assert np.sum(off_diagonal == 0) >= 20  # 30 weights, 12 of them true edges
    # The same strength as an L2 penalty keeps every weight nonzero.
    l2 = LogisticRegression(
        l1_ratio=0.0, C=1.0 / (2.0 * np.sqrt(np.log(7) / 3000) * 3000)
    )
    l2.fit(chain_votes[:, 1:], chain_votes[:, 0] > 0)
    assert np.all(l2.coef_ != 0)


def test_held_out_logistic_loss_matches_sklearn(chain_votes):
    fit, held = point.split(chain_votes[:500], 5)
    weights, intercepts = point.l1_neighbourhoods(fit, scale=0.5)
    ours = point.vote_logloss(held @ weights.T + intercepts, held)
    losses = []
    for voter in range(7):
        others = np.delete(np.arange(7), voter)
        model = LogisticRegression(
            l1_ratio=1.0,
            C=1.0 / (0.5 * np.sqrt(np.log(7) / 400) * 400),
            solver="liblinear",
            random_state=0,
        ).fit(fit[:, others], fit[:, voter] > 0)
        probability = model.predict_proba(held[:, others])[:, 1]
        losses.append(log_loss(held[:, voter] > 0, probability, labels=[False, True]))
    assert ours == pytest.approx(np.mean(losses), rel=1e-9)
    assert point.vote_logloss(np.zeros((3, 2)), np.ones((3, 2))) == pytest.approx(
        np.log(2)
    )


def test_split_holds_out_every_fifth_bill():
    votes = np.arange(20.0)[:, None] * np.ones((1, 3))
    fit, held = point.split(votes, 5)
    assert held[:, 0].tolist() == [4, 9, 14, 19]
    assert len(fit) == 16 and not set(fit[:, 0]) & set(held[:, 0])


def test_gaussian_held_out_score_is_the_multivariate_normal_likelihood():
    rng = np.random.default_rng(0)
    covariance = np.array([[1.0, 0.3, 0.0], [0.3, 1.0, -0.2], [0.0, -0.2, 1.0]])
    rows = rng.multivariate_normal(np.zeros(3), covariance, size=50)
    expected = -stats.multivariate_normal(np.zeros(3), covariance).logpdf(rows).mean()
    ours = point.gaussian_nll(np.linalg.inv(covariance), rows)
    assert ours == pytest.approx(expected / 3, rel=1e-10)
    # Partial correlations of a chain's precision: only neighbours are nonzero.
    precision = np.array([[2.0, -1.0, 0.0], [-1.0, 2.0, -1.0], [0.0, -1.0, 2.0]])
    partial = point.partial_correlations(precision)
    assert np.allclose(partial, [[0, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0]])


def test_graphical_lasso_recovers_a_chain_and_picks_by_held_out_score(chain_votes):
    fit, held = point.split(chain_votes, 5)
    fit_standard, held_standard = point.standardise(fit, held)
    assert np.allclose(fit_standard.mean(axis=0), 0) and np.allclose(
        fit_standard.std(axis=0), 1
    )
    edges = point.true_edges(small_model("chain"))
    precision = point.graphical_lasso(fit_standard, 0.5)
    assert point.edge_auroc(
        edges, point.upper_triangle(point.partial_correlations(precision))
    ) == pytest.approx(1.0)
    # An absurd penalty (a diagonal precision) predicts held-out votes worse.
    diagonal = point.graphical_lasso(fit_standard, 100.0)
    assert np.allclose(diagonal - np.diag(np.diag(diagonal)), 0)
    assert point.gaussian_nll(precision, held_standard) < point.gaussian_nll(
        diagonal, held_standard
    )


def test_pick_scale_takes_the_lowest_loss_and_breaks_ties_toward_sparser():
    assert point.pick_scale({0.25: 0.5, 0.5: 0.4, 1.0: 0.45}) == 0.5
    assert point.pick_scale({0.25: 0.4, 0.5: 0.4, 1.0: 0.45}) == 0.5


def test_gibbs_single_site_conditionals_match_the_ising_model():
    p = 5
    couplings = np.zeros((p, p))
    couplings[0, 1:] = couplings[1:, 0] = [0.6, -0.4, 0.3, 0.5]
    couplings[1, 2] = couplings[2, 1] = 0.3
    fields = np.array([0.2, -0.3, 0.0, 0.1, 0.0])
    senate = point.Senate(couplings, fields, np.zeros(p, int), np.array([0]))
    votes = point.gibbs_votes(senate, 40_000, 30, np.random.default_rng(0))
    # Site 0 is drawn first in a sweep (all others move after it); site 4 is last.
    for site in (0, 2, 4):
        local = votes @ couplings[:, site] + fields[site]
        expected = 1.0 / (1.0 + np.exp(-2.0 * local))
        # Group the chains by the exact neighbour field; compare within each group.
        for value in np.unique(np.round(local, 6)):
            group = np.isclose(local, value)
            if group.sum() < 500:
                continue
            empirical = np.mean(votes[group, site] > 0)
            assert empirical == pytest.approx(expected[group][0], abs=0.04)


def test_auroc_helper_perfect_and_constant():
    edges = np.array([0, 1, 0, 1, 1, 0])
    assert point.edge_auroc(edges, edges * 2.0 + 0.5) == 1.0
    assert point.edge_auroc(edges, np.full(6, 0.3)) == 0.5
    assert point.edge_auroc(edges, 1.0 - edges) == 0.0


def test_influencer_recall_and_symmetrise_by_hand():
    weights = np.array([[0.0, -2.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    sym = point.symmetrise(weights)
    assert np.allclose(sym, [[0, 1, 1], [1, 0, 0], [1, 0, 0]])
    # Degrees 2, 1, 1: voter 0 is the top one.
    assert point.influencer_recall(sym, np.array([0])) == 1.0
    assert point.influencer_recall(sym, np.array([2])) == 0.0
    assert point.influencer_recall(sym, np.array([0, 1])) == 1.0


def test_senate_has_two_parties_and_planted_influencers():
    senate = point.make_senate(CFG, np.random.default_rng(3))
    J, p = senate.couplings, CFG.voters
    assert np.allclose(J, J.T) and np.all(np.diag(J) == 0)
    same = senate.party[:, None] == senate.party[None, :]
    hubs = np.zeros(p, dtype=bool)
    hubs[senate.influencers] = True
    ordinary = ~hubs[:, None] & ~hubs[None, :]
    assert np.all(J[same & ordinary] >= 0) and np.all(J[~same & ordinary] <= 0)
    assert len(senate.influencers) == CFG.influencers
    degree = (J != 0).sum(axis=1)
    assert np.all(degree[hubs] >= CFG.influence_degree)
    assert degree[hubs].min() > np.median(degree[~hubs])


def test_mlp_never_sees_its_own_vote_and_saliency_matches_autograd():
    generator = torch.Generator().manual_seed(0)
    votes = torch.randint(0, 2, (2, 30, 5), generator=generator).float() * 2 - 1
    params = point.init_mlps([0, 1], 5, 4, torch.device("cpu"))
    grads = point.saliency(params, votes)  # [2, 5, 5]
    assert torch.all(torch.diagonal(grads, dim1=1, dim2=2) == 0)
    # Flipping voter 3's own vote leaves model 3's logits unchanged.
    flipped = votes.clone()
    flipped[..., 3] *= -1
    assert torch.equal(
        point.mlp_logits(params, votes)[..., 3],
        point.mlp_logits(params, flipped)[..., 3],
    )
    # Model (seed 1, voter 3) alone, differentiated row by row.
    x = votes.clone().requires_grad_(True)
    point.mlp_logits(params, x)[1, :, 3].sum().backward()
    assert torch.allclose(grads[1, 3], x.grad[1].abs().mean(dim=0), atol=1e-6)
    assert torch.all(x.grad[0] == 0)  # seed 0's inputs do not reach seed 1's models


def test_batched_mlps_equal_one_seed_alone():
    cfg = dataclasses.replace(CFG, hidden=8, steps=40, eval_every=5, batch_size=16)
    generator = torch.Generator().manual_seed(1)
    votes = torch.randint(0, 2, (2, 50, 6), generator=generator).float() * 2 - 1
    both = point.train_mlps(
        votes[:, :40], votes[:, 40:], [0, 1], cfg, torch.device("cpu")
    )
    alone = point.train_mlps(
        votes[1:, :40], votes[1:, 40:], [1], cfg, torch.device("cpu")
    )
    for name, value in alone.items():
        assert torch.allclose(both[name][1], value[0], atol=1e-5), name


def test_early_stopping_keeps_the_best_held_out_checkpoint_within_each_budget():
    cfg = dataclasses.replace(CFG, hidden=16, steps=160, eval_every=10, lr=3e-2)
    senate = small_model("star")
    votes = point.gibbs_votes(senate, 60, 30, np.random.default_rng(2))
    fit, held = point.split(votes, 5)
    out = point.train_mlps(
        torch.tensor(fit[None], dtype=torch.float32),
        torch.tensor(held[None], dtype=torch.float32),
        [0],
        cfg,
        torch.device("cpu"),
    )
    curve = out["held_loss"][0].numpy()  # 16 checkpoints
    assert curve.shape == (16,)
    for column, budget in enumerate(point.budgets(cfg)):
        best = int(np.argmin(curve[: budget // 10]))
        assert out["chosen_step"][0, column] == 10 * (best + 1)
    # With 48 fitting bills and a large learning rate the MLPs overfit: the loss
    # at the end is above its minimum, so stopping early matters here.
    assert curve[-1] > curve.min()


def estimates(l1, gap, mlp=(0.9, 0.85, 0.95)):
    def est(triple):
        return Estimate(*triple, method="hand-made", n=5)

    return {
        point.KEY: est(gap),
        "l1_auroc_moderate": est(l1),
        "mlp_auroc_moderate": est(mlp),
        "moderate_n": Estimate(500, 500, 500, method="hand-made", n=5, digits=0),
    }


@pytest.mark.parametrize(
    ("l1", "gap", "status"),
    [
        ((0.96, 0.94, 0.98), (0.08, 0.06, 0.10), "holds"),
        ((0.96, 0.94, 0.98), (0.01, -0.01, 0.015), "refuted"),
        ((0.96, 0.94, 0.98), (-0.05, -0.08, -0.02), "refuted"),
        ((0.96, 0.94, 0.98), (0.06, 0.03, 0.09), "inconclusive"),
        ((0.96, 0.94, 0.98), (0.03, 0.025, 0.04), "inconclusive"),
        ((0.91, 0.88, 0.94), (0.08, 0.06, 0.10), "inconclusive"),
        ((0.80, 0.75, 0.85), (0.08, 0.06, 0.10), "inconclusive"),
        ((0.96, 0.94, 0.98), (0.02, 0.01, 0.03), "inconclusive"),
    ],
)
def test_verdict_rule(l1, gap, status):
    result = point.verdict(estimates(l1, gap))
    assert result.status == status
    assert "n = 500" in result.reason and "0.9" in result.rule
    assert result.thresholds == {
        point.KEY: point.MIN_GAP,
        "l1_auroc_moderate": point.MIN_L1_AUROC,
    }


def hand_records() -> pd.DataFrame:
    """Two seeds, one n: L1 at two constants (seed 0 picks 0.5, seed 1 picks 1.0),
    the MLP at budgets 2 and 4 with held-out losses at steps 1 to 4."""
    records = core.Records()
    for seed, pick in ((0, 0.5), (1, 1.0)):
        for scale, auroc in ((0.5, 0.9 + seed / 100), (1.0, 0.8 + seed / 100)):
            records.add("auroc", auroc, seed=seed, arm=point.L1, n=100, scale=scale)
        records.add("chosen_scale", pick, seed=seed, arm=point.L1, n=100)
        for step, loss in zip((1, 2, 3, 4), (0.6, 0.5, 0.55, 0.45 + seed), strict=True):
            records.add("held_loss", loss, seed=seed, arm=point.MLP, n=100, step=step)
        for budget, auroc in ((2, 0.7), (4, 0.75)):
            records.add("auroc", auroc, seed=seed, arm=point.MLP, n=100, budget=budget)
    return records.frame()


def test_chosen_values_read_each_seeds_own_choice():
    records = hand_records()
    l1 = point.chosen_values(records, point.L1, "auroc", 100)
    assert l1.to_dict() == {0: pytest.approx(0.9), 1: pytest.approx(0.81)}
    assert point.chosen_values(records, point.MLP, "auroc", 100).tolist() == [0.75] * 2
    assert (
        point.chosen_values(records, point.MLP, "auroc", 100, 2).tolist() == [0.7] * 2
    )
    # Early-stopped loss within a budget: the minimum over steps up to it.
    assert point.mlp_stopped_loss(records, 100, 2).tolist() == [0.5, 0.5]
    assert point.mlp_stopped_loss(records, 100, 4).tolist() == [0.45, 0.5]
    assert point.budgets_of(records) == [2, 4]


def test_smoke_run_assessment_has_every_part(smoke_runs):
    from essay_code.tooling.registry import load_point

    records = smoke_runs(load_point("hidden-influencers"))[0]
    estimates = point.summarize(records)
    assert set(estimates) <= set(point.NAMES)  # every estimate has a readable name
    assessment = point.assess(records, estimates)
    assert isinstance(assessment, core.Assessment)
    smoke = dataclasses.replace(CFG, **point.PROFILES["smoke"])
    robustness = assessment.robustness
    assert robustness.axes == {
        "bills": list(smoke.bills),
        "mlp_steps": list(point.budgets(smoke)),
    }
    assert len(robustness.cells) == len(smoke.bills) * 4
    assert robustness.status_at(robustness.headline) == point.verdict(estimates).status
    assert assessment.scale_axis == "bills"
    (convergence,) = assessment.convergence
    assert convergence.arm == point.MLP and convergence.budgets == tuple(
        float(b) for b in point.budgets(smoke)
    )
    # Early stopping: the kept checkpoint's loss never rises with the budget.
    assert all(np.diff(convergence.curve) <= 0)
    arms = [tuning.arm for tuning in assessment.tuning]
    assert arms == [point.L1, point.GLASSO, point.MLP]
    for tuning in assessment.tuning:
        (name,) = tuning.grid
        assert len(tuning.chosen[name]) == smoke.seeds
        assert set(tuning.chosen[name]) <= set(tuning.grid[name])
    # Each classical choice is the held-out argmin over its grid.
    for arm in point.CLASSICAL:
        for (seed, n), rows in core.select(
            records, arm=arm, metric="held_loss"
        ).groupby(["seed", "n"]):
            best = rows.loc[rows["value"].idxmin(), "scale"]
            chosen = core.per_seed(records, "chosen_scale", arm=arm, n=n)[seed]
            assert chosen == best
    for n in smoke.bills:
        assert f"l1_minus_mlp_auroc_n{n}" in estimates
