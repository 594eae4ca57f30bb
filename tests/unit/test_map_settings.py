"""A Map's settings read through paths: a path that finds nothing fails the state, in AWS's words."""

from __future__ import annotations

import pytest

from stateway.testing.local import LocalRunner


@pytest.mark.parametrize("field", ["MaxConcurrencyPath", "ToleratedFailurePercentagePath",
                                   "ToleratedFailureCountPath"])
@pytest.mark.parametrize("path", ["$.missing", "$$.Map.Item.Value"])
def test_a_setting_path_that_finds_nothing_fails_the_map(field: str, path: str) -> None:
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", field: path, "End": True,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}}}
    result = LocalRunner().run(definition, {"items": [1, 2]})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause is not None and f"Invalid path '{path}' :" in result.cause
    assert result.cause.startswith("An error occurred while executing the state 'M' (entered at the event id #2).")
