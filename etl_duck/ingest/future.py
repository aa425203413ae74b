"""Files dated ahead of the clock: a game server whose clock is wrong is not the future.

A round (or endstats) file is named for its round's end on the game server's wall clock
(STATS_FORMAT §1.1). One dated years ahead (a server clock set to 2031) would be the
lake's last session and the anchor of every relative window (week, month, season) for
good: no real session after it would ever be "the last" in the CLI, the site or the bot.
So an ingest quarantines a file dated more than ``IngestOptions.future_tolerance_hours``
ahead of now (both on the wall clock of the configured zone) instead of committing it;
raw/ keeps it like any other.

The rule is a function of the name, the setting and the clock, so it is applied again at
every ingest: a quarantined file lands once it no longer is that far ahead (the setting
raised or turned off, the clock caught up), or when an admin accepts it as dated
(``etl-duck resolve NAME --accept``: a marker in raw/, so a rebuild agrees).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from etl_duck.domain.parse import YEARS
from etl_duck.domain.sessions import server_now

if TYPE_CHECKING:
    import pyarrow as pa

    from etl_duck.ingest.options import IngestOptions

#: the setting that sets the tolerance, as an admin writes it
SETTING = "ETL_DUCK_FUTURE_TOLERANCE_HOURS"
#: the words every reason of this check holds (and no parser's reason does): how the
#: ledger's quarantined rows of this check are told from the others
MARK = " ahead of the clock here ("
_STAMP = "%Y-%m-%d-%H%M%S"  # how a round or endstats file's name starts
_STAMP_LEN = 17


def utc_now() -> datetime:
    """The clock the check reads (a test fixes it here: nothing sleeps, nothing depends on
    the real date)."""
    return datetime.now(UTC)


def local_now(zone: str) -> datetime:
    """Now on the wall clock of ``zone`` (IANA), naive like the names' times; the host's own
    wall clock when no zone (or an unknown one) is given."""
    return server_now(zone, utc_now())


def is_future_reason(reason: str | None) -> bool:
    """A quarantine reason this check wrote."""
    return reason is not None and MARK in reason


@dataclass(frozen=True)
class FutureCheck:
    """The check of one ingest: one reading of the clock for the whole batch."""

    now: datetime  # naive, on the wall clock of ``zone``
    zone: str
    hours: float
    #: the latest name stamp admitted: a name's first 17 characters are its time, and text
    #: order is time order, so a backfill's 100k names cost a string comparison each
    limit: str

    @classmethod
    def of(cls, options: IngestOptions) -> FutureCheck | None:
        """The check ``options`` ask for (the clock read now); None when they turn it off."""
        hours = options.future_tolerance_hours
        if hours is None or hours <= 0:
            return None
        now = local_now(options.timezone)
        try:
            limit = (now + timedelta(hours=hours)).strftime(_STAMP)
        except OverflowError:  # a tolerance of centuries: nothing is that far ahead
            limit = "9999-12-31-235959"
        return cls(now, options.timezone, float(hours), limit)

    def ahead(self, name: str) -> timedelta | None:
        """How far ahead of now ``name`` is dated, when that is more than the tolerance;
        None otherwise (a name that is no file name, or a year the parser refuses, is
        left to the parser, which names what is wrong with it)."""
        stamp = name[:_STAMP_LEN]
        if stamp <= self.limit:
            return None
        try:
            when = datetime.strptime(stamp, _STAMP)
        except ValueError:
            return None
        if not YEARS[0] <= when.year <= YEARS[1]:
            return None
        return when - self.now

    def reason(self, name: str, ahead: timedelta) -> str:
        """One sentence: the file, its date, how far ahead it is, and the fix."""
        when = self.now + ahead
        here = (
            f"{self.now:%Y-%m-%d %H:%M} {self.zone}" if self.zone else f"{self.now:%Y-%m-%d %H:%M}"
        )
        return (
            f"{name}: dated {when:%Y-%m-%d %H:%M:%S}, {_span(ahead)}{MARK}{here}), more than "
            f"the {self.hours:g} hours allowed ({SETTING}): the game server's clock is wrong "
            "— fix it, and ingest this file renamed to the round's real time (then `etl-duck "
            f"resolve {name} --dismiss` sets this name aside), or `etl-duck resolve {name} "
            "--accept` counts it as dated"
        )


def _span(ahead: timedelta) -> str:
    hours = ahead.total_seconds() / 3600
    if hours < 72:
        return f"{hours:.0f} hours"
    days = ahead.days
    if days < 730:
        return f"{days:,} days"
    return f"{days:,} days (about {days / 365.25:.0f} years)"


def admissible_again(
    ledger: pa.Table,
    check: FutureCheck | None,
    recheck: Collection[str],
    accepted: Callable[[str], bool],
) -> set[str]:
    """Names this check quarantined that are admitted now: no longer that far ahead (the
    setting changed, or the clock caught up), or accepted by an admin (of ``recheck``:
    the names an admin just resolved). One filter of the ledger (a few ms at 30 years);
    the quarantined rows are few."""
    import pyarrow.compute as pc

    if not ledger.num_rows:
        return set()
    held = ledger.filter(pc.equal(ledger["status"], "quarantined"))
    if not held.num_rows:
        return set()
    mine = pc.fill_null(pc.match_substring(held["reason"], MARK), False)
    names = held.filter(mine)["file_name"].to_pylist()
    return {
        n
        for n in names
        if check is None or check.ahead(n) is None or (n in recheck and accepted(n))
    }
