// Demo-LM trainer (see lm_trainer.h). AdamW is written out, as in the
// grokking trainer, so that its state round-trips through
// train_state.safetensors and a killed run resumes exactly.
#include "train/lm_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "io/atomic_file.h"
#include "io/corpus.h"
#include "io/json_text.h"
#include "io/safetensors.h"
#include "model/hooked_transformer.h"
#include "model/tensor_io.h"

namespace hs::train {
namespace fs = std::filesystem;
namespace {

constexpr int kBos = 256;
constexpr int kVocab = 257;
constexpr int kHeldOutRepeat = 40;  // length of r in the [BOS, r, r] check
constexpr int kHeldOutSeqs = 32;

model::TransformerConfig ModelConfig(const LmTrainConfig& c) {
  model::TransformerConfig m;
  m.n_layers = c.n_layers;
  m.d_model = c.d_model;
  m.n_heads = c.n_heads;
  m.d_head = c.d_model / c.n_heads;
  m.d_mlp = c.d_mlp;
  m.d_vocab = kVocab;
  m.d_vocab_out = kVocab;
  m.n_ctx = c.n_ctx;
  m.act_fn = "gelu_new";
  m.init_range = 0.02;
  m.normalization = "LN";
  m.eps = 1e-5;
  m.attn_qkv_bias = m.attn_out_bias = m.mlp_bias = true;
  m.final_norm = true;
  m.tied_embeddings = true;
  m.original_architecture = "gpt2";
  return m;
}

void Validate(const LmTrainConfig& c) {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument(what);
  };
  need(c.n_layers > 0 && c.d_model > 0 && c.n_heads > 0 && c.d_mlp > 0, "model sizes must be positive");
  need(c.d_model % c.n_heads == 0, "d_model must be a multiple of n_heads");
  need(c.seq_len >= 2 * kHeldOutRepeat + 1 && c.seq_len <= c.n_ctx,
       "seq_len must be in [" + std::to_string(2 * kHeldOutRepeat + 1) + ", n_ctx]");
  need(c.batch > 0 && c.steps > 0, "batch and steps must be positive");
  need(c.repeat_min >= 2 && c.repeat_max >= c.repeat_min, "repeat lengths must satisfy 2 <= min <= max");
  need(2 * c.repeat_max + 2 <= c.seq_len, "seq_len must be at least " + std::to_string(2 * c.repeat_max + 2) +
                                              " (two copies of the longest repeated segment, " +
                                              std::to_string(c.repeat_max) + " bytes, plus BOS)");
  need(c.repeat_frac >= 0 && c.repeat_frac <= 1, "repeat_frac must be in [0, 1]");
  need(c.lr > 0 && c.weight_decay >= 0 && c.grad_clip > 0, "lr and grad_clip must be positive");
  need(c.repeat_weight > 0, "repeat_weight must be positive");
  need(c.threads >= 1, "threads must be at least 1");
}

nlohmann::json ConfigJson(const LmTrainConfig& c) {
  return {{"n_layers", c.n_layers},
          {"d_model", c.d_model},
          {"n_heads", c.n_heads},
          {"d_mlp", c.d_mlp},
          {"n_ctx", c.n_ctx},
          {"seq_len", c.seq_len},
          {"batch", c.batch},
          {"steps", c.steps},
          {"lr", c.lr},
          {"warmup", c.warmup},
          {"weight_decay", c.weight_decay},
          {"grad_clip", c.grad_clip},
          {"repeat_frac", c.repeat_frac},
          {"repeat_weight", c.repeat_weight},
          {"repeat_min", c.repeat_min},
          {"repeat_max", c.repeat_max},
          {"seed", c.seed},
          {"corpus", c.corpus},
          {"checkpoint_steps", c.checkpoint_steps}};
}

// Hugging Face GPT2LMHeadModel config for the model. Only the first
// `n_positions` positions (the training sequence length) are exported: the
// rows of W_pos beyond them never received a gradient.
nlohmann::json HfConfig(const model::TransformerConfig& m, int n_positions) {
  return {{"architectures", {"GPT2LMHeadModel"}},
          {"model_type", "gpt2"},
          {"vocab_size", m.d_vocab},
          {"n_positions", n_positions},
          {"n_ctx", n_positions},
          {"n_embd", m.d_model},
          {"n_layer", m.n_layers},
          {"n_head", m.n_heads},
          {"n_inner", m.d_mlp},
          {"activation_function", "gelu_new"},
          {"layer_norm_epsilon", m.eps},
          {"initializer_range", m.init_range},
          {"resid_pdrop", 0.0},
          {"embd_pdrop", 0.0},
          {"attn_pdrop", 0.0},
          {"scale_attn_weights", true},
          {"tie_word_embeddings", true},
          {"bos_token_id", kBos},
          {"eos_token_id", kBos},
          {"torch_dtype", "float32"}};
}

// The model's weights under GPT-2's Hugging Face names and layouts (Conv1D
// weights [in, out]; c_attn packs q | k | v, each head-major).
io::SafetensorsFile ToGpt2(const model::HookedTransformerImpl& model, int64_t n_positions, torch::ScalarType dtype) {
  const auto& c = model.cfg();
  const int64_t D = c.d_model, HE = c.n_heads * c.d_head;
  io::SafetensorsFile f;
  f.metadata["format"] = "pt";  // transformers refuses safetensors files without it
  auto put = [&](const std::string& name, const torch::Tensor& t) {
    f.tensors["transformer." + name] = model::ToArray(t.detach().contiguous().to(dtype));
  };
  put("wte.weight", model.embed->W_E);
  put("wpe.weight", model.pos_embed->W_pos.narrow(0, 0, n_positions));
  auto cols = [&](const torch::Tensor& W) { return W.permute({1, 0, 2}).reshape({D, HE}); };  // [H, D, E] -> [D, H*E]
  for (int l = 0; l < c.n_layers; ++l) {
    auto& b = *const_cast<model::HookedTransformerImpl&>(model).blocks[l]->as<model::TransformerBlockImpl>();
    const std::string h = "h." + std::to_string(l) + ".";
    put(h + "ln_1.weight", b.ln1->w);
    put(h + "ln_1.bias", b.ln1->b);
    put(h + "attn.c_attn.weight", torch::cat({cols(b.attn->W_Q), cols(b.attn->W_K), cols(b.attn->W_V)}, 1));
    put(h + "attn.c_attn.bias",
        torch::cat({b.attn->b_Q.reshape(-1), b.attn->b_K.reshape(-1), b.attn->b_V.reshape(-1)}));
    put(h + "attn.c_proj.weight", b.attn->W_O.reshape({HE, D}));
    put(h + "attn.c_proj.bias", b.attn->b_O);
    put(h + "ln_2.weight", b.ln2->w);
    put(h + "ln_2.bias", b.ln2->b);
    put(h + "mlp.c_fc.weight", b.mlp->W_in);
    put(h + "mlp.c_fc.bias", b.mlp->b_in);
    put(h + "mlp.c_proj.weight", b.mlp->W_out);
    put(h + "mlp.c_proj.bias", b.mlp->b_out);
  }
  put("ln_f.weight", model.ln_final->w);
  put("ln_f.bias", model.ln_final->b);
  return f;
}

void WriteJson(const fs::path& path, const nlohmann::json& j) { io::WriteFileAtomic(path, j.dump(2) + "\n"); }

// A complete Hugging Face folder: config, weights, tokenizer description.
void WriteModelFolder(const fs::path& dir, const model::HookedTransformerImpl& model, int n_positions,
                      torch::ScalarType dtype) {
  fs::create_directories(dir);
  nlohmann::json cfg = HfConfig(model.cfg(), n_positions);
  cfg["torch_dtype"] = dtype == torch::kFloat16 ? "float16" : "float32";
  WriteJson(dir / "config.json", cfg);
  io::WriteSafetensors(dir / "model.safetensors", ToGpt2(model, n_positions, dtype));
  WriteJson(dir / "headscope_tokenizer.json", {{"type", "bytes"}, {"bos_id", kBos}});
}

torch::Tensor Bytes(const std::string& s, size_t from, size_t n) {
  torch::Tensor t = torch::empty({int64_t(n)}, torch::kLong);
  auto* p = t.data_ptr<int64_t>();
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(s[from + i]);
  return t;
}

struct Batch {
  torch::Tensor tokens;   // [batch, seq_len]
  torch::Tensor weights;  // [batch, seq_len - 1]: loss weight of each target tokens[:, 1:]
};

// One training batch; a pure function of (seed, step) so that a resumed run
// sees the same data.
Batch MakeBatch(const LmTrainConfig& c, const std::string& text, uint64_t step) {
  std::mt19937_64 rng(c.seed * 1000003ULL + step);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };  // [lo, hi]
  auto coin = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  const int T = c.seq_len;
  auto window = [&](int n) {  // n bytes of corpus text from a random place
    const size_t from = std::uniform_int_distribution<size_t>(0, text.size() - size_t(n))(rng);
    return std::vector<int64_t>(text.begin() + from, text.begin() + from + n);
  };
  torch::Tensor tokens = torch::empty({c.batch, T}, torch::kLong);
  torch::Tensor weights = torch::ones({c.batch, T - 1});
  auto tok = tokens.accessor<int64_t, 2>();
  auto w = weights.accessor<float, 2>();
  for (int b = 0; b < c.batch; ++b) {
    std::vector<int64_t> seq{kBos};
    int second_from = -1, second_to = -1;  // token positions of the second copy
    if (coin(c.repeat_frac)) {
      const int L = uniform(c.repeat_min, c.repeat_max);
      std::vector<int64_t> seg;
      if (coin(0.5)) {
        for (int i = 0; i < L; ++i) seg.push_back(uniform(0, 255));
      } else {
        seg = window(L);
      }
      const int room = T - 1 - 2 * L;
      const int prefix = uniform(0, std::min(40, room));
      const int gap = uniform(0, std::min(30, room - prefix));
      for (auto x : window(prefix)) seq.push_back(x);
      seq.insert(seq.end(), seg.begin(), seg.end());
      for (auto x : window(gap)) seq.push_back(x);
      second_from = int(seq.size());
      seq.insert(seq.end(), seg.begin(), seg.end());
      second_to = int(seq.size());
    }
    const int fill = T - int(seq.size());
    for (auto x : window(fill)) seq.push_back(x);
    for (int t = 0; t < T; ++t) tok[b][t] = seq[t];
    // Target t+1 predicted at position t: weight the second copy after its
    // first token (which nothing can predict).
    for (int t = second_from + 1; t >= 1 && t < second_to; ++t) w[b][t - 1] = float(c.repeat_weight);
  }
  return {tokens, weights};
}

// Held-out [BOS, r, r] sequences of random bytes (a seed training never uses).
torch::Tensor HeldOutRepeats() {
  std::mt19937_64 rng(0x5eed'0f'4e1dULL);
  std::uniform_int_distribution<int> byte(0, 255);
  torch::Tensor t = torch::empty({kHeldOutSeqs, 1 + 2 * kHeldOutRepeat}, torch::kLong);
  auto a = t.accessor<int64_t, 2>();
  for (int b = 0; b < kHeldOutSeqs; ++b) {
    a[b][0] = kBos;
    for (int i = 0; i < kHeldOutRepeat; ++i) a[b][1 + i] = a[b][1 + kHeldOutRepeat + i] = byte(rng);
  }
  return t;
}

CircuitScores Score(model::HookedTransformerImpl& model, const std::string& heldout_text) {
  torch::NoGradGuard no_grad;
  CircuitScores s;
  const int L = kHeldOutRepeat;
  const torch::Tensor tokens = HeldOutRepeats();
  model::ActivationCache cache;
  const torch::Tensor logits = model.forward_with_cache(tokens, cache);  // [B, 2L+1, V]
  const torch::Tensor logp = torch::log_softmax(logits, -1);
  // Loss predicting r[1:] in the first copy (positions 1..L-1 predict 2..L)
  // and in the second copy (positions L+1..2L-1 predict L+2..2L).
  auto copy_loss = [&](int from, int to) {
    using torch::indexing::Slice;
    const torch::Tensor lp = logp.index({Slice(), Slice(from, to)});                // [B, n, V]
    const torch::Tensor target = tokens.index({Slice(), Slice(from + 1, to + 1)});  // [B, n]
    return -lp.gather(-1, target.unsqueeze(-1)).mean().item<double>();
  };
  s.loss_first_copy = copy_loss(1, L);
  s.loss_second_copy = copy_loss(L + 1, 2 * L);
  const auto& c = model.cfg();
  s.induction_all.assign(c.n_layers, std::vector<double>(c.n_heads, 0.0));
  s.prev_all = s.induction_all;
  for (int l = 0; l < c.n_layers; ++l) {
    const torch::Tensor pat = cache("pattern", l);  // [B, H, Q, K]
    for (int h = 0; h < c.n_heads; ++h) {
      const torch::Tensor a = pat.select(1, h).mean(0);  // [Q, K]
      auto acc = a.accessor<float, 2>();
      double ind = 0, prev = 0;
      for (int i = L + 1; i <= 2 * L; ++i) ind += acc[i][i - L + 1];
      for (int i = 1; i <= 2 * L; ++i) prev += acc[i][i - 1];
      s.induction_all[l][h] = ind / L;
      s.prev_all[l][h] = prev / (2 * L);
      if (s.induction_all[l][h] > s.induction_score) {
        s.induction_score = s.induction_all[l][h];
        s.induction_layer = l;
        s.induction_head = h;
      }
      if (s.prev_all[l][h] > s.prev_score) {
        s.prev_score = s.prev_all[l][h];
        s.prev_layer = l;
        s.prev_head = h;
      }
    }
  }
  // Held-out text: consecutive windows of the last part of the corpus.
  const int64_t T = std::min<int64_t>(c.n_ctx, 128);  // within the trained positions (seq_len >= 81)
  const int64_t n = std::min<int64_t>(16, int64_t(heldout_text.size()) / (T - 1));
  if (n > 0) {
    torch::Tensor t = torch::full({n, T}, kBos, torch::kLong);
    for (int64_t i = 0; i < n; ++i)
      t[i].narrow(0, 1, T - 1).copy_(Bytes(heldout_text, size_t(i * (T - 1)), size_t(T - 1)));
    const torch::Tensor lg = model.forward(t);
    s.text_loss = torch::nn::functional::cross_entropy(lg.narrow(1, 0, T - 1).reshape({-1, kVocab}),
                                                       t.narrow(1, 1, T - 1).reshape(-1))
                      .item<double>();
  }
  return s;
}

nlohmann::json ScoresJson(const CircuitScores& s) {
  return {{"step", s.step},
          {"train_loss", s.train_loss},
          {"text_loss", s.text_loss},
          {"loss_first_copy", s.loss_first_copy},
          {"loss_second_copy", s.loss_second_copy},
          {"induction", {{"layer", s.induction_layer}, {"head", s.induction_head}, {"score", s.induction_score}}},
          {"previous_token", {{"layer", s.prev_layer}, {"head", s.prev_head}, {"score", s.prev_score}}},
          {"induction_all", s.induction_all},
          {"previous_token_all", s.prev_all}};
}

std::string StepName(int step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step_%05d", step);
  return buf;
}

}  // namespace

std::string ReadCorpus(const std::string& path) {
  const std::vector<fs::path> files = io::CorpusFiles(path);
  std::error_code ec;
  std::string text;
  if (!fs::is_directory(path, ec)) text = io::ReadFile(path);  // one file, as it is
  for (const auto& f : fs::is_directory(path, ec) ? files : std::vector<fs::path>{}) text += io::ReadFile(f) + "\n";
  if (text.size() < 4096)
    throw io::IoError(path + ": corpus too small (" + std::to_string(text.size()) + " bytes; need 4096)");
  return text;
}

CircuitScores TrainDemoLM(const LmTrainConfig& cfg, const fs::path& out_dir, const LmTrainHooks& hooks) {
  Validate(cfg);
  const std::string all = ReadCorpus(cfg.corpus);
  // The last 10% is held out for the text loss.
  const size_t split = all.size() * 9 / 10;
  const std::string text = all.substr(0, split), heldout = all.substr(split);
  if (text.size() <= size_t(cfg.seq_len))
    throw io::IoError(cfg.corpus + ": corpus too small for --seq-len " + std::to_string(cfg.seq_len) + " (" +
                      std::to_string(text.size()) + " training bytes after holding out 10%)");
  if (fs::exists(out_dir / "training.json") && !fs::exists(out_dir / "train_state.safetensors"))
    throw io::IoError(out_dir.string() +
                      ": holds a finished demo LM (training.json); choose another --out or "
                      "remove the folder to train again");
  std::error_code ec;
  fs::create_directories(out_dir / "checkpoints", ec);
  if (ec) throw io::IoError(out_dir.string() + ": cannot create the output folder (" + ec.message() + ")");
  torch::set_num_threads(cfg.threads);

  model::HookedTransformer model(ModelConfig(cfg));
  model->InitWeights(cfg.seed);
  std::vector<std::string> names;
  std::vector<torch::Tensor> params, exp_avg, exp_avg_sq;
  for (const auto& np : model->named_parameters()) {
    names.push_back(np.key());
    params.push_back(np.value());
    exp_avg.push_back(torch::zeros_like(np.value()));
    exp_avg_sq.push_back(torch::zeros_like(np.value()));
  }
  const fs::path state_path = out_dir / "train_state.safetensors";
  const nlohmann::json config_json = ConfigJson(cfg);
  int start = 0;
  double loss_avg = 0;  // exponential moving average of the training loss (logged; saved with the state)
  nlohmann::json history = nlohmann::json::array();
  if (fs::exists(state_path)) {
    const io::SafetensorsFile st = io::ReadSafetensors(state_path);
    auto meta = [&](const char* key) {
      auto it = st.metadata.find(key);
      if (it == st.metadata.end()) throw io::IoError(state_path.string() + ": lacks metadata '" + key + "'");
      return it->second;
    };
    nlohmann::json stored;
    try {
      stored = io::ParseJson(meta("config"), "metadata 'config'");
    } catch (const std::exception& e) {
      throw io::IoError(state_path.string() + ": malformed metadata (" + e.what() + "); move it away to start over");
    }
    if (stored != config_json)
      throw io::IoError(state_path.string() + ": was written with other settings; move it away to start over");
    try {
      start = std::stoi(meta("step"));
      history = io::ParseJson(meta("history"), "metadata 'history'");  // depth-checked: it is dumped at every save
      loss_avg = std::stod(meta("loss_avg"));
    } catch (const std::exception& e) {
      throw io::IoError(state_path.string() + ": malformed metadata (" + e.what() + "); move it away to start over");
    }
    if (start < 0 || start > cfg.steps || !history.is_array())
      throw io::IoError(state_path.string() + ": malformed metadata (step " + std::to_string(start) +
                        "); move it away to start over");
    torch::NoGradGuard no_grad;
    auto get = [&](const std::string& name, const torch::Tensor& like) {
      auto it = st.tensors.find(name);
      if (it == st.tensors.end()) throw io::IoError(state_path.string() + ": lacks tensor '" + name + "'");
      // Adam's in-place updates need float32 moments (an I64 one threw a torch error naming no file).
      if (it->second.dtype != io::DType::F32)
        throw io::IoError(state_path.string() + ": tensor '" + name + "' has dtype " + io::DTypeName(it->second.dtype) +
                          "; expected F32");
      torch::Tensor t = model::FromArray(it->second);
      if (t.sizes() != like.sizes())
        throw io::IoError(state_path.string() + ": tensor '" + name + "' has the wrong shape");
      return t;
    };
    for (size_t i = 0; i < params.size(); ++i) {
      params[i].copy_(get("model." + names[i], params[i]));
      exp_avg[i] = get("adam.exp_avg." + names[i], params[i]);
      exp_avg_sq[i] = get("adam.exp_avg_sq." + names[i], params[i]);
    }
  }
  auto save_state = [&](int step) {
    io::SafetensorsFile st;
    char avg[32];
    std::snprintf(avg, sizeof avg, "%.17g", loss_avg);
    st.metadata = {
        {"step", std::to_string(step)}, {"config", config_json.dump()}, {"history", history.dump()}, {"loss_avg", avg}};
    for (size_t i = 0; i < params.size(); ++i) {
      st.tensors["model." + names[i]] = model::ToArray(params[i]);
      st.tensors["adam.exp_avg." + names[i]] = model::ToArray(exp_avg[i]);
      st.tensors["adam.exp_avg_sq." + names[i]] = model::ToArray(exp_avg_sq[i]);
    }
    io::WriteSafetensors(state_path, st);
  };
  const auto t0 = std::chrono::steady_clock::now();
  auto checkpoint = [&](int step, double loss) {
    CircuitScores s = Score(*model, heldout);
    s.step = step;
    s.train_loss = loss;
    history.push_back(ScoresJson(s));
    WriteModelFolder(out_dir / "checkpoints" / StepName(step), *model, cfg.seq_len, torch::kFloat16);
    if (hooks.on_checkpoint) hooks.on_checkpoint(s);
    return s;
  };
  auto wants_checkpoint = [&](int step) {
    return std::find(cfg.checkpoint_steps.begin(), cfg.checkpoint_steps.end(), step) != cfg.checkpoint_steps.end();
  };
  if (start == 0 && history.empty() && wants_checkpoint(0)) checkpoint(0, std::log(double(kVocab)));

  const double beta1 = 0.9, beta2 = 0.98, eps = 1e-8;
  for (int step = start + 1; step <= cfg.steps; ++step) {
    if (hooks.should_stop && hooks.should_stop()) {
      save_state(step - 1);
      throw LmTrainingStopped("stopped at step " + std::to_string(step - 1) + "; run again to resume");
    }
    const Batch batch = MakeBatch(cfg, text, uint64_t(step));
    const torch::Tensor logits = model->forward(batch.tokens);  // [B, T, V]
    const int64_t T = cfg.seq_len;
    const torch::Tensor nll = torch::nn::functional::cross_entropy(
        logits.narrow(1, 0, T - 1).reshape({-1, kVocab}), batch.tokens.narrow(1, 1, T - 1).reshape(-1),
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    const torch::Tensor w = batch.weights.reshape(-1);
    const torch::Tensor loss = (nll * w).sum() / w.sum();
    for (auto& p : params) p.mutable_grad() = torch::Tensor();
    loss.backward();
    {
      torch::NoGradGuard no_grad;
      double norm2 = 0;
      for (auto& p : params) norm2 += p.grad().pow(2).sum().item<double>();
      const double clip = std::min(1.0, cfg.grad_clip / (std::sqrt(norm2) + 1e-6));
      const double lr = cfg.lr * std::min(1.0, double(step) / std::max(1, cfg.warmup));
      const double bc1 = 1 - std::pow(beta1, step), bc2 = 1 - std::pow(beta2, step);
      for (size_t i = 0; i < params.size(); ++i) {
        auto& p = params[i];
        const torch::Tensor g = p.grad() * clip;
        // Decoupled weight decay on matrices only (not biases, norms).
        if (p.dim() >= 2) p.mul_(1 - lr * cfg.weight_decay);
        exp_avg[i].mul_(beta1).add_(g, 1 - beta1);
        exp_avg_sq[i].mul_(beta2).addcmul_(g, g, 1 - beta2);
        p.addcdiv_(exp_avg[i], (exp_avg_sq[i].sqrt() / std::sqrt(bc2)).add_(eps), -lr / bc1);
      }
    }
    const double l = loss.item<double>();
    loss_avg = step == 1 ? l : 0.95 * loss_avg + 0.05 * l;
    if (hooks.on_step) hooks.on_step(step, cfg.steps, loss_avg);
    if (wants_checkpoint(step) || step == cfg.steps) {
      checkpoint(step, loss_avg);
      save_state(step);
    }
  }
  // The final model: float32, in the folder itself, plus what produced it.
  WriteModelFolder(out_dir, *model, cfg.seq_len, torch::kFloat32);
  CircuitScores final_scores = Score(*model, heldout);
  final_scores.step = cfg.steps;
  final_scores.train_loss = loss_avg;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WriteJson(out_dir / "training.json", {{"trainer", "headscope train-lm"},
                                        {"config", config_json},
                                        {"seconds_this_session", seconds},
                                        {"final", ScoresJson(final_scores)},
                                        {"checkpoints", history}});
  fs::remove(state_path, ec);
  return final_scores;
}

}  // namespace hs::train
