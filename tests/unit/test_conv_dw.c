/* tests/unit/test_conv_dw.c — the direct depthwise convolution of one plane
 * (kernels/simd/conv_dw.c) against its double-precision reference.
 *
 * Every ISA the CPU runs, on odd planes (H, W in 1, 2, 7, 15, 16, 17, 33, 129), kernels
 * 1x1, 3x3, 5x5, 3x1, 1x7 and wider than the kernel's mask table, strides 1, 2, 3 and
 * mixed, dilations 1 and 2, asymmetric pads 0..3, with and without bias and residual,
 * every activation; planes whose output is empty, windows that only partly overlap the
 * input or not at all, and MobileNet's layers. Within: 1e-5 relative (to max(1, |want|))
 * per 16 terms of each sum, as for the operators (test_ops_math.c). The three ISAs sum
 * each output's taps in the same order with one fused multiply-add each, so they must
 * also agree bit for bit. y is poisoned (NaN) beforehand, with a guard on either side
 * that must keep its poison; x and the residual are also run flush against pages that
 * cannot be read, so that a load past either end (or before the start) crashes. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/simd/conv_dw.h"

static uint64_t rng = 0xD1B54A32D192ED03u;

static float urand(void) /* uniform in [-1, 1) */
{
    rng = rng * 6364136223846793005u + 1442695040888963407u;
    return (float)((rng >> 40) * (1.0 / (1u << 24))) * 2.0f - 1.0f;
}

/* The bound: 1e-5 relative to max(1, |want|), per 16 terms summed. */
static double tol(double len, double want)
{
    return 1e-5 * fmax(1.0, fabs(want)) * fmax(1.0, len / 16.0);
}

/* y's poison, and the guard on each side of it (floats) */
static const uint32_t POISON = 0x7fc0dead;
#define GUARD 48

struct dcase {
    int64_t H, W, kh, kw, sh, sw, dh, dw;
    int64_t pt, pl, pb, pr; /* pads: top, left, bottom, right */
    bool bias, res;
    struct nnp_act act;
};

static const struct nnp_act acts[] = {
    {NNP_ACT_NONE, 0, 0},
    {NNP_ACT_RELU, 0, 0},
    {NNP_ACT_LEAKY_RELU, 0.1f, 0},
    {NNP_ACT_CLIP, -0.5f, 0.7f},
    {NNP_ACT_HARD_SIGMOID, 0.2f, 0.5f},
    {NNP_ACT_HARD_SWISH, 0, 0},
    {NNP_ACT_SIGMOID, 0, 0},
    {NNP_ACT_TANH, 0, 0},
    {NNP_ACT_GELU, 0, 0},
    {NNP_ACT_GELU_TANH, 0, 0},
};
#define N_ACTS ((int)(sizeof acts / sizeof *acts))

static int64_t out_size(int64_t in, int64_t pb, int64_t pe, int64_t k, int64_t s, int64_t d)
{
    int64_t span = in + pb + pe - ((k - 1) * d + 1);
    return span < 0 ? 0 : span / s + 1;
}

static struct nnp_window window_of(const struct dcase *c)
{
    struct nnp_window w = {.n_sp = 2};
    w.kernel[0] = c->kh, w.kernel[1] = c->kw;
    w.stride[0] = c->sh, w.stride[1] = c->sw;
    w.dil[0] = c->dh, w.dil[1] = c->dw;
    w.pad_begin[0] = c->pt, w.pad_begin[1] = c->pl;
    w.pad_end[0] = c->pb, w.pad_end[1] = c->pr;
    w.in[0] = c->H, w.in[1] = c->W;
    w.out[0] = out_size(c->H, c->pt, c->pb, c->kh, c->sh, c->dh);
    w.out[1] = out_size(c->W, c->pl, c->pr, c->kw, c->sw, c->dw);
    return w;
}

static void describe(const struct dcase *c, const struct nnp_window *w, char *buf, size_t n)
{
    snprintf(buf, n,
             "x %ldx%ld k %ldx%ld s %ld,%ld d %ld,%ld pads t%ld l%ld b%ld r%ld -> %ldx%ld "
             "bias %d res %d act %s",
             (long)c->H, (long)c->W, (long)c->kh, (long)c->kw, (long)c->sh, (long)c->sw,
             (long)c->dh, (long)c->dw, (long)c->pt, (long)c->pl, (long)c->pb, (long)c->pr,
             (long)w->out[0], (long)w->out[1], c->bias, c->res,
             c->act.kind == NNP_ACT_NONE ? "none" : nnp_act_name(c->act.kind));
}

static float *poisoned(size_t n) /* n floats of poison */
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++)
        memcpy(p + i, &POISON, sizeof POISON);
    return p;
}

static bool is_poison(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u == POISON;
}

/* Case c on x (H, W), w (kh, kw) and res (OH, OW, or NULL) with every ISA: against the
 * reference within the bound, and bit for bit against the scalar version.
 * @return how many outputs were checked per ISA */
static int64_t check_on(const struct dcase *c, const float *x, const float *w, float bias,
                        const float *res)
{
    struct nnp_window win = window_of(c);
    int64_t n = win.out[0] * win.out[1];
    char what[240];
    describe(c, &win, what, sizeof what);
    const struct nnp_act *act = c->act.kind == NNP_ACT_NONE && c->bias ? NULL : &c->act;
    float *want = poisoned((size_t)n);
    nnp_conv_dw2d_ref(&win, x, w, bias, res, act, want);
    float *first = NULL; /* the scalar version's y */
    double len = (double)(c->kh * c->kw) + 2;
    for (int isa = 0; isa < NNP_ISA_COUNT; isa++) {
        if (!nnp_isa_supported((enum nnp_isa)isa))
            continue;
        float *buf = poisoned((size_t)(n + 2 * GUARD)), *y = buf + GUARD; /* (OH, OW) */
        nnp_conv_dw2d((enum nnp_isa)isa, &win, x, w, bias, res, act, y);
        const char *name = nnp_isa_name((enum nnp_isa)isa);
        for (int64_t i = 0; i < GUARD; i++) {
            cr_assert(is_poison(buf[i]), "%s: %s: wrote %ld before y", name, what,
                      (long)(GUARD - i));
            cr_assert(is_poison(y[n + i]), "%s: %s: wrote y[%ld] past the end", name, what,
                      (long)(n + i));
        }
        for (int64_t i = 0; i < n; i++) {
            cr_assert(!isnan(y[i]), "%s: %s: y[%ld] (%ld, %ld) not written (or NaN)", name, what,
                      (long)i, (long)(i / win.out[1]), (long)(i % win.out[1]));
            cr_assert(fabs(y[i] - want[i]) <= tol(len, want[i]),
                      "%s: %s: y[%ld] (%ld, %ld) = %.9g, want %.9g", name, what, (long)i,
                      (long)(i / win.out[1]), (long)(i % win.out[1]), y[i], want[i]);
        }
        if (!first) {
            first = buf;
            continue;
        }
        for (int64_t i = 0; i < n; i++)
            cr_assert(memcmp(&y[i], &first[GUARD + i], sizeof *y) == 0,
                      "%s: %s: y[%ld] (%ld, %ld) = %a, scalar %a", name, what, (long)i,
                      (long)(i / win.out[1]), (long)(i % win.out[1]), y[i], first[GUARD + i]);
        free(buf);
    }
    free(first);
    free(want);
    return n;
}

/* case c on fresh random operands, each allocated to its exact size (ASan sees a read
 * past it) */
static int64_t check(const struct dcase *c)
{
    struct nnp_window win = window_of(c);
    int64_t nx = c->H * c->W, nw = c->kh * c->kw, ny = win.out[0] * win.out[1];
    float *x = malloc((size_t)(nx ? nx : 1) * sizeof *x);
    float *w = malloc((size_t)nw * sizeof *w);
    float *res = c->res ? malloc((size_t)(ny ? ny : 1) * sizeof *res) : NULL;
    cr_assert(x && w && (res || !c->res));
    for (int64_t i = 0; i < nx; i++)
        x[i] = urand();
    for (int64_t i = 0; i < nw; i++)
        w[i] = urand();
    for (int64_t i = 0; c->res && i < ny; i++)
        res[i] = urand();
    int64_t got = check_on(c, x, w, c->bias ? urand() : 0.0f, res);
    free(x), free(w), free(res);
    return got;
}

static const int64_t sizes[] = {1, 2, 7, 15, 16, 17, 33, 129};
#define N_SIZES ((int)(sizeof sizes / sizeof *sizes))
static const int64_t kernels[][2] = {{1, 1}, {3, 3}, {5, 5}, {3, 1}, {1, 7}};
static const int64_t strides[][2] = {{1, 1}, {2, 2}, {3, 3}, {2, 1}, {1, 2}};

Test(dwconv, every_isa_against_reference_on_odd_shapes)
{
    int64_t n_cases = 0, n_empty = 0, n_out = 0;
    for (int ih = 0; ih < N_SIZES; ih++)
        for (int iw = 0; iw < N_SIZES; iw++)
            for (int ik = 0; ik < 5; ik++)
                for (int is = 0; is < 5; is++)
                    for (int64_t d = 1; d <= 2; d++) {
                        unsigned sel =
                            (unsigned)(ih * 131 + iw * 37 + ik * 11 + is * 5) + (unsigned)d * 17;
                        struct dcase c = {.H = sizes[ih],
                                          .W = sizes[iw],
                                          .kh = kernels[ik][0],
                                          .kw = kernels[ik][1],
                                          .sh = strides[is][0],
                                          .sw = strides[is][1],
                                          .dh = d,
                                          .dw = sel % 3 == 0 ? 3 - d : d, /* some mixed */
                                          .pt = sel % 4,
                                          .pl = sel / 4 % 4,
                                          .pb = sel / 16 % 4,
                                          .pr = sel / 64 % 4,
                                          .bias = sel % 3 != 0,
                                          .res = sel % 5 < 2,
                                          .act = acts[sel % N_ACTS]};
                        int64_t got = check(&c);
                        n_cases++;
                        n_empty += got == 0;
                        n_out += got;
                    }
    cr_assert_eq(n_cases, N_SIZES * N_SIZES * 5 * 5 * 2);
    cr_assert_gt(n_empty, 0);              /* some windows do not fit: nothing to write */
    cr_assert_gt(n_cases - n_empty, 2500); /* and most do */
    cr_assert_gt(n_out, 1000000);
}

/* every pad combination 0..3 on each side, strides 1 and 2 along the row, around the
 * widths where the vectors' borders fall */
Test(dwconv, every_pad_combination)
{
    const int64_t widths[] = {15, 16, 17, 31, 33, 48};
    for (int iw = 0; iw < 6; iw++)
        for (int64_t sw = 1; sw <= 2; sw++)
            for (int64_t dw = 1; dw <= 2; dw++)
                for (int p = 0; p < 64; p++) {
                    struct dcase c = {.H = 5,
                                      .W = widths[iw],
                                      .kh = 3,
                                      .kw = 3,
                                      .sh = 1,
                                      .sw = sw,
                                      .dh = 1,
                                      .dw = dw,
                                      .pt = p % 4,
                                      .pl = p / 4 % 4,
                                      .pb = p / 16 % 4,
                                      .pr = p % 3,
                                      .bias = true,
                                      .res = p % 2,
                                      .act = acts[p % N_ACTS]};
                    check(&c);
                }
}

/* MobileNet-V2's depthwise layers (3x3, pad 1), the 5x5 and 7x7 of EfficientNet and
 * ConvNeXt, a rectangular kernel, and 1-D ones (height 1) */
Test(dwconv, network_layers)
{
    const int64_t planes[] = {112, 56, 28, 14, 7};
    struct nnp_act relu6 = {NNP_ACT_CLIP, 0.0f, 6.0f};
    for (int i = 0; i < 5; i++)
        for (int64_t s = 1; s <= 2; s++)
            for (int64_t k = 3; k <= 7; k += 2) {
                int64_t h = planes[i], p = k / 2;
                struct dcase c = {.H = h,
                                  .W = h,
                                  .kh = k,
                                  .kw = k,
                                  .sh = s,
                                  .sw = s,
                                  .dh = 1,
                                  .dw = 1,
                                  .pt = p,
                                  .pl = p,
                                  .pb = p,
                                  .pr = p,
                                  .bias = true,
                                  .res = s == 1 && k == 3,
                                  .act = relu6};
                check(&c);
                c.pt = c.pl = 0; /* all the pad at the end (TensorFlow's SAME, stride 2) */
                c.pb = c.pr = k - 1;
                check(&c);
            }
    struct dcase rect = {.H = 28,
                         .W = 28,
                         .kh = 1,
                         .kw = 7,
                         .sh = 1,
                         .sw = 1,
                         .dh = 1,
                         .dw = 1,
                         .pl = 3,
                         .pr = 3,
                         .bias = true,
                         .act = relu6};
    check(&rect);
    rect.kh = 7, rect.kw = 1, rect.pl = rect.pr = 0, rect.pt = rect.pb = 3;
    check(&rect);
    for (int64_t k = 3; k <= 9; k += 2) /* 1-D: the window as 2-D of height 1 */
        for (int64_t s = 1; s <= 2; s++) {
            struct dcase c = {.H = 1,
                              .W = 1000,
                              .kh = 1,
                              .kw = k,
                              .sh = 1,
                              .sw = s,
                              .dh = 1,
                              .dw = s == 1 ? 2 : 1,
                              .pl = k / 2,
                              .pr = k / 2,
                              .bias = true,
                              .res = true,
                              .act = acts[1]};
            check(&c);
        }
}

/* kernels wider than the border table (16 columns), which it then builds in parts */
Test(dwconv, wide_kernels)
{
    const int64_t kws[] = {16, 17, 21, 33, 40};
    for (int i = 0; i < 5; i++)
        for (int64_t s = 1; s <= 2; s++)
            for (int64_t d = 1; d <= 2; d++) {
                struct dcase c = {.H = 3,
                                  .W = 129,
                                  .kh = 2,
                                  .kw = kws[i],
                                  .sh = 1,
                                  .sw = s,
                                  .dh = 1,
                                  .dw = d,
                                  .pt = 1,
                                  .pl = kws[i] / 2,
                                  .pb = 0,
                                  .pr = kws[i] - 1 - kws[i] / 2,
                                  .bias = true,
                                  .res = true,
                                  .act = acts[i + 2]};
                check(&c);
                c.W = 300;
                c.pl = 0, c.pr = 3;
                check(&c);
            }
}

/* Windows so tall or wide that the staged rows of a band of 8 vectors (or even of one)
 * do not fit the kernel's stack buffer: narrower bands, then one output at a time. */
Test(dwconv, huge_windows)
{
    const struct dcase cases[] = {
        {.H = 120,
         .W = 40,
         .kh = 100,
         .kw = 3,
         .sh = 1,
         .sw = 1,
         .dh = 1,
         .dw = 1,
         .pt = 1,
         .pl = 1,
         .pb = 1,
         .pr = 1,
         .bias = true,
         .res = true,
         .act = {NNP_ACT_RELU, 0, 0}},
        {.H = 60,
         .W = 300,
         .kh = 30,
         .kw = 3,
         .sh = 1,
         .sw = 2,
         .dh = 2,
         .dw = 1,
         .pt = 2,
         .pl = 1,
         .pb = 3,
         .pr = 1,
         .bias = true,
         .act = {NNP_ACT_TANH, 0, 0}},
        {.H = 310,
         .W = 3,
         .kh = 300,
         .kw = 1,
         .sh = 1,
         .sw = 1,
         .dh = 1,
         .dw = 1,
         .bias = true,
         .act = {NNP_ACT_NONE, 0, 0}},
        {.H = 2,
         .W = 9100,
         .kh = 1,
         .kw = 9000,
         .sh = 1,
         .sw = 1,
         .dh = 1,
         .dw = 1,
         .pl = 3,
         .pr = 2,
         .res = true,
         .act = {NNP_ACT_NONE, 0, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        cr_assert_gt(check(&cases[i]), 0);
}

/* Windows that overlap the input only in part, or not at all: outputs with no tap inside
 * are act(bias + res). Pads larger than a vector put whole vectors in the padding. */
Test(dwconv, partial_and_no_overlap)
{
    struct dcase big = {.H = 2,
                        .W = 2,
                        .kh = 7,
                        .kw = 7,
                        .sh = 1,
                        .sw = 1,
                        .dh = 1,
                        .dw = 1,
                        .pt = 3,
                        .pl = 3,
                        .pb = 3,
                        .pr = 3,
                        .bias = true,
                        .res = true,
                        .act = acts[0]};
    check(&big);
    big.sh = big.sw = 2;
    check(&big);
    big.dh = big.dw = 2, big.sh = big.sw = 1, big.pt = big.pl = big.pb = big.pr = 6;
    check(&big); /* dilated taps step over the whole input */
    for (int64_t s = 1; s <= 3; s++) {
        struct dcase c = {.H = 3,
                          .W = 5,
                          .kh = 1,
                          .kw = 1,
                          .sh = s,
                          .sw = s,
                          .dh = 1,
                          .dw = 1,
                          .pt = 20,
                          .pl = 37,
                          .pb = 20,
                          .pr = 40,
                          .bias = true,
                          .res = true,
                          .act = acts[3]};
        check(&c);
    }
    /* no input at all (H or W is 0), yet an output: the pads alone */
    struct dcase none = {.H = 0,
                         .W = 5,
                         .kh = 3,
                         .kw = 3,
                         .sh = 1,
                         .sw = 1,
                         .dh = 1,
                         .dw = 1,
                         .pt = 2,
                         .pl = 2,
                         .pb = 2,
                         .pr = 1,
                         .bias = true,
                         .res = true,
                         .act = acts[1]};
    cr_assert_gt(check(&none), 0);
    none.H = 4, none.W = 0;
    cr_assert_gt(check(&none), 0);
    /* by hand: 1x1 kernel, pad 1, no residual: the frame of y is the bias alone */
    struct dcase frame = {.H = 3,
                          .W = 3,
                          .kh = 1,
                          .kw = 1,
                          .sh = 1,
                          .sw = 1,
                          .dh = 1,
                          .dw = 1,
                          .pt = 1,
                          .pl = 1,
                          .pb = 1,
                          .pr = 1,
                          .bias = true,
                          .act = acts[0]};
    struct nnp_window win = window_of(&frame);
    float x[9], w[1] = {2.0f}, y[25];
    for (int i = 0; i < 9; i++)
        x[i] = (float)i;
    for (int isa = 0; isa < NNP_ISA_COUNT; isa++) {
        if (!nnp_isa_supported((enum nnp_isa)isa))
            continue;
        nnp_conv_dw2d((enum nnp_isa)isa, &win, x, w, 0.25f, NULL, NULL, y);
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++) {
                bool inside = i >= 1 && i <= 3 && j >= 1 && j <= 3;
                float want = inside ? 2.0f * x[(i - 1) * 3 + j - 1] + 0.25f : 0.25f;
                cr_assert_eq(y[i * 5 + j], want, "%s: y[%d][%d] = %g, want %g",
                             nnp_isa_name((enum nnp_isa)isa), i, j, y[i * 5 + j], want);
            }
    }
}

/* An empty output writes nothing, and reads nothing (x is NULL). */
Test(dwconv, empty_output)
{
    float w[9] = {0}, buf[2 * GUARD];
    for (int i = 0; i < 2 * GUARD; i++)
        memcpy(buf + i, &POISON, sizeof POISON);
    const int64_t outs[][2] = {{0, 0}, {0, 5}, {5, 0}};
    for (int o = 0; o < 3; o++)
        for (int isa = 0; isa < NNP_ISA_COUNT; isa++) {
            if (!nnp_isa_supported((enum nnp_isa)isa))
                continue;
            struct nnp_window win = {.n_sp = 2,
                                     .kernel = {3, 3},
                                     .stride = {1, 1},
                                     .dil = {1, 1},
                                     .in = {0, 0},
                                     .out = {outs[o][0], outs[o][1]}};
            nnp_conv_dw2d((enum nnp_isa)isa, &win, NULL, w, 1.0f, NULL, &acts[6], buf + GUARD);
            nnp_conv_dw2d_ref(&win, NULL, w, 1.0f, NULL, &acts[6], buf + GUARD);
            for (int i = 0; i < 2 * GUARD; i++)
                cr_assert(is_poison(buf[i]), "%s: out %ldx%ld wrote buf[%d]",
                          nnp_isa_name((enum nnp_isa)isa), (long)outs[o][0], (long)outs[o][1], i);
        }
    /* a window larger than the input: no output */
    struct dcase c = {.H = 4, .W = 4, .kh = 5, .kw = 5, .sh = 1, .sw = 1, .dh = 1, .dw = 1};
    cr_assert_eq(check(&c), 0);
}

/* A small case by hand, exact in float: the reference and every ISA. */
Test(dwconv, by_hand)
{
    struct dcase c = {
        .H = 3, .W = 3, .kh = 2, .kw = 2, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pt = 1, .pl = 1};
    struct nnp_window win = window_of(&c); /* out 3x3: windows at -1, 0, 1 */
    cr_assert_eq(win.out[0], 3);
    const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 2, 3, 4};
    const float res[9] = {0, 0, 0, 0, 0, 0, 0, 0, -100};
    /* y[i][j] = sum x[i-1+a][j-1+b] w[a][b] + 0.5 + res, then relu */
    const float want[9] = {4.5f, 11.5f, 18.5f, 18.5f, 37.5f, 47.5f, 36.5f, 67.5f, 0.0f};
    struct nnp_act relu = {NNP_ACT_RELU, 0, 0};
    float y[9];
    nnp_conv_dw2d_ref(&win, x, w, 0.5f, res, &relu, y);
    for (int i = 0; i < 9; i++)
        cr_assert_eq(y[i], want[i], "ref: y[%d] = %g, want %g", i, y[i], want[i]);
    for (int isa = 0; isa < NNP_ISA_COUNT; isa++) {
        if (!nnp_isa_supported((enum nnp_isa)isa))
            continue;
        nnp_conv_dw2d((enum nnp_isa)isa, &win, x, w, 0.5f, res, &relu, y);
        for (int i = 0; i < 9; i++)
            cr_assert_eq(y[i], want[i], "%s: y[%d] = %g, want %g", nnp_isa_name((enum nnp_isa)isa),
                         i, y[i], want[i]);
    }
}

/* n floats that end where a page that cannot be read begins (at_start: that start just
 * after such a page). *base, *len: the mapping, for munmap. */
static float *fenced(int64_t n, bool at_start, void **base, size_t *len)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), bytes = (size_t)n * sizeof(float);
    size_t data_pages = (bytes + pg - 1) / pg;
    *len = (data_pages + 2) * pg;
    char *m = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(m != MAP_FAILED);
    cr_assert_eq(mprotect(m, pg, PROT_NONE), 0);
    cr_assert_eq(mprotect(m + (data_pages + 1) * pg, pg, PROT_NONE), 0);
    *base = m;
    char *data = m + pg;
    return (float *)(at_start ? data : data + data_pages * pg - bytes);
}

/* x and res flush against unreadable pages on either side, so that a load that strays
 * past the end, or before the start, faults (masked-off lanes never do) */
Test(dwconv, reads_stay_inside_x_and_res)
{
    const int64_t widths[] = {7, 15, 16, 17, 33, 56, 112};
    for (int iw = 0; iw < 7; iw++)
        for (int64_t s = 1; s <= 2; s++)
            for (int64_t k = 1; k <= 5; k += 2)
                for (int side = 0; side < 2; side++) {
                    int64_t p = k / 2;
                    struct dcase c = {.H = 5,
                                      .W = widths[iw],
                                      .kh = k,
                                      .kw = k,
                                      .sh = s,
                                      .sw = s,
                                      .dh = 1,
                                      .dw = 1,
                                      .pt = p,
                                      .pl = p,
                                      .pb = p,
                                      .pr = p,
                                      .bias = true,
                                      .res = true,
                                      .act = acts[(iw + k) % N_ACTS]};
                    struct nnp_window win = window_of(&c);
                    int64_t nx = c.H * c.W, ny = win.out[0] * win.out[1];
                    void *bx, *br;
                    size_t lx, lr;
                    float *x = fenced(nx, side, &bx, &lx), *res = fenced(ny, side, &br, &lr);
                    float w[25];
                    for (int64_t i = 0; i < nx; i++)
                        x[i] = urand();
                    for (int64_t i = 0; i < ny; i++)
                        res[i] = urand();
                    for (int i = 0; i < 25; i++)
                        w[i] = urand();
                    check_on(&c, x, w, 0.125f, res);
                    c.pt = c.pl = c.pb = c.pr = 0; /* the interior reaches both ends */
                    win = window_of(&c);
                    check_on(&c, x, w, 0.125f, NULL);
                    munmap(bx, lx), munmap(br, lr);
                }
}

/* The pads are zeros, each multiplied by its weight like any input (ONNX's padding, what
 * ONNX Runtime and PyTorch compute): an infinite or NaN weight makes every output NaN
 * whose tap with it falls in the padding, and an infinite one the others infinite. */
Test(dwconv, pads_are_zeros_times_the_weight)
{
    const float ws[2][3] = {{INFINITY, 0.5f, 1.0f}, {1.0f, 0.5f, NAN}};
    int64_t n_pad = 0;
    for (int k = 0; k < 2; k++)
        for (int64_t s = 1; s <= 3; s++) {
            struct dcase c = {.H = 2,
                              .W = 40,
                              .kh = 1,
                              .kw = 3,
                              .sh = 1,
                              .sw = s,
                              .dh = 1,
                              .dw = 1,
                              .pl = 2,
                              .pr = 2,
                              .act = acts[0]};
            struct nnp_window win = window_of(&c);
            int64_t ow = win.out[1];
            cr_assert_leq(ow, 42);
            float x[80], y[2 * 42], want[2 * 42]; /* OW = 40 + 4 - 3 + 1 at most */
            for (int i = 0; i < 80; i++)
                x[i] = 1.0f + (float)i;
            nnp_conv_dw2d_ref(&win, x, ws[k], 0.0f, NULL, NULL, want);
            for (int isa = 0; isa < NNP_ISA_COUNT; isa++) {
                if (!nnp_isa_supported((enum nnp_isa)isa))
                    continue;
                nnp_conv_dw2d((enum nnp_isa)isa, &win, x, ws[k], 0.0f, NULL, NULL, y);
                for (int64_t i = 0; i < 2; i++)
                    for (int64_t j = 0; j < ow; j++) {
                        /* the odd weight's tap reads column j s - 2 (k = 0) or j s (k = 1) */
                        int64_t col = j * s - (k == 0 ? 2 : 0);
                        bool pad = col < 0 || col >= 40;
                        float v = y[i * ow + j], r = want[i * ow + j];
                        n_pad += pad;
                        cr_assert(pad || k == 1 ? isnan(v) && isnan(r) : isinf(v) && v == r,
                                  "%s: weights %d stride %ld y[%ld][%ld] = %g, ref %g",
                                  nnp_isa_name((enum nnp_isa)isa), k, (long)s, (long)i, (long)j, v,
                                  r);
                    }
            }
        }
    cr_assert_gt(n_pad, 0);
}

/* Small planes, 16 channels at a time (nnp_conv_dw2d_channels): the bits of
 * nnp_conv_dw2d on each channel, for 1, 7 and 16 channels, planes of 1..16 output
 * columns (3x3 rows of up to 32 inputs at stride 2), strides 1 and 2, dilations, pads,
 * bias or none, residual or none, every activation; and within the bound of the
 * reference. */
Test(dwconv, channels_at_once_give_each_planes_bits)
{
    if (!nnp_isa_supported(NNP_ISA_AVX512))
        return;
    static const int64_t hw[] = {1, 3, 7, 8, 14, 15, 16, 28, 31};
    static const int nchs[] = {1, 7, 16};
    int n_run = 0;
    for (int ih = 0; ih < 9; ih++)
        for (int iw = 0; iw < 9; iw++)
            for (int ik = 0; ik < 4; ik++)
                for (int64_t st = 1; st <= 2; st++) {
                    unsigned sel = (unsigned)(ih * 41 + iw * 13 + ik * 7) + (unsigned)st * 3;
                    static const int64_t ks[4][2] = {{3, 3}, {1, 1}, {5, 5}, {3, 1}};
                    struct dcase c = {.H = hw[ih], .W = hw[iw], .kh = ks[ik][0], .kw = ks[ik][1],
                                      .sh = st, .sw = sel % 4 == 0 ? 3 - st : st,
                                      .dh = 1 + sel % 5 / 4, .dw = 1 + sel % 7 / 6,
                                      .pt = sel % 3, .pl = sel / 3 % 3, .pb = sel / 9 % 2,
                                      .pr = sel / 18 % 3, .bias = sel % 3 != 1,
                                      .res = sel % 4 < 2, .act = acts[sel % N_ACTS]};
                    struct nnp_window w = window_of(&c);
                    if (!nnp_conv_dw2d_channels_fit(NNP_ISA_AVX512, &w))
                        continue;
                    int nch = nchs[sel % 3];
                    int64_t plane = c.H * c.W, op = w.out[0] * w.out[1], kk = c.kh * c.kw;
                    float *x = malloc((size_t)(nch * plane + 1) * sizeof *x);
                    float *wt = malloc((size_t)(nch * kk) * sizeof *wt);
                    float *b = malloc((size_t)nch * sizeof *b);
                    float *res = malloc((size_t)(nch * op + 1) * sizeof *res);
                    float *y1 = malloc((size_t)(nch * op + 1) * sizeof *y1);
                    float *y2 = malloc((size_t)(nch * op + 1) * sizeof *y2);
                    for (int64_t i = 0; i < nch * plane; i++)
                        x[i] = 3 * urand();
                    for (int64_t i = 0; i < nch * kk; i++)
                        wt[i] = urand();
                    for (int i = 0; i < nch; i++)
                        b[i] = urand();
                    for (int64_t i = 0; i < nch * op; i++)
                        res[i] = urand(), y1[i] = y2[i] = NAN;
                    for (int ch = 0; ch < nch; ch++)
                        nnp_conv_dw2d(NNP_ISA_AVX512, &w, x + ch * plane, wt + ch * kk,
                                      c.bias ? b[ch] : 0.0f, c.res ? res + ch * op : NULL,
                                      &c.act, y1 + ch * op);
                    nnp_conv_dw2d_channels(&w, x, wt, c.bias ? b : NULL, c.res ? res : NULL,
                                           &c.act, y2, nch);
                    cr_assert(memcmp(y1, y2, (size_t)(nch * op) * sizeof *y1) == 0,
                              "%dx%d k=%dx%d s=%dx%d d=%dx%d pads %d,%d/%d,%d nch=%d act=%d: "
                              "the 16-channel path differs from the per-plane one",
                              (int)c.H, (int)c.W, (int)c.kh, (int)c.kw, (int)c.sh, (int)c.sw,
                              (int)c.dh, (int)c.dw, (int)c.pt, (int)c.pl, (int)c.pb, (int)c.pr,
                              nch, (int)c.act.kind);
                    free(x), free(wt), free(b), free(res), free(y1), free(y2);
                    n_run++;
                }
    cr_assert_gt(n_run, 150);
}

/* Stride 1, "same" pads, the plane as one flat run (nnp_conv_dw2d_flat): the bits of
 * nnp_conv_dw2d, planes 1..129 wide (a row shorter, as long as, longer than a vector,
 * rows straddling vectors), kernels 3x3, 5x5, 1x7, 3x1, 1x1, dilation 2, pads split
 * unevenly, bias, residual, every activation; x and the residual flush against pages
 * that cannot be read, on either side (a masked lane never faults, a real one would). */
Test(dwconv, flat_plane_gives_the_planes_bits)
{
    if (!nnp_isa_supported(NNP_ISA_AVX512))
        return;
    static const int64_t hs[] = {1, 3, 7, 14, 28};
    static const int64_t ws[] = {1, 7, 14, 16, 17, 28, 33, 129};
    static const int64_t ks[][2] = {{3, 3}, {5, 5}, {1, 7}, {3, 1}, {1, 1}};
    int n_run = 0;
    for (int ih = 0; ih < 5; ih++)
        for (int iw = 0; iw < 8; iw++)
            for (int ik = 0; ik < 5; ik++) {
                unsigned sel = (unsigned)(ih * 41 + iw * 13 + ik * 7);
                int64_t dh = 1 + sel % 3 / 2, dw = 1 + sel % 5 / 4;
                int64_t eh = (ks[ik][0] - 1) * dh, ew = (ks[ik][1] - 1) * dw; /* pads to share */
                struct dcase c = {.H = hs[ih], .W = ws[iw], .kh = ks[ik][0], .kw = ks[ik][1],
                                  .sh = 1, .sw = 1, .dh = dh, .dw = dw,
                                  .pt = eh / 2 + sel % 2 * (eh % 2), .pl = ew - ew / 2,
                                  .bias = sel % 3 != 1, .res = sel % 4 < 2,
                                  .act = acts[sel % N_ACTS]};
                c.pb = eh - c.pt + (int64_t)(sel % 7 == 0); /* one extra row: OH = H + 1 */
                c.pr = ew - c.pl;
                struct nnp_window w = window_of(&c);
                cr_assert(nnp_conv_dw2d_flat_fit(NNP_ISA_AVX512, &w), "%dx%d k=%dx%d",
                          (int)c.H, (int)c.W, (int)c.kh, (int)c.kw);
                int64_t plane = c.H * c.W, op = w.out[0] * w.out[1], kk = c.kh * c.kw;
                void *bx, *br;
                size_t lx, lr;
                float *x = fenced(plane, sel % 2, &bx, &lx), *res = fenced(op, sel % 3 == 0, &br, &lr);
                float wt[35], *y1 = malloc((size_t)op * sizeof *y1), *y2 = malloc((size_t)op * sizeof *y2);
                for (int64_t i = 0; i < plane; i++)
                    x[i] = 3 * urand();
                for (int64_t i = 0; i < kk; i++)
                    wt[i] = urand();
                for (int64_t i = 0; i < op; i++)
                    res[i] = urand(), y1[i] = y2[i] = NAN;
                float b = c.bias ? urand() : 0.0f;
                uint16_t *masks = malloc(nnp_conv_dw2d_flat_masks(&w) * sizeof *masks);
                int64_t off[35];
                nnp_conv_dw2d_flat_plan(&w, masks, off);
                nnp_conv_dw2d(NNP_ISA_AVX512, &w, x, wt, b, c.res ? res : NULL, &c.act, y1);
                nnp_conv_dw2d_flat(&w, masks, off, x, wt, b, c.res ? res : NULL, &c.act, y2);
                cr_assert(memcmp(y1, y2, (size_t)op * sizeof *y1) == 0,
                          "%dx%d k=%dx%d d=%dx%d pads %d,%d/%d,%d act=%d: the flat path differs "
                          "from the per-plane one", (int)c.H, (int)c.W, (int)c.kh, (int)c.kw,
                          (int)c.dh, (int)c.dw, (int)c.pt, (int)c.pl, (int)c.pb, (int)c.pr,
                          (int)c.act.kind);
                check_on(&c, x, wt, b, c.res ? res : NULL); /* and the reference's bound */
                free(y1), free(y2), free(masks);
                munmap(bx, lx), munmap(br, lr);
                n_run++;
            }
    cr_assert_eq(n_run, 200);
    /* what does not fit: strides, a narrower output, no AVX-512 */
    struct dcase c = {.H = 9, .W = 9, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .dh = 1, .dw = 1,
                      .pt = 1, .pl = 1, .pb = 1, .pr = 1};
    struct nnp_window w = window_of(&c);
    cr_assert(!nnp_conv_dw2d_flat_fit(NNP_ISA_AVX512, &w));
    c.sh = c.sw = 1, c.pr = 0;
    w = window_of(&c);
    cr_assert(!nnp_conv_dw2d_flat_fit(NNP_ISA_AVX512, &w));
    c.pr = 1;
    w = window_of(&c);
    cr_assert(!nnp_conv_dw2d_flat_fit(NNP_ISA_AVX2, &w));
}
