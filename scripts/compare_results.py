"""Compare the results in this working tree with a baseline: the gate of a refactor
that must not change any number.

    python scripts/compare_results.py BASELINE [--timing METRIC ...]
        [--allow-estimate NAME ...]

BASELINE is a git revision (its committed results/) or a folder of results, such as
the old commit's code run on this machine: float results can differ between CPU
models, so a refactor is judged against the old code on the same machine:

    git worktree add /tmp/base OLD_COMMIT
    (cd /tmp/base && PYTHONPATH=. python -m essay_code run --force)
    python scripts/compare_results.py /tmp/base/results --timing wall_seconds ...

records.csv must be byte-identical, except the rows of measured timings (metrics
named with --timing): those must keep their columns, their count and every other
column. Every estimate and the verdict must be equal, except estimates named with
--allow-estimate (ones computed from timings, or whose interval method changed on
purpose), which must still exist. Prints one line per point and exits 1 on any
difference.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def at_revision(rev: str, path: str) -> str | None:
    folder = Path(rev)
    if folder.is_dir():  # a results folder: path is results/<slug>/<file>
        target = folder / Path(path).relative_to("results")
        return target.read_text(encoding="utf-8") if target.is_file() else None
    done = subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout if done.returncode == 0 else None


def compare_records(old: str, new: str, timing: set[str]) -> list[str]:
    if old == new:
        return []
    before, after = pd.read_csv(io.StringIO(old)), pd.read_csv(io.StringIO(new))
    if list(before.columns) != list(after.columns) or len(before) != len(after):
        return ["records.csv: columns or row count changed"]
    timed = before["metric"].isin(timing)
    if not timed.equals(after["metric"].isin(timing)):
        return ["records.csv: timing rows moved"]
    rest = [c for c in before.columns if c != "value"]
    if not before[rest].astype(str).equals(after[rest].astype(str)):
        return ["records.csv: a non-value column changed"]
    untimed_old = before.loc[~timed, "value"].to_numpy()
    untimed_new = after.loc[~timed, "value"].to_numpy()
    changed = int((untimed_old != untimed_new).sum())
    if changed:
        return [f"records.csv: {changed} non-timing values changed"]
    # The CSV text can differ only in the timing rows; check that too.
    old_lines, new_lines = old.splitlines(), new.splitlines()
    for index, (a, b) in enumerate(zip(old_lines[1:], new_lines[1:], strict=True)):
        if a != b and not timed.iloc[index]:
            return [f"records.csv line {index + 2} changed its text"]
    return []


def compare_summary(old: dict, new: dict, allowed: set[str]) -> list[str]:
    problems = []
    for name, estimate in old["estimates"].items():
        if name not in new["estimates"]:
            problems.append(f"estimate {name} is gone")
        elif name not in allowed and new["estimates"][name] != estimate:
            problems.append(f"estimate {name} changed")
    extra = set(new["estimates"]) - set(old["estimates"])
    if extra:
        problems.append(f"new estimates {sorted(extra)}")
    for field in ("status", "reason", "rule"):
        if old["verdict"][field] != new["verdict"][field]:
            if field == "reason" and allowed & set(old["estimates"]):
                continue  # the reason quotes an allowed estimate's numbers
            problems.append(f"verdict {field} changed")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", metavar="BASELINE", help="a git revision or a folder")
    parser.add_argument("--timing", nargs="*", default=[], metavar="METRIC")
    parser.add_argument("--allow-estimate", nargs="*", default=[], metavar="NAME")
    args = parser.parse_args()
    failed = False
    for folder in sorted(p for p in (ROOT / "results").iterdir() if p.is_dir()):
        if folder.name.startswith("."):
            continue
        old_records = at_revision(args.rev, f"results/{folder.name}/records.csv")
        old_summary = at_revision(args.rev, f"results/{folder.name}/summary.json")
        if old_records is None or old_summary is None:
            print(f"{folder.name}: not in {args.rev}")
            failed = True
            continue
        problems = compare_records(
            old_records,
            (folder / "records.csv").read_text(encoding="utf-8"),
            set(args.timing),
        )
        problems += compare_summary(
            json.loads(old_summary),
            json.loads((folder / "summary.json").read_text(encoding="utf-8")),
            set(args.allow_estimate),
        )
        print(f"{folder.name}: {'; '.join(problems) if problems else 'identical'}")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
