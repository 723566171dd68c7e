"""From records to what a summary states: estimates, verdict and assessment.

One function, so that a run and gather (which recomputes an artifact's summary to
refuse forgeries) can never judge the same records differently.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from essay_code.core.assessment import Assessment, guard_training
from essay_code.core.verdict import Verdict
from essay_code.tooling.registry import Point
from essay_code.tooling.results import ResultsError


@dataclass(frozen=True)
class Judgement:
    estimates: dict
    verdict: Verdict
    # convergence, robustness, tuning, intrinsic_or_engineering; {} for a point
    # without assess()
    assessment: dict
    # estimate name -> readable name (the point's NAMES); {} for a point without
    names: dict

    def summary_fields(self) -> dict:
        return {
            "estimates": {name: est.to_json() for name, est in self.estimates.items()},
            "verdict": self.verdict.to_json(),
            **({"names": self.names} if self.names else {}),
            **self.assessment,
        }


def readable_names(point: Point, estimates: dict) -> dict:
    """The point's NAMES for the estimates it returned, in their order."""
    declared = getattr(point.module, "NAMES", {})
    if not isinstance(declared, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in declared.items()
    ):
        raise ResultsError(f"{point.slug}: NAMES must map estimate names to strings")
    return {name: declared[name] for name in estimates if name in declared}


def judge(point: Point, records: pd.DataFrame) -> Judgement:
    """The point's rule at its headline; with assess(), the rule at every cell of
    its robustness map (whose headline cell must agree) and the training guard."""
    module = point.module
    estimates = module.summarize(records)
    if module.KEY not in estimates:
        raise ResultsError(f"{point.slug}: summarize() lacks the KEY {module.KEY!r}")
    verdict = module.verdict(estimates)
    if not isinstance(verdict, Verdict):
        raise ResultsError(f"{point.slug}: verdict() must return a Verdict")
    names = readable_names(point, estimates)
    if not hasattr(module, "assess"):
        return Judgement(estimates, verdict, {}, names)
    assessment = module.assess(records, estimates)
    if not isinstance(assessment, Assessment):
        raise ResultsError(f"{point.slug}: assess() must return a core.Assessment")
    at_headline = assessment.robustness.status_at(assessment.robustness.headline)
    if at_headline != verdict.status:
        raise ResultsError(
            f"{point.slug}: the robustness map's headline cell says {at_headline!r} "
            f"but verdict() says {verdict.status!r}; they must be one rule"
        )
    optimistic = bool(getattr(module, "OPTIMISTIC_CLAIM", False))
    verdict = guard_training(verdict, assessment.convergence, optimistic=optimistic)
    fields = assessment.to_json(verdict.status, optimistic=optimistic)
    return Judgement(estimates, verdict, fields, names)
