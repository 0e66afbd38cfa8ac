#pragma once
// Access to the librascal lambda=1 fixtures in tests/data/librascal/lambda1 (see tests/data/README.md and
// shared/reference/librascal/lambda1/README.md), and small helpers shared by the lambda=1 / dipole tests.

#include "librascal_fixtures.hpp"
#include "models/descriptors/lambda1_features.hpp"
#include "models/descriptors/neighbour_list.hpp"
#include "models/descriptors/soap_hypers.hpp"
#include "models/descriptors/spherical_expansion.hpp"
#include "models/core/structure.hpp"

#include <Eigen/Geometry>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace gapd::testing {

inline nlohmann::json read_lambda1_fixture(const std::string& stem) {
    return read_json(librascal_fixture("lambda1/lambda1_" + stem + ".json"));
}

// The SoapHypers of a lambda1 fixture (GTO, RadialScaling, constant sigma; see python_kwargs).
inline SoapHypers lambda1_hypers(const nlohmann::json& fixture) {
    const auto& k = fixture.at("python_kwargs");
    SoapHypers h;
    h.max_radial = fixture.at("nmax").get<int>();
    h.max_angular = fixture.at("lmax").get<int>();
    h.gaussian_sigma = k.at("gaussian_sigma_constant").get<double>();
    h.cutoff.kind = CutoffKind::RadialScaling;
    h.cutoff.cutoff = k.at("interaction_cutoff").get<double>();
    h.cutoff.smooth_width = k.at("cutoff_smooth_width").get<double>();
    const auto& cp = k.at("cutoff_function_parameters");
    h.cutoff.rate = cp.at("rate").get<double>();
    h.cutoff.scale = cp.at("scale").get<double>();
    h.cutoff.exponent = cp.at("exponent").get<double>();
    h.normalize = k.at("normalize").get<bool>();
    h.species = {8, 22, 56};
    return h;
}

// Features of the fixture (librascal column order) converted to gapd's Cartesian layout, one row per atom.
inline RowMatrix lambda1_fixture_features(const nlohmann::json& structure) {
    const auto& f = structure.at("features");
    const int n = static_cast<int>(f.size()), cols = static_cast<int>(f.at(0).size());
    RowMatrix out(n, cols);
    std::vector<double> row(cols);
    for (int i = 0; i < n; ++i) {
        for (int k = 0; k < cols; ++k) row[k] = f.at(i).at(k).get<double>();
        Lambda1Features::from_librascal(row.data(), cols / 3, out.row(i).data());
    }
    return out;
}

// Expansion coefficients and lambda=1 features of every atom, straight from the building blocks.
struct CentreData {
    RowMatrix coefficients, features;
    std::vector<double> norms;
    NeighbourList neighbours;
    std::vector<int> species_of;
};

inline CentreData centre_data(const Structure& s, const SphericalExpansion& expansion, const Lambda1Features& lambda1) {
    CentreData d;
    d.neighbours = build_neighbour_list(s, expansion.hypers().cutoff.cutoff);
    for (int z : s.numbers) d.species_of.push_back(expansion.species_index(z));
    const int n = static_cast<int>(s.size());
    d.coefficients.resize(n, expansion.size());
    d.features.resize(n, lambda1.size());
    d.norms.resize(n);
    ExpansionScratch scratch = expansion.make_scratch();
    for (int i = 0; i < n; ++i) {
        expansion.compute(d.neighbours, d.species_of, i, d.coefficients.row(i).data(), scratch);
        d.norms[i] = lambda1.compute(d.coefficients.row(i).data(), d.features.row(i).data());
    }
    return d;
}

// A float64 little-endian C-order .npy array (what numpy.save writes by default); shape to `shape`.
inline std::vector<double> read_npy(const std::string& path, std::vector<std::size_t>& shape) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    char magic[8];
    in.read(magic, 8);
    if (std::memcmp(magic, "\x93NUMPY", 6) != 0) throw std::runtime_error(path + ": not a .npy file");
    std::size_t header_len = 0;
    if (magic[6] == 1) {
        unsigned char b[2];
        in.read(reinterpret_cast<char*>(b), 2);
        header_len = b[0] | (b[1] << 8);
    } else {
        unsigned char b[4];
        in.read(reinterpret_cast<char*>(b), 4);
        header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<std::size_t>(b[3]) << 24);
    }
    std::string header(header_len, '\0');
    in.read(header.data(), static_cast<std::streamsize>(header_len));
    if (header.find("'descr': '<f8'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
        throw std::runtime_error(path + ": expected little-endian float64 in C order");
    const auto open = header.find('(', header.find("'shape'")), close = header.find(')', open);
    shape.clear();
    std::size_t count = 1;
    for (std::size_t pos = open + 1; pos < close;) {
        const std::size_t comma = std::min(header.find(',', pos), close);
        const std::string token = header.substr(pos, comma - pos);
        if (token.find_first_not_of(' ') != std::string::npos) {
            shape.push_back(std::stoul(token));
            count *= shape.back();
        }
        pos = comma + 1;
    }
    std::vector<double> data(count);
    in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(count * sizeof(double)));
    if (!in) throw std::runtime_error(path + ": truncated");
    return data;
}

inline Eigen::Matrix3d random_rotation(std::mt19937& rng) {
    std::normal_distribution<double> g;
    return Eigen::Quaterniond(g(rng), g(rng), g(rng), g(rng)).normalized().toRotationMatrix();
}

// The structure rotated by R (positions and lattice vectors are rows: r -> R r).
inline Structure rotated(Structure s, const Eigen::Matrix3d& R) {
    s.positions = s.positions * R.transpose();
    s.cell = s.cell * R.transpose();
    return s;
}

}  // namespace gapd::testing
