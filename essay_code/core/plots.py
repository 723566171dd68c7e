"""The chart vocabulary: the two standard shapes every point draws, once.

- `ci_dots`: one dot per category with its 95% CI bar, the seeds behind it as faint
  dots, optional threshold rules and a second grouping (colour) field;
- `ci_curve`: a mean line against x with its CI band, the seeds as faint points,
  log axes where asked.

Both take a table from `ci_table` (columns: the grouping fields, mean, low, high,
seeds) and return ordinary Altair layers that a point can still compose, with
tooltips on every layer and one width and height. `threshold_rules` draws the
verdict's thresholds. Special charts (a sample scatter, a diagram) stay in their
points, sized with `CHART_WIDTH` / `CHART_HEIGHT`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import altair as alt
import pandas as pd

CHART_WIDTH = 560
CHART_HEIGHT = 300
# Legends below the plot: a 560-px chart plus a side legend overflows Material's
# content column. Stored in each spec, so the live chart and the SVGs agree.
SPEC_CONFIG = {"legend": {"orient": "bottom", "direction": "horizontal"}}
# Opaque stroke symbols: a legend would otherwise take a faint band's look.
LEGEND = alt.Legend(
    orient="bottom",
    columns=2,
    symbolType="stroke",
    symbolOpacity=1,
    symbolStrokeWidth=3,
)
SEED_OPACITY = 0.35


def ci_table(
    records: pd.DataFrame, by: Sequence[str], estimate: Callable
) -> pd.DataFrame:
    """Per-group Estimate as a flat table (by..., mean, low, high, seeds).

    records: tidy rows with a `value` column; estimate: values -> Estimate.
    """
    rows = []
    for keys, group in records.groupby(list(by), sort=True):
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


def tooltips(*fields: str | alt.Tooltip) -> list[alt.Tooltip]:
    """Tooltips from shorthand strings or alt.Tooltip objects."""
    return [alt.Tooltip(f) if isinstance(f, str) else f for f in fields]


def ci_tooltips(
    value_title: str, fmt: str = ".1f", *fields: str | alt.Tooltip
) -> list[alt.Tooltip]:
    """The one tooltip convention: the given fields, then mean, the 95% CI and the
    number of seeds."""
    return tooltips(
        *fields,
        alt.Tooltip("mean:Q", title=value_title, format=fmt),
        alt.Tooltip("low:Q", title="95% CI low", format=fmt),
        alt.Tooltip("high:Q", title="95% CI high", format=fmt),
        alt.Tooltip("seeds:Q", title="seeds"),
    )


def sized(chart, title: str, *, height: int | None = None):
    """A chart at the site's one width, with its title."""
    return chart.properties(
        title=title, width=CHART_WIDTH, **({"height": height} if height else {})
    )


def scale(log: bool = False, zero: bool = False, domain=None) -> alt.Scale:
    """Log axes where the data spans decades; otherwise the domain fits the data."""
    kwargs = {"domain": domain} if domain is not None else {}
    if log:
        return alt.Scale(type="log", **kwargs)
    return alt.Scale(zero=zero, **kwargs)


def threshold_rules(
    thresholds: Mapping[str, float], *, axis: str = "x", fmt: str = ".3g"
) -> alt.Chart:
    """Dashed rules at each labelled threshold, on the value axis, with tooltips."""
    table = pd.DataFrame(
        {"threshold": list(thresholds.values()), "rule": list(thresholds)}
    )
    encode = {axis: alt.X("threshold:Q") if axis == "x" else alt.Y("threshold:Q")}
    return (
        alt.Chart(table)
        .mark_rule(strokeDash=[4, 4])
        .encode(
            **encode,
            tooltip=tooltips(
                alt.Tooltip("rule:N", title="threshold"),
                alt.Tooltip("threshold:Q", title="value", format=fmt),
            ),
        )
    )


def ci_dots(
    table: pd.DataFrame,
    *,
    category: str,
    value_title: str,
    category_title: str | None = None,
    sort: Sequence[str] | None = None,
    colour: str | None = None,
    colour_sort: Sequence[str] | None = None,
    seeds: pd.DataFrame | None = None,
    thresholds: Mapping[str, float] | None = None,
    fmt: str = ".1f",
    log: bool = False,
    zero: bool = False,
    extra_tooltips: Sequence[str | alt.Tooltip] = (),
) -> alt.LayerChart:
    """Dots with 95% CI bars, one per category (rows), values on x.

    table: from ci_table, with `category` (and `colour`) columns; seeds: the per-seed
    values behind it (same columns plus `value`), drawn as faint dots.
    """
    cat_fields = [category] + ([colour] if colour else [])
    y = alt.Y(f"{category}:N", title=category_title, sort=list(sort) if sort else None)
    x_scale = scale(log=log, zero=zero)
    colour_enc = (
        {"color": alt.Color(f"{colour}:N", sort=colour_sort, title=None, legend=LEGEND)}
        if colour
        else {}
    )
    offset = {"yOffset": alt.YOffset(f"{colour}:N", sort=colour_sort)} if colour else {}
    tips = ci_tooltips(
        value_title, fmt, *[f"{f}:N" for f in cat_fields], *extra_tooltips
    )
    base = alt.Chart(table).encode(y=y, **colour_enc, **offset)
    bars = base.mark_errorbar(ticks=True).encode(
        x=alt.X("low:Q", title=value_title, scale=x_scale), x2="high:Q", tooltip=tips
    )
    dots = base.mark_point(filled=True, size=70, opacity=1).encode(
        x=alt.X("mean:Q", scale=x_scale), tooltip=tips
    )
    layers = [bars, dots]
    if seeds is not None:
        seed_tips = tooltips(
            *[f"{f}:N" for f in cat_fields],
            alt.Tooltip("seed:Q", title="seed"),
            alt.Tooltip("value:Q", title=value_title, format=fmt),
        )
        layers.insert(
            0,
            alt.Chart(seeds)
            .mark_point(size=18, opacity=SEED_OPACITY)
            .encode(
                y=y,
                x=alt.X("value:Q", scale=x_scale),
                tooltip=seed_tips,
                **colour_enc,
                **offset,
            ),
        )
    if thresholds:
        layers.append(threshold_rules(thresholds, axis="x", fmt=fmt))
    return alt.layer(*layers)


def ci_curve(
    table: pd.DataFrame,
    *,
    x: str,
    x_title: str,
    value_title: str,
    colour: str | None = None,
    colour_sort: Sequence[str] | None = None,
    seeds: pd.DataFrame | None = None,
    thresholds: Mapping[str, float] | None = None,
    fmt: str = ".1f",
    x_fmt: str = "g",
    log_x: bool = False,
    log_y: bool = False,
    zero: bool = False,
    x_values: Sequence[float] | None = None,
    extra_tooltips: Sequence[str | alt.Tooltip] = (),
) -> alt.LayerChart:
    """A mean line with point markers against x, its 95% CI band, and the seeds.

    table: from ci_table, with `x` (and `colour`) columns; seeds: per-seed rows with
    `x`, `colour`, `seed` and `value`, drawn as faint points.
    """
    axis = alt.Axis(values=list(x_values), format=x_fmt) if x_values else alt.Axis()
    x_enc = alt.X(f"{x}:Q", title=x_title, scale=scale(log=log_x, zero=zero), axis=axis)
    y_scale = scale(log=log_y, zero=zero)
    colour_enc = (
        {"color": alt.Color(f"{colour}:N", sort=colour_sort, title=None, legend=LEGEND)}
        if colour
        else {}
    )
    fields = ([f"{colour}:N"] if colour else []) + [
        alt.Tooltip(f"{x}:Q", title=x_title, format=x_fmt)
    ]
    tips = ci_tooltips(value_title, fmt, *fields, *extra_tooltips)
    base = alt.Chart(table).encode(x=x_enc, **colour_enc)
    band = base.mark_area(opacity=0.15).encode(
        y=alt.Y("low:Q", scale=y_scale), y2="high:Q", tooltip=tips
    )
    line = base.mark_line(point=True).encode(
        y=alt.Y("mean:Q", title=value_title, scale=y_scale), tooltip=tips
    )
    layers = [band, line]
    if seeds is not None:
        seed_tips = tooltips(
            *fields,
            alt.Tooltip("seed:Q", title="seed"),
            alt.Tooltip("value:Q", title=value_title, format=fmt),
        )
        layers.insert(
            0,
            alt.Chart(seeds)
            .mark_point(size=14, opacity=SEED_OPACITY)
            .encode(
                x=x_enc,
                y=alt.Y("value:Q", scale=y_scale),
                tooltip=seed_tips,
                **colour_enc,
            ),
        )
    if thresholds:
        layers.append(threshold_rules(thresholds, axis="y", fmt=fmt))
    return alt.layer(*layers)
