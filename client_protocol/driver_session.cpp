#include "client_protocol/driver_session.hpp"

#include "client_protocol/request_batch.hpp"
#include "client_protocol/stop_signal.hpp"
#include "client_protocol/wire_messages.hpp"
#include "models/core/text_excerpt.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace gapd {

namespace {

using wire::Header;

constexpr int kIdleTickMs = 100;        // how often an idle session looks at the stop counter
constexpr int kModeDetectMs = 200;      // wait for the header after the first POSDATA of a connection
constexpr double kDrainOnCloseS = 2.0;  // bound on reading i-PI's leftovers when closing

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

class Session {
public:
    Session(Transport& transport, ForceEngine& engine, const DriverOptions& options)
        : transport_(transport), engine_(engine), verbose_(options.verbose),
          log_(options.log != nullptr ? *options.log : std::cerr), atoms_source_(options.atoms_source),
          message_timeout_s_(options.message_timeout_s), stop_grace_s_(options.stop_grace_s),
          payload_(make_payload_channel(options.payload)) {}

    SessionEnd run() {
        transport_.set_wait_check([this](const TransferWait& wait) { check_wait(wait); });
        try {
            for (;;) {
                // A pending legacy result is a request in progress: the first signal lets i-PI fetch it, for
                // stop_grace_s; a second signal, or i-PI not asking in time, abandons it.
                if (stop_requests() > 0 && !pending_) {
                    transport_.close_gracefully(kDrainOnCloseS);
                    return SessionEnd::Stopped;
                }
                if (stop_requests() > 0) {
                    const auto now = std::chrono::steady_clock::now();
                    if (!stop_seen_) stop_seen_ = now;
                    if (stop_requests() > 1 || std::chrono::duration<double>(now - *stop_seen_).count() > stop_grace_s_) {
                        log_ << "gapd: error: stop requested; the computed reply to request " << served_ + 1
                             << " was not sent (i-PI did not ask for it"
                             << (stop_requests() > 1 ? " before the second signal" : " within the grace period")
                             << ")\n" << std::flush;
                        transport_.close_gracefully(kDrainOnCloseS);
                        return SessionEnd::Abandoned;
                    }
                }
                if (!transport_.wait_readable(kIdleTickMs)) continue;
                reading_ = "a message header";
                char header[wire::kHeaderSize];
                transport_.read_exact(header, sizeof header);
                if (!dispatch(header)) {
                    transport_.close_gracefully(kDrainOnCloseS);
                    return SessionEnd::Exit;
                }
            }
        } catch (const ConnectionLost& e) {
            log_ << "gapd: " << e.what() << "\n" << std::flush;
            transport_.close_gracefully(kDrainOnCloseS);
            return SessionEnd::Lost;
        } catch (const WaitAbandoned& e) {
            log_ << "gapd: error: " << e.what() << "\n" << std::flush;
            transport_.close_gracefully(kDrainOnCloseS);
            return SessionEnd::Abandoned;
        } catch (...) {
            transport_.close_gracefully(kDrainOnCloseS);
            throw;
        }
    }

private:
    enum class Mode { Unknown, Fused, Legacy };

    // Every blocked transfer: i-PI is in the middle of a message (reads: the rest of what it began;
    // GETFORCE after a POSDATA), or gapd in the middle of a reply. A reply is never cut: once its first byte
    // is out, only a stalled i-PI ends the write; before that, a second signal abandons it whole.
    void check_wait(const TransferWait& wait) {
        const bool writing = wait.direction == TransferWait::Direction::Write;
        if (wait.idle_s > message_timeout_s_) {
            std::ostringstream msg;
            msg << (writing ? "i-PI took no byte of gapd's reply" : "i-PI sent nothing more of " + reading_)
                << " for " << message_timeout_s_ << " s (--message-timeout): the connection is stalled";
            if (writing && wait.done > 0) msg << "; the reply was cut after " << wait.done << " bytes";
            throw PeerStalled(msg.str());
        }
        const int stops = stop_requests();
        if (writing) {
            if (wait.done == 0 && stops >= 2)
                throw WaitAbandoned("stop requested twice; the reply to request " + std::to_string(served_ + 1) +
                                    " was not sent (not a byte of it: i-PI can re-queue the request)");
            return;
        }
        if (stops >= 2 || (stops >= 1 && wait.idle_s > stop_grace_s_)) {
            std::ostringstream msg;
            msg << "stop requested while waiting for " << reading_ << " from i-PI";
            if (stops < 2) msg << " (nothing arrived for " << stop_grace_s_ << " s)";
            msg << "; the request was abandoned";
            throw WaitAbandoned(msg.str());
        }
    }

    // Handles one message; false on EXIT.
    bool dispatch(const char* header) {
        switch (wire::parse_header(header)) {
            case Header::Status:
                reply(!initialized_ ? Header::NeedInit : pending_ ? Header::HaveData : Header::Ready);
                return true;
            case Header::Init:
                // gapd asks for INIT only by answering NEEDINIT, before the first INIT. Another one means the
                // two sides disagree on where messages begin (its "batch size" would misread every POSDATA).
                if (initialized_)
                    throw wire::ProtocolError("i-PI sent INIT on a connection already initialised (gapd answers "
                                              "READY, not NEEDINIT): the message stream is probably out of sync");
                reading_ = "the INIT message";
                on_init();
                return true;
            case Header::PosData:
                reading_ = "the POSDATA message";
                on_posdata();
                return true;
            case Header::GetForce:
                if (!pending_) throw wire::ProtocolError("i-PI sent GETFORCE with no POSDATA to answer");
                send_results(*pending_);
                pending_.reset();
                ++served_;
                return true;
            case Header::Exit:
                if (verbose_) log_ << "gapd: EXIT from i-PI after " << served_ << " requests\n" << std::flush;
                return false;
            default:
                throw wire::ProtocolError("unexpected message from i-PI: " + wire::quote_header(header));
        }
    }

    void reply(Header header) {
        const auto bytes = wire::header_bytes(header);
        transport_.write_all(bytes.data(), bytes.size());
    }

    void on_init() {
        std::uint8_t prefix_bytes[wire::kInitPrefixSize];
        transport_.read_exact(prefix_bytes, sizeof prefix_bytes);
        wire::ByteReader reader(prefix_bytes, sizeof prefix_bytes);
        const auto prefix = wire::decode_init_prefix(reader);
        std::string text(prefix.text_size, '\0');
        transport_.read_exact(text.data(), text.size());
        batch_ = wire::batch_size_from_init(text);
        if (verbose_) {
            log_ << "gapd: INIT rid " << prefix.request_id << ", batch size " << batch_ << ", text "
                 << quote_excerpt(text) << "\n" << std::flush;
        }
        engine_.on_init(prefix.request_id, text);
        initialized_ = true;
    }

    void on_posdata() {
        if (!initialized_) throw wire::ProtocolError("i-PI sent POSDATA before INIT");
        if (pending_) throw wire::ProtocolError("i-PI sent POSDATA while a result was waiting for GETFORCE");

        std::size_t natoms = 0;
        const auto structures = payload_->read_posdata(transport_, batch_, [&](std::size_t n) {
            if (n != engine_.natoms()) {
                throw std::runtime_error("i-PI sent " + std::to_string(n) + " atoms but " + atoms_source_ +
                                         " has " + std::to_string(engine_.natoms()) +
                                         " (the atom count is fixed per run)");
            }
            natoms = n;
        });

        // Fused: GETFORCE is consumed before computing, so that if gapd dies meanwhile nothing is left unread
        // and i-PI re-queues the request. Legacy: compute now, answer STATUS/GETFORCE as they come.
        const bool fused = take_fused_getforce();
        const auto t0 = std::chrono::steady_clock::now();
        std::vector<wire::WireResult> results = compute_requests(engine_, structures, natoms);
        if (verbose_) {
            log_ << "gapd: request " << served_ + 1 << ": " << natoms << " atoms x " << batch_ << " in "
                 << ms_since(t0) << " ms\n" << std::flush;
        }
        if (fused) {
            if (stop_requests() >= 2)
                throw WaitAbandoned("stop requested twice; the reply to request " + std::to_string(served_ + 1) +
                                    " was not sent (not a byte of it: i-PI can re-queue the request)");
            send_results(results);
            ++served_;
        } else {
            pending_ = std::move(results);
        }
    }

    // Looks (without consuming) at what follows POSDATA. On the first request of a connection the answer
    // fixes the mode: GETFORCE = default mode, STATUS = legacy. Nothing within kModeDetectMs: answer this
    // request the legacy way (which also works in default mode) and look again next time.
    bool take_fused_getforce() {
        if (mode_ == Mode::Legacy) return false;
        reading_ = "GETFORCE after POSDATA (default mode sends both at once)";
        char next[wire::kHeaderSize];
        if (!transport_.peek(next, sizeof next, mode_ == Mode::Unknown ? kModeDetectMs : -1)) return false;
        const Header header = wire::parse_header(next);
        if (mode_ == Mode::Unknown && (header == Header::GetForce || header == Header::Status)) {
            mode_ = header == Header::GetForce ? Mode::Fused : Mode::Legacy;
            if (verbose_) {
                log_ << "gapd: i-PI uses the " << (mode_ == Mode::Fused ? "default (fused)" : "legacy")
                     << " message sequence\n" << std::flush;
            }
        }
        if (header != Header::GetForce) return false;
        transport_.read_exact(next, sizeof next);
        return true;
    }

    void send_results(const std::vector<wire::WireResult>& results) {
        const wire::Bytes message = payload_->forceready(results);
        transport_.write_all(message.data(), message.size());
    }

    Transport& transport_;
    ForceEngine& engine_;
    bool verbose_;
    std::ostream& log_;
    const std::string atoms_source_;

    double message_timeout_s_;
    double stop_grace_s_;

    bool initialized_ = false;
    std::string reading_ = "a message";  // what a blocked read is waiting for, for messages
    std::optional<std::chrono::steady_clock::time_point> stop_seen_;  // a stop first seen with a result pending
    std::size_t batch_ = 1;
    Mode mode_ = Mode::Unknown;
    std::unique_ptr<PayloadChannel> payload_;
    std::optional<std::vector<wire::WireResult>> pending_;  // legacy: computed, waiting for GETFORCE
    std::size_t served_ = 0;
};

}  // namespace

SessionEnd serve_connection(Transport& transport, ForceEngine& engine, const DriverOptions& options) {
    return Session(transport, engine, options).run();
}

int run_driver(const ConnectionOptions& connection, ForceEngine& engine, const DriverOptions& options) {
    std::ostream& log = options.log != nullptr ? *options.log : std::cerr;
    const auto should_stop = [] { return stop_requests() > 0; };
    for (bool first = true;; first = false) {
        std::optional<Transport> transport;
        try {
            transport = connect_with_retry(connection, log, should_stop);
        } catch (const std::exception& e) {
            log << "gapd: error: " << e.what() << "\n" << std::flush;
            return kExitNoConnection;
        }
        if (!transport) {
            log << "gapd: stop requested while waiting for i-PI\n" << std::flush;
            return kExitOk;
        }
        log << "gapd: " << (first ? "connected to " : "reconnected to ") << transport->peer() << "\n" << std::flush;

        SessionEnd end;
        try {
            end = serve_connection(*transport, engine, options);
        } catch (const std::exception& e) {
            log << "gapd: error: " << e.what() << "\n" << std::flush;
            return kExitError;
        }
        if (end == SessionEnd::Exit) {
            log << "gapd: i-PI sent EXIT; connection closed\n" << std::flush;
            return kExitOk;
        }
        if (end == SessionEnd::Stopped) {
            log << "gapd: stop requested; connection to i-PI closed\n" << std::flush;
            return kExitOk;
        }
        if (end == SessionEnd::Abandoned) {
            log << "gapd: stop requested in the middle of a request; connection to i-PI closed\n" << std::flush;
            return kExitError;
        }
        if (!options.reconnect) {
            log << "gapd: error: i-PI closed the connection without EXIT\n" << std::flush;
            return kExitError;
        }
        log << "gapd: i-PI went away without EXIT; waiting for it to come back\n" << std::flush;
    }
}

}  // namespace gapd
