#include "client_protocol/mpi_client.hpp"

#include "client_protocol/driver_session.hpp"
#include "client_protocol/mpi_messages.hpp"
#include "client_protocol/request_batch.hpp"
#include "client_protocol/stop_signal.hpp"
#include "models/core/text_excerpt.hpp"

#include <stdexcept>

#ifdef GAPD_HAVE_MPI
#include <mpi.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>
#endif

namespace gapd {

#ifndef GAPD_HAVE_MPI

bool mpi_client_available() { return false; }

int run_mpi_client(ForceEngine&, const MpiClientOptions&) {
    throw std::runtime_error("this gapd was built without MPI, so --mpi is not available (install an MPI "
                             "library, e.g. apt-get install libopenmpi-dev, and rebuild with cmake -DGAPD_MPI=ON)");
}

#else

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kServerRank = 0;  // i-PI
// Idle polling: MPI_Iprobe, then a sleep growing from kMinIdleSleep to kMaxIdleSleep. A blocking MPI_Probe
// would spin a core at 100% (OpenMPI busy-waits) and could not notice a stop signal; the cap bounds the
// latency added to a request.
constexpr std::chrono::microseconds kMinIdleSleep{5};
constexpr std::chrono::microseconds kMaxIdleSleep{200};

[[noreturn]] void abort_job(std::ostream& log, const std::string& message) {
    log << "gapd: error: " << message << " (aborting the MPI job: i-PI would wait for this rank for ever)\n"
        << std::flush;
    MPI_Abort(MPI_COMM_WORLD, kExitError);
    std::terminate();  // MPI_Abort does not return
}

class MpiClient {
public:
    MpiClient(ForceEngine& engine, const MpiClientOptions& options)
        : engine_(engine), options_(options), log_(options.log != nullptr ? *options.log : std::cerr) {}

    int run() {
        int rank = 0, size = 0;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        if (rank == kServerRank) {
            abort_job(log_, "gapd serve --mpi is rank 0 of its MPI job, where i-PI must be: start both together, "
                            "i-PI first (mpirun -n 1 i-pi input.xml : -n N gapd serve --mpi ...)");
        }
        // i-PI's one collective call: it splits MPI_COMM_WORLD with colour 0, its clients with another.
        MPI_Comm clients;
        MPI_Comm_split(MPI_COMM_WORLD, mpi::kClientSplitColour, rank, &clients);
        auto hello = mpi::encode_hello(rank);
        MPI_Send(hello.data(), static_cast<int>(hello.size()), MPI_INT, kServerRank, mpi::kTagHello, MPI_COMM_WORLD);
        MPI_Send(options_.name.data(), static_cast<int>(options_.name.size()), MPI_BYTE, kServerRank, mpi::kTagHello,
                 MPI_COMM_WORLD);
        log_ << "gapd: joined i-PI's MPI job as rank " << rank << " of " << size
             << (options_.name.empty() ? std::string(" (untagged <ffmpi>)")
                                       : " for <ffmpi name='" + options_.name + "'>")
             << "\n" << std::flush;

        try {
            serve();
        } catch (const std::exception& e) {
            abort_job(log_, e.what());
        }
        log_ << "gapd: i-PI sent EXIT after " << served_ << " requests; leaving the MPI job\n" << std::flush;
        MPI_Comm_free(&clients);
        MPI_Finalize();
        return kExitOk;
    }

private:
    // Returns on EXIT.
    void serve() {
        auto sleep = kMinIdleSleep;
        std::optional<Clock::time_point> stop_seen;
        for (;;) {
            int ready = 0;
            MPI_Status status;
            MPI_Iprobe(kServerRank, MPI_ANY_TAG, MPI_COMM_WORLD, &ready, &status);
            if (!ready) {
                check_stop(stop_seen);
                std::this_thread::sleep_for(sleep);
                sleep = std::min(sleep * 2, kMaxIdleSleep);
                continue;
            }
            sleep = kMinIdleSleep;
            switch (status.MPI_TAG) {
                case mpi::kTagInit: on_init(); break;
                case mpi::kTagWork: on_work(); break;
                case mpi::kTagExit: {
                    int ignored = 0;
                    MPI_Recv(&ignored, 1, MPI_INT, kServerRank, mpi::kTagExit, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                    return;
                }
                default:
                    throw wire::ProtocolError("unexpected message from i-PI (MPI tag " +
                                              std::to_string(status.MPI_TAG) + ")");
            }
        }
    }

    void check_stop(std::optional<Clock::time_point>& stop_seen) {
        const int stops = stop_requests();
        if (stops == 0) return;
        if (!stop_seen) {
            stop_seen = Clock::now();
            log_ << "gapd: stop requested; answering i-PI until its EXIT (at most " << options_.stop_grace_s
                 << " s)\n" << std::flush;
        }
        const double waited = std::chrono::duration<double>(Clock::now() - *stop_seen).count();
        if (stops > 1 || waited > options_.stop_grace_s) {
            throw std::runtime_error(stops > 1 ? "stopped by a second signal before i-PI sent EXIT"
                                               : "stop requested and i-PI sent no EXIT within " +
                                                     std::to_string(options_.stop_grace_s) + " s");
        }
    }

    void on_init() {
        std::array<std::int32_t, 2> header{};
        MPI_Recv(header.data(), 2, MPI_INT, kServerRank, mpi::kTagInit, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Status status;
        MPI_Probe(kServerRank, mpi::kTagInit, MPI_COMM_WORLD, &status);
        int count = 0;
        MPI_Get_count(&status, MPI_BYTE, &count);
        if (count < 0 || static_cast<std::size_t>(count) > wire::kMaxInitText || count != header[1]) {
            throw wire::ProtocolError("ffmpi INIT text of " + std::to_string(count) + " bytes, announced " +
                                      std::to_string(header[1]));
        }
        std::string text(static_cast<std::size_t>(count), '\0');
        MPI_Recv(text.data(), count, MPI_BYTE, kServerRank, mpi::kTagInit, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        const std::size_t batch = wire::batch_size_from_init(text);  // validates; WORK carries its own batch
        if (options_.verbose) {
            log_ << "gapd: INIT rid " << header[0] << ", batch size " << batch << ", text " << quote_excerpt(text)
                 << "\n" << std::flush;
        }
        engine_.on_init(header[0], text);
    }

    void on_work() {
        std::array<std::int32_t, 2> raw{};
        MPI_Recv(raw.data(), 2, MPI_INT, kServerRank, mpi::kTagWork, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        const mpi::WorkHeader header = mpi::decode_work_header(raw);
        if (header.natoms != engine_.natoms()) {
            throw std::runtime_error("i-PI sent " + std::to_string(header.natoms) + " atoms but " +
                                     options_.atoms_source + " has " + std::to_string(engine_.natoms()) +
                                     " (the atom count is fixed per run)");
        }
        MPI_Status status;
        MPI_Probe(kServerRank, mpi::kTagWork, MPI_COMM_WORLD, &status);
        int count = 0;
        MPI_Get_count(&status, MPI_DOUBLE, &count);
        if (count < 0 || static_cast<std::size_t>(count) != mpi::work_doubles(header)) {
            throw wire::ProtocolError("ffmpi WORK body of " + std::to_string(count) + " values for " +
                                      std::to_string(header.natoms) + " atoms x batch " + std::to_string(header.batch));
        }
        std::vector<double> body(static_cast<std::size_t>(count));
        MPI_Recv(body.data(), count, MPI_DOUBLE, kServerRank, mpi::kTagWork, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        const auto t0 = Clock::now();
        const auto results = compute_requests(engine_, mpi::decode_work(header, body), header.natoms);
        const auto out = mpi::encode_results(results);
        if (options_.verbose) {
            log_ << "gapd: request " << served_ + 1 << ": " << header.natoms << " atoms x " << header.batch << " in "
                 << std::chrono::duration<double, std::milli>(Clock::now() - t0).count() << " ms\n" << std::flush;
        }
        MPI_Send(out.numbers.data(), static_cast<int>(out.numbers.size()), MPI_DOUBLE, kServerRank, mpi::kTagResult,
                 MPI_COMM_WORLD);
        MPI_Send(out.extras.data(), static_cast<int>(out.extras.size()), MPI_BYTE, kServerRank, mpi::kTagExtra,
                 MPI_COMM_WORLD);
        ++served_;
    }

    ForceEngine& engine_;
    const MpiClientOptions& options_;
    std::ostream& log_;
    std::size_t served_ = 0;
};

}  // namespace

bool mpi_client_available() { return true; }

int run_mpi_client(ForceEngine& engine, const MpiClientOptions& options) {
    int provided = 0;
    // Only this thread calls MPI; OpenMP threads inside the model do not.
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    install_stop_handlers();  // after MPI_Init, which may install handlers of its own
    return MpiClient(engine, options).run();
}

#endif

}  // namespace gapd
