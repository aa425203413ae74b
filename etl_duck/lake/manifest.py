"""The snapshot manifest: every partition and shard file of one lake version, with the
version that wrote it, and the settings the content was derived with."""

from __future__ import annotations

import bisect
import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from etl_duck.lake.layout import TABLES


class Partition(NamedTuple):
    """One file of a snapshot. A named tuple, not a dataclass: a 10-year manifest holds
    ~5,600 of them and a fresh process builds them all before its first answer (frozen
    dataclasses took 8 ms of a 12 ms parse; see ``from_json``)."""

    file: str  # path relative to the snapshot
    version: int  # lake version that last wrote it
    rows: int
    checksum: str = ""  # blake2b-64 of the file (``etl-duck check``); "" before checksums


def file_checksum(path: str | Path) -> str:
    """The checksum a manifest keeps for a file: blake2b, 8 bytes, hex."""
    h = hashlib.blake2b(digest_size=8)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def new_lake_id() -> str:
    """A new lake's identity: 16 random hex digits (see ``Manifest.lake``)."""
    return secrets.token_hex(8)


def _parts_to_json(groups: Mapping[str, Mapping[str, Partition]]) -> dict[str, Any]:
    return {
        g: {k: [p.file, p.version, p.rows, p.checksum] for k, p in sorted(parts.items())}
        for g, parts in groups.items()
    }


_COMPACT = (",", ":")

#: (table, year) → (that year's dates, their partitions, their JSON without braces): the
#: text of the last manifest encoded in this process (a writer encodes one per commit)
_YEAR_TEXT: dict[tuple[str, str], tuple[tuple[str, ...], tuple[Partition, ...], str]] = {}


def _partitions_json(partitions: Mapping[str, Mapping[str, Partition]]) -> str:
    """``json.dumps(_parts_to_json(partitions))``, reusing the text of unchanged years.

    A year's dates are found by bisection in the sorted dates, and compared with the cached
    year as two tuples (the same Partition objects, carried from the last manifest, pass
    tuple comparison's identity check): no key function called per partition (at 30 years
    ``to_json`` went 8.6 → 5.2 ms). Keys are grouped by their first four characters, as
    before, whatever they hold."""
    global _YEAR_TEXT
    used: dict[tuple[str, str], tuple[tuple[str, ...], tuple[Partition, ...], str]] = {}
    tables = []
    for table, parts in partitions.items():
        keys = sorted(parts)  # linear on the usual, already sorted, dates
        values = [parts[k] for k in keys]
        years = []
        start = 0
        while start < len(keys):
            year = keys[start][:4]
            # every key that starts with these four characters sorts before this bound
            end = (
                bisect.bisect_right(keys, year + "\U0010ffff", start + 1)
                if len(year) == 4
                else start + 1
            )
            while end < len(keys) and keys[end][:4] == year:  # a key beyond the bound
                end += 1
            dates, parts_of_year = tuple(keys[start:end]), tuple(values[start:end])
            key = (table, year)
            cached = _YEAR_TEXT.get(key)
            if cached is not None and cached[0] == dates and cached[1] == parts_of_year:
                text = cached[2]
            else:
                body = {
                    k: [p.file, p.version, p.rows, p.checksum]
                    for k, p in zip(dates, parts_of_year, strict=True)
                }
                text = json.dumps(body, separators=_COMPACT)[1:-1]
            used[key] = (dates, parts_of_year, text)
            years.append(text)
            start = end
        tables.append(f"{json.dumps(table)}:{{{','.join(years)}}}")
    _YEAR_TEXT = used
    return "{" + ",".join(tables) + "}"


def _parts_from_json(raw: Mapping[str, Mapping[str, list[Any]]]) -> dict[str, dict[str, Partition]]:
    make = Partition._make  # [file, version, rows, checksum] as JSON gives them
    return {
        g: {k: make(v) if len(v) == 4 else Partition(*v) for k, v in parts.items()}
        for g, parts in raw.items()
    }


@dataclass(frozen=True)
class Manifest:
    version: int
    created: float
    partitions: dict[str, dict[str, Partition]]  # table → session_date ISO → partition
    #: "state/<name>" or "serving/<name>" → year → shard; empty in snapshots written before
    #: tables were sharded (read as one file per table, see ``Lake.read_state``)
    shards: dict[str, dict[str, Partition]] = field(default_factory=dict)
    #: the ingest settings the content was derived with (IngestOptions.fingerprint)
    options: dict[str, Any] = field(default_factory=dict)
    #: which lake this is (:func:`new_lake_id`): drawn when a lake is created or rebuilt,
    #: carried by every later commit. A lake deleted and rebuilt from raw/ numbers its
    #: versions from 1 again, so a version number alone does not say which content it is
    #: (a reader compares both, see ``Serving.refresh``). "" in manifests written before
    #: lakes had one; the next commit gives the lake one.
    lake: str = ""

    @staticmethod
    def empty() -> Manifest:
        return Manifest(0, 0.0, {t: {} for t in TABLES}, {})

    def to_json(self) -> str:
        # compact, one line: the C encoder (``indent`` falls back to pure Python, ~90 ms
        # for the ~5k partitions of a 10-year lake). The partitions, which grow with the
        # history, are encoded a year at a time and a year's text is reused while its
        # partitions are unchanged (a commit touches one or two years; encoding all 16k
        # partitions of a 30-year lake took 15-50 ms of every commit). Same bytes.
        head = json.dumps(
            {"version": self.version, "created": self.created, "partitions": None},
            separators=_COMPACT,
        )
        tail = json.dumps(
            {"shards": _parts_to_json(self.shards), "options": self.options, "lake": self.lake},
            separators=_COMPACT,
        )
        return f"{head[:-5]}{_partitions_json(self.partitions)},{tail[1:]}"

    @staticmethod
    def from_json(text: str) -> Manifest:
        raw = json.loads(text)
        # a snapshot written before a table existed simply has no partitions of it
        partitions: dict[str, dict[str, Partition]] = {t: {} for t in TABLES}
        partitions |= _parts_from_json(raw["partitions"])
        return Manifest(
            int(raw["version"]),
            float(raw["created"]),
            partitions,
            _parts_from_json(raw.get("shards", {})),
            dict(raw.get("options", {})),
            str(raw.get("lake", "")),  # older manifests have none (older code ignores it)
        )

    def with_checksums(self, checksums: Mapping[str, str]) -> Manifest:
        """The same manifest with the checksums of files written after it was planned."""
        if not checksums:
            return self

        def fill(groups: dict[str, dict[str, Partition]]) -> dict[str, dict[str, Partition]]:
            return {
                g: {
                    k: p._replace(checksum=checksums[p.file]) if p.file in checksums else p
                    for k, p in parts.items()
                }
                for g, parts in groups.items()
            }

        return replace(self, partitions=fill(self.partitions), shards=fill(self.shards))

    def files(self) -> dict[str, Partition]:
        """Every data file of the snapshot (partitions and shards) by relative path."""
        out = {p.file: p for parts in self.partitions.values() for p in parts.values()}
        out.update({p.file: p for parts in self.shards.values() for p in parts.values()})
        return out

    def partition_versions(self, table: str) -> dict[str, int]:
        return {d: p.version for d, p in self.partitions.get(table, {}).items()}
