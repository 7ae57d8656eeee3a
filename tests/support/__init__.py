"""Helpers shared by tests and benchmarks (the test support package); tests/conftest.py holds fixtures only.

- env: ROOT, TEST_BUCKET, the test bucket's settings (`env_for`, `settings_for`, `env_from`) and keys (`keys_in`),
  and `require_tool` (skip when an outside tool is missing, fail in CI)
- servers: `free_port`, `wait_until_up`, `stop_process` for child servers on loopback
- apptest: Streamlit AppTest helpers (`configure`, `rendered_text`, `texts`, `button`, `open_browse`)
- cli: the command line run in process (`run`)
- browser: Playwright's names, Debian's Chromium, `streamlit_app`; importing it skips a module when
  Playwright is missing (outside CI)
- direct_upload: the Upload page's direct path in Chromium, and when a staged upload is due
- fault_proxy, fake_graphql, fake_oidc, localstack, nginx: servers and fakes on loopback
- corpus, heic, jpeg_structures, outside: images made in memory, and outside material and judges
- seeding: many objects into the in-process moto server fast
- load: the load driver shared by the load test and the load benchmark
- live_env: the R2_* values the opt-in live suite was started with

Nothing here imports a test module, conftest or a benchmark (tests/test_boundaries.py checks it).
"""
