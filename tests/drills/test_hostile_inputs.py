"""Hostile-input drill (quick mode): every file the CLI reads, mangled, gives one clear error and exit 2.

Hypothesis mutates the shipped valid files (configs, rule packs, snapshots): byte flips, truncation, stray
bytes, latin-1 and UTF-16 re-encodings, duplicated lines. Hand-made cases add what mutation rarely finds:
5,000-deep nesting, alias bombs, a recursive alias, 1 MB values, duplicate keys, FIFOs, directories, devices.

Each case runs the real CLI entry point (`main`) in a forked child of the test process, so it is as fast as a
call in process, yet a hang is killed after a timeout and the child's peak RSS is measured. A handful of cases
also go through the installed console script in a subprocess.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.cli import main

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = [ROOT / "config" / "example.yaml", *sorted((ROOT / "config" / "examples").glob("*.yaml"))]
PACKS = sorted((ROOT / "auditor" / "rules").glob("*.yaml"))
SNAPSHOTS = sorted((ROOT / "examples" / "snapshots").glob("*.json"))

# the shipped configs name these; the host is a closed local port so nothing could ever be contacted
ENV = {
    "DATABRICKS_HOST": "http://127.0.0.1:9",
    "DATABRICKS_TOKEN": "dapi-drill",
    "DATABRICKS_WAREHOUSE_ID": "abc123",
    "AUDITOR_CLIENT_ID": "5e9e0003-0000-4000-8000-000000000003",
    "AUDITOR_CLIENT_SECRET": "drill-secret",
    "GRANTS_AUDITOR_CLIENT_ID": "5e9e0003-0000-4000-8000-000000000003",
    "GRANTS_AUDITOR_CLIENT_SECRET": "drill-secret",
}

MAX_SECONDS = 2.0  # per case, for any input up to 1 MB
MAX_EXTRA_RSS = 100 * 1024 * 1024  # bytes above the process the case started from
MAX_MESSAGE = 2_000  # characters of the error line
KILL_AFTER = 10.0  # a case still running then is a hang

# Measuring (e.g. the same drill against an older tree): every outcome is appended as a JSON line to the
# ledger, and with MEASURE_ONLY nothing is asserted, so Hypothesis draws the very same cases whatever happens.
LEDGER = os.environ.get("HOSTILE_DRILL_LEDGER")
MEASURE_ONLY = os.environ.get("HOSTILE_DRILL_MEASURE_ONLY") == "1"


@dataclass(frozen=True)
class Outcome:
    code: int | None  # None: the child raised, died or was killed
    stderr: str
    traceback: str
    seconds: float
    extra_rss: int  # the child's peak RSS above its RSS when the case started, in bytes
    hung: bool = False


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _child(argv: list[str], write_end: int) -> None:
    """Runs in the forked child: call the CLI, report through the pipe, never return."""
    result: dict[str, object] = {"code": None, "stderr": "", "traceback": "", "start_rss": _rss_bytes()}
    try:
        os.environ.update(ENV)
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/statm", encoding="ascii") as statm:
            vsize = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (vsize + 1024 * 1024 * 1024, hard))  # a bomb must not take the host
        err, out = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                result["code"] = main(argv)
        except BaseException:  # the drill records whatever escapes
            result["traceback"] = traceback.format_exc()[-4000:]
        result["stderr"] = err.getvalue()[:100_000]
        payload = json.dumps(result).encode()
        view = memoryview(payload)
        while view:
            view = view[os.write(write_end, view) :]
    finally:
        os._exit(0)


def run_cli(argv: list[str]) -> Outcome:
    """`main(argv)` in a forked child with a kill timeout; its exit code, stderr, time and extra memory."""
    sys.stdout.flush()
    sys.stderr.flush()
    baseline = _rss_bytes()
    read_end, write_end = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_end)
        _child(argv, write_end)
    os.close(write_end)
    chunks: list[bytes] = []
    hung = False
    try:
        while True:
            remaining = started + KILL_AFTER - time.monotonic()
            if remaining <= 0 or not select.select([read_end], [], [], remaining)[0]:
                hung = True
                os.kill(pid, signal.SIGKILL)
                break
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        _, _, usage = os.wait4(pid, 0)
    seconds = time.monotonic() - started
    peak = usage.ru_maxrss * 1024
    if hung or not chunks:
        outcome = Outcome(None, "", "" if hung else "the child died", seconds, max(0, peak - baseline), hung=hung)
    else:
        result = json.loads(b"".join(chunks))
        extra = max(0, peak - result["start_rss"])
        outcome = Outcome(result["code"], result["stderr"], result["traceback"], seconds, extra)
    if LEDGER:
        _record(argv, outcome)
    return outcome


def _record(argv: list[str], outcome: Outcome) -> None:
    entry = {
        "argv": [arg[-80:] for arg in argv],
        "code": outcome.code,
        "hung": outcome.hung,
        "traceback": bool(outcome.traceback) or "Traceback" in outcome.stderr,
        "traceback_tail": outcome.traceback.strip().splitlines()[-1][:200] if outcome.traceback else "",
        "seconds": round(outcome.seconds, 3),
        "extra_rss_mb": round(outcome.extra_rss / 2**20, 1),
        "message_chars": len(outcome.stderr),
        "raw_control": any(not (ch.isprintable() or ch in " \n") for ch in outcome.stderr),
    }
    with open(str(LEDGER), "a", encoding="utf-8") as ledger:
        ledger.write(json.dumps(entry) + "\n")


def assert_clear_error(
    outcome: Outcome, path: Path | str, *, line: int | None = None, field: str | None = None
) -> None:
    """Exit 2 with one bounded line naming the file (and line and field where they mean something), in time."""
    if MEASURE_ONLY:
        return
    assert not outcome.hung, f"hang: {path}"
    assert not outcome.traceback, outcome.traceback
    assert outcome.code == 2, (outcome.code, outcome.stderr[:500])
    assert_bounded(outcome)
    message = outcome.stderr
    assert message.startswith(f"grants-auditor: error: {path}"), message[:500]
    if line is not None:
        assert f"{path}:{line}:" in message, message
    if field is not None:
        assert f" {field}:" in message, message


def assert_bounded(outcome: Outcome) -> None:
    if MEASURE_ONLY:
        return
    message = outcome.stderr
    assert "Traceback" not in message
    assert len(message) <= MAX_MESSAGE, f"{len(message)} characters"
    assert not message or (message.count("\n") == 1 and message.endswith("\n")), repr(message[:500])
    assert all(ch.isprintable() or ch in " \n" for ch in message), repr(message[:500])
    assert outcome.seconds < MAX_SECONDS, f"{outcome.seconds:.2f} s"
    assert outcome.extra_rss < MAX_EXTRA_RSS, f"{outcome.extra_rss / 2**20:.0f} MB"


# ---- the entry points ------------------------------------------------------------------------------------


def config_validate(path: Path | str) -> Outcome:
    return run_cli(["config", "validate", str(path)])


def check_config(path: Path | str) -> Outcome:
    return run_cli(["check", "--config", str(path)])


def rules_validate(path: Path | str) -> Outcome:
    return run_cli(["rules", "validate", str(path)])


def check_with_pack_dir(directory: Path | str) -> Outcome:
    return run_cli(["check", "--snapshot", str(SNAPSHOTS[0]), "--rule-dir", str(directory)])


def check_snapshot(path: Path | str) -> Outcome:
    return run_cli(["check", "--snapshot", str(path)])


ENTRY_POINTS = {
    "config validate": config_validate,
    "check --config": check_config,
    "rules validate": rules_validate,
    "check --snapshot": check_snapshot,
}


# ---- mutations of the shipped files ----------------------------------------------------------------------

STRAY = [b"\xff", b"\xc3", b"\x00", b"\x0b", b"\x1b[31m", b"\t", b"&a ", b"*a", b"*zz", b"{", b"[", b"]", b":", b"- "]
STRAY += [b"'", b'"', b"\n", b"!!python/object:os.system ", b"<<: ", b"\xe2\x80\xa8", b"\\", b"%YAML 1.1\n---\n"]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[Path]) -> tuple[str, bytes]:
    seed = draw(st.sampled_from(seeds))
    data = seed.read_bytes()
    mutation = draw(
        st.sampled_from(["flip", "truncate", "insert", "delete", "duplicate_line", "latin1", "utf16", "repeat"])
    )
    at = draw(st.integers(0, len(data) - 1))
    if mutation == "flip":
        data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    elif mutation == "truncate":
        data = data[:at]
    elif mutation == "insert":
        data = data[:at] + draw(st.sampled_from(STRAY)) + data[at:]
    elif mutation == "delete":
        data = data[:at] + data[at + draw(st.integers(1, 64)) :]
    elif mutation == "duplicate_line":
        lines = data.splitlines(keepends=True)
        index = draw(st.integers(0, len(lines) - 1))
        data = b"".join([*lines[: index + 1], lines[index], *lines[index + 1 :]])
    elif mutation == "latin1":
        data = data[:at] + "é".encode("latin-1") + data[at:]
    elif mutation == "utf16":
        data = data.decode("utf-8").encode(draw(st.sampled_from(["utf-16", "utf-16-le", "utf-32"])))
    else:  # one character repeated into a huge value
        data = data[:at] + data[at : at + 1] * draw(st.sampled_from([1_000, 100_000, 1_000_000])) + data[at:]
    return f"{seed.stem}-{mutation}-{at}", data


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the cases; first, one good run of each entry point, so children fork with modules imported."""
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        main(["rules", "validate"])
        main(["check", "--snapshot", str(SNAPSHOTS[0])])
    return tmp_path_factory.mktemp("hostile")


_counter = iter(range(10**9))


def write_case(directory: Path, name: str, data: bytes, suffix: str) -> Path:
    path = directory / f"{next(_counter):04d}-{name}{suffix}"
    path.write_bytes(data)
    return path


DRILL = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@DRILL
@given(case=mutated(CONFIGS))
def test_mutated_configs_pass_or_fail_clearly(workdir: Path, case: tuple[str, bytes]) -> None:
    path = write_case(workdir, *case, ".yaml")
    outcome = config_validate(path)
    if outcome.code == 0:  # the mutation left a valid file
        assert_bounded(outcome)
    else:
        assert_clear_error(outcome, path)


@DRILL
@given(case=mutated(PACKS))
def test_mutated_rule_packs_pass_or_fail_clearly(workdir: Path, case: tuple[str, bytes]) -> None:
    path = write_case(workdir, *case, ".yaml")
    outcome = rules_validate(path)
    if outcome.code == 0:  # the mutation left a valid file
        assert_bounded(outcome)
    else:
        assert_clear_error(outcome, path)


@DRILL
@given(case=mutated(SNAPSHOTS))
def test_mutated_snapshots_evaluate_or_fail_clearly(workdir: Path, case: tuple[str, bytes]) -> None:
    path = write_case(workdir, *case, ".json")
    outcome = check_snapshot(path)
    if outcome.code in (0, 1, 3):  # the mutation left a valid snapshot: it was evaluated
        assert_bounded(outcome)
    else:
        assert_clear_error(outcome, path)


# ---- hand-made hostile YAML ------------------------------------------------------------------------------


def _bomb(levels: int, width: int) -> bytes:
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return ("\n".join(lines) + "\n").encode()


def _deep_block(depth: int) -> bytes:
    return b"".join(b" " * i + b"k:\n" for i in range(depth)) + b" " * depth + b"v\n"


HOSTILE_YAML: dict[str, tuple[bytes, int | None]] = {
    # name: (content, the line the error must name, when there is one)
    "stray-0xff": (b"targets: []\n\xff", 2),
    "latin-1": ("targets:\n  - name: café\n".encode("latin-1"), 2),
    "utf-16": ("targets: []\n".encode("utf-16"), 1),
    "utf-16-le-no-bom": ("targets: []\n".encode("utf-16-le"), 1),
    "utf-8-bom": (b"\xef\xbb\xbftargets: []\n", 1),
    "nul-byte": (b"targets: []\n\x00\n", 2),
    "vertical-tab": (b"targets: [\x0b]\n", 1),
    "deep-flow-5000": (b"targets: " + b"[" * 5000 + b"]" * 5000 + b"\n", 1),
    "deep-flow-mappings-5000": (b"targets: " + b"{a: " * 5000 + b"1" + b"}" * 5000 + b"\n", 1),
    "deep-block-100": (_deep_block(100), 65),
    "deep-block-1000": (_deep_block(1000), 65),
    "alias-bomb-9x9": (_bomb(9, 9), None),
    "alias-bomb-20x2": (_bomb(20, 2), None),
    "alias-bomb-wide": (_bomb(3, 200), None),
    "self-referencing-alias": (b"zz: &a [*a]\n", 1),
    "self-referencing-mapping": (b"targets: &t\n  - x: *t\n", 2),
    "many-aliases": (b"a: &a 1\nb: [" + b", ".join([b"*a"] * 5000) + b"]\n", 2),
    "undefined-alias": (b"targets: *nowhere\n", 1),
    "duplicate-key": (b"targets: []\nrule_dirs: []\ntargets: []\n", 3),
    "duplicate-nested-key": (b"targets:\n  - name: a\n    name: b\n", 3),
    "huge-key": (b"x" * 1_000_000 + b": 1\n", 1),
    "huge-value-with-newlines": (b"targets:\n  - name: '" + b"a\\nb" * 200_000 + b"'\n", None),
    "huge-int": (b"max_concurrent_targets: " + b"9" * 500_000 + b"\n", 1),
    "many-values": (b"targets: [" + b",".join([b"1"] * 300_000) + b"]\n", 1),
    "python-tag": (b"targets: !!python/object/apply:os.system ['true']\n", 1),
    "binary-tag": (b"targets: !!binary '%%%'\n", 1),
    "ansi-escape-key": (b"\x1b[2J: 1\n", 1),
    "tab-indent": (b"targets:\n\t- a\n", 2),
    "two-documents": (b"targets: []\n---\ntargets: []\n", 2),
    "only-a-scalar": (b"just text\n", 1),
    "empty": (b"", 1),
    "over-1-MiB": (b"# " + b"x" * (1024 * 1024) + b"\ntargets: []\n", None),
}


def _hostile_yaml_cases() -> Iterator[tuple[str, str]]:
    for name in HOSTILE_YAML:
        for entry in ("config validate", "check --config", "rules validate", "check --rule-dir DIR"):
            yield name, entry


@pytest.mark.parametrize(("name", "entry"), list(_hostile_yaml_cases()))
def test_hostile_yaml_gives_one_clear_error(workdir: Path, name: str, entry: str) -> None:
    content, line = HOSTILE_YAML[name]
    if entry == "check --rule-dir DIR":
        directory = workdir / f"packs-{name}"
        directory.mkdir(exist_ok=True)
        path = write_case(directory, name, content, ".yaml")
        outcome = check_with_pack_dir(directory)
    else:
        path = write_case(workdir, name, content, ".yaml")
        outcome = {
            "config validate": config_validate,
            "check --config": check_config,
            "rules validate": rules_validate,
        }[entry](path)
    assert_clear_error(outcome, path, line=line)


def test_the_error_names_the_field_inside_the_document(workdir: Path) -> None:
    path = write_case(workdir, "nested", b"targets:\n  - name: a\n    databricks: {host: x, host: y}\n", ".yaml")
    assert_clear_error(config_validate(path), path, line=3, field="targets[0].databricks.host")
    path = write_case(workdir, "recursive", b"targets:\n  - name: &n [a, *n]\n", ".yaml")
    assert_clear_error(config_validate(path), path, line=2, field="targets[0].name[1]")


def test_a_huge_pack_name_gives_a_bounded_single_line(workdir: Path) -> None:
    """The unknown-pack error quotes the name: here 200,000 characters full of newlines and escapes."""
    config = CONFIGS[0].read_text(encoding="utf-8")
    first = next(line for line in config.splitlines() if line.strip().startswith("- pack:"))
    name = "n\n\x0b\x1b" * 50_000
    hostile = config.replace(first, first.split("pack:")[0] + f"pack: {json.dumps(name)}")
    path = write_case(workdir, "huge-pack-name", hostile.encode(), ".yaml")
    outcome = config_validate(path)
    assert_clear_error(
        outcome, path, line=config.splitlines().index(first) + 1, field="targets[0].integrations[0].pack"
    )
    assert MEASURE_ONLY or ("unknown pack" in outcome.stderr and "characters)" in outcome.stderr)


# ---- hand-made hostile JSON snapshots --------------------------------------------------------------------

HEALTHY = SNAPSHOTS[[p.stem for p in SNAPSHOTS].index("healthy")].read_bytes()

HOSTILE_JSON: dict[str, tuple[bytes, int | None]] = {
    "stray-0xff": (HEALTHY[:200] + b"\xff" + HEALTHY[200:], HEALTHY[:200].count(b"\n") + 1),
    "utf-16": (HEALTHY.decode().encode("utf-16"), 1),
    "utf-8-bom": (b"\xef\xbb\xbf" + HEALTHY, 1),
    "latin-1": (HEALTHY.replace(b'"target": "', '"target": "é'.encode("latin-1"), 1), None),
    "deep-arrays-5000": (b"[" * 5000 + b"]" * 5000, None),
    "deep-objects-5000": (b'{"a":' * 5000 + b"1" + b"}" * 5000, None),
    "deep-inside-a-field": (HEALTHY.replace(b"{", b'{"x": ' + b"[" * 200 + b"]" * 200 + b",", 1), None),
    "duplicate-key": (b'{"target": "a", "target": "b"}', None),
    "duplicate-nested-key": (HEALTHY.replace(b'"target":', b'"grants": [], "grants": [], "target":', 1), None),
    "huge-string": (HEALTHY.replace(b'"collected_at": "', b'"collected_at": "' + b"\\n\\u000b" * 100_000, 1), None),
    "huge-int": (HEALTHY.replace(b"{", b'{"x": ' + b"9" * 100_000 + b",", 1), None),
    "truncated": (HEALTHY[: len(HEALTHY) // 2], None),
    "not-an-object": (b"[1, 2, 3]", None),
    "nan": (b'{"target": NaN}', None),
    "empty": (b"", 1),
    "control-character-in-string": (b'{"target": "a\x01b"}', 1),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_JSON))
def test_hostile_snapshots_give_one_clear_error(workdir: Path, name: str) -> None:
    content, line = HOSTILE_JSON[name]
    path = write_case(workdir, name, content, ".json")
    assert_clear_error(check_snapshot(path), path, line=line)


# ---- paths that are not regular files --------------------------------------------------------------------


@pytest.fixture(scope="module")
def odd_paths(workdir: Path) -> dict[str, Path]:
    fifo = workdir / "fifo.yaml"
    os.mkfifo(fifo)
    directory = workdir / "directory.yaml"
    directory.mkdir()
    to_zero = workdir / "zero.yaml"
    to_zero.symlink_to("/dev/zero")
    dangling = workdir / "dangling.yaml"
    dangling.symlink_to(workdir / "nowhere")
    return {
        "fifo": fifo,
        "directory": directory,
        "dev-zero": Path("/dev/zero"),
        "dev-urandom": Path("/dev/urandom"),
        "symlink-to-dev-zero": to_zero,
        "dangling-symlink": dangling,
        "missing": workdir / "missing.yaml",
    }


ODD = ["fifo", "directory", "dev-zero", "dev-urandom", "symlink-to-dev-zero", "dangling-symlink", "missing"]


@pytest.mark.parametrize("name", ODD)
@pytest.mark.parametrize("entry", ["config validate", "check --config", "check --snapshot"])
def test_paths_that_are_not_regular_files_are_refused_at_once(
    odd_paths: dict[str, Path], name: str, entry: str
) -> None:
    path = odd_paths[name]
    run = {"config validate": config_validate, "check --config": check_config, "check --snapshot": check_snapshot}
    assert_clear_error(run[entry](path), path)


@pytest.mark.parametrize("name", ["fifo", "symlink-to-dev-zero"])
def test_odd_files_inside_a_rules_directory_are_refused(workdir: Path, name: str) -> None:
    directory = workdir / f"rules-with-{name}"
    directory.mkdir()
    odd = directory / "zz.yaml"
    if name == "fifo":
        os.mkfifo(odd)
    else:
        odd.symlink_to("/dev/zero")
    assert_clear_error(check_with_pack_dir(directory), odd)
    assert_clear_error(rules_validate(directory), odd)


# ---- through the installed console script --------------------------------------------------------------


def _console_cases(workdir: Path, odd_paths: dict[str, Path]) -> list[tuple[list[str], Path]]:
    def case(name: str, content: bytes, suffix: str = ".yaml") -> Path:
        return write_case(workdir, f"console-{name}", content, suffix)

    bomb = case("bomb", _bomb(9, 9))
    deep = case("deep", HOSTILE_YAML["deep-flow-5000"][0])
    fifo = odd_paths["fifo"]
    return [
        (["config", "validate", str(bomb)], bomb),
        (["check", "--config", str(fifo)], fifo),
        (["rules", "validate", str(bomb)], bomb),
        (["config", "validate", str(deep)], deep),
        (["config", "validate", str(case("selfref", b"zz: &a [*a]\n"))], workdir),
        (["check", "--snapshot", str(fifo)], fifo),
        (["check", "--snapshot", str(case("deep", HOSTILE_JSON["deep-arrays-5000"][0], ".json"))], workdir),
    ]


def run_script(argv: list[str], timeout: float = 30.0) -> tuple[int | None, str, float, int]:
    """The installed console script in a subprocess: exit code (None if killed), stderr, seconds, peak RSS bytes.

    The peak is the child's VmHWM, polled while it runs (getrusage would report at least the RSS of the process
    that spawned it, since Linux carries the peak across exec).
    """
    script = shutil.which("grants-auditor", path=str(Path(sys.executable).parent))
    assert script is not None
    with open(os.devnull, "wb") as devnull, subprocess_stderr() as (err_path, err_file):
        started = time.monotonic()
        proc = subprocess.Popen([script, *argv], stdout=devnull, stderr=err_file, env={**os.environ, **ENV})
        peak = 0
        try:
            code: int | None = proc.wait(timeout=0)
        except subprocess.TimeoutExpired:
            code = None
        while code is None and time.monotonic() - started < timeout:
            peak = max(peak, _vm_hwm(proc.pid))
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = proc.wait(timeout=0.005)
        if code is None:
            proc.kill()
            proc.wait()
        seconds = time.monotonic() - started
        return code, err_path.read_text(encoding="utf-8", errors="replace"), seconds, peak


def _vm_hwm(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def subprocess_stderr() -> Iterator[tuple[Path, io.BufferedWriter]]:
    directory = Path(tempfile.mkdtemp(prefix="hostile-stderr-"))
    path = directory / "stderr"
    try:
        with open(path, "wb") as handle:
            yield path, handle
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.skipif(MEASURE_ONLY, reason="the console script is the installed tree, not the one measured")
def test_the_console_script_never_hangs_or_grows(workdir: Path, odd_paths: dict[str, Path]) -> None:
    good = write_case(workdir, "console-good", b"targets: []\n", ".yaml")
    code, _, _, baseline = run_script(["config", "validate", str(good)])  # a quick exit 2: the interpreter's own RSS
    assert code == 2
    for argv, path in _console_cases(workdir, odd_paths):
        code, stderr, seconds, peak = run_script(argv)
        assert code == 2, stderr
        assert stderr.startswith(f"grants-auditor: error: {path}") and "Traceback" not in stderr
        assert seconds < 10  # interpreter start-up included
        assert peak - baseline < MAX_EXTRA_RSS, f"{(peak - baseline) / 2**20:.0f} MB above {baseline / 2**20:.0f} MB"
