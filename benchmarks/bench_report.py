"""Statistics, machine description and the BENCHMARKS.md / console report of bench.py."""

from __future__ import annotations

import math
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import psycopg_pool


# -- one repeat of one measurement ------------------------------------------------------------
@dataclass
class Run:
    """One repeat of one measurement: per-call latencies (s), wall time (s), outcome counts."""

    latencies: list[float]
    wall: float
    committed: int
    retries: int = 0
    failed: int = 0
    #: None: not checked; "" passed; otherwise what was wrong
    check: str | None = None
    #: updates of campaigns that were not HOT during the run (measured for some cases only)
    non_hot: int | None = None

    @property
    def tps(self) -> float:
        return self.committed / self.wall if self.wall > 0 else 0.0

    def pct(self, q: float) -> float:
        """Nearest-rank percentile of the per-call latencies, in milliseconds."""
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(q / 100.0 * len(ordered)))
        return ordered[rank - 1] * 1000.0


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values))

    def fmt(self, digits: int = 2, suffix: str = "") -> str:
        def f(v: float) -> str:
            return f"{v:,.{digits}f}{suffix}"

        return f"{f(self.median)} [{f(self.low)}–{f(self.high)}]"


def paired_ratio(num: Sequence[float], den: Sequence[float]) -> Spread:
    """Per-repeat ratios (figure / floor of the same repeat): median and min–max."""
    return Spread.of([n / d if d else math.inf for n, d in zip(num, den, strict=True)])


# -- the machine ------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> str:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def server_facts(conn: psycopg.Connection[Any]) -> dict[str, str]:
    names = ("server_version", "fsync", "synchronous_commit", "wal_sync_method",
             "shared_buffers", "max_connections", "max_pred_locks_per_transaction")
    facts = {
        name: str(conn.execute("SELECT pg_catalog.current_setting(%s)", [name]).fetchone()[0])  # type: ignore[index]
        for name in names
    }
    facts["version"] = str(conn.execute("SELECT pg_catalog.version()").fetchone()[0])  # type: ignore[index]
    return facts


def machine_facts() -> dict[str, str]:
    load = os.getloadavg()
    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu_model(),
        "memory": memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "psycopg": f"{psycopg.__version__} (libpq {psycopg.pq.version()}, "
                   f"{psycopg.pq.__impl__} implementation)",
        "psycopg_pool": psycopg_pool.__version__,
        "load": f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
    }


# -- tables -----------------------------------------------------------------------------------
@dataclass
class Table:
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.header) + " |",
                 "|" + "|".join("---" for _ in self.header) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)
