"""The README's first hour in the UI, in a real browser (Debian's headless Chromium, through Playwright).

On a copy of the working tree (what a fresh clone holds; the test run's `.venv` linked in), with no
AZURE_STORAGE_*, SIM_PLATFORM_* or DAGSTER_* setting, the README's commands run as written:

    .venv/bin/sim-platform demo --days 2     # the README runs the default 7 days; 2 keep the test short
    .venv/bin/sim-platform ui --port PORT    # the README's port 3000 may be taken on a test machine

so the demo fills `.sim_platform/` and the embedded container `.blobstore/`, and `ui` starts `dg dev`
on the persistent instance `.dagster_home/` it makes. Then in the browser, with nobody touching a
sensor's switch: the asset graph shows every layer; both sensors show as running; the blob sensor
takes the demo's days to bronze and declarative automation takes them on to silver and the plot,
until the plot asset's events show the plot image. The silver asset's partition grid shows modules
by days; one (module, day) rematerialised through the dialog runs to success and rewrites that
module's hour files of that day and no other file. The webserver and the daemon start quietly: no beta, preview
or deprecation notice, nothing about dagster.yaml or a temporary instance in their log.

The time from starting `ui` to the first plot is printed (`-s` shows it), not asserted. A screenshot
of each step goes to /tmp/sim_platform_ui_*.png.

The other tests here check the `ui` command's preparation without starting a server.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest

from sim_platform.cli.ui_commands import packaged_instance, prepare_dagster_home
from sim_platform.storage.azurite import free_port
from sim_platform_tests.conftest import REPO
from sim_platform_tests.defs.helpers import open_instance
from sim_platform_tests.processes import stop_processes
from sim_platform_tests.test_docs_commands import bash_commands, working_tree_copy

CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_DAYS, MODULE = 2, "phase1_module1"
SENSORS = ("new_blob_sensor", "pipeline_automation")
LOCATION = "sim_platform"  # [tool.dg.project] code_location_name
SHOTS = Path("/tmp")
#: what must not appear in the UI's log (Dagster's lines, not the `sim-platform ui:` preamble)
NOISE = ("BetaWarning", "PreviewWarning", "DeprecationWarning", "dagster.yaml", "DAGSTER_HOME", "temporary directory")
PLOT_TIMEOUT_S = 900  # generous: a shared 2-core machine; the measured time is printed


def _wait_http(url: str, procs: list[subprocess.Popen], timeout: float = 180) -> None:
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


@contextmanager
def _instance(dagster_home: Path):
    """The instance the UI writes to, read from this process."""
    with open_instance(dagster_home) as inst:
        yield inst


def _first_materialisation(dagster_home: Path, key: list[str], day: str | None = None):
    """The asset's first materialisation (of `day`, if given), or None."""
    from dagster import AssetKey, AssetRecordsFilter

    with _instance(dagster_home) as inst:
        selector = AssetRecordsFilter(asset_key=AssetKey(key), asset_partitions=[day] if day else None)
        records = inst.fetch_materializations(selector, limit=1, ascending=True).records
        return records[0] if records else None


def _run_ids(dagster_home: Path) -> set[str]:
    with _instance(dagster_home) as inst:
        return {r.run_id for r in inst.get_runs()}


def _stop_session(proc: subprocess.Popen) -> None:
    """Stop `ui` (dg dev then stops the webserver and the daemon), then whatever is left of the session
    it leads (the code server, a run in flight), which this test started."""
    stop_processes([proc])
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        time.sleep(3)


@pytest.fixture
def first_hour(tmp_path: Path):
    """The README's commands on a copy of the working tree; yields (url, clone, log, `ui` start time, process)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup.sh --test installs the Debian package chromium", pytrace=False)
    readme = bash_commands(REPO / "README.md")
    assert "bash scripts/setup.sh && .venv/bin/sim-platform demo" in readme  # the README's first command: setup + this demo
    clone = working_tree_copy(tmp_path / "clone")
    (clone / ".venv").symlink_to(REPO / ".venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_STORAGE_", "SIM_PLATFORM_", "DAGSTER_"))}
    demo = subprocess.run(
        [".venv/bin/sim-platform", "demo", "--days", str(DEMO_DAYS)],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert f"days: {DEMO_DAYS} ({DEMO_DAYS} written)" in demo.stdout
    assert ".venv/bin/sim-platform ui" in demo.stdout  # the demo names the next command
    assert list((clone / ".blobstore/simulation-data/raw/telemetry").rglob("*.parquet"))

    port = free_port()
    log = tmp_path / "ui.log"
    started = time.time()
    proc = subprocess.Popen(
        [".venv/bin/sim-platform", "ui", "--port", str(port)],
        cwd=clone,
        env=env,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_http(url + "/server_info", [proc])
        yield url, clone, log, started, proc
    finally:
        _stop_session(proc)


def _shown_plot(dagster_home: Path) -> str | None:
    """The partition whose materialisation carries its run's picture (one per run), if any yet."""
    from dagster import AssetKey

    with _instance(dagster_home) as inst:
        records = inst.fetch_materializations(AssetKey(["gold", "module_day_plot"]), limit=1000).records
    return next((str(r.partition_key) for r in records if "plot" in r.asset_materialization.metadata), None)


def _wait_for_plot(page, url: str, proc: subprocess.Popen, dagster_home: Path, timeout: float = PLOT_TIMEOUT_S) -> None:
    """Open the plot asset's partition whose materialisation carries its run's image, once there is
    one (a run over many partitions materialises each, the picture on one of them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"`sim-platform ui` exited with {proc.returncode}"
        shown = _shown_plot(dagster_home)
        if shown is None:
            time.sleep(5)
            continue
        page.goto(f"{url}/assets/gold/module_day_plot?view=partitions&partition={quote(shown)}")
        try:
            page.get_by_text("[Show Markdown]").first.wait_for(timeout=10000)
            return
        except Exception:
            time.sleep(5)
    page.screenshot(path=str(SHOTS / "sim_platform_ui_no_plot.png"), full_page=True)
    raise TimeoutError(f"no plot materialised within {timeout} s of waiting")


def _launch(page, url: str, asset: str, day: str, module: str, shot: str) -> None:
    """Open the asset, press Materialize, pick the day and the module, launch one run."""
    from playwright.sync_api import expect

    page.goto(f"{url}/assets/{asset}")
    page.get_by_role("button", name="Materialize…").first.click()
    confirm = page.get_by_role("button", name="Confirm")  # "upstream not materialised" warning, if shown
    try:
        confirm.click(timeout=3000)
    except Exception:
        pass
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("textbox").first.fill(day)  # the days: a range; the phase_modules: a list to pick from
    page.keyboard.press("Enter")
    dialog.get_by_text("Select a partition or create one").click()
    page.keyboard.type(module)
    page.get_by_role("menuitem").filter(has_text=module).last.click()
    page.keyboard.press("Escape")
    expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible(timeout=10000)
    launch = dialog.get_by_role("button", name=re.compile(r"^Launch 1 run$"))
    expect(launch).to_be_enabled(timeout=10000)
    page.screenshot(path=str(SHOTS / shot))
    launch.click()


def _wait_idle(dagster_home: Path, quiet_s: float = 15, timeout: float = 600) -> None:
    """Until no run has been queued or in progress for `quiet_s` (the sensors have taken every day)."""
    from dagster import DagsterRunStatus

    done = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)
    deadline, since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        with _instance(dagster_home) as inst:
            busy = [r for r in inst.get_runs() if r.status not in done]
        since = None if busy else (since or time.monotonic())
        if since and time.monotonic() - since >= quiet_s:
            return
        time.sleep(1)
    raise TimeoutError("the automation's runs did not settle")


def _wait_manual_run(dagster_home: Path, before: set[str], timeout: float = 600):
    """The runs launched since `before` by no sensor (the dialog's), once finished."""
    from dagster import DagsterRunStatus

    deadline = time.monotonic() + timeout
    done = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)
    runs = []
    while time.monotonic() < deadline:
        with _instance(dagster_home) as inst:
            runs = [r for r in inst.get_runs() if r.run_id not in before and "dagster/sensor_name" not in r.tags]
        if runs and all(r.status in done for r in runs):
            return runs
        time.sleep(2)
    raise TimeoutError(f"the run launched from the UI did not finish: {[(r.run_id, r.status) for r in runs]}")


def test_first_hour_in_the_ui(first_hour):
    from playwright.sync_api import expect, sync_playwright

    url, clone, log, started, proc = first_hour
    dagster_home = clone / ".dagster_home"
    assert (dagster_home / "dagster.yaml").read_text() == packaged_instance()  # a persistent instance, made by `ui`
    assert not list(clone.glob(".tmp_dagster_home_*"))
    seen_plot = None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        # the packaged instance turns Dagster's community pop-up off: the server says so, and the
        # page, given the pop-up's delay and more, shows none
        answer = json.loads(
            urllib.request.urlopen(
                urllib.request.Request(
                    url + "/graphql",
                    data=json.dumps({"query": "{ shouldShowNux }"}).encode(),
                    headers={"Content-Type": "application/json"},
                ),
                timeout=30,
            ).read()
        )
        assert answer == {"data": {"shouldShowNux": False}}, answer
        page.goto(url + "/asset-groups")
        page.wait_for_timeout(3000)
        expect(page.get_by_text("Join the Dagster community")).to_have_count(0)
        # the asset graph: every layer's assets, upstream of the plot
        page.goto(url + "/assets/gold/module_day_plot?view=lineage&lineageScope=upstream&lineageDepth=5")
        for name in ("module_day_plot", "resampled_5s", "telemetry_day", "raw_files"):
            expect(page.get_by_text(name, exact=True).last).to_be_visible(timeout=30000)
        page.screenshot(path=str(SHOTS / "sim_platform_ui_graph.png"))

        # both sensors are on without anyone switching them on
        for name in SENSORS:
            page.goto(f"{url}/locations/{LOCATION}/sensors/{name}")
            status = page.get_by_role("row").filter(has=page.get_by_text("Running", exact=True))
            expect(status.locator("input[type=checkbox]")).to_be_checked(timeout=30000)
        page.screenshot(path=str(SHOTS / "sim_platform_ui_sensor.png"))

        # the sensor takes the demo's days to bronze, automation goes on to silver and the plot
        _wait_for_plot(page, url, proc, dagster_home)
        seen_plot = time.time() - started
        page.get_by_text("[Show Markdown]").first.click()
        img = page.locator('img[src^="data:image/png;base64,"]').first
        expect(img).to_be_visible(timeout=30000)
        assert img.evaluate("el => el.naturalWidth") > 300
        page.screenshot(path=str(SHOTS / "sim_platform_ui_plot.png"), full_page=True)

        plot = _first_materialisation(dagster_home, ["gold", "module_day_plot"])
        day = plot.partition_key.split("|")[0]
        silver = _first_materialisation(dagster_home, ["silver", "resampled_5s"], plot.partition_key)  # the plot's silver
        first_silver = _first_materialisation(dagster_home, ["silver", "resampled_5s"])
        assert silver is not None and silver.timestamp <= plot.timestamp
        # the silver asset's partition grid: modules by days, the demo's days only
        page.goto(f"{url}/assets/silver/resampled_5s?view=partitions")
        for dimension in ("day", "phase_module"):  # one axis per dimension
            expect(page.get_by_role("textbox", name=f"Filter by {dimension}…")).to_be_visible(timeout=30000)
        # the demo's days only (ui pins the partitions to the container's days), by its 28 hierarchies
        expect(page.get_by_text(f"{DEMO_DAYS * 28} Partitions Selected")).to_be_visible(timeout=30000)
        for label in (day, MODULE, "system"):
            expect(page.get_by_text(label, exact=True).first).to_be_visible(timeout=30000)
        page.screenshot(path=str(SHOTS / "sim_platform_ui_grid.png"), full_page=True)

        # Materialize all over the pipeline's groups asks for days (its one root, bronze, is daily)
        page.goto(f"{url}/asset-groups~" + quote("group:bronze or group:silver or group:gold") + "/")
        page.get_by_role("button", name=re.compile("Materialize all")).first.click()
        try:
            page.get_by_role("button", name="Confirm").click(timeout=3000)
        except Exception:
            pass
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_text("Partition selection")).to_be_visible(timeout=30000)
        expect(dialog.get_by_text(re.compile("different partition definitions"))).to_have_count(0)
        expect(dialog.get_by_text("bronze / telemetry_day")).to_be_visible()  # the range is bronze's days
        expect(dialog.get_by_role("textbox")).to_have_count(1)  # the days, the modules follow from them
        page.screenshot(path=str(SHOTS / "sim_platform_ui_materialize_all.png"))
        page.keyboard.press("Escape")
        print(
            f"\nfirst hour: `sim-platform ui` started -> first silver partition ({first_silver.partition_key}) "
            f"{first_silver.timestamp - started:.1f} s, first plot ({day}) {plot.timestamp - started:.1f} s, "
            f"shown in the browser at {seen_plot:.1f} s"
        )

        # one (module, day) of silver rematerialised from the dialog: only that module's hour files change
        silver_root = clone / ".sim_platform/silver"
        _wait_idle(dagster_home)  # the automation has built every demo day
        stamps = {p: p.stat().st_mtime_ns for p in silver_root.rglob("*.parquet")}
        before = _run_ids(dagster_home)
        _launch(page, url, "silver/resampled_5s", day, MODULE, "sim_platform_ui_launch_module_day.png")
        runs = _wait_manual_run(dagster_home, before)
        assert [r.status.value for r in runs] == ["SUCCESS"], runs
        assert runs[0].tags.get("dagster/partition") == f"{day}|{MODULE}"
        changed = {
            p.relative_to(silver_root).as_posix() for p in silver_root.rglob("*.parquet") if stamps.get(p) != p.stat().st_mtime_ns
        }
        assert changed and all(c.startswith(f"{MODULE}/{day.replace('-', '/')}/") for c in changed), sorted(changed)[:5]
        browser.close()
    # the module-day's plot went with its old hour files, and the automation draws it again from the new ones
    plot_png = clone / ".sim_platform/silver" / MODULE / day.replace("-", "/") / "plot.png"
    deadline = time.monotonic() + 300
    while not plot_png.is_file() and time.monotonic() < deadline:
        assert proc.poll() is None, f"`sim-platform ui` exited with {proc.returncode}"
        time.sleep(2)
    assert plot_png.is_file()
    text = log.read_text(errors="replace")
    dagster_lines = [line for line in text.splitlines() if not line.startswith("sim-platform ui:")]
    noisy = [line for line in dagster_lines if any(w in line for w in NOISE)]
    assert not noisy, "\n".join(noisy[:20])
    assert "Serving dagster-webserver" in text


# -- the `ui` command's preparation, without a server


def test_ui_makes_the_instance_and_never_replaces_its_settings(tmp_path):
    home = tmp_path / "instance"
    assert prepare_dagster_home(home) is True
    assert (home / "dagster.yaml").read_text() == packaged_instance()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")  # the user's own settings
    assert prepare_dagster_home(home) is False
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


def test_the_packaged_instance_is_the_local_deployment_file():
    assert packaged_instance() == (REPO / "deploy/local/dagster.yaml").read_text()


def _cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_STORAGE_", "SIM_PLATFORM_", "DAGSTER_"))}
    return subprocess.run(
        [sys.executable, "-m", "sim_platform", *args], cwd=cwd, env={**clean, **env}, capture_output=True, text=True
    )


def test_ui_dry_run_in_the_project_and_elsewhere(tmp_path):
    res = _cli("ui", "--dry-run", "--port", "3999", "--log-level", "debug", cwd=REPO, DAGSTER_HOME=str(tmp_path / "home"))
    assert res.returncode == 0, res.stderr
    assert "open http://127.0.0.1:3999" in res.stdout
    assert res.stdout.splitlines()[-1].endswith("dg dev --host 127.0.0.1 --port 3999 --log-level debug")  # passed on
    assert (tmp_path / "home/dagster.yaml").is_file()  # $DAGSTER_HOME is respected, and given settings

    elsewhere = tmp_path / "elsewhere"  # an installed package, no project: the module is named
    elsewhere.mkdir()
    res = _cli("ui", "--dry-run", "-p", "3998", cwd=elsewhere)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[-1].endswith("dg dev -m sim_platform.definitions --host 127.0.0.1 --port 3998")
    assert (elsewhere / ".dagster_home/dagster.yaml").is_file()
    assert f"data under {elsewhere / '.sim_platform'}" in res.stdout
    assert not list(elsewhere.glob(".tmp_dagster_home_*"))


def test_cli_still_refuses_unknown_options_elsewhere(tmp_path):
    res = _cli("etl", "--output", "x", "--no-such-option", cwd=tmp_path)
    assert res.returncode == 2 and "unrecognized arguments: --no-such-option" in res.stderr


def test_ui_opens_the_partitions_on_the_days_in_the_container(tmp_path):
    """A replay (days long past) ends with its data; a live plant's days stay open; the environment
    overrides both; an empty container keeps the configured days."""
    from datetime import UTC, datetime, timedelta

    elsewhere = tmp_path / "replay"
    elsewhere.mkdir()
    res = _cli("ui", "--dry-run", cwd=elsewhere)
    assert res.returncode == 0 and "day partitions" not in res.stdout  # nothing landed yet
    raw = elsewhere / ".blobstore/simulation-data/raw/telemetry"
    for day in ("2024/07/01", "2024/07/03"):
        (raw / day).mkdir(parents=True)
        (raw / day / "telemetry-export-metrics-1.parquet").write_bytes(b"not read")
    res = _cli("ui", "--dry-run", cwd=elsewhere)
    assert "day partitions from 2024-07-01 to 2024-07-04 (exclusive): the days in the container" in res.stdout, res.stdout
    res = _cli("ui", "--dry-run", cwd=elsewhere, SIM_PLATFORM_START_DATE="2024-06-01")
    assert "day partitions" not in res.stdout
    today = datetime.now(UTC).date() - timedelta(days=1)
    (raw / today.strftime("%Y/%m/%d")).mkdir(parents=True)
    (raw / today.strftime("%Y/%m/%d") / "telemetry-export-metrics-1.parquet").write_bytes(b"not read")
    res = _cli("ui", "--dry-run", cwd=elsewhere)
    assert "day partitions from 2024-07-01 on (a live plant)" in res.stdout, res.stdout
