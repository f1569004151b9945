// Attention plasticity (see plasticity.h).
#include "library/plasticity.h"

#include <algorithm>
#include <atomic>
#include <boost/math/distributions/kolmogorov_smirnov.hpp>
#include <boost/math/distributions/normal.hpp>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <type_traits>

#include "io/atomic_file.h"
#include "io/json_text.h"
#include "jobs/cancelled.h"

namespace hs::library::plasticity {
using Eigen::MatrixXd;
using Eigen::VectorXd;
using nlohmann::json;

// [SECTION] config
json ConfigJson(const Config& c) {
  return {{"max_tokens_per_head", c.max_tokens_per_head},
          {"normality_max_dims", c.normality_max_dims},
          {"p_alpha", c.p_alpha},
          {"seed", c.seed},
          {"num_pairs_per_bucket", c.num_pairs_per_bucket},
          {"bucket_window", c.bucket_window},
          {"max_workers", c.max_workers},
          {"output_csv", c.output_csv},
          {"bucket_csv", c.bucket_csv},
          {"component_csv", c.component_csv}};
}

Config ConfigFromJson(const json& j, const std::string& source) {
  if (!j.is_object()) throw io::IoError(source + ": expected a JSON object of settings");
  Config c;
  const json defaults = ConfigJson(c);
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!defaults.contains(it.key()))
      throw io::IoError(source + ": unknown setting \"" + it.key() + "\" (known: max_tokens_per_head, "
                        "normality_max_dims, p_alpha, seed, num_pairs_per_bucket, bucket_window, max_workers, "
                        "output_csv, bucket_csv, component_csv)");
  auto integer = [&](const char* key, int64_t lo, int64_t hi, auto* out) {
    if (!j.contains(key)) return;
    const json& v = j[key];
    if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi)
      throw io::IoError(source + ": \"" + key + "\" must be an integer in [" + std::to_string(lo) + ", " +
                        std::to_string(hi) + "], found " + io::BriefJson(v));
    *out = static_cast<std::remove_pointer_t<decltype(out)>>(v.get<int64_t>());
  };
  integer("max_tokens_per_head", 8, int64_t{1} << 26, &c.max_tokens_per_head);
  integer("normality_max_dims", 0, 1 << 16, &c.normality_max_dims);
  integer("seed", 0, int64_t{1} << 62, &c.seed);
  integer("num_pairs_per_bucket", 1, 1 << 24, &c.num_pairs_per_bucket);
  integer("bucket_window", 0, 64, &c.bucket_window);
  integer("max_workers", 0, 1024, &c.max_workers);
  if (j.contains("p_alpha")) {
    const json& v = j["p_alpha"];
    if (!v.is_number() || !(v.get<double>() > 0 && v.get<double>() < 1))
      throw io::IoError(source + ": \"p_alpha\" must be a number in (0, 1), found " + io::BriefJson(v));
    c.p_alpha = v.get<double>();
  }
  for (auto [key, out] : {std::pair<const char*, std::string*>{"output_csv", &c.output_csv},
                          {"bucket_csv", &c.bucket_csv},
                          {"component_csv", &c.component_csv}}) {
    if (!j.contains(key)) continue;
    const json& v = j[key];
    if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().find('/') != std::string::npos ||
        v.get<std::string>() == "." || v.get<std::string>() == "..")
      throw io::IoError(source + ": \"" + key + "\" must be a file name (no folder), found " + io::BriefJson(v));
    *out = v.get<std::string>();
  }
  if (c.output_csv == c.bucket_csv || c.output_csv == c.component_csv || c.bucket_csv == c.component_csv)
    throw io::IoError(source + ": output_csv, bucket_csv and component_csv must be three different names");
  return c;
}

// [SECTION] statistics
LinearFit FitOnPosition(const VectorXd& t, const MatrixXd& X) {
  const Eigen::Index n = X.rows(), d = X.cols();
  LinearFit f;
  const VectorXd mean = X.colwise().mean().transpose();
  const double tbar = t.mean();
  const VectorXd tc = t.array() - tbar;
  const double S = tc.squaredNorm();
  if (!(S > 0)) {
    f.alpha = mean, f.beta = VectorXd::Zero(d), f.r2 = VectorXd::Zero(d);
    return f;
  }
  f.beta = (X.transpose() * tc) / S;
  f.alpha = mean - f.beta * tbar;
  f.r2.resize(d);
  for (Eigen::Index j = 0; j < d; ++j) {
    const VectorXd res = X.col(j).array() - f.alpha(j) - f.beta(j) * t.array();
    const double ss_tot = (X.col(j).array() - mean(j)).square().sum();
    // A constant component explains nothing (the original's 1e-12 floor
    // would call it fully positional and give it most of the weight).
    f.r2(j) = ss_tot <= 1e-20 * double(std::max<Eigen::Index>(n, 1))
                  ? 0.0
                  : std::min(1.0, 1.0 - res.squaredNorm() / std::max(ss_tot, 1e-12));
  }
  f.r2_overall = d > 0 ? f.r2.mean() : 0.0;
  return f;
}

MatrixXd HouseholderToBeta(const VectorXd& beta) {
  const Eigen::Index d = beta.size();
  const double norm = beta.norm();
  if (norm < 1e-12) return MatrixXd::Identity(d, d);
  VectorXd v = beta / norm;
  v(0) -= 1.0;  // u - e1
  const double vn = v.norm();
  if (vn < 1e-12) return MatrixXd::Identity(d, d);
  v /= vn;
  return MatrixXd::Identity(d, d) - 2.0 * v * v.transpose();
}

VectorXd OrientationFromKeys(const MatrixXd& K, const std::vector<int>& buckets) {
  std::map<int, std::pair<VectorXd, int>> sums;
  for (Eigen::Index i = 0; i < K.rows(); ++i) {
    auto& [s, n] = sums[buckets[size_t(i)]];
    if (n == 0) s = VectorXd::Zero(K.cols());
    s += K.row(i).transpose();
    ++n;
  }
  VectorXd mean = VectorXd::Zero(K.cols());
  for (const auto& [b, sn] : sums) mean += sn.first / double(sn.second);
  VectorXd o(K.cols());
  for (Eigen::Index j = 0; j < K.cols(); ++j) o(j) = mean(j) < 0 ? -1.0 : 1.0;
  return o;
}

Moments NormalityOf(std::vector<double> x) {
  Moments m;
  const size_t n = x.size();
  if (n < 3) return m;
  const double mean = std::accumulate(x.begin(), x.end(), 0.0) / double(n);
  double ss = 0;
  for (double v : x) ss += (v - mean) * (v - mean);
  const double sd = std::sqrt(ss / double(n - 1));
  if (!(sd > 0) || !std::isfinite(sd)) return m;
  double m2 = 0, m3 = 0, m4 = 0;
  for (double& v : x) {
    v = (v - mean) / sd;
    m2 += v * v, m3 += v * v * v, m4 += v * v * v * v;
  }
  m2 /= double(n), m3 /= double(n), m4 /= double(n);
  const double N = double(n);
  const double g1 = m3 / std::pow(m2, 1.5), g2 = m4 / (m2 * m2) - 3.0;
  m.skew = g1 * std::sqrt(N * (N - 1)) / (N - 2);
  m.kurt = n > 3 ? ((N + 1) * g2 + 6) * (N - 1) / ((N - 2) * (N - 3)) : g2;
  m.ks_p = KsPValueStandardNormal(std::move(x));
  return m;
}

double KsPValueStandardNormal(std::vector<double> x) {
  const size_t n = x.size();
  if (n == 0) return 1.0;
  std::sort(x.begin(), x.end());
  const boost::math::normal_distribution<double> normal(0.0, 1.0);
  const double N = double(n);
  double D = 0;
  for (size_t i = 0; i < n; ++i) {
    const double F = boost::math::cdf(normal, x[i]);
    D = std::max({D, double(i + 1) / N - F, F - double(i) / N});
  }
  const boost::math::kolmogorov_smirnov_distribution<double> ks(N);
  return std::clamp(boost::math::cdf(boost::math::complement(ks, D)), 0.0, 1.0);
}

namespace {
int Bucket(int position) {
  int b = 0;
  while (position > 1) position >>= 1, ++b;
  return b;
}
double Median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
}  // namespace

// [SECTION] one head
HeadResult AnalyzeHead(const HeadInput& in, const Config& cfg) {
  const int d = in.d, nq = in.n_q, nk = in.n_k;
  if (d < 1 || nq < 2 || nk < 2) throw std::invalid_argument("a head needs d >= 1 and at least 2 queries and keys");
  HeadResult r;
  r.layer = in.layer, r.q_head = in.q_head, r.k_head = in.k_head, r.n_q = nq, r.n_k = nk, r.d = d;
  MatrixXd Q(nq, d), K(nk, d);
  for (int i = 0; i < nq; ++i)
    for (int j = 0; j < d; ++j) Q(i, j) = in.q[size_t(i) * d + j];
  for (int i = 0; i < nk; ++i)
    for (int j = 0; j < d; ++j) K(i, j) = in.k[size_t(i) * d + j];
  if (!Q.allFinite() || !K.allFinite())
    throw std::invalid_argument("the queries or keys hold a value that is not a finite number (an overflow in the "
                                "model's forward?)");
  VectorXd tq(nq);
  std::vector<int> bq(nq), bk(nk);
  for (int i = 0; i < nq; ++i) tq(i) = in.q_position[i], bq[i] = Bucket(in.q_position[i]);
  for (int i = 0; i < nk; ++i) bk[i] = Bucket(in.k_position[i]);

  // 1. orientation
  const VectorXd o = OrientationFromKeys(K, bk);
  Q = Q * o.asDiagonal();
  K = K * o.asDiagonal();
  // 2. position regression, component weights, scalar predictability
  const LinearFit fit = FitOnPosition(tq, Q);
  r.q_R2_pos = fit.r2_overall;
  r.component_r2.assign(fit.r2.data(), fit.r2.data() + d);
  double total = 0;
  for (double v : r.component_r2) total += std::max(v, 0.0);
  for (double v : r.component_r2) r.component_weight.push_back(total > 0 ? std::max(v, 0.0) / total : 1.0 / d);
  {
    const VectorXd y = (tq.array() + 1.0).log() / std::log(2.0);
    const double ybar = y.mean();
    r.q_mae_baseline = (y.array() - ybar).abs().mean();
    r.q_mae_proj = r.q_mae_baseline;
    const double bn = fit.beta.norm();
    if (bn > 0) {
      const VectorXd s = Q * (fit.beta / bn);
      const double sbar = s.mean(), sxx = (s.array() - sbar).square().sum();
      if (sxx > 0) {
        const double b = ((s.array() - sbar) * y.array()).sum() / sxx, a = ybar - b * sbar;
        const VectorXd yhat = a + b * s.array();
        r.q_mae_proj = (y - yhat).array().abs().mean();
        const double ss_tot = (y.array() - ybar).square().sum();
        r.q_R2_scalar = ss_tot > 0 ? 1.0 - (y - yhat).squaredNorm() / ss_tot : 0.0;
      }
    }
    r.q_mae_ratio = r.q_mae_baseline > 0 ? r.q_mae_proj / r.q_mae_baseline : 1.0;
  }
  // 3. rotation and refit
  const MatrixXd H = HouseholderToBeta(fit.beta);
  const MatrixXd Qr = Q * H, Kr = K * H;
  const LinearFit rot = FitOnPosition(tq, Qr);
  const MatrixXd R = Qr - (VectorXd::Ones(nq) * rot.alpha.transpose() + tq * rot.beta.transpose());
  const VectorXd resid_var =
      ((R.rowwise() - R.colwise().mean()).array().square().colwise().sum() / double(nq - 1)).transpose();
  // 4. normality
  r.resid0 = NormalityOf(std::vector<double>(R.col(0).data(), R.col(0).data() + nq));
  r.noise_med_abs_skew = r.noise_med_abs_kurt = r.noise_med_ks_p = r.noise_frac_ks_p_lt_alpha = NAN;  // none measured
  if (d > 1) {
    std::vector<int> dims(size_t(d - 1));
    std::iota(dims.begin(), dims.end(), 1);
    std::mt19937_64 pick(cfg.seed);
    std::shuffle(dims.begin(), dims.end(), pick);
    dims.resize(std::min<size_t>(dims.size(), size_t(std::max(0, cfg.normality_max_dims))));
    std::vector<double> skews, kurts, ps;
    for (int j : dims) {
      const Moments mj = NormalityOf(std::vector<double>(Qr.col(j).data(), Qr.col(j).data() + nq));
      skews.push_back(std::abs(mj.skew)), kurts.push_back(std::abs(mj.kurt)), ps.push_back(mj.ks_p);
    }
    if (!ps.empty()) {
      r.noise_med_abs_skew = Median(skews), r.noise_med_abs_kurt = Median(kurts), r.noise_med_ks_p = Median(ps);
      r.noise_frac_ks_p_lt_alpha =
          double(std::count_if(ps.begin(), ps.end(), [&](double p) { return p < cfg.p_alpha; })) / double(ps.size());
    }
  }
  // 5. plasticity
  const double alpha0 = rot.alpha(0), beta0 = rot.beta(0), sigma2 = std::max(resid_var(0), 1e-12);
  std::map<int, std::vector<int>> q_rows;  // query bucket -> rows
  for (int i = 0; i < nq; ++i) q_rows[bq[i]].push_back(i);
  // key bucket -> example -> rows (examples in first-seen order)
  std::map<int, std::vector<std::vector<int>>> k_groups;
  {
    std::map<int, std::map<int32_t, size_t>> where;
    for (int i = 0; i < nk; ++i) {
      auto& groups = k_groups[bk[i]];
      auto [it, fresh] = where[bk[i]].emplace(in.k_example[i], groups.size());
      if (fresh) groups.emplace_back();
      groups[it->second].push_back(i);
    }
  }
  std::mt19937_64 rng(cfg.seed + 10007ull * uint64_t(in.layer) + 379ull * uint64_t(in.q_head));
  const boost::math::normal_distribution<double> normal(0.0, 1.0);
  double weighted = 0, weights = 0;
  for (const auto& [j, rows] : q_rows) {
    if (j <= 0 || rows.size() < 2) continue;
    const int m = int(rows.size());
    double tau = 0;
    for (int i : rows) tau += tq(i);
    tau /= m;
    VectorXd mu = VectorXd::Zero(d - 1);
    MatrixXd sigma = MatrixXd::Zero(d - 1, d - 1);
    if (d > 1) {
      MatrixXd S(m, d - 1);
      for (int a = 0; a < m; ++a) S.row(a) = Qr.row(rows[a]).tail(d - 1);
      mu = S.colwise().mean().transpose();
      const MatrixXd C = S.rowwise() - mu.transpose();
      sigma = (C.transpose() * C) / double(m - 1);
      sigma.diagonal().array() += 1e-12;
    }
    const double mean0 = alpha0 + beta0 * tau;
    for (const auto& [kb, groups] : k_groups) {
      if (kb >= j || (cfg.bucket_window > 0 && kb < j - cfg.bucket_window)) continue;
      BucketCell cell{j, kb, NAN, 0};
      std::vector<const std::vector<int>*> usable;
      std::vector<double> cum;
      double pairs = 0;
      for (const auto& g : groups)
        if (g.size() >= 2) usable.push_back(&g), pairs += double(g.size()) * double(g.size() - 1) / 2, cum.push_back(pairs);
      if (!usable.empty()) {
        const int64_t n_draw = int64_t(std::min<double>(cfg.num_pairs_per_bucket, pairs));
        std::uniform_real_distribution<double> unit(0.0, pairs);
        double sum = 0;
        int64_t used = 0;
        for (int64_t s = 0; s < n_draw; ++s) {
          const double x = unit(rng);
          const size_t g = std::min(size_t(std::upper_bound(cum.begin(), cum.end(), x) - cum.begin()), usable.size() - 1);
          const auto& idx = *usable[g];
          std::uniform_int_distribution<size_t> first(0, idx.size() - 1), second(0, idx.size() - 2);
          const size_t a = first(rng);
          size_t b = second(rng);
          if (b >= a) ++b;  // distinct
          const VectorXd dk = (Kr.row(idx[a]) - Kr.row(idx[b])).transpose();
          if (dk.squaredNorm() == 0) continue;  // two identical keys: no order to decide (not counted)
          double mean = dk(0) * mean0, var = dk(0) * dk(0) * sigma2;
          if (d > 1) {
            const VectorXd perp = dk.tail(d - 1);
            mean += perp.dot(mu);
            var += perp.dot(sigma * perp);
          }
          const double p = boost::math::cdf(normal, mean / std::sqrt(std::max(var, 1e-12)));
          sum += 4.0 * p * (1.0 - p);
          ++used;
        }
        cell.n_pairs = int(used);
        cell.plasticity = used > 0 ? sum / double(used) : NAN;
      }
      if (std::isfinite(cell.plasticity)) weighted += m * cell.plasticity, weights += m;
      r.cells.push_back(cell);
    }
  }
  r.ap_overall = weights > 0 ? weighted / weights : NAN;
  return r;
}

// [SECTION] every head
std::vector<HeadResult> AnalyzeHeads(const std::vector<HeadInput>& heads, const Config& cfg,
                                     const std::function<bool(int, int)>& progress) {
  std::vector<HeadResult> out(heads.size());
  std::vector<std::string> errors(heads.size());
  std::atomic<size_t> next{0};
  std::atomic<int> done{0};
  std::atomic<bool> cancel{false};
  std::mutex mu;
  const int workers = std::max(1, std::min<int>(int(heads.size()), cfg.max_workers > 0
                                                                     ? cfg.max_workers
                                                                     : int(std::thread::hardware_concurrency())));
  std::string progress_error;  // guarded by mu
  auto work = [&] {
    for (size_t i; !cancel && (i = next++) < heads.size();) {
      try {
        out[i] = AnalyzeHead(heads[i], cfg);
      } catch (const std::exception& e) {
        errors[i] = std::string("error: ") + e.what();
      } catch (...) {
        errors[i] = "error: unknown exception";
      }
      const int n = ++done;
      std::lock_guard<std::mutex> lock(mu);
      try {
        if (progress && !progress(n, int(heads.size()))) cancel = true;
      } catch (const std::exception& e) {  // never let it escape a worker thread
        progress_error = e.what(), cancel = true;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int w = 1; w < workers; ++w) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (!progress_error.empty()) throw std::runtime_error(progress_error);
  if (cancel) throw jobs::Cancelled();
  for (size_t i = 0; i < heads.size(); ++i)
    if (!errors[i].empty())
      throw std::runtime_error("layer " + std::to_string(heads[i].layer) + " head " + std::to_string(heads[i].q_head) +
                               ": " + errors[i]);
  return out;
}

}  // namespace hs::library::plasticity
