// Widget tests: a headless ImGui context (no backend) for many frames.
#include <imgui.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "line_plot.h"

namespace {
struct HeadlessImGui {
  HeadlessImGui() {
    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.DisplaySize = ImVec2(1280, 800);
    io.DeltaTime = 1.0f / 60;
    io.IniFilename = nullptr;
    unsigned char* px;
    int w, h;
    io.Fonts->GetTexDataAsRGBA32(&px, &w, &h);
  }
  ~HeadlessImGui() { ImGui::DestroyContext(); }
};
}  // namespace

TEST_CASE("LinePlot draws series for hundreds of frames and reports clicks", "[widgets]") {
  HeadlessImGui ctx;
  std::vector<float> x(5000), a(5000), b(5000);
  for (int i = 0; i < 5000; ++i) {
    x[i] = float(i);
    a[i] = std::exp(-i / 500.0f);
    b[i] = i == 100 ? NAN : 4.0f / (1 + i);
  }
  widgets::LineSeries s[] = {{"train", x.data(), a.data(), 5000}, {"test", x.data(), b.data(), 5000}};
  widgets::LinePlotSpec spec;
  spec.log_y = true;
  spec.marker_x = 1234;
  bool clicked_any = false;
  float clicked_x = -1;
  int vertices = 0;
  for (int frame = 0; frame < 300; ++frame) {
    ImGuiIO& io = ImGui::GetIO();
    io.MousePos = ImVec2(640, 120);
    io.MouseDown[0] = frame == 200;
    ImGui::NewFrame();
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(ImVec2(1280, 800));
    ImGui::Begin("test");
    if (widgets::LinePlot("##p", s, 2, spec, &clicked_x)) clicked_any = true;
    widgets::LinePlot("##empty", s, 0);  // empty state must not crash
    ImGui::End();
    ImGui::Render();
    vertices = ImGui::GetDrawData()->TotalVtxCount;
  }
  CHECK(vertices > 1000);  // lines, ticks and text were drawn
  CHECK(clicked_any);
  CHECK(clicked_x > 0);
  CHECK(clicked_x < 5000);
}

#include "badge.h"
#include "heatmap.h"

TEST_CASE("Heatmap, FacetGrid and RoleBadge run headless for many frames and report hover and clicks", "[widgets]") {
  HeadlessImGui ctx;
  const int p = 23;
  std::vector<float> grid(p * p);
  for (int i = 0; i < p * p; ++i) grid[i] = float(i % p) / p;
  const float* facets[4] = {grid.data(), grid.data(), grid.data(), grid.data()};
  const char* titles[4] = {"Head 0", "Head 1", "Head 2", "Head 3"};
  widgets::HeatmapState st;
  int facet_clicked = -1;
  bool heat_clicked = false;
  int verts = 0;
  for (int frame = 0; frame < 200; ++frame) {
    ImGuiIO& io = ImGui::GetIO();
    io.MousePos = frame < 100 ? ImVec2(200, 150) : ImVec2(750, 150);
    io.MouseDown[0] = frame == 50 || frame == 150;
    ImGui::NewFrame();
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(ImVec2(1280, 800));
    ImGui::Begin("w");
    ImGui::BeginChild("left", ImVec2(600, 500));
    widgets::HeatmapSpec hs;
    hs.x_label = "b";
    hs.y_label = "a";
    hs.title = "grid";
    if (widgets::Heatmap("##h", grid.data(), p, p, hs, frame < 100 ? &st : nullptr)) heat_clicked = true;
    ImGui::EndChild();
    ImGui::SameLine();
    ImGui::BeginChild("right", ImVec2(600, 500));
    widgets::FacetSpec fs;
    fs.titles = titles;
    const int c = widgets::FacetGrid("##f", facets, 4, p, p, fs);
    if (c >= 0) facet_clicked = c;
    ImGui::EndChild();
    widgets::RoleBadge("low-frequency", true, 0.8f);
    widgets::RoleBadge("mixed", false, 0.3f);
    widgets::Heatmap("##empty", nullptr, 0, 0);  // empty state
    ImGui::End();
    ImGui::Render();
    verts = ImGui::GetDrawData()->TotalVtxCount;
  }
  CHECK(heat_clicked);
  CHECK(st.hovered);
  CHECK(st.row >= 0);
  CHECK(st.col >= 0);
  CHECK(st.value == Approx(grid[st.row * p + st.col]));
  CHECK(facet_clicked >= 0);
  CHECK(verts > 4 * p * p);  // headless fallback draws every cell
  CHECK(widgets::ColormapColor(widgets::Colormap::Viridis, 0) != widgets::ColormapColor(widgets::Colormap::Viridis, 1));
}
