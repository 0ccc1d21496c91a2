"""Thrift sessions and operations of the sandbox SQL warehouse, shared by concurrent HTTP requests.

Sessions are keyed by their handle GUID (random, so unique across sandboxes in one process) and bound to
the workspace state, warehouse and principal that opened them: a handle presented by anyone else is invalid.
An operation keeps its full result until it is closed, so a client can page through it with FetchResults.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from auditor_sandbox.sql_errors import SqlError
from auditor_sandbox.sql_resolve import Namespace
from auditor_sandbox.sql_result import ResultSet
from auditor_sandbox.state import WorkspaceState

MAX_OPEN_SESSIONS = 10_000
"""Beyond this many open sessions the oldest is dropped (clients that never call CloseSession)."""


class Operation:
    """One executed statement: its result (or error) and how far a client has fetched it."""

    def __init__(self, result: ResultSet | None, error: SqlError | None) -> None:
        self.guid = uuid.uuid4().bytes
        self.secret = uuid.uuid4().bytes
        self.result = result
        self.error = error
        self.position = 0  # index of the next row FetchResults returns


@dataclass(frozen=True, slots=True)
class SessionOwner:
    """What a session is bound to; every request on the session must match it."""

    state: WorkspaceState
    warehouse_id: str
    principal: str

    def matches(self, other: SessionOwner) -> bool:
        """Same state object, warehouse and (case-insensitively) principal."""
        return (
            self.state is other.state
            and self.warehouse_id == other.warehouse_id
            and self.principal.lower() == other.principal.lower()
        )


class Session:
    """A client session: its current namespace and open operations. `lock` serialises its statements."""

    def __init__(self, owner: SessionOwner, namespace: Namespace) -> None:
        self.guid = uuid.uuid4().bytes
        self.secret = uuid.uuid4().bytes
        self.owner = owner
        self.namespace = namespace
        self.lock = threading.Lock()
        self.operations: dict[bytes, Operation] = {}


class SessionRegistry:
    """All open sessions and their operations; thread-safe."""

    def __init__(self, max_sessions: int = MAX_OPEN_SESSIONS) -> None:
        self._lock = threading.Lock()
        self._sessions: OrderedDict[bytes, Session] = OrderedDict()
        self._operations: dict[bytes, Session] = {}  # operation guid -> its session
        self._max_sessions = max_sessions

    def open(self, owner: SessionOwner, namespace: Namespace) -> Session:
        """Register a new session."""
        session = Session(owner, namespace)
        with self._lock:
            self._sessions[session.guid] = session
            while len(self._sessions) > self._max_sessions:
                _, evicted = self._sessions.popitem(last=False)
                self._forget_operations(evicted)
        return session

    def session(self, guid: bytes | None, owner: SessionOwner) -> Session | None:
        """The open session with that GUID if `owner` may use it, else None."""
        with self._lock:
            found = self._sessions.get(guid) if guid else None
        return found if found is not None and found.owner.matches(owner) else None

    def close(self, guid: bytes | None, owner: SessionOwner) -> None:
        """Close a session and its operations (unknown sessions are ignored: closing is idempotent)."""
        with self._lock:
            found = self._sessions.get(guid) if guid else None
            if found is not None and found.owner.matches(owner):
                del self._sessions[found.guid]
                self._forget_operations(found)

    def add_operation(self, session: Session, operation: Operation) -> None:
        """Keep an operation so that later calls (status, fetch, close) find it."""
        with self._lock:
            session.operations[operation.guid] = operation
            self._operations[operation.guid] = session

    def operation(self, guid: bytes | None, owner: SessionOwner) -> tuple[Session, Operation] | None:
        """The open operation with that GUID and its session, if `owner` may use it."""
        with self._lock:
            session = self._operations.get(guid) if guid else None
            if session is None or not session.owner.matches(owner):
                return None
            operation = session.operations.get(guid) if guid else None
        return (session, operation) if operation is not None else None

    def close_operation(self, guid: bytes | None, owner: SessionOwner) -> None:
        """Forget an operation (unknown operations are ignored)."""
        with self._lock:
            session = self._operations.get(guid) if guid else None
            if guid and session is not None and session.owner.matches(owner):
                session.operations.pop(guid, None)
                del self._operations[guid]

    def open_session_count(self) -> int:
        """How many sessions are open (for tests and diagnostics)."""
        with self._lock:
            return len(self._sessions)

    def open_operation_count(self) -> int:
        """How many operations are kept for later fetches (for tests and diagnostics)."""
        with self._lock:
            return len(self._operations)

    def _forget_operations(self, session: Session) -> None:
        for guid in session.operations:
            self._operations.pop(guid, None)
        session.operations.clear()
