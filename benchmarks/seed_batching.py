"""How much faster is one batched model than a loop over seeds? Prints the ratio.

    python benchmarks/seed_batching.py [--seeds 10] [--steps 300] [--device cpu]

Trains the same small MLP on the same data per seed, looped and batched
(essay_code.core.stack_seeded + batched_call), and prints both wall times.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from essay_code.core.batching import batched_call, stack_seeded


def make_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(30, 256), nn.ReLU(), nn.Linear(256, 1))


def looped(seeds: int, steps: int, x: torch.Tensor, y: torch.Tensor) -> float:
    started = time.perf_counter()
    for seed in range(seeds):
        torch.manual_seed(seed)
        model = make_mlp().to(x.device)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for step in range(steps):
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x[seed, step]), y[seed, step]).backward()
            optimizer.step()
    return time.perf_counter() - started


def batched(seeds: int, steps: int, x: torch.Tensor, y: torch.Tensor) -> float:
    started = time.perf_counter()
    skeleton, params = stack_seeded(make_mlp, range(seeds), x.device)
    optimizer = torch.optim.SGD(params.values(), lr=0.1)
    for step in range(steps):
        optimizer.zero_grad()
        out = batched_call(skeleton, params, x[:, step])
        ((out - y[:, step]) ** 2).mean(dim=(1, 2)).sum().backward()
        optimizer.step()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(args.seeds, args.steps, 32, 30, generator=generator).to(args.device)
    y = x[..., :1] * x[..., 1:2]
    loop_s = looped(args.seeds, args.steps, x, y)
    batch_s = batched(args.seeds, args.steps, x, y)
    print(f"{args.seeds} seeds x {args.steps} steps on {args.device}")
    print(f"looped:  {loop_s:6.2f} s")
    print(f"batched: {batch_s:6.2f} s")
    print(f"speed-up: {loop_s / batch_s:.1f}x")


if __name__ == "__main__":
    main()
