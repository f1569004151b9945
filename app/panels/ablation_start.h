// The grokking workspace's ablation panel (ablation_panel.cpp): what a new
// panel starts with turned off, for `headscope shot --panel ablation
// --ablate SPEC` (the window itself starts with nothing off).
#pragma once

#include <string>

namespace hs::app {

// SPEC: "heads=0,2;neurons=12,400;freqs=14" (any of the three keys, each
// once; ';' between them). False with *error saying what is wrong; the
// indices are checked against the run when the panel opens it.
bool SetAblationPanelStart(const std::string& spec, std::string* error);

}  // namespace hs::app
