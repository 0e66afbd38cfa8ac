#pragma once
// How far each atom's environment lies outside what the GAP's sparse points describe: the part of the kernel's
// prior variance that the sparse set leaves unexplained (the projected-process residual of sparse GPR),
//
//   novelty(x) = 1 - k_xM K_MM^+ k_Mx / k(x, x),   k(x, t) = (x . t)^zeta on the kernel's features,
//
// with M the sparse points of the atom's species. 0: the environment is a combination of sparse points (as every
// training environment nearly is); 1: orthogonal to all of them. It is a property of the model's sparse set,
// not of its weights or the training labels, so it flags configurations the model has not seen (for active
// learning, or an MD run leaving the training domain) without an error bar in eV. K_MM^+ keeps the eigenvalues
// above 1e-10 of the largest (near-duplicate sparse points make K_MM singular). docs/novelty.md.

#include "models/gap/gap_calculator.hpp"

#include <Eigen/Core>
#include <vector>

namespace gapd {

class GapNovelty {
public:
    // Factorizes K_MM of every sparse set (an eigendecomposition, M^3: ~0.1 s for M = 800).
    explicit GapNovelty(const GapCalculator& gap);

    // One value in [0, 1] per atom; atoms of a species without sparse points get 1. Throws what the calculator
    // throws for unknown species.
    Eigen::VectorXd per_atom(const Structure& s) const;
    // The same on the caller's neighbour list of `s` (built with build_neighbour_list(s, gap.cutoff())).
    Eigen::VectorXd per_atom(const Structure& s, const NeighbourList& nl) const;
    // From the kernel values a compute call captured (GapComputeOptions::capture): one value per atom of that
    // call, at the cost of one small GEMM per sparse set instead of the features again.
    Eigen::VectorXd from_capture(const GapKernelCapture& capture) const;

    // Novelty beside a GAP compute call, the one way callers take it:
    //   GapKernelCapture kernel;
    //   gap.compute_batch_with_gradients(batch, {times, workspace, novelty.capture_target(kernel)});
    //   std::vector<Eigen::VectorXd> v = novelty.of_batch(batch, kernel);   // per structure, per atom
    // The float64 kernel captures its kernel values, so novelty costs one small GEMM per sparse set; the float32
    // kernel cannot capture (centred values in float), so then the features are computed again.
    GapKernelCapture* capture_target(GapKernelCapture& kernel) const;
    std::vector<Eigen::VectorXd> of_batch(const std::vector<StructureNeighbours>& batch,
                                          const GapKernelCapture& kernel) const;

    // Relative eigenvalue below which K_MM's spectrum is treated as zero.
    static constexpr double kRelativeEigenvalueFloor = 1e-10;

private:
    bool captures_kernel() const { return gap_.kernel_precision() == KernelPrecision::Float64; }
    GapKernelCapture capture_from_features(const Structure& s, const RowMatrix& features) const;

    struct Projector {
        int species;
        RowMatrix points;   // M x D, the kernel's layout
        RowMatrix whitening;  // r x M: W with W^T W = K_MM^+
    };
    const GapCalculator& gap_;
    std::vector<Projector> sets_;
};

}  // namespace gapd
