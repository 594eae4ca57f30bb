"""Lambda's `FunctionName` forms — a name, a partial ARN or a full ARN, each optionally qualified with a
version or alias — read as Lambda's Invoke reads them, and the function ARN each one stands for."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stateway.engine import constraints
from stateway.engine.constraints import Member

# Invoke's FunctionName (botocore's NamespacedFunctionName): quoted as it is in Lambda's ValidationException.
PATTERN = (r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?"
           r"(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?")
_FORM = re.compile(PATTERN)
MAX_LENGTH = 256
_LENGTH = Member(min_length=1, max_length=MAX_LENGTH)
# PATTERN's groups that hold the partition, the region, the account, the name and the qualifier.
_PARTITION, _REGION, _ACCOUNT, _NAME, _QUALIFIER = 2, 3, 9, 11, 13


@dataclass(frozen=True)
class FunctionName:
    """A valid FunctionName: the function's name, and what the form says of the rest (None: not said)."""

    name: str
    qualifier: str | None = None
    partition: str | None = None
    region: str | None = None
    account: str | None = None

    def arn(self, region: str, account: str) -> str:
        """The qualified ARN Lambda names the invoked function by: `$LATEST` when no version or alias is
        given, and this server's region and account where the form gives none."""
        return (f"arn:{self.partition or 'aws'}:lambda:{self.region or region}:{self.account or account}:"
                f"function:{self.name}:{self.qualifier or '$LATEST'}")


def problems(value: str) -> list[str]:
    """Lambda's words for what makes `value` no FunctionName (its ValidationException's items); [] if none."""
    found = constraints.problems("functionName", value, _LENGTH)
    if _FORM.fullmatch(value) is None:
        found.append(f"Value '{value}' at 'functionName' failed to satisfy constraint: Member must satisfy "
                     f"regular expression pattern: {PATTERN}")
    return found


def parse(value: str) -> FunctionName | None:
    """The parts of a FunctionName, or None when Lambda would refuse it (see `problems`)."""
    match = _FORM.fullmatch(value) if len(value) <= MAX_LENGTH else None
    if match is None:
        return None
    return FunctionName(match[_NAME], match[_QUALIFIER], match[_PARTITION],
                        _part(match[_REGION]), _part(match[_ACCOUNT]))


def _part(group: str | None) -> str | None:
    """A region or account group without the `:` that ends it."""
    return group[:-1] if group else None
