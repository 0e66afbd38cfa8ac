#pragma once
// How `gapd serve --connections N --threads T` divides T OpenMP threads between N concurrent connections.

#include <vector>

namespace gapd {

// Threads for each of `connections` connections out of `total`: total / connections each, the first
// total % connections connections one more (so the counts differ by at most one and add up to `total`).
// With total < connections every connection still gets 1 thread (the cores are then oversubscribed:
// `connections` threads in all). Throws std::invalid_argument for total < 1 or connections < 1.
std::vector<int> divide_threads(int total, int connections);

}  // namespace gapd
