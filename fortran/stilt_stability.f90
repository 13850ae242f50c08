!! Surface-layer stability and mixed-layer height of one model column (docs/physics.md sec. 5.1, sec. 5.2).
!!
!! Inputs are met profiles already remapped to the internal terrain-following levels
!! (k = 1 is the lowest internal level, heights in metres above ground). Everything is pure
!! and works on one column at a time; the caller decides which column (met grid node or
!! particle position) and which met time.
module stilt_stability
    use stilt_kinds, only: dp, ip, status_ok, status_bad_argument
    implicit none
    private

    public :: surface_met, mom_none, mom_ustar, mom_flux, mom_exco, heat_none, heat_tstar, &
        heat_flux
    public :: vonk, grav_stilt, cp_air, rdry_stilt, kappa_exner, third
    public :: potential_temperature, surface_layer, mixed_layer_height, convective_velocity

    ! which momentum field the met file carries (HYSPLIT STBANL order of preference)
    integer(ip), parameter :: mom_none = 0   !! no momentum field: profile (bulk Ri) method
    integer(ip), parameter :: mom_ustar = 1  !! friction velocity USTR (m/s)
    integer(ip), parameter :: mom_flux = 2   !! momentum flux components UMOF, VMOF (N/m2)
    integer(ip), parameter :: mom_exco = 3   !! scalar exchange coefficient EXCO (kg m-2 s-1)
    ! which heat field the met file carries
    integer(ip), parameter :: heat_none = 0  !! no heat field: profile (bulk Ri) method
    integer(ip), parameter :: heat_tstar = 1 !! friction temperature TSTR (K)
    integer(ip), parameter :: heat_flux = 2  !! sensible heat flux SHTF (W/m2, positive upward)

    real(dp), parameter :: vonk = 0.4_dp            !! von Karman constant
    real(dp), parameter :: grav_stilt = 9.80616_dp  !! gravity of the stability path (m s-2)
    real(dp), parameter :: cp_air = 1005.0_dp       !! specific heat of air (J kg-1 K-1)
    real(dp), parameter :: rdry_stilt = 287.04_dp   !! dry-air gas constant of the reference binary
    real(dp), parameter :: kappa_exner = 0.286_dp   !! exponent of theta = T (1000/p)^kappa
    !! the reference binary's cube-root exponent (w*, the excess temperature, the unstable
    !! sigma_w of docs/physics.md sec. 5.3)
    real(dp), parameter :: third = 0.3333_dp

    ! Beljaars-Holtslag / Betchov-Yaglom constants and Hess Ri -> z/L coefficients (sec. 5.1)
    real(dp), parameter :: bh_a = 1.0_dp, bh_b = 2.0_dp / 3.0_dp, bh_c = 5.0_dp, bh_d = 0.35_dp
    real(dp), parameter :: prandtl = 0.923_dp
    real(dp), parameter :: b1 = 0.005_dp, b2 = 41.2_dp, b3 = 1.185_dp, b4 = 1.5_dp, &
        b5 = 1.37_dp, b6 = 0.50_dp

    type :: surface_met
        !! Surface fields of one column at one met time (docs/physics.md sec. 2.3 names).
        integer(ip) :: momentum = mom_ustar   !! which momentum field is present (mom_*)
        integer(ip) :: heat = heat_flux       !! which heat field is present (heat_*)
        real(dp) :: ustr = 0.0_dp   !! friction velocity USTR (m/s)
        real(dp) :: umof = 0.0_dp   !! u momentum flux UMOF (N/m2)
        real(dp) :: vmof = 0.0_dp   !! v momentum flux VMOF (N/m2)
        real(dp) :: exco = 0.0_dp   !! exchange coefficient EXCO (kg m-2 s-1)
        real(dp) :: tstr = 0.0_dp   !! friction temperature TSTR (K)
        real(dp) :: shtf = 0.0_dp   !! sensible heat flux (W/m2, positive upward: flip EDAS/ETA first)
        real(dp) :: pblh = -1.0_dp  !! met mixed-layer depth PBLH (m); negative when absent
        real(dp) :: z0 = 0.2_dp     !! roughness length (m)
    end type surface_met

contains

    elemental function potential_temperature(temp, pres) result(theta)
        !! Potential temperature theta = T (1000/p)^0.286 (K), the reference binary's form (sec. 1.2).
        real(dp), intent(in) :: temp   !! temperature (K)
        real(dp), intent(in) :: pres   !! pressure (hPa)
        real(dp) :: theta
        theta = temp * (1000.0_dp / pres)**kappa_exner
    end function potential_temperature

    pure subroutine surface_layer(nz, z, thv, dens, u, v, ks, kdat, kbls, sfc, ustar, tstar, zeta)
        !! Friction velocity, friction temperature and z/L at the surface-layer top (sec. 5.1).
        !! With kbls = 1 and both a momentum and a heat field, from the fluxes; otherwise from
        !! the bulk Richardson number between level 1 and the first real data level (Hess).
        !! z/L is clamped to [-2, 15] and 0 is replaced by 0.001.
        integer(ip), intent(in) :: nz          !! number of internal levels
        real(dp), intent(in) :: z(nz)          !! level heights above ground (m)
        real(dp), intent(in) :: thv(nz)        !! virtual potential temperature (K)
        real(dp), intent(in) :: dens(nz)       !! air density (kg/m3)
        real(dp), intent(in) :: u(nz), v(nz)   !! wind components (m/s)
        integer(ip), intent(in) :: ks          !! surface-layer top level (2 for the default grid)
        integer(ip), intent(in) :: kdat        !! first internal level at/above the first data level
        integer(ip), intent(in) :: kbls        !! 1: fluxes when available, 2: always profile
        type(surface_met), intent(in) :: sfc   !! surface fields
        real(dp), intent(out) :: ustar         !! friction velocity (m/s, >= 1e-4)
        real(dp), intent(out) :: tstar         !! friction temperature (K, signed, |.| >= 1e-4)
        real(dp), intent(out) :: zeta          !! z_ks / L, clamped
        integer(ip) :: kd
        real(dp) :: ux, vy, h, ri, delz, delt, delu, tbar, s, t, vv, etrm, phim, phih, z0h

        kd = max(2_ip, ks, kdat)
        kd = min(kd, nz)
        if (kbls == 1 .and. sfc%momentum /= mom_none .and. sfc%heat /= heat_none) then
            select case (sfc%momentum)
            case (mom_ustar)
                ustar = max(sfc%ustr, 1.0e-4_dp)
            case (mom_flux)
                ! density of the surface-layer top: the binary's sigma_w and T_L on GDAS-like
                ! files (UMOF/VMOF) match with it, and are 0.3 % off with the first data
                ! level's (docs/met.md, "Surface fields")
                ux = max(0.01_dp, sqrt(abs(sfc%umof) / dens(ks)))
                vy = max(0.01_dp, sqrt(abs(sfc%vmof) / dens(ks)))
                ustar = sqrt(ux * ux + vy * vy)
            case default
                ! a non-positive density at kd (pressure extrapolated below zero above the
                ! data top, docs/physics.md sec. 2.4) leaves each component at its floor, as
                ! the binary's u* does (independent of EXCO there)
                ux = 0.01_dp; vy = 0.01_dp
                if (dens(kd) > 0.0_dp) then
                    ux = max(ux, sqrt(abs(sfc%exco) * abs(u(kd)) / dens(kd)))
                    vy = max(vy, sqrt(abs(sfc%exco) * abs(v(kd)) / dens(kd)))
                end if
                ustar = sqrt(ux * ux + vy * vy)
            end select
            if (sfc%heat == heat_tstar) then
                tstar = sign(max(1.0e-4_dp, abs(sfc%tstr)), sfc%tstr)
            else
                h = max(-25.0_dp, sfc%shtf)
                tstar = sign(max(1.0e-4_dp, abs(h / (dens(ks) * cp_air * ustar))), -h)
            end if
            zeta = z(ks) * vonk * grav_stilt * tstar / (ustar * ustar * thv(ks))
        else
            ! bulk Richardson number from the first real data level (Golder height correction)
            tbar = 0.5_dp * (thv(kd) + thv(1))
            delz = z(kd) - z(1)
            delt = thv(kd) - thv(1)
            delu = max(1.0e-4_dp, (u(kd) - u(1))**2 + (v(kd) - v(1))**2)
            ri = grav_stilt * delt * delz / tbar / delu
            ri = max(-1.0_dp, min(ri / (z(kd)**2 / z(ks)**2), 1.0_dp))
            ! Hess conversion of Ri to z/L at level ks
            s = log(z(ks) / sfc%z0 + 1.0_dp)
            z0h = 0.1_dp * sfc%z0
            t = log(z(ks) / z0h + 1.0_dp)
            vv = log(sfc%z0 / z0h)
            if (ri > 0.0_dp .and. ri < 0.08_dp) then
                zeta = (-t + 10.0_dp * s * ri + sqrt(t * t - 20.0_dp * s * t * ri &
                    + 20.0_dp * s * s * ri)) / (10.0_dp * (1.0_dp - 5.0_dp * ri))
            else if (ri >= 0.08_dp) then
                zeta = (b1 * s + b2) * ri * ri + (b3 * s - b4 * vv - b5) * ri
            else
                zeta = ri * (s * s / t - b6)
            end if
            zeta = sign(zeta, ri)
            if (zeta >= 0.0_dp) then
                etrm = bh_b * exp(-bh_d * zeta) * (1.0_dp - bh_d * zeta + bh_c)
                phim = 1.0_dp + (bh_a + etrm) * zeta
                phih = prandtl * (1.0_dp + (bh_a * sqrt(1.0_dp + bh_a * bh_b * zeta) + etrm) * zeta)
            else
                phim = ((1.0_dp + 0.625_dp * zeta * zeta) / (1.0_dp - 7.5_dp * zeta))**third
                phih = 0.64_dp * ((3.0_dp - 2.5_dp * zeta) &
                    / (1.0_dp - 10.0_dp * zeta + 50.0_dp * zeta * zeta))**third
            end if
            ustar = max(1.0e-4_dp, vonk * z(ks) * sqrt(delu) / phim / delz)
            tstar = vonk * z(ks) * delt / phih / delz
            if (abs(tstar) < 1.0e-4_dp) tstar = sign(1.0e-4_dp, tstar)
            zeta = z(ks) * vonk * grav_stilt * tstar / (ustar * ustar * thv(ks))
        end if
        zeta = max(-2.0_dp, min(15.0_dp, zeta))
        if (zeta == 0.0_dp) zeta = 0.001_dp
    end subroutine surface_layer

    pure function convective_velocity(ustar, tstar, zi, thv_ks, zeta) result(wstar)
        !! Convective velocity scale w* = |g u* theta* zi / theta_v,ks|^(1/3) when z/L < 0,
        !! else 0 (sec. 5.1).
        real(dp), intent(in) :: ustar   !! friction velocity (m/s)
        real(dp), intent(in) :: tstar   !! friction temperature (K)
        real(dp), intent(in) :: zi      !! mixed-layer height (m)
        real(dp), intent(in) :: thv_ks  !! virtual potential temperature at level ks (K)
        real(dp), intent(in) :: zeta    !! z/L at level ks
        real(dp) :: wstar               !! convective velocity scale (m/s)
        if (zeta >= 0.0_dp) then
            wstar = 0.0_dp
        else
            wstar = abs(grav_stilt * ustar * tstar * zi / thv_ks)**third
        end if
    end function convective_velocity

    pure subroutine mixed_layer_height(nz, z, thv, dens, u, v, tke, ks, kmixd, kmix0, ziscale, &
            pblh, ustar, tstar, zeta, zi, status)
        !! Mixed-layer height (sec. 5.2): KMIXD = 0 met PBLH (falls back to 1 when absent),
        !! 1 temperature profile, 2 TKE profile (falls back to 1 when tke is all negative),
        !! 3 modified bulk Richardson number (levels 2 .. nz - 1, as the binary scans: the
        !! height_hgts column, docs/physics.md sec. 5.2), >= 10 constant; then the ZICONTROL factor
        !! (ziscale < 0: use PBLH when present) and the KMIX0 floor (KMIX0 < 0: snap to the
        !! nearest level above level 1).
        !! About 100 lines, a third of them declarations: one select case over the KMIXD
        !! methods, each a few lines, with their fallbacks and the ZICONTROL factor, read best
        !! side by side.
        integer(ip), intent(in) :: nz          !! number of internal levels (>= 3)
        real(dp), intent(in) :: z(nz)          !! level heights above ground (m)
        real(dp), intent(in) :: thv(nz)        !! virtual potential temperature (K)
        real(dp), intent(in) :: dens(nz)       !! air density (kg/m3)
        real(dp), intent(in) :: u(nz), v(nz)   !! wind components (m/s)
        real(dp), intent(in) :: tke(nz)        !! turbulent kinetic energy (J/kg); < 0 if absent
        integer(ip), intent(in) :: ks          !! surface-layer top level
        integer(ip), intent(in) :: kmixd       !! method (0, 1, 2, 3 or a height >= 10 m)
        integer(ip), intent(in) :: kmix0       !! minimum height (m); < 0 also snaps to a level
        real(dp), intent(in) :: ziscale        !! ZICONTROL factor for this met time (1 = none)
        real(dp), intent(in) :: pblh           !! met PBLH (m); negative when absent
        real(dp), intent(in) :: ustar          !! friction velocity (m/s)
        real(dp), intent(in) :: tstar          !! friction temperature (K)
        real(dp), intent(in) :: zeta           !! z/L at level ks (clamped)
        real(dp), intent(out) :: zi            !! mixed-layer height (m above ground)
        integer(ip), intent(out) :: status     !! status_ok, or status_bad_argument
        integer(ip) :: method, k
        real(dp) :: tmin, ri, riold, tstk, wstr, tex, th1, delu, znew
        logical :: found

        status = status_ok
        zi = z(1)
        if (nz < 3) then
            status = status_bad_argument
            return
        end if
        method = kmixd
        if (method == 0 .and. pblh < 0.0_dp) method = 1
        if (method == 2 .and. all(tke < 0.0_dp)) method = 1
        select case (method)
        case (0)
            zi = pblh
        case (1)
            tmin = minval(thv)
            zi = z(nz)
            do k = nz, 1, -1
                zi = z(k)
                if (thv(k) <= tmin + 2.0_dp) exit
            end do
        case (2)
            zi = z(nz)
            do k = 1, nz - 1
                if (2.0_dp * tke(k + 1) < tke(k) .or. tke(k + 1) <= 0.21_dp) then
                    zi = z(k)
                    exit
                end if
            end do
        case (3)
            found = .false.
            ri = 0.0_dp
            do k = 2, nz - 1
                if (ri >= 0.25_dp) then
                    found = .true.
                    exit
                end if
                if (zeta < 0.0_dp) then
                    tstk = tstar * dens(ks) / dens(k)
                    wstr = abs(grav_stilt * ustar * tstk * z(k) / thv(1))**third
                    tex = abs(8.5_dp * ustar * tstk / (ustar**3 + 0.6_dp * wstr**3)**third)
                else
                    tex = 0.0_dp
                end if
                th1 = thv(1) + tex
                delu = max(1.0e-4_dp, (u(k) - u(1))**2 + (v(k) - v(1))**2)
                riold = ri
                ri = grav_stilt * (thv(k) - th1) * (z(k) - z(1)) / th1 / delu
                if (ri /= riold) then
                    zi = (z(k) - z(k - 1)) / (ri - riold) * (0.25_dp - riold) + z(k - 1)
                else
                    zi = z(k)
                end if
            end do
            if (zi >= z(nz - 1)) zi = z(nz - 1)
        case default
            if (method >= 10) then
                zi = real(method, dp)
            else
                status = status_bad_argument
                return
            end if
        end select

        if (ziscale < 0.0_dp) then
            if (pblh >= 0.0_dp) zi = pblh
        else
            zi = zi * ziscale
        end if
        zi = max(zi, abs(real(kmix0, dp)), z(1) + (z(2) - z(1)) / 1000.0_dp)
        if (kmix0 < 0) then
            znew = z(2)
            do k = 3, nz
                if (abs(z(k) - zi) < abs(znew - zi)) znew = z(k)
            end do
            zi = znew
        end if
    end subroutine mixed_layer_height

end module stilt_stability
