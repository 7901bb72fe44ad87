// The attention family: multi-head attention, positional encodings, Transformer.
#pragma once
#include "nn/attention/multihead_attention.h"
#include "nn/attention/positional_encoding.h"
#include "nn/attention/transformer.h"
