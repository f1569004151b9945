// Modular Fourier analysis over Z_p, shared by neurons and heads (DESIGN.md).
#pragma once

#include <torch/types.h>

namespace hs::library {

// Rows of a (p, p) matrix, each unit norm: row 0 constant; rows 2k-1, 2k are
// cos(2*pi*k*x/p), sin(2*pi*k*x/p) for k = 1..(p-1)/2. p must be odd.
// -> [p, p] float32
torch::Tensor FourierBasis(int p);

inline int NumFrequencies(int p) { return (p - 1) / 2; }

// F G F^T for a batch of grids indexed (a, b).
// grids [n, p, p], basis [p, p] -> [n, p, p]
torch::Tensor Fourier2D(const torch::Tensor& grids, const torch::Tensor& basis);

// Fraction of each grid's variance in frequency k (1-based k = row + 1):
// with T = F G F^T and T[0,0] = 0, the sum of T[r,c]^2 over r, c in
// {0, 2k-1, 2k} over the sum of all T^2 (Nanda's neuron_freq_norm). A
// constant grid (no variance) gives zeros, not NaN.
// grids [n, p, p] -> [n_freq, n]
torch::Tensor FrequencyVarianceFractions(const torch::Tensor& grids, const torch::Tensor& basis);

}  // namespace hs::library
