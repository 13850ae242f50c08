"""stilt.met.discovery: file naming, coverage, symlinks, gaps and error messages."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from stilt.errors import ConfigError, MetError, MetMissingError
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
    assert parse_tres("1 week") == np.timedelta64(7 * 1440, "m")
    with pytest.raises(ConfigError, match="expected e.g."):
        parse_tres("six hours")


@pytest.mark.parametrize("text", ["1 month", "1 months", "1mo", "1 Month"])
def test_parse_tres_months(text: str) -> None:
    out = parse_tres(text)
    assert out == np.timedelta64(1, "M") and np.datetime_data(out.dtype)[0] == "M"
    assert parse_tres(np.timedelta64(2, "M")) == np.timedelta64(2, "M")


def test_upper_case_m_is_refused_as_ambiguous() -> None:
    with pytest.raises(ConfigError, match=r"'1M' is ambiguous \(month or minute\?\).*'1 month'"):
        parse_tres("1M")
    with pytest.raises(ConfigError, match="ambiguous"):
        MetConfig("met", "%Y%m", "1M")
    with pytest.raises(ConfigError, match="months must be whole"):
        parse_tres("1.5 months")
    assert parse_tres("1m") == np.timedelta64(1, "m")  # lower case: minutes, as pandas


def archive_times(path: Path) -> np.ndarray:
    """Times of a fake archive file ``YYYYMMDD_HH-HH_<x>``: every hour from HH to HH."""
    name = path.name
    start = np.datetime64(f"{name[:4]}-{name[4:6]}-{name[6:8]}T{name[9:11]}:00", "m")
    hours = int(name[12:14]) - int(name[9:11]) + 1
    return start + np.arange(hours) * np.timedelta64(60, "m")


def archive(folder: Path, days: list[str], suffix: str = "hrrr") -> list[Path]:
    """Six-hour archive files ``YYYYMMDD_HH-HH_<suffix>`` for every day in ``days``."""
    out = []
    for day in days:
        for h in range(0, 24, 6):
            path = folder / f"{day}_{h:02d}-{h + 5:02d}_{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")
            out.append(path)
    return out


def test_hourly_steps_find_six_hour_archive_files_by_prefix(tmp_path: Path) -> None:
    archive(tmp_path, ["20230714", "20230715", "20230716"])
    met = MetConfig(tmp_path, "%Y%m%d_%H", "1h", time_lister=archive_times)
    files = met.find_files(np.datetime64("2023-07-15T18:00"), -24)
    assert [f.path.name for f in files] == ["20230714_18-23_hrrr", "20230715_00-05_hrrr",
                                            "20230715_06-11_hrrr", "20230715_12-17_hrrr",
                                            "20230715_18-23_hrrr"]
    # a run inside one file whose name is hours before the run: the search steps back to it
    files = met.find_files(np.datetime64("2023-07-16T04:30"), -1)
    assert [f.path.name for f in files] == ["20230716_00-05_hrrr"]
    # forward runs take the file holding the time after the end
    files = met.find_files(np.datetime64("2023-07-15T16:30"), 2)
    assert [f.path.name for f in files] == ["20230715_12-17_hrrr", "20230715_18-23_hrrr"]


def test_search_is_recursive_ignores_locks_backups_partials_and_hidden(tmp_path: Path) -> None:
    real = archive(tmp_path / "2023" / "07", ["20230715"])
    for junk in ("20230715_18-23_hrrr.lock", "20230715_18-23_hrrr~", "20230715_18-23_hrrr.part",
                 "20230715_18-23_hrrr.tmp", ".20230715_18-23_hrrr", "20230715_18-23_x.partial"):
        (tmp_path / junk).write_bytes(b"junk")
    (tmp_path / ".snapshot").mkdir()
    (tmp_path / ".snapshot" / "20230715_18-23_hrrr").write_bytes(b"old")
    (tmp_path / "links").mkdir()
    os.symlink(real[3], tmp_path / "links" / real[3].name)  # the same file twice
    os.symlink(tmp_path, tmp_path / "links" / "loop")  # a folder link back up: visited once
    met = MetConfig(tmp_path, "%Y%m%d_%H", "1h", time_lister=archive_times)
    found = met.matching_files(np.datetime64("2023-07-15T18:00"), np.datetime64("2023-07-15T20:00"))
    assert len(found) == 1 and os.path.realpath(found[0]) == os.path.realpath(real[3])
    files = met.find_files(np.datetime64("2023-07-15T23:00"), -12)
    assert [f.path.name for f in files] == ["20230715_06-11_hrrr", "20230715_12-17_hrrr",
                                            "20230715_18-23_hrrr"]


def test_exact_name_wins_over_prefix_and_globs_match_the_whole_name(tmp_path: Path) -> None:
    make_files(tmp_path, ["20230716_00", "20230716_00.md5", "20230716_00_b"])
    fixed = MetConfig(tmp_path, "20230716_00", time_lister=hourly)
    assert [p.name for p in fixed.matching_files(np.datetime64("2023-07-16T01:00"),
                                                 np.datetime64("2023-07-16T02:00"))] == [
        "20230716_00"]
    archive(tmp_path, ["20230716"], suffix="hrrr")
    archive(tmp_path, ["20230716"], suffix="nam")
    glob = MetConfig(tmp_path, "%Y%m%d_%H-*_nam", "6h", time_lister=archive_times)
    files = glob.find_files(np.datetime64("2023-07-16T10:00"), -6)
    assert [f.path.name for f in files] == ["20230716_00-05_nam", "20230716_06-11_nam"]
    assert glob.matching_files(np.datetime64("2023-07-16T10:00"),
                               np.datetime64("2023-07-16T10:00"))[0].name.endswith("_nam")


def test_a_pattern_with_folders_is_matched_below_the_directory(tmp_path: Path) -> None:
    archive(tmp_path / "2023" / "07", ["20230715"])
    archive(tmp_path / "other", ["20230715"])
    met = MetConfig(tmp_path, "%Y/%m/%Y%m%d_%H", "6h", time_lister=archive_times)
    files = met.find_files(np.datetime64("2023-07-15T10:00"), -3)
    assert [str(f.path.relative_to(tmp_path)) for f in files] == ["2023/07/20230715_06-11_hrrr"]
    with pytest.raises(ConfigError, match="must be relative to directory"):
        MetConfig(tmp_path, "/data/%Y%m%d_%H", "6h")


def test_monthly_files_with_a_month_step(tmp_path: Path) -> None:
    make_files(tmp_path, ["gdas.202306", "gdas.202307", "gdas.202308"])

    def monthly(path: Path) -> np.ndarray:
        month = np.datetime64(f"{path.name[5:9]}-{path.name[9:11]}", "M")
        first = month.astype("datetime64[m]")
        last = (month + 1).astype("datetime64[m]")
        return np.arange(first, last, np.timedelta64(180, "m"))

    met = MetConfig(tmp_path, "gdas.%Y%m", "1 month", time_lister=monthly)
    files = met.find_files(np.datetime64("2023-07-01T04:00"), -24)
    assert [f.path.name for f in files] == ["gdas.202306", "gdas.202307"]
    assert met.patterns(np.datetime64("2023-07-01T04:00"), np.datetime64("2023-06-30T04:00")) == [
        "gdas.202305", "gdas.202306", "gdas.202307", "gdas.202308"]


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
    (tmp_path / "empty").mkdir()
    with pytest.raises(MetMissingError, match="no met file found.*20230716_18, 20230717_00"):
        MetConfig(tmp_path / "empty", "%Y%m%d_%H", "6h", time_lister=hourly).find_files(
            np.datetime64("2023-07-17T02:00"), 1)
    with pytest.raises(MetMissingError, match=r"met directory .*nothing does not exist"):
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


def test_every_missing_file_error_is_classified_met_missing(tmp_path: Path) -> None:
    from stilt.simulation import classify_failure

    make_files(tmp_path, ["20230716_00", "20230716_12"])
    met = MetConfig(tmp_path, "%Y%m%d_%H", "6h", time_lister=hourly)
    cases = [(np.datetime64("2023-07-16T14:00"), -12),  # gap: 20230716_06 missing
             (np.datetime64("2023-07-16T04:00"), -12),  # does not reach back
             (np.datetime64("2023-07-16T16:00"), 6)]  # does not reach forward
    for t, n in cases:
        with pytest.raises(MetMissingError) as err:
            met.find_files(t, n)
        assert classify_failure(err.value) == "MET_MISSING", str(err.value)
    with pytest.raises(MetMissingError) as err:
        MetConfig(tmp_path / "no", "%Y%m%d_%H", "6h").find_files(cases[0][0], -1)
    assert classify_failure(err.value) == "MET_MISSING"
