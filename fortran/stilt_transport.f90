!! stilt_transport: the particle time loop (docs/physics.md sec. 4, sec. 6.1, sec. 7.3). It advances every
!! particle through one met interval [t1, t2] (two met times of one window, as read; each
!! node is remapped onto the internal levels, see stilt_met, when a particle first reads it:
!! ensure_node, ensure_cell) with the Petterssen predictor-corrector, and returns one row of
!! diagnostics per particle per model step. Python calls it once per met interval; particles
!! that reach the window edge are reported so the caller can grow the window and redo the
!! interval.
!!
!! Turbulence (nturb = 0): `ensure_node` evaluates stability, mixed-layer height and the
!! sigma_w / T_L / sigma_u / sigma_v profiles once per met grid node and met time, on first use
!! (stilt_turbulence.column_turbulence). In each step a particle takes those of the nearest met
!! node, no blending (docs/physics.md sec. 5.7): at the end of the step the node nearest to its
!! mean-advected position, at the start those of the end of its previous step; interpolated in
!! time along zi-normalised height, and the mean wind and densities bilinearly at its position;
!! then stilt_dispersion.dispersion_step does the STILT vertical scheme, horizontal turbulence
!! and foot/samt (docs/physics.md sec. 6, sec. 7).
module stilt_transport
    use, intrinsic :: ieee_arithmetic, only: ieee_value, ieee_quiet_nan, ieee_is_finite
    use stilt_kinds, only: dp, ip, status_ok, sgl => sp, sec_per_min, min_per_hour
    use stilt_met, only: nprof, nsfc, pv_u, pv_v, pv_w, pv_t, pv_p, pv_rho, pv_q, pv_rh, pv_wms, &
        pv_rhom, pv_rhof1, pv_rhof2, pv_dat, sv_zg, sv_shtf, sv_lhtf, sv_dswf, sv_tcld, sv_lcld, &
        sv_rain, sv_crai, sv_solw, &
        sv_ustr, sv_umof, sv_vmof, sv_exco, sv_tstr, sv_pblh, sv_rghs, &
        vertical_weights, index_weights, bilinear_weights, remap_node, remap_options, nraw, &
        node_columns
    use stilt_random, only: rng_state_size
    use stilt_turbulence, only: time_levels, surface_met, turb_options, column_state, column_turbulence, &
        mom_none, mom_ustar, mom_flux, mom_exco, heat_none, heat_tstar, heat_flux
    use stilt_dispersion, only: disp_options, dispersion_step, levels_needed, status_need_levels
    use stilt_transport_error, only: wind_error_init, wind_error_step, zi_error_init, &
        zi_error_step, zi_error_factor
    implicit none
    private

    public :: advance_interval, surface_at, init_errors
    public :: turb_options, disp_options, error_options

    type :: error_options
        !! Transport-error options (docs/physics.md sec. 8; winderrtf 1 wind, 2 zi, 3 both).
        integer(ip) :: winderrtf = 0
        real(dp) :: sig_uv = 0.0_dp, tl_uv = 1.0_dp, zcor = 1.0_dp, horcor = 1.0_dp  !! m/s, min, m, km
        real(dp) :: sig_zi = 0.0_dp, tl_zi = 1.0_dp, horcor_zi = 1.0_dp                !! %, min, km
    end type error_options

    !! turbulence profile variables per met node (ensure_node)
    integer(ip), parameter, public :: tv_sigw = 1, tv_tl = 2, tv_sigu = 3, tv_sigv = 4
    integer(ip), parameter, public :: nturbv = 4
    !! how far a met node of one met time has been evaluated (its done flag, ensure_node):
    !! not yet, its profiles remapped, its turbulence (and zi) too
    integer(ip), parameter, public :: node_raw = 0, node_remapped = 1, node_turbulent = 2
    !! highest sigma mean advection takes a particle to: just above the ground (2.5e-5 m under
    !! a 25 km top; the binary's particle may rest at 0 m, which prints the same)
    real(dp), parameter :: s_ground = 1.0_dp - 1.0e-9_dp
    !! levels of the turbulence columns taken above those a step is expected to need
    !! (stilt_dispersion.levels_needed); a step that needs more gets them and is done again
    integer(ip), parameter :: level_margin = 0

    !! particle status codes
    integer(ip), parameter, public :: ps_alive = 0      !! still moving
    integer(ip), parameter, public :: ps_left_grid = 1  !! left the met grid: stops for good
    integer(ip), parameter, public :: ps_window = 2     !! reached the window edge: grow and redo
    integer(ip), parameter, public :: ps_not_started = 3 !! not yet released

    !! diagnostic columns (one row per particle per step)
    integer(ip), parameter, public :: dc_x = 1, dc_y = 2, dc_zagl = 3, dc_zsfc = 4, dc_temp = 5, &
        dc_pres = 6, dc_dens = 7, dc_temz = 8, dc_wout = 9, dc_shtf = 10, dc_whtf = 11, &
        dc_dswf = 12, dc_tcld = 13, dc_lcld = 14, dc_rain = 15, dc_crai = 16, dc_sphu = 17, &
        dc_rhfr = 18, dc_solw = 19, dc_sigw = 20, dc_tlgr = 21, dc_mlht = 22, dc_samt = 23, &
        dc_foot = 24, dc_dmas = 25, dc_icdx = 26, dc_zloc = 27, dc_zcfx = 28
    integer(ip), parameter, public :: ndiag = 28

    !! geometry and met of one window for one interval (two met times)
    type, public :: met_window
        integer(ip) :: nx = 0, ny = 0, nl = 0
        integer(ip) :: i0 = 0, j0 = 0          !! full-grid index of window node (1,1) minus 1
        integer(ip) :: nx_full = 0, ny_full = 0
        logical :: wrap_x = .false.            !! global grid, window spans all columns
        real(dp) :: z_top = 25000.0_dp
        real(dp) :: t1 = 0.0_dp, t2 = min_per_hour  !! met times, minutes since release
        real(dp) :: aa = 30.0_dp, bb = -25.0_dp, cc = 5.0_dp  !! internal level coefficients
    end type met_window

contains

    pure subroutine surface_at(nx, ny, sfc, x, y, ivar, val)
        !! Bilinear value of surface variable ivar at window position (x, y).
        integer(ip), intent(in) :: nx, ny, ivar
        real(dp), intent(in) :: sfc(nsfc, nx, ny), x, y
        real(dp), intent(out) :: val
        integer(ip) :: i, j
        real(dp) :: fx, fy
        logical :: inside
        call bilinear_weights(x, y, nx, ny, i, j, fx, fy, inside)
        fx = min(max(fx, 0.0_dp), 1.0_dp); fy = min(max(fy, 0.0_dp), 1.0_dp)
        val = (1 - fx) * (1 - fy) * sfc(ivar, i, j) + fx * (1 - fy) * sfc(ivar, i + 1, j) &
            + (1 - fx) * fy * sfc(ivar, i, j + 1) + fx * fy * sfc(ivar, i + 1, j + 1)
    end subroutine surface_at

    pure subroutine corners(w, x, y, ii, jj, ww)
        !! The four bilinear nodes and weights of window position (x, y), fractions clamped;
        !! on grids that wrap in x the column after the last one is the first.
        type(met_window), intent(in) :: w
        real(dp), intent(in) :: x, y
        integer(ip), intent(out) :: ii(4), jj(4)
        real(dp), intent(out) :: ww(4)
        integer(ip) :: i, j, i2
        real(dp) :: fx, fy
        logical :: inside
        call bilinear_weights(x, y, w%nx, w%ny, i, j, fx, fy, inside)
        i2 = i + 1
        if (w%wrap_x .and. x >= real(w%nx, dp)) then
            i = w%nx
            i2 = 1
            fx = x - w%nx
        end if
        fx = min(max(fx, 0.0_dp), 1.0_dp); fy = min(max(fy, 0.0_dp), 1.0_dp)
        ii = [i, i2, i, i2]; jj = [j, j, j + 1, j + 1]
        ww = [(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy]
    end subroutine corners

    elemental function sigma_corrector(s, sp, w2, h) result(s_new)
        !! Corrector of the Petterssen step for sigma in single precision, in the binary's
        !! order of operations: the mean of the predictor sp and of s + w2 h, formed as
        !! (sp + s + w2 h) / 2. Near the ground sp + s lies in [1, 2), where a float32 step is
        !! twice sigma's (2^-23 against 2^-24), so the move is rounded coarser than sigma
        !! itself and a sinking particle stops where it rounds to nothing (docs/physics.md sec. 4.3).
        real(sgl), intent(in) :: s, sp, w2, h
        real(sgl) :: s_new
        real(sgl) :: pair
        pair = sp + s
        s_new = 0.5_sgl * (pair + w2 * h)
    end function sigma_corrector

    pure subroutine mean_velocity(w, zsg, prof1, prof2, gdx, gdy, x, y, s, tf, vel)
        !! Mean velocity at window position (x, y), sigma s and time fraction tf: grid units
        !! per minute in x and y, sigma per minute. Winds and w are linear in the internal
        !! level index between internal levels (as the reference binary: with w linear in
        !! height the HRRR-like no-turbulence particle drifts 5x further) and go linearly to
        !! zero below level 1, extrapolated below the ground (s > 1), where a predictor step
        !! may land: w then points up, as in the binary (docs/physics.md sec. 4.3).
        type(met_window), intent(in) :: w
        real(dp), intent(in) :: zsg(w%nl)
        real(dp), intent(in) :: prof1(nprof, w%nl, w%nx, w%ny), prof2(nprof, w%nl, w%nx, w%ny)
        real(dp), intent(in) :: gdx(w%nx, w%ny), gdy(w%nx, w%ny), x, y, s, tf
        real(dp), intent(out) :: vel(3)
        integer(ip) :: ii(4), jj(4), kb, c
        real(dp) :: ww(4), wt, fac, a(3), node(3)
        logical :: below
        call corners(w, x, y, ii, jj, ww)
        call index_weights(w%nl, zsg, w%aa, w%bb, w%cc, w%z_top, s, kb, wt, below)
        a = 0.0_dp
        do c = 1, 4
            node = (1.0_dp - tf) * ((1.0_dp - wt) * prof1([pv_u, pv_v, pv_w], kb, ii(c), jj(c)) &
                + wt * prof1([pv_u, pv_v, pv_w], kb + 1, ii(c), jj(c))) &
                + tf * ((1.0_dp - wt) * prof2([pv_u, pv_v, pv_w], kb, ii(c), jj(c)) &
                + wt * prof2([pv_u, pv_v, pv_w], kb + 1, ii(c), jj(c)))
            ! grid units per minute at the node, then interpolated
            node(1) = node(1) * sec_per_min / gdx(ii(c), jj(c))
            node(2) = node(2) * sec_per_min / gdy(ii(c), jj(c))
            a = a + ww(c) * node
        end do
        if (below) then
            fac = (1.0_dp - s) / (1.0_dp - zsg(1))
            a = a * fac
        end if
        vel = a
    end subroutine mean_velocity

    pure subroutine diagnostics(w, zsg, prof1, prof2, sfc1, sfc2, x, y, s, tf, row)
        !! Met diagnostics of one output row at window position (x, y), sigma s, time fraction
        !! tf: scalars linear in height between the bracketing internal levels (level-1 value
        !! below level 1), surface values bilinear.
        type(met_window), intent(in) :: w
        real(dp), intent(in) :: zsg(w%nl)
        real(dp), intent(in) :: prof1(nprof, w%nl, w%nx, w%ny), prof2(nprof, w%nl, w%nx, w%ny)
        real(dp), intent(in) :: sfc1(nsfc, w%nx, w%ny), sfc2(nsfc, w%nx, w%ny)
        real(dp), intent(in) :: x, y, s, tf
        real(dp), intent(inout) :: row(ndiag)
        integer(ip), parameter :: pv(6) = [pv_p, pv_rho, pv_t, pv_q, pv_rh, pv_wms]
        integer(ip) :: ii(4), jj(4), kb, c
        real(dp) :: ww(4), wt, a(6), t1l, zg, sv(nsfc)
        logical :: below
        call corners(w, x, y, ii, jj, ww)
        call vertical_weights(w%nl, zsg, s, kb, wt, below)
        a = 0.0_dp; t1l = 0.0_dp; sv = 0.0_dp
        do c = 1, 4
            a = a + ww(c) * ((1.0_dp - tf) * ((1.0_dp - wt) * prof1(pv, kb, ii(c), jj(c)) &
                + wt * prof1(pv, kb + 1, ii(c), jj(c))) &
                + tf * ((1.0_dp - wt) * prof2(pv, kb, ii(c), jj(c)) &
                + wt * prof2(pv, kb + 1, ii(c), jj(c))))
            t1l = t1l + ww(c) * ((1.0_dp - tf) * prof1(pv_t, 1, ii(c), jj(c)) &
                + tf * prof2(pv_t, 1, ii(c), jj(c)))
            sv = sv + ww(c) * ((1.0_dp - tf) * sfc1(:, ii(c), jj(c)) + tf * sfc2(:, ii(c), jj(c)))
        end do
        if (below) a(6) = a(6) * max(1.0_dp - s, 0.0_dp) / (1.0_dp - zsg(1))
        zg = sv(sv_zg)
        row(dc_zagl) = (1.0_dp - s) * (w%z_top - zg)
        row(dc_zsfc) = zg
        row(dc_pres) = a(1); row(dc_dens) = a(2); row(dc_temz) = a(3)
        row(dc_sphu) = a(4); row(dc_rhfr) = a(5); row(dc_wout) = a(6)
        row(dc_temp) = t1l
        row(dc_shtf) = sv(sv_shtf); row(dc_whtf) = sv(sv_lhtf); row(dc_dswf) = sv(sv_dswf)
        row(dc_tcld) = sv(sv_tcld); row(dc_lcld) = sv(sv_lcld); row(dc_rain) = sv(sv_rain)
        row(dc_crai) = sv(sv_crai); row(dc_solw) = sv(sv_solw)
        row(dc_icdx) = 2.0_dp; row(dc_zloc) = -999.0_dp; row(dc_zcfx) = 0.0_dp
    end subroutine diagnostics

    pure subroutine node_turbulence(nl, zsg, z_top, prof, sfc, opts, z0_default, turb, zi, &
            status)
        !! Stability, mixed-layer height and turbulence profiles of one met node at one met
        !! time. Which momentum/heat fields the node uses follows what is finite in sfc (USTR,
        !! then UMOF/VMOF, then EXCO; TSTR, then SHTF). z0: RGHS where present, else z0_default.
        integer(ip), intent(in) :: nl
        real(dp), intent(in) :: zsg(nl), z_top, prof(nprof, nl), sfc(nsfc)
        type(turb_options), intent(in) :: opts
        real(dp), intent(in) :: z0_default
        real(dp), intent(out) :: turb(nturbv, nl), zi
        integer(ip), intent(out) :: status
        type(surface_met) :: sm
        type(column_state) :: st
        type(turb_options) :: o
        real(dp) :: z(nl), tke(nl)
        tke = -1.0_dp
        ! the surface layer's reference level: the first at or above this column's first data
        ! level above ground (the binary's, measured on sigma columns, docs/physics.md sec. 5.1)
        o = opts
        o%kdat = nl - count(prof(pv_dat, :) > 0.5_dp) + 1
        z = (1.0_dp - zsg) * (z_top - sfc(sv_zg))
        sm = surface_met()
        sm%momentum = mom_none
        if (ieee_is_finite(sfc(sv_ustr))) then
            sm%momentum = mom_ustar; sm%ustr = sfc(sv_ustr)
        else if (ieee_is_finite(sfc(sv_umof)) .and. ieee_is_finite(sfc(sv_vmof))) then
            sm%momentum = mom_flux; sm%umof = sfc(sv_umof); sm%vmof = sfc(sv_vmof)
        else if (ieee_is_finite(sfc(sv_exco))) then
            sm%momentum = mom_exco; sm%exco = sfc(sv_exco)
        end if
        sm%heat = heat_none
        if (ieee_is_finite(sfc(sv_tstr))) then
            sm%heat = heat_tstar; sm%tstr = sfc(sv_tstr)
        else if (ieee_is_finite(sfc(sv_shtf))) then
            sm%heat = heat_flux; sm%shtf = sfc(sv_shtf)
        end if
        sm%pblh = -1.0_dp
        if (ieee_is_finite(sfc(sv_pblh))) sm%pblh = sfc(sv_pblh)
        sm%z0 = z0_default
        if (ieee_is_finite(sfc(sv_rghs))) then
            if (sfc(sv_rghs) > 0.0_dp) sm%z0 = sfc(sv_rghs)
        end if
        call column_turbulence(nl, z, prof(pv_t, :), prof(pv_p, :), 0.0_dp * z, &
            prof(pv_rhom, :), prof(pv_u, :), prof(pv_v, :), tke, sm, o, st, &
            turb(tv_sigw, :), turb(tv_tl, :), turb(tv_sigu, :), turb(tv_sigv, :), status)
        zi = st%zi
    end subroutine node_turbulence

    subroutine ensure_node(w, zsg, nd, lev, ro, raw, sfc, opts, z0_default, i, j, want, prof, &
            turb, zi, done, status)
        !! Evaluate node (i, j) of one met time on first use, as far as `want` asks: its
        !! profiles remapped from the data levels (node_remapped), and its turbulence and zi
        !! too (node_turbulent); done(i, j) records how far it is. Particles may be advanced
        !! by several threads: a node is evaluated once, by the first thread that needs it,
        !! and read by the others only once complete; evaluation is deterministic, so results
        !! do not depend on which thread does it.
        type(met_window), intent(in) :: w
        integer(ip), intent(in) :: nd
        real(dp), intent(in) :: zsg(w%nl), lev(nd)
        type(remap_options), intent(in) :: ro
        real(sgl), intent(in) :: raw(nd, nraw, w%nx, w%ny)
        real(dp), intent(in) :: sfc(nsfc, w%nx, w%ny)
        type(turb_options), intent(in) :: opts
        real(dp), intent(in) :: z0_default
        integer(ip), intent(in) :: i, j, want
        real(dp), intent(inout) :: prof(nprof, w%nl, w%nx, w%ny)
        real(dp), intent(inout) :: turb(nturbv, w%nl, w%nx, w%ny), zi(w%nx, w%ny)
        integer(ip), intent(inout) :: done(w%nx, w%ny), status
        integer(ip) :: d, cst
        !$omp atomic read seq_cst
        d = done(i, j)
        if (d >= want) return
        !$omp critical (stilt_met_node)
        d = done(i, j)
        if (d == node_raw) then
            call remap_node(nd, w%nl, lev, ro, w%z_top, zsg, sfc(:, i, j), &
                node_columns(nd, raw(:, :, i, j)), prof(:, :, i, j), cst)
            if (cst /= status_ok) status = max(status, cst)
            d = node_remapped
        end if
        if (want == node_turbulent .and. d < node_turbulent) then
            call node_turbulence(w%nl, zsg, w%z_top, prof(:, :, i, j), sfc(:, i, j), opts, &
                z0_default, turb(:, :, i, j), zi(i, j), cst)
            if (cst /= status_ok) status = max(status, cst)
            d = node_turbulent
        end if
        !$omp atomic write seq_cst
        done(i, j) = d
        !$omp end critical (stilt_met_node)
    end subroutine ensure_node

    pure logical function new_cell(x, y, cell)
        !! Whether window position (x, y) lies outside `cell`, the last cell whose corners were
        !! made ready for this particle (ensure_cell): the integer parts of a position fix the
        !! nodes corners() takes.
        real(dp), intent(in) :: x, y
        integer(ip), intent(in) :: cell(2)
        new_cell = int(x) /= cell(1) .or. int(y) /= cell(2)
    end function new_cell

    subroutine ensure_cell(w, zsg, nd, lev, ro, raw1, raw2, sfc1, sfc2, topts1, topts2, &
            z0_default, prof1, prof2, turb1, turb2, zi1, zi2, done1, done2, x, y, cell, status)
        !! Remap, at both met times, the four nodes the bilinear interpolation at window
        !! position (x, y) reads (corners), and make `cell` this position's cell (new_cell).
        type(met_window), intent(in) :: w
        integer(ip), intent(in) :: nd
        real(dp), intent(in) :: zsg(w%nl), lev(nd)
        type(remap_options), intent(in) :: ro
        real(sgl), intent(in), dimension(nd, nraw, w%nx, w%ny) :: raw1, raw2
        real(dp), intent(in), dimension(nsfc, w%nx, w%ny) :: sfc1, sfc2
        type(turb_options), intent(in) :: topts1, topts2
        real(dp), intent(in) :: z0_default, x, y
        real(dp), intent(inout), dimension(nprof, w%nl, w%nx, w%ny) :: prof1, prof2
        real(dp), intent(inout), dimension(nturbv, w%nl, w%nx, w%ny) :: turb1, turb2
        real(dp), intent(inout), dimension(w%nx, w%ny) :: zi1, zi2
        integer(ip), intent(inout), dimension(w%nx, w%ny) :: done1, done2
        integer(ip), intent(inout) :: cell(2), status
        integer(ip) :: ii(4), jj(4), c, here(2)
        real(dp) :: ww(4)
        here = [int(x), int(y)]
        call corners(w, x, y, ii, jj, ww)
        do c = 1, 4
            call ensure_node(w, zsg, nd, lev, ro, raw1, sfc1, topts1, z0_default, ii(c), jj(c), &
                node_remapped, prof1, turb1, zi1, done1, status)
            call ensure_node(w, zsg, nd, lev, ro, raw2, sfc2, topts2, z0_default, ii(c), jj(c), &
                node_remapped, prof2, turb2, zi2, done2, status)
        end do
        cell = here
    end subroutine ensure_cell

    pure function column_zi(w, zi1, zi2, x, y, tf) result(zi)
        !! Mixed-layer height particle_columns gives at window position (x, y), time fraction tf.
        type(met_window), intent(in) :: w
        real(dp), intent(in) :: zi1(w%nx, w%ny), zi2(w%nx, w%ny), x, y, tf
        real(dp) :: zi
        integer(ip) :: ni, nj
        ni = min(max(nint(x), 1), w%nx)
        nj = min(max(nint(y), 1), w%ny)
        zi = (1.0_dp - tf) * zi1(ni, nj) + tf * zi2(ni, nj)
    end function column_zi

    pure subroutine particle_columns(w, prof1, prof2, turb1, turb2, zi1, zi2, gdx, gdy, &
            zlev, x, y, tf, klo, khi, sigw, tl, sigu, sigv, dens, densf, ug, vg, zi, gx, gy)
        !! Columns a particle at window position (x, y) needs from one moment (time fraction
        !! tf): turbulence profiles and zi of the nearest met node, between the two met times
        !! along height relative to the mixed layer (stilt_turbulence.interpolate_in_time, as
        !! the reference binary), mean wind (grid units per minute) and densities
        !! interpolated bilinearly; densf(:, h) the foot density of half step h (pv_rhof1/2).
        !! Only levels klo..khi of the columns are set (each level's values do not depend on
        !! which others are taken).
        type(met_window), intent(in) :: w
        real(dp), intent(in) :: zlev(w%nl)   !! nominal internal level heights (1 - zsg) z_top (m)
        real(dp), intent(in) :: prof1(nprof, w%nl, w%nx, w%ny), prof2(nprof, w%nl, w%nx, w%ny)
        real(dp), intent(in) :: turb1(nturbv, w%nl, w%nx, w%ny), turb2(nturbv, w%nl, w%nx, w%ny)
        real(dp), intent(in) :: zi1(w%nx, w%ny), zi2(w%nx, w%ny), gdx(w%nx, w%ny), gdy(w%nx, w%ny)
        real(dp), intent(in) :: x, y, tf
        integer(ip), intent(in) :: klo, khi
        real(dp), intent(inout), dimension(w%nl) :: sigw, tl, sigu, sigv, dens, ug, vg
        real(dp), intent(inout) :: densf(w%nl, 2)
        real(dp), intent(out) :: zi, gx, gy
        integer(ip) :: ii(4), jj(4), c, ni, nj, k, k1(w%nl), k2(w%nl)
        real(dp) :: ww(4), a1(4), a2(4), d, dd, df, u, v, tf1
        call corners(w, x, y, ii, jj, ww)
        ni = min(max(nint(x), 1), w%nx)
        nj = min(max(nint(y), 1), w%ny)
        call time_levels(w%nl, zlev, tf, zi1(ni, nj), zi2(ni, nj), zi, k1, k2, khi)
        tf1 = 1.0_dp - tf
        gx = 0.0_dp; gy = 0.0_dp
        do c = 1, 4
            a1(c) = ww(c) * tf1
            a2(c) = ww(c) * tf
            gx = gx + ww(c) * gdx(ii(c), jj(c))
            gy = gy + ww(c) * gdy(ii(c), jj(c))
        end do
        ! level by level, so that each node's column is read once and in memory order; every
        ! sum is taken in the same order as term by term over the corners
        do k = klo, khi
            sigw(k) = tf1 * turb1(tv_sigw, k1(k), ni, nj) + tf * turb2(tv_sigw, k2(k), ni, nj)
            tl(k) = tf1 * turb1(tv_tl, k1(k), ni, nj) + tf * turb2(tv_tl, k2(k), ni, nj)
            sigu(k) = tf1 * turb1(tv_sigu, k1(k), ni, nj) + tf * turb2(tv_sigu, k2(k), ni, nj)
            sigv(k) = tf1 * turb1(tv_sigv, k1(k), ni, nj) + tf * turb2(tv_sigv, k2(k), ni, nj)
            d = 0.0_dp; dd = 0.0_dp; df = 0.0_dp; u = 0.0_dp; v = 0.0_dp
            do c = 1, 4
                d = d + a1(c) * prof1(pv_rhom, k, ii(c), jj(c))
                dd = dd + a1(c) * prof1(pv_rhof1, k, ii(c), jj(c))
                df = df + a1(c) * prof1(pv_rhof2, k, ii(c), jj(c))
                u = u + a1(c) * prof1(pv_u, k, ii(c), jj(c))
                v = v + a1(c) * prof1(pv_v, k, ii(c), jj(c))
                d = d + a2(c) * prof2(pv_rhom, k, ii(c), jj(c))
                dd = dd + a2(c) * prof2(pv_rhof1, k, ii(c), jj(c))
                df = df + a2(c) * prof2(pv_rhof2, k, ii(c), jj(c))
                u = u + a2(c) * prof2(pv_u, k, ii(c), jj(c))
                v = v + a2(c) * prof2(pv_v, k, ii(c), jj(c))
            end do
            dens(k) = d; densf(k, 1) = dd; densf(k, 2) = df
            ug(k) = u * sec_per_min / gx
            vg(k) = v * sec_per_min / gy
        end do
    end subroutine particle_columns

    pure subroutine classify(w, x, y, st)
        !! Wrap global grids, then classify a full-grid position: alive (ps_alive), left the met
        !! grid (ps_left_grid), or at the edge of a window smaller than the grid (ps_window).
        type(met_window), intent(in) :: w
        real(dp), intent(inout) :: x, y
        integer(ip), intent(out) :: st
        real(dp) :: xl, yl
        st = ps_alive
        if (w%wrap_x) then
            if (x >= w%nx_full + 1) x = x - w%nx_full
            if (x < 1.0_dp) x = x + w%nx_full
        end if
        xl = x - w%i0; yl = y - w%j0
        if (x < 1.0_dp .or. y < 1.0_dp .or. y > real(w%ny_full, dp) .or. &
            (.not. w%wrap_x .and. x > real(w%nx_full, dp))) then
            st = ps_left_grid
        else if (yl < 1.0_dp .or. yl > real(w%ny, dp) .or. (.not. w%wrap_x .and. &
            (xl < 1.0_dp .or. xl > real(w%nx, dp)))) then
            st = ps_window
        end if
    end subroutine classify

    pure logical function in_run_domain(w, x, y)
        !! Whether a full-grid position is where the binary keeps particles moving: at least
        !! one cell from the first row and column and two from the last (2 <= x <= nx - 2,
        !! 2 <= y <= ny - 2; measured on the binary, docs/transport.md). Global grids: always.
        type(met_window), intent(in) :: w
        real(dp), intent(in) :: x, y
        in_run_domain = w%wrap_x .or. (x >= 2.0_dp .and. x <= real(w%nx_full - 2, dp) .and. &
            y >= 2.0_dp .and. y <= real(w%ny_full - 2, dp))
    end function in_run_domain

    pure subroutine init_errors(nl, zsg, z_top, eopts, np, rng, eu, ev, eps)
        !! Initial transport errors of every particle at release (wind errors on the nominal
        !! internal level heights, zi error); zero where the option is off.
        integer(ip), intent(in) :: nl, np
        real(dp), intent(in) :: zsg(nl), z_top
        type(error_options), intent(in) :: eopts
        integer(ip), intent(inout) :: rng(rng_state_size, np)
        real(dp), intent(out) :: eu(nl, np), ev(nl, np), eps(np)
        integer(ip) :: p
        eu = 0.0_dp; ev = 0.0_dp; eps = 0.0_dp
        do p = 1, np
            if (iand(eopts%winderrtf, 1) /= 0) call wind_error_init(nl, (1.0_dp - zsg) * z_top, &
                eopts%sig_uv, eopts%zcor, rng(:, p), eu(:, p), ev(:, p))
            if (iand(eopts%winderrtf, 2) /= 0) call zi_error_init(eopts%sig_zi, rng(:, p), eps(p))
        end do
    end subroutine init_errors

    subroutine advance_interval(w, zsg, nd, lev, ro, raw1, raw2, prof1, prof2, sfc1, sfc2, &
            turb1, turb2, zi1, zi2, done1, done2, topts1, topts2, z0_default, gdx, gdy, np, x, &
            y, s, pstat, wnorm, up, vp, dmas, xc, yc, rng, t_start, dt, nsteps, tratio, nturb, &
            dopts, eopts, eu, ev, eps, out, status, tstatus)
        !! Advance np particles by nsteps model steps of dt minutes (negative backward) from
        !! t_start (minutes since release), all inside the met interval [w%t1, w%t2].
        !! x, y are full-grid positions (1-based; the window only serves the interpolation, so
        !! results do not depend on it), s internal sigma. pstat: particle status
        !! (ps_*); only ps_alive particles move. wnorm, up, vp, dmas, rng: the persistent
        !! turbulence state of each particle; eu, ev, eps its transport errors (init_errors);
        !! xc, yc where its start-of-step columns are taken: the mean-advected position of its
        !! previous step (the release position before the first), updated here.
        !! out(:, p, n) holds the diagnostics of particle p after step n (x, y as full-grid
        !! positions; foot and samt of that step only), NaN once it stopped. status: worst
        !! dispersion status (0 ok). The met of the two times comes as data-level columns
        !! (raw1/2, nd levels lev, remapped as ro says); prof1/2 (their remap onto the internal
        !! levels) and turb1/2, zi1/2 are filled lazily, node by node where particles need
        !! them, as done1/2 records (ensure_node; topts1/2: turbulence options of each met
        !! time); tstatus: worst status of those evaluations.
        !! One procedure (~250 lines) on purpose: it is the OpenMP particle loop, and the stages
        !! of a step (mean advection, turbulence columns, dispersion, the output row) share some
        !! 50 thread-private values (the omp private list); split, each stage would take most of
        !! them as arguments.
        type(met_window), intent(in) :: w
        integer(ip), intent(in) :: nd
        real(dp), intent(in) :: zsg(w%nl), lev(nd)
        type(remap_options), intent(in) :: ro
        real(sgl), intent(in) :: raw1(nd, nraw, w%nx, w%ny), raw2(nd, nraw, w%nx, w%ny)
        real(dp), intent(inout) :: prof1(nprof, w%nl, w%nx, w%ny), prof2(nprof, w%nl, w%nx, w%ny)
        real(dp), intent(in) :: sfc1(nsfc, w%nx, w%ny), sfc2(nsfc, w%nx, w%ny)
        real(dp), intent(inout) :: turb1(nturbv, w%nl, w%nx, w%ny), turb2(nturbv, w%nl, w%nx, w%ny)
        real(dp), intent(inout) :: zi1(w%nx, w%ny), zi2(w%nx, w%ny)
        integer(ip), intent(inout) :: done1(w%nx, w%ny), done2(w%nx, w%ny)
        type(turb_options), intent(in) :: topts1, topts2
        real(dp), intent(in) :: z0_default
        real(dp), intent(in) :: gdx(w%nx, w%ny), gdy(w%nx, w%ny)
        integer(ip), intent(in) :: np, nsteps, nturb
        real(dp), intent(inout) :: x(np), y(np), s(np), wnorm(np), up(np), vp(np), dmas(np)
        real(dp), intent(inout) :: xc(np), yc(np)
        integer(ip), intent(inout) :: pstat(np), rng(rng_state_size, np)
        real(dp), intent(in) :: t_start, dt, tratio
        type(disp_options), intent(in) :: dopts
        type(error_options), intent(in) :: eopts
        real(dp), intent(inout) :: eu(w%nl, np), ev(w%nl, np), eps(np)
        real(dp), intent(out) :: out(ndiag, np, nsteps)
        integer(ip), intent(out) :: status, tstatus
        integer(ip) :: p, n, nsub, m, st, dst, ni, nj, c
        real(dp) :: ta, tb, tfa, tfb, v1(3), v2(3), xp, yp, sp, h, span, smin, x0, y0
        real(dp) :: nan, zi(2), gx, gy, zg, foot, samt, sigw_used, tl_used, zia, zib, g2x, g2y
        real(dp) :: zg2  !! terrain height of the second met time
        real(dp) :: dist, fscale, xa, ya, tf_end, gx_end, gy_end
        real(sgl) :: s32, sp32   !! sigma and its predictor in single precision
        real(dp) :: wbar         !! mean vertical velocity of the last sub-step, sigma/min
        real(dp), dimension(w%nl, 2) :: sigw, tl, sigu, sigv, dens, densd, ug, vg, dmv
        real(dp), dimension(w%nl) :: ug_end, vg_end  !! end-of-step winds before the errors
        real(dp) :: densf(w%nl, 2), densf_end(w%nl)  !! foot densities (first half at the end)
        logical :: reuse
        real(dp) :: zlev(w%nl)
        integer(ip) :: nk, kst, ken    !! levels the step needs, set in the start / end columns
        real(dp) :: xo, yo             !! where the start-of-step columns are taken
        real(dp) :: s_sv, wn_sv, up_sv, vp_sv, dm_sv  !! state before the dispersion step
        integer(ip) :: rng_sv(rng_state_size)
        integer(ip) :: cell(2)         !! the cell whose corners were made ready last
        real(dp) :: xw, yw             !! a window position whose corners are made ready
        nan = ieee_value(1.0_dp, ieee_quiet_nan)
        status = status_ok
        tstatus = status_ok
        span = w%t2 - w%t1
        smin = zsg(w%nl)
        dmv = 0.0_dp
        zlev = (1.0_dp - zsg) * w%z_top
        ! particles are independent (each has its own random stream): with OpenMP they are
        ! shared among threads, and the results are the same for any number of threads
        !$omp parallel do default(shared) schedule(dynamic, 8) &
        !$omp private(p, n, nsub, m, st, dst, ni, nj, c, ta, tb, tfa, tfb, v1, v2, xp, yp, sp, &
        !$omp h, x0, y0, zi, gx, gy, zg, zg2, foot, samt, sigw_used, tl_used, zia, zib, g2x, g2y, &
        !$omp dist, fscale, xa, ya, s32, sp32, wbar, sigw, tl, sigu, sigv, dens, densd, ug, vg, reuse, &
        !$omp tf_end, gx_end, gy_end, ug_end, vg_end, densf, densf_end, nk, kst, ken, xo, yo, s_sv, wn_sv, &
        !$omp up_sv, vp_sv, dm_sv, rng_sv, cell, xw, yw) &
        !$omp reduction(max: status, tstatus)
        do p = 1, np
            out(:, p, :) = nan     ! each thread fills its own particles' rows
            if (pstat(p) /= ps_alive) cycle
            tf_end = nan  ! no end-of-step columns yet
            ken = 0
            cell = -huge(1_ip)
            do n = 1, nsteps
                ! a particle that ended its last step outside the binary's run domain has had
                ! its row printed there and stops now, as in the binary
                if (.not. in_run_domain(w, x(p), y(p))) then
                    pstat(p) = ps_left_grid
                    exit
                end if
                ta = t_start + (n - 1) * dt
                tb = ta + dt
                tfa = (ta - w%t1) / span
                tfb = (tb - w%t1) / span
                x0 = x(p); y0 = y(p)
                ! mean advection, in sub-steps that move at most tratio grid cells; the met
                ! nodes each interpolation reads are remapped first, on first use
                if (new_cell(x(p) - w%i0, y(p) - w%j0, cell)) call ensure_cell(w, zsg, nd, lev, &
                    ro, raw1, raw2, sfc1, sfc2, topts1, topts2, z0_default, prof1, prof2, turb1, &
                    turb2, zi1, zi2, done1, done2, x(p) - w%i0, y(p) - w%j0, cell, tstatus)
                call mean_velocity(w, zsg, prof1, prof2, gdx, gdy, x(p) - w%i0, y(p) - w%j0, s(p), tfa, v1)
                nsub = max(1, ceiling(max(abs(v1(1)), abs(v1(2))) * abs(dt) / tratio))
                h = dt / nsub
                st = ps_alive
                do m = 1, nsub
                    tfa = (ta + (m - 1) * h - w%t1) / span
                    tfb = (ta + m * h - w%t1) / span
                    if (m > 1) then
                        if (new_cell(x(p) - w%i0, y(p) - w%j0, cell)) call ensure_cell(w, zsg, &
                            nd, lev, ro, raw1, raw2, sfc1, sfc2, topts1, topts2, z0_default, &
                            prof1, prof2, turb1, turb2, zi1, zi2, done1, done2, x(p) - w%i0, &
                            y(p) - w%j0, cell, tstatus)
                        call mean_velocity(w, zsg, prof1, prof2, gdx, gdy, x(p) - w%i0, &
                            y(p) - w%j0, s(p), tfa, v1)
                    end if
                    xp = x(p) + v1(1) * h
                    yp = y(p) + v1(2) * h
                    ! sigma in single precision, as the binary keeps it, and the predictor
                    ! not held at the ground (docs/physics.md sec. 4.3)
                    s32 = real(s(p), sgl)
                    sp32 = max(s32 + real(v1(3), sgl) * real(h, sgl), real(smin, sgl))
                    sp = real(sp32, dp)
                    if (new_cell(xp - w%i0, yp - w%j0, cell)) call ensure_cell(w, zsg, nd, lev, &
                        ro, raw1, raw2, sfc1, sfc2, topts1, topts2, z0_default, prof1, prof2, &
                        turb1, turb2, zi1, zi2, done1, done2, xp - w%i0, yp - w%j0, cell, tstatus)
                    call mean_velocity(w, zsg, prof1, prof2, gdx, gdy, xp - w%i0, yp - w%j0, sp, tfb, &
                        v2)
                    x(p) = x(p) + 0.5_dp * (v1(1) + v2(1)) * h
                    y(p) = y(p) + 0.5_dp * (v1(2) + v2(2)) * h
                    s(p) = min(max(real(sigma_corrector(s32, sp32, real(v2(3), sgl), &
                        real(h, sgl)), dp), smin), s_ground)
                    wbar = 0.5_dp * (v1(3) + v2(3))   ! the binary prints this as wout
                    call classify(w, x(p), y(p), st)
                    if (st /= ps_alive) exit
                end do
                tfa = (ta - w%t1) / span
                if (st /= ps_alive) then
                    pstat(p) = st
                    exit
                end if
                ! turbulence columns: end of step at the node nearest to the mean-advected
                ! position (when the node changes the binary's printed mlht is the mean of the
                ! two nodes' zi); start of step those of the end of the step before, i.e. at
                ! its mean-advected position (xc, yc)
                xa = x(p); ya = y(p)
                ! the start-of-step columns are those of the previous step's end (same
                ! position (xc, yc), same time fraction): copied, not evaluated again
                reuse = tfa == tf_end
                do c = merge(2, 1, reuse), 2
                    ni = min(max(nint(merge(xc(p), xa, c == 1)) - w%i0, 1), w%nx)
                    nj = min(max(nint(merge(yc(p), ya, c == 1)) - w%j0, 1), w%ny)
                    call ensure_node(w, zsg, nd, lev, ro, raw1, sfc1, topts1, z0_default, ni, &
                        nj, node_turbulent, prof1, turb1, zi1, done1, tstatus)
                    call ensure_node(w, zsg, nd, lev, ro, raw2, sfc2, topts2, z0_default, ni, &
                        nj, node_turbulent, prof2, turb2, zi2, done2, tstatus)
                    xw = merge(xc(p), xa, c == 1) - w%i0
                    yw = merge(yc(p), ya, c == 1) - w%j0
                    if (new_cell(xw, yw, cell)) call ensure_cell(w, zsg, nd, lev, ro, raw1, raw2, &
                        sfc1, sfc2, topts1, topts2, z0_default, prof1, prof2, turb1, turb2, zi1, &
                        zi2, done1, done2, xw, yw, cell, tstatus)
                end do
                xo = xc(p); yo = yc(p)
                if (nturb == 0) then
                    call surface_at(w%nx, w%ny, sfc1, xa - w%i0, ya - w%j0, sv_zg, zg)
                    call surface_at(w%nx, w%ny, sfc2, xa - w%i0, ya - w%j0, sv_zg, zg2)
                    zg = (1.0_dp - tfb) * zg + tfb * zg2
                end if
                ! the levels of the columns this step needs (each level is computed on its own,
                ! so how many are taken never changes the results)
                if (nturb /= 0) then
                    nk = 1                              ! only zi is used
                else if (iand(eopts%winderrtf, 1) /= 0) then
                    nk = w%nl                           ! wind errors: all levels
                else
                    if (reuse) then
                        zia = zib
                    else
                        zia = column_zi(w, zi1, zi2, xo - w%i0, yo - w%j0, tfa)
                    end if
                    zi = [zia, column_zi(w, zi1, zi2, xa - w%i0, ya - w%j0, tfb)]
                    nk = levels_needed(w%nl, zsg, w%z_top - zg, zi, s(p), dopts, level_margin)
                end if
                kst = 0
                if (reuse) then
                    sigw(:ken, 1) = sigw(:ken, 2); tl(:ken, 1) = tl(:ken, 2)
                    sigu(:ken, 1) = sigu(:ken, 2); sigv(:ken, 1) = sigv(:ken, 2)
                    dens(:ken, 1) = dens(:ken, 2); densd(:ken, 1) = densf_end(:ken)
                    ug(:ken, 1) = ug_end(:ken); vg(:ken, 1) = vg_end(:ken)
                    zia = zib; gx = gx_end; gy = gy_end
                    kst = ken
                end if
                if (kst < nk) then
                    call particle_columns(w, prof1, prof2, turb1, turb2, zi1, zi2, gdx, gdy, &
                        zlev, xo - w%i0, yo - w%j0, tfa, kst + 1, nk, sigw(:, 1), tl(:, 1), &
                        sigu(:, 1), sigv(:, 1), dens(:, 1), densf, ug(:, 1), vg(:, 1), &
                        zia, gx, gy)
                    densd(kst + 1:nk, 1) = densf(kst + 1:nk, 1)
                    kst = nk
                end if
                call particle_columns(w, prof1, prof2, turb1, turb2, zi1, zi2, gdx, gdy, zlev, &
                    xa - w%i0, ya - w%j0, tfb, 1, nk, sigw(:, 2), tl(:, 2), sigu(:, 2), &
                    sigv(:, 2), dens(:, 2), densf, ug(:, 2), vg(:, 2), zib, g2x, g2y)
                ! the first half step takes the first foot density, the second the second
                densd(:nk, 2) = densf(:nk, 2); densf_end(:nk) = densf(:nk, 1)
                tf_end = tfb; gx_end = g2x; gy_end = g2y
                ug_end(:nk) = ug(:nk, 2); vg_end(:nk) = vg(:nk, 2)
                ken = nk
                zi = [zia, zib]
                xc(p) = xa; yc(p) = ya
                foot = 0.0_dp; samt = 0.0_dp; sigw_used = 0.0_dp; tl_used = 0.0_dp
                fscale = 1.0_dp
                if (eopts%winderrtf /= 0) then
                    ! transport errors (docs/physics.md sec. 8.1): the step's mean displacement
                    ! drives the along-path decorrelation; old wind error on "prev", new one on
                    ! "next"
                    dist = hypot((x(p) - x0) * gx, (y(p) - y0) * gy) / 1000.0_dp
                    if (iand(eopts%winderrtf, 1) /= 0) then
                        ug(:, 1) = ug(:, 1) + eu(:, p) * sec_per_min / gx
                        vg(:, 1) = vg(:, 1) + ev(:, p) * sec_per_min / gy
                        call wind_error_step(w%nl, zlev, dt, eopts%sig_uv, eopts%tl_uv, eopts%zcor, &
                            eopts%horcor, dist, rng(:, p), eu(:, p), ev(:, p))
                        ug(:, 2) = ug(:, 2) + eu(:, p) * sec_per_min / g2x
                        vg(:, 2) = vg(:, 2) + ev(:, p) * sec_per_min / g2y
                    end if
                    if (iand(eopts%winderrtf, 2) /= 0) then
                        call zi_error_step(dt, eopts%sig_zi, eopts%tl_zi, eopts%horcor_zi, dist, &
                            rng(:, p), eps(p))
                        fscale = zi_error_factor(eps(p))
                    end if
                end if
                if (nturb == 0) then
                    ! dispersion replaces the mean horizontal advection (docs/physics.md sec. 6.1)
                    x(p) = x0; y(p) = y0
                    s_sv = s(p); wn_sv = wnorm(p); up_sv = up(p); vp_sv = vp(p); dm_sv = dmas(p)
                    rng_sv = rng(:, p)
                    call dispersion_step(w%nl, zsg, w%z_top - zg, dt, dopts, zi, sigw, tl, sigu, &
                        sigv, dens, densd, ug, vg, dmv, gx, gy, fscale, s(p), wnorm(p), &
                        up(p), vp(p), x(p), y(p), dmas(p), foot, samt, sigw_used, tl_used, &
                        rng(:, p), dst, nk)
                    if (dst == status_need_levels) then
                        ! the particle went above the levels taken: all levels, step again
                        if (kst < w%nl) then
                            call particle_columns(w, prof1, prof2, turb1, turb2, zi1, zi2, &
                                gdx, gdy, zlev, xo - w%i0, yo - w%j0, tfa, kst + 1, w%nl, &
                                sigw(:, 1), tl(:, 1), sigu(:, 1), sigv(:, 1), dens(:, 1), &
                                densf, ug(:, 1), vg(:, 1), zia, gx, gy)
                            densd(kst + 1:, 1) = densf(kst + 1:, 1)
                        end if
                        call particle_columns(w, prof1, prof2, turb1, turb2, zi1, zi2, gdx, &
                            gdy, zlev, xa - w%i0, ya - w%j0, tfb, ken + 1, w%nl, sigw(:, 2), &
                            tl(:, 2), sigu(:, 2), sigv(:, 2), dens(:, 2), densf, ug(:, 2), &
                            vg(:, 2), zib, g2x, g2y)
                        densd(ken + 1:, 2) = densf(ken + 1:, 2)
                        densf_end(ken + 1:) = densf(ken + 1:, 1)
                        ug_end(ken + 1:) = ug(ken + 1:, 2); vg_end(ken + 1:) = vg(ken + 1:, 2)
                        kst = w%nl; ken = w%nl
                        s(p) = s_sv; wnorm(p) = wn_sv; up(p) = up_sv; vp(p) = vp_sv
                        dmas(p) = dm_sv; rng(:, p) = rng_sv; x(p) = x0; y(p) = y0
                        foot = 0.0_dp; samt = 0.0_dp
                        call dispersion_step(w%nl, zsg, w%z_top - zg, dt, dopts, zi, sigw, tl, &
                            sigu, sigv, dens, densd, ug, vg, dmv, gx, gy, fscale, s(p), &
                            wnorm(p), up(p), vp(p), x(p), y(p), dmas(p), foot, samt, &
                            sigw_used, tl_used, rng(:, p), dst)
                    end if
                    if (dst /= status_ok) status = max(status, dst)
                    call classify(w, x(p), y(p), st)
                    if (st /= ps_alive) then
                        pstat(p) = st
                        exit
                    end if
                end if
                if (new_cell(x(p) - w%i0, y(p) - w%j0, cell)) call ensure_cell(w, zsg, nd, lev, &
                    ro, raw1, raw2, sfc1, sfc2, topts1, topts2, z0_default, prof1, prof2, turb1, &
                    turb2, zi1, zi2, done1, done2, x(p) - w%i0, y(p) - w%j0, cell, tstatus)
                call diagnostics(w, zsg, prof1, prof2, sfc1, sfc2, x(p) - w%i0, y(p) - w%j0, &
                    s(p), tfb, out(:, p, n))
                ! wout: the mean vertical velocity of the (last sub-)step's two passes, m/s
                ! positive up, as the binary prints it (not w at the new position)
                out(dc_wout, p, n) = -wbar * (w%z_top - out(dc_zsfc, p, n)) / sec_per_min
                out(dc_x, p, n) = x(p)
                out(dc_y, p, n) = y(p)
                out(dc_sigw, p, n) = sigw_used; out(dc_tlgr, p, n) = tl_used
                out(dc_samt, p, n) = samt; out(dc_foot, p, n) = foot
                out(dc_dmas, p, n) = dmas(p)
                out(dc_mlht, p, n) = 0.5_dp * (zia + zib)  ! mean over the step, as the binary prints it
            end do
        end do
        !$omp end parallel do
    end subroutine advance_interval

end module stilt_transport
