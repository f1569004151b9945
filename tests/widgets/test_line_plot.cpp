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
