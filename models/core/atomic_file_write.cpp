#include "models/core/atomic_file_write.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
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

// Write permission by the mode bits of the class the caller belongs to (owner, group, others). Used instead
// of access(W_OK) so that root, too, does not silently replace a file made read-only on purpose.
bool mode_allows_writing(const struct stat& st) {
    if (st.st_uid == ::geteuid()) return (st.st_mode & S_IWUSR) != 0;
    if (st.st_gid == ::getegid()) return (st.st_mode & S_IWGRP) != 0;
    return (st.st_mode & S_IWOTH) != 0;
}

std::string octal_mode(mode_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

}  // namespace

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
    // An existing target keeps its permissions (a 0600 file must not become 0644 through the rename), and
    // one the user may not write is not replaced (renaming over it only needs the directory writable).
    struct stat existing {};
    const bool replacing = ::stat(path.c_str(), &existing) == 0;
    if (replacing && S_ISDIR(existing.st_mode))
        throw std::runtime_error("cannot write '" + path + "': it is a directory");
    if (replacing && !mode_allows_writing(existing))
        throw std::runtime_error("cannot write '" + path + "': the existing file is read-only (mode " +
                                 octal_mode(existing.st_mode) + "); refusing to replace it");
    const std::string tmp = temporary_name(path);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) throw std::runtime_error("cannot write '" + path + "': cannot create '" + tmp + "': " + errno_text());
    if (replacing && S_ISREG(existing.st_mode) && ::fchmod(fd, existing.st_mode & 07777) != 0) {
        const std::string error = errno_text();
        ::close(fd);
        ::unlink(tmp.c_str());
        throw std::runtime_error("cannot write '" + path + "': cannot keep its mode " +
                                 octal_mode(existing.st_mode) + ": " + error);
    }
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
