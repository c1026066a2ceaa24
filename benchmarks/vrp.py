"""Route optimiser benchmark (not a test): ``python -m benchmarks.vrp PATH... --time-limit S [--json]``.

Each Solomon or Li & Lim file is converted to a ``RoutingProblem`` (``benchmarks.vrp_formats``), solved
by the product's own ``delivery.routing.solve``, and the returned routes are re-scored and verified by an
independent checker in float Euclidean distance. ``--town N`` runs the synthetic pilot-town day instead
(see ``benchmarks.town``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from benchmarks.vrp_formats import check_routes, read_instance, read_lilim_bks, read_solomon_bks, to_problem, unreachable_records
from delivery.routing import DEFAULT_ENGINES, solve

HERE = Path(__file__).resolve().parent
SOLOMON_BKS = HERE.parent.parent / "shared" / "bench" / "solomon" / "bks.csv"
LILIM_BKS = HERE / "lilim_bks.csv"


def run_instance(path: str, time_limit: float, seed: int, engines: tuple[str, ...], bks: dict[str, tuple[int, float]]) -> dict:
    inst = read_instance(path)
    problem = to_problem(inst)
    began = time.monotonic()
    plan = solve(problem, time_limit_s=time_limit, seed=seed, engines=engines)
    seconds = time.monotonic() - began
    routes = [[int(v.stop_id) for v in r.visits] for r in plan.routes]
    check = check_routes(inst, routes)
    ref = bks.get(inst.name.upper()) or bks.get(inst.name.lower())
    gap = None if ref is None else 100.0 * (check.distance - ref[1]) / ref[1]
    return {
        "instance": inst.name,
        "format": inst.format,
        "vehicles": check.vehicles,
        "distance": round(check.distance, 4),
        "bks_vehicles": None if ref is None else ref[0],
        "bks_distance": None if ref is None else ref[1],
        "gap_pct": None if gap is None else round(gap, 3),
        "seconds": round(seconds, 2),
        "feasible": check.feasible,
        "unassigned": len(plan.unassigned),
        "engine": f"{plan.stats.engine}/{plan.stats.strategy}",
        "candidates": [list(c) for c in plan.stats.candidates],
        "problems": check.problems[:5],
        "routes": routes,
    }


def print_table(rows: list[dict]) -> None:
    print(f"{'instance':<10} {'veh':>4} {'distance':>10} {'best-known':>11} {'gap %':>7} {'seconds':>8} {'feasible':>8}  engine")
    for r in rows:
        bks = "" if r["bks_distance"] is None else f"{r['bks_distance']:.2f}"
        gap = "" if r["gap_pct"] is None else f"{r['gap_pct']:+.2f}"
        print(f"{r['instance']:<10} {r['vehicles']:>4} {r['distance']:>10.2f} {bks:>11} {gap:>7} {r['seconds']:>8.1f} {str(r['feasible']):>8}  {r['engine']}")
    families: dict[str, list[float]] = {}
    for r in rows:
        if r["gap_pct"] is not None:
            name = r["instance"].upper()
            families.setdefault(name.rstrip("0123456789") + name.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")[:1], []).append(r["gap_pct"])
    if len(families) > 1:
        print("  ".join(f"{f}: {sum(g) / len(g):+.2f} % ({len(g)})" for f, g in families.items()))
    gaps = [r["gap_pct"] for r in rows if r["gap_pct"] is not None]
    feasible = sum(r["feasible"] for r in rows)
    if rows:
        mean = sum(gaps) / len(gaps) if gaps else float("nan")
        worst = max(gaps) if gaps else float("nan")
        secs = [r["seconds"] for r in rows]
        print(f"{len(rows)} instances, {feasible} feasible, mean gap {mean:+.2f} %, worst {worst:+.2f} %, "
              f"seconds mean {sum(secs) / len(secs):.1f} max {max(secs):.1f}")


def _references(args: argparse.Namespace) -> dict[str, tuple[int, float]]:
    bks: dict[str, tuple[int, float]] = {}
    if Path(args.solomon_bks).exists():
        bks.update(read_solomon_bks(args.solomon_bks))
    if Path(args.lilim_bks).exists():
        bks.update(read_lilim_bks(args.lilim_bks))
    return bks


def rescore(row: dict, bks: dict[str, tuple[int, float]]) -> dict:
    """A saved row's gap against today's references (the routes' distance was scored when saved)."""
    ref = bks.get(row["instance"].upper()) or bks.get(row["instance"].lower())
    if ref is None:
        return row
    gap = 100.0 * (row["distance"] - ref[1]) / ref[1]
    return {**row, "bks_vehicles": ref[0], "bks_distance": ref[1], "gap_pct": round(gap, 3)}


def _print_reference_notes(args: argparse.Namespace, instances: set[str]) -> None:
    if not Path(args.solomon_bks).exists():
        return
    for name, (record, bound) in sorted(unreachable_records(args.solomon_bks).items()):
        if name in instances:
            print(f"note: {name}'s float record {record:.2f} is below its truncated-distance optimum {bound:.2f}, "
                  f"which no float-feasible plan can beat; the reference is that bound")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.vrp", description=__doc__)
    ap.add_argument("paths", nargs="*", help="Solomon or Li & Lim instance files")
    ap.add_argument("--time-limit", type=float, default=30.0, help="seconds per instance")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print JSON (one object per instance) instead of a table")
    ap.add_argument("--engines", default=",".join(DEFAULT_ENGINES), help="portfolio members, e.g. 'ortools'")
    ap.add_argument("--solomon-bks", default=str(SOLOMON_BKS))
    ap.add_argument("--lilim-bks", default=str(LILIM_BKS))
    ap.add_argument("--from-json", default="", help="print the table of an earlier --json run instead of solving")
    ap.add_argument("--town", type=int, default=0, help="run the synthetic pilot-town day with N orders")
    ap.add_argument("--districts", type=int, default=6)
    ap.add_argument("--vehicles", type=int, default=6)
    ap.add_argument("--variants", default="", help="town variants, e.g. 'joint,per-district,joint-cold,clustered'")
    args = ap.parse_args(argv)
    engines = tuple(e for e in args.engines.split(",") if e)
    if args.from_json:
        rows = json.loads(Path(args.from_json).read_text())
        print_table([rescore(r, _references(args)) for r in rows])
        _print_reference_notes(args, {r["instance"].upper() for r in rows})
        return 0
    if args.town:
        from benchmarks.town import run_town

        return run_town(args.town, time_limit=args.time_limit, engines=engines, seed=args.seed, as_json=args.json,
                        districts=args.districts, vehicles=args.vehicles,
                        variants=tuple(v for v in args.variants.split(",") if v) or None)
    bks = _references(args)
    rows = []
    for path in args.paths:
        row = run_instance(path, args.time_limit, args.seed, engines, bks)
        rows.append(row)
        print(f"  {row['instance']}: {row['distance']:.2f} gap {row['gap_pct']} feasible {row['feasible']} "
              f"({row['seconds']} s, {row['engine']}, candidates {row['candidates']})", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print_table(rows)
        _print_reference_notes(args, {r["instance"].upper() for r in rows})
    return 0 if all(r["feasible"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
