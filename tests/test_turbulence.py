"""Dispersion physics of the core (stability, mixed layer, Hanna profiles, STILT vertical scheme).

docs/physics.md §5-§7; the kernels are fortran/stilt_stability.f90,
stilt_turbulence.f90 and stilt_dispersion.f90, reached through their _core_wrap.f90 wrappers.
"""

from __future__ import annotations

import numpy as np
import pytest

from stilt import _core

KAPPA, GRAV, CP, RD = 0.4, 9.80616, 1005.0, 287.04
ZTOP, ZG = 25000.0, 0.0
MOM_NONE, MOM_USTAR, MOM_FLUX, MOM_EXCO = 0, 1, 2, 3
HEAT_NONE, HEAT_TSTAR, HEAT_FLUX = 0, 1, 2


def _levels(n: int = 30, zg: float = ZG) -> tuple[np.ndarray, np.ndarray]:
    """Default internal levels (30, -25, 5): heights AGL and sigma (docs/physics.md §3.1)."""
    k = np.arange(1, n + 1)
    h = 30.0 * k**2 - 25.0 * k + 5.0
    return h * (ZTOP - zg) / ZTOP, 1.0 - h / ZTOP


def _column(lapse: float = 0.0065, t0: float = 288.0, p0: float = 1000.0, wind: float = 5.0):
    """A dry column on the internal levels: T = t0 - lapse z, hydrostatic p, uniform wind."""
    z, _ = _levels()
    t = t0 - lapse * z
    zz = np.concatenate([[0.0], z])
    tt = t0 - lapse * zz
    lnp = np.log(p0) - np.concatenate(
        [[0.0], np.cumsum(GRAV / RD * np.diff(zz) / (0.5 * (tt[1:] + tt[:-1])))]
    )
    p = np.exp(lnp[1:])
    dens = p * 100.0 / (RD * t)
    u = np.full_like(z, wind)
    v = np.zeros_like(z)
    return z, t, p, dens, u, v


def _run_column(z, t, p, dens, u, v, *, momentum=MOM_USTAR, heat=HEAT_FLUX, ustr=0.3, umof=0.0,
                vmof=0.0, exco=0.0, tstr=0.0, shtf=100.0, pblh=-1.0, z0=0.1, kbls=1, kmixd=3,
                kmix0=150, kzmix=0, tvmix=1.0, tkerd=0.18, tkern=0.18, ziscale=1.0, ks=2,
                kdat=2, tke=None):
    if tke is None:
        tke = -np.ones_like(z)
    out = _core.turbulence_column(z, t, p, np.zeros_like(z), dens, u, v, tke, momentum, heat,
                                  ustr, umof, vmof, exco, tstr, shtf, pblh, z0, kbls, kmixd,
                                  kmix0, kzmix, tvmix, tkerd, tkern, ziscale, ks, kdat)
    scalars, sigw, tl, sigu, sigv, status = out
    assert status == 0
    names = ["ustar", "tstar", "wstar", "zeta", "obukhov", "zi"]
    return dict(zip(names, scalars)), sigw, tl, sigu, sigv


def _theta(t, p):
    return t * (1000.0 / p) ** 0.286


# ---------------------------------------------------------------- surface layer (§5.1)


def test_stability_from_ustar_and_heat_flux_matches_the_formulas() -> None:
    z, t, p, dens, u, v = _column()
    shtf = np.array([50.0, 10.0, -5.0, -20.0, -60.0])  # -60 is floored at -25 W/m2
    ustr = np.array([0.4, 0.6, 0.3, 0.5, 0.5])
    n = shtf.size
    ustar, tstar, zeta = _core.turbulence_surface_layer(
        z, t, p, np.zeros_like(z), dens, u, v, MOM_USTAR, HEAT_FLUX, ustr, np.zeros(n),
        np.zeros(n), np.zeros(n), np.zeros(n), shtf, 0.1, 1, 2, 2)
    h = np.maximum(-25.0, shtf)
    tstar_ref = -h / (dens[1] * CP * ustr)
    zeta_ref = z[1] * KAPPA * GRAV * tstar_ref / (ustr**2 * _theta(t[1], p[1]))
    assert np.allclose(ustar, ustr, rtol=1e-14)
    assert np.allclose(tstar, tstar_ref, rtol=1e-12)
    assert np.all(np.abs(zeta_ref) < 2)  # chosen inside the clamp
    assert np.allclose(zeta, zeta_ref, rtol=1e-12)
    # the Obukhov length follows: L = z_ks / zeta
    assert np.allclose(z[1] / zeta, ustr**2 * _theta(t[1], p[1]) / (KAPPA * GRAV * tstar_ref))


def test_stability_clamps_and_near_neutral() -> None:
    z, t, p, dens, u, v = _column()
    shtf = np.array([400.0, -25.0, 0.0])
    ustr = np.array([0.1, 0.02, 0.5])
    n = shtf.size
    ustar, tstar, zeta = _core.turbulence_surface_layer(
        z, t, p, np.zeros_like(z), dens, u, v, MOM_USTAR, HEAT_FLUX, ustr, np.zeros(n),
        np.zeros(n), np.zeros(n), np.zeros(n), shtf, 0.1, 1, 2, 2)
    assert zeta[0] == -2.0  # very unstable: clamped at -2
    assert zeta[1] == 15.0  # very stable: clamped at 15
    # no heat flux: |theta*| floored at 1e-4 K, so z/L is tiny but not zero
    assert abs(tstar[2]) == pytest.approx(1e-4)
    assert 0 < abs(zeta[2]) < 1e-3


def test_stability_from_momentum_flux_exchange_coefficient_and_tstar() -> None:
    z, t, p, dens, u, v = _column(wind=4.0)
    v = np.full_like(z, 3.0)
    one = np.ones(1)
    # UMOF/VMOF (N/m2): u*_x = sqrt(|tau_x| / rho) at the first data level (kdat = 2)
    ustar, _, _ = _core.turbulence_surface_layer(
        z, t, p, np.zeros_like(z), dens, u, v, MOM_FLUX, HEAT_FLUX, one * 0, one * 0.12,
        one * 0.05, one * 0, one * 0, one * 20, 0.1, 1, 2, 2)
    ref = np.hypot(np.sqrt(0.12 / dens[1]), np.sqrt(0.05 / dens[1]))
    assert ustar[0] == pytest.approx(ref, rel=1e-12)
    # EXCO (kg m-2 s-1): u*_x = sqrt(E |u| / rho), likewise with v
    ustar, _, _ = _core.turbulence_surface_layer(
        z, t, p, np.zeros_like(z), dens, u, v, MOM_EXCO, HEAT_FLUX, one * 0, one * 0,
        one * 0, one * 0.02, one * 0, one * 20, 0.1, 1, 2, 2)
    ref = np.hypot(np.sqrt(0.02 * 4.0 / dens[1]), np.sqrt(0.02 * 3.0 / dens[1]))
    assert ustar[0] == pytest.approx(ref, rel=1e-12)
    # TSTR (K) is used as is
    _, tstar, zeta = _core.turbulence_surface_layer(
        z, t, p, np.zeros_like(z), dens, u, v, MOM_USTAR, HEAT_TSTAR, one * 0.3, one * 0,
        one * 0, one * 0, one * -0.05, one * 0, 0.1, 1, 2, 2)
    assert tstar[0] == -0.05
    assert zeta[0] == pytest.approx(z[1] * KAPPA * GRAV * -0.05 / (0.09 * _theta(t[1], p[1])))


def test_stability_from_profile_when_no_fluxes() -> None:
    # isentropic column with wind shear: Ri = 0 -> neutral, u* from the log-law form
    z, t, p, dens, u, v = _column(lapse=GRAV / CP)
    th = _theta(t, p)
    t = th[0] * (p / 1000.0) ** 0.286  # exactly constant theta
    u = 2.0 + 0.01 * z
    one = np.ones(1)
    ustar, tstar, zeta = _core.turbulence_surface_layer(
        z, t, p, np.zeros_like(z), dens, u, v, MOM_NONE, HEAT_NONE, one * 0, one * 0,
        one * 0, one * 0, one * 0, one * 0, 0.1, 1, 2, 2)
    assert abs(tstar[0]) == pytest.approx(1e-4)
    assert abs(zeta[0]) < 1e-2
    # neutral phi_m = 1: u* = kappa z_ks dU / dz
    assert ustar[0] == pytest.approx(KAPPA * z[1] * (u[1] - u[0]) / (z[1] - z[0]), rel=1e-3)


# ---------------------------------------------------------------- mixed-layer height (§5.2)


def test_mixed_layer_from_temperature_profile() -> None:
    # theta constant up to level 8, then +1.5 K per level: highest level within Tmin + 2 K is 9
    z, t, p, dens, u, v = _column(lapse=GRAV / CP)
    th = np.full_like(z, 290.0)
    th[8:] = 290.0 + 1.5 * np.arange(1, z.size - 7)
    t = th * (p / 1000.0) ** 0.286
    st, *_ = _run_column(z, t, p, dens, u, v, kmixd=1, kmix0=50)
    assert st["zi"] == pytest.approx(z[8])
    # the KMIX0 floor, ZICONTROL scaling and the met PBLH options
    st, *_ = _run_column(z, t, p, dens, u, v, kmixd=1, kmix0=2500)
    assert st["zi"] == 2500.0
    st, *_ = _run_column(z, t, p, dens, u, v, kmixd=1, kmix0=50, ziscale=0.5)
    assert st["zi"] == pytest.approx(0.5 * z[8])
    st, *_ = _run_column(z, t, p, dens, u, v, kmixd=1, kmix0=50, ziscale=-1.0, pblh=777.0)
    assert st["zi"] == 777.0
    st, *_ = _run_column(z, t, p, dens, u, v, kmixd=0, kmix0=50, pblh=640.0)
    assert st["zi"] == 640.0
    st, *_ = _run_column(z, t, p, dens, u, v, kmixd=0, kmix0=50, pblh=-1.0)  # absent -> 1
    assert st["zi"] == pytest.approx(z[8])
    st, *_ = _run_column(z, t, p, dens, u, v, kmixd=1234, kmix0=50)
    assert st["zi"] == 1234.0
    # KMIX0 < 0: the floor, then snapped to the nearest level above level 1
    st, *_ = _run_column(z, t, p, dens, u, v, kmixd=1234, kmix0=-50)
    assert st["zi"] == pytest.approx(z[np.argmin(np.abs(z[1:] - 1234.0)) + 1])


def test_zicontrol_hourly_factors() -> None:
    scales = np.array([1.0, 0.5, 2.0])
    minutes = np.array([0.0, -59.0, -60.0, -119.5, -120.0, -179.0, -180.0, -600.0, 61.0])
    f = _core.turbulence_zicontrol_scale(scales, minutes)
    assert list(f) == [1.0, 1.0, 0.5, 0.5, 2.0, 2.0, 1.0, 1.0, 0.5]
    # a single negative factor means "met PBLH" at every time
    assert np.all(_core.turbulence_zicontrol_scale(np.array([-1.0]), minutes) == -1.0)
    assert np.all(_core.turbulence_zicontrol_scale(np.zeros(0), minutes) == 1.0)


def _ri_zi(z, th, u, v, ustar, tstar, zeta, dens, third=0.3333):
    """Modified bulk-Richardson mixed-layer height, written from docs/physics.md §5.2."""
    ri, zi = 0.0, z[0]
    for k in range(1, z.size):
        if ri >= 0.25:
            break
        if zeta < 0:
            tk = tstar * dens[1] / dens[k]
            ws = abs(GRAV * ustar * tk * z[k] / th[0]) ** third
            tex = abs(8.5 * ustar * tk / (ustar**3 + 0.6 * ws**3) ** third)
        else:
            tex = 0.0
        th1 = th[0] + tex
        du = max(1e-4, (u[k] - u[0]) ** 2 + (v[k] - v[0]) ** 2)
        riold, ri = ri, GRAV * (th[k] - th1) * (z[k] - z[0]) / th1 / du
        if ri != riold:
            zi = (z[k] - z[k - 1]) / (ri - riold) * (0.25 - riold) + z[k - 1]
        else:  # Ri unchanged (neutral layer): the core's guard takes the level height
            zi = z[k]
    return zi


@pytest.mark.parametrize("shtf", [150.0, -10.0])
def test_mixed_layer_from_richardson_number(shtf: float) -> None:
    # neutral layer to ~800 m under a 6 K/km inversion, weak shear
    z, t, p, dens, u, v = _column(lapse=GRAV / CP)
    th = 290.0 + np.where(z > 800.0, 0.006 * (z - 800.0), 0.0)
    t = th * (p / 1000.0) ** 0.286
    u = 3.0 + 0.002 * z
    st, *_ = _run_column(z, t, p, dens, u, v, shtf=shtf, kmixd=3, kmix0=50)
    ref = _ri_zi(z, th, u, v, st["ustar"], st["tstar"], st["zeta"], dens)
    assert st["zi"] == pytest.approx(ref, rel=1e-10)
    k = np.searchsorted(z, st["zi"])
    assert z[k - 1] <= st["zi"] <= z[k]
    if shtf > 0:  # excess temperature lifts the convective mixed layer above the inversion base
        assert st["zi"] > 800.0
    # w* uses zi: |g u* theta* zi / theta_ks|^(1/3) in convective cases, else 0
    if shtf > 0:
        ws = abs(GRAV * st["ustar"] * st["tstar"] * st["zi"] / th[1]) ** 0.3333
        assert st["wstar"] == pytest.approx(ws, rel=1e-12)
    else:
        assert st["wstar"] == 0.0


# ---------------------------------------------------------------- Hanna profiles (§5.3)


def _hanna(z, st, z0):
    """sigma_w and T_L inside the mixed layer, from the formulas of docs/physics.md §5.3."""
    zi, el, ws, us = st["zi"], st["obukhov"], st["wstar"], st["ustar"]
    sw, tl = np.empty_like(z), np.empty_like(z)
    for k, zk in enumerate(z):
        h = zk / zi
        s = min(10.0, max(-2.0, zk / el))
        if s >= 0:
            sw[k] = max(1e-5, 1.3 * us * (1 - h))
            tl[k] = 100.0 if h == 1 else 0.1 * zi / sw[k] * h**0.8
            continue
        a = 0.96 * (3 * h - el / zi) ** 0.3333  # the binary's cube root (§5.3)
        if h < 0.03:
            sw[k] = ws * a
        elif h < 0.4:
            sw[k] = ws * min(a, 0.763 * h**0.175)
        elif h < 0.96:
            sw[k] = ws * 0.722 * (1 - h) ** 0.207
        else:
            sw[k] = ws * 0.37
        sw[k] = max(sw[k], 1e-5)
        if h < 0.1 and zk - z0 < abs(el):
            tl[k] = 0.1 * zk / (sw[k] * (0.55 + 0.38 * (zk - z0) / el))
        elif h < 0.1:
            tl[k] = 0.59 * zk / sw[k]
        else:
            tl[k] = 0.15 * zi / sw[k] * (1 - np.exp(-5 * h))
    return sw, tl


@pytest.mark.parametrize(("shtf", "ustr", "zi"), [(120.0, 0.35, 1500), (-15.0, 0.25, 400),
                                                  (30.0, 0.6, 900)])
def test_hanna_profiles_inside_the_mixed_layer(shtf: float, ustr: float, zi: int) -> None:
    z, t, p, dens, u, v = _column()
    v = np.full_like(z, 2.0)
    st, sigw, tl, sigu, sigv = _run_column(z, t, p, dens, u, v, shtf=shtf, ustr=ustr,
                                           kmixd=zi, z0=0.3)
    assert st["zi"] == zi
    inside = z <= zi
    sw_ref, tl_ref = _hanna(z[inside], st, 0.3)
    assert np.allclose(sigw[inside], sw_ref, rtol=1e-12)
    assert np.allclose(tl[inside], tl_ref, rtol=1e-12)
    # above the mixed layer: T_L = 100 s, sigma_w = sqrt(K / 100) with K in [0.01, 200]
    assert np.all(tl[~inside] == 100.0)
    assert np.all((sigw[~inside] >= 0.01 - 1e-12) & (sigw[~inside] <= np.sqrt(2.0) + 1e-12))
    # horizontal: isotropic, sigma_u^2 + sigma_v^2 = sigma_w^2 (whatever the wind direction)
    assert np.allclose(sigu, sigw / np.sqrt(2.0)) and np.array_equal(sigu, sigv)


def test_hanna_profile_values_at_known_heights() -> None:
    # hand-computed from the formulas: stable, u* = 0.2, zi = 300 at z = 75 m (h = 0.25)
    z, t, p, dens, u, v = _column()
    st, sigw, tl, *_ = _run_column(z, t, p, dens, u, v, shtf=-30.0, ustr=0.2, kmixd=300)
    assert st["zeta"] > 0
    assert z[1] == 75.0
    assert sigw[1] == pytest.approx(1.3 * 0.2 * 0.75)  # 0.195 m/s
    assert tl[1] == pytest.approx(0.1 * 300 / 0.195 * 0.25**0.8)  # 50.75 s


def test_free_troposphere_mixing_without_shear_is_at_its_floor() -> None:
    z, t, p, dens, u, v = _column()
    st, sigw, tl, *_ = _run_column(z, t, p, dens, u, v, shtf=-30.0, ustr=0.2, kmixd=300)
    above = z > 300
    assert np.allclose(sigw[above], 0.01)  # K = 0.01 m2/s, T_L = 100 s
    assert np.all(tl[above] == 100.0)


def test_free_troposphere_mixing_with_shear() -> None:
    # neutral stratification (Ri = 0, phi_h(0) = 0.923 (1 + ...)): K = l^2 |dU/dz| / phi_h
    z, t, p, dens, u, v = _column(lapse=GRAV / CP)
    th = _theta(t, p)
    t = th[0] * (p / 1000.0) ** 0.286
    u = 2.0 + 0.01 * z
    st, sigw, tl, *_ = _run_column(z, t, p, dens, u, v, shtf=-30.0, ustr=0.2, kmixd=300)
    k = 6  # 1300 m
    ell = 1.0 / (1.0 / (KAPPA * z[k]) + 1.0 / 150.0)
    phih0 = 0.923 * (1.0 + 0.0)  # z/L = 0 at Ri = 0
    kh = ell**2 * 0.01 / phih0
    assert sigw[k] == pytest.approx(np.sqrt(kh / 100.0), rel=1e-3)


def test_bad_column_is_reported_not_crashed() -> None:
    z, t, p, dens, u, v = _column()
    tnan = t.copy()
    tnan[3] = np.nan
    out = _core.turbulence_column(z, tnan, p, np.zeros_like(z), dens, u, v, -np.ones_like(z), 1, 2,
                                  0.3, 0, 0, 0, 0, 100, -1, 0.1, 1, 3, 150, 0, 1, 0.18, 0.18, 1,
                                  2, 2)
    assert out[-1] == 4  # status_not_finite
    out = _core.turbulence_column(z[::-1].copy(), t, p, np.zeros_like(z), dens, u, v,
                                  -np.ones_like(z), 1, 2, 0.3, 0, 0, 0, 0, 100, -1, 0.1, 1, 3,
                                  150, 0, 1, 0.18, 0.18, 1, 2, 2)
    assert out[-1] == 1  # status_bad_argument


# ---------------------------------------------------------------- column mass and foot (§7.2)


def test_column_mass_below_the_foot_height() -> None:
    zl = np.array([9.44, 70.8, 188.8, 363.44])
    rho = np.array([1.2, 1.1, 1.0, 0.9])
    # h_v between levels 2 and 3: the partial layer above level 2 uses rho_2
    assert _core.dispersion_column_mass(zl, rho, 142.0) == pytest.approx(
        1.2 * 9.44 + 1.1 * (142.0 - 9.44))
    # h_v below level 2: all of it with rho_1
    assert _core.dispersion_column_mass(zl, rho, 50.0) == pytest.approx(1.2 * 50.0)
    # h_v above level 3
    assert _core.dispersion_column_mass(zl, rho, 300.0) == pytest.approx(
        1.2 * 9.44 + 1.1 * (70.8 - 9.44) + 1.0 * (300.0 - 70.8))


# ---------------------------------------------------------------- vertical scheme (§6)


def _steady_unstable_column(ntop: int = 7):
    """Unstable boundary layer profiles truncated at level ntop (the model top)."""
    z, t, p, dens, u, v = _column()
    st, sigw, tl, sigu, sigv = _run_column(z, t, p, dens, u, v, shtf=150.0, ustr=0.35,
                                           kmixd=1300, z0=0.2)
    _, zsg = _levels()
    return st, zsg[:ntop], z[:ntop], sigw[:ntop], tl[:ntop], sigu[:ntop], sigv[:ntop]


def test_well_mixed_criterion() -> None:
    """An initially uniform particle distribution stays uniform in z (constant density).

    Unstable boundary layer with the STILT sigma_w / T_L step profiles (from 0.35 to 1.6 m/s
    and 5 to 300 s) under the model top at 1227 m, 3000 particles, 60 one-minute steps
    (> 12 T_L everywhere). Chi-square on 12 equal layers at significance 0.001.
    """
    st, zsg, z, sigw, tl, sigu, sigv = _steady_unstable_column()
    depth = ZTOP - ZG
    top = z[-1]
    m = 3000
    rng = np.random.default_rng(5)
    z0 = rng.uniform(0.0, top, m)
    ones = np.ones_like(z)
    out = _core.dispersion_steady_run(zsg, depth, -1.0, 60, 0.1, 0.5, 10800.0, ZTOP, st["zi"],
                                      sigw, tl, sigu, sigv, ones, ones, 0 * ones, 0 * ones,
                                      3000.0, 3000.0, 11, 1.0 - z0 / depth)
    sigma, status = out[0], out[-1]
    assert status == 0
    zf = (1.0 - sigma) * depth
    assert zf.min() >= 0.0 and zf.max() <= top + 1e-6
    counts, _ = np.histogram(zf, bins=12, range=(0.0, top))
    chi2 = np.sum((counts - m / 12) ** 2 / (m / 12))
    assert chi2 < 31.26, (chi2, counts)  # chi-square, 11 dof, P = 0.001


def test_well_mixed_with_density_gradient() -> None:
    """With density decreasing upward the particle density per metre follows rho (§6.4)."""
    st, zsg, z, sigw, tl, sigu, sigv = _steady_unstable_column()
    depth = ZTOP - ZG
    rho = 1.2 * np.exp(-z / 2000.0)
    edges = np.concatenate([[0.0], z[1:]])  # layers: [0, z2), [z2, z3), ... (level 1 below z2)
    mass = rho[:-1] * np.diff(edges)
    m = 3000
    rng = np.random.default_rng(6)
    layer = rng.choice(mass.size, size=m, p=mass / mass.sum())
    z0 = edges[layer] + rng.uniform(0, 1, m) * np.diff(edges)[layer]
    out = _core.dispersion_steady_run(zsg, depth, -1.0, 60, 0.1, 0.5, 10800.0, ZTOP, st["zi"],
                                      sigw, tl, sigu, sigv, rho, rho, 0 * z, 0 * z, 3000.0,
                                      3000.0, 12, 1.0 - z0 / depth)
    assert out[-1] == 0
    zf = (1.0 - out[0]) * depth
    counts, _ = np.histogram(zf, bins=edges)
    expected = m * mass / mass.sum()
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert chi2 < 20.52, (chi2, counts, expected)  # 5 dof, P = 0.001


def test_foot_and_samt_accumulate_below_the_threshold() -> None:
    """Particles kept near the ground by tiny sigma_w: samt = |dt| and foot = samt 60 M / D."""
    z, t, p, dens, u, v = _column()
    _, zsg = _levels()
    n = z.size
    sigw = np.full(n, 1e-4)
    tl = np.full(n, 100.0)
    zi = 300.0
    start = np.full(20, 1.0 - 5.0 / ZTOP)
    out = _core.dispersion_steady_run(zsg, ZTOP, -1.0, 7, 0.1, 0.5, 10800.0, ZTOP, zi, sigw, tl,
                                      0 * sigw, 0 * sigw, dens, dens, 0 * z, 0 * z, 3000.0,
                                      3000.0, 3, start)
    sigma, x, y, foot, samt, sw_used, tl_used, status = out
    assert status == 0
    mass = _core.dispersion_column_mass(z, dens, 0.5 * zi)
    assert np.allclose(samt, 7.0)
    assert np.allclose(foot, 7.0 * 60.0 * 0.02884 / mass, rtol=1e-12)
    assert np.all(sw_used == 1e-4) and np.all(tl_used == 100.0)
    # veght > 9 is a height in metres; a threshold below the particles gives no foot
    out = _core.dispersion_steady_run(zsg, ZTOP, -1.0, 3, 0.1, 2.0 + 9.0, 10800.0, ZTOP, zi,
                                      sigw, tl, 0 * sigw, 0 * sigw, dens, dens, 0 * z, 0 * z,
                                      3000.0, 3000.0, 3, np.full(5, 1.0 - 50.0 / ZTOP))
    assert np.all(out[3] == 0.0) and np.all(out[4] == 0.0)
    # the threshold is VEGHT * zi: particles held just below / just above it
    hv = 0.5 * zi
    start = np.array([1.0 - 0.98 * hv / ZTOP, 1.0 - 1.02 * hv / ZTOP])
    out = _core.dispersion_steady_run(zsg, ZTOP, -1.0, 4, 0.1, 0.5, 10800.0, ZTOP, zi, sigw, tl,
                                      0 * sigw, 0 * sigw, dens, dens, 0 * z, 0 * z, 3000.0,
                                      3000.0, 3, start)
    assert out[4][0] == pytest.approx(4.0) and out[4][1] == 0.0
    assert out[3][0] == pytest.approx(4.0 * 60.0 * 0.02884 / mass) and out[3][1] == 0.0


def test_dispersion_given_levels_on_demand_is_bit_identical() -> None:
    """A step given only the lowest nk levels reads none above them (they are NaN here): where
    the particle would, it says so (status_need_levels) and, done again from the same state
    with all levels, ends exactly as a step given all levels from the start (what the time
    loop relies on to interpolate only the levels a step needs)."""
    z, t, p, dens, u, v = _column()
    st, sigw, tl, sigu, sigv = _run_column(z, t, p, dens, u, v, shtf=150.0, ustr=0.35,
                                           kmixd=1300, z0=0.2)
    _, zsg = _levels()
    rng = np.random.default_rng(8)
    sigma0 = 1.0 - rng.uniform(0.0, 2500.0, 200) / ZTOP
    ug = 0.01 * np.arange(z.size)

    def run(nk: int) -> tuple:
        return _core.dispersion_levels_on_demand(zsg, ZTOP, -1.0, 10, st["zi"], sigw, tl, sigu,
                                                 sigv, dens, ug, -ug, 21, sigma0, nk)

    full = run(z.size)
    assert full[-1] == 0 and full[-2] == 0  # all levels given: nothing done again
    assert np.all(np.isfinite(full[0])) and np.any(full[3] > 0.0)
    for nk in (1, 3, 6, 9):
        part = run(nk)
        assert part[-1] == 0
        assert part[-2] > 0, nk                    # some steps needed more levels
        for a, b in zip(part[:5], full[:5]):
            assert np.array_equal(a, b), nk


def test_subgrid_mean_wind_uses_the_no_slip_profile_below_level_one() -> None:
    """Sub-step advection: wind linear to zero at the ground below level 1 (§6.5)."""
    z, _, _, dens, _, _ = _column()
    _, zsg = _levels()
    n = z.size
    sigw = np.full(n, 1e-6)
    tl = np.full(n, 100.0)
    ug = np.full(n, 0.2)  # grid units per minute
    start = np.full(3, 1.0 - 0.5 * z[0] / ZTOP)  # half-way up to level 1
    out = _core.dispersion_steady_run(zsg, ZTOP, -1.0, 1, 0.1, 0.5, 1e12, ZTOP, 300.0, sigw,
                                      tl, 0 * sigw, 0 * sigw, dens, dens, ug, 0 * ug, 3000.0,
                                      3000.0, 4, start)
    # backward step of 1 min at half the level-1 wind
    assert np.allclose(out[1], -0.1, rtol=1e-4)


# ---------------------------------------------------------------- deterministic oracle columns

ORACLE_CASES = ["unstable", "stable", "free_troposphere", "humid"]
Z0_EAST, Z0_WEST = 0.44, 0.25  # ROUGLEN z0 of the met nodes at 112.00W and west of it (§2.7)
Z0_EDGE_LON, Z0_EDGE_HALF_WIDTH = -112.025, 0.003  # nearest-node boundary and its fuzz


def _setup_value(text: str, key: str) -> float:
    import re

    return float(re.search(rf"^{key}=([-0-9.]+),", text, re.M).group(1))


def _oracle(shared_dir, case):
    from uniform_column import read_particles, uniform_column

    folder = shared_dir / "oracle" / "uniform" / case
    setup = (folder / "SETUP.CFG").read_text()
    col = uniform_column(folder / "met.arl.gz")
    rows = read_particles(folder / "PARTICLE_STILT.DAT.gz")
    sfc = col.surface
    profiles = {}
    for z0 in (Z0_EAST, Z0_WEST):
        st, sigw, tl, _, _ = _run_column(
            col.z, col.temp, col.pres, col.dens_moist, col.u, col.v, momentum=MOM_USTAR,
            heat=HEAT_FLUX, ustr=sfc["USTR"], shtf=sfc["SHTF"], pblh=sfc.get("PBLH", -1.0),
            z0=z0, kmixd=int(_setup_value(setup, "KMIXD")),
            kmix0=int(_setup_value(setup, "KMIX0")), ks=2, kdat=2)
        profiles[z0] = (st, sigw, tl)
    return col, rows, setup, profiles


def _augmented_layer_values(z, zi, values, zp):
    """Step-function value at heights zp on the levels with the thin layer above zi (§6.2)."""
    kzm = int(np.argmax(z >= zi))
    za = np.concatenate([z[:kzm + 1], [z[kzm] + 0.05 * (z[kzm + 1] - z[kzm])], z[kzm + 1:]])
    va = np.concatenate([values[:kzm + 1], [values[kzm + 1]], values[kzm + 1:]])
    layer = np.clip(np.searchsorted(za, zp, side="right") - 1, 0, za.size - 2)
    return za, va, va[layer]


@pytest.mark.parametrize("case", ORACLE_CASES)
def test_oracle_mixed_layer_sigw_tlgr(shared_dir, case: str) -> None:
    """mlht, sigw and tlgr of every printed row, from our kernels at the printed heights.

    Tolerances: printed precision (half a unit of the last digit), except that zi, w* and the
    unstable T_L carry the binary's single-precision noise: mlht within 0.01 m and T_L within
    1e-5 relative more (docs/physics.md §13.1). Rows within 0.003 deg of the midpoint between
    the two z0 nodes (where the binary's node choice is fuzzy) are left out of T_L.
    """
    col, rows, _, profiles = _oracle(shared_dir, case)
    st = profiles[Z0_EAST][0]
    assert np.abs(rows["mlht"] - st["zi"]).max() <= 0.01
    east = rows["long"] > Z0_EDGE_LON
    zp = rows["zagl"]
    sw = np.empty_like(zp)
    tl = np.empty_like(zp)
    for z0, sel in ((Z0_EAST, east), (Z0_WEST, ~east)):
        _, sigw_k, tl_k = profiles[z0]
        sw[sel] = _augmented_layer_values(col.z, st["zi"], sigw_k, zp[sel])[2]
        tl[sel] = _augmented_layer_values(col.z, st["zi"], tl_k, zp[sel])[2]
    assert np.all(np.abs(sw - rows["sigw"]) <= 0.5e-3 + 1e-9)
    fuzzy = np.abs(rows["long"] - Z0_EDGE_LON) < Z0_EDGE_HALF_WIDTH
    assert fuzzy.mean() < 0.05
    err = np.abs(tl - rows["tlgr"])[~fuzzy]
    assert np.all(err <= 0.5e-4 + 1e-5 * tl[~fuzzy]), err.max()
    # the printed values span the PBL levels, the thin interface layer and the free troposphere
    assert np.unique(rows["tlgr"]).size >= (3 if case in ("stable", "humid") else 4)


@pytest.mark.parametrize("case", ORACLE_CASES)
def test_oracle_foot_and_samt(shared_dir, case: str) -> None:
    """foot = 60 M_air (s1 / D1 + s2 / D2) on every row, s1 + s2 = samt the minutes below
    VEGHT * zi in each half step and D1, D2 the column masses of the two half steps' densities
    (docs/physics.md §7.2: the first from the moist density and theta, the second from the dry
    density and T; equal in dry air).

    Per-minute foot is deterministic in steady met: 0.0113819 (unstable), 0.0107854 (stable),
    0.0107794 (free troposphere). Tolerance: the printed digits of foot (1e-7) and samt (1e-4),
    plus 3e-5 relative for the binary's zi noise. Rows below VEGHT * zi for the whole output
    interval take the mean of the two; in humid air (the two 0.09 % apart) the others lie
    between them.
    """
    col, rows, setup, profiles = _oracle(shared_dir, case)
    st = profiles[Z0_EAST][0]
    hv = _setup_value(setup, "VEGHT") * st["zi"]
    rh = col.vap / np.exp(21.4 - 5351.0 / col.temp)
    theta = col.temp * (1000.0 / col.pres) ** 0.286
    per_minute = []
    for dens, t in ((col.dens_moist, theta), (col.dens_dry, col.temp)):
        za, dens_a, _ = _augmented_layer_values(col.z, st["zi"],
                                                _core.met_foot_density(dens, t, rh), rows["zagl"])
        per_minute.append(60.0 * 0.02884 / _core.dispersion_column_mass(za, dens_a, hv))
    lo, hi = min(per_minute), max(per_minute)
    assert hi / lo - 1.0 == pytest.approx(0.0009 if case == "humid" else 0.0, abs=1e-4)
    tol = 0.5e-7 + 0.5e-4 * hi + 3e-5 * rows["foot"]
    assert np.all(rows["foot"] >= rows["samt"] * lo - tol)
    assert np.all(rows["foot"] <= rows["samt"] * hi + tol)
    full = rows["samt"] == rows["samt"].max()
    err = np.abs(rows["foot"] - rows["samt"] * 0.5 * (lo + hi))[full]
    assert np.all(err <= tol[full]), err.max()
    assert (rows["samt"] > 0).sum() > 0.2 * rows["samt"].size or case == "free_troposphere"
    if case != "free_troposphere":
        assert rows["samt"].max() == pytest.approx(_setup_value(setup, "OUTDT") or 1.0)


@pytest.mark.parametrize("case", ORACLE_CASES)
def test_oracle_dens_pres_temp(shared_dir, case: str) -> None:
    """dens, pres and temz linear in height between internal levels (level 1 below it); temp
    is the level-1 temperature. Within 0.6 of a printed unit (rounding edges of the printed
    heights and of the binary's single-precision columns)."""
    col, rows, _, _ = _oracle(shared_dir, case)
    zp = rows["zagl"]

    def at(values):
        return np.where(zp < col.z[0], values[0], np.interp(zp, col.z, values))

    assert np.all(np.abs(at(col.pres) - rows["pres"]) <= 0.6e-2)
    assert np.all(np.abs(at(col.temp) - rows["temz"]) <= 0.6e-2)
    assert np.all(np.abs(at(col.dens_dry) - rows["dens"]) <= 0.6e-5)
    assert np.all(np.abs(col.temp[0] - rows["temp"]) <= 0.6e-2)


ENSEMBLE_CASES = {  # case: (release height m, output times min, particles of ours)
    "unstable": (5.0, (5, 60, 180), 1000),
    "stable": (5.0, (5, 60, 180), 1000),
    "free_troposphere": (1000.0, (5, 60, 150), 600),
}
WEST_EDGE_LON = -113.96  # the binary drops particles here (grid edge -114.0 at x = 1)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(ENSEMBLE_CASES))
def test_oracle_ensemble_statistics(shared_dir, case: str) -> None:
    """The STILT dispersion in the steady uniform columns agrees with the binary's ensemble
    within sampling noise (4 standard errors): mean height, fractions below zi/2 and above zi,
    mean displacement (all of the mean horizontal motion comes from the sub-step shear coupling)
    and its variance in x and y (the horizontal turbulence: isotropic, sigma_w^2 in total, and
    at full strength from release), and after the first hour the foot collected. The binary drops particles at the west edge
    of its 4-degree grid (the free-troposphere particles ride a 10-45 m/s wind); ours are
    dropped at the same longitude before comparing.
    """
    release, times, m = ENSEMBLE_CASES[case]
    col, rows, setup, profiles = _oracle(shared_dir, case)
    st, sigw, tl = profiles[Z0_WEST]  # most particles are west of the z0 node boundary
    _, _, _, sigu, sigv = _run_column(
        col.z, col.temp, col.pres, col.dens_moist, col.u, col.v, ustr=col.surface["USTR"],
        shtf=col.surface["SHTF"], pblh=col.surface["PBLH"], z0=Z0_WEST,
        kmixd=int(_setup_value(setup, "KMIXD")), kmix0=int(_setup_value(setup, "KMIX0")))
    zi = st["zi"]
    dlon = dlat = 0.05  # grid spacing of the uniform met (deg)
    gdx = 6371.2e3 * np.cos(np.radians(40.5)) * np.radians(dlon)
    gdy = 6371.2e3 * np.radians(dlat)
    start = np.full(m, 1.0 - release / col.depth)
    nb = rows["indx"].max()
    for minutes in times:
        out = _core.dispersion_steady_run(
            col.zsg, col.depth, -1.0, minutes, _setup_value(setup, "TLFRAC"),
            _setup_value(setup, "VEGHT"), _setup_value(setup, "HSCALE"), 25000.0, zi, sigw, tl,
            sigu, sigv, col.dens_moist, col.dens_dry, col.u * 60 / gdx, col.v * 60 / gdy, gdx,
            gdy, 2024, start)
        assert out[-1] == 0
        alive = -112.0 + out[1] * dlon > WEST_EDGE_LON
        z_ours = ((1.0 - out[0]) * col.depth)[alive]
        sel = rows["time"] == -minutes
        z_bin = rows["zagl"][sel]
        n_o, n_b = alive.sum(), sel.sum()
        p = 0.5 * (alive.mean() + n_b / nb)
        assert abs(alive.mean() - n_b / nb) < 4 * np.sqrt(p * (1 - p) * (1 / m + 1 / nb)) + 1e-9
        se = np.sqrt(z_ours.var() / n_o + z_bin.var() / n_b)
        assert abs(z_ours.mean() - z_bin.mean()) < 4 * se
        for frac in (lambda z: z < 0.5 * zi, lambda z: z > zi):
            po, pb = frac(z_ours).mean(), frac(z_bin).mean()
            p = 0.5 * (po + pb)
            assert abs(po - pb) < 4 * np.sqrt(p * (1 - p) * (1 / n_o + 1 / n_b)) + 1e-9
        for ours, theirs in ((out[1][alive] * dlon, rows["long"][sel] + 112.0),
                             (out[2][alive] * dlat, rows["lati"][sel] - 40.5)):
            se = np.sqrt(ours.var() / n_o + theirs.var() / n_b)
            assert abs(ours.mean() - theirs.mean()) < 4 * se + 1e-4
            # horizontal spread: the variances agree (log ratio within 4 standard errors); in
            # the free troposphere (wind along x only) the y spread is all turbulence
            if minutes <= 60:
                log_ratio = np.log(ours.var() / theirs.var())
                assert abs(log_ratio) < 4 * np.sqrt(2 / n_o + 2 / n_b), (minutes, log_ratio)
        if minutes == 60 and case != "free_troposphere":
            early = rows["time"] >= -60
            foot_bin = np.bincount(rows["indx"][early].astype(int), rows["foot"][early])[1:]
            se = np.sqrt(out[3].var() / m + foot_bin.var() / nb)
            assert abs(out[3].mean() - foot_bin.mean()) < 4 * se


@pytest.mark.parametrize("zi", [5.0, 1227.2, 30000.0])
@pytest.mark.parametrize("dt", [-1.0, 1.0, -5.0])
def test_dispersion_stays_in_the_column_for_any_zi_and_step(zi: float, dt: float) -> None:
    """Mixed layer below level 1, exactly at a level, or above the model top; forward and
    backward steps: particles stay between the ground and the top level, foot >= 0."""
    st, zsg, z, sigw, tl, sigu, sigv = _steady_unstable_column()
    depth = ZTOP - ZG
    start = 1.0 - np.linspace(0.0, z[-1], 200) / depth
    ones = np.ones_like(z)
    out = _core.dispersion_steady_run(zsg, depth, dt, 20, 0.1, 0.5, 10800.0, ZTOP, zi, sigw, tl,
                                      sigu, sigv, ones, ones, 0.1 * ones, 0 * ones, 3000.0,
                                      3000.0, 5, start)
    sigma, x, y, foot, samt, sw_used, tl_used, status = out
    assert status == 0
    zf = (1.0 - sigma) * depth
    assert zf.min() >= 0.0 and zf.max() <= z[-1] + 1e-6
    assert np.all(foot >= 0.0) and np.all((samt >= 0.0) & (samt <= 20 * abs(dt) + 1e-9))
    assert np.all(np.isin(sw_used, sigw)) and np.all(np.isin(tl_used, tl))
    # mean advection by the sub-steps goes with the sign of the step
    assert np.sign(x.mean()) == np.sign(dt)


def test_real_met_receptor_column_matches_the_binary(shared_dir) -> None:
    """NGM (EXCO / HFLX stability, KMIXD = 3) through the public run with default settings
    (the roughness table the binary reads, shipped with stilt): in the first hour the
    near-ground particles' sigw, tlgr and mlht are the binary's to its printed precision (the
    stability from the exchange coefficient at the first data level, the Hanna profile, the
    time interpolation between met times, the log-law wind below the first data level with
    the node's z0 and virtual data-level heights; with dry heights mlht was 0.6 % low,
    docs/transport.md; the moist density of the stability from SPHU interpolated as a
    specific humidity, docs/physics.md §2.6; the unstable sigma_w near the ground with the
    binary's cube root 0.3333, §5.3)."""
    import xarray as xr

    import stilt

    met = stilt.MetConfig(directory=str(shared_dir / "met"), file_format="oct1618.BIN",
                          file_tres="72 hours")
    receptor = {"time": "1995-10-17T18:00", "latitude": 40.0, "longitude": -90.0,
                "altitude": 10}
    ours = stilt.run_trajectories(receptor, met, n_hours=-1, numpar=60, seed=3,
                                  varsiwant=["time", "indx", "zagl", "sigw", "tlgr", "mlht"])
    ref = xr.open_dataset(shared_dir / "oracle" / "ngm_oct1618" / "particles_full.nc")
    for minutes in (-1, -5, -10, -30, -60):
        a, b = ours.sel(time=float(minutes)), ref.sel(time=float(minutes))
        low_a, low_b = a.zagl.values < 70.0, b.zagl.values < 70.0  # below internal level 2
        assert low_a.sum() >= 5 and low_b.sum() >= 5
        sw_a, sw_b = np.unique(a.sigw.values[low_a]), np.unique(b.sigw.values[low_b])
        tl_a, tl_b = np.unique(a.tlgr.values[low_a]), np.unique(b.tlgr.values[low_b])
        assert sw_a.size == sw_b.size == 1 and tl_a.size == tl_b.size == 1
        # printed with 3 decimals: half a print unit (0.741482 at -60 min against the printed
        # 0.741; 0.741502 while the moist density took the vapour of the dry one, not SPHU
        # as interpolated, docs/physics.md §2.6)
        assert sw_a[0] == pytest.approx(sw_b[0], abs=5.0e-4)
        # printed with 4 decimals: half a print unit (ours are float32; the near-ground
        # convective sigma_w with the binary's cube root 0.3333, docs/physics.md §5.3)
        assert tl_a[0] == pytest.approx(tl_b[0], abs=0.5e-4 + 1e-6)
        assert np.nanmean(a.mlht) == pytest.approx(float(np.nanmean(b.mlht)), abs=0.02)


def test_time_interpolation_follows_zi_normalised_height() -> None:
    """Level k between two met times takes the values of the levels nearest to z_k zi_m / zi(t)
    (hand-computed: zi 660 -> 320 m, tf = 0.5, zi(t) = 490 m)."""
    z, _ = _levels()
    prof1 = np.column_stack([np.arange(1.0, 31.0), 100.0 + np.arange(30.0)])
    prof2 = np.column_stack([-np.arange(1.0, 31.0), 200.0 + np.arange(30.0)])
    zi, prof = _core.turbulence_interpolate_in_time(z, 0.5, 660.0, 320.0, prof1, prof2)
    assert zi == 490.0
    for k in range(z.size):
        k1 = np.argmin(np.abs(z - z[k] * 660.0 / 490.0))
        k2 = np.argmin(np.abs(z - z[k] * 320.0 / 490.0))
        assert np.allclose(prof[k], 0.5 * prof1[k1] + 0.5 * prof2[k2])
    # e.g. level 4 (385 m) draws on level 5 (630 m) of time 1 and level 3 (200 m) of time 2
    assert prof[3, 0] == pytest.approx(0.5 * 5 - 0.5 * 3)
    # at the met times themselves nothing moves
    for tf, ref in ((0.0, prof1), (1.0, prof2)):
        assert np.array_equal(_core.turbulence_interpolate_in_time(z, tf, 660.0, 320.0, prof1,
                                                                   prof2)[1], ref)


def test_time_interpolation_reproduces_the_binary_between_met_times(shared_dir) -> None:
    """The NGM receptor column between 18 and 16 UTC (zi 665 -> 321 m): every layer value of
    layers 1-3 that the binary prints in the first two hours comes out of our met-time profiles
    at node (21, 13) through interpolate_in_time within 1 %; level-by-level interpolation
    misses half of them (docs/physics.md §5.7)."""
    import xarray as xr

    import stilt
    from stilt.met.roughness import shipped_roughness
    from stilt.met.window import SURFACE_VARS, MetSource, Window

    # met-time columns at node (21, 13), nearest to the receptor (40N, 90W), from the
    # transport's remap on the binary's roughness table (shipped with stilt, the default;
    # z0 = 0.75 m there); stability from EXCO / heat flux with kdat = 3 (first data level)
    src = MetSource(stilt.read_arl(shared_dir / "met" / "oct1618.BIN"))
    src.set_roughness(shipped_roughness())
    win = Window(i0=0, j0=0, nx=src.nx, ny=src.ny)
    nlvl, aa, bb, cc = _core.met_internal_grid(ZTOP, 6000.0, 10)
    zsg = _core.met_internal_sigma(int(nlvl), aa, bb, cc, ZTOP)
    opts = dict(kbls=1, kmixd=3, kmix0=150, kzmix=0, tvmix=1.0, tkerd=0.18, tkern=0.18,
                ziscale=1.0, ks=2, kdat=3, z0=0.2)
    slot = {name: k for k, (name, _) in enumerate(SURFACE_VARS)}
    pv_u, pv_v, pv_t, pv_p, pv_rhom = 0, 1, 3, 4, 9  # stilt_met pv_* (0-based)
    t18 = np.datetime64("1995-10-17T18:00")
    i, j = 20, 12
    prof, zi_m = [], []
    for t in (t18, t18 - np.timedelta64(2, "h")):
        m = src.remap(t, win, zsg, ZTOP, opts, 1)
        col, sfc = m.profiles()[:, :, i, j], m.sfc[:, i, j]
        z = (1.0 - zsg) * (ZTOP - sfc[slot["zg"]])
        st, sigw, tl, _, _ = _run_column(
            z, col[pv_t], col[pv_p], col[pv_rhom], col[pv_u], col[pv_v], momentum=MOM_EXCO,
            heat=HEAT_FLUX, exco=sfc[slot["exco"]], shtf=sfc[slot["shtf"]],
            z0=sfc[slot["rghs"]], kdat=3)
        prof.append(np.column_stack([sigw, tl]))
        zi_m.append(st["zi"])
    ref = xr.open_dataset(shared_dir / "oracle" / "ngm_oct1618" / "particles_full.nc")
    bounds = [(0.0, z[1]), (z[1], z[2]), (z[2], z[3])]
    hits = level_hits = n = 0
    for minutes in range(2, 120):
        tf = minutes / 120.0
        _, p = _core.turbulence_interpolate_in_time(z, tf, zi_m[0], zi_m[1], prof[0], prof[1])
        row = ref.sel(time=-float(minutes))
        zp, sw, tl = row.zagl.values, row.sigw.values, row.tlgr.values
        for k, (lo, hi) in enumerate(bounds):
            sel = (zp > lo + 0.5) & (zp < hi - 0.5)
            if sel.sum() < 3:
                continue
            obs = np.array([np.median(sw[sel]), np.median(tl[sel])])
            lin = (1 - tf) * prof[0][k] + tf * prof[1][k]
            n += 1
            hits += np.all(np.abs(p[k] / obs - 1.0) < 0.01)
            level_hits += np.all(np.abs(lin / obs - 1.0) < 0.01)
    assert n > 300
    assert hits / n > 0.97, (hits, n)
    assert level_hits / n < 0.6


def test_time_loop_interpolates_profiles_along_zi_normalised_height(shared_dir) -> None:
    """The NGM receptor column through run_trajectories, hours 0-2 (zi 665 -> 321 m between
    the 18 and 16 UTC met times): the most common sigma_w of layers 2 and 3 follows the
    binary's to its printed 3 decimals, across the times where the binary switches which
    met-time levels it blends (level by level, -20 min layer 2 would be 0.488 against 0.461,
    -80 min layer 3 0.559 against 0.555)."""
    import xarray as xr

    import stilt

    met = stilt.MetConfig(directory=str(shared_dir / "met"), file_format="oct1618.BIN",
                          file_tres="72 hours")
    receptor = {"time": "1995-10-17T18:00", "latitude": 40.0, "longitude": -90.0,
                "altitude": 10}
    ours = stilt.run_trajectories(receptor, met, n_hours=-2, numpar=200, seed=3,
                                  varsiwant=["time", "indx", "zagl", "sigw"])
    ref = xr.open_dataset(shared_dir / "oracle" / "ngm_oct1618" / "particles_full.nc")

    def modal_sigw(ds, minutes, lo, hi):
        row = ds.sel(time=float(minutes))
        values = row.sigw.values[(row.zagl.values > lo) & (row.zagl.values < hi)]
        v, c = np.unique(np.round(values, 3), return_counts=True)
        return v[np.argmax(c)]

    for minutes in (-20, -45, -65, -80, -95, -110):
        for lo, hi in ((73.0, 197.0), (200.0, 380.0)):  # layers 2 and 3 at ~190 m terrain
            assert modal_sigw(ours, minutes, lo, hi) == pytest.approx(
                modal_sigw(ref, minutes, lo, hi), abs=1.5e-3), (minutes, lo)
