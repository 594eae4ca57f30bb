"""Joins' bulk data in table `join_data`: the rows a commit adds, and the reads a step makes of the
data the engine let go of in memory (children's inputs in windows, results, a Map's input)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from stateway.asl import jsontext
from stateway.asl.frames import ITEMS_PER_RUN, Join
from stateway.store.sqlite import SqliteStore

# (execution ARN, join id, kind, index, JSON value) as table join_data holds them.
JoinRow = tuple[str, str, str, int, str]

_encode = jsontext.compact_encoder(allow_nan=True)  # built once: no encoder per call


# Children's inputs are stored as runs of up to this many consecutive ones per row (kind 'items', at the
# index of the first): a Map of 10,000 items is ~160 rows, written and read back a window at a time.
# The runs a join keeps as text (`Join.texts`) have that form already and are stored as they are.
ITEMS_PER_ROW = ITEMS_PER_RUN


def join_rows(arn: str, join: Join, *, rows: list[JoinRow], written: dict[str, list[int]]) -> None:
    """The rows a commit adds for one join: a new join's children's inputs and its source (the Map's
    input), then each result that is not stored yet; `written` notes the join and those results'
    indices, which the engine lets go of once the commit is durable (`snapshot.release`)."""
    written[join.id] = list(join.results)
    if join.store is None:
        rows.extend((arn, join.id, "items", first, _encode(run)) for first, run in _runs(join.inputs))
        rows.extend((arn, join.id, "items", first, run) for first, run in join.texts.items())
        # A Map's input holds all its items: jsontext encodes such a value a part at a time.
        rows.append((arn, join.id, "source", 0, jsontext.dumps(join.source)))
    if join.results:
        # One row per commit for the results it adds ((index, result) pairs, at the lowest index): a
        # Map of 10,000 items at MaxConcurrency 10 stores ~1,000 rows of results, not 10,000.
        pairs = sorted(join.results.items())
        rows.append((arn, join.id, "results", pairs[0][0], _encode(pairs)))


def _runs(inputs: dict[int, Any]) -> Iterator[tuple[int, list[Any]]]:
    """(first index, values) of each run of consecutive indices that stays within one ITEMS_PER_ROW block."""
    first, run = 0, list[Any]()
    for index in sorted(inputs):
        if run and (index != first + len(run) or index % ITEMS_PER_ROW == 0):
            yield first, run
            run = []
        if not run:
            first = index
        run.append(inputs[index])
    if run:
        yield first, run


class StoredJoin:
    """One join's rows in `join_data`, read back on the decider's thread (`asl.frames.JoinStore`)."""

    def __init__(self, store: SqliteStore, arn: str, join_id: str) -> None:
        self.store = store
        self.key = {"arn": arn, "join_id": join_id}

    def items(self, start: int, stop: int) -> dict[int, Any]:
        """The stored inputs of the children numbered `start` to `stop - 1` (and the rest of the rows
        that hold them). Rows of kind 'item' hold one input each, as written before runs."""
        found: dict[int, Any] = {}
        for row in self.store.all("join_items", {**self.key, "start": start - ITEMS_PER_ROW + 1, "stop": stop}):
            value = json.loads(row["value"])
            if row["kind"] == "item":
                found[row["idx"]] = value
            else:
                found.update(enumerate(value, row["idx"]))
        return {index: value for index, value in found.items() if index >= start}

    def results(self) -> Iterator[list[tuple[int, Any]]]:
        """The stored results a row at a time, rows in order of their first index: only one row's
        pairs exist at once besides what the caller keeps."""
        single = [(row["idx"], json.loads(row["value"])) for row in self.store.all("join_single_results", self.key)]
        rows = ([(i, result) for i, result in json.loads(value)]
                for _, value in self.store.reader.execute(self.store.q["join_results"], self.key))
        if single:  # rows of one result each, as written before rows of pairs: all merged into one row
            yield sorted(single + [pair for row in rows for pair in row], key=lambda pair: pair[0])
        else:
            yield from rows

    def source(self) -> Any:
        """The Map state's effective input."""
        value = self.store.scalar("join_source", self.key)
        return json.loads(value) if value is not None else None
