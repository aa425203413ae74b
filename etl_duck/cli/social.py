"""`teammates`, `lineups`, `rivals`, `records`, `bests`, `highlights`, `set-teams`: who you
win with, who kills you, which records fell — the bot's questions from the command line.
With ``--json``, rows about players are keyed by their GUID."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.table import Table

from etl_duck.cli.analytics import SESSION_ID, plain, shown, shown_list
from etl_duck.cli.app import (
    EXIT_FAILED,
    EXIT_USAGE,
    STATE,
    app,
    console,
    fail,
    json_rows,
    open_stats,
    print_json,
)

if TYPE_CHECKING:
    from etl_duck.domain.scoring import OverrideClash
    from etl_duck.query.stats import Stats


def _keyed(df: Any) -> dict[str, dict[str, Any]]:
    return {r["guid"]: {k: v for k, v in r.items() if k != "guid"} for r in json_rows(df)}


def _day(which: str) -> date | int | None:
    """last (None), a session date, or a session id (one session, whatever else started
    that day: `etl-duck sessions` lists them)."""
    t = which.strip()
    if t == "last":
        return None
    if SESSION_ID.fullmatch(t):
        return int(t)
    try:
        return date.fromisoformat(t)
    except ValueError:
        fail(
            f"{which!r} is not a session date or id; use YYYY-MM-DD, a session id "
            "(`etl-duck sessions` lists them) or last",
            EXIT_USAGE,
        )


def _session_of(stats: Stats, which: str) -> tuple[int, date]:
    """(session id, date) of ``which``; an id no session has is a usage error (exit 2)."""
    day = _day(which)
    try:
        return stats.session_id_for(day)
    except _lookup_errors() as exc:
        if isinstance(day, int):
            fail(f"{plain(exc)} (`etl-duck sessions` lists the sessions)", EXIT_USAGE)
        _lookup_failed(exc)


def _session_day(row: dict[str, Any]) -> str:
    """A record's or best's date as shown: its session's (a round after midnight is the
    evening before's), the date ``etl-duck session DATE`` opens it by."""
    day = row.get("session_date")
    return "—" if day is None else f"{day:%Y-%m-%d}"


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _lookup_errors() -> tuple[type[Exception], ...]:
    from etl_duck.query.stats import NoData, PlayerNotFound

    return (PlayerNotFound, NoData, ValueError)


def _lookup_failed(exc: Exception) -> NoReturn:
    """An unknown or ambiguous player is a usage error (exit 2, README "Exit codes")."""
    from etl_duck.query.stats import PlayerNotFound

    fail(plain(exc), EXIT_USAGE if isinstance(exc, PlayerNotFound | ValueError) else EXIT_FAILED)


def _nothing_yet(name: str, guid: str, what: str) -> None:
    """A known player with nothing to show: one sentence naming him, not an empty table, and
    exit 0 — an answer, not a failure (README "Exit codes": an unknown player is 2); the
    same in `player`, `bests`, `teammates`, `rivals` (and `rating` for an unrated one)."""
    console.print(f"{shown(name)} ({shown(guid)}) has {what}")


@app.command()
def teammates(
    player: Annotated[str, typer.Argument(help="A name (fuzzy), GUID or GUID prefix.")],
    min_maps: Annotated[
        int | None, typer.Option(help="Maps together to count (default 3).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Win rate on maps together vs apart with each teammate; the best partner."""
    from etl_duck.domain.social import best_partner
    from etl_duck.query.rating import labels

    try:
        guid, name, mates = open_stats().teammates(player, min_maps)
    except _lookup_errors() as exc:
        _lookup_failed(exc)
    best = best_partner(mates, min_maps if min_maps is not None else 3)
    if as_json:
        print_json({"guid": guid, "name": name,
                    "best_partner": None if best is None else best["guid"],
                    "rows": _keyed(mates)})  # fmt: skip
        return
    if mates.is_empty():
        _nothing_yet(name, guid, "no teammate yet: no complete map (both rounds counted)")
        return
    t = Table("teammate", "maps together", "W-L-D", "win %", "maps apart", "win % apart",
              title=f"{shown(name)} ({shown(guid)}) — teammates")  # fmt: skip
    named = labels(zip(mates["guid"], mates["name"], strict=True))
    for r in mates.iter_rows(named=True):
        t.add_row(shown(named[r["guid"]]), str(r["together_maps"]),
                  f"{r['together_won']}-{r['together_lost']}-{r['together_drawn']}",
                  f"{r['together_rate'] or 0:.0f}", str(r["apart_maps"]),
                  "—" if r["apart_rate"] is None else f"{r['apart_rate']:.0f}")  # fmt: skip
    console.print(t)
    if best is not None:
        console.print(f"best partner: {shown(named[str(best['guid'])])} ({best['together_rate']:.0f} % over "
                      f"{best['together_maps']} maps)")  # fmt: skip


@app.command()
def lineups(
    window: Annotated[str, typer.Option(help="all | season | month | week | FROM..TO")] = "all",
    min_maps: Annotated[
        int | None, typer.Option(min=1, help="Maps met to count (default 3).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recurring rosters against each other, with their records."""
    from etl_duck.domain.social import MIN_MAPS

    try:
        table = open_stats().lineups(window, min_maps)
    except _lookup_errors() as exc:
        _lookup_failed(exc)
    if as_json:
        rows = json_rows(table) if not table.is_empty() else []
        for r in rows:  # the rosters as GUID lists (the keys are comma-joined GUIDs)
            r["guids_a"], r["guids_b"] = r.pop("lineup_a").split(","), r.pop("lineup_b").split(",")
        print_json(rows)
        return
    if table.is_empty():  # one sentence, not an empty table (as `rating top`; an answer: 0)
        need = MIN_MAPS if min_maps is None else min_maps
        scope = "" if window.strip().lower() == "all" else f" (window {window})"
        console.print(f"no lineup with at least {need} map{'' if need == 1 else 's'} yet{scope}")
        return
    t = Table("lineup", "vs lineup", "maps", "W-L-D", "last met")
    for r in table.iter_rows(named=True):
        t.add_row(shown_list(r["names_a"]), shown_list(r["names_b"]), str(r["maps"]),
                  f"{r['won_a']}-{r['won_b']}-{r['drawn']}", f"{r['last_met']:%Y-%m-%d}")  # fmt: skip
    console.print(t)


@app.command()
def rivals(
    player: Annotated[str, typer.Argument(help="A name (fuzzy), GUID or GUID prefix.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Nemesis, easiest prey and K/D per opponent (from the endstats files)."""
    from etl_duck.domain.social import MIN_ROUNDS, nemesis_and_prey
    from etl_duck.query.rating import labels

    try:
        guid, name, table = open_stats().rivals(player)
    except _lookup_errors() as exc:
        _lookup_failed(exc)
    nemesis, prey = nemesis_and_prey(table)
    if as_json:
        print_json({"guid": guid, "name": name,
                    "nemesis": None if nemesis is None else nemesis["guid"],
                    "easiest_prey": None if prey is None else prey["guid"],
                    "rows": _keyed(table)})  # fmt: skip
        return
    if table.is_empty():
        _nothing_yet(name, guid, "no rivals yet: no attributed versus rows (endstats files "
                     "need VS_HEADER lines)")  # fmt: skip
        return
    t = Table("opponent", "rounds", "kills", "deaths", "K/D",
              title=f"{shown(name)} ({shown(guid)}) — rivals")  # fmt: skip
    named = labels(zip(table["guid"], table["name"], strict=True))
    for r in table.iter_rows(named=True):
        t.add_row(shown(named[r["guid"]]), str(r["rounds"]), str(r["kills"]), str(r["deaths"]),
                  f"{r['kd']:.2f}")  # fmt: skip
    console.print(t)
    # what the help and --json promise, as `teammates` prints its best partner
    me = shown(name)
    if nemesis is not None:
        them = shown(named[str(nemesis["guid"])])
        console.print(f"nemesis: {them} killed {me} {nemesis['deaths']}× in {nemesis['rounds']} "
                      f"rounds ({me} killed {them} {nemesis['kills']}×)")  # fmt: skip
    if prey is not None:
        them = shown(named[str(prey["guid"])])
        console.print(f"easiest prey: {them}, killed by {me} {prey['kills']}× in {prey['rounds']} "
                      f"rounds ({them} killed {me} {prey['deaths']}×)")  # fmt: skip
    if nemesis is None and prey is None:
        console.print(f"no nemesis or easiest prey yet: no opponent met in at least "
                      f"{MIN_ROUNDS} rounds")  # fmt: skip


@app.command()
def records(
    map_name: Annotated[str | None, typer.Argument(help="One map (default: all).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Standing records: all-time and per map."""
    from etl_duck.domain.records import ROUND_RECORDS, _shown

    stats = open_stats()
    rows = stats.records(map_name)
    if map_name is not None and not any(r["scope"] != "all" for r in rows):
        maps = sorted({r["scope"] for r in stats.records() if r["scope"] != "all"})
        fail(  # not the all-time records shown as if they were the map's
            f"no records on map {plain(map_name)!r}: no counted round was played on it "
            f"(maps with records: {plain(', '.join(maps)) or 'none yet'})",
            EXIT_USAGE,
        )
    if as_json:
        print_json([{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
                    for r in rows])  # fmt: skip
        return
    from etl_duck.query.rating import label_of, labels

    # two holders of one name told apart ("vid (D842)"); a team's names stay as they are
    named = labels((r["guid"], r["holder"]) for r in rows if r["guid"] is not None)
    t = Table("scope", "record", "value", "holder", "when")
    for r in rows:  # "when": the session's date (what `session DATE` opens), not the round's day
        _, unit, _ = ROUND_RECORDS[r["kind"]]
        t.add_row(shown(r["scope"]), shown(r["label"]), shown(_shown(r["value"], unit)),
                  shown(label_of(named, r, "holder")), _session_day(r))  # fmt: skip
    console.print(t)


@app.command()
def bests(
    player: Annotated[str, typer.Argument(help="A name (fuzzy), GUID or GUID prefix.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A player's personal bests."""
    from etl_duck.domain.records import _shown

    try:
        guid, name, rows = open_stats().personal_bests(player)
    except _lookup_errors() as exc:
        _lookup_failed(exc)
    if as_json:
        print_json({"guid": guid, "name": name, "bests": [
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
            for r in rows]})  # fmt: skip
        return
    if not rows:
        _nothing_yet(name, guid, "no personal best yet: no counted round")
        return
    t = Table("best", "value", "map", "when",
              title=f"{shown(name)} ({shown(guid)}) — personal bests")  # fmt: skip
    for r in rows:  # counts as counts ("25 kills", not "25.0"), DPM to a tenth, as the site
        t.add_row(shown(r["label"]), _shown(r["value"], r["unit"]), shown(r["map_name"] or "—"),
                  _session_day(r))  # fmt: skip
    console.print(t)


@app.command()
def highlights(
    which: Annotated[
        str, typer.Argument(help="last, YYYY-MM-DD or a session id (`etl-duck sessions`)")
    ] = "last",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Records broken, personal bests and milestones of a session."""
    stats = open_stats()
    sid, _ = _session_of(stats, which)
    events = stats.session_events(sid)
    if as_json:
        print_json([{"key": e.key, "kind": e.kind, "scope": e.scope, "guid": e.guid,
                     "holder": e.holder, "value": e.value, "previous": e.previous,
                     "file_name": e.file_name, "text": e.text(),
                     "session_date": _iso(e.session_date),
                     "previous_date": _iso(e.previous_date)} for e in events])  # fmt: skip
        return
    from etl_duck.query.rating import events_told_apart

    for e in events_told_apart(events):  # two holders of one name: "vid (D842)"
        console.print(shown(e.text().replace("**", "")))
    if not events:
        console.print("no record, personal best or milestone in this session")


@app.command("set-teams")
def set_teams(
    which: Annotated[
        str, typer.Argument(help="last, YYYY-MM-DD or a session id (the session)")
    ] = "last",
    team1: Annotated[str | None, typer.Option(help="Name of one team.")] = None,
    players1: Annotated[
        str | None, typer.Option(help="Its players: names or GUIDs, comma-separated.")
    ] = None,
    team2: Annotated[str | None, typer.Option(help="Name of the other team.")] = None,
    players2: Annotated[str | None, typer.Option(help="Its players.")] = None,
    clear: Annotated[bool, typer.Option(help="Remove the correction.")] = False,
) -> None:
    """Correct a session's teams (kept in data/state, outside the lake: survives rebuilds)."""
    from etl_duck.botstate import BotState
    from etl_duck.domain.scoring import TeamOverride, override_clash, team_name

    with BotState.in_data_dir(STATE.data_dir) as state:
        stats = open_stats()
        sid, sdate = _session_of(stats, which)
        try:
            rep = stats.session_by_id(sid, sdate)
        except _lookup_errors() as exc:
            fail(plain(exc))
        if clear:
            state.clear_teams(sid)
            console.print(f"teams of session {sid} are detected automatically again")
            return
        played = set(rep.players["guid"].to_list())
        teams = []
        for name, listed in ((team1, players1), (team2, players2)):
            guids = set()
            for item in filter(None, (x.strip() for x in (listed or "").split(","))):
                try:
                    guid, _ = stats.resolve_player(item)
                except _lookup_errors() as exc:
                    fail(plain(exc), EXIT_USAGE)
                if guid not in played:
                    fail(f"{plain(item)} ({guid}) did not play in session {sid}", EXIT_USAGE)
                guids.add(guid)
            if team_name(name) or guids:  # a blank name is automatic, as the bot's
                teams.append(TeamOverride(team_name(name), frozenset(guids)))
        if not any(t.guids for t in teams):
            fail("name at least one player of a team (--players1)", EXIT_USAGE)
        clash = override_clash(teams)
        if clash is not None:
            fail(_clash_text(clash, rep.players), EXIT_USAGE)
        state.set_teams(sid, teams)
        console.print(f"teams of session {sid} corrected: " + " vs ".join(
            f"{shown(t.name or '(auto)')} ({len(t.guids)} anchored)" for t in teams))  # fmt: skip


def _clash_text(clash: OverrideClash, players: Any) -> str:
    """`set-teams`' one sentence for two teams that cannot stand (:func:`override_clash`):
    the player as the session's answers tell him apart ("vid (D842)"), or the name."""
    from etl_duck.query.rating import frame_labels

    if clash.players:
        named = frame_labels(players)
        who = ", ".join(plain(named.get(g, g)) for g in clash.players)
        verb, whom = ("is", "him") if len(clash.players) == 1 else ("are", "each")
        return f"{who} {verb} on both teams: name {whom} in --players1 or --players2, not both"
    return (
        f"both teams are named {plain(clash.name)!r}: give --team2 another name (or leave it "
        "out to name that team automatically)"
    )
