"""End to end in a real browser: dagster-webserver + dagster-daemon on a free port, driven by
Debian's headless Chromium through Playwright.

The instance (SQLite in a temporary DAGSTER_HOME) already holds the bronze day, as after the blob
sensor's run; from the UI we then launch `resampled_5s` and `module_day_plot` for the day
2024-06-05, wait for both runs to succeed, and find the plot image in the materialisation metadata.
The webserver and the daemon start quietly: no beta, preview or deprecation notice in their logs. A screenshot of each step goes to /tmp/sim_platform_ui_*.png.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sim_platform.storage.azurite import free_port
from sim_platform_tests.conftest import REPO
from sim_platform_tests.processes import stop_processes

CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DAY, MODULE = "2024-06-05", "phase1_module1"
SHOTS = Path("/tmp")


def _wait_http(url: str, procs: list[subprocess.Popen], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"{p.args} exited with {p.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@pytest.fixture
def ui_server(tmp_path: Path, sample_two_days: Path):
    """Prepared instance + webserver + daemon; yields (base url, env)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup.sh --test installs the Debian package chromium", pytrace=False)
    home, dagster_home = tmp_path / "sim", tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO / "deploy/local/dagster.yaml", dagster_home / "dagster.yaml")
    env = {
        **os.environ,
        "SIM_PLATFORM_HOME": str(home),
        "SIM_PLATFORM_LOCAL_BLOB_ROOT": str(home / "blobstore"),
        "DAGSTER_HOME": str(dagster_home),
        "SIM_PLATFORM_WORKERS": "1",
        # a replayed data set: its days are the partitions, so the dialog opens where the data is
        "SIM_PLATFORM_END_DATE": "2024-07-01",
    }
    for key in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_URL"):
        env.pop(key, None)
    landing = home / "incoming" / "2024/06/05"
    landing.mkdir(parents=True)
    for f in sorted((sample_two_days / "2024/06/05").glob("*.parquet"))[:40]:
        shutil.copy(f, landing / f.name)
    prep = (
        "from dagster import DagsterInstance, materialize\n"
        "from sim_platform.definitions import build_resources\n"
        "from sim_platform.defs.bronze.assets import telemetry_day\n"
        "from sim_platform.storage import sync_up\n"
        "import os\n"
        "res = build_resources()\n"
        "with res['blob_store'].open() as st:\n"
        "    assert sync_up(st, os.environ['SIM_PLATFORM_HOME'] + '/incoming', prefix='raw/telemetry/', log_dir=None).ok\n"
        "with DagsterInstance.get() as inst:\n"
        "    assert materialize([telemetry_day], instance=inst, resources=res, partition_key='2024-06-05').success\n"
    )
    subprocess.run([sys.executable, "-c", prep], env=env, cwd=REPO, check=True, capture_output=True)
    port = free_port()
    bin_dir = Path(sys.executable).parent
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = [
        subprocess.Popen(
            [str(bin_dir / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO,
            env=env,
            stdout=open(logs / "web.log", "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
        subprocess.Popen(
            [str(bin_dir / "dagster-daemon"), "run", "-w", "workspace.yaml"],
            cwd=REPO,
            env=env,
            stdout=open(logs / "daemon.log", "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
    ]
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_http(url + "/server_info", procs)
        yield url, env, home, logs
    finally:
        stop_processes(procs)


def _launch(page, url: str, asset: str, shot: str) -> None:
    """Open the asset, press Materialize, pick the partition in the dialog, launch one run."""
    from playwright.sync_api import expect

    page.goto(f"{url}/assets/{asset}")
    page.get_by_role("button", name="Materialize…").first.click()
    confirm = page.get_by_role("button", name="Confirm")  # "upstream not materialised" warning, if shown
    try:
        confirm.click(timeout=3000)
    except Exception:
        pass
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Showing the last 90 days")).to_have_count(0)  # all 30 days of the data set are offered
    dialog.get_by_role("textbox").first.fill(DAY)
    page.keyboard.press("Enter")
    launch = dialog.get_by_role("button", name=re.compile(r"^Launch (1 run|backfill)$"))
    expect(launch).to_be_enabled(timeout=10000)
    page.screenshot(path=str(SHOTS / shot))
    launch.click()


def _wait_runs(env: dict, count: int, timeout: float = 180) -> list:
    """Poll the instance the webserver writes to until `count` runs finished; returns them."""
    from dagster import DagsterInstance, DagsterRunStatus

    old = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    try:
        with DagsterInstance.get() as inst:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                runs = [r for r in inst.get_runs() if "__ephemeral" not in r.job_name]
                done = [
                    r for r in runs if r.status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)
                ]
                if len(done) >= count:
                    return done
                time.sleep(1)
            raise TimeoutError(f"runs not finished: {[(r.run_id, r.status) for r in runs]}")
    finally:
        if old is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = old


def test_ui_graph_launch_and_plot(ui_server):
    from playwright.sync_api import expect, sync_playwright

    url, env, home, logs = ui_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url + "/asset-groups")
        skip = page.get_by_role("button", name="Skip")  # the community pop-up on a fresh instance
        try:
            skip.click(timeout=8000)
        except Exception:
            pass
        # the asset graph: every layer's assets, upstream of the plot
        page.goto(url + "/assets/gold/module_day_plot?view=lineage&lineageScope=upstream&lineageDepth=5")
        for name in ("module_day_plot", "resampled_5s", "telemetry_day"):
            expect(page.get_by_text(name, exact=True).last).to_be_visible(timeout=30000)
        page.screenshot(path=str(SHOTS / "sim_platform_ui_graph.png"))

        _launch(page, url, "silver/resampled_5s", "sim_platform_ui_launch_silver.png")
        runs = _wait_runs(env, 1)
        assert [r.status.value for r in runs] == ["SUCCESS"], runs
        _launch(page, url, "gold/module_day_plot", "sim_platform_ui_launch_plot.png")
        runs = _wait_runs(env, 2)
        assert sorted(r.status.value for r in runs) == ["SUCCESS", "SUCCESS"], runs

        # the plot is in the materialisation's metadata, rendered as an image
        page.goto(f"{url}/assets/gold/module_day_plot?view=events")
        expect(page.get_by_text(DAY).first).to_be_visible(timeout=30000)
        page.get_by_text("[Show Markdown]").first.click()
        img = page.locator('img[src^="data:image/png;base64,"]').first
        expect(img).to_be_visible(timeout=30000)
        width = img.evaluate("el => el.naturalWidth")
        assert width > 300
        page.screenshot(path=str(SHOTS / "sim_platform_ui_plot.png"), full_page=True)
        browser.close()
    assert (home / "silver" / MODULE / "2024/06/05/plot.png").is_file()
    for log in ("web.log", "daemon.log"):
        text = (logs / log).read_text()
        assert not [w for w in ("BetaWarning", "PreviewWarning", "DeprecationWarning", "dagster.yaml") if w in text], text[-3000:]
