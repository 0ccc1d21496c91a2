"""The project is self-contained: no tracked file refers to material outside the repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_OUTSIDE = ("../" + "shared", "/work/" + "shared")  # split so this file does not mention them itself


def test_no_tracked_file_refers_outside_the_repository() -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
    ).stdout.decode()
    offenders = []
    for name in filter(None, listed.split("\0")):
        path = ROOT / name
        if not path.is_file():
            continue  # deleted in the work tree, or a submodule
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        offenders += [f"{name}: {marker}" for marker in _OUTSIDE if marker in text]
    assert offenders == []
