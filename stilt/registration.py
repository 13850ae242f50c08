"""What a registration leaves on disk besides the index, so that the index stays rebuildable.

Registering a simulation writes its index row only: its folder and ``status.json`` appear
when it runs. The registered simulations can therefore always be listed without the index:

- the stored receptors (``<project>/receptors.csv``, where every registration adds the
  receptors it uses) times the config's mets give every registered simulation, pending unless
  a status record on disk says otherwise;
- the scene tags go to ``<output>/scenes/<scene_id>.txt``, one simulation id a line, written
  atomically (only when a registration names a scene).

:func:`registered_records` joins the two with the status records of the simulations that ran:
what ``stilt index rebuild`` puts back, and what file-based pull workers take their work from.
A fingerprint of ``receptors.csv`` and the mets, kept in the index, lets ``stilt run`` skip a
registration that would add nothing (:func:`registration_key`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from stilt._paths import inside
from stilt.ids import check_name
from stilt.states import State

__all__ = ["registration_key", "scene_members", "add_to_scene", "scene_tags",
           "registered_records", "dumps_key", "REGISTRATION_META"]

#: the ``meta`` entry of the index holding the key of the last registration of receptors.csv
REGISTRATION_META = "registration"
_SCENES = "scenes"


def registration_key(receptors_csv: Path, mets: Iterable[str]) -> dict[str, Any]:
    """What identifies a registration of the project's receptors: the SHA-256 of
    ``receptors.csv`` and the met names (about 0.1 s for a million receptors)."""
    digest = hashlib.sha256()
    with open(receptors_csv, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"receptors": digest.hexdigest(), "mets": list(mets)}


def _scene_file(output: Path, scene_id: str) -> Path:
    check_name(scene_id, "scene id")
    return inside(output, _SCENES, f"{scene_id}.txt", what="scene file")


def scene_members(output: str | Path, scene_id: str) -> set[str]:
    """The simulation ids registered with ``scene_id`` (empty when none)."""
    try:
        text = _scene_file(Path(output), scene_id).read_text(encoding="utf-8")
    except FileNotFoundError:
        return set()
    return set(text.split())


def add_to_scene(output: str | Path, scene_id: str, sim_ids: Iterable[str]) -> Path:
    """Add ids to the scene file of ``scene_id`` (rewritten atomically, sorted)."""
    path = _scene_file(Path(output), scene_id)
    members = scene_members(output, scene_id)
    new = members.union(sim_ids)
    if new == members and path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write("\n".join(sorted(new)) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def scene_tags(output: str | Path) -> dict[str, str]:
    """The scene of every simulation registered with one, by id (from the scene files)."""
    folder = Path(output) / _SCENES
    out: dict[str, str] = {}
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return out
    for name in names:
        if name.endswith(".txt") and not name.startswith("."):
            for sim_id in scene_members(output, name[:-4]):
                out[sim_id] = name[:-4]
    return out


def registered_records(plan: Iterable[Mapping[str, Any]], records: Iterable[Mapping[str, Any]],
                       scenes: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every registered simulation as a status record: those on disk (``records``, as
    :func:`stilt.simulation.collect_records` reads them) and, pending, every simulation of
    ``plan`` (receptors x mets) without one; scene tags from ``scenes``."""
    out = [dict(r) for r in records]
    known = {r["sim_id"] for r in out}
    for rec in out:
        if rec.get("scene_id") is None and rec["sim_id"] in scenes:
            rec["scene_id"] = scenes[rec["sim_id"]]
    for p in plan:
        if p["sim_id"] in known:
            continue
        receptor = p["receptor"]
        out.append({"sim_id": p["sim_id"], "met": p["met"], "state": State.PENDING,
                    "receptor": receptor if isinstance(receptor, Mapping) else
                    receptor.to_dict(), "scene_id": scenes.get(p["sim_id"])})
    return out


def dumps_key(key: Mapping[str, Any]) -> str:
    """The text stored in the index for a registration key."""
    return json.dumps(dict(key), sort_keys=True)
