"""Choice state rules: parse them once per definition and evaluate them as Step Functions does."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from stateway.asl.errors import DefinitionError, ErrorName, FailureError, Problem
from stateway.asl.paths import PathNotFound, evaluate_path, is_valid_path

SCHEMA_VALIDATION_FAILED = "SCHEMA_VALIDATION_FAILED"

# --------------------------------------------------------------------------------------------------
# Timestamps
# --------------------------------------------------------------------------------------------------

# The spec's RFC3339 profile: an uppercase T between date and time, and an uppercase Z or a numeric
# offset (with its colon); fractional seconds of any length.
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


@dataclass(frozen=True, slots=True, order=True)
class Instant:
    """A point in time at full precision: whole seconds since the epoch plus a fraction of a second."""

    epoch_seconds: int
    fraction: Fraction


def parse_timestamp(text: str) -> Instant | None:
    """The instant an RFC3339 timestamp names, or None when Step Functions would not accept it."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.group(1, 2, 3, 4, 5, 6))
    digits, zulu, sign, offset_hours, offset_minutes = match.group(7, 8, 9, 10, 11)
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    offset = 0
    if not zulu:
        if int(offset_hours) > 23 or int(offset_minutes) > 59:
            return None
        offset = (int(offset_hours) * 60 + int(offset_minutes)) * 60
        if sign == "-":
            offset = -offset
    epoch = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset
    fraction = Fraction(int(digits), 10 ** len(digits)) if digits else Fraction(0)
    return Instant(epoch, fraction)


# --------------------------------------------------------------------------------------------------
# StringMatches
# --------------------------------------------------------------------------------------------------


def compile_string_matches(pattern: str) -> re.Pattern[str]:
    """A regular expression for a StringMatches pattern: `*` matches any run of characters,
    `\\*` a literal asterisk and `\\\\` a literal backslash."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


# --------------------------------------------------------------------------------------------------
# Operators
# --------------------------------------------------------------------------------------------------


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


def _is_number(value: Any) -> bool:
    # bool is an int subclass in Python, but JSON true/false are not numbers.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_boolean(value: Any) -> bool:
    return isinstance(value, bool)


def _is_timestamp(value: Any) -> bool:
    return isinstance(value, str) and parse_timestamp(value) is not None


_RELATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "GreaterThan": lambda a, b: a > b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


@dataclass(frozen=True, slots=True)
class _OperandType:
    """How one family of comparison operators checks and normalises its two sides."""

    name: str  # the word AWS uses in "must be a STRING"
    accepts: Callable[[Any], bool]
    normalise: Callable[[Any], Any]


_STRING = _OperandType("STRING", _is_string, lambda v: v)
_NUMBER = _OperandType("NUMBER", _is_number, lambda v: v)
_BOOLEAN = _OperandType("BOOLEAN", _is_boolean, lambda v: v)
_TIMESTAMP_TYPE = _OperandType("TIMESTAMP", _is_timestamp, parse_timestamp)

_COMPARISON_FAMILIES: dict[str, tuple[_OperandType, tuple[str, ...]]] = {
    "String": (_STRING, tuple(_RELATIONS)),
    "Numeric": (_NUMBER, tuple(_RELATIONS)),
    "Boolean": (_BOOLEAN, ("Equals",)),
    "Timestamp": (_TIMESTAMP_TYPE, tuple(_RELATIONS)),
}


@dataclass(frozen=True, slots=True)
class _ComparisonSpec:
    operand_type: _OperandType
    relation: str
    by_path: bool


COMPARISON_OPERATORS: dict[str, _ComparisonSpec] = {
    f"{family}{relation}{suffix}": _ComparisonSpec(operand_type, relation, suffix == "Path")
    for family, (operand_type, relations) in _COMPARISON_FAMILIES.items()
    for relation in relations
    for suffix in ("", "Path")
}

TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsNumeric": _is_number,
    "IsString": _is_string,
    "IsBoolean": _is_boolean,
    "IsTimestamp": _is_timestamp,
}

# Every field that makes a rule a data-test expression, in the order AWS's docs list them.
DATA_TEST_OPERATORS: tuple[str, ...] = (
    *COMPARISON_OPERATORS,
    "StringMatches",
    "IsPresent",
    *TYPE_TESTS,
)
BOOLEAN_OPERATORS: tuple[str, ...] = ("And", "Or", "Not")

# --------------------------------------------------------------------------------------------------
# Parsed rules
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DataTest:
    """`Variable` compared by one operator to a literal, to another path (`…Path`), or tested for type."""

    variable: str
    operator: str  # the field name as written, e.g. "NumericLessThanEqualsPath"
    operand: Any  # the literal, the other path, or the boolean of IsNull/IsPresent/…
    # Parsed once: the Instant of a Timestamp literal, the compiled pattern of StringMatches.
    prepared: Any = None


@dataclass(frozen=True, slots=True)
class And:
    """True when every nested rule is true (evaluated in order, stopping at the first false)."""

    rules: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """True when any nested rule is true (evaluated in order, stopping at the first true)."""

    rules: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """True when the nested rule is false."""

    rule: Expression


@dataclass(frozen=True, slots=True)
class Condition:
    """A JSONata `Condition`: a literal boolean, or a `{% … %}` expression the JSONata milestone evaluates."""

    expression: bool | str


Expression = DataTest | And | Or | Not | Condition


@dataclass(frozen=True, slots=True)
class ChoiceRule:
    """One entry of a Choice state's `Choices`: its test, where it leads, and what it assigns/outputs."""

    expression: Expression
    next: str
    location: str
    assign: Mapping[str, Any] | None = None
    output: Any = None  # JSONata only; None when absent
    has_output: bool = False


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------


def _problem(message: str, location: str) -> Problem:
    return Problem(SCHEMA_VALIDATION_FAILED, message, location)


def _is_path(value: Any) -> bool:
    # Input paths ($…), context paths ($$…) and variable paths ($name…) are all allowed here.
    return isinstance(value, str) and is_valid_path(value)


class _Parser:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, message: str, location: str) -> None:
        self.problems.append(_problem(message, location))

    def top_level(self, raw: Any, location: str, query_language: str | None) -> ChoiceRule | None:
        if not isinstance(raw, dict):
            self.fail("The value for the field 'Choices' must be an array of OBJECT", location)
            return None
        expected = {"Next", "Assign", "Output", "Comment"}
        if "Condition" in raw:
            if query_language == "JSONPath":
                self.fail(
                    "The QueryLanguage is set to 'JSONPath', but field 'Condition' is only supported "
                    "for the 'JSONata' QueryLanguage",
                    location,
                )
            expression: Expression | None = self.condition(raw, location, expected)
        else:
            if query_language == "JSONata":
                self.fail(
                    "The QueryLanguage is set to 'JSONata', but field 'Condition' is required", location
                )
            if "Output" in raw:
                self.fail(
                    "The QueryLanguage is set to 'JSONPath', but field 'Output' is only supported "
                    "for the 'JSONata' QueryLanguage",
                    location,
                )
            expression = self.expression(raw, location, expected)
        next_state = raw.get("Next")
        if "Next" not in raw:
            self.fail("These fields are required: [Next]", location)
        elif not isinstance(next_state, str):
            self.fail("The value for the field 'Next' must be a STRING", f"{location}/Next")
        assign = raw.get("Assign")
        if "Assign" in raw and not isinstance(assign, dict):
            self.fail("The value for the field 'Assign' must be an OBJECT", f"{location}/Assign")
        if expression is None or self.problems or not isinstance(next_state, str):
            return None
        return ChoiceRule(
            expression=expression,
            next=next_state,
            location=location,
            assign=assign,
            output=raw.get("Output"),
            has_output="Output" in raw,
        )

    def condition(self, raw: dict[str, Any], location: str, allowed: set[str]) -> Condition | None:
        for field in raw:
            if field not in allowed and field != "Condition":
                self.fail(f"Field '{field}' is not supported", location)
        value = raw["Condition"]
        if isinstance(value, bool):
            return Condition(value)
        if isinstance(value, str) and value.startswith("{%") and value.endswith("%}"):
            return Condition(value)
        self.fail(
            "The value for the field 'Condition' must be a BOOLEAN or a JSONata expression",
            f"{location}/Condition",
        )
        return None

    def expression(self, raw: Any, location: str, allowed: set[str]) -> Expression | None:
        """A boolean or data-test expression; `allowed` lists the fields that may sit beside it."""
        if not isinstance(raw, dict):
            self.fail("The value must be an OBJECT", location)
            return None
        operators = [f for f in raw if f in BOOLEAN_OPERATORS or f in DATA_TEST_OPERATORS]
        for field in raw:
            if field not in operators and field not in allowed and field != "Variable":
                self.fail(f"Field '{field}' is not supported", location)
        if not operators:
            names = ", ".join((*BOOLEAN_OPERATORS, *DATA_TEST_OPERATORS))
            self.fail(f"These fields are required: [one of {names}]", location)
            return None
        if len(operators) > 1:
            self.fail(f"There should only be one of the following fields: [{', '.join(operators)}]", location)
            return None
        (operator,) = operators
        if operator in BOOLEAN_OPERATORS:
            if "Variable" in raw:
                self.fail("Field 'Variable' is not supported", location)
            return self.boolean(operator, raw[operator], f"{location}/{operator}")
        return self.data_test(operator, raw, location)

    def boolean(self, operator: str, value: Any, location: str) -> Expression | None:
        nested = {"Comment"}
        if operator == "Not":
            if not isinstance(value, dict):
                self.fail("The value for the field 'Not' must be an OBJECT", location)
                return None
            rule = self.expression(value, location, nested)
            return None if rule is None else Not(rule)
        if not isinstance(value, list):
            self.fail(f"The value for the field '{operator}' must be an ARRAY", location)
            return None
        if not value:
            self.fail("Value cannot be empty", location)
            return None
        # AWS writes array positions in brackets: /States/C/Choices[0]/And[1]
        rules = [self.expression(item, f"{location}[{i}]", nested) for i, item in enumerate(value)]
        if any(rule is None for rule in rules):
            return None
        return (And if operator == "And" else Or)(tuple(r for r in rules if r is not None))

    def data_test(self, operator: str, raw: dict[str, Any], location: str) -> DataTest | None:
        if "Variable" not in raw:
            self.fail("These fields are required: [Variable]", location)
            return None
        variable = raw["Variable"]
        ok = True
        if not _is_path(variable):
            self.fail("The value for the field 'Variable' must be a valid JSONPath", f"{location}/Variable")
            ok = False
        operand = raw[operator]
        field_location = f"{location}/{operator}"
        prepared: Any = None
        spec = COMPARISON_OPERATORS.get(operator)
        if spec is not None and spec.by_path:
            if not _is_path(operand):
                self.fail(f"The value for the field '{operator}' must be a valid JSONPath", field_location)
                ok = False
        elif spec is not None and spec.operand_type is _TIMESTAMP_TYPE:
            prepared = parse_timestamp(operand) if isinstance(operand, str) else None
            if prepared is None:
                self.fail("String does not match RFC3339 timestamp", field_location)
                ok = False
        elif spec is not None:
            if not spec.operand_type.accepts(operand):
                self.fail(
                    f"The value for the field '{operator}' must be a {spec.operand_type.name}", field_location
                )
                ok = False
        elif operator == "StringMatches":
            if isinstance(operand, str):
                prepared = compile_string_matches(operand)
            else:
                self.fail("The value for the field 'StringMatches' must be a STRING", field_location)
                ok = False
        elif not isinstance(operand, bool):  # IsPresent and the type tests
            self.fail(f"The value for the field '{operator}' must be a BOOLEAN", field_location)
            ok = False
        return DataTest(variable, operator, operand, prepared) if ok else None


def parse_choice_rule(raw: dict[str, Any], location: str, *, query_language: str | None = None) -> ChoiceRule:
    """Parse one top-level entry of `Choices` found at `location` (e.g. "/States/MyChoice/Choices[0]").

    Raises DefinitionError listing every problem, in AWS's SCHEMA_VALIDATION_FAILED words. When the
    state's effective `query_language` ("JSONPath" or "JSONata") is given, a rule of the other
    language is refused too; otherwise a `Condition` makes a JSONata rule and anything else JSONPath.
    """
    parser = _Parser()
    rule = parser.top_level(raw, location, query_language)
    if rule is None or parser.problems:
        raise DefinitionError(parser.problems)
    return rule


# --------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------

_MISSING = object()


def _resolve(path: str, data: Any, context: Any, variables: Mapping[str, Any] | None) -> Any:
    try:
        return evaluate_path(path, data, context, variables)
    except PathNotFound:
        return _MISSING


def _invalid_path(path: str) -> FailureError:
    # The interpreter prefixes "An error occurred while executing the state 'X' (entered at the
    # event id #N). " as it does for every States.Runtime failure.
    return FailureError(
        ErrorName.RUNTIME,
        f"Invalid path '{path}': The choice state's condition path references an invalid value.",
    )


def _evaluate_data_test(test: DataTest, data: Any, context: Any, variables: Mapping[str, Any] | None) -> bool:
    value = _resolve(test.variable, data, context, variables)
    if test.operator == "IsPresent":
        return (value is not _MISSING) == test.operand
    if value is _MISSING:
        raise _invalid_path(test.variable)
    type_test = TYPE_TESTS.get(test.operator)
    if type_test is not None:
        return type_test(value) == test.operand
    if test.operator == "StringMatches":
        return isinstance(value, str) and test.prepared.fullmatch(value) is not None
    spec = COMPARISON_OPERATORS[test.operator]
    if spec.by_path:
        other = _resolve(test.operand, data, context, variables)
        if other is _MISSING:
            raise _invalid_path(test.operand)
    else:
        other = test.operand
    operand_type = spec.operand_type
    # A value of the wrong type makes the comparison false, never an error.
    if not (operand_type.accepts(value) and operand_type.accepts(other)):
        return False
    right = test.prepared if test.prepared is not None else operand_type.normalise(other)
    return _RELATIONS[spec.relation](operand_type.normalise(value), right)


def evaluate_expression(
    expression: Expression, data: Any, context: Any = None, variables: Mapping[str, Any] | None = None
) -> bool:
    """Evaluate a (possibly nested) rule against the state's effective input."""
    if isinstance(expression, DataTest):
        return _evaluate_data_test(expression, data, context, variables)
    if isinstance(expression, And):
        return all(evaluate_expression(r, data, context, variables) for r in expression.rules)
    if isinstance(expression, Or):
        return any(evaluate_expression(r, data, context, variables) for r in expression.rules)
    if isinstance(expression, Not):
        return not evaluate_expression(expression.rule, data, context, variables)
    if isinstance(expression.expression, bool):
        return expression.expression
    raise NotImplementedError("JSONata Condition expressions are evaluated by the JSONata evaluator")


def evaluate_choice_rule(
    rule: ChoiceRule, data: Any, context: Any = None, variables: Mapping[str, Any] | None = None
) -> bool:
    """Whether a top-level Choice rule matches; raises FailureError(States.Runtime) on a missing path."""
    return evaluate_expression(rule.expression, data, context, variables)


def select_choice(
    rules: Sequence[ChoiceRule], data: Any, context: Any = None, variables: Mapping[str, Any] | None = None
) -> ChoiceRule | None:
    """The first rule that matches, in order, or None (the caller then takes Default or fails)."""
    for rule in rules:
        if evaluate_choice_rule(rule, data, context, variables):
            return rule
    return None
