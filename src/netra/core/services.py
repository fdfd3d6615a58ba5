"""The typed services of one process: what a component provides and others use.

Each domain declares its services as typed keys next to the class they hold
(``VERIFIER: Service[TokenVerifier] = Service("token_verifier")``); ``runtime.services[VERIFIER]``
is then a ``TokenVerifier`` to mypy, with no cast and no string. Core knows no domain type: the
keys carry them.

Components say what they ``provide`` and ``need`` (``core/component.py``). The app factory checks
the wiring before anything starts (:func:`wiring_problems`: a need that no component listed
earlier provides fails start-up), and after each component started, that it provided what it
declared. A missing dependency is a start-up error, never a request's ``KeyError``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

if TYPE_CHECKING:
    from netra.core.component import Component

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Service(Generic[T]):
    """The typed name of one service (identity is the key: two keys never collide)."""

    name: str

    def __repr__(self) -> str:
        return f"Service({self.name!r})"


class MissingService(RuntimeError):
    """A service was asked for that no component of this app provides."""


class Services:
    def __init__(self) -> None:
        self._values: dict[Service[Any], Any] = {}

    def provide(self, key: Service[T], value: T) -> T:
        self._values[key] = value
        return value

    def __getitem__(self, key: Service[T]) -> T:
        try:
            return cast(T, self._values[key])
        except KeyError:
            raise MissingService(
                f"service '{key.name}' is not provided in this app (no component provides it)"
            ) from None

    def get(self, key: Service[T]) -> T | None:
        """The service when this app has it (for what is optional, e.g. a worker's dispatcher)."""
        return cast("T | None", self._values.get(key))

    def pop(self, key: Service[T]) -> T | None:
        return cast("T | None", self._values.pop(key, None))

    def __contains__(self, key: Service[Any]) -> bool:
        return key in self._values

    def names(self) -> list[str]:
        return sorted(k.name for k in self._values)


def wiring_problems(components: Iterable[Component]) -> list[str]:
    """Every need that no earlier component (or the same one) provides, as a message."""
    problems: list[str] = []
    provided: set[Service[Any]] = set()
    for component in components:
        provided.update(component.provides)
        for need in component.needs:
            if need not in provided:
                problems.append(
                    f"component '{component.name}' needs service '{need.name}', which no "
                    "component before it provides"
                )
    return problems
