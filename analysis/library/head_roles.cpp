// Head categories and runtime verification (see head_roles.h).
#include "library/head_roles.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>


namespace hs::library {
using nlohmann::json;

// [SECTION] the six categories
const std::vector<CategoryDef>& HeadCategoryDefs() {
  // Offline thresholds are on the averaged detector scores (TL's `mul` score
  // for the pattern roles); the runtime thresholds are on ActivationScore.
  // The diffuse bar is high because normalised entropy is high for most
  // heads that do not focus (0.5 is already broad attention). The runtime
  // bars for induction and duplicate are 0.5 because on a real prompt a
  // frequent token has many earlier occurrences, whose summed mass is
  // sizeable even for a head that does not look for them (on byte-level
  // text the demo LM's layer-1 heads score 0.35 at step 600, before their
  // induction attention forms, and 0.54 at step 800 when it has).
  static const std::vector<CategoryDef> defs = {
      {"previous_token", HeadRole::kPreviousToken, "Previous Token", "Attends to the immediately preceding token",
       "arrow-left",
       "This head looks at the token right before the current one, like reading left to right.", 0.4, 0.25, 0.4,
       false, "Reading left to right, each word follows the one before it."},
      {"induction", HeadRole::kInduction, "Induction", "Completes repeated patterns: [A][B] ... [A] -> [B]", "repeat",
       "This head finds an earlier occurrence of the current token and looks at what came next, so the model can "
       "predict that the pattern repeats. If it saw 'the cat' earlier, it expects the same words to follow.",
       0.4, 0.25, 0.5, true, "The cat sat on the mat. The cat sat on the mat."},
      {"duplicate_token", HeadRole::kDuplicateToken, "Duplicate Token",
       "Attends to earlier occurrences of the current token", "copy",
       "This head notices when the same token appeared before, like a highlighter for repeated words.", 0.4, 0.25,
       0.5, true, "red blue green red blue green red blue green"},
      {"first_token", HeadRole::kFirstToken, "First Token", "Attends to the first token (an attention sink)", "anchor",
       "This head rests its attention on the very first token, using it as an anchor when nothing else matters.", 0.5,
       0.35, 0.5, false, "Many heads rest on the first token of any sentence."},
      {"diffuse", HeadRole::kDiffuse, "Diffuse", "Spreads attention evenly over many tokens (bag of words)", "sun",
       "This head spreads its attention over many tokens, gathering general context rather than focusing on one "
       "spot.",
       0.75, 0.65, 0.7, false, "A long and calm sentence lets attention spread across many of its words at once."},
      // Read from the weights (lm/ov_scores.h): the share of tokens (a sample,
      // see WeightRolesMethod) whose own token ranks in the top / bottom 5 of
      // the head's full OV circuit row; random heads score <= 0.03. At
      // runtime: the share of rows whose most attended token ranks there.
      {"copying", std::nullopt, "Copying", "Raises the logit of the token it attends to (from its OV circuit)", "copy",
       "When this head attends to a token, it writes that same token into the prediction: what it looks at is what "
       "it says next. Induction heads and name movers copy.",
       0.5, 0.3, 0.5, false, "When Mary and John went to the store, John gave a drink to", OutputRole::kCopying},
      {"copy_suppression", std::nullopt, "Copy Suppression",
       "Lowers the logit of the token it attends to (from its OV circuit)", "minus",
       "When this head attends to a token, it pushes that token's prediction down: it stops the model from "
       "repeating a word it was about to predict too confidently (McDougall et al. 2023).",
       0.5, 0.3, 0.5, false, "When Mary and John went to the store, John gave a drink to",
       OutputRole::kCopySuppression},
      {"successor", std::nullopt, "Successor", "Maps an ordinal token to the next one: 3 -> 4, Monday -> Tuesday",
       "arrow-right",
       "This head turns an item of a sequence into the next item: it looks at '3' and writes '4', at 'Monday' and "
       "writes 'Tuesday' (Gould et al. 2023, successor heads).",
       0.5, 0.3, 0.5, false, "1 2 3 4 5 6 7 8", OutputRole::kSuccessor},
      {"other", std::nullopt, "Other", "Below every threshold above", "question",
       "This head's pattern fits none of these simple categories; it may be doing something more complex.", 0, 0, 0,
       false, ""},
  };
  return defs;
}

const CategoryDef* FindCategoryDef(const std::string& key) {
  for (const auto& d : HeadCategoryDefs())
    if (d.key == key) return &d;
  return nullptr;
}

// [SECTION] top heads and categories
std::vector<TopHead> SelectTopHeads(const LayerHeadScores& scores, double threshold, double diversity_threshold,
                                    size_t cap) {
  std::vector<TopHead> picked;
  std::vector<bool> layer_has(scores.size(), false);
  for (int l = 0; l < int(scores.size()); ++l)
    for (int h = 0; h < int(scores[l].size()); ++h)
      if (scores[l][h] >= threshold) picked.push_back({l, h, scores[l][h]}), layer_has[l] = true;
  for (int l = 0; l < int(scores.size()); ++l) {
    if (layer_has[l] || scores[l].empty()) continue;
    const auto best = std::max_element(scores[l].begin(), scores[l].end());
    if (*best >= diversity_threshold) picked.push_back({l, int(best - scores[l].begin()), *best});
  }
  std::stable_sort(picked.begin(), picked.end(), [](const TopHead& a, const TopHead& b) { return a.score > b.score; });
  if (picked.size() > cap) picked.resize(cap);
  return picked;
}

bool HeadCategories::IsSink(int layer, int head) const {
  const CategoryResult* f = Find("first_token");
  const CategoryDef* def = FindCategoryDef("first_token");
  if (!f || !def || layer < 0 || layer >= int(sink_random.size()) || layer >= int(f->all_scores.size())) return false;
  if (head < 0 || head >= int(sink_random[layer].size()) || head >= int(f->all_scores[layer].size())) return false;
  return sink_random[layer][head] >= def->threshold && f->all_scores[layer][head] >= def->threshold;
}

std::string HeadCategories::Unavailable(const std::string& key) const {
  for (const auto& [k, why] : unavailable)
    if (k == key) return why;
  return "";
}

const CategoryResult* HeadCategories::Find(const std::string& key) const {
  for (const auto& c : categories)
    if (c.key == key) return &c;
  return nullptr;
}

std::vector<std::string> HeadCategories::RolesOf(int layer, int head) const {
  std::vector<std::string> out;
  for (const auto& c : categories)
    for (const auto& t : c.top_heads)
      if (t.layer == layer && t.head == head) {
        out.push_back(c.key);
        break;
      }
  return out;
}

HeadCategories BuildHeadCategories(const std::array<LayerHeadScores, kNumHeadRoles>& scores, int n_layers,
                                   int n_heads, const std::array<LayerHeadScores, kNumOutputRoles>* output_scores) {
  HeadCategories c;
  c.n_layers = n_layers, c.n_heads = n_heads;
  c.has_weight_roles = output_scores != nullptr;
  LayerHeadScores classified(n_layers, std::vector<double>(n_heads, 0.0));
  for (const auto& def : HeadCategoryDefs()) {
    CategoryResult r;
    r.key = def.key;
    r.threshold = def.threshold;
    if (def.role || def.output_role) {
      if (def.output_role) {
        if (!output_scores || (*output_scores)[static_cast<int>(*def.output_role)].empty()) continue;
        r.all_scores = (*output_scores)[static_cast<int>(*def.output_role)];
      } else {
        r.all_scores = scores[static_cast<int>(*def.role)];
      }
      if (int(r.all_scores.size()) != n_layers) throw std::invalid_argument("BuildHeadCategories: wrong layer count");
      r.top_heads = SelectTopHeads(r.all_scores, def.threshold, def.diversity_threshold);
      for (int l = 0; l < n_layers; ++l)
        if (int(r.all_scores[l].size()) != n_heads) throw std::invalid_argument("BuildHeadCategories: wrong head count");
      for (const auto& t : r.top_heads) classified[t.layer][t.head] = 1;
    } else {  // other: every head in no top-head list, by layer and head
      r.all_scores.assign(n_layers, std::vector<double>(n_heads, 0.0));
      for (int l = 0; l < n_layers; ++l)
        for (int h = 0; h < n_heads; ++h)
          if (!classified[l][h]) r.all_scores[l][h] = 1, r.top_heads.push_back({l, h, 1.0});
    }
    c.categories.push_back(std::move(r));
  }
  return c;
}

// [SECTION] runtime verification
double ActivationScore(HeadRole role, const float* a, int T, const std::vector<int64_t>& tokens) {
  if (T < 2 || int(tokens.size()) != T) return 0.0;
  switch (role) {
    case HeadRole::kPreviousToken: {
      double s = 0;
      for (int i = 1; i < T; ++i) s += a[size_t(i) * T + i - 1];
      return std::clamp(s / (T - 1), 0.0, 1.0);
    }
    case HeadRole::kFirstToken:
      return std::clamp(FirstTokenScore(a, T), 0.0, 1.0);
    case HeadRole::kDiffuse:
      return std::clamp(DiffuseScore(a, T), 0.0, 1.0);
    case HeadRole::kInduction:
    case HeadRole::kDuplicateToken: {
      const int shift = role == HeadRole::kInduction ? 1 : 0;
      double total = 0;
      int rows = 0;
      for (int i = 1; i < T; ++i) {
        double row_sum = 0;
        bool any = false;
        // Earlier occurrences j < i of tokens[i]; for induction the key is
        // j + 1 <= i. Several occurrences may point at the same key only for
        // distinct j, so no key is counted twice.
        for (int j = 0; j < i; ++j)
          if (tokens[j] == tokens[i]) any = true, row_sum += a[size_t(i) * T + j + shift];
        if (any) total += row_sum, ++rows;
      }
      return rows ? std::clamp(total / rows, 0.0, 1.0) : 0.0;
    }
  }
  return 0.0;
}

const CategoryActivation* PromptRoles::Find(const std::string& key) const {
  for (const auto& c : categories)
    if (c.key == key) return &c;
  return nullptr;
}

json PromptRoles::ToJson() const {
  json out = json::object(), reasons = json::object();
  for (const auto& c : categories) {
    json heads = json::array();
    for (const auto& h : c.heads)
      heads.push_back({{"layer", h.layer},
                       {"head", h.head},
                       {"score", h.score},
                       {"activation_score", h.activation_score},
                       {"is_active", h.is_active}});
    out[c.key] = heads;
    if (!c.reason.empty()) reasons[c.key] = c.reason;
    if (!c.note.empty()) out["notes"][c.key] = c.note;
    if (c.check != CategoryActivation::Check::kNotRun) {
      out["checked"][c.key] = c.check == CategoryActivation::Check::kChecked;
      out["check_reasons"][c.key] = c.check_reason;
    }
  }
  out["reasons"] = reasons;
  return out;
}

PromptRoles VerifyPrompt(const HeadCategories& c, const float* patterns, int n_layers, int n_heads,
                         const std::vector<int64_t>& tokens) {
  if (n_layers != c.n_layers || n_heads != c.n_heads)
    throw std::invalid_argument("VerifyPrompt: the categories are for another model shape");
  const int T = int(tokens.size());
  return VerifyPromptScores(c, [&](HeadRole role, int layer, int head) {
    return ActivationScore(role, patterns + (size_t(layer) * n_heads + head) * size_t(T) * T, T, tokens);
  }, tokens);
}

PromptRoles VerifyPromptScores(const HeadCategories& c, const std::function<double(HeadRole, int, int)>& score,
                               const std::vector<int64_t>& tokens) {
  const int T = int(tokens.size());
  PromptRoles out;
  out.repeated_tokens = HasRepeatedTokens(tokens);
  for (const auto& r : c.categories) {
    const CategoryDef* def = FindCategoryDef(r.key);
    CategoryActivation ca;
    ca.key = r.key;
    ca.applicable = !(def && def->requires_repetition) || out.repeated_tokens;
    char buf[320];
    for (const auto& t : r.top_heads) {
      HeadActivation h;
      h.layer = t.layer, h.head = t.head, h.score = t.score;
      if (def && def->role && ca.applicable && T >= 2) {
        h.activation_score = score(*def->role, t.layer, t.head);
        h.is_active = h.activation_score >= def->active_threshold;
      }
      ca.active = ca.active || h.is_active;
      ca.heads.push_back(h);
    }
    if (def && def->output_role) {
      if (r.top_heads.empty()) {
        std::snprintf(buf, sizeof buf, "this model has no head scoring %.2f or more for this role (read from its weights)",
                      r.threshold);
        ca.reason = buf;
      } else {
        ca.reason = T < 2 ? "the prompt is a single token; type a few words"
                          : "what its heads write has not been verified on this prompt";
      }
    } else if (!def || !def->role) {
      ca.reason = "no runtime check: these heads fit none of the categories above";
    } else if (r.top_heads.empty()) {
      std::snprintf(buf, sizeof buf, "this model has no head scoring %.2f or more for this role", r.threshold);
      ca.reason = buf;
    } else if (!ca.applicable) {
      ca.reason = "no repeated tokens in your input; try: " + def->suggested_prompt;
    } else if (T < 2) {
      ca.reason = "the prompt is a single token; type a few words";
    } else if (!ca.active) {
      double best = 0;
      for (const auto& h : ca.heads) best = std::max(best, h.activation_score);
      std::snprintf(buf, sizeof buf, "its heads do not act on this prompt (best %.2f, active from %.2f)", best,
                    def->active_threshold);
      ca.reason = buf;
      if (!def->suggested_prompt.empty()) ca.reason += "; try: " + def->suggested_prompt;
    }
    if (r.key == "first_token" && !c.sink_random.empty()) {  // which of its heads are attention sinks
      std::string sinks, not_sinks;
      for (const auto& t : r.top_heads) {
        const bool known = t.layer < int(c.sink_random.size()) && t.head < int(c.sink_random[t.layer].size());
        std::snprintf(buf, sizeof buf, "L%dH%d %.2f", t.layer, t.head, known ? c.sink_random[t.layer][t.head] : 0.0);
        std::string& to = c.IsSink(t.layer, t.head) ? sinks : not_sinks;
        to += (to.empty() ? "" : ", ") + std::string(buf);
      }
      if (!sinks.empty())
        ca.note = "attention sink (mean attention to the first token on random tokens: " + sinks +
                  "): it rests there whatever the tokens are, so the rest of its attention is small; turn on "
                  "\"without the sink\" to see it";
      if (!not_sinks.empty())
        ca.note += (ca.note.empty() ? "" : "; ") + std::string("not a sink (on random tokens: ") + not_sinks +
                   "): it looks at the first token on text, not whatever the tokens are";
    }
    out.categories.push_back(std::move(ca));
  }
  return out;
}

}  // namespace hs::library
