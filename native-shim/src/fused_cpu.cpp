#include "fused_cpu.h"

#include <cmath>

// libtorch's vectorised CPU kernels compute `a.add_(b, alpha)` as fmadd(b, alpha, a), which is a
// fused multiply-add where the CPU has one (its AVX2 / AVX-512 kernels) and a*b + c otherwise; the
// compiler also contracts addcmul's `a + s*b*c` there. To give the same bits as libtorch's Adam and
// EMA, each loop comes in two versions: with FMA in exactly those places (chosen at run time when
// the CPU has AVX2 and FMA), and without. The file is compiled with -ffp-contract=off so that the
// compiler adds no other contraction.

namespace dishim {
namespace {

#define DISHIM_ADAM_LOOP(MADD)                                        \
  for (int64_t i = 0; i < n; i++) {                                   \
    const float gi = g[i];                                            \
    const float mi = MADD(gi, one_minus_b1, m[i] * b1);               \
    const float vi = MADD(one_minus_b2 * gi, gi, v[i] * b2);          \
    m[i] = mi;                                                        \
    v[i] = vi;                                                        \
    w[i] = w[i] + neg_step * mi / (std::sqrt(vi) / sqrt_bc2 + eps);   \
  }
#define DISHIM_EMA_LOOP(MADD) \
  for (int64_t i = 0; i < n; i++) avg[i] = MADD(cur[i], one_minus_beta, avg[i] * beta);

#define DISHIM_PLAIN(a, b, c) ((a) * (b) + (c))
#define DISHIM_FUSED(a, b, c) __builtin_fmaf((a), (b), (c))

void adam_plain(float *__restrict w, const float *__restrict g, float *__restrict m, float *__restrict v, int64_t n,
                float b1, float one_minus_b1, float b2, float one_minus_b2, float sqrt_bc2, float eps, float neg_step) {
  DISHIM_ADAM_LOOP(DISHIM_PLAIN)
}
void ema_plain(float *__restrict avg, const float *__restrict cur, int64_t n, float beta, float one_minus_beta) {
  DISHIM_EMA_LOOP(DISHIM_PLAIN)
}

#if defined(__x86_64__) && defined(__GNUC__)
#define DISHIM_HAVE_FMA_PATH 1
__attribute__((target("avx2,fma"))) void adam_fma(float *__restrict w, const float *__restrict g, float *__restrict m,
                                                  float *__restrict v, int64_t n, float b1, float one_minus_b1, float b2,
                                                  float one_minus_b2, float sqrt_bc2, float eps, float neg_step) {
  DISHIM_ADAM_LOOP(DISHIM_FUSED)
}
__attribute__((target("avx2,fma"))) void ema_fma(float *__restrict avg, const float *__restrict cur, int64_t n,
                                                 float beta, float one_minus_beta) {
  DISHIM_EMA_LOOP(DISHIM_FUSED)
}
bool cpu_has_fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}
#endif

}  // namespace

void adam_update_f32(float *w, const float *g, float *m, float *v, int64_t n, float b1, float one_minus_b1, float b2,
                     float one_minus_b2, float sqrt_bc2, float eps, float neg_step) {
#ifdef DISHIM_HAVE_FMA_PATH
  if (cpu_has_fma()) return adam_fma(w, g, m, v, n, b1, one_minus_b1, b2, one_minus_b2, sqrt_bc2, eps, neg_step);
#endif
  adam_plain(w, g, m, v, n, b1, one_minus_b1, b2, one_minus_b2, sqrt_bc2, eps, neg_step);
}

void ema_update_f32(float *avg, const float *cur, int64_t n, float beta, float one_minus_beta) {
#ifdef DISHIM_HAVE_FMA_PATH
  if (cpu_has_fma()) return ema_fma(avg, cur, n, beta, one_minus_beta);
#endif
  ema_plain(avg, cur, n, beta, one_minus_beta);
}

}  // namespace dishim
