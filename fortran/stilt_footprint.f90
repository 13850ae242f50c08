!! stilt_footprint: the hot loops of the footprint calculation (docs/physics.md sec. 10).
!!
!! Particle fields arrive in the dense layout of a trajectory Dataset: arrays (np, nt), the
!! particle index varying fastest (numpy's (time, indx) C order read as Fortran), NaN where a
!! particle has no row at that time. Every procedure is pure and returns a status code instead
!! of stopping. The orchestration (grid set-up, group tables, output) is in stilt/footprint.py.
module stilt_footprint
    use stilt_kinds, only: dp, sp, ip, status_ok, status_bad_argument, sec_per_min, min_per_hour
    use, intrinsic :: ieee_arithmetic, only: ieee_is_nan, ieee_is_finite, ieee_value, &
        ieee_quiet_nan, ieee_positive_inf
    implicit none
    private

    public :: hnf_plume_dilution, hnf_plume_dilution_sp, particle_scan, nearfield_step_medians, &
        nearfield_densify, kernel_bandwidths, kernel_half_width, footprint_accumulate, median_of

    !! Molar mass of dry air used by R-STILT's calc_plume_dilution (kg/mol), docs/physics.md sec. 10.2
    real(dp), parameter, public :: hnf_molar_mass = 0.02897_dp
    !! Largest veght read as a fraction of the mixed-layer height (docs/physics.md sec. 7.1)
    real(dp), parameter, public :: veght_fraction_max = 9.0_dp
    !! ts / T_L beyond which T_L^2 exp(-ts/T_L) is below half an ulp of T_L ts (exp(-x) <
    !! 2^-54 x for x >= 40), so that adding it changes nothing: the exp is skipped
    real(dp), parameter :: hnf_exp_negligible = 40.0_dp
    !! Near-field window limits (|time|, minutes), docs/physics.md sec. 10.4
    real(dp), parameter :: win1 = 10.0_dp, win2 = 20.0_dp, win3 = 100.0_dp

contains

    pure subroutine hnf_plume_dilution(np, nt, order, abs_time_min, foot, samt, sigw, tlgr, &
            dens, mlht, z0, veght, depth, foot_out)
        !! Hyper-near-field plume dilution (docs/physics.md sec. 10.2). Per particle, walking its
        !! rows by ascending |time| (order), the plume depth grows from the release height z0 by
        !! sigma_row = samt sqrt(2) sigw sqrt(T_L t + T_L^2 exp(-t/T_L) - 1) (t = |time| s, as
        !! coded in R-STILT). A NaN sigma_row leaves that row's foot alone and adds nothing to
        !! the sum (PYSTILT's cumsum). Where plume < h_v, with h_v = veght mlht when
        !! veght <= 9 and veght metres above (the rule of the foot height in the transport,
        !! docs/physics.md sec. 7.1): foot = 0.02897 / (plume dens) samt 60. Absent rows (NaN
        !! foot) stay NaN. depth carries the summed sigma_row of earlier rows (zero at the
        !! release), so that the transport can continue the sum over successive blocks of model
        !! steps.
        integer(ip), intent(in) :: np, nt
        integer(ip), intent(in) :: order(nt)          !! time indices by ascending |time|
        real(dp), intent(in) :: abs_time_min(nt)      !! |time| (min)
        real(dp), intent(in) :: foot(np, nt), samt(np, nt), sigw(np, nt), tlgr(np, nt)
        real(dp), intent(in) :: dens(np, nt), mlht(np, nt)
        real(dp), intent(in) :: z0(np)                !! release height of each particle (m AGL)
        real(dp), intent(in) :: veght                 !! fraction of mlht (<= 9) or metres
        real(dp), intent(inout) :: depth(np)          !! summed sigma_row of the rows before
        real(dp), intent(out) :: foot_out(np, nt)
        integer(ip) :: k, it, i
        do k = 1, nt
            it = order(k)
            do i = 1, np
                call hnf_row(abs_time_min(it) * sec_per_min, foot(i, it), samt(i, it), &
                    sigw(i, it), tlgr(i, it), dens(i, it), mlht(i, it), z0(i), veght, &
                    depth(i), foot_out(i, it))
            end do
        end do
    end subroutine hnf_plume_dilution

    pure subroutine hnf_plume_dilution_sp(np, nt, order, abs_time_min, foot, samt, sigw, tlgr, &
            dens, mlht, z0, veght, depth, foot_out)
        !! hnf_plume_dilution on single-precision samt, sigw, tlgr, dens and mlht (as trajectory
        !! files store them): each value is widened to double where it is used, so the result
        !! is the same as on the widened arrays, without making them.
        integer(ip), intent(in) :: np, nt
        integer(ip), intent(in) :: order(nt)
        real(dp), intent(in) :: abs_time_min(nt), foot(np, nt)
        real(sp), intent(in) :: samt(np, nt), sigw(np, nt), tlgr(np, nt), dens(np, nt), &
            mlht(np, nt)
        real(dp), intent(in) :: z0(np), veght
        real(dp), intent(inout) :: depth(np)
        real(dp), intent(out) :: foot_out(np, nt)
        integer(ip) :: k, it, i
        do k = 1, nt
            it = order(k)
            do i = 1, np
                call hnf_row(abs_time_min(it) * sec_per_min, foot(i, it), real(samt(i, it), dp), &
                    real(sigw(i, it), dp), real(tlgr(i, it), dp), real(dens(i, it), dp), &
                    real(mlht(i, it), dp), z0(i), veght, depth(i), foot_out(i, it))
            end do
        end do
    end subroutine hnf_plume_dilution_sp

    pure subroutine hnf_row(ts, foot, samt, sigw, tl, dens, mlht, z0, veght, depth, foot_out)
        !! One row of hnf_plume_dilution: ts = |time| in s; depth is carried from row to row.
        real(dp), intent(in) :: ts, foot, samt, sigw, tl, dens, mlht, z0, veght
        real(dp), intent(inout) :: depth
        real(dp), intent(out) :: foot_out
        real(dp) :: rad, sig, plume, limit
        foot_out = foot
        if (.not. foot == foot) return   ! NaN: an absent row
        if (samt == 0.0_dp .and. tl * ts >= 1.0_dp .and. tl < 1.0e100_dp .and. &
                abs(sigw) <= huge(sigw)) then
            sig = 0.0_dp   ! the radicand is then > 0: skip exp and sqrt (most rows)
        else if (tl > 0.0_dp) then
            if (ts > hnf_exp_negligible * tl) then
                rad = tl * ts - 1.0_dp   ! tl**2 exp(-ts/tl) < half an ulp of tl ts: exact
            else
                rad = tl * ts + tl**2 * exp(-ts / tl) - 1.0_dp
            end if
            if (.not. rad >= 0.0_dp) return   ! no plume growth: foot kept, nothing summed
            sig = samt * sqrt(2.0_dp) * sigw * sqrt(rad)
        else
            return
        end if
        if (.not. sig == sig) return
        depth = depth + sig
        plume = z0 + depth
        limit = veght
        if (veght <= veght_fraction_max) limit = veght * mlht
        if (plume < limit) foot_out = hnf_molar_mass / (plume * dens) * samt * sec_per_min
    end subroutine hnf_row

    pure subroutine particle_scan(np, nt, time, lon, lat, foot, rows, first_abs, status)
        !! One pass over the particle rows (docs/physics.md sec. 10.1): checks that lat and foot
        !! are NaN exactly where lon is (a row is complete or absent), that nothing is
        !! infinite and that every latitude is in [-90, 90] (status_bad_argument otherwise:
        !! the caller then finds and names the first bad row); counts the rows of each time
        !! (rows) and finds each particle's smallest |time| over its rows (first_abs, +inf
        !! when it has none).
        integer(ip), intent(in) :: np, nt
        real(dp), intent(in) :: time(nt), lon(np, nt), lat(np, nt), foot(np, nt)
        integer(ip), intent(out) :: rows(nt), status
        real(dp), intent(out) :: first_abs(np)
        integer(ip) :: i, it, n
        real(dp) :: at
        logical :: ok
        status = status_ok
        first_abs = ieee_value(0.0_dp, ieee_positive_inf)
        ok = .true.
        do it = 1, nt
            at = abs(time(it))
            n = 0
            do i = 1, np
                if (ieee_is_nan(lon(i, it))) then
                    ok = ok .and. ieee_is_nan(lat(i, it)) .and. ieee_is_nan(foot(i, it))
                    cycle
                end if
                ok = ok .and. abs(lon(i, it)) <= huge(1.0_dp) .and. abs(lat(i, it)) <= 90.0_dp &
                    .and. abs(foot(i, it)) <= huge(1.0_dp)
                n = n + 1
                first_abs(i) = min(first_abs(i), at)
            end do
            rows(it) = n
        end do
        if (.not. ok) status = status_bad_argument
    end subroutine particle_scan

    pure function median_of(n, values) result(med)
        !! Median of n values (mean of the two middle ones when n is even); NaN when n = 0.
        integer(ip), intent(in) :: n
        real(dp), intent(in) :: values(n)
        real(dp) :: med
        real(dp), allocatable :: v(:)  !! n may be the number of particles: on the heap
        integer(ip) :: k
        if (n == 0) then
            med = ieee_value(0.0_dp, ieee_quiet_nan)
            return
        end if
        v = values
        k = n / 2 + 1
        call select_kth(n, v, k)   ! v(k) in place, smaller values before it
        if (mod(n, 2) == 1) then
            med = v(k)
        else
            med = 0.5_dp * (maxval(v(1:k - 1)) + v(k))
        end if
    end function median_of

    pure subroutine select_kth(n, a, k)
        !! Reorder a so that a(k) is its k-th smallest value, a(1:k-1) <= a(k) <= a(k+1:n)
        !! (Hoare's selection, Wirth's partition loop): linear time on average.
        integer(ip), intent(in) :: n, k
        real(dp), intent(inout) :: a(n)
        integer(ip) :: lo, hi, i, j
        real(dp) :: pivot, tmp
        lo = 1
        hi = n
        do while (hi > lo)
            pivot = a((lo + hi) / 2)
            i = lo
            j = hi
            do while (i <= j)
                do while (a(i) < pivot)
                    i = i + 1
                end do
                do while (pivot < a(j))
                    j = j - 1
                end do
                if (i <= j) then
                    tmp = a(i)
                    a(i) = a(j)
                    a(j) = tmp
                    i = i + 1
                    j = j - 1
                end if
            end do
            if (k <= j) then
                hi = j
            else if (k >= i) then
                lo = i
            else
                exit
            end if
        end do
    end subroutine select_kth

    pure subroutine nearfield_step_medians(np, nt, order, time, lon, lat, dx_med, dy_med)
        !! The densification test of docs/physics.md sec. 10.4: over rows with |time| < 100 min, per
        !! particle the median |step| of lon and of lat between its consecutive rows (time
        !! ascending), then the median over particles (particles with no step are ignored;
        !! NaN when none has one).
        integer(ip), intent(in) :: np, nt
        integer(ip), intent(in) :: order(nt)          !! time indices by ascending time
        real(dp), intent(in) :: time(nt), lon(np, nt), lat(np, nt)
        real(dp), intent(out) :: dx_med, dy_med
        real(dp) :: dx(nt), dy(nt), xprev, yprev
        real(dp), allocatable :: px(:), py(:)  !! on the heap: the core is built with -fstack-arrays
        integer(ip) :: i, k, it, nd, nmed, nnear, near(nt)
        logical :: have_prev
        allocate(px(np), py(np))
        nnear = 0
        do k = 1, nt
            if (abs(time(order(k))) < win3) then
                nnear = nnear + 1
                near(nnear) = order(k)
            end if
        end do
        nmed = 0
        do i = 1, np
            nd = 0
            have_prev = .false.
            xprev = 0.0_dp
            yprev = 0.0_dp
            do k = 1, nnear
                it = near(k)
                if (ieee_is_nan(lon(i, it))) cycle
                if (have_prev) then
                    nd = nd + 1
                    dx(nd) = abs(lon(i, it) - xprev)
                    dy(nd) = abs(lat(i, it) - yprev)
                end if
                xprev = lon(i, it)
                yprev = lat(i, it)
                have_prev = .true.
            end do
            if (nd > 0) then
                nmed = nmed + 1
                px(nmed) = median_of(nd, dx(1:nd))
                py(nmed) = median_of(nd, dy(1:nd))
            end if
        end do
        dx_med = median_of(nmed, px(1:nmed))
        dy_med = median_of(nmed, py(1:nmed))
    end subroutine nearfield_step_medians

    pure subroutine nearfield_densify(np, nt, order, time, lon, lat, foot, nt2, time2, &
            src, target, time2_rounded, lon2, lat2, foot2, factors)
        !! Near-field temporal densification (docs/physics.md sec. 10.4) onto the new time axis time2
        !! (ascending: the union of the original times and the target times). A particle's
        !! value at a new time is its own row when it has one (src > 0), else, at target
        !! times inside its first..last time, the linear interpolation between its bracketing
        !! rows (numpy.interp arithmetic); NaN otherwise. Then foot is rescaled per window
        !! (|t| <= 10, 10 < |t| <= 20, 20 < |t| <= 100, on time2_rounded) so that each window
        !! keeps its original total (skipped when the new total is 0); factors returns them.
        integer(ip), intent(in) :: np, nt, nt2
        integer(ip), intent(in) :: order(nt)          !! time indices by ascending time
        real(dp), intent(in) :: time(nt), lon(np, nt), lat(np, nt), foot(np, nt)
        real(dp), intent(in) :: time2(nt2)            !! new axis, ascending
        integer(ip), intent(in) :: src(nt2)           !! index into time of time2(k), or 0
        integer(ip), intent(in) :: target(nt2)        !! 1 when time2(k) is a target time
        real(dp), intent(in) :: time2_rounded(nt2)    !! time2 rounded to 0.1 min
        real(dp), intent(out) :: lon2(np, nt2), lat2(np, nt2), foot2(np, nt2)
        real(dp), intent(out) :: factors(3)
        real(dp) :: nan, tlo, thi, slope
        integer(ip) :: i, k, j, jlo, jhi, kfirst, klast
        nan = ieee_value(0.0_dp, ieee_quiet_nan)
        lon2 = nan
        lat2 = nan
        foot2 = nan
        do i = 1, np
            ! first and last present row (in ascending time)
            kfirst = 0
            klast = 0
            do k = 1, nt
                if (.not. ieee_is_nan(lon(i, order(k)))) then
                    if (kfirst == 0) kfirst = k
                    klast = k
                end if
            end do
            if (kfirst == 0) cycle
            tlo = time(order(kfirst))
            thi = time(order(klast))
            jlo = kfirst      ! position in order of the present row at or below time2(k)
            do k = 1, nt2
                if (src(k) > 0) then
                    if (.not. ieee_is_nan(lon(i, src(k)))) then
                        lon2(i, k) = lon(i, src(k))
                        lat2(i, k) = lat(i, src(k))
                        foot2(i, k) = foot(i, src(k))
                        cycle
                    end if
                end if
                if (target(k) /= 1) cycle
                if (time2(k) < tlo .or. time2(k) > thi) cycle
                ! advance jlo to the last present row with time <= time2(k)
                do j = jlo + 1, klast
                    if (ieee_is_nan(lon(i, order(j)))) cycle
                    if (time(order(j)) > time2(k)) exit
                    jlo = j
                end do
                if (time(order(jlo)) == time2(k) .or. jlo == klast) then
                    lon2(i, k) = lon(i, order(jlo))
                    lat2(i, k) = lat(i, order(jlo))
                    foot2(i, k) = foot(i, order(jlo))
                    cycle
                end if
                jhi = jlo + 1
                do while (ieee_is_nan(lon(i, order(jhi))))
                    jhi = jhi + 1
                end do
                associate (t0 => time(order(jlo)), t1 => time(order(jhi)))
                    slope = (lon(i, order(jhi)) - lon(i, order(jlo))) / (t1 - t0)
                    lon2(i, k) = slope * (time2(k) - t0) + lon(i, order(jlo))
                    slope = (lat(i, order(jhi)) - lat(i, order(jlo))) / (t1 - t0)
                    lat2(i, k) = slope * (time2(k) - t0) + lat(i, order(jlo))
                    slope = (foot(i, order(jhi)) - foot(i, order(jlo))) / (t1 - t0)
                    foot2(i, k) = slope * (time2(k) - t0) + foot(i, order(jlo))
                end associate
            end do
        end do
        call rescale_windows(np, nt, time, foot, nt2, time2_rounded, foot2, factors)
    end subroutine nearfield_densify

    pure subroutine rescale_windows(np, nt, time, foot, nt2, time2_rounded, foot2, factors)
        !! The foot rescaling of the near-field densification (docs/physics.md sec. 10.4): per
        !! window (|t| <= 10, 10 < |t| <= 20, 20 < |t| <= 100 min) the densified foot2 is
        !! multiplied by its original total over its new total (factor 1 when the new total
        !! is 0), so that each window keeps its original total.
        integer(ip), intent(in) :: np, nt, nt2
        real(dp), intent(in) :: time(nt), foot(np, nt), time2_rounded(nt2)
        real(dp), intent(inout) :: foot2(np, nt2)
        real(dp), intent(out) :: factors(3)
        real(dp) :: s_old(3), s_new(3)
        integer(ip) :: i, k, w
        s_old = 0.0_dp
        do k = 1, nt
            w = window_of(abs(time(k)))
            if (w == 0) cycle
            do i = 1, np
                if (.not. ieee_is_nan(foot(i, k))) s_old(w) = s_old(w) + foot(i, k)
            end do
        end do
        s_new = 0.0_dp
        do k = 1, nt2
            w = window_of(abs(time2_rounded(k)))
            if (w == 0) cycle
            do i = 1, np
                if (.not. ieee_is_nan(foot2(i, k))) s_new(w) = s_new(w) + foot2(i, k)
            end do
        end do
        factors = 1.0_dp
        do w = 1, 3
            if (s_new(w) > 0.0_dp) factors(w) = s_old(w) / s_new(w)
        end do
        do k = 1, nt2
            w = window_of(abs(time2_rounded(k)))
            if (w == 0) cycle
            foot2(:, k) = foot2(:, k) * factors(w)
        end do
    end subroutine rescale_windows

    pure integer(ip) function window_of(at)
        !! Near-field window (1..3) of |time| at, 0 outside.
        real(dp), intent(in) :: at
        if (at <= win1) then
            window_of = 1
        else if (at <= win2) then
            window_of = 2
        else if (at <= win3) then
            window_of = 3
        else
            window_of = 0
        end if
    end function window_of

    pure subroutine kernel_bandwidths(np, nt, lon, lat, mgroup, nm, gid, ng, rtime, &
            smooth_factor, longlat, w, counts)
        !! Gaussian kernel bandwidth per rtime group (docs/physics.md sec. 10.6), over every present
        !! row:
        !! w = smooth_factor 0.06 (var(x) + var(y))^(1/4) (|rtime|/1440)^(1/2) / g, with sample
        !! variances (n - 1) and g = cos(mean lat) on lon/lat grids, 1 otherwise. Row (i, it)
        !! is in group gid(mgroup(i), it). Groups with fewer than 2 rows get NaN.
        integer(ip), intent(in) :: np, nt, nm, ng
        real(dp), intent(in) :: lon(np, nt), lat(np, nt)
        integer(ip), intent(in) :: mgroup(np)         !! start-time class of each particle
        integer(ip), intent(in) :: gid(nm, nt)        !! rtime group of (class, time)
        real(dp), intent(in) :: rtime(ng)             !! rtime of each group (min)
        real(dp), intent(in) :: smooth_factor
        integer(ip), intent(in) :: longlat            !! 1 for lon/lat grids
        real(dp), intent(out) :: w(ng)
        integer(ip), intent(out) :: counts(ng)
        real(dp) :: mx(ng), my(ng), vx(ng), vy(ng), g
        integer(ip) :: k, columns(ng)
        columns = 0
        if (nm == 1) then
            do k = 1, nt
                columns(gid(1, k)) = columns(gid(1, k)) + 1
            end do
        end if
        if (nm == 1 .and. all(columns <= 1)) then   ! one start time: a group is one column
            call column_moments(np, nt, lon, lat, gid(1, :), ng, counts, mx, my, vx, vy)
        else
            call group_moments(np, nt, lon, lat, mgroup, nm, gid, ng, counts, mx, my, vx, vy)
        end if
        do k = 1, ng
            if (counts(k) < 2) then
                w(k) = ieee_value(0.0_dp, ieee_quiet_nan)
                cycle
            end if
            g = 1.0_dp
            if (longlat == 1) g = cos(my(k) * 3.141592653589793_dp / 180.0_dp)
            w(k) = smooth_factor * 0.06_dp * (vx(k) / (counts(k) - 1) + vy(k) / (counts(k) - 1)) &
                **0.25_dp * (abs(rtime(k)) / 1440.0_dp)**0.5_dp / g
        end do
    end subroutine kernel_bandwidths

    pure subroutine group_moments(np, nt, lon, lat, mgroup, nm, gid, ng, counts, mx, my, vx, vy)
        !! Row count, mean and summed squared deviation of lon and lat per rtime group (row
        !! (i, it) in group gid(mgroup(i), it)): two passes over the rows in storage order.
        integer(ip), intent(in) :: np, nt, nm, ng
        real(dp), intent(in) :: lon(np, nt), lat(np, nt)
        integer(ip), intent(in) :: mgroup(np), gid(nm, nt)
        integer(ip), intent(out) :: counts(ng)
        real(dp), intent(out) :: mx(ng), my(ng), vx(ng), vy(ng)
        real(dp) :: dx, dy
        integer(ip) :: i, it, k
        counts = 0
        mx = 0.0_dp
        my = 0.0_dp
        do it = 1, nt
            do i = 1, np
                if (ieee_is_nan(lon(i, it))) cycle
                k = gid(mgroup(i), it)
                counts(k) = counts(k) + 1
                mx(k) = mx(k) + lon(i, it)
                my(k) = my(k) + lat(i, it)
            end do
        end do
        where (counts > 0)
            mx = mx / counts
            my = my / counts
        end where
        vx = 0.0_dp
        vy = 0.0_dp
        do it = 1, nt
            do i = 1, np
                if (ieee_is_nan(lon(i, it))) cycle
                k = gid(mgroup(i), it)
                dx = lon(i, it) - mx(k)
                dy = lat(i, it) - my(k)
                vx(k) = vx(k) + dx * dx
                vy(k) = vy(k) + dy * dy
            end do
        end do
    end subroutine group_moments

    pure subroutine column_moments(np, nt, lon, lat, gcol, ng, counts, mx, my, vx, vy)
        !! group_moments when every group is one time column (gcol(it) its group, no group
        !! shared by two columns): both passes over a column while it is in cache. The sums
        !! add the same values in the same order, so the results are the same.
        integer(ip), intent(in) :: np, nt, ng
        real(dp), intent(in) :: lon(np, nt), lat(np, nt)
        integer(ip), intent(in) :: gcol(nt)
        integer(ip), intent(out) :: counts(ng)
        real(dp), intent(out) :: mx(ng), my(ng), vx(ng), vy(ng)
        real(dp) :: sx, sy, dx, dy
        integer(ip) :: i, it, k, n
        counts = 0
        mx = 0.0_dp
        my = 0.0_dp
        vx = 0.0_dp
        vy = 0.0_dp
        do it = 1, nt
            k = gcol(it)
            n = 0
            sx = 0.0_dp
            sy = 0.0_dp
            do i = 1, np
                if (ieee_is_nan(lon(i, it))) cycle
                n = n + 1
                sx = sx + lon(i, it)
                sy = sy + lat(i, it)
            end do
            counts(k) = n
            if (n == 0) cycle
            sx = sx / n
            sy = sy / n
            mx(k) = sx
            my(k) = sy
            dx = 0.0_dp
            dy = 0.0_dp
            do i = 1, np
                if (ieee_is_nan(lon(i, it))) cycle
                dx = dx + (lon(i, it) - sx)**2
                dy = dy + (lat(i, it) - sy)**2
            end do
            vx(k) = dx
            vy(k) = dy
        end do
    end subroutine column_moments

    pure integer(ip) function kernel_half_width(sigma, res)
        !! Half width (nodes each side) of the kernel of bandwidth sigma on spacing res:
        !! floor(3 sigma / res), the kernel having 1 + 2 floor(3 sigma / res) nodes (sec. 10.7).
        real(dp), intent(in) :: sigma, res
        if (.not. sigma > 0.0_dp) then
            kernel_half_width = 0
        else
            kernel_half_width = int(floor(3.0_dp * sigma / res), ip)
        end if
    end function kernel_half_width

    pure integer(ip) function edge_index(n, edges, per_res, x)
        !! 0-based index of the last edge <= x (numpy searchsorted(edges, x, 'right') - 1):
        !! a guess from the spacing (per_res = 1 / spacing), corrected against the edges
        !! themselves.
        integer(ip), intent(in) :: n
        real(dp), intent(in) :: edges(n), per_res, x
        integer(ip) :: i
        i = int(floor((x - edges(1)) * per_res), ip) + 1     ! 1-based guess
        i = max(0, min(n, i))
        do while (i < n)
            if (edges(i + 1) > x) exit
            i = i + 1
        end do
        do while (i >= 1)
            if (edges(i) <= x) exit
            i = i - 1
        end do
        edge_index = i - 1
    end function edge_index

    pure subroutine kernel_tables(ng, sigma, xres, yres, hxm, hym, hx, hy, kx, ky, norm, status)
        !! The separable Gaussian kernel of each rtime group (docs/physics.md sec. 10.7):
        !! K(di, dj) = kx(di) ky(dj) / norm with kx(di) = exp(-(di xres)^2 / (2 sigma^2)) for
        !! |di| <= hx (kernel_half_width), likewise ky along y, and norm the sum of K's
        !! numerators. A group with hx = hy = 0 has the one-node kernel 1. The tables are
        !! symmetric (kx(-di) = kx(di)) so that a row of the kernel is one contiguous slice.
        integer(ip), intent(in) :: ng, hxm, hym
        real(dp), intent(in) :: sigma(ng), xres, yres
        integer(ip), intent(in) :: hx(ng), hy(ng)
        real(dp), intent(out) :: kx(-hxm:hxm, ng), ky(-hym:hym, ng), norm(ng)
        integer(ip), intent(out) :: status
        real(dp) :: s
        integer(ip) :: k, d
        status = status_ok
        kx = 0.0_dp
        ky = 0.0_dp
        do k = 1, ng
            kx(0, k) = 1.0_dp
            ky(0, k) = 1.0_dp
            norm(k) = 1.0_dp
            if (hx(k) == 0 .and. hy(k) == 0) cycle
            s = 2.0_dp * sigma(k)**2
            do d = 1, hx(k)
                kx(d, k) = exp(-(d * xres)**2 / s)
            end do
            do d = 1, hy(k)
                ky(d, k) = exp(-(d * yres)**2 / s)
            end do
            kx(-hx(k):-1, k) = kx(hx(k):1:-1, k)
            ky(-hy(k):-1, k) = ky(hy(k):1:-1, k)
            norm(k) = (kx(0, k) + 2.0_dp * sum(kx(1:hx(k), k))) * &
                (ky(0, k) + 2.0_dp * sum(ky(1:hy(k), k)))
            if (.not. ieee_is_finite(norm(k)) .or. norm(k) <= 0.0_dp) then
                status = status_bad_argument
                return
            end if
        end do
    end subroutine kernel_tables

    pure subroutine footprint_accumulate(np, nt, lon, lat, foot, time, mgroup, nm, gid, ng, &
            sigma, xres, yres, bounds, nxe, xedges, nye, yedges, bx, by, nx, ny, &
            time_integrate, layer0, nl, grid, hit, mass, status)
        !! Kernel application, binning and accumulation (docs/physics.md sec. 10.7). Rows with foot > 0
        !! and bounds(1) <= x < bounds(2), bounds(3) <= y < bounds(4) are binned on the
        !! buffered edges (cell = last edge <= position), and foot times the Gaussian kernel of
        !! their rtime group (bandwidth sigma) is added around that cell into layer
        !! floor(time/60) - layer0 + 1 (or 1 when time_integrate = 1). Only the unbuffered grid
        !! (nx, ny), i.e. buffered cells bx+1..bx+nx, by+1..by+ny, is kept: kernel mass on the
        !! buffer ring or beyond is dropped. hit flags the layers that received a row.
        !! mass = (sum of foot > 0 over present rows, sum over the rows kept, number kept,
        !! number of present rows with foot > 0).
        integer(ip), intent(in) :: np, nt, nm, ng, nxe, nye, bx, by, nx, ny, nl
        real(dp), intent(in) :: lon(np, nt), lat(np, nt), foot(np, nt), time(nt)
        integer(ip), intent(in) :: mgroup(np), gid(nm, nt)
        real(dp), intent(in) :: sigma(ng)              !! bandwidth used by each rtime group
        real(dp), intent(in) :: xres, yres, bounds(4)
        real(dp), intent(in) :: xedges(nxe), yedges(nye)
        integer(ip), intent(in) :: time_integrate, layer0
        real(dp), intent(out) :: grid(nx, ny, nl)
        integer(ip), intent(out) :: hit(nl)
        real(dp), intent(out) :: mass(4)
        integer(ip), intent(out) :: status
        integer(ip) :: hx(ng), hy(ng), hxm, hym, k, i, it, l, loi, lai, jy, x0, x1, y0, y1
        real(dp), allocatable :: kx(:, :), ky(:, :)
        real(dp) :: f, fy, norm(ng), per_xres, per_yres
        grid = 0.0_dp
        hit = 0
        mass = 0.0_dp
        status = status_ok
        if (.not. (xres > 0.0_dp .and. yres > 0.0_dp)) then
            status = status_bad_argument
            return
        end if
        do k = 1, ng
            hx(k) = kernel_half_width(sigma(k), xres)
            hy(k) = kernel_half_width(sigma(k), yres)
        end do
        hxm = 0
        hym = 0
        if (ng > 0) then
            hxm = maxval(hx)
            hym = maxval(hy)
        end if
        allocate (kx(-hxm:hxm, ng), ky(-hym:hym, ng))
        call kernel_tables(ng, sigma, xres, yres, hxm, hym, hx, hy, kx, ky, norm, status)
        if (status /= status_ok) return
        per_xres = 1.0_dp / xres
        per_yres = 1.0_dp / yres
        do it = 1, nt
            if (time_integrate == 1) then
                l = 1
            else
                l = int(floor(time(it) / min_per_hour), ip) - layer0 + 1
            end if
            do i = 1, np
                f = foot(i, it)
                if (ieee_is_nan(lon(i, it))) cycle
                if (.not. f > 0.0_dp) cycle
                mass(1) = mass(1) + f
                mass(4) = mass(4) + 1.0_dp
                if (lon(i, it) < bounds(1) .or. .not. lon(i, it) < bounds(2)) cycle
                if (lat(i, it) < bounds(3) .or. .not. lat(i, it) < bounds(4)) cycle
                if (l < 1 .or. l > nl) then
                    status = status_bad_argument
                    return
                end if
                mass(2) = mass(2) + f
                mass(3) = mass(3) + 1.0_dp
                hit(l) = 1
                k = gid(mgroup(i), it)
                ! cell in the unbuffered grid, 1-based, and the kernel's nodes inside it
                loi = edge_index(nxe, xedges, per_xres, lon(i, it)) - bx + 1
                lai = edge_index(nye, yedges, per_yres, lat(i, it)) - by + 1
                x0 = max(1, loi - hx(k))
                x1 = min(nx, loi + hx(k))
                y0 = max(1, lai - hy(k))
                y1 = min(ny, lai + hy(k))
                f = f / norm(k)
                do jy = y0, y1
                    fy = f * ky(jy - lai, k)
                    grid(x0:x1, jy, l) = grid(x0:x1, jy, l) + fy * kx(x0 - loi:x1 - loi, k)
                end do
            end do
        end do
    end subroutine footprint_accumulate

end module stilt_footprint

