"""The host-sync counter itself. Each point's smoke run is counted against its
HOST_SYNC_BUDGET (evaluations and the final read-back) on the stand-in GPU, in
tests/test_fake_device.py: a sync added inside a step loop makes the count grow
with the steps and fails there."""

from __future__ import annotations

import pytest
from host_syncs import HostSyncs

pytestmark = pytest.mark.slow


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
