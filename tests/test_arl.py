"""ARL packed meteorology: decoding real files, round trips, windows and corrupt input."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from stilt import _core
from stilt.errors import MetError
from stilt.met.arl import (
    arl_inventory,
    arl_times,
    describe_arl,
    met_dataset,
    read_arl,
    read_arl_arrays,
    write_arl,
)
from stilt.met.projection import ArlGrid

OCT_LREC = 50 + 33 * 28
OCT_SIGMA = [0.9823, 0.9432, 0.8967, 0.8437, 0.7848, 0.721, 0.6531, 0.582, 0.5086, 0.4341]
# make_met.py of oracle/uniform: the sigma levels it wrote
UNIFORM_SIGMA = [1.0, 0.995, 0.99, 0.98, 0.97, 0.955, 0.94, 0.92, 0.9, 0.87, 0.84, 0.8,
                 0.75, 0.7, 0.65, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]


@pytest.fixture(scope="module")
def oct_path(shared_dir: Path) -> Path:
    return shared_dir / "met" / "oct1618.BIN"


@pytest.fixture(scope="module")
def oct_ds(oct_path: Path):
    return read_arl(oct_path)


def _gunzip(src: Path, dst: Path) -> Path:
    with gzip.open(src, "rb") as fin, open(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    return dst


def _label_fields(raw: bytes) -> tuple[int, np.float32, np.float32]:
    text = raw.decode()
    return int(text[18:22]), np.float32(float(text[22:36])), np.float32(float(text[36:50]))


# ---- the core ------------------------------------------------------------------------------

def test_checksum_of_constant_field_is_207() -> None:
    # docs/physics.md §2.1: an 81x61 constant field packs to bytes 127 whose checksum is 207
    packed, nexp, prec, var1, sums, status = _core.arl_pack_records(
        np.full((81, 61, 1), 850.0, dtype=np.float32, order="F"))
    assert status[0] == 0 and nexp[0] == 1 and sums[0] == 207
    assert np.all(packed == 127)
    assert prec[0] == np.float32(2.0 / 254.0) and var1[0] == np.float32(850.0)


def test_checksum_end_around_carry_matches_running_rule() -> None:
    rng = np.random.default_rng(3)
    field = rng.normal(size=(17, 13, 1)).astype(np.float32).cumsum(axis=0)
    packed, _, _, _, sums, _ = _core.arl_pack_records(np.asfortranarray(field))
    ksum = 0
    for b in packed[:, 0].view(np.uint8):
        ksum += int(b)
        if ksum >= 256:
            ksum -= 255
    assert sums[0] == ksum


def test_pack_refuses_non_finite_fields() -> None:
    field = np.zeros((12, 10, 2), dtype=np.float32, order="F")
    field[3, 4, 1] = np.inf
    *_, status = _core.arl_pack_records(field)
    assert list(status) == [0, 4]


def test_unpack_rejects_window_outside_record() -> None:
    rec = np.full((50 + 20, 1), 127, dtype=np.int8, order="F")
    _, _, status = _core.arl_unpack_records(rec, [1], [0.01], [1.0], 5, 1, 5, 1, 5, 1)
    assert status == 1  # 5 rows of 5 need 25 bytes, the record has 20


# ---- oct1618.BIN (NGM, polar stereographic, sigma) -----------------------------------------

def test_oct1618_grid_levels_and_times(oct_ds) -> None:
    ds = oct_ds
    assert (ds.attrs["nx"], ds.attrs["ny"]) == (33, 28)
    assert ds.sizes == {"time": 36, "level": 10, "y": 28, "x": 33}
    assert ds.attrs["source"] == "NGM" and ds.attrs["vertical_system"] == 1
    assert ds.attrs["vertical_system_name"] == "sigma" and ds.attrs["surface_level_value"] == 1.0
    np.testing.assert_allclose(ds.level_value, OCT_SIGMA, rtol=0, atol=1e-12)
    assert ds.attrs["grid_size_km"] == 182.9 and ds.attrs["tang_lat"] == 90.0
    assert ds.attrs["ref_lon"] == -105.0 and ds.attrs["sync_xp"] == 13.25
    t = ds.time.values
    assert str(t[0])[:16] == "1995-10-16T00:00" and str(t[-1])[:16] == "1995-10-18T22:00"
    assert np.all(np.diff(t) == np.timedelta64(2, "h"))
    assert ds.x.dtype == np.int32 and list(ds.x.values[[0, -1]]) == [1, 33]
    assert ds.forecast_hour.dtype == np.int32 and np.all(ds.forecast_hour == 0)
    # README: covers lon -144.7..-51.8, lat 19.2..64.4
    assert float(ds.lon.min()) == pytest.approx(-144.7, abs=0.05)
    assert float(ds.lon.max()) == pytest.approx(-51.8, abs=0.05)
    assert float(ds.lat.min()) == pytest.approx(19.2, abs=0.05)
    assert float(ds.lat.max()) == pytest.approx(64.4, abs=0.05)
    surface = {"PRSS", "MSLP", "SHGT", "TPPT", "CPPT", "EXCO", "HFLX", "WFLX", "ICWT", "SNOW",
               "MXLR"}
    assert {v for v in ds.data_vars if ds[v].dims == ("time", "y", "x")} == surface
    assert {v for v in ds.data_vars if ds[v].ndim == 4} == {"UWND", "VWND", "WWND", "TEMP",
                                                            "SPHU"}


def test_oct1618_values_are_physical(oct_ds) -> None:
    ds = oct_ds
    for v in ds.data_vars:
        assert ds[v].dtype == np.float32 and not np.isnan(ds[v].values).any(), v
    assert 600 < float(ds.PRSS.min()) and float(ds.PRSS.max()) < 1050
    assert 200 < float(ds.TEMP.min()) and float(ds.TEMP.max()) < 320
    assert float(abs(ds.UWND).max()) < 100
    assert float(ds.SPHU.min()) > -1e-4 and float(ds.SPHU.max()) < 0.03  # packing noise
    assert ds.PRSS.attrs["units"] == "hPa" and ds.TEMP.attrs["units"] == "K"
    assert ds.UWND.attrs["standard_name"] == "x_wind"  # grid-relative on a conformal grid
    # temperature decreases with sigma height on average, pressure-like MSLP near PRSS at sea
    mean_t = ds.TEMP.mean(dim=("time", "y", "x")).values
    assert np.all(np.diff(mean_t) < 0)


def test_oct1618_stored_checksums_all_verified(oct_path: Path) -> None:
    inv = arl_inventory(oct_path)
    raw = np.fromfile(oct_path, dtype=np.uint8).reshape(-1, OCT_LREC)
    assert raw.shape[0] == 36 * 62 and inv.records_per_period == 62
    assert inv.checksums.shape == (36, 61) and np.all(inv.checksums > 0)
    data = np.array([inv.record_number(p, r) - 1 for p in range(36) for r in range(61)])
    _, sums, status = _core.arl_unpack_records(
        raw[data].view(np.int8).T, np.ones(len(data), np.int32), np.zeros(len(data), np.float32),
        np.zeros(len(data), np.float32), 33, 1, 1, 1, 1, 1)
    assert status == 0
    np.testing.assert_array_equal(sums, inv.checksums.ravel())


def test_oct1618_repack_is_bit_identical(oct_path: Path) -> None:
    inv = arl_inventory(oct_path)
    raw = np.fromfile(oct_path, dtype=np.uint8).reshape(-1, OCT_LREC)
    data = [inv.record_number(p, r) - 1 for p in range(36) for r in range(61)]
    labels = [_label_fields(raw[k, :50].tobytes()) for k in data]
    nexp = np.array([lab[0] for lab in labels], np.int32)
    prec = np.array([lab[1] for lab in labels], np.float32)
    var1 = np.array([lab[2] for lab in labels], np.float32)
    values, sums, status = _core.arl_unpack_records(raw[data].view(np.int8).T, nexp, prec, var1,
                                                    33, 1, 33, 1, 28, 1)
    assert status == 0
    packed, nexp2, prec2, var12, sums2, st = _core.arl_pack_records(values)
    assert np.all(st == 0)
    np.testing.assert_array_equal(packed.T.view(np.uint8), raw[data, 50:])
    np.testing.assert_array_equal(sums2, sums)
    np.testing.assert_array_equal(nexp2, nexp)
    np.testing.assert_array_equal(var12, var1)
    # the label keeps PREC = 2**NEXP/254 to 7 digits
    np.testing.assert_allclose(prec2, prec, rtol=1e-6)
    np.testing.assert_array_equal(prec2, np.array([2.0 ** n / 254 for n in nexp2], np.float32))


def test_oct1618_first_record_decodes_like_its_label(oct_path: Path, oct_ds) -> None:
    raw = np.fromfile(oct_path, dtype=np.uint8, count=5 * OCT_LREC).reshape(-1, OCT_LREC)
    # record 5 of the file is PRSS of the first period: value (1,1) is VAR1 of its label
    label = raw[4, :50].tobytes().decode()
    assert label[14:18] == "PRSS"
    assert oct_ds.PRSS.values[0, 0, 0] == np.float32(float(label[36:50]))


def test_windowed_reads_equal_full_read_bit_for_bit(oct_path: Path, oct_ds) -> None:
    win = read_arl(oct_path, x=(5, 17), y=slice(9, 28), levels=(2, 4),
                   time=("1995-10-17 00:00", "1995-10-17T06:00"),
                   variables=["PRSS", "TEMP", "UWND"])
    assert sorted(win.data_vars) == ["PRSS", "TEMP", "UWND"]
    assert list(win.x.values) == list(range(5, 18)) and list(win.y.values) == list(range(9, 29))
    assert list(win.level.values) == [2, 3, 4] and win.sizes["time"] == 4
    ref = oct_ds.sel(x=slice(5, 17), y=slice(9, 28), level=slice(2, 4),
                     time=slice("1995-10-17 00:00", "1995-10-17T06:00"))
    for v in win.data_vars:
        np.testing.assert_array_equal(win[v].values, ref[v].values)
        assert win[v].values.tobytes() == ref[v].values.tobytes()
    np.testing.assert_array_equal(win.lat.values, ref.lat.values)
    np.testing.assert_array_equal(win.level_value.values, ref.level_value.values)
    # without checksums only the bytes up to the window's last point are read
    quick = read_arl(oct_path, x=(5, 17), y=slice(9, 20), levels=(2, 4),
                     variables=["TEMP"], check_checksums=False)
    np.testing.assert_array_equal(quick.TEMP.values,
                                  oct_ds.TEMP.values[:, 1:4, 8:20, 4:17])
    one = read_arl(oct_path, x=33, y=1, levels=[10], variables="SPHU")
    np.testing.assert_array_equal(one.SPHU.values[:, 0, 0, 0],
                                  oct_ds.SPHU.values[:, 9, 0, 32])
    sfc = read_arl(oct_path, levels=[], variables=["PRSS", "TEMP"])
    assert sfc.sizes["level"] == 0 and sfc.TEMP.shape == (36, 0, 28, 33)


def test_arrays_reader_returns_the_dataset_values(oct_path: Path, oct_ds) -> None:
    arrays = read_arl_arrays(oct_path, x=(5, 17), y=(9, 28), time="1995-10-17T06:00")
    # every variable of the Dataset, in its (record) order, the same bytes
    assert list(arrays.data) == list(map(str, oct_ds.data_vars))
    ref = oct_ds.sel(x=slice(5, 17), y=slice(9, 28), time=["1995-10-17T06:00"])
    for v, values in arrays.data.items():
        assert values.dtype == np.float32 and values.shape == ref[v].shape
        assert values.tobytes() == ref[v].values.tobytes()
    assert arrays.times.tolist() == [np.datetime64("1995-10-17T06:00", "m")]
    assert arrays.levels == list(range(1, 11)) and arrays.window == (5, 17, 9, 28)
    assert arrays.arl_names["TEMP"] == "TEMP"
    with pytest.raises(MetError, match=r"x window .*1\.\.33"):
        read_arl_arrays(oct_path, x=(30, 40))


def test_window_errors_name_the_problem(oct_path: Path) -> None:
    with pytest.raises(MetError, match=r"x window .*1\.\.33"):
        read_arl(oct_path, x=(30, 40))
    with pytest.raises(MetError, match=r"levels \[11\]"):
        read_arl(oct_path, levels=[11])
    with pytest.raises(MetError, match=r"\['RAIN'\] are not in the file"):
        read_arl(oct_path, variables=["RAIN"])
    with pytest.raises(MetError, match="no time period"):
        read_arl(oct_path, time=("2001-01-01", "2001-01-02"))


def test_arl_times_and_describe(oct_path: Path, oct_ds) -> None:
    np.testing.assert_array_equal(arl_times(oct_path), oct_ds.time.values)
    text = describe_arl(oct_path)
    assert "33 x 28 polar_stereographic" in text and "sigma (KSYS 1)" in text
    assert "36 periods 1995-10-16T00:00 .. 1995-10-18T22:00, every 2 h" in text
    assert "levels 1..10: UWND VWND WWND SPHU TEMP" in text
    recs = describe_arl(oct_path, records=True).splitlines()
    first = [ln for ln in recs if "record      2 " in ln][0]
    assert "TPPT" in first and "checksum 154" in first and "nexp  -4" in first
    assert sum("record " in ln for ln in recs) == 36 * 61


def test_cli_met_info(oct_path: Path, capsys) -> None:
    from stilt.cli import main

    assert main(["met", "info", str(oct_path)]) == 0
    assert "polar_stereographic" in capsys.readouterr().out
    assert main(["met", "info", str(oct_path.parent / "README.md")]) == 1
    assert "README.md" in capsys.readouterr().err


# ---- oracle uniform files (arlmet-written, lat-lon, sigma) ---------------------------------

def _uniform_expected(case: str) -> tuple[dict[str, float], dict[str, list[float]]]:
    """The constants make_met.py's build() wrote (docs/physics.md §13.1 cases)."""
    kw = {"pblh": 800.0, "shtf": 100.0, "ustr": 0.3, "u": 5.0, "v": 2.0, "sphu": 0.002,
          "zter": 1400.0}
    if case == "stable":  # build(..., pblh=300, shtf=-30, ustr=0.2)
        kw.update(pblh=300.0, shtf=-30.0, ustr=0.2)
    prss, t2 = 850.0, 275.0
    surface = {"PRSS": prss, "SHGT": kw["zter"], "T02M": t2, "U10M": kw["u"] * 0.6,
               "V10M": kw["v"] * 0.6, "PBLH": kw["pblh"], "SHTF": kw["shtf"], "LHTF": 50.0,
               "USTR": kw["ustr"], "DSWF": 400.0, "TPP1": 0.0}
    hum = "RELH" if case == "humid" else "SPHU"
    upper: dict[str, list[float]] = {k: [] for k in ("PRES", "UWND", "VWND", "WWND", "TEMP", hum)}
    for s in UNIFORM_SIGMA[1:]:
        p = prss * s
        z = 29.3 * t2 * np.log(prss / p)
        for name, val in (("PRES", p), ("UWND", kw["u"]), ("VWND", kw["v"]), ("WWND", 0.0),
                          ("TEMP", t2 - 0.0065 * z), (hum, 80.0 if case == "humid" else
                                                      kw["sphu"])):
            upper[name].append(val)
    return surface, upper


@pytest.mark.parametrize("case", ["unstable", "stable", "humid"])
def test_uniform_oracle_values(shared_dir: Path, tmp_path: Path, case: str) -> None:
    path = _gunzip(shared_dir / "oracle" / "uniform" / case / "met.arl.gz", tmp_path / "met.arl")
    ds = read_arl(path)
    assert ds.sizes == {"time": 7, "level": 20, "y": 61, "x": 81}
    assert str(ds.time.values[0])[:16] == "2021-01-15T00:00"
    assert str(ds.time.values[-1])[:16] == "2021-01-15T06:00"
    np.testing.assert_allclose(ds.level_value, UNIFORM_SIGMA[1:], rtol=0, atol=1e-12)
    assert ds.attrs["source"] == "TEST" and ds.attrs["grid_size_km"] == 0.0
    # point (1,1) at 39N 246E = -114; spacing 0.05 deg
    assert ds.lat.values[0, 0] == pytest.approx(39.0) and ds.lon.values[0, 0] == pytest.approx(-114)
    assert ds.lon.values[0, -1] == pytest.approx(-110.0)
    assert ds.lat.values[-1, 0] == pytest.approx(42)
    assert ds.U10M.attrs["standard_name"] == "eastward_wind"
    surface, upper = _uniform_expected(case)
    # a constant field packs with NEXP 1, PREC 2/254: the reader zeroes |values| < PREC
    # except in column 1 (docs/physics.md §2.1), e.g. SPHU = 0.002 reads as 0 from column 2 on
    prec = 2.0 / 254.0
    for name, val in surface.items():
        a = ds[name].values
        assert abs(float(a[0, 0, 0]) - val) <= _label_tolerance(val), name
        assert np.all(a[..., 0] == a[0, 0, 0]), name
        assert np.all(a[..., 1:] == (a[0, 0, 0] if abs(val) >= prec else 0.0)), name
    for name, vals in upper.items():
        a = ds[name].values
        assert np.all(a[..., :1] == a[:1, :, :1, :1]), name
        for k, val in enumerate(vals):
            assert abs(float(a[0, k, 0, 0]) - val) <= _label_tolerance(val), (name, k)
            assert np.all(a[:, k, :, 1:] == (a[0, k, 0, 0] if abs(val) >= prec else 0)), name
    hum = "RELH" if case == "humid" else "SPHU"
    assert float(ds[hum].values[3, 5, 7, 9]) == (80.0 if case == "humid" else 0.0)


def _label_tolerance(value: float) -> float:
    """Half a unit of the 7th significant digit (E14.7 label) plus half a float32 ulp."""
    if value == 0:
        return 0.0
    return 0.5 * 10.0 ** (np.floor(np.log10(abs(value))) - 6) + float(
        np.spacing(np.float32(abs(value)))) / 2


def test_uniform_header_bytes_parse_as_documented(shared_dir: Path, tmp_path: Path) -> None:
    # the ARL index header (docs/physics.md §2.1), byte for byte: bytes 0-259 of unstable/met.arl
    path = _gunzip(shared_dir / "oracle/uniform/unstable/met.arl.gz", tmp_path / "u.arl")
    head = path.read_bytes()[:275].decode()
    assert head.startswith("21 115 0 0 099INDX   0 0.0000000E+00 0.0000000E+00TEST  0 0")
    assert ".99500 6PRES207" in head
    inv = arl_inventory(path)
    assert inv.grid_params == (42.0, 250.0, 0.05, 0.05, 0.0, 0.0, 0.0, 1.0, 1.0, 39.0, 246.0,
                               0.0)
    assert (inv.nx, inv.ny, inv.nz, inv.nindex) == (81, 61, 21, 1)
    assert inv.level_values[:2] == (1.0, 0.995)
    assert np.all(inv.checksums == 207)


def test_rewriting_an_independent_writers_file_is_byte_identical(shared_dir: Path,
                                                                  tmp_path: Path) -> None:
    # humid/met.arl was written by PyPI arlmet; every field reads back exactly (no value is
    # zeroed by the precision rule), so our writer must reproduce every byte: labels, index
    # header (F7/F6 fields, checksums) and packed data
    src = _gunzip(shared_dir / "oracle/uniform/humid/met.arl.gz", tmp_path / "h.arl")
    out = write_arl(read_arl(src), tmp_path / "again.arl")
    assert out.read_bytes() == src.read_bytes()


def test_free_troposphere_uniform_in_space(shared_dir: Path, tmp_path: Path) -> None:
    path = _gunzip(shared_dir / "oracle/uniform/free_troposphere/met.arl.gz", tmp_path / "f.arl")
    ds = read_arl(path)
    for v in ds.data_vars:
        a = ds[v].values
        assert np.all(a == a[..., :1, :1]), v
    np.testing.assert_allclose(ds.PRES.values[0, :, 0, 0], 850.0 * np.array(UNIFORM_SIGMA[1:]),
                               rtol=1e-7)


def test_gzip_files_read_transparently(shared_dir: Path, tmp_path: Path) -> None:
    gz = shared_dir / "oracle/uniform/humid/met.arl.gz"
    plain = read_arl(_gunzip(gz, tmp_path / "h.arl"), x=(3, 9), levels=(1, 2))
    zipped = read_arl(gz, x=(3, 9), levels=(1, 2))
    for v in plain.data_vars:
        np.testing.assert_array_equal(plain[v].values, zipped[v].values)
    assert len(arl_times(gz)) == 7


def test_lambert_hrrr_like_file(shared_dir: Path) -> None:
    files = sorted((shared_dir / "oracle/synth_hrrrlike/met").glob("*.gz"))
    ds = read_arl(files[0])  # checksums verified on every record
    assert ds.attrs["grid_size_km"] == pytest.approx(15.0)
    grid = ArlGrid.from_attrs(ds.attrs)
    assert grid.kind == "lambert"
    assert ds.sizes == {"time": 6, "level": 24, "y": 100, "x": 120}
    assert str(ds.time.values[0])[:13] == "2023-07-15T18"
    # gen_synth_met.py: cone 38.5, ref lon -105, sync point = grid centre at 40N 105W
    assert (ds.attrs["tang_lat"], ds.attrs["ref_lon"]) == (38.5, -105.0)
    assert (ds.attrs["sync_xp"], ds.attrs["sync_yp"]) == (60.5, 50.5)
    lat, lon = grid.to_latlon(np.array([60.5]), np.array([50.5]))
    assert (lat[0], lon[0]) == pytest.approx((40.0, -105.0), abs=1e-6)
    z_target = np.array([10, 30, 60, 100, 150, 220, 300, 400, 520, 660, 820, 1000, 1250, 1550,
                         1900, 2300, 2800, 3400, 4100, 5000, 6200, 7700, 9500, 12000.0])
    np.testing.assert_allclose(ds.level_value, np.round(np.exp(-z_target / 8500.0), 4),
                               atol=1e-12)
    assert 600 < float(ds.PRSS.min()) and float(ds.PRSS.max()) < 1100
    # PRES = sigma * PRSS there, to the packing precision of both fields
    sig = ds.level_value.values
    for t in range(6):
        prss = ds.PRSS.values[t]
        for k in range(24):
            pres = ds.PRES.values[t, k]
            tol = _pack_step(prss)[1] / 2 + _pack_step(pres)[1] / 2 + 1e-4
            assert float(np.abs(pres - sig[k] * prss).max()) <= tol, (t, k)


def test_several_files_read_as_one_sequence(shared_dir: Path) -> None:
    files = sorted((shared_dir / "oracle/synth_hrrrlike/met").glob("*.gz"))[:2]
    ds = read_arl(files, x=(10, 20), y=(5, 8), levels=(1, 3), variables=["PRSS", "TEMP"])
    assert ds.sizes["time"] == 12 and np.all(np.diff(ds.time.values) == np.timedelta64(1, "h"))
    assert ds.attrs["arl_files"] == [str(f) for f in files]
    second = read_arl(files[1], x=(10, 20), y=(5, 8), levels=(1, 3), variables=["TEMP"])
    np.testing.assert_array_equal(ds.TEMP.values[6:], second.TEMP.values)


# ---- write / read round trips --------------------------------------------------------------

def _smooth(rng: np.random.Generator, shape: tuple[int, ...], scale: float, offset: float
            ) -> np.ndarray:
    base = rng.normal(size=shape).cumsum(axis=-1).cumsum(axis=-2)
    base /= np.abs(base).max()
    return (offset + scale * base).astype(np.float32)


def _roundtrip_case(grid: ArlGrid, ksys: str, levels: list[float], rng: np.random.Generator,
                    nt: int = 2):
    ny, nx, nl = grid.ny, grid.nx, len(levels)
    surface = {"PRSS": _smooth(rng, (nt, ny, nx), 60, 950), "SHGT": _smooth(rng, (1, ny, nx),
                                                                               800, 900),
               "T02M": _smooth(rng, (nt, ny, nx), 15, 285), "USTR": _smooth(rng, (nt, ny, nx),
                                                                            0.2, 0.3)}
    upper = {"UWND": _smooth(rng, (nt, nl, ny, nx), 30, 0),
             "TEMP": _smooth(rng, (nt, nl, ny, nx), 40, 250),
             "SPHU": _smooth(rng, (nt, nl, ny, nx), 0.004, 0.005)}
    upper["SPHU"][:, nl // 2:] = np.nan  # upper levels carry fewer variables
    return met_dataset(grid, np.datetime64("2023-07-15T00:00") + np.arange(nt) *
                       np.timedelta64(90, "m"), vertical_system=ksys, level_values=levels,
                       surface=surface, upper=upper, source="TST1",
                       forecast_hours=np.arange(nt) + 3)


def _pack_step(field: np.ndarray) -> tuple[float, float]:
    """(PREC, byte step) of PAKOUT for one 2-D field (docs/physics.md §2.1)."""
    rmax = max(float(np.abs(np.diff(field, axis=1)).max(initial=0)),
               float(np.abs(np.diff(field[:, 0])).max(initial=0)))
    sexp = float(np.log2(rmax)) if rmax > 0 else 0.0
    nexp = int(sexp) + (1 if sexp >= 0 or sexp % 1 == 0 else 0)
    return 2.0 ** nexp / 254, 2.0 ** (nexp - 7)


def _assert_roundtrip(ds, back) -> None:
    assert list(back.data_vars) == list(ds.data_vars)
    for v in ds.data_vars:
        a, b = ds[v].values, back[v].values
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=v)
        assert (~np.isnan(a)).any()
        ny, nx = a.shape[-2:]
        for fa, fb in zip(a.reshape(-1, ny, nx), b.reshape(-1, ny, nx), strict=True):
            if np.isnan(fa).all():
                continue
            prec, step = _pack_step(fa)
            # half a byte step (with PAKOUT's feedback) plus the offset of VAR1's 7 label
            # digits and float32 rounding; values the reader zeroes (|v| < PREC) up to PREC more
            eps = 5e-7 * abs(float(fa[0, 0])) + 2e-7 * float(np.abs(fa).max())
            # PAKOUT clips a difference beyond -127/+128 steps (possible when RMAX is within
            # 1 % of 2**NEXP); the feedback then catches up within a few points
            err = np.abs(fa - fb)
            zeroed = np.abs(fa) < prec + step
            assert np.all(err <= np.where(zeroed, prec, 0) + 3 * step + eps), (v, float(err.max()))
            assert np.mean(err[~zeroed] > step / 2 + eps) < 0.01, (v, float(err.max()), step)
            # and the error really is at the packing precision, not far below
            if fa.std() > 100 * step:
                assert float(err.max()) > step / 8
    np.testing.assert_array_equal(back.time.values, ds.time.values)
    np.testing.assert_array_equal(back.forecast_hour.values, ds.forecast_hour.values)
    for k in ("vertical_system", "nx", "ny", "source"):
        assert back.attrs[k] == ds.attrs[k]
    for k in ("pole_lat", "pole_lon", "ref_lat", "ref_lon", "grid_size_km", "tang_lat",
              "sync_xp", "sync_yp", "sync_lat", "sync_lon"):
        assert back.attrs[k] == pytest.approx(ds.attrs[k], abs=1e-6), k
    np.testing.assert_allclose(back.lat.values, ds.lat.values, atol=1e-6)
    np.testing.assert_allclose(back.lon.values, ds.lon.values, atol=1e-6)


@pytest.mark.parametrize("case", ["sigma_latlon", "pressure_polar", "terrain_mercator",
                                  "hybrid_lambert", "wrf_lambert_south"])
def test_write_read_roundtrip(tmp_path: Path, case: str) -> None:
    rng = np.random.default_rng(len(case))
    if case == "sigma_latlon":
        grid = ArlGrid.latlon(lat0=39.0, lon0=-114.0, dlat=0.25, dlon=0.25, nx=31, ny=23)
        ksys, levels = "sigma", [0.995, 0.98, 0.95, 0.9, 0.8, 0.6]
    elif case == "pressure_polar":
        grid = ArlGrid.polar_stereographic(true_lat=60.0, ref_lon=-105.0, grid_size_km=190.5,
                                           nx=29, ny=24, center_lat=45.0, center_lon=-100.0)
        ksys, levels = "pressure", [1000.0, 925.0, 850.0, 700.0, 500.0, 250.0, 100.0, 10.0]
    elif case == "terrain_mercator":
        grid = ArlGrid.mercator(true_lat=20.0, ref_lon=150.0, grid_size_km=40.0, nx=26, ny=21)
        ksys, levels = "terrain", [10.0, 50.0, 200.0, 1000.0, 5000.0, 15000.0]
    elif case == "hybrid_lambert":
        grid = ArlGrid.lambert(tang_lat=38.5, ref_lon=-97.5, grid_size_km=12.0, nx=40, ny=30,
                               center_lat=40.0, center_lon=-100.0)
        ksys, levels = "hybrid", [0.99, 5.95, 20.8, 50.5, 100.25]
    else:
        grid = ArlGrid.lambert(tang_lat=-35.0, ref_lon=147.0, grid_size_km=9.0, nx=24, ny=20)
        ksys, levels = "wrf_hybrid", [0.9975, 0.99, 0.97, 0.9, 0.5]
    ds = _roundtrip_case(grid, ksys, levels, rng)
    path = write_arl(ds, tmp_path / f"{case}.arl")
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left
    back = read_arl(path)
    _assert_roundtrip(ds, back)
    np.testing.assert_allclose(back.level_value.values, levels, rtol=1e-4)
    # levels 1..nl/2 carry SPHU, the upper half does not
    inv = arl_inventory(path)
    nl = len(levels)
    assert all("SPHU" in inv.level_names[k] for k in range(1, nl // 2 + 1))
    assert all("SPHU" not in inv.level_names[k] for k in range(nl // 2 + 1, nl + 1))
    assert inv.nindex == 1
    # minutes: the second period is 01:30
    assert str(back.time.values[1])[:16] == "2023-07-15T01:30"


def test_write_is_bit_exact_for_decoded_data(oct_ds, tmp_path: Path, oct_path: Path) -> None:
    path = write_arl(oct_ds, tmp_path / "oct.arl")
    raw = np.fromfile(oct_path, dtype=np.uint8).reshape(-1, OCT_LREC)
    new = np.fromfile(path, dtype=np.uint8).reshape(-1, OCT_LREC)
    assert new.shape == raw.shape
    data = np.array([raw[k, 14:18].tobytes() != b"INDX" for k in range(len(raw))])
    np.testing.assert_array_equal(new[data, 50:], raw[data, 50:])
    np.testing.assert_array_equal(arl_inventory(path).checksums, arl_inventory(oct_path).checksums)
    back = read_arl(path, time=("1995-10-18", None))
    for v in oct_ds.data_vars:
        np.testing.assert_array_equal(back[v].values, oct_ds[v].values[-12:])


def test_large_grid_thousands_letters(tmp_path: Path) -> None:
    grid = ArlGrid.latlon(lat0=30.0, lon0=-120.0, dlat=0.01, dlon=0.01, nx=1001, ny=3)
    rng = np.random.default_rng(7)
    ds = met_dataset(grid, ["2020-02-01T06:00"], vertical_system="pressure",
                     level_values=[850.0], surface={"PRSS": _smooth(rng, (1, 3, 1001), 30, 990)},
                     upper={"TEMP": _smooth(rng, (1, 1, 3, 1001), 20, 280)})
    path = write_arl(ds, tmp_path / "big.arl")
    raw = path.read_bytes()
    assert raw[12:14] == b"A@"  # thousands of NX then NY
    assert raw[50 + 93:50 + 99] == b"  1  3"
    back = read_arl(path)
    assert (back.attrs["nx"], back.attrs["ny"]) == (1001, 3)
    _assert_roundtrip(ds, back)
    win = read_arl(path, x=(995, 1001), y=(2, 3))
    np.testing.assert_array_equal(win.TEMP.values, back.TEMP.values[..., 1:, 994:])


def test_reader_accepts_both_thousands_letters(tmp_path: Path) -> None:
    grid = ArlGrid.latlon(lat0=0.0, lon0=10.0, dlat=0.1, dlon=0.1, nx=1002, ny=1000)
    assert grid.ny == 1000
    ds = met_dataset(grid, ["2020-02-01"], vertical_system="sigma",
                     surface={"PRSS": np.linspace(900, 1000, 1002, dtype=np.float32)})
    path = write_arl(ds, tmp_path / "aa.arl")
    assert path.read_bytes()[12:14] == b"AA"
    back = read_arl(path, y=(999, 1000), x=(1, 4))
    np.testing.assert_allclose(back.PRSS.values[0, 0], [900, 900.0999, 900.1998, 900.2997],
                               atol=0.2)


def test_small_grid_needs_several_index_records(tmp_path: Path) -> None:
    grid = ArlGrid.latlon(lat0=10.0, lon0=20.0, dlat=1.0, dlon=1.0, nx=12, ny=10)
    rng = np.random.default_rng(11)
    nl = 9
    ds = met_dataset(grid, ["2019-05-01T00", "2019-05-01T03", "2019-05-01T06"],
                     vertical_system="sigma", level_values=np.linspace(0.99, 0.3, nl),
                     surface={"PRSS": _smooth(rng, (3, 10, 12), 50, 900),
                              "T02M": _smooth(rng, (3, 10, 12), 5, 280)},
                     upper={n: _smooth(rng, (3, nl, 10, 12), 10, 10 * k)
                            for k, n in enumerate(["UWND", "VWND", "WWND", "TEMP", "SPHU"])})
    path = write_arl(ds, tmp_path / "small.arl")
    inv = arl_inventory(path)
    lenh = 108 + 8 + 16 + nl * (8 + 40)
    assert inv.nindex == lenh // 120 + 1 == 5
    assert inv.records_per_period == 5 + 2 + nl * 5
    raw = path.read_bytes()
    for k in range(5):
        assert raw[k * 170 + 14:k * 170 + 18] == b"INDX"
    back = read_arl(path)
    _assert_roundtrip(ds, back)
    win = read_arl(path, x=(4, 6), y=(7, 10), levels=(8, 9), time=("2019-05-01T03", None))
    np.testing.assert_array_equal(win.SPHU.values, back.SPHU.values[1:, 7:9, 6:10, 3:6])


def test_missing_records_and_dif_records(tmp_path: Path) -> None:
    grid = ArlGrid.latlon(lat0=40.0, lon0=250.0, dlat=0.1, dlon=0.1, nx=15, ny=12)
    rng = np.random.default_rng(5)
    wwnd = _smooth(rng, (2, 3, 12, 15), 0.3, 0.0)
    difw = _smooth(rng, (2, 3, 12, 15), 0.001, 0.0)
    tpp = _smooth(rng, (2, 12, 15), 0.002, 0.003)
    ds = met_dataset(grid, ["2022-01-01T00", "2022-01-01T01"], vertical_system="sigma",
                     level_values=[0.99, 0.9, 0.7],
                     surface={"PRSS": 850.0, "TPP1": tpp, "DIFR": tpp * 1e-3},
                     upper={"TEMP": 270.0, "WWND": wwnd, "DIFW": difw})
    ds["TEMP"].values[1, 1] = np.nan        # a missing record at time 2, level 2
    path = write_arl(ds, tmp_path / "dif.arl")
    raw = path.read_bytes()
    assert len(re.findall(rb"..-1 2..TEMP", raw)) == 1  # written with forecast -1
    back = read_arl(path)
    assert "DIFW" not in back and "DIFR" not in back
    assert np.isnan(back.TEMP.values[1, 1]).all() and not np.isnan(back.TEMP.values[0]).any()
    assert not np.isnan(back.TEMP.values[1, [0, 2]]).any()
    # the correction is added to its parent
    plain = read_arl(path, variables=["WWND"])
    np.testing.assert_allclose(back.WWND.values, wwnd + difw, atol=0.0025)
    np.testing.assert_array_equal(plain.WWND.values, back.WWND.values)
    np.testing.assert_allclose(back.TPP1.values, tpp * 1.001, atol=2e-5)
    # a record HYSPLIT's PAKINI pre-filled and nobody wrote: blank label with forecast -1
    inv = arl_inventory(path)
    k = inv.record_number(0, inv.data_records.index((0, "PRSS"))) - 1
    raw = bytearray(raw)
    raw[k * inv.record_length:k * inv.record_length + 50] = b" " * 8 + b"-1" + b" " * 40
    path.write_bytes(bytes(raw))
    again = read_arl(path)
    assert np.isnan(again.PRSS.values[0]).all() and not np.isnan(again.PRSS.values[1]).any()


def test_write_refuses_nan_and_inf(tmp_path: Path) -> None:
    grid = ArlGrid.latlon(lat0=40.0, lon0=250.0, dlat=0.1, dlon=0.1, nx=15, ny=12)
    ds = met_dataset(grid, ["2022-01-01T00", "2022-01-01T01"], vertical_system="pressure",
                     level_values=[900.0, 800.0], surface={"PRSS": 850.0},
                     upper={"TEMP": 270.0})
    ds["TEMP"].values[1, 0, 3, 4] = np.nan
    with pytest.raises(MetError, match=r"TEMP at time 2022-01-01T01.*level 1 has 1 NaN"):
        write_arl(ds, tmp_path / "bad.arl")
    ds["TEMP"].values[1, 0, 3, 4] = 270.0
    ds["PRSS"].values[0, 0, 0] = np.inf
    with pytest.raises(MetError, match=r"PRSS at time 2022-01-01T00.*surface has 1 infinite"):
        write_arl(ds, tmp_path / "bad.arl")
    assert not list(tmp_path.iterdir())  # nothing left behind
    with pytest.raises(MetError, match="not the full grid"):
        write_arl(ds.isel(x=slice(1, None)), tmp_path / "win.arl")
    ds.attrs["source"] = "RAMS"  # HYSPLIT would read it as a 16-bit file
    with pytest.raises(MetError, match="16-bit"):
        write_arl(ds, tmp_path / "rams.arl")


def test_reader_refuses_16bit_sources(oct_copy: Path) -> None:
    raw = bytearray(oct_copy.read_bytes())
    raw[50:54] = b"DWRF"
    oct_copy.write_bytes(bytes(raw))
    with pytest.raises(MetError, match=r"copy\.BIN: source 'DWRF' marks a 16-bit ARL file"):
        read_arl(oct_copy)


# ---- corrupt input -------------------------------------------------------------------------

@pytest.fixture
def oct_copy(oct_path: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy.BIN"
    shutil.copyfile(oct_path, dst)
    return dst


def test_corrupted_checksum_raises(oct_copy: Path) -> None:
    raw = bytearray(oct_copy.read_bytes())
    rec = 62 + 1 + 3  # period 2, data record 4 (PRSS): 0-based record 66 -> number 67
    raw[rec * OCT_LREC + 50 + 100] ^= 0x01
    oct_copy.write_bytes(bytes(raw))
    with pytest.raises(MetError) as err:
        read_arl(oct_copy)
    msg = str(err.value)
    assert str(oct_copy) in msg and "record 67" in msg and "PRSS" in msg and "level 0" in msg
    assert "1995-10-16T02:00" in msg and "index record says" in msg
    assert re.search(r"computed \d+, index record says \d+", msg)
    # a window that does not need that record still reads
    read_arl(oct_copy, time=("1995-10-16T04:00", None))
    # and checks can be switched off
    read_arl(oct_copy, check_checksums=False)


def test_truncated_file_raises(oct_copy: Path) -> None:
    raw = oct_copy.read_bytes()
    oct_copy.write_bytes(raw[:-500])
    with pytest.raises(MetError, match=r"copy\.BIN: truncated .*record 2232 is incomplete"):
        read_arl(oct_copy)


def test_garbage_label_raises(oct_copy: Path) -> None:
    raw = bytearray(oct_copy.read_bytes())
    raw[10 * OCT_LREC:10 * OCT_LREC + 50] = b"#" * 50
    oct_copy.write_bytes(bytes(raw))
    with pytest.raises(MetError, match=r"copy\.BIN: record 11 has a bad label"):
        read_arl(oct_copy)
    raw[10 * OCT_LREC:10 * OCT_LREC + 50] = raw[11 * OCT_LREC:11 * OCT_LREC + 50]
    oct_copy.write_bytes(bytes(raw))
    with pytest.raises(MetError, match=r"copy\.BIN: record 11 is labelled 'MSLP'.*'CPPT'"):
        read_arl(oct_copy)


def test_non_arl_files_raise(tmp_path: Path) -> None:
    rand = tmp_path / "random.bin"
    rand.write_bytes(np.random.default_rng(1).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    text = tmp_path / "notes.txt"
    text.write_text("hello " * 1000)
    empty = tmp_path / "empty.arl"
    empty.write_bytes(b"")
    for path in (rand, text, empty):
        with pytest.raises(MetError, match=re.escape(str(path))):
            read_arl(path)
    with pytest.raises(MetError, match="cannot open"):
        read_arl(tmp_path / "absent.arl")


def test_inventory_cache_follows_file_changes(tmp_path: Path) -> None:
    grid = ArlGrid.latlon(lat0=10.0, lon0=20.0, dlat=1.0, dlon=1.0, nx=12, ny=10)
    path = tmp_path / "m.arl"
    write_arl(met_dataset(grid, ["2020-01-01T00"], vertical_system=1,
                          surface={"PRSS": 900.0}), path)
    assert list(arl_times(path)) == [np.datetime64("2020-01-01T00", "ns")]
    assert not arl_inventory(path).times.flags.writeable
    write_arl(met_dataset(grid, ["2020-01-02T00", "2020-01-02T01"], vertical_system=1,
                          surface={"PRSS": 910.0}), path)
    assert len(arl_times(path)) == 2
    assert float(read_arl(path).PRSS.values[1, 5, 5]) == 910.0


def test_random_windows_match_full_read(oct_path: Path, oct_ds) -> None:
    rng = np.random.default_rng(2)
    for _ in range(12):
        i0, i1 = sorted(rng.integers(1, 34, 2))
        j0, j1 = sorted(rng.integers(1, 29, 2))
        win = read_arl(oct_path, x=(i0, i1), y=(j0, j1), time=("1995-10-18T20", None),
                       variables=["UWND", "MSLP"])
        ref = oct_ds.isel(time=slice(-2, None), x=slice(i0 - 1, i1), y=slice(j0 - 1, j1))
        for v in ("UWND", "MSLP"):
            assert win[v].values.tobytes() == ref[v].values.tobytes(), (i0, i1, j0, j1)


def test_met_info_gives_the_outline_of_a_lambert_grid(tmp_path: Path, capsys) -> None:
    """The lat/lon box of a Lambert grid holds points outside the grid: info says so and
    prints the grid's corners, which lie on the grid's corner points."""
    from stilt.cli import main
    from stilt.met.synthetic import generate_synthetic_met

    (path,) = generate_synthetic_met(tmp_path, hours=1, file_hours=1, nx=40, ny=30)
    assert main(["met", "info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "40 x 30 lambert; corners (lat, lon) SW " in text
    assert "the box also holds points outside the grid" in text
    inv = arl_inventory(path)
    grid = ArlGrid.from_attrs(inv.grid_attrs)
    corners = dict(re.findall(r"(SW|SE|NE|NW) (-?[\d.]+, -?[\d.]+)", text))
    for name, (x, y) in {"SW": (1, 1), "SE": (40, 1), "NE": (40, 30), "NW": (1, 30)}.items():
        lat, lon = (float(v) for v in corners[name].split(","))
        gx, gy = grid.to_grid(np.array([lat]), np.array([lon]))
        assert abs(gx[0] - x) < 0.05 and abs(gy[0] - y) < 0.05, (name, gx, gy)
    box = re.search(r"box around it: lat (-?[\d.]+)\.\.(-?[\d.]+), lon (-?[\d.]+)\.\.", text)
    lat_min, lon_min = float(box.group(1)), float(box.group(3))
    gx, gy = grid.to_grid(np.array([lat_min]), np.array([lon_min]))  # the box's SW corner
    assert not (1 <= gx[0] <= 40 and 1 <= gy[0] <= 30)


def test_label_check_names_the_record_in_plain_and_gzip_files(oct_copy: Path) -> None:
    """check_arl_values reads the labels of the periods asked for (of a plain file through a
    memory map, of a gzip file one by one) and names the first record whose values cannot be
    finite, or whose label cannot be read."""
    from stilt.met.arl import check_arl_values

    inv = arl_inventory(oct_copy)
    lev, name = inv.data_records[5]
    recno = inv.record_number(3, 5)
    raw = bytearray(oct_copy.read_bytes())
    at = (recno - 1) * inv.record_length
    raw[at + 36:at + 50] = f"{'inf':>14}".encode()  # the first value
    oct_copy.write_bytes(bytes(raw))
    packed = oct_copy.with_suffix(".gz")
    packed.write_bytes(gzip.compress(bytes(raw)))
    stamp = str(inv.times[3])[:16]
    for path in (oct_copy, packed):
        with pytest.raises(MetError, match=rf"{path.name}: record {recno} \({name} at level "
                                           rf"{lev}, {stamp}.*first value inf"):
            check_arl_values(path)
        check_arl_values(path, inv.times[[0, 1, 2, 4]])  # the other periods are fine
    raw[at + 18:at + 22] = b" 200"  # exponent out of range, the first value finite again
    raw[at + 36:at + 50] = raw[at + inv.record_length + 36:at + inv.record_length + 50]
    oct_copy.write_bytes(bytes(raw))
    with pytest.raises(MetError, match=rf"record {recno} .*exponent 200\)"):
        check_arl_values(oct_copy)
    raw[at:at + 50] = b"#" * 50
    oct_copy.write_bytes(bytes(raw))
    with pytest.raises(MetError, match=rf"record {recno} has a bad label"):
        check_arl_values(oct_copy)
    oct_copy.write_bytes(bytes(raw[:at + 20]))  # cut inside that label
    with pytest.raises(MetError, match=rf"truncated .*record {recno} is incomplete"):
        check_arl_values(oct_copy)
