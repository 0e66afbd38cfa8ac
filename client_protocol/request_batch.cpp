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
    std::vector<wire::WireResult> results;
    results.reserve(structures.size());
    for (std::size_t i = 0; i < structures.size(); ++i) {
        if (i > 0 && same_structure(structures[i], structures[i - 1])) {
            results.push_back(results.back());
            continue;
        }
        const Frame frame = frame_from_wire(structures[i], engine.uses_cell());
        ForceResult result;
        try {
            result = engine.compute(frame);
        } catch (const std::exception& e) {
            throw std::runtime_error(std::string("force engine failed: ") + e.what());
        }
        results.push_back(result_to_wire(result, natoms));
    }
    return results;
}

}  // namespace gapd
