// bench/lm_forward: the language-model forward of headscope's one transformer
// with a full ActivationCache, against a plain LibTorch forward of the same
// weights without any cache, in the same process (GPT-2-small shape, random
// weights, 128 tokens). Also a GEMM reference to say how far from the
// machine's arithmetic speed both are.
//
//   bench_lm_forward [--tokens N] [--threads T] [--reps R] [--torch-threads N]
// Default: torch intra-op 1 thread, OpenBLAS T threads (ConfigureTorchForInference);
// --torch-threads T gives torch's pool T threads too (slower: see trainer.h).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "model/hooked_transformer.h"
#include "jobs/thread_policy.h"

using Clock = std::chrono::steady_clock;
namespace {
double Ms(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }
double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A plain GPT-2 forward: fused qkv weights packed once, no hooks, no cache.
struct Plain {
  struct Layer {
    torch::Tensor ln1w, ln1b, Wqkv, bqkv, Wo, bo, ln2w, ln2b, Win, bin, Wout, bout;
  };
  torch::Tensor W_E, W_pos, lnfw, lnfb;
  std::vector<Layer> layers;
  int H, E;
  explicit Plain(hs::model::HookedTransformerImpl& m) {
    const auto& c = m.cfg();
    H = c.n_heads;
    E = c.d_head;
    const int64_t D = c.d_model;
    W_E = m.embed->W_E.detach();
    W_pos = m.pos_embed->W_pos.detach();
    lnfw = m.ln_final->w.detach();
    lnfb = m.ln_final->b.detach();
    for (int l = 0; l < c.n_layers; ++l) {
      auto& b = m.block(l);
      auto cols = [&](const torch::Tensor& W) { return W.detach().permute({1, 0, 2}).reshape({D, H * E}); };
      layers.push_back(
          {b.ln1->w.detach(), b.ln1->b.detach(),
           torch::cat({cols(b.attn->W_Q), cols(b.attn->W_K), cols(b.attn->W_V)}, 1).contiguous(),
           torch::cat({b.attn->b_Q.reshape(-1), b.attn->b_K.reshape(-1), b.attn->b_V.reshape(-1)}).detach(),
           b.attn->W_O.detach().reshape({H * E, D}).contiguous(), b.attn->b_O.detach(), b.ln2->w.detach(),
           b.ln2->b.detach(), b.mlp->W_in.detach(), b.mlp->b_in.detach(), b.mlp->W_out.detach(),
           b.mlp->b_out.detach()});
    }
  }
  torch::Tensor Forward(const torch::Tensor& tokens) {  // [T] -> [T, V]
    const int64_t T = tokens.size(0), D = W_E.size(1);
    torch::Tensor x = W_E.index_select(0, tokens) + W_pos.narrow(0, 0, T);
    const torch::Tensor mask = torch::ones({T, T}, torch::kBool).triu(1);
    for (const auto& L : layers) {
      torch::Tensor h = torch::layer_norm(x, {D}, L.ln1w, L.ln1b, 1e-5);
      torch::Tensor qkv = torch::addmm(L.bqkv, h, L.Wqkv).view({T, 3, H, E}).permute({1, 2, 0, 3});  // [3, H, T, E]
      torch::Tensor s = torch::matmul(qkv[0], qkv[1].transpose(1, 2)) / std::sqrt(double(E));
      torch::Tensor a = torch::softmax(s.masked_fill(mask, -INFINITY), -1);
      torch::Tensor z = torch::matmul(a, qkv[2]).permute({1, 0, 2}).reshape({T, H * E});
      x = x + torch::addmm(L.bo, z, L.Wo);
      h = torch::layer_norm(x, {D}, L.ln2w, L.ln2b, 1e-5);
      x = x + torch::addmm(L.bout, torch::gelu(torch::addmm(L.bin, h, L.Win), "tanh"), L.Wout);
    }
    x = torch::layer_norm(x, {D}, lnfw, lnfb, 1e-5);
    return torch::matmul(x, W_E.t());
  }
};
}  // namespace

int main(int argc, char** argv) {
  int tokens = 128, threads = 2, reps = 15, torch_threads = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--tokens")) tokens = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--torch-threads")) torch_threads = std::atoi(argv[i + 1]);
  }
  hs::jobs::ConfigureTorchForTraining(threads);  // both pools at `threads` (what training uses)
  if (torch_threads < 0) hs::jobs::ConfigureTorchForInference(threads);  // torch 1, OpenBLAS `threads`
  if (torch_threads > 0) torch::set_num_threads(torch_threads);
  torch::NoGradGuard no_grad;
  hs::model::TransformerConfig c;
  c.n_layers = 12;
  c.d_model = 768;
  c.n_heads = 12;
  c.d_head = 64;
  c.d_mlp = 3072;
  c.d_vocab = c.d_vocab_out = 50257;
  c.n_ctx = 1024;
  c.act_fn = "gelu_new";
  c.init_range = 0.02;
  c.normalization = "LN";
  c.attn_qkv_bias = c.attn_out_bias = c.mlp_bias = true;
  c.final_norm = c.tied_embeddings = true;
  hs::model::HookedTransformer m(c);
  m->InitWeights(1);
  for (auto& p : m->parameters()) p.set_requires_grad(false);
  Plain plain(*m);
  const torch::Tensor tok = torch::randint(0, c.d_vocab, {tokens}, torch::kLong);
  const torch::Tensor tok2 = tok.unsqueeze(0);

  // Same function: the two forwards agree.
  hs::model::ActivationCache cache;
  const torch::Tensor ours = m->forward_with_cache(tok2, cache)[0];
  const torch::Tensor ref = plain.Forward(tok);
  std::printf("max |logit difference| %.2e, cache entries %zu\n", (ours - ref).abs().max().item<double>(),
              cache.Names().size());

  std::vector<double> t_cache, t_nocache, t_plain, t_gemm, t_patterns;
  const std::string last_pattern = hs::model::ActName("pattern", c.n_layers - 1);
  const torch::Tensor A = torch::randn({tokens, 768}), B = torch::randn({768, 3072});
  for (int r = 0; r < reps; ++r) {  // interleaved, so machine noise hits all alike
    auto t0 = Clock::now();
    m->forward_with_cache(tok2, cache);
    t_cache.push_back(Ms(t0));
    t0 = Clock::now();
    m->forward(tok2);
    t_nocache.push_back(Ms(t0));
    t0 = Clock::now();
    m->forward_with_cache(tok2, cache, last_pattern);
    t_patterns.push_back(Ms(t0));
    t0 = Clock::now();
    plain.Forward(tok);
    t_plain.push_back(Ms(t0));
    t0 = Clock::now();
    for (int i = 0; i < 10; ++i) torch::matmul(A, B);
    t_gemm.push_back(Ms(t0) / 10);
  }
  const double flops = 2.0 * tokens * (12 * (4 * 768.0 * 768 + 2 * 768.0 * 3072) + 768.0 * 50257);
  const double gemm_gflops = 2.0 * tokens * 768 * 3072 / (Median(t_gemm) * 1e6);
  std::printf("GPT-2-small shape, %d tokens, %d threads, median of %d\n", tokens, threads, reps);
  std::printf("  forward_with_cache      %7.1f ms  (%.2fx plain)\n", Median(t_cache),
              Median(t_cache) / Median(t_plain));
  std::printf("  forward, no cache       %7.1f ms  (%.2fx plain)\n", Median(t_nocache),
              Median(t_nocache) / Median(t_plain));
  std::printf("  plain LibTorch forward  %7.1f ms\n", Median(t_plain));
  std::printf(
      "  to the last pattern     %7.1f ms  (what head views run: cache up to blocks.11.attn.hook_pattern,\n"
      "                                      no last MLP, no unembedding)\n",
      Median(t_patterns));
  std::printf("  GEMM [%d,768]x[768,3072] %.1f GFLOP/s; the forward's %.1f GFLOP at that speed: %.1f ms\n", tokens,
              gemm_gflops, flops / 1e9, flops / (gemm_gflops * 1e6));
  return 0;
}
