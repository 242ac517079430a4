"""Metrics read back from the W&B files a sweep program wrote (online or offline), without the W&B server."""

from __future__ import annotations

import contextlib
import json
import struct
from collections.abc import Iterator
from pathlib import Path

from lab.errors import warn

__all__ = ["wandb_records", "wandb_metric"]


def wandb_records(path: Path) -> Iterator[bytes]:
    """The records of a ``run-*.wandb`` file (LevelDB log format: 32 KiB blocks, 7-byte record headers)."""
    raw = path.read_bytes()
    if raw[:4] != b":W&B":
        return
    block, pos, buf = 32768, 7, b""
    while pos + 7 <= len(raw):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _crc, length, kind = struct.unpack("<IHB", raw[pos:pos + 7])
        chunk = raw[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 1:  # full
            yield chunk
        elif kind == 2:  # first
            buf = chunk
        elif kind == 3:  # middle
            buf += chunk
        elif kind == 4:  # last
            yield buf + chunk
            buf = b""


def wandb_metric(run_dir: Path, metric: str) -> tuple[float | None, set[str]]:
    """The last value of ``metric`` the program logged to W&B (its run files under ``run_dir/wandb``),
    and every metric name it logged."""
    value: float | None = None
    seen: set[str] = set()
    for summary in sorted(run_dir.glob("wandb/*run-*/files/wandb-summary.json")):
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(summary.read_text())
            seen.update(k for k in data if not k.startswith("_"))
            if isinstance(data.get(metric), (int, float)):
                value = float(data[metric])
    if value is not None:
        return value, seen
    try:
        from google.protobuf.message import DecodeError
        from wandb.proto import wandb_internal_pb2 as pb
    except ImportError:
        return None, seen
    for path in sorted(run_dir.glob("wandb/*run-*/run-*.wandb")):
        try:
            for data in wandb_records(path):
                record = pb.Record()
                record.ParseFromString(data)
                kind = record.WhichOneof("record_type")
                items = record.history.item if kind == "history" else record.summary.update if kind == "summary" else []
                for item in items:
                    key = item.key or "/".join(item.nested_key)
                    if key.startswith("_"):
                        continue
                    seen.add(key)
                    if key == metric:
                        with contextlib.suppress(ValueError, TypeError):
                            value = float(json.loads(item.value_json))
        except (OSError, DecodeError) as e:  # unreadable, or a record cut short: keep what was read
            warn(f"{path}: W&B records not fully read ({type(e).__name__}: {str(e)[:200]})")
    return value, seen
