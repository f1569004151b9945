// Makes a realistically sized Hugging Face model folder with random weights,
// for benchmarking the language-model side at real sizes without a download.
//
//   bench_lm_scale_make SHAPE OUT_DIR [--seed N]
//
// SHAPE: gpt2-small | qwen2.5-0.5b | llama-3.2-1b | llama-3-8b. The folder has
// the hub's config.json (the real model's keys and sizes), the weights under
// the hub's tensor names, shapes and dtype (llama-3-8b as four hub-style
// shards plus model.safetensors.index.json), and headscope's 257-token byte
// tokenizer from assets/demo_lm (every vocab here is larger), so `headscope
// categorize` and `headscope heads --tokens` can open it.
//
// Weights are N(0, 0.02), biases too, norm weights 1. Values come from an
// inverse-CDF table: 65536 quantiles of N(0, 0.02), indexed by 16-bit slices
// of a xorshift64* stream seeded per tensor (splitmix64 of the seed and the
// tensor name), so a tensor's values do not depend on which shard holds it
// and generation is a table lookup per value (disk speed, not log/cos speed).
//
// The folder is written tensor by tensor into OUT_DIR.tmp (a leftover one from
// a killed run is removed first), every file fsynced, then renamed to OUT_DIR:
// a folder named OUT_DIR is always complete. An existing OUT_DIR is left alone.
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "io/atomic_file.h"

namespace fs = std::filesystem;

namespace {

enum class Fill { Normal, Ones };
enum class DT { F32, BF16 };

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  Fill fill = Fill::Normal;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

struct Shape {
  std::string name;
  DT dtype;
  std::string config_json;
  std::vector<TensorSpec> tensors;
  uint64_t max_shard_bytes = 0;  // 0: one model.safetensors
};

size_t DSize(DT t) { return t == DT::F32 ? 4 : 2; }
const char* DName(DT t) { return t == DT::F32 ? "F32" : "BF16"; }

// ---------------------------------------------------------------- shapes

Shape Gpt2Small() {
  Shape s{"gpt2-small", DT::F32, "", {}, 0};
  const int64_t L = 12, d = 768, V = 50257, P = 1024, m = 4 * d;
  s.tensors.push_back({"wte.weight", {V, d}});
  s.tensors.push_back({"wpe.weight", {P, d}});
  for (int64_t l = 0; l < L; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    s.tensors.push_back({h + "ln_1.weight", {d}, Fill::Ones});
    s.tensors.push_back({h + "ln_1.bias", {d}});
    s.tensors.push_back({h + "attn.c_attn.weight", {d, 3 * d}});  // Conv1D: [in, out]
    s.tensors.push_back({h + "attn.c_attn.bias", {3 * d}});
    s.tensors.push_back({h + "attn.c_proj.weight", {d, d}});
    s.tensors.push_back({h + "attn.c_proj.bias", {d}});
    s.tensors.push_back({h + "ln_2.weight", {d}, Fill::Ones});
    s.tensors.push_back({h + "ln_2.bias", {d}});
    s.tensors.push_back({h + "mlp.c_fc.weight", {d, m}});
    s.tensors.push_back({h + "mlp.c_fc.bias", {m}});
    s.tensors.push_back({h + "mlp.c_proj.weight", {m, d}});
    s.tensors.push_back({h + "mlp.c_proj.bias", {d}});
  }
  s.tensors.push_back({"ln_f.weight", {d}, Fill::Ones});
  s.tensors.push_back({"ln_f.bias", {d}});
  s.config_json = R"({
  "activation_function": "gelu_new",
  "architectures": [
    "GPT2LMHeadModel"
  ],
  "attn_pdrop": 0.1,
  "bos_token_id": 50256,
  "embd_pdrop": 0.1,
  "eos_token_id": 50256,
  "initializer_range": 0.02,
  "layer_norm_epsilon": 1e-05,
  "model_type": "gpt2",
  "n_ctx": 1024,
  "n_embd": 768,
  "n_head": 12,
  "n_inner": null,
  "n_layer": 12,
  "n_positions": 1024,
  "reorder_and_upcast_attn": false,
  "resid_pdrop": 0.1,
  "scale_attn_by_inverse_layer_idx": false,
  "scale_attn_weights": true,
  "summary_activation": null,
  "summary_first_dropout": 0.1,
  "summary_proj_to_labels": true,
  "summary_type": "cls_index",
  "summary_use_proj": true,
  "tie_word_embeddings": true,
  "torch_dtype": "float32",
  "transformers_version": "4.40.0",
  "use_cache": true,
  "vocab_size": 50257
}
)";
  return s;
}

// llama / qwen2 layout. Hub order: embeddings, layers in order, final norm, lm_head.
void LlamaTensors(Shape& s, int64_t L, int64_t d, int64_t n_heads, int64_t n_kv, int64_t d_head, int64_t m, int64_t V,
                  bool qkv_bias, bool tied) {
  const int64_t q = n_heads * d_head, kv = n_kv * d_head;
  s.tensors.push_back({"model.embed_tokens.weight", {V, d}});
  for (int64_t l = 0; l < L; ++l) {
    const std::string h = "model.layers." + std::to_string(l) + ".";
    s.tensors.push_back({h + "input_layernorm.weight", {d}, Fill::Ones});
    s.tensors.push_back({h + "self_attn.q_proj.weight", {q, d}});
    if (qkv_bias) s.tensors.push_back({h + "self_attn.q_proj.bias", {q}});
    s.tensors.push_back({h + "self_attn.k_proj.weight", {kv, d}});
    if (qkv_bias) s.tensors.push_back({h + "self_attn.k_proj.bias", {kv}});
    s.tensors.push_back({h + "self_attn.v_proj.weight", {kv, d}});
    if (qkv_bias) s.tensors.push_back({h + "self_attn.v_proj.bias", {kv}});
    s.tensors.push_back({h + "self_attn.o_proj.weight", {d, q}});
    s.tensors.push_back({h + "post_attention_layernorm.weight", {d}, Fill::Ones});
    s.tensors.push_back({h + "mlp.gate_proj.weight", {m, d}});
    s.tensors.push_back({h + "mlp.up_proj.weight", {m, d}});
    s.tensors.push_back({h + "mlp.down_proj.weight", {d, m}});
  }
  s.tensors.push_back({"model.norm.weight", {d}, Fill::Ones});
  if (!tied) s.tensors.push_back({"lm_head.weight", {V, d}});
}

Shape Qwen25_05B() {
  Shape s{"qwen2.5-0.5b", DT::BF16, "", {}, 0};
  LlamaTensors(s, 24, 896, 14, 2, 64, 4864, 151936, /*qkv_bias=*/true, /*tied=*/true);
  s.config_json = R"({
  "architectures": [
    "Qwen2ForCausalLM"
  ],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151643,
  "hidden_act": "silu",
  "hidden_size": 896,
  "initializer_range": 0.02,
  "intermediate_size": 4864,
  "max_position_embeddings": 32768,
  "max_window_layers": 24,
  "model_type": "qwen2",
  "num_attention_heads": 14,
  "num_hidden_layers": 24,
  "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 32768,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.40.1",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
}
)";
  return s;
}

Shape Llama32_1B() {
  Shape s{"llama-3.2-1b", DT::BF16, "", {}, 0};
  LlamaTensors(s, 16, 2048, 32, 8, 64, 8192, 128256, false, /*tied=*/true);
  s.config_json = R"({
  "architectures": [
    "LlamaForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": 128001,
  "head_dim": 64,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 8192,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 16,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 32.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.45.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
}
)";
  return s;
}

Shape Llama3_8B() {
  Shape s{"llama-3-8b", DT::BF16, "", {}, 5000000000ull};  // the hub's max_shard_size "5GB"
  LlamaTensors(s, 32, 4096, 32, 8, 128, 14336, 128256, false, /*tied=*/false);
  s.config_json = R"({
  "architectures": [
    "LlamaForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": 128001,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 8192,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": null,
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.40.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
}
)";
  return s;
}

// ---------------------------------------------------------------- values

uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct XorShift64Star {
  uint64_t s;
  uint64_t Next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
};

uint64_t TensorSeed(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  uint64_t x = seed ^ h;
  uint64_t s = SplitMix64(x);
  return s ? s : 1;
}

uint16_t ToBF16(float f) {  // round to nearest even (no NaNs here)
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7FFF + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}

// 65536 quantiles of N(0, sigma): value i is the quantile at (i + 0.5) / 65536.
struct NormalTable {
  std::vector<float> f32;
  std::vector<uint16_t> bf16;
  explicit NormalTable(double sigma) : f32(65536), bf16(65536) {
    for (int i = 0; i < 65536; ++i) {
      const double p = (i + 0.5) / 65536.0;
      double lo = -10, hi = 10;  // bisection on Phi(x) = erfc(-x / sqrt 2) / 2
      for (int it = 0; it < 60; ++it) {
        const double mid = 0.5 * (lo + hi);
        (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
      }
      f32[i] = static_cast<float>(sigma * 0.5 * (lo + hi));
      bf16[i] = ToBF16(f32[i]);
    }
  }
};

// Fills `n` values (a chunk of a tensor) into `out`, continuing `rng`.
void FillChunk(const TensorSpec& t, DT dt, const NormalTable& table, XorShift64Star& rng, int64_t n, char* out) {
  if (dt == DT::F32) {
    float* o = reinterpret_cast<float*>(out);
    if (t.fill == Fill::Ones) {
      for (int64_t i = 0; i < n; ++i) o[i] = 1.0f;
      return;
    }
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
      const uint64_t r = rng.Next();
      o[i] = table.f32[r & 0xFFFF];
      o[i + 1] = table.f32[(r >> 16) & 0xFFFF];
      o[i + 2] = table.f32[(r >> 32) & 0xFFFF];
      o[i + 3] = table.f32[r >> 48];
    }
    for (uint64_t r = rng.Next(); i < n; ++i, r >>= 16) o[i] = table.f32[r & 0xFFFF];
  } else {
    uint16_t* o = reinterpret_cast<uint16_t*>(out);
    if (t.fill == Fill::Ones) {
      for (int64_t i = 0; i < n; ++i) o[i] = 0x3F80;  // bf16 1.0
      return;
    }
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
      const uint64_t r = rng.Next();
      o[i] = table.bf16[r & 0xFFFF];
      o[i + 1] = table.bf16[(r >> 16) & 0xFFFF];
      o[i + 2] = table.bf16[(r >> 32) & 0xFFFF];
      o[i + 3] = table.bf16[r >> 48];
    }
    for (uint64_t r = rng.Next(); i < n; ++i, r >>= 16) o[i] = table.bf16[r & 0xFFFF];
  }
}

// ---------------------------------------------------------------- writing

[[noreturn]] void Die(const std::string& what) { throw std::runtime_error(what); }

void WriteAll(int fd, const char* p, size_t n, const fs::path& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      Die("writing " + path.string() + ": " + hs::io::ErrnoText());
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void WriteSmallFile(const fs::path& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) Die("creating " + path.string() + ": " + hs::io::ErrnoText());
  WriteAll(fd, bytes.data(), bytes.size(), path);
  if (::fsync(fd) != 0) Die("fsync " + path.string() + ": " + hs::io::ErrnoText());
  ::close(fd);
}

std::string ShapeJson(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

// A generator thread fills one buffer while the main thread writes the other.
class ChunkPipeline {
 public:
  static constexpr size_t kChunkBytes = 32u << 20;

  ChunkPipeline() : buf_{std::vector<char>(kChunkBytes), std::vector<char>(kChunkBytes)} {}

  // Streams `tensors` (in order) to fd.
  void Stream(int fd, const fs::path& path, const std::vector<const TensorSpec*>& tensors, DT dt,
              const NormalTable& table, uint64_t seed) {
    // Chunk list: (tensor index, values in this chunk).
    struct Chunk {
      size_t t;
      int64_t n;
    };
    std::vector<Chunk> chunks;
    const int64_t per = static_cast<int64_t>(kChunkBytes / DSize(dt));
    for (size_t i = 0; i < tensors.size(); ++i)
      for (int64_t left = tensors[i]->numel(); left > 0; left -= per) chunks.push_back({i, std::min(left, per)});
    std::vector<size_t> bytes(2, 0);
    std::vector<bool> full(2, false);
    bool abort = false;
    std::mutex mu;
    std::condition_variable cv;
    std::thread gen([&] {
      XorShift64Star rng{1};
      size_t cur = static_cast<size_t>(-1);
      for (size_t c = 0; c < chunks.size(); ++c) {
        const int b = c % 2;
        {
          std::unique_lock<std::mutex> lk(mu);
          cv.wait(lk, [&] { return !full[b] || abort; });
          if (abort) return;
        }
        if (chunks[c].t != cur) {
          cur = chunks[c].t;
          rng.s = TensorSeed(seed, tensors[cur]->name);
        }
        FillChunk(*tensors[cur], dt, table, rng, chunks[c].n, buf_[b].data());
        {
          std::lock_guard<std::mutex> lk(mu);
          bytes[b] = static_cast<size_t>(chunks[c].n) * DSize(dt);
          full[b] = true;
        }
        cv.notify_all();
      }
    });
    try {
      for (size_t c = 0; c < chunks.size(); ++c) {
        const int b = c % 2;
        {
          std::unique_lock<std::mutex> lk(mu);
          cv.wait(lk, [&] { return full[b]; });
        }
        WriteAll(fd, buf_[b].data(), bytes[b], path);
        {
          std::lock_guard<std::mutex> lk(mu);
          full[b] = false;
        }
        cv.notify_all();
      }
    } catch (...) {
      {
        std::lock_guard<std::mutex> lk(mu);
        abort = true;
      }
      cv.notify_all();
      gen.join();
      throw;
    }
    gen.join();
  }

 private:
  std::array<std::vector<char>, 2> buf_;
};

// Writes one safetensors file holding `tensors`, data in the order given.
// Returns the data bytes.
uint64_t WriteShard(const fs::path& path, const std::vector<const TensorSpec*>& tensors, DT dt,
                    const NormalTable& table, uint64_t seed, ChunkPipeline& pipe) {
  std::string h = "{\"__metadata__\":{\"format\":\"pt\"}";
  uint64_t off = 0;
  for (const TensorSpec* t : tensors) {
    const uint64_t n = static_cast<uint64_t>(t->numel()) * DSize(dt);
    h += ",\"" + t->name + "\":{\"dtype\":\"" + DName(dt) + "\",\"shape\":" + ShapeJson(t->shape) +
         ",\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + n) + "]}";
    off += n;
  }
  h += "}";
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) Die("creating " + path.string() + ": " + hs::io::ErrnoText());
  char len[8];
  const uint64_t hl = h.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((hl >> (8 * i)) & 0xFF);
  WriteAll(fd, len, 8, path);
  WriteAll(fd, h.data(), h.size(), path);
  pipe.Stream(fd, path, tensors, dt, table, seed);
  if (::fsync(fd) != 0) Die("fsync " + path.string() + ": " + hs::io::ErrnoText());
  ::close(fd);
  return off;
}

void FsyncDir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s SHAPE OUT_DIR [--seed N]\n"
               "  SHAPE: gpt2-small | qwen2.5-0.5b | llama-3.2-1b | llama-3-8b\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Usage(argv[0]);
  const std::string shape_name = argv[1];
  fs::path out = argv[2];
  uint64_t seed = 0;
  for (int i = 3; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
      seed = std::stoull(argv[++i]);
    else
      return Usage(argv[0]);
  }
  Shape s;
  if (shape_name == "gpt2-small")
    s = Gpt2Small();
  else if (shape_name == "qwen2.5-0.5b")
    s = Qwen25_05B();
  else if (shape_name == "llama-3.2-1b")
    s = Llama32_1B();
  else if (shape_name == "llama-3-8b")
    s = Llama3_8B();
  else
    return Usage(argv[0]);

  try {
    while (out.has_filename() == false && out.has_parent_path()) out = out.parent_path();  // "dir/" -> "dir"
    if (fs::exists(out)) {
      std::printf("%s already exists; nothing done (delete it to regenerate)\n", out.c_str());
      return 0;
    }
    const fs::path tmp = out.string() + ".tmp";
    if (fs::exists(tmp)) {
      std::printf("removing leftover %s\n", tmp.c_str());
      fs::remove_all(tmp);
    }
    if (out.has_parent_path()) fs::create_directories(out.parent_path());
    fs::create_directory(tmp);

    const auto t0 = std::chrono::steady_clock::now();
    const NormalTable table(0.02);
    ChunkPipeline pipe;

    // Shards: greedy, in hub order, each at most max_shard_bytes.
    std::vector<std::vector<const TensorSpec*>> shards(1);
    uint64_t in_shard = 0, total = 0, n_params = 0;
    for (const TensorSpec& t : s.tensors) {
      const uint64_t n = static_cast<uint64_t>(t.numel()) * DSize(s.dtype);
      if (s.max_shard_bytes && in_shard > 0 && in_shard + n > s.max_shard_bytes) {
        shards.emplace_back();
        in_shard = 0;
      }
      shards.back().push_back(&t);
      in_shard += n;
      total += n;
      n_params += static_cast<uint64_t>(t.numel());
    }
    std::printf("%s: %zu tensors, %.3g parameters, %s, %.2f GB in %zu file(s) -> %s\n", s.name.c_str(),
                s.tensors.size(), double(n_params), DName(s.dtype), total / 1e9, shards.size(), out.c_str());
    std::fflush(stdout);

    std::string weight_map;
    for (size_t i = 0; i < shards.size(); ++i) {
      std::string file = "model.safetensors";
      if (s.max_shard_bytes) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
        file = buf;
      }
      const auto ts = std::chrono::steady_clock::now();
      const uint64_t bytes = WriteShard(tmp / file, shards[i], s.dtype, table, seed, pipe);
      const double sec = Seconds(ts);
      std::printf("  %s: %zu tensors, %.2f GB in %.1f s (%.0f MB/s)\n", file.c_str(), shards[i].size(), bytes / 1e9,
                  sec, bytes / 1e6 / sec);
      std::fflush(stdout);
      for (const TensorSpec* t : shards[i])
        weight_map += std::string(weight_map.empty() ? "" : ",\n") + "    \"" + t->name + "\": \"" + file + "\"";
    }
    if (s.max_shard_bytes)
      WriteSmallFile(tmp / "model.safetensors.index.json", "{\n  \"metadata\": {\n    \"total_size\": " +
                                                               std::to_string(total) + "\n  },\n  \"weight_map\": {\n" +
                                                               weight_map + "\n  }\n}\n");
    WriteSmallFile(tmp / "config.json", s.config_json);
    WriteSmallFile(tmp / "headscope_tokenizer.json",
                   hs::io::ReadFile(fs::path(HS_SOURCE_DIR) / "assets" / "demo_lm" / "headscope_tokenizer.json"));
    WriteSmallFile(tmp / "headscope_random_weights.json",
                   "{\n  \"generator\": \"bench_lm_scale_make\",\n  \"shape\": \"" + s.name +
                       "\",\n  \"seed\": " + std::to_string(seed) +
                       ",\n  \"weights\": \"N(0, 0.02) (65536-level inverse-CDF table, xorshift64*), norm weights 1\"," +
                       "\n  \"n_params\": " + std::to_string(n_params) + ",\n  \"weight_bytes\": " +
                       std::to_string(total) + "\n}\n");
    FsyncDir(tmp);
    fs::rename(tmp, out);
    FsyncDir(out.has_parent_path() ? out.parent_path() : fs::path("."));
    const double sec = Seconds(t0);
    std::printf("done in %.1f s (%.0f MB/s)\n", sec, total / 1e6 / sec);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_lm_scale_make: %s\n", e.what());
    return 1;
  }
  return 0;
}
