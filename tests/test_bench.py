"""Benchmark plumbing: both instance formats parse, convert, solve and are checked independently."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from benchmarks.vrp import main
from benchmarks.vrp_formats import (
    check_routes,
    read_instance,
    read_lilim_bks,
    read_solomon_bks,
    to_problem,
    unreachable_records,
)
from delivery.routing import solve

FIXTURES = Path(__file__).parent / "fixtures" / "bench"


def test_solomon_parser_reads_fleet_capacity_and_nodes() -> None:
    inst = read_instance(FIXTURES / "tiny5.txt")
    assert (inst.name, inst.format, inst.fleet, inst.capacity) == ("TINY5", "solomon", 3, 20)
    assert len(inst.nodes) == 6 and inst.nodes[0].due == 200
    n4 = inst.nodes[4]
    assert (n4.x, n4.y, n4.demand, n4.ready, n4.due, n4.service) == (0, 20, 5, 30, 100, 5)


def test_lilim_parser_reads_pairs() -> None:
    inst = read_instance(FIXTURES / "tiny_lilim.txt")
    assert (inst.name, inst.format, inst.fleet, inst.capacity) == ("tiny_lilim", "lilim", 2, 10)
    assert inst.nodes[1].delivery == 2 and inst.nodes[2].pickup == 1 and inst.nodes[2].demand == -5
    problem = to_problem(inst)
    kinds = {s.id: (s.kind, s.pickup, s.demand) for s in problem.stops}
    assert kinds["1"] == ("pickup", None, (5,)) and kinds["2"] == ("delivery", "1", (5,))


def test_checker_accepts_a_feasible_plan_and_scores_it_in_float() -> None:
    inst = read_instance(FIXTURES / "tiny5.txt")
    check = check_routes(inst, [[1, 2], [3, 4], [5]])
    assert check.feasible, check.problems
    assert check.distance == pytest.approx(40 + 40 + 20)


@pytest.mark.parametrize(
    "routes, complaint",
    [
        ([[4, 1], [2], [3], [5]], "after due"),  # node 4 opens at 30, then node 1 (due 50) at 57.4
        ([[1, 2, 3, 4, 5]], "load"),  # 40 units on a 20-unit vehicle
        ([[1, 2], [3, 4]], "not served exactly once"),
        ([[1, 2], [3, 4], [5], [5]], "not served exactly once"),
    ],
)
def test_checker_rejects_infeasible_routes(routes: list[list[int]], complaint: str) -> None:
    inst = read_instance(FIXTURES / "tiny5.txt")
    check = check_routes(inst, routes)
    assert not check.feasible
    assert any(complaint in p for p in check.problems), check.problems


def test_checker_rejects_delivery_before_pickup_and_split_pairs() -> None:
    inst = read_instance(FIXTURES / "tiny_lilim.txt")
    assert check_routes(inst, [[1, 2, 3, 4]]).feasible
    assert any("before" in p for p in check_routes(inst, [[2, 1], [3, 4]]).problems)
    assert any("not on the route" in p for p in check_routes(inst, [[1, 3, 4], [2]]).problems)


@pytest.mark.parametrize("name", ["tiny5.txt", "tiny_lilim.txt"])
def test_solve_on_converted_instances_passes_the_independent_check(name: str) -> None:
    inst = read_instance(FIXTURES / name)
    plan = solve(to_problem(inst), time_limit_s=0.5, engines=("ortools",))
    routes = [[int(v.stop_id) for v in r.visits] for r in plan.routes]
    check = check_routes(inst, routes)
    assert plan.unassigned == () and check.feasible, check.problems


def test_bench_cli_json_lists_routes_in_instance_ids(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bks = tmp_path / "bks.csv"
    bks.write_text("instance,vehicles,distance,objective_kind,source\nTINY5,3,100.0,distance_only_float,test\n")
    rc = main([str(FIXTURES / "tiny5.txt"), str(FIXTURES / "tiny_lilim.txt"), "--time-limit", "0.5", "--json",
               "--engines", "ortools", "--solomon-bks", str(bks)])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert [r["instance"] for r in out] == ["TINY5", "tiny_lilim"]
    for r in out:
        assert {"instance", "vehicles", "distance", "seconds", "feasible", "routes"} <= set(r)
        assert r["feasible"] is True
    assert sorted(i for route in out[0]["routes"] for i in route) == [1, 2, 3, 4, 5]
    assert out[0]["gap_pct"] is not None and out[0]["distance"] <= 100.0 + 1e-6


def test_bks_readers(tmp_path: Path) -> None:
    solomon = tmp_path / "bks.csv"
    solomon.write_text(
        "instance,vehicles,distance,objective_kind,source\n"
        "R201,4,1252.37,hierarchical_vehicles_then_distance,x\n"
        "R201,9,1149.68,distance_only_float,x\n"
        "R201,8,1147.82,distance_only_float_rescored_dimacs,x\n"
    )
    assert read_solomon_bks(solomon) == {"R201": (8, 1147.82)}
    assert unreachable_records(solomon) == {}


def test_a_float_record_below_the_truncated_optimum_is_replaced_by_that_bound(tmp_path: Path) -> None:
    solomon = tmp_path / "bks.csv"
    solomon.write_text(
        "instance,vehicles,distance,objective_kind,source\n"
        "R109,13,1101.37,distance_only_float,x\n"
        "R109,13,1146.9,distance_only_dimacs_trunc1,x\n"
        "R109,13,1151.91,distance_only_float_rescored_dimacs,x\n"
        "R110,12,1072.41,distance_only_float,x\n"
        "R110,12,1068.0,distance_only_dimacs_trunc1,x\n"
    )
    assert read_solomon_bks(solomon) == {"R109": (13, 1146.9), "R110": (12, 1072.41)}
    assert unreachable_records(solomon) == {"R109": (1101.37, 1146.9)}
    lilim = Path(__file__).parent.parent / "benchmarks" / "lilim_bks.csv"
    table = read_lilim_bks(lilim)
    assert len(table) == 56 and table["lc101"] == (10, 828.9369)


def test_town_generator_pairs_trips_and_one_depot_per_town() -> None:
    from benchmarks.town import make_town

    town = make_town(120, districts=12, vehicles=12, seed=1)
    p = town.problem
    deliveries = [s for s in p.stops if s.kind == "delivery"]
    assert len(deliveries) == 120 and set(town.district_of) == {s.id for s in deliveries}
    assert any(s.pickup for s in deliveries) and any(s.pickup is None for s in deliveries)
    assert len(p.vehicles) == 24  # a morning and an afternoon trip per van
    # the van of district d starts from the depot of d's town (six districts per town)
    by_id = {v.id: v for v in p.vehicles}
    for d, trips in town.van_of.items():
        assert {by_id[t].start_location for t in trips} == {int(d[1:]) // 6}


def test_tree_memory_counts_child_processes() -> None:
    import subprocess
    import sys

    from benchmarks.town import _tree_rss_kb

    alone = _tree_rss_kb(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import sys, time; b = bytearray(80_000_000); b[::4096] = b'x' * len(b[::4096]); "
                              "print('ready', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        assert _tree_rss_kb(os.getpid()) - alone > 70_000   # the child's 80 MB, touched page by page
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
