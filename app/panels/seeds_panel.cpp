// Seeds: the runs of the open run's recipe that differ only in the model
// seed (found in the runs folder), overlaid: each seed's progress curve
// (thin), their mean (thick) and range (band), with the paper's phases
// shaded; below, every finding as mean, spread and each seed against the
// paper's value, and whether it is consistent across seeds
// (analyzers/seeds.h). The summary is computed off the UI thread and again
// whenever a run's summary.json changes.
#include <imgui.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <future>

#include "analyzers/seeds.h"
#include "line_plot.h"
#include "panel.h"
#include "requests.h"

namespace hs::app {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct SeedsData {
  analyzers::SeedGroup group;
  json summary;
  std::string error;
};

class SeedsPanel : public Panel {
 public:
  bool Waiting() const override { return m_job.valid(); }
  std::vector<std::string> Errors() const override {
    return m_data && !m_data->error.empty() ? std::vector<std::string>{m_data->error} : std::vector<std::string>{};
  }

  void Draw(const ViewContext& v, PanelOutput&) override {
    if (!v.run) return;
    Poll(v);
    if (!m_data) {
      EmptyState("Looking for the other seeds of this run's recipe...");
      return;
    }
    const SeedsData& d = *m_data;
    if (d.group.runs.size() < 2) {
      EmptyState("No other run of this recipe differs only in the seed. Train some, e.g.\n"
                 "headscope sweep --seed 1,2,3,4,5       (then: headscope report --seeds --out reports/seeds)");
      return;
    }
    std::string seeds;
    for (int s : d.group.seeds) seeds += (seeds.empty() ? "" : ", ") + std::to_string(s);
    ImGui::Text("%zu seeds (%s) of %s", d.group.runs.size(), seeds.c_str(), d.group.label.c_str());
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("Runs under the runs folder whose config.json agree on everything but model_seed.");
    if (!d.error.empty()) {
      ErrorText(d.error);
      return;
    }
    DrawCurves(d);
    DrawTable(d);
  }

 private:
  // The group and its summary: recomputed in the background when the set of
  // runs or any run's summary.json changes (checked twice a second).
  void Poll(const ViewContext& v) {
    if (m_job.valid() && m_job.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      m_data = std::make_shared<const SeedsData>(m_job.get());
      ++m_version;
    }
    const auto now = std::chrono::steady_clock::now();
    if (m_job.valid() || (m_data && now - m_checked < std::chrono::milliseconds(500) && m_for == v.run->dir)) return;
    m_checked = now;
    std::string key = v.run->dir.string();
    for (const auto& r : v.all_runs) {
      const FileSig s = Signature(r / "summary.json");
      key += "|" + r.string() + ":" + std::to_string(s.size) + ":" + std::to_string(s.mtime_ns);
    }
    if (key == m_key && m_data) return;
    m_key = key;
    m_for = v.run->dir;
    m_job = std::async(std::launch::async, [run = v.run->dir, all = v.all_runs] {
      SeedsData d;
      d.group = analyzers::SeedGroupOf(run, all);
      if (d.group.runs.size() >= 2) {
        try {
          d.summary = analyzers::SeedSummary(d.group.runs);
        } catch (const std::exception& e) {
          d.error = std::string(e.what()) + " (analyse every seed: headscope analyze RUN)";
        }
      }
      return d;
    });
  }

  void DrawCurves(const SeedsData& d) {
    static const char* kNames[] = {"test_loss", "restricted_loss", "excluded_loss", "train_loss", "gini_W_L"};
    static const char* kLabels[] = {"test loss", "restricted loss", "excluded loss", "train loss", "Gini of W_L"};
    for (int i = 0; i < 5; ++i) {
      if (i) ImGui::SameLine();
      if (ImGui::RadioButton(kLabels[i], m_curve == i)) m_curve = i, ++m_version;
    }
    ImGui::SameLine();
    ImGui::TextDisabled("(?)");
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("Thin: each seed. Thick: their mean. Band: their range (min to max) at each checkpoint.\n"
                        "Shaded: the paper's phases (Nanda et al. 2023, p = 113): memorisation to ~1.4k epochs,\n"
                        "circuit formation to ~9.4k, clean-up to ~14k.");
    const json& c = d.summary.value("curves", json::object());
    if (m_built != m_version) {
      m_built = m_version;
      m_x.clear(), m_y.clear(), m_mean.clear(), m_lo.clear(), m_hi.clear(), m_labels.clear();
      for (const auto& e : c.value("epochs", json::array())) m_x.push_back(e.get<float>());
      const json per = c.value(kNames[m_curve], json::array());
      const json runs = d.summary.value("curve_runs", json::array());
      for (size_t r = 0; r < per.size(); ++r) {
        std::vector<float> y;
        for (const auto& v : per[r]) y.push_back(v.is_number() ? v.get<float>() : NAN);
        if (y.size() != m_x.size()) continue;
        m_y.push_back(std::move(y));
        const size_t run = r < runs.size() ? runs[r].get<size_t>() : r;
        m_labels.push_back("seed " + (run < d.group.seeds.size() ? std::to_string(d.group.seeds[run]) : std::string("?")));
      }
      const bool log = m_curve < 4;
      for (size_t i = 0; i < m_x.size(); ++i) {
        double s = 0, lo = INFINITY, hi = -INFINITY;
        int n = 0;
        for (const auto& y : m_y)
          if (std::isfinite(y[i]) && (!log || y[i] > 0)) {
            s += log ? std::log(double(y[i])) : y[i], ++n;
            lo = std::min(lo, double(y[i])), hi = std::max(hi, double(y[i]));
          }
        // The mean of a loss on a log axis: the geometric mean.
        m_mean.push_back(n ? float(log ? std::exp(s / n) : s / n) : NAN);
        m_lo.push_back(n ? float(lo) : NAN), m_hi.push_back(n ? float(hi) : NAN);
      }
    }
    std::vector<widgets::LineSeries> series;
    for (size_t r = 0; r < m_y.size(); ++r) {
      widgets::LineSeries s;
      s.label = m_labels[r].c_str();
      s.x = m_x.data(), s.y = m_y[r].data(), s.count = int(m_x.size());
      s.color = (widgets::PaletteColor(int(r)) & 0x00FFFFFF) | 0xA0000000;
      series.push_back(s);
    }
    widgets::LineSeries mean;
    mean.label = m_curve < 4 ? "mean (geometric)" : "mean";
    mean.x = m_x.data(), mean.y = m_mean.data(), mean.count = int(m_x.size());
    mean.color = IM_COL32(20, 20, 20, 255);
    series.push_back(mean);
    widgets::LineFill fill;
    fill.x = m_x.data(), fill.lo = m_lo.data(), fill.hi = m_hi.data(), fill.count = int(m_x.size());
    fill.color = IM_COL32(40, 80, 160, 45);
    const widgets::LineBand bands[] = {{0, 1400, "paper: memorisation", IM_COL32(0, 0, 0, 10)},
                                       {1400, 9400, "circuit formation", IM_COL32(0, 0, 0, 22)},
                                       {9400, 14000, "clean-up", IM_COL32(0, 0, 0, 10)}};
    widgets::LinePlotSpec spec;
    spec.x_label = "epoch";
    spec.y_label = kLabels[m_curve];
    spec.log_y = m_curve < 4;
    spec.size = ImVec2(-1, std::max(ImGui::GetFontSize() * 12, ImGui::GetContentRegionAvail().y * 0.5f));
    spec.fills = &fill, spec.n_fills = 1;
    if (d.summary.value("paper_recipe", false)) spec.bands = bands, spec.n_bands = 3;
    if (m_x.empty()) {
      EmptyState("No progress measures in these runs yet (headscope analyze RUN writes them).");
      return;
    }
    widgets::LinePlot("##seed_curves", series.data(), int(series.size()), spec);
  }

  void DrawTable(const SeedsData& d) {
    const auto cols = analyzers::SeedColumns(d.summary);
    const auto rows = analyzers::SeedRows(d.summary);
    const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_ScrollY |
                                  ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_ScrollX;
    // The key frequencies (the last row) as lines above the table: their cells are long.
    if (!rows.empty()) {
      const auto& k = rows.back();
      std::string per;
      for (size_t i = 5; i < k.size(); ++i) per += (per.empty() ? "" : ";  ") + cols[i] + ": " + k[i];
      ImGui::TextColored(k[1] == "consistent" ? ImVec4(0.1f, 0.5f, 0.1f, 1) : ImVec4(0.7f, 0.35f, 0, 1),
                         "Key frequencies %s:", k[1].c_str());
      ImGui::SameLine();
      ImGui::TextWrapped("%s.  %s; %s%s", per.c_str(), k[3].c_str(), k[4].c_str(),
                         k[2] == "-" ? "" : ("; paper: " + k[2]).c_str());
    }
    if (!ImGui::BeginTable("##seed_table", int(cols.size()), flags)) return;
    ImGui::TableSetupScrollFreeze(1, 1);
    for (const auto& c : cols) ImGui::TableSetupColumn(c.c_str());
    ImGui::TableHeadersRow();
    for (size_t ri = 0; ri + 1 < rows.size(); ++ri) {
      const auto& r = rows[ri];
      ImGui::TableNextRow();
      for (size_t i = 0; i < r.size() && i < cols.size(); ++i) {
        ImGui::TableNextColumn();
        if (i == 1 && r[i] == "consistent") ImGui::TextColored(ImVec4(0.1f, 0.5f, 0.1f, 1), "%s", r[i].c_str());
        else if (i == 1) ImGui::TextColored(ImVec4(0.7f, 0.35f, 0, 1), "%s", r[i].c_str());
        else ImGui::TextUnformatted(r[i].c_str());
      }
    }
    ImGui::EndTable();
  }

  std::future<SeedsData> m_job;
  std::shared_ptr<const SeedsData> m_data;
  std::string m_key;
  fs::path m_for;
  std::chrono::steady_clock::time_point m_checked{};
  int m_curve = 0;
  uint64_t m_version = 0, m_built = ~uint64_t(0);
  std::vector<float> m_x, m_mean, m_lo, m_hi;
  std::vector<std::vector<float>> m_y;
  std::vector<std::string> m_labels;
};

const bool kSeedsPanelRegistered = RegisterPanel({"seeds", "Across seeds: what holds and what is one seed's",
                                                  WorkspaceKind::Grokking, "Seeds", 66, 0, 1.0f, true,
                                                  [] { return std::make_unique<SeedsPanel>(); }});

}  // namespace
}  // namespace hs::app
