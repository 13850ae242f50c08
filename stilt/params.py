"""The HYSPLIT-STILT namelist and CONTROL parameters: names, R-STILT defaults, validation.

One schema (:data:`PARAMETERS`) serves validation, defaults and provenance. Names are the
HYSPLIT-STILT SETUP.CFG / CONTROL names in lower case; defaults are those of R-STILT's
``run_stilt.r`` template (docs/physics.md §11.1). Parameters that only matter to HYSPLIT
features STILT does not use (puff splitting, concentration grids, ...) are accepted and recorded
so that existing configurations keep working, and documented as having no effect.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stilt.errors import ConfigError

__all__ = ["PARAMETERS", "Param", "VALID_VARSIWANT", "DEFAULT_VARSIWANT", "resolve_params",
           "read_setup", "read_control"]

#: output columns PARTICLE_STILT.DAT can carry (docs/physics.md §7.4); zfx1 is PYSTILT's zcfx
VALID_VARSIWANT: tuple[str, ...] = (
    "time", "indx", "long", "lati", "zagl", "sigw", "tlgr", "zsfc", "icdx", "temp", "samt",
    "foot", "shtf", "tcld", "dmas", "dens", "rhfr", "sphu", "lcld", "zloc", "dswf", "wout",
    "mlht", "rain", "crai", "pres", "whtf", "temz", "zcfx", "solw",
)
#: R-STILT run_stilt.r default output columns
DEFAULT_VARSIWANT: tuple[str, ...] = (
    "time", "indx", "long", "lati", "zagl", "foot", "mlht", "dens", "samt", "sigw", "tlgr",
)


@dataclass(frozen=True)
class Param:
    """One parameter: its default, type, allowed range, units and meaning."""

    name: str
    default: Any
    kind: type
    description: str
    units: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    used: bool = True  #: False: accepted for compatibility, no effect in stilt

    def check(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type, or raise ConfigError."""
        if self.kind is tuple:
            return _check_varsiwant(value) if self.name == "varsiwant" else tuple(value)
        if value is None and self.default is None:
            return None
        try:
            if self.kind is bool:
                if isinstance(value, str):
                    if value.strip().upper() not in {"TRUE", "FALSE", "T", "F", ".TRUE.",
                                                     ".FALSE."}:
                        raise ValueError(value)
                    out: Any = value.strip().upper().strip(".").startswith("T")
                else:
                    out = bool(value)
            elif self.kind is int:
                f = float(value)
                if not f.is_integer():
                    raise ValueError(value)
                out = int(f)
            elif self.kind is float:
                out = float(value)
            else:
                out = str(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"parameter {self.name}={value!r}: expected {self.kind.__name__}"
                f" ({self.description})"
            ) from None
        if isinstance(out, float) and not math.isfinite(out):
            raise ConfigError(f"parameter {self.name}={value!r}: must be finite")
        if self.minimum is not None and out < self.minimum:
            raise ConfigError(f"parameter {self.name}={out!r}: must be >= {self.minimum}"
                              f" ({self.description})")
        if self.maximum is not None and out > self.maximum:
            raise ConfigError(f"parameter {self.name}={out!r}: must be <= {self.maximum}"
                              f" ({self.description})")
        if self.choices is not None and out not in self.choices:
            raise ConfigError(f"parameter {self.name}={out!r}: must be one of {self.choices}"
                              f" ({self.description})")
        return out


def _check_varsiwant(value: Any) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else list(value)
    out = []
    for name in names:
        key = str(name).strip().strip("'\"").lower()
        if key == "zfx1":
            key = "zcfx"
        if key not in VALID_VARSIWANT:
            hint = difflib.get_close_matches(key, VALID_VARSIWANT, n=1)
            more = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(f"varsiwant: unknown output column {name!r}{more}"
                              f" (valid: {', '.join(VALID_VARSIWANT)})")
        if key not in out:
            out.append(key)
    for required in ("time", "indx"):
        if required not in out:
            out.insert(0 if required == "time" else 1, required)
    return tuple(out)


def _p(name: str, default: Any, kind: type, description: str, units: str = "",
       lo: float | None = None, hi: float | None = None, choices: tuple[Any, ...] | None = None,
       used: bool = True) -> Param:
    return Param(name, default, kind, description, units, lo, hi, choices, used)


_LIST = [
    # CONTROL file
    _p("n_hours", -24, int, "run duration, negative = backward", "h", -8760, 8760),
    _p("numpar", 1000, int, "number of particles released", "1", 1, 10_000_000),
    _p("emisshrs", 0.01, float, "release duration (all particles leave in the first step)",
       "h", 0, None, used=False),
    _p("z_top", 25000.0, float, "top of the model domain", "m AGL", 1000, 100000),
    _p("w_option", 0, int, "vertical motion option (0 = met vertical velocity)", "", 0, 0),
    # SETUP.CFG, used by stilt
    _p("delt", 1.0, float, "time step (0: from tratio; <0: |delt| is the minimum)", "min",
       -60, 60),
    _p("tratio", 0.75, float, "max fraction of a grid cell moved in one (sub)step", "1",
       0.01, 10),
    _p("outdt", 0, int, "output interval (0: every step; <0: no output)", "min", -1, 100000),
    _p("nturb", 0, int, "0 turbulence on, 1 off (mean trajectories)", "", choices=(0, 1)),
    _p("veght", 0.5, float, "foot height: <=9 fraction of mixed-layer height, >9 metres", "",
       0, 100000),
    _p("kmix0", 150, int, "minimum mixed-layer height (<0: snap to internal levels)", "m",
       -5000, 5000),
    _p("kmixd", 3, int, "mixed-layer height method (0 met PBLH, 1 temperature, 2 TKE, "
       "3 modified Richardson, >=10 constant metres)", "", 0, 100000),
    _p("kblt", 5, int, "turbulence profile scheme (stilt: always 5, Hanna)", "", 1, 5,
       used=False),
    _p("kbls", 1, int, "stability from fluxes (1) or wind/temperature profile (2)", "",
       choices=(1, 2)),
    _p("kdef", 0, int, "horizontal turbulence: 0 from vertical, 1 deformation (stilt: 0)", "",
       choices=(0, 1), used=False),
    _p("kzmix", 0, int, "vertical mixing adjustments (0 none)", "", 0, 3),
    _p("tvmix", 1.0, float, "free-troposphere / PBL mixing scale factor", "1", 0, 1000),
    _p("tkerd", 0.18, float, "w'^2/(u'^2+v'^2) ratio, day (unstable)", "1", 0, 100),
    _p("tkern", 0.18, float, "w'^2/(u'^2+v'^2) ratio, night (stable)", "1", 0, 100),
    _p("tlfrac", 0.1, float, "turbulence sub-step as a fraction of TL", "1", 1e-4, 1),
    _p("hscale", 10800.0, float, "horizontal Lagrangian time scale", "s", 1, 1e7),
    _p("vscale", 200.0, float, "vertical Lagrangian time scale, neutral", "s", 1, 1e6,
       used=False),
    _p("vscaleu", 200.0, float, "vertical Lagrangian time scale, unstable", "s", 1, 1e6,
       used=False),
    _p("vscales", -1.0, float, "vertical Lagrangian time scale, stable (-1 variable)", "s",
       -1, 1e6, used=False),
    _p("k10m", 1, int, "use 10-m wind and 2-m temperature as the lowest level", "",
       choices=(0, 1)),
    _p("kmsl", 0, int, "release heights above sea level (1) or ground (0); stilt: the "
       "receptor's altitude_ref, which a given kmsl must agree with", "", choices=(0, 1),
       used=False),
    _p("kagl", 1, int, "output heights above ground", "", choices=(1,)),
    _p("idsp", 2, int, "particle dispersion scheme (stilt: always 2, STILT)", "",
       choices=(1, 2), used=False),
    _p("ichem", 8, int, "chemistry/output mode (stilt: always 8, STILT)", "",
       choices=(0, 8, 6, 9, 10), used=False),
    _p("initd", 0, int, "initial distribution (0 = 3-D particles)", "", choices=(0,)),
    _p("capemin", -1.0, float, "convection (-1 off)", "J/kg", choices=(-1.0,)),
    _p("zicontroltf", 0, int, "scale the mixed-layer height hourly with ziscale", "",
       choices=(0, 1)),
    _p("ziscale", (), tuple, "hourly mixed-layer height scale factors (zicontroltf=1)", "1"),
    _p("winderrtf", 0, int, "transport errors: 1 wind, 2 mixed layer, 3 both (set by the "
       "error parameters given)", "", 0, 3),
    _p("siguverr", None, float, "wind error standard deviation", "m/s", 0, 100),
    _p("tluverr", None, float, "wind error time correlation", "min", 0, 1e6),
    _p("zcoruverr", None, float, "wind error vertical correlation length", "m", 0, 1e6),
    _p("horcoruverr", None, float, "wind error horizontal correlation length", "km", 0, 1e6),
    _p("sigzierr", None, float, "mixed-layer height error standard deviation", "%", 0, 1000),
    _p("tlzierr", None, float, "mixed-layer error time correlation", "min", 0, 1e6),
    _p("horcorzierr", None, float, "mixed-layer error horizontal correlation length", "km",
       0, 1e6),
    _p("varsiwant", DEFAULT_VARSIWANT, tuple, "output columns of the particle table"),
    _p("krand", 4, int, "random seed mode (stilt: seed=None draws a fresh seed)", "", 0, 4,
       used=False),
    _p("seed", 0, int, "namelist SEED (stilt uses run_trajectories(seed=...))", "",
       used=False),
    _p("mgmin", 10, int, "minimum met window (sub-grid) size", "cells"),
    # accepted for compatibility, no effect in stilt's STILT mode
    _p("cmass", 0, int, "concentration grid mass mode", "", used=False),
    _p("conage", 48, int, "puff/particle conversion age", "h", used=False),
    _p("cpack", 1, int, "concentration packing", "", used=False),
    _p("dxf", 1.0, float, "ensemble offset x", "", used=False),
    _p("dyf", 1.0, float, "ensemble offset y", "", used=False),
    _p("dzf", 0.01, float, "ensemble offset z", "", used=False),
    _p("efile", "", str, "emissions file", used=False),
    _p("frhmax", 3.0, float, "puff merge", used=False),
    _p("frhs", 1.0, float, "puff merge", used=False),
    _p("frme", 0.1, float, "puff merge", used=False),
    _p("frmr", 0.0, float, "puff merge", used=False),
    _p("frts", 0.1, float, "puff merge", used=False),
    _p("frvs", 0.01, float, "puff merge", used=False),
    _p("khinp", 0, int, "particle input age", used=False),
    _p("khmax", 9999, int, "maximum particle age", "h", used=False),
    _p("kpuff", 0, int, "puff growth", used=False),
    _p("krnd", 6, int, "puff merge interval", "h", used=False),
    _p("kspl", 1, int, "puff split interval", "h", used=False),
    _p("kwet", 1, int, "precipitation source", used=False),
    _p("maxdim", 1, int, "particle dimensions", used=False),
    _p("maxpar", None, int, "maximum particles (defaults to numpar)", used=False),
    _p("mhrs", 9999, int, "trajectory restart duration", "h", used=False),
    _p("nbptyp", 1, int, "particle size bins", used=False),
    _p("ncycl", 0, int, "particle dump cycle", "h", used=False),
    _p("ndump", 0, int, "particle dump time", "h", used=False),
    _p("ninit", 1, int, "particle initialization", used=False),
    _p("nstr", 0, int, "trajectory restart interval", "h", used=False),
    _p("nver", 0, int, "trajectory vertical split", used=False),
    _p("p10f", 1.0, float, "dust threshold", used=False),
    _p("pinbc", "", str, "particle boundary input file", used=False),
    _p("pinpf", "", str, "particle input file", used=False),
    _p("poutf", "", str, "particle output file", used=False),
    _p("qcycle", 0.0, float, "emission cycle", "h", used=False),
    _p("rhb", 80, int, "cloud base RH", "%", used=False),
    _p("rht", 60, int, "cloud top RH", "%", used=False),
    _p("splitf", 1.0, float, "puff split factor", used=False),
    _p("tout", 0, int, "trajectory output interval", used=False),
    _p("wbbh", 0.0, float, "wet deposition", used=False),
    _p("wbwf", 0.0, float, "wet deposition", used=False),
    _p("wbwr", 0.0, float, "wet deposition", used=False),
    _p("wvert", False, bool, "WRF vertical interpolation", used=False),
    _p("ivmax", None, int, "number of output columns (from varsiwant)", used=False),
]

#: every parameter by name
PARAMETERS: dict[str, Param] = {p.name: p for p in _LIST}


#: the transport-error parameter groups: wind (WINDERR, winderrtf 1) and mixed layer (ZIERR, 2)
WIND_ERROR_PARAMS = ("siguverr", "tluverr", "zcoruverr", "horcoruverr")
ZI_ERROR_PARAMS = ("sigzierr", "tlzierr", "horcorzierr")


def _error_switch(out: Mapping[str, Any], given: Any) -> int:
    """``winderrtf`` from the error parameters set, as R-STILT and PYSTILT decide it.

    A complete wind group adds 1 and a complete mixed-layer group 2 (R-STILT's
    ``simulation_step``: ``winderrtf <- (!is.null(zierr)) * 2 + !is.null(xyerr)``; PYSTILT's
    ``ErrorParams.winderrtf``); a group set in part is an error, as in both. An explicit
    ``winderrtf`` must agree with the groups set, so no parameter is ever silently ignored.
    """
    switch = 0
    for bit, group, what in ((1, WIND_ERROR_PARAMS, "wind-error"),
                             (2, ZI_ERROR_PARAMS, "mixed-layer-error")):
        set_ = [name for name in group if out[name] is not None]
        if set_ and len(set_) < len(group):
            missing = [name for name in group if out[name] is None]
            raise ConfigError(f"{what} parameters {', '.join(set_)} set without "
                              f"{', '.join(missing)}: set all of {', '.join(group)} (the "
                              "transport-error run needs them all) or none")
        switch += bit if set_ else 0
    if given is None or int(out["winderrtf"]) == switch:
        return switch
    asked = int(out["winderrtf"])
    for bit, group in ((1, WIND_ERROR_PARAMS), (2, ZI_ERROR_PARAMS)):
        if asked & bit and not switch & bit:
            raise ConfigError(f"winderrtf={asked} needs parameter {group[0]} (and "
                              f"{', '.join(group[1:])})")
    ignored = [name for bit, group in ((1, WIND_ERROR_PARAMS), (2, ZI_ERROR_PARAMS))
               if switch & bit and not asked & bit for name in group]
    raise ConfigError(f"winderrtf={asked} would ignore the error parameters "
                      f"{', '.join(ignored)}: leave winderrtf out (the parameters set switch "
                      f"the error run on, winderrtf={switch}, as in R-STILT and PYSTILT) or "
                      "remove them")


def check_kmsl(params: Mapping[str, Any], altitude_refs: Any, what: str = "receptor") -> None:
    """Refuse a given ``kmsl`` that contradicts the receptors' ``altitude_ref``.

    stilt takes the height reference of each receptor (``altitude_ref``); ``kmsl`` is
    HYSPLIT's one switch for it. As in PYSTILT, ``kmsl`` left out follows the receptors, and a
    ``kmsl`` given (1: above sea level, 0: above ground) must agree with every receptor.

    Parameters
    ----------
    params : mapping
        The parameters as given (lower-case names); only ``kmsl`` is read.
    altitude_refs : iterable of str
        ``"agl"`` or ``"msl"`` of each receptor.
    what : str, optional
        How the error names the receptors.

    Raises
    ------
    ConfigError
        When ``kmsl`` is given and a receptor's reference differs.
    """
    if params.get("kmsl") is None:
        return
    want = "msl" if int(params["kmsl"]) == 1 else "agl"
    other = sorted({str(ref) for ref in altitude_refs} - {want})
    if other:
        raise ConfigError(f"kmsl = {params['kmsl']} means release heights above "
                          f"{'sea level' if want == 'msl' else 'ground'} (altitude_ref "
                          f"{want!r}), but {what} altitude_ref is {other[0]!r}: set "
                          f"altitude_ref on the receptors and leave kmsl out")


def resolve_params(params: Mapping[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    """Validate parameters and fill in R-STILT defaults.

    Parameters
    ----------
    params : mapping, optional
        Parameter names (any case) to values.
    **more
        More parameters, same rules.

    Returns
    -------
    dict
        Every parameter of :data:`PARAMETERS`, validated, lower-case names.

    Raises
    ------
    ConfigError
        Unknown name (with a did-you-mean suggestion) or a value of the wrong type or range.
    """
    given: dict[str, Any] = {}
    for source in (params or {}), more:
        for key, value in source.items():
            name = str(key).lower()
            if name not in PARAMETERS:
                hint = difflib.get_close_matches(name, PARAMETERS, n=1)
                more_text = f"; did you mean {hint[0]!r}?" if hint else ""
                raise ConfigError(f"unknown parameter {key!r}{more_text}")
            given[name] = value
    out = {name: p.check(given[name]) if name in given else p.default
           for name, p in PARAMETERS.items()}
    if out["maxpar"] is None:
        out["maxpar"] = out["numpar"]
    out["ivmax"] = len(out["varsiwant"])
    delt = out["delt"]
    if delt > 0 and 60 % delt != 0:
        raise ConfigError(f"parameter delt={delt!r}: a fixed step must divide 60 minutes")
    out["winderrtf"] = _error_switch(out, given.get("winderrtf"))
    out["ziscale"] = tuple(float(v) for v in out["ziscale"])
    return out


_NAMELIST_ITEM = re.compile(
    r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)(?=,?\s*[A-Za-z_][A-Za-z0-9_]*\s*=|"
    r",?\s*[$&/]\s*(?:END)?\s*$|,?\s*$)", re.S)


def read_setup(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a HYSPLIT ``SETUP.CFG`` namelist (``$SETUP ... $END`` or ``&SETUP ... /``).

    Keys are case-insensitive; keys stilt does not know are ignored (docs/physics.md §11.2), values
    are returned as written (strings), except ``varsiwant`` (a list of column names). Pass the
    result through :func:`resolve_params` to validate it.

    Parameters
    ----------
    path : str or path-like
        The namelist file.

    Returns
    -------
    dict
        Lower-case parameter names to values.
    """
    text = Path(path).read_text()
    body = re.sub(r"^\s*[$&]\s*SETUP\s*", "", text.strip(), flags=re.I)
    body = re.sub(r"[$&]?\s*END\s*$|/\s*$", "", body.strip(), flags=re.I)
    out: dict[str, Any] = {}
    for m in _NAMELIST_ITEM.finditer(body):
        key, value = m.group(1).lower(), m.group(2).strip().rstrip(",").strip()
        if key == "varsiwant":
            out[key] = [v.strip().strip("'\"") for v in value.split(",")
                        if v.strip().strip("'\"")]
        elif key in PARAMETERS:
            out[key] = value.strip("'\"")
    for key in ("efile", "pinbc", "pinpf", "poutf"):
        out.pop(key, None)
    return out


def read_control(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the start of a HYSPLIT ``CONTROL`` file.

    Start time, start points, duration, vertical motion, model top and met files
    (docs/physics.md §11.3).

    Returns
    -------
    dict
        ``time`` (datetime64[m]), ``points`` (list of (lat, lon, height)), ``n_hours``,
        ``w_option``, ``z_top``, ``met_files`` (list of paths as written, directory + name).

    Raises
    ------
    ConfigError
        When a line cannot be read, naming the line.
    """
    lines = [ln.strip() for ln in Path(path).read_text().splitlines()]
    try:
        yy, mm, dd, hh, *rest = (int(v) for v in lines[0].split())
        year = yy + (2000 if yy < 40 else 1900) if yy < 100 else yy
        minute = rest[0] if rest else 0
        time = np.datetime64(f"{year:04d}-{mm:02d}-{dd:02d}T{hh:02d}:{minute:02d}", "m")
        npts = int(lines[1].split()[0])
        points = [tuple(float(v) for v in lines[2 + k].split()[:3]) for k in range(npts)]
        i = 2 + npts
        n_hours = float(lines[i])
        w_option = int(lines[i + 1])
        z_top = float(lines[i + 2])
        counts = lines[i + 3].split()
        nfiles = int(counts[-1])
        met = [lines[i + 4 + 2 * k] + lines[i + 5 + 2 * k] for k in range(nfiles)]
    except (IndexError, ValueError) as err:
        raise ConfigError(f"CONTROL file {path}: cannot read it ({err})") from None
    return {"time": time, "points": points, "n_hours": n_hours, "w_option": w_option,
            "z_top": z_top, "met_files": met}
