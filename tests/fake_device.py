"""A stand-in GPU on the CPU: tensors on `FAKE` compute on the CPU but refuse what
CUDA would refuse, so a CPU-only CI catches device bugs before a GPU run does.

Under `with FakeDevice(allow_float64=...)`, a factory call or `.to()` naming the
`FAKE` device (torch's "meta" device, which nothing else here uses) yields an
`OnDevice` tensor: a wrapper around a CPU tensor whose every op unwraps, computes
and wraps again. It raises on
- device mixing: an op that takes an OnDevice tensor and a CPU tensor with one or
  more dimensions (CUDA accepts only 0-dim CPU scalars there);
- `.numpy()` on an OnDevice tensor (CUDA needs `.cpu()` first);
- float64 on the device, unless the point declares NEEDS_FLOAT64.
Reading values back (`.item()`, `.cpu()`) works, as on CUDA; tests/host_syncs.py
counts those.
"""

from __future__ import annotations

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_map

FAKE = torch.device("meta")
CPU = torch.device("cpu")


class DeviceError(RuntimeError):
    """What CUDA would have refused."""


class OnDevice(torch.Tensor):
    allow_float64 = False  # set by FakeDevice for the point under test

    @staticmethod
    def __new__(cls, inner: torch.Tensor):
        wrapper = torch.Tensor._make_wrapper_subclass(
            cls,
            inner.size(),
            strides=inner.stride(),
            storage_offset=inner.storage_offset(),
            dtype=inner.dtype,
            layout=inner.layout,
            device=FAKE,
            requires_grad=inner.requires_grad,
        )
        wrapper.inner = inner
        return wrapper

    def __repr__(self) -> str:
        return f"OnDevice({self.inner!r})"

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.ops.aten._to_copy.default and _is(kwargs.get("device"), CPU):
            return func(args[0].inner, **kwargs)  # a copy back to the host

        def unwrap(value):
            if isinstance(value, OnDevice):
                return value.inner
            if isinstance(value, torch.Tensor) and value.dim() > 0:
                raise DeviceError(
                    f"device mixing in {func}: a CPU tensor of shape "
                    f"{tuple(value.shape)} meets a device tensor"
                )
            if isinstance(value, torch.device) and value == FAKE:
                return CPU
            return value

        host_ok = HOST_SOURCES.get(func, ())
        args = tuple(
            tree_map(_inner, a) if i in host_ok else tree_map(unwrap, a)
            for i, a in enumerate(args)
        )
        out = func(*args, **tree_map(unwrap, kwargs))
        return tree_map(cls.wrap, out)

    @classmethod
    def wrap(cls, value):
        if not isinstance(value, torch.Tensor) or isinstance(value, OnDevice):
            return value
        if value.dtype == torch.float64 and not cls.allow_float64:
            raise DeviceError(
                "float64 on the device, but the point does not declare NEEDS_FLOAT64"
            )
        return OnDevice(value)


# Ops with arguments (by position) that CUDA accepts from the host: copy_'s source,
# and the indices of an index (copied over implicitly, a host sync).
HOST_SOURCES = {
    torch.ops.aten.copy_.default: (1,),
    torch.ops.aten.index.Tensor: (1,),
    torch.ops.aten.index_put_.default: (1,),
    torch.ops.aten.index_put.default: (1,),
}


def _inner(value):
    return value.inner if isinstance(value, OnDevice) else value


def _is(device, target: torch.device) -> bool:
    return device is not None and torch.device(device) == target


def _target_device(args, kwargs):
    device = kwargs.get("device")
    if device is None:
        device = next((a for a in args[1:] if isinstance(a, str | torch.device)), None)
    return device


class HostGenerator(torch.Generator):
    """A CPU generator that says it is on the device when asked for FAKE."""

    def __new__(cls, device="cpu"):
        generator = super().__new__(cls, device="cpu")
        generator.on_device = _is(device, FAKE)
        return generator

    def __init__(self, device="cpu") -> None:
        pass  # made in __new__ (the C type takes the device there)

    @property
    def device(self) -> torch.device:
        return FAKE if self.on_device else CPU


def _host_index(index):
    if isinstance(index, tuple):
        return tuple(_host_index(part) for part in index)
    if isinstance(index, list):
        return torch.tensor(index)
    return index


def _on_host(value):
    is_device = isinstance(value, str | torch.device) and _is(value, FAKE)
    return CPU if is_device else value


class FakeDevice(TorchFunctionMode):
    """Route the FAKE device's factories and `.to()` calls to OnDevice tensors."""

    def __init__(self, allow_float64: bool = False) -> None:
        super().__init__()
        OnDevice.allow_float64 = allow_float64
        self.generator = torch.Generator

    def __enter__(self):
        # torch.Generator(device=FAKE) must work, and report FAKE as its device (a
        # point may draw on `generator.device`), while it really draws on the CPU,
        # where the OnDevice tensors' insides live. torch.Generator is not a torch
        # function, so it is swapped for the duration.
        torch.Generator = HostGenerator
        return super().__enter__()

    def __exit__(self, *exc):
        torch.Generator = self.generator
        return super().__exit__(*exc)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.numpy and isinstance(args[0], OnDevice):
            if kwargs.get("force"):  # numpy(force=True) copies to the host first
                return args[0].inner.detach().numpy()
            raise DeviceError(".numpy() on a device tensor (CUDA needs .cpu() first)")
        if func in (torch.Tensor.__getitem__, torch.Tensor.__setitem__):
            # A list index would become a tensor on the wrapper's (meta) device, its
            # values lost; CUDA copies it from the host.
            args = (args[0], _host_index(args[1]), *args[2:])
        if func in (torch.where, torch.Tensor.where):
            # A Python number here would become a 0-dim tensor on the wrapper's
            # (meta) device, its value lost; CUDA takes it as a host scalar.
            args = tuple(
                torch.tensor(a) if isinstance(a, int | float | bool) else a
                for a in args
            )
        if func is torch.Tensor.to and _is(_target_device(args, kwargs), FAKE):
            if isinstance(args[0], OnDevice):
                return func(*args, **kwargs)
            with torch._C.DisableTorchFunction():
                moved = func(*tree_map(_on_host, args), **tree_map(_on_host, kwargs))
            return OnDevice.wrap(moved)
        if "device" in kwargs and _is(kwargs["device"], FAKE):
            with torch._C.DisableTorchFunction():
                out = func(*args, **{**kwargs, "device": CPU})
            return tree_map(OnDevice.wrap, out)
        return func(*args, **kwargs)
