// Activation patching: two prompts of the same length, a clean one and a
// corrupt one that differ where it matters, and two tokens (the answer the
// clean prompt leads to, the wrong one the corrupt prompt leads to). Each
// head's output (hook_z) and each layer's residual stream (resid_pre) is
// copied from the clean run into the corrupt run at one position at a time;
// the map shows how much of the clean logit difference answer - wrong that
// restores (0 = the corrupt run, 1 = the clean run). The run is a request on
// the long lane (lm::PatchActivations), redone after each edit, latest wins.
#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "heatmap.h"
#include "lm_panel_common.h"
#include "workspace.h"

namespace hs::app {
namespace {

class PatchingPanel : public Panel {
 public:
  bool Waiting() const override { return m_waiting; }
  std::vector<std::string> Errors() const override { return m_errors; }

  void Draw(const ViewContext& v, PanelOutput& out) override {
    (void)out;
    m_waiting = false;
    m_errors.clear();
    if (!v.lm) return;
    if (!HasModelToShow(v)) {
      m_waiting = v.lm->error.empty();
      return;
    }
    const LmView& m = *v.lm;
    const lm::LanguageModel& lm = *m.model->lm;
    if (m_for != m.model) {  // a new model: its key, and the demo pair in its tokens
      m_for = m.model;
      m_key = LmModelKey::Of(m.model->dir);
      if (!m_edited) Defaults(lm);
      m_encoded_for.clear();
      m_shown.reset();
    }
    const float fh = ImGui::GetFontSize();
    ImGui::PushTextWrapPos(0);
    ImGui::TextDisabled("Copy one head's output (or a layer's residual stream) from the clean run into the corrupt run, "
                        "at one position at a time: how much of the clean answer comes back? 0 = the corrupt run, 1 = "
                        "the clean run.");
    ImGui::PopTextWrapPos();
    bool edited = false;
    const float label_w = fh * 4.5f, input_w = std::max(fh * 12, ImGui::GetContentRegionAvail().x - label_w - fh * 18);
    auto prompt_row = [&](const char* label, const char* id, std::string* text, const char* help) {
      ImGui::AlignTextToFramePadding();
      ImGui::TextUnformatted(label);
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", help);
      ImGui::SameLine(label_w);
      ImGui::SetNextItemWidth(input_w);
      edited |= ImGui::InputText(id, text);
    };
    prompt_row("Clean", "##clean", &m_clean, "The prompt whose answer you want to explain.");
    ImGui::SameLine();
    ImGui::TextDisabled("%s", m_clean_info.c_str());
    prompt_row("Corrupt", "##corrupt", &m_corrupt,
               "The same number of tokens, changed where it matters, so the model answers differently.");
    ImGui::SameLine();
    ImGui::TextDisabled("%s", m_corrupt_info.c_str());
    ImGui::AlignTextToFramePadding();
    ImGui::TextUnformatted("Answer");
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("The next token the clean prompt leads to (one token).");
    ImGui::SameLine(label_w);
    ImGui::SetNextItemWidth(fh * 6);
    edited |= ImGui::InputText("##answer", &m_answer);
    ImGui::SameLine();
    ImGui::TextUnformatted("Wrong");
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("The next token the corrupt prompt leads to (one token).");
    ImGui::SameLine();
    ImGui::SetNextItemWidth(fh * 6);
    edited |= ImGui::InputText("##wrong", &m_wrong);
    ImGui::SameLine();
    ImGui::TextDisabled("%s", m_token_info.c_str());
    ImGui::SameLine();
    if (ImGui::SmallButton("demo pair")) Defaults(lm), edited = true, m_edited = false;
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("The cat/dog pair: the clean prompt repeats \"the mat\", the corrupt one \"the box\";\n"
                        "induction makes the model answer the first half's word.");
    if (edited) m_edited = true;
    Encode(lm);
    if (!m_problem.empty()) {
      ErrorText(m_problem);
      if (m_shown) ImGui::TextDisabled("(the map below is of the last valid pair)");
    } else {
      const Result<lm::PatchResult> r = v.requests->Patch(m.model, m_key, m_clean_ids, m_corrupt_ids, m_answer_id, m_wrong_id);
      if (r.value) m_shown = r.value;
      if (r.pending) {
        m_waiting = true;
        TextProgressBar(r.progress.fraction, r.progress.what.empty() ? "patching..." : r.progress.what.c_str());
      } else if (!r.error.empty()) {
        ErrorText(r.error);
        m_errors.push_back(r.error);
      }
      if (m.step >= 0) ImGui::TextDisabled("(patching runs the final weights, not training step %d)", m.step);
    }
    if (!m_shown) {
      if (m_problem.empty()) EmptyState("Running every patch...");
      return;
    }
    DrawResult(lm, *m_shown, m_shown->clean != m_clean_ids || m_shown->corrupt != m_corrupt_ids);
  }

 private:
  void Defaults(const lm::LanguageModel& lm) {
    auto one = [&](const std::string& t) {
      try {
        return lm.Encode(t, false).size() == 1;
      } catch (const std::exception&) {
        return false;
      }
    };
    if (one(" mat") && one(" box")) {  // word-level tokens (GPT-2 and friends)
      m_clean = "The cat sat on the mat. The cat sat on the";
      m_corrupt = "The dog ran in the box. The cat sat on the";
      m_answer = " mat", m_wrong = " box";
    } else {  // bytes (the demo LM): the prompt ends with the space, the answer is the next byte
      m_clean = "The cat sat on the mat. The cat sat on the ";
      m_corrupt = "The dog ran in the box. The cat sat on the ";
      m_answer = "m", m_wrong = "b";
    }
  }

  // Tokens of the four inputs, when they changed; m_problem says what is wrong.
  void Encode(const lm::LanguageModel& lm) {
    const std::string now = m_clean + '\x1f' + m_corrupt + '\x1f' + m_answer + '\x1f' + m_wrong;
    if (now == m_encoded_for) return;
    m_encoded_for = now;
    m_problem.clear();
    m_clean_info.clear(), m_corrupt_info.clear(), m_token_info.clear();
    const bool bos = lm.DefaultBos();
    try {
      m_clean_ids = lm.Encode(m_clean, bos);
      m_corrupt_ids = lm.Encode(m_corrupt, bos);
    } catch (const std::exception& e) {
      m_problem = std::string("cannot encode the prompts: ") + e.what();
      return;
    }
    m_clean_info = std::to_string(m_clean_ids.size()) + " tokens, ends " + LastTokens(lm, m_clean_ids, 3);
    m_corrupt_info = std::to_string(m_corrupt_ids.size()) + " tokens, ends " + LastTokens(lm, m_corrupt_ids, 3);
    std::string p = EncodeOneToken(lm, "the answer", m_answer, &m_answer_id);
    if (p.empty()) p = EncodeOneToken(lm, "the wrong token", m_wrong, &m_wrong_id);
    if (p.empty() && m_answer_id == m_wrong_id) p = "the answer and the wrong token are the same token";
    if (p.empty() && m_clean_ids.size() != m_corrupt_ids.size())
      p = "the prompts must have the same number of tokens (clean " + std::to_string(m_clean_ids.size()) +
          ", corrupt " + std::to_string(m_corrupt_ids.size()) + "): patching copies position by position";
    if (p.empty() && m_clean_ids.size() > size_t(lm.cfg().n_ctx))
      p = "the prompts have " + std::to_string(m_clean_ids.size()) + " tokens; the model has " +
          std::to_string(lm.cfg().n_ctx) + " positions";
    if (p.empty() && m_clean_ids == m_corrupt_ids) p = "the clean and corrupt prompts are the same: change the corrupt one";
    if (p.empty())
      m_token_info = "tokens #" + std::to_string(m_answer_id) + " " + LastTokens(lm, {m_answer_id}, 1) + " and #" +
                     std::to_string(m_wrong_id) + " " + LastTokens(lm, {m_wrong_id}, 1);
    m_problem = p;
  }

  void DrawResult(const lm::LanguageModel& lm, const lm::PatchResult& r, bool stale) {
    const int L = r.n_layers, H = r.n_heads, T = r.T, rows = L * (H + 1);
    if (m_grid_for != m_shown) {  // rows: per layer its resid_pre, then its heads
      m_grid.assign(size_t(rows) * T, 0.f);
      m_y.clear(), m_x.clear();
      for (int l = 0; l < L; ++l) {
        const int r0 = l * (H + 1);
        std::copy_n(r.resid.data() + size_t(l) * T, T, m_grid.data() + size_t(r0) * T);
        m_y.push_back("L" + std::to_string(l) + " resid_pre");
        for (int h = 0; h < H; ++h) {
          std::copy_n(r.z.data() + (size_t(l) * H + h) * T, T, m_grid.data() + size_t(r0 + 1 + h) * T);
          m_y.push_back(HeadName(l, h));
        }
      }
      for (int t = 0; t < T; ++t) {
        const std::string a = TokenLabel(lm, r.clean[size_t(t)]), b = TokenLabel(lm, r.corrupt[size_t(t)]);
        m_x.push_back(a == b ? a : a + "/" + b);
      }
      m_x_ptrs.clear(), m_y_ptrs.clear();
      for (const auto& s : m_x) m_x_ptrs.push_back(s.c_str());
      for (const auto& s : m_y) m_y_ptrs.push_back(s.c_str());
      m_vmax = 1;
      for (float x : m_grid) m_vmax = std::max(m_vmax, std::fabs(x));
      m_grid_for = m_shown;
      ++m_version;
    }
    auto tok = [&](int64_t id) { return LastTokens(lm, {id}, 1); };
    ImGui::Text("logit %s - logit %s at the last position: clean %.3f, corrupt %.3f", tok(r.answer).c_str(),
                tok(r.wrong).c_str(), r.ld_clean, r.ld_corrupt);
    if (ImGui::IsItemHovered())
      ImGui::SetTooltip("The logit difference of the two runs: how much more the model expects the answer than the\n"
                        "wrong token. A patch that restores 1 brings the corrupt run all the way back to the clean one.");
    ImGui::SameLine();
    ImGui::TextDisabled("(%d forwards in %.0f ms)", L * (H + 1) * T + 2, r.ms);
    widgets::HeatmapSpec spec =
        EffectMapSpec(m_vmax, "restored share of the logit difference when patching clean into corrupt at one position",
                      "position: clean/corrupt token", "patched", "restored (0 = corrupt, 1 = clean)", "%+.3f",
                      m_x_ptrs, m_y_ptrs);
    spec.stale = stale;
    spec.version = m_version;
    const float fh = ImGui::GetFontSize(), cb_w = fh * 6;
    ImVec2 size = ImGui::GetContentRegionAvail();
    size.y -= ImGui::GetTextLineHeightWithSpacing();
    size.x -= cb_w;
    spec.size = size;
    widgets::HeatmapState st;
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    widgets::Heatmap("##patching", m_grid.data(), rows, T, spec, &st);
    const ImVec2 after = ImGui::GetCursorScreenPos();
    ImGui::SetCursorScreenPos(ImVec2(st.plot_max.x + fh * 0.6f, st.plot_min.y));
    widgets::ColorBar("##patching_cb", widgets::Colormap::Diverging, -m_vmax, m_vmax,
                      ImVec2(cb_w - fh, st.plot_max.y - st.plot_min.y), nullptr);
    ImGui::GetWindowDrawList()->AddText(ImVec2(st.plot_max.x + fh * 0.6f, origin.y), ImGui::GetColorU32(ImGuiCol_Text),
                                        "restored");
    ImGui::SetCursorScreenPos(after);
    if (st.hovered) {
      const int l = st.row / (H + 1), k = st.row % (H + 1);
      ImGui::BeginTooltip();
      if (k == 0)
        ImGui::Text("the residual stream entering layer %d, at position %d, from the clean run", l, st.col);
      else
        ImGui::Text("%s's output (hook_z) at position %d, from the clean run", HeadName(l, k - 1).c_str(), st.col);
      ImGui::Text("logit difference %.3f (clean %.3f, corrupt %.3f)", r.ld_corrupt + st.value * (r.ld_clean - r.ld_corrupt),
                  r.ld_clean, r.ld_corrupt);
      ImGui::EndTooltip();
    }
    ImGui::TextDisabled("Red: the patch brings the clean answer back; blue: it pushes toward the wrong token. resid_pre "
                        "rows patch everything before that layer at that position.");
  }

  bool m_waiting = false, m_edited = false;
  std::vector<std::string> m_errors;
  std::shared_ptr<const lm::LmModel> m_for;
  LmModelKey m_key;
  std::string m_clean, m_corrupt, m_answer, m_wrong;
  std::string m_encoded_for, m_problem, m_clean_info, m_corrupt_info, m_token_info;
  std::vector<int64_t> m_clean_ids, m_corrupt_ids;
  int64_t m_answer_id = 0, m_wrong_id = 0;
  std::shared_ptr<const lm::PatchResult> m_shown;
  std::shared_ptr<const lm::PatchResult> m_grid_for;
  std::vector<float> m_grid;
  std::vector<std::string> m_x, m_y;
  std::vector<const char*> m_x_ptrs, m_y_ptrs;
  float m_vmax = 1;
  uint64_t m_version = 0;
};

const bool kPatchingPanelRegistered = RegisterPanel({"patching", "Activation patching: clean into corrupt",
                                                     WorkspaceKind::LanguageModel, "Patching", 180, 0, 1.0f, true,
                                                     [] { return std::make_unique<PatchingPanel>(); }});

}  // namespace
}  // namespace hs::app
