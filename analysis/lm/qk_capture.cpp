// Query/key capture over a corpus (see qk_capture.h).
#include "lm/qk_capture.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>

#include "io/atomic_file.h"
#include "io/corpus.h"
#include "lm/categorize.h"

namespace hs::lm {
namespace fs = std::filesystem;


QKSample CaptureQK(const LanguageModel& lm, const QKCaptureOptions& opt, const CaptureProgress& progress) {
  const auto& c = lm.cfg();
  if (opt.max_tokens < 2) throw std::invalid_argument("max_tokens must be at least 2");
  const bool bos = opt.bos < 0 ? lm.DefaultBos() : opt.bos == 1;
  if (bos && !lm.tokenizer().BosId()) throw std::invalid_argument("this tokenizer has no BOS token");
  // Every head's vectors are held at once: refuse what would not fit.
  const double bytes = double(c.n_layers) * double(c.n_heads + c.NumKVHeads()) * double(opt.max_tokens) *
                       double(c.d_head) * sizeof(float);
  if (bytes > 16e9)
    throw std::invalid_argument("capturing " + std::to_string(opt.max_tokens) + " tokens of every head would take " +
                                std::to_string(int(bytes / 1e9)) + " GB; lower max_tokens_per_head (--config)");
  const int seq_len = opt.seq_len > 0 ? std::min(opt.seq_len, c.n_ctx) : std::min(c.n_ctx, 1024);
  if (seq_len < 2) throw std::invalid_argument("seq_len must be at least 2");
  // Examples: each document's tokens cut into pieces of seq_len (BOS first).
  std::vector<std::vector<int64_t>> examples;
  const int body = seq_len - (bos ? 1 : 0);
  for (const fs::path& file : io::CorpusFiles(opt.corpus)) {
    const std::string name = file.string(), text = io::ReadFile(file);
    std::vector<int64_t> ids;
    try {
      ids = lm.Encode(text, false);
    } catch (const std::exception& e) {
      throw io::IoError(name + ": cannot be tokenised (" + e.what() + ")");
    }
    for (size_t at = 0; at + 1 < ids.size(); at += size_t(body)) {
      std::vector<int64_t> ex;
      if (bos) ex.push_back(*lm.tokenizer().BosId());
      ex.insert(ex.end(), ids.begin() + at, ids.begin() + std::min(ids.size(), at + size_t(body)));
      if (ex.size() >= 2) examples.push_back(std::move(ex));
    }
  }
  if (examples.empty()) throw io::IoError(opt.corpus + ": no text to run (empty corpus?)");
  std::vector<size_t> order(examples.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::mt19937_64 rng(opt.seed);
  std::shuffle(order.begin(), order.end(), rng);

  QKSample s;
  s.n_layers = c.n_layers, s.n_q_heads = c.n_heads, s.n_k_heads = c.NumKVHeads(), s.d_head = c.d_head;
  s.q.resize(size_t(s.n_layers) * s.n_q_heads);
  s.k.resize(size_t(s.n_layers) * s.n_k_heads);
  const int E = s.d_head;
  const size_t expect = size_t(std::min<int64_t>(opt.max_tokens, int64_t(examples.size()) * seq_len)) * size_t(E);
  for (auto& v : s.q) v.reserve(expect);
  for (auto& v : s.k) v.reserve(expect);
  int collected = 0, example_id = 0;
  std::vector<io::Array> q, k;
  for (size_t i : order) {
    if (collected >= opt.max_tokens) break;
    std::vector<int64_t>& ex = examples[i];
    const int take = std::min<int>(int(ex.size()), opt.max_tokens - collected);
    if (take < 2) break;
    ex.resize(size_t(take));
    lm.QueriesKeys(ex, &q, &k);
    for (int t = 0; t < take; ++t) s.position.push_back(t), s.example.push_back(example_id);
    for (int l = 0; l < s.n_layers; ++l) {
      const float* qd = q[l].data<float>();  // [T, n_q, E]
      const float* kd = k[l].data<float>();  // [T, n_k, E]
      for (int h = 0; h < s.n_q_heads; ++h) {
        auto& dst = s.q[size_t(l) * s.n_q_heads + h];
        for (int t = 0; t < take; ++t) dst.insert(dst.end(), qd + (size_t(t) * s.n_q_heads + h) * E,
                                                  qd + (size_t(t) * s.n_q_heads + h + 1) * E);
      }
      for (int h = 0; h < s.n_k_heads; ++h) {
        auto& dst = s.k[size_t(l) * s.n_k_heads + h];
        for (int t = 0; t < take; ++t) dst.insert(dst.end(), kd + (size_t(t) * s.n_k_heads + h) * E,
                                                  kd + (size_t(t) * s.n_k_heads + h + 1) * E);
      }
    }
    collected += take;
    ++example_id;
    if (progress && !progress(collected, opt.max_tokens)) throw jobs::Cancelled();
  }
  return s;
}

std::vector<library::plasticity::HeadInput> PlasticityInputs(const QKSample& s) {
  std::vector<library::plasticity::HeadInput> out;
  for (int l = 0; l < s.n_layers; ++l)
    for (int h = 0; h < s.n_q_heads; ++h) {
      library::plasticity::HeadInput in;
      in.layer = l, in.q_head = h, in.k_head = KeyHeadOf(h, s.n_q_heads, s.n_k_heads), in.d = s.d_head;
      in.n_q = in.n_k = s.n();
      in.q = s.Q(l, h), in.k = s.K(l, in.k_head);
      in.q_position = in.k_position = s.position.data();
      in.k_example = s.example.data();
      out.push_back(in);
    }
  return out;
}

PlasticityRun ComputePlasticity(const LanguageModel& lm, const library::plasticity::Config& cfg,
                                const std::string& corpus, const PlasticityProgress& progress) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  QKCaptureOptions co;
  co.corpus = corpus;
  co.max_tokens = cfg.max_tokens_per_head;
  co.seed = cfg.seed;
  const QKSample s = CaptureQK(lm, co, [&](int got, int total) { return !progress || progress(0, got, total); });
  const auto t1 = Clock::now();
  PlasticityRun run;
  run.results = library::plasticity::AnalyzeHeads(PlasticityInputs(s), cfg, [&](int done, int total) {
    return !progress || progress(1, done, total);
  });
  run.tokens = s.n();
  run.examples = s.example.empty() ? 0 : s.example.back() + 1;
  run.capture_seconds = std::chrono::duration<double>(t1 - t0).count();
  run.analysis_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  return run;
}

}  // namespace hs::lm
