"""Content keys and atomic writes for the on-disk cache of decoded data and features."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from trainers.data._locate import cache_dir

__all__ = ["cache_key", "cache_path", "load_cached", "save_cached", "scan_files"]

# Bump when the layout of a cached file changes, so stale files are never read back.
_FORMAT_VERSION = 1


def scan_files(folder: Path, suffixes: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """(relative name, size, mtime in ns) of the files under ``folder`` ending in ``suffixes`` (any case).

    Sorted by name; as a cache key it changes whenever a file is added, removed or rewritten.

    Uses ``os.scandir`` rather than pathlib: on a cache hit this scan is most of the load time.
    """
    rows: list[tuple[str, int, int]] = []
    pending = [("", str(folder))]
    while pending:
        prefix, directory = pending.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.is_dir():
                    pending.append((f"{prefix}{entry.name}/", entry.path))
                elif entry.name.lower().endswith(suffixes) and entry.is_file():
                    stat = entry.stat()
                    rows.append((prefix + entry.name, stat.st_size, stat.st_mtime_ns))
    rows.sort()
    return rows


def cache_key(*parts: Any) -> str:
    """A short hex digest of JSON-serializable parts (settings, file fingerprints)."""
    blob = json.dumps([_FORMAT_VERSION, *parts], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def cache_path(kind: str, key: str, suffix: str = ".pt") -> Path:
    """Where a cached object of ``kind`` (a subfolder) with ``key`` lives."""
    folder = cache_dir() / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{key}{suffix}"


def load_cached(path: Path) -> dict[str, Any] | None:
    """The cached dict at ``path``, or None when it is missing or unreadable (it is then recomputed)."""
    if not path.is_file():
        return None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        # A truncated or foreign file is only a cache miss: the caller recomputes and overwrites it.
        return None
    return obj if isinstance(obj, dict) else None


def save_cached(path: Path, obj: dict[str, Any]) -> None:
    """Write ``obj`` to ``path`` atomically, so concurrent workers never read a half-written file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        # mkstemp makes the file private; a cache is meant to be read by whoever shares the directory.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
