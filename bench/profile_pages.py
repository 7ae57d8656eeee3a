"""Where a page's script run spends its time on the server: `python -m bench.profile_pages [PAGE ...]`.

Each page file runs in AppTest against the bucket `bench/pages.py` seeds, through a small wrapper script
that profiles the script thread with pyinstrument (AppTest runs the page in its own thread, so profiling
the caller shows only waiting). Prints the script thread's CPU and wall time of the first run in the
process (imports, client, cold caches) and the median of the later runs (a repeat visit), and writes the
profile of the first and the last run to `<out>/<page>-first.txt` and `<page>-repeat.txt`.
Not a benchmark topic (no `run`): its findings are written up by hand in docs/bench/page_speed.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from bench.pages import BENCH, FOLDER, app_env, seed

ROOT = BENCH.parent
PAGES = ("upload", "browse", "cors", "usage", "health", "audit", "search")
RUNS = 6

WRAPPER = """
import os, runpy, time
from pyinstrument import Profiler
profiler = Profiler(interval=0.0005)
profiler.start()
wall, cpu = time.perf_counter(), time.thread_time()
try:
    runpy.run_path(os.environ["PROFILE_PAGE"], run_name="__main__")
finally:
    profiler.stop()
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    with open(os.environ["PROFILE_TIMES"], "a") as times:
        times.write(f"{wall} {cpu}\\n")
    if os.environ.get("PROFILE_OUT"):
        Path = __import__("pathlib").Path
        Path(os.environ["PROFILE_OUT"]).write_text(profiler.output_text(unicode=False, color=False))
"""


def profile(pages: list[str], out: Path) -> list[str]:
    from streamlit.testing.v1 import AppTest

    from r2.local import LocalServer

    os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "true"
    out.mkdir(parents=True, exist_ok=True)
    server = LocalServer().start()
    lines = []
    try:
        seed(server.endpoint)
        os.environ.update(app_env(server.endpoint))
        with tempfile.TemporaryDirectory() as tmp:
            wrapper = Path(tmp) / "wrapper.py"
            wrapper.write_text(WRAPPER, encoding="utf-8")
            for name in pages:
                times = Path(tmp) / f"{name}.times"
                os.environ.update(PROFILE_PAGE=str(ROOT / "pages" / f"{name}.py"), PROFILE_TIMES=str(times))
                for run_no in range(RUNS):
                    last = {0: "first", RUNS - 1: "repeat"}.get(run_no)
                    os.environ["PROFILE_OUT"] = str(out / f"{name}-{last}.txt") if last else ""
                    at = AppTest.from_file(str(wrapper), default_timeout=60)
                    if name == "browse":
                        at.query_params["folder"] = FOLDER
                    at.run()
                    if at.exception:
                        lines.append(f"{name}: the page raised {at.exception[0].value}")
                runs = [tuple(map(float, line.split())) for line in times.read_text().splitlines()]
                wall, cpu = runs[0]
                rest_wall = statistics.median(r[0] for r in runs[1:])
                rest_cpu = statistics.median(r[1] for r in runs[1:])
                lines.append(
                    f"{name}: first run {cpu:.3f} s CPU ({wall:.3f} s wall), "
                    f"repeat {rest_cpu:.3f} s CPU ({rest_wall:.3f} s wall)"
                )
    finally:
        server.stop()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_pages", description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", default=list(PAGES), help=f"default: {' '.join(PAGES)}")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "page-profiles")
    args = parser.parse_args()
    print("\n".join(profile(args.pages, args.out)))
    print(f"profiles in {args.out}")


if __name__ == "__main__":
    main()
