"""When must a point re-run? When any input that can change its records changed.

The key covers the point's source, the core's source (essay_code/core/*.py, the only
library code a point imports; essay_code/tooling is outside the key, so editing the
runner or the CLI never stales a result), the resolved config (profile, overrides
and thread count included) and the torch version. Each part is
stored in summary.json, so `status` can say which one changed.

The resolved config is a function of the point's source and the request (profile,
--seeds, --set), so "same source, same core, same request, same torch" already means
"same key". That lets `run` and `status` decide freshness from file hashes and
package metadata alone, without importing torch or the point: a no-op run takes about
a second. When the request differs, the runner resolves the config and compares its
hash, so an equivalent request (`--set lr=0.10` for a default lr of 0.1) still hits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from essay_code.tooling.config import config_to_json, stable_hash

CORE_DIR = Path(__file__).resolve().parents[1] / "core"

PART_NAMES = {
    "point": "the point's source changed",
    "core": "essay_code/core changed",
    "torch": "the torch version changed",
    "device": "the device changed",
    "request": "the profile, --seeds, --set or --threads changed",
    "config": "the resolved config changed",
}


def file_hash(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        # Normalise line endings so a Windows checkout computes the same key.
        digest.update(path.read_bytes().replace(b"\r\n", b"\n"))
    return digest.hexdigest()[:16]


def core_hash() -> str:
    return file_hash(*sorted(CORE_DIR.glob("*.py")))


def torch_version() -> str:
    """The installed torch release without its build tag: CPU and CUDA builds of one
    release share a key (the device is recorded in the provenance instead)."""
    return metadata.version("torch").split("+")[0]


DEFAULT_THREADS = 1


def request_of(
    profile: str,
    seeds: int | None,
    sets: list[str] | None,
    threads: int = DEFAULT_THREADS,
    device: str = "cpu",
) -> dict:
    """What was asked for. The thread count is part of it (BLAS results can depend
    on how work is split between threads), and so is the device kind (cpu, cuda,
    mps): a GPU's numbers differ from a CPU's, so GPU-made results are never
    'fresh' for a checkout that asks for the CPU."""
    return {
        "profile": profile,
        "seeds": seeds,
        "sets": sorted(sets or []),
        "threads": threads,
        "device": device,
    }


def source_parts(source: Path, request: dict) -> dict[str, str]:
    """The parts known without importing anything heavy."""
    return {
        "point": file_hash(source),
        "core": core_hash(),
        "torch": torch_version(),
        "device": request["device"],
        "request": stable_hash(request),
    }


def cache_parts(source: Path, request: dict, config) -> dict[str, str]:
    """All parts, with the resolved config's hash, and the key over them."""
    parts = source_parts(source, request)
    parts["config"] = stable_hash(
        {
            "profile": request["profile"],
            "config": config_to_json(config),
            "threads": request["threads"],
        }
    )
    parts["key"] = stable_hash(
        {name: parts[name] for name in ("point", "core", "torch", "device", "config")}
    )
    return parts


@dataclass(frozen=True)
class Freshness:
    state: str  # fresh | stale | missing | corrupt
    reason: str


def freshness(current: dict[str, str], stored_summary: dict | None) -> Freshness:
    """Compare the parts we have; with a config hash, the request may differ."""
    if stored_summary is None:
        return Freshness("missing", "no results yet")
    stored = stored_summary.get("cache", {})
    names = ["point", "core", "torch", "device"]
    names.append("config" if "config" in current else "request")
    changed = [
        f"made on {stored.get(name, '?')}, this checkout asked for {current[name]}"
        if name == "device"
        else f"{PART_NAMES[name]} ({stored.get(name, '?')} -> {current[name]})"
        for name in names
        if stored.get(name) != current[name]
    ]
    if changed:
        return Freshness("stale", "; ".join(changed))
    return Freshness("fresh", "inputs unchanged")
