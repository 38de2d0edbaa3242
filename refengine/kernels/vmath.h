/* Branch-free float32 exp, log and tanh that GCC can vectorise.
 *
 * Why not libm: a loop calling expf/logf/tanhf runs one element per call (3-6 ns each
 * here), while numpy and torch evaluate 8-16 lanes at a time.  Why not glibc's libmvec
 * (_ZGVeN16v_expf & co.): it vectorises, but measured here its AVX-512 expf is up to
 * 3 ulp from the correctly rounded result (2 ulp on 6 % of arguments), above the 2 ulp
 * we promise, and it exists only on glibc.  These functions are plain C (no intrinsics,
 * no tables, no branches: every special case is a select), so the compiler vectorises
 * the calling loop for whatever ISA each target_clones clone is built for, and they
 * build anywhere.  Results do not depend on the clone: the kernels that include this
 * are built with -ffp-contract=off, so no clone fuses a multiply-add.
 *
 * Accuracy (measured against float64 results rounded to float32, see
 * tests/test_kernels.py::test_transcendental_accuracy_in_ulp): exp <= 1 ulp, log <= 1 ulp,
 * tanh <= 2 ulp.  Special values follow C99/numpy: exp(-inf)=0, exp(inf)=inf,
 * log(0)=-inf, log(x<0)=NaN, log(inf)=inf, tanh(+-inf)=+-1, NaN in gives NaN out.
 *
 * Bit reinterpretation goes through memcpy (the portable, aliasing-safe idiom, which GCC
 * turns into nothing); a union or pointer cast stopped GCC 12 from vectorising the loop.
 */
#ifndef REFENGINE_VMATH_H
#define REFENGINE_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

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
    float s = d - qf * 0.693145751953125f;
    s = s - qf * 1.428606765330187045e-06f;
    float u = 0.000198527617612853646278381f;
    u = u * s + 0.00139304355252534151077271f;
    u = u * s + 0.00833336077630519866943359f;
    u = u * s + 0.0416664853692054748535156f;
    u = u * s + 0.166666671633720397949219f;
    u = u * s + 0.5f;
    u = s * s * u + (s + 1.0f);
    int32_t h = q >> 1;
    u = u * re_as_float((uint32_t)(h + 127) << 23) * re_as_float((uint32_t)(q - h + 127) << 23);
    u = d < -104.0f ? 0.0f : u;                /* below the smallest subnormal; also -inf */
    u = d > 88.72283935546875f ? INFINITY : u; /* above FLT_MAX; also +inf */
    return u;                                  /* NaN: every comparison is false, s is NaN */
}

/* log(x) = k ln 2 + log(1 + f), 1 + f in [sqrt(2)/2, sqrt(2)), log(1 + f) = 2 atanh(s) with
 * s = f / (2 + f) -- fdlibm's e_logf.c (< 1 ulp), with its branches turned into selects. */
static inline float re_logf(float x) {
    int sub = x < 0x1p-126f;                   /* subnormal (or <= 0): scale into the normals */
    float xs = sub ? x * 0x1p23f : x;
    uint32_t ix = re_as_bits(xs) + (0x3f800000u - 0x3f3504f3u);
    float dk = (float)((int32_t)(ix >> 23) - 0x7f - (sub ? 23 : 0));
    float f = re_as_float((ix & 0x007fffffu) + 0x3f3504f3u) - 1.0f;
    float s = f / (2.0f + f);
    float z = s * s, w = z * z;
    float t1 = w * (0.40000972152f + w * 0.24279078841f);
    float t2 = z * (0.66666662693f + w * 0.28498786688f);
    float hfsq = 0.5f * f * f;
    float r = s * (hfsq + (t1 + t2)) + dk * 9.0580006145e-06f - hfsq + f + dk * 6.9313812256e-01f;
    r = x == 0.0f ? -INFINITY : r;
    r = x < 0.0f ? NAN : r;
    r = x == INFINITY ? x : r;
    return x != x ? x : r;
}

/* tanh: an odd polynomial near 0 (where 1 - 2/(e+1) would cancel), else
 * sign(x) * (1 - 2 / (exp(2|x|) + 1)); both are evaluated and one is selected.
 * The polynomial is x + x^3 P(x^2) for |x| < 0.625, fitted to tanh in relative error
 * (max 1.6e-10, far below float32's 6e-8).  |x| > 44 overflows exp to inf: 2/inf = 0,
 * giving +-1; NaN fails the |x| < 0.625 test and exp(NaN) is NaN. */
static inline float re_tanhf(float x) {
    float a = fabsf(x);
    float z = x * x;
    float p = 0.002142945195427131f;
    p = p * z - 0.008177379073351691f;
    p = p * z + 0.02170069495523696f;
    p = p * z - 0.05394676142420174f;
    p = p * z + 0.1333320599392915f;
    p = p * z - 0.3333333080230066f;
    float small = x + x * z * p;
    float big = 1.0f - 2.0f / (re_expf(2.0f * a) + 1.0f);
    big = copysignf(big, x);
    return a < 0.625f ? small : big;
}

/* sigmoid as e / (1 + e) with e = exp(-|x|) <= 1 (numerator 1 for x >= 0): exp's error
 * reaches the result scaled by e / (1 + e) <= 1/2, so it stays within 2 ulp, where
 * 1 / (1 + exp(-x)) lost 3 ulp for x < -16 (exp(-x) large).  x < -88.7 (float32) gives
 * exp(x) subnormal or 0: the result is then within FLT_MIN of the truth. */
static inline float re_sigmoidf(float x) {
    float e = re_expf(x < 0.0f ? x : -x);
    return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

static inline double re_sigmoid(double x) {
    double e = exp(x < 0.0 ? x : -x);
    return (x >= 0.0 ? 1.0 : e) / (1.0 + e);
}

#endif
