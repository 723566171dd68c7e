"""Chart specs made light for the page: each inline dataset as CSV text.

Altair writes a chart's data as a list of objects, so every row repeats every field
name; a chart with a few thousand per-seed points weighs hundreds of kilobytes. A
Vega-Lite named dataset may instead be a CSV string, read with the `format` of the
data reference that names it. Each field's type is kept by declaring it in
`format.parse` (numbers, booleans), so the chart draws the same values. Numbers
keep 7 significant digits: more than any axis or tooltip shows.

Fields the spec never names (outside the data) are dropped: no encoding, tooltip,
transform or expression can read them. The test is deliberately crude, any string
of the spec containing the field's name keeps it, so it can only keep too much.

A dataset is left as it is when CSV could not say it exactly: nested values, a
field that mixes types, or a text field with missing values (CSV has no null text).
"""

from __future__ import annotations

import copy
import csv
import io

DIGITS = 7


def field_type(values: list) -> str | None:
    """'number', 'boolean' or 'string' for one field's values; None: not CSV-able."""
    present = [v for v in values if v is not None]
    if all(isinstance(v, bool) for v in present):
        return "boolean"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return "number"
    if all(isinstance(v, str) for v in present) and len(present) == len(values):
        return "string"
    return None


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, f".{DIGITS}g")
    return str(value)


def spec_strings(spec: dict) -> list[str]:
    """Every string (keys and values) of the spec outside its datasets."""
    found, stack = [], [{k: v for k, v in spec.items() if k != "datasets"}]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found += [k for k in node if isinstance(k, str)]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            found.append(node)
    return found


def as_csv(rows, named: list[str]) -> tuple[str, dict] | None:
    """(CSV text, parse map) for a list of flat objects, or None. `named`: the
    spec's strings; a field none of them contains is dropped."""
    if not isinstance(rows, list) or not rows:
        return None
    if not all(isinstance(row, dict) for row in rows):
        return None
    fields = [
        key
        for key in dict.fromkeys(key for row in rows for key in row)
        if any(key in text for text in named)
    ]
    parse = {}
    for field in fields:
        kind = field_type([row.get(field) for row in rows])
        if kind is None or (kind == "string" and any(field not in r for r in rows)):
            return None
        if kind != "string":
            parse[field] = kind
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    writer.writerows([cell(row.get(field)) for field in fields] for row in rows)
    return buffer.getvalue(), parse


def compact_spec(spec: dict) -> dict:
    """A copy of the spec whose named datasets are CSV where that is exact."""
    spec = copy.deepcopy(spec)
    formats, named = {}, spec_strings(spec)
    for name, rows in (spec.get("datasets") or {}).items():
        converted = as_csv(rows, named)
        if converted is not None:
            spec["datasets"][name], parse = converted
            formats[name] = {"type": "csv", "parse": parse}
    stack = [spec]
    while stack and formats:
        node = stack.pop()
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, dict) and data.get("name") in formats:
                data["format"] = formats[data["name"]]
            stack.extend(v for k, v in node.items() if k != "datasets")
        elif isinstance(node, list):
            stack.extend(node)
    return spec
