/* kernels/ops/op_slice.c — data movement: Transpose, Concat, Split, Slice, Gather, Pad.
 *
 * Everything moves elements by their size in bytes, so every fixed-size dtype
 * (float16, int64 shape tensors, bool masks...) works the same way; strings
 * are refused. Contiguous runs are one memcpy. Shape-deciding inputs (Slice's
 * starts/ends/axes/steps, Split's split, Pad's pads) must be constant when the
 * plan is made (see op_shape.c); Pad's constant_value and Gather's indices may
 * come at run time, and a Gather index out of range is an error naming the
 * node, found before anything is written.
 *
 * Transpose drops size-1 dims and merges dims that stay neighbours, so most
 * permutations become a copy, a 2-D transpose, or a batch of 2-D transposes
 * (NCHW <-> NHWC), done in cache blocks; anything else is a strided copy.
 */
#include <inttypes.h>
#include <string.h>

#include "kernels/ops/op_tensor.h"

/* --- a strided N-D copy: the loop under Transpose, Slice and the references --- */

/* Copy the view of `src` with dims[rank] and element strides st[rank] (signed)
 * into contiguous dst. */
static void strided_copy(void *dst, const void *src, int rank, const int64_t *dims,
                         const int64_t *st, size_t es)
{
    int64_t numel = 1;
    for (int i = 0; i < rank; i++)
        numel *= dims[i];
    if (numel == 0)
        return;
    if (rank == 0) {
        nnp_elem_copy(dst, src, es);
        return;
    }
    int64_t inner = dims[rank - 1], s_in = st[rank - 1];
    int64_t idx[NNP_MAX_RANK] = {0};
    int64_t off = 0;
    char *o = dst;
    const char *s = src;
    for (int64_t row = 0; row < numel / inner; row++) {
        const char *p = s + off * (int64_t)es;
        if (s_in == 1 && es == 4 && inner <= 32) {
            /* short runs (a head's 12 floats in [B,16,4,12] -> [B,4,16,12]): fixed-size
             * moves instead of a memcpy call per run */
            int64_t i = 0;
            for (; i + 8 <= inner; i += 8)
                memcpy(o + 4 * i, p + 4 * i, 32);
            if (i + 4 <= inner) {
                memcpy(o + 4 * i, p + 4 * i, 16);
                i += 4;
            }
            for (; i < inner; i++)
                memcpy(o + 4 * i, p + 4 * i, 4);
        } else if (s_in == 1) {
            memcpy(o, p, (size_t)inner * es);
        } else {
            switch (es) { /* constant sizes: a load and a store per element */
            case 1:
                for (int64_t i = 0; i < inner; i++)
                    o[i] = p[i * s_in];
                break;
            case 2:
                for (int64_t i = 0; i < inner; i++)
                    memcpy(o + 2 * i, p + 2 * i * s_in, 2);
                break;
            case 4:
                for (int64_t i = 0; i < inner; i++)
                    memcpy(o + 4 * i, p + 4 * i * s_in, 4);
                break;
            case 8:
                for (int64_t i = 0; i < inner; i++)
                    memcpy(o + 8 * i, p + 8 * i * s_in, 8);
                break;
            default:
                for (int64_t i = 0; i < inner; i++)
                    memcpy(o + (size_t)i * es, p + i * s_in * (int64_t)es, es);
            }
        }
        o += (size_t)inner * es;
        for (int d = rank - 2; d >= 0; d--) {
            off += st[d];
            if (++idx[d] < dims[d])
                break;
            idx[d] = 0;
            off -= st[d] * dims[d];
        }
    }
}

/* Naive: element i of the view, by decomposing i (references). */
static void strided_copy_ref(void *dst, const void *src, int rank, const int64_t *dims,
                             const int64_t *st, size_t es)
{
    int64_t numel = 1;
    for (int i = 0; i < rank; i++)
        numel *= dims[i];
    for (int64_t i = 0; i < numel; i++) {
        int64_t rem = i, off = 0;
        for (int d = rank - 1; d >= 0; d--) {
            off += (rem % dims[d]) * st[d];
            rem /= dims[d];
        }
        nnp_elem_copy((char *)dst + (size_t)i * es, (const char *)src + off * (int64_t)es, es);
    }
}

static void contiguous_strides(int rank, const int64_t *dims, int64_t *st)
{
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        st[i] = s;
        s *= dims[i];
    }
}

/* --- Transpose --- */

enum tr_kind { TR_COPY, TR_2D, TR_BATCH_2D, TR_STRIDED };

struct transpose_state {
    int perm[NNP_MAX_RANK];
    enum tr_kind kind;
    int rank;                   /* merged */
    int64_t dims[NNP_MAX_RANK]; /* merged output dims */
    int64_t st[NNP_MAX_RANK];   /* merged input strides per output dim */
    int64_t batch, rows, cols;  /* TR_2D / TR_BATCH_2D: input is (batch, rows, cols) */
    size_t es;
};

#define TR_BLOCK 32

/* out (cols, rows) = in (rows, cols)^T, in cache blocks */
#define TR_2D_LOOP(T)                                                                              \
    do {                                                                                           \
        const T *in_ = src;                                                                        \
        T *out_ = dst;                                                                             \
        for (int64_t r0 = 0; r0 < rows; r0 += TR_BLOCK)                                            \
            for (int64_t c0 = 0; c0 < cols; c0 += TR_BLOCK) {                                      \
                int64_t r1 = r0 + TR_BLOCK < rows ? r0 + TR_BLOCK : rows;                          \
                int64_t c1 = c0 + TR_BLOCK < cols ? c0 + TR_BLOCK : cols;                          \
                for (int64_t c = c0; c < c1; c++) /* writes contiguous, reads in cache */          \
                    for (int64_t r = r0; r < r1; r++)                                              \
                        out_[c * rows + r] = in_[r * cols + c];                                    \
            }                                                                                      \
    } while (0)

static void transpose_2d(void *dst, const void *src, int64_t rows, int64_t cols, size_t es)
{
    switch (es) {
    case 1: TR_2D_LOOP(uint8_t); break;
    case 2: TR_2D_LOOP(uint16_t); break;
    case 4: TR_2D_LOOP(uint32_t); break;
    case 8: TR_2D_LOOP(uint64_t); break;
    default: {
        int64_t dims[2] = {cols, rows}, st[2] = {1, cols};
        strided_copy(dst, src, 2, dims, st, es);
    }
    }
}

static enum nnp_status transpose_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    enum nnp_status st = nnp_opx_need(n, 0, "data");
    if (st == NNP_OK)
        st = nnp_opx_fixed_size(n, n->in[0], "the input");
    if (st != NNP_OK)
        return st;
    const struct nnp_rt_value *x = n->in[0];
    int r = x->rank;
    int64_t perm[NNP_MAX_RANK];
    int cnt;
    if ((st = nnp_opx_attr_ints(n, "perm", perm, NNP_MAX_RANK, &cnt)) != NNP_OK)
        return st;
    if (cnt < 0) { /* default: reverse the dims */
        cnt = r;
        for (int i = 0; i < r; i++)
            perm[i] = r - 1 - i;
    }
    if (cnt != r)
        return nnp_op_error(n, "Transpose perm has %d entries, the input has rank %d", cnt, r);
    bool seen[NNP_MAX_RANK] = {false};
    for (int i = 0; i < r; i++) {
        if (perm[i] < 0 || perm[i] >= r || seen[perm[i]])
            return nnp_op_error(n, "Transpose perm is not a permutation of 0..%d", r - 1);
        seen[perm[i]] = true;
    }
    struct transpose_state *s = nnp_arena_alloc(a, sizeof *s);
    s->es = nnp_dtype_size(x->dtype);
    int64_t out_dims[NNP_MAX_RANK], in_st[NNP_MAX_RANK];
    contiguous_strides(r, x->dims, in_st);
    for (int i = 0; i < r; i++) {
        s->perm[i] = (int)perm[i];
        out_dims[i] = x->dims[perm[i]];
    }
    if ((st = nnp_rt_set_shape(n->out[0], x->dtype, r, out_dims)) != NNP_OK)
        return st;
    /* merge: drop size-1 dims; join output dims whose input dims are neighbours */
    int m = 0;
    for (int i = 0; i < r; i++) {
        if (out_dims[i] == 1)
            continue;
        if (m > 0 && s->st[m - 1] == in_st[perm[i]] * out_dims[i]) {
            s->dims[m - 1] *= out_dims[i];
            s->st[m - 1] = in_st[perm[i]];
        } else {
            s->dims[m] = out_dims[i];
            s->st[m] = in_st[perm[i]];
            m++;
        }
    }
    s->rank = m;
    s->kind = TR_STRIDED;
    if (m <= 1) { /* the order of elements does not change */
        s->kind = TR_COPY;
    } else if (m == 2 && s->st[0] == 1 && s->st[1] == s->dims[0]) {
        s->kind = TR_2D; /* out (d0, d1) from in (d1, d0) */
        s->batch = 1, s->rows = s->dims[1], s->cols = s->dims[0];
    } else if (m == 3 && s->st[0] == s->dims[1] * s->dims[2] && s->st[1] == 1 &&
               s->st[2] == s->dims[1]) {
        s->kind = TR_BATCH_2D; /* out (b, d1, d2) from in (b, d2, d1): NCHW <-> NHWC */
        s->batch = s->dims[0], s->rows = s->dims[2], s->cols = s->dims[1];
    }
    n->state = s;
    return NNP_OK;
}

static enum nnp_status transpose_forward(struct nnp_exec_node *n)
{
    const struct transpose_state *s = n->state;
    const struct nnp_rt_value *x = n->in[0];
    struct nnp_rt_value *y = n->out[0];
    if (y->numel == 0)
        return NNP_OK;
    switch (s->kind) {
    case TR_COPY: memcpy(y->data, x->data, x->nbytes); break;
    case TR_2D:
    case TR_BATCH_2D: {
        size_t plane = (size_t)(s->rows * s->cols) * s->es;
        for (int64_t b = 0; b < s->batch; b++)
            transpose_2d((char *)y->data + b * plane, (const char *)x->data + b * plane, s->rows,
                         s->cols, s->es);
        break;
    }
    case TR_STRIDED: strided_copy(y->data, x->data, s->rank, s->dims, s->st, s->es); break;
    }
    return NNP_OK;
}

static enum nnp_status transpose_reference(struct nnp_exec_node *n)
{
    const struct transpose_state *s = n->state;
    const struct nnp_rt_value *x = n->in[0];
    struct nnp_rt_value *y = n->out[0];
    int64_t in_st[NNP_MAX_RANK], st[NNP_MAX_RANK];
    contiguous_strides(x->rank, x->dims, in_st);
    for (int i = 0; i < x->rank; i++)
        st[i] = in_st[s->perm[i]];
    strided_copy_ref(y->data, x->data, y->rank, y->dims, st, s->es);
    return NNP_OK;
}

const struct nnp_op nnp_op_Transpose = {
    .name = "Transpose",
    .min_in = 1,
    .max_in = 1,
    .min_out = 1,
    .max_out = 1,
    .prepare = transpose_prepare,
    .forward = transpose_forward,
    .reference = transpose_reference,
    .backward = NULL,
};

/* --- Concat --- */

struct concat_state {
    int axis;
    int64_t outer;    /* product of dims before axis */
    int64_t inner;    /* product of dims after axis */
    size_t es;
};

static enum nnp_status concat_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    enum nnp_status st;
    for (int k = 0; k < n->n_in; k++)
        if ((st = nnp_opx_need(n, k, "inputs")) != NNP_OK)
            return st;
    const struct nnp_rt_value *x0 = n->in[0];
    if ((st = nnp_opx_fixed_size(n, x0, "input 0")) != NNP_OK)
        return st;
    int64_t axis;
    if ((st = nnp_opx_attr_int(n, "axis", INT64_MIN, &axis)) != NNP_OK)
        return st;
    if (axis == INT64_MIN) {
        if (n->opset >= 4)
            return nnp_op_error(n, "Concat needs the attribute \"axis\"");
        axis = 1; /* Concat-1's default */
    }
    struct concat_state *s = nnp_arena_alloc(a, sizeof *s);
    if ((st = nnp_opx_axis(n, "Concat axis", axis, x0->rank, &s->axis)) != NNP_OK)
        return st;
    int64_t dims[NNP_MAX_RANK];
    memcpy(dims, x0->dims, sizeof dims);
    dims[s->axis] = 0;
    for (int k = 0; k < n->n_in; k++) {
        const struct nnp_rt_value *x = n->in[k];
        char b0[160], bk[160];
        if (x->dtype != x0->dtype)
            return nnp_op_error(n, "Concat inputs must have one dtype, input %d is %s, input 0 %s",
                                k, nnp_dtype_name(x->dtype), nnp_dtype_name(x0->dtype));
        bool ok = x->rank == x0->rank;
        for (int i = 0; ok && i < x0->rank; i++)
            ok = i == s->axis || x->dims[i] == x0->dims[i];
        if (!ok)
            return nnp_op_error(n, "Concat input %d is %s, input 0 is %s: they must agree except "
                                   "on axis %d",
                                k, nnp_rt_shape_str(x, bk, sizeof bk),
                                nnp_rt_shape_str(x0, b0, sizeof b0), s->axis);
        dims[s->axis] += x->dims[s->axis];
    }
    s->outer = 1, s->inner = 1;
    for (int i = 0; i < x0->rank; i++) {
        if (i < s->axis)
            s->outer *= dims[i];
        else if (i > s->axis)
            s->inner *= dims[i];
    }
    s->es = nnp_dtype_size(x0->dtype);
    n->state = s;
    return nnp_rt_set_shape(n->out[0], x0->dtype, x0->rank, dims);
}

static enum nnp_status concat_forward(struct nnp_exec_node *n)
{
    const struct concat_state *s = n->state;
    char *o = n->out[0]->data;
    for (int64_t i = 0; i < s->outer; i++)
        for (int k = 0; k < n->n_in; k++) {
            const struct nnp_rt_value *x = n->in[k];
            size_t chunk = (size_t)(x->dims[s->axis] * s->inner) * s->es;
            if (chunk) {
                memcpy(o, (const char *)x->data + (size_t)i * chunk, chunk);
                o += chunk;
            }
        }
    return NNP_OK;
}

const struct nnp_op nnp_op_Concat = {
    .name = "Concat",
    .min_in = 1,
    .max_in = 2147483647,
    .min_out = 1,
    .max_out = 1,
    .prepare = concat_prepare,
    .forward = concat_forward,
    .reference = NULL,
    .backward = NULL,
};

/* --- Split --- */

struct split_state {
    int axis;
    int64_t outer, inner; /* as Concat's */
    size_t es;
    int64_t *sizes;       /* (n_out) along axis, omitted outputs included */
};

static enum nnp_status split_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    enum nnp_status st = nnp_opx_need(n, 0, "input");
    if (st == NNP_OK)
        st = nnp_opx_fixed_size(n, n->in[0], "the input");
    if (st != NNP_OK)
        return st;
    const struct nnp_rt_value *x = n->in[0];
    int64_t axis;
    if ((st = nnp_opx_attr_int(n, "axis", 0, &axis)) != NNP_OK)
        return st;
    struct split_state *s = nnp_arena_alloc(a, sizeof *s);
    if ((st = nnp_opx_axis(n, "Split axis", axis, x->rank, &s->axis)) != NNP_OK)
        return st;
    int n_out = n->n_out;
    int64_t *split = s->sizes = nnp_arena_alloc(a, (size_t)n_out * sizeof *split);
    int cnt = -1;
    if (n->opset < 13) {
        st = nnp_opx_attr_ints(n, "split", split, n_out, &cnt);
        /* Split-1 could also take split as input 1 */
        if (st == NNP_OK && cnt < 0 && nnp_opx_has(n, 1))
            st = nnp_opx_const_ints(n, 1, "Split's split", split, n_out, &cnt);
    } else if (nnp_opx_has(n, 1) && n->in[1]->numel > 0) { /* empty: equal parts */
        st = nnp_opx_const_ints(n, 1, "Split's split", split, n_out, &cnt);
    }
    if (st != NNP_OK)
        return st;
    int64_t d = x->dims[s->axis];
    if (cnt < 0) { /* equal parts */
        if (d % n_out != 0)
            return nnp_op_error(n, "Split of a dim of %" PRId64 " into %d equal parts", d, n_out);
        for (int k = 0; k < n_out; k++)
            split[k] = d / n_out;
    } else {
        if (cnt != n_out)
            return nnp_op_error(n, "Split has %d sizes for %d outputs", cnt, n_out);
        int64_t sum = 0;
        for (int k = 0; k < n_out; k++) {
            if (split[k] < 0)
                return nnp_op_error(n, "Split size %d is negative (%" PRId64 ")", k, split[k]);
            sum += split[k];
        }
        if (sum != d)
            return nnp_op_error(n, "Split sizes add up to %" PRId64 ", the axis has %" PRId64,
                                sum, d);
    }
    s->outer = 1, s->inner = 1;
    for (int i = 0; i < x->rank; i++) {
        if (i < s->axis)
            s->outer *= x->dims[i];
        else if (i > s->axis)
            s->inner *= x->dims[i];
    }
    s->es = nnp_dtype_size(x->dtype);
    for (int k = 0; k < n_out; k++) {
        if (!n->out[k])
            continue;
        int64_t dims[NNP_MAX_RANK];
        memcpy(dims, x->dims, sizeof dims);
        dims[s->axis] = split[k];
        if ((st = nnp_rt_set_shape(n->out[k], x->dtype, x->rank, dims)) != NNP_OK)
            return st;
    }
    n->state = s;
    return NNP_OK;
}

static enum nnp_status split_forward(struct nnp_exec_node *n)
{
    const struct split_state *s = n->state;
    const int64_t *sizes = s->sizes;
    const char *p = n->in[0]->data;
    for (int64_t i = 0; i < s->outer; i++)
        for (int k = 0; k < n->n_out; k++) {
            size_t chunk = (size_t)(sizes[k] * s->inner) * s->es;
            if (n->out[k] && chunk)
                memcpy((char *)n->out[k]->data + (size_t)i * chunk, p, chunk);
            p += chunk;
        }
    return NNP_OK;
}

const struct nnp_op nnp_op_Split = {
    .name = "Split",
    .min_in = 1,
    .max_in = 2,
    .min_out = 1,
    .max_out = 2147483647,
    .prepare = split_prepare,
    .forward = split_forward,
    .reference = NULL,
    .backward = NULL,
    .const_inputs = NNP_SLOT(1),
};

/* --- Slice --- */

struct slice_state {
    int rank;
    int64_t offset;           /* element offset of the first element copied */
    int64_t st[NNP_MAX_RANK]; /* element strides of the view (negative for negative steps) */
    size_t es;
};

static enum nnp_status slice_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    enum nnp_status st = nnp_opx_need(n, 0, "data");
    if (st == NNP_OK)
        st = nnp_opx_fixed_size(n, n->in[0], "the input");
    if (st != NNP_OK)
        return st;
    const struct nnp_rt_value *x = n->in[0];
    int r = x->rank;
    int64_t starts[NNP_MAX_RANK], ends[NNP_MAX_RANK], axes[NNP_MAX_RANK], steps[NNP_MAX_RANK];
    int n_starts, n_ends, n_axes = -1, n_steps = -1;
    if (n->opset < 10) {
        st = nnp_opx_attr_ints(n, "starts", starts, NNP_MAX_RANK, &n_starts);
        if (st == NNP_OK)
            st = nnp_opx_attr_ints(n, "ends", ends, NNP_MAX_RANK, &n_ends);
        if (st == NNP_OK)
            st = nnp_opx_attr_ints(n, "axes", axes, NNP_MAX_RANK, &n_axes);
        if (st == NNP_OK && (n_starts < 0 || n_ends < 0))
            return nnp_op_error(n, "Slice before opset 10 needs the attributes starts and ends");
    } else {
        if ((st = nnp_opx_need(n, 1, "starts")) != NNP_OK ||
            (st = nnp_opx_need(n, 2, "ends")) != NNP_OK)
            return st;
        st = nnp_opx_const_ints(n, 1, "Slice's starts", starts, NNP_MAX_RANK, &n_starts);
        if (st == NNP_OK)
            st = nnp_opx_const_ints(n, 2, "Slice's ends", ends, NNP_MAX_RANK, &n_ends);
        if (st == NNP_OK && nnp_opx_has(n, 3))
            st = nnp_opx_const_ints(n, 3, "Slice's axes", axes, NNP_MAX_RANK, &n_axes);
        if (st == NNP_OK && nnp_opx_has(n, 4))
            st = nnp_opx_const_ints(n, 4, "Slice's steps", steps, NNP_MAX_RANK, &n_steps);
    }
    if (st != NNP_OK)
        return st;
    if (n_ends != n_starts)
        return nnp_op_error(n, "Slice has %d starts and %d ends", n_starts, n_ends);
    if (n_axes >= 0 && n_axes != n_starts)
        return nnp_op_error(n, "Slice has %d starts and %d axes", n_starts, n_axes);
    if (n_steps >= 0 && n_steps != n_starts)
        return nnp_op_error(n, "Slice has %d starts and %d steps", n_starts, n_steps);
    if (n_starts > r)
        return nnp_op_error(n, "Slice has %d starts for rank %d", n_starts, r);

    /* per dim: first index, step, count; untouched dims keep everything */
    int64_t first[NNP_MAX_RANK], step[NNP_MAX_RANK], dims[NNP_MAX_RANK];
    bool seen[NNP_MAX_RANK] = {false};
    for (int i = 0; i < r; i++)
        first[i] = 0, step[i] = 1, dims[i] = x->dims[i];
    for (int k = 0; k < n_starts; k++) {
        int ax;
        if ((st = nnp_opx_axis(n, "Slice axis", n_axes >= 0 ? axes[k] : k, r, &ax)) != NNP_OK)
            return st;
        if (seen[ax])
            return nnp_op_error(n, "Slice axis %d is given twice", ax);
        seen[ax] = true;
        int64_t d = x->dims[ax], s = starts[k], e = ends[k], p = n_steps >= 0 ? steps[k] : 1;
        if (p == 0)
            return nnp_op_error(n, "Slice step on axis %d is 0", ax);
        if (s < 0)
            s += d;
        if (e < 0)
            e += d;
        int64_t len;
        if (p > 0) {
            s = s < 0 ? 0 : s > d ? d : s;
            e = e < 0 ? 0 : e > d ? d : e;
            len = e > s ? (e - s + p - 1) / p : 0;
        } else {
            s = s < 0 ? 0 : s > d - 1 ? d - 1 : s;
            e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
            len = s > e ? (s - e + (-p) - 1) / (-p) : 0;
        }
        first[ax] = s, step[ax] = p, dims[ax] = len;
    }
    struct slice_state *ss = nnp_arena_alloc(a, sizeof *ss);
    ss->rank = r;
    ss->es = nnp_dtype_size(x->dtype);
    int64_t in_st[NNP_MAX_RANK];
    contiguous_strides(r, x->dims, in_st);
    for (int i = 0; i < r; i++) {
        ss->st[i] = in_st[i] * step[i];
        if (dims[i] > 0)
            ss->offset += first[i] * in_st[i];
    }
    n->state = ss;
    return nnp_rt_set_shape(n->out[0], x->dtype, r, dims);
}

static enum nnp_status slice_forward(struct nnp_exec_node *n)
{
    const struct slice_state *s = n->state;
    struct nnp_rt_value *y = n->out[0];
    if (y->numel)
        strided_copy(y->data, (const char *)n->in[0]->data + s->offset * (int64_t)s->es, s->rank,
                     y->dims, s->st, s->es);
    return NNP_OK;
}

static enum nnp_status slice_reference(struct nnp_exec_node *n)
{
    const struct slice_state *s = n->state;
    struct nnp_rt_value *y = n->out[0];
    if (y->numel)
        strided_copy_ref(y->data, (const char *)n->in[0]->data + s->offset * (int64_t)s->es,
                         s->rank, y->dims, s->st, s->es);
    return NNP_OK;
}

const struct nnp_op nnp_op_Slice = {
    .name = "Slice",
    .min_in = 1,
    .max_in = 5,
    .min_out = 1,
    .max_out = 1,
    .prepare = slice_prepare,
    .forward = slice_forward,
    .reference = slice_reference,
    .backward = NULL,
    .const_inputs = NNP_SLOT(1) | NNP_SLOT(2) | NNP_SLOT(3) | NNP_SLOT(4),
};

/* --- Gather --- */

struct gather_state {
    int axis;
    int64_t outer, dim, inner; /* data is (outer, dim, inner) around axis */
    size_t es;
};

static enum nnp_status gather_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    enum nnp_status st = nnp_opx_need(n, 0, "data");
    if (st == NNP_OK)
        st = nnp_opx_need(n, 1, "indices");
    if (st == NNP_OK)
        st = nnp_opx_fixed_size(n, n->in[0], "data");
    if (st != NNP_OK)
        return st;
    const struct nnp_rt_value *x = n->in[0], *ix = n->in[1];
    if (ix->dtype != NNP_DTYPE_I64 && ix->dtype != NNP_DTYPE_I32)
        return nnp_op_error(n, "Gather indices must be int32 or int64, found %s",
                            nnp_dtype_name(ix->dtype));
    if (x->rank < 1)
        return nnp_op_error(n, "Gather data must have rank >= 1, found a scalar");
    int64_t axis;
    struct gather_state *s = nnp_arena_alloc(a, sizeof *s);
    if ((st = nnp_opx_attr_int(n, "axis", 0, &axis)) != NNP_OK ||
        (st = nnp_opx_axis(n, "Gather axis", axis, x->rank, &s->axis)) != NNP_OK)
        return st;
    int r = x->rank - 1 + ix->rank;
    if (r > NNP_MAX_RANK)
        return nnp_op_unsupported(n, "Gather output of rank %d: at most %d are supported", r,
                                  NNP_MAX_RANK);
    int64_t dims[NNP_MAX_RANK];
    int k = 0;
    s->outer = 1, s->inner = 1, s->dim = x->dims[s->axis];
    for (int i = 0; i < s->axis; i++)
        s->outer *= dims[k++] = x->dims[i];
    for (int i = 0; i < ix->rank; i++)
        dims[k++] = ix->dims[i];
    for (int i = s->axis + 1; i < x->rank; i++)
        s->inner *= dims[k++] = x->dims[i];
    s->es = nnp_dtype_size(x->dtype);
    n->state = s;
    return nnp_rt_set_shape(n->out[0], x->dtype, r, dims);
}

static enum nnp_status gather_forward(struct nnp_exec_node *n)
{
    const struct gather_state *s = n->state;
    const struct nnp_rt_value *x = n->in[0], *ix = n->in[1];
    int64_t m = ix->numel;
    /* check every index first: an error leaves no half-written output */
    for (int64_t j = 0; j < m; j++) {
        int64_t v = nnp_rt_get_int(ix, j);
        if (v < -s->dim || v >= s->dim)
            return nnp_op_error(n, "Gather index %" PRId64 " (element %" PRId64
                                   ") is out of range for axis %d of size %" PRId64,
                                v, j, s->axis, s->dim);
    }
    size_t chunk = (size_t)s->inner * s->es;
    if (chunk == 0)
        return NNP_OK;
    char *o = n->out[0]->data;
    const char *base = x->data;
    for (int64_t i = 0; i < s->outer; i++) {
        const char *row = base + (size_t)(i * s->dim) * chunk;
        for (int64_t j = 0; j < m; j++) {
            int64_t v = nnp_rt_get_int(ix, j);
            if (v < 0)
                v += s->dim;
            memcpy(o, row + (size_t)v * chunk, chunk);
            o += chunk;
        }
    }
    return NNP_OK;
}

const struct nnp_op nnp_op_Gather = {
    .name = "Gather",
    .min_in = 2,
    .max_in = 2,
    .min_out = 1,
    .max_out = 1,
    .prepare = gather_prepare,
    .forward = gather_forward,
    .reference = NULL,
    .backward = NULL,
};

/* --- Pad --- */

enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

struct pad_state {
    enum pad_mode mode;
    int rank;
    int64_t begin[NNP_MAX_RANK]; /* pads before each dim (negative: cropped) */
    uint8_t value[16];           /* the constant, one element; input 2 overrides at run time */
    size_t es;
};

static enum nnp_status pad_prepare(struct nnp_exec_node *n, struct nnp_arena *a)
{
    enum nnp_status st = nnp_opx_need(n, 0, "data");
    if (st == NNP_OK)
        st = nnp_opx_fixed_size(n, n->in[0], "data");
    if (st != NNP_OK)
        return st;
    const struct nnp_rt_value *x = n->in[0];
    int r = x->rank;
    struct pad_state *s = nnp_arena_alloc(a, sizeof *s);
    s->rank = r;
    s->es = nnp_dtype_size(x->dtype);
    const char *mode;
    if ((st = nnp_opx_attr_string(n, "mode", "constant", &mode)) != NNP_OK)
        return st;
    if (strcmp(mode, "constant") == 0)
        s->mode = PAD_CONSTANT;
    else if (strcmp(mode, "reflect") == 0)
        s->mode = PAD_REFLECT;
    else if (strcmp(mode, "edge") == 0)
        s->mode = PAD_EDGE;
    else
        return nnp_op_unsupported(n, "Pad mode \"%s\" is not supported (constant, reflect, edge)",
                                  mode);

    int64_t pads[2 * NNP_MAX_RANK], axes[NNP_MAX_RANK];
    int cnt, n_axes = -1;
    if (n->opset < 11) {
        st = nnp_opx_attr_ints(n, n->opset < 2 ? "paddings" : "pads", pads, 2 * NNP_MAX_RANK,
                               &cnt);
        if (st == NNP_OK && cnt < 0)
            return nnp_op_error(n, "Pad needs the attribute \"%s\"",
                                n->opset < 2 ? "paddings" : "pads");
        float v;
        if (st == NNP_OK && (st = nnp_opx_attr_float(n, "value", 0.0f, &v)) == NNP_OK) {
            if (!nnp_dtype_is_float(x->dtype) && !nnp_dtype_is_int(x->dtype) &&
                x->dtype != NNP_DTYPE_BOOL)
                return nnp_op_unsupported(n, "Pad of %s tensors", nnp_dtype_name(x->dtype));
            nnp_elem_set_f64(x->dtype, s->value, 0, v);
        }
    } else {
        st = nnp_opx_need(n, 1, "pads");
        if (st == NNP_OK)
            st = nnp_opx_const_ints(n, 1, "Pad's pads", pads, 2 * NNP_MAX_RANK, &cnt);
        if (st == NNP_OK && nnp_opx_has(n, 2)) {
            const struct nnp_rt_value *c = n->in[2];
            NNP_OP_CHECK(n, c->dtype == x->dtype && c->numel == 1,
                         "Pad constant_value must be one %s, found %s with %" PRId64 " elements",
                         nnp_dtype_name(x->dtype), nnp_dtype_name(c->dtype), c->numel);
        }
        if (st == NNP_OK && nnp_opx_has(n, 3)) /* opset 18 */
            st = nnp_opx_const_ints(n, 3, "Pad's axes", axes, NNP_MAX_RANK, &n_axes);
    }
    if (st != NNP_OK)
        return st;
    int n_pad_axes = n_axes >= 0 ? n_axes : r;
    if (cnt != 2 * n_pad_axes)
        return nnp_op_error(n, "Pad has %d pads, %d expected (2 per axis)", cnt, 2 * n_pad_axes);
    int64_t end[NNP_MAX_RANK] = {0}, dims[NNP_MAX_RANK];
    bool seen[NNP_MAX_RANK] = {false};
    for (int k = 0; k < n_pad_axes; k++) {
        int ax = k;
        if (n_axes >= 0 && (st = nnp_opx_axis(n, "Pad axis", axes[k], r, &ax)) != NNP_OK)
            return st;
        if (seen[ax])
            return nnp_op_error(n, "Pad axis %d is given twice", ax);
        seen[ax] = true;
        s->begin[ax] = pads[k];
        end[ax] = pads[n_pad_axes + k];
    }
    for (int i = 0; i < r; i++) {
        dims[i] = x->dims[i] + s->begin[i] + end[i];
        if (dims[i] < 0)
            return nnp_op_error(n, "Pad crops axis %d of size %" PRId64 " below zero", i,
                                x->dims[i]);
        if (s->mode != PAD_CONSTANT && x->dims[i] == 0 && dims[i] > 0)
            return nnp_op_error(n, "Pad mode %s cannot pad axis %d, which is empty", mode, i);
    }
    n->state = s;
    return nnp_rt_set_shape(n->out[0], x->dtype, r, dims);
}

/* Source index of output position j - begin in a dim of size d; -1: the constant. */
static int64_t pad_src(enum pad_mode mode, int64_t j, int64_t d)
{
    if (j >= 0 && j < d)
        return j;
    switch (mode) {
    case PAD_CONSTANT: return -1;
    case PAD_EDGE: return j < 0 ? 0 : d - 1;
    case PAD_REFLECT: {
        if (d == 1)
            return 0;
        int64_t period = 2 * (d - 1); /* reflect without repeating the edge, as NumPy */
        j %= period;
        if (j < 0)
            j += period;
        return j < d ? j : period - j;
    }
    }
    return -1;
}

static enum nnp_status pad_forward(struct nnp_exec_node *n)
{
    const struct pad_state *s = n->state;
    const struct nnp_rt_value *x = n->in[0];
    struct nnp_rt_value *y = n->out[0];
    if (y->numel == 0)
        return NNP_OK;
    size_t es = s->es;
    const void *cval = s->value;
    if (n->opset >= 11 && nnp_opx_has(n, 2))
        cval = n->in[2]->data;
    if (s->rank == 0) {
        memcpy(y->data, x->data, es);
        return NNP_OK;
    }
    int r = s->rank;
    int64_t in_st[NNP_MAX_RANK];
    contiguous_strides(r, x->dims, in_st);
    int64_t ow = y->dims[r - 1], iw = x->dims[r - 1], b = s->begin[r - 1];
    /* the run of the last dim that is a plain copy: output [lo, hi) */
    int64_t lo = b < 0 ? 0 : b, hi = b + iw < ow ? b + iw : ow;
    int64_t idx[NNP_MAX_RANK] = {0};
    char *o = y->data;
    for (int64_t row = 0; row < y->numel / ow; row++, o += (size_t)ow * es) {
        int64_t off = 0;
        bool fill = false;
        for (int d = 0; d < r - 1; d++) {
            int64_t j = pad_src(s->mode, idx[d] - s->begin[d], x->dims[d]);
            if (j < 0) {
                fill = true;
                break;
            }
            off += j * in_st[d];
        }
        if (fill) {
            nnp_elem_fill(o, cval, es, ow);
        } else {
            const char *src = (const char *)x->data + (size_t)off * es;
            for (int64_t c = 0; c < lo && c < ow; c++) {
                int64_t j = pad_src(s->mode, c - b, iw);
                nnp_elem_copy(o + (size_t)c * es, j < 0 ? cval : src + (size_t)j * es, es);
            }
            if (hi > lo)
                memcpy(o + (size_t)lo * es, src + (size_t)(lo - b) * es, (size_t)(hi - lo) * es);
            for (int64_t c = hi > lo ? hi : lo; c < ow; c++) {
                int64_t j = pad_src(s->mode, c - b, iw);
                nnp_elem_copy(o + (size_t)c * es, j < 0 ? cval : src + (size_t)j * es, es);
            }
        }
        for (int d = r - 2; d >= 0; d--) {
            if (++idx[d] < y->dims[d])
                break;
            idx[d] = 0;
        }
    }
    return NNP_OK;
}

/* pads and axes decide the output shape; constant_value (slot 2) is read at run time */
const struct nnp_op nnp_op_Pad = {
    .name = "Pad",
    .min_in = 1,
    .max_in = 4,
    .min_out = 1,
    .max_out = 1,
    .prepare = pad_prepare,
    .forward = pad_forward,
    .reference = NULL,
    .backward = NULL,
    .const_inputs = NNP_SLOT(1) | NNP_SLOT(3),
};
