# CMake glue that finds and wraps the Debian system packages headscope uses.
# Nothing here is another project's code: only imported targets.
find_package(PkgConfig REQUIRED)

# LibTorch (libtorch-dev). Its TorchConfig adds flags we do not want leaking
# into every target, so expose it as one interface target.
find_package(Torch REQUIRED CONFIG)
add_library(hs_torch INTERFACE)
target_link_libraries(hs_torch INTERFACE ${TORCH_LIBRARIES})
target_include_directories(hs_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
add_library(headscope::torch ALIAS hs_torch)

find_package(Eigen3 REQUIRED NO_MODULE)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 REQUIRED)
find_package(Boost REQUIRED)

pkg_check_modules(LIBZIP REQUIRED IMPORTED_TARGET libzip)
add_library(hs_zip INTERFACE)
target_link_libraries(hs_zip INTERFACE PkgConfig::LIBZIP)
add_library(headscope::zip ALIAS hs_zip)

# Dear ImGui (libimgui-dev 1.86): libimgui.a includes the GLFW and OpenGL3
# backends; headers live in /usr/include/imgui.
find_package(OpenGL REQUIRED)
pkg_check_modules(GLFW REQUIRED IMPORTED_TARGET glfw3)
find_library(IMGUI_LIB NAMES imgui REQUIRED)
# libimgui.a uses Debian's shared libstb for stb_truetype / stb_rect_pack.
find_library(STB_LIB NAMES stb REQUIRED)
find_path(IMGUI_INCLUDE_DIR imgui.h PATH_SUFFIXES imgui REQUIRED)
add_library(hs_imgui INTERFACE)
target_include_directories(hs_imgui SYSTEM INTERFACE ${IMGUI_INCLUDE_DIR})
target_link_libraries(hs_imgui INTERFACE ${IMGUI_LIB} ${STB_LIB} ${CMAKE_DL_LIBS})
add_library(imgui::imgui ALIAS hs_imgui)

add_library(hs_imgui_backends INTERFACE)
target_link_libraries(hs_imgui_backends INTERFACE hs_imgui PkgConfig::GLFW OpenGL::GL)
add_library(imgui::backends ALIAS hs_imgui_backends)

# stb_image_write (libstb-dev): headers plus the implementation in libstb.so.
find_path(STB_INCLUDE_DIR stb_image_write.h PATH_SUFFIXES stb REQUIRED)
add_library(hs_stb INTERFACE)
target_include_directories(hs_stb SYSTEM INTERFACE ${STB_INCLUDE_DIR})
target_link_libraries(hs_stb INTERFACE ${STB_LIB})
add_library(headscope::stb ALIAS hs_stb)

# Tokenizers: PCRE2 (libpcre2-dev) for the Unicode pre-tokenizer regexes, ICU
# (libicu-dev) for the NFC normalizer of Hugging Face tokenizer.json files, and
# SentencePiece (libsentencepiece-dev) for tokenizer.model files.
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
add_library(hs_pcre2 INTERFACE)
target_link_libraries(hs_pcre2 INTERFACE PkgConfig::PCRE2)
add_library(headscope::pcre2 ALIAS hs_pcre2)

pkg_check_modules(ICU_UC REQUIRED IMPORTED_TARGET icu-uc)
add_library(hs_icu INTERFACE)
target_link_libraries(hs_icu INTERFACE PkgConfig::ICU_UC)
add_library(headscope::icu ALIAS hs_icu)

# sentencepiece.pc lists the trainer library too; the encoder needs only libsentencepiece.
# Never link these into a program that links torch: libsentencepiece exports its own protobuf, which
# clashes with torch's libprotobuf and crashes before main(). headscope opens it as a module instead
# (analysis/tokenizers/sentencepiece_module.h).
find_path(SENTENCEPIECE_INCLUDE_DIR sentencepiece_processor.h REQUIRED)
find_library(SENTENCEPIECE_LIB NAMES sentencepiece REQUIRED)
find_library(SENTENCEPIECE_TRAIN_LIB NAMES sentencepiece_train REQUIRED)
add_library(hs_sentencepiece INTERFACE)
target_include_directories(hs_sentencepiece SYSTEM INTERFACE ${SENTENCEPIECE_INCLUDE_DIR})
target_link_libraries(hs_sentencepiece INTERFACE ${SENTENCEPIECE_LIB})
add_library(headscope::sentencepiece ALIAS hs_sentencepiece)
# The trainer (tests build tiny models with it).
add_library(hs_sentencepiece_train INTERFACE)
target_link_libraries(hs_sentencepiece_train INTERFACE hs_sentencepiece ${SENTENCEPIECE_TRAIN_LIB})
add_library(headscope::sentencepiece_train ALIAS hs_sentencepiece_train)
