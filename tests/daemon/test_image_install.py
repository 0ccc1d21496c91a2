"""The image's install path, without Docker: the Dockerfile's own steps, then the result run as the image runs it.

No Docker daemon runs here, so this test performs what the Dockerfile says, read from the Dockerfile itself: the
build stage's COPY and RUN steps (a wheel of the product alone), the runtime stage's RUN steps (a clean venv with
the wheel and its runtime dependencies, pip and setuptools and the dependencies' test suites removed, byte-compiled)
and its ENV. Paths are mapped into a scratch directory; the user-creation step is replaced by a numeric uid, as
Kubernetes' ``runAsUser`` does.

Then the image's ENTRYPOINT and CMD run as that non-root uid in a private mount namespace where the root filesystem
is read-only (so the code and the config are, as with ``readOnlyRootFilesystem``), with state and temp on tmpfs
volumes, against the sandbox over loopback. The image's HEALTHCHECK command must pass and a cycle must finish
(/readyz). Tests run as root, so without the namespace nothing here would prove read-only or non-root.

Slow (the clean install resolves and installs every runtime dependency: 1-2 minutes on a loaded 2-core machine),
so the default run deselects it; .ci/run runs it on its own with --run-slow.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from auditor_sandbox import Sandbox
from tests.daemon.dockerfile import ROOT, Stage, stages

pytestmark = pytest.mark.slow

UID = 10001  # the image's USER
IMAGE_CONFIG = "/etc/grants-auditor/config.yaml"

# The one step not performed: the image creates its user; here a numeric uid without a passwd entry runs the
# service, as Kubernetes runs an image with runAsUser.
_SKIPPED_STEP = "useradd"

# In a private mount namespace: state and temp become tmpfs volumes, then the root filesystem turns read-only
# (a bind remount flag on this namespace's root mount only; the host's mount is untouched).
_READ_ONLY_SCRIPT = """
set -eu
mount --make-rprivate /
mount -t tmpfs -o uid={uid},gid={uid},mode=0700 tmpfs "$STATE_DIR"
mount -t tmpfs -o mode=1777 tmpfs "$TMP_DIR"
mount -o remount,bind,ro /
if touch "$VIRTUAL_ENV/probe" 2>/dev/null || touch "$CONFIG_DIR/probe" 2>/dev/null; then
  echo "the code or the config is writable" >&2
  exit 97
fi
cd "$STATE_DIR"
exec setpriv --reuid={uid} --regid={uid} --clear-groups --no-new-privs "$@"
"""


def _build_stage(dockerfile_stages: list[Stage]) -> Stage:
    (build,) = [s for s in dockerfile_stages if s.name == "build"]
    return build


def _runtime_stage(dockerfile_stages: list[Stage]) -> Stage:
    return dockerfile_stages[-1]


def _env(stage: Stage, mapped: dict[str, str]) -> dict[str, str]:
    """The stage's ENV, with image paths mapped and $VAR references expanded in order."""
    env: dict[str, str] = {}
    for instruction in stage.all("ENV"):
        for pair in instruction.words():
            key, _, value = pair.partition("=")
            for image_path, local in mapped.items():
                value = value.replace(image_path, local)
            env[key] = value.replace("$PATH", os.environ["PATH"])
    return env


def _run_steps(stage: Stage, *, cwd: Path, env: dict[str, str], mapped: dict[str, str]) -> None:
    for step in stage.all("RUN"):
        if _SKIPPED_STEP in step.arguments:
            continue
        command = step.arguments
        for image_path, local in mapped.items():
            command = command.replace(image_path, local)
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"RUN {command}\n{done.stdout}\n{done.stderr}"


def _copy_sources(stage: Stage, destination: Path) -> None:
    """The build stage's COPY steps, from the repository (the context .dockerignore allows)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.sqlite", "*.sqlite-*")
    for step in stage.all("COPY"):
        *sources, target = step.words()
        assert not any(s.startswith("--") for s in sources), f"unexpected COPY flags in the build stage: {step}"
        into = destination / target
        for source in sources:
            origin = ROOT / source.rstrip("/")
            assert origin.exists() and not source.startswith("sandbox"), source
            if origin.is_dir():
                shutil.copytree(origin, into if source.endswith("/") else into / origin.name, ignore=ignore)
            else:
                into.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, into / origin.name)


@pytest.fixture(scope="module")
def image_root() -> Iterator[Path]:
    """A world-readable scratch directory (pytest's tmp_path is private to root) standing in for the image."""
    root = Path(tempfile.mkdtemp(prefix="grants-auditor-image-", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def installed(image_root: Path) -> dict[str, str]:
    """Perform the Dockerfile's build and runtime install steps; return the runtime stage's environment."""
    dockerfile_stages = stages()
    build, runtime = _build_stage(dockerfile_stages), _runtime_stage(dockerfile_stages)
    assert build.base == runtime.base

    # `python` is the base image's interpreter: here, the interpreter this venv was made from.
    bin_dir = image_root / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}")
    base_env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    base_env.pop("VIRTUAL_ENV", None)

    wheels = image_root / "wheels"
    source = image_root / "src"
    _copy_sources(build, source)
    assert not (source / "sandbox").exists()
    _run_steps(build, cwd=source, env={**base_env, **_env(build, {})}, mapped={"/wheels": str(wheels)})
    assert [w.name for w in wheels.iterdir()] == ["grants_auditor-0.1.0-py3-none-any.whl"]

    (copy_wheels,) = [c for c in runtime.all("COPY") if c.words()[0] == "--from=build"]
    assert copy_wheels.words()[1:] == ["/wheels/", "/tmp/wheels/"]
    mapped = {"/opt/grants-auditor": str(image_root / "venv"), "/tmp/wheels": str(wheels)}
    env = _env(runtime, mapped)
    _run_steps(runtime, cwd=image_root, env={**base_env, **env, "PATH": f"{bin_dir}:{env['PATH']}"}, mapped=mapped)
    assert not wheels.exists()  # the install step cleans up after itself
    return {**env, "VIRTUAL_ENV": str(image_root / "venv")}


def _site_packages(venv: Path) -> Path:
    (site,) = venv.glob("lib/python3*/site-packages")
    return site


def test_the_install_holds_the_product_and_its_runtime_dependencies_only(installed: dict[str, str]) -> None:
    venv = Path(installed["VIRTUAL_ENV"])
    site = _site_packages(venv)
    script = "import importlib.metadata as m, json; print(json.dumps([d.name for d in m.distributions()]))"
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script],
        capture_output=True,
        text=True,
        check=True,
    )
    names = {name.lower().replace("_", "-") for name in json.loads(listed.stdout)}

    assert "grants-auditor" in names
    assert not names & {"grants-auditor-sandbox", "moto", "flask", "werkzeug", "pytest", "hypothesis", "pip"}
    assert not names & {"setuptools", "mypy", "ruff"}
    assert not (site / "auditor_sandbox").exists()
    assert not list(site.glob("*/tests")) and not list(site.glob("*/*/tests"))
    assert list((site / "auditor").rglob("*.pyc")), "the code must be byte-compiled at build time"
    assert list((site / "auditor" / "rules").glob("*.yaml")), "the rule packs are package data"


@contextlib.contextmanager
def _service(installed: dict[str, str], image_root: Path, config: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    (runtime,) = stages()[-1:]
    (entrypoint,) = runtime.all("ENTRYPOINT")
    (cmd,) = runtime.all("CMD")
    arguments = [config.as_posix() if a == IMAGE_CONFIG else a for a in cmd.exec_form()]
    assert arguments != cmd.exec_form(), "CMD names the image's config path"
    state, tmp = image_root / "state", image_root / "tmp"
    state.mkdir()
    tmp.mkdir()
    env = {
        **installed,
        "HOME": str(state) if installed["HOME"] == "/var/lib/grants-auditor" else installed["HOME"],
        "TMPDIR": str(tmp) if installed["TMPDIR"] == "/tmp" else installed["TMPDIR"],
        "STATE_DIR": str(state),
        "TMP_DIR": str(tmp),
        "CONFIG_DIR": str(config.parent),
        "LANG": "C.UTF-8",
    }
    (workdir,) = [w.arguments for w in runtime.all("WORKDIR")][-1:]
    assert workdir == "/var/lib/grants-auditor" and installed["HOME"] == workdir
    script = _READ_ONLY_SCRIPT.format(uid=UID)
    in_namespace = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]
    process = subprocess.Popen(
        [*in_namespace, *entrypoint.exec_form(), *arguments],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    started: list[str] = []

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            with contextlib.suppress(ValueError, AttributeError):
                event = json.loads(line)
                if event.get("event") == "daemon_started":
                    started.append(event["url"])

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while not started:
            assert process.poll() is None, f"the service exited ({process.returncode}):\n{''.join(lines)}"
            assert time.monotonic() < deadline, f"the service did not start:\n{''.join(lines)}"
            time.sleep(0.1)
        yield process, started[0]
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        reader.join(timeout=10)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _uids(pid: int) -> list[int]:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return [int(u) for u in line.split()[1:]]
    raise AssertionError("no Uid line")


def test_the_installed_service_runs_non_root_on_a_read_only_root_and_answers_its_healthcheck(
    installed: dict[str, str], image_root: Path
) -> None:
    if os.geteuid() != 0:
        pytest.fail("this test needs root (tests run as root; CI does) to make a mount namespace and switch user")
    with Sandbox.start(scenario="healthy", port=0) as sandbox:
        config_dir = image_root / "etc"
        config_dir.mkdir()
        config_dir.chmod(0o755)
        settings = sandbox.config_dict(auth="pat")
        settings["server"] = {"bind": "127.0.0.1", "port": 0}
        settings["state"] = {"path": str(image_root / "state" / "state.sqlite")}
        for target in settings["targets"]:
            target["schedule"] = {"interval_seconds": 3600, "jitter_seconds": 0}
        config = config_dir / "config.yaml"
        config.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
        config.chmod(0o644)

        with _service(installed, image_root, config) as (process, url):
            assert _uids(process.pid) == [UID] * 4  # real, effective, saved and filesystem uid
            deadline = time.monotonic() + 120
            while _status(f"{url}/readyz") != 200:  # a whole cycle: collectors, SQL connector, boto3, the store
                assert process.poll() is None, "the service exited"
                assert time.monotonic() < deadline, "no cycle finished"
                time.sleep(0.2)

            (runtime,) = stages()[-1:]
            (healthcheck,) = runtime.all("HEALTHCHECK")
            command = shlex.split(healthcheck.arguments)
            exec_form = json.loads(healthcheck.arguments[healthcheck.arguments.index("CMD") + 3 :].strip())
            assert "curl" not in command and "wget" not in command
            probe = [a.replace("http://127.0.0.1:9108", url) for a in exec_form]
            assert probe != exec_form, "the HEALTHCHECK asks /healthz on the default port"
            python = str(Path(installed["VIRTUAL_ENV"]) / "bin" / probe[0])
            checked = subprocess.run(
                ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", python, *probe[1:]],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert checked.returncode == 0, checked.stderr

            process.terminate()
            assert process.wait(timeout=60) == 0, "SIGTERM must stop the service cleanly"
