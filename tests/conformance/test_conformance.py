"""Every corpus case in the baselines still passes: result for baseline.txt, history for baseline_history.txt.

Cases outside the baselines are not run here (`python -m tests.conformance.report` runs them all).
Cases whose Lambda handler sleeps (to provoke a task timeout) cost real seconds; STATEWAY_CONFORMANCE_SLOW=0
skips them.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import pytest

from .compare import CaseResult
from .corpus import Case, CorpusMissing, cases_by_id, corpus_dir
from .execute import EngineUnavailable, run_case
from .report import BASELINE, BASELINE_HISTORY, DEFAULT_TIMEOUT, read_baseline

SLOW_ENV = "STATEWAY_CONFORMANCE_SLOW"  # "0" skips the cases whose handlers sleep


def _params(ids: list[str], name: str) -> list[Any]:
    if not ids:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{name} is empty or missing"))]
    return ids


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Fail a hung case instead of hanging the suite (SIGALRM; main thread, POSIX)."""

    def expire(_signum: int, _frame: Any) -> None:
        raise TimeoutError(f"case did not finish within {seconds:g}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@cache
def _corpus() -> dict[str, Case]:
    return cases_by_id(corpus_dir())


@cache
def _run(case_id: str) -> CaseResult:
    # Both baselines name most cases; each runs once per session.
    case = _corpus()[case_id]
    with _time_limit(DEFAULT_TIMEOUT):
        return run_case(case)


def _result_for(case_id: str) -> CaseResult:
    try:
        corpus = _corpus()
    except CorpusMissing as exc:
        pytest.skip(str(exc))
    if case_id not in corpus:
        pytest.fail(
            f"baseline id {case_id!r} is not in the corpus at {corpus_dir()}: "
            "the case was renamed or removed; rewrite the baselines with "
            "`python -m tests.conformance.report --write-baseline`"
        )
    case = corpus[case_id]
    if case.sleeps and os.environ.get(SLOW_ENV) == "0":
        pytest.skip(f"a handler sleeps for real seconds; {SLOW_ENV}=0 skips it")
    try:
        return _run(case_id)
    except EngineUnavailable as exc:
        pytest.fail(str(exc))


@pytest.mark.parametrize("case_id", _params(read_baseline(BASELINE), BASELINE.name))
def test_status_and_result_still_match(case_id: str) -> None:
    result = _result_for(case_id)
    assert result.status.passed, f"status: {result.status.reason}"
    assert result.result.passed, f"output/error/cause: {result.result.reason}"


@pytest.mark.parametrize("case_id", _params(read_baseline(BASELINE_HISTORY), BASELINE_HISTORY.name))
def test_history_still_matches(case_id: str) -> None:
    result = _result_for(case_id)
    assert result.history.passed, f"history: {result.history.reason}"
