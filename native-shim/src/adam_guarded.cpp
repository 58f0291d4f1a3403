// Adam's step guarded against non-finite gradients with no host synchronisation: on CUDA, reading
// the gradient norm to decide whether to step would stall the stream every iteration. Here the
// decision is a 0-dim boolean tensor on the device, and a skipped update multiplies by one and adds
// zero, so parameters, moments and step counts come out bit-for-bit unchanged. The step counts
// (which the bias corrections need) live in a device tensor while guarded steps run, and go back to
// libtorch's host-side AdamParamState before anything else reads them (adam_guard_flush).
//
// The arithmetic is torch::optim::Adam's (1.13 and 2.x): m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2,
// p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps); only the last product is rounded
// differently (the step size is a device tensor, not a host scalar).
#include "shim_internal.h"

#include <cmath>
#include <limits>
#include <map>

using namespace dishim::internal;

namespace {

torch::optim::AdamOptions &options(dt_adam_s &a) {
  return static_cast<torch::optim::AdamOptions &>(a.opt.param_groups().at(0).options());
}

// The device counts take over from the host states of the parameters in `pattern` (those with a
// gradient), creating the states that the first step would (zero moments, step 0).
void adopt(dt_adam_s &a, const std::vector<char> &pattern, const at::Device &device) {
  auto &params = a.opt.param_groups().at(0).params();
  auto &state = a.opt.state();
  dt_adam_guard &g = a.guard;
  g.with_grad = pattern;
  g.base.assign(params.size(), 0);
  for (size_t i = 0; i < params.size(); i++) {
    if (!pattern[i]) continue;
    auto it = find_state(state, params[i]);
    if (it == state.end()) {
      auto s = std::make_unique<torch::optim::AdamParamState>();
      s->step(0);
      s->exp_avg(at::zeros_like(params[i], at::MemoryFormat::Preserve));
      s->exp_avg_sq(at::zeros_like(params[i], at::MemoryFormat::Preserve));
      state[state_key(state, params[i].unsafeGetTensorImpl())] = std::move(s);
    } else {
      g.base[i] = static_cast<torch::optim::AdamParamState &>(*it->second).step();
    }
  }
  auto f64 = at::TensorOptions().dtype(at::kDouble).device(device);
  auto i64 = at::TensorOptions().dtype(at::kLong).device(device);
  g.applied = at::zeros({}, f64);
  if (!g.skipped.defined()) {  // the skip counts outlive a flush; a load resets them
    g.skipped = at::zeros({}, i64);
    g.run = at::zeros({}, i64);
    g.worst = at::zeros({}, i64);
    g.last_norm = at::full({}, std::numeric_limits<double>::quiet_NaN(), f64);
  }
  g.adopted = true;
}

void guarded_step(dt_adam_s &a, double max_norm) {
  auto &o = options(a);
  if (o.amsgrad()) fail("the guarded Adam step does not do AMSGrad");
  auto &params = a.opt.param_groups().at(0).params();
  std::vector<char> pattern(params.size());
  std::vector<size_t> live;
  for (size_t i = 0; i < params.size(); i++)
    if ((pattern[i] = params[i].grad().defined())) live.push_back(i);
  if (live.empty()) return;  // as libtorch: nothing to update
  dt_adam_guard &g = a.guard;
  // which parameters have gradients is known on the host; a change (rare) costs one sync
  if (!g.adopted || pattern != g.with_grad) {
    adam_guard_flush(a);
    adopt(a, pattern, params[live[0]].device());
  }

  // the norm as torch::nn::utils::clip_grad_norm_ (and dt_module_grad_norm_) computes it
  std::vector<at::Tensor> grads;
  for (size_t i : live) grads.push_back(params[i].grad());
  at::Tensor total = grad_norm(grads);
  at::Tensor ok = at::isfinite(total);
  at::Tensor coef = std::isfinite(max_norm) ? clip_coef(total, max_norm) : at::ones({}, total.options());
  coef = at::where(ok, coef, at::zeros({}, total.options()));  // a skipped step's gradients become zeros (NaN * 0 is NaN: nan_to_num below)

  g.applied.add_(ok);
  g.skipped.add_(at::logical_not(ok));
  g.run.copy_(at::where(ok, at::zeros_like(g.run), g.run + 1));
  g.worst.copy_(at::maximum(g.worst, g.run));
  g.last_norm.copy_(total);

  const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
  auto f64 = g.applied.options();
  at::Tensor one = at::ones({}, f64);
  at::Tensor b1 = at::where(ok, at::full({}, beta1, f64), one), b2 = at::where(ok, at::full({}, beta2, f64), one);
  at::Tensor wd = at::where(ok, at::full({}, o.weight_decay(), f64), at::zeros({}, f64));
  // the step size and bias correction per distinct step count (one, unless parameters joined late)
  struct Scale {
    at::Tensor step_size, sqrt_bc2;
  };
  std::map<int64_t, Scale> scales;
  for (size_t i : live) {
    if (scales.count(g.base[i])) continue;
    // the step count after this step (applied already counts it when ok); at least 1, so that a
    // skipped first step divides by no zero (its step size is zero anyway)
    at::Tensor t = at::clamp_min(g.applied + static_cast<double>(g.base[i]), 1);
    at::Tensor bc1 = 1 - at::pow(beta1, t), bc2 = 1 - at::pow(beta2, t);
    scales[g.base[i]] = {at::where(ok, -o.lr() / bc1, at::zeros({}, f64)), at::sqrt(bc2)};
  }
  auto &state = a.opt.state();
  for (size_t i : live) {
    at::Tensor p = params[i];
    at::Tensor grad = p.mutable_grad();
    grad.mul_(coef).nan_to_num_(0.0, 0.0, 0.0);
    if (o.weight_decay() != 0) grad = grad.add(p * wd);
    auto &s = static_cast<torch::optim::AdamParamState &>(*find_state(state, p)->second);
    const Scale &sc = scales[g.base[i]];
    s.exp_avg().mul_(b1).add_(grad, 1 - beta1);
    s.exp_avg_sq().mul_(b2).addcmul_(grad, grad, 1 - beta2);
    at::Tensor denom = (s.exp_avg_sq().sqrt() / sc.sqrt_bc2).add_(o.eps());
    p.addcdiv_(s.exp_avg() * sc.step_size, denom);
  }
}

}  // namespace

namespace dishim {
namespace internal {
void adam_guard_flush(dt_adam_s &a) {
  dt_adam_guard &g = a.guard;
  if (!g.adopted) return;
  const auto applied = static_cast<int64_t>(g.applied.item<double>());
  auto &params = a.opt.param_groups().at(0).params();
  auto &state = a.opt.state();
  for (size_t i = 0; i < params.size(); i++) {
    if (!g.with_grad[i]) continue;
    auto it = find_state(state, params[i]);
    if (it != state.end()) static_cast<torch::optim::AdamParamState &>(*it->second).step(g.base[i] + applied);
  }
  g.adopted = false;
}
}  // namespace internal
}  // namespace dishim

extern "C" {

int dt_adam_guarded_step(dt_adam o, double max_norm) {
  GUARD(-1, if (!(max_norm > 0)) fail("max_norm must be > 0 (infinity: no clipping)"); torch::NoGradGuard no_grad;
        guarded_step(*A(o), max_norm); return 0;)
}

int dt_adam_guard_read(dt_adam o, int64_t *out, double *last_norm) {
  GUARD(-1, require_out(out, "counts"); require_out(last_norm, "norm"); dt_adam_guard &g = A(o)->guard;
        if (!g.skipped.defined()) {
          out[0] = out[1] = out[2] = 0;
          *last_norm = std::numeric_limits<double>::quiet_NaN();
          return 0;
        }
        at::Tensor c = at::stack({g.skipped, g.worst, g.run}).cpu();  // the one sync
        out[0] = c[0].item<int64_t>(); out[1] = c[1].item<int64_t>(); out[2] = c[2].item<int64_t>();
        *last_norm = g.last_norm.item<double>();
        g.worst.zero_();  // the next read reports the steps after this one (a run going on counts whole: run keeps growing)
        return 0;)
}

}  // extern "C"
