"""The sandbox's own control endpoints under `/_sandbox/` (not part of the platform, not counted, no auth).

- `GET /_sandbox/health` -> `{"status": "ok", "scenario": ...}`
- `GET /_sandbox/counts` -> requests per family; `DELETE /_sandbox/counts` resets them
- `GET /_sandbox/faults` -> active faults; `POST` one fault (`{"family", "kind", ...}`); `DELETE` clears all
- `POST /_sandbox/clock` `{"advance_seconds": N}` -> moves the sandbox clock forward
- `POST /_sandbox/access-tokens/expire` -> every OAuth access token issued so far expires
"""

from __future__ import annotations

from auditor_sandbox.entities import SandboxError
from auditor_sandbox.faults import FaultError
from auditor_sandbox.routes import Request, Response, Route


def health(req: Request) -> Response:
    """Liveness and the scenario served."""
    return Response.json({"status": "ok", "scenario": req.control.scenario_name})


def counts(req: Request) -> Response:
    """Requests per family."""
    return Response.json(req.control.request_counts())


def reset_counts(req: Request) -> Response:
    """Reset the per-family request counts."""
    req.control.injector.reset_counts()
    return Response.json({})


def faults(req: Request) -> Response:
    """The active faults."""
    return Response.json({"faults": [f.to_dict() for f in req.control.injector.active()]})


def add_fault(req: Request) -> Response:
    """Activate one fault from a JSON body."""
    body = req.json()
    try:
        family, kind = body.pop("family"), body.pop("kind")
        fault = req.control.set_fault(family, kind, **body)
    except (KeyError, FaultError, TypeError) as exc:
        raise SandboxError.invalid(f"Invalid fault: {exc}") from None
    return Response.json(fault.to_dict(), 201)


def clear_faults(req: Request) -> Response:
    """Deactivate every fault."""
    req.control.clear_faults()
    return Response.json({})


def advance_clock(req: Request) -> Response:
    """Move the clock forward by `advance_seconds`."""
    seconds = req.json().get("advance_seconds")
    if not isinstance(seconds, int | float) or seconds < 0:
        raise SandboxError.invalid("advance_seconds must be a non-negative number.")
    req.control.advance_clock(float(seconds))
    return Response.json({"now": req.state.now().isoformat()})


def expire_access_tokens(req: Request) -> Response:
    """Expire every OAuth access token issued so far."""
    req.state.credentials.expire_access_tokens()
    return Response.json({})


ROUTES = (
    Route("GET", "/_sandbox/health", "admin", health, auth=False),
    Route("GET", "/_sandbox/counts", "admin", counts, auth=False),
    Route("DELETE", "/_sandbox/counts", "admin", reset_counts, auth=False),
    Route("GET", "/_sandbox/faults", "admin", faults, auth=False),
    Route("POST", "/_sandbox/faults", "admin", add_fault, auth=False),
    Route("DELETE", "/_sandbox/faults", "admin", clear_faults, auth=False),
    Route("POST", "/_sandbox/clock", "admin", advance_clock, auth=False),
    Route("POST", "/_sandbox/access-tokens/expire", "admin", expire_access_tokens, auth=False),
)
