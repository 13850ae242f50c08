"""Atomic writes (stilt._io): never a partial file under the final name, temp files cleaned up,
data and folder flushed to disk, and the package's writers all going through it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from stilt import _io


@pytest.fixture
def fsyncs(monkeypatch) -> list[int]:
    """Count os.fsync calls (and still make them)."""
    calls: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(_io.os, "fsync", counting)
    return calls


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if _io.is_temp_name(p.name))


def test_a_partial_write_is_never_visible_under_the_final_name(tmp_path, fsyncs) -> None:
    final = tmp_path / "sub" / "out.bin"
    final.parent.mkdir()
    final.write_bytes(b"old")
    with _io.atomic_path(final) as tmp:
        assert tmp.parent == final.parent and _io.is_temp_name(tmp.name)
        with open(tmp, "wb") as handle:
            handle.write(b"new, first half")
            handle.flush()
            assert final.read_bytes() == b"old"  # a reader now sees the old file whole
        assert final.read_bytes() == b"old"
    assert final.read_bytes() == b"new, first half"
    assert _leftovers(final.parent) == []
    # the file, then (POSIX) the folder holding the new name
    assert len(fsyncs) == (2 if os.name == "posix" else 1)


def test_an_exception_removes_the_temporary_file_and_keeps_the_old_one(tmp_path,
                                                                       fsyncs) -> None:
    final = tmp_path / "status.json"
    final.write_text("{}")
    with pytest.raises(ZeroDivisionError), _io.atomic_path(final) as tmp:
        tmp.write_text('{"state": "comp')
        raise ZeroDivisionError
    assert final.read_text() == "{}"
    assert _leftovers(tmp_path) == []
    assert fsyncs == []  # nothing published, nothing flushed


def test_a_failed_rename_leaves_no_temporary_file(tmp_path, monkeypatch) -> None:
    def refused(src, dst) -> None:
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(_io.os, "replace", refused)
    with pytest.raises(PermissionError):
        _io.write_atomic(tmp_path / "a.txt", "text")
    assert list(tmp_path.iterdir()) == []


def test_write_atomic_writes_text_as_utf8_and_creates_the_folder(tmp_path, fsyncs) -> None:
    final = _io.write_atomic(tmp_path / "new" / "a.yaml", "é: 1\n")
    assert final.read_bytes() == "é: 1\n".encode()
    assert len(fsyncs) >= 1


def test_temporary_names_are_unique_and_removed_by_cleanup_temp(tmp_path) -> None:
    from stilt.simulation import cleanup_temp

    final = tmp_path / "x_traj.nc"
    names = {_io.temp_path(final) for _ in range(50)}
    assert len(names) == 50
    for name in list(names)[:3]:
        name.write_bytes(b"partial")
    (tmp_path / "x_traj.nc").write_bytes(b"kept")
    assert cleanup_temp(tmp_path) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["x_traj.nc"]


def _write_config(folder: Path) -> Path:
    from stilt.config import save_config
    from test_config import make

    return save_config(make(), folder / "config.yaml")


def _write_receptors(folder: Path) -> Path:
    from stilt.receptors import PointReceptor, write_receptors

    return write_receptors([PointReceptor("2015-06-18 22:00", -112.0, 40.5, 5.0)],
                           folder / "receptors.csv")


def _write_record(folder: Path) -> Path:
    from stilt.claims import write_record

    return write_record(folder, "sim1", {"state": "complete"})


def _write_arl(folder: Path) -> Path:
    from stilt.met.arl import met_dataset, write_arl
    from stilt.met.projection import ArlGrid

    grid = ArlGrid.latlon(lat0=40.0, lon0=-113.0, dlat=0.5, dlon=0.5, nx=12, ny=10)
    ds = met_dataset(grid, [np.datetime64("2015-06-18T00:00")], vertical_system="sigma",
                     surface={"PRSS": 850.0, "T02M": 290.0})
    return write_arl(ds, folder / "met.arl")


@pytest.mark.parametrize("write", [_write_config, _write_receptors, _write_record, _write_arl])
def test_the_package_writers_flush_and_leave_no_temporary_file(tmp_path, fsyncs,
                                                                write) -> None:
    path = write(tmp_path)
    assert path.is_file() and path.stat().st_size > 0
    assert len(fsyncs) == (2 if os.name == "posix" else 1)
    assert _leftovers(tmp_path) == []
