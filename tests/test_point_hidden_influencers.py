"""hidden-influencers: the Gibbs sampler's conditionals, exact recovery of a small
Ising graph by L1 neighbourhood selection, the senate generator, the metrics, the
batched MLPs against one seed alone, the saliency, and the verdict rule."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

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


@pytest.mark.parametrize("kind", ["chain", "star"])
def test_l1_neighbourhood_selection_recovers_a_small_graph_exactly(kind):
    senate = small_model(kind)
    votes = point.gibbs_votes(senate, 3000, 50, np.random.default_rng(1))
    # lambda = 2 sqrt(log p / n): the support-recovery regime of Ravikumar et al.
    weights = point.l1_neighbourhoods(votes, scale=2.0)
    both = (weights != 0) & (weights.T != 0)  # the AND rule
    assert np.array_equal(both, senate.couplings != 0)
    assert point.edge_auroc(
        point.true_edges(senate), point.upper_triangle(point.symmetrise(weights))
    ) == pytest.approx(1.0)


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
    # Model (seed 1, voter 3) alone, differentiated row by row.
    x = votes[1].clone().requires_grad_(True)
    inputs = x[None, None].expand(2, 5, -1, -1)
    point.mlp_logits(params, inputs)[1, 3].sum().backward()
    assert torch.allclose(grads[1, 3], x.grad.abs().mean(dim=0), atol=1e-6)


def test_batched_mlps_equal_one_seed_alone():
    cfg = dataclasses.replace(CFG, hidden=8, steps=20, batch_size=16)
    generator = torch.Generator().manual_seed(1)
    votes = torch.randint(0, 2, (2, 40, 6), generator=generator).float() * 2 - 1
    both = point.train_mlps(votes, [0, 1], cfg, torch.device("cpu"))
    alone = point.train_mlps(votes[1:], [1], cfg, torch.device("cpu"))
    for name, value in alone.items():
        assert torch.allclose(both[name][1], value[0], atol=1e-5)


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
