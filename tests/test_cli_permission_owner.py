"""The permission sentence when the data directory is another user's (not root's): the
service user's (`etlduck`), met by an admin who ran etl-duck as himself. It told him to
`sudo chown -R <admin> <data dir>`, which takes the lake from the service that writes it.
It now says to run as the data directory's owner (`sudo -u <owner> etl-duck …`), with a
chown back to that owner first when root (a `sudo etl-duck …`) left a file there. Root's
file in a data dir of the user's own (the sudo incident) keeps its chown to that user.

Ownership is made for real (``os.chown``: root only; a test skips elsewhere), and one
test runs the installed etl-duck as a uid that is not the data dir's."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from etl_duck.cli import data_dir_denied
from etl_duck.ingest.run import ingest_paths
from tests.conftest import FIXTURES
from tests.lakecheck import CLI_SETTINGS

ROOT = os.geteuid() == 0
EXE = shutil.which("etl-duck", path=str(Path(sys.executable).parent))
SETPRIV = shutil.which("setpriv")
R1, R2 = "2026-03-14-213512-supply-round-1.txt", "2026-03-14-214449-supply-round-2.txt"
#: an admin's uid that no account here has: named by its number, `sudo -u '#uid'`
ADMIN = 4242
needs_root = pytest.mark.skipif(not ROOT, reason="only root can give files to another user")


def _service() -> pwd.struct_passwd:
    """The service user that owns the data directory: ``nobody``, a real account."""
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody here")


def _name(uid: int) -> str:
    """A user's login name, looked up here (not by the code under test); else its uid."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _chown_tree(top: Path, uid: int, gid: int) -> None:
    """``chown -R uid:gid top``."""
    for folder, dirs, files in os.walk(top):
        os.chown(folder, uid, gid)
        for name in [*dirs, *files]:
            os.chown(Path(folder) / name, uid, gid, follow_symlinks=False)


@pytest.fixture
def service_lake(tmp_path: Path) -> Path:
    """A data dir with one ingest, every file of it the service user's (``chown -R``)."""
    entry = _service()
    data = tmp_path / "data"
    ingest_paths(data, [FIXTURES / R1])
    _chown_tree(data, entry.pw_uid, entry.pw_gid)
    return data


@needs_root
def test_another_users_data_dir_says_run_as_that_user_not_chown(service_lake: Path) -> None:
    """The admin (``ADMIN``) meets the service's ``raw/<date>/`` folder: run as the service
    user; a chown to the admin is named only as what not to do."""
    data, service, admin = service_lake, _service().pw_name, _name(ADMIN)
    missing = data / "raw" / "2026-03-14" / R2
    assert (data / "raw" / "2026-03-14").stat().st_uid == _service().pw_uid
    assert data_dir_denied([str(missing)], data, ADMIN) == (
        f"cannot write {missing}: permission denied — {data}/raw/2026-03-14 belongs to "
        f"{service}, not to {admin}, as the data directory does: run etl-duck as {service} "
        f"(`sudo -u {service} etl-duck …`) and retry, not a chown to {admin} (it would lock "
        f"{service} out); nothing is lost"
    )
    # the data dir itself (the writer's lock, a new raw/<date>/ folder): the same advice
    lock = data / ".writer.lock"
    said = data_dir_denied([str(lock)], data, ADMIN)
    assert said.startswith(f"cannot write {lock}: permission denied — it belongs to {service}")
    assert f"`sudo -u {service} etl-duck …`" in said and "sudo chown" not in said


@needs_root
def test_roots_file_in_another_users_data_dir_chowns_back_to_that_user(
    service_lake: Path,
) -> None:
    """After a `sudo etl-duck ingest` in the service's data dir, the admin as himself: the
    chown goes to the data dir's owner, then run as him."""
    data, service, admin = service_lake, _service().pw_name, _name(ADMIN)
    os.chown(data / "raw" / "2026-03-14", 0, 0)  # left by `sudo etl-duck …`
    missing = data / "raw" / "2026-03-14" / R2
    assert data_dir_denied([str(missing)], data, ADMIN) == (
        f"cannot write {missing}: permission denied — {data}/raw/2026-03-14 belongs to root "
        f"(left by `sudo etl-duck …`?), and the data directory to {service}, not to {admin}: "
        f"run `sudo chown -R {service} {data}`, then etl-duck as {service} "
        f"(`sudo -u {service} etl-duck …`); nothing is lost"
    )
    # the sudo incident, as the service user himself: the chown to him, as before
    assert data_dir_denied([str(missing)], data, _service().pw_uid) == (
        f"cannot write {missing}: permission denied — {data}/raw/2026-03-14 belongs to root, "
        f"not to {service} (left by `sudo etl-duck …`?): run `sudo chown -R {service} "
        f"{data}` and retry; nothing is lost"
    )


@needs_root
def test_an_unnamed_owner_is_given_to_sudo_by_number(tmp_path: Path) -> None:
    """A uid with no account (a container's): `sudo -u '#uid'` (a bare # is a comment)."""
    if _name(4343) != "4343":
        pytest.skip("uid 4343 has an account here")
    data = tmp_path / "data"
    (data / "raw").mkdir(parents=True)
    _chown_tree(data, 4343, 4343)
    said = data_dir_denied([str(data / "raw" / "x")], data, ADMIN)
    assert "run etl-duck as 4343 (`sudo -u '#4343' etl-duck …`)" in said, said


def test_a_data_dir_of_ones_own_keeps_the_chown(tmp_path: Path) -> None:
    """Without root: this user's data dir, another uid's view of it. Run as root, the data
    dir is root's (the chown advice, as ever); run as a user, it is another user's (run as
    him)."""
    data = tmp_path / "data"
    (data / "raw" / "2026-03-14").mkdir(parents=True)
    me = os.geteuid()
    other = me + 1
    missing = data / "raw" / "2026-03-14" / R1
    said = data_dir_denied([str(missing)], data, other)
    mine = _name(me)
    if ROOT:
        assert said.endswith(
            f"run `sudo chown -R {_name(other)} {data}` and retry; nothing is lost"
        ), said
    else:
        assert f"run etl-duck as {mine} (`sudo -u {mine} etl-duck …`)" in said, said
        assert "sudo chown" not in said


# --------------------------------------------------------------------------- end to end


def _as(uid: int, gid: int, cwd: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """The installed ``etl-duck ARGS`` run as ``uid`` (a fresh process)."""
    assert EXE is not None and SETPRIV is not None
    env = {k: v for k, v in os.environ.items() if k not in CLI_SETTINGS}
    command = [SETPRIV, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", EXE,
               *map(str, args)]  # fmt: skip
    return subprocess.run(
        command, cwd=cwd, env={**env, "HOME": str(cwd), "COLUMNS": "100"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@needs_root
def test_the_admin_is_told_to_run_as_the_service_and_that_works(shared_tmp: Path) -> None:
    """The service user's lake; the admin (a uid of his own) runs `etl-duck ingest`: exit 1,
    the sentence names the service user and `sudo -u`; run as the service user, as told,
    the same ingest lands."""
    if SETPRIV is None or EXE is None:
        pytest.skip("no setpriv or etl-duck script: no other user to run etl-duck as")
    entry = _service()
    if _as(ADMIN, ADMIN, shared_tmp, "--help").returncode != 0:
        pytest.skip("another user cannot run this checkout's etl-duck (a 0700 folder)")
    data = shared_tmp / "data"
    ingest_paths(data, [FIXTURES / R1])
    _chown_tree(data, entry.pw_uid, entry.pw_gid)
    later = shared_tmp / "later"
    later.mkdir()
    shutil.copy(FIXTURES / R2, later / R2)
    _chown_tree(later, 0, 0)
    (later / R2).chmod(0o644)
    done = _as(ADMIN, ADMIN, shared_tmp, "--data-dir", "data", "ingest", later)
    lines = [line for line in done.stderr.splitlines() if line.strip() and "elapsed" not in line]
    assert done.returncode == 1 and len(lines) == 1, done
    assert lines[0].startswith("error: cannot write data/"), lines
    admin = _name(ADMIN)
    assert lines[0].endswith(
        f"belongs to {entry.pw_name}, not to {admin}, as the data directory does: run etl-duck "
        f"as {entry.pw_name} (`sudo -u {entry.pw_name} etl-duck …`) and retry, not a chown to "
        f"{admin} (it would lock {entry.pw_name} out); nothing is lost"
    ), lines
    done = _as(entry.pw_uid, entry.pw_gid, shared_tmp, "--data-dir", "data", "ingest", later)
    assert done.returncode == 0 and done.stdout.startswith("1 ingested; lake version 2"), done
    assert all(p.stat().st_uid == entry.pw_uid for p in (data / "raw").rglob("*"))
