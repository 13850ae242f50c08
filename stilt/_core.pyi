# Type stub for the private f2py extension stilt._core (f2py does not generate stubs).
# Each section mirrors one section of fortran/_core_wrap.f90 (what the package calls), then
# of fortran/_core_checks_wrap.f90 (single kernels only the tests call).
from typing import Any

import numpy as np
import numpy.typing as npt

# ---- stilt_random ----
def random_state_size() -> int: ...  # int32 words per particle state

# ---- stilt_grid ----
def grid_to_latlon(
    par: npt.ArrayLike, nx: int, ny: int, x: npt.ArrayLike, y: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], int]: ...
def grid_to_xy(
    par: npt.ArrayLike, nx: int, ny: int, lat: npt.ArrayLike, lon: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], int]: ...
def grid_metrics(
    par: npt.ArrayLike, nx: int, ny: int, x: npt.ArrayLike, y: npt.ArrayLike
) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64],
    npt.NDArray[np.float64], int,
]: ...
def grid_info(par: npt.ArrayLike, nx: int, ny: int) -> tuple[int, int, int, int]: ...
def grid_wrap_xy(
    par: npt.ArrayLike, nx: int, ny: int, x: npt.ArrayLike, y: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], int]: ...

# ---- stilt_met ----
def met_internal_grid(
    z_top: float, z_data_top: float, ndata: int
) -> tuple[int, float, float, float]: ...
def met_internal_sigma(
    nl: int, aa: float, bb: float, cc: float, z_top: float
) -> npt.NDArray[np.float64]: ...
def met_remap(
    lev: npt.ArrayLike,  # the data levels' values
    rpar: npt.ArrayLike,  # how they are remapped (stilt.met.window REMAP_SLOTS)
    z_top: float, zsg: npt.ArrayLike, sfc: npt.ArrayLike,
    raw: npt.ArrayLike,  # (nd, 8, nx, ny) data-level columns (stilt.met.window RAW_SLOTS)
) -> tuple[npt.NDArray[np.float64], int]: ...  # prof (13, nl, nx, ny), status

# ---- stilt_transport ----
def transport_threads(requested: int) -> int: ...  # threads in force (1 without OpenMP)
def transport_surface_at(
    sfc: npt.ArrayLike, x: npt.ArrayLike, y: npt.ArrayLike, ivar: int
) -> npt.NDArray[np.float64]: ...
def transport_rows(
    out: npt.NDArray[np.float64],  # the core's diagnostics (28, np, nsteps)
    steps: npt.ArrayLike, cols: npt.ArrayLike,  # 1-based
) -> tuple[npt.NDArray[np.float64], int]: ...  # (np, len(steps), len(cols)), status
def transport_init_rng(
    seed: int, nrs: int, indx: npt.ArrayLike
) -> tuple[npt.NDArray[np.int32], int]: ...  # rng (nrs, np), status
def transport_advance(
    wpar: npt.ArrayLike,  # the met window in stilt_layout slots (_transport_loop WINDOW_SLOTS)
    zsg: npt.ArrayLike,
    lev: npt.ArrayLike, rpar: npt.ArrayLike,  # the data levels, REMAP_SLOTS
    raw1: npt.ArrayLike, raw2: npt.ArrayLike,  # (nd, 8, nx, ny) data-level columns
    prof1: npt.NDArray[np.float64], prof2: npt.NDArray[np.float64],  # filled lazily
    sfc1: npt.ArrayLike, sfc2: npt.ArrayLike,
    turb1: npt.NDArray[np.float64], turb2: npt.NDArray[np.float64],
    zi1: npt.NDArray[np.float64], zi2: npt.NDArray[np.float64], done1: npt.NDArray[np.int32],
    done2: npt.NDArray[np.int32],
    topt: npt.ArrayLike,  # TURB_SLOTS
    dopt: npt.ArrayLike,  # STEP_SLOTS
    errpar: npt.ArrayLike,  # ERROR_SLOTS
    gdx: npt.ArrayLike, gdy: npt.ArrayLike,
    state: npt.NDArray[np.float64],  # (np, STATE_SLOTS) Fortran order, advanced in place
    pstat: npt.NDArray[np.int32], rng: npt.NDArray[np.int32],
    eu: npt.NDArray[np.float64], ev: npt.NDArray[np.float64], eps: npt.NDArray[np.float64],
    t_start: float, dt: float, nsteps: int,
) -> tuple[npt.NDArray[np.float64], int, int]: ...  # out (28, np, nsteps), status, tstatus
def transport_init_errors(
    zsg: npt.ArrayLike, z_top: float, errpar: npt.ArrayLike, rng: npt.NDArray[np.int32]
) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], int
]: ...  # eu, ev, eps, status

# ---- stilt_arl ----
def arl_unpack_records(
    records: npt.NDArray[np.int8],  # (lrec, n) Fortran order: label + packed bytes per column
    nexp: npt.ArrayLike,
    prec: npt.ArrayLike,
    var1: npt.ArrayLike,
    nx: int,
    i0: int,
    i1: int,
    j0: int,
    j1: int,
    want_checksums: int,
) -> tuple[
    npt.NDArray[np.float32],  # values (i1-i0+1, j1-j0+1, n)
    npt.NDArray[np.int32],  # checksums (n,), -1 when not computed
    int,  # status
]: ...
def arl_pack_records(
    values: npt.NDArray[np.float32],  # (nx, ny, n) Fortran order
) -> tuple[
    npt.NDArray[np.int8],  # packed (nx*ny, n)
    npt.NDArray[np.int32],  # nexp (n,)
    npt.NDArray[np.float32],  # prec (n,)
    npt.NDArray[np.float32],  # var1 (n,)
    npt.NDArray[np.int32],  # checksums (n,)
    npt.NDArray[np.int32],  # status (n,)
]: ...

# ---- stilt_footprint ----
# Particle fields are (np, nt) float64 arrays (a (time, indx) Dataset variable's `.values.T`),
# NaN where a particle has no row; index arguments are 1-based int32.
def footprint_hnf(
    order: npt.ArrayLike,
    abs_time_min: npt.ArrayLike,
    foot: npt.ArrayLike,
    samt: npt.ArrayLike,
    sigw: npt.ArrayLike,
    tlgr: npt.ArrayLike,
    dens: npt.ArrayLike,
    mlht: npt.ArrayLike,
    z0: npt.ArrayLike,
    veght: float,
    depth_in: npt.ArrayLike,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...  # foot (np, nt), depth (np)
def footprint_hnf_sp(
    order: npt.ArrayLike,
    abs_time_min: npt.ArrayLike,
    foot: npt.ArrayLike,
    samt: npt.ArrayLike,  # float32, as the next four
    sigw: npt.ArrayLike,
    tlgr: npt.ArrayLike,
    dens: npt.ArrayLike,
    mlht: npt.ArrayLike,
    z0: npt.ArrayLike,
    veght: float,
) -> npt.NDArray[np.float64]: ...  # foot (np, nt), from the release
def footprint_scan(
    time: npt.ArrayLike, lon: npt.ArrayLike, lat: npt.ArrayLike, foot: npt.ArrayLike
) -> tuple[
    npt.NDArray[np.int32], npt.NDArray[np.float64], int
]: ...  # rows per time, smallest |time| per particle (inf: none), status
def footprint_step_medians(
    order: npt.ArrayLike, time: npt.ArrayLike, lon: npt.ArrayLike, lat: npt.ArrayLike
) -> npt.NDArray[np.float64]: ...  # (dx median, dy median) over |time| < 100 min
def footprint_densify(
    order: npt.ArrayLike,
    time: npt.ArrayLike,
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    foot: npt.ArrayLike,
    time2: npt.ArrayLike,
    src: npt.ArrayLike,
    target: npt.ArrayLike,
    time2_rounded: npt.ArrayLike,
) -> tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]: ...  # lon2, lat2, foot2 (np, nt2), window factors (3,)
def footprint_bandwidths(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    mgroup: npt.ArrayLike,
    gid: npt.ArrayLike,
    rtime: npt.ArrayLike,
    smooth_factor: float,
    longlat: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int32]]: ...  # w (NaN if < 2 rows), counts
def footprint_kernel_half_width(
    sigma: npt.ArrayLike, res: float
) -> npt.NDArray[np.int32]: ...  # floor(3 sigma / res)
def footprint_accumulate_grid(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    foot: npt.ArrayLike,
    time: npt.ArrayLike,
    mgroup: npt.ArrayLike,
    gid: npt.ArrayLike,
    sigma: npt.ArrayLike,
    xres: float,
    yres: float,
    bounds: npt.ArrayLike,
    xedges: npt.ArrayLike,
    yedges: npt.ArrayLike,
    bx: int,
    by: int,
    nx: int,
    ny: int,
    time_integrate: int,
    layer0: int,
    nl: int,
) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.int32], npt.NDArray[np.float64], int
]: ...  # grid (nx, ny, nl), hit (nl,), mass (4,), status

# ==== test-only wrappers: fortran/_core_checks_wrap.f90 ====

# ---- stilt_kinds ----
def core_status_codes() -> npt.NDArray[np.int32]: ...

# ---- stilt_random ----
def random_normals(
    seed: int, streams: npt.ArrayLike, m: int
) -> npt.NDArray[np.float64]: ...  # (m, n): m N(0,1) deviates of each stream
def random_ziggurat_edges() -> tuple[float, npt.NDArray[np.float64]]: ...  # r, x_0..x_128
def random_uniforms(
    seed: int, streams: npt.ArrayLike, m: int
) -> npt.NDArray[np.float64]: ...  # (m, n): m U(0,1) deviates of each stream

# ---- stilt_turbulence ----
def turbulence_column(
    z: npt.ArrayLike,
    temp: npt.ArrayLike,
    pres: npt.ArrayLike,
    q: npt.ArrayLike,
    dens: npt.ArrayLike,
    u: npt.ArrayLike,
    v: npt.ArrayLike,
    tke: npt.ArrayLike,
    momentum: int,
    heat: int,
    ustr: float,
    umof: float,
    vmof: float,
    exco: float,
    tstr: float,
    shtf: float,
    pblh: float,
    z0: float,
    kbls: int,
    kmixd: int,
    kmix0: int,
    kzmix: int,
    tvmix: float,
    tkerd: float,
    tkern: float,
    ziscale: float,
    ks: int,
    kdat: int,
) -> tuple[
    npt.NDArray[np.float64],  # scalars: u*, theta*, w*, z/L, L, zi
    npt.NDArray[np.float64],  # sigw (m/s)
    npt.NDArray[np.float64],  # tl (s)
    npt.NDArray[np.float64],  # sigu (m/s)
    npt.NDArray[np.float64],  # sigv (m/s)
    int,  # status
]: ...
def turbulence_surface_layer(
    z: npt.ArrayLike,
    temp: npt.ArrayLike,
    pres: npt.ArrayLike,
    q: npt.ArrayLike,
    dens: npt.ArrayLike,
    u: npt.ArrayLike,
    v: npt.ArrayLike,
    momentum: int,
    heat: int,
    ustr: npt.ArrayLike,
    umof: npt.ArrayLike,
    vmof: npt.ArrayLike,
    exco: npt.ArrayLike,
    tstr: npt.ArrayLike,
    shtf: npt.ArrayLike,
    z0: float,
    kbls: int,
    ks: int,
    kdat: int,
) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]
]: ...  # u* (m/s), theta* (K), z/L
def turbulence_zicontrol_scale(
    scales: npt.ArrayLike, minutes: npt.ArrayLike
) -> npt.NDArray[np.float64]: ...
def turbulence_interpolate_in_time(
    z: npt.ArrayLike,
    tf: float,
    zi1: float,
    zi2: float,
    prof1: npt.ArrayLike,
    prof2: npt.ArrayLike,
) -> tuple[float, npt.NDArray[np.float64]]: ...  # zi, profiles (nz, nv)

# ---- stilt_met ----
def met_foot_density(
    dens: npt.ArrayLike, theta: npt.ArrayLike, rh: npt.ArrayLike
) -> npt.NDArray[np.float64]: ...  # foot density of one half step, kg/m3

# ---- stilt_dispersion ----
def dispersion_column_mass(
    zl: npt.ArrayLike, densd: npt.ArrayLike, hv: float
) -> float: ...  # kg/m2
def dispersion_steady_run(
    zsg: npt.ArrayLike,
    depth: float,
    dt: float,
    nsteps: int,
    tlfrac: float,
    veght: float,
    hscale: float,
    ztop: float,
    zi: float,
    sigw: npt.ArrayLike,
    tl: npt.ArrayLike,
    sigu: npt.ArrayLike,
    sigv: npt.ArrayLike,
    dens: npt.ArrayLike,
    densd: npt.ArrayLike,
    ug: npt.ArrayLike,
    vg: npt.ArrayLike,
    gdisx: float,
    gdisy: float,
    seed: int,
    sigma0: npt.ArrayLike,
) -> tuple[
    npt.NDArray[np.float64],  # sigma
    npt.NDArray[np.float64],  # x (grid units)
    npt.NDArray[np.float64],  # y (grid units)
    npt.NDArray[np.float64],  # foot
    npt.NDArray[np.float64],  # samt (min)
    npt.NDArray[np.float64],  # sigw of the last sub-step (m/s)
    npt.NDArray[np.float64],  # tl of the last sub-step (s)
    int,  # status
]: ...

def dispersion_levels_on_demand(
    zsg: npt.ArrayLike,
    depth: float,
    dt: float,
    nsteps: int,
    zi: float,
    sigw: npt.ArrayLike,
    tl: npt.ArrayLike,
    sigu: npt.ArrayLike,
    sigv: npt.ArrayLike,
    dens: npt.ArrayLike,
    ug: npt.ArrayLike,
    vg: npt.ArrayLike,
    seed: int,
    sigma0: npt.ArrayLike,
    nk: int,
) -> tuple[
    npt.NDArray[np.float64],  # sigma
    npt.NDArray[np.float64],  # x (grid units)
    npt.NDArray[np.float64],  # y (grid units)
    npt.NDArray[np.float64],  # foot
    npt.NDArray[np.float64],  # samt (min)
    int,  # steps done again with all levels
    int,  # status
]: ...

# ---- stilt_transport_error ----
def transport_error_series(
    z: npt.ArrayLike,
    nsteps: int,
    m: int,
    dt: float,
    sig_uv: float,
    tl_uv: float,
    zcor: float,
    horcor: float,
    dist: float,
    sig_zi: float,
    tl_zi: float,
    horcor_zi: float,
    seed: int,
) -> tuple[
    npt.NDArray[np.float64],  # eu (nz, nsteps + 1, m), m/s
    npt.NDArray[np.float64],  # ev (nz, nsteps + 1, m), m/s
    npt.NDArray[np.float64],  # eps (nsteps + 1, m), percent
]: ...

# ---- stilt_met ----
def met_layout() -> tuple[int, int]: ...
def met_raw_slots() -> tuple[int, ...]: ...  # nraw, then the slot of each rv_* by name

# ---- stilt_transport ----
def transport_diag_slots() -> tuple[int, ...]: ...  # ndiag, then the column of each dc_* by name
def transport_particle_status() -> npt.NDArray[np.int32]: ...  # ps_alive .. ps_not_started

# ---- stilt_layout ----
def transport_unpack_options(
    wpar: npt.ArrayLike, topt: npt.ArrayLike, dopt: npt.ArrayLike, errpar: npt.ArrayLike
) -> tuple[Any, ...]: ...  # one value per slot, by slot name (see the f2py docstring), status
def met_unpack_remap(
    rpar: npt.ArrayLike,
) -> tuple[Any, ...]: ...  # ksys, ptop, w_kind, humidity, have_pres, have_hgts, status
def transport_unpack_state(
    state: npt.NDArray[np.float64],
) -> tuple[Any, ...]: ...  # x, y, s, wnorm, up, vp, dmas, xc, yc, status
