// OpenGL textures for heatmaps: RGBA8, nearest filtering (cells stay crisp).
#include "gl_textures.h"

#include <GL/gl.h>

#include <cstdint>

namespace hs::app {
namespace {
ImTextureID Create(int w, int h, const uint32_t* rgba) {
  GLuint tex = 0;
  glGenTextures(1, &tex);
  glBindTexture(GL_TEXTURE_2D, tex);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  glPixelStorei(GL_UNPACK_ROW_LENGTH, 0);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, w, h, 0, GL_RGBA, GL_UNSIGNED_BYTE, rgba);
  return reinterpret_cast<ImTextureID>(static_cast<intptr_t>(tex));
}
void Update(ImTextureID id, int w, int h, const uint32_t* rgba) {
  glBindTexture(GL_TEXTURE_2D, GLuint(reinterpret_cast<intptr_t>(id)));
  glTexSubImage2D(GL_TEXTURE_2D, 0, 0, 0, w, h, GL_RGBA, GL_UNSIGNED_BYTE, rgba);
}
void Destroy(ImTextureID id) {
  GLuint tex = GLuint(reinterpret_cast<intptr_t>(id));
  glDeleteTextures(1, &tex);
}
const widgets::TextureBackend kBackend{Create, Update, Destroy};
}  // namespace

const widgets::TextureBackend* GlTextureBackend() { return &kBackend; }

}  // namespace hs::app
