"""The registry of check kinds: one place that knows every kind a rule may name.

A kind is a class with a pydantic ``Args`` model (validated when a pack loads and again when it is
bound), the fact families it reads, a ``plan`` (what to collect) and a pure ``evaluate``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from auditor.model.facts import FactFamily, ReadState, ReadStatus
from auditor.model.findings import Remediation, Status
from auditor.model.plan import CollectionPlan
from auditor.packs.schema import KindArgs as KindArgs  # the pack language owns it; kinds import it from here

if TYPE_CHECKING:
    from auditor.evaluate.context import EvalContext, RequiredAcl, RequiredGrant


ArgsT = TypeVar("ArgsT", bound=KindArgs)


@dataclass(frozen=True)
class FactScope:
    """One read a verdict rests on: a fact family, narrowed to one scope (``None``: the whole family)."""

    family: FactFamily
    scope: str | None = None


@dataclass(frozen=True)
class Outcome:
    """One result of a check on one subject, before the engine turns it into a `Finding`.

    ``relied_on`` names every read the verdict rests on. Kinds rarely set it themselves: the lookups of
    `auditor.evaluate.context.FactReader` note each scope they consult, and the engine turns the outcome
    into ``error`` (same subject) when any of them was not read.
    """

    status: Status
    subject: str
    message: str
    expected: str | None = None
    found: str | None = None
    evidence: tuple[str, ...] = ()
    remediation: Remediation = field(default_factory=Remediation)
    relied_on: tuple[FactScope, ...] = ()
    expires_at: datetime | None = None  # credential kinds: the expiry that matters (see `Finding.expires_at`)

    def relying_on(self, scopes: Iterable[FactScope]) -> Outcome:
        """This outcome, also resting on ``scopes`` (kept in first-noted order, once each)."""
        merged = tuple(dict.fromkeys((*self.relied_on, *scopes)))
        return self if merged == self.relied_on else replace(self, relied_on=merged)


def unread_reason(status: ReadStatus, *, identity: str | None = None) -> str:
    """Which read failed, how (FAILED or NOT_VISIBLE) and the reason the collector recorded."""
    reason = "read failed" + (f" ({status.reason})" if status.reason else "")
    if status.state is ReadState.NOT_VISIBLE:
        if status.reason and status.reason.startswith("not visible to "):
            reason = status.reason  # the collector already named the identity
        else:
            reason = f"not visible to {identity or 'the auditor'}" + (f" ({status.reason})" if status.reason else "")
    scope = "" if status.scope == "*" else f" [{status.scope}]"
    return f"could not read {status.family.value}{scope}: {reason}"


class CheckKind(ABC, Generic[ArgsT]):
    """A kind of check. Subclasses set ``name``, ``Args``, ``families`` and implement both methods."""

    name: ClassVar[str]
    Args: ClassVar[type[KindArgs]]
    families: ClassVar[frozenset[FactFamily]]
    description: ClassVar[str] = ""

    @abstractmethod
    def plan(self, args: ArgsT) -> CollectionPlan:
        """The facts this check reads for these arguments."""

    @abstractmethod
    def evaluate(self, args: ArgsT, ctx: EvalContext) -> Sequence[Outcome]:
        """Pure: facts in, outcomes out. Never calls an API.

        Read facts through ``ctx.facts`` (each lookup notes the scope it consulted); the engine turns
        an outcome that rests on an unread scope into ``error``, so a kind needs no read-status guards.
        """

    def required(self, args: ArgsT) -> Sequence[RequiredGrant | RequiredAcl]:
        """What this check asks to be granted: the least-privilege checks allow exactly these."""
        return ()


class DuplicateKindError(Exception):
    pass


class Registry:
    def __init__(self) -> None:
        self._kinds: dict[str, CheckKind[KindArgs]] = {}

    def register(self, cls: type[CheckKind[ArgsT]]) -> type[CheckKind[ArgsT]]:
        if cls.name in self._kinds:
            raise DuplicateKindError(f"check kind {cls.name!r} is registered twice")
        self._kinds[cls.name] = cls()  # type: ignore[assignment]
        return cls

    def get(self, name: str) -> CheckKind[KindArgs] | None:
        return self._kinds.get(name)

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def items(self) -> list[tuple[str, CheckKind[KindArgs]]]:
        return sorted(self._kinds.items())


KINDS = Registry()
register: Callable[[type[CheckKind[ArgsT]]], type[CheckKind[ArgsT]]] = KINDS.register


def load_builtin_kinds() -> Registry:
    """Import the built-in kinds (each module registers itself) and return the registry."""
    from auditor.evaluate import kinds  # noqa: F401  (import registers)

    return KINDS


def builtin_kind_args() -> dict[str, type[KindArgs]]:
    """The argument model of every built-in kind, by kind name: what the pack loader validates rules against."""
    return {name: kind.Args for name, kind in load_builtin_kinds().items()}
