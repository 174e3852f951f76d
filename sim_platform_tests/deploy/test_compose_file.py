"""docker-compose.yml, validated by docker-compose itself (Debian package), and its wiring checked:
every published port on 127.0.0.1 whatever the profiles, Azurite and PostgreSQL unpublished by
default, a read-only webserver beside the full one, and the login proxy of profile `auth`."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess

import pytest
import yaml

from sim_platform_tests.conftest import REPO

ENV = "DAGSTER_POSTGRES_PASSWORD=pw\nAZURITE_ACCOUNT_KEY=a2V5\n"
PROFILES = [(), ("auth",), ("azurite-port",), ("auth", "azurite-port")]


def compose(tmp_path, env_text: str, *args: str, profiles: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose missing: install Debian package docker-compose (scripts/setup.sh --test does)"
    shutil.copy(REPO / "docker-compose.yml", tmp_path / "docker-compose.yml")
    (tmp_path / ".env").write_text(env_text)
    options = [a for p in profiles for a in ("--profile", p)]
    return subprocess.run([binary, *options, "config", *args], cwd=tmp_path, capture_output=True, text=True)


def published(service: dict) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of each published port, from the short form docker-compose
    v1 prints ("127.0.0.1:3000:3000/tcp") or the long form of Compose v2 (host_ip, published, target)."""
    out = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            out.append((port.get("host_ip", ""), int(port["published"]), int(port["target"])))
        else:
            m = re.fullmatch(r"(?:(?P<ip>[\d.]+|\[[^\]]*\]):)?(?:(?P<host>\d+):)?(?P<target>\d+)(?:/\w+)?", str(port))
            assert m and m["host"], f"unrecognised or unpinned port entry {port!r}"
            out.append((m["ip"] or "", int(m["host"]), int(m["target"])))
    return out


def test_compose_file_is_valid_and_wired(tmp_path):
    res = compose(tmp_path, ENV)
    assert res.returncode == 0, res.stderr
    cfg = yaml.safe_load(res.stdout)
    services = cfg["services"]
    assert set(services) == {
        "postgres",
        "azurite",
        "code",
        "webserver",
        "webserver-readonly",
        "daemon",
        "auth-proxy",
        "azurite-port",
    }
    for name in ("postgres", "azurite", "code"):
        assert services[name]["healthcheck"]["test"], name
    assert services["code"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "azurite": {"condition": "service_healthy"},
    }
    for name in ("webserver", "webserver-readonly", "daemon"):
        assert services[name]["depends_on"] == {"code": {"condition": "service_healthy"}}
        assert services[name]["image"] == services["code"]["image"]  # one image serves every service
    assert published(services["webserver"]) == [("127.0.0.1", 3000, 3000)]
    env = services["daemon"]["environment"]
    assert "BlobEndpoint=http://azurite:10000/" in env["AZURE_STORAGE_CONNECTION_STRING"]
    assert env["SIM_PLATFORM_SILVER_BACKEND"] == "blob"
    assert env["SIM_PLATFORM_WAREHOUSE_URL"] == "postgresql+psycopg2://dagster:pw@postgres:5432/dagster"  # gold -> PostgreSQL
    assert "pgdata" in cfg["volumes"]
    mounts = " ".join(
        services["code"]["volumes"]
        if isinstance(services["code"]["volumes"][0], str)
        else [v["source"] + ":" + v["target"] for v in services["code"]["volumes"]]
    )
    assert "deploy/compose/dagster.yaml" in mounts and (REPO / "deploy/compose/dagster.yaml").is_file()


def test_compose_refuses_to_start_without_its_secrets(tmp_path):
    res = compose(tmp_path, "", "-q")
    assert res.returncode != 0
    assert "set DAGSTER_POSTGRES_PASSWORD in .env" in res.stderr or "set AZURITE_ACCOUNT_KEY in .env" in res.stderr


def test_deployment_instance_uses_postgres_and_a_queue():
    inst = yaml.safe_load((REPO / "deploy/compose/dagster.yaml").read_text())
    assert inst["storage"]["postgres"]["postgres_db"]["password"] == {"env": "DAGSTER_POSTGRES_PASSWORD"}
    # Dagster's run queue, as the project's subclass that makes module-by-day backfills rectangles
    from dagster._core.run_coordinator import QueuedRunCoordinator

    coordinator = inst["run_coordinator"]
    assert issubclass(getattr(importlib.import_module(coordinator["module"]), coordinator["class"]), QueuedRunCoordinator)
    assert inst["run_coordinator"]["config"]["max_concurrent_runs"] >= 1
    ws = yaml.safe_load((REPO / "deploy/compose/workspace.yaml").read_text())
    assert ws["load_from"][0]["grpc_server"] == {"host": "code", "port": 4000, "location_name": "sim_platform"}


@pytest.mark.parametrize("profiles", PROFILES, ids=lambda p: "+".join(p) or "default")
def test_every_published_port_is_on_loopback(tmp_path, profiles):
    res = compose(tmp_path, ENV, profiles=profiles)
    assert res.returncode == 0, res.stderr
    services = yaml.safe_load(res.stdout)["services"]
    ports = {name: published(svc) for name, svc in services.items() if svc.get("ports")}
    assert ports, "nothing published at all?"
    for name, entries in ports.items():
        for host_ip, _, _ in entries:
            assert host_ip == "127.0.0.1", f"{name} publishes on {host_ip or 'every interface'}: {entries}"
    # the instance database and the development-key Azurite are reachable from the stack only
    assert "ports" not in services["postgres"] and "ports" not in services["azurite"]
    # docker-compose v1 prints every service whatever the profiles: what is published outside the
    # default set must belong to a profile
    assert services["azurite-port"]["profiles"] == ["azurite-port"]
    assert published(services["azurite-port"]) == [("127.0.0.1", 10000, 10000)]
    assert services["auth-proxy"]["profiles"] == ["auth"]
    default = {n for n, svc in services.items() if not svc.get("profiles")}
    assert default == {"postgres", "azurite", "code", "webserver", "webserver-readonly", "daemon"}


def test_the_read_only_webserver_is_beside_the_full_one(tmp_path):
    services = yaml.safe_load(compose(tmp_path, ENV).stdout)["services"]
    full, readonly = services["webserver"]["command"], services["webserver-readonly"]["command"]
    assert "--read-only" in readonly and "--read-only" not in full
    assert [a for a in readonly if a != "--read-only"] == full  # the same UI of the same workspace
    assert published(services["webserver-readonly"]) == [("127.0.0.1", 3001, 3000)]
    assert services["webserver-readonly"]["environment"] == services["webserver"]["environment"]


def test_auth_profile_puts_a_login_in_front_of_both_webservers(tmp_path):
    res = compose(tmp_path, ENV, profiles=("auth",))
    assert res.returncode == 0, res.stderr
    proxy = yaml.safe_load(res.stdout)["services"]["auth-proxy"]
    assert re.fullmatch(r"nginx:\d+\.\d+\.\d+-alpine", proxy["image"])  # pinned
    assert set(proxy["depends_on"]) == {"webserver", "webserver-readonly"}
    assert sorted(published(proxy)) == [("127.0.0.1", 8080, 8080), ("127.0.0.1", 8081, 8081)]
    mounts = [v if isinstance(v, str) else f"{v['source']}:{v['target']}" for v in proxy["volumes"]]
    assert any(m.endswith("deploy/compose/auth/nginx.conf:/etc/nginx/conf.d/default.conf:ro") for m in mounts), mounts
    script = " ".join(proxy["command"])
    assert "operators viewers" in script and "htpasswd.sh" in script and "exec nginx" in script
    conf = (REPO / "deploy/compose/auth/nginx.conf").read_text()
    servers = conf.split("server {")[1:]
    assert len(servers) == 2 and all("auth_basic_user_file" in s for s in servers)
    assert "proxy_pass http://webserver:3000;" in servers[0] and "operators.htpasswd" in servers[0]
    assert "proxy_pass http://webserver-readonly:3000;" in servers[1] and "viewers.htpasswd" in servers[1]
    # the password files are made by each user (htpasswd.sh) and never committed
    assert "*.htpasswd" in (REPO / "deploy/compose/auth/.gitignore").read_text().split()
    tracked = subprocess.run(["git", "ls-files", "deploy/compose/auth"], cwd=REPO, capture_output=True, text=True).stdout.split()
    assert not [f for f in tracked if f.endswith(".htpasswd")]


def test_auth_proxy_can_be_opened_deliberately_only(tmp_path):
    """UI_AUTH_BIND moves the login proxy (and nothing else) off loopback, when someone sets it."""
    res = compose(tmp_path, ENV + "UI_AUTH_BIND=0.0.0.0\n", profiles=("auth",))
    assert res.returncode == 0, res.stderr
    services = yaml.safe_load(res.stdout)["services"]
    assert {ip for ip, _, _ in published(services["auth-proxy"])} == {"0.0.0.0"}
    for name in ("webserver", "webserver-readonly", "azurite-port"):
        assert {ip for ip, _, _ in published(services[name])} == {"127.0.0.1"}


def test_auth_proxy_refuses_to_start_without_its_password_files(tmp_path):
    """The proxy's start script, run by sh with the mount point moved to a temporary folder."""
    proxy = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["auth-proxy"]
    shell, flag, script = proxy["command"]
    assert (shell, flag) == ("/bin/sh", "-c") and "exec nginx -g 'daemon off;'" in script
    script = (
        script.replace("$$", "$")
        .replace("/etc/nginx/sim-platform", str(tmp_path))
        .replace("exec nginx -g 'daemon off;'", "echo nginx-started")
    )

    def run():
        return subprocess.run(["sh", "-c", script], capture_output=True, text=True)

    missing = run()
    assert missing.returncode == 1 and "operators.htpasswd is missing" in missing.stderr and "htpasswd.sh" in missing.stderr
    (tmp_path / "operators.htpasswd").write_text("alice:$6$x$y\n")
    assert "viewers.htpasswd is missing" in run().stderr
    (tmp_path / "viewers.htpasswd").write_text("")  # nobody may view: allowed, the proxy starts
    started = run()
    assert started.returncode == 0 and started.stdout.strip() == "nginx-started"
