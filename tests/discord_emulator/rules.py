"""Discord's documented limits: one table, and the checks that apply it to a payload.

Every rule names the page of Discord's developer documentation it comes from
(https://discord.com/developers/docs/...), the HTTP status and JSON error code Discord answers
with, and, for Invalid Form Body errors (50035), the code Discord puts in the error tree.
The emulator refuses a request that breaks a rule exactly as Discord would, and records the
refusal; ``tests/test_discord_emulator.py`` breaks every rule once and checks it is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DOCS = "https://discord.com/developers/docs"
MESSAGE = f"{DOCS}/resources/message#create-message"
EMBED_LIMITS = f"{DOCS}/resources/message#embed-object-embed-limits"
UPLOADS = f"{DOCS}/reference#uploading-files"
COMPONENTS = f"{DOCS}/components/reference"
RESPONDING = f"{DOCS}/interactions/receiving-and-responding"
AUTOCOMPLETE = f"{RESPONDING}#interaction-response-object-autocomplete"
FOLLOWUPS = f"{RESPONDING}#followup-messages"
COMMANDS = f"{DOCS}/interactions/application-commands"
RATE_LIMITS = f"{DOCS}/topics/rate-limits"
REFERENCE = f"{DOCS}/reference"
GATEWAY = f"{DOCS}/events/gateway"
CLOSE_CODES = f"{DOCS}/topics/opcodes-and-status-codes#gateway-gateway-close-event-codes"

MiB = 1024 * 1024


@dataclass(frozen=True)
class Rule:
    id: str
    what: str  # the rule in words
    doc: str  # the documentation page it comes from
    limit: int | float | None = None
    status: int = 400  # HTTP status of the refusal (0: a gateway rule)
    code: int = 50035  # Discord's JSON error code (gateway rules: the close code or opcode)
    message: str = "Invalid Form Body"
    field_code: str = "BASE_TYPE_MAX_LENGTH"  # the code inside an Invalid Form Body tree


_RULES: tuple[Rule, ...] = (
    # ------------------------------------------------------------ messages (Create Message)
    Rule("message.empty", "a message has content, an embed, a component or a file", MESSAGE,
         code=50006, message="Cannot send an empty message"),
    Rule("message.content", "content is at most 2,000 characters", MESSAGE, 2000),
    Rule("message.embeds", "at most 10 embeds per message", MESSAGE, 10,
         field_code="BASE_TYPE_MAX_LENGTH"),
    Rule("message.nonce", "a nonce is at most 25 characters", MESSAGE, 25),
    # ------------------------------------------------------------ embeds (Embed Limits)
    Rule("embed.title", "an embed title is at most 256 characters", EMBED_LIMITS, 256),
    Rule("embed.description", "an embed description is at most 4,096 characters",
         EMBED_LIMITS, 4096),
    Rule("embed.fields", "an embed has at most 25 fields", EMBED_LIMITS, 25),
    Rule("embed.field.name", "a field name has 1 to 256 characters", EMBED_LIMITS, 256),
    Rule("embed.field.value", "a field value has 1 to 1,024 characters", EMBED_LIMITS, 1024),
    Rule("embed.footer", "a footer text is at most 2,048 characters", EMBED_LIMITS, 2048),
    Rule("embed.author", "an author name is at most 256 characters", EMBED_LIMITS, 256),
    Rule("embed.total", "at most 6,000 characters across all embeds of a message "
         "(titles, descriptions, field names and values, footers, author names)",
         EMBED_LIMITS, 6000, field_code="MESSAGE_EMBEDS_LENGTH_EXCEEDED"),
    # ------------------------------------------------------------ files (Uploading Files)
    Rule("files.count", "at most 10 files per message", UPLOADS, 10),
    Rule("files.size", "a request uploads at most 10 MiB", UPLOADS, 10 * MiB, status=413,
         code=40005, message="Request entity too large"),
    # ------------------------------------------------------------ components (Component Reference)
    Rule("components.rows", "at most 5 action rows per message", COMPONENTS, 5),
    Rule("components.row_size", "at most 5 buttons in an action row", COMPONENTS, 5),
    Rule("component.custom_id", "a custom_id has 1 to 100 characters", COMPONENTS, 100),
    Rule("component.custom_id_unique", "custom_ids are unique within a message", COMPONENTS,
         field_code="COMPONENT_CUSTOM_ID_DUPLICATED"),
    Rule("component.label", "a button label is at most 80 characters", COMPONENTS, 80),
    Rule("component.button", "a link button has a url and no custom_id; any other button "
         "has a custom_id", COMPONENTS, field_code="BUTTON_COMPONENT_INVALID"),
    # (a select menu's custom_id: component.custom_id, 1 to 100 characters)
    Rule("select.options", "a string select has 1 to 25 options", f"{COMPONENTS}#string-select",
         25),
    Rule("select.option.label", "a select option's label has 1 to 100 characters",
         f"{COMPONENTS}#string-select-select-option-structure", 100),
    Rule("select.option.value", "a select option's value has 1 to 100 characters",
         f"{COMPONENTS}#string-select-select-option-structure", 100),
    Rule("select.option.description", "a select option's description is at most 100 "
         "characters", f"{COMPONENTS}#string-select-select-option-structure", 100),
    Rule("select.placeholder", "a select menu's placeholder is at most 150 characters",
         f"{COMPONENTS}#string-select", 150),
    # ------------------------------------------------------------ interactions (Receiving and Responding)
    Rule("interaction.deadline", "the first response arrives within 3 s of the interaction",
         RESPONDING, 3.0, status=404, code=10062, message="Unknown interaction"),
    Rule("interaction.acknowledged", "an interaction is acknowledged once", RESPONDING,
         code=40060, message="Interaction has already been acknowledged."),
    Rule("interaction.callback_type", "the response type suits the interaction (8 only for "
         "autocomplete; 6 and 7 only for components; 4, 5 for commands and components)",
         RESPONDING, field_code="INTERACTION_CALLBACK_TYPE_INVALID"),
    Rule("interaction.not_acknowledged", "follow-ups and @original need a first response",
         FOLLOWUPS, status=404, code=10015, message="Unknown Webhook"),
    Rule("interaction.token_expired", "an interaction token is valid for 15 minutes",
         FOLLOWUPS, 15 * 60.0, status=401, code=50027, message="Invalid Webhook Token"),
    Rule("autocomplete.choices", "an autocomplete answer has at most 25 choices",
         AUTOCOMPLETE, 25),
    Rule("autocomplete.choice", "a choice name has 1 to 100 characters, a string value at "
         "most 100", AUTOCOMPLETE, 100),
    # ------------------------------------------------------------ commands (Application Commands)
    Rule("command.name", "a command or option name matches ^[-_'\\p{L}\\p{N}]{1,32}$ and is "
         "lowercase", COMMANDS, 32, field_code="APPLICATION_COMMAND_INVALID_NAME"),
    Rule("command.description", "a command or option description has 1 to 100 characters",
         COMMANDS, 100),
    Rule("command.options", "a command has at most 25 options", COMMANDS, 25),
    Rule("command.choices", "an option has at most 25 choices", COMMANDS, 25),
    Rule("command.required_first", "required options come before optional ones", COMMANDS,
         field_code="APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID"),
    Rule("command.count", "at most 100 chat-input commands per scope", COMMANDS, 100,
         code=30032, message="Maximum number of application commands reached (100)"),
    Rule("command.unique", "command names are unique per scope and type", COMMANDS,
         field_code="APPLICATION_COMMANDS_DUPLICATE_NAME"),
    Rule("command.total_length", "name, description and option texts of a command total at "
         "most 4,000 characters", COMMANDS, 4000,
         field_code="APPLICATION_COMMAND_TOO_LARGE"),
    # ------------------------------------------------------------ REST (Reference, Rate Limits)
    Rule("rest.auth", "requests carry the bot token (Authorization: Bot <token>)",
         f"{REFERENCE}#authentication", status=401, code=0, message="401: Unauthorized"),
    Rule("rest.user_agent", "requests carry a User-Agent `DiscordBot ($url, $version)`",
         f"{REFERENCE}#user-agent", code=0, message="Bad User-Agent"),
    Rule("rest.route", "a route the API has (the emulator knows every route the bot may use)",
         REFERENCE, status=404, code=0, message="404: Not Found"),
    Rule("ratelimit.route", "no request to an exhausted bucket before X-RateLimit-Reset",
         RATE_LIMITS, status=429, code=0, message="You are being rate limited."),
    Rule("ratelimit.global", "at most 50 requests per second outside interaction endpoints",
         f"{RATE_LIMITS}#global-rate-limit", 50, status=429, code=0,
         message="You are being rate limited."),
    # ------------------------------------------------------------ gateway (Gateway, close codes)
    Rule("gateway.version", "connect with v=10 and encoding=json", CLOSE_CODES, status=0,
         code=4012, message="Invalid API version"),
    Rule("gateway.decode", "payloads are JSON objects of at most 4,096 bytes", CLOSE_CODES,
         4096, status=0, code=4002, message="Decode error"),
    Rule("gateway.opcode", "only opcodes a client may send", CLOSE_CODES, status=0, code=4001,
         message="Unknown opcode"),
    Rule("gateway.not_authenticated", "IDENTIFY (or RESUME) before any other payload",
         CLOSE_CODES, status=0, code=4003, message="Not authenticated"),
    Rule("gateway.auth", "IDENTIFY carries a valid token", CLOSE_CODES, status=0, code=4004,
         message="Authentication failed"),
    Rule("gateway.already_authenticated", "IDENTIFY once per connection", CLOSE_CODES,
         status=0, code=4005, message="Already authenticated"),
    Rule("gateway.resume_seq", "RESUME with a sequence number the session has sent",
         CLOSE_CODES, status=0, code=4007, message="Invalid seq"),
    Rule("gateway.rate", "at most 120 payloads per 60 s on a connection",
         f"{GATEWAY}#rate-limiting", 120, status=0, code=4008, message="Rate limited"),
    Rule("gateway.heartbeat", "a heartbeat at least every heartbeat_interval",
         f"{GATEWAY}#sending-heartbeats", status=0, code=4009, message="Session timed out"),
    Rule("gateway.intents", "intents are a valid bit set", CLOSE_CODES, status=0, code=4013,
         message="Invalid intent(s)"),
    Rule("gateway.privileged_intents", "privileged intents (members, presences, message "
         "content) only when enabled for the application", CLOSE_CODES, status=0, code=4014,
         message="Disallowed intent(s)"),
    Rule("gateway.identify_rate", "at most max_concurrency IDENTIFYs per 5 s (else op 9)",
         f"{GATEWAY}#rate-limiting", 5.0, status=0, code=9, message="Invalid session"),
    Rule("gateway.resume_session", "RESUME a session that exists (else op 9, d=false)",
         f"{GATEWAY}#resuming", status=0, code=9, message="Invalid session"),
)  # fmt: skip

RULES: dict[str, Rule] = {r.id: r for r in _RULES}
assert len(RULES) == len(_RULES), "duplicate rule ids"

#: intents Discord defines (bits 0–25 minus the unused ones) and the privileged ones
VALID_INTENTS = sum(1 << b for b in (*range(0, 17), 20, 21, 24, 25))
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)  # members, presences, message content


@dataclass(frozen=True)
class Violation:
    rule: Rule
    path: tuple[str | int, ...] = ()
    detail: str = ""

    def __str__(self) -> str:
        where = ".".join(str(p) for p in self.path)
        return f"{self.rule.id} ({where}): {self.detail or self.rule.what} [{self.rule.doc}]"


def violation(rule_id: str, path: Sequence[str | int] = (), detail: str = "") -> Violation:
    return Violation(RULES[rule_id], tuple(path), detail)


def error_body(violations: Sequence[Violation]) -> dict[str, Any]:
    """Discord's JSON error for the first violation's rule (50035: with the error tree)."""
    first = violations[0].rule
    body: dict[str, Any] = {"code": first.code, "message": first.message}
    if first.code != 50035:
        return body
    errors: dict[str, Any] = {}
    for v in violations:
        if v.rule.code != 50035:
            continue
        node = errors
        for part in v.path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append(
            {"code": v.rule.field_code, "message": v.detail or v.rule.what}
        )
    body["errors"] = errors
    return body


# ---------------------------------------------------------------------------- checks


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _too_long(rule_id: str, text: Any, path: Sequence[str | int], *, minimum: int = 0) -> list[Violation]:  # fmt: skip
    limit = RULES[rule_id].limit
    assert isinstance(limit, int)
    n = len(_text(text))
    if n > limit:
        return [violation(rule_id, path, f"Must be {limit} or fewer in length (got {n}).")]
    if n < minimum:
        return [violation(rule_id, path, f"Must be {minimum} or more in length (got {n}).")]
    return []


def check_embeds(embeds: Sequence[Any], path: Sequence[str | int] = ("embeds",)) -> list[Violation]:  # fmt: skip
    out: list[Violation] = []
    if len(embeds) > 10:
        out.append(violation("message.embeds", path, f"{len(embeds)} embeds"))
    total = 0
    for i, e in enumerate(embeds):
        if not isinstance(e, Mapping):
            continue
        p = (*path, i)
        out += _too_long("embed.title", e.get("title"), (*p, "title"))
        out += _too_long("embed.description", e.get("description"), (*p, "description"))
        footer: Mapping[str, Any] = e["footer"] if isinstance(e.get("footer"), Mapping) else {}
        author: Mapping[str, Any] = e["author"] if isinstance(e.get("author"), Mapping) else {}
        out += _too_long("embed.footer", footer.get("text"), (*p, "footer", "text"))
        out += _too_long("embed.author", author.get("name"), (*p, "author", "name"))
        fields = e.get("fields") or []
        if len(fields) > 25:
            out.append(violation("embed.fields", (*p, "fields"), f"{len(fields)} fields"))
        total += sum(len(_text(e.get(k))) for k in ("title", "description"))
        total += len(_text(footer.get("text"))) + len(_text(author.get("name")))
        for j, f in enumerate(fields):
            fp = (*p, "fields", j)
            out += _too_long("embed.field.name", f.get("name"), (*fp, "name"), minimum=1)
            out += _too_long("embed.field.value", f.get("value"), (*fp, "value"), minimum=1)
            total += len(_text(f.get("name"))) + len(_text(f.get("value")))
    if total > 6000:
        out.append(violation("embed.total", path, f"{total} characters across the embeds"))
    return out


def check_components(rows: Sequence[Any], path: Sequence[str | int] = ("components",)) -> list[Violation]:  # fmt: skip
    out: list[Violation] = []
    if len(rows) > 5:
        out.append(violation("components.rows", path, f"{len(rows)} action rows"))
    seen: set[str] = set()
    for i, row in enumerate(rows):
        items = row.get("components", []) if isinstance(row, Mapping) else []
        if len(items) > 5:
            out.append(violation("components.row_size", (*path, i), f"{len(items)} buttons"))
        for j, c in enumerate(items):
            cp = (*path, i, "components", j)
            link = c.get("style") == 5
            cid = c.get("custom_id")
            if link and (cid is not None or not c.get("url")):
                out.append(violation("component.button", cp, "a link button: url, no custom_id"))
            if not link and c.get("type") == 2 and cid is None:
                out.append(violation("component.button", cp, "a button needs a custom_id"))
            if cid is not None:
                out += _too_long("component.custom_id", cid, (*cp, "custom_id"), minimum=1)
                if cid in seen:
                    out.append(violation("component.custom_id_unique", (*cp, "custom_id"), cid))
                seen.add(cid)
            if "label" in c:
                out += _too_long("component.label", c.get("label"), (*cp, "label"))
            if c.get("type") in SELECTS:
                out += _check_select(c, cp)
    return out


#: select menus: string (3, with options), user, role, mentionable and channel (5-8)
SELECTS = (3, 5, 6, 7, 8)


def _check_select(menu: Mapping[str, Any], path: Sequence[str | int]) -> list[Violation]:
    out = _too_long("select.placeholder", menu.get("placeholder"), (*path, "placeholder"))
    if menu.get("type") != 3:
        return out
    options = menu.get("options") or []
    if not 1 <= len(options) <= 25:
        out.append(violation("select.options", (*path, "options"), f"{len(options)} options"))
    for k, item in enumerate(options):
        op = (*path, "options", k)
        o: Mapping[str, Any] = item if isinstance(item, Mapping) else {}
        out += _too_long("select.option.label", o.get("label"), (*op, "label"), minimum=1)
        out += _too_long("select.option.value", o.get("value"), (*op, "value"), minimum=1)
        out += _too_long("select.option.description", o.get("description"),
                         (*op, "description"))  # fmt: skip
    return out


def check_message(
    payload: Mapping[str, Any],
    files: Sequence[tuple[str, bytes]] = (),
    *,
    edit: bool = False,
    path: Sequence[str | int] = (),
) -> list[Violation]:
    """A message to create (or, ``edit``, the fields of an edit) against Discord's limits."""
    out: list[Violation] = []
    content = payload.get("content")
    embeds = payload.get("embeds") or []
    components = payload.get("components") or []
    attachments = payload.get("attachments") or []
    if not edit and not (content or embeds or components or files or attachments
                         or payload.get("sticker_ids") or payload.get("poll")):  # fmt: skip
        out.append(violation("message.empty", path))
    out += _too_long("message.content", content, (*path, "content"))
    if payload.get("nonce") is not None:
        out += _too_long("message.nonce", str(payload["nonce"]), (*path, "nonce"))
    out += check_embeds(embeds, (*path, "embeds"))
    out += check_components(components, (*path, "components"))
    if len(files) > 10 or len(attachments) > 10:
        out.append(violation("files.count", (*path, "attachments"), f"{len(files)} files"))
    return out


def check_upload_size(size: int) -> list[Violation]:
    limit = RULES["files.size"].limit
    assert isinstance(limit, int)
    return [violation("files.size", (), f"{size} bytes")] if size > limit else []


def check_autocomplete(choices: Sequence[Any], path: Sequence[str | int] = ("data", "choices")) -> list[Violation]:  # fmt: skip
    out: list[Violation] = []
    if len(choices) > 25:
        out.append(violation("autocomplete.choices", path, f"{len(choices)} choices"))
    for i, c in enumerate(choices):
        out += _too_long("autocomplete.choice", c.get("name"), (*path, i, "name"), minimum=1)
        if isinstance(c.get("value"), str):
            out += _too_long("autocomplete.choice", c["value"], (*path, i, "value"))
    return out


_NAME = re.compile(r"^[-_'\w]{1,32}$")  # \w: letters, digits (Unicode) and _


def _check_name(name: Any, path: Sequence[str | int]) -> list[Violation]:
    text = _text(name)
    if not _NAME.match(text) or text != text.lower():
        return [violation("command.name", path, f"invalid name {text!r}")]
    return []


def _command_length(cmd: Mapping[str, Any]) -> int:
    n = len(_text(cmd.get("name"))) + len(_text(cmd.get("description")))
    for o in cmd.get("options") or []:
        n += _command_length(o)
        for c in o.get("choices") or []:
            n += len(_text(c.get("name"))) + len(str(c.get("value", "")))
    return n


def _check_options(options: Sequence[Any], path: Sequence[str | int]) -> list[Violation]:
    out: list[Violation] = []
    if len(options) > 25:
        out.append(violation("command.options", path, f"{len(options)} options"))
    optional_seen = False
    for i, o in enumerate(options):
        op = (*path, i)
        out += _check_name(o.get("name"), (*op, "name"))
        out += _too_long("command.description", o.get("description"), (*op, "description"),
                         minimum=1)  # fmt: skip
        choices = o.get("choices") or []
        if len(choices) > 25:
            out.append(violation("command.choices", (*op, "choices"), f"{len(choices)}"))
        if o.get("type") in (1, 2):  # sub-commands and groups: their own options
            out += _check_options(o.get("options") or [], (*op, "options"))
            continue
        if o.get("required"):
            if optional_seen:
                out.append(violation("command.required_first", (*op, "required")))
        else:
            optional_seen = True
    return out


def check_commands(commands: Sequence[Any]) -> list[Violation]:
    """A bulk overwrite of one scope's commands."""
    out: list[Violation] = []
    chat = [c for c in commands if c.get("type", 1) == 1]
    if len(chat) > 100:
        out.append(violation("command.count", (), f"{len(chat)} commands"))
    seen: set[tuple[int, str]] = set()
    for i, c in enumerate(commands):
        key = (int(c.get("type", 1)), _text(c.get("name")))
        if key in seen:
            out.append(violation("command.unique", (i, "name"), key[1]))
        seen.add(key)
        if key[0] != 1:
            continue
        out += _check_name(c.get("name"), (i, "name"))
        out += _too_long("command.description", c.get("description"), (i, "description"),
                         minimum=1)  # fmt: skip
        out += _check_options(c.get("options") or [], (i, "options"))
        if _command_length(c) > 4000:
            out.append(violation("command.total_length", (i,), f"{_command_length(c)}"))
    return out


def describe(violations: Iterable[Violation]) -> str:
    return "\n".join(str(v) for v in violations)


# ---------------------------------------------------------------------------- rendering
# Not rules Discord enforces: what it accepts but shows other than the bot meant
# (https://support.discord.com/hc/en-us/articles/210298617 — Markdown text formatting).

_CODE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
_ESCAPE = re.compile(r"\\[\\*_~|`>#\-\[\]()]")


def markdown_findings(text: str) -> list[str]:
    """Inside a code span or block Markdown is off: a backslash escape shows its backslash.
    (An escaped backtick outside code opens no span: escapes are masked to find the spans.)"""
    masked = re.sub(r"\\.", "\0\0", text, flags=re.DOTALL)
    spans = (text[m.start() : m.end()] for m in _CODE.finditer(masked))
    return [f"an escaped character inside code shows its backslash: {span[:60]!r}"
            for span in spans if _ESCAPE.search(span)]  # fmt: skip


def message_texts(payload: Mapping[str, Any]) -> list[str]:
    """The Markdown-rendered texts of a message (content, embed titles, descriptions, fields)."""
    out = [_text(payload.get("content"))]
    for e in payload.get("embeds") or []:
        if isinstance(e, Mapping):
            out += [_text(e.get("title")), _text(e.get("description"))]
            out += [_text(f.get("value")) for f in e.get("fields") or [] if isinstance(f, Mapping)]
    return [t for t in out if t]
