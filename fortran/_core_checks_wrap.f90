!! Wrappers that expose single kernels and layouts of the core to the tests only
!! (tests/test_turbulence.py, test_random.py, test_transport*.py, test_packaging.py); production
!! code never calls them (tests/test_packaging.py checks it). f2py reads this file together with
!! _core_wrap.f90 into the one module stilt._core; the same rules hold: iso_c_binding kinds,
!! explicit-shape arrays, integer status codes. One section per module.

!! ---- stilt_kinds -------------------------------------------------------------------------
subroutine core_status_codes(codes)
    !! The status codes of stilt_kinds, in the order: ok, bad_argument, bad_checksum,
    !! out_of_range, not_finite (lets Python check it agrees with the core).
    use, intrinsic :: iso_c_binding, only: c_int
    use stilt_kinds, only: status_ok, status_bad_argument, status_bad_checksum, &
        status_out_of_range, status_not_finite
    implicit none
    integer(c_int), intent(out) :: codes(5)
    codes = [status_ok, status_bad_argument, status_bad_checksum, status_out_of_range, &
        status_not_finite]
end subroutine core_status_codes

!! ---- stilt_random -------------------------------------------------------------------------
subroutine random_normals(seed, n, streams, m, values)
    !! m standard Gaussian deviates from each of n particle streams (stream numbers given).
    use, intrinsic :: iso_c_binding, only: c_int, c_int64_t, c_double
    use stilt_random, only: rng_state_size, rng_seed, rng_normal
    implicit none
    integer(c_int64_t), intent(in) :: seed          !! run seed
    integer(c_int), intent(in) :: n                 !! number of streams
    integer(c_int64_t), intent(in) :: streams(n)    !! stream (particle) numbers
    integer(c_int), intent(in) :: m                 !! deviates per stream
    real(c_double), intent(out) :: values(m, n)     !! deviates, one column per stream
    !f2py intent(hide), depend(streams) :: n = len(streams)
    integer(c_int) :: state(rng_state_size), i, j
    do j = 1, n
        call rng_seed(seed, streams(j), state)
        do i = 1, m
            call rng_normal(state, values(i, j))
        end do
    end do
end subroutine random_normals

subroutine random_ziggurat_edges(r, x)
    !! The Gaussian ziggurat's tail start r and its 129 layer edges x_0..x_128.
    use, intrinsic :: iso_c_binding, only: c_double
    use stilt_random, only: rng_ziggurat_edges
    implicit none
    real(c_double), intent(out) :: r         !! tail start
    real(c_double), intent(out) :: x(129)    !! edges
    call rng_ziggurat_edges(r, x)
end subroutine random_ziggurat_edges

subroutine random_uniforms(seed, n, streams, m, values)
    !! m uniform (0, 1) deviates from each of n particle streams (stream numbers given).
    use, intrinsic :: iso_c_binding, only: c_int, c_int64_t, c_double
    use stilt_random, only: rng_state_size, rng_seed, rng_uniform
    implicit none
    integer(c_int64_t), intent(in) :: seed          !! run seed
    integer(c_int), intent(in) :: n                 !! number of streams
    integer(c_int64_t), intent(in) :: streams(n)    !! stream (particle) numbers
    integer(c_int), intent(in) :: m                 !! deviates per stream
    real(c_double), intent(out) :: values(m, n)     !! deviates, one column per stream
    !f2py intent(hide), depend(streams) :: n = len(streams)
    integer(c_int) :: state(rng_state_size), i, j
    do j = 1, n
        call rng_seed(seed, streams(j), state)
        do i = 1, m
            call rng_uniform(state, values(i, j))
        end do
    end do
end subroutine random_uniforms

!! ---- stilt_turbulence ---------------------------------------------------------------------
subroutine turbulence_column(nz, z, temp, pres, q, dens, u, v, tke, momentum, heat, ustr, &
        umof, vmof, exco, tstr, shtf, pblh, z0, kbls, kmixd, kmix0, kzmix, tvmix, tkerd, &
        tkern, ziscale, ks, kdat, scalars, sigw, tl, sigu, sigv, status)
    !! Stability, mixed-layer height and sigma/T_L profiles of one column on internal levels.
    !! scalars = (u* m/s, theta* K, w* m/s, z/L, L m, zi m). momentum: 0 none, 1 USTR,
    !! 2 UMOF/VMOF, 3 EXCO; heat: 0 none, 1 TSTR, 2 SHTF (W/m2 upward). pblh < 0: absent.
    use, intrinsic :: iso_c_binding, only: c_int, c_double
    use stilt_turbulence, only: surface_met, turb_options, column_state, column_turbulence
    implicit none
    integer(c_int), intent(in) :: nz
    real(c_double), intent(in) :: z(nz), temp(nz), pres(nz), q(nz), dens(nz), u(nz), v(nz), &
        tke(nz)
    integer(c_int), intent(in) :: momentum, heat
    real(c_double), intent(in) :: ustr, umof, vmof, exco, tstr, shtf, pblh, z0
    integer(c_int), intent(in) :: kbls, kmixd, kmix0, kzmix
    real(c_double), intent(in) :: tvmix, tkerd, tkern, ziscale
    integer(c_int), intent(in) :: ks, kdat
    real(c_double), intent(out) :: scalars(6)
    real(c_double), intent(out) :: sigw(nz), tl(nz), sigu(nz), sigv(nz)
    integer(c_int), intent(out) :: status
    !f2py intent(hide), depend(z) :: nz = len(z)
    type(surface_met) :: sfc
    type(turb_options) :: opts
    type(column_state) :: st
    sfc = surface_met(momentum=momentum, heat=heat, ustr=ustr, umof=umof, vmof=vmof, &
        exco=exco, tstr=tstr, shtf=shtf, pblh=pblh, z0=z0)
    opts%kbls = kbls
    opts%kmixd = kmixd
    opts%kmix0 = kmix0
    opts%kzmix = kzmix
    opts%tvmix = tvmix
    opts%tkerd = tkerd
    opts%tkern = tkern
    opts%ziscale = ziscale
    opts%ks = ks
    opts%kdat = kdat
    call column_turbulence(nz, z, temp, pres, q, dens, u, v, tke, sfc, opts, st, sigw, tl, &
        sigu, sigv, status)
    scalars = [st%ustar, st%tstar, st%wstar, st%zeta, st%obukhov, st%zi]
end subroutine turbulence_column

subroutine turbulence_surface_layer(n, nz, z, temp, pres, q, dens, u, v, momentum, heat, ustr, &
        umof, vmof, exco, tstr, shtf, z0, kbls, ks, kdat, ustar, tstar, zeta)
    !! Surface-layer stability of one column for n sets of surface fluxes.
    use, intrinsic :: iso_c_binding, only: c_int, c_double
    use stilt_stability, only: surface_met, surface_layer
    use stilt_turbulence, only: virtual_potential_temperature
    implicit none
    integer(c_int), intent(in) :: n, nz
    real(c_double), intent(in) :: z(nz), temp(nz), pres(nz), q(nz), dens(nz), u(nz), v(nz)
    integer(c_int), intent(in) :: momentum, heat
    real(c_double), intent(in) :: ustr(n), umof(n), vmof(n), exco(n), tstr(n), shtf(n)
    real(c_double), intent(in) :: z0
    integer(c_int), intent(in) :: kbls, ks, kdat
    real(c_double), intent(out) :: ustar(n), tstar(n), zeta(n)
    !f2py intent(hide), depend(z) :: nz = len(z)
    !f2py intent(hide), depend(ustr) :: n = len(ustr)
    type(surface_met) :: sfc
    real(c_double) :: thv(nz)
    integer(c_int) :: i
    thv = virtual_potential_temperature(temp, pres, q)
    do i = 1, n
        sfc = surface_met(momentum=momentum, heat=heat, ustr=ustr(i), umof=umof(i), &
            vmof=vmof(i), exco=exco(i), tstr=tstr(i), shtf=shtf(i), z0=z0)
        call surface_layer(nz, z, thv, dens, u, v, ks, kdat, kbls, sfc, ustar(i), tstar(i), &
            zeta(i))
    end do
end subroutine turbulence_surface_layer

subroutine turbulence_zicontrol_scale(n, scales, m, minutes, factors)
    !! ZICONTROL factors for m met times given in minutes since the simulation start.
    use, intrinsic :: iso_c_binding, only: c_int, c_double
    use stilt_turbulence, only: zicontrol_scale
    implicit none
    integer(c_int), intent(in) :: n, m
    real(c_double), intent(in) :: scales(n), minutes(m)
    real(c_double), intent(out) :: factors(m)
    !f2py intent(hide), depend(scales) :: n = len(scales)
    !f2py intent(hide), depend(minutes) :: m = len(minutes)
    integer(c_int) :: i
    do i = 1, m
        factors(i) = zicontrol_scale(n, scales, minutes(i))
    end do
end subroutine turbulence_zicontrol_scale

subroutine turbulence_interpolate_in_time(nz, nv, z, tf, zi1, zi2, prof1, prof2, zi, prof)
    !! Profiles (nz levels x nv variables) between two met times along zi-normalised height.
    use, intrinsic :: iso_c_binding, only: c_int, c_double
    use stilt_turbulence, only: interpolate_in_time
    implicit none
    integer(c_int), intent(in) :: nz, nv
    real(c_double), intent(in) :: z(nz), tf, zi1, zi2, prof1(nz, nv), prof2(nz, nv)
    real(c_double), intent(out) :: zi, prof(nz, nv)
    !f2py intent(hide), depend(prof1) :: nz = shape(prof1, 0), nv = shape(prof1, 1)
    call interpolate_in_time(nz, nv, z, tf, zi1, zi2, prof1, prof2, zi, prof)
end subroutine turbulence_interpolate_in_time

subroutine met_foot_density(n, dens, theta, rh, d)
    !! The reference binary's foot density of one half step (stilt_met.foot_density).
    use, intrinsic :: iso_c_binding, only: c_int, c_double
    use stilt_met, only: foot_density
    implicit none
    integer(c_int), intent(in) :: n
    real(c_double), intent(in) :: dens(n), theta(n), rh(n)
    real(c_double), intent(out) :: d(n)
    !f2py intent(hide), depend(dens) :: n = len(dens)
    d = foot_density(dens, theta, rh)
end subroutine met_foot_density

!! ---- stilt_dispersion ---------------------------------------------------------------------
subroutine dispersion_column_mass(n, zl, densd, hv, mass)
    !! Dry-air column mass below hv (kg/m2) on step-function levels (docs/physics.md sec. 7.2).
    use, intrinsic :: iso_c_binding, only: c_int, c_double
    use stilt_dispersion, only: column_mass_below
    implicit none
    integer(c_int), intent(in) :: n
    real(c_double), intent(in) :: zl(n), densd(n), hv
    real(c_double), intent(out) :: mass
    !f2py intent(hide), depend(zl) :: n = len(zl)
    mass = column_mass_below(n, zl, densd, hv)
end subroutine dispersion_column_mass

subroutine dispersion_steady_run(nz, zsg, depth, dt, nsteps, m, tlfrac, veght, hscale, ztop, &
        zi, sigw, tl, sigu, sigv, dens, densd, ug, vg, gdisx, gdisy, seed, sigma0, sigma, x, &
        y, foot, samt, sigw_used, tl_used, status)
    !! nsteps model steps of STILT dispersion for m particles (streams 1..m) in a steady
    !! column (same profiles at both ends of every step), starting at sigma0 with zero
    !! turbulent velocities at x = y = 0. Returns final sigma, x, y, the accumulated foot and
    !! samt, the last sigma_w / T_L, and the worst status.
    use, intrinsic :: iso_c_binding, only: c_int, c_int64_t, c_double
    use stilt_random, only: rng_state_size, rng_seed
    use stilt_dispersion, only: disp_options, dispersion_step
    implicit none
    integer(c_int), intent(in) :: nz, nsteps, m
    real(c_double), intent(in) :: zsg(nz), depth, dt, tlfrac, veght, hscale, ztop, zi
    real(c_double), intent(in) :: sigw(nz), tl(nz), sigu(nz), sigv(nz), dens(nz), densd(nz), &
        ug(nz), vg(nz), gdisx, gdisy
    integer(c_int64_t), intent(in) :: seed
    real(c_double), intent(in) :: sigma0(m)
    real(c_double), intent(out) :: sigma(m), x(m), y(m), foot(m), samt(m), sigw_used(m), &
        tl_used(m)
    integer(c_int), intent(out) :: status
    !f2py intent(hide), depend(zsg) :: nz = len(zsg)
    !f2py intent(hide), depend(sigma0) :: m = len(sigma0)
    type(disp_options) :: opts
    real(c_double) :: zi2(2), sw(nz, 2), tl2(nz, 2), su(nz, 2), sv(nz, 2), de(nz, 2), &
        dd(nz, 2), u2(nz, 2), v2(nz, 2), dm(nz, 2), wnorm, up, vp, dmas
    integer(c_int) :: state(rng_state_size), i, it, st
    opts%tlfrac = tlfrac
    opts%veght = veght
    opts%hscale = hscale
    opts%ztop = ztop
    zi2 = zi
    sw = spread(sigw, 2, 2)
    tl2 = spread(tl, 2, 2)
    su = spread(sigu, 2, 2)
    sv = spread(sigv, 2, 2)
    de = spread(dens, 2, 2)
    dd = spread(densd, 2, 2)
    u2 = spread(ug, 2, 2)
    v2 = spread(vg, 2, 2)
    dm = 0.0_c_double
    status = 0
    do i = 1, m
        call rng_seed(seed, int(i, c_int64_t), state)
        sigma(i) = sigma0(i)
        x(i) = 0.0_c_double
        y(i) = 0.0_c_double
        foot(i) = 0.0_c_double
        samt(i) = 0.0_c_double
        wnorm = 0.0_c_double
        up = 0.0_c_double
        vp = 0.0_c_double
        dmas = 1.0_c_double
        do it = 1, nsteps
            call dispersion_step(nz, zsg, depth, dt, opts, zi2, sw, tl2, su, sv, de, dd, u2, &
                v2, dm, gdisx, gdisy, 1.0_c_double, sigma(i), wnorm, up, vp, x(i), y(i), dmas, foot(i), &
                samt(i), sigw_used(i), tl_used(i), state, st)
            if (st /= 0) then
                status = max(status, st)
                exit
            end if
        end do
    end do
end subroutine dispersion_steady_run

subroutine dispersion_levels_on_demand(nz, zsg, depth, dt, nsteps, m, zi, sigw, tl, sigu, &
        sigv, dens, ug, vg, seed, sigma0, nk, sigma, x, y, foot, samt, redone, status)
    !! nsteps model steps of STILT dispersion (R-STILT options) for m particles in a steady
    !! column, each step first given only levels 1..nk of the profiles (those above are NaN)
    !! and, where it returns status_need_levels, done again from the same state with all
    !! levels, as the transport loop does. redone: how many steps were done again.
    use, intrinsic :: iso_c_binding, only: c_int, c_int64_t, c_double
    use, intrinsic :: ieee_arithmetic, only: ieee_value, ieee_quiet_nan
    use stilt_random, only: rng_state_size, rng_seed
    use stilt_dispersion, only: disp_options, dispersion_step, status_need_levels
    implicit none
    integer(c_int), intent(in) :: nz, nsteps, m, nk
    real(c_double), intent(in) :: zsg(nz), depth, dt, zi
    real(c_double), intent(in) :: sigw(nz), tl(nz), sigu(nz), sigv(nz), dens(nz), ug(nz), vg(nz)
    integer(c_int64_t), intent(in) :: seed
    real(c_double), intent(in) :: sigma0(m)
    real(c_double), intent(out) :: sigma(m), x(m), y(m), foot(m), samt(m)
    integer(c_int), intent(out) :: redone, status
    !f2py intent(hide), depend(zsg) :: nz = len(zsg)
    !f2py intent(hide), depend(sigma0) :: m = len(sigma0)
    type(disp_options) :: opts
    real(c_double) :: zi2(2), full(nz, 2, 7), part(nz, 2, 7), dm(nz, 2), wnorm, up, vp, dmas, &
        sw_used, tl_used, saved(9), nan
    integer(c_int) :: state(rng_state_size), state0(rng_state_size), i, it, st, k
    nan = ieee_value(1.0_c_double, ieee_quiet_nan)
    zi2 = zi
    do k = 1, 2
        full(:, k, 1) = sigw; full(:, k, 2) = tl; full(:, k, 3) = sigu; full(:, k, 4) = sigv
        full(:, k, 5) = dens; full(:, k, 6) = ug; full(:, k, 7) = vg
    end do
    part = full
    part(nk + 1:, :, :) = nan
    dm = 0.0_c_double
    status = 0
    redone = 0
    do i = 1, m
        call rng_seed(seed, int(i, c_int64_t), state)
        sigma(i) = sigma0(i); x(i) = 0.0_c_double; y(i) = 0.0_c_double
        foot(i) = 0.0_c_double; samt(i) = 0.0_c_double
        wnorm = 0.0_c_double; up = 0.0_c_double; vp = 0.0_c_double; dmas = 1.0_c_double
        do it = 1, nsteps
            saved = [sigma(i), x(i), y(i), foot(i), samt(i), wnorm, up, vp, dmas]
            state0 = state
            call dispersion_step(nz, zsg, depth, dt, opts, zi2, part(:, :, 1), part(:, :, 2), &
                part(:, :, 3), part(:, :, 4), part(:, :, 5), part(:, :, 5), part(:, :, 6), &
                part(:, :, 7), dm, 3000.0_c_double, 3000.0_c_double, 1.0_c_double, sigma(i), &
                wnorm, up, vp, x(i), y(i), dmas, foot(i), samt(i), sw_used, tl_used, state, &
                st, nk)
            if (st == status_need_levels) then
                redone = redone + 1
                sigma(i) = saved(1); x(i) = saved(2); y(i) = saved(3); foot(i) = saved(4)
                samt(i) = saved(5); wnorm = saved(6); up = saved(7); vp = saved(8)
                dmas = saved(9); state = state0
                call dispersion_step(nz, zsg, depth, dt, opts, zi2, full(:, :, 1), &
                    full(:, :, 2), full(:, :, 3), full(:, :, 4), full(:, :, 5), full(:, :, 5), &
                    full(:, :, 6), full(:, :, 7), dm, 3000.0_c_double, 3000.0_c_double, &
                    1.0_c_double, sigma(i), wnorm, up, vp, x(i), y(i), dmas, foot(i), samt(i), &
                    sw_used, tl_used, state, st)
            end if
            if (st /= 0) then
                status = max(status, st)
                exit
            end if
        end do
    end do
end subroutine dispersion_levels_on_demand

!! ---- stilt_transport_error ----------------------------------------------------------------
subroutine transport_error_series(nz, z, nsteps, m, dt, sig_uv, tl_uv, zcor, horcor, dist, &
        sig_zi, tl_zi, horcor_zi, seed, eu, ev, eps)
    !! Wind-error profiles (m/s) and zi errors (%) of m particles (streams 1..m) at release
    !! (step index 1) and after each of nsteps steps of dt minutes moving dist km per step.
    use, intrinsic :: iso_c_binding, only: c_int, c_int64_t, c_double
    use stilt_random, only: rng_state_size, rng_seed
    use stilt_transport_error, only: wind_error_init, wind_error_step, zi_error_init, &
        zi_error_step
    implicit none
    integer(c_int), intent(in) :: nz, nsteps, m
    real(c_double), intent(in) :: z(nz), dt, sig_uv, tl_uv, zcor, horcor, dist, sig_zi, tl_zi, &
        horcor_zi
    integer(c_int64_t), intent(in) :: seed
    real(c_double), intent(out) :: eu(nz, nsteps + 1, m), ev(nz, nsteps + 1, m), &
        eps(nsteps + 1, m)
    !f2py intent(hide), depend(z) :: nz = len(z)
    integer(c_int) :: state(rng_state_size), i, it
    do i = 1, m
        call rng_seed(seed, int(i, c_int64_t), state)
        call wind_error_init(nz, z, sig_uv, zcor, state, eu(:, 1, i), ev(:, 1, i))
        call zi_error_init(sig_zi, state, eps(1, i))
        do it = 1, nsteps
            eu(:, it + 1, i) = eu(:, it, i)
            ev(:, it + 1, i) = ev(:, it, i)
            eps(it + 1, i) = eps(it, i)
            call wind_error_step(nz, z, dt, sig_uv, tl_uv, zcor, horcor, dist, state, &
                eu(:, it + 1, i), ev(:, it + 1, i))
            call zi_error_step(dt, sig_zi, tl_zi, horcor_zi, dist, state, eps(it + 1, i))
        end do
    end do
end subroutine transport_error_series

!! ---- stilt_met ----------------------------------------------------------------------------
subroutine met_layout(nprof_out, nsfc_out)
    !! Sizes of the profile and surface variable axes (stilt/met/window.py checks them).
    use, intrinsic :: iso_c_binding, only: c_int
    use stilt_met, only: nprof, nsfc
    implicit none
    integer(c_int), intent(out) :: nprof_out, nsfc_out
    nprof_out = nprof
    nsfc_out = nsfc
end subroutine met_layout

subroutine met_raw_slots(nraw_out, temp, u, v, w, q, rh, pres, hgts)
    !! The number of data-level columns per node and the (1-based) slot of each (stilt_met
    !! rv_*), named as stilt/met/window.py RAW_SLOTS names them (the test reads them by name).
    use, intrinsic :: iso_c_binding, only: c_int
    use stilt_met, only: nraw, rv_temp, rv_u, rv_v, rv_w, rv_q, rv_rh, rv_pres, rv_hgts
    implicit none
    integer(c_int), intent(out) :: nraw_out, temp, u, v, w, q, rh, pres, hgts
    nraw_out = nraw
    temp = rv_temp; u = rv_u; v = rv_v; w = rv_w; q = rv_q; rh = rv_rh; pres = rv_pres
    hgts = rv_hgts
end subroutine met_raw_slots

subroutine met_unpack_remap(nrpar, rpar, ksys, ptop, w_kind, humidity, have_pres, have_hgts, &
        status)
    !! rpar unpacked as met_remap and transport_advance unpack it (stilt/met/window.py
    !! REMAP_SLOTS). status 1: wrong size.
    use, intrinsic :: iso_c_binding, only: c_double, c_int
    use stilt_met, only: remap_options
    use stilt_layout, only: unpack_remap, n_rpar
    implicit none
    integer(c_int), intent(in) :: nrpar
    !f2py intent(hide), depend(rpar) :: nrpar = len(rpar)
    real(c_double), intent(in) :: rpar(nrpar)
    integer(c_int), intent(out) :: ksys, w_kind, humidity, have_pres, have_hgts, status
    real(c_double), intent(out) :: ptop
    type(remap_options) :: ro
    status = 1
    ksys = 0; w_kind = 0; humidity = 0; have_pres = 0; have_hgts = 0; ptop = 0.0_c_double
    if (nrpar /= n_rpar) return
    status = 0
    ro = unpack_remap(rpar)
    ksys = ro%ksys; w_kind = ro%w_kind; humidity = ro%humidity; ptop = ro%ptop
    have_pres = merge(1, 0, ro%have_pres); have_hgts = merge(1, 0, ro%have_hgts)
end subroutine met_unpack_remap

!! ---- stilt_transport ----------------------------------------------------------------------
subroutine transport_diag_slots(ndiag_out, x, y, zagl, zsfc, temp, pres, dens, temz, wout, &
        shtf, whtf, dswf, tcld, lcld, rain, crai, sphu, rhfr, solw, sigw, tlgr, mlht, samt, &
        foot, dmas, icdx, zloc, zcfx)
    !! The number of diagnostic columns per output row and the (1-based) column of each, named
    !! as stilt/_transport_loop.py DC names them (the test reads them back by name).
    use, intrinsic :: iso_c_binding, only: c_int
    use stilt_transport, only: ndiag, dc_x, dc_y, dc_zagl, dc_zsfc, dc_temp, dc_pres, &
            dc_dens, dc_temz, dc_wout, dc_shtf, dc_whtf, dc_dswf, dc_tcld, dc_lcld, dc_rain, &
            dc_crai, dc_sphu, dc_rhfr, dc_solw, dc_sigw, dc_tlgr, dc_mlht, dc_samt, dc_foot, &
            dc_dmas, dc_icdx, dc_zloc, dc_zcfx
    implicit none
    integer(c_int), intent(out) :: ndiag_out, x, y, zagl, zsfc, temp, pres, dens, temz, &
            wout, shtf, whtf, dswf, tcld, lcld, rain, crai, sphu, rhfr, solw, sigw, tlgr, &
            mlht, samt, foot, dmas, icdx, zloc, zcfx
    ndiag_out = ndiag
    x = dc_x; y = dc_y; zagl = dc_zagl; zsfc = dc_zsfc; temp = dc_temp; pres = dc_pres
    dens = dc_dens; temz = dc_temz; wout = dc_wout; shtf = dc_shtf; whtf = dc_whtf
    dswf = dc_dswf; tcld = dc_tcld; lcld = dc_lcld; rain = dc_rain; crai = dc_crai
    sphu = dc_sphu; rhfr = dc_rhfr; solw = dc_solw; sigw = dc_sigw; tlgr = dc_tlgr
    mlht = dc_mlht; samt = dc_samt; foot = dc_foot; dmas = dc_dmas; icdx = dc_icdx
    zloc = dc_zloc; zcfx = dc_zcfx
end subroutine transport_diag_slots

subroutine transport_particle_status(codes)
    !! The particle status codes of stilt_transport in the order: alive, left_grid, window,
    !! not_started (stilt/_transport_loop.py ParticleStatus mirrors them).
    use, intrinsic :: iso_c_binding, only: c_int
    use stilt_transport, only: ps_alive, ps_left_grid, ps_window, ps_not_started
    implicit none
    integer(c_int), intent(out) :: codes(4)
    codes = [ps_alive, ps_left_grid, ps_window, ps_not_started]
end subroutine transport_particle_status

!! ---- stilt_layout -------------------------------------------------------------------------
!! The slots of the packed arrays, read back by name: Python packs a distinct value per name
!! and checks each comes back under that name (the outputs are named as Python names slots).
subroutine transport_unpack_options(nwpar, wpar, ntopt, topt, ndopt, dopt, nerr, errpar, i0, &
        j0, nx_full, ny_full, wrap_x, z_top, t1, t2, aa, bb, cc, kbls, kmixd, kmix0, kzmix, &
        tvmix, tkerd, tkern, ziscale1, ziscale2, ks, z0, tratio, nturb, tlfrac, veght, &
        hscale, winderrtf, siguverr, tluverr, zcoruverr, horcoruverr, sigzierr, tlzierr, &
        horcorzierr, status)
    !! wpar, topt, dopt and errpar unpacked as transport_advance unpacks them. status 1: wrong
    !! size.
    use, intrinsic :: iso_c_binding, only: c_double, c_int
    use stilt_transport, only: turb_options, disp_options, error_options, met_window
    use stilt_layout, only: unpack_window, unpack_turb, unpack_step, unpack_errors, n_wpar, &
        n_topt, n_dopt, n_errpar
    implicit none
    integer(c_int), intent(in) :: nwpar, ntopt, ndopt, nerr
    !f2py intent(hide), depend(wpar) :: nwpar = len(wpar)
    !f2py intent(hide), depend(topt) :: ntopt = len(topt)
    !f2py intent(hide), depend(dopt) :: ndopt = len(dopt)
    !f2py intent(hide), depend(errpar) :: nerr = len(errpar)
    real(c_double), intent(in) :: wpar(nwpar), topt(ntopt), dopt(ndopt), errpar(nerr)
    integer(c_int), intent(out) :: i0, j0, nx_full, ny_full, wrap_x
    real(c_double), intent(out) :: z_top, t1, t2, aa, bb, cc
    integer(c_int), intent(out) :: kbls, kmixd, kmix0, kzmix, ks, nturb, winderrtf, status
    real(c_double), intent(out) :: tvmix, tkerd, tkern, ziscale1, ziscale2, z0, tratio, tlfrac, &
        veght, hscale, siguverr, tluverr, zcoruverr, horcoruverr, sigzierr, tlzierr, horcorzierr
    type(met_window) :: w
    type(turb_options) :: t1o, t2o
    type(disp_options) :: dopts
    type(error_options) :: eopts
    status = 1
    if (nwpar /= n_wpar .or. ntopt /= n_topt .or. ndopt /= n_dopt .or. nerr /= n_errpar) return
    status = 0
    w = unpack_window(wpar, 2, 2, 3)
    i0 = w%i0; j0 = w%j0; nx_full = w%nx_full; ny_full = w%ny_full
    wrap_x = merge(1, 0, w%wrap_x); z_top = w%z_top; t1 = w%t1; t2 = w%t2
    aa = w%aa; bb = w%bb; cc = w%cc
    call unpack_turb(topt, t1o, t2o, z0)
    call unpack_step(dopt, z_top, dopts, tratio, nturb)
    if (dopts%ztop /= z_top) status = 1
    eopts = unpack_errors(errpar)
    kbls = t1o%kbls; kmixd = t1o%kmixd; kmix0 = t1o%kmix0; kzmix = t1o%kzmix
    tvmix = t1o%tvmix; tkerd = t1o%tkerd; tkern = t1o%tkern
    ziscale1 = t1o%ziscale; ziscale2 = t2o%ziscale; ks = t1o%ks
    if (t2o%kbls /= kbls .or. t2o%ks /= ks .or. t2o%tkern /= tkern) status = 1
    tlfrac = dopts%tlfrac; veght = dopts%veght; hscale = dopts%hscale
    winderrtf = eopts%winderrtf; siguverr = eopts%sig_uv; tluverr = eopts%tl_uv
    zcoruverr = eopts%zcor; horcoruverr = eopts%horcor; sigzierr = eopts%sig_zi
    tlzierr = eopts%tl_zi; horcorzierr = eopts%horcor_zi
end subroutine transport_unpack_options

subroutine transport_unpack_state(np, nst, state, x, y, s, wnorm, up, vp, dmas, xc, yc, status)
    !! The columns of the particle state array as transport_advance hands them on.
    use, intrinsic :: iso_c_binding, only: c_double, c_int
    use stilt_layout, only: n_state, st_x, st_y, st_s, st_wnorm, st_up, st_vp, st_dmas, st_xc, &
        st_yc
    implicit none
    integer(c_int), intent(in) :: np, nst
    !f2py intent(hide), depend(state) :: np = shape(state, 0), nst = shape(state, 1)
    real(c_double), intent(in) :: state(np, nst)
    real(c_double), intent(out), dimension(np) :: x, y, s, wnorm, up, vp, dmas, xc, yc
    integer(c_int), intent(out) :: status
    x = 0.0_c_double; y = x; s = x; wnorm = x; up = x; vp = x; dmas = x; xc = x; yc = x
    status = 1
    if (nst /= n_state) return
    status = 0
    x = state(:, st_x); y = state(:, st_y); s = state(:, st_s); wnorm = state(:, st_wnorm)
    up = state(:, st_up); vp = state(:, st_vp); dmas = state(:, st_dmas)
    xc = state(:, st_xc); yc = state(:, st_yc)
end subroutine transport_unpack_state
