"""Profiles and --set: typed, checked, with errors that name the field."""

from dataclasses import dataclass

import pytest

from essay_code.tooling.config import ConfigError, parse_sets, resolve, stable_hash


@dataclass(frozen=True)
class Demo:
    seeds: int = 5
    lr: float = 0.1
    normalise: bool = False
    sizes: tuple[int, ...] = (8, 16)
    name: str = "mlp"


PROFILES = {"smoke": {"seeds": 2, "sizes": (4,)}}


def test_parse_sets_coerces_each_type():
    parsed = parse_sets(Demo, ["lr=0.5", "normalise=true", "sizes=4, 8,12", "name=rf"])
    assert parsed == {"lr": 0.5, "normalise": True, "sizes": (4, 8, 12), "name": "rf"}


@pytest.mark.parametrize(
    ("assignment", "fragment"),
    [
        ("lr=fast", "field 'lr' expects float"),
        ("seeds=2.5", "field 'seeds' expects int"),
        ("normalise=maybe", "field 'normalise' expects bool"),
        ("learning_rate=0.1", "unknown field 'learning_rate'"),
        ("lr", "expects key=value"),
    ],
)
def test_bad_sets_name_the_field_and_type(assignment, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_sets(Demo, [assignment])


def test_profiles_then_seeds_then_sets():
    assert resolve(Demo, PROFILES, "default") == Demo()
    assert resolve(Demo, PROFILES, "smoke") == Demo(seeds=2, sizes=(4,))
    assert resolve(Demo, PROFILES, "smoke", seeds=3, overrides={"lr": 1.0}) == Demo(
        seeds=3, lr=1.0, sizes=(4,)
    )
    with pytest.raises(ConfigError, match="unknown profile"):
        resolve(Demo, PROFILES, "huge")
    with pytest.raises(ConfigError, match="--seeds must be in \\[1, 1000\\]"):
        resolve(Demo, PROFILES, "default", seeds=0)


def test_stable_hash_ignores_key_order():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})
