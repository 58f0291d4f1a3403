// Tensors in and out of the shim: creation (from host memory, by shape and value, random), the
// metadata and host copies that read them back, and tensor lists in torch.save's format.
#include "shim_internal.h"

#include <cstring>
#include <sstream>

using namespace dishim::internal;

extern "C" {

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

// ---- tensor files -----------------------------------------------------------------------
// A tuple, not a c10::List: a list pickles through torch.jit._pickle.build_tensorlist, which
// torch.load's default weights_only=True (PyTorch >= 2.6) refuses; a tuple of tensors it loads.
int dt_tensors_pickle(const dt_tensor *ts, int n, char **out_data, int64_t *out_len) {
  GUARD(-1, std::vector<c10::IValue> elems; for (auto &t : tensors_of(ts, n)) elems.emplace_back(t.detach().cpu());
        std::vector<char> bytes = torch::pickle_save(c10::IValue(c10::ivalue::Tuple::create(std::move(elems))));
        return return_bytes(std::string(bytes.begin(), bytes.end()), out_data, out_len);)
}
int dt_tensors_unpickle(const void *data, int64_t nbytes, dt_tensor *out, int cap) {
  GUARD(-1, if (!data || nbytes <= 0) fail("empty tensor data");
        const char *p = static_cast<const char *>(data);
        c10::IValue v = torch::pickle_load(std::vector<char>(p, p + nbytes));
        return write_handles(tensors_in(v, "tensor file"), out, cap);)
}

}  // extern "C"
