// [SECTION] Heatmap and facet grid widgets (see heatmap.h).
#include "heatmap.h"

#include <algorithm>
#include <cfloat>
#include <cstdio>
#include <unordered_map>
#include <vector>

#include "texture.h"

namespace widgets {

// [SECTION] Texture cache
namespace {
const TextureBackend* g_backend = nullptr;
uint64_t g_uploads = 0;

struct CachedTexture {
  ImTextureID tex = nullptr;
  int w = 0, h = 0;
  const float* src = nullptr;
  uint64_t version = 0;
  float vmin = 0, vmax = 0;
  Colormap map = Colormap::Viridis;
  int last_frame = 0;
};
std::unordered_map<ImGuiID, CachedTexture>& Cache() {
  static std::unordered_map<ImGuiID, CachedTexture> cache;
  return cache;
}

void EvictUnused() {
  const int frame = ImGui::GetFrameCount();
  auto& cache = Cache();
  for (auto it = cache.begin(); it != cache.end();) {
    if (frame - it->second.last_frame > 120) {
      if (g_backend && it->second.tex) g_backend->destroy(it->second.tex);
      it = cache.erase(it);
    } else {
      ++it;
    }
  }
}

void Colorize(const float* v, int rows, int cols, float vmin, float vmax, Colormap map, std::vector<uint32_t>& out) {
  out.resize(size_t(rows) * cols);
  const float scale = vmax > vmin ? 1.0f / (vmax - vmin) : 0.0f;
  for (size_t i = 0; i < out.size(); ++i) out[i] = ColormapColor(map, (v[i] - vmin) * scale);
}

ImTextureID TextureFor(ImGuiID id, const float* values, int rows, int cols, float vmin, float vmax, const HeatmapSpec& s) {
  if (!g_backend) return nullptr;
  CachedTexture& c = Cache()[id];
  c.last_frame = ImGui::GetFrameCount();
  if (c.tex && c.w == cols && c.h == rows && c.src == values && c.version == s.version && c.vmin == vmin &&
      c.vmax == vmax && c.map == s.colormap)
    return c.tex;
  static std::vector<uint32_t> rgba;
  Colorize(values, rows, cols, vmin, vmax, s.colormap, rgba);
  if (c.tex && c.w == cols && c.h == rows) {
    g_backend->update(c.tex, cols, rows, rgba.data());
  } else {
    if (c.tex) g_backend->destroy(c.tex);
    c.tex = g_backend->create(cols, rows, rgba.data());
  }
  ++g_uploads;
  c.w = cols, c.h = rows, c.src = values, c.version = s.version, c.vmin = vmin, c.vmax = vmax, c.map = s.colormap;
  return c.tex;
}

void Range(const float* v, size_t n, const HeatmapSpec& s, float* lo, float* hi) {
  float mn = FLT_MAX, mx = -FLT_MAX;
  if (std::isnan(s.vmin) || std::isnan(s.vmax))
    for (size_t i = 0; i < n; ++i)
      if (std::isfinite(v[i])) mn = std::min(mn, v[i]), mx = std::max(mx, v[i]);
  if (mn > mx) mn = 0, mx = 1;
  if (s.colormap == Colormap::Diverging && std::isnan(s.vmin) && std::isnan(s.vmax)) {
    const float m = std::max(std::fabs(mn), std::fabs(mx));
    mn = -m, mx = m;
  }
  *lo = std::isnan(s.vmin) ? mn : s.vmin;
  *hi = std::isnan(s.vmax) ? mx : s.vmax;
  if (*hi <= *lo) *hi = *lo + 1e-6f;
}

int TickStep(int n, float pixels, float min_px) {
  static const int kSteps[] = {1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000};
  for (int s : kSteps)
    if (pixels * s / std::max(1, n) >= min_px) return s;
  return n;
}
}  // namespace

void SetTextureBackend(const TextureBackend* backend) { g_backend = backend; }
const TextureBackend* GetTextureBackend() { return g_backend; }
uint64_t TextureUploadCount() { return g_uploads; }
void ReleaseWidgetTextures() {
  for (auto& kv : Cache())
    if (g_backend && kv.second.tex) g_backend->destroy(kv.second.tex);
  Cache().clear();
}

// [SECTION] Colour bar
void ColorBar(const char* id, Colormap map, float vmin, float vmax, ImVec2 size, const char* label) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  ImGui::Dummy(size);
  (void)id;
  const float fh = ImGui::GetFontSize();
  const float bar_w = std::min(size.x * 0.35f, fh * 0.9f);
  const float top = p0.y + fh * 0.5f, bottom = p0.y + size.y - fh * 0.5f;
  const int steps = 32;
  for (int i = 0; i < steps; ++i) {
    const float y0 = bottom - (bottom - top) * i / steps, y1 = bottom - (bottom - top) * (i + 1) / steps;
    dl->AddRectFilled(ImVec2(p0.x, y1), ImVec2(p0.x + bar_w, y0), ColormapColor(map, (i + 0.5f) / steps));
  }
  dl->AddRect(ImVec2(p0.x, top), ImVec2(p0.x + bar_w, bottom), ImGui::GetColorU32(ImGuiCol_Border));
  char buf[32];
  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text);
  for (int i = 0; i <= 2; ++i) {
    const float v = vmin + (vmax - vmin) * i / 2.0f;
    std::snprintf(buf, sizeof buf, std::fabs(v) >= 100 || (v != 0 && std::fabs(v) < 0.01) ? "%.1e" : "%.2f", v);
    const float y = bottom - (bottom - top) * i / 2.0f;
    dl->AddText(ImVec2(p0.x + bar_w + 3, y - fh * 0.5f), text, buf);
  }
  if (label) dl->AddText(ImVec2(p0.x, p0.y + size.y - fh * 0.1f), text, label);
}

// [SECTION] Heatmap
bool Heatmap(const char* id, const float* values, int rows, int cols, const HeatmapSpec& s, HeatmapState* state) {
  ImGui::PushID(id);
  const ImGuiID gid = ImGui::GetID("##heatmap");
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float fh = ImGui::GetFontSize();
  ImVec2 size = s.size;
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  if (size.x <= 0) size.x = std::max(60.0f, avail.x);
  if (size.y <= 0) size.y = std::max(60.0f, avail.y);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("##heatmap", size);
  const bool hovered = ImGui::IsItemHovered();
  const bool clicked = ImGui::IsItemClicked();

  const float title_h = s.title ? fh * 1.3f : 0;
  float left = s.axis_ticks ? fh * (s.y_label ? 3.2f : 2.2f) : (s.y_label ? fh * 1.2f : 2);
  float max_x_label = 0, max_y_label = 0;  // widest text tick label
  if (s.axis_ticks && s.y_tick_labels) {
    for (int r = 0; r < rows; ++r) max_y_label = std::max(max_y_label, ImGui::CalcTextSize(s.y_tick_labels[r]).x);
    max_y_label = std::min(max_y_label, fh * 8);
    left = max_y_label + fh * 0.6f + (s.y_label ? ImGui::CalcTextSize(s.y_label).x + fh * 0.5f : 0);
  }
  if (s.axis_ticks && s.x_tick_labels) {  // spacing from the typical label (long ones are clipped)
    for (int c = 0; c < cols; ++c) max_x_label += ImGui::CalcTextSize(s.x_tick_labels[c]).x;
    max_x_label = std::max(max_x_label / cols, fh * 0.8f);
  }
  const float bottom = s.axis_ticks ? fh * (s.x_label ? 2.4f : 1.3f) : (s.x_label ? fh * 1.3f : 2);
  const float right = s.colorbar ? fh * 4.2f : 4;
  float w = size.x - left - right, h = size.y - title_h - bottom;
  if (rows <= 0 || cols <= 0 || !values || w < 4 || h < 4) {
    dl->AddText(ImVec2(origin.x + 4, origin.y + 4), ImGui::GetColorU32(ImGuiCol_TextDisabled), "no data");
    ImGui::PopID();
    return false;
  }
  if (s.equal_aspect) {
    const float cell = std::min(w / cols, h / rows);
    w = cell * cols, h = cell * rows;
  }
  const ImVec2 p0(origin.x + left, origin.y + title_h), p1(p0.x + w, p0.y + h);
  float vmin, vmax;
  Range(values, size_t(rows) * cols, s, &vmin, &vmax);

  if (s.title) {
    const float tw = ImGui::CalcTextSize(s.title).x;
    dl->AddText(ImVec2(p0.x + (w - tw) * 0.5f, origin.y), ImGui::GetColorU32(ImGuiCol_Text), s.title);
  }
  if (ImTextureID tex = TextureFor(gid, values, rows, cols, vmin, vmax, s)) {
    dl->AddImage(tex, p0, p1);
  } else {  // headless fallback: one rectangle per cell
    const float cw = w / cols, ch = h / rows, scale = 1.0f / (vmax - vmin);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c)
        dl->AddRectFilled(ImVec2(p0.x + c * cw, p0.y + r * ch), ImVec2(p0.x + (c + 1) * cw, p0.y + (r + 1) * ch),
                          ColormapColor(s.colormap, (values[size_t(r) * cols + c] - vmin) * scale));
  }
  dl->AddRect(ImVec2(p0.x - 1, p0.y - 1), ImVec2(p1.x + 1, p1.y + 1),
              s.selected ? IM_COL32(220, 50, 47, 255) : ImGui::GetColorU32(ImGuiCol_Border), 0, 0, s.selected ? 2.5f : 1.0f);

  const ImU32 text = ImGui::GetColorU32(ImGuiCol_Text);
  char buf[48];
  if (s.axis_ticks) {
    const int xs = TickStep(cols, w, s.x_tick_labels ? std::min(max_x_label, fh * 8) + fh * 0.5f : fh * 2.5f),
              ys = TickStep(rows, h, fh * (s.y_tick_labels ? 1.05f : 1.2f));
    // Ticks on round labels (multiples of the step), whatever the base.
    const int c0 = s.x_tick_labels ? 0 : (xs - s.x_tick_base % xs) % xs;
    const int r0 = s.y_tick_labels ? 0 : (ys - s.y_tick_base % ys) % ys;
    for (int c = c0; c < cols; c += xs) {
      std::snprintf(buf, sizeof buf, "%d", c + s.x_tick_base);
      const char* label = s.x_tick_labels ? s.x_tick_labels[c] : buf;
      const float x = p0.x + (c + 0.5f) * w / cols, tw = ImGui::CalcTextSize(label).x;
      dl->AddLine(ImVec2(x, p1.y), ImVec2(x, p1.y + 3), text);
      dl->PushClipRect(ImVec2(x - fh * 4, p1.y), ImVec2(x + fh * 4, p1.y + fh * 1.4f), true);
      dl->AddText(ImVec2(x - tw * 0.5f, p1.y + 3), text, label);
      dl->PopClipRect();
    }
    for (int r = r0; r < rows; r += ys) {
      std::snprintf(buf, sizeof buf, "%d", r + s.y_tick_base);
      const char* label = s.y_tick_labels ? s.y_tick_labels[r] : buf;
      const float y = p0.y + (r + 0.5f) * h / rows, tw = std::min(ImGui::CalcTextSize(label).x, fh * 8);
      dl->AddLine(ImVec2(p0.x - 3, y), ImVec2(p0.x, y), text);
      dl->PushClipRect(ImVec2(p0.x - fh * 8 - 5, y - fh), ImVec2(p0.x - 4, y + fh), true);
      dl->AddText(ImVec2(p0.x - tw - 5, y - fh * 0.5f), text, label);
      dl->PopClipRect();
    }
  }
  if (s.x_label) {
    const float tw = ImGui::CalcTextSize(s.x_label).x;
    dl->AddText(ImVec2(p0.x + (w - tw) * 0.5f, p1.y + (s.axis_ticks ? fh * 1.15f : 1)), text, s.x_label);
  }
  if (s.y_label) {  // horizontal, left of the ticks: ImGui 1.86 cannot rotate text
    dl->AddText(ImVec2(origin.x, p0.y + (h - fh) * 0.5f), text, s.y_label);
  }
  if (s.colorbar) {
    ImGui::SetCursorScreenPos(ImVec2(p1.x + fh * 0.5f, p0.y));
    ColorBar("##cb", s.colormap, vmin, vmax, ImVec2(right - fh * 0.5f, h), nullptr);
  }
  if (s.stale) {
    const char* msg = "recomputing...";
    const ImVec2 ts = ImGui::CalcTextSize(msg);
    dl->AddRectFilled(ImVec2(p1.x - ts.x - 8, p0.y + 2), ImVec2(p1.x - 2, p0.y + ts.y + 6), IM_COL32(255, 255, 255, 200));
    dl->AddText(ImVec2(p1.x - ts.x - 5, p0.y + 4), IM_COL32(180, 60, 0, 255), msg);
  }

  HeatmapState st;
  st.plot_min = p0;
  st.plot_max = p1;
  const ImVec2 m = ImGui::GetIO().MousePos;
  if (hovered && m.x >= p0.x && m.x < p1.x && m.y >= p0.y && m.y < p1.y) {
    st.hovered = true;
    st.col = std::min(cols - 1, int((m.x - p0.x) / w * cols));
    st.row = std::min(rows - 1, int((m.y - p0.y) / h * rows));
    st.value = values[size_t(st.row) * cols + st.col];
    ImGui::BeginTooltip();
    if (s.title) ImGui::TextUnformatted(s.title);
    if (s.y_tick_labels || s.x_tick_labels) {  // "query 5 'cat'", "key 2 'the'"
      const char* yn = s.y_label ? s.y_label : "row";
      const char* xn = s.x_label ? s.x_label : "column";
      if (s.y_tick_labels)
        ImGui::Text("%s %d: '%s'", yn, st.row + s.y_tick_base, s.y_tick_labels[st.row]);
      else
        ImGui::Text("%s %d", yn, st.row + s.y_tick_base);
      if (s.x_tick_labels)
        ImGui::Text("%s %d: '%s'", xn, st.col + s.x_tick_base, s.x_tick_labels[st.col]);
      else
        ImGui::Text("%s %d", xn, st.col + s.x_tick_base);
    } else {
      ImGui::Text("%s = %d, %s = %d", s.y_label ? s.y_label : "row", st.row + s.y_tick_base,
                  s.x_label ? s.x_label : "column", st.col + s.x_tick_base);
    }
    std::snprintf(buf, sizeof buf, s.value_format, st.value);
    ImGui::Text("%s: %s", s.value_label, buf);
    ImGui::EndTooltip();
  }
  if (state) *state = st;
  ImGui::SetCursorScreenPos(ImVec2(origin.x, origin.y + size.y));
  ImGui::Dummy(ImVec2(0, 0));
  if (ImGui::GetFrameCount() % 60 == 0) EvictUnused();
  ImGui::PopID();
  return clicked;
}

// [SECTION] Facet grid
int FacetGrid(const char* id, const float* const* values, int n, int rows, int cols, const FacetSpec& spec) {
  ImGui::PushID(id);
  HeatmapSpec hs = spec.heatmap;
  if (std::isnan(hs.vmin) || std::isnan(hs.vmax)) {  // one colour scale for all facets
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int i = 0; i < n; ++i) {
      float a, b;
      Range(values[i], size_t(rows) * cols, spec.heatmap, &a, &b);
      lo = std::min(lo, a), hi = std::max(hi, b);
    }
    if (std::isnan(hs.vmin)) hs.vmin = lo;
    if (std::isnan(hs.vmax)) hs.vmax = hi;
  }
  const int ncol = std::max(1, std::min(spec.columns, n));
  const int nrow = (n + ncol - 1) / ncol;
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float cb = ImGui::GetFontSize() * 4.5f;
  const float fw = (avail.x - cb) / ncol;
  const float title_pad = ImGui::GetFontSize() * (spec.heatmap.axis_ticks ? 4.0f : 1.8f);
  const float fh = spec.facet_height > 0 ? spec.facet_height
                                         : std::max(80.0f, std::min(avail.y / nrow, fw + title_pad));
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  int clicked = -1;
  hs.colorbar = false;
  for (int i = 0; i < n; ++i) {
    ImGui::SetCursorScreenPos(ImVec2(origin.x + (i % ncol) * fw, origin.y + (i / ncol) * fh));
    hs.title = spec.titles ? spec.titles[i] : nullptr;
    hs.size = ImVec2(fw - 4, fh - 4);
    ImGui::PushID(i);
    if (Heatmap("##facet", values[i], rows, cols, hs)) clicked = i;
    ImGui::PopID();
  }
  ImGui::SetCursorScreenPos(ImVec2(origin.x + ncol * fw, origin.y + ImGui::GetFontSize() * 1.3f));
  // As tall as the grid's visible part (at least 8 lines: small facets
  // squashed their ticks together).
  const float cb_h = std::max(std::min(fh * nrow, std::max(fh, avail.y)) - ImGui::GetFontSize() * 4,
                              ImGui::GetFontSize() * 8);
  ColorBar("##shared_cb", hs.colormap, hs.vmin, hs.vmax, ImVec2(cb, cb_h), spec.heatmap.value_label);
  ImGui::SetCursorScreenPos(ImVec2(origin.x, origin.y + nrow * fh));
  ImGui::Dummy(ImVec2(0, 0));
  ImGui::PopID();
  return clicked;
}

}  // namespace widgets
