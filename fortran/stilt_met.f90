!! stilt_met: the internal terrain-following vertical grid (docs/physics.md sec. 3.1), the remapping of
!! met data-level profiles onto it, and the space/time interpolation of the remapped fields at a
!! particle position (docs/physics.md sec. 3.2, sec. 3.3). Everything here is pure: arrays in, arrays out.
!!
!! Layouts (column-major, chosen so that one column is contiguous):
!!   prof(nprof, nl, nx, ny)  profiles on the internal levels, one met time
!!   sfc(nsfc, nx, ny)        surface fields, one met time
module stilt_met
    use stilt_kinds, only: dp, sp, ip, sec_per_min
    implicit none
    private

    public :: internal_grid, internal_sigma, column_heights, remap_column, remap_lnp_column
    public :: vertical_weights, index_weights, bilinear_weights, remap_met, remap_node, &
        node_columns, foot_density, extrapolate_top

    !! profile variables on internal levels
    integer(ip), parameter, public :: pv_u = 1      !! x (grid-relative) wind, m/s
    integer(ip), parameter, public :: pv_v = 2      !! y wind, m/s
    integer(ip), parameter, public :: pv_w = 3      !! vertical velocity in sigma per minute (positive = sigma grows, downward)
    integer(ip), parameter, public :: pv_t = 4      !! temperature, K
    integer(ip), parameter, public :: pv_p = 5      !! pressure, hPa
    integer(ip), parameter, public :: pv_rho = 6    !! dry-air density, kg/m3
    integer(ip), parameter, public :: pv_q = 7      !! specific humidity, kg/kg (0 when the file has none)
    integer(ip), parameter, public :: pv_rh = 8     !! relative humidity fraction (0 when absent)
    integer(ip), parameter, public :: pv_wms = 9    !! vertical velocity, m/s (positive upward)
    integer(ip), parameter, public :: pv_rhom = 10  !! moist-air density p / (Rd Tv), kg/m3 (q of sec. 2.6)
    integer(ip), parameter, public :: pv_rhof1 = 11 !! foot density of the first half step, kg/m3
    integer(ip), parameter, public :: pv_rhof2 = 12 !! foot density of the second half step, kg/m3
    !! 1 on the levels at or above the first data level above ground, 0 below (the surface
    !! layer's reference level kdat is the first level marked, docs/physics.md sec. 5.1)
    integer(ip), parameter, public :: pv_dat = 13
    integer(ip), parameter, public :: nprof = 13

    !! surface variables (NaN where the file does not carry them)
    integer(ip), parameter, public :: sv_zg = 1     !! terrain height, m
    integer(ip), parameter, public :: sv_prss = 2   !! surface pressure, hPa
    integer(ip), parameter, public :: sv_shtf = 3   !! sensible heat flux, W/m2
    integer(ip), parameter, public :: sv_lhtf = 4   !! latent heat flux, W/m2
    integer(ip), parameter, public :: sv_ustr = 5   !! friction velocity, m/s
    integer(ip), parameter, public :: sv_pblh = 6   !! mixed-layer depth from the file, m
    integer(ip), parameter, public :: sv_dswf = 7   !! downward short-wave flux, W/m2
    integer(ip), parameter, public :: sv_t02m = 8   !! 2-m temperature, K
    integer(ip), parameter, public :: sv_u10m = 9   !! 10-m x wind, m/s
    integer(ip), parameter, public :: sv_v10m = 10  !! 10-m y wind, m/s
    integer(ip), parameter, public :: sv_rain = 11  !! total precipitation rate, m/min
    integer(ip), parameter, public :: sv_crai = 12  !! convective precipitation rate, m/min
    integer(ip), parameter, public :: sv_tcld = 13  !! total cloud, %
    integer(ip), parameter, public :: sv_lcld = 14  !! low cloud, %
    integer(ip), parameter, public :: sv_exco = 15  !! exchange coefficient, kg m-2 s-1
    integer(ip), parameter, public :: sv_umof = 16  !! x momentum flux, N/m2
    integer(ip), parameter, public :: sv_vmof = 17  !! y momentum flux, N/m2
    integer(ip), parameter, public :: sv_tstr = 18  !! friction temperature, K
    integer(ip), parameter, public :: sv_solw = 19  !! soil moisture
    integer(ip), parameter, public :: sv_rghs = 20  !! roughness length, m (RGHS, or the run's table)
    integer(ip), parameter, public :: nsfc = 20

    !! vertical coordinate systems (ARL KSYS)
    integer(ip), parameter, public :: ksys_sigma = 1, ksys_pressure = 2, ksys_terrain = 3, &
        ksys_hybrid = 4, ksys_wrf = 5

    !! data-level columns of a window as the met is read: raw(nd, nraw, nx, ny) in single
    !! precision, the precision of ARL data (nd data levels; NaN-free where the remap reads
    !! them; slots the file lacks hold zeros); node_columns gives one node's as remap_node
    !! takes them
    integer(ip), parameter, public :: rv_temp = 1   !! temperature TEMP, K
    integer(ip), parameter, public :: rv_u = 2      !! x (grid-relative) wind UWND, m/s
    integer(ip), parameter, public :: rv_v = 3      !! y wind VWND, m/s
    integer(ip), parameter, public :: rv_w = 4      !! vertical motion WWND (hPa/s) or DZDT (m/s)
    integer(ip), parameter, public :: rv_q = 5      !! specific humidity SPHU, kg/kg
    integer(ip), parameter, public :: rv_rh = 6     !! relative humidity RELH, % (a fraction
                                                    !! in node_columns)
    integer(ip), parameter, public :: rv_pres = 7   !! level pressure (PRES or HGTS, hPa)
    integer(ip), parameter, public :: rv_hgts = 8   !! geopotential height HGTS, m
    integer(ip), parameter, public :: nraw = 8

    real(dp), parameter, public :: rd_v5 = 287.04_dp   !! gas constant of dry air as in the reference binary (v5)
    real(dp), parameter, public :: g_v5 = 9.80616_dp   !! gravity as in the reference binary (v5)
    real(dp), parameter :: z0_unset = 0.2_dp            !! z0 where the rghs slot is empty (ASCDATA.CFG default)
    real(dp), parameter :: ztop_height_data = 20000.0_dp !! top of the terrain-following height system (KSYS 3), m
    real(dp), parameter :: es_a = 21.4_dp, es_b = 5351.0_dp !! saturation vapour pressure exp(a - b/T), hPa
    real(dp), parameter :: kappa_v5 = 0.286_dp          !! R/cp of the reference binary's potential temperature
    real(dp), parameter :: p_ref = 1000.0_dp            !! potential-temperature reference pressure, hPa
    real(dp), parameter :: t_ice = 273.15_dp            !! below it the foot's vapour pressure is over ice, K
    real(dp), parameter :: w_top_damping = 0.5_dp       !! w of a level above the data top over that of the level below
    !! fewest window nodes remap_met shares among threads (below, starting them costs more)
    integer(ip), parameter :: min_parallel_nodes = 64
    !! humidity codes of remap_node
    integer(ip), parameter, public :: humidity_none = 0, humidity_sphu = 1, humidity_relh = 2

    !! what a met source's data levels are and hold, the same for every node and met time
    type, public :: remap_options
        integer(ip) :: ksys = ksys_sigma          !! ARL vertical system
        integer(ip) :: w_kind = 0                 !! rv_w: 0 none, 1 in hPa/s, 2 in m/s
        integer(ip) :: humidity = humidity_none   !! humidity_*: which of rv_q, rv_rh is read
        logical :: have_pres = .false.            !! rv_pres holds the level pressures
        logical :: have_hgts = .false.            !! rv_hgts holds geopotential heights
        real(dp) :: ptop = 0.0_dp                 !! top pressure of sigma levels, hPa
    end type remap_options

    !! quadratic internal-level coefficient sets, tried in this order (docs/physics.md sec. 3.1)
    real(dp), parameter :: coef_sets(3, 5) = reshape([30.0_dp, -25.0_dp, 5.0_dp, &
        20.0_dp, -15.0_dp, 5.0_dp, 15.0_dp, -5.0_dp, 0.0_dp, 10.0_dp, -10.0_dp, 10.0_dp, &
        5.0_dp, 5.0_dp, 0.0_dp], [3, 5])

contains

    pure subroutine internal_grid(z_top, z_data_top, ndata, nlvl, aa, bb, cc)
        !! Choose the quadratic internal levels h_k = aa k^2 + bb k + cc (m, for zero terrain):
        !! the first coefficient set whose levels up to the higher of the data top and the
        !! model top number at least `ndata` is kept (the reference binary keeps (30,-25,5) for
        !! 24 sigma levels under a 25 km top); nlvl is the first level at or above z_top.
        real(dp), intent(in) :: z_top, z_data_top
        integer(ip), intent(in) :: ndata
        integer(ip), intent(out) :: nlvl
        real(dp), intent(out) :: aa, bb, cc
        integer(ip) :: iset, k
        do iset = 1, size(coef_sets, 2)
            aa = coef_sets(1, iset); bb = coef_sets(2, iset); cc = coef_sets(3, iset)
            k = 1
            do while (aa * k * k + bb * k + cc < max(z_data_top, z_top) .and. k < 10000)
                k = k + 1
            end do
            if (k >= ndata) exit
        end do
        nlvl = 1
        do while (aa * nlvl * nlvl + bb * nlvl + cc < z_top .and. nlvl < 10000)
            nlvl = nlvl + 1
        end do
    end subroutine internal_grid

    pure subroutine internal_sigma(nl, aa, bb, cc, z_top, zsg)
        !! Sigma of the internal levels, 1 - h_k / z_top, rounded to single precision as
        !! the reference binary stores it (this moves level 1 by 1.7e-5 relative, visible in T_L).
        integer(ip), intent(in) :: nl
        real(dp), intent(in) :: aa, bb, cc, z_top
        real(dp), intent(out) :: zsg(nl)
        integer(ip) :: k
        do k = 1, nl
            zsg(k) = real(real(1.0_dp - (aa * k * k + bb * k + cc) / z_top, sp), dp)
        end do
    end subroutine internal_sigma

    pure subroutine column_heights(nd, ksys, lev, ptop, prss, zg, t0, temp, q, q0, pres, hgts, &
            have_pres, have_hgts, p, z)
        !! Pressure (hPa) and height above ground (m) of the data levels of one column.
        !! Heights are hypsometric (virtual temperature from q, and at the ground from t0 and
        !! q0) except for pressure data with geopotential heights (HGTS - SHGT) and
        !! terrain-following data (stored heights).
        integer(ip), intent(in) :: nd, ksys
        real(dp), intent(in) :: lev(nd), ptop, prss, zg, t0
        real(dp), intent(in) :: temp(nd), q(nd), q0, pres(nd), hgts(nd)
        logical, intent(in) :: have_pres, have_hgts
        real(dp), intent(out) :: p(nd), z(nd)
        integer(ip) :: k
        real(dp) :: pprev, tprev, zprev, tv
        do k = 1, nd
            if (have_pres) then
                p(k) = pres(k)
            else
                select case (ksys)
                case (ksys_sigma)
                    p(k) = ptop + (prss - ptop) * lev(k)
                case (ksys_pressure)
                    p(k) = lev(k)
                case (ksys_hybrid)
                    p(k) = prss * (lev(k) - aint(lev(k))) + aint(lev(k))
                case default
                    p(k) = prss * exp(-lev(k) / 8000.0_dp)
                end select
            end if
        end do
        if (ksys == ksys_terrain) then
            z = lev
            return
        end if
        if (ksys == ksys_pressure .and. have_hgts) then
            z = hgts - zg
            return
        end if
        pprev = prss
        tprev = t0 * (1.0_dp + 0.61_dp * q0)
        zprev = 0.0_dp
        do k = 1, nd
            tv = temp(k) * (1.0_dp + 0.61_dp * q(k))
            z(k) = zprev + rd_v5 / g_v5 * 0.5_dp * (tprev + tv) * log(pprev / p(k))
            pprev = p(k); tprev = tv; zprev = z(k)
        end do
    end subroutine column_heights

    pure subroutine remap_column(nd, zd, fd, f0, nl, zi, fo, zf0)
        !! Linear-in-height interpolation of data-level values fd(zd) to heights zi, with the
        !! ground value f0 at z = zf0 (default 0; constant below it) and constant extrapolation
        !! above the top data level. Data levels at or below zf0 are skipped.
        integer(ip), intent(in) :: nd, nl
        real(dp), intent(in) :: zd(nd), fd(nd), f0, zi(nl)
        real(dp), intent(out) :: fo(nl)
        real(dp), intent(in), optional :: zf0
        integer(ip) :: k, m
        real(dp) :: zlo, flo, w
        m = 1
        zlo = 0.0_dp; flo = f0
        if (present(zf0)) zlo = zf0
        do while (m <= nd)
            if (zd(m) > zlo) exit
            m = m + 1
        end do
        do k = 1, nl
            do while (m <= nd)
                if (zd(m) >= zi(k)) exit
                zlo = zd(m); flo = fd(m)
                m = m + 1
            end do
            if (m > nd .or. zi(k) <= zlo) then
                fo(k) = flo
            else
                w = (zi(k) - zlo) / max(zd(m) - zlo, 1.0e-6_dp)
                fo(k) = flo + w * (fd(m) - flo)
            end if
        end do
    end subroutine remap_column

    pure subroutine remap_lnp_column(nd, zd, pd, p0, nl, zi, po)
        !! Pressure on the internal levels: linear in ln p against height, hydrostatic
        !! extrapolation above the data top with the scale height of the top layer. The data
        !! top is the highest data level: heights that fall again above it (a pressure field
        !! that grows upward, docs/physics.md sec. 2.4) are skipped, as the binary does.
        integer(ip), intent(in) :: nd, nl
        real(dp), intent(in) :: zd(nd), pd(nd), p0, zi(nl)
        real(dp), intent(out) :: po(nl)
        real(dp) :: lnp(nd), lno(nl), hs, zlo, plo
        integer(ip) :: k, kt
        lnp = log(max(pd, 1.0e-6_dp))
        call remap_column(nd, zd, lnp, log(p0), nl, zi, lno)
        if (nd >= 2) then
            kt = maxloc(zd, 1)
            zlo = 0.0_dp; plo = log(p0)
            if (kt >= 2) then
                zlo = zd(kt - 1); plo = lnp(kt - 1)
            end if
            hs = (zd(kt) - zlo) / max(plo - lnp(kt), 1.0e-9_dp)
            do k = 1, nl
                if (zi(k) > zd(kt)) lno(k) = lnp(kt) - (zi(k) - zd(kt)) / hs
            end do
        end if
        po = exp(lno)
    end subroutine remap_lnp_column

    pure subroutine vertical_weights(nl, zsg, sigma, kb, wt, below)
        !! Bracketing internal levels of a particle at `sigma`: levels kb and kb+1 with weight
        !! wt of level kb+1 (linear in sigma, i.e. in height for a given column). `below` is
        !! true under level 1 (kb = 1, wt = 0), where callers apply their own rule.
        integer(ip), intent(in) :: nl
        real(dp), intent(in) :: zsg(nl), sigma
        integer(ip), intent(out) :: kb
        real(dp), intent(out) :: wt
        logical, intent(out) :: below
        integer(ip) :: lo, hi, mid
        below = sigma > zsg(1)
        if (below) then
            kb = 1; wt = 0.0_dp
            return
        end if
        if (sigma <= zsg(nl)) then
            kb = nl - 1; wt = 1.0_dp
            return
        end if
        lo = 1; hi = nl
        do while (hi - lo > 1)
            mid = (lo + hi) / 2
            if (zsg(mid) >= sigma) then
                lo = mid
            else
                hi = mid
            end if
        end do
        kb = lo
        wt = (zsg(lo) - sigma) / (zsg(lo) - zsg(hi))
    end subroutine vertical_weights

    pure subroutine index_weights(nl, zsg, aa, bb, cc, z_top, sigma, kb, wt, below)
        !! Like vertical_weights, but linear in the internal level index coordinate: the
        !! quadratic h(k) = aa k^2 + bb k + cc is inverted at the particle's nominal height
        !! (1 - sigma) z_top (docs/physics.md sec. 3.3; what the mean winds use).
        integer(ip), intent(in) :: nl
        real(dp), intent(in) :: zsg(nl), aa, bb, cc, z_top, sigma
        integer(ip), intent(out) :: kb
        real(dp), intent(out) :: wt
        logical, intent(out) :: below
        real(dp) :: zn, rk
        call vertical_weights(nl, zsg, sigma, kb, wt, below)
        if (below .or. sigma <= zsg(nl)) return
        zn = (1.0_dp - sigma) * z_top
        rk = (-bb + sqrt(max(bb * bb - 4.0_dp * aa * (cc - zn), 0.0_dp))) / (2.0_dp * aa)
        wt = min(max(rk - kb, 0.0_dp), 1.0_dp)
    end subroutine index_weights

    pure subroutine bilinear_weights(x, y, nx, ny, i, j, fx, fy, inside)
        !! Lower-left node (i, j) and fractions of a 1-based grid position inside an nx x ny
        !! array; inside = .false. when the position is off it.
        real(dp), intent(in) :: x, y
        integer(ip), intent(in) :: nx, ny
        integer(ip), intent(out) :: i, j
        real(dp), intent(out) :: fx, fy
        logical, intent(out) :: inside
        inside = x >= 1.0_dp .and. y >= 1.0_dp .and. x <= real(nx, dp) .and. y <= real(ny, dp)
        i = min(max(int(x), 1), max(nx - 1, 1))
        j = min(max(int(y), 1), max(ny - 1, 1))
        fx = x - i; fy = y - j
    end subroutine bilinear_weights

    subroutine remap_met(nx, ny, nd, nl, lev, ro, z_top, zsg, sfc, raw, prof, status)
        !! Remap one met time of a whole window (remap_node at every node). The transport
        !! remaps lazily instead, node by node where particles go (stilt_transport
        !! ensure_node); this is for callers that want every column. The columns are
        !! independent: OpenMP threads share them (the same values for any thread count).
        !! status: 0, or status_not_finite if a required input of some node is NaN.
        integer(ip), intent(in) :: nx, ny, nd, nl
        real(dp), intent(in) :: lev(nd), z_top, zsg(nl)
        type(remap_options), intent(in) :: ro
        real(dp), intent(in) :: sfc(nsfc, nx, ny)
        real(sp), intent(in) :: raw(nd, nraw, nx, ny)
        real(dp), intent(out) :: prof(nprof, nl, nx, ny)
        integer(ip), intent(out) :: status
        integer(ip) :: i, j, st
        status = 0
        !$omp parallel do default(shared) schedule(static) if (nx * ny >= min_parallel_nodes) &
        !$omp private(i, j, st) reduction(max: status)
        do j = 1, ny
            do i = 1, nx
                call remap_node(nd, nl, lev, ro, z_top, zsg, sfc(:, i, j), &
                    node_columns(nd, raw(:, :, i, j)), prof(:, :, i, j), st)
                status = max(status, st)
            end do
        end do
        !$omp end parallel do
    end subroutine remap_met

    pure function node_columns(nd, raw) result(col)
        !! One node's data-level columns as remap_node takes them: in double precision (exact),
        !! the relative humidity as a fraction.
        integer(ip), intent(in) :: nd
        real(sp), intent(in) :: raw(nd, nraw)   !! the node's columns as read (rv_*)
        real(dp) :: col(nd, nraw)
        col = real(raw, dp)
        col(:, rv_rh) = col(:, rv_rh) / 100.0_dp
    end function node_columns

    pure subroutine remap_node(nd, nl, lev, ro, z_top, zsg, sfc, raw, prof, status)
        !! Remap one met column (one node at one met time) from the data levels to the
        !! internal levels.
        !! Ground values: winds = U10M/V10M where present; else the neutral log law at internal
        !! level 1, u1 ln(z_1 / z0) / ln(z_d / z0) (z_1 internal level 1, z_d first data level,
        !! z0 = RGHS slot of the node, 0.2 m if unset), placed at the ground so that the wind is
        !! linear from it to the first data level (as the reference binary, docs/transport.md); T = T02M
        !! or the first-level temperature brought down dry-adiabatically; w = 0; humidity and
        !! other scalars = first-level value. ro%w_kind: 0 no vertical velocity, 1 WWND (hPa/s),
        !! 2 DZDT (m/s). raw(:, rv_q): SPHU (kg/kg; read only when ro%humidity =
        !! humidity_sphu); raw(:, rv_rh): RELH as a fraction (read only when ro%humidity =
        !! humidity_relh). The binary's specific humidity
        !! (docs/physics.md sec. 2.6): SPHU as given, RELH 0.622 rh es(T) / p at each data
        !! level; at the ground SPHU's first level, RELH's first level at the ground
        !! temperature and surface pressure; linear in height between. It makes the data-level
        !! heights virtual, and the moist density p / (Rd T (1 + 0.61 q)) that converts WWND to
        !! m/s (on the internal levels, after WWND is interpolated to them), enters the
        !! stability and the interface rule and starts the first foot half step. The dry-air
        !! density (p - e)/(Rd T), the printed dens, takes its vapour from the relative
        !! humidity interpolated to the internal levels, e = rh es(T) at the
        !! level's own temperature (the binary's printed dens under a ground warmer than the
        !! first data level, docs/met.md); SPHU becomes that relative humidity first,
        !! q p / (0.622 es(T)) per data level (q1 PRSS / (0.622 es(T1)) at the ground).
        !! On height levels (KSYS 3) the pressure is linear in p below the data top, elsewhere
        !! linear in ln p; above the data top see extrapolate_top. pv_dat marks the levels at
        !! or above the first data level above ground.
        !! status: 0, or status_not_finite if a required input is NaN.
        !! One procedure (~130 lines) on purpose: one pass per met column fills every profile
        !! variable from the same column heights; the shared work is already in column_heights /
        !! remap_column, what stays is each variable's ground value beside its remap.
        use stilt_kinds, only: status_ok, status_not_finite
        use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
        integer(ip), intent(in) :: nd, nl
        real(dp), intent(in) :: lev(nd), z_top, zsg(nl)
        type(remap_options), intent(in) :: ro
        real(dp), intent(in) :: sfc(nsfc)          !! the node's surface fields
        real(dp), intent(in) :: raw(nd, nraw)      !! the node's data-level columns (node_columns)
        real(dp), intent(out) :: prof(nprof, nl)
        integer(ip), intent(out) :: status
        integer(ip) :: k
        real(dp) :: pd(nd), zd(nd), zi(nl), f(nl), wd(nd), qz(nd), rhd(nd), qm(nl), zg, &
            prss, t0, q0, u0, v0, e, zw, qk, z0n, fw, rhk, zd1
        status = status_ok
        zg = sfc(sv_zg); prss = sfc(sv_prss)
        if (.not. (ieee_is_finite(zg) .and. ieee_is_finite(prss))) then
            status = status_not_finite; prof = 0.0_dp; return
        end if
        if (.not. all(ieee_is_finite(raw(:, rv_temp)))) then
            status = status_not_finite; prof = 0.0_dp; return
        end if
        ! the level pressures (they do not depend on humidity), then the specific
        ! humidity of the data levels: SPHU as given, or from RELH 0.622 e / p at the
        ! level's pressure and temperature (docs/physics.md sec. 2.6)
        qz = 0.0_dp
        call column_heights(nd, ro%ksys, lev, ro%ptop, prss, zg, sfc(sv_t02m), &
            raw(:, rv_temp), qz, 0.0_dp, raw(:, rv_pres), raw(:, rv_hgts), ro%have_pres, &
            ro%have_hgts, pd, zd)
        select case (ro%humidity)
        case (humidity_sphu)
            qz = raw(:, rv_q)
        case (humidity_relh)
            do k = 1, nd
                qz(k) = 0.622_dp * raw(k, rv_rh) * exp(es_a - es_b / raw(k, rv_temp)) &
                    / max(pd(k), 1.0e-6_dp)
            end do
        end select
        t0 = sfc(sv_t02m)
        if (.not. ieee_is_finite(t0)) then
            ! no T02M/TMPS: the first data level brought down dry-adiabatically; on
            ! sigma files by its sigma alone, PTOP ignored (the binary's 10-m temp and
            ! mlht on a PTOP = 50 hPa file match only so, docs/met.md)
            if (ro%ksys == ksys_sigma) then
                t0 = raw(1, rv_temp) * lev(1)**(-0.286_dp)
            else
                t0 = raw(1, rv_temp) * (prss / pd(1))**0.286_dp
            end if
        end if
        ! the ground's humidity: SPHU the first level's, RELH the first level's at the
        ! ground temperature and surface pressure; then the heights again, with the
        ! ground temperature now known
        q0 = qz(1)
        if (ro%humidity == humidity_relh) &
            q0 = 0.622_dp * raw(1, rv_rh) * exp(es_a - es_b / t0) / prss
        call column_heights(nd, ro%ksys, lev, ro%ptop, prss, zg, t0, raw(:, rv_temp), &
            qz, q0, raw(:, rv_pres), raw(:, rv_hgts), ro%have_pres, ro%have_hgts, pd, zd)
        ! terrain-following heights are compressed over terrain with a 20 km top:
        ! z = z* (20000 - zg) / 20000 (fitted on the binary's mlht and 10-m pres over
        ! 500 m and 1500 m terrain, which give 19.8 and 19.7 km; 25 km or the top data
        ! level leave 0.3-1.6 % and 1-3 %, docs/met.md)
        if (ro%ksys == ksys_terrain) zd = zd * (ztop_height_data - zg) / ztop_height_data
        zi = (1.0_dp - zsg) * (z_top - zg)
        u0 = sfc(sv_u10m); v0 = sfc(sv_v10m)
        zw = 0.0_dp
        if (.not. (ieee_is_finite(u0) .and. ieee_is_finite(v0))) then
            z0n = sfc(sv_rghs)
            if (.not. (ieee_is_finite(z0n) .and. z0n > 0.0_dp)) z0n = z0_unset
            fw = 1.0_dp
            if (zi(1) < zd(1)) fw = max(log(zi(1) / z0n), 0.0_dp) &
                / max(log(zd(1) / z0n), 1.0e-6_dp)
            u0 = fw * raw(1, rv_u); v0 = fw * raw(1, rv_v)
            zw = 0.0_dp
        end if
        call remap_column(nd, zd, raw(:, rv_u), u0, nl, zi, prof(pv_u, :), zw)
        call remap_column(nd, zd, raw(:, rv_v), v0, nl, zi, prof(pv_v, :), zw)
        call remap_column(nd, zd, raw(:, rv_temp), t0, nl, zi, prof(pv_t, :))
        call remap_lnp_column(nd, zd, pd, prss, nl, zi, prof(pv_p, :))
        if (ro%ksys == ksys_terrain) then
            ! height levels: pressure linear in p below the data top, as the
            ! binary's mlht requires (docs/physics.md sec. 3.2)
            call remap_column(nd, zd, pd, prss, nl, zi, f)
            where (zi <= zd(nd)) prof(pv_p, :) = f
        end if
        ! the specific humidity of the moist density, linear in height (sec. 2.6)
        call remap_column(nd, zd, qz, q0, nl, zi, qm)
        prof(pv_q, :) = qm
        if (ro%humidity == humidity_sphu) then
            ! SPHU as a relative humidity, q p / (0.622 es(T)) at each data level and
            ! with the surface pressure and first-level temperature at the ground,
            ! then handled as RELH (docs/physics.md sec. 2.6)
            do k = 1, nd
                rhd(k) = qz(k) * pd(k) / (0.622_dp * exp(es_a - es_b / raw(k, rv_temp)))
            end do
            call remap_column(nd, zd, rhd, qz(1) * prss &
                / (0.622_dp * exp(es_a - es_b / raw(1, rv_temp))), nl, zi, &
                prof(pv_rh, :))
        else
            call remap_column(nd, zd, raw(:, rv_rh), raw(1, rv_rh), nl, zi, &
                prof(pv_rh, :))
        end if
        if (ro%humidity /= humidity_none) then
            do k = 1, nl
                e = prof(pv_rh, k) * exp(es_a - es_b / prof(pv_t, k))
                prof(pv_q, k) = 0.622_dp * e &
                    / max(prof(pv_p, k) - 0.378_dp * e, 1.0e-6_dp)
            end do
        end if
        ! the surface layer's reference level: at or above the first data level above
        ! ground (docs/physics.md sec. 5.1); then the levels above the data top
        zd1 = first_above_ground(nd, zd)
        prof(pv_dat, :) = merge(1.0_dp, 0.0_dp, zi >= zd1)
        call extrapolate_top(nd, zd, zd1, nl, zi, prof, qm)
        ! WWND (hPa/s) is interpolated as it is and converted to m/s on the internal
        ! levels, with their own moist density, as the binary (docs/physics.md sec. 4.3)
        select case (ro%w_kind)
        case (1, 2)
            wd = raw(:, rv_w)
        case default
            wd = 0.0_dp
        end select
        where (.not. ieee_is_finite(wd)) wd = 0.0_dp
        call remap_column(nd, zd, wd, 0.0_dp, nl, zi, f)
        do k = 1, nl
            qk = max(prof(pv_q, k), 0.0_dp)
            e = qk * prof(pv_p, k) / (0.622_dp + 0.378_dp * qk)
            prof(pv_rho, k) = (prof(pv_p, k) - e) * 100.0_dp &
                / (rd_v5 * prof(pv_t, k))
            prof(pv_rhom, k) = moist_density(prof(pv_p, k), &
                prof(pv_t, k), max(qm(k), 0.0_dp))
            rhk = prof(pv_rh, k)
            if (prof(pv_p, k) <= 0.0_dp) then
                ! no potential temperature: the pressure extrapolated above the data
                ! top of a column whose pressure is its height fell below zero
                prof(pv_rhof1:pv_rhof2, k) = prof(pv_rho, k)
                cycle
            end if
            ! the binary's two half steps (docs/validation.md, Met families): moist
            ! density with theta, then the dry density with T taken for theta
            prof(pv_rhof1, k) = foot_density(prof(pv_rhom, k), &
                prof(pv_t, k) * (p_ref / prof(pv_p, k))**kappa_v5, rhk)
            prof(pv_rhof2, k) = foot_density(prof(pv_rho, k), &
                prof(pv_t, k), rhk)
        end do
        if (ro%w_kind == 1) then   ! w = -100 omega / (rho g), omega in hPa/s
            do k = 1, nl
                f(k) = -f(k) * 100.0_dp / (prof(pv_rhom, k) * g_v5)
            end do
        end if
        call damp_above_top(nd, zd, nl, zi, f)
        prof(pv_wms, :) = f
        prof(pv_w, :) = -f * sec_per_min / (z_top - zg)
    end subroutine remap_node

    pure function first_above_ground(nd, zd) result(zd1)
        !! Height of the first data level above the ground (huge when there is none).
        integer(ip), intent(in) :: nd
        real(dp), intent(in) :: zd(nd)   !! data-level heights above ground, m
        real(dp) :: zd1
        integer(ip) :: k
        zd1 = huge(1.0_dp)
        do k = 1, nd
            if (zd(k) > 0.0_dp) then
                zd1 = zd(k)
                return
            end if
        end do
    end function first_above_ground

    pure subroutine extrapolate_top(nd, zd, zd1, nl, zi, prof, qm)
        !! The internal levels above the highest data level, as the reference binary fills them
        !! (docs/physics.md sec. 3.2): wind and temperature of the last level below it, no
        !! vapour, and the pressure stepped down hydrostatically with the moist density of the
        !! level below, p_k = p_k-1 - rho_k-1 g dz / 100. The first step, when the level below
        !! lies under the first data level (interpolated from the ground), spans
        !! z_k + z_k-1 instead of z_k - z_k-1 (measured; its pressure may fall below zero).
        integer(ip), intent(in) :: nd, nl
        real(dp), intent(in) :: zd(nd), zi(nl)
        real(dp), intent(in) :: zd1                !! first data level above ground, m
        real(dp), intent(inout) :: prof(nprof, nl)
        real(dp), intent(inout) :: qm(nl)          !! specific humidity of the moist density
        integer(ip) :: k, kx
        real(dp) :: rhom, dz
        kx = first_above_top(nd, zd, nl, zi)
        if (kx < 2) return
        do k = kx, nl
            rhom = moist_density(prof(pv_p, k - 1), prof(pv_t, k - 1), max(qm(k - 1), 0.0_dp))
            dz = zi(k) - zi(k - 1)
            if (k == kx .and. zi(k - 1) < zd1) dz = zi(k) + zi(k - 1)
            prof(pv_p, k) = prof(pv_p, k - 1) - rhom * g_v5 * dz / 100.0_dp
            prof([pv_u, pv_v, pv_t], k) = prof([pv_u, pv_v, pv_t], kx - 1)
            prof([pv_q, pv_rh], k) = 0.0_dp
            qm(k) = 0.0_dp
        end do
    end subroutine extrapolate_top

    pure subroutine damp_above_top(nd, zd, nl, zi, w)
        !! The vertical velocity of the internal levels above the highest data level, as the
        !! reference binary sets it: half that of the level below, level by level
        !! (docs/physics.md sec. 4.3; measured on its descent rates above a 14.6 km data top).
        integer(ip), intent(in) :: nd, nl
        real(dp), intent(in) :: zd(nd), zi(nl)
        real(dp), intent(inout) :: w(nl)   !! m/s on the internal levels
        integer(ip) :: k
        do k = max(first_above_top(nd, zd, nl, zi), 2), nl
            w(k) = w_top_damping * w(k - 1)
        end do
    end subroutine damp_above_top

    pure function first_above_top(nd, zd, nl, zi) result(kx)
        !! The first internal level above the highest data level (nl + 1 if none); the
        !! internal levels rise with k.
        integer(ip), intent(in) :: nd, nl
        real(dp), intent(in) :: zd(nd), zi(nl)
        integer(ip) :: kx
        real(dp) :: ztop
        ztop = maxval(zd)
        do kx = 1, nl
            if (zi(kx) > ztop) return
        end do
        kx = nl + 1
    end function first_above_top

    elemental function moist_density(p, t, q) result(rho)
        !! Moist-air density p / (Rd T (1 + 0.61 q)), kg/m3, with the reference binary's Rd
        !! (docs/physics.md sec. 2.6).
        real(dp), intent(in) :: p   !! pressure, hPa
        real(dp), intent(in) :: t   !! temperature, K
        real(dp), intent(in) :: q   !! specific humidity, kg/kg
        real(dp) :: rho
        rho = p * 100.0_dp / (rd_v5 * t * (1.0_dp + 0.61_dp * q))
    end function moist_density

    elemental function foot_density(dens, theta, rh) result(d)
        !! Dry-air density of the reference binary's foot column mass (docs/validation.md, Met
        !! families): pressure recovered from dens and theta as if theta were the potential
        !! temperature, T from it, e = rh es(T) (Tetens over water at or above 273.15 K, over
        !! ice below), then dens (1 - r) with the mixing ratio r = 0.622 e / (p - e).
        real(dp), intent(in) :: dens   !! density the binary starts from, kg/m3
        real(dp), intent(in) :: theta  !! temperature it takes for the potential temperature, K
        real(dp), intent(in) :: rh     !! relative humidity fraction
        real(dp) :: d, p, t, es, e
        p = (dens * theta * rd_v5 / 100.0_dp * p_ref**(-kappa_v5))**(1.0_dp / (1.0_dp - kappa_v5))
        t = theta * (p / p_ref)**kappa_v5
        if (t >= t_ice) then
            es = 6.1078_dp * exp(17.29694_dp * (t - 273.16_dp) / (t - 35.86_dp))
        else
            es = exp(23.33086_dp - 6111.72784_dp / t + 0.15215_dp * log(t))
        end if
        e = rh * es
        d = dens * (1.0_dp - 0.622_dp * e / (p - e))
    end function foot_density

end module stilt_met
