"""Receptors: validation, ids, receptors.csv (aliases, r_idx grouping), transport input."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from stilt.errors import ConfigError
from stilt.receptors import (ColumnReceptor, MultiPointReceptor, PointReceptor, parse_time,
                             read_receptors, receptor_from_dict)


def test_point_receptor_normalises_and_names_itself() -> None:
    r = PointReceptor(time="2023-01-01 12:00:00", longitude=248.15, latitude=40.77, altitude=5.0)
    assert r.time == dt.datetime(2023, 1, 1, 12, 0)
    assert r.longitude == pytest.approx(-111.85)
    assert r.location_id == "-111.85_40.77_5"
    assert receptor_from_dict(r.to_dict()) == r
    msl = PointReceptor("2023-01-01T12:00Z", -111.85, 40.77, 1500.0, altitude_ref="MSL")
    assert msl.altitude_ref == "msl" and msl.location_id.endswith("_1500msl")


@pytest.mark.parametrize("kwargs, text", [
    ({"latitude": float("nan")}, "latitude: nan is not a finite number"),
    ({"latitude": 91.0}, "outside [-90, 90]"),
    ({"altitude": -1.0}, "above ground is negative"),
    ({"altitude_ref": "asl"}, "must be 'agl' or 'msl'"),
    ({"time": "yesterday"}, "is not a date-time"),
])
def test_point_receptor_rejects_bad_values(kwargs: dict, text: str) -> None:
    base = {"time": "2023-01-01 12:00", "longitude": -111.0, "latitude": 40.0, "altitude": 5.0}
    with pytest.raises(ConfigError, match=text.replace("[", r"\[").replace("]", r"\]")):
        PointReceptor(**{**base, **kwargs})


def test_parse_time_converts_offsets_to_utc() -> None:
    assert parse_time("2023-07-15T14:30:59+02:00") == dt.datetime(2023, 7, 15, 12, 30)
    assert parse_time(np.datetime64("2023-07-15T12:00")) == dt.datetime(2023, 7, 15, 12, 0)


def test_column_and_multipoint() -> None:
    col = ColumnReceptor("2023-07-15 12:00", -100.0, 40.0, bottom=0.0, top=2000.0)
    assert col.altitude == [0.0, 2000.0] and col.location_id == "-100_40_0-2000"
    with pytest.raises(ConfigError, match="top 10.0 m must be above bottom 20.0 m"):
        ColumnReceptor("2023-07-15 12:00", -100.0, 40.0, bottom=20.0, top=10.0)
    mp = MultiPointReceptor("2023-07-15 12:00", (-100.0, -100.1), (40.0, 40.1), (100.0, 900.0))
    same = MultiPointReceptor("2023-07-15 12:00", [-100.0, -100.1], [40.0, 40.1], [100, 900])
    other = MultiPointReceptor("2023-07-15 12:00", (-100.0, -100.2), (40.0, 40.1), (100.0, 900.0))
    assert mp.location_id == same.location_id != other.location_id
    assert mp.location_id.startswith("multi2-")
    points = mp.transport_input()
    assert [p["altitude"] for p in points] == [100.0, 900.0]
    assert receptor_from_dict(mp.to_dict()) == mp


def test_receptors_are_accepted_by_the_transport() -> None:
    from stilt.transport import normalize_receptor

    rel = normalize_receptor(PointReceptor("2023-07-15 12:00", -100.0, 40.0, 10.0)
                             .transport_input())
    assert rel.bottom.tolist() == [10.0] and rel.top.tolist() == [10.0] and not rel.msl
    rel = normalize_receptor(ColumnReceptor("2023-07-15 12:00", -100.0, 40.0, 5.0, 500.0,
                                            "msl").transport_input())
    assert rel.bottom.tolist() == [5.0] and rel.top.tolist() == [500.0] and rel.msl
    rel = normalize_receptor(MultiPointReceptor("2023-07-15 12:00", (-100.0, -101.0),
                                                (40.0, 41.0), (5.0, 50.0)).transport_input())
    assert rel.latitude.tolist() == [40.0, 41.0] and rel.time == np.datetime64("2023-07-15T12:00")


def test_read_receptors_aliases_and_grouping(tmp_path) -> None:
    path = tmp_path / "receptors.csv"
    path.write_text(
        "r_idx,time,lon,lati,zagl\n"
        "1,2023-07-15 12:00:00,-100,40,5\n"
        "2,2023-07-15 13:00:00,-100,40,0\n"
        "2,2023-07-15 13:00:00,-100,40,1000\n"
        "3,2023-07-15 14:00:00,-100,40,100\n"
        "3,2023-07-15 14:00:00,-100.5,40.5,900\n"
        "3,2023-07-15 14:00:00,-101,41,1700\n"
        "\n")
    recs = read_receptors(path)
    assert [r.kind for r in recs] == ["point", "column", "multipoint"]
    assert recs[1].bottom == 0.0 and recs[1].top == 1000.0
    assert recs[2].altitudes == (100.0, 900.0, 1700.0)
    msl = tmp_path / "msl.csv"
    msl.write_text("time,longitude,latitude,zmsl\n2023-07-15 12:00,-100,40,1600\n")
    assert read_receptors(msl)[0].altitude_ref == "msl"


@pytest.mark.parametrize("text, message", [
    ("time,lon,lattitude,zagl\n2023-07-15 12:00,-100,40,5\n",
     "unknown column 'lattitude'; did you mean 'latitude'"),
    ("time,lon,lat\n2023-07-15 12:00,-100,40\n", "missing column(s) altitude"),
    ("time,lon,lat,zagl\n2023-07-15 12:00,-100,40,5\n2023-07-15 12:00,nan,40,5\n",
     "line 3 longitude: 'nan' is not a finite number"),
    ("r_idx,time,lon,lat,zagl\n1,2023-07-15 12:00,-100,40,5\n1,2023-07-15 13:00,-100,40,50\n",
     "lines 2, 3: rows sharing r_idx have different times"),
    ("time,lon,lat,zagl\n", "has a header but no receptors"),
    ("time,lon,lat,zagl\n2023-07-15 12:00,-100,40\n", "line 2: 3 values, header has 4"),
])
def test_read_receptors_errors_name_file_line_and_column(tmp_path, text: str,
                                                         message: str) -> None:
    path = tmp_path / "receptors.csv"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        read_receptors(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_compact_rstilt_times_and_numbers() -> None:
    assert parse_time("202307151830") == dt.datetime(2023, 7, 15, 18, 30)
    assert parse_time(" 2023071518 ") == dt.datetime(2023, 7, 15, 18, 0)
    assert PointReceptor("202307151800", -101.5, 40.0, 5.0).time == dt.datetime(2023, 7, 15, 18)
    with pytest.raises(ConfigError, match=r"'202313151800' is not a date-time \(read as "
                                          "YYYYMMDDHHMM"):
        parse_time("202313151800")
    with pytest.raises(ConfigError, match="is a number, not a date-time .*'202307151800'"):
        PointReceptor(202307151800, -101.5, 40.0, 5.0)


def test_receptors_as_pystilt_tuples(tmp_path) -> None:
    from stilt.receptors import as_receptor_list

    one = as_receptor_list(("202307151800", -101.5, 40.0, 5.0))
    assert one == [PointReceptor("2023-07-15 18:00", -101.5, 40.0, 5.0)]
    many = as_receptor_list([("2023-07-15 18:00", -101.5, 40.0, 5.0),
                             ["2023071519", 258.5, 40.0, 1500.0, "msl"],
                             PointReceptor("2023-07-15 20:00", -101.0, 40.0, 5.0)])
    assert [(r.time.hour, r.longitude, r.altitude_ref) for r in many] == [
        (18, -101.5, "agl"), (19, -101.5, "msl"), (20, -101.0, "agl")]
    with pytest.raises(ConfigError, match=r"receptor 2 .*\(time, longitude, latitude, "
                                          r"altitude\[, altitude_ref\]\)"):
        as_receptor_list([("2023-07-15 18:00", -101.5, 40.0, 5.0), ("2023-07-15", 1.0, 2.0)])
    import stilt

    model = stilt.Model(tmp_path / "p", receptors=[("202307151800", -101.5, 40.0, 5.0)],
                        config=stilt.ModelConfig(mets={"m": {"directory": "met",
                                                             "file_format": "x"}}))
    assert model.plan()[0]["sim_id"] == "m_202307151800_-101.5_40_5"


@pytest.mark.parametrize("when, year", [("0001-01-01 00:00", 1), ("9999-12-31 23:00", 9999),
                                        (dt.datetime(2040, 1, 1), 2040)])
def test_years_no_met_can_cover_name_the_receptor(when: object, year: int) -> None:
    with pytest.raises(ConfigError, match=rf"receptor at longitude -101.5, latitude 40: time: "
                                          rf"year {year} is outside 1940..2039"):
        PointReceptor(when, -101.5, 40.0, 5.0)
    with pytest.raises(ConfigError, match=rf"multi-point receptor at longitude -101.5, "
                                          rf"latitude 40: time: year {year}"):
        MultiPointReceptor(when, (-101.5, -101.6), (40.0, 40.1), (5.0, 50.0))


def test_a_year_outside_the_met_names_the_met_coverage(tmp_path) -> None:
    from stilt.errors import MetMissingError
    from stilt.met.discovery import MetConfig
    from stilt.met.synthetic import generate_synthetic_met

    generate_synthetic_met(tmp_path, start="2023-07-15T12:00", hours=4, file_hours=4, nx=12,
                           ny=10)
    fixed = MetConfig(directory=tmp_path, file_format="20230715_12-15_synt.arl")
    receptor = PointReceptor("2030-07-15 14:00", -101.5, 40.0, 5.0)
    with pytest.raises(MetMissingError, match="do not reach forward to 2030-07-15T14:00: the "
                                              "latest time is 2023-07-15T15:00"):
        fixed.find_files(np.datetime64(receptor.time), -2)
    pattern = MetConfig(directory=tmp_path, file_format="%Y%m%d_%H", file_tres="1h")
    with pytest.raises(MetMissingError, match="no met file found for 2030-07-15T12:00 .. "
                                              "2030-07-15T14:00"):
        pattern.find_files(np.datetime64(receptor.time), -2)


def test_one_receptor_check_everywhere() -> None:
    """The receptor classes, the transport and the footprint take receptors through one
    check (stilt.receptors.release_points): one longitude rule, one-line errors."""
    from stilt.footprint import _receptor as footprint_receptor
    from stilt.receptors import as_receptor, release_points
    from stilt.transport import normalize_receptor

    east = {"time": "2023-07-15 12:00", "lon": 248.15, "lat": 40.77, "zagl": 5.0}
    assert normalize_receptor(east).longitude.tolist() == [pytest.approx(-111.85)]
    assert footprint_receptor(east).release.longitude.tolist() == [pytest.approx(-111.85)]
    assert as_receptor(east) == PointReceptor("2023-07-15 12:00", 248.15, 40.77, 5.0)
    far = dict(east, lon=400.0)
    for check in (normalize_receptor, footprint_receptor, as_receptor,
                  lambda r: PointReceptor(r["time"], r["lon"], r["lat"], r["zagl"])):
        with pytest.raises(ConfigError, match=r"^receptor longitude: 400.0 is outside "
                                              r"\[-180, 360\]$"):
            check(far)
    with pytest.raises(ConfigError, match=r"^receptor file r.csv line 3 latitude: 91.0 is "
                                          r"outside \[-90, 90\]$"):
        release_points(dict(east, lat=91.0), "receptor file r.csv line 3")
    column = as_receptor({"time": "2023-07-15 12:00", "longitude": -100.0, "latitude": 40.0,
                          "altitude": [5.0, 500.0], "altitude_ref": "MSL"})
    assert column == ColumnReceptor("2023-07-15 12:00", -100.0, 40.0, 5.0, 500.0, "msl")
    points = [dict(east, lat=40.0 + k, zagl=10.0 * (k + 1)) for k in range(2)]
    multi = as_receptor(points)
    assert isinstance(multi, MultiPointReceptor) and multi.altitudes == (10.0, 20.0)
    assert release_points(multi) == release_points(points)
    with pytest.raises(ConfigError, match=r"^multi-point receptor: times .* differ"):
        release_points([points[0], dict(points[1], time="2023-07-15 13:00")])
    with pytest.raises(ConfigError, match="a point is a column"):
        as_receptor([points[0], dict(points[1], zagl=[0.0, 100.0])])
