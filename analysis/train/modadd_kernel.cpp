// The modular-addition forward and backward pass (see modadd_kernel.h).
//
// Names: p numbers, H heads, D = d_model, E = d_head, M = d_mlp, n examples.
// Table rows: r in [0, p) is number r at position 0 (the 'a' slot), p + r is
// number r at position 1 ('b'), 2p is '=' at position 2. W = M + p is the
// width of the pushed-through tables: [pre-activation | logits].
#include "train/modadd_kernel.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "model/hooked_transformer.h"

// Hot loops are compiled twice, for AVX2+FMA and for the x86-64 baseline; the
// loader picks one for the machine (GCC function multi-versioning).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define HS_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define HS_HOT
#endif

namespace hs::train {
namespace {

// Threads that sleep between jobs (a spinning pool would take the cores
// OpenBLAS needs for the GEMMs in between). Run(fn) calls fn(t) for every t
// in [0, size()), t = 0 on the caller, and returns when all are done.
class Workers {
 public:
  explicit Workers(int n) { Resize(n); }
  ~Workers() { Resize(1); }
  int size() const { return static_cast<int>(m_threads.size()) + 1; }

  void Resize(int n) {
    n = std::max(1, n);
    if (n == size()) return;
    {
      std::lock_guard<std::mutex> lk(m_mu);
      m_quit = true;
      ++m_generation;
    }
    m_cv.notify_all();
    for (auto& t : m_threads) t.join();
    m_threads.clear();
    m_quit = false;
    // A new thread starts from the current generation, so a Run that comes
    // before it first takes the lock is not missed.
    const uint64_t start = m_generation;
    for (int t = 1; t < n; ++t) m_threads.emplace_back([this, t, start] { Loop(t, start); });
  }

  void Run(const std::function<void(int)>& fn) {
    if (m_threads.empty()) return fn(0);
    {
      std::lock_guard<std::mutex> lk(m_mu);
      m_job = &fn;
      m_pending = static_cast<int>(m_threads.size());
      ++m_generation;
    }
    m_cv.notify_all();
    fn(0);
    std::unique_lock<std::mutex> lk(m_mu);
    m_done.wait(lk, [&] { return m_pending == 0; });
    m_job = nullptr;
  }

 private:
  void Loop(int t, uint64_t seen) {
    for (;;) {
      const std::function<void(int)>* job = nullptr;
      {
        std::unique_lock<std::mutex> lk(m_mu);
        m_cv.wait(lk, [&] { return m_generation != seen; });
        seen = m_generation;
        if (m_quit) return;
        job = m_job;
      }
      (*job)(t);
      std::lock_guard<std::mutex> lk(m_mu);
      if (--m_pending == 0) m_done.notify_one();
    }
  }

  std::vector<std::thread> m_threads;
  std::mutex m_mu;
  std::condition_variable m_cv, m_done;
  const std::function<void(int)>* m_job = nullptr;
  uint64_t m_generation = 0;
  int m_pending = 0;
  bool m_quit = false;
};

// [begin, end) of thread t's share of n items.
std::pair<int64_t, int64_t> Share(int64_t n, int t, int threads) {
  return {n * t / threads, n * (t + 1) / threads};
}

// Softmax over the three keys of every head of examples [i0, i1): the scores
// are table lookups S[h, row].
HS_HOT void AttentionRows(int64_t i0, int64_t i1, int H, int64_t R, const int32_t* ra, const int32_t* rb, int32_t req,
                          const float* S, float* pattern) {
  for (int64_t i = i0; i < i1; ++i) {
    const int32_t rows[3] = {ra[i], rb[i], req};
    for (int h = 0; h < H; ++h) {
      float s[3], mx = -INFINITY;
      for (int k = 0; k < 3; ++k) mx = std::max(mx, s[k] = S[h * R + rows[k]]);
      float sum = 0;
      for (int k = 0; k < 3; ++k) sum += (s[k] = std::exp(s[k] - mx));
      float* out = pattern + (i * H + h) * 3;
      for (int k = 0; k < 3; ++k) out[k] = s[k] / sum;
    }
  }
}

// dst += w * src, in blocks of 16 lanes so that it vectorises whatever the
// compiler's alias analysis concludes.
inline void Axpy(float w, const float* __restrict src, float* __restrict dst, int64_t n) {
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    for (int l = 0; l < 16; ++l) dst[j + l] += w * src[j + l];
  for (; j < n; ++j) dst[j] += w * src[j];
}

// x = c0 + sum over heads and keys of pattern * TT[row][h]; writes relu(x[:M])
// to post and x[M:] to logits, for examples [i0, i1). x: scratch of width W.
HS_HOT void GatherRows(int64_t i0, int64_t i1, int H, int64_t R, int M, int P, const int32_t* ra, const int32_t* rb,
                       int32_t req, const float* pattern, const float* TT, const float* c0, float* post,
                       float* logits, float* __restrict x) {
  const int64_t W = M + P;
  for (int64_t i = i0; i < i1; ++i) {
    std::copy(c0, c0 + W, x);
    const int32_t rows[3] = {ra[i], rb[i], req};
    for (int h = 0; h < H; ++h) {
      for (int k = 0; k < 3; ++k) {
        const float w = pattern[(i * H + h) * 3 + k];
        Axpy(w, TT + (rows[k] * H + h) * W, x, W);
      }
    }
    float* __restrict po = post + i * M;
    for (int j = 0; j < M; ++j) po[j] = x[j] > 0 ? x[j] : 0.0f;  // threshold(x, 0, 0), as model::Relu
    std::copy(x + M, x + W, logits + i * P);
  }
}

// dot(dx, row) and row_grad += w * dx in one pass over W floats.
HS_HOT inline float DotAxpy(const float* __restrict dx, const float* __restrict row, float w,
                            float* __restrict row_grad, int64_t W) {
  float acc[16] = {0};
  int64_t j = 0;
  for (; j + 16 <= W; j += 16)
    for (int l = 0; l < 16; ++l) {
      acc[l] += dx[j + l] * row[j + l];
      row_grad[j + l] += w * dx[j + l];
    }
  float dot = 0;
  for (; j < W; ++j) {
    dot += dx[j] * row[j];
    row_grad[j] += w * dx[j];
  }
  for (int l = 0; l < 16; ++l) dot += acc[l];
  return dot;
}

// The backward of GatherRows. For examples [0, n), visited in `order` (null:
// 0, 1, ...; runs that share a table row keep it in cache): key slot 0 ('a'
// rows) when `slot0`, slot 1 ('b' rows) when `slot1`, into dTT. For examples
// [e0, e1): the '=' slot into the caller's eq_grad [H, W] and dc0 [W] partial
// sums. dpattern gets dL/dpattern of every (example, head, slot) visited.
// The gradient of an example's row is [dpre (width M) | dlogits (width P)].
HS_HOT void ScatterRows(const int32_t* order, int64_t n, bool slot0, bool slot1, int64_t e0, int64_t e1, int H,
                        int64_t R, int M, int P, const int32_t* ra, const int32_t* rb, int32_t req,
                        const float* pattern, const float* TT, const float* dpre, const float* dlogits, float* dTT,
                        float* eq_grad, float* dc0, float* dpattern) {
  const int64_t W = M + P;
  const bool slots = slot0 || slot1;
  // grad: the gradient table row of (row, head 0); heads follow each other.
  auto visit = [&](int64_t i, int64_t row, int slot, float* grad, int64_t head_stride) {
    const float* g0 = dpre + i * M;
    const float* g1 = dlogits + i * P;
    for (int h = 0; h < H; ++h) {
      const int64_t at = (i * H + h) * 3 + slot;
      const float* t = TT + (row * H + h) * W;
      float* d = grad + h * head_stride;
      dpattern[at] = DotAxpy(g0, t, pattern[at], d, M) + DotAxpy(g1, t + M, pattern[at], d + M, P);
    }
  };
  for (int64_t k = slots ? 0 : e0; k < (slots ? n : e1); ++k) {
    const int64_t i = slots && order ? order[k] : k;
    if (slot0) visit(i, ra[i], 0, dTT + int64_t(ra[i]) * H * W, W);
    if (slot1) visit(i, rb[i], 1, dTT + int64_t(rb[i]) * H * W, W);
    if (i >= e0 && i < e1) {
      visit(i, req, 2, eq_grad, W);
      Axpy(1.0f, dpre + i * M, dc0, M);
      Axpy(1.0f, dlogits + i * P, dc0 + M, P);
    }
  }
}

// dpre = dpost where post > 0, else 0 (threshold_backward), rows [i0, i1).
HS_HOT void ReluBackwardRows(int64_t i0, int64_t i1, int M, const float* __restrict post, float* __restrict d) {
  for (int64_t j = i0 * M; j < i1 * M; ++j) d[j] = post[j] > 0 ? d[j] : 0.0f;
}

// e[j] = exp(x[j] - mx) in float64 for j < n; returns their sum.
double ExpShifted(const float* x, double mx, int n, double* e) {
  double sum = 0;
  for (int j = 0; j < n; ++j) sum += (e[j] = std::exp(double(x[j]) - mx));
  return sum;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HS_LIBMVEC 1
// glibc's vector math library (libmvec, part of libc6): exp of 4 doubles.
extern "C" __m256d _ZGVdN4v_exp(__m256d);

__attribute__((target("avx2,fma"))) double ExpShiftedAvx2(const float* x, double mx, int n, double* e) {
  __m256d acc = _mm256_setzero_pd();
  const __m256d shift = _mm256_set1_pd(mx);
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    const __m256d v = _ZGVdN4v_exp(_mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + j)), shift));
    _mm256_storeu_pd(e + j, v);
    acc = _mm256_add_pd(acc, v);
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, acc);
  double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; j < n; ++j) sum += (e[j] = std::exp(double(x[j]) - mx));
  return sum;
}
#endif

using ExpShiftedFn = double (*)(const float*, double, int, double*);
ExpShiftedFn PickExpShifted() {
#ifdef HS_LIBMVEC
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ExpShiftedAvx2;
#endif
  return ExpShifted;
}
const ExpShiftedFn g_exp_shifted = PickExpShifted();

// Float64 log-softmax cross-entropy of rows [i0, i1) (as CrossEntropyF64):
// returns the summed loss and counts argmax hits; with dlogits, writes
// d(mean loss)/dlogits = (softmax - onehot) / n as float. e: scratch of width P.
double LossRows(int64_t i0, int64_t i1, int P, int64_t n, const float* logits, const int32_t* y, float* dlogits,
                int64_t* hits, double* e) {
  double total = 0;
  const double inv_n = 1.0 / double(n);
  for (int64_t i = i0; i < i1; ++i) {
    const float* x = logits + i * P;
    int arg = 0;
    for (int j = 1; j < P; ++j)
      if (x[j] > x[arg]) arg = j;
    if (arg == y[i]) ++*hits;
    const double mx = x[arg];
    const double sum = g_exp_shifted(x, mx, P, e);
    total -= (double(x[y[i]]) - mx) - std::log(sum);
    if (dlogits) {
      const double scale = inv_n / sum;
      float* g = dlogits + i * P;
      for (int j = 0; j < P; ++j) g[j] = static_cast<float>(e[j] * scale);
      g[y[i]] = static_cast<float>(e[y[i]] * scale - inv_n);
    }
  }
  return total;
}

float* F(const torch::Tensor& t) { return t.data_ptr<float>(); }

// out= forms that accept views (the at:: ones take an lvalue reference).
void Mm(torch::Tensor out, const torch::Tensor& a, const torch::Tensor& b) { at::mm_out(out, a, b); }
void Mv(torch::Tensor out, const torch::Tensor& a, const torch::Tensor& v) { at::mv_out(out, a, v); }
void Add(torch::Tensor out, const torch::Tensor& a, const torch::Tensor& b) { at::add_out(out, a, b); }
void Outer(torch::Tensor out, const torch::Tensor& a, const torch::Tensor& b) { at::outer_out(out, a, b); }
void SumRows(torch::Tensor out, const torch::Tensor& a) { at::sum_out(out, a, {0}); }

}  // namespace

struct ModAddKernel::Impl {
  model::HookedTransformerImpl& model;
  int64_t p, H, D, E, M, R, W;
  float scale;  // 1 / sqrt(d_head)
  Workers workers;

  // Parameters (views of the model's tensors).
  torch::Tensor W_E, W_pos, W_Q, W_K, W_V, W_O, W_in, b_in, W_out, b_out, W_U;
  // Tables, rebuilt when any parameter changes. TT, dTT: [R, H, W], the
  // four heads of a row side by side.
  std::vector<int64_t> table_key;
  torch::Tensor Rt, r2, Q, U_T, S, V, Wcat, OW, TT, c0, MU;  // S: [H, R] scores of every row
  // Gradient buffers of the tables.
  torch::Tensor dTT, dS, dc0, dMU;

  struct Batch {  // per example count
    int64_t n = 0;
    // Examples sorted by (a, b) so that runs share their 'a' rows; perm maps
    // back to the caller's order, order_b visits them sorted by (b, a).
    std::vector<int32_t> ra, rb, y, perm, order_b;
    ModAddExamples last;  // what these were prepared from
    std::vector<float> pattern, dpattern;
    torch::Tensor post, logits, dlogits, dpost;
  };
  Batch train, eval;
  std::vector<std::vector<float>> scratch;      // per thread, width W
  std::vector<std::vector<double>> escratch;    // per thread, width p
  std::vector<std::vector<float>> eq_partial, dc0_partial;  // per thread

  Impl(model::HookedTransformerImpl& m, int threads) : model(m), workers(threads) {
    const auto& c = m.cfg();
    if (c.n_layers != 1 || c.act_fn != "relu" || c.HasNorm() || c.attn_qkv_bias || c.attn_out_bias || !c.mlp_bias ||
        c.unembed_bias || c.gated_mlp || c.d_vocab != c.d_vocab_out + 1 || c.n_ctx != 3 || c.NumKVHeads() != c.n_heads ||
        c.positional_embedding != "standard")
      throw std::invalid_argument(
          "ModAddKernel needs the 1-layer ReLU modular-addition model (no LayerNorm, no attention biases, "
          "standard positions, d_vocab = p + 1, n_ctx 3)");
    p = c.d_vocab_out, H = c.n_heads, D = c.d_model, E = c.d_head, M = c.d_mlp, R = 2 * p + 1, W = M + p;
    scale = static_cast<float>(1.0 / std::sqrt(double(E)));
    auto& attn = *m.block(0).attn;
    auto& mlp = *m.block(0).mlp;
    W_E = m.embed->W_E, W_pos = m.pos_embed->W_pos, W_Q = attn.W_Q, W_K = attn.W_K, W_V = attn.W_V, W_O = attn.W_O;
    W_in = mlp.W_in, b_in = mlp.b_in, W_out = mlp.W_out, b_out = mlp.b_out, W_U = m.unembed->W_U;
    for (const torch::Tensor* t : Params())
      if (t->scalar_type() != torch::kFloat32 || !t->is_contiguous())
        throw std::invalid_argument("ModAddKernel needs contiguous float32 parameters");
    auto f = torch::TensorOptions().dtype(torch::kFloat32);
    Rt = torch::empty({R, D}, f), Q = torch::empty({H, E}, f), U_T = torch::empty({H, D}, f);
    S = torch::empty({H, R}, f), V = torch::empty({H, R, E}, f), Wcat = torch::empty({D, W}, f);
    OW = torch::empty({H * E, W}, f), TT = torch::empty({R, H, W}, f), c0 = torch::empty({W}, f);
    MU = torch::empty({M, p}, f);
    dTT = torch::empty({R, H, W}, f), dS = torch::empty({H, R}, f), dc0 = torch::empty({W}, f);
    dMU = torch::empty({M, p}, f);
    r2 = Rt[2 * p];
    SetThreads(threads);
  }

  std::vector<const torch::Tensor*> Params() const {
    return {&W_E, &W_pos, &W_Q, &W_K, &W_V, &W_O, &W_in, &b_in, &W_out, &b_out, &W_U};
  }

  void SetThreads(int threads) {
    workers.Resize(threads);
    const int T = workers.size();
    scratch.assign(T, std::vector<float>(W));
    escratch.assign(T, std::vector<double>(p));
    eq_partial.assign(T, std::vector<float>(H * W));
    dc0_partial.assign(T, std::vector<float>(W));
  }

  void Prepare(Batch& b, const ModAddExamples& ex) {
    const int64_t n = static_cast<int64_t>(ex.size());
    if (n == 0) throw std::invalid_argument("ModAddKernel: no examples");
    if (ex.b.size() != ex.a.size() || ex.y.size() != ex.a.size())
      throw std::invalid_argument("ModAddKernel: a, b and y differ in length");
    if (b.n == n && ex.a == b.last.a && ex.b == b.last.b && ex.y == b.last.y) return;  // the same examples again
    if (b.n != n) {
      auto f = torch::TensorOptions().dtype(torch::kFloat32);
      b.n = n;
      b.ra.resize(n), b.rb.resize(n), b.y.resize(n), b.pattern.resize(n * H * 3), b.dpattern.resize(n * H * 3);
      b.post = torch::empty({n, M}, f), b.logits = torch::empty({n, p}, f);
      b.dlogits = torch::Tensor(), b.dpost = torch::Tensor();
    }
    for (int64_t i = 0; i < n; ++i)
      if (ex.a[i] < 0 || ex.a[i] >= p || ex.b[i] < 0 || ex.b[i] >= p || ex.y[i] < 0 || ex.y[i] >= p)
        throw std::invalid_argument("ModAddKernel: an operand or label is outside [0, p)");
    b.perm.resize(n);
    for (int64_t i = 0; i < n; ++i) b.perm[i] = static_cast<int32_t>(i);
    std::sort(b.perm.begin(), b.perm.end(),
              [&](int32_t u, int32_t v) { return std::make_pair(ex.a[u], ex.b[u]) < std::make_pair(ex.a[v], ex.b[v]); });
    for (int64_t i = 0; i < n; ++i) {
      b.ra[i] = ex.a[b.perm[i]];
      b.rb[i] = static_cast<int32_t>(p) + ex.b[b.perm[i]];
      b.y[i] = ex.y[b.perm[i]];
    }
    b.order_b.resize(n);
    for (int64_t i = 0; i < n; ++i) b.order_b[i] = static_cast<int32_t>(i);
    std::stable_sort(b.order_b.begin(), b.order_b.end(), [&](int32_t u, int32_t v) { return b.rb[u] < b.rb[v]; });
    b.last = ex;
  }

  std::vector<int64_t> Key() const {
    std::vector<int64_t> key;
    for (const torch::Tensor* t : Params()) {
      key.push_back(reinterpret_cast<int64_t>(t->data_ptr()));
      key.push_back(static_cast<int64_t>(t->_version()));
    }
    return key;
  }

  // Heads [h0, h1) of thread t of T.
  std::pair<int64_t, int64_t> Heads(int t, int T) const { return Share(H, t, T); }

  void BuildTables() {
    auto key = Key();
    if (key == table_key) return;
    torch::NoGradGuard ng;
    Add(Rt.narrow(0, 0, p), W_E.narrow(0, 0, p), W_pos[0]);
    Add(Rt.narrow(0, p, p), W_E.narrow(0, 0, p), W_pos[1]);
    Add(r2, W_E[p], W_pos[2]);
    Wcat.narrow(1, 0, M).copy_(W_in);
    Wcat.narrow(1, M, p).copy_(W_U);
    const int T = workers.size();
    workers.Run([&](int t) {
      torch::NoGradGuard ng_thread;
      auto [h0, h1] = Heads(t, T);
      for (int64_t h = h0; h < h1; ++h) {
        Mv(Q[h], W_Q[h].t(), r2);                  // q_h = r2 W_Q[h]
        Mv(U_T[h], W_K[h], Q[h]);                  // W_K[h] q_h / sqrt(d_head)
        U_T[h].mul_(scale);
        Mv(S[h], Rt, U_T[h]);                      // scores of every row
        Mm(V[h], Rt, W_V[h]);                      // values of every row
        Mm(OW.narrow(0, h * E, E), W_O[h], Wcat);  // W_O[h] [W_in | W_U]
        Mm(TT.select(1, h), V[h], OW.narrow(0, h * E, E));
      }
      if (t == 0) {
        Mv(c0, Wcat.t(), r2);
        c0.narrow(0, 0, M).add_(b_in);
        c0.narrow(0, M, p).add_(at::mv(W_U.t(), b_out));
      }
      if (t == T - 1) Mm(MU, W_out, W_U);
    });
    table_key = std::move(key);
  }

  // Attention, gathers, the [n, M] x [M, p] GEMM and the loss, each thread
  // on its share of the examples (its own single-threaded GEMM: OpenBLAS's
  // pool would spin on the cores these loops need). With `grad`, also
  // dL/dlogits.
  LossAcc ForwardLoss(Batch& b, bool grad) {
    BuildTables();
    if (grad && !b.dlogits.defined()) {
      b.dlogits = torch::empty({b.n, p}, torch::kFloat32);
      b.dpost = torch::empty({b.n, M}, torch::kFloat32);
    }
    const int T = workers.size();
    const float *s = F(S), *tt = F(TT), *c = F(c0);
    float *post = F(b.post), *logits = F(b.logits);
    const int32_t req = static_cast<int32_t>(2 * p);
    std::vector<double> loss(T, 0);
    std::vector<int64_t> hits(T, 0);
    workers.Run([&](int t) {
      auto [i0, i1] = Share(b.n, t, T);
      if (i0 == i1) return;
      AttentionRows(i0, i1, H, R, b.ra.data(), b.rb.data(), req, s, b.pattern.data());
      GatherRows(i0, i1, H, R, M, p, b.ra.data(), b.rb.data(), req, b.pattern.data(), tt, c, post, logits,
                 scratch[t].data());
      b.logits.narrow(0, i0, i1 - i0).addmm_(b.post.narrow(0, i0, i1 - i0), MU);  // + relu(pre) W_out W_U
      loss[t] = LossRows(i0, i1, p, b.n, logits, b.y.data(), grad ? F(b.dlogits) : nullptr, &hits[t],
                         escratch[t].data());
    });
    LossAcc r;
    int64_t h = 0;
    for (int t = 0; t < T; ++t) r.loss += loss[t], h += hits[t];
    r.loss /= double(b.n);
    r.acc = double(h) / double(b.n);
    return r;
  }

  void Backward(Batch& b) {
    const int T = workers.size();
    const int32_t req = static_cast<int32_t>(2 * p);
    workers.Run([&](int t) {
      auto [i0, i1] = Share(b.n, t, T);
      auto [m0, m1] = Share(M, t, T);
      if (i1 > i0) {
        Mm(b.dpost.narrow(0, i0, i1 - i0), b.dlogits.narrow(0, i0, i1 - i0), MU.t());  // d relu(pre)
        ReluBackwardRows(i0, i1, M, F(b.post), F(b.dpost));
      }
      if (m1 > m0) Mm(dMU.narrow(0, m0, m1 - m0), b.post.narrow(1, m0, m1 - m0).t(), b.dlogits);  // d(W_out W_U)
      auto [r0, r1] = Share(H * R, t, T);  // each thread zeroes a band of dTT
      std::fill(F(dTT) + r0 * W, F(dTT) + r1 * W, 0.0f);
    });
    workers.Run([&](int t) {
      std::fill(eq_partial[t].begin(), eq_partial[t].end(), 0.0f);
      std::fill(dc0_partial[t].begin(), dc0_partial[t].end(), 0.0f);
      auto [e0, e1] = Share(b.n, t, T);
      // Thread 0 owns the 'a' rows and visits examples in (a, b) order,
      // thread 1 the 'b' rows in (b, a) order, so no two threads write one
      // row and each keeps its rows in cache; the '=' row is split by
      // examples. One thread does all in one pass in (a, b) order (measured
      // a little faster than two passes).
      auto pass = [&](bool slot0, bool slot1, int64_t q0, int64_t q1) {
        ScatterRows(slot1 && !slot0 ? b.order_b.data() : nullptr, b.n, slot0, slot1, q0, q1, H, R, M, p, b.ra.data(),
                    b.rb.data(), req, b.pattern.data(), F(TT), F(b.dpost), F(b.dlogits), F(dTT),
                    eq_partial[t].data(), dc0_partial[t].data(), b.dpattern.data());
      };
      if (T == 1) {
        pass(true, true, e0, e1);
      } else {
        pass(t == 0, t == 1, e0, e1);
      }
    });
    // Sum the '=' partials; softmax backward into the score table.
    float* dtt = F(dTT);
    float* dc = F(dc0);
    std::fill(dc, dc + W, 0.0f);
    for (int t = 0; t < T; ++t) {
      for (int64_t h = 0; h < H; ++h)
        for (int64_t j = 0; j < W; ++j) dtt[(2 * p * H + h) * W + j] += eq_partial[t][h * W + j];
      for (int64_t j = 0; j < W; ++j) dc[j] += dc0_partial[t][j];
    }
    dS.zero_();
    float* ds = F(dS);
    for (int64_t i = 0; i < b.n; ++i) {
      const int32_t rows[3] = {b.ra[i], b.rb[i], req};
      for (int64_t h = 0; h < H; ++h) {
        const float* pi = &b.pattern[(i * H + h) * 3];
        const float* dpi = &b.dpattern[(i * H + h) * 3];
        const float dot = pi[0] * dpi[0] + pi[1] * dpi[1] + pi[2] * dpi[2];
        for (int k = 0; k < 3; ++k) ds[h * R + rows[k]] += pi[k] * (dpi[k] - dot);
      }
    }
    TablesBackward();
  }

  // From the table gradients (dTT, dS, dc0, dMU) to the parameters' .grad().
  void TablesBackward() {
    auto grad = [](const torch::Tensor& t) -> torch::Tensor& {
      torch::Tensor& g = const_cast<torch::Tensor&>(t).mutable_grad();
      if (!g.defined()) g = torch::zeros_like(t);
      return g;
    };
    torch::Tensor &gW_O = grad(W_O), &gW_V = grad(W_V), &gW_K = grad(W_K), &gW_Q = grad(W_Q);
    const int T = workers.size();
    if (int64_t(dR_part.size()) != T) {
      dR_part.assign(T, torch::Tensor());
      dWcat_part.assign(T, torch::Tensor());
      dr2_part.assign(T, torch::Tensor());
    }
    // Per head, each thread its heads: W_O, W_V, W_K, W_Q and partial sums
    // of dR, d[W_in | W_U] and d r2 over its heads.
    workers.Run([&](int t) {
      torch::NoGradGuard ng_thread;
      auto [h0, h1] = Heads(t, T);
      torch::Tensor& dR = dR_part[t];
      torch::Tensor& dWcat = dWcat_part[t];
      torch::Tensor& dr2 = dr2_part[t];
      if (!dR.defined()) dR = torch::empty({R, D}), dWcat = torch::empty({D, W}), dr2 = torch::empty({D});
      dR.zero_(), dWcat.zero_(), dr2.zero_();
      torch::Tensor dOW = torch::empty({E, W}), dV = torch::empty({R, E});
      for (int64_t h = h0; h < h1; ++h) {
        Mm(dOW, V[h].t(), dTT.select(1, h));                        // d(W_O[h] [W_in | W_U])
        Mm(dV, dTT.select(1, h), OW.narrow(0, h * E, E).t());
        Mm(gW_O[h], dOW, Wcat.t());
        dWcat.addmm_(W_O[h].t(), dOW);
        Mm(gW_V[h], Rt.t(), dV);
        dR.addmm_(dV, W_V[h].t());
        // Scores S[h] = R U_h with U_h = W_K[h] q_h / sqrt(d_head).
        dR.addr_(dS[h], U_T[h]);
        torch::Tensor dU = at::mv(Rt.t(), dS[h]).mul_(scale);  // d(W_K[h] q_h)
        torch::Tensor dq = at::mv(W_K[h].t(), dU);
        Outer(gW_K[h], dU, Q[h]);
        Outer(gW_Q[h], r2, dq);
        dr2.add_(at::mv(W_Q[h], dq));
      }
    });
    torch::Tensor dR = dR_part[0], dWcat = dWcat_part[0], dr2 = dr2_part[0];
    for (int t = 1; t < T; ++t) dR.add_(dR_part[t]), dWcat.add_(dWcat_part[t]), dr2.add_(dr2_part[t]);
    // c0 = r2 [W_in | W_U] + [b_in | b_out W_U]
    dWcat.addr_(r2, dc0);
    dr2.add_(dR[2 * p]).add_(at::mv(Wcat, dc0));
    torch::Tensor dlog0 = dc0.narrow(0, M, p);
    Mv(grad(b_out), W_U, dlog0);
    torch::Tensor& gU = grad(W_U);
    gU.copy_(dWcat.narrow(1, M, p));
    gU.addr_(b_out, dlog0);
    gU.addmm_(W_out.t(), dMU);  // MU = W_out W_U
    grad(W_in).copy_(dWcat.narrow(1, 0, M));
    grad(b_in).copy_(dc0.narrow(0, 0, M));
    Mm(grad(W_out), dMU, W_U.t());
    torch::Tensor& gE = grad(W_E);
    Add(gE.narrow(0, 0, p), dR.narrow(0, 0, p), dR.narrow(0, p, p));
    gE[p].copy_(dr2);
    torch::Tensor& gP = grad(W_pos);
    SumRows(gP[0], dR.narrow(0, 0, p));
    SumRows(gP[1], dR.narrow(0, p, p));
    gP[2].copy_(dr2);
  }
  std::vector<torch::Tensor> dR_part, dWcat_part, dr2_part;  // per thread
};

ModAddKernel::ModAddKernel(model::HookedTransformerImpl& model, int threads)
    : m(std::make_unique<Impl>(model, threads)) {}
ModAddKernel::~ModAddKernel() = default;

LossAcc ModAddKernel::ForwardBackward(const ModAddExamples& ex) {
  torch::NoGradGuard ng;
  m->Prepare(m->train, ex);
  LossAcc r = m->ForwardLoss(m->train, true);
  m->Backward(m->train);
  return r;
}

LossAcc ModAddKernel::Evaluate(const ModAddExamples& ex, std::vector<float>* logits) {
  torch::NoGradGuard ng;
  m->Prepare(m->eval, ex);
  const LossAcc r = m->ForwardLoss(m->eval, false);
  if (logits) {
    const float* x = F(m->eval.logits);
    const int64_t n = m->eval.n, p = m->p;
    logits->resize(n * p);
    for (int64_t i = 0; i < n; ++i) std::copy(x + i * p, x + (i + 1) * p, logits->data() + m->eval.perm[i] * p);
  }
  return r;
}

void ModAddKernel::ParallelFor(const std::function<void(int, int)>& fn) {
  const int T = m->workers.size();
  m->workers.Run([&](int t) { fn(t, T); });
}

void ModAddKernel::SetThreads(int threads) { m->SetThreads(threads); }
int ModAddKernel::threads() const { return m->workers.size(); }

}  // namespace hs::train
