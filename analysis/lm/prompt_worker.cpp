// The language-model workspace's engine (see prompt_worker.h).
#include "lm/prompt_worker.h"

#include <cstring>

#include "io/atomic_file.h"

namespace hs::lm {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::shared_ptr<const LmModel> LoadLmModel(const fs::path& dir, const LoadStatus& status) {
  auto tell = [&](const std::string& what, float f) {
    if (status && !status(what, f)) throw CategorizeCancelled();
  };
  auto m = std::make_shared<LmModel>();
  m->dir = dir;
  tell("loading " + dir.string(), -1);
  m->lm = std::shared_ptr<const LanguageModel>(LanguageModel::Open(dir));
  tell("checking the head categories", -1);
  m->categories = LoadOrCategorize(
      *m->lm, dir, [&](int done, int total) { return tell("categorising the heads (first time for this model)",
                                                          float(done) / float(total)), true; },
      &m->categories_note);
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
        } catch (const std::exception&) {  // a read-only folder: keep it in memory
        }
        m->formation = f;
      }
    } catch (const CategorizeCancelled&) {
      throw;
    } catch (const std::exception& e) {
      m->formation_error = e.what();
    }
  }
  return m;
}

std::shared_ptr<PromptAnalysis> AnalyzePrompt(const LmModel& model, const LanguageModel& weights,
                                              const std::string& prompt, bool bos, int step) {
  const auto t0 = Clock::now();
  auto a = std::make_shared<PromptAnalysis>();
  a->prompt = prompt;
  a->bos = bos;
  a->step = step;
  try {
    a->tokens = weights.Encode(prompt, bos);
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

PromptWorker::PromptWorker() : m_thread([this] { Loop(); }) {}
PromptWorker::~PromptWorker() { Stop(); }

void PromptWorker::Submit(Request r) {
  {
    std::lock_guard<std::mutex> lock(m_mu);
    if (m_stop) return;
    m_next = std::move(r);
    m_next_submitted = Clock::now();
  }
  m_cv.notify_one();
}

std::shared_ptr<const PromptAnalysis> PromptWorker::Latest(uint64_t* id) const {
  std::lock_guard<std::mutex> lock(m_mu);
  if (id) *id = m_latest_id;
  return m_latest;
}

void PromptWorker::SetOnResult(std::function<void()> f) {
  std::lock_guard<std::mutex> lock(m_mu);
  m_on_result = std::move(f);
}

bool PromptWorker::Busy() const {
  std::lock_guard<std::mutex> lock(m_mu);
  return m_running || m_next.has_value();
}

void PromptWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(m_mu);
    m_stop = true;
    m_next.reset();
  }
  m_cv.notify_all();
  if (m_thread.joinable()) m_thread.join();
}

void PromptWorker::Loop() {
  for (;;) {
    Request r;
    Clock::time_point submitted;
    {
      std::unique_lock<std::mutex> lock(m_mu);
      m_cv.wait(lock, [&] { return m_stop || m_next.has_value(); });
      if (m_stop) return;
      r = std::move(*m_next);
      m_next.reset();
      submitted = m_next_submitted;
      m_running = true;
    }
    std::shared_ptr<PromptAnalysis> a;
    try {
      const LanguageModel* weights = r.model->lm.get();
      if (r.step >= 0) {
        if (m_checkpoints_of != r.model) m_checkpoints.clear(), m_checkpoints_of = r.model;
        auto it = m_checkpoints.find(r.step);
        if (it == m_checkpoints.end()) {
          fs::path dir;
          for (const auto& [s, d] : r.model->checkpoints)
            if (s == r.step) dir = d;
          if (dir.empty()) throw std::invalid_argument("the model has no checkpoint at step " + std::to_string(r.step));
          it = m_checkpoints.emplace(r.step, LanguageModel::Open(dir)).first;
        }
        weights = it->second.get();
      }
      a = AnalyzePrompt(*r.model, *weights, r.prompt, r.bos, r.step);
    } catch (const std::exception& e) {
      a = std::make_shared<PromptAnalysis>();
      a->prompt = r.prompt, a->bos = r.bos, a->step = r.step;
      a->error = e.what();
    }
    std::function<void()> wake;
    {
      std::lock_guard<std::mutex> lock(m_mu);
      m_latest = a;
      m_latest_id = r.id;
      ++m_runs;
      m_running = false;
      m_last_latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - submitted).count();
      wake = m_on_result;
    }
    if (wake) wake();
  }
}

}  // namespace hs::lm
