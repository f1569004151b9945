// Progress measures on plain arrays (see progress_measures.h).
#include "library/progress_measures.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace hs::library {
namespace {

void CheckFreqs(int p, const std::vector<int>& key_freqs) {
  if (p < 3) throw std::invalid_argument("progress measures: p must be >= 3");
  for (int k : key_freqs)
    if (k < 1 || k > (p - 1) / 2)
      throw std::invalid_argument("progress measures: frequency " + std::to_string(k) + " is outside 1.." +
                                  std::to_string((p - 1) / 2));
}

}  // namespace

std::vector<double> SumFrequencyPart(const float* values, int p, int n_cols, const std::vector<int>& freqs) {
  CheckFreqs(p, freqs);
  const int n = p * p;
  std::vector<double> out(size_t(n) * n_cols, 0.0);
  std::vector<double> dir(static_cast<size_t>(n)), coef(static_cast<size_t>(n_cols));
  for (int k : freqs) {
    for (int trig = 0; trig < 2; ++trig) {
      // The direction over pairs, unit norm; it depends on (a + b) mod p only.
      double norm2 = 0;
      for (int a = 0; a < p; ++a)
        for (int b = 0; b < p; ++b) {
          const double x = 2.0 * M_PI * k * double((a + b) % p) / p;
          const double v = trig == 0 ? std::cos(x) : std::sin(x);
          dir[size_t(a * p + b)] = v;
          norm2 += v * v;
        }
      const double inv = 1.0 / std::sqrt(norm2);
      for (double& v : dir) v *= inv;
      std::fill(coef.begin(), coef.end(), 0.0);
      for (int i = 0; i < n; ++i) {
        const float* row = values + size_t(i) * n_cols;
        const double d = dir[size_t(i)];
        for (int c = 0; c < n_cols; ++c) coef[size_t(c)] += d * row[c];
      }
      for (int i = 0; i < n; ++i) {
        double* row = out.data() + size_t(i) * n_cols;
        const double d = dir[size_t(i)];
        for (int c = 0; c < n_cols; ++c) row[c] += d * coef[size_t(c)];
      }
    }
  }
  return out;
}

namespace {

template <class T>
double CrossEntropy(const T* logits, int p, const std::vector<int>& pairs) {
  if (pairs.empty()) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0;
  for (int i : pairs) {
    if (i < 0 || i >= p * p) throw std::invalid_argument("GridCrossEntropy: pair index out of range");
    const T* row = logits + size_t(i) * p;
    double mx = -std::numeric_limits<double>::infinity();
    for (int c = 0; c < p; ++c) mx = std::max(mx, double(row[c]));
    double se = 0;
    for (int c = 0; c < p; ++c) se += std::exp(double(row[c]) - mx);
    const int label = (i / p + i % p) % p;
    sum += mx + std::log(se) - double(row[label]);
  }
  return sum / double(pairs.size());
}

}  // namespace

void SplitKeyFrequencies(const float* logits, int p, const std::vector<int>& key_freqs, std::vector<double>* restricted,
                         std::vector<double>* excluded) {
  const std::vector<double> key = SumFrequencyPart(logits, p, p, key_freqs);
  const size_t n = size_t(p) * p;
  if (excluded) {
    excluded->resize(key.size());
    for (size_t i = 0; i < key.size(); ++i) (*excluded)[i] = double(logits[i]) - key[i];
  }
  if (restricted) {
    std::vector<double> mean(size_t(p), 0.0);
    for (size_t i = 0; i < n; ++i)
      for (int c = 0; c < p; ++c) mean[size_t(c)] += logits[i * p + c];
    restricted->resize(key.size());
    for (size_t i = 0; i < n; ++i)
      for (int c = 0; c < p; ++c) (*restricted)[i * p + c] = mean[size_t(c)] / double(n) + key[i * p + c];
  }
}

std::vector<double> RestrictedLogits(const float* logits, int p, const std::vector<int>& key_freqs) {
  std::vector<double> out;
  SplitKeyFrequencies(logits, p, key_freqs, &out, nullptr);
  return out;
}

std::vector<double> ExcludedLogits(const float* logits, int p, const std::vector<int>& key_freqs) {
  std::vector<double> out;
  SplitKeyFrequencies(logits, p, key_freqs, nullptr, &out);
  return out;
}

double GridCrossEntropy(const double* logits, int p, const std::vector<int>& pairs) { return CrossEntropy(logits, p, pairs); }
double GridCrossEntropy(const float* logits, int p, const std::vector<int>& pairs) { return CrossEntropy(logits, p, pairs); }

double Gini(std::vector<double> v) {
  const size_t n = v.size();
  if (n == 0) return 0;
  std::sort(v.begin(), v.end());
  double sum = 0, weighted = 0;
  for (size_t i = 0; i < n; ++i) {
    sum += v[i];
    weighted += (2.0 * double(i + 1) - double(n) - 1.0) * v[i];
  }
  return sum > 0 ? weighted / (double(n) * sum) : 0.0;
}

double ParticipationRatio(const std::vector<double>& s) {
  double s2 = 0, s4 = 0;
  for (double x : s) s2 += x * x, s4 += x * x * x * x;
  return s4 > 0 ? s2 * s2 / s4 : 0.0;
}

}  // namespace hs::library
