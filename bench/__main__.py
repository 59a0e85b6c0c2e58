"""Run every benchmark: ``python -m bench`` (or ``make bench``)."""

from __future__ import annotations

import platform
import sys

from bench import bench_artifacts, bench_bus, bench_extensions, bench_startup, bench_terminal
from bench.common import print_table


def main() -> None:
    print(
        f"Symphony benchmarks: Python {platform.python_version()} on {sys.platform};"
        " each figure next to a baseline measured in the same run"
    )
    print_table("in-process bus", bench_bus.run())
    print_table("artifact store", bench_artifacts.run())
    print_table("extensions", bench_extensions.run())
    print_table(f"start-up (median of {bench_startup.RUNS} runs)", bench_startup.run())
    print_table(bench_terminal.TITLE, bench_terminal.run())


if __name__ == "__main__":
    main()
