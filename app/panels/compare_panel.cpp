// Compare: two variants side by side at the shared epoch (for example a
// grokking run and one without weight decay): their head patterns for the
// selected position pair and whether and when each grokked.
#include <imgui.h>

#include <algorithm>

#include "library/frequency_stats.h"
#include "attention_grid.h"
#include "run_state.h"

namespace hs::app {
namespace {

class ComparePanel : public Panel {
 public:
  void Draw(const ViewContext& a, PanelOutput& out) override {
    if (!a.run) return;
    if (!m_init || m_for_run != a.run->dir) {  // default partner: the first other run of the same p
      m_init = true;
      m_for_run = a.run->dir;
      m_b = RunState{};
      for (const auto& r : a.all_runs)
        if (r != a.run->dir) {
          m_b.Open(r);
          if (m_b.valid() && m_b.info->p == a.run->p) break;
        }
    }
    int q = a.query_pos, k = a.key_pos;
    if (PairSelector(*a.run, &q, &k)) out.pair = std::make_pair(q, k);
    ImGui::SameLine();
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 22);
    if (ImGui::BeginCombo("compare with", m_b.dir.empty() ? "(choose a run)" : ShortName(m_b.dir).c_str())) {
      for (const auto& r : a.all_runs)
        if (r != a.run->dir && ImGui::Selectable(ShortName(r).c_str(), r == m_b.dir)) m_b.Open(r);
      ImGui::EndCombo();
    }
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("The second run is shown at the checkpoint nearest the shared epoch.");
    if (!m_b.error.empty()) ErrorText(m_b.error);
    if (!m_b.valid()) {
      EmptyState(a.all_runs.size() < 2 ? "Only one run exists. Train a variant to compare, e.g.\n"
                                         "headscope train --weight-decay 0 --epochs 8000   (memorises, never groks)"
                                       : "Choose a second run above.");
      return;
    }
    m_b.Refresh();
    ViewContext b = a;
    b.run = m_b.info;
    b.epochs = m_b.epochs;
    const MetricsResult mr = a.requests->Metrics("compare_metrics", m_b.dir);
    b.metrics = mr.value;
    b.grok_epoch = mr.value ? mr.value->grok_epoch : -1;
    b.epoch = -1;
    if (!m_b.epochs.empty() && a.epoch >= 0) {  // nearest checkpoint at or before the shared epoch
      auto it = std::upper_bound(m_b.epochs.begin(), m_b.epochs.end(), a.epoch);
      b.epoch = it == m_b.epochs.begin() ? m_b.epochs.front() : *std::prev(it);
    }
    if (!b.run->ValidPair(b.query_pos, b.key_pos)) std::tie(b.query_pos, b.key_pos) = b.run->DefaultPair();
    const float w = ImGui::GetContentRegionAvail().x * 0.5f - 4;
    auto column = [&](const char* id, const ViewContext& v, AttentionGrid& grid) {
      ImGui::BeginChild(id, ImVec2(w, 0), true);
      ImGui::TextUnformatted(ShortName(v.run->dir).c_str());
      ImGui::SameLine();
      if (v.grok_epoch >= 0)
        ImGui::TextColored(ImVec4(0, 0.55f, 0.35f, 1), "groks at epoch %d", v.grok_epoch);
      else
        ImGui::TextDisabled("has not grokked (test accuracy never above %.1f)", library::kGrokTestAccuracy);
      ImGui::Text("showing epoch %d", v.epoch);
      grid.Draw(v);
      ImGui::EndChild();
    };
    column("##a", a, m_grid_a);
    ImGui::SameLine();
    column("##b", b, m_grid_b);
  }
  bool Waiting() const override { return m_grid_a.status().waiting || m_grid_b.status().waiting; }
  std::vector<std::string> Errors() const override {
    auto e = m_grid_a.status().errors;
    for (auto& s : m_grid_b.status().errors) e.push_back(s);
    if (!m_b.error.empty()) e.push_back(m_b.error);
    return e;
  }

 private:
  RunState m_b;
  std::filesystem::path m_for_run;
  AttentionGrid m_grid_a{"compare_a"}, m_grid_b{"compare_b"};
  bool m_init = false;
};

const bool kComparePanelRegistered = RegisterPanel({"compare", "Compare two variants", WorkspaceKind::Grokking, "Compare", 50, 0,
                                        1.0f, true, [] { return std::make_unique<ComparePanel>(); }});
}  // namespace
}  // namespace hs::app
