"""Settings from the environment / `.env` (prefix ``ETL_DUCK_``), validated by pydantic.

Only the outer layers (CLI, fetch, bot) read this; the query core takes plain arguments so
notebooks can use it without configuration and its import stays cheap.
Secrets are ``SecretStr``: their repr is ``'**********'``, so they never reach logs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, get_args, get_origin

from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from etl_duck.domain.sources import check_server_name
from etl_duck.ingest.options import IngestOptions

if TYPE_CHECKING:
    from etl_duck.query.stats import Stats, TeamOverrides

_INGEST = IngestOptions()  # the defaults

#: what a server of ``ETL_DUCK_SERVERS`` may set (the rest is the main server's)
_SOURCE_FIELDS = (
    "ssh_host", "ssh_port", "ssh_user", "ssh_key_path", "ssh_key_passphrase", "ssh_known_hosts",
    "ssh_remote_dir",
)  # fmt: skip


class ServerSource(BaseModel):
    """One more game server to fetch from (``ETL_DUCK_SERVERS``, a JSON list): its name
    (how the lake and ``--server`` call it) and its SSH access; a field left out is the
    main server's (``ETL_DUCK_SSH_*``)."""

    model_config = {"extra": "forbid"}

    name: str
    #: left out: the main server's host (two game servers on one machine, two folders)
    ssh_host: str | None = Field(None, min_length=1)
    ssh_port: int | None = Field(None, ge=1, le=65535)
    ssh_user: str | None = None
    ssh_key_path: Path | None = None
    ssh_key_passphrase: SecretStr | None = None
    ssh_known_hosts: Path | None = None
    ssh_remote_dir: str | None = Field(None, min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if check_server_name(name) == "":
            raise ValueError("'main' is the server of ETL_DUCK_SSH_HOST; give this one a name")
        return name


#: the R1/R2 pairing window of STATS_FORMAT §8 (a 30-minute round 2 + the 15-minute slack)
MIN_SESSION_GAP_MINUTES = 45


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ETL_DUCK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- lake and analytics
    data_dir: Path = Path("data")
    # the ingest's own defaults: one place says what the lake is derived with
    session_gap_minutes: int = Field(
        _INGEST.session_gap_minutes, description="gap that starts a new gaming session"
    )
    timezone: str = Field(_INGEST.timezone, description="the game server's local time zone")
    min_rounds: int = Field(10, ge=0, description="minimum rounds to appear on a leaderboard")
    filler_maps: list[str] = Field(default_factory=lambda: list(_INGEST.filler_maps))
    slow_query_ms: float = Field(50.0, description="queries slower than this are logged")
    future_tolerance_hours: float = Field(
        _INGEST.future_tolerance_hours or 0.0,
        ge=0,
        description="a round file dated more than this many hours ahead of now (in TIMEZONE) "
        "is quarantined, not committed: its game server's clock is wrong (0: no check)",
    )
    ingest_workers: int = Field(
        _INGEST.workers,
        ge=0,
        le=64,
        description="parse processes for a backfill or rebuild (0: none for a backfill, up "
        "to 4 for a rebuild; 1: none, the least memory; each one adds ~170 MiB and makes "
        "the work on 2 cores ~25 % faster)",
    )

    # --- SSH / SFTP fetch (the game server)
    ssh_host: str | None = None
    ssh_port: int = Field(22, ge=1, le=65535)
    ssh_user: str | None = None
    ssh_key_path: Path | None = None
    ssh_key_passphrase: SecretStr | None = None
    ssh_known_hosts: Path = Path("~/.ssh/known_hosts")
    ssh_remote_dir: str = Field(".etlegacy/legacy/gamestats", min_length=1)
    #: more game servers, fetched into the same lake (JSON list of ServerSource)
    servers: list[ServerSource] = Field(default_factory=list)
    #: which server ``ssh_*`` point at ("" = the main one); set by :meth:`sources` only: a
    #: private attribute, so no environment variable or .env line can set it (all fetches
    #: then stored everything again as another server's duplicates)
    _server_name: str = PrivateAttr("")
    fetch_parallel: int = Field(5, ge=1, le=64, description="concurrent downloads")
    fetch_stable_seconds: float = Field(
        30.0,
        description="a file first seen older than this (mtime) gets its second look within the "
        "same poll (a file is taken only when two looks agree)",
    )
    poll_interval_s: float = Field(60.0, gt=0)
    active_poll_interval_s: float = Field(10.0, gt=0, description="poll interval during a session")
    connect_timeout_s: float = Field(15.0, gt=0)
    # added by the fetch module
    fetch_recheck_s: float = Field(
        0.5, gt=0, description="when a poll leaves new files pending, look again this soon"
    )
    fetch_timeout_s: float = Field(
        60.0,
        gt=0,
        description="one file's download, at most; and how long any one SFTP request may go "
        "unanswered before the connection is dropped",
    )
    fetch_max_file_bytes: int = Field(
        16 * 1024 * 1024, ge=1, description="larger remote files are skipped (stats are KBs)"
    )
    ssh_keepalive_s: float = Field(15.0, ge=0, description="detect a dead connection (0: off)")
    reconnect_backoff_s: float = Field(1.0, gt=0, description="first wait after a failure")
    reconnect_backoff_max_s: float = Field(300.0, gt=0, description="longest wait (doubling)")

    # --- Discord bot
    discord_token: SecretStr | None = None
    discord_guild_id: int | None = Field(None, description="sync commands to this guild (dev)")
    production: bool = Field(False, description="sync commands globally instead of to one guild")
    stats_channel_id: int | None = None
    voice_channel_ids: list[int] = Field(default_factory=list)
    admin_role_ids: list[int] = Field(default_factory=list)
    admin_user_ids: list[int] = Field(default_factory=list)
    session_start_players: int = Field(6, ge=1, description="voice members that start a session")
    session_end_players: int = Field(2, ge=0, description="below this many, a session may end")
    session_end_minutes: float = Field(10.0, description="…after staying below for this long")
    # added by the bot module
    voice_recount_s: float = Field(
        5.0, ge=0, description="voice member counts are recomputed at most this often"
    )
    team_channel_ids: list[int] = Field(
        default_factory=list,
        description="the two team voice channels: a split into them is forecast and scored",
    )
    forecast_settle_s: float = Field(
        20.0, ge=0, description="teams must stay unchanged this long before a forecast post"
    )
    forecast_min_players: int = Field(
        2, ge=1, description="linked players needed in each team channel for a forecast"
    )
    page_timeout_s: float = Field(
        180.0, gt=0, description="paged answers stop reacting to buttons after this long"
    )
    scoreboard_interval_s: float = Field(
        5.0, ge=0, description="the live scoreboard is edited at most this often (rate limits)"
    )

    @model_validator(mode="after")
    def _distinct_servers(self) -> Settings:
        names = [s.name for s in self.servers]
        if len(set(names)) != len(names):
            raise ValueError(f"ETL_DUCK_SERVERS: two servers share a name ({', '.join(names)})")
        for i, src in enumerate(self.servers, 1):
            if src.ssh_host is None and self.ssh_host is None:
                raise ValueError(
                    f"ETL_DUCK_SERVERS: entry {i} ({src.name}) has no ssh_host and there is "
                    "no ETL_DUCK_SSH_HOST to take it from — give the entry an ssh_host or set "
                    "ETL_DUCK_SSH_HOST"
                )
        seen: dict[tuple[str, ...], str] = {}
        for source in self.sources():
            where = _remote_folder(source)
            name = "the main server" if not source.server_name else source.server_name
            if where in seen:
                raise ValueError(
                    f"ETL_DUCK_SERVERS: {name} reads the same folder as {seen[where]} "
                    f"({source.ssh_user or ''}{'@' if source.ssh_user else ''}"
                    f"{source.ssh_host}:{source.ssh_port} {source.ssh_remote_dir}): its files "
                    "would be fetched twice — give it its own ssh_remote_dir (or ssh_host), or "
                    "leave it out"
                )
            seen[where] = name
        return self

    @field_validator("session_gap_minutes")
    @classmethod
    def _gap(cls, minutes: int) -> int:
        """The gap must exceed the R1/R2 pairing window (STATS_FORMAT §8): grouping runs
        before pairing, so a shorter gap split a long map's two rounds into two sessions
        and its round 2 was never counted (an orphan)."""
        if minutes < MIN_SESSION_GAP_MINUTES:
            raise ValueError(
                f"must be at least {MIN_SESSION_GAP_MINUTES} minutes: a map's round 2 may end "
                "that long after its round 1, and a shorter gap would split the two rounds "
                "into two sessions (round 2 then never counts)"
            )
        return minutes

    @field_validator("timezone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        """A zone the clock rules can read (a typo failed the first ingest with an
        unexpected error, after storing the files; an empty one turned them off)."""
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(zone)
        except (ValueError, OSError, KeyError):  # KeyError: ZoneInfoNotFoundError
            raise ValueError(
                "not a time zone: give the game server's IANA zone, e.g. Europe/Berlin or UTC"
            ) from None
        return zone

    @field_validator("team_channel_ids")
    @classmethod
    def _two_teams(cls, ids: list[int]) -> list[int]:
        if ids and (len(ids) != 2 or ids[0] == ids[1]):
            raise ValueError("give exactly two different voice channel ids (team A, team B)")
        return ids

    # --- the static site (`etl-duck site`)
    site_dir: Path | None = Field(
        None, description="where `etl-duck site` publishes the site (default: DATA_DIR/site)"
    )
    site_url: str | None = Field(
        None, description="public URL of the site: the bot links its posts to the pages"
    )
    site_title: str = Field("etl-duck", description="the site's name, on every page")
    site_on_commit: bool = Field(
        False, description="`etl-duck watch` and the bot rebuild the site after each commit"
    )
    # TEST ONLY: point discord.py at a Discord emulator (tests/discord_emulator). Unset in
    # production: discord.py then talks to https://discord.com/api/v10 and its own gateway.
    discord_api_base: str | None = Field(
        None,
        pattern=r"^https?://[^/]+(/.*)?/api/v10$",
        description="TEST ONLY: REST base URL ending in /api/v10 (a Discord emulator)",
    )
    discord_gateway_url: str | None = Field(
        None,
        pattern=r"^wss?://",
        description="TEST ONLY: gateway websocket URL (a Discord emulator)",
    )

    # ---- the one place settings become the library's arguments

    def ingest_options(self) -> IngestOptions:
        """What the lake's content depends on (CLI, fetch pipeline and bot share it)."""
        return IngestOptions(
            session_gap_minutes=self.session_gap_minutes,
            filler_maps=tuple(self.filler_maps),
            timezone=self.timezone,
            workers=self.ingest_workers,
            future_tolerance_hours=self.future_tolerance_hours or None,
        )

    @property
    def server_name(self) -> str:
        """The game server these settings fetch from ("" = the main one)."""
        return self._server_name

    def sources(self) -> list[Settings]:
        """One settings per game server to fetch from, its ``ssh_*`` and ``server_name`` set:
        the main server (if ``ssh_host`` is set), then each of ``servers``."""
        out = [self] if self.ssh_host else []
        for src in self.servers:
            update = {f: getattr(src, f) for f in _SOURCE_FIELDS if getattr(src, f) is not None}
            source = self.model_copy(update={**update, "servers": []})
            source._server_name = src.name
            out.append(source)
        return out

    def site_path(self) -> Path:
        return self.site_dir if self.site_dir is not None else self.data_dir / "site"

    def stats(self, teams: TeamOverrides | None = None, *, short_lived: bool = False) -> Stats:
        """The query API; ``teams``: where admins' team corrections live (default: the bot
        state store of the data directory, if there is one). Every process starts its
        rating from the saved one; a ``short_lived`` one (a CLI command) also saves its
        own, since it would otherwise replay the history each time it runs."""
        from etl_duck.query.ratingstore import RatingStore
        from etl_duck.query.stats import Stats

        if teams is None:
            from etl_duck.botstate import BotState, state_path

            if state_path(self.data_dir).exists():
                teams = BotState.in_data_dir(self.data_dir)
        return Stats(
            self.data_dir,
            min_rounds=self.min_rounds,
            slow_query_ms=self.slow_query_ms,
            teams=teams,
            ratings=RatingStore.in_data_dir(self.data_dir, save=short_lived),
            timezone=self.timezone,
        )


def _remote_folder(source: Settings) -> tuple[str, ...]:
    """What tells a server's remote folder apart: host, port and folder; and the user,
    whose home a relative folder is in (`gamestats` of two users is two folders; `~/x`
    is `x`, as the fetch reads it)."""
    import posixpath

    folder = source.ssh_remote_dir
    folder = "." if folder == "~" else folder.removeprefix("~/")
    folder = posixpath.normpath(folder)
    user = "" if folder.startswith("/") else source.ssh_user or ""
    return ((source.ssh_host or "").lower(), str(source.ssh_port), user, folder)


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]


def settings_problem(exc: ValidationError | SettingsError) -> str:
    """One sentence for settings that do not validate: each variable, where in it, why.
    A value is shown only when it is a plain top-level one: never a secret, never an entry
    of a JSON list (``ETL_DUCK_SERVERS`` entries hold passphrases), never a whole model."""
    prefix = Settings.model_config.get("env_prefix", "")
    if isinstance(exc, SettingsError):  # a JSON value (e.g. ETL_DUCK_SERVERS) does not parse
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"{prefix}{field[1]}".upper() if field else "a setting"
        why = f" ({exc.__cause__})" if exc.__cause__ else ""
        example = _json_example(field[1]) if field else ""
        how = f" (a JSON list, e.g. {name}={example})" if example else ""
        return (
            f"invalid setting {name}: its value cannot be read{why}: fix it in the environment "
            f"or in .env{how}"
        )
    parts = []
    for err in exc.errors():
        loc = err["loc"]
        msg = str(err["msg"]).removeprefix("Value error, ")  # our validators' own words
        if msg[1:2].islower():  # "Input should …" reads on in the sentence; "ETL_DUCK_…" stays
            msg = msg[:1].lower() + msg[1:]
        if not loc:  # a rule over several settings (a model validator): no single value
            parts.append(msg)
            continue
        name = f"{prefix}{loc[0]}".upper()
        where = ""
        if len(loc) > 1:  # inside a JSON list or object: entry numbers count from 1
            steps = [f"entry {x + 1}" if isinstance(x, int) else str(x) for x in loc[1:]]
            where = f" ({', '.join(steps)})"
        value = err.get("input")
        plain = isinstance(value, str | int | float) and not isinstance(value, bool)
        shown = f"={value!r}" if len(loc) == 1 and plain and not _secret(str(loc[0])) else ""
        if len(loc) == 1 and err["type"] == "list_type" and _json_example(str(loc[0])):
            msg += f" (a JSON list, e.g. {name}={_json_example(str(loc[0]))})"
        parts.append(f"{name}{where}{shown}: {msg}")
    return f"invalid setting {'; '.join(parts)}; fix it in the environment or in .env"


def _json_example(field: str) -> str:
    """An example value of a list setting (they are JSON), or "" for any other setting."""
    info = Settings.model_fields.get(field)
    if info is None or get_origin(info.annotation) is not list:
        return ""
    (item,) = get_args(info.annotation)
    if item is int:
        return "[123, 456]"
    if item is str:
        return '["mp_sillyctf"]'
    return """'[{"name": "scrim", "ssh_host": "scrim.example.org"}]'"""


def _secret(field: str) -> bool:
    info = Settings.model_fields.get(field)
    return info is not None and "SecretStr" in repr(info.annotation)
