!! The only file f2py reads: thin wrappers over the core modules, with iso_c_binding kinds,
!! explicit-shape arrays and integer status codes (never stop/print). One section per module.

!! ---- stilt_kinds -------------------------------------------------------------------------
subroutine core_status_codes(codes)
    !! The status codes of stilt_kinds, in the order: ok, bad_argument, bad_checksum,
    !! out_of_range, not_finite (lets Python check it agrees with the core).
    use, intrinsic :: iso_c_binding, only: c_int
    use stilt_kinds, only: status_ok, status_bad_argument, status_bad_checksum, &
        status_out_of_range, status_not_finite
    implicit none
    integer(c_int), intent(out) :: codes(5)
    codes = [status_ok, status_bad_argument, status_bad_checksum, status_out_of_range, &
        status_not_finite]
end subroutine core_status_codes
