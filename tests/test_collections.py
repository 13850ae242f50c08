"""Collections as PYSTILT users query them: filters, select, items/values/missing, footprints
by name, and the status record (issue 14.3).

Transport and footprints are the stand-ins of tests/orch_fakes.py, so these tests are fast;
the real transport is in test_cli_run.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import xarray as xr

import orch_fakes
import stilt
from stilt.collections import FootprintCollection, UnknownFootprintError
from stilt.errors import ConfigError

GRID = {"xmin": -104.0, "xmax": -99.0, "ymin": 38.0, "ymax": 42.0, "xres": 0.5, "yres": 0.5}
MET = {"directory": "met", "file_format": "x.arl"}


def config(footprints: dict | None = None, **kw: object) -> stilt.ModelConfig:
    feet = {"default": {"grid": GRID}} if footprints is None else footprints
    return stilt.ModelConfig(mets={"hrrr": MET, "nam": MET}, n_hours=-2, numpar=10,
                             footprints=feet, **kw)


def receptors() -> list[tuple]:
    """Four receptors: 18:00 and 19:00 at two places (PYSTILT tuples)."""
    return [(f"2023-07-15 {h}:00", -102.5, lat, 5.0) for h in (18, 19) for lat in (39.0, 39.5)]


@pytest.fixture
def model(tmp_path, monkeypatch) -> stilt.Model:
    orch_fakes.install(monkeypatch, tmp_path / "calls.log", fail_lat=39.5)
    out = stilt.Model(tmp_path / "p", receptors=receptors(), config=config())
    out.register_pending(scene_id="tower")
    out.push_simulations(out.simulations.ids(mets="hrrr"), n_workers=1)
    yield out
    out.close()


def test_ids_filter_by_met_scene_state_time_and_location(model) -> None:
    sims = model.simulations
    assert len(sims) == 8 and len(sims.ids()) == 8
    assert sims.ids(mets="hrrr") == [i for i in sims.ids() if i.startswith("hrrr_")]
    assert sims.ids(mets=["hrrr", "nam"]) == sims.ids()
    assert sims.ids(state="complete") == ["hrrr_202307151800_-102.5_39_5",
                                          "hrrr_202307151900_-102.5_39_5"]
    assert sims.ids("failed") == sims.failed() == ["hrrr_202307151800_-102.5_39.5_5",
                                                   "hrrr_202307151900_-102.5_39.5_5"]
    assert sims.ids(state=["pending", "failed"]) == sorted(sims.incomplete())
    assert sims.ids(scene_id="tower") == sims.ids() and sims.ids(scene_id="other") == []
    at19 = sims.ids(time_range=("2023-07-15 18:30", None))
    assert at19 and all("_202307151900_" in i for i in at19) and len(at19) == 4
    assert sims.ids(time_range=(dt.datetime(2023, 7, 15, 18), "202307151800")) == [
        i for i in sims.ids() if "_202307151800_" in i]
    here = stilt.PointReceptor("2023-07-15 18:00", -102.5, 39.0, 5.0)
    assert sims.ids(location_ids="-102.5_39_5") == sims.ids(location_ids=[here])
    assert len(sims.ids(location_ids={"-102.5_39_5", "-102.5_39.5_5"})) == 8
    assert sims.counts() == {"pending": 4, "running": 0, "complete": 2, "failed": 2}
    with pytest.raises(ConfigError, match="state 'hrrr': expected one of pending"):
        sims.ids("hrrr")
    with pytest.raises(ConfigError, match=r"met 'gfs' is not configured or registered "
                                          r"\(mets: hrrr, nam\)"):
        sims.ids(mets="gfs")
    with pytest.raises(ConfigError, match="time_range"):
        sims.ids(time_range="2023-07-15")


def test_select_returns_a_collection_and_filters_compose(model) -> None:
    hrrr = model.simulations.select(mets="hrrr")
    assert isinstance(hrrr, type(model.simulations)) and len(hrrr) == 4
    done = hrrr.select(state="complete")
    assert done.ids() == model.simulations.ids(mets="hrrr", state="complete")
    assert done.ids(location_ids="-102.5_39_5") == done.ids()
    assert done.select(mets="nam").ids() == []           # filters add up, never widen
    assert list(done) == done.keys() == [sid for sid, _ in done.items()]
    assert [s.id for s in done.values()] == done.ids()
    assert all(s.status()["state"] == "complete" for s in done.values())
    first = done.ids()[0]
    assert first in done and done[first].id == first
    assert "nam_202307151800_-102.5_39_5" in model.simulations
    assert "nam_202307151800_-102.5_39_5" not in done
    with pytest.raises(KeyError, match="not registered or not selected"):
        done["nam_202307151800_-102.5_39_5"]
    assert len(model.simulations) == 8  # the parent is unchanged


def test_missing_counts_unregistered_receptors_and_incomplete_simulations(model) -> None:
    sims = model.simulations
    assert sims.missing() == sorted(sims.incomplete())
    more = stilt.Model(model.project, receptors=receptors()
                       + [("2023-07-15 20:00", -102.0, 39.0, 5.0)])
    assert "hrrr_202307152000_-102_39_5" in more.simulations.missing(mets="hrrr")
    assert "hrrr_202307152000_-102_39_5" not in more.simulations.ids()
    assert more.simulations.missing(state="failed") == sims.failed()  # a state: registered only
    assert more.trajectories.missing(mets="hrrr") == [
        "hrrr_202307151800_-102.5_39.5_5", "hrrr_202307151900_-102.5_39.5_5",
        "hrrr_202307152000_-102_39_5"]
    more.close()


def test_output_collections_items_values_missing_and_load(model) -> None:
    done = model.simulations.ids(state="complete")
    trajs = model.trajectories
    assert trajs.ids() == trajs.keys() == done and len(trajs) == 2
    assert [p.name for p in trajs.paths()] == [f"{i}_traj.nc" for i in done]
    assert trajs.paths(location_ids="-102.5_39_5") == trajs.paths()
    assert trajs.select(mets="nam").paths() == []
    assert [k for k, _ in trajs.items()] == done
    assert all(isinstance(ds, xr.Dataset) for ds in trajs.values())
    assert set(trajs.load()) == set(done)
    assert set(trajs.load(time_range=("2023-07-15 19:00", None))) == {done[1]}
    assert sorted(trajs.missing()) == sorted(set(model.simulations.ids()) - set(done))
    feet = model.footprints["default"]
    assert feet.ids() == done and [k for k, _ in feet.items()] == done
    assert set(feet.load()) == set(done)
    assert feet.load(done[0]).foot.shape == (3, 4)
    assert feet.missing(mets="hrrr") == model.simulations.failed()
    with pytest.raises(ConfigError, match="has no footprint 'default'"):
        feet.load(feet.missing()[0])


def test_footprints_of_a_name_not_configured(tmp_path, monkeypatch) -> None:
    orch_fakes.install(monkeypatch, tmp_path / "calls.log")
    none = stilt.Model(tmp_path / "t", receptors=receptors()[:1], config=config(footprints={}))
    assert none.run().ok
    empty = none.footprints["default"]
    assert isinstance(empty, FootprintCollection) and not empty.configured
    assert empty.load() == {} and empty.paths() == [] and empty.ids() == []
    assert empty.missing() == [] and list(empty.items()) == [] and len(empty) == 0
    assert "default" not in none.footprints and len(none.footprints) == 0
    with pytest.raises(ConfigError, match="footprint 'default' is not configured"):
        empty.load(none.simulations.ids()[0])
    two = stilt.Model(tmp_path / "f", receptors=receptors()[:1],
                      config=config(footprints={"fine": {"grid": GRID},
                                                "coarse": {"grid": GRID}}))
    with pytest.raises(UnknownFootprintError) as info:
        two.footprints["default"]
    assert str(info.value) == "footprint 'default' is not configured (footprints: fine, coarse)"
    assert isinstance(info.value, KeyError) and two.footprints.get("default") is None
    none.close()
    two.close()


def test_status_is_a_typed_record_that_prints_like_stilt_status(model, capsys) -> None:
    from stilt.cli import main

    status = model.status()
    assert status.counts == {"pending": 4, "running": 0, "complete": 2, "failed": 2}
    assert (status.total, status.completed, status.pending, status.running,
            status.failed) == (8, 2, 4, 0, 2)
    assert status.failures == {"MET_COVERAGE": tuple(model.simulations.failed())}
    assert "outside the met grid" in status.messages[model.simulations.failed()[0]]
    with pytest.raises(AttributeError):
        status.counts = {}  # type: ignore[misc]
    text = str(status)
    assert text.splitlines()[0] == "4 pending, 0 running, 2 complete, 2 failed"
    assert "failed MET_COVERAGE: 2" in text
    assert f"  {model.simulations.failed()[0]}: MetCoverageError: receptor at latitude 39.5" in text
    assert model.status(scene_id="other").total == 0
    model.close()
    assert main(["status", str(model.project)]) == 0
    assert capsys.readouterr().out == text + "\n"


def test_push_and_pull_take_the_worker_arguments(model, monkeypatch) -> None:
    ids = model.simulations.ids(mets="nam")
    report = model.push_simulations(ids[:2], backend="local", n_workers=2, timeout=60)
    assert len(report.completed) + len(report.failed) == 2
    report = model.pull_simulations(follow=False, n_workers=2, timeout=60, scene_id="tower")
    assert model.simulations.ids(state="pending") == []
    with pytest.raises(TypeError):
        model.push_simulations(None, "local")  # type: ignore[misc]  # keywords only
    with pytest.raises(ConfigError, match="execution backend 'nowhere'"):
        model.push_simulations(backend="nowhere")


def test_the_reference_snippet_loads_footprints_without_any_configured(tmp_path,
                                                                        monkeypatch) -> None:
    orch_fakes.install(monkeypatch, tmp_path / "calls.log")
    model = stilt.Model(project=tmp_path / "case",
                        receptors=[stilt.PointReceptor(time="2023-07-15 18:00:00",
                                                       longitude=-101.5, latitude=40.0,
                                                       altitude=5.0)],
                        config=stilt.ModelConfig(mets={"hrrr": stilt.MetConfig(
                            directory=Path("met"), file_format="%Y%m%d_%H", file_tres="1h")}))
    assert model.run().ok
    assert model.footprints["default"].load() == {}
    assert [p.name for p in model.trajectories.paths()] == [
        "hrrr_202307151800_-101.5_40_5_traj.nc"]
    model.close()
