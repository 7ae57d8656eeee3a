"""How much memory a ZIP costs the process that makes it: a child process zips a folder (to /dev/null as
the command line does, or into the bucket as the app does) while a thread samples its resident set every
5 ms. Used by the tests (a bound) and the benchmark (the figure)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.env import ROOT

_ZIPPER = """
import sys, threading, time
from r2.client import make_client
from r2.settings import load_settings
from r2 import bulk, zipdown

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

s = load_settings(); c = make_client(s)
selection = bulk.select_folder(c, s.bucket, sys.argv[2])
peak = [rss()]; before = peak[0]; done = threading.Event()

def sample():
    while not done.wait(0.005):
        peak[0] = max(peak[0], rss())

threading.Thread(target=sample, daemon=True).start()
started = time.monotonic()
if sys.argv[1] == "cli":
    with open("/dev/null", "wb") as out:
        zipdown.write_zip(c, s.bucket, selection, out)
else:
    zipdown.zip_to_bucket(c, s.bucket, selection)
seconds = time.monotonic() - started
done.set()
print(max(peak[0], rss()) - before, seconds, file=sys.stderr)
"""


def zip_growth(env: dict[str, str], path: str, folder: str) -> tuple[int, float]:
    """(bytes the resident set grew by while zipping `folder`, seconds of the zipping) in a fresh process.

    `path`: "cli" (`write_zip` to /dev/null) or "app" (`zip_to_bucket`); `env`: the R2_* settings.
    """
    result = subprocess.run(
        [sys.executable, "-c", _ZIPPER, path, folder],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=600,
        check=True,
    )
    growth, seconds = result.stderr.strip().splitlines()[-1].split()
    return int(growth), float(seconds)
