"""The shared core: what a point module may import (and nothing from other points).

Names load lazily (PEP 562), so `python -m essay_code run` can decide that a point
is fresh without importing torch: a no-op run takes about a second.
"""

from importlib import import_module

_HOMES = {
    "batched_call": "batching",
    "stack_seeded": "batching",
    "unstack": "batching",
    "mean_ci_table": "charts",
    "tooltip_fields": "charts",
    "RunContext": "runner",
    "cpu_threads": "seeding",
    "Estimate": "stats",
    "bootstrap": "stats",
    "bootstrap_slope": "stats",
    "iqm": "stats",
    "Verdict": "verdict",
    "all_of": "verdict",
    "any_of": "verdict",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'essay_code.core' has no attribute {name!r}")
    return getattr(import_module(f"essay_code.core.{_HOMES[name]}"), name)
