#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <stdexcept>
#include <system_error>

#include "test_pki.hpp"

namespace easgate::testing {
namespace {

// open(2) with the mode from the start, so a private key is never readable by others.
void write_file_with_mode(const std::filesystem::path& path, const std::string& text, mode_t mode) {
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    const int descriptor = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (descriptor < 0) throw std::system_error(errno, std::generic_category(), "open " + path.string());
    // An existing file keeps its old mode through open(), and the umask may have narrowed a new one.
    const int chmod_error = ::fchmod(descriptor, mode) == 0 ? 0 : errno;
    ::close(descriptor);
    if (chmod_error != 0) {
        throw std::system_error(chmod_error, std::generic_category(), "chmod " + path.string());
    }
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << text;
    file.close();
    if (!file) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

std::pair<std::filesystem::path, std::filesystem::path> IssuedCert::write(
    const std::filesystem::path& dir, const std::string& name, const std::string& chain_pem) const {
    const auto cert_path = dir / (name + ".pem");
    const auto key_path = dir / (name + ".key");
    write_file(cert_path, cert_pem + chain_pem);
    write_file_with_mode(key_path, key_pem, 0600);
    return {cert_path, key_path};
}

void write_file(const std::filesystem::path& path, const std::string& text) {
    write_file_with_mode(path, text, 0644);
}

}  // namespace easgate::testing
