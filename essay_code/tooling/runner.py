"""Run points: resolve the config, skip what is fresh, run, write results atomically.

A failing point is reported by name and the others still run; the caller turns the
outcomes into an exit code.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from essay_code.core.context import RunContext
from essay_code.tooling import config as config_mod
from essay_code.tooling import rounding
from essay_code.tooling.cache import (
    CORE_DIR,
    DEFAULT_THREADS,
    cache_parts,
    freshness,
    request_of,
)
from essay_code.tooling.device import (
    choose_device,
    cpu_threads,
    device_name,
    make_deterministic,
    numerics,
    pin_numerics,
    seed_everything,
)
from essay_code.tooling.judge import judge
from essay_code.tooling.provenance import provenance
from essay_code.tooling.registry import Point
from essay_code.tooling.results import (
    DATA_DIR,
    SCHEMA_VERSION,
    check_records,
    damage,
    load_summary,
    output_hashes,
    output_root,
    save_charts,
    write_atomically,
    write_json,
)
from essay_code.tooling.rounding import RoundingNoise


@dataclass(frozen=True)
class Outcome:
    slug: str
    state: str  # ran | skipped | failed
    message: str
    results_dir: Path | None = None


def resolve_config(
    point: Point,
    profile: str,
    seeds: int | None = None,
    sets: list[str] | None = None,
):
    overrides = config_mod.parse_sets(point.module.Config, sets or [])
    return config_mod.resolve(
        point.module.Config, point.module.PROFILES, profile, seeds, overrides
    )


def execute(
    point: Point, config, ctx: RunContext, observed: dict | None = None
) -> tuple:
    """Run one point in-process: records, their judgement, charts (no files).

    The runner owns execution: every pool (torch, OpenMP, BLAS) is held to
    ctx.threads for the whole point, whatever the device, because the CPU arms
    (sklearn, HiGHS, numpy) run on the CPU even when the network is on a GPU.
    `observed`, if given, receives the thread count and numerics the run used.
    """
    seed_everything(0)
    make_deterministic()
    pin_numerics(allow_tf32=getattr(point.module, "ALLOW_TF32", False))
    with cpu_threads(ctx.threads):
        records = point.module.run(config, ctx)
        observed = {} if observed is None else observed
        observed["torch_threads"] = _torch_threads()  # inside the limit: what ran
    observed["numerics"] = numerics()
    check_records(records, f"{point.slug}.run()")
    records = records.reset_index(drop=True)
    judgement = judge(point, records)
    charts = point.module.charts(records)
    return records, judgement, charts


def run_point(
    point: Point,
    profile: str = "default",
    *,
    device: str = "auto",
    seeds: int | None = None,
    sets: list[str] | None = None,
    force: bool = False,
    root: Path | None = None,
    show_progress: bool = True,
    command: list[str] | None = None,
    threads: int = DEFAULT_THREADS,
) -> Outcome:
    config = resolve_config(point, profile, seeds, sets)
    customised = bool(seeds or sets) or threads != DEFAULT_THREADS
    chosen = choose_device(
        device, needs_float64=getattr(point.module, "NEEDS_FLOAT64", False)
    )
    root = root or output_root(profile, customised=customised, device=chosen.type)
    request = request_of(profile, seeds, sets, threads, chosen.type)
    parts = cache_parts(point.source_path, request, config)
    stored = load_summary(point.slug, root) if not force else None
    intact = stored is not None and damage(point.slug, root) is None
    if not force and intact and freshness(parts, stored).state == "fresh":
        return Outcome(point.slug, "skipped", "fresh, nothing to do", root / point.slug)

    ctx = RunContext(
        device=chosen,
        show_progress=show_progress,
        # Smoke records are compared run to run: measured times stay out of them.
        record_timings=profile != "smoke",
        threads=threads,
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    observed: dict = {}
    records, judgement, charts = execute(point, config, ctx, observed)
    verdict = judgement.verdict
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    # The published profile also says whether a GPU's rounding could move it.
    noise = rounding_check(point, ctx) if profile == "default" else None
    summary: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "slug": point.slug,
        "title": point.title,
        "tweets": list(point.tweets),
        "profile": profile,
        "config": config_mod.config_to_json(config),
        **seed_fields(point, records),
        "key": point.module.KEY,
        **judgement.summary_fields(),
        "charts": sorted(charts),
        "cache": parts,
        "provenance": provenance(
            [point.source_path, CORE_DIR, DATA_DIR],
            device_name(ctx.device),
            wall,
            cpu,
            command or ["python", "-m", "essay_code"],
            torch_threads=observed["torch_threads"],
        )
        | {"numerics": observed["numerics"]},
    }
    if noise is not None:
        summary["rounding_noise"] = noise

    def fill(folder: Path) -> None:
        records.to_csv(folder / "records.csv", index=False)
        save_charts(charts, folder / "charts")
        summary["outputs"] = output_hashes(folder)
        write_json(folder / "summary.json", summary)

    written = write_atomically(point.slug, fill, root)
    return Outcome(
        point.slug,
        "ran",
        f"{verdict.status}: {verdict.reason} ({wall:.1f} s)",
        written,
    )


def seed_fields(point: Point, records) -> dict:
    """The seeds the published numbers come from; a point that chooses its settings
    on separate selection seeds marks their rows "selection" in its
    SELECTION_COLUMN, and those are listed apart."""
    column = getattr(point.module, "SELECTION_COLUMN", None)
    if column is None:
        return {"seeds": sorted(int(s) for s in records["seed"].unique())}
    chosen_on = records[column] == "selection"
    fields = {"seeds": sorted(int(s) for s in records.loc[~chosen_on, "seed"].unique())}
    if chosen_on.any():
        selection = records.loc[chosen_on, "seed"].unique()
        fields["selection_seeds"] = sorted(int(s) for s in selection)
    return fields


def rounding_check(point: Point, ctx: RunContext) -> dict:
    """The smoke run, clean and under RoundingNoise: did its verdict or records
    move? (Seconds; the default profile is too long to run twice.)"""
    config = resolve_config(point, "smoke")
    quiet = dataclasses.replace(ctx, show_progress=False, record_timings=False)
    clean, clean_judgement, _ = execute(point, config, quiet)
    with RoundingNoise():
        noisy, noisy_judgement, _ = execute(point, config, quiet)
    same_shape = clean.shape == noisy.shape and list(clean) == list(noisy)
    changed = (
        int((clean["value"] != noisy["value"]).sum()) if same_shape else len(clean)
    )
    return {
        "check": rounding.DESCRIPTION,
        "verdict": clean_judgement.verdict.status,
        "verdict_with_noise": noisy_judgement.verdict.status,
        "records": len(clean),
        "records_changed": changed,
    }


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def run_many(points: list[Point], **kwargs) -> list[Outcome]:
    """Run each point; a failure is reported by name and does not stop the others."""
    outcomes = []
    for point in points:
        print(f"[{point.slug}] running ...", file=sys.stderr, flush=True)
        try:
            outcome = run_point(point, **kwargs)
        except config_mod.ConfigError:
            raise
        except Exception as error:  # noqa: BLE001 - report and go on to the next point
            traceback.print_exc()
            outcome = Outcome(point.slug, "failed", f"{type(error).__name__}: {error}")
        print(f"[{point.slug}] {outcome.state}: {outcome.message}", flush=True)
        outcomes.append(outcome)
    return outcomes
