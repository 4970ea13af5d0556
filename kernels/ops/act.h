/* kernels/ops/act.h — the activations an operator can apply to its own output
 * (a fused epilogue) instead of leaving them to a node of their own.
 *
 *     struct nnp_act a = {NNP_ACT_CLIP, 0.0f, 6.0f};   // Relu6
 *     nnp_act_apply(&a, n, y);                        // y[i] = min(max(y[i], 0), 6)
 *
 * nnp_act_apply() runs the very loops the Relu, Clip, Sigmoid... operators run
 * (kernels/ops/op_unary.c), so a fused activation gives the same bits as the
 * unfused node. The matrix kernels apply RELU, LEAKY_RELU and CLIP in registers
 * with the same comparisons (kernels/simd/gemm.c); the others through this function,
 * on a tile that is still in cache.
 */
#ifndef NNP_ACT_H
#define NNP_ACT_H

#include <stdbool.h>
#include <stdint.h>

struct nnp_exec_node;

enum nnp_act_kind {
    NNP_ACT_NONE,
    NNP_ACT_RELU,         /* max(0, x) */
    NNP_ACT_LEAKY_RELU,   /* x < 0 ? alpha x : x */
    NNP_ACT_CLIP,         /* min(max(x, alpha), beta): Relu6 is Clip(0, 6) */
    NNP_ACT_HARD_SIGMOID, /* max(0, min(1, alpha x + beta)) */
    NNP_ACT_HARD_SWISH,   /* x max(0, min(1, x / 6 + 1/2)) */
    NNP_ACT_SIGMOID,
    NNP_ACT_TANH,
    NNP_ACT_GELU,      /* exact (erf) */
    NNP_ACT_GELU_TANH, /* approximate = "tanh" */
    NNP_ACT_COUNT
};

struct nnp_act {
    enum nnp_act_kind kind;
    float alpha, beta; /* LeakyRelu alpha; Clip min, max; HardSigmoid alpha, beta */
};

/*! y[i] = act(y[i]) for i < n, float32, with the operator's own loop. */
void nnp_act_apply(const struct nnp_act *a, int64_t n, float *y);

/*! @return the name of the operator the activation comes from ("Relu", "Clip"). */
const char *nnp_act_name(enum nnp_act_kind kind);

/*! nnp_act_of_node() : the activation a prepared float32 node computes (Relu, LeakyRelu,
 *  Clip with constant bounds, HardSigmoid, HardSwish, Sigmoid, Tanh, Gelu), into *out.
 *  @return whether it is one (anything else, or another type: false). */
bool nnp_act_of_node(const struct nnp_exec_node *n, struct nnp_act *out);

#endif
