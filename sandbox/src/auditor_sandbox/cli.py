"""`grants-auditor-sandbox` (also `python -m auditor_sandbox`, and `grants-auditor sandbox` when both are
installed): serve a scenario until interrupted.

Prints the workspace and IAM addresses, writes a ready auditor config when asked, then prints `ready`.
Credentials are never printed: they are in the written config only.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from auditor_sandbox.scenario import ScenarioError, bundled_scenarios

EXIT_OK, EXIT_BAD_INPUT = 0, 2
PROG = "grants-auditor-sandbox"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sub-command's options."""
    names = " | ".join(bundled_scenarios())
    parser.add_argument("--scenario", default="healthy", help=f"{names} | a scenario YAML file")
    parser.add_argument("--port", type=int, default=0, help="workspace port (default: a free one)")
    parser.add_argument("--write-config", metavar="PATH", help="write an auditor config pointing at the sandbox")
    parser.add_argument(
        "--auth", choices=["pat", "oauth-m2m"], default="pat", help="how the written config authenticates"
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="add this many milliseconds to every workspace, warehouse and IAM request (default 0)",
    )


def _examples(prog: str) -> str:
    return (
        "Examples:\n"
        f"  {prog} --scenario drifted --write-config /tmp/sandbox.yaml\n"
        f"  {prog} --scenario healthy --port 8443 --auth oauth-m2m --write-config /tmp/sandbox.yaml"
    )


def run(args: argparse.Namespace, stop: threading.Event | None = None, *, prog: str = PROG) -> int:
    """Start the sandbox, print where it listens, write the config, serve until SIGINT/SIGTERM (or `stop`)."""
    from auditor_sandbox.sandbox import Sandbox

    stop = stop or threading.Event()
    previous = _install_signal_handlers(stop)
    try:
        try:
            sandbox = Sandbox.start(scenario=args.scenario, port=args.port, latency=args.latency_ms / 1000)
        except (ScenarioError, OSError) as exc:
            print(f"{prog}: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        with sandbox:
            print(f"scenario:  {sandbox.name}")
            print(f"workspace: {sandbox.host}")
            if sandbox.http_path:
                print(f"warehouse: {sandbox.warehouse_id} (http_path {sandbox.http_path})")
            print(f"aws iam:   {sandbox.iam_endpoint}")
            if args.write_config:
                path = sandbox.write_config(args.write_config, auth=args.auth)
                print(f"config:    {path} (auth {args.auth})")
            print("ready (Ctrl-C to stop)", flush=True)
            while not stop.wait(0.5):
                pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return EXIT_OK


def _install_signal_handlers(stop: threading.Event) -> dict[int, Any]:
    """SIGINT/SIGTERM set `stop` (only the main thread may install handlers); returns the previous ones."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    return {signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> int:
    """The one definition of the command's arguments; `grants-auditor sandbox` delegates here with its own `prog`."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve a sandbox scenario until interrupted.",
        epilog=_examples(prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv), prog=prog)
    except KeyboardInterrupt:
        return 130
