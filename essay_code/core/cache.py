"""When must a point re-run? When any input that can change its records changed.

The key has four parts: the point's source, the core's source (essay_code/core/*.py),
the resolved config (profile included) and the torch version. Each part is stored in
summary.json, so `status` can say which one changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from essay_code.core.config import config_to_json, stable_hash
from essay_code.core.registry import Point

CORE_DIR = Path(__file__).resolve().parent


def file_hash(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        # Normalise line endings so a Windows checkout computes the same key.
        digest.update(path.read_bytes().replace(b"\r\n", b"\n"))
    return digest.hexdigest()[:16]


def core_hash() -> str:
    return file_hash(*sorted(CORE_DIR.glob("*.py")))


def cache_parts(point: Point, config, profile: str) -> dict[str, str]:
    parts = {
        "point": file_hash(point.source_path),
        "core": core_hash(),
        "config": stable_hash({"profile": profile, "config": config_to_json(config)}),
        "torch": torch.__version__.split("+")[0],
    }
    parts["key"] = stable_hash(parts)
    return parts


PART_NAMES = {
    "point": "the point's source changed",
    "core": "essay_code/core changed",
    "config": "the config or profile changed",
    "torch": "the torch version changed",
}


@dataclass(frozen=True)
class Freshness:
    state: str  # fresh | stale | missing | corrupt
    reason: str


def freshness(current: dict[str, str], stored_summary: dict | None) -> Freshness:
    if stored_summary is None:
        return Freshness("missing", "no results yet")
    stored = stored_summary.get("cache", {})
    changed = [
        f"{text} ({stored.get(part, '?')} -> {current[part]})"
        for part, text in PART_NAMES.items()
        if stored.get(part) != current[part]
    ]
    if changed:
        return Freshness("stale", "; ".join(changed))
    return Freshness("fresh", "inputs unchanged")
