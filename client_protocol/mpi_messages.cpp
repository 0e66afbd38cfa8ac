#include "client_protocol/mpi_messages.hpp"

namespace gapd::mpi {

namespace {
constexpr std::size_t kCellDoubles = 18;  // h and h^-1
}

std::vector<std::int32_t> encode_hello(int world_rank) { return {world_rank, 1, world_rank}; }

WorkHeader decode_work_header(const std::array<std::int32_t, 2>& header) {
    if (header[1] < 1 || static_cast<std::size_t>(header[1]) > wire::kMaxBatch) {
        throw wire::ProtocolError("ffmpi WORK announces a batch of " + std::to_string(header[1]) +
                                  " structures; accepted: 1 to " + std::to_string(wire::kMaxBatch));
    }
    WorkHeader out;
    out.batch = static_cast<std::size_t>(header[1]);
    out.natoms = wire::checked_natoms(header[0], out.batch, "ffmpi WORK");
    return out;
}

std::size_t work_doubles(const WorkHeader& header) { return header.batch * (kCellDoubles + 3 * header.natoms); }

std::vector<wire::WireStructure> decode_work(const WorkHeader& header, const std::vector<double>& body) {
    if (body.size() != work_doubles(header)) {
        throw wire::ProtocolError("ffmpi WORK body holds " + std::to_string(body.size()) + " values; " +
                                  std::to_string(header.natoms) + " atoms x batch " + std::to_string(header.batch) +
                                  " need " + std::to_string(work_doubles(header)));
    }
    std::vector<wire::WireStructure> structures(header.batch);
    const double* p = body.data();
    for (auto& s : structures) {
        std::copy(p, p + 9, s.h.begin());
        std::copy(p + 9, p + 18, s.h_inv.begin());
        s.positions.assign(p + kCellDoubles, p + kCellDoubles + 3 * header.natoms);
        p += kCellDoubles + 3 * header.natoms;
    }
    return structures;
}

std::vector<double> encode_work(const std::vector<wire::WireStructure>& structures) {
    std::vector<double> body;
    for (const auto& s : structures) {
        body.insert(body.end(), s.h.begin(), s.h.end());
        body.insert(body.end(), s.h_inv.begin(), s.h_inv.end());
        body.insert(body.end(), s.positions.begin(), s.positions.end());
    }
    return body;
}

ResultMessages encode_results(const std::vector<wire::WireResult>& results) {
    if (results.empty()) throw wire::ProtocolError("an ffmpi RESULT needs at least one result");
    const std::size_t ncoords = results[0].forces.size();
    ResultMessages out;
    out.numbers.reserve(results.size() * (1 + ncoords + 9));
    for (const auto& r : results) {
        if (r.forces.size() != ncoords) throw wire::ProtocolError("ffmpi RESULT: results disagree on natoms");
        out.numbers.push_back(r.energy);
        out.numbers.insert(out.numbers.end(), r.forces.begin(), r.forces.end());
        out.numbers.insert(out.numbers.end(), r.virial.begin(), r.virial.end());
        wire::put_text(out.extras, r.extras);
    }
    return out;
}

}  // namespace gapd::mpi
