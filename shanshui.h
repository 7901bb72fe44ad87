// One include for users: #include <shanshui.h>
#pragma once
#include "autograd/engine.h"
#include "autograd/function.h"
#include "autograd/grad_mode.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/tensor.h"
