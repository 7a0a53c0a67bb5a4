"""The records sink (harness.exporters.request_records) on real Locust environments, in a child
process (importing Locust monkey-patches with gevent): one line per published request with
the stage and warm-up the figures use, cancelled ones too; batches written a slice at a time
between yields and the file closed complete; a worker's lines shipped in its reports and
written by the master; a new test or "Reset stats" starts a new file; --llm-no-records.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

SCRIPT = r"""
import argparse, gzip, json, sys, zlib
from pathlib import Path

import gevent
import msgpack
from locust.env import Environment

from harness.errors import Mode, Outcome
from harness.events import publish
from harness.exporters import request_records as rr
from harness.load.plan import LoadPlan, Stage
from harness.record import RequestRecord
from harness.report.records import RECORDS_FILE
from harness.run import llm_run

tmp = Path(sys.argv[1])
out = {}


def env(folder=None, **options):
    parsed = argparse.Namespace(llm_out=str(folder) if folder else "", **options)
    environment = Environment(parsed_options=parsed)
    rr.attach(environment)
    return environment


def request(environment, offset, *, mode=Mode.STREAM, outcome=Outcome.OK, due=None):
    # a request sent `offset` seconds after the plan's epoch (due `due` seconds after it)
    run = llm_run(environment)
    base = (run.epoch if run.epoch is not None else run.t_start)
    record = RequestRecord(mode, "mock-llm", "/v1/chat/completions")
    record.t0 = base + offset
    if due is not None:
        record.t_sched = base + due
    if mode is Mode.STREAM:
        record.on_token_event(record.t0 + 0.05, visible=True)
        record.on_token_event(record.t0 + 0.07, visible=True)
        record.server_output_tokens = 2
    record.t_end = record.t0 + 0.08
    record.outcome = outcome
    publish(environment, record)
    return record


def lines_of(path):
    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]


# -- placement: the stage and warm-up of the figures, cancelled requests too
folder = tmp / "placed"
local = env(folder)
local.events.test_start.fire(environment=local)
run = llm_run(local)
plan = LoadPlan(stages=(Stage(2.0, rate_per_s=10.0, warmup_s=0.5), Stage(2.0, users=2)))
run.begin_plan(plan)
run.epoch = run.t_start + 0.25
for offset, due in ((0.2, None), (0.7, 0.4), (1.0, None), (2.5, None), (3.0, None)):
    request(local, offset, due=due)
request(local, 3.5, outcome=Outcome.CANCELLED)
request(local, 1.5, mode=Mode.BATCH)
local.events.quitting.fire(environment=local, reverse=True)
out["placed"] = {
    "lines": [[l["t0"], l.get("stage"), l.get("warmup", False), l["outcome"], l["mode"]]
              for l in lines_of(folder / RECORDS_FILE)],
    "warmup_requests": run.warmup_requests,
    "stage_requests": [sum(g.requests for g in s.groups()) for s in run.stage_stats],
    "run_requests": sum(g.requests for g in run.stats.groups()),
    "epoch_s": run.epoch - run.t_start,
}

# -- batching: slices between yields, each flushed; closing completes the file
rr.FLUSH_INTERVAL_S = 0.05
folder = tmp / "batched"
batched = env(folder)
batched.events.test_start.fire(environment=batched)
sink = rr.sink_of(batched)
seen = []
def watch():
    while True:
        seen.append(sink.writer.lines if sink.writer is not None else -1)
        gevent.sleep(0)
watcher = gevent.spawn(watch)
for i in range(100):
    request(batched, 0.001 * i)
gevent.sleep(0.3)
partial = zlib.decompressobj(wbits=31).decompress((folder / RECORDS_FILE).read_bytes())
for i in range(5):
    request(batched, 1.0 + 0.001 * i)
batched.events.quitting.fire(environment=batched, reverse=True)
watcher.kill()
out["batched"] = {
    "seen": sorted(set(seen)),
    "before_close": partial.count(b"\n"),
    "after_close": len(lines_of(folder / RECORDS_FILE)),
}

# -- a worker ships its lines in its reports; the master writes them
folder = tmp / "master"
master, worker = env(folder), env(tmp / "worker-never-writes")
master.events.test_start.fire(environment=master)
worker_sink = rr.sink_of(worker)
llm_run(worker).t_start = 500.0  # the worker's own start, not the master's
worker_sink.begin(None)  # what test_start does on a worker: lines, but no file
for i in range(3):
    request(worker, 0.5 + i)
first, second = {}, {}
worker.events.report_to_master.fire(client_id="w1", data=first)
worker.events.report_to_master.fire(client_id="w1", data=second)
wire = msgpack.unpackb(msgpack.packb(first))  # what Locust's messages carry
master.events.worker_report.fire(client_id="w1", data=wire)
rr.sink_of(master).add_worker_lines([{"v": 1, "t0": 9.0}], 2)
master.events.quitting.fire(environment=master, reverse=True)
out["merged"] = {
    "shipped": len(first.get(rr.REPORT_KEY, [])),
    "second_report": sorted(second),
    "written": [[l["t0"], l.get("worker")] for l in lines_of(folder / RECORDS_FILE)],
    "worker_files": sorted(p.name for p in tmp.glob("worker-never-writes/*")),
}

# -- a new test and "Reset stats" each start a new file
folder = tmp / "again"
again = env(folder)
again.events.test_start.fire(environment=again)
request(again, 0.1)
again.events.test_stop.fire(environment=again)
request(again, 0.2, outcome=Outcome.CANCELLED)  # finished during the stop: still this test's
rr.sink_of(again).end()
first_test = len(lines_of(folder / RECORDS_FILE))
again.events.test_start.fire(environment=again)
request(again, 0.3)
request(again, 0.4)
gevent.sleep(0.2)
again.events.reset_stats.fire()
request(again, 0.5, mode=Mode.BATCH)
again.events.quitting.fire(environment=again, reverse=True)
out["again"] = {
    "first_test": first_test,
    "after_reset": [l["mode"] for l in lines_of(folder / RECORDS_FILE)],
    "figures_after_reset": sum(g.requests for g in llm_run(again).stats.groups()),
}

# -- --llm-no-records: no file, and an earlier run's is removed
folder = tmp / "off"
folder.mkdir()
(folder / RECORDS_FILE).write_bytes(gzip.compress(b'{"v": 1}\n'))
off = env(folder, llm_no_records=True)
off.events.test_start.fire(environment=off)
request(off, 0.1)
off.events.quitting.fire(environment=off, reverse=True)
out["off"] = {"files": sorted(p.name for p in folder.iterdir()),
              "figures": sum(g.requests for g in llm_run(off).stats.groups())}

# -- no out folder (plain locust without --llm-out): nothing written anywhere
bare = env(None)
bare.events.test_start.fire(environment=bare)
request(bare, 0.1)
bare.events.quitting.fire(environment=bare, reverse=True)
out["bare"] = {"writer": rr.sink_of(bare).writer is None, "queued": len(rr.sink_of(bare).pending)}

print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def sink_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("sink")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    found["tmp"] = str(tmp)
    return found


def test_each_line_has_the_stage_and_warm_up_the_figures_used(sink_runs: dict[str, Any]) -> None:
    placed = sink_runs["placed"]
    epoch = placed["epoch_s"]
    lines = [
        [round(t0 - epoch, 6), stage, warmup, outcome, mode]
        for t0, stage, warmup, outcome, mode in placed["lines"]
    ]
    assert lines == [
        [0.2, 0, True, "ok", "stream"],  # in the stage's warm-up (its first 0.5 s)
        [0.7, 0, True, "ok", "stream"],  # sent at 0.7 s, due at 0.4 s: placed by its due time
        [1.0, 0, False, "ok", "stream"],
        [2.5, 1, False, "ok", "stream"],
        [3.0, 1, False, "ok", "stream"],
        [3.5, 1, False, "cancelled", "stream"],  # every request sent is a line
        [1.5, 0, False, "ok", "batch"],
    ]
    assert placed["warmup_requests"] == 2
    assert placed["stage_requests"] == [2, 3]
    assert placed["run_requests"] == 5


def test_batches_are_written_a_slice_at_a_time_and_closing_completes_the_file(
    sink_runs: dict[str, Any],
) -> None:
    batched = sink_runs["batched"]
    # the writer yielded to the event loop after each slice of 8 lines (-1: closed)
    assert batched["seen"] == [-1, *range(0, 100, 8), 100]
    assert batched["before_close"] == 100  # flushed: readable while the run goes on
    assert batched["after_close"] == 105


def test_the_master_writes_the_lines_its_workers_ship(sink_runs: dict[str, Any]) -> None:
    merged = sink_runs["merged"]
    assert merged["shipped"] == 3
    assert "locust_llm_records" not in merged["second_report"]  # nothing new: nothing shipped
    # relative to the worker's own start; a master's runner adds the worker's index
    assert merged["written"] == [[0.5, None], [1.5, None], [2.5, None], [9.0, 2]]
    assert merged["worker_files"] == []


def test_a_new_test_and_reset_stats_each_start_a_new_file(sink_runs: dict[str, Any]) -> None:
    again = sink_runs["again"]
    assert again["first_test"] == 2
    assert again["after_reset"] == ["batch"]
    assert again["figures_after_reset"] == 1


def test_no_records_writes_no_file_and_removes_an_earlier_runs(sink_runs: dict[str, Any]) -> None:
    assert sink_runs["off"] == {"files": [], "figures": 1}
    assert sink_runs["bare"] == {"writer": True, "queued": 0}
    assert not (Path(sink_runs["tmp"]) / "worker-never-writes").exists()
