"""UpdateMapRun is durable: an update accepted while no engine drives the store (or just before a crash)
is in the inbox with the Map Run's new settings, and the engine applies it when it starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import wait_for

from stateway.engine import Engine, map_runs
from stateway.engine.service import Service
from stateway.store.sqlite import open_store

pytestmark = pytest.mark.integration

NAPS = {"StartAt": "Each", "States": {"Each": {
    "Type": "Map", "MaxConcurrency": 1, "End": True,
    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                      "StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 3600, "End": True}}}}}}


def test_an_update_accepted_without_an_engine_is_applied_when_one_starts(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    with Engine(db) as engine:
        execution = engine.service.start_execution(engine.service.create_state_machine("naps", NAPS), [1, 2, 3, 4])
        runs = wait_for(lambda: map_runs.list_map_runs(engine.store, engine.service.page_tokens, execution)[0])
        map_run = runs[0]["mapRunArn"]
        wait_for(lambda: map_runs.describe_map_run(engine.store, map_run)["itemCounts"]["running"] == 1)

    alone = Service(open_store(db))
    alone.update_map_run(map_run, max_concurrency=3)
    described = map_runs.describe_map_run(alone.store, map_run)
    assert (described["maxConcurrency"], described["itemCounts"]["running"]) == (3, 1)

    with Engine(db) as engine:
        counts = wait_for(lambda: (c := map_runs.describe_map_run(engine.store, map_run)["itemCounts"])["running"] == 3
                          and c)
        assert (counts["running"], counts["pending"]) == (3, 1)
        engine.service.stop_execution(execution)
        assert engine.wait(execution, timeout=60)["status"] == "ABORTED"
    assert map_runs.describe_map_run(alone.store, map_run)["maxConcurrency"] == 3


def test_a_redrive_runs_the_map_run_with_the_definitions_settings_again(tmp_path: Path) -> None:
    """An UpdateMapRun changes the Map Run that runs; a redrive runs the Map state again, which reads
    MaxConcurrency from the definition, and DescribeMapRun shows what the redriven Map Run runs with."""
    with Engine(f"sqlite:///{tmp_path / 'e.db'}") as engine:
        execution = engine.service.start_execution(engine.service.create_state_machine("naps", NAPS), [1, 2])
        map_run = wait_for(lambda: map_runs.list_map_runs(engine.store, engine.service.page_tokens, execution)[0])[0][
            "mapRunArn"]
        wait_for(lambda: map_runs.describe_map_run(engine.store, map_run)["itemCounts"]["running"] == 1)
        engine.service.update_map_run(map_run, max_concurrency=5)
        wait_for(lambda: map_runs.describe_map_run(engine.store, map_run)["itemCounts"]["running"] == 2)
        engine.service.stop_execution(execution)
        assert engine.wait(execution)["status"] == "ABORTED"
        assert map_runs.describe_map_run(engine.store, map_run)["maxConcurrency"] == 5

        engine.service.redrive_execution(execution)
        redriven = wait_for(lambda: (d := map_runs.describe_map_run(engine.store, map_run))["redriveCount"] == 1 and d)
        assert redriven["maxConcurrency"] == 1
        wait_for(lambda: map_runs.describe_map_run(engine.store, map_run)["itemCounts"]["running"] == 1)
        engine.service.stop_execution(execution)
