"""Vertical coordinates of the synthetic met: the ARL level systems real met families use.

Each system gives the stored level values (what the ARL index header carries) and the
pressure of every level in every column, from which the closed-form weather
(:func:`stilt.met.synthetic_weather.column_state`) gives heights, temperatures and winds
(docs/physics.md §2.5):

========  ====  ==========================================  ==============================
name      KSYS  level values                                pressure of level k
========  ====  ==========================================  ==============================
sigma     1     sigma (surface 1.0); RESERVED = PTOP 50 hPa  ``PTOP + (PRSS - PTOP) sigma``
pressure  2     hPa (surface 0), GDAS 1-degree levels        the level value
height    3     terrain-following m (surface 0)             solved: ``Z(p) = SHGT + z_agl``
hybrid    4     offset + sigma packed (surface 1.0)         ``PRSS frac + int``
wrf       5     WRF eta (surface 1.0); RESERVED = P_TOP      WRF hybrid_opt=2 formula
========  ====  ==========================================  ==============================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from stilt.met.synthetic_weather import G, RD, column_state

__all__ = ["HEIGHT_LEVELS_M", "HEIGHT_TOP_M", "HYBRID_LEVELS", "PRESSURE_LEVELS_HPA", "PTOP_HPA",
           "SIGMA_LEVELS", "VERTICALS", "WRF_ETA_LEVELS", "WRF_P0_HPA", "WRF_PTOP_HPA",
           "VerticalLevels", "wrf_hybrid_b"]

#: Sigma values of the upper levels (bottom up); pressure = PTOP + (PRSS - PTOP) * sigma.
SIGMA_LEVELS: tuple[float, ...] = (
    0.995, 0.985, 0.97, 0.95, 0.925, 0.895, 0.86, 0.82, 0.78, 0.735, 0.69, 0.64, 0.59,
    0.54, 0.49, 0.44, 0.39, 0.34, 0.29, 0.24, 0.195, 0.15, 0.11, 0.075, 0.05,
)
#: Pressure at sigma = 0 (hPa), stored in the RESERVED grid parameter.
PTOP_HPA = 50.0
#: Pressure levels of GDAS 1-degree ARL files (hPa, bottom up).
PRESSURE_LEVELS_HPA: tuple[float, ...] = (
    1000.0, 975.0, 950.0, 925.0, 900.0, 850.0, 800.0, 750.0, 700.0, 650.0, 600.0, 550.0,
    500.0, 450.0, 400.0, 350.0, 300.0, 250.0, 200.0, 150.0, 100.0, 50.0,
)
#: Terrain-following heights (m, bottom up): the sigma-z coordinate z* of a level whose height
#: above ground is ``z* (ZT - SHGT) / ZT`` with ZT = HEIGHT_TOP_M = 20 km, which is how the
#: reference binary places KSYS 3 levels (fitted on its mlht and 10-m pressure over 500 and
#: 1500 m terrain, docs/met.md); over sea-level terrain z* is the height above ground.
HEIGHT_LEVELS_M: tuple[float, ...] = (
    10.0, 50.0, 100.0, 200.0, 350.0, 500.0, 750.0, 1000.0, 1500.0, 2000.0, 3000.0, 4000.0,
    5000.0, 7000.0, 9000.0, 12000.0, 15000.0,
)
#: Hybrid levels (bottom up), stored as ARL packs them: pressure offset (hPa, integer part)
#: plus sigma (fraction), so P = PRSS * frac + int. Every sigma has no more decimals than the
#: ARL header's F6 field keeps at its size (5 below 1, 4 below 10, 3 below 100, 2 below 1000),
#: so the values survive the file exactly. Offsets rise to 155 hPa and fall back to 50 hPa at
#: the pure-pressure top (like ECMWF's A coefficients); pressures fall upward for any PRSS
#: from 450 to 1100 hPa.
HYBRID_LEVELS: tuple[float, ...] = (
    0.995, 0.985, 0.97, 0.95, 2.92, 6.88, 12.83, 20.77, 30.71, 42.64, 56.57, 72.5, 90.43,
    108.36, 125.29, 140.22, 150.16, 155.11, 155.07, 150.04, 140.02, 125.0, 100.0, 75.0, 50.0,
)
#: WRF eta of the mass levels (ZNU, bottom up), the WRF-hybrid model top and reference
#: pressure (hPa), and eta_c where the hybrid coordinate becomes pure pressure.
WRF_ETA_LEVELS: tuple[float, ...] = (
    0.9965, 0.988, 0.977, 0.963, 0.946, 0.926, 0.902, 0.874, 0.842, 0.806, 0.766, 0.722,
    0.675, 0.625, 0.573, 0.52, 0.466, 0.412, 0.359, 0.308, 0.259, 0.213, 0.17, 0.131,
    0.096, 0.065, 0.039, 0.017,
)
HEIGHT_TOP_M = 20000.0
WRF_PTOP_HPA = 50.0
WRF_P0_HPA = 1000.0
WRF_ETA_C = 0.2
_NEWTON_STEPS = 6


@dataclasses.dataclass(frozen=True)
class VerticalLevels:
    """One vertical coordinate: ARL system, stored values and how to get level pressures."""

    name: str                       # sigma, pressure, height, hybrid, wrf
    ksys: int                       # ARL vertical system
    values: tuple[float, ...]       # stored value of each upper level, bottom up
    reserved: float                 # RESERVED grid parameter (PTOP / P_TOP, else 0)
    surface_value: float            # stored value of the surface level
    long_name: str
    units: str

    def pressures(self, c: dict[str, np.ndarray],
                  c4: dict[str, np.ndarray]) -> np.ndarray:
        """Pressure (hPa, float32) of every level: shape ``(level, y, x)``.

        Parameters
        ----------
        c, c4 : dict of str to numpy.ndarray
            Column fields ``P0 TS D PS H`` in float64 and float32.

        Returns
        -------
        numpy.ndarray
            float32 pressures.
        """
        return _PRESSURES[self.name](self, c, c4)

    def ascent_shape(self, p: np.ndarray, ps: np.ndarray) -> np.ndarray:
        """Vertical profile (0..1, largest mid-column) of the large-scale ascent.

        A sine of sigma between the ground (sigma 1) and sigma 0.05 (about 100 hPa), zero
        below the ground and above; on sigma levels a function of the level only.

        Parameters
        ----------
        p : numpy.ndarray
            float32 level pressures ``(level, y, x)``.
        ps : numpy.ndarray
            float32 surface pressure ``(y, x)``.

        Returns
        -------
        numpy.ndarray
            float32, broadcasting against ``p``.
        """
        if self.name == "sigma":
            sigma = np.asarray(self.values, dtype=np.float64)
            return np.sin(np.pi * (1.0 - sigma) / (1.0 - sigma[-1])).astype(np.float32)[
                :, None, None]
        top = SIGMA_LEVELS[-1]
        sigma = (p - PTOP_HPA) / (ps - PTOP_HPA)
        return np.sin(np.pi * np.clip((1.0 - sigma) / (1.0 - top), 0.0, 1.0)).astype(
            np.float32)


def _sigma_pressures(lv: VerticalLevels, c: dict[str, np.ndarray],
                     c4: dict[str, np.ndarray]) -> np.ndarray:
    sigma = np.asarray(lv.values, dtype=np.float64)
    return (lv.reserved + (c["PS"] - lv.reserved) * sigma[:, None, None]).astype(np.float32)


def _pressure_pressures(lv: VerticalLevels, c: dict[str, np.ndarray],
                        c4: dict[str, np.ndarray]) -> np.ndarray:
    levels = np.asarray(lv.values, dtype=np.float32)[:, None, None]
    return np.broadcast_to(levels, (levels.shape[0], *c["PS"].shape)).copy()


def _height_pressures(lv: VerticalLevels, c: dict[str, np.ndarray],
                      c4: dict[str, np.ndarray]) -> np.ndarray:
    """Newton steps on ln p for Z(p) = SHGT + z_agl, with dZ/dln p = -Rd Tv / g."""
    zstar = np.asarray(lv.values, dtype=np.float64)[:, None, None]
    z = zstar * (HEIGHT_TOP_M - c["H"]) / HEIGHT_TOP_M
    target = c["H"] + z
    lnp = np.log(c["PS"]) - z * G / (RD * column_state(c["PS"], c)["TV"])
    for _ in range(_NEWTON_STEPS):
        st = column_state(np.exp(lnp), c)
        lnp = lnp + (st["Z"] - target) * G / (RD * st["TV"])
    return np.exp(lnp).astype(np.float32)


def _hybrid_pressures(lv: VerticalLevels, c: dict[str, np.ndarray],
                      c4: dict[str, np.ndarray]) -> np.ndarray:
    packed = np.asarray(lv.values, dtype=np.float64)
    offset = np.floor(packed)[:, None, None]
    return (c["PS"] * (packed[:, None, None] - offset) + offset).astype(np.float32)


def wrf_hybrid_b(eta: np.ndarray, eta_c: float = WRF_ETA_C) -> np.ndarray:
    """WRF's hybrid_opt=2 weight B(eta) of the surface pressure (Klemp 2011).

    The cubic in eta with B(eta_c) = 0, B'(eta_c) = 0, B(1) = 1, B'(1) = 1; 0 above eta_c.

    Parameters
    ----------
    eta : numpy.ndarray
        WRF eta (0 at the model top, 1 at the ground).
    eta_c : float
        Eta at and above which the coordinate is pure pressure.

    Returns
    -------
    numpy.ndarray
        B(eta); the dry pressure is ``B (PS - PT) + (eta - B) (P0 - PT) + PT``.
    """
    eta = np.asarray(eta, dtype=np.float64)
    d3 = (1.0 - eta_c) ** 3
    c1 = 2.0 * eta_c**2 / d3
    c2 = -eta_c * (4.0 + eta_c + eta_c**2) / d3
    c3 = 2.0 * (1.0 + eta_c + eta_c**2) / d3
    c4 = -(1.0 + eta_c) / d3
    b = c1 + c2 * eta + c3 * eta**2 + c4 * eta**3
    return np.where(eta > eta_c, b, 0.0)


def _wrf_pressures(lv: VerticalLevels, c: dict[str, np.ndarray],
                   c4: dict[str, np.ndarray]) -> np.ndarray:
    eta = np.asarray(lv.values, dtype=np.float64)
    b = wrf_hybrid_b(eta)[:, None, None]
    pt = lv.reserved
    p = b * (c["PS"] - pt) + (eta[:, None, None] - b) * (WRF_P0_HPA - pt) + pt
    return p.astype(np.float32)


_PRESSURES: dict[str, Callable[[VerticalLevels, dict[str, np.ndarray],
                                dict[str, np.ndarray]], np.ndarray]] = {
    "sigma": _sigma_pressures, "pressure": _pressure_pressures, "height": _height_pressures,
    "hybrid": _hybrid_pressures, "wrf": _wrf_pressures,
}

VERTICALS: dict[str, VerticalLevels] = {
    "sigma": VerticalLevels("sigma", 1, SIGMA_LEVELS, PTOP_HPA, 1.0, "sigma of the level", "1"),
    "pressure": VerticalLevels("pressure", 2, PRESSURE_LEVELS_HPA, 0.0, 0.0,
                               "pressure of the level", "hPa"),
    "height": VerticalLevels("height", 3, HEIGHT_LEVELS_M, 0.0, 0.0,
                             "terrain-following height z* of the level", "m"),
    "hybrid": VerticalLevels("hybrid", 4, HYBRID_LEVELS, 0.0,
                             1.0, "pressure offset (hPa, integer part) plus sigma (fraction)",
                             "1"),
    "wrf": VerticalLevels("wrf", 5, WRF_ETA_LEVELS, WRF_PTOP_HPA, 1.0,
                          "WRF eta of the level (hybrid_opt=2)", "1"),
}

