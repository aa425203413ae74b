"""What counts: the restart rule on the rounds' own timelines (long replays included)."""

from __future__ import annotations

from datetime import datetime, timedelta

from etl_duck.domain.counting import RESTART_GAP, restarted_round1s, round_reasons
from etl_duck.domain.parse import RoundFile, parse_bytes
from tests.lakecheck import R1, R2

HEADER = b"^1ET^7:^4L ^7Test ^3Server\\supply\\legacy3\\1\\1\\2\\12:00\\8:41\\521460"


def _round(end: datetime, number: int = 1, *, limit: str = "12:00", clock: str = "8:41",
           play_ms: int = 521_460) -> RoundFile:  # fmt: skip
    """The supply fixture as a round of ``number`` ending at ``end`` with its own clock."""
    src = (R1 if number == 1 else R2).read_bytes()
    body = src.split(b"\n", 1)[1]
    header = b"\\".join(
        [*HEADER.split(b"\\")[:3], str(number).encode(), b"1", b"2", limit.encode(),
         clock.encode(), str(play_ms).encode()]
    )  # fmt: skip
    name = f"{end:%Y-%m-%d-%H%M%S}-supply-round-{number}.txt"
    return parse_bytes(header + b"\n" + body, name)


T0 = datetime(2026, 3, 14, 21, 0, 0)


def test_a_long_replay_started_right_after_the_abandoned_round_is_a_restart() -> None:
    abandoned = _round(T0)
    # a 20-minute replay that started 90 s after the abandoned round ended: its file is
    # written 21.5 min after the abandoned one (the old file-to-file rule missed these)
    replay_ms = 20 * 60_000
    replay = _round(T0 + timedelta(seconds=90 + 3) + timedelta(milliseconds=replay_ms),
                    limit="30:00", clock="20:00", play_ms=replay_ms)  # fmt: skip
    assert replay.file.end_time - abandoned.file.end_time > timedelta(minutes=15)
    assert restarted_round1s([abandoned, replay], set()) == {abandoned.file.name}
    reasons, _ = round_reasons([abandoned, replay], ())
    assert reasons[abandoned.file.name] == "restart" and reasons[replay.file.name] is None


def test_a_later_round_1_that_started_after_the_gap_is_not_a_restart() -> None:
    first = _round(T0)
    later_start = T0 + RESTART_GAP + timedelta(minutes=1)
    later = _round(later_start + timedelta(seconds=3, milliseconds=521_460))
    assert restarted_round1s([first, later], set()) == set()


def test_a_round_2_in_between_means_the_map_was_played_not_restarted() -> None:
    first = _round(T0)
    r2 = _round(T0 + timedelta(minutes=2), number=2, limit="8:41", clock="7:52", play_ms=100_000)
    again = _round(T0 + timedelta(minutes=4), play_ms=100_000, clock="1:40")
    # the R2 does not pair with `first` (it is too short to have followed it), yet it was
    # played between them: `first` was not abandoned for a replay
    assert restarted_round1s([first, r2, again], set()) == set()


def test_a_paired_round_1_is_never_a_restart() -> None:
    first = _round(T0)
    again = _round(T0 + timedelta(minutes=12))
    assert restarted_round1s([first, again], {first.file.name}) == set()
