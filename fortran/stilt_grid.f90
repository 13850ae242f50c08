!! stilt_grid: horizontal ARL grids and map projections (docs/physics.md sec. 2.2).
!!
!! A grid is described by the 12 parameters of the ARL index record, in file order:
!!   1 POLE_LAT, 2 POLE_LON, 3 REF_LAT, 4 REF_LON, 5 SIZE (km; 0 => lat-lon grid), 6 ORIENT,
!!   7 TANG_LAT, 8 SYNC_XP, 9 SYNC_YP, 10 SYNC_LAT, 11 SYNC_LON, 12 RESERVED
!! plus NX, NY. `grid_init` turns them into a `grid_t` holding the derived constants once;
!! every other procedure is elemental in the point arguments and takes that `grid_t`, so the
!! transport core can call them per particle and the wrapper on whole arrays.
!!
!! Grid coordinates are 1-based real indices (x along NX west->east, y along NY south->north).
!!
!! Conformal grids (SIZE > 0) are on a sphere of radius 6371.2 km. TANG_LAT alone selects the
!! projection: +-90 polar stereographic about that pole, 0 Mercator, otherwise a Lambert cone
!! tangent at TANG_LAT. The scale is true (map factor 1) at REF_LAT; REF_LON is the meridian
!! parallel to the projection's y axis; the grid axes are then turned by ORIENT degrees (the
!! grid y axis points ORIENT degrees east of north at REF_LON); (SYNC_XP, SYNC_YP) is the grid
!! position of (SYNC_LAT, SYNC_LON).
!!
!! Lat-lon grids (SIZE = 0) follow HYSPLIT's GBL2XY rules, including the PRIME test and the
!! global wrap detection of GBLSET (see `grid_init`).
module stilt_grid
    use, intrinsic :: ieee_arithmetic, only: ieee_value, ieee_quiet_nan
    use stilt_kinds, only: dp, ip, pi, deg2rad, rad2deg, earth_radius_km, &
        status_ok, status_bad_argument
    implicit none
    private

    public :: grid_t, grid_init
    public :: grid_xy_to_ll, grid_ll_to_xy, grid_map_factor, grid_spacing, grid_rotation, &
        grid_wrap
    public :: grid_kind_latlon, grid_kind_polar, grid_kind_lambert, grid_kind_mercator
    public :: grid_wrap_none, grid_wrap_global, grid_wrap_north, grid_wrap_south

    !! Values of grid_t%kind
    integer(ip), parameter :: grid_kind_none = 0
    integer(ip), parameter :: grid_kind_latlon = 1
    integer(ip), parameter :: grid_kind_polar = 2
    integer(ip), parameter :: grid_kind_lambert = 3
    integer(ip), parameter :: grid_kind_mercator = 4

    !! Values of grid_t%wrap (HYSPLIT GBLSET: 'gl', 'nh', 'sh')
    integer(ip), parameter :: grid_wrap_none = 0
    integer(ip), parameter :: grid_wrap_global = 1
    integer(ip), parameter :: grid_wrap_north = 2
    integer(ip), parameter :: grid_wrap_south = 3

    !! Tolerance (degrees) of the equality tests on header parameters (written as F7 text)
    real(dp), parameter :: deg_tol = 1.0e-3_dp

    !! A grid with its derived constants; build it with grid_init only.
    type :: grid_t
        integer(ip) :: kind = grid_kind_none   !! one of grid_kind_*
        integer(ip) :: nx = 0                  !! points west-east
        integer(ip) :: ny = 0                  !! points south-north
        integer(ip) :: wrap = grid_wrap_none   !! lat-lon global wrap type (grid_wrap_*)
        logical :: prime = .false.             !! lat-lon: grid straddles Greenwich in -180..180
        real(dp) :: par(12) = 0.0_dp           !! the 12 ARL grid parameters
        real(dp) :: hemi = 1.0_dp              !! +1 cone/pole in the north, -1 south
        real(dp) :: cone = 0.0_dp              !! |sin(TANG_LAT)|: 1 polar, 0 Mercator
        real(dp) :: k0 = 1.0_dp                !! scale making the map factor 1 at REF_LAT
        real(dp) :: kref = 1.0_dp              !! unscaled projection scale at REF_LAT
        real(dp) :: rho_c = 0.0_dp             !! Lambert: scaled radius at TANG_LAT (km)
        real(dp) :: t_c = 0.0_dp               !! Lambert: tan(pi/4 - |TANG_LAT|/2)
        real(dp) :: cos_o = 1.0_dp             !! cos(ORIENT)
        real(dp) :: sin_o = 0.0_dp             !! sin(ORIENT)
        real(dp) :: xs = 0.0_dp                !! sync point in the turned plane (km)
        real(dp) :: ys = 0.0_dp                !! sync point in the turned plane (km)
    end type grid_t

contains

    !> Build a grid_t from the 12 ARL parameters and the grid size; status_bad_argument when
    !> the parameters cannot describe a grid.
    pure subroutine grid_init(par, nx, ny, g, status)
        real(dp), intent(in) :: par(12)     !! ARL grid parameters in file order
        integer(ip), intent(in) :: nx       !! points west-east
        integer(ip), intent(in) :: ny       !! points south-north
        type(grid_t), intent(out) :: g      !! the grid
        integer(ip), intent(out) :: status  !! status_ok or status_bad_argument
        real(dp) :: tang, phi_c, lonchk, px, py

        status = status_bad_argument
        g%par = par
        g%nx = nx
        g%ny = ny
        if (nx < 1 .or. ny < 1) return
        if (any(par /= par)) return          ! NaN parameter
        if (par(5) < 0.0_dp) return

        if (par(5) == 0.0_dp) then
            ! regular lat-lon: REF_LAT = dlat, REF_LON = dlon
            if (par(3) <= 0.0_dp .or. par(4) <= 0.0_dp) return
            g%kind = grid_kind_latlon
            g%prime = par(2) >= 0.0_dp .and. par(11) < 0.0_dp
            lonchk = par(2) + par(4) - par(11)
            if (abs(lonchk - 360.0_dp) < deg_tol .or. abs(lonchk) < deg_tol) then
                if (abs(par(1) - par(10) - 180.0_dp) < deg_tol) then
                    g%wrap = grid_wrap_global
                else if (abs(par(1) + par(4) - 90.5_dp) < deg_tol) then
                    g%wrap = grid_wrap_north   ! GBLSET's test, as coded
                else if (abs(par(10) + 90.0_dp) < deg_tol) then
                    g%wrap = grid_wrap_south
                end if
            end if
            status = status_ok
            return
        end if

        tang = par(7)
        if (abs(tang) > 90.0_dp + deg_tol) return
        if (abs(par(3)) >= 90.0_dp) then
            ! true scale at a pole only makes sense for a polar stereographic grid about it
            if (.not. (abs(abs(tang) - 90.0_dp) < 1.0e-6_dp .and. par(3) * tang > 0.0_dp)) return
        end if
        g%hemi = merge(-1.0_dp, 1.0_dp, tang < 0.0_dp)
        if (abs(abs(tang) - 90.0_dp) < 1.0e-6_dp) then
            g%kind = grid_kind_polar
            g%cone = 1.0_dp
        else if (abs(tang) < 1.0e-6_dp) then
            g%kind = grid_kind_mercator
            g%cone = 0.0_dp
            g%hemi = 1.0_dp
        else
            g%kind = grid_kind_lambert
            phi_c = abs(tang) * deg2rad
            g%cone = sin(phi_c)
            g%t_c = tan(0.25_dp * pi - 0.5_dp * phi_c)
        end if
        g%k0 = 1.0_dp
        g%kref = unscaled_k(g, par(3) * deg2rad)
        if (.not. (g%kref > 0.0_dp .and. g%kref < huge(1.0_dp))) then
            g%kind = grid_kind_none
            return
        end if
        g%k0 = 1.0_dp / g%kref
        if (g%kind == grid_kind_lambert) then
            g%rho_c = earth_radius_km * cos(phi_c) / g%cone * g%k0
        end if
        g%cos_o = cos(par(6) * deg2rad)
        g%sin_o = sin(par(6) * deg2rad)
        call plane_xy(g, par(10), par(11), px, py)
        if (px /= px .or. py /= py) then
            g%kind = grid_kind_none
            return
        end if
        g%xs = px
        g%ys = py
        status = status_ok
    end subroutine grid_init

    !> Unscaled point scale of the projection at (folded) latitude phi (radians).
    pure function unscaled_k(g, phi_in) result(k)
        type(grid_t), intent(in) :: g
        real(dp), intent(in) :: phi_in
        real(dp) :: k, phi, phi_c
        phi = phi_in * g%hemi
        select case (g%kind)
        case (grid_kind_polar)
            k = 2.0_dp / (1.0_dp + sin(phi))
        case (grid_kind_mercator)
            k = 1.0_dp / cos(phi)
        case (grid_kind_lambert)
            phi_c = asin(g%cone)
            k = cos(phi_c) / cos(phi) * (tan(0.25_dp * pi - 0.5_dp * phi) / g%t_c)**g%cone
        case default
            k = 1.0_dp
        end select
    end function unscaled_k

    !> Longitude difference lon - lon0 in degrees, folded into [-180, 180).
    elemental function lon_diff(lon, lon0) result(d)
        real(dp), intent(in) :: lon, lon0
        real(dp) :: d
        d = modulo(lon - lon0 + 180.0_dp, 360.0_dp) - 180.0_dp
    end function lon_diff

    !> Earth coordinates (degrees) to the turned projection plane (km, before the sync shift).
    elemental subroutine plane_xy(g, lat, lon, xp, yp)
        type(grid_t), intent(in) :: g
        real(dp), intent(in) :: lat, lon
        real(dp), intent(out) :: xp, yp
        real(dp) :: phi, dlam, rho, theta, xx, yy, nan

        nan = ieee_value(1.0_dp, ieee_quiet_nan)
        phi = lat * deg2rad * g%hemi
        dlam = lon_diff(lon, g%par(4)) * deg2rad
        if (.not. (abs(lat) <= 90.0_dp) .or. lon /= lon) then
            xp = nan
            yp = nan
            return
        end if
        select case (g%kind)
        case (grid_kind_polar, grid_kind_lambert)
            if (phi <= -0.5_dp * pi + 1.0e-12_dp) then   ! the opposite pole is at infinity
                xp = nan
                yp = nan
                return
            end if
            if (g%kind == grid_kind_polar) then
                rho = 2.0_dp * earth_radius_km * g%k0 * tan(0.25_dp * pi - 0.5_dp * phi)
            else
                rho = g%rho_c * (tan(0.25_dp * pi - 0.5_dp * phi) / g%t_c)**g%cone
            end if
            theta = g%cone * dlam
            xx = rho * sin(theta)
            yy = -g%hemi * rho * cos(theta)
        case (grid_kind_mercator)
            if (abs(phi) >= 0.5_dp * pi - 1.0e-12_dp) then
                xp = nan
                yp = nan
                return
            end if
            xx = earth_radius_km * g%k0 * dlam
            yy = earth_radius_km * g%k0 * log(tan(0.25_dp * pi + 0.5_dp * phi))
        case default
            xp = nan
            yp = nan
            return
        end select
        xp = xx * g%cos_o - yy * g%sin_o
        yp = xx * g%sin_o + yy * g%cos_o
    end subroutine plane_xy

    !> Earth latitude/longitude (degrees) to 1-based grid coordinates. NaN where the point
    !> has no image (the far pole of a cone, the poles of a Mercator grid, invalid grid).
    elemental subroutine grid_ll_to_xy(g, lat, lon, x, y)
        type(grid_t), intent(in) :: g    !! the grid
        real(dp), intent(in) :: lat      !! latitude (degrees north)
        real(dp), intent(in) :: lon      !! longitude (degrees east, any range)
        real(dp), intent(out) :: x       !! grid x index (1-based)
        real(dp), intent(out) :: y       !! grid y index (1-based)
        real(dp) :: xp, yp, la, lo, t

        if (g%kind == grid_kind_latlon) then
            ! HYSPLIT GBL2XY: fold the latitude, PRIME rule, eastward distance from SYNC_LON
            la = lat
            if (la > 90.0_dp) la = 180.0_dp - la
            if (la < -90.0_dp) la = -180.0_dp - la
            y = 1.0_dp + (la - g%par(10)) / g%par(3)
            lo = lon_diff(lon, 0.0_dp)                      ! inputs taken as -180..180
            if (.not. g%prime) lo = modulo(lo, 360.0_dp)
            t = lo - g%par(11)
            if (t < 0.0_dp) then
                if (t > -1.0e-9_dp) then                    ! rounding at the first column
                    t = 0.0_dp
                else
                    t = t + 360.0_dp
                end if
            end if
            x = 1.0_dp + t / g%par(4)
            return
        end if
        call plane_xy(g, lat, lon, xp, yp)
        x = g%par(8) + (xp - g%xs) / g%par(5)
        y = g%par(9) + (yp - g%ys) / g%par(5)
    end subroutine grid_ll_to_xy

    !> 1-based grid coordinates to earth latitude/longitude (degrees, lon in [-180, 180)).
    elemental subroutine grid_xy_to_ll(g, x, y, lat, lon)
        type(grid_t), intent(in) :: g    !! the grid
        real(dp), intent(in) :: x        !! grid x index (1-based)
        real(dp), intent(in) :: y        !! grid y index (1-based)
        real(dp), intent(out) :: lat     !! latitude (degrees north)
        real(dp), intent(out) :: lon     !! longitude (degrees east, [-180, 180))
        real(dp) :: xr, yr, xx, yy, rho, theta, t, phi, dlam, nan

        nan = ieee_value(1.0_dp, ieee_quiet_nan)
        select case (g%kind)
        case (grid_kind_latlon)
            lat = g%par(10) + (y - 1.0_dp) * g%par(3)
            lon = lon_diff(g%par(11) + (x - 1.0_dp) * g%par(4), 0.0_dp)
            return
        case (grid_kind_polar, grid_kind_lambert, grid_kind_mercator)
            continue
        case default
            lat = nan
            lon = nan
            return
        end select
        xr = (x - g%par(8)) * g%par(5) + g%xs
        yr = (y - g%par(9)) * g%par(5) + g%ys
        xx = xr * g%cos_o + yr * g%sin_o
        yy = -xr * g%sin_o + yr * g%cos_o
        if (g%kind == grid_kind_mercator) then
            dlam = xx / (earth_radius_km * g%k0)
            phi = 2.0_dp * atan(exp(yy / (earth_radius_km * g%k0))) - 0.5_dp * pi
        else
            yy = -g%hemi * yy
            rho = sqrt(xx * xx + yy * yy)
            theta = atan2(xx, yy)
            dlam = theta / g%cone
            if (g%kind == grid_kind_polar) then
                t = rho / (2.0_dp * earth_radius_km * g%k0)
            else
                t = g%t_c * (rho / g%rho_c)**(1.0_dp / g%cone)
            end if
            phi = 0.5_dp * pi - 2.0_dp * atan(t)
            phi = g%hemi * phi
        end if
        lat = phi * rad2deg
        lon = lon_diff(g%par(4) + dlam * rad2deg, 0.0_dp)
        if (x /= x .or. y /= y) then
            lat = nan
            lon = nan
        end if
    end subroutine grid_xy_to_ll

    !> Map scale factor at a grid point: true distance on the sphere times m = distance on the
    !> grid (in SIZE units). 1 at REF_LAT on conformal grids. On lat-lon grids the east-west
    !> factor 1/cos(lat) (the north-south one is 1; use grid_spacing there).
    elemental function grid_map_factor(g, x, y) result(m)
        type(grid_t), intent(in) :: g    !! the grid
        real(dp), intent(in) :: x        !! grid x index (1-based)
        real(dp), intent(in) :: y        !! grid y index (1-based)
        real(dp) :: m                    !! map factor
        real(dp) :: lat, lon
        call grid_xy_to_ll(g, x, y, lat, lon)
        if (g%kind == grid_kind_latlon) then
            m = 1.0_dp / cos(lat * deg2rad)
        else
            m = unscaled_k(g, lat * deg2rad) / g%kref
        end if
    end function grid_map_factor

    !> True distance (m) spanned by one grid step in x and in y at a grid point: SIZE/m on
    !> conformal grids; dlon*(pi R/180)*cos(lat) and dlat*(pi R/180) on lat-lon grids.
    elemental subroutine grid_spacing(g, x, y, dx_m, dy_m)
        type(grid_t), intent(in) :: g    !! the grid
        real(dp), intent(in) :: x        !! grid x index (1-based)
        real(dp), intent(in) :: y        !! grid y index (1-based)
        real(dp), intent(out) :: dx_m    !! metres per grid step in x
        real(dp), intent(out) :: dy_m    !! metres per grid step in y
        real(dp) :: lat, lon, deg_m
        if (g%kind == grid_kind_latlon) then
            call grid_xy_to_ll(g, x, y, lat, lon)
            deg_m = pi * earth_radius_km * 1000.0_dp / 180.0_dp
            dx_m = g%par(4) * deg_m * cos(lat * deg2rad)
            dy_m = g%par(3) * deg_m
        else
            dx_m = g%par(5) * 1000.0_dp / grid_map_factor(g, x, y)
            dy_m = dx_m
        end if
    end subroutine grid_spacing

    !> Angle (radians, counter-clockwise) by which an earth-relative vector (east, north) is
    !> turned to give its grid-relative components (along x, along y) at a grid point:
    !>   u_grid = u cos(a) - v sin(a),  v_grid = u sin(a) + v cos(a).
    !> 0 on lat-lon and Mercator grids with ORIENT = 0.
    elemental function grid_rotation(g, x, y) result(a)
        type(grid_t), intent(in) :: g    !! the grid
        real(dp), intent(in) :: x        !! grid x index (1-based)
        real(dp), intent(in) :: y        !! grid y index (1-based)
        real(dp) :: a                    !! rotation angle (radians)
        real(dp) :: lat, lon
        if (g%kind == grid_kind_latlon) then
            a = 0.0_dp
            return
        end if
        call grid_xy_to_ll(g, x, y, lat, lon)
        a = g%hemi * g%cone * lon_diff(lon, g%par(4)) * deg2rad + g%par(6) * deg2rad
    end function grid_rotation

    !> Global lat-lon grids (HYSPLIT GBLSET): bring a position that left the grid back onto it
    !> (x cyclic with period NX; y reflected over the pole row). No change on other grids.
    elemental subroutine grid_wrap(g, x, y)
        type(grid_t), intent(in) :: g    !! the grid
        real(dp), intent(inout) :: x     !! grid x index (1-based)
        real(dp), intent(inout) :: y     !! grid y index (1-based)
        if (g%wrap == grid_wrap_none) return
        if (x >= real(g%nx + 1, dp)) x = x - real(g%nx, dp)
        if (x < 1.0_dp) x = x + real(g%nx, dp)
        if (g%wrap /= grid_wrap_south .and. y > real(g%ny, dp)) y = 2.0_dp * g%ny - y
        if (g%wrap /= grid_wrap_north .and. y < 1.0_dp) y = 2.0_dp - y
    end subroutine grid_wrap

end module stilt_grid
