#pragma once
// The log of one of several concurrent i-PI connections (`gapd serve --connections N`): every complete line is
// written to the shared stream in one piece under a process-wide lock, so that lines of different connections
// never interleave, and is tagged with the connection: "gapd: [conn 2/4] connected to unix:/tmp/ipi_remd".

#include <ostream>
#include <streambuf>
#include <string>

namespace gapd {

class ConnectionLog {
public:
    // `tag` is inserted after a leading "gapd: " (or before the line if it has none), e.g. "[conn 2/4]".
    ConnectionLog(std::ostream& out, std::string tag);
    ~ConnectionLog();  // writes an unfinished last line, if any
    ConnectionLog(const ConnectionLog&) = delete;
    ConnectionLog& operator=(const ConnectionLog&) = delete;

    std::ostream& stream() { return stream_; }

private:
    class LineBuffer : public std::streambuf {
    public:
        LineBuffer(std::ostream& out, std::string tag) : out_(out), tag_(std::move(tag)) {}
        void emit_line();  // writes pending_ (one tagged line) and clears it

    protected:
        int_type overflow(int_type c) override;
        std::streamsize xsputn(const char* s, std::streamsize n) override;

    private:
        std::ostream& out_;
        std::string tag_;
        std::string pending_;
    };

    LineBuffer buffer_;
    std::ostream stream_;
};

}  // namespace gapd
