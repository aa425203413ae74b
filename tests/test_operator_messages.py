"""What an operator meets at the shell, through the real entry point and the installed
script (helper 35's brief):

- after one `sudo etl-duck ingest`, the service user's next ingest failed with "the data
  directory … must be writable by this user" although it was: a root-owned ``raw/<date>/``
  folder, the writer's lock or a snapshot's Parquet file (``fs.protected_hardlinks``
  refuses to link it) was the culprit. The sentence names it, its owner and the fix;
- `etl-duck … | head` exited 1 when the reader closed the pipe: it stops quietly, 141;
- `resolve NAME --accept` of a file with nothing to accept exited 0, as if it settled
  something: it says so and exits 2, like every resolve that changes nothing.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from etl_duck.ingest.run import ingest_paths
from tests.conftest import FIXTURES
from tests.lakecheck import CLI_SETTINGS, clean_cli

#: exit code, stdout (in one line), stderr (in one line)
Cli = Callable[..., tuple[int, str, str]]

EXE = shutil.which("etl-duck", path=str(Path(sys.executable).parent))
SETPRIV = shutil.which("setpriv")
R1, R2 = "2026-03-14-213512-supply-round-1.txt", "2026-03-14-214449-supply-round-2.txt"
CLEAN = "2026-03-14-223140-etl_frostbite-round-1.txt"  # no rejected line, not cut, a round 1
CUT = "2026-03-14-220518-etl_adlernest-round-1.txt"  # its last line is cut
OTHER_DATE = "2024-04-16-220731-te_escape2-round-1.txt"  # of fixtures/real
ROOT = os.geteuid() == 0


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:
    """``etl-duck ARGS`` through the real entry point; no .env or settings of the host."""
    return clean_cli(capsys, monkeypatch, tmp_path)


def user_name(uid: int) -> str:
    """A user's login name, looked up here (not by the code under test)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _env(home: Path) -> dict[str, str]:
    """The environment of a subprocess: none of the host's etl-duck settings."""
    env = {k: v for k, v in os.environ.items() if k not in CLI_SETTINGS}
    return {**env, "HOME": str(home), "COLUMNS": "100"}


# --------------------------------------------------------------------------- 1. not ours


def _files(folder: Path, *names: str) -> Path:
    """A folder, readable by anyone, holding copies of the fixtures ``names``."""
    folder.mkdir()
    for name in names:
        source = FIXTURES / name if (FIXTURES / name).exists() else FIXTURES.parent / "real" / name
        shutil.copy(source, folder / name)
        (folder / name).chmod(0o644)
    folder.chmod(0o755)
    return folder


def _service_user() -> tuple[int, int]:
    """Who runs the later ingests: ``nobody`` when the tests run as root, else this user."""
    if not ROOT:
        return os.geteuid(), os.getegid()
    if SETPRIV is None:
        pytest.skip("running as root without setpriv: no other user to run etl-duck as")
    entry = pwd.getpwnam("nobody")
    assert EXE is not None
    probe = [SETPRIV, f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups",
             EXE, "--help"]  # fmt: skip
    if subprocess.run(probe, capture_output=True, check=False).returncode != 0:
        # the venv lies where nobody may not enter (a checkout under /root or /tmp/…, 0700)
        pytest.skip("nobody cannot run this checkout's etl-duck: no other user to run it as")
    return entry.pw_uid, entry.pw_gid


def _as_service_user(cwd: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """The installed ``etl-duck ARGS`` run by :func:`_service_user` (a fresh process: its
    uid is the one the error names)."""
    assert EXE is not None
    uid, gid = _service_user()
    command = [EXE, *map(str, args)]
    if uid != os.geteuid():
        assert SETPRIV is not None
        command = [SETPRIV, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *command]
    return subprocess.run(command, cwd=cwd, env=_env(cwd), capture_output=True, text=True)


def _chown_tree(top: Path, uid: int, gid: int, *, files_only_under: Path | None = None) -> None:
    """``chown -R uid:gid top`` (the fix the sentence gives); ``files_only_under``: the
    files under that folder keep their owner."""
    for folder, dirs, files in os.walk(top):
        os.chown(folder, uid, gid)
        for name in [*dirs, *files]:
            path = Path(folder) / name
            if (
                files_only_under is not None
                and path.is_file()
                and path.is_relative_to(files_only_under)
            ):
                continue
            os.chown(path, uid, gid, follow_symlinks=False)


def _one_line(err: str) -> str:
    """The one error line of ``err``, past the progress lines (no terminal: one a phase)."""
    lines = [line for line in err.splitlines() if line.strip() and "elapsed" not in line]
    assert "Traceback" not in err and len(lines) == 1, err
    return lines[0]


@pytest.mark.skipif(not ROOT, reason="only root can leave a file another user owns")
def test_after_a_sudo_ingest_the_error_names_roots_file_and_the_chown_that_fixes_it(
    shared_tmp: Path,
) -> None:
    """The incident as it happens: the service user's data dir, one ingest as root, the
    next as the service user. The sentence names the root-owned file and the fix, and the
    fix it gives works."""
    uid, gid = _service_user()
    data = shared_tmp / "data"
    data.mkdir()
    os.chown(data, uid, gid)  # the data dir itself stays the service user's, writable
    ingest_paths(data, [_files(shared_tmp / "first", R1)])  # `sudo etl-duck ingest`
    assert (data / ".writer.lock").stat().st_uid == 0
    later = _files(shared_tmp / "later", R2)
    done = _as_service_user(shared_tmp, "--data-dir", "data", "ingest", later)
    user = user_name(uid)
    assert done.returncode == 1, done
    assert _one_line(done.stderr) == (
        "error: cannot write data/.writer.lock: permission denied — it belongs to root, not "
        f"to {user} (left by `sudo etl-duck …`?): run `sudo chown -R "
        f"{user} data` and retry; nothing is lost"
    )
    # with --verbose, the traceback too
    verbose = _as_service_user(shared_tmp, "--data-dir", "data", "-v", "ingest", later)
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr
    # the fix the sentence gives: then the same ingest lands, nothing lost
    _chown_tree(data, uid, gid)
    done = _as_service_user(shared_tmp, "--data-dir", "data", "ingest", later)
    assert done.returncode == 0 and done.stdout.startswith("1 ingested; lake version 2"), done


@pytest.mark.skipif(not ROOT, reason="only root can leave a file another user owns")
@pytest.mark.skipif(
    Path("/proc/sys/fs/protected_hardlinks").read_text().strip() != "1"
    if Path("/proc/sys/fs/protected_hardlinks").exists()
    else True,
    reason="fs.protected_hardlinks is off: a root-owned file can be linked",
)
def test_a_root_owned_parquet_file_that_protected_hardlinks_refuses_is_named(
    shared_tmp: Path,
) -> None:
    """Everything the service user's but the first snapshot's files (a chown of the folders
    only): the next commit links the unchanged partitions, and the kernel refuses to link
    a file of root's. The sentence names that file and its owner."""
    uid, gid = _service_user()
    data = shared_tmp / "data"
    ingest_paths(data, [_files(shared_tmp / "first", R1)])
    snapshot = (data / "lake").resolve()
    _chown_tree(data, uid, gid, files_only_under=snapshot)
    later = _files(shared_tmp / "later", OTHER_DATE)  # another date: 2026-03-14 is linked
    done = _as_service_user(shared_tmp, "--data-dir", "data", "ingest", later)
    line = _one_line(done.stderr)
    assert done.returncode == 1, done
    user = user_name(uid)
    assert line.startswith("error: cannot write ") and ": permission denied — " in line, line
    named = line.split(" — ")[1].split(" belongs to ")[0]
    assert named.startswith(f"data/.lake/{snapshot.name}/") and named.endswith(".parquet")
    assert (shared_tmp / named).stat().st_uid == 0  # the file named is root's indeed
    assert line.endswith(
        f"belongs to root, not to {user} (left by `sudo etl-duck …`?): "
        f"run `sudo chown -R {user} data` and retry; nothing is lost"
    ), line


def test_a_read_only_raw_folder_is_named_with_the_chmod_that_fixes_it(shared_tmp: Path) -> None:
    """A ``raw/<date>/`` folder this user owns but may not write (``chmod 555``): EACCES
    as with root's folder; the sentence names the folder, and chown would not help."""
    uid, gid = _service_user()
    data = shared_tmp / "data"
    ingest_paths(data, [_files(shared_tmp / "first", R1)])
    _chown_tree(data, uid, gid)
    (data / "raw" / "2026-03-14").chmod(0o555)
    later = _files(shared_tmp / "later", R2)
    done = _as_service_user(shared_tmp, "--data-dir", "data", "ingest", later)
    line = _one_line(done.stderr)
    assert done.returncode == 1, done
    assert line.startswith(f"error: cannot write data/raw/2026-03-14/{R2}: permission denied")
    assert line.endswith(
        f"— data/raw/2026-03-14 is not writable by {user_name(uid)}: run `chmod -R u+rwX "
        "data` and retry (or pass --data-dir)"
    ), line
    (data / "raw" / "2026-03-14").chmod(0o755)
    done = _as_service_user(shared_tmp, "--data-dir", "data", "ingest", later)
    assert done.returncode == 0 and done.stdout.startswith("1 ingested; lake version 2"), done


def test_the_sentence_names_the_nearest_folder_another_user_owns(tmp_path: Path) -> None:
    """The owner part without root: the files are this user's, asked as if by another
    uid. The path that failed is not there yet: the folder that would hold it is named."""
    from etl_duck.cli import data_dir_denied

    data = tmp_path / "data"
    (data / "raw" / "2026-03-14").mkdir(parents=True)
    me = os.geteuid()
    other = me + 1  # any uid but ours: every file here is "another user's" to it
    missing = data / "raw" / "2026-03-14" / R1
    said = data_dir_denied([str(missing)], data, other)
    head = f"cannot write {missing}: permission denied — {data}/raw/2026-03-14 belongs to "
    if me == 0:
        # root's data dir: what root left is chowned to the user who runs etl-duck
        assert said == (
            f"{head}root, not to {user_name(other)} (left by `sudo etl-duck …`?): run "
            f"`sudo chown -R {user_name(other)} {data}` and retry; nothing is lost"
        )
    else:
        # another user's data dir (a service's): run as him, never chown it away from him
        mine = user_name(me)
        sudo = mine if mine != str(me) else f"'#{me}'"
        assert said == (
            f"{head}{mine}, not to {user_name(other)}, as the data directory does: run "
            f"etl-duck as {mine} (`sudo -u {sudo} etl-duck …`) and retry, not a chown to "
            f"{user_name(other)} (it would lock {mine} out); nothing is lost"
        )
    # the file itself there: "it"; a link's source and target: the target failed
    (data / "raw" / ".incoming").mkdir()
    tmp = data / "raw" / ".incoming" / "x.tmp"
    tmp.write_bytes(b"")
    assert f"{tmp}: permission denied — it belongs to" in data_dir_denied([str(tmp)], data, other)
    said = data_dir_denied([str(tmp), str(missing)], data, other)
    assert said.startswith(f"cannot write {missing}: permission denied — {tmp} belongs to ")
    # all ours and writable: the data dir is named, as before
    assert data_dir_denied([str(missing)], data, me) == (
        f"cannot write {missing}: permission denied — the data directory {data} must be "
        f"writable by {user_name(me)} (or pass --data-dir)"
    )
    # a quoted data dir in the command
    odd = tmp_path / "my data"
    odd.mkdir()
    fix = f"`sudo chown -R {user_name(other)} '{odd}'`" if me == 0 else "`sudo -u "
    assert fix in data_dir_denied([str(odd / "x")], odd, other)


# --------------------------------------------------------------------------- 2. | head


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake with no open problem (`status` exits 0 when read to the end)."""
    data = tmp_path_factory.mktemp("pipe") / "data"
    ingest_paths(data, [FIXTURES / R1, FIXTURES / R2])
    return data


@pytest.mark.parametrize(
    "command",
    [
        ["status"],  # rich's console
        ["--help"],  # Typer's own console
        ["sessions"],
        ["status", "--json"],  # sys.stdout, flushed at the end
        ["lake-path"],  # print()
    ],
)
def test_a_reader_that_goes_away_stops_etl_duck_quietly(lake: Path, command: list[str]) -> None:
    """`etl-duck … | head`: the reader has closed the pipe before the first line (closed
    at once: every write fails, whatever the output's size). Exit 141 as `git log | head`
    (128 + SIGPIPE), nothing on stderr: no traceback, no "Exception ignored"."""
    assert EXE is not None
    args = [EXE, "--data-dir", str(lake), *command]
    _reader_goes_away(args, lake)
    # read to the end, the same command is done: 0
    done = subprocess.run(args, capture_output=True, env=_env(lake.parent), timeout=120)
    assert done.returncode == 0 and done.stdout and done.stderr == b"", done


def _reader_goes_away(args: list[str], lake: Path) -> None:
    """Run ``args`` with its stdout's reader gone before the first line: exit 141, nothing
    on stderr."""
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(lake.parent)
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141, err
    assert err == b""


def test_an_export_to_a_reader_that_goes_away_stops_quietly(lake: Path) -> None:
    """`etl-duck export … --out /dev/stdout | head`: the write to the closed pipe is the
    reader gone (141, nothing on stderr), not "cannot write /dev/stdout" (exit 1)."""
    assert EXE is not None
    args = [EXE, "--data-dir", str(lake), "export", "player_totals", "--out", "/dev/stdout"]
    _reader_goes_away(args, lake)
    done = subprocess.run(args, capture_output=True, env=_env(lake.parent), timeout=120)
    assert done.returncode == 0 and done.stdout.count(b"\n") >= 2, done


def test_head_one_through_a_shell_pipe(lake: Path) -> None:
    """The operator's own line, `set -o pipefail`: head took its line, etl-duck was quiet
    (141 when head left before the rest was written, 0 when it all fit the pipe first)."""
    assert EXE is not None
    line = f"set -o pipefail; '{EXE}' --data-dir '{lake}' status | head -1"
    done = subprocess.run(
        ["bash", "-c", line], capture_output=True, text=True, env=_env(lake.parent), timeout=120
    )
    assert done.stdout.strip().startswith("etl-duck lake at") and done.stderr == "", done
    assert done.returncode in (0, 141), done


# --------------------------------------------------------------------------- 3. --accept


def test_accepting_a_file_with_nothing_to_accept_says_so_and_exits_2(
    cli: Cli, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    code, out, _ = cli("--data-dir", data, "ingest", FIXTURES / CLEAN, FIXTURES / CUT)
    assert code == 3 and "1 cut" in out, out
    code, out, err = cli("--data-dir", data, "resolve", CLEAN, "--accept")
    assert code == 2, (out, err)
    assert out == "0 ingested; lake version 1 (unchanged)"
    assert err == (
        f"resolve {CLEAN}: nothing changed — it has nothing to accept (no rejected line, no "
        "cut, no missing round 1 or 2; `etl-duck status` lists what is open)"
    )
    # accepting what there is to accept still settles it, exit 0 and nothing said
    code, out, err = cli("--data-dir", data, "resolve", CUT, "--accept")
    assert (code, err) == (0, ""), (out, err)
    code, out, _ = cli("--data-dir", data, "status")
    assert code == 0 and f"cut (accepted by an admin) {CUT}" in out, out
