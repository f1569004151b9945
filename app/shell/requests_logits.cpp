// Requests of the language-model workspace's output views (see requests.h):
// direct logit attribution, the logit lens and what one head writes, on the
// prompt's tokens at the selected training step with every head on. Each is
// a typed key on the one request path (interactive lane, latest wins per
// slot); none keeps state between jobs but the step's weights (WeightsFor).
#include <string>

#include "requests.h"

namespace hs::app {

namespace {
// The model, step and tokens (heads turned off do not change these views:
// they attribute the model as trained).
std::string LogitsKeyOf(const LmPromptKey& key, const std::vector<int64_t>& tokens) {
  return key.model.str() + "|step:" + std::to_string(key.step) + "|tokens:" + std::to_string(tokens.size()) + ":" +
         std::to_string(LmPromptKey::HashTokens(tokens));
}
}  // namespace

Result<lm::LogitAttribution> Requests::Dla(const std::shared_ptr<const lm::LmModel>& model, const LmPromptKey& key,
                                           const std::vector<int64_t>& tokens, int64_t target, int64_t wrong) {
  if (!model) return {};
  const bool pair = target >= 0 && wrong >= 0;
  const std::string k = LogitsKeyOf(key, tokens) + "|dla|" +
                        (pair ? std::to_string(target) + "-" + std::to_string(wrong) : std::string("next"));
  return Compute<lm::LogitAttribution>("lm_dla", k, jobs::Lane::Interactive, 2,
                                       [this, model, key, tokens, pair, target, wrong](const Report& report) {
                                         report("direct logit attribution", -1.f);
                                         const lm::LanguageModel& weights = WeightsFor(*model, key);
                                         std::vector<int64_t> targets;
                                         if (pair) targets.assign(tokens.size(), target);
                                         return std::make_shared<const lm::LogitAttribution>(lm::DirectLogitAttribution(
                                             weights, tokens, std::move(targets), pair ? wrong : -1));
                                       });
}

Result<lm::LogitLens> Requests::Lens(const std::shared_ptr<const lm::LmModel>& model, const LmPromptKey& key,
                                     const std::vector<int64_t>& tokens, int position, int k) {
  if (!model) return {};
  const std::string kk = LogitsKeyOf(key, tokens) + "|lens|" + std::to_string(position) + "|" + std::to_string(k);
  return Compute<lm::LogitLens>("lm_lens", kk, jobs::Lane::Interactive, 2,
                                [this, model, key, tokens, position, k](const Report& report) {
                                  report("logit lens", -1.f);
                                  return std::make_shared<const lm::LogitLens>(
                                      lm::ComputeLogitLens(WeightsFor(*model, key), tokens, position, k));
                                });
}

Result<LmHeadWrites> Requests::HeadWrites(const std::shared_ptr<const lm::LmModel>& model, const LmPromptKey& key,
                                          const std::vector<int64_t>& tokens, int layer, int head, int position,
                                          int k) {
  if (!model) return {};
  const std::string kk = LogitsKeyOf(key, tokens) + "|writes|" + std::to_string(layer) + "," + std::to_string(head) +
                         "@" + std::to_string(position) + "|" + std::to_string(k);
  return Compute<LmHeadWrites>("lm_writes", kk, jobs::Lane::Interactive, 4,
                               [this, model, key, tokens, layer, head, position, k](const Report&) {
                                 auto out = std::make_shared<LmHeadWrites>();
                                 out->layer = layer, out->head = head, out->position = position;
                                 out->tokens = lm::HeadOutputTokens(WeightsFor(*model, key), tokens, layer, head,
                                                                    position, k);
                                 return out;
                               });
}

}  // namespace hs::app
