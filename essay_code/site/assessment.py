"""The assessment a summary carries, as page Markdown: does the verdict survive?

    {{ slug.intrinsic_or_engineering }}  tweet 19's answer, in words
    {{ slug.robustness }}    the verdict at every cell of the design choices
    {{ slug.convergence }}   each deep-learning arm's validation curve and last gain
    {{ slug.tuning }}        each arm's grid, choice and what it was chosen on

Every string comes from results/ and is escaped with markers.safe(); every status
goes through markers.badge(), which refuses an unknown one.
"""

from __future__ import annotations

from essay_code.core.stats import Estimate

ANSWER_TEXT = {
    "fixed-by-engineering": "**engineering**: the fix arm closes the gap",
    "closes-with-scale": (
        "**scale**: with a larger budget or more data, the verdict moves toward refuted"
    ),
    "persists": (
        "**it persists**: plain deep learning fails at every budget tried, and no "
        "fix arm (where the point has one) closes the gap"
    ),
    "no-failure": "**no failure to explain**: plain deep learning does not fail here",
    "undecided": "**undecided**: the data here do not settle it",
}
# The same answers in a few words, for the answer box and the tweet 19/22 tables.
ANSWER_SHORT = {
    "fixed-by-engineering": "engineering: the fix arm closes the gap",
    "closes-with-scale": "scale: more budget or data moves it toward refuted",
    "persists": "it persists at every budget tried",
    "no-failure": "no failure to explain",
    "undecided": "undecided",
}
# Does the data agree that a failure is "deeper" than engineering (tweet 22)?
DEEPER_AGREES = {
    "persists": "yes: it persists",
    "fixed-by-engineering": "no: engineering closes it",
    "closes-with-scale": "no: it closes with scale",
    "no-failure": "no: there is no failure here",
    "undecided": "not settled",
}
ANSWER_RULE = (
    "The rule: the fix arm closing the gap (a *mitigated* verdict) is engineering; "
    "a *holds* that moves toward *refuted* along the budget or data axis closes "
    "with scale; a *holds* at every value of that axis persists; a *refuted* "
    "verdict has no failure to explain; anything else is undecided. Where the "
    "tweet's claim is good news for deep learning (its page says so), "
    "*holds* and *refuted* swap roles in this rule."
)
ASSESSMENT_MARKERS = ("intrinsic_or_engineering", "robustness", "convergence", "tuning")


def label_text(robustness: dict, safe) -> str:
    """The map's label in words: axis identifiers lose their underscores."""
    return safe(str(robustness["label"]).replace("_", " "))


def robustness_sentence(robustness: dict, safe) -> str:
    """'the verdict is robust across its design choices' or 'the verdict depends on
    k and budget'."""
    if robustness["label"] == "robust":
        return "the verdict is **robust** across its design choices"
    return f"the verdict **{label_text(robustness, safe)}**"


def render(summary: dict, name: str, safe, badge) -> str:
    """The Markdown for marker `name`; KeyError if the summary lacks the field."""
    if name == "intrinsic_or_engineering":
        answer = summary["intrinsic_or_engineering"]
        return (
            f"**Intrinsic or engineering (tweet 19)?** {ANSWER_TEXT[answer]}. "
            f"{ANSWER_RULE}"
        )
    return "\n\n" + TABLES[name](summary[name], safe, badge, summary) + "\n\n"


def setting_text(setting: dict, safe) -> str:
    return ", ".join(f"{safe(k)} = {value_text(v, safe)}" for k, v in setting.items())


def value_text(value, safe) -> str:
    if isinstance(value, list):
        return ", ".join(value_text(v, safe) for v in value)
    if isinstance(value, float):
        return safe(f"{value:g}")
    return safe(value)


def robustness_table(robustness: dict, safe, badge, summary: dict) -> str:
    """Two axes: a grid of badges (rows the first axis, columns the second); one or
    three: a list. The reason of every cell follows in a collapsed block."""
    label = robustness["label"]
    words = label_text(robustness, safe)
    headline = robustness["headline"]
    lead = (
        "**Robust**: the rule gives the same verdict in every cell of the map "
        "(the training check, which can make a headline inconclusive, is applied "
        "to the headline alone)."
        if label == "robust"
        else f"**The verdict {words}**: the cells below differ, so read the "
        "headline with the choice it was made at."
    )
    axes = robustness["axes"]
    cells = robustness["cells"]
    two = len(axes) == 2
    rows = [
        lead,
        "",
        *(grid(axes, cells, headline, safe, badge) if two else []),
    ]
    reasons = [
        "| setting | verdict | why |",
        "|---|---|---|",
        *(
            f"| {setting_text(c['setting'], safe)}"
            f"{' (headline)' if c['setting'] == headline else ''} | "
            f"{badge(c['status'])} | {safe(c['reason'])} |"
            for c in cells
        ),
    ]
    if not two:
        return "\n".join(rows + reasons)
    return "\n".join(
        rows
        + ["", '??? note "Why each cell says what it says"', ""]
        + ["    " + line for line in reasons]
    )


def grid(axes: dict, cells: list, headline: dict, safe, badge) -> list[str]:
    (row_axis, row_values), (col_axis, col_values) = axes.items()
    status = {
        (repr(c["setting"].get(row_axis)), repr(c["setting"].get(col_axis))): c
        for c in cells
    }
    header = f"| {safe(row_axis)} ↓ {safe(col_axis)} → | " + " | ".join(
        value_text(v, safe) for v in col_values
    )
    lines = [header + " |", "|---" * (len(col_values) + 1) + "|"]
    for row in row_values:
        entries = []
        for col in col_values:
            cell = status.get((repr(row), repr(col)))
            mark = ""
            if cell and cell["setting"] == headline:
                mark = " **(headline)**"
            entries.append(badge(cell["status"]) + mark if cell else "-")
        lines.append(f"| {value_text(row, safe)} | " + " | ".join(entries) + " |")
    return lines


def convergence_table(records: list, safe, badge, summary: dict) -> str:
    if not records:
        return "*This point has no trained deep-learning arm to check.*"
    rows = [
        "| arm | validation metric at each budget | gain over the last doubling "
        "| tolerance | converged |",
        "|---|---|---|---|---|",
    ]
    for record in records:
        if record.get("last_doubling_gain"):
            gain = Estimate.from_json(record["last_doubling_gain"])
            pairs = zip(record["budgets"], record["curve"], strict=True)
            curve = "; ".join(f"{value_text(b, safe)}: {gain.fmt(v)}" for b, v in pairs)
            gain_text = safe(gain.text())
            tolerance = value_text(record.get("tolerance"), safe)
        else:
            curve, gain_text, tolerance = safe(record.get("note", "")), "-", "-"
        rows.append(
            f"| {safe(record['arm'])} | {safe(record.get('metric', ''))}: {curve} "
            f"| {gain_text} | {tolerance} | "
            f"{'yes' if record['converged'] else '**no: under-trained**'} |"
        )
    return "\n".join(rows)


def tuning_table(records: list, safe, badge, summary: dict) -> str:
    if not records:
        return "*No arm here has a free choice to tune.*"
    rows = [
        "| arm | choice | grid searched | chosen | chosen on |",
        "|---|---|---|---|---|",
    ]
    for record in records:
        if not record["grid"]:  # an arm with nothing to tune says so, and why
            rows.append(
                f"| {safe(record['arm'])} | none | - | - | "
                f"{safe(record.get('selected_on', ''))} |"
            )
        for choice, grid in record["grid"].items():
            chosen = record["chosen"].get(choice, "-")
            selected_on = safe(record.get("selected_on", ""))
            rows.append(
                f"| {safe(record['arm'])} | {safe(choice)} | {value_text(grid, safe)} "
                f"| {value_text(chosen, safe)} | {selected_on} |"
            )
    effort = summary.get("tuning_effort")
    if effort:
        rows += ["", f"Tuning effort: {safe(effort)}"]
    return "\n".join(rows)


TABLES = {
    "robustness": robustness_table,
    "convergence": convergence_table,
    "tuning": tuning_table,
}
