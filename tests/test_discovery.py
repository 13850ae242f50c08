"""stilt.met.discovery: file naming, coverage, symlinks, gaps and error messages."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from stilt.errors import ConfigError, MetError
from stilt.met.discovery import MetConfig, parse_tres


def hourly(path: Path) -> np.ndarray:
    """Times of a fake 6-hourly file named %Y%m%d_%H: six hourly times from its name."""
    start = np.datetime64(f"{path.name[:4]}-{path.name[4:6]}-{path.name[6:8]}T"
                          f"{path.name[9:11]}:00", "m")
    return start + np.arange(6) * np.timedelta64(60, "m")


def make_files(folder: Path, starts: list[str]) -> None:
    for s in starts:
        (folder / s).write_bytes(b"x")


def test_parse_tres() -> None:
    assert parse_tres("6 hours") == np.timedelta64(360, "m")
    assert parse_tres("1h") == np.timedelta64(60, "m")
    assert parse_tres(30) == np.timedelta64(30, "m")
    with pytest.raises(ConfigError, match="expected e.g."):
        parse_tres("six hours")


def test_strftime_pattern_finds_covering_files_in_order(tmp_path: Path) -> None:
    make_files(tmp_path, ["20230715_18", "20230716_00", "20230716_06", "20230716_12",
                          "20230716_18", "20230717_00"])
    met = MetConfig(tmp_path, "%Y%m%d_%H", "6 hours", time_lister=hourly)
    files = met.find_files(np.datetime64("2023-07-16T20:00"), -24)
    # needs 2023-07-15T20 .. 2023-07-16T20: the file of 15_18 through the one of 16_18
    assert [f.path.name for f in files] == ["20230715_18", "20230716_00", "20230716_06",
                                            "20230716_12", "20230716_18"]
    assert files[0].times[0] == np.datetime64("2023-07-15T18:00")


def test_backward_run_ending_on_a_file_boundary_takes_the_earlier_file(tmp_path: Path) -> None:
    make_files(tmp_path, ["20230715_18", "20230716_00", "20230716_06"])
    met = MetConfig(tmp_path, "%Y%m%d_%H", "6h", time_lister=hourly)
    files = met.find_files(np.datetime64("2023-07-16T06:00"), -6)
    # 00:00 .. 06:00: 06:00 is the first time of the third file
    assert [f.path.name for f in files] == ["20230716_00", "20230716_06"]


def test_fixed_name_and_symlink_duplicates(tmp_path: Path) -> None:
    make_files(tmp_path, ["20230716_00"])
    os.symlink(tmp_path / "20230716_00", tmp_path / "20230716_06")
    met = MetConfig(tmp_path, "%Y%m%d_%H", "6h", time_lister=lambda p: hourly(
        Path(os.path.realpath(p))))
    files = met.find_files(np.datetime64("2023-07-16T04:00"), -3)
    assert len(files) == 1
    fixed = MetConfig(tmp_path, "20230716_00", time_lister=hourly)
    assert fixed.is_pattern is False
    assert [f.path.name for f in fixed.find_files(np.datetime64("2023-07-16T05:00"), -5)] == [
        "20230716_00"]


def test_missing_coverage_names_file_and_time(tmp_path: Path) -> None:
    make_files(tmp_path, ["20230716_06", "20230716_12"])
    met = MetConfig(tmp_path, "%Y%m%d_%H", "6h", time_lister=hourly)
    with pytest.raises(MetError, match=r"do not reach back to 2023-07-16T02:00.*20230716_00"):
        met.find_files(np.datetime64("2023-07-16T14:00"), -12)
    with pytest.raises(MetError, match="no met file found"):
        MetConfig(tmp_path / "nothing", "%Y%m%d_%H", "6h", time_lister=hourly).find_files(
            np.datetime64("2023-07-16T14:00"), -12)


def test_gap_in_the_series_is_an_error(tmp_path: Path) -> None:
    make_files(tmp_path, ["20230716_00", "20230716_12"])  # 06 missing, but 00 and 12 exist

    def lister(path: Path) -> np.ndarray:
        return hourly(path)

    met = MetConfig(tmp_path, "%Y%m%d_%H", "6h", time_lister=lister)
    with pytest.raises(MetError, match=r"met gap: no data between 2023-07-16T05:00.*"
                                       r"and 2023-07-16T12:00"):
        met.find_files(np.datetime64("2023-07-16T14:00"), -12)
