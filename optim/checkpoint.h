// A whole training state in one safetensors file: model parameters and
// buffers, optimizer state, scheduler state, the step counter and the random
// generator, so that resuming gives bit-identical parameters to never stopping.
//
// Layout (the same as Python's shanshui.save of a nested dict, so
// shanshui.load reads a C++ checkpoint as a dict): tensors under dotted names
// "model.<key>", "optimizer.state.<i>.<buffer>", "rng_state"; everything else
// as JSON in __metadata__["shanshui.tree"]. The C++ optimizer's options keep
// their C++ names (beta1/beta2, flags as 0/1).
#pragma once
#include <cstdint>
#include <string>

#include "nn/module.h"
#include "optim/lr_scheduler.h"
#include "optim/optimizer.h"

namespace shanshui::optim {

// `scheduler` may be null. Atomic: a failed save leaves the previous file intact.
void save_training_state(const std::string& path, const nn::Module& model, const Optimizer& optimizer,
                         const LRScheduler* scheduler, int64_t step);

// Restores model (strict), optimizer, scheduler (when given) and the generator; returns the step.
// The objects must be built as they were when saving (same architecture, groups and parameters).
int64_t load_training_state(const std::string& path, nn::Module& model, Optimizer& optimizer,
                            LRScheduler* scheduler);

}  // namespace shanshui::optim
