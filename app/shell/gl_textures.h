// OpenGL implementation of the widgets' texture backend.
#pragma once

#include "texture.h"

namespace hs::app {
const widgets::TextureBackend* GlTextureBackend();
}  // namespace hs::app
