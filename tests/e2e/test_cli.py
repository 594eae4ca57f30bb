"""The `stateway` command from outside: validate, run, executions and task-token answers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from stateway.engine import Engine

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stateway.cli.main", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, input=stdin)


def write(path: Path, body: Any) -> Path:
    path.write_text(json.dumps(body) if not isinstance(body, str) else body)
    return path


def test_validate_lists_every_problem(tmp_path: Path) -> None:
    good = write(tmp_path / "good.asl.json", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    done = cli("validate", str(good), cwd=tmp_path)
    assert done.returncode == 0 and "valid" in done.stdout
    bad = write(tmp_path / "bad.asl.json", {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "Nowhere"}, "B": {"Type": "Teleport", "End": True}}})
    done = cli("validate", str(bad), cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stdout.strip().splitlines()
    assert any("Type" in line and "/States/B/Type" in line for line in lines), done.stdout
    yaml = write(tmp_path / "m.asl.yaml", "StartAt: P\nStates:\n  P:\n    Type: Pass\n    End: true\n")
    assert cli("validate", str(yaml), cwd=tmp_path).returncode == 0
    ran = cli("run", str(yaml), "--json", cwd=tmp_path)  # durable: through the service, as a dict
    assert ran.returncode == 0 and json.loads(ran.stdout)["status"] == "SUCCEEDED", ran.stderr


def test_run_reports_clear_errors(tmp_path: Path) -> None:
    missing = cli("run", str(tmp_path / "nope.json"), cwd=tmp_path)
    assert missing.returncode != 0 and "not found" in missing.stderr
    machine = write(tmp_path / "m.asl.json", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    bad_input = cli("run", str(machine), "--input", "{oops", cwd=tmp_path)
    assert bad_input.returncode != 0 and "not valid JSON" in bad_input.stderr
    for not_json, words in (('{"a": NaN}', "Non-standard token 'NaN'"), ("[1e400]", "Numeric value (1e400) out of range of double")):
        for mode in ("--in-memory", "--durable"):
            refused = cli("run", str(machine), "--input", not_json, *([mode] if mode == "--in-memory" else []),
                          cwd=tmp_path)
            assert refused.returncode != 0 and f"input is not valid JSON: {words}" in refused.stderr, mode
            assert "Traceback" not in refused.stderr
    broken = write(tmp_path / "broken.asl.json", "{\"StartAt\": ")
    done = cli("run", str(broken), cwd=tmp_path)
    assert done.returncode != 0 and "INVALID_JSON_DESCRIPTION" in done.stderr
    invalid = write(tmp_path / "invalid.asl.json", {"StartAt": "X", "States": {}})
    done = cli("run", str(invalid), cwd=tmp_path)
    assert done.returncode != 0 and "Invalid State Machine Definition" in done.stderr


def test_a_definition_file_that_does_not_parse_is_one_line_naming_where(tmp_path: Path) -> None:
    """The API quotes the definition's text in Jackson's `[Source: …]` as AWS does; on a terminal that is up
    to 500 characters of the file over dozens of lines, so the CLI says the line and column instead."""
    states = {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(20)}
    states["S20"] = {"Type": "Pass", "End": True}
    text = json.dumps({"StartAt": "S0", "States": states}, indent=2).replace('"Next": "S10"\n', '"Next": "S10",\n')
    trailing = write(tmp_path / "trailing.asl.json", text)
    unclosed = write(tmp_path / "unclosed.asl.json", '{"StartAt": "P",\n "States": {"P": {"Type": "Pass", "End": true}}')
    broken_yaml = write(tmp_path / "broken.asl.yaml", "StartAt: P\nStates:\n  P: {Type: Pass, End: true\n  Q: 1\n")
    for path, expected in [
        (trailing, "INVALID_JSON_DESCRIPTION: Unexpected character ('}' (code 125)): was expecting double-quote "
                   "to start field name at line 43, column 6'"),
        (unclosed, "INVALID_JSON_DESCRIPTION: Unexpected end-of-input: expected close marker for Object (start "
                   "marker at line 1, column 1) at line 2, column 48'"),
        (broken_yaml, "at line 4, column 4'"),
    ]:
        for command in (["validate"], ["run", "--in-memory"]):
            done = cli(*command, str(path), cwd=tmp_path)
            assert done.returncode == 1, done.stderr
            assert done.stderr.startswith("stateway: Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: ")
            assert done.stderr.endswith(expected + "\n") and done.stderr.count("\n") == 1, done.stderr
            assert "Source" not in done.stderr and "Pass" not in done.stderr


def test_run_then_inspect_the_stored_execution(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    machine = write(tmp_path / "greet.asl.json", {"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Parameters": {"hello.$": "$.name"}, "End": True}}})
    done = cli("run", str(machine), "--input", '{"name": "Ada"}', "--name", "first", "--db", db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "SUCCEEDED" in done.stdout and '"hello": "Ada"' in done.stdout
    listed = json.loads(cli("executions", "list", "--state-machine", "greet", "--db", db, "--json",
                            cwd=tmp_path).stdout)["executions"]
    assert [e["name"] for e in listed] == ["first"]
    arn = listed[0]["executionArn"]
    described = json.loads(cli("executions", "describe", arn, "--db", db, cwd=tmp_path).stdout)
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"hello": "Ada"}
    history = json.loads(cli("executions", "history", arn, "--db", db, "--json", cwd=tmp_path).stdout)["events"]
    assert [e["type"] for e in history] == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                                            "ExecutionSucceeded"]
    again = cli("run", str(machine), "--input", '{"name": "Bob"}', "--name", "first", "--db", db, cwd=tmp_path)
    assert again.returncode == 1 and "ExecutionAlreadyExists" in again.stderr



def test_a_run_that_outlasts_its_timeout_says_so_and_a_stop_after_the_end_says_nothing_was_stopped(
        tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'late.db'}"
    machine = write(tmp_path / "nap.asl.json", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60,
                                                                                  "End": True}}})
    done = cli("run", str(machine), "--name", "long", "--timeout", "0.5", "--db", db, cwd=tmp_path)
    assert done.returncode == 0 and "status: RUNNING" in done.stdout, done.stderr
    assert done.stderr == (f"stateway: still running after --timeout 0.5 s; it stays stored and goes on when an "
                           f"engine next runs on {db} (`stateway serve`, or another `stateway run`)\n")
    arn = "arn:aws:states:us-east-1:123456789012:execution:nap:long"
    stopped = cli("executions", "stop", arn, "--db", db, cwd=tmp_path)
    assert stopped.returncode == 0 and stopped.stdout.startswith("stop requested at "), stopped.stderr
    quick = write(tmp_path / "quick.asl.json", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    assert cli("run", str(quick), "--name", "done", "--db", db, cwd=tmp_path).stderr == ""
    ended = json.loads(cli("executions", "describe", "arn:aws:states:us-east-1:123456789012:execution:quick:done",
                           "--db", db, cwd=tmp_path).stdout)["stopDate"]
    again = cli("executions", "stop", "arn:aws:states:us-east-1:123456789012:execution:quick:done", "--db", db,
                cwd=tmp_path)
    assert (again.returncode, again.stdout) == (0, f"nothing to stop: the execution ended SUCCEEDED at {ended}\n")

def test_task_tokens_answered_from_the_command_line(tmp_path: Path) -> None:
    """An engine runs in this process; the answers come from `stateway send-task-*` processes."""
    db = f"sqlite:///{tmp_path / 'tokens.db'}"
    definition = {"StartAt": "Approve", "States": {"Approve": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"token.$": "$$.Task.Token"}, "HeartbeatSeconds": 30, "End": True}}}
    with Engine(db, poll_interval=0.05) as engine:
        arn = engine.service.create_state_machine("approval", definition)
        approved, rejected = (engine.service.start_execution(arn, {}) for _ in range(2))

        def token(execution: str) -> str:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                for event in engine.service.get_execution_history(execution):
                    if event["type"] == "TaskScheduled":
                        return str(json.loads(event["taskScheduledEventDetails"]["parameters"])["token"])
                time.sleep(0.02)
            raise AssertionError("no TaskScheduled event")

        first, second = token(approved), token(rejected)
        assert cli("send-task-heartbeat", "--task-token", first, "--db", db, cwd=tmp_path).returncode == 0
        done = cli("send-task-success", "--task-token", first, "--output", '{"ok": true}', "--db", db, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        done = cli("send-task-failure", "--task-token", second, "--error", "Rejected", "--cause", "no budget",
                   "--db", db, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        ok = engine.wait(approved, timeout=10)
        assert ok["status"] == "SUCCEEDED" and json.loads(ok["output"]) == {"ok": True}
        failed = engine.wait(rejected, timeout=10)
        assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Rejected", "no budget")
    late = cli("send-task-success", "--task-token", first, "--output", "{}", "--db", db, cwd=tmp_path)
    assert late.returncode == 1 and "TaskTimedOut" in late.stderr


def one_line_error(args: list[str | bytes], cwd: Path) -> str:
    """Run a command that must fail with a `stateway: …` message and no traceback; the message."""
    done = subprocess.run([sys.executable, "-m", "stateway.cli.main", *args], capture_output=True, timeout=120,
                          cwd=cwd)
    stderr = done.stderr.decode("utf-8", "backslashreplace").strip()
    assert done.returncode != 0 and "Traceback" not in stderr, stderr
    assert stderr.startswith("stateway: "), stderr
    return stderr


def test_bad_files_databases_and_arguments_are_one_line_errors(tmp_path: Path) -> None:
    machine = str(write(tmp_path / "pass.asl.json", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    (tmp_path / "latin.json").write_bytes(b"\xff\xfe")
    (tmp_path / "notadb.db").write_text("not a database")
    assert one_line_error(["validate", "latin.json"], tmp_path) == (
        "stateway: definition file is not UTF-8 text: latin.json (byte 0xff at offset 0)")
    assert one_line_error(["run", machine, "--input-file", "latin.json", "--in-memory"], tmp_path) == (
        "stateway: input file is not UTF-8 text: latin.json (byte 0xff at offset 0)")
    assert one_line_error(["executions", "list", "--state-machine", "pass", "--db", "sqlite:///notadb.db"],
                          tmp_path) == "stateway: cannot use notadb.db as a database: file is not a database"
    for command in (["run", machine], ["serve", "--port", "0"]):
        # a file standing where the database's folder would be made
        assert one_line_error([*command, "--db", "sqlite:///notadb.db/x.db"], tmp_path) == (
            "stateway: cannot use notadb.db/x.db as a database: Not a directory: notadb.db"), command
    assert one_line_error(["run", machine, "--db", "postgres://host/db"], tmp_path) == (
        "stateway: PostgreSQL is not supported yet: this version stores on SQLite (sqlite:///path)")
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    assert one_line_error(["run", machine, "--db", db, "--name", b"a\xff"], tmp_path) == (
        "stateway: --name is not valid UTF-8: a\\xff")
    for mode in ([], ["--in-memory"]):  # a name StartExecution refuses is refused in memory too
        assert one_line_error(["run", machine, "--db", db, "--name", "a b", *mode], tmp_path) == (
            "stateway: InvalidName: Invalid Name: 'a b'"), mode
    assert "argument --timeout: '-1' is not a number of seconds (more than 0)" in subprocess.run(
        [sys.executable, "-m", "stateway.cli.main", "run", machine, "--timeout", "-1"], capture_output=True,
        text=True, timeout=120, cwd=tmp_path).stderr
    assert one_line_error(["send-task-success", "--task-token", b"t\xff", "--output", "{}", "--db", db],
                          tmp_path) == "stateway: --task-token is not valid UTF-8: t\\xff"
    bomb = "StartAt: P\nStates:\n  P:\n    Type: Pass\n    End: true\n    Result:\n" + "".join(
        f"      a{n}: &a{n} [" + ",".join([f"*a{n - 1}" if n else '"x"'] * 10) + "]\n" for n in range(9))
    write(tmp_path / "bomb.asl.yaml", bomb)
    assert "aliases expand the definition to more than 1048576 characters" in one_line_error(
        ["validate", "bomb.asl.yaml"], tmp_path)


def test_an_output_holding_a_lone_surrogate_prints_as_its_escape(tmp_path: Path) -> None:
    machine = write(tmp_path / "pass.asl.json", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    done = cli("run", str(machine), "--input", '"\\ud800"', "--in-memory", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert 'output: "\\ud800"' in done.stdout


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("mode", ["durable", "in-memory"])
def test_ctrl_c_during_run_exits_130_with_a_message(tmp_path: Path, mode: str) -> None:
    started = tmp_path / "started"
    (tmp_path / "fns").mkdir()
    (tmp_path / "fns" / "slow.py").write_text(
        f"import pathlib, time\n\ndef handler(event, context):\n    pathlib.Path({str(started)!r}).touch()\n"
        "    time.sleep(600)\n")
    machine = write(tmp_path / "slow.asl.json", {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:slow", "End": True}}})
    where = ["--in-memory"] if mode == "in-memory" else ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    # SIGINT as a terminal gives it: a suite started in the background of a shell ignores SIGINT, and
    # children inherit that (a program rightly keeps an ignored SIGINT ignored).
    run = subprocess.Popen([sys.executable, "-m", "stateway.cli.main", "run", str(machine), "--functions",
                            str(tmp_path / "fns"), *where], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           preexec_fn=_default_sigint)
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:  # the function is running
            time.sleep(0.02)
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    finally:
        run.kill()
    assert (run.returncode, stderr) == (130, "stateway: interrupted\n")


def test_a_reader_that_goes_away_ends_a_command_quietly_with_status_141(tmp_path: Path) -> None:
    """`stateway … | head` as with `cat`: no traceback once the pipe closes, and the status of SIGPIPE."""
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    machine = str(write(tmp_path / "wait.asl.json", {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 0, "End": True}}}))
    done = cli("run", machine, "--name", "first", "--db", db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    arn = "arn:aws:states:us-east-1:123456789012:execution:wait:first"
    for args in (["validate", machine], ["run", machine, "--db", db], ["run", machine, "--json", "--in-memory"],
                 ["executions", "describe", arn, "--db", db], ["executions", "history", arn, "--db", db],
                 ["executions", "list", "--state-machine", "wait", "--db", db]):
        command = subprocess.Popen([sys.executable, "-m", "stateway.cli.main", *args], cwd=tmp_path,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert command.stdout is not None
        command.stdout.close()  # before the command writes anything: its first write finds no reader
        _, stderr = command.communicate(timeout=120)
        assert (command.returncode, stderr.decode()) == (141, ""), args


def test_commands_that_read_or_answer_executions_refuse_a_missing_database_and_create_none(tmp_path: Path) -> None:
    arn = "arn:aws:states:us-east-1:123456789012:execution:m:e"
    commands = [["executions", "list", "--state-machine", "m"], ["executions", "describe", arn],
                ["executions", "history", arn], ["executions", "stop", arn],
                ["send-task-success", "--task-token", "T", "--output", "{}"],
                ["send-task-failure", "--task-token", "T"], ["send-task-heartbeat", "--task-token", "T"]]
    for command in commands:
        typo = tmp_path / "typo" / "engine.db"
        assert one_line_error([*command, "--db", f"sqlite:///{typo}"], tmp_path) == f"stateway: no database at {typo}"
        assert one_line_error(command, tmp_path) == "stateway: no database at .stateway/stateway.db"  # the default
    assert list(tmp_path.iterdir()) == []
    machine = write(tmp_path / "m.asl.json", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    assert cli("run", str(machine), "--name", "e", cwd=tmp_path).returncode == 0  # run creates the default one
    assert (tmp_path / ".stateway" / "stateway.db").is_file()
    assert cli("executions", "describe", arn, cwd=tmp_path).returncode == 0


def test_a_definition_or_an_input_is_read_from_stdin_as_dash_or_any_readable_path(tmp_path: Path) -> None:
    machine = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    for path in ("-", "/dev/stdin"):
        done = cli("validate", path, cwd=tmp_path, stdin=machine)
        assert (done.returncode, done.stdout) == (0, "OK: the definition is valid\n"), done.stderr
        done = cli("run", path, "--input", '{"a": 1}', "--in-memory", "--json", cwd=tmp_path, stdin=machine)
        assert done.returncode == 0, done.stderr
        body = json.loads(done.stdout)
        assert body["stateMachineArn"].endswith(":stateMachine:stdin") and json.loads(body["output"]) == {"a": 1}
    write(tmp_path / "m.asl.json", machine)
    done = cli("run", "m.asl.json", "--input-file", "-", "--in-memory", "--json", cwd=tmp_path, stdin='{"b": 2}')
    assert done.returncode == 0 and json.loads(json.loads(done.stdout)["output"]) == {"b": 2}, done.stderr
    assert one_line_error(["run", "-", "--input-file", "-"], tmp_path) == (
        "stateway: the definition and --input-file cannot both be read from stdin")
    assert one_line_error(["validate", str(tmp_path)], tmp_path) == (
        f"stateway: cannot read definition file {tmp_path}: Is a directory")
