#include "models/core/prepacked_gemm.hpp"

#include "models/core/matrix.hpp"

#include <doctest/doctest.h>

#include <Eigen/Dense>

using gapd::PrepackedGemm;
using gapd::RowMatrix;

namespace {

// Max |C - reference| / (1 + max |reference|) over the entries.
double relative_deviation(const Eigen::MatrixXd& C, const Eigen::MatrixXd& reference) {
    return (C - reference).cwiseAbs().maxCoeff() / (1.0 + reference.cwiseAbs().maxCoeff());
}

}  // namespace

TEST_CASE("prepacked gemm: A B for both storage orders, shapes across block edges, against Eigen's product") {
    std::srand(7);
    PrepackedGemm::Scratch scratch;
    // Depths beyond one cache block (Eigen's kc is a few hundred) and row counts beyond one mc block.
    for (const auto [rows, depth, cols] : {std::array<int, 3>{1, 1, 1}, {7, 13, 5}, {200, 2100, 64}, {613, 2100, 256},
                                            {2100, 580, 192}, {33, 700, 300}}) {
        CAPTURE(rows);
        CAPTURE(depth);
        CAPTURE(cols);
        const RowMatrix A = RowMatrix::Random(rows, depth);
        const Eigen::MatrixXd B = Eigen::MatrixXd::Random(depth, cols);
        const Eigen::MatrixXd reference = A * B;
        Eigen::MatrixXd C = Eigen::MatrixXd::Constant(rows, cols, 99.0);  // overwritten, not accumulated

        const PrepackedGemm row_major(A.data(), rows, depth, depth, PrepackedGemm::Storage::RowMajor, 256);
        row_major.multiply(B.data(), depth, cols, C.data(), rows, scratch);
        CHECK(relative_deviation(C, reference) < 1e-14);

        const Eigen::MatrixXd A_col = A;  // the same matrix stored column by column
        const PrepackedGemm col_major(A_col.data(), rows, depth, rows, PrepackedGemm::Storage::ColMajor, 256);
        C.setConstant(-5.0);
        col_major.multiply(B.data(), depth, cols, C.data(), rows, scratch);
        CHECK(relative_deviation(C, reference) < 1e-14);
        CHECK(row_major.bytes() == sizeof(double) * rows * depth);
    }
}

TEST_CASE("prepacked gemm: strided operands, the row-major chunks of the GAP kernel") {
    // K = X T^T with X (B x D) and T (M x D) row-major inside larger buffers: K^T = T X^T, X's rows are the
    // columns of X^T; then dE/dX = K T, i.e. (dE/dX)^T = T^T K^T with T^T column-major.
    const int M = 150, D = 900, B = 40, pad = 3;
    const RowMatrix T = RowMatrix::Random(M, D);
    const RowMatrix Xbuf = RowMatrix::Random(B + 2, D + pad);
    const auto X = Xbuf.block(1, 0, B, D);
    const PrepackedGemm kernel(T.data(), M, D, D, PrepackedGemm::Storage::RowMajor, 256);
    const PrepackedGemm gradient(T.data(), D, M, D, PrepackedGemm::Storage::ColMajor, 256);
    PrepackedGemm::Scratch scratch;

    RowMatrix K(B, M + pad);
    kernel.multiply(X.data(), Xbuf.outerStride(), B, K.data(), K.outerStride(), scratch);
    const RowMatrix K_ref = X * T.transpose();
    CHECK((K.leftCols(M) - K_ref).cwiseAbs().maxCoeff() < 1e-12);

    RowMatrix G(B, D + pad);
    gradient.multiply(K.data(), K.outerStride(), B, G.data(), G.outerStride(), scratch);
    const RowMatrix G_ref = K.leftCols(M) * T;
    CHECK((G.leftCols(D) - G_ref).cwiseAbs().maxCoeff() < 1e-10 * (1.0 + G_ref.cwiseAbs().maxCoeff()));
}
