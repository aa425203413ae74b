"""Answering an interaction: timing, deferral, friendly failures, file buffers.

Every command builds a :class:`Reply` in a coroutine whose blocking work runs in worker
threads; :func:`respond` sends it. Discord drops an interaction that is not acknowledged
within 3 s, so the work calls :func:`before_chart` right before it renders a chart (which
defers: "thinking…"), and any other reply is deferred only if it is still not ready
:data:`DEFER_AFTER_S` after the interaction was created (a cold cache after a big commit). The common case answers directly,
and input errors found before a chart stay private (ephemeral) answers. Picking a player
in a "Which player?" menu answers again under the same rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO
from typing import Any

import discord

from etl_duck.query.stats import NoData, PlayerAmbiguous, PlayerNotFound, snapshot_gone

from .format import FIELD_MAX, cell_of, esc, fit_first, labels

log = logging.getLogger(__name__)

DEFER_AFTER_S = 2.0
CHOOSER_TIMEOUT_S = 180.0
#: Discord's limits for a select menu: 25 options, an option's label 1 to 100 characters
OPTIONS_MAX = 25
LABEL_MAX = 100
APOLOGY = "Sorry, something went wrong while answering that. The error has been logged."


Defer = Callable[[], Coroutine[Any, Any, None]]
_DEFER: contextvars.ContextVar[Defer | None] = contextvars.ContextVar(
    "etl_duck_defer", default=None
)
# the players picked so far in "Which player?" menus ({ambiguous text: GUID}), while a retry runs
_PICKS: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "etl_duck_picks", default=None
)


async def before_chart() -> None:
    """Acknowledge the interaction now: what follows (a chart) takes a while."""
    defer = _DEFER.get()
    if defer is not None:
        await defer()


def picked(text: str) -> str:
    """The GUID the user picked for ``text`` in a "Which player?" menu, else ``text``.

    A retry that names two players reads both through this: when the second name is
    ambiguous too, its menu's retry must keep the first pick (the retry's own arguments
    carry only the latest one)."""
    return (_PICKS.get() or {}).get(text, text)


class UserError(Exception):
    """A problem the user can fix (bad date, not linked, not allowed): shown as is."""


@dataclass
class Reply:
    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    files: list[tuple[str, bytes]] = field(default_factory=list)  # (file name, PNG bytes)
    view: discord.ui.View | None = None
    ephemeral: bool = False


Retry = Callable[[str, str], Awaitable[Reply]]  # (ambiguous text, chosen GUID) → the answer


class PlayerChooser(discord.ui.View):
    """ "Which player did you mean?": a menu of the near-tied players; picking one answers
    the command again with that GUID, in the same message."""

    def __init__(
        self,
        exc: PlayerAmbiguous,
        retry: Retry,
        owner_id: int,
        timeout: float = CHOOSER_TIMEOUT_S,
        picks: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(timeout=timeout)
        self.exc, self.retry, self.owner_id = exc, retry, owner_id
        self.picks = dict(picks or {})  # earlier menus' picks, kept for this one's retry
        self.picked: str | None = None
        self.interaction: discord.Interaction[Any] | None = None
        shown = exc.candidates[:OPTIONS_MAX]
        # the bot's names: his GUID where his name shows nothing (an empty label is refused),
        # two of one name told apart ("vid (D842)"), cut to the label's 100 keeping that mark
        named = labels(shown)
        self.menu: discord.ui.Select[PlayerChooser] = discord.ui.Select(
            placeholder="Which player did you mean?",
            options=[
                discord.SelectOption(
                    label=cell_of(named, {"guid": guid, "name": name}, LABEL_MAX),
                    value=guid,
                    description=f"GUID {guid}",
                )
                for guid, name in shown
            ],
        )
        self.menu.callback = self._picked  # type: ignore[method-assign]
        self.add_item(self.menu)

    def bind(self, interaction: discord.Interaction[Any]) -> None:
        """Remember the interaction whose message shows the menu (to edit it on timeout)."""
        self.interaction = interaction

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            "Only the person who asked can choose; run the command yourself.", ephemeral=True
        )
        return False

    async def on_timeout(self) -> None:
        # an expired menu that still looks usable fails when used ("interaction failed")
        self.menu.disabled = True
        self.menu.placeholder = "Too late to choose: run the command again"
        if self.interaction is not None:
            try:
                await self.interaction.edit_original_response(view=self)
            except discord.HTTPException:
                log.debug("could not disable the menu of an expired player chooser")

    async def _picked(self, interaction: discord.Interaction[Any]) -> None:
        guid = self.picked = str(self.menu.values[0])
        picks = {**self.picks, self.exc.text: guid}
        defer_now = _Deferral(interaction, thinking=False)  # type 6: the message stays

        token = _PICKS.set(picks)  # the retry's task copies this context: picked() finds it
        try:
            reply = await _timed(
                lambda: self.retry(self.exc.text, guid), defer_now, wait=defer_wait(interaction)
            )
        except PlayerAmbiguous as exc:
            if exc.text in picks:  # a retry that ignores picked(): asking again would loop
                named = ", ".join(f"**{esc(t)}** is {g}" for t, g in picks.items())
                reply = Reply(content=f"Ask again with the GUIDs: {named}.", ephemeral=True)
            else:  # the command's other player is ambiguous too: ask for that one now
                reply = chooser_reply(exc, self.retry, self.owner_id, picks)
        except Exception as exc:
            reply = failure_reply(exc) or Reply(content=APOLOGY, ephemeral=True)
            if failure_reply(exc) is None:
                log.exception("the chosen player's answer failed")
        finally:
            _PICKS.reset(token)
        try:
            if reply.ephemeral:
                # the picker's alone, and an edit of the public question would show it to
                # everyone; the menu stays: another pick may answer (no public_deferral:
                # @original is the question itself, not a "thinking…" message to remove)
                await send(interaction, reply)
            else:
                self.stop()
                await self._show(interaction, reply)
        except discord.HTTPException:
            log.exception("could not send the chosen player's answer")

    async def _show(self, interaction: discord.Interaction[Any], reply: Reply) -> None:
        """The answer in place of the question (the same public message)."""
        buffers = [BytesIO(data) for _, data in reply.files]
        files = [
            discord.File(b, filename=n) for b, (n, _) in zip(buffers, reply.files, strict=True)
        ]
        try:
            if interaction.response.is_done():  # deferred: edit through the pick's token
                await interaction.edit_original_response(
                    content=reply.content, embeds=reply.embeds, attachments=files, view=reply.view
                )
            else:
                await interaction.response.edit_message(
                    content=reply.content, embeds=reply.embeds, attachments=files, view=reply.view
                )
            bind = getattr(reply.view, "bind", None)
            if callable(bind):
                bind(interaction)  # pages or another menu: disabled on timeout through this
        finally:
            for f, b in zip(files, buffers, strict=True):
                f.close()
                b.close()


def chooser_reply(
    exc: PlayerAmbiguous, retry: Retry, owner_id: int, picks: Mapping[str, str] | None = None
) -> Reply:
    embed = discord.Embed(
        title="Which player?",
        description=f"**{esc(exc.text)}** matches {len(exc.candidates)} players about equally "
        "well. Pick one (or ask again with a GUID).",
        colour=discord.Colour.orange(),
    )
    # public, like the answer it turns into once a player is picked
    chooser = PlayerChooser(exc, retry, owner_id, CHOOSER_TIMEOUT_S, picks)
    return Reply(embeds=[embed], view=chooser)


def failure_reply(exc: BaseException) -> Reply | None:
    """The user-facing answer for an expected failure; None for a bug."""
    if isinstance(exc, PlayerNotFound):
        embed = discord.Embed(
            title="Player not found",
            description=f"No player matches **{esc(exc.text)}**.",
            colour=discord.Colour.orange(),
        )
        if exc.suggestions:
            embed.add_field(name="Did you mean", value=_suggested(exc))
        else:  # nothing near it: what would match
            embed.description = (
                f"{embed.description} Give a name the player used in the game (part of one "
                "will do) or his GUID."
            )
        return Reply(embeds=[embed], ephemeral=True)
    if isinstance(exc, NoData):  # its own words ("No session on 2025-11-12.")
        return Reply(content=esc(str(exc)), ephemeral=True)
    if isinstance(exc, UserError):
        return Reply(content=str(exc), ephemeral=True)
    if snapshot_gone(exc):  # a very slow answer outlived its lake version
        return Reply(
            content="The stats changed while this answer was read: ask again.", ephemeral=True
        )
    return None


def suggested(exc: PlayerNotFound) -> list[str]:
    """The players a failed lookup suggests (the near-tied ones of an ambiguous name, the
    closest ones of an unknown name) as the bot shows them: two of one name told apart
    ("vid (D842)", "vid (5D98)": two bare "vid" left the user unable to pick), a GUID for a
    name that shows nothing (:func:`~etl_duck.bot.format.labels`)."""
    named = labels(exc.candidates)
    return [named.get(g, g) for g, _ in exc.candidates]


def _suggested(exc: PlayerNotFound) -> str:
    """The "Did you mean" list (:func:`suggested`), one player a line."""
    return fit_first([f"• {esc(s)}" for s in suggested(exc)], FIELD_MAX, "\n")


class _Deferral:
    """Acknowledge an interaction once, whoever asks first — the work (before a chart) or
    the 2-second timer: "thinking…" for a command, a silent one for a menu's pick."""

    def __init__(self, interaction: discord.Interaction[Any], *, thinking: bool) -> None:
        self.interaction, self.thinking = interaction, thinking
        self.asked = False

    async def __call__(self) -> None:
        # the flag is set before the request: the work and the timer may both ask
        if self.asked or self.interaction.response.is_done():
            return
        self.asked = True
        await self.interaction.response.defer(thinking=self.thinking)


def defer_wait(interaction: discord.Interaction[Any]) -> float:
    """Seconds this handler may wait for its reply before it defers: :data:`DEFER_AFTER_S`
    of the interaction's age, not of the handler's. Discord's 3 s run from the interaction's
    creation, and under a burst an event waits its turn on the loop: 50 at once on a loaded
    two-core machine started their handlers late enough that a 2 s timer counted from the
    handler's start acknowledged them 3.4-3.9 s after creation, and Discord drops those.
    A clock ahead of Discord's defers sooner (harmless); one behind waits no longer than
    the plain timer."""
    created = getattr(interaction, "created_at", None)
    if not isinstance(created, datetime):
        return DEFER_AFTER_S
    age = (discord.utils.utcnow() - created).total_seconds()
    return min(DEFER_AFTER_S, max(0.0, DEFER_AFTER_S - age))


async def _timed(
    work: Callable[[], Awaitable[Reply]],
    defer_now: Defer,
    *,
    now: bool = False,
    wait: float | None = None,
) -> Reply:
    """Run ``work()``; ``defer_now`` when asked (``now``, or :func:`before_chart`), or when it
    is still not done after ``wait`` seconds (:data:`DEFER_AFTER_S` if not given)."""
    token = _DEFER.set(defer_now)  # the task copies this context: before_chart() finds it
    try:
        task = asyncio.ensure_future(work())
    finally:
        _DEFER.reset(token)
    try:
        if now:
            await defer_now()
        done, _ = await asyncio.wait({task}, timeout=DEFER_AFTER_S if wait is None else wait)
        if not done:
            await defer_now()
        return await task
    finally:
        if not task.done():
            task.cancel()


def _command_name(interaction: discord.Interaction[Any]) -> str:
    command = getattr(interaction, "command", None)
    return getattr(command, "qualified_name", None) or "interaction"


async def respond(
    interaction: discord.Interaction[Any],
    work: Awaitable[Reply],
    *,
    defer: bool = False,
    retry: Retry | None = None,
) -> None:
    """Run ``work`` and send its reply; ``defer`` at once if it is known to be slow.
    ``retry(text, guid)``: how to answer again once the user picked the player an ambiguous
    name meant (without it, an ambiguous name is answered like an unknown one)."""

    defer_now = _Deferral(interaction, thinking=True)

    try:
        reply = await _timed(lambda: work, defer_now, now=defer, wait=defer_wait(interaction))
    except Exception as exc:
        known = failure_reply(exc)
        if isinstance(exc, PlayerAmbiguous) and retry is not None:
            known = chooser_reply(exc, retry, interaction.user.id)
        if known is None:
            # full trace to the log (no locals, no settings), a short apology to the user
            log.exception("/%s failed (user %s)", _command_name(interaction), interaction.user.id)
            known = Reply(content=APOLOGY, ephemeral=True)
        reply = known
    try:
        await send(interaction, reply, public_deferral=defer_now.asked)
    except discord.HTTPException:
        log.exception("could not send the reply to /%s", _command_name(interaction))


async def send(
    interaction: discord.Interaction[Any], reply: Reply, *, public_deferral: bool = False
) -> None:
    """Send as the first response or as a follow-up; always close the PNG buffers.

    The first follow-up after a deferral replaces the "thinking…" message and keeps its
    visibility whatever it asks for, so a private reply after a public deferral first
    removes that message (else "player not found" after a slow lookup was public: found by
    the Discord emulator).
    """
    buffers = [BytesIO(data) for _, data in reply.files]
    files = [
        discord.File(b, filename=name) for b, (name, _) in zip(buffers, reply.files, strict=True)
    ]
    kwargs: dict[str, Any] = {"ephemeral": reply.ephemeral}
    if reply.content:
        kwargs["content"] = reply.content
    if reply.embeds:
        kwargs["embeds"] = reply.embeds
    if files:
        kwargs["files"] = files
    if reply.view is not None:
        kwargs["view"] = reply.view
    try:
        if interaction.response.is_done():
            if public_deferral and reply.ephemeral:
                # if the delete fails the reply still goes out (public): better than nothing
                with contextlib.suppress(discord.HTTPException):
                    await interaction.delete_original_response()
            await interaction.followup.send(**kwargs)
        else:
            await interaction.response.send_message(**kwargs)
        bind = getattr(reply.view, "bind", None)
        if callable(bind):
            bind(interaction)  # lets a paginator disable its buttons on timeout
    finally:
        for f, b in zip(files, buffers, strict=True):
            f.close()  # restores the buffer's close(), which discord.File stubs out
            b.close()


def attach(embed: discord.Embed, name: str) -> discord.Embed:
    """Show the attached PNG ``name`` inside the embed."""
    return embed.set_image(url=f"attachment://{name}")
