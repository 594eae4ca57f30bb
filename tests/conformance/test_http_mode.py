"""A handful of corpus cases through `report --http`'s runner (a real `stateway serve`, boto3), so it cannot rot.

The whole corpus over HTTP is the report's job (`python -m tests.conformance.report --http`).
"""

from __future__ import annotations

import pytest

from .corpus import Case, CorpusMissing, cases_by_id, corpus_dir

pytest.importorskip("boto3")
pytestmark = pytest.mark.e2e

PREFIX = "tests/aws/services/stepfunctions/v2/"
CASES = [  # two Lambda stack traces at once, a distributed Map, a Wait, JSONata, Parallel
    "error_handling/test_task_lambda.py::TestTaskLambda::test_raise_custom_exception",
    "error_handling/test_task_service_lambda.py::TestTaskServiceLambda::test_raise_exception",
    "scenarios/test_base_scenarios.py::TestBaseScenarios::test_map_state_config_distributed_parameters",
    "base/test_wait.py::TestSfnWait::test_base_wait_seconds_path[-1.5]",
    "arguments/test_arguments.py::TestArgumentsBase::test_base_cases[BASE_LAMBDA_EMPTY_GLOBAL_QL_JSONATA]",
    "scenarios/test_base_scenarios.py::TestBaseScenarios::test_parallel_state[PARALLEL_STATE]",
]


def _cases() -> list[Case]:
    try:
        corpus = cases_by_id(corpus_dir())
    except CorpusMissing as exc:
        pytest.skip(str(exc))
    missing = [c for c in CASES if PREFIX + c not in corpus]
    if missing:
        pytest.fail(f"cases renamed or removed from the corpus: {missing}")
    return [corpus[PREFIX + c] for c in CASES]


def test_cases_pass_over_http() -> None:
    from .http_mode import run_all_http, skipped_cases

    cases = _cases()
    assert skipped_cases(cases) == {}
    results = run_all_http(cases, jobs=4, timeout=30)
    assert set(results) == {c.id for c in cases}
    for case in cases:
        failures = results[case.id].failures()
        assert not failures, f"{case.id}: " + "; ".join(f"{name}: {v.reason}" for name, v in failures)


def test_long_waits_are_skipped() -> None:
    from .http_mode import realtime_wait

    wait = {"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}}}
    assert realtime_wait(wait, {"s": 60}) == 60
    assert realtime_wait(wait, {"s": -1}) == 0
    past = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Timestamp": "2016-03-14T01:59:00Z", "End": True}}}
    assert realtime_wait(past, {}) == 0
    assert realtime_wait({**wait, "TimeoutSeconds": 5}, {"s": 60}) == 5
