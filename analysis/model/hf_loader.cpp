// Hugging Face model folders -> HookedTransformer (see hf_loader.h).
//
// [SECTION] config.json helpers
// [SECTION] config.json -> TransformerConfig, per model_type
// [SECTION] checkpoint files (single file or shards + index)
// [SECTION] weight mapping, per model_type: HF name and layout -> TL parameter
// [SECTION] public entry points
#include "model/hf_loader.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "io/atomic_file.h"
#include "io/json_text.h"
#include "io/mapped_safetensors.h"
#include "model/hooked_transformer.h"
#include "model/mapped_model.h"

namespace hs::model {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kConfigFile = "config.json";
constexpr const char* kWeightsFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

[[noreturn]] void Fail(const fs::path& file, const std::string& what) {
  throw io::IoError(file.string() + ": " + what);
}

std::string Join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

std::string Shape(const std::vector<int64_t>& s) { return io::ShapeString(s); }

// =============================================================================
// [SECTION] config.json helpers
// =============================================================================

json ReadJsonFile(const fs::path& path) {
  if (!fs::exists(path)) Fail(path, "file not found");
  return io::ParseJson(io::ReadFile(path), path.string());
}

// Reads config.json values with Hugging Face's defaults; a JSON null counts as
// absent (configs write "n_inner": null, "rope_scaling": null).
struct ConfigReader {
  const json& j;
  fs::path file;
  std::string model_type;

  const json* Get(const std::string& key) const {
    auto it = j.find(key);
    return (it == j.end() || it->is_null()) ? nullptr : &*it;
  }
  bool Has(const std::string& key) const { return Get(key) != nullptr; }
  [[noreturn]] void Bad(const std::string& key, const std::string& expected) const {
    const json* v = Get(key);
    Fail(file, "\"" + key + "\" must be " + expected + ", found " + (v ? io::BriefJson(*v) : std::string("nothing")) +
                   " (" + model_type + ")");
  }
  // A structural size: required, a positive integer. At most 2^28, so that
  // int arithmetic on sizes (4 * n_embd, the default n_inner) cannot
  // overflow; whether the weights really are that large is checked against
  // the files before anything is allocated (CheckSizesAgainstWeights).
  int Size(const std::string& key) const {
    const json* v = Get(key);
    if (!v) Fail(file, "lacks \"" + key + "\" (needed for model_type " + model_type + ")");
    if (!v->is_number_integer() || v->get<int64_t>() <= 0 || v->get<int64_t>() > (1 << 28))
      Bad(key, "a positive integer (at most 2^28)");
    return v->get<int>();
  }
  int SizeOr(const std::string& key, int def) const { return Has(key) ? Size(key) : def; }
  double Num(const std::string& key, double def) const {
    const json* v = Get(key);
    if (!v) return def;
    if (!v->is_number()) Bad(key, "a number");
    return v->get<double>();
  }
  bool Bool(const std::string& key, bool def) const {
    const json* v = Get(key);
    if (!v) return def;
    if (!v->is_boolean()) Bad(key, "true or false");
    return v->get<bool>();
  }
  std::string Str(const std::string& key, const std::string& def) const {
    const json* v = Get(key);
    if (!v) return def;
    if (!v->is_string()) Bad(key, "a string");
    return v->get<std::string>();
  }
  std::optional<int64_t> OptInt(const std::string& key) const {
    const json* v = Get(key);
    if (!v) return std::nullopt;
    if (!v->is_number_integer()) Bad(key, "an integer");
    return v->get<int64_t>();
  }
  // Refuses a config value headscope's forward does not implement.
  [[noreturn]] void Refuse(const std::string& key, const std::string& why) const {
    const json* v = Get(key);
    Fail(file, "\"" + key + "\": " + (v ? io::BriefJson(*v) : std::string("(absent)")) + " is not supported: " + why);
  }
  void Require(bool ok, const std::string& key, const std::string& why) const {
    if (!ok) Refuse(key, why);
  }
};

// Hugging Face activation names -> TransformerConfig::act_fn.
std::string MapActivation(const ConfigReader& r, const std::string& key, const std::string& def) {
  const std::string a = r.Str(key, def);
  if (a == "gelu_new" || a == "gelu_pytorch_tanh" || a == "gelu_fast") return "gelu_new";  // the tanh approximation
  if (a == "gelu") return "gelu";                                                          // exact (erf)
  if (a == "relu") return "relu";
  if (a == "silu" || a == "swish") return "silu";
  r.Refuse(key, "headscope implements gelu, gelu_new (and gelu_pytorch_tanh, gelu_fast), relu and silu");
}

// Rotary settings: rope_theta (or GPT-NeoX's rotary_emb_base), the share of
// each head that rotates, and rope scaling. Reads both the classic keys and
// transformers v5's "rope_parameters" object.
void ReadRope(const ConfigReader& r, TransformerConfig& c, const char* theta_key, double default_partial,
              const char* partial_key) {
  const json* params = r.Get("rope_parameters");
  if (!params) params = r.Get("rope_scaling");
  if (params && !params->is_object()) r.Bad(r.Has("rope_parameters") ? "rope_parameters" : "rope_scaling", "an object");
  const json empty = json::object();
  const json& p = params ? *params : empty;
  auto pnum = [&](const char* key, double def) -> double {
    auto it = p.find(key);
    if (it == p.end() || it->is_null()) return def;
    if (!it->is_number())
      r.Bad(r.Has("rope_parameters") ? "rope_parameters" : "rope_scaling",
            std::string("an object whose \"") + key + "\" is a number");
    return it->get<double>();
  };
  c.rotary_base = pnum("rope_theta", r.Num(theta_key, 10000.0));
  const double partial = pnum("partial_rotary_factor", r.Num(partial_key, default_partial));
  if (!(partial > 0 && partial <= 1)) r.Bad(partial_key, "in (0, 1]");
  c.rotary_dim = static_cast<int>(c.d_head * partial);  // int() as transformers does
  std::string type = "default";
  for (const char* key : {"rope_type", "type"}) {
    auto it = p.find(key);
    if (it != p.end() && it->is_string()) {
      type = it->get<std::string>();
      break;
    }
  }
  if (type == "llama3") {
    const char* key = r.Has("rope_parameters") ? "rope_parameters" : "rope_scaling";
    for (const char* k : {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"})
      if (!p.contains(k) || !p[k].is_number())
        r.Bad(key, std::string("a llama3 rope scaling with a numeric \"") + k + "\"");
    c.rope_scaling_factor = p["factor"].get<double>();
    c.rope_low_freq_factor = p["low_freq_factor"].get<double>();
    c.rope_high_freq_factor = p["high_freq_factor"].get<double>();
    // Read as a double and range-checked first: get<int>() of 1e300 is undefined behaviour.
    const double original = p["original_max_position_embeddings"].get<double>();
    if (!(original >= 1 && original <= (1 << 28)))
      r.Bad(key, "a llama3 rope scaling with original_max_position_embeddings in [1, 2^28]");
    c.rope_original_max_position = static_cast<int>(original);
    if (!(c.rope_scaling_factor > 0) || !(c.rope_high_freq_factor > c.rope_low_freq_factor) ||
        c.rope_original_max_position <= 0)
      r.Bad(key, "a llama3 rope scaling with factor > 0, high_freq_factor > low_freq_factor and a positive context");
  } else if (type == "longrope" || type == "su") {  // "su": Phi-3's first name for it
    // transformers' _compute_longrope_parameters: the original context is the
    // top-level original_max_position_embeddings (then factor = max positions
    // / original), else the one in the rope object, else max positions.
    const char* key = r.Has("rope_parameters") ? "rope_parameters" : "rope_scaling";
    auto factors = [&](const char* name) {
      std::vector<double> f;
      auto it = p.find(name);
      if (it == p.end() || !it->is_array())
        r.Bad(key, std::string("a longrope scaling with a \"") + name + "\" list of numbers");
      for (const auto& v : *it) {
        if (!v.is_number() || !(v.get<double>() > 0))
          r.Bad(key, std::string("a longrope scaling whose \"") + name + "\" holds positive numbers");
        f.push_back(v.get<double>());
      }
      if (f.size() != size_t(c.RotaryDim() / 2))
        r.Bad(key, std::string("a longrope scaling with rotary_dim / 2 = ") + std::to_string(c.RotaryDim() / 2) +
                       " values in \"" + name + "\" (found " + std::to_string(f.size()) + ")");
      return f;
    };
    c.rope_long_factor = factors("long_factor");
    c.rope_short_factor = factors("short_factor");
    const double max_pos = r.Num("max_position_embeddings", 4096);
    double original = max_pos, factor = pnum("factor", 1.0);
    if (r.Has("original_max_position_embeddings")) {
      original = r.Num("original_max_position_embeddings", max_pos);
      factor = max_pos / original;
    } else if (p.contains("original_max_position_embeddings")) {
      original = pnum("original_max_position_embeddings", max_pos);
      factor = max_pos / original;
    }
    if (!(original >= 1 && original <= (1 << 28)))
      r.Bad("original_max_position_embeddings", "a positive integer (at most 2^28)");
    c.rope_original_max_position = static_cast<int>(original);
    c.rope_attention_factor =
        pnum("attention_factor", factor <= 1.0 ? 1.0 : std::sqrt(1 + std::log(factor) / std::log(original)));
    if (!(c.rope_attention_factor > 0) || !std::isfinite(c.rope_attention_factor))
      r.Bad(key, "a longrope scaling with a positive, finite attention_factor (original_max_position_embeddings > 1)");
  } else if (type != "default") {
    r.Refuse(r.Has("rope_parameters") ? "rope_parameters" : "rope_scaling",
             "rope type '" + type + "' (headscope implements the default rotary, llama3 and longrope scaling)");
  }
}

// =============================================================================
// [SECTION] config.json -> TransformerConfig, per model_type
// =============================================================================

TransformerConfig Gpt2Config(const ConfigReader& r) {
  TransformerConfig c;
  c.n_layers = r.Size("n_layer");
  c.d_model = r.Size("n_embd");
  c.n_heads = r.Size("n_head");
  if (c.d_model % c.n_heads != 0) r.Bad("n_head", "a divisor of n_embd (" + std::to_string(c.d_model) + ")");
  c.d_head = c.d_model / c.n_heads;
  c.d_mlp = r.SizeOr("n_inner", 4 * c.d_model);
  c.d_vocab = c.d_vocab_out = r.Size("vocab_size");
  c.n_ctx = r.Size("n_positions");
  c.act_fn = MapActivation(r, "activation_function", "gelu_new");
  c.normalization = "LN";
  c.eps = r.Num("layer_norm_epsilon", 1e-5);
  c.positional_embedding = "standard";
  c.attn_qkv_bias = c.attn_out_bias = c.mlp_bias = true;
  c.final_norm = true;
  c.tied_embeddings = r.Bool("tie_word_embeddings", true);
  r.Require(r.Bool("scale_attn_weights", true), "scale_attn_weights",
            "headscope always scales scores by 1/sqrt(d_head)");
  r.Require(!r.Bool("scale_attn_by_inverse_layer_idx", false), "scale_attn_by_inverse_layer_idx",
            "headscope does not divide scores by the layer index");
  r.Require(!r.Bool("add_cross_attention", false), "add_cross_attention", "decoder-only models only");
  return c;
}

// llama, qwen2 and qwen3 share one layout; they differ in biases, q/k norms
// and defaults.
TransformerConfig LlamaFamilyConfig(const ConfigReader& r) {
  const std::string& type = r.model_type;
  TransformerConfig c;
  c.n_layers = r.Size("num_hidden_layers");
  c.d_model = r.Size("hidden_size");
  c.n_heads = r.Size("num_attention_heads");
  c.n_key_value_heads = r.SizeOr("num_key_value_heads", c.n_heads);
  if (c.n_heads % c.n_key_value_heads != 0)
    r.Bad("num_key_value_heads", "a divisor of num_attention_heads (" + std::to_string(c.n_heads) + ")");
  if (type == "qwen3") {
    c.d_head = r.SizeOr("head_dim", 128);
  } else if (type == "gemma" || type == "gemma2") {
    c.d_head = r.SizeOr("head_dim", 256);
  } else {
    if (!r.Has("head_dim") && c.d_model % c.n_heads != 0)
      r.Bad("num_attention_heads", "a divisor of hidden_size (or give head_dim)");
    c.d_head = r.SizeOr("head_dim", c.d_model / c.n_heads);
  }
  c.d_mlp = r.Size("intermediate_size");
  c.d_vocab = c.d_vocab_out = r.Size("vocab_size");
  const bool gemma = type == "gemma" || type == "gemma2";
  c.n_ctx = r.SizeOr("max_position_embeddings", type == "llama" ? 2048 : type == "phi3" ? 4096 : gemma ? 8192 : 32768);
  // Gemma's MLP uses hidden_activation (the tanh GELU when absent), whatever hidden_act says.
  c.act_fn = gemma ? MapActivation(r, "hidden_activation", "gelu_pytorch_tanh") : MapActivation(r, "hidden_act", "silu");
  c.normalization = "RMS";
  c.eps = r.Num("rms_norm_eps", 1e-6);
  c.positional_embedding = "rotary";
  ReadRope(r, c, "rope_theta", 1.0, "partial_rotary_factor");
  c.gated_mlp = true;
  c.final_norm = true;
  c.tied_embeddings = r.Bool("tie_word_embeddings", gemma);
  c.mlp_bias = false;
  if (gemma) {
    // The embeddings times sqrt(hidden_size) rounded to the activation dtype
    // (float32 here), as transformers' normalizer tensor.
    c.embed_scale = double(float(std::sqrt(double(c.d_model))));
  }
  if (type == "gemma2") {
    c.post_norms = true;
    // Absent: Gemma2Config's defaults; null: no soft-cap (as transformers' None).
    auto cap = [&](const char* key, double def) { return r.j.contains(key) && r.j[key].is_null() ? 0.0 : r.Num(key, def); };
    c.attn_softcap = cap("attn_logit_softcapping", 50.0);
    c.final_softcap = cap("final_logit_softcapping", 30.0);
    if (c.attn_softcap < 0) r.Bad("attn_logit_softcapping", "a positive number or null");
    if (c.final_softcap < 0) r.Bad("final_logit_softcapping", "a positive number or null");
    const double pre = r.Num("query_pre_attn_scalar", 256);
    if (!(pre > 0)) r.Bad("query_pre_attn_scalar", "a positive number");
    c.attn_scale = 1.0 / std::sqrt(pre);
    // Sliding-window layers alternate with global ones, the first sliding.
    c.sliding_window_period = 2;
    if (const json* types = r.Get("layer_types")) {
      bool alternating = types->is_array() && int(types->size()) == c.n_layers;
      for (int l = 0; alternating && l < c.n_layers; ++l)
        alternating = (*types)[l] == (l % 2 == 0 ? "sliding_attention" : "full_attention");
      r.Require(alternating, "layer_types",
                "headscope implements Gemma 2's alternation (sliding_attention on even layers, full_attention on odd)");
    }
  }
  if (type == "mistral" || type == "phi3" || type == "gemma2") {
    // null: none (Mistral v0.2 on); without the key: the config class's default (Mistral, Gemma 2: 4096).
    const bool default_4096 = (type == "gemma2" || type == "mistral") && !r.j.contains("sliding_window");
    const int64_t window = r.OptInt("sliding_window").value_or(default_4096 ? 4096 : 0);
    if (window < 0 || window > (1 << 28)) r.Bad("sliding_window", "a positive integer or null");
    c.sliding_window = int(window);
  }
  if (type == "qwen2") {
    c.attn_qkv_bias = true;  // Qwen2: q, k, v biases; o_proj has none
    c.attn_out_bias = false;
  } else {
    c.attn_qkv_bias = c.attn_out_bias = r.Bool("attention_bias", false);
  }
  c.qk_norm = type == "qwen3";
  r.Require(!r.Bool("mlp_bias", false), "mlp_bias", "headscope's gated MLP has no gate bias");
  if (type == "phi3")
    r.Require(!r.Bool("attention_bias", false), "attention_bias", "headscope's Phi-3 mapping has no q/k/v biases");
  if (gemma)
    r.Require(!r.Bool("use_bidirectional_attention", false), "use_bidirectional_attention",
              "headscope implements causal attention only");
  if (type == "qwen2" || type == "qwen3")
    r.Require(!r.Bool("use_sliding_window", false), "use_sliding_window",
              "headscope implements Qwen's full causal attention only (windows are implemented for mistral, "
              "gemma2 and phi3)");
  return c;
}

TransformerConfig GptNeoXConfig(const ConfigReader& r) {
  TransformerConfig c;
  c.n_layers = r.Size("num_hidden_layers");
  c.d_model = r.Size("hidden_size");
  c.n_heads = r.Size("num_attention_heads");
  if (c.d_model % c.n_heads != 0) r.Bad("num_attention_heads", "a divisor of hidden_size");
  c.d_head = c.d_model / c.n_heads;
  c.d_mlp = r.Size("intermediate_size");
  c.d_vocab = c.d_vocab_out = r.Size("vocab_size");
  c.n_ctx = r.SizeOr("max_position_embeddings", 2048);
  c.act_fn = MapActivation(r, "hidden_act", "gelu");
  c.normalization = "LN";
  c.eps = r.Num("layer_norm_eps", 1e-5);
  c.positional_embedding = "rotary";
  ReadRope(r, c, "rotary_emb_base", 0.25, "rotary_pct");
  if (c.rotary_dim < 2 || c.rotary_dim % 2 != 0)
    r.Bad("rotary_pct", "a share of d_head giving an even rotary_dim >= 2");
  c.parallel_attn_mlp = r.Bool("use_parallel_residual", true);
  c.attn_qkv_bias = c.attn_out_bias = r.Bool("attention_bias", true);
  c.mlp_bias = true;
  c.final_norm = true;
  c.tied_embeddings = r.Bool("tie_word_embeddings", false);
  return c;
}

TransformerConfig OptConfig(const ConfigReader& r) {
  TransformerConfig c;
  c.n_layers = r.Size("num_hidden_layers");
  c.d_model = r.Size("hidden_size");
  c.n_heads = r.Size("num_attention_heads");
  if (c.d_model % c.n_heads != 0) r.Bad("num_attention_heads", "a divisor of hidden_size");
  c.d_head = c.d_model / c.n_heads;
  c.d_mlp = r.Size("ffn_dim");
  c.d_vocab = c.d_vocab_out = r.Size("vocab_size");
  c.n_ctx = r.SizeOr("max_position_embeddings", 2048);
  c.act_fn = MapActivation(r, "activation_function", "relu");
  c.normalization = "LN";
  c.eps = 1e-5;  // OPT's nn.LayerNorm default; the config has no key for it
  c.positional_embedding = "standard";
  c.attn_qkv_bias = c.attn_out_bias = c.mlp_bias = true;
  c.final_norm = !r.Bool("_remove_final_layer_norm", false);
  c.tied_embeddings = r.Bool("tie_word_embeddings", true);
  r.Require(r.Bool("do_layer_norm_before", true), "do_layer_norm_before",
            "post-LayerNorm OPT models (opt-350m) are not supported; headscope implements pre-LayerNorm");
  const int proj = r.SizeOr("word_embed_proj_dim", c.d_model);
  r.Require(proj == c.d_model, "word_embed_proj_dim",
            "it differs from hidden_size (" + std::to_string(c.d_model) +
                "), so the model has project_in/project_out layers, which headscope does not implement");
  r.Require(r.Bool("enable_bias", true), "enable_bias", "headscope's OPT mapping expects biases everywhere");
  r.Require(r.Bool("layer_norm_elementwise_affine", true), "layer_norm_elementwise_affine",
            "LayerNorms without weights are not implemented");
  return c;
}

struct Architecture {
  const char* model_type;
  TransformerConfig (*config)(const ConfigReader&);
};
const Architecture kArchitectures[] = {
    {"gpt2", Gpt2Config},           {"llama", LlamaFamilyConfig},  {"qwen2", LlamaFamilyConfig},
    {"qwen3", LlamaFamilyConfig},   {"mistral", LlamaFamilyConfig}, {"gemma", LlamaFamilyConfig},
    {"gemma2", LlamaFamilyConfig},  {"phi3", LlamaFamilyConfig},   {"gpt_neox", GptNeoXConfig},
    {"opt", OptConfig},
};

struct ParsedConfig {
  TransformerConfig cfg;
  json j;
  std::string model_type;
};

ParsedConfig ParseConfig(const fs::path& dir) {
  if (!fs::is_directory(dir)) Fail(dir, "not a folder (expected a Hugging Face model folder with config.json)");
  const fs::path file = dir / kConfigFile;
  ParsedConfig out;
  out.j = ReadJsonFile(file);
  if (!out.j.is_object()) Fail(file, "not a JSON object");
  auto mt = out.j.find("model_type");
  if (mt == out.j.end() || !mt->is_string())
    Fail(file, "lacks a \"model_type\" string (supported: " + Join(SupportedHFModelTypes()) + ")");
  out.model_type = mt->get<std::string>();
  const Architecture* arch = nullptr;
  for (const auto& a : kArchitectures)
    if (out.model_type == a.model_type) arch = &a;
  if (!arch)
    Fail(file,
         "model_type \"" + out.model_type + "\" is not supported (supported: " + Join(SupportedHFModelTypes()) + ")");
  ConfigReader r{out.j, file, out.model_type};
  out.cfg = arch->config(r);
  out.cfg.original_architecture = out.model_type;
  try {
    out.cfg.Validate();
  } catch (const std::invalid_argument& e) {
    Fail(file, std::string("gives an invalid model: ") + e.what());
  }
  return out;
}

// Parameters of the model HookedTransformer builds from `c`. In double: a
// config.json may give sizes whose product overflows int64 (2^28 layers of
// 2^28-wide heads), and this count is what refuses such a config.
double CountParamsApprox(const TransformerConfig& c) {
  const double d = c.d_model, h = c.n_heads, kv = c.NumKVHeads(), e = c.d_head, m = c.d_mlp;
  const double norm = c.normalization == "LN" ? 2 * d : c.normalization == "RMS" ? d : 0;
  double layer = (c.post_norms ? 4 : 2) * norm + h * d * e + 2 * kv * d * e + h * e * d;
  if (c.attn_qkv_bias) layer += h * e + 2 * kv * e;
  if (c.attn_out_bias) layer += d;
  if (c.qk_norm) layer += 2 * e;
  layer += (c.gated_mlp ? 3 : 2) * d * m;
  if (c.mlp_bias) layer += m + d;
  double n = double(c.d_vocab) * d + c.n_layers * layer;
  if (c.positional_embedding == "standard") n += double(c.n_ctx) * d;
  if (c.final_norm) n += norm;
  if (!c.tied_embeddings) n += d * c.d_vocab_out;
  if (c.unembed_bias) n += c.d_vocab_out;
  return n;
}
int64_t CountParams(const TransformerConfig& c) { return static_cast<int64_t>(std::min(CountParamsApprox(c), 9e18)); }

// =============================================================================
// [SECTION] checkpoint files (single file or shards + index)
// =============================================================================

// The README ("Language models: your own model folder") says the same.
std::string ConversionHelp(const fs::path& dir) {
  std::string quoted = "'";  // the folder as a Python string literal
  for (char ch : fs::absolute(dir).string())
    quoted += (ch == '\'' || ch == '\\') ? std::string("\\") + ch : std::string(1, ch);
  quoted += "'";
  return "has pytorch_model.bin weights only, and headscope reads safetensors. Convert them once, in Python:\n"
         "    DIR = " +
         quoted +
         "\n"
         "    from transformers import AutoModelForCausalLM\n"
         "    AutoModelForCausalLM.from_pretrained(DIR).save_pretrained(DIR, safe_serialization=True)\n"
         "or, with torch and safetensors alone:\n"
         "    import torch; from safetensors.torch import save_file\n"
         "    sd = torch.load(DIR + '/pytorch_model.bin', map_location='cpu')\n"
         "    save_file({k: v.clone().contiguous() for k, v in sd.items()}, DIR + '/model.safetensors', "
         "metadata={'format': 'pt'})\n"
         "(a sharded pytorch_model-*.bin folder: save_pretrained does it)";
}

struct Checkpoint {
  fs::path listing;  // the file that names the tensors: model.safetensors or the index
  std::vector<io::MappedSafetensors> files;
  struct Where {
    size_t file;
    const io::MappedTensor* tensor;
  };
  std::map<std::string, Where> tensors;

  const fs::path& FileOf(const std::string& name) const { return files[tensors.at(name).file].path(); }
};

// A shard name from an index: a plain relative path inside the folder.
bool SafeRelative(const std::string& name) {
  const fs::path p(name);
  if (name.empty() || p.is_absolute()) return false;
  for (const auto& part : p)
    if (part == "..") return false;
  return true;
}

Checkpoint OpenCheckpoint(const fs::path& dir) {
  Checkpoint ck;
  const fs::path index = dir / kIndexFile, single = dir / kWeightsFile;
  if (fs::exists(index)) {
    ck.listing = index;
    const json j = ReadJsonFile(index);
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      Fail(index, "lacks a \"weight_map\" object (tensor name -> shard file)");
    std::map<std::string, size_t> shard_index;
    std::vector<std::pair<std::string, std::string>> listed;  // tensor, shard
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it->is_string() || !SafeRelative(it->get<std::string>()))
        Fail(index, "weight_map entry for tensor '" + it.key() +
                        "' is not a shard file name inside the folder: " + io::BriefJson(*it));
      const std::string shard = it->get<std::string>();
      listed.emplace_back(it.key(), shard);
      if (shard_index.count(shard)) continue;
      const fs::path p = dir / shard;
      if (!fs::exists(p))
        Fail(index, "lists shard '" + shard + "' (for tensor '" + it.key() + "'), which is missing from " +
                        dir.string() + " (incomplete download?)");
      shard_index[shard] = ck.files.size();
      ck.files.emplace_back(p);
    }
    if (ck.files.empty()) Fail(index, "weight_map lists no tensors");
    for (const auto& [name, shard] : listed) {
      const size_t f = shard_index.at(shard);
      const io::MappedTensor* t = ck.files[f].Find(name);
      if (!t)
        Fail(ck.files[f].path(), "the index " + index.filename().string() + " places tensor '" + name +
                                     "' in this shard, but the shard has no such tensor");
      ck.tensors[name] = {f, t};
    }
    // Tensors a shard holds that the index does not list still count (an
    // unknown one is refused below), unless another shard has them too.
    for (size_t f = 0; f < ck.files.size(); ++f)
      for (const auto& [name, t] : ck.files[f].tensors()) {
        auto it = ck.tensors.find(name);
        if (it == ck.tensors.end())
          ck.tensors[name] = {f, &t};
        else if (it->second.file != f)
          Fail(ck.files[f].path(),
               "tensor '" + name + "' is also stored in " + ck.files[it->second.file].path().filename().string());
      }
    return ck;
  }
  if (fs::exists(single)) {
    ck.listing = single;
    ck.files.emplace_back(single);
    for (const auto& [name, t] : ck.files[0].tensors()) ck.tensors[name] = {0, &t};
    return ck;
  }
  if (fs::exists(dir / "pytorch_model.bin") || fs::exists(dir / "pytorch_model.bin.index.json"))
    Fail(dir, ConversionHelp(dir));
  Fail(dir,
       std::string("has neither ") + kWeightsFile + " nor " + kIndexFile + " (a Hugging Face model folder has one)");
}

// Every parameter is filled from a file tensor with at least as many values,
// so a config.json implying more parameters than the weight files hold cannot
// load. A config with vocab_size 2^28 on a small checkpoint would allocate
// terabytes (and die, or be killed) before CheckCheckpoint could name the
// problem, so a gross mismatch is refused before the model is built. A small
// one (a missing tensor) is left to CheckCheckpoint, whose message names the
// tensor; the slack bounds what the model may allocate to about twice the
// files' values.
void CheckSizesAgainstWeights(const ParsedConfig& pc, const fs::path& dir, const Checkpoint& ck) {
  double values = 0;
  for (const auto& [name, where] : ck.tensors) values += double(where.tensor->numel());
  const double params = CountParamsApprox(pc.cfg);
  if (params > 2 * values + double(1 << 20)) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "implies %.4g parameters, but the weight files hold only %.4g values", params,
                  values);
    Fail(dir / kConfigFile, std::string(buf) + " (a config.json that does not match the weights?)");
  }
}

// =============================================================================
// [SECTION] weight mapping, per model_type: HF name and layout -> TL parameter
// =============================================================================

// One tensor of the checkpoint and the parameters it fills.
struct WeightSpec {
  std::string name;                  // Hugging Face name
  std::vector<int64_t> shape;        // what the config implies
  std::vector<std::string> targets;  // TL parameters it writes
  // When defined, the file's C-order values are exactly this parameter's
  // (same numel, same order): converted straight into it, no temporary.
  torch::Tensor same_layout;
  std::function<void(const torch::Tensor& w)> assign;  // w: float32 [shape]
};

// Names and tensors one architecture's checkpoint holds.
struct WeightMap {
  std::vector<WeightSpec> specs;
  std::function<bool(const std::string&)> ignored;  // buffers and tied duplicates
};

class MapBuilder {
 public:
  MapBuilder(const TransformerConfig& c, std::map<std::string, torch::Tensor> sd) : c(c), sd(std::move(sd)) {}

  torch::Tensor& P(const std::string& tl) {
    auto it = sd.find(tl);
    if (it == sd.end()) throw std::logic_error("hf_loader: the model has no parameter '" + tl + "'");
    return it->second;
  }
  // The file's tensor is the parameter, maybe viewed in another shape.
  void Same(const std::string& hf, const std::string& tl, std::vector<int64_t> shape = {}) {
    torch::Tensor p = P(tl);
    if (shape.empty()) shape.assign(p.sizes().begin(), p.sizes().end());
    Add(
        hf, shape, {tl}, [p](const torch::Tensor& w) mutable { p.copy_(w.reshape(p.sizes())); }, p);
  }
  // Gemma's RMSNorm scales by (1 + w): stored as 1 + w, as TransformerLens
  // does (exact in float32 for F16/BF16 weights).
  void NormPlusOne(const std::string& hf, const std::string& tl) {
    torch::Tensor p = P(tl);
    Add(hf, {p.size(0)}, {tl}, [p](const torch::Tensor& w) mutable { p.copy_(w.to(torch::kFloat32) + 1.0); });
  }
  // Linear weight [out, in] -> TL [in, out].
  void Transposed(const std::string& hf, const std::string& tl) {
    torch::Tensor p = P(tl);
    Add(hf, {p.size(1), p.size(0)}, {tl}, [p](const torch::Tensor& w) mutable { p.copy_(w.t()); });
  }
  // Linear weight [n * d_head, d_model] -> TL [n, d_model, d_head].
  void HeadsIn(const std::string& hf, const std::string& tl) {
    torch::Tensor p = P(tl);
    const int64_t n = p.size(0), dm = p.size(1), e = p.size(2);
    Add(hf, {n * e, dm}, {tl}, [p, n, dm, e](const torch::Tensor& w) mutable {
      p.copy_(w.view({n, e, dm}).permute({0, 2, 1}));
    });
  }
  // Linear weight [d_model, n * d_head] -> TL [n, d_head, d_model].
  void HeadsOut(const std::string& hf, const std::string& tl) {
    torch::Tensor p = P(tl);
    const int64_t n = p.size(0), e = p.size(1), dm = p.size(2);
    Add(hf, {dm, n * e}, {tl}, [p, n, e, dm](const torch::Tensor& w) mutable {
      p.copy_(w.view({dm, n, e}).permute({1, 2, 0}));
    });
  }
  void Add(const std::string& hf, std::vector<int64_t> shape, std::vector<std::string> targets,
           std::function<void(const torch::Tensor&)> assign, torch::Tensor same_layout = {}) {
    out.specs.push_back({hf, std::move(shape), std::move(targets), std::move(same_layout), std::move(assign)});
  }
  bool Has(const std::string& tl) const { return sd.count(tl) != 0; }

  const TransformerConfig& c;
  std::map<std::string, torch::Tensor> sd;
  WeightMap out;
};

std::string L(int l) { return "blocks." + std::to_string(l) + "."; }

// A prefix the file's names carry, chosen by which spelling of `probe` exists.
std::string DetectPrefix(const Checkpoint& ck, const std::vector<std::string>& prefixes, const std::string& probe) {
  for (const auto& p : prefixes)
    if (ck.tensors.count(p + probe)) return p;
  return prefixes.front();  // a later "missing tensor" error names the usual spelling
}

std::function<bool(const std::string&)> Ignore(const std::string& regex) {
  auto re = std::make_shared<std::regex>(regex);
  return [re](const std::string& name) { return std::regex_match(name, *re); };
}

WeightMap Gpt2Weights(MapBuilder& b, const Checkpoint& ck) {
  const auto& c = b.c;
  const std::string t = DetectPrefix(ck, {"transformer.", ""}, "wte.weight");
  const int64_t d = c.d_model, n = c.n_heads, e = c.d_head;
  b.Same(t + "wte.weight", "embed.W_E");
  b.Same(t + "wpe.weight", "pos_embed.W_pos");
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string h = t + "h." + std::to_string(l) + ".", B = L(l);
    b.Same(h + "ln_1.weight", B + "ln1.w");
    b.Same(h + "ln_1.bias", B + "ln1.b");
    // Conv1D stores [in, out]; c_attn's output is [q | k | v], each n heads of e.
    torch::Tensor W[3] = {b.P(B + "attn.W_Q"), b.P(B + "attn.W_K"), b.P(B + "attn.W_V")};
    b.Add(h + "attn.c_attn.weight", {d, 3 * d}, {B + "attn.W_Q", B + "attn.W_K", B + "attn.W_V"},
          [W, d, n, e](const torch::Tensor& w) mutable {
            for (int i = 0; i < 3; ++i) W[i].copy_(w.narrow(1, i * d, d).view({d, n, e}).permute({1, 0, 2}));
          });
    torch::Tensor bias[3] = {b.P(B + "attn.b_Q"), b.P(B + "attn.b_K"), b.P(B + "attn.b_V")};
    b.Add(h + "attn.c_attn.bias", {3 * d}, {B + "attn.b_Q", B + "attn.b_K", B + "attn.b_V"},
          [bias, d, n, e](const torch::Tensor& w) mutable {
            for (int i = 0; i < 3; ++i) bias[i].copy_(w.narrow(0, i * d, d).view({n, e}));
          });
    b.Same(h + "attn.c_proj.weight", B + "attn.W_O", {d, d});  // [(n e), d] is W_O's layout
    b.Same(h + "attn.c_proj.bias", B + "attn.b_O");
    b.Same(h + "ln_2.weight", B + "ln2.w");
    b.Same(h + "ln_2.bias", B + "ln2.b");
    b.Same(h + "mlp.c_fc.weight", B + "mlp.W_in");
    b.Same(h + "mlp.c_fc.bias", B + "mlp.b_in");
    b.Same(h + "mlp.c_proj.weight", B + "mlp.W_out");
    b.Same(h + "mlp.c_proj.bias", B + "mlp.b_out");
  }
  b.Same(t + "ln_f.weight", "ln_final.w");
  b.Same(t + "ln_f.bias", "ln_final.b");
  if (!c.tied_embeddings) b.Transposed("lm_head.weight", "unembed.W_U");
  // The causal-mask buffers older files carry, and a tied lm_head HF ignores.
  std::string re = "(transformer\\.)?h\\.[0-9]+\\.attn\\.(bias|masked_bias)";
  if (c.tied_embeddings) re += "|lm_head\\.weight";
  b.out.ignored = Ignore(re);
  return std::move(b.out);
}

// llama, qwen2, qwen3, mistral, gemma, gemma2 and phi3: one naming scheme.
// Gemma's norms are (1 + w); Gemma 2 adds post-attention and post-MLP norms
// (its post_attention_layernorm is the norm on the attention output, and
// pre_feedforward_layernorm the MLP's input norm); Phi-3 fuses q, k, v into
// qkv_proj and gate, up into gate_up_proj.
WeightMap LlamaFamilyWeights(MapBuilder& b, const Checkpoint& ck, const std::string& type) {
  const auto& c = b.c;
  const std::string m = DetectPrefix(ck, {"model.", ""}, "embed_tokens.weight");
  const bool gemma = type == "gemma" || type == "gemma2", phi3 = type == "phi3";
  auto norm = [&](const std::string& hf, const std::string& tl) { gemma ? b.NormPlusOne(hf, tl) : b.Same(hf, tl); };
  const int64_t H = c.n_heads, KV = c.NumKVHeads(), E = c.d_head, D = c.d_model, M = c.d_mlp;
  b.Same(m + "embed_tokens.weight", "embed.W_E");
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string h = m + "layers." + std::to_string(l) + ".", B = L(l);
    norm(h + "input_layernorm.weight", B + "ln1.w");
    if (type == "gemma2") {
      norm(h + "post_attention_layernorm.weight", B + "ln1_post.w");
      norm(h + "pre_feedforward_layernorm.weight", B + "ln2.w");
      norm(h + "post_feedforward_layernorm.weight", B + "ln2_post.w");
    } else {
      norm(h + "post_attention_layernorm.weight", B + "ln2.w");
    }
    if (phi3) {  // qkv_proj [(H + 2 KV) E, D]: the q rows, then k, then v
      torch::Tensor W[3] = {b.P(B + "attn.W_Q"), b.P(B + "attn.W_K"), b.P(B + "attn.W_V")};
      b.Add(h + "self_attn.qkv_proj.weight", {(H + 2 * KV) * E, D}, {B + "attn.W_Q", B + "attn.W_K", B + "attn.W_V"},
            [W, H, KV, E, D](const torch::Tensor& w) mutable {
              const int64_t rows[3] = {0, H * E, (H + KV) * E}, heads[3] = {H, KV, KV};
              for (int i = 0; i < 3; ++i)
                W[i].copy_(w.narrow(0, rows[i], heads[i] * E).view({heads[i], E, D}).permute({0, 2, 1}));
            });
      b.HeadsOut(h + "self_attn.o_proj.weight", B + "attn.W_O");
      // gate_up_proj [2 M, D]: the gate's rows first (Phi3MLP: gate, up = chunk(2)).
      torch::Tensor gate = b.P(B + "mlp.W_gate"), up = b.P(B + "mlp.W_in");
      b.Add(h + "mlp.gate_up_proj.weight", {2 * M, D}, {B + "mlp.W_gate", B + "mlp.W_in"},
            [gate, up, M](const torch::Tensor& w) mutable {
              gate.copy_(w.narrow(0, 0, M).t());
              up.copy_(w.narrow(0, M, M).t());
            });
      b.Transposed(h + "mlp.down_proj.weight", B + "mlp.W_out");
      continue;
    }
    b.HeadsIn(h + "self_attn.q_proj.weight", B + "attn.W_Q");
    b.HeadsIn(h + "self_attn.k_proj.weight", B + "attn.W_K");
    b.HeadsIn(h + "self_attn.v_proj.weight", B + "attn.W_V");
    if (c.attn_qkv_bias) {
      b.Same(h + "self_attn.q_proj.bias", B + "attn.b_Q", {int64_t(c.n_heads) * c.d_head});
      b.Same(h + "self_attn.k_proj.bias", B + "attn.b_K", {int64_t(c.NumKVHeads()) * c.d_head});
      b.Same(h + "self_attn.v_proj.bias", B + "attn.b_V", {int64_t(c.NumKVHeads()) * c.d_head});
    }
    b.HeadsOut(h + "self_attn.o_proj.weight", B + "attn.W_O");
    if (c.attn_out_bias) b.Same(h + "self_attn.o_proj.bias", B + "attn.b_O");
    if (c.qk_norm) {
      b.Same(h + "self_attn.q_norm.weight", B + "attn.q_norm.w");
      b.Same(h + "self_attn.k_norm.weight", B + "attn.k_norm.w");
    }
    b.Transposed(h + "mlp.gate_proj.weight", B + "mlp.W_gate");
    b.Transposed(h + "mlp.up_proj.weight", B + "mlp.W_in");
    b.Transposed(h + "mlp.down_proj.weight", B + "mlp.W_out");
  }
  norm(m + "norm.weight", "ln_final.w");
  if (!c.tied_embeddings) b.Transposed("lm_head.weight", "unembed.W_U");
  std::string re = "(model\\.)?(layers\\.[0-9]+\\.self_attn\\.)?rotary_emb\\.inv_freq";
  if (c.tied_embeddings) re += "|lm_head\\.weight";
  b.out.ignored = Ignore(re);
  return std::move(b.out);
}

WeightMap GptNeoXWeights(MapBuilder& b, const Checkpoint& ck) {
  const auto& c = b.c;
  const std::string m = DetectPrefix(ck, {"gpt_neox.", ""}, "embed_in.weight");
  const int64_t d = c.d_model, n = c.n_heads, e = c.d_head;
  b.Same(m + "embed_in.weight", "embed.W_E");
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string h = m + "layers." + std::to_string(l) + ".", B = L(l);
    b.Same(h + "input_layernorm.weight", B + "ln1.w");
    b.Same(h + "input_layernorm.bias", B + "ln1.b");
    b.Same(h + "post_attention_layernorm.weight", B + "ln2.w");
    b.Same(h + "post_attention_layernorm.bias", B + "ln2.b");
    // query_key_value's output is laid out per head: [head][q | k | v][d_head].
    torch::Tensor W[3] = {b.P(B + "attn.W_Q"), b.P(B + "attn.W_K"), b.P(B + "attn.W_V")};
    b.Add(h + "attention.query_key_value.weight", {3 * d, d}, {B + "attn.W_Q", B + "attn.W_K", B + "attn.W_V"},
          [W, d, n, e](const torch::Tensor& w) mutable {
            const torch::Tensor v = w.view({n, 3, e, d});
            for (int i = 0; i < 3; ++i) W[i].copy_(v.select(1, i).permute({0, 2, 1}));
          });
    if (c.attn_qkv_bias) {
      torch::Tensor bias[3] = {b.P(B + "attn.b_Q"), b.P(B + "attn.b_K"), b.P(B + "attn.b_V")};
      b.Add(h + "attention.query_key_value.bias", {3 * d}, {B + "attn.b_Q", B + "attn.b_K", B + "attn.b_V"},
            [bias, n, e](const torch::Tensor& w) mutable {
              const torch::Tensor v = w.view({n, 3, e});
              for (int i = 0; i < 3; ++i) bias[i].copy_(v.select(1, i));
            });
    }
    b.HeadsOut(h + "attention.dense.weight", B + "attn.W_O");
    if (c.attn_out_bias) b.Same(h + "attention.dense.bias", B + "attn.b_O");
    b.Transposed(h + "mlp.dense_h_to_4h.weight", B + "mlp.W_in");
    b.Same(h + "mlp.dense_h_to_4h.bias", B + "mlp.b_in");
    b.Transposed(h + "mlp.dense_4h_to_h.weight", B + "mlp.W_out");
    b.Same(h + "mlp.dense_4h_to_h.bias", B + "mlp.b_out");
  }
  b.Same(m + "final_layer_norm.weight", "ln_final.w");
  b.Same(m + "final_layer_norm.bias", "ln_final.b");
  if (!c.tied_embeddings) b.Transposed("embed_out.weight", "unembed.W_U");
  std::string re =
      "(gpt_neox\\.)?(layers\\.[0-9]+\\.attention\\.(bias|masked_bias|rotary_emb\\.inv_freq)|rotary_emb\\.inv_freq)";
  if (c.tied_embeddings) re += "|embed_out\\.weight";
  b.out.ignored = Ignore(re);
  return std::move(b.out);
}

WeightMap OptWeights(MapBuilder& b, const Checkpoint& ck) {
  const auto& c = b.c;
  const std::string m = DetectPrefix(ck, {"model.decoder.", "decoder."}, "embed_tokens.weight");
  const int64_t d = c.d_model, n_ctx = c.n_ctx;
  b.Same(m + "embed_tokens.weight", "embed.W_E");
  // OPT's learned positions start at row 2 (OPTLearnedPositionalEmbedding's
  // offset): W_pos row i is file row i + 2.
  torch::Tensor W_pos = b.P("pos_embed.W_pos");
  b.Add(m + "embed_positions.weight", {n_ctx + 2, d}, {"pos_embed.W_pos"},
        [W_pos, n_ctx](const torch::Tensor& w) mutable { W_pos.copy_(w.narrow(0, 2, n_ctx)); });
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string h = m + "layers." + std::to_string(l) + ".", B = L(l);
    const int64_t qkv = int64_t(c.n_heads) * c.d_head;
    b.Same(h + "self_attn_layer_norm.weight", B + "ln1.w");
    b.Same(h + "self_attn_layer_norm.bias", B + "ln1.b");
    b.HeadsIn(h + "self_attn.q_proj.weight", B + "attn.W_Q");
    b.HeadsIn(h + "self_attn.k_proj.weight", B + "attn.W_K");
    b.HeadsIn(h + "self_attn.v_proj.weight", B + "attn.W_V");
    b.Same(h + "self_attn.q_proj.bias", B + "attn.b_Q", {qkv});
    b.Same(h + "self_attn.k_proj.bias", B + "attn.b_K", {qkv});
    b.Same(h + "self_attn.v_proj.bias", B + "attn.b_V", {qkv});
    b.HeadsOut(h + "self_attn.out_proj.weight", B + "attn.W_O");
    b.Same(h + "self_attn.out_proj.bias", B + "attn.b_O");
    b.Same(h + "final_layer_norm.weight", B + "ln2.w");
    b.Same(h + "final_layer_norm.bias", B + "ln2.b");
    b.Transposed(h + "fc1.weight", B + "mlp.W_in");
    b.Same(h + "fc1.bias", B + "mlp.b_in");
    b.Transposed(h + "fc2.weight", B + "mlp.W_out");
    b.Same(h + "fc2.bias", B + "mlp.b_out");
  }
  if (c.final_norm) {
    b.Same(m + "final_layer_norm.weight", "ln_final.w");
    b.Same(m + "final_layer_norm.bias", "ln_final.b");
  }
  if (!c.tied_embeddings) b.Transposed("lm_head.weight", "unembed.W_U");
  b.out.ignored = Ignore(c.tied_embeddings ? "lm_head\\.weight" : "$^");
  return std::move(b.out);
}

WeightMap BuildWeightMap(const std::string& model_type, MapBuilder& b, const Checkpoint& ck) {
  if (model_type == "gpt2") return Gpt2Weights(b, ck);
  if (model_type == "gpt_neox") return GptNeoXWeights(b, ck);
  if (model_type == "opt") return OptWeights(b, ck);
  return LlamaFamilyWeights(b, ck, model_type);  // llama, qwen2, qwen3, mistral, gemma, gemma2, phi3
}

// Every check before any weight is converted: all expected tensors present,
// with the right shapes and a floating-point dtype; nothing unknown besides.
void CheckCheckpoint(const Checkpoint& ck, const WeightMap& map, const std::string& model_type) {
  std::set<std::string> expected;
  for (const WeightSpec& s : map.specs) {
    expected.insert(s.name);
    auto it = ck.tensors.find(s.name);
    if (it == ck.tensors.end())
      Fail(ck.listing, "missing tensor '" + s.name + "' (expected shape " + Shape(s.shape) + " for " + model_type +
                           ", loaded as " + Join(s.targets) + ")");
    const io::MappedTensor& t = *it->second.tensor;
    if (t.shape != s.shape)
      Fail(ck.FileOf(s.name), "tensor '" + s.name + "' has shape " + Shape(t.shape) + ", but config.json implies " +
                                  Shape(s.shape) + " (" + model_type + ")");
    if (!t.IsFloat())
      Fail(ck.FileOf(s.name), "tensor '" + s.name + "' has dtype " + io::DTypeName(t.dtype) +
                                  "; expected floating-point weights (F32, F16 or BF16)");
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, where] : ck.tensors)
    if (!expected.count(name) && !map.ignored(name)) unexpected.push_back(name);
  if (!unexpected.empty()) {
    const std::string& first = unexpected.front();
    std::string more = unexpected.size() > 1 ? " (and " + std::to_string(unexpected.size() - 1) + " more)" : "";
    Fail(ck.FileOf(first), "unexpected tensor '" + first + "'" + more + ": a " + model_type +
                               " model with this config.json has no such weight (a variant headscope does not "
                               "implement, or a config.json that does not match the weights?)");
  }
}

std::string DTypesOnDisk(const Checkpoint& ck, const std::function<bool(const std::string&)>& counted) {
  std::set<std::string> names;
  for (const auto& [name, where] : ck.tensors)
    if (counted(name) && where.tensor->IsFloat()) names.insert(io::DTypeName(where.tensor->dtype));
  if (names.size() == 1) return *names.begin();
  return "mixed (" + Join(std::vector<std::string>(names.begin(), names.end())) + ")";
}

HFModelInfo BasicInfo(const fs::path& dir, const ParsedConfig& pc, const Checkpoint& ck) {
  HFModelInfo info;
  info.dir = dir;
  info.model_type = pc.model_type;
  if (auto a = pc.j.find("architectures"); a != pc.j.end() && a->is_array())
    for (const auto& s : *a)
      if (s.is_string()) info.architectures.push_back(s.get<std::string>());
  for (const auto& f : ck.files) {
    info.weight_files.push_back(f.path());
    info.bytes_on_disk += f.file_size();
  }
  info.n_params = CountParams(pc.cfg);
  ConfigReader r{pc.j, dir / kConfigFile, pc.model_type};
  info.bos_token_id = r.OptInt("bos_token_id");
  info.pad_token_id = r.OptInt("pad_token_id");
  if (const json* eos = r.Get("eos_token_id")) {
    if (eos->is_number_integer()) {
      info.eos_token_ids.push_back(eos->get<int64_t>());
    } else if (eos->is_array()) {
      for (const auto& v : *eos) {
        if (!v.is_number_integer()) r.Bad("eos_token_id", "an integer or a list of integers");
        info.eos_token_ids.push_back(v.get<int64_t>());
      }
    } else {
      r.Bad("eos_token_id", "an integer or a list of integers");
    }
  }
  return info;
}

}  // namespace

// =============================================================================
// [SECTION] public entry points
// =============================================================================

const std::vector<std::string>& SupportedHFModelTypes() {
  static const std::vector<std::string> types = [] {
    std::vector<std::string> v;
    for (const auto& a : kArchitectures) v.push_back(a.model_type);
    return v;
  }();
  return types;
}

TransformerConfig ReadHFConfig(const fs::path& dir) { return ParseConfig(dir).cfg; }

HFModelInfo ReadHFModelInfo(const fs::path& dir) {
  const ParsedConfig pc = ParseConfig(dir);
  const Checkpoint ck = OpenCheckpoint(dir);
  CheckSizesAgainstWeights(pc, dir, ck);
  HFModelInfo info = BasicInfo(dir, pc, ck);
  // Weights are what is not a known buffer (attention masks, inv_freq).
  const std::regex buffers(".*\\.(attn\\.bias|attn\\.masked_bias|attention\\.bias|attention\\.masked_bias|inv_freq)");
  info.dtype_on_disk = DTypesOnDisk(ck, [&](const std::string& n) { return !std::regex_match(n, buffers); });
  return info;
}

LoadedModel LoadHFModel(const fs::path& dir) {
  const ParsedConfig pc = ParseConfig(dir);
  const Checkpoint ck = OpenCheckpoint(dir);
  CheckSizesAgainstWeights(pc, dir, ck);
  torch::NoGradGuard no_grad;
  auto model = std::make_shared<HookedTransformerImpl>(pc.cfg);
  model->eval();
  MapBuilder builder(pc.cfg, model->StateDict());
  const WeightMap map = BuildWeightMap(pc.model_type, builder, ck);

  // Every parameter is written by exactly one file tensor (a logic check on
  // the mapping, not on the file).
  std::map<std::string, int> written;
  for (const auto& s : map.specs)
    for (const auto& t : s.targets) ++written[t];
  for (const auto& [name, p] : builder.sd)
    if (written[name] != 1)
      throw std::logic_error("hf_loader: " + pc.model_type + " mapping writes parameter '" + name + "' " +
                             std::to_string(written[name]) + " times");
  CheckCheckpoint(ck, map, pc.model_type);

  // Convert tensor by tensor: straight into the parameter when the layouts
  // agree, else through one float32 temporary; then hand the file's pages back.
  std::vector<float> scratch;
  std::set<std::string> counted;
  for (const WeightSpec& s : map.specs) {
    const Checkpoint::Where& where = ck.tensors.at(s.name);
    const io::MappedSafetensors& file = ck.files[where.file];
    const io::MappedTensor& t = *where.tensor;
    const torch::Tensor& direct = s.same_layout;
    if (direct.defined() && direct.is_contiguous() && direct.numel() == t.numel()) {
      file.ToFloat32(t, direct.data_ptr<float>(), direct.numel());
      torch::autograd::impl::bump_version(direct);  // a raw write: caches keyed on _version() must see it
    } else {
      scratch.resize(t.numel());
      file.ToFloat32(t, scratch.data(), scratch.size());
      s.assign(torch::from_blob(scratch.data(), t.shape, torch::kFloat32));
    }
    file.DropPages(t);
    counted.insert(s.name);
  }
  LoadedModel out;
  out.cfg = pc.cfg;
  out.info = BasicInfo(dir, pc, ck);
  out.info.dtype_on_disk = DTypesOnDisk(ck, [&](const std::string& n) { return counted.count(n) != 0; });
  int64_t n_params = 0;
  for (const auto& [name, p] : builder.sd) n_params += p.numel();
  out.info.n_params = n_params;
  out.model = std::move(model);
  return out;
}

}  // namespace hs::model

// =============================================================================
// [SECTION] mapped inference (MappedModel)
// =============================================================================

namespace hs::model {

std::unique_ptr<MappedModel> OpenHFModelMapped(const fs::path& dir, const MappedOptions& options) {
  const ParsedConfig pc = ParseConfig(dir);
  auto ck = std::make_shared<Checkpoint>(OpenCheckpoint(dir));
  CheckSizesAgainstWeights(pc, dir, *ck);
  torch::NoGradGuard no_grad;
  const TransformerConfig& c = pc.cfg;
  const int n_layers = c.n_layers;
  const int64_t D = c.d_model;

  // How many layers stay in float32: as many as the budget holds; past it,
  // one slot is refilled for each of the others.
  LayerStore first = MakeLayerStore(c);
  const double layer_bytes = double(first.Bytes());
  double budget = options.weights_budget_bytes;
  if (budget < 0) {
    if (const char* env = std::getenv("HEADSCOPE_WEIGHTS_BUDGET_GB")) budget = std::atof(env) * 1e9;
    if (budget < 0 || !std::getenv("HEADSCOPE_WEIGHTS_BUDGET_GB")) budget = 0.6 * double(AvailableMemoryBytes());
  }
  int resident = int(std::min<double>(n_layers, std::floor(budget / std::max(layer_bytes, 1.0))));
  if (resident < n_layers) resident = std::max(0, resident - 1);
  // Refuse, before allocating anything large, a model whose single layer
  // and a short prompt's working memory do not fit.
  {
    auto mp = std::make_unique<MappedModel::Parts>();
    mp->cfg = c;
    mp->stores.push_back(first);  // WorkingBytes reads the config only
    const MappedModel probe(std::move(mp));
    const double need = (resident < n_layers ? layer_bytes : 0) + double(probe.WorkingBytes(std::min(64, c.n_ctx))) +
                        double(c.n_ctx) * D * 4 * (c.positional_embedding == "standard");
    const double avail = double(AvailableMemoryBytes());
    if (need > avail)
      throw DoesNotFit(dir.string() + ": does not fit in memory: it needs at least " + GiB(need) +
                       " (one layer of " + GiB(layer_bytes) + " in float32 and the working memory of a short prompt), " +
                       "but " + GiB(avail) + " is available");
  }

  auto parts = std::make_unique<MappedModel::Parts>();
  parts->cfg = c;
  parts->resident_layers = resident;
  parts->stores.reserve(n_layers);
  for (int l = 0; l < n_layers; ++l) {
    if (l == 0 || l <= resident)
      parts->stores.push_back(l == 0 ? first : MakeLayerStore(c));  // the first non-resident one is the slot
    else
      parts->stores.push_back(parts->stores[resident]);
  }
  std::map<std::string, torch::Tensor> sd;
  for (int l = 0; l < n_layers; ++l)
    for (const auto& [name, t] : parts->stores[l].params) sd[L(l) + name] = t;
  // Placeholders with the right sizes and no memory: these stay mapped.
  const torch::Tensor none = torch::zeros({1});
  sd["embed.W_E"] = none.expand({c.d_vocab, D});
  if (!c.tied_embeddings) sd["unembed.W_U"] = none.expand({D, c.d_vocab_out});
  auto global = [&](const std::string& name, std::vector<int64_t> shape) {
    parts->globals[name] = sd[name] = torch::empty(shape);
  };
  if (c.positional_embedding == "standard") global("pos_embed.W_pos", {c.n_ctx, D});
  if (c.final_norm) {
    global("ln_final.w", {D});
    if (c.normalization == "LN") global("ln_final.b", {D});
  }
  if (c.unembed_bias) global("unembed.b_U", {c.d_vocab_out});

  MapBuilder builder(c, sd);
  const WeightMap map = BuildWeightMap(pc.model_type, builder, *ck);
  std::map<std::string, int> written;
  for (const auto& s : map.specs)
    for (const auto& t : s.targets) ++written[t];
  for (const auto& [name, p] : sd)
    if (written[name] != 1)
      throw std::logic_error("hf_loader: " + pc.model_type + " mapping writes parameter '" + name + "' " +
                             std::to_string(written[name]) + " times");
  CheckCheckpoint(*ck, map, pc.model_type);

  auto scratch = std::make_shared<std::vector<float>>();
  // One pass from the mapped file into the store: copy_ converts F16/BF16 to
  // float32 as it copies (the store has the file's layout, so it is a
  // straight vectorised run); other dtypes go through a float32 scratch.
  auto convert = [ck, scratch](const std::string& hf, const std::function<void(const torch::Tensor&)>& assign) {
    const Checkpoint::Where& where = ck->tensors.at(hf);
    const io::MappedSafetensors& file = ck->files[where.file];
    const io::MappedTensor& t = *where.tensor;
    file.Prefetch(t);
    const torch::ScalarType type = t.dtype == io::DType::BF16  ? torch::kBFloat16
                                   : t.dtype == io::DType::F16 ? torch::kHalf
                                   : t.dtype == io::DType::F32 ? torch::kFloat
                                                               : torch::kByte;
    if (type != torch::kByte) {
      assign(torch::from_blob(const_cast<uint8_t*>(t.data), t.shape, type));
    } else {
      scratch->resize(t.numel());
      file.ToFloat32(t, scratch->data(), scratch->size());
      assign(torch::from_blob(scratch->data(), t.shape, torch::kFloat32));
    }
    file.DropPages(t);
  };
  // Rows of a mapped [rows, d_model] file tensor, converted on demand.
  auto rows_of = [ck](const std::string& hf) {
    const Checkpoint::Where& where = ck->tensors.at(hf);
    return std::make_pair(&ck->files[where.file], where.tensor);
  };
  parts->fill.resize(n_layers);
  std::set<std::string> counted;
  for (const WeightSpec& s : map.specs) {
    counted.insert(s.name);
    const std::string& target = s.targets.front();
    if (target == "embed.W_E") {
      const auto [file, t] = rows_of(s.name);
      parts->embed_rows = [ck, t = t, D](const int64_t* ids, int64_t n, float* out) {
        const size_t row_bytes = size_t(D) * io::DTypeSize(t->dtype);
        for (int64_t i = 0; i < n; ++i) io::ConvertToFloat32(t->dtype, t->data + size_t(ids[i]) * row_bytes, D, out + i * D);
      };
      if (c.tied_embeddings)
        parts->unembed_rows = [ck, t = t, D](int64_t row0, int64_t n, float* out) {
          io::ConvertToFloat32(t->dtype, t->data + size_t(row0) * D * io::DTypeSize(t->dtype), size_t(n * D), out);
        };
    } else if (target == "unembed.W_U") {
      const auto [file, t] = rows_of(s.name);
      parts->unembed_rows = [ck, t = t, D](int64_t row0, int64_t n, float* out) {
        io::ConvertToFloat32(t->dtype, t->data + size_t(row0) * D * io::DTypeSize(t->dtype), size_t(n * D), out);
      };
    } else if (target.rfind("blocks.", 0) == 0) {
      const int l = std::stoi(target.substr(7));
      parts->fill[l].push_back([convert, name = s.name, assign = s.assign] { convert(name, assign); });
    } else {
      convert(s.name, s.assign);  // small globals, now
    }
  }
  parts->info = BasicInfo(dir, pc, *ck);
  parts->info.dtype_on_disk = DTypesOnDisk(*ck, [&](const std::string& n) { return counted.count(n) != 0; });
  parts->info.n_params = CountParams(c);
  parts->files = ck;
  return std::make_unique<MappedModel>(std::move(parts));
}

}  // namespace hs::model
