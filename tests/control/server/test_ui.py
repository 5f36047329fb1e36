"""The status page (``/ui``) in a real headless Chromium against a real ``uqo serve``.

A person logs in through the page's form (user, password, TOTP code), the page follows the
status stream, and every number it shows (each element with ``data-k``) equals the value of
``/v1/status`` as the test fetches it with its own token for the same account, and so does
each failure domain's row (agents, pairs, mutual information: ``failure_domains``); agents and
their domains equal ``/v1/agents``; a failed login the test makes shows up in the list of
recent security events as ``/v1/security/events`` has it. A screenshot is saved under the test's tmp dir (its path
is printed). Then the stream ends itself once the token is revoked (logout), and the assets
go out with their Content-Security-Policy.

Chromium is Debian's (``scripts/setup-system.sh``), driven by Playwright through
``executable_path``: Playwright downloads no browser. Without it the test fails naming what is
missing (no skip: the page is not proved otherwise).
"""

import datetime as dt
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


def _domain_cells(page) -> dict:
    """domain -> [(field, data-raw, text)] of the page's failure-domain correlation table."""
    rows = page.eval_on_selector_all("#domain-mi-rows tr", "trs => trs.map(tr => [tr.dataset."
                                     "domain, [...tr.querySelectorAll('td[data-f]')].map(td =>"
                                     " [td.dataset.f, td.dataset.raw, td.textContent])])")
    return {name: cells for name, cells in rows}


def _domains_agree(cells: dict, status: dict) -> bool:
    fd = status.get("failure_domains") or {"domains": []}
    want = {d["domain"]: d for d in fd["domains"]}
    return cells.keys() == want.keys() and all(
        json.loads(raw) == want[name][f] for name, row in cells.items() for f, raw, _ in row)


def _utc(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


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
        shown, domains = _page_numbers(page), _domain_cells(page)
        status = api.call("GET", "/v1/status", token)[1]
        raw = {k: json.loads(r) for k, r, _ in shown}
        if raw["performance.ticks"] == status["performance"]["ticks"] and all(
                raw[k] == _lookup(status, k) for k in raw) and _domains_agree(domains, status):
            break
        time.sleep(0.3)
    assert len(shown) >= 25, shown
    for key, raw_json, text in shown:
        assert json.loads(raw_json) == _lookup(status, key), (key, raw_json, status)
        assert text == _shown(_lookup(status, key)), (key, text)
    quantum = status["quantum"]
    assert quantum["global_coherence"] is not None and quantum["n_pairs"] >= 4, quantum
    assert page.inner_text("#role") == "leader"
    # failure domains with their mutual information: the page's rows are /v1/status's
    want = {d["domain"]: d for d in status["failure_domains"]["domains"]}
    assert set(domains) == set(DOMAINS) == set(want), (domains, want)
    for name, cells in domains.items():
        assert [f for f, _, _ in cells] == ["agents", "agents_up", "pairs",
                                            "mean_pair_mutual_information",
                                            "max_pair_mutual_information"]
        for field, raw_json, text in cells:
            assert json.loads(raw_json) == want[name][field], (name, field, raw_json, want)
            assert text == _shown(want[name][field]), (name, field, text)
        assert want[name]["mean_pair_mutual_information"] is not None, want[name]

    # recent security events: a failed login the test makes appears as the API lists it
    assert api.call("POST", "/v1/auth/login", body={"user_id": "mallory",
                                                    "password": "not the password"})[0] == 401
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "mallory" not in page.inner_text("#event-rows"):
        time.sleep(0.3)
    (event,) = api.call("GET", "/v1/security/events?limit=1", token)[1]["events"]
    assert event["subject"] == "mallory", event
    cells = page.eval_on_selector_all("#event-rows tr:first-child td", "tds => tds.map(td => "
                                      "td.textContent)")
    assert cells == [_utc(event["ts"]), "auth.login", "mallory", "failure",
                     event["detail"]["code"]], (cells, event)
    assert page.get_attribute("#event-rows tr:first-child", "data-seq") == str(event["seq"])

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


def test_security_events_route_authorisation_and_bad_input(world):
    api, srv, viewer, _ = world
    admin = srv.token(3)
    assert api.call("POST", "/v1/auth/login", body={"user_id": "eve",
                                                    "password": "not the password"})[0] == 401
    status, page = api.call("GET", "/v1/security/events?limit=5", admin)
    assert status == 200 and page["limit"] == 5 and 1 <= len(page["events"]) <= 5, page
    first = page["events"][0]
    assert (first["kind"], first["subject"], first["outcome"]) == ("auth.login", "eve",
                                                                   "failure"), first
    assert first["detail"]["code"] and first["detail"]["source"] == "127.0.0.1", first
    seqs = [e["seq"] for e in page["events"]]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)
    status, page = api.call("GET", "/v1/security/events", api.token(viewer))    # operator
    assert status == 200 and page["limit"] == 20 and page["events"][0] == first
    analyst = api.enrol(admin, "reader", "analyst", 3)
    status, body = api.call("GET", "/v1/security/events", api.token(analyst))
    assert status == 403 and body["error"]["code"] == "forbidden", body
    # that refusal is itself an audited security event, now the newest
    (newest,) = api.call("GET", "/v1/security/events?limit=1", admin)[1]["events"]
    assert (newest["kind"], newest["subject"], newest["outcome"]) == ("authz.decision",
                                                                      "reader", "denied")
    assert newest["detail"]["resource"] == "security_events" and newest["seq"] > first["seq"]
    for bad in ("0", "201", "ten", "1.5", "-3"):
        status, body = api.call("GET", f"/v1/security/events?limit={bad}", admin)
        assert status == 400 and body["error"]["field"] == "limit", (bad, body)
    status, body = api.call("GET", "/v1/security/events?limit=1&limit=2", admin)
    assert status == 400 and body["error"]["field"] == "limit", body
    status, body = api.call("GET", "/v1/security/events")
    assert status == 401 and body["error"]["code"], body


def test_status_carries_each_failure_domains_mutual_information(world):
    api, srv, _, _ = world
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:               # measured after a tick, None before
        status = api.call("GET", "/v1/status", srv.token(3))[1]
        if status["performance"]["ticks"] >= 2:
            break
        time.sleep(0.5)
    fd = status["failure_domains"]
    assert fd["count"] == len(DOMAINS), fd
    got = {d["domain"]: d for d in fd["domains"]}
    # the belief pairs a domain's agents two by two; the loner has no domain
    assert {k: (d["agents"], d["pairs"]) for k, d in got.items()} == {
        k: (n, n // 2) for k, n in DOMAINS.items()}
    for d in got.values():
        assert 0.0 <= d["mean_pair_mutual_information"] <= d["max_pair_mutual_information"]
    means = [d["mean_pair_mutual_information"] for d in fd["domains"]]
    assert means == sorted(means, reverse=True)                 # most correlated first
    assert min(means) > 0.0       # the correlated-failure channel has linked every pair
    # per domain, the same pairs the engine's tick report averages over
    pairs = sum(d["pairs"] for d in got.values())
    assert pairs == status["quantum"]["n_pairs"]
    weighted = sum(d["mean_pair_mutual_information"] * d["pairs"] for d in got.values()) / pairs
    assert weighted == pytest.approx(
        status["quantum"]["entanglement"]["mean_pair_mutual_information"], rel=1e-4, abs=1e-7)
