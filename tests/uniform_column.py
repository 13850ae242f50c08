"""Test helper: the internal-level column of the horizontally uniform oracle cases.

`../shared/oracle/uniform/*/met.arl.gz` hold horizontally uniform fields; this rebuilds the
column hycs_std works on at the receptor's met node (docs/physics.md §2.5, §3.1): dry hypsometric
heights of the data levels, internal levels h_k = 30 k^2 - 25 k + 5 compressed by (Zt - Zg)/Zt
with their sigma stored in single precision (as the binary does: it shifts level 1 by 1.7e-5
relative, visible in T_L), pressure interpolated in ln p and the other fields linearly in height,
with T02M / U10M / V10M as the ground values. The met is read with stilt.read_arl. (The
SPHU = 0.002 kg/kg of these files unpacks to 0 away from the first grid column: its packing
precision 2/254 zeroes it, which is why they behave as dry air.)
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

RD, GRAV = 287.04, 9.80616  # hypsometric constants that reproduce the printed pres best
COLUMNS = ("time indx long lati zagl sigw tlgr zsfc icdx temp samt foot shtf tcld dmas dens rhfr "
           "sphu lcld zloc dswf wout mlht rain crai pres whtf temz zcfx").split()
RECEPTOR_LAT, RECEPTOR_LON = 40.5, -112.0  # all uniform cases (CONTROL)


def read_node_fields(path: Path, lat: float = RECEPTOR_LAT, lon: float = RECEPTOR_LON
                     ) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Surface and upper-level values of the first time at the met node nearest (lat, lon)."""
    import stilt

    ds = stilt.read_arl(path, time=None).isel(time=0)
    dist = (ds["lat"] - lat) ** 2 + (ds["lon"] - lon) ** 2
    j, i = np.unravel_index(int(np.argmin(dist.values)), dist.shape)
    node = ds.isel(y=j, x=i)
    surface = {n: float(node[n]) for n in node.data_vars if "level" not in node[n].dims}
    upper = {n: node[n].values.astype(np.float64) for n in node.data_vars
             if "level" in node[n].dims}
    return surface, upper


@dataclass
class Column:
    """Met on the internal levels (heights above ground, increasing)."""

    zsg: np.ndarray    # sigma of the internal levels
    z: np.ndarray      # m above ground
    pres: np.ndarray   # hPa
    temp: np.ndarray   # K
    u: np.ndarray      # m/s
    v: np.ndarray      # m/s
    vap: np.ndarray    # water vapour pressure (hPa), 0 unless the file has RELH
    surface: dict[str, float]
    depth: float       # Zt - Zg (m)

    @property
    def dens_moist(self) -> np.ndarray:
        """Air density p / (Rd T_v) with q from the vapour pressure (kg/m3)."""
        q = 0.622 * self.vap / self.pres
        return self.pres * 100.0 / (RD * self.temp * (1.0 + 0.61 * q))

    @property
    def dens_dry(self) -> np.ndarray:
        """Partial density of dry air (p - e) / (Rd T) (kg/m3), the printed `dens`."""
        return (self.pres - self.vap) * 100.0 / (RD * self.temp)


@lru_cache(maxsize=8)
def uniform_column(path: Path, ztop: float = 25000.0, nlev: int = 30) -> Column:
    """Internal-level column of a uniform oracle met file."""
    sfc, up = read_node_fields(path)
    p = np.concatenate([[sfc["PRSS"]], up["PRES"]])
    t = np.concatenate([[sfc["T02M"]], up["TEMP"]])
    if "RELH" in up:  # RH files: vapour pressure with the saturation formula of 1.8
        rh = np.concatenate([[up["RELH"][0]], up["RELH"]]) / 100.0
        e = rh * np.exp(21.4 - 5351.0 / t)
    else:  # SPHU-only files behave as dry air in hycs_std v5 (docs/physics.md §2.6)
        e = np.zeros_like(p)
    tv = t * (1.0 + 0.61 * 0.622 * e / p)
    zd = np.concatenate([[0.0], np.cumsum(RD / GRAV * 0.5 * (tv[1:] + tv[:-1])
                                          * np.log(p[:-1] / p[1:]))])
    k = np.arange(1, nlev + 1)
    h = 30.0 * k**2 - 25.0 * k + 5.0
    zsg = (np.float32(1.0) - h.astype(np.float32) / np.float32(ztop)).astype(np.float64)
    depth = ztop - sfc["SHGT"]
    z = (1.0 - zsg) * depth
    u = np.concatenate([[sfc["U10M"]], up["UWND"]])
    v = np.concatenate([[sfc["V10M"]], up["VWND"]])
    return Column(zsg=zsg, z=z, pres=np.exp(np.interp(z, zd, np.log(p))),
                  temp=np.interp(z, zd, t), u=np.interp(z, zd, u), v=np.interp(z, zd, v),
                  vap=np.interp(z, zd, e), surface=sfc, depth=depth)


@lru_cache(maxsize=8)
def read_particles(path: Path) -> dict[str, np.ndarray]:
    """PARTICLE_STILT.DAT(.gz) with all 29 columns, as arrays named like the columns."""
    with gzip.open(path, "rt") as f:
        data = np.loadtxt(f, skiprows=1)
    return {name: data[:, i] for i, name in enumerate(COLUMNS)}
