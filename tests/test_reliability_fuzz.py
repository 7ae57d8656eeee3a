"""Hostile input, fuzzed with Hypothesis: every input is either accepted as what it claims to be or
refused with the project's own error (an `InvalidInput`), never another exception, a hang or a leak.

Counts: each property records how many examples ran in `EXAMPLES` (printed at the end of the module
with `-s`; docs/reliability.md records a run). Example budgets are the `max_examples` below; the
`slow` marker doubles the image budget.
"""

from __future__ import annotations

import io
import json
import string
import unicodedata
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from r2 import cors
from r2.errors import InvalidInput, SettingsError
from r2.images import ImagePolicy
from r2.naming import MAX_KEY_BYTES, check_key
from r2.settings import ENV_NAMES, parse_settings
from r2.uploads import MAX_NAME_META, decode_name, display_name, encode_name, plan_upload
from tests.support import corpus, isolated
from tests.support.env import settings_for

EXAMPLES: Counter[str] = Counter()
FUZZ = settings(max_examples=300, deadline=timedelta(seconds=20), suppress_health_check=list(HealthCheck))
POLICY = ImagePolicy(max_bytes=256 * 1024, max_pixels=2_000_000)


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    print("\nHypothesis examples run:", dict(EXAMPLES))


# ------------------------------------------------------------------------------------------ images

SEEDS = [
    corpus.plain("PNG"),
    corpus.plain("JPEG"),
    corpus.plain("WEBP"),
    corpus.plain("GIF"),
    corpus.jpeg_gps(),
    corpus.png_gps(),
    corpus.webp_gps(),
    corpus.gif_xmp(),
    corpus.avif_gps(),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real image with bytes flipped, inserted, deleted or cut, or header fields rewritten."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):  # 0: the real image itself
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "big"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "truncate":
            data = data[:at]
        elif op == "big" and len(data) > at + 4:  # a dimension-like field blown up
            data[at : at + 4] = b"\x7f\xff\xff\xff"
    return bytes(data)


@pytest.fixture(scope="module")
def worker() -> Iterator[ProcessPoolExecutor]:
    with isolated.worker() as pool:
        yield pool


def check_image(worker: ProcessPoolExecutor, data: bytes) -> None:
    run = isolated.traced(worker, isolated.clean_bytes, data, POLICY, 64)
    # Python-side copies stay a small multiple of the input (Pillow's pixel buffers are bounded by
    # the pixel cap checked before decoding: see the bomb test below).
    assert run.peak < 16 * len(data) + 8 * 1024 * 1024
    seen = run.value
    if seen.rejected is not None:
        assert seen.rejected and "Traceback" not in seen.rejected
        EXAMPLES["image rejected"] += 1
        return
    EXAMPLES["image accepted"] += 1
    assert seen.width * seen.height <= POLICY.max_pixels
    with Image.open(io.BytesIO(seen.body)) as again:  # what is stored is a real image of that format
        assert again.format == seen.format and again.size == (seen.width, seen.height)
        again.load()


@FUZZ
@given(mutated())
def test_mutated_images_are_accepted_only_when_real(worker: ProcessPoolExecutor, data: bytes) -> None:
    check_image(worker, data)


@FUZZ
@given(st.binary(max_size=4096))
@example(b"")
@example(b"\x89PNG\r\n\x1a\n")
@example(b"\xff\xd8\xff")
@example(b"GIF89a")
@example(b"RIFF\x00\x00\x00\x00WEBPVP8 ")
def test_random_bytes_are_refused_cleanly(worker: ProcessPoolExecutor, data: bytes) -> None:
    check_image(worker, data)


@pytest.mark.slow
@settings(FUZZ, max_examples=1500)
@given(mutated())
def test_mutated_images_long_run(worker: ProcessPoolExecutor, data: bytes) -> None:
    check_image(worker, data)


def test_decompression_bomb_is_refused_without_decoding(worker: ProcessPoolExecutor) -> None:
    """A 20000×20000 PNG (400 MP, ~1.6 GB decoded) is a few KB: refused from its header."""
    run = isolated.traced(worker, isolated.clean_bytes, corpus.png_bomb(), ImagePolicy(), 64)
    assert run.value.rejected is not None and "megapixels" in run.value.rejected
    assert run.maxrss_growth_kib / 1024 < 200  # a decode would have needed ~1,600 MiB


# ------------------------------------------------------------------------------------------ CORS

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=5),
    max_leaves=20,
)
FIELDS = ["AllowedOrigins", "AllowedMethods", "AllowedHeaders", "ExposeHeaders", "MaxAgeSeconds", "ID"]
origins = st.sampled_from(
    ["*", "https://a.example.com", "http://localhost:8501", "https://*.example.com", "http://localhost:*", "ftp://x"]
) | st.text(max_size=40)
rule_like = st.fixed_dictionaries(
    {},
    optional={
        "AllowedOrigins": st.lists(origins, max_size=3),
        "AllowedMethods": st.lists(
            st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "get"]) | st.text(max_size=8),
            max_size=4,
        ),
        "AllowedHeaders": st.lists(
            st.sampled_from(["content-type", "*", "x-amz-*", ""]) | st.text(max_size=20), max_size=3
        ),
        "ExposeHeaders": st.lists(st.sampled_from(["ETag", ""]) | st.text(max_size=10), max_size=2),
        "MaxAgeSeconds": st.integers(-10, 200_000) | st.text(max_size=5) | st.none(),
        "ID": st.text(max_size=10),
    },
)
policies = st.lists(rule_like, max_size=4) | st.fixed_dictionaries({"CORSRules": st.lists(rule_like, max_size=4)})


def check_cors(source: object) -> None:
    try:
        policy = cors.parse(source)
    except InvalidInput as err:
        assert err.message
        EXAMPLES["cors refused"] += 1
        return
    EXAMPLES["cors parsed"] += 1
    problems = cors.validate(policy)
    assert all(p.message for p in problems)
    cors.lint(policy, "http://localhost:8501")
    if not problems:
        assert cors.parse(policy.to_json()) == policy  # what would be sent parses back to itself
        assert cors.parse(policy.to_json("dashboard")) == policy
        cors.evaluate(policy, "http://localhost:8501", "PUT", ["content-type"])


@FUZZ
@given(policies)
def test_cors_rule_shaped_input(source: object) -> None:
    check_cors(source)
    check_cors(json.dumps(source))


@FUZZ
@given(json_values | st.text(max_size=200) | st.binary(max_size=200))
@example(b"\x80")
@example(b"\x00\x00\x00\x00\x00")
@example("[" * 100_000)
@example('{"CORSRules": ' * 50_000)
def test_cors_arbitrary_input(source: object) -> None:
    check_cors(source)
    if not isinstance(source, (str, bytes)):
        check_cors(json.dumps(source))


# ------------------------------------------------------------------------------------------ settings

SECRET = "S3CRETvalueNEVERshown4242"
TOKEN = "CFtokenNEVERshown9999xyz"
setting_values = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["", "0", "-1", "1e309", "nan", "inf", "99999999999", "a,b,,c", "PNG,BMP", "all", "gps", "*"]),
    st.from_regex(r"\Ahttps?://[a-z0-9.:\-]{0,30}(/[a-z]*)?\Z"),
)


@FUZZ
@given(st.dictionaries(st.sampled_from(sorted(ENV_NAMES.values())), setting_values, max_size=12))
def test_settings_refuse_cleanly_and_never_echo_secrets(raw: dict[str, str]) -> None:
    base = {"R2_ENDPOINT": "http://127.0.0.1:9000", "R2_ACCESS_KEY_ID": "id", "R2_BUCKET": "images"}
    raw = {**base, **raw, "R2_SECRET_ACCESS_KEY": SECRET, "CLOUDFLARE_API_TOKEN": TOKEN}
    try:
        parsed = parse_settings(raw)
    except SettingsError as err:
        EXAMPLES["settings refused"] += 1
        text = str(err) + repr(err.problems)
        assert SECRET not in text and TOKEN not in text
        return
    EXAMPLES["settings accepted"] += 1
    shown = repr(parsed) + str(parsed) + json.dumps(parsed.masked(), default=str)
    assert SECRET not in shown and TOKEN not in shown


@FUZZ
@given(st.text(max_size=40))
def test_a_secret_value_is_never_echoed_even_when_malformed(secret: str) -> None:
    secret = f"Q{secret}Z-distinct-{len(secret)}"
    raw = {
        "R2_ENDPOINT": "not a url",
        "R2_BUCKET": "B!",
        "R2_SECRET_ACCESS_KEY": secret,
        "CLOUDFLARE_API_TOKEN": secret,
    }
    with pytest.raises(SettingsError) as info:
        parse_settings(raw)
    EXAMPLES["settings secrets"] += 1
    assert secret not in str(info.value)


# ------------------------------------------------------------------------------------------ keys and names

names = st.text(st.characters(codec="utf-8"), max_size=300) | st.text(max_size=40).map(
    lambda s: "../" + s + "/x\x00.png"
)


@FUZZ
@given(st.text(max_size=1100) | st.text(st.characters(codec="utf-8"), min_size=200, max_size=400))
@example("a/../b.png")
@example("./x")
@example("/abs")
@example("é" * 600)
@example("e\u0301.png")
def test_check_key_refuses_or_returns_a_safe_key(key: str) -> None:
    try:
        checked = check_key(key)
    except InvalidInput as err:
        EXAMPLES["key refused"] += 1
        assert err.message
        return
    EXAMPLES["key accepted"] += 1
    assert checked == unicodedata.normalize("NFC", key)
    assert 0 < len(checked.encode("utf-8")) <= MAX_KEY_BYTES
    assert not any(unicodedata.category(c) == "Cc" for c in checked)
    assert not checked.startswith("/") and ".." not in checked.split("/")
    assert check_key(checked) == checked


UPLOAD_SETTINGS = settings_for("http://127.0.0.1:9", R2_FOLDERS="uploads,clinics")


@FUZZ
@given(names, st.sampled_from(["image/png", "image/jpeg", "", "text/html", "image/svg+xml"]))
def test_keys_never_come_from_the_file_name(name: str, declared: str) -> None:
    try:
        plan = plan_upload(UPLOAD_SETTINGS, name, 1000, declared)
    except InvalidInput:
        EXAMPLES["name refused"] += 1
        return
    EXAMPLES["name planned"] += 1
    folder, _, rest = plan.key.partition("/")
    stem = rest.partition(".")[0]
    assert folder == "uploads" and len(stem) == 36 and set(stem) <= set(string.hexdigits + "-")
    assert check_key(plan.key) == plan.key


@FUZZ
@given(names)
def test_original_names_survive_as_ascii_metadata(name: str) -> None:
    EXAMPLES["name encoded"] += 1
    shown = display_name(name)
    assert shown and "/" not in shown and not any(unicodedata.category(c) == "Cc" for c in shown)
    encoded = encode_name(name)
    assert encoded.isascii() and len(encoded) <= MAX_NAME_META
    assert all(c in string.printable and c not in "\r\n\t\x0b\x0c " for c in encoded)
    decoded = decode_name(encoded)
    assert shown.startswith(decoded)  # whole, or cut at a character boundary when too long
    if len(encoded) < MAX_NAME_META - 12:
        assert decoded == shown
