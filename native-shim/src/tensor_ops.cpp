// Tensor operations: the op-code dispatch behind dt_unary, dt_binary*, dt_reduce (one entry point
// per family keeps the C API and the generated bindings small), and every other operation that
// maps one call onto one libtorch method.
#include "shim_internal.h"

#include <cmath>

using namespace dishim::internal;

namespace {

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

}  // namespace

extern "C" {

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

}  // extern "C"
