!! stilt_layout: the slots of the packed arrays that cross the f2py boundary into
!! transport_advance and transport_init_errors (the met window, options and the real-valued
!! particle state). Each slot is named here and nowhere else in Fortran; stilt/_transport_loop.py
!! lists the same slots by name in the same order (WINDOW_SLOTS, TURB_SLOTS, STEP_SLOTS,
!! ERROR_SLOTS, STATE_SLOTS), and tests/test_transport.py checks the two agree by unpacking
!! here values Python packed by name.
module stilt_layout
    use stilt_kinds, only: dp, ip
    use stilt_turbulence, only: turb_options
    use stilt_dispersion, only: disp_options
    use stilt_transport, only: error_options, met_window
    use stilt_met, only: remap_options
    implicit none
    private

    public :: unpack_window, unpack_turb, unpack_step, unpack_errors, unpack_remap

    !! wpar: the met window of one interval (full-grid offset i0, j0 of its node (1, 1) minus 1,
    !! full grid size, 1 when a global grid wraps in x, model top (m), the two met times
    !! (minutes since release), the internal level coefficients)
    integer(ip), parameter, public :: wi_i0 = 1, wi_j0 = 2, wi_nx_full = 3, wi_ny_full = 4, &
        wi_wrap_x = 5, wi_z_top = 6, wi_t1 = 7, wi_t2 = 8, wi_aa = 9, wi_bb = 10, wi_cc = 11
    integer(ip), parameter, public :: n_wpar = 11

    !! topt: turbulence options of one met interval (SETUP.CFG names; ziscale of each met time,
    !! ks the surface-layer top level, z0 the roughness length where the met has none, m; the
    !! first data level, kdat, is each met column's own: stilt_met.pv_dat)
    integer(ip), parameter, public :: to_kbls = 1, to_kmixd = 2, to_kmix0 = 3, to_kzmix = 4, &
        to_tvmix = 5, to_tkerd = 6, to_tkern = 7, to_ziscale1 = 8, to_ziscale2 = 9, &
        to_ks = 10, to_z0 = 11
    integer(ip), parameter, public :: n_topt = 11
    !! dopt: time step and dispersion options (SETUP.CFG names)
    integer(ip), parameter, public :: do_tratio = 1, do_nturb = 2, do_tlfrac = 3, do_veght = 4, &
        do_hscale = 5
    integer(ip), parameter, public :: n_dopt = 5
    !! errpar: transport-error options (SETUP.CFG names, docs/physics.md sec. 8)
    integer(ip), parameter, public :: eo_winderrtf = 1, eo_siguverr = 2, eo_tluverr = 3, &
        eo_zcoruverr = 4, eo_horcoruverr = 5, eo_sigzierr = 6, eo_tlzierr = 7, eo_horcorzierr = 8
    integer(ip), parameter, public :: n_errpar = 8
    !! rpar: what the met source's data levels are and hold (stilt_met remap_options: ARL
    !! vertical system, top pressure of sigma levels, vertical-motion kind, humidity code, 1
    !! when the level pressures are given, 1 when geopotential heights are)
    integer(ip), parameter, public :: ro_ksys = 1, ro_ptop = 2, ro_w_kind = 3, ro_humidity = 4, &
        ro_have_pres = 5, ro_have_hgts = 6
    integer(ip), parameter, public :: n_rpar = 6
    !! state(np, n_state): one column per real-valued particle quantity (stilt_transport
    !! advance_interval: position, sigma, turbulence state, start-of-step column position)
    integer(ip), parameter, public :: st_x = 1, st_y = 2, st_s = 3, st_wnorm = 4, st_up = 5, &
        st_vp = 6, st_dmas = 7, st_xc = 8, st_yc = 9
    integer(ip), parameter, public :: n_state = 9

contains

    pure function unpack_window(wpar, nx, ny, nl) result(w)
        !! The met window of an interval: nx x ny nodes, nl internal levels.
        real(dp), intent(in) :: wpar(n_wpar)
        integer(ip), intent(in) :: nx, ny, nl
        type(met_window) :: w
        w = met_window(nx=nx, ny=ny, nl=nl, i0=nint(wpar(wi_i0)), j0=nint(wpar(wi_j0)), &
            nx_full=nint(wpar(wi_nx_full)), ny_full=nint(wpar(wi_ny_full)), &
            wrap_x=nint(wpar(wi_wrap_x)) /= 0, z_top=wpar(wi_z_top), t1=wpar(wi_t1), &
            t2=wpar(wi_t2), aa=wpar(wi_aa), bb=wpar(wi_bb), cc=wpar(wi_cc))
    end function unpack_window

    pure subroutine unpack_turb(topt, topts1, topts2, z0)
        !! Turbulence options of the two met times of an interval, and the default roughness.
        real(dp), intent(in) :: topt(n_topt)
        type(turb_options), intent(out) :: topts1, topts2
        real(dp), intent(out) :: z0
        topts1%kbls = nint(topt(to_kbls))
        topts1%kmixd = nint(topt(to_kmixd))
        topts1%kmix0 = nint(topt(to_kmix0))
        topts1%kzmix = nint(topt(to_kzmix))
        topts1%tvmix = topt(to_tvmix)
        topts1%tkerd = topt(to_tkerd)
        topts1%tkern = topt(to_tkern)
        topts1%ziscale = topt(to_ziscale1)
        topts1%ks = nint(topt(to_ks))
        topts2 = topts1
        topts2%ziscale = topt(to_ziscale2)
        z0 = topt(to_z0)
    end subroutine unpack_turb

    pure subroutine unpack_step(dopt, z_top, dopts, tratio, nturb)
        !! Dispersion options (model top z_top, m), the TRATIO step limit and NTURB.
        real(dp), intent(in) :: dopt(n_dopt), z_top
        type(disp_options), intent(out) :: dopts
        real(dp), intent(out) :: tratio
        integer(ip), intent(out) :: nturb
        dopts%tlfrac = dopt(do_tlfrac)
        dopts%veght = dopt(do_veght)
        dopts%hscale = dopt(do_hscale)
        dopts%ztop = z_top
        tratio = dopt(do_tratio)
        nturb = nint(dopt(do_nturb))
    end subroutine unpack_step

    pure function unpack_errors(errpar) result(eopts)
        !! Transport-error options.
        real(dp), intent(in) :: errpar(n_errpar)
        type(error_options) :: eopts
        eopts = error_options(winderrtf=nint(errpar(eo_winderrtf)), sig_uv=errpar(eo_siguverr), &
            tl_uv=errpar(eo_tluverr), zcor=errpar(eo_zcoruverr), horcor=errpar(eo_horcoruverr), &
            sig_zi=errpar(eo_sigzierr), tl_zi=errpar(eo_tlzierr), &
            horcor_zi=errpar(eo_horcorzierr))
    end function unpack_errors

    pure function unpack_remap(rpar) result(ro)
        !! How the met source's data levels are remapped.
        real(dp), intent(in) :: rpar(n_rpar)
        type(remap_options) :: ro
        ro = remap_options(ksys=nint(rpar(ro_ksys)), w_kind=nint(rpar(ro_w_kind)), &
            humidity=nint(rpar(ro_humidity)), have_pres=nint(rpar(ro_have_pres)) /= 0, &
            have_hgts=nint(rpar(ro_have_hgts)) /= 0, ptop=rpar(ro_ptop))
    end function unpack_remap
end module stilt_layout
