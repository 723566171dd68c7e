"""python -m essay_code list | run | status  (also the `essay` console script).

`status` and a `run` of fresh points import neither torch nor the points: freshness
comes from file hashes (see essay_code.tooling.cache), so a no-op run is about a second.
"""

from __future__ import annotations

import argparse
import json
import sys

from essay_code.tooling import history
from essay_code.tooling.cache import (
    DEFAULT_THREADS,
    Freshness,
    freshness,
    request_of,
    source_parts,
)
from essay_code.tooling.config import DEVICE_CHOICES, PROFILE_NAMES, ConfigError
from essay_code.tooling.registry import RegistryError, check_slugs, source_paths
from essay_code.tooling.results import (
    RESULTS_ROOT,
    ResultsError,
    damage,
    load_summary,
    output_root,
    recover_all,
)


def point_state(slug: str) -> dict:
    """Freshness of the committed (default-profile) results of one point."""
    current = source_parts(source_paths()[slug], request_of("default", None, None))
    try:
        summary = load_summary(slug)
    except ResultsError as error:
        return {"slug": slug, "state": "corrupt", "reason": str(error), "verdict": None}
    fresh = freshness(current, summary)
    broken = damage(slug) if fresh.state == "fresh" else None
    if broken:
        fresh = Freshness("damaged", f"{broken}; the results need a rerun")
    verdict = summary["verdict"]["status"] if summary else None
    return {
        "slug": slug,
        "state": fresh.state,
        "reason": fresh.reason,
        "verdict": verdict,
    }


def cmd_list(args) -> int:
    from essay_code.tooling.registry import get_points

    rows = [
        {**point_state(p.slug), "tweets": list(p.tweets), "title": p.title}
        for p in get_points()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'slug':<22} {'tweets':<8} {'results':<8} {'verdict':<13} title")
    for row in rows:
        tweets = ",".join(map(str, row["tweets"]))
        verdict = row["verdict"] or "-"
        print(
            f"{row['slug']:<22} {tweets:<8} {row['state']:<8} {verdict:<13} "
            f"{row['title']}"
        )
    return 0


def cmd_status(args) -> int:
    check_slugs(args.slugs)
    rows = [point_state(slug) for slug in args.slugs or sorted(source_paths())]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['slug']:<22} {row['state']:<8} {row['reason']}")
            if row["state"] != "fresh":
                print(f"{'':<22} fix: python -m essay_code run {row['slug']} --force")
    return 0 if all(row["state"] == "fresh" for row in rows) else 1


def resolved_device(requested: str) -> str:
    """The device kind a run will use; only 'auto' needs torch to tell."""
    if requested != "auto":
        return requested
    from essay_code.tooling.device import choose_device

    return choose_device("auto").type


def fresh_without_import(slug: str, args) -> bool:
    """Same source, core, torch and request as the stored results: nothing to do."""
    if args.force:
        return False
    device = resolved_device(args.device)
    request = request_of(args.profile, args.seeds, args.set, args.threads, device)
    customised = bool(args.seeds or args.set) or args.threads != DEFAULT_THREADS
    root = output_root(args.profile, customised=customised, device=device)
    try:
        stored = load_summary(slug, root)
    except ResultsError:
        return False  # the runner reports the corrupt file and refuses to run
    current = source_parts(source_paths()[slug], request)
    if freshness(current, stored).state != "fresh":
        return False
    try:
        return damage(slug, root) is None
    except ResultsError:
        return False


def cmd_run(args) -> int:
    check_slugs(args.slugs)
    slugs = args.slugs or list(source_paths())
    pending = []
    for slug in slugs:
        if fresh_without_import(slug, args):
            print(f"[{slug}] skipped: fresh, nothing to do")
        else:
            pending.append(slug)
    if not pending:
        return 0

    from essay_code.tooling.device import choose_device
    from essay_code.tooling.registry import get_points
    from essay_code.tooling.runner import resolve_config, run_many

    points = get_points(pending)
    choose_device(args.device)  # a missing GPU is one clear error, not one per point
    for point in points:  # fail on a bad --set before any point runs
        resolve_config(point, args.profile, args.seeds, args.set)
    outcomes = run_many(
        points,
        profile=args.profile,
        device=args.device,
        seeds=args.seeds,
        sets=args.set,
        force=args.force,
        threads=args.threads,
        command=["python", "-m", "essay_code", *sys.argv[1:]],
    )
    published = [
        load_summary(o.slug)
        for o in outcomes
        if o.state == "ran" and o.results_dir == RESULTS_ROOT / o.slug
    ]
    if published:
        history.append(published)
    failed = [outcome.slug for outcome in outcomes if outcome.state == "failed"]
    if failed:
        print(
            f"failed: {', '.join(failed)} (their last good results are untouched)",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_new(args) -> int:
    from essay_code.tooling.scaffold import scaffold

    for path in scaffold(args.slug, args.tweets, args.title):
        print(f"wrote {path}")
    print(
        f"next: fill in the TODOs, then `python -m essay_code run {args.slug}` and "
        "`python -m pytest`; the tests name whatever is still missing"
    )
    return 0


def cmd_gather(args) -> int:
    """Exit 0 when every point landed, 1 when some were refused (the valid ones
    still landed and the PR body names the rest), 2 when nothing could be read."""
    import os
    from pathlib import Path

    from essay_code.tooling.gather import GatherError, gather

    try:
        summary, refusals = gather(Path(args.folder))
    except GatherError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary)
    if args.pr_body:
        Path(args.pr_body).write_text(summary, encoding="utf-8")
    for refusal in refusals:
        line = f"{refusal.name}: {refusal.reason}"
        # A warning annotation on the job page, where GitHub reads them.
        prefix = "::warning title=refused::" if os.environ.get("GITHUB_ACTIONS") else ""
        print(f"{prefix}refused {' '.join(line.split())}", file=sys.stderr)
    return 1 if refusals else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m essay_code",
        description="Run the experiments behind 'What Can't Deep Learning Do?'.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    listing = sub.add_parser(
        "list", help="points, their tweets, results state, verdict"
    )
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)

    status = sub.add_parser("status", help="fresh / stale / missing per point, and why")
    status.add_argument("slugs", nargs="*", metavar="SLUG")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    run = sub.add_parser("run", help="run points (all when none named)")
    run.add_argument("slugs", nargs="*", metavar="SLUG")
    run.add_argument("--profile", choices=PROFILE_NAMES, default="default")
    run.add_argument(
        "--device",
        choices=DEVICE_CHOICES,
        default="cpu",
        help="cpu (default: the published results are CPU-made, reproducible by any "
        "reader), cuda, mps, or auto; other devices write under build/results/",
    )
    run.add_argument(
        "--seeds", type=int, help="number of seeds (overrides the profile)"
    )
    run.add_argument(
        "--force", action="store_true", help="run even if results are fresh"
    )
    run.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help="CPU threads for torch, OpenMP and BLAS (default 1; 0 leaves them be)",
    )
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config field, e.g. --set lr=0.05 (repeatable)",
    )
    run.set_defaults(func=cmd_run)

    new = sub.add_parser("new", help="scaffold a new point: module, page, notebook")
    new.add_argument("slug", metavar="SLUG", help="e.g. 'my-claim' (lowercase, '-')")
    new.add_argument("--tweets", type=int, nargs="+", required=True, metavar="N")
    new.add_argument("--title", required=True, help="a short title for the claim")
    new.set_defaults(func=cmd_new)

    gather = sub.add_parser(
        "gather",
        help="validate regenerated results (folders per point, or flat) and land them",
    )
    gather.add_argument("folder", help="e.g. the regenerate workflow's artifacts")
    gather.add_argument("--pr-body", help="also write the Markdown summary here")
    gather.set_defaults(func=cmd_gather)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        recover_all()  # a swap that a kill interrupted is repaired before anything
        return args.func(args)
    except (RegistryError, ConfigError, ResultsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
