#include "client_protocol/payload_channel.hpp"

#include "client_protocol/shm_messages.hpp"
#include "client_protocol/shm_payload.hpp"

#include <cstring>

namespace gapd {

namespace {

constexpr int kShmSniffMs = 200;  // wait for the bytes that tell a shared-memory POSDATA (sent with its head)

class SocketPayload : public PayloadChannel {
public:
    std::vector<wire::WireStructure> read_posdata(Transport& transport, std::size_t batch,
                                                  const std::function<void(std::size_t)>& check_natoms) override {
        const std::size_t head = wire::posdata_head_size(batch);
        wire::Bytes body(head);
        transport.read_exact(body.data(), head);
        if (first_) {
            first_ = false;
            reject_shm_layout(transport, body);
        }
        const std::size_t natoms = wire::posdata_natoms(body.data(), batch);
        check_natoms(natoms);
        const std::size_t rest = wire::posdata_rest_size(natoms, batch);
        body.resize(head + rest);
        transport.read_exact(body.data() + head, rest);
        return wire::decode_posdata_body(body, batch);
    }

    wire::Bytes forceready(const std::vector<wire::WireResult>& results) override {
        return wire::encode_forceready(results);
    }

private:
    // An i-PI in mode='shm' names its segments in the first POSDATA; read as a socket-layout POSDATA they
    // would be a nonsense cell or atom count, or a wait for bytes that never come.
    static void reject_shm_layout(Transport& transport, const wire::Bytes& head) {
        std::uint8_t start[16];
        if (head.size() >= sizeof start) {
            std::memcpy(start, head.data(), sizeof start);
        } else {
            std::memcpy(start, head.data(), head.size());
            if (!transport.peek(start + head.size(), sizeof start - head.size(), kShmSniffMs)) return;
        }
        if (wire::looks_like_shm_posdata(start, sizeof start)) {
            throw wire::ProtocolError("i-PI is in mode='shm' (its POSDATA names shared-memory segments): start "
                                      "gapd serve with --shm");
        }
    }

    bool first_ = true;
};

}  // namespace

std::unique_ptr<PayloadChannel> make_payload_channel(PayloadRoute route) {
    if (route == PayloadRoute::SharedMemory) return std::make_unique<ShmPayload>();
    return std::make_unique<SocketPayload>();
}

}  // namespace gapd
