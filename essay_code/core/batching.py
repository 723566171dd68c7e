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
