"""Loads the AWS-recorded conformance corpus, selects the cases we can run, and binds their placeholders."""

from __future__ import annotations

import hashlib
import json
import linecache
import os
import re
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

CORPUS_ENV = "STATEWAY_CONFORMANCE_DIR"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CORPUS_DIR = PROJECT_ROOT.parent / "shared/conformance/sfn/cases"

# The account and region our local Lambda ARNs claim; the comparer normalises both away again.
ACCOUNT_ID = "111111111111"
REGION = "us-east-1"

# What every Lambda-style function in the corpus was deployed as; naming the exec'd code after it
# makes local stack traces read like the recorded ones (`File "/var/task/handler.py", line 2`).
HANDLER_FILENAME = "/var/task/handler.py"

# Needs a case may have and still run on the local engine alone: S3 is a temporary directory object store
# that the runner fills with the case's buckets and objects (`provision_objects`).
LOCAL_NEEDS = frozenset({"lambda", "s3"})

PLACEHOLDER = re.compile(r"\{\{([A-Za-z_]\w*)\.([A-Za-z_]\w*)\}\}")

Handler = Callable[[Any, Any], Any]


class CorpusMissing(Exception):
    """The corpus folder is not where we looked; tests skip with this message."""


class UnboundPlaceholder(Exception):
    """A `{{resource.attribute}}` placeholder names something a local run cannot provide."""


@dataclass(frozen=True)
class Case:
    """One recorded case, as stored in the corpus (`raw`), with the fields the runner uses lifted out."""

    id: str
    path: Path
    kind: str
    category: str
    test: str
    needs: tuple[str, ...]
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def definition(self) -> Any:
        return self.raw.get("definition")

    @property
    def input(self) -> Any:
        # A few recordings started the execution without input, which the API treats as {}.
        if str(self.raw.get("input_encoding", "")).startswith("not given"):
            return {}
        return self.raw.get("input", {})

    @property
    def expected(self) -> Mapping[str, Any]:
        return self.raw.get("expected", {})

    @property
    def resources(self) -> list[Mapping[str, Any]]:
        return list(self.raw.get("resources") or [])

    @property
    def snapshot_placeholders(self) -> list[Mapping[str, Any]]:
        return list(self.raw.get("snapshot_placeholders") or [])

    @property
    def query_languages(self) -> tuple[str, ...]:
        return tuple((self.raw.get("features") or {}).get("query_language") or ["JSONPath"])

    @property
    def uses_jsonata(self) -> bool:
        return "JSONata" in self.query_languages

    @property
    def language_group(self) -> str:
        return "any JSONata" if self.uses_jsonata else "JSONPath-only"

    @property
    def has_history(self) -> bool:
        return bool(self.expected.get("history"))

    @property
    def lambda_sources(self) -> list[str]:
        return [str(r.get("source", "")) for r in self.resources if r.get("type") == "lambda"]

    @property
    def sleeps(self) -> bool:
        """True when a handler sleeps (to provoke a timeout); such cases take real seconds to run."""
        return any("sleep(" in source for source in self.lambda_sources)

    @property
    def runnable(self) -> bool:
        return self.kind == "execution" and set(self.needs) <= LOCAL_NEEDS


def corpus_dir() -> Path:
    """Where the cases are: $STATEWAY_CONFORMANCE_DIR, else ../shared/conformance/sfn/cases."""
    override = os.environ.get(CORPUS_ENV)
    directory = Path(override) if override else DEFAULT_CORPUS_DIR
    if not directory.is_dir():
        raise CorpusMissing(
            f"conformance corpus not found at {directory} (set {CORPUS_ENV} to the folder of case files)"
        )
    return directory


def load_case(path: Path) -> Case:
    raw = json.loads(path.read_text(encoding="utf-8"))
    source = raw.get("source") or {}
    return Case(
        id=raw["id"],
        path=path,
        kind=raw.get("kind", ""),
        category=raw.get("category", ""),
        test=source.get("test") or raw["id"],
        needs=tuple(raw.get("needs") or ()),
        raw=raw,
    )


@cache
def _load_all(directory: Path) -> tuple[Case, ...]:
    return tuple(load_case(p) for p in sorted(directory.glob("*.json")))


def load_cases(directory: Path | None = None) -> list[Case]:
    """Every case in the corpus, sorted by file name."""
    return list(_load_all(directory or corpus_dir()))


def runnable_cases(directory: Path | None = None, filter_text: str | None = None) -> list[Case]:
    """Execution cases that need nothing but the engine and local Lambda-style functions."""
    cases = [c for c in load_cases(directory) if c.runnable]
    if filter_text:
        cases = [c for c in cases if filter_text in c.id]
    return cases


def cases_by_id(directory: Path | None = None) -> dict[str, Case]:
    return {c.id: c for c in load_cases(directory)}


# ---- binding --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalFunction:
    """A corpus Lambda resource turned into a local task function."""

    resource_id: str
    name: str
    arn: str
    handler: Handler = field(repr=False)


@dataclass(frozen=True)
class BoundCase:
    """A case ready to run: placeholders substituted, functions built, execution name chosen."""

    case: Case
    definition: Any
    input: Any
    functions: tuple[LocalFunction, ...]
    execution_name: str
    # `resource.attribute` → value, for every placeholder this run can resolve.
    values: Mapping[str, str]

    @property
    def functions_by_name(self) -> dict[str, Handler]:
        return {f.name: f.handler for f in self.functions}

    @property
    def uses_objects(self) -> bool:
        return any(r.get("type") in ("s3_bucket", "s3_object") for r in self.case.resources)

    def provision_objects(self, root: Path) -> None:
        """Create the case's S3 buckets (subdirectories of `root`) and objects (files in them), as a
        `DirectoryObjectStore` on `root` reads them."""
        for resource in self.case.resources:
            if resource.get("type") == "s3_bucket":
                (root / substitute(str(resource["name"]), self.values)).mkdir(parents=True, exist_ok=True)
        for resource in self.case.resources:
            if resource.get("type") == "s3_object":
                bucket = root / substitute(str(resource["bucket"]), self.values)
                path = bucket.joinpath(*str(resource["key"]).split("/"))
                path.parent.mkdir(parents=True, exist_ok=True)
                body = resource.get("body", "")
                path.write_bytes(body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode())


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def lambda_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


def make_handler(source: str) -> Handler:
    """Exec a handler source into a fresh module namespace and return its `handler`."""
    module = types.ModuleType("handler")
    module.__file__ = HANDLER_FILENAME

    class _Loader:
        # linecache asks the frame's module globals for source, so tracebacks show the code lines.
        @staticmethod
        def get_source(_name: str) -> str:
            return source

    module.__loader__ = _Loader()  # type: ignore[assignment]
    exec(compile(source, HANDLER_FILENAME, "exec"), module.__dict__)  # noqa: S102 - corpus data we trust
    handler = module.__dict__.get("handler")
    if not callable(handler):
        raise ValueError("lambda source defines no callable `handler`")
    return handler


def forget_handler_source() -> None:
    """Drop linecache's copy of the last handler's source, so the next case's traceback reads its own."""
    linecache.cache.pop(HANDLER_FILENAME, None)


def substitute(value: Any, values: Mapping[str, str]) -> Any:
    """Replace `{{resource.attribute}}` placeholders in every string of a JSON value (keys included)."""
    if isinstance(value, str):
        return _substitute_text(value, values)
    if isinstance(value, list):
        return [substitute(v, values) for v in value]
    if isinstance(value, dict):
        return {_substitute_text(k, values): substitute(v, values) for k, v in value.items()}
    return value


def _substitute_text(text: str, values: Mapping[str, str]) -> str:
    if "{{" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        key = f"{match.group(1)}.{match.group(2)}"
        if key not in values:
            raise UnboundPlaceholder(f"no local value for placeholder {match.group(0)}")
        return values[key]

    return PLACEHOLDER.sub(replace, text)


def bind(case: Case) -> BoundCase:
    """Build the local functions and substitute their names and ARNs into definition and input."""
    suffix = _short_hash(case.id)
    functions: list[LocalFunction] = []
    values: dict[str, str] = {}
    for resource in case.resources:
        if resource.get("type") == "s3_bucket":
            values[f"{resource['id']}.name"] = _bucket_name(case, str(resource["id"]), suffix)
        if resource.get("type") != "lambda":
            continue
        resource_id = str(resource["id"])
        name = f"sw-{resource_id.replace('_', '-')}-{suffix}"
        arn = lambda_arn(name)
        functions.append(LocalFunction(resource_id, name, arn, make_handler(str(resource["source"]))))
        values[f"{resource_id}.name"] = name
        values[f"{resource_id}.arn"] = arn
    execution_name = f"exec-{suffix}"
    values["exec_0.name"] = execution_name
    return BoundCase(
        case=case,
        definition=substitute(case.definition, values),
        input=substitute(case.input, values),
        functions=tuple(functions),
        execution_name=execution_name,
        values=values,
    )


def _bucket_name(case: Case, resource_id: str, suffix: str) -> str:
    """A bucket's name: the one the recording's template gave it where a binding says so (a recording
    shows it where no placeholder hides it), else one made up for the case."""
    for binding in case.raw.get("bindings") or ():
        template_value = binding.get("template_value")
        if binding.get("value") == f"{{{{{resource_id}.name}}}}" and isinstance(template_value, str) and template_value:
            return template_value
    return f"sw-{resource_id.replace('_', '-')}-{suffix}"


def unresolved_placeholders(texts: Iterable[str]) -> set[str]:
    return {m.group(0) for t in texts for m in PLACEHOLDER.finditer(t)}
