!! ARL packed meteorology: difference unpacking and packing of one record, and the record
!! checksum (docs/physics.md sec. 2.1). All arithmetic is single precision in HYSPLIT's order
!! (PAKINP/PAKOUT), so unpacked values are bit-identical to HYSPLIT's and a decoded record
!! packs back to the same bytes.
!!
!! Bytes are passed as signed 8-bit integers (what numpy's uint8 buffers look like through
!! iso_c_binding); they are read back as 0..255.
module stilt_arl
    use, intrinsic :: ieee_arithmetic, only: ieee_is_finite
    use stilt_kinds, only: sp, ip, i8, byte, status_ok, status_bad_argument, &
        status_not_finite
    implicit none
    private

    public :: arl_unpack, arl_pack, arl_checksum

    !! rows decoded together: independent running sums let the CPU overlap their additions
    integer, parameter :: row_block = 8

contains

    pure function arl_step(nexp) result(step)
        !! Value of one byte step, 2**(nexp-7) (exact power of two in single precision).
        integer(ip), intent(in) :: nexp
        real(sp) :: step
        step = scale(1.0_sp, nexp - 7)
    end function arl_step

    pure subroutine arl_unpack(nx, nbytes, c, nexp, prec, var1, i0, i1, j0, j1, values, status)
        !! Unpack the window i0..i1 x j0..j1 of one record (HYSPLIT PAKINP).
        !!
        !! Only rows 1..j1 (first byte of rows below j0, bytes 1..i1 of rows j0..j1) are read,
        !! so `c` needs to hold at least the first (j1-1)*nx + i1 bytes of the record data.
        integer(ip), intent(in) :: nx          !! full grid size along x
        integer(ip), intent(in) :: nbytes      !! bytes available in c
        integer(byte), intent(in) :: c(nbytes) !! packed bytes after the 50-byte label
        integer(ip), intent(in) :: nexp        !! packing exponent of the label
        real(sp), intent(in) :: prec           !! precision of the label (smaller values -> 0)
        real(sp), intent(in) :: var1           !! value at (1,1) from the label
        integer(ip), intent(in) :: i0, i1, j0, j1   !! 1-based inclusive window
        real(sp), intent(out) :: values(i1 - i0 + 1, j1 - j0 + 1)  !! decoded window
        integer(ip), intent(out) :: status     !! status_ok or status_bad_argument
        real(sp) :: tbl(0:255), col, acc(row_block), rowstart(j0:j1), v
        integer(ip) :: i, j, jb, k, nb, k0
        integer(i8) :: base(row_block)

        if (nx < 1 .or. i0 < 1 .or. i1 < i0 .or. i1 > nx .or. j0 < 1 .or. j1 < j0 .or. &
            int(j1 - 1, i8) * nx + i1 > nbytes) then
            status = status_bad_argument
            values = 0.0_sp
            return
        end if
        status = status_ok
        do k = 0, 255
            tbl(k) = real(k - 127, sp) * arl_step(nexp)
        end do

        ! column 1: each row start is differenced from the previous row start
        col = var1
        do j = 1, j1
            col = col + tbl(ubyte(c(int(j - 1, i8) * nx + 1)))
            if (j >= j0) rowstart(j) = col
        end do

        ! along the rows, row_block rows at a time
        do jb = j0, j1, row_block
            nb = min(row_block, j1 - jb + 1)
            do k = 1, nb
                base(k) = int(jb + k - 2, i8) * nx
                acc(k) = rowstart(jb + k - 1)
            end do
            if (i0 == 1) then
                do k = 1, nb
                    values(1, jb - j0 + k) = acc(k)   ! column 1 is never zeroed
                end do
            end if
            if (nb == row_block) then
                do i = 2, i0 - 1
                    do k = 1, row_block
                        acc(k) = acc(k) + tbl(ubyte(c(base(k) + i)))
                    end do
                end do
                do i = max(2, i0), i1
                    do k = 1, row_block
                        acc(k) = acc(k) + tbl(ubyte(c(base(k) + i)))
                        v = acc(k)
                        if (abs(v) < prec) v = 0.0_sp
                        values(i - i0 + 1, jb - j0 + k) = v
                    end do
                end do
            else
                do k = 1, nb
                    k0 = jb - j0 + k
                    v = acc(k)
                    do i = 2, i0 - 1
                        v = v + tbl(ubyte(c(base(k) + i)))
                    end do
                    do i = max(2, i0), i1
                        v = v + tbl(ubyte(c(base(k) + i)))
                        if (abs(v) < prec) then
                            values(i - i0 + 1, k0) = 0.0_sp
                        else
                            values(i - i0 + 1, k0) = v
                        end if
                    end do
                end do
            end if
        end do
    end subroutine arl_unpack

    pure subroutine arl_pack(nx, ny, r, c, nexp, prec, var1, status)
        !! Pack one field (HYSPLIT PAKOUT): exponent from the largest difference, then
        !! difference packing with feedback of the values a reader reconstructs.
        integer(ip), intent(in) :: nx, ny           !! grid size
        real(sp), intent(in) :: r(nx, ny)           !! field, x fastest
        integer(byte), intent(out) :: c(nx * ny)    !! packed bytes
        integer(ip), intent(out) :: nexp            !! packing exponent
        real(sp), intent(out) :: prec               !! precision 2**nexp/254
        real(sp), intent(out) :: var1               !! value at (1,1)
        integer(ip), intent(out) :: status          !! status_ok or status_not_finite
        real(sp) :: rmax, prev, sexp, scl, step, rcol, rold(row_block), rowstart(ny)
        integer(ip) :: i, j, jb, k, nb

        c = 0_byte
        nexp = 0
        prec = 0.0_sp
        var1 = 0.0_sp
        do j = 1, ny
            do i = 1, nx
                if (.not. ieee_is_finite(r(i, j))) then
                    status = status_not_finite
                    return
                end if
            end do
        end do
        status = status_ok

        rmax = 0.0_sp
        prev = r(1, 1)
        do j = 1, ny
            do i = 1, nx
                rmax = max(rmax, abs(r(i, j) - prev))
                prev = r(i, j)
            end do
            prev = r(1, j)
        end do
        sexp = 0.0_sp
        if (rmax > 0.0_sp) sexp = log(rmax) / log(2.0_sp)
        nexp = int(sexp)
        if (sexp >= 0.0_sp .or. mod(sexp, 1.0_sp) == 0.0_sp) nexp = nexp + 1
        prec = scale(1.0_sp, nexp) / 254.0_sp
        scl = scale(1.0_sp, 7 - nexp)
        step = scale(1.0_sp, nexp - 7)
        var1 = r(1, 1)

        ! column 1 first (each row start follows the previous row start), then the rows,
        ! row_block at a time: their feedback chains are independent
        rcol = var1
        do j = 1, ny
            call pack_point(r(1, j), rcol, scl, step, c((j - 1) * nx + 1))
            rowstart(j) = rcol
        end do
        do jb = 1, ny, row_block
            nb = min(row_block, ny - jb + 1)
            do k = 1, nb
                rold(k) = rowstart(jb + k - 1)
            end do
            if (nb == row_block) then
                do i = 2, nx
                    do k = 1, row_block
                        call pack_point(r(i, jb + k - 1), rold(k), scl, step, &
                            c((jb + k - 2) * nx + i))
                    end do
                end do
            else
                do k = 1, nb
                    do i = 2, nx
                        call pack_point(r(i, jb + k - 1), rold(k), scl, step, &
                            c((jb + k - 2) * nx + i))
                    end do
                end do
            end if
        end do
    end subroutine arl_pack

    pure elemental subroutine pack_point(value, rold, scl, step, cbyte)
        !! One PAKOUT step: byte for `value` given the reconstructed previous value `rold`,
        !! which is advanced to what a reader reconstructs. (ic-127)*step equals HYSPLIT's
        !! (ic-127)/scale exactly (powers of two).
        real(sp), intent(in) :: value, scl, step
        real(sp), intent(inout) :: rold
        integer(byte), intent(out) :: cbyte
        integer(ip) :: ic
        ic = int((value - rold) * scl + 127.5_sp)
        ic = max(0, min(255, ic))
        rold = real(ic - 127, sp) * step + rold
        cbyte = int(ic - merge(256, 0, ic > 127), byte)
    end subroutine pack_point

    pure function arl_checksum(n, c) result(ksum)
        !! Sum of the bytes with end-around carry (HYSPLIT's index checksum, 0..255).
        integer(ip), intent(in) :: n
        integer(byte), intent(in) :: c(n)
        integer(ip) :: ksum
        integer(i8) :: s
        integer(ip) :: k
        s = 0
        do k = 1, n
            s = s + iand(int(c(k), i8), 255_i8)
        end do
        if (s == 0) then
            ksum = 0
        else
            ksum = int(mod(s - 1, 255_i8), ip) + 1
        end if
    end function arl_checksum

    elemental function ubyte(b) result(k)
        !! Signed byte -> 0..255.
        integer(byte), intent(in) :: b
        integer(ip) :: k
        k = iand(int(b, ip), 255)
    end function ubyte

end module stilt_arl
