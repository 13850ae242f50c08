!! Per-particle random number streams (docs/physics.md sec. 9).
!!
!! Every particle owns a small state (`rng_state_size` 32-bit words kept in an integer array),
!! derived from the run seed and the particle index alone, so a fixed seed gives bit-identical
!! results whatever way particles are split across calls, threads or processes. The generator
!! is xoshiro128** (Blackman & Vigna 2018, period 2^128 - 1), written here from its published
!! definition; 32-bit unsigned arithmetic is emulated in 64-bit integers so that no operation
!! ever overflows. Seeding hashes (seed, stream) with a 32-bit finalizer mix. Gaussian deviates
!! come in pairs (polar method); the spare one is cached in the state. All procedures are pure
!! and take/return the state explicitly: the module holds no saved state.
module stilt_random
    use stilt_kinds, only: dp, ip, i8, pi
    implicit none
    private

    public :: rng_state_size, rng_seed, rng_next, rng_uniform, rng_normal, rng_normal_pair, &
        rng_take_spare, rng_put_spare

    !! 32-bit words of state per particle: 4 generator words, a flag and a cached deviate
    integer, parameter :: rng_state_size = 7

    integer(i8), parameter :: mask32 = 4294967295_i8      !! 2^32 - 1
    integer(i8), parameter :: two32 = 4294967296_i8       !! 2^32
    integer(i8), parameter :: golden = 2654435769_i8      !! 0x9e3779b9
    integer(i8), parameter :: mix_c1 = 2246822507_i8      !! 0x85ebca6b
    integer(i8), parameter :: mix_c2 = 3266489909_i8      !! 0xc2b2ae35
    integer, parameter :: warmup = 8                      !! outputs discarded after seeding

contains

    pure function to_u32(w) result(v)
        !! The unsigned value (0..2^32-1) of a 32-bit word stored as a signed integer.
        integer(ip), intent(in) :: w
        integer(i8) :: v
        v = iand(int(w, i8), mask32)
    end function to_u32

    pure function from_u32(v) result(w)
        !! Store an unsigned 32-bit value (0..2^32-1) in a signed 32-bit integer (same bits).
        integer(i8), intent(in) :: v
        integer(ip) :: w
        w = int(v - iand(v, two32 / 2) * 2_i8, ip)
    end function from_u32

    pure function mul32(a, c) result(p)
        !! (a * c) mod 2^32 for unsigned 32-bit a and c, without 64-bit overflow.
        integer(i8), intent(in) :: a, c
        integer(i8) :: p
        integer(i8) :: hi, lo
        hi = ishft(a, -16)
        lo = iand(a, 65535_i8)
        p = iand(iand(hi * c, 65535_i8) * 65536_i8 + lo * c, mask32)
    end function mul32

    pure function mix32(x0) result(x)
        !! 32-bit avalanche finalizer (xor-shift / multiply rounds).
        integer(i8), intent(in) :: x0
        integer(i8) :: x
        x = iand(x0, mask32)
        x = ieor(x, ishft(x, -16))
        x = mul32(x, mix_c1)
        x = ieor(x, ishft(x, -13))
        x = mul32(x, mix_c2)
        x = ieor(x, ishft(x, -16))
    end function mix32

    pure subroutine rng_seed(seed, stream, state)
        !! Initialise the stream of one particle from the run seed and the particle index.
        !! Different (seed, stream) pairs give statistically independent sequences.
        integer(i8), intent(in) :: seed     !! run seed (any 64-bit value)
        integer(i8), intent(in) :: stream   !! stream number, normally the particle index (>= 1)
        integer(ip), intent(out) :: state(rng_state_size)  !! generator state (32-bit words)
        integer(i8) :: key(4), h, s(4), r
        integer :: i, j
        key(1) = iand(seed, mask32)
        key(2) = iand(ishft(seed, -32), mask32)
        key(3) = iand(stream, mask32)
        key(4) = iand(ishft(stream, -32), mask32)
        do i = 1, 4
            h = mix32(iand(int(i, i8) * golden, mask32))
            do j = 1, 4
                h = mix32(ieor(h, key(j)) + int(j, i8) * golden)
            end do
            s(i) = h
        end do
        if (all(s == 0_i8)) s(1) = 1_i8
        do i = 1, 4
            state(i) = from_u32(s(i))
        end do
        state(5:) = 0
        do i = 1, warmup
            call rng_next(state, r)
        end do
    end subroutine rng_seed

    pure subroutine xoshiro_step(s0, s1, s2, s3, r)
        !! One xoshiro128** step on unsigned 32-bit words held in 64-bit integers.
        integer(i8), intent(inout) :: s0, s1, s2, s3  !! state words, 0..2^32-1
        integer(i8), intent(out) :: r                 !! output, 0..2^32-1
        integer(i8) :: t, x
        x = iand(s1 * 5_i8, mask32)
        x = iand(ior(ishft(x, 7), ishft(x, -25)), mask32)
        r = iand(x * 9_i8, mask32)
        t = iand(ishft(s1, 9), mask32)
        s2 = ieor(s2, s0)
        s3 = ieor(s3, s1)
        s1 = ieor(s1, s2)
        s0 = ieor(s0, s3)
        s2 = ieor(s2, t)
        s3 = iand(ior(ishft(s3, 11), ishft(s3, -21)), mask32)
    end subroutine xoshiro_step

    pure subroutine rng_next(state, r)
        !! Advance the state and return the next raw 32-bit output as an unsigned value.
        integer(ip), intent(inout) :: state(rng_state_size)  !! generator state
        integer(i8), intent(out) :: r                         !! output in 0..2^32-1
        integer(i8) :: s0, s1, s2, s3
        s0 = to_u32(state(1))
        s1 = to_u32(state(2))
        s2 = to_u32(state(3))
        s3 = to_u32(state(4))
        call xoshiro_step(s0, s1, s2, s3, r)
        state(1) = from_u32(s0)
        state(2) = from_u32(s1)
        state(3) = from_u32(s2)
        state(4) = from_u32(s3)
    end subroutine rng_next

    pure subroutine rng_uniform(state, u)
        !! Uniform deviate in the open interval (0, 1) with 53 random bits.
        integer(ip), intent(inout) :: state(rng_state_size)  !! generator state
        real(dp), intent(out) :: u                            !! deviate, 0 < u < 1
        integer(i8) :: s0, s1, s2, s3, a, b
        s0 = to_u32(state(1))
        s1 = to_u32(state(2))
        s2 = to_u32(state(3))
        s3 = to_u32(state(4))
        call xoshiro_step(s0, s1, s2, s3, a)
        call xoshiro_step(s0, s1, s2, s3, b)
        state(1) = from_u32(s0)
        state(2) = from_u32(s1)
        state(3) = from_u32(s2)
        state(4) = from_u32(s3)
        a = ishft(a, -5)
        b = ishft(b, -6)
        u = (real(a, dp) * 67108864.0_dp + real(b, dp) + 0.5_dp) * 2.0_dp**(-53)
    end subroutine rng_uniform

    pure subroutine rng_normal(state, z)
        !! Standard Gaussian deviate N(0, 1): Marsaglia's polar method, which yields two
        !! deviates per accepted pair; the second is kept in the state for the next call.
        integer(ip), intent(inout) :: state(rng_state_size)  !! generator state
        real(dp), intent(out) :: z                            !! deviate
        real(dp) :: z2
        if (state(5) /= 0) then
            z = transfer(state(6:7), z)
            state(5) = 0
            return
        end if
        call rng_normal_pair(state, z, z2)
        state(6:7) = transfer(z2, state(6:7))
        state(5) = 1
    end subroutine rng_normal

    pure subroutine rng_normal_pair(state, z1, z2)
        !! A new pair of independent N(0, 1) deviates by Marsaglia's polar method, ignoring and
        !! leaving alone the deviate kept in the state: rng_normal returns z1 and keeps z2.
        !! A loop that draws many deviates keeps the spare itself (rng_take_spare, then
        !! rng_normal_pair when it has none, then rng_put_spare) and gets rng_normal's sequence.
        integer(ip), intent(inout) :: state(rng_state_size)  !! generator state
        real(dp), intent(out) :: z1, z2                       !! deviates
        integer(i8) :: s0, s1, s2, s3, a, b
        real(dp) :: v1, v2, w, f
        s0 = to_u32(state(1))
        s1 = to_u32(state(2))
        s2 = to_u32(state(3))
        s3 = to_u32(state(4))
        do
            call xoshiro_step(s0, s1, s2, s3, a)
            call xoshiro_step(s0, s1, s2, s3, b)
            v1 = (real(a, dp) + 0.5_dp) * 2.0_dp**(-31) - 1.0_dp
            v2 = (real(b, dp) + 0.5_dp) * 2.0_dp**(-31) - 1.0_dp
            w = v1 * v1 + v2 * v2
            if (w < 1.0_dp) exit
        end do
        state(1) = from_u32(s0)
        state(2) = from_u32(s1)
        state(3) = from_u32(s2)
        state(4) = from_u32(s3)
        f = sqrt(-2.0_dp * log(w) / w)
        z1 = v1 * f
        z2 = v2 * f
    end subroutine rng_normal_pair

    pure subroutine rng_take_spare(state, have, spare)
        !! The deviate rng_normal keeps in the state: whether it has one, and its value (the
        !! last spare drawn, used or not). The state keeps it until rng_put_spare.
        integer(ip), intent(in) :: state(rng_state_size)  !! generator state
        logical, intent(out) :: have                       !! a spare deviate is kept
        real(dp), intent(out) :: spare                     !! its value
        have = state(5) /= 0
        spare = transfer(state(6:7), spare)
    end subroutine rng_take_spare

    pure subroutine rng_put_spare(state, have, spare)
        !! Store the spare deviate of a loop back in the state (rng_take_spare's inverse), so
        !! that the next rng_normal returns it if have is true.
        integer(ip), intent(inout) :: state(rng_state_size)  !! generator state
        logical, intent(in) :: have                           !! the spare is still unused
        real(dp), intent(in) :: spare                         !! the last spare drawn
        state(6:7) = transfer(spare, state(6:7))
        state(5) = merge(1_ip, 0_ip, have)
    end subroutine rng_put_spare

end module stilt_random
