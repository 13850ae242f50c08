!! Turbulent dispersion of one particle over one model step in STILT mode (docs/physics.md
!! sec. 6, sec. 7): the STILT vertical Langevin scheme with TLFRAC sub-steps, step-function profiles,
!! the thin interface layer above the mixed layer and the well-mixed interface rule, reflection
!! at the ground and the model top, the mean-wind shear coupling of the sub-steps, the
!! horizontal turbulent velocity, and the per-particle foot / samt accumulation.
!!
!! Profiles come in pairs: index 1 = the met state at the start of the step ("prev", used in
!! the first half), index 2 = at the end of the step ("next", second half).
!!
!! How the particle time loop uses the dispersion kernels, per particle and model step:
!!  1. once per run: `rng_seed(seed, particle_index, rng)` (stilt_random); wnorm = up = vp = 0
!!     (the first step then draws them from their stationary distribution), dmas = 1,
!!     foot = samt = 0;
!!  2. for each of the two met times bracketing the step, on the internal levels at the
!!     particle's column: `column_turbulence` (stilt_turbulence) gives zi, sigw, tl, sigu, sigv;
!!     the met remap gives dens (moist air density), densd (dry-air density for foot), the
!!     mean wind in grid units per minute (ug, vg) and optionally the mass-violation rate;
!!  3. mean advection (Petterssen) of the step, then `dispersion_step` with x, y reset to the
!!     position before the mean advection and sigma after the mean vertical displacement;
!!  4. at an output time report foot, samt (then reset them to 0), sigw_used and tl_used.
module stilt_dispersion
    use, intrinsic :: ieee_arithmetic, only: ieee_value, ieee_quiet_nan
    use stilt_kinds, only: dp, ip, sgl => sp, status_ok, status_bad_argument, status_out_of_range, &
        sec_per_min
    use stilt_random, only: rng_state_size, rng_normal, rng_uniform
    use stilt_footprint, only: veght_fraction_max
    implicit none
    private

    public :: disp_options, m_air_stilt, dispersion_step, horizontal_turbulence, &
        column_mass_below, augment_levels, vertical_half_step, levels_needed

    !! dispersion_step was given fewer valid levels (nk) than the particle reached: nothing it
    !! returned counts; the caller gives it more levels and calls it again from the same state
    integer(ip), parameter, public :: status_need_levels = 101

    real(dp), parameter :: m_air_stilt = 0.02884_dp  !! molar mass of air inside the reference binary's foot (kg/mol)
    real(dp), parameter :: sigw_floor = 0.001_dp     !! sigma_w used where a profile value is 0
    real(dp), parameter :: tl_default = 100.0_dp     !! T_L used where a profile value is 0 (s)
    integer, parameter :: max_substeps = 10000000    !! guard against a stuck sub-step loop

    type :: disp_options
        !! Namelist options of the dispersion (SETUP.CFG names, R-STILT defaults).
        real(dp) :: tlfrac = 0.1_dp     !! sub-step as a fraction of T_L
        real(dp) :: veght = 0.5_dp      !! foot height: <= 9 fraction of zi, > 9 metres
        real(dp) :: hscale = 10800.0_dp !! horizontal Lagrangian time scale (s)
        real(dp) :: ztop = 25000.0_dp   !! model top Zt (m, CONTROL "top of model domain")
    end type disp_options

contains

    pure subroutine augment_levels(nz, zsg, zi, depth, sigw, tl, dens, densd, ug, vg, dmv, &
            nk, na, nav, asg, asigw, atl, adens, adensd, aug, avg, admv)
        !! Insert the thin interface level just above the first internal level at or above zi
        !! (docs/physics.md sec. 6.2): sigma = sigma_K - 0.05 (sigma_K - sigma_K+1), with the values
        !! of level K+1. Zero sigma_w / T_L are replaced by 0.001 m/s / 100 s. Only the
        !! values of levels 1..nk are read (the levels above may be unset): the augmented
        !! levels 1..nav carry values, asg all na.
        integer(ip), intent(in) :: nz                 !! number of internal levels
        real(dp), intent(in) :: zsg(nz)               !! sigma of the levels (1 at the ground)
        real(dp), intent(in) :: zi                    !! mixed-layer height (m above ground)
        real(dp), intent(in) :: depth                 !! Zt - Zg (m)
        real(dp), intent(in) :: sigw(nz), tl(nz), dens(nz), densd(nz), ug(nz), vg(nz), dmv(nz)
        integer(ip), intent(in) :: nk                 !! levels whose values are set (<= nz)
        integer(ip), intent(out) :: na                !! number of levels after insertion
        integer(ip), intent(out) :: nav               !! augmented levels with values (<= na)
        real(dp), intent(out) :: asg(nz + 1)          !! sigma of the augmented levels
        real(dp), intent(out) :: asigw(nz + 1), atl(nz + 1), adens(nz + 1), adensd(nz + 1)
        real(dp), intent(out) :: aug(nz + 1), avg(nz + 1), admv(nz + 1)
        integer(ip) :: k, kzm
        kzm = 0
        do k = 1, nz
            if ((1.0_dp - zsg(k)) * depth >= zi) then
                kzm = k
                exit
            end if
        end do
        if (kzm == 0 .or. kzm >= nz) then
            na = nz
            nav = nk
            asg(:nz) = zsg
            asigw(:nk) = sigw(:nk)
            atl(:nk) = tl(:nk)
            adens(:nk) = dens(:nk)
            adensd(:nk) = densd(:nk)
            aug(:nk) = ug(:nk)
            avg(:nk) = vg(:nk)
            admv(:nk) = dmv(:nk)
        else
            na = nz + 1
            nav = nk
            if (kzm < nk) nav = nk + 1
            asg(:kzm) = zsg(:kzm)
            asg(kzm + 1) = zsg(kzm) - 0.05_dp * (zsg(kzm) - zsg(kzm + 1))
            asg(kzm + 2:) = zsg(kzm + 1:)
            call put(sigw, asigw)
            call put(tl, atl)
            call put(dens, adens)
            call put(densd, adensd)
            call put(ug, aug)
            call put(vg, avg)
            call put(dmv, admv)
        end if
        asg(na + 1:) = 0.0_dp
        where (asigw(:nav) <= 0.0_dp) asigw(:nav) = sigw_floor
        where (atl(:nav) <= 0.0_dp) atl(:nav) = tl_default
        if (nav < na) then
            ! the first level without values reads as NaN (a reader that went past nav shows)
            asigw(nav + 1) = ieee_value(1.0_dp, ieee_quiet_nan)
            atl(nav + 1) = asigw(nav + 1); adens(nav + 1) = asigw(nav + 1)
            adensd(nav + 1) = asigw(nav + 1); aug(nav + 1) = asigw(nav + 1)
            avg(nav + 1) = asigw(nav + 1); admv(nav + 1) = asigw(nav + 1)
        end if
    contains
        pure subroutine put(a, b)
            real(dp), intent(in) :: a(nz)
            real(dp), intent(out) :: b(nz + 1)
            if (kzm >= nk) then
                b(:nk) = a(:nk)
            else
                b(:kzm) = a(:kzm)
                b(kzm + 1) = a(kzm + 1)
                b(kzm + 2:nk + 1) = a(kzm + 1:nk)
            end if
        end subroutine put
    end subroutine augment_levels

    pure function levels_needed(nz, zsg, depth, zi, sigma, opts, margin) result(nk)
        !! How many internal levels of the columns one dispersion_step of a particle at sigma
        !! is expected to read: up to its own layer, the interface level above each zi and
        !! the foot height, plus margin levels. More are given on demand (status_need_levels),
        !! so this only sets how often that happens.
        integer(ip), intent(in) :: nz                 !! number of internal levels
        real(dp), intent(in) :: zsg(nz)               !! sigma of the levels (1 at the ground)
        real(dp), intent(in) :: depth                 !! Zt - Zg (m)
        real(dp), intent(in) :: zi(2)                 !! mixed-layer heights of the two halves (m)
        real(dp), intent(in) :: sigma                 !! particle sigma
        type(disp_options), intent(in) :: opts        !! options (veght, ztop)
        integer(ip), intent(in) :: margin             !! levels added above
        integer(ip) :: nk
        real(dp) :: ztop_need
        integer(ip) :: k
        ztop_need = max((1.0_dp - sigma) * depth, maxval(zi))
        if (opts%veght > veght_fraction_max) ztop_need = max(ztop_need, opts%veght)
        nk = nz
        do k = 1, nz
            if ((1.0_dp - zsg(k)) * depth >= ztop_need) then
                nk = k
                exit
            end if
        end do
        nk = min(nz, nk + 1 + margin)
    end function levels_needed

    pure function column_mass_below(n, zl, densd, hv) result(d)
        !! Dry-air column mass below h_v on step-function layers (docs/physics.md sec. 7.2):
        !! D = sum_{k<kv} rho_k (z_k - z_{k-1}) + rho_kv (h_v - z_{kv-1}), z_0 = 0, with kv the
        !! first level whose upper neighbour reaches h_v (the last level if none does).
        integer(ip), intent(in) :: n           !! number of levels
        real(dp), intent(in) :: zl(n)          !! level heights above ground (m), increasing
        real(dp), intent(in) :: densd(n)       !! dry-air density at the levels (kg/m3)
        real(dp), intent(in) :: hv             !! threshold height (m)
        real(dp) :: d                          !! column mass (kg/m2)
        integer(ip) :: k, kv
        real(dp) :: zlow
        kv = n
        do k = 1, n - 1
            if (zl(k + 1) >= hv) then
                kv = k
                exit
            end if
        end do
        d = 0.0_dp
        zlow = 0.0_dp
        do k = 1, kv - 1
            d = d + densd(k) * (zl(k) - zlow)
            zlow = zl(k)
        end do
        d = d + densd(kv) * (hv - zlow)
    end function column_mass_below

    pure subroutine vertical_half_step(na, nav, asg, asigw, atl, adens, aug, avg, admv, &
            depth, dt_half, dir, tlfrac, hv, dmass, foot_scale, sigma, wnorm, x, y, dmas, &
            foot, samt, sigw_used, tl_used, rng, status)
        !! STILT vertical Langevin scheme over half a model step on augmented levels
        !! (docs/physics.md sec. 6.2-sec. 6.5, sec. 7.2). Layer kb spans [z_kb, z_kb+1) (layer 1: from the
        !! ground) and uses the level-kb values; sub-steps of min(remaining, tlfrac T_L);
        !! crossing an internal interface is transmitted with probability
        !! (rho sigma_w)_new / (rho sigma_w)_old, else reflected; perfect reflection at the
        !! ground and at the top level. Only levels 1..nav carry values: a particle that would
        !! read a level above returns status_need_levels at once.
        !! One procedure (~195 lines) on purpose: a single sub-step loop whose layer, velocity,
        !! height, random draws and foot/samt sums carry from sub-step to sub-step in the
        !! reference binary's order; transmission and reflection at the interfaces happen inside
        !! it.
        integer(ip), intent(in) :: na                  !! number of (augmented) levels
        integer(ip), intent(in) :: nav                 !! levels with values (<= na)
        real(dp), intent(in) :: asg(na)                !! sigma of the levels
        real(dp), intent(in) :: asigw(na), atl(na)     !! sigma_w (m/s), T_L (s)
        real(dp), intent(in) :: adens(na)              !! air density (kg/m3)
        real(dp), intent(in) :: aug(na), avg(na)       !! mean wind (grid units per minute)
        real(dp), intent(in) :: admv(na)               !! mass-violation rate (1/min)
        real(dp), intent(in) :: depth                  !! Zt - Zg (m)
        real(dp), intent(in) :: dt_half                !! duration of the half step (min, > 0)
        real(dp), intent(in) :: dir                    !! +1 forward, -1 backward in time
        real(dp), intent(in) :: tlfrac                 !! sub-step fraction of T_L
        real(dp), intent(in) :: hv                     !! foot threshold height (m)
        real(dp), intent(in) :: dmass                  !! column mass below hv (kg/m2)
        real(dp), intent(in) :: foot_scale             !! factor on foot increments
        real(dp), intent(inout) :: sigma               !! particle sigma
        real(dp), intent(inout) :: wnorm               !! turbulent velocity / sigma_w
        real(dp), intent(inout) :: x, y                !! position (grid units)
        real(dp), intent(inout) :: dmas                !! mass-violation weight
        real(dp), intent(inout) :: foot                !! accumulated foot (ppm / (umol m-2 s-1))
        real(dp), intent(inout) :: samt                !! accumulated time below hv (min)
        real(dp), intent(out) :: sigw_used, tl_used    !! last sigma_w (m/s) and T_L (s)
        integer(ip), intent(inout) :: rng(rng_state_size)  !! random stream of the particle
        integer(ip), intent(out) :: status             !! status_ok or status_out_of_range
        real(dp) :: zl(na), z, rem, dts, r, rc, r_full, rc_full, wp, zn, zlo, zup, dist, tneed, &
            used, gn, un, p, frac, ugp, vgp, ztop, dts_kb, dzl, daug, davg, csig_kb, foot_kb, &
            xl, yl, footl, samtl, dmasl
        integer(ip) :: kb, k, kbu
        integer :: iter
        logical :: mass_violation

        status = status_ok
        r_full = exp(-tlfrac)
        rc_full = sqrt(1.0_dp - r_full * r_full)
        zl = (1.0_dp - asg) * depth
        ztop = zl(na)
        z = (1.0_dp - sigma) * depth
        z = max(0.0_dp, min(ztop, z))
        kb = 1
        do k = 2, na - 1
            if (z < zl(k)) exit   ! zl increases with k
            kb = k
        end do
        if (kb + 1 > nav .and. nav < na) then
            status = status_need_levels
            return
        end if
        wp = wnorm * asigw(kb)
        kbu = kb  ! the layer of the last sub-step (sigw_used, tl_used)
        call enter_layer(kb, dts_kb, csig_kb, foot_kb, k, dzl, daug, davg, zlo, zup)
        ! dmas changes only where a mass-violation rate is given (otherwise it is multiplied
        ! by exactly 1)
        mass_violation = any(admv(:nav) /= 0.0_dp)
        ! the particle's state in locals for the loop (written back at the end)
        xl = x; yl = y; footl = foot; samtl = samt; dmasl = dmas
        rem = dt_half
        iter = 0
        do while (rem > 0.0_dp)
            iter = iter + 1
            if (iter > max_substeps) then
                status = status_out_of_range
                exit
            end if
            call rng_normal(rng, gn)
            if (rem > dts_kb) then
                dts = dts_kb                ! a full sub-step: R = exp(-tlfrac)
                wp = r_full * wp + csig_kb * gn
            else
                dts = rem
                r = exp(-sec_per_min * dts / atl(kb))
                rc = sqrt(1.0_dp - r * r)
                wp = r * wp + rc * asigw(kb) * gn
            end if
            kbu = kb
            ! mean wind at the current height: no-slip below level 1, linear in sigma above
            if (z < zl(1)) then
                frac = z / zl(1)
                ugp = aug(1) * frac
                vgp = avg(1) * frac
            else if (z >= zl(na)) then
                ugp = aug(na)
                vgp = avg(na)
            else
                frac = (z - zl(k)) / dzl
                frac = max(0.0_dp, min(1.0_dp, frac))
                ugp = aug(k) + frac * daug
                vgp = avg(k) + frac * davg
            end if
            if (wp > 0.0_dp) then
                dist = zup - z
            else
                dist = z - zlo
            end if
            if (wp == 0.0_dp) then
                tneed = huge(1.0_dp)
            else
                tneed = dist / (abs(wp) * sec_per_min)
            end if
            if (tneed >= dts) then
                used = dts
                zn = z + wp * dts * sec_per_min
            else
                used = tneed
                if (wp > 0.0_dp) then
                    zn = zup
                    if (kb + 1 >= na) then
                        wp = -wp                        ! top of the model: reflect
                    else
                        call rng_uniform(rng, un)
                        p = (adens(kb + 1) * asigw(kb + 1)) / (adens(kb) * asigw(kb))
                        if (un <= p) then
                            wp = wp * asigw(kb + 1) / asigw(kb)
                            kb = kb + 1
                            if (kb + 1 > nav .and. nav < na) then
                                status = status_need_levels
                                return
                            end if
                            call enter_layer(kb, dts_kb, csig_kb, foot_kb, k, dzl, daug, davg, zlo, zup)
                        else
                            wp = -wp
                        end if
                    end if
                else
                    zn = zlo
                    if (kb == 1) then
                        wp = -wp                        ! ground: reflect
                    else
                        call rng_uniform(rng, un)
                        p = (adens(kb - 1) * asigw(kb - 1)) / (adens(kb) * asigw(kb))
                        if (un <= p) then
                            wp = wp * asigw(kb - 1) / asigw(kb)
                            kb = kb - 1
                            call enter_layer(kb, dts_kb, csig_kb, foot_kb, k, dzl, daug, davg, zlo, zup)
                        else
                            wp = -wp
                        end if
                    end if
                end if
            end if
            ! the binary adds each sub-step to a single-precision grid position: a move under
            ! half a float32 step of the position is lost (docs/physics.md sec. 6.5)
            xl = real(xl + ugp * dir * used, sgl)
            yl = real(yl + vgp * dir * used, sgl)
            if (mass_violation) then
                if (z < zl(1)) then
                    dmasl = dmasl * (1.0_dp + admv(1) * used)
                else
                    dmasl = dmasl * (1.0_dp + admv(min(kb + 1, na)) * used)
                end if
            end if
            z = max(0.0_dp, min(ztop, zn))
            if (z < hv) then
                samtl = samtl + used
                if (used == dts_kb) then
                    footl = footl + foot_kb             ! the same value for every full sub-step
                else
                    footl = footl + foot_scale * used * sec_per_min * m_air_stilt / dmass
                end if
            end if
            rem = rem - used
        end do
        x = xl; y = yl; foot = footl; samt = samtl; dmas = dmasl
        sigma = 1.0_dp - z / depth
        wnorm = wp / asigw(kb)
        sigw_used = asigw(kbu)
        tl_used = atl(kbu)
    contains
        pure subroutine enter_layer(kb, dts_kb, csig_kb, foot_kb, k, dzl, daug, davg, zlo, zup)
            !! What the sub-steps in layer kb use: the full sub-step dts_kb (min), the random
            !! velocity factor and foot increment of a full sub-step, the layer bounds, and the
            !! levels k, k + 1 of the mean wind with their differences.
            integer(ip), intent(in) :: kb
            real(dp), intent(out) :: dts_kb, csig_kb, foot_kb, dzl, daug, davg, zlo, zup
            integer(ip), intent(out) :: k
            dts_kb = tlfrac * atl(kb) / sec_per_min
            csig_kb = rc_full * asigw(kb)
            foot_kb = foot_scale * dts_kb * sec_per_min * m_air_stilt / dmass
            k = max(1_ip, min(kb, na - 1_ip))
            dzl = zl(k + 1) - zl(k)
            daug = aug(k + 1) - aug(k)
            davg = avg(k + 1) - avg(k)
            zlo = 0.0_dp
            if (kb > 1) zlo = zl(kb)
            zup = zl(kb + 1)
        end subroutine enter_layer
    end subroutine vertical_half_step

    pure subroutine horizontal_turbulence(dt, hscale, sigu, sigv, gdisx, gdisy, up, vp, x, y, rng)
        !! Horizontal turbulent velocity and displacement over one model step
        !! (docs/physics.md sec. 6.6):
        !! u' <- R u' + sqrt(1 - R^2) N(0, sigma_u), R = exp(-|dt|/HSCALE); x += u' |dt| / GDISX.
        real(dp), intent(in) :: dt              !! model step (min; sign ignored)
        real(dp), intent(in) :: hscale          !! horizontal Lagrangian time scale (s)
        real(dp), intent(in) :: sigu, sigv      !! velocity std. dev. along x and y (m/s)
        real(dp), intent(in) :: gdisx, gdisy    !! grid spacing at the particle (m per grid unit)
        real(dp), intent(inout) :: up, vp       !! turbulent velocities (m/s), persistent
        real(dp), intent(inout) :: x, y         !! position (grid units)
        integer(ip), intent(inout) :: rng(rng_state_size)  !! random stream of the particle
        real(dp) :: r, g1, g2, dts
        dts = abs(dt) * sec_per_min
        r = exp(-dts / hscale)
        call rng_normal(rng, g1)
        call rng_normal(rng, g2)
        up = r * up + sqrt(1.0_dp - r * r) * sigu * g1
        vp = r * vp + sqrt(1.0_dp - r * r) * sigv * g2
        x = x + up * dts / gdisx
        y = y + vp * dts / gdisy
    end subroutine horizontal_turbulence

    pure subroutine dispersion_step(nz, zsg, depth, dt, opts, zi, sigw, tl, sigu, sigv, dens, &
            densd, ug, vg, dmv, gdisx, gdisy, foot_scale, sigma, wnorm, up, vp, x, y, dmas, &
            foot, samt, sigw_used, tl_used, rng, status, nk)
        !! One model step of STILT turbulent dispersion for one particle (sec. 6, sec. 7). Call it
        !! after the mean advection of the step with x, y reset to their values before the
        !! mean horizontal advection (sec. 6.1: the sub-steps advect horizontally with the
        !! mean wind at the particle height) and sigma after the mean vertical displacement.
        !! The first half of the step uses the profiles of index 1 (start of step), the second
        !! half those of index 2 (end of step). foot and samt are incremented, never reset.
        integer(ip), intent(in) :: nz               !! number of internal levels
        real(dp), intent(in) :: zsg(nz)             !! sigma of the internal levels (1 = ground)
        real(dp), intent(in) :: depth               !! Zt - Zg at the particle (m)
        real(dp), intent(in) :: dt                  !! model step (min; negative backward)
        type(disp_options), intent(in) :: opts      !! options
        real(dp), intent(in) :: zi(2)               !! mixed-layer height (m above ground)
        real(dp), intent(in) :: sigw(nz, 2)         !! sigma_w (m/s)
        real(dp), intent(in) :: tl(nz, 2)           !! T_L (s)
        real(dp), intent(in) :: sigu(nz, 2)         !! sigma_u along x (m/s)
        real(dp), intent(in) :: sigv(nz, 2)         !! sigma_v along y (m/s)
        real(dp), intent(in) :: dens(nz, 2)         !! air density (kg/m3)
        real(dp), intent(in) :: densd(nz, 2)        !! dry-air density for foot (kg/m3)
        real(dp), intent(in) :: ug(nz, 2)           !! mean wind along x (grid units per minute)
        real(dp), intent(in) :: vg(nz, 2)           !! mean wind along y (grid units per minute)
        real(dp), intent(in) :: dmv(nz, 2)          !! mass-violation rate (1/min); 0 if unused
        real(dp), intent(in) :: gdisx, gdisy        !! grid spacing at the particle (m per unit)
        real(dp), intent(in) :: foot_scale          !! factor on the foot increments: 1, or
                                                    !! max(0, 1 + eps_zi/100) in ZIERR runs (sec. 8.2)
        real(dp), intent(inout) :: sigma            !! particle sigma (1 at the ground)
        real(dp), intent(inout) :: wnorm            !! vertical turbulent velocity / sigma_w
        real(dp), intent(inout) :: up, vp           !! horizontal turbulent velocities (m/s);
                                                    !! wnorm = up = vp = 0 marks a new particle:
                                                    !! they are then drawn from N(0,1), N(0,
                                                    !! sigma_u), N(0, sigma_v) of its layer
        real(dp), intent(inout) :: x, y             !! position (grid units)
        real(dp), intent(inout) :: dmas             !! mass-violation weight (initially 1)
        real(dp), intent(inout) :: foot             !! foot accumulator (ppm / (umol m-2 s-1))
        real(dp), intent(inout) :: samt             !! time below the foot height (min)
        real(dp), intent(out) :: sigw_used          !! sigma_w of the last sub-step (m/s)
        real(dp), intent(out) :: tl_used            !! T_L of the last sub-step (s)
        integer(ip), intent(inout) :: rng(rng_state_size)  !! random stream of the particle
        integer(ip), intent(out) :: status          !! status_ok, bad_argument, out_of_range,
                                                    !! or need_levels (then call it again from
                                                    !! the state before, with more levels)
        integer(ip), intent(in), optional :: nk     !! levels 1..nk of the profiles are set
                                                    !! (default nz; see levels_needed)
        real(dp) :: asg(nz + 1), asigw(nz + 1), atl(nz + 1), adens(nz + 1), adensd(nz + 1), &
            aug(nz + 1), avg(nz + 1), admv(nz + 1), zl(nz + 1), hv, dmass, dir, zp
        integer(ip) :: na, nav, half, k, kb, nkv

        status = status_ok
        nkv = nz
        if (present(nk)) nkv = nk
        sigw_used = 0.0_dp
        tl_used = 0.0_dp
        if (nz < 3 .or. depth <= 0.0_dp .or. dt == 0.0_dp .or. opts%tlfrac <= 0.0_dp) then
            status = status_bad_argument
            return
        end if
        dir = sign(1.0_dp, dt)

        ! the particle's layer in the start-of-step profile
        zp = (1.0_dp - sigma) * depth
        kb = 1
        do k = 2, nz - 1
            if (zp < (1.0_dp - zsg(k)) * depth) exit   ! the heights increase with k
            kb = k
        end do
        if (kb > nkv) then
            status = status_need_levels
            return
        end if
        ! at release (all turbulent velocities exactly 0) the velocities start from their
        ! stationary distribution, as the binary's particle spreads show (docs/physics.md sec. 6.7)
        if (wnorm == 0.0_dp .and. up == 0.0_dp .and. vp == 0.0_dp) then
            call rng_normal(rng, wnorm)
            call rng_normal(rng, up)
            call rng_normal(rng, vp)
            up = up * sigu(kb, 1)
            vp = vp * sigv(kb, 1)
        end if
        ! horizontal turbulence with the start-of-step profile at the particle's layer
        call horizontal_turbulence(dt, opts%hscale, sigu(kb, 1), sigv(kb, 1), gdisx, gdisy, &
            up, vp, x, y, rng)

        do half = 1, 2
            call augment_levels(nz, zsg, zi(half), depth, sigw(:, half), tl(:, half), &
                dens(:, half), densd(:, half), ug(:, half), vg(:, half), dmv(:, half), &
                nkv, na, nav, asg, asigw, atl, adens, adensd, aug, avg, admv)
            if (opts%veght <= veght_fraction_max) then
                hv = opts%veght * zi(half)
            else
                hv = opts%veght
            end if
            hv = min(hv, 0.9_dp * opts%ztop)
            zl(:na) = (1.0_dp - asg(:na)) * depth
            ! the column mass reads the levels up to the first whose upper neighbour reaches hv
            if (nav < na .and. zl(max(nav, 1)) < hv) then
                status = status_need_levels
                return
            end if
            dmass = column_mass_below(na, zl(:na), adensd(:na), hv)
            call vertical_half_step(na, nav, asg(:na), asigw(:na), atl(:na), adens(:na), &
                aug(:na), avg(:na), admv(:na), depth, 0.5_dp * abs(dt), dir, &
                opts%tlfrac, hv, dmass, foot_scale, sigma, wnorm, x, y, dmas, foot, &
                samt, sigw_used, tl_used, rng, status)
            if (status /= status_ok) return
        end do
    end subroutine dispersion_step

end module stilt_dispersion
