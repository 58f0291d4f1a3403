// Training: autograd, gradient clipping, the weight average (EMA) and Adam. The common float32
// CPU case of the EMA and of Adam's step runs through the one-pass kernels of fused_cpu.h,
// bit-identical to libtorch's own ops; everything else goes through libtorch.
#include "shim_internal.h"
#include "fused_cpu.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <type_traits>

using namespace dishim::internal;

namespace {

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

namespace {
// Adam's state from an archive that any LibTorch version wrote. The archive names each parameter
// by its address in the saving process, and Adam::load matches them by position; but 1.13 wrote
// the addresses in hex ("0x55..."), which 2.x parses with std::stoull as 0, so that every
// parameter got the same state. Matched here by position on the strings as written.
void load_adam_state(torch::optim::Adam &opt, torch::serialize::InputArchive &ar) {
  torch::serialize::InputArchive state_ar, groups_ar, group_ar;
  ar.read("state", state_ar);
  ar.read("param_groups", groups_ar);
  groups_ar.read("param_groups/0", group_ar);
  torch::Tensor size;
  group_ar.read("params/size", size);
  auto &params = opt.param_groups().at(0).params();
  if (size.item<int64_t>() != static_cast<int64_t>(params.size()))
    fail("the optimizer state holds " + std::to_string(size.item<int64_t>()) + " parameters, the network " +
         std::to_string(params.size()));
  std::vector<std::string> saved = state_ar.keys();
  auto &state = opt.state();
  state.clear();
  for (size_t i = 0; i < params.size(); i++) {
    c10::IValue key;
    group_ar.read("params/" + std::to_string(i), key);
    if (std::find(saved.begin(), saved.end(), key.toStringRef()) == saved.end()) continue; // never stepped
    torch::serialize::InputArchive param_ar;
    state_ar.read(key.toStringRef(), param_ar);
    auto s = std::make_unique<torch::optim::AdamParamState>();
    s->serialize(param_ar);
    if (s->exp_avg().sizes() != params[i].sizes())
      fail("optimizer state of shape " + c10::str(s->exp_avg().sizes()) + " for parameter " + std::to_string(i) +
           " of shape " + c10::str(params[i].sizes()) + ": not this network's optimizer");
    const auto device = params[i].device(); // archives load on the CPU; the state lives with its parameter
    s->exp_avg(s->exp_avg().to(device));
    s->exp_avg_sq(s->exp_avg_sq().to(device));
    if (s->max_exp_avg_sq().defined()) s->max_exp_avg_sq(s->max_exp_avg_sq().to(device));
    state[state_key(state, params[i].unsafeGetTensorImpl())] = std::move(s);
  }
}
}  // namespace

extern "C" {

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
        // buffers (batch norm's running statistics) are not averaged but copied, as StyleGAN's G_ema does
        auto ab = M(avg).buffers(); auto cb = M(cur).buffers();
        auto bi = ab.begin(); auto di = cb.begin();
        for (; bi != ab.end() && di != cb.end(); ++bi, ++di) {
          at::Tensor x = *bi; const at::Tensor y = *di;
          if (!x.sizes().equals(y.sizes()) || x.scalar_type() != y.scalar_type()) fail("EMA: buffer shapes or types differ");
          if (!x.is_same(y)) x.copy_(y);
        }
        if (bi != ab.end() || di != cb.end()) fail("EMA: the modules have different numbers of buffers");
        return 0;)
}
int dt_module_grad_norm_(dt_module m, double max_norm, double *total_norm) {
  GUARD(-1, require_out(total_norm, "norm"); std::vector<at::Tensor> grads;
        for (const auto &p : M(m).parameters()) {
          const at::Tensor &g = p.grad();
          if (g.defined()) grads.push_back(g);
        }
        if (grads.empty()) { *total_norm = 0; return 0; }
        at::Tensor total = grad_norm(grads);  // the same arithmetic as torch::nn::utils::clip_grad_norm_ (norm_type 2)
        if (std::isfinite(max_norm)) {
          at::Tensor coef = clip_coef(total, max_norm);
          for (auto &g : grads) g.mul_(coef);
        }
        *total_norm = total.item<double>(); return 0;)
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

int dt_adam_step(dt_adam o) {
  GUARD(-1, torch::NoGradGuard no_grad; adam_guard_flush(*A(o)); if (!fused_adam_step(*A(o))) A(o)->opt.step();
        return 0;)
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
  GUARD(-1, adam_guard_flush(*A(o)); torch::serialize::OutputArchive ar; A(o)->opt.save(ar); std::ostringstream os;
        ar.save_to(os); return return_bytes(os.str(), out_data, out_len);)
}
int dt_adam_load_state(dt_adam o, const void *data, int64_t nbytes) {
  GUARD(-1, if (!data || nbytes <= 0) fail("empty optimizer state");
        std::istringstream is(std::string(static_cast<const char *>(data),
                                          static_cast<size_t>(nbytes)));
        torch::serialize::InputArchive ar; ar.load_from(is); load_adam_state(A(o)->opt, ar);
        A(o)->guard = dt_adam_guard();  // the loaded states hold the step counts; skip counts start anew
        return 0;)
}


}  // extern "C"
