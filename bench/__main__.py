"""Run benchmarks and rebuild docs/benchmarks.md. See bench/__init__.py."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import re
import sys
import time
import traceback
from pathlib import Path

import bench
from bench.common import SECTIONS, machine, relink

NOT_BENCHMARKS = {"common", "__main__"}
_RUN = re.compile(r"^def run\(", re.MULTILINE)
INTRO = """\
Written by `make bench` (full mode: more runs, larger data) or `make bench-quick` (fewer runs, smaller
data: about 20 minutes for every topic on a loaded 2-core machine, most of it `pages`, `usage` and `load`);
both run `python -m bench [--quick] [TOPIC ...]`. Each section names the command that produced it, its
mode and the machine it ran on. Timings are medians over several runs
with min and max; comparisons are ratios of figures measured in the same run, because these machines
are noisy. Everything runs on loopback against the embedded S3 server (moto); "+100 ms" figures put a
proxy adding 100 ms to every S3 request in front of it (tests/support/fault_proxy.py), as R2 is far away."""


def topics(folder: Path = Path(bench.__path__[0])) -> list[str]:
    """Benchmark modules: each `bench/<topic>.py` that defines `run(quick)`; helpers (servers, seeding) don't."""
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(folder)])
        if m.name not in NOT_BENCHMARKS
        and not m.ispkg
        and _RUN.search((folder / f"{m.name}.py").read_text(encoding="utf-8"))
    )


def rebuild(sections: Path = SECTIONS, target: Path | None = None) -> Path:
    """Assemble `<docs>/benchmarks.md` from every `sections/<topic>.md`, with a table of contents."""
    target = target or sections.parent / "benchmarks.md"
    prefix = Path(os.path.relpath(sections, target.parent)).as_posix() + "/"
    files = sorted(sections.glob("*.md"))
    parts = ["# Benchmarks", "", INTRO, ""]
    if files:
        parts += ["Sections:", ""]
        for path in files:
            heading = _heading(path)
            parts.append(f"- [{heading}](#{_anchor(heading)}) (`{path.stem}`)")
        parts.append("")
    for path in files:
        parts += [relink(path.read_text(encoding="utf-8").rstrip(), prefix), ""]
    target.write_text("\n".join(parts), encoding="utf-8")
    return target


def _heading(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            return line[3:].strip()
    return path.stem


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def run_topic(topic: str, quick: bool, sections: Path = SECTIONS) -> str:
    """Run one benchmark module and write its section (with machine, mode, duration and command)."""
    module = importlib.import_module(f"bench.{topic}")
    load = f"load average {os.getloadavg()[0]:.1f} at the start" if hasattr(os, "getloadavg") else ""
    started = time.monotonic()
    section = module.run(quick=quick)
    mode, flag = ("quick", "--quick ") if quick else ("full", "")
    took = time.monotonic() - started
    footer = (
        f"\n\n_Command: `python -m bench {flag}{topic}` ({'`make bench-quick`' if quick else '`make bench`'} runs "
        f"every topic); {mode} mode, took {took:.0f} s; {load}. Machine: {machine()}._\n"
    )
    sections.mkdir(parents=True, exist_ok=True)
    (sections / f"{topic}.md").write_text(section.rstrip() + footer, encoding="utf-8")
    return section


def main(argv: list[str] | None = None, sections: Path = SECTIONS) -> int:
    available = topics()
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the benchmarks in bench/, write docs/bench/<topic>.md and rebuild docs/benchmarks.md.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs and smaller data (a few minutes in all)")
    parser.add_argument("--list", action="store_true", help="list the topics and exit")
    parser.add_argument("--rebuild", action="store_true", help="only rebuild docs/benchmarks.md from the sections")
    parser.add_argument("topics", nargs="*", metavar="TOPIC", help=f"default: all of {', '.join(available)}")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(available))
        return 0
    unknown = [t for t in args.topics if t not in available]
    if unknown:
        parser.error(f"unknown topic(s): {', '.join(unknown)}; known: {', '.join(available)}")
    failed = []
    for topic in [] if args.rebuild else args.topics or available:
        print(f"== {topic}", flush=True)
        try:
            section = run_topic(topic, args.quick, sections)
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed.append(topic)
            continue
        print(section, flush=True)
    target = rebuild(sections)
    print(f"wrote {target}")
    if failed:
        print(f"FAILED: {', '.join(failed)} (their previous sections, if any, were kept)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
