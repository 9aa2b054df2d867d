"""`swe-search inspect` in real headless chromium on a generated run folder (bench/inspector.py's
`make_folder`, the runner's file shapes): escaping, the static export from file://, a screenshot,
a run that is still going, read-only serving and the CLI's errors. The same checks on a real
testbed run and a real experiment: tests/e2e/test_inspector_testbed.py and test_testbed_experiment.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from bench.inspector import HOSTILE, make_folder
from tests.helpers.browser import assert_no_alert, chromium, network_requests, screenshot_is_drawn, served
from tests.helpers.commands import REPO, swe_search


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    """3 instances x 2 runs x 4 steps, K=3, with HOSTILE in an observation of every run."""
    return make_folder(
        tmp_path_factory.mktemp("inspect") / "run", instances=3, runs=2, steps=4, k=3, hostile=True
    )


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def test_script_in_an_observation_renders_as_text_and_no_alert_fires(hostile, tmp_path):
    with served(hostile) as url, chromium() as driver:
        driver.get(url + "i/bench__lib-0/run-0.html")
        assert_no_alert(driver)
        step = driver.find_element(By.ID, "step-1")
        assert HOSTILE in step.find_element(By.CSS_SELECTOR, ".observation").text
        scripts = [s.get_attribute("src") for s in driver.find_elements(By.TAG_NAME, "script")]
        assert scripts == [url + "static/inspector.js"], scripts
        screenshot_is_drawn(driver, tmp_path / "run.png")


def test_export_opens_from_file_with_no_network(hostile, tmp_path):
    before = snapshot(hostile)
    site = tmp_path / "site"
    done = swe_search("inspect", str(hostile), "--export", str(site))
    assert done.returncode == 0, done.stderr
    assert (site / "index.html").as_uri() in done.stdout
    assert snapshot(hostile) == before, "the export wrote into the run folder"
    with chromium() as driver:
        driver.get((site / "index.html").as_uri())
        rows = driver.find_elements(By.CSS_SELECTOR, "#instances tbody tr")
        errors = driver.find_elements(By.CSS_SELECTOR, "#errors tbody tr")
        assert len(rows) + len(errors) == 3
        driver.find_element(By.LINK_TEXT, "bench__lib-1").click()
        picked = json.loads((hostile / "trajectories/bench__lib-1/selection.json").read_text())["chosen"]
        assert driver.find_element(By.CSS_SELECTOR, "tr.picked").get_attribute("data-run") == str(picked)
        driver.find_element(By.LINK_TEXT, f"run {picked}").click()
        assert_no_alert(driver)
        assert driver.find_elements(By.CSS_SELECTOR, "#q-plot svg circle")
        body = driver.find_element(By.TAG_NAME, "body").value_of_css_property("background-color")
        assert "247, 248, 250" in body, f"the stylesheet did not load from file:// ({body})"
        fetched = network_requests(driver)
        assert fetched and all(u.startswith("file://") for u in fetched), fetched
        screenshot_is_drawn(driver, tmp_path / "export.png")


def test_overview_filters_and_sorts_and_counts_infra_errors_apart(tmp_path):
    folder = make_folder(tmp_path / "run", instances=52, runs=2, steps=2, k=2)
    done = json.loads((folder / "instances/bench__lib-49/done.json").read_text())
    assert done["status"] == "error"
    with served(folder) as url, chromium() as driver:
        driver.get(url)
        ids = [
            r.get_attribute("data-id") for r in driver.find_elements(By.CSS_SELECTOR, "#instances tbody tr")
        ]
        assert "bench__lib-49" not in ids and len(ids) == 51
        assert (
            driver.find_element(By.CSS_SELECTOR, "#errors tbody tr").get_attribute("data-id")
            == "bench__lib-49"
        )
        driver.find_element(By.ID, "filter").send_keys("lib-1")
        shown = [r for r in driver.find_elements(By.CSS_SELECTOR, "#instances tbody tr") if r.is_displayed()]
        assert {r.get_attribute("data-id") for r in shown} == {i for i in ids if "lib-1" in i}
        driver.find_element(By.ID, "filter").clear()
        driver.find_element(By.XPATH, "//th[text()='wall']").click()
        driver.find_element(By.XPATH, "//th[text()='wall']").click()  # descending
        walls = [
            float(r.find_elements(By.TAG_NAME, "td")[9].get_attribute("data-v"))
            for r in driver.find_elements(By.CSS_SELECTOR, "#instances tbody tr")
        ]
        assert walls == sorted(walls, reverse=True) and walls[0] > walls[-1]


def test_a_run_still_going_shows_what_landed_and_refreshes(tmp_path):
    folder = make_folder(tmp_path / "run", instances=2, runs=2, steps=3, k=2)
    done = folder / "instances/bench__lib-1/done.json"
    record = done.read_text()
    done.unlink()  # as while the instance runs: its trajectories have landed, its outcome has not
    traj = folder / "trajectories/bench__lib-1/run-1/trajectory.json"
    data = json.loads(traj.read_text())
    data["exit_status"], data["steps"] = None, data["steps"][:2]
    traj.write_text(json.dumps(data, indent=1))
    with served(folder) as url:
        overview = urllib.request.urlopen(url).read().decode()
        assert 'http-equiv="refresh"' in overview and 'data-id="bench__lib-1"' in overview
        assert ">running<" in overview
        page = urllib.request.urlopen(url + "i/bench__lib-1/run-1.html").read().decode()
        assert 'http-equiv="refresh"' in page and 'id="step-1"' in page and 'id="step-2"' not in page
        done.write_text(record)
        assert 'data-resolved="running"' not in urllib.request.urlopen(url).read().decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serves_on_loopback_only_and_says_so_on_bad_input(hostile, tmp_path):
    bad = swe_search("inspect", str(tmp_path / "nothing"))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "no such folder" in bad.stderr
    inside = swe_search("inspect", str(hostile), "--export", str(hostile / "site"))
    assert inside.returncode == 2 and "never writes into a run folder" in inside.stderr
    port = _free_port()
    before = snapshot(hostile)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "eval.cli", "inspect", str(hostile), "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        assert f"open http://127.0.0.1:{port}/" in lines[1], lines
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
        assert [line.split()[3] for line in listening.splitlines()] == [f"127.0.0.1:{port}"], listening
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/i/bench__lib-0/run-1.html").status == 200
        taken = swe_search("inspect", str(hostile), "--port", str(port))
        assert taken.returncode == 2 and "cannot listen" in taken.stderr and "Traceback" not in taken.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert proc.returncode == 0
    assert snapshot(hostile) == before, "serving wrote into the run folder"


def test_a_wrong_pick_stands_out_beside_the_oracle(tmp_path):
    folder = make_folder(tmp_path / "run", instances=8, runs=3, steps=2, k=2)
    seen = set()
    with served(folder) as url:
        for done in sorted(folder.glob("instances/*/done.json")):
            rec = json.loads(done.read_text())
            runs = rec["runs"]
            wrong = any(r["resolved"] for r in runs) and not runs[rec["chosen"]]["resolved"]
            page = urllib.request.urlopen(f"{url}i/{rec['instance_id']}.html").read().decode()
            assert ("wrong pick" in page) == wrong, rec["instance_id"]
            assert f'<tr data-run="{rec["chosen"]}" class="picked' in page
            seen.add(wrong)
    assert seen == {True, False}, "the generated folder should hold both a right and a wrong pick"
