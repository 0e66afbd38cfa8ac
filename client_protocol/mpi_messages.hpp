#pragma once
// i-PI 3.3's <ffmpi> protocol (ipi/interfaces/mpi.py, drivers/py/driver.py run_driver_mpi), as pure functions
// on buffers. i-PI is rank 0 of MPI_COMM_WORLD; each client group root talks to it with tagged messages:
//   HELLO  client -> i-PI  int [world rank, group size, member ranks...], then bytes: the <ffmpi name> (may be empty)
//   INIT   i-PI -> client  int [request id, text length], then bytes: the INIT text (as on a socket)
//   WORK   i-PI -> client  int [natoms, batch], then batch x (9 f64 h, 9 f64 h^-1, 3n f64 positions)
//   RESULT client -> i-PI  batch x (f64 energy, 3n f64 forces, 9 f64 virial)
//   EXTRA  client -> i-PI  bytes: batch x (int32 length, extras)
//   EXIT   i-PI -> client  int [0]
// Units and layouts of h, positions, forces and virial are those of the socket messages (wire_messages.hpp).

#include "client_protocol/wire_messages.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gapd::mpi {

inline constexpr int kTagHello = 1;
inline constexpr int kTagInit = 2;
inline constexpr int kTagWork = 3;
inline constexpr int kTagResult = 4;
inline constexpr int kTagExtra = 5;
inline constexpr int kTagExit = 6;
// i-PI splits MPI_COMM_WORLD once with colour 0 for itself; its drivers take 1 + their --mpi-id.
inline constexpr int kClientSplitColour = 1;

// A single-rank client group (gapd parallelises with threads, not ranks).
std::vector<std::int32_t> encode_hello(int world_rank);

// WORK header: natoms and batch, validated like a socket POSDATA (wire::kMaxAtoms, wire::kMaxBatch).
struct WorkHeader {
    std::size_t natoms = 0;
    std::size_t batch = 0;
};
WorkHeader decode_work_header(const std::array<std::int32_t, 2>& header);
std::size_t work_doubles(const WorkHeader& header);  // size of the WORK body
// The body as socket-layout structures; throws wire::ProtocolError if its size does not match the header.
std::vector<wire::WireStructure> decode_work(const WorkHeader& header, const std::vector<double>& body);
std::vector<double> encode_work(const std::vector<wire::WireStructure>& structures);  // for tests and fakes

// RESULT and EXTRA bodies for `results` (all with the same atom count).
struct ResultMessages {
    std::vector<double> numbers;
    wire::Bytes extras;
};
ResultMessages encode_results(const std::vector<wire::WireResult>& results);

}  // namespace gapd::mpi
