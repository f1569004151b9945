// The language-model workspace's engine (see prompt_analysis.h).
#include "lm/prompt_analysis.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include "io/atomic_file.h"
#include "lm/output_roles.h"

namespace hs::lm {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::shared_ptr<const LmModel> LoadLmModel(const fs::path& dir, const LoadStatus& status) {
  auto tell = [&](const std::string& what, float f) {
    if (status && !status(what, f)) throw jobs::Cancelled();
  };
  auto m = std::make_shared<LmModel>();
  m->dir = dir;
  tell("loading " + dir.string(), -1);
  m->lm = std::shared_ptr<const LanguageModel>(LanguageModel::Open(dir));
  tell("checking the head categories", -1);
  std::string write_error;
  m->categories = LoadOrCategorize(
      *m->lm, dir, [&](int done, int total) { return tell("categorising the heads (first time for this model)",
                                                          float(done) / float(total)), true; },
      &m->categories_note, &write_error);
  if (!write_error.empty()) m->cache_warnings.push_back(write_error);
  m->checkpoints = ListCheckpoints(dir);
  if (!m->checkpoints.empty()) {
    const fs::path fp = FormationPath(dir);
    try {
      std::vector<int> steps;
      for (const auto& c : m->checkpoints) steps.push_back(c.first);
      std::shared_ptr<RoleFormation> f;
      if (fs::exists(fp)) {  // current when made from these weights and these checkpoints
        try {
          f = std::make_shared<RoleFormation>(ReadFormation(fp));
        } catch (const io::IoError& e) {  // a broken cache file: say so, and compute it again
          m->categories_note += std::string(m->categories_note.empty() ? "" : "; ") + e.what() + " (recomputed)";
        }
        if (f && (f->n_layers != m->n_layers() || f->n_heads != m->n_heads() ||
                  f->weights_hash != m->categories.weights_hash || f->steps != steps))
          f.reset();
      }
      if (f) {
        m->formation = f;
      } else {
        f = std::make_shared<RoleFormation>(ComputeFormation(dir, {}, [&](int done, int total) {
          return tell("head roles at each training checkpoint", float(done) / float(total)), true;
        }));
        f->weights_hash = m->categories.weights_hash;
        try {
          WriteFormation(fp, *f);
        } catch (const std::exception& e) {  // a read-only folder: keep it in memory, and say so
          m->cache_warnings.push_back("could not save the roles over training: " + std::string(e.what()) +
                                      " (kept for this session)");
        }
        m->formation = f;
      }
    } catch (const jobs::Cancelled&) {
      throw;
    } catch (const std::exception& e) {
      m->formation_error = e.what();
    }
  }
  return m;
}

int OverviewBin(int64_t T) {
  int bin = 1;
  while ((T + bin - 1) / bin > kOverviewCells) bin *= 2;
  return bin;
}

std::shared_ptr<PromptAnalysis> AnalyzePrompt(const LmModel& model, const LanguageModel& weights,
                                              const std::string& prompt, bool bos, int step,
                                              const PromptOptions& options) {
  std::vector<int64_t> tokens;
  try {
    tokens = weights.Encode(prompt, bos);
  } catch (const std::exception& e) {
    auto a = std::make_shared<PromptAnalysis>();
    a->model_dir = model.dir, a->prompt = prompt, a->bos = bos, a->step = step, a->error = e.what();
    return a;
  }
  return AnalyzePrompt(model, weights, prompt, std::move(tokens), bos, step, options);
}

namespace {
// Per-row quantities of one row of a watched head's pattern, whose sums over
// rows give ActivationScore exactly (same terms, same order).
constexpr int kPrev = PromptAnalysis::kRowPrev, kFirst = PromptAnalysis::kRowFirst,
              kDiffuse = PromptAnalysis::kRowDiffuse, kInduction = PromptAnalysis::kRowInduction,
              kDuplicate = PromptAnalysis::kRowDuplicate, kRowStats = PromptAnalysis::kRowStats;

// For each row, the earlier positions holding the same token.
std::vector<std::vector<int>> EarlierOccurrences(const std::vector<int64_t>& tokens) {
  std::vector<std::vector<int>> out(tokens.size());
  std::unordered_map<int64_t, std::vector<int>> seen;
  for (size_t i = 0; i < tokens.size(); ++i) {
    auto& s = seen[tokens[i]];
    out[i] = s;
    s.push_back(int(i));
  }
  return out;
}

double ScoreFromRows(library::HeadRole role, const double* rows, const std::vector<std::vector<int>>& earlier,
                     int T) {
  using library::HeadRole;
  if (T < 2) return 0.0;
  auto mean = [&](int k) {
    double s = 0;
    for (int i = 1; i < T; ++i) s += rows[size_t(i) * kRowStats + k];
    return std::clamp(s / (T - 1), 0.0, 1.0);
  };
  switch (role) {
    case HeadRole::kPreviousToken: return mean(kPrev);
    case HeadRole::kFirstToken: return mean(kFirst);
    case HeadRole::kDiffuse: return mean(kDiffuse);
    case HeadRole::kInduction:
    case HeadRole::kDuplicateToken: {
      const int k = role == HeadRole::kInduction ? kInduction : kDuplicate;
      double total = 0;
      int n = 0;
      for (int i = 1; i < T; ++i)
        if (!earlier[i].empty()) total += rows[size_t(i) * kRowStats + k], ++n;
      return n ? std::clamp(total / n, 0.0, 1.0) : 0.0;
    }
  }
  return 0.0;
}
}  // namespace
static_assert(kOutStats == 5, "PromptAnalysis::OutRows assumes 5 quantities per row");

std::shared_ptr<PromptAnalysis> AnalyzePrompt(const LmModel& model, const LanguageModel& weights,
                                              const std::string& prompt, std::vector<int64_t> tokens, bool bos,
                                              int step, const PromptOptions& options) {
  const auto t0 = Clock::now();
  auto a = std::make_shared<PromptAnalysis>();
  a->model_dir = model.dir;
  a->prompt = prompt;
  a->bos = bos;
  a->step = step;
  a->tokens = std::move(tokens);
  for (int64_t t : a->tokens) {
    try {
      a->token_text.push_back(weights.tokenizer().TokenText(t));
    } catch (const std::exception&) {
      a->token_text.push_back("?");
    }
  }
  if (a->tokens.empty() || (a->tokens.size() < 2 && !options.single_token_ok)) {
    a->error = prompt.empty() ? "Type a prompt, or pick a suggested one." : "The prompt is a single token; type a few words.";
    return a;
  }
  try {
    torch::NoGradGuard no_grad;
    const auto& c = weights.cfg();
    const int L = c.n_layers, H = c.n_heads;
    const int T = a->T();
    a->n_layers = L, a->n_heads = H;
    const int bin = OverviewBin(T), S = (T + bin - 1) / bin;
    a->overview_bin = bin, a->overview_size = S;
    a->overview.assign(size_t(L) * H * S * S, 0.0f);
    // The watched heads: every category's top heads.
    std::vector<int> watch_index(size_t(L) * H, -1);
    for (const auto& cat : model.categories.categories)
      for (const auto& t : cat.top_heads)
        if (t.layer < L && t.head < H && watch_index[size_t(t.layer) * H + t.head] < 0) {
          watch_index[size_t(t.layer) * H + t.head] = int(a->watched.size());
          a->watched.emplace_back(t.layer, t.head);
        }
    a->row_stats.assign(a->watched.size() * size_t(T) * kRowStats, 0.0);
    // The output roles' heads: what they write, row by row.
    const OutputRoleScorer out_scorer(weights, model.categories, a->tokens, bos);
    a->out_watched = out_scorer.heads();
    a->out_stats.assign(a->out_watched.size() * size_t(T) * kOutStats, 0.0);
    const auto earlier = EarlierOccurrences(a->tokens);

    // What the previous prompt's analysis can give for the shared prefix.
    const PromptAnalysis* prev = options.previous.get();
    const bool intervened = options.intervention && !options.intervention->empty();
    if (intervened) a->intervention = Describe(*options.intervention);
    int64_t reuse_max = 0;
    if (options.cache && !intervened && prev && prev->ok() && prev->intervention.empty() &&
        prev->model_dir == a->model_dir && prev->step == step &&
        prev->n_layers == L && prev->n_heads == H && prev->overview_bin == bin && prev->watched == a->watched &&
        prev->out_watched == a->out_watched) {
      while (reuse_max < int64_t(std::min(prev->tokens.size(), a->tokens.size())) &&
             prev->tokens[reuse_max] == a->tokens[reuse_max])
        ++reuse_max;
    }
    // Column weights for the overview: cells a key block holds.
    std::vector<float> col_cells(S);
    for (int j = 0; j < S; ++j) col_cells[j] = float(std::min(bin, T - j * bin));
    const torch::Tensor col_weight = torch::from_blob(col_cells.data(), {1, 1, S}, torch::kFloat);

    bool first_block = true;
    const auto [hl, hh] = options.head;
    const bool want_head = hl >= 0 && hl < L && hh >= 0 && hh < H;
    if (intervened && want_head) a->head_pattern.assign(size_t(T) * T, 0.f);
    auto sink = [&](const PatternBlock& b) {
      if (options.sink) options.sink(b);
      if (intervened && want_head && b.layer == hl && hh >= b.head0 && hh < b.head0 + b.n_heads)
        std::copy_n(b.Row(hh - b.head0, b.row0), size_t(b.T - b.row0) * T, a->head_pattern.data() + size_t(b.row0) * T);
      const int64_t row0 = b.row0, rows = T - row0;
      if (first_block) {  // rows [0, row0) are the previous prompt's
        first_block = false;
        a->reused_rows = row0;
        if (row0 > 0) {
          const int rb = int(row0 / bin), pS = prev->overview_size;
          for (int lh = 0; lh < L * H; ++lh)
            for (int r = 0; r < rb; ++r)
              std::copy_n(prev->overview.data() + (size_t(lh) * pS + r) * pS, std::min(pS, S),
                          a->overview.data() + (size_t(lh) * S + r) * S);
          for (size_t w = 0; w < a->watched.size(); ++w)
            std::copy_n(prev->row_stats.data() + w * prev->T() * kRowStats, size_t(row0) * kRowStats,
                        a->row_stats.data() + w * T * kRowStats);
          for (size_t w = 0; w < a->out_watched.size(); ++w)
            std::copy_n(prev->out_stats.data() + w * prev->T() * kOutStats, size_t(row0) * kOutStats,
                        a->out_stats.data() + w * T * kOutStats);
        }
      }
      out_scorer.OnPattern(b, a->out_stats.data());
      const torch::Tensor p = torch::from_blob(const_cast<float*>(b.data), {b.n_heads, rows, T}, torch::kFloat);
      // Overview: block means, times the key block's cells, over the rows of each query block.
      const torch::Tensor pooled =
          at::avg_pool2d(p, {bin, bin}, {bin, bin}, {0, 0}, /*ceil_mode=*/true, /*count_include_pad=*/false) *
          col_weight;  // [heads, rows / bin (ceil), S]
      const int rb0 = int(row0 / bin), nrb = int(pooled.size(1));
      const torch::Tensor pc = pooled.contiguous();
      for (int hi = 0; hi < b.n_heads; ++hi)
        std::copy_n(pc.data_ptr<float>() + size_t(hi) * nrb * S, size_t(nrb) * S,
                    a->overview.data() + ((size_t(b.layer) * H + b.head0 + hi) * S + rb0) * S);
      // Row quantities of the watched heads.
      for (int hi = 0; hi < b.n_heads; ++hi) {
        const int w = watch_index[size_t(b.layer) * H + b.head0 + hi];
        if (w < 0) continue;
        double* st = a->row_stats.data() + size_t(w) * T * kRowStats;
        // Terms in float, summed in double.
        const torch::Tensor ent = torch::xlogy(p[hi], p[hi]).sum(-1, false, torch::kDouble).neg().contiguous();  // [rows]
        const double* e = ent.data_ptr<double>();
        for (int64_t i = std::max<int64_t>(row0, 1); i < T; ++i) {
          const float* row = b.Row(hi, i);
          double* r = st + i * kRowStats;
          r[kPrev] = row[i - 1];
          r[kFirst] = row[0];
          r[kDiffuse] = e[i - row0] / std::log(double(i + 1));
          double ind = 0, dup = 0;
          for (int j : earlier[i]) ind += row[j + 1], dup += row[j];
          r[kInduction] = ind, r[kDuplicate] = dup;
        }
      }
    };
    StreamOptions so;
    so.cache = intervened ? nullptr : options.cache.get();
    so.intervention = intervened ? options.intervention.get() : nullptr;
    so.reuse_align = bin;
    so.reuse_max = reuse_max;
    if (!a->out_watched.empty())
      so.on_z = [&](int layer, const float* z, int nh, int64_t row0, int64_t TT, int E) {
        out_scorer.OnZ(layer, z, nh, row0, TT, E, a->out_stats.data());
      };
    so.progress = [&](int done, int total) {
      return !options.progress ||
             options.progress("running layer " + std::to_string(std::min(done + 1, total)) + " of " +
                                  std::to_string(total), float(done) / float(total));
    };
    if (!weights.StreamPatterns(a->tokens, sink, so)) throw jobs::Cancelled();
    a->cache = intervened ? nullptr : options.cache;
    a->roles = library::VerifyPromptScores(model.categories, [&](library::HeadRole role, int l, int h) {
      const int w = watch_index[size_t(l) * H + h];
      return w < 0 ? 0.0 : ScoreFromRows(role, a->row_stats.data() + size_t(w) * T * kRowStats, earlier, T);
    }, a->tokens);
    VerifyOutputRoles(model.categories, a->out_watched, a->out_stats.data(), a->tokens, a->token_text, &a->roles);
    if (want_head) {
      if (!intervened) a->head_pattern = weights.HeadPattern(a->tokens, hl, hh, options.cache.get());
      a->head_layer = hl, a->head_head = hh;
    }
  } catch (const jobs::Cancelled&) {
    throw;
  } catch (const std::exception& e) {
    a->error = e.what();
    a->overview.clear();
    a->head_pattern.clear();
  }
  a->compute_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return a;
}

std::shared_ptr<const LanguageModel> OpenCheckpoint(const LmModel& model, int step) {
  for (const auto& [s, dir] : model.checkpoints)
    if (s == step) return std::shared_ptr<const LanguageModel>(LanguageModel::Open(dir));
  throw std::invalid_argument("the model has no checkpoint at step " + std::to_string(step));
}

}  // namespace hs::lm
