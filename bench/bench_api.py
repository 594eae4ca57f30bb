"""Load benchmark of `stateway serve`: N concurrent boto3 clients start executions and poll them to the end.

.venv/bin/python bench/bench_api.py [--clients 2] [--seconds 5]

Runs at 1×, 4× and 16× the client count against a fresh server on a free loopback port and prints
requests per second, p50/p99 request latency, errors and the server's resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
DEFINITION = {"StartAt": "Prepare", "States": {
    "Prepare": {"Type": "Pass", "Parameters": {"order.$": "$.order", "step": 1}, "Next": "Done"},
    "Done": {"Type": "Succeed"}}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _client(url: str) -> Any:
    return boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                        aws_secret_access_key="bench",
                        config=Config(inject_host_prefix=False, retries={"max_attempts": 1},
                                      max_pool_connections=4))


def _worker(url: str, machine: str, stop: threading.Event, latencies: list[float], errors: list[str],
            done: list[int]) -> None:
    client = _client(url)
    n = 0

    def timed(call: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(**kwargs)
        finally:
            latencies.append(time.perf_counter() - started)

    while not stop.is_set():
        n += 1
        try:
            arn = timed(client.start_execution, stateMachineArn=machine, input=json.dumps({"order": n}))["executionArn"]
            while timed(client.describe_execution, executionArn=arn)["status"] == "RUNNING":
                time.sleep(0.01)
            done.append(1)
        except Exception as exc:  # counted, not fatal: the report shows them
            errors.append(f"{type(exc).__name__}: {exc}")


def run_level(url: str, machine: str, clients: int, seconds: float, pid: int) -> dict[str, Any]:
    stop = threading.Event()
    latencies: list[float] = []
    errors: list[str] = []
    done: list[int] = []
    threads = [threading.Thread(target=_worker, args=(url, machine, stop, latencies, errors, done))
               for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(30)
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "clients": clients, "requests": len(latencies), "requests_per_s": len(latencies) / elapsed,
        "executions_per_s": len(done) / elapsed,
        "p50_ms": 1000 * statistics.median(ordered) if ordered else 0.0,
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0,
        "errors": len(errors), "first_error": errors[0] if errors else "", "server_rss_mb": _rss_mb(pid),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2, help="clients at 1× (default 2)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per level (default 5)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        stateway = ROOT / ".venv" / "bin" / "stateway"
        command = [str(stateway), "serve", "--port", str(port), "--db", f"sqlite:///{tmp}/bench.db"]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(url + "/health", timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            machine = _client(url).create_state_machine(
                name="bench", definition=json.dumps(DEFINITION),
                roleArn="arn:aws:iam::123456789012:role/bench")["stateMachineArn"]
            results = [run_level(url, machine, args.clients * factor, args.seconds, server.pid)
                       for factor in (1, 4, 16)]
        finally:
            server.terminate()
            server.wait(30)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'clients':>7} {'req/s':>8} {'exec/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'RSS MB':>7}")
    for r in results:
        print(f"{r['clients']:>7} {r['requests_per_s']:>8.0f} {r['executions_per_s']:>8.1f} {r['p50_ms']:>8.1f} "
              f"{r['p99_ms']:>8.1f} {r['errors']:>7} {r['server_rss_mb']:>7.0f}")
        if r["first_error"]:
            print(f"        first error: {r['first_error'][:200]}")
    print(f"(python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
