"""Discord's JSON objects as the API sends them (users, members, roles, channels, a guild,
messages), built from the emulator's small world. Field names and shapes follow the object
pages of https://discord.com/developers/docs/resources/."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000
EPHEMERAL = 1 << 6
LOADING = 1 << 7

TEXT, VOICE = 0, 2  # channel types


class Snowflakes:
    """Unique, increasing snowflakes (timestamp << 22 | sequence)."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            now = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
            self._last = max(now, self._last + 1)
            return self._last


def iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(ts if ts is not None else time.time(), UTC).isoformat()


@dataclass
class User:
    id: int
    name: str
    bot: bool = False
    role_ids: list[int] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": None if self.bot else self.name,
            "avatar": None,
            "bot": self.bot,
            "system": False,
            "public_flags": 0,
            "flags": 0,
        }

    def member(self, *, with_user: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "roles": [str(r) for r in self.role_ids],
            "nick": None,
            "avatar": None,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            out["user"] = self.payload()
        return out


@dataclass
class Role:
    id: int
    name: str
    position: int
    permissions: int = 0

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }


@dataclass
class Channel:
    id: int
    name: str
    type: int
    position: int

    def payload(self, guild_id: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
        }
        if self.type == VOICE:
            out.update(bitrate=64000, user_limit=0, rtc_region=None, rate_limit_per_user=0)
        else:
            out.update(topic=None, last_message_id=None, rate_limit_per_user=0)
        return out


@dataclass
class Attachment:
    id: int
    filename: str
    data: bytes

    def payload(self, base: str, channel_id: int) -> dict[str, Any]:
        url = f"{base}/attachments/{channel_id}/{self.id}/{self.filename}"
        return {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "url": url,
            "proxy_url": url,
            "content_type": "image/png" if self.filename.endswith(".png") else None,
        }


@dataclass
class Message:
    """A message as the emulator stores it (and as a Discord user would see it)."""

    id: int
    channel_id: int
    author: User
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    flags: int = 0
    nonce: str | None = None
    interaction_id: int | None = None  # the interaction this message answers
    created: float = field(default_factory=time.time)
    edited: float | None = None
    edits: int = 0
    deleted: bool = False
    via: str = ""  # which request created it (for reports)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & LOADING)

    def text(self) -> str:
        """Everything a reader sees, as one string (content, embeds, button labels)."""
        parts = [self.content]
        for e in self.embeds:
            parts += [str(e.get("title", "")), str(e.get("description", ""))]
            parts += [f"{f.get('name', '')}\n{f.get('value', '')}" for f in e.get("fields", [])]
            parts.append(str((e.get("footer") or {}).get("text", "")))
            parts.append(str((e.get("author") or {}).get("name", "")))
        for row in self.components:
            parts += [str(c.get("label", "")) for c in row.get("components", [])]
        return "\n".join(p for p in parts if p)

    def buttons(self) -> list[dict[str, Any]]:
        return [c for row in self.components for c in row.get("components", [])]

    def apply(self, payload: dict[str, Any], files: list[Attachment]) -> None:
        """An edit: only the fields given change (attachments: the kept ones + new files)."""
        if "content" in payload:
            self.content = payload["content"] or ""
        if "embeds" in payload:
            self.embeds = list(payload["embeds"] or [])
        if "components" in payload:
            self.components = list(payload["components"] or [])
        if "attachments" in payload:
            keep = {str(a.get("id")) for a in payload["attachments"] or []}
            self.attachments = [a for a in self.attachments if str(a.id) in keep]
        self.attachments += files

    def payload(self, base: str, guild_id: int, application_id: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "guild_id": str(guild_id),
            "author": self.author.payload(),
            "content": self.content,
            "timestamp": iso(self.created),
            "edited_timestamp": iso(self.edited) if self.edited else None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [a.payload(base, self.channel_id) for a in self.attachments],
            "embeds": [{"type": "rich", **e} for e in self.embeds],
            "components": self.components,
            "pinned": False,
            "type": 0,
            "flags": self.flags,
        }
        if self.nonce is not None:
            out["nonce"] = self.nonce
        if self.interaction_id is not None:
            out.update(type=20, webhook_id=str(application_id), application_id=str(application_id))
        return out


@dataclass
class VoiceState:
    user: User
    channel_id: int
    session_id: str

    def payload(self, guild_id: int) -> dict[str, Any]:
        return {
            "guild_id": str(guild_id),
            "channel_id": str(self.channel_id),
            "user_id": str(self.user.id),
            "member": self.user.member(),
            "session_id": self.session_id,
            "deaf": False,
            "mute": False,
            "self_deaf": False,
            "self_mute": False,
            "self_stream": False,
            "self_video": False,
            "suppress": False,
            "request_to_speak_timestamp": None,
        }


_session_ids = itertools.count(1)


def voice_session_id() -> str:
    return f"voice{next(_session_ids):08d}"
