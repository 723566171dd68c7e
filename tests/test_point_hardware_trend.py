"""hardware-trend: the sourced GPU table, the doubling-time fit on exact
exponentials, the unit conventions, the BCa interval, the live matmul measurement,
the verdict rule and the assessment."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from essay_code.core import Estimate
from essay_code.points import hardware_trend as ht

# ---------------------------------------------------------------- the table


def test_every_row_has_a_source_and_years_increase():
    table = ht.load_table()
    assert len(table) >= 10
    for sources in table["source"]:
        assert all(url.strip().startswith("http") for url in sources.split(";"))
    assert table["note"].str.len().gt(0).all()
    assert np.all(np.diff(table["year"].to_numpy()) > 0)
    # Low precision is never slower than FP32, and both peaks grow over the table.
    assert (table["lowp_tflops"] >= table["fp32_tflops"]).all()
    assert table["fp32_tflops"].iloc[-1] > table["fp32_tflops"].iloc[0]
    assert set(table["tier"]) == {"flagship", "other"}
    assert (table["gpus_per_board"] >= 1).all() and (table["dies"] >= 1).all()
    # The two rows the unit conventions are about.
    by_gpu = table.set_index("gpu")
    assert by_gpu.loc["Tesla K80", ["gpus_per_board", "dies"]].tolist() == [2, 2]
    assert by_gpu.loc["B200 (HGX)", ["gpus_per_board", "dies"]].tolist() == [1, 2]
    assert (table["dies"] >= table["gpus_per_board"]).all()


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


def test_units_divide_the_board_figure():
    records = ht.table_records(ht.load_table())
    years, per_board = ht.series(records, ht.FP32, ht.PER_BOARD)
    _, per_gpu = ht.series(records, ht.FP32, ht.PER_GPU)
    _, per_die = ht.series(records, ht.FP32, ht.PER_DIE)
    table = ht.load_table()
    k80 = int(np.flatnonzero(table["gpu"] == "Tesla K80")[0])
    b200 = int(np.flatnonzero(table["gpu"] == "B200 (HGX)")[0])
    assert per_gpu[k80] == pytest.approx(per_board[k80] / 2)
    assert per_gpu[b200] == pytest.approx(per_board[b200])
    assert per_die[b200] == pytest.approx(per_board[b200] / 2)
    others = np.setdiff1d(np.arange(len(years)), [k80, b200])
    np.testing.assert_allclose(per_gpu[others], per_board[others])
    flagship_years, _ = ht.series(records, ht.FP32, ht.PER_GPU, ht.FLAGSHIPS)
    assert len(flagship_years) == (table["tier"] == "flagship").sum() < len(years)


# ---------------------------------------------------------------- the fit


def synthetic_records(doubling: float, lowp_doubling: float) -> pd.DataFrame:
    """Exact exponentials per GPU; the second row is a two-GPU board (its board
    figure is twice the per-GPU one), the last a two-die GPU."""
    years = np.array([2014.5, 2016.0, 2017.25, 2020.0, 2022.5, 2024.0])
    gpus = np.array([1, 2, 1, 1, 1, 1])
    dies = np.array([1, 2, 1, 1, 1, 2])
    table = pd.DataFrame(
        {
            "gpu": [f"gpu{i}" for i in range(len(years))],
            "year": years,
            "announced": "2020-01-01",
            "source": "https://example.org",
            "fp32_tflops": gpus * 3.0 * 2 ** ((years - 2014) / doubling),
            "lowp_tflops": gpus * 5.0 * 2 ** ((years - 2014) / lowp_doubling),
            "lowp_kind": "BF16",
            "gpus_per_board": gpus,
            "dies": dies,
            "tier": ["flagship"] * 5 + ["other"],
        }
    )
    return ht.table_records(table)


def test_fit_recovers_an_exact_doubling_time_per_gpu_only():
    years = np.arange(2010.0, 2025.0, 1.5)
    assert ht.doubling_years(years, 2 ** (years / 2)) == pytest.approx(2.0)
    records = synthetic_records(2.0, 1.0)
    estimates = ht.trend_estimates(records, ht.PER_GPU, ht.ALL_PARTS)
    # Exact exponentials per GPU: every resample has the same slope, so the CI is a
    # point, whichever GPUs a resample draws.
    for name, expected in [(ht.FP32, 2.0), (ht.LOWP, 1.0), ("ratio", 2.0)]:
        est = estimates[name]
        assert est.value == pytest.approx(expected)
        assert est.low == pytest.approx(expected)
        assert est.high == pytest.approx(expected)
    # Counting the two-GPU board whole, or the two-die GPU as two, bends the line:
    # no longer exact, so the interval opens and the doubling time moves.
    for unit in (ht.PER_BOARD, ht.PER_DIE):
        other = ht.trend_estimates(records, unit, ht.ALL_PARTS)[ht.FP32]
        assert other.value != pytest.approx(2.0, abs=1e-3)
        assert other.low < other.value < other.high


def test_bca_matches_scipy_and_is_fixed():
    """The hand-written BCa (resamples of whole GPUs, jackknife acceleration) gives
    scipy's BCa interval of the slope on the sourced table."""
    records = ht.table_records(ht.load_table())
    years, tflops = ht.series(records, ht.FP32)
    log2 = np.log2(tflops)

    def slope(rows, axis=-1):
        rows = rows.astype(int)
        return ht.slopes_of(years[rows], log2[rows])[0]

    reference = stats.bootstrap(
        (np.arange(len(years), dtype=float),),
        slope,
        method="BCa",
        n_resamples=ht.core.BOOTSTRAP_RESAMPLES,
        rng=np.random.default_rng(ht.core.BOOTSTRAP_SEED),
    ).confidence_interval
    est = ht.trend_estimates(records)[ht.FP32]
    assert est.low == pytest.approx(1 / reference.high, rel=2e-3)
    assert est.high == pytest.approx(1 / reference.low, rel=2e-3)
    assert "95% BCa" in est.method
    assert est == ht.trend_estimates(records)[ht.FP32]  # fixed bootstrap seed


def test_bca_falls_back_where_undefined():
    # No spread: the point itself.
    assert ht.bca_interval(1.0, np.ones(50), np.ones(5))[:2] == (1.0, 1.0)
    # Every replicate above the point: BCa's bias correction is infinite.
    low, high, kind = ht.bca_interval(0.0, np.linspace(1, 2, 50), np.arange(5.0))
    assert kind.startswith("percentile") and 1 <= low < high <= 2


def test_intervals_cover_the_fit_and_low_precision_is_faster():
    estimates = ht.summarize(ht.run(ht.Config(seeds=2, error_size=32), untimed()))
    for name in ht.NAMES:
        if "doubling" in name:
            est = estimates[name]
            assert est.low < est.value < est.high, name
            assert est.unit in ("years", "x")
    # The low-precision series grows faster than FP32 under every convention.
    for unit in ht.AXES["unit"]:
        for parts in ht.AXES["parts"]:
            fp32 = estimates[ht.estimate_name(ht.FP32, unit, parts)]
            lowp = estimates[ht.estimate_name(ht.LOWP, unit, parts)]
            assert lowp.value < fp32.value
    assert estimates["gpus"].value == len(ht.load_table())


# ---------------------------------------------------------------- live measurement


def untimed() -> ht.RunContext:
    return ht.RunContext(show_progress=False, record_timings=False)


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
    records = ht.run(cfg, untimed())
    assert "live_gflops" not in set(records["metric"])
    assert (records["metric"] == "correct_bits").sum() == 4


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
        # Faster than Moore's law still holds: the rule has one end.
        (est(1.0, 0.8, 1.3), "holds"),
        (est(4.0, 3.5, 5.0), "refuted"),
        (est(2.8, 2.2, 4.8), "inconclusive"),
        (est(3.2, 2.9, 3.6), "inconclusive"),
    ],
)
def test_verdict_returns_each_status(fp32, status):
    summary = {ht.KEY: fp32, "lowp_doubling_years": est(1.2, 1.0, 1.6)}
    result = ht.verdict(summary)
    assert result.status == status
    assert "3 years" in result.rule and "optimistic" in result.rule
    assert result.thresholds == {ht.KEY: ht.MOORE_MAX_YEARS}


def test_assessment_maps_every_convention():
    records = ht.run(ht.Config(seeds=2, error_size=32), untimed())
    estimates = ht.summarize(records)
    assessment = ht.assess(records, estimates)
    robustness = assessment.robustness
    assert robustness.headline == ht.HEADLINE
    assert robustness.status_at(robustness.headline) == ht.verdict(estimates).status
    assert len(robustness.cells) == 3 * 2 * 2
    for cell in robustness.cells:
        setting = cell["setting"]
        precision = {v: k for k, v in ht.PRECISION_AXIS.items()}[setting["precision"]]
        doubling = estimates[
            ht.estimate_name(precision, setting["unit"], setting["parts"])
        ]
        # Each cell is the rule on its own convention's doubling time.
        assert doubling.text() in cell["reason"]
        assert cell["status"] == ht.rule(doubling, "")[0]
    # The unit convention moves the doubling time (the K80 and the B200 rows).
    assert estimates["fp32_doubling_years_per_board"].value != pytest.approx(
        estimates[ht.KEY].value, abs=1e-3
    )
    # No trained arm: no convergence record; nothing tuned, never on test data.
    assert assessment.convergence == ()
    assert assessment.scale_axis is None
    for tuning in assessment.tuning:
        assert "test" not in tuning.selected_on.lower().split()
    assert set(ht.NAMES) >= set(estimates) - {"live_fp32_gflops"}


def test_charts_draw_the_table_and_every_cell():
    records = ht.run(ht.Config(seeds=2, error_size=32), untimed())
    charts = ht.charts(records)
    table = ht.convention_table(records)
    assert len(table) == 12 and table["convention"].str.contains("headline").sum() == 2
    spec = charts["gpu_table"].to_dict()
    rows = {row["row"] for data in spec["datasets"].values() for row in data}
    assert len(rows) == len(ht.load_table())
    # Sources travel in the tooltips (the site refuses links in a chart spec).
    assert "href" not in str(spec) and "source sites" in str(spec)
