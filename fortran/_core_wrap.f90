!! The production wrappers f2py reads: thin wrappers over the core modules, with iso_c_binding
!! kinds, explicit-shape arrays and integer status codes (never stop/print). One section per
!! module. Wrappers only the tests call are in _core_checks_wrap.f90 (same module stilt._core).

!! ---- stilt_random -------------------------------------------------------------------------
subroutine random_state_size(n)
    !! Number of 32-bit words of one particle's random state (stilt_random.rng_state_size):
    !! size the per-particle state arrays with it, never with a literal.
    use, intrinsic :: iso_c_binding, only: c_int
    use stilt_random, only: rng_state_size
    implicit none
    integer(c_int), intent(out) :: n
    n = rng_state_size
end subroutine random_state_size

!! ---- stilt_grid ---------------------------------------------------------------------------
!! Vectorised map projections. `par` holds the 12 ARL grid parameters in file order; every
!! routine returns status 0 (ok) or 1 (parameters do not describe a grid). Points without an
!! image come back as NaN.
subroutine grid_to_latlon(par, nx, ny, x, y, lat, lon, status, n)
    !! 1-based grid coordinates -> latitude, longitude (degrees, lon in [-180, 180)).
    use, intrinsic :: iso_c_binding, only: c_double, c_int
    use stilt_grid, only: grid_t, grid_init, grid_xy_to_ll
    implicit none
    integer(c_int), intent(in) :: n
    real(c_double), intent(in) :: par(12)
    integer(c_int), intent(in) :: nx, ny
    real(c_double), intent(in) :: x(n), y(n)
    real(c_double), intent(out) :: lat(n), lon(n)
    integer(c_int), intent(out) :: status
    !f2py intent(hide), depend(x) :: n = len(x)
    !f2py threadsafe
    integer(c_int), parameter :: block = 4096  ! points per thread's share (OpenMP builds)
    type(grid_t) :: g
    integer(c_int) :: i, last
    lat = 0.0_c_double
    lon = 0.0_c_double
    call grid_init(par, nx, ny, g, status)
    if (status /= 0) return
    ! each point on its own: blocks over the threads in force give the same values
    !$omp parallel do default(shared) private(i, last) schedule(static) if (n > 4 * block)
    do i = 1, n, block
        last = min(i + block - 1, n)
        call grid_xy_to_ll(g, x(i:last), y(i:last), lat(i:last), lon(i:last))
    end do
    !$omp end parallel do
end subroutine grid_to_latlon

subroutine grid_to_xy(par, nx, ny, lat, lon, x, y, status, n)
    !! Latitude, longitude (degrees) -> 1-based grid coordinates (HYSPLIT rules on lat-lon grids).
    use, intrinsic :: iso_c_binding, only: c_double, c_int
    use stilt_grid, only: grid_t, grid_init, grid_ll_to_xy
    implicit none
    integer(c_int), intent(in) :: n
    real(c_double), intent(in) :: par(12)
    integer(c_int), intent(in) :: nx, ny
    real(c_double), intent(in) :: lat(n), lon(n)
    real(c_double), intent(out) :: x(n), y(n)
    integer(c_int), intent(out) :: status
    !f2py intent(hide), depend(lat) :: n = len(lat)
    type(grid_t) :: g
    x = 0.0_c_double
    y = 0.0_c_double
    call grid_init(par, nx, ny, g, status)
    if (status /= 0) return
    call grid_ll_to_xy(g, lat, lon, x, y)
end subroutine grid_to_xy

subroutine grid_metrics(par, nx, ny, x, y, mfac, dx_m, dy_m, angle, status, n)
    !! Map factor, metres per grid step in x and y, and the earth-to-grid wind rotation angle
    !! (radians, counter-clockwise) at grid coordinates.
    use, intrinsic :: iso_c_binding, only: c_double, c_int
    use stilt_grid, only: grid_t, grid_init, grid_map_factor, grid_spacing, grid_rotation
    implicit none
    integer(c_int), intent(in) :: n
    real(c_double), intent(in) :: par(12)
    integer(c_int), intent(in) :: nx, ny
    real(c_double), intent(in) :: x(n), y(n)
    real(c_double), intent(out) :: mfac(n), dx_m(n), dy_m(n), angle(n)
    integer(c_int), intent(out) :: status
    !f2py intent(hide), depend(x) :: n = len(x)
    type(grid_t) :: g
    mfac = 0.0_c_double
    dx_m = 0.0_c_double
    dy_m = 0.0_c_double
    angle = 0.0_c_double
    call grid_init(par, nx, ny, g, status)
    if (status /= 0) return
    mfac = grid_map_factor(g, x, y)
    call grid_spacing(g, x, y, dx_m, dy_m)
    angle = grid_rotation(g, x, y)
end subroutine grid_metrics

subroutine grid_info(par, nx, ny, kind, wrap, prime, status)
    !! Projection kind (1 lat-lon, 2 polar stereographic, 3 Lambert, 4 Mercator), global wrap
    !! type (0 none, 1 global, 2 northern, 3 southern hemisphere) and the lat-lon PRIME flag.
    use, intrinsic :: iso_c_binding, only: c_double, c_int
    use stilt_grid, only: grid_t, grid_init
    implicit none
    real(c_double), intent(in) :: par(12)
    integer(c_int), intent(in) :: nx, ny
    integer(c_int), intent(out) :: kind, wrap, prime, status
    type(grid_t) :: g
    call grid_init(par, nx, ny, g, status)
    kind = g%kind
    wrap = g%wrap
    prime = merge(1_c_int, 0_c_int, g%prime)
end subroutine grid_info

subroutine grid_wrap_xy(par, nx, ny, x, y, xo, yo, status, n)
    !! Global lat-lon grids: positions that left the grid brought back (x cyclic, y reflected
    !! over the pole row); unchanged on every other grid.
    use, intrinsic :: iso_c_binding, only: c_double, c_int
    use stilt_grid, only: grid_t, grid_init, grid_wrap
    implicit none
    integer(c_int), intent(in) :: n
    real(c_double), intent(in) :: par(12)
    integer(c_int), intent(in) :: nx, ny
    real(c_double), intent(in) :: x(n), y(n)
    real(c_double), intent(out) :: xo(n), yo(n)
    integer(c_int), intent(out) :: status
    !f2py intent(hide), depend(x) :: n = len(x)
    type(grid_t) :: g
    xo = x
    yo = y
    call grid_init(par, nx, ny, g, status)
    if (status /= 0) return
    call grid_wrap(g, xo, yo)
end subroutine grid_wrap_xy

!! ---- stilt_met ----------------------------------------------------------------------------
subroutine met_internal_grid(z_top, z_data_top, ndata, nlvl, aa, bb, cc)
    !! Internal level count and quadratic coefficients (docs/physics.md sec. 3.1).
    use, intrinsic :: iso_c_binding, only: c_double, c_int
    use stilt_met, only: internal_grid
    implicit none
    real(c_double), intent(in) :: z_top, z_data_top
    integer(c_int), intent(in) :: ndata
    integer(c_int), intent(out) :: nlvl
    real(c_double), intent(out) :: aa, bb, cc
    call internal_grid(z_top, z_data_top, ndata, nlvl, aa, bb, cc)
end subroutine met_internal_grid

subroutine met_internal_sigma(nl, aa, bb, cc, z_top, zsg)
    !! Sigma of the internal levels.
    use, intrinsic :: iso_c_binding, only: c_double, c_int
    use stilt_met, only: internal_sigma
    implicit none
    integer(c_int), intent(in) :: nl
    real(c_double), intent(in) :: aa, bb, cc, z_top
    real(c_double), intent(out) :: zsg(nl)
    call internal_sigma(nl, aa, bb, cc, z_top, zsg)
end subroutine met_internal_sigma

subroutine met_remap(nx, ny, nd, nl, nrpar, lev, rpar, z_top, zsg, sfc, raw, prof, status)
    !! Remap one met time of a whole window onto the internal levels (stilt_met.remap_met; the
    !! transport does it lazily, node by node). raw: the data-level columns (stilt_met rv_*),
    !! rpar: how they are remapped (stilt_layout ro_*). status: 1 when an array has the wrong
    !! size, 4 when a required input is not finite.
    use, intrinsic :: iso_c_binding, only: c_double, c_float, c_int
    use stilt_kinds, only: status_bad_argument
    use stilt_met, only: remap_met, nprof, nsfc, nraw
    use stilt_layout, only: unpack_remap, n_rpar
    implicit none
    integer(c_int), intent(in) :: nx, ny, nd, nl, nrpar
    !f2py intent(hide), depend(raw) :: nd = shape(raw, 0), nx = shape(raw, 2), ny = shape(raw, 3)
    !f2py intent(hide), depend(zsg) :: nl = shape(zsg, 0)
    !f2py intent(hide), depend(rpar) :: nrpar = len(rpar)
    real(c_double), intent(in) :: lev(nd), rpar(nrpar), z_top, zsg(nl), sfc(20, nx, ny)
    real(c_float), intent(in) :: raw(nd, 8, nx, ny)
    real(c_double), intent(out) :: prof(13, nl, nx, ny)
    integer(c_int), intent(out) :: status
    if (nprof /= 13 .or. nsfc /= 20 .or. nraw /= 8 .or. nrpar /= n_rpar) then
        status = status_bad_argument
        prof = 0.0_c_double
        return
    end if
    call remap_met(nx, ny, nd, nl, lev, unpack_remap(rpar), z_top, zsg, sfc, raw, prof, status)
end subroutine met_remap

!! ---- stilt_transport ----------------------------------------------------------------------
subroutine transport_rows(nd, np, ns, out, nrow, steps, ncol, cols, block, status)
    !! Columns cols of the core's diagnostics at model steps steps (both 1-based), read in
    !! one pass over out in memory order: block(:, r, c) is column cols(c) of every particle
    !! after step steps(r). status: 1 (block zero) when an index lies outside out.
    use, intrinsic :: iso_c_binding, only: c_double, c_int
    use stilt_kinds, only: status_ok, status_bad_argument
    implicit none
    integer(c_int), intent(in) :: nd, np, ns, nrow, ncol
    !f2py intent(hide), depend(out) :: nd = shape(out, 0), np = shape(out, 1), ns = shape(out, 2)
    !f2py intent(hide), depend(steps) :: nrow = len(steps)
    !f2py intent(hide), depend(cols) :: ncol = len(cols)
    !f2py threadsafe
    real(c_double), intent(in) :: out(nd, np, ns)
    integer(c_int), intent(in) :: steps(nrow), cols(ncol)
    real(c_double), intent(out) :: block(np, nrow, ncol)
    integer(c_int), intent(out) :: status
    integer :: r, p, c
    status = status_ok
    if (any(steps < 1 .or. steps > ns) .or. any(cols < 1 .or. cols > nd)) then
        status = status_bad_argument
        block = 0.0_c_double
        return
    end if
    do r = 1, nrow
        do p = 1, np
            do c = 1, ncol
                block(p, r, c) = out(cols(c), p, steps(r))
            end do
        end do
    end do
end subroutine transport_rows

subroutine transport_surface_at(nx, ny, sfc, np, x, y, ivar, val)
    !! Bilinear surface variable ivar (1-based, stilt_met sv_*) at window positions.
    use, intrinsic :: iso_c_binding, only: c_double, c_int
    use stilt_transport, only: surface_at
    implicit none
    integer(c_int), intent(in) :: nx, ny, np, ivar
    !f2py intent(hide), depend(sfc) :: nx = shape(sfc, 1), ny = shape(sfc, 2)
    !f2py intent(hide), depend(x) :: np = len(x)
    real(c_double), intent(in) :: sfc(20, nx, ny), x(np), y(np)
    real(c_double), intent(out) :: val(np)
    integer :: p
    do p = 1, np
        call surface_at(nx, ny, sfc, x(p), y(p), ivar, val(p))
    end do
end subroutine transport_surface_at

subroutine transport_init_rng(seed, nrs, np, indx, rng, status)
    !! Per-particle random streams from the run seed and the particle numbers (1-based);
    !! nrs must be random_state_size().
    use, intrinsic :: iso_c_binding, only: c_int, c_int64_t
    use stilt_random, only: rng_seed, rng_state_size
    implicit none
    integer(c_int64_t), intent(in) :: seed
    integer(c_int), intent(in) :: nrs, np
    !f2py intent(hide), depend(indx) :: np = len(indx)
    integer(c_int64_t), intent(in) :: indx(np)
    integer(c_int), intent(out) :: rng(nrs, np)
    integer(c_int), intent(out) :: status
    integer :: p
    rng = 0
    status = 1
    if (nrs /= rng_state_size) return
    status = 0
    do p = 1, np
        call rng_seed(seed, indx(p), rng(:, p))
    end do
end subroutine transport_init_rng

subroutine transport_threads(requested, used)
    !! Threads the particle loop of transport_advance uses from now on in this process:
    !! requested > 0 sets them (OpenMP builds), 0 only asks. used: the count in force, 1 when
    !! the core was built without OpenMP.
    use, intrinsic :: iso_c_binding, only: c_int
    !$ use omp_lib, only: omp_set_num_threads, omp_get_max_threads
    implicit none
    integer(c_int), intent(in) :: requested
    integer(c_int), intent(out) :: used
    used = 1
    !$ if (requested > 0) call omp_set_num_threads(requested)
    !$ used = omp_get_max_threads()
end subroutine transport_threads

subroutine transport_init_errors(nl, zsg, z_top, nerr, errpar, nrs, np, rng, eu, ev, eps, status)
    !! Initial transport errors at release (stilt_transport.init_errors); errpar as in
    !! transport_advance. rng is advanced in place. status: 1 when errpar has the wrong size.
    use, intrinsic :: iso_c_binding, only: c_double, c_int
    use stilt_kinds, only: status_ok, status_bad_argument
    use stilt_transport, only: init_errors
    use stilt_layout, only: unpack_errors, n_errpar
    implicit none
    integer(c_int), intent(in) :: nl, nerr, nrs, np
    !f2py intent(hide), depend(zsg) :: nl = len(zsg)
    !f2py intent(hide), depend(errpar) :: nerr = len(errpar)
    !f2py intent(hide), depend(rng) :: nrs = shape(rng, 0), np = shape(rng, 1)
    real(c_double), intent(in) :: zsg(nl), z_top, errpar(nerr)
    integer(c_int), intent(inout) :: rng(nrs, np)
    real(c_double), intent(out) :: eu(nl, np), ev(nl, np), eps(np)
    integer(c_int), intent(out) :: status
    eu = 0.0_c_double
    ev = 0.0_c_double
    eps = 0.0_c_double
    status = status_bad_argument
    if (nerr /= n_errpar) return
    status = status_ok
    call init_errors(nl, zsg, z_top, unpack_errors(errpar), np, rng, eu, ev, eps)
end subroutine transport_init_errors

subroutine transport_advance(nx, ny, nl, nd, nwpar, wpar, zsg, lev, nrpar, rpar, raw1, raw2, &
        prof1, prof2, sfc1, sfc2, turb1, turb2, zi1, zi2, done1, done2, ntopt, topt, ndopt, &
        dopt, nerr, errpar, gdx, gdy, np, nst, state, pstat, nrs, rng, eu, ev, eps, t_start, &
        dt, nsteps, out, status, tstatus)
    !! Advance all particles through part of one met interval (stilt_transport.advance_interval).
    !! wpar: the met window; topt, dopt, errpar: turbulence, step/dispersion and transport-error
    !! options; state(np, :) the real-valued particle state; all in the slots of stilt_layout.
    !! pstat: the particle status (ps_*), rng the random streams, eu, ev, eps the
    !! transport-error state from transport_init_errors. raw1/2: the data-level columns of the
    !! two met times (stilt_met rv_*; nd levels lev), rpar how they are remapped (ro_*);
    !! prof1/2, turb1/2, zi1/2 are filled lazily, node by node, as done1/2 records
    !! (stilt_transport node_*: 0 for a node not yet evaluated).
    !! status: dispersion status (1 also when an array has the wrong size), tstatus:
    !! turbulence evaluation status.
    use, intrinsic :: iso_c_binding, only: c_double, c_float, c_int
    use stilt_kinds, only: status_bad_argument
    use stilt_transport, only: advance_interval, met_window, disp_options, turb_options
    use stilt_random, only: rng_state_size
    use stilt_layout, only: unpack_window, unpack_turb, unpack_step, unpack_errors, n_wpar, &
        n_topt, n_dopt, n_errpar, n_state, st_x, st_y, st_s, st_wnorm, st_up, st_vp, st_dmas, &
        st_xc, st_yc, wi_z_top, unpack_remap, n_rpar
    use stilt_met, only: nraw
    implicit none
    integer(c_int), intent(in) :: nx, ny, nl, nd, np, nsteps
    integer(c_int), intent(in) :: nrs, nwpar, ntopt, ndopt, nerr, nst, nrpar
    !f2py intent(hide), depend(prof1) :: nl = shape(prof1, 1), nx = shape(prof1, 2), ny = shape(prof1, 3)
    !f2py intent(hide), depend(lev) :: nd = len(lev)
    !f2py intent(hide), depend(rpar) :: nrpar = len(rpar)
    !f2py intent(hide), depend(state) :: np = shape(state, 0), nst = shape(state, 1)
    !f2py intent(hide), depend(rng) :: nrs = shape(rng, 0)
    !f2py intent(hide), depend(wpar) :: nwpar = len(wpar)
    !f2py intent(hide), depend(topt) :: ntopt = len(topt)
    !f2py intent(hide), depend(dopt) :: ndopt = len(dopt)
    !f2py intent(hide), depend(errpar) :: nerr = len(errpar)
    !f2py threadsafe
    real(c_double), intent(in) :: zsg(nl), t_start, dt
    real(c_double), intent(in) :: wpar(nwpar), topt(ntopt), dopt(ndopt), errpar(nerr)
    real(c_double), intent(inout) :: eu(nl, np), ev(nl, np), eps(np)
    real(c_double), intent(in) :: lev(nd), rpar(nrpar)
    real(c_float), intent(in), dimension(nd, 8, nx, ny) :: raw1, raw2
    real(c_double), intent(inout), dimension(13, nl, nx, ny) :: prof1, prof2
    real(c_double), intent(in), dimension(20, nx, ny) :: sfc1, sfc2
    real(c_double), intent(inout), dimension(4, nl, nx, ny) :: turb1, turb2
    real(c_double), intent(inout), dimension(nx, ny) :: zi1, zi2
    integer(c_int), intent(inout), dimension(nx, ny) :: done1, done2
    real(c_double), intent(in), dimension(nx, ny) :: gdx, gdy
    real(c_double), intent(inout) :: state(np, nst)
    integer(c_int), intent(inout) :: pstat(np), rng(nrs, np)
    real(c_double), intent(out) :: out(28, np, nsteps)
    integer(c_int), intent(out) :: status, tstatus
    type(met_window) :: w
    type(disp_options) :: dopts
    type(turb_options) :: t1o, t2o
    real(c_double) :: z0, tratio
    integer(c_int) :: nturb
    tstatus = 0
    if (nrs /= rng_state_size .or. nwpar /= n_wpar .or. ntopt /= n_topt .or. &
            ndopt /= n_dopt .or. nerr /= n_errpar .or. nst /= n_state .or. &
            nrpar /= n_rpar .or. nraw /= 8) then
        status = status_bad_argument
        out = 0.0_c_double
        return
    end if
    w = unpack_window(wpar, nx, ny, nl)
    call unpack_turb(topt, t1o, t2o, z0)
    call unpack_step(dopt, wpar(wi_z_top), dopts, tratio, nturb)
    ! the state columns are contiguous and distinct: passed without copies or aliasing
    call advance_interval(w, zsg, nd, lev, unpack_remap(rpar), raw1, raw2, prof1, prof2, sfc1, &
        sfc2, turb1, turb2, zi1, zi2, done1, done2, t1o, t2o, z0, gdx, gdy, np, &
        state(:, st_x), state(:, st_y), state(:, st_s), pstat, state(:, st_wnorm), &
        state(:, st_up), state(:, st_vp), state(:, st_dmas), state(:, st_xc), state(:, st_yc), &
        rng, t_start, dt, nsteps, tratio, nturb, dopts, unpack_errors(errpar), eu, ev, eps, out, &
        status, tstatus)
end subroutine transport_advance

!! ---- stilt_arl ----------------------------------------------------------------------------
!! ARL records cross the boundary whole (50-byte label + NX*NY packed bytes) as int8 columns,
!! one column per record, so Python can read a run of records straight into one buffer.
!! Bytes are declared integer(kind=1), not integer(c_int8_t): f2py (numpy 2.4) forgets the
!! `signed_char` typedef for c_int8_t arrays; kind 1 is the same 1-byte kind in gfortran.
subroutine arl_unpack_records(lrec, n, records, nexp, prec, var1, nx, i0, i1, j0, j1, wx, wy, &
        want_checksums, values, checksums, status)
    !! Unpack the window i0..i1 x j0..j1 of n records; checksums of the full records when
    !! want_checksums /= 0 (else -1). status: 0 ok, 1 bad window or record length.
    use, intrinsic :: iso_c_binding, only: c_int, c_float
    use stilt_arl, only: arl_unpack, arl_checksum
    implicit none
    integer(c_int), intent(in) :: lrec                  !! bytes per record given
    integer(c_int), intent(in) :: n                     !! number of records
    integer(kind=1), intent(in) :: records(lrec, n)   !! label + packed bytes
    integer(c_int), intent(in) :: nexp(n)               !! packing exponents of the labels
    real(c_float), intent(in) :: prec(n)                !! precisions of the labels
    real(c_float), intent(in) :: var1(n)                !! (1,1) values of the labels
    integer(c_int), intent(in) :: nx                    !! full grid size along x
    integer(c_int), intent(in) :: i0, i1, j0, j1        !! 1-based inclusive window
    integer(c_int), intent(in) :: wx, wy                !! window size
    integer(c_int), intent(in) :: want_checksums        !! 1: checksum every whole record
    real(c_float), intent(out) :: values(wx, wy, n)     !! decoded windows
    integer(c_int), intent(out) :: checksums(n)         !! end-around-carry sums (or -1)
    integer(c_int), intent(out) :: status
    !f2py integer, intent(hide), depend(records) :: lrec = shape(records, 0)
    !f2py integer, intent(hide), depend(records) :: n = shape(records, 1)
    !f2py integer, intent(hide), depend(i0, i1) :: wx = i1 - i0 + 1
    !f2py integer, intent(hide), depend(j0, j1) :: wy = j1 - j0 + 1
    !f2py threadsafe
    integer(c_int) :: k, st
    checksums = -1
    status = 0
    if (wx /= i1 - i0 + 1 .or. wy /= j1 - j0 + 1 .or. lrec <= 50) then
        status = 1
        values = 0.0
        return
    end if
    do k = 1, n
        call arl_unpack(nx, lrec - 50, records(51:, k), nexp(k), prec(k), var1(k), &
            i0, i1, j0, j1, values(:, :, k), st)
        if (st /= 0) then
            status = st
            return
        end if
        if (want_checksums /= 0) checksums(k) = arl_checksum(lrec - 50, records(51:, k))
    end do
end subroutine arl_unpack_records

subroutine arl_pack_records(nx, ny, n, values, packed, nexp, prec, var1, checksums, status)
    !! Pack n fields (HYSPLIT PAKOUT) into bytes, with label numbers and checksums.
    !! status(k): 0 ok, 4 the field holds NaN or infinity.
    use, intrinsic :: iso_c_binding, only: c_int, c_float
    use stilt_arl, only: arl_pack, arl_checksum
    implicit none
    integer(c_int), intent(in) :: nx, ny, n
    real(c_float), intent(in) :: values(nx, ny, n)      !! fields, x fastest
    integer(kind=1), intent(out) :: packed(nx * ny, n)  !! packed bytes (no label)
    integer(c_int), intent(out) :: nexp(n)
    real(c_float), intent(out) :: prec(n), var1(n)
    integer(c_int), intent(out) :: checksums(n)
    integer(c_int), intent(out) :: status(n)
    !f2py integer, intent(hide), depend(values) :: nx = shape(values, 0)
    !f2py integer, intent(hide), depend(values) :: ny = shape(values, 1)
    !f2py integer, intent(hide), depend(values) :: n = shape(values, 2)
    integer(c_int) :: k
    do k = 1, n
        call arl_pack(nx, ny, values(:, :, k), packed(:, k), nexp(k), prec(k), var1(k), &
            status(k))
        checksums(k) = arl_checksum(nx * ny, packed(:, k))
    end do
end subroutine arl_pack_records

!! ---- stilt_footprint ----------------------------------------------------------------------
!! Particle fields are (np, nt) arrays: numpy's (time, indx) C-ordered arrays passed as `.T`
!! (no copy), NaN where a particle has no row. Index arguments are 1-based.
subroutine footprint_hnf(np, nt, order, abs_time_min, foot, samt, sigw, tlgr, dens, &
        mlht, z0, veght, depth_in, foot_out, depth_out)
    !! Hyper-near-field plume dilution of foot (docs/physics.md sec. 10.2), continued from the
    !! plume-depth sums depth_in of the earlier rows (zeros from the release; the transport
    !! applies it block by block of model steps). depth_out: the sums after these rows.
    use, intrinsic :: iso_c_binding, only: c_int, c_double
    use stilt_footprint, only: hnf_plume_dilution
    implicit none
    integer(c_int), intent(in) :: np, nt
    integer(c_int), intent(in) :: order(nt)
    real(c_double), intent(in) :: abs_time_min(nt)
    real(c_double), intent(in) :: foot(np, nt), samt(np, nt), sigw(np, nt), tlgr(np, nt), &
        dens(np, nt), mlht(np, nt)
    real(c_double), intent(in) :: z0(np), veght, depth_in(np)
    real(c_double), intent(out) :: foot_out(np, nt), depth_out(np)
    !f2py intent(hide), depend(foot) :: np = shape(foot, 0)
    !f2py intent(hide), depend(foot) :: nt = shape(foot, 1)
    !f2py threadsafe
    depth_out = depth_in
    call hnf_plume_dilution(np, nt, order, abs_time_min, foot, samt, sigw, tlgr, dens, mlht, &
        z0, veght, depth_out, foot_out)
end subroutine footprint_hnf

subroutine footprint_hnf_sp(np, nt, order, abs_time_min, foot, samt, sigw, tlgr, dens, &
        mlht, z0, veght, foot_out)
    !! footprint_hnf from the release (zero depths) on single-precision samt, sigw, tlgr,
    !! dens and mlht, as trajectory files store them: the same result as on those widened.
    use, intrinsic :: iso_c_binding, only: c_int, c_double, c_float
    use stilt_footprint, only: hnf_plume_dilution_sp
    implicit none
    integer(c_int), intent(in) :: np, nt
    integer(c_int), intent(in) :: order(nt)
    real(c_double), intent(in) :: abs_time_min(nt), foot(np, nt)
    real(c_float), intent(in) :: samt(np, nt), sigw(np, nt), tlgr(np, nt), dens(np, nt), &
        mlht(np, nt)
    real(c_double), intent(in) :: z0(np), veght
    real(c_double), intent(out) :: foot_out(np, nt)
    !f2py intent(hide), depend(foot) :: np = shape(foot, 0)
    !f2py intent(hide), depend(foot) :: nt = shape(foot, 1)
    real(c_double) :: depth(np)
    depth = 0.0_c_double
    call hnf_plume_dilution_sp(np, nt, order, abs_time_min, foot, samt, sigw, tlgr, dens, mlht, &
        z0, veght, depth, foot_out)
end subroutine footprint_hnf_sp

subroutine footprint_scan(np, nt, time, lon, lat, foot, rows, first_abs, status)
    !! Check the particle rows (complete or absent, finite, |lat| <= 90) and count them: rows
    !! per time, each particle's smallest |time| (inf without rows).
    use, intrinsic :: iso_c_binding, only: c_int, c_double
    use stilt_footprint, only: particle_scan
    implicit none
    integer(c_int), intent(in) :: np, nt
    real(c_double), intent(in) :: time(nt), lon(np, nt), lat(np, nt), foot(np, nt)
    integer(c_int), intent(out) :: rows(nt), status
    real(c_double), intent(out) :: first_abs(np)
    !f2py intent(hide), depend(lon) :: np = shape(lon, 0)
    !f2py intent(hide), depend(lon) :: nt = shape(lon, 1)
    call particle_scan(np, nt, time, lon, lat, foot, rows, first_abs, status)
end subroutine footprint_scan

subroutine footprint_step_medians(np, nt, order, time, lon, lat, medians)
    !! Median over particles of each particle's median |step| in lon and lat over its rows
    !! with |time| < 100 min (the near-field densification test, docs/physics.md sec. 10.4).
    use, intrinsic :: iso_c_binding, only: c_int, c_double
    use stilt_footprint, only: nearfield_step_medians
    implicit none
    integer(c_int), intent(in) :: np, nt
    integer(c_int), intent(in) :: order(nt)
    real(c_double), intent(in) :: time(nt), lon(np, nt), lat(np, nt)
    real(c_double), intent(out) :: medians(2)
    !f2py intent(hide), depend(lon) :: np = shape(lon, 0)
    !f2py intent(hide), depend(lon) :: nt = shape(lon, 1)
    call nearfield_step_medians(np, nt, order, time, lon, lat, medians(1), medians(2))
end subroutine footprint_step_medians

subroutine footprint_densify(np, nt, order, time, lon, lat, foot, nt2, time2, src, target, &
        time2_rounded, lon2, lat2, foot2, factors)
    !! Near-field densification onto the time axis time2 and per-window foot rescaling.
    use, intrinsic :: iso_c_binding, only: c_int, c_double
    use stilt_footprint, only: nearfield_densify
    implicit none
    integer(c_int), intent(in) :: np, nt, nt2
    integer(c_int), intent(in) :: order(nt)
    real(c_double), intent(in) :: time(nt), lon(np, nt), lat(np, nt), foot(np, nt)
    real(c_double), intent(in) :: time2(nt2), time2_rounded(nt2)
    integer(c_int), intent(in) :: src(nt2), target(nt2)
    real(c_double), intent(out) :: lon2(np, nt2), lat2(np, nt2), foot2(np, nt2), factors(3)
    !f2py intent(hide), depend(lon) :: np = shape(lon, 0)
    !f2py intent(hide), depend(lon) :: nt = shape(lon, 1)
    !f2py intent(hide), depend(time2) :: nt2 = len(time2)
    call nearfield_densify(np, nt, order, time, lon, lat, foot, nt2, time2, src, target, &
        time2_rounded, lon2, lat2, foot2, factors)
end subroutine footprint_densify

subroutine footprint_bandwidths(np, nt, lon, lat, mgroup, nm, gid, ng, rtime, smooth_factor, &
        longlat, w, counts)
    !! Gaussian kernel bandwidth of each rtime group (docs/physics.md sec. 10.6); NaN for groups
    !! of < 2.
    use, intrinsic :: iso_c_binding, only: c_int, c_double
    use stilt_footprint, only: kernel_bandwidths
    implicit none
    integer(c_int), intent(in) :: np, nt, nm, ng
    real(c_double), intent(in) :: lon(np, nt), lat(np, nt)
    integer(c_int), intent(in) :: mgroup(np), gid(nm, nt)
    real(c_double), intent(in) :: rtime(ng), smooth_factor
    integer(c_int), intent(in) :: longlat
    real(c_double), intent(out) :: w(ng)
    integer(c_int), intent(out) :: counts(ng)
    !f2py intent(hide), depend(lon) :: np = shape(lon, 0)
    !f2py intent(hide), depend(lon) :: nt = shape(lon, 1)
    !f2py intent(hide), depend(gid) :: nm = shape(gid, 0)
    !f2py intent(hide), depend(rtime) :: ng = len(rtime)
    call kernel_bandwidths(np, nt, lon, lat, mgroup, nm, gid, ng, rtime, smooth_factor, &
        longlat, w, counts)
end subroutine footprint_bandwidths

subroutine footprint_kernel_half_width(n, sigma, res, half)
    !! Nodes each side of the Gaussian kernel of bandwidth sigma on spacing res (sec. 10.7).
    use, intrinsic :: iso_c_binding, only: c_int, c_double
    use stilt_footprint, only: kernel_half_width
    implicit none
    integer(c_int), intent(in) :: n
    real(c_double), intent(in) :: sigma(n), res
    integer(c_int), intent(out) :: half(n)
    !f2py intent(hide), depend(sigma) :: n = len(sigma)
    integer(c_int) :: i
    do i = 1, n
        half(i) = kernel_half_width(sigma(i), res)
    end do
end subroutine footprint_kernel_half_width

subroutine footprint_accumulate_grid(np, nt, lon, lat, foot, time, mgroup, nm, gid, ng, sigma, &
        xres, yres, bounds, nxe, xedges, nye, yedges, bx, by, nx, ny, time_integrate, layer0, &
        nl, grid, hit, mass, status)
    !! Binning, kernel application and accumulation onto grid(nx, ny, nl) (docs/physics.md sec. 10.7),
    !! not yet divided by the particle count. mass = (foot > 0 total, kept total, rows kept,
    !! rows with foot > 0).
    use, intrinsic :: iso_c_binding, only: c_int, c_double
    use stilt_footprint, only: footprint_accumulate
    implicit none
    integer(c_int), intent(in) :: np, nt, nm, ng, nxe, nye, bx, by, nx, ny, nl
    real(c_double), intent(in) :: lon(np, nt), lat(np, nt), foot(np, nt), time(nt)
    integer(c_int), intent(in) :: mgroup(np), gid(nm, nt)
    real(c_double), intent(in) :: sigma(ng), xres, yres, bounds(4), xedges(nxe), yedges(nye)
    integer(c_int), intent(in) :: time_integrate, layer0
    real(c_double), intent(out) :: grid(nx, ny, nl), mass(4)
    integer(c_int), intent(out) :: hit(nl), status
    !f2py intent(hide), depend(lon) :: np = shape(lon, 0)
    !f2py intent(hide), depend(lon) :: nt = shape(lon, 1)
    !f2py intent(hide), depend(gid) :: nm = shape(gid, 0)
    !f2py intent(hide), depend(sigma) :: ng = len(sigma)
    !f2py intent(hide), depend(xedges) :: nxe = len(xedges)
    !f2py intent(hide), depend(yedges) :: nye = len(yedges)
    call footprint_accumulate(np, nt, lon, lat, foot, time, mgroup, nm, gid, ng, sigma, xres, &
        yres, bounds, nxe, xedges, nye, yedges, bx, by, nx, ny, time_integrate, layer0, nl, &
        grid, hit, mass, status)
end subroutine footprint_accumulate_grid
