"""No host syncs per training step: each point's smoke run makes at most the host
syncs its module declares (HOST_SYNC_BUDGET: evaluations and the final read-back),
counted on the CPU by tests/host_syncs.py. A sync added inside a step loop makes
the count grow with the steps and fails here."""

from __future__ import annotations

import pytest
from conftest import POINT_IDS, POINTS
from host_syncs import HostSyncs

from essay_code.tooling.runner import RunContext, resolve_config

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("point", POINTS, ids=POINT_IDS)
def test_smoke_run_stays_within_its_host_sync_budget(point):
    budget = getattr(point.module, "HOST_SYNC_BUDGET", None)
    if budget is None:
        pytest.skip("this point declares no HOST_SYNC_BUDGET yet")
    config = resolve_config(point, "smoke")
    ctx = RunContext(show_progress=False, record_timings=False)
    with HostSyncs() as syncs:
        point.module.run(config, ctx)
    worst = ", ".join(f"{site} x{n}" for site, n in syncs.sites.most_common(5))
    assert syncs.total <= budget, f"{syncs.total} host syncs > {budget}: {worst}"


def test_the_counter_sees_readbacks_masks_and_copies():
    import torch

    x = torch.arange(4.0)
    with HostSyncs() as syncs:
        exec(  # noqa: S102 - run the probe as if from a point module's file
            compile(
                "x[x > 1].sum().item(); torch.as_tensor([1.0]); bool(x[0] > 0)",
                "/essay_code/points/fake.py",
                "exec",
            ),
            {"x": x, "torch": torch},
        )
    assert syncs.total == 4, syncs.sites  # mask, item, host copy, bool
