"""Pagination tokens on real store files: signed with a key the store keeps, so a token is good across an
engine restart on the same file and refused by any other store."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import rows

from stateway.engine import Engine
from stateway.engine import errors as api
from stateway.engine.paging import KEY_SETTING

pytestmark = pytest.mark.integration


def test_a_token_works_across_a_restart_and_nowhere_else(tmp_path: Path) -> None:
    db = tmp_path / "paged.db"
    with Engine(f"sqlite:///{db}") as engine:
        for name in ("a", "b", "c"):
            engine.service.create_activity(name)
        first, token = engine.service.list_activities(max_results=1)
    assert [a["name"] for a in first] == ["a"] and token
    with Engine(f"sqlite:///{db}") as restarted:
        rest, _ = restarted.service.list_activities(next_token=token)
        assert [a["name"] for a in rest] == ["b", "c"]
    with Engine(f"sqlite:///{tmp_path / 'other.db'}") as other:
        other.service.create_activity("b")
        with pytest.raises(api.InvalidToken) as caught:
            other.service.list_activities(next_token=token)
        assert caught.value.message == f"Invalid Token: '{token}'"


def test_the_key_is_made_once_per_store_and_kept_in_it(tmp_path: Path) -> None:
    db = tmp_path / "keyed.db"
    with Engine(f"sqlite:///{db}") as engine:
        assert rows(db, "SELECT value FROM settings") == [], "made with the first token, not before"
        engine.service.create_activity("a")
        engine.service.create_activity("b")
        engine.service.list_activities(max_results=1)
        engine.service.list_activities(max_results=1)
    (key,) = rows(db, "SELECT value FROM settings WHERE name = ?", KEY_SETTING)
    assert len(bytes.fromhex(key[0])) == 32
    with Engine(f"sqlite:///{db}") as restarted:
        restarted.service.list_activities(max_results=1)
    assert rows(db, "SELECT value FROM settings WHERE name = ?", KEY_SETTING) == [key]
    with Engine(f"sqlite:///{tmp_path / 'other.db'}") as other:
        other.service.create_activity("a")
        other.service.create_activity("b")
        other.service.list_activities(max_results=1)
    assert rows(tmp_path / "other.db", "SELECT value FROM settings") != [key]
