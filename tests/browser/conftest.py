"""Fixtures for the dashboard tests: the interop suite's servers and MCP client, and a real
headless Chromium (Debian's `chromium`) driven by Selenium through Debian's `chromium-driver`."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

# The interop suite's fixtures (the real binary, the official MCP client, the check that
# no process outlives the run), loaded under a name of their own.
_spec = importlib.util.spec_from_file_location(
    "interop_conftest", Path(__file__).resolve().parents[1] / "interop" / "conftest.py")
assert _spec and _spec.loader
interop = importlib.util.module_from_spec(_spec)
sys.modules["interop_conftest"] = interop
_spec.loader.exec_module(interop)

anyio_backend = interop.anyio_backend
make_server = interop.make_server
no_process_left_behind = interop.no_process_left_behind

INSTALL = "sudo apt-get install chromium chromium-driver"

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
except ImportError as e:  # pragma: no cover - the message is the point
    raise RuntimeError(
        "the browser tests need Selenium (PyPI package `selenium`): run ./scripts/test, or "
        "`.venv/bin/pip install -r tests/browser/requirements.txt`") from e


def chromium_paths() -> tuple[str, str]:
    """Debian's chromium and chromedriver, or a failure naming the package to install."""
    browser = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if not browser:
        pytest.fail(f"the dashboard tests need Debian's chromium (package chromium). Install it with: {INSTALL}",
                    pytrace=False)
    if not driver:
        pytest.fail(f"the dashboard tests need chromedriver (package chromium-driver). Install it with: {INSTALL}",
                    pytrace=False)
    return browser, driver


@pytest.fixture
def browser():
    """A headless Chromium, quit (with its driver) when the test ends."""
    binary, driver_path = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
                # WebGL in software: headless Chromium on a machine with no GPU.
                "--use-angle=swiftshader", "--enable-unsafe-swiftshader"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()
