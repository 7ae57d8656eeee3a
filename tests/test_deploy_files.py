"""The deployment files: the package and its console command, and the pieces that must agree."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

from tests.support.env import ROOT


def _build_wheel(out: Path) -> Path:
    """Build from a copy of what the package is made of: setuptools builds in the source tree, and a
    test must not leave build/ and *.egg-info/ in the checkout."""
    source = out / "source"
    source.mkdir()
    for name in ("pyproject.toml", "requirements.txt"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "r2", source / "r2", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(source), "-w", str(out)],
        check=True,
        capture_output=True,
        cwd=out,
    )
    return next(out.glob("r2_image_dashboard-*.whl"))


def test_pip_install_gives_the_r2_dashboard_command(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    packaged = {str(Path(n).parent) for n in names if n.endswith("__init__.py")}
    on_disk = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "r2").rglob("__init__.py")}
    assert packaged == on_disk, "every r2 package ships in the wheel"
    prefix = tmp_path / "prefix"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--prefix", str(prefix), str(wheel)],
        check=True,
        capture_output=True,
    )
    command = prefix / "bin" / "r2-dashboard"
    site = next(prefix.glob("lib/python*/site-packages"))
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    shown = subprocess.run([str(command), "--help"], capture_output=True, text=True, env=env, check=False)
    assert shown.returncode == 0 and "serve" in shown.stdout and "upload" in shown.stdout
    dry = subprocess.run(
        [str(command), "serve", "--dry-run", "--app-dir", str(ROOT), "--port", "8600"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert dry.returncode == 0, dry.stderr
    assert f"streamlit run {ROOT / 'app.py'} --server.port 8600" in dry.stdout
    elsewhere = subprocess.run([str(command), "serve", "--dry-run"], capture_output=True, text=True, env=env)
    assert elsewhere.returncode == 2 and "--app-dir" in elsewhere.stderr  # installed: no app next to it


def test_compose_replicas_are_the_proxys_upstreams() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
    ports = sorted(
        int(s["command"][s["command"].index("--port") + 1])
        for n, s in compose["services"].items()
        if n.startswith("app")
    )
    nginx = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    upstreams = sorted(int(p) for p in re.findall(r"(?m)^ *server 127\.0\.0\.1:(\d+)", nginx))
    assert ports == upstreams


def test_the_image_never_takes_secrets_or_tests() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "*" in lines, "everything is excluded unless listed"
    allowed = [line for line in lines if line.startswith("!")]
    assert not any(".env" in a or "secrets" in a or "tests" in a for a in allowed)
