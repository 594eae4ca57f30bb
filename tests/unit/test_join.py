"""A join's results as a list and as JSON text, merged from stored rows and memory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from stateway.asl.frames import Join
from stateway.asl.jsontext import RawJson


class Rows:
    """Stored results as `JoinStore.results` gives them: rows sorted by their first index."""

    def __init__(self, rows: list[list[tuple[int, Any]]]) -> None:
        self.rows = sorted(rows, key=lambda row: row[0][0])

    def items(self, start: int, stop: int) -> dict[int, Any]:
        return {}

    def results(self) -> Iterator[list[tuple[int, Any]]]:
        return iter(self.rows)

    def source(self) -> Any:
        return None


def test_result_text_merges_overlapping_rows_memory_and_gaps_in_index_order() -> None:
    # A slow child's result (2) arrives in a late row beside far later ones; 4 and 8 failed (tolerated);
    # 6 is both stored and, not yet let go of, in memory.
    rows = [[(0, "a"), (1, {"b": 1})], [(3, 3), (5, [5])], [(2, None), (9, "j")], [(6, "g")]]
    join = Join(kind="map", size=11, inputs={}, results={7: "h", 6: "g", 10: RawJson('{"k":[10]}')},
                store=Rows(rows))
    expected = ["a", {"b": 1}, None, 3, None, [5], "g", "h", None, "j", {"k": [10]}]
    assert join.result_list() == expected
    assert join.result_text() == json.dumps(expected, separators=(",", ":"))


def test_result_text_without_stored_rows_and_when_empty() -> None:
    assert Join(kind="parallel", size=2, inputs={}, results={1: 1, 0: 0}).result_text() == "[0,1]"
    assert Join(kind="map", size=0, inputs={}, results={}).result_text() == "[]"
    assert Join(kind="map", size=2, inputs={}, results={}).result_text() == "[null,null]"
