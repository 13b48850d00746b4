"""A Hugging Face id that is not bundled, found in the local Hugging Face hub cache, offline.

The cache is where ``huggingface_hub`` puts it (its environment-variable page,
https://huggingface.co/docs/huggingface_hub/package_reference/environment_variables): ``$HF_HUB_CACHE``
(legacy ``$HUGGINGFACE_HUB_CACHE``), else ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub``, else
``~/.cache/huggingface/hub``. A model ``ORG/NAME`` lives in ``models--ORG--NAME/``; its ``refs/main`` names
the snapshot (``snapshots/<commit>/config.json``); without it, the newest snapshot holding a config.json.
Nothing is downloaded.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")  # ORG/NAME, no path tricks


def hub_cache() -> Path:
    """The hub cache directory, by huggingface_hub's precedence."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "huggingface" / "hub"


def cached_config(hf_id: str) -> Path | None:
    """``config.json`` of ``hf_id`` in the hub cache, or None (not an id, not cached, unreadable)."""
    if not HF_ID.match(hf_id) or ".." in hf_id:
        return None
    org, name = hf_id.split("/")
    repo = hub_cache() / f"models--{org}--{name}"
    try:
        ref = repo / "refs" / "main"
        if ref.is_file():
            commit = ref.read_text(encoding="utf-8").strip()
            cfg = repo / "snapshots" / commit / "config.json"
            if re.fullmatch(r"[0-9a-f]{6,64}", commit) and cfg.is_file():
                return cfg
        snaps = (
            [p / "config.json" for p in (repo / "snapshots").iterdir() if (p / "config.json").is_file()]
            if (repo / "snapshots").is_dir()
            else []
        )
    except OSError:
        return None
    return max(snaps, key=lambda p: (p.stat().st_mtime, p.parent.name)) if snaps else None
