// Tests: mapped safetensors files, and Hugging Face model folders loaded by
// hf_loader compared with an independent forward. tests/analysis/hf_reference.py
// writes small random models in each architecture's exact hub layout and the
// logits, attention patterns and post-rotary q/k of a forward written there
// from transformers' modeling code; here each folder goes through LoadHFModel
// and HookedTransformer::forward_with_cache. Broken folders must give errors
// naming the file, the tensor, what was expected and what was found.
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/mapped_safetensors.h"
#include "io/npz.h"
#include "io/safetensors.h"
#include "model/hf_loader.h"
#include "model/hooked_transformer.h"
#include "model/tensor_io.h"
#include "test_util.h"

using namespace hs;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Writes the named fixtures (see hf_reference.py) under `dir`; with `broken`,
// also each one's reference_broken.npz (the reference with one deliberate
// mistake, described in reference_broken.txt).
void MakeFixtures(const fs::path& dir, const std::vector<std::string>& names, bool broken = false) {
  const int rc = test::WriteHfFixtures(dir, names, broken);
  INFO(io::ReadFile(dir / "hf_reference.log"));
  REQUIRE(rc == 0);
}

// max |got - ref| / max |ref| (so one tolerance fits logits and q/k alike),
// with the worst element's position for a readable failure.
struct Diff {
  double rel = 0;
  std::string where;
};
Diff Compare(const torch::Tensor& got, const torch::Tensor& ref) {
  REQUIRE(got.sizes() == ref.sizes());
  const torch::Tensor d = (got.to(torch::kFloat64) - ref.to(torch::kFloat64)).abs();
  const double scale = std::max(ref.abs().max().item<double>(), 1e-12);
  const int64_t i = d.flatten().argmax().item<int64_t>();
  std::string idx;
  int64_t rest = i;
  for (int64_t k = got.dim() - 1; k >= 0; --k) {
    idx = std::to_string(rest % got.size(k)) + (idx.empty() ? "" : ", ") + idx;
    rest /= got.size(k);
  }
  return {d.flatten()[i].item<double>() / scale, "at [" + idx + "]: got " +
                                                     std::to_string(got.flatten()[i].item<double>()) + ", reference " +
                                                     std::to_string(ref.flatten()[i].item<double>())};
}

struct FixtureErrors {
  double logits = 0, pattern = 0, qk = 0;
};

// The relative error against the reference with a deliberate mistake (a
// missing window, w for 1 + w, ...) must be far above the tolerance: the
// comparison can tell the architecture's details apart.
void CheckCatchesBroken(const fs::path& folder, const torch::Tensor& logits, model::ActivationCache& cache,
                        int n_layers, double tol) {
  const io::NpzArchive broken = io::ReadNpz(folder / "reference_broken.npz");
  double worst = 0;
  std::string where = "logits";
  auto see = [&](const torch::Tensor& got, const std::string& key) {
    const Diff d = Compare(got, model::FromArray(broken.at(key)));
    if (d.rel > worst) worst = d.rel, where = key;
  };
  see(logits, "logits");
  for (int l = 0; l < n_layers; ++l) see(cache["blocks." + std::to_string(l) + ".attn.hook_pattern"], "pattern_" + std::to_string(l));
  std::string what = io::ReadFile(folder / "reference_broken.txt");
  while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
  INFO(folder.filename().string() << ": broken reference (" << what << ")");
  CHECK(worst > 1000 * tol);
  std::printf("hf %-20s catches the broken reference \"%s\": %.1e in %s\n", folder.filename().string().c_str(),
              what.c_str(), worst, where.c_str());
}

// Loads fixture `name` and checks it against reference.npz (and, when the
// folder has one, that reference_broken.npz is told apart); returns the
// worst relative errors it saw.
FixtureErrors CheckAgainstReference(const fs::path& folder, double tol = 1e-6) {
  const io::NpzArchive ref = io::ReadNpz(folder / "reference.npz");
  model::LoadedModel lm = model::LoadHFModel(folder);
  model::HookedTransformer net(lm.model);
  torch::NoGradGuard no_grad;
  const torch::Tensor tokens = model::FromArray(ref.at("tokens"));  // [batch, pos]
  model::ActivationCache cache;
  const torch::Tensor logits = net->forward_with_cache(tokens, cache);  // [batch, pos, d_vocab]
  FixtureErrors err;
  auto check = [&](const torch::Tensor& got, const std::string& key, double* worst) {
    INFO(folder.filename().string() << ": " << key);
    const Diff d = Compare(got, model::FromArray(ref.at(key)));
    INFO("relative error " << d.rel << " " << d.where);
    CHECK(d.rel < tol);
    *worst = std::max(*worst, d.rel);
  };
  check(logits, "logits", &err.logits);
  for (int l = 0; l < lm.cfg.n_layers; ++l) {
    const std::string L = std::to_string(l);
    check(cache["blocks." + L + ".attn.hook_pattern"], "pattern_" + L, &err.pattern);  // [batch, head, q, k]
    check(cache["blocks." + L + ".attn.hook_q"], "q_" + L, &err.qk);                   // [batch, pos, head, d_head]
    check(cache["blocks." + L + ".attn.hook_k"], "k_" + L, &err.qk);                   // [batch, pos, kv_head, d_head]
  }
  std::printf("hf %-20s logits %.1e  patterns %.1e  q/k %.1e (max |diff| / max |ref|)\n",
              folder.filename().string().c_str(), err.logits, err.pattern, err.qk);
  if (fs::exists(folder / "reference_broken.npz")) CheckCatchesBroken(folder, logits, cache, lm.cfg.n_layers, tol);
  // The torch-free views agree with the loaded model.
  const model::HFModelInfo info = model::ReadHFModelInfo(folder);
  CHECK(info.n_params == lm.info.n_params);
  CHECK(info.dtype_on_disk == lm.info.dtype_on_disk);
  CHECK(json(model::ReadHFConfig(folder)).dump() == json(lm.cfg).dump());
  return err;
}

// Every message check names the substrings that must appear.
void ExpectLoadError(const fs::path& folder, const std::vector<std::string>& needles) {
  try {
    model::LoadHFModel(folder);
    FAIL("no error loading " << folder);
  } catch (const io::IoError& e) {
    const std::string msg = e.what();
    INFO("message: " << msg);
    for (const auto& n : needles) {
      INFO("expected to contain: " << n);
      CHECK(msg.find(n) != std::string::npos);
    }
  }
}

fs::path CopyFolder(const fs::path& from, const fs::path& to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
  return to;
}

json ReadJson(const fs::path& p) { return json::parse(io::ReadFile(p)); }
void WriteText(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary | std::ios::trunc) << s; }

}  // namespace

// [SECTION] mapped safetensors

TEST_CASE("mapped safetensors: views into the mapping, every F16 and BF16 bit pattern converted exactly",
          "[io][safetensors][hf]") {
  test::TempDir dir("mapped");
  io::SafetensorsFile f;
  std::vector<uint16_t> all(65536);
  for (uint32_t i = 0; i < 65536; ++i) all[i] = static_cast<uint16_t>(i);
  for (io::DType t : {io::DType::F16, io::DType::BF16}) {
    io::Array a = io::Array::Zeros(t, {256, 256});
    std::memcpy(a.bytes.data(), all.data(), a.bytes.size());
    f.tensors[t == io::DType::F16 ? "f16" : "bf16"] = a;
  }
  std::vector<float> w(7 * 5);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(float(i)) * 1e3f;
  f.tensors["f32"] = io::Array::F32({7, 5}, w);
  f.tensors["i64"] = io::Array::I64({3}, {-5, 0, 1LL << 40});
  f.tensors["scalar"] = io::Array::F32({}, std::vector<float>{-2.5f});
  const fs::path p = dir.path / "all.safetensors";
  io::WriteSafetensors(p, f);

  io::MappedSafetensors m(p);
  REQUIRE(m.tensors().size() == f.tensors.size());
  const std::string raw = io::ReadFile(p);
  for (const auto& [name, a] : f.tensors) {
    INFO("tensor " << name);
    const io::MappedTensor& t = m.At(name);
    CHECK(t.dtype == a.dtype);
    CHECK(t.shape == a.shape);
    REQUIRE(t.nbytes == a.bytes.size());
    CHECK(std::memcmp(t.data, a.bytes.data(), t.nbytes) == 0);
    CHECK(std::memcmp(raw.data() + t.file_offset, a.bytes.data(), t.nbytes) == 0);
  }
  // F16 and BF16 against torch's own conversions, bit for bit (NaN: NaN).
  for (const char* name : {"f16", "bf16"}) {
    INFO("dtype " << name);
    const io::MappedTensor& t = m.At(name);
    std::vector<float> got(t.numel());
    m.ToFloat32(t, got.data(), got.size());
    const auto st = std::string(name) == "f16" ? torch::kFloat16 : torch::kBFloat16;
    const torch::Tensor want = torch::from_blob(all.data(), {65536}, st).to(torch::kFloat32).contiguous();
    int mismatches = 0;
    for (int i = 0; i < 65536; ++i) {
      const float a = got[i], b = want.data_ptr<float>()[i];
      const bool same = std::isnan(b) ? std::isnan(a) : std::memcmp(&a, &b, 4) == 0;
      if (!same && mismatches++ < 5) FAIL_CHECK("bits 0x" << std::hex << i << ": got " << a << ", torch " << b);
    }
    CHECK(mismatches == 0);
    // The pages can be dropped and the data read again.
    m.DropPages(t);
    std::vector<float> again(t.numel());
    m.ToFloat32(t, again.data(), again.size());
    CHECK(std::memcmp(again.data(), got.data(), 4 * got.size()) == 0);
  }
  std::vector<float> ints(3), scalar(1), f32(35);
  m.ToFloat32(m.At("i64"), ints.data(), 3);
  CHECK(ints == std::vector<float>{-5.f, 0.f, float(1LL << 40)});
  m.ToFloat32(m.At("scalar"), scalar.data(), 1);
  CHECK(scalar[0] == -2.5f);
  m.ToFloat32(m.At("f32"), f32.data(), 35);
  CHECK(f32 == w);
  CHECK_THROWS_WITH(m.ToFloat32(m.At("f32"), f32.data(), 34),
                    Catch::Contains("all.safetensors") && Catch::Contains("'f32'") && Catch::Contains("34"));
  CHECK_THROWS_WITH(m.At("nope"), Catch::Contains("all.safetensors") && Catch::Contains("'nope'"));

  // A header whose length leaves the data buffer unaligned still converts.
  const std::string header =
      R"({"x":{"dtype":"BF16","shape":[3],"data_offsets":[0,6]},"y":{"dtype":"F16","shape":[2],"data_offsets":[6,10]}})";
  std::string bytes(8, '\0');
  const uint64_t n = header.size();  // 103: the data starts at an odd offset
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  bytes += header;
  const uint16_t vals[5] = {0x3f80, 0xc040, 0x7f80, 0x3c00, 0x0001};  // bf16 1, -3, inf; f16 1, 2^-24
  bytes.append(reinterpret_cast<const char*>(vals), sizeof(vals));
  WriteText(dir.path / "odd.safetensors", bytes);
  io::MappedSafetensors odd(dir.path / "odd.safetensors");
  REQUIRE(odd.At("x").file_offset % 2 == 1);
  std::vector<float> x(3), y(2);
  odd.ToFloat32(odd.At("x"), x.data(), 3);
  odd.ToFloat32(odd.At("y"), y.data(), 2);
  CHECK(x[0] == 1.f);
  CHECK(x[1] == -3.f);
  CHECK(std::isinf(x[2]));
  CHECK(y[0] == 1.f);
  CHECK(y[1] == std::ldexp(1.f, -24));
}

TEST_CASE("mapped safetensors: missing, truncated and malformed files name the file and tensor",
          "[io][safetensors][hf]") {
  test::TempDir dir("mappedbad");
  CHECK_THROWS_WITH(io::MappedSafetensors(dir.path / "none.safetensors"),
                    Catch::Contains("none.safetensors") && Catch::Contains("cannot open"));
  io::SafetensorsFile f;
  f.tensors["blocks.0.w"] = io::Array::F32({4, 4}, std::vector<float>(16, 1.f));
  const std::string good = io::SerializeSafetensors(f);
  WriteText(dir.path / "cut.safetensors", good.substr(0, good.size() - 3));
  CHECK_THROWS_WITH(io::MappedSafetensors(dir.path / "cut.safetensors"), Catch::Contains("cut.safetensors") &&
                                                                             Catch::Contains("'blocks.0.w'") &&
                                                                             Catch::Contains("truncated"));
  WriteText(dir.path / "empty.safetensors", "");
  CHECK_THROWS_WITH(io::MappedSafetensors(dir.path / "empty.safetensors"), Catch::Contains("empty.safetensors"));
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((uint64_t(header.size()) >> (8 * i)) & 0xff);
  WriteText(dir.path / "overlap.safetensors", bytes + header + std::string(12, '\0'));
  CHECK_THROWS_WITH(io::MappedSafetensors(dir.path / "overlap.safetensors"),
                    Catch::Contains("overlap.safetensors") && Catch::Contains("'a'") && Catch::Contains("'b'") &&
                        Catch::Contains("overlap"));
  io::WriteSafetensors(dir.path / "ok.safetensors", f);
  io::MappedSafetensors a(dir.path / "ok.safetensors");
  io::MappedSafetensors moved = std::move(a);
  CHECK(a.tensors().empty());
  CHECK(moved.At("blocks.0.w").numel() == 16);
}

// [SECTION] architectures against the reference forward

TEST_CASE("HF gpt2 folders (no prefix, transformer. prefix with a tied lm_head, 3 shards untied) match the reference",
          "[model][hf]") {
  test::TempDir dir("hf_gpt2");
  MakeFixtures(dir.path, {"gpt2", "gpt2_prefix", "gpt2_sharded"}, true);
  CheckAgainstReference(dir.path / "gpt2");
  CheckAgainstReference(dir.path / "gpt2_prefix");
  CheckAgainstReference(dir.path / "gpt2_sharded");

  const model::LoadedModel m = model::LoadHFModel(dir.path / "gpt2");
  CHECK(m.cfg.normalization == "LN");
  CHECK(m.cfg.act_fn == "gelu_new");
  CHECK(m.cfg.tied_embeddings);
  CHECK(m.cfg.n_ctx == 32);
  CHECK(m.cfg.d_mlp == 256);
  CHECK(m.info.model_type == "gpt2");
  CHECK(m.info.architectures == std::vector<std::string>{"GPT2LMHeadModel"});
  CHECK(m.info.dtype_on_disk == "F32");
  CHECK(m.info.bos_token_id == 96);
  CHECK(m.info.eos_token_ids == std::vector<int64_t>{96});
  CHECK(m.info.weight_files.size() == 1);
  // Weights converted straight into parameter memory still count as writes
  // for caches keyed on the tensor version (the packed q/k/v of the forward).
  CHECK(m.model->embed->W_E._version() > 0);
  CHECK(m.model->block(0).attn->W_O._version() > 0);
  // HF counts the same parameters: wte, wpe, 2 x (2 LN, c_attn, c_proj, c_fc, c_proj), ln_f.
  const int64_t d = 64, V = 97;
  CHECK(m.info.n_params == V * d + 32 * d +
                               2 * (4 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d)) +
                               2 * d);
  const auto sharded = model::ReadHFModelInfo(dir.path / "gpt2_sharded");
  CHECK(sharded.weight_files.size() == 3);
  CHECK_FALSE(model::ReadHFConfig(dir.path / "gpt2_sharded").tied_embeddings);
  CHECK(model::ReadHFModelInfo(dir.path / "gpt2_prefix").dtype_on_disk == "F16");
}

TEST_CASE("HF llama folder (GQA, llama3 rope scaling, F16, tied) matches the reference", "[model][hf]") {
  test::TempDir dir("hf_llama");
  MakeFixtures(dir.path, {"llama"}, true);
  CheckAgainstReference(dir.path / "llama");
  const model::TransformerConfig c = model::ReadHFConfig(dir.path / "llama");
  CHECK(c.n_key_value_heads == 2);
  CHECK(c.NumKVHeads() == 2);
  CHECK(c.rope_scaling_factor == 8.0);
  CHECK(c.rope_original_max_position == 64);
  CHECK(c.rotary_base == 500000.0);
  CHECK(c.gated_mlp);
  CHECK(c.act_fn == "silu");
  CHECK(c.normalization == "RMS");
  CHECK(c.tied_embeddings);
  const auto info = model::ReadHFModelInfo(dir.path / "llama");
  CHECK(info.dtype_on_disk == "F16");  // the F32 inv_freq buffers are not weights
  CHECK(info.eos_token_ids == std::vector<int64_t>{2, 3});
}

TEST_CASE("HF qwen2 folder (q/k/v biases, BF16, tied) matches the reference", "[model][hf]") {
  test::TempDir dir("hf_qwen2");
  MakeFixtures(dir.path, {"qwen2"}, true);
  CheckAgainstReference(dir.path / "qwen2");
  const model::TransformerConfig c = model::ReadHFConfig(dir.path / "qwen2");
  CHECK(c.attn_qkv_bias);
  CHECK_FALSE(c.attn_out_bias);
  CHECK(c.rotary_base == 1e6);
  CHECK(model::ReadHFModelInfo(dir.path / "qwen2").dtype_on_disk == "BF16");
}

TEST_CASE("HF qwen3 folder (q/k norms, head_dim != hidden/heads, BF16, untied) matches the reference", "[model][hf]") {
  test::TempDir dir("hf_qwen3");
  MakeFixtures(dir.path, {"qwen3"}, true);
  CheckAgainstReference(dir.path / "qwen3");
  const model::TransformerConfig c = model::ReadHFConfig(dir.path / "qwen3");
  CHECK(c.d_head == 16);
  CHECK(c.d_model == 48);
  CHECK(c.qk_norm);
  CHECK_FALSE(c.tied_embeddings);
  CHECK_FALSE(c.attn_qkv_bias);
}

TEST_CASE("HF gpt_neox folders (rotary_pct 0.25 parallel F16, rotary_pct 0.5 sequential F32) match the reference",
          "[model][hf]") {
  test::TempDir dir("hf_neox");
  MakeFixtures(dir.path, {"gpt_neox", "gpt_neox_sequential"}, true);
  CheckAgainstReference(dir.path / "gpt_neox");
  CheckAgainstReference(dir.path / "gpt_neox_sequential");
  const model::TransformerConfig c = model::ReadHFConfig(dir.path / "gpt_neox");
  CHECK(c.rotary_dim == 4);
  CHECK(c.parallel_attn_mlp);
  CHECK(c.act_fn == "gelu");
  CHECK_FALSE(c.tied_embeddings);
  CHECK_FALSE(model::ReadHFConfig(dir.path / "gpt_neox_sequential").parallel_attn_mlp);
  CHECK(model::ReadHFConfig(dir.path / "gpt_neox_sequential").rotary_dim == 8);
  CHECK(model::ReadHFModelInfo(dir.path / "gpt_neox").dtype_on_disk == "F16");
}

TEST_CASE("HF opt folder (positions offset by 2, ReLU, pre-LN, tied) matches the reference", "[model][hf]") {
  test::TempDir dir("hf_opt");
  MakeFixtures(dir.path, {"opt"}, true);
  CheckAgainstReference(dir.path / "opt");
  const model::LoadedModel m = model::LoadHFModel(dir.path / "opt");
  CHECK(m.cfg.n_ctx == 32);
  CHECK(m.cfg.act_fn == "relu");
  CHECK(m.info.pad_token_id == 1);
  // W_pos row i is the file's row i + 2.
  io::MappedSafetensors f(dir.path / "opt" / "model.safetensors");
  const io::MappedTensor& pos = f.At("model.decoder.embed_positions.weight");
  std::vector<float> rows(pos.numel());
  f.ToFloat32(pos, rows.data(), rows.size());
  const torch::Tensor file_pos = torch::from_blob(rows.data(), {34, 64});
  CHECK(torch::equal(m.model->pos_embed->W_pos, file_pos.narrow(0, 2, 32)));
}

TEST_CASE("HF mistral folders (sliding window 5 < 12 tokens, GQA, head_dim key, BF16; sliding_window null, F16) "
          "match the reference",
          "[model][hf]") {
  test::TempDir dir("hf_mistral");
  MakeFixtures(dir.path, {"mistral", "mistral_nowindow"}, true);
  CheckAgainstReference(dir.path / "mistral");
  CheckAgainstReference(dir.path / "mistral_nowindow");
  const model::TransformerConfig c = model::ReadHFConfig(dir.path / "mistral");
  CHECK(c.sliding_window == 5);
  CHECK(c.Window(0) == 5);
  CHECK(c.Window(1) == 5);
  CHECK(c.n_key_value_heads == 2);
  CHECK(c.d_head == 16);
  CHECK_FALSE(c.tied_embeddings);
  CHECK(model::ReadHFConfig(dir.path / "mistral_nowindow").sliding_window == 0);
  {  // without the key: MistralConfig's default window, 4096
    json j = ReadJson(dir.path / "mistral" / "config.json");
    j.erase("sliding_window");
    const fs::path d = CopyFolder(dir.path / "mistral", dir.path / "mistral_nokey");
    WriteText(d / "config.json", j.dump());
    CHECK(model::ReadHFConfig(d).sliding_window == 4096);
  }
  CHECK(model::ReadHFModelInfo(dir.path / "mistral").dtype_on_disk == "BF16");
  // The window masks: row 11 of every layer's pattern has no weight on keys 0..6.
  model::LoadedModel m = model::LoadHFModel(dir.path / "mistral");
  torch::NoGradGuard no_grad;
  model::ActivationCache cache;
  m.model->forward_with_cache(model::FromArray(io::ReadNpz(dir.path / "mistral" / "reference.npz").at("tokens")), cache);
  const torch::Tensor row = cache["blocks.1.attn.hook_pattern"].select(2, 11);  // [batch, head, key]
  CHECK(row.narrow(-1, 0, 7).abs().max().item<double>() == 0.0);
  CHECK(row.sum(-1).sub(1).abs().max().item<double>() < 1e-6);
}

TEST_CASE("HF gemma folder (sqrt(d) embedding scale, (1 + w) norms, tanh GeGLU, head_dim 16, MQA, tied, BF16) "
          "matches the reference",
          "[model][hf]") {
  test::TempDir dir("hf_gemma");
  MakeFixtures(dir.path, {"gemma"}, true);
  CheckAgainstReference(dir.path / "gemma");
  const model::TransformerConfig c = model::ReadHFConfig(dir.path / "gemma");
  CHECK(c.act_fn == "gelu_new");  // hidden_activation gelu_pytorch_tanh, not hidden_act gelu
  CHECK(c.d_head == 16);
  CHECK(c.d_model == 48);
  CHECK(c.NumKVHeads() == 1);
  CHECK(c.tied_embeddings);
  CHECK(c.embed_scale == double(float(std::sqrt(48.0))));
  CHECK(c.sliding_window == 0);
}

TEST_CASE("HF gemma2 folder (pre and post norms, attention and final soft-capping, query_pre_attn_scalar, "
          "alternating windows) matches the reference",
          "[model][hf]") {
  test::TempDir dir("hf_gemma2");
  MakeFixtures(dir.path, {"gemma2"}, true);
  CheckAgainstReference(dir.path / "gemma2");
  const model::TransformerConfig c = model::ReadHFConfig(dir.path / "gemma2");
  CHECK(c.post_norms);
  CHECK(c.attn_softcap > 0);
  CHECK(c.final_softcap > 0);
  CHECK(c.attn_scale != 1.0 / std::sqrt(double(c.d_head)));
  CHECK(c.Window(0) > 0);
  CHECK(c.Window(1) == 0);
  // Soft-capped logits stay inside the cap, and patterns are probabilities.
  model::LoadedModel m = model::LoadHFModel(dir.path / "gemma2");
  torch::NoGradGuard no_grad;
  model::ActivationCache cache;
  const torch::Tensor logits = m.model->forward_with_cache(
      model::FromArray(io::ReadNpz(dir.path / "gemma2" / "reference.npz").at("tokens")), cache);
  CHECK(logits.abs().max().item<double>() < c.final_softcap);
  for (int l = 0; l < c.n_layers; ++l) {
    const torch::Tensor p = cache("pattern", l);
    CHECK(p.min().item<double>() >= 0);
    CHECK(p.sum(-1).sub(1).abs().max().item<double>() < 1e-6);
  }
  // null soft-caps are none (transformers' None); absent ones are Gemma2Config's 50 and 30.
  json j = ReadJson(dir.path / "gemma2" / "config.json");
  const fs::path caps = CopyFolder(dir.path / "gemma2", dir.path / "gemma2_caps");
  j["attn_logit_softcapping"] = nullptr;
  j.erase("final_logit_softcapping");
  WriteText(caps / "config.json", j.dump());
  CHECK(model::ReadHFConfig(caps).attn_softcap == 0);
  CHECK(model::ReadHFConfig(caps).final_softcap == 30);
  // A layer_types list other than the alternation is refused, by name.
  j = ReadJson(dir.path / "gemma2" / "config.json");
  j["layer_types"] = std::vector<std::string>(c.n_layers, "full_attention");
  const fs::path d = CopyFolder(dir.path / "gemma2", dir.path / "gemma2_types");
  WriteText(d / "config.json", j.dump());
  ExpectLoadError(d, {"config.json", "layer_types", "not supported"});
}

TEST_CASE("HF phi3 folders (fused qkv_proj and gate_up_proj, sliding window; longrope with partial rotary) match "
          "the reference",
          "[model][hf]") {
  test::TempDir dir("hf_phi3");
  MakeFixtures(dir.path, {"phi3", "phi3_longrope"}, true);
  CheckAgainstReference(dir.path / "phi3");
  CheckAgainstReference(dir.path / "phi3_longrope");
  const model::TransformerConfig c = model::ReadHFConfig(dir.path / "phi3");
  CHECK(c.sliding_window > 0);
  CHECK_FALSE(c.LongRope());
  const model::TransformerConfig lr = model::ReadHFConfig(dir.path / "phi3_longrope");
  CHECK(lr.LongRope());
  CHECK(lr.rope_original_max_position == 8);
  CHECK(lr.RotaryDim() < lr.d_head);
  CHECK(lr.rope_attention_factor > 1);
  // Rope types headscope does not implement are refused by name.
  json j = ReadJson(dir.path / "phi3_longrope" / "config.json");
  j["rope_scaling"]["type"] = "yarn";
  const fs::path d = CopyFolder(dir.path / "phi3_longrope", dir.path / "phi3_yarn");
  WriteText(d / "config.json", j.dump());
  ExpectLoadError(d, {"config.json", "rope_scaling", "yarn", "longrope"});
  j = ReadJson(dir.path / "phi3_longrope" / "config.json");
  j["rope_scaling"]["long_factor"].erase(0);
  WriteText(d / "config.json", j.dump());
  ExpectLoadError(d, {"config.json", "long_factor", "rotary_dim / 2"});
}

// [SECTION] broken folders

TEST_CASE("HF loader: broken folders give errors naming the file, the tensor, the expected and the found",
          "[model][hf]") {
  test::TempDir dir("hf_broken");
  MakeFixtures(dir.path, {"gpt2", "gpt2_sharded", "opt", "llama"});
  const fs::path gpt2 = dir.path / "gpt2", sharded = dir.path / "gpt2_sharded";

  SECTION("missing tensor") {
    const fs::path d = CopyFolder(gpt2, dir.path / "missing");
    io::SafetensorsFile f = io::ReadSafetensors(d / "model.safetensors");
    f.tensors.erase("h.1.mlp.c_fc.weight");
    io::WriteSafetensors(d / "model.safetensors", f);
    ExpectLoadError(d, {"model.safetensors", "missing tensor 'h.1.mlp.c_fc.weight'", "(64, 256)", "gpt2"});
  }
  SECTION("wrong shape") {
    const fs::path d = CopyFolder(gpt2, dir.path / "shape");
    io::SafetensorsFile f = io::ReadSafetensors(d / "model.safetensors");
    f.tensors["h.0.attn.c_attn.weight"] = io::Array::Zeros(io::DType::F32, {64, 191});
    io::WriteSafetensors(d / "model.safetensors", f);
    ExpectLoadError(d, {"model.safetensors", "'h.0.attn.c_attn.weight'", "(64, 191)", "(64, 192)"});
  }
  SECTION("unexpected tensor") {
    const fs::path d = CopyFolder(gpt2, dir.path / "extra");
    io::SafetensorsFile f = io::ReadSafetensors(d / "model.safetensors");
    f.tensors["h.0.attn.c_attn.extra_bias"] = io::Array::Zeros(io::DType::F32, {3});
    io::WriteSafetensors(d / "model.safetensors", f);
    ExpectLoadError(d, {"model.safetensors", "unexpected tensor 'h.0.attn.c_attn.extra_bias'"});
  }
  SECTION("integer weights") {
    const fs::path d = CopyFolder(gpt2, dir.path / "ints");
    io::SafetensorsFile f = io::ReadSafetensors(d / "model.safetensors");
    f.tensors["ln_f.weight"] = io::Array::Zeros(io::DType::I32, {64});
    io::WriteSafetensors(d / "model.safetensors", f);
    ExpectLoadError(d, {"model.safetensors", "'ln_f.weight'", "I32", "F32, F16 or BF16"});
  }
  SECTION("unknown model_type") {
    const fs::path d = CopyFolder(gpt2, dir.path / "bloom");
    json c = ReadJson(d / "config.json");
    c["model_type"] = "bloom";
    WriteText(d / "config.json", c.dump());
    ExpectLoadError(d, {"config.json", "\"bloom\"", "gpt2, llama, qwen2, qwen3, mistral, gemma, gemma2, phi3, gpt_neox, opt"});
    CHECK_THROWS_WITH(model::ReadHFConfig(d), Catch::Contains("bloom"));
  }
  SECTION("bad JSON") {
    const fs::path d = CopyFolder(gpt2, dir.path / "badjson");
    WriteText(d / "config.json", "{\"model_type\": \"gpt2\", ");
    ExpectLoadError(d, {"config.json", "not valid JSON"});
    const fs::path s = CopyFolder(sharded, dir.path / "badindex");
    WriteText(s / "model.safetensors.index.json", "{\"weight_map\": [");
    ExpectLoadError(s, {"model.safetensors.index.json", "not valid JSON"});
  }
  SECTION("a config key missing or unsupported") {
    const fs::path d = CopyFolder(gpt2, dir.path / "nokey");
    json c = ReadJson(d / "config.json");
    c.erase("n_embd");
    WriteText(d / "config.json", c.dump());
    ExpectLoadError(d, {"config.json", "\"n_embd\""});
    const fs::path o = CopyFolder(dir.path / "opt", dir.path / "opt350");
    c = ReadJson(o / "config.json");
    c["do_layer_norm_before"] = false;
    WriteText(o / "config.json", c.dump());
    ExpectLoadError(o, {"config.json", "do_layer_norm_before", "not supported"});
    c["do_layer_norm_before"] = true;
    c["word_embed_proj_dim"] = 32;
    WriteText(o / "config.json", c.dump());
    ExpectLoadError(o, {"config.json", "word_embed_proj_dim", "32", "project_in"});
    const fs::path l = CopyFolder(dir.path / "llama", dir.path / "yarn");
    c = ReadJson(l / "config.json");
    c["rope_scaling"]["rope_type"] = "yarn";
    WriteText(l / "config.json", c.dump());
    ExpectLoadError(l, {"config.json", "rope_scaling", "yarn"});
    c = ReadJson(gpt2 / "config.json");
    c["activation_function"] = "quick_gelu";
    const fs::path a = CopyFolder(gpt2, dir.path / "act");
    WriteText(a / "config.json", c.dump());
    ExpectLoadError(a, {"config.json", "activation_function", "quick_gelu"});
  }
  SECTION("truncated shard") {
    const fs::path d = CopyFolder(sharded, dir.path / "truncated");
    const fs::path shard = d / "model-00002-of-00003.safetensors";
    fs::resize_file(shard, fs::file_size(shard) - 100);
    ExpectLoadError(d, {"model-00002-of-00003.safetensors", "truncated"});
  }
  SECTION("shard listed in the index but absent") {
    const fs::path d = CopyFolder(sharded, dir.path / "noshard");
    fs::remove(d / "model-00003-of-00003.safetensors");
    ExpectLoadError(d, {"model.safetensors.index.json", "'model-00003-of-00003.safetensors'", "missing"});
  }
  SECTION("index places a tensor in a shard that lacks it") {
    const fs::path d = CopyFolder(sharded, dir.path / "misplaced");
    json idx = ReadJson(d / "model.safetensors.index.json");
    idx["weight_map"]["transformer.ln_f.weight"] = "model-00001-of-00003.safetensors";
    WriteText(d / "model.safetensors.index.json", idx.dump());
    ExpectLoadError(d, {"model-00001-of-00003.safetensors", "'transformer.ln_f.weight'"});
  }
  SECTION("tensor missing from every shard") {
    const fs::path d = CopyFolder(sharded, dir.path / "unlisted");
    json idx = ReadJson(d / "model.safetensors.index.json");
    const std::string shard = idx["weight_map"]["lm_head.weight"];
    idx["weight_map"].erase("lm_head.weight");
    WriteText(d / "model.safetensors.index.json", idx.dump());
    io::SafetensorsFile f = io::ReadSafetensors(d / shard);
    f.tensors.erase("lm_head.weight");
    io::WriteSafetensors(d / shard, f);
    ExpectLoadError(d, {"model.safetensors.index.json", "missing tensor 'lm_head.weight'", "(97, 64)"});
  }
  // Regressions from the corruption pass (tests/analysis/corrupt_inputs.py under ASan/UBSan).
  SECTION("config.json sizes far beyond the weights are refused before anything is allocated") {
    const fs::path d = CopyFolder(gpt2, dir.path / "huge");
    const json good = ReadJson(d / "config.json");
    json c = good;
    c["vocab_size"] = 1 << 28;  // was a 64 GiB embedding allocated before the shape check
    WriteText(d / "config.json", c.dump());
    ExpectLoadError(d, {(d / "config.json").string(), "implies 1.7", "parameters", "hold only"});
    CHECK_THROWS_WITH(model::ReadHFModelInfo(d), Catch::Contains("config.json") && Catch::Contains("implies"));
    c = good;
    c["n_layer"] = 1 << 28;  // 2^28 blocks; the parameter count overflowed int64
    c["n_embd"] = 1 << 20;
    c["n_head"] = 1;
    WriteText(d / "config.json", c.dump());
    ExpectLoadError(d, {(d / "config.json").string(), "implies", "hold only"});
    c = good;
    c["n_embd"] = 1 << 29;  // 4 * n_embd (the default n_inner) overflowed int
    WriteText(d / "config.json", c.dump());
    ExpectLoadError(d, {(d / "config.json").string(), "\"n_embd\"", "at most 2^28"});
  }
  SECTION("deeply nested JSON and non-integer rope positions") {
    const fs::path d = CopyFolder(gpt2, dir.path / "deep");
    std::string text = ReadJson(d / "config.json").dump();
    // 100000 nested brackets parse, but printing the value in the error overflowed the stack.
    text.insert(text.find("\"n_layer\"") + 10, std::string(100000, '[') + std::string(100000, ']') + ", \"x\":");
    WriteText(d / "config.json", text);
    ExpectLoadError(d, {(d / "config.json").string(), "nested deeper than 256 levels"});
    const fs::path l = CopyFolder(dir.path / "llama", dir.path / "rope1e300");
    json c = ReadJson(l / "config.json");
    c["rope_scaling"]["original_max_position_embeddings"] = 1e300;  // get<int>() of it was undefined
    WriteText(l / "config.json", c.dump());
    ExpectLoadError(l, {(l / "config.json").string(), "original_max_position_embeddings in [1, 2^28]"});
  }
  SECTION("pytorch_model.bin only, or no weights") {
    const fs::path d = CopyFolder(gpt2, dir.path / "bin");
    fs::remove(d / "model.safetensors");
    WriteText(d / "pytorch_model.bin", "not really");
    ExpectLoadError(d, {d.string(), "pytorch_model.bin", "save_pretrained(", "safe_serialization=True", "save_file"});
    fs::remove(d / "pytorch_model.bin");
    ExpectLoadError(d, {d.string(), "model.safetensors"});
    ExpectLoadError(dir.path / "no_such_folder", {"no_such_folder", "not a folder"});
  }
}
