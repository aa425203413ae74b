"""The Discord user ↔ GUID link store: transactional, thread-safe, persistent, not in the lake."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from etl_duck.links import LinkConflict, LinkStore, links_path


def test_link_unlink_and_lookup(tmp_path: Path) -> None:
    with LinkStore(tmp_path / "links.sqlite3") as store:
        assert store.guid_for(1) is None
        store.link(1, "d8423f90")
        assert store.guid_for(1) == "D8423F90"  # normalised
        store.link(1, "EDBB5DA9")  # re-link replaces
        assert store.guid_for(1) == "EDBB5DA9"
        with pytest.raises(LinkConflict):  # one Discord account per GUID …
            store.link(2, "EDBB5DA9")
        store.link(2, "EDBB5DA9", shared=True)  # … unless an admin overrides
        assert store.users_for("edbb5da9") == [1, 2]
        assert store.count() == 2
        assert store.unlink(1) is True
        assert store.unlink(1) is False
        assert store.guid_for(1) is None and store.guid_for(2) == "EDBB5DA9"


@pytest.mark.parametrize("bad", ["", "vid", "D8423F9", "D8423F90X", "G8423F90", "../../etc"])
def test_rejects_what_is_not_a_guid(tmp_path: Path, bad: str) -> None:
    with LinkStore(tmp_path / "links.sqlite3") as store:
        with pytest.raises(ValueError):
            store.link(1, bad)
        assert store.count() == 0


def test_full_length_guids_are_accepted(tmp_path: Path) -> None:
    with LinkStore(tmp_path / "links.sqlite3") as store:
        store.link(7, "0123456789abcdef0123456789ABCDEF")
        assert store.guid_for(7) == "0123456789ABCDEF0123456789ABCDEF"


def test_persists_across_reopen(tmp_path: Path) -> None:
    path = links_path(tmp_path / "data")
    assert path == tmp_path / "data" / "state" / "links.sqlite3"  # beside the lake, not in it
    with LinkStore.in_data_dir(tmp_path / "data") as store:
        store.link(10, "D8423F90")
        store.link(11, "5D989160")
        store.unlink(11)
    with LinkStore(path) as again:
        assert again.guid_for(10) == "D8423F90"
        assert again.guid_for(11) is None
    # another process (the CLI, a notebook) can read it with plain sqlite3
    con = sqlite3.connect(path)
    assert con.execute("SELECT user_id, guid FROM links").fetchall() == [(10, "D8423F90")]
    con.close()


def test_thread_safe(tmp_path: Path) -> None:
    with LinkStore(tmp_path / "links.sqlite3") as store:
        errors: list[BaseException] = []

        def worker(base: int) -> None:
            try:
                for i in range(50):
                    uid = base * 1000 + i
                    store.link(uid, f"{uid:08X}")
                    assert store.guid_for(uid) == f"{uid:08X}"
                    if i % 2:
                        assert store.unlink(uid)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(b,)) for b in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert store.count() == 8 * 25


def test_a_failed_write_leaves_nothing_half_done(tmp_path: Path) -> None:
    with LinkStore(tmp_path / "links.sqlite3") as store:
        store.link(1, "D8423F90")
        with pytest.raises(ValueError):
            store.link(1, "not-a-guid")
        assert store.guid_for(1) == "D8423F90"
