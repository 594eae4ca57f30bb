"""API errors: each carries the Step Functions `__type` name and HTTP status that clients expect."""

from __future__ import annotations

from stateway.asl.errors import StatewayError


class ApiError(StatewayError):
    """An error the Step Functions API reports as `{"__type": ..., "message": ...}`."""

    type_name = "InternalServerError"
    status = 400

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # AWS's `reason` member, which some errors carry (ValidationException's CANNOT_UPDATE_COMPLETED_MAP_RUN).
        self.reason = reason


def _error(name: str, status: int = 400) -> type[ApiError]:
    return type(name, (ApiError,), {"type_name": name, "status": status, "__doc__": f"AWS's {name}."})


InvalidArn = _error("InvalidArn")
InvalidName = _error("InvalidName")
InvalidDefinition = _error("InvalidDefinition")
InvalidExecutionInput = _error("InvalidExecutionInput")
InvalidOutput = _error("InvalidOutput")
InvalidToken = _error("InvalidToken")
ValidationException = _error("ValidationException")
MissingRequiredParameter = _error("MissingRequiredParameter")
StateMachineDoesNotExist = _error("StateMachineDoesNotExist")
StateMachineAlreadyExists = _error("StateMachineAlreadyExists")
StateMachineDeleting = _error("StateMachineDeleting")
ExecutionDoesNotExist = _error("ExecutionDoesNotExist")
ExecutionAlreadyExists = _error("ExecutionAlreadyExists")
ExecutionLimitExceeded = _error("ExecutionLimitExceeded")
TaskDoesNotExist = _error("TaskDoesNotExist")
TaskTimedOut = _error("TaskTimedOut")
ActivityDoesNotExist = _error("ActivityDoesNotExist")
StateMachineTypeNotSupported = _error("StateMachineTypeNotSupported")
ResourceNotFound = _error("ResourceNotFound")
ConflictException = _error("ConflictException")
ServiceQuotaExceededException = _error("ServiceQuotaExceededException", 402)
TooManyTags = _error("TooManyTags")
ExecutionNotRedrivable = _error("ExecutionNotRedrivable")
ActivityAlreadyExists = _error("ActivityAlreadyExists")
ActivityWorkerLimitExceeded = _error("ActivityWorkerLimitExceeded")
UnknownOperationException = _error("UnknownOperationException")
SerializationException = _error("SerializationException")
InternalFailure = _error("InternalFailure", 500)
# A request body over the server's limit; AWS answers such requests with 413 Request Entity Too Large.
RequestEntityTooLargeException = _error("RequestEntityTooLargeException", 413)
