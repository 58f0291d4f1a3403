// The floor for bench/OpOverheadBench: the same ops called straight from C++ (no Java, no Python),
// so "overhead" = binding time - this. Built and run by bench/compare.sh; prints JSON like
// bench/op_overhead.py: {"add2x2": {"mean_us", "err_us"}, "item": {...}}.
#include <ATen/ATen.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

template <typename F> static double run_for(F &&f, double seconds) {
  using clk = std::chrono::steady_clock;
  long n = 0;
  auto t0 = clk::now();
  for (;;) {
    for (int i = 0; i < 1000; i++) f();
    n += 1000;
    double t = std::chrono::duration<double>(clk::now() - t0).count();
    if (t >= seconds) return t / n * 1e6;
  }
}

template <typename F> static void measure(const char *name, F &&f, bool last) {
  run_for(f, 3.0);
  std::vector<double> xs;
  for (int i = 0; i < 5; i++) xs.push_back(run_for(f, 1.0));
  double m = 0, v = 0;
  for (double x : xs) m += x;
  m /= xs.size();
  for (double x : xs) v += (x - m) * (x - m);
  double err = 8.610 * std::sqrt(v / (xs.size() - 1)) / std::sqrt((double)xs.size());
  std::printf("\"%s\": {\"mean_us\": %.6f, \"err_us\": %.6f}%s", name, m, err, last ? "" : ", ");
}

int main() {
  at::Tensor a = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}).reshape({2, 2});
  at::Tensor b = torch::tensor({5.0f, 6.0f, 7.0f, 8.0f}).reshape({2, 2});
  at::Tensor one = torch::tensor({3.0f});
  volatile double sink = 0;
  std::printf("{");
  // a heap-allocated result freed at once, as the Java handle and the Python object are
  measure("add2x2", [&] { auto *c = new at::Tensor(a.add(b)); sink = sink + (double)c->dim(); delete c; }, false);
  measure("item", [&] { sink = sink + one.item<double>(); }, true);
  std::printf("}\n");
  return 0;
}
