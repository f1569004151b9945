// PNG of the current OpenGL framebuffer (stb_image_write).
#pragma once
#include <string>

namespace hs::app {
// Reads the back buffer (w x h) and writes it atomically as PNG.
bool WriteFramebufferPng(const std::string& path, int w, int h, std::string* error);
// The rectangle (x, y, w, h) in window pixels from the top-left of a
// framebuffer of height fb_h.
bool WriteFramebufferRegionPng(const std::string& path, int fb_h, int x, int y, int w, int h, std::string* error);
}  // namespace hs::app
