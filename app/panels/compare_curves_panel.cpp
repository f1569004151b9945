// Variants compared: two or more runs' curves overlaid (test accuracy, test
// loss, restricted loss, Gini of W_L) and their findings side by side (from
// each run's summary.json). Runs are chosen in the panel, or with
// `headscope shot --compare RUN,...`.
#include <imgui.h>

#include <algorithm>
#include <map>

#include "analyzers/findings.h"
#include "findings_file.h"
#include "line_plot.h"
#include "panel.h"
#include "run_state.h"

namespace hs::app {
namespace {
namespace fs = std::filesystem;

std::string ShortName(const fs::path& d) { return d.parent_path().filename().string() + "/" + d.filename().string(); }

class CompareCurvesPanel : public Panel {
 public:
  void Draw(const ViewContext& v, PanelOutput& out) override {
    m_waiting = false;
    m_errors.clear();
    if (!v.run) return;
    if (!m_init || m_for_run != v.run->dir) Init(v);
    // Which runs.
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 24);
    const std::string preview = std::to_string(m_runs.size()) + " runs: " + Names();
    if (ImGui::BeginCombo("runs compared", preview.c_str())) {
      for (const auto& r : v.all_runs) {
        bool on = std::find(m_runs.begin(), m_runs.end(), r) != m_runs.end();
        if (ImGui::Checkbox(ShortName(r).c_str(), &on)) {
          if (on) m_runs.push_back(r);
          else m_runs.erase(std::remove(m_runs.begin(), m_runs.end(), r), m_runs.end());
        }
      }
      ImGui::EndCombo();
    }
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Tick the runs to overlay (each keeps its colour in every plot).");
    ImGui::SameLine();
    ImGui::BeginDisabled(m_runs.empty());
    if (ImGui::Button("Report these runs")) out.report = m_runs;
    ImGui::EndDisabled();
    if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled))
      ImGui::SetTooltip("Write an HTML + Markdown report comparing these runs into reports/\n"
                        "(headscope report RUN RUN ... --out DIR); progress shows in the top bar.");
    if (m_runs.size() < 2) {
      EmptyState(v.all_runs.size() < 2 ? "Only one run exists. Train a variant to compare, e.g.\n"
                                         "headscope train --weight-decay 0    (memorises, never groks)\n"
                                         "headscope sweep --p 113 --seed 999 --weight-decay 1,0"
                                       : "Tick a second run above.");
      return;
    }
    // Data per run.
    // Per run: views into the results themselves (metrics) and arrays
    // converted once per summary file (progress measures), not per frame.
    static const std::vector<float> kNone;
    struct Curves {
      const std::vector<float>*tx = &kNone, *tacc = &kNone, *tloss = &kNone, *px = &kNone, *restricted = &kNone,
      *gini = &kNone;
      std::string label;
      const nlohmann::json* findings = nullptr;
    };
    std::vector<Curves> cs(m_runs.size());
    for (size_t i = 0; i < m_runs.size(); ++i) {
      const fs::path& dir = m_runs[i];
      Curves& c = cs[i];
      c.label = ShortName(dir);
      RunState& rs = m_states[dir];
      if (rs.dir != dir) rs.Open(dir);
      if (!rs.error.empty()) m_errors.push_back(rs.error);
      RunCurves& rc = m_curves[dir];
      const MetricsResult mr = v.requests->Metrics("cmpc_m_" + std::to_string(i), dir);
      m_waiting = m_waiting || mr.pending;
      if (!mr.error.empty()) m_errors.push_back(mr.error);
      if (mr.value) rc.metrics = mr.value;
      if (rc.metrics) c.tx = &rc.metrics->test_epoch, c.tacc = &rc.metrics->test_acc, c.tloss = &rc.metrics->test_loss;
      if (rs.valid()) {
        bool missing = false;
        const ArtifactResult pr = v.requests->Summary("cmpc_p_" + std::to_string(i), rs.info, "progress_measures", &missing);
        m_waiting = m_waiting || pr.pending;
        if (!pr.error.empty()) m_errors.push_back(pr.error);
        if (pr.value && pr.value != rc.progress) {
          rc.progress = pr.value;
          rc.px = pr.value->at("epochs").ToFloat();
          rc.restricted = pr.value->at("restricted_loss").ToFloat();
          rc.gini = pr.value->at("gini_W_L").ToFloat();
        }
        if (rc.progress) c.px = &rc.px, c.restricted = &rc.restricted, c.gini = &rc.gini;
      }
      c.findings = m_files[dir].Get(dir);
      if (!m_files[dir].error().empty()) m_errors.push_back(m_files[dir].error());
    }
    for (const auto& e : m_errors) ErrorText(e);
    // Plots, 2 x 2.
    const float fh = ImGui::GetFontSize();
    const float avail = ImGui::GetContentRegionAvail().y;
    const float plot_h = std::max(fh * 9, avail * 0.30f);
    const float w = std::max(fh * 12, ImGui::GetContentRegionAvail().x * 0.5f - 4);
    auto plot = [&](const char* id, const char* ylabel, bool log_y, bool unit_range, auto pick_x, auto pick_y) {
      std::vector<widgets::LineSeries> s;
      for (size_t i = 0; i < cs.size(); ++i) {
        const std::vector<float>& x = *pick_x(cs[i]);
        const std::vector<float>& y = *pick_y(cs[i]);
        widgets::LineSeries ser{cs[i].label.c_str(), x.data(), y.data(), int(std::min(x.size(), y.size()))};
        ser.color = widgets::PaletteColor(int(i));
        s.push_back(ser);
      }
      widgets::LinePlotSpec spec;
      spec.x_label = "epoch";
      spec.y_label = ylabel;
      spec.log_y = log_y;
      if (unit_range) spec.y_min = 0, spec.y_max = 1;
      spec.marker_x = v.epoch >= 0 ? float(v.epoch) : NAN;
      spec.size = ImVec2(w, plot_h);
      float clicked = NAN;
      if (widgets::LinePlot(id, s.data(), int(s.size()), spec, &clicked)) out.jump_to_epoch = int(clicked);
    };
    plot("##c_acc", "test accuracy", false, true, [](const Curves& c) -> const std::vector<float>* { return c.tx; },
         [](const Curves& c) -> const std::vector<float>* { return c.tacc; });
    ImGui::SameLine();
    plot("##c_loss", "test loss (log scale)", true, false, [](const Curves& c) -> const std::vector<float>* { return c.tx; },
         [](const Curves& c) -> const std::vector<float>* { return c.tloss; });
    plot("##c_restricted", "restricted loss (key frequencies only, log scale)", true, false,
         [](const Curves& c) -> const std::vector<float>* { return c.px; },
         [](const Curves& c) -> const std::vector<float>* { return c.restricted; });
    ImGui::SameLine();
    plot("##c_gini", "Gini of W_L's Fourier norms", false, true, [](const Curves& c) -> const std::vector<float>* { return c.px; },
         [](const Curves& c) -> const std::vector<float>* { return c.gini; });
    // Findings side by side.
    const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerH | ImGuiTableFlags_SizingStretchProp |
                                  ImGuiTableFlags_ScrollY;
    if (ImGui::BeginTable("##cmp_findings", int(cs.size()) + 1, flags, ImVec2(0, ImGui::GetContentRegionAvail().y))) {
      ImGui::TableSetupScrollFreeze(0, 1);
      ImGui::TableSetupColumn("finding", ImGuiTableColumnFlags_WidthStretch, 0.8f);
      for (const auto& c : cs) ImGui::TableSetupColumn(c.label.c_str(), ImGuiTableColumnFlags_WidthStretch, 1.0f);
      ImGui::TableHeadersRow();
      std::vector<analyzers::TextRows> rows;
      for (const auto& c : cs) rows.push_back(c.findings ? analyzers::FindingsRows(*c.findings) : analyzers::TextRows{});
      const analyzers::TextRows* labels = nullptr;
      for (const auto& r : rows)
        if (!r.empty()) labels = &r;
      if (labels) {
        for (size_t k = 0; k < labels->size(); ++k) {
          if ((*labels)[k].first == "run" || (*labels)[k].first == "config") continue;
          ImGui::TableNextRow();
          ImGui::TableNextColumn();
          ImGui::TextUnformatted((*labels)[k].first.c_str());
          for (const auto& r : rows) {
            ImGui::TableNextColumn();
            ImGui::TextWrapped("%s", k < r.size() ? r[k].second.c_str() : "(no summary.json: analyze the run)");
          }
        }
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        ImGui::TextUnformatted("heads: specialised from (locked k)");
        for (const auto& c : cs) {
          ImGui::TableNextColumn();
          std::string t;
          if (c.findings)
            for (const auto& h : analyzers::HeadRows(*c.findings)) t += (t.empty() ? "" : "\n") + h[0] + ": " + h[1] + " (k " + h[2] + ")";
          ImGui::TextUnformatted(t.empty() ? "-" : t.c_str());
        }
      } else {
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        ImGui::TextDisabled("No run has a summary.json yet: analyze them (headscope analyze RUN).");
      }
      ImGui::EndTable();
    }
  }
  bool Waiting() const override { return m_waiting; }
  std::vector<std::string> Errors() const override { return m_errors; }

 private:
  void Init(const ViewContext& v) {
    m_init = true;
    m_for_run = v.run->dir;
    m_runs = {v.run->dir};
    for (const auto& r : v.compare_with)
      if (std::find(m_runs.begin(), m_runs.end(), r) == m_runs.end()) m_runs.push_back(r);
    if (m_runs.size() < 2)  // default partner: the first other run of the same p
      for (const auto& r : v.all_runs) {
        if (r == v.run->dir) continue;
        RunState rs;
        rs.Open(r);
        if (rs.valid() && rs.info->p == v.run->p) {
          m_runs.push_back(r);
          break;
        }
      }
  }
  std::string Names() const {
    std::string s;
    for (const auto& r : m_runs) s += (s.empty() ? "" : ", ") + r.filename().string();
    return s;
  }
  bool m_init = false;
  fs::path m_for_run;
  std::vector<fs::path> m_runs;
  std::map<fs::path, RunState> m_states;
  struct RunCurves {
    std::shared_ptr<const MetricsData> metrics;
    std::shared_ptr<const io::NpzArchive> progress;  // what px, restricted, gini were converted from
    std::vector<float> px, restricted, gini;
  };
  std::map<fs::path, RunCurves> m_curves;
  std::map<fs::path, FindingsFile> m_files;
  bool m_waiting = false;
  std::vector<std::string> m_errors;
};

const bool kCompareCurvesPanelRegistered = RegisterPanel({"compare_runs", "Variants compared: curves and findings", WorkspaceKind::Grokking,
                                        "Variants", 51, 0, 1.0f, true, [] { return std::make_unique<CompareCurvesPanel>(); }});
}  // namespace
}  // namespace hs::app
