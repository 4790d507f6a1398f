"""Peak anonymous memory (RssAnon: heap, tensors, copies; not the page cache of memory-mapped files)
of a process, sampled from /proc in a background thread.

    with PeakAnonMemory() as mem:   # this process (or PeakAnonMemory(pid), PeakAnonMemory(pid, tree=True))
        work()
    print(mem.peak_mb)

    returncode, seconds, peak_mb = run_measured(["python", "script.py"])  # a command and its children
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path


def rss_anon_kb(pid: int) -> int:
    """RssAnon of a process in kB; 0 once it is gone (or a zombie, which has no memory)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """The process and all its descendants, from the `children` lists of each of their threads."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for children in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo.extend(int(c) for c in children.read_text().split())
            except (FileNotFoundError, ProcessLookupError):
                pass
    return found


class PeakAnonMemory:
    """Context manager: the highest RssAnon of `pid` (default: this process) seen while inside,
    sampled every `interval` s; `tree` sums it over the process and its descendants."""

    def __init__(self, pid: int | None = None, tree: bool = False, interval: float = 0.02, children_only: bool = False):
        self.pid, self.tree, self.interval = pid or os.getpid(), tree or children_only, interval
        self.children_only = children_only
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024

    def sample(self) -> int:
        pids = descendants(self.pid) if self.tree else [self.pid]
        pids = pids[1:] if self.children_only else pids
        kb = sum(rss_anon_kb(p) for p in pids)
        self.peak_kb = max(self.peak_kb, kb)
        return kb

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> PeakAnonMemory:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def run_measured(cmd: list[str], children_only: bool = False, **popen) -> tuple[int, float, float]:
    """Run `cmd` to the end: (return code, wall seconds, peak RssAnon in MB of it and its children, or of its
    children only: the jobs a Snakemake process starts, without Snakemake itself).

    A command over before the first sample reads 0 MB (not measured)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, **popen)
    with PeakAnonMemory(proc.pid, tree=True, children_only=children_only) as mem:
        returncode = proc.wait()
    return returncode, time.perf_counter() - start, mem.peak_mb
