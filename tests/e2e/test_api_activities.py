"""Activities over the API: remote workers poll GetActivityTask, heartbeat and answer with the token."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import test_api_core as core
from test_api_core import create, error_of, wait_done

pytestmark = pytest.mark.e2e
server, sfn = core.server, core.sfn  # the shared server fixtures


def _machine(sfn: Any, name: str, activity_arn: str, **task: Any) -> str:
    return create(sfn, name, {"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": activity_arn, "End": True, **task}}})


def test_activity_crud_and_errors(sfn: Any) -> None:
    created = sfn.create_activity(name="crud", tags=[{"key": "k", "value": "v"}])
    arn = created["activityArn"]
    assert arn == "arn:aws:states:us-east-1:123456789012:activity:crud"
    assert sfn.create_activity(name="crud")["activityArn"] == arn  # idempotent
    described = sfn.describe_activity(activityArn=arn)
    assert described["name"] == "crud" and described["creationDate"] == created["creationDate"]
    assert {"activityArn": arn, "name": "crud", "creationDate": created["creationDate"]} in \
        sfn.list_activities()["activities"]
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "k", "value": "v"}]
    sfn.delete_activity(activityArn=arn)
    code, message, _ = error_of(sfn.describe_activity, activityArn=arn)
    assert (code, message) == ("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'")
    code, _, _ = error_of(sfn.get_activity_task, activityArn=arn)
    assert code == "ActivityDoesNotExist"
    code, message, _ = error_of(sfn.create_activity, name="activity$name")
    assert (code, message) == ("InvalidName", "Invalid Name: 'activity$name'")


def test_list_activities_pages(sfn: Any) -> None:
    for i in range(3):
        sfn.create_activity(name=f"paged-{i}")
    first = sfn.list_activities(maxResults=2)
    assert len(first["activities"]) == 2 and first["nextToken"]
    rest = sfn.list_activities(nextToken=first["nextToken"])
    names = [a["name"] for a in first["activities"] + rest["activities"]]
    assert [n for n in names if n.startswith("paged-")] == ["paged-0", "paged-1", "paged-2"]


def test_activity_started_is_in_the_history_when_the_poll_answers(sfn: Any) -> None:
    activity = sfn.create_activity(name="recorded-start")["activityArn"]
    arn = _machine(sfn, "recorded-start", activity)
    for n in range(10):  # it used to be missing in about every other try
        execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
        task = sfn.get_activity_task(activityArn=activity, workerName=f"w{n}")
        last = sfn.get_execution_history(executionArn=execution, reverseOrder=True, maxResults=1)["events"][0]
        assert (last["type"], last["activityStartedEventDetails"]) == ("ActivityStarted", {"workerName": f"w{n}"})
        sfn.send_task_success(taskToken=task["taskToken"], output="{}")


def test_worker_polls_heartbeats_and_succeeds(sfn: Any) -> None:
    activity = sfn.create_activity(name="review")["activityArn"]
    arn = _machine(sfn, "reviewed", activity, HeartbeatSeconds=5, TimeoutSeconds=60)
    polled: dict[str, Any] = {}

    def worker() -> None:  # a long poll that starts before there is any work
        polled.update(sfn.get_activity_task(activityArn=activity, workerName="reviewer-1"))

    thread = threading.Thread(target=worker)
    thread.start()
    time.sleep(0.5)
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"claim": 7}))["executionArn"]
    thread.join(10)
    assert json.loads(polled["input"]) == {"claim": 7}
    sfn.send_task_heartbeat(taskToken=polled["taskToken"])
    sfn.send_task_success(taskToken=polled["taskToken"], output=json.dumps({"approved": True}))
    done = wait_done(sfn, execution)
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", {"approved": True})
    events = sfn.get_execution_history(executionArn=execution)["events"]
    assert [e["type"] for e in events] == ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled",
                                           "ActivityStarted", "ActivitySucceeded", "TaskStateExited",
                                           "ExecutionSucceeded"]
    assert events[3]["activityStartedEventDetails"] == {"workerName": "reviewer-1"}
    assert events[2]["activityScheduledEventDetails"]["heartbeatInSeconds"] == 5


def test_each_task_goes_to_one_worker(sfn: Any) -> None:
    activity = sfn.create_activity(name="fanout")["activityArn"]
    arn = _machine(sfn, "fanout", activity)
    executions = [sfn.start_execution(stateMachineArn=arn, input=json.dumps({"n": i}))["executionArn"]
                  for i in range(6)]
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        while True:
            task = sfn.get_activity_task(activityArn=activity, workerName=f"w{n}")
            if "taskToken" not in task:
                return
            with lock:
                results.append(task)
            sfn.send_task_success(taskToken=task["taskToken"], output=task["input"])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for execution in executions:
        assert wait_done(sfn, execution)["status"] == "SUCCEEDED"
    for t in threads:
        t.join(10)  # an idle poll ends after STATEWAY_ACTIVITY_POLL_SECONDS with no token
    assert sorted(json.loads(r["input"])["n"] for r in results) == list(range(6))


def test_failure_and_heartbeat_timeout(sfn: Any) -> None:
    activity = sfn.create_activity(name="flaky")["activityArn"]
    arn = _machine(sfn, "flaky", activity, HeartbeatSeconds=1)
    failing = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    task = sfn.get_activity_task(activityArn=activity)
    sfn.send_task_failure(taskToken=task["taskToken"], error="Broken", cause="printer on fire")
    done = wait_done(sfn, failing)
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "Broken", "printer on fire")

    silent = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    task = sfn.get_activity_task(activityArn=activity, workerName="sleepy")
    assert task["taskToken"]
    done = wait_done(sfn, silent)  # no heartbeat within 1 s
    assert (done["status"], done["error"]) == ("FAILED", "States.HeartbeatTimeout")
    types = [e["type"] for e in sfn.get_execution_history(executionArn=silent)["events"]]
    assert "ActivityTimedOut" in types
    code, _, _ = error_of(sfn.send_task_success, taskToken=task["taskToken"], output="{}")
    assert code == "TaskTimedOut"


def test_empty_poll_returns_no_token(sfn: Any) -> None:
    activity = sfn.create_activity(name="idle")["activityArn"]
    started = time.monotonic()
    assert "taskToken" not in sfn.get_activity_task(activityArn=activity)
    assert time.monotonic() - started >= 2.5  # it waited (STATEWAY_ACTIVITY_POLL_SECONDS=3 in tests)
