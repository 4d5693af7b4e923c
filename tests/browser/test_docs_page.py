"""/docs in headless Chromium with every host but loopback unreachable: Swagger UI loads from
the app's own assets, lists the operations and their parameters, and "Try it out" calls the
running server."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from tornado.ioloop import IOLoop
from tornado.websocket import WebSocketClientConnection, websocket_connect

from tests.support.http import api_is_up, call, free_port
from tests.support.services import on_ci
from tests.support.stack import TALLY, Process, Stack, running, start_worker, wait_until

TOKEN = "docs-admin-token"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if on_ci():
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed (Debian package chromium)")
    return found


class DevTools:
    """Just enough of the Chrome DevTools protocol: evaluate JavaScript in the page."""

    def __init__(self, url: str) -> None:
        self.loop = IOLoop()
        self.ids = count(1)
        self.socket: WebSocketClientConnection = self.loop.run_sync(
            lambda: websocket_connect(url, max_message_size=64 * 1024 * 1024), timeout=10
        )

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self.ids)

        async def exchange() -> dict[str, Any]:
            await self.socket.write_message(
                json.dumps({"id": message_id, "method": method, "params": params})
            )
            while True:
                raw = await self.socket.read_message()
                assert raw is not None, "the browser closed the connection"
                message = json.loads(raw)
                if message.get("id") == message_id:
                    return message

        reply = self.loop.run_sync(exchange, timeout=30)
        assert "error" not in reply, reply
        return reply["result"]  # type: ignore[no-any-return]

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        raise TimeoutError(expression)

    def close(self) -> None:
        self.socket.close()
        self.loop.close()


def page_socket(port: int) -> str:
    def target() -> str | None:
        try:
            pages = call("GET", f"http://127.0.0.1:{port}/json/list")[2]
        except OSError:
            return None
        return next((p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page"), None)

    return wait_until(target, timeout=30)  # type: ignore[no-any-return]


def test_swagger_ui_works_offline_and_tries_an_operation(
    sqlite_stack: Stack, tmp_path: Path
) -> None:
    browser = chromium()
    port, debug_port = free_port(), free_port()
    env = sqlite_stack.env() | {"TALLY_ADMIN_TOKEN": TOKEN}
    base = f"http://127.0.0.1:{port}"
    command = [*TALLY, "serve", "--port", str(port), "--workers", "1"]
    with (
        running(Process("serve", command, env, sqlite_stack.workdir)) as serve,
        running(start_worker(sqlite_stack)),
    ):
        wait_until(lambda: api_is_up(base), timeout=30, message=lambda: serve.output()[-2000:])
        # The first admin is in the directory once the worker has projected it.
        wait_until(lambda: call("GET", f"{base}/api/v1/me", TOKEN)[0] == 200, timeout=30)
        chrome = subprocess.Popen(
            [
                browser,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                f"--user-data-dir={tmp_path / 'profile'}",
                f"--remote-debugging-port={debug_port}",
                # Every host but 127.0.0.1 fails to resolve: only the app answers.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--window-size=1280,2000",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        tools = None
        try:
            tools = DevTools(page_socket(debug_port))
            tools.send("Page.enable")
            tools.send("Page.navigate", url=f"{base}/docs")
            tools.wait_for("document.querySelectorAll('.opblock').length > 40")
            listed = tools.evaluate(
                "[...document.querySelectorAll('.opblock-summary-path')].map(e => e.innerText)"
            )
            assert {"/api/v1/me", "/api/v1/time-entries", "/api/v1/reports/revenue"} <= {
                path.replace("\u200b", "") for path in listed
            }
            tools.evaluate("ui.preauthorizeApiKey('bearer', " + json.dumps(TOKEN) + ")")
            opened = tools.evaluate(
                """(() => {
                  const block = document.querySelector('#operations-lookups-get_api_v1_me')
                    || [...document.querySelectorAll('.opblock')].find(
                         b => b.querySelector('.opblock-summary-path')
                              .innerText.replace(/\\u200b/g, '') === '/api/v1/me');
                  (block.querySelector('.opblock-summary-control')
                    || block.querySelector('.opblock-summary')).click();
                  return block.id;
                })()"""
            )
            block = f"document.getElementById({json.dumps(opened)})"
            tools.wait_for(f"{block}.querySelector('.try-out__btn') !== null")
            assert tools.evaluate(f"{block}.innerText.includes('min_position')")
            tools.evaluate(f"{block}.querySelector('.try-out__btn').click()")
            tools.wait_for(f"{block}.querySelector('.execute') !== null")
            tools.evaluate(f"{block}.querySelector('.execute').click()")
            status = tools.wait_for(
                f"(() => {{ const c = {block}.querySelector('.live-responses-table "
                ".response .response-col_status'); return c && c.innerText.trim(); })()"
            )
            assert status.startswith("200"), status
            body = tools.evaluate(f"{block}.querySelector('.live-responses-table').innerText")
            assert "Tally" in body and "admin" in body
            screenshot = tools.send("Page.captureScreenshot", format="png", quality=50)
            assert len(screenshot["data"]) > 1000
        finally:
            if tools is not None:
                tools.close()
            chrome.terminate()
            chrome.wait(timeout=15)
