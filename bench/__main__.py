"""Run benchmarks and rebuild docs/benchmarks.md. See bench/__init__.py."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from pathlib import Path

import bench
from bench.common import machine

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ROOT / "docs" / "bench"
NOT_BENCHMARKS = {"common", "latency_proxy", "list_server", "moto_seed"}  # helpers, not topics


def topics() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name not in NOT_BENCHMARKS | {"__main__"})


def rebuild() -> None:
    parts = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`); each section names the command that produced it. "
        "Medians over several runs with min/max; comparisons are ratios measured in the same run.",
        "",
    ]
    for path in sorted(SECTIONS.glob("*.md")):
        parts += [path.read_text(encoding="utf-8").rstrip(), ""]
    (ROOT / "docs" / "benchmarks.md").write_text("\n".join(parts), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="fewer runs and smaller data (a few minutes)")
    parser.add_argument("topics", nargs="*", help=f"default: all of {', '.join(topics())}")
    args = parser.parse_args(argv)
    SECTIONS.mkdir(parents=True, exist_ok=True)
    for topic in args.topics or topics():
        module = importlib.import_module(f"bench.{topic}")
        started = time.monotonic()
        print(f"== {topic}", flush=True)
        section = module.run(quick=args.quick)
        mode, flag = ("quick", "--quick ") if args.quick else ("full", "")
        took = time.monotonic() - started
        footer = f"\n\n_Machine: {machine()}; {mode} mode; took {took:.0f} s; `python -m bench {flag}{topic}`._\n"
        (SECTIONS / f"{topic}.md").write_text(section.rstrip() + footer, encoding="utf-8")
        print(section, flush=True)
    rebuild()
    return 0


if __name__ == "__main__":
    sys.exit(main())
