"""The LLM tab of the Locust web UI, in a real browser and through its JSON endpoint.

Real processes on loopback: the mock, `locust -f locustfiles/batch_vs_stream.py` (standalone,
or a master with two workers) and headless Chromium driven by Selenium through the system's
chromedriver. Selenium Manager never downloads anything (SE_OFFLINE, explicit paths).

Set LOCUST_LLM_SCREENSHOT=docs/llm-tab.png to refresh the screenshot in the docs.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.conftest import ROOT, MockProcess, counts_by_mode, run_mock, stop_process
from tests.conftest import free_port as _free_port

pytestmark = pytest.mark.slow

USER_LOCUSTFILE = ROOT / "locustfiles" / "batch_vs_stream.py"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CANARY = "sk-canary-5b1f0c9e2d7a4"
LLM_OPTIONS = {"llmModel", "llmMaxTokens", "llmTemperature", "llmEndpoint", "llmRate", "llmWarmup"}
_DURATION = r"\d[\d,.]* (ms|s)"
_TRIPLE = re.compile(rf"^{_DURATION} / {_DURATION} / {_DURATION}$")

T = TypeVar("T")


# --- helpers ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _locust(*args: str, log: Path, env: dict[str, str] | None = None) -> Iterator[None]:
    """Run `python -m locust ARGS…` (output to `log`) and stop it afterwards."""
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "locust", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
        )
        try:
            yield
        finally:
            stop_process(process, timeout=15)


def _status(url: str) -> tuple[int, str]:
    """GET without following redirects: (status, Location header)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        conn.request("GET", parts.path or "/")
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Location") or ""
    finally:
        conn.close()


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: str = response.read().decode()
        return body


def _get_json(url: str) -> Any:
    return json.loads(_get(url))


def _wait_until(what: str, probe: Callable[[], T | None], timeout: float = 30) -> T:
    """Call `probe` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            result = probe()
        except OSError as exc:  # not listening yet
            last = exc
        else:
            if result:
                return result
            last = result
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def _wait_for_ui(base: str) -> None:
    _wait_until("the web UI", lambda: _status(base + "/")[0] in (200, 302), timeout=20)


def _secret_encodings(secret: str) -> list[str]:
    """The secret and the forms it would take base64-encoded at any offset in a longer text."""
    forms = [secret]
    for pad in range(3):
        encoded = base64.b64encode(b"x" * pad + secret.encode()).decode()
        forms.append(encoded[(pad * 4 + 2) // 3 + 1 : -4])
    return forms


def _assert_no_secret(where: str, text: str) -> None:
    for form in [*_secret_encodings(CANARY), "sk-canary"]:
        assert form not in text, f"the API key ({form!r}) leaked into {where}"


def _table(rows: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, str]]:
    """The LLM tab's rows keyed by (figure, model)."""
    return {(row["figure"], row["model"]): row for row in rows}


# --- the browser ------------------------------------------------------------------------------


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Headless Chromium (the system's) via the system's chromedriver, 1400 x 900."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver are missing: run scripts/system-deps")
        pytest.skip("chromium and chromium-driver are not installed (scripts/system-deps)")
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not download anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1400,900",
    ):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "driver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1400, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )
        yield driver
    finally:
        driver.quit()


def _rendered_table(driver: Any) -> tuple[list[str], list[list[str]]]:
    """The visible tab's table: header titles and the cells of each body row."""
    from selenium.webdriver.common.by import By

    table = driver.find_element(By.TAG_NAME, "table")
    header = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    body = [
        [td.text for td in tr.find_elements(By.CSS_SELECTOR, "td")]
        for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr")
    ]
    return header, body


def _start_and_open_llm_tab(driver: Any, fields: dict[str, str]) -> None:
    """Fill the start dialog's `fields` (by name), start the test, open the LLM tab."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    for name, value in fields.items():
        field = driver.find_element(By.NAME, name)
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(value)
    driver.find_element(By.XPATH, "//button[@type='submit']").click()
    _wait_until(
        "the LLM tab",
        lambda: [t for t in driver.find_elements(By.CSS_SELECTOR, "[role=tab]") if t.text == "LLM"],
    )[0].click()


def _first_ms(cell: str) -> float:
    value, unit = re.match(r"([\d,.]+) (ms|s)", cell).groups()  # type: ignore[union-attr]
    return float(value.replace(",", "")) * (1.0 if unit == "ms" else 1000.0)


def test_llm_tab_in_a_real_browser_shows_both_modes_live_and_never_the_key(
    tmp_path: Path, mock_server: MockProcess, browser: Any
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "locust.log"
    args = ["-f", str(USER_LOCUSTFILE), "--host", mock_server.url]
    args += ["--web-host", "127.0.0.1", "--web-port", str(port)]
    with _locust(*args, log=log, env={"OPENAI_API_KEY": CANARY}):
        _wait_for_ui(base)
        driver = browser
        driver.get(base + "/")
        _wait_until("the start dialog", lambda: driver.find_elements(By.NAME, "userCount"))

        # the start dialog: our options under "Custom parameters", no field for the key
        driver.find_element(By.XPATH, "//button[normalize-space()='Custom parameters']").click()
        _wait_until(
            "the custom parameters",
            lambda: all(e.is_displayed() for e in driver.find_elements(By.NAME, "llmModel")),
        )
        fields = driver.find_elements(By.CSS_SELECTOR, "input, select, textarea")
        names = {f.get_attribute("name") for f in fields}
        assert names >= LLM_OPTIONS, names
        assert all(
            driver.find_element(By.NAME, n).is_displayed() for n in LLM_OPTIONS - {"llmEndpoint"}
        )
        labels = " ".join(label.text for label in driver.find_elements(By.TAG_NAME, "label"))
        assert "Llm Model" in labels
        assert not [n for n in names if n and re.search(r"api.?key|secret|token_env", n, re.I)]
        assert not re.search(r"api.?key", labels, re.I), labels
        assert not driver.find_elements(By.CSS_SELECTOR, "input[type=password]")
        assert "llm_api_key_env" not in driver.page_source

        # start a test through the UI, then open the LLM tab beside Locust's own
        _start_and_open_llm_tab(driver, {"userCount": "8", "spawnRate": "8"})
        assert driver.current_url.endswith("?tab=llm")

        def both_modes_have_figures() -> dict[str, list[str]] | None:
            try:
                header, body = _rendered_table(driver)
            except (StaleElementReferenceException, WebDriverException):
                return None  # re-rendered while being read
            if header != ["LLM figure", "model", "streaming", "batch"]:
                return None
            rows = {cells[0]: cells[2:] for cells in body if len(cells) == 4}
            e2e = rows.get("E2E p50 / p95 / p99", [])
            ttft = rows.get("TTFT p50 / p95 / p99", [])
            if (
                len(e2e) == 2
                and all(_TRIPLE.match(c) for c in e2e)
                and ttft
                and _TRIPLE.match(ttft[0])
            ):
                return rows
            return None

        rows = _wait_until("TTFT and E2E figures for both modes", both_modes_have_figures)
        # the mock's truth: TTFT 200 ms, then 63 tokens 20 ms apart: E2E 1.46 s
        stream_ttft, batch_ttft = rows["TTFT p50 / p95 / p99"]
        assert 190 < _first_ms(stream_ttft) < 300, stream_ttft
        assert batch_ttft == "—"  # does not apply to batch: never 0
        for cell in rows["E2E p50 / p95 / p99"]:
            assert 1400 < _first_ms(cell) < 1700, cell
        stream_fv, batch_fv = rows["first visible output p50 / p95 / p99"]
        assert _first_ms(stream_fv) == _first_ms(stream_ttft)
        assert _first_ms(batch_fv) == _first_ms(rows["E2E p50 / p95 / p99"][1])
        for figure in ("ITL p50 / p95 / p99", "TPOT p50 / p95 / p99"):
            assert _TRIPLE.match(rows[figure][0]), rows[figure]
        # where a gateway would show: TTFB for both modes, the tail for streams
        assert all(_TRIPLE.match(c) for c in rows["TTFB p50 / p95 / p99"]), rows
        stream_tail, batch_tail = rows["tail (last token → end) p50 / p95 / p99"]
        assert _TRIPLE.match(stream_tail), stream_tail
        assert _first_ms(stream_tail) < 100, stream_tail  # the mock ends right after its last token
        assert batch_tail == "—"
        assert "reconnects" not in rows  # only when there were any
        headline = [f for f in rows if "Streaming shows the first token" in f]
        assert headline, list(rows)
        assert re.search(r"\d+\.\d× sooner", headline[0]), headline

        # live: the figures move while the test runs, without reloading the page
        before = int(rows["requests"][0].replace(",", ""))
        _wait_until(
            "the request count to grow",
            lambda: (
                (now := both_modes_have_figures())
                and int(now["requests"][0].replace(",", "")) > before
            ),
        )
        screenshot = os.environ.get("LOCUST_LLM_SCREENSHOT") or str(tmp_path / "llm-tab.png")
        driver.save_screenshot(screenshot)

        # the downloads in Locust's "Download Data" tab
        next(
            t
            for t in driver.find_elements(By.CSS_SELECTOR, "[role=tab]")
            if t.text == "DOWNLOAD DATA"
        ).click()
        links = _wait_until(
            "the LLM downloads",
            lambda: {
                a.get_attribute("href")
                for a in driver.find_elements(By.TAG_NAME, "a")
                if "/llm/" in (a.get_attribute("href") or "")
            },
        )
        assert links == {
            f"{base}/llm/summary.json",
            f"{base}/llm/summary.md",
            f"{base}/llm/stats/csv",
        }
        summary = _get_json(f"{base}/llm/summary.json")
        assert summary["schema"] == "locust-llm/summary/v1"
        assert summary["modes"]["stream"]["ttft_s"]["count"] > 0
        assert "first visible output" in _get(f"{base}/llm/summary.md")

        # the key is nowhere: page, Locust's stats, our endpoints, downloads, the log
        _assert_no_secret("the page", driver.page_source)
        for path in (
            "/",
            "/stats/requests",
            "/llm/stats",
            *(urllib.parse.urlsplit(u).path for u in links),
        ):
            _assert_no_secret(path, _get(base + path))

        severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        assert not severe, severe
    _assert_no_secret("Locust's output", log.read_text())


def test_an_open_loop_run_started_from_the_web_ui_paces_its_rate(
    tmp_path: Path, mock_server: MockProcess, browser: Any
) -> None:
    """The start dialog's llm-rate makes the test open loop; the user count is the pool."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["-f", str(USER_LOCUSTFILE), "--host", mock_server.url]
    args += ["--web-host", "127.0.0.1", "--web-port", str(port)]
    with _locust(*args, log=tmp_path / "locust.log"):
        _wait_for_ui(base)
        driver = browser
        driver.get(base + "/")
        _wait_until("the start dialog", lambda: driver.find_elements(By.NAME, "userCount"))
        driver.find_element(By.XPATH, "//button[normalize-space()='Custom parameters']").click()
        _wait_until(
            "the rate field",
            lambda: [e for e in driver.find_elements(By.NAME, "llmRate") if e.is_displayed()],
        )
        # llm-max-tokens too: the settings are read again when the test starts
        fields = {"llmRate": "4", "llmMaxTokens": "7", "userCount": "8", "spawnRate": "8"}
        _start_and_open_llm_tab(driver, fields)

        def open_loop_line() -> str | None:
            try:
                _, body = _rendered_table(driver)
            except (StaleElementReferenceException, WebDriverException):
                return None
            lines = [cells[0] for cells in body if cells and cells[0].startswith("▶ open loop")]
            return lines[0] if lines and "sent of" in lines[0] else None

        line = _wait_until("the open-loop line", open_loop_line)
        assert "offered 4/s" in line, line
        assert "at most 8 in flight" in line, line
        summary = _get_json(f"{base}/llm/summary.json")
        assert summary["run"]["load"]["kind"] == "open"
        assert summary["run"]["load"]["max_in_flight"] == 8
        stream = summary["modes"]["stream"]
        assert stream["output_tokens"] == 7 * (
            stream["requests"] - stream["outcomes"].get("cancelled", 0)
        )


# --- the JSON endpoint --------------------------------------------------------------------------


def test_llm_stats_on_a_master_with_two_workers_counts_every_request_the_workers_sent(
    tmp_path: Path,
) -> None:
    master_port, web_port = _free_port(), _free_port()
    base = f"http://127.0.0.1:{web_port}"
    key_env = {"OPENAI_API_KEY": CANARY}
    with contextlib.ExitStack() as stack:
        mock = stack.enter_context(run_mock("--ttft", "50ms", "--itl", "10ms", "--tokens", "16"))
        common = ["-f", str(USER_LOCUSTFILE)]
        stack.enter_context(
            _locust(
                *common, "--master", "--master-bind-host", "127.0.0.1",
                "--master-bind-port", str(master_port), "--web-host", "127.0.0.1",
                "--web-port", str(web_port), "--host", mock.url, "--stop-timeout", "5",
                log=tmp_path / "master.log", env=key_env,
            )
        )  # fmt: skip
        for i in range(2):
            stack.enter_context(
                _locust(
                    *common, "--worker", "--master-host", "127.0.0.1",
                    "--master-port", str(master_port),
                    log=tmp_path / f"worker{i}.log", env=key_env,
                )
            )  # fmt: skip
        _wait_for_ui(base)
        _wait_until("two workers", lambda: _get_json(base + "/llm/stats").get("worker_count") == 2)
        form = urllib.parse.urlencode({"user_count": 8, "spawn_rate": 8, "host": mock.url})
        urllib.request.urlopen(base + "/swarm", data=form.encode(), timeout=5).read()

        def both_modes_running() -> dict[str, Any] | None:
            live: dict[str, Any] = _get_json(base + "/llm/stats")
            modes = live["summary"]["modes"]
            if all(modes.get(m, {}).get("requests", 0) >= 20 for m in ("stream", "batch")):
                return live
            return None

        live = _wait_until("figures for both modes from the workers", both_modes_running)
        assert live["state"] == "running"
        assert live["worker_count"] == 2
        assert live["first_visible_speedup"] > 1.5  # batch waits ~4x longer than the first token
        assert "sooner" in live["headline"]
        urllib.request.urlopen(base + "/stop", data=b"", timeout=5).read()
        _wait_until("the run to stop", lambda: _get_json(base + "/llm/stats")["state"] == "stopped")

        def settled() -> tuple[dict[str, Any], dict[str, int]] | None:
            # the workers' last reports arrive before they say they stopped; poll briefly anyway
            final: dict[str, Any] = _get_json(base + "/llm/stats")
            received = counts_by_mode(mock.stats())
            counted = {m: f["requests"] for m, f in final["summary"]["modes"].items()}
            return (final, received) if counted == received else None

        with contextlib.suppress(pytest.fail.Exception):
            _wait_until("the merged counts to match the mock's", settled, timeout=10)
        final = _get_json(base + "/llm/stats")
        received = counts_by_mode(mock.stats())
        locust_rows = {row["name"]: row for row in _get_json(base + "/stats/requests")["stats"]}
        csv_text = _get(base + "/llm/stats/csv")
        for text in (json.dumps(final), csv_text, _get(base + "/stats/requests")):
            _assert_no_secret("the master's endpoints", text)

    modes = final["summary"]["modes"]
    assert set(modes) == {"stream", "batch"}
    for mode in ("stream", "batch"):
        figures = modes[mode]
        assert figures["requests"] == received[mode], (mode, figures["requests"], received)
        assert figures["outcomes"] == {"ok": figures["requests"]}
        assert locust_rows[f"{mode} e2e"]["num_requests"] == figures["requests"]
        assert figures["e2e_s"]["count"] == figures["requests"]
        assert figures["first_visible_s"]["count"] == figures["requests"]
    assert abs(modes["stream"]["ttft_s"]["p50"] - 0.050) < 0.005
    assert modes["stream"]["ttft_s"]["count"] == modes["stream"]["requests"]
    assert final["load_generator"]["loop_lag_p99_s"] is not None  # merged from the workers
    table = _table(final["table"])
    assert table["requests", "mock-llm"]["stream"] == f"{modes['stream']['requests']:,}"
    assert table["requests", "mock-llm"]["batch"] == f"{modes['batch']['requests']:,}"
    assert csv_text.splitlines()[0].startswith("mode,model,requests,failed,first_visible_p50_s")
    assert len(csv_text.splitlines()) == 3  # header, stream, batch


# --- the warning, models, login -------------------------------------------------------------


SATURATING_LOCUSTFILE = '''
import time
from locust import User, constant, task
from harness.users import BatchUser, StreamingUser

class LoopHog(User):
    """Holds the gevent loop 150 ms at a time, as an overloaded load generator would."""
    wait_time = constant(0.05)

    @task
    def hog(self):
        t = time.perf_counter()
        while time.perf_counter() - t < 0.15:
            pass
'''


def test_the_tab_warns_while_the_load_generator_is_saturated(tmp_path: Path) -> None:
    locustfile = tmp_path / "saturating.py"
    locustfile.write_text(SATURATING_LOCUSTFILE)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with run_mock("--ttft", "20ms", "--itl", "5ms", "--tokens", "8") as mock:
        args = ["-f", str(locustfile), "--host", mock.url, "--autostart", "-u", "3", "-r", "3"]
        args += ["--web-host", "127.0.0.1", "--web-port", str(port)]
        with _locust(*args, log=tmp_path / "locust.log"):
            _wait_for_ui(base)
            live = _wait_until(
                "the saturation verdict",
                lambda: (d := _get_json(base + "/llm/stats"))["load_generator"]["saturated"] and d,
            )
            rows = _get_json(base + "/stats/requests")["extended_stats"]
    assert live["load_generator"]["recent_loop_lag_p99_s"] > 0.020
    assert live["table"][0]["figure"].startswith("⚠ The load generator is saturated")
    [tab] = [entry for entry in rows if entry["key"] == "llm"]
    assert tab["data"][0]["figure"].startswith("⚠ The load generator is saturated")


TWO_MODELS_LOCUSTFILE = """
from harness import users  # not the classes themselves: Locust would run them too

class SmallStream(users.StreamingUser):
    model = "m-small"

class LargeStream(users.StreamingUser):
    model = "m-large"

class SmallBatch(users.BatchUser):
    model = "m-small"

class LargeBatch(users.BatchUser):
    model = "m-large"
"""


def test_the_tab_compares_the_modes_per_model_and_for_all_models(tmp_path: Path) -> None:
    locustfile = tmp_path / "two_models.py"
    locustfile.write_text(TWO_MODELS_LOCUSTFILE)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with run_mock("--ttft", "30ms", "--itl", "5ms", "--tokens", "8") as mock:
        args = ["-f", str(locustfile), "--host", mock.url, "--autostart", "-u", "4", "-r", "4"]
        args += ["--web-host", "127.0.0.1", "--web-port", str(port)]
        with _locust(*args, log=tmp_path / "locust.log"):
            _wait_for_ui(base)

            def all_groups_have_requests() -> dict[str, Any] | None:
                live: dict[str, Any] = _get_json(base + "/llm/stats")
                modes = live["summary"]["modes"]
                for mode in ("stream", "batch"):
                    per_model = modes.get(mode, {}).get("models", {})
                    if any(
                        per_model.get(m, {}).get("requests", 0) < 3 for m in ("m-large", "m-small")
                    ):
                        return None
                return live

            live = _wait_until("requests in every (mode, model)", all_groups_have_requests)
            csv_rows = _get(base + "/llm/stats/csv").splitlines()[1:]
    assert live["models"] == {"stream": ["m-large", "m-small"], "batch": ["m-large", "m-small"]}
    table = _table(live["table"])
    for model in ("all models", "m-large", "m-small"):
        assert _TRIPLE.match(table["TTFT p50 / p95 / p99", model]["stream"])
        assert _TRIPLE.match(table["E2E p50 / p95 / p99", model]["batch"])
    modes = live["summary"]["modes"]
    for mode in ("stream", "batch"):
        total = modes[mode]["requests"]
        parts = [modes[mode]["models"][m]["requests"] for m in ("m-large", "m-small")]
        assert table["requests", "all models"][mode] == f"{total:,}"
        assert table["requests", "m-small"][mode] == f"{parts[1]:,}"
    headlines = [
        r["model"] for r in live["table"] if "Streaming shows the first token" in r["figure"]
    ]
    assert headlines == ["all models", "m-large", "m-small"]
    assert sorted(row.split(",")[:2] for row in csv_rows) == sorted(
        [mode, model]
        for mode in ("stream", "batch")
        for model in ("all models", "m-large", "m-small")
    )


LOGIN_LOCUSTFILE = """
from locust import events
from harness.users import BatchUser, StreamingUser

@events.init.add_listener
def _login(environment, web_ui=None, **_):
    if web_ui is not None:
        web_ui.app.secret_key = "test-only"
        web_ui.login_manager.user_loader(lambda user_id: None)  # nobody is logged in
"""


def test_llm_routes_require_login_when_the_web_ui_does(tmp_path: Path) -> None:
    locustfile = tmp_path / "login.py"
    locustfile.write_text(LOGIN_LOCUSTFILE)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["-f", str(locustfile), "--host", "http://127.0.0.1:9/v1", "--web-login"]
    args += ["--web-host", "127.0.0.1", "--web-port", str(port)]
    with _locust(*args, log=tmp_path / "locust.log"):
        _wait_for_ui(base)
        assert _status(base + "/stats/requests")[0] == 302  # Locust's own route, for reference
        for path in ("/llm/stats", "/llm/summary.json", "/llm/summary.md", "/llm/stats/csv"):
            status, location = _status(base + path)
            assert (status, urllib.parse.urlsplit(location).path) == (302, "/login"), path


def test_the_tab_shows_every_target_side_by_side(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with (
        run_mock("--ttft", "30ms", "--itl", "5ms", "--tokens", "8") as fast,
        run_mock("--ttft", "120ms", "--itl", "5ms", "--tokens", "8") as slow,
    ):
        targets = f"fast={fast.url},slow={slow.url}"
        args = ["-f", str(USER_LOCUSTFILE), "--llm-targets", targets, "--autostart", "-u", "4"]
        args += ["-r", "4", "--web-host", "127.0.0.1", "--web-port", str(port)]
        with _locust(*args, log=tmp_path / "locust.log"):
            _wait_for_ui(base)

            def every_target_has_requests() -> dict[str, Any] | None:
                live: dict[str, Any] = _get_json(base + "/llm/stats")
                targets = live["summary"].get("targets") or {}
                for name in ("fast", "slow"):
                    modes = targets.get(name, {}).get("modes", {})
                    if any(modes.get(m, {}).get("requests", 0) < 12 for m in ("stream", "batch")):
                        return None
                return live

            live = _wait_until("requests to every target", every_target_has_requests)
            csv_rows = _get(base + "/llm/stats/csv").splitlines()
    table = _table(live["table"])
    for name in ("fast", "slow"):
        assert _TRIPLE.match(table["TTFT p50 / p95 / p99", name]["stream"])
        assert _TRIPLE.match(table["E2E p50 / p95 / p99", name]["batch"])
    assert _first_ms(table["TTFT p50 / p95 / p99", "fast"]["stream"]) < 60
    assert _first_ms(table["TTFT p50 / p95 / p99", "slow"]["stream"]) > 100
    assert any("fast has the lower stream TTFT p50" in line for line in live["targets_headline"]), (
        live["targets_headline"]
    )
    assert "target" in csv_rows[0].split(",")
    assert {row.split(",")[csv_rows[0].split(",").index("target")] for row in csv_rows[1:]} >= {
        "fast",
        "slow",
    }


def test_the_tab_shows_the_server_s_own_view_while_the_test_runs(
    tmp_path: Path, browser: Any
) -> None:
    """With `--llm-metrics-url` at a fresh mock's vLLM-shaped /metrics, a real browser's LLM
    tab shows, while the test runs, the server's heading row, client − server TTFT per mode
    (loopback's: a few ms at most) and the server's queue and gauges."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with run_mock("--ttft", "50ms", "--itl", "5ms", "--tokens", "8") as mock:
        args = ["-f", str(USER_LOCUSTFILE), "--host", mock.url, "--autostart", "-u", "2"]
        args += ["-r", "2", "--web-host", "127.0.0.1", "--web-port", str(port)]
        args += ["--llm-metrics-url", mock.origin + "/metrics", "--llm-metrics-interval", "0.5s"]
        with _locust(*args, log=tmp_path / "locust.log"):
            _wait_for_ui(base)
            driver = browser
            driver.get(base + "/?tab=llm")

            def server_rows() -> dict[str, list[str]] | None:
                try:
                    _, body = _rendered_table(driver)
                except (StaleElementReferenceException, WebDriverException):
                    return None
                rows = {cells[0]: cells[2:] for cells in body if len(cells) == 4}
                split = [f for f in rows if f.startswith("client − server TTFT mean")]
                return rows if split and rows[split[0]][0] else None

            rows = _wait_until("the server's rows in the LLM tab", server_rows, timeout=60)
            live = _get_json(base + "/llm/stats")
    assert f"server: vLLM at {mock.origin}/metrics" in " ".join(rows)
    [split] = [cells for f, cells in rows.items() if f.startswith("client − server TTFT mean")]
    assert split[1] == ""  # a batch client sees no first token
    assert re.fullmatch(r"[+−]\d+\.\d+ ms", split[0]), split
    assert _first_ms(split[0].lstrip("+−")) < 10.0, split
    assert any(f.startswith("server: its queue mean") for f in rows), list(rows)
    assert any(f.startswith("server: running requests") for f in rows), list(rows)
    assert live["summary"]["server"]["engine"] == "vllm"
