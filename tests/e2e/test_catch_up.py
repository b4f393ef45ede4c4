"""Live pages catch up exactly after their socket drops mid-stream.

The page's WebSocket and API requests go through Playwright, so the test cuts the
socket and refuses the page's reconnects and reads: the page is offline. Meanwhile a
writer keeps reporting, as a training script does: three metric keys at their own rates
(train/loss every step, learning_rate every 5, val/loss every 10, posted a few steps
late as an evaluation is) and 2,500 log lines. Once the server is back, the page must
hold exactly what the API stores: every point of every key (read from Chart.js'
datasets) and every log line (read from the panel), not one missing, none twice. The
dashboard's cards likewise show the status and progress of jobs that changed while it
was offline.
"""

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

JOB = "e2e-catch-up"
KEYS = ["train/loss", "learning_rate", "val/loss"]
VAL_EVERY = 10
LR_EVERY = 5
VAL_LATE = 3  # val/loss of step s is reported with train/loss of step s + 3
SOCKETS = re.compile(r"/ws/")
API = re.compile(r"/api/")
CATCH_UP_MS = 40_000  # the page reconnects with back-off (1, 2, 4, 8, 15 s)

# What the page holds: the raw series of its charts and the lines of its log panel.
PAGE_STATE = """() => {
  const series = {};
  for (const chart of Object.values(window.Chart.instances)) {
    for (const ds of chart.data.datasets) {
      if (ds.$role !== "raw") continue;
      series[ds.$series] = ds.data.map((p) => [p.x, p.y === null ? p.bad : p.y]);
    }
  }
  const lines = [...document.querySelectorAll("#log-scroll .log")].map((el) => [
    Number(el.dataset.seq),
    el.querySelector(".log__msg").textContent,
  ]);
  return { series, lines };
}"""

# True once the page holds exactly `expected` ({series: {key: [[step, value]]}, lines}).
HOLDS_EXACTLY = f"""(expected) => {{
  const state = ({PAGE_STATE})();
  for (const [key, points] of Object.entries(expected.series)) {{
    if (JSON.stringify(state.series[key] || []) !== JSON.stringify(points)) return false;
  }}
  return JSON.stringify(state.lines) === JSON.stringify(expected.lines);
}}"""


class Outage:
    """The server out of the page's reach: its WebSockets (routed through Playwright) are
    cut and refused, its API requests fail. `end()` brings the server back at the page's
    next reconnect attempt, so that the page catches up by what a reconnect reads (its
    3 s polls cannot read first), then pushes resume on that socket."""

    def __init__(self, page):
        self.down = False
        self.ending = False
        self.open = []
        page.route_web_socket(SOCKETS, self._socket)
        page.route(API, self._request)

    def _socket(self, ws):
        if self.ending:
            self.down = self.ending = False
        if self.down:
            ws.close()  # refused: the page backs off and retries
            return
        self.open.append((ws, ws.connect_to_server()))

    def _request(self, route):
        if self.down:
            route.abort()
        else:
            route.continue_()

    def begin(self):
        self.down = True
        for ws, server in self.open:
            server.close()
            ws.close()
        self.open.clear()

    def end(self):
        self.ending = True


@pytest.fixture
def api_get(server):
    def get(path):
        request = urllib.request.Request(
            f"{server['url']}{path}", headers={"Authorization": f"Bearer {server['token']}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    return get


def stored(api_get, uid):
    """What the API stores of the job: every point of KEYS and every log line."""
    keys = ",".join(KEYS)
    data = api_get(f"/api/jobs/{uid}/metrics?keys={keys}&max_points=10000")
    series = {key: [[s, v] for s, v, _ in data["series"][key]["points"]] for key in KEYS}
    assert not any(data["series"][key]["downsampled"] for key in KEYS)
    lines, after = [], 0
    while after is not None:
        page = api_get(f"/api/jobs/{uid}/logs?after_seq={after}&limit=1000")
        lines += [[line["seq"], line["message"]] for line in page["lines"]]
        after = page["next_after_seq"]
    return {"series": series, "lines": lines}


def points_for(first, last):
    """The points a trainer reports at steps first..last: train/loss every step,
    learning_rate every LR_EVERY, val/loss every VAL_EVERY reported VAL_LATE steps late."""
    points = []
    for step in range(first, last + 1):
        points.append({"key": "train/loss", "step": step, "value": round(2.5 / (1 + step / 50), 6)})
        if step % LR_EVERY == 0:
            points.append({"key": "learning_rate", "step": step, "value": 2e-4 * (1 - step / 1000)})
        late = step - VAL_LATE
        if late > 0 and late % VAL_EVERY == 0:
            points.append(
                {"key": "val/loss", "step": late, "value": round(2.6 / (1 + late / 45), 6)}
            )
    return points


def lines_for(first, last):
    return [
        {"seq": seq, "message": f"step log line {seq}", "level": "INFO"}
        for seq in range(first, last + 1)
    ]


def wait_until_it_holds(page, expected):
    try:
        page.wait_for_function(HOLDS_EXACTLY, arg=expected, timeout=CATCH_UP_MS)
    except Exception:
        state = page.evaluate(PAGE_STATE)
        missing = {
            key: sorted({p[0] for p in points} - {p[0] for p in state["series"].get(key, [])})
            for key, points in expected["series"].items()
        }
        seqs = {seq for seq, _ in state["lines"]}
        lines_missing = [seq for seq, _ in expected["lines"] if seq not in seqs]
        pytest.fail(
            f"the page does not hold what is stored: steps missing {missing}; "
            f"{len(lines_missing)} log lines missing (first: {lines_missing[:5]}); "
            f"{len(state['lines'])} lines shown, {len(expected['lines'])} stored"
        )


def test_a_job_page_whose_socket_drops_mid_stream_shows_exactly_what_is_stored(
    page, report, api_get
):
    page.console.allow("WebSocket")
    page.console.allow("Failed to load resource")
    report("/api/jobs", {"uid": JOB, "name": JOB, "model": "gpt2", "total_steps": 400})
    report(f"/api/jobs/{JOB}/status", {"status": "running", "step": 60})
    report(f"/api/jobs/{JOB}/metrics", {"points": points_for(1, 60)})
    report(f"/api/jobs/{JOB}/logs", {"lines": lines_for(1, 100)})
    outage = Outage(page)
    page.goto(f"/job/{JOB}")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")

    # Live: steps 61 and 62 are pushed; val/loss of step 60 is still to come (it is late).
    report(f"/api/jobs/{JOB}/metrics", {"points": points_for(61, 62)})
    expect(page.locator("#loss-chart")).to_have_attribute("data-last-x", "62")

    # The socket drops and the browser cannot reach the server.
    outage.begin()
    expect(page.locator("#conn")).to_have_attribute("data-state", "offline")

    # Meanwhile the job goes on: steps 63..300 (with val/loss of step 60, below steps the
    # page holds) and 2,500 log lines, in batches as a client sends them.
    for first in range(63, 301, 10):
        report(f"/api/jobs/{JOB}/metrics", {"points": points_for(first, min(first + 9, 300))})
        seq = 101 + (first - 63) // 10 * 105
        report(f"/api/jobs/{JOB}/logs", {"lines": lines_for(seq, min(seq + 104, 2600))})
    report(f"/api/jobs/{JOB}/status", {"step": 305})

    # The server is back: the page reconnects, catches up, and follows pushes again.
    outage.end()
    expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=CATCH_UP_MS)
    report(f"/api/jobs/{JOB}/metrics", {"points": points_for(301, 305)})
    report(f"/api/jobs/{JOB}/logs", {"lines": lines_for(2601, 2650)})

    expected = stored(api_get, JOB)
    assert len(expected["lines"]) == 2650
    assert [len(expected["series"][key]) for key in KEYS] == [305, 61, 30]
    wait_until_it_holds(page, expected)


def card_state(api_get, uids):
    cards = {card["uid"]: card for card in api_get("/api/jobs?page_size=200")["results"]}
    return {uid: [cards[uid]["status"], f"{round(cards[uid]['progress'])}%"] for uid in uids}


CARDS_SHOW = """(expected) => Object.entries(expected).every(([uid, [status, progress]]) => {
  const card = document.querySelector(`.job-card[data-uid="${uid}"]`);
  return card && card.dataset.status === status
    && card.querySelector('[data-f="progress"]').textContent === progress;
})"""


def test_the_dashboard_shows_cards_changed_while_its_socket_was_down(page, report, api_get):
    page.console.allow("WebSocket")
    page.console.allow("Failed to load resource")
    finishing, progressing, created = (
        "e2e-cards-finishing",
        "e2e-cards-progressing",
        "e2e-cards-new",
    )
    for uid in (finishing, progressing):
        report("/api/jobs", {"uid": uid, "name": uid, "model": "gpt2", "total_steps": 100})
        report(f"/api/jobs/{uid}/status", {"status": "running", "progress": 10, "step": 10})
    outage = Outage(page)
    page.goto("/")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    page.wait_for_function(CARDS_SHOW, arg=card_state(api_get, [finishing, progressing]))

    outage.begin()
    expect(page.locator("#conn")).to_have_attribute("data-state", "offline")
    report(f"/api/jobs/{progressing}/status", {"progress": 55, "step": 55})
    report(f"/api/jobs/{finishing}/status", {"progress": 100, "step": 100})
    report(f"/api/jobs/{finishing}/status", {"status": "completed"})
    report("/api/jobs", {"uid": created, "name": created, "model": "gpt2"})

    outage.end()
    expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=CATCH_UP_MS)
    expected = card_state(api_get, [finishing, progressing, created])
    assert expected[finishing] == ["completed", "100%"]
    page.wait_for_function(CARDS_SHOW, arg=expected, timeout=CATCH_UP_MS)

    # And pushes flow again.
    report(f"/api/jobs/{progressing}/status", {"progress": 60, "step": 60})
    page.wait_for_function(CARDS_SHOW, arg={progressing: ["running", "60%"]})
