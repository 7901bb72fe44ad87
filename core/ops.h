// Every tensor op of the core, one header per family.
#pragma once
#include "core/ops/creation.h"
#include "core/ops/elementwise.h"
#include "core/ops/index.h"
#include "core/ops/linalg.h"
#include "core/ops/random.h"
#include "core/ops/reduce.h"
#include "core/ops/scatter.h"
#include "core/ops/view_ops.h"
#include "core/tensor.h"
