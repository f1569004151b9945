// Attention plasticity per head (seed 003): how much the content
// of keys, rather than their position, can still decide which of two keys a
// head's query prefers. Torch-free: Eigen for the linear algebra, Boost.Math
// for the normal CDF and the Kolmogorov-Smirnov distribution.
//
// Per (layer, query head), from queries and keys after rotary with their
// positions (and the keys' example ids):
//  1. orientation: s = sign of the unweighted mean over key buckets of the
//     key bucket means (0 -> +1); queries and keys are multiplied by s per
//     dimension (q.k is unchanged; signs become canonical);
//  2. regression of every query dimension on the position, X = a + b*pos + R:
//     alpha, beta, per-component R^2 (1 - SSres/max(SStot, 1e-12), at most 1;
//     0 for a constant component) and their plain mean (q_R2_pos);
//  3. H = I - 2vv^T with v = (u - e1)/|u - e1|, u = beta/|beta| (identity when
//     |beta| or |u - e1| < 1e-12): H is orthogonal, symmetric and H e1 = u;
//     queries and keys are rotated (X H), the regression refitted; per-
//     dimension residual variance (ddof 1);
//  4. normality: skewness and excess kurtosis (bias-corrected) and the
//     two-sided KS p-value against N(0, 1) of the standardised residual of
//     component 0; the same for up to normality_max_dims of the semantic
//     dimensions 1.. (a subset drawn from the seed), their medians (|skew|,
//     |kurt|, p) and the fraction of p-values < p_alpha (NaN when d = 1 or
//     normality_max_dims = 0: nothing measured);
//  5. plasticity: buckets b = floor(log2(pos)) (pos 0 in bucket 0). For each
//     query bucket j > 0 with >= 2 queries: tau_j its mean position, mu_j and
//     Sigma_j (ddof 1, + 1e-12 I) the mean and covariance of its rotated
//     semantic components. For each earlier key bucket k < j (and
//     k >= j - bucket_window when that is > 0), up to num_pairs_per_bucket
//     key pairs drawn uniformly from the pairs of distinct keys of the same
//     example in bucket k (with replacement across draws); for dk = k1 - k2:
//       m = dk_0 (alpha_0 + beta_0 tau_j) + dk_perp . mu_j
//       v = dk_0^2 sigma^2 + dk_perp^T Sigma_j dk_perp  (sigma^2: residual
//           variance of component 0; v floored at 1e-12)
//       p = Phi(m / sqrt(v)),  plasticity = 4 p (1 - p)  (1: a coin flip, the
//       content decides; 0: the order of the two keys is fixed);
//     averaged over the pairs of the cell (NaN without a same-example pair;
//     a pair of identical keys is drawn but not counted, as in the original);
//     ap_overall = the cells' mean weighted by their query bucket's size.
//     Pairs come from std::mt19937_64(seed + 10007 layer + 379 q_head);
//  6. component weights: the unrotated per-component R^2 clipped at 0 and
//     normalised to sum 1 (1/d each when all are 0).
// Also, as the original method: q_R2_scalar, q_mae_baseline, q_mae_proj and
// q_mae_ratio, predicting log2(pos + 1) from the projection of the query on
// beta by least squares (baseline: the mean).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <Eigen/Dense>
#include <nlohmann/json_fwd.hpp>

namespace hs::library::plasticity {

// The seed's RunnerConfig parameters that apply to headscope (JSON, --config).
struct Config {
  int max_tokens_per_head = 50000;
  int normality_max_dims = 64;
  double p_alpha = 0.01;
  uint64_t seed = 0;
  int num_pairs_per_bucket = 256;
  int bucket_window = 0;  // key buckets at most this far below the query bucket; 0: every earlier one
  int max_workers = 0;    // heads analysed in parallel; 0: the machine's cores
  std::string output_csv = "head_metrics.csv";
  std::string bucket_csv = "head_bucket_plasticity.csv";
  std::string component_csv = "head_component_weights.csv";
};
nlohmann::json ConfigJson(const Config& c);
// Keys of `j` override the defaults; io::IoError naming `source` for an
// unknown key or a value of the wrong type or range.
Config ConfigFromJson(const nlohmann::json& j, const std::string& source);

// --- the steps, public for tests ---------------------------------------------

struct LinearFit {
  Eigen::VectorXd alpha, beta, r2;  // per component
  double r2_overall = 0;            // plain mean of r2
};
// X [n, d] on t [n].
LinearFit FitOnPosition(const Eigen::VectorXd& t, const Eigen::MatrixXd& X);
// The reflection H (d x d) with H e1 = beta / |beta| (see above).
Eigen::MatrixXd HouseholderToBeta(const Eigen::VectorXd& beta);
// +-1 per dimension from the keys' bucket means.
Eigen::VectorXd OrientationFromKeys(const Eigen::MatrixXd& K, const std::vector<int>& buckets);

struct Moments {
  double skew = 0, kurt = 0, ks_p = 1;
};
// Bias-corrected skewness, excess kurtosis and the two-sided one-sample KS
// p-value against N(0, 1) of x standardised (mean 0, sd 1 with ddof 1), as
// the original method does. Standardising with the sample's own mean and sd
// makes the test conservative (Lilliefors): for Gaussian data p < 0.05
// happens far less often than 5% of the time.
// (0, 0, 1) for fewer than 3 values or no spread.
Moments NormalityOf(std::vector<double> x);
// The two-sided one-sample KS p-value of x against N(0, 1) as given, from
// Boost.Math's Kolmogorov-Smirnov distribution: the limiting (large-n)
// distribution of sqrt(n) D, so for small samples it differs from an exact
// finite-n test (scipy's kstest uses the exact one below n = 10000).
double KsPValueStandardNormal(std::vector<double> x);

// --- one head ----------------------------------------------------------------

struct HeadInput {
  int layer = 0, q_head = 0, k_head = 0, d = 0;
  int n_q = 0, n_k = 0;
  const float* q = nullptr;  // [n_q, d]
  const float* k = nullptr;  // [n_k, d]
  const int32_t* q_position = nullptr;  // [n_q]
  const int32_t* k_position = nullptr;  // [n_k]
  const int32_t* k_example = nullptr;   // [n_k]
};

struct BucketCell {
  int q_bucket = 0, k_bucket = 0;
  double plasticity = 0;  // NaN: no same-example key pair in the key bucket
  int n_pairs = 0;
};

struct HeadResult {
  int layer = 0, q_head = 0, k_head = 0, n_q = 0, n_k = 0, d = 0;
  double q_R2_pos = 0, q_R2_scalar = 0, q_mae_baseline = 0, q_mae_proj = 0, q_mae_ratio = 1;
  Moments resid0;
  double noise_med_abs_skew = 0, noise_med_abs_kurt = 0, noise_med_ks_p = 1, noise_frac_ks_p_lt_alpha = 0;
  double ap_overall = 0;  // NaN when no cell has a value
  std::vector<BucketCell> cells;
  std::vector<double> component_r2, component_weight;  // [d]
};

HeadResult AnalyzeHead(const HeadInput& in, const Config& cfg);

// Every head, in parallel (cfg.max_workers threads); results in input order.
// progress(done, total) after each head; false cancels (throws
// jobs::Cancelled).
std::vector<HeadResult> AnalyzeHeads(const std::vector<HeadInput>& heads, const Config& cfg,
                                     const std::function<bool(int, int)>& progress = {});

}  // namespace hs::library::plasticity
