"""Trajectory files of a project run: R-STILT's layout (plume-diluted foot, the raw foot
beside it, release heights), read back by the footprint without a second correction."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import stilt.transport
from stilt.config import ModelConfig
from stilt.receptors import PointReceptor
from stilt.simulation import SimulationPaths, run_simulation
from stilt.transport import run_trajectories
from test_transport import LATLON, make_met

GRID = {"xmin": -110.0, "xmax": -102.0, "ymin": 34.0, "ymax": 42.0, "xres": 0.1, "yres": 0.1}


def test_project_trajectories_store_the_diluted_foot_the_raw_foot_and_xhgt(
        tmp_path, monkeypatch) -> None:
    met = make_met(LATLON, 4, 3.0, 2.0)
    seen: dict = {}

    def transport(receptor, met_source, **kw):  # the real transport on synthetic met
        seen.update(kw)
        return run_trajectories(receptor, met, **kw)

    monkeypatch.setattr(stilt.transport, "run_trajectories", transport)
    cfg = ModelConfig(mets={"synth": {"directory": "met", "file_format": "x.arl"}},
                      n_hours=-1, numpar=20, seed=7, footprints={"default": {"grid": GRID}})
    rec = PointReceptor("2021-07-01 03:00", -106.0, 38.0, 10.0)
    sim_id = "synth_202107010300_-106_38_10"
    res = run_simulation(tmp_path / "out", tmp_path, sim_id, "synth", rec, cfg)
    assert res["state"] == "complete", res
    assert seen["hnf_plume"] is True
    paths = SimulationPaths.of(tmp_path / "out", sim_id)
    with xr.open_dataset(paths.trajectory) as ds:
        traj = ds.load()
    assert traj.xhgt.dims == ("indx",) and np.all(traj.xhgt.values == 10.0)
    raw, diluted = traj.foot_no_hnf_dilution.values, traj.foot.values
    assert np.nanmax(diluted - raw) > 0  # the near-field correction is in the file
    with xr.open_dataset(paths.footprint("default")) as fp:
        assert fp.attrs["hnf_plume_applied"] == "transport"
        assert float(fp.attrs["foot_total"]) == pytest.approx(np.nansum(diluted, dtype=np.float64) / 20,
                                                              rel=1e-12)
