"""Damaged state, hostile inputs and full disks (issue 15): one clear line, nothing written
outside the project.

Each test is one row of the table in docs/reliability.md. The orchestration runs with the
instrumented science functions of tests/orch_fakes.py (in this process through
``orch_fakes.install``, or in a subprocess through the CLI), so no test waits on transport.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import orch_fakes
from stilt.cli import main
from stilt.errors import ConfigError


def small_project(path: Path, n: int = 3, extra: str = "") -> Path:
    """:func:`orch_fakes.small_project` with 3 receptors unless told."""
    return orch_fakes.small_project(path, n=n, extra=extra)


def one_error_line(capsys: pytest.CaptureFixture) -> str:
    """The single stderr line of a failed command (asserting it is one line)."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("stilt: error: ")
    return err[0]


# -- inputs: config.yaml -------------------------------------------------------------------
def test_a_duplicate_key_in_config_yaml_is_refused_naming_both_lines(tmp_path, capsys) -> None:
    project = small_project(tmp_path / "p", extra="seed: 2\n")
    assert main(["check", str(project)]) == 1
    line = one_error_line(capsys)
    assert "line 9: duplicate key 'seed' (first given at line 3)" in line
    # also inside a nested mapping
    project = small_project(tmp_path / "q")
    text = (project / "config.yaml").read_text().replace("numpar: 10", "numpar: 10\nnumpar: 20")
    (project / "config.yaml").write_text(text)
    assert main(["run", str(project)]) == 1
    assert "duplicate key 'numpar'" in one_error_line(capsys)
    assert not (project / "out").exists()


def test_an_alias_bomb_is_refused_at_once_without_printing_it(tmp_path, capsys) -> None:
    # about 1 kB that expands to 10**9 strings under execution.slurm.setup
    project = small_project(tmp_path / "p")
    anchors = ["  a0: &a0 [" + ", ".join(["lol"] * 10) + "]"]
    for k in range(1, 9):
        anchors.append(f"  a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 10) + "]")
    text = ((project / "config.yaml").read_text() + "bomb:\n" + "\n".join(anchors) + "\n"
            "execution:\n  slurm:\n    setup: [" + ", ".join(["*a8"] * 10) + "]\n")
    (project / "config.yaml").write_text(text)
    assert len(text) < 2000
    t0 = time.perf_counter()
    assert main(["check", str(project)]) == 1
    assert time.perf_counter() - t0 < 5
    line = one_error_line(capsys)
    assert "aliases (*name) expand to" in line and len(line) < 400


def test_a_recursive_anchor_and_long_values_give_short_messages(tmp_path) -> None:
    from stilt._yaml import load_yaml

    with pytest.raises(ConfigError, match="recursive anchor"):
        load_yaml("a: &x [1, *x]\n", "t.yaml")
    # a long value that is wrong is named, not printed whole
    from stilt.config import ModelConfig

    setup = {"slurm": {"setup": [["x"] * 50_000]}}
    with pytest.raises(ConfigError) as err:
        ModelConfig(mets={}, execution=setup)
    assert len(str(err.value)) < 300 and "list of 50000 item" in str(err.value)


def test_a_met_directory_given_as_a_number_is_a_config_error_naming_the_key(tmp_path,
                                                                            capsys) -> None:
    project = small_project(tmp_path / "p")
    text = (project / "config.yaml").read_text().replace("directory: met", "directory: 2023")
    (project / "config.yaml").write_text(text)
    for command in ("check", "run"):
        assert main([command, str(project)]) == 1
        line = one_error_line(capsys)
        assert "mets.synth.directory: 2023 is a number; expected a folder path" in line
    assert not (project / "out").exists()


# -- inputs: receptors.csv -----------------------------------------------------------------
def test_receptors_with_bytes_that_are_not_utf8_name_the_file_and_line(tmp_path,
                                                                       capsys) -> None:
    project = small_project(tmp_path / "p")
    with open(project / "receptors.csv", "ab") as handle:
        handle.write(b"2023-07-15 18:00,-102.5,39.\xff,5\n")
    assert main(["check", str(project)]) == 1
    line = one_error_line(capsys)
    assert f"receptor file {project / 'receptors.csv'} line 5: byte 0xff is not UTF-8" in line


@pytest.mark.parametrize("year", ["0001", "9999"])
def test_receptor_years_out_of_range_are_a_clear_error(tmp_path, capsys, year: str) -> None:
    project = small_project(tmp_path / "p")
    (project / "receptors.csv").write_text(f"time,lon,lat,zagl\n{year}-07-15 18:00,-102,39,5\n")
    for command in ("check", "run"):
        assert main([command, str(project)]) == 1
        line = one_error_line(capsys)
        assert f"line 2 time: year {int(year)} is outside 1940..2039" in line
    assert not (project / "out").exists()


# -- inputs: command-line options ----------------------------------------------------------
@pytest.mark.parametrize("option, message", [
    (["--timeout", "0"], "--timeout must be more than 0 seconds"),
    (["--timeout", "nan"], "--timeout must be finite"),
    (["--backend", "banana"], "--backend must be local or slurm, got 'banana'"),
])
def test_bad_run_options_are_usage_errors_before_anything_is_registered(
        tmp_path, capsys, option: list[str], message: str) -> None:
    project = small_project(tmp_path / "p")
    assert main(["run", str(project), *option]) == 2
    assert capsys.readouterr().err.startswith(message)
    assert not (project / "out").exists()


def test_exit_codes_bad_input_1_usage_2(tmp_path, capsys) -> None:
    project = small_project(tmp_path / "p", extra="numpr: 5\n")
    assert main(["check", str(project)]) == 1
    assert main(["run", str(project), "--n-workers", "zero"]) == 2
    assert main(["status"]) == 2
    assert main(["frobnicate"]) == 2
    capsys.readouterr()


# -- the index -----------------------------------------------------------------------------
@pytest.fixture
def done_project(tmp_path, monkeypatch) -> Path:
    """A project of 3 simulations, all complete (fake science, in this process)."""
    project = small_project(tmp_path / "p")
    orch_fakes.install(monkeypatch, tmp_path / "calls.log")
    assert main(["run", str(project), "--n-workers", "1"]) == 0
    return project


def corrupt_table_page(index: Path) -> None:
    """Overwrite the root page of the simulations table, leaving the index b-trees intact
    (counts through them stay plausible)."""
    import sqlite3

    con = sqlite3.connect(index)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'simulations'"
                       ).fetchone()[0]
    size = con.execute("PRAGMA page_size").fetchone()[0]
    con.execute("PRAGMA journal_mode = DELETE")
    con.close()
    data = bytearray(index.read_bytes())
    data[(root - 1) * size:root * size] = b"\x55" * size
    index.write_bytes(bytes(data))
    con = sqlite3.connect(index)
    assert con.execute("SELECT state, count(*) FROM simulations GROUP BY state").fetchall() == [
        ("complete", 3)]
    con.close()


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("command", [["status"], ["plot"]])
def test_read_only_commands_report_a_missing_or_empty_index_and_never_create_it(
        done_project, capsys, command: list[str]) -> None:
    out = done_project / "out"
    for suffix in ("", "-wal", "-shm"):
        (out / f"index.sqlite{suffix}").unlink(missing_ok=True)
    capsys.readouterr()
    before = names(out)
    assert main([*command, str(done_project)]) == 1
    assert one_error_line(capsys) == (f"stilt: error: no index at {out / 'index.sqlite'}: run "
                                      f"`stilt index rebuild {done_project}`")
    assert names(out) == before
    (out / "index.sqlite").write_bytes(b"")
    assert main([*command, str(done_project)]) == 1
    assert "(the file is empty): run `stilt index rebuild" in one_error_line(capsys)
    assert (out / "index.sqlite").stat().st_size == 0 and names(out) == sorted(
        before + ["index.sqlite"])


def test_a_damaged_index_is_reported_by_status_and_rebuilt_by_index_rebuild(
        done_project, capsys) -> None:
    out = done_project / "out"
    index = out / "index.sqlite"
    corrupt_table_page(index)
    damaged = index.read_bytes()
    capsys.readouterr()
    assert main(["status", str(done_project)]) == 1
    line = one_error_line(capsys)
    assert "is damaged" in line and "it was left as it is: run `stilt index rebuild" in line
    assert index.read_bytes() == damaged and not list(out.glob("*.corrupt-*"))
    assert main(["index", "rebuild", str(done_project)]) == 0
    captured = capsys.readouterr()
    assert "index rebuilt with 3 simulation(s) from disk: 0 pending, 0 running, 3 complete" in \
        captured.out
    aside = list(out.glob("index.sqlite.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == damaged
    assert f"could not be read: moved it to {aside[0].name}" in captured.err
    assert main(["status", str(done_project)]) == 0
    assert "3 complete" in capsys.readouterr().out


def test_run_repairs_a_damaged_index_and_says_where_the_old_file_went(done_project,
                                                                      capsys) -> None:
    out = done_project / "out"
    corrupt_table_page(out / "index.sqlite")
    capsys.readouterr()
    assert main(["run", str(done_project), "--n-workers", "1"]) == 0
    captured = capsys.readouterr()
    aside = list(out.glob("index.sqlite.corrupt-*"))
    assert len(aside) == 1
    assert (f"index {out / 'index.sqlite'} was damaged (database disk image is malformed): "
            f"moved it to {aside[0].name} and rebuilt the index with 3 simulation(s) from disk"
            in captured.err)
    assert "3 complete" in captured.out and "0 transport runs" in captured.out


def test_a_healthy_index_that_cannot_be_written_is_never_renamed(done_project,
                                                                 monkeypatch) -> None:
    import sqlite3

    import stilt.index as index_module

    index = done_project / "out" / "index.sqlite"
    real_connect = sqlite3.connect

    def read_only_connect(database, *args, **kwargs):  # as on a file this user cannot write
        if not kwargs.get("uri"):
            database, kwargs["uri"] = f"file:{database}?mode=ro", True
        return real_connect(database, *args, **kwargs)

    monkeypatch.setattr(index_module.sqlite3, "connect", read_only_connect)
    with pytest.raises(index_module.SimulationIndexError) as err:
        index_module.open_index(index, rebuild_from=lambda: [])
    assert not err.value.damaged
    assert not list(index.parent.glob("*.corrupt-*"))


def test_rebuild_refuses_while_a_live_run_holds_claims(done_project, capsys) -> None:
    import os

    from stilt.index import SimulationIndex

    with SimulationIndex(done_project / "out" / "index.sqlite") as index:
        sim_id = index.ids()[0]
        index.reset([sim_id], ("complete",))
        assert index.claim("other-run", 600.0, sim_ids=[sim_id], pid=os.getpid())
    capsys.readouterr()
    assert main(["index", "rebuild", str(done_project)]) == 1
    line = one_error_line(capsys)
    assert f"1 simulation(s) are held by a live run (e.g. {sim_id} by pid {os.getpid()}" in line
    with SimulationIndex(done_project / "out" / "index.sqlite") as index:
        assert index.get(sim_id)["state"] == "running"


def test_rebuild_names_the_simulation_folders_it_leaves_out(done_project, capsys) -> None:
    by_id = done_project / "out" / "simulations" / "by-id"
    broken, bare = sorted(by_id.iterdir())[:2]
    (broken / "status.json").write_text('{"sim_id": "x", "met"')
    (bare / "status.json").unlink()
    capsys.readouterr()
    assert main(["index", "rebuild", str(done_project)]) == 0
    out = capsys.readouterr().out
    assert f"left out {broken / 'status.json'}: cannot be read as a status record" in out
    assert f"left out {bare}: no status.json" in out
    # their receptors are stored: they are registered still, pending
    assert ("index rebuilt with 3 simulation(s) from disk: 2 pending, 0 running, 1 complete"
            in out and "2 folder(s) noted above" in out)


# -- outputs -------------------------------------------------------------------------------
def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def outputs_of(project: Path) -> tuple[list[Path], list[Path]]:
    by_id = project / "out" / "simulations" / "by-id"
    return sorted(by_id.glob("*/*_traj.nc")), sorted(by_id.glob("*/*_foot.nc"))


def test_a_truncated_output_is_not_complete_and_is_run_again(done_project, capsys,
                                                             tmp_path) -> None:
    from stilt._verify import output_problem

    trajs, feet = outputs_of(done_project)
    truncate(trajs[0])
    truncate(feet[1])
    assert "cannot be read" in output_problem(trajs[0], "trajectory")
    capsys.readouterr()
    assert main(["run", str(done_project), "--n-workers", "1"]) == 0
    captured = capsys.readouterr()
    for path in (trajs[0], feet[1]):
        sim_id = path.parent.name
        assert (f"stilt: {sim_id}: {path.name} cannot be read (NetCDF: HDF error: truncated or "
                "damaged): pending again, to be recomputed") in captured.err
    assert "3 complete" in captured.out and "1 transport runs, 2 footprints" in captured.out
    assert all(output_problem(p, "trajectory") is None for p in trajs)
    assert all(output_problem(p, "footprint") is None for p in feet)


def test_index_rebuild_counts_a_truncated_output_pending(done_project, capsys) -> None:
    trajs, _ = outputs_of(done_project)
    truncate(trajs[2])
    capsys.readouterr()
    assert main(["index", "rebuild", str(done_project)]) == 0
    out = capsys.readouterr().out
    assert f"pending again {trajs[2].parent.name}: {trajs[2].name} cannot be read" in out
    assert "1 pending, 0 running, 2 complete" in out


def test_an_output_that_does_not_read_back_is_never_published(tmp_path, monkeypatch) -> None:
    import stilt.footprint

    project = small_project(tmp_path / "p", n=1)
    orch_fakes.install(monkeypatch, tmp_path / "calls.log")

    def short_write(ds, path) -> None:  # a writer that stops half way without an error
        orch_fakes.fake_write_footprint(ds, path)
        truncate(Path(path))

    monkeypatch.setattr(stilt.footprint, "write_footprint", short_write)
    assert main(["run", str(project), "--n-workers", "1"]) == 1
    _, feet = outputs_of(project)
    assert feet == []
    from stilt.index import SimulationIndex

    with SimulationIndex(project / "out" / "index.sqlite") as index:
        (row,) = index.rows()
    assert row["state"] == "failed" and row["reason"] == "IO"
    assert "footprint file" in row["message"] and "cannot be read" in row["message"]


def test_plots_leave_out_unreadable_footprints_with_a_message(done_project, capsys) -> None:
    trajs, feet = outputs_of(done_project)
    truncate(feet[0])
    truncate(trajs[1])
    capsys.readouterr()
    png = done_project / "elsewhere.png"
    assert main(["plot", str(done_project), "--out", str(png)]) == 0
    captured = capsys.readouterr()
    assert png.is_file()
    assert (f"stilt: left out of the mean footprint: footprint file {feet[0]} cannot be read"
            in captured.err)
    assert main(["plot", str(done_project), "--sim", trajs[1].parent.name, "--out",
                 str(png)]) == 0
    assert "drawn without particles and terrain: trajectory file" in capsys.readouterr().err
    # every footprint unreadable: one line, exit 1
    for path in feet:
        truncate(path)
    assert main(["plot", str(done_project), "--out", str(png)]) == 1
    assert "no complete simulation has a footprint" in capsys.readouterr().err


# -- writes stay inside the project --------------------------------------------------------
@pytest.mark.parametrize("dangling", [True, False])
@pytest.mark.parametrize("command", [["run", "DIR", "--n-workers", "1"], ["status", "DIR"],
                                     ["index", "rebuild", "DIR"]])
def test_a_symlink_planted_at_the_index_is_refused(done_project, tmp_path, capsys,
                                                   dangling: bool, command: list[str]) -> None:
    out = done_project / "out"
    for suffix in ("", "-wal", "-shm"):
        (out / f"index.sqlite{suffix}").unlink(missing_ok=True)
    target = tmp_path / "elsewhere" / "victim.sqlite"
    target.parent.mkdir()
    if not dangling:
        target.write_bytes(b"precious")
    (out / "index.sqlite").symlink_to(target)
    capsys.readouterr()
    assert main([str(done_project) if a == "DIR" else a for a in command]) == 1
    assert one_error_line(capsys) == (
        f"stilt: error: index {out / 'index.sqlite'} is a symbolic link (to {target}); stilt "
        "writes under the output folder only to real files and folders: remove the link")
    assert sorted(p.name for p in target.parent.iterdir()) == ([] if dangling
                                                               else ["victim.sqlite"])
    if not dangling:
        assert target.read_bytes() == b"precious"


def test_a_symlink_planted_at_the_plots_folder_is_refused(done_project, tmp_path,
                                                          capsys) -> None:
    out = done_project / "out"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "plots").symlink_to(elsewhere)
    capsys.readouterr()
    for extra in ([], ["--out", str(out / "plots" / "x.png")]):
        assert main(["plot", str(done_project), *extra]) == 1
        line = one_error_line(capsys)
        assert f"its folder leads out of the output folder {out} (to {elsewhere}" in line
    # the end of a run with 'plots: true' says so in its picture line, and the run stands
    config = done_project / "config.yaml"
    config.write_text(config.read_text() + "plots: true\n")
    assert main(["run", str(done_project), "--n-workers", "1"]) == 0
    assert "picture:      default not drawn: plot" in capsys.readouterr().out
    assert list(elsewhere.iterdir()) == []
    # a picture asked for elsewhere is the user's choice
    assert main(["plot", str(done_project), "--out", str(tmp_path / "map.png")]) == 0
    assert (tmp_path / "map.png").is_file()


def test_the_stays_inside_check() -> None:
    from stilt._paths import UnsafePathError, checked_if_inside, inside

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "out"
        (root / "a").mkdir(parents=True)
        (root / "link").symlink_to(Path(tmp))
        (root / "a" / "leaf").symlink_to(root / "a" / "gone")
        assert inside(root, "a", "x.png") == root.resolve() / "a" / "x.png"
        with pytest.raises(UnsafePathError, match="leads out of the output folder"):
            inside(root, "link", "x.png")
        with pytest.raises(UnsafePathError, match="is a symbolic link"):
            inside(root, "a", "leaf")
        with pytest.raises(UnsafePathError, match="leads out"):
            checked_if_inside(root, root / "link" / "x.png")
        assert checked_if_inside(root, Path(tmp) / "y.png") == Path(tmp) / "y.png"


# -- full disk and permissions -------------------------------------------------------------
def _failed_row(project: Path) -> dict:
    from stilt.index import SimulationIndex

    with SimulationIndex(project / "out" / "index.sqlite") as index:
        (row,) = index.rows()
    return row


#: what HDF5 (through h5py) says when a chunk cannot be written on a full disk
_HDF5_FULL = ("Can't write unprocessed chunk data (file write failed: time = Fri Dec  4 "
              "04:46:30 2026\n, filename = 'x.nc', file descriptor = 3, errno = 28, error "
              "message = 'No space left on device', buf = 0x55bd51ae992d, total write size = "
              "576876, bytes this sub-write = 576876, offset = 614400)")


@pytest.mark.parametrize("raised, full, words", [
    (OSError(28, "No space left on device"), False, "no space left on device"),
    (OSError(122, "Disk quota exceeded"), False, "disk quota exceeded"),
    (PermissionError(13, "Permission denied"), False, "permission denied"),
    # what netCDF says when the disk is full: while writing, and when creating the file
    (RuntimeError("NetCDF: HDF error"), True, "no space left on device"),
    (PermissionError(13, "Permission denied"), True, "no space left on device"),
    # h5py's full disk: the errno, and several lines of HDF5's detail cut to the first clause
    (OSError(28, _HDF5_FULL), False,
     "no space left on device: cannot write {foot} (Can't write unprocessed chunk data)"),
])
def test_a_full_disk_or_a_permission_error_is_io_naming_the_path(
        tmp_path, monkeypatch, capsys, raised: Exception, full: bool, words: str) -> None:
    import os

    import stilt.footprint

    project = small_project(tmp_path / "p", n=1)
    orch_fakes.install(monkeypatch, tmp_path / "calls.log")

    def failing_write(ds, path) -> None:
        raise raised

    monkeypatch.setattr(stilt.footprint, "write_footprint", failing_write)
    if full:
        real = os.statvfs(tmp_path)
        full = type("Full", (), {"f_bavail": 0, "f_frsize": real.f_frsize,
                                 "f_favail": real.f_favail})
        monkeypatch.setattr("stilt._verify.os.statvfs", lambda path: full)
    assert main(["run", str(project), "--n-workers", "1"]) == 1
    row = _failed_row(project)
    foot = next((project / "out" / "simulations" / "by-id").iterdir())
    assert row["reason"] == "IO"
    path = foot / (foot.name + "_default_foot.nc")
    if "{foot}" in words:
        assert words.format(foot=path) in row["message"]
    else:
        assert f"{words}: cannot write {path}" in row["message"]
    assert "\n" not in row["message"]
    assert "failed IO: 1" in (capsys.readouterr(), main(["status", str(project)]),
                               capsys.readouterr().out)[2]


def test_a_met_file_written_on_a_full_disk_is_one_line_and_leaves_no_part(
        tmp_path, monkeypatch, capsys) -> None:
    """stilt init --example on a full disk (found on a full tmpfs, where it ended in a
    traceback): the ARL writer names the file it could not write and removes its temporary
    file; the files written before stay whole, and init completes once there is room."""
    import errno

    import stilt.met.arl_write as arl_write

    real = arl_write._write_period
    calls = []

    def full_after_one_file(out, *args) -> None:
        calls.append(out.name)
        if len(set(calls)) > 1:  # the second file's first period
            raise OSError(errno.ENOSPC, "No space left on device")
        real(out, *args)

    monkeypatch.setattr(arl_write, "_write_period", full_after_one_file)
    project = tmp_path / "ex"
    assert main(["init", "--example", str(project)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("stilt: error: no space left on device: cannot write "
                          f"{project / 'met'}") and "\n" not in err
    assert [p.name for p in (project / "met").iterdir()] == ["20230715_00-05_synt.arl"]
    monkeypatch.setattr(arl_write, "_write_period", real)
    assert main(["init", "--example", str(project)]) == 0
    assert len(list((project / "met").iterdir())) == 4


@pytest.mark.parametrize("raised, code", [
    (OSError(28, "No space left on device", "/x/receptors.csv"), 1),
    (OSError(5, "Input/output error"), None),  # not the file system's refusal: a traceback
])
def test_a_stray_file_system_error_is_one_line(monkeypatch, capsys, raised, code) -> None:
    import stilt.cli as cli

    def failing(argv) -> int:
        raise raised

    monkeypatch.setitem(cli.COMMANDS, "status", failing)
    if code is None:
        with pytest.raises(OSError):
            main(["status", "x"])
        return
    assert main(["status", "x"]) == code
    assert capsys.readouterr().err == ("stilt: error: no space left on device: /x/receptors.csv "
                                       "(No space left on device)\n")


def test_a_netcdf_error_with_space_left_is_not_called_a_full_disk(tmp_path,
                                                                   monkeypatch) -> None:
    import stilt.footprint

    project = small_project(tmp_path / "p", n=1)
    orch_fakes.install(monkeypatch, tmp_path / "calls.log")

    def failing_write(ds, path) -> None:
        raise RuntimeError("NetCDF: HDF error")

    monkeypatch.setattr(stilt.footprint, "write_footprint", failing_write)
    assert main(["run", str(project), "--n-workers", "1"]) == 1
    row = _failed_row(project)
    assert row["reason"] == "ERROR" and "no space" not in row["message"]


@pytest.fixture
def read_only(tmp_path):
    """Make a folder read-only for this process: chmod for a normal user; root ignores
    permissions, so there a read-only bind mount of it (skipped where mounts are refused)."""
    import os
    import subprocess

    mounted: list[Path] = []

    def make(folder: Path) -> Path:
        if os.geteuid() != 0:
            for path in [folder, *folder.rglob("*")]:
                if not path.is_symlink():
                    path.chmod(path.stat().st_mode & ~0o222)
            return folder
        view = tmp_path / f"ro-{folder.name}"
        view.mkdir()
        for cmd in (["mount", "--bind", str(folder), str(view)],
                    ["mount", "-o", "remount,bind,ro", str(view)]):
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                if mounted or cmd[1] == "-o":
                    subprocess.run(["umount", str(view)], capture_output=True)
                pytest.skip(f"running as root and cannot make a read-only mount: {res.stderr}")
            if cmd[1] == "--bind":
                mounted.append(view)
        return view

    yield make
    for view in mounted:  # lazily: a connection the test left open must not keep it mounted
        subprocess.run(["umount", "-l", str(view)], capture_output=True, check=True)


def test_a_read_only_project_can_still_be_inspected(done_project, read_only, tmp_path,
                                                    capsys) -> None:
    project = read_only(done_project)
    before = names(project / "out")
    capsys.readouterr()
    assert main(["status", str(project)]) == 0
    assert capsys.readouterr().out.startswith("0 pending, 0 running, 3 complete, 0 failed")
    png = tmp_path / "map.png"
    assert main(["plot", str(project), "--out", str(png)]) == 0 and png.is_file()
    capsys.readouterr()
    assert main(["run", str(project), "--n-workers", "1"]) == 1
    line = one_error_line(capsys)
    assert "permission denied" in line and str(project) in line
    assert names(project / "out") == before


# -- claims --------------------------------------------------------------------------------
def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    import multiprocessing
    import os

    proc = multiprocessing.get_context("fork").Process(target=os._exit, args=(0,))
    proc.start()
    proc.join()
    return proc.pid


def test_a_claim_whose_process_is_gone_is_shown_stale_not_running(done_project,
                                                                   capsys) -> None:
    import socket

    from stilt.index import SimulationIndex

    pid = dead_pid()
    with SimulationIndex(done_project / "out" / "index.sqlite") as index:
        sim_id = index.ids()[0]
        index.reset([sim_id], ("complete",))
        assert index.claim(f"{socket.gethostname()}:{pid}:k1ll3d", 3600, sim_ids=[sim_id],
                           pid=pid)
        assert index.counts()["running"] == 1
    capsys.readouterr()
    assert main(["status", str(done_project)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "0 pending, 0 running, 2 complete, 0 failed, 1 stale"
    assert out[1] == (f"stale: 1 marked running whose process is gone (e.g. {sim_id}); the "
                      "next 'stilt run' takes them over")
    assert main(["run", str(done_project), "--n-workers", "1"]) == 0
    assert "3 complete" in capsys.readouterr().out


def test_parent_kills_do_not_count_as_attempts(tmp_path) -> None:
    import os
    import socket

    from stilt.index import SimulationIndex

    host = socket.gethostname()
    with SimulationIndex(tmp_path / "index.sqlite") as index:
        index.register([{"sim_id": "m_202307151800_-102_39_5", "met": "m",
                         "receptor": {"kind": "point"}, "config_hash": "h"}])
        for k in range(3):  # three runs killed (kill -9) while this simulation ran
            pid = dead_pid()
            (row,) = index.claim(f"{host}:{pid}:run{k}", 3600, max_attempts=3, pid=pid)
            assert row["attempts"] == 1
        (row,) = index.claim(f"{host}:{os.getpid()}:alive", 3600, max_attempts=3)
        assert row["state"] == "running" and row["attempts"] == 1
        # a worker dying under a live run still counts
        index.set_worker(row["sim_id"], row["owner"], dead_pid())
        (again,) = index.claim(f"{host}:{os.getpid()}:alive2", 3600, max_attempts=3)
        assert again["attempts"] == 2


def test_a_run_that_retries_nothing_says_why_and_how(tmp_path, monkeypatch, capsys) -> None:
    project = small_project(tmp_path / "p", n=2)
    orch_fakes.install(monkeypatch, tmp_path / "calls.log", fail_lat=39.1)
    assert main(["run", str(project), "--n-workers", "1"]) == 1
    capsys.readouterr()
    monkeypatch.setitem(orch_fakes.CALLS, "fail_lat", None)  # the cause is fixed
    assert main(["run", str(project), "--n-workers", "1"]) == 1
    out = capsys.readouterr().out
    assert ("1 simulation(s) failed in an earlier run and were not retried ('stilt status' "
            "shows why); rerun them with 'stilt run --retry-failed'") in out
    assert main(["run", str(project), "--n-workers", "1", "--retry-failed"]) == 0
    assert "earlier run" not in capsys.readouterr().out
