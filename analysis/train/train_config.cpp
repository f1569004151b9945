// TrainConfig: validation, variant names, JSON, checkpoint schedule.
#include "train/train_config.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace hs::train {

bool IsPrime(int n) {
  if (n < 2) return false;
  for (int d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

CheckpointSchedule CheckpointSchedule::Parse(const std::string& spec) {
  CheckpointSchedule s;
  std::stringstream in(spec);
  std::string part;
  while (std::getline(in, part, ',')) {
    Segment seg;
    char tail = 0;
    if (std::sscanf(part.c_str(), "%d:%d%c", &seg.from, &seg.every, &tail) != 2 || seg.from < 0 || seg.every < 1)
      throw std::invalid_argument("checkpoint schedule part '" + part +
                                  "' is not FROM:EVERY with FROM >= 0 and EVERY >= 1 (example: 0:50,1000:100)");
    if (!s.segments.empty() && seg.from <= s.segments.back().from)
      throw std::invalid_argument("checkpoint schedule segments must start at increasing epochs: '" + spec + "'");
    s.segments.push_back(seg);
  }
  if (s.segments.empty()) throw std::invalid_argument("empty checkpoint schedule");
  return s;
}

bool CheckpointSchedule::IsCheckpoint(int epoch, int last_epoch) const {
  if (epoch == 0 || epoch == last_epoch) return true;
  const Segment* active = nullptr;
  for (const auto& seg : segments)
    if (seg.from <= epoch) active = &seg;
  return active && (epoch - active->from) % active->every == 0;
}

std::vector<int> CheckpointSchedule::Epochs(int last_epoch) const {
  std::vector<int> out;
  for (int e = 0; e <= last_epoch; ++e)
    if (IsCheckpoint(e, last_epoch)) out.push_back(e);
  return out;
}

std::string CheckpointSchedule::ToString() const {
  std::string s;
  for (const auto& seg : segments) s += (s.empty() ? "" : ",") + std::to_string(seg.from) + ":" + std::to_string(seg.every);
  return s;
}

static std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string TrainConfig::VariantName() const {
  const TrainConfig d;
  std::string name = "p" + std::to_string(p) + "_seed" + std::to_string(model_seed);
  if (data_seed != d.data_seed) name += "_dseed" + std::to_string(data_seed);
  if (train_frac != d.train_frac) name += "_frac" + Num(train_frac);
  if (weight_decay != d.weight_decay) name += "_wd" + Num(weight_decay);
  if (lr != d.lr) name += "_lr" + Num(lr);
  if (d_model != d.d_model || n_heads != d.n_heads || d_head != d.d_head || d_mlp != d.d_mlp)
    name += "_d" + std::to_string(d_model) + "h" + std::to_string(n_heads) + "x" + std::to_string(d_head) + "m" +
            std::to_string(d_mlp);
  if (grokfast) name += "_grokfast";
  return name;
}

void TrainConfig::Validate() const {
  auto bad = [](const std::string& s) { throw std::invalid_argument(s); };
  if (p < 3 || !IsPrime(p)) bad("--p " + std::to_string(p) + " is not a prime >= 3; try --p 113 (or 5, 7, 11, ... for quick tests)");
  if (!(train_frac > 0 && train_frac < 1)) bad("--train-frac " + Num(train_frac) + " must be strictly between 0 and 1, e.g. 0.3");
  if (int(train_frac * p * p) < 1) bad("--train-frac " + Num(train_frac) + " leaves no training examples for p=" + std::to_string(p));
  if (!(lr > 0)) bad("--lr must be positive, e.g. 1e-3");
  if (!(weight_decay >= 0)) bad("--weight-decay must be >= 0, e.g. 1.0");
  if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1)) bad("Adam betas must be in [0, 1)");
  if (epochs < 0) bad("--epochs must be >= 0");
  if (eval_every < 1) bad("--eval-every must be >= 1");
  if (!(grokfast_alpha >= 0 && grokfast_alpha < 1)) bad("--grokfast-alpha must be in [0, 1), e.g. 0.98");
  if (d_model < 1 || n_heads < 1 || d_head < 1 || d_mlp < 1) bad("model sizes must be positive");
  CheckpointSchedule::Parse(checkpoint_schedule);
}

model::TransformerConfig TrainConfig::Model() const {
  model::TransformerConfig m = model::ModAddConfig(p);
  m.d_model = d_model;
  m.n_heads = n_heads;
  m.d_head = d_head;
  m.d_mlp = d_mlp;
  return m;
}

bool TrainConfig::SameTraining(const TrainConfig& o, std::string* why) const {
  nlohmann::json a = *this, b = o;
  for (const char* k : {"epochs", "checkpoint_schedule", "eval_every"}) {
    a.erase(k);
    b.erase(k);
  }
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (!b.contains(it.key()) || b[it.key()] != it.value()) {
      if (why) *why = it.key() + " is " + it.value().dump() + " here but " + (b.contains(it.key()) ? b[it.key()].dump() : "absent") + " in the run folder";
      return false;
    }
  }
  return true;
}

void to_json(nlohmann::json& j, const TrainConfig& c) {
  j = {{"family", c.family},
       {"variant", c.VariantName()},
       {"p", c.p},
       {"d_model", c.d_model},
       {"n_heads", c.n_heads},
       {"d_head", c.d_head},
       {"d_mlp", c.d_mlp},
       {"model_seed", c.model_seed},
       {"data_seed", c.data_seed},
       {"train_frac", c.train_frac},
       {"lr", c.lr},
       {"weight_decay", c.weight_decay},
       {"betas", {c.beta1, c.beta2}},
       {"adam_eps", c.adam_eps},
       {"optimizer", "AdamW (full batch)"},
       {"loss", "cross-entropy at '=' in float64"},
       {"epochs", c.epochs},
       {"grokfast", c.grokfast},
       {"grokfast_alpha", c.grokfast_alpha},
       {"grokfast_lambda", c.grokfast_lambda},
       {"checkpoint_schedule", c.checkpoint_schedule},
       {"eval_every", c.eval_every},
       {"model", c.Model()}};
}

void from_json(const nlohmann::json& j, TrainConfig& c) {
  const TrainConfig d;
  c.family = j.value("family", d.family);
  c.p = j.at("p").get<int>();
  c.d_model = j.value("d_model", d.d_model);
  c.n_heads = j.value("n_heads", d.n_heads);
  c.d_head = j.value("d_head", d.d_head);
  c.d_mlp = j.value("d_mlp", d.d_mlp);
  c.model_seed = j.value("model_seed", d.model_seed);
  c.data_seed = j.value("data_seed", d.data_seed);
  c.train_frac = j.value("train_frac", d.train_frac);
  c.lr = j.value("lr", d.lr);
  c.weight_decay = j.value("weight_decay", d.weight_decay);
  if (j.contains("betas")) {
    c.beta1 = j["betas"].at(0).get<double>();
    c.beta2 = j["betas"].at(1).get<double>();
  }
  c.adam_eps = j.value("adam_eps", d.adam_eps);
  c.epochs = j.value("epochs", d.epochs);
  c.grokfast = j.value("grokfast", d.grokfast);
  c.grokfast_alpha = j.value("grokfast_alpha", d.grokfast_alpha);
  c.grokfast_lambda = j.value("grokfast_lambda", d.grokfast_lambda);
  c.checkpoint_schedule = j.value("checkpoint_schedule", d.checkpoint_schedule);
  c.eval_every = j.value("eval_every", d.eval_every);
}

}  // namespace hs::train
