// The modular-addition task: its data split and its float64 loss. The
// family owns them, so that viewing (analyzers, ablation) needs no trainer.
#pragma once

#include <torch/types.h>

#include "model/hooked_transformer.h"

namespace hs::families {

struct ModAddData {
  int p = 0;
  torch::Tensor all_tokens;  // [p*p, 3] rows (a, b, '=') with index a*p + b
  torch::Tensor all_labels;  // [p*p] (a + b) mod p
  torch::Tensor train_idx;   // [n_train] indices into all_tokens
  torch::Tensor test_idx;    // [n_test]
};

// The data split of the TL grokking demo: torch.manual_seed(data_seed);
// randperm(p*p); the first int(frac * p*p) indices train.
ModAddData MakeModAddData(int p, double train_frac, int data_seed);

// Mean cross-entropy computed in float64 (log-softmax of logits cast to
// double), as in the original code. logits [batch, classes], labels [batch].
torch::Tensor CrossEntropyF64(const torch::Tensor& logits, const torch::Tensor& labels);

}  // namespace hs::families
