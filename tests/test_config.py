"""ModelConfig: YAML round trip, unknown keys, cross-field checks, hashes, ids and path safety."""

from __future__ import annotations

import pytest

from stilt.config import FootprintConfig, ModelConfig, load_config, save_config
from stilt.errors import ConfigError
from stilt.ids import check_name, safe_path, simulation_id
from stilt.receptors import PointReceptor

MET = {"directory": "met", "file_format": "%Y%m%d_00-23_synt.arl", "file_tres": "1d"}
GRID = {"xmin": -104.0, "xmax": -99.0, "ymin": 38.0, "ymax": 42.0, "xres": 0.1, "yres": 0.1}


def make(**kw: object) -> ModelConfig:
    base: dict = {"mets": {"synth": dict(MET)}, "footprints": {"default": {"grid": dict(GRID)}}}
    base.update(kw)
    return ModelConfig(**base)


def test_yaml_round_trip_keeps_everything(tmp_path) -> None:
    cfg = make(n_hours=-6, numpar=200, seed=7, kmix0=250, varsiwant=["time", "indx", "lati"],
               execution={"n_workers": 2, "timeout": 60})
    path = save_config(cfg, tmp_path / "config.yaml")
    again = load_config(path)
    assert again == cfg
    assert again.params["kmix0"] == 250 and again.execution.n_workers == 2
    assert again.execution.timeout == 60.0 and again.footprints["default"].shape == (40, 50)
    assert not list(tmp_path.glob(".*tmp"))


def test_yaml_is_loaded_safely(tmp_path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("n_hours: !!python/object/apply:os.getcwd []\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


@pytest.mark.parametrize("data, message", [
    ({"numpr": 10}, "unknown key 'numpr'; did you mean 'numpar'?"),
    ({"kmx0": 10}, "unknown key 'kmx0'; did you mean 'kmix0'?"),
    ({"execution": {"n_worker": 2}}, "execution: unknown key 'n_worker'; did you mean 'n_workers'?"),
    ({"mets": {"synth": {**MET, "file_tre": "1d"}}}, "did you mean 'file_tres'?"),
    ({"kmix0": "deep"}, "parameter kmix0='deep': expected int"),
    ({"n_hours": 0}, "n_hours: must not be 0"),
    ({"mets": {"my_met": MET}}, "met name 'my_met' is not allowed"),
    ({"footprints": {"a/../../b": {"grid": GRID}}}, "footprint name 'a/../../b' is not allowed"),
    ({"output_dir": "../elsewhere"}, "output_dir '../elsewhere' is not allowed"),
    ({"execution": {"backend": "slurmm"}},
     "backend 'slurmm' is not available; did you mean 'slurm'"),
    ({"execution": {"backend": "slurm", "slurm": {"mem": "4G\n#SBATCH --x"}}},
     "must be one non-empty line (no newline, carriage return or NUL)"),
    ({"footprints": {"big": {"grid": {**GRID, "xres": 0.0001, "yres": 0.0001}}}},
     "exceeds the budget of 50,000,000"),
    ({"footprints": {"bad": {"grid": {**GRID, "xmin": -98.0}}}}, "needs xmin < xmax"),
])
def test_bad_config_gives_one_clear_message(tmp_path, data: dict, message: str) -> None:
    import yaml

    path = tmp_path / "config.yaml"
    full = {"mets": {"synth": dict(MET)}, **data}
    path.write_text(yaml.safe_dump(full))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_grid_budget_counts_hourly_layers() -> None:
    grid = {**GRID, "xres": 0.01, "yres": 0.01}  # 500 x 400 = 200,000 cells
    make(footprints={"f": {"grid": grid, "time_integrate": True}}, n_hours=-300)
    with pytest.raises(ConfigError, match="x 301 layers"):
        make(footprints={"f": {"grid": grid}}, n_hours=-300)


def test_config_and_footprints_share_one_grid_type() -> None:
    from stilt.footprint import Grid

    fp = make().footprints["default"]
    assert isinstance(fp.grid, Grid) and fp.grid == Grid(**GRID)
    assert fp.shape == Grid(**GRID).shape == (40, 50)
    # a grid across the antimeridian, as calc_footprint takes it: 20 x 10 whole cells
    across = {**GRID, "xmin": 170.0, "xmax": -170.0, "ymin": 30.0, "ymax": 40.0, "xres": 1.0,
              "yres": 1.0}
    assert make(footprints={"a": {"grid": across}}).footprints["a"].shape == (10, 20)
    # the budget counts the cells the footprint has: 0.1 x 0.3 degrees over 1 x 1 degree
    # is 10 x 3 whole cells (the old count rounded 3.33 up to 4)
    odd = {**GRID, "xmin": 0.0, "xmax": 1.0, "ymin": 0.0, "ymax": 1.0, "yres": 0.3}
    make(footprints={"o": {"grid": odd}}, cell_budget=30 * 25, n_hours=-24)
    with pytest.raises(ConfigError, match="footprints.o: grid of 10 x 3 cells x 25 layers"):
        make(footprints={"o": {"grid": odd}}, cell_budget=30 * 25 - 1, n_hours=-24)


def test_hashes_separate_transport_from_footprint_settings() -> None:
    base = make()
    more_particles = make(numpar=500)
    smoother = make(footprints={"default": FootprintConfig(GRID, smooth_factor=2.0)})
    assert base.transport_hash("synth") != more_particles.transport_hash("synth")
    assert base.transport_hash("synth") == smoother.transport_hash("synth")
    assert base.footprint_hash("synth", "default") != smoother.footprint_hash("synth", "default")
    assert make(kmix0=150).transport_hash("synth") == base.transport_hash("synth")  # default
    assert make(kmix0=250).transport_hash("synth") != base.transport_hash("synth")
    assert make(execution={"n_workers": 4}).transport_hash("synth") == base.transport_hash("synth")
    assert base.seed_for("a") == base.seed_for("a") != base.seed_for("b")
    assert make(seed=3).seed_for("a") == 3


def test_overrides_leave_the_original() -> None:
    cfg = make()
    other = cfg.with_overrides(execution={"n_workers": 3})
    assert other.execution.n_workers == 3 and cfg.execution.n_workers == 1


def test_simulation_ids_and_safe_names(tmp_path) -> None:
    r = PointReceptor("2023-07-15 18:00", -102.5, 39.6, 5.0)
    assert simulation_id("synth", r) == "synth_202307151800_-102.5_39.6_5"
    for bad in ("../evil", "a/b", ".hidden", "", "x..y", "a b", "a\nb"):
        with pytest.raises(ConfigError, match="not allowed"):
            check_name(bad, "simulation id")
    with pytest.raises(ConfigError, match="leaves the folder"):
        safe_path(tmp_path, "..", "x")
    (tmp_path / "link").symlink_to("/")
    with pytest.raises(ConfigError, match="leaves the folder"):
        safe_path(tmp_path, "link", "etc")
    assert safe_path(tmp_path, "a", "b") == (tmp_path / "a" / "b").resolve()


def test_plots_key_is_checked_saved_and_changes_no_hash(tmp_path) -> None:
    with pytest.raises(ConfigError, match="plots: 'yes' must be true or false"):
        make(plots="yes")
    cfg = make(plots=True)
    assert cfg.plots is True and make().plots is False
    assert load_config(save_config(cfg, tmp_path / "config.yaml")).plots is True
    assert cfg.transport_hash("synth") == make().transport_hash("synth")
    assert cfg.footprint_hash("synth", "default") == make().footprint_hash("synth", "default")


def test_with_overrides_replaces_the_mets_it_is_given() -> None:
    from stilt.met.discovery import MetConfig

    base = make()
    hrrr = MetConfig("/data/hrrr", "%Y%m%d_%H", "1h")
    changed = base.with_overrides(mets={"hrrr": hrrr}, numpar=50)
    assert list(changed.mets) == ["hrrr"] and changed.mets["hrrr"] == hrrr
    assert changed.numpar == 50 and list(base.mets) == ["synth"]
    assert base.with_overrides(numpar=50).mets == base.mets  # kept when not given


def test_met_directory_is_a_path_before_and_after_saving(tmp_path) -> None:
    from pathlib import Path

    from stilt.met.discovery import MetConfig

    for directory in ("met", Path("met"), Path("/data/hrrr")):
        cfg = make(mets={"synth": MetConfig(directory, "%Y%m%d_%H", "1h")})
        again = load_config(save_config(cfg, tmp_path / "config.yaml"))
        assert isinstance(cfg.mets["synth"].directory, Path)
        assert again.mets["synth"].directory == Path(directory) == cfg.mets["synth"].directory
        assert again == cfg and again.transport_hash("synth") == cfg.transport_hash("synth")
