"""JupyterLab in headless Chromium for the browser tests: a Lab server started the way
``make lab`` starts it (the project's ``lab/`` configuration), on a copy of the
released notebooks, and a Playwright page that can run commands in it.

Chromium is Debian's (``.ci/system-deps`` installs it); Playwright drives it and never
downloads a browser of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def why_unavailable() -> str:
    if not Path(CHROMIUM).exists():
        return "no Chromium at /usr/bin/chromium (Debian: apt-get install chromium; see .ci/system-deps)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Python playwright is not installed (pip install -e '.[dev]')"
    return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    def __init__(self, root: Path, url: str, log: Path, proc: subprocess.Popen):
        self.root, self.url, self.log, self.proc = root, url, log, proc

    def server_log(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def lab_server(notebooks: Path, workdir: Path) -> Iterator[Lab]:
    """``make lab`` on a copy of ``notebooks`` (in ``workdir``), headless, on a free port."""
    root = workdir / "notebooks"
    if not root.exists():
        shutil.copytree(notebooks, root)
    port, token = _free_port(), secrets.token_hex(16)
    log = workdir / "lab.log"
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(REPO / "lab"),
           "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"), "HOME": str(workdir / "home")}
    (workdir / "home").mkdir(exist_ok=True)
    env.pop("MLCOURSE_DB_URL", None)
    cmd = [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--notebook-dir={root}",
           "--LabApp.expose_app_in_browser=True", "--ServerApp.ip=127.0.0.1"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")
        yield Lab(root, f"{url}/lab?token={token}", log, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def open_notebook(page, lab: Lab, relpath: str, timeout: float = 60_000) -> None:
    """Open ``relpath`` alone in a fresh Lab workspace and wait until its kernel is idle."""
    workspace = "".join(ch for ch in relpath if ch.isalnum())
    page.goto(lab.url.replace("/lab?", f"/lab/workspaces/{workspace}/tree/{relpath}?reset&"))
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
                           " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
                           timeout=timeout)


def command(page, name: str, args: dict | None = None):
    return page.evaluate("([n, a]) => window.jupyterapp.commands.execute(n, a)", [name, args or {}])


IDLE = ("() => { const w = window.jupyterapp.shell.currentWidget;"
        " return w.sessionContext.session.kernel.status === 'idle' &&"
        " !w.content.widgets.some(c => c.model.type === 'code' && c.promptNode &&"
        " c.promptNode.textContent.includes('*')); }")


RAN = ("() => window.jupyterapp.shell.currentWidget.content.widgets"
       ".filter(c => c.model.type === 'code' && c.model.executionCount !== null).length")


LAST_RAN = ("() => { const c = window.jupyterapp.shell.currentWidget.content.widgets"
            ".filter(c => c.model.type === 'code'); return c.length > 0 &&"
            " c[c.length - 1].model.executionCount !== null; }")


def wait_idle(page, timeout: float = 300_000, quiet_s: int = 15) -> None:
    """Until the last code cell has run and the kernel is idle; or, when Run All stopped
    early, until nothing has changed for ``quiet_s`` seconds (Lab sends a queued cell only
    once the one before has replied, and a busy browser can take seconds in between)."""
    deadline = time.monotonic() + timeout / 1000
    quiet, last = 0, None
    while time.monotonic() < deadline:
        idle = page.evaluate(IDLE)
        if idle and page.evaluate(LAST_RAN):
            return
        ran = page.evaluate(RAN)
        quiet = quiet + 1 if idle and ran == last else 0
        if quiet >= quiet_s:
            return
        last = ran
        page.wait_for_timeout(1000)
    raise TimeoutError("the notebook kept running")


def run_all(page, timeout: float = 300_000) -> dict:
    """Run All, wait for the kernel to finish, and report what ran."""
    command(page, "notebook:run-all-cells")
    # Until the first code cell has run or is queued: the command returns before that.
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.content.widgets.some(c =>"
        " c.model.type === 'code' && (c.model.executionCount !== null ||"
        " (c.promptNode && c.promptNode.textContent.includes('*'))))", timeout=60_000)
    wait_idle(page, timeout)
    return page.evaluate(
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " const cells = w.content.widgets.filter(c => c.model.type === 'code');"
        " return {code: cells.length,"
        " ran: cells.filter(c => c.model.executionCount !== null).length,"
        " last: cells.length ? cells[cells.length-1].model.executionCount : null,"
        " errors: cells.map((c, i) => [i, c.model.outputs.toJSON().filter(o => o.output_type === 'error')"
        "   .map(o => o.ename + ': ' + String(o.evalue).slice(0, 200))]).filter(x => x[1].length),"
        " images: w.node.querySelectorAll('.jp-RenderedImage img').length}; }")


def json_dump(obj) -> str:
    return json.dumps(obj, indent=1)


@contextlib.contextmanager
def offline_page(b, width: int = 1200, height: int = 900) -> Iterator[tuple]:
    """A page with the network blocked: every request that is not for a local file (or
    inline ``data:``) is aborted and recorded. Yields ``(page, outside)``, ``outside``
    being the list of URLs the page tried to reach."""
    context = b.new_context(offline=True, viewport={"width": width, "height": height})
    outside: list[str] = []

    def gate(route) -> None:
        url = route.request.url
        if url.startswith(("file://", "data:", "blob:", "about:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", gate)
    page = context.new_page()
    page.on("requestfailed", lambda r: None)
    try:
        yield page, outside
    finally:
        context.close()
