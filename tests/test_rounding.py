"""The GPU-rounding stand-in: a few ulp on every product, inside vmap too."""

import torch

from essay_code.tooling.rounding import ULPS, RoundingNoise
from essay_code.tooling.runner import rounding_check


def test_products_move_by_at_most_a_few_ulp():
    a = torch.randn(64, 32, generator=torch.Generator().manual_seed(0))
    b = torch.randn(32, 16, generator=torch.Generator().manual_seed(1))
    clean = a @ b
    with RoundingNoise():
        noisy = a @ b
        again = torch.matmul(a, b)
        summed = a + a  # not a product: untouched
    relative = ((noisy - clean) / clean).abs()
    assert (relative > 0).float().mean() > 0.9
    # up to ULPS ulp of noise, plus half an ulp for rounding the product itself
    assert relative.max() <= (ULPS + 0.5) * torch.finfo(torch.float32).eps
    assert torch.equal(noisy, again)  # the same values get the same noise
    assert torch.equal(summed, a + a)


def test_noise_works_inside_vmap():
    weights = torch.randn(3, 4, 2)
    x = torch.randn(3, 5, 4)
    with RoundingNoise():
        out = torch.func.vmap(torch.nn.functional.linear)(x, weights.transpose(1, 2))
    assert out.shape == (3, 5, 2)


def test_the_check_reports_both_verdicts():
    from essay_code.core.context import RunContext
    from essay_code.tooling.registry import load_point

    result = rounding_check(
        load_point("hardware-trend"), RunContext(show_progress=False)
    )
    assert result["verdict"] == result["verdict_with_noise"]  # a fit to a table
    assert 0 < result["records_changed"] <= result["records"]
