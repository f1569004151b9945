// Widget tests: a headless ImGui context (no backend) for many frames.
#include <imgui.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "headless_imgui.h"
#include "line_plot.h"

namespace {
using hs::test::HeadlessImGui;
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
  CHECK(facet_clicked >= 0);
  CHECK(verts > 4 * p * p);  // headless fallback draws every cell
  CHECK(widgets::ColormapColor(widgets::Colormap::Viridis, 0) != widgets::ColormapColor(widgets::Colormap::Viridis, 1));
}

TEST_CASE("Heatmap hover reports the cell under the mouse, row-major and not transposed", "[widgets]") {
  HeadlessImGui ctx;
  const int rows = 7, cols = 11;  // not square: a transposed lookup cannot pass
  std::vector<float> grid(rows * cols);
  for (int i = 0; i < rows * cols; ++i) grid[i] = float(i);  // a unique value per cell: 11 * r + c
  ImVec2 pmin, pmax;
  // Cells (r, c) we point at, in window pixels from the plot rectangle of
  // the first frame; the expected values are written out by hand.
  const struct { int r, c; float value; } kCells[] = {{0, 0, 0.0f}, {6, 10, 76.0f}, {2, 9, 31.0f}, {5, 1, 56.0f}};
  widgets::HeatmapState st;
  for (int frame = 0; frame < 2 + 2 * 4; ++frame) {
    ImGuiIO& io = ImGui::GetIO();
    const int i = frame < 2 ? -1 : (frame - 2) / 2;
    if (i >= 0) {
      const float cw = (pmax.x - pmin.x) / cols, ch = (pmax.y - pmin.y) / rows;
      io.MousePos = ImVec2(pmin.x + (kCells[i].c + 0.5f) * cw, pmin.y + (kCells[i].r + 0.5f) * ch);
    } else {
      io.MousePos = ImVec2(-100, -100);
    }
    ImGui::NewFrame();
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(ImVec2(900, 700));
    ImGui::Begin("w");
    widgets::HeatmapSpec hs;
    hs.equal_aspect = false;
    st = {};
    widgets::Heatmap("##h", grid.data(), rows, cols, hs, &st);
    ImGui::End();
    ImGui::Render();
    if (frame == 0) pmin = st.plot_min, pmax = st.plot_max;
    if (i >= 0 && (frame - 2) % 2 == 1) {  // the second frame at this position (hover needs one frame)
      INFO("cell (" << kCells[i].r << ", " << kCells[i].c << ")");
      REQUIRE(st.hovered);
      CHECK(st.row == kCells[i].r);
      CHECK(st.col == kCells[i].c);
      CHECK(st.value == kCells[i].value);
    }
  }
  CHECK(pmax.x - pmin.x > 100);
}
