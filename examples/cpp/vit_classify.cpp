// Vision Transformer image classification in C++, written as a user's training
// program would be: it links shanshui (and the demos' CLI11 / JSON / PNG
// helpers) and nothing else. Same model and recipe as examples/vit_classify.py:
// a ViT (patch embedding, CLS token, learned position embeddings, pre-LN
// blocks) trained with AdamW, linear warmup + cosine decay, label smoothing and
// random 1-2 pixel shifts.
//
//   build/examples/example_vit_classify                       # Fashion-MNIST (Debian dataset-fashion-mnist)
//   build/examples/example_vit_classify --dataset digits --data .../sklearn/datasets/data/digits.csv.gz
//   build/examples/example_vit_classify --short               # the test suite's quick run
//
// Writes <out>/confusion_matrix.png, <out>/attention_rollout.png (top row: test
// images; bottom row: how much the CLS token draws on each patch through all
// layers, Abnar & Zuidema 2020) and <out>/results.json. Exits 1 unless the
// training loss fell well below its starting value (and, with --short, the
// test accuracy beats chance by a wide margin).
#include <shanshui.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "image.h"
#include "nn/nn.h"
#include "optim/optim.h"
#include "progress.h"
#include "vit/image_data.h"

namespace ss = shanshui;
namespace F = shanshui::nn::functional;

namespace {

struct Recipe {  // the same numbers as CONFIGS in examples/vit_classify.py
  int64_t img, patch, dim, depth, heads;
  double mlp_ratio;
  int epochs;
  int64_t batch;
  double lr, weight_decay, dropout;
  int shift;  // largest random shift in pixels (the augmentation; 0 = off)
};
const Recipe kFashion{28, 7, 64, 4, 4, 2.0, 15, 64, 2e-3, 0.05, 0.0, 0};
const Recipe kDigits{8, 2, 64, 3, 4, 2.0, 40, 32, 2e-3, 0.05, 0.1, 0};

ss::Tensor batch_images(const std::vector<float>& pixels, int64_t b, int64_t h, int64_t w) {
  return ss::from_vector(pixels, {b, 1, h, w});
}

// Predicted classes of every image of `s`, in batches of 500 under no_grad.
std::vector<int64_t> predict(ss::nn::ViT& model, const demo::ImageSet& s) {
  ss::NoGradGuard no_grad;
  model.eval();
  std::vector<int64_t> pred;
  for (int64_t i = 0; i < s.n; i += 500) {
    const int64_t b = std::min<int64_t>(500, s.n - i);
    std::vector<float> px(s.pixels.begin() + i * s.h * s.w, s.pixels.begin() + (i + b) * s.h * s.w);
    for (double p : ss::to_vector(ss::argmax(model(batch_images(px, b, s.h, s.w)), 1))) pred.push_back(int64_t(p));
  }
  model.train();
  return pred;
}

double accuracy(const std::vector<int64_t>& pred, const std::vector<int64_t>& labels) {
  int64_t ok = 0;
  for (size_t i = 0; i < pred.size(); ++i) ok += pred[i] == labels[i];
  return double(ok) / double(pred.size());
}

// Attention rollout: average the heads, add the identity for the residual path,
// renormalise the rows, multiply through the layers; the CLS row over the patches.
std::vector<std::vector<double>> rollout(const std::vector<ss::Tensor>& attentions) {
  ss::Tensor r;
  for (const ss::Tensor& a : attentions) {  // [B, heads, N, N]
    ss::Tensor m = ss::mean(a, {1}) + ss::eye(a.size(-1));
    m = m / ss::sum(m, {-1}, true);
    r = r.defined() ? ss::matmul(m, r) : m;
  }
  ss::Tensor cls = r.select(1, 0).slice(1, 1, std::nullopt).contiguous();  // [B, N - 1]
  std::vector<double> v = ss::to_vector(cls);
  const int64_t n = cls.size(1);
  std::vector<std::vector<double>> maps;
  for (int64_t b = 0; b < cls.size(0); ++b) maps.emplace_back(v.begin() + b * n, v.begin() + (b + 1) * n);
  return maps;
}

// One picture: the images on top, their rollout maps (upsampled to pixels) below,
// each scaled to [0, 1] on its own, with a blank column between neighbours.
void write_rollout_png(const std::string& path, const demo::ImageSet& s, const std::vector<std::vector<double>>& maps,
                       int64_t grid) {
  const int64_t k = int64_t(maps.size()), H = s.h, W = s.w, cols = k * (W + 1), rows = 2 * H + 1;
  std::vector<double> canvas(size_t(rows * cols), 0.0);
  auto place = [&](const std::vector<double>& v, int64_t row0, int64_t col0, auto value_at) {
    auto [mn, mx] = std::minmax_element(v.begin(), v.end());
    const double span = *mx > *mn ? *mx - *mn : 1.0;
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) canvas[size_t((row0 + y) * cols + col0 + x)] = (value_at(y, x) - *mn) / span;
  };
  for (int64_t i = 0; i < k; ++i) {
    std::vector<double> img(s.pixels.begin() + i * H * W, s.pixels.begin() + (i + 1) * H * W);
    place(img, 0, i * (W + 1), [&](int64_t y, int64_t x) { return img[size_t(y * W + x)]; });
    const int64_t ph = H / grid, pw = W / grid;
    place(maps[size_t(i)], H + 1, i * (W + 1),
          [&](int64_t y, int64_t x) { return maps[size_t(i)][size_t((y / ph) * grid + x / pw)]; });
  }
  demo::write_heatmap_png(path, canvas, int(rows), int(cols), int(std::max<int64_t>(1, 112 / H)), 0.0, 1.0);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a Vision Transformer on Fashion-MNIST or the 8x8 digits"};
  std::string dataset = "fashion-mnist", data, out = "out/vit_cpp";
  int epochs = 0, threads = 0;
  uint64_t seed = 0;
  bool short_run = false;
  app.add_option("--dataset", dataset, "fashion-mnist or digits")
      ->check(CLI::IsMember({"fashion-mnist", "digits"}))
      ->capture_default_str();
  app.add_option("--data", data,
                 "fashion-mnist: the folder of idx files (default /usr/share/datasets/fashion-mnist); "
                 "digits: scikit-learn's digits.csv.gz (required)");
  app.add_option("--epochs", epochs, "training epochs (default: per dataset, 15 / 40)");
  app.add_option("--seed", seed, "seed for the weights, the shuffles and the shifts")->capture_default_str();
  app.add_option("--threads", threads, "threads for the library and BLAS (default: OMP_NUM_THREADS)");
  app.add_option("--out", out, "folder for the pictures and results.json")->capture_default_str();
  app.add_flag("--short", short_run, "a quick run on a subset (what the test suite runs)");
  CLI11_PARSE(app, argc, argv);

  try {
    if (threads > 0) ss::set_num_threads(threads);
    ss::manual_seed(seed);
    std::mt19937_64 rng(seed);
    Recipe cfg = dataset == "digits" ? kDigits : kFashion;
    demo::ImageSet train, test;
    float background = 0.0f;
    if (dataset == "fashion-mnist") {
      const std::string dir = data.empty() ? "/usr/share/datasets/fashion-mnist" : data;
      train = demo::read_idx(dir + "/train-images-idx3-ubyte", dir + "/train-labels-idx1-ubyte");
      test = demo::read_idx(dir + "/t10k-images-idx3-ubyte", dir + "/t10k-labels-idx1-ubyte");
      // The training set's mean and std; a shifted-in pixel is blank background.
      demo::normalize(train, 0.2860f, 0.3530f);
      demo::normalize(test, 0.2860f, 0.3530f);
      background = -0.2860f / 0.3530f;
    } else {
      if (data.empty()) throw std::runtime_error("--dataset digits needs --data path/to/digits.csv.gz");
      demo::ImageSet all = demo::read_digits_csv(data);
      demo::normalize(all, 0.3053f, 0.3760f);  // the mean and std of all 1797 images
      background = -0.3053f / 0.3760f;
      // A seeded 80/20 split.
      std::vector<int64_t> perm(size_t(all.n));
      std::iota(perm.begin(), perm.end(), 0);
      std::mt19937_64 split_rng(0);
      std::shuffle(perm.begin(), perm.end(), split_rng);
      const int64_t n_train = all.n * 4 / 5;
      for (auto* part : {&train, &test}) part->h = part->w = 8;
      for (int64_t i = 0; i < all.n; ++i) {
        demo::ImageSet& dst = i < n_train ? train : test;
        dst.pixels.insert(dst.pixels.end(), all.pixels.begin() + perm[size_t(i)] * 64,
                          all.pixels.begin() + (perm[size_t(i)] + 1) * 64);
        dst.labels.push_back(all.labels[size_t(perm[size_t(i)])]);
        ++dst.n;
      }
    }
    if (short_run) {
      train = train.head(8000);
      test = test.head(1000);
      cfg.epochs = dataset == "digits" ? 8 : 2;
      cfg.batch = std::min<int64_t>(cfg.batch, 64);  // more, smaller steps: early training gains more per image
    }
    if (epochs > 0) cfg.epochs = epochs;
    const int64_t classes = 10;  // both datasets

    auto model = std::make_shared<ss::nn::ViT>(cfg.img, cfg.patch, 1, classes, cfg.dim, cfg.depth, cfg.heads,
                                               cfg.mlp_ratio, cfg.dropout);
    std::vector<ss::Tensor> params = model->parameters();
    int64_t n_params = 0;
    for (auto& p : params) n_params += p.numel();
    ss::optim::AdamWOptions opt_options;
    opt_options.lr = cfg.lr;
    opt_options.weight_decay = cfg.weight_decay;
    ss::optim::AdamW opt(params, opt_options);
    const int64_t steps_per_epoch = (train.n + cfg.batch - 1) / cfg.batch, total = cfg.epochs * steps_per_epoch;
    ss::optim::WarmupCosineLR sched(opt, std::max<int64_t>(1, total / 20), total);
    std::printf("%s: %lld train / %lld test images; ViT with %lld parameters, %d epochs of %lld steps\n",
                dataset.c_str(), (long long)train.n, (long long)test.n, (long long)n_params, cfg.epochs,
                (long long)steps_per_epoch);

    demo::Progress progress("train", total, "img");
    std::vector<double> losses;
    nlohmann::json history = nlohmann::json::array();
    std::vector<int64_t> order(size_t(train.n));
    std::iota(order.begin(), order.end(), 0);
    int64_t step = 0;
    for (int epoch = 1; epoch <= cfg.epochs; ++epoch) {
      std::shuffle(order.begin(), order.end(), rng);
      double epoch_loss = 0;
      for (int64_t s = 0; s < steps_per_epoch; ++s) {
        std::vector<int64_t> idx(order.begin() + s * cfg.batch,
                                 order.begin() + std::min<int64_t>(train.n, (s + 1) * cfg.batch));
        const int64_t b = int64_t(idx.size());
        std::vector<int64_t> y(idx.size());
        for (size_t i = 0; i < idx.size(); ++i) y[i] = train.labels[size_t(idx[i])];
        ss::Tensor x = batch_images(demo::gather_batch(train, idx, cfg.shift, background, rng), b, train.h, train.w);
        ss::Tensor loss = F::cross_entropy((*model)(x), ss::from_vector(y, {b}), ss::Tensor(), -100, "mean", 0.1);
        opt.zero_grad();
        loss.backward();
        opt.step();
        sched.step();
        losses.push_back(loss.item_double());
        epoch_loss += losses.back();
        progress.update(++step, losses.back(), double(b));
      }
      const double acc = accuracy(predict(*model, test), test.labels);
      std::printf("epoch %d: loss %.4f, test accuracy %.2f%%\n", epoch, epoch_loss / double(steps_per_epoch),
                  100 * acc);
      std::fflush(stdout);  // keep the epoch lines in order with the progress line (stderr) in a log
      history.push_back({{"epoch", epoch}, {"loss", epoch_loss / double(steps_per_epoch)}, {"test_accuracy", acc}});
    }
    const double seconds = progress.elapsed_seconds();

    std::vector<int64_t> pred = predict(*model, test);
    const double acc = accuracy(pred, test.labels);
    std::vector<double> cm(size_t(classes * classes), 0.0);
    for (size_t i = 0; i < pred.size(); ++i) cm[size_t(test.labels[i] * classes + pred[i])] += 1;
    std::printf("final test accuracy %.2f%% (%.0f s, %.0f images/s)\n", 100 * acc, seconds,
                double(step) * double(cfg.batch) / seconds);

    std::filesystem::create_directories(out);
    demo::write_heatmap_png(out + "/confusion_matrix.png", cm, int(classes), int(classes), 24);
    {
      ss::NoGradGuard no_grad;
      model->eval();
      const int64_t k = std::min<int64_t>(6, test.n);
      demo::ImageSet shown = test.head(k);
      auto res = model->forward_with_attention(batch_images(shown.pixels, k, test.h, test.w), true);
      write_rollout_png(out + "/attention_rollout.png", shown, rollout(res.attentions), cfg.img / cfg.patch);
    }

    // "Well below": the mean of the last 20 steps under 60% of the first step's loss (a model that
    // does not learn stays near ln 10 = 2.30; the short run ends near 45%).
    const size_t tail = std::min<size_t>(20, losses.size());
    const double first = losses.front(),
                 last = std::accumulate(losses.end() - long(tail), losses.end(), 0.0) / double(tail);
    const bool learned = last < 0.6 * first && (!short_run || acc > 0.5);
    nlohmann::json results = {{"dataset", dataset},          {"test_accuracy", acc},
                              {"parameters", n_params},      {"seconds", seconds},
                              {"first_loss", first},         {"final_loss", last},
                              {"epochs", cfg.epochs},        {"short", short_run},
                              {"history", history},          {"confusion_matrix", cm},
                              {"config", {{"img", cfg.img}, {"patch", cfg.patch}, {"dim", cfg.dim},
                                          {"depth", cfg.depth}, {"heads", cfg.heads}, {"mlp_ratio", cfg.mlp_ratio},
                                          {"batch", cfg.batch}, {"lr", cfg.lr}, {"dropout", cfg.dropout},
                                          {"shift", cfg.shift}}}};
    std::ofstream(out + "/results.json") << results.dump(1) << "\n";
    std::printf("loss %.4f -> %.4f; wrote %s/{confusion_matrix.png,attention_rollout.png,results.json}\n", first, last,
                out.c_str());
    if (!learned) std::fprintf(stderr, "vit_classify: the model did not learn (loss %.4f -> %.4f, accuracy %.2f%%)\n",
                               first, last, 100 * acc);
    return learned ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vit_classify: %s\n", e.what());
    return 2;
  }
}
