"""Runs every runnable corpus case (each in its own time-limited process) and prints pass rates.

python -m tests.conformance.report [--write-baseline] [--filter STR] [--show-failures] [--http]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

from .compare import CaseResult
from .corpus import Case, CorpusMissing, corpus_dir, load_case, runnable_cases
from .execute import EngineUnavailable, local_runner_class, run_case

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "baseline.txt"
BASELINE_HISTORY = HERE / "baseline_history.txt"
DEFAULT_TIMEOUT = 30.0

# Targets the project committed to, over JSONPath-only runnable cases.
TARGET_RESULT = 98.0
TARGET_HISTORY = 90.0


# ---- running in worker processes ------------------------------------------------------------


def _child(path: str, conn: Connection) -> None:
    try:
        case = load_case(Path(path))
        try:
            result = run_case(case)
        except EngineUnavailable as exc:
            result = CaseResult.failed_all(case.id, str(exc), "engine unavailable")
        conn.send(result)
        conn.close()
    finally:
        # A handler thread may still sleep; the verdict is sent, so leave without waiting for it.
        os._exit(0)


def run_all(
    cases: Sequence[Case], jobs: int, timeout: float, progress: bool = False
) -> dict[str, CaseResult]:
    """Run each case in a forked process with a deadline; a hung case fails with reason `timeout`."""
    if jobs <= 0:
        return {c.id: run_case(c) for c in cases}
    context = multiprocessing.get_context("fork")
    pending = list(cases)
    running: dict[Connection, tuple[multiprocessing.process.BaseProcess, Case, float]] = {}
    results: dict[str, CaseResult] = {}
    while pending or running:
        while pending and len(running) < jobs:
            case = pending.pop(0)
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(target=_child, args=(str(case.path), sender), daemon=True)
            process.start()
            sender.close()
            running[receiver] = (process, case, time.monotonic() + timeout)
        next_deadline = min(deadline for _, _, deadline in running.values())
        ready = wait(list(running), timeout=max(0.0, next_deadline - time.monotonic()))
        for conn in ready:
            assert isinstance(conn, Connection)
            process, case, _ = running.pop(conn)
            try:
                results[case.id] = conn.recv()
            except (EOFError, OSError):
                process.join(5)
                results[case.id] = CaseResult.failed_all(
                    case.id, f"worker died (exit code {process.exitcode})", "worker died"
                )
            conn.close()
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join()
        now = time.monotonic()
        for conn, (process, case, deadline) in list(running.items()):
            if now >= deadline:
                process.kill()
                process.join()
                conn.close()
                del running[conn]
                results[case.id] = CaseResult.failed_all(case.id, "timeout", "timeout")
        if progress:
            print(f"\r{len(results)}/{len(cases)} cases", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    return results


# ---- tallies --------------------------------------------------------------------------------


@dataclass
class Rate:
    passed: int = 0
    total: int = 0

    def add(self, ok: bool | None) -> None:
        if ok is None:
            return
        self.total += 1
        self.passed += int(ok)

    @property
    def percent(self) -> float:
        return 100.0 * self.passed / self.total if self.total else 0.0

    def __str__(self) -> str:
        if not self.total:
            return "-"
        return f"{self.passed}/{self.total} {self.percent:5.1f}%"


@dataclass
class Tally:
    """Pass rates for one group of cases, counted by case and by recorded test (all its cases pass)."""

    result: Rate = field(default_factory=Rate)
    history: Rate = field(default_factory=Rate)
    detail: Rate = field(default_factory=Rate)
    tests: dict[str, list[CaseResult]] = field(default_factory=lambda: defaultdict(list))

    def add(self, case: Case, result: CaseResult) -> None:
        self.result.add(result.passed_result)
        self.history.add(result.history.passed)
        self.detail.add(result.history_detail.passed)
        self.tests[case.test].append(result)

    def test_rates(self) -> tuple[Rate, Rate, Rate]:
        result, history, detail = Rate(), Rate(), Rate()
        for results in self.tests.values():
            result.add(all(r.passed_result for r in results))
            history.add(_all_recorded(r.history.passed for r in results))
            detail.add(_all_recorded(r.history_detail.passed for r in results))
        return result, history, detail


def _all_recorded(verdicts: Iterable[bool | None]) -> bool | None:
    recorded = [v for v in verdicts if v is not None]
    return all(recorded) if recorded else None


def tally(cases: Sequence[Case], results: dict[str, CaseResult]) -> dict[str, Tally]:
    groups: dict[str, Tally] = defaultdict(Tally)
    for case in cases:
        result = results[case.id]
        for name in ("all", case.language_group, f"category: {case.category}"):
            groups[name].add(case, result)
    return groups


# ---- printing -------------------------------------------------------------------------------


def print_rates(groups: dict[str, Tally], out: list[str]) -> None:
    order = ["all", "JSONPath-only", "any JSONata"] + sorted(k for k in groups if k.startswith("category: "))
    header = (
        f"{'group':<44} {'result (cases)':>16} {'history':>16} {'full detail':>16}"
        f" | {'result (tests)':>16} {'history':>16} {'full detail':>16}"
    )
    out.append(header)
    out.append("-" * len(header))
    for name in order:
        if name not in groups:
            continue
        t = groups[name]
        tr, th, td = t.test_rates()
        out.append(
            f"{name:<44} {t.result!s:>16} {t.history!s:>16} {t.detail!s:>16}"
            f" | {tr!s:>16} {th!s:>16} {td!s:>16}"
        )
    out.append("")
    out.append("result = status + output (or error and cause); history = event type sequence (Parallel")
    out.append("branches as a multiset); full detail = every event field after normalisation. History")
    out.append("rates count only cases whose recording has a history.")


def print_targets(groups: dict[str, Tally], out: list[str]) -> None:
    jp = groups.get("JSONPath-only")
    if jp is None:
        return
    for label, rate, target in (
        ("result", jp.result, TARGET_RESULT),
        ("history", jp.history, TARGET_HISTORY),
    ):
        verdict = "met" if rate.total and rate.percent >= target else "NOT met"
        out.append(f"target JSONPath-only {label} >= {target:.0f}%: {rate.percent:.1f}% ({rate}) - {verdict}")


def print_failure_groups(
    cases: Sequence[Case], results: dict[str, CaseResult], out: list[str], top: int
) -> None:
    for aspect in ("status", "output/error/cause", "history", "history (full detail)"):
        counts: Counter[str] = Counter()
        examples: dict[str, list[str]] = defaultdict(list)
        for case in cases:
            for name, verdict in results[case.id].failures():
                if name == aspect:
                    counts[verdict.group] += 1
                    examples[verdict.group].append(case.id)
        if not counts:
            continue
        out.append(f"\nTop failure reasons - {aspect} ({sum(counts.values())} cases):")
        for group, n in counts.most_common(top):
            out.append(f"  {n:4d}  {group}")
            out.append(f"        e.g. {examples[group][0]}")


def print_failures(cases: Sequence[Case], results: dict[str, CaseResult], out: list[str]) -> None:
    out.append("\nFailing cases:")
    for case in cases:
        failures = results[case.id].failures()
        if not failures:
            continue
        out.append(f"- {case.id}  [{case.category}; {case.language_group}]")
        for name, verdict in failures:
            out.append(f"    {name}: {verdict.reason}")


# ---- baselines ------------------------------------------------------------------------------


def read_baseline(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_baselines(cases: Sequence[Case], results: dict[str, CaseResult]) -> tuple[int, int]:
    """Rewrite both baselines for the cases run, keeping the entries of cases outside this run."""
    ran = {c.id for c in cases}
    result_ids = {i for i in read_baseline(BASELINE) if i not in ran}
    history_ids = {i for i in read_baseline(BASELINE_HISTORY) if i not in ran}
    for case in cases:
        r = results[case.id]
        if r.passed_result:
            result_ids.add(case.id)
        # History is guarded on its own: a case whose events match keeps matching even while its
        # output is still wrong.
        if r.history.passed:
            history_ids.add(case.id)
    BASELINE.write_text("".join(f"{i}\n" for i in sorted(result_ids)), encoding="utf-8")
    BASELINE_HISTORY.write_text("".join(f"{i}\n" for i in sorted(history_ids)), encoding="utf-8")
    return len(result_ids), len(history_ids)


# ---- entry point ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.conformance.report", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--write-baseline", action="store_true", help="rewrite baseline.txt and baseline_history.txt"
    )
    parser.add_argument("--filter", metavar="STR", help="only cases whose id contains STR")
    parser.add_argument(
        "--show-failures", action="store_true", help="list every failing case with its reasons"
    )
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 2, help="worker processes (0: in-process)"
    )
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per case")
    parser.add_argument("--top", type=int, default=15, help="failure reasons listed per aspect")
    parser.add_argument("--json", metavar="PATH", help="also write every verdict as JSON")
    parser.add_argument("--http", action="store_true",
                        help="run the cases through a real `stateway serve` with boto3 (http_mode.py)")
    parser.add_argument("--max-wait", type=float, default=10.0, metavar="S",
                        help="with --http: skip cases whose Waits take more than S real seconds")
    args = parser.parse_args(argv)
    runner, skipped = run_all, {}
    if args.http:  # same cases, same comparison, through the HTTP API; the baselines stay in-process
        from . import http_mode

        if args.write_baseline:
            parser.error("--write-baseline records the in-process runner; run it without --http")
        runner = http_mode.run_all_http
        args.jobs = max(1, args.jobs)

    try:
        directory = corpus_dir()
        local_runner_class()
    except (CorpusMissing, EngineUnavailable) as exc:
        print(f"cannot run the conformance report: {exc}", file=sys.stderr)
        return 2
    cases = runnable_cases(directory, args.filter)
    if not cases:
        print("no runnable cases selected", file=sys.stderr)
        return 2
    if args.http:
        skipped = http_mode.skipped_cases(cases, args.max_wait)
        cases = [c for c in cases if c.id not in skipped]
    started = time.monotonic()
    results = runner(cases, args.jobs, args.timeout, progress=sys.stderr.isatty())
    elapsed = time.monotonic() - started

    out: list[str] = []
    tests = {c.test for c in cases}
    out.append(
        f"stateway conformance: {len(cases)} runnable execution cases from {len(tests)} recorded tests"
        f" ({directory}), {elapsed:.1f}s{' over HTTP' if args.http else ''}\n"
    )
    if skipped:
        out.extend(http_mode.skip_lines(skipped) + [""])
    groups = tally(cases, results)
    print_rates(groups, out)
    out.append("")
    print_targets(groups, out)
    print_failure_groups(cases, results, out, args.top)
    if args.show_failures:
        print_failures(cases, results, out)
    if args.write_baseline:
        n_result, n_history = write_baselines(cases, results)
        out.append(f"\nwrote {BASELINE.name} ({n_result} ids) and {BASELINE_HISTORY.name} ({n_history} ids)")
    if args.json:
        Path(args.json).write_text(
            json.dumps([asdict(results[c.id]) for c in cases], indent=1), encoding="utf-8"
        )
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
