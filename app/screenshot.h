// PNG of the current OpenGL framebuffer (stb_image_write).
#pragma once
#include <string>

namespace hs::app {
// Reads the back buffer (w x h) and writes it atomically as PNG.
bool WriteFramebufferPng(const std::string& path, int w, int h, std::string* error);
}  // namespace hs::app
