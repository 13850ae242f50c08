"""stilt.params: R-STILT defaults, types, ranges, unknown names with suggestions."""

from __future__ import annotations

import numpy as np
import pytest

from stilt.errors import ConfigError
from stilt.params import DEFAULT_VARSIWANT, PARAMETERS, resolve_params


def test_rstilt_run_stilt_defaults() -> None:
    p = resolve_params()
    # docs/physics.md §11.1, the R-STILT run_stilt.r column
    expected = {"n_hours": -24, "numpar": 1000, "delt": 1.0, "tratio": 0.75, "veght": 0.5,
                "kmix0": 150, "kmixd": 3, "kblt": 5, "kbls": 1, "tlfrac": 0.1, "nturb": 0,
                "outdt": 0, "z_top": 25000.0, "hscale": 10800.0, "tkerd": 0.18,
                "tkern": 0.18, "frvs": 0.01, "capemin": -1.0, "idsp": 2, "ichem": 8,
                "k10m": 1, "kmsl": 0, "krand": 4, "winderrtf": 0, "zicontroltf": 0,
                "vscales": -1.0, "mgmin": 10, "emisshrs": 0.01}
    for name, value in expected.items():
        assert p[name] == value, name
        assert type(p[name]) is type(value), name
    assert p["varsiwant"] == DEFAULT_VARSIWANT
    assert p["maxpar"] == 1000 and p["ivmax"] == len(DEFAULT_VARSIWANT)
    assert set(p) == set(PARAMETERS)


def test_every_parameter_documented() -> None:
    for name, param in PARAMETERS.items():
        assert name == name.lower()
        assert param.description, name


def test_names_are_case_insensitive_and_converted() -> None:
    p = resolve_params({"NUMPAR": "500", "DELT": 2, "WVERT": "FALSE"}, veght=300)
    assert p["numpar"] == 500 and p["delt"] == 2.0 and p["wvert"] is False
    assert p["veght"] == 300.0 and p["maxpar"] == 500


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match="unknown parameter 'tlfrack'; did you mean 'tlfrac'"):
        resolve_params(tlfrack=0.1)
    with pytest.raises(ConfigError, match="unknown parameter 'zzzzzz'$"):
        resolve_params(zzzzzz=1)


@pytest.mark.parametrize("name, value, pattern", [
    ("numpar", 0, "must be >= 1"),
    ("numpar", 2.5, "expected int"),
    ("nturb", 2, "must be one of"),
    ("tratio", "fast", "expected float"),
    ("z_top", float("inf"), "must be finite"),
    ("delt", 7, "must divide 60"),
    ("kmsl", 3, "must be one of"),
])
def test_bad_values_are_rejected(name: str, value: object, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        resolve_params({name: value})


def test_varsiwant_validation() -> None:
    p = resolve_params(varsiwant=["LONG", "lati", "zfx1", "foot"])
    assert p["varsiwant"] == ("time", "indx", "long", "lati", "zcfx", "foot")
    with pytest.raises(ConfigError, match="did you mean 'foot'"):
        resolve_params(varsiwant=["time", "indx", "fooot"])


def test_error_runs_need_their_parameters() -> None:
    with pytest.raises(ConfigError, match="winderrtf=2 needs parameter sigzierr"):
        resolve_params(winderrtf=2)
    p = resolve_params(winderrtf=2, sigzierr=20, tlzierr=60, horcorzierr=100)
    assert p["sigzierr"] == 20.0


WIND = {"siguverr": 3.0, "tluverr": 60.0, "zcoruverr": 500.0, "horcoruverr": 100.0}
ZI = {"sigzierr": 20.0, "tlzierr": 60.0, "horcorzierr": 100.0}


def test_error_parameters_switch_the_error_run_on_as_rstilt_and_pystilt() -> None:
    """R-STILT's simulation_step and PYSTILT's ErrorParams: winderrtf = wind + 2 zi, from the
    complete groups set; no parameter is ever ignored."""
    assert resolve_params()["winderrtf"] == 0
    assert resolve_params(**WIND)["winderrtf"] == 1
    assert resolve_params(**ZI)["winderrtf"] == 2
    assert resolve_params(**WIND, **ZI)["winderrtf"] == 3
    assert resolve_params(winderrtf=3, **WIND, **ZI)["winderrtf"] == 3
    with pytest.raises(ConfigError, match="wind-error parameters siguverr, tluverr set without "
                                          "zcoruverr, horcoruverr"):
        resolve_params(siguverr=3.0, tluverr=60.0)
    with pytest.raises(ConfigError, match="mixed-layer-error parameters sigzierr set without"):
        resolve_params(**WIND, sigzierr=20.0)
    with pytest.raises(ConfigError, match="winderrtf=0 would ignore the error parameters "
                                          "siguverr, tluverr, zcoruverr, horcoruverr"):
        resolve_params(winderrtf=0, **WIND)
    with pytest.raises(ConfigError, match="winderrtf=1 would ignore the error parameters "
                                          "sigzierr, tlzierr, horcorzierr: leave winderrtf out"):
        resolve_params(winderrtf=1, **WIND, **ZI)
    with pytest.raises(ConfigError, match="winderrtf=3 needs parameter siguverr"):
        resolve_params(winderrtf=3, **ZI)


def test_model_config_refuses_error_parameters_it_would_ignore() -> None:
    import stilt

    mets = {"m": {"directory": "met", "file_format": "x"}}
    with pytest.raises(ConfigError, match="set all of siguverr, tluverr, zcoruverr, "
                                          "horcoruverr"):
        stilt.ModelConfig(mets=mets, siguverr=3.0)
    config = stilt.ModelConfig(mets=mets, **ZI)
    assert config.resolved_params()["winderrtf"] == 2


def test_read_setup_and_control(shared_dir) -> None:
    from stilt.params import read_control, read_setup

    case = shared_dir / "oracle" / "ngm_oct1618"
    setup = read_setup(case / "SETUP.CFG")
    p = resolve_params(setup)
    assert p["numpar"] == 500 and p["kmix0"] == 150 and p["seed"] == -43
    assert p["varsiwant"][:5] == ("time", "indx", "long", "lati", "zagl") and p["ivmax"] == 16
    assert p["wvert"] is False and p["delt"] == 1.0
    ctl = read_control(case / "CONTROL")
    assert ctl["time"] == np.datetime64("1995-10-17T18:00")
    assert ctl["points"] == [(40.0, -90.0, 10.0)] and ctl["n_hours"] == -24.0
    assert ctl["z_top"] == 25000.0 and ctl["met_files"] == ["../shared/met/oct1618.BIN"]
    synth = read_control(shared_dir / "oracle" / "synth_hrrrlike" / "CONTROL")
    assert len(synth["met_files"]) == 5 and synth["met_files"][0].endswith("20230715_18-23_synt")


def test_read_setup_accepts_ampersand_form(tmp_path) -> None:
    from stilt.params import read_setup

    (tmp_path / "SETUP.CFG").write_text("&SETUP\n kmixd = 0, numpar=20,\n"
                                        " varsiwant='time','indx','foot', unknownkey=3\n/\n")
    out = read_setup(tmp_path / "SETUP.CFG")
    assert out == {"kmixd": "0", "numpar": "20", "varsiwant": ["time", "indx", "foot"]}
