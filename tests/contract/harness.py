"""The contract every connector's test harness fulfils, so one suite can run against all of them.

Each connector provides `tests/contract/harness_<name>.py` with a class `Harness` implementing
this protocol; `test_contract.py` parametrizes over them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol

from syncer.connector import Destination

FaultName = Literal["5xx", "429", "reset_after_apply"]


class Harness(Protocol):
    name: str  # the connector's registry name, e.g. "hubspot"

    def start(self, tmp_path: Path) -> None:
        """Start the emulator (and anything else the connector needs, e.g. TLS certs)."""

    def stop(self) -> None: ...

    def settings(self) -> dict[str, Any]:
        """Raw settings for the connector, as they would come out of config.toml (secrets resolved)."""

    def destination(self) -> Destination:
        """A field-sync destination whose object, match field and fields exist in the emulator."""

    def valid_fields(self, i: int) -> dict[str, Any]:
        """Mapped fields for record i (destination field -> value), accepted by the service."""

    def invalid_fields(self, i: int) -> dict[str, Any]:
        """Fields for record i that the service rejects for that record alone (e.g. too long)."""

    def stored(self) -> dict[str, dict[str, Any]]:
        """What the service holds now: match value -> field values (as the service stores them)."""

    def write_count(self) -> int:
        """How many write calls the service has received so far."""

    def inject(self, fault: FaultName, times: int = 1) -> None:
        """Make the next `times` write calls fail this way."""

    def bad_field_destination(self) -> Destination:
        """A destination naming one field the service does not have, for check()."""
