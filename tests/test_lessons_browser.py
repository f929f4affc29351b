"""Lessons in a real browser: JupyterLab on 127.0.0.1, headless Chromium driven by Playwright.

For each lesson of ``BROWSER_LESSONS`` the test opens the notebook in JupyterLab, runs all cells,
then moves every widget control of the lesson's picture (each slider by the keyboard, each
dropdown to another option, each toggle button by a click) and checks that the picture shown
changed after each move, that no cell shows an error, and that the picture is shown at the size
it was drawn. Screenshots go to ``$MINIOPTIM_ARTIFACTS/browser/`` (default: ``test-artifacts/``
in the repository, git-ignored).

The server runs on a free port with no token, in a temporary folder holding a copy of the
lessons, with Jupyter's folders in the temporary folder too; it is stopped by its process id.
Chromium is Debian's (``/usr/bin/chromium``, or ``$MINIOPTIM_CHROMIUM``): Playwright's own browser
download cannot be used here. Without Chromium, Playwright or JupyterLab the test is skipped,
unless ``MINIOPTIM_BROWSER_TESTS=required`` (``.ci/run`` sets it, after installing Chromium), which
makes a missing piece a failure.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from checkout import need

need("lessons", module=True)

REPO = Path(__file__).resolve().parents[1]
LESSONS = REPO / "lessons"
BROWSER_LESSONS = ["00_autodiff_from_scratch.ipynb", "01_scale_freeness.ipynb",
                   "02_weight_decay_proximal.ipynb", "04_relaxed_smoothness.ipynb"]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
RUN_TIMEOUT = 180      # seconds for a lesson's cells in the browser
CHANGE_TIMEOUT = 60    # seconds for the picture to change after a control moved


def _missing(what: str):
    if os.environ.get("MINIOPTIM_BROWSER_TESTS") == "required":
        pytest.fail(f"browser test required but {what}", pytrace=False)
    pytest.skip(what)


def _chromium() -> str:
    path = os.environ.get("MINIOPTIM_CHROMIUM") or shutil.which("chromium") or \
        shutil.which("chromium-browser")
    if not path:
        _missing("no Chromium (Debian: apt-get install chromium; or set MINIOPTIM_CHROMIUM)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 serving a copy of the lessons: its base URL."""
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        _missing("JupyterLab is not installed (pip install -e '.[dev]')")
    from ipykernel.kernelspec import write_kernel_spec

    tmp = tmp_path_factory.mktemp("jupyterlab")
    root = tmp / "lessons"
    shutil.copytree(LESSONS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update({"JUPYTER_CONFIG_DIR": str(tmp / "config"), "JUPYTER_DATA_DIR": str(tmp / "data"),
                "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"), "IPYTHONDIR": str(tmp / "ipython"),
                "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
                "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
                "MPLBACKEND": "module://matplotlib_inline.backend_inline",
                "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH"))
                                              if p)})
    write_kernel_spec(Path(env["JUPYTER_DATA_DIR"]) / "kernels" / "python3")
    # no "get Jupyter news?" or "a newer version" toast over the screenshots
    settings = tmp / "settings" / "@jupyterlab"
    (settings / "apputils-extension").mkdir(parents=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}')
    # every cell in the page: windowing (the default of some 4.x releases) leaves cells outside
    # the viewport out of the page, the widget's picture among them
    (settings / "notebook-extension").mkdir(parents=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        '{"windowingMode": "none"}')
    port = _free_port()
    log = open(tmp / "server.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", "--ServerApp.token=", "--ServerApp.password=",
         "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", "--ServerApp.port_retries=0",
         # CI machines run as root: the server is on loopback, in a temporary folder
         *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited ({server.returncode}):\n"
                            f"{(tmp / 'server.log').read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not answer within 120 s:\n"
                                f"{(tmp / 'server.log').read_text()[-4000:]}")
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()                          # by its process id
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS,
                                     headless=True)
        yield chromium
        chromium.close()


def _artifacts() -> Path:
    folder = Path(os.environ.get("MINIOPTIM_ARTIFACTS") or REPO / "test-artifacts") / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# JavaScript run in the page: JupyterLab's app object (exposed by --LabApp.expose_app_in_browser)
_RUN_ALL = "() => window.jupyterapp.commands.execute('notebook:run-all-cells')"
_BUSY = """() => {
    const notebook = window.jupyterapp.shell.currentWidget.node;
    const prompts = [...notebook.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
    return prompts.filter(p => !/\\[\\d+\\]/.test(p.textContent)).length;
}"""
_IDLE = """() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status
    === 'idle'"""
# JupyterLab may leave cells outside the viewport unrendered (its notebook windowing): bring the
# picture into view before measuring it
_SHOW = """() => {
    const images = [...document.querySelectorAll('.jp-OutputArea-output .widget-image')];
    const img = images[images.length - 1];
    if (!img) return false;
    img.scrollIntoView({block: 'center'});
    return img.clientWidth > 0;
}"""
_PICTURE = """() => {
    const images = [...document.querySelectorAll('.jp-OutputArea-output .widget-image')];
    const img = images[images.length - 1];
    if (!img || !img.src) return null;
    return {src: img.src, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight,
            shownWidth: img.clientWidth, shownHeight: img.clientHeight};
}"""


def _wait(page, what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        page.wait_for_timeout(250)
    pytest.fail(f"{what} (waited {timeout} s)", pytrace=False)


def _controls(page):
    """The widget controls in the last output that holds the picture's box."""
    box = page.locator(".jp-OutputArea-output .widget-box:has(.widget-image)").last
    return {"sliders": box.locator(".widget-slider .noUi-handle, .widget-hslider .noUi-handle"),
            "dropdowns": box.locator(".widget-dropdown select"),
            "toggles": box.locator(".widget-toggle-buttons button")}


@pytest.mark.parametrize("name", BROWSER_LESSONS)
def test_lesson_runs_and_its_widgets_redraw_in_a_real_browser(name, jupyterlab, browser,
                                                              backend_name):
    first = os.environ.get("MINIOPTIM_BACKEND") or "numpy"
    if backend_name != first:
        pytest.skip("the lesson runs in its own kernel; checked once, on the first backend's run")
    shots = _artifacts()
    stem = Path(name).stem
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        # ?reset: a fresh workspace, not the tabs the previous lesson left open
        page.goto(f"{jupyterlab}/lab/tree/{name}?reset", timeout=120_000)
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                               " && window.jupyterapp.shell.currentWidget.sessionContext"
                               " && window.jupyterapp.shell.currentWidget.sessionContext"
                               ".session && window.jupyterapp.shell.currentWidget"
                               ".sessionContext.session.kernel", timeout=120_000)
        page.wait_for_function(_IDLE, timeout=120_000)
        page.evaluate(_RUN_ALL)
        page.wait_for_timeout(1000)
        _wait(page, f"{name}: the cells did not all finish",
              lambda: page.evaluate(_BUSY) == 0 and page.evaluate(_IDLE), RUN_TIMEOUT)
        page.screenshot(path=str(shots / f"{stem}-run.png"), full_page=True)

        failed = page.locator(".jp-OutputArea-output[data-mime-type="
                              "'application/vnd.jupyter.error']")
        if failed.count():
            pytest.fail(f"{name}: a cell shows an error:\n{failed.first.inner_text()[:3000]}",
                        pytrace=False)
        picture = _wait(page, f"{name}: no widget picture is shown",
                        lambda: page.evaluate(_SHOW) and page.evaluate(_PICTURE), CHANGE_TIMEOUT)
        # drawn at the size it is shown: no stretching, no blur
        assert (picture["width"], picture["height"]) == \
            (picture["shownWidth"], picture["shownHeight"]), picture

        controls = _controls(page)
        moves = []
        for i in range(controls["sliders"].count()):
            moves.append((f"slider {i}", lambda h=controls["sliders"].nth(i): (
                h.focus(), h.press("ArrowRight"), h.press("ArrowRight"))))
        for i in range(controls["dropdowns"].count()):
            def pick(select=controls["dropdowns"].nth(i)):
                options = select.locator("option").all_inner_texts()
                current = select.evaluate("s => s.options[s.selectedIndex].text")
                select.select_option(label=next(o for o in options if o != current))
            moves.append((f"dropdown {i}", pick))
        buttons = controls["toggles"]
        for i in range(buttons.count()):
            if "mod-active" not in (buttons.nth(i).get_attribute("class") or ""):
                moves.append((f"toggle {i}", buttons.nth(i).click))
        assert moves, f"{name}: no widget control found beside the picture"
        for label, move in moves:
            before = page.evaluate(_PICTURE)["src"]
            move()
            _wait(page, f"{name}: the picture did not change after moving {label}",
                  lambda: (page.evaluate(_PICTURE) or {}).get("src") not in (None, before),
                  CHANGE_TIMEOUT)
            # the last redraw is shown (kernel idle, image decoded) before the screenshot
            _wait(page, f"{name}: the kernel stayed busy after moving {label}",
                  lambda: page.evaluate(_IDLE) and page.evaluate(_PICTURE)["complete"],
                  CHANGE_TIMEOUT)
            page.screenshot(path=str(shots / f"{stem}-{label.replace(' ', '')}.png"))
        assert page.locator(".jp-OutputArea-output[data-mime-type="
                            "'application/vnd.jupyter.error']").count() == 0
        assert not errors, f"{name}: errors in the page: {errors[:3]}"
    finally:
        page.close()
