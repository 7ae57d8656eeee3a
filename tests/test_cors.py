"""r2.cors without a server: formats and round-trips, R2's validation rules, lint, the local evaluator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from r2 import cors
from r2.errors import InvalidInput
from r2.local import demo_cors_rules
from r2.preflight import judge

APP = "http://localhost:8501"
ROOT = Path(__file__).resolve().parents[1]

# The guide's CORS examples (its policy and the four failures its users hit), as users paste them.
GUIDE_POLICY = [
    {
        "AllowedOrigins": ["http://localhost:8501", "https://images.example.com"],
        "AllowedMethods": ["GET", "PUT", "HEAD"],
        "AllowedHeaders": ["content-type", "if-none-match"],
        "ExposeHeaders": ["ETag"],
        "MaxAgeSeconds": 3600,
    }
]
GUIDE_BLOCKED_PUT = [{"AllowedOrigins": ["http://localhost:8501"], "AllowedMethods": ["GET", "HEAD"]}]
GUIDE_MISSING_HEADERS = [
    {"AllowedOrigins": ["http://localhost:8501"], "AllowedMethods": ["GET", "PUT"], "ExposeHeaders": ["ETag"]}
]
GUIDE_WRONG_ORIGIN = [
    {
        "AllowedOrigins": ["http://localhost:8501/"],
        "AllowedMethods": ["PUT"],
        "AllowedHeaders": ["content-type"],
    }
]
GUIDE_STAR_HEADERS = [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PUT", "OPTIONS"], "AllowedHeaders": ["*"]}]


def rule(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"AllowedOrigins": [APP], "AllowedMethods": ["GET"]}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def problems_of(data: object) -> list[cors.Problem]:
    _, problems, _ = cors.check(data, APP)
    return problems


# ------------------------------------------------------------------------------ formats


@pytest.mark.parametrize("data", [GUIDE_POLICY, demo_cors_rules(APP), [rule(ID="a", MaxAgeSeconds=0)]])
def test_both_formats_round_trip_exactly(data: list[dict[str, object]]) -> None:
    from_array = cors.parse(json.dumps(data))
    from_s3 = cors.parse(json.dumps({"CORSRules": data}))
    assert from_array == from_s3
    assert from_array.to_dashboard() == data
    assert from_s3.to_s3() == {"CORSRules": data}
    assert cors.parse(from_array.to_json("dashboard")) == from_array
    assert cors.parse(from_array.to_json("s3")) == from_array


def test_absent_and_empty_lists_stay_apart_in_exports() -> None:
    with_empty = cors.parse([rule(AllowedHeaders=[])])
    without = cors.parse([rule()])
    assert with_empty.to_dashboard() == [rule(AllowedHeaders=[])]
    assert without.to_dashboard() == [rule()]
    assert with_empty.same_as(without)  # but a server stores them alike


_header = st.sampled_from(["content-type", "If-None-Match", "ETag", "x-amz-meta-*", "*", ""])
_rules = st.fixed_dictionaries(
    {
        "AllowedOrigins": st.lists(st.sampled_from([APP, "https://a.example.com", "*", "http://x:1/"]), max_size=3),
        "AllowedMethods": st.lists(st.sampled_from([*cors.METHODS, "OPTIONS", "get"]), max_size=3),
    },
    optional={
        "AllowedHeaders": st.lists(_header, max_size=3),
        "ExposeHeaders": st.lists(_header, max_size=3),
        "MaxAgeSeconds": st.integers(-5, 100_000),
        "ID": st.text(max_size=5),
    },
)


@given(st.lists(_rules, max_size=3), st.booleans())
def test_any_policy_round_trips_through_either_format(rules: list[dict[str, object]], s3_form: bool) -> None:
    text = json.dumps({"CORSRules": rules} if s3_form else rules)
    policy = cors.parse(text)  # values are kept as given, valid or not: validate() names them
    assert policy.to_dashboard() == rules
    assert cors.parse(policy.to_json("s3" if s3_form else "dashboard")) == policy


# ------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ("[{", "", "not valid JSON"),
        ({"rules": [{"allowed": {"origins": [APP]}}]}, "", "Cloudflare REST API"),
        (rule(), "", "single rule"),
        ([], "", "no rules"),
        ({"CORSRules": [], "Extra": 1}, "", "Unknown top-level"),
        ([rule(AllowedMethods="GET")], "AllowedMethods", "list of strings"),
        ([rule(MaxAgeSeconds="3600")], "MaxAgeSeconds", "whole number"),
        ([rule(MaxAgeSeconds=True)], "MaxAgeSeconds", "whole number"),
        ([rule(MaxAgeSeconds=86_401)], "MaxAgeSeconds", "outside 0..86400"),
        ([rule(MaxAgeSeconds=-1)], "MaxAgeSeconds", "outside"),
        ([rule(AllowedMethods=["GET", "OPTIONS"])], "AllowedMethods", "OPTIONS"),
        ([rule(AllowedMethods=["get"])], "AllowedMethods", "capitals"),
        ([rule(AllowedMethods=["PATCH"])], "AllowedMethods", "not a method R2 accepts"),
        ([rule(AllowedMethods=[])], "AllowedMethods", "no methods"),
        ([rule(AllowedOrigins=[])], "AllowedOrigins", "no origins"),
        ([rule(AllowedOrigins=None)], "AllowedOrigins", "no origins"),
        ([rule(AllowedOrigins=["http://localhost:8501/"])], "AllowedOrigins", "trailing slash"),
        ([rule(AllowedOrigins=["https://app.example.com/upload"])], "AllowedOrigins", "path"),
        ([rule(AllowedOrigins=["app.example.com"])], "AllowedOrigins", "no scheme"),
        ([rule(AllowedOrigins=["http://localhost:*"])], "AllowedOrigins", "wildcard port"),
        ([rule(AllowedOrigins=["https://*.*.example.com"])], "AllowedOrigins", "more than one"),
        ([rule(AllowedOrigins=["https://x.example.com:99999"])], "AllowedOrigins", "invalid port"),
        ([rule(AllowedOrigins=[" https://x.example.com"])], "AllowedOrigins", "spaces"),
        ([rule(AllowedOrigins=[""])], "AllowedOrigins", "empty origin"),
        ([rule(AllowedHeaders=[""])], "AllowedHeaders", "empty header"),
        ([rule(AllowedHeaders=["content-type, if-none-match"])], "AllowedHeaders", "not a header name"),
        ([rule(ExposeHeaders=[" "])], "ExposeHeaders", "empty header"),
        ([rule(AllowedOrigin=[APP])], "AllowedOrigin", "Did you mean AllowedOrigins"),
        ([rule(MaxAge=10)], "MaxAge", "Did you mean MaxAgeSeconds"),
        ([rule(Colour="red")], "Colour", "unknown field"),
        (GUIDE_WRONG_ORIGIN, "AllowedOrigins", 'Write "http://localhost:8501"'),
        (GUIDE_STAR_HEADERS, "AllowedMethods", "OPTIONS"),
        ([rule(ID="x" * 256)], "ID", "longer than"),
    ],
)
def test_invalid_policies_name_the_rule_field_and_fix(data: object, field: str, words: str) -> None:
    problems = problems_of(data)
    assert problems, "expected a problem"
    hit = [p for p in problems if p.field == field and words in str(p)]
    assert hit, [str(p) for p in problems]
    if field:
        assert hit[0].rule == 1 and str(hit[0]).startswith(f"Rule 1, {field}: ")
    assert all(p.fix for p in problems)


@pytest.mark.parametrize(
    "data",
    [
        GUIDE_POLICY,
        GUIDE_BLOCKED_PUT,
        GUIDE_MISSING_HEADERS,
        demo_cors_rules(APP),
        [rule(AllowedOrigins=["*"])],
        [rule(AllowedOrigins=["https://*.example.com", "http://[::1]:8501"], MaxAgeSeconds=86_400)],
        [rule(AllowedHeaders=["x-amz-*", "*"], ExposeHeaders=["ETag", "x-amz-request-id"], ID="uploads")],
        {"CORSRules": GUIDE_POLICY},
    ],
)
def test_valid_policies_have_no_problems(data: object) -> None:
    assert problems_of(data) == []


def test_invalid_policy_raises_with_every_problem() -> None:
    policy = cors.parse([rule(AllowedMethods=["OPTIONS"]), rule(MaxAgeSeconds=999_999)])
    with pytest.raises(cors.InvalidPolicy) as info:
        cors.require_valid(policy)
    assert [p.rule for p in info.value.problems] == [1, 2]
    assert "Nothing was sent" in str(info.value)


# ------------------------------------------------------------------------------ lint


def warnings_of(data: object, app: str = APP) -> list[str]:
    policy, problems, warnings = cors.check(data, app)
    assert policy is not None and not problems
    return [str(w) for w in warnings]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (GUIDE_BLOCKED_PUT, "cannot PUT"),
        (GUIDE_MISSING_HEADERS, "not the header content-type"),
        (GUIDE_MISSING_HEADERS, "not the header if-none-match"),
        ([rule(AllowedMethods=["PUT"], AllowedHeaders=["content-type", "if-none-match"])], "does not expose ETag"),
        ([rule(AllowedOrigins=["*"])], "any website"),
        ([rule(AllowedHeaders=["*"])], "reported not to work on R2"),
        ([rule(AllowedOrigins=["http://images.example.com"])], "plain http://"),
        ([rule(AllowedOrigins=["https://Images.example.com"])], "capital letters"),
        ([rule(AllowedMethods=["GET", "GET"])], "repeated: GET"),
        ([rule(), rule()], "duplicate of rule 1"),
        ([rule(AllowedOrigins=["*"], AllowedMethods=["GET", "PUT"]), rule()], "shadowed by rule 1"),
        (
            [rule(AllowedOrigins=["https://*.example.com"]), rule(AllowedOrigins=["https://a.example.com"])],
            "shadowed by rule 1",
        ),
    ],
)
def test_lint_warns(data: object, words: str) -> None:
    warnings = warnings_of(data)
    assert any(words in w for w in warnings), warnings


def test_lint_the_app_origin_message_names_the_reason() -> None:
    warnings = warnings_of([rule(AllowedOrigins=["https://other.example.com"], AllowedMethods=["PUT"])])
    assert any("this app's origin http://localhost:8501 cannot PUT" in w and "no rule lists" in w for w in warnings)


def test_preset_is_valid_clean_and_puts_the_app_origin_first() -> None:
    for origin in (APP, "https://images.example.com"):
        policy = cors.preset(origin)
        assert policy.rules[0].origins[0] == origin
        assert policy.to_dashboard() == demo_cors_rules(origin)
        assert cors.validate(policy) == []
        assert cors.lint(policy, origin) == []
        assert set(policy.rules[0].methods) == {"GET", "PUT", "HEAD"}
        assert policy.rules[0].max_age_seconds == 3600


def test_a_later_narrower_rule_is_not_shadowed_by_a_narrower_earlier_one() -> None:
    warnings = warnings_of([rule(), rule(AllowedOrigins=["*"], AllowedMethods=["GET", "PUT"])])
    assert not any("shadowed" in w for w in warnings)


# ------------------------------------------------------------------------------ evaluator


POLICY = cors.parse(
    [
        {"AllowedOrigins": ["https://a.example.com"], "AllowedMethods": ["GET"], "ExposeHeaders": ["ETag"]},
        {
            "AllowedOrigins": ["https://*.example.com"],
            "AllowedMethods": ["PUT", "GET"],
            "AllowedHeaders": ["Content-Type", "x-amz-meta-*"],
            "MaxAgeSeconds": 60,
        },
    ]
)


@pytest.mark.parametrize(
    ("origin", "method", "headers", "rule", "reason"),
    [
        ("https://a.example.com", "GET", [], 1, ""),
        ("https://a.example.com", "PUT", ["content-type"], 2, ""),  # rule 1 lacks PUT: rule 2 matches
        ("https://b.example.com", "put", ["CONTENT-TYPE", "x-amz-meta-name"], 2, ""),
        ("https://b.example.com", "PUT", ["if-none-match"], None, "if-none-match are not in its AllowedHeaders"),
        ("https://b.example.com", "DELETE", [], None, "DELETE is not in its AllowedMethods"),
        ("https://example.com", "GET", [], None, "no rule lists the origin https://example.com"),
        ("https://a.example.com.evil.test", "GET", [], None, "no rule lists"),
        ("http://a.example.com", "GET", [], None, "close but different: https://a.example.com"),
    ],
)
def test_evaluate(origin: str, method: str, headers: list[str], rule: int | None, reason: str) -> None:
    result = cors.evaluate(POLICY, origin, method, headers)
    assert result.allowed is (rule is not None)
    assert result.rule == rule
    assert reason in " ".join(result.reasons)
    if rule:
        assert result.response_headers["Access-Control-Allow-Origin"] == origin


def test_evaluate_without_a_policy_explains_it() -> None:
    result = cors.evaluate(None, APP, "PUT", ["content-type"])
    assert not result.allowed and "no CORS policy" in result.reasons[0]


def test_diff_shows_the_change() -> None:
    before = cors.parse(GUIDE_BLOCKED_PUT)
    after = cors.parse(GUIDE_POLICY)
    text = cors.diff(before, after)
    assert '+        "PUT",' in text and text.startswith("--- live")
    assert cors.diff(after, after) == ""
    assert "(no CORS policy)" in cors.diff(None, after)


@pytest.mark.parametrize("source", [b"\x80", b"\x00\x00\x00\x00\x00", "[" * 100_000])
def test_input_that_is_not_json_text_is_an_invalid_policy(source: str | bytes) -> None:
    """Found by fuzzing (tests/test_reliability_fuzz.py): non-UTF-8 bytes and very deep nesting raised
    UnicodeDecodeError/RecursionError instead of InvalidPolicy."""
    with pytest.raises(cors.InvalidPolicy):
        cors.parse(source)


# ------------------------------------------------------------------------------ conformance cases
# The evaluator and the preflight judge must agree with what a browser and R2 do (docs/reliability.md,
# "CORS against the conformance cases").


def test_a_comma_list_of_headers_is_split_like_a_browser_sends_it() -> None:
    assert cors.normalise_headers(["Content-Type, if-none-match", " x-a ,", "X-A"]) == (
        "content-type",
        "if-none-match",
        "x-a",
    )
    verdict = cors.evaluate(cors.preset(APP), APP, "PUT", ["content-type, if-none-match"])
    assert verdict.allowed and verdict.rule == 1 and verdict.headers == cors.UPLOAD_HEADERS


@pytest.mark.parametrize(
    ("origin", "fix"),
    [
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("https://*.bücher.example", "https://*.xn--bcher-kva.example"),
        ("https://user@app.example.com", "https://app.example.com"),
        ("https://user:pw@app.example.com:8443", "https://app.example.com:8443"),
        ("https://app.example.com:443", "https://app.example.com"),
        ("http://localhost:80", "http://localhost"),
        ("http://localhost:08501", "http://localhost:8501"),
    ],
)
def test_an_origin_a_browser_never_sends_is_refused_with_the_form_to_use(origin: str, fix: str) -> None:
    problems = [p for p in problems_of([rule(AllowedOrigins=[origin])]) if p.field == "AllowedOrigins"]
    assert problems, f"{origin} was accepted"
    assert f'Write "{fix}"' in problems[0].fix, str(problems[0])
    assert cors.origin_problem(fix) is None  # the suggested form is itself accepted


def test_null_is_explained_not_rewritten_into_another_origin() -> None:
    assert problems_of([rule(AllowedOrigins=["null"])]) == []
    warnings = [w for w in warnings_of([rule(AllowedOrigins=["null"])]) if '"null"' in w]
    assert warnings, "no warning about null"
    text = " ".join(warnings)
    assert "https://null" not in text
    assert "opaque" in text and "sandboxed" in text and "file" in text
    assert "not documented" in text


def test_a_wildcard_in_allow_headers_does_not_cover_authorization() -> None:
    answer = {
        "Access-Control-Allow-Origin": APP,
        "Access-Control-Allow-Methods": "PUT",
        "Access-Control-Allow-Headers": "*",
    }
    reasons = judge(200, answer, APP, "PUT", ["content-type", "authorization"])
    assert reasons and "authorization" in " ".join(reasons)
    assert "content-type" not in " ".join(reasons)  # the wildcard does cover other headers
    assert judge(200, answer, APP, "PUT", ["content-type"]) == ()
    listed = {**answer, "Access-Control-Allow-Headers": "*, Authorization"}
    assert judge(200, listed, APP, "PUT", ["authorization"]) == ()


@pytest.mark.parametrize("method", ["", "  ", "PU T"])
def test_an_empty_or_malformed_method_is_refused_not_evaluated(method: str) -> None:
    with pytest.raises(InvalidInput) as info:
        cors.evaluate(cors.preset(APP), APP, method, [])
    assert "method" in info.value.message and info.value.fix


def test_a_refused_preflight_does_not_blame_the_origin() -> None:
    reasons = " ".join(judge(403, {}, APP, "DELETE", ["content-type"]))
    assert "HTTP 403" in reasons
    assert "matched the origin" not in reasons and "matching rule" not in reasons
    assert "method" in reasons and "headers" in reasons  # names everything the server may have refused


@pytest.mark.parametrize(
    ("origin", "example", "words"),
    [
        ("https://app.example.com*", "https://app.example.com.attacker.net", "anyone can register"),
        ("https://*", "https://attacker.net", "every https:// site"),
        ("https://*example.com", "https://attackerexample.com", "anyone can register"),
        ("https://*.example.com", "https://attacker.example.com", "any host under example.com"),
        ("http://*:8501", "http://attacker.net:8501", "every http:// site"),
    ],
)
def test_every_wildcard_origin_is_warned_about_with_what_it_matches(origin: str, example: str, words: str) -> None:
    assert cors.origin_matches(origin, example)  # the example really is let in, by R2's reported semantics
    hits = [w for w in warnings_of([rule(AllowedOrigins=[origin])]) if f'"{origin}"' in w and "wildcard" in w]
    assert hits, warnings_of([rule(AllowedOrigins=[origin])])
    assert example in hits[0] and words in hits[0]
    assert "exact" in hits[0] and "documentation" in hits[0]


# ------------------------------------------------------------------------------ one CORS module

_PROBE_IMPORT = """
import os, sys
import r2.cors, r2.cors_store, r2.preflight, r2.health
print(os.environ.get("MOTO_DISABLE_GLOBAL_CORS"), "r2.local" in sys.modules, any(m == "moto" for m in sys.modules))
"""

# Starts the embedded server in a fresh process where nothing set MOTO_DISABLE_GLOBAL_CORS, moto
# optionally imported first, and asks for a preflight on a bucket without CORS: a browser must be
# refused (no Access-Control-Allow-Origin), as on R2.
_PROBE_SERVER = """
import sys
if sys.argv[1] == "moto-first":
    import moto.server  # noqa: F401
import requests
from r2.client import make_client
from r2.local import LocalServer, local_settings
from r2.settings import parse_settings
server = LocalServer().start()
try:
    settings = local_settings(parse_settings({"R2_BUCKET": "probe"}), server)
    make_client(settings).create_bucket(Bucket="probe", CreateBucketConfiguration={"LocationConstraint": "auto"})
    answer = requests.options(f"{server.endpoint}/probe/key", timeout=10, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"})
    print(answer.status_code, answer.headers.get("Access-Control-Allow-Origin"))
finally:
    server.stop()
"""


def _python(code: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "MOTO_DISABLE_GLOBAL_CORS" and not k.startswith("R2_")}
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_importing_the_cors_model_changes_nothing_in_the_process() -> None:
    assert _python(_PROBE_IMPORT) == "None False False"


@pytest.mark.parametrize("order", ["r2-first", "moto-first"])
def test_the_local_server_enforces_cors_however_it_was_imported(order: str) -> None:
    status, allow_origin = _python(_PROBE_SERVER, order).split()
    assert allow_origin == "None", f"HTTP {status} allowed https://evil.example: moto's permissive CORS is on"


def test_one_preset_and_one_list_of_upload_headers() -> None:
    from r2 import direct, local
    from r2.health import admin

    assert admin.UPLOAD_HEADERS is cors.UPLOAD_HEADERS and direct.PUT_HEADERS is cors.UPLOAD_HEADERS
    assert local.demo_cors_rules(APP) == cors.preset(APP).to_dashboard()
    assert cors.preset(APP).rules[0].headers == cors.UPLOAD_HEADERS
