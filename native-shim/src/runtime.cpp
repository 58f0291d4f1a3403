// The process-level part of dishim.h: the thread-local last error, malloc'd buffers, libtorch's
// version and build, threads, grad mode, the graph executor, TF32, cuDNN's autotuner and the
// live-handle counts.
//
// Every entry point that can throw is wrapped in GUARD (shim_internal.h): exceptions become a
// thread-local message and a failure return value, because an exception unwinding into the JVM's
// frames would abort the process.
#include "shim_internal.h"

#include <torch/cuda.h>
#include <ATen/Parallel.h>

#include <cstdlib>

// Declared here rather than included: its header lives under torch/csrc/jit/python/, which not
// every LibTorch distribution ships; the function itself is in libtorch_cpu in 1.13 and 2.x.
namespace torch {
namespace jit {
TORCH_API void setGraphExecutorOptimize(bool o);
TORCH_API bool getGraphExecutorOptimize();
}  // namespace jit
}  // namespace torch

using namespace dishim::internal;

void dishim::internal::apply_thread_settings() {
  torch::jit::setGraphExecutorOptimize(want_graph_optimize.load());
  at::globalContext().setFlushDenormal(want_flush_denormal.load());
}

namespace {
thread_local std::string last_error;
}  // namespace

void dishim::internal::set_error(const char *msg) { last_error = msg ? msg : "unknown error"; }

extern "C" {

// ---- errors, buffers, runtime -----------------------------------------------------------
const char *dt_last_error(void) { return last_error.c_str(); }
void dt_clear_error(void) { last_error.clear(); }
void dt_buffer_free(char *buf) { std::free(buf); }

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
  GUARD(-1, if (!at::globalContext().setFlushDenormal(on != 0)) return -1;
        want_flush_denormal = on != 0; settings_generation++; return 0;)
}
int dt_set_grad_enabled(int on) {
  GUARD(-1, bool prev = at::GradMode::is_enabled(); at::GradMode::set_enabled(on != 0);
        return prev ? 1 : 0;)
}
int dt_is_grad_enabled(void) { GUARD(-1, return at::GradMode::is_enabled() ? 1 : 0;) }
int dt_set_graph_executor_optimize(int on) {
  GUARD(-1, bool prev = torch::jit::getGraphExecutorOptimize(); want_graph_optimize = on != 0;
        settings_generation++; torch::jit::setGraphExecutorOptimize(on != 0); return prev ? 1 : 0;)
}
// The legacy setters exist from 1.13 to 2.14; 2.9's per-backend API (setFloat32Precision) is not
// mixed in, since 2.x warns when the two are used together.
int dt_get_tf32(void) {
  GUARD(-1, auto &c = at::globalContext();
        return (c.allowTF32CuBLAS() ? 1 : 0) | (c.allowTF32CuDNN() ? 2 : 0);)
}
int dt_set_tf32(int bits) {
  GUARD(-1, if (bits < 0 || bits > 3) fail("TF32 bits must be 0..3, got " + std::to_string(bits));
        int prev = dt_get_tf32(); auto &c = at::globalContext();
        c.setAllowTF32CuBLAS((bits & 1) != 0); c.setAllowTF32CuDNN((bits & 2) != 0); return prev;)
}
int dt_set_cudnn_benchmark(int on) {
  GUARD(-1, auto &c = at::globalContext(); bool prev = c.benchmarkCuDNN(); c.setBenchmarkCuDNN(on != 0);
        return prev ? 1 : 0;)
}
int dt_check_device(const char *device) { GUARD(-1, device_of(device); return 0;) }
int dt_live_handles(int64_t *out4) {
  GUARD(-1, require_out(out4, "counts"); for (int i = 0; i < 4; i++) out4[i] = live[i].load();
        return 0;)
}

}  // extern "C"
