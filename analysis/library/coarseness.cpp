// Coarseness metrics (see coarseness.h).
#include "library/coarseness.h"

namespace hs::library {

torch::Tensor CoarsenessMetrics(const torch::Tensor& maps_in, const CoarsenessSpec& spec) {
  namespace F = torch::nn::functional;
  const torch::Tensor maps = maps_in.to(torch::kFloat32);
  const int64_t n = maps.size(0), H = maps.size(1), W = maps.size(2);

  // [0] low-frequency energy ratio without DC.
  torch::Tensor power = torch::fft::fftshift(torch::fft::fft2(maps), c10::IntArrayRef{-2, -1}).abs().square();  // [n, H, W]
  const int64_t cy = H / 2, cx = W / 2;  // fftshift puts DC here
  torch::Tensor with_dc = power.sum({1, 2});
  power.select(1, cy).select(1, cx).zero_();
  torch::Tensor yy = torch::arange(H, torch::kFloat32).unsqueeze(1) - float(cy);
  torch::Tensor xx = torch::arange(W, torch::kFloat32).unsqueeze(0) - float(cx);
  const double radius = spec.low_freq_radius * double(std::min(H, W));
  torch::Tensor mask = ((yy.square() + xx.square()).sqrt() <= radius).to(torch::kFloat32);  // [H, W]
  torch::Tensor total = power.sum({1, 2});
  total = torch::where(total > 1e-10 * with_dc, total, torch::zeros_like(total));  // round-off of a constant map
  torch::Tensor low = (power * mask).sum({1, 2});
  torch::Tensor fft_ratio = torch::where(total > 0, low / total.clamp_min(1e-30), torch::zeros_like(total));

  // [1] variance preserved after down-sampling and back.
  torch::Tensor x = maps.unsqueeze(1);  // [n, 1, H, W]
  auto opts = F::InterpolateFuncOptions().mode(torch::kBilinear).align_corners(false);
  torch::Tensor down = F::interpolate(x, opts.size(std::vector<int64_t>{spec.downsample, spec.downsample}));
  torch::Tensor up = F::interpolate(down, F::InterpolateFuncOptions().mode(torch::kBilinear).align_corners(false)
                                              .size(std::vector<int64_t>{H, W}));
  torch::Tensor var = maps.reshape({n, -1}).var(1);
  torch::Tensor var_up = up.reshape({n, -1}).var(1);
  torch::Tensor preserved = torch::where(var > 1e-20, var_up / var.clamp_min(1e-20), torch::ones_like(var));

  // [2] mean gradient magnitude.
  torch::Tensor dx = (maps.narrow(2, 1, W - 1) - maps.narrow(2, 0, W - 1)).abs().mean({1, 2});
  torch::Tensor dy = (maps.narrow(1, 1, H - 1) - maps.narrow(1, 0, H - 1)).abs().mean({1, 2});
  torch::Tensor grad = (dx + dy) / 2;

  return torch::stack({fft_ratio, preserved, grad}, 1);  // [n, 3]
}

}  // namespace hs::library
