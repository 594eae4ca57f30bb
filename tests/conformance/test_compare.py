"""The corpus loader, binder, normaliser and comparer judge recordings as the recording tool would."""

from __future__ import annotations

import copy
import json
import traceback
from pathlib import Path
from typing import Any

import pytest

from .compare import (
    ActualRun,
    CaseResult,
    Matcher,
    Normaliser,
    canonical_types,
    compare_case,
    normalise_run,
    sort_parallel_branches,
)
from .corpus import (
    Case,
    CorpusMissing,
    UnboundPlaceholder,
    bind,
    forget_handler_source,
    make_handler,
    runnable_cases,
    substitute,
)

# ---- helpers --------------------------------------------------------------------------------


def make_case(expected: dict[str, Any], **raw: Any) -> Case:
    data: dict[str, Any] = {
        "id": "synthetic",
        "kind": "execution",
        "category": "test",
        "source": {"test": "T::t"},
        "needs": [],
        "definition": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        "input": {},
        "snapshot_placeholders": [
            {"placeholder": "snf_role_arn", "value": "{{sfn_role.arn}}", "how": "regex/literal replace"}
        ],
        "expected": expected,
    }
    data.update(raw)
    return Case(
        id=data["id"],
        path=Path("synthetic.json"),
        kind=data["kind"],
        category=data["category"],
        test=data["source"]["test"],
        needs=tuple(data["needs"]),
        raw=data,
    )


def event(eid: Any, prev: int, etype: str, **details: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": eid, "previousEventId": prev, "timestamp": "timestamp", "type": etype}
    out.update(details)
    return out


ROLE = "arn:aws:iam::123456789012:role/stateway-local"


def started(input_value: Any, role: str = "snf_role_arn") -> dict[str, Any]:
    return event(
        1,
        0,
        "ExecutionStarted",
        executionStartedEventDetails={
            "input": input_value,
            "inputDetails": {"truncated": False},
            "roleArn": role,
        },
    )


def as_engine_event(e: dict[str, Any]) -> dict[str, Any]:
    """An event as an engine emits it: detail objects as JSON text."""
    out = copy.deepcopy(e)
    for key, value in out.items():
        if key.endswith("EventDetails"):
            out[key] = {
                k: json.dumps(v) if isinstance(v, dict | list) and k in ("input", "output") else v
                for k, v in value.items()
            }
    return out


def corpus_or_skip() -> list[Case]:
    try:
        return runnable_cases()
    except CorpusMissing as exc:
        pytest.skip(str(exc))


def case_where(predicate: Any) -> Case:
    for case in corpus_or_skip():
        if predicate(case):
            return case
    pytest.skip("no corpus case of the wanted shape")


# ---- the corpus compared with itself ---------------------------------------------------------


def test_every_runnable_case_matches_its_own_recording() -> None:
    failures = []
    for case in corpus_or_skip():
        result = compare_case(case, ActualRun.from_expected(case), bind(case).values)
        if case.expected.get("status") is None:
            # The one recording of a still-running execution can never pass; it must say why.
            assert result.status.group == "status not recorded"
            continue
        if result.failures():
            failures.append((case.id, result.failures()))
    assert failures == []


def _self_result(case: Case, mutate: Any) -> CaseResult:
    run = ActualRun.from_expected(case)
    events = [copy.deepcopy(dict(e)) for e in run.events]
    output = run.output
    status = run.status
    events, output, status = mutate(events, output, status)
    mutated = ActualRun(status, output, run.error, run.cause, tuple(events))
    return compare_case(case, mutated, bind(case).values)


def test_a_changed_output_value_fails_with_its_path() -> None:
    case = case_where(
        lambda c: isinstance(c.expected.get("output"), dict) and c.expected.get("output") and c.has_history
    )
    key = next(iter(case.expected["output"]))

    def mutate(events: list[dict[str, Any]], output: str | None, status: str | None) -> Any:
        value = json.loads(output or "{}")
        value[key] = "something else"
        return events, json.dumps(value), status

    result = _self_result(case, mutate)
    assert result.result.passed is False
    assert f"$.{key}" in result.result.reason
    assert result.status.passed is True


def test_a_wrong_status_fails_status() -> None:
    case = case_where(lambda c: c.expected.get("status") == "SUCCEEDED")
    result = _self_result(case, lambda ev, out, st: (ev, out, "FAILED"))
    assert result.status.passed is False
    assert "expected SUCCEEDED, got FAILED" in result.status.reason


def test_a_changed_event_type_fails_both_history_verdicts() -> None:
    case = case_where(lambda c: c.has_history and len(c.expected["history"]) >= 4)

    def mutate(events: list[dict[str, Any]], output: str | None, status: str | None) -> Any:
        events[2]["type"] = "SomethingElse"
        return events, output, status

    result = _self_result(case, mutate)
    assert result.history.passed is False
    assert "SomethingElse" in result.history.reason
    assert result.history_detail.passed is False


def test_a_missing_event_fails_history() -> None:
    case = case_where(lambda c: c.has_history and len(c.expected["history"]) >= 4)
    result = _self_result(case, lambda ev, out, st: (ev[:2] + ev[3:], out, st))
    assert result.history.passed is False
    assert result.history_detail.passed is False


def test_a_wrong_previous_event_id_fails_only_full_detail() -> None:
    case = case_where(
        lambda c: c.has_history and len(c.expected["history"]) >= 4 and c.expected["history"][3]["id"] == 4
    )

    def mutate(events: list[dict[str, Any]], output: str | None, status: str | None) -> Any:
        events[3]["previousEventId"] = 99
        return events, output, status

    result = _self_result(case, mutate)
    assert result.history.passed is True
    assert result.history_detail.passed is False
    assert "previousEventId" in result.history_detail.reason
    assert "event 4" in result.history_detail.reason


def test_reordered_parallel_branch_events_still_match() -> None:
    case = case_where(lambda c: c.has_history and sum(e["id"] == [0] for e in c.expected["history"]) >= 3)

    def mutate(events: list[dict[str, Any]], output: str | None, status: str | None) -> Any:
        zeroed = [i for i, e in enumerate(events) if e["id"] == [0]]
        first, last = zeroed[0], zeroed[-1]
        assert all(i in zeroed for i in range(first, last + 1)), "expected one contiguous branch run"
        before = [e["type"] for e in events]
        events[first : last + 1] = reversed(events[first : last + 1])
        assert [e["type"] for e in events] != before
        return events, output, status

    result = _self_result(case, mutate)
    assert result.failures() == []


# ---- the Parallel normaliser of the recording tool -------------------------------------------


def test_parallel_normaliser_zeroes_branch_events_and_drops_like_the_tool_on_nesting() -> None:
    # A Parallel inside a Parallel, one Pass state inside: the recording of this exact shape has
    # ids 1, 2, 3, [0], 5, [0], [0], 11, 12 — the tool's slice assignment loses three events.
    types = [
        "ExecutionStarted",
        "ParallelStateEntered",
        "ParallelStateStarted",
        "ParallelStateEntered",
        "ParallelStateStarted",
        "PassStateEntered",
        "PassStateExited",
        "ParallelStateSucceeded",
        "ParallelStateExited",
        "ParallelStateSucceeded",
        "ParallelStateExited",
        "ExecutionSucceeded",
    ]
    events = [event(i + 1, i, t) for i, t in enumerate(types)]
    sort_parallel_branches(events)
    assert [e["id"] for e in events] == [1, 2, 3, [0], 5, [0], [0], 11, 12]
    assert [e["previousEventId"] for e in events if e["id"] == [0]] == [0, 0, 0]


def test_branch_runs_compare_as_multisets_in_the_type_sequence() -> None:
    a = [event(1, 0, "X"), event([0], 0, "B"), event([0], 0, "A"), event(4, 3, "Y")]
    b = [event(1, 0, "X"), event([0], 0, "A"), event([0], 0, "B"), event(4, 3, "Y")]
    assert canonical_types(a) == canonical_types(b)
    c = [event(1, 0, "X"), event(2, 1, "B"), event(3, 2, "A"), event(4, 3, "Y")]
    assert canonical_types(a) != canonical_types(c)


# ---- normalisation rules --------------------------------------------------------------------


def _normalise(case: Case, run: ActualRun) -> Any:
    return normalise_run(run, Normaliser.for_case(case, {"sfn_role.arn": ROLE}))


def test_strings_are_normalised_like_the_recordings() -> None:
    output = {
        "when": "2024-11-06T09:42:03Z",
        "quoted": '"2024-11-06T09:42:03.123+01:00"',
        "not_a_date": "2016-13-05T21:29:29Z",
        "no_zone": "2016-12-05T21:29:29",
        "Timestamp": 12345,
        "TimestampValue": "2016-03-14T01:59:00Z",
        "arn": "arn:aws:states:eu-west-2:123456789012:stateMachine:Machine",
        "requestId": "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9",
        "mention": "request 0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9 failed",
        "role": ROLE,
    }
    case = make_case({"status": "SUCCEEDED", "output": {}, "output_encoding": "parsed-by-snapshot-tool"})
    normal = _normalise(case, ActualRun("SUCCEEDED", json.dumps(output), None, None))
    assert normal.output == {
        "when": "date",
        "quoted": '"date"',
        "not_a_date": "2016-13-05T21:29:29Z",
        "no_zone": "2016-12-05T21:29:29",
        "Timestamp": "timestamp",
        "TimestampValue": "date",
        "arn": "arn:<partition>:states:<region>:111111111111:stateMachine:Machine",
        "requestId": "<uuid:1>",
        "mention": "request <uuid:1> failed",
        "role": "snf_role_arn",
    }


def test_only_braced_strings_are_parsed_and_only_one_level_deep() -> None:
    case = make_case({"status": "SUCCEEDED", "output": {}, "output_encoding": "parsed-by-snapshot-tool"})
    details = {"output": json.dumps({"inner": json.dumps({"a": 1})}), "name": "[1, 2]"}
    run = ActualRun(
        "SUCCEEDED", "{}", None, None, (event(2, 1, "PassStateExited", stateExitedEventDetails=details),)
    )
    normal = _normalise(case, run)
    assert normal.events[0]["stateExitedEventDetails"] == {"output": {"inner": '{"a": 1}'}, "name": "[1, 2]"}


def test_event_timestamps_and_absent_fields() -> None:
    case = make_case({"status": "SUCCEEDED"})
    raw = {
        "id": 1,
        "previousEventId": 0,
        "timestamp": "2024-01-01T00:00:00+00:00",
        "type": "X",
        "xEventDetails": {"cause": None, "error": "E"},
    }
    normal = _normalise(case, ActualRun("SUCCEEDED", "{}", None, None, (raw,)))
    assert normal.events[0] == {
        "id": 1,
        "previousEventId": 0,
        "timestamp": "timestamp",
        "type": "X",
        "xEventDetails": {"error": "E"},
    }


def test_wildcards_json_text_and_strict_scalars() -> None:
    m = Matcher()
    assert (
        m.diff(
            "arn:<partition>:states:<region>:111111111111:execution:<ArnPart_0idx>:<ExecArnPart_0idx>",
            "arn:<partition>:states:<region>:111111111111:execution:StateMachine:exec-1",
        )
        is None
    )
    assert m.diff("<uuid:1>", "has space") is not None
    assert m.diff("[1, 2, 3]", "[1,2,3]") is None
    assert m.diff({"a": [1, 2]}, '{"a":[1,2]}') is None
    assert m.diff([1, 2], "[1,2]") is None
    assert m.diff(1, 1.0) is not None
    assert m.diff(1, True) is not None
    assert m.diff("42", 42) is not None
    assert m.diff("$x < 3 and $y > 2", "$x < 3 and $y > 2") is None
    assert (
        m.diff({"Date": "date", "RequestId": "RequestId"}, {"Date": "Tue, 01 Oct 2024", "RequestId": ["x"]})
        is None
    )
    assert m.diff({"Date": "Tuesday"}, {"Date": "Wednesday"}) is not None
    found = m.diff({"a": {"b": [1, {"c": "x"}]}}, {"a": {"b": [1, {"c": "y"}]}}, "$")
    assert found is not None and found.path == "$.a.b[1].c"


def test_unknown_placeholder_values_act_as_wildcards() -> None:
    case = make_case(
        {
            "status": "SUCCEEDED",
            "output": {"role": "snf_role_arn"},
            "output_encoding": "parsed-by-snapshot-tool",
            "history": [started({})],
        }
    )
    # No ExecutionStarted role to learn the value from in `events`? Here there is one, so it is learnt.
    run = ActualRun(
        "SUCCEEDED", json.dumps({"role": ROLE}), None, None, (as_engine_event(started({}, ROLE)),)
    )
    assert compare_case(case, run).failures() == []
    # Without a history to learn it from, the placeholder matches any single name.
    bare = ActualRun("SUCCEEDED", json.dumps({"role": "arn:aws:iam::1:role/x"}), None, None)
    assert compare_case(case, bare).result.passed is True


def test_json_path_placeholders_apply_to_history_and_output() -> None:
    placeholders = [
        {
            "placeholder": "Random",
            "jsonpath": "$..events..executionSucceededEventDetails.output.N",
            "how": "jsonpath",
        },
        {
            "placeholder": "Random",
            "jsonpath": "$..events..stateExitedEventDetails.output.N",
            "how": "jsonpath",
        },
    ]
    history = [
        started({}),
        event(2, 1, "PassStateExited", stateExitedEventDetails={"name": "P", "output": {"N": "Random"}}),
        event(3, 2, "ExecutionSucceeded", executionSucceededEventDetails={"output": {"N": "Random"}}),
    ]
    case = make_case(
        {
            "status": "SUCCEEDED",
            "output": {"N": "Random"},
            "output_encoding": "parsed-by-snapshot-tool",
            "history": history,
        },
        snapshot_placeholders=placeholders,
    )
    engine = [as_engine_event(started({}))]
    engine.append(
        as_engine_event(
            event(2, 1, "PassStateExited", stateExitedEventDetails={"name": "P", "output": {"N": 17}})
        )
    )
    engine.append(
        as_engine_event(
            event(3, 2, "ExecutionSucceeded", executionSucceededEventDetails={"output": {"N": 17}})
        )
    )
    run = ActualRun("SUCCEEDED", '{"N": 17}', None, None, tuple(engine))
    assert compare_case(case, run).failures() == []


def test_failed_execution_compares_error_and_cause() -> None:
    case = make_case({"status": "FAILED", "error": "States.Runtime", "cause": "It broke at <uuid:1>."})
    ok = ActualRun("FAILED", None, "States.Runtime", "It broke at 0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9.")
    assert compare_case(case, ok).passed_result
    wrong = ActualRun("FAILED", None, "States.Runtime", "It broke elsewhere.")
    assert "cause" in compare_case(case, wrong).result.reason
    no_cause = make_case({"status": "FAILED", "error": "States.Timeout"})
    assert compare_case(no_cause, ActualRun("FAILED", None, "States.Timeout", None)).passed_result
    assert not compare_case(no_cause, ActualRun("FAILED", None, "States.Timeout", "why")).passed_result


def test_json_text_output_is_compared_decoded() -> None:
    case = make_case({"status": "SUCCEEDED", "output": [1, 2], "output_encoding": "json-text"})
    assert compare_case(case, ActualRun("SUCCEEDED", "[1, 2]", None, None)).passed_result
    assert not compare_case(case, ActualRun("SUCCEEDED", "[1,2,3]", None, None)).passed_result
    null = make_case({"status": "SUCCEEDED", "output": None, "output_encoding": "json-text"})
    assert compare_case(null, ActualRun("SUCCEEDED", "null", None, None)).passed_result
    assert not compare_case(null, ActualRun("SUCCEEDED", None, None, None)).passed_result


# ---- binding --------------------------------------------------------------------------------


def test_bind_substitutes_placeholders_inside_longer_strings() -> None:
    case = make_case(
        {"status": "SUCCEEDED"},
        needs=["lambda"],
        resources=[
            {"id": "lambda_0", "type": "lambda", "source": "def handler(event, context):\n    return event\n"}
        ],
        definition={
            "StartAt": "T",
            "States": {"T": {"Type": "Task", "Resource": "{{lambda_0.arn}}", "End": True}},
        },
        input={"FunctionName": "no_such_{{lambda_0.name}}"},
    )
    bound = bind(case)
    (function,) = bound.functions
    assert bound.definition["States"]["T"]["Resource"] == function.arn
    assert function.arn == f"arn:aws:lambda:us-east-1:111111111111:function:{function.name}"
    assert bound.input == {"FunctionName": f"no_such_{function.name}"}
    assert bound.functions_by_name[function.name]({"a": 1}, None) == {"a": 1}
    with pytest.raises(UnboundPlaceholder):
        substitute("{{sqs_queue_0.url}}", bound.values)


def test_handler_tracebacks_read_like_lambda_ones() -> None:
    handler = make_handler(
        'def handler(event, context):\n    raise Exception("Some exception was raised.")\n'
    )
    forget_handler_source()
    with pytest.raises(Exception, match="Some exception") as info:
        handler({}, None)
    frame = traceback.extract_tb(info.value.__traceback__)[-1]
    assert (frame.filename, frame.lineno, frame.name) == ("/var/task/handler.py", 2, "handler")
    assert frame.line == 'raise Exception("Some exception was raised.")'
