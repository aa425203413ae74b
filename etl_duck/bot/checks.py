"""``etl-duck bot --check``: validate the setup without Discord (and without a token).

Checks the data directory (readable and writable), the lake (readable, what it holds),
the link store, and the game server over SSH when it is configured (``Fetcher.check``).
Prints one line per item; nothing secret is printed (the token only as set / missing).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from etl_duck.domain.sources import label
from etl_duck.settings import Settings

Status = Literal["ok", "fail", "skip", "info"]
MARKS: dict[Status, str] = {"ok": "[ ok ]", "fail": "[FAIL]", "skip": "[skip]", "info": "[info]"}


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str


def _config(settings: Settings) -> list[CheckResult]:
    s = settings
    out = [
        check_token(s.discord_token.get_secret_value() if s.discord_token else ""),
        CheckResult(
            "command sync",
            "info",
            "global (production)"
            if s.production
            else f"guild {s.discord_guild_id} (development)"
            if s.discord_guild_id
            else "global; set ETL_DUCK_DISCORD_GUILD_ID for instant sync in development",
        ),
        CheckResult(
            "stats channel",
            "info",
            str(s.stats_channel_id) if s.stats_channel_id else "not set: no round/session posts",
        ),
        CheckResult(
            "voice channels",
            "info",
            f"{len(s.voice_channel_ids)} watched; session at ≥ {s.session_start_players} players"
            if s.voice_channel_ids
            else "none: sessions are not detected from voice (no digest when voice "
            "empties); set ETL_DUCK_VOICE_CHANNEL_IDS=[id, …] (a JSON list)",
        ),
        CheckResult(
            "admins",
            "info",
            f"{len(s.admin_user_ids)} users, {len(s.admin_role_ids)} roles"
            if s.admin_user_ids or s.admin_role_ids
            else "none configured: /sync, /cache, /admin_link and /set_teams are refused to "
            "everyone; set "
            "ETL_DUCK_ADMIN_ROLE_IDS=[id, …] or ETL_DUCK_ADMIN_USER_IDS=[id, …] (JSON lists)",
        ),
    ]
    if s.discord_api_base or s.discord_gateway_url:  # visible, should it ever be set in production
        out.append(
            CheckResult(
                "discord endpoints",
                "info",
                f"TEST ONLY (a Discord emulator): REST {s.discord_api_base or 'Discord'}, "
                f"gateway {s.discord_gateway_url or 'Discord'}; unset these in production",
            )
        )
    return out


_TOKEN = re.compile(r"^([A-Za-z0-9_-]{16,40})\.([A-Za-z0-9_-]{4,10})\.([A-Za-z0-9_-]{20,})$")


def check_token(token: str) -> CheckResult:
    """The token's shape only (three dot-separated base64 parts, the first the bot's id):
    --check never contacts Discord, so the token itself is verified on connect."""
    token = token.strip()
    if not token:
        return CheckResult(
            "discord token", "info",
            "missing: set ETL_DUCK_DISCORD_TOKEN to run the bot (not needed for --check)",
        )  # fmt: skip
    m = _TOKEN.match(token.removeprefix("Bot ").strip())
    bot_id = None
    if m:
        head = m.group(1)
        with contextlib.suppress(ValueError, UnicodeDecodeError, binascii.Error):
            decoded = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode()
            bot_id = int(decoded) if decoded.isdigit() else None
    if bot_id is None:
        return CheckResult(
            "discord token", "fail",
            "does not look like a bot token (three parts separated by dots, the first one the "
            "bot's id in base64): copy it again from the developer portal → your application "
            "→ Bot → Reset Token",
        )  # fmt: skip
    return CheckResult(
        "discord token", "ok",
        f"has a bot token's shape (bot id {bot_id}); the token itself is verified only when "
        "the bot connects",
    )  # fmt: skip


def check_data_dir(data_dir: Path) -> CheckResult:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        state = data_dir / "state"
        state.mkdir(exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=state, prefix=".check-", delete=True) as f:
            f.write(b"etl-duck")
            f.flush()
            os.fsync(f.fileno())
            f.seek(0)
            if f.read() != b"etl-duck":
                return CheckResult("data dir", "fail", f"{data_dir}: read back differs")
        if not os.access(data_dir, os.R_OK | os.X_OK):
            return CheckResult("data dir", "fail", f"{data_dir}: not readable")
    except OSError as exc:
        return CheckResult("data dir", "fail", f"{data_dir}: {exc.strerror or exc}")
    return CheckResult("data dir", "ok", f"{data_dir.resolve()}: readable and writable")


def check_lake(data_dir: Path, min_rounds: int) -> CheckResult:
    from etl_duck.query.stats import Stats

    try:
        info = Stats(data_dir, min_rounds=min_rounds).status()
    except Exception as exc:
        return CheckResult("lake", "fail", f"not readable: {type(exc).__name__}: {exc}")
    if not info.get("sessions"):
        return CheckResult("lake", "ok", "readable, empty (no data yet): fetch or ingest files")
    detail = (
        f"version {info['version']}: {info['sessions']} sessions, {info['counted_rounds']} "
        f"counted rounds, {info['players']} players, {info['first_date']} → {info['last_date']}"
    )
    open_problems = {
        "quarantined files": len(info.get("quarantined") or {}),
        "version conflicts": len(info.get("conflicts") or {}),
        "rejected lines": len(info.get("rejected") or []),
    }
    listed = [f"{n} {what}" for what, n in open_problems.items() if n]
    if listed:
        detail += f"; {', '.join(listed)} (see `etl-duck status`)"
    return CheckResult("lake", "ok", detail)


def check_links(data_dir: Path) -> CheckResult:
    from etl_duck.links import LinkStore, links_path

    try:
        with LinkStore(links_path(data_dir)) as store:
            n = store.count()
    except Exception as exc:
        return CheckResult("link store", "fail", f"{type(exc).__name__}: {exc}")
    return CheckResult("link store", "ok", f"{links_path(data_dir)}: {n} linked users")


async def check_ssh(settings: Settings, make_fetcher: Callable[[Settings], Any]) -> CheckResult:
    if not settings.ssh_host:
        return CheckResult("game server (SSH)", "skip", "not configured (ETL_DUCK_SSH_HOST)")
    fetcher = make_fetcher(settings)
    try:
        line = await asyncio.wait_for(fetcher.check(), settings.connect_timeout_s + 15.0)
    except TimeoutError:
        return CheckResult("game server (SSH)", "fail", "timed out")
    except Exception as exc:
        return CheckResult("game server (SSH)", "fail", f"{type(exc).__name__}: {exc}")
    finally:
        with contextlib.suppress(Exception):  # closing a connection that never opened
            await fetcher.close()
    return CheckResult("game server (SSH)", "ok", str(line))


def _default_fetcher(settings: Settings) -> Any:
    from etl_duck.fetch.poller import Fetcher  # lazy: asyncssh only when SSH is configured

    def no_ingest(paths: list[Path]) -> None:  # --check lists, never downloads
        raise RuntimeError("bot --check does not ingest")

    return Fetcher(settings, no_ingest)


async def run_checks(
    settings: Settings, make_fetcher: Callable[[Settings], Any] | None = None
) -> list[CheckResult]:
    data_dir = Path(settings.data_dir)
    results = _config(settings)
    results.append(await asyncio.to_thread(check_data_dir, data_dir))
    results.append(await asyncio.to_thread(check_lake, data_dir, settings.min_rounds))
    results.append(await asyncio.to_thread(check_links, data_dir))
    sources = settings.sources()
    if len(sources) <= 1:
        results.append(
            await check_ssh(sources[0] if sources else settings, make_fetcher or _default_fetcher)
        )
    else:  # one line per game server
        for source in sources:
            r = await check_ssh(source, make_fetcher or _default_fetcher)
            name = f"game server {label(source.server_name)} (SSH)"
            results.append(CheckResult(name, r.status, r.detail))
    return results


def print_results(results: list[CheckResult], out: TextIO) -> int:
    width = max(len(r.name) for r in results)
    for r in results:
        out.write(f"{MARKS[r.status]} {r.name.ljust(width)}  {r.detail}\n")
    failed = [r.name for r in results if r.status == "fail"]
    if failed:
        out.write(f"\n{len(failed)} check(s) failed: {', '.join(failed)}\n")
        return 1
    out.write(
        "\nAll checks passed. Discord itself is not contacted by --check: the token is "
        "verified when the bot connects.\n"
    )
    return 0
