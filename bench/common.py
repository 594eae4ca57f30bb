"""What every engine's harness shares: the noop task function, the drivers, statistics and memory.

A harness supplies an `EngineAdapter` (set up, start one execution, wait for it, tear down) and
calls `harness_main`; the drivers here time the work the same way for every engine, so the
numbers differ only by what the engines do.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import sys
import tempfile
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from bench.scenarios import (
    READER_BUCKET,
    READER_ITEMS_KEY,
    READER_RESULTS_PREFIX,
    READER_WARMUP_KEY,
    SCENARIOS,
    Scenario,
    map_input,
    map_reader_input,
    write_reader_items,
)

RESULT_MARKER = "BENCH_RESULT "


class CallRecorder:
    """Counts calls of the task function and timestamps those of the chain scenarios.

    `list.append` is atomic under the GIL, so worker threads record without a lock.
    """

    def __init__(self) -> None:
        self.stamps: list[tuple[int, float]] = []
        self.calls = 0
        self.marks: dict[int, float] = {}  # call number -> perf_counter, for the calls asked for
        self._lock = threading.Lock()

    def record(self, event: Any) -> None:
        """Note one call; events that carry a `run` number are timestamped for step-to-step."""
        with self._lock:
            self.calls += 1
            if self.calls in self.marks:
                self.marks[self.calls] = time.perf_counter()
        if isinstance(event, dict) and "run" in event:
            self.stamps.append((event["run"], time.perf_counter()))

    def reset(self) -> None:
        """Forget everything recorded so far (after warm-up)."""
        with self._lock:
            self.calls = 0
            self.marks = {}
        self.stamps = []

    def mark_calls(self, *numbers: int) -> None:
        """Timestamp the calls with these numbers (1 is the first call after `reset`)."""
        with self._lock:
            self.marks = {number: math.nan for number in numbers}

    def step_gaps_ms(self) -> list[float]:
        """Time between consecutive task calls of the same execution, in milliseconds."""
        by_run: dict[int, list[float]] = defaultdict(list)
        for run, stamp in self.stamps:
            by_run[run].append(stamp)
        gaps: list[float] = []
        for stamps in by_run.values():
            stamps.sort()
            gaps.extend((b - a) * 1000.0 for a, b in zip(stamps, stamps[1:], strict=False))
        return gaps


RECORDER = CallRecorder()


def noop(event: Any, context: Any = None) -> Any:
    """The trivial task function of every scenario: Lambda-style, returns its input unchanged."""
    RECORDER.record(event)
    return event


class EngineAdapter(Protocol):
    """How the drivers talk to one engine."""

    name: str

    def setup(self, scenario: Scenario, workdir: Path) -> None:
        """Create the store, start the engine and register the scenario's workflow."""

    def start(self, payload: dict[str, Any]) -> Any:
        """Start one execution with `payload` as input and return a handle for `wait`."""

    def wait(self, handle: Any) -> str:
        """Block until the execution ends; return its status (``SUCCEEDED`` on success)."""

    def info(self) -> dict[str, Any]:
        """Engine version and the durability settings actually in force, for the report."""

    def extra(self, handles: list[Any]) -> dict[str, Any]:
        """Optional engine-specific figures about finished executions (e.g. history sizes)."""

    def teardown(self) -> None:
        """Stop the engine."""

    def stage_objects(self, root: Path, keys: list[str]) -> None:
        """Make the objects `keys` of the bench bucket, written as files under `root/BUCKET/`, visible to
        the engine's object store (nothing to do where the engine reads that directory itself)."""


class Unsupported(Exception):  # noqa: N818 - a verdict, reported as such, not an error
    """The engine cannot run this scenario as written; the message says why. The result then carries
    `unsupported` (reported as n/a) instead of figures or an error."""


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of `values` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def _status_value(path: str, key: str) -> float | None:
    """A `kB` field of /proc/self/status in MiB (None where /proc is missing)."""
    try:
        with open(path) as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def rss_mib() -> float | None:
    """Current resident set size in MiB."""
    return _status_value("/proc/self/status", "VmRSS")


def peak_rss_mib() -> float:
    """Resident-set high-water mark in MiB (VmHWM; `ru_maxrss` where /proc is missing)."""
    hwm = _status_value("/proc/self/status", "VmHWM")
    if hwm is not None:
        return hwm
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark to the current RSS (Linux `clear_refs` 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


class RssSampler:
    """Samples the current RSS every few milliseconds in a thread, to see memory inside a time window
    (the high-water mark only tells the peak of the whole run)."""

    def __init__(self, interval_s: float = 0.002) -> None:
        self.samples: list[tuple[float, float]] = []
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        page_mib = os.sysconf("SC_PAGE_SIZE") / 2**20
        with open("/proc/self/statm") as statm:
            while not self._stop.is_set():
                statm.seek(0)
                self.samples.append((time.perf_counter(), int(statm.read().split()[1]) * page_mib))
                self._stop.wait(self._interval_s)

    def __enter__(self) -> RssSampler:
        if os.path.exists("/proc/self/statm"):
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def peak_between(self, start: float, end: float) -> float | None:
        """The highest RSS sampled in [start, end], in MiB (None if no sample fell inside)."""
        inside = [rss for stamp, rss in self.samples if start <= stamp <= end]
        return max(inside) if inside else None


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def run_latency(adapter: EngineAdapter, scenario: Scenario, workdir: Path) -> dict[str, Any]:
    """(a): one chain10 execution at a time; end-to-end and step-to-step latency."""
    for k in range(scenario.warmup):
        adapter.wait(adapter.start({"run": -1 - k}))
    RECORDER.reset()
    latencies: list[float] = []
    handles: list[Any] = []
    failures = 0
    for k in range(scenario.executions):
        started = time.perf_counter()
        handle = adapter.start({"run": k})
        status = adapter.wait(handle)
        latencies.append((time.perf_counter() - started) * 1000.0)
        handles.append(handle)
        failures += status != "SUCCEEDED"
    gaps = RECORDER.step_gaps_ms()
    return {
        "executions": scenario.executions,
        "failed": failures,
        "task_calls": RECORDER.calls,
        "e2e_ms_p50": _rounded(percentile(latencies, 0.50)),
        "e2e_ms_p99": _rounded(percentile(latencies, 0.99)),
        "e2e_ms_mean": _rounded(sum(latencies) / len(latencies)),
        "step_ms_p50": _rounded(percentile(gaps, 0.50)),
        "step_ms_p99": _rounded(percentile(gaps, 0.99)),
        "step_samples": len(gaps),
        **adapter.extra(handles[-5:]),
    }


def run_throughput(adapter: EngineAdapter, scenario: Scenario, workdir: Path) -> dict[str, Any]:
    """(b): `executions` chain10 executions started back to back, then awaited."""
    adapter.wait(adapter.start({"run": -1}))  # warm the code paths once
    RECORDER.reset()
    started = time.perf_counter()
    handles = [adapter.start({"run": k}) for k in range(scenario.executions)]
    all_started = time.perf_counter()
    statuses = [adapter.wait(handle) for handle in handles]
    seconds = time.perf_counter() - started
    steps = scenario.executions * scenario.steps_per_execution
    extra = adapter.extra(handles[-5:])
    if isinstance(extra.get("history_events_per_execution"), int):
        extra["history_events_per_s"] = round(scenario.executions * extra["history_events_per_execution"] / seconds, 1)
    return {
        "executions": scenario.executions,
        "failed": sum(status != "SUCCEEDED" for status in statuses),
        "task_calls": RECORDER.calls,
        "seconds": round(seconds, 3),
        "start_phase_seconds": round(all_started - started, 3),
        "executions_per_s": round(scenario.executions / seconds, 1),
        "steps_per_s": round(steps / seconds, 1),
        **extra,
    }


def run_map(adapter: EngineAdapter, scenario: Scenario, workdir: Path) -> dict[str, Any]:
    """(c): one Map execution over `items` items; time, steps/s and peak memory above baseline."""
    adapter.wait(adapter.start(map_input(3)))  # warm the code paths once
    # The caller's own copy of the input is built before the baseline: it is not the engine's memory.
    return _measure_map(adapter, scenario, map_input(scenario.items))


def run_map_reader(adapter: EngineAdapter, scenario: Scenario, workdir: Path) -> dict[str, Any]:
    """(c) from the object store: the Map's items read from a JSON Lines object, its results written
    back; the same figures as `run_map`, plus the size of what was written under the results' prefix."""
    root = workdir / "objects"
    # The objects are written (and staged) before the baseline: the store's, not the engine's, memory.
    write_reader_items(root, READER_WARMUP_KEY, 3)
    write_reader_items(root, READER_ITEMS_KEY, scenario.items)
    adapter.stage_objects(root, [READER_WARMUP_KEY, READER_ITEMS_KEY])
    adapter.wait(adapter.start(map_reader_input(READER_WARMUP_KEY)))  # warm the code paths once
    results_dir = root / READER_BUCKET / READER_RESULTS_PREFIX
    before = _tree_bytes(results_dir)
    figures = _measure_map(adapter, scenario, map_reader_input(READER_ITEMS_KEY))
    # Where the engine writes into the directory (stateway, DBOS): what the measured run wrote there.
    figures["results_bytes_written"] = _tree_bytes(results_dir) - before if results_dir.exists() else None
    return figures


def _tree_bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file()) if directory.exists() else 0


def _measure_map(adapter: EngineAdapter, scenario: Scenario, payload: dict[str, Any]) -> dict[str, Any]:
    """Run one Map execution on `payload` after a memory baseline; time, steps/s and RSS above it."""
    RECORDER.reset()
    # The steady state: from the call of the item at 10 % to that at 90 %, after the input was taken
    # in and before the output is assembled (those hold the payload's own texts).
    first, last = max(1, scenario.items // 10), max(1, scenario.items * 9 // 10)
    RECORDER.mark_calls(first, last)
    gc.collect()
    baseline = rss_mib()
    hwm_reset = reset_peak_rss()
    baseline_peak = peak_rss_mib()
    with RssSampler() as sampler:
        started = time.perf_counter()
        handle = adapter.start(payload)
        status = adapter.wait(handle)
        seconds = time.perf_counter() - started
    peak = peak_rss_mib()
    steady = sampler.peak_between(RECORDER.marks.get(first, math.nan), RECORDER.marks.get(last, math.nan))
    steps = scenario.steps_per_execution
    return {
        "items": scenario.items,
        "max_concurrency": scenario.max_concurrency,
        "failed": int(status != "SUCCEEDED"),
        "status": status,
        "task_calls": RECORDER.calls,
        "seconds": round(seconds, 3),
        "steps_per_s": round(steps / seconds, 1),
        "baseline_rss_mib": _rounded(baseline, 1),
        "peak_rss_mib": round(peak, 1),
        "peak_rss_delta_mib": round(peak - (baseline if hwm_reset and baseline is not None else baseline_peak), 1),
        "hwm_reset": hwm_reset,
        "steady_rss_delta_mib": None if steady is None or baseline is None else round(steady - baseline, 1),
        **adapter.extra([handle]),
    }


DRIVERS: dict[str, Callable[[EngineAdapter, Scenario, Path], dict[str, Any]]] = {
    "latency": run_latency,
    "throughput": run_throughput,
    "map": run_map,
    "mapreader": run_map_reader,
}


def emit(result: dict[str, Any]) -> None:
    """Print the result as the one marked line `run.py` reads."""
    sys.stdout.write(RESULT_MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()


def harness_main(make_adapter: Callable[[], EngineAdapter], argv: list[str] | None = None) -> int:
    """Run one scenario on one engine in this process and print its result line."""
    parser = argparse.ArgumentParser(description="Run one benchmark scenario on one engine.")
    parser.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    parser.add_argument("--workdir", help="directory for the engine's database (default: a temp dir)")
    parser.add_argument("--executions", type=int, help="override the scenario's execution count")
    parser.add_argument("--items", type=int, help="override the Map scenario's item count")
    args = parser.parse_args(argv)
    scenario = SCENARIOS[args.scenario]
    if args.executions is not None or args.items is not None:
        from dataclasses import replace

        scenario = replace(
            scenario,
            executions=args.executions if args.executions is not None else scenario.executions,
            items=args.items if args.items is not None else scenario.items,
        )
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="stateway-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"scenario": scenario.name, "python": platform.python_version()}
    adapter: EngineAdapter | None = None
    try:
        adapter = make_adapter()
        result["engine"] = adapter.name
        adapter.setup(scenario, workdir)
        result["info"] = adapter.info()
        result.update(DRIVERS[scenario.kind](adapter, scenario, workdir))
    except Unsupported as exc:
        result["unsupported"] = str(exc)
    except Exception as exc:  # a broken engine is a row in the report, not a crashed run
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["traceback"] = traceback.format_exc(limit=8)
    finally:
        if adapter is not None:
            try:
                adapter.teardown()
            except Exception as exc:  # teardown trouble must not hide the measurement
                result.setdefault("teardown_error", f"{type(exc).__name__}: {exc}")
    emit(result)
    sys.stdout.flush()
    # Engines leave daemon threads behind; the measurement is out, so leave without joining them.
    os._exit(0)
