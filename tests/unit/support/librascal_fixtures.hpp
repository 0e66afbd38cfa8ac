#pragma once
// Access to the librascal reference fixtures in tests/data/librascal (see tests/data/README.md).

#include "models/gap/gap_model.hpp"
#include "models/core/structure.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace gapd::testing {

inline std::string librascal_fixture(const std::string& name) {
    return std::string(GAPD_TEST_DATA_DIR) + "/librascal/" + name;
}

inline nlohmann::json read_json(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open fixture " + path);
    return nlohmann::json::parse(in);
}

// A structure as stored in the predictions_*.json / soap_features_*.json fixtures.
inline Structure structure_from_json(const nlohmann::json& j) {
    Structure s;
    const auto& cell = j.at("cell");
    for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) s.cell(a, b) = cell.at(a).at(b).get<double>();
    const auto& pos = j.at("positions");
    s.positions.resize(pos.size(), 3);
    for (std::size_t i = 0; i < pos.size(); ++i)
        for (int a = 0; a < 3; ++a) s.positions(i, a) = pos.at(i).at(a).get<double>();
    s.numbers = j.at("numbers").get<std::vector<int>>();
    if (j.contains("pbc")) {
        const auto pbc = j.at("pbc").get<std::vector<bool>>();
        s.pbc = {{pbc.at(0), pbc.at(1), pbc.at(2)}};
    }
    return s;
}

inline Matrix3N matrix_from_json(const nlohmann::json& j) {
    Matrix3N m(j.size(), 3);
    for (std::size_t i = 0; i < j.size(); ++i)
        for (int a = 0; a < 3; ++a) m(i, a) = j.at(i).at(a).get<double>();
    return m;
}

}  // namespace gapd::testing
