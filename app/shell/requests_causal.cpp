// Requests of the language-model workspace's causal views (see requests.h):
// mean activations, per-token losses with heads turned off, one head
// ablated at one position, the causal role checks and activation patching.
// Each is a typed key on the one request path (latest wins per slot).
#include <cstdio>

#include "jobs/cancelled.h"
#include "requests.h"

namespace hs::app {

namespace {
// The key of a prompt's clean forward (the heads turned off left out).
std::string CleanKeyOf(const LmPromptKey& key) {
  LmPromptKey k = key;
  k.intervention.clear();
  return k.str();
}
std::string TokensKey(const std::vector<int64_t>& tokens) {
  return std::to_string(tokens.size()) + ":" + std::to_string(LmPromptKey::HashTokens(tokens));
}
}  // namespace

const lm::CleanRun& Requests::CleanRunFor(const std::shared_ptr<const lm::LmModel>& model, const LmPromptKey& key,
                                          const std::vector<int64_t>& tokens) {
  const std::string k = CleanKeyOf(key);
  if (m_clean_key != k || !m_clean_run) {
    m_clean_key.clear();
    m_clean_run.reset();  // before its weights
    m_clean_weights.reset();
    std::shared_ptr<const lm::LanguageModel> weights = model->lm;
    if (key.step >= 0) {
      WeightsFor(*model, key);
      weights = m_step_weights;
    }
    m_clean_run = std::make_shared<const lm::CleanRun>(*weights, tokens);
    m_clean_weights = std::move(weights);
    m_clean_key = k;
  }
  return *m_clean_run;
}

Result<LmMeans> Requests::Means(const std::shared_ptr<const lm::LmModel>& model, const LmModelKey& key) {
  if (!model) return {};
  return Compute<LmMeans>("lm_means", key.str() + "|means", jobs::Lane::Long, 1, [model](const Report& report) {
    auto out = std::make_shared<LmMeans>();
    out->means = lm::LoadOrComputeMeans(*model->lm, model->dir, &out->note, [&](int done, int total) {
      char what[128];
      std::snprintf(what, sizeof what, "mean output of every head: sentence %d of %d", done, total);
      return report(what, total > 0 ? float(done) / float(total) : -1.0f);
    });
    return out;
  });
}

Result<LmLosses> Requests::TokenLosses(const std::shared_ptr<const lm::LmModel>& model, const LmPromptKey& key,
                                       const std::vector<int64_t>& tokens,
                                       std::shared_ptr<const lm::Intervention> intervention) {
  if (!model) return {};
  if (intervention && intervention->empty()) intervention.reset();
  const std::string k = CleanKeyOf(key) + "|losses|" + (intervention ? lm::Describe(*intervention) : "");
  return Compute<LmLosses>("lm_losses", k, jobs::Lane::Interactive, 2,
                           [this, model, key, tokens, intervention](const Report& report) {
                             auto out = std::make_shared<LmLosses>();
                             out->tokens = tokens;
                             if (tokens.size() < 2) return out;  // nothing to predict
                             report("clean forward", 0.f);
                             const lm::CleanRun& run = CleanRunFor(model, key, tokens);
                             out->clean = run.losses();
                             if (intervention) {
                               if (!report("forward with " + lm::Describe(*intervention), 0.5f)) throw jobs::Cancelled();
                               lm::CheckIntervention(*intervention, model->lm->cfg(), tokens.size());
                               out->intervened = run.Losses(*intervention);
                               out->intervention = lm::Describe(*intervention);
                             }
                             return out;
                           });
}

Result<LmCellAblation> Requests::CellAblation(const std::shared_ptr<const lm::LmModel>& model, const LmPromptKey& key,
                                              const std::vector<int64_t>& tokens, int layer, int head, int position,
                                              lm::AblationMode mode, std::shared_ptr<const lm::ActivationMeans> means) {
  if (!model) return {};
  const std::string k = CleanKeyOf(key) + "|cell|" + std::to_string(layer) + "," + std::to_string(head) + "@" +
                        std::to_string(position) + "|" + lm::ModeName(mode);
  return Compute<LmCellAblation>(
      "lm_cell", k, jobs::Lane::Interactive, 8,
      [this, model, key, tokens, layer, head, position, mode, means](const Report&) {
        auto out = std::make_shared<LmCellAblation>();
        out->layer = layer, out->head = head, out->position = position, out->mode = mode;
        const lm::CleanRun& run = CleanRunFor(model, key, tokens);
        lm::Intervention iv;
        iv.mode = mode;
        iv.heads = {{layer, head}};
        iv.positions = {position};
        iv.means = means;
        lm::CheckIntervention(iv, model->lm->cfg(), tokens.size());
        const std::vector<double> ablated = run.Losses(iv);
        const std::vector<double>& clean = run.losses();
        out->change.resize(clean.size());
        for (size_t i = 0; i < clean.size() && i < ablated.size(); ++i) {
          out->change[i] = ablated[i] - clean[i];
          out->total += out->change[i];
        }
        return out;
      });
}

Result<LmHeadPattern> Requests::CleanHeadPattern(const std::shared_ptr<const lm::LmModel>& model,
                                                const LmPromptKey& key, const std::vector<int64_t>& tokens, int layer,
                                                int head) {
  if (!model) return {};
  const std::string k = CleanKeyOf(key) + "|clean head " + std::to_string(layer) + "," + std::to_string(head);
  return Compute<LmHeadPattern>("lm_clean_head", k, jobs::Lane::Interactive, 2,
                                [this, model, key, tokens, layer, head](const Report&) {
                                  auto out = std::make_shared<LmHeadPattern>();
                                  out->layer = layer, out->head = head;
                                  // The prompt cache holds the last clean run's keys and values.
                                  out->pattern = WeightsFor(*model, key).HeadPattern(tokens, layer, head,
                                                                                     m_prompt_cache.get());
                                  return out;
                                });
}

Result<lm::CausalChecks> Requests::Checks(const std::shared_ptr<const lm::LmModel>& model, const LmPromptKey& key,
                                          const std::string& prompt, const std::vector<int64_t>& tokens,
                                          std::shared_ptr<const lm::PromptAnalysis> clean,
                                          std::shared_ptr<const lm::ActivationMeans> means) {
  if (!model) return {};
  const std::string k = CleanKeyOf(key) + "|checks|" + (means ? "mean" : "zero");
  if (clean && (!clean->ok() || !clean->intervention.empty() || clean->tokens != tokens || clean->step >= 0))
    clean.reset();  // not this prompt's clean analysis: the job runs it
  return Compute<lm::CausalChecks>(
      "lm_checks", k, jobs::Lane::Long, 2,
      [model, key, prompt, tokens, clean, means](const Report& report) {
        library::PromptRoles roles;
        if (clean) {
          roles = clean->roles;
        } else {
          if (!report("running the prompt with every head on", 0.f)) throw jobs::Cancelled();
          const auto a = lm::AnalyzePrompt(*model, *model->lm, prompt, tokens, key.bos);
          if (!a->error.empty()) throw std::runtime_error(a->error);
          roles = a->roles;
        }
        lm::CheckOptions o;
        o.progress = report;
        return std::make_shared<const lm::CausalChecks>(lm::CheckRoles(*model->lm, tokens, roles, means, o));
      });
}

Result<lm::PatchResult> Requests::Patch(const std::shared_ptr<const lm::LmModel>& model, const LmModelKey& key,
                                        const std::vector<int64_t>& clean, const std::vector<int64_t>& corrupt,
                                        int64_t answer, int64_t wrong) {
  if (!model) return {};
  const std::string k = key.str() + "|patch|" + TokensKey(clean) + "|" + TokensKey(corrupt) + "|" +
                        std::to_string(answer) + "," + std::to_string(wrong);
  return Compute<lm::PatchResult>(
      "lm_patch", k, jobs::Lane::Long, 2, [model, clean, corrupt, answer, wrong](const Report& report) {
        return std::make_shared<const lm::PatchResult>(
            lm::PatchActivations(*model->lm, clean, corrupt, answer, wrong, [&](int done, int total) {
              char what[96];
              std::snprintf(what, sizeof what, "patching: run %d of %d", done, total);
              return report(what, total > 0 ? float(done) / float(total) : -1.0f);
            }));
      });
}

}  // namespace hs::app
