// Implementation of dishim.h over libtorch's C++ API. Compiles against libtorch 1.13 and 2.x.
//
// Every entry point is wrapped in GUARD: exceptions become a thread-local message and a failure
// return value, because an exception unwinding into the JVM's frames would abort the process.
#include "dishim.h"
#include "fused_cpu.h"

#include <torch/torch.h>
#include <torch/script.h>
#include <torch/cuda.h>
#include <ATen/Parallel.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// Declared here rather than included: its header lives under torch/csrc/jit/python/, which not
// every LibTorch distribution ships; the function itself is in libtorch_cpu in 1.13 and 2.x.
namespace torch {
namespace jit {
TORCH_API void setGraphExecutorOptimize(bool o);
TORCH_API bool getGraphExecutorOptimize();
}  // namespace jit
}  // namespace torch

namespace {

thread_local std::string last_error;

// Type tags: a handle whose tag does not match is refused instead of being reinterpreted.
constexpr uint32_t TAG_TENSOR = 0x7e45a001u;
constexpr uint32_t TAG_MODULE = 0x7e45a002u;
constexpr uint32_t TAG_ADAM = 0x7e45a003u;
constexpr uint32_t TAG_GENERATOR = 0x7e45a004u;
constexpr uint32_t TAG_FREED = 0xdeadbeefu;

std::atomic<int64_t> live[4];

template <uint32_t Tag, int Slot> struct Tagged {
  uint32_t tag = Tag;
  Tagged() { live[Slot]++; }
  ~Tagged() {
    tag = TAG_FREED;
    live[Slot]--;
  }
};

}  // namespace

struct dt_tensor_s : Tagged<TAG_TENSOR, 0> {
  at::Tensor t;
  explicit dt_tensor_s(at::Tensor x) : t(std::move(x)) {}
};
struct dt_module_s : Tagged<TAG_MODULE, 1> {
  torch::jit::Module m;
  explicit dt_module_s(torch::jit::Module x) : m(std::move(x)) {}
};
struct dt_adam_s : Tagged<TAG_ADAM, 2> {
  std::vector<at::Tensor> params;
  torch::optim::Adam opt;
  dt_adam_s(std::vector<at::Tensor> p, const torch::optim::AdamOptions &o) : params(p), opt(p, o) {}
};
struct dt_generator_s : Tagged<TAG_GENERATOR, 3> {
  at::Generator g;
  explicit dt_generator_s(at::Generator x) : g(std::move(x)) {}
};

namespace {

void set_error(const char *msg) { last_error = msg ? msg : "unknown error"; }

// a tensor the fused CPU kernels (fused_cpu.h) can read as a flat float array
bool cpu_f32_dense(const at::Tensor &t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == at::kFloat && t.layout() == at::kStrided &&
         t.is_contiguous();
}

#define GUARD(fail, ...)                                           \
  try {                                                            \
    __VA_ARGS__                                                    \
  } catch (const c10::Error &e) {                                  \
    set_error(e.what_without_backtrace());                         \
    return fail;                                                   \
  } catch (const std::exception &e) {                              \
    set_error(e.what());                                           \
    return fail;                                                   \
  } catch (...) {                                                  \
    set_error("unknown C++ exception");                            \
    return fail;                                                   \
  }

[[noreturn]] void fail(const std::string &msg) { throw std::invalid_argument(msg); }

template <typename H> H *checked(H *h, uint32_t tag, const char *what) {
  if (h == nullptr) fail(std::string("null ") + what + " handle");
  if (h->tag != tag) {
    if (h->tag == TAG_FREED) fail(std::string(what) + " handle was already freed");
    fail(std::string(what[0] == 'o' ? "not an " : "not a ") + what + " handle (foreign or corrupted pointer)");
  }
  return h;
}

const at::Tensor &T(dt_tensor h) { return checked(h, TAG_TENSOR, "tensor")->t; }
torch::jit::Module &M(dt_module h) { return checked(h, TAG_MODULE, "module")->m; }
dt_adam_s *A(dt_adam h) { return checked(h, TAG_ADAM, "optimizer"); }
at::Generator &G(dt_generator h) { return checked(h, TAG_GENERATOR, "generator")->g; }

dt_tensor wrap(at::Tensor t) { return new dt_tensor_s(std::move(t)); }

char *copy_string(const std::string &s) {
  char *out = static_cast<char *>(std::malloc(s.size() + 1));
  if (!out) throw std::bad_alloc();
  std::memcpy(out, s.data(), s.size());
  out[s.size()] = 0;
  return out;
}

at::Device device_of(const char *spec) {
  if (spec == nullptr || *spec == 0) return at::Device(at::kCPU);
  at::Device d{std::string(spec)};
  if (d.is_cuda()) {
    if (!torch::cuda::is_available())
      fail(std::string("device '") + spec +
           "' requested, but this libtorch has no CUDA support or sees no GPU");
    int64_t n = static_cast<int64_t>(torch::cuda::device_count());
    if (d.has_index() && d.index() >= n)
      fail(std::string("device '") + spec + "' requested, but only " + std::to_string(n) +
           " CUDA device(s) are visible");
  } else if (!d.is_cpu()) {
    fail(std::string("unsupported device '") + spec + "' (use cpu or cuda:N)");
  }
  return d;
}

at::ScalarType dtype_of(int code) {
  switch (code) {
    case DT_UINT8: return at::kByte;
    case DT_INT32: return at::kInt;
    case DT_INT64: return at::kLong;
    case DT_FLOAT16: return at::kHalf;
    case DT_FLOAT32: return at::kFloat;
    case DT_FLOAT64: return at::kDouble;
    case DT_BOOL: return at::kBool;
    case DT_BFLOAT16: return at::kBFloat16;
    default: fail("unsupported dtype code " + std::to_string(code));
  }
}

at::TensorOptions opts(int dtype, const char *device) {
  return at::TensorOptions().dtype(dtype_of(dtype)).device(device_of(device));
}

at::IntArrayRef dims_of(const int64_t *shape, int ndim) {
  if (ndim < 0 || (ndim > 0 && shape == nullptr)) fail("invalid shape");
  for (int i = 0; i < ndim; i++)
    if (shape[i] < 0) fail("negative dimension " + std::to_string(shape[i]) + " in shape");
  return at::IntArrayRef(shape, static_cast<size_t>(ndim));
}

c10::optional<at::Generator> gen_of(dt_generator g) {
  if (g == nullptr) return c10::nullopt;
  return G(g);
}

std::vector<at::Tensor> tensors_of(const dt_tensor *ts, int n) {
  if (n < 0 || (n > 0 && ts == nullptr)) fail("invalid tensor list");
  std::vector<at::Tensor> v;
  v.reserve(n);
  for (int i = 0; i < n; i++) v.push_back(T(ts[i]));
  return v;
}

at::Tensor unary(int op, const at::Tensor &a) {
  switch (op) {
    case DT_OP_NEG: return a.neg();
    case DT_OP_EXP: return a.exp();
    case DT_OP_LOG: return a.log();
    case DT_OP_SQRT: return a.sqrt();
    case DT_OP_SQUARE: return a.square();
    case DT_OP_ABS: return a.abs();
    case DT_OP_RELU: return a.relu();
    case DT_OP_SIGMOID: return a.sigmoid();
    case DT_OP_TANH: return a.tanh();
    case DT_OP_SIN: return a.sin();
    case DT_OP_COS: return a.cos();
    case DT_OP_RSQRT: return a.rsqrt();
    case DT_OP_RECIPROCAL: return a.reciprocal();
    case DT_OP_SIGN: return a.sign();
    case DT_OP_ISFINITE: return a.isfinite();
    case DT_OP_FLOOR: return a.floor();
    case DT_OP_ROUND: return a.round();
    case DT_OP_LOG1P: return a.log1p();
    case DT_OP_EXPM1: return a.expm1();
    case DT_OP_SILU: return at::silu(a);
    default: fail("unknown unary op " + std::to_string(op));
  }
}

at::Tensor binary(int op, const at::Tensor &a, const at::Tensor &b) {
  switch (op) {
    case DT_OP_ADD: return a.add(b);
    case DT_OP_SUB: return a.sub(b);
    case DT_OP_MUL: return a.mul(b);
    case DT_OP_DIV: return a.div(b);
    case DT_OP_POW: return a.pow(b);
    case DT_OP_MAXIMUM: return at::maximum(a, b);
    case DT_OP_MINIMUM: return at::minimum(a, b);
    case DT_OP_EQ: return a.eq(b);
    case DT_OP_NE: return a.ne(b);
    case DT_OP_LT: return a.lt(b);
    case DT_OP_LE: return a.le(b);
    case DT_OP_GT: return a.gt(b);
    case DT_OP_GE: return a.ge(b);
    case DT_OP_ATAN2: return at::atan2(a, b);
    case DT_OP_RSUB: return b.sub(a);
    default: fail("unknown binary op " + std::to_string(op));
  }
}

at::Tensor binary_scalar(int op, const at::Tensor &a, double s) {
  switch (op) {
    case DT_OP_ADD: return a.add(s);
    case DT_OP_SUB: return a.sub(s);
    case DT_OP_MUL: return a.mul(s);
    case DT_OP_DIV: return a.div(s);
    case DT_OP_POW: return a.pow(s);
    case DT_OP_MAXIMUM: return a.clamp_min(s);
    case DT_OP_MINIMUM: return a.clamp_max(s);
    case DT_OP_EQ: return a.eq(s);
    case DT_OP_NE: return a.ne(s);
    case DT_OP_LT: return a.lt(s);
    case DT_OP_LE: return a.le(s);
    case DT_OP_GT: return a.gt(s);
    case DT_OP_GE: return a.ge(s);
    case DT_OP_RSUB: return at::rsub(a, s);
    default: fail("op " + std::to_string(op) + " has no tensor-scalar form");
  }
}

void binary_inplace(int op, const at::Tensor &a, const at::Tensor &b) {
  switch (op) {
    case DT_OP_ADD: a.add_(b); return;
    case DT_OP_SUB: a.sub_(b); return;
    case DT_OP_MUL: a.mul_(b); return;
    case DT_OP_DIV: a.div_(b); return;
    case DT_OP_POW: a.pow_(b); return;
    case DT_OP_MAXIMUM: at::maximum_out(const_cast<at::Tensor &>(a), a, b); return;
    case DT_OP_MINIMUM: at::minimum_out(const_cast<at::Tensor &>(a), a, b); return;
    default: fail("op " + std::to_string(op) + " has no in-place form");
  }
}

void binary_scalar_inplace(int op, const at::Tensor &a, double s) {
  switch (op) {
    case DT_OP_ADD: a.add_(s); return;
    case DT_OP_SUB: a.sub_(s); return;
    case DT_OP_MUL: a.mul_(s); return;
    case DT_OP_DIV: a.div_(s); return;
    case DT_OP_POW: a.pow_(s); return;
    case DT_OP_MAXIMUM: a.clamp_min_(s); return;
    case DT_OP_MINIMUM: a.clamp_max_(s); return;
    default: fail("op " + std::to_string(op) + " has no in-place tensor-scalar form");
  }
}

int64_t single_dim(const int64_t *dims, int ndims, const char *what) {
  if (ndims != 1) fail(std::string(what) + " reduces over exactly one dimension");
  return dims[0];
}

at::Tensor reduce(int op, const at::Tensor &a, const int64_t *dims, int ndims, bool keepdim) {
  if (ndims < 0 || (ndims > 0 && dims == nullptr)) fail("invalid dimension list");
  if (ndims == 0) {
    switch (op) {
      case DT_RED_SUM: return a.sum();
      case DT_RED_MEAN: return a.mean();
      case DT_RED_MAX: return a.max();
      case DT_RED_MIN: return a.min();
      case DT_RED_PROD: return a.prod();
      case DT_RED_VAR: return a.var();
      case DT_RED_STD: return a.std();
      case DT_RED_NORM: return at::linalg_vector_norm(a, 2);
      case DT_RED_ARGMAX: return a.argmax();
      case DT_RED_ARGMIN: return a.argmin();
      case DT_RED_ALL: return a.all();
      case DT_RED_ANY: return a.any();
      case DT_RED_LOGSUMEXP: return a.reshape({-1}).logsumexp(0);
      default: fail("unknown reduction " + std::to_string(op));
    }
  }
  at::IntArrayRef d(dims, static_cast<size_t>(ndims));
  switch (op) {
    case DT_RED_SUM: return a.sum(d, keepdim);
    case DT_RED_MEAN: return a.mean(d, keepdim);
    case DT_RED_MAX: return a.amax(d, keepdim);
    case DT_RED_MIN: return a.amin(d, keepdim);
    case DT_RED_PROD: return a.prod(single_dim(dims, ndims, "prod"), keepdim);
    case DT_RED_VAR: return a.var(d, /*unbiased=*/true, keepdim);
    case DT_RED_STD: return a.std(d, /*unbiased=*/true, keepdim);
    case DT_RED_NORM: return at::linalg_vector_norm(a, 2, d, keepdim);
    case DT_RED_ARGMAX: return a.argmax(single_dim(dims, ndims, "argmax"), keepdim);
    case DT_RED_ARGMIN: return a.argmin(single_dim(dims, ndims, "argmin"), keepdim);
    case DT_RED_ALL: return a.all(single_dim(dims, ndims, "all"), keepdim);
    case DT_RED_ANY: return a.any(single_dim(dims, ndims, "any"), keepdim);
    case DT_RED_LOGSUMEXP: return a.logsumexp(d, keepdim);
    default: fail("unknown reduction " + std::to_string(op));
  }
}

int write_handles(const std::vector<at::Tensor> &v, dt_tensor *out, int cap) {
  int n = static_cast<int>(v.size());
  if (cap == 0) return n;
  if (out == nullptr || cap < n)
    fail("result has " + std::to_string(n) + " tensors but room for " + std::to_string(cap));
  for (int i = 0; i < n; i++) out[i] = nullptr;
  for (int i = 0; i < n; i++) out[i] = wrap(v[i]);
  return n;
}

void require_out(const void *p, const char *what) {
  if (p == nullptr) fail(std::string("null output pointer for ") + what);
}

std::vector<at::Tensor> tensors_in(const c10::IValue &v, const std::string &what) {
  std::vector<at::Tensor> out;
  if (v.isTensor()) {
    out.push_back(v.toTensor());
  } else if (v.isTuple() || v.isList()) {
    auto elems = v.isTuple() ? v.toTupleRef().elements().vec() : v.toListRef().vec();
    for (auto &e : elems) {
      if (!e.isTensor()) fail(what + " returned a " + v.tagKind() + " holding a " + e.tagKind() +
                              "; expected tensors");
      out.push_back(e.toTensor());
    }
  } else {
    fail(what + " returned a " + v.tagKind() + "; expected a tensor or a tuple of tensors");
  }
  return out;
}

int return_bytes(const std::string &s, char **out_data, int64_t *out_len) {
  require_out(out_data, "data");
  require_out(out_len, "length");
  char *buf = static_cast<char *>(std::malloc(s.size() ? s.size() : 1));
  if (!buf) throw std::bad_alloc();
  std::memcpy(buf, s.data(), s.size());
  *out_data = buf;
  *out_len = static_cast<int64_t>(s.size());
  return 0;
}

}  // namespace

extern "C" {

// ---- errors, strings, runtime -----------------------------------------------------------
const char *dt_last_error(void) { return last_error.c_str(); }
void dt_clear_error(void) { last_error.clear(); }
void dt_string_free(char *s) { std::free(s); }

const char *dt_torch_version(void) {
  static const std::string v = std::to_string(TORCH_VERSION_MAJOR) + "." +
                               std::to_string(TORCH_VERSION_MINOR) + "." +
                               std::to_string(TORCH_VERSION_PATCH);
  return v.c_str();
}
char *dt_build_config(void) { GUARD(nullptr, return copy_string(at::show_config());) }
int dt_cuda_is_available(void) { GUARD(-1, return torch::cuda::is_available() ? 1 : 0;) }
int dt_cuda_device_count(void) { GUARD(-1, return static_cast<int>(torch::cuda::device_count());) }
int dt_get_num_threads(void) { GUARD(-1, return at::get_num_threads();) }
int dt_set_num_threads(int n) {
  GUARD(-1, if (n < 1) fail("thread count must be >= 1, got " + std::to_string(n));
        at::set_num_threads(n); return 0;)
}
int dt_set_flush_denormal(int on) {
  GUARD(-1, return at::globalContext().setFlushDenormal(on != 0) ? 0 : -1;)
}
int dt_manual_seed(uint64_t seed) { GUARD(-1, torch::manual_seed(seed); return 0;) }
dt_tensor dt_default_rng_state(void) {
  GUARD(nullptr, auto g = at::detail::getDefaultCPUGenerator();
        std::lock_guard<std::mutex> lock(g.mutex()); return wrap(g.get_state());)
}
int dt_set_default_rng_state(dt_tensor state) {
  GUARD(-1, auto g = at::detail::getDefaultCPUGenerator();
        std::lock_guard<std::mutex> lock(g.mutex()); g.set_state(T(state)); return 0;)
}
int dt_set_grad_enabled(int on) {
  GUARD(-1, bool prev = at::GradMode::is_enabled(); at::GradMode::set_enabled(on != 0);
        return prev ? 1 : 0;)
}
int dt_is_grad_enabled(void) { GUARD(-1, return at::GradMode::is_enabled() ? 1 : 0;) }
int dt_set_graph_executor_optimize(int on) {
  GUARD(-1, bool prev = torch::jit::getGraphExecutorOptimize();
        torch::jit::setGraphExecutorOptimize(on != 0); return prev ? 1 : 0;)
}
int dt_check_device(const char *device) { GUARD(-1, device_of(device); return 0;) }
int dt_live_handles(int64_t *out4) {
  GUARD(-1, require_out(out4, "counts"); for (int i = 0; i < 4; i++) out4[i] = live[i].load();
        return 0;)
}

// ---- random generators ------------------------------------------------------------------
dt_generator dt_generator_new(uint64_t seed, const char *device) {
  GUARD(nullptr, at::Device d = device_of(device);
        // Cloning the default generator works for every backend without backend headers.
        at::Generator g = at::globalContext().defaultGenerator(d).clone();
        {
          std::lock_guard<std::mutex> lock(g.mutex());
          g.set_current_seed(seed);
        } return new dt_generator_s(std::move(g));)
}
void dt_generator_free(dt_generator g) {
  if (g != nullptr && g->tag == TAG_GENERATOR) delete g;
}
dt_tensor dt_generator_get_state(dt_generator g) {
  GUARD(nullptr, auto &gen = G(g); std::lock_guard<std::mutex> lock(gen.mutex());
        return wrap(gen.get_state());)
}
int dt_generator_set_state(dt_generator g, dt_tensor state) {
  GUARD(-1, auto &gen = G(g); std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_state(T(state)); return 0;)
}

// ---- tensor creation --------------------------------------------------------------------
void dt_tensor_free(dt_tensor t) {
  if (t != nullptr && t->tag == TAG_TENSOR) delete t;
}
dt_tensor dt_tensor_from_data(const void *data, int64_t nbytes, int src_dtype, const int64_t *shape,
                              int ndim, const char *device) {
  GUARD(nullptr, auto sizes = dims_of(shape, ndim); auto st = dtype_of(src_dtype);
        int64_t numel = c10::multiply_integers(sizes);
        int64_t need = numel * static_cast<int64_t>(c10::elementSize(st));
        if (nbytes != need)
          fail("data holds " + std::to_string(nbytes) + " bytes but shape " +
               c10::str(sizes) + " of " + c10::toString(st) + " needs " + std::to_string(need));
        if (need > 0 && data == nullptr) fail("null data pointer");
        at::Tensor t = need == 0 ? at::empty(sizes, at::TensorOptions().dtype(st))
                                 : at::from_blob(const_cast<void *>(data), sizes,
                                                 at::TensorOptions().dtype(st)).clone();
        return wrap(t.to(device_of(device)));)
}
dt_tensor dt_scalar_tensor(double v, int dtype, const char *device) {
  GUARD(nullptr, return wrap(at::scalar_tensor(v, opts(dtype, device)));)
}
dt_tensor dt_zeros(const int64_t *shape, int ndim, int dtype, const char *device) {
  GUARD(nullptr, return wrap(at::zeros(dims_of(shape, ndim), opts(dtype, device)));)
}
dt_tensor dt_ones(const int64_t *shape, int ndim, int dtype, const char *device) {
  GUARD(nullptr, return wrap(at::ones(dims_of(shape, ndim), opts(dtype, device)));)
}
dt_tensor dt_full(const int64_t *shape, int ndim, double v, int dtype, const char *device) {
  GUARD(nullptr, return wrap(at::full(dims_of(shape, ndim), v, opts(dtype, device)));)
}
dt_tensor dt_randn(const int64_t *shape, int ndim, int dtype, const char *device, dt_generator g) {
  GUARD(nullptr, return wrap(at::randn(dims_of(shape, ndim), gen_of(g), opts(dtype, device)));)
}
dt_tensor dt_rand(const int64_t *shape, int ndim, int dtype, const char *device, dt_generator g) {
  GUARD(nullptr, return wrap(at::rand(dims_of(shape, ndim), gen_of(g), opts(dtype, device)));)
}
dt_tensor dt_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, const char *device,
                     dt_generator g) {
  GUARD(nullptr, if (high <= low) fail("randint needs low < high");
        return wrap(at::randint(low, high, dims_of(shape, ndim), gen_of(g),
                                opts(DT_INT64, device)));)
}
dt_tensor dt_arange(double start, double end, double step, int dtype, const char *device) {
  GUARD(nullptr, return wrap(at::arange(start, end, step, opts(dtype, device)));)
}
dt_tensor dt_linspace(double start, double end, int64_t steps, int dtype, const char *device) {
  GUARD(nullptr, return wrap(at::linspace(start, end, steps, opts(dtype, device)));)
}
dt_tensor dt_zeros_like(dt_tensor t) { GUARD(nullptr, return wrap(at::zeros_like(T(t)));) }
dt_tensor dt_randn_like(dt_tensor t, dt_generator g) {
  GUARD(nullptr, const auto &x = T(t);
        return wrap(at::randn(x.sizes(), gen_of(g), x.options()));)
}

// ---- tensor metadata and host copies ----------------------------------------------------
int dt_tensor_ndim(dt_tensor t) { GUARD(-1, return static_cast<int>(T(t).dim());) }
int dt_tensor_shape(dt_tensor t, int64_t *out, int cap) {
  GUARD(-1, const auto &x = T(t); int n = static_cast<int>(x.dim());
        if (cap > 0) require_out(out, "shape");
        for (int i = 0; i < n && i < cap; i++) out[i] = x.size(i); return n;)
}
int64_t dt_tensor_numel(dt_tensor t) { GUARD(-1, return T(t).numel();) }
int dt_tensor_dtype(dt_tensor t) { GUARD(-1, return static_cast<int>(T(t).scalar_type());) }
char *dt_tensor_device(dt_tensor t) { GUARD(nullptr, return copy_string(T(t).device().str());) }
int dt_tensor_requires_grad(dt_tensor t) { GUARD(-1, return T(t).requires_grad() ? 1 : 0;) }
int dt_tensor_is_leaf(dt_tensor t) { GUARD(-1, return T(t).is_leaf() ? 1 : 0;) }
int dt_tensor_copy_to(dt_tensor t, void *dst, int64_t nbytes, int dtype) {
  GUARD(-1, const auto &x = T(t); auto st = dtype_of(dtype);
        int64_t need = x.numel() * static_cast<int64_t>(c10::elementSize(st));
        if (nbytes != need)
          fail("destination holds " + std::to_string(nbytes) + " bytes but the tensor of shape " +
               c10::str(x.sizes()) + " needs " + std::to_string(need) + " as " + c10::toString(st));
        if (need == 0) return 0; require_out(dst, "data");
        at::Tensor c = x.detach().to(at::kCPU, st).contiguous();
        std::memcpy(dst, c.data_ptr(), static_cast<size_t>(need)); return 0;)
}
int dt_tensor_item(dt_tensor t, double *out) {
  GUARD(-1, require_out(out, "item"); const auto &x = T(t);
        if (x.numel() != 1)
          fail("item() needs a one-element tensor, got shape " + c10::str(x.sizes()));
        *out = x.item().toDouble(); return 0;)
}
char *dt_tensor_to_string(dt_tensor t) {
  GUARD(nullptr, std::ostringstream os; os << T(t); return copy_string(os.str());)
}

// ---- tensor operations ------------------------------------------------------------------
dt_tensor dt_unary(int op, dt_tensor a) { GUARD(nullptr, return wrap(unary(op, T(a)));) }
dt_tensor dt_binary(int op, dt_tensor a, dt_tensor b) {
  GUARD(nullptr, return wrap(binary(op, T(a), T(b)));)
}
dt_tensor dt_binary_scalar(int op, dt_tensor a, double s) {
  GUARD(nullptr, return wrap(binary_scalar(op, T(a), s));)
}
int dt_binary_(int op, dt_tensor a, dt_tensor b) {
  GUARD(-1, binary_inplace(op, T(a), T(b)); return 0;)
}
int dt_binary_scalar_(int op, dt_tensor a, double s) {
  GUARD(-1, binary_scalar_inplace(op, T(a), s); return 0;)
}
int dt_axpy_(dt_tensor a, dt_tensor b, double alpha) {
  GUARD(-1, T(a).add_(T(b), alpha); return 0;)
}
dt_tensor dt_reduce(int op, dt_tensor a, const int64_t *dims, int ndims, int keepdim) {
  GUARD(nullptr, return wrap(reduce(op, T(a), dims, ndims, keepdim != 0));)
}
dt_tensor dt_matmul(dt_tensor a, dt_tensor b) { GUARD(nullptr, return wrap(T(a).matmul(T(b)));) }
dt_tensor dt_clamp(dt_tensor a, double lo, double hi) {
  GUARD(nullptr, c10::optional<at::Scalar> l, h; if (!std::isnan(lo)) l = lo;
        if (!std::isnan(hi)) h = hi;
        // at::clamp refuses two absent bounds; unbounded on both sides is the identity.
        if (!l && !h) return wrap(T(a).clone());
        return wrap(T(a).clamp(l, h));)
}
dt_tensor dt_where(dt_tensor cond, dt_tensor a, dt_tensor b) {
  GUARD(nullptr, return wrap(at::where(T(cond), T(a), T(b)));)
}
dt_tensor dt_nan_to_num(dt_tensor a, double nan, double posinf, double neginf) {
  GUARD(nullptr, return wrap(T(a).nan_to_num(nan, posinf, neginf));)
}
dt_tensor dt_reshape(dt_tensor a, const int64_t *shape, int ndim) {
  GUARD(nullptr, if (ndim < 0 || (ndim > 0 && !shape)) fail("invalid shape");
        return wrap(T(a).reshape(at::IntArrayRef(shape, static_cast<size_t>(ndim))));)
}
dt_tensor dt_permute(dt_tensor a, const int64_t *dims, int ndim) {
  GUARD(nullptr, if (ndim < 0 || (ndim > 0 && !dims)) fail("invalid dims");
        return wrap(T(a).permute(at::IntArrayRef(dims, static_cast<size_t>(ndim))));)
}
dt_tensor dt_transpose(dt_tensor a, int64_t d0, int64_t d1) {
  GUARD(nullptr, return wrap(T(a).transpose(d0, d1));)
}
dt_tensor dt_expand(dt_tensor a, const int64_t *shape, int ndim) {
  GUARD(nullptr, if (ndim < 0 || (ndim > 0 && !shape)) fail("invalid shape");
        return wrap(T(a).expand(at::IntArrayRef(shape, static_cast<size_t>(ndim))));)
}
dt_tensor dt_unsqueeze(dt_tensor a, int64_t dim) { GUARD(nullptr, return wrap(T(a).unsqueeze(dim));) }
dt_tensor dt_squeeze(dt_tensor a, int64_t dim) { GUARD(nullptr, return wrap(T(a).squeeze(dim));) }
dt_tensor dt_flatten(dt_tensor a, int64_t start, int64_t end) {
  GUARD(nullptr, return wrap(T(a).flatten(start, end));)
}
dt_tensor dt_cat(const dt_tensor *ts, int n, int64_t dim) {
  GUARD(nullptr, if (n < 1) fail("cat needs at least one tensor");
        return wrap(at::cat(tensors_of(ts, n), dim));)
}
dt_tensor dt_stack(const dt_tensor *ts, int n, int64_t dim) {
  GUARD(nullptr, if (n < 1) fail("stack needs at least one tensor");
        return wrap(at::stack(tensors_of(ts, n), dim));)
}
dt_tensor dt_select(dt_tensor a, int64_t dim, int64_t index) {
  GUARD(nullptr, return wrap(T(a).select(dim, index));)
}
dt_tensor dt_narrow(dt_tensor a, int64_t dim, int64_t start, int64_t length) {
  GUARD(nullptr, return wrap(T(a).narrow(dim, start, length));)
}
dt_tensor dt_index_select(dt_tensor a, int64_t dim, dt_tensor index) {
  GUARD(nullptr, return wrap(T(a).index_select(dim, T(index)));)
}
dt_tensor dt_gather(dt_tensor a, int64_t dim, dt_tensor index) {
  GUARD(nullptr, return wrap(T(a).gather(dim, T(index)));)
}
dt_tensor dt_one_hot(dt_tensor index, int64_t classes) {
  GUARD(nullptr, return wrap(at::one_hot(T(index), classes));)
}
dt_tensor dt_to(dt_tensor a, int dtype, const char *device) {
  GUARD(nullptr, const auto &x = T(a);
        at::Device d = device == nullptr ? x.device() : device_of(device);
        at::ScalarType st = dtype < 0 ? x.scalar_type() : dtype_of(dtype);
        return wrap(x.to(d, st));)
}
dt_tensor dt_contiguous(dt_tensor a) { GUARD(nullptr, return wrap(T(a).contiguous());) }
dt_tensor dt_clone(dt_tensor a) { GUARD(nullptr, return wrap(T(a).clone());) }
dt_tensor dt_detach(dt_tensor a) { GUARD(nullptr, return wrap(T(a).detach());) }
dt_tensor dt_alias(dt_tensor a) { GUARD(nullptr, return wrap(T(a));) }
dt_tensor dt_cdist(dt_tensor a, dt_tensor b) { GUARD(nullptr, return wrap(at::cdist(T(a), T(b)));) }
dt_tensor dt_sort(dt_tensor a, int64_t dim, int descending, dt_tensor *indices_out) {
  GUARD(nullptr, auto r = T(a).sort(dim, descending != 0);
        if (indices_out) *indices_out = wrap(std::get<1>(r)); return wrap(std::get<0>(r));)
}
dt_tensor dt_cumsum(dt_tensor a, int64_t dim) { GUARD(nullptr, return wrap(T(a).cumsum(dim));) }
dt_tensor dt_bincount(dt_tensor a, int64_t minlength) {
  GUARD(nullptr, return wrap(T(a).bincount(c10::optional<at::Tensor>(), minlength));)
}
dt_tensor dt_eigh(dt_tensor a, dt_tensor *vectors_out) {
  GUARD(nullptr, auto r = at::linalg_eigh(T(a));
        if (vectors_out) *vectors_out = wrap(std::get<1>(r)); return wrap(std::get<0>(r));)
}
dt_tensor dt_eigvals(dt_tensor a) {
  GUARD(nullptr, return wrap(at::view_as_real(at::linalg_eigvals(T(a))).contiguous());)
}
int dt_copy_(dt_tensor dst, dt_tensor src) { GUARD(-1, T(dst).copy_(T(src)); return 0;) }
int dt_fill_(dt_tensor a, double v) { GUARD(-1, T(a).fill_(v); return 0;) }
int dt_zero_(dt_tensor a) { GUARD(-1, T(a).zero_(); return 0;) }
int dt_all_finite(dt_tensor a, int *out) {
  GUARD(-1, require_out(out, "flag"); *out = T(a).isfinite().all().item<bool>() ? 1 : 0; return 0;)
}
int dt_allclose(dt_tensor a, dt_tensor b, double rtol, double atol, int *out) {
  GUARD(-1, require_out(out, "flag"); *out = T(a).allclose(T(b), rtol, atol) ? 1 : 0; return 0;)
}

// ---- autograd ---------------------------------------------------------------------------
int dt_requires_grad_(dt_tensor a, int on) { GUARD(-1, T(a).requires_grad_(on != 0); return 0;) }
int dt_backward(dt_tensor a, dt_tensor grad, int retain_graph) {
  GUARD(-1, at::Tensor g = grad ? T(grad) : at::Tensor();
        T(a).backward(g, retain_graph ? c10::optional<bool>(true) : c10::nullopt, false);
        return 0;)
}
int dt_autograd_grad(const dt_tensor *outputs, const dt_tensor *grad_outputs, int n_out,
                     const dt_tensor *inputs, int n_in, int retain_graph, int create_graph,
                     int allow_unused, dt_tensor *out) {
  GUARD(-1, require_out(out, "gradients"); auto outs = tensors_of(outputs, n_out);
        std::vector<at::Tensor> gouts;
        if (grad_outputs) gouts = tensors_of(grad_outputs, n_out);
        auto ins = tensors_of(inputs, n_in);
        auto r = torch::autograd::grad(outs, ins, gouts,
                                       retain_graph ? c10::optional<bool>(true) : c10::nullopt,
                                       create_graph != 0, allow_unused != 0);
        for (int i = 0; i < n_in; i++) out[i] = r[i].defined() ? wrap(r[i]) : nullptr;
        return 0;)
}
dt_tensor dt_grad(dt_tensor a, int *defined) {
  GUARD(nullptr, require_out(defined, "flag"); const at::Tensor &g = T(a).grad();
        *defined = g.defined() ? 1 : 0; return g.defined() ? wrap(g) : nullptr;)
}
int dt_zero_grad(dt_tensor a) { GUARD(-1, T(a).mutable_grad().reset(); return 0;) }
int dt_clip_grad_norm(const dt_tensor *ts, int n, double max_norm, double *total_norm) {
  GUARD(-1, require_out(total_norm, "norm");
        *total_norm = torch::nn::utils::clip_grad_norm_(tensors_of(ts, n), max_norm); return 0;)
}

// ---- TorchScript modules ----------------------------------------------------------------
void dt_module_free(dt_module m) {
  if (m != nullptr && m->tag == TAG_MODULE) delete m;
}
dt_module dt_module_load(const char *path, const char *device) {
  GUARD(nullptr, if (!path) fail("null path");
        return new dt_module_s(torch::jit::load(std::string(path), device_of(device)));)
}
dt_module dt_module_load_bytes(const void *data, int64_t nbytes, const char *device) {
  GUARD(nullptr, if (!data || nbytes <= 0) fail("empty module data");
        std::istringstream is(std::string(static_cast<const char *>(data),
                                          static_cast<size_t>(nbytes)));
        return new dt_module_s(torch::jit::load(is, device_of(device)));)
}
int dt_module_save(dt_module m, const char *path) {
  GUARD(-1, if (!path) fail("null path"); M(m).save(std::string(path)); return 0;)
}
int dt_module_save_bytes(dt_module m, char **out_data, int64_t *out_len) {
  GUARD(-1, std::ostringstream os; M(m).save(os); return return_bytes(os.str(), out_data, out_len);)
}
dt_module dt_module_new(const char *class_name) {
  GUARD(nullptr, if (!class_name || !*class_name) fail("empty class name");
        torch::jit::Module mod{c10::QualifiedName(class_name)};
        // what nn.Module has and torch.jit.script keeps: train()/eval() record the mode in it, Python
        // reads module.training, and TorchScript methods may use self.training
        mod.register_attribute("training", c10::BoolType::get(), true);
        return new dt_module_s(std::move(mod));)
}
dt_module dt_module_clone(dt_module m) {
  GUARD(nullptr, const auto &src = M(m);
        // Under grad mode the copied parameters would be non-leaf results of clone().
        torch::NoGradGuard no_grad; torch::jit::Module c = src.clone();
        for (auto p : c.parameters()) p.requires_grad_(true);
        return new dt_module_s(std::move(c));)
}
dt_module dt_module_freeze(dt_module m) {
  GUARD(nullptr, torch::jit::Module c = M(m).clone(); c.eval();
        return new dt_module_s(torch::jit::freeze(c));)
}
int dt_module_register_module(dt_module m, const char *name, dt_module sub) {
  GUARD(-1, M(m).register_module(name, M(sub)); return 0;)
}
int dt_module_register_parameter(dt_module m, const char *name, dt_tensor t) {
  GUARD(-1, M(m).register_parameter(name, T(t), false); return 0;)
}
int dt_module_register_buffer(dt_module m, const char *name, dt_tensor t) {
  GUARD(-1, M(m).register_buffer(name, T(t)); return 0;)
}
int dt_module_register_double(dt_module m, const char *name, double v) {
  GUARD(-1, M(m).register_attribute(name, c10::FloatType::get(), v); return 0;)
}
int dt_module_register_int(dt_module m, const char *name, int64_t v) {
  GUARD(-1, M(m).register_attribute(name, c10::IntType::get(), v); return 0;)
}
int dt_module_register_int_list(dt_module m, const char *name, const int64_t *v, int n) {
  GUARD(-1, if (n < 0 || (n > 0 && !v)) fail("invalid int list");
        c10::List<int64_t> l(std::vector<int64_t>(v, v + n));
        M(m).register_attribute(name, c10::ListType::ofInts(), l); return 0;)
}
int dt_module_define(dt_module m, const char *source) {
  GUARD(-1, if (!source) fail("null source"); M(m).define(source); return 0;)
}
int dt_module_has_attr(dt_module m, const char *name) {
  GUARD(-1, return M(m).hasattr(name) ? 1 : 0;)
}
int dt_module_get_double(dt_module m, const char *name, double *out) {
  GUARD(-1, require_out(out, "value"); auto v = M(m).attr(name);
        if (v.isDouble()) *out = v.toDouble();
        else if (v.isInt()) *out = static_cast<double>(v.toInt());
        else fail(std::string("attribute '") + name + "' is a " + v.tagKind() + ", not a number");
        return 0;)
}
int dt_module_get_int_list(dt_module m, const char *name, int64_t *out, int cap) {
  GUARD(-1, auto v = M(m).attr(name);
        if (!v.isIntList())
          fail(std::string("attribute '") + name + "' is a " + v.tagKind() + ", not a list of ints");
        auto l = v.toIntVector(); if (cap > 0) require_out(out, "list");
        for (size_t i = 0; i < l.size() && static_cast<int>(i) < cap; i++) out[i] = l[i];
        return static_cast<int>(l.size());)
}
int dt_module_run(dt_module m, const char *method, int nargs, const int *kinds,
                  const dt_tensor *tensors, const double *doubles, const int64_t *ints,
                  dt_tensor *outs, int cap) {
  GUARD(-1, auto &mod = M(m); std::string name = method ? method : "forward";
        if (nargs < 0 || (nargs > 0 && !kinds)) fail("invalid argument list");
        auto found = mod.find_method(name);
        if (!found) fail("module has no method '" + name + "'");
        std::vector<c10::IValue> args; args.reserve(nargs);
        for (int i = 0; i < nargs; i++) {
          switch (kinds[i]) {
            case DT_ARG_TENSOR: require_out(tensors, "tensor args"); args.emplace_back(T(tensors[i])); break;
            case DT_ARG_DOUBLE: require_out(doubles, "double args"); args.emplace_back(doubles[i]); break;
            case DT_ARG_INT: require_out(ints, "int args"); args.emplace_back(ints[i]); break;
            case DT_ARG_BOOL: require_out(ints, "bool args"); args.emplace_back(ints[i] != 0); break;
            case DT_ARG_NONE: args.emplace_back(); break;
            default: fail("unknown argument kind " + std::to_string(kinds[i]));
          }
        }
        c10::IValue r = (*found)(std::move(args));
        return write_handles(tensors_in(r, "method '" + name + "'"), outs, cap);)
}
char *dt_module_methods(dt_module m) {
  GUARD(nullptr, std::ostringstream os;
        for (const auto &method : M(m).get_methods()) os << method.function().getSchema() << "\n";
        return copy_string(os.str());)
}
char *dt_module_names(dt_module m, int kind) {
  GUARD(nullptr, std::ostringstream os;
        if (kind == 0) for (const auto &p : M(m).named_parameters(true)) os << p.name << "\n";
        else if (kind == 1) for (const auto &p : M(m).named_buffers(true)) os << p.name << "\n";
        else fail("kind must be 0 (parameters) or 1 (buffers)");
        return copy_string(os.str());)
}
int dt_module_tensors(dt_module m, int kind, dt_tensor *out, int cap) {
  GUARD(-1, std::vector<at::Tensor> v;
        if (kind == 0) for (const auto &p : M(m).named_parameters(true)) v.push_back(p.value);
        else if (kind == 1) for (const auto &p : M(m).named_buffers(true)) v.push_back(p.value);
        else fail("kind must be 0 (parameters) or 1 (buffers)");
        return write_handles(v, out, cap);)
}
int dt_module_train(dt_module m, int on) { GUARD(-1, M(m).train(on != 0); return 0;) }
int dt_module_is_training(dt_module m) { GUARD(-1, return M(m).is_training() ? 1 : 0;) }
int dt_module_to(dt_module m, const char *device, int dtype) {
  GUARD(-1, auto &mod = M(m); if (device) mod.to(device_of(device));
        if (dtype >= 0) mod.to(dtype_of(dtype)); return 0;)
}
int dt_module_requires_grad_(dt_module m, int on) {
  GUARD(-1, for (auto p : M(m).parameters()) p.requires_grad_(on != 0); return 0;)
}
int dt_module_reads_training(dt_module m) {
  // Every method of the module and its submodules, uninlined: with the graph executor's
  // optimisation off (as this library runs), Inline leaves submodule calls alone, so forward's own
  // graph would hide a Dropout's flag. Reads anywhere in the tree count (a safe over-estimate).
  GUARD(-1, auto &mod = M(m); bool reads = false;
        for (const auto &sub : mod.modules())
          for (const auto &method : sub.get_methods())
            if (method.graph()->toString().find("name=\"training\"") != std::string::npos) reads = true;
        return reads ? 1 : 0;)
}

// ---- training-loop helpers --------------------------------------------------------------
int dt_module_ema_(dt_module avg, dt_module cur, double beta) {
  GUARD(-1, torch::NoGradGuard no_grad; auto a = M(avg).parameters(); auto c = M(cur).parameters();
        auto ai = a.begin(); auto ci = c.begin();
        for (; ai != a.end() && ci != c.end(); ++ai, ++ci) {
          at::Tensor x = *ai; const at::Tensor y = *ci;
          if (!x.sizes().equals(y.sizes())) fail("EMA: parameter shapes differ");
          if (beta == 0) x.copy_(y);
          else if (cpu_f32_dense(x) && cpu_f32_dense(y)) {
            dishim::ema_update_f32(x.data_ptr<float>(), y.data_ptr<float>(), x.numel(), static_cast<float>(beta),
                                   static_cast<float>(1 - beta));
            x.unsafeGetTensorImpl()->bump_version();
          } else x.mul_(beta).add_(y, 1 - beta);
        }
        if (ai != a.end() || ci != c.end()) fail("EMA: the modules have different numbers of parameters");
        return 0;)
}
int dt_module_grad_norm_(dt_module m, double max_norm, double *total_norm) {
  GUARD(-1, require_out(total_norm, "norm"); std::vector<at::Tensor> norms, grads;
        for (const auto &p : M(m).parameters()) {
          const at::Tensor &g = p.grad();
          if (g.defined()) { grads.push_back(g); norms.push_back(g.norm(2)); }
        }
        if (norms.empty()) { *total_norm = 0; return 0; }
        // the same arithmetic as torch::nn::utils::clip_grad_norm_ (norm_type 2)
        at::Tensor total = norms.size() == 1 ? norms[0] : at::stack(norms).norm(2);
        if (std::isfinite(max_norm)) {
          at::Tensor coef = at::clamp(max_norm / (total + 1e-6), c10::nullopt, 1.0);
          for (auto &g : grads) g.mul_(coef);
        }
        *total_norm = total.item<double>(); return 0;)
}

// ---- tensor files -----------------------------------------------------------------------
int dt_tensors_pickle(const dt_tensor *ts, int n, char **out_data, int64_t *out_len) {
  GUARD(-1, c10::List<at::Tensor> l; for (auto &t : tensors_of(ts, n)) l.push_back(t.detach().cpu());
        std::vector<char> bytes = torch::pickle_save(c10::IValue(l));
        return return_bytes(std::string(bytes.begin(), bytes.end()), out_data, out_len);)
}
int dt_tensors_unpickle(const void *data, int64_t nbytes, dt_tensor *out, int cap) {
  GUARD(-1, if (!data || nbytes <= 0) fail("empty tensor data");
        const char *p = static_cast<const char *>(data);
        c10::IValue v = torch::pickle_load(std::vector<char>(p, p + nbytes));
        return write_handles(tensors_in(v, "tensor file"), out, cap);)
}

// ---- Adam -------------------------------------------------------------------------------
dt_adam dt_adam_new(const dt_tensor *params, int n, double lr, double beta1, double beta2,
                    double eps, double weight_decay, int amsgrad) {
  GUARD(nullptr, auto ps = tensors_of(params, n);
        for (auto &p : ps) if (!p.is_leaf() || !p.requires_grad())
          fail("Adam needs leaf parameters with requires_grad set");
        torch::optim::AdamOptions o(lr); o.betas(std::make_tuple(beta1, beta2)).eps(eps)
            .weight_decay(weight_decay).amsgrad(amsgrad != 0);
        return new dt_adam_s(ps, o);)
}
void dt_adam_free(dt_adam o) {
  if (o != nullptr && o->tag == TAG_ADAM) delete o;
}
extern "C++" {
namespace {

// The optimiser's state map is keyed by the TensorImpl address: as a string in libtorch 1.x,
// as the pointer itself in 2.x.
template <class Map>
typename Map::iterator find_state(Map &state, const at::Tensor &p) {
  if constexpr (std::is_same_v<typename Map::key_type, std::string>) {
    std::ostringstream key;  // what c10::guts::to_string writes
    key << p.unsafeGetTensorImpl();
    return state.find(key.str());
  } else {
    return state.find(p.unsafeGetTensorImpl());
  }
}

// torch::optim::Adam's step as one pass per parameter (fused_cpu.h), for the common case: CPU
// float32 contiguous tensors whose state exists (from the second step on), no weight decay, no
// AMSGrad. Returns false, having changed nothing, when any parameter does not qualify.
bool fused_adam_step(dt_adam_s &a) {
  auto &groups = a.opt.param_groups();
  if (groups.size() != 1) return false;
  auto &o = static_cast<torch::optim::AdamOptions &>(groups[0].options());
  if (o.amsgrad() || o.weight_decay() != 0) return false;
  struct Job {
    at::Tensor p, g;
    torch::optim::AdamParamState *state;
  };
  std::vector<Job> jobs;
  auto &state = a.opt.state();
  for (auto &p : groups[0].params()) {
    const at::Tensor &g = p.grad();
    if (!g.defined()) continue;  // as libtorch: a parameter without a gradient is left alone
    if (!cpu_f32_dense(p) || !cpu_f32_dense(g) || g.numel() != p.numel()) return false;
    auto it = find_state(state, p);
    if (it == state.end()) return false;
    auto *s = static_cast<torch::optim::AdamParamState *>(it->second.get());
    if (!cpu_f32_dense(s->exp_avg()) || !cpu_f32_dense(s->exp_avg_sq()) || s->exp_avg().numel() != p.numel() ||
        s->exp_avg_sq().numel() != p.numel())
      return false;
    jobs.push_back({p, g, s});
  }
  const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
  for (auto &j : jobs) {
    j.state->step(j.state->step() + 1);
    const double bc1 = 1 - std::pow(beta1, j.state->step()), bc2 = 1 - std::pow(beta2, j.state->step());
    dishim::adam_update_f32(j.p.data_ptr<float>(), j.g.data_ptr<float>(), j.state->exp_avg().data_ptr<float>(),
                            j.state->exp_avg_sq().data_ptr<float>(), j.p.numel(), static_cast<float>(beta1),
                            static_cast<float>(1 - beta1), static_cast<float>(beta2), static_cast<float>(1 - beta2),
                            static_cast<float>(std::sqrt(bc2)), static_cast<float>(o.eps()),
                            static_cast<float>(-(o.lr() / bc1)));
    // written through raw pointers: tell autograd the tensors changed, as an in-place op would
    j.p.unsafeGetTensorImpl()->bump_version();
    j.state->exp_avg().unsafeGetTensorImpl()->bump_version();
    j.state->exp_avg_sq().unsafeGetTensorImpl()->bump_version();
  }
  return true;
}

}  // namespace
}  // extern "C++"

int dt_adam_step(dt_adam o) {
  GUARD(-1, torch::NoGradGuard no_grad; if (!fused_adam_step(*A(o))) A(o)->opt.step(); return 0;)
}
int dt_adam_zero_grad(dt_adam o) {
  GUARD(-1, for (auto &p : A(o)->params) p.mutable_grad().reset(); return 0;)
}
int dt_adam_set_lr(dt_adam o, double lr) {
  GUARD(-1, if (!(lr >= 0)) fail("learning rate must be >= 0");
        for (auto &g : A(o)->opt.param_groups())
          static_cast<torch::optim::AdamOptions &>(g.options()).lr(lr);
        return 0;)
}
int dt_adam_get_lr(dt_adam o, double *out) {
  GUARD(-1, require_out(out, "lr");
        *out = static_cast<torch::optim::AdamOptions &>(A(o)->opt.param_groups()[0].options()).lr();
        return 0;)
}
int dt_adam_save_state(dt_adam o, char **out_data, int64_t *out_len) {
  GUARD(-1, torch::serialize::OutputArchive ar; A(o)->opt.save(ar); std::ostringstream os;
        ar.save_to(os); return return_bytes(os.str(), out_data, out_len);)
}
int dt_adam_load_state(dt_adam o, const void *data, int64_t nbytes) {
  GUARD(-1, if (!data || nbytes <= 0) fail("empty optimizer state");
        std::istringstream is(std::string(static_cast<const char *>(data),
                                          static_cast<size_t>(nbytes)));
        torch::serialize::InputArchive ar; ar.load_from(is); A(o)->opt.load(ar); return 0;)
}

}  // extern "C"
