"""The benchmark's ASL definitions on moto's Step Functions, with moto's ASL interpreter switched on.

moto only executes state machines when its ``stepfunctions.execute_state_machine`` config is set
(``mock_aws(config=...)``; the ``SF_EXECUTION_HISTORY_TYPE`` variable only shapes the canned
history of the default, non-executing mode). The same ASL runs unchanged: Task states call the
Lambda ARN ``...:function:noop``. moto's Docker-free Lambda (``lambda.use_docker = False``) would
echo the payload; the harness points its ``invoke`` at the shared Python ``noop`` function, which
returns its input too, so moto runs the very same task function as the other engines, reached
through moto's in-process Lambda API.

moto keeps everything in memory: nothing it does is durable.

Run: ``python -m bench.peers.moto_bench --scenario latency`` (from the repository root).
"""

from __future__ import annotations

import io
import json
import os
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

from bench.common import Unsupported, harness_main, noop
from bench.scenarios import ACCOUNT, READER_BUCKET, REGION, Scenario, definition_for

# moto's mocks answer any credentials; set fakes so boto3 never looks for real ones.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", REGION)

POLL_INTERVAL_S = 0.0002


def _invoke_noop(
    self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
) -> bytes:
    """Stand-in for moto's Docker-free Lambda `invoke`: run `noop` on the JSON payload."""
    event = json.loads(body) if body else None
    return json.dumps(noop(event, None)).encode()


def _zip_of_handler() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("noop.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def _moto_version() -> str:
    from importlib.metadata import version

    return version("moto")


class MotoAdapter:
    """Drives moto's Step Functions parser in this process through a boto3 client."""

    name = "moto"

    def __init__(self) -> None:
        self.mock: Any = None
        self.sfn: Any = None
        self.state_machine_arn = ""
        self.backend_machine: Any = None

    def setup(self, scenario: Scenario, workdir: Path) -> None:
        """Start moto's mock with state machine execution on, create the Lambda and the machine."""
        import boto3
        from moto import mock_aws
        from moto.awslambda_simple.models import LambdaSimpleBackend

        LambdaSimpleBackend.invoke = _invoke_noop  # type: ignore[assignment,method-assign]
        self.mock = mock_aws(
            config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
        )
        self.mock.start()
        iam = boto3.client("iam", region_name=REGION)
        role_arn = iam.create_role(
            RoleName="bench-role",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        boto3.client("lambda", region_name=REGION).create_function(
            FunctionName="noop",
            Runtime="python3.11",
            Role=role_arn,
            Handler="noop.handler",
            Code={"ZipFile": _zip_of_handler()},
        )
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        try:
            self.state_machine_arn = self.sfn.create_state_machine(
                name="bench", definition=json.dumps(definition_for(scenario)), roleArn=role_arn
            )["stateMachineArn"]
        except self.sfn.exceptions.InvalidDefinition as exc:
            if scenario.kind != "mapreader":
                raise
            # moto's parser refuses what it does not implement as an invalid definition: for the
            # mapreader scenarios that is a verdict on moto (ReaderConfig InputType JSONL), not an error.
            reason = str(exc).split(" in definition ", 1)[0]
            raise Unsupported(f"moto {_moto_version()} refuses the ItemReader/ResultWriter Map at "
                              f"CreateStateMachine: {reason}") from exc
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend = stepfunctions_parser_backends[ACCOUNT][REGION]
        self.backend_machine = backend.describe_state_machine(self.state_machine_arn)

    def start(self, payload: dict[str, Any]) -> Any:
        """StartExecution through boto3; the handle is moto's in-process execution object."""
        # moto's parser names an unnamed execution "None", so every execution gets a unique name.
        arn = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=uuid.uuid4().hex, input=json.dumps(payload)
        )["executionArn"]
        execution = self.backend_machine.executions[-1]
        assert execution.exec_arn == arn, "moto started executions out of order"
        return execution

    def wait(self, handle: Any) -> str:
        """Poll the execution object's status (cheaper than DescribeExecution through boto3)."""
        while handle.exec_status is not None and handle.exec_status.value == "RUNNING":
            time.sleep(POLL_INTERVAL_S)
        return handle.exec_status.value if handle.exec_status is not None else "UNKNOWN"

    def stage_objects(self, root: Path, keys: list[str]) -> None:
        """Put the objects into moto's S3 mock (in this process's memory), where its ItemReader reads."""
        import boto3

        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=READER_BUCKET)
        for key in keys:
            s3.upload_file(str(root / READER_BUCKET / key), READER_BUCKET, key)

    def info(self) -> dict[str, Any]:
        """moto version; it keeps executions in memory only."""
        return {
            "version": _moto_version(),
            "store": "in-memory (not durable)",
            "journal_mode": None,
            "synchronous": None,
            "task": "Lambda ARN -> moto's Docker-free Lambda invoke, patched to call noop()",
            "poll_interval_s": POLL_INTERVAL_S,
        }

    def extra(self, handles: list[Any]) -> dict[str, Any]:
        """History events moto recorded for the last execution (read in process: paging 70,000
        events through GetExecutionHistory would take longer than the Map itself)."""
        if not handles:
            return {}
        return {"history_events_per_execution": len(handles[-1].to_history_output()["events"])}

    def teardown(self) -> None:
        """Stop the mock."""
        if self.mock is not None:
            self.mock.stop()


def main() -> int:
    """Entry point: one scenario on moto."""
    return harness_main(MotoAdapter)


if __name__ == "__main__":
    raise SystemExit(main())
