"""The closed-form weather behind the synthetic met (``stilt.met.synthetic``).

Every quantity is a function of latitude, longitude and hours since the first time:

* terrain rising westward to a north-south ridge, plus seeded hills, optionally a flat sea
  east of a coast longitude;
* a moving surface low with a cold core over a warm-south / cold-north background;
* a hydrostatic atmosphere: virtual temperature falls at 6.5 K/km up to a 215 K tropopause,
  plus a diurnal boundary-layer anomaly (weak over the sea), so heights are known in closed
  form at any pressure (:func:`column_state`), also below the ground;
* geostrophic winds from those heights (:func:`geostrophic`), slowed and backed in an Ekman
  layer (:func:`ekman`).

The weather's fixed places (the dry line at 103W, the ridge, the hills between 32-48N and
115-92W, the low's start near 43.5N 112W, the background gradients) are laid out for a grid
centred on 40N 101.5W and move with the centre: :class:`Weather` holds the shift.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ["CENTER_LAT", "CENTER_LON", "Weather", "column_state", "ekman", "geostrophic",
           "gradients", "sea_surface_temperature", "solar_sine", "stencil"]

#: Centre (degrees) the weather's fixed places are laid out for.
CENTER_LAT = 40.0
CENTER_LON = -101.5

# physical constants (as the hypsometric recipe of docs/physics.md §2.5)
RD = 287.05
G = 9.80665
OMEGA = 7.292115e-5
R_EARTH_M = 6371.2e3
LAPSE = 6.5e-3                 # K/m
T_TROP = 215.0                 # K
KAPPA = RD * LAPSE / G         # exponent of p in the constant-lapse-rate atmosphere
DIURNAL_C = 0.07               # e-folding of the boundary-layer anomaly in ln p (~600 m)
GRAD_STEP_DEG = 0.005          # finite-difference step of horizontal gradients

#: Sea-surface temperature at the centre latitude (K) and its fall per degree northward.
SST_K = 297.5
SST_K_PER_DEG = 0.5
#: Width (degrees of longitude) of the terrain ramp down to the coast, and of the land-sea
#: change of the diurnal anomaly; the anomaly over the sea is this fraction of the land one.
COAST_RAMP_DEG = 0.5
COAST_ANOMALY_DEG = 1.5
SEA_ANOMALY_SHARE = 0.2


def sea_surface_temperature(lat: np.ndarray, center_lat: float = CENTER_LAT) -> np.ndarray:
    """Sea-surface temperature (K), constant in time: 297.5 K at the centre latitude.

    Parameters
    ----------
    lat : numpy.ndarray
        Latitude (degrees).
    center_lat : float
        Latitude of the grid centre (degrees).

    Returns
    -------
    numpy.ndarray
        ``SST_K - SST_K_PER_DEG * (lat - center_lat)``.
    """
    return SST_K - SST_K_PER_DEG * (np.asarray(lat, dtype=np.float64) - center_lat)


@dataclasses.dataclass(frozen=True)
class Weather:
    """Seeded parameters of the closed-form weather; methods are functions of (lat, lon, t).

    ``dlat``/``dlon`` shift the weather's fixed places from 40N 101.5W to the grid centre;
    ``sea_lon`` (degrees east, or None) is the coast: sea east of it.
    """

    hills: np.ndarray          # (n, 4): lat, lon, amplitude (m), width (deg)
    low_lat0: float
    low_lon0: float
    low_dlat: float            # deg per hour
    low_dlon: float            # deg per hour
    low_depth: float           # hPa
    start_doy: float           # day of year of the first time
    start_hour: float          # UTC hour of the first time
    dlat: float = 0.0
    dlon: float = 0.0
    sea_lon: float | None = None

    @classmethod
    def from_seed(cls, seed: int, start: np.datetime64, center_lat: float = CENTER_LAT,
                  center_lon: float = CENTER_LON, sea_lon: float | None = None) -> Weather:
        """Draw the hills and the low from ``seed``; place the weather around the centre.

        Parameters
        ----------
        seed : int
            Seed of the hills and of the low's track, speed and depth.
        start : numpy.datetime64
            First valid time (sets the day of year and the UTC hour of ``t = 0``).
        center_lat, center_lon : float
            Grid centre (degrees); the weather moves with it.
        sea_lon : float, optional
            Coast longitude (degrees east): sea east of it.

        Returns
        -------
        Weather
            The weather.
        """
        rng = np.random.default_rng(seed)
        dlat, dlon = center_lat - CENTER_LAT, center_lon - CENTER_LON
        n = 14
        hills = np.column_stack([
            rng.uniform(32.0, 48.0, n), rng.uniform(-115.0, -92.0, n),
            rng.uniform(80.0, 600.0, n), rng.uniform(0.3, 1.1, n),
        ])
        # hills are higher in the west
        hills[:, 2] *= 0.4 + 0.6 * (hills[:, 1] < -102.0)
        hills[:, 0] += dlat
        hills[:, 1] += dlon
        day = start.astype("datetime64[D]")
        year = start.astype("datetime64[Y]")
        return cls(
            hills=hills,
            low_lat0=43.5 + rng.uniform(-1.0, 1.0) + dlat,
            low_lon0=-112.0 + rng.uniform(-1.0, 1.0) + dlon,
            low_dlat=-0.06 * rng.uniform(0.8, 1.2),
            low_dlon=0.40 * rng.uniform(0.9, 1.1),
            low_depth=9.0 * rng.uniform(0.85, 1.15),
            start_doy=float((day - year).astype(int)) + 1.0,
            start_hour=float((start - day) / np.timedelta64(1, "h")),
            dlat=dlat, dlon=dlon, sea_lon=sea_lon,
        )

    # ---- static ----
    def dry_share(self, lon: np.ndarray) -> np.ndarray:
        """0..1: the dry, high west (tanh step at the dry line, 103W for the default centre)."""
        return 0.5 * (1.0 + np.tanh(((-103.0 + self.dlon) - lon) / 3.0))

    def is_sea(self, lon: np.ndarray) -> np.ndarray:
        """Whether a point is sea (at or east of the coast); all False without a sea."""
        if self.sea_lon is None:
            return np.zeros(np.shape(lon), dtype=bool)
        return np.asarray(lon) >= self.sea_lon

    def terrain(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """Terrain height (m): plains rising westward, a north-south ridge, seeded hills.

        With a sea, the land ramps down to 0 m over ``COAST_RAMP_DEG`` west of the coast and
        the sea is 0 m.
        """
        west = self.dry_share(lon)
        ridge_lon = (-107.5 + self.dlon) + 0.3 * (lat - (CENTER_LAT + self.dlat))
        h = 250.0 + 1400.0 * west + 1100.0 * np.exp(-(((lon - ridge_lon) / 1.3) ** 2))
        for hlat, hlon, amp, width in self.hills:
            h = h + amp * np.exp(-((lat - hlat) ** 2 + ((lon - hlon) * 0.77) ** 2)
                                 / (2.0 * width**2))
        if self.sea_lon is not None:
            h = h * np.clip((self.sea_lon - lon) / COAST_RAMP_DEG, 0.0, 1.0)
        return h

    def sst(self, lat: np.ndarray) -> np.ndarray:
        """Sea-surface temperature (K) of this weather, see :func:`sea_surface_temperature`."""
        return sea_surface_temperature(lat, CENTER_LAT + self.dlat)

    # ---- the low ----
    def low_distance_km(self, lat: np.ndarray, lon: np.ndarray, t: float,
                        lag_deg: float = 0.0) -> np.ndarray:
        """Great-circle distance (km) from the low centre (shifted west by ``lag_deg``)."""
        clat = self.low_lat0 + self.low_dlat * t
        clon = self.low_lon0 + self.low_dlon * t - lag_deg
        p1, p2 = np.radians(lat), math.radians(clat)
        dl = np.radians(lon - clon)
        hav = np.sin((p1 - p2) / 2) ** 2 + np.cos(p1) * math.cos(p2) * np.sin(dl / 2) ** 2
        return 2.0 * R_EARTH_M / 1000.0 * np.arcsin(np.sqrt(np.clip(hav, 0.0, 1.0)))

    def cloud(self, lat: np.ndarray, lon: np.ndarray, t: float) -> np.ndarray:
        """Cloud fraction 0..1 around and ahead of the low."""
        r = self.low_distance_km(lat, lon, t, lag_deg=-1.5)
        return np.exp(-0.5 * (r / 550.0) ** 2)

    def hourly_precip(self, lat: np.ndarray, lon: np.ndarray, t: float) -> np.ndarray:
        """Precipitation (m) in the hour ending at ``t``, under and ahead of the low."""
        r_low = self.low_distance_km(lat, lon, t, lag_deg=-1.0)
        return 0.002 * np.exp(-0.5 * (r_low / 250.0) ** 2)

    # ---- large scale ----
    def sea_level_pressure(self, lat: np.ndarray, lon: np.ndarray, t: float) -> np.ndarray:
        """Sea-level pressure (hPa)."""
        r = self.low_distance_km(lat, lon, t)
        depth = self.low_depth * (0.8 + 0.2 * math.sin(math.pi * t / 48.0))
        return 1013.5 - 0.45 * (lat - (CENTER_LAT + self.dlat)) + 0.15 * (
            lon - (-100.0 + self.dlon)) - depth * np.exp(-0.5 * (r / 450.0) ** 2)

    def sea_level_tv(self, lat: np.ndarray, lon: np.ndarray, t: float) -> np.ndarray:
        """Large-scale sea-level virtual temperature (K): cold core west of the low."""
        r = self.low_distance_km(lat, lon, t, lag_deg=1.5)
        return 301.0 - 0.55 * (lat - (CENTER_LAT + self.dlat)) - 0.02 * (
            lon - (-100.0 + self.dlon)) - 3.0 * np.exp(-0.5 * (r / 650.0) ** 2)

    def local_solar_hour(self, lon: np.ndarray, t: float) -> np.ndarray:
        """Local solar time (h, 0..24)."""
        return np.mod(self.start_hour + t + lon / 15.0, 24.0)

    def diurnal_anomaly(self, lat: np.ndarray, lon: np.ndarray, t: float) -> np.ndarray:
        """Surface virtual temperature anomaly of the boundary layer (K), max at 15 LST.

        Over the sea it is ``SEA_ANOMALY_SHARE`` of the land value, changing smoothly across
        the coast.
        """
        amp = (5.0 + 2.5 * self.dry_share(lon)) * (1.0 - 0.6 * self.cloud(lat, lon, t))
        if self.sea_lon is not None:
            land = 0.5 * (1.0 + np.tanh((self.sea_lon - lon) / COAST_ANOMALY_DEG))
            amp = amp * (SEA_ANOMALY_SHARE + (1.0 - SEA_ANOMALY_SHARE) * land)
        return amp * np.cos(2.0 * np.pi * (self.local_solar_hour(lon, t) - 15.0) / 24.0)

    def columns(self, lat: np.ndarray, lon: np.ndarray, h: np.ndarray,
                t: float) -> dict[str, np.ndarray]:
        """Return the 2-D fields that fix every column: P0, TS, D and surface pressure PS."""
        p0 = self.sea_level_pressure(lat, lon, t)
        ts = self.sea_level_tv(lat, lon, t)
        d = self.diurnal_anomaly(lat, lon, t)
        ps = p0 * (1.0 - LAPSE * h / ts) ** (1.0 / KAPPA)
        return {"P0": p0, "TS": ts, "D": d, "PS": ps}


def stencil(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points and their north, south, east, west neighbours, stacked on a new first axis.

    Parameters
    ----------
    lat, lon : numpy.ndarray
        Positions (degrees).

    Returns
    -------
    lat5, lon5 : numpy.ndarray
        Shape ``(5, *lat.shape)``: the points, then north, south, east, west of them.
    """
    d = GRAD_STEP_DEG
    return (np.stack([lat, lat + d, lat - d, lat, lat]),
            np.stack([lon, lon, lon, lon + d, lon - d]))


def gradients(w: Weather, lat: np.ndarray, lon: np.ndarray, t: float,
              h_stencil: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray],
                                              dict[str, np.ndarray]]:
    """Column fields at the points and their eastward/northward gradients (per metre).

    Parameters
    ----------
    w : Weather
        The weather.
    lat, lon : numpy.ndarray
        Positions (degrees).
    t : float
        Hours since the first time.
    h_stencil : numpy.ndarray
        Terrain on the :func:`stencil` of the positions.

    Returns
    -------
    here, grad_e, grad_n : dict of str to numpy.ndarray
        ``P0 TS D PS H`` at the points, and their eastward and northward gradients.
    """
    cols = w.columns(*stencil(lat, lon), h_stencil, t)
    cols["H"] = h_stencil
    dn = 2.0 * math.radians(GRAD_STEP_DEG) * R_EARTH_M
    de = dn * np.cos(np.radians(lat))
    here = {k: v[0] for k, v in cols.items()}
    grad_n = {k: (v[1] - v[2]) / dn for k, v in cols.items()}
    grad_e = {k: (v[3] - v[4]) / de for k, v in cols.items()}
    return here, grad_e, grad_n


def column_state(p: np.ndarray, c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Heights (m ASL), virtual temperature and dZ/d(P0, TS, D, PS) at pressures ``p`` (hPa).

    Below the ground (``p > PS``) the column is extrapolated with the surface anomaly ``D``
    held constant, so heights stay hydrostatic with ``TV`` there too.

    Parameters
    ----------
    p : numpy.ndarray
        Pressures (hPa), broadcasting against the column fields.
    c : dict of str to numpy.ndarray
        Column fields ``P0 TS D PS`` (:meth:`Weather.columns`).

    Returns
    -------
    dict of str to numpy.ndarray
        ``Z``, ``TV`` and the derivatives ``dZ_dTS dZ_dP0 dZ_dD dZ_dPS``.
    """
    p0, ts, d, ps = c["P0"], c["TS"], c["D"], c["PS"]
    lnp = np.log(p)
    rk = np.exp(KAPPA * (lnp - np.log(p0)))
    tv_ls = ts * rk
    strat = tv_ls < T_TROP
    h_strat = RD * T_TROP / G
    # ln(p_trop) = ln(P0) + ln(T_trop/TS)/kappa ; z_trop = (TS - T_trop)/lapse
    ln_ptrop = np.log(p0) + np.log(T_TROP / ts) / KAPPA
    z_ls = np.where(strat, (ts - T_TROP) / LAPSE + h_strat * (ln_ptrop - lnp),
                    ts / LAPSE * (1.0 - rk))
    above = lnp - np.log(ps)
    e = np.exp(np.minimum(above, 0.0) / DIURNAL_C)
    below = (RD / G) * np.maximum(above, 0.0)
    return {
        "Z": z_ls + (RD / G * DIURNAL_C) * d * (1.0 - e) - d * below,
        "TV": np.maximum(tv_ls, T_TROP) + d * e,
        "dZ_dTS": np.where(strat, (1.0 - T_TROP / ts) / LAPSE, (1.0 - rk) / LAPSE),
        "dZ_dP0": np.where(strat, h_strat / p0, (KAPPA / LAPSE) * tv_ls / p0),
        "dZ_dD": (RD / G * DIURNAL_C) * (1.0 - e) - below,
        "dZ_dPS": (RD / G) * d * e / ps,
    }


def geostrophic(state: dict[str, np.ndarray], ge: dict[str, np.ndarray],
                gn: dict[str, np.ndarray], f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Earth-relative geostrophic wind from the gradient of Z on the pressure surface.

    Parameters
    ----------
    state : dict of str to numpy.ndarray
        :func:`column_state` at the pressures.
    ge, gn : dict of str to numpy.ndarray
        Eastward and northward gradients of the column fields (:func:`gradients`).
    f : numpy.ndarray
        Coriolis parameter (1/s).

    Returns
    -------
    u, v : numpy.ndarray
        Eastward and northward geostrophic wind (m/s).
    """
    keys = (("dZ_dTS", "TS"), ("dZ_dP0", "P0"), ("dZ_dD", "D"), ("dZ_dPS", "PS"))
    dz_e = sum(state[a] * ge[b] for a, b in keys)
    dz_n = sum(state[a] * gn[b] for a, b in keys)
    return -G / f * dz_n, G / f * dz_e


def ekman(u: np.ndarray, v: np.ndarray, z: np.ndarray,
          depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slow and back (turn counter-clockwise, towards low pressure) the wind near the ground.

    Parameters
    ----------
    u, v : numpy.ndarray
        Wind above the Ekman layer (m/s).
    z : numpy.ndarray
        Height above ground (m); negative heights count as 0.
    depth : numpy.ndarray
        E-folding depth of the turn and the slowing (m).

    Returns
    -------
    u, v : numpy.ndarray
        The turned, slowed wind.
    """
    decay = np.exp(-np.maximum(z, 0.0) / depth)
    angle = math.radians(30.0) * decay
    speed = 1.0 - 0.6 * decay
    c, s = np.cos(angle), np.sin(angle)
    return speed * (u * c - v * s), speed * (u * s + v * c)


def solar_sine(w: Weather, lat: np.ndarray, lon: np.ndarray, t: float) -> np.ndarray:
    """Sine of the solar elevation.

    Parameters
    ----------
    w : Weather
        The weather (its start day and hour).
    lat, lon : numpy.ndarray
        Positions (degrees).
    t : float
        Hours since the first time.

    Returns
    -------
    numpy.ndarray
        Sine of the elevation (negative at night).
    """
    doy = w.start_doy + (w.start_hour + t) / 24.0
    decl = math.radians(23.44) * math.sin(2.0 * math.pi * (doy - 81.0) / 365.0)
    hour_angle = np.radians((w.local_solar_hour(lon, t) - 12.0) * 15.0)
    phi = np.radians(lat)
    return np.sin(phi) * math.sin(decl) + np.cos(phi) * math.cos(decl) * np.cos(hour_angle)
