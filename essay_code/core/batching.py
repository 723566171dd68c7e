"""Train many seeds of one small model as a single batched model.

`stack_seeded` builds the model once per seed (so each seed's initial weights are
exactly what a looped run with that seed would get) and stacks the parameters along a
new leading axis. `batched_call` runs all of them at once with torch.func.vmap over
functional_call. Summing the per-seed losses gives each seed exactly its own gradient
(the seeds share no parameters), so one optimizer step over the stack equals one step
per seed in a loop; tests/test_batching.py checks that.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call, vmap


def stack_seeded(
    make_model: Callable[[], nn.Module],
    seeds: Sequence[int],
    device: torch.device | str = "cpu",
) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    """Return (skeleton, params): params[name] has shape [len(seeds), *param.shape].

    The skeleton supplies only the forward code (models with buffers are not
    supported). The stacked
    parameters are fresh leaf tensors with requires_grad, ready for an optimizer.
    """
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(make_model())
    skeleton = copy.deepcopy(models[0]).to(device)
    params = {
        name: torch.stack([dict(m.named_parameters())[name].detach() for m in models])
        .to(device)
        .requires_grad_(True)
        for name, _ in models[0].named_parameters()
    }
    return skeleton, params


def batched_call(
    skeleton: nn.Module, params: dict[str, torch.Tensor], inputs: torch.Tensor
) -> torch.Tensor:
    """Forward every seed's model on its own inputs: inputs [seeds, batch, ...]."""

    def one_seed(seed_params: dict[str, torch.Tensor], seed_inputs: torch.Tensor):
        return functional_call(skeleton, seed_params, (seed_inputs,))

    return vmap(one_seed)(params, inputs)


def unstack(params: dict[str, torch.Tensor], index: int) -> dict[str, torch.Tensor]:
    """One seed's parameters out of the stack (for checks and for export)."""
    return {name: value[index].detach() for name, value in params.items()}


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """The single-seed model: Linear layers of the given sizes with ReLU between
    (sizes [in, h, out] -> Linear(in, h), ReLU, Linear(h, out))."""
    layers: list[nn.Module] = []
    for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        if index:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(fan_in, fan_out))
    return nn.Sequential(*layers)


class StackedMLP:
    """One `mlp(sizes)` per seed, as stacked weights run with batched matmuls.

    stack_seeded builds each seed's model exactly as a single run with that seed
    would (nn.Linear's default init from torch.manual_seed(seed)); the weights are
    laid out for torch.baddbmm, about twice as fast on a CPU as vmap over
    functional_call for small networks. The seeds share no weights, so summing their
    losses gives each seed its own gradient.

    weights[i]: [S, in_i, out_i]; biases[i]: [S, 1, out_i]; params: all of them.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        seeds: Sequence[int],
        device: torch.device | str = "cpu",
    ):
        _skeleton, params = stack_seeded(lambda: mlp(sizes), seeds, device)
        linear = [name[: -len(".weight")] for name in params if name.endswith("weight")]
        self.weights = [
            params[f"{name}.weight"].detach().transpose(1, 2).contiguous()
            for name in linear
        ]
        self.biases = [
            params[f"{name}.bias"].detach().unsqueeze(1).clone() for name in linear
        ]
        self.params = [*self.weights, *self.biases]
        for param in self.params:
            param.requires_grad_(True)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """x [S, batch, in] -> [S, batch, out], ReLU between layers."""
        last = len(self.weights) - 1
        for index, (weight, bias) in enumerate(
            zip(self.weights, self.biases, strict=True)
        ):
            x = torch.baddbmm(bias, x, weight)
            if index < last:
                x = x.relu()
        return x
