// The float32 self-check of serve/predict/bench (server/model_loading: float32_deviation): it measures a real,
// non-zero deviation between the two kernel precisions, agrees with computing both by hand, and leaves the
// calculator in the precision it found.
#include "librascal_fixtures.hpp"
#include "models/formats/librascal_model_reader.hpp"
#include "server/cli/bench_structures.hpp"
#include "server/cli/model_loading.hpp"

#include <doctest/doctest.h>

#include <cmath>

using namespace gapd;
using gapd::testing::librascal_fixture;

TEST_CASE("float32_deviation: measured, equal to a by-hand comparison, precision restored") {
    GapCalculator calc(read_librascal_model(librascal_fixture("model_small_zeta4_exact.json")), RadialMode::Spline);
    const Structure s = batio3_supercell(2);
    for (KernelPrecision start : {KernelPrecision::Float64, KernelPrecision::Float32}) {
        calc.set_kernel_precision(start);
        const KernelPrecisionDeviation d = float32_deviation(calc, s);
        CHECK(calc.kernel_precision() == start);
        CHECK(d.energy_per_atom > 0.0);  // the float32 path really ran
        CHECK(d.max_force > 0.0);
        CHECK(d.rms_force <= d.max_force);

        calc.set_kernel_precision(KernelPrecision::Float64);
        const GapPrediction ref = calc.compute_with_gradients(s);
        calc.set_kernel_precision(KernelPrecision::Float32);
        const GapPrediction single = calc.compute_with_gradients(s);
        const KernelPrecisionDeviation by_hand = deviation(single, ref);
        CHECK(d.energy_per_atom == doctest::Approx(by_hand.energy_per_atom).epsilon(1e-12));
        CHECK(d.max_force == doctest::Approx(by_hand.max_force).epsilon(1e-12));
        CHECK(std::abs(single.energy - ref.energy) / s.size() == doctest::Approx(d.energy_per_atom).epsilon(1e-12));
    }
}
