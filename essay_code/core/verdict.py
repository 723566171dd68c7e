"""The verdict a point's data gives on its claim, with the rule that produced it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Status = Literal["holds", "mitigated", "refuted", "inconclusive"]
STATUSES: tuple[Status, ...] = ("holds", "mitigated", "refuted", "inconclusive")


@dataclass(frozen=True)
class Verdict:
    """status: one of STATUSES; reason: one line with the numbers that decided it;
    rule: the rule in words with its thresholds, printed on the page;
    thresholds: estimate name -> the threshold the rule compares it with (the key
    estimate's at least), so the site can draw it without importing the point."""

    status: Status
    reason: str
    rule: str
    thresholds: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"verdict status {self.status!r} is not one of {STATUSES}")
        if not self.reason or not self.rule:
            raise ValueError("a verdict needs a reason and a rule")
        for name, value in self.thresholds.items():
            if not isinstance(name, str) or not isinstance(value, int | float):
                raise ValueError(f"threshold {name!r}: {value!r} is not a number")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Verdict:
        return cls(**{"thresholds": {}, **data})


def all_of(*checks: bool | None) -> bool | None:
    """Three-valued AND: False if any check fails, None if any is undecided."""
    if any(check is False for check in checks):
        return False
    if any(check is None for check in checks):
        return None
    return True


def any_of(*checks: bool | None) -> bool | None:
    """Three-valued OR: True if any check passes, None if any is undecided."""
    if any(check is True for check in checks):
        return True
    if any(check is None for check in checks):
        return None
    return False


def failure_status(failure: bool | None, fixed: bool | None) -> Status:
    """The usual ladder of a failure claim with a fix arm: refuted if plain deep
    learning does not fail; inconclusive if the failure or the fix is undecided;
    mitigated if the fix closes the gap; holds otherwise."""
    if failure is False:
        return "refuted"
    if failure is None or fixed is None:
        return "inconclusive"
    return "mitigated" if fixed else "holds"
