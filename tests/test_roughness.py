"""Roughness tables (ASCDATA.CFG / ROUGLEN.ASC), the shipped default and the log-law wind below
the first data level."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import stilt
from stilt import _core
from stilt.errors import ConfigError
from stilt.met.projection import ArlGrid
from stilt.met.roughness import (DEFAULT_Z0, SHIPPED_NAME, read_roughness, roughness_source,
                                  shipped_roughness)
from stilt.met.window import SURFACE_VARS, MetSource, Window
from stilt.simulation import resolved_met
from test_transport import SIGMA, make_met

LATLON = ArlGrid.latlon(lat0=35.0, lon0=-110.0, dlat=0.5, dlon=0.5, nx=20, ny=16)
RGHS = [s for s, _ in SURFACE_VARS].index("rghs")


def write_table(folder: Path, cm: np.ndarray, lat0: float = 30.0, lon0: float = -120.0,
                default: float = 0.3) -> Path:
    """An ASCDATA.CFG and ROUGLEN.ASC (rows north to south, 4-character fields in cm)."""
    folder.mkdir(parents=True, exist_ok=True)
    nlat, nlon = cm.shape
    (folder / "ASCDATA.CFG").write_text(
        f"{lat0} {lon0}  lower left\n1.0 1.0  spacing\n{nlat} {nlon}  counts\n2  land use\n"
        f"{default}  roughness\n'./'  folder\n")
    (folder / "ROUGLEN.ASC").write_text(
        "".join("".join(f"{int(v):4d}" for v in row) + "\n" for row in cm[::-1]))
    return folder / "ASCDATA.CFG"


def test_table_cells_by_floor_indexing_default_outside(tmp_path: Path) -> None:
    """Row 0 of the array is the southernmost; a point on a cell edge takes the cell to its
    east / north (the binary's node at 112.00 W takes [112 W, 111 W)); outside: default."""
    cm = np.arange(1, 13).reshape(3, 4) * 10  # lat 30-33, lon -120..-116
    table = read_roughness(write_table(tmp_path, cm))
    assert table.z0.shape == (3, 4) and table.default == 0.3
    lat = np.array([30.0, 30.5, 32.99, 31.0, 31.0, 40.0, 31.0, 31.0])
    lon = np.array([-120.0, -119.5, -116.01, -119.0, 241.0, -119.0, -116.0, -121.0])
    expected = np.array([0.1, 0.1, 1.2, 0.6, 0.6, 0.3, 0.3, 0.3])
    np.testing.assert_allclose(table.sample(lat, lon), expected)


def test_global_rouglen_alone_uses_the_global_layout(tmp_path: Path) -> None:
    """A ROUGLEN.ASC without an ASCDATA.CFG beside it: 180 x 360 from 90 S, 180 W."""
    cm = np.full((180, 360), 20)
    cm[179, 0] = 77                     # 89-90 N (the first line), 180-179 W
    cm[40 + 90, 68] = 44                # 40-41 N, 112-111 W
    path = tmp_path / "ROUGLEN.ASC"
    path.write_text("".join("".join(f"{v:4d}" for v in row) + "\n" for row in cm[::-1]))
    table = read_roughness(path)
    np.testing.assert_allclose(table.sample(np.array([89.5, 40.5, 40.5]),
                                            np.array([-179.5, -112.0, -112.05])),
                               [0.77, 0.44, 0.2])


@pytest.mark.parametrize("content, message", [
    ("1 2\n", "not an ASCDATA.CFG"),
    ("30 -120\n1 1\n2 2\n2\n-1\n'./'\n", "must all be positive"),
])
def test_bad_ascdata_is_refused_with_what_was_expected(tmp_path: Path, content: str,
                                                       message: str) -> None:
    (tmp_path / "ASCDATA.CFG").write_text(content)
    with pytest.raises(ConfigError, match=message):
        read_roughness(tmp_path / "ASCDATA.CFG")


def test_bad_tables_name_the_file_and_line(tmp_path: Path) -> None:
    cfg = write_table(tmp_path, np.full((2, 3), 10))
    rows = (tmp_path / "ROUGLEN.ASC").read_text().splitlines()
    (tmp_path / "ROUGLEN.ASC").write_text(rows[0] + "\n" + rows[1][:8] + "\n")
    with pytest.raises(ConfigError, match=r"ROUGLEN.ASC, line 2: 8 characters, expected 3"):
        read_roughness(cfg)
    (tmp_path / "ROUGLEN.ASC").write_text(rows[0] + "\n" + "  1x" + rows[1][4:] + "\n")
    with pytest.raises(ConfigError, match=r"line 2: a field is not a number"):
        read_roughness(cfg)
    (tmp_path / "ROUGLEN.ASC").write_text(rows[0] + "\n")
    with pytest.raises(ConfigError, match=r"1 rows, expected 2"):
        read_roughness(cfg)
    with pytest.raises(ConfigError, match="does not exist"):
        read_roughness(tmp_path / "nowhere" / "ASCDATA.CFG")
    (tmp_path / "ROUGLEN.ASC").unlink()
    with pytest.raises(ConfigError, match="points to .*ROUGLEN.ASC, which does not exist"):
        read_roughness(cfg)


def test_roughness_source_and_met_config_values(tmp_path: Path) -> None:
    assert roughness_source(None) is shipped_roughness()
    assert roughness_source(0.5) == 0.5 and roughness_source("0.05") == 0.05
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match="positive length"):
            roughness_source(bad)
    with pytest.raises(ConfigError, match="roughness=-2"):
        stilt.MetConfig(tmp_path, "x.arl", roughness=-2.0)


def test_relative_table_path_is_relative_to_the_project(tmp_path: Path) -> None:
    write_table(tmp_path / "project" / "surface", np.full((2, 2), 10))
    cfg = stilt.ModelConfig(mets={"m": {"directory": "met", "file_format": "x.arl",
                                        "roughness": "surface/ASCDATA.CFG"}})
    met = resolved_met(cfg, "m", tmp_path / "project")
    assert Path(met.roughness) == tmp_path / "project" / "surface" / "ASCDATA.CFG"
    assert read_roughness(met.roughness).z0.shape == (2, 2)
    const = dataclasses.replace(cfg.mets["m"], roughness="0.3")
    assert resolved_met(stilt.ModelConfig(mets={"m": const}), "m", tmp_path).roughness == "0.3"


def _level1_wind(met, z0: float | None) -> tuple[float, float, float]:
    """Internal level-1 x wind, its height and the first data level's height at one node."""
    src = MetSource(met)
    if z0 is not None:
        src.set_roughness(z0)
    nl, aa, bb, cc = _core.met_internal_grid(25000.0, 12000.0, SIGMA.size)
    zsg = _core.met_internal_sigma(int(nl), aa, bb, cc, 25000.0)
    m = src.remap(src.times[0], Window(0, 0, src.nx, src.ny), zsg, 25000.0, {"ziscale": 1.0})
    z1 = (1.0 - zsg[0]) * 25000.0
    prof = m.profiles()
    p0, p1, pd = 1000.0, prof[4, 0, 3, 3], SIGMA[0] * 1000.0
    zd = z1 * np.log(pd / p0) / np.log(p1 / p0)  # ln p is linear in z below the data level
    return float(prof[0, 0, 3, 3]), z1, zd


def test_log_law_wind_below_the_first_data_level_without_10m_winds() -> None:
    """No U10M: the wind at the ground is u1 ln(z_1/z0) / ln(z_d/z0), linear from there to the
    first data level (as the reference binary); with U10M the roughness changes nothing."""
    met = make_met(LATLON, 2, 8.0, 0.0).drop_vars(["U10M", "V10M"])
    for z0 in (0.05, 0.75, 2.5):
        u, z1, zd = _level1_wind(met, z0)
        ground = 8.0 * np.log(z1 / z0) / np.log(zd / z0)
        assert 5.0 < zd < 60.0 and z1 < zd
        assert u == pytest.approx(ground + (z1 / zd) * (8.0 - ground), rel=1e-9)
    assert _level1_wind(met, None)[0] == pytest.approx(_level1_wind(met, DEFAULT_Z0)[0])
    with_10m = make_met(LATLON, 2, 8.0, 0.0)
    assert _level1_wind(with_10m, 0.05)[0] == _level1_wind(with_10m, 2.5)[0]


def test_met_rghs_wins_and_the_run_records_its_roughness(tmp_path: Path) -> None:
    """A met RGHS field is used as it is; otherwise the table, sampled at every node; the run
    records which (attribute ``roughness``)."""
    met = make_met(LATLON, 2, 8.0, 0.0).drop_vars(["U10M", "V10M"])
    cfg = write_table(tmp_path / "t", np.full((20, 20), 90), lat0=30.0, lon0=-115.0)
    src = MetSource(met)
    assert src.set_roughness(read_roughness(cfg)) == str(cfg)
    assert src.roughness.shape == (20, 16) and np.all(src.roughness == 0.9)
    with_rghs = met.assign(RGHS=met.PRSS * 0 + 0.01)
    src = MetSource(with_rghs)
    assert src.set_roughness(read_roughness(cfg)) == "RGHS" and src.roughness is None
    m = src.remap(src.times[0], Window(0, 0, 4, 4), np.array([0.999, 0.99]), 25000.0,
                  {"ziscale": 1.0})
    assert np.all(m.sfc[RGHS] == pytest.approx(0.01))
    receptor = {"time": "2021-07-01T02:00", "latitude": 38.0, "longitude": -106.0,
                "altitude": 10.0}
    runs = [stilt.run_trajectories(receptor, met, n_hours=-1, numpar=2, seed=1, nturb=1)]
    assert runs[0].attrs["roughness"] == shipped_roughness().path
    runs.append(stilt.run_trajectories(receptor, with_rghs, n_hours=-1, numpar=2, seed=1,
                                       nturb=1))
    assert runs[1].attrs["roughness"] == "RGHS"


BDYFILES = resources.files("stilt.met").joinpath("bdyfiles")

#: a lat/lon grid from the Pacific (145 W) to the Plains (96 W), 30-41 N, one node per degree
PACIFIC_PLAINS = ArlGrid.latlon(lat0=30.0, lon0=-145.0, dlat=1.0, dlon=1.0, nx=50, ny=12)


def test_shipped_tables_are_the_files_their_readme_describes(tmp_path: Path) -> None:
    """The installed tables have the sizes and sha256 sums their README lists (HYSPLIT's
    bdyfiles, byte for byte); the run label carries ROUGLEN.ASC's sum; reading the same files
    as a user-given table gives the same z0."""
    readme = BDYFILES.joinpath("README.md").read_text()
    listed = re.findall(r"^\| `([A-Z]+\.[A-Z]+)` \| (\d+) \| `([0-9a-f]{64})` \|$", readme,
                        re.M)
    assert sorted(name for name, _, _ in listed) == ["ASCDATA.CFG", "LANDUSE.ASC",
                                                      "ROUGLEN.ASC"]
    for name, size, digest in listed:
        data = BDYFILES.joinpath(name).read_bytes()
        assert len(data) == int(size) and hashlib.sha256(data).hexdigest() == digest, name
        (tmp_path / name).write_bytes(data)
    table = shipped_roughness()
    digest = dict((name, d) for name, _, d in listed)["ROUGLEN.ASC"]
    assert table.path == f"{SHIPPED_NAME}, sha256 {digest[:12]}"
    assert (table.lat0, table.lon0, table.dlat, table.dlon, table.default) == \
        (-90.0, -180.0, 1.0, 1.0, DEFAULT_Z0)
    assert table.z0.shape == (180, 360) and not table.z0.flags.writeable
    np.testing.assert_array_equal(read_roughness(tmp_path / "ASCDATA.CFG").z0, table.z0)


def test_default_is_the_shipped_table_per_node_and_rghs_still_wins() -> None:
    """Without a roughness setting each node takes its 1-degree cell of the shipped table
    (floor indexing): Kansas farmland 0.75 m at 38 N 99 W but 0.25 m one cell south or east,
    the Pacific 0.03 m, the forested coast at 124 W 2 m. A met RGHS field still wins."""
    met = make_met(PACIFIC_PLAINS, 2, 8.0, 0.0).drop_vars(["U10M", "V10M"])
    src = MetSource(met)
    assert src.set_roughness(roughness_source(None)) == shipped_roughness().path
    assert src.roughness.shape == (50, 12)

    def node(lat: int, lon: int) -> float:
        return float(src.roughness[lon + 145, lat - 30])

    assert node(38, -99) == 0.75 and node(39, -99) == 0.75 and node(41, -100) == 0.75
    assert node(37, -99) == 0.25 and node(38, -98) == 0.25
    assert node(35, -140) == 0.03 and node(40, -125) == 0.03
    assert node(40, -124) == 2.0
    with_rghs = MetSource(met.assign(RGHS=met.PRSS * 0 + 0.01))
    assert with_rghs.set_roughness(roughness_source(None)) == "RGHS"
    assert with_rghs.roughness is None


def test_runs_record_the_surface_and_a_constant_still_works(tmp_path: Path) -> None:
    """Trajectories and their footprint name the shipped table by default; ``roughness: 0.2``
    gives the former constant, which moves the turbulent particles differently; the transport
    hash tells the two apart."""
    from stilt.met.arl import write_arl

    write_arl(make_met(PACIFIC_PLAINS, 3, 4.0, 1.0).drop_vars(["U10M", "V10M"]),
              tmp_path / "met.arl")
    receptor = {"time": "2021-07-01T03:00", "latitude": 38.5, "longitude": -99.5,
                "altitude": 10.0}
    runs = {}
    for z0 in (None, 0.2):
        met = stilt.MetConfig(tmp_path, "met.arl", roughness=z0)
        runs[z0] = stilt.run_trajectories(receptor, met, n_hours=-2, numpar=20, seed=3)
    assert runs[None].attrs["roughness"] == shipped_roughness().path
    assert runs[0.2].attrs["roughness"] == "0.2 m"
    assert not np.allclose(runs[None].zagl.values, runs[0.2].zagl.values, equal_nan=True)
    grid = stilt.Grid(xmin=-101.0, xmax=-98.0, ymin=37.0, ymax=40.0, xres=0.1, yres=0.1)
    for run in runs.values():
        foot = stilt.calc_footprint(run, receptor, grid)
        assert foot.attrs["roughness"] == run.attrs["roughness"]
    hashes = {z0: stilt.ModelConfig(mets={"m": stilt.MetConfig(tmp_path, "met.arl",
                                                                 roughness=z0)}
                                    ).transport_hash("m") for z0 in (None, 0.2)}
    assert hashes[None] != hashes[0.2]
    assert hashes[None] == stilt.ModelConfig(
        mets={"m": stilt.MetConfig(tmp_path, "met.arl")}).transport_hash("m")


def test_project_check_reports_a_bad_roughness_table(tmp_path: Path) -> None:
    """``stilt check`` names the met source and the missing table; a good one passes."""
    from stilt.project import check_project, init_project

    init_project(tmp_path / "p")
    config = tmp_path / "p" / "config.yaml"
    text = config.read_text()
    config.write_text(text.replace("    # roughness: exe/", "    roughness: exe/"))
    problems = check_project(tmp_path / "p").problems
    assert any(p.startswith("met hrrr: roughness:") and "exe/ASCDATA.CFG does not exist" in p
               for p in problems), problems
    write_table(tmp_path / "p" / "exe", np.full((2, 2), 10))
    check = check_project(tmp_path / "p")
    assert not any("roughness" in p for p in check.problems)
    assert (f"met hrrr: roughness {tmp_path / 'p' / 'exe' / 'ASCDATA.CFG'} (where the files "
            "carry no RGHS)") in check.report()
    config.write_text(text)  # roughness unset again: the shipped table
    assert (f"met hrrr: roughness {shipped_roughness().path} (where the files carry no RGHS)"
            in check_project(tmp_path / "p").report())
