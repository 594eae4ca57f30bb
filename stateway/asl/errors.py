"""ASL failures as values, and the small tree of Python exceptions under StatewayError."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorName(StrEnum):
    """The predefined error names of the States Language."""

    ALL = "States.ALL"
    HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
    TIMEOUT = "States.Timeout"
    TASK_FAILED = "States.TaskFailed"
    PERMISSIONS = "States.Permissions"
    RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
    PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
    QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
    BRANCH_FAILED = "States.BranchFailed"
    NO_CHOICE_MATCHED = "States.NoChoiceMatched"
    INTRINSIC_FAILURE = "States.IntrinsicFailure"
    EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
    ITEM_READER_FAILED = "States.ItemReaderFailed"
    RESULT_WRITER_FAILED = "States.ResultWriterFailed"
    RUNTIME = "States.Runtime"
    DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"


@dataclass(frozen=True, slots=True)
class Failure:
    """An ASL error: a name such as `States.Runtime` and an optional human-readable cause."""

    error: str
    cause: str | None = None


class StatewayError(Exception):
    """Root of every exception stateway raises."""


class FailureError(StatewayError):
    """Carries a Failure out of deep evaluation code; the interpreter turns it back into a value."""

    def __init__(self, error: str, cause: str | None = None, location: str | None = None) -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.failure = Failure(str(error), cause)  # a StrEnum name becomes its plain text
        self.location = location  # the field that failed (`Output/result`), when known


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in a definition: an AWS code, its message, and where it is (`/States/A/Next`)."""

    code: str
    message: str
    location: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message} at {self.location}"


class DefinitionError(StatewayError):
    """A state machine definition that cannot run; lists every problem found, in AWS's words."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return "Invalid State Machine Definition: '" + ", ".join(str(p) for p in self.problems) + "'"
