"""The bodies of `etl-duck fetch` and `etl-duck watch`: the fetcher wired to the ingest
pipeline, with progress, one summary line per poll and the exit-code scheme."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from etl_duck.cli.app import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from etl_duck.domain.sources import label

if TYPE_CHECKING:
    from pathlib import Path

    from etl_duck.fetch.poller import FetchReport, Ingest
    from etl_duck.pipeline import Ingestor
    from etl_duck.settings import Settings


def report_lines(report: FetchReport) -> list[str]:
    lines = [report.summary()]
    lines += [f"  failed  {n}: {r}" for n, r in report.failed]
    lines += [f"  skipped {n}: {r}" for n, r in report.skipped]
    lines += [f"  empty   {n}: {_EMPTY_OLD}" for n in report.empty_old]
    if report.ingest_error:
        lines.append(f"  ingest  {report.ingest_error}")
    if report.looks_error:
        lines.append(f"  looks   {report.looks_error}")
    summary = getattr(report.ingest_result, "summary", None)
    if callable(summary):  # the real ingest's IngestReport
        lines.append(f"  ingest  {summary()}")
        if changed := getattr(report.ingest_result, "settings_changed", None):
            from etl_duck.ingest.derived import rederived_note

            lines.append(f"  note    {rederived_note(changed)}")
        lines += [f"    quarantined {n}: {r}" for n, r in report.ingest_result.quarantined.items()]  # type: ignore[attr-defined]
        lines += [f"    conflict {n}: {r}" for n, r in report.ingest_result.conflicts.items()]  # type: ignore[attr-defined]
        lines += [f"    rejected line {r}" for r in report.ingest_result.rejected]  # type: ignore[attr-defined]
    return lines


def worst(codes: list[int]) -> int:
    """The exit code of several servers' fetches: the most serious one."""
    order = (EXIT_USAGE, EXIT_FAILED, EXIT_PARTIAL, EXIT_OK)
    return min(codes, key=order.index) if codes else EXIT_OK


_EMPTY_OLD = (
    "0 bytes and older than fetch_stable_seconds: the game server's writer failed and the "
    "round is lost; fetched once it has content (delete it on the server if it never will)"
)


def exit_code(report: FetchReport) -> int:
    if not report.ok:
        # README: 1 is "failed: nothing was committed". A poll (or its retry) that
        # committed some files before others failed is 3, "committed, but some input was
        # skipped": the failed ones are named, the next run fetches them
        return EXIT_PARTIAL if report.committed else EXIT_FAILED
    problems = getattr(report.ingest_result, "problems", False)
    degraded = problems or report.skipped or report.empty_old or report.looks_error
    return EXIT_PARTIAL if degraded else EXIT_OK


def _ingest_for(
    settings: Settings, ingest: Ingest | None
) -> tuple[Callable[[str], Ingest], Ingestor | None]:
    """Each game server's ingest: the pipeline's, told the server (a test's plain callable
    is used as it is), and that Ingestor. A CLI writer's moves the team corrections after
    each commit (`watch`'s, made with a site updater, too): no bot may run to do it."""
    from etl_duck.pipeline import Ingestor

    if ingest is None:
        ingest = Ingestor.from_settings(settings, follow=True)
    if isinstance(ingest, Ingestor):
        if ingest.follow is None:
            ingest.follow = settings.stats
        return ingest.for_server, ingest
    plain = ingest
    return (lambda server: plain), None


def _follow_said(settings: Settings, ingestor: Ingestor | None) -> str | None:
    """The sentence for team corrections the last commit could not move (None: moved, or
    nothing to move)."""
    if ingestor is None or ingestor.follow_failure is None:
        return None
    from etl_duck.cli.lake import follow_said

    return follow_said(settings.data_dir, ingestor.follow_failure)


def _sources(settings: Settings) -> list[Settings]:
    # none configured: the main server's settings, whose check names what is missing
    return settings.sources() or [settings]


def run_fetch(settings: Settings, *, ingest: Ingest | None = None) -> int:
    """``etl-duck fetch``: one poll, with a progress bar for a backlog and a summary.

    Retries a connection lost mid-transfer a few times. Fetches every server even when one
    fails (its error is printed, after what it committed). Exit codes (README "Exit
    codes"), the worst of all servers: 0 done, 1 nothing committed (files or the ingest
    failed, server unreachable), 2 setup problem (host key, authentication, settings), 3
    committed but some input was quarantined, rejected, skipped, empty or not fetched (or
    the record of looks could not be used), 130 interrupted (nothing half-fetched or
    half-ingested).
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    from etl_duck.fetch.poller import Fetcher
    from etl_duck.fetch.sftp import (
        AuthError,
        FetchConfigError,
        FetchConnectionError,
        FetchError,
        HostKeyError,
    )

    out, err = Console(), Console(stderr=True)

    async def main() -> int:
        with Bar(
            TextColumn("fetching"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as bar:
            task: Any = None

            def on_progress(done: int, total: int) -> None:
                nonlocal task
                if total < 2:
                    return  # a bar only for a backlog
                if task is None:
                    task = bar.add_task("fetch", total=total)
                bar.update(task, completed=done, total=total)

            codes = []
            sources = _sources(settings)
            ingest_for, ingestor = _ingest_for(settings, ingest)
            for source in sources:  # one server after the other: a CLI run has time
                server = source.server_name
                prefix = f"{label(server)}: " if len(sources) > 1 else ""
                fetcher = Fetcher(source, ingest_for(server), progress=on_progress)
                report: FetchReport | None = None
                failure: FetchError | OSError | None = None
                async with fetcher:
                    task = None
                    try:
                        report = await fetcher.poll_once()
                        delay = settings.reconnect_backoff_s
                        for _ in range(3):
                            if not report.connection_lost:
                                break
                            await asyncio.sleep(delay)
                            delay *= 2
                            task = None
                            report = report.merge(await fetcher.poll_once())
                    except (FetchError, OSError) as exc:
                        # one server down (or a retry that cannot reconnect) stops neither
                        # the other servers nor the account of what was committed
                        failure = exc
                for line in report_lines(report) if report is not None else []:
                    out.print(prefix + line, markup=False, highlight=False, soft_wrap=True)
                if failure is None:
                    assert report is not None
                    codes.append(exit_code(report))
                    continue
                told = str(failure)
                if isinstance(failure, FetchConnectionError):  # the server, not the setup
                    told += "; the next run retries"
                err.print(
                    f"{escape(prefix)}[red]error:[/red] {escape(told)}",
                    highlight=False,
                    soft_wrap=True,
                )
                if isinstance(failure, (HostKeyError, AuthError, FetchConfigError)):
                    codes.append(EXIT_USAGE)
                else:  # committed before the retry failed: not "nothing was committed"
                    committed = report is not None and report.committed
                    codes.append(EXIT_PARTIAL if committed else EXIT_FAILED)
        # after every server's commit: the last one's follow is where the teams stand
        if (said := _follow_said(settings, ingestor)) is not None:
            err.print(said, markup=False, highlight=False, soft_wrap=True)
            codes.append(EXIT_PARTIAL)  # `session` shows the uncorrected teams: open
        return worst(codes)

    return run_async(main, err, settings.data_dir)


class WatchLines:
    """What `watch` prints: each poll that did something, each file it will never fetch
    (once), each file whose download fails (once for as long as it fails the same way),
    each failed poll and the recovery (without --verbose the warnings are not
    logged: an outage and a skipped file must still show)."""

    def __init__(self, out: Any, err: Any, *, several: bool = False) -> None:
        self.out, self.err, self.several = out, err, several
        self.told: set[tuple[str, str]] = set()  # skipped files already named
        #: files whose download failed and why, until one lands: a file that fails the
        #: same way poll after poll (permission denied) is named once, not every 10 s
        self.failing: dict[str, str] = {}

    def report(self, report: FetchReport) -> None:
        stamp = time.strftime("%H:%M:%S")
        news = [(n, r) for n, r in report.failed if self.failing.get(n) != r]
        self.failing.update(report.failed)  # per name: several servers report here
        for name in report.downloaded:  # it worked: failing again is news
            self.failing.pop(name, None)
        if report.downloaded or news or report.ingest_error:
            for line in report_lines(report):
                self.out.print(f"{stamp} {line}", markup=False, highlight=False, soft_wrap=True)
            self.told.update(report.skipped)  # named among those lines
            self.told.update((n, _EMPTY_OLD) for n in report.empty_old)
            if report.looks_error:
                self.told.add(("", report.looks_error))
            return
        for name, why in report.skipped:  # a file never fetched: say so, once
            if (name, why) not in self.told:
                self.told.add((name, why))
                self._err(f"{stamp} skipped {name}: {why}")
        for name in report.empty_old:  # a round lost by the writer (`fetch` exits 3): once
            if (name, _EMPTY_OLD) not in self.told:
                self.told.add((name, _EMPTY_OLD))
                self._err(f"{stamp} empty {name}: {_EMPTY_OLD}")
        if report.looks_error and ("", report.looks_error) not in self.told:  # once
            self.told.add(("", report.looks_error))
            self._err(f"{stamp} looks {report.looks_error}")

    def trouble(self, server: str, problem: str | None) -> None:
        who = f"{label(server)}: " if self.several else ""
        # None: a poll worked again (after an outage, or after the ingest kept failing)
        said = f"{who}fetching again" if problem is None else f"{who}{problem}"
        self._err(f"{time.strftime('%H:%M:%S')} {said}")

    def _err(self, line: str) -> None:
        self.err.print(line, markup=False, highlight=False, soft_wrap=True)


def run_watch(
    settings: Settings,
    *,
    ingest: Ingest | None = None,
    on_start: Callable[[], object] | None = None,
) -> int:
    """``etl-duck watch``: poll until Ctrl-C (or SIGTERM); exit 0 on a clean stop.

    ``on_start`` runs on the event loop before the first poll (``watch`` subscribes commit
    listeners there, e.g. the static site's rebuild).

    Polls faster while a session looks active: a poll saw the server write a round file
    within ``session_gap_minutes`` (by our clock; the bot passes its own voice-channel rule
    to ``watch``).
    The first Ctrl-C (or SIGTERM) stops at once while a poll lists or downloads (the
    downloads are in memory: abandoned, nothing stored, fetched again by the next run) or
    waits; a poll whose ingest has begun is let commit, and it says so. A second one
    interrupts that too (exit 130; still safe: nothing is ingested half, and the lake
    version printed is the one the lake is at once the ingest's thread has ended).
    """
    from rich.console import Console

    from etl_duck.fetch.group import FetcherGroup
    from etl_duck.fetch.poller import Fetcher
    from etl_duck.fetch.sftp import FetchConfigError, missing_settings

    out, err = Console(), Console(stderr=True)
    sources = _sources(settings)

    async def main() -> int:
        # settings no poll can work with: said before "watching None@None:22 …"
        for source in sources:
            if (missing := missing_settings(source)) is not None:
                who = f"{label(source.server_name)}: " if len(sources) > 1 else ""
                raise FetchConfigError(who + missing)

        import signal

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        current = asyncio.current_task()
        held: list[Fetcher | FetcherGroup] = []  # the fetcher, once made

        def on_signal() -> None:
            if stop.is_set() and current is not None:
                current.cancel()
                return
            stop.set()
            # read in this step, with stop set: no ingest begins after it (Fetcher.watch)
            said = (
                "stopping: waiting for the ingest in progress to commit (Ctrl-C again to interrupt)"
                if held and held[0].committing
                else "stopping"
            )
            err.print(said, markup=False, highlight=False, soft_wrap=True)

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, on_signal)

        said = WatchLines(out, err, several=len(sources) > 1)
        on_trouble = said.trouble
        ingest_for, ingestor = _ingest_for(settings, ingest)
        told: list[str | None] = [None]  # the follow's trouble last said

        def on_report(report: FetchReport) -> None:
            said.report(report)
            # a follow that keeps failing is said once, until one goes through
            if (line := _follow_said(settings, ingestor)) != told[0] and line is not None:
                said.err.print(
                    f"{time.strftime('%H:%M:%S')} {line}",
                    markup=False,
                    highlight=False,
                    soft_wrap=True,
                )
            told[0] = line

        if on_start is not None:
            on_start()
        fetchers = [Fetcher(src, ingest_for(src.server_name)) for src in sources]
        fetcher: Fetcher | FetcherGroup = (
            fetchers[0] if len(fetchers) == 1 else FetcherGroup(fetchers)
        )
        held.append(fetcher)
        async with fetcher:
            gap = settings.session_gap_minutes * 60.0

            def active() -> bool:
                # a session is on while a poll saw a new or changed round file within the
                # session gap (our clock: a remote mtime may be days off)
                last = fetcher.last_activity
                return last is not None and time.time() - last < gap

            where = ", ".join(
                f"{s.ssh_user}@{s.ssh_host}:{s.ssh_port}"
                + (f" ({label(s.server_name)})" if len(sources) > 1 else "")
                for s in sources
            )
            out.print(
                f"watching {where} every {settings.poll_interval_s:g} s "
                f"({settings.active_poll_interval_s:g} s in a session); Ctrl-C stops",
                markup=False,
                highlight=False,
            )
            try:
                await fetcher.watch(stop, active, on_report=on_report, on_trouble=on_trouble)
            except asyncio.CancelledError:
                return EXIT_INTERRUPTED  # said by run_async, once the ingest's thread ended
        return EXIT_OK

    return run_async(main, err, settings.data_dir)


def interrupted_line(data_dir: Path | None) -> str:
    """What an interrupted `fetch` / `watch` says: that nothing is half-done, and the lake
    version the lake is at (README "Exit codes", 130). Read once every thread has ended: an
    ingest the interrupt found running has committed (or not) by then."""
    said = "interrupted: nothing half-fetched or half-ingested"
    if data_dir is None:
        return said
    from etl_duck.lake.snapshot import Lake

    try:
        version = Lake(data_dir).version()
    except (OSError, ValueError, IndexError):  # a link that is not the lake's: status says
        return f"{said}; run the same command again"
    return f"{said}; the lake is at version {version}; run the same command again"


def run_async(
    main: Callable[[], Coroutine[Any, Any, int]], err: Any, data_dir: Path | None = None
) -> int:
    """Run a command's coroutine; setup problems exit 2, a failure 1, Ctrl-C 130 (said with
    the version of the lake in ``data_dir``, read after ``asyncio.run`` has waited for the
    worker threads: an ingest in one runs on to its end even when its poll is cancelled)."""
    from rich.markup import escape

    from etl_duck.fetch.sftp import AuthError, FetchConfigError, FetchError, HostKeyError

    try:
        code = int(asyncio.run(main()))
    except (KeyboardInterrupt, asyncio.CancelledError):
        code = EXIT_INTERRUPTED
    except (HostKeyError, AuthError, FetchConfigError) as exc:
        # soft_wrap: one line in a log or a cron mail, whatever the width
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return EXIT_USAGE
    except (OSError, FetchError) as exc:  # the local side, or the server is unreachable
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return EXIT_FAILED
    if code == EXIT_INTERRUPTED:
        err.print(interrupted_line(data_dir), markup=False, highlight=False, soft_wrap=True)
    return code
