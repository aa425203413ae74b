"""Which pages the site has, what each one's content depends on (its key), and how to
render it — everything read through :class:`~etl_duck.query.stats.Stats`.

A page key names the data the page shows by the lake versions that last changed it, using
the cache's own version keys (``Stats.serving.signature(date_from, date_to)``: the last
lake version that changed any session date in a window):

* a session page — its session date, and its neighbours (the prev/next links);
* a player page — the dates the player appears on (a commit elsewhere leaves it alone),
  and what it shows of everyone else (``sections``): his rating card as shown (the rank and
  σ move with others' maps), the lake up to his last rated map (his rating history), his
  regular teammates' current names;
* a year of sessions — that year; a leaderboard — its resolved window;
* home, indexes, the search index, the records and the rating list — all time (they
  change with every commit).

Every key also holds the site's code fingerprint and options, so a new template or a new
``min_rounds`` re-renders what it affects. Computing all keys costs a few queries, not one
per page; only pages whose key changed are rendered (``build.py``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from etl_duck.domain.counting import NOT_A_GAME
from etl_duck.domain.parse import shows_something
from etl_duck.domain.sources import label
from etl_duck.query.stats import NoData, SessionReport, Stats
from etl_duck.query.windows import ALL_FROM, ALL_TO, WINDOWS, Window
from etl_duck.site import sections, svg, urls
from etl_duck.site.render import Renderer, code_fingerprint, display_name, plain, tell_apart

if TYPE_CHECKING:
    import polars as pl

HOME_WINDOWS = ("week", "month", "season", "all")
HOME_METRICS = ("dpm", "kills")
WINDOW_TITLES = {
    "all": "All time",
    "season": "This season",
    "month": "This month",
    "week": "This week",
    "session": "Last session",
}
PLAYER_COLUMNS = (  # the session and player tables: (key, header, decimals, hidden on phones)
    ("rounds", "Rounds", 0, True),
    ("kills", "Kills", 0, False),
    ("deaths", "Deaths", 0, False),
    ("kd", "K/D", 2, False),
    ("dpm", "DPM", 1, False),
    ("accuracy", "Acc %", 1, True),
    ("headshot_rate", "HS %", 1, True),
    ("revives", "Revives", 0, True),
    ("gibs", "Gibs", 0, True),
    ("objectives", "Obj", 0, True),
)
CARD_STATS = (  # a player's career numbers, each also machine-readable on the page
    ("rounds", "Rounds", 0),
    ("kills", "Kills", 0),
    ("deaths", "Deaths", 0),
    ("kd", "K/D", 2),
    ("dpm", "DPM", 1),
    ("accuracy", "Accuracy %", 1),
    ("headshot_rate", "Headshot kills %", 1),
    ("efficiency", "Efficiency %", 1),
    ("damage_given", "Damage given", 0),
    ("time_played_s", "Seconds played", 0),
    ("revives", "Revives", 0),
    ("gibs", "Gibs", 0),
    ("objectives", "Objectives", 0),
    ("multikills", "Multikills", 0),
)
FORM_SESSIONS = 30  # sessions in a player's form chart
RECENT_SESSIONS = 10  # rows of a player's recent sessions and of the home page's list
BULK_SESSIONS = 8  # this many stale sessions in a year: load the year in one pass


#: the leaderboard's extra column that repeats a metric's own value (not shown on its board)
_REPEATED_COLUMN = {"kills": "kills", "dpm": "dpm", "games": "rounds"}


@dataclass(frozen=True)
class SiteOptions:
    title: str = "etl-duck"
    leaderboard_size: int = 50
    scope: urls.Scope = field(default_factory=urls.Scope)


@dataclass(frozen=True)
class Page:
    path: str  # relative to the site root
    key: str  # changes exactly when the page's content may change
    render: Callable[[], bytes]
    group: int | None = None  # a session page's year (stale ones are loaded per year)


def page_key(*parts: Any) -> str:
    text = json.dumps(parts, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class Sessions:
    """Session reports and weapon tables for the session pages being rendered: a year in
    one pass when many of its pages are stale (a full build), one by one otherwise. Holds
    one year at a time (pages are rendered oldest first), so a full build of a long
    history does not keep every report in memory."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.wanted: Counter[int] = Counter()
        self._year: tuple[int, dict[int, SessionReport], dict[int, pl.DataFrame]] | None = None

    def get(self, session_id: int, day: date) -> tuple[SessionReport, pl.DataFrame]:
        year = day.year
        if self.wanted[year] >= BULK_SESSIONS:
            if self._year is None or self._year[0] != year:
                self._year = None  # drop the previous year before loading the next
                lo, hi = date(year, 1, 1), date(year, 12, 31)
                reports = {r.session_id: r for r in self.stats.session_reports(lo, hi)}
                self._year = (year, reports, self.stats.sessions_weapons(lo, hi))
            _, reports, weapons = self._year
            return reports[session_id], weapons.get(session_id, _no_weapons())
        return (
            self.stats.session_by_id(session_id),
            self.stats.session_weapons(session_id, day),
        )


def _no_weapons() -> pl.DataFrame:
    """A session whose rounds recorded no weapon use (the page leaves the table out)."""
    import polars as pl

    return pl.DataFrame()


class Plan:
    """Every page of one scope of the site at the lake's current version."""

    def __init__(
        self, stats: Stats, options: SiteOptions, gone: dict[str, int] | None = None
    ) -> None:
        self.stats = stats
        #: session dates the lake no longer holds → the version that removed them (build.py
        #: ``gone_dates``): a window that held one changed then, as for a long-running process
        self.gone = gone or {}
        self.options = options
        self.scope = options.scope
        self.server = options.scope.server  # None: every game server
        self.servers: list[str] = []  # the lake's game servers, if more than one
        self.sessions = Sessions(stats)
        self._index: list[dict[str, Any]] | None = None
        self._records: dict[str, Any] | None = None
        self.renderer = Renderer({"title": options.title, "rating_min_maps": stats.RATING_MIN_MAPS})
        self.base = (
            code_fingerprint(),
            options.title,
            options.leaderboard_size,
            stats.min_rounds,
            stats.RATING_MIN_MAPS,
            self.scope.server,
        )
        self.player_guids: set[str] = set()  # players with a page
        self.session_ids: set[int] = set()  # sessions with a page
        self.ratings: dict[str, dict[str, Any]] = {}  # rating cards, computed for the keys
        self._any_override = False  # an admin corrected some session's teams

    # ------------------------------------------------------------------ keys

    def signature(self, date_from: date = ALL_FROM, date_to: date = ALL_TO) -> int:
        found = self.stats.serving.signature(date_from, date_to)
        if self.gone:
            lo, hi = date_from.isoformat(), date_to.isoformat()
            found = max(found, *(v for d, v in self.gone.items() if lo <= d <= hi), 0)
        return found

    def day_signature(self, day: date) -> int:
        return self.stats.serving.date_version(day)

    def key(self, *parts: Any) -> str:
        return page_key(*self.base, *parts)

    def prepare(self, stale: Iterable[Page]) -> None:
        """Tell the loaders which pages will be rendered (bulk loads for many sessions)."""
        self.sessions.wanted.update(p.group for p in stale if p.group is not None)

    def overrides(self, session_id: int) -> list[tuple[str | None, list[str]]] | None:
        """An admin's team correction of a session as a page key part (sorted: a frozenset's
        order changes from one process to the next), or None."""
        teams = self.stats.teams
        if teams is None or not self._any_override:
            return None
        found = teams.teams_for(int(session_id))
        return None if found is None else [(t.name, sorted(t.guids)) for t in found]

    def home_key(self, everything: int, listing: pl.DataFrame) -> str:
        """Home shows the last session's score card (teams an admin may correct) and boards
        of relative windows whose label says "(latest data)" depending on today."""
        last = int(listing["session_id"][0]) if listing.height else None
        latest = [self.stats.resolve_window(n, server=self.server).latest_data
                  for n in HOME_WINDOWS] if listing.height else []  # fmt: skip
        # no session yet: the page says whether rounds came in that none counts (any commit)
        waiting = self.stats.version() if last is None else None
        return self.key(
            "home", everything, last, self.overrides(last) if last else None, latest, waiting
        )

    def pages(self) -> list[Page]:
        self.stats.version()
        everything = self.signature()
        teams = self.stats.teams
        self._any_override = teams is not None and teams.teams_revision() > 0
        listing = self.stats.sessions(server=self.server)
        if self.server is not None:  # one server: its home, session lists and leaderboards
            out = [
                Page(urls.home(self.scope), self.home_key(everything, listing), self._home),
                Page(urls.sessions(self.scope), self.key("sessions", everything), self._sessions),
            ]
            return out + self._year_pages(listing) + self._leaderboard_pages(False)
        self.session_ids = {int(s) for s in listing["session_id"]}
        servers = sorted(set(listing["server"].to_list())) if listing.height else []
        self.servers = servers if len(servers) > 1 else []
        out = [
            Page(urls.home(self.scope), self.home_key(everything, listing), self._home),
            Page(urls.records(self.scope), self.key("records", everything), self._records_page),
            Page(urls.rating(self.scope), self.key("rating", everything), self._rating_page),
            Page(urls.sessions(self.scope), self.key("sessions", everything), self._sessions),
            Page(urls.players(self.scope), self.key("players", everything), self._players),
            Page("search.json", self.key("search.json", everything), self._search_json),
            Page("search.js", self.key("search.js", everything), self._search_js),
        ]
        out += self._year_pages(listing)
        out += self._session_pages(listing)
        out += self._player_pages()
        out += self._leaderboard_pages(listing.height > 0)
        return out

    def _year_pages(self, listing: pl.DataFrame) -> list[Page]:
        years = sorted({d.year for d in listing["session_date"]}) if listing.height else []
        return [
            Page(
                urls.sessions_year(y, self.scope),
                self.key("year", y, self.signature(date(y, 1, 1), date(y, 12, 31))),
                functools.partial(self._year, y),
            )
            for y in years
        ]

    def _session_pages(self, listing: pl.DataFrame) -> list[Page]:
        ids = listing["session_id"].to_list()[::-1]  # oldest first
        days = listing["session_date"].to_list()[::-1]
        pages = []
        for i, (sid, day) in enumerate(zip(ids, days, strict=True)):
            prev_id = ids[i - 1] if i > 0 else None
            next_id = ids[i + 1] if i + 1 < len(ids) else None
            key = self.key(
                "session", sid, self.day_signature(day), prev_id, next_id, self.overrides(sid)
            )
            render = self._session_renderer(int(sid), day, prev_id, next_id)
            pages.append(Page(urls.session(sid, self.scope), key, render, group=day.year))
        return pages

    def _player_pages(self) -> list[Page]:
        totals = self.stats.player_totals(Window("all", ALL_FROM, ALL_TO))
        dates = self.stats.player_dates()
        guids = sorted(str(g) for g in totals["guid"])
        self.player_guids = set(guids)
        others = sections.others_digest(self.stats, self.player_guids)
        self.ratings = sections.rating_cards(self.stats)
        pages = []
        for guid in guids:
            days = dates.get(guid, [])
            last = max((self.day_signature(d) for d in days), default=0)
            # the rating card as shown (rank, σ to two decimals): a commit that moves it for
            # everyone by a hair does not rewrite every player's page. Its chart is his (μ, σ)
            # after each of his maps, which only a change up to his last map can move.
            card = self.ratings.get(guid)
            chart = self.signature(ALL_FROM, card["last_played"]) if card else None
            key = self.key("player", guid, last, len(days), card, chart, others.get(guid))
            render = functools.partial(self._player, guid)
            pages.append(Page(urls.player(guid, self.scope), key, render))
        return pages

    def _leaderboard_pages(self, any_session: bool) -> list[Page]:
        windows = [w for w in WINDOWS if any_session or w != "session"]
        resolved = {w: self.stats.resolve_window(w, server=self.server) for w in windows}
        # a window's label says "(latest data)" when today is outside it: part of the keys
        index_key = self.key(
            "leaderboards",
            [(w.name, w.date_from, w.date_to, w.latest_data) for w in resolved.values()],
        )
        pages = [
            Page(urls.leaderboards(self.scope), index_key, lambda: self._leaderboards(resolved))
        ]
        for metric in self.stats.metrics():
            for name, w in resolved.items():
                key = self.key(
                    "leaderboard", metric, name, w.date_from, w.date_to, w.session_id,
                    w.latest_data, self.signature(w.date_from, w.date_to),
                )  # fmt: skip
                pages.append(
                    Page(
                        urls.leaderboard(metric, name, self.scope),
                        key,
                        functools.partial(self._leaderboard, metric, name, resolved),
                    )
                )
        return pages

    # ------------------------------------------------------------------ rendering

    def _render(self, template: str, path: str, **context: Any) -> bytes:
        server = None if self.server is None else label(self.server)
        return self.renderer.render(template, path, {"scope": self.scope, "server": server,
                                                     **context})  # fmt: skip

    def _player_link(self, guid: str) -> str:
        return urls.player(guid)  # one page per player, in the community's scope

    def _player_page(self, guid: Any) -> str | None:
        """The page of a player named by another answer (a teammate, a record holder), or
        None where he has none (only counted rounds make a page)."""
        return (
            self._player_link(str(guid))
            if guid is not None and str(guid) in self.player_guids
            else None
        )

    def _session_page(self, sid: Any) -> str | None:
        return urls.session(int(sid)) if sid is not None and int(sid) in self.session_ids else None

    def _records_view(self) -> dict[str, Any]:
        if self._records is None:
            self._records = sections.records_view(self.stats, self._player_page, self._session_page)
        return self._records

    def _board_rows(self, metric: str, window: Window, limit: int) -> list[dict[str, Any]]:
        m = self.stats.metrics()[metric]
        board = self.stats.leaderboard(metric, window, limit=limit, server=self.server)
        return [
            {
                "rank": r["rank"],
                "guid": r["guid"],
                "name": display_name(r["name"], r["guid"]),
                "link": self._player_link(r["guid"]),
                "value": r["value"],
                "shown": m.format(r["value"]),
                "rounds": r["rounds"],
                "kills": r["kills"],
                "deaths": r["deaths"],
                "dpm": r["dpm"],
            }
            for r in board.iter_rows(named=True)
        ]

    def _home(self) -> bytes:
        path = urls.home(self.scope)
        listing = self.stats.sessions(server=self.server)
        try:
            last: SessionReport | None = (
                self.stats.last_session()
                if self.server is None
                else self.stats.session(None, self.server)
            )
        except NoData:
            last = None
        boards = []
        if last is not None:
            for metric in HOME_METRICS:
                m = self.stats.metrics()[metric]
                for name in HOME_WINDOWS:
                    w = self.stats.resolve_window(name, server=self.server)
                    boards.append(
                        {
                            "title": f"{m.label} · {WINDOW_TITLES[name]}",
                            "window": w.label,
                            "link": urls.leaderboard(metric, name, self.scope),
                            "rows": self._board_rows(metric, w, 5),
                        }
                    )
        totals = self.stats.player_totals(Window("all", ALL_FROM, ALL_TO), self.server)
        headline = {
            "sessions": listing.height,
            "rounds": int(listing["rounds"].sum()) if listing.height else 0,
            "players": totals.height,
            "first": listing["session_date"].min() if listing.height else None,
            "last": listing["session_date"].max() if listing.height else None,
            # rounds in the lake though no session yet: none of them counts (yet)
            "uncounted": 0 if listing.height else self._uncounted_rounds(),
        }
        # every name the page lists, told apart where two players show the same one
        named = tell_apart(
            {
                "last": self._session_summary(last) if last is not None else None,
                "boards": boards,
                # the community's records and rating (one server's home links to them)
                "records": self._records_view()["all_time"] if self.server is None else None,
                "rating": sections.rating_rows(self.stats, sections.RATING_TOP, self._player_page)
                if self.server is None
                else None,
            }
        )
        return self._render(
            "home.html",
            path,
            title="Home",
            headline=headline,
            recent=_session_rows(listing.head(RECENT_SESSIONS)),
            servers=[(label(s), urls.home(urls.Scope(s))) for s in self.servers],
            **named,
        )

    def _uncounted_rounds(self) -> int:
        try:
            return int(self.stats.run("lake_status")["rounds"][0] or 0)
        except NoData:
            return 0

    def _sessions(self) -> bytes:
        listing = self.stats.sessions(server=self.server)
        years = []
        if listing.height:
            by_year = Counter(d.year for d in listing["session_date"])
            years = [
                {"year": y, "sessions": n, "link": urls.sessions_year(y, self.scope)}
                for y, n in sorted(by_year.items(), reverse=True)
            ]
        return self._render(
            "sessions.html",
            urls.sessions(self.scope),
            title="Sessions",
            years=years,
            recent=_session_rows(listing.head(RECENT_SESSIONS * 2)),
        )

    def _year(self, year: int) -> bytes:
        import polars as pl

        listing = self.stats.sessions(server=self.server)
        rows = listing.filter(pl.col("session_date").dt.year() == year)
        return self._render(
            "sessions_year.html",
            urls.sessions_year(year, self.scope),
            title=f"Sessions {year}",
            year=year,
            rows=_session_rows(rows),
        )

    def _session_summary(self, rep: SessionReport) -> dict[str, Any]:
        counted = int(rep.rounds["counted"].sum())
        teams = None
        if rep.teams is not None:
            by_guid = {r["guid"]: r for r in rep.players.iter_rows(named=True)}
            teams = [
                {
                    "name": t.name,
                    "points": t.points,
                    "players": [
                        {
                            "guid": g,
                            "name": display_name(by_guid[g]["name"], g),
                            "link": self._player_link(g),
                        }
                        for g in sorted(
                            (g for g in t.guids if g in by_guid),
                            key=lambda g: -(by_guid[g]["dpm"] or 0.0),
                        )
                    ],
                }
                for t in rep.teams
            ]
        mvp = None
        if rep.mvp is not None:
            mvp = {
                **rep.mvp,
                "name": display_name(rep.mvp.get("name"), rep.mvp["guid"]),
                "link": self._player_link(rep.mvp["guid"]),
            }
        return {
            "session_id": rep.session_id,
            "server": rep.server,  # "" (the main server) shows no label
            "server_label": label(rep.server),
            "date": rep.session_date,
            "start": rep.start_time,
            "end": rep.end_time,
            "duration": rep.duration,
            "rounds": counted,
            "maps": rep.maps.height,
            "players": rep.players.height,
            "teams": teams,
            # the score per opponent, as the bot tells it, when the opponents changed or
            # the teams were reshuffled (one total over them tells nobody anything)
            "segments": [{"line": seg.line(), "where": seg.where} for seg in rep.segments]
            if len(rep.segments) > 1
            else [],
            "mvp": mvp,
            "link": urls.session(rep.session_id),
        }

    def _session_renderer(
        self, sid: int, day: date, prev_id: int | None, next_id: int | None
    ) -> Callable[[], bytes]:
        def render() -> bytes:
            from etl_duck.domain.scoring import session_awards

            rep, weapons = self.sessions.get(sid, day)
            path = urls.session(sid, self.scope)
            players = [
                {
                    **r,
                    "name": display_name(r["name"], r["guid"]),
                    "link": self._player_link(r["guid"]),
                }
                for r in rep.players.iter_rows(named=True)
            ]
            awards = [
                {
                    "title": a.title,
                    "guid": a.guid,
                    "name": display_name(a.name, a.guid),
                    "shown": a.shown,
                    "link": self._player_link(a.guid),
                }
                for a in session_awards(rep.players)
            ]
            # one rule for every name on the page: a name two players show gets the GUID's start
            named = tell_apart(
                {"players": players, "awards": awards, "s": self._session_summary(rep)}
            )
            players = named["players"]
            labels = {str(p["guid"]): p["name"] for p in players}
            dpm_bars = svg.bars(
                [svg.Bar(p["name"], p["dpm"], urls.relative(path, p["link"])) for p in players],
                title="DPM per player",
            )
            return self._render(
                "session.html",
                path,
                title=f"Session {rep.session_date.isoformat()}",
                s=named["s"],
                players=players,
                columns=PLAYER_COLUMNS,
                maps=_map_rows(rep),
                rounds=_round_rows(rep),
                weapons=weapons.to_dicts() if not weapons.is_empty() else [],
                awards=named["awards"],
                dpm_chart=dpm_bars,
                timeline_chart=_timeline_chart(rep, labels),
                prev=urls.session(prev_id, self.scope) if prev_id is not None else None,
                next=urls.session(next_id, self.scope) if next_id is not None else None,
            )

        return render

    def _player(self, guid: str) -> bytes:
        import polars as pl

        from etl_duck.domain.metrics import with_metrics

        path = urls.player(guid, self.scope)
        card = self.stats.player(guid)
        card = dataclasses.replace(card, name=display_name(card.name, card.guid))
        sessions = self.stats.player_sessions(guid)
        form = sessions.tail(FORM_SESSIONS)
        recent = [
            {**r, "link": urls.session(r["session_id"])}
            for r in sessions.tail(RECENT_SESSIONS).reverse().iter_rows(named=True)
        ]
        # Σ first: a year's ratios come from the year's sums, never from session ratios
        sums = [c for c, t in sessions.schema.items() if t.is_integer() and c != "session_id"]
        by_year = (
            with_metrics(
                sessions.group_by(pl.col("session_date").dt.year().alias("year"))
                .agg(pl.len().alias("sessions"), *[pl.col(c).sum() for c in sums])
                .sort("year", descending=True)
            ).to_dicts()
            if not sessions.is_empty()
            else []
        )
        # teammates and rivals, told apart from each other and from him where names are shared
        others = tell_apart(
            {
                "me": {"guid": guid, "name": card.name},
                "mates": sections.teammates_view(self.stats, guid, self._player_page),
                "rivals": sections.rivals_view(self.stats, guid, self._player_page),
            }
        )
        return self._render(
            "player.html",
            path,
            title=card.name,
            card=card,
            stats=[(k, title, d, card.totals.get(k)) for k, title, d in CARD_STATS],
            first_seen=sessions["session_date"].min() if not sessions.is_empty() else None,
            last_seen=sessions["session_date"].max() if not sessions.is_empty() else None,
            session_count=sessions.height,
            form_chart=svg.line(
                form["dpm"].to_list() if not form.is_empty() else [],
                title=f"DPM in the last {form.height} sessions",
                labels=[d.isoformat() for d in form["session_date"]]
                if not form.is_empty()
                else None,
            ),
            recent=recent,
            by_year=by_year,
            columns=PLAYER_COLUMNS,
            weapons=card.weapons.to_dicts() if not card.weapons.is_empty() else [],
            maps=card.maps.to_dicts() if not card.maps.is_empty() else [],
            aliases=[a for a in card.aliases.to_dicts() if shows_something(str(a["name"]))],
            last_rounds=card.last_rounds.to_dicts() if not card.last_rounds.is_empty() else [],
            rating=self.ratings.get(guid),
            rating_chart=sections.rating_chart(self.stats, guid) if guid in self.ratings else "",
            bests=sections.bests_view(self.stats, guid, self._session_page),
            mates=others["mates"],
            rivals=others["rivals"],
        )

    def _players(self) -> bytes:
        totals = self.stats.player_totals(Window("all", ALL_FROM, ALL_TO)).sort(
            ["rounds", "guid"], descending=[True, False]
        )
        rows = [
            {
                **r,
                "name": display_name(r["name"], r["guid"]),
                "link": self._player_link(r["guid"]),
            }
            for r in totals.select("guid", "name", "rounds", "kills", "kd", "dpm").iter_rows(
                named=True
            )
        ]
        return self._render(
            "players.html", urls.players(self.scope), title="Players", rows=tell_apart(rows)
        )

    def _search_index(self) -> list[dict[str, Any]]:
        if self._index is not None:
            return self._index
        totals = self.stats.player_totals(Window("all", ALL_FROM, ALL_TO))
        aliases: dict[str, list[str]] = {}
        for guid, name in self.stats.aliases().select("guid", "name").iter_rows():
            aliases.setdefault(str(guid), []).append(plain(str(name)))
        out = []
        for r in totals.sort(["rounds", "guid"], descending=[True, False]).iter_rows(named=True):
            guid = str(r["guid"])
            name = display_name(r["name"], guid)
            out.append(
                {
                    "guid": guid,
                    "name": name,
                    "aliases": [
                        a
                        for a in dict.fromkeys(aliases.get(guid, []))
                        if a != name and shows_something(a)
                    ],
                    "rounds": int(r["rounds"]),
                    "page": self._player_link(guid),
                }
            )
        self._index = tell_apart(out)  # after the aliases: they are compared with the name
        return self._index

    def _search_json(self) -> bytes:
        return json.dumps({"players": self._search_index()}, ensure_ascii=False).encode()

    def _search_js(self) -> bytes:
        # the same index as a script: a page opened from file:// may not fetch() JSON
        data = json.dumps(self._search_index(), ensure_ascii=False).replace("</", "<\\/")
        return f"window.ETL_DUCK_PLAYERS = {data};\n".encode()

    def _leaderboards(self, resolved: dict[str, Window]) -> bytes:
        metrics = [
            {"key": k, "label": m.label, "help": m.help,
             "links": [(WINDOW_TITLES[w], urls.leaderboard(k, w, self.scope)) for w in resolved]}
            for k, m in self.stats.metrics().items()
        ]  # fmt: skip
        windows = [(WINDOW_TITLES[n], w.label) for n, w in resolved.items()]
        return self._render(
            "leaderboards.html",
            urls.leaderboards(self.scope),
            title="Leaderboards",
            metrics=metrics,
            windows=windows,
        )

    def _leaderboard(self, metric: str, window: str, resolved: dict[str, Window]) -> bytes:
        m = self.stats.metrics()[metric]
        w = resolved[window]
        rows = tell_apart(self._board_rows(metric, w, self.options.leaderboard_size))
        threshold = 0 if window == "session" else self.stats.min_rounds
        return self._render(
            "leaderboard.html",
            urls.leaderboard(metric, window, self.scope),
            title=f"{m.label} · {WINDOW_TITLES[window]}",
            metric=m,
            window_title=WINDOW_TITLES[window],
            window=w,
            rows=rows,
            # the board's own value is not shown twice (the kills board had two Kills
            # columns, the DPM board two DPM, "Rounds played" a Rounds column beside it)
            repeats=_REPEATED_COLUMN.get(metric),
            min_rounds=threshold,
            chart=svg.bars(
                [svg.Bar(r["name"], r["value"], None) for r in rows[:10]],
                title=f"{m.label}, top 10",
                decimals=m.decimals,
                unit=m.unit,
            ),
            windows=[
                (WINDOW_TITLES[n], urls.leaderboard(metric, n, self.scope), n == window)
                for n in resolved
            ],
            metrics=[
                (k, x.label, urls.leaderboard(k, window, self.scope), k == metric)
                for k, x in self.stats.metrics().items()
            ],
        )

    def _records_page(self) -> bytes:
        view = tell_apart(self._records_view())  # a copy: home shows part of the cached view
        return self._render("records.html", urls.records(self.scope), title="Records", **view)

    def _rating_page(self) -> bytes:
        rows = sections.rating_rows(self.stats, sections.EVERYONE, self._player_page)
        return self._render(
            "rating.html",
            urls.rating(self.scope),
            title="Skill rating",
            rows=tell_apart(rows),
        )


# --------------------------------------------------------------------------- row helpers


def _session_rows(listing: pl.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            **r,
            # real across a clock change (end − start is not: Stats.sessions)
            "duration": timedelta(seconds=r["duration_s"]),
            "link": urls.session(r["session_id"]),
            # two servers' sessions of one evening look alike: the table names the server
            # as soon as a row is not the main one's
            "server_label": label(r.get("server") or ""),
        }
        for r in listing.iter_rows(named=True)
    ]


def _half(r: dict[str, Any] | None) -> dict[str, Any] | None:
    """One half of a stopwatch map: how long it ran and whether the attackers completed.
    A half the defence held ran the whole clock (its file may not say how long)."""
    if r is None:
        return None
    seconds = r["duration_s"]
    if seconds is None and not r["attackers_won"]:
        seconds = r["time_limit_s"]
    return {"seconds": seconds, "done": bool(r["attackers_won"])}


def _map_rows(rep: SessionReport) -> list[dict[str, Any]]:
    """One row per map (match) with both halves: how long each took, who completed."""
    halves: dict[int, dict[int, dict[str, Any]]] = {}
    for r in rep.rounds.iter_rows(named=True):
        if r["counted"]:
            halves.setdefault(r["match_id"], {})[r["round_number"]] = r
    rows = []
    for m in rep.maps.iter_rows(named=True):
        got = halves.get(m["match_id"], {})
        rows.append(
            {
                **m,
                "r1": _half(got.get(1)),
                "r2": _half(got.get(2)),
                "winner": m.get("winner"),
                # the winning team by the name the score card gives it ("Team A" only
                # where the teams have no name)
                "winner_name": {"A": m.get("team_a"), "B": m.get("team_b")}.get(
                    m.get("winner") or ""
                )
                or (f"Team {m['winner']}" if m.get("winner") else None),
                "outcome": m.get("outcome"),
            }
        )
    return rows


def _round_rows(rep: SessionReport) -> list[dict[str, Any]]:
    """The evening's rounds, without those that were no game (`no_players`: a map that
    timed out with nobody on; `one_side`: a player alone; they join the evening next to
    them, DECISIONS "Idle servers", but were no round of it)."""
    return [
        {**r, "half": _half(r)}
        for r in rep.rounds.iter_rows(named=True)
        if r.get("reason") not in NOT_A_GAME
    ]


def _timeline_chart(rep: SessionReport, labels: dict[str, str]) -> Any:
    """Each top player's DPM per map, in play order (the six best of the evening), named as
    the page's player table names them (``labels``: GUID → name)."""
    tl = rep.dpm_timeline
    if tl.is_empty():
        return svg.line([], title="")
    order = list(dict.fromkeys(tl["match_id"].to_list()))  # in play order (Stats.session)
    maps = dict(zip(tl["match_id"], tl["map_name"], strict=True))
    # one series per player (GUID): two of them may show the same name (colour-code
    # variants clean to one), which the labels tell apart by the GUID's start (tell_apart)
    series: dict[str, list[float | None]] = {}
    for guid in (str(g) for g in rep.players.head(6)["guid"]):
        mine = {
            m: v for g, m, v in zip(tl["guid"], tl["match_id"], tl["dpm"], strict=True) if g == guid
        }
        series[labels[guid]] = [mine.get(m) for m in order]
    return svg.lines(series, title="DPM per map, top players", labels=[str(maps[m]) for m in order])
