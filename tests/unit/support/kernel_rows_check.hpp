#pragma once
// The check that the fit's kernel rows describe the same model as the calculator: rows times the weights must
// give GapCalculator's energy, forces and virial (shared by the GAP-fit and feature-selection tests).

#include "models/fit/gap_kernel_rows.hpp"
#include "models/gap/gap_calculator.hpp"

#include <doctest/doctest.h>
#include <Eigen/Core>

namespace gapd::testing {

// The model's weights in the builder's column order.
inline Eigen::VectorXd kernel_row_weights(const GapModel& model, const KernelRowsBuilder& builder) {
    Eigen::VectorXd w(builder.columns());
    for (std::size_t k = 0; k < model.sparse.size(); ++k)
        w.segment(builder.column_offset(k), model.sparse[k].weights.size()) = model.sparse[k].weights;
    return w;
}

// Energy to 1e-12 relative, forces to force_tolerance relative to (1 + max |F|), virial components (Voigt order
// of the rows) to 1e-10 relative.
inline void check_kernel_rows_reproduce_calculator(const GapModel& model, const Structure& s, double force_tolerance) {
    const GapCalculator calc(model, RadialMode::Spline);
    const KernelRowsBuilder builder(model, RadialMode::Spline);
    const Eigen::VectorXd w = kernel_row_weights(model, builder);
    const GapPrediction p = calc.compute_with_gradients(s);
    const KernelRows rows = builder.compute_with_gradients(s);
    double e0 = 0;
    for (int z : s.numbers) e0 += model.self_contributions.at(z);
    CHECK(rows.energy.dot(w) + e0 == doctest::Approx(p.energy).epsilon(1e-12));
    const Eigen::VectorXd f = rows.forces * w;
    const Eigen::Map<const Eigen::VectorXd> ref(p.forces.data(), p.forces.size());
    CHECK((f - ref).cwiseAbs().maxCoeff() < force_tolerance * (1 + ref.cwiseAbs().maxCoeff()));
    const Eigen::VectorXd v = rows.virial * w;
    const Eigen::Matrix3d& W = p.virial;
    const double expected[6] = {W(0, 0), W(1, 1), W(2, 2), W(1, 2), W(0, 2), W(0, 1)};
    for (int c = 0; c < 6; ++c) CHECK(v[c] == doctest::Approx(expected[c]).epsilon(1e-10).scale(1.0));
}

}  // namespace gapd::testing
