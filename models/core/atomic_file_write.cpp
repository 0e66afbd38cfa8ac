#include "models/core/atomic_file_write.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <streambuf>
#include <unistd.h>
#include <vector>

namespace gapd {

namespace {

std::string errno_text() { return std::strerror(errno); }

// A std::streambuf over a POSIX file descriptor, so that the data can be fsync'ed before the rename
// (std::ofstream does not expose its descriptor). Write errors are remembered, not thrown from inside
// the iostream machinery.
class FdStreamBuf : public std::streambuf {
public:
    explicit FdStreamBuf(int fd) : fd_(fd), buffer_(1 << 16) { setp(buffer_.data(), buffer_.data() + buffer_.size()); }
    int error() const { return error_; }

protected:
    int_type overflow(int_type ch) override {
        if (!flush_buffer()) return traits_type::eof();
        if (!traits_type::eq_int_type(ch, traits_type::eof())) {
            *pptr() = traits_type::to_char_type(ch);
            pbump(1);
        }
        return traits_type::not_eof(ch);
    }
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        // Large blocks (model arrays) bypass the buffer.
        if (n >= static_cast<std::streamsize>(buffer_.size())) {
            if (!flush_buffer() || !write_all(s, static_cast<std::size_t>(n))) return 0;
            return n;
        }
        return std::streambuf::xsputn(s, n);
    }
    int sync() override { return flush_buffer() ? 0 : -1; }

private:
    bool flush_buffer() {
        const std::size_t n = static_cast<std::size_t>(pptr() - pbase());
        const bool ok = write_all(pbase(), n);
        setp(buffer_.data(), buffer_.data() + buffer_.size());
        return ok;
    }
    bool write_all(const char* s, std::size_t n) {
        if (error_ != 0) return false;
        while (n > 0) {
            const ssize_t written = ::write(fd_, s, n);
            if (written < 0) {
                if (errno == EINTR) continue;
                error_ = errno;
                return false;
            }
            s += written;
            n -= static_cast<std::size_t>(written);
        }
        return true;
    }

    int fd_;
    std::vector<char> buffer_;
    int error_ = 0;
};

std::string directory_of(const std::string& path) {
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

// Unique within the process (counter) and across processes (pid); O_EXCL guards the rest.
std::string temporary_name(const std::string& path) {
    static std::atomic<unsigned> counter{0};
    return path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

}  // namespace

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
    const std::string tmp = temporary_name(path);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) throw std::runtime_error("cannot write '" + path + "': cannot create '" + tmp + "': " + errno_text());
    std::string io_error;
    try {
        FdStreamBuf buf(fd);
        std::ostream out(&buf);
        write(out);
        out.flush();
        if (buf.error() != 0)
            io_error = std::strerror(buf.error());
        else if (!out)
            io_error = "stream error";
    } catch (...) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
    if (io_error.empty() && ::fsync(fd) != 0) io_error = "fsync: " + errno_text();
    if (::close(fd) != 0 && io_error.empty()) io_error = "close: " + errno_text();
    if (io_error.empty() && ::rename(tmp.c_str(), path.c_str()) != 0) io_error = "rename: " + errno_text();
    if (!io_error.empty()) {
        ::unlink(tmp.c_str());
        throw std::runtime_error("cannot write '" + path + "': " + io_error);
    }
    // Make the rename itself durable; failure here does not undo a completed write, so it is ignored.
    const int dir = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        ::fsync(dir);
        ::close(dir);
    }
}

}  // namespace gapd
