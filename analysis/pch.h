// Precompiled header for torch translation units: <torch/torch.h> alone
// costs ~15 s per file to parse.
#pragma once
#include <torch/torch.h>
