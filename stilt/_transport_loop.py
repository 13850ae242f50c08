"""The particle time loop behind :func:`stilt.transport.run_trajectories` (private).

:class:`Particles` holds everything the core carries from one model step to the next,
:class:`Rows` the output rows being built, :class:`Run` what stays fixed over a run. The loop
(:func:`run_intervals`) walks the met intervals: for each it chooses a window around the
particles, reads the two bracketing met times on it (the core remaps each node when a particle
first needs it) and advances every particle through the interval in the core
(``_core.transport_advance``), in chunks of model steps that bound the
core's output buffer. A particle that reaches the window edge makes the interval run again,
from the saved particles and rows, on a wider window.

The packed arrays the core takes (options and the real-valued particle state) are laid out by
the slot names below, in the order of ``fortran/stilt_layout.f90``; tests/test_transport.py
checks the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, NamedTuple

import numpy as np

from stilt.errors import ConfigError, CoreError, MetError


class ParticleStatus(IntEnum):
    """How a particle stands (stilt_transport ``ps_*``; a test checks the values agree)."""

    ALIVE = 0        #: still moving
    LEFT_GRID = 1    #: left the met grid: stops for good
    WINDOW = 2       #: reached the edge of a window smaller than the grid: redo the interval
    NOT_STARTED = 3  #: not yet released


#: slots of wpar: the met window of one interval (stilt_layout wi_*)
WINDOW_SLOTS = ("i0", "j0", "nx_full", "ny_full", "wrap_x", "z_top", "t1", "t2", "aa", "bb",
                "cc")
#: slots of topt: the turbulence options of one met interval (stilt_layout to_*)
TURB_SLOTS = ("kbls", "kmixd", "kmix0", "kzmix", "tvmix", "tkerd", "tkern", "ziscale1",
              "ziscale2", "ks", "z0")
#: slots of dopt: time step and dispersion options (stilt_layout do_*)
STEP_SLOTS = ("tratio", "nturb", "tlfrac", "veght", "hscale")
#: slots of errpar: transport-error options (stilt_layout eo_*)
ERROR_SLOTS = ("winderrtf", "siguverr", "tluverr", "zcoruverr", "horcoruverr", "sigzierr",
               "tlzierr", "horcorzierr")
#: columns of the real-valued particle state (stilt_layout st_*)
STATE_SLOTS = ("x", "y", "s", "wnorm", "up", "vp", "dmas", "xc", "yc")

#: diagnostic columns of the core (stilt_transport dc_*), 0-based
DC = {name: i for i, name in enumerate(
    ["x", "y", "zagl", "zsfc", "temp", "pres", "dens", "temz", "wout", "shtf", "whtf", "dswf",
     "tcld", "lcld", "rain", "crai", "sphu", "rhfr", "solw", "sigw", "tlgr", "mlht", "samt",
     "foot", "dmas", "icdx", "zloc", "zcfx"])}
NDIAG = len(DC)
SUMMED = ("foot", "samt")  # summed over the output interval; the rest are end-of-step values
#: output columns stored in double precision (the rest in single, as the reference binary)
DOUBLE = ("long", "lati", "foot", "foot_no_hnf_dilution")
#: doubles in the core's per-call output buffer (NDIAG x particles x steps): 16 MB
OUT_BUDGET = 2_000_000
#: jobs the rows' worker may have waiting (each may hold a core output buffer): the core
#: waits for the oldest beyond this, so a run holds at most this many buffers more
MAX_QUEUED = 2


def pack(slots: tuple[str, ...], values: dict[str, Any]) -> np.ndarray:
    """The packed option array of ``slots`` (float64), each slot from ``values`` by name."""
    return np.array([float(values[name]) for name in slots], dtype=float)


@dataclass
class Particles:
    """The state every particle carries from step to step, as the core takes it."""

    state: np.ndarray  #: (particles, STATE_SLOTS) float64, Fortran order: one column each
    pstat: np.ndarray  #: ParticleStatus of each particle, int32
    rng: np.ndarray    #: (random_state_size, particles) int32 random streams, Fortran order
    eu: np.ndarray     #: (levels, particles) wind-error state, Fortran order
    ev: np.ndarray
    eps: np.ndarray    #: mixed-layer height error state
    z_release: np.ndarray  #: release height above ground (set at the release)

    @classmethod
    def at(cls, x: np.ndarray, y: np.ndarray, heights: np.ndarray, rng: np.ndarray,
           eu: np.ndarray, ev: np.ndarray, eps: np.ndarray) -> Particles:
        """Particles at full-grid positions (x, y) and release ``heights``, alive, before the
        release sets their sigma (and their height above ground, for heights above sea level)."""
        state = np.zeros((x.size, len(STATE_SLOTS)), order="F")
        for name, value in (("x", x), ("y", y), ("dmas", 1.0), ("xc", x), ("yc", y)):
            state[:, STATE_SLOTS.index(name)] = value
        return cls(state, np.full(x.size, ParticleStatus.ALIVE, dtype=np.int32),
                   np.asfortranarray(rng), np.asfortranarray(eu), np.asfortranarray(ev), eps,
                   np.array(heights, dtype=float))

    def column(self, name: str) -> np.ndarray:
        """One column of the state (a view)."""
        return self.state[:, STATE_SLOTS.index(name)]

    def alive(self) -> np.ndarray:
        """Mask of the particles still moving."""
        return self.pstat == ParticleStatus.ALIVE

    def copy(self) -> Particles:
        """An independent copy (to redo an interval from)."""
        return Particles(*(a.copy(order="K") for a in (
            self.state, self.pstat, self.rng, self.eu, self.ev, self.eps, self.z_release)))


#: what :meth:`Rows.rewind` goes back to: rows made, minutes since the last, sums, depths
RowsMark = tuple[int, int, dict[str, np.ndarray], np.ndarray]


@dataclass
class Rows:
    """Output rows under construction: the columns of ``cols``, one row per output time."""

    cols: list[str]
    store: dict[str, np.ndarray]   #: (capacity, particles) per column
    total: int                     #: run length, minutes
    outdt: int                     #: OUTDT (0 every step, < 0 none)
    grid: Any                      #: ArlGrid of the met (positions to lat/lon)
    hnf: bool                      #: foot after the plume dilution, the raw as a column
    times: list[int] = field(default_factory=list)
    acc: dict[str, np.ndarray] = field(default_factory=dict)  #: sums since the last row
    since: int = 0                 #: minutes since the last row
    depth: np.ndarray | None = None  #: summed plume-depth increments (plume dilution)
    #: a one-thread executor that makes the rows while the core runs its next steps (runs on
    #: several threads, :func:`run_intervals`), or None: rows made at once
    worker: Any = None
    queued: list[Future[Any]] = field(default_factory=list)  #: its jobs not yet settled

    @classmethod
    def for_run(cls, cols: list[str], numpar: int, total: int, outdt: int, delt: float,
                grid: Any, hnf: bool) -> Rows:
        """Rows preallocated for the most a run can write (trimmed when read), left
        unset: every row made writes every column (:meth:`_store`)."""
        min_step = int(delt) if delt > 0 else 1
        cap = 0 if outdt < 0 else total // max(min_step, outdt if outdt > 0 else 1) + 2
        store = {c: np.empty((cap, numpar), dtype=np.float64 if c in DOUBLE else np.float32)
                 for c in set(cols) | {"long", "lati"}}
        acc = {c: np.zeros(numpar) for c in SUMMED + (("foot_no_hnf_dilution",) if hnf else ())}
        return cls(cols, store, total, outdt, grid, hnf, acc=acc, depth=np.zeros(numpar))

    def later(self, job: Callable[..., None], *args: Any) -> None:
        """Run ``job(*args)`` on the worker after the jobs already queued (at once without
        one), first waiting for the oldest while :data:`MAX_QUEUED` are queued. The jobs of a
        run are the only writers of the rows, one at a time and in order, so the rows are the
        same with or without the worker."""
        if self.worker is None:
            job(*args)
            return
        while len(self.queued) >= MAX_QUEUED:
            self.queued.pop(0).result()
        self.queued.append(self.worker.submit(job, *args))

    def settle(self) -> None:
        """Wait for the queued jobs; the first one that failed raises its error here."""
        queued, self.queued = self.queued, []
        for job in queued:
            job.result()

    def mark(self) -> Future[RowsMark]:
        """The bookkeeping once the rows queued so far are made, to :meth:`rewind` to when an
        interval is redone (a future: with a worker, a job queued after them)."""
        if self.worker is not None:
            job: Future[RowsMark] = self.worker.submit(self._bookkeeping)
            self.queued.append(job)
            return job
        now: Future[RowsMark] = Future()
        now.set_result(self._bookkeeping())
        return now

    def _bookkeeping(self) -> RowsMark:
        assert self.depth is not None
        return (len(self.times), self.since, {c: a.copy() for c, a in self.acc.items()},
                self.depth.copy())

    def rewind(self, mark: Future[RowsMark]) -> None:
        """Forget the rows and sums made since ``mark``."""
        self.settle()
        n, self.since, acc, depth = mark.result()
        del self.times[n:]
        self.acc = {c: a.copy() for c, a in acc.items()}
        self.depth = depth.copy()

    def column(self, name: str) -> np.ndarray:
        """The rows made so far of one column (time, particles)."""
        self.settle()
        return self.store[name][:len(self.times)]

    def add(self, out: np.ndarray, nsteps: int, t_start: int, dt: int,
            foot_hnf: np.ndarray | None = None) -> None:
        """Turn the core's per-step diagnostics into output rows.

        OUTDT sampling, foot and samt summed over the output interval. With ``foot_hnf``
        (particles x steps, the plume-diluted foot) ``foot`` sums it and
        ``foot_no_hnf_dilution`` the raw foot. The rows of all the steps are written at once,
        straight from ``out`` into the preallocated store; the sums add the steps one by one,
        in order, as a running sum.
        """
        rows: list[int] = []  # the steps that make a row
        for n in range(nsteps):
            self.since += abs(dt)
            if self.outdt >= 0 and (self.outdt == 0 or self.since >= self.outdt
                                    or abs(t_start + (n + 1) * dt) >= self.total):
                rows.append(n)
                self.since = 0
        sums = {c: self._sums(c, foot_hnf[:, :nsteps] if c == "foot" and foot_hnf is not None
                              else out[DC["foot" if c == "foot_no_hnf_dilution" else c], :,
                                       :nsteps], rows)
                for c in list(self.acc)}
        if rows:
            self._store(out, rows, [t_start + (n + 1) * dt for n in rows], sums)

    def _sums(self, name: str, values: np.ndarray, rows: list[int]) -> np.ndarray:
        """The running sums of one summed column (values: particles x steps, NaN as 0) at
        the steps ``rows`` (particles x rows); the sum since the last row stays in ``acc``.

        Each sum adds its steps in order to the previous total (0 after a row), as a
        sequential accumulate does: the same floating-point sums as a step-by-step loop.
        """
        clean = np.nan_to_num(values)
        out = np.empty((clean.shape[0], len(rows)))
        first, start, k = self.acc[name], 0, 0
        while k < len(rows):
            if k and rows[k] == start:  # a run of one-step rows: each is 0 + its step
                m = k
                while m < len(rows) and rows[m] == start + m - k:
                    m += 1
                out[:, k:m] = clean[:, start:start + m - k] + 0.0
                start, k = start + m - k, m
                continue
            out[:, k] = np.add.accumulate(np.column_stack([first, clean[:, start:rows[k] + 1]]),
                                          axis=1)[:, -1]
            first, start, k = np.zeros(clean.shape[0]), rows[k] + 1, k + 1
        # the steps after the last row: carried to the next call
        self.acc[name][:] = np.add.accumulate(np.column_stack([first, clean[:, start:]]),
                                              axis=1)[:, -1]
        return out

    def _store(self, out: np.ndarray, rows: list[int], times: list[int],
               sums: dict[str, np.ndarray]) -> None:
        """Write output rows: ``out`` the core's diagnostics (columns x particles x steps),
        ``rows`` the steps that make a row, ``sums`` the summed columns at those rows
        (particles x rows). Only the columns asked for are read, by the core in one pass over
        ``out`` in memory order (a column at a time would read all of it once per column)."""
        from stilt import _core

        k0 = len(self.times)
        dst = slice(k0, k0 + len(times))
        self.times.extend(times)
        names = list(dict.fromkeys(["x", "y"] + [c for c in self.cols if c not in sums
                                                 and c not in ("long", "lati")]))
        block, status = _core.transport_rows(out, np.asarray(rows, dtype=np.int32) + 1,
                                             np.array([DC[c] + 1 for c in names], dtype=np.int32))
        if status != 0:
            raise CoreError(f"output rows: steps {rows} or columns {names} outside the core's "
                            f"buffer {out.shape}")

        def diag(c: str) -> np.ndarray:
            return block[:, :, names.index(c)].T  # (rows, particles), contiguous

        store = self.store
        x, y = diag("x"), diag("y")
        live = ~np.isnan(x)  # (rows, particles)
        if live.all():
            store["lati"][dst], store["long"][dst] = self.grid.to_latlon(x, y)
        else:
            for c in ("lati", "long"):
                store[c][dst] = np.nan
            if live.any():
                la, lo = self.grid.to_latlon(x[live], y[live])
                store["lati"][dst][live] = la
                store["long"][dst][live] = lo
        for c in self.cols:
            if c in ("long", "lati"):
                continue
            if c in sums:
                store[c][dst] = np.where(live, sums[c].T, np.nan)
            elif c == "wout":
                store[c][dst] = -diag(c)  # the reference binary prints w positive down
            else:
                store[c][dst] = diag(c)


@dataclass
class Run:
    """What stays fixed over one run: met, grids, options, the release."""

    core: Any            #: the stilt._core module (looked up per call: tests wrap it)
    source: Any          #: stilt.met.window.MetSource
    grid: Any            #: ArlGrid of the met
    zsg: np.ndarray      #: sigma of the internal levels
    levels: tuple[float, float, float]  #: aa, bb, cc of the internal levels
    z_top: float         #: model top, m
    params: dict[str, Any]
    turb: dict[str, Any]  #: TURB_SLOTS but the ziscale of each time
    t0: np.datetime64    #: release time
    sign: int            #: -1 backward, 1 forward
    total: int           #: run length, minutes
    name: str            #: the receptor, for messages
    release: Any         #: stilt.transport.Release
    heights: np.ndarray  #: release height of each particle
    dx_ref: float        #: grid spacing near the release, m

    @property
    def wrap_x(self) -> bool:
        """Whether the grid is global (cyclic in x)."""
        return bool(self.grid.is_global)

    def minutes(self, t: np.datetime64) -> float:
        """Minutes from the release to ``t``."""
        return float((np.datetime64(t, "m") - self.t0) / np.timedelta64(1, "m"))

    def errpar(self) -> np.ndarray:
        """The packed transport-error options (unset ones 0)."""
        return pack(ERROR_SLOTS, {name: self.params[name] or 0.0 for name in ERROR_SLOTS})

    def ziscale(self, t: np.datetime64) -> float:
        """ZICONTROL factor of met time ``t`` (1 when off)."""
        p = self.params
        if not p["zicontroltf"]:
            return 1.0
        hour = int(abs(self.minutes(t)) // 60)
        return p["ziscale"][hour] if hour < len(p["ziscale"]) else 1.0


class IntervalMet(NamedTuple):
    """The met of one interval on its window, as the core takes it."""

    window: Any          #: stilt.met.window.Window
    m1: Any              #: RemappedMet of the interval's start time
    m2: Any              #: RemappedMet of its end time
    gdx: np.ndarray      #: grid spacing in x over the window, m (Fortran order)
    gdy: np.ndarray


@dataclass
class _Frame:
    """The met window and what the loop keeps of the previous interval."""

    last: Any = None      #: the remapped met of the previous interval's end time
    spacing: Any = None   #: (window, gdx, gdy) grid spacing of the current window
    reach: float | None = None  #: fastest particle of the last interval, cells per minute


def choose_dt(delt: float, vmax_cells_per_min: float, tratio: float) -> int:
    """Model step in minutes (docs/physics.md §4.2): fixed delt, or from tratio when delt <= 0."""
    if delt > 0:
        return int(delt)
    divisors = [d for d in range(60, 0, -1) if 60 % d == 0]
    lo = int(abs(delt)) if delt < 0 else 1
    for d in divisors:
        if d >= lo and vmax_cells_per_min * d <= tratio:
            return d
    return max(lo, 1)


def run_intervals(run: Run, parts: Particles, rows: Rows, span: np.ndarray) -> Particles:
    """Advance the particles through the met times ``span`` (ascending) in the run direction,
    until the run length or until no particle is alive; returns the particles at the end.

    On several threads the output rows of each core call are made on one more thread while
    the core advances the particles further (the core releases the GIL), so that the
    threads of the core do not wait for them (docs/performance.md, "Threads and workers").
    That thread runs the core's own loops (positions to latitude and longitude) on one
    thread.
    """
    if int(run.core.transport_threads(0)) < 2:
        return _walk(run, parts, rows, span)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="stilt-rows",
                            initializer=run.core.transport_threads, initargs=(1,)) as worker:
        rows.worker = worker
        try:
            parts = _walk(run, parts, rows, span)
            rows.settle()
        finally:
            rows.worker, rows.queued = None, []
    return parts


def _walk(run: Run, parts: Particles, rows: Rows, span: np.ndarray) -> Particles:
    """:func:`run_intervals`, its rows made by ``rows.later``."""
    frame = _Frame()
    t_now = 0  # minutes since release
    started = False
    seq = span if run.sign > 0 else span[::-1]  # met times in the run direction
    for k in range(seq.size - 1):
        ta, tb = seq[k], seq[k + 1]
        b_min = run.minutes(tb)
        end_min = b_min if run.sign * b_min < run.total else run.sign * run.total
        if run.sign * end_min <= run.sign * t_now:
            continue
        parts, t_now = _run_interval(run, parts, rows, frame, (ta, tb), t_now, end_min,
                                     started)
        started = True
        if abs(t_now) >= run.total or not np.any(parts.alive()):
            break
    return parts


def _run_interval(run: Run, parts: Particles, rows: Rows, frame: _Frame,
                  times: tuple[np.datetime64, np.datetime64], t_now: int, end_min: float,
                  started: bool) -> tuple[Particles, int]:
    """One met interval, redone on a window twice as wide until no particle reaches its
    edge; returns the particles and the time (minutes since release) at its end."""
    ta, tb = times
    span_min = abs(run.minutes(tb) - run.minutes(ta))
    saved, mark = parts.copy(), rows.mark()
    margin_factor = 1.0
    while True:
        met = _met_for(run, frame, parts, times, margin_factor)
        if not started:
            parts.column("s")[:], parts.z_release[:] = release_sigma(run, met, parts)
        vcell = max(met.m1.vmax, met.m2.vmax) * 60.0 / run.dx_ref
        dt = choose_dt(float(run.params["delt"]), vcell, float(run.params["tratio"])) * run.sign
        nsteps = int(math.ceil(abs(end_min - t_now) / abs(dt)))
        if _advance(run, parts, rows, met, times, t_now, dt, nsteps):
            break
        if met.window.nx == run.source.nx and met.window.ny == run.source.ny:
            raise CoreError("particles reported at a window edge on the full grid")
        margin_factor *= 2.0
        parts = saved.copy()
        rows.rewind(mark)
    moved = np.hypot(parts.column("x") - saved.column("x"),
                     parts.column("y") - saved.column("y"))
    moved = moved[np.isfinite(moved) & parts.alive()]
    frame.reach = float(moved.max()) / span_min if moved.size else frame.reach
    return parts, int(t_now + nsteps * dt)


def _met_for(run: Run, frame: _Frame, parts: Particles,
             times: tuple[np.datetime64, np.datetime64], margin_factor: float) -> IntervalMet:
    """The window of an interval and its met.

    The margin is twice the largest particle displacement of the previous interval (scaled to
    this interval's length), or 30 m/s before the first, times ``margin_factor``. The window
    of the previous interval is kept when it still holds the particles with that margin (the
    met of the start time is then already remapped).
    """
    from stilt.met.window import window_around

    ta, tb = times
    src, p = run.source, run.params
    span_min = abs(run.minutes(tb) - run.minutes(ta))
    alive = parts.alive()
    x, y = parts.column("x")[alive], parts.column("y")[alive]
    if frame.reach is None:
        margin = 30.0 * span_min * 60.0 / run.dx_ref
    else:
        margin = 2.0 * frame.reach * span_min + 3
    margin = margin_factor * margin + 2
    need = window_around(x, y, margin, src.nx, src.ny, int(p["mgmin"]), run.wrap_x)
    last = frame.last
    if last is not None and last.window.contains(need):
        win = last.window
    else:  # a little room to spare, so that the next interval may keep it
        win = window_around(x, y, margin + 3, src.nx, src.ny, int(p["mgmin"]), run.wrap_x)
    if last is not None and last.window == win and last.time == np.datetime64(ta, "m"):
        m1 = last
    else:
        m1 = src.remap(ta, win, run.zsg, run.z_top, {"ziscale": run.ziscale(ta)}, p["k10m"])
    m2 = src.remap(tb, win, run.zsg, run.z_top, {"ziscale": run.ziscale(tb)}, p["k10m"])
    frame.last = m2
    if frame.spacing is None or frame.spacing[0] != win:
        gxx, gyy = np.meshgrid(np.arange(win.i0 + 1, win.i0 + win.nx + 1, dtype=float),
                               np.arange(win.j0 + 1, win.j0 + win.ny + 1, dtype=float),
                               indexing="ij")
        gx, gy = run.grid.grid_spacing_m(gxx.ravel(), gyy.ravel())
        frame.spacing = (win, np.asfortranarray(np.asarray(gx, float).reshape(win.nx, win.ny)),
                         np.asfortranarray(np.asarray(gy, float).reshape(win.nx, win.ny)))
    return IntervalMet(win, m1, m2, frame.spacing[1], frame.spacing[2])


def _advance(run: Run, parts: Particles, rows: Rows, met: IntervalMet,
             times: tuple[np.datetime64, np.datetime64], t_now: int, dt: int,
             nsteps: int) -> bool:
    """Advance the particles ``nsteps`` steps of ``dt`` minutes in chunks that bound the core's
    output buffer, adding the rows; False (stopped early) when a particle reached the window
    edge."""
    win, m1, m2, gdx, gdy = met
    ta, tb = times
    p, core = run.params, run.core
    aa, bb, cc = run.levels
    wpar = pack(WINDOW_SLOTS, {"i0": win.i0, "j0": win.j0, "nx_full": run.source.nx,
                               "ny_full": run.source.ny, "wrap_x": run.wrap_x,
                               "z_top": run.z_top, "t1": run.minutes(ta),
                               "t2": run.minutes(tb), "aa": aa, "bb": bb, "cc": cc})
    topt = pack(TURB_SLOTS, dict(run.turb, ziscale1=m1.ziscale, ziscale2=m2.ziscale))
    dopt = pack(STEP_SLOTS, p)
    errpar = run.errpar()
    chunk = max(1, OUT_BUDGET // (NDIAG * parts.pstat.size))  # model steps per core call
    t_cur, done_steps = t_now, 0
    while done_steps < nsteps:
        k = min(chunk, nsteps - done_steps)
        out, status, tstatus = core.transport_advance(
            wpar, run.zsg, m1.lev, m1.rpar, m1.raw, m2.raw,
            m1.prof, m2.prof, m1.sfc, m2.sfc, m1.turb, m2.turb, m1.zi, m2.zi, m1.done, m2.done,
            topt, dopt, errpar, gdx, gdy,
            parts.state, parts.pstat, parts.rng, parts.eu, parts.ev, parts.eps,
            float(t_cur), float(dt), k)
        if tstatus != 0:
            raise MetError(f"{run.name}: the met at {ta} or {tb} could not be remapped or "
                           f"give stability / mixed-layer height (core status "
                           f"{int(tstatus)}): non-finite or invalid surface fluxes or profiles")
        if status != 0:
            raise CoreError(f"{run.name}: dispersion failed between {ta} and {tb} "
                            f"(core status {int(status)})")
        if np.any(parts.pstat == ParticleStatus.WINDOW):
            return False
        rows.later(_add_rows, run, parts.z_release, rows, out, k, t_cur, dt)
        t_cur += k * dt
        done_steps += k
    return True


def _add_rows(run: Run, z_release: np.ndarray, rows: Rows, out: np.ndarray, k: int,
              t_cur: int, dt: int) -> None:
    """The output rows of one core call (``k`` steps of ``dt`` from ``t_cur``)."""
    rows.add(out, k, t_cur, dt, _plume_diluted(run, z_release, rows, out, k, t_cur, dt))


def _plume_diluted(run: Run, z_release: np.ndarray, rows: Rows, out: np.ndarray, k: int,
                   t_cur: int, dt: int) -> np.ndarray | None:
    """foot after the plume dilution on the model steps of one core call, before the output
    thinning (None when not asked for); continues the plume-depth sums of ``rows``."""
    if not rows.hnf:
        return None
    abs_t = np.abs(t_cur + dt * np.arange(1, k + 1, dtype=float))
    foot_hnf, rows.depth = run.core.footprint_hnf(
        np.arange(1, k + 1, dtype=np.int32), abs_t,
        *(out[DC[c], :, :k] for c in ("foot", "samt", "sigw", "tlgr", "dens", "mlht")),
        z_release, float(run.params["veght"]), rows.depth)
    return foot_hnf


def release_sigma(run: Run, met: IntervalMet,
                  parts: Particles) -> tuple[np.ndarray, np.ndarray]:
    """The internal sigma and the height above ground of the release heights (AGL, or MSL
    minus the ground), from the terrain at the release time within the interval ``met``."""
    win, m1, m2 = met.window, met.m1, met.m2
    a_min, b_min = run.minutes(m1.time), run.minutes(m2.time)
    x, y = parts.column("x") - win.i0, parts.column("y") - win.j0
    tf = (0.0 - a_min) / (b_min - a_min)
    zg = ((1.0 - tf) * run.core.transport_surface_at(m1.sfc, x, y, 1)
          + tf * run.core.transport_surface_at(m2.sfc, x, y, 1))
    heights, z_top = run.heights, run.z_top
    zagl = heights - zg if run.release.msl else heights
    if np.any(zagl < 0):
        bad = int(np.argmax(zagl < 0))
        raise ConfigError(f"{run.name}: release height {heights[bad]} m above sea level is "
                          f"below the model ground {zg[bad]:.1f} m")
    s = 1.0 - zagl / (z_top - zg)
    if np.any(s < run.zsg[-1]):
        raise ConfigError(f"{run.name}: release height above the model top {z_top} m")
    return s, zagl
