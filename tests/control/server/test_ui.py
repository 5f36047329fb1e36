"""The status page (``/ui``) in a real headless Chromium against a real ``uqo serve``.

A person logs in through the page's form (user, password, TOTP code), the page follows the
status stream, and every number it shows (each element with ``data-k``) equals the value of
``/v1/status`` as the test fetches it with its own token for the same account; agents and
failure domains equal ``/v1/agents``. A screenshot is saved under the test's tmp dir (its path
is printed). Then the stream ends itself once the token is revoked (logout), and the assets
go out with their Content-Security-Policy.

Chromium is Debian's (``scripts/setup-system.sh``), driven by Playwright through
``executable_path``: Playwright downloads no browser. Without it the test fails naming what is
missing (no skip: the page is not proved otherwise).
"""

import json
import shutil
import time
import urllib.request
from decimal import ROUND_HALF_UP, Decimal

import pytest
from uqo.control.client.procs import ServerProcess
from uqo.control.sdk.credentials import totp_now

from ..conftest import FAST
from .test_probes import PW, Api

# Ticks every 3 s: between two ticks the status stands still (scheduling runs only on demand),
# so the page's last event and the test's own fetch can be compared exactly.
SETTINGS = {**FAST, "tick_interval_s": 3.0, "log_level": "warning", "login_burst": 500}
DOMAINS = {"rack-a": 4, "rack-b": 3, "rack-c": 2}


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is not installed: run scripts/setup-system.sh")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("ui")
    srv = ServerProcess(str(base / "data"), SETTINGS).start()
    try:
        api = Api(srv)
        admin = srv.token(3)
        viewer = api.enrol(admin, "viewer", "operator", 3)
        api.streamer = api.enrol(admin, "streamer", "operator", 3)
        for domain, n in DOMAINS.items():
            for i in range(n):
                status, body = api.call("POST", "/v1/agents", admin, {
                    "agent_id": f"{domain}-{i}", "capabilities": ["gpu"],
                    "failure_domain": domain, "fitness": 1.0 + i / 4})
                assert status == 201, body
        api.call("POST", "/v1/agents", admin, {"agent_id": "loner"})
        for i in range(5):
            status, body = api.call("POST", "/v1/tasks", srv.token(0), {
                "task_description": f"job {i}", "required_capabilities": ["gpu"]})
            assert status == 201, body
        yield api, srv, viewer, base
    finally:
        srv.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # --no-sandbox: Chromium's sandbox needs user namespaces, absent when tests run as root
        # in a container; the page under test is our own.
        b = pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        yield b
        b.close()


def _shown(value) -> str:
    """What app.js's fmt() writes for a value (toFixed rounds the exact binary value half
    away from zero, as ROUND_HALF_UP does on the exact Decimal)."""
    if value is None:
        return "\u2014"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, float):
        return str(Decimal(value).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))
    return str(value)


def _lookup(doc, path):
    for key in path.split("."):
        doc = None if doc is None else doc.get(key)
    return doc


def _page_numbers(page) -> dict:
    return page.eval_on_selector_all(
        "[data-k]", "els => els.map(e => [e.dataset.k, e.dataset.raw, e.textContent])")


def _login_through_the_page(page, srv, viewer, steps):
    page.goto(f"{srv.url}/ui")
    step = int(time.time()) // 30
    steps["viewer"] = step                     # the test's own login takes the next step
    page.fill("input[name=user_id]", viewer["user_id"])
    page.fill("input[name=password]", PW)
    page.fill("input[name=mfa_token]", totp_now(viewer["totp_secret"], step * 30))
    page.click("button[type=submit]")
    page.wait_for_selector("#dash", state="visible", timeout=15000)
    page.wait_for_selector("#login", state="hidden", timeout=1000)
    # polled from Python: a string predicate in wait_for_function is run by eval() in newer
    # Playwright builds, which the page's CSP (script-src 'self', no 'unsafe-eval') refuses
    deadline = time.monotonic() + 20
    ticks = None
    while time.monotonic() < deadline:
        ticks = page.get_attribute('[data-k="performance.ticks"]', "data-raw")
        if ticks and float(ticks) > 0:
            break
        time.sleep(0.2)
    assert ticks and float(ticks) > 0, f"the page never showed a tick (data-raw={ticks!r})"


def test_login_and_the_numbers_match_v1_status(world, browser, tmp_path):
    api, srv, viewer, _ = world
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400
            else None)
    _login_through_the_page(page, srv, viewer, api.steps)
    token = api.token(viewer)
    assert "viewer (operator" in page.inner_text("#who")
    # wait for tasks to be assigned and the page's agent table to be filled
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = api.call("GET", "/v1/status", token)[1]
        if status["scheduler"]["tasks"]["assigned"] == 5 and page.inner_text("#domain-rows"):
            break
        time.sleep(0.5)
    assert status["scheduler"]["tasks"]["assigned"] == 5, status["scheduler"]

    # the page's last status event and the test's fetch agree once no tick fell between them
    for _ in range(40):
        shown = _page_numbers(page)
        status = api.call("GET", "/v1/status", token)[1]
        raw = {k: json.loads(r) for k, r, _ in shown}
        if raw["performance.ticks"] == status["performance"]["ticks"] and all(
                raw[k] == _lookup(status, k) for k in raw):
            break
        time.sleep(0.3)
    assert len(shown) >= 25, shown
    for key, raw_json, text in shown:
        assert json.loads(raw_json) == _lookup(status, key), (key, raw_json, status)
        assert text == _shown(_lookup(status, key)), (key, text)
    quantum = status["quantum"]
    assert quantum["global_coherence"] is not None and quantum["n_pairs"] >= 4, quantum
    assert page.inner_text("#role") == "leader"

    # agents by state and failure domains: what /v1/agents says
    agents = api.call("GET", "/v1/agents?limit=1000", token)[1]["items"]
    busy = sum(1 for a in agents if a["assigned_tasks"])
    assert busy == 5
    time.sleep(6)                            # the page lists agents every 5 s: a fresh list
    assert page.inner_text("#agents-busy") == str(busy)
    assert page.inner_text("#agents-idle") == str(len(agents) - busy)
    rows = page.eval_on_selector_all("#domain-rows tr", "trs => trs.map(tr => "
                                     "[...tr.children].map(td => td.textContent))")
    expected = {}
    for a in agents:
        d = expected.setdefault(a["failure_domain"] or "(none)", [0, 0, 0.0])
        d[0], d[1], d[2] = d[0] + 1, d[1] + bool(a["assigned_tasks"]), d[2] + a["fitness"]
    assert {r[0]: r[1:] for r in rows} == {
        name: [str(n), str(b), _shown(f / n)] for name, (n, b, f) in expected.items()}
    assert page.locator("#chart-quantum path.coh").count() == 1
    assert page.locator("#chart-tasks rect").count() == len(status["scheduler"]["tasks"])

    shot = tmp_path / "ui.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"status page screenshot: {shot}")
    assert shot.stat().st_size > 10_000
    assert not errors, errors
    # nothing of the session is kept in the browser's storage
    # read over the DevTools protocol, which the page's CSP does not govern (a string given to
    # Playwright may be run by eval(), which the CSP refuses in some Chromium builds)
    cdp = page.context.new_cdp_session(page)
    kept = cdp.send("Runtime.evaluate", {
        "expression": "sessionStorage.length + localStorage.length", "returnByValue": True})
    assert kept["result"]["value"] == 0, kept
    page.click("#logout")
    page.wait_for_selector("#login", state="visible", timeout=10000)
    assert page.locator("#dash").is_hidden()
    page.close()


def test_the_stream_ends_when_its_token_is_revoked(world):
    api, srv, _, _ = world
    token = api.token(api.streamer)
    req = urllib.request.Request(f"{srv.url}/v1/status/stream?interval=0.5",
                                 headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        assert resp.readline() == b"event: status\n"
        first = json.loads(resp.readline().removeprefix(b"data: "))
        assert first["scheduler"]["agents"] == sum(DOMAINS.values()) + 1
        assert api.call("POST", "/v1/auth/logout", token, {})[0] == 200
        events = [line for line in resp.read().splitlines() if line.startswith(b"event:")]
    assert events[-1] == b"event: error", events     # then the server closed the stream
    status, body = api.call("GET", "/v1/status/stream?interval=0.1", srv.token(3))
    assert status == 400 and body["error"]["field"] == "interval", body


def test_assets_carry_a_content_security_policy_and_no_inline_script(world):
    _, srv, _, _ = world
    for path, media in (("/ui", "text/html"), ("/ui/app.js", "text/javascript"),
                        ("/ui/style.css", "text/css")):
        with urllib.request.urlopen(srv.url + path, timeout=30) as resp:
            body = resp.read().decode()
            assert resp.headers["Content-Type"].startswith(media)
            csp = resp.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "default-src 'none'" in csp
            assert "frame-ancestors 'none'" in csp
        if media == "text/html":
            assert "<script>" not in body and " style=" not in body and "on" + "click" not in body
            assert "http://" not in body.replace("http://www.w3.org", "") and "https://" not in body
