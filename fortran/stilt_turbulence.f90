!! Turbulence profiles of one model column (docs/physics.md sec. 5): stability, mixed-layer
!! height, and the Hanna (KBLT = 5, as in STILT) sigma_w / T_L profiles with free-troposphere
!! mixing above the mixed layer and horizontal variances proportional to the vertical one.
!!
!! `column_turbulence` is the one call the particle time loop makes per column and met time;
!! the pieces are public for testing.
module stilt_turbulence
    use stilt_kinds, only: dp, ip, status_ok, status_bad_argument, status_not_finite, min_per_hour
    use stilt_stability, only: surface_met, mom_none, mom_ustar, mom_flux, mom_exco, heat_none, &
        heat_tstar, heat_flux, vonk, grav_stilt, potential_temperature, surface_layer, &
        mixed_layer_height, convective_velocity, third
    use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
    implicit none
    private

    ! re-exported so that callers need only this module
    public :: surface_met, mom_none, mom_ustar, mom_flux, mom_exco, heat_none, heat_tstar, &
        heat_flux
    public :: turb_options, column_state, column_turbulence, turbulence_profiles, &
        free_troposphere_k, virtual_potential_temperature, zicontrol_scale, &
        interpolate_in_time, time_levels

    real(dp), parameter :: tl_free = 100.0_dp   !! T_L above the mixed layer (s)

    type :: turb_options
        !! Namelist options of the turbulence (SETUP.CFG names, R-STILT defaults).
        integer(ip) :: kbls = 1        !! stability: 1 from fluxes when present, 2 from profile
        integer(ip) :: kblt = 5        !! turbulence profiles: only 5 (Hanna, STILT) is supported
        integer(ip) :: kmixd = 3       !! mixed-layer method (0 PBLH, 1 T, 2 TKE, 3 Ri, >=10 m)
        integer(ip) :: kmix0 = 150     !! minimum mixed-layer height (m)
        integer(ip) :: kzmix = 0       !! 0 none, 1 PBL average, 2 scale PBL, 3 scale free trop.
        real(dp) :: tvmix = 1.0_dp     !! vertical mixing scale factor of kzmix 2/3
        real(dp) :: tkerd = 0.18_dp    !! TKERD (day); only TKERN > TKERD matters (urban, 3.4)
        real(dp) :: tkern = 0.18_dp    !! TKERN (night): stable sigma_w^2 x 1.4 if > TKERD
        real(dp) :: ziscale = 1.0_dp   !! ZICONTROL factor of this met time (< 0: use PBLH)
        integer(ip) :: ks = 2          !! internal level at the surface-layer top
        integer(ip) :: kdat = 1        !! first level at/above the first data level (node: pv_dat)
    end type turb_options

    type :: column_state
        !! Scalar stability results of one column.
        real(dp) :: ustar = 0.0_dp   !! friction velocity (m/s)
        real(dp) :: tstar = 0.0_dp   !! friction temperature (K)
        real(dp) :: wstar = 0.0_dp   !! convective velocity scale (m/s)
        real(dp) :: zeta = 0.0_dp    !! z/L at the surface-layer top
        real(dp) :: obukhov = 0.0_dp !! Obukhov length L (m)
        real(dp) :: zi = 0.0_dp      !! mixed-layer height (m above ground)
    end type column_state

contains

    elemental function virtual_potential_temperature(temp, pres, q) result(thv)
        !! Virtual potential temperature T (1000/p)^0.286 (1 + 0.61 q) (K).
        real(dp), intent(in) :: temp   !! temperature (K)
        real(dp), intent(in) :: pres   !! pressure (hPa)
        real(dp), intent(in) :: q      !! specific humidity (kg/kg); 0 for dry air
        real(dp) :: thv
        thv = potential_temperature(temp, pres) * (1.0_dp + 0.61_dp * q)
    end function virtual_potential_temperature

    pure subroutine interpolate_in_time(nz, nv, z, tf, zi1, zi2, prof1, prof2, zi, prof)
        !! Turbulence profiles between two met times as the reference binary does it
        !! (docs/physics.md sec. 5.7):
        !! zi = (1 - tf) zi1 + tf zi2, and level k takes (1 - tf) prof1(k1) + tf prof2(k2), where
        !! k_m is the level nearest to the height z_k zi_m / zi (the level at the same height
        !! relative to the mixed layer in met time m), not level k itself.
        integer(ip), intent(in) :: nz            !! number of internal levels
        integer(ip), intent(in) :: nv            !! number of profile variables
        real(dp), intent(in) :: z(nz)            !! level heights above ground (m), increasing
        real(dp), intent(in) :: tf               !! time fraction: 0 at met time 1, 1 at time 2
        real(dp), intent(in) :: zi1, zi2         !! mixed-layer heights at the met times (m)
        real(dp), intent(in) :: prof1(nz, nv)    !! profiles at met time 1 (e.g. sigw, T_L, ...)
        real(dp), intent(in) :: prof2(nz, nv)    !! profiles at met time 2
        real(dp), intent(out) :: zi              !! mixed-layer height at tf (m)
        real(dp), intent(out) :: prof(nz, nv)    !! profiles at tf
        integer(ip) :: k, k1(nz), k2(nz)
        call time_levels(nz, z, tf, zi1, zi2, zi, k1, k2)
        do k = 1, nz
            prof(k, :) = (1.0_dp - tf) * prof1(k1(k), :) + tf * prof2(k2(k), :)
        end do
    end subroutine interpolate_in_time

    pure subroutine time_levels(nz, z, tf, zi1, zi2, zi, k1, k2, ktop)
        !! The levels interpolate_in_time pairs: zi = (1 - tf) zi1 + tf zi2, and k_m(k) the
        !! level nearest to z_k zi_m / zi (the lower one on a tie; level k itself when zi <= 0).
        !! With ktop only k1, k2 of levels 1..ktop are set.
        integer(ip), intent(in) :: nz            !! number of internal levels
        real(dp), intent(in) :: z(nz)            !! level heights above ground (m), increasing
        real(dp), intent(in) :: tf               !! time fraction: 0 at met time 1, 1 at time 2
        real(dp), intent(in) :: zi1, zi2         !! mixed-layer heights at the met times (m)
        real(dp), intent(out) :: zi              !! mixed-layer height at tf (m)
        integer(ip), intent(out) :: k1(nz), k2(nz)  !! levels taken from met times 1 and 2
        integer(ip), intent(in), optional :: ktop   !! highest level wanted (default nz)
        integer(ip) :: k, m1, m2, kt
        real(dp) :: r1, r2
        kt = nz
        if (present(ktop)) kt = ktop
        zi = (1.0_dp - tf) * zi1 + tf * zi2
        if (zi <= 0.0_dp) then
            k1(:kt) = [(k, k = 1, kt)]
            k2(:kt) = k1(:kt)
            return
        end if
        r1 = zi1 / zi
        r2 = zi2 / zi
        ! the targets z_k zi_m / zi grow with k: the nearest levels only move up
        m1 = 1
        m2 = 1
        do k = 1, kt
            call nearest_from(z(k) * r1, m1)
            call nearest_from(z(k) * r2, m2)
            k1(k) = m1
            k2(k) = m2
        end do
    contains
        pure subroutine nearest_from(h, kn)
            !! Move kn up to the level nearest to h (the lower level on a tie).
            real(dp), intent(in) :: h
            integer(ip), intent(inout) :: kn
            do while (kn < nz)
                if (abs(z(kn + 1) - h) >= abs(z(kn) - h)) exit
                kn = kn + 1
            end do
        end subroutine nearest_from
    end subroutine time_levels

    pure function zicontrol_scale(n, scales, minutes) result(f)
        !! ZICONTROL factor on zi for a met time (sec. 5.2): scales(h + 1) with h the whole hours
        !! between the met time and the simulation start, 1 beyond the list. A single negative
        !! entry is returned for every time (it means: use the met PBLH, see turb_options).
        integer(ip), intent(in) :: n            !! number of hourly factors (0: none)
        real(dp), intent(in) :: scales(n)       !! factors from the ZICONTROL file
        real(dp), intent(in) :: minutes         !! met time minus simulation start (min, any sign)
        real(dp) :: f                           !! factor for turb_options%ziscale
        integer(ip) :: h
        f = 1.0_dp
        if (n < 1) return
        if (n == 1 .and. scales(1) < 0.0_dp) then
            f = scales(1)
            return
        end if
        h = int(abs(minutes) / min_per_hour)
        if (h + 1 <= n) f = scales(h + 1)
    end function zicontrol_scale

    pure function free_troposphere_k(nz, z, thv, u, v, k) result(kh)
        !! Mixing-length eddy diffusivity above the mixed layer at level k (sec. 5.4):
        !! K = l^2 |dV/dz| / phi_h(Ri), l = 1/(1/(kappa z) + 1/150), Ri in [0, 20],
        !! phi_h of Beljaars-Holtslag with z/L from Ri; K in [0.01, 200] m2/s. Differences
        !! are taken between level k and the level below (levels 1-2 at k = 1), and Ri is
        !! normalised by theta_v of the lower level: this reproduces the reference binary's sigma_w in the
        !! free troposphere to print precision (docs/physics.md sec. 5.4).
        integer(ip), intent(in) :: nz          !! number of internal levels
        real(dp), intent(in) :: z(nz)          !! heights above ground (m)
        real(dp), intent(in) :: thv(nz)        !! virtual potential temperature (K)
        real(dp), intent(in) :: u(nz), v(nz)   !! wind components (m/s)
        integer(ip), intent(in) :: k           !! level
        real(dp) :: kh                         !! eddy diffusivity (m2/s)
        integer(ip) :: ka, kb
        real(dp) :: dz, du2, shear, ri, zl, etrm, phih, xl
        real(dp), parameter :: a1 = 2.828e-4_dp, a2 = 0.8049_dp, a3 = 1.6583_dp, &
            a4 = 5.090e-3_dp, a5 = -1.0063e-3_dp
        ka = max(k, 2_ip)
        kb = ka - 1
        dz = z(ka) - z(kb)
        if (dz <= 0.0_dp) then
            kh = 0.01_dp
            return
        end if
        du2 = max(1.0e-8_dp, (u(ka) - u(kb))**2 + (v(ka) - v(kb))**2)
        shear = sqrt(du2) / dz
        ri = grav_stilt * (thv(ka) - thv(kb)) * dz / thv(kb) / du2
        ri = max(0.0_dp, min(20.0_dp, ri))
        if (ri <= 0.001_dp) then
            zl = 1.0893_dp * ri
        else
            zl = a1 + ri * (a2 + ri * (a3 + ri * (a4 + ri * a5)))
        end if
        zl = min(256.0_dp, max(0.0_dp, zl))
        etrm = (2.0_dp / 3.0_dp) * exp(-0.35_dp * zl) * (1.0_dp - 0.35_dp * zl + 5.0_dp)
        phih = 0.923_dp * (1.0_dp + (sqrt(1.0_dp + (2.0_dp / 3.0_dp) * zl) + etrm) * zl)
        xl = 1.0_dp / (1.0_dp / (vonk * z(k)) + 1.0_dp / 150.0_dp)
        kh = max(0.01_dp, min(200.0_dp, xl * xl * shear / phih))
    end function free_troposphere_k

    pure subroutine turbulence_profiles(nz, z, thv, u, v, st, z0, opts, sigw, tl, sigu, sigv)
        !! Hanna (1982) profiles as in STILT (KBLT = 5) at each internal level (sec. 5.3-sec. 5.5): sigma_w
        !! and T_L inside the mixed layer from u*, w*, L and zi; above zi T_L = 100 s and
        !! sigma_w = sqrt(K/T_L) from the free-troposphere diffusivity. Horizontal:
        !! sigma_u = sigma_v = sigma_w / sqrt(2) (isotropic, total variance sigma_w^2).
        integer(ip), intent(in) :: nz           !! number of internal levels
        real(dp), intent(in) :: z(nz)           !! heights above ground (m)
        real(dp), intent(in) :: thv(nz)         !! virtual potential temperature (K)
        real(dp), intent(in) :: u(nz), v(nz)    !! wind components (m/s)
        type(column_state), intent(in) :: st    !! stability and mixed-layer height
        real(dp), intent(in) :: z0              !! roughness length (m)
        type(turb_options), intent(in) :: opts  !! options
        real(dp), intent(out) :: sigw(nz)       !! vertical velocity standard deviation (m/s)
        real(dp), intent(out) :: tl(nz)         !! Lagrangian time scale (s)
        real(dp), intent(out) :: sigu(nz)       !! x (u-direction) velocity std. dev. (m/s)
        real(dp), intent(out) :: sigv(nz)       !! y (v-direction) velocity std. dev. (m/s)
        integer(ip) :: k, npbl
        real(dp) :: h, s, zi, el, ws, mean_var, mean_tl
        logical :: inpbl(nz)

        zi = st%zi
        el = st%obukhov
        ws = st%wstar
        do k = 1, nz
            inpbl(k) = z(k) <= zi
            if (inpbl(k)) then
                h = z(k) / zi
                s = max(-2.0_dp, min(10.0_dp, z(k) / el))
                if (s >= 0.0_dp) then
                    sigw(k) = max(1.0e-5_dp, 1.3_dp * st%ustar * (1.0_dp - h))
                    if (h == 1.0_dp) then
                        tl(k) = 100.0_dp
                    else
                        tl(k) = 0.1_dp * (zi / sigw(k)) * h**0.8_dp
                    end if
                else
                    ! the binary's cube root is the power 0.3333 (T_L of level 1, sec. 5.3)
                    if (h < 0.03_dp) then
                        sigw(k) = ws * 0.96_dp * (3.0_dp * h - el / zi)**third
                    else if (h < 0.4_dp) then
                        sigw(k) = ws * min(0.96_dp * (3.0_dp * h - el / zi)**third, &
                            0.763_dp * h**0.175_dp)
                    else if (h < 0.96_dp) then
                        sigw(k) = ws * 0.722_dp * (1.0_dp - h)**0.207_dp
                    else
                        sigw(k) = ws * 0.37_dp
                    end if
                    sigw(k) = max(sigw(k), 1.0e-5_dp)
                    if (h < 0.1_dp .and. (z(k) - z0) < abs(el)) then
                        tl(k) = 0.1_dp * z(k) / (sigw(k) * (0.55_dp + 0.38_dp * (z(k) - z0) / el))
                    else if (h < 0.1_dp) then
                        tl(k) = 0.59_dp * z(k) / sigw(k)
                    else
                        tl(k) = 0.15_dp * (zi / sigw(k)) * (1.0_dp - exp(-5.0_dp * h))
                    end if
                end if
            else
                tl(k) = tl_free
                sigw(k) = sqrt(free_troposphere_k(nz, z, thv, u, v, k) / tl_free)
            end if
        end do

        ! optional adjustments (R-STILT: kzmix = 0, tkern = tkerd: none)
        npbl = count(inpbl)
        if (opts%kzmix == 1 .and. npbl > 0) then
            mean_var = sum(sigw**2, mask=inpbl) / npbl
            mean_tl = sum(tl, mask=inpbl) / npbl
            where (inpbl)
                sigw = sqrt(mean_var)
                tl = mean_tl
            end where
        else if (opts%kzmix == 2) then
            where (inpbl) sigw = sigw * sqrt(opts%tvmix)
        else if (opts%kzmix == 3) then
            where (.not. inpbl) sigw = sigw * sqrt(opts%tvmix)
        end if
        if (opts%tkern > opts%tkerd .and. st%zeta >= 0.0_dp) sigw = sigw * sqrt(1.4_dp)

        ! horizontal: isotropic with sigma_u^2 + sigma_v^2 = sigma_w^2 (the STILT/v1 relation;
        ! the binary's particle spreads give sigma_u = sigma_v = 0.7 sigma_w, not the
        ! sigma_w^2 / TKER of HYSPLIT's own dispersion, docs/physics.md sec. 5.5)
        sigu = sigw * sqrt(0.5_dp)
        sigv = sigu
    end subroutine turbulence_profiles

    pure subroutine column_turbulence(nz, z, temp, pres, q, dens, u, v, tke, sfc, opts, st, &
            sigw, tl, sigu, sigv, status)
        !! Everything the dispersion needs from one column at one met time: stability (u*,
        !! theta*, z/L, L, w*), mixed-layer height and the sigma/T_L profiles on the internal
        !! levels. Inputs are the met profiles remapped to the internal levels.
        integer(ip), intent(in) :: nz            !! number of internal levels (>= 3)
        real(dp), intent(in) :: z(nz)            !! level heights above ground (m), increasing
        real(dp), intent(in) :: temp(nz)         !! temperature (K)
        real(dp), intent(in) :: pres(nz)         !! pressure (hPa)
        real(dp), intent(in) :: q(nz)            !! specific humidity for theta_v (kg/kg; 0 = dry)
        real(dp), intent(in) :: dens(nz)         !! air density (kg/m3)
        real(dp), intent(in) :: u(nz), v(nz)     !! wind components (m/s; any rotation)
        real(dp), intent(in) :: tke(nz)          !! TKE (J/kg) for kmixd = 2; negative if absent
        type(surface_met), intent(in) :: sfc     !! surface fields
        type(turb_options), intent(in) :: opts   !! options
        type(column_state), intent(out) :: st    !! stability results
        real(dp), intent(out) :: sigw(nz)        !! sigma_w (m/s)
        real(dp), intent(out) :: tl(nz)          !! T_L (s)
        real(dp), intent(out) :: sigu(nz)        !! sigma_u (m/s)
        real(dp), intent(out) :: sigv(nz)        !! sigma_v (m/s)
        integer(ip), intent(out) :: status       !! status_ok, bad_argument or not_finite
        real(dp) :: thv(nz)
        integer(ip) :: ks, k

        sigw = 0.0_dp
        tl = tl_free
        sigu = 0.0_dp
        sigv = 0.0_dp
        status = status_ok
        if (nz < 3 .or. opts%kblt /= 5 .or. opts%ks < 1 .or. opts%ks > nz) then
            status = status_bad_argument
            return
        end if
        if (.not. (all(ieee_is_finite(z)) .and. all(ieee_is_finite(temp)) .and. &
                all(ieee_is_finite(pres)) .and. all(ieee_is_finite(dens)) .and. &
                all(ieee_is_finite(u)) .and. all(ieee_is_finite(v)) .and. &
                all(ieee_is_finite(q)))) then
            status = status_not_finite
            return
        end if
        if (pres(1) <= 0.0_dp .or. dens(1) <= 0.0_dp .or. any(temp <= 0.0_dp) .or. &
                z(1) <= 0.0_dp .or. any(z(2:) <= z(:nz - 1)) .or. sfc%z0 <= 0.0_dp) then
            status = status_bad_argument
            return
        end if
        ks = opts%ks
        thv = virtual_potential_temperature(temp, max(pres, tiny(1.0_dp)), q)
        ! no potential temperature where the pressure extrapolated above the data top fell
        ! to or below zero (docs/physics.md sec. 3.2): that of the level below
        do k = 2, nz
            if (pres(k) <= 0.0_dp) thv(k) = thv(k - 1)
        end do
        call surface_layer(nz, z, thv, dens, u, v, ks, opts%kdat, opts%kbls, sfc, &
            st%ustar, st%tstar, st%zeta)
        st%obukhov = z(ks) / st%zeta
        call mixed_layer_height(nz, z, thv, dens, u, v, tke, ks, opts%kmixd, opts%kmix0, &
            opts%ziscale, sfc%pblh, st%ustar, st%tstar, st%zeta, st%zi, status)
        if (status /= status_ok) return
        st%wstar = convective_velocity(st%ustar, st%tstar, st%zi, thv(ks), st%zeta)
        call turbulence_profiles(nz, z, thv, u, v, st, sfc%z0, opts, sigw, tl, sigu, sigv)
    end subroutine column_turbulence

end module stilt_turbulence
