// Modular Fourier basis and per-frequency variance fractions.
#include "library/fourier.h"

#include <cmath>
#include <stdexcept>

namespace hs::library {

torch::Tensor FourierBasis(int p) {
  if (p < 3 || p % 2 == 0) throw std::invalid_argument("FourierBasis needs an odd p >= 3, got " + std::to_string(p));
  torch::Tensor x = torch::arange(p, torch::kFloat64);
  torch::Tensor F = torch::empty({p, p}, torch::kFloat64);
  F[0] = torch::ones({p}, torch::kFloat64);
  for (int k = 1; k <= NumFrequencies(p); ++k) {
    F[2 * k - 1] = torch::cos(2 * M_PI * k * x / p);
    F[2 * k] = torch::sin(2 * M_PI * k * x / p);
  }
  F = F / F.norm(2, {1}, true);
  return F.to(torch::kFloat32);
}

torch::Tensor Fourier2D(const torch::Tensor& grids, const torch::Tensor& basis) {
  return torch::matmul(torch::matmul(basis, grids), basis.t());  // [n, p, p]
}

torch::Tensor FrequencyVarianceFractions(const torch::Tensor& grids, const torch::Tensor& basis) {
  const int64_t p = basis.size(0), n = grids.size(0), n_freq = NumFrequencies(int(p));
  torch::Tensor T = Fourier2D(grids.to(torch::kFloat32), basis).to(torch::kFloat64);  // [n, p, p]
  torch::Tensor with_dc = T.square().sum({1, 2});    // [n]
  T.select(1, 0).select(1, 0).zero_();
  torch::Tensor sq = T.square();                      // [n, p, p]
  torch::Tensor total = sq.sum({1, 2});               // [n]
  // float32 round-off leaves ~1e-14 of a constant grid's energy outside DC.
  total = torch::where(total > 1e-10 * with_dc, total, torch::zeros_like(total));
  torch::Tensor out = torch::empty({n_freq, n}, torch::kFloat64);
  for (int64_t k = 1; k <= n_freq; ++k) {
    torch::Tensor idx = torch::tensor({int64_t(0), 2 * k - 1, 2 * k}, torch::kLong);
    out[k - 1] = sq.index_select(1, idx).index_select(2, idx).sum({1, 2});
  }
  // Grids with no variance at all explain nothing.
  torch::Tensor safe = torch::where(total > 0, total, torch::ones_like(total));
  out = torch::where(total.unsqueeze(0) > 0, out / safe.unsqueeze(0), torch::zeros_like(out));
  return out.to(torch::kFloat32);
}

}  // namespace hs::library
