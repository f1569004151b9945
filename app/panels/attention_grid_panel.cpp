// Heads: the position-pair selector over the attention head grid of the
// selected epoch (attention_grid.h).
#include <imgui.h>

#include "attention_grid.h"
#include "panel.h"

namespace hs::app {
namespace {

class AttentionGridPanel : public Panel {
 public:
  void Draw(const ViewContext& v, PanelOutput& out) override {
    if (!v.run) return;
    int q = v.query_pos, k = v.key_pos;
    if (PairSelector(*v.run, &q, &k)) out.pair = std::make_pair(q, k);
    ImGui::SameLine();
    ImGui::TextDisabled("(rows: a, columns: b; click a head to enlarge)");
    m_grid.Draw(v);
  }
  bool Waiting() const override { return m_grid.status().waiting; }
  std::vector<std::string> Errors() const override { return m_grid.status().errors; }

 private:
  AttentionGrid m_grid{"heads"};
};

const bool kAttentionGridPanelRegistered = RegisterPanel({"heads", "Attention patterns per head", WorkspaceKind::Grokking, "Heads", 10, 0,
                                        1.0f, true, [] { return std::make_unique<AttentionGridPanel>(); }});
}  // namespace

}  // namespace hs::app
