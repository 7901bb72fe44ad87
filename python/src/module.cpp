// shanshui._C: the compiled half of the shanshui package. Each area binds
// itself in its own init_<area>(); the pure-Python package (python/shanshui)
// re-exports everything under PyTorch's names.
#include "bindings.h"

PYBIND11_MODULE(_C, m) {
  m.doc() = "shanshui C++ core: tensors, ops and autograd";
  using namespace shanshui::python;
  init_tensor(m);            // Tensor, dtype, Size, Node, exception translation
  init_tensor_operators(m);  // operators on Tensor
  init_ops(m);               // op families (free functions and Tensor methods)
  init_autograd(m);          // grad mode and shanshui.autograd
  init_nn(m);                // shanshui._C.nn: Module, Parameter, layers, functional, init
  init_optim(m);             // optimizers, clipping, rng state, safetensors
  init_nn_attention(m);      // attention: scaled_dot_product_attention, MultiheadAttention, Transformer
  init_vision_graph(m);      // scatter_reduce, graph attention, convolution, pooling
  init_distributed(m);       // shanshui.distributed: MPI collectives, DDP's reducer, sampler
  init_rnn(m);               // RNN/GRU/LSTM, cells, additive attention, Seq2Seq, gumbel_softmax
  init_nn_decoding(m);       // KV-cache decoding, greedy and beam search (extends the two above)
  init_bert(m);              // BertModel, BertForMaskedLM, functional.mask_tokens
}
