"""Normalises an actual execution the way the corpus recordings were normalised and compares it with one."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from .corpus import ACCOUNT_ID, PLACEHOLDER, Case

# ---- patterns of the recording tool ---------------------------------------------------------

# ISO-8601 date-times with a zone; the tool left invalid ones (month 13, hour 25) and zone-less ones
# alone, which the corpus shows, so a match is only replaced when it is a real instant.
ISO_TIMESTAMP = re.compile(
    r"(?P<year>[1-9]\d{3})-(?P<month>\d{2})-(?P<day>\d{2})T(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})"
    r"(?:\.\d{1,9})?(?:Z|[+-](?P<zh>\d{2}):?(?P<zm>\d{2})?)"
)
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# A UUID under an `…id` key inside JSON text that was not parsed (e.g. a Lambda error cause).
UUID_IN_TEXT = re.compile(r'"[\w-]*[iI][dD]"\s*:\s*"(' + UUID.pattern + ')"')
ARN = re.compile(
    r"arn:(?P<partition>aws[\w-]*):(?P<service>[\w.-]*):(?P<region>[\w-]*):(?P<account>\d{12})?:"
)
REGION_NAME = re.compile(
    r"(?<![\w-])(?:us|eu|ap|sa|ca|me|af|il|mx|cn)(?:-gov|-iso[a-z]?)?"
    r"-(?:north|south|east|west|central|northeast|northwest|southeast|southwest)-\d(?![\w-])"
)
# `<name>` in an expected string: the recording replaced one name there.
WILDCARD = re.compile(r"<[^<>\s]+>")
WILDCARD_MATCH = r'[^\s"]+?'
PARALLEL_END_TYPES = frozenset(
    {"ParallelStateSucceeded", "ParallelStateAborted", "ParallelStateExited", "ParallelStateFailed"}
)
ZEROED_ID = [0]

_NOT_JSON = object()

# Transformers the recording fixture applied to service-integration HTTP metadata without listing
# them in `snapshot_placeholders`; which ones ran depends on the fixture's version (some recordings
# show `<uuid:1>` where others show the key's name). An expected value equal to its key's standing
# placeholder therefore stands for any value.
STANDING_PLACEHOLDERS: dict[str, str] = {
    "Date": "date",
    "X-Amzn-Trace-Id": "X-Amzn-Trace-Id",
    "x-amzn-RequestId": "x-amzn-RequestId",
    "x-amzn-requestid": "x-amzn-requestid",
    "x-amz-crc32": "x-amz-crc32",
    "Server": "Server",
    "RequestId": "RequestId",
}


# ---- what was run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ActualRun:
    """The observable result of one execution, as plain JSON-ish data (events as GetExecutionHistory)."""

    status: str | None
    output: str | None
    error: str | None
    cause: str | None
    events: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_result(cls, result: Any) -> ActualRun:
        """Copy a LocalRunner result into plain data (datetimes as ISO text) that pickles and compares."""
        events = json.loads(json.dumps(list(result.events or []), default=_jsonable))
        return cls(
            status=_text_or_none(result.status),
            output=result.output,
            error=result.error,
            cause=result.cause,
            events=tuple(events),
        )

    @classmethod
    def from_expected(cls, case: Case) -> ActualRun:
        """What a perfect engine would answer, rebuilt from the recording; the comparer's self-check."""
        expected = case.expected
        output = expected.get("output")
        return cls(
            status=expected.get("status"),
            output=None
            if "output" not in expected
            else _output_text(output, expected.get("output_encoding")),
            error=expected.get("error"),
            cause=None if "cause" not in expected else _as_text(expected["cause"]),
            events=tuple(_event_as_text(e) for e in expected.get("history") or ()),
        )


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _output_text(value: Any, encoding: str | None) -> str:
    return value if str(encoding or "").startswith("raw") else json.dumps(value)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _event_as_text(event: Mapping[str, Any]) -> dict[str, Any]:
    """An expected event with its parsed detail values turned back into JSON text, as an engine emits them."""
    out: dict[str, Any] = {}
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            out[key] = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in value.items()}
        else:
            out[key] = value
    return out


# ---- verdicts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """One of the compared aspects: passed (None when the recording has nothing to compare), and why not."""

    passed: bool | None
    reason: str = ""
    # The reason without values, for grouping failures across cases.
    group: str = ""


PASS = Verdict(True)
NOT_RECORDED = Verdict(None, "not recorded")


@dataclass(frozen=True)
class CaseResult:
    """The three verdicts for one case: status, output (or error and cause), history (sequence and detail)."""

    case_id: str
    status: Verdict
    result: Verdict
    history: Verdict
    history_detail: Verdict

    @property
    def passed_result(self) -> bool:
        return bool(self.status.passed and self.result.passed)

    @classmethod
    def failed_all(cls, case_id: str, reason: str, group: str) -> CaseResult:
        verdict = Verdict(False, reason, group)
        return cls(case_id, verdict, verdict, verdict, verdict)

    def failures(self) -> list[tuple[str, Verdict]]:
        named = [
            ("status", self.status),
            ("output/error/cause", self.result),
            ("history", self.history),
            ("history (full detail)", self.history_detail),
        ]
        return [(name, v) for name, v in named if v.passed is False]


# ---- normalisation --------------------------------------------------------------------------


@dataclass(frozen=True)
class JsonPathPlaceholder:
    """A recording transformer that replaced the value at a `$..a.b` path with a fixed placeholder."""

    segments: tuple[tuple[str, ...], ...]
    placeholder: str
    replace_reference: bool

    @classmethod
    def parse(cls, path: str, placeholder: str, replace_reference: bool) -> JsonPathPlaceholder:
        body = path[1:] if path.startswith("$") else path
        segments = tuple(tuple(p for p in part.split(".") if p) for part in body.split("..") if part)
        return cls(segments, placeholder, replace_reference)


@dataclass(frozen=True)
class Normaliser:
    """The per-case recipe: the recording's placeholders, in the form we can replay on an actual run."""

    literals: tuple[tuple[str, str], ...] = ()
    patterns: tuple[tuple[re.Pattern[str], str], ...] = ()
    json_paths: tuple[JsonPathPlaceholder, ...] = ()
    parallel_branches_sorted: bool = False
    # The recording applied transformers it did not describe; values we normalised to `date` or
    # `<uuid:N>` may stand against whatever those transformers wrote.
    opaque_transformers: bool = False
    # Placeholders whose real value we could not learn: they act as wildcards in expected strings.
    unknown: tuple[str, ...] = ()
    # The recorded output is the decoded JSON value (encodings `json-text` and `parsed-by-snapshot-tool`)
    # rather than raw text after placeholder substitution (`raw-string …`).
    output_decoded: bool = True

    @classmethod
    def for_case(cls, case: Case, values: Mapping[str, str]) -> Normaliser:
        literals: list[tuple[str, str]] = []
        patterns: list[tuple[re.Pattern[str], str]] = []
        json_paths: list[JsonPathPlaceholder] = []
        unknown: list[str] = []
        parallel = opaque = False
        for spec in case.snapshot_placeholders:
            how = str(spec.get("how", ""))
            placeholder = spec.get("placeholder")
            value = spec.get("value")
            if "ParallelTransformer" in how:
                parallel = True
            elif how == "jsonpath" and placeholder and spec.get("jsonpath"):
                json_paths.append(
                    JsonPathPlaceholder.parse(
                        str(spec["jsonpath"]), str(placeholder), bool(spec.get("replace_reference"))
                    )
                )
            elif how == "JsonpathTransformer":
                opaque = True
            elif placeholder is None or not isinstance(value, str):
                continue  # e.g. GenericTransformer: the string/container leniency covers it
            elif PLACEHOLDER.search(value):
                if how.startswith("transform.sfn_sm"):
                    # State machine and execution names only appear where the recording wrote a
                    # `<…>` wildcard; replacing short names everywhere would do harm, not good.
                    continue
                try:
                    resolved = PLACEHOLDER.sub(lambda m: values[f"{m.group(1)}.{m.group(2)}"], value)
                except KeyError:
                    unknown.append(str(placeholder))
                    continue
                literals.append((resolved, str(placeholder)))
            else:
                try:
                    patterns.append((re.compile(value), str(placeholder)))
                except re.error:
                    literals.append((value, str(placeholder)))
        literals.sort(key=lambda lv: -len(lv[0]))
        encoding = str(case.expected.get("output_encoding") or "")
        return cls(
            tuple(literals),
            tuple(patterns),
            tuple(json_paths),
            parallel,
            opaque,
            tuple(unknown),
            output_decoded=not encoding.startswith("raw"),
        )


@dataclass(frozen=True)
class NormalisedRun:
    status: str | None
    output: Any
    error: Any
    cause: Any
    events: list[dict[str, Any]]
    has_output: bool = True


def discover_values(run: ActualRun) -> dict[str, str]:
    """Values the engine chose that the recording replaced by name (the execution role ARN)."""
    found: dict[str, str] = {}
    for event in run.events:
        details = event.get("executionStartedEventDetails")
        if isinstance(details, Mapping) and isinstance(details.get("roleArn"), str):
            found["sfn_role.arn"] = details["roleArn"]
            break
    return found


def normalise_run(run: ActualRun, normaliser: Normaliser) -> NormalisedRun:
    """Apply the recording tool's steps to an actual run, in the tool's order."""
    events = [_plain_event(e) for e in run.events]
    # 1. The tool parsed strings that begin with `{` (one level deep, never inside parsed values).
    events = [_parse_braced_in(e) for e in events]
    output = _decode(run.output) if normaliser.output_decoded else _parse_braced(run.output)
    cause = _parse_braced(run.cause)
    error = run.error
    # 2. The per-case transformers.
    if normaliser.parallel_branches_sorted:
        sort_parallel_branches(events)
    references: dict[str, str] = {}
    # The recorded output is what the history's final event said, so the same paths apply to it.
    wrapper = {"events": [{"executionSucceededEventDetails": {"output": output}}]}
    for jp in normaliser.json_paths:
        _apply_json_path({"events": events}, jp, references)
        _apply_json_path(wrapper, jp, references)
    output = wrapper["events"][0]["executionSucceededEventDetails"]["output"]
    # 3. The tool's global replacements: timestamps by key, then strings (ARNs, account, region,
    #    ISO date-times, UUIDs under `…id` keys).
    #    A valid ISO date-time became `date` even under a `…timestamp…` key; other values there
    #    became `timestamp`.
    everything = [events, output, cause, error]
    string_norm = _string_normaliser(everything, normaliser, references)
    everything = _replace_timestamp_keys(_map_strings(everything, string_norm))
    events, output, cause, error = everything
    return NormalisedRun(run.status, output, error, cause, events, has_output=run.output is not None)


def _plain_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """A copy without None-valued fields (the API omits absent fields)."""
    out: dict[str, Any] = {}
    for key, value in event.items():
        if value is None:
            continue
        if key == "timestamp":
            # GetExecutionHistory gives a datetime here, which the tool wrote as `timestamp`.
            value = "timestamp"
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if v is not None}
        out[key] = value
    return out


def _decode(value: Any) -> Any:
    if isinstance(value, str):
        parsed = _try_json(value)
        return value if parsed is _NOT_JSON else parsed
    return value


def _parse_braced(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _parse_braced_in(value: Any) -> Any:
    """The tool's walk: dict values that are `{`-strings get parsed; dicts inside lists are visited."""
    if isinstance(value, dict):
        return {k: _parse_braced(v) if isinstance(v, str) else _parse_braced_in(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_parse_braced_in(v) if isinstance(v, dict) else v for v in value]
    return value


def sort_parallel_branches(events: list[dict[str, Any]]) -> None:
    """Replays the recording tool's (non-recursive) Parallel normaliser on a history, in place.

    Between a ParallelStateStarted and the next Parallel end event, events get id [0] and
    previousEventId 0 and are sorted; the slice it writes back can be shorter than the one it
    replaces (nested Parallel states), which drops events exactly as the recordings show.
    """
    start = 0
    sublist: list[dict[str, Any]] = []
    in_sublist = False
    # Iterate by index over the live list: the tool's slice assignment shrinks it under the loop.
    i = 0
    while i < len(events):
        event = events[i]
        event_type = event.get("type")
        if event_type is None:
            in_sublist = False
        elif event_type in PARALLEL_END_TYPES:
            events[start:i] = sorted(sublist, key=lambda e: json.dumps(e, sort_keys=True, default=str))
            in_sublist = False
        elif event_type == "ParallelStateStarted":
            in_sublist = True
            sublist = []
            start = i + 1
        elif in_sublist:
            event["id"] = list(ZEROED_ID)
            event["previousEventId"] = 0
            sublist.append(event)
        i += 1


def _apply_json_path(doc: Any, jp: JsonPathPlaceholder, references: dict[str, str]) -> None:
    def replacement(old: Any) -> str:
        if not jp.replace_reference:
            return jp.placeholder
        key = json.dumps(old, sort_keys=True)
        if key not in references:
            references[key] = f"<{jp.placeholder}:{len(references) + 1}>"
        return references[key]

    _descend(doc, jp.segments, replacement)


def _descend(node: Any, segments: Sequence[tuple[str, ...]], replacement: Callable[[Any], str]) -> None:
    """`$..a.b..c`: each segment's first key is matched at any depth, the rest as direct children."""
    if not segments:
        return
    keys, rest = segments[0], segments[1:]
    for parent in _all_containers(node):
        if not isinstance(parent, dict):
            continue
        _follow(parent, keys, rest, replacement)


def _follow(
    parent: dict[str, Any],
    keys: tuple[str, ...],
    rest: Sequence[tuple[str, ...]],
    replacement: Callable[[Any], str],
) -> None:
    current: Any = parent
    for key in keys[:-1]:
        if not isinstance(current, dict) or key not in current:
            return
        current = current[key]
    last = keys[-1]
    if not isinstance(current, dict) or last not in current:
        return
    if rest:
        _descend(current[last], rest, replacement)
    else:
        current[last] = replacement(current[last])


def _all_containers(node: Any) -> Iterable[Any]:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            yield current
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)


def _replace_timestamp_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "timestamp"
            if "timestamp" in k.lower() and v is not None and v != "date"
            else _replace_timestamp_keys(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_replace_timestamp_keys(v) for v in value]
    return value


def _iter_strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _iter_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _iter_strings(v)


def _uuids_under_id_keys(value: Any, found: list[str]) -> None:
    if isinstance(value, dict):
        for key, v in value.items():
            if key.lower().endswith("id") and isinstance(v, str):
                found.extend(UUID.findall(v))
            _uuids_under_id_keys(v, found)
    elif isinstance(value, list):
        for v in value:
            _uuids_under_id_keys(v, found)
    elif isinstance(value, str):
        found.extend(m.group(1) for m in UUID_IN_TEXT.finditer(value))


def _valid_instant(match: re.Match[str]) -> bool:
    try:
        datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
        )
    except ValueError:
        return False
    if match["zh"] is not None and int(match["zh"]) > 19:
        return False
    return not (match["zm"] is not None and int(match["zm"]) > 59)


def _string_normaliser(
    everything: Any, normaliser: Normaliser, references: Mapping[str, str]
) -> Callable[[str], str]:
    uuids: list[str] = []
    _uuids_under_id_keys(everything, uuids)
    uuid_names: dict[str, str] = {}
    for u in uuids:
        uuid_names.setdefault(u, f"<uuid:{len(uuid_names) + 1}>")
    accounts = {m["account"] for s in _iter_strings(everything) for m in ARN.finditer(s) if m["account"]}
    accounts.discard(ACCOUNT_ID)
    regions = {m["region"] for s in _iter_strings(everything) for m in ARN.finditer(s) if m["region"]}
    literal_refs = [(json.loads(k), v) for k, v in references.items()]
    literal_refs = [(k, v) for k, v in literal_refs if isinstance(k, str) and k]

    def normalise(text: str) -> str:
        for value, placeholder in normaliser.literals:
            text = text.replace(value, placeholder)
        for pattern, placeholder in normaliser.patterns:
            text = pattern.sub(placeholder, text)
        for value, placeholder in literal_refs:
            text = text.replace(value, placeholder)
        text = ISO_TIMESTAMP.sub(lambda m: "date" if _valid_instant(m) else m.group(0), text)
        for account in accounts:
            text = re.sub(rf"(?<!\d){account}(?!\d)", ACCOUNT_ID, text)
        for region in regions:
            text = re.sub(rf"(?<![\w-]){re.escape(region)}(?![\w-])", "<region>", text)
        text = REGION_NAME.sub("<region>", text)
        text = text.replace("arn:aws:", "arn:<partition>:")
        if uuid_names and "-" in text:
            text = UUID.sub(lambda m: uuid_names.get(m.group(0), m.group(0)), text)
        return text

    return normalise


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: _map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    return value


# ---- value comparison -----------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    path: str
    message: str
    kind: str  # value-free: "wrong value", "missing key", …

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass
class Matcher:
    """Compares an expected (recorded, normalised) JSON value with a normalised actual one."""

    unknown: tuple[str, ...] = ()
    opaque_transformers: bool = False
    _patterns: dict[str, re.Pattern[str] | None] = field(default_factory=dict)

    def diff(self, expected: Any, actual: Any, path: str = "") -> Mismatch | None:
        if isinstance(expected, dict | list) and isinstance(actual, str):
            # The recording tool parsed some JSON texts and not others; a container against JSON
            # text is an encoding difference, not a semantic one.
            parsed = _try_json(actual)
            if parsed is not _NOT_JSON:
                actual = parsed
        if isinstance(expected, dict):
            return self._diff_object(expected, actual, path)
        if isinstance(expected, list):
            return self._diff_array(expected, actual, path)
        if isinstance(expected, str):
            return self._diff_string(expected, actual, path)
        if _same_scalar(expected, actual):
            return None
        return Mismatch(path, f"expected {_short(expected)}, got {_short(actual)}", "wrong value")

    def _diff_object(self, expected: dict[str, Any], actual: Any, path: str) -> Mismatch | None:
        if not isinstance(actual, dict):
            return Mismatch(path, f"expected an object, got {_short(actual)}", "wrong type")
        for key in expected:
            if key not in actual:
                return Mismatch(
                    _join(path, key), f"missing (expected {_short(expected[key])})", "missing key"
                )
        for key in actual:
            if key not in expected:
                return Mismatch(
                    _join(path, key), f"unexpected key (value {_short(actual[key])})", "extra key"
                )
        for key, value in expected.items():
            if STANDING_PLACEHOLDERS.get(key) == value:
                continue
            found = self.diff(value, actual[key], _join(path, key))
            if found:
                return found
        return None

    def _diff_array(self, expected: list[Any], actual: Any, path: str) -> Mismatch | None:
        if not isinstance(actual, list):
            return Mismatch(path, f"expected an array, got {_short(actual)}", "wrong type")
        for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
            found = self.diff(e, a, f"{path}[{i}]")
            if found:
                return found
        if len(expected) != len(actual):
            return Mismatch(path, f"expected {len(expected)} items, got {len(actual)}", "wrong length")
        return None

    def _diff_string(self, expected: str, actual: Any, path: str) -> Mismatch | None:
        if isinstance(actual, str):
            if expected == actual or self.matches_text(expected, actual):
                return None
            if self.opaque_transformers and (
                actual == "date" or UUID.fullmatch(actual) or _is_uuid_name(actual)
            ):
                return None
            left, right = _try_json(expected), _try_json(actual)
            if left is not _NOT_JSON and right is not _NOT_JSON and (left, right) != (expected, actual):
                # Both JSON texts: compare what they say, not how they are spaced.
                return self.diff(left, right, path)
        if isinstance(actual, str):
            return Mismatch(path, _string_difference(expected, actual), "wrong value")
        return Mismatch(path, f"expected {_short(expected)}, got {_short(actual)}", "wrong value")

    def matches_text(self, expected: str, actual: str) -> bool:
        pattern = self._patterns.get(expected, ...)
        if pattern is ...:
            pattern = self._compile(expected)
            self._patterns[expected] = pattern
        return bool(pattern and pattern.fullmatch(actual))

    def _compile(self, expected: str) -> re.Pattern[str] | None:
        tokens = [WILDCARD.pattern] + [re.escape(u) for u in self.unknown if u]
        token = re.compile("|".join(tokens))
        parts: list[str] = []
        last = 0
        for m in token.finditer(expected):
            parts.append(re.escape(expected[last : m.start()]))
            parts.append(WILDCARD_MATCH)
            last = m.end()
        if not parts:
            return None
        parts.append(re.escape(expected[last:]))
        return re.compile("".join(parts), re.DOTALL)


def _string_difference(expected: str, actual: str, context: int = 60) -> str:
    """Where two long strings part ways, with a little context, so the reason shows the difference."""
    if len(expected) <= 2 * context and len(actual) <= 2 * context:
        return f"expected {expected!r}, got {actual!r}"
    i = next(
        (k for k, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b),
        min(len(expected), len(actual)),
    )
    start = max(0, i - context // 2)
    lead = "…" if start else ""
    return (
        f"strings differ at character {i}: expected {lead}{expected[start : i + context]!r},"
        f" got {lead}{actual[start : i + context]!r}"
    )


def _is_uuid_name(text: str) -> bool:
    return text.startswith("<uuid:") and text.endswith(">")


def _try_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _NOT_JSON


def _same_scalar(expected: Any, actual: Any) -> bool:
    # bool is an int in Python, and 1 == 1.0; JSON tells them apart and so do we.
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return type(expected) is type(actual) and expected == actual
    return type(expected) is type(actual) and expected == actual


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, sort_keys=True, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _path_group(path: str, depth: int = 2) -> str:
    """`stateExitedEventDetails.output.x[3].y` → `stateExitedEventDetails.output` (for grouping)."""
    cleaned = re.sub(r"\[\d+\]", "", path)
    return ".".join(cleaned.split(".")[:depth])


# ---- the case comparison --------------------------------------------------------------------


def compare_case(case: Case, run: ActualRun, values: Mapping[str, str] | None = None) -> CaseResult:
    """Normalise `run` as the recording was normalised and judge status, result and history."""
    known = dict(values or {})
    known.update(discover_values(run))
    normaliser = Normaliser.for_case(case, known)
    actual = normalise_run(run, normaliser)
    matcher = Matcher(normaliser.unknown, normaliser.opaque_transformers)
    expected = case.expected
    return CaseResult(
        case_id=case.id,
        status=_judge_status(expected, actual),
        result=_judge_result(expected, actual, matcher),
        history=_judge_history_types(expected, actual),
        history_detail=_judge_history_detail(expected, actual, matcher),
    )


def _judge_status(expected: Mapping[str, Any], actual: NormalisedRun) -> Verdict:
    want = expected.get("status")
    if want is None:
        note = expected.get("status_note") or "no final status recorded"
        return Verdict(
            False, f"recording has no final status ({note}); got {actual.status}", "status not recorded"
        )
    if want == actual.status:
        return PASS
    detail = ""
    if actual.error is not None or actual.cause is not None:
        detail = f" ({actual.error}: {_short(actual.cause, 200)})"
    group = f"status {want} -> {actual.status}"
    if actual.status == "FAILED":
        group += f" {actual.error}"
    return Verdict(False, f"expected {want}, got {actual.status}{detail}", group)


def _judge_result(expected: Mapping[str, Any], actual: NormalisedRun, matcher: Matcher) -> Verdict:
    status = expected.get("status")
    if status == "SUCCEEDED" or "output" in expected:
        if "output" not in expected:
            return NOT_RECORDED
        if not actual.has_output:
            return Verdict(
                False,
                f"no output (status {actual.status}, {actual.error}: {_short(actual.cause, 200)})",
                "output missing",
            )
        found = matcher.diff(expected["output"], actual.output, "$")
        if found:
            return Verdict(False, f"output {found}", f"output: {found.kind}")
        return PASS
    if status is None:
        return Verdict(False, "recording has no final result", "status not recorded")
    want_error, want_cause = expected.get("error"), expected.get("cause")
    if want_error is None and actual.error is not None:
        return Verdict(False, f"error: expected none, got {actual.error!r}", "error: unexpected")
    if want_error is not None:
        found = matcher.diff(want_error, actual.error, "error")
        if found:
            return Verdict(
                False, f"error: expected {want_error!r}, got {actual.error!r}", f"error {want_error}"
            )
    if "cause" not in expected:
        if actual.cause not in (None, ""):
            return Verdict(
                False, f"cause: expected none, got {_short(actual.cause)}", f"cause unexpected ({want_error})"
            )
        return PASS
    found = matcher.diff(want_cause, actual.cause, "cause")
    if found:
        return Verdict(False, str(found), f"cause differs ({want_error})")
    return PASS


# ---- history --------------------------------------------------------------------------------


def _is_zeroed(event: Mapping[str, Any]) -> bool:
    return event.get("id") in (ZEROED_ID, (0,))


def segments(events: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Split a history into single events and runs of zeroed-id Parallel-branch events (one segment each)."""
    out: list[list[Mapping[str, Any]]] = []
    for event in events:
        if _is_zeroed(event) and out and _is_zeroed(out[-1][0]):
            out[-1].append(event)
        else:
            out.append([event])
    return out


def canonical_types(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """Event types in order, each Parallel-branch run sorted so that order inside it does not count."""
    types: list[str] = []
    for segment in segments(events):
        names = [str(e.get("type")) for e in segment]
        types.extend(sorted(names) if _is_zeroed(segment[0]) else names)
    return types


def _judge_history_types(expected: Mapping[str, Any], actual: NormalisedRun) -> Verdict:
    history = expected.get("history")
    if not history:
        return NOT_RECORDED
    want, got = canonical_types(history), canonical_types(actual.events)
    if want == got:
        return PASS
    i = next((k for k, (w, g) in enumerate(zip(want, got, strict=False)) if w != g), min(len(want), len(got)))
    w = want[i] if i < len(want) else "<end>"
    g = got[i] if i < len(got) else "<end>"
    after = want[i - 1] if i > 0 else "<start>"
    reason = (
        f"event {i + 1}: expected {w}, got {g} (after {after}; expected {len(want)} events, got {len(got)})"
    )
    return Verdict(False, reason, f"after {after}: expected {w}, got {g}")


def _judge_history_detail(expected: Mapping[str, Any], actual: NormalisedRun, matcher: Matcher) -> Verdict:
    history = expected.get("history")
    if not history:
        return NOT_RECORDED
    want, got = segments(history), segments(actual.events)
    position = 0
    for k, want_segment in enumerate(want):
        if k >= len(got):
            return Verdict(
                False,
                f"history ends early: {len(actual.events)} events, expected {len(history)}",
                "history length",
            )
        got_segment = got[k]
        found = _diff_segment(want_segment, got_segment, matcher)
        if found is not None:
            index, event, mismatch = found
            event_type = event.get("type")
            reason = f"event {position + index + 1} ({event_type}): {mismatch}"
            return Verdict(False, reason, f"{event_type}.{_path_group(mismatch.path)}: {mismatch.kind}")
        position += len(want_segment)
    if len(got) > len(want):
        extra = got[len(want)][0]
        return Verdict(
            False,
            f"unexpected event {position + 1} ({extra.get('type')}) after the recorded end",
            "history length",
        )
    return PASS


def _diff_segment(
    want: list[Mapping[str, Any]], got: list[Mapping[str, Any]], matcher: Matcher
) -> tuple[int, Mapping[str, Any], Mismatch] | None:
    if not _is_zeroed(want[0]):
        found = matcher.diff(dict(want[0]), dict(got[0]))
        return (0, want[0], found) if found else None
    # Parallel branches: each recorded event must match a distinct actual event of the run.
    unused = list(got)
    for index, event in enumerate(want):
        match = next((i for i, g in enumerate(unused) if matcher.diff(dict(event), dict(g)) is None), None)
        if match is not None:
            unused.pop(match)
            continue
        same_type = [g for g in unused if g.get("type") == event.get("type")]
        if same_type:
            found = matcher.diff(dict(event), dict(same_type[0]))
            assert found is not None
            return index, event, Mismatch(found.path, f"{found.message} (parallel branch)", found.kind)
        return (
            index,
            event,
            Mismatch("type", f"no {event.get('type')} among the branch events", "missing event"),
        )
    if unused:
        extra = unused[0]
        return (
            len(want),
            extra,
            Mismatch("type", f"unexpected {extra.get('type')} among branch events", "extra event"),
        )
    return None
