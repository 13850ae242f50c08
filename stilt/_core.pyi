# Type stub for the private f2py extension stilt._core (f2py does not generate stubs).
# Each section mirrors one section of fortran/_core_wrap.f90.
import numpy as np
import numpy.typing as npt

def core_status_codes() -> npt.NDArray[np.int32]: ...

# ---- stilt_random ----
def random_state_size() -> int: ...  # int32 words per particle state
def random_normals(
    seed: int, streams: npt.ArrayLike, m: int
) -> npt.NDArray[np.float64]: ...  # (m, n): m N(0,1) deviates of each stream
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
