"""Real headless chromium (Debian's `chromium` and `chromium-driver`) driven by selenium.

    with chromium() as driver:
        driver.get(url)

No network: the browser is started with a proxy that points nowhere, so a page that fetched
anything from outside would fail to load it; `network_requests(driver)` lists what it fetched.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--proxy-server=http://127.0.0.1:9",  # nothing listens there: any off-machine fetch fails (loopback bypasses it)
    ):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def network_requests(driver: Any) -> list[str]:
    """Every URL the browser requested since the last call (from the performance log)."""
    import json

    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


@contextmanager
def served(folder: Any) -> Iterator[str]:
    """The inspector's real HTTP server on a free loopback port for `folder`; yields its URL."""
    import threading
    from pathlib import Path

    from eval.inspector.app import Inspector
    from eval.inspector.server import make_server, url_of

    server = make_server(Inspector(Path(folder)), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url_of(server)
    finally:
        server.shutdown()
        server.server_close()


def screenshot_is_drawn(driver: Any, path: Any, min_size: tuple[int, int] = (800, 600)) -> tuple[int, int]:
    """Save a screenshot to `path`; assert it is at least `min_size` and not one flat colour. Its size."""
    from PIL import Image, ImageStat

    assert driver.save_screenshot(str(path)), "no screenshot was written"
    with Image.open(path) as image:
        size = image.size
        stat = ImageStat.Stat(image.convert("L"))
        colours = len(image.convert("RGB").getcolors(maxcolors=1 << 20) or [])
    assert size[0] >= min_size[0] and size[1] >= min_size[1], f"screenshot is only {size}"
    assert stat.stddev[0] > 10 and colours > 20, (
        f"the page looks blank (stddev {stat.stddev[0]:.1f}, {colours} colours)"
    )
    return size


def assert_no_alert(driver: Any) -> None:
    """No JavaScript dialog is open (an injected `alert(1)` would have opened one)."""
    from selenium.common.exceptions import NoAlertPresentException

    try:
        text = driver.switch_to.alert.text
    except NoAlertPresentException:
        return
    raise AssertionError(f"an alert fired: {text!r}")
