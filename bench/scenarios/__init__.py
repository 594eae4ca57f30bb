"""The benchmark's scenarios and their ASL definitions, shared by every engine's harness.

Every engine runs the same logical work:

* ``chain10`` — ten Task states in a row, each calling the trivial Python function ``noop``
  (``handler(event, context) -> event``); one execution = 10 steps.
* ``map`` — one distributed Map state over ``$.items`` whose child execution is a single Task calling ``noop``,
  with ``MaxConcurrency`` set; one execution = ``items + 1`` steps (the Map state plus one Task
  per item).
* ``mapreader`` — the same distributed Map, its items read by an ``ItemReader`` from a JSON Lines object
  (``{"i": k}`` a line) in the object store and its results written by a ``ResultWriter``: the
  execution's input (bucket and key) and output (where the results went) stay a few bytes whatever
  the item count, so what memory does with the items is the engine's alone. One execution =
  ``items + 1`` steps, as ``map``.

A *step* is one state run to completion and durably recorded by the engine: it is the unit in
which transitions/s are reported for every engine, so the rates compare like with like.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"
NOOP_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:noop"
CHAIN_LENGTH = 10
DEFINITIONS_DIR = Path(__file__).parent
MAP_KINDS = ("map", "mapreader")
# Where the `mapreader` scenarios' objects are: the bucket, the items' keys and the results' prefix.
READER_BUCKET = "bench"
READER_ITEMS_KEY = "items/items.jsonl"
READER_WARMUP_KEY = "items/warmup.jsonl"
READER_RESULTS_PREFIX = "results"


@dataclass(frozen=True)
class Scenario:
    """One measured scenario; `kind` picks the driver, the other fields size it."""

    name: str
    kind: str  # "latency" | "throughput" | "map" | "mapreader"
    description: str
    executions: int = 1
    warmup: int = 0
    items: int = 0
    max_concurrency: int = 0

    @property
    def steps_per_execution(self) -> int:
        """Logical steps (states run to completion) in one execution of this scenario."""
        return self.items + 1 if self.kind in MAP_KINDS else CHAIN_LENGTH


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("latency", "latency", "(a) chain10, one execution at a time", executions=200, warmup=20),
        Scenario("throughput", "throughput", "(b) chain10 x 1000 started back to back", executions=1000),
        Scenario("map_100_c10", "map", "(c) Map of 100 items, MaxConcurrency 10", items=100, max_concurrency=10),
        Scenario("map_100_c50", "map", "(c) Map of 100 items, MaxConcurrency 50", items=100, max_concurrency=50),
        Scenario("map_10000_c10", "map", "(c) Map of 10,000 items, MaxConcurrency 10", items=10_000, max_concurrency=10),
        Scenario("map_10000_c50", "map", "(c) Map of 10,000 items, MaxConcurrency 50", items=10_000, max_concurrency=50),
        Scenario("mapreader_100_c10", "mapreader", "(c) Map of 100 items read from the object store, MaxConcurrency 10",
                 items=100, max_concurrency=10),
        Scenario("mapreader_10000_c10", "mapreader",
                 "(c) Map of 10,000 items read from the object store, MaxConcurrency 10", items=10_000, max_concurrency=10),
        Scenario("mapreader_100000_c10", "mapreader",
                 "(c) Map of 100,000 items read from the object store, MaxConcurrency 10", items=100_000,
                 max_concurrency=10),
    )
}


def chain_definition(length: int = CHAIN_LENGTH, resource: str = NOOP_ARN) -> dict[str, Any]:
    """`length` Task states in a row, each invoking `resource` with the state's input."""
    names = [f"Step{i:02d}" for i in range(1, length + 1)]
    states: dict[str, Any] = {}
    for index, name in enumerate(names):
        state: dict[str, Any] = {"Type": "Task", "Resource": resource}
        if index + 1 < len(names):
            state["Next"] = names[index + 1]
        else:
            state["End"] = True
        states[name] = state
    return {"Comment": f"{length} Task states calling noop", "StartAt": names[0], "States": states}


def map_definition(max_concurrency: int, resource: str = NOOP_ARN) -> dict[str, Any]:
    """A distributed Map over `$.items` whose child executions are one Task invoking `resource` on the item
    (an inline Map of 10,000 items would pass the 25,000-event history quota)."""
    return {
        "Comment": f"Map over $.items, one noop Task per item, MaxConcurrency {max_concurrency}",
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": max_concurrency,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Work",
                    "States": {"Work": {"Type": "Task", "Resource": resource, "End": True}},
                },
                "End": True,
            }
        },
    }


def map_reader_definition(max_concurrency: int, resource: str = NOOP_ARN) -> dict[str, Any]:
    """The distributed Map of `map_definition`, its items read from a JSON Lines object named by the input's
    `bucket` and `key`, its results written under `results/` of the same bucket (AWS's pattern for large
    Maps: neither the items nor the results pass through the execution's input or output)."""
    definition = map_definition(max_concurrency, resource)
    definition["Comment"] = (f"Map over the JSONL object at $.bucket/$.key, one noop Task per item, results to "
                             f"$.bucket/{READER_RESULTS_PREFIX}/, MaxConcurrency {max_concurrency}")
    fan = definition["States"]["Fan"]
    del fan["ItemsPath"]
    fan["ItemReader"] = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSONL"},
        "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"},
    }
    fan["ResultWriter"] = {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket.$": "$.bucket", "Prefix": READER_RESULTS_PREFIX},
    }
    return definition


def map_reader_input(key: str = READER_ITEMS_KEY) -> dict[str, Any]:
    """The `mapreader` scenarios' execution input: where the items are, and nothing else."""
    return {"bucket": READER_BUCKET, "key": key}


def write_reader_items(root: Path, key: str, items: int) -> Path:
    """Write the JSON Lines object `key` of the bench bucket under the object store `root`: `items`
    lines `{"i": k}`, written a line at a time (the caller never holds them)."""
    path = root / READER_BUCKET / key
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for k in range(items):
            out.write(f'{{"i": {k}}}\n')
    return path


def map_input(items: int) -> dict[str, Any]:
    """The Map scenario's execution input: `items` small objects."""
    return {"items": [{"i": i} for i in range(items)]}


def definition_for(scenario: Scenario, resource: str = NOOP_ARN) -> dict[str, Any]:
    """The ASL definition a scenario runs."""
    if scenario.kind == "map":
        return map_definition(scenario.max_concurrency, resource)
    if scenario.kind == "mapreader":
        return map_reader_definition(scenario.max_concurrency, resource)
    return chain_definition(CHAIN_LENGTH, resource)


def write_definition_files() -> list[Path]:
    """Write the definitions as `*.asl.json` beside this module (for reading, and for other tools)."""
    written = []
    for name, definition in (
        ("chain10", chain_definition()),
        ("map_c10", map_definition(10)),
        ("map_c50", map_definition(50)),
        ("mapreader_c10", map_reader_definition(10)),
    ):
        path = DEFINITIONS_DIR / f"{name}.asl.json"
        path.write_text(json.dumps(definition, indent=2) + "\n")
        written.append(path)
    return written

