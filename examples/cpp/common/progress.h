// A one-line progress display for the C++ demos: step, loss, rate and time
// left, redrawn in place on a terminal ('\r') and printed every `every` steps
// otherwise (a log file gets readable lines, not a wall of carriage returns).
#pragma once
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace demo {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit = "step", int64_t every = 50)
      : label_(std::move(label)), unit_(std::move(unit)), total_(total), every_(every > 0 ? every : 1),
        tty_(isatty(fileno(stderr)) != 0), start_(Clock::now()), last_draw_(start_) {}

  // Call after each step with the step's loss (and, optionally, the number of
  // items it processed, for a rate in items/s instead of steps/s).
  void update(int64_t step, double loss, double items = 1.0) {
    items_ += items;
    auto now = Clock::now();
    bool last = step >= total_;
    if (tty_) {
      if (!last && seconds(last_draw_, now) < 0.2) return;  // redraw at most 5x a second
    } else if (!last && step % every_ != 0) {
      return;
    }
    last_draw_ = now;
    double elapsed = seconds(start_, now);
    double rate = elapsed > 0 ? items_ / elapsed : 0.0;
    double left = step > 0 ? elapsed * double(total_ - step) / double(step) : 0.0;
    std::fprintf(stderr, "%s%s %lld/%lld  loss %.4f  %.1f %s/s  %s elapsed  %s left%s", tty_ ? "\r" : "",
                 label_.c_str(), (long long)step, (long long)total_, loss, rate, unit_.c_str(),
                 clock_string(elapsed).c_str(), clock_string(left).c_str(), tty_ && !last ? "   " : "\n");
    std::fflush(stderr);
  }

  double elapsed_seconds() const { return seconds(start_, Clock::now()); }

 private:
  using Clock = std::chrono::steady_clock;
  static double seconds(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  }
  static std::string clock_string(double s) {
    char buf[32];
    long t = long(s + 0.5);
    std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
    return buf;
  }

  std::string label_, unit_;
  int64_t total_, every_;
  bool tty_;
  double items_ = 0.0;
  Clock::time_point start_, last_draw_;
};

}  // namespace demo
