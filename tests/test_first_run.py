"""The first run of a fresh install: 'stilt init --example DIR' then 'stilt run DIR'."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

STILT = Path(sys.executable).parent / "stilt"  # the installed console script


def _lines(stdout: str) -> dict[str, str]:
    out = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep and key in ("outputs", "trajectories", "footprints", "picture", "pictures"):
            out[key] = value.strip()
    return out


@pytest.mark.slow
def test_example_runs_in_under_a_minute_and_says_where_its_outputs_are(tmp_path: Path) -> None:
    case = tmp_path / "case"
    start = time.perf_counter()
    init = subprocess.run([str(STILT), "init", "--example", str(case)], capture_output=True,
                          text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    run = subprocess.run([str(STILT), "run", str(case)], capture_output=True, text=True,
                         timeout=120)
    elapsed = time.perf_counter() - start
    assert run.returncode == 0, run.stderr
    assert elapsed < 60.0, f"first run took {elapsed:.1f} s"
    assert "8 complete, 0 failed" in run.stdout
    where = _lines(run.stdout)
    assert run.stdout.rstrip().splitlines()[-1].startswith("picture:")  # it ends with them
    assert Path(where["outputs"]) == (case / "out").resolve()
    assert len(list(Path(where["trajectories"]).glob("*_traj.nc"))) == 8
    assert len(list(Path(where["footprints"]).glob("*_default_foot.nc"))) == 8
    picture = Path(where["picture"])
    assert picture == (case / "out" / "plots" / "summary_default.png").resolve()
    assert picture.stat().st_size > 10_000
    image = imread(picture)
    assert image.shape[0] > 200 and image.shape[1] > 200
    assert float(np.asarray(image)[..., :3].std()) > 0.05
    # the example's grid holds the footprints whole: on a grid 6x wider and taller the first
    # simulation's total is the same (the grid used to cut off about 17 % of it)
    import xarray as xr

    from stilt.footprint import Grid, calc_footprint
    from stilt.model import Model

    model = Model(case)
    first = sorted(model.simulations.ids())[0]
    traj = next((case / "out" / "simulations" / "by-id" / first).glob("*_traj.nc"))
    receptor = next(r for r in model.receptors if first.endswith(r.location_id))
    grid = model.config.footprints["default"].grid
    wide = Grid(xmin=-121.0, xmax=-86.0, ymin=30.0, ymax=48.0, xres=0.1, yres=0.1)
    with xr.open_dataset(traj) as particles:
        total = float(calc_footprint(particles, receptor, wide, time_integrate=True)["foot"].sum())
        kept = float(calc_footprint(particles, receptor, grid,
                                    time_integrate=True)["foot"].sum())
    model.close()
    assert total > 0 and kept / total > 0.99, (kept, total)


@pytest.mark.slow
def test_without_matplotlib_the_run_still_succeeds_and_names_the_extra(tmp_path: Path) -> None:
    case = tmp_path / "case"
    assert subprocess.run([str(STILT), "init", "--example", str(case)], capture_output=True,
                          timeout=120).returncode == 0
    code = ("import sys\nsys.modules['matplotlib'] = None\n"
            "from stilt.cli import main\n"
            f"sys.exit(main(['run', {str(case)!r}]))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    where = _lines(run.stdout)
    assert "picture" not in where
    assert "pip install 'stilt[plot]'" in where["pictures"]
    assert not (case / "out" / "plots").exists()


@pytest.mark.slow
def test_the_readme_python_example_runs_on_the_met_stilt_met_synth_writes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """README 'Using it': the console lines make the met, the Python block then runs as
    written (no file a new user does not have)."""
    import re

    from stilt.cli import main

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Using it", 1)[1].split("\n## ", 1)[0]
    assert "$ stilt met synth ./met --hours 24" in section
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    assert main(["met", "synth", "./met", "--hours", "24"]) == 0
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    foot = namespace["foot"]
    assert float(foot["foot"].sum()) > 0 and (tmp_path / "foot.nc").stat().st_size > 0
    assert namespace["window"].sizes["time"] == 3
    files = str(namespace["particles"].attrs["met_files"])
    assert "20230715_12-17_synt.arl" in files and "oct1618" not in code
