"""The shared core: what a point module may import (and nothing from other points)."""

from essay_code.core.batching import batched_call, stack_seeded, unstack
from essay_code.core.charts import mean_ci_table, tooltip_fields
from essay_code.core.runner import RunContext
from essay_code.core.stats import Estimate, bootstrap, bootstrap_slope, iqm
from essay_code.core.verdict import Verdict, all_of, any_of

__all__ = [
    "Estimate",
    "RunContext",
    "Verdict",
    "all_of",
    "any_of",
    "batched_call",
    "bootstrap",
    "bootstrap_slope",
    "iqm",
    "mean_ci_table",
    "stack_seeded",
    "tooltip_fields",
    "unstack",
]
