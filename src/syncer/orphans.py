"""Syncs that state holds records of but no mapping defines: orphaned, so never updated or deleted.

A sync renamed (`nudge.toml` -> `nudge_v2.toml`) re-sends its rows under the new name, and the old
name's records stay in state and at the destination, unmanaged; a mapping removed leaves the same.
`syncer check` reports each as a problem and `syncer status` lists it, with its record counts and the
two ways out: rename the mapping back, or `syncer forget --sync NAME` (StateStore.forget_sync) when the
sync is gone on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

from syncer.config import Config
from syncer.state import StateStore


@dataclass(frozen=True)
class Orphan:
    sync: str
    records: int  # live records state holds
    departed: int  # records that left the model earlier outside mirror mode (syncer.departed)

    def advice(self, cfg: Config) -> str:
        """What it is, what it costs, and the fix, in one line."""
        held = self.records + self.departed
        mapping = cfg.base_dir / cfg.app.mappings / f"{self.sync}.toml"
        kept = f" ({self.departed} of them departed)" if self.departed else ""
        return (
            f"sync {self.sync!r}: state holds {held} record{'s' if held != 1 else ''}{kept} of it but no mapping "
            "defines it, so they are never updated or deleted at their destination. Renamed? Name its mapping "
            f"{mapping} again (a renamed sync sends every row again under its new name). Removed on purpose? "
            f"`syncer forget --sync {self.sync}` drops them from state (they stay at the destination: delete them "
            "there, or bring the mapping back in mirror mode with an empty model and run it first)"
        )


def orphaned_syncs(cfg: Config, state: StateStore) -> list[Orphan]:
    """Every sync state holds records of that `cfg` does not define, by name."""
    return [Orphan(name, live, gone) for name, (live, gone) in state.held_syncs().items() if name not in cfg.syncs]
