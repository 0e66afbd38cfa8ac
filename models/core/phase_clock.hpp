#pragma once
// Per-phase wall-clock timing for `gapd bench`: lap(&Times::slot) adds the time since the previous lap to that
// slot of a times struct (GAP or dipole phases). With a null struct it only keeps its time stamp, so callers
// need no branches.

#include <chrono>

namespace gapd {

template <class Times>
class PhaseClock {
public:
    explicit PhaseClock(Times* times) : times_(times), last_(std::chrono::steady_clock::now()) {}
    // Forgets the time since the previous lap (spent in phases timed elsewhere).
    void restart() { last_ = std::chrono::steady_clock::now(); }
    void lap(double Times::*slot) {
        const auto now = std::chrono::steady_clock::now();
        if (times_) times_->*slot += std::chrono::duration<double>(now - last_).count();
        last_ = now;
    }

private:
    Times* times_;
    std::chrono::steady_clock::time_point last_;
};

}  // namespace gapd
