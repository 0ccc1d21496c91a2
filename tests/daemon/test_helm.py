"""The Helm chart and Dockerfile: parseable, consistent with the rules file, the config and each other.

No helm binary is available, so templates are rendered minimally: lines that hold only a template
action are dropped, ``.Files.Get`` is expanded from the chart, other ``{{ }}`` become a placeholder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "grants-auditor"
RULES = ROOT / "config" / "prometheus" / "grants-auditor.rules.yaml"
CHART_RULES = CHART / "files" / "grants-auditor.rules.yaml"
DOCKERFILE = ROOT / "Dockerfile"
CONFIG_PATH = "/etc/grants-auditor/config.yaml"

_ACTION_ONLY = re.compile(r"^\s*\{\{.*\}\}\s*$")
_FILES_GET = re.compile(r'^\{\{ \.Files\.Get "(?P<path>[^"]+)" \| indent (?P<indent>\d+) \}\}$')
_ACTION = re.compile(r"\{\{.*?\}\}")


def render_minimal(name: str) -> Any:
    lines: list[str] = []
    for line in (CHART / "templates" / name).read_text(encoding="utf-8").splitlines():
        files_get = _FILES_GET.match(line)
        if files_get:
            content = (CHART / files_get["path"]).read_text(encoding="utf-8")
            pad = " " * int(files_get["indent"])
            lines += [pad + included if included else included for included in content.splitlines()]
        elif not _ACTION_ONLY.match(line):
            lines.append(_ACTION.sub("RENDERED", line))
    return yaml.safe_load("\n".join(lines))


def values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    return loaded


def templates() -> list[str]:
    return sorted(p.name for p in (CHART / "templates").glob("*.yaml"))


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("promtool is required in CI: apt-get install prometheus")
    pytest.skip("promtool not installed (apt-get install prometheus); with CI set this fails instead")


# ---- the rules -----------------------------------------------------------------------------------


def test_every_non_template_yaml_parses() -> None:
    paths = [p for p in [*CHART.rglob("*.yaml"), *RULES.parent.glob("*.yaml")] if "templates" not in p.parts]

    assert {p.name for p in paths} >= {"Chart.yaml", "values.yaml", "grants-auditor.rules.yaml"}
    for path in paths:
        assert yaml.safe_load(path.read_text(encoding="utf-8")) is not None, path


def test_chart_rules_are_a_byte_identical_copy_of_the_rules_file() -> None:
    assert CHART_RULES.read_bytes() == RULES.read_bytes(), (
        "helm/grants-auditor/files/grants-auditor.rules.yaml must be a copy of "
        "config/prometheus/grants-auditor.rules.yaml: cp config/prometheus/grants-auditor.rules.yaml "
        "helm/grants-auditor/files/"
    )


def test_prometheus_rule_spec_equals_the_rules_file() -> None:
    rendered = render_minimal("prometheusrule.yaml")

    assert rendered["apiVersion"] == "monitoring.coreos.com/v1"
    assert rendered["kind"] == "PrometheusRule"
    assert rendered["spec"] == yaml.safe_load(RULES.read_text(encoding="utf-8"))
    assert ".Values.prometheusRule.labels" in (CHART / "templates" / "prometheusrule.yaml").read_text()


def test_prometheus_rule_spec_passes_promtool(promtool: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(render_minimal("prometheusrule.yaml")["spec"]), encoding="utf-8")

    result = subprocess.run([promtool, "check", "rules", str(spec)], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stdout + result.stderr


# ---- the templates -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", templates())
def test_template_renders_to_a_kubernetes_object(name: str) -> None:
    rendered = render_minimal(name)

    assert rendered["apiVersion"] and rendered["kind"]
    assert rendered["metadata"]["name"] == "RENDERED"


@pytest.mark.parametrize("name", [*templates(), "_helpers.tpl"])
def test_template_variables_are_defined(name: str) -> None:
    """Helm evaluates every {{ }}, even inside YAML comments: a stray {{ $labels }} breaks the chart."""
    source = (CHART / "templates" / name).read_text(encoding="utf-8")
    actions = re.findall(r"\{\{.*?\}\}", source, flags=re.DOTALL)
    used = {var for action in actions for var in re.findall(r"\$(\w+)", action)}
    defined = {var for action in actions for var in re.findall(r"\$(\w+)\s*(?:,\s*\$\w+\s*)?:=", action)}
    defined |= {var for action in actions for var in re.findall(r"\$\w+\s*,\s*\$(\w+)\s*:=", action)}

    assert used <= defined, f"undefined template variables in {name}: {sorted(used - defined)}"


def test_every_referenced_value_exists() -> None:
    known = values()
    sources = [p.read_text(encoding="utf-8") for p in (CHART / "templates").iterdir()]
    referenced = {ref for source in sources for ref in re.findall(r"\.Values\.([\w.]+)", source)}

    assert referenced
    for ref in sorted(referenced):
        node: Any = known
        for part in ref.split("."):
            assert isinstance(node, dict) and part in node, f".Values.{ref} is not in values.yaml"
            node = node[part]


def test_service_and_service_monitor_agree_on_the_metrics_port() -> None:
    service = render_minimal("service.yaml")
    monitor = render_minimal("servicemonitor.yaml")

    assert [p["name"] for p in service["spec"]["ports"]] == ["metrics"]
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    assert monitor["kind"] == "ServiceMonitor"
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/name"  # job="grants-auditor" for the alerts
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("metrics", "/metrics")
    assert ".Values.serviceMonitor.labels" in (CHART / "templates" / "servicemonitor.yaml").read_text()
    assert values()["serviceMonitor"]["labels"] == {"release": "kube-prometheus-stack"}


def test_deployment_probes_volumes_and_security() -> None:
    pod = render_minimal("deployment.yaml")["spec"]["template"]["spec"]
    (container,) = pod["containers"]

    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert [p["name"] for p in container["ports"]] == ["metrics"]
    assert container["args"][-3:] == ["run", "--config", CONFIG_PATH]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["config"] == str(Path(CONFIG_PATH).parent)
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert {"persistentVolumeClaim", "emptyDir"} <= set(volumes["state"])  # either, by persistence.enabled
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False

    config = values()["config"]
    assert Path(config["state"]["path"]).parent == Path(mounts["state"])
    assert config["server"] == {"bind": "0.0.0.0", "port": values()["service"]["port"]}


def test_values_config_is_a_valid_auditor_config(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(values()["config"]), encoding="utf-8")

    settings = load_settings(config, env={"DATABRICKS_CLIENT_ID": "id", "DATABRICKS_CLIENT_SECRET": "s3cr3t"})

    assert [t.name for t in settings.targets] == ["prod"]
    assert "s3cr3t" not in (CHART / "values.yaml").read_text()  # secrets come from the environment


# ---- the image -----------------------------------------------------------------------------------


def test_dockerfile_runs_the_daemon_as_non_root() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]

    assert instructions[0] == "FROM python:3.11-slim"
    assert 'ENTRYPOINT ["grants-auditor"]' in instructions
    assert f'CMD ["run", "--config", "{CONFIG_PATH}"]' in instructions
    assert "EXPOSE 9108" in instructions
    assert not any(line.startswith("HEALTHCHECK") for line in instructions)
    (user,) = [line for line in instructions if line.startswith("USER ")]
    assert user.split()[1].split(":")[0] not in {"0", "root"}
    assert any("pip install ." in line for line in instructions)
