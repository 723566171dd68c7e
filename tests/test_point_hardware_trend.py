"""hardware-trend: the sourced GPU table, the doubling-time fit on exact
exponentials, the live matmul measurement and the verdict rule."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
import torch

from essay_code.core import Estimate
from essay_code.points import hardware_trend as ht

# ---------------------------------------------------------------- the table


def test_every_row_has_a_source_and_years_increase():
    table = ht.load_table()
    assert len(table) >= 6
    assert table["source"].str.startswith("http").all()
    assert table["note"].str.len().gt(0).all()
    assert np.all(np.diff(table["year"].to_numpy()) > 0)
    # Low precision is never slower than FP32, and both peaks grow over the table.
    assert (table["lowp_tflops"] >= table["fp32_tflops"]).all()
    assert table["fp32_tflops"].iloc[-1] > table["fp32_tflops"].iloc[0]


def test_the_pinned_hash_catches_an_edited_table(tmp_path):
    edited = tmp_path / "gpu_peaks.csv"
    edited.write_text(ht.TABLE_PATH.read_text().replace("8.73", "9.73"))
    with pytest.raises(ValueError, match="TABLE_SHA256"):
        ht.load_table(edited)
    digest = hashlib.sha256(ht.TABLE_PATH.read_bytes()).hexdigest()
    assert digest == ht.TABLE_SHA256


def test_decimal_year():
    assert ht.decimal_year("2020-01-01") == 2020.0
    assert ht.decimal_year("2021-07-02") == pytest.approx(2021 + 182 / 365)


# ---------------------------------------------------------------- the fit


def synthetic_records(doubling: float, lowp_doubling: float) -> pd.DataFrame:
    years = np.array([2014.5, 2016.0, 2017.25, 2020.0, 2022.5, 2024.0])
    table = pd.DataFrame(
        {
            "gpu": [f"gpu{i}" for i in range(len(years))],
            "year": years,
            "source": "https://example.org",
            "fp32_tflops": 3.0 * 2 ** ((years - 2014) / doubling),
            "lowp_tflops": 5.0 * 2 ** ((years - 2014) / lowp_doubling),
        }
    )
    return ht.table_records(table)


def test_fit_recovers_an_exact_doubling_time():
    years = np.arange(2010.0, 2025.0, 1.5)
    assert ht.doubling_years(years, 2 ** (years / 2)) == pytest.approx(2.0)
    estimates = ht.doubling_estimates(synthetic_records(2.0, 1.0))
    # Exact exponentials: every resample has the same slope, so the CI is a point.
    for name, expected in [
        ("fp32_doubling_years", 2.0),
        ("lowp_doubling_years", 1.0),
        ("doubling_ratio", 2.0),
    ]:
        est = estimates[name]
        assert est.value == pytest.approx(expected)
        assert est.low == pytest.approx(expected) and est.high == pytest.approx(
            expected
        )


def test_bootstrap_ci_covers_the_fit_and_is_fixed():
    records = ht.table_records(ht.load_table())
    first = ht.doubling_estimates(records)
    assert first == ht.doubling_estimates(records)  # fixed bootstrap seed
    for est in first.values():
        assert est.low < est.value < est.high
    # The low-precision series grows faster than FP32 in the sourced table.
    assert first["lowp_doubling_years"].value < first["fp32_doubling_years"].value


# ---------------------------------------------------------------- live measurement


def test_live_measurement_is_positive_and_named():
    ctx = ht.RunContext(show_progress=False)
    gflops = ht.matmul_gflops(0, 128, torch.float32, ctx, min_seconds=0.05)
    assert gflops > 0
    cfg = ht.Config(seeds=2, matmul_size=128, min_seconds=0.05, error_size=32)
    records = ht.run(cfg, ctx)
    live = records[records["metric"] == "live_gflops"]
    assert len(live) == 2 and (live["value"] > 0).all()
    assert live["gpu"].str.startswith("CPU").all()
    assert "live_fp32_gflops" in ht.summarize(records)
    # Without timings (the smoke profile) the throughput stays out of the records.
    untimed = ht.run(cfg, ht.RunContext(show_progress=False, record_timings=False))
    assert "live_gflops" not in set(untimed["metric"])
    assert (untimed["metric"] == "correct_bits").sum() == 4


def test_lower_precision_gets_fewer_bits_right():
    cpu = torch.device("cpu")
    fp32 = ht.correct_bits(1, 64, torch.float32, cpu)
    bf16 = ht.correct_bits(1, 64, torch.bfloat16, cpu)
    assert 18 < fp32 < 26  # a 24-bit significand, minus rounding growth
    assert 5 < bf16 < 10  # an 8-bit significand


# ---------------------------------------------------------------- verdict


def est(value: float, low: float, high: float) -> Estimate:
    return Estimate(value, low, high, method="test", n=6)


@pytest.mark.parametrize(
    ("fp32", "status"),
    [
        (est(2.0, 1.7, 2.6), "holds"),
        (est(4.0, 3.5, 5.0), "refuted"),
        (est(1.0, 0.8, 1.3), "refuted"),
        (est(2.8, 2.2, 4.8), "inconclusive"),
        (est(1.6, 1.2, 2.0), "inconclusive"),
    ],
)
def test_verdict_returns_each_status(fp32, status):
    summary = {ht.KEY: fp32, "lowp_doubling_years": est(1.2, 1.0, 1.6)}
    result = ht.verdict(summary)
    assert result.status == status
    assert "1.5" in result.rule and "3" in result.rule
    assert result.thresholds == {ht.KEY: ht.MOORE_MAX_YEARS}
