"""The emulator: a guild (text and voice channels, roles, members), the gateway and REST on one
aiohttp server on 127.0.0.1, the interactions a test plays as a Discord user, and the record of
everything the bot sent and every rule it broke.

Everything here runs on the emulator's own event loop (``tests/discord_emulator/wire.py``
runs it in a thread, the way Discord is another machine); tests drive it through that thread.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .gateway import Gateway
from .payloads import (
    TEXT,
    VOICE,
    Channel,
    Message,
    Role,
    Snowflakes,
    User,
    VoiceState,
    voice_session_id,
)
from .ratelimit import Fault, FaultKind, RateLimiter
from .rest import Rest
from .rules import Violation

log = logging.getLogger(__name__)
#: how long a test waits for an interaction's answer: a deferred answer may come within
#: Discord's 15 minutes; a slow or shared host took over 30 s (two suites on two cores),
#: then over 60 s for a deferred /last_session with its charts (load average 12 on two
#: cores, stop 33): a hang still fails, a busy machine does not
ANSWER_WAIT_S = 300.0

COMMAND, COMPONENT, AUTOCOMPLETE = 2, 3, 4  # interaction types
ADMINISTRATOR = 1 << 3


@dataclass
class Refusal:
    """A request the emulator refused because it broke a rule (Discord would have too)."""

    violations: list[Violation]
    where: str
    at: float = field(default_factory=time.monotonic)

    @property
    def rule_ids(self) -> list[str]:
        return [v.rule.id for v in self.violations]

    def __str__(self) -> str:
        return f"{self.where}: " + "; ".join(str(v) for v in self.violations)


@dataclass
class Interaction:
    """One interaction a test started, and everything the bot answered to it."""

    id: int
    token: str
    type: int
    user: User
    channel_id: int
    data: dict[str, Any]
    created: float = field(default_factory=time.monotonic)
    response_type: int | None = None
    acked_at: float | None = None
    original: Message | None = None  # the message of the first response (4/5)
    source: Message | None = None  # a component's message (edited by 6/7)
    followups: list[Message] = field(default_factory=list)
    choices: list[dict[str, Any]] | None = None
    refused: list[Refusal] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def ack_s(self) -> float | None:
        return None if self.acked_at is None else self.acked_at - self.created

    @property
    def answered(self) -> bool:
        return self.done.is_set()

    @property
    def reply(self) -> Message:
        """What the user sees as the answer (the updated message for a button)."""
        if self.response_type in (6, 7) and self.source is not None:
            return self.source
        if self.original is not None and not self.original.deleted:
            return self.original
        if self.followups:
            return self.followups[0]
        raise AssertionError(f"interaction {self.describe()} has no reply")

    def describe(self) -> str:
        name = self.data.get("name") or self.data.get("custom_id")
        return f"{name} (type {self.type}, response {self.response_type})"


class Emulator:
    def __init__(
        self,
        *,
        heartbeat_interval_ms: int = 41_250,
        identify_window_s: float = 5.0,
        route_limits: dict[str, tuple[int, float]] | None = None,
        global_per_second: int = 50,
        privileged_intents: int = 0,
    ) -> None:
        self.ids = Snowflakes()
        self.application_id = self.ids.next()
        # shaped like a bot token: base64(bot id) . base64(time) . secret
        self.token = ".".join(
            base64.urlsafe_b64encode(part).decode().rstrip("=")
            for part in (str(self.application_id).encode(), b"emul", secrets.token_bytes(27))
        )
        self.bot_user = User(self.application_id, "etl-duck", bot=True)
        self.privileged_intents = privileged_intents
        self.guild_id = self.ids.next()
        everyone = Role(self.guild_id, "@everyone", 0, permissions=0)
        self.admin_role = Role(self.ids.next(), "Admin", 2, permissions=ADMINISTRATOR)
        self.member_role = Role(self.ids.next(), "Member", 1)
        # a role named like the admin role but not it: names must not grant anything
        self.fake_admin_role = Role(self.ids.next(), "Admin", 1)
        self.roles = [everyone, self.admin_role, self.member_role, self.fake_admin_role]
        self.stats_channel = Channel(self.ids.next(), "stats", TEXT, 0)
        self.general_channel = Channel(self.ids.next(), "general", TEXT, 1)
        self.voice_channels = [
            Channel(self.ids.next(), "Game night", VOICE, 2),
            Channel(self.ids.next(), "Game night 2", VOICE, 3),
        ]
        self.channels = [self.stats_channel, self.general_channel, *self.voice_channels]
        self.owner = User(self.ids.next(), "owner", role_ids=[self.admin_role.id])
        self.users: dict[int, User] = {self.owner.id: self.owner}
        self.voice_states: dict[int, VoiceState] = {}
        # what the bot did
        self.commands: dict[str, list[dict[str, Any]]] = {}  # scope ("global" / guild id)
        self.command_syncs = 0
        self.messages: dict[int, Message] = {}
        self.interactions: dict[int, Interaction] = {}
        self.refusals: list[Refusal] = []
        self.notes: list[str] = []
        self.findings: list[str] = []
        self.injected: list[str] = []  # faults served (429s, 503s, lost responses)
        self.requests: list[tuple[float, str, str, int]] = []  # (t, method, route, status)
        self.limits = RateLimiter(route_limits, global_per_second)
        self.gateway = Gateway(
            self, heartbeat_interval_ms=heartbeat_interval_ms, identify_window_s=identify_window_s
        )
        self.rest = Rest(self)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ server

    async def start(self) -> Emulator:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_route("*", "/api/v10/{tail:.*}", self.rest.handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server  # an asyncio.Server: the port the OS chose
        assert server is not None and server.sockets
        self.port = int(server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # ------------------------------------------------------------------ records

    def refuse(self, violations: Sequence[Violation], where: str) -> Refusal:
        r = Refusal(list(violations), where)
        self.refusals.append(r)
        log.warning("emulator refused %s", r)
        return r

    def note(self, text: str) -> None:
        self.notes.append(text)

    def finding(self, text: str) -> None:
        """Accepted by Discord, but not what the bot meant (e.g. an ignored ephemeral flag)."""
        self.findings.append(text)
        log.warning("emulator finding: %s", text)

    def channel_messages(self, channel_id: int | None = None) -> list[Message]:
        cid = self.stats_channel.id if channel_id is None else channel_id
        return [
            m
            for m in self.messages.values()
            if m.channel_id == cid and not m.deleted and m.interaction_id is None
        ]

    # ------------------------------------------------------------------ world

    def add_user(self, name: str, *, roles: Sequence[Role] = ()) -> User:
        user = User(self.ids.next(), name, role_ids=[r.id for r in roles])
        self.users[user.id] = user
        return user

    def guild_payload(self) -> dict[str, Any]:
        members = {self.bot_user.id: self.bot_user, self.owner.id: self.owner}
        members.update({s.user.id: s.user for s in self.voice_states.values()})
        return {
            "id": str(self.guild_id),
            "name": "ET: Legacy stopwatch",
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.owner.id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self.roles],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "large": False,
            "unavailable": False,
            "member_count": len(self.users) + 1,
            # without the members intent Discord sends the bot and the members in voice
            "members": [u.member() for u in members.values()],
            "voice_states": [
                {
                    k: v
                    for k, v in s.payload(self.guild_id).items()
                    if k not in ("guild_id", "member")
                }
                for s in self.voice_states.values()
            ],
            "channels": [c.payload(self.guild_id) for c in self.channels],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def message_payload(self, m: Message) -> dict[str, Any]:
        return m.payload(self.url, self.guild_id, self.application_id)

    def new_message(self, channel_id: int, **kw: Any) -> Message:
        m = Message(self.ids.next(), channel_id, self.bot_user, **kw)
        self.messages[m.id] = m
        return m

    # ------------------------------------------------------------------ faults

    def fault(self, route: str, kind: FaultKind, count: int, retry_after: float = 0.25) -> Fault:
        """Make the next ``count`` requests to ``route`` (a template such as
        ``POST /channels/{channel_id}/messages``) fail with ``kind``."""
        return self.limits.inject(Fault(route, kind, count, retry_after))

    async def reconnect(self) -> None:
        await self.gateway.reconnect()

    async def invalidate_session(self, resumable: bool = False) -> None:
        await self.gateway.invalidate(resumable)

    async def drop_socket(self) -> None:
        await self.gateway.drop()

    async def wait_live(self, timeout: float = 30.0, *, after: int | None = None) -> bool:
        """Until a gateway session is live (``after``: and more than ``after`` IDENTIFYs +
        RESUMEs have happened), and the bot has registered its commands."""

        def ready() -> bool:
            s = self.gateway.current
            moves = self.gateway.identifies + sum(x.resumes for x in self.gateway.sessions.values())
            return (
                self.gateway.live
                and bool(self.commands)
                and (after is None or moves > after)
                and s is not None
            )

        return await self.gateway.wait(ready, timeout)

    def replayed(self) -> int:
        return sum(x.replayed for x in self.gateway.sessions.values())

    def session_moves(self) -> int:
        return self.gateway.identifies + sum(x.resumes for x in self.gateway.sessions.values())

    # ------------------------------------------------------------------ playing a user

    def command(self, name: str) -> dict[str, Any]:
        """A registered slash command by name (``"rating"``; ``"rating player"`` is the
        command ``rating``, see :meth:`schema`)."""
        top = name.split()[0]
        for scope in (str(self.guild_id), "global"):
            for c in self.commands.get(scope, []):
                if c["name"] == top and c.get("type", 1) == 1:
                    return c
        raise AssertionError(f"the bot registered no slash command {top!r}")

    def schema(self, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the command, the part that takes the options): the command itself, or the
        sub-command named after it (``"rating player"``)."""
        cmd = self.command(name)
        words = name.split()
        if len(words) == 1:
            assert not any(o["type"] in (1, 2) for o in cmd.get("options") or []), (
                f"/{name} has sub-commands: name one"
            )
            return cmd, cmd
        subs = [o for o in cmd.get("options") or [] if o["type"] == 1 and o["name"] == words[1]]
        assert subs, f"/{cmd['name']} has no sub-command {words[1]!r}"
        return cmd, subs[0]

    def _data(self, name: str, values: dict[str, Any], focused: str | None) -> dict[str, Any]:
        """The ``data`` of a command interaction as the Discord client builds it."""
        cmd, part = self.schema(name)
        opts, resolved = self._options(part, values, focused)
        if part is not cmd:
            opts = [{"name": part["name"], "type": 1, "options": opts}]
        data: dict[str, Any] = {
            "id": cmd["id"],
            "name": cmd["name"],
            "type": 1,
            "guild_id": str(self.guild_id),
            "options": opts,
        }
        if resolved:
            data["resolved"] = resolved
        return data

    def command_names(self) -> list[str]:
        """Every slash command a user can run: ``name``, or ``name sub`` per sub-command."""
        seen: dict[str, None] = {}
        for scope in (str(self.guild_id), "global"):
            for c in self.commands.get(scope, []):
                subs = [o["name"] for o in c.get("options") or [] if o["type"] == 1]
                for sub in subs or [""]:
                    seen[f"{c['name']} {sub}".strip()] = None
        return list(seen)

    def _options(
        self, cmd: dict[str, Any], values: dict[str, Any], focused: str | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Options as the Discord client sends them, checked against the registered schema."""
        schema = {o["name"]: o for o in cmd.get("options") or []}
        unknown = set(values) - set(schema)
        assert not unknown, f"/{cmd['name']} has no option {sorted(unknown)}"
        out: list[dict[str, Any]] = []
        resolved: dict[str, Any] = {}
        for name, o in schema.items():
            if name not in values:
                assert focused is not None or not o.get("required"), (
                    f"/{cmd['name']} needs option {name}"
                )
                continue
            value = values[name]
            entry: dict[str, Any] = {"name": name, "type": o["type"]}
            if name == focused:
                entry.update(value=str(value), focused=True)  # as typed, unvalidated
            elif o["type"] == 6:
                assert isinstance(value, User)
                entry["value"] = str(value.id)
                resolved.setdefault("users", {})[str(value.id)] = value.payload()
                resolved.setdefault("members", {})[str(value.id)] = value.member(with_user=False)
            else:
                choices = [c["value"] for c in o.get("choices") or []]
                assert not choices or value in choices, f"{name}={value!r} not in {choices}"
                if o["type"] == 3:  # the client enforces the lengths (6,000 when none is set)
                    n = len(str(value))
                    lo, hi = o.get("min_length", 0), o.get("max_length", 6000)
                    assert lo <= n <= hi, f"{name}: {n} characters, Discord allows {lo}–{hi}"
                entry["value"] = value
            out.append(entry)
        return out, resolved

    def _interaction_payload(self, inter: Interaction, message: Message | None) -> dict[str, Any]:
        user = inter.user
        perms = ADMINISTRATOR if self.admin_role.id in user.role_ids else 0
        out: dict[str, Any] = {
            "id": str(inter.id),
            "application_id": str(self.application_id),
            "type": inter.type,
            "data": inter.data,
            "guild_id": str(self.guild_id),
            "guild": {"id": str(self.guild_id), "locale": "en-US", "features": []},
            "channel_id": str(inter.channel_id),
            "channel": next(c for c in self.channels if c.id == inter.channel_id).payload(
                self.guild_id
            ),
            "member": {**user.member(), "permissions": str(perms)},
            "token": inter.token,
            "version": 1,
            "app_permissions": str((1 << 53) - 1),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if message is not None:
            out["message"] = self.message_payload(message)
        return out

    async def _start(
        self, type_: int, user: User, data: dict[str, Any], message: Message | None = None
    ) -> Interaction:
        s = self.gateway.current
        # a session whose socket is down gets the event on RESUME, as on Discord
        assert s is not None and s.valid, "no gateway session to dispatch the interaction on"
        channel = message.channel_id if message is not None else self.general_channel.id
        inter = Interaction(
            self.ids.next(), secrets.token_urlsafe(48), type_, user, channel, data, source=message
        )
        self.interactions[inter.id] = inter
        inter.created = time.monotonic()  # Discord's 3 s start when it sends the event
        await self.gateway.dispatch("INTERACTION_CREATE", self._interaction_payload(inter, message))
        return inter

    async def _wait(self, inter: Interaction, wait: float) -> Interaction:
        """Until answered, ``wait`` seconds, or 3 s after a refused answer with nothing since
        (the bot does not try again: the user is left with "did not respond")."""
        end = time.monotonic() + wait
        while not inter.done.is_set():
            now = time.monotonic()
            if now > end or (inter.refused and now - inter.refused[-1].at > 3.0):
                log.warning("interaction %s not answered", inter.describe())
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(inter.done.wait(), 0.25)
        return inter

    async def slash(
        self, name: str, user: User | None = None, /, *, wait: float = ANSWER_WAIT_S, **options: Any
    ) -> Interaction:
        """Run ``/name`` as ``user`` (default: the guild owner); waits for the answer."""
        inter = await self.start_slash(name, user, **options)
        return await self._wait(inter, wait)

    async def start_slash(
        self, name: str, user: User | None = None, /, **options: Any
    ) -> Interaction:
        return await self._start(COMMAND, user or self.owner, self._data(name, options, None))

    async def autocomplete(
        self,
        name: str,
        option: str,
        text: str,
        user: User | None = None,
        /,
        *,
        wait: float = ANSWER_WAIT_S,
        **others: Any,
    ) -> Interaction:
        """Type ``text`` into ``option`` of ``/name``; the answer's choices are in ``.choices``."""
        inter = await self.start_autocomplete(name, option, text, user, **others)
        return await self._wait(inter, wait)

    async def start_autocomplete(
        self, name: str, option: str, text: str, user: User | None = None, /, **others: Any
    ) -> Interaction:
        data = self._data(name, {**others, option: text}, option)
        return await self._start(AUTOCOMPLETE, user or self.owner, data)

    async def click(
        self, message: Message, label: str, user: User | None = None, *, wait: float = ANSWER_WAIT_S
    ) -> Interaction:
        """Press the button labelled ``label`` (a user cannot press a disabled one)."""
        inter = await self.start_click(message, label, user)
        return await self._wait(inter, wait)

    async def start_click(self, message: Message, label: str, user: User | None = None) -> Interaction:  # fmt: skip
        buttons = [b for b in message.buttons() if b.get("label") == label]
        assert buttons, f"no button {label!r} on the message (has {message.buttons()})"
        button = buttons[0]
        assert not button.get("disabled"), f"button {label!r} is disabled"
        data = {"custom_id": button["custom_id"], "component_type": button["type"]}
        return await self._start(COMPONENT, user or self.owner, data, message)

    async def voice(self, user: User, channel: Channel | None) -> None:
        """``user`` joins ``channel`` (None: leaves voice)."""
        if channel is None:
            state = self.voice_states.pop(user.id, None)
            if state is None:
                return
            payload = state.payload(self.guild_id)
            payload["channel_id"] = None
        else:
            state = VoiceState(user, channel.id, voice_session_id())
            self.voice_states[user.id] = state
            payload = state.payload(self.guild_id)
        await self.gateway.dispatch("VOICE_STATE_UPDATE", payload)
