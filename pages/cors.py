"""CORS: view, edit (validated and linted as you type), test and roll back the bucket's CORS policy."""

from collections.abc import Callable

import streamlit as st

from r2 import cors, cors_store
from r2.errors import R2Error
from r2.preflight import preflight
from ui.auth import require
from ui.config_change import attempt_change, remember_done, show_done
from ui.feedback import show_error
from ui.freshness import bucket_version
from ui.light import drawn_when_open
from ui.state import connection
from ui.text import escape_md, markdown_table

visitor = require("developer")
settings, client = connection()
actor = visitor.actor
METHOD_CHOICES = ["PUT", "GET", "HEAD", "POST", "DELETE"]


@st.cache_data(ttl=30, show_spinner=False)
def live_policy_json(_client: object, bucket: str, version: int) -> str:
    """The live policy as S3 JSON ("null" when there is none). Cached per bucket change."""
    policy = cors_store.read_policy(_client, bucket)
    return "null" if policy is None else policy.to_json()


@st.cache_data(ttl=30, show_spinner=False)
def history_entries(_client: object, bucket: str, version: int) -> list[cors_store.HistoryEntry]:
    return cors_store.history(_client, bucket)


def as_policy(text: str) -> cors.CorsPolicy | None:
    return None if text == "null" else cors.parse(text)


def show_problems(problems: list[cors.Problem]) -> None:
    for p in problems:
        box = st.error if p.severity == "error" else st.warning
        box(f"**{escape_md(p.where)}**: {escape_md(p.message)}", icon=":material/report:")
        if p.fix:
            st.caption(escape_md(p.fix))


def run_change(done: str, make_change: Callable[[], cors_store.ChangeResult]) -> None:
    """Run a change; on success remember the outcome for the next run and rerun, else show why."""
    result = attempt_change(make_change)
    if result is None:
        return
    live_policy_json.clear()
    history_entries.clear()
    st.session_state.cors_loaded = "null" if result.after is None else result.after.to_json()
    remember_done("cors_flash", done, result.version, result.audit_error)
    st.session_state.pop("cors_history_version", None)  # show the newest version next
    st.rerun()


st.title("CORS")
st.caption(
    "CORS decides which websites may call the bucket from a browser (fetch/XHR), for example this app's "
    "direct upload. Signed `<img>` links need no CORS. A 401/403 on the actual request is a signature or "
    "credential problem, not CORS."
)

live_error: R2Error | None = None
try:
    live_text = live_policy_json(client, settings.bucket, bucket_version())
except R2Error as err:
    live_error, live_text = err, "null"
live = as_policy(live_text)

if "cors_loaded" not in st.session_state:  # what the editor was loaded from (stale-edit check)
    st.session_state.cors_loaded = live_text
    st.session_state.cors_text = live_text if live is not None else cors.preset(settings.app_origin).to_json()

show_done("cors_flash", "policy is", cors.PROPAGATION_NOTE)

if live_error is not None:
    show_error(live_error)


def compare_or_roll_back(entries: list[cors_store.HistoryEntry[cors.CorsPolicy]]) -> None:
    chosen = st.selectbox("Version", [e.version for e in entries], key="cors_history_version")
    entry = next(e for e in entries if e.version == chosen)
    st.caption("The policy that was live before this change, compared with the live one:")
    diff = cors.diff(live, entry.before, old_name="live", new_name=f"before {entry.version}")
    st.code(diff or "(same)", "diff")
    if st.button("Roll back to this version", icon=":material/history:", key="cors_rollback"):
        with st.spinner("Snapshotting, restoring and reading back…"):
            run_change(
                f"Rolled back to the policy before version {entry.version}",
                lambda: cors_store.rollback(
                    client, settings.bucket, entry.version, actor=actor, expected=as_policy(live_text)
                ),
            )


tab_view, tab_edit, tab_test, tab_history = st.tabs(["Live policy", "Edit", "Test a preflight", "History"])

# ------------------------------------------------------------------------------------------ live policy
with tab_view:
    if live_error is not None:
        st.info("The live policy could not be read (see above). You can still write and test a policy locally.")
    elif live is None:
        st.info(
            f"The bucket **{escape_md(settings.bucket)}** has no CORS policy. That is a normal state: signed "
            "image links still work, but no browser on another site (including this app's direct upload) may "
            "call the bucket. Uploads then go through the app. Use **Edit** → *Start from the preset* to allow "
            "this app's direct uploads.",
            icon=":material/info:",
        )
    else:
        # What the first view shows is drawn without a data grid or a code block: each makes the browser load
        # over 1 MB of script first (docs/bench/page_speed.md). The JSON is drawn when asked for.
        st.markdown(markdown_table(cors.rows(live)))
        with st.expander("As JSON", icon=":material/data_object:", key="cors_json", on_change="rerun") as as_json:
            if as_json.open:
                fmt = st.radio("JSON format", ["S3 API", "R2 dashboard"], horizontal=True, key="cors_view_fmt")
                st.code(live.to_json("s3" if fmt == "S3 API" else "dashboard"), language="json")
        show_problems(cors.lint(live, settings.app_origin))
        if st.button("Delete the policy…", icon=":material/delete:", key="cors_delete"):
            st.session_state.cors_confirm_delete = True
        if st.session_state.get("cors_confirm_delete"):
            with st.container(border=True):
                st.warning(
                    "Delete the bucket's CORS policy? Browsers will no longer be able to upload directly. "
                    "The policy is saved in History first, so it can be rolled back."
                )
                reason = st.text_input("Why (kept in the history)", key="cors_delete_reason")
                yes, no = st.columns(2)
                if yes.button("Yes, delete the policy", type="primary", key="cors_delete_yes"):
                    st.session_state.cors_confirm_delete = False
                    run_change(
                        "Deleted the CORS policy",
                        lambda: cors_store.delete(
                            client, settings.bucket, actor=actor, reason=reason, expected=as_policy(live_text)
                        ),
                    )
                if no.button("Cancel", key="cors_delete_no"):
                    st.session_state.cors_confirm_delete = False
                    st.rerun()

# ------------------------------------------------------------------------------------------ edit
edited: cors.CorsPolicy | None = None
with tab_edit:
    start, reload = st.columns(2)
    if start.button(
        "Start from the preset",
        icon=":material/auto_fix_high:",
        help="The guide's policy, this app's origin",
        key="cors_preset",
    ):
        st.session_state.cors_text = cors.preset(settings.app_origin).to_json()
    if reload.button("Load the live policy", icon=":material/refresh:", key="cors_load"):
        live_policy_json.clear()
        try:
            fresh = live_policy_json(client, settings.bucket, bucket_version())
        except R2Error as err:
            show_error(err)
        else:
            st.session_state.cors_loaded = fresh
            # No live policy: offer the preset rather than an empty editor.
            st.session_state.cors_text = fresh if fresh != "null" else cors.preset(settings.app_origin).to_json()
    st.text_area(
        'Policy (R2 dashboard array or S3 {"CORSRules": [...]}; press Ctrl+Enter to check)',
        key="cors_text",
        height=320,
    )
    edited, problems, warnings = cors.check(st.session_state.cors_text, settings.app_origin)
    if problems:
        st.error(f"Invalid: {len(problems)} problem(s). It will not be sent.", icon=":material/block:")
        show_problems(problems)
    else:
        assert edited is not None
        st.success(f"Valid: {len(edited.rules)} rule(s), {len(warnings)} warning(s).", icon=":material/check:")
    show_problems(warnings)

    loaded = as_policy(st.session_state.cors_loaded)
    difference = cors.diff(loaded, edited) if edited is not None else ""
    if edited is not None and not difference:  # the editor shows the live policy: nothing to compare
        st.caption("No difference from the live policy.")
    else:
        left, right = st.columns(2)
        left.markdown("**Live** (as loaded)")
        left.code(loaded.to_json() if loaded else "(no CORS policy)", language="json")
        right.markdown("**Edited**")
        right.code(edited.to_json() if edited else "(invalid)", language="json")
        if difference:
            st.code(difference, language="diff")
    reason = st.text_input("Why (kept in the history)", key="cors_reason")
    same = edited is not None and cors.same_policy(loaded, edited)
    if st.button("Apply", type="primary", disabled=bool(problems) or same, icon=":material/publish:", key="cors_apply"):
        assert edited is not None
        with st.spinner("Snapshotting, applying and reading back…"):
            run_change(
                "Applied and read back the CORS policy",
                lambda: cors_store.apply(client, settings.bucket, edited, actor=actor, reason=reason, expected=loaded),
            )

# ------------------------------------------------------------------------------------------ test
with tab_test:
    st.caption(
        "Sends a real OPTIONS preflight to the bucket endpoint from the server and judges the answer as a "
        f"browser does (status, Allow-Origin, Allow-Methods, Allow-Headers). {cors.PROPAGATION_NOTE}"
    )
    origin = st.text_input("Origin", value=settings.app_origin, key="cors_test_origin")
    # Buttons, not a drop-down: five short choices, and no drop-down script for the browser to fetch.
    method = st.segmented_control("Method", METHOD_CHOICES, default=METHOD_CHOICES[0], key="cors_test_method")
    method = method or METHOD_CHOICES[0]  # a second click on the chosen one clears it
    header_text = st.text_input("Request headers (comma-separated)", value="content-type", key="cors_test_headers")
    headers = cors.normalise_headers([header_text])

    st.markdown("**Edited policy (not applied)**, evaluated locally")
    local = cors.evaluate(edited, origin, method, headers) if edited is not None else None
    if local is None:
        st.caption("The edited policy is invalid; fix it in Edit to see its effect.")
    elif local.allowed:
        st.success(f"Allowed by rule {local.rule} of the edited policy.", icon=":material/check_circle:")
    else:
        st.error("Blocked by the edited policy: " + escape_md("; ".join(local.reasons)) + ".", icon=":material/block:")

    if st.button("Send the preflight", icon=":material/send:", key="cors_send"):
        with st.spinner("Sending OPTIONS…"):
            answer = preflight(settings, origin, method, headers)
        verdict = cors.evaluate(live, origin, method, headers) if live_error is None else None
        if answer.error:
            st.error(escape_md(answer.error), icon=":material/cloud_off:")
        elif answer.allowed:
            rule = f" (rule {verdict.rule} of the live policy)" if verdict and verdict.rule else ""
            st.success(f"Allowed: a browser at {escape_md(origin)} may send {method}{rule}.")
        else:
            st.error(f"Blocked: a browser at {escape_md(origin)} may not send {method}.", icon=":material/block:")
            for reason_text in answer.reasons:
                st.markdown(f"- {escape_md(reason_text)}")
            if verdict and verdict.reasons:
                st.markdown("In the live policy: " + escape_md("; ".join(verdict.reasons)) + ".")
        if answer.status is not None:
            st.caption(f"HTTP {answer.status}; the Access-Control headers of the answer:")
            st.dataframe(
                [{"Header": k, "Value": v} for k, v in answer.response_headers.items()] or [{"Header": "(none)"}],
                hide_index=True,
            )

# ------------------------------------------------------------------------------------------ history
with tab_history:
    try:
        entries = history_entries(client, settings.bucket, bucket_version())
    except R2Error as err:
        show_error(err)
        entries = []
    if not entries:
        st.info("No history yet. Every change made here or with `python -m r2 cors` is snapshotted first.")
    else:
        st.markdown(
            markdown_table(
                [
                    {
                        "Version": e.version,
                        "When (UTC)": f"{e.at:%Y-%m-%d %H:%M:%S}",
                        "Who": e.actor,
                        "Change": e.action,
                        "Why": e.reason,
                        "Policy before": "none" if e.before is None else f"{len(e.before.rules)} rule(s)",
                    }
                    for e in entries
                ]
            )
        )
        # The version picker, the comparison and Roll back are drawn when asked for (a drop-down and a code
        # block are script the browser would fetch on every visit).
        with drawn_when_open("Compare a version with the live policy, or roll back", "cors_versions") as panel:
            if panel.open:
                compare_or_roll_back(entries)
