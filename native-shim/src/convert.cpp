// Conversions between the C API's plain arguments (codes, strings, arrays of handles) and
// libtorch's types, shared by every part of the shim. They throw; the GUARD of the calling entry
// point turns that into a failure return.
#include "shim_internal.h"

#include <torch/cuda.h>

#include <cstdlib>
#include <cstring>

namespace dishim {
namespace internal {

char *copy_string(const std::string &s) {
  char *out = static_cast<char *>(std::malloc(s.size() + 1));
  if (!out) throw std::bad_alloc();
  std::memcpy(out, s.data(), s.size());
  out[s.size()] = 0;
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

int write_handles(const std::vector<at::Tensor> &v, dt_tensor *out, int cap) {
  int n = static_cast<int>(v.size());
  if (cap == 0) return n;
  if (out == nullptr || cap < n)
    fail("result has " + std::to_string(n) + " tensors but room for " + std::to_string(cap));
  for (int i = 0; i < n; i++) out[i] = nullptr;
  for (int i = 0; i < n; i++) out[i] = wrap(v[i]);
  return n;
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

}  // namespace internal
}  // namespace dishim
