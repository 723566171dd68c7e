"""Charts the site makes from all results at build time: the verdict dashboard on the
home page and each point's history of its key number across regenerations."""

from __future__ import annotations

import altair as alt
import pandas as pd

from essay_code.core.plots import CHART_WIDTH
from essay_code.core.stats import Estimate
from essay_code.site import published
from essay_code.tooling import history

VERDICT_COLOURS = alt.Scale(
    domain=["holds", "mitigated", "refuted", "inconclusive"],
    # The badge colours (essay.css): they say whether the tweet's claim held.
    range=["#1565c0", "#7b1fa2", "#b45309", "#757575"],
)


def dashboard_rows() -> pd.DataFrame:
    rows = []
    for slug, summary in published.summaries().items():
        key = Estimate.from_json(summary["estimates"][summary["key"]])
        rows.append(
            {
                "point": summary["title"],
                "slug": slug,
                "tweets": ", ".join(map(str, summary["tweets"])),
                "verdict": summary["verdict"]["status"],
                "key": summary["key"],
                "key_name": summary.get("names", {}).get(summary["key"])
                or readable(summary["key"]),
                "value": key.value,
                "low": key.low,
                "high": key.high,
                "unit": key.unit,
                # Optional: the threshold the verdict compares the key number with.
                "threshold": published.key_threshold(summary),
            }
        )
    return pd.DataFrame(rows)


def readable(name: str) -> str:
    """An estimate's identifier as words for an axis title (naive_bwt -> naive BWT)."""
    words = name.replace("_", " ").split()
    upper = {"bwt", "auroc", "cv", "mlp", "cnn", "fgsm", "ig", "svd", "fp32", "lr"}
    return " ".join(word.upper() if word in upper else word for word in words)


def dashboard_chart() -> alt.TopLevelMixin | None:
    """Each point's key number with its 95% CI (and threshold where declared), one
    row per point on its own scale (the units differ), coloured by verdict."""
    rows = dashboard_rows()
    if rows.empty:
        return None
    tooltip = ["point", "tweets", "verdict", "key", "value", "low", "high", "unit"]
    panels = []
    for index, (_, row) in enumerate(rows.iterrows()):
        data = pd.DataFrame([row])
        unit = f" ({row['unit']})" if row["unit"] else ""
        base = alt.Chart(data).encode(
            y=alt.Y("point:N", title=None, axis=alt.Axis(labelLimit=200))
        )
        # One legend, on the first panel: what each colour means.
        legend = (
            alt.Legend(title="verdict on the tweet's claim", orient="top")
            if index == 0
            else None
        )
        colour = alt.Color("verdict:N", scale=VERDICT_COLOURS, legend=legend)
        values = [row["low"], row["value"], row["high"], row["threshold"]]
        values = [float(v) for v in values if pd.notna(v)]
        # A key number spanning decades (a ratio of 1 to 2,000, say) gets a log axis.
        log = min(values) > 0 and max(values) / min(values) > 100
        x_scale = alt.Scale(type="log") if log else alt.Scale(zero=False)
        layers = [
            base.mark_rule(strokeWidth=3).encode(
                x=alt.X("low:Q", title=f"{row['key_name']}{unit}", scale=x_scale),
                x2="high:Q",
                color=colour,
                tooltip=tooltip,
            ),
            base.mark_point(filled=True, size=90).encode(
                x="value:Q", color=colour, tooltip=tooltip
            ),
        ]
        if pd.notna(row["threshold"]):
            layers.append(
                base.mark_tick(thickness=2, size=20, color="#888").encode(
                    x="threshold:Q", tooltip=["point", "key", "threshold"]
                )
            )
        panels.append(alt.layer(*layers).properties(width=400, height=24))
    return alt.vconcat(*panels, spacing=6).properties(
        title="Each point's key number with its 95% CI (grey tick: threshold)"
    )


def history_chart(slug: str) -> alt.TopLevelMixin | None:
    """The key number over the regenerations, once there are two to compare."""
    rows = pd.DataFrame([row for row in history.read() if row["slug"] == slug])
    if len(rows) < 2:
        return None
    for column in ("value", "low", "high"):
        rows[column] = rows[column].astype(float)
    base = alt.Chart(rows).encode(
        x=alt.X("timestamp:T", title="regenerated", axis=alt.Axis(format="%Y-%m-%d")),
        color=alt.Color("device:N", title="device"),
    )
    tooltip = [
        "timestamp:T",
        "verdict",
        "value",
        "low",
        "high",
        "device",
        "torch",
        "commit",
    ]
    return (
        base.mark_rule(strokeWidth=2).encode(
            y=alt.Y("low:Q", title=rows["key"].iloc[0]), y2="high:Q", tooltip=tooltip
        )
        + base.mark_line(point=True).encode(y="value:Q", tooltip=tooltip)
    ).properties(width=CHART_WIDTH, height=220, title="Key number across regenerations")
