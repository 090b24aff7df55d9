#pragma once

// The CRLs that client_auth.crl_refresh fetched, kept on disk (crl_refresh.cache_dir) and loaded at
// start. Without crl_files, an issuing CA's CRL URL is only in its devices' certificates, so after
// each start (or reload) the first device of that CA was refused once, before a fetch; with the
// cache, it is checked against the CRL fetched before the restart, and that URL is fetched at once.

#include <cstdint>
#include <string>
#include <vector>

namespace easgate::identity {

class CrlCache {
public:
    // "" keeps nothing. The directory is made when missing (mode 0700). A kept CRL larger than
    // max_crl_bytes (crl_refresh's, which bounds each fetch) is left out when loaded.
    CrlCache(std::string directory, std::uint64_t max_crl_bytes);

    struct Entry {
        std::string url;   // the distribution point it was fetched from
        std::string body;  // as fetched: PEM or DER, one CRL or several
        std::string file;  // its .url file's name in the cache directory
    };
    // Every entry kept; unreadable or oversized ones are logged and left out. Nothing in them is
    // trusted yet: the caller offers the CRLs to its store, which takes only those a listed CA signed.
    std::vector<Entry> load() const;
    // Keeps body for url, replacing what was kept (written aside, then renamed). A failure is
    // logged and changes nothing else: the fetched CRL is in use anyway.
    void save(const std::string& url, const std::string& body) const;

private:
    std::string directory_;
    std::uint64_t max_crl_bytes_;
};

}  // namespace easgate::identity
