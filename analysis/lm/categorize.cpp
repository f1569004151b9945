// Offline head categorisation and roles over training (see categorize.h).
#include "lm/categorize.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>

#include "io/atomic_file.h"
#include "io/hash.h"
#include "io/hub_cache.h"
#include "io/json_text.h"
#include "lm/head_categories_file.h"
#include "lm/ov_scores.h"

#ifndef HS_SOURCE_DIR
#define HS_SOURCE_DIR "."
#endif

namespace hs::lm {
namespace fs = std::filesystem;
using library::HeadRole;
using library::kNumHeadRoles;
using library::LayerHeadScores;
using nlohmann::json;

// [SECTION] prompts
fs::path ShippedSentencesFile() {
  std::error_code ec;
  for (const fs::path& p : {fs::path("assets/prompts/natural_sentences.txt"),
                            fs::path(HS_SOURCE_DIR) / "assets/prompts/natural_sentences.txt"})
    if (fs::exists(p, ec)) return p;
  return fs::path(HS_SOURCE_DIR) / "assets/prompts/natural_sentences.txt";
}

namespace {
bool ValidUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    const int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (int k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += n;
  }
  return true;
}
}  // namespace

std::vector<std::string> ReadSentences(const fs::path& path) {
  if (!fs::exists(path)) throw io::IoError(path.string() + ": file not found (one sentence per line)");
  const std::string text = io::ReadFile(path);
  std::vector<std::string> out;
  size_t pos = 0, line_no = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!ValidUtf8(line)) throw io::IoError(path.string() + ": line " + std::to_string(line_no) + " is not UTF-8");
    if (!line.empty() && line[0] != '#' && line.find_first_not_of(" \t") != std::string::npos) out.push_back(line);
    pos = end + 1;
  }
  if (out.empty()) throw io::IoError(path.string() + ": no sentences (one per line; '#' lines are comments)");
  return out;
}

std::vector<std::vector<int64_t>> RepeatedTokenPrompts(const LanguageModel& lm, int n, int half, bool bos,
                                                       uint64_t seed) {
  const auto& tok = lm.tokenizer();
  const int64_t vocab = std::min<int64_t>(tok.VocabSize(), lm.cfg().d_vocab);
  std::vector<int64_t> pool;
  if (tok.Kind() == "bytes") {
    for (int64_t b = 32; b < std::min<int64_t>(127, vocab); ++b) pool.push_back(b);
  } else {
    const auto b = tok.BosId();
    for (int64_t id = 0; id < vocab; ++id)
      if (!b || id != *b) pool.push_back(id);
  }
  std::mt19937_64 rng(seed);
  if (pool.empty()) throw std::invalid_argument("no token ids to draw repeated sequences from (vocabulary of " +
                                                std::to_string(vocab) + ")");
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  std::vector<std::vector<int64_t>> out;
  for (int i = 0; i < n; ++i) {
    std::vector<int64_t> r(half);
    for (auto& t : r) t = pool[pick(rng)];
    std::vector<int64_t> p;
    if (bos) p.push_back(*tok.BosId());
    p.insert(p.end(), r.begin(), r.end());
    p.insert(p.end(), r.begin(), r.end());
    out.push_back(std::move(p));
  }
  return out;
}

// [SECTION] natural prompts
std::vector<std::vector<int64_t>> NaturalPrompts(const LanguageModel& lm, const CategorizeOptions& opt,
                                                 std::string* label) {
  const auto& c = lm.cfg();
  const bool bos = opt.bos < 0 ? lm.DefaultBos() : opt.bos == 1;
  const fs::path sentences_file = opt.sentences_file.empty() ? ShippedSentencesFile() : opt.sentences_file;
  std::vector<std::vector<int64_t>> natural;
  std::string prompts_label = sentences_file.filename().string();
  if (lm.tokenizer().Kind() == "ids") {
    // No tokenizer files: the sentence roles are scored on random token
    // sequences of sentence length (the first halves of repeated prompts).
    for (const auto& p : RepeatedTokenPrompts(lm, 64, std::min(24, c.n_ctx), false, opt.seed + 1))
      natural.emplace_back(p.begin(), p.begin() + p.size() / 2);
    prompts_label = "random token ids (the folder has no tokenizer)";
  } else {
    for (const auto& s : ReadSentences(sentences_file)) {
      std::vector<int64_t> ids = lm.Encode(s, bos);
      if (int64_t(ids.size()) > c.n_ctx) ids.resize(c.n_ctx);
      if (ids.size() >= 2) natural.push_back(std::move(ids));
    }
  }
  if (natural.empty()) throw io::IoError(sentences_file.string() + ": no sentence has two tokens or more");
  if (label) *label = prompts_label;
  return natural;
}

// [SECTION] scores
std::array<LayerHeadScores, kNumHeadRoles> ScoreRoles(const LanguageModel& lm, const CategorizeOptions& opt,
                                                      const CategorizeProgress& progress,
                                                      library::CategorizationMethod* method) {
  const auto& c = lm.cfg();
  const bool bos = opt.bos < 0 ? lm.DefaultBos() : opt.bos == 1;
  if (bos && !lm.tokenizer().BosId()) throw std::invalid_argument("this tokenizer has no BOS token");
  const int half = std::max(1, std::min(opt.half_length, (c.n_ctx - (bos ? 1 : 0)) / 2));
  std::string prompts_label;
  const std::vector<std::vector<int64_t>> natural = NaturalPrompts(lm, opt, &prompts_label);
  const auto repeated = RepeatedTokenPrompts(lm, opt.n_repeated, half, bos, opt.seed);
  if (method) {
    method->n_repeated = opt.n_repeated;
    method->repeated_half_length = half;
    method->n_sentences = int(natural.size());
    method->bos = bos;
    method->seed = opt.seed;
    method->prompts_file = prompts_label;
  }

  const int L = c.n_layers, H = c.n_heads, total = int(repeated.size() + natural.size());
  std::array<LayerHeadScores, kNumHeadRoles> sums;
  for (auto& s : sums) s.assign(L, std::vector<double>(H, 0.0));
  int done = 0;
  auto run = [&](const std::vector<std::vector<int64_t>>& prompts, std::initializer_list<HeadRole> roles) {
    for (const auto& ids : prompts) {
      const io::Array a = lm.Patterns(ids);
      const std::vector<float> p = a.ToFloat();
      const library::PromptAttention pa{p.data(), &ids};
      for (HeadRole role : roles) {
        const LayerHeadScores s = library::ScoreHeads(role, {pa}, L, H);
        for (int l = 0; l < L; ++l)
          for (int h = 0; h < H; ++h) sums[int(role)][l][h] += s[l][h] / double(prompts.size());
      }
      ++done;
      if (progress && !progress(done, total)) throw jobs::Cancelled();
    }
  };
  run(repeated, {HeadRole::kInduction, HeadRole::kDuplicateToken});
  run(natural, {HeadRole::kPreviousToken, HeadRole::kFirstToken, HeadRole::kDiffuse});
  return sums;
}

library::HeadCategories Categorize(const LanguageModel& lm, const std::string& model_name,
                                   const CategorizeOptions& opt, const CategorizeProgress& progress) {
  library::CategorizationMethod method;
  const auto scores = ScoreRoles(lm, opt, progress, &method);
  library::HeadCategories c = library::BuildHeadCategories(scores, lm.cfg().n_layers, lm.cfg().n_heads);
  c.model_name = model_name;
  c.method = method;
  AddWeightRoles(lm, &c, opt, progress);
  const std::time_t now = std::time(nullptr);
  char date[16];
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  c.analysis_date = date;
  return c;
}

void AddWeightRoles(const LanguageModel& lm, library::HeadCategories* c, const CategorizeOptions& opt,
                    const CategorizeProgress& progress) {
  const auto& cfg = lm.cfg();
  const int L = cfg.n_layers, H = cfg.n_heads;
  // The attention roles' scores, as they are.
  std::array<LayerHeadScores, kNumHeadRoles> attention;
  for (const auto& def : library::HeadCategoryDefs())
    if (def.role)
      if (const auto* r = c->Find(def.key)) attention[static_cast<int>(*def.role)] = r->all_scores;
  std::array<LayerHeadScores, library::kNumOutputRoles> output;
  std::vector<std::pair<std::string, std::string>> unavailable;
  library::WeightRolesMethod method;
  try {
    OvScoreOptions o;
    const OvScores s = ComputeOvScores(lm, o, progress ? std::function<bool(int, int)>(progress) : nullptr);
    method.k = s.k, method.token_set = s.token_set, method.n_tokens = s.n_tokens, method.ordinal_sets = s.ordinal_sets;
    auto grid = [&](const std::vector<double>& v) {
      LayerHeadScores g(static_cast<size_t>(L), std::vector<double>(static_cast<size_t>(H)));
      for (int l = 0; l < L; ++l)
        for (int h = 0; h < H; ++h) g[l][h] = v[size_t(l) * H + h];
      return g;
    };
    output[static_cast<int>(library::OutputRole::kCopying)] = grid(s.copying);
    output[static_cast<int>(library::OutputRole::kCopySuppression)] = grid(s.suppression);
    if (s.successor_note.empty())
      output[static_cast<int>(library::OutputRole::kSuccessor)] = grid(s.successor);
    else
      unavailable.emplace_back("successor", s.successor_note);
  } catch (const std::invalid_argument& e) {  // Gemma 2's post-norms
    method.k = OvScoreOptions{}.k;
    for (const char* key : {"copying", "copy_suppression", "successor"}) unavailable.emplace_back(key, e.what());
  }
  // The sink on random tokens: the first half of the repeated sequences (no repetition in it).
  const bool bos = opt.bos < 0 ? lm.DefaultBos() : opt.bos == 1;
  const int n_random = std::max(2, std::min(2 * opt.half_length, cfg.n_ctx - (bos ? 1 : 0)));
  std::vector<std::vector<int64_t>> prompts =
      RepeatedTokenPrompts(lm, 20, n_random, bos, opt.seed + 7919);  // [BOS] r r: keep [BOS] r
  for (auto& p : prompts) p.resize(size_t(n_random) + (bos ? 1 : 0));
  const std::vector<double> sink = SinkScores(lm, prompts);
  method.sink_prompts = int(prompts.size());

  library::HeadCategories out = library::BuildHeadCategories(attention, L, H, &output);
  out.model_name = c->model_name;
  out.analysis_date = c->analysis_date;
  out.weights_hash = c->weights_hash;
  out.weights_signature = c->weights_signature;
  out.method = c->method;
  out.weights_method = method;
  out.unavailable = std::move(unavailable);
  out.sink_random.assign(size_t(L), std::vector<double>(size_t(H)));
  for (int l = 0; l < L; ++l)
    for (int h = 0; h < H; ++h) out.sink_random[l][h] = sink[size_t(l) * H + h];
  *c = std::move(out);
}

// [SECTION] files
namespace {
std::vector<fs::path> WeightFiles(const fs::path& model_dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(model_dir, ec))
    if (e.is_regular_file() && e.path().extension() == ".safetensors") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}
}  // namespace

std::string WeightsSignature(const fs::path& model_dir) {
  std::string s;
  for (const auto& f : WeightFiles(model_dir)) {
    std::error_code ec;
    const auto size = fs::file_size(f, ec);
    const auto mtime = fs::last_write_time(f, ec).time_since_epoch().count();
    s += f.filename().string() + ":" + std::to_string(size) + ":" + std::to_string(mtime) + ";";
  }
  return s;
}

std::string WeightsHash(const fs::path& model_dir) {
  const std::vector<fs::path> files = WeightFiles(model_dir);
  uint64_t h = io::kFnv1aOffset;
  std::vector<char> buf(1 << 20);
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) throw io::IoError(f.string() + ": cannot be read");
    while (in) {
      in.read(buf.data(), std::streamsize(buf.size()));
      h = io::Fnv1a64(buf.data(), size_t(in.gcount()), h);
    }
  }
  char out[32];
  std::snprintf(out, sizeof out, "fnv1a64:%016llx", static_cast<unsigned long long>(h));
  return out;
}

std::string ModelName(const fs::path& dir) {
  io::HubRef ref;
  if (io::HubModelOf(dir, &ref)) return ref.repo_id + "@" + ref.revision.substr(0, 10);
  std::string name = fs::absolute(dir).lexically_normal().filename().string();
  if (name.empty()) name = fs::absolute(dir).lexically_normal().parent_path().filename().string();
  return name;
}

fs::path DerivedDir(const fs::path& model_dir) {
  fs::path repo;  // .../models--ORG--NAME
  if (!io::HubModelOf(model_dir, nullptr, &repo)) return model_dir;
  // fnv1a64 over "file -> blob" of the weight files, in name order, then of
  // config.json and the tokenizer files (a revision that changes the config
  // or the tokenizer gets its own categories).
  std::string key;
  std::error_code ec;
  std::vector<fs::path> files = WeightFiles(model_dir);
  for (const char* name : {"config.json", "tokenizer.json", "tokenizer.model", "vocab.json", "merges.txt",
                           "tokenizer_config.json", "special_tokens_map.json", "headscope_tokenizer.json"})
    if (fs::exists(model_dir / name, ec)) files.push_back(model_dir / name);
  for (const auto& f : files) {
    const fs::path target = fs::is_symlink(f, ec) ? fs::read_symlink(f, ec) : fs::path();
    key += f.filename().string() + ">" + (target.empty() ? std::to_string(fs::file_size(f, ec)) : target.filename().string()) + ";";
  }
  char hex[20];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(io::Fnv1a64(key)));
  const fs::path dir = io::HeadscopeCacheDir() / repo.filename() / hex;
  fs::create_directories(dir, ec);
  return dir;
}

fs::path CategoriesPath(const fs::path& model_dir) { return DerivedDir(model_dir) / "head_categories.json"; }
fs::path FormationPath(const fs::path& model_dir) { return DerivedDir(model_dir) / "role_formation.json"; }

// [SECTION] roles over training
double RoleFormation::Best(int i, HeadRole role, int* layer, int* head) const {
  double best = -1;
  const auto& s = scores.at(size_t(i))[int(role)];
  for (int l = 0; l < int(s.size()); ++l)
    for (int h = 0; h < int(s[l].size()); ++h)
      if (s[l][h] > best) {
        best = s[l][h];
        if (layer) *layer = l;
        if (head) *head = h;
      }
  return best;
}

std::vector<std::pair<int, fs::path>> ListCheckpoints(const fs::path& model_dir) {
  std::vector<std::pair<int, fs::path>> out;
  std::error_code ec;
  const std::regex name("step_([0-9]{1,9})");
  for (const auto& e : fs::directory_iterator(model_dir / "checkpoints", ec)) {
    std::smatch m;
    const std::string n = e.path().filename().string();
    if (e.is_directory() && std::regex_match(n, m, name) && fs::exists(e.path() / "config.json"))
      out.emplace_back(std::stoi(m[1].str()), e.path());
  }
  std::sort(out.begin(), out.end());
  // step_100 and step_0100 are the same step: keep the first by name.
  out.erase(std::unique(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first == b.first; }),
            out.end());
  return out;
}

namespace {
// Losses per step from training.json (headscope train-lm); empty maps when absent.
void ReadTrainingLosses(const fs::path& model_dir, std::map<int, double>* train, std::map<int, double>* repeat) {
  const fs::path p = model_dir / "training.json";
  if (!fs::exists(p)) return;
  const json j = io::ParseJson(io::ReadFile(p), p.string());
  if (!j.is_object() || !j.contains("checkpoints") || !j["checkpoints"].is_array())
    throw io::IoError(p.string() + ": lacks the \"checkpoints\" list (written by headscope train-lm)");
  for (const auto& c : j["checkpoints"]) {
    if (!c.is_object() || !c.contains("step") || !c["step"].is_number_integer() || c["step"].get<int64_t>() < 0 ||
        c["step"].get<int64_t>() > (int64_t{1} << 30))
      throw io::IoError(p.string() + ": a checkpoint entry lacks an integer \"step\" in [0, 2^30]: " +
                        io::BriefJson(c));
    const int step = c["step"].get<int>();
    if (c.contains("train_loss") && c["train_loss"].is_number()) (*train)[step] = c["train_loss"].get<double>();
    if (c.contains("loss_second_copy") && c["loss_second_copy"].is_number())
      (*repeat)[step] = c["loss_second_copy"].get<double>();
  }
}
}  // namespace

fs::path FormationTaskPath(const fs::path& model_dir, int step) {
  char name[32];
  std::snprintf(name, sizeof name, "step_%05d.json", step);
  return DerivedDir(model_dir) / "role_formation.d" / name;
}

namespace {
// A task file: {"step", "weights_signature", "num_layers", "num_heads", "method", "scores": {role: [[...]]}};
// nullopt when missing, unreadable or made from other weights or options.
std::optional<std::array<LayerHeadScores, kNumHeadRoles>> ReadFormationTask(const fs::path& path, int step,
                                                                            const std::string& signature,
                                                                            const std::string& method) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  try {
    const json j = io::ParseJson(io::ReadFile(path), path.string());
    if (!j.is_object() || j.value("step", -1) != step || j.value("weights_signature", "") != signature ||
        j.value("method", "") != method)
      return std::nullopt;
    const int L = j.at("num_layers").get<int>(), H = j.at("num_heads").get<int>();
    std::array<LayerHeadScores, kNumHeadRoles> out;
    for (HeadRole role : library::kAllHeadRoles) {
      const json& a = j.at("scores").at(library::HeadRoleKey(role));
      if (!a.is_array() || int(a.size()) != L) return std::nullopt;
      auto& s = out[int(role)];
      s.assign(L, std::vector<double>(H, 0.0));
      for (int l = 0; l < L; ++l) {
        if (!a[l].is_array() || int(a[l].size()) != H) return std::nullopt;
        for (int h = 0; h < H; ++h) s[l][h] = a[l][h].get<double>();
      }
    }
    return out;
  } catch (const std::exception&) {  // a broken task file is computed again
    return std::nullopt;
  }
}

std::string MethodKey(const CategorizeOptions& opt) {
  return "repeated=" + std::to_string(opt.n_repeated) + ";half=" + std::to_string(opt.half_length) +
         ";seed=" + std::to_string(opt.seed) + ";bos=" + std::to_string(opt.bos) +
         ";sentences=" + opt.sentences_file.string();
}
}  // namespace

std::array<LayerHeadScores, kNumHeadRoles> FormationTask(const fs::path& model_dir, int index,
                                                         const CategorizeOptions& opt, bool* computed) {
  const auto checkpoints = ListCheckpoints(model_dir);
  if (index < 0 || index >= int(checkpoints.size()))
    throw std::invalid_argument("checkpoint index " + std::to_string(index) + " is outside 0.." +
                                std::to_string(int(checkpoints.size()) - 1) + " (" +
                                std::to_string(checkpoints.size()) + " checkpoints in " +
                                (model_dir / "checkpoints").string() + ")");
  const auto& [step, dir] = checkpoints[index];
  const fs::path path = FormationTaskPath(model_dir, step);
  const std::string signature = WeightsSignature(dir), method = MethodKey(opt);
  if (auto done = ReadFormationTask(path, step, signature, method)) {
    if (computed) *computed = false;
    return *done;
  }
  const auto lm = LanguageModel::Open(dir);
  const auto scores = ScoreRoles(*lm, opt);
  json sj = json::object();
  for (HeadRole role : library::kAllHeadRoles) sj[library::HeadRoleKey(role)] = scores[int(role)];
  const json j = {{"step", step},
                  {"checkpoint", dir.string()},
                  {"weights_signature", signature},
                  {"method", method},
                  {"num_layers", lm->cfg().n_layers},
                  {"num_heads", lm->cfg().n_heads},
                  {"scores", sj}};
  try {  // a read-only model folder keeps no task file: the scores still count
    fs::create_directories(path.parent_path());
    io::WriteFileAtomic(path, j.dump() + "\n");
  } catch (const std::exception&) {
  }
  if (computed) *computed = true;
  return scores;
}

RoleFormation ComputeFormation(const fs::path& model_dir, const CategorizeOptions& opt,
                               const CategorizeProgress& progress) {
  const auto checkpoints = ListCheckpoints(model_dir);
  if (checkpoints.empty())
    throw io::IoError((model_dir / "checkpoints").string() + ": no step_NNNNN checkpoint folders");
  RoleFormation f;
  std::map<int, double> train, repeat;
  ReadTrainingLosses(model_dir, &train, &repeat);
  int done = 0;
  const int total = int(checkpoints.size());
  for (const auto& [step, dir] : checkpoints) {
    const std::array<LayerHeadScores, kNumHeadRoles> scores = FormationTask(model_dir, done, opt);
    const int L = int(scores[0].size()), H = L ? int(scores[0][0].size()) : 0;
    if (f.steps.empty()) f.n_layers = L, f.n_heads = H;
    if (L != f.n_layers || H != f.n_heads)
      throw io::IoError(dir.string() + ": a different shape from the first checkpoint");
    f.steps.push_back(step);
    f.scores.push_back(scores);
    if (!train.empty() || !repeat.empty()) {
      f.train_loss.push_back(train.count(step) ? train[step] : NAN);
      f.repeat_loss.push_back(repeat.count(step) ? repeat[step] : NAN);
    }
    if (progress && !progress(++done, total)) throw jobs::Cancelled();
  }
  return f;
}

void WriteFormation(const fs::path& path, const RoleFormation& f) {
  json roles = json::object();
  for (HeadRole role : library::kAllHeadRoles) {
    json best = json::array(), all = json::array();
    for (size_t i = 0; i < f.steps.size(); ++i) {
      int l = 0, h = 0;
      const double s = f.Best(int(i), role, &l, &h);
      best.push_back({{"layer", l}, {"head", h}, {"score", s}});
      all.push_back(f.scores[i][int(role)]);
    }
    roles[library::HeadRoleKey(role)] = {{"best", best}, {"all_scores", all}};
  }
  auto nan_to_null = [](const std::vector<double>& v) {
    json a = json::array();
    for (double x : v) a.push_back(std::isfinite(x) ? json(x) : json(nullptr));
    return a;
  };
  json j = {{"num_layers", f.n_layers},
            {"num_heads", f.n_heads},
            {"weights_hash", f.weights_hash},
            {"steps", f.steps},
            {"roles", roles}};
  if (!f.train_loss.empty()) j["train_loss"] = nan_to_null(f.train_loss), j["repeat_loss"] = nan_to_null(f.repeat_loss);
  io::WriteFileAtomic(path, j.dump(1) + "\n");
}

RoleFormation ReadFormation(const fs::path& path) {
  if (!fs::exists(path)) throw io::IoError(path.string() + ": file not found");
  const json j = io::ParseJson(io::ReadFile(path), path.string());
  auto bad = [&](const std::string& what) { throw io::IoError(path.string() + ": " + what); };
  if (!j.is_object()) bad("expected a JSON object (headscope categorize writes it)");
  for (const char* k : {"num_layers", "num_heads"})
    if (!j.contains(k) || !j[k].is_number_integer() || j[k].get<int64_t>() < 1 || j[k].get<int64_t>() > 65536)
      bad(std::string("\"") + k + "\" must be a positive integer");
  RoleFormation f;
  f.n_layers = j["num_layers"].get<int>(), f.n_heads = j["num_heads"].get<int>();
  if (j.contains("weights_hash") && j["weights_hash"].is_string()) f.weights_hash = j["weights_hash"];
  if (!j.contains("steps") || !j["steps"].is_array() || j["steps"].empty()) bad("lacks the \"steps\" list");
  for (const auto& s : j["steps"]) {
    if (!s.is_number_integer() || s.get<int64_t>() < 0 || s.get<int64_t>() > (1 << 30)) bad("a step is not an integer >= 0");
    if (!f.steps.empty() && s.get<int>() <= f.steps.back()) bad("steps are not ascending");
    f.steps.push_back(s.get<int>());
  }
  const size_t n = f.steps.size();
  f.scores.resize(n);
  if (!j.contains("roles") || !j["roles"].is_object()) bad("lacks the \"roles\" object");
  for (HeadRole role : library::kAllHeadRoles) {
    const std::string key = library::HeadRoleKey(role);
    if (!j["roles"].contains(key) || !j["roles"][key].is_object() || !j["roles"][key].contains("all_scores"))
      bad("roles." + key + " lacks \"all_scores\"");
    const json& all = j["roles"][key]["all_scores"];
    if (!all.is_array() || all.size() != n) bad("roles." + key + ".all_scores must have one entry per step");
    for (size_t i = 0; i < n; ++i) {
      LayerHeadScores s;
      if (!all[i].is_array() || int(all[i].size()) != f.n_layers)
        bad("roles." + key + ".all_scores[" + std::to_string(i) + "] must be [num_layers][num_heads]");
      for (const auto& row : all[i]) {
        if (!row.is_array() || int(row.size()) != f.n_heads)
          bad("roles." + key + ".all_scores[" + std::to_string(i) + "] must be [num_layers][num_heads]");
        std::vector<double> r;
        for (const auto& v : row) {
          if (!v.is_number() || !std::isfinite(v.get<double>())) bad("roles." + key + ": a score is not a finite number");
          r.push_back(v.get<double>());
        }
        s.push_back(std::move(r));
      }
      f.scores[i][int(role)] = std::move(s);
    }
  }
  if (j.contains("train_loss") != j.contains("repeat_loss")) bad("has one of \"train_loss\" and \"repeat_loss\" but not both");
  for (auto [key, out] : {std::pair<const char*, std::vector<double>*>{"train_loss", &f.train_loss},
                          std::pair<const char*, std::vector<double>*>{"repeat_loss", &f.repeat_loss}}) {
    if (!j.contains(key)) continue;
    if (!j[key].is_array() || j[key].size() != n) bad(std::string("\"") + key + "\" must have one value per step");
    for (const auto& v : j[key]) {
      if (!v.is_null() && !v.is_number()) bad(std::string("\"") + key + "\" holds something other than numbers");
      out->push_back(v.is_null() ? NAN : v.get<double>());
    }
  }
  return f;
}

}  // namespace hs::lm

namespace hs::lm {

library::HeadCategories LoadOrCategorize(const LanguageModel& lm, const fs::path& dir,
                                         const CategorizeProgress& progress, std::string* note,
                                         std::string* write_error) {
  const fs::path path = CategoriesPath(dir);
  const std::string signature = WeightsSignature(dir);
  std::string hash, why;
  if (fs::exists(path)) {
    try {
      library::HeadCategories c = ReadHeadCategories(path, lm.cfg().n_layers, lm.cfg().n_heads);
      bool current = !c.weights_signature.empty() && c.weights_signature == signature;  // same files: no hashing
      // Same bytes, other file times (a copy, a fresh clone): current. Left
      // as it is (a current file is never rewritten), so this hashes again.
      if (!current) hash = WeightsHash(dir), current = c.weights_hash == hash;
      if (current && c.has_weight_roles) return c;
      if (current) {  // a file from before the roles read from the weights: add them
        AddWeightRoles(lm, &c, {}, progress);
        std::string added = "added the roles read from the weights to " + path.string();
        try {
          WriteHeadCategories(path, c);
        } catch (const std::exception& e) {
          added = "added the roles read from the weights (not saved: " + std::string(e.what()) + ")";
          if (write_error)
            *write_error = "could not save the head categories: " + std::string(e.what()) + " (kept for this session)";
        }
        if (note) *note = added;
        return c;
      }
      why = path.string() + " was made from other weights (" + c.weights_hash + ", now " + hash + "); ";
    } catch (const std::exception& e) {
      why = std::string(e.what()) + "; ";
    }
  }
  if (hash.empty()) hash = WeightsHash(dir);
  library::HeadCategories c = Categorize(lm, ModelName(dir), {}, progress);
  c.weights_hash = hash;
  c.weights_signature = signature;
  try {
    WriteHeadCategories(path, c);
    why += "categorised the heads and wrote " + path.string();
  } catch (const std::exception& e) {
    why += "categorised the heads (not saved: " + std::string(e.what()) + ")";
    if (write_error)
      *write_error = "could not save the head categories: " + std::string(e.what()) + " (kept for this session)";
  }
  if (note) *note = why;
  return c;
}

}  // namespace hs::lm
