"""`stateway serve` from outside: a port out of range, an address it cannot bind, the banner once bound."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SERVE = [sys.executable, "-m", "stateway.cli.main", "serve"]


def refused(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*SERVE, *args], capture_output=True, text=True, timeout=60, cwd=cwd)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert "serving" not in done.stderr and done.stdout == ""
    return done


def test_a_port_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    for port in ("99999", "-1", "http", "²"):
        done = refused("--port", port, cwd=tmp_path)
        assert done.returncode == 2
        assert done.stderr.splitlines()[-1] == (
            f"stateway serve: error: argument --port: '{port}' is not a TCP port (0-65535)")


def test_workers_below_one_are_a_usage_error(tmp_path: Path) -> None:
    for workers in ("0", "-3", "many"):
        done = refused("--workers", workers, cwd=tmp_path)
        assert done.returncode == 2
        assert done.stderr.splitlines()[-1] == (
            f"stateway serve: error: argument --workers: '{workers}' is not a number of worker threads (1 or more)")


def test_an_address_that_cannot_be_bound_is_one_line_and_opens_no_database(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = refused("--port", str(port), cwd=tmp_path)
    assert done.stderr == f"stateway: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    done = refused("--host", "no.such.host.invalid", cwd=tmp_path)
    assert done.stderr.startswith("stateway: cannot listen on no.such.host.invalid:8083: ")
    assert done.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # the engine never opened its store


def test_the_banner_comes_once_the_port_is_bound_and_names_the_port_chosen_for_0(tmp_path: Path) -> None:
    server = subprocess.Popen([*SERVE, "--port", "0", "--db", f"sqlite:///{tmp_path / 's.db'}"], cwd=tmp_path,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        banner = server.stderr.readline()
        found = re.fullmatch(r"stateway: serving the Step Functions API on http://127\.0\.0\.1:(\d+) \(database .*\)\n",
                             banner)
        assert found, banner
        with urllib.request.urlopen(f"http://127.0.0.1:{found[1]}/health", timeout=30) as response:
            assert response.status == 200
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        assert server.stderr.read() == "stateway: stopped\n"
    finally:
        server.kill()
