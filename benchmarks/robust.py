"""Ratios that survive a noisy machine: median, best round and per-round spread, and the machine named.

Every contender of a case runs once per round, in rotating order (``run.time_interleaved``),
so round ``r`` of ours and round ``r`` of the peer ran within milliseconds of each other,
under the same load. A ratio is reported three ways: of the medians, of the best rounds
(the least disturbed), and as the quartiles of the round-by-round ratios. Where those
quartiles straddle the goal, the report says that the spread crosses it: one run cannot
then say on which side of the goal the code is.
"""

from __future__ import annotations

import os
import platform
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Ratio:
    label: str
    median: float  # ratio of the medians
    best: float | None = None  # ratio of the best rounds
    q1: float | None = None  # quartiles of the round-by-round ratios (same case only)
    q3: float | None = None
    goal: str = "context"

    def verdict(self) -> str:
        """"meets", "misses", "spread crosses the goal" or "" (context rows and rows without rounds)."""
        match = re.fullmatch(r"(<=|>=) ([0-9.]+)", self.goal)
        if not match:
            return ""
        sign, bound = match.group(1), float(match.group(2))

        def meets(value):
            return value <= bound if sign == "<=" else value >= bound

        if self.q1 is not None and meets(self.q1) != meets(self.q3):
            return "spread crosses the goal"
        both = [meets(self.median)] + ([meets(self.best)] if self.best is not None else [])
        return "meets" if all(both) else "misses" if not any(both) else "spread crosses the goal"

    def as_json(self) -> dict:
        return {"ratio": self.label, "value": self.median, **{k: v for k, v in asdict(self).items()
                                                              if k not in ("label", "median")},
                "verdict": self.verdict()}


def paired(label: str, timings: dict, a: str, b: str, goal: str, invert=False) -> Ratio | None:
    """``a / b`` of one case's contenders (``b / a`` with ``invert``), round by round."""
    if a not in timings or b not in timings:
        return None
    first, second = (b, a) if invert else (a, b)
    x, y = np.asarray(timings[first]["samples_ms"]), np.asarray(timings[second]["samples_ms"])
    per_round = x / y
    return Ratio(label, timings[first]["median_ms"] / timings[second]["median_ms"],
                 timings[first]["min_ms"] / timings[second]["min_ms"],
                 float(np.percentile(per_round, 25)), float(np.percentile(per_round, 75)), goal)


def as_ratio(row) -> Ratio:
    """A row as the other benchmark modules give it, ``(label, value, goal)``, or a :class:`Ratio`."""
    return row if isinstance(row, Ratio) else Ratio(row[0], row[1], goal=row[2])


def print_ratios(rows) -> None:
    print("\nratios: of the medians, of the best rounds, [quartiles of the round-by-round ratios]")
    for row in map(as_ratio, rows):
        best = f"{row.best:6.2f}" if row.best is not None else "     -"
        spread = f"[{row.q1:5.2f} .. {row.q3:5.2f}]" if row.q1 is not None else " " * 16
        goal = "(context, no goal)" if row.goal == "context" else f"goal {row.goal:8} {row.verdict()}"
        print(f"  {row.label:64} {row.median:7.2f} {best}  {spread}  {goal}")


def _cache_sizes() -> dict:
    """L1d, L2 and L3 of the first core, as Linux names them (``{"L2": "1024K", ...}``)."""
    sizes = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
            shared = (index / "shared_cpu_list").read_text().strip()
        except OSError:
            continue
        if kind == "Instruction":
            continue
        sizes[f"L{level}{'d' if kind == 'Data' else ''}"] = f"{size} (cpus {shared})"
    return sizes


def copy_bandwidth_gbs(mib: int = 256) -> float:
    """Memory bandwidth from the best of five copies of ``mib`` MiB (bytes read + written, GB/s)."""
    source = np.ones(mib << 20, np.uint8)
    target = np.empty_like(source)
    np.copyto(target, source)  # fault the pages in
    best = min(_timed(np.copyto, target, source) for _ in range(5))
    return 2 * source.nbytes / best / 1e9


def _timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def machine_facts(bandwidth=True) -> dict:
    """CPU model, cores, caches, memory, hypervisor and copy bandwidth, for the results' JSON."""
    model, flags = platform.processor(), ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == platform.processor():
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = line
    except OSError:
        pass
    facts = {"cpu": model, "cores": os.cpu_count(), "caches": _cache_sizes(),
             "system": f"{platform.system()} {platform.release()}",
             "virtualised": " hypervisor " in f" {flags} "}
    try:
        total_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                         if line.startswith("MemTotal"))
        facts["memory_gib"] = round(total_kib / 2**20, 1)
    except (OSError, StopIteration):
        pass
    if bandwidth:
        facts["copy_bandwidth_gbs"] = round(copy_bandwidth_gbs(), 1)
    return facts
