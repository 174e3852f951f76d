"""Who can do what in the UI, against real servers: the compose services `code`, `webserver` and
`webserver-readonly` as processes (one code server, two webservers on loopback, the local instance
of dagster.yaml in a temporary DAGSTER_HOME), then the login proxy of the compose profile `auth`
(deploy/compose/auth/nginx.conf, run by Debian's nginx with only hosts, ports and paths rewritten).

The read-only webserver answers queries but refuses, with an UnauthorizedError, launching a run,
wiping materialisations and switching a sensor on; the same launch through the full webserver is
accepted (the run is only queued: no daemon runs here, so nothing executes). Through the proxy,
nothing is served without a valid login, and each password file opens its own webserver only.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sim_platform.storage.azurite import free_port
from sim_platform_tests.conftest import REPO
from sim_platform_tests.deploy.test_compose_processes import BIN, code_server_command, start, wait_for, wait_for_code_server
from sim_platform_tests.processes import stop_processes

NGINX = Path("/usr/sbin/nginx")
LOCATION = "sim_platform"  # location_name of deploy/compose/workspace.yaml
JOB, PARTITION = "training_set_job", "2024-07-01"  # a partitioned job (quarters); the daily bronze is a condition now
PASSWORDS = {"operators": ("olivia", "operator-password-1"), "viewers": ("victor", "viewer-password-12")}

LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on UnauthorizedError { message } ... on PythonError { message }
  ... on LaunchRunSuccess { run { runId status } } } }"""
WIPE = """mutation($ranges: [PartitionsByAssetSelector!]!) { wipeAssets(assetPartitionRanges: $ranges) {
  __typename ... on UnauthorizedError { message } } }"""
START_SENSOR = """mutation($selector: SensorSelector!) { startSensor(sensorSelector: $selector) {
  __typename ... on UnauthorizedError { message } } }"""
PERMISSIONS = "{ permissions { permission value } }"
REPOSITORIES = """{ repositoriesOrError { __typename ... on RepositoryConnection { nodes {
  name location { name } jobs { name } sensors { name } } } } }"""


def http(url: str, body: dict | None = None, login: tuple[str, str] | None = None) -> tuple[int, str]:
    req = urllib.request.Request(
        url, data=None if body is None else json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    if login:
        req.add_header("Authorization", "Basic " + base64.b64encode(":".join(login).encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")
    except OSError as err:  # not listening (yet)
        return 0, str(err)


def graphql(base: str, query: str, login: tuple[str, str] | None = None, **variables) -> dict:
    status, text = http(f"{base}/graphql", {"query": query, "variables": variables}, login)
    assert status == 200, (status, text[:500])
    answer = json.loads(text)
    assert "errors" not in answer, answer["errors"]
    return answer["data"]


def launch_params(repository: str) -> dict:
    return {
        "selector": {"repositoryLocationName": LOCATION, "repositoryName": repository, "jobName": JOB},
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": PARTITION}]},
    }


@pytest.fixture(scope="module")
def webservers(tmp_path_factory):
    """{"full": url, "readonly": url, "repository": name}: one code server and the two webservers of compose."""
    tmp = tmp_path_factory.mktemp("ui_access")
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy/local/dagster.yaml", home / "dagster.yaml")  # queued runs, SQLite under DAGSTER_HOME
    code_port, full_port, ro_port = free_port(), free_port(), free_port()
    workspace = tmp / "workspace.yaml"  # deploy/compose/workspace.yaml, with the `code` host on loopback
    workspace.write_text(
        (REPO / "deploy/compose/workspace.yaml")
        .read_text()
        .replace("host: code", "host: 127.0.0.1")
        .replace("port: 4000", f"port: {code_port}")
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "SIM_PLATFORM_"))},
        "DAGSTER_HOME": str(home),
        "SIM_PLATFORM_HOME": str(tmp / "platform"),
        "SIM_PLATFORM_LOCAL_BLOB_ROOT": str(tmp / "blobstore"),
    }
    logs = tmp / "logs"
    logs.mkdir()
    web = [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-w", str(workspace)]
    commands = {  # the compose services' commands, on loopback ports
        "code": code_server_command(code_port),
        "webserver": [*web, "-p", str(full_port)],
        "webserver-readonly": [str(BIN / "dagster-webserver"), "--read-only", *web[1:], "-p", str(ro_port)],
    }
    procs: list[subprocess.Popen] = []
    try:
        procs.append(start("code", commands, env, tmp, logs))
        wait_for_code_server(code_port, env, procs)
        for name in ("webserver", "webserver-readonly"):
            procs.append(start(name, commands, env, tmp, logs))
        urls = {"full": f"http://127.0.0.1:{full_port}", "readonly": f"http://127.0.0.1:{ro_port}"}
        for url in urls.values():
            wait_for(lambda url=url: http(f"{url}/server_info")[0] == 200, url, 120, procs)
        nodes = graphql(urls["full"], REPOSITORIES)["repositoriesOrError"]["nodes"]
        assert [n["location"]["name"] for n in nodes] == [LOCATION]
        yield {**urls, "repository": nodes[0]["name"], "sensor": nodes[0]["sensors"][0]["name"]}
    finally:
        stop_processes(procs)


def test_read_only_webserver_shows_everything_but_refuses_launch_wipe_and_sensors(webservers):
    ro = webservers["readonly"]
    nodes = graphql(ro, REPOSITORIES)["repositoriesOrError"]["nodes"]  # looking is allowed
    assert JOB in {j["name"] for j in nodes[0]["jobs"]}

    launched = graphql(ro, LAUNCH, params=launch_params(webservers["repository"]))["launchRun"]
    assert launched["__typename"] == "UnauthorizedError", launched
    wiped = graphql(ro, WIPE, ranges=[{"assetKey": {"path": ["bronze", "telemetry_day"]}}])["wipeAssets"]
    assert wiped["__typename"] == "UnauthorizedError", wiped
    selector = {
        "repositoryLocationName": LOCATION,
        "repositoryName": webservers["repository"],
        "sensorName": webservers["sensor"],
    }
    switched = graphql(ro, START_SENSOR, selector=selector)["startSensor"]
    assert switched["__typename"] == "UnauthorizedError", switched

    permissions = {p["permission"]: p["value"] for p in graphql(ro, PERMISSIONS)["permissions"]}
    assert permissions["launch_pipeline_execution"] is False and permissions["wipe_assets"] is False
    assert not any(permissions.values()), permissions  # no mutation at all


def test_full_webserver_accepts_the_same_launch(webservers):
    full = webservers["full"]
    launched = graphql(full, LAUNCH, params=launch_params(webservers["repository"]))["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    assert launched["run"]["status"] == "QUEUED"  # the queue holds it: no daemon runs in this test
    permissions = {p["permission"]: p["value"] for p in graphql(full, PERMISSIONS)["permissions"]}
    assert permissions["launch_pipeline_execution"] is True and permissions["wipe_assets"] is True


@pytest.fixture(scope="module")
def auth_proxy(webservers, tmp_path_factory):
    """Debian's nginx running deploy/compose/auth/nginx.conf in front of the two webservers."""
    if not NGINX.exists():
        pytest.fail(f"{NGINX} is missing: scripts/setup.sh --test installs the Debian package nginx", pytrace=False)
    tmp = tmp_path_factory.mktemp("auth_proxy")
    auth = tmp / "auth"
    auth.mkdir()
    for kind, (user, password) in PASSWORDS.items():  # the documented way to make the password files
        made = subprocess.run(
            ["bash", str(REPO / "deploy/compose/auth/htpasswd.sh"), kind, user],
            input=password + "\n",
            env={**os.environ, "HTPASSWD_DIR": str(auth)},
            capture_output=True,
            text=True,
        )
        assert made.returncode == 0, made.stderr
    shutil.copy(REPO / "deploy/compose/auth/proxy_params.conf", auth / "proxy_params.conf")
    ports = {"operators": free_port(), "viewers": free_port()}
    conf = (REPO / "deploy/compose/auth/nginx.conf").read_text()
    for old, new in [
        ("/etc/nginx/sim-platform/", f"{auth}/"),
        ("http://webserver:3000;", webservers["full"] + ";"),
        ("http://webserver-readonly:3000;", webservers["readonly"] + ";"),
        ("listen 8080;", f"listen 127.0.0.1:{ports['operators']};"),
        ("listen 8081;", f"listen 127.0.0.1:{ports['viewers']};"),
    ]:
        assert old in conf, f"deploy/compose/auth/nginx.conf no longer has {old!r}: update this test with it"
        conf = conf.replace(old, new)
    (tmp / "default.conf").write_text(conf)
    temp_paths = "".join(f"  {kind}_temp_path {tmp}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # what the nginx image's own nginx.conf does around conf.d/default.conf
    (tmp / "nginx.conf").write_text(
        ("user root root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 1;\npid {tmp}/nginx.pid;\nevents {{}}\n"
        + f"http {{\n  access_log {tmp}/access.log;\n{temp_paths}  include {tmp}/default.conf;\n}}\n"
    )
    base = [str(NGINX), "-e", str(tmp / "error.log"), "-p", str(tmp), "-c", str(tmp / "nginx.conf")]
    tested = subprocess.run([*base, "-t"], capture_output=True, text=True)
    assert tested.returncode == 0, tested.stderr
    proc = subprocess.Popen([*base, "-g", "daemon off;"], stdout=open(tmp / "nginx.out", "w"), stderr=subprocess.STDOUT)
    proc.log = tmp / "error.log"
    try:
        urls = {kind: f"http://127.0.0.1:{port}" for kind, port in ports.items()}
        for url in urls.values():
            wait_for(lambda url=url: http(f"{url}/server_info")[0] == 401, f"nginx on {url}", 30, [proc])
        yield {**urls, "access_log": tmp / "access.log"}
    finally:
        stop_processes([proc])


def test_auth_proxy_serves_nothing_without_a_login(auth_proxy):
    for kind, url in (("operators", auth_proxy["operators"]), ("viewers", auth_proxy["viewers"])):
        user, password = PASSWORDS[kind]
        for path in ("/", "/server_info", "/graphql"):
            assert http(url + path)[0] == 401, (kind, path)
        assert http(url + "/server_info", login=(user, password + "x"))[0] == 401
        assert http(url + "/server_info", login=("nobody", password))[0] == 401
        assert http(url + "/server_info", login=(user, password))[0] == 200
    # each file opens its own webserver only
    assert http(auth_proxy["operators"] + "/server_info", login=PASSWORDS["viewers"])[0] == 401
    assert http(auth_proxy["viewers"] + "/server_info", login=PASSWORDS["operators"])[0] == 401


def test_auth_proxy_routes_viewers_to_the_read_only_webserver(auth_proxy, webservers):
    params = launch_params(webservers["repository"])
    as_viewer = graphql(auth_proxy["viewers"], LAUNCH, login=PASSWORDS["viewers"], params=params)["launchRun"]
    assert as_viewer["__typename"] == "UnauthorizedError", as_viewer
    as_operator = graphql(auth_proxy["operators"], PERMISSIONS, login=PASSWORDS["operators"])["permissions"]
    allowed = {p["permission"]: p["value"] for p in as_operator}
    assert allowed["launch_pipeline_execution"] is True
    log = auth_proxy["access_log"].read_text()
    assert f" {PASSWORDS['viewers'][0]} [" in log and f" {PASSWORDS['operators'][0]} [" in log  # who did what is logged
