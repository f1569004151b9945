// Modular-addition data and the float64 loss (see modadd_task.h).
#include "families/modadd_task.h"

#include <cmath>
#include <stdexcept>


namespace hs::families {

ModAddData MakeModAddData(int p, double train_frac, int data_seed) {
  ModAddData d;
  d.p = p;
  torch::Tensor a = torch::arange(p, torch::kLong).repeat_interleave(p);  // i -> (i j)
  torch::Tensor b = torch::arange(p, torch::kLong).repeat({p});           // j -> (i j)
  torch::Tensor eq = torch::full({p * p}, p, torch::kLong);
  d.all_tokens = torch::stack({a, b, eq}, 1);
  d.all_labels = (a + b) % p;
  auto gen = at::detail::createCPUGenerator(static_cast<uint64_t>(data_seed));
  torch::Tensor perm = torch::randperm(p * p, gen, torch::kLong);
  const int64_t cutoff = static_cast<int64_t>(train_frac * p * p);
  d.train_idx = perm.slice(0, 0, cutoff);
  d.test_idx = perm.slice(0, cutoff);
  return d;
}

torch::Tensor CrossEntropyF64(const torch::Tensor& logits, const torch::Tensor& labels) {
  torch::Tensor logp = torch::log_softmax(logits.to(torch::kFloat64), -1);
  return -logp.gather(1, labels.unsqueeze(1)).mean();
}

}  // namespace hs::families
