"""Lambda's `FunctionName` forms — a name, a partial ARN or a full ARN, each optionally qualified with a
version or alias — and its `Qualifier`, read as Lambda's Invoke reads them, and the ARNs they stand for."""

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
# Invoke's Qualifier (botocore's NumericLatestPublishedOrAliasQualifier), quoted as Lambda quotes it.
QUALIFIER_PATTERN = r"(|[a-zA-Z0-9$_-]+)"
_QUALIFIER_FORM = re.compile(QUALIFIER_PATTERN)
_QUALIFIER_LENGTH = Member(min_length=1, max_length=128)
LATEST = "$LATEST"
_VERSION = re.compile(r"[0-9]+")  # a published version's number; any other qualifier is an alias
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
        return f"{self._unqualified_arn(region, account)}:{self.qualifier or LATEST}"

    def invoked_arn(self, region: str, account: str) -> str:
        """The ARN the function was invoked by (the context's `invoked_function_arn`): qualified only when
        the caller gave a version or alias, `$LATEST` included, as on Lambda."""
        unqualified = self._unqualified_arn(region, account)
        return unqualified if self.qualifier is None else f"{unqualified}:{self.qualifier}"

    def _unqualified_arn(self, region: str, account: str) -> str:
        return f"arn:{self.partition or 'aws'}:lambda:{self.region or region}:{self.account or account}:function:{self.name}"

    @property
    def registered_as(self) -> str:
        """The name its handler is registered under: `NAME` for the function itself (no qualifier, or
        `$LATEST`), `NAME:QUALIFIER` for a version or alias, which is a function of its own here."""
        return self.name if self.qualifier in (None, LATEST) else f"{self.name}:{self.qualifier}"

    @property
    def executed_version(self) -> str:
        """Lambda's `ExecutedVersion` as the name tells it: the version number a numeric qualifier names,
        else `$LATEST` — an alias stands for no number by its name alone (Lambda's alias of `$LATEST`);
        one registered as pointing at a version reports that version (`function_task.executed_version`)."""
        return self.qualifier if self.qualifier is not None and _VERSION.fullmatch(self.qualifier) else LATEST

    def with_qualifier(self, qualifier: str | None) -> FunctionName | None:
        """This function with Invoke's `Qualifier` applied (None: not given), or None when the two disagree
        (Lambda's InvalidParameterValueException)."""
        if qualifier is None:
            return self
        if self.qualifier is not None and self.qualifier != qualifier:
            return None
        return FunctionName(self.name, qualifier, self.partition, self.region, self.account)


def problems(value: str) -> list[str]:
    """Lambda's words for what makes `value` no FunctionName (its ValidationException's items); [] if none."""
    return _member_problems("functionName", value, _LENGTH, _FORM, PATTERN)


def qualifier_problems(value: str) -> list[str]:
    """Lambda's words for what makes `value` no Qualifier (its ValidationException's items); [] if none."""
    return _member_problems("qualifier", value, _QUALIFIER_LENGTH, _QUALIFIER_FORM, QUALIFIER_PATTERN)


def _member_problems(member: str, value: str, length: Member, form: re.Pattern[str], pattern: str) -> list[str]:
    found = constraints.problems(member, value, length)
    if form.fullmatch(value) is None:
        found.append(f"Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy "
                     f"regular expression pattern: {pattern}")
    return found


# Lambda's InvalidParameterValueException for a qualifier in FunctionName that Qualifier contradicts.
QUALIFIER_MISMATCH = "The derived qualifier from the function name does not match the specified qualifier."


def parse(value: str) -> FunctionName | None:
    """The parts of a FunctionName, or None when it is not of Lambda's form. Its length is not checked
    (see `problems`): an invoked function's ARN, which the queue of Event invocations stores, may be longer
    than the name it was invoked by."""
    match = _FORM.fullmatch(value)
    if match is None:
        return None
    return FunctionName(match[_NAME], match[_QUALIFIER], match[_PARTITION],
                        _part(match[_REGION]), _part(match[_ACCOUNT]))


def _part(group: str | None) -> str | None:
    """A region or account group without the `:` that ends it."""
    return group[:-1] if group else None
