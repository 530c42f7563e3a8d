"""Tests of the deployment files: they parse, validate against the Kubernetes schemas, agree with
each other and use only known settings."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
COMPOSE_LAPTOP = DEPLOY / "compose.laptop.yaml"
# The oldest Kubernetes release we promise to run on, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())

# Every environment variable the settings read that a deployment may set.
SETTINGS_ENV_NAMES = {
    "DJANGO_SETTINGS_MODULE",
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "METRICS_TOKEN",
    "PROMETHEUS_MULTIPROC_DIR",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "LOG_LEVEL",
    "CELERY_BROKER_URL",
    "ALERT_WEBHOOK_TOKEN",
    "SCHEDULED_JOBS_OFF",
    "BACKUP_DIR",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
}
SECRET_ENV_NAMES = {
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "METRICS_TOKEN",
    "ALERT_WEBHOOK_TOKEN",
}
APP_IMAGE = "financial-rag"
# gunicorn (config/gunicorn.py) listens on WEB_BIND, 0.0.0.0:8000 unless set, so the Service and
# compose's port mapping reach it.
WEB_COMMAND = ["gunicorn", "-c", "config/gunicorn.py", "config.asgi:application"]


def _yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yml", ".yaml"})


def _k8s_documents() -> list[dict]:
    return [
        document
        for path in sorted(K8S.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


def _k8s(kind: str, name: str) -> dict:
    matches = [d for d in _k8s_documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}"
    return matches[0]


def _pod_spec(workload: dict) -> dict:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return workload["spec"]["template"]["spec"]


def _app_containers() -> list[dict]:
    return [
        container
        for document in _k8s_documents()
        if document["kind"] in {"Deployment", "Job", "CronJob"}
        for container in _pod_spec(document)["containers"]
        if container["image"].split(":")[0].endswith(APP_IMAGE)
    ]


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _compose_app_services() -> dict[str, dict]:
    return {
        name: service
        for name, service in _compose()["services"].items()
        if service.get("image", "").split(":")[0] == APP_IMAGE
    }


def _k8s_env_names() -> set[str]:
    names: set[str] = set()
    for container in _app_containers():
        names |= {entry["name"] for entry in container.get("env", [])}
    names |= set(_k8s("ConfigMap", "financial-rag-config")["data"])
    names |= set(yaml.safe_load((K8S / "secret.example.yaml").read_text())["stringData"])
    return names


def _compose_env_names() -> set[str]:
    names: set[str] = set()
    for service in _compose_app_services().values():
        names |= set(service["environment"])
    return names


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_under_deploy_parses(path):
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert documents


def test_every_k8s_object_names_its_kind_version_and_namespace():
    for document in _k8s_documents():
        assert document["apiVersion"]
        assert document["kind"]
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == "financial-rag", document["kind"]


def test_web_container_port_is_the_service_target_and_the_probe_port():
    web = _k8s("Deployment", "financial-rag-web")
    (container,) = _pod_spec(web)["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    service = _k8s("Service", "financial-rag-web")
    for service_port in service["spec"]["ports"]:
        target = service_port["targetPort"]
        assert (ports[target] if isinstance(target, str) else target) in ports.values()
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        port = container[probe]["httpGet"]["port"]
        assert (ports[port] if isinstance(port, str) else port) in ports.values(), probe
    # An annotation-driven scrape cannot send the metrics token: the pods do not ask for one.
    annotations = web["spec"]["template"]["metadata"].get("annotations", {})
    assert not [key for key in annotations if key.startswith("prometheus.io/")]


def test_service_selects_the_web_pods():
    web = _k8s("Deployment", "financial-rag-web")
    selector = _k8s("Service", "financial-rag-web")["spec"]["selector"]
    labels = web["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    assert web["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_web_probes_are_liveness_on_health_and_readiness_on_ready():
    (container,) = _pod_spec(_k8s("Deployment", "financial-rag-web"))["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["startupProbe"]["httpGet"]["path"] == "/health"


def test_web_runs_the_gunicorn_server_with_resources_and_as_non_root():
    web = _k8s("Deployment", "financial-rag-web")
    (container,) = _pod_spec(web)["containers"]
    assert container["command"] == WEB_COMMAND
    assert {"requests", "limits"} <= set(container["resources"])
    assert _pod_spec(web)["securityContext"]["runAsNonRoot"] is True


def test_web_pods_get_the_prestop_pause_plus_the_drain_time_plus_the_kill_margin_to_stop():
    """SIGTERM comes after preStop; gunicorn kills a worker SHUTDOWN_DRAIN_SECONDS + 5 s later."""
    from config import gunicorn

    web = _k8s("Deployment", "financial-rag-web")
    (container,) = _pod_spec(web)["containers"]
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    needed = int(pre_stop[1]) + gunicorn.graceful_timeout
    assert needed <= _pod_spec(web)["terminationGracePeriodSeconds"] <= needed + 10


def test_hpa_scales_the_web_deployment():
    hpa = _k8s("HorizontalPodAutoscaler", "financial-rag-web")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "financial-rag-web",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10)


def test_background_workloads_run_celery_and_migrations_run_once_as_a_job():
    (worker,) = _pod_spec(_k8s("Deployment", "financial-rag-worker"))["containers"]
    assert worker["command"][:4] == ["celery", "-A", "config", "worker"]
    beat = _k8s("Deployment", "financial-rag-beat")
    (beat_container,) = _pod_spec(beat)["containers"]
    assert beat_container["command"][:4] == ["celery", "-A", "config", "beat"]
    # Two schedulers would enqueue every periodic task twice.
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    job = _k8s("Job", "financial-rag-migrate")
    (migrate,) = _pod_spec(job)["containers"]
    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert _pod_spec(job)["restartPolicy"] == "Never"


def test_k8s_and_compose_set_only_environment_variables_the_settings_read():
    assert _k8s_env_names() <= SETTINGS_ENV_NAMES, _k8s_env_names() - SETTINGS_ENV_NAMES
    assert _compose_env_names() <= SETTINGS_ENV_NAMES, _compose_env_names() - SETTINGS_ENV_NAMES


def test_env_example_documents_every_variable_the_deployments_set():
    env_example = REPO / ".env.example"
    if not env_example.exists():
        pytest.skip(".env.example is not in the repository yet")
    documented = set(
        re.findall(r"^(?:# )?([A-Z][A-Z0-9_]*)=", env_example.read_text(), re.MULTILINE)
    )
    used = _k8s_env_names() | _compose_env_names()
    assert used <= documented, f"missing from .env.example: {sorted(used - documented)}"


def test_k8s_secrets_come_from_secret_refs_that_the_example_secret_defines():
    secret_keys = set(yaml.safe_load((K8S / "secret.example.yaml").read_text())["stringData"])
    config_keys = set(_k8s("ConfigMap", "financial-rag-config")["data"])
    assert not config_keys & SECRET_ENV_NAMES
    for container in _app_containers():
        names = set()
        for entry in container.get("env", []):
            names.add(entry["name"])
            if entry["name"] in SECRET_ENV_NAMES:
                reference = entry["valueFrom"]["secretKeyRef"]
                assert reference["name"] == "financial-rag-secrets"
                assert reference["key"] in secret_keys
        assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "METRICS_TOKEN"} <= names
        assert container["envFrom"] == [{"configMapRef": {"name": "financial-rag-config"}}]


def test_example_secret_holds_placeholders_only():
    secret = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    for key, value in secret["stringData"].items():
        assert "replace" in value, key


def test_compose_takes_secrets_from_the_environment_not_from_the_file():
    for name, service in _compose_app_services().items():
        for key, value in service["environment"].items():
            if key in SECRET_ENV_NAMES - {"REDIS_URL"}:
                assert "${" in str(value), f"{name}.{key} is written into compose.yaml"


def test_compose_runs_the_whole_stack_with_migrations_before_the_app():
    services = _compose()["services"]
    assert set(services) == {
        "postgres", "redis", "migrate", "web", "worker", "beat", "prometheus", "alertmanager",
        "grafana",
    }  # fmt: skip
    assert services["postgres"]["image"] == "pgvector/pgvector:pg17"
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    assert services["web"]["command"] == WEB_COMMAND
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["postgres"] == {"condition": "service_healthy"}, name
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]


def test_compose_mounts_files_that_exist():
    for service in _compose()["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), source


def test_compose_prometheus_gets_the_metrics_token_as_a_secret_file():
    compose = _compose()
    assert compose["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}
    assert "metrics_token" in compose["services"]["prometheus"]["secrets"]
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    files = {job["authorization"]["credentials_file"] for job in config["scrape_configs"]
             if "authorization" in job}  # fmt: skip
    assert files == {"/run/secrets/metrics_token"}


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_builds_in_stages_and_runs_the_web_server_as_a_non_root_user():
    instructions = _dockerfile_instructions()
    stages = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert stages == [
        "python:3.11-slim AS builder",
        "node:20-slim AS frontend",
        "python:3.11-slim AS runtime",
    ]
    copied = [rest for keyword, rest in instructions if keyword == "COPY"]
    # Every npm package the settings serve reaches the image.
    for served in ("htmx.org/dist", "marked/lib", "dompurify/dist", "pdfjs-dist/build"):
        assert any(rest.startswith("--from=frontend") and served in rest for rest in copied)
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    (cmd,) = [rest for keyword, rest in instructions if keyword == "CMD"]
    assert json.loads(cmd) == WEB_COMMAND
    assert not [rest for keyword, rest in instructions if keyword == "ENTRYPOINT"]


def test_dockerfile_bakes_in_no_secret_and_does_not_migrate_at_start():
    instructions = _dockerfile_instructions()
    for keyword, rest in instructions:
        if keyword in {"ENV", "ARG"}:
            assert not SECRET_ENV_NAMES & set(re.findall(r"[A-Z_]+", rest)), rest
        if keyword == "COPY":
            assert ".env" not in rest, rest
        if keyword in {"CMD", "ENTRYPOINT"}:
            assert "migrate" not in rest


def test_dockerignore_keeps_env_files_git_and_local_data_out_of_the_image():
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".env", ".env.*", ".venv", ".data"} <= ignored


# --- Kubernetes: schemas, scraping, disruption, scaling, network, backups ---------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    "path", sorted(K8S.glob("*.yaml")), ids=lambda p: str(p.relative_to(DEPLOY))
)
def test_every_k8s_manifest_validates_against_the_kubernetes_schema(path, version):
    for document in yaml.safe_load_all(path.read_text()):
        if document is None:
            continue
        try:
            # Strict: a misspelt or misplaced field is an error, not silently ignored.
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.name} {document['kind']}/{document['metadata']['name']}: {exc}")


def _selects(selector: dict, workload: dict) -> bool:
    labels = workload["spec"]["template"]["metadata"]["labels"]
    return selector["matchLabels"].items() <= labels.items()


def test_pod_disruption_budgets_keep_web_and_workers_serving_during_drains():
    for name in ("financial-rag-web", "financial-rag-worker"):
        budget = _k8s("PodDisruptionBudget", name)
        workload = _k8s("Deployment", name)
        assert _selects(budget["spec"]["selector"], workload), name
        assert budget["spec"]["maxUnavailable"] == 1
    # The web HPA never scales below what the budget needs to leave pods serving.
    assert _k8s("HorizontalPodAutoscaler", "financial-rag-web")["spec"]["minReplicas"] >= 2


def test_workers_scale_on_cpu_between_their_replicas_and_a_ceiling():
    hpa = _k8s("HorizontalPodAutoscaler", "financial-rag-worker")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "financial-rag-worker",
    }
    worker = _k8s("Deployment", "financial-rag-worker")
    assert hpa["spec"]["minReplicas"] == worker["spec"]["replicas"]
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    (container,) = _pod_spec(worker)["containers"]
    assert container["resources"]["requests"]["cpu"]  # utilisation is relative to the request


def test_network_policies_deny_by_default_and_admit_only_ingress_and_monitoring_to_web():
    deny = _k8s("NetworkPolicy", "financial-rag-default-deny")
    assert deny["spec"]["podSelector"] == {}
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny["spec"]
    allowed_out = {p["port"] for rule in deny["spec"]["egress"] for p in rule["ports"]}
    assert {53, 5432, 6379, 443} <= allowed_out
    web_policy = _k8s("NetworkPolicy", "financial-rag-web-ingress")
    assert _selects(web_policy["spec"]["podSelector"], _k8s("Deployment", "financial-rag-web"))
    (rule,) = web_policy["spec"]["ingress"]
    namespaces = {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                  for peer in rule["from"]}  # fmt: skip
    assert namespaces == {"ingress-nginx", "monitoring"}
    (container,) = _pod_spec(_k8s("Deployment", "financial-rag-web"))["containers"]
    assert [p["port"] for p in rule["ports"]] == [container["ports"][0]["containerPort"]]


def test_the_backup_cronjob_runs_the_jobs_beat_leaves_out_onto_its_volume():
    from django.conf import settings

    cronjob = _k8s("CronJob", "financial-rag-backup")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = _pod_spec(cronjob)
    (container,) = pod["containers"]
    assert container["command"][:3] == ["python", "manage.py", "run_job"]
    jobs = container["command"][3:]
    off = _k8s("ConfigMap", "financial-rag-config")["data"]["SCHEDULED_JOBS_OFF"].split(",")
    assert sorted(jobs) == sorted(off) == ["conversation-archive", "database-backup"]
    assert set(jobs) <= set(settings.SCHEDULED_JOBS)
    env = {entry["name"]: entry.get("value") for entry in container["env"]}
    (mount,) = container["volumeMounts"]
    assert env["BACKUP_DIR"] == mount["mountPath"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    claim = volume["persistentVolumeClaim"]["claimName"]
    assert _k8s("PersistentVolumeClaim", claim)["spec"]["resources"]["requests"]["storage"]


def test_the_web_pods_get_the_alert_webhook_token_from_the_secret():
    (container,) = _pod_spec(_k8s("Deployment", "financial-rag-web"))["containers"]
    names = {entry["name"] for entry in container["env"]}
    assert "ALERT_WEBHOOK_TOKEN" in names


def test_k8s_prometheus_scrapes_every_web_pod_through_the_headless_service_with_the_token():
    headless = _k8s("Service", "financial-rag-web-pods")
    assert headless["spec"]["clusterIP"] == "None"
    assert _selects({"matchLabels": headless["spec"]["selector"]},
                    _k8s("Deployment", "financial-rag-web"))  # fmt: skip
    config = yaml.safe_load((K8S / "prometheus" / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer"
    assert job["authorization"]["credentials_file"].startswith("/etc/prometheus/secrets/")
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == ["financial-rag-web-pods.financial-rag.svc.cluster.local"]
    assert sd["port"] == headless["spec"]["ports"][0]["port"] == 8000
    assert config["rule_files"] == ["alerts.yml"]
    assert config["global"]["external_labels"] == {"service": "financial-rag"}


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_k8s_prometheus_config_passes_promtool(tmp_path):
    config = yaml.safe_load((K8S / "prometheus" / "prometheus.yml").read_text())
    token = tmp_path / "token"
    token.write_text("stand-in\n")
    config["scrape_configs"][0]["authorization"]["credentials_file"] = str(token)
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copy(DEPLOY / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")
    result = subprocess.run(
        ["promtool", "check", "config", "prometheus.yml"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


# --- Compose: Alertmanager, backups, the laptop override -----------------------------------


def test_compose_sends_alerts_to_alertmanager_which_calls_the_web_service_with_its_token():
    compose = _compose()
    alertmanager = compose["services"]["alertmanager"]
    assert "alert_webhook_token" in alertmanager["secrets"]
    assert compose["secrets"]["alert_webhook_token"] == {"environment": "ALERT_WEBHOOK_TOKEN"}
    assert (
        "./alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro"
        in (alertmanager["volumes"])
    )
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (target,) = prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert target == "alertmanager:9093"
    for name, service in _compose_app_services().items():
        assert "${ALERT_WEBHOOK_TOKEN" in service["environment"]["ALERT_WEBHOOK_TOKEN"], name


def test_compose_workers_write_backups_to_a_volume_the_image_prepares():
    from django.conf import settings

    default_dir = str(settings.BASE_DIR / ".data" / "backups").replace(
        str(settings.BASE_DIR), "/app"
    )
    worker = _compose()["services"]["worker"]
    assert f"backups:{default_dir}" in worker["volumes"]
    assert default_dir in (REPO / "Dockerfile").read_text()


def _laptop_environment() -> dict[str, str]:
    """The web service's environment with the laptop override merged in, placeholders filled."""
    web = _compose()["services"]["web"]
    laptop = yaml.safe_load(COMPOSE_LAPTOP.read_text())
    assert set(laptop["services"]) == {"web"}
    assert set(laptop["services"]["web"]) == {"environment"}
    merged = {**web["environment"], **laptop["services"]["web"]["environment"]}
    return {key: str(value) for key, value in merged.items()}


def _served_over_plain_http(environment: dict[str, str]) -> str:
    from django.conf import settings

    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "FINRAG_DATA_DIR"}}
    env |= {key: value for key, value in environment.items() if "${" not in value}
    env |= {
        "SECRET_KEY": "laptop-check-" + "x" * 50,
        # Nothing below opens a database connection; a well-formed URL is enough.
        "DATABASE_URL": "postgres://finrag:secret@127.0.0.1:1/finrag",
        "REDIS_URL": settings.REDIS_URL,
        "ALLOWED_HOSTS": "localhost,127.0.0.1,web",
        "PYTHONPATH": str(REPO),
    }
    script = (
        "import django; django.setup(); from django.test import Client; "
        "r = Client(HTTP_HOST='localhost:8000').get('/login/'); "
        "print(r.status_code, r.get('Location'), r.get('Strict-Transport-Security'), "
        "{k: bool(v['secure']) for k, v in r.cookies.items()})"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env, cwd=REPO, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_the_laptop_override_serves_plain_http_on_localhost_with_production_settings():
    environment = _laptop_environment()
    assert environment["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert _served_over_plain_http(environment) == "200 None None {'csrftoken': False}"
    # Without the override the same request is sent to HTTPS.
    base = {k: str(v) for k, v in _compose()["services"]["web"]["environment"].items()}
    assert _served_over_plain_http(base).startswith("301 https://localhost:8000/login/")


def test_docker_compose_renders_the_stack_and_the_laptop_override():
    docker = shutil.which("docker")
    probe = subprocess.run(
        [docker or "docker", "compose", "version"],
        capture_output=True, text=True, check=False, timeout=30,
    ) if docker else None  # fmt: skip
    if probe is None or probe.returncode != 0:
        pytest.skip(
            "docker compose is not available here (the docker client has no compose plugin); "
            "the compose files are checked by the tests above instead"
        )
    env = {**os.environ, "SECRET_KEY": "x", "POSTGRES_PASSWORD": "x", "METRICS_TOKEN": "x",
           "ALERT_WEBHOOK_TOKEN": "x", "GRAFANA_ADMIN_PASSWORD": "x"}  # fmt: skip
    for files in (["-f", str(COMPOSE)], ["-f", str(COMPOSE), "-f", str(COMPOSE_LAPTOP)]):
        result = subprocess.run(
            [docker or "docker", "compose", *files, "config", "--quiet"],
            env=env, capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
