/*
 * dishim: the thin C API over libtorch that diffinstruct's Java bindings are generated from.
 *
 * Conventions (modelled on tch-rs' torch_api.h):
 *  - Every object is an opaque handle owned by exactly one caller and released by its own
 *    dt_*_free function. Handles carry a type tag: a handle of the wrong kind, or a freed one
 *    whose memory was not reused, is refused with an error rather than dereferenced.
 *  - No C++ exception crosses this boundary. A function that returns a handle returns NULL on
 *    failure; a function that returns int returns 0 on success and -1 on failure. The message of
 *    the last failure on the calling thread is read with dt_last_error().
 *  - Strings and byte buffers returned by the API are malloc'd and released with dt_buffer_free.
 *  - dtype codes follow c10::ScalarType (see DT_* below); devices are strings ("cpu", "cuda:0").
 */
#ifndef DISHIM_H
#define DISHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dt_tensor_s dt_tensor_s;
typedef struct dt_module_s dt_module_s;
typedef struct dt_adam_s dt_adam_s;
typedef struct dt_generator_s dt_generator_s;
typedef struct dt_group_s dt_group_s;
typedef dt_tensor_s *dt_tensor;
typedef dt_module_s *dt_module;
typedef dt_adam_s *dt_adam;
typedef dt_generator_s *dt_generator;
typedef dt_group_s *dt_group;

/* dtypes (values of c10::ScalarType) */
#define DT_UINT8 0
#define DT_INT32 3
#define DT_INT64 4
#define DT_FLOAT16 5
#define DT_FLOAT32 6
#define DT_FLOAT64 7
#define DT_BOOL 11
#define DT_BFLOAT16 15

/* element-wise unary operations for dt_unary */
#define DT_OP_NEG 0
#define DT_OP_EXP 1
#define DT_OP_LOG 2
#define DT_OP_SQRT 3
#define DT_OP_SQUARE 4
#define DT_OP_ABS 5
#define DT_OP_RELU 6
#define DT_OP_SIGMOID 7
#define DT_OP_TANH 8
#define DT_OP_SIN 9
#define DT_OP_COS 10
#define DT_OP_RSQRT 11
#define DT_OP_RECIPROCAL 12
#define DT_OP_SIGN 13
#define DT_OP_ISFINITE 14
#define DT_OP_FLOOR 15
#define DT_OP_ROUND 16
#define DT_OP_LOG1P 17
#define DT_OP_EXPM1 18
#define DT_OP_SILU 19

/* element-wise binary operations (broadcasting) for dt_binary and dt_binary_scalar */
#define DT_OP_ADD 0
#define DT_OP_SUB 1
#define DT_OP_MUL 2
#define DT_OP_DIV 3
#define DT_OP_POW 4
#define DT_OP_MAXIMUM 5
#define DT_OP_MINIMUM 6
#define DT_OP_EQ 7
#define DT_OP_NE 8
#define DT_OP_LT 9
#define DT_OP_LE 10
#define DT_OP_GT 11
#define DT_OP_GE 12
#define DT_OP_ATAN2 13
#define DT_OP_RSUB 14 /* scalar - tensor, for dt_binary_scalar */

/* reductions for dt_reduce */
#define DT_RED_SUM 0
#define DT_RED_MEAN 1
#define DT_RED_MAX 2
#define DT_RED_MIN 3
#define DT_RED_PROD 4
#define DT_RED_VAR 5 /* unbiased */
#define DT_RED_STD 6 /* unbiased */
#define DT_RED_NORM 7 /* L2 */
#define DT_RED_ARGMAX 8
#define DT_RED_ARGMIN 9
#define DT_RED_ALL 10
#define DT_RED_ANY 11
#define DT_RED_LOGSUMEXP 12

/* argument kinds for dt_module_run */
#define DT_ARG_TENSOR 0
#define DT_ARG_DOUBLE 1
#define DT_ARG_INT 2
#define DT_ARG_BOOL 3
#define DT_ARG_NONE 4

/* ---- errors, buffers, runtime ---------------------------------------------------------- */
/* Message of the last failure on this thread ("" if none). Valid until the next failing call. */
const char *dt_last_error(void);
void dt_clear_error(void);
/* Releases a string or byte buffer that the API malloc'd (NULL is ignored). */
void dt_buffer_free(char *buf);

/* libtorch version, e.g. "1.13.1" (static string) */
const char *dt_torch_version(void);
/* at::show_config(): how libtorch was built (BLAS, OpenMP, CUDA ...). */
char *dt_build_config(void);
int dt_cuda_is_available(void);
int dt_cuda_device_count(void);
int dt_get_num_threads(void);
int dt_set_num_threads(int n);
int dt_set_flush_denormal(int on);
/* Seeds libtorch's default CPU (and CUDA) generators: what dropout in TorchScript uses. */
int dt_manual_seed(uint64_t seed);
/* State of the default generator of a device ("cpu" or NULL, "cuda", "cuda:N": what dropout on
 * that device draws from) as a uint8 tensor on the CPU, and its restore. */
dt_tensor dt_default_rng_state(const char *device);
int dt_set_default_rng_state(const char *device, dt_tensor state);
/* Automatic mixed precision for the ops this thread runs on a device type ("cpu" or "cuda"), as
 * torch.autocast: dt_autocast_enter turns it on with the given reduced dtype (DT_BFLOAT16,
 * DT_FLOAT16) and writes the previous enabled flag and dtype code to *prev (two ints), which
 * dt_autocast_exit restores; the cast cache is cleared when the outermost region ends. */
int dt_autocast_enter(const char *device_type, int dtype, int *prev);
int dt_autocast_exit(const char *device_type, const int *prev);
/* Grad mode is per thread, as in libtorch. Returns the previous mode (0/1), or -1. */
int dt_set_grad_enabled(int on);
int dt_is_grad_enabled(void);
/* TorchScript's graph-executor optimisation, process-wide. When on, a module's first calls are
 * profiling runs and later ones use an optimised graph whose results differ in the last bits, so a
 * module reloaded from a checkpoint would not continue bit-exactly. Returns the previous setting. */
int dt_set_graph_executor_optimize(int on);
/* TensorFloat-32 on CUDA GPUs of the Ampere generation or newer, process-wide: float32 matmuls
 * (cuBLAS, bit 0 of bits) and convolutions (cuDNN, bit 1) multiply with 10-bit mantissas: several
 * times faster, no longer float32-exact. Flags only: no effect on a CPU. Returns the previous bits. */
int dt_set_tf32(int bits);
int dt_get_tf32(void);
/* cuDNN's autotuner, process-wide: on, the first convolution of each shape times the algorithms
 * and keeps the fastest (faster steps; which algorithm wins may differ between runs). Flag only:
 * no effect on a CPU. Returns the previous setting. */
int dt_set_cudnn_benchmark(int on);
/* Checks that a device string names a device this libtorch can use. */
int dt_check_device(const char *device);
/* Number of live handles of each kind, to find leaks: out[0]=tensors, [1]=modules,
 * [2]=optimisers, [3]=generators. */
int dt_live_handles(int64_t *out4);

/* ---- random generators ----------------------------------------------------------------- */
dt_generator dt_generator_new(uint64_t seed, const char *device);
void dt_generator_free(dt_generator g);
dt_tensor dt_generator_get_state(dt_generator g);
int dt_generator_set_state(dt_generator g, dt_tensor state);

/* ---- tensor creation ------------------------------------------------------------------- */
void dt_tensor_free(dt_tensor t);
/* Copies n elements of dtype `src_dtype` from host memory into a new tensor of `shape`. */
dt_tensor dt_tensor_from_data(const void *data, int64_t nbytes, int src_dtype, const int64_t *shape,
                              int ndim, const char *device);
dt_tensor dt_scalar_tensor(double v, int dtype, const char *device);
dt_tensor dt_zeros(const int64_t *shape, int ndim, int dtype, const char *device);
dt_tensor dt_ones(const int64_t *shape, int ndim, int dtype, const char *device);
dt_tensor dt_full(const int64_t *shape, int ndim, double v, int dtype, const char *device);
/* Random tensors; g may be NULL for libtorch's default generator. */
dt_tensor dt_randn(const int64_t *shape, int ndim, int dtype, const char *device, dt_generator g);
dt_tensor dt_rand(const int64_t *shape, int ndim, int dtype, const char *device, dt_generator g);
/* Uniform integers in [low, high). */
dt_tensor dt_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, const char *device,
                     dt_generator g);
dt_tensor dt_arange(double start, double end, double step, int dtype, const char *device);
dt_tensor dt_linspace(double start, double end, int64_t steps, int dtype, const char *device);
dt_tensor dt_zeros_like(dt_tensor t);
dt_tensor dt_randn_like(dt_tensor t, dt_generator g);

/* ---- tensor metadata and host copies --------------------------------------------------- */
/* Writes at most `cap` sizes; returns the number of dimensions or -1. */
int dt_tensor_shape(dt_tensor t, int64_t *out, int cap);
int64_t dt_tensor_numel(dt_tensor t);
int dt_tensor_dtype(dt_tensor t);
/* Device as a string, e.g. "cpu" or "cuda:0". */
char *dt_tensor_device(dt_tensor t);
int dt_tensor_requires_grad(dt_tensor t);
int dt_tensor_is_leaf(dt_tensor t);
/* Copies all elements, converted to `dtype`, in C order to host memory of `nbytes` bytes. */
int dt_tensor_copy_to(dt_tensor t, void *dst, int64_t nbytes, int dtype);
/* The value of a one-element tensor. */
int dt_tensor_item(dt_tensor t, double *out);
/* Printable form, as torch prints it. */
char *dt_tensor_to_string(dt_tensor t);

/* ---- tensor operations: each returns a new handle, NULL on failure --------------------- */
dt_tensor dt_unary(int op, dt_tensor a);
dt_tensor dt_binary(int op, dt_tensor a, dt_tensor b);
dt_tensor dt_binary_scalar(int op, dt_tensor a, double s);
/* In place: a = a (op) b. */
int dt_binary_(int op, dt_tensor a, dt_tensor b);
int dt_binary_scalar_(int op, dt_tensor a, double s);
/* a += alpha * b, in place (torch's add_(b, alpha)). */
int dt_axpy_(dt_tensor a, dt_tensor b, double alpha);
/* Reduction over all elements (ndims == 0) or over dims, keeping them if keepdim. */
dt_tensor dt_reduce(int op, dt_tensor a, const int64_t *dims, int ndims, int keepdim);
dt_tensor dt_matmul(dt_tensor a, dt_tensor b);
dt_tensor dt_clamp(dt_tensor a, double lo, double hi); /* NaN bound = unbounded */
dt_tensor dt_where(dt_tensor cond, dt_tensor a, dt_tensor b);
dt_tensor dt_nan_to_num(dt_tensor a, double nan, double posinf, double neginf);
dt_tensor dt_reshape(dt_tensor a, const int64_t *shape, int ndim);
dt_tensor dt_permute(dt_tensor a, const int64_t *dims, int ndim);
dt_tensor dt_transpose(dt_tensor a, int64_t d0, int64_t d1);
dt_tensor dt_expand(dt_tensor a, const int64_t *shape, int ndim);
dt_tensor dt_unsqueeze(dt_tensor a, int64_t dim);
dt_tensor dt_squeeze(dt_tensor a, int64_t dim);
dt_tensor dt_flatten(dt_tensor a, int64_t start, int64_t end);
dt_tensor dt_cat(const dt_tensor *ts, int n, int64_t dim);
dt_tensor dt_stack(const dt_tensor *ts, int n, int64_t dim);
/* a.select(dim, index): drops the dimension. */
dt_tensor dt_select(dt_tensor a, int64_t dim, int64_t index);
/* a.narrow(dim, start, length): a view. */
dt_tensor dt_narrow(dt_tensor a, int64_t dim, int64_t start, int64_t length);
dt_tensor dt_index_select(dt_tensor a, int64_t dim, dt_tensor index);
dt_tensor dt_gather(dt_tensor a, int64_t dim, dt_tensor index);
dt_tensor dt_one_hot(dt_tensor index, int64_t classes);
dt_tensor dt_to(dt_tensor a, int dtype, const char *device); /* dtype < 0 keeps it; device NULL keeps it */
dt_tensor dt_contiguous(dt_tensor a);
dt_tensor dt_clone(dt_tensor a);
dt_tensor dt_detach(dt_tensor a);
/* A new handle to the same tensor (shares storage and autograd history). */
dt_tensor dt_alias(dt_tensor a);
dt_tensor dt_cdist(dt_tensor a, dt_tensor b);
dt_tensor dt_sort(dt_tensor a, int64_t dim, int descending, dt_tensor *indices_out);
dt_tensor dt_cumsum(dt_tensor a, int64_t dim);
dt_tensor dt_bincount(dt_tensor a, int64_t minlength);
/* Symmetric eigen-decomposition: eigenvalues ascending; vectors_out may be NULL. */
dt_tensor dt_eigh(dt_tensor a, dt_tensor *vectors_out);
/* Eigenvalues of a general square matrix, as a complex tensor's real and imaginary parts [n, 2]. */
dt_tensor dt_eigvals(dt_tensor a);
int dt_copy_(dt_tensor dst, dt_tensor src);
int dt_fill_(dt_tensor a, double v);
int dt_zero_(dt_tensor a);
/* Whether all elements are finite (sets *out to 0/1). */
int dt_all_finite(dt_tensor a, int *out);
int dt_allclose(dt_tensor a, dt_tensor b, double rtol, double atol, int *out);

/* ---- autograd -------------------------------------------------------------------------- */
int dt_requires_grad_(dt_tensor a, int on);
/* Backpropagates from `a`; grad may be NULL for a scalar `a`. */
int dt_backward(dt_tensor a, dt_tensor grad, int retain_graph);
/* Gradients of `outputs` w.r.t. `inputs` (torch.autograd.grad); writes n_in handles to out
 * (an entry may be NULL when an input is unused and allow_unused is set). */
int dt_autograd_grad(const dt_tensor *outputs, const dt_tensor *grad_outputs, int n_out,
                     const dt_tensor *inputs, int n_in, int retain_graph, int create_graph,
                     int allow_unused, dt_tensor *out);
/* The accumulated .grad of a, or NULL with *defined=0 when it has none. */
dt_tensor dt_grad(dt_tensor a, int *defined);
int dt_zero_grad(dt_tensor a); /* sets .grad to undefined */
/* Rescales the gradients of ts so that their total L2 norm is at most max_norm; writes the
 * norm before clipping to *total_norm. */
int dt_clip_grad_norm(const dt_tensor *ts, int n, double max_norm, double *total_norm);

/* ---- TorchScript modules --------------------------------------------------------------- */
void dt_module_free(dt_module m);
dt_module dt_module_load(const char *path, const char *device);
dt_module dt_module_load_bytes(const void *data, int64_t nbytes, const char *device);
/* Writes the module to `path` (callers write to a temporary name and rename). */
int dt_module_save(dt_module m, const char *path);
/* Serialises to a malloc'd buffer: *out_data (free with dt_buffer_free) of *out_len bytes. */
int dt_module_save_bytes(dt_module m, char **out_data, int64_t *out_len);
/* A new, empty module of the given class name, to fill with register_* and define. */
dt_module dt_module_new(const char *class_name);
/* A deep copy whose parameters are independent leaves with requires_grad set. */
dt_module dt_module_clone(dt_module m);
/* A frozen, inference-optimised copy (torch::jit::freeze), for modules that never train. */
dt_module dt_module_freeze(dt_module m);
int dt_module_register_module(dt_module m, const char *name, dt_module sub);
int dt_module_register_parameter(dt_module m, const char *name, dt_tensor t);
int dt_module_register_buffer(dt_module m, const char *name, dt_tensor t);
int dt_module_register_double(dt_module m, const char *name, double v);
int dt_module_register_int(dt_module m, const char *name, int64_t v);
int dt_module_register_int_list(dt_module m, const char *name, const int64_t *v, int n);
/* Adds methods given as TorchScript source (Module::define). */
int dt_module_define(dt_module m, const char *source);
/* Attribute reads: has (0/1), a double/int, an int list (returns length, writes at most cap). */
int dt_module_has_attr(dt_module m, const char *name);
int dt_module_get_double(dt_module m, const char *name, double *out);
int dt_module_get_int_list(dt_module m, const char *name, int64_t *out, int cap);
/* Runs a method. kinds[i] is a DT_ARG_*; tensors/doubles/ints are indexed by argument position.
 * The result (a tensor, or a tuple/list of tensors) is written to outs[0..cap); returns the
 * number of result tensors, or -1. */
int dt_module_run(dt_module m, const char *method, int nargs, const int *kinds,
                  const dt_tensor *tensors, const double *doubles, const int64_t *ints,
                  dt_tensor *outs, int cap);
/* "name(schema)" of each method, one per line. */
char *dt_module_methods(dt_module m);
/* Names of parameters (kind 0) or buffers (kind 1), recursively, one per line. */
char *dt_module_names(dt_module m, int kind);
/* Handles to the parameters (kind 0) or buffers (kind 1), in the order of dt_module_names;
 * writes at most cap handles, returns the count (call with cap 0 to size the array). */
int dt_module_tensors(dt_module m, int kind, dt_tensor *out, int cap);
int dt_module_train(dt_module m, int on);
int dt_module_is_training(dt_module m);
int dt_module_to(dt_module m, const char *device, int dtype); /* dtype < 0 keeps it */
/* Sets requires_grad on every parameter (e.g. off for a frozen teacher). */
int dt_module_requires_grad_(dt_module m, int on);
/* Whether the module's forward, with its submodules inlined, reads a `training` flag (dropout,
 * batch norm ...): 1 or 0. A module that does not behaves the same in train and eval mode, so
 * freezing it (dt_module_freeze) keeps what it computes. */
int dt_module_reads_training(dt_module m);

/* ---- training-loop helpers: one call per module instead of one per parameter -------------- */
/* avg = beta * avg + (1 - beta) * cur for the parameters of two modules of the same structure
 * (mul_ then add_ with alpha, as an EMA written per parameter), without autograd; beta = 0 copies. */
int dt_module_ema_(dt_module avg, dt_module cur, double beta);
/* The L2 norm of the gradients of the module's parameters that have one (torch's
 * clip_grad_norm_), written to *total_norm; the gradients are rescaled to max_norm only when
 * max_norm is finite (an infinite max_norm only measures). */
int dt_module_grad_norm_(dt_module m, double max_norm, double *total_norm);

/* ---- tensor files ---------------------------------------------------------------------- */
/* A list of tensors in torch.save's format (torch.load reads it in Python); free with
 * dt_buffer_free. */
int dt_tensors_pickle(const dt_tensor *ts, int n, char **out_data, int64_t *out_len);
/* Reads such a list: writes at most cap handles, returns the count (cap 0 sizes it). */
int dt_tensors_unpickle(const void *data, int64_t nbytes, dt_tensor *out, int cap);

/* ---- Adam ------------------------------------------------------------------------------ */
dt_adam dt_adam_new(const dt_tensor *params, int n, double lr, double beta1, double beta2,
                    double eps, double weight_decay, int amsgrad);
void dt_adam_free(dt_adam o);
int dt_adam_step(dt_adam o);
int dt_adam_zero_grad(dt_adam o);
int dt_adam_set_lr(dt_adam o, double lr);
int dt_adam_get_lr(dt_adam o, double *out);
/* Adam's step guarded against non-finite gradients without a host synchronisation (for CUDA):
 * the gradients' L2 norm (clip_grad_norm_'s), their rescaling to max_norm when it is finite, the
 * finiteness test and the update all stay on the device; a non-finite norm leaves parameters,
 * moments and step counts exactly as they were. The norm of the last call and the counts of
 * skipped updates are read (a synchronisation) with dt_adam_guard_read. */
int dt_adam_guarded_step(dt_adam o, double max_norm);
/* out[0]: updates skipped since the optimiser was made or loaded, out[1]: the longest run of
 * skipped updates in a row that reached a step after the previous read (a run counted whole, from
 * its start), out[2]: the run in progress (0 after a good step); *last_norm: the gradient norm of
 * the last guarded step (NaN before any). */
int dt_adam_guard_read(dt_adam o, int64_t *out, double *last_norm);
/* Optimiser state (moments, step counts) as bytes (free with dt_buffer_free), and its restore. */
int dt_adam_save_state(dt_adam o, char **out_data, int64_t *out_len);
int dt_adam_load_state(dt_adam o, const void *data, int64_t nbytes);

/* ---- process groups (c10d) ------------------------------------------------------------- */
/* The backends this shim was built with: "gloo", "gloo,nccl", or "" (none). Static string. */
const char *dt_distributed_backends(void);
/* Joins a group of `world` processes: rendezvous through a c10d TCPStore at host:port (rank 0
 * hosts it), then a "gloo" (CPU tensors) or "nccl" (CUDA) process group. Every later call on the
 * group waits at most timeout_ms; a failure's message names this rank and the ranks found lost. */
dt_group dt_group_new(const char *backend, const char *host, int port, int rank, int world, int64_t timeout_ms);
void dt_group_free(dt_group g);
int dt_group_rank(dt_group g);
int dt_group_world_size(dt_group g);
/* In place: the sum over ranks, or the mean when average is non-zero. t must be contiguous. */
int dt_group_all_reduce(dt_group g, dt_tensor t, int average);
int dt_group_broadcast(dt_group g, dt_tensor t, int root);
/* Every rank's t (same shape on all), stacked along a new first dimension. */
dt_tensor dt_group_all_gather(dt_group g, dt_tensor t);
int dt_group_barrier(dt_group g);
/* The mean over ranks of the module's parameter gradients, in place, in one flat buffer. */
int dt_group_all_reduce_grads(dt_group g, dt_module m);
/* Rank root's parameters and buffers copied into every rank's module. */
int dt_group_broadcast_module(dt_group g, dt_module m, int root);

#ifdef __cplusplus
}
#endif
#endif /* DISHIM_H */
