// What heads write, on the user's prompt. Top: direct logit attribution, a
// map of every head's (and each layer's MLP's, and the embedding's) direct
// contribution to the logit of the next token at every position, through
// the final norm with its scale frozen from the run (TransformerLens
// logit_attrs), or to logit(A) - logit(B) of two tokens the user picks;
// beside it the ranked components at the selected position, summing to the
// logit. Bottom: the logit lens (the next token's probability or rank after
// every layer, around the selected position), the lens's top tokens after
// every layer there, and what the selected head promotes and suppresses
// there. Click a cell: that position, and that head (selected in every
// view, its attention from the position shown here). Everything comes from
// three requests (requests_logits.cpp) on the interactive lane; the last
// results are drawn stale while the next compute.
#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <optional>

#include "heatmap.h"
#include "lm_panel_common.h"
#include "workspace.h"

namespace hs::app {
namespace {

constexpr int kMaxColumns = 96;  // positions the map shows at once (a window on longer prompts)

class LogitAttributionPanel : public PromptPanel {
 public:
  void Draw(const ViewContext& v, PanelOutput& out) override {
    if (!Begin(v)) return;
    const LmView& m = *v.lm;
    const lm::PromptAnalysis& a = *m.analysis;
    const lm::LanguageModel& lm = *m.model->lm;
    const float fh = ImGui::GetFontSize();
    if (m_model_for != m.model) {
      m_model_for = m.model;
      m_encoded_for.clear();
      if (!m_pair_edited) Defaults(lm);
    }
    ImGui::PushTextWrapPos(0);
    ImGui::TextDisabled("What each head (and each MLP) writes straight into the logits: its output through the final "
                        "norm, with the norm's scale frozen from this run, and the unembedding. The components at a "
                        "position sum to its logit. Red raises the token, blue lowers it. Click a cell for that "
                        "position and head.");
    ImGui::PopTextWrapPos();
    DrawControls(lm);
    if (a.T() < 2) {
      EmptyState("Type at least two tokens: the attribution explains each next token.");
      return;
    }
    // The requests: the attribution of the prompt's tokens (every head on, the step shown).
    LmPromptKey key = m.analysis_key;
    key.intervention.clear();
    const bool pair = m_pair && m_problem.empty();
    const Result<lm::LogitAttribution> dla =
        v.requests->Dla(m.model, key, a.tokens, pair ? m_a_id : -1, pair ? m_b_id : -1);
    if (dla.value) m_dla = dla.value;
    if (dla.pending) m_status.waiting = true;
    if (!dla.error.empty()) {
      ErrorText("direct logit attribution: " + dla.error);
      m_status.errors.push_back(dla.error);
    }
    if (!m_dla || m_dla->tokens.empty()) {
      if (dla.error.empty()) EmptyState("Attributing every position's logit to the heads...");
      return;
    }
    const lm::LogitAttribution& d = *m_dla;
    const bool stale = !dla.value || d.tokens != a.tokens;
    if (m_grid_for != m_dla || m_rows_for != m_mlp_rows) Rebuild(m, d);
    if (m_sel_pos < 0 || m_sel_pos >= d.T || (!m_user_pos && m_pos_for != m_dla)) DefaultPosition(m, d);
    m_pos_for = m_dla;
    if (!m.off_heads.empty())
      ImGui::TextColored(ImVec4(0.7f, 0.35f, 0, 1), "Attributed with every head on (the heads you turned off included).");
    if (a.step >= 0) {
      ImGui::SameLine();
      ImGui::TextDisabled("(training step %d)", a.step);
    }

    const ImVec2 avail = ImGui::GetContentRegionAvail();
    const float top_h = std::max(fh * 12, avail.y * 0.55f);
    DrawMap(m, d, stale, ImVec2(avail.x, top_h), out);
    ImGui::Separator();
    DrawBottom(v, m, lm, d, key, ImVec2(avail.x, std::max(fh * 8, ImGui::GetContentRegionAvail().y)), out);
  }

 private:
  void Defaults(const lm::LanguageModel& lm) {
    int64_t id = 0;
    if (EncodeOneToken(lm, "", " mat", &id).empty() && EncodeOneToken(lm, "", " box", &id).empty())
      m_a = " mat", m_b = " box";  // word-level tokens
    else
      m_a = "t", m_b = "x";  // bytes (the demo LM)
  }

  // Target: the next token, or logit(A) - logit(B); the lens's scale; MLP rows.
  void DrawControls(const lm::LanguageModel& lm) {
    const float fh = ImGui::GetFontSize();
    ImGui::AlignTextToFramePadding();
    ImGui::TextUnformatted("Explain");
    ImGui::SameLine();
    if (ImGui::RadioButton("the next token", !m_pair)) m_pair = false;
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("At each position, the logit of the token that actually comes next.");
    ImGui::SameLine();
    if (ImGui::RadioButton("logit A - logit B:", m_pair)) m_pair = true;
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("At each position, how much more the model expects token A than token B\n"
                        "(e.g. the right name against the wrong one).");
    ImGui::SameLine();
    ImGui::SetNextItemWidth(fh * 5);
    bool edited = ImGui::InputText("##dla_a", &m_a);
    ImGui::SameLine();
    ImGui::TextUnformatted("-");
    ImGui::SameLine();
    ImGui::SetNextItemWidth(fh * 5);
    edited |= ImGui::InputText("##dla_b", &m_b);
    if (edited) m_pair = true, m_pair_edited = true;
    const std::string now = m_a + '\x1f' + m_b;
    if (now != m_encoded_for) {
      m_encoded_for = now;
      m_problem = EncodeOneToken(lm, "A", m_a, &m_a_id);
      if (m_problem.empty()) m_problem = EncodeOneToken(lm, "B", m_b, &m_b_id);
      if (m_problem.empty() && m_a_id == m_b_id) m_problem = "A and B are the same token";
    }
    ImGui::SameLine();
    if (m_pair && !m_problem.empty()) ImGui::TextColored(ImVec4(0.8f, 0.1f, 0.1f, 1), "%s", m_problem.c_str());
    else if (m_pair) ImGui::TextDisabled("#%lld - #%lld", (long long)m_a_id, (long long)m_b_id);
    ImGui::SameLine(0, fh * 1.5f);
    ImGui::Checkbox("MLP and embedding rows", &m_mlp_rows);
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("Rows for the token embedding and each layer's MLP beside the heads.\n"
                        "The colour scale is the heads' largest value; larger MLP values saturate.");
  }

  // Rows: [embed,] then per layer its heads [and its MLP]. Components not
  // shown (attention biases, the final norm's and the unembedding's
  // biases) are in the ranked list.
  void Rebuild(const LmView& m, const lm::LogitAttribution& d) {
    m_rows.clear(), m_y.clear();
    if (m_mlp_rows) m_rows.push_back(0), m_y.push_back("embed");
    for (int l = 0; l < d.n_layers; ++l) {
      for (int h = 0; h < d.n_heads; ++h)
        m_rows.push_back(int(d.HeadIndex(l, h))), m_y.push_back(HeadName(l, h) + (m.IsOff(l, h) ? " (off)" : ""));
      if (m_mlp_rows) m_rows.push_back(int(d.MlpIndex(l))), m_y.push_back("L" + std::to_string(l) + " MLP");
    }
    m_labels = m.analysis && m.analysis->tokens == d.tokens ? TokenLabels(m.analysis->token_text) : std::vector<std::string>();
    if (m_labels.size() != size_t(d.T)) {
      m_labels.clear();
      for (int64_t t : d.tokens) m_labels.push_back(TokenLabel(*m.model->lm, t));
    }
    m_vmax = 1e-6f;
    for (int l = 0; l < d.n_layers; ++l)
      for (int h = 0; h < d.n_heads; ++h)
        for (int p = 0; p < d.T; ++p) m_vmax = std::max(m_vmax, float(std::fabs(d.Head(l, h, p))));
    m_grid_for = m_dla;
    m_rows_for = m_mlp_rows;
    m_window_of = -1;
  }

  // The selected head's strongest position; else the last one with a target.
  void DefaultPosition(const LmView& m, const lm::LogitAttribution& d) {
    m_sel_pos = -1;
    for (int p = d.T - 1; p >= 0 && m_sel_pos < 0; --p)
      if (d.targets[size_t(p)] >= 0) m_sel_pos = p;
    if (m.layer >= 0 && m.layer < d.n_layers && m.head >= 0 && m.head < d.n_heads) {
      double best = -1;
      for (int p = 0; p < d.T; ++p)
        if (d.targets[size_t(p)] >= 0 && std::fabs(d.Head(m.layer, m.head, p)) > best)
          best = std::fabs(d.Head(m.layer, m.head, p)), m_sel_pos = p;
    }
    m_sel_pos = std::max(0, m_sel_pos);
    m_user_pos = false;
  }

  std::string Target(const lm::LanguageModel& lm, const lm::LogitAttribution& d, int p) const {
    if (d.targets[size_t(p)] < 0) return "(no next token)";
    if (d.wrong >= 0) return "logit '" + TokenLabel(lm, d.targets[size_t(p)]) + "' - logit '" + TokenLabel(lm, d.wrong) + "'";
    return "logit of the next token '" + TokenLabel(lm, d.targets[size_t(p)]) + "'";
  }

  void DrawMap(const LmView& m, const lm::LogitAttribution& d, bool stale, ImVec2 size, PanelOutput& out) {
    const float fh = ImGui::GetFontSize();
    const lm::LanguageModel& lm = *m.model->lm;
    const int T = d.T, R = int(m_rows.size());
    // A window of positions on long prompts, following the selected position.
    const int W = std::min(T, kMaxColumns);
    if (m_col0 < 0 || m_col0 > T - W || m_sel_pos < m_col0 || m_sel_pos >= m_col0 + W)
      m_col0 = std::clamp(m_sel_pos - W / 2, 0, T - W);
    if (T > W) {
      ImGui::SetNextItemWidth(fh * 12);
      int c0 = m_col0;
      if (ImGui::SliderInt("positions from", &c0, 0, T - W)) {
        m_col0 = c0;
        m_sel_pos = std::clamp(m_sel_pos, m_col0, m_col0 + W - 1), m_user_pos = true;
      }
      ImGui::SameLine();
      ImGui::TextDisabled("(%d of %d positions shown)", W, T);
      size.y -= ImGui::GetFrameHeightWithSpacing();
    }
    if (m_window_of != m_col0) {
      m_cells.assign(size_t(R) * W, NAN);
      for (int r = 0; r < R; ++r)
        for (int c = 0; c < W; ++c) {
          const int p = m_col0 + c;
          if (d.targets[size_t(p)] >= 0) m_cells[size_t(r) * W + c] = float(d.At(size_t(m_rows[size_t(r)]), p));
        }
      m_x_ptrs.clear(), m_y_ptrs.clear();
      for (int c = 0; c < W; ++c) m_x_ptrs.push_back(m_labels[size_t(m_col0 + c)].c_str());
      for (const auto& s : m_y) m_y_ptrs.push_back(s.c_str());
      m_window_of = m_col0;
      ++m_version;
    }
    const float list_w = fh * 17, cb_w = fh * 5;
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    const std::string title = d.wrong >= 0 ? "direct contribution to logit '" + TokenLabel(lm, d.targets[0]) +
                                                 "' - logit '" + TokenLabel(lm, d.wrong) + "' at each position"
                                           : "direct contribution to the next token's logit at each position";
    widgets::HeatmapSpec spec = EffectMapSpec(m_vmax, title.c_str(), "position (token)", "component", "logit", "%+.3f",
                                              m_x_ptrs, m_y_ptrs);
    spec.size = ImVec2(std::max(fh * 10, size.x - list_w - cb_w), size.y);
    spec.stale = stale;
    spec.version = m_version;
    widgets::HeatmapState st;
    const bool clicked = widgets::Heatmap("##dla", m_cells.data(), R, W, spec, &st);
    if (st.hovered && st.row >= 0 && st.col >= 0) {
      const int p = m_col0 + st.col;
      ImGui::BeginTooltip();
      ImGui::Text("at '%s' (position %d): %s", m_labels[size_t(p)].c_str(), p, Target(lm, d, p).c_str());
      if (d.targets[size_t(p)] >= 0) ImGui::Text("%s writes %+.3f of %.3f", m_y[size_t(st.row)].c_str(),
                                                 d.At(size_t(m_rows[size_t(st.row)]), p), d.logits[size_t(p)]);
      ImGui::TextDisabled("Click: this position%s.", RowHead(d, st.row).first >= 0 ? " and this head" : "");
      ImGui::EndTooltip();
    }
    if (clicked && st.row >= 0 && st.col >= 0) {
      m_sel_pos = m_col0 + st.col, m_user_pos = true;
      const auto lh = RowHead(d, st.row);
      if (lh.first >= 0) out.head = lh;
    }
    std::optional<std::pair<int, int>> menu;
    if (RightClicked(st.hovered) && RowHead(d, st.row).first >= 0) menu = RowHead(d, st.row);
    HeadMenu("##dla_menu", menu.has_value(), menu ? menu->first : -1, menu ? menu->second : -1, m, out);
    // The selected position's column and the selected head's row.
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const float cw = (st.plot_max.x - st.plot_min.x) / W, ch = (st.plot_max.y - st.plot_min.y) / std::max(1, R);
    if (m_sel_pos >= m_col0 && m_sel_pos < m_col0 + W) {
      const float x = st.plot_min.x + (m_sel_pos - m_col0) * cw;
      dl->AddRect(ImVec2(x, st.plot_min.y), ImVec2(x + cw, st.plot_max.y), IM_COL32(0, 0, 0, 255), 0, 0, 2.0f);
    }
    for (int r = 0; r < R; ++r)
      if (RowHead(d, r) == std::make_pair(m.layer, m.head)) {
        const float y = st.plot_min.y + r * ch;
        dl->AddRect(ImVec2(st.plot_min.x, y), ImVec2(st.plot_max.x, y + ch), IM_COL32(0, 0, 0, 160), 0, 0, 1.0f);
      }
    ImGui::SetCursorScreenPos(ImVec2(st.plot_max.x + fh * 0.6f, st.plot_min.y));
    widgets::ColorBar("##dla_cb", widgets::Colormap::Diverging, -m_vmax, m_vmax,
                      ImVec2(cb_w - fh * 1.2f, st.plot_max.y - st.plot_min.y), nullptr);
    dl->AddText(ImVec2(st.plot_max.x + fh * 0.6f, st.plot_min.y - fh * 1.3f), ImGui::GetColorU32(ImGuiCol_Text), "logit");
    DrawRanked(m, d, ImVec2(st.plot_max.x + cb_w, origin.y), ImVec2(list_w, size.y), out);
    ImGui::SetCursorScreenPos(ImVec2(origin.x, origin.y + size.y + ImGui::GetStyle().ItemSpacing.y));
  }

  // (layer, head) of a map row, (-1, -1) for the embedding and the MLPs.
  std::pair<int, int> RowHead(const lm::LogitAttribution& d, int row) const {
    if (row < 0 || row >= int(m_rows.size())) return {-1, -1};
    const int c = m_rows[size_t(row)] - 1, per = d.n_heads + 2;
    if (c < 0 || c % per >= d.n_heads) return {-1, -1};
    return {c / per, c % per};
  }

  // The components at the selected position, largest first, and their sum.
  void DrawRanked(const LmView& m, const lm::LogitAttribution& d, ImVec2 at, ImVec2 size, PanelOutput& out) {
    const lm::LanguageModel& lm = *m.model->lm;
    const float fh = ImGui::GetFontSize(), line = ImGui::GetTextLineHeightWithSpacing();
    const int p = m_sel_pos;
    ImGui::SetCursorScreenPos(at);
    ImGui::BeginChild("##dla_ranked", size, false, ImGuiWindowFlags_NoScrollbar);
    ImGui::Text("Position %d '%s'", p, m_labels[size_t(p)].c_str());
    if (d.targets[size_t(p)] < 0) {
      ImGui::TextDisabled("No next token here.");
      ImGui::EndChild();
      return;
    }
    ImGui::PushTextWrapPos(0);
    ImGui::TextUnformatted(Target(lm, d, p).c_str());
    ImGui::PopTextWrapPos();
    const size_t n = d.names.size();
    double sum = 0;
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t(0));
    for (size_t c = 0; c < n; ++c) sum += d.At(c, p);
    std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return std::fabs(d.At(x, p)) > std::fabs(d.At(y, p)); });
    ImGui::Text("= %.3f", d.logits[size_t(p)]);
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("The logit from the forward itself; the %zu components below sum to %.5f.", n, sum);
    ImGui::SameLine();
    ImGui::TextDisabled("(sum of %zu parts %.3f)", n, sum);
    const float avail = ImGui::GetContentRegionAvail().y;
    const int shown = std::clamp(int(avail / line) - 1, 1, int(n));
    double big = 1e-9;
    for (int i = 0; i < shown; ++i) big = std::max(big, std::fabs(d.At(order[size_t(i)], p)));
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const float name_w = fh * 6.5f, bar_w = size.x - name_w - fh * 4;
    double rest = sum;
    for (int i = 0; i < shown; ++i) {
      const size_t c = order[size_t(i)];
      const double x = d.At(c, p);
      rest -= x;
      const ImVec2 row = ImGui::GetCursorScreenPos();
      ImGui::PushID(int(c));
      const bool sel = ImGui::Selectable("##c", false, 0, ImVec2(size.x - fh, line - 2));
      const bool hov = ImGui::IsItemHovered();
      ImGui::PopID();
      dl->AddText(row, ImGui::GetColorU32(ImGuiCol_Text), d.names[c].c_str());
      const float zero = row.x + name_w + bar_w * 0.5f, len = float(x / big) * bar_w * 0.5f;
      dl->AddRectFilled(ImVec2(std::min(zero, zero + len), row.y + 2), ImVec2(std::max(zero, zero + len), row.y + fh - 1),
                        x >= 0 ? IM_COL32(202, 70, 60, 255) : IM_COL32(60, 110, 190, 255));
      dl->AddLine(ImVec2(zero, row.y), ImVec2(zero, row.y + fh), ImGui::GetColorU32(ImGuiCol_TextDisabled));
      char v[24];
      std::snprintf(v, sizeof v, "%+.3f", x);
      dl->AddText(ImVec2(row.x + name_w + bar_w + 4, row.y), ImGui::GetColorU32(ImGuiCol_Text), v);
      // A head's row: click selects it.
      int l = -1, h = -1;
      if (std::sscanf(d.names[c].c_str(), "L%dH%d", &l, &h) == 2) {
        if (sel) out.head = std::make_pair(l, h);
        if (hov) ImGui::SetTooltip("%s writes %+.4f here. Click to select it.", d.names[c].c_str(), x);
      } else if (hov) {
        ImGui::SetTooltip("%s writes %+.4f here.", d.names[c].c_str(), x);
      }
    }
    if (shown < int(n)) ImGui::TextDisabled("the other %d parts: %+.3f", int(n) - shown, rest);
    ImGui::EndChild();
  }

  void DrawBottom(const ViewContext& v, const LmView& m, const lm::LanguageModel& lm, const lm::LogitAttribution& d,
                  const LmPromptKey& key, ImVec2 size, PanelOutput& out) {
    const float fh = ImGui::GetFontSize();
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    const float lens_w = size.x * 0.46f, top_w = size.x * 0.30f, head_w = size.x - lens_w - top_w;
    // The logit lens around the selected position.
    const Result<lm::LogitLens> lens = v.requests->Lens(m.model, key, d.tokens, m_sel_pos, 8);
    if (lens.value) m_lens = lens.value;
    if (lens.pending) m_status.waiting = true;
    ImGui::BeginChild("##lens", ImVec2(lens_w - fh * 0.5f, size.y), false, ImGuiWindowFlags_NoScrollbar);
    ImGui::TextUnformatted("Logit lens: the next token after each layer");
    ImGui::SameLine();
    if (ImGui::RadioButton("probability", !m_rank)) m_rank = false;
    ImGui::SameLine();
    if (ImGui::RadioButton("rank", m_rank)) m_rank = true;
    if (!lens.error.empty()) {
      ErrorText("logit lens: " + lens.error);
      m_status.errors.push_back(lens.error);
    } else if (m_lens && m_lens->tokens == d.tokens) {
      DrawLensGrid(*m_lens, !lens.value);
    } else {
      EmptyState("Reading every layer's residual stream through the unembedding...");
    }
    ImGui::EndChild();
    // The lens's top tokens after each layer at the selected position.
    ImGui::SetCursorScreenPos(ImVec2(origin.x + lens_w, origin.y));
    ImGui::BeginChild("##lens_top", ImVec2(top_w - fh * 0.5f, size.y), false);
    ImGui::Text("Top tokens at '%s' (%d)", m_labels[size_t(m_sel_pos)].c_str(), m_sel_pos);
    if (m_lens && m_lens->tokens == d.tokens && m_lens->position == m_sel_pos) DrawLensTop(lm, *m_lens);
    else ImGui::TextDisabled("computing...");
    ImGui::EndChild();
    // What the selected head writes there.
    ImGui::SetCursorScreenPos(ImVec2(origin.x + lens_w + top_w, origin.y));
    ImGui::BeginChild("##head_writes", ImVec2(head_w, size.y), false);
    DrawHeadWrites(v, m, lm, d, key);
    ImGui::EndChild();
    (void)out;
  }

  void DrawLensGrid(const lm::LogitLens& g, bool stale) {
    const int L = g.n_layers, first = g.first, W = g.last - g.first;
    if (W <= 0 || L <= 0) return;
    if (m_lens_for != m_lens || m_lens_rank != m_rank) {
      m_lens_cells.assign(size_t(L) * W, NAN);
      for (int l = 0; l < L; ++l)
        for (int c = 0; c < W; ++c) {
          const size_t i = size_t(l) * g.T + size_t(first + c);
          if (g.next_rank[i] < 0) continue;
          m_lens_cells[size_t(l) * W + c] = m_rank ? -std::log10(1.0f + float(g.next_rank[i])) : g.next_prob[i];
        }
      m_lens_x.clear(), m_lens_y.clear();
      for (int c = 0; c < W; ++c) m_lens_x.push_back(m_labels[size_t(first + c)].c_str());
      m_lens_ynames.clear();
      for (int l = 0; l < L; ++l) m_lens_ynames.push_back(l + 1 == L ? "output" : "after L" + std::to_string(l));
      for (const auto& s : m_lens_ynames) m_lens_y.push_back(s.c_str());
      m_lens_for = m_lens;
      m_lens_rank = m_rank;
      ++m_lens_version;
    }
    widgets::HeatmapSpec spec;
    spec.colormap = widgets::Colormap::Viridis;
    spec.vmin = m_rank ? -3.0f : 0.0f;
    spec.vmax = m_rank ? 0.0f : 1.0f;
    spec.x_label = "position (token)";
    spec.y_label = "residual stream";
    spec.value_label = m_rank ? "-log10(1 + rank)" : "probability";
    spec.value_format = m_rank ? "%.2f" : "%.3f";
    spec.x_tick_labels = m_lens_x.data();
    spec.y_tick_labels = m_lens_y.data();
    spec.equal_aspect = false;
    spec.stale = stale;
    spec.version = m_lens_version;
    widgets::HeatmapState st;
    if (widgets::Heatmap("##lens_grid", m_lens_cells.data(), L, W, spec, &st) && st.col >= 0)
      m_sel_pos = first + st.col, m_user_pos = true;
    if (st.hovered && st.col >= 0 && st.row >= 0) {
      const size_t i = size_t(st.row) * g.T + size_t(first + st.col);
      ImGui::BeginTooltip();
      if (g.next_rank[i] >= 0)
        ImGui::Text("the next token '%s' ranks %d (probability %.3f) %s", m_labels[size_t(first + st.col) + 1].c_str(),
                    g.next_rank[i] + 1, g.next_prob[i], st.row + 1 == g.n_layers ? "in the output" : "after this layer");
      ImGui::TextDisabled("Click for this position.");
      ImGui::EndTooltip();
    }
    if (m_sel_pos >= first && m_sel_pos < g.last) {
      const float cw = (st.plot_max.x - st.plot_min.x) / W, x = st.plot_min.x + (m_sel_pos - first) * cw;
      ImGui::GetWindowDrawList()->AddRect(ImVec2(x, st.plot_min.y), ImVec2(x + cw, st.plot_max.y),
                                          IM_COL32(255, 255, 255, 255), 0, 0, 2.0f);
    }
  }

  void DrawLensTop(const lm::LanguageModel& lm, const lm::LogitLens& g) {
    const int p = g.position;
    const bool has_next = p + 1 < int(g.tokens.size());
    const int64_t next = has_next ? g.tokens[size_t(p) + 1] : -1;
    if (has_next) ImGui::TextDisabled("next token '%s'; its rank after each layer in ( )", TokenLabel(lm, next).c_str());
    if (ImGui::BeginTable("##lens_top_table", 2, ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_RowBg)) {
      for (int l = 0; l < g.n_layers && l < int(g.top.size()); ++l) {
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        const int rank = g.next_rank.empty() ? -1 : g.next_rank[size_t(l) * g.T + size_t(p)];
        if (rank >= 0) ImGui::Text("%s (%d)", l + 1 == g.n_layers ? "output" : ("L" + std::to_string(l)).c_str(), rank + 1);
        else ImGui::TextUnformatted(l + 1 == g.n_layers ? "output" : ("L" + std::to_string(l)).c_str());
        ImGui::TableNextColumn();
        std::string line;
        for (size_t i = 0; i < g.top[size_t(l)].size() && i < 5; ++i) {
          char b[64];
          std::snprintf(b, sizeof b, "%s'%s' %.2f", i ? "  " : "", TokenLabel(lm, g.top[size_t(l)][i].first).c_str(),
                        g.top[size_t(l)][i].second);
          line += b;
        }
        if (has_next && !g.top[size_t(l)].empty() && g.top[size_t(l)][0].first == next)
          ImGui::TextColored(ImVec4(0.1f, 0.5f, 0.1f, 1), "%s", line.c_str());
        else
          ImGui::TextUnformatted(line.c_str());
      }
      ImGui::EndTable();
    }
  }

  // The selected head at the selected position: the tokens it raises and
  // lowers most, and where it looks from there.
  void DrawHeadWrites(const ViewContext& v, const LmView& m, const lm::LanguageModel& lm, const lm::LogitAttribution& d,
                      const LmPromptKey& key) {
    if (m.layer < 0 || m.layer >= d.n_layers || m.head < 0 || m.head >= d.n_heads) {
      ImGui::TextDisabled("Click a head's row: what it promotes and suppresses here.");
      return;
    }
    const int p = m_sel_pos;
    const std::string head = HeadName(m.layer, m.head);
    ImGui::Text("%s at '%s' (%d) writes %+.3f", head.c_str(), m_labels[size_t(p)].c_str(), p,
                d.targets[size_t(p)] >= 0 ? d.Head(m.layer, m.head, p) : 0.0);
    // Where it looks from this position (the selected head's pattern).
    if (const float* pat = m.SelectedPattern(); pat && m.analysis->tokens == d.tokens) {
      const int T = d.T;
      std::vector<int> keys(size_t(p) + 1);
      std::iota(keys.begin(), keys.end(), 0);
      std::sort(keys.begin(), keys.end(), [&](int x, int y) { return pat[size_t(p) * T + x] > pat[size_t(p) * T + y]; });
      std::string looks = "attends to";
      for (size_t i = 0; i < keys.size() && i < 3; ++i) {
        char b[80];
        std::snprintf(b, sizeof b, "%s '%s'(%d) %.2f", i ? "," : "", m_labels[size_t(keys[i])].c_str(), keys[i],
                      pat[size_t(p) * T + keys[i]]);
        looks += b;
      }
      ImGui::TextDisabled("%s", looks.c_str());
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("Its attention from position %d (the Head roles tab shows the whole pattern).", p);
    }
    const Result<LmHeadWrites> r = v.requests->HeadWrites(m.model, key, d.tokens, m.layer, m.head, p, 8);
    if (r.value) m_writes = r.value;
    if (r.pending) m_status.waiting = true;
    if (!r.error.empty()) {
      ErrorText(r.error);
      m_status.errors.push_back(r.error);
      return;
    }
    if (!m_writes || m_writes->layer != m.layer || m_writes->head != m.head || m_writes->position != p) {
      ImGui::TextDisabled("computing what it writes...");
      return;
    }
    if (ImGui::BeginTable("##writes", 2, ImGuiTableFlags_SizingStretchSame)) {
      ImGui::TableSetupColumn("promotes");
      ImGui::TableSetupColumn("suppresses");
      ImGui::TableHeadersRow();
      const auto& up = m_writes->tokens.up;
      const auto& down = m_writes->tokens.down;
      for (size_t i = 0; i < std::max(up.size(), down.size()); ++i) {
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        if (i < up.size())
          ImGui::TextColored(ImVec4(0.7f, 0.2f, 0.15f, 1), "'%s' %+.2f", TokenLabel(lm, up[i].first).c_str(), up[i].second);
        ImGui::TableNextColumn();
        if (i < down.size())
          ImGui::TextColored(ImVec4(0.2f, 0.35f, 0.7f, 1), "'%s' %+.2f", TokenLabel(lm, down[i].first).c_str(), down[i].second);
      }
      ImGui::EndTable();
    }
    ImGui::PushTextWrapPos(0);
    ImGui::TextDisabled("logit change over the whole vocabulary, through the frozen final norm");
    ImGui::PopTextWrapPos();
  }

  std::shared_ptr<const lm::LmModel> m_model_for;
  // The target.
  bool m_pair = false, m_pair_edited = false, m_mlp_rows = true, m_rank = false;
  std::string m_a, m_b, m_encoded_for, m_problem;
  int64_t m_a_id = -1, m_b_id = -1;
  // The attribution shown and its map.
  std::shared_ptr<const lm::LogitAttribution> m_dla, m_grid_for, m_pos_for;
  bool m_rows_for = true;
  std::vector<int> m_rows;  // component index of each map row
  std::vector<std::string> m_y, m_labels;
  std::vector<const char*> m_x_ptrs, m_y_ptrs;
  std::vector<float> m_cells;
  float m_vmax = 1;
  int m_col0 = -1, m_window_of = -1;
  uint64_t m_version = 0;
  int m_sel_pos = -1;
  bool m_user_pos = false;
  // The lens and what the selected head writes.
  std::shared_ptr<const lm::LogitLens> m_lens, m_lens_for;
  bool m_lens_rank = false;
  std::vector<float> m_lens_cells;
  std::vector<std::string> m_lens_ynames;
  std::vector<const char*> m_lens_x, m_lens_y;
  uint64_t m_lens_version = 0;
  std::shared_ptr<const LmHeadWrites> m_writes;
};

const bool kLogitAttributionPanelRegistered =
    RegisterPanel({"logit_attribution", "What heads write: direct logit attribution and the logit lens",
                   WorkspaceKind::LanguageModel, "Logit attribution", 175, 0, 1.0f, true,
                   [] { return std::make_unique<LogitAttributionPanel>(); }});

}  // namespace
}  // namespace hs::app
