// What every translation unit of the shim shares: the handle types behind dishim.h's opaque
// pointers, the GUARD that keeps C++ exceptions from crossing the C boundary, and the argument
// conversions. Not installed and not part of the C API.
//
// The small helpers that run on every call (handle checks, wrap) are inline here so that splitting
// the shim into several files costs no extra call per operation.
#pragma once

#include "dishim.h"

#include <torch/torch.h>
#include <torch/script.h>

#include <atomic>
#include <cstdint>
#include <sstream>
#include <type_traits>
#include <stdexcept>
#include <string>
#include <vector>

namespace dishim {
namespace internal {

// Type tags: a handle whose tag does not match is refused instead of being reinterpreted.
constexpr uint32_t TAG_TENSOR = 0x7e45a001u;
constexpr uint32_t TAG_MODULE = 0x7e45a002u;
constexpr uint32_t TAG_ADAM = 0x7e45a003u;
constexpr uint32_t TAG_GENERATOR = 0x7e45a004u;
constexpr uint32_t TAG_FREED = 0xdeadbeefu;

// live handles of each kind, for dt_live_handles: [0] tensors, [1] modules, [2] optimisers, [3] generators
__attribute__((visibility("hidden"))) inline std::atomic<int64_t> live[4];

template <uint32_t Tag, int Slot> struct Tagged {
  uint32_t tag = Tag;
  Tagged() { live[Slot]++; }
  ~Tagged() {
    tag = TAG_FREED;
    live[Slot]--;
  }
};

}  // namespace internal
}  // namespace dishim

struct dt_tensor_s : dishim::internal::Tagged<dishim::internal::TAG_TENSOR, 0> {
  at::Tensor t;
  explicit dt_tensor_s(at::Tensor x) : t(std::move(x)) {}
};
struct dt_module_s : dishim::internal::Tagged<dishim::internal::TAG_MODULE, 1> {
  torch::jit::Module m;
  explicit dt_module_s(torch::jit::Module x) : m(std::move(x)) {}
};
// The state of dt_adam_guarded_step (adam_guarded.cpp): step counts live on the device while it
// runs, and are written back to the optimiser's own (host) states before anything else reads them.
struct dt_adam_guard {
  bool adopted = false;
  std::vector<char> with_grad;  // which parameters had a gradient when the device counts took over
  std::vector<int64_t> base;    // their step counts then
  at::Tensor applied;           // float64 0-dim on the device: updates applied since
  at::Tensor skipped, run, worst, last_norm;  // skip counts (int64) and the last norm (float64), 0-dim
};
struct dt_adam_s : dishim::internal::Tagged<dishim::internal::TAG_ADAM, 2> {
  std::vector<at::Tensor> params;
  torch::optim::Adam opt;
  dt_adam_guard guard;
  dt_adam_s(std::vector<at::Tensor> p, const torch::optim::AdamOptions &o) : params(p), opt(p, o) {}
};
struct dt_generator_s : dishim::internal::Tagged<dishim::internal::TAG_GENERATOR, 3> {
  at::Generator g;
  explicit dt_generator_s(at::Generator x) : g(std::move(x)) {}
};

// Hidden from the library's exported symbols: only dishim.h's functions are its interface, and
// these helpers had internal linkage while the shim was one file. (Not the handle types above:
// dishim.h declares them with default visibility, and a base may not be less visible.)
#pragma GCC visibility push(hidden)

namespace dishim {
namespace internal {

// Stores the message that dt_last_error returns (thread-local, in runtime.cpp).
void set_error(const char *msg);

// Settings the API makes process-wide but libtorch keeps per thread (the graph executor's
// optimisation flag is thread_local; denormal flushing lives in each thread's MXCSR): each call
// brings its thread up to date first, so that a Java thread other than the one that loaded the
// library (a rank of a test, a user's worker) computes exactly what the main thread would.
inline std::atomic<uint32_t> settings_generation{0};
inline std::atomic<bool> want_flush_denormal{false}, want_graph_optimize{true};
void apply_thread_settings();  // runtime.cpp
inline void sync_thread_settings() {
  thread_local uint32_t seen = UINT32_MAX;
  uint32_t g = settings_generation.load(std::memory_order_acquire);
  if (seen != g) {
    seen = g;
    apply_thread_settings();
  }
}

#define GUARD(fail, ...)                                           \
  try {                                                            \
    dishim::internal::sync_thread_settings();                      \
    __VA_ARGS__                                                    \
  } catch (const c10::Error &e) {                                  \
    dishim::internal::set_error(e.what_without_backtrace());       \
    return fail;                                                   \
  } catch (const std::exception &e) {                              \
    dishim::internal::set_error(e.what());                         \
    return fail;                                                   \
  } catch (...) {                                                  \
    dishim::internal::set_error("unknown C++ exception");          \
    return fail;                                                   \
  }

[[noreturn]] inline void fail(const std::string &msg) { throw std::invalid_argument(msg); }

template <typename H> H *checked(H *h, uint32_t tag, const char *what) {
  if (h == nullptr) fail(std::string("null ") + what + " handle");
  if (h->tag != tag) {
    if (h->tag == TAG_FREED) fail(std::string(what) + " handle was already freed");
    fail(std::string(what[0] == 'o' ? "not an " : "not a ") + what + " handle (foreign or corrupted pointer)");
  }
  return h;
}

inline const at::Tensor &T(dt_tensor h) { return checked(h, TAG_TENSOR, "tensor")->t; }
inline torch::jit::Module &M(dt_module h) { return checked(h, TAG_MODULE, "module")->m; }
inline dt_adam_s *A(dt_adam h) { return checked(h, TAG_ADAM, "optimizer"); }
inline at::Generator &G(dt_generator h) { return checked(h, TAG_GENERATOR, "generator")->g; }

inline dt_tensor wrap(at::Tensor t) { return new dt_tensor_s(std::move(t)); }

inline void require_out(const void *p, const char *what) {
  if (p == nullptr) fail(std::string("null output pointer for ") + what);
}

// a tensor the fused CPU kernels (fused_cpu.h) can read as a flat float array
inline bool cpu_f32_dense(const at::Tensor &t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == at::kFloat && t.layout() == at::kStrided &&
         t.is_contiguous();
}

// The key of a parameter in Optimizer::state(): its TensorImpl address, as a string (what ostream
// prints) up to LibTorch 1.13, the pointer itself in 2.x.
template <typename Map>
typename Map::key_type state_key(const Map &, at::TensorImpl *p) {
  if constexpr (std::is_same_v<typename Map::key_type, std::string>) {
    std::ostringstream os;
    os << p;
    return os.str();
  } else {
    return p;
  }
}
template <class Map>
typename Map::iterator find_state(Map &state, const at::Tensor &p) {
  return state.find(state_key(state, p.unsafeGetTensorImpl()));
}

// The L2 norm of `grads` (not empty) as torch::nn::utils::clip_grad_norm_ computes it: per-tensor
// norms, then their norm; and its factor for max_norm (finite), at most 1. Shared by
// dt_module_grad_norm_ and the guarded Adam step, so that both guards see the same norm.
inline at::Tensor grad_norm(const std::vector<at::Tensor> &grads) {
  std::vector<at::Tensor> norms;
  norms.reserve(grads.size());
  for (const auto &g : grads) norms.push_back(g.norm(2));
  return norms.size() == 1 ? norms[0] : at::stack(norms).norm(2);
}
inline at::Tensor clip_coef(const at::Tensor &total, double max_norm) {
  return at::clamp(max_norm / (total + 1e-6), c10::nullopt, 1.0);
}

// Writes the guarded step's device step counts back into the optimiser's states (a host sync;
// nothing when no guarded step ran since): before an unguarded step, a save or a load.
void adam_guard_flush(dt_adam_s &a);

// ---- argument and result conversions (convert.cpp) ----------------------------------------
// A malloc'd copy of s, for the caller to release with dt_buffer_free.
char *copy_string(const std::string &s);
// s as a malloc'd buffer in *out_data / *out_len (released with dt_buffer_free); returns 0.
int return_bytes(const std::string &s, char **out_data, int64_t *out_len);
// "cpu" (or NULL/empty), "cuda", "cuda:N"; refuses a device this libtorch cannot use.
at::Device device_of(const char *spec);
at::ScalarType dtype_of(int code);
at::TensorOptions opts(int dtype, const char *device);
at::IntArrayRef dims_of(const int64_t *shape, int ndim);
c10::optional<at::Generator> gen_of(dt_generator g);
std::vector<at::Tensor> tensors_of(const dt_tensor *ts, int n);
// Writes v as new handles to out[0..cap), or only counts them when cap is 0; returns the count.
int write_handles(const std::vector<at::Tensor> &v, dt_tensor *out, int cap);
// The tensors of a method's result or an unpickled value: a tensor, or a tuple/list of tensors.
std::vector<at::Tensor> tensors_in(const c10::IValue &v, const std::string &what);

}  // namespace internal
}  // namespace dishim

#pragma GCC visibility pop
