!! Per-particle random number streams (docs/physics.md sec. 9).
!!
!! Every particle owns a small state (`rng_state_size` 32-bit words kept in an integer array),
!! derived from the run seed and the particle index alone, so a fixed seed gives bit-identical
!! results whatever way particles are split across calls, threads or processes. The generator
!! is xoshiro128** (Blackman & Vigna 2018, period 2^128 - 1), written here from its published
!! definition; 32-bit unsigned arithmetic is emulated in 64-bit integers so that no operation
!! ever overflows. Seeding hashes (seed, stream) with a 32-bit finalizer mix. Gaussian deviates
!! come from a 128-layer ziggurat (Marsaglia & Tsang 2000): one 32-bit output gives the layer
!! (7 bits), the sign (1 bit) and the position in the layer (24 bits) for about 99 % of the
!! deviates; the wedges and the tail beyond r = 3.44 take 53-bit uniforms. All procedures are
!! pure and take/return the state explicitly: the module holds no saved state.
module stilt_random
    use stilt_kinds, only: dp, ip, i8, pi
    implicit none
    private

    public :: rng_state_size, rng_seed, rng_next, rng_uniform, rng_normal, rng_ziggurat_edges, &
        normal_beyond

    !! 32-bit words of state per particle: the 4 generator words
    integer, parameter :: rng_state_size = 4

    integer(i8), parameter :: mask32 = 4294967295_i8      !! 2^32 - 1
    integer(i8), parameter :: two32 = 4294967296_i8       !! 2^32
    integer(i8), parameter :: golden = 2654435769_i8      !! 0x9e3779b9
    integer(i8), parameter :: mix_c1 = 2246822507_i8      !! 0x85ebca6b
    integer(i8), parameter :: mix_c2 = 3266489909_i8      !! 0xc2b2ae35
    integer, parameter :: warmup = 8                      !! outputs discarded after seeding

    ! The ziggurat's layer edges x_0..x_128 (x_0 the base strip's width, x_1 = r where the
    ! tail starts, x_128 = 0), printed by scripts/ziggurat_table.py from the construction it
    ! documents (tests/test_random.py checks them against it)
    ! r = 3.442619855896652, area of each layer 0.00991256303533647; top closes to -1.2e-15
    real(dp), parameter :: zig_r = 3.442619855896652_dp
    real(dp), parameter :: zig_x(0:128) = [ &
        3.7130862467403625_dp, 3.442619855896652_dp, 3.2230849845786183_dp, &
        3.0832288582142136_dp, 2.9786962526450167_dp, 2.8943440070186703_dp, &
        2.823125350545966_dp, 2.7611693723841535_dp, 2.706113573118722_dp, &
        2.656406411258192_dp, 2.6109722484286126_dp, 2.5690336259216386_dp, &
        2.530009672385466_dp, 2.4934545220919504_dp, 2.4590181774083497_dp, &
        2.4264206455302113_dp, 2.395434278007467_dp, 2.3658713701139873_dp, &
        2.3375752413355304_dp, 2.310413683695002_dp, 2.2842740596736566_dp, &
        2.2590595738653296_dp, 2.234686395587057_dp, 2.2110814088747275_dp, &
        2.1881804320720204_dp, 2.1659267937448408_dp, 2.1442701823562613_dp, &
        2.12316570866979_dp, 2.102573135184999_dp, 2.082456237987725_dp, &
        2.062782274503964_dp, 2.0435215366506703_dp, 2.0246469733729344_dp, &
        2.0061338699589673_dp, 1.9879595741230611_dp, 1.9701032608497138_dp, &
        1.9525457295488893_dp, 1.9352692282919006_dp, 1.9182573008597323_dp, &
        1.9014946531003178_dp, 1.8849670357028696_dp, 1.8686611409895424_dp, &
        1.8525645117230873_dp, 1.836665460253384_dp, 1.820952996591005_dp, &
        1.8054167642140486_dp, 1.790046982594619_dp, 1.7748343955807693_dp, &
        1.759770224894232_dp, 1.7448461281083767_dp, 1.7300541605582438_dp, &
        1.7153867407081167_dp, 1.7008366185643011_dp, 1.6863968467734864_dp, &
        1.6720607540918524_dp, 1.6578219209482077_dp, 1.6436741568569828_dp, &
        1.6296114794646783_dp, 1.615628095037133_dp, 1.601718380215277_dp, &
        1.5878768648844008_dp, 1.5740982160167498_dp, 1.5603772223598409_dp, &
        1.5467087798535037_dp, 1.5330878776675563_dp, 1.519509584759371_dp, &
        1.5059690368565504_dp, 1.4924614237746154_dp, 1.478981976983098_dp, &
        1.465525957335795_dp, 1.4520886428822168_dp, 1.4386653166774617_dp, &
        1.4252512545068619_dp, 1.4118417124397606_dp, 1.3984319141236068_dp, &
        1.3850170377251492_dp, 1.3715922024197327_dp, 1.3581524543224233_dp, &
        1.3446927517457135_dp, 1.331207949657677_dp, 1.3176927832013434_dp, &
        1.304141850120422_dp, 1.2905495919178736_dp, 1.2769102735517002_dp, &
        1.2632179614460288_dp, 1.2494664995643343_dp, 1.2356494832544818_dp, &
        1.2217602305309632_dp, 1.2077917504067581_dp, 1.1937367078237726_dp, &
        1.1795873846544611_dp, 1.1653356361550473_dp, 1.1509728421389764_dp, &
        1.136489852003076_dp, 1.1218769225722545_dp, 1.1071236475235358_dp, &
        1.0922188768965542_dp, 1.077150624881938_dp, 1.06190596368362_dp, &
        1.0464709007525808_dp, 1.030830236056456_dp, 1.0149673952393001_dp, &
        0.9988642334806442_dp, 0.9825008035027611_dp, 0.9658550793881314_dp, &
        0.9489026254979128_dp, 0.9316161966013545_dp, 0.9139652510088027_dp, &
        0.8959153525662393_dp, 0.8774274290977166_dp, 0.8584568431780517_dp, &
        0.8389522142812083_dp, 0.8188539066833185_dp, 0.7980920606262756_dp, &
        0.7765839878761491_dp, 0.7542306644345107_dp, 0.730911910621882_dp, &
        0.7064796113136088_dp, 0.680747918645905_dp, 0.6534786387150432_dp, &
        0.624358597309089_dp, 0.5929629424419789_dp, 0.5586921783755191_dp, &
        0.5206560387251462_dp, 0.47743783725378924_dp, 0.4265479863033068_dp, &
        0.3628714310284204_dp, 0.272320864704667_dp, 0.0_dp]
    !! x_k+1 / x_k: a point of layer k left of this fraction lies under the curve
    real(dp), parameter :: zig_inner(0:127) = zig_x(1:128) / zig_x(0:127)
    !! f(x_k) = exp(-x_k^2 / 2), the heights of the layer bounds (f(x_0) unused)
    real(dp), parameter :: zig_f(0:128) = exp(-0.5_dp * zig_x * zig_x)

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

    pure subroutine rng_ziggurat_edges(r, x)
        !! The ziggurat's tail start r and layer edges x_0..x_128 (for the tests).
        real(dp), intent(out) :: r          !! where the tail starts (x_1)
        real(dp), intent(out) :: x(0:128)   !! layer edges
        r = zig_r
        x = zig_x
    end subroutine rng_ziggurat_edges

    pure subroutine uniform53(s0, s1, s2, s3, u)
        !! Uniform deviate in (0, 1) with 53 random bits from two steps of the generator.
        integer(i8), intent(inout) :: s0, s1, s2, s3  !! state words, 0..2^32-1
        real(dp), intent(out) :: u                    !! deviate, 0 < u < 1
        integer(i8) :: a, b
        call xoshiro_step(s0, s1, s2, s3, a)
        call xoshiro_step(s0, s1, s2, s3, b)
        a = ishft(a, -5)
        b = ishft(b, -6)
        u = (real(a, dp) * 67108864.0_dp + real(b, dp) + 0.5_dp) * 2.0_dp**(-53)
    end subroutine uniform53

    pure subroutine rng_uniform(state, u)
        !! Uniform deviate in the open interval (0, 1) with 53 random bits.
        integer(ip), intent(inout) :: state(rng_state_size)  !! generator state
        real(dp), intent(out) :: u                            !! deviate, 0 < u < 1
        integer(i8) :: s0, s1, s2, s3
        s0 = to_u32(state(1))
        s1 = to_u32(state(2))
        s2 = to_u32(state(3))
        s3 = to_u32(state(4))
        call uniform53(s0, s1, s2, s3, u)
        state(1) = from_u32(s0)
        state(2) = from_u32(s1)
        state(3) = from_u32(s2)
        state(4) = from_u32(s3)
    end subroutine rng_uniform

    pure subroutine rng_normal(state, z)
        !! Standard Gaussian deviate N(0, 1) by the ziggurat (docs/physics.md sec. 9). One
        !! output r picks layer k (bits 0-6), the sign (bit 7) and u (bits 8-31, centred in
        !! its 2^-24 cell); x = u x_k is taken at once when u < x_k+1 / x_k (about 99 % of the
        !! draws), otherwise normal_beyond finishes the draw.
        integer(ip), intent(inout) :: state(rng_state_size)  !! generator state
        real(dp), intent(out) :: z                            !! deviate
        integer(i8) :: s0, s1, s2, s3, r
        integer :: k
        real(dp) :: u
        s0 = to_u32(state(1))
        s1 = to_u32(state(2))
        s2 = to_u32(state(3))
        s3 = to_u32(state(4))
        call xoshiro_step(s0, s1, s2, s3, r)
        k = int(iand(r, 127_i8))
        u = (real(ishft(r, -8), dp) + 0.5_dp) * 2.0_dp**(-24)
        z = u * zig_x(k)
        state(1) = from_u32(s0)
        state(2) = from_u32(s1)
        state(3) = from_u32(s2)
        state(4) = from_u32(s3)
        if (u >= zig_inner(k)) call normal_beyond(state, k, r, z)
        if (btest(r, 7)) z = -z
    end subroutine rng_normal

    pure subroutine normal_beyond(state, k, r, x)
        !! The rare part of rng_normal, when x = u x_k of layer k is not under the curve for
        !! every height of the layer: layer 0 takes a deviate of the tail beyond r = x_1
        !! (Marsaglia's exponential rejection); layer k >= 1 keeps x when a uniform height
        !! between f(x_k) and f(x_k+1) lies under exp(-x^2 / 2), else draws again as
        !! rng_normal does. Public, and kept out of rng_normal, so that the compiler leaves
        !! rng_normal's common path short (it is not for other callers).
        integer(ip), intent(inout) :: state(rng_state_size)  !! generator state after the draw
        integer, intent(in) :: k                              !! layer of the first draw
        integer(i8), intent(inout) :: r       !! the draw taken (its bit 7 gives the sign)
        real(dp), intent(inout) :: x          !! in: u x_k of the first draw; out: |z|
        integer(i8) :: s0, s1, s2, s3
        integer :: kk
        real(dp) :: u, h, e1, e2
        s0 = to_u32(state(1))
        s1 = to_u32(state(2))
        s2 = to_u32(state(3))
        s3 = to_u32(state(4))
        kk = k
        do
            if (kk == 0) then
                do
                    call uniform53(s0, s1, s2, s3, e1)
                    call uniform53(s0, s1, s2, s3, e2)
                    e1 = -log(e1) / zig_r
                    e2 = -log(e2)
                    if (e2 + e2 > e1 * e1) exit
                end do
                x = zig_r + e1
                exit
            end if
            call uniform53(s0, s1, s2, s3, h)
            if (zig_f(kk) + h * (zig_f(kk + 1) - zig_f(kk)) < exp(-0.5_dp * x * x)) exit
            call xoshiro_step(s0, s1, s2, s3, r)
            kk = int(iand(r, 127_i8))
            u = (real(ishft(r, -8), dp) + 0.5_dp) * 2.0_dp**(-24)
            x = u * zig_x(kk)
            if (u < zig_inner(kk)) exit
        end do
        state(1) = from_u32(s0)
        state(2) = from_u32(s1)
        state(3) = from_u32(s2)
        state(4) = from_u32(s3)
    end subroutine normal_beyond

end module stilt_random
