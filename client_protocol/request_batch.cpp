#include "client_protocol/request_batch.hpp"

#include "client_protocol/frame_conversion.hpp"

#include <stdexcept>
#include <string>

namespace gapd {

namespace {

bool same_structure(const wire::WireStructure& a, const wire::WireStructure& b) {
    return a.h == b.h && a.positions == b.positions;
}

}  // namespace

std::vector<wire::WireResult> compute_requests(ForceEngine& engine, const std::vector<wire::WireStructure>& structures,
                                               std::size_t natoms) {
    // i-PI pads short batches by repeating the last structure: each repeat reuses its predecessor's result.
    std::vector<Frame> frames;
    std::vector<std::size_t> result_of(structures.size());
    for (std::size_t i = 0; i < structures.size(); ++i) {
        if (i > 0 && same_structure(structures[i], structures[i - 1])) {
            result_of[i] = result_of[i - 1];
            continue;
        }
        result_of[i] = frames.size();
        frames.push_back(frame_from_wire(structures[i], engine.uses_cell()));
    }
    std::vector<ForceResult> computed;
    try {
        computed = frames.size() == 1 ? std::vector<ForceResult>{engine.compute(frames.front())}
                                      : engine.compute_batch(frames);
    } catch (const std::exception& e) {
        throw std::runtime_error(std::string("force engine failed: ") + e.what());
    }
    if (computed.size() != frames.size())
        throw std::logic_error("force engine returned " + std::to_string(computed.size()) + " results for " +
                               std::to_string(frames.size()) + " structures");
    std::vector<wire::WireResult> results;
    results.reserve(structures.size());
    for (std::size_t i = 0; i < structures.size(); ++i) results.push_back(result_to_wire(computed[result_of[i]], natoms));
    return results;
}

}  // namespace gapd
