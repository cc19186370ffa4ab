"""Fixtures the browser tests share (tests/test_site.py, tests/test_tryit.py): one quick
site build per session, a local HTTP server on it, one Chromium.

`chromium_path` skips, with the reason, when no `chromium` is installed, except under
GLOW_TTS_REQUIRE_BROWSER=1 (set by .ci/run), where a missing browser fails. The site is
built once (GLOW_TTS_QUICK=1, into a temporary folder) by tools/build_book.py, as
`make book` builds it.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from browser_support import BUILD_TIMEOUT_S, CHROMIUM_ARGS

REPO = Path(__file__).resolve().parent.parent


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = ("no `chromium` on PATH: install Debian's chromium "
                   "(apt-get install -y chromium) to run the browser test")
        if os.environ.get("GLOW_TTS_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " (GLOW_TTS_REQUIRE_BROWSER=1: the browser test must run)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return _chromium()


@pytest.fixture(scope="session")
def site(tmp_path_factory, chromium_path) -> Path:
    dest = tmp_path_factory.mktemp("site")
    env = dict(os.environ, GLOW_TTS_QUICK="1")
    # Its own process group, so that a timeout also ends the kernels it started.
    process = subprocess.Popen([sys.executable, str(REPO / "tools" / "build_book.py"),
                                "--quick", "--dest", str(dest)], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"the quick book build took over {BUILD_TIMEOUT_S} s:\n{output[-6000:]}")
    assert process.returncode == 0, f"the book build failed:\n{output[-8000:]}"
    return dest


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep pytest's output readable
        pass


@pytest.fixture(scope="session")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def browser_context(chromium_path, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900})
        yield context
        context.close()
