// Random state: libtorch's default generators (what dropout inside TorchScript draws from) and the
// shim's own generator objects, whose states checkpoints save so that a resumed run draws the same
// numbers. Each state access holds the generator's mutex, as libtorch's own accessors do.
#include "shim_internal.h"

#include <mutex>

using namespace dishim::internal;

extern "C" {

// ---- default generators -----------------------------------------------------------------
int dt_manual_seed(uint64_t seed) { GUARD(-1, torch::manual_seed(seed); return 0;) }
// The default generator of a device: CPU's mt19937, or the CUDA device's Philox (seed and
// offset), through the context so that no backend header is needed.
static at::Generator default_generator(const char *device) {
  at::Device d = device_of(device);
  return d.is_cpu() ? at::detail::getDefaultCPUGenerator() : at::globalContext().defaultGenerator(d);
}
dt_tensor dt_default_rng_state(const char *device) {
  GUARD(nullptr, auto g = default_generator(device);
        std::lock_guard<std::mutex> lock(g.mutex()); return wrap(g.get_state());)
}
int dt_set_default_rng_state(const char *device, dt_tensor state) {
  GUARD(-1, auto g = default_generator(device);
        std::lock_guard<std::mutex> lock(g.mutex()); g.set_state(T(state)); return 0;)
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

}  // extern "C"
