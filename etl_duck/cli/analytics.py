"""`top`, `session`, `sessions`, `player`, `export`: the questions players ask."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from etl_duck.cli.app import (
    app,
    console,
    fail,
    json_rows,
    open_stats,
    print_json,
)


@app.command()
def top(
    stat: Annotated[
        str,
        typer.Argument(
            help="kills, kd, dpm, accuracy, headshot_rate, games, revives, gibs, objectives, efficiency, teamwork, multikills, grenade_kills"
        ),
    ],
    window: Annotated[
        str, typer.Option(help="all | season | month | week | session | FROM..TO")
    ] = "all",
    limit: Annotated[int, typer.Option(help="How many players.")] = 10,
    min_rounds: Annotated[
        int | None, typer.Option(help="Minimum rounds (default: setting).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A leaderboard."""
    from etl_duck.domain.metrics import resolve_metric
    from etl_duck.query.stats import NoData

    stats = open_stats()
    try:
        metric = resolve_metric(stat)
        w = stats.resolve_window(window)
        board = stats.leaderboard(metric.key, w, limit=limit, min_rounds=min_rounds)
    except (ValueError, NoData) as exc:
        fail(exc)
    if as_json:
        print_json({"stat": metric.key, "window": w.label, "rows": json_rows(board)})
        return
    extra = [c for c in ("kills", "deaths", "dpm") if c != metric.key]
    t = Table("#", "player", metric.label, "rounds", *[c.upper() if c == "dpm" else c for c in extra],
              title=f"{metric.label} — {w.label}")  # fmt: skip
    for r in board.iter_rows(named=True):
        cells = [f"{r[c] or 0:.1f}" if c == "dpm" else str(r[c]) for c in extra]
        t.add_row(str(r["rank"]), r["name"], metric.format(r["value"]), str(r["rounds"]), *cells)
    console.print(t)
    if board.is_empty():
        console.print("no player has enough rounds in this window")


def _session_json(rep: Any) -> dict[str, Any]:
    return {
        "session_id": rep.session_id,
        "session_date": rep.session_date.isoformat(),
        "start_time": rep.start_time.isoformat(),
        "end_time": rep.end_time.isoformat(),
        "players": json_rows(rep.players),
        "maps": json_rows(rep.maps),
        "teams": None
        if rep.teams is None
        else [{"name": t.name, "points": t.points, "players": list(t.players)} for t in rep.teams],
        "mvp": None
        if rep.mvp is None
        else {"guid": rep.mvp["guid"], "name": rep.mvp["name"], "dpm": rep.mvp["dpm"]},
        "teams_set_by_admin": rep.overridden,
        "score_per_opponent": [
            {
                "maps": [s.first + 1, s.last + 1],
                "teams": list(s.names),
                "map_wins": list(s.wins),
                "draws": s.draws,
                "line": s.line(),
                "players": [sorted(s.rosters[0]), sorted(s.rosters[1])],
            }
            for s in rep.segments
        ],
    }


def print_session(rep: Any) -> None:
    console.print(
        f"[bold]Session {rep.session_date}[/bold]  {rep.start_time:%H:%M} → {rep.end_time:%H:%M} "
        f"({rep.duration}) · {rep.maps.height} maps · {rep.players.height} players"
    )
    t = Table("player", "rounds", "kills", "deaths", "K/D", "DPM", "acc %", "revives")
    for r in rep.players.iter_rows(named=True):
        t.add_row(r["name"], str(r["rounds"]), str(r["kills"]), str(r["deaths"]),
                  f"{r['kd']:.2f}", f"{r['dpm'] or 0:.1f}", f"{r['accuracy'] or 0:.1f}",
                  str(r["revives"]))  # fmt: skip
    console.print(t)
    m = Table("map", "rounds", "winner", "outcome")
    for r in rep.maps.iter_rows(named=True):
        winner = r.get("team_a") if r.get("winner") == "A" else r.get("team_b")
        m.add_row(
            r["map_name"],
            str(r["rounds"]),
            str(winner if r.get("winner") else "—"),
            str(r.get("outcome") or "—"),
        )
    console.print(m)
    if rep.teams:
        a, b = rep.teams
        if len(rep.segments) > 1:  # the opponents changed: the score per opponent
            for seg in rep.segments:
                console.print(f"Score: {seg.line()} (maps {seg.first + 1}–{seg.last + 1})")
        else:
            console.print(f"Score: {a.name} {a.points} – {b.points} {b.name}")
        console.print(f"  {a.name}: {', '.join(a.players)}")
        console.print(f"  {b.name}: {', '.join(b.players)}")
    if rep.mvp:
        console.print(
            f"MVP: [bold]{rep.mvp['name']}[/bold] ({rep.mvp['dpm']:.1f} DPM, {rep.mvp['kills']} kills)"
        )


@app.command()
def session(
    which: Annotated[
        str, typer.Argument(help="last or YYYY-MM-DD (the day the session started)")
    ] = "last",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The last session, or the session of a date: players, maps, stopwatch score, MVP."""
    from etl_duck.query.stats import NoData

    try:
        day = None if which == "last" else date.fromisoformat(which)
        rep = open_stats().session(day)
    except (ValueError, NoData) as exc:
        fail(exc)
    if as_json:
        print_json(_session_json(rep))
    else:
        print_session(rep)


@app.command()
def sessions(
    month: Annotated[str | None, typer.Option(help="YYYY-MM")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Sessions, newest first (optionally one month)."""
    try:
        df = open_stats().sessions(month)
    except ValueError as exc:
        fail(exc)
    if as_json:
        print_json(json_rows(df))
        return
    t = Table("date", "start", "end", "rounds", "maps", "players")
    for r in df.iter_rows(named=True):
        t.add_row(str(r["session_date"]), f"{r['start_time']:%H:%M}", f"{r['end_time']:%H:%M}",
                  str(r["rounds"]), str(r["maps"]), str(r["players"]))  # fmt: skip
    console.print(t)


@app.command()
def player(
    name_or_guid: Annotated[str, typer.Argument(help="A name (fuzzy), GUID or GUID prefix.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A player's career card."""
    from etl_duck.query.stats import NoData, PlayerNotFound

    try:
        card = open_stats().player(name_or_guid)
    except (PlayerNotFound, NoData) as exc:
        fail(exc)
    tot = card.totals
    if as_json:
        print_json({
            "guid": card.guid, "name": card.name,
            **{k: v for k, v in tot.items() if k not in ("guid", "name")},
            "weapons": json_rows(card.weapons.head(5)), "last_rounds": json_rows(card.last_rounds),
            "aliases": json_rows(card.aliases), "maps": json_rows(card.maps),
        })  # fmt: skip
        return
    console.print(f"[bold]{card.name}[/bold] ({card.guid})")
    console.print(
        f"rounds {tot['rounds']} · kills {tot['kills']} · deaths {tot['deaths']} · "
        f"K/D {tot['kd']:.2f} · DPM {tot['dpm'] or 0:.1f} · accuracy {tot['accuracy'] or 0:.1f}%"
    )
    w = Table("weapon", "kills", "accuracy %")
    for r in card.weapons.head(5).iter_rows(named=True):
        w.add_row(r["weapon"], str(r["kills"]), f"{r['accuracy'] or 0:.1f}")
    console.print(w)
    console.print("aliases: " + ", ".join(card.aliases["name"].to_list()))


@app.command()
def export(
    query: Annotated[str, typer.Argument(help="A query name from queries/ (e.g. player_totals).")],
    fmt: Annotated[str, typer.Option("--format", help="csv | parquet | json")] = "csv",
    out: Annotated[Path, typer.Option("--out", help="Output file.")] = Path("export.csv"),
    param: Annotated[
        list[str] | None, typer.Option("--param", help="name=value (dates as YYYY-MM-DD)")
    ] = None,
) -> None:
    """Run one query over the lake and write the rows to a file."""
    from etl_duck.query.windows import ALL_FROM, ALL_TO
    from etl_duck.sqlfiles import query_names

    if query not in query_names():
        fail(ValueError(f"unknown query {query!r}; choose one of: {', '.join(query_names())}"))
    params: dict[str, Any] = {
        "date_from": ALL_FROM,
        "date_to": ALL_TO,
        "session_id": None,
        "limit": 100,
    }
    for p in param or []:
        key, _, value = p.partition("=")
        params[key] = date.fromisoformat(value) if key.startswith(("date", "day")) else value
    df = open_stats().run(query, **params)
    if fmt == "csv":
        df.write_csv(out)
    elif fmt == "parquet":
        df.write_parquet(out)
    elif fmt == "json":
        out.write_text(json.dumps(json_rows(df), indent=1, default=str))
    else:
        fail(ValueError(f"unknown format {fmt!r}; use csv, parquet or json"))
    console.print(f"wrote {df.height} rows to {out}")
