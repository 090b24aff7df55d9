#include "easgate/identity/crl_cache.hpp"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

#include "easgate/common/replace_file.hpp"
#include "easgate/common/text.hpp"

namespace easgate::identity {

namespace fs = std::filesystem;

namespace {

// Entries are named by a hash of their URL (a URL holds characters no file name may): NAME.url
// holds the URL, NAME.crl the CRL as fetched.
std::string entry_name(const std::string& url) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(url.data(), url.size(), digest, &length, EVP_sha256(), nullptr);
    return common::hex_encode(std::span<const std::uint8_t>(digest, length / 2));
}

// A distribution point's URL is short; a file larger than this is none of easgate's.
constexpr std::uint64_t max_url_bytes = 64 * 1024;

// The file's contents, or why it is left out.
struct KeptFile {
    std::string text;
    std::string problem;
};

KeptFile read_file(const fs::path& path, std::uint64_t max_bytes) {
    std::error_code error;
    const auto size = fs::file_size(path, error);
    if (error) return {{}, "can't read " + path.string() + " (" + error.message() + ")"};
    if (size > max_bytes)
        return {
            {},
            path.string() + " is " + std::to_string(size) + " bytes, more than " + std::to_string(max_bytes)};
    std::ifstream in(path, std::ios::binary);
    if (!in) return {{}, "can't open " + path.string()};
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return {{}, "can't read " + path.string()};
    return {std::move(text), {}};
}

}  // namespace

CrlCache::CrlCache(std::string directory, std::uint64_t max_crl_bytes)
    : directory_(std::move(directory)), max_crl_bytes_(max_crl_bytes) {
    if (directory_.empty()) return;
    std::error_code error;
    if (fs::create_directories(directory_, error)) ::chmod(directory_.c_str(), 0700);
    if (error)
        spdlog::warn("CRL cache {}: can't make it ({}); fetched CRLs are not kept across restarts",
                     directory_, error.message());
}

std::vector<CrlCache::Entry> CrlCache::load() const {
    std::vector<Entry> entries;
    if (directory_.empty()) return entries;
    std::error_code error;
    // error_code throughout: nothing in here may stop a start.
    for (fs::directory_iterator file(directory_, error), end; !error && file != end; file.increment(error)) {
        const auto& path = file->path();
        if (path.extension() != ".url") continue;
        const auto url = read_file(path, max_url_bytes);
        auto body = read_file(fs::path(path).replace_extension(".crl"), max_crl_bytes_);
        if (const auto& problem = url.problem.empty() ? body.problem : url.problem; !problem.empty()) {
            spdlog::warn("CRL cache: {}; left out (a fetch of its distribution point replaces it)", problem);
            continue;
        }
        entries.push_back({url.text, std::move(body.text), path.filename().string()});
    }
    if (error && error != std::errc::no_such_file_or_directory)
        spdlog::warn("CRL cache {}: can't read it ({}); starting without it", directory_, error.message());
    // In the names' order, not the file system's: each start of the same cache the same.
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.file < b.file; });
    return entries;
}

void CrlCache::save(const std::string& url, const std::string& body) const {
    if (directory_.empty()) return;
    const fs::path base = fs::path(directory_) / entry_name(url);
    // The CRL first: a .url is only ever next to a whole .crl.
    auto error = common::replace_file(fs::path(base).replace_extension(".crl"), body);
    if (!error) error = common::replace_file(fs::path(base).replace_extension(".url"), url);
    if (error)
        spdlog::warn(
            "CRL cache {}: can't keep the CRL from {} ({}); it is in use, but a restart "
            "won't have it until fetched again",
            directory_, url, error.message());
}

}  // namespace easgate::identity
