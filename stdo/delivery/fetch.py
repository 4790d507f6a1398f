"""Fetching a package's files, from a folder or over HTTP: bounded retries, checked sizes and checksums,
optionally throttled to a bandwidth, and files that appear whole or not at all."""
from __future__ import annotations

import hashlib
import http.client
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ..errors import InputError
from ..io import atomic_path

TRIES, TIMEOUT_S, BACKOFF_S = 3, 30.0, 0.5
BLOCK = 64 << 10


class Fetcher:
    """Files of one package location: a folder, or an http(s):// URL of the folder. Counts the bytes it
    fetched; `bandwidth_kbps` paces its own reading (a viewer's link, without touching the machine's network)."""

    def __init__(self, location: str, bandwidth_kbps: float | None = None, tries: int = TRIES,
                 timeout_s: float = TIMEOUT_S):
        self.location, self.remote = str(location), str(location).startswith(("http://", "https://"))
        if self.remote and not self.location.endswith("/"):
            self.location += "/"
        if not self.remote and not Path(self.location).is_dir():
            raise InputError(f"{location}: no such package folder (or give an http:// URL)")
        if bandwidth_kbps is not None and not bandwidth_kbps > 0:
            raise InputError(f"bandwidth {bandwidth_kbps!r}: give a positive number of kbit/s")
        self.bandwidth_kbps, self.tries, self.timeout_s = bandwidth_kbps, tries, timeout_s
        self.bytes = 0
        self.start = time.perf_counter()

    def where(self, name: str) -> str:
        if Path(name).name != name or name in ("", ".", ".."):
            raise InputError(f"{self.location}: '{name}' is not a plain file name")
        return urllib.parse.urljoin(self.location, urllib.parse.quote(name)) if self.remote \
            else str(Path(self.location) / name)

    def get(self, name: str, dest: Path, entry: dict | None = None, max_bytes: int | None = None) -> Path:
        """`name` into `dest` (written whole, or not at all), checked against `entry` ({bytes, sha256}) when
        given; a remote file is tried `tries` times before one InputError names its URL."""
        where = self.where(name)
        limit = entry["bytes"] if entry else max_bytes
        for attempt in range(1, self.tries + 1):
            try:
                with atomic_path(dest) as tmp:
                    self._copy(where, tmp, limit)
                    _check(tmp, entry, where)
                return dest
            except _Retry as failed:
                if attempt == self.tries:
                    raise InputError(f"{where}: {failed} (after {self.tries} tries)") from None
                time.sleep(BACKOFF_S * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _copy(self, where: str, tmp: Path, limit: int | None) -> None:
        if not self.remote:
            path = Path(where)
            if not path.is_file():
                raise InputError(f"{where}: missing from the package")
            if limit is not None and path.stat().st_size > limit:
                raise InputError(f"{where}: {path.stat().st_size} bytes, more than the {limit} it should have")
            shutil.copyfile(path, tmp)
            self.bytes += path.stat().st_size
            return
        try:
            with urllib.request.urlopen(where, timeout=self.timeout_s) as response, open(tmp, "wb") as out:
                got = 0
                while block := response.read(BLOCK):
                    got += len(block)
                    if limit is not None and got > limit:
                        raise _Retry(f"more than the {limit} bytes it should have")
                    out.write(block)
                    self._pace(len(block))
                length = response.headers.get("Content-Length")
                if length is not None and int(length) != got:
                    raise _Retry(f"connection closed after {got} of {length} bytes")
        except urllib.error.HTTPError as err:
            raise _Retry(f"HTTP {err.code} {err.reason}") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
            raise _Retry(f"{type(err).__name__}: {getattr(err, 'reason', err)}") from None

    def _pace(self, count: int) -> None:
        self.bytes += count
        if self.bandwidth_kbps:
            due = self.start + self.bytes * 8 / (self.bandwidth_kbps * 1000)
            time.sleep(max(0.0, due - time.perf_counter()))


class _Retry(Exception):
    """A failed transfer worth trying again."""


def _check(path: Path, entry: dict | None, where: str) -> None:
    if entry is None:
        return
    size = path.stat().st_size
    if size != entry["bytes"]:
        raise _Retry(f"{size} bytes, the manifest says {entry['bytes']} (truncated or changed)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != entry["sha256"]:
        raise _Retry("sha256 does not match the manifest (changed or corrupt)")
