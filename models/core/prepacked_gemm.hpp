#pragma once
// C = A B for a fixed left factor A that is packed once, at construction, into the panel layout of Eigen's
// GEMM micro-kernel, instead of on every product. The GAP kernel multiplies every chunk of centres with the
// same sparse points T twice (K = X T^T, dE/dX = K' T); an Eigen product repacks T both times, which cost
// ~10% of a 320-atom call (T is several MB, the chunks only 64-256 centres).
//
// Uses Eigen 3.4's internal GEMM building blocks (gemm_pack_lhs, gemm_pack_rhs, gebp_kernel) with Eigen's own
// cache blocking, in Eigen's loop order over depth blocks, so each entry of C sums the same products in the
// same order as `C.noalias() = A * B` with that blocking. Single-threaded: callers run it on the rows their
// thread owns. tests/unit/core/test_prepacked_gemm.cpp compares it with Eigen's product.

#include <Eigen/Core>

#include <vector>

namespace gapd {

class PrepackedGemm {
public:
    enum class Storage { RowMajor, ColMajor };

    // A is rows x depth, element (i, k) at A[i * stride + k] (RowMajor) or A[i + k * stride] (ColMajor). It is
    // copied; A may be freed afterwards. max_cols: the widest B expected (it sets the blocking, any width works).
    PrepackedGemm(const double* A, Eigen::Index rows, Eigen::Index depth, Eigen::Index stride, Storage storage,
                  Eigen::Index max_cols);

    Eigen::Index rows() const { return rows_; }
    Eigen::Index depth() const { return depth_; }

    // C = A B (overwritten). B is depth x cols, column j at B + j * b_stride (column-major); C is rows x cols,
    // column j at C + j * c_stride. A row-major matrix's rows are the columns of its transpose, which is how
    // the GAP kernel passes its row-major chunks. `scratch` holds the packed panel of B (grown as needed).
    using Scratch = std::vector<double, Eigen::aligned_allocator<double>>;
    void multiply(const double* B, Eigen::Index b_stride, Eigen::Index cols, double* C, Eigen::Index c_stride,
                  Scratch& scratch) const;

    std::size_t bytes() const { return packed_.size() * sizeof(double); }

private:
    Eigen::Index rows_, depth_, kc_, mc_, nc_;
    // Panel (i-block, k-block) of A, packed, at packed_[offset_[ib * k_blocks + kb]].
    Scratch packed_;
    std::vector<std::size_t> offset_;
    Eigen::Index k_blocks_;
};

}  // namespace gapd
