"""Minimal reader for W&B offline runs, so tests can check what a real run wrote.

wandb has no Python reader for ``run-<id>.wandb``, and offline runs get no config.yaml or
wandb-summary.json, so this record stream is the only record of the run. Format (wandb-core's
store, formerly ``wandb/sdk/internal/datastore.py``; LevelDB ``doc/log_format.md``): file header
``<4sHB`` = (b":W&B", 0xBEE1, 0), then 32 KiB blocks of chunks: header ``<IHB`` (IEEE crc32
seeded with the type byte, length, type FULL/FIRST/MIDDLE/LAST) + payload; a block tail under
7 bytes is zero padding. A FULL chunk or a FIRST..LAST chain holds one serialized ``Record``.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2 as pb

_FILE_HEADER = struct.pack("<4sHB", b":W&B", 0xBEE1, 0)
_CHUNK_HEADER = struct.Struct("<IHB")
_BLOCK_LEN = 32768
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


@dataclass
class OfflineRun:
    """Decoded content of one offline run; ``records`` keeps the raw protos for anything else."""

    run_id: str
    project: str
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    records: list[Any] = field(default_factory=list)


def _iter_payloads(data: bytes) -> Iterator[bytes]:
    """Yield each serialized Record; a truncated tail (run still writing/crashed) is dropped."""
    if not data.startswith(_FILE_HEADER):
        raise ValueError("not a W&B datastore file (bad header)")
    pos, pending = len(_FILE_HEADER), None
    while True:
        if _BLOCK_LEN - pos % _BLOCK_LEN < _CHUNK_HEADER.size:  # zero padding ends the block
            pos += _BLOCK_LEN - pos % _BLOCK_LEN
        if pos + _CHUNK_HEADER.size > len(data):
            return
        at, (crc, length, kind) = pos, _CHUNK_HEADER.unpack_from(data, pos)
        pos += _CHUNK_HEADER.size + length
        payload = data[at + _CHUNK_HEADER.size : pos]
        if len(payload) < length:
            return
        if zlib.crc32(payload, zlib.crc32(bytes([kind]))) != crc:
            raise ValueError(f"bad chunk checksum at offset {at}")
        if kind == _FULL and pending is None:
            yield payload
        elif kind == _FIRST and pending is None:
            pending = bytearray(payload)
        elif kind in (_MIDDLE, _LAST) and pending is not None:
            pending += payload
            if kind == _LAST:
                yield bytes(pending)
                pending = None
        else:
            raise ValueError(f"unexpected chunk type {kind} at offset {at}")


def _path(item: Any) -> list[str]:
    """Items use either ``key`` or a ``nested_key`` path (e.g. ["_wandb", "runtime"])."""
    return list(item.nested_key) or [item.key]


def _apply(target: dict[str, Any], record: Any, items: str = "update") -> None:
    """Merge a record's updates (nested paths -> nested dicts), then its removes, into target."""
    for item in getattr(record, items):
        *parents, leaf = _path(item)
        node = target
        for key in parents:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[leaf] = json.loads(item.value_json)  # always set: 0.31 rejects typed-only history
    for item in getattr(record, "remove", []):
        *parents, leaf = _path(item)
        node = target
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)


def _artifact(rec: Any) -> dict[str, Any]:
    """Summarize an ArtifactRecord; huge manifests live in a gzipped JSONL side file instead."""
    files = [entry.path for entry in rec.manifest.contents]
    side_file = rec.manifest.manifest_file_path
    if not files and side_file and Path(side_file).exists():
        with gzip.open(side_file, "rt") as fh:
            files = [json.loads(line)["path"] for line in fh if line.strip()]
    return {
        "name": rec.name,
        "type": rec.type,
        "metadata": json.loads(rec.metadata) if rec.metadata else {},
        "aliases": list(rec.aliases),
        "files": files,
    }


def find_offline_runs(save_dir: Path) -> list[Path]:
    """All run-*.wandb files under save_dir, sorted (os.walk skips the latest-run symlink)."""
    return sorted(
        Path(root, name)
        for root, _dirs, names in os.walk(save_dir)
        for name in names
        if name.startswith("run-") and name.endswith(".wandb")
    )


def read_offline_run(path: Path, wait_s: float = 30.0) -> OfflineRun:
    """Parse a run-*.wandb file, or the offline-run-* dir holding it, into an OfflineRun.

    `wandb.finish()` can return before wandb-core has flushed the file (it was read back
    empty about one time in four on 2 busy cores), so this waits up to `wait_s` for the run's
    `exit` record; a file that never gets one (a killed run) is read as it is then.
    """
    deadline = time.monotonic() + wait_s
    while True:
        run = _read_offline_run(path)
        kinds = [r.WhichOneof("record_type") for r in run.records]
        if "exit" in kinds or time.monotonic() >= deadline:
            return run
        time.sleep(0.1)


def _read_offline_run(path: Path) -> OfflineRun:
    path = Path(path)
    if path.is_dir():
        candidates = sorted(path.glob("run-*.wandb"))
        if len(candidates) != 1:
            raise FileNotFoundError(f"expected one run-*.wandb in {path}, found {candidates}")
        path = candidates[0]
    run = OfflineRun(run_id=path.stem.removeprefix("run-"), project="")
    for payload in _iter_payloads(path.read_bytes()):
        record = pb.Record()
        record.ParseFromString(payload)
        run.records.append(record)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.run_id, run.project = record.run.run_id or run.run_id, record.run.project
            _apply(run.config, record.run.config)
            _apply(run.summary, record.run.summary)
        elif kind == "config":
            _apply(run.config, record.config)
        elif kind == "summary":
            _apply(run.summary, record.summary)
        elif kind == "history":
            row: dict[str, Any] = {}
            _apply(row, record.history, items="item")
            run.history.append(row)
        elif kind == "artifact":
            run.artifacts.append(_artifact(record.artifact))
    run.config.pop("_wandb", None)
    run.summary.pop("_wandb", None)
    return run
