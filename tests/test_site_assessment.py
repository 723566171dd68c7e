"""The assessment tables on a page: right content, and inert whatever results hold."""

import pytest

from essay_code.core.assessment import Tuning, convergence, robustness_map
from essay_code.core.verdict import Verdict
from essay_code.site import assessment
from essay_code.site.markers import MarkerError, badge, safe

PAYLOAD = "<img src=x onerror=alert(1)> [link](http://evil) {{ x.y }}"


def summary_with_assessment() -> dict:
    statuses = {2: "refuted", 3: "holds"}
    robustness = robustness_map(
        {"k": [2, 3]},
        lambda s: Verdict(statuses[s["k"]], f"at k = {s['k']} {PAYLOAD}", "rule"),
        {"k": 3},
    )
    curve = convergence(
        "mlp",
        [1, 2, 4],
        [[1.0, 2.0, 2.1], [1.0, 2.0, 2.2]],
        tolerance=0.5,
        metric="acc",
    )
    tuning = Tuning("mlp", {"lr": [0.1, 0.01]}, {"lr": 0.01}, f"validation {PAYLOAD}")
    return {
        "robustness": robustness.to_json(),
        "convergence": [curve.to_json()],
        "tuning": [tuning.to_json()],
        "tuning_effort": PAYLOAD,
        "intrinsic_or_engineering": "persists",
    }


@pytest.mark.parametrize("name", assessment.ASSESSMENT_MARKERS)
def test_assessment_markers_render_escaped(name):
    text = assessment.render(summary_with_assessment(), name, safe, badge)
    assert "<img" not in text and "](http" not in text and "{{" not in text


def test_robustness_table_names_the_hinge_and_the_headline():
    text = assessment.render(summary_with_assessment(), "robustness", safe, badge)
    assert "depends on k" in text
    assert "k = 3 (headline)" in text
    assert text.count("verdict-badge") == 2


def test_convergence_and_tuning_tables_show_the_numbers():
    summary = summary_with_assessment()
    conv = assessment.render(summary, "convergence", safe, badge)
    assert "1: 1.00; 2: 2.00; 4: 2.15" in conv and "| yes |" in conv
    tune = assessment.render(summary, "tuning", safe, badge)
    assert "| lr | 0.1, 0.01 | 0.01 |" in tune
    answer = assessment.render(summary, "intrinsic_or_engineering", safe, badge)
    assert "it persists" in answer


def test_an_unknown_status_in_a_cell_is_refused():
    summary = summary_with_assessment()
    summary["robustness"]["cells"][0]["status"] = "<b>fine</b>"
    with pytest.raises(MarkerError):
        assessment.render(summary, "robustness", safe, badge)
