// Automatic mixed precision (torch.autocast) for the ops a thread runs: the networks' matmuls and
// convolutions in bfloat16 or float16 while parameters, gradients and optimiser state stay float32.
// LibTorch 2.4 replaced the per-backend setters (set_enabled, set_cpu_enabled, ...) by ones that take
// a device type; both generations are served here.
#include "shim_internal.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

using namespace dishim::internal;

namespace {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool enabled(at::DeviceType t) { return at::autocast::is_autocast_enabled(t); }
void set_enabled(at::DeviceType t, bool on) { at::autocast::set_autocast_enabled(t, on); }
at::ScalarType dtype(at::DeviceType t) { return at::autocast::get_autocast_dtype(t); }
void set_dtype(at::DeviceType t, at::ScalarType d) { at::autocast::set_autocast_dtype(t, d); }
#else
bool enabled(at::DeviceType t) { return t == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled(); }
void set_enabled(at::DeviceType t, bool on) {
  if (t == at::kCUDA) at::autocast::set_enabled(on);
  else at::autocast::set_cpu_enabled(on);
}
at::ScalarType dtype(at::DeviceType t) {
  return t == at::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
void set_dtype(at::DeviceType t, at::ScalarType d) {
  if (t == at::kCUDA) at::autocast::set_autocast_gpu_dtype(d);
  else at::autocast::set_autocast_cpu_dtype(d);
}
#endif

at::DeviceType device_type(const char *device) {
  at::Device d = device_of(device);  // refuses "cuda" where this libtorch has no GPU
  return d.type();
}

}  // namespace

extern "C" {

int dt_autocast_enter(const char *device_type_name, int dtype_code, int *prev) {
  GUARD(-1, require_out(prev, "previous autocast state"); at::DeviceType t = device_type(device_type_name);
        at::ScalarType d = dtype_of(dtype_code);
        if (d != at::kBFloat16 && d != at::kHalf) fail("autocast runs in bfloat16 or float16, not " + std::string(c10::toString(d)));
        prev[0] = enabled(t) ? 1 : 0; prev[1] = static_cast<int>(dtype(t));
        set_enabled(t, true); set_dtype(t, d); at::autocast::increment_nesting(); return 0;)
}

int dt_autocast_exit(const char *device_type_name, const int *prev) {
  GUARD(-1, require_out(prev, "previous autocast state"); at::DeviceType t = device_type(device_type_name);
        // the outermost region drops the cached low-precision copies of the weights, as torch.autocast does
        if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
        set_enabled(t, prev[0] != 0); set_dtype(t, static_cast<at::ScalarType>(prev[1])); return 0;)
}

}  // extern "C"
