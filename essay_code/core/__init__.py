"""The point-facing core: everything a point module may import, and nothing else.

Points import names from `essay_code.core` only (never a submodule, never another
point; tests/test_imports.py checks). The core's files are part of every point's
cache key, so it holds science and nothing that orchestrates: orchestration lives
in essay_code.tooling, outside the key.

Names load lazily (PEP 562), so `python -m essay_code status` never imports torch.
"""

from importlib import import_module

_HOMES = {
    # batching: many seeds of one small model as one batched model
    "batched_call": "batching",
    "stack_seeded": "batching",
    "unstack": "batching",
    "mlp": "batching",
    "StackedMLP": "batching",
    # assessment: convergence, tuning, robustness map, tweet 19
    "Assessment": "assessment",
    "Convergence": "assessment",
    "Robustness": "assessment",
    "Tuning": "assessment",
    "convergence": "assessment",
    "converged_by_construction": "assessment",
    "guard_training": "assessment",
    "intrinsic_or_engineering": "assessment",
    "robustness_map": "assessment",
    # the run context a point's run() receives
    "RunContext": "context",
    # records: build and read tidy rows
    "Records": "records",
    "select": "records",
    "per_seed": "records",
    "pivot_seeds": "records",
    # plots: the chart vocabulary
    "CHART_WIDTH": "plots",
    "CHART_HEIGHT": "plots",
    "LEGEND": "plots",
    "ci_table": "plots",
    "ci_dots": "plots",
    "ci_curve": "plots",
    "ci_tooltips": "plots",
    "threshold_rules": "plots",
    "tooltips": "plots",
    "sized": "plots",
    "scale": "plots",
    # stats: every number a page prints is an Estimate
    "Estimate": "stats",
    "BOOTSTRAP_RESAMPLES": "stats",
    "BOOTSTRAP_SEED": "stats",
    "CONFIDENCE": "stats",
    "bootstrap": "stats",
    "bootstrap_slope": "stats",
    "mean_interval": "stats",
    "paired_bootstrap": "stats",
    "exact": "stats",
    "iqm": "stats",
    "loglog_slope": "stats",
    # verdict
    "Verdict": "verdict",
    "all_of": "verdict",
    "any_of": "verdict",
    "failure_status": "verdict",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'essay_code.core' has no attribute {name!r}")
    return getattr(import_module(f"essay_code.core.{_HOMES[name]}"), name)
