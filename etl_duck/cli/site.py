"""`site`: publish the lake as a static stats site (plain files, no server)."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Annotated

import typer

from etl_duck.cli.analytics import _write_problem, plain
from etl_duck.cli.app import EXIT_USAGE, app, console, fail, print_json, require_lake, settings


@app.command()
def site(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Where the site goes: a link to versioned folders, swapped atomically "
            "(default: ETL_DUCK_SITE_DIR, else DATA_DIR/site).",
        ),
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Render every page, not only the changed ones.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Build or update the static site: only pages whose data changed are rendered."""
    from etl_duck.site import SiteError, SiteOptions, build_site

    require_lake()
    s = settings()
    target = out if out is not None else s.site_path()
    try:
        report = build_site(
            s.stats(short_lived=True), target, SiteOptions(title=s.site_title), full=full
        )
    except SiteError as exc:
        fail(exc, EXIT_USAGE)
    except OSError as exc:
        site_failed(exc, target)
        raise
    if as_json:
        print_json(
            {
                "out": str(report.out),
                "version": report.version,
                "lake_version": report.lake_version,
                "published": report.published,
                "pages": report.pages,
                "rendered": report.rendered,
                "reused": report.reused,
                "removed": report.removed,
                "repaired": report.repaired,
                "seconds": round(report.seconds, 3),
            }
        )
        return
    console.print(report.summary(), highlight=False)
    console.print(f"open {report.out / 'index.html'}", highlight=False)


def site_failed(exc: OSError, target: Path) -> None:
    """A write of the site that did not fit (a full disk, the quota, the file-size limit)
    in the export's words, naming the site (the error of a write() names no file: it was
    "no space left on the device" without a word of where); other errors go on to the
    general sentence, which names their file."""
    out = target.absolute()
    name = None if exc.filename is None else os.path.abspath(os.fsdecode(exc.filename))
    beside = os.path.join(out.parent, f".{out.name}.")  # its versions, its link being made
    ours = name is None or name == str(out) or name.startswith(beside)
    if ours and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        fail(f"cannot write the site {plain(out)}: {_write_problem(exc, out.parent)}")
