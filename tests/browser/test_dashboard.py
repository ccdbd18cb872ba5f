"""The dashboard in a real headless Chromium, against the real binary: log-in, the live
joints and progress bar, STOP by click and by key, approving and rejecting on the page,
and a wrong token refused. The MCP client (official Python SDK) checks what the arm did."""

import json
import os
import statistics
import subprocess
import time

import anyio
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from interop_conftest import ROOT, armature_bin, distance, http_client

pytestmark = pytest.mark.anyio

FAR = [2.0, -1.0, 1.0, -1.2, 0.5, 0.5]
HOME = [0.0, -1.5707963267948966, 0.0, -1.5707963267948966, 0.0, 0.0]
SIM = 'robot = "builtin:ur5e"\n[backend]\nkind = "sim"\n'
GATED = SIM + '[confirm]\nbeyond_rad = 0.5\n[confirm.actions]\nmove_joints = "beyond"\n'
# A person must approve: the model's own confirm_task is refused, the page's Approve is not.
HUMAN = GATED.replace("[confirm]\n", '[confirm]\napproval = "human"\n')


def token_for(name: str) -> tuple[str, str]:
    """A new operator token and its `[[operators]]` block, from `armature token new`."""
    out = subprocess.run([armature_bin(), "token", "new", name, "--role", "operator"],
                         capture_output=True, text=True, check=True).stdout
    return out.splitlines()[1].strip(), out[out.index("[[operators]]"):]


def page_url(server) -> str:
    return server.url.removesuffix("/mcp") + "/"


async def until(what: str, check, timeout: float = 20.0):
    """Waits for `check()` to return a true value and returns it; fails naming `what`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        await anyio.sleep(0.05)
    raise AssertionError(f"the page never showed {what} (last seen: {last!r})")


def text(browser, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).text


def log_in(browser, server, token: str | None):
    browser.get(page_url(server))
    if token is not None:
        field = browser.find_element(By.ID, "token")
        field.clear()
        field.send_keys(token)
        browser.find_element(By.ID, "login-button").click()


def joints_shown(browser) -> list[str]:
    return [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#joints td.joint")]


def pending_item(browser, task_id: str):
    """The list item of a task waiting for confirmation (the list is rebuilt only when it
    changes, so the element stays valid until the task leaves it)."""
    items = browser.find_elements(By.CSS_SELECTOR, f'#pending li.pending[data-task="{task_id}"]')
    return items[0] if items else None


def progress_shown(browser) -> float:
    value = browser.find_element(By.ID, "task-progress").get_attribute("aria-valuenow")
    return float(value or 0)


async def at_rest(c):
    """Waits until the MCP client's robot_state shows every joint at zero velocity (to
    within a nano-radian per second: the braking profile ends in rounding error)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        st = await c.state()
        if st["moving"] is False and max(abs(v) for v in st["velocities"]) < 1e-9:
            return st
        await anyio.sleep(0.1)
    raise AssertionError(f"the arm is not at rest: {st['velocities']}")


async def test_log_in_watch_a_move_and_stop_it_by_click(make_server, browser):
    token, block = token_for("alice")
    server = make_server(SIM + block)
    log_in(browser, server, token)
    await until("the operator's name", lambda: text(browser, "who") == "alice (operator)")
    await until("six joints", lambda: len(joints_shown(browser)) == 6)
    async with http_client(server.url, token) as c:
        before = joints_shown(browser)
        _, ack = await c.ok("move_joints", {"joints": FAR})
        await until("the joints changing", lambda: joints_shown(browser) != before)
        first = await until("the progress bar rising", lambda: progress_shown(browser) > 0 and progress_shown(browser))
        await until("the progress bar rising further", lambda: progress_shown(browser) > first)
        assert text(browser, "task-action") == "move_joints, running"
        assert "seconds" in text(browser, "task-eta")
        if os.environ.get("ARMATURE_SCREENSHOT"):
            await until("a third of the move", lambda: progress_shown(browser) > 30)
            shot = ROOT / "docs" / "images" / "dashboard.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(shot))
        browser.find_element(By.ID, "stop").click()
        final = (await c.wait_done(ack["task_id"]))[-1]
        assert final["state"] == "cancelled", final
        assert 0 < final["progress"] < 100
        await at_rest(c)
        said = await until("the stop's answer", lambda: "stop" in text(browser, "stop-result").lower()
                           and text(browser, "stop-result"))
        assert "…" not in said
        await until("the stop in the audit tail", lambda: "alice stop ok" in text(browser, "audit"))
        # The page's own figures: from the arm's state to the DOM showing it.
        lat = browser.execute_script("return window.armatureLatencies.slice()")
        assert len(lat) > 20
        report = {"samples": len(lat), "p50_ms": statistics.median(lat),
                  "p99_ms": sorted(lat)[int(len(lat) * 0.99) - 1]}
        print("state-to-page latency", json.dumps(report))


@pytest.mark.parametrize("key", [Keys.ESCAPE, Keys.SPACE], ids=["escape", "space"])
async def test_stop_by_key_on_an_open_loopback_server(make_server, browser, key):
    server = make_server(SIM)
    log_in(browser, server, None)
    await until("the open server's operator", lambda: text(browser, "who") == "local (operator)")
    async with http_client(server.url) as c:
        _, ack = await c.ok("move_joints", {"joints": FAR})
        await until("the progress bar rising", lambda: progress_shown(browser) > 0)
        browser.find_element(By.TAG_NAME, "body").send_keys(key)
        final = (await c.wait_done(ack["task_id"]))[-1]
        assert final["state"] == "cancelled", final
        await at_rest(c)


async def test_a_gated_task_approved_on_the_page_and_another_rejected(make_server, browser):
    token, block = token_for("alice")
    server = make_server(HUMAN + block)
    log_in(browser, server, token)
    await until("the operator's name", lambda: text(browser, "who") == "alice (operator)")
    async with http_client(server.url, token) as c:
        _, ack = await c.ok("move_joints", {"joints": FAR})
        assert ack["state"] == "awaiting_confirmation"
        err, _, sc = await c.call("confirm_task", {"task_id": ack["task_id"]})
        assert err and sc["error"]["code"] == "human_approval_required"
        item = await until("the task waiting for confirmation", lambda: pending_item(browser, ack["task_id"]))
        assert "Confirm?" in item.text
        item.find_element(By.CSS_SELECTOR, "button.confirm").click()
        final = (await c.wait_done(ack["task_id"], timeout=60))[-1]
        assert final["state"] == "succeeded" and final["approval"] == {"by": "alice", "channel": "dashboard"}, final
        assert distance((await c.state())["positions"], FAR) < 0.002
        await until("the approval in the audit tail", lambda: "alice confirm_task ok" in text(browser, "audit"))

        _, ack = await c.ok("move_joints", {"joints": HOME})
        assert ack["state"] == "awaiting_confirmation"
        item = await until("the second task waiting", lambda: pending_item(browser, ack["task_id"]))
        item.find_element(By.CSS_SELECTOR, "button.reject").click()
        final = (await c.wait_done(ack["task_id"]))[-1]
        assert final["state"] == "cancelled" and final["error"]["code"] == "rejected", final
        assert distance((await c.state())["positions"], FAR) < 0.002
        await until("the rejection in the audit tail", lambda: "alice reject_task ok" in text(browser, "audit"))
        await until("nothing left waiting", lambda: text(browser, "pending") == "nothing waiting")


async def test_a_wrong_token_is_refused_on_the_page(make_server, browser):
    _, block = token_for("alice")
    server = make_server(SIM + block)
    log_in(browser, server, "arm_not_a_token")
    said = await until("the refusal", lambda: text(browser, "login-error"))
    assert said == "Refused: the bearer token is not an operator's token"
    assert not browser.find_element(By.ID, "board").is_displayed()
    # The token is in neither the address nor a cookie.
    assert "arm_not_a_token" not in browser.current_url and browser.get_cookies() == []


def test_the_dashboards_data_passes_the_mcp_origin_check(make_server):
    """A page from another origin can neither stop the arm nor read the feed; the page
    itself (no data) is served to anyone who can reach the listener."""
    import urllib.error
    import urllib.request

    server = make_server(SIM)
    base = page_url(server)
    for method, path in (("POST", "dashboard/stop"), ("GET", "dashboard/events")):
        request = urllib.request.Request(base + path, method=method,
                                         headers={"Origin": "http://evil.example.com"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403
        body = json.loads(refused.value.read())
        assert body == {"error": "foreign_origin",
                        "message": "requests from origin http://evil.example.com are refused: "
                                   "only local origins may call this server"}
    with urllib.request.urlopen(base, timeout=10) as page:
        assert page.status == 200 and b'id="stop"' in page.read()
