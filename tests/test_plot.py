"""Footprint maps (stilt.plot and 'stilt plot') on the runnable example project."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib.image as matplotlib_image  # the test extra installs matplotlib
import numpy as np
import pytest

from stilt.cli import main
from stilt.errors import ConfigError, MissingDependencyError

@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example of 'stilt init --example', run once (8 simulations, ~5 s)."""
    path = tmp_path_factory.mktemp("plot") / "example"
    assert main(["init", str(path), "--example"]) == 0
    assert main(["run", str(path)]) == 0
    return path


def _pixels(path: Path) -> np.ndarray:
    assert path.is_file()
    assert path.stat().st_size > 10_000  # a real rendered map, not an empty canvas
    image = matplotlib_image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200
    assert float(image[..., :3].std()) > 0.05
    return image


def _argmax_lonlat(foot: object) -> tuple[float, float]:
    values = np.asarray(foot)
    j, i = np.unravel_index(np.nanargmax(values), values.shape)
    return float(foot["lon"][i]), float(foot["lat"][j])  # type: ignore[index]


@pytest.mark.slow
def test_single_simulation_map(project: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    from stilt.model import Model
    from stilt.plot import footprint_field, plot_footprint

    model = Model(project)
    try:
        sim_id = model.simulations.ids("complete")[0]
        ds = model.footprints["default"].load(sim_id)
    finally:
        model.close()
    out = tmp_path / "one.png"
    assert main(["plot", str(project), f"--sim={sim_id}", f"--out={out}"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    _pixels(out)
    # the footprint plotted peaks next to its receptor
    lon, lat = _argmax_lonlat(footprint_field(ds))
    assert abs(lon - ds.attrs["receptor_long"]) <= 1.0
    assert abs(lat - ds.attrs["receptor_lati"]) <= 1.0
    # the Figure API: log colour scale over the positive values, labelled axes and units
    fig = plot_footprint(ds)
    ax, bar_ax = fig.axes
    mesh = ax.collections[0]
    positive = np.asarray(footprint_field(ds))
    positive = positive[positive > 0]
    assert type(mesh.norm).__name__ == "LogNorm"
    assert mesh.norm.vmax == pytest.approx(positive.max())
    assert mesh.norm.vmin == pytest.approx(max(positive.min(), positive.max() * 1e-6))
    assert "longitude" in ax.get_xlabel() and "latitude" in ax.get_ylabel()
    assert ds["foot"].attrs["units"] in bar_ax.get_ylabel()
    rec = ax.lines[-1].get_xydata()[0]
    assert rec == pytest.approx([ds.attrs["receptor_long"], ds.attrs["receptor_lati"]])


@pytest.mark.slow
def test_particles_and_terrain(project: Path, tmp_path: Path) -> None:
    from stilt.model import Model
    from stilt.plot import plot_footprint

    model = Model(project)
    try:
        sim_id = model.simulations.ids("complete")[0]
        foot = model.footprints["default"].paths()[0]
        traj = model.trajectories.paths()[0]
    finally:
        model.close()
    met = sorted((project / "met").iterdir())[0]
    fig = plot_footprint(foot, particles=traj, terrain=met)
    ax = fig.axes[0]
    assert len(ax.collections) == 2  # terrain underneath, footprint on top
    assert ax.collections[0].get_zorder() < ax.collections[1].get_zorder()
    assert len(ax.lines) == 1 + 100  # receptor + at most 100 of the 200 particle paths
    out = plot_footprint(foot, particles=traj, terrain=met, path=tmp_path / "t.png")
    assert out == tmp_path / "t.png"
    _pixels(out)
    assert sim_id


@pytest.mark.slow
def test_summary_is_mean_of_complete_simulations(project: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from stilt.model import Model
    from stilt.plot import footprint_field

    assert main(["plot", str(project), "--summary"]) == 0
    out = Path(capsys.readouterr().out.strip())
    assert out == project / "out" / "plots" / "summary_default.png"
    _pixels(out)
    model = Model(project)
    try:
        mean = model.footprints["default"].mean()
        ids = model.simulations.ids("complete")
        fields = [footprint_field(model.footprints["default"].load(i)) for i in ids]
    finally:
        model.close()
    assert mean.attrs["n_simulations"] == len(ids) == 8
    np.testing.assert_allclose(mean["foot"], np.mean(fields, axis=0), rtol=1e-6)
    lon, lat = _argmax_lonlat(mean["foot"])
    dist = np.hypot(np.subtract(mean.attrs["receptor_longitudes"], lon),
                    np.subtract(mean.attrs["receptor_latitudes"], lat))
    assert dist.min() <= 1.0


def test_bad_footprint_name_and_sim(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", str(project), "--footprint=nope"]) == 1
    assert "footprint 'nope' is not configured" in capsys.readouterr().err
    assert main(["plot", str(project), "--sim=nosuch"]) == 1
    assert "'nosuch' is not registered" in capsys.readouterr().err
    assert main(["plot", str(project), "--sim=x", "--summary"]) == 2


def test_empty_project_names_the_cause(tmp_path: Path) -> None:
    from stilt.model import Model

    assert main(["init", str(tmp_path / "p"), "--example"]) == 0
    model = Model(tmp_path / "p")
    try:
        with pytest.raises(ConfigError, match="no complete simulation has a footprint"):
            model.footprints["default"].mean()
    finally:
        model.close()


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import xarray as xr

    from stilt.plot import plot_footprint

    for name in ("matplotlib", "matplotlib.figure", "matplotlib.colors"):
        monkeypatch.setitem(sys.modules, name, None)
    ds = xr.Dataset({"foot": (("lat", "lon"), np.ones((2, 2)))},
                    coords={"lat": [0.0, 1.0], "lon": [0.0, 1.0]})
    with pytest.raises(MissingDependencyError, match=r"pip install 'stilt\[plot\]'"):
        plot_footprint(ds)


def test_import_is_lazy_and_leaves_global_state_alone() -> None:
    code = (
        "import sys, numpy as np, xarray as xr\n"
        "import stilt.plot\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported at import time'\n"
        "ds = xr.Dataset({'foot': (('lat', 'lon'), np.arange(4.0).reshape(2, 2))},\n"
        "                coords={'lat': [0.0, 1.0], 'lon': [0.0, 1.0]})\n"
        "import io; stilt.plot.plot_footprint(ds).savefig(io.BytesIO(), format='png')\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "import matplotlib; print(matplotlib.rcParams['backend'])\n"
    )
    env_backend = subprocess.run([sys.executable, "-c", "import matplotlib;"
                                  "print(matplotlib.rcParams['backend'])"],
                                 capture_output=True, text=True, timeout=60)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout == env_backend.stdout  # the default backend was not changed


@pytest.mark.slow
def test_simulation_and_collection_plot_methods(project: Path, tmp_path: Path) -> None:
    from stilt.collections import Simulation
    from stilt.model import Model
    from stilt.plot import footprint_field

    model = Model(project)
    try:
        sim_id = model.simulations.ids("complete")[0]
        sim = model.simulations[sim_id]
        assert isinstance(sim, Simulation) and sim.id == sim_id
        with pytest.raises(KeyError, match="not registered"):
            model.simulations["nosuch"]
        # default: particle paths and the terrain of the met the simulation read
        fig = sim.plot()
        ax = fig.axes[0]
        assert len(ax.collections) == 2 and len(ax.lines) == 1 + 100
        bare = sim.plot(particles=False, terrain=False).axes[0]
        assert len(bare.collections) == 1 and len(bare.lines) == 1
        out = sim.plot(path=tmp_path / "sim.png")
        assert out == tmp_path / "sim.png"
        _pixels(out)
        # the collection: one simulation, or the project mean (terrain underneath)
        one = model.footprints["default"].plot(sim_id, particles=False).axes[0]
        assert len(one.lines) == 1
        mean_ax = model.footprints["default"].plot().axes[0]
        assert len(mean_ax.collections) == 2 and len(mean_ax.lines) == 8
        summary = model.footprints["default"].plot(path=tmp_path / "mean.png")
        _pixels(summary)
        # the footprint layer's colour scale tops out at the footprint maximum
        assert one.collections[-1].norm.vmax == pytest.approx(
            float(np.nanmax(footprint_field(sim.footprint()).values)))
    finally:
        model.close()


@pytest.mark.slow
def test_plot_command_draws_terrain_and_can_leave_out_particles(project: Path,
                                                                tmp_path: Path) -> None:
    from matplotlib.image import imread

    from stilt.model import Model

    model = Model(project)
    try:
        sim_id = model.simulations.ids("complete")[0]
    finally:
        model.close()
    full, bare = tmp_path / "full.png", tmp_path / "bare.png"
    assert main(["plot", str(project), f"--sim={sim_id}", f"--out={full}"]) == 0
    assert main(["plot", str(project), f"--sim={sim_id}", f"--out={bare}", "--no-particles",
                 "--no-terrain"]) == 0
    a, b = _pixels(full), _pixels(bare)
    # with terrain the blank (no footprint) area is grey, without it white
    assert float(a[..., :3].mean()) < float(b[..., :3].mean())
    from PIL import Image

    with Image.open(full) as png:
        assert png.info.get("Software", "").startswith("stilt ")
    assert imread(full).shape == a.shape
