// The language-model workspace's engine (see prompt_analysis.h).
#include "lm/prompt_analysis.h"

#include <chrono>
#include <cstring>
#include <stdexcept>

#include "io/atomic_file.h"

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

std::shared_ptr<PromptAnalysis> AnalyzePrompt(const LmModel& model, const LanguageModel& weights,
                                              const std::string& prompt, bool bos, int step) {
  std::vector<int64_t> tokens;
  try {
    tokens = weights.Encode(prompt, bos);
  } catch (const std::exception& e) {
    auto a = std::make_shared<PromptAnalysis>();
    a->model_dir = model.dir, a->prompt = prompt, a->bos = bos, a->step = step, a->error = e.what();
    return a;
  }
  return AnalyzePrompt(model, weights, prompt, std::move(tokens), bos, step);
}

std::shared_ptr<PromptAnalysis> AnalyzePrompt(const LmModel& model, const LanguageModel& weights,
                                              const std::string& prompt, std::vector<int64_t> tokens, bool bos,
                                              int step) {
  const auto t0 = Clock::now();
  auto a = std::make_shared<PromptAnalysis>();
  a->model_dir = model.dir;
  a->prompt = prompt;
  a->bos = bos;
  a->step = step;
  try {
    a->tokens = std::move(tokens);
    if (a->tokens.size() < 2) {
      a->error = prompt.empty() ? "Type a prompt, or pick a suggested one." : "The prompt is a single token; type a few words.";
    } else {
      const io::Array p = weights.Patterns(a->tokens);
      a->patterns.resize(size_t(p.numel()));
      std::memcpy(a->patterns.data(), p.data<float>(), a->patterns.size() * sizeof(float));
      a->n_layers = int(p.shape[0]);
      a->n_heads = int(p.shape[1]);
      a->roles = library::VerifyPrompt(model.categories, a->patterns.data(), a->n_layers, a->n_heads, a->tokens);
    }
    for (int64_t t : a->tokens) {
      try {
        a->token_text.push_back(weights.tokenizer().TokenText(t));
      } catch (const std::exception&) {
        a->token_text.push_back("?");
      }
    }
  } catch (const std::exception& e) {
    a->error = e.what();
    a->patterns.clear();
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
