// head_categories.json (see head_categories_file.h).
#include "lm/head_categories_file.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "io/atomic_file.h"
#include "io/json_text.h"

namespace hs::lm {
using nlohmann::json;
using library::CategoryDef;
using library::CategoryResult;
using library::FindCategoryDef;
using library::HeadCategories;
using library::HeadCategoryDefs;
using library::TopHead;

json HeadCategoriesJson(const HeadCategories& c) {
  json cats = json::object(), all = json::object();
  for (const auto& r : c.categories) {
    const CategoryDef* def = FindCategoryDef(r.key);
    json top = json::array();
    for (const auto& t : r.top_heads) top.push_back({{"layer", t.layer}, {"head", t.head}, {"score", t.score}});
    cats[r.key] = {{"display_name", def ? def->display_name : r.key},
                   {"description", def ? def->description : ""},
                   {"icon", def ? def->icon : ""},
                   {"threshold", r.threshold},
                   {"requires_repetition", def && def->requires_repetition},
                   {"top_heads", top}};
    all[r.key] = r.all_scores;
  }
  const auto& m = c.method;
  json entry = {{"model_name", c.model_name},
                {"num_layers", c.n_layers},
                {"num_heads", c.n_heads},
                {"analysis_date", c.analysis_date},
                {"weights_hash", c.weights_hash},
                {"weights_signature", c.weights_signature},
                {"method",
                 {{"repeated_sequences", m.n_repeated},
                  {"repeated_half_length", m.repeated_half_length},
                  {"sentences", m.n_sentences},
                  {"sentences_file", m.prompts_file},
                  {"bos", m.bos},
                  {"seed", m.seed},
                  {"score", "TransformerLens detect_head 'mul' (no exclusions) for previous_token, duplicate_token "
                            "and induction; mean attention to position 0 over rows 1..T-1 for first_token; "
                            "normalised row entropy for diffuse; averaged over the prompts"}}},
                {"categories", cats},
                {"all_scores", all}};
  if (c.has_weight_roles) {
    const auto& w = c.weights_method;
    json unavailable = json::object();
    for (const auto& [key, why] : c.unavailable) unavailable[key] = why;
    entry["weight_roles"] = {
        {"score", "full OV circuit W_U[:, S] . ln_final(norm_l(W_E' ) W_V W_O) per head, W_E' = W_E + MLP_0(W_E); "
                  "copying / copy_suppression: share of tokens in S whose own token ranks in the top / bottom k of "
                  "their row; successor: share of ordinal items whose successor has the highest logit in its set; "
                  "sink: mean attention to position 0 over rows 1..T-1"},
        {"k", w.k},
        {"token_set", w.token_set},
        {"tokens", w.n_tokens},
        {"ordinal_sets", w.ordinal_sets},
        {"sink_random_prompts", w.sink_prompts},
        {"unavailable", unavailable},
        {"sink_random", c.sink_random}};
  }
  return json{{c.model_name, entry}};
}

void WriteHeadCategories(const std::filesystem::path& path, const HeadCategories& c) {
  io::WriteFileAtomic(path, HeadCategoriesJson(c).dump(1) + "\n");
}

namespace {
[[noreturn]] void Bad(const std::filesystem::path& path, const std::string& what) {
  throw io::IoError(path.string() + ": " + what);
}
int IntField(const std::filesystem::path& path, const json& o, const char* key, const std::string& where, int lo,
             int hi) {
  if (!o.contains(key) || !o[key].is_number_integer() || o[key].get<int64_t>() < lo || o[key].get<int64_t>() > hi)
    Bad(path, where + "\"" + key + "\" must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                  "]" + (o.contains(key) ? ", found " + io::BriefJson(o[key]) : std::string(", missing")));
  return o[key].get<int>();
}
double ScoreField(const std::filesystem::path& path, const json& v, const std::string& where) {
  if (!v.is_number() || !std::isfinite(v.get<double>()))
    Bad(path, where + " must be a finite number, found " + io::BriefJson(v));
  return v.get<double>();
}
}  // namespace

HeadCategories ReadHeadCategories(const std::filesystem::path& path, int n_layers, int n_heads) {
  if (!std::filesystem::exists(path)) Bad(path, "file not found");
  const json j = io::ParseJson(io::ReadFile(path), path.string());
  if (!j.is_object() || j.size() != 1 || !j.begin()->is_object())
    Bad(path, "expected one model entry, {\"<model name>\": {...}} (headscope categorize writes it)");
  const json& e = *j.begin();
  HeadCategories c;
  c.model_name = j.begin().key();
  c.n_layers = IntField(path, e, "num_layers", "", 1, 1 << 16);
  c.n_heads = IntField(path, e, "num_heads", "", 1, 1 << 16);
  if ((n_layers > 0 && c.n_layers != n_layers) || (n_heads > 0 && c.n_heads != n_heads))
    Bad(path, "is for " + std::to_string(c.n_layers) + " layers x " + std::to_string(c.n_heads) +
                  " heads, but the model has " + std::to_string(n_layers) + " x " + std::to_string(n_heads) +
                  " (delete it to categorise this model again)");
  c.analysis_date = e.contains("analysis_date") && e["analysis_date"].is_string() ? e["analysis_date"].get<std::string>()
                                                                                 : "";
  c.weights_hash = e.contains("weights_hash") && e["weights_hash"].is_string() ? e["weights_hash"].get<std::string>()
                                                                                : "";
  if (e.contains("weights_signature") && e["weights_signature"].is_string())
    c.weights_signature = e["weights_signature"].get<std::string>();
  if (e.contains("method") && e["method"].is_object()) {
    const json& m = e["method"];
    auto num = [&](const char* k) { return m.contains(k) && m[k].is_number_integer() ? m[k].get<int64_t>() : 0; };
    c.method.n_repeated = int(num("repeated_sequences"));
    c.method.repeated_half_length = int(num("repeated_half_length"));
    c.method.n_sentences = int(num("sentences"));
    c.method.seed = uint64_t(num("seed"));
    c.method.bos = m.contains("bos") && m["bos"].is_boolean() && m["bos"].get<bool>();
    if (m.contains("sentences_file") && m["sentences_file"].is_string()) c.method.prompts_file = m["sentences_file"];
  }
  if (!e.contains("categories") || !e["categories"].is_object()) Bad(path, "lacks the \"categories\" object");
  if (!e.contains("all_scores") || !e["all_scores"].is_object()) Bad(path, "lacks the \"all_scores\" object");
  // The roles read from the weights (absent in files from before them: then computed again by LoadOrCategorize).
  if (e.contains("weight_roles")) {
    const json& w = e["weight_roles"];
    if (!w.is_object()) Bad(path, "\"weight_roles\" must be an object");
    c.has_weight_roles = true;
    c.weights_method.k = IntField(path, w, "k", "weight_roles.", 1, 1 << 20);
    c.weights_method.n_tokens = IntField(path, w, "tokens", "weight_roles.", 0, 1 << 30);
    c.weights_method.sink_prompts = IntField(path, w, "sink_random_prompts", "weight_roles.", 0, 1 << 20);
    if (w.contains("token_set") && w["token_set"].is_string()) c.weights_method.token_set = w["token_set"];
    if (w.contains("ordinal_sets") && w["ordinal_sets"].is_array())
      for (const auto& o : w["ordinal_sets"])
        if (o.is_string()) c.weights_method.ordinal_sets.push_back(o.get<std::string>());
    if (w.contains("unavailable")) {
      if (!w["unavailable"].is_object()) Bad(path, "weight_roles.unavailable must be an object {role: reason}");
      for (auto it = w["unavailable"].begin(); it != w["unavailable"].end(); ++it) {
        if (!it.value().is_string()) Bad(path, "weight_roles.unavailable." + it.key() + " must be a string");
        c.unavailable.emplace_back(it.key(), it.value().get<std::string>());
      }
    }
    if (!w.contains("sink_random") || !w["sink_random"].is_array())
      Bad(path, "weight_roles lacks the \"sink_random\" scores");
    const json& sr = w["sink_random"];
    if (!sr.empty()) {
      if (int(sr.size()) != c.n_layers)
        Bad(path, "weight_roles.sink_random must be " + std::to_string(c.n_layers) + " rows (layers)");
      for (int l = 0; l < c.n_layers; ++l) {
        if (!sr[l].is_array() || int(sr[l].size()) != c.n_heads)
          Bad(path, "weight_roles.sink_random[" + std::to_string(l) + "] must hold " + std::to_string(c.n_heads) +
                        " scores (heads)");
        std::vector<double> v;
        for (int h = 0; h < c.n_heads; ++h)
          v.push_back(ScoreField(path, sr[l][h], "weight_roles.sink_random[" + std::to_string(l) + "][" +
                                                     std::to_string(h) + "]"));
        c.sink_random.push_back(std::move(v));
      }
    }
  }
  for (const auto& def : HeadCategoryDefs()) {
    const std::string where = "categories." + def.key;
    if (def.output_role && (!c.has_weight_roles || !c.Unavailable(def.key).empty())) {
      if (e["categories"].contains(def.key) && c.has_weight_roles)
        Bad(path, where + " is present but weight_roles.unavailable says it could not be computed");
      continue;
    }
    if (!e["categories"].contains(def.key))
      Bad(path, "lacks the category \"" + def.key + "\"" +
                    (def.output_role ? " (nor says in weight_roles.unavailable why it could not be computed)" : ""));
    const json& cat = e["categories"][def.key];
    if (!cat.is_object() || !cat.contains("top_heads") || !cat["top_heads"].is_array())
      Bad(path, where + " lacks the \"top_heads\" list");
    CategoryResult r;
    r.key = def.key;
    r.threshold = cat.contains("threshold") ? ScoreField(path, cat["threshold"], where + ".threshold") : def.threshold;
    for (size_t i = 0; i < cat["top_heads"].size(); ++i) {
      const json& t = cat["top_heads"][i];
      const std::string tw = where + ".top_heads[" + std::to_string(i) + "]: ";
      if (!t.is_object()) Bad(path, tw + "expected {\"layer\", \"head\", \"score\"}");
      TopHead th;
      th.layer = IntField(path, t, "layer", tw, 0, c.n_layers - 1);
      th.head = IntField(path, t, "head", tw, 0, c.n_heads - 1);
      if (!t.contains("score")) Bad(path, tw + "lacks \"score\"");
      th.score = ScoreField(path, t["score"], tw + "score");
      r.top_heads.push_back(th);
    }
    const json* all = e["all_scores"].contains(def.key) ? &e["all_scores"][def.key] : nullptr;
    if (!all) Bad(path, "all_scores lacks \"" + def.key + "\"");
    if (!all->is_array() || int(all->size()) != c.n_layers)
      Bad(path, "all_scores." + def.key + " must be " + std::to_string(c.n_layers) + " rows (layers)");
    for (int l = 0; l < c.n_layers; ++l) {
      const json& row = (*all)[l];
      if (!row.is_array() || int(row.size()) != c.n_heads)
        Bad(path, "all_scores." + def.key + "[" + std::to_string(l) + "] must hold " + std::to_string(c.n_heads) +
                      " scores (heads)");
      std::vector<double> v;
      for (int h = 0; h < c.n_heads; ++h)
        v.push_back(ScoreField(path, row[h], "all_scores." + def.key + "[" + std::to_string(l) + "][" +
                                                 std::to_string(h) + "]"));
      r.all_scores.push_back(std::move(v));
    }
    c.categories.push_back(std::move(r));
  }
  return c;
}

}  // namespace hs::lm
