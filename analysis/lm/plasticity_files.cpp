// The plasticity CSVs (see plasticity_files.h).
#include "lm/plasticity_files.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "io/atomic_file.h"

namespace hs::lm {
using library::plasticity::Config;
using library::plasticity::BucketCell;
using library::plasticity::HeadResult;

namespace {
std::string Num(double v) {
  if (!std::isfinite(v)) return "";
  char b[32];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}
}  // namespace

void WritePlasticityCsvs(const std::filesystem::path& dir, const Config& cfg, const std::vector<HeadResult>& results) {
  std::vector<const HeadResult*> rows;
  for (const auto& r : results) rows.push_back(&r);
  std::sort(rows.begin(), rows.end(), [](const HeadResult* a, const HeadResult* b) {
    return std::tie(a->layer, a->q_head) < std::tie(b->layer, b->q_head);
  });
  std::ostringstream m, bk, cp;
  m << "layer,q_head,k_head,n_q_tokens,n_k_tokens,d_model,q_R2_pos,q_R2_scalar,q_mae_baseline,q_mae_proj,"
       "q_mae_ratio,q_resid0_skew,q_resid0_kurt,q_resid0_ks_p,q_noise_med_abs_skew,q_noise_med_abs_kurt,"
       "q_noise_med_ks_p,q_noise_frac_ks_p_lt_alpha,ap_overall\n";
  bk << "layer,q_head,k_head,q_bucket,k_bucket,plasticity,n_pairs\n";
  cp << "layer,q_head,k_head,component,component_r2,weight\n";
  for (const HeadResult* r : rows) {
    const std::string id = std::to_string(r->layer) + "," + std::to_string(r->q_head) + "," + std::to_string(r->k_head);
    m << id << "," << r->n_q << "," << r->n_k << "," << r->d;
    for (double v : {r->q_R2_pos, r->q_R2_scalar, r->q_mae_baseline, r->q_mae_proj, r->q_mae_ratio, r->resid0.skew,
                     r->resid0.kurt, r->resid0.ks_p, r->noise_med_abs_skew, r->noise_med_abs_kurt, r->noise_med_ks_p,
                     r->noise_frac_ks_p_lt_alpha, r->ap_overall})
      m << "," << Num(v);
    m << "\n";
    for (const auto& c : r->cells)
      bk << id << "," << c.q_bucket << "," << c.k_bucket << "," << Num(c.plasticity) << "," << c.n_pairs << "\n";
    for (size_t j = 0; j < r->component_weight.size(); ++j)
      cp << id << "," << j << "," << Num(r->component_r2[j]) << "," << Num(r->component_weight[j]) << "\n";
  }
  std::filesystem::create_directories(dir);
  io::WriteFileAtomic(dir / cfg.output_csv, m.str());
  io::WriteFileAtomic(dir / cfg.bucket_csv, bk.str());
  io::WriteFileAtomic(dir / cfg.component_csv, cp.str());
}

namespace {
// Splits `text` into rows of fields; checks the header.
std::vector<std::vector<std::string>> ReadTable(const std::filesystem::path& path, const std::string& header) {
  if (!std::filesystem::exists(path)) throw io::IoError(path.string() + ": file not found");
  std::istringstream in(io::ReadFile(path));
  std::string line;
  if (!std::getline(in, line) || line != header)
    throw io::IoError(path.string() + ": line 1 is not the header \"" + header + "\"");
  const size_t n_fields = size_t(std::count(header.begin(), header.end(), ',')) + 1;
  std::vector<std::vector<std::string>> rows;
  for (int no = 2; std::getline(in, line); ++no) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream ls(line);
    for (std::string x; std::getline(ls, x, ',');) f.push_back(x);
    if (!line.empty() && line.back() == ',') f.push_back("");
    if (f.size() != n_fields)
      throw io::IoError(path.string() + ": line " + std::to_string(no) + " has " + std::to_string(f.size()) +
                        " fields, expected " + std::to_string(n_fields));
    f.push_back(std::to_string(no));  // remembered for messages
    rows.push_back(std::move(f));
  }
  return rows;
}
double Field(const std::filesystem::path& path, const std::vector<std::string>& row, size_t i, bool allow_empty) {
  const std::string& s = row[i];
  if (s.empty() && allow_empty) return NAN;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v))
    throw io::IoError(path.string() + ": line " + row.back() + ", field " + std::to_string(i + 1) + ": '" + s +
                      "' is not a number");
  return v;
}
int IntField(const std::filesystem::path& path, const std::vector<std::string>& row, size_t i, int lo, int hi) {
  const double v = Field(path, row, i, false);
  if (v != std::floor(v) || v < lo || v > hi)
    throw io::IoError(path.string() + ": line " + row.back() + ", field " + std::to_string(i + 1) + ": '" + row[i] +
                      "' is not an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return int(v);
}
}  // namespace

std::vector<HeadResult> ReadPlasticityCsvs(const std::filesystem::path& dir) {
  const Config cfg;
  const auto mp = dir / cfg.output_csv, bp = dir / cfg.bucket_csv, cp = dir / cfg.component_csv;
  std::vector<HeadResult> out;
  std::map<std::pair<int, int>, size_t> index;
  for (const auto& row :
       ReadTable(mp, "layer,q_head,k_head,n_q_tokens,n_k_tokens,d_model,q_R2_pos,q_R2_scalar,q_mae_baseline,"
                     "q_mae_proj,q_mae_ratio,q_resid0_skew,q_resid0_kurt,q_resid0_ks_p,q_noise_med_abs_skew,"
                     "q_noise_med_abs_kurt,q_noise_med_ks_p,q_noise_frac_ks_p_lt_alpha,ap_overall")) {
    HeadResult r;
    r.layer = IntField(mp, row, 0, 0, 1 << 16), r.q_head = IntField(mp, row, 1, 0, 1 << 16);
    r.k_head = IntField(mp, row, 2, 0, 1 << 16), r.n_q = IntField(mp, row, 3, 0, 1 << 30);
    r.n_k = IntField(mp, row, 4, 0, 1 << 30), r.d = IntField(mp, row, 5, 1, 1 << 16);
    double* dst[] = {&r.q_R2_pos, &r.q_R2_scalar, &r.q_mae_baseline, &r.q_mae_proj, &r.q_mae_ratio, &r.resid0.skew,
                     &r.resid0.kurt, &r.resid0.ks_p, &r.noise_med_abs_skew, &r.noise_med_abs_kurt, &r.noise_med_ks_p,
                     &r.noise_frac_ks_p_lt_alpha, &r.ap_overall};
    for (size_t i = 0; i < 13; ++i) *dst[i] = Field(mp, row, 6 + i, true);
    for (double v : {r.resid0.ks_p, r.noise_med_ks_p, r.noise_frac_ks_p_lt_alpha, r.ap_overall})
      if (v < 0 || v > 1) throw io::IoError(mp.string() + ": line " + row.back() + ": a p-value, fraction or "
                                            "plasticity outside [0, 1]");
    if (!index.emplace(std::make_pair(r.layer, r.q_head), out.size()).second)
      throw io::IoError(mp.string() + ": line " + row.back() + ": a second row for layer " + std::to_string(r.layer) +
                        " head " + std::to_string(r.q_head));
    out.push_back(std::move(r));
  }
  auto head_of = [&](const std::filesystem::path& p, const std::vector<std::string>& row) -> HeadResult& {
    const auto it = index.find({IntField(p, row, 0, 0, 1 << 16), IntField(p, row, 1, 0, 1 << 16)});
    if (it == index.end())
      throw io::IoError(p.string() + ": line " + row.back() + ": a head that " + mp.filename().string() + " lacks");
    if (IntField(p, row, 2, 0, 1 << 16) != out[it->second].k_head)
      throw io::IoError(p.string() + ": line " + row.back() + ": k_head differs from " + mp.filename().string());
    return out[it->second];
  };
  for (const auto& row : ReadTable(bp, "layer,q_head,k_head,q_bucket,k_bucket,plasticity,n_pairs")) {
    BucketCell c;
    c.q_bucket = IntField(bp, row, 3, 0, 64), c.k_bucket = IntField(bp, row, 4, 0, 64);
    c.plasticity = Field(bp, row, 5, true), c.n_pairs = IntField(bp, row, 6, 0, 1 << 30);
    if (c.k_bucket >= c.q_bucket) throw io::IoError(bp.string() + ": line " + row.back() + ": k_bucket >= q_bucket");
    if (c.plasticity < 0 || c.plasticity > 1 || (std::isfinite(c.plasticity) != (c.n_pairs > 0)))
      throw io::IoError(bp.string() + ": line " + row.back() +
                        ": plasticity must be in [0, 1] with n_pairs > 0, or empty with n_pairs 0");
    HeadResult& h = head_of(bp, row);
    for (const auto& o : h.cells)
      if (o.q_bucket == c.q_bucket && o.k_bucket == c.k_bucket)
        throw io::IoError(bp.string() + ": line " + row.back() + ": a second row for the same bucket pair");
    h.cells.push_back(c);
  }
  for (const auto& row : ReadTable(cp, "layer,q_head,k_head,component,component_r2,weight")) {
    HeadResult& h = head_of(cp, row);
    const int j = IntField(cp, row, 3, 0, h.d - 1);
    if (j != int(h.component_weight.size()))
      throw io::IoError(cp.string() + ": line " + row.back() + ": components out of order");
    h.component_r2.push_back(Field(cp, row, 4, false));
    h.component_weight.push_back(Field(cp, row, 5, false));
    if (h.component_weight.back() < 0 || h.component_weight.back() > 1)
      throw io::IoError(cp.string() + ": line " + row.back() + ": a weight outside [0, 1]");
  }
  for (const auto& h : out)
    if (int(h.component_weight.size()) != h.d)
      throw io::IoError(cp.string() + ": layer " + std::to_string(h.layer) + " head " + std::to_string(h.q_head) +
                        " has " + std::to_string(h.component_weight.size()) + " component rows, expected d_model = " +
                        std::to_string(h.d));
  return out;
}

void WritePlasticityRun(const std::filesystem::path& dir, const Config& cfg, const PlasticityRun& run,
                        const std::filesystem::path& model_dir, const std::string& corpus) {
  WritePlasticityCsvs(dir, cfg, run.results);
  io::WriteFileAtomic(dir / "plasticity_config.json", nlohmann::json{{"config", library::plasticity::ConfigJson(cfg)},
                                                                      {"model", model_dir.string()},
                                                                      {"corpus", corpus},
                                                                      {"tokens", run.tokens},
                                                                      {"examples", run.examples}}
                                                               .dump(2) +
                                                           "\n");
}

}  // namespace hs::lm
