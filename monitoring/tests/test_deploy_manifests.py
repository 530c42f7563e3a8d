"""Tests of the deployment files: they parse, agree with each other and use only known settings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"

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
}
SECRET_ENV_NAMES = {
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "METRICS_TOKEN",
}
APP_IMAGE = "financial-rag"
# Inside the container daphne must listen on every interface for the Service to reach it.
DAPHNE_COMMAND = ["daphne", "-b", "0.0.0.0", "-p", "8000", "config.asgi:application"]  # noqa: S104


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
    return workload["spec"]["template"]["spec"]


def _app_containers() -> list[dict]:
    return [
        container
        for document in _k8s_documents()
        if document["kind"] in {"Deployment", "Job"}
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
    annotations = web["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) in ports.values()
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"


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


def test_web_runs_daphne_with_resources_and_as_non_root():
    web = _k8s("Deployment", "financial-rag-web")
    (container,) = _pod_spec(web)["containers"]
    assert container["command"][:1] == ["daphne"]
    assert "config.asgi:application" in container["command"]
    assert {"requests", "limits"} <= set(container["resources"])
    assert _pod_spec(web)["securityContext"]["runAsNonRoot"] is True


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
        "postgres", "redis", "migrate", "web", "worker", "beat", "prometheus", "grafana",
    }  # fmt: skip
    assert services["postgres"]["image"] == "pgvector/pgvector:pg17"
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    assert services["web"]["command"] == DAPHNE_COMMAND
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


def test_dockerfile_builds_in_stages_and_runs_daphne_as_a_non_root_user():
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
    assert json.loads(cmd) == DAPHNE_COMMAND
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
