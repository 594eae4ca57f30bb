"""JSONPath data flow: payload templates (`.$` keys), InputPath, ResultPath and OutputPath."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stateway.asl import intrinsics, paths
from stateway.asl.errors import ErrorName, FailureError


def apply_template(template: Any, data: Any, context: Any, variables: Mapping[str, Any] | None,
                   env: Any, field: str) -> Any:
    """Evaluate a payload template: keys ending in `.$` take the value of a path or intrinsic call."""
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$") and isinstance(value, str):
                out[key[:-2]] = _resolve(value, data, context, variables, env, key)
            else:
                out[key] = apply_template(value, data, context, variables, env, field)
        return out
    if isinstance(template, list):
        return [apply_template(v, data, context, variables, env, field) for v in template]
    return template


def _resolve(expression: str, data: Any, context: Any, variables: Mapping[str, Any] | None,
             env: Any, key: str) -> Any:
    try:
        if intrinsics.is_intrinsic(expression):
            return intrinsics.evaluate_intrinsic(expression, data, context, variables, env)
        return paths.evaluate_path(expression, data, context, variables)
    except paths.PathNotFound as missing:
        raise paths.input_path_failure(key, missing.path, data, context, variables, error=missing) from None


def apply_input_path(input_path: Any, data: Any, context: Any, variables: Mapping[str, Any] | None,
                     field: str = "InputPath") -> Any:
    """InputPath/OutputPath: absent means `$`; null means an empty object."""
    if input_path is None:
        return {}
    if input_path == "$":
        return data
    try:
        return paths.evaluate_path(input_path, data, context, variables)
    except paths.PathNotFound as missing:
        raise paths.input_path_failure(field, input_path, data, context, variables, error=missing) from None


def apply_result_path(result_path: Any, state_input: Any, result: Any) -> Any:
    """ResultPath: absent means `$` (the result replaces the input); null discards the result."""
    if result_path is None:
        return state_input
    if result_path == "$":
        return result
    try:
        return paths.set_reference_path(state_input, result_path, result)
    except paths.PathSyntaxError as error:  # validation refuses it; a machine stored before it did not
        raise FailureError(ErrorName.RUNTIME.value, str(error)) from None


def is_runtime_failure(error: FailureError) -> bool:
    return error.failure.error == ErrorName.RUNTIME
