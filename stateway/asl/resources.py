"""Classifies a Task state's `Resource` ARN: Lambda function, activity, or service integration."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """A parsed Resource: `kind` picks the history event family, the rest names the target."""

    arn: str
    kind: str  # "lambda" | "activity" | "service"
    resource_type: str  # "lambda", "sqs", "aws-sdk:dynamodb", "states", ...
    resource: str  # "invoke", "sendMessage.waitForTaskToken", a function or activity ARN, ...
    region: str = ""
    pattern: str = ""  # "" (request-response), "sync", "sync:2" or "waitForTaskToken"

    @property
    def wait_for_task_token(self) -> bool:
        return self.pattern == "waitForTaskToken"


def parse_resource(arn: str) -> ResourceRef:
    """Split a Resource ARN the way Step Functions records it in TaskScheduled events."""
    parts = arn.split(":", 6)
    if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
        return ResourceRef(arn, "lambda", "lambda", arn, region=parts[3])
    if len(parts) >= 7 and parts[2] == "states" and parts[5] == "activity":
        return ResourceRef(arn, "activity", "activity", arn, region=parts[3])
    if len(parts) >= 6 and parts[2] == "states" and parts[3] == "" and parts[4] == "":
        rest = arn.split(":::", 1)[1] if ":::" in arn else ""
        service, _, action = rest.partition(":")
        if service == "aws-sdk":
            sdk_service, _, action = action.partition(":")
            service = f"aws-sdk:{sdk_service}"
        pattern = ""
        for suffix in (".waitForTaskToken", ".sync:2", ".sync"):
            if action.endswith(suffix):
                pattern = suffix[1:]
                break
        return ResourceRef(arn, "service", service, action, pattern=pattern)
    return ResourceRef(arn, "service", "unknown", arn)
