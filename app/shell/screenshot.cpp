// Framebuffer -> PNG (see screenshot.h).
#include "screenshot.h"

#include <GL/gl.h>

#include <algorithm>
#include <vector>

#include "io/atomic_file.h"

#include <stb_image_write.h>

namespace hs::app {

bool WriteFramebufferPng(const std::string& path, int w, int h, std::string* error) {
  return WriteFramebufferRegionPng(path, h, 0, 0, w, h, error);
}

bool WriteFramebufferRegionPng(const std::string& path, int fb_h, int x, int y, int w, int h, std::string* error) {
  if (w <= 0 || h <= 0) {
    if (error) *error = "empty region";
    return false;
  }
  std::vector<unsigned char> pixels(size_t(w) * h * 4);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(x, fb_h - y - h, w, h, GL_RGBA, GL_UNSIGNED_BYTE, pixels.data());
  // OpenGL's origin is bottom-left; PNG rows go top-down.
  std::vector<unsigned char> flipped(pixels.size());
  for (int y = 0; y < h; ++y)
    std::copy_n(&pixels[size_t(h - 1 - y) * w * 4], size_t(w) * 4, &flipped[size_t(y) * w * 4]);
  for (size_t i = 3; i < flipped.size(); i += 4) flipped[i] = 255;
  std::string png;
  stbi_write_force_png_filter = 0;  // unfiltered rows: simple to check in tests
  stbi_write_png_to_func(
      [](void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size); },
      &png, w, h, 4, flipped.data(), w * 4);
  try {
    io::WriteFileAtomic(path, png);
  } catch (const std::exception& e) {
    if (error) *error = e.what();
    return false;
  }
  return true;
}

}  // namespace hs::app
