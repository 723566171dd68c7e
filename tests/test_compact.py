"""The light chart specs (site/compact.py) draw exactly what the stored ones draw."""

from __future__ import annotations

import json

import vl_convert

from essay_code.site import compact
from essay_code.tooling.results import RESULTS_ROOT

SPECS = sorted(RESULTS_ROOT.glob("*/charts/*.vl.json"))


def test_every_published_chart_draws_the_same_from_csv(monkeypatch):
    # At 17 significant digits a float survives CSV exactly, so any difference in
    # the drawing would come from a lost field, a lost type or a lost row.
    monkeypatch.setattr(compact, "DIGITS", 17)
    assert SPECS, "no published charts to check"
    for path in SPECS:
        spec = json.loads(path.read_text(encoding="utf-8"))
        light = compact.compact_spec(spec)
        assert vl_convert.vegalite_to_svg(light) == vl_convert.vegalite_to_svg(spec), (
            path.relative_to(RESULTS_ROOT)
        )


def test_a_dataset_becomes_csv_with_its_types_and_loses_unnamed_fields():
    spec = {
        "datasets": {
            "d": [
                {"x": 1.5, "flag": True, "label": 'a, "b"', "unused_field": 3},
                {"x": None, "flag": False, "label": "c", "unused_field": 4},
            ]
        },
        "data": {"name": "d"},
        "mark": "point",
        "encoding": {"x": {"field": "x"}, "color": {"field": "flag"}},
        "transform": [{"filter": "datum.label != 'z'"}],
    }
    light = compact.compact_spec(spec)
    assert light["datasets"]["d"] == 'x,flag,label\n1.5,true,"a, ""b"""\n,false,c\n'
    assert light["data"]["format"] == {
        "type": "csv",
        "parse": {"x": "number", "flag": "boolean"},
    }
    assert isinstance(spec["datasets"]["d"], list), "the stored spec is not modified"


def test_data_csv_cannot_say_exactly_stays_json():
    nested = {"datasets": {"d": [{"a": [1, 2]}]}, "data": {"name": "d"}}
    missing_text = {"datasets": {"d": [{"a": "x"}, {"a": None}]}, "data": {"name": "d"}}
    for spec in (nested, missing_text):
        assert compact.compact_spec(spec) == spec
