"""REST under ``/api/v10``: the routes the bot calls, each checked against the rules table,
with rate-limit headers, 429s and injected faults applied to every request in one place."""

from __future__ import annotations

import email
import email.message
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.machine import within

from .payloads import EPHEMERAL, LOADING, Attachment, Message
from .ratelimit import retry_after_header
from .rules import (
    RULES,
    Violation,
    check_autocomplete,
    check_commands,
    check_message,
    check_upload_size,
    error_body,
    markdown_findings,
    message_texts,
    violation,
)

if TYPE_CHECKING:
    from .server import Emulator, Interaction

log = logging.getLogger(__name__)

USER_AGENT = re.compile(r"^DiscordBot \(\S+,? \S+\)")  # discord.py: "(url version)"
SUPPRESS_EMBEDS = 1 << 2


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer with Discord's exact content type (discord.py compares it verbatim)."""
    h = {**(headers or {}), "Content-Type": "application/json"}
    return web.Response(body=json.dumps(body).encode(), status=status, headers=h)


class Refused(Exception):
    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(str(v) for v in violations))
        self.violations = violations


class Plain(Exception):
    """A non-rule error answer (unknown message, unknown channel …)."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Request:
    method: str
    params: dict[str, str]
    query: dict[str, str]
    payload: dict[str, Any] | list[Any] | None
    files: list[tuple[str, bytes]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        return self.payload if isinstance(self.payload, dict) else {}


Handler = Callable[[Request], Awaitable[tuple[int, Any]]]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: bool  # needs the bot token (interaction webhooks do not)
    interaction: bool  # exempt from the global limit

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


def _compile(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(f"^{regex}$")


class Rest:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        r = self._route
        self.routes: list[Route] = [
            r("GET", "/users/@me", self.users_me),
            r("GET", "/oauth2/applications/@me", self.application),
            r("GET", "/applications/@me", self.application),
            r("GET", "/gateway", self.gateway),
            r("GET", "/gateway/bot", self.gateway_bot),
            r("GET", "/applications/{application_id}/commands", self.get_commands),
            r("PUT", "/applications/{application_id}/commands", self.put_commands),
            r("GET", "/applications/{application_id}/guilds/{guild_id}/commands",
              self.get_commands),
            r("PUT", "/applications/{application_id}/guilds/{guild_id}/commands",
              self.put_commands),
            r("POST", "/interactions/{interaction_id}/{interaction_token}/callback",
              self.callback, auth=False, interaction=True),
            r("POST", "/webhooks/{webhook_id}/{webhook_token}", self.followup, auth=False,
              interaction=True),
            r("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
              self.webhook_message, auth=False, interaction=True),
            r("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
              self.webhook_message, auth=False, interaction=True),
            r("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
              self.webhook_message, auth=False, interaction=True),
            r("GET", "/channels/{channel_id}", self.get_channel),
            r("POST", "/channels/{channel_id}/messages", self.create_message),
            r("GET", "/channels/{channel_id}/messages/{message_id}", self.channel_message),
            r("PATCH", "/channels/{channel_id}/messages/{message_id}", self.channel_message),
            r("DELETE", "/channels/{channel_id}/messages/{message_id}", self.channel_message),
        ]  # fmt: skip

    def _route(
        self, method: str, template: str, handler: Handler, *, auth: bool = True,
        interaction: bool = False,
    ) -> Route:  # fmt: skip
        return Route(method, template, _compile(template), handler, auth, interaction)

    # ------------------------------------------------------------------ the pipeline

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        emu = self.emu
        for route in self.routes:
            m = route.pattern.match(path)
            if m is not None and route.method == request.method:
                break
        else:
            return self._refuse([violation("rest.route", (), f"{request.method} {path}")],
                                f"{request.method} {path}")  # fmt: skip
        where = f"{route.key}"
        if route.auth:
            if request.headers.get("Authorization") != f"Bot {emu.token}":
                return self._refuse([violation("rest.auth", (), "missing or wrong token")], where)
            if not USER_AGENT.match(request.headers.get("User-Agent", "")):
                ua = request.headers.get("User-Agent", "")
                return self._refuse([violation("rest.user_agent", (), ua)], where)
        params = m.groupdict()
        major = params.get("channel_id") or params.get("guild_id") or (
            f"{params.get('webhook_id')}+{params.get('webhook_token')}")  # fmt: skip
        is_callback = route.template.endswith("/callback")
        decision = None
        if not is_callback:  # one response per interaction: no bucket to announce
            decision = emu.limits.decide(route.key, major or "", exempt_global=route.interaction)
            fault = decision.fault
            if fault is not None and fault.kind == "429":
                emu.injected.append(f"429 {route.key}")
                return self._too_many(decision.retry_after, "shared", decision.headers, False)
            if fault is not None and fault.kind == "503":
                emu.injected.append(f"503 {route.key}")
                return _json({"message": "Service Unavailable", "code": 0},
                                         status=503)  # fmt: skip
            if decision.limited:
                rule = "ratelimit.global" if decision.limited == "global" else "ratelimit.route"
                emu.refuse([violation(rule, (), f"retry after {decision.retry_after:.3f} s")],
                           where)  # fmt: skip
                glob = decision.limited == "global"
                return self._too_many(decision.retry_after, "global" if glob else "user",
                                      decision.headers, glob)  # fmt: skip
        try:
            req = await self._read(request, params)
            status, body = await route.handler(req)
        except Refused as exc:
            response = self._refuse(exc.violations, where, decision.headers if decision else None)
            token = params.get("interaction_token") or params.get("webhook_token")
            for inter in emu.interactions.values():
                if inter.token == token:
                    inter.refused.append(emu.refusals[-1])
            return response
        except Plain as exc:
            self.emu.requests.append((time.monotonic(), route.method, route.template, exc.status))
            return _json({"code": exc.code, "message": exc.message},
                                     status=exc.status)  # fmt: skip
        emu.requests.append((time.monotonic(), route.method, route.template, status))
        if decision is not None and decision.fault is not None:  # lost_response
            emu.injected.append(f"lost response {route.key}")
            if request.transport is not None:
                request.transport.abort()  # it took effect; the client never hears of it
            raise web.HTTPServiceUnavailable()
        headers = {"Via": "1.1 google", **(decision.headers if decision else {})}
        if body is None:
            return web.Response(status=status, headers=headers)
        return _json(body, status=status, headers=headers)

    def _refuse(
        self, violations: list[Violation], where: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        self.emu.refuse(violations, where)
        rule = violations[0].rule
        self.emu.requests.append((time.monotonic(), "", where, rule.status))
        return _json(error_body(violations), status=rule.status,
                                 headers={"Via": "1.1 google", **(headers or {})})  # fmt: skip

    def _too_many(
        self, retry_after: float, scope: str, headers: dict[str, str], is_global: bool
    ) -> web.Response:
        h = {"Via": "1.1 google", **headers, "Retry-After": retry_after_header(retry_after),
             "X-RateLimit-Scope": scope}  # fmt: skip
        if is_global:
            h["X-RateLimit-Global"] = "true"
        body = {"message": "You are being rate limited.", "retry_after": round(retry_after, 3),
                "global": is_global}  # fmt: skip
        return _json(body, status=429, headers=h)

    async def _read(self, request: web.Request, params: dict[str, str]) -> Request:
        payload: Any = None
        files: list[tuple[str, bytes]] = []
        if request.content_type == "multipart/form-data":
            # the standard library's MIME parser: aiohttp's own reader warns on every part
            head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
            form = email.message_from_bytes(head + await request.read())
            size = 0
            for part in form.get_payload():
                assert isinstance(part, email.message.Message)
                name = part.get_param("name", header="content-disposition")
                data = part.get_payload(decode=True)
                assert isinstance(data, bytes)
                if name == "payload_json":
                    payload = json.loads(data)
                elif isinstance(name, str) and name.startswith("files["):
                    size += len(data)
                    files.append((part.get_filename() or name, data))
            if problems := check_upload_size(size):
                raise Refused(problems)
        elif request.can_read_body:
            text = await request.text()
            payload = json.loads(text) if text else None
        return Request(request.method, params, dict(request.query), payload, files)

    # ------------------------------------------------------------------ identity

    async def users_me(self, req: Request) -> tuple[int, Any]:
        return 200, self.emu.bot_user.payload()

    async def application(self, req: Request) -> tuple[int, Any]:
        emu = self.emu
        return 200, {
            "id": str(emu.application_id),
            "name": "etl-duck",
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "owner": emu.owner.payload(),
            "team": None,
            "bot": emu.bot_user.payload(),
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "tags": [],
        }

    async def gateway(self, req: Request) -> tuple[int, Any]:
        return 200, {"url": self.emu.gateway_url}

    async def gateway_bot(self, req: Request) -> tuple[int, Any]:
        return 200, {
            "url": self.emu.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1,
            },
        }  # fmt: skip

    # ------------------------------------------------------------------ commands

    def _scope(self, req: Request) -> str:
        if int(req.params["application_id"]) != self.emu.application_id:
            raise Plain(403, 50001, "Missing Access")
        guild = req.params.get("guild_id")
        if guild is not None and int(guild) != self.emu.guild_id:
            raise Plain(403, 50001, "Missing Access")
        return guild or "global"

    async def get_commands(self, req: Request) -> tuple[int, Any]:
        return 200, self.emu.commands.get(self._scope(req), [])

    async def put_commands(self, req: Request) -> tuple[int, Any]:
        scope = self._scope(req)
        commands = req.payload if isinstance(req.payload, list) else []
        if problems := check_commands(commands):
            raise Refused(problems)
        emu = self.emu
        known = {c["name"]: c for c in emu.commands.get(scope, [])}
        stored = []
        for c in commands:
            old = known.get(c["name"])
            stored.append({
                **c,
                "id": old["id"] if old else str(emu.ids.next()),
                "application_id": str(emu.application_id),
                "version": str(emu.ids.next()),
                "type": c.get("type", 1),
                **({} if scope == "global" else {"guild_id": scope}),
            })  # fmt: skip
        emu.commands[scope] = stored
        emu.command_syncs += 1
        return 200, stored

    # ------------------------------------------------------------------ interactions

    def _interaction(self, interaction_id: str, token: str) -> Interaction:
        inter = self.emu.interactions.get(int(interaction_id))
        if inter is None or inter.token != token:
            raise Plain(404, 10062, "Unknown interaction")
        return inter

    def _by_token(self, webhook_id: str, token: str) -> Interaction:
        if int(webhook_id) != self.emu.application_id:
            raise Plain(404, 10015, "Unknown Webhook")
        for inter in self.emu.interactions.values():
            if inter.token == token:
                limit = RULES["interaction.token_expired"].limit
                assert limit is not None
                if time.monotonic() - inter.created > limit:
                    raise Refused([violation("interaction.token_expired", (), "token expired")])
                return inter
        raise Plain(404, 10015, "Unknown Webhook")

    def _message(self, inter: Interaction, payload: dict[str, Any], files: list[tuple[str, bytes]], flags: int) -> Message:  # fmt: skip
        emu = self.emu
        return emu.new_message(
            inter.channel_id,
            content=payload.get("content") or "",
            embeds=list(payload.get("embeds") or []),
            components=list(payload.get("components") or []),
            attachments=[Attachment(emu.ids.next(), n, d) for n, d in files],
            flags=flags,
            interaction_id=inter.id,
            via="interaction",
        )

    def _check_markdown(self, where: str, payload: dict[str, Any]) -> None:
        for text in message_texts(payload):
            for problem in markdown_findings(text):
                self.emu.finding(f"{where}: {problem}")

    def _check_refs(self, where: str, embeds: list[dict[str, Any]], names: set[str]) -> None:
        """An embed that shows ``attachment://x`` without the file x shows nothing."""
        for e in embeds:
            for part in ("image", "thumbnail"):
                url = str((e.get(part) or {}).get("url", ""))
                if url.startswith("attachment://") and url[len("attachment://") :] not in names:
                    self.emu.finding(f"{where}: embed {part} {url} names no attached file")

    async def callback(self, req: Request) -> tuple[int, Any]:
        inter = self._interaction(req.params["interaction_id"], req.params["interaction_token"])
        body = req.body()
        cb_type = body.get("type")
        data = body.get("data") or {}
        now = time.monotonic()
        deadline = RULES["interaction.deadline"].limit
        assert deadline is not None
        if inter.response_type is not None:
            raise Refused([violation("interaction.acknowledged", (), inter.describe())])
        if not within(now - inter.created, deadline, f"the first response to {inter.describe()}"):
            refusal = violation("interaction.deadline", (), f"{now - inter.created:.2f} s after "
                                f"the interaction {inter.describe()}")  # fmt: skip
            raise Refused([refusal])
        allowed = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}}[inter.type]
        if cb_type not in allowed:
            raise Refused([violation("interaction.callback_type", ("type",),
                                     f"type {cb_type} for interaction type {inter.type}")])  # fmt: skip
        files = req.files
        if cb_type == 8:
            choices = data.get("choices") or []
            if problems := check_autocomplete(choices):
                raise Refused(problems)
            inter.choices = list(choices)
        elif cb_type == 4:
            if problems := check_message(data, files, path=("data",)):
                raise Refused(problems)
            names = {n for n, _ in files}
            self._check_refs(inter.describe(), list(data.get("embeds") or []), names)
            self._check_markdown(inter.describe(), data)
            inter.original = self._message(inter, data, files, int(data.get("flags", 0)) & (EPHEMERAL | SUPPRESS_EMBEDS))  # fmt: skip
        elif cb_type == 5:
            flags = LOADING | (int(data.get("flags", 0)) & EPHEMERAL)
            inter.original = self._message(inter, {}, [], flags)
        elif cb_type == 7:
            if problems := check_message(data, files, edit=True, path=("data",)):
                raise Refused(problems)
            assert inter.source is not None
            kept = {a.filename for a in inter.source.attachments} | {n for n, _ in files}
            self._check_refs(inter.describe(), list(data.get("embeds") or []), kept)
            self._check_markdown(inter.describe(), data)
            inter.source.apply(data, [Attachment(self.emu.ids.next(), n, d) for n, d in files])
            inter.source.edits += 1
            inter.source.edited = time.time()
        inter.response_type = int(cb_type)
        inter.acked_at = now
        if cb_type in (4, 7, 8, 9):
            inter.done.set()
        if req.query.get("with_response") not in ("1", "true", "True"):
            return 204, None
        out: dict[str, Any] = {
            "interaction": {
                "id": str(inter.id),
                "type": inter.type,
                "response_message_loading": cb_type == 5,
                "response_message_ephemeral": bool(
                    inter.original is not None and inter.original.ephemeral
                ),
            }
        }
        shown = inter.original if cb_type in (4, 5) else inter.source if cb_type == 7 else None
        if shown is not None:
            out["interaction"]["response_message_id"] = str(shown.id)
            out["resource"] = {"type": cb_type, "message": self.emu.message_payload(shown)}
        return 200, out

    async def followup(self, req: Request) -> tuple[int, Any]:
        inter = self._by_token(req.params["webhook_id"], req.params["webhook_token"])
        if inter.response_type is None:
            raise Refused([violation("interaction.not_acknowledged", (), "follow-up before a "
                                     "response")])  # fmt: skip
        payload = req.body()
        if problems := check_message(payload, req.files):
            raise Refused(problems)
        self._check_refs(inter.describe(), list(payload.get("embeds") or []), {n for n, _ in req.files})  # fmt: skip
        self._check_markdown(inter.describe(), payload)
        wanted = int(payload.get("flags", 0)) & EPHEMERAL
        original = inter.original
        if original is not None and original.loading and not original.deleted:
            # the first follow-up after a deferral resolves the "thinking…" message: it keeps
            # the deferral's visibility whatever the follow-up asks for
            if wanted and not original.ephemeral:
                self.emu.finding(f"{inter.describe()}: an ephemeral follow-up after a public "
                                 "deferral is shown to everyone")  # fmt: skip
            original.apply(payload, [Attachment(self.emu.ids.next(), n, d) for n, d in req.files])
            original.flags &= ~LOADING
            original.edited = time.time()
            message = original
        else:
            message = self._message(inter, payload, req.files, wanted)
            inter.followups.append(message)
        inter.done.set()
        wait = req.query.get("wait") in ("1", "true", "True")
        return (200, self.emu.message_payload(message)) if wait else (204, None)

    async def webhook_message(self, req: Request) -> tuple[int, Any]:
        inter = self._by_token(req.params["webhook_id"], req.params["webhook_token"])
        if inter.response_type is None:
            raise Refused([violation("interaction.not_acknowledged", (), "@original before a "
                                     "response")])  # fmt: skip
        mid = req.params["message_id"]
        if mid == "@original":
            message = inter.source if inter.response_type in (6, 7) else inter.original
        else:
            found = [m for m in inter.followups if str(m.id) == mid]
            message = found[0] if found else None
        if message is None or message.deleted:
            raise Plain(404, 10008, "Unknown Message")
        if req.method == "GET":
            return 200, self.emu.message_payload(message)
        if req.method == "DELETE":
            message.deleted = True  # a deleted "thinking…" message answers nothing yet
            return 204, None
        payload = req.body()
        if problems := check_message(payload, req.files, edit=True):
            raise Refused(problems)
        self._check_refs(inter.describe(), list(payload.get("embeds") or message.embeds),
                         {n for n, _ in req.files} | {a.filename for a in message.attachments})  # fmt: skip
        self._check_markdown(inter.describe(), payload)
        message.apply(payload, [Attachment(self.emu.ids.next(), n, d) for n, d in req.files])
        message.flags &= ~LOADING
        message.edits += 1
        message.edited = time.time()
        inter.done.set()
        return 200, self.emu.message_payload(message)

    # ------------------------------------------------------------------ channels

    def _channel(self, req: Request) -> int:
        cid = int(req.params["channel_id"])
        if not any(c.id == cid for c in self.emu.channels):
            raise Plain(404, 10003, "Unknown Channel")
        return cid

    async def get_channel(self, req: Request) -> tuple[int, Any]:
        cid = self._channel(req)
        channel = next(c for c in self.emu.channels if c.id == cid)
        return 200, channel.payload(self.emu.guild_id)

    async def create_message(self, req: Request) -> tuple[int, Any]:
        cid = self._channel(req)
        if cid not in {c.id for c in self.emu.channels if c.type == 0}:
            raise Plain(400, 50008, "Cannot send messages in a non-text channel")
        payload = req.body()
        if problems := check_message(payload, req.files):
            raise Refused(problems)
        self._check_refs(f"channel message in {cid}", list(payload.get("embeds") or []),
                         {n for n, _ in req.files})  # fmt: skip
        self._check_markdown(f"channel message in {cid}", payload)
        emu = self.emu
        nonce = payload.get("nonce")
        if nonce is not None and payload.get("enforce_nonce"):
            # "checked for uniqueness in the past few minutes": the earlier message is returned
            for m in emu.messages.values():
                if m.channel_id == cid and m.nonce == str(nonce) and time.time() - m.created < 300:
                    emu.note(f"nonce {nonce}: the earlier message is returned, none created")
                    return 200, emu.message_payload(m)
        message = emu.new_message(
            cid,
            content=payload.get("content") or "",
            embeds=list(payload.get("embeds") or []),
            components=list(payload.get("components") or []),
            attachments=[Attachment(emu.ids.next(), n, d) for n, d in req.files],
            flags=int(payload.get("flags", 0)) & SUPPRESS_EMBEDS,
            nonce=None if nonce is None else str(nonce),
            via="channel",
        )
        return 200, emu.message_payload(message)

    async def channel_message(self, req: Request) -> tuple[int, Any]:
        cid = self._channel(req)
        message = self.emu.messages.get(int(req.params["message_id"]))
        if message is None or message.channel_id != cid or message.deleted:
            raise Plain(404, 10008, "Unknown Message")
        if req.method == "GET":
            return 200, self.emu.message_payload(message)
        if req.method == "DELETE":
            message.deleted = True
            return 204, None
        payload = req.body()
        if problems := check_message(payload, req.files, edit=True):
            raise Refused(problems)
        message.apply(payload, [Attachment(self.emu.ids.next(), n, d) for n, d in req.files])
        message.edits += 1
        message.edited = time.time()
        return 200, self.emu.message_payload(message)
