"""The seed-batching helper: one batched model gives the same numbers as a loop."""

import torch
from torch import nn

from essay_code.core.batching import batched_call, stack_seeded, unstack

SEEDS = [0, 1, 2]


def make_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 1))


def data_for(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(100 + seed)
    x = torch.randn(32, 6, generator=generator)
    return x, x[:, :1] * x[:, 1:2]


def train_looped(seed: int, steps: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    model = make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    x, y = data_for(seed)
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    return {name: p.detach() for name, p in model.named_parameters()}


def train_batched(steps: int) -> dict[str, torch.Tensor]:
    skeleton, params = stack_seeded(make_mlp, SEEDS)
    optimizer = torch.optim.SGD(params.values(), lr=0.05)
    x = torch.stack([data_for(seed)[0] for seed in SEEDS])  # [seeds, 32, 6]
    y = torch.stack([data_for(seed)[1] for seed in SEEDS])
    for _ in range(steps):
        optimizer.zero_grad()
        # Sum of per-seed mean losses: each seed gets exactly its own gradient.
        per_seed = ((batched_call(skeleton, params, x) - y) ** 2).mean(dim=(1, 2))
        per_seed.sum().backward()
        optimizer.step()
    return params


def test_initial_weights_equal_a_model_built_with_that_seed():
    _, params = stack_seeded(make_mlp, SEEDS)
    for index, seed in enumerate(SEEDS):
        torch.manual_seed(seed)
        expected = dict(make_mlp().named_parameters())
        for name, value in unstack(params, index).items():
            assert torch.equal(value, expected[name].detach())


def test_batched_training_equals_looped_training():
    batched = train_batched(steps=25)
    for index, seed in enumerate(SEEDS):
        looped = train_looped(seed, steps=25)
        for name, value in unstack(batched, index).items():
            torch.testing.assert_close(value, looped[name], rtol=1e-5, atol=1e-6)


def test_seeds_do_not_share_updates():
    # If the seeds leaked gradient into each other, equal data would not be enough
    # to keep their updates independent; a different seed must give other weights.
    batched = train_batched(steps=5)
    assert not torch.equal(
        unstack(batched, 0)["0.weight"], unstack(batched, 1)["0.weight"]
    )
