#include "server/serve/connection_log.hpp"

#include <mutex>

namespace gapd {

namespace {

std::mutex& output_lock() {
    static std::mutex m;
    return m;
}

}  // namespace

ConnectionLog::ConnectionLog(std::ostream& out, std::string tag) : buffer_(out, std::move(tag)), stream_(&buffer_) {}

ConnectionLog::~ConnectionLog() { buffer_.emit_line(); }

void ConnectionLog::LineBuffer::emit_line() {
    if (pending_.empty()) return;
    static const std::string prefix = "gapd: ";
    std::string line;
    if (pending_.compare(0, prefix.size(), prefix) == 0)
        line = prefix + tag_ + " " + pending_.substr(prefix.size());
    else
        line = tag_ + " " + pending_;
    if (line.back() != '\n') line += '\n';
    pending_.clear();
    const std::lock_guard<std::mutex> lock(output_lock());
    out_.write(line.data(), static_cast<std::streamsize>(line.size()));
    out_.flush();
}

ConnectionLog::LineBuffer::int_type ConnectionLog::LineBuffer::overflow(int_type c) {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    pending_.push_back(traits_type::to_char_type(c));
    if (traits_type::to_char_type(c) == '\n') emit_line();
    return c;
}

std::streamsize ConnectionLog::LineBuffer::xsputn(const char* s, std::streamsize n) {
    for (std::streamsize i = 0; i < n; ++i) overflow(traits_type::to_int_type(s[i]));
    return n;
}

}  // namespace gapd
