"""`rating`, `predictions`, `balance`: the skill rating, its walk-forward forecasts and
balanced teams (etl_duck.domain.rating)."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import typer
from rich.table import Table

from etl_duck.cli.analytics import plain, rows_option, shown, shown_list
from etl_duck.cli.app import EXIT_USAGE, app, console, fail, json_rows, open_stats, print_json


def _pairs(given: list[str] | None, option: str) -> list[tuple[str, str]]:
    out = []
    for text in given or []:
        a, sep, b = text.partition(",")
        if not sep or not a.strip() or not b.strip():
            fail(f"{option} takes two players separated by a comma, e.g. {option} 'vid,olz'",
                 EXIT_USAGE)  # fmt: skip
        out.append((a.strip(), b.strip()))
    return out


def _signed(x: float | None) -> str:
    return "—" if x is None else f"{x:+.1f}"


def _person(guid: str, name: str) -> dict[str, Any]:
    """A player of a balance / forecast in JSON: a new one (``+name``) has no GUID."""
    from etl_duck.query.rating import is_new

    new = is_new(guid)
    return {"guid": None if new else guid, "name": name, "new": new}


@app.command()
def rating(
    player: Annotated[
        str | None,
        typer.Argument(help="A name (fuzzy) or GUID; `top` for the leaderboard; none: top."),
    ] = None,
    limit: Annotated[int, typer.Option(help="Players on the leaderboard.")] = 20,
    min_maps: Annotated[
        int | None,
        # 0 lists every rated player (each has a map): what scripts ask for "everyone"
        typer.Option(min=0, help="Minimum rated maps for the leaderboard (default 10)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Skill rating: μ, σ, conservative rating (μ − 3σ), rank, maps and trend."""
    from etl_duck.query.rating import labels
    from etl_duck.query.stats import NoData, PlayerNotFound

    stats = open_stats()
    if player is None or player.strip().lower() == "top":
        rows_option(limit, "--limit")
        board = stats.rating_top(limit, min_maps)
        need = stats.RATING_MIN_MAPS if min_maps is None else min_maps
        if as_json:
            print_json({"min_maps": need, "rows": json_rows(board)})
            return
        t = Table("#", "player", "rating", "μ", "σ", "maps", "W-L-T", "trend",
                  title=f"Skill rating (μ − 3σ), at least {need} maps",
                  caption="trend: the rating's change over each player's last 10 maps")  # fmt: skip
        named = labels(zip(board["guid"], board["name"], strict=True))
        for r in board.iter_rows(named=True):
            t.add_row(str(r["rank"]), shown(named[r["guid"]]), f"{r['rating']:.1f}", f"{r['mu']:.1f}",
                      f"{r['sigma']:.2f}", str(r["maps"]),
                      f"{r['wins']}-{r['losses']}-{r['ties']}", _signed(r["trend"]))  # fmt: skip
        console.print(t)
        if board.is_empty():
            console.print("no player has enough rated maps yet")
        return
    try:
        guid, name = stats.resolve_player(player)
        rated = guid in stats.ratings().states
        card = stats.player_rating(guid) if rated else None
    except PlayerNotFound as exc:  # (or several match: the message lists them)
        fail(plain(exc), EXIT_USAGE)
    except NoData as exc:
        fail(plain(exc))
    if card is None:  # a player, not a problem: like bests / teammates with nothing to show
        if as_json:
            print_json({"guid": guid, "name": name, "rated": False, "maps": 0})
        else:
            console.print(f"[bold]{shown(name)}[/bold] ({shown(guid)}) · unrated: no complete "
                          "stopwatch map yet")  # fmt: skip
        return
    row = card.row
    if as_json:
        print_json({
            "guid": card.guid, "name": card.name, "rated": True, "rank": card.rank,
            "ranked_players": card.ranked_players, "min_maps": card.min_maps,
            **{k: (v.isoformat() if hasattr(v, "isoformat") else v)
               for k, v in row.items() if k not in ("guid", "name", "rank")},
            "history": json_rows(card.history),
        })  # fmt: skip
        return
    rank = (
        f"#{card.rank} of {card.ranked_players}"
        if card.rank
        else f"unranked (fewer than {card.min_maps} maps)"
    )
    console.print(f"[bold]{shown(card.name)}[/bold] ({shown(card.guid)}) · {rank}")
    console.print(
        f"rating {row['rating']:.1f} (μ {row['mu']:.2f} − 3 × σ {row['sigma']:.2f}) · "
        f"{row['maps']} map{'' if row['maps'] == 1 else 's'} "
        f"({row['wins']}-{row['losses']}-{row['ties']}) · "
        f"trend {_signed(row['trend'])} over his last 10 maps"
    )


@app.command()
def predictions(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    last: Annotated[int, typer.Option(help="Maps listed (table output; JSON has all).")] = 20,
) -> None:
    """Every counted map's walk-forward forecast (P the first attackers win) and the
    Brier score / log-loss of the rating next to the baselines."""
    from etl_duck.query.rating import labels

    rows_option(last, "--last")
    stats = open_stats()
    pred = stats.predictions()
    # before either output: with no map the scores are NaN, and --json exited 0 with them
    if pred.maps.is_empty():
        fail("no counted stopwatch map in the lake yet")
    if as_json:
        print_json({"scores": json_rows(pred.scores), "maps": json_rows(pred.maps)})
        return
    t = Table("method", "Brier", "log-loss", "maps", title="Walk-forward scores (lower is better)")
    for r in pred.scores.iter_rows(named=True):
        t.add_row(shown(r["label"]), f"{r['brier']:.4f}", f"{r['log_loss']:.4f}", str(r["maps"]))
    console.print(t)
    m = Table("date", "map", "first attackers", "second", "P(first)", "result",
              title=f"Last {min(last, pred.maps.height)} maps")  # fmt: skip
    listed = list(pred.maps.tail(last).iter_rows(named=True))
    named = labels(
        pair
        for r in listed
        for pair in zip(r["first_guids"] + r["second_guids"],
                        r["first_team"] + r["second_team"], strict=True)
    )  # fmt: skip
    for r in listed:
        res = {1.0: "won", 0.0: "lost", 0.5: "1–1"}.get(r["result"], "?")
        m.add_row(str(r["session_date"]), shown(r["map_name"]),
                  shown_list(named[g] for g in r["first_guids"]),
                  shown_list(named[g] for g in r["second_guids"]), f"{r['p_first']:.0%}",
                  res)  # fmt: skip
    console.print(m)


def balance_json(res: Any) -> dict[str, Any]:
    return {
        "players": [_person(g, n) for g, n in res.players.items()],
        "splits": [
            {
                "team_a": [_person(g, res.players[g]) for g in s.team_a],
                "team_b": [_person(g, res.players[g]) for g in s.team_b],
                "p_a": s.p_a,
                "mu_a": s.mu_a,
                "mu_b": s.mu_b,
                "rating_a": s.rating_a,
                "rating_b": s.rating_b,
            }
            for s in res.splits
        ],
        "avoided_previous": res.avoided is not None,
    }


@app.command()
def balance(
    players: Annotated[
        list[str],
        typer.Argument(help="Names (fuzzy) or GUIDs, 2 or more; +name: a new player."),
    ],
    apart: Annotated[
        list[str] | None, typer.Option(help="Keep two players apart: 'A,B' (repeatable).")
    ] = None,
    together: Annotated[
        list[str] | None, typer.Option(help="Keep two players together: 'A,B' (repeatable).")
    ] = None,
    avoid_previous: Annotated[
        bool, typer.Option(help="Never repeat the last session's split.")
    ] = False,
    limit: Annotated[int, typer.Option(help="Splits listed.")] = 5,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Balanced teams: every split into two teams (±1 player), fairest forecast first. A
    new player with no maps yet: +name (he starts at the starting rating)."""
    from etl_duck.domain.balance import BalanceError, NotListed
    from etl_duck.query.rating import is_new, labels
    from etl_duck.query.stats import NoData, PlayerNotFound

    rows_option(limit, "--limit")
    stats = open_stats()
    try:
        res = stats.balance(
            players,
            apart=_pairs(apart, "--apart"),
            together=_pairs(together, "--together"),
            avoid_previous=avoid_previous,
            limit=limit,
        )
    except NoData as exc:
        fail(plain(exc))
    except NotListed as exc:  # by his name and this command's option, not his bare GUID
        who = exc.player
        if not is_new(who):
            with contextlib.suppress(LookupError, ValueError):  # else his GUID still names him
                guid, name = stats.resolve_player(who)
                who = f"{name} ({guid})"
        option = "--together" if exc.together else "--apart"
        fail(plain(NotListed(exc.player, exc.together, who, option)), EXIT_USAGE)
    except (PlayerNotFound, BalanceError, ValueError) as exc:
        fail(plain(exc), EXIT_USAGE)
    if as_json:
        print_json(balance_json(res))
        return
    named = labels(res.players.items())
    for i, s in enumerate(res.splits, 1):
        t = Table(f"Team A · Σ rating {s.rating_a:.1f}", f"Team B · Σ rating {s.rating_b:.1f}",
                  title=f"#{i}: P(A wins) {s.p_a:.1%}")  # fmt: skip
        a = [shown(named[g]) for g in s.team_a]
        b = [shown(named[g]) for g in s.team_b]
        for j in range(max(len(a), len(b))):
            t.add_row(a[j] if j < len(a) else "", b[j] if j < len(b) else "")
        console.print(t)


@app.command()
def predict(
    team_a: Annotated[
        str, typer.Argument(help="Team A: names or GUIDs, comma-separated; +name: a new player.")
    ],
    team_b: Annotated[str, typer.Argument(help="Team B: like team A.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Forecast for two teams (what /predict posts for the teams in voice). A new player
    with no maps yet: +name (he starts at the starting rating)."""
    from etl_duck.query.rating import labels
    from etl_duck.query.stats import NoData, PlayerNotFound

    a = [x.strip() for x in team_a.split(",") if x.strip()]
    b = [x.strip() for x in team_b.split(",") if x.strip()]
    try:
        fc = open_stats().forecast(a, b)
    except NoData as exc:
        fail(plain(exc))
    except (PlayerNotFound, ValueError) as exc:
        fail(plain(exc), EXIT_USAGE)
    if as_json:
        print_json({
            "team_a": [_person(g, n) for g, n in fc.team_a],
            "team_b": [_person(g, n) for g, n in fc.team_b],
            "p_a": fc.p_a, "mu_a": fc.mu_a, "mu_b": fc.mu_b,
            "rating_a": fc.rating_a, "rating_b": fc.rating_b,
        })  # fmt: skip
        return
    named = labels([*fc.team_a, *fc.team_b])
    console.print(
        f"Team A ({shown_list(named[g] for g, _ in fc.team_a)}): {fc.p_a:.0%}  ·  "
        f"Team B ({shown_list(named[g] for g, _ in fc.team_b)}): {1 - fc.p_a:.0%}"
    )
