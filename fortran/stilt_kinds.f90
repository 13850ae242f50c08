!! Kinds, physical constants and status codes shared by every module of the stilt core.
module stilt_kinds
    use, intrinsic :: iso_c_binding, only: c_double, c_float, c_int, c_int8_t, c_int64_t
    implicit none
    private

    integer, parameter, public :: dp = c_double   !! working real kind
    integer, parameter, public :: sp = c_float    !! single precision (ARL packing is float32)
    integer, parameter, public :: ip = c_int      !! default integer at the Python boundary
    integer, parameter, public :: i8 = c_int64_t  !! 64-bit integer (byte offsets)
    integer, parameter, public :: byte = c_int8_t !! raw bytes

    real(dp), parameter, public :: pi = 3.14159265358979323846_dp
    real(dp), parameter, public :: deg2rad = pi / 180.0_dp
    real(dp), parameter, public :: rad2deg = 180.0_dp / pi
    !! Earth radius used by HYSPLIT's CMAPF library and grid distances (km)
    real(dp), parameter, public :: earth_radius_km = 6371.2_dp
    real(dp), parameter, public :: grav = 9.80665_dp   !! gravity (m s-2)
    real(dp), parameter, public :: rdry = 287.05_dp    !! gas constant of dry air (J kg-1 K-1)
    !! model times and steps are in minutes, velocities in m s-1
    real(dp), parameter, public :: sec_per_min = 60.0_dp
    real(dp), parameter, public :: min_per_hour = 60.0_dp

    !! Status codes returned to Python (stilt/errors.py maps them to exceptions)
    integer(ip), parameter, public :: status_ok = 0
    integer(ip), parameter, public :: status_bad_argument = 1
    integer(ip), parameter, public :: status_bad_checksum = 2
    integer(ip), parameter, public :: status_out_of_range = 3
    integer(ip), parameter, public :: status_not_finite = 4
end module stilt_kinds
