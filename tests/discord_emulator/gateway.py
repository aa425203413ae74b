"""The gateway (v10, JSON) as discord.py meets it: HELLO, IDENTIFY → READY + GUILD_CREATE,
heartbeats and ACKs, sequence numbers, RESUME with replay of what was missed, op 7 RECONNECT
and op 9 INVALID_SESSION on demand, a dropped socket, and the close codes of
https://discord.com/developers/docs/topics/opcodes-and-status-codes. Transport compression is
what the client asks for in the URL: ``zlib-stream`` (one zlib context per connection, each
payload flushed with Z_SYNC_FLUSH) or ``zstd-stream`` (one zstd frame per connection, a block
flush per payload; needs the ``zstandard`` package, as discord.py does).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .rules import PRIVILEGED_INTENTS, RULES, VALID_INTENTS, violation

if TYPE_CHECKING:
    from .server import Emulator

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, VOICE_STATE, RESUME, RECONNECT = 0, 1, 2, 3, 4, 6, 7
REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 8, 9, 10, 11
CLIENT_OPS = {HEARTBEAT, IDENTIFY, PRESENCE, VOICE_STATE, RESUME, REQUEST_MEMBERS}


class Compressor:
    def __init__(self, kind: str | None) -> None:
        self.kind = kind
        self._z: Any = None
        if kind == "zlib-stream":
            self._z = zlib.compressobj()
        elif kind == "zstd-stream":
            import zstandard  # the same optional package discord.py uses for zstd-stream

            self._z = zstandard.ZstdCompressor().compressobj()
            self._flush = zstandard.COMPRESSOBJ_FLUSH_BLOCK
        elif kind is not None:
            raise ValueError(f"unknown compression {kind!r}")

    def pack(self, text: str) -> str | bytes:
        if self.kind is None:
            return text
        data = text.encode()
        if self.kind == "zlib-stream":
            out: bytes = self._z.compress(data) + self._z.flush(zlib.Z_SYNC_FLUSH)
            return out
        out = self._z.compress(data) + self._z.flush(self._flush)
        return out


@dataclass
class Session:
    """A gateway session: survives its connection (RESUME picks it up) until invalidated."""

    id: str
    seq: int = 0
    sent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=10_000))
    conn: Connection | None = None
    valid: bool = True
    resumes: int = 0
    replayed: int = 0  # events sent again on RESUME (missed while the socket was down)

    def next_event(self, t: str, d: Any) -> dict[str, Any]:
        self.seq += 1
        event = {"op": DISPATCH, "t": t, "s": self.seq, "d": d}
        self.sent.append(event)
        return event


class Connection:
    """One websocket: what was negotiated and when the client last showed signs of life."""

    def __init__(self, ws: web.WebSocketResponse, compression: str | None, transport: Any) -> None:
        self.ws = ws
        self.transport = transport
        self.compressor = Compressor(compression)
        self.session: Session | None = None
        self.last_heartbeat = time.monotonic()
        self.heartbeats = 0
        self.received: deque[float] = deque()
        self.closed_with: int | None = None

    async def send(self, payload: dict[str, Any]) -> None:
        if self.ws.closed:
            return
        packed = self.compressor.pack(json.dumps(payload, separators=(",", ":")))
        try:
            if isinstance(packed, bytes):
                await self.ws.send_bytes(packed)
            else:
                await self.ws.send_str(packed)
        except (ConnectionError, RuntimeError):
            log.debug("gateway send to a closing socket dropped")

    async def close(self, code: int, reason: str = "") -> None:
        self.closed_with = code
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close(code=code, message=reason.encode())


class Gateway:
    def __init__(self, emu: Emulator, *, heartbeat_interval_ms: int, identify_window_s: float) -> None:  # fmt: skip
        self.emu = emu
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.identify_window_s = identify_window_s
        self.sessions: dict[str, Session] = {}
        self.current: Session | None = None
        self.last_identify: float | None = None
        self.identifies = 0
        self.connections = 0
        self.compressions: list[str | None] = []  # what each client connection asked for
        self.changed = asyncio.Condition()  # notified when a session is (re)established

    # ------------------------------------------------------------------ connection

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        q = request.query
        compression = q.get("compress")
        self.compressions.append(compression)
        if q.get("v") != "10" or q.get("encoding") != "json":
            conn = Connection(ws, None, request.transport)
            await self._refuse(
                conn, "gateway.version", f"v={q.get('v')} encoding={q.get('encoding')}"
            )
            return ws
        try:
            conn = Connection(ws, compression, request.transport)
        except (ValueError, ImportError):
            conn = Connection(ws, None, request.transport)
            await self._refuse(conn, "gateway.decode", f"compression {compression!r}")
            return ws
        self.connections += 1
        await conn.send({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        watchdog = asyncio.ensure_future(self._watch_heartbeats(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._receive(conn, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    await self._refuse(conn, "gateway.decode", "binary frames are not JSON")
                if conn.closed_with is not None:
                    break
        finally:
            watchdog.cancel()
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
        return ws

    async def _watch_heartbeats(self, conn: Connection) -> None:
        interval = self.heartbeat_interval_ms / 1000.0
        while not conn.ws.closed:
            await asyncio.sleep(interval / 4)
            # Discord allows some slack beyond the interval before it gives up
            if time.monotonic() - conn.last_heartbeat > interval * 1.5 + 1.0:
                await self._refuse(conn, "gateway.heartbeat", "no heartbeat within the interval")
                return

    async def _refuse(self, conn: Connection, rule_id: str, detail: str) -> None:
        self.emu.refuse([violation(rule_id, ("gateway",), detail)], where="gateway")
        await conn.close(RULES[rule_id].code, RULES[rule_id].message)

    async def _receive(self, conn: Connection, text: str) -> None:
        now = time.monotonic()
        conn.received.append(now)
        while conn.received and now - conn.received[0] > 60.0:
            conn.received.popleft()
        limit = RULES["gateway.rate"].limit
        assert isinstance(limit, int)
        if len(conn.received) > limit:
            await self._refuse(conn, "gateway.rate", f"{len(conn.received)} payloads in 60 s")
            return
        if len(text.encode()) > 4096:
            await self._refuse(conn, "gateway.decode", f"{len(text.encode())} bytes")
            return
        try:
            payload = json.loads(text)
            op = payload["op"]
            data = payload.get("d")
        except (ValueError, KeyError, TypeError):
            await self._refuse(conn, "gateway.decode", "not a JSON object with an op")
            return
        if op not in CLIENT_OPS:
            await self._refuse(conn, "gateway.opcode", f"op {op}")
            return
        if op == HEARTBEAT:
            conn.last_heartbeat = now
            conn.heartbeats += 1
            await conn.send({"op": HEARTBEAT_ACK})
            return
        if op == IDENTIFY:
            await self._identify(conn, data)
            return
        if op == RESUME:
            await self._resume(conn, data)
            return
        if conn.session is None:
            await self._refuse(conn, "gateway.not_authenticated", f"op {op} before IDENTIFY")
            return
        # presence, voice state and member requests: accepted, nothing to do here

    # ------------------------------------------------------------------ sessions

    async def _identify(self, conn: Connection, data: Any) -> None:
        if conn.session is not None:
            await self._refuse(conn, "gateway.already_authenticated", "second IDENTIFY")
            return
        if not isinstance(data, dict) or data.get("token") != self.emu.token:
            await self._refuse(conn, "gateway.auth", "wrong token")
            return
        intents = data.get("intents")
        if not isinstance(intents, int) or intents & ~VALID_INTENTS:
            await self._refuse(conn, "gateway.intents", f"intents {intents!r}")
            return
        if intents & PRIVILEGED_INTENTS & ~self.emu.privileged_intents:
            await self._refuse(conn, "gateway.privileged_intents", f"intents {intents:#x}")
            return
        now = time.monotonic()
        if self.last_identify is not None and now - self.last_identify < self.identify_window_s:
            # Discord answers an IDENTIFY over the concurrency limit with op 9 (d=false);
            # discord.py waits and identifies again. Handled, so recorded as a note only.
            self.emu.note(f"IDENTIFY {now - self.last_identify:.1f} s after the previous: op 9")
            await conn.send({"op": INVALID_SESSION, "d": False})
            return
        self.last_identify = now
        self.identifies += 1
        if self.current is not None:
            self.current.valid = False
        session = Session(secrets.token_hex(16))
        self.sessions[session.id] = session
        self.current = session
        session.conn = conn
        conn.session = session
        emu = self.emu
        ready = {
            "v": 10,
            "user": emu.bot_user.payload(),
            "guilds": [{"id": str(emu.guild_id), "unavailable": True}],
            "session_id": session.id,
            "resume_gateway_url": emu.gateway_url,
            "shard": [0, 1],
            "application": {"id": str(emu.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
        }
        await conn.send(session.next_event("READY", ready))
        await conn.send(session.next_event("GUILD_CREATE", emu.guild_payload()))
        async with self.changed:
            self.changed.notify_all()

    async def _resume(self, conn: Connection, data: Any) -> None:
        if conn.session is not None:
            await self._refuse(conn, "gateway.already_authenticated", "RESUME after IDENTIFY")
            return
        if not isinstance(data, dict) or data.get("token") != self.emu.token:
            await self._refuse(conn, "gateway.auth", "wrong token")
            return
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or not session.valid:
            self.emu.note("RESUME of an unknown or invalidated session: op 9 (d=false)")
            await conn.send({"op": INVALID_SESSION, "d": False})
            return
        seq = data.get("seq")
        if not isinstance(seq, int) or seq > session.seq:
            await self._refuse(conn, "gateway.resume_seq", f"seq {seq!r} > {session.seq}")
            return
        old = session.conn
        if old is not None and old is not conn:
            await old.close(4000, "resumed elsewhere")
        session.conn = conn
        conn.session = session
        session.resumes += 1
        for event in list(session.sent):
            if event["s"] > seq:
                session.replayed += 1
                await conn.send(event)
        await conn.send(session.next_event("RESUMED", {}))
        async with self.changed:
            self.changed.notify_all()

    # ------------------------------------------------------------------ from the emulator

    @property
    def live(self) -> bool:
        s = self.current
        return s is not None and s.valid and s.conn is not None and not s.conn.ws.closed

    async def dispatch(self, t: str, d: Any) -> None:
        """Send an event on the current session (kept for replay if the socket is down)."""
        session = self.current
        if session is None or not session.valid:
            raise RuntimeError(f"no gateway session to dispatch {t} on")
        event = session.next_event(t, d)
        if session.conn is not None:
            await session.conn.send(event)

    async def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        async with self.changed:
            try:
                await asyncio.wait_for(self.changed.wait_for(predicate), timeout)
            except TimeoutError:
                return False
        return True

    async def reconnect(self) -> None:
        """op 7: the client closes and resumes on the resume URL."""
        s = self.current
        if s is not None and s.conn is not None:
            await s.conn.send({"op": RECONNECT, "d": None})

    async def invalidate(self, resumable: bool) -> None:
        """op 9: resumable (d=true) or not (d=false: the client identifies anew)."""
        s = self.current
        if s is None or s.conn is None:
            return
        if not resumable:
            s.valid = False
        await s.conn.send({"op": INVALID_SESSION, "d": resumable})

    async def drop(self) -> None:
        """Cut the TCP connection: no close frame, the client finds out on its own."""
        s = self.current
        if s is None or s.conn is None:
            return
        if s.conn.transport is not None:
            s.conn.transport.abort()
