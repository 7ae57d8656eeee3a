"""The benchmark harness (no timing asserts): command line, sections, rebuild, plots, S3 operation counting."""

from __future__ import annotations

import subprocess
import sys
import types
from collections import Counter
from pathlib import Path

import pytest

import bench.__main__ as harness
from bench.common import OpsCount, Stats, bar_plot, cost_line, latency_proxy, operation_class, relink, s3_operation
from r2.client import CallCounter, make_client
from r2.settings import Settings
from tests.support.env import ROOT, settings_for


def test_help_runs_and_names_the_options() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "--quick" in done.stdout
    assert "pages" in done.stdout  # the topics are listed


def test_topics_are_the_modules_not_the_helpers() -> None:
    found = harness.topics()
    assert "pages" in found
    assert "common" not in found
    assert "__main__" not in found
    assert "apps" not in found  # the floor page's folder is a Streamlit script, not a benchmark


def test_unknown_topic_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        harness.main(["no-such-topic"])
    assert stop.value.code == 2
    assert "unknown topic" in capsys.readouterr().err


def _fake(name: str, text: str | None) -> types.ModuleType:
    module = types.ModuleType(f"bench.{name}")

    def run(quick: bool) -> str:
        if text is None:
            raise RuntimeError("broken benchmark")
        return text + f"\n\nquick={quick}"

    module.run = run  # type: ignore[attr-defined]
    return module


def test_sections_are_written_and_assembled_with_command_and_plots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sections = tmp_path / "docs" / "bench"
    sections.mkdir(parents=True)
    (sections / "aaa_old.md").write_text("## Old figure\n\nkept from an earlier run\n", encoding="utf-8")
    ok = "## Fake figure\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n![plot](fake.png) and [see](https://example.invalid/x)"
    monkeypatch.setitem(sys.modules, "bench.fake_ok", _fake("fake_ok", ok))
    monkeypatch.setitem(sys.modules, "bench.fake_broken", _fake("fake_broken", None))
    monkeypatch.setattr(harness, "topics", lambda: ["fake_broken", "fake_ok"])

    status = harness.main(["--quick"], sections=sections)

    assert status == 1  # one topic failed: the run says so, the others still count
    assert "FAILED: fake_broken" in capsys.readouterr().err
    section = (sections / "fake_ok.md").read_text(encoding="utf-8")
    assert "quick=True" in section
    assert "`python -m bench --quick fake_ok`" in section
    assert "quick mode" in section and "Machine:" in section
    assert not (sections / "fake_broken.md").exists()
    combined = (tmp_path / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert combined.startswith("# Benchmarks")
    assert "- [Fake figure](#fake-figure) (`fake_ok`)" in combined
    assert "kept from an earlier run" in combined  # sections of topics not run this time stay
    assert "![plot](bench/fake.png)" in combined  # plot links resolve from docs/benchmarks.md
    assert "[see](https://example.invalid/x)" in combined  # absolute links untouched
    assert combined.index("## Old figure") < combined.index("## Fake figure")


def test_rebuild_only_touches_no_section(tmp_path: Path) -> None:
    sections = tmp_path / "bench"
    sections.mkdir()
    (sections / "x.md").write_text("## X\n\n![p](x.png)\n", encoding="utf-8")
    assert harness.main(["--rebuild"], sections=sections) == 0
    assert "![p](bench/x.png)" in (tmp_path / "benchmarks.md").read_text(encoding="utf-8")
    assert (sections / "x.md").read_text(encoding="utf-8") == "## X\n\n![p](x.png)\n"


def test_relink_keeps_anchors_and_absolute_paths() -> None:
    text = "[a](#top) [b](/abs.png) [c](mailto:x@y.z) ![d](d.png) [e](sub/e.md)"
    assert relink(text, "bench/") == "[a](#top) [b](/abs.png) [c](mailto:x@y.z) ![d](bench/d.png) [e](bench/sub/e.md)"


def test_bar_plot_writes_a_png(tmp_path: Path) -> None:
    stats = Stats.of([0.1, 0.2, 0.3])
    path = bar_plot(tmp_path / "p.png", "title", ["one", "two"], {"s1": [stats, None], "s2": [stats, stats]})
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cost_line_uses_r2_list_prices() -> None:
    ops = OpsCount.of({"ListObjectsV2": 1, "GetObject": 60, "DeleteObject": 2})
    assert (ops.a, ops.b, ops.free) == (1, 60, 2)
    assert ops.dollars(1_000_000) == pytest.approx(4.50 + 60 * 0.36)
    assert "$26.10" in cost_line(ops, "visit")


def test_classes_of_operations() -> None:
    assert operation_class("ListObjectsV2") == "A"
    assert operation_class("PutObject") == "A"
    assert operation_class("HeadObject") == "B"
    assert operation_class("GetBucketCors") == "B"
    assert operation_class("DeleteObject") == "free"
    assert s3_operation("GET", "/b?list-type=2&prefix=a%2F") == "ListObjectsV2"
    assert s3_operation("GET", "/b/a/c.jpg?X-Amz-Signature=x") == "GetObject"
    assert s3_operation("PUT", "/b/a?partNumber=1&uploadId=u") == "UploadPart"
    assert s3_operation("OPTIONS", "/b/a") == "Preflight"


def test_the_benchmarks_bill_operations_as_the_library_does() -> None:
    """A benchmark's dollars and the Usage page's Class A / B split come from one list of what R2 bills."""
    from r2.usage.analytics import CLASS_A, CLASS_B

    assert {name for name in CLASS_A if operation_class(name) != "A"} == set()
    assert {name for name in CLASS_B if operation_class(name) != "B"} == set()
    # The wire's names for what Cloudflare's list calls ListObjects and PutBucket.
    assert operation_class("ListObjectsV2") == operation_class("CreateBucket") == "A"
    # Neither list names it: R2 bills it as nothing, as the library counts it.
    assert operation_class("DeleteBucketCors") == "free"
    assert operation_class(s3_operation("POST", "/")) == "?"


def test_proxy_counts_the_same_operations_as_botocore(s3_endpoint: str, settings: Settings) -> None:
    """The wire-level classification at the latency proxy agrees with botocore's own operation names.

    Compared per request sent (botocore's `before-send`, once per attempt), as the proxy sees them: a
    retried attempt (on a busy machine the local server has dropped a connection, and botocore resends)
    is two requests on the wire and two at the proxy, but one call for `CallCounter`."""
    with latency_proxy(s3_endpoint, delay=0.0) as (endpoint, recorder):
        client = make_client(settings_for(endpoint))
        counter = CallCounter(client)
        sent: Counter[str] = Counter()
        client.meta.events.register("before-send.s3", lambda event_name, **_: sent.update([event_name.split(".")[-1]]))
        bucket = settings.bucket
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "auto"})
        client.put_object(Bucket=bucket, Key="a/b.jpg", Body=b"x")
        client.put_bucket_cors(
            Bucket=bucket,
            CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["http://localhost:1"], "AllowedMethods": ["GET"]}]},
        )
        client.get_bucket_cors(Bucket=bucket)
        client.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
        assert client.head_object(Bucket=bucket, Key="a/b.jpg")["ContentLength"] == 1  # the object's, not 0
        client.get_object(Bucket=bucket, Key="a/b.jpg")["Body"].read()
        client.head_bucket(Bucket=bucket)
        client.delete_object(Bucket=bucket, Key="a/b.jpg")
        seen = recorder.take()
    assert dict(seen.by_operation) == dict(sent)
    assert (
        set(sent)
        == set(counter.calls)
        == {
            "CreateBucket",
            "PutObject",
            "PutBucketCors",
            "GetBucketCors",
            "ListObjectsV2",
            "HeadObject",
            "GetObject",
            "HeadBucket",
            "DeleteObject",
        }
    )  # every call reached the wire under its own name
    assert recorder.take().by_operation == ()  # take() starts afresh


def test_helpers_without_run_are_not_topics(tmp_path: Path) -> None:
    (tmp_path / "alpha.py").write_text("def run(quick: bool) -> str:\n    return '## A'\n", encoding="utf-8")
    (tmp_path / "list_server.py").write_text("def main() -> None:\n    pass\n", encoding="utf-8")
    (tmp_path / "common.py").write_text("def run(quick: bool) -> str:\n    return ''\n", encoding="utf-8")
    assert harness.topics(tmp_path) == ["alpha"]


def test_latency_proxy_runs_in_its_own_process(s3_endpoint: str, settings: Settings) -> None:
    """`python -m tests.support.fault_proxy PORT DELAY` (what benchmarks spawn) forwards to the server."""
    port = s3_endpoint.rsplit(":", 1)[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fault_proxy", port, "0.01"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        proxied = f"http://127.0.0.1:{int(proc.stdout.readline())}"
        client = make_client(settings_for(proxied))
        client.create_bucket(Bucket=settings.bucket, CreateBucketConfiguration={"LocationConstraint": "auto"})
        client.put_object(Bucket=settings.bucket, Key="k", Body=b"through the proxy")
        direct = make_client(settings)
        assert direct.get_object(Bucket=settings.bucket, Key="k")["Body"].read() == b"through the proxy"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
