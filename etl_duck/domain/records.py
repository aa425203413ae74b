"""Records, personal bests and milestones: pure functions over the serving tables (every
round; per (session, player, map) rounds and best rounds; per (session, player) totals).

* **Map records**: fastest completion (the shortest time attackers needed to complete a
  round of the map), longest defence before it fell (how long a defence lasted before the
  attackers completed: a full hold is the whole clock, which every full hold ties), most
  kills in a round, best round DPM (rounds of ≥ 5 minutes played). **All-time records**: most kills
  in a round and best round DPM over every map.
* A record is **broken** by a round that beats every earlier round strictly (by end time);
  the first round ever played on a map sets no record worth telling (nothing to beat). A
  round is one contender: its best row (:func:`_round_best`) against the rounds before it
  — the players of one round do not break records of each other.
* **Personal bests** per player: most kills, best DPM and most damage in a round; broken
  when strictly beaten after at least :data:`PB_HISTORY` rounds of history (a newcomer's
  first evening is all personal bests — not news).
* **Milestones**: career totals crossing a threshold (1,000 kills, 100 sessions, …),
  reached in the session whose totals crossed it.

Every event carries a ``key`` that does not depend on when it is computed (kind, scope,
round file or threshold, player): the bot announces each key once, ever — also after a
rebuild (same files → same keys) and a restart (the keys are kept outside the lake).

**Dates are the session's.** Every record, personal best and previous holder carries the
date (and id) of the session its round was played in, read from the serving rows
(``session_date``), and that is the date shown: a round at 00:14 of a session dated the
19th is the 19th's — the date ``etl-duck session DATE`` opens it by. The round's own
``end_time`` stays for ordering and for the time of day.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

PB_HISTORY = 20  # rounds a player must have played before his personal bests are news

#: (kind, label, unit, larger is better)
ROUND_RECORDS = {
    "fastest_completion": ("fastest completion", "time", False),
    # not "longest hold": in ET a hold is a defence that never fell (a full hold, which every
    # full hold ties at the clock); this is how long a broken defence lasted
    "longest_hold": ("longest defence before it fell", "time", True),
    "round_kills": ("most kills in a round", "kills", True),
    "round_dpm": ("best round DPM", "DPM", True),
}
PERSONAL = {
    "round_kills": ("most kills in a round", "kills"),
    "round_dpm": ("best round DPM", "DPM"),
    "round_damage": ("most damage in a round", "damage"),
}
MILESTONES = {
    "kills": ("kills", (500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000)),
    "sessions": ("sessions", (10, 25, 50, 100, 250, 500, 1_000)),
    "rounds": ("rounds", (100, 250, 500, 1_000, 2_500, 5_000)),
    "revives": ("revives", (100, 250, 500, 1_000, 2_500, 5_000)),
}


def _as_is(name: str) -> str:
    return name


@dataclass(frozen=True)
class Event:
    """One record broken, personal best or milestone."""

    key: str  # the announcement key: stable across rebuilds
    kind: str
    scope: str  # map name, "all" (all-time) or "personal" / "milestone"
    session_id: int
    file_name: str | None  # the round that set it (None for milestones)
    end_time: Any
    holder: str  # a player's name or a team's names
    guid: str | None
    value: float
    previous: float | None
    previous_holder: str | None
    previous_when: Any  # the previous round's end (ordering, time of day; not the date shown)
    previous_file: str | None = None
    #: the date of the session the round was played in: the date shown and typed to open it
    #: (a round after midnight belongs to the evening before; ``end_time`` is its calendar day)
    session_date: date | None = None
    previous_date: date | None = None  # the previous holder's session date, likewise
    previous_session_id: int | None = None
    previous_guid: str | None = None  # the previous holder's (None: a team, or none)

    def text(self, escape: Callable[[str], str] = _as_is) -> str:
        """How the bot says it, in Markdown. ``escape`` makes the players' names (the holder,
        the previous holder, each name of a team) literal where the text is shown: the bot
        passes its Markdown escaping (a player named ``||x_*`` would open a spoiler, an
        emphasis or a code span); the CLI and the site escape in their own way."""
        holder = escape(self.holder)
        if self.scope == "milestone":
            label = MILESTONES[self.kind][0]
            return f"🎯 **{holder}** reached **{int(self.value):,} {label}**"
        if self.scope == "personal":
            label, unit = PERSONAL[self.kind]
            return (
                f"📈 **{holder}** — personal best, {label}: **{_shown(self.value, unit)}**"
                f" (was {_shown(self.previous, unit)})"
            )
        label, unit, _ = ROUND_RECORDS[self.kind]
        where = "all-time" if self.scope == "all" else f"on {self.scope}"
        was = ""
        if self.previous is not None:
            # the previous holder's session date, never his round's calendar day
            when = f", {self.previous_date:%Y-%m-%d}" if self.previous_date else ""
            by = escape(str(self.previous_holder))
            was = f" (was {_shown(self.previous, unit)} by {by}{when})"
        return f"🏆 Record {where} — {label}: **{_shown(self.value, unit)}** by **{holder}**{was}"


def _shown(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "time":
        v = round(value)
        return f"{v // 60}:{v % 60:02d}"
    if unit == "DPM":
        return f"{value:,.1f} DPM"
    return f"{value:,.0f} {unit}"


def _running(rows: list[dict[str, Any]], better: bool, scope: str, kind: str) -> list[Event]:
    """Events where a row beats every earlier row (rows in time order)."""
    out: list[Event] = []
    best: dict[str, Any] | None = None
    for r in rows:
        v = r["value"]
        if v is None:
            continue
        if best is not None and ((v > best["value"]) if better else (v < best["value"])):
            out.append(
                Event(
                    key=f"record|{kind}|{scope}|{r['file_name']}|{r.get('guid') or ''}",
                    kind=kind,
                    scope=scope,
                    session_id=int(r["session_id"]),
                    file_name=r["file_name"],
                    end_time=r["end_time"],
                    holder=str(r["holder"]),
                    guid=r.get("guid"),
                    value=float(v),
                    previous=float(best["value"]),
                    previous_holder=str(best["holder"]),
                    previous_when=best["end_time"],
                    previous_file=best["file_name"],
                    session_date=r.get("session_date"),
                    previous_date=best.get("session_date"),
                    previous_session_id=_sid(best.get("session_id")),
                    previous_guid=best.get("guid"),
                )
            )
        if best is None or ((v > best["value"]) if better else (v < best["value"])):
            best = r
    return out


def _sid(value: Any) -> int | None:
    return None if value is None else int(value)


def _dated(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with a ``session_date`` column: the serving rows have one; a frame without
    it (built by hand) gets nulls — no date is shown rather than a round's calendar day."""
    import polars as pl

    if "session_date" in frame.columns:
        return frame
    return frame.with_columns(pl.lit(None, pl.Date).alias("session_date"))


def completion_times(rounds: pl.DataFrame) -> pl.DataFrame:
    """Counted rounds the attackers completed, with the time they needed: round 1's H7
    (the clock it set), round 2's H7 when it is a time (≤ the clock), else the measured
    duration."""
    import polars as pl

    done = _dated(rounds).filter(pl.col("counted") & pl.col("attackers_won"))
    h7 = pl.col("next_time_limit_s").cast(pl.Float64)
    ok_h7 = (pl.col("round_number") == 1) | (h7 <= pl.col("time_limit_s"))
    return done.with_columns(
        pl.when(h7.is_not_null() & (h7 > 0) & ok_h7)
        .then(h7)
        .otherwise(pl.col("duration_s"))
        .alias("completion_s")
    ).filter(pl.col("completion_s").is_not_null() & (pl.col("completion_s") > 0))


def _setters(frame: pl.DataFrame, better: bool, over: str | None = None) -> pl.DataFrame:
    """The rows (in time order, ``value`` never null) that beat every earlier row of their
    group (``over``): only these can break a record or hold the one a later row breaks, so
    :func:`_running` finds the same events in them — it passes over ties and worse rounds
    alone. Ten years of best rounds are ~110k rows and ~100 setters: reading only those
    into Python keeps the records cheap enough to recompute after every commit."""
    import polars as pl

    value = pl.col("value")
    prev = (value.cum_max() if better else value.cum_min()).shift(1)
    if over is not None:
        prev = prev.over(over)
    return frame.filter(prev.is_null() | ((value > prev) if better else (value < prev)))


def _round_best(frame: pl.DataFrame, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """One row per round (``end_time``, ``file_name``; per ``by`` too: ``guid`` for personal
    bests) — its largest ``value``, in time order. The players of one round played it at
    once: a round is one contender for a record, its best against the best of the rounds
    before it, never one of its players against another (review 84: the rows of a round
    were read in GUID order, and each that beat the one before was a record "was" a
    player of the same round — the first round on a map announced a chain). Equal values
    in one round: the first by GUID holds it (an event has one holder; the rule of a tie
    between rounds, where the first one stands)."""
    keys = [*by, "end_time", "file_name"]
    ranked = frame.sort(
        [*keys, "value", "guid"],
        descending=[*(False for _ in keys), True, False],
        nulls_last=True,
    )
    return ranked.unique(keys, keep="first", maintain_order=True).sort(
        "end_time", "file_name", *by, maintain_order=True
    )


def _by_map(frame: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in frame.iter_rows(named=True):
        out.setdefault(str(r["map_name"]), []).append(r)
    return out


#: a round value, named by the ``player_map_bests`` column that held its row's best before
#: parser version 18 → its field in ``each_round``
_EACH = {"best_kills": "kills", "best_dpm": "dpm", "best_damage": "damage"}
#: what the records read of a round besides its value and its player's name
_ROUND = ("session_id", "session_date", "guid", "map_name", "end_time", "file_name")


def each_round(bests: pl.DataFrame) -> pl.DataFrame | None:
    """Every round of the ``player_map_bests`` rows, one row each: ``session_id``,
    ``session_date`` (the row's: the session's, also for a round after midnight), ``guid``,
    ``name`` (the row's), ``map_name``, ``end_time``, ``file_name``, ``kills``, ``dpm``
    (null: a short round), ``damage``. None for a rollup written before parser version 18,
    which kept each row's best rounds alone (``best_kills``, ``best_kills_file``,
    ``best_kills_end``, …; the next ingest re-derives it)."""
    import polars as pl

    if "each_round" not in bests.columns:
        return None
    return (
        _dated(bests)
        .select("session_id", "session_date", "guid", "name", "map_name", "each_round")
        .explode("each_round")
        .drop_nulls("each_round")
        .unnest("each_round")
        .rename({"end": "end_time", "file": "file_name"})
        .with_columns(pl.col("kills").cast(pl.Int64), pl.col("damage").cast(pl.Int64))
    )


def _values(bests: pl.DataFrame, each: pl.DataFrame | None, column: str) -> pl.DataFrame:
    """The rounds that have a value of ``column`` (``best_kills``: kills, ``best_dpm``,
    ``best_damage``) as ``value``, ``file_name`` and ``end_time``, with ``session_id``,
    ``guid``, ``name`` and ``map_name``: every round (``each``: :func:`each_round`), or
    where the rollup predates it each row's best round, with the row's other columns (a
    best beaten twice in one session on one map is then told once, beating the best
    before the row, until the next ingest re-derives the rollup)."""
    import polars as pl

    if each is not None:
        frame = each.select(*_ROUND, "name", pl.col(_EACH[column]).alias("value"))
    else:
        frame = _dated(bests).with_columns(
            pl.col(column).alias("value"),
            pl.col(f"{column}_file").alias("file_name"),
            pl.col(f"{column}_end").alias("end_time"),
        )
    return frame.filter(pl.col("value").is_not_null())


def round_record_events(rounds: pl.DataFrame, bests: pl.DataFrame) -> list[Event]:
    """Every record ever broken, in time order. ``rounds``: the serving rounds; ``bests``:
    ``player_map_bests``. Time records are held by a round's attacking side, whose names
    the caller fills in (``holder`` is empty): they are read only for the rounds shown."""
    import polars as pl

    events: list[Event] = []
    done = (
        completion_times(rounds)
        .sort("end_time", "file_name")
        .with_columns(pl.col("completion_s").alias("value"), pl.lit("").alias("holder"))
    )
    for kind in ("fastest_completion", "longest_hold"):
        _, _, better = ROUND_RECORDS[kind]
        for name, rows in _by_map(_setters(done, better, "map_name")).items():
            events += _running(rows, better, name, kind)
    if not bests.is_empty():
        each = each_round(bests)
        for kind, column in (("round_kills", "best_kills"), ("round_dpm", "best_dpm")):
            # one row per round, its best: a round is one contender (see _round_best)
            frame = _round_best(
                _values(bests, each, column).select(
                    *_ROUND, "value", pl.col("name").alias("holder")
                )
            )
            events += _running(_setters(frame, True).to_dicts(), True, "all", kind)
            for name, rows in _by_map(_setters(frame, True, "map_name")).items():
                events += _running(rows, True, name, kind)
    return sorted(events, key=_running_order)


def _running_order(e: Event) -> tuple[Any, str, str, str]:
    """Events in the order :func:`_running` met their rounds — (end time, file, player),
    as the rows were sorted — then by key (events of other scopes at the same instant).
    Not by key alone: two servers may write one file name in the same second, and
    ``X.txt#scrim|…`` sorts before ``X.txt|…`` although ``X.txt`` came first; the last
    event of a (scope, kind) is the record that stands."""
    return (e.end_time, e.file_name or "", e.guid or "", e.key)


def current_records(
    events: list[Event], rounds: pl.DataFrame, bests: pl.DataFrame
) -> list[dict[str, Any]]:
    """The standing record of each (scope, kind): the first holder where nobody broke it."""
    standing: dict[tuple[str, str], dict[str, Any]] = {}

    def keep(
        scope: str, kind: str, row: dict[str, Any], value: float, holder: str, guid: str | None
    ) -> None:
        standing[(scope, kind)] = {"scope": scope, "kind": kind, "label": ROUND_RECORDS[kind][0],
                                   "value": value, "holder": holder, "guid": guid,
                                   "when": row["end_time"], "session_id": int(row["session_id"]),
                                   "session_date": row.get("session_date"),
                                   "file_name": row["file_name"]}  # fmt: skip

    done = completion_times(rounds).sort("end_time", "file_name")
    for map_name, part in done.group_by("map_name", maintain_order=True):
        first = part.row(0, named=True)
        for kind in ("fastest_completion", "longest_hold"):
            keep(str(map_name[0]), kind, first, first["completion_s"], "", None)
    if not bests.is_empty():
        each = each_round(bests)
        for kind, column in (("round_kills", "best_kills"), ("round_dpm", "best_dpm")):
            # the rounds of round_record_events, each its best row: the first round's stands
            # unbroken (its best player's, not the first by GUID)
            rows = _round_best(_values(bests, each, column))
            if rows.is_empty():
                continue
            first = rows.row(0, named=True)
            keep("all", kind, first, first["value"], first["name"], first["guid"])
            for map_name, part in rows.group_by("map_name", maintain_order=True):
                f = part.row(0, named=True)
                keep(str(map_name[0]), kind, f, f["value"], f["name"], f["guid"])
    for e in events:  # events are in time order: the last one of each stands
        standing[(e.scope, e.kind)] = {"scope": e.scope, "kind": e.kind,
                                       "label": ROUND_RECORDS[e.kind][0], "value": e.value,
                                       "holder": e.holder, "guid": e.guid, "when": e.end_time,
                                       "session_id": e.session_id,
                                       "session_date": e.session_date,
                                       "file_name": e.file_name}  # fmt: skip
    return sorted(standing.values(), key=lambda r: (r["scope"] != "all", r["scope"], r["kind"]))


_ENDS = ("best_kills_end", "best_dpm_end", "best_damage_end")
_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


def _history(
    bests: pl.DataFrame, each: pl.DataFrame | None = None
) -> Callable[[dict[str, Any], Any], int]:
    """``played(row, t)``: how many of the player's counted rounds ended before ``t``, a round
    of ``row`` (one of his rounds, or of his ``player_map_bests`` rows). Every round counts,
    also one without a DPM (a short round): a round is history whatever it scored; a round
    in which he has two lines (a GUID two players share, a reconnect) counts once. Exact
    from every round's end (``each``: :func:`each_round`; the rollup's ``ends`` before
    parser version 18). Without them (a rollup before parser version 13): the rows before
    ``t`` are those whose earliest known round (the earliest end of its three best rounds)
    ended before it; of ``row`` itself, the rounds known to have ended before ``t``: the
    distinct ends of its best rounds that precede it (the rollup kept no other round's
    time, so a round of the row that was best at nothing is counted from the next row on).
    """
    import bisect

    import polars as pl

    ends = None
    if each is not None:
        ends = each.select(pl.col("guid").cast(pl.String), pl.col("end_time").alias("ends"))
    elif "ends" in bests.columns:  # every round's end (parser versions 13 to 17)
        ends = bests.select(pl.col("guid").cast(pl.String), pl.col("ends")).explode("ends")
    if ends is not None:
        import numpy as np

        # one sorted array of epoch µs, each player a slice of it (a loop over the rows
        # took ~180 ms per 100k rows; this is columnar). A round once: two lines of one
        # file can share a GUID (a collision, a reconnect) and the rollup lists the round
        # for each; they share its end, and one GUID ends no two rounds in one instant
        # (by end, not file: hashing 300k file names cost ~0.6 s, the ends ~20 ms)
        ex = (
            ends.drop_nulls("ends")
            .select("guid", pl.col("ends").dt.epoch("us").alias("us"))
            .unique()
            .sort("guid", "us")
        )
        stamps = ex["us"].to_numpy()
        names, starts = np.unique(ex["guid"].to_numpy(), return_index=True)
        bounds = np.append(starts, len(stamps))
        span = {str(g): (int(bounds[i]), int(bounds[i + 1])) for i, g in enumerate(names)}

        def exact(row: dict[str, Any], t: Any) -> int:
            lo, hi = span.get(str(row["guid"]), (0, 0))
            us = (t - _EPOCH) // _MICROSECOND
            return int(np.searchsorted(stamps[lo:hi], us, side="left"))

        return exact
    firsts: dict[str, tuple[list[Any], list[int]]] = {}
    present = [c for c in _ENDS if c in bests.columns]
    frame = bests.select(
        "guid", pl.min_horizontal(*present).alias("first"), pl.col("rounds").fill_null(0)
    ).filter(pl.col("first").is_not_null())
    for (guid,), part in frame.sort("guid", "first").group_by("guid", maintain_order=True):
        times = part["first"].to_list()
        cumulative = [0]
        for n in part["rounds"].to_list():
            cumulative.append(cumulative[-1] + int(n))
        firsts[str(guid)] = (times, cumulative)

    def played(row: dict[str, Any], t: Any) -> int:
        times, cumulative = firsts.get(str(row["guid"]), ([], [0]))
        before = cumulative[bisect.bisect_left(times, t)]  # rows begun before t …
        own = {row[c] for c in present if row[c] is not None}
        if min(own, default=t) < t:
            before -= int(row["rounds"] or 0)  # … but this row's rounds by what is known
        return before + sum(1 for e in own if e < t)

    return played


def personal_best_events(bests: pl.DataFrame, history: int = PB_HISTORY) -> list[Event]:
    """Personal bests beaten after ``history`` rounds of the player's own history (every
    counted round before the best's, in time order: short rounds too, and the rounds of the
    same session and map that came before it). Round by round: a best beaten twice on one
    map in one session is two events, the second beating the first."""
    events: list[Event] = []
    if bests.is_empty():
        return events
    each = each_round(bests)
    played = _history(bests, each)
    for kind, column in (("round_kills", "best_kills"), ("round_dpm", "best_dpm"),
                         ("round_damage", "best_damage")):  # fmt: skip
        # each player's rounds in time order, one row per round (two lines of one file can
        # share a GUID: his round's best, not one line beating the other); only those that
        # beat all his earlier ones (the first one included) can be a best or beat one:
        # the loop reads those alone
        frame = _setters(_round_best(_values(bests, each, column), ("guid",)), True, "guid")
        for guid, part in frame.group_by("guid", maintain_order=True):
            best: dict[str, Any] | None = None
            for r in part.iter_rows(named=True):
                v = r["value"]
                if best is not None and v > best["value"] and played(r, r["end_time"]) >= history:
                    events.append(
                        Event(f"pb|{kind}|{guid[0]}|{r['file_name']}", kind, "personal",
                              int(r["session_id"]), r["file_name"], r["end_time"],
                              str(r["name"]), str(guid[0]), float(v), float(best["value"]),
                              str(r["name"]), best["end_time"], best["file_name"],
                              r.get("session_date"), best.get("session_date"),
                              _sid(best.get("session_id")))
                    )  # fmt: skip
                if best is None or v > best["value"]:
                    best = r
    return sorted(events, key=lambda e: (e.end_time, e.key))


def personal_bests(bests: pl.DataFrame, sessions: pl.DataFrame, guid: str) -> list[dict[str, Any]]:
    """A player's bests: round kills / DPM / damage (with map and day), and his best
    session by DPM (≥ 4 rounds) and by kills."""
    import polars as pl

    out: list[dict[str, Any]] = []
    mine = bests.filter(pl.col("guid") == guid) if not bests.is_empty() else bests
    each = each_round(mine)
    for kind, column in (("round_kills", "best_kills"), ("round_dpm", "best_dpm"),
                         ("round_damage", "best_damage")):  # fmt: skip
        if mine.is_empty():
            break
        rows = _values(mine, each, column)
        if rows.is_empty():
            continue
        # the best, first set (an equal round later is no new best)
        ranked = rows.sort(["value", "end_time", "file_name"], descending=[True, False, False])
        r = ranked.row(0, named=True)
        out.append({"kind": kind, "label": PERSONAL[kind][0], "value": r["value"],
                    "unit": PERSONAL[kind][1], "map_name": r["map_name"], "when": r["end_time"],
                    "session_id": int(r["session_id"]), "session_date": r.get("session_date"),
                    "file_name": r["file_name"]})  # fmt: skip
    own = sessions.filter(pl.col("guid") == guid) if not sessions.is_empty() else sessions
    if not own.is_empty():
        own = own.with_columns(
            pl.when(pl.col("time_played_s") > 0)
            .then(pl.col("dpm_damage") * 60.0 / pl.col("time_played_s"))
            .alias("dpm")
        )
        long = own.filter(pl.col("rounds") >= 4)
        if not long.is_empty():
            top = long.sort("dpm", descending=True, nulls_last=True).row(0, named=True)
            out.append({"kind": "session_dpm", "label": "best session DPM (≥ 4 rounds)",
                        "value": top["dpm"], "unit": "DPM", "map_name": None, "when": top["session_date"],
                        "session_id": int(top["session_id"]), "session_date": top["session_date"],
                        "file_name": None})  # fmt: skip
        top = own.sort("kills", descending=True).row(0, named=True)
        out.append({"kind": "session_kills", "label": "most kills in a session",
                    "value": float(top["kills"]), "unit": "kills", "map_name": None, "when": top["session_date"],
                    "session_id": int(top["session_id"]), "session_date": top["session_date"],
                    "file_name": None})  # fmt: skip
    return out


def milestone_events(sessions: pl.DataFrame) -> list[Event]:
    """Career thresholds crossed, each in the session that crossed it. ``sessions``: the
    per-(session, player) totals (``player_sessions``)."""
    import polars as pl

    if sessions.is_empty():
        return []
    frame = sessions.sort("session_date", "session_id").with_columns(
        pl.lit(1).alias("sessions_one")
    )
    columns = {"kills": "kills", "sessions": "sessions_one", "rounds": "rounds",
               "revives": "revives"}  # fmt: skip
    # old layouts do not write revives: a null is 0 here (nothing to count towards)
    frame = frame.with_columns([pl.col(c).fill_null(0) for c in columns.values()])
    frame = frame.with_columns(
        [pl.col(c).cum_sum().over("guid").alias(f"cum_{k}") for k, c in columns.items()]
    )
    events: list[Event] = []
    for r in frame.iter_rows(named=True):
        for kind, column in columns.items():
            now = int(r[f"cum_{kind}"])
            before = now - int(r[column])
            for t in MILESTONES[kind][1]:
                if before < t <= now:
                    events.append(
                        Event(f"milestone|{kind}|{t}|{r['guid']}", kind, "milestone",
                              int(r["session_id"]), None, r["last_end"], str(r["name"]),
                              str(r["guid"]), float(t), None, None, None,
                              session_date=r["session_date"])
                    )  # fmt: skip
    return events
