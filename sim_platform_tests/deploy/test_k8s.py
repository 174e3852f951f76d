"""What can be tested of the Kubernetes path without a cluster: the definitions load with the
dagster-k8s executor configured, the Helm values carry the keys Dagster's chart reads, the UIs are
reachable only through the Entra-authenticated Ingresses (full UI for operators, read-only UI for
viewers), and the pods reach the blob container as a workload identity, with no key anywhere."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import yaml

from sim_platform_tests.conftest import REPO


def run_py(code: str, **env) -> subprocess.CompletedProcess:
    full = {**os.environ, **env}
    full.pop("AZURE_STORAGE_CONNECTION_STRING", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, cwd=REPO)


def test_definitions_load_with_the_k8s_executor(tmp_path):
    res = run_py(
        "from sim_platform.definitions import defs\n"
        "job = defs.resolve_implicit_global_asset_job_def()\n"
        "print(job.executor_def.name)",
        SIM_PLATFORM_EXECUTOR="k8s",
        DAGSTER_HOME=str(tmp_path),
        SIM_PLATFORM_HOME=str(tmp_path / "home"),
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "k8s"
    validate = subprocess.run(
        [str(REPO / ".venv/bin/dagster"), "definitions", "validate", "-m", "sim_platform.definitions"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            **os.environ,
            "SIM_PLATFORM_EXECUTOR": "k8s",
            "DAGSTER_HOME": str(tmp_path),
            "SIM_PLATFORM_HOME": str(tmp_path / "home"),
        },
    )
    assert validate.returncode == 0, validate.stderr + validate.stdout


def test_unknown_executor_is_a_clear_error(tmp_path):
    res = run_py("import sim_platform.definitions", SIM_PLATFORM_EXECUTOR="celery", DAGSTER_HOME=str(tmp_path))
    assert res.returncode != 0 and "SIM_PLATFORM_EXECUTOR='celery'" in res.stderr


VALUES = REPO / "deploy/k8s/values.yaml"
RELEASE, NAMESPACE = "sim-platform", "sim-platform"  # as in the guide's helm command
PLACEHOLDER_GROUPS = ("11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222")  # operators, viewers


def load_values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def env_list(items: list[dict]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in items}


def test_helm_values_have_the_keys_the_chart_expects():
    values = load_values()
    deployment = values["dagster-user-deployments"]["deployments"][0]
    assert values["dagster-user-deployments"]["enabled"] is True
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "sim_platform.definitions"]
    assert {"repository", "tag", "pullPolicy"} <= set(deployment["image"])
    assert isinstance(deployment["port"], int)
    assert env_list(deployment["env"])["SIM_PLATFORM_EXECUTOR"] == "k8s"
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert (
        values["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]
        == deployment["envSecrets"]
        == [{"name": "sim-platform-warehouse"}]
    )
    assert values["postgresql"]["enabled"] is False and values["postgresql"]["postgresqlHost"]
    assert values["generatePostgresqlPasswordSecret"] is False and values["global"]["postgresqlSecretName"]
    queue = values["dagsterDaemon"]["runCoordinator"]
    custom = queue["config"]["customRunCoordinator"]
    assert queue["type"] == "CustomRunCoordinator" and custom["config"]["max_concurrent_runs"] > 0
    # the class the chart names is the run queue, and it loads from the project's package
    from dagster._core.run_coordinator import QueuedRunCoordinator

    cls = getattr(importlib.import_module(custom["module"]), custom["class"])
    assert issubclass(cls, QueuedRunCoordinator)
    for service in ("dagsterDaemon", "dagsterWebserver"):
        assert values[service]["image"]["repository"] == deployment["image"]["repository"], service


def test_helm_values_run_a_read_only_webserver_and_expose_no_webserver():
    values = load_values()
    web = values["dagsterWebserver"]
    assert web["enableReadOnly"] is True  # the chart's <release>-dagster-webserver-read-only Deployment + Service
    assert web["service"]["type"] == "ClusterIP"  # no LoadBalancer / NodePort: in-cluster only
    assert values["ingress"]["enabled"] is False  # the chart's single Ingress would give viewers the full UI


def test_ingresses_put_an_entra_login_in_front_of_each_ui():
    docs = list(yaml.safe_load_all((REPO / "deploy/k8s/ingress.yaml").read_text()))
    assert [d["kind"] for d in docs] == ["Ingress", "Ingress"]
    backends = {}
    for ing in docs:
        assert ing["metadata"]["namespace"] == NAMESPACE
        notes = ing["metadata"]["annotations"]
        auth_url = notes["nginx.ingress.kubernetes.io/auth-url"]
        assert auth_url.startswith(f"http://oauth2-proxy.{NAMESPACE}.svc.cluster.local/oauth2/auth?allowed_groups=")
        assert notes["nginx.ingress.kubernetes.io/auth-signin"] == "https://$host/oauth2/start?rd=$escaped_request_uri"
        assert ing["spec"]["ingressClassName"] == "nginx"
        (rule,) = ing["spec"]["rules"]
        assert ing["spec"]["tls"] == [{"hosts": [rule["host"]], "secretName": ing["spec"]["tls"][0]["secretName"]}]  # HTTPS only
        (path,) = rule["http"]["paths"]
        service = path["backend"]["service"]
        assert service["port"] == {"number": 80}
        backends[service["name"]] = (rule["host"], set(auth_url.split("allowed_groups=")[1].split(",")))
    operators, viewers = PLACEHOLDER_GROUPS
    full, readonly = backends[f"{RELEASE}-dagster-webserver"], backends[f"{RELEASE}-dagster-webserver-read-only"]
    assert full[1] == {operators}  # viewers cannot reach the full UI
    assert readonly[1] == {operators, viewers}
    assert full[0] != readonly[0]


def test_oauth2_proxy_values_sign_in_with_entra_id_and_hold_no_secret():
    values = yaml.safe_load((REPO / "deploy/k8s/oauth2-proxy-values.yaml").read_text())
    config = values["config"]
    assert config["existingSecret"] == "oauth2-proxy" and not {"clientID", "clientSecret", "cookieSecret"} & set(config)
    settings = dict(line.split(" = ", 1) for line in config["configFile"].splitlines() if " = " in line)
    settings = {k.strip(): v.split("#")[0].strip() for k, v in settings.items()}
    assert settings["provider"] == '"entra-id"'
    assert settings["oidc_issuer_url"].startswith('"https://login.microsoftonline.com/') and settings["oidc_issuer_url"].endswith(
        '/v2.0"'
    )
    assert settings["reverse_proxy"] == "true" and settings["cookie_secure"] == "true"
    assert settings["upstreams"] == '["static://202"]'
    ingress = values["ingress"]
    hosts = {d["spec"]["rules"][0]["host"] for d in yaml.safe_load_all((REPO / "deploy/k8s/ingress.yaml").read_text())}
    assert ingress["enabled"] is True and ingress["path"] == "/oauth2" and set(ingress["hosts"]) == hosts
    assert "annotations" not in ingress  # /oauth2/* itself must be reachable before login


def test_pods_use_workload_identity_and_no_storage_key(tmp_path):
    values = load_values()
    account = values["serviceAccount"]
    assert account["create"] is True and values["global"]["serviceAccountName"] == account["name"]
    assert account["annotations"]["azure.workload.identity/client-id"]
    deployment = values["dagster-user-deployments"]["deployments"][0]
    assert deployment["labels"]["azure.workload.identity/use"] == "true"
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True  # runs inherit env and labels
    run_pods = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]["podTemplateSpecMetadata"]
    assert run_pods["labels"]["azure.workload.identity/use"] == "true"
    env = env_list(deployment["env"])
    assert env["SIM_PLATFORM_SILVER_BACKEND"] == "blob"
    text = VALUES.read_text()
    for secret_name in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_SAS_TOKEN", "AccountKey="):
        assert secret_name not in text
    # what the pods' environment makes of it: the account URL alone, so DefaultAzureCredential
    from sim_platform.storage import StorageSettings

    settings = StorageSettings.from_env({k: v for k, v in env.items() if k.startswith("AZURE_")}, env_file=None)
    assert (settings.backend, settings.auth) == ("azure", "default-credential")
    assert settings.container == env["AZURE_STORAGE_CONTAINER_NAME"]
