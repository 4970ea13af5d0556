/* kernels/runtime.h — running a graph: the reference runtime nnpress measures with.
 *
 *     struct nnp_runtime_opts o = nnp_runtime_opts_default();
 *     o.batch = 64;                              // binds a symbolic first dim ("batch")
 *     struct nnp_runtime *rt;
 *     if (nnp_runtime_new(g, &o, &rt) != NNP_OK) // shapes, kernels, memory plan
 *         return fail();                         // "node conv1: ..." or "input x: ..."
 *     struct nnp_rt_value *x = nnp_runtime_input(rt, 0);
 *     memcpy(x->data, pixels, x->nbytes);
 *     nnp_runtime_run(rt);
 *     const float *logits = nnp_runtime_output(rt, 0)->data;
 *     nnp_runtime_free(rt);
 *
 * Load -> shape inference (nodes whose inputs are all constant are computed
 * once, at plan time: the Shape/Gather/Concat chains exporters put in front of
 * Reshape) -> memory plan (activation buffers reused by liveness, one arena)
 * -> execute nodes through the operator table (kernels/ops/ops.def).
 *
 * The graph must outlive the runtime (attributes are read from it at plan time).
 */
#ifndef NNP_RUNTIME_H
#define NNP_RUNTIME_H

#include "kernels/graph.h"
#include "kernels/ops/op.h"

struct nnp_runtime_opts {
    int threads;       /* the runtime's thread pool (OpenBLAS runs on 1); 0 = all cores */
    int64_t batch;     /* the value of a symbolic or unknown first input dimension; default 1.
                        * Any other unknown dimension needs the input's shape (input_shapes) */
    bool keep_all;     /* give every value its own buffer (no reuse), for --dump-all */
    bool no_fuse;      /* run every node on its own: no activation or Add in an epilogue */
    bool use_reference; /* run the naive reference kernels (tests) */
    bool training;     /* keep activations and allocate gradients (roadmap step 5) */
    /* explicit input shapes (e.g. from files given to `run`): NULL or one per graph input;
     * an entry with rank < 0 falls back to the model's shape with `batch` bound */
    const struct nnp_tensor *input_shapes;
    /* the values the caller will feed, known before the plan: NULL or one per graph input
     * (entries without data: not known). Those of the inputs nnp_runtime_const_inputs()
     * names are planned as constants: a shape given as an input (Reshape's shape, Slice's
     * starts) is then as static as an initializer. Such an input is still among
     * nnp_runtime_input(); a run refuses when it holds other values than these. */
    const struct nnp_tensor *input_values;
    /* refuse (NNP_ERR_NOMEM) a plan whose memory would exceed this many bytes: the
     * activation arena, scratch, gradients and everything the plan holds (constants
     * computed at plan time, kernel tables). 0 = the machine's physical memory, which
     * is also the ceiling of any larger value */
    size_t max_bytes;
    /* refuse (NNP_ERR_UNSUPPORTED) a plan whose estimated work exceeds this many steps:
     * the nodes computed at plan time plus one run, each counted as its multiply-adds or
     * window taps (Conv, MatMul, pools, Resize: what its prepare estimates) or else one
     * step per input and output element. Checked before anything is computed; bounds
     * the time of hostile models (tests/fuzz/fuzz_run.c). 0 = no limit */
    uint64_t max_work;
};

/*! @return threads 0 (all cores), batch 1, everything else off. */
struct nnp_runtime_opts nnp_runtime_opts_default(void);

struct nnp_runtime;

/*! nnp_runtime_const_inputs() : which graph inputs decide a shape, so that a plan needs
 *  their values (opts.input_values): those that reach an input slot an operator reads at
 *  plan time (kernels/ops/op.h const_inputs), directly or through other nodes. Sets
 *  needed[i] for each g->inputs[i]. @return how many are needed. */
int nnp_runtime_const_inputs(const struct nnp_graph *g, bool *needed);

/*! nnp_runtime_new() : plan g for running. @return NNP_OK and *out; or
 *  NNP_ERR_UNSUPPORTED (an op the runtime lacks, named with its node; or more work
 *  than o->max_work), NNP_ERR_INVALID (shapes or attributes that do not fit),
 *  NNP_ERR_NOMEM (more memory than o->max_bytes or the machine has). */
enum nnp_status nnp_runtime_new(const struct nnp_graph *g, const struct nnp_runtime_opts *o,
                                struct nnp_runtime **out);
/*! Frees the runtime and its buffers; accepts NULL. */
void nnp_runtime_free(struct nnp_runtime *rt);

/*! nnp_runtime_run() : run every node once. Inputs are read from
 *  nnp_runtime_input(rt, i)->data, outputs left in nnp_runtime_output(rt, i)->data.
 *  @return NNP_OK, or an error naming the node (e.g. a Gather index out of range), or
 *  NNP_ERR_INVALID when an input planned from its values now holds others (plan again). */
enum nnp_status nnp_runtime_run(struct nnp_runtime *rt);
/*! @return whether every input planned from its values (opts.input_values) still holds
 *  them; when not, the message names the first that changed. */
bool nnp_runtime_inputs_as_planned(const struct nnp_runtime *rt);

/* Inputs are the graph inputs the caller fills, in graph order: a graph input that is
 * also an initializer is a constant and not among them unless input_shapes gave it a
 * shape (then it starts out holding the initializer's values). Find one by ->name. */
int nnp_runtime_n_inputs(const struct nnp_runtime *rt);
int nnp_runtime_n_outputs(const struct nnp_runtime *rt);
struct nnp_rt_value *nnp_runtime_input(struct nnp_runtime *rt, int i);
struct nnp_rt_value *nnp_runtime_output(struct nnp_runtime *rt, int i);
/* Nodes that run with others fused into their epilogue (an Add, an activation). */
struct nnp_runtime_fused {
    const struct nnp_node *node;          /* the node that runs: a Conv, Gemm, MatMul */
    int n_fused;
    const struct nnp_node *const *fused; /* (n_fused) the nodes it took in, in order */
};
/*! @return how many nodes run with others fused in. */
int nnp_runtime_n_fused(const struct nnp_runtime *rt);
/*! @return the i-th of them, in execution order. */
struct nnp_runtime_fused nnp_runtime_fused_at(const struct nnp_runtime *rt, int i);

/*! @return the runtime value called `name` (any intermediate when keep_all), or NULL. */
struct nnp_rt_value *nnp_runtime_value(struct nnp_runtime *rt, const char *name);
/*! Visit every value a node produced, in execution order (for --dump-all); a value that
 *  a fused node computes inside its epilogue is `elided` and has no data. */
int nnp_runtime_n_values(const struct nnp_runtime *rt);
struct nnp_rt_value *nnp_runtime_value_at(struct nnp_runtime *rt, int i);

/* The memory plan. */
struct nnp_runtime_memory {
    size_t arena_bytes;  /* activations, after reuse by liveness: the peak */
    size_t naive_bytes;  /* activations, one buffer each: what reuse saved */
    size_t scratch_bytes; /* largest scratch any kernel asked for */
    size_t const_bytes;   /* weights and plan-time constants */
    double flops;         /* one run's floating-point work in the matrix operators (Conv,
                             Gemm, MatMul...: 2 x multiply-adds); elementwise work not counted */
    uint64_t work_folded; /* estimated steps computed at plan time (see max_work) */
    uint64_t work_run;    /* estimated steps of one run */
};
struct nnp_runtime_memory nnp_runtime_memory(const struct nnp_runtime *rt);

/*! @return the BLAS kernel OpenBLAS chose ("SkylakeX"), for reports. */
const char *nnp_blas_corename(void);
/*! Set OpenBLAS's thread count (once per process is enough; cheap when unchanged). */
void nnp_blas_threads(int n);

#endif
