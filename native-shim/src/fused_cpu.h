// One-pass CPU kernels for the optimiser and the weight average. libtorch runs Adam as ~8 tensor
// ops per parameter (each a dispatch, a TensorIterator and a pass over memory); for the small
// networks this tool distils, that overhead is most of the update. These loops do the same
// float32 arithmetic in one pass, bit for bit as libtorch's kernels do it on the same CPU.
#pragma once
#include <cstdint>

namespace dishim {

// Adam (no weight decay, no AMSGrad), elementwise as torch::optim::Adam computes it:
// m = m*b1 + g*(1-b1); v = v*b2 + (1-b2)*g*g; w = w + neg_step * m / (sqrt(v)/sqrt_bc2 + eps)
void adam_update_f32(float *w, const float *g, float *m, float *v, int64_t n, float b1, float one_minus_b1,
                     float b2, float one_minus_b2, float sqrt_bc2, float eps, float neg_step);

// avg = avg*beta + cur*(1-beta), as avg.mul_(beta).add_(cur, 1 - beta)
void ema_update_f32(float *avg, const float *cur, int64_t n, float beta, float one_minus_beta);

}  // namespace dishim
