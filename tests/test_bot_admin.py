"""Admin-only /sync and /cache: gating by user id and role id from the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot_fakes import (
    FakeFetcher,
    FakeInteraction,
    FakeRole,
    FakeUser,
    bot_running,
    field_value,
    invoke,
    run,
    template_lake,
)

ADMIN_USER = 4242
ADMIN_ROLE = 777


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_lake(tmp_path_factory)


def test_admin_commands_are_gated(lake: Path, tmp_path: Path) -> None:
    fetcher = FakeFetcher(on_poll=lambda: ["2025-11-12-210000-supply-round-1.txt"])
    nobody = FakeUser(id=1, roles=[FakeRole(5)])
    by_id = FakeUser(id=ADMIN_USER)
    by_role = FakeUser(id=2, roles=[FakeRole(5), FakeRole(ADMIN_ROLE)])

    async def main() -> tuple[dict[str, FakeInteraction], int]:
        async with bot_running(
            lake,
            tmp_path / "links.db",
            fetcher=fetcher,
            admin_user_ids=[ADMIN_USER],
            admin_role_ids=[ADMIN_ROLE],
        ) as bot:
            # the background watch polls too; count only what /sync adds
            await bot.remove_cog("Fetch")
            before = fetcher.polls
            out = {
                "sync_denied": await invoke(bot, "sync", FakeInteraction(bot, nobody)),
                "cache_denied": await invoke(bot, "cache", FakeInteraction(bot, nobody)),
            }
            assert fetcher.polls == before  # a refused /sync fetches nothing
            out["sync_by_id"] = await invoke(bot, "sync", FakeInteraction(bot, by_id))
            out["sync_by_role"] = await invoke(bot, "sync", FakeInteraction(bot, by_role))
            assert fetcher.polls == before + 2
            await invoke(bot, "last_session")
            await invoke(bot, "last_session")  # a cache hit
            out["cache"] = await invoke(bot, "cache", FakeInteraction(bot, by_role))
            return out, bot.cache.stats().hits

    out, hits = run(main())
    for key in ("sync_denied", "cache_denied"):
        assert out[key].last.ephemeral and "Only admins" in str(out[key].last.content)
    for key in ("sync_by_id", "sync_by_role"):
        msg = out[key].last
        assert msg.ephemeral and msg.embed.title == "Fetched"
        assert "1 downloaded" in str(msg.embed.description)
        assert "2025-11-12-210000-supply-round-1.txt" in field_value(msg.embed, "New files (1)")
    cache = out["cache"].last.embed
    assert 1 <= int(field_value(cache, "Hits").replace(",", "")) <= hits
    assert field_value(cache, "Lake version") == "1"


def test_no_admins_configured_means_nobody(lake: Path, tmp_path: Path) -> None:
    async def main() -> list[FakeInteraction]:
        async with bot_running(lake, tmp_path / "links.db") as bot:
            return [
                await invoke(bot, "sync", FakeInteraction(bot, FakeUser(id=ADMIN_USER))),
                await invoke(bot, "cache", FakeInteraction(bot, FakeUser(id=ADMIN_USER))),
            ]

    for inter in run(main()):
        assert inter.last.ephemeral and "Only admins" in str(inter.last.content)


def test_sync_without_fetcher(lake: Path, tmp_path: Path) -> None:
    async def main() -> FakeInteraction:
        async with bot_running(lake, tmp_path / "links.db", admin_user_ids=[ADMIN_USER]) as bot:
            return await invoke(bot, "sync", FakeInteraction(bot, FakeUser(id=ADMIN_USER)))

    msg = run(main()).last
    assert msg.ephemeral and "not configured" in str(msg.content)
