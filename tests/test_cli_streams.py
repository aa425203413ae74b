"""Stdout and stderr with ``PYTHONUNBUFFERED=1`` (Docker images, systemd units), through
the installed script (review 203):

- each was a raw file: one ``write`` call per text written, whose short count the text
  layer dropped. `etl-duck predictions --json > file` on a disk that filled kept 131,072
  of 345,801 bytes and exited 0; `… --json | head -1` exited 0, not 141. Every write is
  now whole or raises: exit 1 with one sentence, or 141, as without the setting;
- a small output to a full disk (`etl-duck --version > /dev/full`) ended in a traceback
  and exit 120 (the last flush, after the command): one sentence, exit 1.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from etl_duck.ingest.run import ingest_paths
from tests.conftest import FIXTURES, REAL
from tests.lakecheck import CLI_SETTINGS

EXE = shutil.which("etl-duck", path=str(Path(sys.executable).parent))
UNSHARE = shutil.which("unshare")
#: 24 files of fixtures/real, parsed: about 300 KB of JSON (a pipe holds 64 KiB)
ROUNDS = sorted(str(p) for p in REAL.glob("*.txt"))[:24]
PARSE = ["parse", *ROUNDS, "--json"]
#: the two settings of PYTHONUNBUFFERED: set (raw stdout and stderr), and not
MODES = pytest.mark.parametrize("unbuffered", [True, False], ids=["unbuffered", "buffered"])


def _env(home: Path, unbuffered: bool) -> dict[str, str]:
    """A subprocess's environment: none of the host's etl-duck settings, and
    PYTHONUNBUFFERED set or not (an empty value is "not set" to Python)."""
    env = {k: v for k, v in os.environ.items() if k not in CLI_SETTINGS}
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    return {**env, "HOME": str(home), "COLUMNS": "100"}


def _one_sentence(err: bytes) -> str:
    text = err.decode()
    assert "Traceback" not in text and "Exception ignored" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("streams") / "data"
    ingest_paths(data, [FIXTURES / n for n in sorted(os.listdir(FIXTURES))[:2]])
    return data


def test_the_output_is_over_a_pipes_size() -> None:
    assert len(ROUNDS) == 24  # else the tests below prove nothing


@MODES
def test_a_reader_that_leaves_mid_write_is_141(tmp_path: Path, unbuffered: bool) -> None:
    """The reader takes the first line and goes (`| head -1`): the rest of the write
    fails, and etl-duck stops quietly with 141. Unbuffered, the write's short count was
    taken for all of it: exit 0."""
    assert EXE is not None
    proc = subprocess.Popen(
        [EXE, *PARSE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(tmp_path, unbuffered),
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == b"[\n"  # the write has begun
    proc.stdout.close()  # the reader goes away
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141, err
    assert err == b""


@MODES
def test_head_one_through_a_shell_pipe_is_141(tmp_path: Path, unbuffered: bool) -> None:
    """The reviewer's line, `set -o pipefail`."""
    assert EXE is not None
    line = "set -o pipefail; " + " ".join(f"'{a}'" for a in [EXE, *PARSE]) + " | head -1"
    done = subprocess.run(
        ["bash", "-c", line], capture_output=True, env=_env(tmp_path, unbuffered), timeout=120
    )
    assert (done.returncode, done.stdout, done.stderr) == (141, b"[\n", b""), done.stderr


def _limit_file_size() -> None:  # in the child: `ulimit -f 64`
    resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))


@MODES
def test_output_past_the_file_size_limit_fails_with_one_sentence(
    tmp_path: Path, unbuffered: bool
) -> None:
    """A real short write, no root needed: RLIMIT_FSIZE (`ulimit -f`) stops stdout's file
    at 64 KiB. Exit 1, the file and the fix named; unbuffered, it was exit 0 and a JSON
    file cut at 64 KiB."""
    assert EXE is not None
    out = tmp_path / "p.json"
    with out.open("wb") as fh:
        done = subprocess.run(
            [EXE, *PARSE],
            stdout=fh,
            stderr=subprocess.PIPE,
            env=_env(tmp_path, unbuffered),
            timeout=120,
            preexec_fn=_limit_file_size,
        )
    assert done.returncode == 1, (out.stat().st_size, done.stderr)
    assert _one_sentence(done.stderr) == (
        f"error: cannot write standard output to {out}: larger than this user's file-size "
        "limit (ulimit -f) or the file system allows — raise the limit or send the output "
        "elsewhere"
    )


def _userns_tmpfs() -> bool:
    """Whether this system lets a user mount a tmpfs in a namespace of his own."""
    if UNSHARE is None:
        return False
    probe = [UNSHARE, "--user", "--map-root-user", "--mount", "sh", "-c",
             "mount -t tmpfs -o size=64k tmpfs /tmp"]  # fmt: skip
    return subprocess.run(probe, capture_output=True, timeout=30).returncode == 0


@MODES
def test_output_to_a_disk_that_fills_fails_with_one_sentence(
    tmp_path: Path, unbuffered: bool
) -> None:
    """The reviewer's case: stdout to a file on a 128 KiB tmpfs (mounted in a user and
    mount namespace, no root needed). Exit 1 and the sentence; unbuffered, it was exit 0
    and a 131,072-byte file."""
    if not _userns_tmpfs():
        pytest.skip("no user namespaces here (unshare --user --mount): no tmpfs to fill")
    assert EXE is not None and UNSHARE is not None
    disk = tmp_path / "disk"
    disk.mkdir()
    line = (
        f"mount -t tmpfs -o size=128k tmpfs '{disk}' && "
        + " ".join(f"'{a}'" for a in [EXE, *PARSE])
        + f" > '{disk}/p.json'"
    )
    done = subprocess.run(
        [UNSHARE, "--user", "--map-root-user", "--mount", "bash", "-c", line],
        capture_output=True,
        env=_env(tmp_path, unbuffered),
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert _one_sentence(done.stderr) == (
        f"error: cannot write standard output to {disk}/p.json: no space left on its disk — "
        "free some space or send the output elsewhere"
    )


@MODES
@pytest.mark.parametrize(
    "command", [PARSE, ["--version"], ["--help"]], ids=["big", "small", "rich"]
)
def test_output_to_dev_full_fails_with_one_sentence(
    tmp_path: Path, unbuffered: bool, command: list[str]
) -> None:
    """`> /dev/full`: every write fails (ENOSPC). A small output (left in the buffer until
    the last flush) was a traceback and exit 120."""
    assert EXE is not None
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [EXE, *command], stdout=full, stderr=subprocess.PIPE, env=_env(tmp_path, unbuffered),
            timeout=120,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert _one_sentence(done.stderr) == (
        "error: cannot write standard output to /dev/full: no space left on its disk — free "
        "some space or send the output elsewhere"
    )


@pytest.mark.parametrize("command", [PARSE, ["--help"], ["status"]], ids=lambda c: c[0])
def test_the_whole_output_is_the_same_either_way(
    lake: Path, tmp_path: Path, command: list[str]
) -> None:
    """Read to the end, stdout is the same bytes with PYTHONUNBUFFERED as without (rich's
    console, Typer's help and plain writes go through the new buffer), stderr empty."""
    assert EXE is not None
    args = [EXE, "--data-dir", str(lake), *command]
    runs = [
        subprocess.run(args, capture_output=True, env=_env(tmp_path, u), timeout=120)
        for u in (True, False)
    ]
    assert [(r.returncode, r.stderr) for r in runs] == [(0, b"")] * 2, runs[0].stderr
    assert runs[0].stdout == runs[1].stdout and len(runs[0].stdout) > 500
    if command is PARSE:
        assert len(runs[0].stdout) > 200_000


def test_an_export_to_stdout_on_a_full_device_names_the_file_stdout_goes_to(
    lake: Path, tmp_path: Path
) -> None:
    """`export --out /dev/stdout > FILE`: the sentence named /dev ("no space left on the
    disk of /dev"), not the file that filled."""
    assert EXE is not None
    args = [EXE, "--data-dir", str(lake), "export", "player_totals", "--out", "/dev/stdout"]
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            args, stdout=full, stderr=subprocess.PIPE, env=_env(tmp_path, False), timeout=120
        )
    assert done.returncode == 1, done.stderr
    assert _one_sentence(done.stderr) == (
        "error: cannot write /dev/stdout (the file standard output goes to: /dev/full): no "
        "space left on the disk of /dev — free space or choose another --out"
    )


def test_an_export_to_stdout_on_a_full_disk_names_that_disk(lake: Path, tmp_path: Path) -> None:
    if not _userns_tmpfs():
        pytest.skip("no user namespaces here (unshare --user --mount): no tmpfs to fill")
    assert EXE is not None and UNSHARE is not None
    disk = tmp_path / "disk"
    disk.mkdir()
    args = [EXE, "--data-dir", str(lake), "export", "player_totals", "--out", "/dev/stdout"]
    line = (
        f"mount -t tmpfs -o size=64k tmpfs '{disk}' && "
        f"(head -c 1M /dev/zero > '{disk}/filler' 2>/dev/null; "
        + " ".join(f"'{a}'" for a in args)
        + f" > '{disk}/p.csv')"
    )
    done = subprocess.run(
        [UNSHARE, "--user", "--map-root-user", "--mount", "bash", "-c", line],
        capture_output=True,
        env=_env(tmp_path, False),
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert _one_sentence(done.stderr) == (
        f"error: cannot write /dev/stdout (the file standard output goes to: {disk}/p.csv): "
        f"no space left on the disk of {disk} — free space or choose another --out"
    )
