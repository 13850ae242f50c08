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
    """A project of ``n`` receptors whose science the fakes replace (no met is read)."""
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(
        "n_hours: -2\nnumpar: 10\nseed: 1\n"
        "mets:\n  synth: {directory: met, file_format: x.arl}\n"
        "footprints:\n  default:\n    grid: {xmin: -104, xmax: -99, ymin: 38, ymax: 42, "
        "xres: 0.5, yres: 0.5}\n" + extra)
    rows = ["time,lon,lat,zagl"] + [f"2023-07-15 18:00,-102.5,{39 + 0.1 * k:.1f},5"
                                    for k in range(n)]
    (path / "receptors.csv").write_text("\n".join(rows) + "\n")
    return path


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
