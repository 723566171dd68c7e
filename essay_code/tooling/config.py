"""Profiles and config overrides: from a point's Config class to a resolved config.

A point's `Config()` defaults are the published (default) profile. `PROFILES` in the
point module holds overrides for 'smoke' (seconds, for tests) and 'full' (bigger, for
a GPU). `--seeds N` and `--set key=value` apply on top, type-checked against the
dataclass field, so a typo or a wrong type fails before anything runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import typing
from collections.abc import Mapping
from typing import Any

PROFILE_NAMES = ("smoke", "default", "full")
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


class ConfigError(ValueError):
    """A bad profile or override; the message names the field and what it expects."""


def _field_types(config_cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(config_cls)
    return {field.name: hints[field.name] for field in dataclasses.fields(config_cls)}


def _coerce(name: str, raw: str, expected: Any) -> Any:
    """Parse one --set value as the field's type: int, float, bool, str or a tuple."""
    origin = typing.get_origin(expected)
    try:
        if expected is bool:
            lowered = raw.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if expected is int:
            return int(raw)
        if expected is float:
            return float(raw)
        if expected is str:
            return raw
        if origin is tuple:
            (item_type, *_rest) = typing.get_args(expected)
            return tuple(
                _coerce(name, part.strip(), item_type) for part in raw.split(",")
            )
    except ValueError:
        pass
    else:
        raise ConfigError(
            f"field {name!r} has type {expected}, which --set cannot parse"
        )
    type_name = getattr(expected, "__name__", str(expected))
    raise ConfigError(f"--set {name}={raw!r}: field {name!r} expects {type_name}")


def parse_sets(config_cls: type, assignments: list[str]) -> dict[str, Any]:
    """['lr=0.1', 'sizes=8,12'] -> {'lr': 0.1, 'sizes': (8, 12)}, type-checked."""
    types = _field_types(config_cls)
    parsed: dict[str, Any] = {}
    for assignment in assignments:
        name, sep, raw = assignment.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"--set expects key=value, got {assignment!r}")
        if name not in types:
            raise ConfigError(
                f"--set {assignment!r}: unknown field {name!r}; "
                f"fields are: {', '.join(sorted(types))}"
            )
        parsed[name] = _coerce(name, raw.strip(), types[name])
    return parsed


def resolve(
    config_cls: type,
    profiles: Mapping[str, Mapping[str, Any]],
    profile: str = "default",
    seeds: int | None = None,
    overrides: Mapping[str, Any] | None = None,
):
    """Build the Config for a profile, then --seeds, then --set overrides."""
    if profile not in PROFILE_NAMES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of {PROFILE_NAMES}")
    values: dict[str, Any] = (
        dict(profiles.get(profile, {})) if profile != "default" else {}
    )
    if seeds is not None:
        if not 1 <= seeds <= MAX_SEEDS:
            raise ConfigError(f"--seeds must be in [1, {MAX_SEEDS}], got {seeds}")
        values["seeds"] = seeds
    values.update(overrides or {})
    try:
        config = config_cls(**values)
    except TypeError as error:
        raise ConfigError(f"{config_cls.__module__}: {error}") from error
    check_ranges(config, set(values))
    return config


MAX_SEEDS = 1000
# Fields named as a share of something are probabilities, in [0, 1].
PROBABILITY = re.compile(r"(_rate$|fraction|^beta[12]$|^gamma$|accuracy$)")
# An int field may grow to this many times its default (or to MAX_COUNT): enough
# for any real variant, not enough to exhaust the machine by a typo.
GROWTH = 1000
MAX_COUNT = 100_000


def valid_range(field: dataclasses.Field) -> tuple[float, float, bool]:
    """(low, high, low_exclusive) of a numeric field: declared in the field's
    metadata as {"range": (low, high)}, or else read off its default. A positive
    default means a positive value (a size, a count, a rate); a zero default allows
    zero; a negative default allows any finite value. `seeds` is at most MAX_SEEDS."""
    if "range" in field.metadata:
        low, high = field.metadata["range"]
        return float(low), float(high), False
    default = field.default
    if isinstance(default, tuple) and default:
        default = min(default)
    if field.name == "seeds":
        return 1, MAX_SEEDS, False
    if PROBABILITY.search(field.name):
        return 0.0, 1.0, False
    if isinstance(default, bool) or not isinstance(default, int | float):
        return -math.inf, math.inf, False
    if isinstance(default, int):
        high = max(MAX_COUNT, GROWTH * abs(default))
        return (1 if default > 0 else 0 if default == 0 else -high), high, False
    if default > 0:
        return 0.0, math.inf, True
    return (0.0 if default == 0 else -math.inf), math.inf, False


def check_ranges(config, names: set[str]) -> None:
    """Every numeric value the request set is finite and in its field's range; one
    line naming the field, the value and the range otherwise."""
    for field in dataclasses.fields(config):
        if field.name not in names:
            continue
        value = getattr(config, field.name)
        low, high, exclusive = valid_range(field)
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, bool) or not isinstance(item, int | float):
                continue
            bad = not math.isfinite(item) or item > high
            bad = bad or (item <= low if exclusive else item < low)
            if bad:
                opening = "(" if exclusive else "["
                closing = ")" if math.isinf(high) else "]"
                raise ConfigError(
                    f"{field.name}={item!r} is out of range: it must be finite and in "
                    f"{opening}{low:g}, {high:g}{closing}"
                )


def config_to_json(config) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(config)))


def stable_hash(value: Any) -> str:
    """sha256 of canonical JSON (sorted keys): the same value, the same hash."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
