// The backward engine: iterative topological walk from the roots, gradients
// buffered per node and freed as soon as the node has run.
#pragma once
#include <vector>

#include "autograd/node.h"

namespace shanshui::autograd {

// Accumulate d(roots)/d(leaves) into the leaves' .grad (Tensor.backward / torch.autograd.backward).
void backward(const tensor_list& roots, const tensor_list& grad_roots, bool retain_graph = false,
              bool create_graph = false);

// Return d(outputs)/d(inputs) without touching .grad (torch.autograd.grad).
tensor_list grad(const tensor_list& outputs, const tensor_list& inputs, const tensor_list& grad_outputs = {},
                 bool retain_graph = false, bool create_graph = false, bool allow_unused = false);

}  // namespace shanshui::autograd
