// Ablation of the modular-addition model (see modadd_ablation.h).
#include "families/modadd_ablation.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "families/modadd_forward.h"
#include "families/modadd_task.h"
#include "io/atomic_file.h"
#include "io/run_dir.h"
#include "jobs/cancelled.h"
#include "model/hooked_transformer.h"
#include "model/tensor_io.h"
#include "library/progress_measures.h"

namespace hs::families {
namespace {

std::string AblJoin(const std::vector<int>& v, const char* sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + std::to_string(v[i]);
  return s;
}

std::vector<int> AblSortedUnique(std::vector<int> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

void AblCheckRange(const std::vector<int>& v, int lo, int hi, const char* what, const char* plural) {
  for (int i : v)
    if (i < lo || i > hi)
      throw std::invalid_argument(std::string(what) + " " + std::to_string(i) + " is out of range: this model has " +
                                  plural + " " + std::to_string(lo) + "-" + std::to_string(hi));
}

// Per-row cross-entropy (float64 log-softmax) and correctness, averaged over
// the train and test pairs.
ModAddScores AblScore(const torch::Tensor& logits, const torch::Tensor& labels, const std::vector<int>& train,
                   const std::vector<int>& test) {
  const torch::Tensor logp = torch::log_softmax(logits.to(torch::kFloat64), -1);
  const torch::Tensor loss = (-logp.gather(1, labels.unsqueeze(1))).squeeze(1).contiguous();  // [p*p]
  const torch::Tensor right = (logits.argmax(1) == labels).to(torch::kFloat64).contiguous();  // [p*p]
  const double* l = loss.data_ptr<double>();
  const double* r = right.data_ptr<double>();
  auto mean = [](const double* x, const std::vector<int>& idx) {
    if (idx.empty()) return double(NAN);
    double s = 0;
    for (int i : idx) s += x[i];
    return s / double(idx.size());
  };
  ModAddScores s;
  s.train_loss = mean(l, train);
  s.test_loss = mean(l, test);
  s.train_acc = mean(r, train);
  s.test_acc = mean(r, test);
  return s;
}

torch::Tensor AblLabels(int p) {
  const torch::Tensor a = torch::arange(p, torch::kLong).repeat_interleave(p);
  const torch::Tensor b = torch::arange(p, torch::kLong).repeat({p});
  return (a + b) % p;  // [p*p], row a*p + b
}

// The last position's forward with `a` applied; also the clean logits when
// `clean` is given (sharing what the intervention does not change).
// -> logits [p*p, d_vocab_out] float32
torch::Tensor AblForward(const model::HookedTransformerImpl& m_const, const RunInfo& run, const ModAddAblation& a,
                      torch::Tensor* clean) {
  CheckAblation(run, a);
  auto& m = const_cast<model::HookedTransformerImpl&>(m_const);  // block() is non-const; nothing is modified
  torch::NoGradGuard ng;
  const auto& cfg = run.model;
  const int64_t p = run.p, N = p * p, H = cfg.n_heads, E = cfg.d_head, D = cfg.d_model, L = cfg.n_ctx - 1;
  const auto& attn = *m.block(0).attn;
  const auto& mlp = *m.block(0).mlp;
  const torch::Tensor& W_E = m.embed->W_E;
  const torch::Tensor& W_pos = m.pos_embed->W_pos;

  // The last query's attention over the positions (the fast path's patterns).
  const torch::Tensor pattern = ModAddAttentionPatterns(m, run).select(2, L);  // [N, head, key_pos]
  const torch::Tensor ab = torch::arange(p, torch::kLong);
  const torch::Tensor Wv = attn.W_V.permute({1, 0, 2}).reshape({D, H * E});
  torch::Tensor z = torch::zeros({N, H, E});  // hook_z at the last position
  torch::Tensor resid_last;                   // resid_pre at the last position [N, D]
  for (int64_t j = 0; j <= L; ++j) {
    const std::string& role = run.positions[size_t(j)];
    const bool operand = role == "a" || role == "b";
    const torch::Tensor rows = (operand ? W_E.narrow(0, 0, p) : W_E.narrow(0, p, 1)) + W_pos[j];  // [n_tok, D]
    const torch::Tensor idx = role == "a"   ? ab.repeat_interleave(p)
                              : role == "b" ? ab.repeat({p})
                                            : torch::zeros({N}, torch::kLong);
    torch::Tensor v = torch::matmul(rows, Wv).view({rows.size(0), H, E});  // [n_tok, head, d_head]
    if (attn.b_V.defined()) v = v + attn.b_V;
    z.addcmul_(pattern.select(2, j).unsqueeze(-1), v.index_select(0, idx));
    if (j == L) resid_last = rows.index_select(0, idx);
  }
  const torch::Tensor W_O = attn.W_O.reshape({H * E, D});
  auto attn_out = [&](const torch::Tensor& zz) {
    torch::Tensor o = torch::matmul(zz.reshape({N, H * E}), W_O);
    if (attn.b_O.defined()) o = o + attn.b_O;
    return o;
  };
  auto post_of = [&](const torch::Tensor& resid_mid) {
    torch::Tensor pre = torch::matmul(resid_mid, mlp.W_in);
    if (mlp.b_in.defined()) pre = pre + mlp.b_in;
    return model::ActivationFn(cfg.act_fn, pre).contiguous();  // [N, d_mlp]
  };
  const torch::Tensor W_U = m.UnembedMatrix();
  auto logits_of = [&](const torch::Tensor& resid_mid, const torch::Tensor& post) {
    torch::Tensor out = torch::matmul(post, mlp.W_out);
    if (mlp.b_out.defined()) out = out + mlp.b_out;
    torch::Tensor lg = torch::matmul(resid_mid + out, W_U);
    if (m.unembed && m.unembed->b_U.defined()) lg = lg + m.unembed->b_U;
    return lg.contiguous();  // [N, d_vocab_out]
  };

  const torch::Tensor mid_clean = resid_last + attn_out(z);
  torch::Tensor post_clean;
  if (clean || a.heads.empty()) post_clean = post_of(mid_clean);
  if (clean) *clean = logits_of(mid_clean, post_clean);
  if (a.empty() && clean) return *clean;

  torch::Tensor mid = mid_clean, post;
  if (!a.heads.empty()) {
    torch::Tensor z_abl = z.clone();
    for (int h : a.heads) z_abl.select(1, h).zero_();
    mid = resid_last + attn_out(z_abl);
    post = post_of(mid);
  } else {
    post = post_clean.clone();
  }
  for (int n : a.neurons) post.select(1, n).zero_();
  if (!a.freqs.empty()) RemoveSumFrequencies(post.data_ptr<float>(), int(p), int(post.size(1)), a.freqs);
  return logits_of(mid, post);
}

}  // namespace

std::string ModAddAblation::Describe() const {
  const ModAddAblation n = Normalised();
  std::string s;
  auto add = [&](const char* one, const char* many, const std::vector<int>& v) {
    if (v.empty()) return;
    s += (s.empty() ? "" : "; ") + std::string(v.size() == 1 ? one : many) + " " + AblJoin(v, ", ");
  };
  add("head", "heads", n.heads);
  add("neuron", "neurons", n.neurons);
  add("frequency", "frequencies", n.freqs);
  return s.empty() ? "nothing" : s;
}

ModAddAblation ModAddAblation::Normalised() const {
  return {AblSortedUnique(heads), AblSortedUnique(neurons), AblSortedUnique(freqs)};
}

std::string ModAddAblation::Key() const {
  const ModAddAblation n = Normalised();
  return "h" + AblJoin(n.heads, ",") + "|n" + AblJoin(n.neurons, ",") + "|f" + AblJoin(n.freqs, ",");
}

bool ModAddAblationApplies(const RunInfo& run, std::string* why) {
  const auto& c = run.model;
  std::string w;
  if (c.n_layers != 1) w = "it has " + std::to_string(c.n_layers) + " layers (ablation covers the 1-layer model)";
  else if (c.HasNorm() || c.final_norm || c.post_norms) w = "it has normalisation layers";
  else if (c.positional_embedding != "standard") w = "its positions are not a learned embedding";
  else if (c.gated_mlp || c.parallel_attn_mlp || c.qk_norm || c.attn_qkv_bias || c.NumKVHeads() != c.n_heads)
    w = "its attention or MLP is not the modular-addition model's";
  else if (c.attn_softcap > 0 || c.final_softcap > 0 || c.embed_scale > 0 || c.attn_scale > 0)
    w = "it scales or caps attention or logits";
  else if (run.p < 3 || c.d_vocab_out < run.p || c.d_vocab < run.p + 1)
    w = "its vocabulary does not hold p = " + std::to_string(run.p);
  else if (int(run.positions.size()) != c.n_ctx || run.a_pos < 0 || run.b_pos < 0)
    w = "its positions do not hold a and b";
  if (why) *why = w;
  return w.empty();
}

void CheckAblation(const RunInfo& run, const ModAddAblation& a) {
  std::string why;
  if (!ModAddAblationApplies(run, &why)) throw std::invalid_argument("cannot ablate " + run.dir.string() + ": " + why);
  AblCheckRange(a.heads, 0, run.model.n_heads - 1, "head", "heads");
  AblCheckRange(a.neurons, 0, run.model.d_mlp - 1, "neuron", "neurons");
  AblCheckRange(a.freqs, 1, run.n_freq(), "frequency", "frequencies");
}

void RemoveSumFrequencies(float* values, int p, int n_cols, const std::vector<int>& freqs) {
  for (int k : freqs)
    if (p < 3 || k < 1 || k > (p - 1) / 2)
      throw std::invalid_argument("frequency " + std::to_string(k) + " is outside 1.." + std::to_string((p - 1) / 2));
  // The directions are orthonormal over the pairs: removing their summed part
  // removes each one.
  const std::vector<double> part = library::SumFrequencyPart(values, p, n_cols, AblSortedUnique(freqs));
  for (size_t i = 0; i < part.size(); ++i) values[i] = float(double(values[i]) - part[i]);
}

void ModAddSplit(const RunInfo& run, std::vector<int>* train, std::vector<int>* test) {
  const ModAddData data = MakeModAddData(run.p, run.config.value("train_frac", 0.3), run.config.value("data_seed", 598));
  auto to_vec = [](const torch::Tensor& t, std::vector<int>* out) {
    const torch::Tensor c = t.to(torch::kInt64).contiguous();
    out->assign(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
  };
  to_vec(data.train_idx, train);
  to_vec(data.test_idx, test);
}

std::vector<float> ModAddAblatedLogits(const model::HookedTransformerImpl& model, const RunInfo& run,
                                       const ModAddAblation& a) {
  const torch::Tensor lg = AblForward(model, run, a.Normalised(), nullptr);
  return std::vector<float>(lg.data_ptr<float>(), lg.data_ptr<float>() + lg.numel());
}

ModAddAblationResult AblateModel(const model::HookedTransformerImpl& model, const RunInfo& run,
                                 const ModAddAblation& a) {
  std::vector<int> train, test;
  ModAddSplit(run, &train, &test);
  torch::Tensor clean;
  const torch::Tensor ablated = AblForward(model, run, a.Normalised(), &clean);
  const torch::Tensor labels = AblLabels(run.p);
  ModAddAblationResult r;
  r.clean = AblScore(clean, labels, train, test);
  r.ablated = a.empty() ? r.clean : AblScore(ablated, labels, train, test);
  return r;
}

ModAddAblationResult AblateCheckpoint(const RunInfo& run, int epoch, const ModAddAblation& a) {
  const ModAddAblationCurve c = AblateOverTraining(run, a, {epoch});
  return ModAddAblationResult{epoch, c.clean.at(0), c.ablated.at(0)};
}

ModAddAblationCurve AblateOverTraining(const RunInfo& run, const ModAddAblation& a_in, const std::vector<int>& epochs,
                                       const AblationProgress& report, bool with_clean) {
  const ModAddAblation a = a_in.Normalised();
  CheckAblation(run, a);
  at::globalContext().setFlushDenormal(true);  // late checkpoints hold subnormal weights (weight decay)
  torch::NoGradGuard ng;
  std::vector<int> train, test;
  ModAddSplit(run, &train, &test);
  const torch::Tensor labels = AblLabels(run.p);
  model::HookedTransformer m(run.model);
  m->eval();
  ModAddAblationCurve c;
  c.epochs = epochs;
  std::sort(c.epochs.begin(), c.epochs.end());
  const int total = int(c.epochs.size());
  for (int i = 0; i < total; ++i) {
    model::LoadCheckpoint(io::RunPaths{run.dir}.Checkpoint(c.epochs[size_t(i)]), *m);  // errors name the file
    torch::Tensor clean;
    const torch::Tensor ablated = AblForward(*m, run, a, with_clean || a.empty() ? &clean : nullptr);
    const ModAddScores abl = AblScore(ablated, labels, train, test);
    c.clean.push_back(with_clean ? (a.empty() ? abl : AblScore(clean, labels, train, test)) : ModAddScores{});
    c.ablated.push_back(abl);
    if (report && !report(i + 1, total, c.epochs[size_t(i)])) throw jobs::Cancelled();
  }
  return c;
}

}  // namespace hs::families
