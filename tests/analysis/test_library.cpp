// Tests: modular Fourier basis and variance fractions, coarseness metrics,
// attention grids.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "library/attention.h"
#include "library/coarseness.h"
#include "library/fourier.h"

using namespace hs;

namespace {
// grid[a, b] = f(a, b) for a, b in Z_p -> [1, p, p]
template <class F>
torch::Tensor Grid(int p, F f) {
  torch::Tensor g = torch::empty({1, p, p});
  auto acc = g.accessor<float, 3>();
  for (int a = 0; a < p; ++a)
    for (int b = 0; b < p; ++b) acc[0][a][b] = float(f(a, b));
  return g;
}
}  // namespace

TEST_CASE("the Fourier basis is orthonormal with the documented row layout", "[library][fourier]") {
  const int p = 13;
  torch::Tensor F = library::FourierBasis(p);
  REQUIRE(F.sizes().vec() == std::vector<int64_t>{p, p});
  CHECK(torch::allclose(torch::matmul(F, F.t()), torch::eye(p), 1e-5, 1e-5));
  CHECK(F[0].std().item<float>() < 1e-6);  // constant row
  CHECK(F[2 * 3 - 1][1].item<float>() == Approx(std::cos(2 * M_PI * 3 / p) * std::sqrt(2.0 / p)).margin(1e-6));
  CHECK(F[2 * 3][1].item<float>() == Approx(std::sin(2 * M_PI * 3 / p) * std::sqrt(2.0 / p)).margin(1e-6));
  CHECK_THROWS(library::FourierBasis(12));
}

TEST_CASE("a pure frequency gives fraction 1 at k and 0 elsewhere", "[library][fourier]") {
  const int p = 23;
  const torch::Tensor F = library::FourierBasis(p);
  for (int k : {1, 5, 11}) {
    INFO("k = " << k);
    torch::Tensor fr = library::FrequencyVarianceFractions(Grid(p, [&](int a, int) { return std::cos(2 * M_PI * k * a / p); }), F);
    REQUIRE(fr.sizes().vec() == std::vector<int64_t>{11, 1});
    CHECK(fr[k - 1][0].item<float>() == Approx(1.0).margin(1e-5));
    CHECK(fr.sum().item<float>() == Approx(1.0).margin(1e-5));
    // In b, and with a phase, and as a product of a and b terms: still k.
    fr = library::FrequencyVarianceFractions(
        Grid(p, [&](int a, int b) { return std::sin(2 * M_PI * k * b / p + 0.3) + 0.5 * std::cos(2 * M_PI * k * (a + b) / p); }), F);
    CHECK(fr[k - 1][0].item<float>() == Approx(1.0).margin(1e-5));
  }
}

TEST_CASE("a mixture splits its variance by the squared amplitudes", "[library][fourier]") {
  const int p = 17;
  const torch::Tensor F = library::FourierBasis(p);
  // amplitudes 2 and 1 -> variances 4:1 -> fractions 0.8 and 0.2
  torch::Tensor fr = library::FrequencyVarianceFractions(
      Grid(p, [&](int a, int) { return 2 * std::cos(2 * M_PI * 2 * a / p) + std::cos(2 * M_PI * 7 * a / p) + 3.0; }), F);
  CHECK(fr[2 - 1][0].item<float>() == Approx(0.8).margin(1e-5));
  CHECK(fr[7 - 1][0].item<float>() == Approx(0.2).margin(1e-5));
  CHECK(fr.sum().item<float>() == Approx(1.0).margin(1e-5));  // the constant offset is not variance
}

TEST_CASE("a constant grid does not divide by zero", "[library][fourier]") {
  const int p = 11;
  torch::Tensor grids = torch::cat({Grid(p, [](int, int) { return 0.25; }), torch::zeros({1, p, p})});
  torch::Tensor fr = library::FrequencyVarianceFractions(grids, library::FourierBasis(p));
  CHECK(fr.sizes().vec() == std::vector<int64_t>{5, 2});
  CHECK_FALSE(torch::isnan(fr).any().item<bool>());
  CHECK(fr.abs().max().item<float>() == 0.0f);
}

TEST_CASE("coarseness separates smooth large blocks from fine stripes", "[library][coarseness]") {
  const int p = 113;
  torch::Tensor coarse = Grid(p, [](int a, int b) { return (a < 56) == (b < 56) ? 1.0 : 0.0; });  // four big squares
  torch::Tensor fine = Grid(p, [](int a, int b) { return (a + b) % 2; });                          // checkerboard
  torch::Tensor flat = Grid(p, [](int, int) { return 0.7; });
  torch::Tensor m = library::CoarsenessMetrics(torch::cat({coarse, fine, flat}));  // [3, 3]
  REQUIRE(m.sizes().vec() == std::vector<int64_t>{3, 3});
  INFO(m);
  CHECK(m[0][0].item<float>() > 0.8f);   // low-frequency energy
  CHECK(m[1][0].item<float>() < 0.05f);
  CHECK(m[0][1].item<float>() > 0.7f);   // variance survives 14x14
  CHECK(m[1][1].item<float>() < 0.1f);
  CHECK(m[0][2].item<float>() < 0.05f);  // few edges
  CHECK(m[1][2].item<float>() == Approx(1.0f));
  CHECK(m[2][0].item<float>() == 0.0f);  // constant: defined, not NaN
  CHECK(m[2][1].item<float>() == 1.0f);
  CHECK(m[2][2].item<float>() == 0.0f);
}

TEST_CASE("position-pair grids index the batch as (a, b)", "[library][attention]") {
  const int p = 5, H = 2;
  torch::Tensor pat = torch::zeros({p * p, H, 3, 3});
  for (int a = 0; a < p; ++a)
    for (int b = 0; b < p; ++b) pat[a * p + b][1][2][0] = float(10 * a + b);
  torch::Tensor g = library::PositionPairGrids(pat, 2, 0, p);
  REQUIRE(g.sizes().vec() == std::vector<int64_t>{H, p, p});
  CHECK(g[1][3][4].item<float>() == 34.0f);
  CHECK(g[0].abs().max().item<float>() == 0.0f);
  CHECK_THROWS(library::PositionPairGrids(pat, 3, 0, p));
}
