"""Every point's smoke run on a stand-in GPU (tests/fake_device.py): no device
mixing, no .numpy() on a device tensor, no float64 on the device unless declared,
and no more host syncs than the point declares. CI has no GPU; this is how it
catches what CUDA would refuse."""

from __future__ import annotations

import pytest
import torch
from conftest import POINT_IDS, POINTS
from fake_device import FAKE, DeviceError, FakeDevice
from host_syncs import HostSyncs

from essay_code.tooling.runner import RunContext, resolve_config

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("point", POINTS, ids=POINT_IDS)
def test_smoke_run_on_a_stand_in_gpu(point):
    config = resolve_config(point, "smoke")
    ctx = RunContext(device=FAKE, show_progress=False, record_timings=False)
    needs_float64 = getattr(point.module, "NEEDS_FLOAT64", False)
    with FakeDevice(allow_float64=needs_float64), HostSyncs() as syncs:
        records = point.module.run(config, ctx)
    assert len(records) > 0
    budget = getattr(point.module, "HOST_SYNC_BUDGET", None)
    assert budget is not None, "declare HOST_SYNC_BUDGET"
    assert syncs.total <= budget, f"{syncs.total} host syncs > {budget}"


def test_the_stand_in_refuses_what_cuda_refuses():
    with FakeDevice():
        x = torch.randn(4, 3, device=FAKE)
        net = torch.nn.Linear(3, 2).to(FAKE)
        loss = net(x).pow(2).mean()
        loss.backward()
        assert net.weight.grad is not None and loss.item() >= 0
        assert (x + torch.tensor(1.0)).shape == (4, 3)  # a 0-dim CPU scalar is fine
        with pytest.raises(DeviceError, match="mixing"):
            x + torch.ones(3)
        with pytest.raises(DeviceError, match="numpy"):
            x.detach().numpy()
        with pytest.raises(DeviceError, match="float64"):
            x.double()
        assert x.cpu().numpy().shape == (4, 3)
        rows = torch.arange(6.0, device=FAKE)
        assert rows[[0, 2]].cpu().tolist() == [0.0, 2.0]  # a list index keeps values
        rows[[1]] = torch.tensor(9.0)
        assert rows.cpu().tolist()[1] == 9.0
    with FakeDevice(allow_float64=True):
        assert torch.zeros(2, device=FAKE, dtype=torch.float64).sum().item() == 0
