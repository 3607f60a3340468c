"""Where warmer keeps its files on this host (the embedded ledger, mirrors, resident servers).

Standard library only: the CLI's fast paths find it without loading the settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def default_data_dir(env: Mapping[str, str]) -> Path:
    """WARMER_DATA_DIR, else $XDG_DATA_HOME/warmer, else ~/.local/share/warmer."""
    if env.get("WARMER_DATA_DIR"):
        return Path(env["WARMER_DATA_DIR"]).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "warmer"
