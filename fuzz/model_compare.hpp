#pragma once
// Round-trip check shared by the model-file fuzz targets: a model that was read must write to gapd's native
// format and read back identical (bit for bit).

#include "fuzz_common.hpp"
#include "models/gap/gap_model.hpp"
#include "models/formats/native_model_file.hpp"

#include <cstring>

namespace gapd::fuzz {

inline bool same_bits(const double* a, const double* b, std::size_t n) {
    return n == 0 || std::memcmp(a, b, n * sizeof(double)) == 0;
}

inline bool same_model(const GapModel& a, const GapModel& b) {
    const SoapHypers& x = a.hypers;
    const SoapHypers& y = b.hypers;
    if (x.max_radial != y.max_radial || x.max_angular != y.max_angular || x.normalize != y.normalize ||
        x.species != y.species || x.cutoff.kind != y.cutoff.kind ||
        !same_bits(&x.gaussian_sigma, &y.gaussian_sigma, 1) || !same_bits(&x.cutoff.cutoff, &y.cutoff.cutoff, 1) ||
        !same_bits(&x.cutoff.smooth_width, &y.cutoff.smooth_width, 1) ||
        !same_bits(&x.librascal_spline_accuracy, &y.librascal_spline_accuracy, 1))
        return false;
    if (a.zeta != b.zeta || a.self_contributions != b.self_contributions || a.sparse.size() != b.sparse.size())
        return false;
    for (std::size_t s = 0; s < a.sparse.size(); ++s) {
        const SparseSet& p = a.sparse[s];
        const SparseSet& q = b.sparse[s];
        if (p.species != q.species || p.points.rows() != q.points.rows() || p.points.cols() != q.points.cols() ||
            p.weights.size() != q.weights.size() ||
            !same_bits(p.points.data(), q.points.data(), static_cast<std::size_t>(p.points.size())) ||
            !same_bits(p.weights.data(), q.weights.data(), static_cast<std::size_t>(p.weights.size())))
            return false;
    }
    return true;
}

// Writes `model` to `path` (native format) and reads it back; aborts if it differs or cannot be written.
inline void check_native_round_trip(const GapModel& model, const std::string& path) {
    try {
        write_native_model(path, model);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "write_native_model refused a model the reader accepted: %s\n", e.what());
        invariant_failed("model read but not writable");
    }
    GapModel again;
    try {
        again = read_native_model(path);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "re-reading the written model failed: %s\n", e.what());
        invariant_failed("written model not readable");
    }
    if (!same_model(model, again)) invariant_failed("native round trip changed the model");
}

}  // namespace gapd::fuzz
