// gapd serve: connect to i-PI as a force client and answer every request with the GAP model (and the dipole
// extras of an SA-GPR model, if one is loaded).

#include "models/core/openmp.hpp"
#include "client_protocol/driver_session.hpp"
#include "client_protocol/mpi_client.hpp"
#include "client_protocol/stop_signal.hpp"
#include "models/formats/extxyz.hpp"
#include "server/cli/commands.hpp"
#include "server/cli/yaml_config.hpp"
#include "server/cli/option_checks.hpp"
#include "server/cli/dipole_options.hpp"
#include "server/serve/model_force_engine.hpp"
#include "server/cli/model_loading.hpp"
#include "server/cli/pair_limit_option.hpp"
#include "server/serve/serve_connections.hpp"
#include "server/serve/template_structure.hpp"
#include "server/serve/thread_division.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>

namespace gapd {

namespace {

struct ServeOptions {
    std::string model, template_path, address = "localhost", prefix = "/tmp/ipi_", radial = "spline";
    std::string precision = "float64", mpi_name;
    bool unix_socket = false, shm = false, mpi = false, verbose = false, no_reconnect = false, novelty = false;
    int port = 31415, threads = 0, connections = 1;
    double connect_timeout = 120.0, message_timeout = kDefaultMessageTimeoutS;
    DipoleOptions dipoles;
};

// --precision float32: the deviation on the template when it is an extxyz with a cell (i-PI's own xyz
// format carries the cell in a comment gapd does not parse: then the check is skipped, and why is said).
void report_float32_on_template(GapCalculator& calculator, const std::string& path) {
    std::vector<ExtxyzFrame> frames;
    std::string why;
    try {
        frames = read_extxyz(path);
        if (frames.empty()) why = path + " holds no frame";
        else if (!frames.front().structure.any_periodic()) why = path + " has no Lattice (no periodic cell)";
    } catch (const std::exception& e) {
        why = std::string("the template is not readable as extxyz: ") + e.what();
    }
    if (!why.empty()) {
        std::fprintf(stderr, "gapd: float32 kernel: deviation not checked (%s; `gapd predict --precision float32` "
                             "on a structure reports it)\n", why.c_str());
        return;
    }
    report_float32_deviation(calculator, frames.front().structure, path);
}

// Where i-PI is, for the "serving ..." line.
std::string describe_route(const ServeOptions& o) {
    if (o.mpi) return "i-PI's MPI job" + (o.mpi_name.empty() ? std::string() : " (<ffmpi name='" + o.mpi_name + "'>)");
    if (o.shm) return "UNIX socket " + o.prefix + o.address + " + shared memory";
    if (o.unix_socket) return "UNIX socket " + o.prefix + o.address;
    return "TCP " + o.address + ":" + std::to_string(o.port);
}

int run_serve(const ServeOptions& o) {
    // Before the model loads: a build without MPI cannot serve --mpi at all.
    if (o.mpi && !mpi_client_available()) {
        std::cerr << "gapd: error: this gapd was built without MPI, so --mpi is not available (install an MPI library, "
                     "e.g. apt-get install libopenmpi-dev, and rebuild with cmake -DGAPD_MPI=ON)\n";
        return kExitNoConnection;
    }
    set_thread_count(o.threads);
    // --connections N: the --threads total (default: OpenMP's) divided between the N connections.
    const std::vector<int> threads = divide_threads(current_thread_count(), o.connections);
    const std::vector<int> numbers = read_template_numbers(o.template_path);
    const LoadedModels models = load_models(o.model, o.dipoles, parse_radial_mode(o.radial));
    if (models.gap) models.gap->set_kernel_precision(parse_kernel_precision(o.precision));
    // Fail before connecting: a first request that cannot be computed would leave i-PI without a client.
    // (The cell-dipole shell check needs the cell, which only the first request brings.)
    if (models.gap) models.gap->check_species(numbers, o.template_path);
    if (models.gap && o.precision == "float32") report_float32_on_template(*models.gap, o.template_path);
    std::optional<DipoleServing> dipoles;
    if (models.dipole) {
        check_dipole_template(*models.dipole, numbers, models.selection, models.roles, o.template_path);
        dipoles.emplace(DipoleServing{*models.dipole, models.selection, models.roles});
    }
    if (o.novelty && !models.gap)
        throw std::invalid_argument("--novelty needs a GAP model (it measures environments against the GAP's "
                                    "sparse points); --dipole-only serves none");
    const std::unique_ptr<GapNovelty> novelty = o.novelty ? std::make_unique<GapNovelty>(*models.gap) : nullptr;
    // One engine per connection: each owns its workspace; the models are shared and only read.
    std::vector<std::unique_ptr<ModelForceEngine>> engines;
    for (int k = 0; k < o.connections; ++k) {
        engines.push_back(std::make_unique<ModelForceEngine>(models.gap.get(), numbers, dipoles));
        if (novelty) engines.back()->send_novelty(*novelty);
    }

    ConnectionOptions connection;
    connection.unix_socket = o.unix_socket || o.shm;  // shm: the handshake stays on a UNIX socket
    connection.address = o.address;
    connection.unix_prefix = o.prefix;
    connection.port = o.port;
    connection.connect_timeout_s = o.connect_timeout;
    DriverOptions driver;
    driver.message_timeout_s = o.message_timeout;
    driver.verbose = o.verbose;
    driver.reconnect = !o.no_reconnect;
    driver.atoms_source = "the template " + o.template_path;
    driver.payload = o.shm ? PayloadRoute::SharedMemory : PayloadRoute::Socket;
    const std::string what =
        (models.gap ? o.model : std::string("no GAP (--dipole-only)")) +
        (models.dipole ? ", extras " + extras_selection_names(models.selection) + " from " +
                             (o.dipoles.dipole_model.empty() ? o.model : o.dipoles.dipole_model)
                       : std::string()) +
        (novelty ? std::string(", extras gap_novelty") : std::string());
    // Only now: while loading, SIGINT/SIGTERM keep their default action and end gapd at once (the polite
    // handlers would only count them, and a long or blocked load would ignore them).
    install_stop_handlers();
    std::cerr << "gapd: serving " << what << " for " << numbers.size() << " atoms on " << describe_route(o)
              << " with " << current_thread_count() << " thread(s)";
    if (o.mpi) {
        std::cerr << "\n";
        MpiClientOptions mpi;
        mpi.name = o.mpi_name;
        mpi.verbose = o.verbose;
        mpi.atoms_source = driver.atoms_source;
        return run_mpi_client(*engines.front(), mpi);
    }
    if (o.connections == 1) {
        std::cerr << "\n";
        return run_driver(connection, *engines.front(), driver);
    }
    std::cerr << " on " << o.connections << " connections (threads per connection:";
    for (int t : threads) std::cerr << ' ' << t;
    std::cerr << ")\n";
    if (current_thread_count() < o.connections) {
        std::cerr << "gapd: note: fewer threads (" << current_thread_count() << ") than connections ("
                  << o.connections << "): each connection runs 1 thread, " << o.connections << " in all\n";
    }
    std::vector<ForceEngine*> pointers;
    for (auto& e : engines) pointers.push_back(e.get());
    return run_connections(connection, pointers, threads, driver);
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<ServeOptions>();
    CLI::App* cmd = app.add_subcommand(
        "serve",
        "Connect to a running (or starting) i-PI as its force client and compute energy, forces and virial for "
        "every frame it sends. Flags follow i-PI's driver (-u, -a, -p). Exits 0 when i-PI sends EXIT.");
    cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    cmd->add_option("-m,--model", o->model,
                    "Model file: gapd native (.gapd; a GAP, a dipole model or both) or librascal JSON (.json, "
                    ".json.gz). Required unless --dipole-only --dipole-model");
    cmd->add_option("-t,--template", o->template_path,
                    "Structure file (extxyz/xyz, e.g. i-PI's initial structure) giving species and atom order")
        ->required();
    auto* unix_flag =
        cmd->add_flag("-u,--unix", o->unix_socket, "Use a UNIX socket (path = sockets-prefix + address) instead of TCP");
    auto* address = cmd->add_option("-a,--address", o->address,
                                    "i-PI's <address>: host name/IP for TCP, socket name for UNIX (default localhost)");
    auto* port = cmd->add_option("-p,--port", o->port, "TCP port of i-PI (default 31415)")->check(CLI::Range(1, 65535));
    auto* prefix = cmd->add_option("-S,--sockets-prefix", o->prefix,
                                   "Prefix of UNIX socket paths, as i-PI's -S (default /tmp/ipi_)");
    auto* shm = cmd->add_flag("--shm", o->shm,
                              "i-PI's <ffsocket mode='shm'>: handshake on the UNIX socket -a NAME (implies -u), "
                              "positions, cells, energies, forces and virials in i-PI's shared-memory segments "
                              "(same machine only)");
    auto* mpi = cmd->add_flag("--mpi", o->mpi,
                              "i-PI's <ffmpi>: be a client rank of one MPI job with i-PI as rank 0 "
                              "(mpirun -n 1 i-pi input.xml : -n N gapd serve --mpi ...); needs a build with MPI");
    auto* mpi_name = cmd->add_option("--mpi-name", o->mpi_name,
                                     "With --mpi: the <ffmpi name> this rank serves, when the input has several");
    mpi->excludes(unix_flag, address, port, prefix, shm);
    mpi_name->needs(mpi);
    port->excludes(shm);
    cmd->add_option("--threads", o->threads, "OpenMP threads (default: OMP_NUM_THREADS or all cores); with --connections, the total for all connections")
        ->check(non_negative_integer());
    cmd->add_option("--connections", o->connections,
                    "Concurrent connections to i-PI from this one process (REMD replicas, PIMD beads), sharing one "
                    "loaded model; the --threads total is divided between them (T/N each, the first T%N one more, at "
                    "least 1). Each connection ends on its own EXIT; gapd exits after the last (default 1)")
        ->check(CLI::Range(1, 1024))
        ->excludes(mpi);
    cmd->add_option("--radial", o->radial, radial_mode_help());
    cmd->add_option("--precision", o->precision, kernel_precision_help())->check(CLI::IsMember({"float64", "float32"}));
    cmd->add_option("--connect-timeout", o->connect_timeout,
                    "Seconds to keep retrying to reach i-PI, at start and after i-PI restarts (default 120)")
        ->check(non_negative_number());
    cmd->add_option("--message-timeout", o->message_timeout,
                    "Seconds i-PI may pause in the middle of a message (or take nothing of a reply) before the "
                    "connection counts as stalled: error, exit 1. Between messages i-PI may be silent for ever "
                    "(default " + std::to_string(static_cast<int>(kDefaultMessageTimeoutS)) + ")")
        ->check(CLI::PositiveNumber);
    add_max_pairs_option(cmd);
    cmd->add_flag("--no-reconnect", o->no_reconnect, "Exit with an error instead of reconnecting when i-PI goes away");
    cmd->add_flag("-v,--verbose", o->verbose, "Log every request to stderr");
    cmd->add_flag("--novelty", o->novelty,
                  "Also send the extras key 'gap_novelty': per atom, how far its environment lies outside what the "
                  "GAP's sparse points span (0 = spanned, 1 = orthogonal; docs/novelty.md); a few percent more per "
                  "request");
    add_dipole_options(cmd, o->dipoles);
    cmd->footer(
        "Examples:\n"
        "  gapd serve -u -a batio3 --model model.gapd --template init.xyz\n"
        "  gapd serve -a localhost -p 31415 --model model.json.gz --template init.xyz --threads 2\n"
        "  gapd serve -u -a remd --model model.gapd --template init.xyz --connections 4 --threads 2\n"
        "  gapd serve --shm -a batio3 --model model.gapd --template init.xyz   (<ffsocket mode='shm'>)\n"
        "  mpirun -n 1 i-pi input.xml : -n 2 gapd serve --mpi --model model.gapd --template init.xyz   (<ffmpi>)\n"
        "  gapd serve -u -a batio3 --model gap.gapd --dipole-model dipoles.gapd --extras dipole,BEC --template init.xyz\n"
        "  gapd serve --config serve.yaml   (YAML keys = long option names, e.g. 'model: m.gapd', 'unix: true')\n"
        "Units: i-PI's atomic units on the wire; the model works in eV and Å. SIGINT/SIGTERM finish the current\n"
        "request, reply, and close the connection cleanly (every connection, with --connections); a request whose\n"
        "data stops arriving is given up after " + std::to_string(static_cast<int>(kDefaultStopGraceS)) + " s, and a second signal gives it up at once (a reply\n"
        "already begun is always finished): then exit 1. While the model loads, a signal ends gapd at once.");
    add_config_option(cmd);
    cmd->callback([o, &exit_code]() { exit_code = run_serve(*o); });
}

}  // namespace gapd
