"""Saving a point's Altair charts: the Vega-Lite spec the site renders live, and
static SVGs (light and dark) that the page shows when JavaScript is off."""

from __future__ import annotations

import json
from pathlib import Path

import altair as alt
import pandas as pd
import vl_convert

# Transparent so the chart sits on the page colour in both Material schemes.
SVG_CONFIG = {"background": None}
THEMES = {"light": None, "dark": "dark"}
CHART_WIDTH = 560
# Legends below the plot: a 560-px chart plus a side legend overflows Material's
# content column. Stored in each spec, so the live chart and the SVGs agree.
SPEC_CONFIG = {"legend": {"orient": "bottom", "direction": "horizontal"}}


def save_charts(charts: dict[str, alt.TopLevelMixin], folder: Path) -> list[str]:
    """Write <name>.vl.json, <name>.light.svg and <name>.dark.svg for every chart."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, chart in charts.items():
        if not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"chart name {name!r} must be letters, digits, - and _")
        spec = chart.to_dict()
        spec["config"] = {**SPEC_CONFIG, **spec.get("config", {})}
        (folder / f"{name}.vl.json").write_text(
            json.dumps(spec, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
        for scheme, theme in THEMES.items():
            svg = vl_convert.vegalite_to_svg(spec, theme=theme, config=SVG_CONFIG)
            (folder / f"{name}.{scheme}.svg").write_text(svg, encoding="utf-8")
    return sorted(charts)


def tooltip_fields(*fields: str | alt.Tooltip) -> list:
    """Tooltips are required on every chart; this keeps their declaration short."""
    return [alt.Tooltip(f) if isinstance(f, str) else f for f in fields]


def mean_ci_table(records: pd.DataFrame, by: list[str], estimate) -> pd.DataFrame:
    """Per-group Estimate as a flat table (value, low, high) for a CI band chart.

    records: tidy records; by: grouping columns; estimate: values -> Estimate.
    """
    rows = []
    for keys, group in records.groupby(by, sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        result = estimate(group["value"].to_numpy())
        rows.append(
            {
                **dict(zip(by, keys, strict=True)),
                "mean": result.value,
                "low": result.low,
                "high": result.high,
                "seeds": result.n,
            }
        )
    return pd.DataFrame(rows)
