// How widgets get GPU textures without knowing the graphics API: the app
// installs a backend (OpenGL in app/gl_textures.cpp). Without one (headless
// tests), heatmaps fall back to drawing one rectangle per cell.
#pragma once

#include <imgui.h>

#include <cstdint>

namespace widgets {

struct TextureBackend {
  ImTextureID (*create)(int width, int height, const uint32_t* rgba) = nullptr;  // rows top-down
  void (*update)(ImTextureID tex, int width, int height, const uint32_t* rgba) = nullptr;
  void (*destroy)(ImTextureID tex) = nullptr;
};

// Not thread-safe: call on the UI thread before drawing. nullptr removes it.
void SetTextureBackend(const TextureBackend* backend);
const TextureBackend* GetTextureBackend();

// Frees every texture the widgets hold (call before destroying the GL context).
void ReleaseWidgetTextures();

// Texture uploads since start (benchmarks count them).
uint64_t TextureUploadCount();

}  // namespace widgets
