"""`ingest`, `rebuild`, `status`, `resolve`, `check`, `lake-path`: the lake and its raw
store. Every problem is named (file, line, field, reason) and sets the exit code."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from etl_duck.cli.app import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    STATE,
    JsonFlag,
    app,
    console,
    err_console,
    fail,
    ingest_options,
    open_stats,
    print_json,
    require_lake,
)
from etl_duck.cli.progress import PhaseProgress

if TYPE_CHECKING:
    from collections.abc import Callable

    from etl_duck.ingest.options import IngestReport
    from etl_duck.lake.snapshot import Lake


#: what an endstats file without its round file means, and the fix (ingest and status)
MISSING_ROUND = (
    "its round's stats file is not in the lake although the server has written later "
    "rounds, so its awards and duels are not counted — the round file is missing from raw/ "
    "(or quarantined, see above): fetch or ingest it (its awards then count), or it was "
    "never written"
)
#: … while the round file may still be on its way (not a problem yet)
WAITING_ROUND = (
    "its round's stats file has not arrived yet (the server writes it a second or two "
    "later); the awards and duels count when it lands — nothing to do unless the server's "
    "next round comes first"
)

#: what a round file whose player lines are longer than the longest known layout means, and
#: the fix (its first 38 fields were read, the rest ignored: a note, the exit unchanged)
NEWER_WRITER = "a newer writer than this etl-duck knows: upgrade etl-duck to read its new fields"


def cut_fix(name: str) -> str:
    """What to do about a cut file (last line cut) whose server has written later rounds
    (the query layer's sentence, which the bot's /status shows too), as console markup."""
    from etl_duck.query.stats import cut_fix as said

    return escape(said(name))


def cut_said(name: str, why: str | None = None) -> str:
    """What a cut file (last line cut, no longer awaiting the rest) is, and its fix."""
    from etl_duck.query.stats import cut_said as said

    return escape(said(name, why))


def empty_fix(name: str) -> str:
    """What to do about a file that arrived with 0 bytes."""
    from etl_duck.query.stats import empty_fix as said

    return escape(said(name))


def print_report(report: IngestReport) -> int:
    """The summary, then every problem on a line of its own; returns the exit code."""
    console.print(escape(report.summary()), highlight=False)
    if report.reparsed:
        console.print(
            "  [dim]note[/dim] the lake was derived by an older parser: every file was read "
            "again from raw/",
            soft_wrap=True,
        )
    if report.settings_changed:  # not a problem (the settings given win), but said
        from etl_duck.ingest.derived import rederived_note

        console.print(
            f"  [yellow]note[/yellow] {escape(rederived_note(report.settings_changed))}",
            soft_wrap=True,
            highlight=False,
        )
    for name, reason in sorted(report.quarantined.items()):
        console.print(f"  [red]quarantined[/red] {escape(reason)}", soft_wrap=True)
        if not reason.startswith(name):
            console.print(f"    ({escape(name)})")
    for _, reason in sorted(report.conflicts.items()):
        console.print(f"  [red]conflict[/red] {escape(reason)}", soft_wrap=True)
    for line in report.rejected:
        console.print(f"  [yellow]rejected line[/yellow] {escape(line)}", soft_wrap=True)
    for path, why in sorted(report.skipped.items()):
        console.print(f"  [yellow]skipped[/yellow] {escape(path)}: {escape(why)}", soft_wrap=True)
    for name in report.partial:
        console.print(
            f"  [yellow]partial[/yellow] {escape(name)}: the last line is cut (copied while "
            "the server wrote it?); not counted until the whole file arrives, or its server "
            "writes a later round (then its complete lines count, the rest stays missing)",
            soft_wrap=True,
        )
    for name in report.cut:
        console.print(f"  [yellow]cut[/yellow] {escape(name)}: {cut_said(name)}", soft_wrap=True)
    for name in report.empty:
        console.print(
            f"  [yellow]empty[/yellow] {escape(name)}: 0 bytes (the writer had not written "
            f"yet, or the copy failed); recorded, nothing counts — {empty_fix(name)}",
            soft_wrap=True,
        )
    for name in report.endstats_without_round:
        console.print(
            f"  [yellow]endstats without their round[/yellow] {escape(name)}: {MISSING_ROUND}",
            soft_wrap=True,
        )
    for name in report.endstats_waiting:  # not a problem (yet): its round may be on its way
        console.print(
            f"  [dim]waiting[/dim] {escape(name)}: {WAITING_ROUND}", soft_wrap=True, highlight=False
        )
    for name, note in sorted(report.round_notes.items()):  # not a problem: a newer writer
        console.print(
            f"  [yellow]note[/yellow] {escape(name)}: {escape(note)} — {NEWER_WRITER}",
            soft_wrap=True,
        )
    for name, note in sorted(report.endstats_notes.items()):  # not a problem: an old writer
        console.print(f"  [dim]note[/dim] {escape(name)}: {escape(note)}", soft_wrap=True)
    return EXIT_PARTIAL if report.problems else EXIT_OK


def _interruptible(work: Callable[[], IngestReport]) -> IngestReport:
    """Run an ingest; on Ctrl-C say what state the lake is in and how to finish."""
    from etl_duck.lake.snapshot import Lake

    try:
        return work()
    except KeyboardInterrupt:
        version = Lake(STATE.data_dir).version()
        err_console.print(
            f"interrupted — the lake is at version {version} (a commit is all or nothing); "
            "run the same command again to finish",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None


def follow_said(data_dir: Path, exc: Exception) -> str:
    """The sentence for team corrections a CLI commit could not move to their sessions'
    new ids (``pipeline.follow_teams``): the file, why and the fix; the commit stands.
    `etl-duck ingest` with no files follows them again (it runs the follow even when it
    commits nothing), and so does the bot when it runs."""
    import os
    import sqlite3

    from etl_duck.botstate import state_path
    from etl_duck.cli import data_dir_denied

    path = state_path(data_dir)
    what = (
        "warning: the /set_teams corrections of sessions a late round gave an earlier id "
        "were not moved with them, so `etl-duck session` shows the detected teams until "
        "`etl-duck ingest` (no files needed) or the bot moves them"
    )
    name = getattr(exc, "sqlite_errorname", "") if isinstance(exc, sqlite3.Error) else ""
    if name.startswith("SQLITE_BUSY"):
        return (
            f"{what}: {path} stayed locked by another process (the bot?) past the wait — "
            "run `etl-duck ingest` again; the commit stands"
        )
    if isinstance(exc, PermissionError) or name.startswith(
        ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")
    ):
        # the file, its -wal (another user's after a `sudo etl-duck …`) or state/
        denied = data_dir_denied([f"{path}-wal", str(path)], data_dir, os.geteuid())
        return f"{what}: {denied}"
    return f"{what}: {path}: {exc} — fix it and run `etl-duck ingest`; the commit stands"


def _follow_teams(code: int, report: IngestReport | None = None) -> int:
    """After a commit (or none): move the team corrections to their sessions' new ids;
    when that fails, one sentence on stderr and never 0 (``session`` shows the wrong teams
    until they move: an open problem), ``code`` otherwise. The commit stands either way."""
    from etl_duck.cli.app import settings
    from etl_duck.pipeline import follow_teams

    try:
        follow_teams(STATE.data_dir, settings().stats, report)
    except Exception as exc:  # never fail (or undo) the commit for it
        err_console.print(escape(follow_said(STATE.data_dir, exc)), highlight=False, soft_wrap=True)
        return EXIT_PARTIAL if code == EXIT_OK else code
    return code


def _teams_not_moved(data_dir: Path) -> str | None:
    """The open problem a failed follow of the team corrections left (``pipeline``'s
    marker), for `status`; None when none is pending."""
    from etl_duck.pipeline import FOLLOW_PENDING

    if not (data_dir / FOLLOW_PENDING).exists():
        return None
    return (
        "the /set_teams corrections of sessions a late round gave an earlier id were not "
        "moved with them (the bot-state file could not be written), so `etl-duck session` "
        "shows the detected teams — make state/bot.sqlite3 writable and run `etl-duck "
        "ingest` (no files needed), or start the bot"
    )


def _one_server(value: str) -> str:
    from etl_duck.domain.sources import check_server_name

    try:
        return check_server_name(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Stats files or folders of them (none: commit what an interrupted ingest "
            "left stored)."
        ),
    ] = None,
    server: Annotated[
        str,
        typer.Option(
            "--server",
            help="The game server that wrote them (`main`: the first one).",
            callback=_one_server,
        ),
    ] = "main",
    new_server: Annotated[
        bool,
        typer.Option(
            "--new-server",
            help="--server names a server the lake has not seen and the settings do not "
            "list (files copied by hand): start it (its name stays with its rounds).",
        ),
    ] = False,
) -> None:
    """Ingest stats files into the lake (one commit for the whole batch). Files named
    YYYY-MM-DD-HHMMSS-<map>-round-<N>.txt are read; anything else is skipped and named."""
    from etl_duck.ingest.run import ingest_paths

    paths = paths or []
    missing = [p for p in paths if not p.exists()]
    if missing:
        fail(f"no such file or folder: {', '.join(map(str, missing))}", EXIT_USAGE)
    if not new_server:
        _known_server(server)
    bare = _empty_folders(paths)
    with PhaseProgress() as progress:
        report = _interruptible(
            lambda: ingest_paths(STATE.data_dir, paths, ingest_options(), progress, server=server)
        )
    code = _follow_teams(print_report(report), report)
    for folder in bare:  # input that was empty: never exit 0 (README "Exit codes")
        err_console.print(
            f"no stats files found under {escape(str(folder))}: the folder holds no files "
            "(hidden ones aside) — check the path, or put the server's "
            "YYYY-MM-DD-HHMMSS-<map>-round-<N>.txt files in it",
            highlight=False,
            soft_wrap=True,
        )
    raise typer.Exit(EXIT_PARTIAL if bare else code)


def _known_server(server: str) -> None:
    """Refuse a ``--server`` that is neither configured nor in raw/ already, unless
    ``--new-server`` says it is meant: a server's name is part of its rounds for good, and
    the right name could never take the files back (its copies are duplicates; review
    126: a typo `scrm` kept 18 rounds away from `scrim`'s sessions)."""
    from etl_duck.cli.app import settings
    from etl_duck.domain.sources import MAIN, MAIN_LABEL
    from etl_duck.lake.rawstore import RAW

    if server == MAIN:
        return
    configured = [src.name for src in settings().servers]
    if server in configured or (STATE.data_dir / RAW / server).is_dir():
        return
    raw = STATE.data_dir / RAW
    # raw/'s server folders (its date folders start with a digit): the right name, often
    held = sorted(
        d.name
        for d in (raw.iterdir() if raw.is_dir() else ())
        if d.is_dir() and d.name[:1].isalpha() and d.name not in configured
    )
    also = f", and the lake holds {', '.join(held)}" if held else " and the lake holds no other"
    fail(
        f"no game server {server!r}: the configured ones are "
        f"{', '.join([MAIN_LABEL, *configured])}{also} — check the spelling, or add "
        "--new-server to start it (a server's name stays with its rounds for good)",
        EXIT_USAGE,
    )


def _empty_folders(paths: list[Path]) -> list[Path]:
    """The folders among ``paths`` the ingest finds no file in (what it reads: hidden entries
    skipped, links followed). A folder it cannot list is not one: the ingest names it."""
    from etl_duck.ingest.admit import expand

    out: list[Path] = []
    for path in paths:
        unreadable: dict[str, str] = {}
        if path.is_dir() and not expand([path], unreadable) and not unreadable:
            out.append(path)
    return out


@app.command()
def rebuild(
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Rebuild even when raw/ lacks files the lake holds (they are lost from the "
            "lake), or a newer etl-duck wrote the lake (a deliberate downgrade).",
        ),
    ] = False,
) -> None:
    """Recreate the lake from data/raw alone (the versions the ledger counts, the choices
    admins made); repairs a damaged lake. Refused when raw/ lacks files the lake holds, or
    a newer etl-duck wrote the lake."""
    from etl_duck.ingest.run import rebuild as rebuild_lake

    with PhaseProgress() as progress:
        report = _interruptible(
            lambda: rebuild_lake(STATE.data_dir, ingest_options(), progress=progress, force=force)
        )
    code = _follow_teams(print_report(report))
    if report.committed:
        code = _forget_copies(code)
    raise typer.Exit(code)


def _forget_copies(code: int) -> int:
    """After a rebuild: the fetch forgets which files were copies of content in raw/ (the
    rebuilt lake may no longer hold it); a record it cannot write is one sentence and
    never 0 (a copy could stay out of the lake)."""
    import sqlite3

    from etl_duck.fetch.looks import forget_duplicates, looks_path

    try:
        forget_duplicates(STATE.data_dir)
    except (sqlite3.Error, OSError) as exc:
        err_console.print(
            escape(
                f"warning: cannot update {looks_path(STATE.data_dir)} ({exc}): files the fetch "
                "found to be copies of others are not downloaded again, though the rebuilt "
                "lake may no longer hold what they copied — fix its permissions (or remove "
                "it) and run `etl-duck rebuild` again"
            ),
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_PARTIAL if code == EXIT_OK else code
    return code


def _endstats_files(names: list[str]) -> str:
    """`2 endstats files wait for their round file (awards not counted yet): A, B`."""
    n = len(names)
    files, wait, their = ("files", "wait", "their") if n > 1 else ("file", "waits", "its")
    listed = ", ".join(escape(name) for name in names)
    return f"{n} endstats {files} {wait} for {their} round file (awards not counted yet): {listed}"


@app.command()
def status(as_json: JsonFlag = False) -> None:
    """Lake version, sessions, rounds, players, dates — and every open problem:
    quarantined files, version conflicts, rejected lines, cut (partial) and empty files,
    leftovers, endstats files whose round file is missing, recent round 2s without their
    round 1 (older ones are listed)."""
    raise typer.Exit(show_status(as_json))


def show_status(as_json: bool = False) -> int:
    """Print the status; returns the exit code (3 while problems are open)."""
    from etl_duck.cli.app import settings
    from etl_duck.domain.sources import label as server_label
    from etl_duck.ingest.future import is_future_reason
    from etl_duck.lake.rawaudit import disk_problems
    from etl_duck.lake.snapshot import WRITER_LOCK, Lake
    from etl_duck.query.stats import ORPHAN_OPEN_DAYS, with_configured

    info = open_stats().status()
    # an ingest in progress, an interrupted one's leftovers, raw/ against the ledger (the
    # bot's /status says the same)
    info.update(disk_problems(STATE.data_dir))
    lake = Lake(STATE.data_dir)
    info.update(_derivation(lake))
    from etl_duck.fetch.looks import trouble

    info["fetch_looks"] = trouble(STATE.data_dir)  # the fetch's record of looks, if unusable
    info["teams_not_moved"] = _teams_not_moved(STATE.data_dir)
    # an interrupted ingest's leftovers are a problem too: the next ingest must run
    # an endstats file still waiting for its round is named but no problem while the round
    # file may be on its way; once the server has written later rounds it is missing
    problems = any(
        info[k]
        for k in (
            "quarantined", "conflicts", "rejected", "partial", "cut", "empty", "leftovers",
            "endstats_without_round", "newer_lake", "fetch_looks", "teams_not_moved", "raw",
        )
    ) or any(o["open"] for o in (*info["orphans"], *info["replayed"]))  # fmt: skip
    # a line per game server only with several: one server's numbers are the lake's (a
    # single server's output, human and --json, stays as it was); named as people name
    # them (the main server `main`, as `sessions --json` and the exports write it). A
    # configured server with no round yet is listed too (its folder may be wrong), but is
    # no open problem: a server just added has none
    servers = with_configured(
        info.pop("servers"), [src.server_name for src in settings().sources()]
    )
    if len(servers) > 1:
        info["servers"] = [{**row, "server": server_label(row["server"])} for row in servers]
    if as_json:
        print_json(info)
        return EXIT_PARTIAL if problems else EXIT_OK
    t = Table(show_header=False, title=f"etl-duck lake at {STATE.data_dir}")
    for key, label in (("version", "lake version"), ("sessions", "sessions"),
                       ("rounds", "rounds (files)"), ("counted_rounds", "counted rounds"),
                       ("player_rounds", "player rows"), ("players", "players"),
                       ("first_date", "first session"), ("last_date", "last session"),
                       ("files", "files in the ledger"),
                       ("raw_files", "files in raw/")):  # fmt: skip
        value = info.get(key)
        t.add_row(label, "—" if value is None else str(value))
    for reason, n in info["excluded"].items():
        t.add_row(f"not counted: {reason}", str(n))
    console.print(t)
    for row in info.get("servers", ()):  # one line each, never wrapped: `grep '^server '`
        console.print(_server_line(row), soft_wrap=True, highlight=False)
    for name, reason in info["quarantined"].items():
        # the reason names the file already ("name:line: field: why")
        said = reason if reason.startswith(name) else f"{name}: {reason}"
        if is_future_reason(reason):  # dated ahead of the clock: the reason says the fix
            console.print(f"[red]quarantined[/red] {escape(said)}", soft_wrap=True)
            continue
        # a bad name cannot be corrected under the same name: the copy is another file
        fix = (
            "ingest a copy under its right name"
            if "file name:" in reason
            else "a corrected copy ingested later is offered as a version to keep"
        )
        console.print(
            f"[red]quarantined[/red] {escape(said)} — {fix}; after an upgrade or a fix, "
            f"{_retry(name)} reads it again (so does ingesting the file again); `etl-duck "
            f"resolve {escape(name)} --dismiss` leaves it out",
            soft_wrap=True,
        )
    for key, reason in info["conflicts"].items():
        console.print(f"[red]conflict[/red] {escape(key)}: {escape(reason)}", soft_wrap=True)
    for line in info["rejected"]:
        name = line.split(":", 1)[0]
        console.print(
            f"[yellow]rejected line[/yellow] {escape(line)} — the rest of its round counts "
            "unless the round is partial; a corrected copy of the file, ingested, is offered "
            f"as a version to keep; `etl-duck resolve {escape(name)} --accept` accepts the "
            "file as it is",
            soft_wrap=True,
        )
    for line in info["rejected_accepted"]:
        console.print(f"rejected line (accepted by an admin) {escape(line)}", soft_wrap=True)
    for name in info["partial"]:
        console.print(
            f"[yellow]partial (last line cut)[/yellow] {escape(name)} — counts from the next "
            "round of its server on, short of the lines after the cut; the whole file, "
            f"ingested, replaces it — {cut_fix(name)}",
            soft_wrap=True,
        )
    for name, why in info["cut"].items():
        console.print(
            f"[yellow]cut (last line)[/yellow] {escape(name)} — {cut_said(name, why)}",
            soft_wrap=True,
        )
    for name, why in info["cut_accepted"].items():
        counts = {
            None: "its complete lines count",
            "partial": "counts from the next round of its server on",
        }.get(why, f"nothing of it counts: {why}")
        console.print(
            f"cut (accepted by an admin) {escape(name)} — {escape(counts)}; the lines after "
            "the cut are missing",
            soft_wrap=True,
        )
    for name in info["empty"]:
        console.print(
            f"[yellow]empty[/yellow] {escape(name)} — 0 bytes arrived, nothing of it counts "
            f"— {empty_fix(name)}",
            soft_wrap=True,
        )
    for kind, said, rows in (
        ("round 2 without its round 1", "not counted: ", info["orphans"]),
        ("round 1 replayed without its round 2", "", info["replayed"]),
    ):
        for o in rows:
            if o["accepted"]:
                label = f"{kind} (accepted by an admin)"
            elif o["open"]:
                label = f"[yellow]{kind}[/yellow]"
            else:
                label = (
                    f"{kind} (over {ORPHAN_OPEN_DAYS} days before its server's latest round: "
                    "listed, no open problem)"
                )
            console.print(f"{label} {escape(o['file'])} — {said}{escape(o['fix'])}", soft_wrap=True)
    for name, why in info["dismissed_reasons"].items():
        version = why.rsplit("(version ", 1)[-1].rstrip(")") if "(version " in why else "VERSION"
        console.print(
            f"dismissed {escape(name)} — set aside by an admin; `etl-duck resolve "
            f"{escape(name)} --keep {escape(version)}` counts it again",
            soft_wrap=True,
        )
    for line in info["leftovers"]:
        console.print(f"[yellow]leftover[/yellow] {escape(line)}", soft_wrap=True)
    for line in info["raw"]:
        console.print(f"[red]raw/ vs ledger[/red] {escape(line)}", soft_wrap=True, highlight=False)
    if info["newer_lake"]:
        console.print(
            f"[red]newer lake[/red] the lake was written by a newer etl-duck "
            f"({escape(info['newer_lake'])}): this installation reads it but writes nothing "
            "(ingest, fetch, resolve and the bot's fetch fail) — upgrade this installation "
            "(or run the newer one)",
            soft_wrap=True,
            highlight=False,
        )
    if info["fetch_looks"]:
        console.print(
            f"[red]fetch looks[/red] {escape(info['fetch_looks'])}", soft_wrap=True, highlight=False
        )
    if info["teams_not_moved"]:
        console.print(
            f"[red]team corrections[/red] {escape(info['teams_not_moved'])}",
            soft_wrap=True,
            highlight=False,
        )
    if info["reread_due"]:  # no problem: the next ingest does it by itself
        console.print(
            f"[dim]re-read due[/dim] {escape(info['reread_due'])} (one commit, as long as "
            "`etl-duck rebuild`)",
            soft_wrap=True,
            highlight=False,
        )
    if changed := info["settings_differ"]:
        from etl_duck.ingest.derived import changes

        console.print(
            f"[yellow]settings differ[/yellow] the lake was derived under other settings than "
            f"this command's (the lake's → these: {escape(changes(changed))}): an ingest run "
            "like this one "
            "derives every partition again — run etl-duck where the lake's settings are set "
            "(`.env` is read from the working directory), or this is a change you meant",
            soft_wrap=True,
            highlight=False,
        )
    if info["ingest_in_progress"]:
        console.print(
            "an ingest is in progress (another process holds "
            f"{escape(str(lake.data_dir / WRITER_LOCK))}: the bot's fetch or an `etl-duck "
            "ingest`): what it has stored "
            "but not committed yet is its work, not a crash's leftovers — run `etl-duck "
            "status` again once it is done",
            soft_wrap=True,
            highlight=False,
        )
    if missing := info["endstats_without_round"]:
        console.print(
            f"[yellow]endstats without their round[/yellow] {_endstats_files(missing)} — "
            "the server has written later rounds, so the round's stats file is missing from "
            "raw/ (or quarantined, see above): fetch or ingest it (the awards then count), or "
            "it was never written",
            soft_wrap=True,
            highlight=False,
        )
    if waiting := info["endstats_waiting"]:
        console.print(
            f"[dim]waiting[/dim] {_endstats_files(waiting)} — the server writes the round's "
            "stats file a second or two after it: nothing to do, the next fetch brings it "
            "(a problem only if the server's next round comes first)",
            soft_wrap=True,
            highlight=False,
        )
    if twice := info["excluded"].get("second_writer"):
        console.print(
            f"[yellow]two stats scripts[/yellow] {twice} round files are a second, older "
            "script's copies of rounds the current script wrote too (not counted) — load "
            "one stats script in the game server's Lua config",
            soft_wrap=True,
        )
    if not problems:
        console.print("no open problems")
    return EXIT_PARTIAL if problems else EXIT_OK


def _server_line(row: dict[str, Any]) -> str:
    """One game server's line of `status` (a row of ``Stats.status()["servers"]``, its
    name labelled): its rounds and when its latest one ended, on its clock."""
    from datetime import datetime

    from etl_duck.domain.sources import check_server_name
    from etl_duck.query.stats import no_round_said

    name = row["server"]
    if not row["rounds"]:  # a configured server the lake has no round of: the fix
        return f"server {escape(name)}: {escape(no_round_said(check_server_name(name)))}"
    last = row["last_round"]
    when = "—" if last is None else f"{datetime.fromisoformat(last):%Y-%m-%d %H:%M}"
    return (
        f"server {escape(name)}: {row['rounds']} rounds "
        f"({row['counted_rounds']} counted), last round {when}"
    )


def _derivation(lake: Lake) -> dict[str, Any]:
    """What the lake was derived by and under, against this installation and the settings
    of this command (``status``): a newer etl-duck's lake (a problem: nothing is written),
    a re-read an upgrade makes due, settings an ingest from here would change."""
    from etl_duck.ingest.derived import lake_options, newer, reread_due, settings_changed

    options = lake_options(lake, quiet=True)
    ahead = newer(options)
    return {
        "newer_lake": ahead,
        "reread_due": None if ahead else reread_due(options),
        "settings_differ": {} if ahead else settings_changed(options, ingest_options()),
    }


def _retry(name: str) -> str:
    """The command that reads a quarantined file again: keep the version that counts."""
    from etl_duck.lake.rawstore import RawStore

    choice = RawStore(STATE.data_dir).decide(name)
    version = choice.counted.id if choice is not None else "ID"
    return f"`etl-duck resolve {escape(name)} --keep {escape(version)}`"


@app.command()
def resolve(
    name: Annotated[str, typer.Argument(help="The round file name (as `status` lists it).")],
    keep: Annotated[
        str | None, typer.Option(help="The version to count (its id, as `status` shows it).")
    ] = None,
    dismiss: Annotated[
        bool,
        typer.Option("--dismiss", help="Set the file aside: it stays out of the lake.", metavar=""),
    ] = False,
    accept: Annotated[
        bool,
        typer.Option(
            "--accept",
            help="Accept the version that counts as it is: its rejected lines, its cut "
            "(last line) or its missing round 1 are no open problem.",
            metavar="",
        ),
    ] = False,
) -> None:
    """Settle a version conflict, a quarantined, empty or cut file, a file's rejected lines or
    a round 2 without its round 1; recorded in raw/, so a rebuild makes the same choice."""
    from etl_duck.domain.endstats import is_endstats_file_name
    from etl_duck.domain.parse import FILE_NAME_PATTERN, is_stats_file_name
    from etl_duck.domain.sources import split
    from etl_duck.ingest.run import resolve as resolve_name

    if sum((keep is not None, dismiss, accept)) != 1:
        fail("give exactly one of --keep VERSION, --dismiss or --accept", EXIT_USAGE)
    if not (is_stats_file_name(split(name)[0]) or is_endstats_file_name(split(name)[0])):
        fail(
            f"{name!r} is not a round file name ({FILE_NAME_PATTERN}): copy it from "
            "`etl-duck status`",
            EXIT_USAGE,
        )
    report = resolve_name(
        STATE.data_dir, name, keep=keep, dismiss=dismiss, accept=accept, options=ingest_options()
    )
    code = _follow_teams(print_report(report))
    still_open = report.problems
    if accept and not (report.committed or report.unchanged):
        # the marker was written, but it may accept nothing the status shows
        report.unchanged, still_open = _nothing_accepted(name, open_stats().status())
    if report.unchanged:  # never exit 0 for nothing: 3 while a problem stays, else a mistake
        err_console.print(escape(report.unchanged), highlight=False, soft_wrap=True)
        code = EXIT_PARTIAL if still_open else EXIT_USAGE
    raise typer.Exit(code)


def _nothing_accepted(name: str, info: dict[str, Any]) -> tuple[str, bool]:
    """After `resolve NAME --accept` that committed nothing: the sentence that says it
    changed nothing ("" when the status, ``info``, shows something of ``name`` accepted
    now: its rejected lines, its cut, a missing round 1 or 2) and whether a problem of
    ``name`` stays open. A file with nothing to accept exited 0, as if settled."""
    if _accepted_in(name, info):
        return "", False
    still_open = _open_in(name, info)
    why = (
        "--accept settles none of its open problems (`etl-duck status` names their fix)"
        if still_open
        else "it has nothing to accept (no rejected line, no cut, no missing round 1 or 2; "
        "`etl-duck status` lists what is open)"
    )
    return f"resolve {name}: nothing changed — {why}", still_open


def _accepted_in(name: str, info: dict[str, Any]) -> bool:
    """Whether the status lists something of ``name`` as accepted by an admin."""
    return (
        any(line.startswith(f"{name}:") for line in info["rejected_accepted"])
        or name in info["cut_accepted"]
        or any(o["file"] == name and o["accepted"] for o in (*info["orphans"], *info["replayed"]))
    )


def _open_in(name: str, info: dict[str, Any]) -> bool:
    """Whether the status lists an open problem of ``name``."""
    return (
        name in info["quarantined"]
        or any(key.startswith(f"{name}@") for key in info["conflicts"])
        or any(line.startswith(f"{name}:") for line in info["rejected"])
        or name in info["partial"]
        or name in info["cut"]
        or name in info["empty"]
        or name in info["endstats_without_round"]
        or any(o["file"] == name and o["open"] for o in (*info["orphans"], *info["replayed"]))
    )


@app.command()
def check() -> None:
    """Verify every file of the current snapshot against the checksums in its manifest, and
    raw/ (the source of truth) against the lake's ledger of files, both ways."""
    from etl_duck.lake.rawaudit import RawAudit, raw_audit, raw_problems
    from etl_duck.lake.snapshot import Lake, verify

    manifest, damages = verify(Lake(STATE.data_dir))
    audit: RawAudit | None = None
    try:
        audit = raw_audit(STATE.data_dir)
        problems = raw_problems(audit, STATE.data_dir)
    except Exception:  # a damaged ledger: named with the damage, rebuild repairs it
        if not damages:
            raise
        problems = ["the ledger is damaged (above), so raw/ was not compared"]
    for d in damages:
        where = (
            f"an intact copy of an older version is at {d.intact_copy}"
            if d.intact_copy
            else "no older snapshot holds an intact copy"
        )
        err_console.print(f"[red]damaged[/red] {d.file}: {d.problem}; {where}", soft_wrap=True)
    for line in problems:
        err_console.print(
            f"[red]raw/ vs ledger[/red] {escape(line)}", soft_wrap=True, highlight=False
        )
    if damages:
        fail(
            f"{len(damages)} damaged file(s) in lake version {manifest.version}: run `etl-duck "
            "rebuild` to recreate the lake from raw/ (the source of truth)"
        )
    matched = (
        f"lake version {manifest.version}, {len(manifest.files())} files match their checksums"
    )
    if problems:
        differ = "could not be compared" if audit is not None and audit.unlisted else "differ"
        fail(f"{matched}, but raw/ and the lake's ledger {differ} (above)")
    held = "" if manifest.version == 0 else ", raw/ holds every file the ledger counts and no other"
    console.print(f"OK: {matched}{held}", soft_wrap=True)


@app.command("lake-path")
def lake_path(
    lease: Annotated[
        float, typer.Option(help="Seconds the snapshot is held for you (renew by asking again).")
    ] = 600.0,
    holder: Annotated[
        str | None,
        typer.Option(
            help="Name the lease (letters, digits, _ and -): asking again with the same name, "
            "from any process, lets the snapshots it held before go within a minute.",
        ),
    ] = None,
) -> None:
    """Print the current snapshot's folder, held for a while: read it from a notebook or
    another process (`read_parquet('<path>/player_rounds/**/*.parquet')`) and every file
    belongs to one commit."""
    import math

    from etl_duck import snapshot_path
    from etl_duck.lake.snapshot import HOLDER_MAX, Lake, valid_holder_name

    if not (math.isfinite(lease) and 0 < lease <= 7 * 86400):
        fail(f"--lease {lease}: give seconds above 0, up to a week (604800)", EXIT_USAGE)
    if holder is not None and not valid_holder_name(holder):
        fail(
            f"--holder {holder!r}: give a name of 1-{HOLDER_MAX} letters, digits, '_' or '-' "
            "(the same one each time you ask)",
            EXIT_USAGE,
        )
    require_lake()
    if holder is None:
        print(snapshot_path(STATE.data_dir, lease))
        return
    snap = Lake(STATE.data_dir).pin(lease, named=holder)
    if snap is None:
        fail(f"no lake at {STATE.data_dir / 'lake'}: run `etl-duck ingest`")
    print(snap)
