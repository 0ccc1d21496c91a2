"""The Helm chart and the Dockerfile: values, rendering, linting and the manifests' schemas.

The chart is rendered and linted by helm's own Go library (helm-python-sdk: no helm binary), validated against
values.schema.json by jsonschema and by helm, and every rendered Kubernetes object is validated against Kubernetes'
OpenAPI schemas (kubernetes-validate, bundled, offline). The two prometheus-operator resources are validated against
structural schemas written in tests/daemon/operator_schemas.py (the operator's CRDs are not available offline).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml

from auditor.cli import build_parser
from auditor.settings import load_settings
from tests.daemon.dockerfile import instructions, stages
from tests.daemon.operator_schemas import BY_KIND

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "grants-auditor"
RULES = ROOT / "config" / "prometheus" / "grants-auditor.rules.yaml"
DASHBOARD = ROOT / "config" / "grafana" / "grants-auditor.json"
EXAMPLE_VALUES = CHART / "ci" / "production-values.yaml"
DEPLOY_GUIDE = ROOT / "docs" / "deploy.md"
CONFIG_PATH = "/etc/grants-auditor/config.yaml"
KUBERNETES_VERSION = "1.30.0"  # the oldest Kubernetes the chart supports (EKS standard support)
JOB = "grants-auditor"  # the scrape job the alert rules select on
RELEASE, NAMESPACE = "audit", "security"


def load_yaml(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def example_values() -> dict[str, Any]:
    return load_yaml(EXAMPLE_VALUES)


VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "example": example_values(),
    "no-persistence": {"persistence": {"enabled": False}},
    "name-override": {"nameOverride": "auditor"},
    "fullname-override": {"fullnameOverride": "security-grants"},
    "everything-on": {
        "findings": {"mode": "open"},
        "networkPolicy": {"enabled": True, "extraFrom": [{"podSelector": {"matchLabels": {"app": "reader"}}}]},
        "dashboard": {"enabled": True, "annotations": {"grafana_folder": "Security"}},
        "secretEnv": {"DATABRICKS_CLIENT_ID": "id", "DATABRICKS_CLIENT_SECRET": "not-a-real-secret"},
        "credentials": {"aws": {"existingSecret": "aws-keys", "keys": {"AWS_ACCESS_KEY_ID": "id"}}},
        "serviceAccount": {"create": True, "annotations": {"team": "security"}},
        "imagePullSecrets": [{"name": "registry"}],
        "podLabels": {"team": "security"},
    },
    "everything-off": {
        "serviceMonitor": {"enabled": False},
        "prometheusRule": {"enabled": False},
        "serviceAccount": {"create": False, "name": "existing"},
    },
}


@pytest.fixture(scope="module")
def chart() -> helm.Chart:
    return helm.Chart.load(CHART)


def render(chart: helm.Chart, values: dict[str, Any], release: str = RELEASE) -> dict[str, dict[str, Any]]:
    """The rendered objects by kind (one object per kind in this chart), plus NOTES under "NOTES"."""
    rendered = chart.render(values, name=release, namespace=NAMESPACE, is_install=True)
    objects: dict[str, dict[str, Any]] = {}
    for path, text in rendered.items():
        if path.endswith("NOTES.txt"):
            objects["NOTES"] = {"text": text}
            continue
        for document in yaml.safe_load_all(text):
            if document:
                kind = document["kind"] + ("/dashboard" if document["metadata"]["name"].endswith("-dashboard") else "")
                assert kind not in objects, f"two {kind} objects"
                objects[kind] = document
    return objects


def container(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (found,) = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = found
    return result


def rendered_config(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(objects["ConfigMap"]["data"]["config.yaml"])
    return loaded


# ---- values and their schema -----------------------------------------------------------------------


def test_the_values_schema_is_a_valid_draft_7_schema() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))

    jsonschema.Draft7Validator.check_schema(schema)


@pytest.mark.parametrize("name", ["values.yaml", "ci/production-values.yaml"])
def test_values_validate_against_the_schema(name: str, chart: helm.Chart) -> None:
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    own = load_yaml(CHART / name)

    jsonschema.Draft7Validator(schema).validate(chart.merge_values(own))
    jsonschema.Draft7Validator(schema).validate(load_yaml(CHART / "values.yaml"))
    chart.validate_schema(own)  # helm's own validator, as `helm install` runs it


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"findings": {"mode": "token"}}, "tokenSecret/name"),
        ({"findings": {"mode": "off"}}, "findings/mode"),
        ({"config": {"server": {"bind": "127.0.0.1"}}}, "config/server/bind"),
        ({"serviceAccount": {"awsRoleArn": "my-role"}}, "awsRoleArn"),
        ({"persistance": {"enabled": False}}, "persistance"),
        ({"credentials": {"databricks": {"existingSecret": "s", "keys": {"not an env name": "k"}}}}, "not an env name"),
    ],
)
def test_the_schema_rejects_mistakes(chart: helm.Chart, override: dict[str, Any], complaint: str) -> None:
    with pytest.raises(helm.HelmValuesError, match=re.escape(complaint)):
        chart.render(override, name=RELEASE, namespace=NAMESPACE)


@pytest.mark.parametrize("name", VALUE_SETS)
def test_helm_lint_strict_has_nothing_to_say(name: str) -> None:
    report = helm.lint(CHART, VALUE_SETS[name], strict=True, namespace=NAMESPACE, kube_version=f"v{KUBERNETES_VERSION}")

    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


# ---- rendered manifests against Kubernetes' and the operator's schemas ----------------------------------


@pytest.mark.parametrize("name", VALUE_SETS)
def test_rendered_manifests_validate_against_their_schemas(chart: helm.Chart, name: str) -> None:
    objects = render(chart, VALUE_SETS[name])

    validated: set[str] = set()
    for kind, manifest in objects.items():
        if kind == "NOTES":
            continue
        if manifest["kind"] in BY_KIND:
            jsonschema.Draft7Validator(BY_KIND[manifest["kind"]]).validate(manifest)
        else:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        validated.add(manifest["kind"])
    assert {"ConfigMap", "Deployment", "Service"} <= validated


def test_kubernetes_validate_does_catch_a_broken_manifest(chart: helm.Chart) -> None:
    """The validator is live: a misspelt field and a wrong type fail."""
    deployment = render(chart, {})["Deployment"]
    deployment["spec"]["replica"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    del deployment["spec"]["replica"]
    deployment["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_operator_schemas_catch_a_misplaced_field(chart: helm.Chart) -> None:
    monitor = render(chart, {})["ServiceMonitor"]
    monitor["spec"]["endpoints"][0]["intervall"] = "60s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(monitor, BY_KIND["ServiceMonitor"])


# ---- the scrape job and the alert rules ------------------------------------------------------------


def test_the_rules_select_the_job_the_chart_scrapes_under() -> None:
    rules = RULES.read_text(encoding="utf-8")

    assert set(re.findall(r'job="([^"]+)"', rules)) == {JOB}


@pytest.mark.parametrize("name", ["defaults", "name-override", "fullname-override", "example"])
def test_the_job_label_is_stable_whatever_the_names(chart: helm.Chart, name: str) -> None:
    objects = render(chart, VALUE_SETS[name])
    service, monitor, deployment = objects["Service"], objects["ServiceMonitor"], objects["Deployment"]

    assert service["metadata"]["labels"][monitor["spec"]["jobLabel"]] == JOB
    selected = monitor["spec"]["selector"]["matchLabels"]
    assert selected.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert [p["name"] for p in service["spec"]["ports"]] == ["metrics"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("metrics", "/metrics")
    assert [p["name"] for p in container(objects)["ports"]] == ["metrics"]


def test_chart_files_are_byte_identical_copies() -> None:
    assert (CHART / "files" / "grants-auditor.rules.yaml").read_bytes() == RULES.read_bytes(), (
        "cp config/prometheus/grants-auditor.rules.yaml helm/grants-auditor/files/"
    )
    assert (CHART / "files" / "grants-auditor-dashboard.json").read_bytes() == DASHBOARD.read_bytes(), (
        "cp config/grafana/grants-auditor.json helm/grants-auditor/files/grants-auditor-dashboard.json"
    )


def test_the_prometheus_rule_is_the_tested_rules_file(chart: helm.Chart, tmp_path: Path) -> None:
    rule = render(chart, {})["PrometheusRule"]

    assert rule["spec"] == load_yaml(RULES)
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package 'prometheus'; .ci/run installs it)"
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(rule["spec"]), encoding="utf-8")
    result = subprocess.run([promtool, "check", "rules", str(spec)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_config_map_is_for_the_grafana_sidecar(chart: helm.Chart) -> None:
    assert "ConfigMap/dashboard" not in render(chart, {})
    dashboard = render(chart, example_values())["ConfigMap/dashboard"]

    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["namespace"] == "monitoring"
    assert json.loads(dashboard["data"]["grants-auditor.json"]) == json.loads(DASHBOARD.read_text(encoding="utf-8"))


# ---- the pod ---------------------------------------------------------------------------------------


def test_the_entrypoint_and_the_chart_args_make_the_run_command(chart: helm.Chart) -> None:
    (entrypoint,) = stages()[-1].all("ENTRYPOINT")
    args = container(render(chart, {}))["args"]
    command = entrypoint.exec_form()

    assert command[0] == "grants-auditor"
    parsed = build_parser().parse_args([*command[1:], *args])
    assert (parsed.config, parsed.log_level) == (CONFIG_PATH, "INFO")
    assert parsed.handler.__name__ == "run_daemon"


def test_the_pod_is_non_root_read_only_and_probed(chart: helm.Chart) -> None:
    objects = render(chart, {})
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    main = container(objects)

    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    assert main["securityContext"]["allowPrivilegeEscalation"] is False
    assert main["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False
    mounts = {m["name"]: m for m in main["volumeMounts"]}
    assert mounts["config"] == {"name": "config", "mountPath": "/etc/grants-auditor", "readOnly": True}
    env = {e["name"]: e.get("value") for e in main["env"]}
    assert env["HOME"] == mounts["state"]["mountPath"] and env["TMPDIR"] == mounts["tmp"]["mountPath"]
    config = rendered_config(objects)
    assert Path(config["state"]["path"]).parent == Path(mounts["state"]["mountPath"])
    service_port = objects["Service"]["spec"]["ports"][0]["port"]
    assert config["server"]["port"] == main["ports"][0]["containerPort"] == service_port


@pytest.mark.parametrize(
    ("persistent", "volume", "strategy"),
    [(True, "persistentVolumeClaim", "Recreate"), (False, "emptyDir", "RollingUpdate")],
)
def test_state_on_a_volume_claim_means_recreate(
    chart: helm.Chart, persistent: bool, volume: str, strategy: str
) -> None:
    objects = render(chart, {"persistence": {"enabled": persistent}})
    deployment = objects["Deployment"]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}

    assert volume in volumes["state"]
    assert deployment["spec"]["strategy"]["type"] == strategy
    assert deployment["spec"]["replicas"] == 1  # one writer of the SQLite store
    assert ("PersistentVolumeClaim" in objects) is persistent


def test_resources_leave_room_for_the_benchmarked_peak(chart: helm.Chart) -> None:
    """docs/benchmarks.md: a cycle over a 100,000-table metastore peaks near 850 MB resident."""
    resources = container(render(chart, {}))["resources"]

    def mebibytes(quantity: str) -> float:
        number, unit = re.fullmatch(r"([0-9.]+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
        return float(number) * (1024 if unit == "Gi" else 1)

    assert mebibytes(resources["limits"]["memory"]) * 1024 * 1024 >= 850e6
    assert mebibytes(resources["requests"]["memory"]) <= mebibytes(resources["limits"]["memory"])
    assert "cpu" not in resources["limits"]  # throttling a cycle only makes it miss its deadline


# ---- credentials, /findings, IRSA, NetworkPolicy ----------------------------------------------------


def test_every_variable_the_config_references_comes_from_a_secret(chart: helm.Chart) -> None:
    objects = render(chart, example_values())
    referenced = set(re.findall(r"\$\{(\w+)\}", objects["ConfigMap"]["data"]["config.yaml"]))
    from_secrets = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container(objects)["env"] if "valueFrom" in e}

    assert referenced == {"DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET"}
    assert referenced <= from_secrets.keys()
    assert from_secrets["DATABRICKS_CLIENT_SECRET"] == {"name": "grants-auditor-databricks", "key": "client-secret"}
    assert "Secret" not in objects  # the operator's Secrets are referenced, never created by the chart
    assert "envFrom" not in container(objects)


def test_aws_keys_from_an_existing_secret(chart: helm.Chart) -> None:
    values = {"credentials": {"aws": {"existingSecret": "aws-keys", "keys": {"AWS_SECRET_ACCESS_KEY": "secret"}}}}
    env = {e["name"]: e for e in container(render(chart, values))["env"]}

    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "aws-keys", "key": "secret"}
    assert "DATABRICKS_CLIENT_ID" not in env  # no Databricks Secret named in the defaults


def test_irsa_role_becomes_the_service_account_annotation(chart: helm.Chart) -> None:
    objects = render(chart, example_values())
    account = objects["ServiceAccount"]

    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/grants-auditor-read-iam"
    }
    assert objects["Deployment"]["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]
    assert "annotations" not in render(chart, {})["ServiceAccount"]["metadata"]


@pytest.mark.parametrize(
    ("findings", "served", "token_env"),
    [
        ({}, False, None),
        ({"mode": "disabled"}, False, None),
        ({"mode": "token", "tokenSecret": {"name": "findings", "key": "token"}}, True, "GRANTS_AUDITOR_FINDINGS_TOKEN"),
        ({"mode": "open"}, True, None),
    ],
)
def test_findings_is_off_unless_the_values_say_otherwise(
    chart: helm.Chart, tmp_path: Path, findings: dict[str, Any], served: bool, token_env: str | None
) -> None:
    objects = render(chart, {"findings": findings} if findings else {})
    config = tmp_path / "config.yaml"
    config.write_text(objects["ConfigMap"]["data"]["config.yaml"], encoding="utf-8")

    settings = load_settings(config, env={"DATABRICKS_CLIENT_ID": "id", "DATABRICKS_CLIENT_SECRET": "s3cr3t"})

    assert settings.server.findings is served
    assert settings.server.findings_token_env == token_env
    env = {e["name"]: e for e in container(objects)["env"]}
    if token_env:
        assert env[token_env]["valueFrom"]["secretKeyRef"] == {"name": "findings", "key": "token"}
    assert ("token" in objects["NOTES"]["text"]) is bool(token_env)


def test_the_example_config_is_a_valid_auditor_config(chart: helm.Chart, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(render(chart, example_values())["ConfigMap"]["data"]["config.yaml"], encoding="utf-8")

    settings = load_settings(config, env={"DATABRICKS_CLIENT_ID": "id", "DATABRICKS_CLIENT_SECRET": "s3cr3t"})

    (target,) = settings.targets
    assert target.aws is not None and target.aws.access_key_id is None  # IRSA: the SDK's default chain


def test_network_policy_admits_only_prometheus_on_the_metrics_port(chart: helm.Chart) -> None:
    assert "NetworkPolicy" not in render(chart, {})
    objects = render(chart, example_values())
    policy = objects["NetworkPolicy"]["spec"]

    assert policy["policyTypes"] == ["Ingress"]
    assert policy["podSelector"]["matchLabels"] == objects["Deployment"]["spec"]["selector"]["matchLabels"]
    (rule,) = policy["ingress"]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        }
    ]
    assert rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]


def test_notes_tell_the_job_and_warn_about_missing_pieces(chart: helm.Chart) -> None:
    defaults = render(chart, {})["NOTES"]["text"]
    example = render(chart, example_values())["NOTES"]["text"]

    assert f'job="{JOB}"' in defaults and f'job="{JOB}"' in example
    assert "no Databricks credentials" in defaults and "no Databricks credentials" not in example
    assert "docs/deploy.md" in defaults


# ---- the image ---------------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_on_one_pinned_slim_base() -> None:
    build, runtime = stages()

    assert build.name == "build" and runtime.name == "runtime"
    assert build.base == runtime.base
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", runtime.base), runtime.base
    (copy_wheels,) = runtime.all("COPY")
    assert copy_wheels.words()[0] == "--from=build"  # the runtime stage receives the wheel only
    copied = [w for c in build.all("COPY") for w in c.words()[:-1]]
    assert sorted(copied) == ["README.md", "auditor/", "pyproject.toml"]  # never the sandbox or the tests


def test_dockerfile_runs_non_root_with_a_healthcheck_labels_and_the_run_entrypoint() -> None:
    runtime = stages()[-1]
    env = {k: v for i in runtime.all("ENV") for k, _, v in (w.partition("=") for w in i.words())}

    (user,) = runtime.all("USER")
    assert user.arguments.split(":")[0] not in {"0", "root"} and user.arguments.split(":")[0].isdigit()
    (entrypoint,) = runtime.all("ENTRYPOINT")
    assert entrypoint.exec_form() == ["grants-auditor", "run"]
    (cmd,) = runtime.all("CMD")
    assert cmd.exec_form() == ["--config", CONFIG_PATH]
    (healthcheck,) = runtime.all("HEALTHCHECK")
    assert "/healthz" in healthcheck.arguments and "urllib" in healthcheck.arguments
    assert not any(tool in i.arguments for i in instructions() for tool in ("curl", "wget"))
    labels = " ".join(i.arguments for i in runtime.all("LABEL"))
    for key in ("title", "description", "version", "licenses", "base.name"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert env["HOME"] == "/var/lib/grants-auditor" and env["TMPDIR"] == "/tmp"
    (volume,) = runtime.all("VOLUME")
    assert sorted(volume.exec_form()) == ["/tmp", "/var/lib/grants-auditor"]
    assert [e.arguments for e in runtime.all("EXPOSE")] == ["9108"]


def test_dockerfile_follows_hadolints_rules() -> None:
    """No hadolint binary here: the rules it would apply to this file, checked one by one."""
    every = instructions()
    runs = [i.arguments for i in every if i.keyword == "RUN"]
    stage_names = {s.name for s in stages()}

    assert all(":" in s.base and not s.base.endswith(":latest") for s in stages())  # DL3006, DL3007
    assert all(w.arguments.startswith("/") for w in every if w.keyword == "WORKDIR")  # DL3000
    assert not any(re.search(r"(^|&&|;)\s*cd ", r) for r in runs)  # DL3003: WORKDIR, not cd
    assert not any("sudo " in r for r in runs)  # DL3004
    assert not any("apt-get" in r or "apk " in r for r in runs)  # DL3008/DL3009/DL3015: no OS packages
    assert all(i.keyword != "MAINTAINER" for i in every)  # DL4000
    for keyword in ("ENTRYPOINT", "CMD"):  # DL3025, DL4003, DL4004
        per_stage = [s.all(keyword) for s in stages()]
        assert all(len(found) <= 1 for found in per_stage)
        for found in per_stage:
            for instruction in found:
                instruction.exec_form()
    assert all(i.keyword != "ADD" for i in every)  # DL3020: COPY for files
    copy_flags = [w for i in every if i.keyword == "COPY" for w in i.words() if w.startswith("--from=")]
    copies_from = [flag.split("=", 1)[1] for flag in copy_flags]
    assert set(copies_from) <= stage_names  # DL3022
    pip_runs = [r for r in runs if "pip" in r]
    assert pip_runs and all("PIP_NO_CACHE_DIR=1" in i.arguments for s in stages() for i in s.all("ENV"))  # DL3042
    for command in pip_runs:  # DL3013: pip installs only the built wheel (its dependencies pinned by pyproject)
        for installed in re.findall(r"pip\"? install ([^&]+)", command):
            assert all(a.startswith("-") or a.endswith(".whl") for a in installed.split()), installed
    assert not any(" | " in r for r in runs)  # DL4006: no pipes, so no pipefail needed
    assert len([i for i in every if i.keyword == "HEALTHCHECK"]) == 1  # DL3012


# ---- the deployment guide ------------------------------------------------------------------------------


def guide_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", DEPLOY_GUIDE.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_the_guides_values_install_and_make_a_valid_config(chart: helm.Chart, tmp_path: Path) -> None:
    (values_block,) = [b for b in guide_blocks("yaml") if b.startswith("image:")]
    values = yaml.safe_load(values_block)

    chart.validate_schema(values)
    objects = render(chart, values, release="grants-auditor")  # `helm install grants-auditor ... -n security`
    config = tmp_path / "config.yaml"
    config.write_text(objects["ConfigMap"]["data"]["config.yaml"], encoding="utf-8")
    settings = load_settings(config, env={"DATABRICKS_CLIENT_ID": "id", "DATABRICKS_CLIENT_SECRET": "s3cr3t"})
    assert settings.server.findings_token_env is not None
    account = objects["ServiceAccount"]["metadata"]
    assert account["name"] == "grants-auditor"  # the name the guide's IAM trust policy names
    assert account["annotations"]["eks.amazonaws.com/role-arn"] == values["serviceAccount"]["awsRoleArn"]
    guide = DEPLOY_GUIDE.read_text(encoding="utf-8")
    for kind, name in [("Deployment", "deployment"), ("Service", "svc")]:
        assert f"{name}/{objects[kind]['metadata']['name']}" in guide
    for block in guide_blocks("json"):
        json.loads(block)
    assert f"system:serviceaccount:{NAMESPACE}:{account['name']}" in guide
