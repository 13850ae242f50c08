!! Transport-error options of STILT (docs/physics.md sec. 8): correlated wind errors (WINDERR) and a
!! per-particle mixed-layer-height error (ZIERR) used in the second, error run of R-STILT.
!!
!! Wind errors are per particle and per internal level (m/s), AR(1) in the vertical with
!! correlation exp(-dz/zcor), in time with exp(-|dt|/TL_uv) and along the path with
!! exp(-d/horcor). The zi error eps (percent) is AR(1) in time and along the path; it scales
!! foot by max(0, 1 + eps/100) and does not change zi itself.
!!
!! Use in the time loop, per particle: `wind_error_init` / `zi_error_init` at release; each step
!! `wind_error_step` / `zi_error_step` with the distance travelled in the step, then add the
!! error from before the update to the "prev" wind profile and the updated error to the "next"
!! one (converted to grid units per minute with 60 / GDIS), and pass
!! `zi_error_factor(eps)` as foot_scale to dispersion_step.
module stilt_transport_error
    use stilt_kinds, only: dp, ip
    use stilt_random, only: rng_state_size, rng_normal
    implicit none
    private

    public :: correlated_profile, wind_error_init, wind_error_step, zi_error_init, &
        zi_error_step, zi_error_factor

contains

    pure subroutine correlated_profile(nz, z, zcor, rng, e)
        !! Standard-normal profile with vertical correlation exp(-(z_k - z_k-1)/zcor):
        !! e_1 ~ N(0,1), e_k = r_k e_k-1 + sqrt(1 - r_k^2) N(0,1).
        integer(ip), intent(in) :: nz          !! number of levels
        real(dp), intent(in) :: z(nz)          !! level heights (m), increasing
        real(dp), intent(in) :: zcor           !! vertical correlation length (m, > 0)
        integer(ip), intent(inout) :: rng(rng_state_size)  !! random stream
        real(dp), intent(out) :: e(nz)         !! profile (dimensionless)
        integer(ip) :: k
        real(dp) :: g, r
        call rng_normal(rng, e(1))
        do k = 2, nz
            r = exp(-abs(z(k) - z(k - 1)) / zcor)
            call rng_normal(rng, g)
            e(k) = r * e(k - 1) + sqrt(1.0_dp - r * r) * g
        end do
    end subroutine correlated_profile

    pure subroutine wind_error_init(nz, z, sig_uv, zcor, rng, eu, ev)
        !! Initial wind-error profiles: sig_uv times two independent correlated profiles.
        integer(ip), intent(in) :: nz          !! number of internal levels
        real(dp), intent(in) :: z(nz)          !! level heights (m)
        real(dp), intent(in) :: sig_uv         !! wind error standard deviation (m/s)
        real(dp), intent(in) :: zcor           !! vertical correlation length (m)
        integer(ip), intent(inout) :: rng(rng_state_size)  !! random stream of the particle
        real(dp), intent(out) :: eu(nz), ev(nz)  !! u and v errors (m/s)
        call correlated_profile(nz, z, zcor, rng, eu)
        call correlated_profile(nz, z, zcor, rng, ev)
        eu = sig_uv * eu
        ev = sig_uv * ev
    end subroutine wind_error_init

    pure subroutine wind_error_step(nz, z, dt, sig_uv, tl_uv, zcor, horcor, dist, rng, eu, ev)
        !! Advance the wind errors over one model step: e <- r_t e + sqrt(1 - r_t^2) n1, then
        !! e <- r_h e + sqrt(1 - r_h^2) n2, with n1, n2 vertically correlated N(0, sig_uv)
        !! profiles, r_t = exp(-|dt|/tl_uv) and r_h = exp(-dist/horcor).
        integer(ip), intent(in) :: nz          !! number of internal levels
        real(dp), intent(in) :: z(nz)          !! level heights (m)
        real(dp), intent(in) :: dt             !! model step (min; sign ignored)
        real(dp), intent(in) :: sig_uv         !! wind error standard deviation (m/s)
        real(dp), intent(in) :: tl_uv          !! error time scale (min)
        real(dp), intent(in) :: zcor           !! vertical correlation length (m)
        real(dp), intent(in) :: horcor         !! horizontal correlation length (km)
        real(dp), intent(in) :: dist           !! distance travelled in the step (km)
        integer(ip), intent(inout) :: rng(rng_state_size)  !! random stream of the particle
        real(dp), intent(inout) :: eu(nz), ev(nz)  !! u and v errors (m/s)
        real(dp) :: rt, rh, n(nz)
        rt = exp(-abs(dt) / tl_uv)
        rh = exp(-abs(dist) / horcor)
        call correlated_profile(nz, z, zcor, rng, n)
        eu = rt * eu + sqrt(1.0_dp - rt * rt) * sig_uv * n
        call correlated_profile(nz, z, zcor, rng, n)
        ev = rt * ev + sqrt(1.0_dp - rt * rt) * sig_uv * n
        call correlated_profile(nz, z, zcor, rng, n)
        eu = rh * eu + sqrt(1.0_dp - rh * rh) * sig_uv * n
        call correlated_profile(nz, z, zcor, rng, n)
        ev = rh * ev + sqrt(1.0_dp - rh * rh) * sig_uv * n
    end subroutine wind_error_step

    pure subroutine zi_error_init(sig_zi, rng, eps)
        !! Initial mixed-layer-height error eps ~ N(0, sig_zi) (percent).
        real(dp), intent(in) :: sig_zi         !! zi error standard deviation (%)
        integer(ip), intent(inout) :: rng(rng_state_size)  !! random stream of the particle
        real(dp), intent(out) :: eps           !! zi error (%)
        call rng_normal(rng, eps)
        eps = sig_zi * eps
    end subroutine zi_error_init

    pure subroutine zi_error_step(dt, sig_zi, tl_zi, horcor, dist, rng, eps)
        !! Advance the zi error over one step: AR(1) in time (tl_zi) then along the path
        !! (horcor), each with fresh N(0, sig_zi) noise.
        real(dp), intent(in) :: dt             !! model step (min; sign ignored)
        real(dp), intent(in) :: sig_zi         !! zi error standard deviation (%)
        real(dp), intent(in) :: tl_zi          !! error time scale (min)
        real(dp), intent(in) :: horcor         !! horizontal correlation length (km)
        real(dp), intent(in) :: dist           !! distance travelled in the step (km)
        integer(ip), intent(inout) :: rng(rng_state_size)  !! random stream of the particle
        real(dp), intent(inout) :: eps         !! zi error (%)
        real(dp) :: rt, rh, g
        rt = exp(-abs(dt) / tl_zi)
        rh = exp(-abs(dist) / horcor)
        call rng_normal(rng, g)
        eps = rt * eps + sqrt(1.0_dp - rt * rt) * sig_zi * g
        call rng_normal(rng, g)
        eps = rh * eps + sqrt(1.0_dp - rh * rh) * sig_zi * g
    end subroutine zi_error_step

    elemental function zi_error_factor(eps) result(f)
        !! Factor on foot increments for a zi error of eps percent: max(0, 1 + eps/100).
        real(dp), intent(in) :: eps   !! zi error (%)
        real(dp) :: f
        f = max(0.0_dp, 1.0_dp + eps / 100.0_dp)
    end function zi_error_factor

end module stilt_transport_error
