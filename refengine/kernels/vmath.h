/* Branch-free float32 exp, log, sigmoid, log1p, softplus, normal cdf, gelu that GCC can vectorise.
 *
 * Why not libm: a loop calling expf/logf/tanhf runs one element per call (3-6 ns each
 * here), while numpy and torch evaluate 8-16 lanes at a time.  Why not glibc's libmvec
 * (_ZGVeN16v_expf & co.): it vectorises, but measured here its AVX-512 expf is up to
 * 3 ulp from the correctly rounded result (2 ulp on 6 % of arguments), above the 2 ulp
 * we promise, and it exists only on glibc.  These functions are plain C (no intrinsics,
 * no tables, no branches: every special case is a select), so the compiler vectorises
 * the calling loop for whatever ISA each target_clones clone is built for, and they
 * build anywhere.  Results do not depend on the clone or the machine: every fused
 * multiply-add is written out (RE_FMAF, one rounding, the same bits whether the CPU does it
 * in hardware -- the AVX2/AVX-512 clones -- or glibc's fmaf does it in software on a pre-FMA
 * CPU), and the kernels are built with -ffp-contract=off so the compiler adds no others.
 * The one exception to "plain C": re_logf_avx512, an intrinsics loop for float32 log picked
 * at run time on AVX-512 CPUs, which computes re_logf's bits with fewer instructions.
 *
 * Accuracy (measured against float64 results rounded to float32, see
 * tests/test_kernels.py::test_transcendental_accuracy_in_ulp): exp <= 1 ulp, log <= 1 ulp,
 * sigmoid <= 2 ulp.  Special values follow C99/numpy: exp(-inf)=0, exp(inf)=inf,
 * log(0)=-inf, log(x<0)=NaN, log(inf)=inf, NaN in gives NaN out.  A tanh of the same
 * construction (odd polynomial near 0, 1 - 2/(exp(2|x|)+1) elsewhere, <= 1 ulp) ran at
 * 0.52 ms per 1e6 floats against numpy's 0.18 ms, so tanh stays on numpy's ufunc.
 *
 * Bit reinterpretation goes through memcpy (the portable, aliasing-safe idiom, which GCC
 * turns into nothing); a union or pointer cast stopped GCC 12 from vectorising the loop.
 */
#ifndef REFENGINE_VMATH_H
#define REFENGINE_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define RE_FMAF(a, b, c) __builtin_fmaf((a), (b), (c))

static inline float re_as_float(uint32_t i) { float f; memcpy(&f, &i, 4); return f; }
static inline uint32_t re_as_bits(float f) { uint32_t i; memcpy(&i, &f, 4); return i; }

/* exp(d) = 2^q * exp(s), q = round(d / ln 2), s = d - q ln 2 (|s| <= ln2/2) in two steps
 * (Cody-Waite: ln 2 split in a high part with trailing zero bits, so q * hi is exact);
 * exp(s) by a degree-7 polynomial (SLEEF's expf coefficients, 1 ulp); 2^q applied as two
 * halves so that q down to -150 (subnormal results) and up to 128 do not overflow the
 * exponent field. */
static inline float re_expf(float d) {
    float t = d * 1.442695040888963407359924681001892137f;
    t = t < 160.f ? t : 160.f;                 /* clamp first: keeps q a valid int even for */
    t = t > -160.f ? t : -160.f;               /* +-inf and NaN (whose result is fixed below) */
    float qf = (t + 0x1.8p23f) - 0x1.8p23f;    /* round to nearest without rintf (no SSE4.1 needed) */
    int32_t q = (int32_t)qf;
    float s = RE_FMAF(qf, -0.693145751953125f, d);
    s = RE_FMAF(qf, -1.428606765330187045e-06f, s);
    float u = 0.000198527617612853646278381f;
    u = RE_FMAF(u, s, 0.00139304355252534151077271f);
    u = RE_FMAF(u, s, 0.00833336077630519866943359f);
    u = RE_FMAF(u, s, 0.0416664853692054748535156f);
    u = RE_FMAF(u, s, 0.166666671633720397949219f);
    u = RE_FMAF(u, s, 0.5f);
    u = RE_FMAF(s * s, u, s + 1.0f);
    int32_t h = q >> 1;
    u = u * re_as_float((uint32_t)(h + 127) << 23) * re_as_float((uint32_t)(q - h + 127) << 23);
    u = d < -104.0f ? 0.0f : u;                /* below the smallest subnormal; also -inf */
    u = d > 88.72283935546875f ? INFINITY : u; /* above FLT_MAX; also +inf */
    return u;                                  /* NaN: every comparison is false, s is NaN */
}

/* exp(d) for d <= 0 (or NaN): re_expf's arithmetic, bit for bit (checked on all 2^31
 * non-positive floats), with the work that only d > 0 needs taken out.  2^q (q in [-150, 0])
 * is applied as 2^(q+64) -- always a normal number, read straight from the low mantissa bits
 * of t + 0x1.8p23 (q + 0x400000, and 0x400000 is a multiple of 2^9) -- times 2^-64, which
 * rounds once into the subnormals as re_expf's two halves do; d below -104 (where the result
 * rounds to 0; also -inf) is raised to -104, which keeps NaN.  About half re_expf's
 * instructions: sigmoid, silu, softplus and softmax only ever need exp of a non-positive
 * argument. */
static inline float re_expnegf_nc(float d);
static inline float re_expnegf(float d) {
    return re_expnegf_nc(d < -104.0f ? -104.0f : d);
}

/* re_expnegf without the clamp: d in [-104, 0] or NaN (an argument known to be there) */
static inline float re_expnegf_nc(float d) {
    float tm = d * 1.442695040888963407359924681001892137f + 0x1.8p23f;
    float qf = tm - 0x1.8p23f;
    float s = RE_FMAF(qf, -0.693145751953125f, d);
    s = RE_FMAF(qf, -1.428606765330187045e-06f, s);
    float u = 0.000198527617612853646278381f;
    u = RE_FMAF(u, s, 0.00139304355252534151077271f);
    u = RE_FMAF(u, s, 0.00833336077630519866943359f);
    u = RE_FMAF(u, s, 0.0416664853692054748535156f);
    u = RE_FMAF(u, s, 0.166666671633720397949219f);
    u = RE_FMAF(u, s, 0.5f);
    u = RE_FMAF(s * s, u, s + 1.0f);
    return u * re_as_float((re_as_bits(tm) << 23) + ((127u + 64u) << 23)) * 0x1p-64f;
}

/* log(x) = k ln 2 + log(1 + f), 1 + f in [sqrt(2)/2, sqrt(2)) (fdlibm's reduction), and
 * log(1 + f) = f + f^2 (-1/2 + f Q(f)) with Q of degree 7 (Lawson-weighted least squares for
 * the error relative to |f|, float coefficients: 0.11 * 2^-24): no division -- fdlibm's
 * s = f / (2 + f) was a vdivps per 16 lanes and, with its special-value selects, 50
 * instructions a vector.  Measured on every non-negative float against log in double rounded
 * to float: <= 1 ulp (as fdlibm's).  k ln 2 in two parts (hi with trailing zero bits, so k hi
 * is exact).  re_logf_avx512 below computes the same m and k with vgetmantps/vgetexpps and
 * the same arithmetic after them, so it gives these bits (checked on all 2^31 non-negative
 * floats; NaN results may differ in sign). */
static inline float re_logf(float x) {
    int sub = x < 0x1p-126f;                   /* subnormal (or <= 0): scale into the normals */
    float xs = sub ? x * 0x1p23f : x;
    uint32_t ix = re_as_bits(xs) + (0x3f800000u - 0x3f3504f3u);
    float dk = (float)((int32_t)(ix >> 23) - 0x7f - (sub ? 23 : 0));
    float f = re_as_float((ix & 0x007fffffu) + 0x3f3504f3u) - 1.0f;
    float q = RE_FMAF(f, -7.859545946e-02f, 1.288162172e-01f);   /* Q(f), Horner */
    q = RE_FMAF(q, f, -1.312876791e-01f);
    q = RE_FMAF(q, f, 1.418119669e-01f);
    q = RE_FMAF(q, f, -1.662455350e-01f);
    q = RE_FMAF(q, f, 2.000228614e-01f);
    q = RE_FMAF(q, f, -2.500081062e-01f);
    q = RE_FMAF(q, f, 3.333331645e-01f);
    float p = RE_FMAF(f, q, -0.5f) * (f * f);  /* f^2 (-1/2 + f Q) */
    float r = RE_FMAF(dk, 9.0580006145e-06f, p) + f;
    r = RE_FMAF(dk, 6.9313812256e-01f, r);
    r = x == 0.0f ? -INFINITY : r;
    r = x < 0.0f ? NAN : r;
    r = x == INFINITY ? x : r;
    return x != x ? x : r;
}

/* The float32 log loop with AVX-512 intrinsics, chosen at run time (re_have_avx512f):
 * vgetexpps / vgetmantps give k and m for subnormals too, and their special values make the
 * selects unnecessary (getmant with _MM_MANT_SIGN_nan: NaN for x < 0 and -inf; getexp: -inf
 * at +-0, inf at inf, which k ln 2 carries through).  37 instructions per 16 lanes (the tail
 * mask and loop control included; objdump of this build) against 43 for re_logf's vectorised
 * x86-64-v4 clone and 52 for fdlibm's with its division.  Same bits as re_logf (NaN's sign aside). */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>
#include <stddef.h>
#define RE_HAVE_LOGF_AVX512 1
__attribute__((unused)) static int re_have_avx512f(void) {
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    return have;
}

__attribute__((target("avx512f"), unused))
static void re_logf_avx512(float *__restrict out, const float *a, ptrdiff_t n) {
    const __m512 sqrt2 = _mm512_set1_ps(1.41421353816986083984375f);   /* 0x3fb504f3 */
    const __m512 one = _mm512_set1_ps(1.0f);
    for (ptrdiff_t i = 0; i < n; i += 16) {
        __mmask16 km = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        __m512 x = _mm512_maskz_loadu_ps(km, a + i);
        __m512 mant = _mm512_getmant_ps(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_nan);   /* [1, 2) */
        __m512 e = _mm512_getexp_ps(x);
        __mmask16 big = _mm512_cmp_ps_mask(mant, sqrt2, _CMP_GE_OQ);          /* to [sqrt2/2, sqrt2) */
        __m512 dk = _mm512_mask_add_ps(e, big, e, one);
        __m512 f = _mm512_sub_ps(_mm512_mask_mul_ps(mant, big, mant, _mm512_set1_ps(0.5f)), one);
        __m512 q = _mm512_fmadd_ps(f, _mm512_set1_ps(-7.859545946e-02f), _mm512_set1_ps(1.288162172e-01f));
        q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(-1.312876791e-01f));
        q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(1.418119669e-01f));
        q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(-1.662455350e-01f));
        q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(2.000228614e-01f));
        q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(-2.500081062e-01f));
        q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(3.333331645e-01f));
        __m512 p = _mm512_mul_ps(_mm512_fmadd_ps(f, q, _mm512_set1_ps(-0.5f)), _mm512_mul_ps(f, f));
        __m512 r = _mm512_add_ps(_mm512_fmadd_ps(dk, _mm512_set1_ps(9.0580006145e-06f), p), f);
        r = _mm512_fmadd_ps(dk, _mm512_set1_ps(6.9313812256e-01f), r);
        _mm512_mask_storeu_ps(out + i, km, r);
    }
}
#endif

/* sigmoid as e / (1 + e) with e = exp(-|x|) <= 1 (numerator 1 for x >= 0): exp's error
 * reaches the result scaled by e / (1 + e) <= 1/2, so it stays within 2 ulp, where
 * 1 / (1 + exp(-x)) lost 3 ulp for x < -16 (exp(-x) large).  x < -88.7 (float32) gives
 * exp(x) subnormal or 0: the result is then within FLT_MIN of the truth. */
static inline float re_sigmoidf(float x) {
    float e = re_expnegf(x < 0.0f ? x : -x);
    return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

static inline double re_sigmoid(double x) {
    double e = exp(x < 0.0 ? x : -x);
    return (x >= 0.0 ? 1.0 : e) / (1.0 + e);
}

/* log(1 + t) for t in [0, 1] (softplus's argument): 2 atanh(s) with s = t / (2 + t) in
 * [0, 1/3], i.e. 2s + 2s z P(z), z = s^2, P fitted in relative error (1.1e-10): one
 * division and no exponent split, about half the cost of a general log1p. */
static inline float re_log1p01f(float t) {
    float s = t / (2.0f + t);
    float z = s * s;
    float p = 0.12150493542457176f;
    p = RE_FMAF(p, z, 0.10713821945181395f);
    p = RE_FMAF(p, z, 0.14308443053894465f);
    p = RE_FMAF(p, z, 0.19999438846279297f);
    p = RE_FMAF(p, z, 0.33333337811318586f);
    float ss = s + s;
    return RE_FMAF(ss * z, p, ss);
}

/* softplus, torch's definition: x where beta x > threshold, else log1p(exp(beta x)) / beta,
 * computed as (max(z, 0) + log1p(exp(-|z|))) / beta, z = beta x (the same function; the
 * log1p argument stays in [0, 1]).  NaN propagates through exp; z = -inf gives 0. */
static inline float re_softplusf(float x, float beta, float threshold) {
    float z = x * beta;
    float r = ((z > 0.0f ? z : 0.0f) + re_log1p01f(re_expnegf(z < 0.0f ? z : -z))) / beta;
    return z > threshold ? x : r;
}

static inline double re_softplus(double x, double beta, double threshold) {
    double z = x * beta;
    return z > threshold ? x : log1p(exp(z)) / beta;
}

/* The normal cdf Phi(x) = erfc(-x / sqrt 2) / 2, branch-free, for gelu: with a = |x| / sqrt 2,
 * erfc(a) = exp(-a^2 + h(a)) where h(a) = log(erfc(a)) + a^2 is smooth and small (|h| < 2 on
 * [0, 4], h(0) = 0) and fitted by a degree-8 polynomial in a without a constant term (evaluated
 * by Estrin's scheme: two dependent polynomial chains made gelu forward 1.4x torch's time)
 * (Lawson-weighted least squares for absolute error in erfc: 2.6e-8 with float coefficients;
 * degree 9 was 5e-9 for one FMA more than float32 needs); -a^2 + h is one FMA, so exp's
 * argument keeps its accuracy.  Phi = 1 - erfc/2 for x > 0, erfc/2 below.  Measured (degree 9)
 * against libm's double erfc on every third float32 bit pattern: absolute error <= 9.0e-8
 * (1.5 ulp of Phi where it is largest, x = 0.48), relative error <= 1.5e-5 for x in (-4, 0)
 * where 1 + erf(x / sqrt 2) cancelled outright; with degree 8 and re_halfexpneg6f, gelu and
 * gelu' on every 97th float32 bit pattern of |x| <= 10 against float64 erfc: <= 0.80 and 0.99
 * eps (|x| + 1).  a > 4 (|x| > 5.66, erfc <
 * 1.6e-8): erfc taken as 0 (1 + erff(...) was already 0 there).  One polynomial and one
 * re_expnegf: glibc's vector erff (libmvec) made gelu forward 1.6x torch's time. */
/* exp(d) / 2 for d in [-18, 0] (re_phif's argument: the result stays normal, so the
 * scaling by 2^(q-1) is exact) at degree 6 (re_expnegf_nc is degree 7): relative error 3.6e-9
 * (Lawson-weighted least squares, float coefficients), ample for re_phif, whose result is
 * an absolute 1e-7 away anyway; one FMA and the multiply by 1/2 less per lane. */
static inline float re_halfexpneg6f(float d) {
    float tm = d * 1.442695040888963407359924681001892137f + 0x1.8p23f;
    float qf = tm - 0x1.8p23f;
    float s = RE_FMAF(qf, -0.693145751953125f, d);
    s = RE_FMAF(qf, -1.428606765330187045e-06f, s);
    float u = RE_FMAF(1.381453942e-03f, s, 8.368745446e-03f);
    u = RE_FMAF(u, s, 4.166838899e-02f);
    u = RE_FMAF(u, s, 1.666652113e-01f);
    u = RE_FMAF(u, s, 4.999999404e-01f);
    u = RE_FMAF(s * s, u, s + 1.0f);
    return u * re_as_float((re_as_bits(tm) << 23) + ((127u - 1u) << 23));
}

static inline float re_phif(float x) {
    float a = fabsf(x) * 0.70710678118654752440f;
    /* ac = min(a, 4) as an unsigned min of the bit patterns (a >= 0; NaN gives 4, and the result
       is NaN through x below): written as a float select, GCC specialised the whole polynomial
       for the ac = 4 side and blended every intermediate */
    uint32_t ab = re_as_bits(a);
    float ac = re_as_float(ab < 0x40800000u ? ab : 0x40800000u);
    /* h = ac * P(ac), P of degree 7 (erfc's absolute error 2.6e-8 with float coefficients;
       degree 8 was 5e-9 for one more FMA) by Estrin's scheme */
    float t2 = ac * ac, t4 = t2 * t2;
    float p01 = RE_FMAF(3.63402277e-01f, ac, -1.12838030e+00f);
    float p23 = RE_FMAF(1.95839610e-02f, ac, -1.02919616e-01f);
    float p45 = RE_FMAF(-1.03240111e-03f, ac, -5.36934473e-04f);
    float p67 = RE_FMAF(-3.14401586e-05f, ac, 3.08802089e-04f);
    float q03 = RE_FMAF(p23, t2, p01);
    float q47 = RE_FMAF(p67, t2, p45);
    float h = RE_FMAF(q47, t4, q03) * ac;      /* h(0) = 0 exactly */
    float half = re_halfexpneg6f(RE_FMAF(-ac, ac, h));     /* argument in [-18, 0] */
    half = a > 4.0f ? 0.0f : half;
    return x > 0.0f ? 1.0f - half : half;
}

/* gelu (exact): x/2 (1 + erf(x / sqrt 2)); its derivative Phi(x) + x phi(x) */
static inline float re_geluf(float x) {
    return x * re_phif(x);
}

static inline double re_gelu(double x) {
    return x * 0.5 * (1.0 + erf(x * 0.70710678118654752440));
}

static inline float re_gelu_gradf(float x) {
    float cdf = re_phif(x);
    float pdf = re_expnegf(-0.5f * (x * x)) * 0.39894228040143267794f;
    return cdf + x * pdf;
}

static inline double re_gelu_grad(double x) {
    double cdf = 0.5 * (1.0 + erf(x * 0.70710678118654752440));
    double pdf = exp(-0.5 * (x * x)) * 0.39894228040143267794;
    return cdf + x * pdf;
}

#endif
